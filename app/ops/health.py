"""/healthz: the process answers (no database). /readyz: it can serve: the database answers, its
schema is at the migrations' head, Redis answers when REDIS_URL is set, and no watched queue is
stuck. Each answers 200 or 503 with a JSON body naming every check and, for a failed one, why.

A load balancer takes a worker out on /readyz failing and restarts it on /healthz failing. Both
are cheap (one small query, one PING): see bench/health.py for their latency.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app
from flask.typing import ResponseReturnValue

from app.extensions import db
from app.ops.queues import queues

MIGRATIONS = Path(__file__).resolve().parent.parent.parent / "migrations"
REDIS_TIMEOUT_S = 0.25

bp = Blueprint("health", __name__)


@cache
def migration_heads(directory: str = str(MIGRATIONS)) -> frozenset[str]:
    """The revisions at the head of the migrations (read once per process: they change only with a deploy)."""
    config = AlembicConfig()
    config.set_main_option("script_location", directory)
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def _redis_client(app: Flask) -> redis.Redis:
    """One client (and its connection pool) per app and URL, made at the first check."""
    clients = app.extensions.setdefault("yinhui.readyz_redis", {})
    url = app.config["REDIS_URL"]
    if url not in clients:
        clients[url] = redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S)
    return clients[url]


def _database() -> dict[str, str]:
    """One query answers both: the database is reachable, and at which revision its schema is."""
    try:
        conn = db.engine.connect()
    except sa.exc.SQLAlchemyError as e:
        return {"database": f"unreachable: {type(getattr(e, 'orig', None) or e).__name__}",
                "migrations": "unknown: the database is unreachable"}
    try:
        with conn:
            current = frozenset(conn.scalars(sa.text("SELECT version_num FROM alembic_version")))
    except sa.exc.SQLAlchemyError:
        current = frozenset()   # no alembic_version table: nothing migrated yet
    heads = migration_heads()
    if current == heads:
        return {"database": "ok", "migrations": "ok"}
    have = ", ".join(sorted(current)) or "none"
    return {"database": "ok", "migrations": f"not at head: at {have}, head is {', '.join(sorted(heads))}"}


def _redis(app: Flask) -> str:
    if not app.config.get("REDIS_URL"):
        return "not configured"
    try:
        _redis_client(app).ping()
    except redis.RedisError as e:
        return f"unreachable: {type(e).__name__}"
    return "ok"


def readiness(app: Flask) -> tuple[bool, dict[str, str]]:
    checks = _database()
    checks["redis"] = _redis(app)
    limit = app.config["QUEUE_STUCK_SECONDS"]
    for queue in queues(app):
        name = f"queue:{queue.name}"
        if not queue.watched:
            continue
        if checks["database"] != "ok":
            checks[name] = "unknown: the database is unreachable"
            continue
        try:
            state = queue.probe()
        except sa.exc.SQLAlchemyError as e:
            checks[name] = f"unknown: {type(e).__name__}"
            continue
        age = state.oldest_age_seconds
        checks[name] = (f"stuck: {state.depth} waiting, the oldest due for {age:.0f} s (limit {limit} s)"
                        if age is not None and age > limit else "ok")
    ok = all(value in ("ok", "not configured") for value in checks.values())
    return ok, checks


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    ok, checks = readiness(current_app)
    db.session.remove()   # whatever a probe read in the request's session ends here
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
    return body, 200 if ok else 503
