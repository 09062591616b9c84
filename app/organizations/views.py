"""Organization pages: admins list, create and edit inside their region; organizers see their own."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.accounts.models import Role
from app.errors import DomainError
from app.extensions import db
from app.forms import options
from app.main.access import admin_required
from app.organizations import services
from app.organizations.forms import OrganizationFilterForm, OrganizationForm
from app.organizations.models import Organization, OrganizationKind
from app.regions.models import RegionLevel
from app.regions.scope import covers, regions_in_scope, scoped, scoped_get_or_404
from app.web import form_page, save

bp = Blueprint("organizations", __name__, url_prefix="/organizations")


def county_choices(actor, placeholder: str = "请选择"):
    """Counties in the actor's region for a <select>, grouped by city when there are several."""
    regions = db.session.scalars(regions_in_scope(actor)).all()
    cities = {r.code: r.name for r in regions if r.level is RegionLevel.CITY}
    counties = [r for r in regions if r.level is RegionLevel.COUNTY]
    if len(cities) > 1:
        return options([(r.code, r.name, cities.get(r.parent_code, "省直辖县级市")) for r in counties], placeholder)
    return options([(r.code, r.name) for r in counties], placeholder)


@bp.get("/")
@login_required
def index():
    form = OrganizationFilterForm(request.args)
    form.county.choices = county_choices(current_user, "全部")
    stmt = scoped(Organization, current_user)
    if form.validate():
        if form.q.data:
            stmt = stmt.where(Organization.name.contains(form.q.data, autoescape=True))
        if form.kind.data in {k.value for k in OrganizationKind}:
            stmt = stmt.where(Organization.kind == OrganizationKind(form.kind.data))
        if form.county.data:
            stmt = stmt.where(Organization.region_code == form.county.data)
    page = db.paginate(stmt.order_by(Organization.region_code, Organization.name),
                       page=request.args.get("page", 1, type=int), per_page=20, error_out=False)
    return render_template("organizations/index.html", page=page, form=form,
                           can_create=current_user.has_role(Role.ADMIN))


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def create():
    form = OrganizationForm()
    form.county.choices = county_choices(current_user)
    if form.validate_on_submit():
        try:
            org = services.create_organization(actor=current_user, **form.values())
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("organizations/form.html", form, status=e.status, org=None)
        flash(f"已添加组织“{org.name}”。", "success")
        return redirect(url_for("organizations.detail", org_id=org.id))
    return form_page("organizations/form.html", form, org=None)


@bp.get("/<int:org_id>")
@login_required
def detail(org_id: int):
    org = scoped_get_or_404(Organization, org_id, current_user)
    return render_template("organizations/detail.html", org=org, can_edit=covers(current_user, org.region_code))


@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(org_id: int):
    org = scoped_get_or_404(Organization, org_id, current_user)
    if not covers(current_user, org.region_code):
        abort(403)  # an admin elsewhere who organizes here may see it, not edit it
    form = OrganizationForm(obj=org if request.method == "GET" else None)
    form.county.choices = county_choices(current_user)
    if request.method == "GET":
        form.kind.data = org.kind.value
        form.county.data = org.region_code
        form.lat.data = form.lon.data = None
    if form.validate_on_submit() and save(
            form, lambda: services.update_organization(actor=current_user, org=org, **form.values())):
        flash("组织信息已保存。", "success")
        return redirect(url_for("organizations.detail", org_id=org.id))
    return form_page("organizations/form.html", form, org=org)
