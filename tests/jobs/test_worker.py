"""The real worker process, killed with SIGKILL halfway through a 10,000-row roster import and
started again: the job ends done or failed within five minutes, the roster is imported whole or
not at all ("all or nothing" mode, 10,000 good rows: 10,000 members or none), and no phone number
is held twice. On SQLite (SqliteHuey in a temporary folder) and PostgreSQL (Redis db 5, when Redis
answers), whichever TEST_DATABASE_URL names.

The worker is started exactly as deployed: `python -m huey.bin.huey_consumer app.jobs.worker.queue
-w 2 -k thread`, configured from the environment; the sweeper's staleness is 10 s here (120 s by
default) so that the test waits for the next minute's sweep rather than two."""

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from flask_migrate import upgrade
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from app.accounts.models import Role, RoleGrant, User
from app.extensions import db
from app.jobs.models import Job
from app.members import importer
from app.members.models import ImportJob, MemberProfile
from app.regions.services import load_gazetteer
from app.transactions import commit_fresh
from tests.conftest import database_url_for, forget_redis_keys, make_app, one_clock, redis_namespace, reset_database
from tests.members.test_import import name_for, row, workbook

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "test-artifacts" / "jobs-worker.json"
ROWS = 10_000
REDIS_DB = "redis://127.0.0.1:6379/5"
QUEUE = redis_namespace("worker")   # this run's queue: another checkout's run may share the Redis
DEADLINE = 300      # seconds from the kill to the job's end
KILL_POINTS = {"checking": "136", "writing": "135"}    # where to kill → the roster's phone prefix (one database)


def roster(prefix: str) -> bytes:
    counties = ["郑州市管城回族区", "郑州市金水区", "郑州市中原区", "郑州市二七区", "郑州市惠济区"]
    return workbook([row(姓名=name_for(n), 手机号码=f"{prefix}{n:08d}", 家庭住址=f"{counties[n % 5]}某路{n}号",
                         专长1="法律咨询", 程度1="熟练", 同意保存敏感信息="是", 同意方式="口头同意", 身体状况="轻度")
                     for n in range(1, ROWS + 1)])


@pytest.fixture(scope="module")
def setting():
    """A committed database and a queue of their own, and the worker's environment."""
    url = database_url_for("worker")
    reset_database(url)
    folder = Path(tempfile.mkdtemp(prefix="yinhui-worker-"))
    staged = str(folder / "imports")      # the worker's and the test's staging folder, this run's own
    queue = {"JOBS_SQLITE_PATH": str(folder / "queue.db")}
    if not url.startswith("sqlite"):
        try:
            forget_redis_keys(redis.Redis.from_url(REDIS_DB), QUEUE)
            queue = {"JOBS_REDIS_URL": REDIS_DB}
        except redis.ConnectionError:   # no Redis here: the PostgreSQL pass keeps SqliteHuey
            pass
    app = make_app(url, JOBS_IMMEDIATE=False, JOBS_QUEUE_NAME=QUEUE, REDIS_URL=None, IMPORT_DIR=staged, **queue)
    with app.app_context():
        upgrade()
        load_gazetteer(prefix="41")
        db.session.commit()
        db.session.remove()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "JOBS_REDIS_URL", "TEST_DATABASE_URL")}
    env.update(YINHUI_ENV="development", DATABASE_URL=url, SECRET_KEY="worker-test-secret-key-0123456789abcdef",
               JOBS_STALE_SECONDS="10", JOBS_HEARTBEAT_SECONDS="1", JOBS_QUEUE_NAME=QUEUE, IMPORT_DIR=staged,
               PYTHONPATH=str(ROOT), **queue)
    yield app, env, folder
    with app.app_context():
        db.engine.dispose()
    if "JOBS_REDIS_URL" in queue:
        forget_redis_keys(redis.Redis.from_url(REDIS_DB), QUEUE)


