"""Gathering the facts matching needs, fast (DESIGN §5).

Step 1 reads only the narrow skill-location index with Core SELECTs: the rows of the task's anchor
skill at the levels it accepts in the latitude bands its box crosses (or its county, for a remote
task), joined to the task's other skills by a covering probe, filtered on the cheap facts the index
carries and ordered by an upper bound on the score computed by the database, so that each query
hands over only its most promising rows. The nearest quarter of the radius is read first; then, for
each level, only as far out as a row could still beat the list, in one more query. Step 2 loads the
remaining facts (blocked dates, clashes, open invitations, refusals, recent hours) for as few
members as it takes to be sure of the top results. Nothing here is loaded as an ORM object, and
every statement is built once per shape.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import lru_cache

import psycopg
from sqlalchemy import (
    ARRAY,
    Date,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import lazyload

from app.clock import local_now, local_today, utcnow
from app.db import generic_plans
from app.extensions import db
from app.members.index import bands_between
from app.members.models import (
    NO_HOURS_CAP,
    Capacity,
    EntryStatus,
    MemberProfile,
    PoolLevel,
    Skill,
    SkillLocation,
    UnavailablePeriod,
)
from app.regions.codes import code_within
from app.regions.geo import bounding_box, flat_distance_margin, flat_scales, haversine_km
from app.regions.models import Region, RegionLevel
from app.tasks import matching
from app.tasks.ledger import hours_since
from app.tasks.matching import WIDENED_REACH_KM, MemberFacts, Suggestion, TaskFacts
from app.tasks.models import (
    Assignment,
    AssignmentStatus,
    ServiceRecord,
    Task,
    TaskMode,
    TaskSession,
    TaskSkill,
    TaskStatus,
)

BATCH = 40          # candidates completed at first; doubled each round while the top may still change
MAX_BATCH = 640
PAGE = 100          # index rows each query hands over first, most promising first (see _sql_bound)
TIE = 5e-6          # deciding what more to read, scores this close count as equal (bounds carry a few
                    # millionths of headroom): a crowd of equal members is not read to its end
DECLINE_MEMORY_DAYS = 30
NO_ID = [0]         # a list of ids that matches nothing (no member, skill or level is 0), for an
                    # empty one: psycopg gives an empty list no type, and PostgreSQL's statement
                    # prepared for a typed list would be prepared (and planned) again for it
INDEX = SkillLocation.__table__   # read through Core: no ORM adaptation per column, per query


def task_facts(task: Task) -> TaskFacts:
    now = local_now()
    names = {ts.skill_id: ts.skill.name for ts in task.skills}
    return TaskFacts(
        remote=task.mode is TaskMode.REMOTE, lat=task.lat, lon=task.lon, radius_km=task.radius_km,
        required={ts.skill_id: ts.min_level for ts in task.skills if ts.required},
        preferred={ts.skill_id: ts.min_level for ts in task.skills if not ts.required},
        demand=task.demand.rank, outdoor=task.outdoor, organization_id=task.organization_id, skill_names=names,
        sessions=tuple((s.starts_at, s.ends_at) for s in task.sessions if not s.cancelled and s.ends_at > now))


def _anchor_skill(facts: TaskFacts) -> int | None:
    """The required skill whose index range to read (the highest minimum level narrows most)."""
    if not facts.required:
        return None
    return max(facts.required, key=lambda s: (facts.required[s], -s))


# --- step 1: the index --------------------------------------------------------------------------

INNER_SHARE = 0.25        # the first box read around an onsite task, as a share of its radius
TALENTS_INNER_KM = 25.0   # the same for the talents a widened search reaches


@dataclass(frozen=True)
class Reach:
    """Where in the index one query looks: around an onsite task (within `within_km` of it, leaving
    out the box of `beyond_km` read before), a remote task's county, or the talents a widened
    search reaches (by distance in the same way, or anywhere); `levels` narrows the anchor skill's
    levels read (None: every level the task accepts; empty: nothing to read here)."""

    kind: str                       # "near", "county" or "talents"
    widen: str | None = None        # for talents: "city" or "province"
    within_km: float | None = None
    beyond_km: float | None = None
    levels: tuple[int, ...] | None = None

    @property
    def widened(self) -> bool:
        return self.kind == "talents"

    def holds(self, facts: TaskFacts, lat: float, lon: float, level: int) -> bool:
        """Whether an index row at (lat, lon) with the anchor at `level` is in this region (the
        place and level conditions of its query, in Python: for tests; `level` 0 when no skill
        anchors the search)."""
        if self.levels is not None and (level not in self.levels if level else not self.levels):
            return False
        if self.within_km is not None and not bounding_box(facts.lat, facts.lon, self.within_km).contains(lat, lon):
            return False
        return self.beyond_km is None or not bounding_box(facts.lat, facts.lon, self.beyond_km).contains(lat, lon)


def _first_tier(facts: TaskFacts, widen: str | None) -> list[Reach]:
    """What is read first: a remote task's county, or the nearest quarter of an onsite task's
    radius (and the talents within TALENTS_INNER_KM of it, when widened)."""
    if facts.remote:
        return [Reach("county")] + ([Reach("talents", widen)] if widen else [])
    first = [Reach("near", within_km=facts.radius_km * INNER_SHARE)]
    return first + ([Reach("talents", widen, within_km=TALENTS_INNER_KM)] if widen else [])


def _further(facts: TaskFacts, judge: matching.QuickJudge, widen: str | None, floor: float | None) -> list[Reach]:
    """The rest of the index an onsite task must read, given `floor`: the score a row must beat to
    make the list (None while it is not full). A row's bound is at most what its anchor level
    allows for everything but distance, plus its distance part; so for each level there is a
    distance beyond which nobody can beat the floor, and only the rows nearer than that (outside
    what the first tier read) are read. The regions are always the same for a kind of task (one
    per level and kind, those with nothing to read asking for no level), so that their query
    keeps one shape."""
    w = matching.WEIGHTS["distance"]
    inner, radius = facts.radius_km * INNER_SHARE, facts.radius_km

    def within(scale: float, base: float) -> float:
        # base + w * (1 - d / scale) > floor  <=>  d < scale * (1 - (floor - base) / w)
        if floor is None:
            return math.inf
        return scale * (1 - (floor - base) / w) * (1 + 1e-9) + 1e-6

    reaches = []
    for levels in _level_groups(judge):
        base = judge.ceiling(levels[-1])
        near, far = within(radius, base), within(WIDENED_REACH_KM, base)
        reaches.append(Reach("near", within_km=min(radius, max(near, inner)), beyond_km=inner,
                             levels=levels if near > inner else ()))
        if widen:
            reaches.append(Reach("talents", widen, within_km=min(WIDENED_REACH_KM, max(far, TALENTS_INNER_KM)),
                                 beyond_km=TALENTS_INNER_KM, levels=levels if far > TALENTS_INNER_KM else ()))
            # Beyond WIDENED_REACH_KM nothing for distance, but maybe enough for the rest.
            reaches.append(Reach("talents", widen, beyond_km=WIDENED_REACH_KM,
                                 levels=levels if far > WIDENED_REACH_KM else ()))
    return reaches


def _level_groups(judge: matching.QuickJudge) -> list[tuple[int, ...]]:
    """The anchor levels to read apart (they differ in how far away they can still make the list);
    one group when no skill anchors the search (levels do not count then)."""
    if judge.anchor is None:
        return [(1, 2, 3)]
    return [(level,) for level in range(3, max(judge.anchor_min, 1) - 1, -1)]


def _city_of(task: Task) -> str | None:
    county = db.session.get(Region, task.region_code)
    city = db.session.get(Region, county.parent_code) if county.parent_code else None
    return city.code if city is not None and city.level is RegionLevel.CITY else None


@dataclass(frozen=True)
class Part:
    """What decides the form of one region's SELECT; the values go in as parameters."""

    kind: str
    boxed: bool           # within a box around the task
    ring: bool            # leaving out an inner box
    city: bool            # talents: those of the task's city too
    anchored: bool        # one required skill is read by its index range
    extra: tuple          # for each other skill of the task: required?
    slots: int            # weekly slots the sessions fall in


