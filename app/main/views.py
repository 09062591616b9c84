"""Home, privacy notice, the 长辈版 switch and the health check."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select, text

from app.accounts.models import Role
from app.extensions import db
from app.forms import BaseForm
from app.web import ELDER_COOKIE, safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
def home():
    roles, profile, invitations = set(), None, 0
    if current_user.is_authenticated:
        from app.members.models import MemberProfile
        from app.tasks.models import Assignment, AssignmentStatus

        roles = {gr.role for gr in current_user.grants}
        profile = db.session.get(MemberProfile, current_user.id)
        invitations = db.session.scalar(select(func.count()).select_from(Assignment).where(
            Assignment.member_id == current_user.id, Assignment.status == AssignmentStatus.INVITED))
    return render_template("main/home.html", roles=roles, Role=Role, profile=profile, invitations=invitations)


@bp.get("/privacy")
def privacy():
    return render_template("main/privacy.html")


@bp.post("/preferences/elder")
def toggle_elder():
    """Switch the large-text 长辈版 on or off; remembered on this device and, when signed in, on
    the account."""
    form = BaseForm()
    target = safe_next(request.form.get("next")) or url_for("main.home")
    if not form.validate_on_submit():
        return redirect(target)
    on = request.form.get("elder") == "1"
    if current_user.is_authenticated:
        current_user.elder_mode = on
        db.session.commit()
    response = redirect(target)
    response.set_cookie(ELDER_COOKIE, "1" if on else "0", max_age=5 * 365 * 24 * 3600,
                        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


@bp.get("/healthz")
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}


def elder_mode() -> bool:
    if "elder" in g:
        return g.elder
    if current_user.is_authenticated:
        return current_user.elder_mode
    return request.cookies.get(ELDER_COOKIE) == "1"
