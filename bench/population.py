"""A synthetic province for benchmarks: members clustered around Henan's cities and counties, three
skills each, pool entries, tasks with sessions and a history of invitations and confirmed hours.

Rows go in through SQLAlchemy Core in large batches (the services would take hours for a million
members) but carry exactly what the services write: the skill-location index rows are built by the
same app.members.index.member_columns() the profile services use (tests/tasks/test_matching_at_scale.py
checks them against index_rows()).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import date, timedelta

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

from app.accounts.models import User
from app.clock import local_now
from app.db import utcnow
from app.extensions import db
from app.members.index import member_columns, refresh_facts
from app.members.models import (
    Capacity,
    EntryOrigin,
    EntryStatus,
    LocationPrecision,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    PoolEntry,
    PoolLevel,
    Skill,
    SkillLocation,
    UnavailablePeriod,
)
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.models import Region
from app.regions.services import load_gazetteer
from app.tasks.models import (
    Assignment,
    AssignmentStatus,
    ScheduleKind,
    ServiceRecord,
    Task,
    TaskCategory,
    TaskMode,
    TaskSession,
    TaskSkill,
    TaskStatus,
)

# Resident population of Henan's prefecture-level cities, 2020 census (millions): where members live.
CITY_POPULATION = {
    "410100": 12.60, "410200": 4.82, "410300": 7.06, "410400": 4.99, "410500": 5.48, "410600": 1.57,
    "410700": 6.25, "410800": 3.52, "410900": 3.77, "411000": 4.38, "411100": 2.37, "411200": 2.03,
    "411300": 9.71, "411400": 7.82, "411500": 6.23, "411600": 9.03, "411700": 7.00, "419001": 0.73,
}
BATCH = 20_000


@dataclass
class Place:
    code: str
    city_code: str
    lat: float
    lon: float
    urban: bool      # a city district: members live closer together


def henan_places() -> tuple[list[Place], list[float]]:
    """Every county-level division of Henan with a weight: its city's population shared among its
    counties, city districts counting double (older cadres retire to the city)."""
    regions = db.session.scalars(select(Region).where(Region.code.like("41%"), Region.level == "county")).all()
    by_city: dict[str, list[Region]] = {}
    for r in regions:
        city = r.parent_code if r.parent_code in CITY_POPULATION else r.code
        if city in CITY_POPULATION:
            by_city.setdefault(city, []).append(r)
    places, weights = [], []
    for city, counties in by_city.items():
        shares = [2.0 if r.name.endswith("区") else 1.0 for r in counties]
        for r, share in zip(counties, shares, strict=True):
            places.append(Place(r.code, city, r.lat, r.lon, r.name.endswith("区")))
            weights.append(CITY_POPULATION[city] * share / sum(shares))
    return places, weights


def _insert(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        db.session.execute(insert(model), rows[start:start + BATCH])


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _skill_weights(skills: list[int], rng: random.Random) -> list[float]:
    """Zipf-like popularity: a few skills (health advice, tutoring) are common, most are rare."""
    order = skills[:]
    rng.shuffle(order)
    rank = {s: i + 1 for i, s in enumerate(order)}
    return [1 / rank[s] ** 0.9 for s in skills]


def ready(members: int, *, seed: int, reuse: bool, log=print) -> dict:
    """In an app context, what every benchmark does first: bring the schema to head (a reused
    database too, so that one filled by older code gains the newer tables), and unless reusing,
    load the gazetteer and fill N members. Returns fill()'s figures; fill_seconds None when reused."""
    upgrade()
    if reuse:
        return {"fill_seconds": None}
    load_gazetteer()
    db.session.commit()
    if not members:
        return {"fill_seconds": None}
    log(f"filling {db.engine.dialect.name} with {members:,} members")
    return fill(members, seed=seed, log=log)


