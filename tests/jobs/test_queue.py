"""The queue a worker runs: SqliteHuey in instance/ by default, Redis when configured, every
scheduled task registered under its name."""

from datetime import UTC, datetime, timedelta

from huey import RedisHuey, SqliteHuey

from app.jobs.queue import make_huey


def test_the_embedded_default_needs_no_service_and_redis_is_used_when_configured(extra_app, tmp_path):
    default = extra_app(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(tmp_path / "q.db"), REDIS_URL=None)
    assert isinstance(default.extensions["jobs"].huey, SqliteHuey)
    redis = extra_app(JOBS_IMMEDIATE=False, REDIS_URL=None, JOBS_REDIS_URL="redis://127.0.0.1:6379/5")
    assert isinstance(redis.extensions["jobs"].huey, RedisHuey)
    shared = extra_app(JOBS_IMMEDIATE=False, REDIS_URL="redis://127.0.0.1:6379/5")
    assert isinstance(make_huey(shared), RedisHuey)


def test_every_schedule_entry_is_a_periodic_task_of_the_worker(extra_app, tmp_path):
    app = extra_app(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(tmp_path / "q.db"), REDIS_URL=None)
    huey = app.extensions["jobs"].huey

    def due(*at):    # UTC, as the worker's scheduler asks
        return sorted(task.name for task in huey.read_periodic(datetime(*at)))

    every = ["bookings.release_no_shows", "jobs.sweep", "outbox.send", "sms.send"]
    assert due(2026, 12, 6, 12, 7) == every
    assert due(2026, 12, 6, 19, 0) == sorted(every + ["matching.refresh"])      # 03:00 Beijing
    assert due(2026, 12, 6, 19, 30) == sorted(every + ["sessions.purge"])
    assert due(2026, 12, 6, 20, 0) == sorted(every + ["exports.purge"])
    assert due(2026, 12, 20, 1, 0) == sorted(every + ["venues.remind"])         # the 20th, 09:00
    assert due(2026, 12, 21, 1, 0) == every
    assert due(2026, 12, 7, 2, 0) == sorted(every + ["tasks.remind"])            # 10:00 Beijing
    assert due(2026, 12, 7, 3, 10) == sorted(every + ["reports.refresh"])        # every hour at :10


def test_a_starting_worker_sweeps_once_when_a_dead_predecessor_s_jobs_can_be_taken_for_dead(extra_app, tmp_path):
    """Huey's scheduler sees the minute's sweep at the consumer's start, before a killed worker's
    heartbeat is stale, and then once a minute: the starting worker asks for one sweep of its own
    JOBS_STALE_SECONDS (and a second) later, once however many worker threads start."""
    app = extra_app(JOBS_IMMEDIATE=False, JOBS_SQLITE_PATH=str(tmp_path / "q.db"), REDIS_URL=None,
                    JOBS_STALE_SECONDS=10)
    huey = app.extensions["jobs"].huey
    assert huey.pending() == []
    before = datetime.now(UTC).replace(tzinfo=None)     # Huey's etas are naive UTC
    for hook in huey._startup.values():      # what each of the consumer's worker threads runs first
        hook()
    for hook in huey._startup.values():
        hook()
    queued = huey.pending()      # with its time to run: the consumer holds it back until then
    assert [task.name for task in queued] == ["jobs.sweep_after_start"]
    assert timedelta(seconds=10) < queued[0].eta - before < timedelta(seconds=13)
