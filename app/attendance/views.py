"""Check-in pages: the organizer's screen with a code that changes every 30 seconds and the list
of who is in; the address the code holds, which a phone's camera opens; the one-tap page behind it.
A member not signed in on the phone gets in there with the password or with a code by SMS (two
steps: number, code), which signs the phone in and checks them in with one more tap saved."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, make_response, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.accounts import recovery
from app.accounts.forms import RecoveryPhoneForm, SmsCodeForm
from app.accounts.models import User
from app.accounts.phone import mask_phone
from app.accounts.views import RECOVERY_PHONE, code_check_limits, device_elder_mode, sign_in, sms_request_limits
from app.attendance import codes, services
from app.bookings.models import Booking, BookingOccurrence
from app.clock import utcnow
from app.extensions import db
from app.forms import BaseForm
from app.qr import qr_svg
from app.tasks import dates
from app.tasks.models import AssignmentStatus, Task, TaskSession
from app.web import commit, form_page, run_action, run_use_case

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
        context["excused"] = dates.released_on(target)
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


def _ticket_or_refuse(kind: str, target_id: int, ticket: str) -> codes.Scan:
    """The scan a ticket stands for; a stale or forged ticket ends the request with the refusal page."""
    _kind_or_404(kind)
    try:
        return codes.read_ticket(_secret(), ticket, kind, target_id, utcnow())
    except codes.CodeRefused as e:
        abort(make_response(render_template("attendance/refused.html", message=str(e)), 400))


def _tap_context(kind: str, target: services.Target, ticket: str) -> dict[str, Any]:
    row = services.attendance_of(target, current_user.id)
    return {"kind": kind, "target": target, "ticket": ticket, "row": row, "form": BaseForm(),
            "is_session": isinstance(target, TaskSession)}


@bp.route("/<kind>/<int:target_id>/tap/<ticket>", methods=["GET", "POST"])
def tap(kind: str, target_id: int, ticket: str) -> ResponseReturnValue:
    """The one-tap page. Signed out, it offers the two ways in: a code by SMS, or the password."""
    found = _ticket_or_refuse(kind, target_id, ticket)
    target = _target(kind, target_id)
    here = url_for("attend.tap", kind=kind, target_id=target_id, ticket=ticket)
    if not current_user.is_authenticated:
        if request.method == "POST":
            return redirect(url_for("accounts.login", next=here))
        return render_template("attendance/tap_signed_out.html", target=target, here=here,
                               is_session=isinstance(target, TaskSession),
                               by_sms=url_for("attend.sms_phone", kind=kind, target_id=target_id, ticket=ticket))
    if request.method == "GET":
        return render_template("attendance/tap.html", **_tap_context(kind, target, ticket))
    if request.form.get("action") == "out":
        return run_action(lambda: services.scan_out(actor=current_user, target=target, scan=found),
                          done=("已签退，辛苦了！", here))
    return run_action(lambda: services.scan_in(actor=current_user, target=target, scan=found),
                      done=("签到成功，谢谢您！", here))


# --- checking in with a code by SMS instead of the password (issue 18's codes, app/accounts/recovery.py)


@bp.route("/<kind>/<int:target_id>/tap/<ticket>/sms", methods=["GET", "POST"])
@sms_request_limits
def sms_phone(kind: str, target_id: int, ticket: str) -> ResponseReturnValue:
    """Step 1: the member's number; a code is texted if it has an account (the answer is the same)."""
    _ticket_or_refuse(kind, target_id, ticket)
    target = _target(kind, target_id)
    if current_user.is_authenticated:
        return redirect(url_for("attend.tap", kind=kind, target_id=target_id, ticket=ticket))
    form = RecoveryPhoneForm()

    def asked(_: None) -> tuple[str | None, str]:
        session[RECOVERY_PHONE] = form.phone.data
        return None, url_for("attend.sms_code", kind=kind, target_id=target_id, ticket=ticket)

    return run_use_case(form, lambda: recovery.request_sms_code(phone=form.phone.data or ""), done=asked,
                        template="attendance/sms_phone.html", target=target, is_session=isinstance(target, TaskSession),
                        here=url_for("attend.tap", kind=kind, target_id=target_id, ticket=ticket))


@bp.route("/<kind>/<int:target_id>/tap/<ticket>/sms/code", methods=["GET", "POST"])
@code_check_limits
def sms_code(kind: str, target_id: int, ticket: str) -> ResponseReturnValue:
    """Step 2: the code from the text. A right one signs this phone in (as the password would) and
    checks the member in; a refusal of the check-in itself is shown on the one-tap page."""
    found = _ticket_or_refuse(kind, target_id, ticket)
    target = _target(kind, target_id)
    here = url_for("attend.tap", kind=kind, target_id=target_id, ticket=ticket)
    phone = session.get(RECOVERY_PHONE)
    if current_user.is_authenticated or not phone:
        return redirect(here if current_user.is_authenticated
                        else url_for("attend.sms_phone", kind=kind, target_id=target_id, ticket=ticket))
    form = SmsCodeForm()
    if form.validate_on_submit():
        # Committed either way: a wrong try counts.
        result = commit(lambda: recovery.sign_in_with_code(phone=phone, code=form.code.data or "",
                                                           elder_mode=device_elder_mode()))
        if isinstance(result, User):
            sign_in(result)
            return run_action(lambda: services.scan_in(actor=result, target=target, scan=found),
                              done=("签到成功，谢谢您！", here))
        form.code.errors = [*form.code.errors, result.message]
    if request.method == "POST":
        g.recovery_failed = True
    return form_page("attendance/sms_code.html", form, target=target, is_session=isinstance(target, TaskSession),
                     masked=mask_phone(phone),
                     again=url_for("attend.sms_phone", kind=kind, target_id=target_id, ticket=ticket))
