"""Recording audit events in the same transaction as the change or view they describe."""

from __future__ import annotations

import contextvars
import json
from typing import Any

from app.accounts.models import User
from app.audit.models import AuditEvent
from app.extensions import db
from app.transactions import commit_fresh

# The web layer sets where a request comes from; the CLI leaves "cli". Services never read
# the request themselves.
origin: contextvars.ContextVar[str] = contextvars.ContextVar("audit_origin", default="cli")


def record_audit(actor: User | None, action: str, obj: Any = None, *, region_code: str | None = None,
                 outcome: str = "ok", detail: dict | str | None = None) -> AuditEvent:
    """Add an audit event to the session (flushed with the caller's transaction)."""
    role = None
    if actor is not None and getattr(actor, "grants", None):
        role = ",".join(sorted({g.role.value for g in actor.grants}))[:20]
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_role=role,
        region_code=region_code or getattr(obj, "region_code", None),
        action=action,
        object_type=type(obj).__name__ if obj is not None else None,
        object_id=str(getattr(obj, "id", getattr(obj, "code", ""))) if obj is not None else None,
        outcome=outcome,
        ip=origin.get()[:45],
        detail=json.dumps(detail, ensure_ascii=False) if isinstance(detail, dict) else detail,
    )
    db.session.add(event)
    return event


def record_read(actor: User | None, action: str, obj: Any = None, *, detail: dict | str | None = None) -> None:
    """Record that personal data was viewed or exported, committed at once in a transaction of its
    own that takes the write lock as it begins (app.transactions.commit_fresh). A GET that audits
    what it shows is safe on SQLite this way, whatever its view remembers: a read transaction never
    has to turn into a write. Objects loaded before are expired and read again when next used."""
    commit_fresh(lambda: record_audit(actor, action, obj, detail=detail))
