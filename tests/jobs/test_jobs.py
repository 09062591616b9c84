"""Job rows: submitted with the caller's commit, claimed once, done or failed with a message for
the page; the sweeper runs again, or fails, what a dead worker left running. The test queue runs
jobs at once (JOBS_IMMEDIATE), in the committing thread."""

import logging
from datetime import timedelta

import pytest
import redis
from sqlalchemy import select, update

from app.clock import utcnow
from app.jobs import services as jobs
from app.jobs.models import Job
from app.members.models import ImportJob
from app.ops.context import bound_request_id
from app.ops.queues import QueueState

CALLS: list[dict] = []


def _ok(work: jobs.Work) -> None:
    CALLS.append(work.params)
    work.progress, work.total, work.message = 3, 3, "好了"


def _refused(work: jobs.Work) -> None:
    raise jobs.JobFailed("文件不对")


def _broken(work: jobs.Work) -> None:
    raise RuntimeError("disk on fire")


ABANDONED: list[int] = []


@pytest.fixture(autouse=True)
def kinds(monkeypatch):
    CALLS.clear()
    ABANDONED.clear()
    monkeypatch.setitem(jobs.HANDLERS, "t.ok", jobs.Handler(_ok, rerun_safe=True))
    monkeypatch.setitem(jobs.HANDLERS, "t.refused", jobs.Handler(_refused, rerun_safe=True))
    monkeypatch.setitem(jobs.HANDLERS, "t.broken", jobs.Handler(_broken, rerun_safe=True))
    monkeypatch.setitem(jobs.HANDLERS, "t.once", jobs.Handler(_ok, rerun_safe=False,
                                                            abandoned=lambda job: ABANDONED.append(job.id)))


def test_a_job_is_queued_until_its_transaction_commits_then_runs_to_done(db, create_user):
    user = create_user()
    job = jobs.submit("t.ok", {"n": 1}, actor=user, request_id="req-1")
    assert job.state == "queued" and CALLS == []          # nothing runs before the commit
    db.session.commit()
    db.session.refresh(job)
    assert CALLS == [{"n": 1}]
    assert (job.state, job.message, job.progress, job.total, job.attempts) == ("done", "好了", 3, 3, 1)
    assert job.created_by_id == user.id and job.request_id == "req-1" and job.finished_at is not None


def test_a_rolled_back_job_never_runs(db):
    jobs.submit("t.ok", {"n": 2})
    db.session.rollback()
    db.session.commit()
    assert CALLS == [] and db.session.scalar(select(Job)) is None


def test_a_refusal_and_a_crash_fail_with_a_message_for_the_page(db):
    refused, broken = jobs.submit("t.refused", {}), jobs.submit("t.broken", {})
    db.session.commit()
    db.session.refresh(refused)
    db.session.refresh(broken)
    assert (refused.state, refused.message) == ("failed", "文件不对")
    assert (broken.state, broken.message) == ("failed", jobs.BROKEN)
    assert "disk" not in broken.message


def test_a_job_runs_once_however_often_it_is_delivered(db):
    job = jobs.submit("t.ok", {"n": 3})
    db.session.commit()
    assert jobs.run(job.id) is None and jobs.run(job.id) is None     # done: later deliveries do nothing
    assert CALLS == [{"n": 3}]
    assert jobs.run(999_999) is None


def test_unknown_kinds_are_refused_at_submission(db):
    with pytest.raises(ValueError):
        jobs.submit("t.nobody", {})


def _stale(db, kind: str, *, attempts: int = 1, seconds: int = 500) -> Job:
    job = Job(kind=kind, state="running", params="{}", attempts=attempts, started_at=utcnow(),
              heartbeat_at=utcnow() - timedelta(seconds=seconds))
    db.session.add(job)
    db.session.commit()
    return job


def test_the_sweeper_runs_again_what_a_dead_worker_left_when_that_is_safe(db):
    dead = _stale(db, "t.ok")
    alive = _stale(db, "t.ok", seconds=10)          # its heartbeat is recent: left alone
    swept = jobs.sweep()
    assert swept.requeued == [dead.id] and swept.failed == []
    db.session.refresh(dead)
    db.session.refresh(alive)
    assert (dead.state, dead.attempts) == ("done", 2) and CALLS == [{}]
    assert alive.state == "running"


