"""Member pages: the registration wizard, my profile, my data, claiming an account."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user

from app.accounts.models import User
from app.accounts.sessions import this_session
from app.audit.services import record_read
from app.extensions import limiter
from app.forms import BaseForm
from app.matching import near_me
from app.members import pool, services, wizard
from app.members.forms import ClaimForm, DeleteForm, ReasonForm, SubmitForm
from app.members.models import SKILL_LEVELS, Capacity, MemberProfile, PoolLevel
from app.members.profile import ProfileData
from app.tasks.services import describe_schedule
from app.web import commit, file_response, finish_use_case, form_page, run_action, run_use_case

bp = Blueprint("members", __name__)


@bp.app_context_processor
def member_helpers() -> dict[str, Any]:
    return {"capacity_hint": lambda value: Capacity(value).description, "level_labels": SKILL_LEVELS}


# --- the wizard, shared by self-registration and registration by proxy -------------------------


class WizardFlow:
    """Where a wizard's pages live and what its last page does."""

    def __init__(self, kind: str, endpoint: str, check_endpoint: str, start_endpoint: str):
        self.kind, self.endpoint, self.check_endpoint, self.start_endpoint = kind, endpoint, check_endpoint, start_endpoint

    def initial(self) -> ProfileData:
        return ProfileData(name=current_user.name) if self.kind == "self" else ProfileData()

    def url(self, key: str | None, **kw: Any) -> str:
        return url_for(self.check_endpoint) if key is None else url_for(self.endpoint, step=key, **kw)


SELF = WizardFlow("self", "members.register_step", "members.register_check", "members.register_start")


def _nothing_typed() -> bool:
    """Whether a wizard page was sent back empty (先保存 on a page not started saves nothing)."""
    return all(not value.strip() for key, value in request.form.items(multi=True)
               if key not in ("csrf_token", "action"))


def run_step(flow: WizardFlow, step_key: str) -> ResponseReturnValue:
    step = wizard.BY_KEY.get(step_key)
    data, meta = wizard.read_draft(current_user, flow.kind, initial=flow.initial())
    if step is None or step not in wizard.steps_for(flow.kind, data):
        abort(404)
    back_to_check = request.args.get("return") == "check"
    again = {"return": "check"} if back_to_check else {}
    action = request.form.get("action")
    form = wizard.form_for(step, kind=flow.kind, formdata=request.form if request.method == "POST" else None)
    wizard.prepare(form, step, data, actor=current_user)
    asking = None
    if request.method == "GET":
        form.fill(data, meta)
    elif step.is_list and "remove" in request.form:
        index = request.form.get("remove", "")
        if request.form.get("confirmed") != "1":
            asking = wizard.item_text(step, data, index)     # ask first
        else:
            wizard.remove_item(step, data, index)
            commit(lambda: wizard.write_draft(current_user, flow.kind, data, meta))
            flash("已删除。", "success")
            return redirect(flow.url(step.key, **again))
    elif action == "later" and _nothing_typed():
        flash("已保存。下次点“继续填写”，会从还没填的地方接着填。", "success")
        return redirect(url_for(flow.start_endpoint))
    elif form.validate():
        form.apply(data, meta)
        wizard.mark_answered(meta, step.key)
        commit(lambda: wizard.write_draft(current_user, flow.kind, data, meta))
        if action == "later":
            flash("已保存这一页。下次点“继续填写”，会从还没填的地方接着填。", "success")
            return redirect(url_for(flow.start_endpoint))
        if step.is_list and action == "add":
            flash("已添加。可以继续添加，或者点“下一步”。", "success")
            return redirect(flow.url(step.key, **again))
        following = wizard.step_after(flow.kind, data, step.key)
        if back_to_check and not (step.key == "consent" and data.consent and not data.capacity):
            following = None
        return redirect(flow.url(following, **(again if following else {})))
    keys = [s.key for s in wizard.numbered(flow.kind)]
    previous = wizard.step_before(flow.kind, data, step.key)
    return form_page(step.template, form, step=step, data=data, meta=meta, flow=flow,
                     number=keys.index(step.key) + 1, total=len(keys) + 1,
                     back=flow.url(previous) if previous else url_for(flow.start_endpoint),
                     action=flow.url(step.key, **again), asking=asking,
                     remove_index=request.form.get("remove", "") if asking else None,
                     skill_names=wizard.skill_names(data) if step.key == "skills" else {},
                     status=200 if asking else None)


