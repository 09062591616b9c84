"""The SMS outbox: messages are rows first, sent by the worker afterwards.

`queue_sms()` adds a row in the caller's transaction, so a text exists exactly when the change it
reports was committed. `send_due()` delivers due rows, one claim and one outcome transaction per
message and no transaction held while the provider talks. The rules it keeps:

- never twice: a row is claimed (pending → sending, with a lease) before it is sent; only an answer
  that proves the provider did not take it puts it back to pending. A timeout, or a sender that
  died holding the claim, leaves it `uncertain` — logged, not sent again.
- retries with backoff: 30 s, 1, 2, 4 … minutes (at most 30) between attempts, SMS_MAX_ATTEMPTS in all.
- quiet hours: from SMS_QUIET_START to SMS_QUIET_END o'clock Beijing time only urgent messages (sign-in
  and reset codes) go out; the rest wait for the morning.
- a daily cap per number (SMS_DAILY_CAP, counted by Beijing day): a notice over the cap waits for the
  next morning, or lapses if it would be stale by then; a code over the cap lapses.
- stale messages are not sent: a code after its ten minutes, a reminder after its session (`expires_at`).
- a code's digits are wiped from its row once it is settled (sent, given up, lapsed).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from sqlalchemy import func, select, text, update

from app.accounts.models import User
from app.clock import local_now, to_instant, utcnow
from app.db import rowcount
from app.extensions import db
from app.jobs.services import Work, handler, submit
from app.notifications.models import SmsOutbox
from app.notifications.sms import TEMPLATES, Outcome, SmsBackend, SmsMessage, backend_from, clip
from app.transactions import commit_fresh

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)     # longer than SMS_TIMEOUT: a claim outlives its request
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=30)
COUNTED = ("sending", "sent", "uncertain")   # what counts against a number's daily cap


def in_quiet_hours(wall: datetime) -> bool:
    start, end = current_app.config["SMS_QUIET_START"], current_app.config["SMS_QUIET_END"]
    return wall.hour >= start or wall.hour < end


def next_morning(wall: datetime, *, tomorrow: bool = False) -> datetime:
    """The UTC instant quiet hours end after local wall time `wall` (or the next day's morning)."""
    morning = datetime.combine(wall.date(), time(current_app.config["SMS_QUIET_END"]))
    if tomorrow or wall.hour >= current_app.config["SMS_QUIET_END"]:
        morning += timedelta(days=1)
    return to_instant(morning).astimezone(UTC)


def queue_sms(*, phone: str, template: str, params: dict[str, str], user: User | None = None,
              notification_id: int | None = None, urgent: bool = False,
              expires_at: datetime | None = None, wake: bool | None = None) -> SmsOutbox:
    """Put a text in the outbox (the caller commits). Urgent ones (codes) also ask the worker to
    send at once (`wake`; False for a caller in the worker that sends itself); the rest go with
    the next minute's run, or after quiet hours."""
    chosen = TEMPLATES[template]
    missing = [v for v in chosen.variables if v not in params]
    if missing:
        raise ValueError(f"template {template!r} needs {missing}")
    due = utcnow()
    wall = local_now()
    if not urgent and in_quiet_hours(wall):
        due = next_morning(wall)
    row = SmsOutbox(phone=phone, template=template, urgent=urgent, next_attempt_at=due, expires_at=expires_at,
                    params=json.dumps({k: clip(v) for k, v in params.items()}, ensure_ascii=False),
                    user_id=user.id if user is not None else None, notification_id=notification_id,
                    state="pending")
    db.session.add(row)
    db.session.flush()
    if (urgent if wake is None else wake):
        submit("sms", {})
    return row


@handler("sms", rerun_safe=True)
def _send_job(work: Work) -> None:
    sent, failed = send_due(limit=50)
    work.message = f"{sent} sent, {failed} not sent"


# --- sending -------------------------------------------------------------------------------------


def _sent_today(phone: str, day: str) -> int:
    return db.session.scalar(select(func.count()).select_from(SmsOutbox).where(
        SmsOutbox.phone == phone, SmsOutbox.local_day == day, SmsOutbox.state.in_(COUNTED))) or 0


def _lock_number(phone: str) -> None:
    """PostgreSQL: one claimer per number at a time, so two senders cannot both pass the cap.
    (SQLite's claims are serialised by BEGIN IMMEDIATE already.)"""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": int(phone)})


def _claim_next() -> int | None:
    """Take the next due message: pending → sending with a lease, counted against its number's
    day. Messages that are stale or over the cap are settled on the way."""
    def claim() -> int | None:
        now, wall = utcnow(), local_now()
        stmt = (select(SmsOutbox).where(SmsOutbox.state == "pending", SmsOutbox.next_attempt_at <= now)
                .order_by(SmsOutbox.urgent.desc(), SmsOutbox.id).limit(1))
        if in_quiet_hours(wall):
            stmt = stmt.where(SmsOutbox.urgent)
        if db.session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        while True:
            row = db.session.scalar(stmt)
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= now:
                row.state, row.last_error = "expired", "已过期，未发送"
                _forget_secrets(row)
                db.session.flush()
                continue
            _lock_number(row.phone)
            day = wall.date().isoformat()
            if _sent_today(row.phone, day) >= current_app.config["SMS_DAILY_CAP"]:
                morning = next_morning(wall, tomorrow=wall.hour >= current_app.config["SMS_QUIET_END"])
                if row.urgent or (row.expires_at is not None and row.expires_at <= morning):
                    row.state, row.last_error = "capped", "本号码今日短信已达上限，未发送"
                    _forget_secrets(row)
                else:
                    row.next_attempt_at, row.last_error = morning, "本号码今日短信已达上限，次日再发"
                db.session.flush()
                continue
            row.state, row.lease_until, row.local_day = "sending", now + LEASE, day
            row.attempts += 1
            return row.id

    return commit_fresh(claim)


def _record(row_id: int, outcome: Outcome) -> None:
    def record() -> None:
        row = db.session.get_one(SmsOutbox, row_id)
        if row.state != "sending":   # given up as uncertain by another sender meanwhile: keep that
            return
        row.lease_until = None
        if outcome.status == "sent":
            row.state, row.sent_at, row.provider_id, row.last_error = "sent", utcnow(), outcome.provider_id, None
        else:
            row.last_error = (outcome.error or outcome.status)[:2000]
            if outcome.status == "retry" and row.attempts < current_app.config["SMS_MAX_ATTEMPTS"]:
                row.state, row.local_day = "pending", None
                row.next_attempt_at = utcnow() + min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (row.attempts - 1))
            else:
                row.state = "uncertain" if outcome.status == "uncertain" else "failed"
        _forget_secrets(row)

    commit_fresh(record)


