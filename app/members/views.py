"""Member pages: the registration wizard, my profile, my data, claiming an account."""

from __future__ import annotations

import csv
import io
import json

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user

from app.audit.services import record_audit
from app.errors import DomainError
from app.extensions import db, limiter
from app.forms import BaseForm
from app.members import pool, services, wizard
from app.members.forms import ClaimForm, DeleteForm, ReasonForm, SubmitForm
from app.members.models import SKILL_LEVELS, Capacity, MemberProfile, PoolEntry
from app.members.services import ProfileData
from app.web import form_page

bp = Blueprint("members", __name__)


@bp.app_context_processor
def member_helpers():
    return {"capacity_hint": lambda value: Capacity(value).description, "level_labels": SKILL_LEVELS}


def own_profile() -> MemberProfile | None:
    return db.session.get(MemberProfile, current_user.id)


# --- the wizard, shared by self-registration and registration by proxy -------------------------


class WizardFlow:
    """Where a wizard's pages live and what its last page does."""

    def __init__(self, kind: str, endpoint: str, check_endpoint: str, start_endpoint: str):
        self.kind, self.endpoint, self.check_endpoint, self.start_endpoint = kind, endpoint, check_endpoint, start_endpoint

    def initial(self) -> ProfileData:
        return ProfileData(name=current_user.name) if self.kind == "self" else ProfileData()

    def url(self, key: str | None, **kw) -> str:
        return url_for(self.check_endpoint) if key is None else url_for(self.endpoint, step=key, **kw)


SELF = WizardFlow("self", "members.register_step", "members.register_check", "members.register_start")


def run_step(flow: WizardFlow, step_key: str):
    step = wizard.BY_KEY.get(step_key)
    data, meta = wizard.read_draft(current_user, flow.kind, initial=flow.initial())
    if step is None or step not in wizard.steps_for(flow.kind, data):
        abort(404)
    back_to_check = request.args.get("return") == "check"
    form = wizard.form_for(step, kind=flow.kind, formdata=request.form if request.method == "POST" else None)
    wizard.prepare(form, step, data, actor=current_user)
    if request.method == "GET":
        form.fill(data, meta)
    elif step.is_list and "remove" in request.form:
        _remove_item(step, data, request.form.get("remove", ""))
        wizard.write_draft(current_user, flow.kind, data, meta)
        db.session.commit()
        return redirect(flow.url(step.key, **({"return": "check"} if back_to_check else {})))
    elif form.validate():
        form.apply(data, meta)
        wizard.write_draft(current_user, flow.kind, data, meta)
        db.session.commit()
        if step.is_list and request.form.get("action") == "add":
            flash("已添加。可以继续添加，或者点“下一步”。", "success")
            return redirect(flow.url(step.key, **({"return": "check"} if back_to_check else {})))
        following = wizard.step_after(flow.kind, data, step.key)
        if back_to_check and not (step.key == "consent" and data.consent and not data.capacity):
            following = None
        return redirect(flow.url(following, **({"return": "check"} if back_to_check and following else {})))
    keys = [s.key for s in wizard.steps_for(flow.kind, data)]
    previous = wizard.step_before(flow.kind, data, step.key)
    return form_page(step.template, form, step=step, data=data, meta=meta, flow=flow,
                     number=keys.index(step.key) + 1, total=len(keys) + 1,
                     back=flow.url(previous) if previous else url_for(flow.start_endpoint),
                     action=flow.url(step.key, **({"return": "check"} if back_to_check else {})),
                     skill_names=_skill_names(data) if step.key == "skills" else {})


def _remove_item(step, data: ProfileData, index: str) -> None:
    items = data.unavailable if step.key == "unavailable" else data.skills
    if index.isdigit() and int(index) < len(items):
        items.pop(int(index))


def _skill_names(data: ProfileData) -> dict[int, str]:
    from sqlalchemy import select

    from app.members.models import Skill

    return dict(db.session.execute(select(Skill.id, Skill.name).where(
        Skill.id.in_([s.skill_id for s in data.skills] or [-1]))).all())


