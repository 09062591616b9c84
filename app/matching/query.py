"""The index query (SQL): the rows of the task's anchor skill at the levels it accepts in the
latitude bands its box crosses (or its county, for a remote task), joined to the task's other skills
by a covering probe, filtered on the cheap facts the index carries and ordered by an upper bound on
the score computed by the database (the Terms of app.matching.bound, as SQL), so that each query
hands over only its most promising rows. Read through Core, every statement built once per shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    cast,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import TypeEngine

from app.extensions import db
from app.matching.bound import QuickJudge, sql_bound, sql_bound_params
from app.matching.facts import TaskFacts
from app.matching.gather import FACT_TYPES, SPAN_PARAMETERS, completion_params, completion_selects
from app.matching.reads import arrays, connection, native, one_of, read_native
from app.matching.regions import Reach
from app.members.index import bands_between
from app.members.models import Skill, SkillLocation
from app.regions.geo import bounding_box, flat_scales
from app.tasks.models import Task

NO_ID = [0]         # a list of ids that matches nothing (no member, skill or level is 0), for an
                    # empty one: psycopg gives an empty list no type, and PostgreSQL's statement
                    # prepared for a typed list would be prepared (and planned) again for it
INDEX = SkillLocation.__table__   # read through Core: no ORM adaptation per column, per query


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
    facts: bool = False   # the completion rows of the most promising members come along (with_facts)


class Binder:
    """Typed parameters of one part of the index query, named apart from the other parts'. (An
    untyped float multiplying an integer column would take the column's type, and PostgreSQL's
    driver would send it as an integer.)"""

    def __init__(self, part: int, array: bool):
        self.prefix, self.array = f"p{part}_", array
        self.names: set[str] = set()

    def __call__(self, name: str, type_: type[TypeEngine[Any]] = Float) -> BindParameter[Any]:
        self.names.add(self.prefix + name)
        return bindparam(self.prefix + name, type_=type_())

    def one_of(self, column: Any, name: str) -> ColumnElement[bool]:
        self.names.add(self.prefix + name)
        return one_of(column, self.prefix + name, self.array)


def talent_rows(s: Any, city: Any) -> list[ColumnElement[bool]]:
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
def _statement(shape: Shape) -> tuple[Any, frozenset[str]]:
    """The statement of a shape and the names of its parameters."""
    binders = [Binder(i, shape.array) for i in range(len(shape.parts))]
    selects = [_build(part, p, bounded=shape.page is not None) for part, p in zip(shape.parts, binders, strict=True)]
    statement: Any = selects[0] if len(selects) == 1 else union_all(*selects)
    names = frozenset(name for p in binders for name in p.names)
    if shape.page is not None:
        statement = statement.order_by(literal_column("bound").desc(), literal_column("member_id")).limit(shape.page)
        if shape.facts:
            return with_facts(statement), names | frozenset(SPAN_PARAMETERS)
    return statement, names


PREFETCH = 40       # the index rows (of the highest bounds) whose members' completion rows come along:
                    # search.BATCH, the rows a search completes first
FACT_COLUMNS = 10   # the columns a row of with_facts() has after the index row's: kind and FactRow's others
COVERED = 4         # the kind of a row saying that its member's completion rows came along


def with_facts(statement: Any) -> Any:
    """An index read (ordered by bound, with its page) that brings along the completion rows
    (gather.completion_selects) of the members of its PREFETCH first rows who may have any
    (has_facts), so that a search has what it needs to score them without another round trip.
    Each row is an index row's columns, then FACT_COLUMNS more: kind 0 and nothing else for an
    index row; for a completion row its member, nothing else of the index row, its kind and the
    rest of its columns; and one row of kind COVERED for each member whose rows came along."""
    index = statement.cte("idx")
    first = select(index.c.member_id, index.c.has_facts).order_by(
        index.c.bound.desc(), index.c.member_id).limit(PREFETCH).subquery("first")
    want = select(first.c.member_id).where(first.c.has_facts).cte("want")
    blanks = [null() for _ in list(index.c)[1:]]

    def lead(kind: Any, member: Any) -> list[Any]:
        return [member, *blanks, kind]

    rows = select(*index.c, literal_column("0", Integer).label("kind"), *(cast(null(), t) for t in FACT_TYPES))
    covered = select(want.c.member_id, *blanks, literal_column(str(COVERED)), *(null() for _ in FACT_TYPES))
    among = select(want.c.member_id)
    return union_all(rows, *completion_selects(lambda column: column.in_(among), lead), covered)


def _build(part: Part, p: Binder, *, bounded: bool):
    """One region's SELECT: the anchor skill's rows there that pass the filters SQL can apply
    (capacity, night and outdoor limits, weekly grid and hours), joined to the task's other
    required skills and (left-joined) preferred skills, with the levels QuickJudge needs, whether
    the region is a widened search's, and (`bounded`) bound.sql_bound(). The index key first: skill,
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
        every_level: list[Any] = [literal_column(str(level)) for level in (1, 2, 3)]
        stmt = stmt.where(p.one_of(s.skill_id, "skills"), s.level.in_(every_level)).distinct()
    if part.kind == "county":
        stmt = stmt.where(s.region_code == p("region", String))
    if part.kind == "talents":
        stmt = stmt.where(*talent_rows(s, p("city", String) if part.city else None))
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
    levels: list[tuple[Any, bool]] = []
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
        stmt = stmt.add_columns(sql_bound(p, s, anchored=part.anchored, talents=part.kind == "talents",
                                          slots=part.slots, levels=levels, squared=squared))
    return stmt


