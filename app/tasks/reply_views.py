"""The one-tap answer to a reminder ("去不了了"), opened from a link in an SMS or the app without
signing in (app/tasks/reminders.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template
from flask.typing import ResponseReturnValue

from app.extensions import limiter
from app.forms import BaseForm
from app.tasks import reminders
from app.web import finish_use_case

bp = Blueprint("reply", __name__)


@bp.route("/r/<code>", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RECOVERY_CHECK_LIMIT_PER_IP"], scope="reply-ip")
def cant_go(code: str) -> ResponseReturnValue:
    reminder = reminders.reminder_for(code) or abort(404)
    form = BaseForm()
    context: dict[str, Any] = {"reminder": reminder, "session": reminder.session, "task": reminder.session.task,
               "when": reminders.describe(reminder.session), "open": reminders.is_open(reminder)}
    if form.validate_on_submit():
        return finish_use_case(form, lambda: reminders.cant_go(reminder=reminder),
                               done=lambda _: render_template("reply/done.html", **context),
                               template="reply/cant_go.html", **context)
    return render_template("reply/cant_go.html", form=form, **context)
