"""Account use cases: registration, login, passwords, role grants, disabling users.

Services take the acting user explicitly, raise DomainError subclasses with Chinese messages,
and flush without committing: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import Select, exists, select
from sqlalchemy.orm import selectinload

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.accounts.passwords import hash_password, needs_rehash, password_problem, verify_password
from app.accounts.phone import normalise_phone
from app.accounts.sessions import end_user_sessions
from app.audit.services import record_audit
from app.clock import utcnow
from app.errors import Conflict, Invalid, NotFound, PermissionDenied
from app.extensions import db
from app.links import path_for
from app.notifications.services import notify
from app.organizations.models import Organization
from app.regions.models import Region, RegionLevel
from app.venues.models import Venue


def _require_phone(phone: str) -> str:
    normal = normalise_phone(phone)
    if normal is None:
        raise Invalid("请输入正确的 11 位手机号码，例如 138 0013 8000", field="phone")
    return normal


def _check_password(password: str, phone: str | None, field: str = "password") -> None:
    problem = password_problem(password, phone=phone)
    if problem:
        raise Invalid(problem, field=field)


def phone_taken(phone: str) -> bool:
    return bool(db.session.scalar(select(exists().where(User.phone == phone))))


def register_user(*, phone: str, name: str, password: str, elder_mode: bool | None = None) -> User:
    """Self-registration: a new account holding the member role (and the 长辈版 choice made on
    this device before signing up, if any)."""
    phone = _require_phone(phone)
    name = name.strip()
    if not name:
        raise Invalid("请填写姓名", field="name")
    _check_password(password, phone)
    if phone_taken(phone):
        raise Conflict("这个手机号已经注册过了。请直接登录；忘记密码可以在登录页点“忘记密码”，用短信验证码重新设置。",
                       field="phone")
    now = utcnow()
    user = User(phone=phone, name=name, password_hash=hash_password(password), password_changed_at=now)
    user.grants.append(RoleGrant(role=Role.MEMBER))
    if elder_mode is not None:
        user.elder_mode = elder_mode
    db.session.add(user)
    db.session.flush()
    record_audit(user, "account.register", user)
    return user


def authenticate(*, phone: str, password: str, elder_mode: bool | None = None) -> User | None:
    """The user whose phone and password match and who may log in, else None; every attempt is
    audited. `elder_mode`: the 长辈版 choice made on this device, which the account takes on."""
    normal = normalise_phone(phone)
    user = db.session.scalar(select(User).where(User.phone == normal)) if normal else None
    if user is None or not verify_password(user.password_hash, password):
        if user is None:
            verify_password(None, password)  # equal time for unknown numbers
        else:
            _count_failure(user)
        record_audit(user, "account.login", user, outcome="failed")
        return None
    if not user.active:
        record_audit(user, "account.login", user, outcome="disabled")
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    user.failed_logins, user.failed_logins_since = 0, None
    if elder_mode is not None:
        user.elder_mode = elder_mode
    record_audit(user, "account.login", user)
    return user


def _count_failure(user: User) -> None:
    """Count a wrong password against the account's rolling day; at LOGIN_ALERT_AFTER the member
    is told once that day (by their channels), with what to do if it was them."""
    now = utcnow()
    if user.failed_logins_since is None or now - user.failed_logins_since > timedelta(days=1):
        user.failed_logins, user.failed_logins_since = 0, now
    user.failed_logins += 1
    told = user.failed_logins_told_at
    if (user.failed_logins >= current_app.config["LOGIN_ALERT_AFTER"] and user.active
            and (told is None or told < user.failed_logins_since)):
        user.failed_logins_told_at = now
        notify(user, kind="security", title=f"有人用您的手机号登录，密码已输错 {user.failed_logins} 次",
               body="如果不是您本人：请放心，输错密码的人进不了您的账号，您自己仍然可以正常登录。"
                    "如果是您忘了密码：请在登录页点“忘记密码”，用短信验证码重新设置。",
               link=path_for("accounts.account"))


def set_elder_mode(*, actor: User, on: bool) -> None:
    """The 长辈版 (large text, fewer choices) on or off for the actor's account."""
    actor.elder_mode = on


