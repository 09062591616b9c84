"""Two hosts behind one database: two gunicorn masters (two ports, two workers each) share the
database (SQLite file or PostgreSQL, whichever TEST_DATABASE_URL names) and Redis (db 6, under a
queue name and rate-limit key prefix of this run's own, deleted afterwards).
A session made on A is valid on B; wrong passwords are counted across both; a booking storm split
across both has one winner per slot and no 500.

The monthly reminder run on both at once belongs to the job queue's tests.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis

from app.clock import local_now
from app.extensions import db
from tests.conftest import forget_redis_keys, make_app, one_clock, redis_namespace
from tests.servers import Browser, Gunicorn, migrated_database
from tests.venues.test_storm import PASSWORD, THREADS, check_outcome, clean, populate, requests_for

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/6"
NAMESPACE = redis_namespace("twohosts")
SECRET = "two-hosts-test-secret-" + "0" * 32
MEMBER, MEMBER_PASSWORD = "19700005555", "两台主机-2026"
STORMS = 3


@pytest.fixture(scope="module")
def hosts(tmp_path_factory):
    store = redis.Redis.from_url(REDIS_URL)
    try:
        forget_redis_keys(store, NAMESPACE)
    except redis.ConnectionError:
        pytest.skip("needs Redis on 127.0.0.1:6379")
    url = migrated_database("two_hosts", users={MEMBER: MEMBER_PASSWORD})
    app = make_app(url, SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True})
    ids = populate(app)
    env = {"DATABASE_URL": url, "SECRET_KEY": SECRET, "REDIS_URL": REDIS_URL, "WEB_CONCURRENCY": "2",
           "JOBS_QUEUE_NAME": NAMESPACE, "RATELIMIT_KEY_PREFIX": NAMESPACE}
    a = Gunicorn(env=env, logs=tmp_path_factory.mktemp("host-a"))
    b = Gunicorn(env=env, logs=tmp_path_factory.mktemp("host-b"))
    try:
        a.start()
        b.start()
        yield a, b, app, ids, store
    finally:
        a.stop()
        b.stop()
        forget_redis_keys(store, NAMESPACE)
        with app.app_context():
            db.engine.dispose()
    for host in (a, b):
        assert "Traceback" not in host.stderr(), host.stderr()


def test_a_session_made_on_one_host_is_valid_on_the_other(hosts):
    a, b, *_ = hosts
    browser = Browser()
    assert browser.login(a.url, MEMBER, MEMBER_PASSWORD).status == 302
    on_b = browser.request(b.url + "/account")
    assert on_b.status == 200 and "用户5555" in on_b.body

    token = browser.csrf(b.url + "/account")
    assert browser.request(b.url + "/logout", {"csrf_token": token}).status == 302
    assert browser.request(a.url + "/account").status == 302     # signed out on A too


def test_wrong_passwords_split_across_hosts_are_counted_together(hosts):
    a, b, _app, _ids, store = hosts
    responses = [Browser().login((a, b)[i % 2].url, MEMBER, "wrong-password") for i in range(10)]
    assert [r.status for r in responses] == [400] * 5 + [429] * 5, [r.headers for r in responses]
    assert all("手机号或密码不正确" in r.body for r in responses[:5])      # refused by the password, not the form
    assert list(store.scan_iter(match=f"LIMITS:LIMITER/{NAMESPACE}/*"))     # counted under this run's prefix
    assert Browser().login(b.url, "19700005556", "wrong-password").status == 400   # another account is not locked


@one_clock      # the slots are chosen from this process's today, and booked on the hosts' real one
def test_a_booking_storm_split_across_hosts_has_one_winner_per_slot(hosts):
    a, b, app, ids, _store = hosts
    day = local_now().date() + timedelta(days=7)
    path = f"/venues/{ids['venue']}/book"
    browsers = []
    for i, (_, _, phone) in enumerate(ids["people"]):
        browser = Browser()
        assert browser.login((a, b)[i % 2].url, phone, PASSWORD).status == 302
        browsers.append(browser)
    totals: Counter[str] = Counter()
    for _ in range(STORMS):
        clean(app, ids["venue"])
        tokens = [browser.csrf((a, b)[i % 2].url + path) for i, browser in enumerate(browsers)]
        barrier = threading.Barrier(THREADS)

        def attempt(i, start, end, tokens=tokens, barrier=barrier):
            data = {"csrf_token": tokens[i], "step": "confirm", "date": day.isoformat(),
                    "start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"),
                    "organization": str(ids["people"][i][0]), "activity": "theme_party_day", "title": f"风暴{i}",
                    "attendees": "10", "package": "", "repeat": "none", "interval": "1"}
            host = (b, a)[i % 2]      # each organizer books on the host they did not sign in on
            barrier.wait()
            response = browsers[i].request(host.url + path, data)
            if response.status == 302:
                return "ok"
            if response.status == 409 and ("已被预约" in response.body or "请重新提交" in response.body):
                return "conflict"
            return f"error: HTTP {response.status}"

        with ThreadPoolExecutor(THREADS) as pool:
            outcomes = [f.result() for f in [pool.submit(attempt, i, s, e)
                                             for i, (s, e) in enumerate(requests_for(day))]]
        check_outcome(app, ids["venue"], day, outcomes)
        totals.update(o.split(":")[0] for o in outcomes)
    clean(app, ids["venue"])
    assert totals == {"ok": 5 * STORMS, "conflict": (THREADS - 5) * STORMS}
