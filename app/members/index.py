"""The skill-location index (member_skill_index): what matching reads instead of the full pool.

Every service that changes a member's skills, location, consent, status, limits, availability or
pool level calls reindex_member() in the same transaction, so the index never disagrees with the
profile it summarises.
"""

from __future__ import annotations

import math

from sqlalchemy import delete, insert

from app.extensions import db
from app.members.models import NO_HOURS_CAP, Capacity, EntryStatus, MemberProfile, PoolLevel, SkillLocation

BANDS_PER_DEGREE = 40   # latitude bands of 1/40 degree (~2.8 km); migration 0007 computes the same


def band_of(lat: float) -> int:
    return math.floor(lat * BANDS_PER_DEGREE)


def bands_between(min_lat: float, max_lat: float) -> list[int]:
    """Every band a latitude range touches."""
    return list(range(band_of(min_lat), band_of(max_lat) + 1))


def member_columns(*, member_id: int, capacity: Capacity | None, lat: float, lon: float, radius_km: int,
                   availability_mask: int, limits: int, max_hours_week: int | None, pool_rank: int,
                   pool_city: str, region_code: str) -> dict:
    """The columns every index row of one member shares (add skill_id and level for each skill):
    the one place they are spelled out, for the services, the roster import and the benchmark."""
    return {"member_id": member_id, "capacity": (capacity or Capacity.LIGHT).rank, "lat": lat, "lon": lon,
            "band": band_of(lat), "radius_km": radius_km, "availability_mask": availability_mask,
            "limits": limits, "hours_cap": max_hours_week or NO_HOURS_CAP, "pool_rank": pool_rank,
            "pool_city": pool_city, "region_code": region_code}


def index_rows(member: MemberProfile) -> list[dict]:
    """The rows a member should have: none unless they can be matched (active and consenting)."""
    if not member.is_matchable:
        return []
    city = next((e.region_code for e in member.pool_entries
                 if e.level is PoolLevel.CITY and e.status is EntryStatus.APPROVED), "")
    common = member_columns(member_id=member.id, capacity=member.capacity, lat=member.lat, lon=member.lon,
                            radius_km=member.service_radius_km, availability_mask=member.availability_mask,
                            limits=member.limits, max_hours_week=member.max_hours_week,
                            pool_rank=member.pool_rank, pool_city=city, region_code=member.region_code)
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
