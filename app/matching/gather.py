"""The facts a search needs, from the database: a task's (TaskFacts), one member's (MemberFacts),
and, for the few index rows that may make a list, the facts the index does not carry (blocked
dates, clashes, open invitations, refusals, recent hours), in one read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    Date,
    DateTime,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import CompoundSelect, Select

from app.clock import local_now, local_today, utcnow
from app.extensions import db
from app.matching.facts import MemberFacts, TaskFacts
from app.matching.reads import arrays, connection, native, one_of, read_native
from app.members.models import MemberProfile, Skill, UnavailablePeriod
from app.regions.models import Region, RegionLevel
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord, Task, TaskMode, TaskSession, TaskSkill

DECLINE_MEMORY_DAYS = 30   # a refusal holds a member back from the organization's tasks this long


class SkillAsked(NamedTuple):
    """One skill a task asks for, as TaskFacts are built from it."""

    skill_id: int
    min_level: int
    required: bool
    name: str


class SessionHeld(NamedTuple):
    starts_at: datetime
    ends_at: datetime
    cancelled: bool


def facts_of(task: Any, skills: Iterable[SkillAsked], sessions: Iterable[SessionHeld], now: datetime) -> TaskFacts:
    """A task's facts from its own columns (`task`: a Task, or a row of the same names) and its
    skills and sessions in their order (by id, by start), as read from the ORM or by
    task_facts_of(): the one place TaskFacts are built."""
    asked = list(skills)
    return TaskFacts(
        remote=task.mode is TaskMode.REMOTE, lat=task.lat, lon=task.lon, radius_km=task.radius_km,
        required={s.skill_id: s.min_level for s in asked if s.required},
        preferred={s.skill_id: s.min_level for s in asked if not s.required},
        demand=task.demand.rank, outdoor=task.outdoor, organization_id=task.organization_id,
        skill_names={s.skill_id: s.name for s in asked},
        sessions=tuple((s.starts_at, s.ends_at) for s in sessions if not s.cancelled and s.ends_at > now))


def task_facts(task: Task) -> TaskFacts:
    return facts_of(task, (SkillAsked(ts.skill_id, ts.min_level, ts.required, ts.skill.name) for ts in task.skills),
                    (SessionHeld(s.starts_at, s.ends_at, s.cancelled) for s in task.sessions), local_now())


# The columns of a task facts_of() reads: selected by whoever finds the tasks (task_facts_of).
FACT_COLUMNS = (Task.id, Task.mode, Task.lat, Task.lon, Task.radius_km, Task.demand, Task.outdoor,
                Task.organization_id)


def task_facts_of(tasks: Sequence[Any]) -> dict[int, TaskFacts]:
    """The facts of many tasks, each a row of FACT_COLUMNS, without loading them as Task objects:
    their skills and sessions in one read (for judging every task around a member, of which a page
    shows a few)."""
    if not tasks:
        return {}
    skills: dict[int, list[SkillAsked]] = defaultdict(list)
    sessions: dict[int, list[SessionHeld]] = defaultdict(list)
    for row in connection().execute(_asked_and_held(arrays()), {"ids": [t.id for t in tasks]}):
        if row.kind == 1:
            skills[row.task_id].append(SkillAsked(row.skill_id, row.min_level, row.required, row.name))
        else:
            sessions[row.task_id].append(SessionHeld(row.starts_at, row.ends_at, row.cancelled))
    now = local_now()
    return {t.id: facts_of(t, skills[t.id], sessions[t.id], now) for t in tasks}


@lru_cache(maxsize=2)
def _asked_and_held(array: bool) -> CompoundSelect:
    """task_facts_of()'s read, built once: the skills the tasks ask for (kind 1, with their names)
    and their sessions (kind 2), each in the order facts_of() takes them (by id, by start)."""
    skills, sessions = TaskSkill.__table__.c, SESSIONS
    no_number, no_text = cast(null(), Integer), cast(null(), String)
    # The first SELECT's columns give the result its types: those of the sessions' columns.
    no_time, no_flag = cast(null(), sessions.starts_at.type), cast(null(), sessions.cancelled.type)
    asked = (select(literal_column("1").label("kind"), skills.task_id, skills.id.label("position"), skills.skill_id,
                    skills.min_level, skills.required, Skill.__table__.c.name, no_time.label("starts_at"),
                    no_time.label("ends_at"), no_flag.label("cancelled"))
             .join(Skill.__table__, Skill.__table__.c.id == skills.skill_id).where(one_of(skills.task_id, "ids", array)))
    held = select(literal_column("2"), sessions.task_id, no_number, no_number, no_number, null(), no_text,
                  sessions.starts_at, sessions.ends_at, sessions.cancelled).where(one_of(sessions.task_id, "ids", array))
    return union_all(asked, held).order_by(literal_column("kind"), literal_column("position"),
                                           literal_column("starts_at"))


def city_of(task: Task) -> str | None:
    """The code of the city a task's county belongs to, if any."""
    found = db.session.execute(_city_statement(), {"code": task.region_code}).first()
    return found.code if found is not None and found.level is RegionLevel.CITY else None