def check_page(flow: WizardFlow, submit: Any) -> ResponseReturnValue:
    """The check-your-answers page; `submit(data, meta, form)` is the use case, whose result is the
    response to send (a redirect, or a page such as the claim slip). It lists every answer still
    missing at once: those a registration cannot do without (the service refuses them), and those
    without which nothing will be suggested (a warning beside the button)."""
    data, meta = wizard.read_draft(current_user, flow.kind, initial=flow.initial())
    form = SubmitForm()
    gaps = wizard.missing(flow.kind, data, meta)
    return run_use_case(form, lambda: submit(data, meta, form), done=lambda response: response,
                        template="members/check.html", rows=wizard.summary(flow.kind, data, meta), flow=flow,
                        account_name=data.name if flow.kind == "self" else None,
                        blocking=[g for g in gaps if g.blocking], warnings=[g for g in gaps if not g.blocking],
                        fix_step=None, on_refusal=lambda e: {"fix_step": wizard.FIELD_STEP.get(e.field or "")})


def join_pool_answer(meta: dict) -> bool | None:
    """The pool question's answer in a draft: yes, no, or not answered (None)."""
    return {"yes": True, "no": False}.get(meta.get("join_pool") or "")


@bp.get("/profile/register")
@login_required
def register_start() -> ResponseReturnValue:
    if services.own_profile(current_user) is not None:
        return redirect(url_for("members.profile"))
    return start_page(SELF)


def start_page(flow: WizardFlow) -> ResponseReturnValue:
    """The start page; once started, the task list of what is done and what is left, and
    继续填写 leading to the first page not answered yet."""
    data, meta = wizard.read_draft(current_user, flow.kind, initial=flow.initial())
    started = services.load_draft(current_user, flow.kind) is not None
    first = wizard.first_gap(flow.kind, data, meta) if started else wizard.steps_for(flow.kind, data)[0].key
    return render_template("members/start.html", started=started, resume=flow.url(first), flow=flow,
                           tasks=wizard.task_list(flow.kind, data, meta) if started else [],
                           asked={s.key for s in wizard.steps_for(flow.kind, data)})


@bp.route("/profile/register/<step>", methods=["GET", "POST"])
@login_required
def register_step(step: str) -> ResponseReturnValue:
    if services.own_profile(current_user) is not None:
        return redirect(url_for("members.profile"))
    return run_step(SELF, step)


@bp.route("/profile/register/check", methods=["GET", "POST"])
@login_required
def register_check() -> ResponseReturnValue:
    if services.own_profile(current_user) is not None:
        return redirect(url_for("members.profile"))

    def submit(data: ProfileData, meta: dict, form: SubmitForm) -> ResponseReturnValue:
        services.finish_registration(actor=current_user, data=data, join_pool=join_pool_answer(meta))
        return redirect(url_for("members.registered"))

    return check_page(SELF, submit)


@bp.get("/profile/registered")
@login_required
def registered() -> ResponseReturnValue:
    """The confirmation: registration is done, and what happens next (suggestions, or what they
    wait for; the pool review and how long it takes)."""
    member = _own_or_register()
    gaps = wizard.matching_missing_of(member)
    return render_template("members/registered.html", member=member, gaps=gaps,
                           near=near_me.tasks_near(member, limit=3) if member.is_matchable and not gaps else [],
                           describe=describe_schedule,
                           county_entry=pool.live_entry(member, PoolLevel.COUNTY),
                           review_days=current_app.config["POOL_REVIEW_DAYS"])


# --- my profile ---------------------------------------------------------------------------------


def _own_or_register() -> MemberProfile:
    """The signed-in member's profile; those not registered yet are sent to register."""
    member = services.own_profile(current_user)
    if member is None:
        abort(redirect(url_for("members.register_start")))
    return member


@bp.get("/profile")
@login_required
def profile() -> ResponseReturnValue:
    member = _own_or_register()
    meta = {"consent_method": member.consent_method.value if member.consent_method else None}
    data = ProfileData.from_member(member)
    return render_template("members/profile.html", member=member, gaps=wizard.matching_missing(data),
                           rows=wizard.summary("profile", data, meta),
                           form=BaseForm(), county_entry=pool.live_entry(member, PoolLevel.COUNTY))


def edit_step(member: MemberProfile, step_key: str, *, kind: str, done_url: str, action_url: str) -> ResponseReturnValue:
    """Change one answer of an existing profile, with the wizard's page for it."""
    step = wizard.BY_KEY.get(step_key)
    data = ProfileData.from_member(member)
    meta = {"phone": member.user.phone,
            "consent_method": member.consent_method.value if member.consent_method else None}
    if step is None or step not in wizard.steps_for("profile", data) or (
            step.key == "consent" and kind != "self"):
        abort(404)
    form = wizard.form_for(step, kind="self", formdata=request.form if request.method == "POST" else None)
    wizard.prepare(form, step, data, actor=current_user)
    removing = request.method == "POST" and step.is_list and "remove" in request.form
    asking = None
    changed = False
    if request.method == "GET":
        form.fill(data, meta)
    elif removing and request.form.get("confirmed") != "1":
        asking = wizard.item_text(step, data, request.form.get("remove", ""))     # ask first
    elif removing:
        wizard.remove_item(step, data, request.form.get("remove", ""))
        changed = True
    elif form.validate():
        form.apply(data, meta)
        changed = True
    context: dict[str, Any] = dict(step=step, data=data, meta=meta, flow=None, number=None, total=None, back=done_url,
                   action=action_url, skill_names=wizard.skill_names(data), asking=asking,
                   remove_index=request.form.get("remove", "") if asking else None)
    if not changed:
        return form_page(step.template, form, status=200 if asking else None, **context)

    def save() -> None:
        if step.key == "consent":
            services.set_consent(actor=current_user, member=member, consent=data.consent)
        else:
            services.update_profile(actor=current_user, member=member, data=data)

    def next_page(_: None) -> tuple[str, str]:
        if step.key == "consent" and data.consent and member.capacity is None:
            return "谢谢您的同意。请再告诉我们您的身体能承担哪种强度的活动。", action_url.replace("/consent", "/capacity")
        if removing:
            return "已删除。", action_url
        if step.is_list and request.form.get("action") == "add":
            return "已添加。", action_url
        return "已保存。", done_url

    return finish_use_case(form, save, done=next_page, template=step.template, **context)


