"""Matching at scale: how long the organizer's candidate list and a member's "tasks near me" take.

    .venv/bin/python -m bench.matching --members 1000000 --queries 200 --json out.json

The database comes from DATABASE_URL (SQLite in bench/out/ by default) and is emptied and filled
afresh; a PostgreSQL database must have "bench" in its name, so that a mistyped URL cannot wipe
real data. Prints a table and writes the JSON described in bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, select, text

OUT = Path(__file__).resolve().parent / "out"
NAIVE_SAMPLE = 20_000
WARM_UP = 400          # queries on other tasks and members before the clock starts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "n": 0}
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(percentile(values, 95), 2),
            "max_ms": round(max(values), 2), "n": len(values)}


def fresh_database(url: str) -> None:
    """Drop everything at `url` (SQLite file, or a PostgreSQL database named *bench*)."""
    from app.config import normalise_database_url

    parsed = make_url(normalise_database_url(url))
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    if "bench" not in (parsed.database or ""):
        sys.exit(f"refusing to empty {parsed.database!r}: a benchmark database's name must contain 'bench'")
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()


def time_queries(ids: list[int], load, run, cpu: list[float] | None = None) -> list[float]:
    """Milliseconds of run(load(id)) for each id, counting run only: loading the task or member is
    the page's work, not matching's. Each query starts from an empty session, like a request.
    `cpu` receives this process's CPU milliseconds of each (time.process_time(): on a shared
    machine less noisy than the wall clock; PostgreSQL's own work is not in it)."""
    from app.extensions import db

    timings = []
    for object_id in ids:
        db.session.remove()
        subject = load(object_id)
        started, started_cpu = time.perf_counter(), time.process_time()
        run(subject)
        timings.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - started_cpu) * 1000)
    db.session.remove()
    return timings


def naive_ms(task_ids: list[int]) -> float:
    """Without the index: every member's coordinates read and geopy's geodesic distance taken to each
    (timed on NAIVE_SAMPLE members, scaled to all), before any other filter could run."""
    from app.extensions import db
    from app.members.models import MemberProfile
    from app.regions.geo import geodesic_km
    from app.tasks.models import Task

    results = []
    for task_id in task_ids:
        task = db.session.get(Task, task_id)
        started = time.perf_counter()
        rows = db.session.execute(select(MemberProfile.id, MemberProfile.lat, MemberProfile.lon)).all()
        read = time.perf_counter() - started
        sample = rows[:NAIVE_SAMPLE]
        started = time.perf_counter()
        near = [r.id for r in sample if geodesic_km(task.lat, task.lon, r.lat, r.lon) <= task.radius_km]
        per_member = (time.perf_counter() - started) / len(sample)
        results.append((read + per_member * len(rows)) * 1000)
        del near
    return round(statistics.median(results), 1) if results else None


POSTGIS_TABLE = """
CREATE TABLE bench_postgis AS
  SELECT skill_id, member_id, level, capacity, radius_km,
         ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS geog
  FROM member_skill_index;
CREATE INDEX bench_postgis_geog ON bench_postgis USING gist (skill_id, geog);
ANALYZE bench_postgis;
"""
POSTGIS_QUERY = text("""
SELECT member_id, ST_Distance(geog, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography) AS metres
FROM bench_postgis
WHERE skill_id = :skill AND level >= :level AND capacity >= :demand
  AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :metres)
  AND ST_DWithin(geog, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, radius_km * 1000)
""")


def postgis_ready() -> bool:
    """Whether PostGIS can run here (PostgreSQL with the extension available); its table built."""
    from app.extensions import db

    if db.engine.dialect.name != "postgresql":
        return False
    if not db.session.scalar(text("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'")):
        return False
    db.session.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    db.session.execute(text("CREATE EXTENSION IF NOT EXISTS btree_gist"))
    if not db.session.scalar(text("SELECT to_regclass('bench_postgis') IS NOT NULL")):
        for statement in filter(str.strip, POSTGIS_TABLE.split(";")):
            db.session.execute(text(statement))
    db.session.commit()
    return True


def postgis_parameters(task) -> dict | None:
    """The PostGIS query's parameters for an onsite task with a required skill (None otherwise)."""
    from app.tasks.models import TaskMode

    required = [ts for ts in task.skills if ts.required]
    if task.mode is not TaskMode.ONSITE or not required:
        return None
    anchor = max(required, key=lambda ts: ts.min_level)
    return {"lat": task.lat, "lon": task.lon, "skill": anchor.skill_id, "level": anchor.min_level,
            "demand": task.demand.rank, "metres": task.radius_km * 1000}


def postgis(task_ids: list[int]) -> dict | None:
    """The same onsite candidate search done by PostGIS (GiST over skill and geography, the best
    index it can have), for comparison: it returns the members within reach and nothing more."""
    from app.extensions import db
    from app.tasks.models import Task

    if not postgis_ready():
        return None
    timings = []
    for task_id in task_ids:
        params = postgis_parameters(db.session.get(Task, task_id))
        if params is None:
            continue
        started = time.perf_counter()
        db.session.execute(POSTGIS_QUERY, params).all()
        timings.append((time.perf_counter() - started) * 1000)
    db.session.remove()
    return summary(timings)