@lru_cache(maxsize=1)
def _city_statement() -> Select:
    """The code and level of the region above a county (parameter `code`), built once."""
    county, parent = Region.__table__.alias("county"), Region.__table__.alias("parent")
    return (select(parent.c.code, parent.c.level).select_from(county.join(parent, county.c.parent_code == parent.c.code))
            .where(county.c.code == bindparam("code", type_=String())))


BLOCKED, SESSIONS, ASSIGNMENTS, TASKS, RECORDS = (
    UnavailablePeriod.__table__.c, TaskSession.__table__.c, Assignment.__table__.c, Task.__table__.c,
    ServiceRecord.__table__.c)


class FactRow(NamedTuple):
    """One row of the completion read (its columns in order): an assignment (kind 1, with the
    session of an accepted one that overlaps the task), a period away (2) or recent hours (3)."""

    kind: int
    member_id: int
    status: AssignmentStatus | str | None   # a string when read on the driver
    task_id: int | None
    updated_at: datetime | None
    organization_id: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    start_date: date | None
    end_date: date | None
    hours: float | None


def _status(status: AssignmentStatus) -> ColumnElement[Any]:
    """A status as the SQL literal it is stored as: no parameter, so that the statement compiled
    once for the driver holds no list SQLAlchemy would expand."""
    return literal_column(f"'{status.value}'")


@lru_cache(maxsize=2)
def _completion_statement(array: bool) -> CompoundSelect:
    """The one read of complete(), built once: its selects (completion_selects) for the members
    given as parameter `ids`."""
    return union_all(*completion_selects(lambda column: one_of(column, "ids", array)))


# Each completion row's columns after kind and member_id (FactRow's), typed as the read gives them.
FACT_TYPES: tuple[Any, ...] = (ASSIGNMENTS.status.type, Integer(), ASSIGNMENTS.updated_at.type, Integer(),
                               SESSIONS.starts_at.type, SESSIONS.ends_at.type, Date(), Date(), Float())


def completion_selects(among: Callable[[Any], ColumnElement[bool]],
                       lead: Callable[[Any, Any], list[Any]] = lambda kind, member: [kind, member]) -> list[Select]:
    """The SELECTs of the completion read, told apart by their kind (FactRow): the members'
    assignments (with the sessions of the accepted ones that overlap the task), their blocked dates
    in the task's span and their recent hours, for the members `among` holds (given the member
    column). `lead`: the columns that come before FactRow's others, from a row's kind and member
    (by default those two), so that an index read can bring completion rows along (query.with_facts)."""
    first, last = bindparam("first", type_=DateTime()), bindparam("last", type_=DateTime())
    clashing = and_(SESSIONS.task_id == ASSIGNMENTS.task_id, ASSIGNMENTS.status == _status(AssignmentStatus.ACCEPTED),
                    ASSIGNMENTS.task_id != bindparam("task_id", type_=Integer()), ~SESSIONS.cancelled,
                    SESSIONS.ends_at > first, SESSIONS.starts_at < last)
    # Whose task a refusal was for: looked up for refusals only (a few rows), not joined for all.
    organization = case((ASSIGNMENTS.status == _status(AssignmentStatus.DECLINED),
                         select(TASKS.organization_id).where(TASKS.id == ASSIGNMENTS.task_id).scalar_subquery()))
    no_date, no_time, no_number = cast(null(), Date), cast(null(), DateTime), cast(null(), Float)
    assignments = (
        select(*lead(literal_column("1").label("kind"), ASSIGNMENTS.member_id), ASSIGNMENTS.status,
               ASSIGNMENTS.task_id, ASSIGNMENTS.updated_at, organization.label("organization_id"), SESSIONS.starts_at,
               SESSIONS.ends_at, no_date.label("start_date"), no_date.label("end_date"), no_number.label("hours"))
        .select_from(Assignment.__table__).outerjoin(TaskSession.__table__, clashing)
        .where(among(ASSIGNMENTS.member_id), ASSIGNMENTS.status.in_(
            [_status(AssignmentStatus.INVITED), _status(AssignmentStatus.DECLINED), _status(AssignmentStatus.ACCEPTED)])))
    blocked = select(*lead(literal_column("2"), BLOCKED.member_id), null(), null(), no_time, null(), no_time, no_time,
                     BLOCKED.start_date, BLOCKED.end_date, no_number).where(
        among(BLOCKED.member_id), BLOCKED.end_date >= bindparam("first_day", type_=Date()),
        BLOCKED.start_date <= bindparam("last_day", type_=Date()))
    hours = select(*lead(literal_column("3"), RECORDS.member_id), null(), null(), no_time, null(), no_time, no_time,
                   no_date, no_date, cast(func.sum(RECORDS.hours), Float)).where(
        among(RECORDS.member_id), RECORDS.attended,
        RECORDS.served_on >= bindparam("since", type_=Date())).group_by(RECORDS.member_id)
    return [assignments, blocked, hours]


