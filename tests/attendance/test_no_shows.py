"""No-show release: a booking nobody checked in to within its venue's minutes is released, both
sides are told, the time is bookable again, and the no-shows are counted per branch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.attendance import services as attendance
from app.bookings import services as bookings
from app.bookings.models import ActivityType, BookingStatus
from app.errors import Conflict
from app.jobs.schedule import release_bookings
from app.notifications.models import Notification
from tests.attendance.conftest import at


@pytest.fixture
def booked(db, clock, create_venue, book, branch, manager):
    """An approved booking tomorrow 9:00–11:00 at a venue that takes bookings at no notice."""
    venue = create_venue(lead_hours=0)
    boss = manager(venue)
    org, organizer = branch()
    booking = book(venue, "2026-09-02 09:00", "2026-09-02 11:00", org=org, actor=organizer)
    bookings.decide_booking(actor=boss, booking=booking, approve=True)
    db.session.commit()
    return venue, booking, organizer, boss


def _told(db, user, kind="booking.released") -> list[str]:
    return list(db.session.scalars(select(Notification.body).where(Notification.user_id == user.id,
                                                                   Notification.kind == kind)))


def test_a_booking_nobody_checked_in_to_is_released_after_the_grace_period(db, clock, booked, branch):
    venue, booking, organizer, boss = booked
    occurrence = booking.occurrences[0]
    clock.now = at("2026-09-02 09:29")
    assert bookings.release_no_shows() == []
    clock.now = at("2026-09-02 09:31")
    assert release_bookings().startswith("1 bookings released")
    db.session.expire_all()
    assert occurrence.status is BookingStatus.CANCELLED and occurrence.released_at is not None
    assert booking.status is BookingStatus.CANCELLED and "30 分钟无人签到" in occurrence.cancel_reason
    assert _told(db, organizer) and _told(db, boss) and "其他支部可以预约" in _told(db, boss)[0]
    # The time is free: another branch books the rest of the morning.
    other, other_organizer = branch()
    later = bookings.book_venue(actor=other_organizer, request=bookings.BookingRequest(
        venue=venue, organization=other, start=at("2026-09-02 09:45"), end=at("2026-09-02 11:00"),
        activity=ActivityType.THREE_MEETINGS, title="支部委员会", attendees=8))
    assert later.occurrences[0].status is BookingStatus.PENDING
    # A late check-in finds it released and changes nothing.
    with pytest.raises(Conflict, match="已因超时未签到被释放"):
        attendance.booking_arrived(actor=organizer, occurrence=occurrence)
    assert bookings.release_no_shows() == []          # released once


def test_a_checked_in_booking_is_kept(db, clock, booked):
    venue, booking, organizer, boss = booked
    clock.now = at("2026-09-02 09:10")
    attendance.booking_arrived(actor=organizer, occurrence=booking.occurrences[0])
    db.session.commit()
    clock.now = at("2026-09-02 10:00")
    assert bookings.release_no_shows() == []
    assert booking.occurrences[0].status is BookingStatus.APPROVED and booking.occurrences[0].checked_in_at == at(
        "2026-09-02 09:10")


def test_a_members_scan_checks_the_booking_in(db, clock, booked, create_member):
    from app.attendance import codes
    from app.clock import utcnow

    venue, booking, organizer, boss = booked
    occurrence = booking.occurrences[0]
    member = create_member(name="到场的党员")
    clock.now = at("2026-09-02 08:50")
    scan = codes.read_code("k", codes.make_code("k", codes.OCCURRENCE, occurrence.id, utcnow()), codes.OCCURRENCE,
                           occurrence.id, utcnow())
    attendance.scan_in(actor=member.user, target=occurrence, scan=scan)
    db.session.commit()
    clock.now = at("2026-09-02 09:45")
    assert bookings.release_no_shows() == [] and occurrence.checked_in_at == at("2026-09-02 08:50")


def test_the_grace_period_is_the_venues(db, clock, booked):
    venue, booking, organizer, boss = booked
    venue.no_show_minutes = 60
    db.session.commit()
    clock.now = at("2026-09-02 09:45")
    assert bookings.release_no_shows() == []
    clock.now = at("2026-09-02 10:00")
    assert [o.id for o in bookings.release_no_shows()] == [booking.occurrences[0].id]


def test_only_the_missed_date_of_a_series_is_released(db, clock, create_venue, book, branch, manager):
    from app.venues.recurrence import Freq, Rule

    venue = create_venue(lead_hours=0)
    org, organizer = branch()
    rule = Rule(freq=Freq.WEEKLY, weekdays=(2,), until=at("2026-09-16 00:00").date())
    booking = book(venue, "2026-09-02 09:00", "2026-09-02 10:00", org=org, actor=organizer, rule=rule)
    clock.now = at("2026-09-02 09:40")
    bookings.release_no_shows()
    db.session.expire_all()
    assert [o.status for o in booking.occurrences] == [BookingStatus.CANCELLED, BookingStatus.PENDING,
                                                       BookingStatus.PENDING]
    assert booking.status is BookingStatus.PENDING


def test_the_manager_sees_no_shows_per_branch(client, db, clock, login, booked):
    venue, booking, organizer, boss = booked
    clock.now = at("2026-09-02 09:31")
    release_bookings()
    login(boss)
    page = client.get("/venues/queue").get_data(as_text=True)
    assert booking.organization.name in page and "1 次" in page


def test_the_venue_form_refuses_a_grace_period_out_of_range(db, clock, create_venue, create_admin):
    from app.errors import Invalid
    from app.venues import services as venues

    venue = create_venue()
    admin = create_admin("410104")
    values = venues.VenueValues(name=venue.name, kind=venue.kind, operator=venue.operator, county_code="410104",
                                address=venue.address, capacity=venue.capacity, no_show_minutes=2)
    with pytest.raises(Invalid, match="5 到 240"):
        venues.update_venue(actor=admin, venue=venue, values=values)
    db.session.rollback()
    assert venue.no_show_minutes == 30
