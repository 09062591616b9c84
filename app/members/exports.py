"""Exports of the pool in the actor's scope, as .xlsx or .csv; phone numbers masked by default.

An export is a background job (app.jobs, kind "export"): the request records it and answers at
once; the worker streams the members 500 at a time into a file under EXPORT_DIR (a .part file,
renamed when complete) and the export's page links to it when it is ready. Memory stays flat
whatever the size: rows are written as they are read (openpyxl's write-only workbook keeps its
rows in a temporary file until it is zipped)."""

from __future__ import annotations

import csv
import os
import secrets
from collections.abc import Iterator
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from openpyxl import Workbook
from sqlalchemy import Select, func, select, update

from app import access
from app.accounts.models import User
from app.accounts.phone import mask_phone
from app.audit.services import origin, record_read
from app.clock import utcnow
from app.db import streaming_read
from app.extensions import db
from app.jobs import services as jobs
from app.jobs.models import Job
from app.members.models import (
    SKILL_LEVELS,
    Capacity,
    EntryStatus,
    MemberProfile,
    MemberSkill,
    PoolEntry,
    PoolLevel,
    Skill,
    availability_text,
)
from app.members.search import MemberFilter, search
from app.members.sheets import safe_cell, text_cells
from app.organizations.models import Organization
from app.regions.models import Region
from app.transactions import commit_fresh

HEADER = ["姓名", "手机号码", "性别", "出生年份", "县（市、区）", "所在党支部", "原工作单位", "原职务",
          "专长", "方便的时间", "服务范围（公里）", "人才库", "状态"]
CHUNK = 500
FORMATS = ("xlsx", "csv")
FILE_KINDS = ("export", "volunteer_records")   # jobs whose files live in export_dir() (app.proofs.national too)


def rows(stmt: Select, *, full_phones: bool, work: jobs.Work | None = None) -> Iterator[list]:
    """The rows of a search (select(MemberProfile) from app.members.search), in its order: its
    columns read as plain values 500 members at a time, with their skills and pool levels read
    for each 500 at once (no ORM objects: a million members take minutes, not hours)."""
    columns = stmt.with_only_columns(
        MemberProfile.id, User.name, User.phone, MemberProfile.gender, MemberProfile.birth_year, Region.name,
        Organization.name, MemberProfile.work_unit, MemberProfile.post, MemberProfile.availability_mask,
        MemberProfile.service_radius_km, MemberProfile.status, maintain_column_froms=True,
    ).join(Region, Region.code == MemberProfile.region_code).outerjoin(
        Organization, Organization.id == MemberProfile.branch_id)
    for chunk in db.session.execute(columns.execution_options(yield_per=CHUNK)).partitions():
        ids = [r[0] for r in chunk]
        skills: dict[int, list[str]] = {}
        for member_id, name, level in db.session.execute(
                select(MemberSkill.member_id, Skill.name, MemberSkill.level).join(Skill, Skill.id == MemberSkill.skill_id)
                .where(MemberSkill.member_id.in_(ids)).order_by(MemberSkill.id)):
            skills.setdefault(member_id, []).append(f"{name}（{SKILL_LEVELS[level]}）")
        levels: dict[int, list[str]] = {}
        for member_id, pool_level in db.session.execute(
                select(PoolEntry.member_id, PoolEntry.level).where(PoolEntry.member_id.in_(ids),
                                                                    PoolEntry.status == EntryStatus.APPROVED)
                .order_by(PoolEntry.id)):
            levels.setdefault(member_id, []).append(pool_level.label)
        for (member_id, name, phone, gender, birth_year, county, branch, work_unit, post, mask, radius,
             status) in chunk:
            yield [name, (phone if full_phones else mask_phone(phone)) or "", gender.label if gender else "",
                   birth_year or "", county, branch or "", work_unit, post, "、".join(skills.get(member_id, ())),
                   availability_text(mask), radius, "、".join(levels.get(member_id, ())) or "未入库", status.label]
        if work is not None:
            work.progress += len(chunk)


def write_xlsx(stmt: Select, path: Path, *, full_phones: bool, work: jobs.Work | None = None) -> int:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("银发人才库")
    ws.append(HEADER)
    count = 0
    for row in rows(stmt, full_phones=full_phones, work=work):
        ws.append(text_cells(ws, row))
        count += 1
    wb.save(path)
    return count


