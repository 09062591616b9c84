"""The day before an approved booking date, its booker is reminded with a one-tap "去不了了" link
that cancels that date (the venue is told at once, the time is free again)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from app.bookings import services as bookings
from app.bookings.models import BookingReminder, BookingStatus
from app.bookings.reminders import remind_tomorrow
from app.notifications.models import Notification, SmsOutbox
from tests.conftest import csrf_token


def approved(db, clock, create_venue, book, manager):
    clock.now = datetime(2026, 9, 1, 8, 0)
    venue = create_venue()
    booking = book(venue, "2026-09-02 09:00", "2026-09-02 10:00", title="主题党日")
    keeper = manager(venue)
    bookings.decide_booking(actor=keeper, booking=booking, approve=True)
    db.session.commit()
    clock.now = datetime(2026, 9, 1, 10, 0)
    return booking, keeper


def test_the_booker_is_reminded_once_and_cant_go_cancels_that_date(client, db, clock, create_venue, book, manager):
    booking, keeper = approved(db, clock, create_venue, book, manager)
    assert remind_tomorrow() == 1
    db.session.commit()
    assert remind_tomorrow() == 0
    note = db.session.scalar(select(Notification).where(Notification.kind == "booking.reminder"))
    assert note.user_id == booking.booked_by_id and note.link.startswith("/r/b")
    sms = db.session.scalar(select(SmsOutbox).where(SmsOutbox.template == "reminder"))
    assert sms is not None and note.link.removeprefix("/r/") in sms.params
    page = client.get(note.link).get_data(as_text=True)
    assert "去不了了吗" in page and booking.venue.name in page
    done = client.post(note.link, data={"csrf_token": csrf_token(client, note.link)})
    assert done.status_code == 200 and "已经取消这一次了" in done.get_data(as_text=True)
    db.session.expire_all()
    assert booking.occurrences[0].status is BookingStatus.CANCELLED
    assert any("场地预约已取消" in t for t in db.session.scalars(
        select(Notification.title).where(Notification.user_id == keeper.id)))
    again = client.post(note.link, data={"csrf_token": csrf_token(client, note.link)})
    assert again.status_code == 409
    assert db.session.scalar(select(BookingReminder.answered_at)) is not None


def test_a_forged_booking_link_opens_nothing(client, db, clock, create_venue, book, manager):
    booking, _keeper = approved(db, clock, create_venue, book, manager)
    remind_tomorrow()
    db.session.commit()
    link = db.session.scalar(select(Notification.link).where(Notification.kind == "booking.reminder"))
    ident, signature = link.removeprefix("/r/b").split("-")
    assert client.get(f"/r/b{ident}-{'f' * len(signature)}").status_code == 404
    assert client.post(f"/r/b{int(ident) + 1}-{signature}",
                       data={"csrf_token": csrf_token(client, "/login")}).status_code == 404
    assert booking.occurrences[0].status is BookingStatus.APPROVED


def test_pending_bookings_are_not_reminded(db, clock, create_venue, book):
    clock.now = datetime(2026, 9, 1, 8, 0)
    book(create_venue(), "2026-09-02 09:00", "2026-09-02 10:00")
    clock.now = datetime(2026, 9, 1, 10, 0)
    assert remind_tomorrow() == 0
