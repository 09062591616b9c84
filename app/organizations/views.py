"""Organization pages: admins list, create and edit inside their region; organizers see their own."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.extensions import db
from app.forms import options
from app.organizations import services
from app.organizations.forms import OrganizationFilterForm, OrganizationForm
from app.organizations.models import Organization, OrganizationKind
from app.web import run_use_case

bp = Blueprint("organizations", __name__, url_prefix="/organizations")


def county_options(placeholder: str = "请选择") -> list:
    """Counties in the actor's region for a <select>, grouped by city when there are several."""
    return options(services.county_choices(current_user), placeholder)


@bp.get("/")
@login_required
def index() -> ResponseReturnValue:
    form = OrganizationFilterForm(request.args)
    form.county.choices = county_options("全部")
    valid = form.validate()
    kinds = {k.value for k in OrganizationKind}
    stmt = services.search_organizations(
        current_user, name=form.q.data if valid else None,
        kind=OrganizationKind(form.kind.data) if valid and form.kind.data in kinds else None,
        county_code=form.county.data if valid else None)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=20, error_out=False)
    return render_template("organizations/index.html", page=page, form=form)


@bp.route("/new", methods=["GET", "POST"])
@access.requires(access.may_create_organization)
def create() -> ResponseReturnValue:
    form = OrganizationForm()
    form.county.choices = county_options()
    return run_use_case(form, lambda: services.create_organization(actor=current_user, **form.values()),
                        done=lambda org: (f"已添加组织“{org.name}”。", url_for("organizations.detail", org_id=org.id)),
                        template="organizations/form.html", org=None)


@bp.get("/<int:org_id>")
@login_required
def detail(org_id: int) -> ResponseReturnValue:
    return render_template("organizations/detail.html", org=access.get_or_404(Organization, org_id, current_user))


@bp.route("/<int:org_id>/edit", methods=["GET", "POST"])
@access.requires(access.may_administer)
def edit(org_id: int) -> ResponseReturnValue:
    org = access.get_or_404(Organization, org_id, current_user)
    access.check_or_403(access.may_edit_organization(current_user, org))   # seen as an organizer, not run
    form = OrganizationForm(obj=org if request.method == "GET" else None)
    form.county.choices = county_options()
    if request.method == "GET":
        form.kind.data = org.kind.value
        form.county.data = org.region_code
        form.lat.data = form.lon.data = None
    return run_use_case(form, lambda: services.update_organization(actor=current_user, org=org, **form.values()),
                        done=("组织信息已保存。", url_for("organizations.detail", org_id=org.id)),
                        template="organizations/form.html", org=org)