def start_worker(env, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", "app.jobs.worker.queue",
                                 "-w", "2", "-k", "thread"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for(check, timeout: float, step: float = 0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


@one_clock
@pytest.mark.slow
@pytest.mark.parametrize("kill_when", KILL_POINTS)
def test_a_worker_killed_halfway_leaves_a_whole_roster_or_none(setting, kill_when):
    app, env, folder = setting
    log = folder / f"worker-{kill_when}.log"
    with app.app_context():
        admin = User(name="导入管理员", phone=f"199{len(kill_when):08d}", active=True,
                     grants=[RoleGrant(role=Role.ADMIN, region_code="410100")])
        db.session.add(admin)
        db.session.commit()
        members_before = db.session.scalar(select(func.count()).select_from(MemberProfile))
        imp = importer.upload(actor=admin, upload=FileStorage(stream=io.BytesIO(roster(KILL_POINTS[kill_when])),
                                                              filename="名册.xlsx"), mode="all")
        db.session.commit()           # …and the job goes to the queue
        import_id = imp.id
        admin_id = admin.id
        db.session.remove()

    def last_job() -> int:
        with app.app_context():
            try:
                return db.session.scalar(select(Job.id).where(Job.kind == "import").order_by(Job.id.desc()))
            finally:
                db.session.remove()

    def state(job_id: int):
        with app.app_context():
            try:
                return db.session.execute(select(ImportJob.status, ImportJob.processed_rows, Job.state, Job.attempts)
                                          .join(Job, Job.id == job_id).where(ImportJob.id == import_id)).one()
            finally:
                db.session.remove()

    def answer(step) -> int:
        """The admin's part, as the mapping page or the preview's button does it; the next step's job."""
        with app.app_context():    # a writing transaction from its start, as a POST's (SQLite: BEGIN IMMEDIATE)
            commit_fresh(lambda: step(db.session.get_one(ImportJob, import_id), db.session.get_one(User, admin_id)))
            db.session.remove()
        return last_job()

    def columns_as_proposed(imp, actor):
        importer.choose_columns(actor=actor, job=imp, sheet=imp.sheet, chosen=importer.mapping_of(imp)["columns"])

    def confirm(imp, actor):
        importer.confirm(actor=actor, job=imp)

    worker = start_worker(env, log)
    try:
        wait_for(lambda: state(last_job())[0] == "mapping", 300)
        job_id = answer(columns_as_proposed)
        if kill_when == "checking":
            wait_for(lambda: state(job_id)[0] == "checking" and state(job_id)[1] >= ROWS // 2, 300)
        else:
            wait_for(lambda: state(job_id)[0] == "checked", 300)
            job_id = answer(confirm)
            wait_for(lambda: state(job_id)[0] == "writing", 300, step=0.01)   # its one transaction has begun
        seen = state(job_id)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        killed = time.monotonic()
        assert seen[2] == "running" and seen[3] == 1
        worker = start_worker(env, log)
        restarted = time.monotonic()
        requeued = wait_for(lambda: state(job_id)[3] >= 2 and time.monotonic(), DEADLINE)
        final = wait_for(lambda: state(job_id)[2] in ("done", "failed") and state(job_id),
                         DEADLINE - (time.monotonic() - killed))
        if kill_when == "checking":     # the preview was made again; the admin imports
            assert final[0] == "checked", final
            job_id = answer(confirm)
            final = wait_for(lambda: state(job_id)[2] in ("done", "failed") and state(job_id),
                             DEADLINE - (time.monotonic() - killed))
        ended = time.monotonic()
    finally:
        worker.kill()
        worker.wait()

    with app.app_context():
        imported = db.session.scalar(select(func.count()).select_from(MemberProfile)) - members_before
        phones_twice = db.session.execute(select(User.phone).where(User.phone.is_not(None))
                                          .group_by(User.phone).having(func.count() > 1)).all()
        imp = db.session.get_one(ImportJob, import_id)
        job = db.session.get_one(Job, job_id)
        outcome = (job.state, imp.status, imp.imported_rows, job.attempts, job.message)
        db.session.remove()
    assert ended - killed < DEADLINE
    assert imported in (0, ROWS)                       # all or nothing
    assert phones_twice == []
    assert outcome[:3] == ("done", "done", ROWS) and imported == ROWS, (outcome, log.read_text()[-3000:])
    REPORT.parent.mkdir(exist_ok=True)
    results = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    results[f"{app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}/{kill_when}"] = {
        "rows": ROWS, "mode": "all", "killed_at": f"{kill_when} ({seen[1]} rows checked)",
        "seconds_kill_to_requeued": round(requeued - killed, 1), "seconds_kill_to_end": round(ended - killed, 1),
        "seconds_restart_to_end": round(ended - restarted, 1), "final": final[2], "attempts": outcome[3],
        "members_imported": imported}
    REPORT.write_text(json.dumps(results, ensure_ascii=False, indent=1))
