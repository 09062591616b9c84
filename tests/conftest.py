"""Fixtures: app (one per session, on a migrated database), db (rolled back after every test),
client, and factories.

The database is SQLite in a temporary folder unless TEST_DATABASE_URL names another (PostgreSQL
in CI). Its schema comes from the migrations, never from create_all(), so every test run also
exercises them.

Under pytest-xdist (`make test-fast`) every worker has databases of its own: SQLite files in its own
temporary folder, and on PostgreSQL databases named after TEST_DATABASE_URL's with the worker's id
(yinhui_ci_gw0, yinhui_ci_gw0_browser, …), created when missing and dropped when the worker ends.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import flask_sqlalchemy.session
import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient
from flask_migrate import upgrade
from hypothesis import HealthCheck, settings
from limits.storage import MemoryStorage

from app import create_app
from app.config import TestConfig, normalise_database_url
from app.extensions import db as _db
from app.extensions import limiter

TMP = Path(tempfile.mkdtemp(prefix="yinhui-tests-"))   # one per process: each xdist worker has its own
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")      # "gw0", "gw1", … under pytest-xdist, else ""
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

# Property tests check what is computed, never how fast: no per-example deadline (200 ms by default,
# which a busy machine exceeds), and slow data generation is no failure either.
settings.register_profile("yinhui", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("yinhui")

# YINHUI_TEST_NOW=2026-12-31T23:58+08:00 runs the suite as if it started at that moment (the clock
# then ticks on), so that a test which holds only on some days or at some hours fails on demand,
# not on the day CI happens to meet it. It moves this process's wall clock (every time.time and
# datetime.now; never the monotonic clock timeouts use). Servers the tests start in other
# processes, and the databases' own clocks, stay on the real time: the application reads no time
# from the database.
TRAVEL = os.environ.get("YINHUI_TEST_NOW")
if TRAVEL:
    time_machine.travel(datetime.fromisoformat(TRAVEL), tick=True).start()
# For a test whose other process and this one write times into the same rows (a job worker and
# the test that drives it): with YINHUI_TEST_NOW the two clocks would be weeks apart.
one_clock = pytest.mark.skipif(bool(TRAVEL), reason="another process of this test keeps the real time")


def database_url_for(name: str = "main") -> str:
    """A database for this test session (and xdist worker): SQLite files by default, PostgreSQL
    when configured."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{TMP / (name + '.db')}"
    url = sa.engine.make_url(normalise_database_url(base))
    parts = [url.database] + ([WORKER] if WORKER else []) + ([name] if name != "main" else [])
    return url.set(database="_".join(parts)).render_as_string(hide_password=False)


def redis_namespace(name: str) -> str:
    """A name for this run's keys on the shared Redis (a queue name, a rate-limit key prefix), so
    that two checkouts testing on one machine at once neither read nor flush each other's keys.
    Letters and digits only: Huey drops anything else from a queue's name."""
    return f"yinhuitest{name}{os.getpid()}"


def forget_redis_keys(store, namespace: str) -> None:
    """Delete this run's keys (and only them) from the shared Redis."""
    for key in store.scan_iter(match=f"*{namespace}*", count=1000):
        store.delete(key)


_derived_databases: set[str] = set()


