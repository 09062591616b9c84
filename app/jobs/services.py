"""Jobs: submit() records a job row and hands it to the queue once the row is committed; run()
takes a queued job (once: the claim is a compare-and-set), keeps its heartbeat while the kind's
handler works, and records how it ended; sweep() finds jobs whose worker died; run_scheduled()
runs a scheduled task for a period on one worker of one host only.

Kinds register their handler here (`@handler("export", rerun_safe=True)`), so this module knows
no kind and every kind may submit jobs.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.clock import utcnow
from app.db import rowcount, write_intent
from app.extensions import db
from app.jobs.models import Job, ScheduleLease, ScheduleRun
from app.ops.context import bound_request_id, current_request_id
from app.ops.queues import QueueState, age_since
from app.transactions import commit_fresh

log = logging.getLogger(__name__)

TO_ENQUEUE = "jobs_to_enqueue"   # Session.info: job ids to hand to the queue when it commits
INTERRUPTED = "后台处理中断了（处理程序停止运行），请重新提交。"
BROKEN = "处理时出错了，请稍后重试；仍不行请联系管理员。"


class JobFailed(Exception):
    """A handler's refusal with a message for the page (in Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Work:
    """What a handler gets: its job's id and parameters, and where to say how far it has got.
    Progress is written by the heartbeat, apart from the handler's own transactions."""

    job_id: int
    params: dict[str, Any]
    actor_id: int | None
    progress: int = 0
    total: int | None = None
    message: str = ""
    result: str | None = None

    def actor(self) -> User:
        return db.session.get_one(User, self.actor_id)


@dataclass
class Handler:
    run: Callable[[Work], None]
    rerun_safe: bool                                  # may the sweeper run it again after a crash
    abandoned: Callable[[Job], None] | None = None    # what else to mark when it is given up


HANDLERS: dict[str, Handler] = {}


def handler(kind: str, *, rerun_safe: bool,
            abandoned: Callable[[Job], None] | None = None) -> Callable[[Callable[[Work], None]], Callable[[Work], None]]:
    def register(run: Callable[[Work], None]) -> Callable[[Work], None]:
        HANDLERS[kind] = Handler(run, rerun_safe, abandoned)
        return run

    return register


class Enqueuer(Protocol):
    def enqueue(self, job_id: int) -> None: ...


# --- submitting ----------------------------------------------------------------------------------


def submit(kind: str, params: dict[str, Any], *, actor: User | None = None, request_id: str | None = None) -> Job:
    """Record a queued job in the caller's transaction; it goes to the queue when that commits
    (never before: a worker could not see it yet), and not at all if it rolls back. The job keeps
    the request id of the request that asked for it, and its log lines carry that id."""
    if kind not in HANDLERS:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, params=json.dumps(params, ensure_ascii=False), state="queued",
              created_by_id=actor.id if actor is not None else None,
              request_id=request_id or current_request_id(), heartbeat_at=utcnow())
    db.session.add(job)
    db.session.flush()
    _enqueue_on_commit(db.session(), job.id)
    return job


def _enqueue_on_commit(session: Session, job_id: int) -> None:
    session.info.setdefault(TO_ENQUEUE, []).append(job_id)


def _after_commit(session: Session) -> None:
    ids = session.info.pop(TO_ENQUEUE, None)
    if not ids:
        return
    queue: Enqueuer = current_app.extensions["jobs"]
    for job_id in ids:
        try:
            queue.enqueue(job_id)
        except Exception as e:  # noqa: BLE001 - any storage error (Redis away, SQLite locked): the row is committed
            # The job is safe in its row; the sweeper hands jobs queued too long to the queue again,
            # so the page that asked goes on instead of failing after its commit.
            log.warning("job %s could not be handed to the queue (%s); the sweeper will retry", job_id,
                        type(e).__name__)


def _after_rollback(session: Session) -> None:
    session.info.pop(TO_ENQUEUE, None)