@dataclass(frozen=True)
class Shape:
    """What decides the form of an index query: its regions (one SELECT each, in a UNION ALL),
    the page and whether lists go as arrays. Each shape is built and compiled once (and prepared
    by PostgreSQL), however many tasks share it."""

    parts: tuple[Part, ...]
    page: int | None
    array: bool = False   # lists as array parameters (PostgreSQL)


class Binder:
    """Typed parameters of one part of the index query, named apart from the other parts'. (An
    untyped float multiplying an integer column would take the column's type, and PostgreSQL's
    driver would send it as an integer.)"""

    def __init__(self, part: int, array: bool):
        self.prefix, self.array, self.names = f"p{part}_", array, set()

    def __call__(self, name: str, type_=Float):
        self.names.add(self.prefix + name)
        return bindparam(self.prefix + name, type_=type_())

    def one_of(self, column, name: str):
        self.names.add(self.prefix + name)
        return _one_of(column, self.prefix + name, self.array)


def _one_of(column, name: str, array: bool):
    """`column` is one of the integers given as parameter `name`: an array parameter on
    PostgreSQL (`= ANY`), so that neither the SQL nor its prepared plan changes with the list's
    length; an expanding IN elsewhere. An empty list matches nothing."""
    if array:
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, type_=Integer(), expanding=True))


def _arrays() -> bool:
    """Whether lists go to the database as arrays (see _one_of)."""
    return db.engine.dialect.name == "postgresql"


def _talent_rows(s, city) -> list:
    """The approved talents a widened search reaches: province talents (pool_rank 3) for either
    widening, and for a widening to the city (`city`: its code or parameter) the talents approved
    by the task's city. The first condition repeats the predicate of the partial index
    ix_member_skill_index_talents word for word (SQLite uses a partial index only when the query
    spells out its WHERE)."""
    talents = [s.pool_rank >= literal_column("2")]
    if city is None:
        return talents + [s.pool_rank == 3]
    return talents + [or_(s.pool_rank == 3, s.pool_city == city)]


