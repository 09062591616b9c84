"""Sign-in, registration, password and the account page; staff pages for accounts and roles."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

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
from app.accounts.sessions import active_sessions, end_user_sessions
from app.audit.services import record_audit
from app.errors import DomainError
from app.extensions import db, limiter
from app.forms import options
from app.main.access import admin_required
from app.organizations.models import Organization
from app.regions.models import Region
from app.regions.scope import regions_in_scope, scoped, scoped_get, scoped_get_or_404
from app.transactions import writes
from app.web import ELDER_COOKIE, form_page, safe_next, save

bp = Blueprint("accounts", __name__)


def _account_key() -> str:
    raw = request.form.get("phone", "")
    return "account:" + (normalise_phone(raw) or raw.strip()[:32])


def _login_failed(_response) -> bool:
    return bool(g.get("login_failed"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=_account_key,
               methods=["POST"], deduct_when=_login_failed, scope="login-account")
@limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], key_func=get_remote_address,
               methods=["POST"], deduct_when=_login_failed, scope="login-ip")
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        user = services.authenticate(phone=form.phone.data, password=form.password.data)
        if user is not None:
            if ELDER_COOKIE in request.cookies:  # the latest choice on this device wins
                user.elder_mode = request.cookies[ELDER_COOKIE] == "1"
            db.session.commit()
            session.clear()
            session.regenerate()
            login_user(user)
            g.elder = user.elder_mode
            flash(f"{user.name}，欢迎您！", "success")
            return redirect(safe_next(form.next.data) or url_for("main.home"))
        db.session.commit()  # keep the audit record of the failure
        form.form_errors.append("手机号或密码不正确。连续输错 5 次需要等 5 分钟再试。")
    if request.method == "POST":
        g.login_failed = True
    return form_page("accounts/login.html", form)


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["REGISTER_LIMIT_PER_IP"], methods=["POST"],
               scope="register-ip", deduct_when=lambda response: response.status_code == 302)
def register():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = services.register_user(phone=form.phone.data, name=form.name.data,
                                          password=form.password.data)
            if ELDER_COOKIE in request.cookies:
                user.elder_mode = request.cookies[ELDER_COOKIE] == "1"
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("accounts/register.html", form, status=e.status)
        session.clear()
        session.regenerate()
        login_user(user)
        flash("注册成功，您已登录。", "success")
        return redirect(url_for("main.home"))
    return form_page("accounts/register.html", form)


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    session.clear()
    flash("您已安全退出。", "success")
    return redirect(url_for("main.home"))


@bp.get("/account")
@login_required
def account():
    return _account_page(EmailForm(email=current_user.email))


def _account_page(email_form: EmailForm):
    return form_page("accounts/account.html", email_form, sessions=active_sessions(current_user.id),
                     phone=current_user.phone)


@bp.post("/account/email")
@login_required
def change_email():
    form = EmailForm()
    if not form.validate_on_submit():
        return _account_page(form)
    services.set_email(actor=current_user, email=form.email.data)
    db.session.commit()
    flash("电子邮箱已保存。" if current_user.email else "已不再通过电子邮件发送通知。", "success")
    return redirect(url_for("accounts.account"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    form = ConfirmForm()
    if form.validate_on_submit():
        count = end_user_sessions(current_user.id, except_token=session.token)
        record_audit(current_user, "account.sessions_end", current_user, detail={"count": count})
        db.session.commit()
        flash(f"已退出其他 {count} 个设备上的登录。", "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = PasswordChangeForm()
    if form.validate_on_submit() and save(
            form, lambda: services.change_password(
                actor=current_user, old_password=form.old_password.data, new_password=form.new_password.data,
                keep_session_token=session.token)):
        session.regenerate()
        flash("密码已修改。其他设备上的登录已退出。", "success")
        return redirect(url_for("accounts.account"))
    return form_page("accounts/password.html", form)


# --- staff -------------------------------------------------------------------------------------

PAGE_SIZE = 20


def _grant_form(phone: str | None = None) -> GrantForm:
    form = GrantForm(phone=phone)
    form.role.choices = options([(r.value, r.label) for r in (Role.ORGANIZER, Role.ADMIN)])
    regions = db.session.scalars(regions_in_scope(current_user)).all()
    form.region.choices = options([(r.code, f"{r.name}（{r.level.label}）") for r in regions],
                                  "（授予管理员时选择）")
    orgs = db.session.scalars(scoped(Organization, current_user).order_by(
        Organization.region_code, Organization.name)).all()
    form.organization.choices = options([(o.id, f"{o.name}（{o.region.name}）") for o in orgs],
                                        "（授予组织者时选择）")
    return form


@bp.get("/admin/users")
@admin_required
def users():
    find = FindUserForm(formdata=request.args if "phone" in request.args else None)
    found = None
    if "phone" in request.args and find.validate():
        try:
            found = services.find_user_by_phone(actor=current_user, phone=find.phone.data)
        except DomainError as e:
            find.add_error(e)
    page = db.paginate(select(User).where(User.scope_clause(current_user)).order_by(User.id),
                       page=request.args.get("page", 1, type=int), per_page=PAGE_SIZE, error_out=False)
    return render_template("accounts/users.html", page=page, find=find, found=found, form=find,
                           grant_form=_grant_form(found.phone) if found else None,
                           mask_phone=mask_phone)


@bp.post("/admin/grants")
@admin_required
def grant():
    form = _grant_form()
    user = None
    if form.validate_on_submit():
        try:
            user = services.find_user_by_phone(actor=current_user, phone=form.phone.data or "")
            region = db.session.scalar(regions_in_scope(current_user).where(Region.code == form.region.data)) \
                if form.region.data else None
            org = scoped_get(Organization, form.organization.data, current_user) \
                if form.organization.data else None
            services.grant_role(actor=current_user, user=user, role=Role(form.role.data),
                                region=region, organization=org)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
        except ValueError:
            form.role.errors.append("请选择角色")
        else:
            flash(f"已为 {user.name} 授予“{Role(form.role.data).label}”角色。", "success")
            return redirect(url_for("accounts.user_detail", user_id=user.id))
    find = FindUserForm(phone=form.phone.data)
    page = db.paginate(select(User).where(User.scope_clause(current_user)).order_by(User.id),
                       page=1, per_page=PAGE_SIZE, error_out=False)
    return form_page("accounts/users.html", form, page=page, find=find, found=user, grant_form=form,
                     mask_phone=mask_phone)


@bp.get("/admin/users/<int:user_id>")
@admin_required
@writes
def user_detail(user_id: int):
    user = scoped_get_or_404(User, user_id, current_user)
    record_audit(current_user, "user.view", user)
    db.session.commit()
    return render_template("accounts/user_detail.html", user=user, form=ConfirmForm(),
                           revocable={g.id for g in user.grants if g.role is not Role.MEMBER
                                      and services._grant_in_scope(current_user, g)})


@bp.post("/admin/grants/<int:grant_id>/revoke")
@admin_required
def revoke(grant_id: int):
    grant = db.session.get(RoleGrant, grant_id)
    if grant is None:
        abort(404)
    scoped_get_or_404(User, grant.user_id, current_user)
    if ConfirmForm().validate_on_submit():
        try:
            services.revoke_grant(actor=current_user, grant=grant)
            db.session.commit()
            flash("角色已撤销。", "success")
        except DomainError as e:
            db.session.rollback()
            flash(e.message, "error")
    return redirect(url_for("accounts.user_detail", user_id=grant.user_id))


@bp.post("/admin/users/<int:user_id>/active")
@admin_required
def set_active(user_id: int):
    user = scoped_get_or_404(User, user_id, current_user)
    if ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        try:
            services.set_user_active(actor=current_user, user=user, active=active)
            db.session.commit()
            flash("账号已启用。" if active else "账号已停用，此人的所有登录已退出。", "success")
        except DomainError as e:
            db.session.rollback()
            flash(e.message, "error")
    return redirect(url_for("accounts.user_detail", user_id=user.id))
