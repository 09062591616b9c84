"""Getting back in: a code by SMS (through the local Aliyun) or from staff, then a new password."""

from __future__ import annotations

import re
import statistics
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from app.accounts.models import RecoveryCode, UserSession
from app.audit.models import AuditEvent
from app.notifications.models import Notification, SmsOutbox
from app.organizations.models import OrganizationKind
from tests.conftest import CSRF_RE, PASSWORD, csrf_token, record

NEW_PASSWORD = "东大街三号的梧桐树"
COOKIE = "yinhui_session"


def ask_code(client, phone: str, **kw):
    return client.post("/login/forgot", data={"phone": phone, "csrf_token": csrf_token(client, "/login/forgot")}, **kw)


def enter_code(client, code: str, **kw):
    return client.post("/login/forgot/code", data={"code": code, "csrf_token": csrf_token(client, "/login")}, **kw)


def enter_staff_code(client, phone: str, code: str, **kw):
    return client.post("/login/forgot/staff-code",
                       data={"phone": phone, "code": code, "csrf_token": csrf_token(client, "/login")}, **kw)


def new_password(client, password: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post("/login/forgot/password", data={
        "password": password, "password_confirm": confirm or password, "csrf_token": csrf_token(client, "/login")})


def texted_code(provider, phone: str) -> str:
    return provider.codes(phone)[-1]


def sessions_of(db, user) -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == user.id))


def other_device(app, user):
    """A second browser signed in as the user."""
    other = app.test_client()
    other.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": csrf_token(other)})
    assert other.get("/account").status_code == 200
    return other


# --- by SMS --------------------------------------------------------------------------------------


def test_forgot_password_by_sms_code_signs_in_and_ends_every_other_session(app, client, db, create_user,
                                                                          provider):
    user = create_user(name="王秀英")
    elsewhere = other_device(app, user)
    response = ask_code(client, user.phone)
    assert response.status_code == 302 and response.headers["Location"] == "/login/forgot/code"
    [text] = provider.to(user.phone)
    assert text.text.startswith("【银晖】您的验证码为") and len(text.params["code"]) == 6
    page = client.get("/login/forgot/code").get_data(as_text=True)
    assert "请输入短信里的验证码" in page and user.phone[:3] + "****" in page
    assert enter_code(client, text.params["code"]).headers["Location"] == "/login/forgot/password"
    done = new_password(client)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert client.get("/account").status_code == 200
    assert elsewhere.get("/account").status_code == 302          # signed out there
    assert sessions_of(db, user) == 1
    fresh = app.test_client()
    assert fresh.post("/login", data={"phone": user.phone, "password": PASSWORD,
                                      "csrf_token": csrf_token(fresh)}).status_code == 400
    assert fresh.post("/login", data={"phone": user.phone, "password": NEW_PASSWORD,
                                      "csrf_token": csrf_token(fresh)}).status_code == 302
    assert db.session.scalar(select(Notification.title).where(Notification.user_id == user.id)) == "您的密码已重新设置"
    # The code's digits are not kept once it is sent, and the code cannot be used again.
    row = db.session.scalar(select(SmsOutbox).where(SmsOutbox.template == "login_code"))
    assert text.params["code"] not in row.params
    assert db.session.scalar(select(RecoveryCode.used_at)) is not None


def test_the_answer_is_the_same_whether_or_not_the_number_has_an_account(client, db, create_user,
                                                                         provider):
    user = create_user()
    answers = []
    for phone in (user.phone, "13700000000"):
        response = ask_code(client, phone)
        answers.append((response.status_code, response.headers["Location"], response.get_data()))
        page = client.get("/login/forgot/code").get_data(as_text=True)
        # The token is signed with the second it was made in, so it is blanked by its place, not by value.
        answers.append(CSRF_RE.sub('name="csrf_token" type="hidden" value=""',
                                   page.replace(phone[:3] + "****" + phone[-4:], "MASKED")))
        wrong = enter_code(client, "000000")
        answers.append((wrong.status_code, "还可以再试 4 次" in wrong.get_data(as_text=True)))
    assert answers[0] == answers[3] and answers[2] == answers[5]
    assert answers[1].split("<main")[1] == answers[4].split("<main")[1]
    assert [d.phone for d in provider.delivered] == [user.phone]   # only the real account got a text
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 2


