"""The skill-location index (member_skill_index): what matching reads instead of the full pool.

Every service that changes a member's skills, location, consent or status calls reindex_member()
in the same transaction, so the index never disagrees with the profile it summarises.
"""

from __future__ import annotations

from sqlalchemy import delete, insert

from app.extensions import db
from app.members.models import Capacity, MemberProfile, SkillLocation


def index_rows(member: MemberProfile) -> list[dict]:
    """The rows a member should have: none unless they can be matched (active and consenting)."""
    if not member.is_matchable:
        return []
    capacity = (member.capacity or Capacity.LIGHT).rank
    return [{"skill_id": ms.skill_id, "member_id": member.id, "level": ms.level, "capacity": capacity,
             "lat": member.lat, "lon": member.lon} for ms in member.skills if ms.skill.active]


def reindex_member(member: MemberProfile) -> None:
    db.session.flush()
    db.session.execute(delete(SkillLocation).where(SkillLocation.member_id == member.id))
    rows = index_rows(member)
    if rows:
        db.session.execute(insert(SkillLocation), rows)


def reindex_members(members: list[MemberProfile]) -> None:
    """The same for many members at once (roster import)."""
    if not members:
        return
    db.session.flush()
    ids = [m.id for m in members]
    for start in range(0, len(ids), 500):
        db.session.execute(delete(SkillLocation).where(SkillLocation.member_id.in_(ids[start:start + 500])))
    rows = [row for m in members for row in index_rows(m)]
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(SkillLocation), rows[start:start + 2000])
