"""The member's side of matching: open tasks near a member ("tasks near me"), and why one member
cannot be invited to a task, with the same hard filters and score as the organizer's list."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Date,
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import joinedload, lazyload

from app.clock import local_now, local_today
from app.extensions import db
from app.matching.facts import MemberFacts, Suggestion, TaskFacts
from app.matching.gather import (
    DECLINE_MEMORY_DAYS,
    FACT_COLUMNS,
    city_of,
    member_facts,
    profile_facts,
    task_facts,
    task_facts_of,
    utc_days_ago,
)
from app.matching.misses import OVERRIDABLE, Miss, describe, miss_codes, misses
from app.matching.query import INDEX, talent_rows
from app.matching.reads import connection
from app.matching.score import exclusion, exclusions, place_distance_km, score
from app.members.models import (
    Capacity,
    EntryStatus,
    MemberProfile,
    MemberSkill,
    PoolEntry,
    PoolLevel,
    Skill,
    UnavailablePeriod,
    pool_rank_of,
)
from app.organizations.models import Organization
from app.regions.codes import minimal_prefixes, prefix_upper
from app.regions.geo import bounding_box, haversine_km
from app.regions.models import Region
from app.tasks.ledger import totals_select
from app.tasks.models import (
    Assignment,
    AssignmentStatus,
    Task,
    TaskMode,
    TaskSession,
    TaskSkill,
    TaskStatus,
)


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
    declined lately, which widened tasks reach them (widened_reach) and (for the page that lists
    them) every hour they have served."""

    facts: MemberFacts
    declined: set[int]
    hours_total: float
    reach: tuple[str, list[str]]


# Everything of the member's own that judging tasks for them needs, in one read built once (tasks
# near me asks on every visit), each row told apart by its first column: 1 an active skill held, 2 an
# approved pool entry, 3 a period away not yet over, 4 an assignment (an accepted one with each of
# its sessions still to come, when they are busy; invitations waiting for an answer; refusals with
# their organization and whether they were lately), 5 their hours (app.tasks.ledger).
_NUMBER, _TEXT, _DAY, _HOURS = cast(null(), Integer), cast(null(), String), cast(null(), Date), cast(null(), Float)
_OWN = union_all(
    select(literal_column("4").label("kind"), type_coerce(Assignment.status, String).label("code"),
           Task.organization_id.label("ref"), _NUMBER.label("level"),
           (Assignment.updated_at >= bindparam("lately")).label("lately"), TaskSession.starts_at,
           TaskSession.ends_at, _DAY.label("start_date"), _DAY.label("end_date"), _TEXT.label("region"),
           _HOURS.label("total"), _HOURS.label("recent"))
    .join(Task, Task.id == Assignment.task_id)
    .outerjoin(TaskSession, and_(TaskSession.task_id == Assignment.task_id,
                                 Assignment.status == AssignmentStatus.ACCEPTED,
                                 ~TaskSession.cancelled, TaskSession.ends_at > bindparam("now")))
    .where(Assignment.member_id == bindparam("member_id"), Assignment.status.in_(
        [AssignmentStatus.ACCEPTED, AssignmentStatus.INVITED, AssignmentStatus.DECLINED])),
    select(literal_column("1"), null(), MemberSkill.skill_id, MemberSkill.level, *[null()] * 8)
    .join(Skill, Skill.id == MemberSkill.skill_id).where(MemberSkill.member_id == bindparam("member_id"), Skill.active),
    select(literal_column("2"), type_coerce(PoolEntry.level, String), *[null()] * 7, PoolEntry.region_code,
           null(), null()).where(PoolEntry.member_id == bindparam("member_id"),
                                 PoolEntry.status == EntryStatus.APPROVED),
    select(literal_column("3"), *[null()] * 6, UnavailablePeriod.start_date, UnavailablePeriod.end_date,
           *[null()] * 3).where(UnavailablePeriod.member_id == bindparam("member_id"),
                                UnavailablePeriod.end_date >= bindparam("today")),
    totals_select(literal_column("5"), *[null()] * 9))


