"""Pool search for staff: every filter in SQL, inside the actor's scope, ready to paginate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from flask_sqlalchemy.pagination import SelectPagination
from sqlalchemy import ColumnElement, Select, Subquery, and_, exists, false, func, select, union
from sqlalchemy.orm import InstrumentedAttribute, lazyload

from app import access
from app.accounts.models import User
from app.extensions import db
from app.members.models import (
    Capacity,
    EntryStatus,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    PoolEntry,
    PoolLevel,
    slot_bit,
)
from app.regions.codes import code_within
from app.regions.geo import bounding_box, sql_haversine_km

_T = TypeVar("_T")
COUNT_CAP = 10_000


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
    stmt = select(MemberProfile).join(User, User.id == MemberProfile.id).where(access.members_visible(actor))
    return _filtered(stmt, flt, MemberProfile.id, MemberProfile.region_code).order_by(
        *_order(flt, MemberProfile.id, MemberProfile.region_code))


def search_ids(actor: User, flt: MemberFilter) -> Select[tuple[int, Any]]:
    """The same search as ids, for a page of results (SearchPage), each with the keys it is
    sorted by (labelled sort0, sort1, …). Each of the actor's reaches (access.member_reaches) is
    read apart, from its index alone, and the reads merged: asked for `branch_id IN (…) OR
    registered_by_id = me` at once, both databases visit the row of every member in the branch to
    sort and count them (SQLite: 18 ms for a branch of 14,000 at a million members, against 4).
    The profile and the account are joined only for a filter that reads them."""
    reach = _in_reach(actor)
    stmt = select(reach.c.id)
    if flt.free or flt.capacity or flt.near:
        stmt = stmt.join(MemberProfile, MemberProfile.id == reach.c.id)
    if flt.name:
        stmt = stmt.join(User, User.id == reach.c.id)
    keys = _order(flt, reach.c.id, reach.c.region_code)
    return _filtered(stmt, flt, reach.c.id, reach.c.region_code).add_columns(
        *(key.label(f"sort{i}") for i, key in enumerate(keys))).order_by(*keys)


def _in_reach(actor: User) -> Subquery:
    """The (id, region_code) of every member the actor may see, deleted ones left out: one read
    per reach, merged without duplicates (a member of the branch the organizer registered)."""
    live = MemberProfile.status != MemberStatus.DELETED
    reads = [select(MemberProfile.id, MemberProfile.region_code).where(reach, live)
             for reach in access.member_reaches(actor)]
    if not reads:
        return select(MemberProfile.id, MemberProfile.region_code).where(false()).subquery("reach")
    return (reads[0] if len(reads) == 1 else union(*reads)).subquery("reach")


class SearchPage(SelectPagination):
    """One page of a staff search, fast at any scope size.

    One read gives the page and the count: the first COUNT_CAP + 1 matches, counted, and of them
    the page's ids (a separate count walked the matches a second time: a third of a search with
    a skill filter). The database sorts narrow rows (ids in (region, id) order, which an index
    already holds) and the page's 20 members are loaded afterwards, with what the list shows;
    sorting the matches with every joined column took an organizer's 14,000-member search
    seconds at a million members. The count stops at COUNT_CAP: "超过 1 万人" tells a province
    admin as much as the exact figure would (入库统计 gives exact totals), and costs one index
    walk of at most COUNT_CAP entries instead of a million.
    """

    capped = False
    _found: int | None = None

    def _query_items(self) -> list[MemberProfile]:
        matches = self._query_args["select"].limit(COUNT_CAP + 1).subquery()
        room = max(0, min(self.per_page, COUNT_CAP - self._query_offset))    # never past the cap
        rows = db.session.execute(
            select(matches.c.id, func.count().over())
            .order_by(*(column for column in matches.c if column.name.startswith("sort")))
            .limit(room).offset(self._query_offset)).all()
        ids = [member_id for member_id, _ in rows]
        if rows or self._query_offset == 0:
            self._found = rows[0][1] if rows else 0
        # The list shows each member's skills and pool levels, never their dates away.
        found = {m.id: m for m in db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(ids))
                                                     .options(lazyload(MemberProfile.unavailable)))}
        return [found[i] for i in ids if i in found]

    def _query_count(self) -> int:
        """What _query_items counted; counted apart only for a page past the last match."""
        found = self._found
        if found is None:
            capped = self._query_args["select"].order_by(None).limit(COUNT_CAP + 1).subquery()
            found = int(db.session.execute(select(func.count()).select_from(capped)).scalar_one())
        self.capped = found > COUNT_CAP   # then the pages list the first COUNT_CAP
        return min(found, COUNT_CAP)


def search_page(actor: User, flt: MemberFilter, page: int, per_page: int = 20) -> SearchPage:
    """The page-th page (from 1) of the search; past the counted matches, the last such page."""
    page = min(max(page, 1), max(1, -(-COUNT_CAP // per_page)))
    return SearchPage(select=search_ids(actor, flt), session=db.session, page=page, per_page=per_page,
                      error_out=False)


def _filtered(stmt: Select[_T], flt: MemberFilter, member_id: ColumnElement[int] | InstrumentedAttribute[int],
              region_code: ColumnElement[str] | InstrumentedAttribute[str]) -> Select[_T]:
    """The search's conditions on `stmt`, whose members' ids and counties are
    `member_id` and `region_code`; it has joined member_profiles for the filters on the profile
    (free, capacity, near) and users when flt.name is set (exports always join both)."""
    if flt.skill_id:
        held = [MemberSkill.member_id == member_id, MemberSkill.skill_id == flt.skill_id]
        if flt.min_level > 1:
            # Every level is at least 1 (CHECK level_range): asked for anyway, it would make the
            # database read each holder's row instead of answering from the (member, skill) index.
            held.append(MemberSkill.level >= flt.min_level)
        stmt = stmt.where(exists().where(*held))
    if flt.pool_level:
        levels = [lv for lv in PoolLevel if lv.rank >= flt.pool_level.rank]
        stmt = stmt.where(exists().where(PoolEntry.member_id == member_id, PoolEntry.level.in_(levels),
                                         PoolEntry.status == EntryStatus.APPROVED))
    if flt.region_prefix:
        stmt = stmt.where(code_within(region_code, [flt.region_prefix]))
    if flt.free:
        stmt = stmt.where(MemberProfile.availability_mask.op("&")(slot_bit(*flt.free)) != 0)
    if flt.capacity:
        stmt = stmt.where(MemberProfile.capacity.in_([c for c in Capacity if c.rank >= flt.capacity.rank]))
    if flt.name:
        stmt = stmt.where(User.name.contains(flt.name, autoescape=True))
    if flt.near and flt.within_km:
        lat, lon = flt.near
        box = bounding_box(lat, lon, flt.within_km)
        stmt = stmt.where(and_(MemberProfile.lat.between(box.min_lat, box.max_lat),
                               MemberProfile.lon.between(box.min_lon, box.max_lon)),
                          sql_haversine_km(MemberProfile.lat, MemberProfile.lon, lat, lon) <= flt.within_km)
    return stmt


def _order(flt: MemberFilter, member_id: ColumnElement[int] | InstrumentedAttribute[int],
           region_code: ColumnElement[str] | InstrumentedAttribute[str]) -> list[ColumnElement[Any]]:
    """What the search sorts by: nearest first when a place is given; otherwise by county, then
    in order of registration. Not by name: the code-point order of Chinese names is neither
    pinyin nor stroke order, so it helped nobody find anyone (the name box does), while
    (region_code, id) is an index, so the first page of any scope is read, not sorted."""
    if flt.near:
        return [sql_haversine_km(MemberProfile.lat, MemberProfile.lon, *flt.near), member_id.expression]
    return [region_code.expression, member_id.expression]
