"""Each request: its id (set before anything else runs, echoed in X-Request-ID), one JSON log line
when it is answered, and its latency and status counted in the metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, request
from flask_login import current_user

from app.ops.context import HEADER, accepted_request_id, current_request_id, new_request_id, request_id
from app.ops.metrics import request_duration, requests_total

log = logging.getLogger("yinhui.request")
STARTED = "yinhui.started"


class RequestIdMiddleware:
    """Outermost WSGI layer: the id and the clock start before the session is opened."""

    def __init__(self, wsgi_app: Any, *, trust_incoming: bool):
        self.wsgi_app = wsgi_app
        self.trust_incoming = trust_incoming

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        incoming = accepted_request_id(environ.get("HTTP_X_REQUEST_ID")) if self.trust_incoming else None
        environ[STARTED] = time.perf_counter()
        token = request_id.set(incoming or new_request_id())
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            request_id.reset(token)


def _user_id() -> int | None:
    if request.path.startswith("/static/"):
        return None
    return current_user.id if current_user.is_authenticated else None


def finish(response: Response) -> Response:
    rid = current_request_id()
    if rid:
        response.headers[HEADER] = rid
    started = request.environ.get(STARTED)
    seconds = time.perf_counter() - started if started is not None else 0.0
    endpoint = request.endpoint or "unmatched"   # a 404's path is not a label: unbounded
    request_duration.labels(endpoint).observe(seconds)
    requests_total.labels(endpoint, request.method, str(response.status_code)).inc()
    log.info("request", extra={"method": request.method, "endpoint": endpoint, "status": response.status_code,
                               "duration_ms": round(seconds * 1000, 1), "user_id": _user_id()})
    return response


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestIdMiddleware(app.wsgi_app, trust_incoming=bool(app.config["PROXY_FIX_X_FOR"]))  # type: ignore[method-assign]
    app.after_request(finish)
