"""The score's upper bound from an index row (step one of matching at scale).

An index row carries the place, radius, capacity, weekly grid, limits, weekly-hours cap, pool level
and the levels of the task's skills; every other fact (recent hours, open invitations, refusals,
blocked dates, clashes) is taken at its most favourable, which turns app.matching.score.score()
into a linear form over the row: `Terms`. Both the tight Python loop here (`QuickJudge.bounds`)
and the SQL bound the database computes (app.matching.query) take their coefficients from Terms,
so that the bound is written once (sql_bound() here is its SQL form); property tests hold it to score() (never below it, and equal to
it when no fact outside the index counts) and the SQL bound to it (never below).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Integer, case, func

from app.clock import period_of
from app.matching.facts import WIDENED_REACH_KM, TaskFacts
from app.matching.score import (
    MIN_REACH_KM,
    NO_REQUIRED_FIT,
    PREFERRED_SHARE,
    REMOTE_DISTANCE,
    TOP_LEVEL,
    WEIGHTS,
)
from app.members.models import slot_bit
from app.regions.geo import EARTH_RADIUS_KM, flat_distance_margin

HEADROOM = 1e-6        # added to every bound: float arithmetic in another order never puts it below the score
SQL_HEADROOM = 4 * HEADROOM   # the SQL bound's own, instead: never below QuickJudge's
NIGHT, OUTDOOR = 1, 2  # the index's `limits` bits


class IndexRow(NamedTuple):
    """One row of the skill-location index as matching reads it (the columns of app.matching.query's
    SELECT, in order, named once here)."""

    member_id: int
    lat: float
    lon: float
    radius_km: float
    capacity: int
    availability_mask: int
    limits: int
    pool_rank: int
    hours_cap: int
    level: int                            # of the anchor skill (0 when no skill anchors the search)
    extra: tuple[int | None, ...] = ()    # the level of each of QuickJudge.extra, None where not held
    has_facts: bool = False               # the member may have facts outside the index
    widened: bool = False                 # read by a widened search's region
    bound: float | None = None            # the database's bound, when the query computed one

    @classmethod
    def read(cls, raw: Sequence[Any], extras: int) -> IndexRow:
        """An index row from a row of the query's result, whose columns are: the fields up to
        `level`, `extras` levels, has_facts, widened and (optionally) the bound."""
        end = 10 + extras
        return cls._make((*raw[:10], tuple(raw[10:end]), bool(raw[end]), bool(raw[end + 1]),
                          raw[end + 2] if len(raw) > end + 2 else None))


@dataclass(frozen=True)
class Terms:
    """score() at its most favourable for a task, as a linear form over an index row:

    constant + per_level × (levels of the required skills) + per_preferred × (preferred skills held)
    + Σ share of each slot in the member's grid + per_pool_rank × pool_rank + the distance part
    (w_distance × (1 − d / reach), or w_distance × REMOTE_DISTANCE folded into `constant`)."""

    constant: float
    per_level: float
    per_preferred: float
    slots: tuple[tuple[int, float], ...]    # (weekly slot bit, share of the availability weight)
    per_pool_rank: float
    w_distance: float
    onsite: bool

    @classmethod
    def of(cls, task: TaskFacts) -> Terms:
        w = WEIGHTS
        n, n_preferred = len(task.required), len(task.preferred)
        keep = 1 - PREFERRED_SHARE if n_preferred else 1.0
        constant = w["fairness"]                         # no recent hours
        if not n:
            constant += w["skill"] * keep * NO_REQUIRED_FIT
        if not task.onsite:
            constant += w["distance"] * REMOTE_DISTANCE
        counts: dict[int, int] = {}
        for start, _ in task.sessions:
            bit = slot_bit(start.weekday(), period_of(start))
            counts[bit] = counts.get(bit, 0) + 1
        if not counts:
            constant += w["availability"]
        share = w["availability"] / len(task.sessions) if task.sessions else 0.0
        return cls(constant=constant, per_level=w["skill"] * keep / (TOP_LEVEL * n) if n else 0.0,
                   per_preferred=w["skill"] * PREFERRED_SHARE / n_preferred if n_preferred else 0.0,
                   slots=tuple((bit, share * count) for bit, count in counts.items()),
                   per_pool_rank=w["pool"] / 3 if task.specialist else 0.0, w_distance=w["distance"],
                   onsite=task.onsite)


class QuickJudge:
    """From an index row, the hard filters the row's facts decide and the bound (Terms) on the
    score. Agrees with exclusion() and score(): a member it drops is excluded, and no member scores
    above its bound (both property-tested). Plain arithmetic: it runs over thousands of index rows.

    `anchor` is the required skill whose index range is read; `extra` the task's other skills, in
    the order of IndexRow.extra: (skill id, least level, required?)."""

    def __init__(self, task: TaskFacts, anchor: int | None = None):
        self.task = task
        self.terms = Terms.of(task)
        self.anchor = anchor
        self.anchor_min = task.required.get(anchor, 0) if anchor is not None else 0
        others = sorted(s for s in task.required if s != anchor)
        self.extra = [(s, task.required[s], True) for s in others] + \
                     [(s, task.preferred[s], False) for s in sorted(task.preferred)]
        self.slots = self.terms.slots
        self.needed_mask = sum(bit for bit, _ in self.slots)
        self.weekly_hours = task.weekly_hours
        self.forbidden_limits = (NIGHT if task.evening else 0) | (OUTDOOR if task.outdoor else 0)

    def ceiling(self, level: int) -> float:
        """The highest bound of any row whose anchor skill is at `level`, distance apart: every
        other skill at its top level, every session free, the highest pool."""
        terms, n = self.terms, len(self.task.required)
        levels = (min(level, TOP_LEVEL) + TOP_LEVEL * (n - 1)) if self.anchor is not None else TOP_LEVEL * n
        return (terms.constant + terms.per_level * levels + terms.per_preferred * len(self.task.preferred)
                + sum(share for _, share in terms.slots) + terms.per_pool_rank * 3 + HEADROOM)

    def row_of(self, *, lat: float, lon: float, radius_km: float, capacity: int, availability_mask: int,
               limits: int, pool_rank: int, skills: dict[int, int], hours_cap: int = 168,
               member_id: int = 0) -> IndexRow:
        """The index row a member with these facts would have for this task (for tests and single
        members)."""
        level = skills.get(self.anchor, 0) if self.anchor is not None else 0
        extra = tuple(skills.get(s) if skills.get(s, 0) >= least else None for s, least, _ in self.extra)
        return IndexRow(member_id, lat, lon, radius_km, capacity, availability_mask, limits, pool_rank, hours_cap,
                        level, extra)

    def __call__(self, *, widened: bool = False, **facts: Any) -> float | None:
        judged = self.bounds([self.row_of(**facts)], widened={0} if widened else ())
        return judged[0][0] if judged else None

    def bounds(self, rows: Iterable[IndexRow], *, widened: Collection[int] = (),
               skip: Collection[int] = ()) -> list[tuple[float, IndexRow]]:
        """(bound, row) for every row that passes; members in `skip` are left out. One tight loop
        (a query reads thousands of rows): Terms and haversine_km(), written out."""
        task, terms = self.task, self.terms
        onsite = terms.onsite
        lat0 = math.radians(task.lat) if onsite and task.lat is not None else 0.0
        lon0 = task.lon if onsite and task.lon is not None else 0.0
        cos0 = math.cos(lat0)
        w_distance, slots, weekly_hours = terms.w_distance, terms.slots, self.weekly_hours
        per_level, per_preferred, per_pool_rank = terms.per_level, terms.per_preferred, terms.per_pool_rank
        constant = terms.constant + HEADROOM
        anchored, anchor_min = self.anchor is not None, self.anchor_min
        required_at = [i for i, (_, _, required) in enumerate(self.extra) if required]
        preferred_at = [i for i, (_, _, required) in enumerate(self.extra) if not required]
        demand, forbidden = task.demand, self.forbidden_limits
        task_radius, two_r = task.radius_km, 2 * EARTH_RADIUS_KM
        radians, sin, cos, asin, sqrt = math.radians, math.sin, math.cos, math.asin, math.sqrt
        out = []
        for row in rows:
            member_id, extra = row.member_id, row.extra
            if row.capacity < demand or row.limits & forbidden or row.hours_cap < weekly_hours or member_id in skip:
                continue
            level = row.level
            if level < anchor_min or any(extra[i] is None for i in required_at):
                continue
            total = constant
            if onsite:
                p = radians(row.lat)
                a = sin((p - lat0) / 2) ** 2 + cos0 * cos(p) * sin(radians(row.lon - lon0) / 2) ** 2
                d = two_r * asin(min(1.0, sqrt(a)))
                if member_id in widened:
                    total += w_distance * max(0.0, 1 - d / WIDENED_REACH_KM)
                else:
                    reach = task_radius if task_radius < row.radius_km else row.radius_km
                    if d > reach:
                        continue
                    total += w_distance * max(0.0, 1 - d / max(MIN_REACH_KM, reach))
            if slots:
                mask, free = row.availability_mask, 0.0
                for bit, share in slots:
                    if mask & bit:
                        free += share
                if not free:
                    continue
                total += free
            held = (min(level, TOP_LEVEL) if anchored else 0) + sum(min(extra[i] or 0, TOP_LEVEL) for i in required_at)
            total += per_level * held + per_preferred * sum(1 for i in preferred_at if extra[i] is not None)
            out.append((total + per_pool_rank * row.pool_rank, row))
        return out


def sql_bound(p: Callable[..., Any], s: Any, *, anchored: bool, talents: bool, slots: int,
              levels: list[tuple[Any, bool]], squared: Any) -> Any:
    """QuickJudge's bound as SQL over the index columns `s`, never below it: Terms' linear form
    with its coefficients as parameters (named by `p`, valued by sql_bound_params()), the
    flat-earth distance (`squared`, None where distance does not count) shortened by
    geo.flat_distance_margin() instead of the great-circle one. `levels`: the task's other skills'
    level columns (None where not held), each with whether it is required."""
    total = p("constant")
    held = ([s.level] if anchored else []) + [col for col, required in levels if required]
    if held:
        total = total + sum(held[1:], held[0]) * p("per_level")
    preferred = [case((col.is_not(None), 1.0), else_=0.0) for col, required in levels if not required]
    if preferred:
        total = total + sum(preferred[1:], preferred[0]) * p("per_preferred")
    for i in range(slots):
        total = total + case((s.availability_mask.op("&")(p(f"slot_bit_{i}", Integer)) != 0, p(f"slot_share_{i}")),
                             else_=0.0)
    total = total + s.pool_rank * p("per_pool_rank")
    if squared is not None:
        d = func.sqrt(squared)
        if talents:         # falls to nothing at WIDENED_REACH_KM (and beyond it: no term)
            total = total + case((d * p("shrink") < WIDENED_REACH_KM, p("w_distance") - d * p("per_km")), else_=0.0)
        else:               # the member's reach: the smaller of the two radii
            reach = case((s.radius_km < p("radius"), s.radius_km * 1.0), else_=p("radius"))
            total = total - d * p("per_km") / reach
    return total.label("bound")


def sql_bound_params(terms: Terms, task: TaskFacts, *, widened: bool, distance: bool) -> dict[str, Any]:
    """The values of sql_bound()'s parameters for a region of the index: Terms, SQL_HEADROOM on top
    and, where distance counts (`distance`: the region's rows are measured), the flat-earth
    distance's margin; `widened`: the region is a widened search's."""
    constant = terms.constant + SQL_HEADROOM
    params: dict[str, Any] = {"per_level": terms.per_level, "per_preferred": terms.per_preferred,
                              "per_pool_rank": terms.per_pool_rank}
    for i, (bit, share) in enumerate(terms.slots):
        params[f"slot_bit_{i}"], params[f"slot_share_{i}"] = bit, share
    if terms.onsite and distance and task.lat is not None:
        shrink = 1 - flat_distance_margin(task.lat, WIDENED_REACH_KM if widened else task.radius_km)
        w = terms.w_distance
        if widened:
            params.update(shrink=shrink, w_distance=w, per_km=w * shrink / WIDENED_REACH_KM)
        else:
            constant += w
            params.update(radius=float(task.radius_km), per_km=w * shrink)
    params["constant"] = constant
    return params
