"""Pool search for staff: every filter in SQL, inside the actor's scope, ready to paginate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Select, and_, exists, select

from app import access
from app.accounts.models import User
from app.extensions import db
from app.members.models import Capacity, EntryStatus, MemberProfile, MemberSkill, PoolEntry, PoolLevel, slot_bit
from app.regions.codes import code_within
from app.regions.geo import bounding_box, sql_haversine_km

_T = TypeVar("_T")


@dataclass
class MemberFilter:
    skill_id: int | None = None
    min_level: int = 1
    pool_level: PoolLevel | None = None
    region_prefix: str | None = None
    free: tuple[int, int] | None = None         # (weekday 0–6, period 0–2)
    capacity: Capacity | None = None
    near: tuple[float, float] | None = None       # (lat, lon)
    within_km: float | None = None
    name: str | None = None


def search(actor: User, flt: MemberFilter) -> Select[MemberProfile]:
    """select(MemberProfile) matching the filter, nearest first when a place is given (exports)."""
    return _filtered(select(MemberProfile), actor, flt)


def search_ids(actor: User, flt: MemberFilter) -> Select[tuple[int]]:
    """The same search as ids only, for a page of results: the database sorts narrow rows (an id,
    a region code, a name) rather than every joined column of every match, and only the page's
    rows are loaded afterwards (page_of). At a million members an organizer's 14,000 matches
    sorted with their joined columns took seconds; their ids take milliseconds."""
    return _filtered(select(MemberProfile.id), actor, flt)


def page_of(ids: Sequence[int]) -> list[MemberProfile]:
    """The members with these ids, in this order, with what the result list shows."""
    found = {m.id: m for m in db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def _filtered(stmt: Select[_T], actor: User, flt: MemberFilter) -> Select[_T]:
    stmt = stmt.join(User, User.id == MemberProfile.id).where(access.members_visible(actor))
    if flt.skill_id:
        stmt = stmt.where(exists().where(MemberSkill.member_id == MemberProfile.id,
                                         MemberSkill.skill_id == flt.skill_id, MemberSkill.level >= flt.min_level))
    if flt.pool_level:
        levels = [lv for lv in PoolLevel if lv.rank >= flt.pool_level.rank]
        stmt = stmt.where(exists().where(PoolEntry.member_id == MemberProfile.id, PoolEntry.level.in_(levels),
                                         PoolEntry.status == EntryStatus.APPROVED))
    if flt.region_prefix:
        stmt = stmt.where(code_within(MemberProfile.region_code, [flt.region_prefix]))
    if flt.free:
        stmt = stmt.where(MemberProfile.availability_mask.op("&")(slot_bit(*flt.free)) != 0)
    if flt.capacity:
        stmt = stmt.where(MemberProfile.capacity.in_([c for c in Capacity if c.rank >= flt.capacity.rank]))
    if flt.name:
        stmt = stmt.where(User.name.contains(flt.name, autoescape=True))
    if flt.near:
        lat, lon = flt.near
        distance = sql_haversine_km(MemberProfile.lat, MemberProfile.lon, lat, lon)
        if flt.within_km:
            box = bounding_box(lat, lon, flt.within_km)
            stmt = stmt.where(and_(MemberProfile.lat.between(box.min_lat, box.max_lat),
                                   MemberProfile.lon.between(box.min_lon, box.max_lon)),
                              distance <= flt.within_km)
        return stmt.order_by(distance, MemberProfile.id)
    return stmt.order_by(MemberProfile.region_code, User.name, MemberProfile.id)
