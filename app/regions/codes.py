"""Region codes as subtrees: the 6-digit adcode's prefixes (41 → the province, 4101 → 郑州市,
410104 → 管城回族区), and "inside these regions" as SQL. Pure: no database access.

Subtrees are code-prefix ranges, written as `code >= '4101' AND code < '4102'` so that both SQLite
and PostgreSQL use the B-tree index on the column.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import InstrumentedAttribute


def prefix_of(code: str, level: str) -> str:
    """The prefix every region inside region `code` of `level` (province, city, county) starts with."""
    if level == "province":
        return code[:2]
    if level == "city":
        return code[:4]
    return code


def prefix_upper(prefix: str) -> str:
    """The smallest code after every code with this prefix."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def minimal_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Drop prefixes inside others: ['41', '4101'] → ['41']."""
    result: list[str] = []
    for p in sorted(set(prefixes), key=lambda q: (len(q), q)):
        if not any(p.startswith(q) for q in result):
            result.append(p)
    return sorted(result)


def within(code: str | None, prefixes: Iterable[str]) -> bool:
    """Is this code inside one of the subtrees?"""
    return code is not None and any(code.startswith(p) for p in prefixes)


def code_within(column: ColumnElement[Any] | InstrumentedAttribute[Any], prefixes: Iterable[str]) -> ColumnElement[bool]:
    """`column` lies in any of the subtrees; false when there are none."""
    ranges = [and_(column >= p, column < prefix_upper(p)) for p in minimal_prefixes(prefixes)]
    return or_(*ranges) if ranges else false()