def end_other_sessions(*, actor: User, keep_session_token: str | None) -> int:
    """Sign the actor out everywhere but here; how many sessions ended."""
    count = end_user_sessions(actor.id, except_token=keep_session_token)
    record_audit(actor, "account.sessions_end", actor, detail={"count": count})
    return count


def change_password(*, actor: User, old_password: str, new_password: str,
                    keep_session_token: str | None) -> None:
    """Change the actor's own password; every other session of theirs ends."""
    if not verify_password(actor.password_hash, old_password):
        raise Invalid("原密码不正确", field="old_password")
    if old_password == new_password:
        raise Invalid("新密码不能与原密码相同", field="new_password")
    _check_password(new_password, actor.phone, field="new_password")
    actor.password_hash = hash_password(new_password)
    actor.password_changed_at = utcnow()
    end_user_sessions(actor.id, except_token=keep_session_token)
    record_audit(actor, "account.password_change", actor)


def set_email(*, actor: User, email: str | None) -> None:
    """Set or clear the address the actor's notifications are also emailed to."""
    actor.email = (email or "").strip().lower() or None
    record_audit(actor, "account.email_change", actor)


def set_channels(*, actor: User, sms: bool, email: bool, app: bool) -> None:
    """Choose the ways notifications reach the actor: SMS, in-app, email; at least one that can arrive."""
    if sms and not actor.phone:
        raise Invalid("您的账号没有登记手机号，不能接收短信", field="sms")
    if email and not actor.email:
        raise Invalid("请先在下方填写电子邮箱，再选择电子邮件", field="email")
    if not (sms or email or app):
        raise Invalid("请至少选择一种接收通知的方式，否则您会错过邀请和提醒", field="sms")
    actor.notify_sms, actor.notify_email, actor.notify_app = sms, email, app
    record_audit(actor, "account.channels_change", actor, detail={"sms": sms, "email": email, "app": app})


# --- staff: finding users, granting roles, disabling -------------------------------------------


def find_user_by_phone(*, actor: User, phone: str) -> User:
    """Look an account up by its full number, to grant it a role (a venue's manager too). Staff only."""
    if not access.may_find_accounts(actor):
        raise PermissionDenied("只有老干部局管理员可以查找账号")
    normal = _require_phone(phone)
    user = db.session.scalar(select(User).where(User.phone == normal))
    if user is None:
        raise NotFound("没有找到这个手机号注册的账号。请让本人先注册，或在人才库中为其代注册。",
                       field="phone")
    return user


def grant_role(*, actor: User, user: User, role: Role, region: Region | None = None,
               organization: Organization | None = None, venue: Venue | None = None) -> RoleGrant:
    """Give a user a role. Admins grant only inside their own region: a province admin anywhere
    in the province, a city or county admin inside that city or county; a venue's managers are
    appointed by the admins of the venue's region."""
    if role is Role.ADMIN:
        if region is None or region.level not in (RegionLevel.PROVINCE, RegionLevel.CITY, RegionLevel.COUNTY):
            raise Invalid("请选择管理的地区", field="region")
        if not access.may_grant(actor, role, region.code):
            raise PermissionDenied("只能在本人管辖的地区内授予管理员权限", field="region")
        grant = RoleGrant(role=role, region_code=region.code)
        duplicate = any(g.role is role and g.region_code == region.code for g in user.grants)
    elif role is Role.ORGANIZER:
        if organization is None:
            raise Invalid("请选择所属组织", field="organization")
        if not access.may_grant(actor, role, organization.region_code):
            raise PermissionDenied("只能为本人管辖地区内的组织授予组织者权限", field="organization")
        grant = RoleGrant(role=role, organization_id=organization.id)
        duplicate = any(g.role is role and g.organization_id == organization.id for g in user.grants)
    elif role is Role.MEMBER:
        if not access.may_grant(actor, role, None):
            raise PermissionDenied("只有管理员可以授予角色")
        grant = RoleGrant(role=role)
        duplicate = user.has_role(Role.MEMBER)
    elif role is Role.VENUE_MANAGER:
        if venue is None:
            raise Invalid("请选择管理的场地", field="venue")
        if not access.may_grant(actor, role, venue.region_code):
            raise PermissionDenied("只能为本人管辖地区内的场地指定管理员", field="venue")
        grant = RoleGrant(role=role, venue_id=venue.id)
        duplicate = any(g.role is role and g.venue_id == venue.id for g in user.grants)
    else:
        raise Invalid("请选择角色", field="role")
    if duplicate:
        raise Conflict("此人已经拥有这个角色", field="role")
    grant.granted_by_id = actor.id
    user.grants.append(grant)
    db.session.flush()
    scope_region = region.code if region else (organization.region_code if organization else
                                                 (venue.region_code if venue is not None else None))
    record_audit(actor, "role.grant", user, region_code=scope_region,
                 detail={"role": role.value, "grant_id": grant.id})
    return grant


