"""No double booking, ever: the database itself refuses overlapping slot-holding occurrences
(PostgreSQL's exclusion constraint, SQLite's triggers), and the service turns that refusal into a
409 naming the booking that holds the time."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from app.bookings import services as bookings
from app.bookings.models import BookingOccurrence, BookingStatus
from app.errors import Conflict


def occurrence(booking, start, end, status=BookingStatus.PENDING):
    return BookingOccurrence(booking_id=booking.id, venue_id=booking.venue_id, start_at=start, end_at=end,
                             status=status)


def insert(db, row):
    with db.session.begin_nested():
        db.session.add(row)
        db.session.flush()


def test_the_database_refuses_an_overlap_the_service_never_saw(db, create_venue, book):
    venue = create_venue()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    with pytest.raises(sa.exc.IntegrityError, match="booking_occurrences_no_overlap"):
        insert(db, occurrence(booking, datetime(2026, 9, 4, 9, 59), datetime(2026, 9, 4, 11)))
    # back to back, and overlaps with time that is no longer held, are fine
    insert(db, occurrence(booking, datetime(2026, 9, 4, 10), datetime(2026, 9, 4, 11)))
    insert(db, occurrence(booking, datetime(2026, 9, 4, 9), datetime(2026, 9, 4, 10), BookingStatus.CANCELLED))
    insert(db, occurrence(booking, datetime(2026, 9, 4, 9), datetime(2026, 9, 4, 10), BookingStatus.REJECTED))


def test_the_database_refuses_an_update_that_makes_an_overlap(db, create_venue, book):
    venue = create_venue()
    first = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    second = book(venue, "2026-09-04 10:00", "2026-09-04 11:00")
    moved = second.occurrences[0]
    with pytest.raises(sa.exc.IntegrityError, match="booking_occurrences_no_overlap"):
        with db.session.begin_nested():
            moved.start_at = datetime(2026, 9, 4, 9, 30)
            db.session.flush()
    db.session.refresh(moved)
    bookings.cancel_booking(actor=first.booked_by, booking=first, reason="改期")
    db.session.commit()
    insert(db, occurrence(second, datetime(2026, 9, 4, 9, 30), datetime(2026, 9, 4, 10)))
    revived = first.occurrences[0]
    with pytest.raises(sa.exc.IntegrityError, match="booking_occurrences_no_overlap"):
        with db.session.begin_nested():  # a cancelled date cannot come back over someone else's
            revived.status = BookingStatus.PENDING
            db.session.flush()


def test_a_race_lost_at_the_database_is_a_conflict_naming_the_winner(db, create_venue, book, branch, monkeypatch):
    venue = create_venue()
    org, organizer = branch()
    winner = book(venue, "2026-09-04 09:00", "2026-09-04 10:00", title="政治生日会", org=org, actor=organizer)
    real_plan = bookings.plan
    # The loser's check ran before the winner committed: it saw a free slot.
    monkeypatch.setattr(bookings, "plan", lambda slots, rules, held: real_plan(slots, rules, []))
    with pytest.raises(Conflict) as e:   # the winner's own branch, booking again: it may see its booking
        book(venue, "2026-09-04 09:30", "2026-09-04 10:30", org=org, actor=organizer)
    assert f"「政治生日会」（{winner.organization.name}）" in e.value.message
    db.session.rollback()
    assert bookings.count_slot_holding(venue.id) == 1


def test_the_guard_is_in_the_schema(db):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        names = db.session.scalars(sa.text(
            "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conrelid = 'booking_occurrences'::regclass")).all()
        assert names == ["ex_booking_occurrences_no_overlap"]
    else:
        names = db.session.scalars(sa.text(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'booking_occurrences' ORDER BY name")).all()
        assert names == ["booking_occurrences_no_overlap_insert", "booking_occurrences_no_overlap_update"]
