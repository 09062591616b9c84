"""The fast path gives exactly the list an exhaustive judgement would, on the benchmark's population.

bench/population.py fills a province the way the services would; here a few thousand members of it
are judged one by one with the pure module (every fact loaded, every member, no index), and the
candidate lists that app.tasks.candidates builds from the index must be the same, score for score.
"""

from dataclasses import replace

import pytest
from sqlalchemy import select

from app.matching import gather, near_me, search
from app.matching import score as matching
from app.members.index import index_rows
from app.members.models import EntryStatus, MemberProfile, PoolLevel, SkillLocation
from app.tasks.models import Task, TaskStatus

MEMBERS = 4000


@pytest.fixture
def province(db, monkeypatch):
    from bench import population

    monkeypatch.setattr(population, "_finish", lambda: None)   # no VACUUM inside the test's transaction
    population.fill(MEMBERS, seed=7, log=lambda *_: None)
    db.session.expire_all()
    return population


def _reach_of(task: Task, widen: str | None):
    """Whether a widened search reaches a member, from their pool entries (not the index)."""
    city = gather.city_of(task)

    def reached(member: MemberProfile) -> bool:
        if widen is None:
            return False
        approved = {e.level: e.region_code for e in member.pool_entries if e.status is EntryStatus.APPROVED}
        return PoolLevel.PROVINCE in approved or (widen == "city" and approved.get(PoolLevel.CITY) == city)

    return reached


def exhaustive(task: Task, members: list[MemberProfile], base: list, widen: str | None, limit: int) -> list:
    """Every member judged by the pure module, with every fact loaded."""
    facts = gather.task_facts(task)
    on_task = {a.member_id for a in task.assignments}
    reached = _reach_of(task, widen)
    everyone = []
    for f, m in zip(base, members, strict=True):
        widened = f.pool_rank >= 2 and reached(m)
        if task.lat is None and not widened and m.region_code != task.region_code:
            continue        # a remote task asks its own county (and whoever a widening reaches)
        if widened or m.id in on_task:
            f = replace(f, on_task=m.id in on_task, widened=widened)
        if matching.exclusion(facts, f) is None:
            everyone.append(f)
    # Facts the index does not carry can only exclude more: load them for those the rest let through.
    return matching.rank(facts, [_completed(f, task, facts) for f in everyone], limit=limit)


def _completed(f, task: Task, facts) -> "matching.MemberFacts":
    """Every fact outside the index, loaded through the ORM (not gather.complete)."""
    from datetime import timedelta

    from app.clock import local_today
    from app.db import utcnow
    from app.extensions import db
    from app.members.models import UnavailablePeriod
    from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord

    first = min((s for s, _ in facts.sessions))
    last = max((e for _, e in facts.sessions))
    blocked = tuple((p.start_date, p.end_date) for p in db.session.scalars(
        select(UnavailablePeriod).where(UnavailablePeriod.member_id == f.member_id)) if
        p.end_date >= first.date() and p.start_date <= last.date())
    busy, invited, declined = [], 0, False
    for a in db.session.scalars(select(Assignment).where(Assignment.member_id == f.member_id)):
        if a.status is AssignmentStatus.INVITED:
            invited += 1
        elif a.status is AssignmentStatus.DECLINED:
            declined |= (a.task.organization_id == task.organization_id and a.task_id != task.id
                         and a.updated_at >= utcnow() - timedelta(days=30))
        elif a.status is AssignmentStatus.ACCEPTED and a.task_id != task.id:
            busy += [(s.starts_at, s.ends_at) for s in a.task.sessions
                     if not s.cancelled and s.ends_at > first and s.starts_at < last]
    since = local_today() - timedelta(days=30)
    hours = sum(r.hours for r in db.session.scalars(select(ServiceRecord).where(
        ServiceRecord.member_id == f.member_id)) if r.attended and r.served_on >= since)
    return replace(f, unavailable=blocked, busy=tuple(busy), open_invitations=invited, declined_org_recently=declined,
                   hours_30d=float(hours))


def test_the_population_writes_the_index_the_services_would(db, province):
    members = db.session.scalars(select(MemberProfile).order_by(MemberProfile.id).limit(500)).all()
    for member in members:
        written = db.session.execute(select(SkillLocation).where(SkillLocation.member_id == member.id)
                                     .order_by(SkillLocation.skill_id)).scalars().all()
        columns = [c.key for c in SkillLocation.__table__.columns]
        assert [{k: getattr(row, k) for k in columns} for row in written] == \
            sorted(index_rows(member), key=lambda row: row["skill_id"])


@pytest.mark.slow
def test_the_index_path_gives_the_exhaustive_list(db, province):
    members = db.session.scalars(select(MemberProfile)).all()
    base = [gather.member_facts(m) for m in members]
    tasks = db.session.scalars(select(Task).where(Task.status == TaskStatus.OPEN).order_by(Task.id)).all()
    checked = nonempty = 0
    for task in tasks[:60]:
        for widen in [task.widen_to] if task.widen_to else [None, "city", "province"]:
            expected = [(s.member_id, s.score) for s in exhaustive(task, members, base, widen, 8)]
            assert [(s.member_id, s.score) for s in search.suggest(task, limit=8, widen=widen)] == expected
            checked += 1
            nonempty += bool(expected)
    assert checked >= 100 and nonempty >= 40     # the comparison is not between empty lists


@pytest.mark.slow
def test_tasks_near_me_gives_the_exhaustive_list(db, province):
    from app.regions.models import Region

    tasks = db.session.scalars(select(Task).where(Task.status == TaskStatus.OPEN)).all()
    judged = [(t, gather.task_facts(t)) for t in tasks]
    # Members of 郑州, where tasks are densest, so that most lists have something on them.
    members = db.session.scalars(select(MemberProfile).where(MemberProfile.region_code.like("4101%"))
                                 .order_by(MemberProfile.id).limit(100)).all()
    checked = nonempty = 0
    for member in members:
        own = near_me.own_context(member)
        base, declined = own.facts, own.declined
        county = db.session.get(Region, member.region_code)
        expected = []
        for task, facts in judged:
            widened = base.pool_rank >= 2 and task.widen_to is not None and _reach_of(task, task.widen_to)(member)
            if task.lat is None and not widened and task.region_code not in (member.region_code, county.parent_code):
                continue
            m = replace(base, widened=widened, declined_org_recently=task.organization_id in declined,
                        on_task=any(a.member_id == member.id for a in task.assignments))
            if matching.exclusion(facts, m) is None:
                expected.append((matching.score(facts, m), task))
        expected.sort(key=lambda pair: (-pair[0].score, pair[0].distance_km or 0, pair[1].id))
        got = [(t.id, s.score) for s, t in near_me.tasks_near(member)]
        assert got == [(t.id, s.score) for s, t in expected[:20]]
        checked += 1
        nonempty += bool(got)
    assert checked == 100 and nonempty >= 8     # most members have no task within reach that fits them
