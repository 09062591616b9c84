"""The organizer's near misses: members who hold the skills a task asks for but are kept off its
candidate list by exactly one other fact, grouped by that fact (另有 1 人专长符合，但时间不合适).
Ranking is untouched: these are read apart, after the list, and only when it is short.

They are found on the skill-location index (the task's first required skill in the box of twice
its radius, or its county for an online task), at most ROWS of them, then judged with every fact
by the same hard filters as the list (app.matching.score.exclusions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.matching.gather import complete, member_facts, task_facts
from app.matching.misses import GROUPS, OVERRIDABLE, Miss, misses
from app.matching.query import INDEX
from app.members.index import bands_between
from app.members.models import MemberProfile, MemberSkill
from app.regions.geo import bounding_box
from app.tasks.models import Task

ROWS = 300                  # members read at most: enough for a page, bounded for a big pool
REACH_FACTOR = 2.0          # how far past the task's radius a near miss may live
SHOWN = 10                  # near misses shown per group


@dataclass(frozen=True)
class NearCandidate:
    member: MemberProfile
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


def near_candidates(task: Task, *, skip: set[int]) -> list[MissGroup]:
    """Members with the task's skills whom one fact alone keeps off its list (not those in `skip`:
    already listed or already on the task), grouped by that fact, the groups an organizer can act
    on (仍然邀请) first."""
    facts = task_facts(task)
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
    skip = skip | {a.member_id for a in task.assignments}
    ids = [i for i in db.session.scalars(select(c.member_id).where(*conditions).distinct()
                                         .order_by(c.member_id).limit(ROWS + len(skip))) if i not in skip][:ROWS]
    if not ids:
        return []
    members = {m.id: m for m in db.session.scalars(select(MemberProfile).where(MemberProfile.id.in_(ids)).options(
        selectinload(MemberProfile.skills).selectinload(MemberSkill.skill)))}
    groups: dict[str, MissGroup] = {}
    for m in complete(task, facts, [member_facts(members[i]) for i in ids if i in members]):
        found = misses(facts, m, you="本人")
        if len(found) != 1 or found[0].code == "skill":
            continue
        group = groups.setdefault(found[0].code, MissGroup(found[0].code))
        group.count += 1
        if len(group.candidates) < SHOWN:
            group.candidates.append(NearCandidate(members[m.member_id], found[0]))
    return sorted(groups.values(), key=lambda g: (g.code not in OVERRIDABLE, -g.count, g.code))
