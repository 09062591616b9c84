"""Bookings of shared venues by party branches: the request (one slot or a series), the branches
hosting it, and the occurrences that hold a venue's time; a branch's secret calendar address.

Booking times are naive local wall times (Asia/Shanghai, see app/clock.py) in half-open intervals
[start_at, end_at). No two slot-holding (pending or approved) occurrences of one venue overlap:
on PostgreSQL an exclusion constraint over (venue_id, tsrange(start_at, end_at, '[)')) says so,
declared here for PostgreSQL only; on SQLite two triggers say so. Both are created by the
migration 0005_venues; see its docstring before changing this table with a batch migration.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, func, literal_column, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.accounts.models import User
from app.clock import utcnow
from app.db import LocalDateTime, TimestampMixin, enum_type
from app.extensions import Model
from app.formats import fmt_slot
from app.organizations.models import Organization
from app.venues.models import ActivityPackage, Venue, new_token
from app.venues.recurrence import Rule, Slot


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


class Booking(TimestampMixin, Model):
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
    booked_by: Mapped[User | None] = relationship(foreign_keys=[booked_by_id])
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
    def rule(self) -> Rule | None:
        return Rule.from_rrule(self.recurrence) if self.recurrence else None

    def __repr__(self) -> str:
        return f"<Booking {self.id} {self.title}>"


class BookingHost(Model):
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


class BookingOccurrence(Model):
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
    checked_in_at: Mapped[datetime | None] = mapped_column(LocalDateTime())   # the first arrival
    released_at: Mapped[datetime | None]    # freed because nobody checked in (no-show); status cancelled

    booking: Mapped[Booking] = relationship(back_populates="occurrences")

    @property
    def slot(self) -> Slot:
        return Slot(self.start_at, self.end_at)

    @property
    def when(self) -> str:
        return fmt_slot(self.start_at, self.end_at)


class CalendarFeed(Model):
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


class BookingReminder(Model):
    """The reminder the booker of an approved date got the day before (app/bookings/reminders.py):
    one per (date, person), and the link in it, answered at most once with "去不了了"."""

    __tablename__ = "booking_reminders"
    __table_args__ = (UniqueConstraint("occurrence_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurrence_id: Mapped[int] = mapped_column(ForeignKey("booking_occurrences.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]

    occurrence: Mapped[BookingOccurrence] = relationship()
    user: Mapped[User] = relationship()
