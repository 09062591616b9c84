"""Gathering the facts matching needs, fast (DESIGN §5).

Step 1 reads only the narrow skill-location index (one covering B-tree range per query) with plain
Core SELECTs and filters on the cheap facts it carries. Step 2 ranks survivors by an upper bound on
their score and loads the remaining facts (other skills, blocked dates, clashes, open invitations,
declines, recent hours) for as few as it takes to be sure of the top results. Only those results
are loaded as ORM objects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import and_, func, select

from app.clock import local_now, local_today
from app.extensions import db
from app.members.models import (
    EntryStatus,
    MemberProfile,
    MemberSkill,
    PoolEntry,
    PoolLevel,
    Skill,
    SkillLocation,
    UnavailablePeriod,
)
from app.regions.geo import bounding_box, haversine_km
from app.regions.models import Region
from app.tasks import matching
from app.tasks.matching import MemberFacts, Suggestion, TaskFacts
from app.tasks.models import LIVE_ASSIGNMENT, Assignment, AssignmentStatus, Task, TaskMode, TaskSession, TaskStatus
from app.tasks.services import hours_since

BATCH = 60
DECLINE_MEMORY_DAYS = 30


def task_facts(task: Task) -> TaskFacts:
    now = local_now()
    names = {ts.skill_id: ts.skill.name for ts in task.skills}
    return TaskFacts(
        remote=task.mode is TaskMode.REMOTE, lat=task.lat, lon=task.lon, radius_km=task.radius_km,
        required={ts.skill_id: ts.min_level for ts in task.skills if ts.required},
        preferred={ts.skill_id: ts.min_level for ts in task.skills if not ts.required},
        demand=task.demand.rank, outdoor=task.outdoor, organization_id=task.organization_id, skill_names=names,
        sessions=tuple((s.starts_at, s.ends_at) for s in task.sessions if not s.cancelled and s.ends_at > now))


# --- step 1: the index --------------------------------------------------------------------------


def _index_rows(task: Task, facts: TaskFacts, widen: str | None):
    """(member_id, lat, lon, radius, capacity, mask, limits, pool_rank, level) from the index."""
    anchor, level = _anchor_skill(facts)
    columns = (SkillLocation.member_id, SkillLocation.lat, SkillLocation.lon, SkillLocation.radius_km,
               SkillLocation.capacity, SkillLocation.availability_mask, SkillLocation.limits,
               SkillLocation.pool_rank, SkillLocation.level)
    stmt = select(*columns).where(SkillLocation.capacity >= facts.demand)
    if anchor is not None:
        stmt = stmt.where(SkillLocation.skill_id == anchor, SkillLocation.level >= level)
    rows = []
    if not facts.remote:
        box = bounding_box(facts.lat, facts.lon, facts.radius_km)
        near = stmt.where(SkillLocation.lat.between(box.min_lat, box.max_lat),
                          SkillLocation.lon.between(box.min_lon, box.max_lon))
        rows.extend(db.session.execute(near).all())
    else:
        county = select(MemberProfile.id).where(MemberProfile.region_code == task.region_code)
        rows.extend(db.session.execute(stmt.where(SkillLocation.member_id.in_(county))).all())
    if widen:
        rows.extend(db.session.execute(stmt.where(SkillLocation.member_id.in_(_widened_pool(task, widen)))).all())
    seen, unique = set(), []
    for row in rows:
        if row.member_id not in seen:
            seen.add(row.member_id)
            unique.append(row)
    return unique


def _anchor_skill(facts: TaskFacts) -> tuple[int | None, int]:
    """The required skill whose index range to read (the highest minimum level narrows most)."""
    if not facts.required:
        return None, 1
    skill_id = max(facts.required, key=lambda s: (facts.required[s], -s))
    return skill_id, facts.required[skill_id]


def _widened_pool(task: Task, widen: str):
    """Approved city-pool talents of the task's city (and province talents), for a widened search."""
    county = db.session.get(Region, task.region_code)
    city_code = county.parent_code if widen == "city" else None
    levels = [PoolLevel.PROVINCE] + ([PoolLevel.CITY] if widen == "city" else [])
    clause = and_(PoolEntry.status == EntryStatus.APPROVED, PoolEntry.level.in_(levels))
    if city_code:
        clause = and_(clause, (PoolEntry.region_code == city_code) | (PoolEntry.level == PoolLevel.PROVINCE))
    return select(PoolEntry.member_id).where(clause)


