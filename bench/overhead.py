"""What every request pays under gunicorn: /healthz anonymous, /healthz with a signed-in session
cookie, member home, tasks near me and the hello-world floor, driven by wrk, with the server's CPU
per request and how many of the machine's cores the server kept busy.

    .venv/bin/python -m bench.overhead --members 1000000 [--seconds 8] [--rounds 1]

Uses the database bench.http prepared (bench/out/http-N.db, or DATABASE_URL) and its gunicorn
settings (the repository's gunicorn.conf.py; GUNICORN_* variables apply, e.g.
GUNICORN_MAX_REQUESTS). The server's CPU is summed over the gunicorn master and its workers from
/proc before and after each run, including workers that ended meanwhile (the master's children's
times), and divided by the requests answered: unlike req/s it hardly depends on what else the
machine runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from sqlalchemy import create_engine, text

from bench import http


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000, help="which bench/out/http-N.db")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--port", type=int, default=8610)
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{http.OUT / f'http-{args.members}.db'}"
    with create_engine(url).connect() as conn:
        phones = list(conn.execute(text("SELECT phone FROM users WHERE phone LIKE '170%' AND password_hash IS NOT NULL "
                                        "ORDER BY id LIMIT 3")).scalars())
    if not phones:
        sys.exit("no signed-in member: run bench.http on this database first")
    settings = argparse.Namespace(config=None, workers=4)
    env = {**http.PRODUCTION, "DATABASE_URL": url}
    servers = [http.gunicorn("wsgi:app", args.port, settings, env),
               http.gunicorn("bench.hello:app", args.port + 1, settings, env)]
    try:
        http.wait_ready(args.port, "/healthz", servers[0])
        http.wait_ready(args.port + 1, "/", servers[1])
        cookies = [http.sign_in(args.port, phone) for phone in phones]
        plans = {"floor": (1, [("/", "")]), "healthz_anonymous": (0, [("/healthz", "")]),
                 "healthz_signed_in": (0, [("/healthz", c) for c in cookies]),
                 "member_home": (0, [("/", c) for c in cookies]),
                 "tasks_near_me": (0, [("/my/tasks", c) for c in cookies])}
        for which, requests in plans.values():         # warm: every worker, every path
            http.drive(args.port + which, requests, args.clients, 2)
            http.settle(args.port)
        print(f"{'':<20}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'server CPU ms/request':>24}{'cores busy':>12}")
        for _ in range(args.rounds):
            for name, (which, requests) in plans.items():
                before = http.server_cpu(servers[which].pid)
                result = http.drive(args.port + which, requests, args.clients, args.seconds)
                used = http.server_cpu(servers[which].pid) - before
                http.settle(args.port)
                answered = max(result["rps"] * args.seconds, 1)
                print(f"{name:<20}{result['rps']:>9.1f}{result['p50_ms']:>9}{result['p95_ms']:>9}{result['errors']:>8}"
                      f"{1000 * used / answered:>24.2f}{used / args.seconds:>12.2f}", flush=True)
    finally:
        for server in servers:
            http.stop(server)
    print(subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
