"""Accounts staff look after for a member: disabling and re-enabling, marking 逝世 (and taking it
back when it was a mistake), changing the registered phone after checking who the member is, and
moving the record to another county when the member moves.

Each is done by the organizers of the member's branch or the admins of their region
(access.may_care_for_account; out of scope the pages answer 404), is audited in the same
transaction, and can be undone: nothing here erases personal data (a member's own deletion does,
app.members.services.delete_member).
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select, update

from app import access
from app.accounts.models import RecoveryCode, User
from app.accounts.phone import mask_phone, normalise_phone
from app.accounts.sessions import end_user_sessions
from app.audit.services import record_audit
from app.clock import utcnow
from app.db import rowcount
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.members.index import reindex_member
from app.members.models import AccountMerge, LocationPrecision, MemberProfile, MemberStatus, PoolEvent, PoolLevel
from app.notifications.models import SmsOutbox
from app.notifications.services import notify
from app.regions.gazetteer import resolve
from app.regions.models import Region, RegionLevel
from app.tasks.services import leave_all_tasks

NOT_YOURS = "只有这位老同志所在支部的组织者或所在地区的管理员可以办理"


def _require_care(actor: User, member: MemberProfile) -> None:
    if not access.may_care_for_account(actor, member):
        raise PermissionDenied(NOT_YOURS)
    _refuse_merged(member)
    staff = member.user.staff_grants
    if staff and not access.may_set_active(actor, member.user):
        raise PermissionDenied("这位老同志还担任工作人员角色，请由上级老干部局管理员办理")


def merged_into(member: MemberProfile) -> int | None:
    """The account this one was merged into and closed for (app/members/merge.py), if it was."""
    return db.session.scalar(select(AccountMerge.survivor_id).where(AccountMerge.merged_id == member.id))


def _refuse_merged(member: MemberProfile) -> None:
    """A closed account merged into another is looked after through the account kept."""
    record = db.session.scalar(select(AccountMerge).where(AccountMerge.merged_id == member.id))
    if record is not None:
        raise Conflict(f"这个账号已经合并到编号 {record.survivor_id} 的账号并关闭了，请到保留的账号办理"
                       if record.survivor_id else "这个账号已经合并到别的账号并关闭了")


def stop_messages(user: User) -> int:
    """Texts not yet sent to a user are not sent; their live recovery codes end."""
    now = utcnow()
    db.session.execute(update(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
                                                  RecoveryCode.expires_at > now).values(expires_at=now))
    return rowcount(db.session.execute(update(SmsOutbox).where(
        SmsOutbox.user_id == user.id, SmsOutbox.state == "pending").values(state="expired", last_error="账号已停用，不再发送")))


def set_active(*, actor: User, member: MemberProfile, active: bool, reason: str) -> None:
    """Disable a member's account (they cannot sign in, get no messages, every session ends) or
    enable it again. A disabled member is paused, so nobody invites them meanwhile; enabled again,
    they resume themselves from their profile."""
    _require_care(actor, member)
    reason = (reason or "").strip()
    user = member.user
    if active == user.active:
        raise Conflict("这个账号已经是启用状态" if active else "这个账号已经停用了")
    if active and member.deceased_at is not None:
        raise Conflict("这位老同志已标记逝世。如果标记错了，请由所在地区的管理员撤销逝世标记。")
    if not active and not reason:
        raise Invalid("请写明停用的原因，例如“本人要求暂停使用”", field="reason")
    if len(reason) > 200:
        raise Invalid("原因最多 200 个字", field="reason")
    user.active = active
    if active:
        notify(user, kind="account", title="您的银晖账号已重新启用",
               body="可以用手机号和密码登录了。想重新参加志愿服务，请在“我的资料”里点“恢复参加”。")
    else:
        end_user_sessions(user.id)
        stop_messages(user)
        if member.status is MemberStatus.ACTIVE:
            member.status = MemberStatus.PAUSED
            reindex_member(member)
    record_audit(actor, "member.account_enable" if active else "member.account_disable", member,
                 detail={"reason": reason} if reason else None)


def mark_deceased(*, actor: User, member: MemberProfile, note: str) -> int:
    """Mark a member 逝世: never matched, invited, reminded or messaged again, off every task still
    to come (organizers told, waitlists moving up), signed out; the hours they served stay in every
    total. Returns how many tasks they were taken off."""
    _require_care(actor, member)
    if member.deceased_at is not None:
        raise Conflict("这位老同志已经标记逝世了")
    note = (note or "").strip()
    if len(note) > 200:
        raise Invalid("备注最多 200 个字", field="note")
    user = member.user
    member.deceased_at = utcnow()
    member.status = MemberStatus.PAUSED
    user.active = False
    end_user_sessions(user.id)
    stop_messages(user)
    left = leave_all_tasks(member=member, why="已逝世")
    reindex_member(member)
    record_audit(actor, "member.deceased", member, detail={"note": note, "tasks_left": left})
    return left


def undo_deceased(*, actor: User, member: MemberProfile) -> None:
    """Take back a 逝世 mark made in error (admins of the region): the account is enabled again and
    the member stays paused until they resume; tasks they were taken off are not given back."""
    if not access.may_undo_deceased(actor, member):
        raise PermissionDenied("只有所在地区的老干部局管理员可以撤销逝世标记")
    member.deceased_at = None
    member.user.active = True
    record_audit(actor, "member.deceased_undo", member)


def change_phone(*, actor: User, member: MemberProfile, phone: str, identity_checked: bool) -> None:
    """Change the number a member signs in with and gets texts on, after staff have checked who is
    asking (in person or by a call back to a number on file). Every session ends and live recovery
    codes for the old number die: whoever holds the old SIM card gets nothing."""
    _require_care(actor, member)
    if not identity_checked:
        raise Invalid("请先核实是老同志本人（当面核对身份证，或回拨登记过的电话），再勾选确认", field="identity_checked")
    normal = normalise_phone(phone)
    if normal is None:
        raise Invalid("请输入正确的 11 位手机号码，例如 138 0013 8000", field="phone")
    user = member.user
    if normal == user.phone:
        raise Invalid("新号码和现在登记的号码一样", field="phone")
    if db.session.scalar(select(User.id).where(User.phone == normal)) is not None:
        raise Conflict("这个号码已经注册了别的账号。如果是老同志本人的另一个账号，请联系管理员合并。", field="phone")
    old = user.phone
    now = utcnow()
    if old:
        db.session.execute(update(RecoveryCode).where(RecoveryCode.phone == old, RecoveryCode.used_at.is_(None),
                                                      RecoveryCode.expires_at > now).values(expires_at=now))
    user.phone = normal
    end_user_sessions(user.id)
    record_audit(actor, "member.phone_change", member,
                 detail={"from": mask_phone(old), "to": mask_phone(normal), "identity_checked": True})
    notify(user, kind="account", title="您登记的手机号已更换",
           body=f"工作人员{actor.name}已为您把登录用的手机号换成 {mask_phone(normal)}。以后请用新号码登录。")


def transfer(*, actor: User, member: MemberProfile, address: str) -> Region:
    """The member moved to another county: their record goes with them. Home and coordinates become
    the new county's (a precise location is set again from their profile); the branch is cleared
    (the receiving county assigns one); their pool entries move to the new county (and its city)
    with their history and a line saying so, keeping their status. From then on the receiving
    county's staff see them, the sending county's do not."""
    if not access.may_transfer_member(actor, member):
        raise PermissionDenied("只有老同志现居住地区的老干部局管理员可以办理迁出")
    _refuse_merged(member)
    resolved = resolve(address or "", within=current_app.config["HOME_PROVINCE"][:2])
    if resolved.ambiguous:
        raise Invalid(resolved.reason(), field="address")
    place = resolved.place
    county = db.session.get(Region, place.code) if place is not None else None
    if county is None or county.level is not RegionLevel.COUNTY or not county.is_current:
        raise Invalid("没有认出是哪个县（市、区），请把县（市、区）的名字写上，例如：南阳市淅川县城关镇建设路8号",
                      field="address")
    if county.code == member.region_code:
        raise Invalid(f"老同志现在就住在{county.name}，不用迁移", field="address")
    old = db.session.get_one(Region, member.region_code)
    old_branch = member.branch.name if member.branch else None
    member.region_code, member.address = county.code, address.strip()[:200]
    member.lat, member.lon, member.location_precision = county.lat, county.lon, LocationPrecision.COUNTY
    member.branch_id = None
    note = f"从{old.name}迁往{county.name}"
    for entry in member.pool_entries:
        target = {PoolLevel.COUNTY: county.code, PoolLevel.CITY: county.parent_code}.get(entry.level)
        if target is None or target == entry.region_code:
            continue
        entry.region_code = target
        db.session.add(PoolEvent(entry_id=entry.id, actor_id=actor.id, action="transferred", note=note))
    reindex_member(member)
    record_audit(actor, "member.transfer", member, region_code=county.code,
                 detail={"from": old.code, "to": county.code, "old_branch": old_branch})
    notify(member.user, kind="account", title=f"您的登记信息已转到{county.name}",
           body=f"{note}。以后由{county.name}老干部局和当地支部为您服务；如需加入当地党支部，请在“我的资料”里选择。")
    return county
