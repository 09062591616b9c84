"""Who an actor is, in terms of scope: the regions they administer, the organizations they
organize and the venues they manage, read from their role grants (loaded with the user).

This is the region-scope helper: only app.access uses it. Out-of-scope ids are answered with 404
by the loaders in app.access.loaders, never 403, so staff cannot probe for what exists.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from app.accounts.models import Role, User
from app.extensions import db
from app.regions.codes import code_within, minimal_prefixes, within
from app.regions.models import Region, RegionLevel


def signed_in(actor: User | None) -> bool:
    """A real, signed-in account (Flask-Login's anonymous user is not one)."""
    return actor is not None and bool(getattr(actor, "is_authenticated", False)) and isinstance(actor, User)


def admin_regions(actor: User | None) -> list[Region]:
    if not signed_in(actor):
        return []
    assert actor is not None
    return [g.region for g in actor.grants if g.role is Role.ADMIN and g.region is not None]


def admin_prefixes(actor: User | None) -> list[str]:
    """The region-code prefixes of the subtrees the actor administers: ['4101'] for 郑州市."""
    return minimal_prefixes(r.prefix for r in admin_regions(actor))


def covers(actor: User | None, code: str | None) -> bool:
    """Is this region code inside one of the actor's admin regions?"""
    return within(code, admin_prefixes(actor))


def is_admin(actor: User | None) -> bool:
    return bool(admin_regions(actor))


def highest_admin_level(actor: User | None) -> RegionLevel | None:
    levels = {r.level for r in admin_regions(actor)}
    return next((lv for lv in (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY) if lv in levels), None)


def is_province_admin(actor: User | None) -> bool:
    return highest_admin_level(actor) is RegionLevel.PROVINCE


def organized(actor: User | None) -> set[int]:
    """The ids of the organizations the actor organizes (branch secretary, community worker)."""
    if not signed_in(actor):
        return set()
    assert actor is not None
    return {g.organization_id for g in actor.grants if g.role is Role.ORGANIZER and g.organization_id is not None}


def organized_counties(actor: User | None) -> set[str]:
    """The counties of the organizations the actor organizes."""
    if not signed_in(actor):
        return set()
    assert actor is not None
    return {g.organization.region_code for g in actor.grants
            if g.role is Role.ORGANIZER and g.organization is not None}


def managed_venues(actor: User | None) -> set[int]:
    """The ids of the venues the actor manages."""
    if not signed_in(actor):
        return set()
    assert actor is not None
    return {g.venue_id for g in actor.grants if g.role is Role.VENUE_MANAGER and g.venue_id is not None}


def holds(actor: User | None, role: Role) -> bool:
    return signed_in(actor) and actor is not None and actor.has_role(role)


def signature(actor: User | None) -> tuple | None:
    """Everything of the actor the scope rules read (app.access.rules, the *_visible clauses): their
    id and each grant's role, region (code and level), organization (id and county) and venue. Two
    actors with one signature get the same clauses; None for someone not signed in."""
    if not signed_in(actor):
        return None
    assert actor is not None
    return (actor.id, frozenset(   # a set: no order to agree on, and no None compared with a code
        (g.role.value, g.region_code, g.region.level.value if g.region is not None else None, g.organization_id,
         g.organization.region_code if g.organization is not None else None, g.venue_id)
        for g in actor.grants))


def regions_administered(actor: User | None) -> list[Region]:
    """regions_in_scope() read: every current region in the actor's admin regions, by code (none,
    without a query, for those who administer nothing: organizers on every pool search)."""
    if not admin_prefixes(actor):
        return []
    return list(db.session.scalars(regions_in_scope(actor)))


def regions_in_scope(actor: User | None, level: RegionLevel | None = None) -> Select[Region]:
    """The current regions inside the actor's admin regions (themselves included), by code."""
    stmt = select(Region).where(code_within(Region.code, admin_prefixes(actor)), Region.is_current)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    return stmt.order_by(Region.code)
