"""Reads stay reads: anonymous visitors keep their session in a signed cookie, never in a row."""

import hashlib

from flask.json.tag import TaggedJSONSerializer
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.accounts import sessions
from app.accounts.models import UserSession
from app.accounts.sessions import ANONYMOUS_SALT
from tests.conftest import PASSWORD, csrf_token

COOKIE = "yinhui_session"


def session_rows(db) -> int:
    return db.session.scalar(select(func.count()).select_from(UserSession))


def signed(value: dict, key: str) -> str:
    return URLSafeTimedSerializer(key, salt=ANONYMOUS_SALT, serializer=TaggedJSONSerializer(),
                                  signer_kwargs={"key_derivation": "hmac",
                                                 "digest_method": hashlib.sha256}).dumps(value)


def test_a_thousand_anonymous_reads_write_no_session_row(app, db):
    before = session_rows(db)
    returning = app.test_client()           # keeps its cookie, as a browser does
    for _ in range(250):
        for path in ("/", "/login"):
            assert returning.get(path).status_code == 200
            assert app.test_client().get(path).status_code == 200   # a crawler without cookies
    assert session_rows(db) == before
    # The returning visitor's session is its signed cookie, holding the CSRF token.
    assert "." in returning.get_cookie(COOKIE).value


def test_anonymous_forms_keep_working_with_the_signed_cookie(client, db):
    before = session_rows(db)
    token = csrf_token(client, "/")
    response = client.post("/preferences/elder", data={"elder": "1", "next": "/privacy", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/privacy"
    assert client.get_cookie("yinhui_elder").value == "1"
    # The same form without the token, or with a token from another visitor's session, is refused.
    assert client.post("/preferences/elder", data={"elder": "0"}).status_code == 400
    stranger = csrf_token(client.application.test_client(), "/")
    assert client.post("/preferences/elder", data={"elder": "0", "csrf_token": stranger}).status_code == 400
    assert client.get_cookie("yinhui_elder").value == "1"
    assert session_rows(db) == before


def test_signing_in_makes_the_row_and_logout_removes_it(client, db, login, create_user):
    user = create_user()
    before = session_rows(db)
    login(user)
    token = client.get_cookie(COOKIE).value
    assert "." not in token                 # an id now, not data
    row = db.session.get(UserSession, hashlib.sha256(token.encode()).hexdigest())
    assert row is not None and row.user_id == user.id and session_rows(db) == before + 1

    response = client.post("/logout", data={"csrf_token": csrf_token(client, "/account")}, follow_redirects=True)
    assert "您已安全退出" in response.get_data(as_text=True)   # the flash rode in the signed cookie
    assert session_rows(db) == before
    assert "." in client.get_cookie(COOKIE).value
    client.set_cookie(COOKIE, token)        # the old id, copied before logout, is worthless
    assert client.get("/account").status_code == 302


def test_forged_cookies_are_ignored_safely(app, client, db, create_user):
    user = create_user()
    before = session_rows(db)
    forgeries = [
        "not.a.signature",
        signed({"_user_id": str(user.id)}, "some-other-key-00000000000000000000"),
        # Even a value we signed is never believed about who is signed in.
        signed({"_user_id": str(user.id), "_fresh": True}, app.config["SECRET_KEY"]),
        "x" * 4000,
    ]
    for value in forgeries:
        client.set_cookie(COOKIE, value)
        assert client.get("/").status_code == 200
        response = client.get("/account")
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    # A forged session's CSRF token is no token: the sign-in form is refused.
    client.set_cookie(COOKIE, signed({"csrf_token": "0" * 40}, "some-other-key-00000000000000000000"))
    response = client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": "0" * 40})
    assert response.status_code == 400 and "表单校验码" in response.get_data(as_text=True)
    assert session_rows(db) == before


def test_an_expired_anonymous_cookie_is_a_fresh_session(app, client, db):
    token = csrf_token(client)
    value = client.get_cookie(COOKIE).value
    hours = app.config["ANONYMOUS_SESSION_HOURS"]
    try:
        app.config["ANONYMOUS_SESSION_HOURS"] = -1      # every signed cookie is now too old
        assert client.post("/preferences/elder", data={"elder": "1", "csrf_token": token}).status_code == 400
    finally:
        app.config["ANONYMOUS_SESSION_HOURS"] = hours
    client.set_cookie(COOKIE, value)
    assert client.post("/preferences/elder", data={"elder": "1", "csrf_token": token}).status_code == 302


def test_an_anonymous_cookie_in_use_is_signed_again_within_the_hour(client, db):
    csrf_token(client)
    client.get("/login")        # Flask-Login notes once that the session is not "fresh"
    assert client.get("/login").headers.get("Set-Cookie") is None       # just signed: left alone
    resign = sessions.RESIGN_AFTER
    try:
        sessions.RESIGN_AFTER = -sessions.RESIGN_AFTER                   # as if signed over an hour ago
        again = client.get("/login")
    finally:
        sessions.RESIGN_AFTER = resign
    assert COOKIE in again.headers["Set-Cookie"] and "Max-Age=86400" in again.headers["Set-Cookie"]


def test_a_signed_in_read_reads_its_session_in_its_own_transaction(client, db, login, create_user):
    """A GET reads the session row, the user and the page in one transaction (no ROLLBACK and
    second BEGIN on every page); a POST still ends that read first, so that its own transaction
    begins as a writer (BEGIN IMMEDIATE on SQLite)."""
    login(create_user())
    client.get("/privacy")      # the first page after signing in shows (and clears) the welcome
    transactions: list[str] = []

    def begun(_session, transaction):
        if transaction.parent is None:
            transactions.append(transaction.origin.name)

    event.listen(Session, "after_transaction_create", begun)
    try:
        assert client.get("/privacy").status_code == 200
        read = list(transactions)
        token = csrf_token(client, "/account")
        transactions.clear()
        client.post("/preferences/elder", data={"elder": "1", "next": "/privacy", "csrf_token": token})
        write = list(transactions)
    finally:
        event.remove(Session, "after_transaction_create", begun)
    assert len(read) == 1, read
    # The POST: the session's read, ended; the request's own transaction; the session row's write.
    assert len(write) >= 2, write


def test_a_signed_in_read_loads_its_session_and_user_in_one_statement(app, client, db, login, create_user):
    """The session's row and its user (grants, unread count) come in one statement on a GET, and
    nothing about the user is kept between requests: a role revoked, an account disabled or a
    logout takes effect on the very next request."""
    from app.accounts.models import Role, RoleGrant, User

    user = create_user(roles=(("member", None), ("admin", "410104")))
    login(user)
    client.get("/privacy")      # the welcome, shown once
    statements: list[str] = []

    def sent(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", sent)
    try:
        assert client.get("/privacy").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", sent)
    reads = [s for s in statements if s.startswith("SELECT")]
    assert len(reads) == 1, reads
    assert "FROM user_sessions" in reads[0] and "users" in reads[0] and "role_grants" in reads[0]

    assert client.get("/admin/users").status_code == 200           # an admin page, while an admin
    db.session.execute(RoleGrant.__table__.delete().where(RoleGrant.user_id == user.id,
                                                          RoleGrant.role == Role.ADMIN))
    db.session.commit()
    assert client.get("/admin/users").status_code == 403           # revoked: the next request knows
    assert "人员与权限" not in client.get("/privacy").get_data(as_text=True)

    db.session.get_one(User, user.id).active = False
    db.session.commit()
    assert client.get("/account").status_code == 302                # disabled: signed out at once
