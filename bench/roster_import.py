"""Roster import of a bureau's messy workbook through the import job's steps: time per step and the
process's peak memory for N rows, then the same file again (nobody new).

    .venv/bin/python -m bench.roster_import --rows 100000 --json out.json                   # SQLite
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/yinhui_bench_roster \\
      .venv/bin/python -m bench.roster_import --rows 100000 --json out.json                 # PostgreSQL

The database is emptied and migrated (the gazetteer loaded, no members). The workbook is what a
city bureau keeps: a merged title row and a 填报单位 line above the header, the columns named the
bureau's way (序号, 姓名, 性别, 出生年月, 原工作单位及职务, 所在党支部, 现居住地, 联系电话, 特长（可多项）,
身体状况), dates as 1950.03 / 1964年11月 / 1953 / Excel dates, phones with spaces, dashes, full-width
digits or as numbers, several skills per cell, blank lines every 1,000 rows and a 合计 row. The steps
run in this process one after the other as the worker runs them (app.members.importer.run_import:
read, check = the preview, write); the mapping is the one the synonym table proposes. Peak RSS is
this process's VmHWM from /proc, read after each step (the workbook is built first, and its bytes
kept: the job holds them too).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import resource
import time
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import event, func, select

from bench.matching import OUT, fresh_database

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
COUNTIES = ["郑州市管城回族区", "郑州市金水区", "郑州市中原区", "郑州市二七区", "郑州市惠济区", "新郑市", "登封市", "中牟县"]
SKILLS = ["书法", "法律咨询", "豫剧", "中医", "种植技术", "养殖", "手机教学", "财务", "调解", "宣讲", "合唱", "绘画"]
HEADER = ["序号", "姓名", "性别", "出生年月", "原工作单位及职务", "所在党支部", "现居住地", "联系电话", "特长（可多项）",
          "身体状况"]
CHARS = "一二三四五六七八九十百千万甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥春夏秋冬梅兰竹菊"


def name_for(n: int) -> str:
    chars = []
    while True:
        n, r = divmod(n, len(CHARS))
        chars.append(CHARS[r])
        if n == 0:
            return "王" + "".join(chars)


def peak_rss_mib() -> float:
    """This process's peak RSS. The steps run in this process (no worker, no child process: the
    children's peak, resource.RUSAGE_CHILDREN, stays 0 and is reported beside it to show it)."""
    match = re.search(r"VmHWM:\s+(\d+) kB", Path("/proc/self/status").read_text())
    assert match
    return int(match.group(1)) / 1024