def test_the_sweeper_fails_what_is_unsafe_to_repeat_or_out_of_attempts(app, db):
    once = _stale(db, "t.once")
    tired = _stale(db, "t.ok", attempts=app.config["JOBS_MAX_ATTEMPTS"])
    swept = jobs.sweep()
    assert sorted(swept.failed) == sorted([once.id, tired.id]) and swept.requeued == []
    for job in (once, tired):
        db.session.refresh(job)
        assert job.state == "failed" and job.message == jobs.INTERRUPTED and job.finished_at is not None
    assert ABANDONED == [once.id] and CALLS == []


def test_the_sweeper_hands_a_long_waiting_job_to_the_queue_again(db):
    job = Job(kind="t.ok", state="queued", params='{"lost": true}', heartbeat_at=utcnow() - timedelta(minutes=10))
    db.session.add(job)
    db.session.commit()
    assert jobs.sweep().resent == [job.id]
    db.session.refresh(job)
    assert job.state == "done" and CALLS == [{"lost": True}]


def test_an_import_given_up_by_the_sweeper_says_so_on_its_page(app, db, client, login, create_admin):
    admin = create_admin("410104")
    imp = ImportJob(created_by_id=admin.id, filename="名册.xlsx", mode="all", status="checking", content=b"PK")
    db.session.add(imp)
    db.session.flush()
    job = _stale(db, "import", attempts=app.config["JOBS_MAX_ATTEMPTS"])
    db.session.execute(update(Job).where(Job.id == job.id).values(params=f'{{"import_id": {imp.id}}}'))
    db.session.commit()
    assert jobs.sweep().failed == [job.id]
    db.session.refresh(imp)
    assert (imp.status, imp.message, imp.content) == ("failed", jobs.INTERRUPTED, None)
    login(admin)
    page = client.get(f"/pool/import/{imp.id}").get_data(as_text=True)
    assert "后台处理中断了" in page and 'http-equiv="refresh"' not in page


def _logs(work: jobs.Work) -> None:
    jobs.log.warning("working on job %s", work.job_id)


def test_a_job_keeps_the_request_id_of_the_request_that_asked_for_it_and_logs_with_it(app, db, monkeypatch):
    monkeypatch.setitem(jobs.HANDLERS, "t.logs", jobs.Handler(_logs, rerun_safe=True))
    with app.test_request_context("/"), bound_request_id("REQ7-ABCD"):
        job = jobs.submit("t.logs", {})
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append              # type: ignore[method-assign]
    jobs.log.addHandler(handler)
    level = jobs.log.level
    jobs.log.setLevel(logging.INFO)
    try:
        db.session.commit()                    # runs the job here, outside any request, as a worker would
    finally:
        jobs.log.removeHandler(handler)
        jobs.log.setLevel(level)
    db.session.refresh(job)
    assert (job.state, job.request_id) == ("done", "REQ7-ABCD")
    ours = [(r.getMessage(), getattr(r, "request_id", None)) for r in records
            if r.getMessage() == f"working on job {job.id}" or getattr(r, "job_id", None) == job.id]
    assert ours == [("job started", "REQ7-ABCD"), (f"working on job {job.id}", "REQ7-ABCD"),
                    ("job ended", "REQ7-ABCD")]


def test_the_job_queue_is_watched_by_readiness_and_metrics(app, db, client):
    assert jobs.queue_state() == QueueState(0, None)
    waiting = Job(kind="import", params="{}", state="queued", created_at=utcnow() - timedelta(minutes=30))
    db.session.add_all([waiting, Job(kind="export", params="{}", state="done")])
    db.session.flush()
    state = jobs.queue_state()
    assert state.depth == 1 and state.oldest_age_seconds is not None and state.oldest_age_seconds >= 1800
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'yinhui_queue_depth{queue="jobs"} 1.0' in metrics


class _QueueAway:
    def enqueue(self, job_id: int) -> None:
        raise redis.ConnectionError("Connection refused")


def test_a_queue_that_is_away_loses_no_job_and_fails_no_page(app, db, caplog):
    queue = app.extensions["jobs"]
    app.extensions["jobs"] = _QueueAway()
    job = jobs.submit("t.ok", {"n": 9})
    with caplog.at_level(logging.WARNING, logger=jobs.log.name):
        db.session.commit()                    # the caller's commit stands; nothing raised
    db.session.refresh(job)
    assert job.state == "queued" and CALLS == []
    assert f"job {job.id} could not be handed to the queue (ConnectionError)" in caplog.text
    app.extensions["jobs"] = queue             # the queue is back
    db.session.execute(update(Job).where(Job.id == job.id).values(heartbeat_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()
    assert jobs.sweep().resent == [job.id]
    db.session.refresh(job)
    assert job.state == "done" and CALLS == [{"n": 9}]
