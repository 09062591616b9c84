"""Prometheus metrics (prometheus_client), ready for gunicorn's several worker processes.

Counted per request: yinhui_http_request_duration_seconds{endpoint} (histogram),
yinhui_http_requests_total{endpoint,method,status}; per failed sign-in:
yinhui_failed_logins_total{reason}. Read at each scrape from the database: every registered queue's
yinhui_queue_depth{queue} and yinhui_queue_oldest_age_seconds{queue} (the email outbox's backlog is
queue="outbox").

Under gunicorn, PROMETHEUS_MULTIPROC_DIR names a directory where each worker writes its values
(app/ops/gunicorn_hooks.py prepares it); a scrape of any worker then adds up all of them. Every
metric here has labels, so none holds a value before its first request: nothing is written to the
directory at import, and the directory may be prepared after the app is imported.

/metrics answers only to addresses in METRICS_ALLOW (default the loopback), anyone else gets 404.
Behind a reverse proxy that does not set PROXY_FIX_X_FOR every request comes from the proxy's
address: the proxy must not forward /metrics.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from app.ops.queues import queues

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

request_duration = Histogram("yinhui_http_request_duration_seconds", "Time to answer a request, by endpoint",
                             ["endpoint"], buckets=BUCKETS)
requests_total = Counter("yinhui_http_requests_total", "Requests answered, by endpoint, method and status",
                         ["endpoint", "method", "status"])
failed_logins = Counter("yinhui_failed_logins_total", "Sign-ins refused: wrong phone or password, or rate limited",
                        ["reason"])

bp = Blueprint("metrics", __name__)


def allowed(remote_addr: str | None, allow: str) -> bool:
    """Is the address inside one of the comma-separated networks of `allow`?"""
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    for network in filter(None, (part.strip() for part in allow.split(","))):
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


class QueueCollector(Collector):
    """Each registered queue's depth and age, read when scraped (inside the request's app context)."""

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("yinhui_queue_depth", "Items waiting in a queue", labels=["queue"])
        age = GaugeMetricFamily("yinhui_queue_oldest_age_seconds",
                                "How long the oldest due item of a queue has waited (0: none due)", labels=["queue"])
        for queue in queues(current_app):
            state = queue.probe()
            depth.add_metric([queue.name], state.depth)
            age.add_metric([queue.name], state.oldest_age_seconds or 0.0)
        yield depth
        yield age


def exposition() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    scraped = CollectorRegistry()
    scraped.register(QueueCollector())
    return generate_latest(counted) + generate_latest(scraped)


@bp.get("/metrics")
def metrics() -> Response:
    if not allowed(request.remote_addr, current_app.config["METRICS_ALLOW"]):
        abort(404)
    return Response(exposition(), content_type=CONTENT_TYPE_LATEST)
