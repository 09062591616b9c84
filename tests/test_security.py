"""Headers, cookies, CSRF, templates without inline script, and Chinese error pages."""

import re
from pathlib import Path

import pytest

from app.config import ProductionConfig
from tests.conftest import PASSWORD, csrf_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "app" / "static"
PUBLIC_PAGES = ["/", "/login", "/register", "/privacy", "/no-such-page"]


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_every_response_carries_the_security_headers(client, path):
    h = client.get(path).headers
    csp = h["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'self'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"]


def test_security_headers_come_once_each_and_never_replace_a_views_own(extra_app):
    app = extra_app(HSTS=True)

    @app.get("/own-headers")
    def own_headers():
        return "ok", 200, {"x-frame-options": "DENY", "Content-Security-Policy": "default-src 'none'"}

    client = app.test_client()
    h = client.get("/own-headers", base_url="https://localhost").headers
    assert h.getlist("X-Frame-Options") == ["DENY"]                       # set by the view, any case
    assert h.getlist("Content-Security-Policy") == ["default-src 'none'"]
    for name in ("X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy", "Cross-Origin-Opener-Policy",
                 "Strict-Transport-Security"):
        assert len(h.getlist(name)) == 1, name
    plain = client.get("/privacy").headers                                  # not HTTPS: no HSTS
    assert "Strict-Transport-Security" not in plain
    assert plain.getlist("X-Frame-Options") == ["SAMEORIGIN"]


def test_session_cookie_is_httponly_and_samesite_lax(client):
    client.get("/login")
    cookie = client.get_cookie("yinhui_session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure


def test_session_cookie_is_secure_when_configured_for_https(extra_app):
    secure_app = extra_app(SESSION_COOKIE_SECURE=True)
    secure_client = secure_app.test_client()
    response = secure_client.get("/login", base_url="https://localhost")
    set_cookie = response.headers["Set-Cookie"]
    assert "Secure" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    from app import create_app

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(ProductionConfig)


def test_production_refuses_a_short_secret_key(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "too-short")
    from app import create_app

    with pytest.raises(RuntimeError, match="too short"):
        create_app(ProductionConfig)


def test_csrf_tokens_never_expire(app):
    assert app.config["WTF_CSRF_TIME_LIMIT"] is None


def test_templates_hold_no_inline_script_style_or_event_handlers():
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        # Data for a static script may sit in a JSON block, which the browser never runs.
        assert not re.search(r"<script(?![^>]*\b(src=|type=\"application/json\"))[^>]*>", text), \
            f"inline script in {path}"
        assert not re.search(r"\sstyle=", text), f"inline style in {path}"
        assert not re.search(r"\son[a-z]+=", text), f"inline event handler in {path}"
        assert not re.search(r"(src|href)=\"(https?:)?//", text), f"external resource in {path}"


def test_static_files_load_nothing_from_elsewhere():
    for path in STATIC.rglob("*"):
        if path.suffix in (".css", ".js"):
            assert not re.search(r"(url\(|import\s|fetch\().{0,5}(https?:)?//", path.read_text()), path


@pytest.mark.parametrize("status,path,title", [
    (404, "/no-such-page", "找不到页面"),
    (405, "/logout", "请求方式不对"),
    (403, "/admin/users", "没有权限"),
])
def test_error_pages_are_in_chinese(client, login, create_user, status, path, title):
    if status == 403:
        login(create_user())
    response = client.get(path)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert title in html and "帮助热线" in html and 'lang="zh-CN"' in html


def test_a_server_error_answers_with_a_chinese_page(extra_app):
    broken = extra_app(PROPAGATE_EXCEPTIONS=False, TESTING=False)

    @broken.get("/boom")
    def boom():
        raise RuntimeError("boom")

    response = broken.test_client().get("/boom")
    assert response.status_code == 500
    assert "系统出错了" in response.get_data(as_text=True)


def test_json_clients_get_json_errors(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["title"] == "找不到页面"


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_get_requests_change_nothing(client, login, create_user):
    login(create_user())
    assert client.get("/logout").status_code == 405
    assert client.get("/preferences/elder").status_code == 405


def test_the_health_check_touches_the_database(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_failed_logins_are_audited(client, db, create_user):
    from sqlalchemy import select

    from app.audit.models import AuditEvent

    user = create_user()
    client.post("/login", data={"phone": user.phone, "password": "nope-nope-nope",
                                "csrf_token": csrf_token(client)})
    client.post("/login", data={"phone": user.phone, "password": PASSWORD, "csrf_token": csrf_token(client)})
    outcomes = db.session.scalars(select(AuditEvent.outcome).where(
        AuditEvent.actor_id == user.id, AuditEvent.action == "account.login").order_by(AuditEvent.id)).all()
    assert outcomes == ["failed", "ok"]
