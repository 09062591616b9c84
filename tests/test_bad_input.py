"""Every form, fed long, empty, emoji and control-character input, answers with a form showing
errors — never a 500 — and changes nothing."""

import pytest
from sqlalchemy import func, select

from app.accounts.models import RoleGrant, User
from app.audit.models import AuditEvent
from app.organizations.models import Organization
from tests.conftest import csrf_token

BAD_VALUES = ["x" * 10_000, "\x00\x1b[31m\x07", "😀👍🏻🇨🇳", "", "   ", "NaN", "1e999", "-Infinity",
              "<script>alert(1)</script>", "' OR 1=1 --", "\u202e\u200b", "１３８ＡＢＣ"]

FORMS = {
    # path: (who signs in, fields, tables that must not change)
    "/register": (None, ["name", "phone", "password", "password_confirm", "agree"], [User, RoleGrant]),
    "/login": (None, ["phone", "password", "next"], [User, RoleGrant]),
    "/account/password": ("member", ["old_password", "new_password", "new_password_confirm"], [User]),
    "/organizations/new": ("admin", ["name", "kind", "county", "address", "contact_phone", "lat", "lon"],
                           [Organization]),
    "/admin/grants": ("admin", ["phone", "role", "region", "organization"], [RoleGrant]),
}


def assert_refused_everywhere(client, db, path, fields, tables, token_page, statuses=(400, 409), valid=(),
                              extra=None):
    """POST every bad value into every field at once: a form with errors comes back, nothing changes.
    Values in `valid` are legitimate answers for this form (an empty optional field, "NaN" as a
    name): they must merely not break it."""
    for value in BAD_VALUES:
        before = snapshot(db, tables)
        data = {**{f: value for f in fields}, **(extra or {}), "csrf_token": csrf_token(client, token_page)}
        response = client.post(path, data=data)
        html = response.get_data(as_text=True)
        if value in valid:
            assert response.status_code < 500, (path, value[:20], response.status_code)
            continue
        assert response.status_code in statuses, (path, value[:20], response.status_code)
        assert "error-summary" in html and "<title>错误：" in html, (path, value[:20])
        assert "<script>alert(1)</script>" not in html
        db.session.expire_all()
        assert snapshot(db, tables) == before, (path, value[:20])


def snapshot(db, tables):
    counts = {t.__name__: db.session.scalar(select(func.count()).select_from(t)) for t in tables}
    hashes = tuple(db.session.scalars(select(User.password_hash).order_by(User.id)))
    return counts, hashes


@pytest.mark.parametrize("path", list(FORMS))
def test_bad_input_in_every_field_gets_a_form_with_errors(app, client, db, login, create_user, create_admin, path):
    who, fields, tables = FORMS[path]
    if who == "member":
        login(create_user())
    elif who == "admin":
        login(create_admin("410104"))
    page = path if path != "/admin/grants" else "/account"
    assert_refused_everywhere(client, db, path, fields, tables, page)


def test_bad_input_in_the_phone_search_is_answered_with_a_form(client, login, create_admin):
    login(create_admin("410104"))
    for value in BAD_VALUES:
        response = client.get("/admin/users", query_string={"phone": value})
        assert response.status_code == 200
        assert "error-summary" in response.get_data(as_text=True)


def test_bad_input_never_reaches_the_audit_trail_as_a_login(client, db):
    before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    client.post("/login", data={"phone": "\x00" * 50, "password": "x", "csrf_token": csrf_token(client)})
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before
