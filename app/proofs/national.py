"""Volunteer records in the national shape, for upload to the national volunteer information
system: one .xlsx with the five blocks of a record (《志愿服务记录与证明出具办法（试行）》):
personal details, service, training, commendations, evaluation, under that system's field names.

An export is a background job (kind "volunteer_records"), like the pool's exports: the request
records it, the worker writes the members 500 at a time through openpyxl's write-only workbook
(one temporary file per sheet, so memory stays flat), and the export's page links to the file.
Which members: a member, a branch's members or a region's, always inside members_visible. Phone
numbers are whole only where the actor may see them (sees_phone), masked elsewhere. Identity
card numbers are not collected by Yinhui (PIPL: no more than needed): their columns are there,
empty, for whoever uploads to fill in."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Select, func, select

from app import access
from app.accounts.models import User
from app.accounts.phone import mask_phone
from app.audit.services import origin, record_read
from app.db import streaming_read
from app.errors import Invalid, PermissionDenied
from app.extensions import db
from app.formats import fmt_hours
from app.jobs import services as jobs
from app.jobs.models import Job
from app.members.exports import export_dir
from app.members.models import MemberProfile, profile_alone
from app.organizations.models import Organization
from app.proofs.models import Commendation, Training
from app.regions.codes import code_within
from app.tasks.models import ServiceRecord, Task, TaskSession

KIND = "volunteer_records"
CHUNK = 500
ID_TYPE = "居民身份证"

SHEETS = {
    "志愿者基本信息": ["姓名", "性别", "出生年份", "证件类型", "证件号码", "手机号码", "所在地区", "所在党支部",
                       "原工作单位", "累计志愿服务时长（小时）"],
    "志愿服务记录": ["姓名", "证件号码", "手机号码", "项目名称", "服务内容", "服务地点", "服务开始时间",
                     "服务结束时间", "服务时长（小时）", "记录单位", "记录时间", "更正说明"],
    "培训记录": ["姓名", "证件号码", "手机号码", "培训名称", "培训时间", "培训时长（小时）", "培训单位"],
    "表彰奖励记录": ["姓名", "证件号码", "手机号码", "表彰奖励名称", "表彰奖励级别", "授予单位", "表彰奖励时间"],
    "评价记录": ["姓名", "证件号码", "手机号码", "评价内容", "评价单位", "评价时间"],
}
NOTES = [
    ["说明"],
    ["本文件按《志愿服务记录与证明出具办法（试行）》的五类信息分表：个人基本信息、志愿服务情况、培训情况、表彰奖励情况、评价情况。"],
    ["服务时长为服务组织确认并锁定的时长，含之后的更正（更正另有记录，见“更正说明”）。"],
    ["银晖不收集证件号码：上传全国志愿服务信息系统前，请由本人同意后补填“证件号码”列。"],
    ["含个人信息，请妥善保管，上传后删除。"],
]
SCOPES = ("member", "branch", "region")


def members_in(actor: User, scope: str, key: str) -> Select[MemberProfile]:
    """The members an export covers, inside what the actor may see."""
    stmt = select(MemberProfile).options(*profile_alone()).where(access.members_visible(actor))
    if scope == "member":
        stmt = stmt.where(MemberProfile.id == int(key))
    elif scope == "branch":
        stmt = stmt.where(MemberProfile.branch_id == int(key))
    else:
        stmt = stmt.where(code_within(MemberProfile.region_code, [key]))
    return stmt.order_by(MemberProfile.id)


def request_export(*, actor: User, scope: str, key: str) -> Job:
    """Queue an export of one member's, one branch's or one region's records."""
    if not access.may_export_volunteer_records(actor):
        raise PermissionDenied("只有组织者和老干部局可以导出志愿服务记录")
    if scope not in SCOPES or not key.isdigit():
        raise Invalid("请选择导出谁的记录")
    if scope == "branch":
        org = access.get(Organization, key, actor)
        if org is None:
            raise Invalid("请选择您负责的支部", field="branch")
    if scope == "region" and not access.covers(actor, key):
        raise Invalid("只能导出您管辖地区的记录", field="region")
    if scope == "member" and access.get(MemberProfile, key, actor) is None:
        raise Invalid("没有找到这位老同志")
    return jobs.submit(KIND, {"scope": scope, "key": key, "origin": origin.get()}, actor=actor)


def _phone(actor: User, member: MemberProfile) -> str:
    return (member.user.phone if access.sees_phone(actor, member) else mask_phone(member.user.phone)) or ""


def _fmt_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