def _partial_facts(row, widened: set[int]) -> MemberFacts:
    return MemberFacts(member_id=row.member_id, lat=row.lat, lon=row.lon, radius_km=row.radius_km, skills={},
                       widened=row.member_id in widened,
                       capacity=row.capacity, availability_mask=row.availability_mask,
                       no_night=bool(row.limits & 1), no_outdoor=bool(row.limits & 2), pool_rank=row.pool_rank)


# --- step 2: the rest of the facts, for the few that may make the top ---------------------------


def _complete(task: Task, facts: TaskFacts, partial: list[MemberFacts]) -> list[MemberFacts]:
    ids = [m.member_id for m in partial]
    skills: dict[int, dict[int, int]] = defaultdict(dict)
    for member_id, skill_id, level in db.session.execute(
            select(MemberSkill.member_id, MemberSkill.skill_id, MemberSkill.level)
            .join(Skill, Skill.id == MemberSkill.skill_id).where(MemberSkill.member_id.in_(ids), Skill.active)):
        skills[member_id][skill_id] = level
    first = min((s for s, _ in facts.sessions), default=local_now())
    last = max((e for _, e in facts.sessions), default=first)
    blocked: dict[int, list] = defaultdict(list)
    for member_id, a, b in db.session.execute(select(
            UnavailablePeriod.member_id, UnavailablePeriod.start_date, UnavailablePeriod.end_date).where(
            UnavailablePeriod.member_id.in_(ids), UnavailablePeriod.end_date >= first.date(),
            UnavailablePeriod.start_date <= last.date())):
        blocked[member_id].append((a, b))
    busy: dict[int, list] = defaultdict(list)
    for member_id, s, e in db.session.execute(select(Assignment.member_id, TaskSession.starts_at, TaskSession.ends_at)
            .join(TaskSession, TaskSession.task_id == Assignment.task_id).where(
            Assignment.member_id.in_(ids), Assignment.status == AssignmentStatus.ACCEPTED,
            Assignment.task_id != task.id, ~TaskSession.cancelled,
            TaskSession.ends_at > first, TaskSession.starts_at < last)):
        busy[member_id].append((s, e))
    pending = dict(db.session.execute(select(Assignment.member_id, func.count()).where(
        Assignment.member_id.in_(ids), Assignment.status == AssignmentStatus.INVITED)
        .group_by(Assignment.member_id)).all())
    since = local_today() - timedelta(days=DECLINE_MEMORY_DAYS)
    declined = set(db.session.scalars(select(Assignment.member_id).join(Task, Task.id == Assignment.task_id).where(
        Assignment.member_id.in_(ids), Assignment.status == AssignmentStatus.DECLINED,
        Task.organization_id == task.organization_id, Assignment.task_id != task.id,
        Assignment.updated_at >= _utc_days_ago(DECLINE_MEMORY_DAYS))))
    hours = hours_since(ids, since)
    return [replace(m, skills=skills.get(m.member_id, {}), unavailable=tuple(blocked.get(m.member_id, ())),
                    busy=tuple(busy.get(m.member_id, ())), open_invitations=pending.get(m.member_id, 0),
                    declined_org_recently=m.member_id in declined, hours_30d=hours.get(m.member_id, 0.0))
            for m in partial]


def _utc_days_ago(days: int):
    from app.db import utcnow

    return utcnow() - timedelta(days=days)


def _cheap_exclusion(facts: TaskFacts, m: MemberFacts) -> bool:
    """The hard filters the index alone can decide (with every other fact assumed favourable)."""
    optimistic = replace(m, skills={s: 3 for s in facts.required})
    return matching.exclusion(facts, optimistic) is not None


