"""iCalendar (RFC 5545) feeds of a venue's and a branch's bookings, built with the icalendar package.

One VEVENT per slot-holding occurrence (pending ones as TENTATIVE, approved as CONFIRMED), from 30
days back on; a cancelled or rejected date simply leaves the feed, which calendar programs take as
removed. Times carry TZID=Asia/Shanghai with its VTIMEZONE. UIDs are stable per occurrence.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from icalendar import Calendar, Event
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import joinedload

from app.bookings.calendars import hosted_by
from app.bookings.models import SLOT_HOLDING, Booking, BookingOccurrence, BookingStatus
from app.clock import local_now, to_instant, utcnow
from app.extensions import db
from app.links import absolute, path_for
from app.organizations.models import Organization
from app.venues.models import Venue

HISTORY_DAYS = 30


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Yinhui 银晖//Venue bookings//ZH")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("x-wr-timezone", "Asia/Shanghai")
    return cal


def _occurrences(*where: ColumnElement[bool]) -> list[BookingOccurrence]:
    """The feed's occurrences, each with its booking (and the bookings' packages) in a fixed number
    of statements: calendar programs ask for a feed again every few minutes to hours."""
    since = datetime.combine(local_now().date() - timedelta(days=HISTORY_DAYS), time())
    return list(db.session.scalars(select(BookingOccurrence).join(Booking).where(
        BookingOccurrence.status.in_(SLOT_HOLDING), BookingOccurrence.end_at >= since, *where)
        .options(joinedload(BookingOccurrence.booking).selectinload(Booking.package))
        .order_by(BookingOccurrence.start_at, BookingOccurrence.id)))


def _event(o: BookingOccurrence, *, summary: str, stamp: datetime) -> Event:
    booking = o.booking
    event = Event()
    event.add("uid", f"occurrence-{o.id}@yinhui")
    event.add("dtstamp", stamp)
    event.add("dtstart", to_instant(o.start_at))
    event.add("dtend", to_instant(o.end_at))
    event.add("summary", summary)
    event.add("location", f"{booking.venue.name}（{booking.venue.address}）")
    event.add("status", "CONFIRMED" if o.status is BookingStatus.APPROVED else "TENTATIVE")
    lines = [f"活动类型：{booking.activity.label}", f"参加人数：{booking.attendees}",
             f"状态：{o.status.label}"]
    if booking.package is not None:
        lines.append(f"活动套餐：{booking.package.name}")
    if booking.co_hosts:
        lines.append("联合主办：" + "、".join(h.organization.name for h in booking.co_hosts))
    event.add("description", "\n".join(lines))
    event.add("url", absolute(path_for("bookings.booking", booking_id=booking.id)))
    return event


def _finish(cal: Calendar) -> bytes:
    cal.add_missing_timezones()
    return cal.to_ical()


def venue_calendar(venue: Venue) -> bytes:
    """Everything that holds the venue's time, with the branches' names: for its managers."""
    cal = _calendar(venue.name)
    stamp = utcnow()
    for o in _occurrences(BookingOccurrence.venue_id == venue.id):
        cal.add_component(_event(o, summary=f"{o.booking.title}（{o.booking.organization.name}）", stamp=stamp))
    return _finish(cal)


def organization_calendar(organization: Organization) -> bytes:
    """What the branch has booked or co-hosts, wherever."""
    cal = _calendar(f"{organization.name} · 场地预约")
    stamp = utcnow()
    for o in _occurrences(hosted_by(organization)):
        cal.add_component(_event(o, summary=f"{o.booking.title} @ {o.booking.venue.name}", stamp=stamp))
    return _finish(cal)
