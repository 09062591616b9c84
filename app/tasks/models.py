"""Volunteer needs (tasks), their sessions and skills, who takes part, and the ledger of hours."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from app.accounts.models import User
from app.clock import utcnow
from app.db import TimestampMixin, enum_type
from app.extensions import Model
from app.members.models import Capacity, MemberProfile, Skill
from app.organizations.models import Organization


class TaskCategory(enum.Enum):
    RURAL = "rural"
    GOVERNANCE = "governance"
    RED_HERITAGE = "red_heritage"
    NEXT_GENERATION = "next_generation"
    ECOLOGY = "ecology"
    ELDER_CARE = "elder_care"
    PARTY_BUILDING = "party_building"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {"rural": "乡村振兴", "governance": "基层治理", "red_heritage": "红色宣讲",
                "next_generation": "关心下一代", "ecology": "生态与水源保护", "elder_care": "为老服务",
                "party_building": "党建助力", "other": "其他"}[self.value]


class TaskMode(enum.Enum):
    ONSITE = "onsite"
    REMOTE = "remote"

    @property
    def label(self) -> str:
        return {"onsite": "到现场", "remote": "线上或电话"}[self.value]


class ScheduleKind(enum.Enum):
    ONCE = "once"        # one session: a date, a start and an end time
    WEEKLY = "weekly"    # the same times on chosen weekdays, between two dates

    @property
    def label(self) -> str:
        return {"once": "一次", "weekly": "每周固定时间"}[self.value]


class TaskStatus(enum.Enum):
    DRAFT = "draft"
    OPEN = "open"
    FILLED = "filled"
    CLOSED = "closed"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"draft": "草稿", "open": "招募中", "filled": "人已满", "closed": "已结束",
                "cancelled": "已取消"}[self.value]


class Task(TimestampMixin, Model):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("headcount BETWEEN 1 AND 200", name="headcount_range"),
        CheckConstraint("radius_km BETWEEN 1 AND 100", name="radius_range"),
        CheckConstraint("(mode = 'remote') = (lat IS NULL)", name="remote_has_no_place"),
        Index("ix_tasks_status_lat_lon", "status", "lat", "lon"),
        # The open online tasks of a county and its city, for tasks near me: without the status
        # first, every task the county ever posted was read and thrown away.
        Index("ix_tasks_status_region_code", "status", "region_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)  # the organization's county
    title: Mapped[str] = mapped_column(String(80))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[TaskCategory] = mapped_column(enum_type(TaskCategory))
    mode: Mapped[TaskMode] = mapped_column(enum_type(TaskMode), default=TaskMode.ONSITE)
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    radius_km: Mapped[int] = mapped_column(default=10)
    schedule: Mapped[ScheduleKind] = mapped_column(enum_type(ScheduleKind), default=ScheduleKind.ONCE)
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)
    weekdays: Mapped[int] = mapped_column(default=0)           # bit d = weekday d (0 = Monday), weekly only
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)
    headcount: Mapped[int] = mapped_column(default=1)
    demand: Mapped[Capacity] = mapped_column(enum_type(Capacity), default=Capacity.LIGHT)
    outdoor: Mapped[bool] = mapped_column(default=False)
    status: Mapped[TaskStatus] = mapped_column(enum_type(TaskStatus), default=TaskStatus.DRAFT, index=True)
    widen_to: Mapped[str | None] = mapped_column(String(10))   # None (county), "city" or "province"
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None]
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    organization: Mapped[Organization] = relationship(lazy="joined")
    skills: Mapped[list[TaskSkill]] = relationship(back_populates="task", cascade="all, delete-orphan",
                                                   lazy="selectin", order_by="TaskSkill.id")
    sessions: Mapped[list[TaskSession]] = relationship(back_populates="task", cascade="all, delete-orphan",
                                                       lazy="selectin", order_by="TaskSession.starts_at")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="task", lazy="selectin",
                                                         order_by="Assignment.id")

    @property
    def accepted_count(self) -> int:
        return accepted_among(a.status for a in self.assignments)

    @property
    def is_onsite(self) -> bool:
        return self.mode is TaskMode.ONSITE


class TaskSkill(Model):
    __tablename__ = "task_skills"
    __table_args__ = (UniqueConstraint("task_id", "skill_id"),
                      CheckConstraint("min_level BETWEEN 1 AND 3", name="level_range"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id"), index=True)
    min_level: Mapped[int] = mapped_column(default=1)
    required: Mapped[bool] = mapped_column(default=True)

    task: Mapped[Task] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship(lazy="joined")


class TaskSession(Model):
    """One occurrence of a task, in local time (Asia/Shanghai): when people actually serve."""

    __tablename__ = "task_sessions"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ordered"),
                      Index("ix_task_sessions_starts_at", "starts_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=False))
    cancelled: Mapped[bool] = mapped_column(default=False)
    attendance_confirmed_at: Mapped[datetime | None]

    task: Mapped[Task] = relationship(back_populates="sessions")

    @property
    def hours(self) -> float:
        return round((self.ends_at - self.starts_at).total_seconds() / 3600, 2)


class AssignmentStatus(enum.Enum):
    INVITED = "invited"        # the organizer asked; waiting for the member
    APPLIED = "applied"        # the member asked; waiting for the organizer
    ACCEPTED = "accepted"      # taking part: counts against the headcount
    WAITLISTED = "waitlisted"  # would take part, but the task is full
    DECLINED = "declined"      # the member said no to an invitation (no reason needed)
    REJECTED = "rejected"      # the organizer said no to an application
    WITHDRAWN = "withdrawn"    # the member stepped back after accepting

    @property
    def label(self) -> str:
        return {"invited": "已邀请，待回复", "applied": "已报名，待确认", "accepted": "已确认参加",
                "waitlisted": "候补", "declined": "已婉拒", "rejected": "未安排", "withdrawn": "已退出"}[self.value]


def accepted_among(statuses: Iterable[AssignmentStatus]) -> int:
    """How many of a task's assignments, given their states, hold a place: the accepted ones."""
    return sum(1 for status in statuses if status is AssignmentStatus.ACCEPTED)