def suggest(task: Task, *, limit: int = 20, widen: str | None = None) -> list[Suggestion]:
    """The best members for a task, best first, each with its reasons."""
    facts = task_facts(task)
    widen = widen if widen is not None else task.widen_to
    rows = _index_rows(task, facts, widen)
    on_task = set(db.session.scalars(select(Assignment.member_id).where(Assignment.task_id == task.id)))
    widened = set(db.session.scalars(_widened_pool(task, widen))) if widen else set()
    partial = []
    for row in rows:
        if row.member_id in on_task:
            continue
        m = _partial_facts(row, widened)
        if not _cheap_exclusion(facts, m):
            partial.append(m)
    bounded = sorted(((matching.upper_bound(facts, replace(m, skills={s: 3 for s in facts.required} |
                                                             {s: 3 for s in facts.preferred})), m)
                      for m in partial), key=lambda pair: -pair[0])
    best: list[Suggestion] = []
    for start in range(0, len(bounded), BATCH):
        batch = bounded[start:start + BATCH]
        if len(best) >= limit and batch[0][0] < best[limit - 1].score:
            break
        best.extend(matching.rank(facts, _complete(task, facts, [m for _, m in batch]), limit=limit))
        best.sort(key=lambda s: (-s.score, s.distance_km if s.distance_km is not None else 1e9, s.member_id))
        best = best[:limit]
    return best


# --- single members: invitations and the member's own view --------------------------------------


def member_facts(member: MemberProfile, task: Task | None = None) -> MemberFacts:
    """Every fact about one member (for checking an invitation, or their own list of tasks)."""
    partial = MemberFacts(
        member_id=member.id, lat=member.lat, lon=member.lon, radius_km=member.service_radius_km, skills={},
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
    widened = task.widen_to and member.id in set(db.session.scalars(_widened_pool(task, task.widen_to)))
    m = replace(member_facts(member, task), widened=bool(widened))
    return matching.exclusion(facts, m)


def reasons_for(task: Task, member: MemberProfile) -> str:
    return matching.score(task_facts(task), member_facts(member, task)).reason_text


def _own_context(member: MemberProfile) -> tuple[MemberFacts, set[int]]:
    """One member's facts for judging many tasks at once, and the organizations they declined lately."""
    now = local_now()
    facts = member_facts(member)
    skills = {s.skill_id: s.level for s in member.skills if s.skill.active}
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
    return replace(facts, skills=skills, unavailable=blocked, busy=busy, open_invitations=pending,
                   hours_30d=hours), declined


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
    if member.pool_rank >= 2:   # widened tasks reach approved city and province talents further away
        ids |= set(db.session.scalars(select(Task.id).where(Task.status == TaskStatus.OPEN,
                                                            Task.widen_to.is_not(None))))
    if not ids:
        return []
    ids -= set(db.session.scalars(select(Assignment.task_id).where(Assignment.member_id == member.id,
                                                                   Assignment.task_id.in_(ids))))
    base, declined = _own_context(member)
    results = []
    for task in db.session.scalars(select(Task).where(Task.id.in_(ids))).all():
        facts = task_facts(task)
        m = replace(base, declined_org_recently=task.organization_id in declined)
        if task.widen_to and member.pool_rank >= (2 if task.widen_to == "city" else 3):
            m = replace(m, widened=True)
        if matching.exclusion(facts, m) is None:
            results.append((matching.score(facts, m), task))
    results.sort(key=lambda pair: (-pair[0].score, pair[0].distance_km or 0, pair[1].id))
    return results[:limit]


def live_assignments(member: MemberProfile):
    return select(Assignment).where(Assignment.member_id == member.id, Assignment.status.in_(LIVE_ASSIGNMENT))


def distance_between(task: Task, member: MemberProfile) -> float | None:
    if task.lat is None:
        return None
    return haversine_km(task.lat, task.lon, member.lat, member.lon)
