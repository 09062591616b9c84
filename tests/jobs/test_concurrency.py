"""What two workers (or two hosts) do at once: a scheduled period runs once, an overlapping run
is skipped, an email goes out once. Real threads on a real database of its own (committed, not
the rolled-back test transaction), on SQLite or PostgreSQL (whichever TEST_DATABASE_URL names)."""

import threading
from datetime import datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from flask_migrate import upgrade
from sqlalchemy import delete, func, select

from app.accounts.models import Role, RoleGrant, User
from app.clock import utcnow
from app.extensions import db
from app.jobs.models import ScheduleLease, ScheduleRun
from app.jobs.schedule import SCHEDULES
from app.jobs.services import run_scheduled
from app.notifications.models import EmailOutbox, Notification, SmsOutbox
from app.notifications.services import send_outbox
from app.notifications.sms_outbox import queue_sms, send_due
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.models import Region
from app.regions.services import load_gazetteer
from tests.conftest import database_url_for, make_app, reset_database
from tests.notifications.test_notifications import Inbox, free_port
from tests.sms_provider import FakeDysms
from tests.venues.conftest import clock  # noqa: F401  (the fixed application clock)

HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def shared_app():
    url = database_url_for("jobs")
    reset_database(url)
    options = {} if url.startswith("sqlite") else {"pool_size": 12, "max_overflow": 4}
    app = make_app(url, SQLALCHEMY_ENGINE_OPTIONS=options)
    with app.app_context():
        upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def in_threads(app, *targets):
    """Run each target in its own thread and application context (its own session and connection)."""
    results: list = [None] * len(targets)
    errors: list = []

    def run(i, target):
        with app.app_context():
            try:
                results[i] = target()
            except BaseException as e:  # surfaced below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_two_runners_of_one_period_make_one_run(shared_app):
    ran = []
    inside = threading.Event()
    release = threading.Event()

    def work():
        ran.append(threading.current_thread().name)
        inside.set()
        release.wait(30)       # held while the other runner tries
        return "once"

    def first():
        return run_scheduled("test.once", "2026-12-06", work, lease=HOUR)

    def second():
        inside.wait(30)
        try:
            return run_scheduled("test.once", "2026-12-06", work, lease=HOUR)
        finally:
            release.set()

    assert sorted(in_threads(shared_app, first, second)) == ["done", "taken"]
    assert len(ran) == 1
    with shared_app.app_context():
        runs = db.session.scalars(select(ScheduleRun).where(ScheduleRun.task == "test.once")).all()
        assert [(r.period, r.state, r.message) for r in runs] == [("2026-12-06", "done", "once")]
        lease = db.session.get(ScheduleLease, "test.once")
        assert lease is not None and lease.holder is None      # released
        db.session.remove()


def test_many_runners_at_once_still_make_one_run(shared_app):
    ran = []
    start = threading.Barrier(6)

    def runner():
        start.wait(30)
        return run_scheduled("test.crowd", "2026-12", lambda: ran.append(1), lease=HOUR)

    outcomes = in_threads(shared_app, *[runner] * 6)
    assert outcomes.count("done") == 1 and outcomes.count("taken") == 5 and ran == [1]


def test_a_run_that_overlaps_the_one_still_going_is_skipped_not_doubled(shared_app):
    ran = []
    inside = threading.Event()
    release = threading.Event()

    def slow():
        ran.append("slow")
        inside.set()
        release.wait(30)

    def first():
        return run_scheduled("test.overlap", "12:00", slow, lease=HOUR)

    def next_minute():
        inside.wait(30)
        try:
            return run_scheduled("test.overlap", "12:01", lambda: ran.append("next"), lease=HOUR)
        finally:
            release.set()

    assert in_threads(shared_app, first, next_minute) == ["done", "skipped"]
    assert ran == ["slow"]
    with shared_app.app_context():
        assert run_scheduled("test.overlap", "12:02", lambda: ran.append("later"), lease=HOUR) == "done"
        states = dict(db.session.execute(select(ScheduleRun.period, ScheduleRun.state).where(
            ScheduleRun.task == "test.overlap")).all())
        assert states == {"12:00": "done", "12:01": "skipped", "12:02": "done"}
        db.session.remove()
    assert ran == ["slow", "later"]