# --- running -------------------------------------------------------------------------------------


class Heartbeat:
    """A thread that writes the job's heartbeat and progress every few seconds on a connection
    of its own, while the handler's transactions go on. A worker that dies stops it: that is
    how the sweeper knows."""

    def __init__(self, engine: Engine, work: Work, attempt: int, interval: float):
        self.engine, self.work, self.attempt, self.interval = engine, work, attempt, interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{work.job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stopped.set()
        self.thread.join()

    def _beat(self) -> None:
        write_intent.set(True)     # this thread's own context: its transactions only write
        while not self.stopped.wait(self.interval):
            try:
                with self.engine.begin() as conn:
                    conn.execute(update(Job).where(Job.id == self.work.job_id, Job.state == "running",
                                                   Job.attempts == self.attempt)
                                 .values(heartbeat_at=utcnow(), progress=self.work.progress, total=self.work.total))
            except SQLAlchemyError as e:   # the database is busy or away: try again next beat
                log.warning("heartbeat of job %s: %s", self.work.job_id, e)


def run(job_id: int) -> str | None:
    """Run a queued job to its end; returns its final state, or None when it was not queued
    (taken by another worker, finished, or gone)."""
    now = utcnow()
    claimed = commit_fresh(lambda: rowcount(db.session.execute(
        update(Job).where(Job.id == job_id, Job.state == "queued")
        .values(state="running", started_at=now, heartbeat_at=now, attempts=Job.attempts + 1))))
    if not claimed:
        return None
    job = db.session.get_one(Job, job_id)
    with bound_request_id(job.request_id):
        return _run_claimed(job)


def _run_claimed(job: Job) -> str:
    job_id = job.id
    work = Work(job.id, json.loads(job.params), job.created_by_id)
    kind, attempt = job.kind, job.attempts
    config = current_app.config
    state, message = "done", ""
    started = time.perf_counter()
    log.info("job started", extra={"job_id": job_id, "kind": kind, "attempt": attempt})
    try:
        if config["JOBS_IMMEDIATE"]:     # in the caller's thread and transaction scope: no one to beat for
            HANDLERS[kind].run(work)
        else:
            with Heartbeat(db.engine, work, attempt, config["JOBS_HEARTBEAT_SECONDS"]):
                HANDLERS[kind].run(work)
        message = work.message
    except JobFailed as e:
        state, message = "failed", e.message
    except Exception:
        log.exception("job %s (%s) failed", job_id, kind)
        state, message = "failed", BROKEN
    commit_fresh(lambda: db.session.execute(
        update(Job).where(Job.id == job_id, Job.state == "running", Job.attempts == attempt)
        .values(state=state, message=message, result=work.result, progress=work.progress, total=work.total,
                finished_at=utcnow())))
    log.info("job ended", extra={"job_id": job_id, "kind": kind, "attempt": attempt, "state": state,
                                 "progress": work.progress, "duration_ms": round((time.perf_counter() - started) * 1000)})
    return state


def queue_state() -> QueueState:
    """Jobs waiting for a worker, and how long the one queued longest has waited (for /readyz and
    /metrics: a queue nobody works is stuck)."""
    depth, oldest = db.session.execute(
        select(func.count(), func.min(Job.created_at)).where(Job.state == "queued")).one()
    return QueueState(int(depth), age_since(oldest))


# --- the sweeper ---------------------------------------------------------------------------------


@dataclass
class Swept:
    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resent: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{len(self.requeued)} requeued, {len(self.failed)} failed, {len(self.resent)} sent to the queue again"


def sweep() -> Swept:
    """Jobs whose worker died: a running job without a heartbeat for JOBS_STALE_SECONDS runs
    again when its kind is safe to run twice and it has attempts left, else it fails with a
    message for its page. A queued job that long untaken is handed to the queue again (its
    message may have been lost with a queue's storage); a duplicate message finds it taken."""
    config = current_app.config
    stale = utcnow() - timedelta(seconds=config["JOBS_STALE_SECONDS"])
    swept = Swept()

    def work() -> Swept:
        running = db.session.scalars(select(Job).where(Job.state == "running", Job.heartbeat_at < stale)).all()
        for job in running:
            kind = HANDLERS.get(job.kind)
            again = kind is not None and kind.rerun_safe and job.attempts < config["JOBS_MAX_ATTEMPTS"]
            values: dict[str, Any] = (
                {"state": "queued", "heartbeat_at": utcnow()} if again else
                {"state": "failed", "message": INTERRUPTED, "finished_at": utcnow()})
            changed = rowcount(db.session.execute(update(Job).where(
                Job.id == job.id, Job.state == "running", Job.attempts == job.attempts).values(**values)))
            if not changed:
                continue
            if again:
                swept.requeued.append(job.id)
                _enqueue_on_commit(db.session(), job.id)
            else:
                swept.failed.append(job.id)
                if kind is not None and kind.abandoned is not None:
                    kind.abandoned(job)
        waiting = db.session.scalars(select(Job.id).where(Job.state == "queued", Job.heartbeat_at < stale)).all()
        for job_id in waiting:
            db.session.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow()))
            swept.resent.append(job_id)
            _enqueue_on_commit(db.session(), job_id)
        return swept

    commit_fresh(work)
    if swept.requeued or swept.failed:
        log.warning("sweeper: %s", swept)
    return swept