def check_page(flow: WizardFlow, submit):
    data, meta = wizard.read_draft(current_user, flow.kind, initial=flow.initial())
    form = SubmitForm()
    if form.validate_on_submit():
        try:
            target = submit(data, meta, form)
            db.session.commit()
            return target
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            step_key = wizard.FIELD_STEP.get(e.field or "")
            return form_page("members/check.html", form, status=e.status, rows=wizard.summary(flow.kind, data, meta),
                             flow=flow, fix_step=step_key)
    return form_page("members/check.html", form, rows=wizard.summary(flow.kind, data, meta), flow=flow,
                     fix_step=None)


@bp.get("/profile/register")
@login_required
def register_start():
    if own_profile() is not None:
        return redirect(url_for("members.profile"))
    data, meta = wizard.read_draft(current_user, "self")
    started = services.load_draft(current_user, "self") is not None
    return render_template("members/start.html", started=started, first=wizard.steps_for("self", data)[0].key,
                           flow=SELF)


@bp.route("/profile/register/<step>", methods=["GET", "POST"])
@login_required
def register_step(step: str):
    if own_profile() is not None:
        return redirect(url_for("members.profile"))
    return run_step(SELF, step)


@bp.route("/profile/register/check", methods=["GET", "POST"])
@login_required
def register_check():
    if own_profile() is not None:
        return redirect(url_for("members.profile"))

    def submit(data, meta, form):
        member = services.register_member(actor=current_user, data=data)
        services.discard_draft(current_user, "self")
        if form.apply_county.data:
            pool.apply(actor=current_user, member=member)
            flash("登记完成，入库申请已提交，请等待县（市、区）老干部局审核。", "success")
        else:
            flash("登记完成。谢谢您！", "success")
        return redirect(url_for("members.profile"))

    return check_page(SELF, submit)


# --- my profile ---------------------------------------------------------------------------------


@bp.get("/profile")
@login_required
def profile():
    member = own_profile()
    if member is None:
        return redirect(url_for("members.register_start"))
    data = ProfileData.from_member(member)
    meta = {"consent_method": member.consent_method.value if member.consent_method else None}
    return render_template("members/profile.html", member=member, rows=wizard.summary("self", data, meta),
                           form=BaseForm(), county_entry=pool.live_entry(member, pool.PoolLevel.COUNTY))


def edit_step(member: MemberProfile, step_key: str, *, kind: str, done_url: str, action_url: str):
    """Change one answer of an existing profile, with the wizard's page for it."""
    step = wizard.BY_KEY.get(step_key)
    data = ProfileData.from_member(member)
    meta = {"phone": member.user.phone,
            "consent_method": member.consent_method.value if member.consent_method else None}
    if step is None or step.key == "phone" or step not in wizard.steps_for("self", data) or (
            step.key == "consent" and kind != "self"):
        abort(404)
    form = wizard.form_for(step, kind="self", formdata=request.form if request.method == "POST" else None)
    wizard.prepare(form, step, data, actor=current_user)
    if request.method == "GET":
        form.fill(data, meta)
    else:
        changed = False
        if step.is_list and "remove" in request.form:
            _remove_item(step, data, request.form.get("remove", ""))
            changed = True
        elif form.validate():
            form.apply(data, meta)
            changed = True
        if changed:
            try:
                if step.key == "consent":
                    services.set_consent(actor=current_user, member=member, consent=data.consent)
                else:
                    services.update_profile(actor=current_user, member=member, data=data)
                db.session.commit()
            except DomainError as e:
                db.session.rollback()
                form.add_error(e)
                return form_page(step.template, form, status=e.status, step=step, data=data, meta=meta,
                                 flow=None, number=None, total=None, back=done_url, action=action_url,
                                 skill_names=_skill_names(data))
            if step.key == "consent" and data.consent and member.capacity is None:
                flash("谢谢您的同意。请再告诉我们您的身体能承担哪种强度的活动。", "success")
                return redirect(action_url.replace("/consent", "/capacity"))
            if step.is_list and request.form.get("action") == "add":
                flash("已添加。", "success")
                return redirect(action_url)
            if step.is_list and "remove" in request.form:
                flash("已删除。", "success")
                return redirect(action_url)
            flash("已保存。", "success")
            return redirect(done_url)
    return form_page(step.template, form, step=step, data=data, meta=meta, flow=None, number=None, total=None,
                     back=done_url, action=action_url, skill_names=_skill_names(data))


@bp.route("/profile/edit/<step>", methods=["GET", "POST"])
@login_required
def profile_edit(step: str):
    member = own_profile()
    if member is None:
        return redirect(url_for("members.register_start"))
    return edit_step(member, step, kind="self", done_url=url_for("members.profile"),
                     action_url=url_for("members.profile_edit", step=step))


