"""Pool export as a background job: the worker's peak memory and time for N members, and how long
the web request that asks for it takes.

    .venv/bin/python -m bench.export --members 1000000 --json out.json                      # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/yinhui_bench \\
      .venv/bin/python -m bench.export --members 1000000 --json out.json                    # PostgreSQL

The database is filled by bench.population as bench.matching fills it (--reuse: an already filled
one, e.g. after bench.matching). A real worker process is started as deployed (`huey_consumer
app.jobs.worker.queue -w 2 -k thread`, its queue in a temporary SqliteHuey file); a province admin
asks for each export through the app's own POST (Flask's test client, in this process: the
request's milliseconds are the app's, without a network; after one warm-up export that finds
no one). The worker's peak RSS is its VmHWM from /proc when the exports are done.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.matching import OUT, fresh_database

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-export-密码-2026"


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match, status
    return int(match.group(1)) / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--reuse", action="store_true", help="export from an already filled database")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / f'bench-{args.members}.db'}"
    if not args.reuse:
        fresh_database(url)
    work = Path(tempfile.mkdtemp(prefix="yinhui-bench-export-"))
    settings = {"JOBS_SQLITE_PATH": str(work / "queue.db"), "EXPORT_DIR": str(work / "exports")}

    from app import create_app
    from app.accounts.models import Role, RoleGrant, User
    from app.accounts.passwords import hash_password
    from app.extensions import db
    from app.jobs.models import Job
    from app.members.models import MemberProfile
    from bench.population import ready

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "JOBS_REDIS_URL": None, "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False, **settings})
    with app.app_context():
        engine = db.engine.dialect.name
        fill = ready(args.members, seed=args.seed, reuse=args.reuse)
        members = db.session.scalar(select(func.count()).select_from(MemberProfile))
        phone = "19955500001"
        admin = db.session.scalar(select(User).where(User.phone == phone))
        if admin is None:
            admin = User(name="导出管理员", phone=phone, active=True, password_hash=hash_password(PASSWORD),
                         grants=[RoleGrant(role=Role.ADMIN, region_code="410000")])
            db.session.add(admin)
            db.session.commit()
        db.session.remove()

    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "JOBS_REDIS_URL")}
    env.update(DATABASE_URL=url, SECRET_KEY="bench-export-secret-key-0123456789abcdef", PYTHONPATH=str(ROOT),
               **settings)
    worker = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", "app.jobs.worker.queue",
                               "-w", "2", "-k", "thread"], cwd=ROOT, env=env,
                              stdout=(work / "worker.log").open("wb"), stderr=subprocess.STDOUT)
    results: dict = {"engine": engine, "members": members, "fill_seconds": fill.get("fill_seconds"), "exports": {}}
    try:
        client = app.test_client()
        client.post("/login", data={"phone": phone, "password": PASSWORD})
        assert client.get("/pool/").status_code == 200
        # A first export that finds no one: the request's first-time costs (the queue's storage
        # opened, statements compiled) are not the figure.
        assert client.post("/pool/export.csv?q=无此人").status_code == 302
        time.sleep(5)
        results["worker_rss_mib_before"] = round(peak_rss_mib(worker.pid), 1)
        print(f"worker peak RSS before the exports: {results['worker_rss_mib_before']:.1f} MiB")
        for fmt in args.formats.split(","):
            started = time.perf_counter()
            response = client.post(f"/pool/export.{fmt}")
            request_ms = (time.perf_counter() - started) * 1000
            assert response.status_code == 302, response.status_code
            job_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
            with app.app_context():
                while True:
                    job = db.session.get_one(Job, job_id)
                    if job.finished:
                        break
                    db.session.remove()
                    time.sleep(0.5)
                assert job.state == "done", job.message
                assert job.started_at and job.finished_at and job.result
                seconds = (job.finished_at - job.started_at).total_seconds()
                size = (work / "exports" / job.result).stat().st_size
                rows = job.progress
                db.session.remove()
            results["exports"][fmt] = {"request_ms": round(request_ms, 1), "worker_seconds": round(seconds, 1),
                                       "rows": rows, "file_mib": round(size / 2**20, 1),
                                       "worker_peak_rss_mib_so_far": round(peak_rss_mib(worker.pid), 1)}
            print(f"{engine} {fmt}: {rows:,} rows in {seconds:.1f} s, file {size / 2**20:.1f} MiB, "
                  f"request {request_ms:.1f} ms, worker peak RSS so far {peak_rss_mib(worker.pid):.1f} MiB")
        results["worker_peak_rss_mib"] = round(peak_rss_mib(worker.pid), 1)
    finally:
        worker.terminate()
        worker.wait()
    print(json.dumps(results, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
