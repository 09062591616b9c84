"""Gathering the facts matching needs, fast (DESIGN §5).

Step 1 reads only the narrow skill-location index (one covering B-tree range per query) with plain
Core SELECTs and filters on the cheap facts it carries. Step 2 ranks survivors by an upper bound on
their score and loads the remaining facts (other skills, blocked dates, clashes, open invitations,
declines, recent hours) for as few as it takes to be sure of the top results. Only those results
are loaded as ORM objects.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import and_, case, exists, func, literal_column, or_, select
from sqlalchemy.orm import lazyload

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
from app.regions.geo import bounding_box, haversine_km, sql_haversine_km
from app.regions.models import Region, RegionLevel
from app.regions.scope import code_within
from app.tasks import matching
from app.tasks.matching import MemberFacts, Suggestion, TaskFacts
from app.tasks.models import LIVE_ASSIGNMENT, Assignment, AssignmentStatus, Task, TaskMode, TaskSession, TaskStatus
from app.tasks.services import hours_since

BATCH = 60          # candidates completed at first; doubled each round while the top may still change
MAX_BATCH = 960
PAGE = 200          # index rows each query hands over first, most promising first (see _sql_bound)
TIE = 5e-6          # scores this close are equal: bounds carry a few millionths of headroom
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

INDEX_COLUMNS = (SkillLocation.member_id, SkillLocation.lat, SkillLocation.lon, SkillLocation.radius_km,
                 SkillLocation.capacity, SkillLocation.availability_mask, SkillLocation.limits,
                 SkillLocation.pool_rank, SkillLocation.level)
KM_PER_DEGREE = 111.195   # along a meridian, on the mean-radius sphere of haversine_km()


def _index_query(facts: TaskFacts, judge: matching.QuickJudge):
    """The index rows of members who hold the anchor skill and pass the filters SQL can apply
    cheaply: capacity, night and outdoor limits, and the weekly grid."""
    anchor, level = _anchor_skill(facts)
    stmt = select(*INDEX_COLUMNS).where(SkillLocation.capacity >= facts.demand)
    if anchor is not None:
        stmt = stmt.where(SkillLocation.skill_id == anchor, SkillLocation.level >= level)
    if judge.forbidden_limits:
        stmt = stmt.where(SkillLocation.limits.op("&")(judge.forbidden_limits) == 0)
    if judge.needed_mask:
        stmt = stmt.where(SkillLocation.availability_mask.op("&")(judge.needed_mask) != 0)
    return stmt


def _within_own_radius(facts: TaskFacts):
    """Members whose own service radius reaches the task, by a flat-earth distance with 2 % to spare
    (the exact great-circle test follows in Python): keeps far-from-home rows out of Python."""
    ky = KM_PER_DEGREE
    kx = KM_PER_DEGREE * math.cos(math.radians(facts.lat))
    dy, dx = SkillLocation.lat - facts.lat, SkillLocation.lon - facts.lon
    reach = SkillLocation.radius_km * 1.02 + 0.1
    return dy * dy * (ky * ky) + dx * dx * (kx * kx) <= reach * reach


def _sql_bound(facts: TaskFacts, judge: matching.QuickJudge, *, widened: bool):
    """QuickJudge's bound as a SQL expression (the same arithmetic, the great-circle distance by
    sql_haversine_km), a hair above it so that float noise never puts it below: lets the database
    hand over the most promising rows first."""
    w = matching.WEIGHTS
    n = len(facts.required)
    scale = w["skill"] * (0.85 if facts.preferred else 1.0)
    total = literal_column(repr(judge.constant + w["skill"] * (0.15 if facts.preferred else 0.0) + 4e-6))
    if n:
        total = total + SkillLocation.level * (scale / (3 * n)) + scale * (n - 1) / n
    else:
        total = total + scale * 0.5
    if judge.slots:
        share = w["availability"] / len(facts.sessions)
        for bit, count in judge.slots:
            total = total + case((SkillLocation.availability_mask.op("&")(bit) != 0, share * count), else_=0.0)
    else:
        total = total + w["availability"]
    if judge.pool_weight:
        total = total + SkillLocation.pool_rank * judge.pool_weight
    if not facts.remote:
        d = sql_haversine_km(SkillLocation.lat, SkillLocation.lon, facts.lat, facts.lon) * (1 - 1e-9)
        if widened:
            part = 1.0 - d / matching.WIDENED_REACH_KM
            total = total + w["distance"] * case((part > 0, part), else_=0.0)
        else:
            reach = case((SkillLocation.radius_km < facts.radius_km, SkillLocation.radius_km * 1.0),
                         else_=float(facts.radius_km))
            total = total + w["distance"] * (1.0 - d / reach)
    return total.label("bound")


def _index_rows(task: Task, facts: TaskFacts, judge: matching.QuickJudge, widen: str | None,
                page: int | None = None):
    """The index rows worth judging and which of them a widened search reached. With `page`, each
    query hands over only its `page` most promising rows, and the highest bound an unread row
    could have is returned too (None when nothing was left unread)."""
    stmt = _index_query(facts, judge)
    if not facts.remote:
        box = bounding_box(facts.lat, facts.lon, facts.radius_km)
        near = stmt.where(SkillLocation.lat.between(box.min_lat, box.max_lat),
                          SkillLocation.lon.between(box.min_lon, box.max_lon), _within_own_radius(facts))
    else:
        near = stmt.where(SkillLocation.region_code == task.region_code)
    queries = [(near, False)]
    if widen:
        queries.append((_talents(stmt, task, widen), True))
    rows: dict[int, object] = {}
    widened: set[int] = set()
    unread = None
    for query, far in queries:
        if page is not None:
            bound = _sql_bound(facts, judge, widened=far)
            query = query.add_columns(bound).order_by(bound.desc(), SkillLocation.member_id).limit(page)
        found = db.session.execute(query).all()
        if page is not None and len(found) == page:
            unread = max(unread if unread is not None else 0.0, found[-1].bound)
        for row in found:
            rows.setdefault(row.member_id, row)
            if far:
                widened.add(row.member_id)
    return list(rows.values()), widened, unread


def _talents(stmt, task: Task, widen: str):
    """The approved talents a widened search reaches: province talents (pool_rank 3) for either
    widening, and for a widening to the city the talents approved by this task's city. Read through
    the partial index ix_member_skill_index_talents, whose predicate is repeated word for word."""
    stmt = stmt.where(SkillLocation.pool_rank >= literal_column("2"))
    county = db.session.get(Region, task.region_code)
    city = db.session.get(Region, county.parent_code) if county.parent_code else None
    if widen != "city" or city is None or city.level is not RegionLevel.CITY:
        return stmt.where(SkillLocation.pool_rank == 3)
    approved_here = exists().where(PoolEntry.member_id == SkillLocation.member_id, PoolEntry.level == PoolLevel.CITY,
                                   PoolEntry.region_code == city.code, PoolEntry.status == EntryStatus.APPROVED)
    return stmt.where(or_(SkillLocation.pool_rank == 3, approved_here))


def _anchor_skill(facts: TaskFacts) -> tuple[int | None, int]:
    """The required skill whose index range to read (the highest minimum level narrows most)."""
    if not facts.required:
        return None, 1
    skill_id = max(facts.required, key=lambda s: (facts.required[s], -s))
    return skill_id, facts.required[skill_id]


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
    # Open invitations anywhere, and recent refusals of this organization, in one read.
    pending: dict[int, int] = defaultdict(int)
    declined: set[int] = set()
    recently = _utc_days_ago(DECLINE_MEMORY_DAYS)
    for member_id, status, organization_id, task_id, updated_at in db.session.execute(
            select(Assignment.member_id, Assignment.status, Task.organization_id, Assignment.task_id,
                   Assignment.updated_at).join(Task, Task.id == Assignment.task_id).where(
            Assignment.member_id.in_(ids),
            Assignment.status.in_([AssignmentStatus.INVITED, AssignmentStatus.DECLINED]))):
        if status is AssignmentStatus.INVITED:
            pending[member_id] += 1
        elif organization_id == task.organization_id and task_id != task.id and updated_at >= recently:
            declined.add(member_id)
    since = local_today() - timedelta(days=DECLINE_MEMORY_DAYS)
    hours = hours_since(ids, since)
    return [replace(m, skills=skills.get(m.member_id, {}), unavailable=tuple(blocked.get(m.member_id, ())),
                    busy=tuple(busy.get(m.member_id, ())), open_invitations=pending.get(m.member_id, 0),
                    declined_org_recently=m.member_id in declined, hours_30d=hours.get(m.member_id, 0.0))
            for m in partial]


def _utc_days_ago(days: int):
    from app.db import utcnow

    return utcnow() - timedelta(days=days)


def suggest(task: Task, *, limit: int = 20, widen: str | None = None) -> list[Suggestion]:
    """The best members for a task, best first, each with its reasons."""
    facts = task_facts(task)
    judge = matching.QuickJudge(facts)
    widen = widen if widen is not None else task.widen_to
    on_task = set(db.session.scalars(select(Assignment.member_id).where(Assignment.task_id == task.id)))
    rows, widened, unread = _index_rows(task, facts, judge, widen, page=PAGE)
    best = _best(task, facts, judge, rows, widened, on_task, limit)
    if unread is not None and (len(best) < limit or best[limit - 1].score + TIE < unread):
        # An unread row might still make the list: read them all.
        rows, widened, _ = _index_rows(task, facts, judge, widen)
        best = _best(task, facts, judge, rows, widened, on_task, limit)
    return best


def _best(task, facts, judge, rows, widened, on_task, limit) -> list[Suggestion]:
    """Complete and score candidates in order of their bound, in growing batches, until no bound
    left can beat the list."""
    bounded = judge.bounds(rows, widened=widened, skip=on_task)
    bounded.sort(key=lambda pair: (-pair[0], pair[1].member_id))
    best: list[Suggestion] = []
    start, size = 0, BATCH
    while start < len(bounded):
        batch = bounded[start:start + size]
        start, size = start + size, min(size * 2, MAX_BATCH)
        if len(best) >= limit and batch[0][0] <= best[limit - 1].score + TIE:
            break   # nobody left can beat the list (an equal score only ties, and ties go by reading order)
        partial = [_partial_facts(row, widened) for _, row in batch]
        best.extend(matching.rank(facts, _complete(task, facts, partial), limit=limit))
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
    widened = bool(task.widen_to) and db.session.scalar(
        _talents(select(SkillLocation.member_id), task, task.widen_to)
        .where(SkillLocation.member_id == member.id).limit(1)) is not None
    m = replace(member_facts(member, task), widened=widened)
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


def _widened_reach(member: MemberProfile):
    """Which widened tasks reach this member (the mirror of _talents): tasks widened to the
    city, in the cities whose pool approved them, and any widened task for a province talent."""
    approved = [e for e in member.pool_entries if e.status is EntryStatus.APPROVED]
    if any(e.level is PoolLevel.PROVINCE for e in approved):
        return Task.widen_to.is_not(None)
    cities = [e.region_code for e in approved if e.level is PoolLevel.CITY]
    if not cities:
        return None
    return and_(Task.widen_to == "city", code_within(Task.region_code, [c[:4] for c in cities]))


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
    reach = _widened_reach(member)   # widened tasks reach approved city and province talents further away
    widened_ids = set(db.session.scalars(select(Task.id).where(Task.status == TaskStatus.OPEN, reach))) \
        if reach is not None else set()
    ids |= widened_ids
    if not ids:
        return []
    ids -= set(db.session.scalars(select(Assignment.task_id).where(Assignment.member_id == member.id,
                                                                   Assignment.task_id.in_(ids))))
    base, declined = _own_context(member)
    results = []
    # Only what matching reads: a task's assignments (and their members) are not needed here.
    for task in db.session.scalars(select(Task).where(Task.id.in_(ids)).options(lazyload(Task.assignments))).all():
        facts = task_facts(task)
        m = replace(base, declined_org_recently=task.organization_id in declined)
        if task.id in widened_ids:
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
