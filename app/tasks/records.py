"""Confirming hours after a session, and correcting them later.

The hours are proposed from check-in and check-out (app.tasks.hours); the organizer confirms
them, or writes other hours with a reason. A confirmed entry is locked: a later correction is a
new ledger entry holding the difference, with its reason, audited, and it revokes the proofs of
service that counted the old hours (app.proofs). Two organizers correcting the same entry at once
cannot both apply a difference computed from the same old total: the entry is locked for the
transaction and the hours the organizer saw must still be the current ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import access
from app.accounts.models import User
from app.attendance.services import attendances
from app.audit.services import record_audit
from app.clock import local_now, utcnow
from app.errors import Conflict, Invalid, NotFound, PermissionDenied
from app.extensions import db
from app.formats import fmt_date, fmt_hours
from app.links import path_for
from app.notifications.services import notify
from app.proofs.services import revoke_for_records
from app.tasks.hours import propose
from app.tasks.ledger import current_hours
from app.tasks.models import AssignmentStatus, ServiceRecord, TaskSession

MIN_REASON = 2
MAX_TEXT = 500


@dataclass(frozen=True)
class HoursEntry:
    """What the organizer says of one member at one session."""

    attended: bool
    hours: float
    feedback: str = ""
    reason: str = ""     # needed when the hours differ from the proposal


def proposals(session: TaskSession) -> dict[int, float | None]:
    """Member id → the hours their check-in and check-out propose (None: never checked in)."""
    found = {row.user_id: row for row in attendances(session)}
    return {member_id: propose(checked_in=row.checked_in_at, checked_out=row.checked_out_at,
                               starts=session.starts_at, ends=session.ends_at)
            for member_id, row in found.items()}


def originals(session: TaskSession) -> dict[int, ServiceRecord]:
    """Assignment id → its confirmed (locked) entry at this session."""
    return {r.assignment_id: r for r in db.session.scalars(select(ServiceRecord).where(
        ServiceRecord.session_id == session.id, ServiceRecord.corrects_id.is_(None)))}


def corrections(record: ServiceRecord) -> list[ServiceRecord]:
    return list(db.session.scalars(select(ServiceRecord).where(ServiceRecord.corrects_id == record.id)
                                   .order_by(ServiceRecord.id)))


def _max_hours(session: TaskSession) -> float:
    return min(24.0, session.hours + 4)


def confirm_attendance(*, actor: User, session: TaskSession,
                       entries: dict[int, HoursEntry | tuple]) -> list[ServiceRecord]:
    """After a session: for each accepted assignment id not yet confirmed, whether the member came,
    the hours, feedback, and a reason when the hours differ from what check-in and check-out
    propose. Confirmed entries are locked; changing one is a correction (correct_hours)."""
    task = session.task
    if not access.may_confirm_hours(actor, task):
        raise PermissionDenied("只有发布这项需求的组织可以办理")
    if session.starts_at > local_now():
        raise Invalid("这次服务还没开始，结束后再确认", field="session")
    accepted = {a.id: a for a in task.assignments if a.status is AssignmentStatus.ACCEPTED}
    if set(entries) - set(accepted):
        raise Invalid("名单里有不是这次服务的人员，请刷新后重试")
    done = originals(session)
    proposed = proposals(session)
    records = []
    for assignment_id, raw in entries.items():
        entry = raw if isinstance(raw, HoursEntry) else HoursEntry(*raw)
        a = accepted[assignment_id]
        name = a.member.user.name
        if assignment_id in done:
            raise Conflict(f"{name}的时长已经确认并锁定，如需更改请用“更正”", field=f"hours_{assignment_id}")
        hours = round(entry.hours, 2) if entry.attended else 0.0
        if not 0 <= hours <= _max_hours(session):
            raise Invalid(f"服务时长应在 0 到 {_max_hours(session):g} 小时之间", field=f"hours_{assignment_id}")
        feedback, reason = (entry.feedback or "").strip(), (entry.reason or "").strip()
        if len(feedback) > MAX_TEXT:
            raise Invalid("评价最多 500 个字", field=f"feedback_{assignment_id}")
        if len(reason) > MAX_TEXT:
            raise Invalid("原因最多 500 个字", field=f"reason_{assignment_id}")
        suggestion = proposed.get(a.member_id)
        if suggestion is not None and abs(hours - suggestion) > 0.001 and len(reason) < MIN_REASON:
            raise Invalid(f"{name}按签到签退应记 {fmt_hours(suggestion)} 小时，您填的是 {fmt_hours(hours)} 小时，"
                          "请写明原因", field=f"reason_{assignment_id}")
        record = ServiceRecord(assignment_id=a.id, session_id=session.id, member_id=a.member_id,
                               organization_id=task.organization_id, served_on=session.starts_at.date(),
                               attended=entry.attended, hours=hours, feedback=feedback, reason=reason,
                               proposed_hours=suggestion, confirmed_by_id=actor.id, confirmed_at=utcnow())
        db.session.add(record)
        records.append(record)
        if entry.attended and hours:
            notify(a.member.user, kind="task.hours", title=f"服务时长已确认：{task.title}",
                   body=f"{fmt_date(session.starts_at)}，{fmt_hours(hours)} 小时。谢谢您！",
                   link=path_for("my.hours"), email=False)
    session.attendance_confirmed_at = utcnow()
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise Conflict("刚刚已有人确认了这次服务的时长，请刷新后查看") from None
    record_audit(actor, "task.attendance", task, detail={"session": session.id, "records": len(records)})
    return records


def _lock(record_id: int) -> ServiceRecord | None:
    stmt = select(ServiceRecord).where(ServiceRecord.id == record_id).execution_options(populate_existing=True)
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(of=ServiceRecord)
    return db.session.scalar(stmt)


def correct_hours(*, actor: User, record: ServiceRecord, hours: float, reason: str,
                  seen: float) -> ServiceRecord:
    """Correct a confirmed entry to `hours`, with a reason: a new entry holding the difference.
    `seen` is the total the organizer was shown; if someone corrected it since, nothing changes."""
    if record.is_correction:
        raise NotFound("没有找到这条服务记录")
    if not access.may_confirm_hours(actor, record.session.task):
        raise PermissionDenied("只有发布这项需求的组织可以办理")
    locked = _lock(record.id)
    if locked is None:
        raise NotFound("没有找到这条服务记录")
    current = current_hours([locked.id])[locked.id]
    if abs(current - seen) > 0.001:
        raise Conflict(f"这条记录刚被更正为 {fmt_hours(current)} 小时，请看一下再决定是否还要更正", field="hours")
    session = locked.session
    hours = round(hours, 2)
    if not 0 <= hours <= _max_hours(session):
        raise Invalid(f"服务时长应在 0 到 {_max_hours(session):g} 小时之间", field="hours")
    if abs(hours - current) < 0.001:
        raise Invalid(f"新的时长和现在的 {fmt_hours(current)} 小时一样，不用更正", field="hours")
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise Invalid("请写明更正的原因，老同志和上级都会看到", field="reason")
    if len(reason) > MAX_TEXT:
        raise Invalid("原因最多 500 个字", field="reason")
    entry = ServiceRecord(assignment_id=locked.assignment_id, session_id=locked.session_id, member_id=locked.member_id,
                          organization_id=locked.organization_id, served_on=locked.served_on, attended=True,
                          hours=round(hours - current, 2), reason=reason, corrects_id=locked.id,
                          confirmed_by_id=actor.id, confirmed_at=utcnow())
    db.session.add(entry)
    db.session.flush()
    revoked = revoke_for_records(record_ids=[locked.id], reason=f"服务时长更正：{reason}")
    record_audit(actor, "task.hours_correct", session.task,
                 detail={"record": locked.id, "from": current, "to": hours, "reason": reason, "revoked": revoked})
    member = db.session.get(User, locked.member_id)
    if member is not None:
        notify(member, kind="task.hours", title=f"服务时长已更正：{session.task.title}",
               body=f"{fmt_date(session.starts_at)} 由 {fmt_hours(current)} 小时更正为 {fmt_hours(hours)} 小时。"
                    f"原因：{reason}", link=path_for("my.hours"), email=False)
    return entry
