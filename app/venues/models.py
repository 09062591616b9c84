"""Shared venues (政治生活馆, 老党员共享家园, 党性教育基地): where they are, who operates them, their
opening hours, closures, facilities and the themed activity packages they offer. Their bookings
are app.bookings."""

from __future__ import annotations

import enum
import secrets
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import WEEKDAYS, utcnow
from app.db import TimestampMixin, enum_type
from app.extensions import Model
from app.formats import fmt_time
from app.organizations.models import Organization
from app.regions.models import Region


class VenueKind(enum.Enum):
    POLITICAL_LIFE_HALL = "political_life_hall"
    SHARED_HOME = "shared_home"
    EDUCATION_BASE = "education_base"

    @property
    def label(self) -> str:
        return {"political_life_hall": "离退休干部政治生活馆", "shared_home": "老党员共享家园",
                "education_base": "党性教育基地"}[self.value]


class Facility(enum.Enum):
    ACCESSIBLE_ENTRANCE = "accessible_entrance"
    LIFT = "lift"
    ACCESSIBLE_TOILET = "accessible_toilet"
    PROJECTOR = "projector"
    SOUND_SYSTEM = "sound_system"
    OATH_WALL = "oath_wall"
    PARKING = "parking"
    AIR_CONDITIONING = "air_conditioning"

    @property
    def label(self) -> str:
        return FACILITY_LABELS[self]


FACILITY_LABELS = {
    Facility.ACCESSIBLE_ENTRANCE: "无障碍入口",
    Facility.LIFT: "电梯",
    Facility.ACCESSIBLE_TOILET: "无障碍卫生间",
    Facility.PROJECTOR: "投影仪",
    Facility.SOUND_SYSTEM: "音响话筒",
    Facility.OATH_WALL: "入党誓词墙、党旗",
    Facility.PARKING: "停车位",
    Facility.AIR_CONDITIONING: "空调",
}


def new_token() -> str:
    return secrets.token_urlsafe(32)


class VenueFacility(Model):
    __tablename__ = "venue_facilities"

    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), primary_key=True)
    facility: Mapped[Facility] = mapped_column(enum_type(Facility), primary_key=True)


class Venue(TimestampMixin, Model):
    __tablename__ = "venues"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        Index("ix_venues_lat_lon", "lat", "lon"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[VenueKind] = mapped_column(enum_type(VenueKind))
    operator_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)  # a county
    address: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float]
    lon: Mapped[float]
    capacity: Mapped[int] = mapped_column(CheckConstraint("capacity > 0", name="capacity_positive"))
    description: Mapped[str] = mapped_column(Text, default="")
    contact_phone: Mapped[str | None] = mapped_column(String(20))  # the venue's own desk, public
    active: Mapped[bool] = mapped_column(default=True)
    closed_on_holidays: Mapped[bool] = mapped_column(default=True)
    min_lead_hours: Mapped[int] = mapped_column(
        CheckConstraint("min_lead_hours >= 0 AND min_lead_hours <= 720", name="lead_range"), default=24)
    horizon_days: Mapped[int] = mapped_column(
        CheckConstraint("horizon_days >= 1 AND horizon_days <= 366", name="horizon_range"), default=90)
    feed_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    no_show_minutes: Mapped[int] = mapped_column(
        CheckConstraint("no_show_minutes >= 5 AND no_show_minutes <= 240", name="no_show_range"), default=30,
        server_default="30")    # a booking nobody checked in to this long after its start is released

    operator: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    facility_rows: Mapped[list[VenueFacility]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="venue", cascade="all, delete-orphan", lazy="selectin",
        order_by="(OpeningHours.weekday, OpeningHours.opens)")

    @property
    def facilities(self) -> set[Facility]:
        return {row.facility for row in self.facility_rows}

    def __repr__(self) -> str:
        return f"<Venue {self.id} {self.name}>"


class OpeningHours(Model):
    """One opening period on a weekday; a day may have several (morning and afternoon)."""

    __tablename__ = "opening_hours"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint("opens < closes", name="opens_before_closes"),
        UniqueConstraint("venue_id", "weekday", "opens"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    weekday: Mapped[int]                    # 0 = Monday
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)

    venue: Mapped[Venue] = relationship(back_populates="hours")

    @property
    def label(self) -> str:
        return f"{WEEKDAYS[self.weekday]} {fmt_time(self.opens)}–{fmt_time(self.closes)}"


class Closure(Model):
    """Days a venue is closed (repairs, events); public holidays come from chinese-calendar."""

    __tablename__ = "closures"
    __table_args__ = (CheckConstraint("first_day <= last_day", name="ordered"),
                      Index("ix_closures_venue_id_last_day", "venue_id", "last_day"))

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)   # inclusive
    reason: Mapped[str] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PackageFacility(Model):
    __tablename__ = "package_facilities"

    package_id: Mapped[int] = mapped_column(ForeignKey("activity_packages.id", ondelete="CASCADE"),
                                            primary_key=True)
    facility: Mapped[Facility] = mapped_column(enum_type(Facility), primary_key=True)


class ActivityPackage(TimestampMixin, Model):
    """A themed activity (内容定制) a venue offers with its room: 重温入党誓词, 红色观影, 政治生日…
    Global packages (no venue) are offered by every venue that has the facilities they need."""

    __tablename__ = "activity_packages"
    __table_args__ = (
        CheckConstraint("duration_minutes >= 15 AND duration_minutes <= 720", name="duration_range"),
        CheckConstraint("max_participants > 0", name="max_participants_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int | None] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    content: Mapped[str] = mapped_column(Text, default="")          # what happens
    provides: Mapped[str] = mapped_column(String(300), default="")  # what the venue provides
    duration_minutes: Mapped[int]
    max_participants: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)

    venue: Mapped[Venue | None] = relationship()
    facility_rows: Mapped[list[PackageFacility]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def needs(self) -> set[Facility]:
        return {row.facility for row in self.facility_rows}

    @property
    def duration_label(self) -> str:
        hours, minutes = divmod(self.duration_minutes, 60)
        return (f"{hours} 小时" if hours else "") + (f"{minutes} 分钟" if minutes else "")


