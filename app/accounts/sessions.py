"""Sessions: server-side rows for signed-in users, a signed cookie for everyone else.

Signed in, the cookie carries only a random 256-bit id; the table keeps its SHA-256, the session
data (JSON), the user and the expiry. So logging out, disabling a user or changing a password ends
sessions for real, and a copied cookie is worthless afterwards. Flask-Session was considered: its
SQLAlchemy backend calls create_all() outside our migrations and cannot end a given user's
sessions, which is what we need most.

Anonymous visitors get no row: what their session holds (the CSRF token, a flashed message) is
kept in the same cookie, signed with SECRET_KEY (itsdangerous) and valid for
ANONYMOUS_SESSION_HOURS. Reading a page therefore never writes to the database, and a crawler
cannot grow the table. The two kinds are told apart by their form: a signed value has dots, an id
never does. A signed value is never trusted to say who is signed in: one carrying a user id is
thrown away. The row is made when the session first holds a user (at sign-in).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from flask import Flask, Request, Response, request
from flask import session as flask_session
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from itsdangerous import BadSignature, URLSafeTimedSerializer
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
ANONYMOUS_SALT = "yinhui-anonymous-session"
RESIGN_AFTER = timedelta(hours=1)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})   # never write in their own transaction


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


# Reads a signed-in session's row by its digest, for a request that only reads (GET): the row, and
# whatever else the application wants read in the same statement (app/__init__.py reads the user
# with it, so that a page pays one statement for both), or None when there is no such row.
RowReader = Callable[[str], "UserSession | None"]


def _row_alone(digest: str) -> UserSession | None:
    return db.session.get(UserSession, digest)


class DatabaseSessionInterface(SessionInterface):
    def __init__(self, read_row: RowReader = _row_alone):
        self.read_row = read_row

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        value = request.cookies.get(self.get_cookie_name(app))
        if request.path.startswith(f"{app.static_url_path}/"):
            return ServerSession(token=value)  # static files neither read nor write sessions
        if not value or len(value) > 4096:
            return ServerSession(new=True)
        if "." in value:
            data, signed_at = self._anonymous_data(app, value)
            session = ServerSession(data, new=True)
            # Signed again (a cookie, not a row) once an hour while in use: it lasts as long after
            # the last visit as a signed-in session's row does after its last request.
            session.modified = bool(data) and signed_at is not None and utcnow() - signed_at > RESIGN_AFTER
            return session
        reader = self.read_row if request.method in SAFE_METHODS else _row_alone
        row = reader(_digest(value)) if len(value) <= 128 else None
        found = (row.data, row.last_seen_at) if row is not None and row.expires_at > utcnow() else None
        # A request that may write (a POST) ends this read here, before the before_request hook
        # declares its write intent, so that its own transaction begins afresh (on SQLite with
        # BEGIN IMMEDIATE): a read transaction kept open would have to upgrade to a write later,
        # which fails with "database is locked" while another request writes. A read (GET)
        # never writes in its own transaction, so its session row is simply its first read:
        # no ROLLBACK and second BEGIN on every page.
        if request.method not in SAFE_METHODS:
            db.session.rollback()
        if found is None:
            return ServerSession(new=True)
        try:
            data = _serializer.loads(found[0])
        except ValueError:
            data = {}
        session = ServerSession(data, token=value)
        session.row_seen_at = found[1]
        return session

    @staticmethod
    def _signer(app: Flask) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(app.secret_key or "", salt=ANONYMOUS_SALT, serializer=_serializer,
                                      signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256})

    def _anonymous_data(self, app: Flask, value: str) -> tuple[dict[str, Any], datetime | None]:
        """An anonymous session's data from its signed cookie, and when it was signed; nothing if
        forged, expired or claiming a user."""
        max_age = int(self._lifetime(app, signed_in=False).total_seconds())
        try:
            data, signed_at = self._signer(app).loads(value, max_age=max_age, return_timestamp=True)
        except (BadSignature, ValueError, TypeError):
            return {}, None
        if not isinstance(data, dict) or USER_KEY in data:
            return {}, None
        return data, signed_at

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if request.path.startswith(f"{app.static_url_path}/"):
            return
        if session.get(USER_KEY) is not None:
            self._save_signed_in(app, session, response)
            return

        # Anonymous: a row left from a session that has just ended (logout) goes; what is left
        # of the session travels in the signed cookie, and no row is made.
        if not session.modified:
            return
        if session.token:
            token = session.token
            self._write(lambda: db.session.execute(delete(UserSession).where(UserSession.id == _digest(token))))
            session.token = None
        if not session:
            if request.cookies.get(self.get_cookie_name(app)):
                response.delete_cookie(self.get_cookie_name(app), domain=self.get_cookie_domain(app),
                                       path=self.get_cookie_path(app), secure=self.get_cookie_secure(app),
                                       httponly=self.get_cookie_httponly(app),
                                       samesite=self.get_cookie_samesite(app))
            return
        self._set_cookie(app, response, self._signer(app).dumps(dict(session)), self._lifetime(app, signed_in=False))

    def _save_signed_in(self, app: Flask, session: ServerSession, response: Response) -> None:
        now = utcnow()
        touch_due = not session.new and now - (session.row_seen_at or now) > timedelta(minutes=5)
        if not (session.modified or session.new or touch_due):
            return

        user_id = int(session[USER_KEY])
        lifetime = self._lifetime(app, signed_in=True)
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
            row.user_id = user_id
            row.data = _serializer.dumps(dict(session))
            row.last_seen_at = now
            cap = row.created_at + timedelta(days=app.config["SESSION_MAX_DAYS"])
            row.expires_at = min(now + lifetime, cap)

        self._write(write)
        session.rotate = False
        self._set_cookie(app, response, token, lifetime)

    def _set_cookie(self, app: Flask, response: Response, value: str, lifetime: timedelta) -> None:
        response.set_cookie(self.get_cookie_name(app), value, httponly=self.get_cookie_httponly(app),
                            secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app),
                            domain=self.get_cookie_domain(app), path=self.get_cookie_path(app),
                            max_age=int(lifetime.total_seconds()))
        response.vary.add("Cookie")

    @staticmethod
    def _lifetime(app: Flask, *, signed_in: bool) -> timedelta:
        if signed_in:
            return timedelta(days=app.config["SESSION_IDLE_DAYS"])
        return timedelta(hours=app.config["ANONYMOUS_SESSION_HOURS"])

    @staticmethod
    def _write(work: Callable[[], object]) -> None:
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
