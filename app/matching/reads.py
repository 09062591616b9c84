"""How matching's reads reach the database: the session's connection, and lists of ids as
parameters in the form each database takes best."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any

import psycopg
from sqlalchemy import ARRAY, Connection, Integer, any_, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement

from app.db import raw_cursor
from app.extensions import db


def connection() -> Connection:
    """The session's connection for Core reads, after the flush the ORM would have done first."""
    db.session.flush()
    return db.session.connection()


def one_of(column: Any, name: str, array: bool) -> ColumnElement[bool]:
    """`column` is one of the integers given as parameter `name`: an array parameter on
    PostgreSQL (`= ANY`), so that neither the SQL nor its prepared plan changes with the list's
    length; an expanding IN elsewhere. An empty list matches nothing."""
    if array:
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, type_=Integer(), expanding=True))


def arrays() -> bool:
    """Whether lists go to the database as arrays (see one_of)."""
    return db.engine.dialect.name == "postgresql"


def native(statement: Any, names: Collection[str]) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    """A PostgreSQL statement's SQL with PostgreSQL's own $1, $2 … placeholders (psycopg's RawCursor
    sends it as it is), the parameter names in their order, and the values of the literals
    SQLAlchemy made parameters of (those not in `names`). The parameters are plain numbers,
    strings, dates and lists of integers, which SQLAlchemy would pass on unchanged."""
    compiled = statement.compile(dialect=_numbered_dialect())
    literals = {name: compiled.binds[name].value for name in compiled.positiontup if name not in names}
    return compiled.string, tuple(compiled.positiontup), literals


def read_native(statement: tuple[str, tuple[str, ...], dict[str, Any]], params: dict[str, Any]) -> Sequence[tuple]:
    """The rows of a statement compiled by native(), run on the driver: SQLAlchemy would work out
    the statement's cache key and process each of its parameters and result values at every run
    (for the completion read, four times what the driver takes). (A failing read raises
    psycopg's own error, not SQLAlchemy's wrapper of it; the request's rollback and the pool's
    pre-ping handle it as any.)"""
    sql, order, literals = statement
    raw = connection().connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    with raw_cursor(raw) as cursor:
        cursor.execute(sql, [params[name] if name in params else literals[name] for name in order])
        return cursor.fetchall()


@lru_cache(maxsize=1)
def _numbered_dialect() -> Dialect:
    """The engine's dialect class with numbered placeholders, for compiling only: it never
    connects, so it knows no server version, which none of matching's SELECTs depends on (tests
    compare the rows read this way with those SQLAlchemy's own run reads)."""
    dialect: Any = type(db.engine.dialect)
    return dialect(paramstyle="numeric_dollar")
