"""Two checkouts serving the same pages under load, in turn: which one is faster, on a machine whose
speed drifts between runs.

    .venv/bin/python -m bench.http_pair --against ../before --members 1000000 --reuse \\
        --clients 32 --slices 6 --seconds 5 --json out.json

bench.http compares a page with a hello-world floor within one run; comparing two versions of the
code took two runs minutes apart, between which this shared host's floor moved by a third (2,883
to 3,971 req/s on 2026-12-07), more than most changes gain. Here the database is prepared as
bench.http prepares it (by this checkout's code), and this checkout and the one at --against serve
it at once, each under gunicorn with this checkout's settings: both must accept its schema (the
same migrations). Every page is first fetched from both as its signed-in user (200 and its own
text); then, page by page, wrk drives the two in slices of --seconds, one after the other and the
order turned each slice (this, other; other, this; ...), so that both meet the same moments of the
host. Prints, for each page, each side's requests a second and CPU per request over its slices,
and the median of the slices' ratios (this ÷ other) with their range.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from bench.http import (
    PRODUCTION,
    check,
    chosen,
    drive,
    drive_counted,
    gunicorn,
    prepared,
    settle,
    shared_arguments,
    stop,
    targets,
    wait_ready,
)


def pair(args: argparse.Namespace, url: str, engine: str, plan: dict) -> dict:
    env = {**PRODUCTION, "DATABASE_URL": url}
    ports = {"this": args.port, "other": args.port + 1}
    servers = {"this": gunicorn("wsgi:app", ports["this"], args, env),
               "other": gunicorn("wsgi:app", ports["other"], args, env, root=args.against.resolve())}
    try:
        for side, server in servers.items():
            wait_ready(ports[side], "/healthz", server)
        pages = chosen(args, targets(ports["this"], plan))   # one database:
        # the sessions signed in on one serve the other
        for target in pages:
            for side in servers:
                check(ports[side], target)
                drive(ports[side], target.requests, args.clients, 2)       # warm, unmeasured
                settle(ports[side])
        results = {}
        for target in pages:
            slices: dict[str, list[dict]] = {"this": [], "other": []}
            for i in range(args.slices):
                for side in (("this", "other") if i % 2 == 0 else ("other", "this")):
                    slices[side].append(drive_counted(ports[side], servers[side].pid, target.requests, args.clients,
                                                      args.seconds))
                    settle(ports[side])
            results[target.name] = summary(slices)
    finally:
        for server in servers.values():
            stop(server)
    report(engine, args, results)
    return {"engine": engine, "members": args.members, "clients": args.clients, "against": str(args.against),
            "slices": args.slices, "seconds": args.seconds, "pages": results}


def summary(slices: dict[str, list[dict]]) -> dict:
    """Each side over its slices (requests a second and CPU per request: means; p95: the median
    slice's), and the slices' paired ratios, this ÷ other."""
    sides = {side: {"rps": round(statistics.mean(s["rps"] for s in runs), 1),
                    "cpu_ms": round(statistics.mean(s["cpu_ms"] for s in runs), 2),
                    "db_cpu_ms": round(statistics.mean(s["db_cpu_ms"] for s in runs), 2),
                    "p95_ms": round(statistics.median(s["p95_ms"] for s in runs), 1),
                    "errors": sum(s["errors"] for s in runs)}
             for side, runs in slices.items()}
    ratios = [a["rps"] / b["rps"] for a, b in zip(slices["this"], slices["other"], strict=True) if b["rps"]]
    return {**sides, "ratio_rps": round(statistics.median(ratios), 3) if ratios else None,
            "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)] if ratios else None,
            "ratio_cpu": round(sides["this"]["cpu_ms"] / sides["other"]["cpu_ms"], 3) if sides["other"]["cpu_ms"] else None}


def report(engine: str, args: argparse.Namespace, results: dict) -> None:
    print(f"\n{engine}, {args.members:,} members, {args.clients} connections, {args.slices} slices of "
          f"{args.seconds} s a side and page; other: {args.against}\n")
    print(f"{'page':<15}{'this req/s':>11}{'other':>9}{'this ÷ other':>14}{'range':>15}"
          f"{'CPU ms this':>13}{'other':>8}{'p95 this':>10}{'other':>8}{'errors':>8}")
    for name, r in results.items():
        low, high = r["ratio_range"] or (0, 0)
        print(f"{name:<15}{r['this']['rps']:>11,.1f}{r['other']['rps']:>9,.1f}{r['ratio_rps'] or 0:>14.3f}"
              f"{f'{low:.2f}–{high:.2f}':>15}{r['this']['cpu_ms']:>13.2f}{r['other']['cpu_ms']:>8.2f}"
              f"{r['this']['p95_ms']:>10}{r['other']['p95_ms']:>8}{r['this']['errors'] + r['other']['errors']:>8}")
    print("\nthis ÷ other: the median over the slices of this checkout's requests a second divided by the\n"
          "other's in the same slice pair; CPU ms: the app server's CPU per answered request.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", type=Path, required=True, help="the other checkout (its own code, this venv)")
    shared_arguments(parser, seconds=(5, "a slice's length"), port=(8941, "this checkout's port; the other's is the next one"))
    parser.add_argument("--slices", type=int, default=6, help="slices a page, each side")
    args = parser.parse_args(argv)
    if not (args.against / "wsgi.py").exists():
        sys.exit(f"{args.against} is not a checkout of Yinhui (no wsgi.py)")
    url, engine, plan = prepared(args)
    result = pair(args, url, engine, plan)
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
