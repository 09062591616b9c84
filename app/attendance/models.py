"""Who was there: one attendance row per person and task session (or booking occurrence), with
the local times they checked in and out and how. No location is stored, only the times.

A scan of a check-in code is recorded once per person (attendance_scans), so the same code used
twice by one person is refused as a replay."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utcnow
from app.db import LocalDateTime, enum_type
from app.extensions import Model


class CheckInMethod(enum.Enum):
    QR = "qr"            # the person scanned the code on the organizer's screen
    MANUAL = "manual"    # the organizer checked the person in by hand (no smartphone)

    @property
    def label(self) -> str:
        return {"qr": "扫码", "manual": "组织者代签"}[self.value]


class Attendance(Model):
    __tablename__ = "attendances"
    __table_args__ = (
        CheckConstraint("(session_id IS NULL) <> (occurrence_id IS NULL)", name="one_target"),
        CheckConstraint("checked_out_at IS NULL OR checked_out_at >= checked_in_at", name="out_after_in"),
        UniqueConstraint("session_id", "user_id"),
        UniqueConstraint("occurrence_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("task_sessions.id", ondelete="CASCADE"))
    occurrence_id: Mapped[int | None] = mapped_column(ForeignKey("booking_occurrences.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    checked_in_at: Mapped[datetime] = mapped_column(LocalDateTime())
    checked_out_at: Mapped[datetime | None] = mapped_column(LocalDateTime())
    check_in_method: Mapped[CheckInMethod] = mapped_column(enum_type(CheckInMethod))
    check_out_method: Mapped[CheckInMethod | None] = mapped_column(enum_type(CheckInMethod, "checkoutmethod"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")


class AttendanceScan(Model):
    """A check-in code used by a person: the code's key (target and 30-second window), once each."""

    __tablename__ = "attendance_scans"
    __table_args__ = (UniqueConstraint("code_key", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_key: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    used_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
