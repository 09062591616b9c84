"""Sign-in, registration, password and the account page; staff pages for accounts and roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from app import access
from app.accounts import recovery, services
from app.accounts.forms import (
    ChannelsForm,
    ConfirmForm,
    EmailForm,
    FindUserForm,
    GrantForm,
    LoginForm,
    NewPasswordForm,
    PasswordChangeForm,
    RecoveryPhoneForm,
    RegisterForm,
    SmsCodeForm,
    StaffCodeForm,
)
from app.accounts.models import RecoveryPurpose, Role, RoleGrant, User
from app.accounts.phone import mask_phone, normalise_phone
from app.accounts.sessions import active_sessions, this_session
from app.audit.services import record_read
from app.errors import LOGIN_CEILING, DomainError
from app.extensions import db, limiter
from app.forms import options
from app.members.models import MemberProfile
from app.notifications.services import channels_for
from app.ops.metrics import failed_logins
from app.organizations.services import organizations_for
from app.web import ELDER_COOKIE, commit, form_page, run_action, run_use_case, safe_next

bp = Blueprint("accounts", __name__)


def _account_key() -> str:
    raw = request.form.get("phone", "")
    return "account:" + (normalise_phone(raw) or raw.strip()[:32])


def _account_ip_key() -> str:
    return f"{_account_key()}:{get_remote_address()}"


def _login_failed(_response: object) -> bool:
    return bool(g.get("login_failed"))


def device_elder_mode() -> bool | None:
    """The 长辈版 choice made on this device, if any: the latest choice wins at sign-in."""
    return request.cookies[ELDER_COOKIE] == "1" if ELDER_COOKIE in request.cookies else None


def sign_in(user: User) -> None:
    """Sign this browser in as `user` (after a password or a one-time code)."""
    session.clear()
    this_session().regenerate()      # a session id planted before sign-in is useless after it
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key,
               methods=["POST"], deduct_when=_login_failed, scope=LOGIN_CEILING)
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_PHONE_IP"], key_func=_account_ip_key,
               methods=["POST"], deduct_when=_login_failed, scope="login-phone-ip")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], key_func=get_remote_address,
               methods=["POST"], deduct_when=_login_failed, scope="login-ip")
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        # Committed either way: a failed attempt keeps its audit record.
        user = commit(lambda: services.authenticate(phone=form.phone.data or "", password=form.password.data,
                                                    elder_mode=device_elder_mode()))
        if user is not None:
            sign_in(user)
            g.elder = user.elder_mode
            flash(f"{user.name}，欢迎您！", "success")
            return redirect(safe_next(form.next.data) or url_for("main.home"))
        form.form_errors.append("手机号或密码不正确。连续输错 5 次需要等 5 分钟再试。")
        failed_logins.labels("password").inc()
    if request.method == "POST":
        g.login_failed = True
    return form_page("accounts/login.html", form)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], methods=["POST"],
               scope="register-ip", deduct_when=lambda response: response.status_code == 302)
def register() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()

    def signed_up(user: User) -> tuple[str, str]:
        sign_in(user)
        return "注册成功，您已登录。下面登记您的专长和方便的时间。", url_for("members.register_start")

    return run_use_case(form, lambda: services.register_user(
        phone=form.phone.data or "", name=form.name.data, password=form.password.data, elder_mode=device_elder_mode()),
        done=signed_up, template="accounts/register.html")


# --- getting back in: a code by SMS or from staff, then a new password ------------------------------

RECOVERY_PHONE = "recovery_phone"      # session keys (the anonymous session: a signed cookie)
RECOVERY_ID = "recovery_id"


def _phone_key() -> str:
    raw = request.form.get("phone", "")
    return "phone:" + (normalise_phone(raw) or raw.strip()[:32])


def _code_phone() -> str:
    """The number a code is being checked for: the form's (staff codes), else the one asked for."""
    return normalise_phone(request.form.get("phone")) or session.get(RECOVERY_PHONE) or ""


def _phone_ip_key() -> str:
    return f"phone-ip:{_code_phone()}:{get_remote_address()}"


def _recovery_failed(_response: object) -> bool:
    return bool(g.get("recovery_failed"))


def _setting(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config[name])


ViewFunc = TypeVar("ViewFunc", bound=Callable[..., ResponseReturnValue])


def code_check_limits(view: ViewFunc) -> ViewFunc:
    """Checking codes is limited per IP and per number and IP; only wrong tries count (a view
    sets g.recovery_failed). Shared by every page that checks an SMS code."""
    for setting, key, scope in (("RECOVERY_CHECK_LIMIT_PER_IP", get_remote_address, "recovery-check-ip"),
                                ("RECOVERY_CHECK_LIMIT_PER_PHONE_IP", _phone_ip_key, "recovery-check-phone-ip")):
        view = cast(ViewFunc, limiter.shared_limit(_setting(setting), scope, key_func=key, methods=["POST"],
                                                   deduct_when=_recovery_failed)(view))
    return view