@lru_cache(maxsize=512)
def _statement(shape: Shape) -> tuple:
    """The statement of a shape and the names of its parameters."""
    binders = [Binder(i, shape.array) for i in range(len(shape.parts))]
    selects = [_build(part, p, bounded=shape.page is not None) for part, p in zip(shape.parts, binders, strict=True)]
    statement = selects[0] if len(selects) == 1 else union_all(*selects)
    if shape.page is not None:
        statement = statement.order_by(literal_column("bound").desc(), literal_column("member_id")).limit(shape.page)
    return statement, frozenset().union(*(p.names for p in binders))


def _build(part: Part, p: Binder, *, bounded: bool):
    """One region's SELECT: the anchor skill's rows there that pass the filters SQL can apply
    (capacity, night and outdoor limits, weekly grid and hours), joined to the task's other
    required skills and (left-joined) preferred skills, with the levels QuickJudge needs, whether
    the region is a widened search's, and (`bounded`) _sql_bound(). The index key first: skill,
    the levels accepted (named, so that each band is still a range of its own), then the place;
    cheap tests on index columns next; arithmetic last (SQLite tests conditions in the order
    written)."""
    s = INDEX.alias("s").c
    stmt = select(s.member_id.label("member_id"), s.lat, s.lon, s.radius_km, s.capacity, s.availability_mask,
                  s.limits, s.pool_rank, s.hours_cap, s.level if part.anchored else literal_column("0").label("level"))
    if part.anchored:
        if part.kind == "talents" and not part.boxed:
            # Anywhere in the province: the levels as a range (contiguous; empty when least >
            # most), which a generic plan also keeps in the index condition.
            stmt = stmt.where(s.skill_id == p("skill", Integer), s.level >= p("least", Integer),
                              s.level <= p("most", Integer))
        else:
            stmt = stmt.where(s.skill_id == p("skill", Integer), p.one_of(s.level, "levels"))
    else:   # any skill will do: name them all, so that each (skill, level, band) is still one range
        # Written out: a list of values would be an expanding parameter, which SQL compiled once
        # with $n placeholders (_native_statement) cannot hold.
        levels = [literal_column(str(level)) for level in (1, 2, 3)]
        stmt = stmt.where(p.one_of(s.skill_id, "skills"), s.level.in_(levels)).distinct()
    if part.kind == "county":
        stmt = stmt.where(s.region_code == p("region", String))
    if part.kind == "talents":
        stmt = stmt.where(*_talent_rows(s, p("city", String) if part.city else None))
    if part.boxed:
        stmt = stmt.where(p.one_of(s.band, "bands"), s.lon.between(p("min_lon"), p("max_lon")),
                          s.lat.between(p("min_lat"), p("max_lat")))
    if part.ring:
        stmt = stmt.where(or_(s.lat < p("in_min_lat"), s.lat > p("in_max_lat"),
                              s.lon < p("in_min_lon"), s.lon > p("in_max_lon")))
    # Neutral values (no limit forbidden, 0 hours, nobody skipped) keep the number of shapes small.
    stmt = stmt.where(s.capacity >= p("demand", Integer), s.limits.op("&")(p("forbidden", Integer)) == 0,
                      s.hours_cap >= p("weekly_hours"), ~p.one_of(s.member_id, "skip"))
    if part.slots:
        stmt = stmt.where(s.availability_mask.op("&")(p("needed", Integer)) != 0)
    squared = None
    if part.kind == "near" or (part.kind == "talents" and part.boxed):
        dy, dx = s.lat - p("lat"), s.lon - p("lon")
        squared = dy * dy * p("ky2") + dx * dx * p("kx2")     # geo.flat_km, squared
    if part.kind == "near":
        # The member's own service radius reaches the task, with 2 % to spare (the exact
        # great-circle test follows in Python): keeps far-from-home rows out of Python.
        reach = s.radius_km * 1.02 + 0.1
        stmt = stmt.where(squared <= reach * reach)
    levels = []
    for i, required in enumerate(part.extra):
        # One probe of ix_member_skill_index_member_skill_level per row that passed the rest.
        probe = INDEX.alias(f"o{i}")
        on = and_(probe.c.member_id == s.member_id, probe.c.skill_id == p(f"extra_skill_{i}", Integer),
                  probe.c.level >= p(f"extra_least_{i}", Integer))
        stmt = stmt.join(probe, on) if required else stmt.outerjoin(probe, on)
        stmt = stmt.add_columns(probe.c.level.label(f"extra{i}"))
        levels.append((probe.c.level, required))
    stmt = stmt.add_columns(s.has_facts, literal_column("1" if part.kind == "talents" else "0").label("widened"))
    if bounded:
        stmt = stmt.add_columns(_sql_bound(s, part, p, levels, squared))
    return stmt