LIVE_ASSIGNMENT = (AssignmentStatus.INVITED, AssignmentStatus.APPLIED, AssignmentStatus.ACCEPTED,
                   AssignmentStatus.WAITLISTED)


class Assignment(Model):
    """A member on a task: one row per (task, member), moving through its states."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("task_id", "member_id"),
                      Index("ix_assignments_member_id_status", "member_id", "status"))

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(10))   # "invited" or "applied"
    status: Mapped[AssignmentStatus] = mapped_column(enum_type(AssignmentStatus))
    message: Mapped[str] = mapped_column(Text, default="")        # the invitation's or application's words
    reasons: Mapped[str] = mapped_column(Text, default="")        # why the member was suggested
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    task: Mapped[Task] = relationship(back_populates="assignments")
    member: Mapped[MemberProfile] = relationship(lazy="joined")


class ServiceRecord(Model):
    """The ledger: a member's attendance at one session, with the hours an organizer confirmed.

    Append-only. A confirmed entry is locked (a database trigger refuses to change its hours or
    attendance); a later correction is a new entry pointing at the one it corrects
    (`corrects_id`), holding the difference in hours, with its reason. So a sum of `hours` over
    attended entries is always the corrected total, and the history shows every change."""

    __tablename__ = "service_records"
    __table_args__ = (CheckConstraint("hours >= -24 AND hours <= 24 AND (corrects_id IS NOT NULL OR hours >= 0)",
                                      name="hours_range"),
                      Index("uq_service_records_original", "assignment_id", "session_id", unique=True,
                            sqlite_where=text("corrects_id IS NULL"), postgresql_where=text("corrects_id IS NULL")),
                      Index("ix_service_records_member_id_served_on", "member_id", "served_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("task_sessions.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member_profiles.id", ondelete="CASCADE"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    served_on: Mapped[date] = mapped_column(Date)
    attended: Mapped[bool] = mapped_column(default=True)
    hours: Mapped[float] = mapped_column(Numeric(5, 2, asdecimal=False), default=0)   # a correction: the difference
    feedback: Mapped[str] = mapped_column(Text, default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    proposed_hours: Mapped[float | None] = mapped_column(Numeric(5, 2, asdecimal=False))  # from check-in and out
    reason: Mapped[str] = mapped_column(Text, default="")      # why the hours differ from the proposal, or changed
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("service_records.id", ondelete="CASCADE"), index=True)

    session: Mapped[TaskSession] = relationship(lazy="joined")
    organization: Mapped[Organization] = relationship(lazy="joined")
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])

    @property
    def is_correction(self) -> bool:
        return self.corrects_id is not None


class TaskReminder(Model):
    """The reminder a member on a task got the day before one of its sessions (app/tasks/reminders.py):
    one per (assignment, session), and the link in it, answered at most once with "去不了了"."""

    __tablename__ = "task_reminders"
    __table_args__ = (UniqueConstraint("assignment_id", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("task_sessions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]

    assignment: Mapped[Assignment] = relationship()
    session: Mapped[TaskSession] = relationship()


class SessionRelease(Model):
    """A member on a task with several sessions who cannot come to one of them ("只是这一次去不了"):
    they stay on the task, but are not expected, reminded or checked in for that session. There is
    no per-session headcount (a task's headcount holds for every session), so nobody is moved up
    from the waitlist for the one date; the organizers are told which date it is."""

    __tablename__ = "session_releases"
    __table_args__ = (UniqueConstraint("assignment_id", "session_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("task_sessions.id", ondelete="CASCADE"), index=True)
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    via: Mapped[str] = mapped_column(String(10))   # "reminder" (the one-tap link) or "app" (the member's page)

    session: Mapped[TaskSession] = relationship()


# Tasks loaded for a page: their skills (at most MAX_TASK_SKILLS rows a task, each with its skill
# and category) come in the tasks' own statement, which saves the ORM a statement (about a
# millisecond of its time, whatever it reads). Not their sessions: a weekly task may hold a year
# of them, and joined with the skills each session would come as many times as there are skills.
WITH_SKILLS = (joinedload(Task.skills),)
