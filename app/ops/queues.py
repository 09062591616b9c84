"""Queues watched by readiness and metrics, behind one narrow interface.

A queue is a probe: a function, called inside an application context, that returns its depth
and how long its oldest due item has waited (QueueState). Readiness says "stuck" when a watched
queue's oldest due item has waited longer than QUEUE_STUCK_SECONDS; metrics export every
registered queue's depth and age. The email outbox is registered here; the job queue registers
its own probe with register_queue(app, "jobs", probe).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from sqlalchemy import func, select

from app.clock import utcnow
from app.extensions import db
from app.notifications.models import EmailOutbox

KEY = "yinhui.queues"


@dataclass(frozen=True)
class QueueState:
    depth: int                          # items waiting (due or not)
    oldest_age_seconds: float | None    # how long the oldest due item has waited; None: none due


QueueProbe = Callable[[], QueueState]


@dataclass(frozen=True)
class Queue:
    name: str
    probe: QueueProbe
    watched: bool   # may fail readiness when stuck (a queue nobody is meant to work is only counted)


def register_queue(app: Flask, name: str, probe: QueueProbe, *, watched: bool = True) -> None:
    app.extensions.setdefault(KEY, {})[name] = Queue(name, probe, watched)


def queues(app: Flask) -> list[Queue]:
    return list(app.extensions.get(KEY, {}).values())


def age_since(moment: datetime | None) -> float | None:
    return None if moment is None else max(0.0, (utcnow() - moment).total_seconds())


def outbox_state() -> QueueState:
    """Unsent emails, and how long the one due longest has been due without being sent."""
    now = utcnow()
    depth, oldest_due = db.session.execute(select(
        func.count(),
        func.min(EmailOutbox.next_attempt_at).filter(EmailOutbox.next_attempt_at <= now),
    ).where(EmailOutbox.sent_at.is_(None))).one()
    return QueueState(int(depth), age_since(oldest_due))


def register_outbox(app: Flask) -> None:
    # Emails are queued whether or not a mail server is configured; only with one is a backlog a fault.
    register_queue(app, "outbox", outbox_state, watched=bool(app.config.get("MAIL_SERVER")))
