"""Check-in pages: the organizer's screen with a code that changes every 30 seconds and the list
of who is in; the address the code holds, which a phone's camera opens; the one-tap page behind it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.attendance import codes, services
from app.bookings.models import Booking, BookingOccurrence
from app.clock import utcnow
from app.extensions import db
from app.forms import BaseForm
from app.qr import qr_svg
from app.tasks.models import AssignmentStatus, Task, TaskSession
from app.web import run_action

bp = Blueprint("attend", __name__, url_prefix="/attend")


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


def _target(kind: str, target_id: int) -> services.Target:
    model = TaskSession if kind == codes.SESSION else BookingOccurrence
    return db.session.get(model, target_id) or abort(404)


def _managed(kind: str, target_id: int) -> services.Target:
    """A session or occurrence whose attendance the actor takes; 404 otherwise."""
    target = _target(kind, target_id)
    if isinstance(target, TaskSession):
        task = access.get_or_404(Task, target.task_id, current_user)
        access.check_or_404(access.may_take_attendance(current_user, task))
    else:
        booking = access.get_or_404(Booking, target.booking_id, current_user)
        access.check_or_404(access.may_take_booking_attendance(current_user, booking))
    return target


def _code_page(kind: str, target: services.Target, partial: bool = False) -> ResponseReturnValue:
    """The organizer's screen; `partial`: only its live part (the code and who is in), which the
    screen's script fetches every few seconds (without script, the page's 刷新 link does it)."""
    now = utcnow()
    code = codes.make_code(_secret(), kind, target.id, now)
    link = url_for("attend.scan", kind=kind, target_id=target.id, code=code, _external=True)
    page = (url_for("attend.session_code", session_id=target.id) if kind == codes.SESSION
            else url_for("attend.booking_code", occurrence_id=target.id))
    context: dict[str, Any] = {"kind": kind, "target": target, "link": link, "page": page,
                               "qr": qr_svg(link, label="签到二维码：请用手机相机扫描"),
                               "present": services.attendances(target), "form": BaseForm()}
    if partial:
        return render_template("attendance/_live.html", **context)
    if isinstance(target, TaskSession):
        context["accepted"] = [a for a in target.task.assignments if a.status is AssignmentStatus.ACCEPTED]
    return render_template("attendance/code.html", **context)


@bp.get("/sessions/<int:session_id>/code")
@access.requires(access.may_organize)
def session_code(session_id: int) -> ResponseReturnValue:
    return _code_page(codes.SESSION, _managed(codes.SESSION, session_id))


@bp.get("/bookings/<int:occurrence_id>/code")
@access.requires(access.may_use_venues)
def booking_code(occurrence_id: int) -> ResponseReturnValue:
    return _code_page(codes.OCCURRENCE, _managed(codes.OCCURRENCE, occurrence_id))


@bp.get("/<kind>/<int:target_id>/live")
@login_required
def live(kind: str, target_id: int) -> ResponseReturnValue:
    return _code_page(_kind_or_404(kind), _managed(kind, target_id), partial=True)


@bp.post("/sessions/<int:session_id>/by-hand/<int:member_id>")
@access.requires(access.may_organize)
def by_hand(session_id: int, member_id: int) -> ResponseReturnValue:
    session = _managed(codes.SESSION, session_id)
    assert isinstance(session, TaskSession)
    out = request.form.get("out") == "1"
    return run_action(lambda: services.check_in_by_hand(actor=current_user, session=session, member_id=member_id,
                                                        out=out),
                      done=("已代为签退。" if out else "已代为签到。", url_for("attend.session_code", session_id=session.id)))


@bp.post("/bookings/<int:occurrence_id>/arrived")
@access.requires(access.may_use_venues)
def arrived(occurrence_id: int) -> ResponseReturnValue:
    occurrence = _managed(codes.OCCURRENCE, occurrence_id)
    assert isinstance(occurrence, BookingOccurrence)
    return run_action(lambda: services.booking_arrived(actor=current_user, occurrence=occurrence),
                      done=("已签到，这次预约不会被释放。", url_for("bookings.booking", booking_id=occurrence.booking_id)))


def _kind_or_404(kind: str) -> str:
    if kind not in codes.KINDS:
        abort(404)
    return kind


@bp.get("/<kind>/<int:target_id>/<code>")
def scan(kind: str, target_id: int, code: str) -> ResponseReturnValue:
    """What the phone's camera opens: a fresh code becomes a ticket for the one-tap page (kept
    through signing in); a stale, forged or wrong code is refused here."""
    _kind_or_404(kind)
    try:
        found = codes.read_code(_secret(), code, kind, target_id, utcnow())
    except codes.CodeRefused as e:
        return render_template("attendance/refused.html", message=str(e)), 400
    return redirect(url_for("attend.tap", kind=kind, target_id=target_id,
                            ticket=codes.make_ticket(_secret(), found)))


def _tap_context(kind: str, target: services.Target, ticket: str) -> dict[str, Any]:
    row = services.attendance_of(target, current_user.id)
    return {"kind": kind, "target": target, "ticket": ticket, "row": row, "form": BaseForm(),
            "is_session": isinstance(target, TaskSession)}


@bp.route("/<kind>/<int:target_id>/tap/<ticket>", methods=["GET", "POST"])
@login_required
def tap(kind: str, target_id: int, ticket: str) -> ResponseReturnValue:
    _kind_or_404(kind)
    try:
        found = codes.read_ticket(_secret(), ticket, kind, target_id, utcnow())
    except codes.CodeRefused as e:
        return render_template("attendance/refused.html", message=str(e)), 400
    target = _target(kind, target_id)
    if request.method == "GET":
        return render_template("attendance/tap.html", **_tap_context(kind, target, ticket))
    out = request.form.get("action") == "out"
    here = url_for("attend.tap", kind=kind, target_id=target_id, ticket=ticket)
    if out:
        return run_action(lambda: services.scan_out(actor=current_user, target=target, scan=found),
                          done=("已签退，辛苦了！", here))
    return run_action(lambda: services.scan_in(actor=current_user, target=target, scan=found),
                      done=("签到成功，谢谢您！", here))