def own_context(member: MemberProfile) -> OwnContext:
    """Read once per page, in one statement: tasks near me and, when that list is empty, what is
    around both use it."""
    now = local_now()
    skills: dict[int, int] = {}
    approved: list[tuple[PoolLevel, str]] = []
    blocked, busy, declined, pending, total, recent = [], [], set(), 0, 0.0, 0.0
    for row in connection().execute(_OWN, {
            "member_id": member.id, "now": now, "lately": utc_days_ago(DECLINE_MEMORY_DAYS), "today": now.date(),
            "since": local_today() - timedelta(days=DECLINE_MEMORY_DAYS)}):
        if row.kind == 1:
            skills[row.ref] = row.level
        elif row.kind == 2:
            approved.append((PoolLevel(row.code), row.region))
        elif row.kind == 3:
            blocked.append((row.start_date, row.end_date))
        elif row.kind == 5:
            total, recent = float(row.total or 0), float(row.recent or 0)
        elif (status := AssignmentStatus(row.code)) is AssignmentStatus.ACCEPTED:
            if row.starts_at is not None:
                busy.append((row.starts_at, row.ends_at))
        elif status is AssignmentStatus.INVITED:
            pending += 1
        elif row.lately:
            declined.add(row.ref)
    facts = profile_facts(member, skills, pool_rank_of(level for level, _ in approved))
    facts = replace(facts, unavailable=tuple(sorted(blocked)), busy=tuple(sorted(busy)), open_invitations=pending,
                    hours_30d=recent)
    return OwnContext(facts, declined, total, widened_reach(approved))


def widened_reach(approved: Iterable[tuple[PoolLevel, str]]) -> tuple[str, list[str]]:
    """Which widened tasks reach a member with these approved pool entries (level, region code):
    the mirror of query.talent_rows: any widened task for a province talent ("province"), tasks
    widened to the city in the cities whose pool approved them ("city", with those cities' code
    prefixes), or none ("none")."""
    entries = list(approved)
    if any(level is PoolLevel.PROVINCE for level, _ in entries):
        return "province", []
    cities = minimal_prefixes(code[:4] for level, code in entries if level is PoolLevel.CITY)
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


# How many of the task's required skills the member lacks (at its level): a subquery the database
# runs for each task in the box, through the task's own skills (ix_task_skills_task_id). Written
# as NOT EXISTS, PostgreSQL was free to make it a hash anti-join over every task's skills, and did
# at the million-member bench (2,156 rows read on every visit, for 26 tasks in the box).
_MISSING = (select(func.count()).select_from(TaskSkill).where(TaskSkill.task_id == Task.id, TaskSkill.required, ~_HELD)
            .scalar_subquery())


