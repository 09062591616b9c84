"""The organizer's candidate list (DESIGN §5): the best members for a task, fast.

Step 1 reads the skill-location index (app.matching.query) where the task reaches
(app.matching.regions), each query handing over its most promising rows; QuickJudge bounds each row
once. Step 2 scores rows in order of their bound, completing the facts the index does not carry
(app.matching.gather) for as few members as it takes to be sure of the top of the list: those of
the first rows came along with the index read (query.with_facts), so that for nearly every task
the search is one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.db import generic_plans
from app.matching.bound import HEADROOM, IndexRow, QuickJudge
from app.matching.facts import MemberFacts, Suggestion, TaskFacts
from app.matching.gather import FactRow, city_of, complete, task_facts
from app.matching.query import COVERED, FACT_COLUMNS, index_shape, read_index
from app.matching.reads import connection
from app.matching.regions import Reach, anchor_skill, first_tier, further
from app.matching.score import exclusion, score
from app.members.models import NO_HOURS_CAP
from app.regions.geo import haversine_km
from app.tasks.models import Task

BATCH = 40          # candidates completed at first; doubled each round while the top may still change
MAX_BATCH = 640
PAGE = 100          # index rows each query hands over first, most promising first (see bound.sql_bound)
TIE = 5e-6          # deciding what more to read, scores this close count as equal (bounds carry a few
                    # millionths of headroom): a crowd of equal members is not read to its end


class Search:
    """One task's search: the index rows read so far (and which of them a widened search reached),
    the members judged with every fact, and the best of them."""

    def __init__(self, task: Task, facts: TaskFacts, judge: QuickJudge, skip: set[int], limit: int,
                 city: str | None = None):
        self.task, self.facts, self.judge, self.skip, self.limit = task, facts, judge, skip, limit
        self.city = city      # the task's city, when the search is widened to the city
        self.rows: dict[int, IndexRow] = {}
        self.bounds: dict[int, tuple[float, IndexRow]] = {}   # (bound, row) of the rows QuickJudge passed
        self.widened: set[int] = set()
        self.judged: dict[int, Suggestion | None] = {}     # None: excluded by a fact outside the index
        self.members: dict[int, MemberFacts] = {}          # the facts each judged member was scored on
        self.known: dict[int, list[FactRow]] = {}          # completion rows that came with index rows
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
        extras = len(self.judge.extra)
        shape, params = index_shape(self.task, self.facts, self.judge, reaches, self.skip, page, self.city,
                                    prefetch=True)
        raws = read_index(shape, params)
        if shape.facts:
            raws = self.keep_facts(raws)
        found = [IndexRow.read(raw, extras) for raw in raws]
        new = []
        for row in found:
            member_id = row.member_id
            if member_id not in self.rows:
                self.rows[member_id] = row
                new.append(row)
            if row.widened and member_id not in self.widened:
                self.widened.add(member_id)
                self.judged.pop(member_id, None)     # judged as a neighbour before: now as a talent
                self.bounds.pop(member_id, None)
                new.append(self.rows[member_id])
        # Each row is bounded once (again only when it turns out to be a talent's).
        self.bounds.update((row.member_id, (bound, row))
                           for bound, row in self.judge.bounds(new, widened=self.widened, skip=self.skip))
        # The lowest bound read, not the last row's: a read that brought completion rows along
        # (query.with_facts) is a UNION, whose rows SQL does not promise in the page's order.
        return min(row.bound for row in found if row.bound is not None) if page is not None and len(found) == page \
            else None

    def keep_facts(self, raws: Sequence[Sequence[Any]]) -> list[Sequence[Any]]:
        """The index rows of a read that brought completion rows along (query.with_facts); those
        are kept for complete(), by member (a member a later read brings again is not counted twice)."""
        rows: list[Sequence[Any]] = []
        known: dict[int, list[FactRow]] = {}
        for raw in raws:
            kind = raw[-FACT_COLUMNS]
            if not kind:
                rows.append(raw[:-FACT_COLUMNS])
            elif kind == COVERED:
                known.setdefault(raw[0], [])
            else:
                known.setdefault(raw[0], []).append(FactRow(kind, raw[0], *raw[1 - FACT_COLUMNS:]))
        self.known.update(known)
        return rows

    def rank(self, *, index_only: bool = False) -> None:
        """Judge the rows not judged yet in order of their bound, in growing batches, until no
        bound left can beat the list. A row without has_facts is ranked on its bound, which is its
        score (HEADROOM apart, property-tested), without building its facts; the others are
        completed from the database and scored, unless `index_only`: then they wait, and the list
        (and its floor) is that of the members already known exactly, which only a later full rank
        can raise. The members of the final list are scored in full by finish()."""
        # The list only gets better: a row that cannot reach its last score now never will. (Rows
        # read that could tie it are judged, so that ties go as the pure ranking breaks them.)
        last = self.best[-1].score if len(self.best) >= self.limit else None
        fresh = [(bound, row) for bound, row in self.bounds.values()
                 if row.member_id not in self.judged and (last is None or bound >= last)
                 and not (index_only and row.has_facts)]
        fresh.sort(key=lambda pair: (-pair[0], pair[1].member_id))
        best = [s for s in self.judged.values() if s is not None]
        start, size = 0, BATCH
        while True:
            best.sort(key=Suggestion.order)
            best = best[:self.limit]
            if start >= len(fresh) or (len(best) >= self.limit and fresh[start][0] < best[-1].score):
                break   # nobody left can reach the list
            loaded = []
            for bound, row in fresh[start:start + size]:
                if row.has_facts:
                    loaded.append(partial_facts(row, self.judge, self.widened))
                else:
                    on_bound = Suggestion(row.member_id, round(bound - HEADROOM, 6), self.distance(row), [], {})
                    self.judged[row.member_id] = on_bound
                    best.append(on_bound)
            for m in complete(self.task, self.facts, loaded, self.known) if loaded else []:
                ok = exclusion(self.facts, m) is None
                self.judged[m.member_id] = suggestion = score(self.facts, m, explain=False) if ok else None
                if suggestion is not None:
                    self.members[m.member_id] = m
                    best.append(suggestion)
            start, size = start + size, min(size * 2, MAX_BATCH)
        self.best = best

    def distance(self, row: IndexRow) -> float | None:
        """The distance score() gives for an index row's member."""
        facts = self.facts
        if facts.remote or facts.lat is None or facts.lon is None:
            return None
        return haversine_km(facts.lat, facts.lon, row.lat, row.lon)

    def finish(self) -> list[Suggestion]:
        """The list, each member scored in full with the reasons: members ranked on their bound
        get their facts from their index row."""
        # A member ranked on the bound passed the hard filters there: QuickJudge drops exactly what
        # exclusion() would for the facts of an index row (property-tested).
        final = [score(self.facts, self.members.get(ranked.member_id)
                       or partial_facts(self.rows[ranked.member_id], self.judge, self.widened))
                 for ranked in self.best]
        final.sort(key=Suggestion.order)
        return final


