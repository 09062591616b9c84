"""Region scope: the one place that decides which rows a member of staff may see.

Every query of region-owned data goes through `scoped()` or `scoped_get_or_404()`. A model that
holds such data defines `scope_clause(actor)`, a SQL condition built from the actor's grants;
out-of-scope ids are answered with 404, never 403, so staff cannot probe for what exists.

Subtrees are code-prefix ranges (41 → province, 4101 → 郑州市, 410104 → 管城回族区), written as
`code >= '4101' AND code < '4102'` so that both SQLite and PostgreSQL use the B-tree index.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from flask import abort
from sqlalchemy import ColumnElement, Select, and_, false, or_, select

from app.extensions import db
from app.regions.models import Region, RegionLevel

if TYPE_CHECKING:
    from app.accounts.models import User

T = TypeVar("T")


def prefix_upper(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def code_within(column, prefixes: list[str]) -> ColumnElement[bool]:
    """column lies in any of the subtrees; false when there are none."""
    ranges = [and_(column >= p, column < prefix_upper(p)) for p in minimal_prefixes(prefixes)]
    return or_(*ranges) if ranges else false()


def minimal_prefixes(prefixes: list[str]) -> list[str]:
    """Drop prefixes inside others: ['41', '4101'] → ['41']."""
    result: list[str] = []
    for p in sorted(set(prefixes), key=lambda q: (len(q), q)):
        if not any(p.startswith(q) for q in result):
            result.append(p)
    return sorted(result)


def admin_regions(actor: User | None) -> list[Region]:
    from app.accounts.models import Role

    if actor is None or not getattr(actor, "is_authenticated", False):
        return []
    return [g.region for g in actor.grants if g.role is Role.ADMIN and g.region is not None]


def admin_prefixes(actor: User | None) -> list[str]:
    return minimal_prefixes([r.prefix for r in admin_regions(actor)])


def covers(actor: User | None, code: str | None) -> bool:
    """Is this region code inside one of the actor's admin regions?"""
    return bool(code) and any(code.startswith(p) for p in admin_prefixes(actor))


def highest_admin_level(actor: User | None) -> RegionLevel | None:
    order = [RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY]
    levels = {r.level for r in admin_regions(actor)}
    return next((lv for lv in order if lv in levels), None)


def scoped(model: type[T], actor: User | None) -> Select[tuple[T]]:
    """select(model) limited to what the actor may see."""
    return select(model).where(model.scope_clause(actor))


def scoped_get(model: type[T], ident, actor: User | None) -> T | None:
    mapper_pk = model.__mapper__.primary_key[0]
    try:
        ident = mapper_pk.type.python_type(ident)
    except (TypeError, ValueError):
        return None
    return db.session.scalar(scoped(model, actor).where(mapper_pk == ident))


def scoped_get_or_404(model: type[T], ident, actor: User | None) -> T:
    obj = scoped_get(model, ident, actor)
    if obj is None:
        abort(404)
    return obj


def regions_in_scope(actor: User | None, level: RegionLevel | None = None) -> Select[tuple[Region]]:
    stmt = select(Region).where(code_within(Region.code, admin_prefixes(actor)), Region.is_current)
    if level is not None:
        stmt = stmt.where(Region.level == level)
    return stmt.order_by(Region.code)
