"""Notifying people by the channels they chose: a notification in the app, an email in the outbox
when they gave an address, a text in the SMS outbox (app/notifications/sms_outbox.py).

`notify()` only adds rows in the caller's transaction, so a notification exists exactly when the
change it reports was committed. `send_outbox()` delivers pending emails, one transaction per
message, recording failures for a later retry.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from flask import current_app
from sqlalchemy import ColumnElement, ScalarSelect, Select, func, select, update
from sqlalchemy.orm import InstrumentedAttribute

from app import access
from app.accounts.models import User
from app.clock import utcnow
from app.db import rowcount
from app.extensions import db
from app.links import absolute
from app.notifications.models import EmailOutbox, Notification
from app.notifications.sms_outbox import queue_sms
from app.transactions import commit_fresh

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


def wants_sms(user: User) -> bool:
    """SMS as the member chose; unchosen, on for those without an email address."""
    return user.notify_sms if user.notify_sms is not None else not user.email


def channels_for(user: User) -> set[str]:
    """The channels a user's notifications travel by: "app", "sms", "email"."""
    chosen = {"app"} if user.notify_app else set()
    if user.phone and wants_sms(user):
        chosen.add("sms")
    if user.email and user.notify_email:
        chosen.add("email")
    return chosen


def notify(user: User, *, kind: str, title: str, body: str = "", link: str | None = None,
           email: bool = True, sms: bool = True, sms_expires_at: datetime | None = None,
           sms_template: tuple[str, dict[str, str]] | None = None) -> Notification:
    """Tell a user something, by the channels they chose. Adds to the session; the caller commits
    with its own change. The notification is always kept (it is the record, read on the messages
    page); without the in-app channel it arrives already read. Nothing goes out to a disabled
    account. `sms_expires_at`: when a text would be stale (a reminder after its session);
    `sms_template`: a template of its own and its variables (app.notifications.sms.TEMPLATES), instead
    of the general notice."""
    chosen = channels_for(user) if user.active else {"app"}
    note = Notification(user_id=user.id, kind=kind, title=title[:200], body=body, link=link,
                        read_at=None if "app" in chosen else utcnow())
    db.session.add(note)
    if not user.active or not ({"email", "sms"} & chosen and (email or sms)):
        return note
    db.session.flush()
    if email and "email" in chosen and user.email:
        text = f"{user.name}，您好：\n\n{title}\n\n{body}\n"
        if link:
            text += f"\n详情请登录银晖查看：{absolute(link)}\n"
        text += f"\n（此邮件由系统自动发送，请勿回复。帮助热线：{current_app.config['HELP_HOTLINE']}）\n"
        db.session.add(EmailOutbox(notification_id=note.id, to_address=user.email,
                                   subject=f"【银晖】{title}"[:200], body=text))
    if sms and "sms" in chosen and user.phone:
        template, params = sms_template or ("notice", {"title": title})
        queue_sms(phone=user.phone, template=template, params={"name": user.name, **params}, user=user,
                  notification_id=note.id, expires_at=sms_expires_at)
    return note


def inbox(actor: User) -> Select[Notification]:
    """The actor's messages: unread first, newest first."""
    return (access.visible(Notification, actor)
            .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc()))


def unread_count(user_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def unread_of(user_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[int]:
    """unread_count() as a column of a query over users (`unread_of(User.id)`): the signed-in
    user's badge is read in the statement that loads them."""
    return select(func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)).scalar_subquery()


def mark_read(*, actor: User, notification_id: int | None = None) -> int:
    """Mark one of the actor's notifications (or all of them) read."""
    stmt = update(Notification).where(Notification.user_id == actor.id, Notification.read_at.is_(None))
    if notification_id is not None:
        stmt = stmt.where(Notification.id == notification_id)
    return rowcount(db.session.execute(stmt.values(read_at=utcnow())))


def _message(row: EmailOutbox, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = row.to_address
    msg["Subject"] = row.subject
    msg["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain="yinhui.local")
    msg.set_content(row.body)
    return msg


def _connect() -> smtplib.SMTP:
    config = current_app.config
    host, port = config["MAIL_SERVER"], config["MAIL_PORT"]
    timeout = config["MAIL_TIMEOUT"]
    smtp: smtplib.SMTP
    if config["MAIL_USE_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
        if config["MAIL_USE_TLS"]:
            smtp.starttls(context=ssl.create_default_context())
    if config.get("MAIL_USERNAME"):
        smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return smtp


LEASE = timedelta(minutes=10)


def _claim_next() -> int | None:
    """Take the next due message for this sender: its next attempt is pushed past a lease, so no
    other sender takes it while we talk to the mail server, and a crash only delays it."""
    stmt = (select(EmailOutbox).where(EmailOutbox.sent_at.is_(None), EmailOutbox.next_attempt_at <= utcnow())
            .order_by(EmailOutbox.id).limit(1))
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)

    def claim() -> int | None:
        row = db.session.scalar(stmt)
        if row is not None:
            row.next_attempt_at = utcnow() + LEASE
            return row.id
        return None

    return commit_fresh(claim)


def _record(row_id: int, error: Exception | None) -> None:
    def record() -> None:
        row = db.session.get_one(EmailOutbox, row_id)
        row.attempts += 1
        if error is None:
            row.sent_at, row.last_error = utcnow(), None
        else:
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            row.next_attempt_at = utcnow() + min(MAX_BACKOFF, timedelta(minutes=2 ** min(row.attempts, 10)))

    commit_fresh(record)


def send_outbox(*, limit: int = 100) -> tuple[int, int]:
    """Send due emails; returns (sent, failed). No transaction is held while the mail server talks;
    every outcome is committed at once, and a failure is retried later with backoff."""
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        return 0, 0
    sender = formataddr((config["MAIL_SENDER_NAME"], config["MAIL_SENDER"]))
    sent = failed = 0
    smtp = None
    try:
        for _ in range(limit):
            row_id = _claim_next()
            if row_id is None:
                break
            message = _message(db.session.get_one(EmailOutbox, row_id), sender)
            db.session.rollback()  # hold nothing while the mail server talks
            try:
                if smtp is None:
                    smtp = _connect()
                smtp.send_message(message)
            except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
                _record(row_id, e)
                failed += 1
                log.warning("email %s failed: %s", row_id, e)
                if smtp is not None:
                    smtp.close()
                    smtp = None
            else:
                _record(row_id, None)
                sent += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()
    return sent, failed
