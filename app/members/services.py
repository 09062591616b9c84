"""Member use cases: registering (self and by proxy), claiming, editing, consent, deletion, and
the skill taxonomy. Services flush; the caller commits. Errors are DomainErrors in Chinese."""

from __future__ import annotations

import csv
import functools
import io
import json
import secrets
from datetime import timedelta

from sqlalchemy import Select, bindparam, delete, select
from sqlalchemy.orm import lazyload

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password, password_problem, verify_password
from app.accounts.phone import normalise_phone
from app.accounts.sessions import end_user_sessions
from app.audit.services import record_audit
from app.clock import utcnow
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.members import pool
from app.members.index import reindex_member, reindex_members
from app.members.models import (
    ConsentMethod,
    EntryStatus,
    LocationPrecision,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    PoolEntry,
    PoolEvent,
    PoolLevel,
    ProfileDraft,
    Skill,
    SkillCategory,
    UnavailablePeriod,
    availability_labels,
    profile_alone,
)
from app.members.profile import (
    CONSENT_VERSION,
    PeriodInput,
    ProfileData,
    SkillInput,
    check_complete,
    check_consent_method,
    check_name,
    check_profile,
)
from app.regions.models import Region
from app.regions.services import place_address

CLAIM_CODE_DAYS = 90
_CLAIM_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def _place(member: MemberProfile, county: Region, address: str, consent: bool) -> None:
    """Coordinates for a member: from the address when they consented to a precise location,
    otherwise their county's seat."""
    member.region_code, member.address = county.code, address
    location = place_address(county_code=county.code, address=address) if consent else None
    if location is not None and location.source == "geocoder":
        member.lat, member.lon, member.location_precision = location.lat, location.lon, LocationPrecision.ADDRESS
    else:
        member.lat, member.lon, member.location_precision = county.lat, county.lon, LocationPrecision.COUNTY


def _apply(member: MemberProfile, data: ProfileData, *, consent_by: User | None,
           consent_method: ConsentMethod | None) -> None:
    county = check_profile(data)
    member.gender, member.birth_year = data.gender, data.birth_year
    member.work_unit, member.post, member.branch_id = data.work_unit.strip(), data.post.strip(), data.branch_id
    member.service_radius_km, member.no_night, member.no_outdoor = data.radius_km, data.no_night, data.no_outdoor
    member.max_hours_week, member.availability_mask = data.max_hours_week, data.availability_mask
    if data.consent and not member.has_consent:
        member.consent_version, member.consent_at = CONSENT_VERSION, utcnow()
        member.consent_method, member.consent_taken_by_id = consent_method, consent_by.id if consent_by else None
    elif not data.consent:
        member.consent_version = member.consent_at = member.consent_method = member.consent_taken_by_id = None
    member.capacity = data.capacity if data.consent else None
    _place(member, county, data.address.strip(), data.consent)
    _replace_skills(member, data.skills)
    _replace_periods(member, data.unavailable)


def _replace_skills(member: MemberProfile, skills: list[SkillInput]) -> None:
    wanted = {s.skill_id: s for s in skills}
    for existing in list(member.skills):
        if existing.skill_id not in wanted:
            member.skills.remove(existing)
    have = {s.skill_id: s for s in member.skills}
    for skill_id, item in wanted.items():
        row = have.get(skill_id) or MemberSkill(skill_id=skill_id)
        row.level, row.years = item.level, item.years
        row.certificate, row.certificate_expires = (item.certificate or None), item.certificate_expires
        if skill_id not in have:
            member.skills.append(row)


def _replace_periods(member: MemberProfile, periods: list[PeriodInput]) -> None:
    member.unavailable.clear()
    for p in periods:
        member.unavailable.append(UnavailablePeriod(start_date=p.start, end_date=p.end, reason=p.reason.strip()))


# --- registration -------------------------------------------------------------------------------