def partial_facts(row: IndexRow, judge: QuickJudge, widened: set[int]) -> MemberFacts:
    """What an index row says about its member, with the skills the search read (the rest taken as
    it is for a member without facts outside the index)."""
    skills = {judge.anchor: row.level} if judge.anchor is not None else {}
    skills.update((skill_id, level) for (skill_id, _, _), level in zip(judge.extra, row.extra, strict=True)
                  if level is not None)
    return row_facts(row, skills, widened=row.member_id in widened)


def row_facts(row: IndexRow, skills: dict[int, int], *, widened: bool = False) -> MemberFacts:
    """What an index row says about its member, given the skills (skill id → level) read for them:
    their profile's facts, as member_facts() reads them from the profile (an index row is written
    only for a consenting, active member)."""
    return MemberFacts(member_id=row.member_id, lat=row.lat, lon=row.lon, radius_km=row.radius_km, skills=skills,
                       widened=widened, capacity=row.capacity, availability_mask=row.availability_mask,
                       no_night=bool(row.limits & 1), no_outdoor=bool(row.limits & 2), pool_rank=row.pool_rank,
                       max_hours_week=row.hours_cap if row.hours_cap < NO_HOURS_CAP else None)


def suggest(task: Task, *, limit: int = 20, widen: str | None = None, on_task: set[int] | None = None,
            facts: TaskFacts | None = None) -> list[Suggestion]:
    """The best members for a task, best first, each with its reasons: the task's reach in the
    index (for a widened search the nearest talents first, then as many more as could still change
    the list). `on_task`: the members with an
    assignment on the task, when the caller has read them (otherwise those of task.assignments);
    `facts`: the task's, when the caller has read them (otherwise from its skills and sessions)."""
    facts = facts if facts is not None else task_facts(task)
    judge = QuickJudge(facts, anchor_skill(facts))
    widen = widen if widen is not None else task.widen_to
    if on_task is None:
        on_task = {a.member_id for a in task.assignments}
    with generic_plans(connection()):
        # The city's lookup is the block's first statement when there is one: the plan settings go with it.
        search = Search(task, facts, judge, on_task, limit, city=city_of(task) if widen == "city" else None)
        search.take(first_tier(facts, widen))
        if widen and not facts.remote:
            search.take(further(facts, judge, widen, search.floor()))
        search.rank()
    # Members were compared on scores alone; the list shown says why, each member scored once more.
    return search.finish()
