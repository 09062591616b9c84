"""Missing one date of a task with several sessions ("只是这一次去不了").

A member accepted on a weekly task who cannot come to one session releases that session only
(a SessionRelease row): they stay on the task for the others, are not reminded of it or expected
at it (the attendance pages show them as excused), and the organizers are told which date.

Places are counted per task, not per session (Task.headcount holds for every session and an
Assignment is one per task and member), so releasing one date frees no place: nobody is moved up
from the waitlist for it, and the organizers' message says so, to find a stand-in if they need one.
Releasing the last date still to come is the same as stepping back from the task
(services.withdraw): the place is freed and the waitlist moves up.
"""

from __future__ import annotations

from sqlalchemy import select

from app.audit.services import record_audit
from app.clock import WEEKDAYS, local_now
from app.errors import Conflict, PermissionDenied
from app.extensions import db
from app.links import path_for
from app.members.models import MemberProfile
from app.notifications.services import notify
from app.tasks.models import Assignment, AssignmentStatus, SessionRelease, Task, TaskSession, TaskStatus
from app.tasks.services import lock_task, organizers_of_task, withdraw


def day_of(session: TaskSession) -> str:
    """9月8日（周二）9:00–11:00."""
    start, end = session.starts_at, session.ends_at
    return f"{start.month}月{start.day}日（{WEEKDAYS[start.weekday()]}）{start:%H:%M}–{end:%H:%M}"


def released(assignment_id: int) -> set[int]:
    """The sessions a member on a task said they cannot come to."""
    return set(db.session.scalars(select(SessionRelease.session_id).where(SessionRelease.assignment_id == assignment_id)))


def released_on(session: TaskSession) -> set[int]:
    """The assignments excused from one session."""
    return set(db.session.scalars(select(SessionRelease.assignment_id).where(SessionRelease.session_id == session.id)))


def sessions_still_to_come(task: Task) -> list[TaskSession]:
    now = local_now()
    return sorted((s for s in task.sessions if not s.cancelled and s.starts_at > now), key=lambda s: s.starts_at)


def has_several_dates(task: Task) -> bool:
    """Whether "只是这一次" means anything: more than one session still to come."""
    return len(sessions_still_to_come(task)) > 1


def release(*, member: MemberProfile, assignment: Assignment, session: TaskSession, via: str) -> SessionRelease | None:
    """The member cannot come to this one session. They stay on the task for the others; the
    organizers are told the date. When no other date is left for them, they leave the task
    (services.withdraw) and None is returned. Flushes; the caller commits."""
    if assignment.member_id != member.id:
        raise PermissionDenied("不能替别人请假")
    task = lock_task(assignment.task_id)
    db.session.refresh(assignment)
    if session.task_id != task.id:
        raise Conflict("这个日期不是这项服务的")
    if task.status not in (TaskStatus.OPEN, TaskStatus.FILLED) or assignment.status is not AssignmentStatus.ACCEPTED:
        raise Conflict(f"您现在是“{assignment.status.label}”，不用请假" if task.status in (TaskStatus.OPEN, TaskStatus.FILLED)
                       else f"这项需求已经{task.status.label}，不用请假")
    if session.cancelled or session.starts_at <= local_now():
        raise Conflict("这一次服务已经开始、结束或取消了，不用请假。如有变化请直接联系组织者。")
    excused = released(assignment.id)
    if session.id in excused:
        raise Conflict(f"{day_of(session)}这一次您已经请过假了")
    others = [s for s in sessions_still_to_come(task) if s.id != session.id and s.id not in excused]
    if not others:
        withdraw(member=member, assignment=assignment)
        record_audit(member.user, "task.cant_go", task, detail={"session_id": session.id, "via": via, "last": True})
        return None
    row = SessionRelease(assignment_id=assignment.id, session_id=session.id, via=via)
    db.session.add(row)
    db.session.flush()
    name, when = member.user.name, day_of(session)
    for organizer in organizers_of_task(task):
        notify(organizer, kind="task.session_released", title=f"{name}{when}去不了：{task.title}",
               body=f"{name}只是{when}这一次去不了，其他日期照常参加。这项服务的名额按整项计算，候补名单不会因此变动；"
                    "这一次需要人顶上的话，请另行联系。",
               link=path_for("tasks.detail", task_id=task.id))
    record_audit(member.user, "task.cant_go_once", task, detail={"session_id": session.id, "via": via})
    return row
