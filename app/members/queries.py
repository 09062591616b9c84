"""Reads the pool's pages and forms share: the skill taxonomy as choices, recent imports."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app import access
from app.accounts.models import User
from app.extensions import db
from app.members.models import ImportJob, Skill, SkillCategory


def skill_choices(*, active_only: bool = True) -> list[tuple[int, str, str]]:
    """(id, skill, category) in the taxonomy's order, for a <select> grouped by category."""
    stmt = select(Skill.id, Skill.name, SkillCategory.name).join(SkillCategory)
    if active_only:
        stmt = stmt.where(Skill.active, SkillCategory.active)
    rows = db.session.execute(stmt.order_by(SkillCategory.sort_order, Skill.sort_order, Skill.id)).all()
    return [(skill_id, name, category) for skill_id, name, category in rows]


def skill(skill_id: int) -> Skill | None:
    return db.session.get(Skill, skill_id)


def categories() -> list[SkillCategory]:
    """The skill categories in order, each with its skills (in one statement for all of them)."""
    return list(db.session.scalars(select(SkillCategory).order_by(SkillCategory.sort_order)
                                   .options(selectinload(SkillCategory.skills))))


def recent_imports(actor: User, limit: int = 10) -> list[ImportJob]:
    """The actor's own latest roster imports."""
    return list(db.session.scalars(access.visible(ImportJob, actor).order_by(ImportJob.id.desc()).limit(limit)))
