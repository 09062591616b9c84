"""Checking in and out: by scanning the organizer's code (once per code and person), or by the
organizer's hand for members without smartphones (recorded as such).

Two taps at once count once: the attendance row is unique per person and session (or occurrence),
and an insert that loses that race reads the winner's row instead. A booking's first check-in
and its no-show release (app.bookings.no_shows) both change the occurrence with one conditional
UPDATE each, so exactly one of them wins: a booking is never both kept by a late check-in and
released to somebody else.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.exc import IntegrityError

from app import access
from app.accounts.models import User
from app.attendance.codes import OCCURRENCE, SESSION, Scan
from app.attendance.models import Attendance, AttendanceScan, CheckInMethod
from app.audit.services import record_audit
from app.bookings.models import SLOT_HOLDING, BookingOccurrence
from app.clock import local_now, utcnow
from app.db import rowcount
from app.errors import Conflict, Invalid, NotFound, PermissionDenied
from app.extensions import db
from app.formats import fmt_time
from app.tasks.models import Assignment, AssignmentStatus, TaskSession, TaskStatus

EARLY = timedelta(minutes=60)          # a session's check-in opens this long before it starts
BOOKING_EARLY = timedelta(minutes=30)  # a booking's
LATE_CHECK_OUT = timedelta(hours=3)    # check-out stays open this long after the end

Target = TaskSession | BookingOccurrence
RELEASED = "这次预约已因超时未签到被释放，不能再签到。请联系场地管理员"


# --- reads -----------------------------------------------------------------------------------------


def attendance_of(target: Target, user_id: int) -> Attendance | None:
    return db.session.scalar(select(Attendance).where(_of(target), Attendance.user_id == user_id))


def attendances(target: Target) -> list[Attendance]:
    """Everyone checked in, in order of arrival."""
    return list(db.session.scalars(select(Attendance).where(_of(target))
                                   .order_by(Attendance.checked_in_at, Attendance.id)))


def _of(target: Target) -> ColumnElement[bool]:
    if isinstance(target, TaskSession):
        return Attendance.session_id == target.id
    return Attendance.occurrence_id == target.id


def session_assignment(session: TaskSession, user_id: int) -> Assignment | None:
    return db.session.scalar(select(Assignment).where(Assignment.task_id == session.task_id,
                                                      Assignment.member_id == user_id))


def purge_scans() -> int:
    """Forget used check-in codes older than a day (a code is good for a minute at most)."""
    return rowcount(db.session.execute(delete(AttendanceScan).where(AttendanceScan.used_at < utcnow() - timedelta(days=1))))


# --- the rules of time -----------------------------------------------------------------------------


def _check_open(target: Target, now: datetime) -> None:
    if isinstance(target, TaskSession):
        if target.cancelled or target.task.status is TaskStatus.CANCELLED:
            raise Conflict("这次服务已经取消，不用签到")
        start, end, early = target.starts_at, target.ends_at, EARLY
    else:
        if not target.status.holds_slot:
            raise Conflict(RELEASED if target.released_at is not None else "这次预约已经取消，不能签到")
        start, end, early = target.start_at, target.end_at, BOOKING_EARLY
    if now < start - early:
        raise Invalid(f"还没到签到时间，{fmt_time(start - early)}以后可以签到")
    if now >= end:
        raise Invalid("活动已经结束，不能再签到。如需补记，请联系组织者")


def _may_attend(actor: User, target: Target) -> None:
    if isinstance(target, TaskSession):
        if not access.may_check_in(actor, session_assignment(target, actor.id)):
            raise PermissionDenied("您不在这次服务的名单上。如已到场，请找组织者代为签到")


# --- checking in and out ---------------------------------------------------------------------------


def _arrive(target: Target, now: datetime) -> None:
    """A booking's first check-in keeps it: one conditional UPDATE, which a no-show release that
    got there first makes fail."""
    if not isinstance(target, BookingOccurrence):
        return
    changed = rowcount(db.session.execute(update(BookingOccurrence).where(
        BookingOccurrence.id == target.id, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.checked_in_at.is_(None)).values(checked_in_at=now)
        .execution_options(synchronize_session=False)))
    db.session.refresh(target)
    if not changed and not target.status.holds_slot:
        raise Conflict(RELEASED)


def _check_in(user: User, target: Target, *, method: CheckInMethod, recorded_by: User | None) -> Attendance:
    now = local_now()
    _check_open(target, now)
    _arrive(target, now)
    existing = attendance_of(target, user.id)
    if existing is not None:
        return existing   # a second check-in counts once
    row = Attendance(user_id=user.id, checked_in_at=now, check_in_method=method,
                     recorded_by_id=recorded_by.id if recorded_by is not None else None,
                     session_id=target.id if isinstance(target, TaskSession) else None,
                     occurrence_id=target.id if isinstance(target, BookingOccurrence) else None)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        winner = attendance_of(target, user.id)   # the same person's other tap won the race
        if winner is None:
            raise
        return winner
    return row


def _check_out(user: User, target: Target, *, method: CheckInMethod) -> Attendance:
    now = local_now()
    row = attendance_of(target, user.id)
    if row is None:
        raise Invalid("还没有签到，不能签退")
    end = target.ends_at if isinstance(target, TaskSession) else target.end_at
    if now > end + LATE_CHECK_OUT:
        raise Invalid("签退时间已过，时长请组织者确认")
    if row.checked_out_at is None:
        row.checked_out_at, row.check_out_method = max(now, row.checked_in_at), method
        db.session.flush()
    return row


def _record_scan(actor: User, scan: Scan) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(AttendanceScan(code_key=scan.key, user_id=actor.id))
            db.session.flush()
    except IntegrityError:
        raise Conflict("这个二维码您已经用过了，请扫描屏幕上最新的二维码") from None


def scan_in(*, actor: User, target: Target, scan: Scan) -> Attendance:
    """The member's tap on the check-in page after scanning: checked in (once, however often)."""
    _check_scan_target(target, scan)
    _may_attend(actor, target)
    _record_scan(actor, scan)
    return _check_in(actor, target, method=CheckInMethod.QR, recorded_by=None)


