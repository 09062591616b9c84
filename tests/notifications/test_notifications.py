import socket
import threading
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from app.db import utcnow
from app.notifications.models import EmailOutbox, Notification
from app.notifications.services import notify, send_outbox, unread_count
from tests.conftest import csrf_token


class Inbox:
    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(envelope)
        return "250 OK"


# Upper bounds only, for a busy machine: how long the server may take to start, and to answer.
READY_SECONDS = 60
MAIL_TIMEOUT = 60


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port, ready_timeout=READY_SECONDS)
    controller.start()
    yield inbox
    controller.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def refused_port():
    """A port bound but not listening, held for the test: connecting to it is refused at once, and
    no other process (another xdist worker's mail server) can take it meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def test_notify_adds_a_notification_and_an_email_when_the_user_has_an_address(db, create_user):
    with_email = create_user()
    with_email.email = "wang@example.com"
    without = create_user()
    notify(with_email, kind="invitation", title="您收到一个志愿服务邀请", body="东关南里社区邀请您。", link="/")
    notify(without, kind="invitation", title="您收到一个志愿服务邀请")
    db.session.commit()
    assert unread_count(with_email.id) == 1 and unread_count(without.id) == 1
    emails = db.session.scalars(select(EmailOutbox)).all()
    assert [e.to_address for e in emails] == ["wang@example.com"]
    assert "【银晖】您收到一个志愿服务邀请" == emails[0].subject


def test_the_outbox_is_delivered_to_the_smtp_server(app, db, create_user, smtp_server):
    user = create_user()
    user.email = "li@example.com"
    notify(user, kind="booking", title="预约已通过", body="政治生活馆 12月4日 上午")
    db.session.commit()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_server.port, MAIL_TIMEOUT=MAIL_TIMEOUT)
    try:
        assert send_outbox() == (1, 0)
    finally:
        app.config.update(MAIL_SERVER=None, MAIL_PORT=25, MAIL_TIMEOUT=10)
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message.rcpt_tos == ["li@example.com"]
    assert "预约已通过".encode() in message.content or b"=?utf-8?" in message.content
    row = db.session.scalar(select(EmailOutbox))
    assert row.sent_at is not None and row.attempts == 1
    assert send_outbox() == (0, 0)  # nothing is sent twice


def test_a_failing_mail_server_loses_nothing_and_a_later_run_delivers(app, db, create_user, smtp_server,
                                                                       refused_port):
    user = create_user()
    user.email = "zhao@example.com"
    notify(user, kind="booking", title="预约被退回")
    db.session.commit()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=refused_port, MAIL_TIMEOUT=MAIL_TIMEOUT)
    try:
        assert send_outbox() == (0, 1)
        row = db.session.scalar(select(EmailOutbox))
        db.session.refresh(row)
        assert row.sent_at is None and row.attempts == 1 and "Error" in row.last_error
        assert row.next_attempt_at > utcnow()
        assert send_outbox() == (0, 0)  # not due yet: backoff
        row.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        app.config["MAIL_PORT"] = smtp_server.port
        assert send_outbox() == (1, 0)
    finally:
        app.config.update(MAIL_SERVER=None, MAIL_PORT=25, MAIL_TIMEOUT=10)
    assert [m.rcpt_tos for m in smtp_server.messages] == [["zhao@example.com"]]
    db.session.refresh(row)
    assert row.sent_at is not None and row.attempts == 2


def test_the_send_command_refuses_without_a_mail_server(app, db):
    result = app.test_cli_runner().invoke(args=["outbox", "send"])
    assert result.exit_code != 0 and "MAIL_SERVER" in result.output


def test_the_notification_centre_lists_and_marks_read(client, db, login, create_user):
    user = create_user()
    notify(user, kind="invitation", title="第一条消息")
    notify(user, kind="invitation", title="第二条消息", link="/account")
    db.session.commit()
    login(user)
    html = client.get("/").get_data(as_text=True)
    assert '<span class="badge">2' in html
    page = client.get("/notifications/").get_data(as_text=True)
    assert "第一条消息" in page and "第二条消息" in page
    second = db.session.scalar(select(Notification).where(Notification.title == "第二条消息"))
    response = client.post(f"/notifications/{second.id}/read", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert response.headers["Location"] == "/account"
    assert unread_count(user.id) == 1
    client.post("/notifications/read-all", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert unread_count(user.id) == 0


def test_someone_elses_notification_is_404(client, db, login, create_user):
    owner, other = create_user(), create_user()
    note = notify(owner, kind="invitation", title="别人的消息")
    db.session.commit()
    login(other)
    response = client.post(f"/notifications/{note.id}/read", data={"csrf_token": csrf_token(client, "/notifications/")})
    assert response.status_code == 404
    assert unread_count(owner.id) == 1
    assert "别人的消息" not in client.get("/notifications/").get_data(as_text=True)


def test_setting_an_email_address_validates_it(client, db, login, create_user):
    user = create_user()
    login(user)
    bad = client.post("/account/email", data={"email": "not an email", "csrf_token": csrf_token(client, "/account")})
    assert bad.status_code == 400 and "请输入正确的电子邮箱" in bad.get_data(as_text=True)
    db.session.refresh(user)
    assert user.email is None
    good = client.post("/account/email", data={"email": "Wang@Example.com", "csrf_token": csrf_token(client, "/account")})
    assert good.status_code == 302
    db.session.refresh(user)
    assert user.email == "wang@example.com"
