"""Yinhui 银晖: the application factory."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request
from flask_login import current_user
from werkzeug.middleware.proxy_fix import ProxyFix

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict | type | None = None) -> Flask:
    app = Flask(__name__, instance_path=str(ROOT / "instance"), instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder="static")

    from app import config as configuration

    configuration.load(app, config)
    if app.config["PROXY_FIX_X_FOR"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=app.config["PROXY_FIX_X_FOR"],
                                x_proto=1, x_host=1)

    _init_extensions(app)
    _register_blueprints(app)

    from app.errors import register_error_handlers
    from app.security import register_security

    register_error_handlers(app)
    register_security(app)
    _register_request_hooks(app)
    _register_template_helpers(app)

    from app.cli import register_cli

    register_cli(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app.accounts.sessions import DatabaseSessionInterface
    from app.db import configure_postgresql, configure_sqlite
    from app.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    with app.app_context():
        configure_sqlite(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
        configure_postgresql(db.engine)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    limiter.init_app(app)
    app.session_interface = DatabaseSessionInterface()

    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(user_id: str):
        from app.accounts.models import User

        user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
        return user if user is not None and user.active else None

    # Import every model so metadata (and Alembic) see the whole schema.
    import app.models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from app.accounts.views import bp as accounts_bp
    from app.main.views import bp as main_bp
    from app.members.staff_views import bp as pool_bp
    from app.members.views import bp as members_bp
    from app.notifications.views import bp as notifications_bp
    from app.organizations.views import bp as organizations_bp
    from app.tasks.member_views import bp as my_bp
    from app.tasks.views import bp as tasks_bp
    from app.venues.views import bp as venues_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(accounts_bp)
    app.register_blueprint(organizations_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(members_bp)
    app.register_blueprint(pool_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(my_bp)
    app.register_blueprint(venues_bp)


def _register_request_hooks(app: Flask) -> None:
    from app.audit.services import origin
    from app.db import write_intent

    @app.before_request
    def mark_request():
        # SQLite: a request that may write takes the write lock when its transaction begins.
        view = app.view_functions.get(request.endpoint)
        g._write_token = write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS")
                                          or getattr(view, "writes", False))
        g._origin_token = origin.set(request.remote_addr or "")

    @app.teardown_request
    def unmark_request(_exc):
        for name, var in (("_write_token", write_intent), ("_origin_token", origin)):
            token = g.pop(name, None)
            if token is not None:
                try:
                    var.reset(token)
                except ValueError:  # reset from another context; harmless
                    pass


def _register_template_helpers(app: Flask) -> None:
    from app.accounts.models import Role
    from app.accounts.phone import mask_phone
    from app.formats import FILTERS
    from app.main.views import elder_mode
    from app.notifications.services import unread_count

    @app.context_processor
    def inject():
        signed_in = current_user.is_authenticated
        return {
            "unread_notifications": (lambda: unread_count(current_user.id)) if signed_in else (lambda: 0),
            "elder_mode": elder_mode(),
            "help_hotline": app.config["HELP_HOTLINE"],
            "help_hours": app.config["HELP_HOURS"],
            "Role": Role,
            "has_role": lambda role: current_user.is_authenticated and current_user.has_role(role),
        }

    app.jinja_env.filters["mask_phone"] = mask_phone
    app.jinja_env.filters.update(FILTERS)
