"""Reads the organizer's task pages need: lists in the actor's scope, and rows that belong to a task."""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Select, and_, bindparam, select

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.extensions import db
from app.matching.reads import arrays, connection, one_of
from app.members.models import MemberProfile
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord, Task, TaskSession, TaskStatus


def tasks_of(actor: User, *, status: TaskStatus | None = None) -> Select[Task]:
    """The tasks the actor may see, newest first."""
    stmt = access.visible(Task, actor)
    if status is not None:
        stmt = stmt.where(Task.status == status)
    return stmt.order_by(Task.id.desc())


class Named(NamedTuple):
    """A candidate as the list names them: all the page reads of a member."""

    id: int
    name: str
    can_log_in: bool     # User.can_log_in: else the organizer must phone them


def names_by_id(ids: list[int]) -> dict[int, Named]:
    """The members of a list of candidates, by id, with their names and whether they sign in."""
    if not ids:
        return {}
    return {row[0]: Named(row[0], row[1], bool(row[2])) for row in connection().execute(_names(arrays()), {"ids": ids})}


# Read as rows, not profiles with their accounts: a list of 30 loaded as objects was a fifth of the
# candidates page's time. Built once, run on the session's connection (no ORM step), the ids as one
# array on PostgreSQL (an IN list's SQL was rendered at every run, one text per length).
@lru_cache(maxsize=2)
def _names(array: bool) -> Select:
    return (select(User.id, User.name, and_(User.active, User.password_hash.is_not(None)))
            .join(MemberProfile, MemberProfile.id == User.id).where(one_of(User.id, "ids", array)))


# Who has an assignment on a task (declined ones too) and in what state: all the candidates page
# reads of a task's assignments, as plain rows (loaded as objects, they were an ORM statement of
# their own, dearer than the read).
_ON_TASK = select(Assignment.member_id, Assignment.status).where(Assignment.task_id == bindparam("task_id"))


def members_on(task_id: int) -> dict[int, AssignmentStatus]:
    """Each member with an assignment on the task, with its state (one per member: a unique key)."""
    return {member_id: status for member_id, status in connection().execute(_ON_TASK, {"task_id": task_id})}


def assignment_on(task: Task, assignment_id: int) -> Assignment | None:
    assignment = db.session.get(Assignment, assignment_id)
    return assignment if assignment is not None and assignment.task_id == task.id else None


def session_of(task: Task, session_id: int) -> TaskSession | None:
    session = db.session.get(TaskSession, session_id)
    return session if session is not None and session.task_id == task.id else None


def record_on(task: Task, record_id: int) -> ServiceRecord | None:
    """A confirmed ledger entry (not a correction) of one of the task's sessions."""
    record = db.session.get(ServiceRecord, record_id)
    if record is None or record.corrects_id is not None or record.session.task_id != task.id:
        return None
    return record


def records_of(session: TaskSession) -> list[ServiceRecord]:
    return list(db.session.scalars(select(ServiceRecord).where(ServiceRecord.session_id == session.id)))


def waiting_calls(actor: User) -> list[Assignment]:
    """Invitations waiting for members who cannot sign in, whose answers the actor may record on
    their behalf (access.answerable_for), oldest first."""
    return list(db.session.scalars(
        select(Assignment).join(Task, Task.id == Assignment.task_id)
        .join(MemberProfile, MemberProfile.id == Assignment.member_id).join(User, User.id == MemberProfile.id)
        .where(access.answerable_for(actor)).order_by(Assignment.id)))


def organizers_of(org_ids: set[int]) -> dict[int, list[User]]:
    """Who to call at each organization (a member's branch, a task's organization): its organizers."""
    found: dict[int, list[User]] = {}
    rows = db.session.execute(select(RoleGrant.organization_id, User).join(User, User.id == RoleGrant.user_id).where(
        RoleGrant.role == Role.ORGANIZER, RoleGrant.organization_id.in_(sorted(org_ids) or [-1]), User.active)
        .order_by(User.id))
    for org_id, user in rows:
        if org_id is not None:
            found.setdefault(org_id, []).append(user)
    return found