def sms_request_limits(view: ViewFunc) -> ViewFunc:
    """Asking for an SMS code is limited per number and per IP, counted together on every page
    that asks for one (a request that succeeded redirects: only those count)."""
    for setting, key, scope in (("RECOVERY_REQUEST_LIMIT_PER_PHONE", _phone_key, "recovery-request-phone"),
                                ("RECOVERY_REQUEST_LIMIT_PER_IP", get_remote_address, "recovery-request-ip")):
        view = cast(ViewFunc, limiter.shared_limit(_setting(setting), scope, key_func=key, methods=["POST"],
                                                   deduct_when=lambda r: r.status_code == 302)(view))
    return view


@bp.route("/login/forgot", methods=["GET", "POST"])
@sms_request_limits
def forgot() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.change_password"))
    form = RecoveryPhoneForm()

    def asked(_: None) -> tuple[str | None, str]:
        session[RECOVERY_PHONE] = form.phone.data
        return None, url_for("accounts.forgot_code")

    return run_use_case(form, lambda: recovery.request_sms_code(phone=form.phone.data or ""), done=asked,
                        template="accounts/forgot.html")


@bp.route("/login/forgot/code", methods=["GET", "POST"])
@code_check_limits
def forgot_code() -> ResponseReturnValue:
    phone = session.get(RECOVERY_PHONE)
    if not phone:
        return redirect(url_for("accounts.forgot"))
    form = SmsCodeForm()
    return _check_code(form, phone, RecoveryPurpose.SMS, "accounts/forgot_code.html", masked=mask_phone(phone))


@bp.route("/login/forgot/staff-code", methods=["GET", "POST"])
@code_check_limits
def forgot_staff_code() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("accounts.change_password"))
    form = StaffCodeForm()
    return _check_code(form, form.phone.data or "", RecoveryPurpose.STAFF, "accounts/forgot_staff_code.html")


def _check_code(form: SmsCodeForm | StaffCodeForm, phone: str, purpose: RecoveryPurpose, template: str,
                **context: Any) -> ResponseReturnValue:
    if form.validate_on_submit():
        # Committed either way: a wrong try counts.
        checked = commit(lambda: recovery.check_code(phone=phone, code=form.code.data, purpose=purpose))
        if checked.recovery_id is not None:
            session.pop(RECOVERY_PHONE, None)
            session[RECOVERY_ID] = checked.recovery_id
            return redirect(url_for("accounts.forgot_password"))
        form.code.errors = [*form.code.errors, checked.message]
    if request.method == "POST":
        g.recovery_failed = True
    return form_page(template, form, **context)


@bp.route("/login/forgot/password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    recovery_id = session.get(RECOVERY_ID)
    if recovery.checked_code(recovery_id) is None:
        session.pop(RECOVERY_ID, None)
        flash("这一步已过期，请重新获取验证码。", "error")
        return redirect(url_for("accounts.forgot"))
    form = NewPasswordForm()

    def reset(user: User) -> tuple[str, str]:
        sign_in(user)
        return f"{user.name}，您的密码已重新设置，您已登录。其他设备上的登录已退出。", url_for("main.home")

    return run_use_case(form, lambda: recovery.set_new_password(
        recovery_id=recovery_id, password=form.password.data, elder_mode=device_elder_mode()),
        done=reset, template="accounts/forgot_password.html")


@bp.post("/pool/members/<int:member_id>/reset-code")
@access.requires(access.may_organize)
def reset_code(member_id: int) -> ResponseReturnValue:
    member = access.get_or_404(MemberProfile, member_id, current_user)
    access.check_or_404(access.may_care_for_account(current_user, member))
    return run_action(lambda: recovery.issue_staff_code(actor=current_user, member=member),
                      done=lambda code: render_template(
                          "accounts/reset_code.html", member=member, code=code, hours=recovery.STAFF_CODE_HOURS,
                          url=url_for("accounts.forgot_staff_code", _external=True)),
                      refused=url_for("pool.member", member_id=member.id))


@bp.post("/logout")
@login_required
def logout() -> ResponseReturnValue:
    logout_user()
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("main.home"))


@bp.get("/account")
@login_required
def account() -> ResponseReturnValue:
    return _account_page(EmailForm(email=current_user.email))


@bp.post("/account/email")
@login_required
def change_email() -> ResponseReturnValue:
    return _account_page(EmailForm())


def _account_page(form: EmailForm) -> ResponseReturnValue:
    return run_use_case(form, lambda: services.set_email(actor=current_user, email=form.email.data),
                        done=lambda _: ("电子邮箱已保存。" if current_user.email else "已不再通过电子邮件发送通知。",
                                        url_for("accounts.account")),
                        template="accounts/account.html", sessions=active_sessions(current_user.id),
                        phone=current_user.phone, channels=channels_for(current_user))