def _sql_bound(s, part: Part, p: Binder, levels: list, squared):
    """QuickJudge's bound as SQL, never below it: the same arithmetic rearranged into one constant
    and a few terms, with the flat-earth distance shortened by geo.flat_distance_margin() instead
    of the great-circle one; the parameters come from _bound_params()."""
    total = p("constant")
    held = ([s.level] if part.anchored else []) + [col for col, required in levels if required]
    if held:
        total = total + sum(held[1:], held[0]) * p("per_level")
    preferred = [case((col.is_not(None), 1.0), else_=0.0) for col, required in levels if not required]
    if preferred:
        total = total + sum(preferred[1:], preferred[0]) * p("per_preferred")
    for i in range(part.slots):
        total = total + case((s.availability_mask.op("&")(p(f"slot_bit_{i}", Integer)) != 0, p(f"slot_share_{i}")),
                             else_=0.0)
    total = total + s.pool_rank * p("per_pool_rank")
    if squared is not None:
        d = func.sqrt(squared)
        if part.kind == "talents":      # falls to nothing at WIDENED_REACH_KM (and beyond it: no term)
            total = total + case((d * p("shrink") < WIDENED_REACH_KM, p("w_distance") - d * p("per_km")), else_=0.0)
        else:                           # the member's reach: the smaller of the two radii
            reach = case((s.radius_km < p("radius"), s.radius_km * 1.0), else_=p("radius"))
            total = total - d * p("per_km") / reach
    return total.label("bound")


def _bound_params(facts: TaskFacts, judge: matching.QuickJudge, reach: Reach) -> dict:
    w = matching.WEIGHTS
    constant = judge.constant + 4e-6
    n, n_preferred = len(facts.required), len(facts.preferred)
    keep = 0.85 if n_preferred else 1.0
    params = {"per_level": w["skill"] * keep / (3 * n) if n else 0.0,
              "per_preferred": w["skill"] * 0.15 / n_preferred if n_preferred else 0.0,
              "per_pool_rank": judge.pool_weight}
    if not n:
        constant += w["skill"] * keep * 0.5
    if judge.slots:
        share = w["availability"] / len(facts.sessions)
        for i, (bit, count) in enumerate(judge.slots):
            params[f"slot_bit_{i}"], params[f"slot_share_{i}"] = bit, share * count
    else:
        constant += w["availability"]
    if not facts.remote and (reach.kind == "near" or reach.within_km is not None):
        shrink = 1 - flat_distance_margin(facts.lat, WIDENED_REACH_KM if reach.widened else facts.radius_km)
        if reach.widened:
            params.update(shrink=shrink, w_distance=w["distance"], per_km=w["distance"] * shrink / WIDENED_REACH_KM)
        else:
            constant += w["distance"]
            params.update(radius=float(facts.radius_km), per_km=w["distance"] * shrink)
    params["constant"] = constant
    return params


def _part_params(task: Task, facts: TaskFacts, judge: matching.QuickJudge, reach: Reach, skip: set[int],
                 bounded: bool, city: str | None) -> dict:
    params = {"demand": facts.demand, "forbidden": judge.forbidden_limits, "needed": judge.needed_mask,
              "weekly_hours": judge.weekly_hours, "skip": sorted(skip), "region": task.region_code, "city": city}
    nothing = reach.levels == ()
    if judge.anchor is not None:
        levels = range(max(judge.anchor_min, 1), 4) if reach.levels is None else reach.levels
        params.update(skill=judge.anchor, levels=list(levels), least=min(levels, default=1),
                      most=max(levels, default=0))
    else:
        params["skills"] = [] if nothing else _active_skills()
    for i, (skill_id, least, _) in enumerate(judge.extra):
        params[f"extra_skill_{i}"], params[f"extra_least_{i}"] = skill_id, least
    if not facts.remote:
        ky2, kx2 = flat_scales(facts.lat)
        params.update(lat=facts.lat, lon=facts.lon, ky2=ky2, kx2=kx2)
        if reach.within_km is not None:
            box = bounding_box(facts.lat, facts.lon, reach.within_km)
            params.update(bands=bands_between(box.min_lat, box.max_lat), min_lat=box.min_lat, max_lat=box.max_lat,
                          min_lon=box.min_lon, max_lon=box.max_lon)
        if reach.beyond_km is not None:
            inner = bounding_box(facts.lat, facts.lon, reach.beyond_km)
            params.update(in_min_lat=inner.min_lat, in_max_lat=inner.max_lat, in_min_lon=inner.min_lon,
                          in_max_lon=inner.max_lon)
    if bounded:
        params.update(_bound_params(facts, judge, reach))
    return params


def _index_query(task: Task, facts: TaskFacts, judge: matching.QuickJudge, reaches: list[Reach], skip: set[int],
                 page: int | None, city: str | None = None):
    """The statement and parameters of one index query over `reaches` (a UNION ALL when several);
    `city`: the task's city (for a search widened to the city)."""
    return _executable(*_index_shape(task, facts, judge, reaches, skip, page, city))


def _executable(shape: Shape, params: dict) -> tuple:
    """A shape's statement and, of `params`, the values it takes, for SQLAlchemy to run."""
    statement, names = _statement(shape)
    return statement, {name: params[name] for name in names}


def _index_shape(task: Task, facts: TaskFacts, judge: matching.QuickJudge, reaches: list[Reach], skip: set[int],
                 page: int | None, city: str | None) -> tuple[Shape, dict]:
    """The shape of one index query and the values of its parameters (see _index_query)."""
    parts, params = [], {}
    for i, reach in enumerate(reaches):
        here = city if reach.widened and reach.widen == "city" else None
        parts.append(Part(kind=reach.kind, boxed=reach.within_km is not None, ring=reach.beyond_km is not None,
                          city=here is not None, anchored=judge.anchor is not None,
                          extra=tuple(required for _, _, required in judge.extra), slots=len(judge.slots)))
        values = _part_params(task, facts, judge, reach, skip, page is not None, here)
        params.update((f"p{i}_{name}", (value or NO_ID) if isinstance(value, list) else value)
                      for name, value in values.items())
    return Shape(tuple(parts), page, array=_arrays()), params