def task_inputs(task) -> tuple:
    """What the candidates page reads of a task before it searches (app/tasks/views.py): the
    task's facts (its skills and sessions, one read) and the members already on it (one read)."""
    from app.matching.gather import task_facts_of
    from app.tasks.queries import members_on

    return task_facts_of([task])[task.id], set(members_on(task.id))


def paired(task_ids: list[int]) -> dict | None:
    """Matching and PostGIS on the same onsite tasks, one right after the other (which first
    alternating), so that both meet the machine in the same moments: on a shared host the two
    phases of a run (all matches, then all PostGIS searches) can meet speeds apart by half.
    Both start from what they take: the PostGIS query its parameters, the search the task's facts
    and the members on it, each read before the clock. The page's two reads of those are timed
    too, right before the search: `with_task_reads` adds them to it."""
    from app.extensions import db
    from app.matching.search import suggest
    from app.tasks.models import Task

    if not postgis_ready():
        return None
    match, gis, reads, both = [], [], [], []
    for k, task_id in enumerate(task_ids):
        db.session.remove()
        task = db.session.get(Task, task_id)
        params = postgis_parameters(task)
        if params is None:
            continue
        for which in ("match", "postgis") if k % 2 == 0 else ("postgis", "match"):
            started = time.perf_counter()
            if which == "match":
                facts, on_task = task_inputs(task)
                read = time.perf_counter()
                suggest(task, facts=facts, on_task=on_task)
                reads.append((read - started) * 1000)
                match.append((time.perf_counter() - read) * 1000)
                both.append((time.perf_counter() - started) * 1000)
            else:
                db.session.execute(POSTGIS_QUERY, params).all()
                gis.append((time.perf_counter() - started) * 1000)
    db.session.remove()
    if not match:
        return None
    m, g, b = summary(match), summary(gis), summary(both)
    return {"match": m, "postgis": g, "ratio_p50": round(g["p50_ms"] / m["p50_ms"], 2),
            "ratio_p95": round(g["p95_ms"] / m["p95_ms"], 2), "task_reads": summary(reads),
            "with_task_reads": b, "ratio_p50_with_task_reads": round(g["p50_ms"] / b["p50_ms"], 2),
            "ratio_p95_with_task_reads": round(g["p95_ms"] / b["p95_ms"], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--reuse", action="store_true", help="query an already filled database")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--no-naive", action="store_true",
                        help="leave out the naive geopy scan (minutes a query on a loaded machine)")
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / f'bench-{args.members}.db'}"
    if not args.reuse:
        fresh_database(url)

    from app import create_app
    from app.extensions import db
    from bench.population import ready

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "SECRET_KEY": "bench"})
    with app.app_context():
        engine = db.engine.dialect.name
        fill = ready(args.members, seed=args.seed, reuse=args.reuse)
        return run_queries(args, engine, fill)


def run_queries(args, engine: str, fill: dict) -> int:
    from app.extensions import db
    from app.matching.near_me import tasks_near
    from app.matching.search import suggest
    from app.members.models import MemberProfile
    from app.tasks.models import Task, TaskMode
    from bench.population import sample_ids

    load_before = os.getloadavg()[0]
    rng = random.Random(args.seed + 1)
    task_ids, member_ids = sample_ids(rng, args.queries)
    kinds = {}
    for t in db.session.scalars(select(Task).where(Task.id.in_(task_ids))):
        kinds[t.id] = "widened" if t.widen_to else ("remote" if t.mode is TaskMode.REMOTE else "onsite")
    found = []

    def load_task(task_id):
        task = db.session.get(Task, task_id)
        return task, *task_inputs(task)

    def match_task(loaded, found=None):
        task, facts, on_task = loaded
        suggestions = suggest(task, facts=facts, on_task=on_task)
        if found is not None:
            found.append(len(suggestions))

    def load_member(member_id):
        return db.session.get(MemberProfile, member_id)

    # Warm up as a server that has been running would be: its statements compiled and prepared,
    # on other tasks and members than those measured.
    others, other_members = sample_ids(random.Random(args.seed + 2), WARM_UP)
    measured_tasks, measured_members = set(task_ids), set(member_ids)
    time_queries([i for i in others if i not in measured_tasks], load_task, match_task)
    time_queries([i for i in other_members if i not in measured_members], load_member, tasks_near)
    match_cpu: list[float] = []
    near_cpu: list[float] = []
    match = time_queries(task_ids, load_task, lambda loaded: match_task(loaded, found), match_cpu)
    near = time_queries(member_ids, load_member, tasks_near, near_cpu)
    by_kind = {kind: summary([ms for ms, i in zip(match, task_ids, strict=True) if kinds[i] == kind])
               for kind in ("onsite", "remote", "widened")}
    onsite = [i for i in task_ids if kinds[i] == "onsite"]
    result = {
        "engine": engine, "members": args.members, "queries": len(task_ids),
        "match": summary(match), "match_by_kind": by_kind, "near_me": summary(near),
        "match_cpu": summary(match_cpu), "near_me_cpu": summary(near_cpu),
        "naive_ms_per_query": None if args.no_naive else naive_ms(onsite[:3]),
        "postgis": postgis(onsite),
        "postgis_paired": paired(onsite),
        "candidates_returned_p50": statistics.median(found) if found else 0,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],   # 1-minute, at start and end
        **fill,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