@functools.lru_cache(maxsize=32)
def _near_statement(reach: str, cities: int) -> Select:
    """tasks_near()'s statement for one form of widened reach, built once; the member's facts go in
    as parameters (_near_parameters). Conditions on Task that the hard filters would impose anyway
    (every required skill held at its level, a demand within their capacity, no outdoor work if
    they said so) let the database drop most tasks before they load."""
    widened = _widened(reach, cities)
    return select(*FACT_COLUMNS, widened.label("widened")).where(
        Task.status == TaskStatus.OPEN, or_(_AROUND, widened), _NOT_ON,
        _MISSING == 0,
        Task.demand.in_(bindparam("demands", expanding=True)),
        or_(bindparam("outdoor_ok", type_=Boolean), ~Task.outdoor))


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
    only by being widened. They are judged on their facts read as rows (gather.task_facts_of),
    and only those listed are loaded as tasks, to show (_shown_by_id). `context`:
    own_context(member), when the page has read it already."""
    own = context or own_context(member)
    reach, cities = own.reach   # widened tasks reach approved city and province talents further away
    base, declined = own.facts, own.declined
    found = db.session.execute(_near_statement(reach, len(cities)), _near_parameters(member, base, cities)).all()
    facts_by_id = task_facts_of(found)
    judged = []
    for row in found:
        facts = facts_by_id[row.id]
        m = replace(base, declined_org_recently=row.organization_id in declined)
        if row.widened:
            m = replace(m, widened=True)
        if exclusion(facts, m) is None:
            judged.append((score(facts, m), row.id))
    judged.sort(key=lambda pair: (-pair[0].score, pair[0].distance_km or 0, pair[1]))
    judged = judged[:limit]
    tasks = _shown_by_id([task_id for _, task_id in judged])
    return [(suggestion, tasks[task_id]) for suggestion, task_id in judged if task_id in tasks]


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
    own = context or own_context(member)
    found = _judge(_placed(member, own), own)
    found.sort(key=lambda n: (len(n.codes), n.distance_km or 0.0, n.task_id))
    return found


JUDGED_AT_ONCE = 16     # tasks judged per read while looking for the nearest near misses


def surroundings(member: MemberProfile, *, limit: int = 5,
                 context: OwnContext | None = None) -> tuple[int, list[Nearby]]:
    """What the empty list says, without judging every task around: how many open tasks are
    around the member (len(around())), and the nearest `limit` near misses with their tasks (the
    first near misses of around()). Tasks are judged nearest first, JUDGED_AT_ONCE at a time, until
    `limit` near misses are found."""
    own = context or own_context(member)
    placed = _placed(member, own)
    found: list[Around] = []
    for start in range(0, len(placed), JUDGED_AT_ONCE):
        found += [n for n in _judge(placed[start:start + JUDGED_AT_ONCE], own) if n.near_miss]
        if len(found) >= limit:
            break
    return len(placed), with_tasks(found[:limit])


def _placed(member: MemberProfile, own: OwnContext) -> list[tuple[float | None, Any]]:
    """The open tasks around a member as rows of FACT_COLUMNS, each with its distance from home,
    nearest first (online tasks, which have none, first), then by id: those in the circle of
    around(), not only its box."""
    reach = min(NEARBY_MAX_KM, max(NEARBY_MIN_KM, 2 * member.service_radius_km))
    placed = []
    for row in db.session.execute(_AROUND_STATEMENT, _around_parameters(member, reach)):
        d = place_distance_km(row.mode is TaskMode.REMOTE, row.lat, row.lon, own.facts)
        if d is None or d <= reach:     # not in the box's corner, outside the circle
            placed.append((d, row))
    placed.sort(key=lambda pair: (pair[0] or 0.0, pair[1].id))
    return placed


def _judge(placed: list[tuple[float | None, Any]], own: OwnContext) -> list[Around]:
    """The tasks of `placed` judged for the member, in the same order: their facts read in one go."""
    # The member as judged for a task of an organization they declined lately, and for any other.
    as_member = {False: replace(own.facts, declined_org_recently=False),
                 True: replace(own.facts, declined_org_recently=True)}
    facts_by_id = task_facts_of([row for _, row in placed])
    found = []
    for d, row in placed:
        facts = facts_by_id[row.id]
        m = as_member[facts.organization_id in own.declined]
        found.append(Around(row.id, miss_codes(facts, m), d, facts, m))
    return found


_AROUND_STATEMENT = select(*FACT_COLUMNS).where(Task.status == TaskStatus.OPEN, _AROUND, _NOT_ON)


def with_tasks(found: list[Around]) -> list[Nearby]:
    """`found` with their tasks, loaded in one read (with what a list of tasks shows, their
    organization and sessions: not their skills, which `found` was judged on already)."""
    if not found:
        return []
    tasks = _shown_by_id([n.task_id for n in found])
    return [Nearby(n.task_id, n.codes, n.distance_km, n.facts, n.member, tasks[n.task_id])
            for n in found if n.task_id in tasks]


def _shown_by_id(ids: list[int]) -> dict[int, Task]:
    """Tasks to show in a list (a card each: title, organization, schedule), by id, in one read:
    with their organization and sessions, not their skills (judged on already), assignments or
    the organization's region."""
    if not ids:
        return {}
    return {task.id: task for task in db.session.scalars(_shown(), {"ids": ids}).unique()}


@functools.cache
def _shown() -> Select:
    """_shown_by_id()'s read, built once (its loader options once every model is mapped)."""
    return (select(Task).where(Task.id.in_(bindparam("ids", expanding=True)))
            .options(lazyload(Task.assignments), lazyload(Task.skills), joinedload(Task.sessions),
                     joinedload(Task.organization).lazyload(Organization.region)))


def nearby(member: MemberProfile, *, limit: int = 50, context: OwnContext | None = None) -> list[Nearby]:
    """The first `limit` of around(), with their tasks: what 看看附近所有的服务 shows."""
    return with_tasks(around(member, context=context)[:limit])


def distance_between(task: Task, member: MemberProfile) -> float | None:
    if task.lat is None or task.lon is None:
        return None
    return haversine_km(task.lat, task.lon, member.lat, member.lon)
