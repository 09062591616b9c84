"""JSON log lines on standard error, one object a line.

Every record becomes {"time", "level", "logger", "request_id", "message", ...extra fields}; the
request line (logger "yinhui.request") adds method, endpoint, status, duration_ms and user_id.
Nothing that identifies a person beyond the user id is logged: no phone number, name, query string
or IP address (the audit log in the database is where people's actions are recorded). SQL errors
hide their parameters (SQLALCHEMY_ENGINE_OPTIONS hide_parameters), so a failed INSERT of a user
cannot put a phone number into a traceback.

LOG_FORMAT: "json" (default) or "text" for reading in a terminal; LOG_LEVEL: INFO by default.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from flask import Flask

from app.ops.context import install_record_factory

# A LogRecord's own attributes; anything else on a record came from `extra=` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "request_id"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", None),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(app: Flask) -> None:
    """Install the handler on the root logger (once per process: a new app replaces it)."""
    install_record_factory()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, StderrHandler)]:
        root.removeHandler(handler)
    if app.config["LOG_FORMAT"] == "none":
        return
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    # Our own loggers keep the level even when Alembic's logging set-up (migrations/env.py, run by
    # `flask db upgrade` in the same process) sets the root logger's to WARN.
    logging.getLogger("yinhui").setLevel(app.config["LOG_LEVEL"])
    # The development server's access lines carry the client's address and the query string; the
    # request line above replaces them.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # Flask-Limiter logs each refused attempt at INFO with its key, which holds a phone number.
    logging.getLogger("flask-limiter").setLevel(logging.WARNING)