@bp.route("/account/channels", methods=["GET", "POST"])
@login_required
def channels() -> ResponseReturnValue:
    chosen = channels_for(current_user)
    form = ChannelsForm(data={"sms": "sms" in chosen, "app": "app" in chosen, "email": "email" in chosen})
    return run_use_case(form, lambda: services.set_channels(
        actor=current_user, sms=form.sms.data, email=form.email.data, app=form.app.data),
        done=("接收通知的方式已保存。", url_for("accounts.account")), template="accounts/channels.html",
        phone=mask_phone(current_user.phone))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions() -> ResponseReturnValue:
    return run_action(lambda: services.end_other_sessions(actor=current_user, keep_session_token=this_session().token),
                      done=lambda count: (f"已退出其他 {count} 个设备上的登录。", url_for("accounts.account")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> ResponseReturnValue:
    form = PasswordChangeForm()

    def changed(_: None) -> tuple[str, str]:
        this_session().regenerate()
        return "密码已修改。其他设备上的登录已退出。", url_for("accounts.account")

    return run_use_case(form, lambda: services.change_password(
        actor=current_user, old_password=form.old_password.data, new_password=form.new_password.data,
        keep_session_token=this_session().token), done=changed, template="accounts/password.html")


# --- staff -------------------------------------------------------------------------------------

PAGE_SIZE = 20


def _grant_form(phone: str | None = None) -> GrantForm:
    form = GrantForm(phone=phone)
    form.role.choices = options([(r.value, r.label) for r in (Role.ORGANIZER, Role.ADMIN)])
    regions = access.regions_administered(current_user)
    form.region.choices = options([(r.code, f"{r.name}（{r.level.label}）") for r in regions],
                                  "（授予管理员时选择）")
    form.organization.choices = options([(o.id, f"{o.name}（{o.region.name}）") for o in organizations_for(current_user)],
                                        "（授予组织者时选择）")
    return form


def _found(phone: str | None) -> User | None:
    """The account with this number, when the actor may look it up; None otherwise."""
    try:
        return services.find_user_by_phone(actor=current_user, phone=phone or "")
    except DomainError:
        return None


def _staff_page(page: int = 1) -> dict:
    return {"page": db.paginate(services.staff_accounts(current_user), page=page, per_page=PAGE_SIZE,
                                error_out=False), "mask_phone": mask_phone}


@bp.get("/admin/users")
@access.requires(access.may_administer)
def users() -> ResponseReturnValue:
    find = FindUserForm(formdata=request.args if "phone" in request.args else None)
    found = None
    if "phone" in request.args and find.validate():
        try:
            found = services.find_user_by_phone(actor=current_user, phone=find.phone.data or "")
        except DomainError as e:
            find.add_error(e)
    return form_page("accounts/users.html", find, status=200, find=find, found=found,
                     grant_form=_grant_form(found.phone) if found else None,
                     **_staff_page(request.args.get("page", 1, type=int)))


@bp.post("/admin/grants")
@access.requires(access.may_administer)
def grant() -> ResponseReturnValue:
    form = _grant_form()

    def granted(result: tuple[User, RoleGrant]) -> tuple[str, str]:
        user, given = result
        return f"已为 {user.name} 授予“{given.role.label}”角色。", url_for("accounts.user_detail", user_id=user.id)

    return run_use_case(form, lambda: services.grant_role_by_phone(
        actor=current_user, phone=form.phone.data or "", role=form.role.data, region_code=form.region.data,
        organization_id=form.organization.data), done=granted, template="accounts/users.html",
        find=FindUserForm(phone=form.phone.data), found=_found(form.phone.data), grant_form=form, **_staff_page())


@bp.get("/admin/users/<int:user_id>")
@access.requires(access.may_administer)
def user_detail(user_id: int) -> ResponseReturnValue:
    user = access.get_or_404(User, user_id, current_user)
    record_read(current_user, "user.view", user)
    return render_template("accounts/user_detail.html", user=user, form=ConfirmForm())


@bp.post("/admin/grants/<int:grant_id>/revoke")
@access.requires(access.may_administer)
def revoke(grant_id: int) -> ResponseReturnValue:
    grant = services.grant_by_id(grant_id) or abort(404)
    user = access.get_or_404(User, grant.user_id, current_user)
    return run_action(lambda: services.revoke_grant(actor=current_user, grant=grant),
                      done=("角色已撤销。", url_for("accounts.user_detail", user_id=user.id)))


@bp.post("/admin/users/<int:user_id>/active")
@access.requires(access.may_administer)
def set_active(user_id: int) -> ResponseReturnValue:
    user = access.get_or_404(User, user_id, current_user)
    active = request.form.get("active") == "1"
    return run_action(lambda: services.set_user_active(actor=current_user, user=user, active=active),
                      done=("账号已启用。" if active else "账号已停用，此人的所有登录已退出。",
                            url_for("accounts.user_detail", user_id=user.id)))