def _forget_secrets(row: SmsOutbox) -> None:
    """A settled code's digits are not kept: the outbox held them only to send them."""
    if row.urgent and row.state != "pending":
        row.params = json.dumps({k: "******" for k in json.loads(row.params)})


def give_up_stale_claims() -> int:
    """Messages whose sender died holding the claim: the provider may have them, so they become
    uncertain (never sent again)."""
    count = commit_fresh(lambda: rowcount(db.session.execute(
        update(SmsOutbox).where(SmsOutbox.state == "sending", SmsOutbox.lease_until < utcnow())
        .values(state="uncertain", lease_until=None, last_error="发送中断，无法确认是否已送达，不再重发"))))
    if count:
        log.warning("sms: %s messages left uncertain by a sender that stopped", count)
    return count


def send_due(*, limit: int = 100, backend: SmsBackend | None = None) -> tuple[int, int]:
    """Send due messages; returns (sent, not sent this time)."""
    backend = backend or backend_from(current_app.config)
    give_up_stale_claims()
    sent = failed = 0
    for _ in range(limit):
        row_id = _claim_next()
        if row_id is None:
            break
        row = db.session.get_one(SmsOutbox, row_id)
        message = SmsMessage(phone=row.phone, template=TEMPLATES[row.template], params=json.loads(row.params),
                             out_id=str(row.id))
        db.session.rollback()   # hold nothing while the provider talks
        outcome = backend.send(message)
        _record(row_id, outcome)
        if outcome.status == "sent":
            sent += 1
        else:
            failed += 1
            log.warning("sms %s not sent (%s): %s", row_id, outcome.status, outcome.error)
    return sent, failed
