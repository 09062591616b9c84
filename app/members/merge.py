"""Merging two accounts of the same person into one (issue 18, item 5).

Staff who may look after both accounts (access.may_merge_accounts) choose which one stays (its
sign-in phone stays); everything of the other moves to it in the caller's one transaction, and the
other account is closed:

- skills: the union; a skill on both keeps the higher level, the more years and the certificate
  that lasts longer; the weekly availability is the union of both grids; dates away move (a period
  identical to one already held is dropped); profile fields the survivor left empty are filled from
  the other, and a consent only the other gave moves with its date, method and taker;
- pool entries: all move with their history (a "merged" line added to each); when both hold a live
  entry at the same level, the stronger stays live (approved over nominated) and the other is
  withdrawn with a note, so the level is held once and nothing is erased;
- assignments: one per task; on a task both were on, the stronger state stays (accepted > waitlisted
  > applied > invited > withdrawn > declined > rejected) and the other's reminders, dates released
  and ledger rows move onto it; a place freed that way goes to the waitlist;
- the ledger of hours (service_records): rows move by changing member_id and assignment_id only. The
  trigger that locks confirmed hours (service_records_locked, migration 0015) refuses changes of
  hours or attendance and allows this; hours are never rewritten, so the totals before and after are
  identical. Two accounts with confirmed hours for the same session are refused: one person cannot
  have served the same session twice, and which entry is right is for the organizer to settle;
- attendance: moves; a check-in both accounts have for the same session keeps the earlier arrival and
  the later departure; scanned check-in codes (kept for a minute against replays) are dropped;
- notifications, booking reminders, proofs (certificates), training and commendation records move;
  drafts move unless the survivor has one of the same kind;
- every reference naming the other account as the one who did something (tasks created, entries
  decided, hours confirmed…) is repointed: it is the same person;
- the audit trail is not rewritten: its events keep the account that acted then, and the merge
  record (account_merges) says which account that became.

The closed account stays as a row, disabled and paused: it cannot sign in, its sessions end, its
pending texts and live codes stop, it is left out of matching. Its phone number is freed (set
empty), so that it can be registered again or given to the surviving account with "更换登录手机号"
after an identity check; keeping it as a second login would let a number nobody looks after any more
sign into the account. A merge cannot be undone automatically: the record (account_merges) keeps the
ids of every row moved per table, the contents of the few rows deleted as duplicates (a skill both
held, a second check-in to one session, the weaker assignment to one task) and the freed number, so
that it can be reviewed and reconstructed by hand; the audit event points at it, with the number
masked.

Every foreign key to users or member_profiles is listed in HANDLED, with what a merge does to it;
tests/members/test_merge.py fails when one is added that is not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, and_, delete, exists, func, or_, select, update

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.accounts.phone import mask_phone, normalise_phone
from app.accounts.sessions import end_user_sessions
from app.attendance.models import Attendance, AttendanceScan
from app.audit.services import record_audit
from app.bookings.models import BookingReminder
from app.clock import utcnow
from app.db import rowcount
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.members.care import NOT_YOURS, merged_into, stop_messages
from app.members.index import reindex_member
from app.members.models import (
    AccountMerge,
    EntryStatus,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    PoolEntry,
    PoolEvent,
    PoolLevel,
    ProfileDraft,
    UnavailablePeriod,
)
from app.notifications.models import Notification
from app.notifications.services import notify
from app.proofs.models import Certificate, Commendation, Training
from app.regions.models import Region
from app.tasks.models import (
    Assignment,
    AssignmentStatus,
    ServiceRecord,
    SessionRelease,
    TaskReminder,
    TaskSession,
)
from app.tasks.reminders import describe
from app.tasks.services import fill_from_waitlist

# (table, column) → what a merge does with rows naming the closed account there.
HANDLED: dict[tuple[str, str], str] = {
    ("member_profiles", "id"): "the closed profile stays, paused, out of matching",
    ("member_skills", "member_id"): "union; the higher level, years and certificate on a skill both hold",
    ("unavailable_periods", "member_id"): "moved; identical periods kept once",
    ("member_skill_index", "member_id"): "rebuilt for both",
    ("pool_entries", "member_id"): "moved with their history; a level held once",
    ("assignments", "member_id"): "moved; one per task, the stronger state",
    ("service_records", "member_id"): "moved (member and assignment only, the lock trigger allows it)",
    ("certificates", "member_id"): "moved: a proof issued stays valid",
    ("volunteer_trainings", "member_id"): "moved",
    ("volunteer_commendations", "member_id"): "moved",
    ("attendances", "user_id"): "moved; one per session, the earlier arrival and later departure",
    ("attendance_scans", "user_id"): "dropped: kept a minute against replays only",
    ("notifications", "user_id"): "moved",
    ("booking_reminders", "user_id"): "moved; one per date",
    ("profile_drafts", "owner_id"): "moved unless the survivor has a draft of the same kind",
    ("role_grants", "user_id"): "the member role held once; staff roles refuse the merge",
    ("user_sessions", "user_id"): "ended",
    ("recovery_codes", "user_id"): "live codes expired, kept as history",
    ("sms_outbox", "user_id"): "pending texts stopped; texts sent stay with the number they went to",
    ("audit_events", "actor_id"): "kept: the trail is not rewritten; the merge record maps the ids",
    ("account_merges", "survivor_id"): "the merge record itself",
    ("account_merges", "merged_id"): "the merge record itself",
    ("account_merges", "actor_id"): "kept: who merged",
}

# Columns naming the account as the one who did something: repointed to the survivor.
ACTOR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("member_profiles", "consent_taken_by_id"), ("member_profiles", "registered_by_id"),
    ("import_jobs", "created_by_id"), ("import_mappings", "updated_by_id"), ("jobs", "created_by_id"),
    ("recovery_codes", "issued_by_id"), ("calendar_feeds", "created_by_id"), ("tasks", "created_by_id"),
    ("assignments", "invited_by_id"), ("certificates", "issued_by_id"), ("closures", "created_by_id"),
    ("pool_entries", "nominated_by_id"), ("pool_entries", "decided_by_id"), ("pool_entries", "withdrawn_by_id"),
    ("pool_events", "actor_id"), ("role_grants", "granted_by_id"), ("volunteer_trainings", "recorded_by_id"),
    ("volunteer_commendations", "recorded_by_id"), ("bookings", "booked_by_id"), ("bookings", "decided_by_id"),
    ("booking_occurrences", "cancelled_by_id"), ("service_records", "confirmed_by_id"),
    ("attendances", "recorded_by_id"),
)
for _key in ACTOR_COLUMNS:
    HANDLED[_key] = "repointed to the survivor: the same person did it"

# Which state of a member on a task is kept when both accounts are on it.
STRENGTH = {AssignmentStatus.ACCEPTED: 6, AssignmentStatus.WAITLISTED: 5, AssignmentStatus.APPLIED: 4,
            AssignmentStatus.INVITED: 3, AssignmentStatus.WITHDRAWN: 2, AssignmentStatus.DECLINED: 1,
            AssignmentStatus.REJECTED: 0}

NOT_UNDONE = "合并后不能自动撤销：系统会记录每一项转移，需要时由管理员据此手工恢复。"


@dataclass
class Side:
    """One account as the comparison shows it."""

    member: MemberProfile
    phone: str
    skills: list[str]
    pool: list[str]
    hours: float
    assignments: int
    sessions: int
    merged_into: int | None


def was_merged(user_id: int) -> bool:
    return db.session.scalar(select(AccountMerge.id).where(AccountMerge.merged_id == user_id)) is not None


def side(actor: User, member: MemberProfile) -> Side:
    phone = member.user.phone or ""
    hours = db.session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.member_id == member.id, ServiceRecord.attended)) or 0
    sessions = db.session.scalar(select(func.count(func.distinct(ServiceRecord.session_id))).where(
        ServiceRecord.member_id == member.id, ServiceRecord.corrects_id.is_(None), ServiceRecord.attended)) or 0
    count = db.session.scalar(select(func.count()).select_from(Assignment).where(
        Assignment.member_id == member.id)) or 0
    return Side(member=member, phone=phone if access.sees_phone(actor, member) else mask_phone(phone),
                skills=[f"{s.skill.name}（{s.level_label}）" for s in member.skills],
                pool=[f"{e.level.label}·{e.status.label}" for e in member.pool_entries],
                hours=round(float(hours), 2), assignments=count, sessions=sessions,
                merged_into=merged_into(member))


def find_duplicates(actor: User, member: MemberProfile, query: str, limit: int = 20) -> list[MemberProfile]:
    """Accounts the actor looks after that may be the same person: by a whole phone number, its last
    four digits or more, or a name; never the member's own account, nor one already merged away."""
    query = (query or "").strip()
    if not query:
        return []
    phone = normalise_phone(query)
    if phone is not None:
        match = User.phone == phone
    elif query.isdigit() and len(query) >= 4:
        match = User.phone.endswith(query, autoescape=True)
    else:
        match = User.name.contains(query, autoescape=True)
    return list(db.session.scalars(
        select(MemberProfile).join(User, User.id == MemberProfile.id)
        .where(access.accounts_cared_for(actor), MemberProfile.id != member.id, match,
               ~exists().where(AccountMerge.merged_id == MemberProfile.id))
        .order_by(User.name, MemberProfile.id).limit(limit)))


