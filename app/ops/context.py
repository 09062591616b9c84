"""The request id: made (or taken from a trusted proxy) as a request arrives, on every log line.

An id is short enough to read to the hotline: eight characters in two groups of four, from an
alphabet without 0/O, 1/I/L ("K7QX-M3PA"). With the time of the call it finds the request's log
lines, and its error page shows it (问题编号). A proxy's X-Request-ID is used only when
PROXY_FIX_X_FOR says a trusted proxy is in front; otherwise anyone could choose the ids in our logs.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import secrets
from collections.abc import Iterator
from typing import Any

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
HEADER = "X-Request-ID"
_INCOMING = re.compile(r"[A-Za-z0-9._:-]{1,64}")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


def new_request_id() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


def accepted_request_id(incoming: str | None) -> str | None:
    """A proxy's id if it is a plain token of at most 64 characters (it goes into logs and headers)."""
    return incoming if incoming and _INCOMING.fullmatch(incoming) else None


def current_request_id() -> str | None:
    """The id of the request (or job) being handled, for a job to carry when it is enqueued."""
    return request_id.get()


@contextlib.contextmanager
def bound_request_id(value: str | None) -> Iterator[None]:
    """Log under `value` within the block: a job run under the id of the request that enqueued it."""
    token = request_id.set(value)
    try:
        yield
    finally:
        request_id.reset(token)


_installed = False


def install_record_factory() -> None:
    """Every log record, from any logger, carries `request_id` (None outside a request or job)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = request_id.get()
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
