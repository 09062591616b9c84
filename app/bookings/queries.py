"""Reads the booking pages need: the actor's branches, who may co-host, calendar addresses, no-shows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app import access
from app.accounts.models import User
from app.bookings.models import Booking, BookingOccurrence, CalendarFeed
from app.clock import local_now
from app.extensions import db
from app.organizations.models import Organization, OrganizationKind
from app.regions.codes import code_within
from app.venues.models import Venue


def my_organizations(actor: User) -> list[Organization]:
    """The organizations the actor organizes, by name: those they book for."""
    own = sorted(access.organized(actor))
    return list(db.session.scalars(select(Organization).where(Organization.id.in_(own)).order_by(Organization.name)))


def co_host_choices(venue: Venue) -> list[Organization]:
    """Party branches of the venue's city: who may co-host a joint theme party day there."""
    return list(db.session.scalars(select(Organization).where(
        Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active,
        code_within(Organization.region_code, [venue.region_code[:4]]))
        .order_by(Organization.region_code, Organization.name)))


def feeds_of(orgs: list[Organization]) -> dict[int, CalendarFeed]:
    return {f.organization_id: f for f in db.session.scalars(select(CalendarFeed).where(
        CalendarFeed.organization_id.in_([o.id for o in orgs])))}


def venue_by_feed(token: str) -> Venue | None:
    return db.session.scalar(select(Venue).where(Venue.feed_token == token)) if len(token) <= 64 else None


def feed_by_token(token: str) -> CalendarFeed | None:
    return db.session.scalar(select(CalendarFeed).where(CalendarFeed.token == token)) if len(token) <= 64 else None


NO_SHOW_WINDOW = timedelta(days=90)


def no_shows_by_branch(actor: User) -> list[tuple[Organization, int]]:
    """How often each branch's bookings of the venues the actor runs were released for nobody
    checking in, in the last 90 days, most first."""
    venues = select(Venue.id).where(access.venues_managed(actor))
    rows = db.session.execute(select(Booking.organization_id, func.count()).join(
        BookingOccurrence, BookingOccurrence.booking_id == Booking.id).where(
        BookingOccurrence.venue_id.in_(venues), BookingOccurrence.released_at.is_not(None),
        BookingOccurrence.start_at >= local_now() - NO_SHOW_WINDOW).group_by(Booking.organization_id)
        .order_by(func.count().desc(), Booking.organization_id)).all()
    names = {o.id: o for o in db.session.scalars(select(Organization).where(
        Organization.id.in_([org_id for org_id, _ in rows])))}
    return [(names[org_id], int(count)) for org_id, count in rows]
