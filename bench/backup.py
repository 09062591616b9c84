"""Backups at scale: how long `flask backup create` and `verify` take on a synthetic province.

    .venv/bin/python -m bench.backup --members 100000 --json out.json

The database comes from DATABASE_URL (SQLite in bench/out/ by default) and is emptied and filled
afresh by bench.population, unless --reuse; a PostgreSQL database must have "bench" in its name.
Backups go to a temporary folder, deleted afterwards. Prints a table and can write JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from bench.matching import OUT, fresh_database


def timed(run):
    """run()'s result, wall seconds and this process's CPU seconds (pg_dump and pg_restore not
    counted): on a shared machine the CPU time is the steadier figure."""
    started, cpu = time.perf_counter(), time.process_time()
    result = run()
    return result, round(time.perf_counter() - started, 2), round(time.process_time() - cpu, 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="back up an already filled database")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / f'bench-{args.members}.db'}"
    if not args.reuse:
        fresh_database(url)

    from app import create_app
    from app.backup.digest import digest_database
    from app.backup.services import BackupSettings, create_backup, verify_backup
    from app.extensions import db
    from bench.population import ready

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "SECRET_KEY": "bench"})
    with app.app_context():
        engine = db.engine.dialect.name
        ready(args.members, seed=args.seed, reuse=args.reuse)
        db.session.remove()
        db.engine.dispose()
        with tempfile.TemporaryDirectory(prefix="yinhui-bench-backup-") as folder:
            settings = BackupSettings.from_app(app)
            settings = BackupSettings(database_url=settings.database_url, directory=Path(folder), keep_days=14,
                                      pg_bin_dir=settings.pg_bin_dir, busy_timeout_s=settings.busy_timeout_s)
            live = sa.create_engine(settings.database_url, poolclass=sa.pool.NullPool)
            with live.connect() as conn:
                _, digest_s, digest_cpu = timed(lambda: digest_database(conn))
            live.dispose()
            created, create_s, create_cpu = timed(lambda: create_backup(settings=settings))
            verification, verify_s, verify_cpu = timed(lambda: verify_backup(file=created.path, settings=settings))
    tables = created.manifest["tables"]
    result = {"engine": engine, "members": args.members, "tables": len(tables),
              "rows": sum(t["rows"] for t in tables.values()), "backup_bytes": created.manifest["size"],
              "create_s": create_s, "create_cpu_s": create_cpu, "verify_s": verify_s, "verify_cpu_s": verify_cpu,
              "checksums_s": digest_s, "checksums_cpu_s": digest_cpu, "verified": verification.ok}
    width = max(len(key) for key in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value:,}" if isinstance(value, int) and not isinstance(value, bool)
              else f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if verification.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
