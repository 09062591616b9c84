"""Merging two accounts of one person (app.members.merge) on a filled database: each merge's time,
its slowest statements, and the hours before and after.

    cp --reflink=auto /work/bench-base/sqlite-1m.db bench/out/merge-1m.db
    .venv/bin/python -m bench.merge --members 1000000 --reuse --database bench/out/merge-1m.db   # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/yinhui_bench_x .venv/bin/python -m bench.merge --reuse

The database is filled by bench.population (one member in ten with confirmed hours). The pairs are
members of one county with confirmed hours, merged one pair after the other, each committed; a pair
with hours on the same session is refused (as it must be) and reported so.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from sqlalchemy import event, select

from bench.matching import OUT, fresh_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--database", type=Path, help="a SQLite file (default bench/out/bench-N.db)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{(args.database or OUT / f'bench-{args.members}.db').resolve()}"
    if not args.reuse:
        fresh_database(url)

    from app import create_app
    from app.accounts.models import Role, RoleGrant, User
    from app.db import write_intent
    from app.extensions import db
    from app.members import merge
    from app.members.models import MemberProfile, MemberStatus
    from app.tasks.ledger import member_hours
    from app.tasks.models import ServiceRecord
    from bench.population import ready

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "JOBS_IMMEDIATE": True, "SECRET_KEY": "bench"})
    results: dict = {"database": url.split(":")[0], "members": args.members, "merges": []}
    with app.app_context():
        ready(args.members, seed=args.seed, reuse=args.reuse)
        admin = User(name="省局", phone="19800000077")
        admin.grants.append(RoleGrant(role=Role.ADMIN, region_code="410000"))
        db.session.add(admin)
        db.session.commit()

        # Members with hours, by county: pairs of the same county with no session in common.
        with_hours = db.session.execute(
            select(ServiceRecord.member_id, MemberProfile.region_code)
            .join(MemberProfile, MemberProfile.id == ServiceRecord.member_id)
            .where(MemberProfile.status == MemberStatus.ACTIVE, MemberProfile.deceased_at.is_(None))
            .group_by(ServiceRecord.member_id, MemberProfile.region_code)
            .limit(args.pairs * 20)).all()
        by_county: dict[str, list[int]] = {}
        for member_id, county in with_hours:
            by_county.setdefault(county, []).append(member_id)
        pairs = [(ids[0], ids[1]) for ids in by_county.values() if len(ids) >= 2][:args.pairs]

        statements: list[tuple[float, str]] = []

        def before(conn, cursor, statement, parameters, context, executemany):
            conn.info["bench_start"] = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            statements.append((time.perf_counter() - conn.info.pop("bench_start"), statement.split("\n")[0][:110]))

        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        for survivor_id, merged_id in pairs:
            hours_before = member_hours(survivor_id) + member_hours(merged_id)
            db.session.rollback()
            statements.clear()
            token = write_intent.set(True)    # as a POST request: SQLite takes the write lock up front
            start = time.perf_counter()
            try:
                actor = db.session.get_one(User, admin.id)
                survivor = db.session.get_one(MemberProfile, survivor_id)
                merged = db.session.get_one(MemberProfile, merged_id)
                record = merge.merge(actor=actor, survivor=survivor, merged=merged, identity_checked=True)
                db.session.commit()
                outcome = json.loads(record.detail)["counts"]
            except Exception as e:   # a refusal (hours on one session) is reported, not fatal
                db.session.rollback()
                outcome = {"refused": str(e)}
            finally:
                write_intent.reset(token)
            ms = (time.perf_counter() - start) * 1000
            hours_after = member_hours(survivor_id)
            slowest = sorted(statements, reverse=True)[:3]
            results["merges"].append({
                "pair": [survivor_id, merged_id], "ms": round(ms, 1), "statements": len(statements),
                "hours_before": round(hours_before, 2), "hours_after": round(hours_after, 2), "moved": outcome,
                "slowest": [{"ms": round(s * 1000, 1), "sql": sql} for s, sql in slowest]})
            print(f"merge {survivor_id} <- {merged_id}: {ms:.1f} ms, {len(statements)} statements, "
                  + (f"refused: {outcome['refused']}" if "refused" in outcome
                     else f"hours of both {hours_before:.2f} -> of the survivor {hours_after:.2f}"))
            for s, sql in slowest:
                print(f"    {s * 1000:8.1f} ms  {sql}")
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)

    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