@bp.route("/profile/edit/<step>", methods=["GET", "POST"])
@login_required
def profile_edit(step: str) -> ResponseReturnValue:
    member = _own_or_register()
    return edit_step(member, step, kind="self", done_url=url_for("members.profile"),
                     action_url=url_for("members.profile_edit", step=step))


@bp.post("/profile/pause")
@login_required
def profile_pause() -> ResponseReturnValue:
    member = services.own_profile(current_user) or abort(400)
    paused = request.form.get("paused") == "1"
    return run_action(lambda: services.set_paused(actor=current_user, member=member, paused=paused),
                      done=("已暂停：这段时间不会有人邀请您。" if paused else "欢迎回来！您会重新收到合适的邀请。",
                            url_for("members.profile")))


@bp.post("/profile/apply")
@login_required
def profile_apply() -> ResponseReturnValue:
    member = services.own_profile(current_user) or abort(400)
    return run_action(lambda: pool.apply(actor=current_user, member=member),
                      done=("入库申请已提交，请等待县（市、区）老干部局审核。", url_for("members.profile")))


@bp.route("/profile/entries/<int:entry_id>/withdraw", methods=["GET", "POST"])
@login_required
def profile_withdraw(entry_id: int) -> ResponseReturnValue:
    """Leaving a pool asks first: a page that says what leaving means, then the button."""
    entry = services.own_entry(current_user, entry_id) or abort(404)
    form = ReasonForm()
    return run_use_case(form, lambda: pool.withdraw(actor=current_user, entry=entry,
                                                    note=form.note.data or "本人申请退出"),
                        done=(f"您已退出{entry.level.label}人才库。", url_for("members.profile")),
                        template="members/withdraw.html", entry=entry)


# --- my data ------------------------------------------------------------------------------------


@bp.get("/profile/data")
@login_required
def my_data() -> ResponseReturnValue:
    member = _own_or_register()
    return render_template("members/data.html", member=member, data=services.export_member_data(member))


@bp.get("/profile/data.<fmt>")
@login_required
def my_data_download(fmt: str) -> ResponseReturnValue:
    member = services.own_profile(current_user)
    if member is None or fmt not in ("json", "csv"):
        abort(404)
    record_read(current_user, "member.download", member, detail={"format": fmt})
    body = services.my_data_json(member) if fmt == "json" else services.my_data_csv(member)
    return file_response(body, kind=fmt, filename=f"yinhui-my-data.{fmt}")


@bp.route("/profile/delete", methods=["GET", "POST"])
@login_required
def delete() -> ResponseReturnValue:
    member = _own_or_register()
    form = DeleteForm()

    def gone(_: None) -> tuple[str, str]:
        session.clear()
        return "您的信息已删除，账号已注销。感谢您为大家做过的一切。", url_for("main.home")

    return run_use_case(form, lambda: services.delete_member(actor=current_user, member=member),
                        done=gone, template="members/delete.html")


# --- claiming an account registered by proxy ----------------------------------------------------


def _claim_key() -> str:
    return "claim:" + (request.form.get("code", "").split("-", 1)[0][:12])


@bp.route("/claim", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["CLAIM_LIMIT_PER_CODE"], key_func=_claim_key, methods=["POST"],
               scope="claim-member", deduct_when=lambda r: r.status_code != 302)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], methods=["POST"], scope="claim-ip",
               deduct_when=lambda r: r.status_code != 302)
def claim() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = ClaimForm()

    def signed_in(user: User) -> tuple[str, str]:
        session.clear()
        this_session().regenerate()
        login_user(user)
        return "认领成功！以后请用手机号和密码登录。", url_for("members.profile")

    return run_use_case(form, lambda: services.claim_account(code=form.code.data, phone=form.phone.data or "",
                                                             password=form.password.data),
                        done=signed_in, template="members/claim.html")

