"""The ledger of service hours: what members served, confirmed by organizers. Reads only.

Entries are append-only: a correction is an entry of its own holding the difference (see
ServiceRecord), so sums over attended entries are the corrected totals, and an entry's current
hours are its own plus its corrections'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, bindparam, case, func, select

from app.extensions import db
from app.organizations.models import Organization
from app.tasks.models import ServiceRecord, TaskSession


def member_hours(member_id: int) -> float:
    """Every confirmed hour of a member, corrections included (totals_select's first sum)."""
    return float(db.session.execute(totals_select(), {"member_id": member_id, "since": date.max}).one()[0])


def totals_select(*leading: Any) -> Select:
    """A SELECT of `leading` columns followed by every confirmed hour of the member given as
    parameter `member_id` and those served on or after parameter `since` (one row, zeros when
    there are none): a part of tasks near me's read of the member's own facts
    (app.matching.near_me.own_context), and of member_hours()."""
    return select(
        *leading, func.coalesce(func.sum(ServiceRecord.hours), 0),
        func.coalesce(func.sum(case((ServiceRecord.served_on >= bindparam("since"), ServiceRecord.hours))), 0)).where(
        ServiceRecord.member_id == bindparam("member_id"), ServiceRecord.attended)


def hours_since(member_ids: list[int], since: date) -> dict[int, float]:
    if not member_ids:
        return {}
    rows = db.session.execute(select(ServiceRecord.member_id, func.sum(ServiceRecord.hours)).where(
        ServiceRecord.member_id.in_(member_ids), ServiceRecord.attended, ServiceRecord.served_on >= since)
        .group_by(ServiceRecord.member_id)).all()
    return {m: float(h or 0) for m, h in rows}


def current_hours(record_ids: list[int]) -> dict[int, float]:
    """Confirmed entry id → its hours after every correction (0 when not attended)."""
    if not record_ids:
        return {}
    original = func.coalesce(ServiceRecord.corrects_id, ServiceRecord.id)
    rows = db.session.execute(select(original, func.sum(ServiceRecord.hours)).where(
        ServiceRecord.attended, ServiceRecord.id.in_(record_ids) | ServiceRecord.corrects_id.in_(record_ids))
        .group_by(original)).all()
    found = {int(k): round(float(v or 0), 2) for k, v in rows}
    return {i: found.get(i, 0.0) for i in record_ids}


@dataclass(frozen=True)
class Served:
    """A confirmed entry with its current hours: a line of a member's record and proof."""

    record: ServiceRecord
    hours: float

    @property
    def served_on(self) -> date:
        return self.record.served_on

    @property
    def organization(self) -> Organization:
        return self.record.organization

    @property
    def session(self) -> TaskSession:
        return self.record.session

    @property
    def corrected(self) -> bool:
        return abs(self.hours - (self.record.hours if self.record.attended else 0)) > 0.001


def served_records(member_id: int, organization_id: int | None = None) -> list[Served]:
    """A member's confirmed service with hours (after corrections), oldest first: their record and
    proof of service; only one organization's when given."""
    stmt = select(ServiceRecord).join(TaskSession).where(
        ServiceRecord.member_id == member_id, ServiceRecord.corrects_id.is_(None))
    if organization_id is not None:
        stmt = stmt.where(ServiceRecord.organization_id == organization_id)
    originals = list(db.session.scalars(stmt.order_by(ServiceRecord.served_on, ServiceRecord.id)))
    hours = current_hours([r.id for r in originals])
    return [Served(r, hours[r.id]) for r in originals if hours[r.id] > 0]