def completion_params(task: Task, facts: TaskFacts) -> dict[str, Any]:
    """The completion read's parameters but the members (`ids`): the task and its span."""
    first = min((s for s, _ in facts.sessions), default=local_now())
    last = max((e for _, e in facts.sessions), default=first)
    return {"task_id": task.id, "first": first, "last": last, "first_day": first.date(), "last_day": last.date(),
            "since": local_today() - timedelta(days=DECLINE_MEMORY_DAYS)}


def complete(task: Task, facts: TaskFacts, partial: list[MemberFacts],
             known: Mapping[int, list[FactRow]] | None = None) -> list[MemberFacts]:
    """Add what the index does not carry: blocked dates, clashes with accepted tasks, open
    invitations, recent refusals of this organization and recent hours, in one read. The skills a
    task asks for came with the index rows. `known`: the completion rows of members read already
    (every one of theirs; none for a member who has none), who are not read again."""
    known = known or {}
    rows = [row for m in partial for row in known.get(m.member_id, ())]
    ids = [m.member_id for m in partial if m.member_id not in known]
    if ids:
        rows.extend(map(FactRow._make, _read_facts({"ids": ids, **completion_params(task, facts)})))
    busy: dict[int, list] = defaultdict(list)
    blocked: dict[int, list] = defaultdict(list)
    pending: dict[int, int] = defaultdict(int)
    declined: set[int] = set()
    hours: dict[int, float] = {}
    recently = utc_days_ago(DECLINE_MEMORY_DAYS)
    for row in rows:
        kind, member_id = int(row.kind), row.member_id
        if kind == 2:
            blocked[member_id].append((row.start_date, row.end_date))
            continue
        if kind == 3:
            hours[member_id] = float(row.hours or 0)
            continue
        status = AssignmentStatus(row.status)
        if status is AssignmentStatus.INVITED:
            pending[member_id] += 1
        elif status is AssignmentStatus.DECLINED:
            if (row.organization_id == task.organization_id and row.task_id != task.id
                    and row.updated_at is not None and row.updated_at >= recently):
                declined.add(member_id)
        elif row.starts_at is not None:
            busy[member_id].append((row.starts_at, row.ends_at))
    found = blocked.keys() | busy.keys() | pending.keys() | declined | hours.keys()
    return [replace(m, unavailable=tuple(blocked.get(m.member_id, ())),
                    busy=tuple(busy.get(m.member_id, ())), open_invitations=pending.get(m.member_id, 0),
                    declined_org_recently=m.member_id in declined, hours_30d=hours.get(m.member_id, 0.0))
            if m.member_id in found or not _plain(m) else m
            for m in partial]


def _plain(m: MemberFacts) -> bool:
    """Whether `m` holds no fact the completion read adds (complete() would set them all to
    these values for a member it found nothing for)."""
    return (m.unavailable == () and m.busy == () and m.open_invitations == 0 and not m.declined_org_recently
            and m.hours_30d == 0.0)


def _read_facts(params: dict[str, Any]) -> Sequence[Sequence[Any]]:
    """The rows of the completion read: on PostgreSQL on the driver, as the index reads."""
    if arrays():
        return read_native(_native_completion(), params)
    return connection().execute(_completion_statement(False), params).all()


@lru_cache(maxsize=1)
def _native_completion() -> tuple[str, tuple[str, ...], dict[str, Any]]:
    return native(_completion_statement(True), COMPLETION_PARAMETERS)


SPAN_PARAMETERS = ("task_id", "first", "last", "first_day", "last_day", "since")   # completion_params()' names
COMPLETION_PARAMETERS = ("ids", *SPAN_PARAMETERS)


def utc_days_ago(days: int) -> datetime:
    return utcnow() - timedelta(days=days)


def profile_facts(member: MemberProfile, skills: dict[int, int], pool_rank: int) -> MemberFacts:
    """A member's facts from their profile's own columns, given their active skills (skill id →
    level) and pool rank, read from the profile's lists (member_facts) or with the rest of their
    own facts in one statement (near_me.own_context)."""
    return MemberFacts(
        member_id=member.id, lat=member.lat, lon=member.lon, radius_km=member.service_radius_km, skills=skills,
        capacity=(member.capacity.rank if member.capacity else 1), availability_mask=member.availability_mask,
        consent=member.has_consent, active=member.status.value == "active", no_night=member.no_night,
        no_outdoor=member.no_outdoor, max_hours_week=member.max_hours_week, pool_rank=pool_rank)


def member_facts(member: MemberProfile, task: Task | None = None) -> MemberFacts:
    """Every fact about one member (for checking an invitation, or their own list of tasks)."""
    partial = profile_facts(member, {s.skill_id: s.level for s in member.skills if s.skill.active}, member.pool_rank)
    if task is None:
        return partial
    facts = task_facts(task)
    completed = complete(task, facts, [partial])[0]
    on_task = db.session.scalar(select(Assignment.id).where(Assignment.task_id == task.id,
                                                            Assignment.member_id == member.id)) is not None
    return replace(completed, on_task=on_task)