def scan_out(*, actor: User, target: Target, scan: Scan) -> Attendance:
    """The member's tap to check out, after scanning a new code at the end."""
    _check_scan_target(target, scan)
    _may_attend(actor, target)
    _record_scan(actor, scan)
    return _check_out(actor, target, method=CheckInMethod.QR)


def _check_scan_target(target: Target, scan: Scan) -> None:
    kind = SESSION if isinstance(target, TaskSession) else OCCURRENCE
    if (scan.kind, scan.target_id) != (kind, target.id):
        raise Invalid("这个二维码不是这次活动的，请扫描本场活动屏幕上的二维码")


def check_in_by_hand(*, actor: User, session: TaskSession, member_id: int, out: bool = False) -> Attendance:
    """The organizer checks a member in (or out) who has no smartphone; recorded as such."""
    if not access.may_take_attendance(actor, session.task):
        raise PermissionDenied("只有发布这项需求的组织可以办理")
    assignment = session_assignment(session, member_id)
    if assignment is None or assignment.status is not AssignmentStatus.ACCEPTED:
        raise NotFound("名单里没有这位老同志，请刷新后重试")
    user = assignment.member.user
    if out:
        row = _check_out(user, session, method=CheckInMethod.MANUAL)
    else:
        row = _check_in(user, session, method=CheckInMethod.MANUAL, recorded_by=actor)
    record_audit(actor, "attendance.manual_out" if out else "attendance.manual_in", session.task,
                 detail={"session": session.id, "member": member_id})
    return row


def booking_arrived(*, actor: User, occurrence: BookingOccurrence) -> Attendance:
    """The booking branch's organizer (or the venue's people) say the branch has arrived: the
    booking is checked in and is not released."""
    if not access.may_take_booking_attendance(actor, occurrence.booking):
        raise PermissionDenied("只有预约的支部或场地管理员可以办理")
    row = _check_in(actor, occurrence, method=CheckInMethod.MANUAL, recorded_by=actor)
    record_audit(actor, "booking.check_in", occurrence.booking, region_code=occurrence.booking.venue.region_code,
                 detail={"occurrence": occurrence.id})
    return row
