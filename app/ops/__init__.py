"""Watching it run: request ids and JSON logs, /healthz and /readyz, Prometheus metrics at /metrics,
and the slow-query log. See README "Watching it run"."""

from __future__ import annotations

from typing import Any

from flask import Flask

from app.extensions import db
from app.ops import health, metrics, requestlog, slowquery
from app.ops.context import current_request_id
from app.ops.logs import configure_logging
from app.ops.queues import register_outbox


def init_app(app: Flask) -> None:
    configure_logging(app)
    requestlog.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            slowquery.watch(engine, app.config)
    register_outbox(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)

    @app.context_processor
    def request_id() -> dict[str, Any]:
        return {"request_id": current_request_id()}
