"""Text messages: the Aliyun adapter against a local provider that checks what Aliyun checks, and the
outbox's promises — retries through an outage, never twice, quiet hours, a daily cap, stale messages."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.clock import LOCAL, utcnow
from app.notifications.models import Notification, SmsOutbox
from app.notifications.services import channels_for, notify
from app.notifications.sms import TEMPLATES, AliyunDysms, SmsMessage, sign
from app.notifications.sms_outbox import queue_sms, send_due
from tests.sms_provider import ACCESS_KEY_ID, SIGN_NAME, TEMPLATE_CODES, FakeDysms

DAYTIME = datetime(2026, 9, 1, 10, 0)      # local wall time


def rows(db, **where):
    return db.session.scalars(select(SmsOutbox).filter_by(**where).order_by(SmsOutbox.id)).all()


def drain(clock, steps: int = 1, every: timedelta = timedelta(seconds=15)) -> None:
    for _ in range(steps):
        clock.now += every
        send_due()


def test_the_signature_matches_aliyuns_documented_example():
    # The worked example in Aliyun's SMS documentation ("HTTP协议及签名"): these parameters and the
    # secret "testSecret" sign to zJDF+Lrzhj/ThnlvIToysFRq6t4=.
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou", "SignName": "阿里云短信测试专用",
              "SignatureMethod": "HMAC-SHA1", "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007", "TemplateParam": '{"customer":"test"}',
              "Timestamp": "2017-07-12T02:42:19Z", "Version": "2017-05-25"}
    assert sign("GET", params, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def adapter(provider: FakeDysms, **overrides) -> AliyunDysms:
    settings = {"endpoint": provider.url, "access_key_id": ACCESS_KEY_ID, "access_key_secret":
                provider.config()["SMS_ALIYUN_ACCESS_KEY_SECRET"], "sign_name": SIGN_NAME,
                "template_codes": TEMPLATE_CODES, "timeout": 5, **overrides}
    return AliyunDysms(**settings)


def test_the_adapter_sends_a_template_with_its_signature(provider):
    message = SmsMessage("13800138000", TEMPLATES["login_code"], {"code": "204816"}, out_id="42")
    outcome = adapter(provider).send(message)
    assert outcome.status == "sent" and outcome.provider_id
    [delivered] = provider.delivered
    assert delivered.phone == "13800138000" and delivered.out_id == "42"
    assert delivered.template_code == TEMPLATE_CODES["login_code"] and delivered.params == {"code": "204816"}
    assert delivered.text.startswith("【银晖】您的验证码为204816，10分钟内有效")


@pytest.mark.parametrize("overrides,code", [
    ({"access_key_secret": "wrong"}, "SignatureDoesNotMatch"),
    ({"sign_name": "别人的签名"}, "isv.SMS_SIGNATURE_ILLEGAL"),
    ({"template_codes": {"login_code": "SMS_999"}}, "isv.SMS_TEMPLATE_ILLEGAL"),
])
def test_what_the_provider_refuses_is_refused_for_good(provider, overrides, code):
    message = SmsMessage("13800138000", TEMPLATES["login_code"], {"code": "204816"}, out_id="1")
    outcome = adapter(provider, **overrides).send(message)
    assert outcome.status == "refused" and code in (outcome.error or "")
    assert provider.delivered == []


def test_a_provider_that_cannot_be_reached_means_try_again(provider):
    dead = adapter(provider, endpoint="http://127.0.0.1:9/")   # the discard port: nothing listens
    outcome = dead.send(SmsMessage("13800138000", TEMPLATES["login_code"], {"code": "1"}, out_id="1"))
    assert outcome.status == "retry" and "connect" in (outcome.error or "")


def test_notify_texts_a_member_without_email_and_not_one_with_email(db, create_user):
    without, with_email = create_user(name="王秀英"), create_user()
    with_email.email = "li@example.com"
    notify(without, kind="invitation", title="您收到一个志愿服务邀请")
    notify(with_email, kind="invitation", title="您收到一个志愿服务邀请")
    db.session.commit()
    [row] = rows(db)
    assert row.phone == without.phone and row.template == "notice" and not row.urgent
    assert json.loads(row.params) == {"name": "王秀英", "title": "您收到一个志愿服务邀请"}
    assert channels_for(without) == {"app", "sms"} and channels_for(with_email) == {"app", "email"}


def test_a_member_who_turned_off_the_app_and_sms_gets_neither(db, create_user):
    user = create_user()
    user.notify_sms, user.notify_app = False, False
    note = notify(user, kind="invitation", title="邀请")
    db.session.commit()
    assert rows(db) == [] and note.read_at is not None   # kept on the messages page, no badge


def test_a_disabled_account_is_sent_nothing(db, create_user):
    user = create_user(active=False)
    notify(user, kind="invitation", title="邀请")
    db.session.commit()
    assert rows(db) == []


def test_a_long_title_is_cut_to_what_the_provider_accepts(db, create_user):
    user = create_user()
    notify(user, kind="invitation", title="关于" + "东关南里社区" * 10 + "的邀请")
    db.session.commit()
    params = json.loads(rows(db)[0].params)
    assert len(params["title"]) == 35 and params["title"].endswith("…")


def test_through_a_minute_long_outage_every_message_arrives_exactly_once(db, create_user, provider, clock):
    clock.now = DAYTIME
    start = clock.now
    provider.outage = lambda: clock.now < start + timedelta(minutes=1)
    members = [create_user(name=f"老同志{i}") for i in range(3)]
    code = queue_sms(phone=members[0].phone, template="login_code", params={"code": "135790"}, urgent=True,
                     expires_at=utcnow() + timedelta(minutes=10))
    notify(members[1], kind="reminder", title="明天上午9点社区法律咨询")
    notify(members[2], kind="invitation", title="您收到一个志愿服务邀请")
    db.session.commit()     # the code's job tries at once: 500
    drain(clock, steps=12)  # three minutes, a run every 15 seconds
    assert provider.requests > 3   # it was tried during the outage
    assert sorted(d.phone for d in provider.delivered) == sorted(m.phone for m in members)
    for row in rows(db):
        assert row.state == "sent" and row.attempts >= 2 and row.sent_at is not None
    assert db.session.get(SmsOutbox, code.id).provider_id
    before = len(provider.delivered)
    drain(clock, steps=4, every=timedelta(hours=1))
    assert len(provider.delivered) == before


def test_retries_back_off_and_stop_after_the_last_attempt(app, db, create_user, provider, clock):
    clock.now = DAYTIME
    provider.outage = lambda: True
    notify(create_user(), kind="invitation", title="邀请")
    db.session.commit()
    due = []
    for _ in range(app.config["SMS_MAX_ATTEMPTS"] + 2):
        send_due()
        row = rows(db)[0]
        db.session.refresh(row)
        due.append(row.next_attempt_at)
        clock.now = row.next_attempt_at.astimezone(LOCAL).replace(tzinfo=None) + timedelta(seconds=1)
    assert row.state == "failed" and row.attempts == app.config["SMS_MAX_ATTEMPTS"]
    gaps = [(b - a).total_seconds() for a, b in zip(due, due[1:], strict=False)][:4]
    assert gaps[1] > gaps[0] and gaps[2] > gaps[1]          # each wait longer than the last
    assert provider.delivered == []


def test_a_timeout_after_the_provider_took_the_message_is_never_sent_again(app, db, create_user, provider, clock):
    clock.now = DAYTIME
    provider.hold_seconds = 1.5
    app.config["SMS_TIMEOUT"] = 0.3
    notify(create_user(), kind="invitation", title="邀请")
    db.session.commit()
    assert send_due() == (0, 1)
    [row] = rows(db)
    db.session.refresh(row)
    assert row.state == "uncertain" and "no answer" in row.last_error
    provider.hold_seconds = 0
    drain(clock, steps=3, every=timedelta(minutes=10))
    assert len(provider.delivered) == 1     # the provider's one copy; we never sent a second


def test_a_sender_that_died_while_sending_leaves_the_message_uncertain(db, create_user, provider, clock):
    clock.now = DAYTIME
    notify(create_user(), kind="invitation", title="邀请")
    db.session.commit()
    [row] = rows(db)
    row.state, row.lease_until, row.attempts = "sending", utcnow() - timedelta(seconds=1), 1
    db.session.commit()
    assert send_due() == (0, 0)
    db.session.refresh(row)
    assert row.state == "uncertain" and provider.delivered == []


def test_quiet_hours_hold_notices_until_eight_but_not_codes(db, create_user, provider, clock):
    clock.now = datetime(2026, 9, 1, 22, 30)
    member = create_user()
    notify(member, kind="reminder", title="明天上午的服务")
    queue_sms(phone=member.phone, template="login_code", params={"code": "246810"}, urgent=True)
    db.session.commit()
    send_due()
    assert [d.template_code for d in provider.delivered] == [TEMPLATE_CODES["login_code"]]
    clock.now = datetime(2026, 9, 2, 7, 59)
    send_due()
    assert len(provider.delivered) == 1
    clock.now = datetime(2026, 9, 2, 8, 0)
    send_due()
    assert [d.template_code for d in provider.delivered] == [TEMPLATE_CODES["login_code"], TEMPLATE_CODES["notice"]]


def test_the_daily_cap_holds_notices_for_the_next_morning_and_drops_codes(app, db, create_user, provider, clock):
    clock.now = DAYTIME
    app.config["SMS_DAILY_CAP"] = 3
    try:
        member = create_user()
        for i in range(4):
            notify(member, kind="invitation", title=f"第{i + 1}条")
        db.session.commit()
        send_due()
        assert len(provider.delivered) == 3
        queue_sms(phone=member.phone, template="login_code", params={"code": "111111"}, urgent=True)
        db.session.commit()
        assert len(provider.delivered) == 3
        assert [r.state for r in rows(db)][-2:] == ["pending", "capped"]
        clock.now = datetime(2026, 9, 2, 8, 1)
        send_due()
        assert [d.params["title"] for d in provider.delivered] == ["第1条", "第2条", "第3条", "第4条"]
    finally:
        app.config["SMS_DAILY_CAP"] = 10


def test_a_stale_message_is_not_sent(db, create_user, provider, clock):
    clock.now = DAYTIME
    notify(create_user(), kind="reminder", title="今天上午的服务", sms_expires_at=utcnow() - timedelta(minutes=1))
    db.session.commit()
    send_due()
    assert [r.state for r in rows(db)] == ["expired"] and provider.delivered == []


def test_a_number_the_provider_refuses_is_given_up_at_once(db, provider, clock):
    clock.now = DAYTIME
    queue_sms(phone="12345678901", template="notice", params={"name": "甲", "title": "乙"})
    db.session.commit()
    send_due()
    [row] = rows(db)
    assert row.state == "failed" and row.attempts == 1 and "MOBILE_NUMBER_ILLEGAL" in row.last_error


def test_the_log_backend_sends_in_development(app, db, create_user, caplog, clock):
    clock.now = DAYTIME
    member = create_user(phone="13900001234")
    notify(member, kind="invitation", title="您收到一个邀请")
    db.session.commit()
    with caplog.at_level("INFO", logger="app.notifications.sms"):
        assert send_due() == (1, 0)
    assert "139****1234" in caplog.text and "13900001234" not in caplog.text
    assert "【银晖】" in caplog.text and db.session.scalar(select(func.count()).select_from(Notification)) >= 1


def test_a_member_chooses_their_channels(client, db, login, post, create_user):
    user = create_user()
    login(user)
    page = client.get("/account/channels").get_data(as_text=True)
    assert "您想通过哪些方式接收通知" in page and 'checked id="sms"' in page and 'checked id="email"' not in page
    response = post("/account/channels", {"app": "y"})
    assert response.status_code == 302
    db.session.refresh(user)
    assert (user.notify_sms, user.notify_app, user.notify_email) == (False, True, False)
    notify(user, kind="invitation", title="邀请")
    db.session.commit()
    assert rows(db) == []
    assert "通知现在通过：站内消息" in client.get("/account").get_data(as_text=True)


@pytest.mark.parametrize("data,message", [
    ({}, "请至少选择一种接收通知的方式"),
    ({"email": "y", "sms": "y"}, "请先在下方填写电子邮箱"),
])
def test_a_choice_that_cannot_reach_the_member_is_refused_and_nothing_changes(client, db, login, post, create_user,
                                                                              data, message):
    user = create_user()
    login(user)
    response = post("/account/channels", data)
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html and "<title>错误：" in html
    db.session.refresh(user)
    assert (user.notify_sms, user.notify_app, user.notify_email) == (None, True, True)
