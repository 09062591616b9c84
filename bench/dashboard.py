"""The bureaus' dashboards at province scale: how long the summary refresh takes, and p50/p95 of the
whole page request for the province's dashboard, a city's, a county's and the province admin's
home page (which carries the same dashboard).

    .venv/bin/python -m bench.dashboard --members 1000000 --json out.json                   # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/yinhui_dash_bench \\
      .venv/bin/python -m bench.dashboard --members 1000000 --json out.json                 # PostgreSQL

The database is filled by bench.population as bench.matching fills it (--reuse: an already
filled one, used as it is; --reuse --history: a copy of a shared base holding bench.population
only, to which the history is added), then given the history a province has after a year: --tasks past needs (default
members / 10) published over the last 12 months (closed, filled, cancelled and some still open,
with the skills they ask for), --records confirmed-hour rows (default one per member) spread over
the last 12 months with 4 % no-shows, waiting pool nominations, one shared venue per county
(open weekdays 8:30–11:30 and 14:30–17:30, every fifth closed three days last month) and a year of
approved bookings, some of them 主题党日. Then the summaries are refreshed (timed, as
the scheduled job runs it) and each page is asked --requests times through the app's own
request handling (Flask's test client, signed in as the admin, after warm-up requests): the
milliseconds are the app's, without a network. The account page is timed too, as the floor
every signed-in page pays (session, user, layout) on the same machine at the same moment.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import time
from datetime import time as dtime
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from app import create_app
from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password
from app.bookings.models import ActivityType, Booking, BookingOccurrence, BookingStatus
from app.clock import add_months, local_now, utcnow
from app.extensions import db
from app.members.models import Capacity, EntryOrigin, EntryStatus, MemberProfile, PoolEntry, PoolLevel, Skill
from app.organizations.models import Organization, OrganizationKind
from app.reports.summary import refresh_apart
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
from app.venues.models import Closure, OpeningHours, Venue, VenueKind
from bench.matching import OUT, fresh_database, percentile
from bench.population import BATCH, _insert, _next_id, ready

PASSWORD = "bench-dashboard-密码-2026"
WARM_UP = 5
HISTORY_TABLES = ("tasks", "task_sessions", "task_skills", "assignments", "service_records", "pool_entries", "venues",
                  "opening_hours", "closures", "bookings", "booking_occurrences")


COPY = {"on": True}    # --executemany turns it off, to compare
CHECKS = {"skip": False}   # --skip-fk-checks: COPY without the foreign-key triggers (pg_restore --disable-triggers)


def bulk_insert(model, rows: list[dict]) -> None:
    """Rows into the model's table in the session's transaction: on PostgreSQL by COPY (psycopg's
    cursor.copy(), each value converted by its column's own type as an INSERT would), elsewhere by
    bench.population's batched executemany."""
    if not rows:
        return
    if db.engine.dialect.name != "postgresql" or not COPY["on"]:
        _insert(model, rows)
        return
    table = model.__table__
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(db.engine.dialect) for name in names]
    raw = db.session.connection().connection.driver_connection
    columns = ", ".join(f'"{name}"' for name in names)
    with raw.cursor() as cursor:
        if CHECKS["skip"]:     # the rows name only ids that exist: checking each costs more than the copy
            cursor.execute("SET LOCAL session_replication_role = replica")
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([p(row[n]) if p is not None else row[n] for n, p in zip(names, processors, strict=True)])


