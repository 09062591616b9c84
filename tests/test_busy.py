"""A database too busy to take a write: the member gets 503 with a Chinese page that says nothing was
saved and to submit again in a few seconds (Retry-After), nothing is written, and the next request
works. On SQLite another process holds the write lock past the busy timeout; on PostgreSQL another
transaction holds a lock past lock_timeout."""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, make_url, select, text

from app.accounts.models import User
from app.errors import BUSY_RETRY_SECONDS
from app.extensions import db
from tests.conftest import CSRF_RE, PASSWORD, database_url_for, next_phone

URL = database_url_for()
SQLITE = URL.startswith("sqlite")


@pytest.fixture
def busy_app(extra_app):
    """The suite's database, giving up on a lock after a tenth of a second."""
    if SQLITE:
        return extra_app(SQLITE_BUSY_TIMEOUT_MS=100)
    return extra_app(SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"options": "-c lock_timeout=100"}})


@contextmanager
def someone_else_writing():
    """Another process in the middle of a long write to the users table."""
    if SQLITE:
        other = sqlite3.connect(make_url(URL).database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
        return
    engine = create_engine(URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as other:
        other.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))    # reads go on, writes wait
        yield
        other.rollback()
    engine.dispose()


def sign_up(client, phone: str):
    token = CSRF_RE.search(client.get("/register").get_data(as_text=True)).group(1)
    return client.post("/register", data={"name": "忙时注册", "phone": phone, "password": PASSWORD,
                                          "password_confirm": PASSWORD, "agree": "y", "csrf_token": token})


def users_with(app, phone: str) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(User).where(User.phone == phone))
        db.session.remove()
        return count


def test_a_write_that_waits_too_long_for_the_database_gets_a_busy_page_and_saves_nothing(busy_app):
    client, phone = busy_app.test_client(), next_phone()
    with someone_else_writing():
        response = sign_up(client, phone)
    page = response.get_data(as_text=True)
    assert response.status_code == 503
    # Flask-Limiter rewrites Retry-After as seconds left, rounded down
    assert BUSY_RETRY_SECONDS - 1 <= int(response.headers["Retry-After"]) <= BUSY_RETRY_SECONDS
    assert "系统正忙" in page and "这次提交没有保存" in page and "填好的内容还在" in page
    assert users_with(busy_app, phone) == 0

    try:
        again = sign_up(busy_app.test_client(), phone)         # the lock is gone: the same form goes through
        assert again.status_code == 302 and users_with(busy_app, phone) == 1
    finally:
        with busy_app.app_context():
            db.session.execute(User.__table__.delete().where(User.phone == phone))
            db.session.commit()


def test_other_database_errors_are_still_server_errors(busy_app):
    @busy_app.get("/_broken")
    def broken():
        db.session.execute(text("SELECT * FROM no_such_table"))

    busy_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = busy_app.test_client().get("/_broken")
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert "系统出错了" in response.get_data(as_text=True)
