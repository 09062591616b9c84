"""Venues, their opening hours, closures and activity packages; bookings and the occurrences
that hold time.

Booking times are naive local wall times (Asia/Shanghai, see app/clock.py) in half-open intervals
[start_at, end_at). No two slot-holding (pending or approved) occurrences of one venue overlap:
on PostgreSQL an exclusion constraint over (venue_id, tsrange(start_at, end_at, '[)')) says so,
declared here for PostgreSQL only; on SQLite two triggers say so. Both are created by the
migration 0005_venues; see its docstring before changing this table with a batch migration.
"""

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
    func,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import WEEKDAYS, utcnow
from app.db import LocalDateTime, TimestampMixin, enum_type
from app.extensions import db
from app.formats import fmt_slot, fmt_time
from app.organizations.models import Organization
from app.regions.models import Region
from app.venues.recurrence import Slot


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


class ActivityType(enum.Enum):
    THEME_PARTY_DAY = "theme_party_day"
    THREE_MEETINGS = "three_meetings"
    MICRO_LECTURE = "micro_lecture"
    POLITICAL_BIRTHDAY = "political_birthday"
    ORGANIZATIONAL_LIFE = "organizational_life"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"theme_party_day": "主题党日", "three_meetings": "三会一课", "micro_lecture": "微党课",
                "political_birthday": "政治生日", "organizational_life": "组织生活会",
                "other": "其他"}[self.value]


class BookingStatus(enum.Enum):
    PENDING = "pending"      # holds the slot while a manager decides
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"pending": "待审核", "approved": "已批准", "rejected": "未批准", "cancelled": "已取消"}[self.value]

    @property
    def holds_slot(self) -> bool:
        return self in SLOT_HOLDING


SLOT_HOLDING = (BookingStatus.PENDING, BookingStatus.APPROVED)
# The same set as SQL text, for the exclusion constraint and the SQLite triggers.
SLOT_HOLDING_SQL = "status IN ('pending', 'approved')"


def new_token() -> str:
    return secrets.token_urlsafe(32)


class VenueFacility(db.Model):
    __tablename__ = "venue_facilities"

    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), primary_key=True)
    facility: Mapped[Facility] = mapped_column(enum_type(Facility), primary_key=True)


class Venue(TimestampMixin, db.Model):
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

    operator: Mapped[Organization] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    facility_rows: Mapped[list[VenueFacility]] = relationship(cascade="all, delete-orphan", lazy="selectin")
    hours: Mapped[list[OpeningHours]] = relationship(
        back_populates="venue", cascade="all, delete-orphan", lazy="selectin",
        order_by="(OpeningHours.weekday, OpeningHours.opens)")

    @property
    def facilities(self) -> set[Facility]:
        return {row.facility for row in self.facility_rows}

    @classmethod
    def scope_clause(cls, actor):
        """Admins see the venues of their regions and managers their own venues; organizers see
        every active venue, since any branch may book any hall."""
        from app.accounts.models import Role

        clause = cls.manage_clause(actor)
        if actor is not None and getattr(actor, "is_authenticated", False) and actor.has_role(Role.ORGANIZER):
            clause = or_(clause, cls.active)
        return clause

    @classmethod
    def manage_clause(cls, actor):
        """Venues the actor runs: as one of its managers, or as an admin of its region."""
        from app.regions.scope import admin_prefixes, code_within

        managed = managed_venue_ids(actor)
        clause = code_within(cls.region_code, admin_prefixes(actor))
        return or_(clause, cls.id.in_(managed)) if managed else clause

    def __repr__(self) -> str:
        return f"<Venue {self.id} {self.name}>"


def managed_venue_ids(actor) -> list[int]:
    from app.accounts.models import Role

    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    return [g.venue_id for g in actor.grants if g.role is Role.VENUE_MANAGER]


def organizer_org_ids(actor) -> list[int]:
    from app.accounts.models import Role

    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    return [g.organization_id for g in actor.grants if g.role is Role.ORGANIZER]


class OpeningHours(db.Model):
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


class Closure(db.Model):
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


class PackageFacility(db.Model):
    __tablename__ = "package_facilities"

    package_id: Mapped[int] = mapped_column(ForeignKey("activity_packages.id", ondelete="CASCADE"),
                                            primary_key=True)
    facility: Mapped[Facility] = mapped_column(enum_type(Facility), primary_key=True)


class ActivityPackage(TimestampMixin, db.Model):
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


