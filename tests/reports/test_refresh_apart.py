"""The scheduled refresh on a database of its own (committed rows, as the worker sees them): it
counts what is committed, and while it counts, members keep registering: the counting holds no
write lock (on SQLite it writes only its connection's temporary table)."""

import threading
import time

import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, func, select

import app.reports.summary as summary
from app.accounts.models import Role, RoleGrant, User
from app.extensions import db
from app.jobs.schedule import SCHEDULES, refresh_dashboards
from app.members.models import MemberProfile
from app.members.services import ProfileData, register_member
from app.regions.models import Region
from app.regions.services import load_gazetteer
from app.reports.figures import Unit, load
from app.reports.models import FigureRefresh, RegionFigure
from tests.conftest import database_url_for, make_app, reset_database


@pytest.fixture(scope="module")
def shared_app():
    url = database_url_for("reports")
    reset_database(url)
    app = make_app(url, SQLITE_BUSY_TIMEOUT_MS=5_000)
    with app.app_context():
        upgrade()
        load_gazetteer(prefix="41")
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


def register(phone: str, county: str = "410104") -> None:
    user = User(name="刷新测试", phone=phone, active=True, grants=[RoleGrant(role=Role.MEMBER)])
    db.session.add(user)
    db.session.flush()
    register_member(actor=user, data=ProfileData(name="刷新测试", county_code=county, availability_mask=1))
    db.session.commit()


def test_the_schedule_runs_it_every_hour():
    entry = next(s for s in SCHEDULES if s.name == "reports.refresh")
    assert entry.when == {"minute": "10"} and entry.work is refresh_dashboards


def test_members_register_while_the_refresh_counts(shared_app, monkeypatch):
    with shared_app.app_context():
        for n in range(3):
            register(f"1380000100{n}")
        db.session.remove()
    staged, written = threading.Event(), threading.Event()
    original = summary._stage

    def stage_then_wait(conn, period):
        original(conn, period)
        staged.set()                       # counted; its read transaction is still open
        assert written.wait(30), "a member could not register while the refresh was counting"

    monkeypatch.setattr(summary, "_stage", stage_then_wait)
    outcome: dict = {}

    def refresher():
        with shared_app.app_context():
            try:
                outcome["said"] = refresh_dashboards()
            except BaseException as e:     # surfaced below
                outcome["error"] = e
            finally:
                db.session.remove()

    thread = threading.Thread(target=refresher)
    thread.start()
    assert staged.wait(30)
    with shared_app.app_context():
        started = time.perf_counter()
        register("13800001009")
        outcome["write_seconds"] = time.perf_counter() - started
        db.session.remove()
    written.set()
    thread.join(60)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["write_seconds"] < 4          # not held up until the busy timeout (5 s)
    with shared_app.app_context():
        board = load(Unit(region=db.session.get(Region, "410104")))
        assert board.totals.get("members") == 3  # counted before the fourth registered
        assert board.refreshed is not None and "dashboard figures counted" in outcome["said"]
        assert db.session.scalar(select(func.count()).select_from(MemberProfile)) == 4
        monkeypatch.setattr(summary, "_stage", original)
        refresh_dashboards()
        db.session.rollback()           # a fresh read transaction sees the new figures
        assert load(Unit(region=db.session.get(Region, "410104"))).totals.get("members") == 4
        assert db.session.scalar(select(func.count()).select_from(FigureRefresh)) == 2
        db.session.execute(delete(RegionFigure))
        db.session.commit()
        db.session.remove()