def register_member(*, actor: User, data: ProfileData) -> MemberProfile:
    """A member registers themselves in the pool (their account exists already)."""
    if db.session.get(MemberProfile, actor.id) is not None:
        raise Conflict("您已经登记过了，请在“我的资料”中修改")
    actor.name = check_name(data.name)
    member = MemberProfile(id=actor.id, status=MemberStatus.ACTIVE, registered_by_id=actor.id)
    member.user = actor
    _apply(member, data, consent_by=actor, consent_method=ConsentMethod.ONLINE)
    db.session.add(member)
    if not actor.has_role(Role.MEMBER):
        actor.grants.append(RoleGrant(role=Role.MEMBER))
    db.session.flush()
    reindex_member(member)
    record_audit(actor, "member.register", member)
    return member


def new_claim_code(member_id: int) -> str:
    secret = "".join(secrets.choice(_CLAIM_ALPHABET) for _ in range(8))
    return f"{member_id}-{secret[:4]}-{secret[4:]}"


def _set_claim_code(member: MemberProfile) -> str:
    code = new_claim_code(member.id)
    member.claim_code_hash = hash_password(code.split("-", 1)[1])
    member.claim_code_expires_at = utcnow() + timedelta(days=CLAIM_CODE_DAYS)
    return code


def proxy_register(*, actor: User, phone: str | None, data: ProfileData,
                   consent_method: ConsentMethod | None) -> tuple[MemberProfile, str]:
    """An organizer or admin registers a member who does not use a phone (代注册). Returns the new
    profile and a one-time claim code the member can use to take over the account later."""
    if not access.may_register_for_others(actor, data.county_code, data.branch_id):
        if not access.organized(actor):
            raise PermissionDenied("只有组织者和老干部局工作人员可以代为登记")
        raise PermissionDenied("只能为本组织或本组织所在县（市、区）的老同志代为登记", field="branch")
    check_consent_method(data, consent_method)
    normal = None
    if phone:
        normal = normalise_phone(phone)
        if normal is None:
            raise Invalid("请输入正确的 11 位手机号码，或者不填", field="phone")
        if db.session.scalar(select(User.id).where(User.phone == normal)):
            raise Conflict("这个手机号已经有账号了，请让老同志本人登录后登记", field="phone")
    user = User(phone=normal, name=check_name(data.name), password_hash=None)
    user.grants.append(RoleGrant(role=Role.MEMBER))
    db.session.add(user)
    db.session.flush()
    member = MemberProfile(id=user.id, status=MemberStatus.ACTIVE, registered_by_id=actor.id)
    member.user = user
    _apply(member, data, consent_by=actor, consent_method=consent_method if data.consent else None)
    db.session.add(member)
    db.session.flush()
    code = _set_claim_code(member)
    reindex_member(member)
    record_audit(actor, "member.proxy_register", member,
                 detail={"consent_method": consent_method.value if data.consent and consent_method else None})
    return member, code


def issue_claim_code(*, actor: User, member: MemberProfile) -> str:
    """A new claim code for a member who has not taken over their account yet."""
    if member.user.password_hash is not None:
        raise Invalid("这位老同志已经自己登录过了，不需要认领码")
    code = _set_claim_code(member)
    record_audit(actor, "member.claim_code", member)
    return code


def claim_account(*, code: str, phone: str, password: str) -> User:
    """The member takes over an account registered for them: claim code, their mobile number and a
    new password. The same answer for every failure, so codes cannot be probed."""
    refused = Invalid("认领码或手机号不对，或者认领码已过期。请向代您登记的组织者索取新的认领码。", field="code")
    normal = normalise_phone(phone)
    if normal is None:
        raise Invalid("请输入正确的 11 位手机号码", field="phone")
    parts = (code or "").strip().upper().replace(" ", "").split("-", 1)
    if len(parts) != 2 or not parts[0].isdigit():
        raise refused
    member = db.session.get(MemberProfile, int(parts[0]))
    if (member is None or member.claim_code_hash is None or member.status is MemberStatus.DELETED
            or member.claim_code_expires_at is None or member.claim_code_expires_at < utcnow()
            or not verify_password(member.claim_code_hash, parts[1])):
        raise refused
    user = member.user
    if user.phone and user.phone != normal:
        raise refused
    if not user.phone:
        if db.session.scalar(select(User.id).where(User.phone == normal)):
            raise Conflict("这个手机号已经注册过账号了。请用它登录，或联系组织者。", field="phone")
        user.phone = normal
    problem = password_problem(password, phone=normal)
    if problem:
        raise Invalid(problem, field="password")
    user.password_hash = hash_password(password)
    user.password_changed_at = member.claimed_at = utcnow()
    member.claim_code_hash = member.claim_code_expires_at = None
    record_audit(user, "member.claim", member)
    return user


