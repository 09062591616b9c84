"""How matching's reads reach the database: the session's connection, and lists of ids as
parameters in the form each database takes best."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ARRAY, Connection, Integer, any_, bindparam
from sqlalchemy.sql.elements import ColumnElement

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
