"""Reminders members can answer.

The day before each session, every member accepted on its task is reminded by the channels they
chose (app/notifications), once: a TaskReminder row per (assignment, session) is the ledger. The
reminder carries a link that opens a one-tap "去不了了" page without signing in. The link is
`/r/<id>-<signature>`: the signature is an HMAC of the reminder's id under SECRET_KEY for this
purpose only, so it opens this one reminder and does nothing else; it lapses when the session
starts, and is spent once answered. Short enough to fit an SMS template's variable.

Answering "去不了了" withdraws the member from the task (tasks.services.withdraw): the organizers are
told at once and the longest-waiting member on the waitlist takes the place.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select

from app.audit.services import record_audit
from app.clock import WEEKDAYS, local_now, local_today, to_instant, utcnow
from app.errors import Conflict
from app.extensions import db
from app.links import path_for, signed_code, signed_id
from app.members.models import MemberProfile, MemberStatus
from app.notifications.services import notify
from app.tasks.models import Assignment, AssignmentStatus, Task, TaskReminder, TaskSession, TaskStatus
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
    member still on the task."""
    return (reminder.answered_at is None and not reminder.session.cancelled
            and reminder.session.starts_at > local_now()
            and reminder.assignment.status is AssignmentStatus.ACCEPTED)


def describe(session: TaskSession) -> str:
    """明天（周三）9:00–11:00."""
    start, end = session.starts_at, session.ends_at
    return f"{start.month}月{start.day}日（{WEEKDAYS[start.weekday()]}）{start:%H:%M}–{end:%H:%M}"


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


def cant_go(*, reminder: TaskReminder) -> Assignment:
    """The member answers the reminder: they cannot go. They leave the task, the organizers are told,
    the waitlist moves up (tasks.services.withdraw). Once only."""
    if not is_open(reminder):
        raise Conflict("这个提醒已经处理过了，或者服务已经开始了。如有变化请直接联系组织者。")
    assignment = withdraw(member=reminder.assignment.member, assignment=reminder.assignment)
    reminder.answered_at = utcnow()
    record_audit(assignment.member.user, "task.cant_go", assignment.task, detail={"session_id": reminder.session_id})
    return assignment
