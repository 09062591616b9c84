"""The ledger of service hours: what members served, confirmed by organizers. Reads only."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from app.extensions import db
from app.tasks.models import ServiceRecord, TaskSession


def member_hours(member_id: int) -> float:
    return float(db.session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.member_id == member_id, ServiceRecord.attended)) or 0)


def hours_since(member_ids: list[int], since: date) -> dict[int, float]:
    if not member_ids:
        return {}
    rows = db.session.execute(select(ServiceRecord.member_id, func.sum(ServiceRecord.hours)).where(
        ServiceRecord.member_id.in_(member_ids), ServiceRecord.attended, ServiceRecord.served_on >= since)
        .group_by(ServiceRecord.member_id)).all()
    return {m: float(h or 0) for m, h in rows}


def served_records(member_id: int) -> list[ServiceRecord]:
    """A member's confirmed service with hours, oldest first: their record and proof of service."""
    return list(db.session.scalars(select(ServiceRecord).join(TaskSession).where(
        ServiceRecord.member_id == member_id, ServiceRecord.attended, ServiceRecord.hours > 0)
        .order_by(ServiceRecord.served_on, ServiceRecord.id)))
