"""Loading what an actor may see, in one call: `visible(Task, actor)` is select(Task) limited by the
rule's SQL twin; `get_or_404(Task, task_id, actor)` the one row, or 404 when it does not exist or
lies outside the actor's scope (never 403: staff cannot probe for what exists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from sqlalchemy import ColumnElement, Select, bindparam, select

import app.access.rules as rules
from app.access.scope import signature
from app.accounts.models import User
from app.bookings.models import Booking
from app.extensions import db
from app.members.models import ImportJob, MemberProfile, PoolEntry
from app.notifications.models import Notification
from app.organizations.models import Organization
from app.tasks.models import Task
from app.venues.models import Venue

T = TypeVar("T")

# Which rule limits each kind of record an actor looks up by id or lists. Each reads of the actor
# only what scope.signature() holds (get() reuses its statements by that signature).
VISIBLE: dict[type, Callable[[User], ColumnElement[bool]]] = {
    Organization: rules.organizations_visible,
    MemberProfile: rules.members_visible,
    PoolEntry: rules.pool_entries_visible,
    ImportJob: rules.imports_visible,
    Task: rules.tasks_visible,
    Venue: rules.venues_visible,
    Booking: rules.bookings_visible,
    User: rules.accounts_visible,
    Notification: rules.notifications_visible,
}


def visible(model: type[T], actor: User) -> Select[T]:
    """select(model) limited to what the actor may see."""
    return select(model).where(VISIBLE[model](actor))


def get(model: type[T], ident: Any, actor: User, options: tuple = ()) -> T | None:
    """The row with this primary key if the actor may see it; None otherwise (or for a malformed id).
    `options`: loader options for the row (what a page reads of it, and what it does not)."""
    key = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
    try:
        ident = key.type.python_type(ident)
    except (TypeError, ValueError):
        return None
    # unique(): options may load a collection in the row's own statement (joinedload), one row per item.
    row: T | None = db.session.execute(_row_statement(model, actor, options), {"ident": ident}).unique() \
        .scalar_one_or_none()
    return row


# get()'s statements, by kind of record, loader options and the actor's scope.signature(): a scope
# clause is a function of that signature alone, so a grant given or taken away is a new key at the
# actor's next request. Built once, a statement's clauses and SQLAlchemy's cache key of it are
# worked out once too, not on every page (a third of loading a task by id). Bounded: emptied when
# full (about 7 KB a statement; a key for each record kind and page an official opens).
_ROW_STATEMENTS: dict[tuple, Select] = {}
ROW_STATEMENTS_MAX = 1024


def _row_statement(model: type[T], actor: User, options: tuple) -> Select[T]:
    scope = signature(actor)
    if scope is None:
        return _build_row_statement(model, actor, options)
    cache_key = (model, options, scope)
    statement = _ROW_STATEMENTS.get(cache_key)
    if statement is None:
        if len(_ROW_STATEMENTS) >= ROW_STATEMENTS_MAX:
            _ROW_STATEMENTS.clear()
        statement = _ROW_STATEMENTS[cache_key] = _build_row_statement(model, actor, options)
    return statement


def _build_row_statement(model: type[T], actor: User, options: tuple) -> Select[T]:
    key = model.__mapper__.primary_key[0]  # type: ignore[attr-defined]
    return visible(model, actor).where(key == bindparam("ident", type_=key.type)).options(*options)


def get_or_404(model: type[T], ident: Any, actor: User, options: tuple = ()) -> T:
    row = get(model, ident, actor, options)
    if row is None:
        abort(404)
    return row


def check_or_404(allowed: bool) -> None:
    """For a row the actor may see but not act on where its existence is still not theirs to know
    (a task of a region they oversee through another organization, say): answer as if it were not there."""
    if not allowed:
        abort(404)


def check_or_403(allowed: bool) -> None:
    """For a row the actor may see and knows exists, but may not act on: 403."""
    if not allowed:
        abort(403)
