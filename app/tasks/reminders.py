"""Reminders members can answer.

The day before each session, every member accepted on its task is reminded by the channels they
chose (app/notifications), once: a TaskReminder row per (assignment, session) is the ledger. The
reminder carries a link that opens a one-tap "去不了了" page without signing in. The link is
`/r/<id>-<signature>`: the signature is an HMAC of the reminder's id under SECRET_KEY for this
purpose only, so it opens this one reminder and does nothing else; it lapses when the session
starts, and is spent once answered. Short enough to fit an SMS template's variable.

Answering "去不了了" for a task with several sessions still to come releases that one session by
default ("只是这一次去不了", app/tasks/dates.py): the member stays on the task for the other dates
and the organizers are told which date. The member may choose "以后都不去了" instead, which
withdraws them from the task (tasks.services.withdraw): the organizers are told at once and the
longest-waiting member on the waitlist takes the place. A task with one session left offers only
the second.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, select

from app.audit.services import record_audit
from app.clock import local_now, local_today, to_instant, utcnow
from app.errors import Conflict
from app.extensions import db
from app.links import path_for, signed_code, signed_id
from app.members.models import MemberProfile, MemberStatus
from app.notifications.services import notify
from app.tasks import dates
from app.tasks.models import (
    Assignment,
    AssignmentStatus,
    SessionRelease,
    Task,
    TaskReminder,
    TaskSession,
    TaskStatus,
)
from app.tasks.services import withdraw

PURPOSE = "task-cant-go"


def link_code(reminder: TaskReminder) -> str:
    return signed_code(PURPOSE, reminder.id)


def reminder_for(code: str) -> TaskReminder | None:
    """The reminder a link names, if its signature holds (whether or not it is still open)."""
    ident = signed_id(PURPOSE, code)
    return db.session.get(TaskReminder, ident) if ident is not None else None


def is_open(reminder: TaskReminder) -> bool:
    """May the link still be answered: not answered yet, the session not begun or called off, the
    member still on the task and not already excused from that session."""
    return (reminder.answered_at is None and not reminder.session.cancelled
            and reminder.session.starts_at > local_now()
            and reminder.assignment.status is AssignmentStatus.ACCEPTED
            and reminder.session_id not in dates.released(reminder.assignment_id))


def describe(session: TaskSession) -> str:
    """9月2日（周三）9:00–11:00."""
    return dates.day_of(session)


def offers_once(reminder: TaskReminder) -> bool:
    """Whether the page offers "只是这一次去不了": the task has other dates still to come."""
    return dates.has_several_dates(reminder.session.task)


def due(day: date) -> list[tuple[Assignment, TaskSession]]:
    """Who is on which session that day: accepted members, active, of tasks still on."""
    start = datetime.combine(day, time())
    rows = db.session.execute(
        select(Assignment, TaskSession)
        .join(TaskSession, TaskSession.task_id == Assignment.task_id)
        .join(Task, Task.id == Assignment.task_id)
        .join(MemberProfile, MemberProfile.id == Assignment.member_id)
        .where(TaskSession.starts_at >= start, TaskSession.starts_at < start + timedelta(days=1),
               TaskSession.cancelled.is_(False), Assignment.status == AssignmentStatus.ACCEPTED,
               ~exists().where(SessionRelease.assignment_id == Assignment.id,
                               SessionRelease.session_id == TaskSession.id),
               Task.status.in_((TaskStatus.OPEN, TaskStatus.FILLED)), MemberProfile.status == MemberStatus.ACTIVE)
        .order_by(TaskSession.starts_at, Assignment.id))
    return [(assignment, session) for assignment, session in rows]


def remind_tomorrow() -> int:
    """Remind everyone on tomorrow's sessions who has not been reminded of that session. Flushes;
    the caller commits. Returns how many were reminded."""
    count = 0
    for assignment, session in due(local_today() + timedelta(days=1)):
        exists = db.session.scalar(select(TaskReminder.id).where(
            TaskReminder.assignment_id == assignment.id, TaskReminder.session_id == session.id))
        if exists is not None:
            continue
        reminder = TaskReminder(assignment_id=assignment.id, session_id=session.id)
        db.session.add(reminder)
        db.session.flush()
        task, code = session.task, link_code(reminder)
        when = f"明天{session.starts_at:%H:%M}"
        notify(assignment.member.user, kind="task.reminder", title=f"{when}：{task.title}",
               body=f"时间：{describe(session)}" + (f"\n地点：{task.address}" if task.address else "")
                    + "\n如果去不了，点下面的链接告诉组织者一声就行，不用登录。",
               link=path_for("reply.cant_go", code=code), sms_expires_at=to_instant(session.starts_at),
               sms_template=("reminder", {"when": when, "title": task.title, "code": code}))
        count += 1
    return count


def cant_go(*, reminder: TaskReminder, only_this_time: bool = True) -> Assignment:
    """The member answers the reminder: they cannot go. By default, for a task with other dates
    still to come, only to this session (dates.release: they stay on the task, the organizers are
    told the date); else, or when they choose "以后都不去了", they leave the task, the organizers are
    told and the waitlist moves up (tasks.services.withdraw). Once only."""
    if not is_open(reminder):
        raise Conflict("这个提醒已经处理过了，或者服务已经开始了。如有变化请直接联系组织者。")
    assignment = reminder.assignment
    if only_this_time and offers_once(reminder):
        dates.release(member=assignment.member, assignment=assignment, session=reminder.session, via="reminder")
    else:
        withdraw(member=assignment.member, assignment=assignment)
        record_audit(assignment.member.user, "task.cant_go", assignment.task,
                     detail={"session_id": reminder.session_id})
    reminder.answered_at = utcnow()
    return assignment
