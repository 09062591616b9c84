"""The bureaus' dashboards: a region's (the admin's own on the home page, any region inside it by
drilling down) and an organization's, as a page, a printable report and an .xlsx workbook.
Out of the admin's region is 404, never 403."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app import access
from app.accounts.models import User
from app.audit.services import record_read
from app.extensions import db
from app.formats import fmt_instant
from app.organizations.models import Organization
from app.regions.models import Region, RegionLevel
from app.reports import exports, figures
from app.web import file_response

bp = Blueprint("reports", __name__, url_prefix="/reports")


def own_regions(actor: User) -> list[Region]:
    """Every region the admin administers (a county admin of two counties, county and city grants),
    once each, highest first and then by code; a region no longer current is left out."""
    regions: dict[str, Region] = {}
    for region in sorted(access.admin_regions(actor), key=lambda r: (len(r.prefix), r.code)):
        if region.is_current:
            regions.setdefault(region.code, region)
    return list(regions.values())


def home_region(actor: User) -> Region | None:
    """The region an admin's own dashboard is about: their highest, then first, admin region."""
    regions = own_regions(actor)
    return regions[0] if regions else None


def _region_label(region: Region) -> str:
    """A region with its city, so that two counties of the same name stay apart: 郑州市管城回族区."""
    parent = db.session.get(Region, region.parent_code) if region.parent_code else None
    return f"{parent.name}{region.name}" if parent is not None and parent.level is RegionLevel.CITY else region.name


def region_switcher(actor: User, unit: figures.Unit) -> list[dict[str, Any]]:
    """For an admin of several regions, each of them with its dashboard's link, the one shown
    marked; nothing for an admin of one region."""
    regions = own_regions(actor)
    if len(regions) < 2:
        return []
    return [{"name": _region_label(r), "url": url_for("reports.region", code=r.code),
             "current": unit.org is None and unit.region.code == r.code} for r in regions]


def region_unit(code: str) -> figures.Unit:
    region = db.session.get(Region, code)
    access.check_or_404(region is not None and access.may_see_region_figures(current_user, region))
    assert region is not None
    return figures.Unit(region=region)


def org_unit(org_id: int) -> figures.Unit:
    org = db.session.get(Organization, org_id)
    access.check_or_404(org is not None and access.may_see_org_figures(current_user, org))
    assert org is not None
    return figures.Unit(region=org.region, org=org)


def trail(unit: figures.Unit) -> list[tuple[str, str | None]]:
    """The way down from the admin's own region to this unit, as (name, link) pairs."""
    steps: list[tuple[str, str | None]] = []
    region: Region | None = unit.region
    while region is not None and access.may_see_region_figures(current_user, region):
        steps.insert(0, (region.name, url_for("reports.region", code=region.code)))
        region = db.session.get(Region, region.parent_code) if region.parent_code else None
    if unit.org is not None:
        steps.append((unit.org.name, None))
    else:
        steps[-1] = (steps[-1][0], None)
    return steps


def board_context(unit: figures.Unit) -> dict[str, Any]:
    """What templates/reports/_board.html needs to show a unit's dashboard."""
    board = figures.load(unit)
    return {"board": board, "trail": trail(unit), "charts": figures.chart_data(board),
            "refreshed": figures.refreshed_text(board), "own_regions": region_switcher(current_user, unit),
            "export_url": (url_for("reports.org_export", org_id=unit.org.id) if unit.org
                           else url_for("reports.region_export", code=unit.region.code))}


def home_board(actor: User) -> dict[str, Any] | None:
    """The admin's own region's dashboard, for the home page; None for everyone else."""
    region = home_region(actor)
    return board_context(figures.Unit(region=region)) if region is not None else None


def page(unit: figures.Unit) -> ResponseReturnValue:
    return render_template("reports/dashboard.html", **board_context(unit))


def workbook(unit: figures.Unit) -> ResponseReturnValue:
    board = figures.load(unit)
    body = exports.workbook(board)
    record_read(current_user, "reports.export", unit.org,
                detail={"region": unit.region.code, "org_id": unit.org.id if unit.org else None})
    stamp = fmt_instant(board.generated_at).split(" ")[0]
    return file_response(body, kind="xlsx", filename=f"{unit.name}统计报表-{stamp}.xlsx")


@bp.get("/")
@access.requires(access.may_administer)
def index() -> ResponseReturnValue:
    region = home_region(current_user)
    if region is None:
        abort(404)
    return redirect(url_for("reports.region", code=region.code))


@bp.get("/regions/<code>")
@access.requires(access.may_administer)
def region(code: str) -> ResponseReturnValue:
    return page(region_unit(code))


@bp.get("/regions/<code>.xlsx")
@access.requires(access.may_administer)
def region_export(code: str) -> ResponseReturnValue:
    return workbook(region_unit(code))


@bp.get("/organizations/<int:org_id>")
@access.requires(access.may_administer)
def org(org_id: int) -> ResponseReturnValue:
    return page(org_unit(org_id))


@bp.get("/organizations/<int:org_id>.xlsx")
@access.requires(access.may_administer)
def org_export(org_id: int) -> ResponseReturnValue:
    return workbook(org_unit(org_id))
