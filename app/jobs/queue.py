"""The queue: Huey, configured from the app. SqliteHuey in instance/ by default (no other
service), RedisHuey when JOBS_REDIS_URL or REDIS_URL is set, immediate (in the caller's thread)
when JOBS_IMMEDIATE is (tests). One task runs job rows; one periodic task per schedule entry.
Every task runs inside an application context of the app that made the queue.

The worker: `python -m huey.bin.huey_consumer app.jobs.worker.queue -w 2 -k thread`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from huey import Huey, RedisHuey, SqliteHuey, crontab
from huey.api import TaskWrapper

from app.extensions import db
from app.jobs import services
from app.jobs.schedule import SCHEDULES, Schedule
from app.ops.queues import register_queue


class Queue:
    """app.extensions["jobs"]: the Huey instance and the task that runs a job row."""

    def __init__(self, huey: Huey, run_job: TaskWrapper):
        self.huey, self.run_job = huey, run_job

    def enqueue(self, job_id: int) -> None:
        self.run_job(job_id)


def make_huey(app: Flask) -> Huey:
    config = app.config
    name = config["JOBS_QUEUE_NAME"]
    if config["JOBS_IMMEDIATE"]:
        return Huey(name, immediate=True, results=False)
    redis_url = config.get("JOBS_REDIS_URL") or config.get("REDIS_URL")
    if redis_url:
        return RedisHuey(name, url=redis_url, results=False)
    path = Path(config.get("JOBS_SQLITE_PATH") or Path(app.instance_path) / "jobs-queue.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(path), results=False)


def init_app(app: Flask) -> Queue:
    huey = make_huey(app)

    @huey.task(name="run_job")
    def run_job(job_id: int) -> None:
        in_app(app, lambda: services.run(job_id))

    for entry in SCHEDULES:
        _periodic(app, huey, entry)
    _sweep_after_start(app, huey)
    queue = Queue(huey, run_job)
    app.extensions["jobs"] = queue
    # Immediate mode (tests) has no worker to fall behind; a real queue is watched by /readyz.
    register_queue(app, "jobs", services.queue_state, watched=not app.config["JOBS_IMMEDIATE"])
    return queue


def in_app(app: Flask, work: Callable[[], object]) -> None:
    """Run a task's work inside an application context of `app`, its session removed after."""
    with app.app_context():
        try:
            work()
        finally:
            db.session.remove()


def _periodic(app: Flask, huey: Huey, entry: Schedule) -> None:
    def run_entry() -> None:
        in_app(app, lambda: services.run_scheduled(entry.name, entry.period(), entry.work, lease=entry.lease))

    huey.periodic_task(crontab(**entry.when), name=entry.name)(run_entry)


def _sweep_after_start(app: Flask, huey: Huey) -> None:
    """A worker that starts (after one died, say) sweeps once as soon as the jobs its predecessor
    left running can be taken for dead (JOBS_STALE_SECONDS after their last heartbeat), rather
    than at the first whole-minute sweep after that: Huey checks periodic tasks at the consumer's
    start, when the dead worker's heartbeat is still fresh, and then once a minute, so a killed
    import waited up to a minute longer to run again. Once per worker process (Huey calls startup
    hooks in each of its worker threads); a sweep run twice changes nothing the second time."""

    @huey.task(name="jobs.sweep_after_start")
    def sweep_after_start() -> None:
        in_app(app, services.sweep)

    first = threading.Lock()      # taken by the first worker thread, never given back

    @huey.on_startup(name="jobs.sweep_after_start")
    def sweep_soon() -> None:
        if first.acquire(blocking=False):
            sweep_after_start.schedule(delay=app.config["JOBS_STALE_SECONDS"] + 1)