def test_a_lease_left_by_a_dead_run_expires(shared_app):
    with shared_app.app_context():
        db.session.add(ScheduleLease(task="test.dead", holder=424242, expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert run_scheduled("test.dead", "p", lambda: "ok", lease=HOUR) == "done"
        db.session.add(ScheduleLease(task="test.alive", holder=434343, expires_at=utcnow() + HOUR))
        db.session.commit()
        assert run_scheduled("test.alive", "p", lambda: "ok", lease=HOUR) == "skipped"
        db.session.remove()


def test_a_failing_run_is_recorded_and_frees_the_task(shared_app):
    def broken():
        raise RuntimeError("smtp on fire")

    with shared_app.app_context():
        assert run_scheduled("test.fail", "a", broken, lease=HOUR) == "failed"
        run = db.session.scalar(select(ScheduleRun).where(ScheduleRun.task == "test.fail"))
        assert run.state == "failed" and "smtp on fire" in run.message
        assert run_scheduled("test.fail", "b", lambda: "ok", lease=HOUR) == "done"
        db.session.remove()


def test_senders_at_once_send_each_email_once(shared_app):
    inbox = Inbox()
    inbox.port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    shared_app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port)
    try:
        with shared_app.app_context():
            db.session.execute(delete(EmailOutbox))
            db.session.add_all([EmailOutbox(to_address=f"m{i}@example.com", subject=f"第 {i} 封", body="你好")
                                for i in range(40)])
            db.session.commit()
            db.session.remove()
        results = in_threads(shared_app, *[lambda: send_outbox(limit=100)] * 4)
        # …and a retry of the whole job afterwards sends nothing again.
        results += in_threads(shared_app, lambda: send_outbox(limit=100))
    finally:
        controller.stop()
        shared_app.config.update(MAIL_SERVER=None)
    recipients = [r for m in inbox.messages for r in m.rcpt_tos]
    assert sorted(recipients) == sorted(f"m{i}@example.com" for i in range(40))     # each once
    assert sum(sent for sent, _ in results) == 40 and results[-1] == (0, 0)
    with shared_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(EmailOutbox).where(EmailOutbox.sent_at.is_(None))) == 0
        db.session.remove()


def test_the_monthly_reminder_run_on_two_hosts_at_once_reminds_each_organizer_once(shared_app):
    """Two hosts' workers (two apps, two engines) fire the month's venues.remind entry together:
    one run, and every organizer of a branch without a 主题党日 booked gets one reminder."""
    entry = next(s for s in SCHEDULES if s.name == "venues.remind")
    with shared_app.app_context():
        load_gazetteer(prefix="41")
        organizers = []
        for n in range(3):
            region = db.session.get(Region, "410104")
            branch = Organization(name=f"提醒测试支部{n}", kind=OrganizationKind.PARTY_BRANCH, region_code="410104",
                                  address="东大街", lat=region.lat, lon=region.lon,
                                  location_source=LocationSource.GAZETTEER)
            user = User(name=f"书记{n}", phone=f"1390000100{n}", active=True)
            user.grants.append(RoleGrant(role=Role.ORGANIZER, organization=branch))
            db.session.add_all([branch, user])
            organizers.append(user)
        db.session.commit()
        organizer_ids = sorted(u.id for u in organizers)
        db.session.remove()
    other_host = make_app(shared_app.config["SQLALCHEMY_DATABASE_URI"],
                          SQLALCHEMY_ENGINE_OPTIONS=shared_app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    start = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def host(app):
        with app.app_context():
            try:
                period = entry.period()
                start.wait(30)
                results.append(run_scheduled(entry.name, period, entry.work, lease=entry.lease))
            except BaseException as e:   # surfaced below
                errors.append(e)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=host, args=(app,)) for app in (shared_app, other_host)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert sorted(results) == ["done", "taken"]
    with shared_app.app_context():
        told = db.session.scalars(select(Notification.user_id).where(
            Notification.kind.startswith("venues.theme_day_reminder."))).all()
        assert sorted(told) == organizer_ids
        db.session.remove()
    with other_host.app_context():
        db.engine.dispose()


def test_sms_senders_at_once_send_each_text_once_and_keep_the_daily_cap(shared_app, clock):  # noqa: F811
    clock.now = datetime(2026, 9, 1, 10, 0)      # daytime: no quiet hours
    fake = FakeDysms().start()
    saved = {k: shared_app.config[k] for k in fake.config()}
    shared_app.config.update(fake.config())
    try:
        with shared_app.app_context():
            db.session.execute(delete(SmsOutbox))
            for i in range(40):                   # ten numbers, four texts each
                queue_sms(phone=f"1390000{i % 10:04d}", template="notice", params={"name": "甲", "title": f"第{i}条"})
            for i in range(14):                   # one number, over its cap of 10
                queue_sms(phone="13800000000", template="notice", params={"name": "乙", "title": f"第{i}条"})
            db.session.commit()
            db.session.remove()
        results = in_threads(shared_app, *[lambda: send_due(limit=100)] * 4)
        results += in_threads(shared_app, lambda: send_due(limit=100))
    finally:
        shared_app.config.update(saved)
        fake.stop()
    titles = [(d.phone, d.params["title"]) for d in fake.delivered]
    assert len(titles) == len(set(titles)) == 50                        # each text once
    assert len(fake.to("13800000000")) == 10                            # the cap held under four senders
    assert sum(sent for sent, _ in results) == 50 and results[-1] == (0, 0)
    with shared_app.app_context():
        states = dict(db.session.execute(select(SmsOutbox.state, func.count()).group_by(SmsOutbox.state)).all())
        db.session.remove()
    assert states == {"sent": 50, "pending": 4}                         # the four over the cap wait for tomorrow
