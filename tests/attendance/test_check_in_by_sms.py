"""Checking in with a code by SMS instead of the password: the member scans, is not signed in on
the phone, gives their number, types the texted code and is checked in (and signed in)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.accounts.models import RecoveryCode
from app.attendance import codes
from app.attendance.models import Attendance, CheckInMethod
from app.audit.models import AuditEvent
from app.bookings import services as bookings
from app.clock import utcnow
from app.notifications.models import SmsOutbox
from tests.attendance.conftest import SESSION_START, at
from tests.conftest import csrf_token


def _tap(app, target, kind: str = codes.SESSION) -> str:
    """The one-tap page's address a fresh scan of the target's code leads to (now, on the clock)."""
    secret, now = app.config["SECRET_KEY"], utcnow()
    scan = codes.read_code(secret, codes.make_code(secret, kind, target.id, now), kind, target.id, now)
    return f"/attend/{kind}/{target.id}/tap/{codes.make_ticket(secret, scan)}"


def ask(client, tap: str, phone: str, **kw):
    return client.post(f"{tap}/sms", data={"phone": phone, "csrf_token": csrf_token(client, f"{tap}/sms")}, **kw)


def enter(client, tap: str, code: str):
    return client.post(f"{tap}/sms/code", data={"code": code, "csrf_token": csrf_token(client, f"{tap}/sms")})


def _rows(db, session) -> list[Attendance]:
    return list(db.session.scalars(select(Attendance).where(Attendance.session_id == session.id)))


def test_a_member_checks_in_with_a_texted_code_and_is_signed_in(app, client, db, clock, on_session, provider):
    _, session, [member] = on_session()
    clock.now = SESSION_START - timedelta(minutes=5)
    tap = _tap(app, session)
    offer = client.get(tap)
    assert offer.status_code == 200 and f'href="{tap}/sms"' in offer.get_data(as_text=True)
    asked = ask(client, tap, member.user.phone)
    assert asked.status_code == 302 and asked.headers["Location"] == f"{tap}/sms/code"
    [code] = provider.codes(member.user.phone)
    page = client.get(f"{tap}/sms/code").get_data(as_text=True)
    assert "请输入短信里的验证码" in page and member.user.phone[:3] + "****" in page
    done = enter(client, tap, code)
    assert done.status_code == 302 and done.headers["Location"] == tap
    after = client.get(tap).get_data(as_text=True)
    assert "签到成功" in after and "您已于" in after
    [row] = _rows(db, session)
    assert row.user_id == member.id and row.check_in_method is CheckInMethod.QR
    assert client.get("/account").status_code == 200                 # signed in on this phone
    code_row = db.session.scalar(select(RecoveryCode).where(RecoveryCode.phone == member.user.phone))
    assert code_row.used_at is not None                               # spent: it cannot set a password
    again = client.post(f"{tap}/sms/code", data={"code": code, "csrf_token": csrf_token(client, "/")})
    assert again.status_code == 302 and again.headers["Location"] == tap   # signed in now: back to the page
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.login", AuditEvent.actor_id == member.id)) == 1


def test_a_wrong_code_is_refused_and_counts_a_try(app, client, db, clock, on_session, provider):
    _, session, [member] = on_session()
    clock.now = SESSION_START
    tap = _tap(app, session)
    ask(client, tap, member.user.phone)
    right = provider.codes(member.user.phone)[-1]
    wrong = "000000" if right != "000000" else "111111"
    refused = enter(client, tap, wrong)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "验证码不正确。还可以再试 4 次。" in html
    assert _rows(db, session) == [] and client.get("/account").status_code == 302
    assert db.session.scalar(select(RecoveryCode.attempts).where(RecoveryCode.phone == member.user.phone)) == 1
    bad_shape = enter(client, tap, "12ab")
    assert bad_shape.status_code == 400 and "验证码是 6 位数字" in bad_shape.get_data(as_text=True)


def test_an_expired_ticket_is_refused_at_every_step(app, client, db, clock, on_session, provider):
    _, session, [member] = on_session()
    clock.now = SESSION_START - timedelta(minutes=20)
    tap = _tap(app, session)
    ask(client, tap, member.user.phone)
    code = provider.codes(member.user.phone)[-1]
    clock.now += timedelta(minutes=11)
    for response in (client.get(tap), client.get(f"{tap}/sms"), enter(client, tap, code)):
        assert response.status_code == 400 and "扫码已超过 10 分钟" in response.get_data(as_text=True)
    assert _rows(db, session) == [] and client.get("/account").status_code == 302
    forged = f"/attend/s/{session.id}/tap/not-a-ticket/sms"
    assert client.get(forged).status_code == 400


def test_an_unknown_number_gets_the_same_answer_and_nothing_is_sent(app, client, db, clock, on_session, provider):
    _, session, [member] = on_session()
    clock.now = SESSION_START
    tap = _tap(app, session)
    known, unknown = ask(client, tap, member.user.phone), ask(app.test_client(), tap, "13912345678")
    assert known.status_code == unknown.status_code == 302
    assert known.headers["Location"] == unknown.headers["Location"] == f"{tap}/sms/code"
    assert provider.codes("13912345678") == []
    assert db.session.scalar(select(func.count()).select_from(SmsOutbox).where(SmsOutbox.phone == "13912345678")) == 0
    stranger = app.test_client()
    ask(stranger, tap, "13912345678")
    refused = enter(stranger, tap, "123456")
    assert refused.status_code == 400 and "验证码不正确" in refused.get_data(as_text=True)


def test_a_member_not_on_the_session_is_signed_in_but_refused(app, client, db, clock, on_session, create_member,
                                                               provider):
    _, session, _ = on_session()
    outsider = create_member(name="赵建国")
    db.session.commit()
    clock.now = SESSION_START
    tap = _tap(app, session)
    ask(client, tap, outsider.user.phone)
    done = enter(client, tap, provider.codes(outsider.user.phone)[-1])
    assert done.status_code == 302 and done.headers["Location"] == tap
    page = client.get(tap).get_data(as_text=True)
    assert "您不在这次服务的名单上。如已到场，请找组织者代为签到" in page
    assert _rows(db, session) == []


def test_asking_for_codes_is_limited_per_number_across_pages(app, client, db, clock, on_session, provider):
    _, session, [member] = on_session()
    clock.now = SESSION_START
    tap = _tap(app, session)
    forgot = client.post("/login/forgot", data={"phone": member.user.phone,
                                                "csrf_token": csrf_token(client, "/login/forgot")})
    assert forgot.status_code == 302
    statuses = [ask(client, tap, member.user.phone).status_code for _ in range(5)]
    assert statuses == [302] * 4 + [429]                  # the forgot-password request counted too
    assert len(provider.codes(member.user.phone)) == 5


def test_guessing_codes_is_limited_per_ip(app, client, db, clock, on_session, provider):
    _, session, members = on_session(n=8)
    clock.now = SESSION_START
    tap = _tap(app, session)
    statuses = []
    for member in members:
        ask(client, tap, member.user.phone)
        statuses += [enter(client, tap, "000000").status_code for _ in range(4)]
    assert statuses[:30] == [400] * 30 and 429 in statuses[30:]
    assert _rows(db, session) == []


def test_a_booking_is_checked_in_with_a_texted_code(app, client, db, clock, create_venue, book, branch, manager,
                                                    create_member, provider):
    venue = create_venue(lead_hours=0)
    org, organizer = branch()
    booking = book(venue, "2026-09-02 09:00", "2026-09-02 11:00", org=org, actor=organizer)
    bookings.decide_booking(actor=manager(venue), booking=booking, approve=True)
    member = create_member(name="到场的党员", branch=org)
    db.session.commit()
    occurrence = booking.occurrences[0]
    clock.now = at("2026-09-02 08:50")
    tap = _tap(app, occurrence, codes.OCCURRENCE)
    assert booking.title in client.get(tap).get_data(as_text=True)
    ask(client, tap, member.user.phone)
    assert enter(client, tap, provider.codes(member.user.phone)[-1]).headers["Location"] == tap
    db.session.refresh(occurrence)
    [row] = db.session.scalars(select(Attendance).where(Attendance.occurrence_id == occurrence.id))
    assert row.user_id == member.id and occurrence.checked_in_at == at("2026-09-02 08:50")