def grant_role_by_phone(*, actor: User, phone: str, role: str, region_code: str | None,
                        organization_id: str | None) -> tuple[User, RoleGrant]:
    """The staff page's grant: find the account by its number and the region or organization
    among those the actor may see, then grant_role()."""
    user = find_user_by_phone(actor=actor, phone=phone)
    try:
        chosen = Role(role)
    except ValueError:
        raise Invalid("请选择角色", field="role") from None
    region = db.session.scalar(access.regions_in_scope(actor).where(Region.code == region_code)) if region_code else None
    organization = access.get(Organization, organization_id, actor) if organization_id else None
    return user, grant_role(actor=actor, user=user, role=chosen, region=region, organization=organization)


def grant_by_id(grant_id: int) -> RoleGrant | None:
    return db.session.get(RoleGrant, grant_id)


def staff_accounts(actor: User) -> Select[User]:
    """The accounts holding a role in the actor's regions, for the staff page (with their grants)."""
    return access.visible(User, actor).options(selectinload(User.grants)).order_by(User.id)


def revoke_grant(*, actor: User, grant: RoleGrant) -> None:
    """Take a role away (not the member role, nor one's own admin role)."""
    if grant.user_id == actor.id and grant.role is Role.ADMIN:
        raise Invalid("不能撤销自己的管理员权限，请联系上级管理员")
    if not access.may_revoke(actor, grant):
        raise PermissionDenied("不能撤销这个角色")
    user = grant.user
    record_audit(actor, "role.revoke", user, region_code=grant.region_code,
                 detail={"role": grant.role.value, "grant_id": grant.id})
    user.grants.remove(grant)
    db.session.flush()


def set_user_active(*, actor: User, user: User, active: bool) -> None:
    """Disable or re-enable an account. Disabling ends all of its sessions at once."""
    if user.id == actor.id:
        raise Invalid("不能停用自己的账号")
    if not access.may_set_active(actor, user):
        raise PermissionDenied("此账号有本人管辖范围以外的角色，请联系上级管理员办理")
    user.active = active
    if not active:
        end_user_sessions(user.id)
    record_audit(actor, "account.enable" if active else "account.disable", user)


def create_admin(*, phone: str, name: str, password: str, region: Region) -> User:
    """The first province admin, from the command line; also adds an admin grant to an existing user."""
    phone = _require_phone(phone)
    user = db.session.scalar(select(User).where(User.phone == phone))
    if user is None:
        _check_password(password, phone)
        user = User(phone=phone, name=name.strip() or "管理员", password_hash=hash_password(password),
                    password_changed_at=utcnow())
        db.session.add(user)
    if not any(g.role is Role.ADMIN and g.region_code == region.code for g in user.grants):
        user.grants.append(RoleGrant(role=Role.ADMIN, region_code=region.code))
    db.session.flush()
    record_audit(None, "role.grant", user, region_code=region.code, detail={"role": "admin", "via": "cli"})
    return user