def _read_index(shape: Shape, params: dict) -> list[tuple]:
    """The rows of an index query. On PostgreSQL the statement goes to the driver as compiled once
    (_native_statement) with its values in order: SQLAlchemy would work out the statement's cache
    key and process each of its parameters at every run, and psycopg, which caches its own
    rewriting of `%(name)s` placeholders only for statements under 4 KB and 50 parameters, would
    rewrite a widened search's (10 KB, 325 parameters) every time: 1-2 ms of a widened search went
    to that. SQLite's reads go through SQLAlchemy. (A failing read raises psycopg's own error, not
    SQLAlchemy's wrapper of it; the request's rollback and the pool's pre-ping handle it as any.)"""
    connection = _connection()
    if not shape.array:
        return connection.execute(*_executable(shape, params)).all()
    sql, order, literals = _native_statement(shape)
    with psycopg.RawCursor(connection.connection.dbapi_connection) as cursor:
        cursor.execute(sql, [params[name] if name in params else literals[name] for name in order])
        return cursor.fetchall()


@lru_cache(maxsize=512)
def _native_statement(shape: Shape) -> tuple[str, tuple[str, ...], dict]:
    """A PostgreSQL shape's SQL with PostgreSQL's own $1, $2 … placeholders (psycopg's RawCursor
    sends it as it is), the parameter names in their order, and the values of the literals
    SQLAlchemy made parameters of. The parameters are plain numbers, strings and lists of
    integers, which SQLAlchemy would pass on unchanged."""
    statement, names = _statement(shape)
    compiled = statement.compile(dialect=_numbered_dialect())
    literals = {name: compiled.binds[name].value for name in compiled.positiontup if name not in names}
    return compiled.string, tuple(compiled.positiontup), literals


@lru_cache(maxsize=1)
def _numbered_dialect():
    """The engine's dialect class with numbered placeholders, for compiling only: it never
    connects, so it knows no server version, which none of these SELECTs depends on (the test of
    _read_index compares its rows with those SQLAlchemy's own run reads)."""
    return type(db.engine.dialect)(paramstyle="numeric_dollar")


def _active_skills() -> list[int]:
    return list(db.session.scalars(select(Skill.id).where(Skill.active).order_by(Skill.id)))


class Search:
    """One task's search: the index rows read so far (and which of them a widened search reached),
    the members judged with every fact, and the best of them."""

    def __init__(self, task: Task, facts: TaskFacts, judge: matching.QuickJudge, skip: set[int], limit: int,
                 city: str | None = None):
        self.task, self.facts, self.judge, self.skip, self.limit = task, facts, judge, skip, limit
        self.city = city      # the task's city, when the search is widened to the city
        self.rows: dict[int, tuple] = {}
        self.bounds: dict[int, tuple[float, tuple]] = {}   # (bound, row) of the rows QuickJudge passed
        self.widened: set[int] = set()
        self.judged: dict[int, Suggestion | None] = {}     # None: excluded by a fact outside the index
        self.members: dict[int, MemberFacts] = {}          # the facts each judged member was scored on
        self.best: list[Suggestion] = []

    def floor(self) -> float | None:
        """The score a member must beat (by more than TIE) to make the list; None while it is not full."""
        return self.best[self.limit - 1].score + TIE if len(self.best) >= self.limit else None

    def short(self, bound: float) -> bool:
        floor = self.floor()
        return floor is None or bound > floor

    def take(self, reaches: list[Reach]) -> None:
        """Read regions (in one query), most promising rows first, until no unread row could make
        the list. While the list is not full, rank the members known exactly from the index (the
        floor they give sizes the regions read next, without another read); the caller ranks
        everyone once at the end. A floor lower than the final one only makes reads err on the
        side of reading more."""
        if all(reach.levels == () for reach in reaches):
            return      # nothing left that could make the list
        for page in (PAGE, PAGE * 10, None):
            unread = self.read(reaches, page)
            if self.floor() is None:
                self.rank(index_only=True)
            if unread is None or not self.short(unread):
                return

    def read(self, reaches: list[Reach], page: int | None) -> float | None:
        """Read regions; with `page`, the highest bound an unread row of them could have (None
        when nothing was left unread)."""
        found = _read_index(*_index_shape(self.task, self.facts, self.judge, reaches, self.skip, page, self.city))
        width = 11 + len(self.judge.extra)       # … the anchor's level, other levels, has_facts
        new = []
        for row in found:       # by position: a Row's slice is a tuple, and no lookup by name per row
            member_id = row[0]
            if member_id not in self.rows:
                self.rows[member_id] = known = row[:width]
                new.append(known)
            if row[width] and member_id not in self.widened:      # the widened column
                self.widened.add(member_id)
                self.judged.pop(member_id, None)     # judged as a neighbour before: now as a talent
                self.bounds.pop(member_id, None)
                new.append(self.rows[member_id])
        # Each row is bounded once (again only when it turns out to be a talent's).
        self.bounds.update((row[0], (bound, row))
                           for bound, row in self.judge.bounds(new, widened=self.widened, skip=self.skip))
        return found[-1][width + 1] if page is not None and len(found) == page else None   # its bound

    def rank(self, *, index_only: bool = False) -> None:
        """Score the rows not judged yet in order of their bound, in growing batches, until no
        bound left can beat the list. A row without has_facts is scored from the index row alone
        (its bound is its score); the others are completed from the database first, unless
        `index_only`: then they wait, and the list (and its floor) is that of the members already
        known exactly, which only a later full rank can raise."""
        # The list only gets better: a row that cannot reach its last score now never will. (Rows
        # read that could tie it are judged, so that ties go as the pure ranking breaks them.)
        last = self.best[-1].score if len(self.best) >= self.limit else None
        fresh = [(bound, row) for bound, row in self.bounds.values()
                 if row[0] not in self.judged and (last is None or bound >= last)
                 and not (index_only and row[-1])]
        fresh.sort(key=lambda pair: (-pair[0], pair[1][0]))
        best = [s for s in self.judged.values() if s is not None]
        start, size = 0, BATCH
        while True:
            best.sort(key=lambda s: (-s.score, s.distance_km if s.distance_km is not None else 1e9, s.member_id))
            best = best[:self.limit]
            if start >= len(fresh) or (len(best) >= self.limit and fresh[start][0] < best[-1].score):
                break   # nobody left can reach the list
            batch = [(row[-1], _partial_facts(row, self.judge, self.widened)) for _, row in fresh[start:start + size]]
            loaded = [m for has_facts, m in batch if has_facts]
            for m in [m for has_facts, m in batch if not has_facts] + (
                    _complete(self.task, self.facts, loaded) if loaded else []):
                ok = matching.exclusion(self.facts, m) is None
                self.judged[m.member_id] = suggestion = matching.score(self.facts, m, explain=False) if ok else None
                if suggestion is not None:
                    self.members[m.member_id] = m
                    best.append(suggestion)
            start, size = start + size, min(size * 2, MAX_BATCH)
        self.best = best


