"""The notification centre."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.extensions import db
from app.forms import BaseForm
from app.notifications import services
from app.notifications.models import Notification
from app.web import run_action, safe_next

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    page = db.paginate(services.inbox(current_user), page=request.args.get("page", 1, type=int), per_page=20,
                       error_out=False)
    return render_template("notifications/index.html", page=page, form=BaseForm(),
                           unread=services.unread_count(current_user.id))


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int) -> ResponseReturnValue:
    note = access.get(Notification, notification_id, current_user) or abort(404)
    return run_action(lambda: services.mark_read(actor=current_user, notification_id=note.id),
                      done=(None, safe_next(note.link) or url_for("notifications.index")))


@bp.post("/read-all")
@login_required
def read_all() -> ResponseReturnValue:
    return run_action(lambda: services.mark_read(actor=current_user),
                      done=lambda count: (f"已将 {count} 条消息标为已读。", url_for("notifications.index")))
