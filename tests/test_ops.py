"""Watching it run: request ids, JSON log lines, readiness, metrics and the slow-query log."""

import io
import json
import logging
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade
from prometheus_client import REGISTRY

from app.clock import utcnow
from app.extensions import db as _db
from app.notifications.models import EmailOutbox
from app.ops.logs import JsonFormatter
from app.ops.queues import KEY, Queue, QueueState, outbox_state
from tests.conftest import TMP, csrf_token, database_url_for, make_app, reset_database

ID = re.compile(r"^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$")
PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


@pytest.fixture
def log_lines():
    """Every log record of the test, formatted as the production handler formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)

    def lines() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines
    root.removeHandler(handler)


def requests_logged(lines):
    return [line for line in lines() if line["logger"] == "yinhui.request"]


# --- request ids and the log line --------------------------------------------------------------

def test_every_response_carries_a_new_readable_request_id(client):
    first, second = (client.get("/").headers["X-Request-ID"] for _ in range(2))
    assert ID.match(first) and ID.match(second) and first != second


def test_a_proxys_request_id_is_used_only_behind_a_trusted_proxy(app, client, extra_app):
    assert client.get("/", headers={"X-Request-ID": "lb-1234"}).headers["X-Request-ID"] != "lb-1234"
    proxied = extra_app(PROXY_FIX_X_FOR=1).test_client()
    assert proxied.get("/healthz", headers={"X-Request-ID": "lb-1234"}).headers["X-Request-ID"] == "lb-1234"
    refused = proxied.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"}).headers["X-Request-ID"]
    assert ID.match(refused)


def test_an_error_page_shows_the_request_id_for_the_hotline(client, log_lines):
    response = client.get("/no-such-page")
    rid = response.headers["X-Request-ID"]
    assert response.status_code == 404
    assert f"问题编号 <span class=\"request-id\">{rid}</span>" in response.get_data(as_text=True)
    [line] = requests_logged(log_lines)
    assert line["request_id"] == rid and line["endpoint"] == "unmatched" and line["status"] == 404
    api = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert api.get_json()["error"]["request_id"] == api.headers["X-Request-ID"] != rid


def test_a_server_error_is_found_in_the_log_by_the_id_on_its_page(extra_app, log_lines):
    other = extra_app(TESTING=False)

    def boom():
        raise RuntimeError("something broke")

    other.add_url_rule("/boom", view_func=boom)
    response = other.test_client().get("/boom")
    rid = response.headers["X-Request-ID"]
    assert response.status_code == 500 and f"问题编号 <span class=\"request-id\">{rid}</span>" in response.get_data(as_text=True)
    error = next(line for line in log_lines() if line["level"] == "ERROR")
    assert error["request_id"] == rid and "RuntimeError: something broke" in error["exception"]
    assert requests_logged(log_lines)[-1] | {"time": None, "duration_ms": None} == {
        "time": None, "level": "INFO", "logger": "yinhui.request", "request_id": rid, "message": "request",
        "method": "GET", "endpoint": "boom", "status": 500, "duration_ms": None, "user_id": None}


def test_one_json_line_per_request_with_the_user_and_no_query(client, login, create_user, log_lines):
    user = create_user()
    login(user)
    response = client.get("/account?phone=13900001111&name=张三")
    [*_, line] = requests_logged(log_lines)
    assert line["request_id"] == response.headers["X-Request-ID"]
    assert {k: line[k] for k in ("method", "endpoint", "status", "user_id")} == {
        "method": "GET", "endpoint": "accounts.account", "status": 200, "user_id": user.id}
    assert isinstance(line["duration_ms"], float) and line["time"].endswith("+00:00")
    assert "13900001111" not in json.dumps(line, ensure_ascii=False) and "张三" not in json.dumps(line)
    anonymous = client.application.test_client().get("/")
    assert requests_logged(log_lines)[-1]["user_id"] is None and anonymous.status_code == 200


def test_no_log_line_contains_a_phone_number(app, client, db, post, login, create_user, create_member, log_lines):
    app.config["SLOW_QUERY_MS"] = 0          # every statement logged as slow: its values must stay out too
    try:
        registered = post("/register", {"name": "张建国", "phone": "13912345678", "password": "老伴李秀英1958年",
                                        "password_confirm": "老伴李秀英1958年", "agree": "y"})
        assert registered.status_code == 302
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
        failed = client.post("/login", data={"phone": "13912345678", "password": "wrong-password",
                                             "csrf_token": csrf_token(client)})
        assert failed.status_code == 400
        unknown = client.post("/login", data={"phone": "13700000000", "password": "wrong-password",
                                              "csrf_token": csrf_token(client)})
        assert unknown.status_code == 400
        member = create_member(name="李秀兰", phone="13698765432", skills={"法律咨询": 3})
        login(member.user)
        for path in ("/", "/profile", "/account", "/profile/data.json", "/my/tasks?phone=13698765432"):
            client.get(path)
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
        taken = post("/register", {"name": "王五", "phone": "13698765432", "password": "老伴李秀英1958年",
                                   "password_confirm": "老伴李秀英1958年", "agree": "y"})
        assert taken.status_code == 409
    finally:
        app.config["SLOW_QUERY_MS"] = 200
    lines = log_lines()
    assert sum(line["logger"] == "yinhui.slow_query" for line in lines) > 20
    assert len(requests_logged(log_lines)) > 10
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert PHONE.findall(text) == []
    for name in ("张建国", "李秀兰"):
        assert name not in text


def test_a_slow_query_is_logged_by_name_and_caller_without_values(app, client, login, create_user, log_lines):
    user = create_user()
    app.config["SLOW_QUERY_MS"] = 0
    try:
        login(user)
    finally:
        app.config["SLOW_QUERY_MS"] = 200
    slow = [line for line in log_lines() if line["logger"] == "yinhui.slow_query"]
    by_name = {line["statement"]: line for line in slow}
    assert "SELECT users" in by_name
    assert by_name["SELECT users"]["caller"].startswith("app/")
    assert re.fullmatch(r"[0-9a-f]{8}", by_name["SELECT users"]["fingerprint"])
    assert all(line["request_id"] for line in slow if line["caller"] and "views" in line["caller"])
    assert user.phone not in json.dumps(slow)
    # At the default threshold nothing here is slow.
    before = len(log_lines())
    client.get("/account")
    assert not [line for line in log_lines()[before:] if line["logger"] == "yinhui.slow_query"]


# --- health and readiness -----------------------------------------------------------------------

def test_readiness_fails_and_recovers_for_a_missing_database_and_migrations_behind():
    url = database_url_for("readyz")
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        folder = TMP / "readyz-absent"
        url = f"sqlite:///{folder / 'readyz.db'}"
    else:
        admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}"'))
    app = make_app(url)
    client = app.test_client()
    with app.app_context():
        assert client.get("/healthz").status_code == 200          # alive, whatever the database
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.get_json()["checks"]["database"].startswith("unreachable")

        if parsed.get_backend_name() == "sqlite":
            folder.mkdir()
        else:
            reset_database(url)
        empty = client.get("/readyz")
        assert empty.status_code == 503
        assert empty.get_json()["checks"] == {
            "database": "ok", "migrations": empty.get_json()["checks"]["migrations"], "redis": "not configured"}
        assert empty.get_json()["checks"]["migrations"].startswith("not at head: at none")

        upgrade()
        assert client.get("/readyz").status_code == 200
        downgrade(revision="-1")
        behind = client.get("/readyz")
        assert behind.status_code == 503 and "not at head" in behind.get_json()["checks"]["migrations"]
        upgrade()
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.get_json() == {
            "status": "ok", "checks": {"database": "ok", "migrations": "ok", "redis": "not configured"}}
        _db.engine.dispose()
    if parsed.get_backend_name() != "sqlite":
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{parsed.database}"'))
        admin.dispose()


def test_readiness_checks_redis_when_configured(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:6379/15")
    assert client.get("/readyz").get_json()["checks"]["redis"] == "ok"
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["redis"].startswith("unreachable")


def test_a_stuck_queue_fails_readiness_until_it_moves(app, client, db, monkeypatch):
    monkeypatch.setitem(app.extensions, KEY, {"outbox": Queue("outbox", outbox_state, watched=True)})
    assert client.get("/readyz").status_code == 200
    email = EmailOutbox(to_address="a@example.org", subject="s", body="b",
                        next_attempt_at=utcnow() - timedelta(hours=1))
    db.session.add(email)
    db.session.flush()
    stuck = client.get("/readyz")
    assert stuck.status_code == 503
    assert stuck.get_json()["checks"]["queue:outbox"].startswith("stuck: 1 waiting, the oldest due for 36")
    email.next_attempt_at = utcnow() + timedelta(minutes=5)     # retried later: waiting, not stuck
    db.session.flush()
    assert client.get("/readyz").status_code == 200
    email.next_attempt_at, email.sent_at = utcnow() - timedelta(hours=1), utcnow()
    db.session.flush()
    assert client.get("/readyz").status_code == 200


def test_any_queue_plugs_in_through_its_probe(app, client, monkeypatch):
    state = QueueState(3, 10.0)
    monkeypatch.setitem(app.extensions, KEY, {"jobs": Queue("jobs", lambda: state, watched=True),
                                              "idle": Queue("idle", lambda: QueueState(9, 1e9), watched=False)})
    assert client.get("/readyz").status_code == 200
    state = QueueState(3, app.config["QUEUE_STUCK_SECONDS"] + 1.0)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.get_json()["checks"]["queue:jobs"].startswith("stuck: 3 waiting")
    assert "queue:idle" not in response.get_json()["checks"]
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'yinhui_queue_depth{queue="jobs"} 3.0' in metrics and 'yinhui_queue_depth{queue="idle"} 9.0' in metrics


# --- metrics ------------------------------------------------------------------------------------

def sample(name, labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_count_requests_and_failed_logins_and_read_the_outbox(client, create_user):
    user = create_user()
    before = sample("yinhui_failed_logins_total", {"reason": "password"})
    served = sample("yinhui_http_requests_total", {"endpoint": "accounts.login", "method": "POST", "status": "400"})
    client.post("/login", data={"phone": user.phone, "password": "wrong", "csrf_token": csrf_token(client)})
    assert sample("yinhui_failed_logins_total", {"reason": "password"}) == before + 1
    assert sample("yinhui_http_requests_total",
                  {"endpoint": "accounts.login", "method": "POST", "status": "400"}) == served + 1
    text = client.get("/metrics").get_data(as_text=True)
    assert 'yinhui_http_request_duration_seconds_bucket{endpoint="accounts.login",le="0.05"}' in text
    assert 'yinhui_queue_depth{queue="outbox"}' in text
    assert 'yinhui_queue_oldest_age_seconds{queue="outbox"}' in text


def test_metrics_are_not_served_outside_the_allowed_networks(app, client, monkeypatch):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 404
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "10.0.0.0/8, 203.0.113.0/24")
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.7"}).status_code == 200
    assert client.get("/metrics").status_code == 404
    monkeypatch.setitem(app.config, "METRICS_ALLOW", "")
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 404


WORKER = """
import sys
from app.ops import gunicorn_hooks
if sys.argv[2] == "first":      # the master, before forking: empties the directory
    gunicorn_hooks.prepare_multiprocess(sys.argv[1])
