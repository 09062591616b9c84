"""In-app notifications and the email outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import Model


class Notification(Model):
    """A message in a user's notification centre."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    read_at: Mapped[datetime | None]

    @property
    def unread(self) -> bool:
        return self.read_at is None


class EmailOutbox(Model):
    """An email waiting to be sent by the worker (or `flask outbox send`). Rows are never deleted on failure:
    a failed attempt is recorded and retried later, so a broken mail server loses nothing."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_pending", "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


SMS_STATES = ("pending", "sending", "sent", "failed", "uncertain", "expired", "capped")


class SmsOutbox(Model):
    """A text message waiting for the SMS provider (app/notifications/sms_outbox.py).

    pending → sending (claimed by one sender, for a lease) → sent, or back to pending with a
    later attempt after a failure that proves the provider did not take it (it refused, or
    answered 5xx), or failed after too many attempts or a permanent refusal. A sender that died
    or timed out while the provider may have taken the message leaves it `uncertain`, never sent
    again: a member gets a message at most once. Rows past `expires_at` (a code after its ten
    minutes, a reminder after its session) turn `expired`; those over a number's daily cap `capped`."""

    __tablename__ = "sms_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed', 'uncertain', 'expired', 'capped')",
                        name="state_known"),
        CheckConstraint("state <> 'sent' OR sent_at IS NOT NULL", name="sent_has_time"),
        Index("ix_sms_outbox_due", "state", "next_attempt_at"),
        Index("ix_sms_outbox_phone_local_day", "phone", "local_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(11))
    template: Mapped[str] = mapped_column(String(40))       # a key of app.notifications.sms.TEMPLATES
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON: the template's variables
    urgent: Mapped[bool] = mapped_column(default=False)     # a sign-in code: sent in quiet hours too
    state: Mapped[str] = mapped_column(String(10), default="pending")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
    local_day: Mapped[str | None] = mapped_column(String(10))   # the Beijing day it was sent on: the daily cap
    provider_id: Mapped[str | None] = mapped_column(String(64))  # the provider's id (Aliyun BizId)
