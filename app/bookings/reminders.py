"""Reminders of approved bookings that their branch can answer.

The day before each approved date of a booking, whoever booked it is reminded by the channels they
chose, once (a BookingReminder row per date). The reminder links to the same one-tap page as a
session's reminder (app/tasks/reply_views.py) with a code of its own, `b<id>-<signature>`
(app.links.signed_code: an HMAC of the reminder's id under SECRET_KEY for this purpose only). Answering "去不了了" cancels that one
date (bookings.services.cancel_booking, as the booker): the venue's people are told at once and the
time is free for others. The link lapses when the date begins and is spent once answered.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from app.bookings.models import Booking, BookingOccurrence, BookingReminder, BookingStatus
from app.bookings.services import CancelScope, cancel_booking
from app.clock import WEEKDAYS, local_now, local_today, to_instant, utcnow
from app.errors import Conflict
from app.extensions import db
from app.links import path_for, signed_code, signed_id
from app.notifications.services import notify

PREFIX = "b"
PURPOSE = "booking-cant-go"


def link_code(reminder: BookingReminder) -> str:
    return signed_code(PURPOSE, reminder.id, PREFIX)


def is_booking_code(code: str) -> bool:
    return (code or "").startswith(PREFIX)


def reminder_for(code: str) -> BookingReminder | None:
    """The reminder a link names, if its signature holds."""
    ident = signed_id(PURPOSE, code, PREFIX)
    return db.session.get(BookingReminder, ident) if ident is not None else None


def is_open(reminder: BookingReminder) -> bool:
    occurrence = reminder.occurrence
    return (reminder.answered_at is None and occurrence.status is BookingStatus.APPROVED
            and occurrence.start_at > local_now())


def describe(occurrence: BookingOccurrence) -> str:
    start, end = occurrence.start_at, occurrence.end_at
    return f"{start.month}月{start.day}日（{WEEKDAYS[start.weekday()]}）{start:%H:%M}–{end:%H:%M}"


def remind_tomorrow() -> int:
    """Remind the booker of each approved date tomorrow, once. Flushes; the caller commits."""
    start = datetime.combine(local_today() + timedelta(days=1), time())
    rows = db.session.execute(
        select(BookingOccurrence, Booking).join(Booking, Booking.id == BookingOccurrence.booking_id)
        .where(BookingOccurrence.start_at >= start, BookingOccurrence.start_at < start + timedelta(days=1),
               BookingOccurrence.status == BookingStatus.APPROVED, Booking.booked_by_id.is_not(None))
        .order_by(BookingOccurrence.start_at, BookingOccurrence.id))
    count = 0
    for occurrence, booking in rows:
        booker = booking.booked_by
        if booker is None or db.session.scalar(select(BookingReminder.id).where(
                BookingReminder.occurrence_id == occurrence.id, BookingReminder.user_id == booker.id)) is not None:
            continue
        reminder = BookingReminder(occurrence_id=occurrence.id, user_id=booker.id)
        db.session.add(reminder)
        db.session.flush()
        code = link_code(reminder)
        when = f"明天{occurrence.start_at:%H:%M}"
        notify(booker, kind="booking.reminder", title=f"{when}：{booking.title}（{booking.venue.name}）",
               body=f"时间：{describe(occurrence)}\n地点：{booking.venue.name}"
                    "\n如果去不了，点下面的链接取消这一次就行，场地会让给别的支部。",
               link=path_for("reply.cant_go", code=code), sms_expires_at=to_instant(occurrence.start_at),
               sms_template=("reminder", {"when": when, "title": booking.title, "code": code}))
        count += 1
    return count


def cant_go(*, reminder: BookingReminder) -> None:
    """The booker cannot go: that one date is cancelled (the venue's people are told). Once only."""
    if not is_open(reminder):
        raise Conflict("这个提醒已经处理过了，或者活动已经开始了。如有变化请直接联系场地管理员。")
    cancel_booking(actor=reminder.user, booking=reminder.occurrence.booking, reason="收到提醒后回复：去不了了",
                   scope=CancelScope.ONE, occurrence=reminder.occurrence)
    reminder.answered_at = utcnow()