@bp.post("/profile/pause")
@login_required
def profile_pause():
    member = own_profile()
    if member is None or not BaseForm().validate_on_submit():
        abort(400)
    paused = request.form.get("paused") == "1"
    services.set_paused(actor=current_user, member=member, paused=paused)
    db.session.commit()
    flash("已暂停：这段时间不会有人邀请您。" if paused else "欢迎回来！您会重新收到合适的邀请。", "success")
    return redirect(url_for("members.profile"))


@bp.post("/profile/apply")
@login_required
def profile_apply():
    member = own_profile()
    if member is None or not BaseForm().validate_on_submit():
        abort(400)
    try:
        pool.apply(actor=current_user, member=member)
        db.session.commit()
        flash("入库申请已提交，请等待县（市、区）老干部局审核。", "success")
    except DomainError as e:
        db.session.rollback()
        flash(e.message, "error")
    return redirect(url_for("members.profile"))


@bp.post("/profile/entries/<int:entry_id>/withdraw")
@login_required
def profile_withdraw(entry_id: int):
    entry = db.session.get(PoolEntry, entry_id)
    if entry is None or entry.member_id != current_user.id:
        abort(404)
    form = ReasonForm()
    if form.validate_on_submit():
        try:
            pool.withdraw(actor=current_user, entry=entry, note=form.note.data or "本人申请退出")
            db.session.commit()
            flash(f"您已退出{entry.level.label}人才库。", "success")
        except DomainError as e:
            db.session.rollback()
            flash(e.message, "error")
    return redirect(url_for("members.profile"))


# --- my data ------------------------------------------------------------------------------------


@bp.get("/profile/data")
@login_required
def my_data():
    member = own_profile()
    if member is None:
        return redirect(url_for("members.register_start"))
    return render_template("members/data.html", member=member, data=services.export_member_data(member))


@bp.get("/profile/data.<fmt>")
@login_required
def my_data_download(fmt: str):
    member = own_profile()
    if member is None or fmt not in ("json", "csv"):
        abort(404)
    data = services.export_member_data(member)
    record_audit(current_user, "member.download", member, detail={"format": fmt})
    db.session.commit()
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False, indent=2)
        mimetype = "application/json"
    else:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["分类", "项目", "内容"])
        for section, content in data.items():
            if isinstance(content, dict):
                for key, value in content.items():
                    writer.writerow([section, key, json.dumps(value, ensure_ascii=False)
                                     if isinstance(value, (list, dict)) else value])
            else:
                for i, item in enumerate(content, 1):
                    writer.writerow([section, i, json.dumps(item, ensure_ascii=False)])
        body = "\ufeff" + out.getvalue()  # BOM: Excel opens UTF-8 Chinese correctly
        mimetype = "text/csv"
    return Response(body, mimetype=f"{mimetype}; charset=utf-8", headers={
        "Content-Disposition": f"attachment; filename=yinhui-my-data.{fmt}"})


@bp.route("/profile/delete", methods=["GET", "POST"])
@login_required
def delete():
    member = own_profile()
    if member is None:
        return redirect(url_for("members.register_start"))
    form = DeleteForm()
    if form.validate_on_submit():
        services.delete_member(actor=current_user, member=member)
        db.session.commit()
        session.clear()
        flash("您的信息已删除，账号已注销。感谢您为大家做过的一切。", "success")
        return redirect(url_for("main.home"))
    return form_page("members/delete.html", form)


# --- claiming an account registered by proxy ----------------------------------------------------


def _claim_key() -> str:
    return "claim:" + (request.form.get("code", "").split("-", 1)[0][:12])


@bp.route("/claim", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_claim_key, methods=["POST"],
               scope="claim-member", deduct_when=lambda r: r.status_code != 302)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], scope="claim-ip",
               deduct_when=lambda r: r.status_code != 302)
def claim():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = ClaimForm()
    if form.validate_on_submit():
        try:
            user = services.claim_account(code=form.code.data, phone=form.phone.data, password=form.password.data)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("members/claim.html", form, status=e.status)
        session.clear()
        session.regenerate()
        login_user(user)
        flash("认领成功！以后请用手机号和密码登录。", "success")
        return redirect(url_for("members.profile"))
    return form_page("members/claim.html", form)