def reset_database(url: str) -> None:
    """Start from nothing: drop a PostgreSQL database's public schema, or delete the SQLite file."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
        return
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database})
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    if url != database_url_for("main") or WORKER:
        _derived_databases.add(url)
    engine = sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def drop_derived_databases() -> None:
    """Drop the PostgreSQL databases this process derived from TEST_DATABASE_URL (the one it names
    is left alone)."""
    for url in sorted(_derived_databases):
        parsed = sa.engine.make_url(url)
        admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        admin.dispose()
    _derived_databases.clear()


def pytest_sessionfinish(session, exitstatus):
    drop_derived_databases()
    shutil.rmtree(TMP, ignore_errors=True)


def record(report: str, entries: dict, folder: Path = ARTIFACTS) -> None:
    """Merge `entries` into test-artifacts/<report>.json. Safe with xdist workers writing at once:
    an exclusive lock serialises the read-merge-write, and the file is replaced whole, never seen
    half written."""
    folder.mkdir(exist_ok=True)
    path = folder / f"{report}.json"
    with open(folder / f".{report}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = json.loads(path.read_text()) if path.exists() else {}
        temporary = path.with_name(f".{report}.{os.getpid()}.json")
        temporary.write_text(json.dumps({**existing, **entries}, ensure_ascii=False, indent=1))
        os.replace(temporary, path)


# SQLite's busy timeout bounds how long a writer queues for the write lock. The concurrency tests
# queue dozens of writers on a busy machine; they check who wins, not how fast, so they may wait long.
LOCK_WAIT_MS = 120_000


def make_app(database_url: str, **overrides):
    return create_app({**{k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()},
                       "SQLALCHEMY_DATABASE_URI": database_url, "SQLITE_BUSY_TIMEOUT_MS": LOCK_WAIT_MS,
                       "EXPORT_DIR": str(TMP / "exports"), "IMPORT_DIR": str(TMP / "imports"),
                       **overrides})


class IsolatedClient(FlaskClient):
    """Each request in its own application context, as in production: a fresh `g` and its own
    database session (bound to the test's connection), even while the test holds a context."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


@pytest.fixture(scope="session")
def app():
    url = database_url_for()
    reset_database(url)
    app = make_app(url, RATELIMIT_STORAGE_URI="memory://")
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()
        from app.regions.services import load_gazetteer

        load_gazetteer(prefix="41")
        load_gazetteer(prefix="11")  # a second province, for out-of-region tests
        _db.session.commit()
        _db.session.remove()
    yield app
    with app.app_context():
        _db.engine.dispose()


class BoundSession(flask_sqlalchemy.session.Session):
    """Flask-SQLAlchemy's session picks the engine itself; this one uses the test's connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind if self.bind is not None else super().get_bind(*args, **kwargs)


@pytest.fixture
def db(app):
    """The database session, inside a transaction rolled back after the test.

    Services and views may commit: with join_transaction_mode="create_savepoint" a commit only
    releases a savepoint of the outer transaction, which is rolled back at the end.
    """
    with app.app_context():
        connection = _db.engine.connect()
        transaction = connection.begin()
        original = _db.session
        _db.session = _db._make_scoped_session(
            {"bind": connection, "join_transaction_mode": "create_savepoint", "class_": BoundSession})
        try:
            yield _db
        finally:
            _db.session.remove()
            _db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture
def extra_app():
    """Build another app (other settings, same database); its connections close after the test."""
    made = []

    def build(**overrides):
        other = make_app(database_url_for(), **overrides)
        made.append(other)
        return other

    yield build
    for other in made:
        with other.app_context():
            for engine in _db.engines.values():
                engine.dispose()


def reset_rate_limits(app) -> None:
    """Put the module-level limiter back on `app`'s own storage, switched as `app` says, with empty
    counters.

    Flask-Limiter keeps its storage and its `enabled` switch on its one instance, and every app
    built takes it over: after a test that built a production app on Redis (test_production's,
    test_queue's), the limiter counted in that Redis, and emptying it there deleted every rate-limit
    key in the database, the two-hosts test's counts included while it ran on the other worker
    (its wrong passwords were then never refused). So counters are emptied only in memory; keys
    on a shared Redis belong to the test that made them, under its own prefix."""
    limiter.init_app(app)       # registers nothing twice: Flask-Limiter checks app.extensions
    limiter.enabled = app.config["RATELIMIT_ENABLED"]
    if isinstance(limiter.storage, MemoryStorage):
        limiter.reset()


@pytest.fixture(autouse=True)
def _reset_rate_limits(app):
    """Every test starts with empty counters and the limiter on the test app's storage (above)."""
    reset_rate_limits(app)
    yield


@pytest.fixture
def client(app, db):
    return app.test_client()


# --- factories ---------------------------------------------------------------------------------

_counter = itertools.count(1)
PASSWORD = "correct-horse-电池"


def next_phone() -> str:
    return f"198{next(_counter):08d}"


@pytest.fixture
def create_user(db):
    from app.accounts.models import Role, RoleGrant, User
    from app.accounts.passwords import hash_password

    def create(*, name: str = "测试用户", phone: str | None = None, password: str = PASSWORD,
               roles: list | tuple = (("member", None),), active: bool = True) -> User:
        user = User(name=name, phone=phone or next_phone(), active=active,
                    password_hash=hash_password(password) if password else None)
        for role, scope in roles:
            role = Role(role)
            grant = RoleGrant(role=role)
            if role is Role.ADMIN:
                grant.region_code = scope
            elif role is Role.ORGANIZER:
                grant.organization_id = scope.id if hasattr(scope, "id") else scope
            elif role is Role.VENUE_MANAGER:
                grant.venue_id = scope
            user.grants.append(grant)
        db.session.add(user)
        db.session.commit()  # released savepoint: still rolled back after the test
        return user

    return create


@pytest.fixture
def create_admin(create_user):
    def create(region_code: str = "410000", **kw):
        return create_user(roles=[("admin", region_code)], name=kw.pop("name", f"管理员{region_code}"), **kw)

    return create


@pytest.fixture
def create_org(db):
    from app.organizations.models import LocationSource, Organization, OrganizationKind
    from app.regions.models import Region

    def create(*, name: str | None = None, county: str = "410104",
               kind: OrganizationKind = OrganizationKind.COMMUNITY, address: str = "东大街") -> Organization:
        region = db.session.get(Region, county)
        org = Organization(name=name or f"测试社区{next(_counter)}", kind=kind, region_code=county,
                           address=address, lat=region.lat, lon=region.lon,
                           location_source=LocationSource.GAZETTEER)
        db.session.add(org)
        db.session.commit()
        return org

    return create


@pytest.fixture
def skill_ids(db):
    """Skill name → id, from the taxonomy the migration loads."""
    from app.members.models import Skill

    return dict(db.session.execute(sa.select(Skill.name, Skill.id)).all())


@pytest.fixture
def create_member(db, create_user, skill_ids):
    """A registered member: create_member(county="410104", skills={"法律咨询": 3}, consent=True, ...)."""
    from app.members.models import Capacity
    from app.members.services import ProfileData, SkillInput, register_member

    def create(*, name: str = "测试老同志", county: str = "410104", address: str | None = None,
               skills: dict[str, int] | None = None, consent: bool = True, capacity: Capacity | None = None,
               availability_mask: int = (1 << 21) - 1, radius_km: int = 10, branch=None, phone: str | None = None,
               **fields):
        user = create_user(name=name, phone=phone)
        data = ProfileData(name=name, county_code=county, address=address or "", consent=consent,
                           capacity=(capacity or Capacity.MODERATE) if consent else None,
                           availability_mask=availability_mask, radius_km=radius_km,
                           branch_id=branch.id if branch is not None else None,
                           skills=[SkillInput(skill_ids[s], level) for s, level in (skills or {}).items()],
                           **fields)
        member = register_member(actor=user, data=data)
        db.session.commit()
        return member

    return create


@pytest.fixture
def create_task(db, create_org, create_user, skill_ids):
    """An open task: create_task(skills={"法律咨询": 2}, preferred={"课业辅导": 1}, when=datetime, hours=2, ...)."""
    from datetime import timedelta

    from app.clock import local_now
    from app.members.models import Capacity
    from app.tasks import services
    from app.tasks.models import ScheduleKind, TaskCategory, TaskMode

    def create(*, org=None, title: str = "社区法律咨询", skills: dict[str, int] | None = None,
               when: datetime | None = None, hours: float = 2, headcount: int = 2, remote: bool = False,
               demand: Capacity = Capacity.LIGHT, outdoor: bool = False, radius_km: int = 10,
               weekly_until=None, weekdays: int = 0, publish: bool = True, organizer=None,
               preferred: dict[str, int] | None = None):
        org = org or create_org()
        organizer = organizer or create_user(name="书记", roles=[("organizer", org)])
        task = services.create_task(actor=organizer, organization=org, title=title, description="",
                                    category=TaskCategory.GOVERNANCE)
        if remote:
            services.set_place(actor=organizer, task=task, mode=TaskMode.REMOTE)
        elif radius_km != 10:
            services.set_place(actor=organizer, task=task, mode=TaskMode.ONSITE, radius_km=radius_km)
        start = when or (local_now() + timedelta(days=7)).replace(hour=9, minute=0, second=0)
        end = start + timedelta(hours=hours)
        services.set_schedule(actor=organizer, task=task,
                              kind=ScheduleKind.WEEKLY if weekly_until else ScheduleKind.ONCE,
                              first_date=start.date(), last_date=weekly_until, weekdays=weekdays,
                              start_time=start.time(), end_time=end.time())
        services.set_needs(actor=organizer, task=task, headcount=headcount, demand=demand, outdoor=outdoor)
        for name, level in (skills if skills is not None else {"法律咨询": 2}).items():
            services.add_skill(actor=organizer, task=task, skill_id=skill_ids[name], min_level=level, required=True)
        for name, level in (preferred or {}).items():
            services.add_skill(actor=organizer, task=task, skill_id=skill_ids[name], min_level=level, required=False)
        if publish:
            services.publish(actor=organizer, task=task)
        db.session.commit()
        task.organizer = organizer
        return task

    return create


CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def csrf_token(client, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


@contextmanager
def statements_run(db) -> Iterator[list[str]]:
    """The statements sent to the database inside the block, in order."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)


def statements_of(db, client, path: str) -> tuple[int, str]:
    """How many statements a GET of `path` runs, and its body. Asked twice, counted the second
    time: the first also refreshes what the test's commits expired in the session the tests share
    with the app."""
    client.get(path)
    with statements_run(db) as statements:
        body = client.get(path).get_data(as_text=True)
    return len(statements), body


@pytest.fixture
def login(client):
    def do(user, password: str = PASSWORD):
        token = csrf_token(client)
        response = client.post("/login", data={"phone": user.phone, "password": password,
                                               "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]
        return response

    return do


@pytest.fixture
def post(client):
    """POST a form with a fresh CSRF token taken from the page it lives on."""
    def do(path: str, data: dict | None = None, *, token_from: str | None = None, **kw):
        token = csrf_token(client, token_from or path)
        return client.post(path, data={**(data or {}), "csrf_token": token}, **kw)

    return do


def export(client, path: str) -> str:
    """Ask for a pool export as the search page's button does (POST `path`, e.g.
    "/pool/export.csv?full=1"); the test queue runs the job at once. The file's text, or the
    page's when there is no file."""
    response = client.post(path, data={"csrf_token": csrf_token(client, "/pool/")})
    target = response.headers.get("Location", "")
    if response.status_code != 302 or "/pool/exports/" not in target:
        return response.get_data(as_text=True)
    job_page = client.get(target)
    assert "下载文件" in job_page.get_data(as_text=True), job_page.get_data(as_text=True)
    download = client.get(target + "/file")
    assert download.status_code == 200
    body = download.get_data()
    download.close()
    return body.decode("utf-8-sig") if path.split("?")[0].endswith(".csv") else body.hex()