def _partial_facts(row: tuple, judge: matching.QuickJudge, widened: set[int]) -> MemberFacts:
    member_id, lat, lon, radius_km, capacity, mask, limits, pool_rank, hours_cap, level = row[:10]
    skills = {judge.anchor: level} if judge.anchor is not None else {}
    skills.update((skill_id, lv) for (skill_id, _, _), lv in zip(judge.extra, row[10:10 + len(judge.extra)],
                                                                  strict=True) if lv is not None)
    return MemberFacts(member_id=member_id, lat=lat, lon=lon, radius_km=radius_km, skills=skills,
                       widened=member_id in widened, capacity=capacity, availability_mask=mask,
                       no_night=bool(limits & 1), no_outdoor=bool(limits & 2), pool_rank=pool_rank,
                       max_hours_week=hours_cap if hours_cap < NO_HOURS_CAP else None)


# --- step 2: the rest of the facts, for the few that may make the top ---------------------------


BLOCKED, SESSIONS, ASSIGNMENTS, TASKS, RECORDS = (
    UnavailablePeriod.__table__.c, TaskSession.__table__.c, Assignment.__table__.c, Task.__table__.c,
    ServiceRecord.__table__.c)


@lru_cache(maxsize=2)
def _completion_statement(array: bool):
    """The one read of _complete(), built once: a UNION ALL of the members' assignments (with the
    sessions of the accepted ones that overlap the task), their blocked dates in the task's span
    and their recent hours, told apart by the first column."""
    first, last = bindparam("first", type_=DateTime()), bindparam("last", type_=DateTime())
    clashing = and_(SESSIONS.task_id == ASSIGNMENTS.task_id, ASSIGNMENTS.status == AssignmentStatus.ACCEPTED,
                    ASSIGNMENTS.task_id != bindparam("task_id", type_=Integer()), ~SESSIONS.cancelled,
                    SESSIONS.ends_at > first, SESSIONS.starts_at < last)
    # Whose task a refusal was for: looked up for refusals only (a few rows), not joined for all.
    organization = case((ASSIGNMENTS.status == AssignmentStatus.DECLINED,
                         select(TASKS.organization_id).where(TASKS.id == ASSIGNMENTS.task_id).scalar_subquery()))
    no_date, no_time, no_number = cast(null(), Date), cast(null(), DateTime), cast(null(), Float)
    assignments = (
        select(literal_column("1").label("kind"), ASSIGNMENTS.member_id, ASSIGNMENTS.status, ASSIGNMENTS.task_id,
               ASSIGNMENTS.updated_at, organization.label("organization_id"), SESSIONS.starts_at, SESSIONS.ends_at,
               no_date.label("start_date"), no_date.label("end_date"), no_number.label("hours"))
        .select_from(Assignment.__table__).outerjoin(TaskSession.__table__, clashing)
        .where(_one_of(ASSIGNMENTS.member_id, "ids", array), ASSIGNMENTS.status.in_(
            [AssignmentStatus.INVITED, AssignmentStatus.DECLINED, AssignmentStatus.ACCEPTED])))
    blocked = select(literal_column("2"), BLOCKED.member_id, null(), null(), no_time, null(), no_time, no_time,
                     BLOCKED.start_date, BLOCKED.end_date, no_number).where(
        _one_of(BLOCKED.member_id, "ids", array), BLOCKED.end_date >= bindparam("first_day", type_=Date()),
        BLOCKED.start_date <= bindparam("last_day", type_=Date()))
    hours = select(literal_column("3"), RECORDS.member_id, null(), null(), no_time, null(), no_time, no_time, no_date,
                   no_date, cast(func.sum(RECORDS.hours), Float)).where(
        _one_of(RECORDS.member_id, "ids", array), RECORDS.attended,
        RECORDS.served_on >= bindparam("since", type_=Date())).group_by(RECORDS.member_id)
    return union_all(assignments, blocked, hours)