def add_history(*, tasks: int, records: int, seed: int, log=print) -> dict:
    """A year of needs, confirmed hours, nominations and venue bookings on a filled population."""
    rng = random.Random(seed)
    started = time.perf_counter()
    now, today = utcnow(), local_now().replace(minute=0, second=0, microsecond=0)
    communities = db.session.execute(select(Organization.id, Organization.region_code, Organization.lat,
                                            Organization.lon).where(Organization.kind == OrganizationKind.COMMUNITY)).all()
    branches = db.session.execute(select(Organization.id, Organization.region_code)
                                  .where(Organization.kind == OrganizationKind.PARTY_BRANCH)).all()
    skills = list(db.session.scalars(select(Skill.id).where(Skill.active)))
    low, high = db.session.execute(select(func.min(MemberProfile.id), func.max(MemberProfile.id))).one()

    first_task = _next_id(Task)
    rows, sessions, task_skills = [], [], []
    for i in range(tasks):
        org, county, lat, lon = rng.choice(communities)
        days_ago = rng.randint(0, 364)
        day = today.replace(hour=9) - timedelta(days=days_ago)
        status = (TaskStatus.OPEN if days_ago < 60 and rng.random() < 0.3 else
                  rng.choices([TaskStatus.CLOSED, TaskStatus.FILLED, TaskStatus.CANCELLED], [75, 20, 5])[0])
        task_id = first_task + i
        rows.append({
            "id": task_id, "organization_id": org, "region_code": county, "title": f"往期需求{task_id}",
            "description": "", "category": rng.choice(list(TaskCategory)), "mode": TaskMode.ONSITE, "address": "",
            "lat": lat, "lon": lon, "radius_km": 10, "schedule": ScheduleKind.ONCE, "first_date": day.date(),
            "last_date": day.date(), "weekdays": 0, "start_time": day.time(),
            "end_time": (day + timedelta(hours=2)).time(), "headcount": 10, "demand": Capacity.LIGHT,
            "outdoor": False, "status": status, "widen_to": None, "created_by_id": None,
            "published_at": now - timedelta(days=days_ago + rng.randint(1, 20)), "cancel_reason": "",
            "created_at": now, "updated_at": now})
        sessions.append({"task_id": task_id, "starts_at": day, "ends_at": day + timedelta(hours=2),
                         "cancelled": False, "attendance_confirmed_at": now})
        task_skills.append({"task_id": task_id, "skill_id": rng.choice(skills), "min_level": 1, "required": True})
    bulk_insert(Task, rows)
    bulk_insert(TaskSession, sessions)
    bulk_insert(TaskSkill, task_skills)
    db.session.commit()
    session_of = dict(db.session.execute(select(TaskSession.task_id, TaskSession.id)
                                         .where(TaskSession.task_id >= first_task)).all())
    tasks_seconds = time.perf_counter() - started
    log(f"  {tasks:,} past needs  {tasks_seconds:6.0f} s")

    records_started = time.perf_counter()
    assignment_id, done, used = _next_id(Assignment), 0, set()
    while done < records:
        assignments, history = [], []
        for _ in range(min(BATCH * 5, records - done)):
            task = rows[rng.randrange(len(rows))]
            member = rng.randint(low, high)
            done += 1
            if (task["id"], member) in used:
                continue
            used.add((task["id"], member))
            assignments.append({"id": assignment_id, "task_id": task["id"], "member_id": member, "origin": "invited",
                                "status": AssignmentStatus.ACCEPTED, "message": "", "reasons": "",
                                "invited_by_id": None, "created_at": now, "responded_at": now, "accepted_at": now,
                                "updated_at": now})
            history.append({"assignment_id": assignment_id, "session_id": session_of[task["id"]], "member_id": member,
                            "organization_id": task["organization_id"], "served_on": task["first_date"],
                            "attended": rng.random() > 0.04, "hours": rng.choice([1, 2, 2, 3]), "feedback": "",
                            "confirmed_by_id": None, "confirmed_at": now})
            assignment_id += 1
        bulk_insert(Assignment, assignments)
        bulk_insert(ServiceRecord, history)
        db.session.commit()
        log(f"  {done:>9,} confirmed-hour rows  {time.perf_counter() - started:6.0f} s")
    records_seconds = time.perf_counter() - records_started

    waiting = [{"member_id": m, "level": PoolLevel.COUNTY, "region_code": county, "status": EntryStatus.NOMINATED,
                "origin": EntryOrigin.APPLIED, "basis_id": None, "nominated_by_id": None,
                "nominated_at": now - timedelta(days=rng.randint(0, 60)), "reason": "", "decided_by_id": None,
                "decided_at": None, "decision_note": "", "withdrawn_by_id": None, "withdrawn_at": None,
                "withdrawal_note": ""}
               for m, county in db.session.execute(
                   select(MemberProfile.id, MemberProfile.region_code)
                   .where(~select(PoolEntry.id).where(PoolEntry.member_id == MemberProfile.id).exists())
                   .where(MemberProfile.id % 50 == 0))]
    bulk_insert(PoolEntry, waiting)

    venue_first, booking_first = _next_id(Venue), _next_id(Booking)
    venues, bookings, occurrences, hours, closures = [], [], [], [], []
    branch_of: dict[str, list[int]] = {}
    for org, county in branches:
        branch_of.setdefault(county, []).append(org)
    for i, (org, county, lat, lon) in enumerate(communities):
        venues.append({"id": venue_first + i, "name": f"测试共享家园{venue_first + i}", "kind": VenueKind.SHARED_HOME,
                       "operator_id": org, "region_code": county, "address": "", "lat": lat, "lon": lon, "capacity": 40,
                       "description": "", "contact_phone": None, "active": True, "closed_on_holidays": True,
                       "min_lead_hours": 24, "horizon_days": 90, "feed_token": None, "created_at": now,
                       "updated_at": now})
        # Open as a new venue is (app.venues.services.create_venue), every fifth closed 3 days last month.
        hours += [{"venue_id": venue_first + i, "weekday": day, "opens": opens, "closes": closes}
                  for day in range(5) for opens, closes in ((dtime(8, 30), dtime(11, 30)), (dtime(14, 30), dtime(17, 30)))]
        if i % 5 == 0:
            first = add_months(today.date(), -1) + timedelta(days=9)
            closures.append({"venue_id": venue_first + i, "first_day": first, "last_day": first + timedelta(days=2),
                             "reason": "设备维修", "created_by_id": None, "created_at": now})
        for week in range(52):
            start = (today.replace(hour=9) - timedelta(weeks=week)).replace(tzinfo=None)
            booking_id = booking_first + len(bookings)
            activity = ActivityType.THEME_PARTY_DAY if week % 4 == 0 else ActivityType.MICRO_LECTURE
            bookings.append({"id": booking_id, "venue_id": venue_first + i, "title": "活动",
                             "organization_id": rng.choice(branch_of.get(county, [org])), "booked_by_id": None,
                             "activity": activity, "package_id": None, "attendees": 20, "note": "", "recurrence": None,
                             "status": BookingStatus.APPROVED, "decided_by_id": None, "decided_at": now,
                             "decision_reason": "", "created_at": now, "updated_at": now})
            occurrences.append({"booking_id": booking_id, "venue_id": venue_first + i, "start_at": start,
                                "end_at": start + timedelta(hours=rng.choice([1, 2, 3])),
                                "status": BookingStatus.APPROVED, "cancelled_by_id": None, "cancelled_at": None,
                                "cancel_reason": ""})
    bulk_insert(Venue, venues)
    bulk_insert(OpeningHours, hours)
    bulk_insert(Closure, closures)
    bulk_insert(Booking, bookings)
    bulk_insert(BookingOccurrence, occurrences)
    db.session.commit()
    analyze_seconds = None
    if db.engine.dialect.name == "postgresql":
        for table in ("tasks", "task_sessions", "assignments", "service_records", "pool_entries", "venues", "bookings",
                      "booking_occurrences"):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                    f"(SELECT max(id) FROM {table}))"))
        db.session.commit()
        # The planner's statistics for the tables just grown, as autovacuum would soon have them.
        analyzed = time.perf_counter()
        db.session.execute(text(f"ANALYZE {', '.join(HISTORY_TABLES)}"))
        db.session.commit()
        analyze_seconds = round(time.perf_counter() - analyzed, 1)
    return {"tasks_added": tasks, "records_added": records, "waiting_added": len(waiting), "venues_added": len(venues),
            "bookings_added": len(bookings), "tasks_seconds": round(tasks_seconds, 1),
            "records_seconds": round(records_seconds, 1),
            "records_per_second": round(records / records_seconds) if records_seconds else None,
            "analyze_seconds": analyze_seconds, "history_seconds": round(time.perf_counter() - started, 1)}


