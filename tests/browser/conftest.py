"""Browser tests: a live server on its own database, driven by Debian's Chromium through Playwright.

No browser is ever downloaded: Playwright launches the `chromium` package's binary. Without it the
tests skip, unless YINHUI_REQUIRE_BROWSER is set (CI), where they fail instead.

The tests never wait a fixed time, and never look at a page before it is there: a click that loads
a page goes through `submit()` (it returns once the new page has loaded), and what a page shows is
checked with Playwright's `expect()`, which retries until it holds. `is_visible()`, `count()`,
`title()` and `url` answer at once, about whatever page is there at that moment: on a busy machine
that is still the previous one. TIMEOUT is only an upper bound for a machine under heavy load.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password
from app.extensions import db as _db
from tests.conftest import database_url_for, make_app, reset_database

DEMO_PASSWORD = "yinhui-demo-2026"
TWO_COUNTIES = "19900000005"   # an admin of 管城回族区 and 淅川县: not in the demo data, made by two_county_admin()
TIMEOUT = 30_000   # ms, for every wait and every expect(): an upper bound, never a pause
expect.set_options(timeout=TIMEOUT)

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                 "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def live_server():
    """The app on a real port, with migrations applied and the demo data loaded."""
    url = database_url_for("browser")
    reset_database(url)
    app = make_app(url, RATELIMIT_STORAGE_URI="memory://", TESTING=False)
    with app.app_context():
        from flask_migrate import upgrade

        from app.demo import seed_demo
        from app.regions.services import load_gazetteer

        upgrade()
        load_gazetteer(prefix="41")
        seed_demo()
        _db.session.commit()
        _db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.app = app
    server.url = f"http://127.0.0.1:{server.server_port}"
    yield server
    server.shutdown()
    thread.join(5)
    with app.app_context():
        _db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("YINHUI_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                  base_url=live_server.url)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    # Form pages answer refused input with 4xx on purpose; a failing script, style or image is a bug.
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.request.resource_type != "document" else None)
    yield page
    context.close()
    assert not errors, f"errors in the browser console: {errors}"


def submit(page, target) -> None:
    """Click `target` (a form's button, a link) and return once the page it loads has loaded: the
    server has answered, and the new page is there to be read."""
    with page.expect_navigation():
        target.click()


def two_county_admin(live_server) -> str:
    """The phone of an admin of two counties (管城回族区 and 淅川县), made once on the live server's
    database: the dashboard's region switcher is shown to admins of several regions only."""
    with live_server.app.app_context():
        if _db.session.scalar(select(User.id).where(User.phone == TWO_COUNTIES)) is None:
            _db.session.add(User(name="测试·两县老干部局", phone=TWO_COUNTIES, active=True,
                                 password_hash=hash_password(DEMO_PASSWORD),
                                 grants=[RoleGrant(role=Role.ADMIN, region_code="410104"),
                                         RoleGrant(role=Role.ADMIN, region_code="411326")]))
            _db.session.commit()
        _db.session.remove()
    return TWO_COUNTIES


def sign_in(page, phone: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码").fill(password)
    submit(page, page.get_by_role("button", name="登录"))
    page.wait_for_url("**/")
