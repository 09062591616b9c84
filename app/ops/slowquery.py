"""Statements slower than SLOW_QUERY_MS (default 200) are logged by name, never with their values.

A statement's name is its verb and first table ("SELECT member_skill_index"), with a short
fingerprint of its text to tell apart statements of the same name, and the line of the app that ran it
("app/tasks/candidates.py:412 ranked"). Parameters are not logged: they hold phone numbers and names.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("yinhui.slow_query")

APP = str(Path(__file__).resolve().parent.parent)
SKIP = (str(Path(__file__).resolve()), str(Path(APP) / "db.py"), str(Path(APP) / "transactions.py"))
ROOT = str(Path(APP).parent)
_NAME = re.compile(r"""^\s*(?:WITH\b.*?\)\s*)?(SELECT|INSERT|UPDATE|DELETE|BEGIN|COMMIT|ROLLBACK|PRAGMA|\w+)"""
                   r"""(?:.*?\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?)?""", re.IGNORECASE | re.DOTALL)
_TABLE_AFTER_UPDATE = re.compile(r'^\s*UPDATE\s+"?(\w+)"?', re.IGNORECASE)


def statement_name(statement: str) -> str:
    update = _TABLE_AFTER_UPDATE.match(statement)
    if update:
        return f"UPDATE {update.group(1)}"
    match = _NAME.match(statement)
    if match is None:
        return "statement"
    verb, table = match.group(1).upper(), match.group(2)
    return f"{verb} {table}" if table else verb


def app_caller() -> str | None:
    """The innermost frame in the app's own code (not the database plumbing)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(APP) and not filename.startswith(SKIP):
            return f"{Path(filename).relative_to(ROOT)}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back   # type: ignore[assignment]
    return None


def watch(engine: Engine, config: dict[str, Any]) -> None:
    """Log the engine's statements slower than config["SLOW_QUERY_MS"] (read at each statement)."""

    @event.listens_for(engine, "before_cursor_execute")
    def started(conn: Any, _cursor: Any, _statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        conn.info.setdefault("yinhui.query_started", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def finished(conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool) -> None:
        stack = conn.info.get("yinhui.query_started")
        if not stack:
            return
        elapsed_ms = (time.perf_counter() - stack.pop()) * 1000
        if elapsed_ms >= config["SLOW_QUERY_MS"]:
            log.warning("slow query", extra={
                "statement": statement_name(statement),
                "fingerprint": hashlib.sha1(statement.encode()).hexdigest()[:8],
                "caller": app_caller(),
                "duration_ms": round(elapsed_ms, 1),
            })