def blocks(actor: User, members: list[MemberProfile]) -> Iterator[tuple[str, list]]:
    """(sheet, row) for a chunk of members: each member's five blocks. The ledger is read as plain
    columns, one statement per chunk (no ORM objects per entry: a province has millions)."""
    ids = [m.id for m in members]
    entries = db.session.execute(select(
        ServiceRecord.id, ServiceRecord.member_id, ServiceRecord.corrects_id, ServiceRecord.attended,
        ServiceRecord.hours, ServiceRecord.feedback, ServiceRecord.reason, ServiceRecord.served_on,
        ServiceRecord.confirmed_at, TaskSession.starts_at, TaskSession.ends_at, Task.title, Task.description,
        Task.category, Task.address, Organization.name)
        .join(TaskSession, TaskSession.id == ServiceRecord.session_id).join(Task, Task.id == TaskSession.task_id)
        .join(Organization, Organization.id == ServiceRecord.organization_id)
        .where(ServiceRecord.member_id.in_(ids)).order_by(ServiceRecord.served_on, ServiceRecord.id)).all()
    hours = {e.id: (e.hours if e.attended else 0.0) for e in entries if e.corrects_id is None}
    fixes: dict[int, list[str]] = {}
    for e in entries:
        if e.corrects_id is not None:
            hours[e.corrects_id] = hours.get(e.corrects_id, 0.0) + e.hours
            fixes.setdefault(e.corrects_id, []).append(f"{e.confirmed_at:%Y-%m-%d} {e.hours:+g} 小时：{e.reason}")
    by_member: dict[int, list[Any]] = {}
    for e in entries:
        if e.corrects_id is None:
            by_member.setdefault(e.member_id, []).append(e)
    trainings: dict[int, list[Training]] = {}
    for t in db.session.scalars(select(Training).where(Training.member_id.in_(ids)).order_by(Training.trained_on)):
        trainings.setdefault(t.member_id, []).append(t)
    awards: dict[int, list[Commendation]] = {}
    for c in db.session.scalars(select(Commendation).where(Commendation.member_id.in_(ids))
                                .order_by(Commendation.awarded_on)):
        awards.setdefault(c.member_id, []).append(c)
    for m in members:
        name, phone = m.user.name, _phone(actor, m)
        served = [e for e in by_member.get(m.id, []) if round(hours[e.id], 2) > 0]
        yield "志愿者基本信息", [name, m.gender.label if m.gender else "", m.birth_year or "", ID_TYPE, "", phone,
                            m.region.name if m.region else m.region_code, m.branch.name if m.branch else "",
                            m.work_unit, fmt_hours(sum(hours[e.id] for e in served))]
        for e in served:
            yield "志愿服务记录", [name, "", phone, e.title, (e.description or "")[:500] or e.category.label,
                              e.address or "线上或电话", _fmt_time(e.starts_at), _fmt_time(e.ends_at),
                              fmt_hours(hours[e.id]), e.name, f"{e.confirmed_at:%Y-%m-%d %H:%M}",
                              "；".join(fixes.get(e.id, []))]
        for t in trainings.get(m.id, []):
            yield "培训记录", [name, "", phone, t.name, t.trained_on.isoformat(), fmt_hours(t.hours), t.provider]
        for c in awards.get(m.id, []):
            yield "表彰奖励记录", [name, "", phone, c.title, c.level.label, c.awarded_by, c.awarded_on.isoformat()]
        for e in by_member.get(m.id, []):
            if e.feedback:
                yield "评价记录", [name, "", phone, e.feedback, e.name, e.served_on.isoformat()]


def write_xlsx(actor: User, stmt: Select[MemberProfile], path: Path, work: jobs.Work | None = None) -> int:
    wb = Workbook(write_only=True)
    sheets = {title: wb.create_sheet(title) for title in SHEETS}
    for title, header in SHEETS.items():
        sheets[title].append(header)
    notes = wb.create_sheet("说明")
    for line in NOTES:
        notes.append(line)
    count = 0
    for chunk in db.session.execute(stmt.execution_options(yield_per=CHUNK)).partitions():
        members = [row[0] for row in chunk]
        for title, row in blocks(actor, members):
            sheets[title].append(row)
        count += len(members)
        if work is not None:
            work.progress = count
    wb.save(path)
    return count


@jobs.handler(KIND, rerun_safe=True)
def _run(work: jobs.Work) -> None:
    """Write the file, then audit the export. Safe to run again: a dead run leaves a .part file."""
    actor = work.actor()
    scope, key = work.params["scope"], work.params["key"]
    stmt = members_in(actor, scope, key)
    name = f"records-{work.job_id}-{secrets.token_hex(8)}.xlsx"
    final = export_dir() / name
    part = final.with_name(f"records-{work.job_id}.part")
    with streaming_read(db.session()):
        work.total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        count = write_xlsx(actor, stmt, part, work)
    os.replace(part, final)
    work.result, work.progress, work.total = name, count, count
    work.message = f"共 {count} 人。"
    token = origin.set(work.params.get("origin", ""))
    try:
        record_read(actor, "records.export", None, detail={"scope": scope, "key": key, "rows": count})
    finally:
        origin.reset(token)


def file_of(job: Job) -> Path | None:
    if job.kind != KIND or job.state != "done" or not job.result:
        return None
    path = export_dir() / job.result
    return path if path.is_file() else None