def write_csv(stmt: Select, path: Path, *, full_phones: bool, work: jobs.Work | None = None) -> int:
    """UTF-8 with a byte-order mark, so that Excel opens Chinese correctly."""
    count = 0
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("\ufeff")
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for row in rows(stmt, full_phones=full_phones, work=work):
            writer.writerow([safe_cell(v) for v in row])
            count += 1
    return count


def export_dir() -> Path:
    path = Path(current_app.config.get("EXPORT_DIR") or Path(current_app.instance_path) / "exports")
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- the filter, as a job's parameters ----------------------------------------------------------


def filter_params(flt: MemberFilter) -> dict[str, Any]:
    params = asdict(flt)
    params["pool_level"] = flt.pool_level.value if flt.pool_level else None
    params["capacity"] = flt.capacity.value if flt.capacity else None
    return params


def filter_from(params: dict[str, Any]) -> MemberFilter:
    return MemberFilter(
        skill_id=params["skill_id"], min_level=params["min_level"],
        pool_level=PoolLevel(params["pool_level"]) if params["pool_level"] else None,
        region_prefix=params["region_prefix"], free=tuple(params["free"]) if params["free"] else None,
        capacity=Capacity(params["capacity"]) if params["capacity"] else None,
        near=tuple(params["near"]) if params["near"] else None,
        within_km=params["within_km"], name=params["name"])


# --- the use case and its job -------------------------------------------------------------------


def request_export(*, actor: User, flt: MemberFilter, fmt: str, full_phones: bool, filters: dict[str, str]) -> Job:
    """Queue an export of a search in the actor's scope; whole phone numbers only when asked by
    an admin, and only for the members of their own regions (decided again when it runs)."""
    if fmt not in FORMATS:
        raise ValueError(fmt)
    return jobs.submit("export", {"filter": filter_params(flt), "format": fmt, "full_phones": full_phones,
                                  "filters": filters, "origin": origin.get()}, actor=actor)


@jobs.handler("export", rerun_safe=True)
def _run(work: jobs.Work) -> None:
    """Write the file, then audit the export with its filters and row count. Safe to run again:
    a run that dies leaves only a .part file, which the next run writes afresh."""
    actor = work.actor()
    params = work.params
    fmt = params["format"]
    full = bool(params["full_phones"]) and access.may_export_full_phones(actor)
    stmt = search(actor, filter_from(params["filter"]))
    if full:
        stmt = stmt.where(access.full_phones_visible(actor))
    name = f"export-{work.job_id}-{secrets.token_hex(8)}.{fmt}"
    final = export_dir() / name
    part = final.with_name(f"export-{work.job_id}.part")   # a run again after a crash writes over it
    with streaming_read(db.session()):
        work.total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        count = (write_xlsx if fmt == "xlsx" else write_csv)(stmt, part, full_phones=full, work=work)
    os.replace(part, final)
    work.result, work.progress, work.total = name, count, count
    work.message = f"共 {count} 人。"
    token = origin.set(params.get("origin", ""))   # audited as asked from where the request came
    try:
        record_read(actor, "pool.export", None, detail={"format": fmt, "rows": count, "full_phones": full,
                                                        "filters": params["filters"]})
    finally:
        origin.reset(token)


def file_of(job: Job) -> Path | None:
    """The finished export's file, while it is kept."""
    if job.kind != "export" or job.state != "done" or not job.result:
        return None
    path = export_dir() / job.result
    return path if path.is_file() else None


def purge_old() -> str:
    """Delete export files older than EXPORT_KEEP_DAYS, and say so on their jobs."""
    before = utcnow() - timedelta(days=current_app.config["EXPORT_KEEP_DAYS"])
    directory = export_dir()

    def purge() -> int:
        old = db.session.execute(select(Job.id, Job.result).where(
            Job.kind.in_(FILE_KINDS), Job.result.is_not(None), Job.finished_at < before)).all()
        for job_id, name in old:
            (directory / str(name)).unlink(missing_ok=True)
            db.session.execute(update(Job).where(Job.id == job_id).values(result=None, message="文件已过期删除，请重新导出。"))
        return len(old)

    return f"{commit_fresh(purge)} old export files deleted"
