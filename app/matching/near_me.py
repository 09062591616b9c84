"""The member's side of matching: open tasks near a member ("tasks near me"), and why one member
cannot be invited to a task, with the same hard filters and score as the organizer's list."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy import Boolean, ColumnElement, Select, and_, bindparam, exists, literal, or_, select
from sqlalchemy.orm import lazyload

from app.clock import local_now, local_today
from app.extensions import db
from app.matching.facts import MemberFacts, Suggestion, TaskFacts
from app.matching.gather import (
    DECLINE_MEMORY_DAYS,
    FACT_COLUMNS,
    city_of,
    member_facts,
    task_facts,
    task_facts_of,
    utc_days_ago,
)
from app.matching.misses import OVERRIDABLE, Miss, describe, miss_codes, misses
from app.matching.query import INDEX, talent_rows
from app.matching.score import distance_km, exclusion, exclusions, score
from app.members.models import Capacity, EntryStatus, MemberProfile, MemberSkill, PoolLevel, Skill
from app.regions.codes import minimal_prefixes, prefix_upper
from app.regions.geo import bounding_box, haversine_km
from app.regions.models import Region
from app.tasks.ledger import hours_total_and_since
from app.tasks.models import Assignment, AssignmentStatus, Task, TaskMode, TaskSession, TaskSkill, TaskStatus


def _judged(task: Task, member: MemberProfile) -> tuple[TaskFacts, MemberFacts]:
    """The facts an invitation of this member to this task is judged on."""
    facts = task_facts(task)
    widened = bool(task.widen_to) and db.session.scalar(
        select(INDEX.c.member_id).where(*talent_rows(INDEX.c, city_of(task) if task.widen_to == "city" else None),
                                        INDEX.c.member_id == member.id).limit(1)) is not None
    return facts, replace(member_facts(member, task), widened=widened)


def why_not(task: Task, member: MemberProfile) -> str | None:
    """Why this member cannot be invited to this task now (Chinese), or None."""
    return exclusion(*_judged(task, member))


def invitable_anyway(task: Task, member: MemberProfile) -> Miss | None:
    """The one fact an organizer may invite this member past (仍然邀请: a usual time or a distance),
    said to the member; None when nothing or more than that keeps them off the list."""
    facts, m = _judged(task, member)
    codes = list(exclusions(facts, m))
    found = misses(facts, m)
    if len(codes) != 1 or len(found) != 1 or found[0].code not in OVERRIDABLE:
        return None
    return found[0]


def reasons_for(task: Task, member: MemberProfile) -> str:
    return score(task_facts(task), member_facts(member, task)).reason_text


@dataclass(frozen=True)
class OwnContext:
    """One member's side of judging many tasks at once: their facts, the organizations they
    declined lately, and (for the page that lists them) every hour they have served."""

    facts: MemberFacts
    declined: set[int]
    hours_total: float


# The member's assignments that judging tasks for them needs, in one read built once: each accepted
# one with its sessions still to come (when they are busy), invitations waiting for an answer, and
# refusals with their organization and whether they were lately (organizations declined lately).
_OWN_ASSIGNMENTS = (
    select(Assignment.status, Task.organization_id, Assignment.updated_at >= bindparam("lately"),
           TaskSession.starts_at, TaskSession.ends_at)
    .join(Task, Task.id == Assignment.task_id)
    .outerjoin(TaskSession, and_(TaskSession.task_id == Assignment.task_id,
                                 Assignment.status == AssignmentStatus.ACCEPTED,
                                 ~TaskSession.cancelled, TaskSession.ends_at > bindparam("now")))
    .where(Assignment.member_id == bindparam("member_id"), Assignment.status.in_(
        [AssignmentStatus.ACCEPTED, AssignmentStatus.INVITED, AssignmentStatus.DECLINED])))


def own_context(member: MemberProfile) -> OwnContext:
    """Read once per page: tasks near me and, when that list is empty, what is around both use it."""
    now = local_now()
    facts = member_facts(member)
    blocked = tuple((p.start_date, p.end_date) for p in member.unavailable if p.end_date >= now.date())
    busy, pending, declined = [], 0, set()
    for status, org_id, declined_lately, starts_at, ends_at in db.session.execute(_OWN_ASSIGNMENTS, {
            "member_id": member.id, "now": now, "lately": utc_days_ago(DECLINE_MEMORY_DAYS)}):
        if status is AssignmentStatus.ACCEPTED:
            if starts_at is not None:
                busy.append((starts_at, ends_at))
        elif status is AssignmentStatus.INVITED:
            pending += 1
        elif declined_lately:
            declined.add(org_id)
    total, recent_hours = hours_total_and_since(member.id, local_today() - timedelta(days=DECLINE_MEMORY_DAYS))
    return OwnContext(replace(facts, unavailable=blocked, busy=tuple(busy), open_invitations=pending,
                              hours_30d=recent_hours), declined, total)


def widened_reach(member: MemberProfile) -> tuple[str, list[str]]:
    """Which widened tasks reach this member (the mirror of _talent_rows): any widened task for a
    province talent ("province"), tasks widened to the city in the cities whose pool approved
    them ("city", with those cities' code prefixes), or none ("none")."""
    approved = [e for e in member.pool_entries if e.status is EntryStatus.APPROVED]
    if any(e.level is PoolLevel.PROVINCE for e in approved):
        return "province", []
    cities = minimal_prefixes(e.region_code[:4] for e in approved if e.level is PoolLevel.CITY)
    return ("city", cities) if cities else ("none", [])


def _widened(reach: str, cities: int) -> ColumnElement[bool]:
    if reach == "province":
        return Task.widen_to.is_not(None)
    if reach == "city":
        return and_(Task.widen_to == "city", or_(*[
            and_(Task.region_code >= bindparam(f"city{i}"), Task.region_code < bindparam(f"city{i}_end"))
            for i in range(cities)]))
    return literal(False)


# Every required skill of the task held by the member at its level (an active skill): the hard
# filter on skills, in SQL, so that the statement's form does not depend on the member's skills.
_HELD = exists().where(MemberSkill.member_id == bindparam("member_id"), MemberSkill.skill_id == TaskSkill.skill_id,
                       MemberSkill.level >= TaskSkill.min_level, Skill.id == MemberSkill.skill_id, Skill.active)


@functools.lru_cache(maxsize=32)
def _near_statement(reach: str, cities: int) -> Select:
    """tasks_near()'s statement for one form of widened reach, built once; the member's facts go in
    as parameters (_near_parameters). Conditions on Task that the hard filters would impose anyway
    (every required skill held at its level, a demand within their capacity, no outdoor work if
    they said so) let the database drop most tasks before they load."""
    widened = _widened(reach, cities)
    return select(Task, widened.label("widened")).where(
        Task.status == TaskStatus.OPEN, or_(_AROUND, widened), _NOT_ON,
        ~exists().where(TaskSkill.task_id == Task.id, TaskSkill.required, ~_HELD),
        Task.demand.in_(bindparam("demands", expanding=True)),
        or_(bindparam("outdoor_ok", type_=Boolean), ~Task.outdoor)).options(lazyload(Task.assignments))


def _near_parameters(member: MemberProfile, facts: MemberFacts, cities: list[str]) -> dict:
    parameters = _around_parameters(member, member.service_radius_km)
    for i, prefix in enumerate(cities):
        parameters[f"city{i}"], parameters[f"city{i}_end"] = prefix, prefix_upper(prefix)
    return {**parameters, "demands": [c for c in Capacity if c.rank <= facts.capacity],
            "outdoor_ok": not facts.no_outdoor}


def tasks_near(member: MemberProfile, *, limit: int = 20,
               context: OwnContext | None = None) -> list[tuple[Suggestion, Task]]:
    """Open tasks a member could take, best-fitting and nearest first ("tasks near me"): the same
    hard filters and score as the organizer's list, seen from the member's side.

    One statement finds them: open tasks around the member or widened to a pool that approved
    them, that the member has no assignment on, and whose skills, demand and setting the member
    meets (the database drops the rest before they load); it also says which reached the member
    only by being widened. `context`: own_context(member), when the page has read it already."""
    reach, cities = widened_reach(member)   # widened tasks reach approved city and province talents further away
    own = context or own_context(member)
    base, declined = own.facts, own.declined
    results = []
    for task, by_widening in db.session.execute(_near_statement(reach, len(cities)),
                                                _near_parameters(member, base, cities)).all():
        facts = task_facts(task)
        m = replace(base, declined_org_recently=task.organization_id in declined)
        if by_widening:
            m = replace(m, widened=True)
        if exclusion(facts, m) is None:
            results.append((score(facts, m), task))
    results.sort(key=lambda pair: (-pair[0].score, pair[0].distance_km or 0, pair[1].id))
    return results[:limit]


# Tasks whose place lies in a box around the member's home, and the online tasks of their county
# and city (_around_parameters: the box for a distance); tasks the member has no assignment on
# (declined ones included).
_AROUND = or_(and_(Task.lat.between(bindparam("min_lat"), bindparam("max_lat")),
                   Task.lon.between(bindparam("min_lon"), bindparam("max_lon"))),
              and_(Task.mode == TaskMode.REMOTE, Task.region_code.in_([bindparam("county"), bindparam("city")])))
_NOT_ON = ~exists().where(Assignment.task_id == Task.id, Assignment.member_id == bindparam("member_id"))


def _around_parameters(member: MemberProfile, km: float) -> dict:
    box = bounding_box(member.lat, member.lon, km)
    county = db.session.get(Region, member.region_code)     # from the identity map: loaded with the member
    return {"min_lat": box.min_lat, "max_lat": box.max_lat, "min_lon": box.min_lon, "max_lon": box.max_lon,
            "county": member.region_code, "city": (county.parent_code if county else None) or "",
            "member_id": member.id}


NEARBY_MIN_KM = 10.0     # how far "nearby" looks, at least and at most: twice the member's own radius
NEARBY_MAX_KM = 50.0


@dataclass(frozen=True)
class Around:
    """An open task around a member, judged from its facts (the task not loaded): what keeps it off
    their list (the codes of app.matching.score's hard filters about the task; none: it is on it),
    said to the member when shown (`misses`: a page shows a few of the many it judges)."""

    task_id: int
    codes: tuple[str, ...]
    distance_km: float | None
    facts: TaskFacts = field(repr=False, compare=False)
    member: MemberFacts = field(repr=False, compare=False)

    @functools.cached_property
    def misses(self) -> list[Miss]:
        return [describe(code, self.facts, self.member) for code in self.codes]

    @property
    def near_miss(self) -> bool:
        """Kept off the list by exactly one fact."""
        return len(self.codes) == 1


@dataclass(frozen=True)
class Nearby(Around):
    """The same with its task, for showing it."""

    task: Task


def around(member: MemberProfile, *, context: OwnContext | None = None) -> list[Around]:
    """Every open task around a member (twice their radius, 10 to 50 km), with the reasons for each,
    fitting ones first, then the near misses, nearest first: what explains an empty list. The hard
    filters are app.matching.score's, unchanged. Judged on facts read as rows (gather.task_facts_of):
    a county may have a hundred open tasks, of which a page shows a few (with_tasks)."""
    reach = min(NEARBY_MAX_KM, max(NEARBY_MIN_KM, 2 * member.service_radius_km))
    own = context or own_context(member)
    # The member as judged for a task of an organization they declined lately, and for any other.
    as_member = {False: replace(own.facts, declined_org_recently=False),
                 True: replace(own.facts, declined_org_recently=True)}
    rows = db.session.execute(_AROUND_STATEMENT, _around_parameters(member, reach)).all()
    found = []
    for task_id, facts in task_facts_of(rows).items():
        m = as_member[facts.organization_id in own.declined]
        d = distance_km(facts, m)
        if d is not None and d > reach:
            continue        # in the box's corner, outside the circle
        found.append(Around(task_id, miss_codes(facts, m), d, facts, m))
    found.sort(key=lambda n: (len(n.codes), n.distance_km or 0.0, n.task_id))
    return found


_AROUND_STATEMENT = select(*FACT_COLUMNS).where(Task.status == TaskStatus.OPEN, _AROUND, _NOT_ON)


def with_tasks(found: list[Around]) -> list[Nearby]:
    """`found` with their tasks, loaded in one read (with what a list of tasks shows)."""
    if not found:
        return []
    tasks = {task.id: task for task in db.session.scalars(
        select(Task).where(Task.id.in_([n.task_id for n in found])).options(lazyload(Task.assignments)))}
    return [Nearby(n.task_id, n.codes, n.distance_km, n.facts, n.member, tasks[n.task_id])
            for n in found if n.task_id in tasks]


def nearby(member: MemberProfile, *, limit: int = 50, context: OwnContext | None = None) -> list[Nearby]:
    """The first `limit` of around(), with their tasks: what 看看附近所有的服务 shows."""
    return with_tasks(around(member, context=context)[:limit])


def distance_between(task: Task, member: MemberProfile) -> float | None:
    if task.lat is None or task.lon is None:
        return None
    return haversine_km(task.lat, task.lon, member.lat, member.lon)