# --- changing a profile -------------------------------------------------------------------------


def update_profile(*, actor: User, member: MemberProfile, data: ProfileData) -> MemberProfile:
    """Save a changed profile. Consent is changed only by set_consent() (or the member online)."""
    if not access.may_edit_member(actor, member):
        raise PermissionDenied("不能修改这位老同志的资料")
    if data.consent != member.has_consent and actor.id != member.id:
        raise PermissionDenied("敏感信息的同意只能由本人给出或撤回", field="consent")
    member.user.name = check_name(data.name)
    _apply(member, data, consent_by=actor, consent_method=ConsentMethod.ONLINE)
    reindex_member(member)
    record_audit(actor, "member.update", member)
    return member


def set_consent(*, actor: User, member: MemberProfile, consent: bool) -> None:
    """The member gives or withdraws consent for the sensitive fields. Withdrawing erases them."""
    if not access.may_decide_for_self(actor, member):
        raise PermissionDenied("敏感信息的同意只能由本人给出或撤回")
    data = ProfileData.from_member(member)
    data.consent = consent
    if not consent:
        data.capacity = None
    _apply(member, data, consent_by=actor, consent_method=ConsentMethod.ONLINE)
    reindex_member(member)
    record_audit(actor, "member.consent_given" if consent else "member.consent_withdrawn", member)


def set_paused(*, actor: User, member: MemberProfile, paused: bool) -> None:
    """Take a break from being matched, or come back."""
    if not access.may_edit_member(actor, member):
        raise PermissionDenied("不能修改这位老同志的状态")
    if not paused and member.deceased_at is not None:
        raise Conflict("这位老同志已标记逝世，不能恢复参加")
    member.status = MemberStatus.PAUSED if paused else MemberStatus.ACTIVE
    reindex_member(member)
    record_audit(actor, "member.pause" if paused else "member.resume", member)


def delete_member(*, actor: User, member: MemberProfile) -> None:
    """Delete a member's personal data at their request. Name, phone, email, address and location
    are erased everywhere; the row stays, anonymous, so confirmed service hours still count in
    statistics. Pool entries are withdrawn (their history stays, anonymous)."""
    if not access.may_decide_for_self(actor, member):
        raise PermissionDenied("只有本人可以注销自己的信息")
    user = member.user
    now = utcnow()
    for entry in member.pool_entries:
        # Notes typed by staff may describe the person: they go too; the bare history stays.
        entry.reason = entry.decision_note = entry.withdrawal_note = ""
        for event in entry.events:
            event.note = ""
        if entry.status in (EntryStatus.NOMINATED, EntryStatus.APPROVED):
            entry.status, entry.withdrawn_at, entry.withdrawn_by_id = EntryStatus.WITHDRAWN, now, actor.id
            entry.withdrawal_note = "本人注销"
            db.session.add(PoolEvent(entry_id=entry.id, actor_id=actor.id, action="withdrawn", note="本人注销"))
    county = db.session.get_one(Region, member.region_code)
    user.name, user.phone, user.email, user.password_hash, user.active = "已注销用户", None, None, None, False
    member.gender = member.birth_year = None
    member.work_unit = member.post = member.address = ""
    member.lat, member.lon, member.location_precision = county.lat, county.lon, LocationPrecision.COUNTY
    member.capacity = member.max_hours_week = None
    member.consent_version = member.consent_at = member.consent_method = member.consent_taken_by_id = None
    member.availability_mask = 0
    member.claim_code_hash = member.claim_code_expires_at = None
    member.skills.clear()
    member.unavailable.clear()
    member.status, member.deleted_at = MemberStatus.DELETED, now
    db.session.execute(delete(ProfileDraft).where(ProfileDraft.owner_id == user.id))
    end_user_sessions(user.id)
    reindex_member(member)
    record_audit(actor, "member.delete", member)


