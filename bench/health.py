"""How long /healthz, /readyz and /metrics take to answer (the goal: under 50 ms).

    .venv/bin/python -m bench.health --requests 500 [--redis redis://127.0.0.1:6379/0] [--json out.json]

The database comes from DATABASE_URL (a SQLite file in bench/out/ by default; a PostgreSQL
database must have "bench" in its name) and is migrated to head first. Requests go through the
WSGI stack in process (Werkzeug's test client: every middleware, hook and query, no socket), one
at a time after a warm-up; logging is off so that the terminal does not take the time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import make_url

from app import create_app
from app.config import TestConfig
from bench.matching import percentile

OUT = Path(__file__).resolve().parent / "out"
PATHS = ("/healthz", "/readyz", "/metrics")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--redis", default=None, help="REDIS_URL, so that /readyz pings Redis too")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / 'health.db'}"
    if make_url(url).get_backend_name() != "sqlite" and "bench" not in (make_url(url).database or ""):
        raise SystemExit("DATABASE_URL must name a database with 'bench' in its name")
    OUT.mkdir(exist_ok=True)
    app = create_app({"SECRET_KEY": TestConfig.SECRET_KEY, "SQLALCHEMY_DATABASE_URI": url, "LOG_FORMAT": "none",
                      **({"REDIS_URL": args.redis} if args.redis else {})})
    with app.app_context():
        upgrade()
    client = app.test_client()
    engine = make_url(url).get_backend_name()
    results: dict[str, dict] = {}
    for path in PATHS:
        for _ in range(20):
            client.get(path)
        times = []
        for _ in range(args.requests):
            started = time.perf_counter()
            response = client.get(path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.get_data(as_text=True))
        results[path] = {"p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 95), 2),
                         "max_ms": round(max(times), 2), "n": len(times)}

    print(f"{engine}, redis {'on' if args.redis else 'off'}, {args.requests} requests each")
    print(f"{'path':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for path, r in results.items():
        print(f"{path:<10} {r['p50_ms']:>8} {r['p95_ms']:>8} {r['max_ms']:>8}")
    if args.json:
        args.json.write_text(json.dumps({"engine": engine, "redis": bool(args.redis), "paths": results}, indent=2))


if __name__ == "__main__":
    main()