def timings(client, path: str, count: int) -> dict:
    for _ in range(WARM_UP):
        assert client.get(path).status_code == 200, path
    values = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        values.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return {"p50_ms": round(statistics.median(values), 1), "p95_ms": round(percentile(values, 95), 1),
            "max_ms": round(max(values), 1), "n": count, "bytes": len(response.get_data())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, help="past needs to add (default: members / 10)")
    parser.add_argument("--records", type=int, help="confirmed-hour rows to add (default: one per member)")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--reuse", action="store_true", help="use an already filled database as it is")
    parser.add_argument("--history", action="store_true",
                        help="with --reuse: add the year of history to it (a copy of a base holding bench.population only)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--executemany", action="store_true",
                        help="on PostgreSQL, add the history by batched INSERTs as SQLite does, not by COPY (to compare)")
    parser.add_argument("--skip-fk-checks", action="store_true",
                        help="on PostgreSQL, COPY the history without foreign-key triggers (its rows name existing ids)")
    args = parser.parse_args(argv)
    COPY["on"], CHECKS["skip"] = not args.executemany, args.skip_fk_checks

    logging.getLogger("yinhui.request").setLevel(logging.WARNING)   # one line a request drowns the table
    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / f'dashboard-{args.members}.db'}"
    if not args.reuse:
        fresh_database(url)

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "JOBS_REDIS_URL": None, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False})
    results: dict = {}
    with app.app_context():
        engine = db.engine.dialect.name
        fill = ready(args.members, seed=args.seed, reuse=args.reuse)
        if not args.reuse or args.history:
            fill.update(add_history(tasks=args.tasks if args.tasks is not None else args.members // 10,
                                    records=args.records if args.records is not None else args.members,
                                    seed=args.seed))
        counts = {"members": db.session.scalar(select(func.count()).select_from(MemberProfile)),
                  "tasks": db.session.scalar(select(func.count()).select_from(Task)),
                  "service_records": db.session.scalar(select(func.count()).select_from(ServiceRecord))}
        print(f"{engine}: {counts}")
        db.session.commit()
        load_at_start = os.getloadavg()     # as the refresh and the pages are timed
        started = time.perf_counter()
        refreshed = refresh_apart()        # what the scheduled job runs
        refresh_seconds = time.perf_counter() - started
        figure_rows, refresh_in_sql = refreshed.rows, refreshed.seconds
        print(f"refresh: {figure_rows} figures, {refresh_seconds:.1f} s with the commit")
        admins = {}
        for code, phone in (("410000", "19955600001"), ("410100", "19955600002"), ("410105", "19955600003")):
            user = db.session.scalar(select(User).where(User.phone == phone))
            if user is None:
                db.session.add(User(name=f"统计{code}", phone=phone, active=True, password_hash=hash_password(PASSWORD),
                                    grants=[RoleGrant(role=Role.ADMIN, region_code=code)]))
                db.session.commit()
            admins[code] = phone
        db.session.remove()
        results = {"engine": engine, **counts, "fill": fill, "figure_rows": figure_rows,
                   "refresh_seconds": round(refresh_seconds, 2),
                   "refresh_seconds_in_sql": refresh_in_sql, "pages": {}}

    pages = [("floor: account page", "410105", "/account"),     # what any signed-in page costs
             ("province dashboard", "410000", "/reports/regions/410000"),
             ("province home page", "410000", "/"),
             ("city dashboard (郑州市)", "410100", "/reports/regions/410100"),
             ("county dashboard (金水区)", "410105", "/reports/regions/410105"),
             ("province export .xlsx", "410000", "/reports/regions/410000.xlsx")]
    for name, code, path in pages:
        client = app.test_client()
        response = client.post("/login", data={"phone": admins[code], "password": PASSWORD})
        assert response.status_code == 302, response.status_code
        count = args.requests if not path.endswith(".xlsx") else max(10, args.requests // 5)
        results["pages"][name] = figures = timings(client, path, count)
        print(f"{engine} {name:28} p50 {figures['p50_ms']:7.1f} ms  p95 {figures['p95_ms']:7.1f} ms  "
              f"max {figures['max_ms']:7.1f} ms  ({figures['n']} requests, {figures['bytes']:,} bytes)")
    results["load_average"] = {"start": [round(v, 2) for v in load_at_start],
                               "end": [round(v, 2) for v in os.getloadavg()]}
    print(f"load average: start {results['load_average']['start']}, end {results['load_average']['end']}")
    print(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
