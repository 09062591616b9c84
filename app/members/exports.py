"""Exports of the pool in the actor's scope, as .xlsx or .csv; phone numbers masked by default."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from sqlalchemy import Select

from app import access
from app.accounts.models import User
from app.accounts.phone import mask_phone
from app.audit.services import record_read
from app.extensions import db
from app.members.models import EntryStatus, MemberProfile, availability_text
from app.members.search import MemberFilter, search

HEADER = ["姓名", "手机号码", "性别", "出生年份", "县（市、区）", "所在党支部", "原工作单位", "原职务",
          "专长", "方便的时间", "服务范围（公里）", "人才库", "状态"]


def rows(stmt: Select, *, full_phones: bool):
    for chunk in db.session.scalars(stmt.execution_options(yield_per=500)).partitions():
        for m in chunk:
            yield row_for(m, full_phones=full_phones)


def row_for(m: MemberProfile, *, full_phones: bool) -> list:
    phone = m.user.phone if full_phones else mask_phone(m.user.phone)
    levels = "、".join(e.level.label for e in m.pool_entries if e.status is EntryStatus.APPROVED)
    return [m.user.name, phone or "", m.gender.label if m.gender else "", m.birth_year or "", m.region.name,
            m.branch.name if m.branch else "", m.work_unit, m.post,
            "、".join(f"{s.skill.name}（{s.level_label}）" for s in m.skills),
            availability_text(m.availability_mask), m.service_radius_km, levels or "未入库", m.status.label]


def to_xlsx(stmt: Select, *, full_phones: bool) -> tuple[bytes, int]:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("银发人才库")
    ws.append(HEADER)
    count = 0
    for row in rows(stmt, full_phones=full_phones):
        ws.append(row)
        count += 1
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue(), count


def to_csv(stmt: Select, *, full_phones: bool) -> tuple[str, int]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    count = 0
    for row in rows(stmt, full_phones=full_phones):
        writer.writerow(row)
        count += 1
    return out.getvalue(), count


def export_pool(*, actor: User, flt: MemberFilter, fmt: str, full_phones: bool,
                filters: dict[str, str]) -> tuple[bytes | str, int]:
    """The members of a search in the actor's scope as .xlsx or .csv; whole phone numbers only
    when asked by an admin, and only for the members of their own regions. Audited with its filters."""
    full = full_phones and access.may_export_full_phones(actor)
    stmt = search(actor, flt)
    if full:
        stmt = stmt.where(access.full_phones_visible(actor))
    body, count = (to_xlsx if fmt == "xlsx" else to_csv)(stmt, full_phones=full)
    record_read(actor, "pool.export", None, detail={"format": fmt, "rows": count, "full_phones": full,
                                                    "filters": filters})
    return body, count
