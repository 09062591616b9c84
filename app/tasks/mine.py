"""Reads of the member's own side: their assignments sorted into what to answer, what is coming
and what is past; a task and their assignment on it; their sessions as a calendar file."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from icalendar import Alarm, Calendar, Event
from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import joinedload, lazyload

from app.accounts.models import User
from app.clock import local_now, to_instant, utcnow
from app.extensions import db
from app.members.models import MemberProfile
from app.members.services import own_profile_options
from app.tasks.models import WITH_SKILLS, Assignment, AssignmentStatus, SessionRelease, Task, TaskSession, TaskStatus

UPCOMING = (AssignmentStatus.ACCEPTED, AssignmentStatus.APPLIED, AssignmentStatus.WAITLISTED)


@dataclass
class MyAssignments:
    invitations: list[Assignment]     # waiting for the member's answer, on open tasks
    upcoming: list[Assignment]        # taking part (or asked to) in sessions still to come
    past: list[Assignment]            # taken part in, or stepped back from


@functools.cache
def _mine() -> Select:
    """What the member's own lists read of their assignments, built once (its options once every
    model is mapped): each with its task (title, branch, status) and the tasks' sessions, in two
    statements however many there are; not the member again, nor the tasks' skills and other
    assignments (each task loaded on first use took four statements)."""
    task = joinedload(Assignment.task)
    return (select(Assignment).where(Assignment.member_id == bindparam("member_id")).order_by(Assignment.id.desc())
            .options(lazyload(Assignment.member), task.lazyload(Task.skills), task.lazyload(Task.assignments),
                     task.selectinload(Task.sessions)))


def my_assignments(member: MemberProfile) -> MyAssignments:
    mine = list(db.session.scalars(_mine(), {"member_id": member.id}))
    now = local_now()
    invitations = [a for a in mine if a.status is AssignmentStatus.INVITED and a.task.status is TaskStatus.OPEN]
    upcoming = [a for a in mine if a.status in UPCOMING
                and any(s.ends_at > now and not s.cancelled for s in a.task.sessions)
                and a.task.status not in (TaskStatus.CANCELLED, TaskStatus.CLOSED)]
    past = [a for a in mine if a not in upcoming and a not in invitations
            and a.status in (AssignmentStatus.ACCEPTED, AssignmentStatus.WITHDRAWN)]
    return MyAssignments(invitations, upcoming, past)


def _invited_of(member_id: Any) -> Any:
    return select(func.count()).select_from(Assignment).where(
        Assignment.member_id == member_id, Assignment.status == AssignmentStatus.INVITED)


@functools.cache
def _home() -> Select:
    """The member home page's own reads, one statement built once (its options once every model
    is mapped): the signed-in member's profile and how many invitations wait for their answer."""
    return (select(MemberProfile, _invited_of(MemberProfile.id).scalar_subquery())
            .where(MemberProfile.id == bindparam("member_id")).options(*own_profile_options()))


def profile_and_invitations(actor: User) -> tuple[MemberProfile | None, int]:
    """own_profile() and open_invitations() in one statement."""
    row = db.session.execute(_home(), {"member_id": actor.id}).one_or_none()
    return (row[0], int(row[1] or 0)) if row is not None else (None, 0)


def open_invitations(member_id: int) -> int:
    """How many invitations wait for the member's answer."""
    return db.session.scalar(_invited_of(member_id)) or 0


def task(task_id: int) -> Task | None:
    return db.session.get(Task, task_id, options=WITH_SKILLS)


def assignment(member: MemberProfile, task_id: int) -> Assignment | None:
    return db.session.scalar(select(Assignment).where(Assignment.task_id == task_id,
                                                      Assignment.member_id == member.id))


REMINDER = timedelta(days=1)     # the calendar reminds a member this long before each session


def calendar(member: MemberProfile, *, task_id: int | None = None) -> bytes:
    """The member's accepted sessions still to come (of one task, or all; not those they said they
    cannot come to), as iCalendar (RFC 5545),
    each with a reminder the day before (VALARM): what 加到手机日历 hands to the phone."""
    stmt = select(TaskSession, Task).join(Task).join(Assignment, Assignment.task_id == Task.id).where(
        Assignment.member_id == member.id, Assignment.status == AssignmentStatus.ACCEPTED, ~TaskSession.cancelled,
        Task.status.in_([TaskStatus.OPEN, TaskStatus.FILLED, TaskStatus.CLOSED]),
        TaskSession.starts_at > local_now(),
        ~exists().where(SessionRelease.assignment_id == Assignment.id, SessionRelease.session_id == TaskSession.id))
    if task_id is not None:
        stmt = stmt.where(Task.id == task_id)
    cal = Calendar()
    cal.add("prodid", "-//Yinhui//银晖 志愿服务//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "银晖志愿服务")
    stamp = utcnow()
    for session, task in db.session.execute(stmt.order_by(TaskSession.starts_at)).all():
        event = Event()
        event.add("uid", f"task-session-{session.id}@yinhui")
        event.add("dtstamp", stamp)
        event.add("dtstart", to_instant(session.starts_at))
        event.add("dtend", to_instant(session.ends_at))
        event.add("summary", f"志愿服务：{task.title}")
        event.add("location", task.address or "线上或电话")
        event.add("description", f"{task.organization.name}。{task.description}"[:1000])
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -REMINDER)
        alarm.add("description", f"明天：{task.title}")
        event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()


def upcoming_sessions(task: Task) -> list[TaskSession]:
    """A task's sessions still to come, not cancelled, in order: what the accepted page lists."""
    now = local_now()
    return sorted((s for s in task.sessions if not s.cancelled and s.ends_at > now), key=lambda s: s.starts_at)
