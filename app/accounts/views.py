"""Sign-in, registration, password and the account page; staff pages for accounts and roles."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from app import access
from app.accounts import services
from app.accounts.forms import (
    ConfirmForm,
    EmailForm,
    FindUserForm,
    GrantForm,
    LoginForm,
    PasswordChangeForm,
    RegisterForm,
)
from app.accounts.models import Role, RoleGrant, User
from app.accounts.phone import mask_phone, normalise_phone
from app.accounts.sessions import active_sessions, this_session
from app.audit.services import record_read
from app.errors import DomainError
from app.extensions import db, limiter
from app.forms import options
from app.ops.metrics import failed_logins
from app.organizations.services import organizations_for
from app.web import ELDER_COOKIE, commit, form_page, run_action, run_use_case, safe_next

bp = Blueprint("accounts", __name__)


def _account_key() -> str:
    raw = request.form.get("phone", "")
    return "account:" + (normalise_phone(raw) or raw.strip()[:32])


def _login_failed(_response: object) -> bool:
    return bool(g.get("login_failed"))


def _device_elder_mode() -> bool | None:
    """The 长辈版 choice made on this device, if any: the latest choice wins at sign-in."""
    return request.cookies[ELDER_COOKIE] == "1" if ELDER_COOKIE in request.cookies else None


def _sign_in(user: User) -> None:
    session.clear()
    this_session().regenerate()      # a session id planted before sign-in is useless after it
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key,
               methods=["POST"], deduct_when=_login_failed, scope="login-account")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], key_func=get_remote_address,
               methods=["POST"], deduct_when=_login_failed, scope="login-ip")
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        # Committed either way: a failed attempt keeps its audit record.
        user = commit(lambda: services.authenticate(phone=form.phone.data or "", password=form.password.data,
                                                    elder_mode=_device_elder_mode()))
        if user is not None:
            _sign_in(user)
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
        _sign_in(user)
        return "注册成功，您已登录。下面登记您的专长和方便的时间。", url_for("members.register_start")

    return run_use_case(form, lambda: services.register_user(
        phone=form.phone.data or "", name=form.name.data, password=form.password.data, elder_mode=_device_elder_mode()),
        done=signed_up, template="accounts/register.html")


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
                        phone=current_user.phone)


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
