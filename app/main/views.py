"""Home, privacy notice and the 长辈版 switch."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.accounts.models import Role
from app.accounts.services import set_elder_mode
from app.reports.views import home_board
from app.tasks.mine import profile_and_invitations
from app.web import ELDER_COOKIE, commit, safe_next

bp = Blueprint("main", __name__)


@bp.get("/")
def home() -> ResponseReturnValue:
    if not current_user.is_authenticated:
        return render_template("main/home.html")
    profile, invitations = profile_and_invitations(current_user)
    dashboard = home_board(current_user)
    return render_template("main/home.html", profile=profile, invitations=invitations,
                           admin_grants=current_user.grants_for(Role.ADMIN),
                           organizer_grants=current_user.grants_for(Role.ORGANIZER),
                           dashboard=dashboard is not None, heading="h2", **(dashboard or {}))


@bp.get("/privacy")
def privacy() -> ResponseReturnValue:
    return render_template("main/privacy.html")


@bp.post("/preferences/elder")
def toggle_elder() -> ResponseReturnValue:
    """Switch the large-text 长辈版 on or off; remembered on this device and, when signed in, on
    the account. (Its form is only the CSRF token, checked before any view runs.)"""
    target = safe_next(request.form.get("next")) or url_for("main.home")
    on = request.form.get("elder") == "1"
    if current_user.is_authenticated:
        commit(lambda: set_elder_mode(actor=current_user, on=on))
    response = redirect(target)
    response.set_cookie(ELDER_COOKIE, "1" if on else "0", max_age=5 * 365 * 24 * 3600,
                        httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response

