"""The queue a worker runs: SqliteHuey in instance/ by default, Redis when configured, every
scheduled task registered under its name."""

from datetime import datetime

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

    assert due(2026, 12, 6, 12, 7) == ["jobs.sweep", "outbox.send", "sms.send"]
    assert due(2026, 12, 6, 19, 0) == ["jobs.sweep", "matching.refresh", "outbox.send", "sms.send"]   # 03:00 Beijing
    assert due(2026, 12, 6, 19, 30) == ["jobs.sweep", "outbox.send", "sessions.purge", "sms.send"]
    assert due(2026, 12, 6, 20, 0) == ["exports.purge", "jobs.sweep", "outbox.send", "sms.send"]
    assert due(2026, 12, 20, 1, 0) == ["jobs.sweep", "outbox.send", "sms.send", "venues.remind"]  # the 20th, 09:00
    assert due(2026, 12, 21, 1, 0) == ["jobs.sweep", "outbox.send", "sms.send"]
    assert due(2026, 12, 21, 2, 0) == ["jobs.sweep", "outbox.send", "sms.send", "tasks.remind"]   # 10:00 daily
