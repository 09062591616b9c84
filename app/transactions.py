"""Transactions that write outside a POST request (background jobs, audited reads, the session).

On SQLite a transaction that began by reading cannot safely become a writer while another
connection writes ("database is locked", SQLITE_BUSY_SNAPSHOT). Work that writes after reading
therefore runs in a fresh transaction that takes the write lock when it begins (BEGIN IMMEDIATE,
see app.db.write_intent). On PostgreSQL this is simply a new transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from app.db import write_intent
from app.extensions import db

T = TypeVar("T")


def commit_fresh(work: Callable[[], T]) -> T:
    """End the current (read) transaction, run `work` in a new writing one, and commit it."""
    db.session.rollback()
    token = write_intent.set(True)
    try:
        result = work()
        db.session.commit()
        return result
    except Exception:
        db.session.rollback()
        raise
    finally:
        write_intent.reset(token)