def export_member_data(member: MemberProfile) -> dict:
    """Everything held about a member, for their own download."""
    user = member.user
    return {
        "账号": {"姓名": user.name, "手机号码": user.phone, "电子邮箱": user.email,
               "注册时间": user.created_at.isoformat()},
        "基本信息": {"性别": member.gender.label if member.gender else None, "出生年份": member.birth_year,
                 "原工作单位": member.work_unit, "原职务": member.post,
                 "所在支部": member.branch.name if member.branch else None},
        "住址": {"县（市、区）": member.region.name, "详细地址": member.address,
               "位置精度": member.location_precision.label, "纬度": member.lat, "经度": member.lon},
        "服务意愿": {"服务范围（公里）": member.service_radius_km,
                 "可服务时间": availability_labels(member.availability_mask),
                 "不方便的日期": [{"开始": p.start_date.isoformat(), "结束": p.end_date.isoformat(),
                             "原因": p.reason} for p in member.unavailable],
                 "不做夜间服务": member.no_night, "不做户外服务": member.no_outdoor,
                 "每周最多小时": member.max_hours_week},
        "敏感信息": {"是否同意": member.has_consent, "同意版本": member.consent_version,
                 "同意时间": member.consent_at.isoformat() if member.consent_at else None,
                 "同意方式": member.consent_method.label if member.consent_method else None,
                 "身体状况": member.capacity.label if member.capacity else None},
        "专长": [{"专长": s.skill.name, "类别": s.skill.category.name, "程度": s.level_label, "年限": s.years,
                "证书": s.certificate,
                "证书有效期": s.certificate_expires.isoformat() if s.certificate_expires else None}
               for s in member.skills],
        "人才库": [{"层级": e.level.label, "地区": e.region.name, "状态": e.status.label,
                 "时间": e.nominated_at.isoformat()} for e in member.pool_entries],
    }


# --- drafts -------------------------------------------------------------------------------------


def load_draft(owner: User, kind: str) -> ProfileDraft | None:
    return db.session.scalar(select(ProfileDraft).where(ProfileDraft.owner_id == owner.id,
                                                        ProfileDraft.kind == kind))


def discard_draft(owner: User, kind: str) -> None:
    db.session.execute(delete(ProfileDraft).where(ProfileDraft.owner_id == owner.id, ProfileDraft.kind == kind))


@functools.cache
def own_profile_options() -> tuple:
    """Loader options for the signed-in member's own profile: its lists load when asked (the pages
    that ask on every visit, home and tasks near me, read none of them), and its user is the
    signed-in one, already loaded: taken from the session's identity map, not read again."""
    return (*profile_alone()[:3], lazyload(MemberProfile.user))


def own_profile(actor: User) -> MemberProfile | None:
    """The actor's own member profile, if they have registered."""
    return db.session.execute(_own_profile(), {"member_id": actor.id}).scalar_one_or_none()


@functools.cache
def _own_profile() -> Select[MemberProfile]:
    """own_profile()'s statement, built once (Session.get() built it, with its options, and worked
    out its cache key on every call). A profile already in the session comes back as that object."""
    return select(MemberProfile).where(MemberProfile.id == bindparam("member_id")).options(*own_profile_options())


def own_entry(actor: User, entry_id: int) -> PoolEntry | None:
    """One of the actor's own pool entries."""
    entry = db.session.get(PoolEntry, entry_id)
    return entry if entry is not None and entry.member_id == actor.id else None


def _check_pool_answer(join_pool: bool | None) -> None:
    if join_pool is None:
        raise Invalid("请回答是否加入本县（市、区）银发人才库", field="join_pool")


def finish_registration(*, actor: User, data: ProfileData, join_pool: bool | None) -> MemberProfile:
    """The last page of self-registration: the profile, the draft gone, and (if the member said so)
    the application to the county pool, as one use case. Refused, naming every one of them, while
    an answer a registration cannot do without is missing."""
    check_complete(data)
    _check_pool_answer(join_pool)
    member = register_member(actor=actor, data=data)
    discard_draft(actor, "self")
    if join_pool:
        pool.apply(actor=actor, member=member)
    return member


