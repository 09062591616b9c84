"""Bulk inserts for the roster import's write step, in the caller's transaction.

On PostgreSQL the rows go in with COPY (psycopg 3's `cursor.copy()` on the session's own
connection, so they are part of the one transaction) and the new accounts' ids are taken from
their sequence first; elsewhere they go in as SQLAlchemy Core executemany, as before. Both paths
store the same values: each value passes through its column type's bind processing (enums,
UTC datetimes), and the columns a row leaves out get their Python-side defaults, as Core's
insert gives them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert, text

from app.extensions import db

CHUNK = 2000


def use_copy() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def new_ids(table: Table, count: int) -> list[int]:
    """`count` fresh ids from the sequence behind table.id (PostgreSQL)."""
    if count == 0:
        return []
    return list(db.session.scalars(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                        "FROM generate_series(1, :count) ORDER BY 1"),
                                   {"table": table.name, "count": count}))


def _defaults(table: Table, given: set[str]) -> dict[str, Any]:
    """The Python-side defaults of the columns the rows leave out (what Core's insert would add)."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            out[column.name] = default.arg          # type: ignore[attr-defined]
        elif default.is_callable:
            out[column.name] = default.arg(None)     # type: ignore[attr-defined]
    return out


def _copy(table: Table, rows: Sequence[dict[str, Any]]) -> None:
    given = set(rows[0])
    defaults = _defaults(table, given)
    names = [c.name for c in table.columns if c.name in given or c.name in defaults]
    dialect = db.session.get_bind().dialect
    processors = [table.c[name].type._cached_bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    raw = db.session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            values = []
            for name, process in zip(names, processors, strict=True):
                value = row[name] if name in row else defaults[name]
                values.append(process(value) if process is not None and value is not None else value)
            copy.write_row(values)


def insert_rows(table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`."""
    if not rows:
        return
    if use_copy():
        _copy(table, rows)
        return
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start:start + CHUNK])
