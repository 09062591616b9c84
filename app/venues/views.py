"""Venue pages: find a venue, its week and month calendars, and running a venue (its details,
opening hours, closures, activity packages, managers and calendar address). Booking is
app.bookings.views.

Thin handlers: load through app.access (out of scope → 404), validate the form, call one service
through the use-case runner.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy.orm import joinedload, lazyload

from app import access
from app.accounts.phone import mask_phone
from app.bookings import calendars
from app.clock import add_months, local_today, month_start, week_start
from app.formats import fmt_time
from app.forms import options
from app.organizations.models import Organization, OrganizationKind
from app.organizations.services import organizations_for
from app.organizations.views import county_options
from app.regions import gazetteer
from app.venues import services
from app.venues.forms import (
    ClosureForm,
    ConfirmForm,
    FindForm,
    HoursForm,
    ManagerForm,
    PackageForm,
    VenueForm,
    facility_set,
    parse_hm,
)
from app.venues.holidays import schedule_known
from app.venues.models import ActivityPackage, Venue, VenueKind
from app.venues.recurrence import Slot
from app.web import run_action, run_use_case

bp = Blueprint("venues", __name__)


def venue_or_404(venue_id: int, options: tuple = ()) -> Venue:
    return access.get_or_404(Venue, venue_id, current_user, options)


# A venue's calendars read its name and opening hours (a few rows, in the venue's own statement),
# not its facilities: each statement the ORM runs costs about a millisecond, whatever it reads.
CALENDAR = (joinedload(Venue.hours), lazyload(Venue.facility_rows))


def _managed_or_404(venue_id: int) -> Venue:
    """A venue the actor runs. Venues they cannot see are 404; ones they can see but not run, 403."""
    venue = venue_or_404(venue_id)
    access.check_or_403(access.may_manage_venue(current_user, venue))
    return venue


def parse_day(text: str | None) -> date | None:
    """A day given as 2026-12-04 in an address; None when it is not one."""
    try:
        return datetime.strptime(text or "", "%Y-%m-%d").date()
    except ValueError:
        return None


# --- finding a venue and its calendars -------------------------------------------------------------


@bp.get("/venues/")
@access.requires(access.may_use_venues)
def index() -> ResponseReturnValue:
    form = FindForm(request.args)
    found: list[services.Found] = []
    place, searched = None, bool(request.args)
    if form.validate():
        near = None
        if form.near.data:
            place = gazetteer.locate(form.near.data, within="41")
            if place is None:
                form.near.errors.append("没有认出这个地方，请写县（市、区）的名字，例如“管城回族区”")
            else:
                near = (place.lat, place.lon)
        else:
            near = services.home_of(current_user)
        free = None
        if form.date.data and form.start.data and form.end.data:
            free = Slot(datetime.combine(form.date.data, parse_hm(form.start.data)),
                        datetime.combine(form.date.data, parse_hm(form.end.data)))
        if not form.near.errors:
            found = services.find_venues(
                actor=current_user, near=near, radius_km=float(form.radius.data) if form.radius.data else None,
                kind=VenueKind(form.kind.data) if form.kind.data in {k.value for k in VenueKind} else None,
                min_capacity=form.capacity.data, facilities=facility_set(form.facilities.data), free=free)
    return render_template("venues/index.html", form=form, found=found, place=place, searched=searched)


@bp.get("/venues/<int:venue_id>")
@access.requires(access.may_use_venues)
def detail(venue_id: int) -> ResponseReturnValue:
    venue = venue_or_404(venue_id)
    manage = access.may_manage_venue(current_user, venue)
    today = local_today()
    return render_template("venues/detail.html", venue=venue, closures=services.closures_ahead(venue),
                           packages=services.packages_for(venue), hours=services.venue_rules(venue, today, today),
                           managers=services.venue_managers(venue) if manage else [],
                           troubled=calendars.occurrences_in_closures(venue) if manage else [],
                           feed_url=url_for("bookings.venue_feed", token=venue.feed_token, _external=True)
                           if manage and venue.feed_token else None,
                           form=ConfirmForm(), mask_phone=mask_phone)


@bp.get("/venues/<int:venue_id>/week")
@access.requires(access.may_use_venues)
def week(venue_id: int) -> ResponseReturnValue:
    venue = venue_or_404(venue_id, CALENDAR)
    today = local_today()
    first = week_start(parse_day(request.args.get("start")) or today)
    days = calendars.venue_calendar(actor=current_user, venue=venue, first_day=first,
                                    last_day=first + timedelta(days=6))
    return render_template("venues/week.html", venue=venue, days=days, first=first, today=today,
                           prev=first - timedelta(days=7), next=first + timedelta(days=7),
                           unknown_years=_unknown_holiday_years(first, first + timedelta(days=6)))


@bp.get("/venues/<int:venue_id>/month")
@access.requires(access.may_use_venues)
def month(venue_id: int) -> ResponseReturnValue:
    venue = venue_or_404(venue_id, CALENDAR)
    today = local_today()
    try:
        first = datetime.strptime(request.args.get("month", ""), "%Y-%m").date()
    except ValueError:
        first = month_start(today)
    if not date(2000, 1, 1) <= first <= date(2100, 1, 1):
        first = month_start(today)
    last = add_months(first, 1) - timedelta(days=1)
    days = calendars.venue_calendar(actor=current_user, venue=venue, first_day=first, last_day=last)
    return render_template("venues/month.html", venue=venue, days=days, first=first, today=today,
                           prev=add_months(first, -1), next=add_months(first, 1),
                           lead=[None] * first.weekday(), unknown_years=_unknown_holiday_years(first, last))


def _unknown_holiday_years(first: date, last: date) -> list[int]:
    return [y for y in range(first.year, last.year + 1) if not schedule_known(y)]


# --- managing a venue --------------------------------------------------------------------------------


def _venue_form_choices(form: VenueForm, venue: Venue | None) -> None:
    form.county.choices = county_options()
    operators = organizations_for(current_user, kinds=(OrganizationKind.VENUE_OPERATOR, OrganizationKind.BUREAU,
                                                       OrganizationKind.COMMUNITY))
    if venue is not None and venue.operator not in operators:
        operators.append(venue.operator)
    form.operator.choices = options([(o.id, o.name, o.region.name) for o in operators])
    if venue is not None and not access.may_relocate_venue(current_user, venue):
        form.county.choices = options([(venue.region_code, venue.region.name)])


def _venue_values(form: VenueForm) -> services.VenueValues:
    return services.VenueValues(
        name=form.name.data, kind=VenueKind(form.kind.data), operator=_operator(form.operator.data),
        county_code=form.county.data, address=form.address.data, capacity=form.capacity.data,
        description=form.description.data or "", contact_phone=form.contact_phone.data or None,
        facilities=facility_set(form.facilities.data), min_lead_hours=form.min_lead_hours.data,
        horizon_days=form.horizon_days.data, no_show_minutes=form.no_show_minutes.data or 30,
        closed_on_holidays=form.closed_on_holidays.data, active=form.active.data,
        lat=float(form.lat.data) if form.lat.data is not None else None,
        lon=float(form.lon.data) if form.lon.data is not None else None)


def _operator(organization_id: str | None) -> Organization:
    return services.operator_for(current_user, organization_id)


@bp.route("/venues/new", methods=["GET", "POST"])
@access.requires(access.may_create_venue)
def create() -> ResponseReturnValue:
    form = VenueForm()
    _venue_form_choices(form, None)
    return run_use_case(form, lambda: services.create_venue(actor=current_user, values=_venue_values(form)),
                        done=lambda venue: (f"已添加场地“{venue.name}”。请设置开放时间，并指定场地管理员。",
                                            url_for("venues.detail", venue_id=venue.id)),
                        template="venues/form.html", venue=None)


@bp.route("/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@access.requires(access.may_review_bookings)
def edit(venue_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    form = VenueForm(obj=venue if request.method == "GET" else None)
    _venue_form_choices(form, venue)
    if request.method == "GET":
        form.kind.data, form.county.data, form.operator.data = venue.kind.value, venue.region_code, str(venue.operator_id)
        form.facilities.data = [f.value for f in venue.facilities]
        form.lat.data = form.lon.data = None
    return run_use_case(form, lambda: services.update_venue(actor=current_user, venue=venue, values=_venue_values(form)),
                        done=("场地信息已保存。", url_for("venues.detail", venue_id=venue.id)),
                        template="venues/form.html", venue=venue)


@bp.route("/venues/<int:venue_id>/hours", methods=["GET", "POST"])
@access.requires(access.may_review_bookings)
def hours(venue_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    form = HoursForm()
    if request.method == "GET":
        for d, field in enumerate(form.days()):
            field.data = "，".join(f"{fmt_time(h.opens)}-{fmt_time(h.closes)}" for h in venue.hours if h.weekday == d)
    return run_use_case(form, lambda: services.set_opening_hours(actor=current_user, venue=venue, hours=form.hours()),
                        done=("开放时间已保存。", url_for("venues.detail", venue_id=venue.id)),
                        template="venues/hours.html", venue=venue)


@bp.route("/venues/<int:venue_id>/closures", methods=["GET", "POST"])
@access.requires(access.may_review_bookings)
def closures(venue_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    form = ClosureForm()

    def added(_: object) -> tuple[str, str]:
        troubled = calendars.occurrences_in_closures(venue)
        return ("闭馆日期已添加。" + (f"有 {len(troubled)} 个已有预约落在闭馆或不开放的时间里，请在下面处理。"
                                    if troubled else ""), url_for("venues.closures", venue_id=venue.id))

    return run_use_case(form, lambda: services.add_closure(actor=current_user, venue=venue, first_day=form.first_day.data,
                                                           last_day=form.last_day.data, reason=form.reason.data),
                        done=added, template="venues/closures.html", venue=venue, rows=services.closures_ahead(venue),
                        troubled=calendars.occurrences_in_closures(venue), confirm=ConfirmForm())


@bp.post("/venues/<int:venue_id>/closures/<int:closure_id>/delete")
@access.requires(access.may_review_bookings)
def delete_closure(venue_id: int, closure_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    closure = services.closure_of(venue, closure_id) or abort(404)
    return run_action(lambda: services.remove_closure(actor=current_user, closure=closure),
                      done=("闭馆日期已删除。", url_for("venues.closures", venue_id=venue.id)))


def _package_values(form: PackageForm) -> services.PackageValues:
    return services.PackageValues(name=form.name.data, content=form.content.data, provides=form.provides.data or "",
                                  duration_minutes=form.duration_minutes.data, max_participants=form.max_participants.data,
                                  needs=facility_set(form.needs.data), active=form.active.data)


@bp.get("/venues/packages")
@access.requires(access.may_review_bookings)
def global_packages() -> ResponseReturnValue:
    return render_template("venues/packages.html", venue=None, rows=services.global_packages())


@bp.get("/venues/<int:venue_id>/packages")
@access.requires(access.may_review_bookings)
def packages(venue_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    return render_template("venues/packages.html", venue=venue, rows=services.own_packages(venue),
                           offered=services.packages_for(venue))


@bp.route("/venues/packages/new", methods=["GET", "POST"], defaults={"venue_id": None})
@bp.route("/venues/<int:venue_id>/packages/new", methods=["GET", "POST"])
@access.requires(access.may_review_bookings)
def new_package(venue_id: int | None) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id) if venue_id is not None else None
    access.check_or_403(access.may_edit_package(current_user, None, venue))
    return _package_page(PackageForm(), venue, None)


@bp.route("/venues/packages/<int:package_id>/edit", methods=["GET", "POST"])
@access.requires(access.may_review_bookings)
def edit_package(package_id: int) -> ResponseReturnValue:
    package = services.package(package_id) or abort(404)
    venue = _managed_or_404(package.venue_id) if package.venue_id else None
    access.check_or_403(access.may_edit_package(current_user, package, venue))
    form = PackageForm(obj=package if request.method == "GET" else None)
    if request.method == "GET":
        form.needs.data = [f.value for f in package.needs]
    return _package_page(form, venue, package)


def _package_page(form: PackageForm, venue: Venue | None, package: ActivityPackage | None) -> ResponseReturnValue:
    return run_use_case(form, lambda: services.save_package(actor=current_user, values=_package_values(form),
                                                            venue=venue, package=package),
                        done=lambda saved: (f"活动套餐“{saved.name}”已保存。",
                                            url_for("venues.packages", venue_id=venue.id) if venue
                                            else url_for("venues.global_packages")),
                        template="venues/package_form.html", venue=venue, package=package)


@bp.route("/venues/<int:venue_id>/managers", methods=["GET", "POST"])
@access.requires(access.may_administer)
def managers(venue_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    access.check_or_403(access.may_appoint_managers(current_user, venue))
    form = ManagerForm()
    return run_use_case(form, lambda: services.add_manager(actor=current_user, venue=venue, phone=form.phone.data),
                        done=lambda grant: (f"已指定 {grant.user.name} 为本场地的管理员。",
                                            url_for("venues.managers", venue_id=venue.id)),
                        template="venues/managers.html", venue=venue, grants=services.venue_managers(venue),
                        confirm=ConfirmForm(), mask_phone=mask_phone)


@bp.post("/venues/<int:venue_id>/managers/<int:grant_id>/revoke")
@access.requires(access.may_administer)
def revoke_manager(venue_id: int, grant_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    grant = services.manager_grant(venue, grant_id) or abort(404)
    return run_action(lambda: services.revoke_manager(actor=current_user, grant=grant),
                      done=("已撤销场地管理员。", url_for("venues.managers", venue_id=venue.id)))


@bp.post("/venues/<int:venue_id>/feed")
@access.requires(access.may_review_bookings)
def venue_feed_token(venue_id: int) -> ResponseReturnValue:
    venue = _managed_or_404(venue_id)
    return run_action(lambda: services.regenerate_venue_feed(actor=current_user, venue=venue),
                      done=("日历订阅地址已生成。旧地址（如果有）已经失效。",
                            url_for("venues.detail", venue_id=venue.id) + "#feed"))

