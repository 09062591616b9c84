"""The one-tap answer to a reminder ("去不了了"), opened from a link in an SMS or the app without
signing in: a session's reminder (app/tasks/reminders.py) or a booking date's
(app/bookings/reminders.py, codes starting with "b")."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request
from flask.typing import ResponseReturnValue

from app.bookings import reminders as booking_reminders
from app.extensions import limiter
from app.forms import BaseForm
from app.tasks import reminders
from app.tasks.models import Assignment, AssignmentStatus
from app.web import finish_use_case

bp = Blueprint("reply", __name__)


@bp.route("/r/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RECOVERY_CHECK_LIMIT_PER_IP"], scope="reply-ip")
def cant_go(code: str) -> ResponseReturnValue:
    if booking_reminders.is_booking_code(code):
        return _booking(code)
    reminder = reminders.reminder_for(code) or abort(404)
    context: dict[str, Any] = {"reminder": reminder, "session": reminder.session, "task": reminder.session.task,
                               "when": reminders.describe(reminder.session), "open": reminders.is_open(reminder),
                               "offers_once": reminders.offers_once(reminder)}
    # "只是这一次去不了" is the default; "以后都不去了" must be chosen.
    once = request.form.get("choice", "once") != "all"

    def done(assignment: Assignment) -> str:
        # Still on the task: only this date was released (the last date left means leaving the task).
        return render_template("reply/done.html", **context, once=assignment.status is AssignmentStatus.ACCEPTED)

    return _answer(lambda: reminders.cant_go(reminder=reminder, only_this_time=once), "reply/cant_go.html",
                   done, context)


def _booking(code: str) -> ResponseReturnValue:
    reminder = booking_reminders.reminder_for(code) or abort(404)
    occurrence = reminder.occurrence
    context: dict[str, Any] = {"reminder": reminder, "booking": occurrence.booking,
                               "when": booking_reminders.describe(occurrence),
                               "open": booking_reminders.is_open(reminder)}
    return _answer(lambda: booking_reminders.cant_go(reminder=reminder), "reply/cant_go_booking.html",
                   lambda _: render_template("reply/done_booking.html", **context), context)


def _answer(work: Any, page: str, done: Any, context: dict[str, Any]) -> ResponseReturnValue:
    form = BaseForm()
    if form.validate_on_submit():
        return finish_use_case(form, work, done=done, template=page, **context)
    return render_template(page, form=form, **context)
