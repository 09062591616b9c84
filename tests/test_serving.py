"""Serving as production serves: gunicorn from gunicorn.conf.py; sign-in while Redis, the shared
rate-limit storage, is down or goes down (a per-process fallback and a warning, never a 500); client
addresses from the proxy's header only when PROXY_FIX_X_FOR says a proxy is trusted."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import pytest
import redis

from app.extensions import db
from tests.conftest import CSRF_RE, make_app
from tests.servers import Browser, Gunicorn, free_port, migrated_database

pytestmark = pytest.mark.slow

PHONE, PASSWORD = "19700001234", "serving-密码-2026"
SECRET = "serving-test-secret-" + "0" * 32
FALLBACK_WARNING = "Rate limit storage unreachable - falling back to in-memory storage"


@pytest.fixture(scope="module")
def database():
    return migrated_database("serving", users={PHONE: PASSWORD})


def server(database: str, tmp_path, **env: str) -> Gunicorn:
    return Gunicorn(env={"DATABASE_URL": database, "SECRET_KEY": SECRET, "WEB_CONCURRENCY": "1", **env},
                    logs=tmp_path)


def test_gunicorn_starts_from_its_config_file_and_serves(database, tmp_path):
    web = server(database, tmp_path, WEB_CONCURRENCY="2").start()
    try:
        response = Browser().request(web.url + "/healthz")
        assert response.status == 200 and '"ok"' in response.body
        assert Browser().request(web.url + "/login").status == 200
    finally:
        assert web.stop() == 0
    log = web.stderr()
    assert "Using worker: gthread" in log and log.count("Booting worker") == 2
    assert "development server" not in log.lower()
    # no gunicorn access log: the application's one JSON line per request, on stderr
    assert '"endpoint": "health.healthz", "status": 200' in log and '"GET /healthz' not in log


def test_sign_in_works_with_redis_unreachable_and_the_outage_is_logged(database, tmp_path):
    closed = free_port()
    web = server(database, tmp_path, REDIS_URL=f"redis://127.0.0.1:{closed}/0").start()
    try:
        assert Browser().login(web.url, PHONE, PASSWORD).status == 302
        wrong = [Browser().login(web.url, PHONE, "wrong-password").status for _ in range(6)]
    finally:
        web.stop()
    # the same limits, counted in this process's memory
    assert wrong == [400] * 5 + [429]
    assert FALLBACK_WARNING in web.stderr()
    assert '"level": "WARNING"' in web.stderr() and "Traceback" not in web.stderr()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to stop one")
def test_redis_stopped_during_sign_ins_changes_nothing_for_the_user(database, tmp_path):
    port = free_port()
    redis_server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                                    cwd=tmp_path, stdout=subprocess.DEVNULL)
    store = redis.Redis(port=port)
    web = None
    try:
        for _ in range(300):
            try:
                store.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.1)
        web = server(database, tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0").start()
        assert Browser().login(web.url, PHONE, "wrong-password").status == 400
        assert any(b"yinhui" in key for key in store.keys()), store.keys()   # counted in Redis

        redis_server.send_signal(signal.SIGTERM)
        redis_server.wait(timeout=30)
        assert Browser().login(web.url, PHONE, PASSWORD).status == 302
        after = [Browser().login(web.url, PHONE, "wrong-password").status for _ in range(6)]
    finally:
        if redis_server.poll() is None:
            redis_server.kill()
            redis_server.wait()
        if web is not None:
            web.stop()
    assert after == [400] * 5 + [429]
    assert FALLBACK_WARNING in web.stderr() and "Traceback" not in web.stderr()


def failed_logins(app, forwarded_for: list[str]) -> list[int]:
    statuses = []
    for address in forwarded_for:
        client = app.test_client()
        token = CSRF_RE.search(client.get("/login").get_data(as_text=True)).group(1)
        statuses.append(client.post("/login", headers={"X-Forwarded-For": address},
                                    data={"phone": f"1970000{len(statuses):04d}", "password": "wrong-password",
                                          "csrf_token": token}).status_code)
    return statuses


@pytest.fixture
def apps(database):
    """Apps on the serving database, their connections closed after the test."""
    made = []

    def build(**overrides):
        made.append(make_app(database, **overrides))
        return made[-1]

    yield build
    for app in made:
        with app.app_context():
            db.engine.dispose()


def test_the_forwarded_for_header_is_ignored_unless_a_proxy_is_trusted(apps):
    limits = {"LOGIN_LIMIT_PER_IP": "3 per minute", "RATELIMIT_STORAGE_URI": "memory://"}
    direct = apps(**limits)
    # a client that makes up a new address each time is still one client
    assert failed_logins(direct, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]) == [400, 400, 400, 429]

    behind_proxy = apps(PROXY_FIX_X_FOR=1, **limits)
    assert failed_logins(behind_proxy, ["10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4"]) == [400] * 4
    assert failed_logins(behind_proxy, ["10.0.2.9"] * 4) == [400, 400, 400, 429]

