"""The notification centre."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.forms import BaseForm
from app.notifications import services
from app.notifications.models import Notification
from app.web import safe_next

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.get("/")
@login_required
def index():
    stmt = (select(Notification).where(Notification.user_id == current_user.id)
            .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc()))
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=20, error_out=False)
    return render_template("notifications/index.html", page=page, form=BaseForm(),
                           unread=services.unread_count(current_user.id))


@bp.post("/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    note = db.session.scalar(select(Notification).where(Notification.id == notification_id,
                                                        Notification.user_id == current_user.id))
    if note is None:
        abort(404)
    if BaseForm().validate_on_submit():
        services.mark_read(actor=current_user, notification_id=note.id)
        db.session.commit()
    return redirect(safe_next(note.link) or url_for("notifications.index"))


@bp.post("/read-all")
@login_required
def read_all():
    if BaseForm().validate_on_submit():
        count = services.mark_read(actor=current_user)
        db.session.commit()
        flash(f"已将 {count} 条消息标为已读。", "success")
    return redirect(url_for("notifications.index"))
