"""What a database holds, in a few numbers: each table's row count and a SHA-256 of its rows.

The checksum is deterministic: rows are read in primary-key order (text keys in byte order, so a
database's collation cannot change it), every value is written in one canonical form (instants in
UTC, bytes in hex, numbers exactly), and each value is length-prefixed so that no two different
rows can be written the same way. A table without a primary key hashes the sorted digests of its
rows instead. Two databases with equal digests hold the same rows, value for value; the backup's
manifest keeps the digests of what was backed up, and `verify` recomputes them on a restored copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

import sqlalchemy as sa

ROWS_PER_FETCH = 5_000


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str

    def as_json(self) -> dict[str, int | str]:
        return {"rows": self.rows, "sha256": self.sha256}


def canonical(value: object) -> str:
    """One value as text, tagged with its kind, the same whichever driver read it."""
    if value is None:
        return "n"
    if isinstance(value, bool):
        return f"b{int(value)}"
    if isinstance(value, int):
        return f"i{value}"
    if isinstance(value, float):
        return f"f{value!r}"
    if isinstance(value, Decimal):
        return f"d{value}"
    if isinstance(value, datetime):
        return f"t{(value.astimezone(UTC) if value.tzinfo is not None else value).isoformat()}"
    if isinstance(value, date | time):
        return f"t{value.isoformat()}"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"x{bytes(value).hex()}"
    if isinstance(value, str):
        return f"s{value}"
    if isinstance(value, dict | list):
        return "j" + json.dumps(value, sort_keys=True, ensure_ascii=False, default=canonical)
    return f"{type(value).__name__}:{value!r}"


def encode_row(row: tuple[object, ...] | sa.Row[tuple[object, ...]]) -> bytes:
    parts = (canonical(value) for value in row)
    return ("\x1f".join(f"{len(part)}:{part}" for part in parts) + "\n").encode()


def table_names(connection: sa.Connection) -> list[str]:
    """The tables of the default schema (SQLite's own tables left out), sorted."""
    return sorted(sa.inspect(connection).get_table_names())


def schema_objects(connection: sa.Connection) -> list[str]:
    """Tables, views and sequences of the default schema: what makes a database not empty."""
    inspector = sa.inspect(connection)
    found = inspector.get_table_names() + inspector.get_view_names()
    if connection.dialect.name == "postgresql":
        found += inspector.get_sequence_names()
    return sorted(found)


def _order_by(connection: sa.Connection, inspector: sa.Inspector, table: str) -> list[str]:
    quote = connection.dialect.identifier_preparer.quote
    keys = inspector.get_pk_constraint(table).get("constrained_columns") or []
    types = {column["name"]: column["type"] for column in inspector.get_columns(table)}
    order = []
    for key in keys:
        text_key = isinstance(types.get(key), sa.String) and connection.dialect.name == "postgresql"
        order.append(f'{quote(key)} COLLATE "C"' if text_key else quote(key))
    return order


def digest_table(connection: sa.Connection, table: str, inspector: sa.Inspector | None = None) -> TableDigest:
    """The table's row count and the SHA-256 of its column names and rows, in key order."""
    quote = connection.dialect.identifier_preparer.quote
    order = _order_by(connection, inspector or sa.inspect(connection), table)
    statement = f"SELECT * FROM {quote(table)}" + (f" ORDER BY {', '.join(order)}" if order else "")
    result = connection.execution_options(stream_results=True, yield_per=ROWS_PER_FETCH).execute(sa.text(statement))
    digest = hashlib.sha256(encode_row(tuple(result.keys())))
    rows = 0
    if order:
        for row in result:
            digest.update(encode_row(row))
            rows += 1
    else:  # no key to order by: the rows' own digests, sorted
        row_digests = sorted(hashlib.sha256(encode_row(row)).digest() for row in result)
        rows = len(row_digests)
        for row_digest in row_digests:
            digest.update(row_digest)
    return TableDigest(rows=rows, sha256=digest.hexdigest())


def digest_database(connection: sa.Connection) -> dict[str, TableDigest]:
    inspector = sa.inspect(connection)
    return {table: digest_table(connection, table, inspector) for table in sorted(inspector.get_table_names())}


def alembic_revision(connection: sa.Connection) -> str | None:
    """The schema's migration revision (several heads joined by commas), or None if not migrated."""
    if "alembic_version" not in table_names(connection):
        return None
    revisions = connection.scalars(sa.text("SELECT version_num FROM alembic_version ORDER BY version_num")).all()
    return ",".join(revisions) or None