def test_asking_for_a_code_does_the_same_work_for_an_unknown_number(extra_app, db, create_user):
    """Neither the answer nor its time may tell whether a number has an account: the request sends
    the same statements, in the same order, for a real and an unknown number (the worker, not the
    request, decides whether to text). Timings are recorded for the report, not asserted: on a
    shared machine they vary more than the difference they would look for."""
    import tempfile
    served = extra_app(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=tempfile.mkdtemp() + "/q.db", REDIS_URL=None,
                       RECOVERY_REQUEST_LIMIT_PER_IP="1000 per hour", RECOVERY_REQUEST_LIMIT_PER_PHONE="1000 per hour")
    client = served.test_client()
    user = create_user()
    engine = db.session.get_bind()     # the test's connection, which every request's session uses
    statements: list[str] = []

    def seen(_conn, _cursor, statement, _params, _context, _executemany):
        statements.append(re.sub(r"sa_savepoint_\d+", "sa_savepoint", statement))

    def ask(phone: str) -> tuple[float, list[str]]:
        token = csrf_token(client, "/login/forgot")
        statements.clear()
        started = time.perf_counter()
        response = client.post("/login/forgot", data={"phone": phone, "csrf_token": token})
        elapsed = time.perf_counter() - started
        assert response.status_code == 302
        return elapsed, list(statements)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        known, unknown = [], []
        for i in range(20):
            k, u = ask(user.phone), ask(f"1370000{i:04d}")
            assert k[1] == u[1] and k[1], (k[1], u[1])
            known.append(k[0])
            unknown.append(u[0])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    record("recovery", {"code_request_median_ms": {"existing": round(statistics.median(known) * 1000, 2),
                                                   "unknown": round(statistics.median(unknown) * 1000, 2),
                                                   "samples": len(known)}})


def test_guessing_beyond_five_tries_spends_the_code(client, db, create_user, provider):
    user = create_user()
    ask_code(client, user.phone)
    right = texted_code(provider, user.phone)
    wrong = f"{(int(right) + 1) % 10 ** 6:06d}"
    messages = [enter_code(client, wrong).get_data(as_text=True) for _ in range(5)]
    assert "还可以再试 4 次" in messages[0] and "还可以再试 1 次" in messages[3]
    assert "验证码已失效" in messages[4]
    refused = enter_code(client, right)
    assert refused.status_code == 400 and "验证码已失效" in refused.get_data(as_text=True)
    assert client.get("/login/forgot/password").headers["Location"] == "/login/forgot"
    db.session.refresh(user)
    assert user.password_hash is not None and client.get("/account").status_code == 302


def test_a_code_lasts_ten_minutes(client, db, create_user, provider, clock):
    user = create_user()
    ask_code(client, user.phone)
    clock.now += timedelta(minutes=10, seconds=1)
    response = enter_code(client, texted_code(provider, user.phone))
    assert response.status_code == 400 and "验证码已失效" in response.get_data(as_text=True)


def test_a_new_code_ends_the_one_before(client, db, create_user, provider):
    user = create_user()
    ask_code(client, user.phone)
    first = texted_code(provider, user.phone)
    ask_code(client, user.phone)
    second = texted_code(provider, user.phone)
    if first != second:
        assert enter_code(client, first).status_code == 400
    assert enter_code(client, second).status_code == 302


def test_a_disabled_account_gets_no_code_and_the_same_answer(client, db, create_user, provider):
    user = create_user(active=False)
    response = ask_code(client, user.phone)
    assert response.status_code == 302 and response.headers["Location"] == "/login/forgot/code"
    assert provider.delivered == []


def test_a_weak_new_password_is_refused_and_the_step_stays_open(client, db, create_user, provider):
    user = create_user()
    ask_code(client, user.phone)
    enter_code(client, texted_code(provider, user.phone))
    weak = new_password(client, "12345678")
    assert weak.status_code == 400 and "这个密码太常见" in weak.get_data(as_text=True)
    mismatch = new_password(client, NEW_PASSWORD, "另一个不一样的密码")
    assert mismatch.status_code == 400 and "两次输入的新密码不一样" in mismatch.get_data(as_text=True)
    assert new_password(client).status_code == 302


def test_a_malformed_number_or_code_is_refused_with_a_message(client, db, provider):
    response = ask_code(client, "1380013")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "请输入正确的 11 位手机号码" in html and 'value="1380013"' in html
    assert client.get("/login/forgot/code").headers["Location"] == "/login/forgot"
    ask_code(client, "13800138000")
    bad = enter_code(client, "12ab")
    assert bad.status_code == 400 and "验证码是 6 位数字" in bad.get_data(as_text=True)


def test_asking_is_limited_per_number_and_per_ip(app, client, db, create_user, provider):
    user = create_user()
    statuses = [ask_code(client, user.phone).status_code for _ in range(6)]
    assert statuses == [302] * 5 + [429]
    assert len(provider.to(user.phone)) == 5
    other_ip = {"REMOTE_ADDR": "10.9.8.7"}
    statuses = [ask_code(client, f"1370000{i:04d}", environ_base=other_ip).status_code for i in range(11)]
    assert statuses == [302] * 10 + [429]


