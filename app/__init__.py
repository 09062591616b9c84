"""Yinhui 银晖: the application factory."""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, g, request, url_for
from flask_login import current_user
from sqlalchemy import bindparam, select
from sqlalchemy.orm import joinedload
from werkzeug.local import LocalProxy
from werkzeug.middleware.proxy_fix import ProxyFix

import app.models  # noqa: F401  (every model, so that metadata and Alembic see the whole schema)
from app import config as configuration
from app import ops
from app.access import Permissions
from app.accounts.models import User, UserSession
from app.accounts.sessions import SAFE_METHODS, DatabaseSessionInterface
from app.accounts.views import bp as accounts_bp
from app.attendance.views import bp as attend_bp
from app.audit.services import origin
from app.bookings.views import bp as bookings_bp
from app.cli import register_cli
from app.db import configure_postgresql, configure_sqlite, write_intent
from app.errors import register_error_handlers
from app.extensions import csrf, db, limiter, login_manager, migrate
from app.formats import FILTERS
from app.jobs import queue as jobs_queue
from app.main.views import bp as main_bp
from app.members.care_views import bp as care_bp
from app.members.staff_views import bp as pool_bp
from app.members.views import bp as members_bp
from app.notifications.services import unread_count, unread_of
from app.notifications.views import bp as notifications_bp
from app.organizations.views import bp as organizations_bp
from app.production import refuse_unsafe
from app.proofs.views import bp as proofs_bp
from app.reports.views import bp as reports_bp
from app.security import register_security
from app.tasks.member_views import bp as my_bp
from app.tasks.reply_views import bp as reply_bp
from app.tasks.views import bp as tasks_bp
from app.venues.views import bp as venues_bp
from app.web import elder_mode

ROOT = configuration.ROOT
BLUEPRINTS = (main_bp, accounts_bp, organizations_bp, notifications_bp, members_bp, pool_bp, tasks_bp, my_bp,
              venues_bp, bookings_bp, reply_bp, reports_bp, attend_bp, proofs_bp, care_bp)


def create_app(config: dict | type | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"), instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder="static")
    configuration.load(app, config)
    # Production fails closed (app/production.py). A command (`flask doctor`, `flask db upgrade`)
    # still loads the app, so that the settings can be checked and fixed; a server does not.
    if app.config["YINHUI_ENV"] == "production" and click.get_current_context(silent=True) is None:
        refuse_unsafe(app.config)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],  # type: ignore[method-assign]
                                x_proto=1, x_host=1)
    _init_extensions(app)
    ops.init_app(app)   # after ProxyFix: its request-id layer is the outermost
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    register_error_handlers(app)
    register_security(app)
    _register_request_hooks(app)
    _register_template_helpers(app)
    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        configure_postgresql(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    app.session_interface = DatabaseSessionInterface(read_row=_read_session_and_user)
    jobs_queue.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(_load_user)


# The signed-in user with their role grants (each with its region or organization) and the count
# of their unread notifications: every signed-in page needs all three (permissions, and the badge
# in the header) before anything else. Built once: only the id changes from request to request.
_USER = (select(User, unread_of(User.id)).options(joinedload(User.grants))
         .where(User.id == bindparam("user_id")))
# The same, read with the session's row in one statement on a page that only reads (a GET): the
# session interface asks for the row by its digest, and the user comes along for _load_user.
_SESSION_AND_USER = (select(UserSession, User, unread_of(User.id))
                     .outerjoin(User, User.id == UserSession.user_id)
                     .options(joinedload(User.grants)).where(UserSession.id == bindparam("digest")))
PRELOADED = "_session_user"     # g: (user, unread count), read with the session's row


def _read_session_and_user(digest: str) -> UserSession | None:
    row = db.session.execute(_SESSION_AND_USER, {"digest": digest}).unique().one_or_none()
    if row is None:
        return None
    setattr(g, PRELOADED, (row[1], row[2]))
    return row[0]


def _load_user(user_id: str) -> User | None:
    """The signed-in user (with grants and unread count): the one read with the session's row
    when there is one for this id, otherwise in a statement of its own."""
    if not user_id.isdigit():
        return None
    preloaded = g.pop(PRELOADED, None)
    if preloaded is not None and preloaded[0] is not None and preloaded[0].id == int(user_id):
        user, unread = preloaded
    else:
        row = db.session.execute(_USER, {"user_id": int(user_id)}).unique().one_or_none()
        if row is None:
            return None
        user, unread = row
    if not user.active:
        return None
    g.unread_notifications = unread
    return user


def _register_request_hooks(app: Flask) -> None:
    @app.before_request
    def mark_request() -> None:
        # SQLite: a request that may write takes the write lock when its transaction begins. A GET
        # never writes in its own transaction (an audited read commits apart: audit.record_read).
        g._write_token = write_intent.set(request.method not in SAFE_METHODS)
        g._origin_token = origin.set(request.remote_addr or "")

    @app.teardown_request
    def unmark_request(_exc: BaseException | None) -> None:
        for name, var in (("_write_token", write_intent), ("_origin_token", origin)):
            token = g.pop(name, None)
            if token is not None:
                try:
                    var.reset(token)
                except ValueError:  # reset from another context; harmless
                    pass


def _unread() -> int:
    """The header's badge: counted when the user was loaded, or now (signed in by this request)."""
    if "unread_notifications" in g:
        return int(g.unread_notifications)
    return unread_count(current_user.id)


def _permissions() -> Permissions:
    """`may` for this request: made once and asked many times (the navigation alone asks seven)."""
    user = current_user._get_current_object()
    found = g.get("_may")
    if found is None or found.actor is not user:
        found = g._may = Permissions(user)
    return found


def _register_template_helpers(app: Flask) -> None:
    # `may`: every permission check, bound to whoever is signed in (app.access.web), in every
    # template and macro.
    app.jinja_env.globals["may"] = LocalProxy(_permissions)
    links: dict[tuple[str, str, str | None], str] = {}

    def fixed_url(endpoint: str, filename: str | None = None) -> str:
        """url_for() of a page that takes no arguments, or of a static file: the same path on every
        request, so built once per mount point (the layout has fifteen of them on every page)."""
        key = (request.script_root, endpoint, filename)
        found = links.get(key)
        if found is None:
            found = links[key] = url_for(endpoint, filename=filename) if filename else url_for(endpoint)
        return found

    app.jinja_env.globals["fixed_url"] = fixed_url

    @app.context_processor
    def inject() -> dict[str, Any]:
        signed_in = current_user.is_authenticated
        return {
            "unread_notifications": _unread if signed_in else (lambda: 0),
            "elder_mode": elder_mode(),
            "help_hotline": app.config["HELP_HOTLINE"],
            "help_hours": app.config["HELP_HOURS"],
        }

    app.jinja_env.filters.update(FILTERS)