def _part_params(task: Task, facts: TaskFacts, judge: QuickJudge, reach: Reach, skip: set[int],
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
    if not facts.remote and facts.lat is not None and facts.lon is not None:
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
        params.update(sql_bound_params(judge.terms, facts, widened=reach.widened,
                                       distance=reach.kind == "near" or reach.within_km is not None))
    return params


def index_query(task: Task, facts: TaskFacts, judge: QuickJudge, reaches: list[Reach], skip: set[int],
                 page: int | None, city: str | None = None, *, prefetch: bool = False):
    """The statement and parameters of one index query over `reaches` (a UNION ALL when several);
    `city`: the task's city (for a search widened to the city)."""
    return executable(*index_shape(task, facts, judge, reaches, skip, page, city, prefetch=prefetch))


def executable(shape: Shape, params: dict) -> tuple:
    """A shape's statement and, of `params`, the values it takes, for SQLAlchemy to run."""
    statement, names = _statement(shape)
    return statement, {name: params[name] for name in names}


def index_shape(task: Task, facts: TaskFacts, judge: QuickJudge, reaches: list[Reach], skip: set[int],
                 page: int | None, city: str | None, *, prefetch: bool = False) -> tuple[Shape, dict]:
    """The shape of one index query and the values of its parameters (see index_query); with
    `prefetch` (and a page), the completion rows of its most promising members come along
    (with_facts)."""
    parts: list[Part] = []
    params: dict[str, Any] = {}
    for i, reach in enumerate(reaches):
        here = city if reach.widened and reach.widen == "city" else None
        parts.append(Part(kind=reach.kind, boxed=reach.within_km is not None, ring=reach.beyond_km is not None,
                          city=here is not None, anchored=judge.anchor is not None,
                          extra=tuple(required for _, _, required in judge.extra), slots=len(judge.slots)))
        values = _part_params(task, facts, judge, reach, skip, page is not None, here)
        params.update((f"p{i}_{name}", (value or NO_ID) if isinstance(value, list) else value)
                      for name, value in values.items())
    prefetch = prefetch and page is not None
    if prefetch:
        params.update(completion_params(task, facts))
    return Shape(tuple(parts), page, array=arrays(), facts=prefetch), params


def read_index(shape: Shape, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    """The rows of an index query. On PostgreSQL the statement goes to the driver as compiled once
    (reads.native) with its values in order: SQLAlchemy would work out the statement's cache
    key and process each of its parameters at every run, and psycopg, which caches its own
    rewriting of `%(name)s` placeholders only for statements under 4 KB and 50 parameters, would
    rewrite a widened search's (10 KB, 325 parameters) every time: 1-2 ms of a widened search went
    to that. SQLite's reads go through SQLAlchemy."""
    if not shape.array:
        return connection().execute(*executable(shape, params)).all()
    return read_native(_native_statement(shape), params)


@lru_cache(maxsize=512)
def _native_statement(shape: Shape) -> tuple[str, tuple[str, ...], dict]:
    """A PostgreSQL shape's SQL as reads.native() compiles it."""
    return native(*_statement(shape))


def _active_skills() -> list[int]:
    return list(db.session.scalars(select(Skill.id).where(Skill.active).order_by(Skill.id)))
