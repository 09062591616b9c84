"""The three-level pool: applying, nominating, deciding and withdrawing.

county ← a member applies, or an organizer or admin nominates; a county admin decides.
city   ← an approved county talent is nominated; an admin of the city decides.
province ← an approved city talent (or county talent of a county directly under the province)
         is nominated; a province admin decides.
An admin decides for any region inside their own, so a city admin can stand in for a county.
Entries are never reopened: every change is also an appended PoolEvent.
"""

from __future__ import annotations

from sqlalchemy import Select, select

from app import access
from app.accounts.models import User
from app.audit.services import record_audit
from app.clock import utcnow
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.links import path_for
from app.members.index import reindex_member
from app.members.models import EntryOrigin, EntryStatus, MemberProfile, MemberStatus, PoolEntry, PoolEvent, PoolLevel
from app.notifications.services import notify
from app.regions.models import Region, RegionLevel

LIVE = (EntryStatus.NOMINATED, EntryStatus.APPROVED)


def live_entry(member: MemberProfile, level: PoolLevel) -> PoolEntry | None:
    return next((e for e in member.pool_entries if e.level is level and e.status in LIVE), None)


def target_region(member: MemberProfile, level: PoolLevel) -> Region:
    """The region whose pool a member joins at a level: their county, its city, the province."""
    county = db.session.get_one(Region, member.region_code)
    if level is PoolLevel.COUNTY:
        return county
    parent = db.session.get_one(Region, county.parent_code)
    if level is PoolLevel.CITY:
        if parent.level is not RegionLevel.CITY:
            raise Invalid(f"{county.name}直属省管辖，没有市级人才库，请直接推荐到省级")
        return parent
    return parent if parent.level is RegionLevel.PROVINCE else db.session.get_one(Region, parent.parent_code)


def _basis(member: MemberProfile, level: PoolLevel) -> PoolEntry | None:
    """The approved lower-level entry a nomination rests on (None for the county pool)."""
    if level is PoolLevel.COUNTY:
        return None
    below = PoolLevel.COUNTY if level is PoolLevel.CITY else PoolLevel.CITY
    entry = live_entry(member, below)
    if level is PoolLevel.PROVINCE and entry is None:
        county = db.session.get_one(Region, member.region_code)
        if db.session.get_one(Region, county.parent_code).level is RegionLevel.PROVINCE:
            entry = live_entry(member, PoolLevel.COUNTY)   # 济源: county straight to province
    if entry is None or entry.status is not EntryStatus.APPROVED:
        raise Invalid(f"要推荐到{level.label}人才库，需要先通过{below.label}人才库审核")
    return entry


def _create(member: MemberProfile, level: PoolLevel, *, actor: User, origin: EntryOrigin, reason: str) -> PoolEntry:
    if member.status is MemberStatus.DELETED:
        raise Invalid("这位老同志已注销")
    existing = live_entry(member, level)
    if existing is not None:
        raise Conflict(f"已经在{level.label}人才库中（{existing.status.label}），不用重复提交")
    basis = _basis(member, level)
    region = target_region(member, level)
    entry = PoolEntry(member_id=member.id, level=level, region_code=region.code, status=EntryStatus.NOMINATED,
                      origin=origin, basis_id=basis.id if basis else None, nominated_by_id=actor.id,
                      reason=(reason or "").strip())
    member.pool_entries.append(entry)
    db.session.flush()
    db.session.add(PoolEvent(entry_id=entry.id, actor_id=actor.id, action=origin.value, note=entry.reason))
    record_audit(actor, f"pool.{origin.value}", entry, detail={"level": level.value, "member_id": member.id})
    return entry


def apply(*, actor: User, member: MemberProfile, reason: str = "") -> PoolEntry:
    """A member asks to join their county's pool."""
    if not access.may_decide_for_self(actor, member):
        raise PermissionDenied("只能为自己申请；推荐别人请用“推荐入库”")
    return _create(member, PoolLevel.COUNTY, actor=actor, origin=EntryOrigin.APPLIED, reason=reason)


def nominable_levels(actor: User, member: MemberProfile) -> list[PoolLevel]:
    """The levels this actor could put this member forward for now."""
    result = []
    for level in PoolLevel:
        if live_entry(member, level) is not None or not access.may_nominate(actor, member, level):
            continue
        try:
            _basis(member, level)
            target_region(member, level)
        except Invalid:
            continue
        result.append(level)
    return result