def test_checking_codes_is_limited_per_ip(app, client, db, create_user, provider):
    users = [create_user() for _ in range(8)]
    statuses = []
    for user in users:
        ask_code(client, user.phone)
        statuses += [enter_code(client, "000000").status_code for _ in range(4)]
    assert statuses[:30] == [400] * 30 and 429 in statuses[30:]


# --- from staff ----------------------------------------------------------------------------------


@pytest.fixture
def branch_member(create_org, create_member):
    org = create_org(county="410104", kind=OrganizationKind.PARTY_BRANCH)
    member = create_member(name="李桂兰", county="410104", branch=org)
    return org, member


def issue(client, member_id: int):
    return client.post(f"/pool/members/{member_id}/reset-code",
                       data={"csrf_token": csrf_token(client, f"/pool/members/{member_id}")})


def test_the_branch_organizer_issues_a_code_once_and_the_member_sets_a_password(app, client, db, login, create_user,
                                                                                branch_member):
    org, member = branch_member
    organizer = create_user(name="张书记", roles=[("organizer", org)])
    elsewhere = other_device(app, member.user)
    login(organizer)
    assert "生成重置码" in client.get(f"/pool/members/{member.id}").get_data(as_text=True)
    response = issue(client, member.id)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "只显示这一次" in html and "24 小时内有效" in html
    code = html.split("重置码：<strong>")[1].split("</strong>")[0]
    assert len(code) == 9 and code[4] == "-"
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.reset_code_issue"))
    assert audit.actor_id == organizer.id and audit.object_id == str(member.id)
    assert code not in str(db.session.scalar(select(RecoveryCode.code_digest)))
    told = db.session.scalar(select(Notification).where(Notification.user_id == member.id))
    assert "重置码" in told.title and "张书记" in told.body

    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    typed = code.lower().replace("-", " ")          # read out on the phone, typed as heard
    checked = enter_staff_code(client, member.user.phone, typed)
    assert checked.headers["Location"] == "/login/forgot/password"
    assert new_password(client).status_code == 302
    assert client.get("/account").get_data(as_text=True).count("李桂兰") >= 1
    assert elsewhere.get("/account").status_code == 302
    reset = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.password_reset"))
    assert f'"issued_by": {organizer.id}' in reset.detail
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    again = enter_staff_code(client, member.user.phone, code)
    assert again.status_code == 400                 # used once


def test_a_county_admin_in_scope_may_issue_and_staff_elsewhere_get_404(client, db, login, create_admin, create_user,
                                                                       create_org, branch_member):
    _org, member = branch_member
    login(create_admin("410104"))
    assert issue(client, member.id).status_code == 200
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    for outsider in (create_admin("410105"), create_admin("110000"),
                     create_user(roles=[("organizer", create_org(county="410104"))])):
        login(outsider)
        assert issue(client, member.id).status_code == 404
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 1


def test_a_member_cannot_issue_a_code_for_themselves(client, db, login, branch_member):
    _org, member = branch_member
    login(member.user)
    assert issue(client, member.id).status_code == 403


def test_a_staff_code_dies_after_five_wrong_tries_and_after_a_day(client, db, login, create_admin, branch_member,
                                                                  clock):
    _org, member = branch_member
    login(create_admin("410104"))
    code = issue(client, member.id).get_data(as_text=True).split("重置码：<strong>")[1].split("</strong>")[0]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    for _ in range(5):
        assert enter_staff_code(client, member.user.phone, "AAAA-AAAA").status_code == 400
    assert "验证码已失效" in enter_staff_code(client, member.user.phone, code).get_data(as_text=True)

    login(create_admin("410104", phone="19900000001"))
    code = issue(client, member.id).get_data(as_text=True).split("重置码：<strong>")[1].split("</strong>")[0]
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    clock.now += timedelta(hours=24, seconds=1)
    assert enter_staff_code(client, member.user.phone, code).status_code == 400


def test_no_reset_code_for_a_record_nobody_has_claimed(client, db, login, create_admin, create_member):
    member = create_member(county="410104")
    member.user.password_hash = None
    db.session.commit()
    login(create_admin("410104"))
    page = client.get(f"/pool/members/{member.id}").get_data(as_text=True)
    assert "生成重置码" not in page
    response = issue(client, member.id)
    assert response.status_code == 302
    assert "还没有认领账号" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(RecoveryCode)) == 0

