"""Staff pages for looking after a member's account: disable and enable, mark 逝世, change the
registered phone, move to another county (app/members/care.py), merge two accounts of the same
person (app/members/merge.py). Out of scope: 404."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app import access
from app.accounts.forms import DeceasedForm, DisableForm, MergeForm, MergeSearchForm, PhoneChangeForm, TransferForm
from app.accounts.phone import mask_phone
from app.forms import BaseForm, options
from app.members import care, merge
from app.members.models import MemberProfile
from app.regions.models import Region
from app.web import run_action, run_use_case

bp = Blueprint("care", __name__, url_prefix="/pool/members")


def _member(member_id: int) -> MemberProfile:
    member = access.get_or_404(MemberProfile, member_id, current_user)
    access.check_or_404(access.may_care_for_account(current_user, member))
    return member


def _page(member: MemberProfile, **forms: Any) -> dict[str, Any]:
    return {"member": member, "phone": member.user.phone if access.sees_phone(current_user, member)
            else mask_phone(member.user.phone), "disable_form": forms.get("disable_form") or DisableForm(),
            "deceased_form": forms.get("deceased_form") or DeceasedForm(),
            "phone_form": forms.get("phone_form") or PhoneChangeForm(),
            "transfer_form": forms.get("transfer_form") or TransferForm(), "button": BaseForm(),
            "merged": merge.was_merged(member.id), "merged_into": care.merged_into(member)}


@bp.get("/<int:member_id>/account")
@access.requires(access.may_organize)
def account(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    return render_template("pool/account.html", form=None, **_page(member))


@bp.post("/<int:member_id>/account/disable")
@access.requires(access.may_organize)
def disable(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    form = DisableForm()
    return run_use_case(form, lambda: care.set_active(actor=current_user, member=member, active=False,
                                                      reason=form.reason.data or ""),
                        done=("账号已停用，此人的所有登录已退出，不会再收到消息。", url_for("care.account", member_id=member.id)),
                        template="pool/account.html", **_page(member, disable_form=form))


@bp.post("/<int:member_id>/account/enable")
@access.requires(access.may_organize)
def enable(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    return run_action(lambda: care.set_active(actor=current_user, member=member, active=True, reason=""),
                      done=("账号已重新启用，已通知本人。", url_for("care.account", member_id=member.id)))


@bp.post("/<int:member_id>/account/deceased")
@access.requires(access.may_organize)
def deceased(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    form = DeceasedForm()

    def marked(left: int) -> tuple[str, str]:
        return (f"已标记逝世。此人不会再被推荐、邀请或收到消息，已退出 {left} 项服务，服务时长仍计入统计。",
                url_for("care.account", member_id=member.id))

    return run_use_case(form, lambda: care.mark_deceased(actor=current_user, member=member, note=form.note.data or ""),
                        done=marked, template="pool/account.html", **_page(member, deceased_form=form))


@bp.post("/<int:member_id>/account/deceased/undo")
@access.requires(access.may_organize)
def undo_deceased(member_id: int) -> ResponseReturnValue:
    member = access.get_or_404(MemberProfile, member_id, current_user)
    access.check_or_404(access.may_undo_deceased(current_user, member))
    return run_action(lambda: care.undo_deceased(actor=current_user, member=member),
                      done=("已撤销逝世标记，账号已重新启用（暂停参加，本人可自行恢复）。",
                            url_for("care.account", member_id=member.id)))


@bp.post("/<int:member_id>/account/phone")
@access.requires(access.may_organize)
def change_phone(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    form = PhoneChangeForm()
    return run_use_case(form, lambda: care.change_phone(actor=current_user, member=member, phone=form.phone.data or "",
                                                        identity_checked=bool(form.identity_checked.data)),
                        done=("手机号已更换，此人的所有登录已退出，已通知本人。", url_for("care.account", member_id=member.id)),
                        template="pool/account.html", **_page(member, phone_form=form))




@bp.post("/<int:member_id>/account/transfer")
@access.requires(access.may_organize)
def transfer(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    access.check_or_403(access.may_transfer_member(current_user, member))
    form = TransferForm()

    def moved(county: Region) -> tuple[str, str]:
        # The record has left the actor's region unless it covers the new county too.
        target = (url_for("care.account", member_id=member.id) if access.covers(current_user, county.code)
                  else url_for("pool.index"))
        return f"{member.user.name}的登记信息已转到{county.name}，由当地老干部局接续服务。", target

    return run_use_case(form, lambda: care.transfer(actor=current_user, member=member, address=form.address.data or ""),
                        done=moved, template="pool/account.html", **_page(member, transfer_form=form))


# --- merging two accounts of the same person ------------------------------------------------------


def _other(member: MemberProfile, other_id: int) -> MemberProfile:
    other = access.get_or_404(MemberProfile, other_id, current_user)
    access.check_or_404(access.may_merge_accounts(current_user, member, other))
    return other


def _merge_page(member: MemberProfile, other: MemberProfile | None, form: MergeForm | None = None) -> dict[str, Any]:
    search = MergeSearchForm(request.args)
    found = merge.find_duplicates(current_user, member, search.q.data or "") if search.validate() else []
    context: dict[str, Any] = {"member": member, "other": other, "search": search, "found": found,
                               "this_side": merge.side(current_user, member), "not_undone": merge.NOT_UNDONE,
                               "was_merged": merge.was_merged(member.id)}
    if other is not None:
        that = merge.side(current_user, other)
        form = form or MergeForm()
        form.survivor.choices = options([
            ("this", f"保留 {member.user.name}（编号 {member.id}，{context['this_side'].phone or '未登记手机号'}）"),
            ("other", f"保留 {other.user.name}（编号 {other.id}，{that.phone or '未登记手机号'}）")], None)
        context.update(that_side=that, form=form)
    return context


@bp.get("/<int:member_id>/account/merge")
@access.requires(access.may_organize)
def merge_search(member_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    return render_template("pool/merge.html", **_merge_page(member, None))


@bp.route("/<int:member_id>/account/merge/<int:other_id>", methods=["GET", "POST"])
@access.requires(access.may_organize)
def merge_accounts(member_id: int, other_id: int) -> ResponseReturnValue:
    member = _member(member_id)
    other = _other(member, other_id)
    context = _merge_page(member, other, MergeForm())
    form = context.pop("form")

    def work() -> MemberProfile:
        survivor, merged = (member, other) if form.survivor.data == "this" else (other, member)
        merge.merge(actor=current_user, survivor=survivor, merged=merged,
                    identity_checked=bool(form.identity_checked.data))
        return survivor

    def merged(survivor: MemberProfile) -> tuple[str, str]:
        return (f"两个账号已合并到{survivor.user.name}（编号 {survivor.id}）。另一个账号已关闭，合并记录已写入操作日志。",
                url_for("care.account", member_id=survivor.id))

    return run_use_case(form, work, done=merged, template="pool/merge.html", **context)

