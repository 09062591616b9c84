"""Venue fixtures: a fixed clock, venue, package and branch factories, and a `book` shortcut."""

from __future__ import annotations

import itertools
from datetime import datetime, time

import pytest

import app.clock
from app.bookings import services as bookings
from app.bookings.models import ActivityType
from app.organizations.models import OrganizationKind
from app.venues.models import ActivityPackage, Facility, OpeningHours, PackageFacility, Venue, VenueFacility, VenueKind

_n = itertools.count(1)
NOW = datetime(2026, 9, 1, 8, 0)   # a Tuesday; chinese-calendar knows 2026's holidays


class Clock:
    def __init__(self, now: datetime):
        self.now = now      # local wall time


@pytest.fixture
def clock(monkeypatch):
    """The application's clock, fixed at NOW local time (set clock.now to move it)."""
    fixed = Clock(NOW)

    class FixedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            moment = fixed.now.replace(tzinfo=app.clock.LOCAL)
            return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

    monkeypatch.setattr(app.clock, "datetime", FixedDatetime)
    return fixed


STANDARD_HOURS = {d: [(time(8, 30), time(11, 30)), (time(14, 30), time(17, 30))] for d in range(5)}
STANDARD_HOURS[5] = [(time(9, 0), time(11, 30))]


@pytest.fixture
def create_venue(db, create_org):
    def create(*, county: str = "410104", capacity: int = 40, name: str | None = None,
               hours: dict | None = None, facilities=(Facility.PROJECTOR, Facility.ACCESSIBLE_ENTRANCE),
               kind: VenueKind = VenueKind.SHARED_HOME, lead_hours: int = 24, horizon_days: int = 90,
               active: bool = True, lat: float | None = None, lon: float | None = None) -> Venue:
        operator = create_org(county=county, kind=OrganizationKind.VENUE_OPERATOR)
        venue = Venue(name=name or f"测试共享家园{next(_n)}", kind=kind, operator=operator, region_code=county,
                      address="东大街", lat=lat if lat is not None else operator.lat,
                      lon=lon if lon is not None else operator.lon, capacity=capacity,
                      min_lead_hours=lead_hours, horizon_days=horizon_days, active=active)
        for weekday, periods in (STANDARD_HOURS if hours is None else hours).items():
            for opens, closes in periods:
                venue.hours.append(OpeningHours(weekday=weekday, opens=opens, closes=closes))
        venue.facility_rows = [VenueFacility(facility=f) for f in facilities]
        db.session.add(venue)
        db.session.commit()
        return venue

    return create


@pytest.fixture
def create_package(db):
    def create(*, venue: Venue | None = None, name: str = "重温入党誓词", minutes: int = 60,
               max_participants: int = 50, needs=()) -> ActivityPackage:
        package = ActivityPackage(venue=venue, name=name, content="面向党旗重温入党誓词", provides="党旗、誓词墙",
                                  duration_minutes=minutes, max_participants=max_participants)
        package.facility_rows = [PackageFacility(facility=f) for f in needs]
        db.session.add(package)
        db.session.commit()
        return package

    return create


@pytest.fixture
def branch(create_org, create_user):
    """A party branch and its organizer: branch() → (organization, organizer)."""
    def create(*, county: str = "410104", name: str | None = None):
        org = create_org(name=name or f"测试离退休干部党支部{next(_n)}", county=county,
                         kind=OrganizationKind.PARTY_BRANCH)
        return org, create_user(name=f"支部书记{next(_n)}", roles=[("organizer", org)])

    return create


@pytest.fixture
def manager(create_user):
    def create(venue: Venue):
        return create_user(name=f"场地管理员{next(_n)}", roles=[("venue_manager", venue.id)])

    return create


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


@pytest.fixture
def book(db, clock, branch):
    """book(venue, "2026-09-04 09:00", "2026-09-04 10:00", **overrides) → Booking, committed."""
    def do(venue, start: str, end: str, *, org=None, actor=None, **kw):
        if org is None:
            org, actor = branch()
        values = dict(activity=ActivityType.THEME_PARTY_DAY, title="重温入党誓词", attendees=12)
        values.update(kw)
        booking = bookings.book_venue(actor=actor, request=bookings.BookingRequest(
            venue=venue, organization=org, start=at(start), end=at(end), **values))
        db.session.commit()
        return booking

    return do


@pytest.fixture
def organizer_client(client, login, branch, clock):
    """The test client signed in as a branch's organizer: (client, branch, organizer)."""
    org, organizer = branch()
    login(organizer)
    return client, org, organizer