def _complete(task: Task, facts: TaskFacts, partial: list[MemberFacts]) -> list[MemberFacts]:
    """Add what the index does not carry: blocked dates, clashes with accepted tasks, open
    invitations, recent refusals of this organization and recent hours, in one read. The skills a
    task asks for came with the index rows."""
    ids = [m.member_id for m in partial]
    first = min((s for s, _ in facts.sessions), default=local_now())
    last = max((e for _, e in facts.sessions), default=first)
    busy: dict[int, list] = defaultdict(list)
    blocked: dict[int, list] = defaultdict(list)
    pending: dict[int, int] = defaultdict(int)
    declined: set[int] = set()
    hours: dict[int, float] = {}
    recently = _utc_days_ago(DECLINE_MEMORY_DAYS)
    params = {"ids": ids, "task_id": task.id, "first": first, "last": last, "first_day": first.date(),
              "last_day": last.date(), "since": local_today() - timedelta(days=DECLINE_MEMORY_DAYS)}
    for row in _connection().execute(_completion_statement(_arrays()), params):
        kind, member_id = int(row.kind), row.member_id
        if kind == 2:
            blocked[member_id].append((row.start_date, row.end_date))
        elif kind == 3:
            hours[member_id] = float(row.hours or 0)
        elif row.status is AssignmentStatus.INVITED:
            pending[member_id] += 1
        elif row.status is AssignmentStatus.DECLINED:
            if row.organization_id == task.organization_id and row.task_id != task.id and row.updated_at >= recently:
                declined.add(member_id)
        elif row.starts_at is not None:
            busy[member_id].append((row.starts_at, row.ends_at))
    return [replace(m, unavailable=tuple(blocked.get(m.member_id, ())),
                    busy=tuple(busy.get(m.member_id, ())), open_invitations=pending.get(m.member_id, 0),
                    declined_org_recently=m.member_id in declined, hours_30d=hours.get(m.member_id, 0.0))
            for m in partial]


def _connection():
    """The session's connection for Core reads, after the flush the ORM would have done first."""
    db.session.flush()
    return db.session.connection()


def _utc_days_ago(days: int):
    return utcnow() - timedelta(days=days)


def suggest(task: Task, *, limit: int = 20, widen: str | None = None) -> list[Suggestion]:
    """The best members for a task, best first, each with its reasons: the nearest part of the
    index first, then as much more as could still change the list."""
    facts = task_facts(task)
    judge = matching.QuickJudge(facts, _anchor_skill(facts))
    widen = widen if widen is not None else task.widen_to
    search = Search(task, facts, judge, {a.member_id for a in task.assignments}, limit,
                    city=_city_of(task) if widen == "city" else None)
    with generic_plans(_connection()):
        search.take(_first_tier(facts, widen))
        if not facts.remote:
            search.take(_further(facts, judge, widen, search.floor()))
        search.rank()
    # Members were compared on scores alone; the list shown says why, each member scored once more.
    return [matching.score(facts, search.members[s.member_id]) for s in search.best]


# --- single members: invitations and the member's own view --------------------------------------


def member_facts(member: MemberProfile, task: Task | None = None) -> MemberFacts:
    """Every fact about one member (for checking an invitation, or their own list of tasks)."""
    partial = MemberFacts(
        member_id=member.id, lat=member.lat, lon=member.lon, radius_km=member.service_radius_km,
        skills={s.skill_id: s.level for s in member.skills if s.skill.active},
        capacity=(member.capacity.rank if member.capacity else 1), availability_mask=member.availability_mask,
        consent=member.has_consent, active=member.status.value == "active", no_night=member.no_night,
        no_outdoor=member.no_outdoor, max_hours_week=member.max_hours_week, pool_rank=member.pool_rank)
    if task is None:
        return partial
    facts = task_facts(task)
    complete = _complete(task, facts, [partial])[0]
    on_task = db.session.scalar(select(Assignment.id).where(Assignment.task_id == task.id,
                                                            Assignment.member_id == member.id)) is not None
    return replace(complete, on_task=on_task)


def why_not(task: Task, member: MemberProfile) -> str | None:
    """Why this member cannot be invited to this task now (Chinese), or None."""
    facts = task_facts(task)
    widened = bool(task.widen_to) and db.session.scalar(
        select(INDEX.c.member_id).where(*_talent_rows(INDEX.c, _city_of(task) if task.widen_to == "city" else None),
                                        INDEX.c.member_id == member.id).limit(1)) is not None
    m = replace(member_facts(member, task), widened=widened)
    return matching.exclusion(facts, m)


