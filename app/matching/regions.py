"""Which parts of the skill-location index a search reads: an onsite task's whole radius at once (its
rows are few: 40 at the median at a million members), and for a widened search the nearest talents
first, then only as far out as a talent could still make the list."""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.matching.bound import QuickJudge
from app.matching.facts import WIDENED_REACH_KM, TaskFacts
from app.matching.score import WEIGHTS
from app.regions.geo import bounding_box

TALENTS_INNER_KM = 25.0   # the first box read around an onsite task for the talents a widened search reaches


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
        assert facts.lat is not None and facts.lon is not None
        if self.within_km is not None and not bounding_box(facts.lat, facts.lon, self.within_km).contains(lat, lon):
            return False
        return self.beyond_km is None or not bounding_box(facts.lat, facts.lon, self.beyond_km).contains(lat, lon)


def anchor_skill(facts: TaskFacts) -> int | None:
    """The required skill whose index range to read (the highest minimum level narrows most)."""
    if not facts.required:
        return None
    return max(facts.required, key=lambda s: (facts.required[s], -s))


def first_tier(facts: TaskFacts, widen: str | None) -> list[Reach]:
    """What is read first: a remote task's county, or an onsite task's whole radius (and the
    talents within TALENTS_INNER_KM of it, when widened). A first read of the nearest quarter of
    the radius, then as much more as could still make the list, cost most tasks a second read (the
    quarter rarely fills a list): at a million members, task by task, 3.02 against 2.67 ms a search
    at the median and 2.06 against 1.74 ms of CPU, the same on average, 6.5 against 7.1 ms at the
    95th percentile (a dense radius is read whole; bench/README.md, 2026-12-08)."""
    if facts.remote:
        return [Reach("county")] + ([Reach("talents", widen)] if widen else [])
    first = [Reach("near", within_km=facts.radius_km)]
    return first + ([Reach("talents", widen, within_km=TALENTS_INNER_KM)] if widen else [])


def further(facts: TaskFacts, judge: QuickJudge, widen: str | None, floor: float | None) -> list[Reach]:
    """The rest of the index a widened onsite search must read, given `floor`: the score a row must
    beat to make the list (None while it is not full); nothing for a search that is not widened
    (the first tier read its whole radius). A talent's bound is at most what its anchor level
    allows for everything but distance, plus its distance part; so for each level there is a
    distance beyond which nobody can beat the floor, and only the talents nearer than that (outside
    what the first tier read) are read. The regions are always the same for a kind of task (one
    per level and region, those with nothing to read asking for no level), so that their query
    keeps one shape."""
    if not widen:
        return []
    w = WEIGHTS["distance"]

    def within(scale: float, base: float) -> float:
        # base + w * (1 - d / scale) > floor  <=>  d < scale * (1 - (floor - base) / w)
        if floor is None:
            return math.inf
        return scale * (1 - (floor - base) / w) * (1 + 1e-9) + 1e-6

    reaches = []
    for levels in level_groups(judge):
        far = within(WIDENED_REACH_KM, judge.ceiling(levels[-1]))
        reaches.append(Reach("talents", widen, within_km=min(WIDENED_REACH_KM, max(far, TALENTS_INNER_KM)),
                             beyond_km=TALENTS_INNER_KM, levels=levels if far > TALENTS_INNER_KM else ()))
        # Beyond WIDENED_REACH_KM nothing for distance, but maybe enough for the rest.
        reaches.append(Reach("talents", widen, beyond_km=WIDENED_REACH_KM,
                             levels=levels if far > WIDENED_REACH_KM else ()))
    return reaches


def level_groups(judge: QuickJudge) -> list[tuple[int, ...]]:
    """The anchor levels to read apart (they differ in how far away they can still make the list);
    one group when no skill anchors the search (levels do not count then)."""
    if judge.anchor is None:
        return [(1, 2, 3)]
    return [(level,) for level in range(3, max(judge.anchor_min, 1) - 1, -1)]