def finish_proxy_registration(*, actor: User, data: ProfileData, meta: dict,
                              join_pool: bool | None) -> tuple[MemberProfile, str]:
    """The last page of registration by proxy: the member, their claim code, the draft gone and
    (if the member said so) the county pool nomination."""
    check_complete(data)
    _check_pool_answer(join_pool)
    method = meta.get("consent_method")
    member, code = proxy_register(actor=actor, phone=meta.get("phone"), data=data,
                                  consent_method=ConsentMethod(method) if method else None)
    discard_draft(actor, "proxy")
    if join_pool:
        pool.nominate(actor=actor, member=member, level=PoolLevel.COUNTY, reason="代为登记时一并申请入库")
    return member, code


def my_data_csv(member: MemberProfile) -> str:
    """export_member_data() as a table of three columns: section, item, content."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["分类", "项目", "内容"])
    for section, content in export_member_data(member).items():
        if isinstance(content, dict):
            for key, value in content.items():
                writer.writerow([section, key, json.dumps(value, ensure_ascii=False)
                                 if isinstance(value, (list, dict)) else value])
        else:
            for i, item in enumerate(content, 1):
                writer.writerow([section, i, json.dumps(item, ensure_ascii=False)])
    return out.getvalue()


def my_data_json(member: MemberProfile) -> str:
    return json.dumps(export_member_data(member), ensure_ascii=False, indent=2)


# --- the skill taxonomy -------------------------------------------------------------------------


def _require_province_admin(actor: User) -> None:
    if not access.may_edit_taxonomy(actor):
        raise PermissionDenied("只有省级管理员可以修改专长分类")


def add_category(*, actor: User, name: str) -> SkillCategory:
    _require_province_admin(actor)
    if db.session.scalar(select(SkillCategory.id).where(SkillCategory.name == name)):
        raise Conflict(f"已经有“{name}”这个类别", field="name")
    order = (db.session.scalar(select(SkillCategory.sort_order).order_by(SkillCategory.sort_order.desc())) or 0) + 1
    category = SkillCategory(name=name, sort_order=order)
    db.session.add(category)
    db.session.flush()
    record_audit(actor, "skill.category_add", category)
    return category


def add_skill(*, actor: User, category: SkillCategory, name: str, description: str = "") -> Skill:
    _require_province_admin(actor)
    if db.session.scalar(select(Skill.id).where(Skill.name == name)):
        raise Conflict(f"已经有“{name}”这项专长", field="name")
    skill = Skill(category_id=category.id, name=name, description=description,
                  sort_order=len(category.skills) + 1)
    db.session.add(skill)
    db.session.flush()
    record_audit(actor, "skill.add", skill)
    return skill


def add_skill_to(*, actor: User, category_id: str | None, name: str, description: str = "") -> Skill:
    """add_skill() as the taxonomy page asks it: the category by its id."""
    category = db.session.get(SkillCategory, int(category_id)) if category_id and category_id.isdigit() else None
    if category is None:
        raise Invalid("请选择所属类别", field="category")
    return add_skill(actor=actor, category=category, name=name, description=description)


def update_skill(*, actor: User, skill: Skill, name: str, description: str, active: bool) -> Skill:
    """Rename, describe or retire a skill. A retired skill stays on profiles but is not matched."""
    _require_province_admin(actor)
    if db.session.scalar(select(Skill.id).where(Skill.name == name, Skill.id != skill.id)):
        raise Conflict(f"已经有“{name}”这项专长", field="name")
    reindex = skill.active != active
    skill.name, skill.description, skill.active = name, description, active
    db.session.flush()
    if reindex:
        members = db.session.scalars(select(MemberProfile).join(MemberSkill).where(
            MemberSkill.skill_id == skill.id)).all()
        reindex_members(list(members))
    record_audit(actor, "skill.update", skill, detail={"active": active})
    return skill