class Booking(TimestampMixin, db.Model):
    """A request by a branch for a venue: one slot, or a series (RRULE) materialised as
    occurrences. Co-hosting branches (联合主题党日) are listed in booking_hosts."""

    __tablename__ = "bookings"
    __table_args__ = (CheckConstraint("attendees > 0", name="attendees_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    activity: Mapped[ActivityType] = mapped_column(enum_type(ActivityType))
    package_id: Mapped[int | None] = mapped_column(ForeignKey("activity_packages.id", ondelete="SET NULL"))
    attendees: Mapped[int]                  # everyone: the lead branch and all co-hosts
    note: Mapped[str] = mapped_column(Text, default="")
    recurrence: Mapped[str | None] = mapped_column(String(200))   # RFC 5545 RRULE, None for one slot
    status: Mapped[BookingStatus] = mapped_column(enum_type(BookingStatus), default=BookingStatus.PENDING)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(String(300), default="")

    venue: Mapped[Venue] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    booked_by: Mapped[User | None] = relationship(foreign_keys=[booked_by_id])  # noqa: F821
    package: Mapped[ActivityPackage | None] = relationship()
    occurrences: Mapped[list[BookingOccurrence]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", order_by="BookingOccurrence.start_at")
    hosts: Mapped[list[BookingHost]] = relationship(
        back_populates="booking", cascade="all, delete-orphan", order_by="BookingHost.id", lazy="selectin")

    @property
    def co_hosts(self) -> list[BookingHost]:
        return [h for h in self.hosts if h.organization_id != self.organization_id]

    @property
    def lead_attendees(self) -> int:
        return self.attendees - sum(h.attendees for h in self.co_hosts)

    @property
    def rule(self):
        from app.venues.recurrence import Rule

        return Rule.from_rrule(self.recurrence) if self.recurrence else None

    @classmethod
    def scope_clause(cls, actor):
        """Its branches' organizers (lead or co-host), its venue's managers and the admins of the
        venue's region see a booking."""
        orgs = organizer_org_ids(actor)
        clauses = [cls.venue_id.in_(select(Venue.id).where(Venue.manage_clause(actor)))]
        if orgs:
            clauses.append(cls.organization_id.in_(orgs))
            clauses.append(cls.id.in_(select(BookingHost.booking_id).where(BookingHost.organization_id.in_(orgs))))
        return or_(*clauses)

    def __repr__(self) -> str:
        return f"<Booking {self.id} {self.title}>"


class BookingHost(db.Model):
    """A branch taking part in a booking, with its attendees; the lead branch is one of them."""

    __tablename__ = "booking_hosts"
    __table_args__ = (UniqueConstraint("booking_id", "organization_id"),
                      CheckConstraint("attendees > 0", name="attendees_positive"))

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    attendees: Mapped[int]

    booking: Mapped[Booking] = relationship(back_populates="hosts")
    organization: Mapped[Organization] = relationship(lazy="joined")


class BookingOccurrence(db.Model):
    """One materialised slot of a booking: the row that holds a venue's time."""

    __tablename__ = "booking_occurrences"
    __table_args__ = (
        CheckConstraint("start_at < end_at", name="start_before_end"),
        Index("ix_booking_occurrences_venue_id_start_at", "venue_id", "start_at"),
        ExcludeConstraint(
            (literal_column("venue_id"), "="),
            (func.tsrange(literal_column("start_at"), literal_column("end_at"), text("'[)'")), "&&"),
            name="ex_booking_occurrences_no_overlap", using="gist", where=text(SLOT_HOLDING_SQL),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), index=True)
    venue_id: Mapped[int] = mapped_column(ForeignKey("venues.id", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(LocalDateTime())
    end_at: Mapped[datetime] = mapped_column(LocalDateTime())
    status: Mapped[BookingStatus] = mapped_column(enum_type(BookingStatus), default=BookingStatus.PENDING)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(String(300), default="")

    booking: Mapped[Booking] = relationship(back_populates="occurrences")

    @property
    def slot(self) -> Slot:
        return Slot(self.start_at, self.end_at)

    @property
    def when(self) -> str:
        return fmt_slot(self.start_at, self.end_at)


class CalendarFeed(db.Model):
    """A secret iCalendar address for a branch's bookings. Calendar programs cannot sign in, so
    the unguessable token in the URL is the key; regenerating it retires the old address.
    (A venue's feed token lives on the venue.)"""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_token)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()


