"""The skill-location index (member_skill_index): what matching reads instead of the full pool.

Every service that changes a member's skills, location, consent, status, limits, availability or
pool level calls reindex_member() in the same transaction, so the index never disagrees with the
profile it summarises. Its has_facts flag is set by a flush hook whenever an assignment, a
service record or a period away is written for a member, and recomputed by refresh_facts()
(`flask matching refresh`, nightly) as hours, refusals and periods age out.
"""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import Date, DateTime, Integer, bindparam, delete, event, insert, select, text, update
from sqlalchemy.orm import Session

from app.clock import local_now, utcnow
from app.db import UTCDateTime, rowcount
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
                   pool_city: str, region_code: str, has_facts: bool = False) -> dict:
    """The columns every index row of one member shares (add skill_id and level for each skill):
    the one place they are spelled out, for the services, the roster import and the benchmark."""
    return {"member_id": member_id, "capacity": (capacity or Capacity.LIGHT).rank, "lat": lat, "lon": lon,
            "band": band_of(lat), "radius_km": radius_km, "availability_mask": availability_mask,
            "limits": limits, "hours_cap": max_hours_week or NO_HOURS_CAP, "pool_rank": pool_rank,
            "pool_city": pool_city, "region_code": region_code, "has_facts": has_facts}


def index_rows(member: MemberProfile, has_facts: bool | None = None) -> list[dict]:
    """The rows a member should have: none unless they can be matched (active and consenting)."""
    if not member.is_matchable:
        return []
    if has_facts is None:
        has_facts = member.id in members_with_facts([member.id])
    city = next((e.region_code for e in member.pool_entries
                 if e.level is PoolLevel.CITY and e.status is EntryStatus.APPROVED), "")
    common = member_columns(member_id=member.id, capacity=member.capacity, lat=member.lat, lon=member.lon,
                            radius_km=member.service_radius_km, availability_mask=member.availability_mask,
                            limits=member.limits, max_hours_week=member.max_hours_week,
                            pool_rank=member.pool_rank, pool_city=city, region_code=member.region_code,
                            has_facts=has_facts)
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
    with_facts = members_with_facts(ids)
    for start in range(0, len(ids), 500):
        db.session.execute(delete(SkillLocation).where(SkillLocation.member_id.in_(ids[start:start + 500])))
    rows = [row for m in members for row in index_rows(m, has_facts=m.id in with_facts)]
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(SkillLocation), rows[start:start + 2000])


# --- the has_facts flag ---------------------------------------------------------------------------

# The members who have, now, a fact matching loads besides the index (app.matching.gather
# complete): an open invitation, a refusal in the last 30 days, an accepted task with sessions
# still to come, hours served in the last 30 days, or a period away not yet over. Each window is
# taken a day wider than matching's: the flag may err only on the side of True.
FACTS_SQL = """
    SELECT member_id FROM assignments
     WHERE status = 'invited'
        OR (status = 'declined' AND updated_at >= :month_ago)
        OR (status = 'accepted' AND task_id IN (SELECT task_id FROM task_sessions
                                                WHERE ends_at >= :yesterday AND NOT cancelled))
    UNION SELECT member_id FROM service_records WHERE served_on >= :month_ago_day
    UNION SELECT member_id FROM unavailable_periods WHERE end_date >= :yesterday_day
"""


def _facts_params() -> dict:
    now = local_now()
    return {"month_ago": utcnow() - timedelta(days=31), "yesterday": now - timedelta(days=1),
            "month_ago_day": (now - timedelta(days=31)).date(), "yesterday_day": (now - timedelta(days=1)).date()}


def _facts():
    """FACTS_SQL as a subquery with a member_id column (its parameters: _facts_params())."""
    query = text(FACTS_SQL).bindparams(bindparam("month_ago", type_=UTCDateTime()),
                                       bindparam("yesterday", type_=DateTime()),
                                       bindparam("month_ago_day", type_=Date()), bindparam("yesterday_day", type_=Date()))
    return query.columns(member_id=Integer).subquery("facts")


def members_with_facts(member_ids: list[int]) -> set[int]:
    """Which of these members have a fact matching loads besides the index."""
    facts = _facts()
    found: set[int] = set()
    for start in range(0, len(member_ids), 500):
        chunk = member_ids[start:start + 500]
        found |= set(db.session.scalars(select(facts.c.member_id).where(facts.c.member_id.in_(chunk)),
                                        _facts_params()))
    return found


def refresh_facts() -> tuple[int, int]:
    """Recompute every member's flag (nightly): set where a fact exists, clear where none is
    left. Only rows that change are written. Returns (set, cleared)."""
    facts = _facts()
    having = SkillLocation.member_id.in_(select(facts.c.member_id))
    params = _facts_params()
    flagged = db.session.execute(update(SkillLocation).where(~SkillLocation.has_facts, having)
                                 .values(has_facts=True).execution_options(synchronize_session=False), params)
    cleared = db.session.execute(update(SkillLocation).where(SkillLocation.has_facts, ~having)
                                 .values(has_facts=False).execution_options(synchronize_session=False), params)
    return rowcount(flagged), rowcount(cleared)


FACT_TABLES = {"assignments", "service_records", "unavailable_periods"}


def _flag_members_with_new_facts(session: Session, _context) -> None:
    """After a flush that wrote an assignment, a service record or a period away, flag the members
    concerned in the same transaction (whatever service wrote it)."""
    touched = {obj.member_id for obj in (*session.new, *session.dirty)
               if getattr(obj, "__tablename__", None) in FACT_TABLES and obj.member_id is not None}
    if touched:
        session.execute(update(SkillLocation).where(SkillLocation.member_id.in_(sorted(touched)),
                                                    ~SkillLocation.has_facts).values(has_facts=True)
                        .execution_options(synchronize_session=False))


event.listen(Session, "after_flush", _flag_members_with_new_facts)
