"""Issued proofs of service. A proof is issued by the organization that recorded the service
(《志愿服务条例》 art. 19) and names the ledger entries it counted, with their hours then; a
correction of any of them later revokes it. Its number is random (unguessable) and unique."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utcnow
from app.db import enum_type
from app.extensions import Model
from app.members.models import MemberProfile
from app.organizations.models import Organization


class Certificate(Model):
    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    total_hours: Mapped[float] = mapped_column(Numeric(7, 2, asdecimal=False))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(String(300), default="")

    member: Mapped[MemberProfile] = relationship()
    organization: Mapped[Organization] = relationship(lazy="joined")
    issued_by: Mapped[User | None] = relationship()
    lines: Mapped[list[CertificateRecord]] = relationship(back_populates="certificate", cascade="all, delete-orphan",
                                                          order_by="CertificateRecord.served_on")

    @property
    def valid(self) -> bool:
        return self.revoked_at is None


class CertificateRecord(Model):
    """One ledger entry a proof counted, with the hours it had when the proof was issued."""

    __tablename__ = "certificate_records"
    __table_args__ = (Index("ix_certificate_records_record_id", "record_id"),)

    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("service_records.id", ondelete="CASCADE"), primary_key=True)
    served_on: Mapped[date] = mapped_column(Date)
    activity: Mapped[str] = mapped_column(String(80))
    hours: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False))

    certificate: Mapped[Certificate] = relationship(back_populates="lines")


class Training(Model):
    """Training a volunteer took (培训情况), recorded by staff."""

    __tablename__ = "volunteer_trainings"
    __table_args__ = (CheckConstraint("hours > 0 AND hours <= 200", name="hours_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    trained_on: Mapped[date] = mapped_column(Date)
    hours: Mapped[float] = mapped_column(Numeric(5, 1, asdecimal=False))
    provider: Mapped[str] = mapped_column(String(100))          # 培训单位
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommendationLevel(enum.Enum):
    NATIONAL = "national"
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"national": "国家级", "province": "省级", "city": "市级", "county": "县级",
                "other": "其他"}[self.value]


class Commendation(Model):
    """A commendation or award (表彰奖励情况), recorded by staff."""

    __tablename__ = "volunteer_commendations"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    level: Mapped[CommendationLevel] = mapped_column(enum_type(CommendationLevel))
    awarded_by: Mapped[str] = mapped_column(String(100))        # 授予单位
    awarded_on: Mapped[date] = mapped_column(Date)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