def reasons_for(task: Task, member: MemberProfile) -> str:
    return matching.score(task_facts(task), member_facts(member, task)).reason_text


def _own_context(member: MemberProfile) -> tuple[MemberFacts, set[int]]:
    """One member's facts for judging many tasks at once, and the organizations they declined lately."""
    now = local_now()
    facts = member_facts(member)
    blocked = tuple((p.start_date, p.end_date) for p in member.unavailable if p.end_date >= now.date())
    busy = tuple(db.session.execute(select(TaskSession.starts_at, TaskSession.ends_at)
                                    .join(Assignment, Assignment.task_id == TaskSession.task_id).where(
        Assignment.member_id == member.id, Assignment.status == AssignmentStatus.ACCEPTED,
        ~TaskSession.cancelled, TaskSession.ends_at > now)).all())
    pending = db.session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.member_id == member.id, Assignment.status == AssignmentStatus.INVITED))
    declined = set(db.session.scalars(select(Task.organization_id).join(Assignment, Assignment.task_id == Task.id).where(
        Assignment.member_id == member.id, Assignment.status == AssignmentStatus.DECLINED,
        Assignment.updated_at >= _utc_days_ago(DECLINE_MEMORY_DAYS))))
    hours = hours_since([member.id], local_today() - timedelta(days=DECLINE_MEMORY_DAYS)).get(member.id, 0.0)
    return replace(facts, unavailable=blocked, busy=busy, open_invitations=pending,
                   hours_30d=hours), declined


def _widened_reach(member: MemberProfile):
    """Which widened tasks reach this member (the mirror of _talent_rows): tasks widened to the
    city, in the cities whose pool approved them, and any widened task for a province talent."""
    approved = [e for e in member.pool_entries if e.status is EntryStatus.APPROVED]
    if any(e.level is PoolLevel.PROVINCE for e in approved):
        return Task.widen_to.is_not(None)
    cities = [e.region_code for e in approved if e.level is PoolLevel.CITY]
    if not cities:
        return None
    return and_(Task.widen_to == "city", code_within(Task.region_code, [c[:4] for c in cities]))


def tasks_near(member: MemberProfile, *, limit: int = 20) -> list[tuple[Suggestion, Task]]:
    """Open tasks a member could take, best-fitting and nearest first ("tasks near me"): the same
    hard filters and score as the organizer's list, seen from the member's side."""
    box = bounding_box(member.lat, member.lon, member.service_radius_km)
    onsite = select(Task.id).where(Task.status == TaskStatus.OPEN, Task.lat.between(box.min_lat, box.max_lat),
                                   Task.lon.between(box.min_lon, box.max_lon))
    county = db.session.get(Region, member.region_code)
    remote = select(Task.id).where(Task.status == TaskStatus.OPEN, Task.mode == TaskMode.REMOTE,
                                   Task.region_code.in_([member.region_code, county.parent_code or ""]))
    ids = set(db.session.scalars(onsite)) | set(db.session.scalars(remote))
    reach = _widened_reach(member)   # widened tasks reach approved city and province talents further away
    widened_ids = set(db.session.scalars(select(Task.id).where(Task.status == TaskStatus.OPEN, reach))) \
        if reach is not None else set()
    ids |= widened_ids
    if not ids:
        return []
    ids -= set(db.session.scalars(select(Assignment.task_id).where(Assignment.member_id == member.id,
                                                                   Assignment.task_id.in_(ids))))
    base, declined = _own_context(member)
    results = []
    # Only what matching reads (a task's assignments are not needed here), and only the tasks whose
    # skills, demand and setting the member meets: the database drops the rest before they load.
    query = select(Task).where(Task.id.in_(ids), *_within_means(base)).options(lazyload(Task.assignments))
    for task in db.session.scalars(query).all():
        facts = task_facts(task)
        m = replace(base, declined_org_recently=task.organization_id in declined)
        if task.id in widened_ids:
            m = replace(m, widened=True)
        if matching.exclusion(facts, m) is None:
            results.append((matching.score(facts, m), task))
    results.sort(key=lambda pair: (-pair[0].score, pair[0].distance_km or 0, pair[1].id))
    return results[:limit]


def _within_means(m: MemberFacts) -> list:
    """Conditions on Task that the hard filters would impose anyway for this member: every required
    skill held at its level, a demand within their capacity, no outdoor work if they said so."""
    held = or_(*[and_(TaskSkill.skill_id == skill_id, TaskSkill.min_level <= level)
                 for skill_id, level in m.skills.items()]) if m.skills else literal(False)
    conditions = [~exists().where(TaskSkill.task_id == Task.id, TaskSkill.required, ~held),
                  Task.demand.in_([c for c in Capacity if c.rank <= m.capacity])]
    if m.no_outdoor:
        conditions.append(~Task.outdoor)
    return conditions


def distance_between(task: Task, member: MemberProfile) -> float | None:
    if task.lat is None:
        return None
    return haversine_km(task.lat, task.lon, member.lat, member.lon)