def children_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def workbook(rows: int) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("人才名册")
    ws.append(["郑州市离退休干部银发人才名册"])
    ws.append(["填报单位：郑州市委老干部局", None, None, None, None, None, "填报时间：2026年11月"])
    ws.append(HEADER)
    for n in range(1, rows + 1):
        if n % 1000 == 0:
            ws.append([])
            continue
        digits = f"{n:08d}"
        phone: object = [f"137 {digits[:4]} {digits[4:]}", f"137-{digits[:4]}-{digits[4:]}",
                         f"137{digits}".translate(FULL_WIDTH), int(f"137{digits}")][n % 4]
        year, month = 1940 + n % 30, 1 + n % 12
        born: object = [f"{year}.{month:02d}", f"{year}年{month}月", year, datetime(year, month, 1)][n % 4]
        skills = "、".join(SKILLS[(n + k) % len(SKILLS)] for k in range(1 + n % 3))
        ws.append([n, name_for(n), "男女"[n % 2], born, "某县某局原科长", "", f"{COUNTIES[n % len(COUNTIES)]}某路{n % 500}号",
                   phone, skills, ["良好", "一般", "较好", ""][n % 4]])
    ws.append(["合计", f"{rows}人"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--first-only", action="store_true", help="import the file once, not again")
    args = parser.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{OUT / 'bench-roster.db'}"
    fresh_database(url)

    from app import create_app
    from app.accounts.models import Role, RoleGrant, User
    from app.extensions import db
    from app.members import columns, importer, sheets
    from app.members.models import ImportJob, MemberProfile
    from bench.population import ready

    started = time.perf_counter()
    cached = OUT / f"roster-{args.rows}.xlsx"       # the same file for both databases
    content = cached.read_bytes() if cached.exists() else workbook(args.rows)
    cached.write_bytes(content)
    print(f"workbook: {args.rows:,} rows, {len(content) / 2**20:.1f} MiB, built in {time.perf_counter() - started:.1f} s")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "TESTING": False, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "JOBS_REDIS_URL": None, "RATELIMIT_ENABLED": False})
    results: dict = {"rows": args.rows, "file_mib": round(len(content) / 2**20, 1), "runs": []}
    with app.app_context():
        ready(0, seed=2026, reuse=False)
        results["engine"] = db.engine.dialect.name
        admin = User(name="郑州市委老干部局", phone="19955500002", active=True,
                     grants=[RoleGrant(role=Role.ADMIN, region_code="410100")])
        db.session.add(admin)
        db.session.commit()
        admin_id = admin.id
        # Per phase: the time inside check_file (the preview's check, the write step's check again)
        # and the statements sent through SQLAlchemy (COPY goes past it: counted as one per table).
        phase = {"check_s": 0.0, "statements": 0}
        checking = importer.check_file

        def timed_check(*a, **kw):
            t = time.perf_counter()
            try:
                return checking(*a, **kw)
            finally:
                phase["check_s"] += time.perf_counter() - t

        importer.check_file = timed_check

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(*_):
            phase["statements"] += 1

        results["rss_mib_before"] = round(peak_rss_mib(), 1)
        for run in ("first",) if args.first_only else ("first", "again"):
            db.session.remove()
            timings: dict = {"run": run}
            t0 = time.perf_counter()
            sheets.check_file(content, "郑州名册.xlsx")
            job = ImportJob(created_by_id=admin_id, filename="郑州名册.xlsx", mode="valid", content=content, kind="xlsx")
            db.session.add(job)
            db.session.commit()
            job_id = job.id
            timings["upload_checks_s"] = round(time.perf_counter() - t0, 2)
            for step in ("read", "check", "write"):
                phase.update(check_s=0.0, statements=0)
                t0 = time.perf_counter()
                if step == "check":   # the mapping page, confirmed as proposed
                    job = db.session.get_one(ImportJob, job_id)
                    layout = next(s for s in importer.layouts_of(job) if s["name"] == job.sheet)
                    assert None not in columns.auto_mapping(layout["headers"])
                importer.run_import(job_id, step)
                db.session.remove()
                job = db.session.get_one(ImportJob, job_id)
                assert job.status != "failed", job.message
                timings[f"{step}_s"] = round(time.perf_counter() - t0, 1)
                timings[f"{step}_statements"] = phase["statements"]
                if step == "write":
                    timings["write_check_again"] = round(phase["check_s"], 1)
                    timings["write_transaction"] = round(timings["write_s"] - phase["check_s"], 1)
                timings[f"rss_after_{step}_mib"] = round(peak_rss_mib(), 1)
            timings["children_peak_rss_mib"] = round(children_peak_rss_mib(), 1)
            timings.update(imported=job.imported_rows, updated=job.updated_rows, unchanged=job.unchanged_rows,
                           refused=job.error_rows + job.review_rows, blank=job.blank_rows, skipped=job.skipped_rows,
                           members=db.session.scalar(select(func.count()).select_from(MemberProfile)),
                           total_s=round(sum(v for k, v in timings.items() if k.endswith("_s")), 1),
                           load_average=os.getloadavg())
            print(json.dumps(timings, ensure_ascii=False))
            results["runs"].append(timings)
            db.session.remove()
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
