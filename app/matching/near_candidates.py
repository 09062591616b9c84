"""The organizer's near misses: members who hold the skills a task asks for but are kept off its
candidate list by exactly one other fact, grouped by that fact (另有 1 人专长符合，但时间不合适).
Ranking is untouched: these are read apart, after the list, and only when it is short.

They are found on the skill-location index (the task's first required skill in the box of twice
its radius, or its county for an online task), at most ROWS of them, then judged with every fact
by the same hard filters as the list (app.matching.score.exclusions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import bindparam, select

from app.matching.bound import IndexRow
from app.matching.facts import MemberFacts, TaskFacts
from app.matching.gather import complete, task_facts
from app.matching.misses import GROUPS, OVERRIDABLE, Miss, misses
from app.matching.query import INDEX
from app.matching.reads import connection
from app.matching.search import row_facts
from app.members.index import bands_between
from app.regions.geo import bounding_box
from app.tasks.models import Task
from app.tasks.queries import Named, names_by_id

ROWS = 300                  # members read at most: enough for a page, bounded for a big pool
REACH_FACTOR = 2.0          # how far past the task's radius a near miss may live
SHOWN = 10                  # near misses shown per group


@dataclass(frozen=True)
class NearCandidate:
    member: Named
    miss: Miss

    @property
    def overridable(self) -> bool:
        """The organizer may invite them anyway (仍然邀请)."""
        return self.miss.code in OVERRIDABLE


@dataclass
class MissGroup:
    code: str
    count: int = 0
    candidates: list[NearCandidate] = field(default_factory=list)

    @property
    def heading(self) -> str:
        return f"另有 {self.count} 人专长符合，但{GROUPS[self.code]}"


def near_candidates(task: Task, *, skip: set[int], facts: TaskFacts | None = None) -> list[MissGroup]:
    """Members with the task's skills whom one fact alone keeps off its list (not those in `skip`:
    already listed, and those with an assignment on the task), grouped by that fact, the groups an
    organizer can act on (仍然邀请) first. Judged on their index rows and the facts outside the
    index (gather.complete); only those shown are read by name. `facts`: the task's, when the
    caller has read them."""
    facts = facts if facts is not None else task_facts(task)
    c = INDEX.c
    conditions = []
    if facts.required:
        skill_id, level = next(iter(sorted(facts.required.items())))
        conditions += [c.skill_id == skill_id, c.level >= level]
    if facts.onsite:
        assert facts.lat is not None and facts.lon is not None
        box = bounding_box(facts.lat, facts.lon, facts.radius_km * REACH_FACTOR)
        conditions += [c.band.in_(bands_between(box.min_lat, box.max_lat)), c.lon.between(box.min_lon, box.max_lon)]
    else:
        conditions.append(c.region_code == task.region_code)
    ids = [i for i in connection().execute(select(c.member_id).where(*conditions).distinct()
                                           .order_by(c.member_id).limit(ROWS + len(skip))).scalars()
           if i not in skip][:ROWS]
    if not ids:
        return []
    groups: dict[str, MissGroup] = {}
    shown: list[tuple[MissGroup, int, Miss]] = []
    for m in complete(task, facts, _index_facts(ids)):
        found = misses(facts, m, you="本人")
        if len(found) != 1 or found[0].code == "skill":
            continue
        group = groups.setdefault(found[0].code, MissGroup(found[0].code))
        group.count += 1
        if group.count <= SHOWN:
            shown.append((group, m.member_id, found[0]))
    names = names_by_id([member_id for _, member_id, _ in shown])
    for group, member_id, miss in shown:
        if member_id in names:
            group.candidates.append(NearCandidate(names[member_id], miss))
    return sorted(groups.values(), key=lambda g: (g.code not in OVERRIDABLE, -g.count, g.code))


# Every index row of the members found, one per active skill they hold: each member's facts as
# member_facts() reads them from the profile, in one statement of plain rows. Its columns are
# IndexRow's own, up to the skill's level, by name, and the row's skill.
_FIELDS = IndexRow._fields[:IndexRow._fields.index("level") + 1]
_ROWS_OF = select(*(INDEX.c[name] for name in _FIELDS), INDEX.c.skill_id).where(
    INDEX.c.member_id.in_(bindparam("ids", expanding=True)))


def _index_facts(ids: list[int]) -> list[MemberFacts]:
    """The profile facts of these members (in this order) from their index rows."""
    first: dict[int, IndexRow] = {}
    skills: dict[int, dict[int, int]] = {}
    for row in connection().execute(_ROWS_OF, {"ids": ids}):
        if row.member_id not in first:
            first[row.member_id] = IndexRow(*row[:len(_FIELDS)])
        skills.setdefault(row.member_id, {})[row.skill_id] = row.level
    return [row_facts(first[i], skills[i]) for i in ids if i in first]