def fill(members: int, *, seed: int = 2026, log=print) -> dict:
    """Fill an empty, migrated database (regions loaded) with `members` members and their world."""
    rng = random.Random(seed)
    places, weights = henan_places()
    skills = list(db.session.scalars(select(Skill.id).where(Skill.active).order_by(Skill.id)))
    skill_weights = _skill_weights(skills, rng)
    now = utcnow()
    started = time.perf_counter()

    # One community and one party branch per county: where tasks come from and members belong.
    orgs, org_of = [], {}
    next_org = _next_id(Organization)
    for i, p in enumerate(places):
        for j, kind in enumerate((OrganizationKind.COMMUNITY, OrganizationKind.PARTY_BRANCH)):
            orgs.append({"id": next_org + 2 * i + j, "name": f"测试{p.code}{kind.label}", "kind": kind,
                         "region_code": p.code, "address": "", "lat": p.lat, "lon": p.lon,
                         "location_source": LocationSource.GAZETTEER, "contact_phone": None, "active": True,
                         "created_at": now, "updated_at": now})
        org_of[p.code] = (next_org + 2 * i, next_org + 2 * i + 1)
    _insert(Organization, orgs)

    first_id = _next_id(User)
    done = 0
    member_places: list[Place] = []
    while done < members:
        count = min(BATCH * 5, members - done)
        users, profiles, member_skills, index, entries, unavailable = [], [], [], [], [], []
        chosen = rng.choices(places, weights, k=count)
        for k, place in enumerate(chosen):
            member_id = first_id + done + k
            member_places.append(place)
            spread = 0.03 if place.urban else 0.08       # degrees: ~3 km in town, ~9 km in a county
            lat, lon = rng.gauss(place.lat, spread), rng.gauss(place.lon, spread)
            consent = rng.random() < 0.92
            status = MemberStatus.ACTIVE if rng.random() < 0.97 else MemberStatus.PAUSED
            capacity = rng.choices([Capacity.LIGHT, Capacity.MODERATE, Capacity.HEAVY], [55, 35, 10])[0]
            mask = 0
            while mask == 0:
                mask = sum(1 << b for b in range(21) if rng.random() < (0.45 if b % 3 < 2 else 0.12))
            no_night, no_outdoor = rng.random() < 0.4, rng.random() < 0.15
            rank = rng.choices([0, 1, 2, 3], [62, 28, 8, 2])[0]
            users.append({"id": member_id, "phone": f"170{member_id:08d}",
                          "name": f"测试成员{member_id}", "email": None, "password_hash": None, "active": True,
                          "elder_mode": False, "last_login_at": None, "password_changed_at": None,
                          "created_at": now, "updated_at": now})
            profiles.append({
                "id": member_id, "gender": None, "birth_year": rng.randint(1941, 1966), "work_unit": "", "post": "",
                "branch_id": org_of[place.code][1], "region_code": place.code, "address": "",
                "lat": lat if consent else place.lat, "lon": lon if consent else place.lon,
                "location_precision": LocationPrecision.ADDRESS if consent else LocationPrecision.COUNTY,
                "service_radius_km": rng.choice([3, 5, 5, 10, 10, 20, 30]),
                "capacity": capacity if consent else None, "no_night": no_night, "no_outdoor": no_outdoor,
                "max_hours_week": rng.choice([None, None, 4, 8, 12]), "availability_mask": mask,
                "consent_version": "2026-01" if consent else None, "consent_at": now if consent else None,
                "consent_method": None, "consent_taken_by_id": None, "status": status, "registered_by_id": None,
                "claim_code_hash": None, "claim_code_expires_at": None, "claimed_at": None, "deleted_at": None,
                "created_at": now, "updated_at": now})
            own = set()
            while len(own) < 3:
                own.add(rng.choices(skills, skill_weights)[0])
            levels = {s: rng.choices([1, 2, 3], [40, 40, 20])[0] for s in own}
            for s, level in levels.items():
                member_skills.append({"member_id": member_id, "skill_id": s, "level": level, "years": None,
                                      "certificate": None, "certificate_expires": None})
            if consent and status is MemberStatus.ACTIVE:
                common = member_columns(
                    member_id=member_id, capacity=capacity, lat=lat, lon=lon,
                    radius_km=profiles[-1]["service_radius_km"], availability_mask=mask,
                    limits=(1 if no_night else 0) | (2 if no_outdoor else 0),
                    max_hours_week=profiles[-1]["max_hours_week"], pool_rank=rank,
                    pool_city=place.city_code if rank >= 2 else "", region_code=place.code)
                index.extend({**common, "skill_id": s, "level": level} for s, level in levels.items())
            region_of = {PoolLevel.COUNTY: place.code, PoolLevel.CITY: place.city_code, PoolLevel.PROVINCE: "410000"}
            for level in list(PoolLevel)[:rank]:
                entries.append({"member_id": member_id, "level": level, "region_code": region_of[level],
                                "status": EntryStatus.APPROVED, "origin": EntryOrigin.NOMINATED, "basis_id": None,
                                "nominated_by_id": None, "nominated_at": now, "reason": "", "decided_by_id": None,
                                "decided_at": now, "decision_note": "", "withdrawn_by_id": None,
                                "withdrawn_at": None, "withdrawal_note": ""})
            if rng.random() < 0.05:
                start = date.today() + timedelta(days=rng.randint(0, 40))
                unavailable.append({"member_id": member_id, "start_date": start,
                                    "end_date": start + timedelta(days=rng.randint(0, 14)), "reason": ""})
        _insert(User, users)
        _insert(MemberProfile, profiles)
        _insert(MemberSkill, member_skills)
        _insert(SkillLocation, index)
        _insert(PoolEntry, entries)
        _insert(UnavailablePeriod, unavailable)
        db.session.commit()
        done += count
        log(f"  {done:>9,} members  {time.perf_counter() - started:6.0f} s")

    tasks = _fill_tasks(max(200, members // 500), places, weights, org_of, skills, skill_weights, rng)
    _fill_history(first_id, members, tasks, rng)
    refresh_facts()      # the history went in through Core: flag its members as the services would
    db.session.commit()
    _finish()
    return {"members": members, "tasks": len(tasks), "fill_seconds": round(time.perf_counter() - started, 1)}


CATEGORIES = list(TaskCategory)


def _fill_tasks(count, places, weights, org_of, skills, skill_weights, rng) -> list[dict]:
    """Open tasks over the next four weeks, where members live: 88 % onsite, some widened."""
    now = utcnow()
    today = local_now().replace(minute=0, second=0, microsecond=0)
    first = _next_id(Task)
    tasks, sessions, task_skills = [], [], []
    for i in range(count):
        place = rng.choices(places, weights)[0]
        remote = rng.random() < 0.12
        lat = None if remote else rng.gauss(place.lat, 0.03 if place.urban else 0.06)
        lon = None if remote else rng.gauss(place.lon, 0.03 if place.urban else 0.06)
        weekly = rng.random() < 0.3
        start = today.replace(hour=rng.choice([8, 9, 9, 14, 15, 19])) + timedelta(days=rng.randint(1, 25))
        hours = rng.choice([1, 2, 2, 3])
        widen = rng.choices([None, "city", "province"], [92, 6, 2])[0]
        task_id = first + i
        tasks.append({
            "id": task_id, "organization_id": org_of[place.code][0], "region_code": place.code,
            "title": f"测试需求{task_id}", "description": "", "category": rng.choice(CATEGORIES),
            "mode": TaskMode.REMOTE if remote else TaskMode.ONSITE, "address": "", "lat": lat, "lon": lon,
            "radius_km": rng.choice([5, 10, 10, 20, 30]),
            "schedule": ScheduleKind.WEEKLY if weekly else ScheduleKind.ONCE,
            "first_date": start.date(), "last_date": (start + timedelta(days=21)).date() if weekly else start.date(),
            "weekdays": (1 << start.weekday()) if weekly else 0, "start_time": start.time(),
            "end_time": (start + timedelta(hours=hours)).time(), "headcount": rng.randint(1, 10),
            "demand": rng.choices([Capacity.LIGHT, Capacity.MODERATE, Capacity.HEAVY], [70, 25, 5])[0],
            "outdoor": rng.random() < 0.25, "status": TaskStatus.OPEN, "widen_to": widen, "created_by_id": None,
            "published_at": now, "cancel_reason": "", "created_at": now, "updated_at": now})
        for week in range(4 if weekly else 1):
            s = start + timedelta(weeks=week)
            sessions.append({"task_id": task_id, "starts_at": s, "ends_at": s + timedelta(hours=hours),
                             "cancelled": False, "attendance_confirmed_at": None})
        required = rng.choices(skills, skill_weights)[0]
        task_skills.append({"task_id": task_id, "skill_id": required, "min_level": rng.choices([1, 2, 3], [50, 35, 15])[0],
                            "required": True})
        if rng.random() < 0.3:
            other = rng.choices(skills, skill_weights)[0]
            if other != required:
                task_skills.append({"task_id": task_id, "skill_id": other, "min_level": 1,
                                    "required": rng.random() < 0.3})
    _insert(Task, tasks)
    _insert(TaskSession, sessions)
    _insert(TaskSkill, task_skills)
    return tasks


def _fill_history(first_member: int, members: int, tasks: list[dict], rng) -> None:
    """Invitations, answers and confirmed hours, so that the facts matching loads are not all empty:
    one member in ten served in the last month, one in fifty has an invitation waiting."""
    now = utcnow()
    org_ids = sorted({t["organization_id"] for t in tasks})
    past_first = _next_id(Task)
    past_tasks, past_sessions = [], []
    for i, org in enumerate(org_ids):
        day = local_now().replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=rng.randint(2, 28))
        region = db.session.scalar(select(Organization.region_code).where(Organization.id == org))
        past_tasks.append({
            "id": past_first + i, "organization_id": org, "region_code": region, "title": "往期服务", "description": "",
            "category": TaskCategory.OTHER, "mode": TaskMode.REMOTE, "address": "", "lat": None, "lon": None,
            "radius_km": 10, "schedule": ScheduleKind.ONCE, "first_date": day.date(), "last_date": day.date(),
            "weekdays": 0, "start_time": day.time(), "end_time": (day + timedelta(hours=2)).time(), "headcount": 200,
            "demand": Capacity.LIGHT, "outdoor": False, "status": TaskStatus.CLOSED, "widen_to": None,
            "created_by_id": None, "published_at": now, "cancel_reason": "", "created_at": now, "updated_at": now})
        past_sessions.append({"task_id": past_first + i, "starts_at": day, "ends_at": day + timedelta(hours=2),
                              "cancelled": False, "attendance_confirmed_at": now})
    _insert(Task, past_tasks)
    _insert(TaskSession, past_sessions)
    session_of = dict(db.session.execute(select(TaskSession.task_id, TaskSession.id)
                                         .where(TaskSession.task_id >= past_first)).all())
    served = rng.sample(range(first_member, first_member + members), members // 10)
    assignment_id = _next_id(Assignment)
    assignments, records = [], []
    used = set()
    for member_id in served:
        task = past_tasks[rng.randrange(len(past_tasks))]
        if (task["id"], member_id) in used:
            continue
        used.add((task["id"], member_id))
        assignments.append({"id": assignment_id, "task_id": task["id"], "member_id": member_id, "origin": "invited",
                            "status": AssignmentStatus.ACCEPTED, "message": "", "reasons": "", "invited_by_id": None,
                            "created_at": now, "responded_at": now, "accepted_at": now, "updated_at": now})
        records.append({"assignment_id": assignment_id, "session_id": session_of[task["id"]], "member_id": member_id,
                        "organization_id": task["organization_id"], "served_on": task["first_date"], "attended": True,
                        "hours": rng.choice([1, 2, 2, 3]), "feedback": "", "confirmed_by_id": None,
                        "confirmed_at": now})
        assignment_id += 1
    for member_id in rng.sample(range(first_member, first_member + members), members // 50):
        task = tasks[rng.randrange(len(tasks))]
        if (task["id"], member_id) in used:
            continue
        used.add((task["id"], member_id))
        status = rng.choices([AssignmentStatus.INVITED, AssignmentStatus.ACCEPTED, AssignmentStatus.DECLINED],
                             [60, 25, 15])[0]
        assignments.append({"id": assignment_id, "task_id": task["id"], "member_id": member_id, "origin": "invited",
                            "status": status, "message": "", "reasons": "", "invited_by_id": None,
                            "created_at": now, "responded_at": None, "accepted_at": None, "updated_at": now})
        assignment_id += 1
    _insert(Assignment, assignments)
    _insert(ServiceRecord, records)


def _finish() -> None:
    """Sequences past the explicit ids (PostgreSQL) and fresh planner statistics (both)."""
    if db.engine.dialect.name == "postgresql":
        for table in ("users", "organizations", "tasks", "assignments"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def sample_ids(rng: random.Random, q: int) -> tuple[list[int], list[int]]:
    """Q open tasks and Q matchable members, at random."""
    tasks = list(db.session.scalars(select(Task.id).where(Task.status == TaskStatus.OPEN)))
    members = list(db.session.scalars(select(SkillLocation.member_id).distinct()))
    return rng.sample(tasks, min(q, len(tasks))), rng.sample(members, min(q, len(members)))

