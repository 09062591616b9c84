"""No lockout by strangers: failed sign-ins slow down whoever guesses (per address, per number and
address), a high per-number ceiling stops guessing from many addresses, the owner is told, and a
code by SMS always gets the owner in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.notifications.models import Notification, SmsOutbox
from tests.conftest import PASSWORD, csrf_token

STRANGER = {"REMOTE_ADDR": "203.0.113.7"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


def attempt(client, phone: str, password: str, ip: dict):
    return client.post("/login", data={"phone": phone, "password": password, "csrf_token": csrf_token(client)},
                       environ_base=ip)


def test_a_stranger_failing_100_times_does_not_lock_the_owner_out(client, db, create_user):
    owner = create_user()
    statuses = [attempt(client, owner.phone, f"guess-{i}", STRANGER).status_code for i in range(100)]
    assert statuses[:5] == [400] * 5 and set(statuses[5:]) == {429}   # the stranger is slowed down
    assert attempt(client, owner.phone, PASSWORD, STRANGER).status_code == 429
    assert attempt(client, owner.phone, PASSWORD, OWNER).status_code == 302   # the owner is not
    db.session.refresh(owner)
    assert owner.failed_logins == 0           # counted again from nothing after the owner signs in


def test_guessing_from_many_addresses_meets_the_ceiling_and_the_owner_gets_in_by_sms(app, client, db, create_user,
                                                                                      provider):
    owner = create_user()
    ceiling = 100
    for i in range(ceiling):                  # 20 addresses, 5 tries each: each under its own limit
        ip = {"REMOTE_ADDR": f"192.0.2.{i // 5 + 1}"}
        assert attempt(client, owner.phone, f"guess-{i}", ip).status_code == 400
    refused = attempt(client, owner.phone, PASSWORD, OWNER)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "今天暂停用密码登录" in html and "忘记密码" in html
    # The way back in is not behind the ceiling.
    client.post("/login/forgot", data={"phone": owner.phone, "csrf_token": csrf_token(client, "/login/forgot")},
                environ_base=OWNER)
    code = provider.codes(owner.phone)[-1]
    client.post("/login/forgot/code", data={"code": code, "csrf_token": csrf_token(client)}, environ_base=OWNER)
    done = client.post("/login/forgot/password", data={"password": "梧桐树下的老房子", "password_confirm": "梧桐树下的老房子",
                                                       "csrf_token": csrf_token(client)}, environ_base=OWNER)
    assert done.status_code == 302 and client.get("/account").status_code == 200


def test_the_owner_is_told_once_after_ten_failures(app, db, client, create_user):
    owner = create_user()
    for i in range(14):
        ip = {"REMOTE_ADDR": f"192.0.2.{i // 5 + 1}"}
        attempt(client, owner.phone, f"guess-{i}", ip)
    notes = db.session.scalars(select(Notification).where(Notification.user_id == owner.id,
                                                          Notification.kind == "security")).all()
    assert len(notes) == 1 and "密码已输错 10 次" in notes[0].title and "您自己仍然可以正常登录" in notes[0].body
    assert db.session.scalar(select(SmsOutbox.phone).where(SmsOutbox.notification_id == notes[0].id)) == owner.phone


def test_the_failure_count_starts_again_after_a_day(db, client, create_user, clock):
    owner = create_user()
    for i in range(9):
        attempt(client, owner.phone, f"guess-{i}", {"REMOTE_ADDR": f"192.0.2.{i + 1}"})
    clock.now += timedelta(days=1, minutes=1)
    attempt(client, owner.phone, "guess-late", {"REMOTE_ADDR": "192.0.2.99"})
    db.session.refresh(owner)
    assert owner.failed_logins == 1
    assert db.session.scalar(select(Notification).where(Notification.user_id == owner.id)) is None


def test_an_unknown_number_is_refused_as_a_wrong_password_is(client, db):
    response = attempt(client, "13700000009", "whatever-it-is", STRANGER)
    assert response.status_code == 400 and "手机号或密码不正确" in response.get_data(as_text=True)