from tests.conftest import make_app
app = make_app(sys.argv[3])
client = app.test_client()
for _ in range(int(sys.argv[4])):
    assert client.get("/healthz").status_code == 200
print(client.get("/metrics").get_data(as_text=True))
"""


def test_metrics_add_up_across_worker_processes(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    (directory / "counter_999.db").write_bytes(b"stale")       # from an earlier run: removed
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "LOG_FORMAT": "none"}
    root = Path(__file__).resolve().parent.parent

    def run(role: str, count: int) -> str:
        done = subprocess.run([sys.executable, "-c", WORKER, str(directory), role, database_url_for(), str(count)],
                              env=env, cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    run("first", 2)
    text = run("second", 3)
    # The second process's scrape sums both: 2 + 3 health checks and the first scrape.
    assert 'yinhui_http_requests_total{endpoint="health.healthz",method="GET",status="200"} 5.0' in text
    assert 'yinhui_http_requests_total{endpoint="metrics.metrics",method="GET",status="200"} 1.0' in text
    assert not (directory / "counter_999.db").exists()


SETTLING = """
import gc, sys
from types import SimpleNamespace
from app.ops import gunicorn_hooks
from tests.conftest import make_app
make_app(sys.argv[1])
assert gc.get_freeze_count() == 0
worker = SimpleNamespace(nr=0)
gunicorn_hooks.post_worker_init(worker)
frozen = [gc.get_freeze_count()]
kept = []
for nr in (1, 999, 1_000, 1_001, 9_999, 10_003, 10_004, 100_000, 150_000):
    kept.append([[] for _ in range(10)])      # what serving a request leaves alive
    worker.nr = nr
    gunicorn_hooks.post_request(worker, None, {}, None)
    frozen.append(gc.get_freeze_count())
print(frozen)
"""


def test_a_worker_settles_its_long_lived_objects_after_loading_the_app_and_now_and_then(tmp_path):
    """gunicorn's hooks freeze what the application made when it loaded, and again after 1,000,
    10,000 and 100,000 requests (a skipped number counts: threads share the counter), each once."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", SETTLING, database_url_for()], cwd=root, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "LOG_FORMAT": "none"})
    assert done.returncode == 0, done.stderr[-2000:]
    frozen = json.loads(done.stdout.strip().splitlines()[-1])
    assert frozen[0] > 10_000                       # the application, once loaded
    grew = [later > earlier for earlier, later in zip(frozen, frozen[1:], strict=False)]
    # after request: 1, 999, 1,000, 1,001, 9,999, 10,003 (10,000 skipped), 10,004, 100,000, 150,000
    assert grew == [False, False, True, False, False, True, False, True, False]
