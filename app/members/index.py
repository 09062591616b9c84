"""The skill-location index (member_skill_index): what matching reads instead of the full pool.

Every service that changes a member's skills, location, consent, status, limits, availability or
pool level calls reindex_member() in the same transaction, so the index never disagrees with the
profile it summarises.
"""

from __future__ import annotations

from sqlalchemy import delete, insert

from app.extensions import db
from app.members.models import Capacity, MemberProfile, SkillLocation


def index_rows(member: MemberProfile) -> list[dict]:
    """The rows a member should have: none unless they can be matched (active and consenting)."""
    if not member.is_matchable:
        return []
    common = {"member_id": member.id, "capacity": (member.capacity or Capacity.LIGHT).rank,
              "lat": member.lat, "lon": member.lon, "radius_km": member.service_radius_km,
              "availability_mask": member.availability_mask, "limits": member.limits,
              "pool_rank": member.pool_rank, "region_code": member.region_code}
    return [{**common, "skill_id": ms.skill_id, "level": ms.level} for ms in member.skills if ms.skill.active]


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
