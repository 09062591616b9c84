"""Reads the booking pages need: the actor's branches, who may co-host, calendar addresses."""

from __future__ import annotations

from sqlalchemy import select

from app import access
from app.accounts.models import User
from app.bookings.models import CalendarFeed
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
