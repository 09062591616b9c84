"""Server-side sessions stored in the database.

The cookie carries only a random 256-bit id; the table keeps its SHA-256, the session data (JSON),
the signed-in user and the expiry. So logging out, disabling a user or changing a password ends
sessions for real, and a copied cookie is worthless afterwards. Flask-Session was considered: its
SQLAlchemy backend calls create_all() outside our migrations and cannot end a given user's
sessions, which is what we need most.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, Request, Response, request
from flask import session as flask_session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, select
from werkzeug.datastructures import CallbackDict

from app.accounts.models import UserSession
from app.clock import utcnow
from app.db import has_uncommitted_writes, rowcount
from app.extensions import db
from app.transactions import commit_fresh

log = logging.getLogger(__name__)
_serializer = TaggedJSONSerializer()
USER_KEY = "_user_id"  # where Flask-Login keeps the signed-in user's id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, token: str | None = None, new: bool = False):
        def on_update(self: ServerSession) -> None:
            self.modified = True

        super().__init__(initial, on_update)
        self.token = token
        self.new = new
        self.modified = False
        self.rotate = False
        self.row_seen_at: datetime | None = None   # when the stored row was last touched

    def regenerate(self) -> None:
        """Give this session a new id (at login), so an id planted before login is useless."""
        self.rotate = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> ServerSession:
        token = request.cookies.get(self.get_cookie_name(app))
        if request.path.startswith(f"{app.static_url_path}/"):
            return ServerSession(token=token)  # static files neither read nor write sessions
        if token and len(token) <= 128:
            row = db.session.get(UserSession, _digest(token))
            found = (row.data, row.last_seen_at) if row is not None and row.expires_at > utcnow() else None
            # This runs before the before_request hook declares the request's write intent: end
            # the read so that the request's own transaction begins afresh (on SQLite with BEGIN
            # IMMEDIATE for a POST). A read transaction kept open here would have to upgrade to
            # a write later, which fails with "database is locked" while another request writes.
            db.session.rollback()
            if found is not None:
                try:
                    data = _serializer.loads(found[0])
                except ValueError:
                    data = {}
                session = ServerSession(data, token=token)
                session.row_seen_at = found[1]
                return session
        return ServerSession(new=True)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if request.path.startswith(f"{app.static_url_path}/"):
            return
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        now = utcnow()

        if not session:
            if session.token and session.modified:
                self._write(lambda: db.session.execute(
                    delete(UserSession).where(UserSession.id == _digest(session.token))))
                response.delete_cookie(name, domain=domain, path=path,
                                       secure=self.get_cookie_secure(app),
                                       httponly=self.get_cookie_httponly(app),
                                       samesite=self.get_cookie_samesite(app))
            return

        touch_due = not session.new and now - (session.row_seen_at or now) > timedelta(minutes=5)
        if not (session.modified or session.new or touch_due):
            return

        user_id = session.get(USER_KEY)
        lifetime = self._lifetime(app, signed_in=user_id is not None)
        old_token = session.token
        token = secrets.token_urlsafe(32) if session.new or session.rotate or old_token is None else old_token
        session.token = token

        def write() -> None:
            if old_token and old_token != token:
                db.session.execute(delete(UserSession).where(UserSession.id == _digest(old_token)))
            row = db.session.get(UserSession, _digest(token))
            if row is None:
                row = UserSession(id=_digest(token), created_at=now)
                db.session.add(row)
            row.user_id = int(user_id) if user_id is not None else None
            row.data = _serializer.dumps(dict(session))
            row.last_seen_at = now
            cap = row.created_at + timedelta(days=app.config["SESSION_MAX_DAYS"])
            row.expires_at = min(now + lifetime, cap)

        self._write(write)
        session.rotate = False
        response.set_cookie(name, token, httponly=self.get_cookie_httponly(app),
                            secure=self.get_cookie_secure(app),
                            samesite=self.get_cookie_samesite(app), domain=domain, path=path,
                            max_age=int(lifetime.total_seconds()))
        response.vary.add("Cookie")

    @staticmethod
    def _lifetime(app: Flask, *, signed_in: bool) -> timedelta:
        if signed_in:
            return timedelta(days=app.config["SESSION_IDLE_DAYS"])
        return timedelta(hours=app.config["ANONYMOUS_SESSION_HOURS"])

    @staticmethod
    def _write(work) -> None:
        """Run one small transaction of our own after the view has finished with the session.

        Work a view left uncommitted would be discarded at teardown anyway: it is rolled back
        here rather than committed by accident with the session row. A transaction that only
        read is ended too, so that the write starts afresh with the write lock (SQLite: a read
        transaction cannot safely upgrade to a write while another connection writes).
        """
        if has_uncommitted_writes(db.session):
            log.error("uncommitted changes at the end of %s discarded", request.path)
        commit_fresh(work)


def end_user_sessions(user_id: int, *, except_token: str | None = None) -> int:
    """Delete every session of a user (optionally keeping the current one). Flushes only."""
    stmt = delete(UserSession).where(UserSession.user_id == user_id)
    if except_token:
        stmt = stmt.where(UserSession.id != _digest(except_token))
    return rowcount(db.session.execute(stmt))


def purge_expired() -> int:
    return rowcount(db.session.execute(delete(UserSession).where(UserSession.expires_at <= utcnow())))


def active_sessions(user_id: int) -> list:
    return list(db.session.scalars(select(UserSession).where(
        UserSession.user_id == user_id, UserSession.expires_at > utcnow())))


def this_session() -> ServerSession:
    """The request's session (flask.session), typed as the server-side session it is."""
    return cast(ServerSession, flask_session)