# --- scheduled tasks -----------------------------------------------------------------------------


def host_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:100]


def run_scheduled(task: str, period: str, work: Callable[[], object], *, lease: timedelta) -> str:
    """Run `work` as `task`'s run for `period` unless any worker has run it (every host's
    scheduler enqueues every periodic task: the unique (task, period) row lets one of them run
    it) or a run of an earlier period still holds the task's lease (skipped, not overlapped).
    Returns "done", "failed", "taken" or "skipped"."""
    now = utcnow()
    try:
        run_id = commit_fresh(lambda: db.session.execute(insert(ScheduleRun).values(
            task=task, period=period, state="running", host=host_name(), message="", started_at=now)
            .returning(ScheduleRun.id)).scalar_one())
    except IntegrityError:
        return "taken"
    if not _take_lease(task, run_id, now + lease):
        _end_run(run_id, task, "skipped", "上一次运行还没有结束，本次跳过", release=False)
        return "skipped"
    try:
        outcome = work()
    except Exception as e:
        log.exception("scheduled %s for %s failed", task, period)
        _end_run(run_id, task, "failed", f"{type(e).__name__}: {e}"[:2000])
        return "failed"
    _end_run(run_id, task, "done", str(outcome if outcome is not None else "")[:2000])
    return "done"


def _take_lease(task: str, run_id: int, until: Any) -> bool:
    now = utcnow()

    def take() -> int:
        return rowcount(db.session.execute(update(ScheduleLease).where(
            ScheduleLease.task == task, (ScheduleLease.holder.is_(None)) | (ScheduleLease.expires_at < now))
            .values(holder=run_id, expires_at=until)))

    if commit_fresh(take):
        return True
    try:   # the task's first run anywhere: its lease row does not exist yet
        commit_fresh(lambda: db.session.execute(insert(ScheduleLease).values(task=task, holder=run_id,
                                                                             expires_at=until)))
    except IntegrityError:
        return False
    return True


def _end_run(run_id: int, task: str, state: str, message: str, *, release: bool = True) -> None:
    def end() -> None:
        db.session.execute(update(ScheduleRun).where(ScheduleRun.id == run_id).values(
            state=state, message=message, finished_at=utcnow()))
        if release:
            db.session.execute(update(ScheduleLease).where(ScheduleLease.task == task, ScheduleLease.holder == run_id)
                               .values(holder=None, expires_at=None))

    commit_fresh(end)


event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_rollback", _after_rollback)