def _lock(*user_ids: int) -> None:
    """Both accounts' rows, locked in id order so that two merges of the same pair queue (PostgreSQL;
    SQLite's writing transaction already holds the database)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(User.id).where(User.id.in_(user_ids)).order_by(User.id).with_for_update())


def check(*, actor: User, survivor: MemberProfile, merged: MemberProfile) -> None:
    """Refuse a merge that cannot be done, with a message staff can act on; changes nothing."""
    if survivor.id == merged.id:
        raise Invalid("不能把一个账号和它自己合并，请选择另一个账号", field="other")
    if not access.may_merge_accounts(actor, survivor, merged):
        raise PermissionDenied(NOT_YOURS)
    for member in (survivor, merged):
        if was_merged(member.id):
            raise Conflict(f"{member.user.name}（编号 {member.id}）的账号已经合并到别的账号了，不能再合并")
        if member.deceased_at is not None:
            raise Conflict(f"{member.user.name}（编号 {member.id}）已标记逝世，不能合并。如果标记错了，请先撤销逝世标记")
    if merged.user.staff_grants:
        raise Conflict("要关闭的账号担任着工作人员角色，请先由上级管理员撤销这些角色，或选它作为保留的账号")
    mine = select(ServiceRecord.session_id).where(
        ServiceRecord.member_id == survivor.id, ServiceRecord.corrects_id.is_(None))
    both = db.session.scalars(select(TaskSession).where(TaskSession.id.in_(
        select(ServiceRecord.session_id).where(ServiceRecord.member_id == merged.id,
                                               ServiceRecord.corrects_id.is_(None),
                                               ServiceRecord.session_id.in_(mine))))
        .order_by(TaskSession.starts_at)).all()
    if both:
        names = "；".join(f"{s.task.title} {describe(s)}" for s in both[:3])
        raise Conflict(f"两个账号在同一次服务里都有确认的时长（{names}），同一个人不能重复计时。"
                       "请先由组织者核实并更正其中一个账号的时长，再合并。")


def merge(*, actor: User, survivor: MemberProfile, merged: MemberProfile, identity_checked: bool) -> AccountMerge:
    """Merge `merged` into `survivor` (see the module's docstring). Flushes; the caller commits, so
    the merge is all or nothing."""
    if not identity_checked:
        raise Invalid("请先核实两个账号是同一个人（当面核对身份证，或回拨两个登记过的电话），再勾选确认",
                      field="identity_checked")
    _lock(survivor.id, merged.id)
    for row in (survivor.user, merged.user, survivor, merged):   # as they are now, under the lock
        db.session.refresh(row)
    check(actor=actor, survivor=survivor, merged=merged)
    s, m = survivor.id, merged.id
    moved: dict[str, Any] = {}
    hours_before = _hours(s) + _hours(m)

    moved["member_skills"] = _merge_skills(survivor, merged)
    moved["unavailable_periods"] = _merge_unavailable(s, m)
    moved["profile"] = _fill_profile(survivor, merged)
    moved["pool_entries"] = _merge_pool(actor, survivor, merged)
    moved["assignments"], freed = _merge_assignments(s, m)
    moved["service_records"] = _ids_moved(ServiceRecord, ServiceRecord.member_id, m, s)
    moved["attendances"] = _merge_attendance(s, m)
    moved["attendance_scans"] = {"dropped": _rowcount(delete(AttendanceScan).where(AttendanceScan.user_id == m))}
    moved["notifications"] = _ids_moved(Notification, Notification.user_id, m, s)
    moved["booking_reminders"] = _merge_booking_reminders(s, m)
    moved["certificates"] = _ids_moved(Certificate, Certificate.member_id, m, s)
    moved["volunteer_trainings"] = _ids_moved(Training, Training.member_id, m, s)
    moved["volunteer_commendations"] = _ids_moved(Commendation, Commendation.member_id, m, s)
    moved["profile_drafts"] = _merge_drafts(s, m)
    moved["actor_references"] = _repoint_actors(s, m)

    # Close the other account.
    user = merged.user
    old_phone = user.phone
    moved["role_grants"] = _merge_member_role(s, m)
    user.phone, user.active = None, False
    merged.status = MemberStatus.PAUSED
    merged.claim_code_hash = merged.claim_code_expires_at = None
    moved["user_sessions_ended"] = end_user_sessions(m)
    moved["texts_stopped"] = stop_messages(user)
    db.session.flush()
    db.session.expire_all()
    for task_id in freed:
        fill_from_waitlist(task_id)
    reindex_member(survivor)
    reindex_member(merged)

    hours_after = _hours(s)
    if abs(hours_after - hours_before) > 0.001:   # the ledger rows moved whole; anything else is a bug
        raise Conflict("合并后服务时长合计和合并前不一致，已取消合并，请联系技术支持")
    counts = _counts(moved)
    # The record keeps the freed number whole (a reconstruction needs it; no page shows the record);
    # the audit event, which staff read, has it masked as every phone change does.
    detail = {"survivor_id": s, "merged_id": m, "merged_name": user.name, "merged_phone": old_phone,
              "identity_checked": True, "hours": round(hours_after, 2), "counts": counts, "rows": moved}
    record = AccountMerge(survivor_id=s, merged_id=m, actor_id=actor.id,
                          detail=json.dumps(detail, ensure_ascii=False, default=str))
    db.session.add(record)
    db.session.flush()
    record_audit(actor, "member.merge", survivor,
                 detail={"merge_id": record.id, "survivor_id": s, "merged_id": m, "merged_phone": mask_phone(old_phone),
                        "counts": counts, "hours": round(hours_after, 2)})
    notify(survivor.user, kind="account", title="您的两个银晖账号已合并",
           body=f"工作人员{actor.name}已把您的另一个账号（{mask_phone(old_phone) or '未登记手机号'}）合并到这个账号："
                "技能、服务时长和参加的服务都在这里了。以后请用这个账号登录。")
    return record


# --- the steps ---------------------------------------------------------------------------------------


def _rowcount(stmt: Any) -> int:
    return rowcount(db.session.execute(stmt, execution_options={"synchronize_session": False}))


def _counts(moved: dict[str, Any]) -> dict[str, int]:
    """How many rows each step moved, dropped or combined: "assignments.moved": 3, …"""
    out: dict[str, int] = {}
    for step, value in moved.items():
        if step == "profile":
            if value:
                out["profile.fields_filled"] = len(value)
            continue
        parts = value.items() if isinstance(value, dict) else [("", value)]
        for kind, v in parts:
            n = len(v) if isinstance(v, (list, dict)) else int(v) if isinstance(v, (int, bool)) else 1
            if n:
                out[f"{step}.{kind}" if kind else step] = n
    return out


def _hours(member_id: int) -> float:
    return float(db.session.scalar(select(func.coalesce(func.sum(ServiceRecord.hours), 0)).where(
        ServiceRecord.member_id == member_id, ServiceRecord.attended)) or 0)


def _ids_moved(model: Any, column: Any, old: int, new: int) -> list[int]:
    ids = list(db.session.scalars(select(model.id).where(column == old).order_by(model.id)))
    if ids:
        db.session.execute(update(model).where(model.id.in_(ids)).values({column.key: new}),
                           execution_options={"synchronize_session": False})
    return ids


def _move_unless_held(model: Any, owner: Any, key: Any, old: int, new: int) -> dict[str, list[int]]:
    """`old`'s rows move to `new`, except those for a `key` that `new` already holds, which are
    deleted as duplicates (a reminder of the same date, a draft of the same kind)."""
    held = select(key).where(owner == new)
    clash = list(db.session.scalars(select(model.id).where(owner == old, key.in_(held))))
    if clash:
        db.session.execute(delete(model).where(model.id.in_(clash)), execution_options={"synchronize_session": False})
    return {"moved": _ids_moved(model, owner, old, new), "dropped": clash}


def _merge_skills(survivor: MemberProfile, merged: MemberProfile) -> dict[str, list[Any]]:
    """Skills the survivor lacks move; a skill both hold keeps the better of each (the other
    account's row, deleted, is kept in the merge record)."""
    held = {s.skill_id: s for s in survivor.skills}
    moved: list[int] = []
    combined: list[dict[str, Any]] = []
    for skill in list(merged.skills):
        mine = held.get(skill.skill_id)
        if mine is None:
            moved.append(skill.id)
            continue
        mine.level = max(mine.level, skill.level)
        if skill.years is not None:
            mine.years = max(mine.years or 0, skill.years)
        if skill.certificate and (not mine.certificate or (
                mine.certificate_expires is not None
                and (skill.certificate_expires is None or skill.certificate_expires > mine.certificate_expires))):
            mine.certificate, mine.certificate_expires = skill.certificate, skill.certificate_expires
        combined.append({"id": skill.id, "skill_id": skill.skill_id, "level": skill.level, "years": skill.years,
                         "certificate": skill.certificate, "certificate_expires": str(skill.certificate_expires or "")})
    db.session.flush()
    if combined:
        db.session.execute(delete(MemberSkill).where(MemberSkill.id.in_([c["id"] for c in combined])),
                           execution_options={"synchronize_session": False})
    if moved:
        db.session.execute(update(MemberSkill).where(MemberSkill.id.in_(moved)).values(member_id=survivor.id),
                           execution_options={"synchronize_session": False})
    return {"moved": moved, "combined": combined}


def _merge_unavailable(s: int, m: int) -> dict[str, list[int]]:
    held = {(start, end) for start, end in db.session.execute(
        select(UnavailablePeriod.start_date, UnavailablePeriod.end_date).where(UnavailablePeriod.member_id == s))}
    moved: list[int] = []
    dropped: list[int] = []
    for period in db.session.scalars(select(UnavailablePeriod).where(UnavailablePeriod.member_id == m)):
        (dropped if (period.start_date, period.end_date) in held else moved).append(period.id)
    if dropped:
        db.session.execute(delete(UnavailablePeriod).where(UnavailablePeriod.id.in_(dropped)),
                           execution_options={"synchronize_session": False})
    if moved:
        db.session.execute(update(UnavailablePeriod).where(UnavailablePeriod.id.in_(moved)).values(member_id=s),
                           execution_options={"synchronize_session": False})
    return {"moved": moved, "dropped": dropped}


def _fill_profile(survivor: MemberProfile, merged: MemberProfile) -> dict[str, Any]:
    """The survivor's answers stand; what it left empty comes from the other account, and so does a
    consent only the other gave. The weekly grid is the union of both."""
    filled: dict[str, Any] = {}
    if survivor.consent_at is None and merged.consent_at is not None:
        for name in ("consent_version", "consent_at", "consent_method", "consent_taken_by_id"):
            setattr(survivor, name, getattr(merged, name))
        filled["consent"] = str(merged.consent_at)
    for name in ("gender", "birth_year", "work_unit", "post", "branch_id", "max_hours_week"):
        if getattr(survivor, name) in (None, "") and getattr(merged, name) not in (None, ""):
            setattr(survivor, name, getattr(merged, name))
            filled[name] = str(getattr(merged, name))
    if survivor.capacity is None and merged.capacity is not None and survivor.consent_at is not None:
        survivor.capacity = merged.capacity
        filled["capacity"] = merged.capacity.value
    if survivor.user.email is None and merged.user.email:
        survivor.user.email, merged.user.email = merged.user.email, None
        filled["email"] = True
    union = survivor.availability_mask | merged.availability_mask
    if union != survivor.availability_mask:
        filled["availability_mask"] = [survivor.availability_mask, union]
        survivor.availability_mask = union
    db.session.flush()
    return filled


def _merge_pool(actor: User, survivor: MemberProfile, merged: MemberProfile) -> dict[str, list[int]]:
    live = (EntryStatus.NOMINATED, EntryStatus.APPROVED)
    held = {e.level: e for e in survivor.pool_entries if e.status in live}
    moved: list[int] = []
    withdrawn: list[int] = []
    retargeted: list[int] = []
    county = db.session.get_one(Region, survivor.region_code)
    note = f"账号合并：编号 {merged.id} 的账号并入编号 {survivor.id}"
    for entry in list(merged.pool_entries):
        mine = held.get(entry.level) if entry.status in live else None
        if mine is not None:
            # The level is held once: the approved entry stays live, a nomination gives way.
            weaker = entry if (mine.status is EntryStatus.APPROVED or entry.status is mine.status) else mine
            weaker.status, weaker.withdrawn_by_id = EntryStatus.WITHDRAWN, actor.id
            weaker.withdrawn_at, weaker.withdrawal_note = utcnow(), f"{note}，同级记录保留一条"
            db.session.add(PoolEvent(entry_id=weaker.id, actor_id=actor.id, action="withdrawn",
                                     note=weaker.withdrawal_note))
            withdrawn.append(weaker.id)
            db.session.flush()
        db.session.add(PoolEvent(entry_id=entry.id, actor_id=actor.id, action="merged", note=note))
        moved.append(entry.id)
        # An entry of another county (or city) follows the survivor's home, as a transfer does.
        target = {PoolLevel.COUNTY: county.code, PoolLevel.CITY: county.parent_code}.get(entry.level)
        if target is not None and target != entry.region_code:
            db.session.add(PoolEvent(entry_id=entry.id, actor_id=actor.id, action="transferred",
                                     note=f"随账号合并转到{county.name}"))
            retargeted.append(entry.id)
            entry.region_code = target
    db.session.flush()
    if moved:
        db.session.execute(update(PoolEntry).where(PoolEntry.id.in_(moved)).values(member_id=survivor.id),
                           execution_options={"synchronize_session": False})
    return {"moved": moved, "withdrawn": withdrawn, "moved_to_survivors_region": retargeted}


def _move_children(old: int, new: int) -> dict[str, list[int]]:
    """Reminders, dates released and ledger rows of an assignment dropped onto the one kept."""
    out: dict[str, list[int]] = {}
    for model in (TaskReminder, SessionRelease):
        out[model.__tablename__] = _move_unless_held(model, model.assignment_id, model.session_id, old, new)["moved"]
    out["service_records"] = _ids_moved(ServiceRecord, ServiceRecord.assignment_id, old, new)
    return out


def _merge_assignments(s: int, m: int) -> tuple[dict[str, Any], set[int]]:
    mine = {a.task_id: a for a in db.session.scalars(select(Assignment).where(Assignment.member_id == s))}
    moved: list[int] = []
    dropped: list[dict[str, Any]] = []
    freed: set[int] = set()
    for theirs in db.session.scalars(select(Assignment).where(Assignment.member_id == m)).all():
        kept_mine = mine.get(theirs.task_id)
        if kept_mine is None:
            moved.append(theirs.id)
            continue
        keep, drop = ((kept_mine, theirs) if STRENGTH[kept_mine.status] >= STRENGTH[theirs.status]
                      else (theirs, kept_mine))
        children = _move_children(drop.id, keep.id)
        dropped.append({"id": drop.id, "task_id": drop.task_id, "member_id": drop.member_id,
                        "status": drop.status.value, "kept": keep.id, **children})
        if drop.status is AssignmentStatus.ACCEPTED:
            freed.add(drop.task_id)
        db.session.execute(delete(Assignment).where(Assignment.id == drop.id),
                           execution_options={"synchronize_session": False})
        db.session.expunge(drop)
        if keep is theirs:
            moved.append(theirs.id)
    db.session.flush()
    if moved:
        db.session.execute(update(Assignment).where(Assignment.id.in_(moved)).values(member_id=s),
                           execution_options={"synchronize_session": False})
    return {"moved": moved, "dropped": dropped}, freed


def _merge_attendance(s: int, m: int) -> dict[str, list[Any]]:
    combined: list[dict[str, Any]] = []
    for theirs in db.session.scalars(select(Attendance).where(Attendance.user_id == m)).all():
        mine = db.session.scalar(select(Attendance).where(
            Attendance.user_id == s, or_(and_(Attendance.session_id.is_not(None),
                                              Attendance.session_id == theirs.session_id),
                                         and_(Attendance.occurrence_id.is_not(None),
                                              Attendance.occurrence_id == theirs.occurrence_id))))
        if mine is None:
            continue
        combined.append({"id": theirs.id, "session_id": theirs.session_id, "occurrence_id": theirs.occurrence_id,
                         "checked_in_at": str(theirs.checked_in_at), "checked_out_at": str(theirs.checked_out_at or "")})
        mine.checked_in_at = min(mine.checked_in_at, theirs.checked_in_at)
        outs = [t for t in (mine.checked_out_at, theirs.checked_out_at) if t is not None]
        mine.checked_out_at = max(outs) if outs else None
    db.session.flush()
    if combined:
        db.session.execute(delete(Attendance).where(Attendance.id.in_([c["id"] for c in combined])),
                           execution_options={"synchronize_session": False})
    return {"moved": _ids_moved(Attendance, Attendance.user_id, m, s), "combined": combined}


def _merge_booking_reminders(s: int, m: int) -> dict[str, list[int]]:
    return _move_unless_held(BookingReminder, BookingReminder.user_id, BookingReminder.occurrence_id, m, s)


def _merge_member_role(s: int, m: int) -> dict[str, list[int]]:
    """The member role is held once: the survivor's, or else the other account's, moved."""
    theirs = list(db.session.scalars(select(RoleGrant.id).where(RoleGrant.user_id == m, RoleGrant.role == Role.MEMBER)))
    if not theirs:
        return {}
    if db.session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == s, RoleGrant.role == Role.MEMBER)) is None:
        return {"moved": _ids_moved(RoleGrant, RoleGrant.user_id, m, s)}
    db.session.execute(delete(RoleGrant).where(RoleGrant.id.in_(theirs)), execution_options={"synchronize_session": False})
    return {"dropped": theirs}


def _merge_drafts(s: int, m: int) -> dict[str, list[int]]:
    return _move_unless_held(ProfileDraft, ProfileDraft.owner_id, ProfileDraft.kind, m, s)


def _repoint_actors(s: int, m: int) -> dict[str, int]:
    counts = {}
    for table_name, column_name in ACTOR_COLUMNS:
        table: Table = db.metadata.tables[table_name]
        column = table.c[column_name]
        n = _rowcount(update(table).where(column == m).values({column_name: s}))
        if n:
            counts[f"{table_name}.{column_name}"] = n
    return counts