def nominate(*, actor: User, member: MemberProfile, level: PoolLevel, reason: str) -> PoolEntry:
    """Put a member forward for a pool: organizers and admins for the county pool; admins of the
    member's region for the city and province pools (on an approved lower-level entry)."""
    if not access.may_nominate(actor, member, level):
        raise PermissionDenied("不能推荐这位老同志")
    if len((reason or "").strip()) < 4:
        raise Invalid("请写明推荐理由（至少 4 个字）", field="reason")
    entry = _create(member, level, actor=actor, origin=EntryOrigin.NOMINATED, reason=reason)
    notify(member.user, kind="pool.nominated", title=f"您被推荐进入{entry.region.name}{level.label}银发人才库",
           body=f"推荐理由：{entry.reason}", link=path_for("members.profile"))
    return entry


def nominate_at(*, actor: User, member: MemberProfile, level: str | None, levels: list[PoolLevel],
                reason: str) -> PoolEntry:
    """nominate() as the nomination page asks it: the level by its value, one of `levels` offered."""
    chosen = next((lv for lv in levels if lv.value == level), None)
    if chosen is None:
        raise Invalid("请选择推荐到哪一级", field="level")
    return nominate(actor=actor, member=member, level=chosen, reason=reason)


def decide_by_choice(*, actor: User, entry: PoolEntry, decision: str | None, note: str = "") -> PoolEntry:
    """decide() as the decision page asks it: "approve" or "reject"."""
    if decision not in ("approve", "reject"):
        raise Invalid("请选择“通过”或“不通过”")
    return decide(actor=actor, entry=entry, approve=decision == "approve", note=note)


def decide(*, actor: User, entry: PoolEntry, approve: bool, note: str = "") -> PoolEntry:
    """Approve or reject a waiting entry. A rejection needs a reason the member will read."""
    if not access.may_decide_entry(actor, entry):
        raise PermissionDenied("只有该地区的管理员可以审核")
    if entry.status is not EntryStatus.NOMINATED:
        raise Conflict(f"这条申请已经处理过了（{entry.status.label}）")
    note = (note or "").strip()
    if not approve and len(note) < 4:
        raise Invalid("不通过时请写明原因（至少 4 个字），老同志会看到", field="note")
    if entry.member.status is MemberStatus.DELETED:
        raise Conflict("这位老同志已注销")
    entry.status = EntryStatus.APPROVED if approve else EntryStatus.REJECTED
    entry.decided_by_id, entry.decided_at, entry.decision_note = actor.id, utcnow(), note
    reindex_member(entry.member)   # the pool level is part of the matching index
    db.session.add(PoolEvent(entry_id=entry.id, actor_id=actor.id, action=entry.status.value, note=note))
    record_audit(actor, f"pool.{entry.status.value}", entry, detail={"level": entry.level.value})
    title = (f"您已进入{entry.region.name}{entry.level.label}银发人才库" if approve
             else f"您的{entry.level.label}人才库申请未通过")
    notify(entry.member.user, kind=f"pool.{entry.status.value}", title=title, body=note, link=path_for("members.profile"))
    return entry


def withdraw(*, actor: User, entry: PoolEntry, note: str = "") -> list[PoolEntry]:
    """Leave (member) or remove from (admin) a pool. Higher levels resting on it go too."""
    own = actor.id == entry.member_id
    if not access.may_withdraw_entry(actor, entry):
        raise PermissionDenied("不能办理这位老同志的退出")
    if entry.status not in LIVE:
        raise Conflict(f"这条记录已经是“{entry.status.label}”状态")
    note = (note or "").strip()
    if not own and len(note) < 4:
        raise Invalid("请写明退出原因（至少 4 个字）", field="note")
    now = utcnow()
    affected = [entry] + [e for e in entry.member.pool_entries
                          if e.status in LIVE and e.level.rank > entry.level.rank]
    for e in affected:
        e.status, e.withdrawn_by_id, e.withdrawn_at = EntryStatus.WITHDRAWN, actor.id, now
        e.withdrawal_note = note if e is entry else f"随{entry.level.label}人才库一并退出"
        db.session.add(PoolEvent(entry_id=e.id, actor_id=actor.id, action="withdrawn", note=e.withdrawal_note))
        record_audit(actor, "pool.withdrawn", e, detail={"level": e.level.value})
    reindex_member(entry.member)
    if not own:
        notify(entry.member.user, kind="pool.withdrawn",
               title=f"您已退出{entry.region.name}{entry.level.label}银发人才库", body=note, link=path_for("members.profile"))
    return affected


def decision_queue(actor: User) -> Select[PoolEntry]:
    """Waiting entries an admin may decide, oldest first."""
    return (select(PoolEntry).join(MemberProfile).where(
        PoolEntry.status == EntryStatus.NOMINATED, access.pool_entries_visible(actor),
        MemberProfile.status != MemberStatus.DELETED).order_by(PoolEntry.nominated_at, PoolEntry.id))
