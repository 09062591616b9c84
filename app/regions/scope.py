"""Region scope: the one place that decides which rows a member of staff may see.

Every query of region-owned data goes through `scoped()` or `scoped_get_or_404()`. A model that
holds such data defines `scope_clause(actor)`, a SQL condition built from the actor's grants;
out-of-scope ids are answered with 404, never 403, so staff cannot probe for what exists.

Subtrees are code-prefix ranges (app.regions.codes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from flask import abort
from sqlalchemy import Select, select

from app.extensions import db
from app.regions.codes import code_within, minimal_prefixes, prefix_upper  # noqa: F401  (moving to app.access)
from app.regions.models import Region, RegionLevel

if TYPE_CHECKING:
    from app.accounts.models import User

T = TypeVar("T")


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
