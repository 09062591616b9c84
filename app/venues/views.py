"""Venue pages: find a venue, its calendars, the booking wizard, a booking, the approval queue,
the branch's bookings, managing a venue, and the iCalendar feeds.

Thin handlers: load through the scope helper (out of scope → 404), validate the form, call one
service, commit, flash, redirect.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.accounts.models import Role, RoleGrant, User
from app.accounts.phone import mask_phone, normalise_phone
from app.clock import WEEKDAYS_LONG, add_months, local_now, month_start, week_start
from app.errors import DomainError, Invalid, NotFound
from app.extensions import db
from app.formats import fmt_time
from app.forms import options
from app.main.access import admin_required, role_required
from app.organizations.models import Organization, OrganizationKind
from app.organizations.views import county_choices
from app.regions import gazetteer
from app.regions.geo import format_km
from app.regions.models import RegionLevel
from app.regions.scope import covers, highest_admin_level, scoped, scoped_get, scoped_get_or_404
from app.venues import feeds, services
from app.venues.forms import (
    CANCEL_SCOPES,
    STEP_FIELDS,
    STEP_TITLES,
    STEPS,
    BookingForm,
    CancelForm,
    ClosureForm,
    ConfirmForm,
    FindForm,
    HoursForm,
    ManagerForm,
    PackageForm,
    ReasonForm,
    VenueForm,
    facility_set,
    parse_hm,
    time_choices,
)
from app.venues.models import (
    ActivityPackage,
    ActivityType,
    Booking,
    CalendarFeed,
    Closure,
    Venue,
    VenueKind,
    organizer_org_ids,
)
from app.venues.recurrence import NTH_LABELS, Freq, Rule, Slot, monthly_choices
from app.web import form_page, save

bp = Blueprint("venues", __name__)

staff_required = role_required(Role.ORGANIZER, Role.VENUE_MANAGER, Role.ADMIN)
organizer_required = role_required(Role.ORGANIZER)
manager_required = role_required(Role.VENUE_MANAGER, Role.ADMIN)


def _venue_or_404(venue_id: int) -> Venue:
    return scoped_get_or_404(Venue, venue_id, current_user)


def _managed_or_404(venue_id: int) -> Venue:
    """A venue the actor runs. Venues they cannot see are 404; ones they can see but not run, 403."""
    venue = _venue_or_404(venue_id)
    if not services.can_manage(current_user, venue):
        abort(403)
    return venue


def _parse_day(text: str | None, default: date) -> date:
    try:
        return datetime.strptime(text or "", "%Y-%m-%d").date()
    except ValueError:
        return default


# --- finding a venue and its calendars -------------------------------------------------------------


@bp.get("/venues/")
@staff_required
def index():
    form = FindForm(request.args)
    found, place, searched = [], None, bool(request.args)
    if form.validate():
        near = None
        if form.near.data:
            place = gazetteer.locate(form.near.data, within="41")
            if place is None:
                form.near.errors.append("没有认出这个地方，请写县（市、区）的名字，例如“管城回族区”")
            else:
                near = (place.lat, place.lon)
        elif current_user.has_role(Role.ORGANIZER):
            org = db.session.get(Organization, organizer_org_ids(current_user)[0])
            near = (org.lat, org.lon) if org else None
        free = None
        if form.date.data and form.start.data and form.end.data:
            free = Slot(datetime.combine(form.date.data, parse_hm(form.start.data)),
                        datetime.combine(form.date.data, parse_hm(form.end.data)))
        if not form.near.errors:
            found = services.find_venues(
                actor=current_user, near=near, radius_km=float(form.radius.data) if form.radius.data else None,
                kind=VenueKind(form.kind.data) if form.kind.data in {k.value for k in VenueKind} else None,
                min_capacity=form.capacity.data, facilities=facility_set(form.facilities.data), free=free)
    can_create = highest_admin_level(current_user) is not None
    return render_template("venues/index.html", form=form, found=found, place=place, searched=searched,
                           format_km=format_km, can_create=can_create,
                           queue=current_user.has_role(Role.VENUE_MANAGER) or current_user.has_role(Role.ADMIN))


@bp.get("/venues/<int:venue_id>")
@staff_required
def detail(venue_id: int):
    venue = _venue_or_404(venue_id)
    manage = services.can_manage(current_user, venue)
    closures = db.session.scalars(select(Closure).where(
        Closure.venue_id == venue.id, Closure.last_day >= local_now().date()).order_by(Closure.first_day)).all()
    return render_template("venues/detail.html", venue=venue, manage=manage, closures=closures,
                           packages=services.packages_for(venue),
                           hours=services.venue_rules(venue, local_now().date(), local_now().date()),
                           managers=services.venue_managers(venue) if manage else [],
                           troubled=services.occurrences_in_closures(venue) if manage else [],
                           feed_url=url_for("venues.venue_feed", token=venue.feed_token, _external=True)
                           if manage and venue.feed_token else None,
                           can_book=current_user.has_role(Role.ORGANIZER) and venue.active,
                           form=ConfirmForm(), mask_phone=mask_phone)


@bp.get("/venues/<int:venue_id>/week")
@staff_required
def week(venue_id: int):
    venue = _venue_or_404(venue_id)
    today = local_now().date()
    first = week_start(_parse_day(request.args.get("start"), today))
    days = services.venue_calendar(actor=current_user, venue=venue, first_day=first,
                                   last_day=first + timedelta(days=6))
    return render_template("venues/week.html", venue=venue, days=days, first=first, today=today,
                           prev=first - timedelta(days=7), next=first + timedelta(days=7),
                           can_book=current_user.has_role(Role.ORGANIZER) and venue.active,
                           unknown_years=_unknown_holiday_years(first, first + timedelta(days=6)))


@bp.get("/venues/<int:venue_id>/month")
@staff_required
def month(venue_id: int):
    venue = _venue_or_404(venue_id)
    today = local_now().date()
    try:
        first = datetime.strptime(request.args.get("month", ""), "%Y-%m").date()
    except ValueError:
        first = month_start(today)
    if not date(2000, 1, 1) <= first <= date(2100, 1, 1):
        first = month_start(today)
    last = add_months(first, 1) - timedelta(days=1)
    days = services.venue_calendar(actor=current_user, venue=venue, first_day=first, last_day=last)
    return render_template("venues/month.html", venue=venue, days=days, first=first, today=today,
                           prev=add_months(first, -1), next=add_months(first, 1),
                           lead=[None] * first.weekday(), unknown_years=_unknown_holiday_years(first, last))


def _unknown_holiday_years(first: date, last: date) -> list[int]:
    from app.venues.holidays import schedule_known

    return [y for y in range(first.year, last.year + 1) if not schedule_known(y)]


# --- the booking wizard ----------------------------------------------------------------------------


STEP_OF = {name: step for step, names in STEP_FIELDS.items() for name in names} | {"co_hosts": "details"}


def _my_orgs() -> list[Organization]:
    ids = organizer_org_ids(current_user)
    return db.session.scalars(select(Organization).where(Organization.id.in_(ids)).order_by(Organization.name)).all()


def _co_host_choices(venue: Venue) -> list[Organization]:
    """Party branches of the venue's city: who may co-host a joint theme party day there."""
    prefix = venue.region_code[:4]
    return db.session.scalars(select(Organization).where(
        Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active,
        Organization.region_code >= prefix, Organization.region_code < prefix[:-1] + chr(ord(prefix[-1]) + 1))
        .order_by(Organization.region_code, Organization.name)).all()


def _booking_choices(form: BookingForm, venue: Venue, orgs, packages, branches) -> None:
    opens = min((h.opens for h in venue.hours), default=None)
    closes = max((h.closes for h in venue.hours), default=None)
    hours = time_choices(opens, closes) if opens else time_choices()
    form.start.choices = options(hours)
    form.end.choices = options(hours)
    form.organization.choices = options([(o.id, o.name) for o in orgs])
    if len(orgs) == 1 and not form.organization.data:
        form.organization.data = str(orgs[0].id)
    form.package.choices = options([(p.id, f"{p.name}（{p.duration_label}，最多 {p.max_participants} 人）")
                                    for p in packages], "不选套餐，自己安排内容")
    for field in (form.co_host_1, form.co_host_2, form.co_host_3):
        field.choices = options([(o.id, o.name, o.region.name) for o in branches], "（不联合）")
    if form.date.data:
        day, nth, weekday = monthly_choices(form.date.data)
        form.monthly.choices = options([("day", f"每月 {day} 日"),
                                        ("nth", f"每月{NTH_LABELS[nth]}{WEEKDAYS_LONG[weekday]}")], None)
        if form.repeat.data != "weekly" and not form.weekdays.data:
            form.weekdays.data = [str(form.date.data.weekday())]


def _rule(form: BookingForm, venue: Venue, first_day: date) -> Rule | None:
    if form.repeat.data not in ("weekly", "monthly"):
        return None
    until = form.until.data or services.horizon_end(venue, local_now())
    if form.repeat.data == "weekly":
        return Rule(Freq.WEEKLY, until, int(form.interval.data or 1),
                    weekdays=tuple(int(d) for d in form.weekdays.data))
    day, nth, weekday = monthly_choices(first_day)
    if form.monthly.data == "day":
        return Rule(Freq.MONTHLY, until, month_day=day)
    return Rule(Freq.MONTHLY, until, nth=nth, weekday=weekday)


def _booking_args(form: BookingForm, venue: Venue, orgs, packages, branches, step: str) -> dict:
    start, end = form.start_end()
    args = dict(venue=venue, start=start, end=end)
    if STEPS.index(step) < 1:
        return args
    org = {o.id: o for o in orgs}.get(int(form.organization.data)) if form.organization.data.isdigit() else None
    if org is None:
        raise Invalid("请选择为哪个组织预约", field="organization")
    package = {str(p.id): p for p in packages}.get(form.package.data or "")
    if form.package.data and package is None:
        raise Invalid("这个活动套餐本场地不提供，请重新选择", field="package")
    by_id = {str(o.id): o for o in branches}
    co_hosts = []
    for host, count in ((form.co_host_1, form.co_attendees_1), (form.co_host_2, form.co_attendees_2),
                        (form.co_host_3, form.co_attendees_3)):
        if host.data:
            if host.data not in by_id:
                raise Invalid("请从列表中选择联合主办的支部", field=host.name)
            co_hosts.append(services.CoHost(by_id[host.data], count.data or 0))
    args.update(organization=org, attendees=form.attendees.data, package=package, co_hosts=co_hosts)
    if STEPS.index(step) >= 2:
        args["rule"] = _rule(form, venue, start.date())
    return args


@bp.route("/venues/<int:venue_id>/book", methods=["GET", "POST"])
@organizer_required
def book(venue_id: int):
    venue = _venue_or_404(venue_id)
    orgs, packages, branches = _my_orgs(), services.packages_for(venue), _co_host_choices(venue)
    if request.method == "GET":
        form = BookingForm(formdata=None, date=_parse_day(request.args.get("date"), None) if request.args.get("date") else None,
                           start=request.args.get("start"), end=request.args.get("end"))
        _booking_choices(form, venue, orgs, packages, branches)
        return _step_page(form, venue, "time", 200, packages=packages)
    form = BookingForm()
    _booking_choices(form, venue, orgs, packages, branches)
    back = request.form.get("back")
    if back in STEPS[:-1]:
        return _step_page(form, venue, back, 200, packages=packages)
    step = form.step.data if form.step.data in STEPS else "time"
    if not form.validate_steps(step):
        first_bad = next(s for s in STEPS if any(getattr(form, n).errors for n in STEP_FIELDS[s]) or s == step)
        return _step_page(form, venue, first_bad, 400, packages=packages)
    preview = None
    try:
        args = _booking_args(form, venue, orgs, packages, branches, step)
        if step == "time":
            services.check_time(**args)
        elif step in ("details", "repeat"):
            preview = services.preview_booking(actor=current_user, **args)
        else:
            booking = services.book_venue(actor=current_user, activity=ActivityType(form.activity.data),
                                          title=form.title.data, note=form.note.data or "",
                                          skip_conflicts=form.skip_conflicts.data, **args)
            db.session.commit()
            flash("预约已提交，等待场地管理员审核。审核结果会在“消息”里告诉您。", "success")
            return redirect(url_for("venues.booking", booking_id=booking.id))
    except DomainError as e:
        db.session.rollback()
        form.add_error(e)
        target = STEP_OF.get(e.field or "", step)
        if STEPS.index(target) > STEPS.index(step):
            target = step
        return _step_page(form, venue, target, e.status, packages=packages, orgs=orgs, branches=branches)
    return _step_page(form, venue, STEPS[STEPS.index(step) + 1], 200, packages=packages, preview=preview)


def _step_page(form: BookingForm, venue: Venue, step: str, status: int, *, packages, preview=None,
               orgs=None, branches=None):
    form.step.data = step
    if step == "confirm" and preview is None and form.date.data and form.start.data and form.end.data:
        try:  # show the dates as they stand now, also after a refusal
            preview = services.preview_booking(actor=current_user, **_booking_args(
                form, venue, orgs or _my_orgs(), packages, branches or _co_host_choices(venue), "confirm"))
        except DomainError:
            db.session.rollback()
    carried = [(name, value) for name in STEP_OF if name in form._fields and name not in STEP_FIELDS[step]
               for value in request.form.getlist(name)] if request.method == "POST" else []
    package = next((p for p in packages if str(p.id) == (form.package.data or "")), None)
    return render_template("venues/book.html", form=form, venue=venue, step=step, steps=STEPS,
                           step_titles=STEP_TITLES, carried=carried, preview=preview, package=package,
                           packages=packages, describe_holder=services.describe_holder,
                           activity_label=next((c.label for c in form.activity.choices if c.value == form.activity.data), "")), status


# --- a booking, deciding and cancelling ------------------------------------------------------------


def _booking_or_404(booking_id: int) -> Booking:
    return scoped_get_or_404(Booking, booking_id, current_user)


@bp.get("/bookings/<int:booking_id>")
@login_required
def booking(booking_id: int):
    item = _booking_or_404(booking_id)
    now = local_now()
    return render_template("venues/booking.html", booking=item, now=now, form=ConfirmForm(),
                           manage=services.can_manage(current_user, item.venue),
                           cancel=services.can_cancel(current_user, item),
                           rule=item.rule, mask_phone=mask_phone)


@bp.post("/bookings/<int:booking_id>/approve")
@manager_required
def approve(booking_id: int):
    item = _booking_or_404(booking_id)
    if ConfirmForm().validate_on_submit():
        services.decide_booking(actor=current_user, booking=item, approve=True)
        db.session.commit()
        flash("已批准。预约的支部会收到通知。", "success")
    return redirect(request.form.get("back") == "queue" and url_for("venues.queue")
                    or url_for("venues.booking", booking_id=item.id))


@bp.route("/bookings/<int:booking_id>/reject", methods=["GET", "POST"])
@manager_required
def reject(booking_id: int):
    item = _booking_or_404(booking_id)
    form = ReasonForm()
    if form.validate_on_submit() and save(
            form, lambda: services.decide_booking(
                actor=current_user, booking=item, approve=False, reason=form.reason.data)):
        flash("已告诉预约的支部：这次预约没有批准。", "success")
        return redirect(url_for("venues.booking", booking_id=item.id))
    return form_page("venues/reason.html", form, booking=item, mode="reject")


@bp.route("/bookings/<int:booking_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(booking_id: int):
    item = _booking_or_404(booking_id)
    if not services.can_cancel(current_user, item):
        abort(403)
    form = CancelForm(occurrence=request.args.get("occurrence", ""), scope=request.args.get("scope", "all"))
    chosen = None
    if (form.occurrence.data or "").isdigit():
        chosen = next((o for o in item.occurrences if o.id == int(form.occurrence.data)), None)
    if chosen is None:
        form.scope.choices = [c for c in CANCEL_SCOPES if c.value == "all"]
        form.scope.data = "all"
    elif not item.recurrence:
        form.scope.choices = [c for c in CANCEL_SCOPES if c.value == "one"]
        form.scope.data = "one"
    if form.validate_on_submit():
        try:
            cancelled = services.cancel_booking(actor=current_user, booking=item, reason=form.reason.data,
                                                scope=form.scope.data, occurrence=chosen)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("venues/reason.html", form, status=e.status, booking=item, mode="cancel", chosen=chosen)
        flash(f"已取消 {len(cancelled)} 个日期，对方会收到通知。", "success")
        return redirect(url_for("venues.booking", booking_id=item.id))
    return form_page("venues/reason.html", form, booking=item, mode="cancel", chosen=chosen)


@bp.get("/venues/queue")
@manager_required
def queue():
    return render_template("venues/queue.html", entries=services.approval_queue(actor=current_user),
                           form=ConfirmForm())


# --- the branch's bookings ---------------------------------------------------------------------------


@bp.get("/bookings/")
@organizer_required
def my_bookings():
    orgs = _my_orgs()
    feeds_by_org = {f.organization_id: f for f in db.session.scalars(select(CalendarFeed).where(
        CalendarFeed.organization_id.in_([o.id for o in orgs])))}
    sections = [dict(org=o, bookings=services.organization_bookings(organization=o),
                     months=services.theme_days(organization=o),
                     feed=feeds_by_org.get(o.id)) for o in orgs]
    return render_template("venues/my_bookings.html", sections=sections, now=local_now(),
                           form=ConfirmForm())


@bp.post("/bookings/feeds/<int:org_id>")
@organizer_required
def organization_feed_token(org_id: int):
    org = scoped_get_or_404(Organization, org_id, current_user)
    if ConfirmForm().validate_on_submit():
        services.organization_feed(actor=current_user, organization=org,
                                   regenerate=request.form.get("regenerate") == "1")
        db.session.commit()
        flash("日历订阅地址已生成。旧地址（如果有）已经失效。", "success")
    return redirect(url_for("venues.my_bookings") + f"#org-{org.id}")


# --- managing a venue --------------------------------------------------------------------------------


def _venue_form_choices(form: VenueForm, venue: Venue | None) -> None:
    form.county.choices = county_choices(current_user)
    operators = db.session.scalars(scoped(Organization, current_user).where(
        Organization.kind.in_([OrganizationKind.VENUE_OPERATOR, OrganizationKind.BUREAU,
                               OrganizationKind.COMMUNITY])).order_by(Organization.region_code, Organization.name)).all()
    if venue is not None and venue.operator not in operators:
        operators.append(venue.operator)
    form.operator.choices = options([(o.id, o.name, o.region.name) for o in operators])
    if venue is not None and not covers(current_user, venue.region_code):
        form.county.choices = options([(venue.region_code, venue.region.name)])


def _venue_values(form: VenueForm) -> services.VenueValues:
    operator = scoped_get(Organization, form.operator.data, current_user) if form.operator.data else None
    if operator is None:
        raise Invalid("请选择运营单位", field="operator")
    return services.VenueValues(
        name=form.name.data, kind=VenueKind(form.kind.data), operator=operator, county_code=form.county.data,
        address=form.address.data, capacity=form.capacity.data, description=form.description.data or "",
        contact_phone=form.contact_phone.data or None, facilities=facility_set(form.facilities.data),
        min_lead_hours=form.min_lead_hours.data, horizon_days=form.horizon_days.data,
        closed_on_holidays=form.closed_on_holidays.data, active=form.active.data,
        lat=float(form.lat.data) if form.lat.data is not None else None,
        lon=float(form.lon.data) if form.lon.data is not None else None)


@bp.route("/venues/new", methods=["GET", "POST"])
@admin_required
def create():
    form = VenueForm()
    _venue_form_choices(form, None)
    if form.validate_on_submit():
        try:
            venue = services.create_venue(actor=current_user, values=_venue_values(form))
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("venues/form.html", form, status=e.status, venue=None)
        flash(f"已添加场地“{venue.name}”。请设置开放时间，并指定场地管理员。", "success")
        return redirect(url_for("venues.detail", venue_id=venue.id))
    return form_page("venues/form.html", form, venue=None)


@bp.route("/venues/<int:venue_id>/edit", methods=["GET", "POST"])
@manager_required
def edit(venue_id: int):
    venue = _managed_or_404(venue_id)
    form = VenueForm(obj=venue if request.method == "GET" else None)
    _venue_form_choices(form, venue)
    if request.method == "GET":
        form.kind.data, form.county.data, form.operator.data = venue.kind.value, venue.region_code, str(venue.operator_id)
        form.facilities.data = [f.value for f in venue.facilities]
        form.lat.data = form.lon.data = None
    if form.validate_on_submit() and save(
            form, lambda: services.update_venue(actor=current_user, venue=venue, values=_venue_values(form))):
        flash("场地信息已保存。", "success")
        return redirect(url_for("venues.detail", venue_id=venue.id))
    return form_page("venues/form.html", form, venue=venue)


@bp.route("/venues/<int:venue_id>/hours", methods=["GET", "POST"])
@manager_required
def hours(venue_id: int):
    venue = _managed_or_404(venue_id)
    form = HoursForm()
    if request.method == "GET":
        for d, field in enumerate(form.days()):
            field.data = "，".join(f"{fmt_time(h.opens)}-{fmt_time(h.closes)}"
                                  for h in venue.hours if h.weekday == d)
    if form.validate_on_submit() and save(
            form, lambda: services.set_opening_hours(actor=current_user, venue=venue, hours=form.hours())):
        flash("开放时间已保存。", "success")
        return redirect(url_for("venues.detail", venue_id=venue.id))
    return form_page("venues/hours.html", form, venue=venue)


@bp.route("/venues/<int:venue_id>/closures", methods=["GET", "POST"])
@manager_required
def closures(venue_id: int):
    venue = _managed_or_404(venue_id)
    form = ClosureForm()
    status = None
    if form.validate_on_submit():
        try:
            services.add_closure(actor=current_user, venue=venue, first_day=form.first_day.data,
                                 last_day=form.last_day.data, reason=form.reason.data)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            status = e.status
        else:
            troubled = services.occurrences_in_closures(venue)
            flash("闭馆日期已添加。" + (f"有 {len(troubled)} 个已有预约落在闭馆或不开放的时间里，请在下面处理。"
                                      if troubled else ""), "success")
            return redirect(url_for("venues.closures", venue_id=venue.id))
    rows = db.session.scalars(select(Closure).where(
        Closure.venue_id == venue.id, Closure.last_day >= local_now().date()).order_by(Closure.first_day)).all()
    return form_page("venues/closures.html", form, status=status, venue=venue, rows=rows,
                     troubled=services.occurrences_in_closures(venue), confirm=ConfirmForm())


@bp.post("/venues/<int:venue_id>/closures/<int:closure_id>/delete")
@manager_required
def delete_closure(venue_id: int, closure_id: int):
    venue = _managed_or_404(venue_id)
    closure = db.session.scalar(select(Closure).where(Closure.id == closure_id, Closure.venue_id == venue.id))
    if closure is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        services.remove_closure(actor=current_user, closure=closure)
        db.session.commit()
        flash("闭馆日期已删除。", "success")
    return redirect(url_for("venues.closures", venue_id=venue.id))


def _package_values(form: PackageForm) -> services.PackageValues:
    return services.PackageValues(name=form.name.data, content=form.content.data, provides=form.provides.data or "",
                                  duration_minutes=form.duration_minutes.data, max_participants=form.max_participants.data,
                                  needs=facility_set(form.needs.data), active=form.active.data)


@bp.get("/venues/packages")
@manager_required
def global_packages():
    rows = db.session.scalars(select(ActivityPackage).where(ActivityPackage.venue_id.is_(None))
                              .order_by(ActivityPackage.name)).all()
    return render_template("venues/packages.html", venue=None, rows=rows,
                           can_edit=highest_admin_level(current_user) is RegionLevel.PROVINCE)


@bp.get("/venues/<int:venue_id>/packages")
@manager_required
def packages(venue_id: int):
    venue = _managed_or_404(venue_id)
    rows = db.session.scalars(select(ActivityPackage).where(ActivityPackage.venue_id == venue.id)
                              .order_by(ActivityPackage.name)).all()
    return render_template("venues/packages.html", venue=venue, rows=rows, can_edit=True,
                           offered=services.packages_for(venue))


@bp.route("/venues/packages/new", methods=["GET", "POST"], defaults={"venue_id": None})
@bp.route("/venues/<int:venue_id>/packages/new", methods=["GET", "POST"])
@manager_required
def new_package(venue_id: int | None):
    venue = _managed_or_404(venue_id) if venue_id is not None else None
    if venue is None and highest_admin_level(current_user) is not RegionLevel.PROVINCE:
        abort(403)
    return _package_page(PackageForm(), venue, None)


@bp.route("/venues/packages/<int:package_id>/edit", methods=["GET", "POST"])
@manager_required
def edit_package(package_id: int):
    package = db.session.get(ActivityPackage, package_id)
    if package is None:
        abort(404)
    venue = _managed_or_404(package.venue_id) if package.venue_id else None
    if venue is None and highest_admin_level(current_user) is not RegionLevel.PROVINCE:
        abort(403)
    form = PackageForm(obj=package if request.method == "GET" else None)
    if request.method == "GET":
        form.needs.data = [f.value for f in package.needs]
    return _package_page(form, venue, package)


def _package_page(form: PackageForm, venue: Venue | None, package: ActivityPackage | None):
    if form.validate_on_submit():
        try:
            saved = services.save_package(actor=current_user, values=_package_values(form), venue=venue, package=package)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            return form_page("venues/package_form.html", form, status=e.status, venue=venue, package=package)
        flash(f"活动套餐“{saved.name}”已保存。", "success")
        return redirect(url_for("venues.packages", venue_id=venue.id) if venue else url_for("venues.global_packages"))
    return form_page("venues/package_form.html", form, venue=venue, package=package)


@bp.route("/venues/<int:venue_id>/managers", methods=["GET", "POST"])
@admin_required
def managers(venue_id: int):
    venue = _managed_or_404(venue_id)
    if not covers(current_user, venue.region_code):
        abort(403)
    form = ManagerForm()
    status = None
    if form.validate_on_submit():
        try:
            phone = normalise_phone(form.phone.data)
            if phone is None:
                raise Invalid("请输入正确的 11 位手机号码，例如 138 0013 8000", field="phone")
            user = db.session.scalar(select(User).where(User.phone == phone))
            if user is None:
                raise NotFound("没有找到这个手机号注册的账号，请让本人先注册", field="phone")
            services.add_manager(actor=current_user, venue=venue, user=user)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            form.add_error(e)
            status = e.status
        else:
            flash(f"已指定 {user.name} 为本场地的管理员。", "success")
            return redirect(url_for("venues.managers", venue_id=venue.id))
    return form_page("venues/managers.html", form, status=status, venue=venue,
                     grants=services.venue_managers(venue), confirm=ConfirmForm(), mask_phone=mask_phone)


@bp.post("/venues/<int:venue_id>/managers/<int:grant_id>/revoke")
@admin_required
def revoke_manager(venue_id: int, grant_id: int):
    from app.accounts.services import revoke_grant

    venue = _managed_or_404(venue_id)
    grant = db.session.scalar(select(RoleGrant).where(RoleGrant.id == grant_id, RoleGrant.venue_id == venue.id))
    if grant is None:
        abort(404)
    if ConfirmForm().validate_on_submit():
        try:
            revoke_grant(actor=current_user, grant=grant)
            db.session.commit()
            flash("已撤销场地管理员。", "success")
        except DomainError as e:
            db.session.rollback()
            flash(e.message, "error")
    return redirect(url_for("venues.managers", venue_id=venue.id))


@bp.post("/venues/<int:venue_id>/feed")
@manager_required
def venue_feed_token(venue_id: int):
    venue = _managed_or_404(venue_id)
    if ConfirmForm().validate_on_submit():
        services.regenerate_venue_feed(actor=current_user, venue=venue)
        db.session.commit()
        flash("日历订阅地址已生成。旧地址（如果有）已经失效。", "success")
    return redirect(url_for("venues.detail", venue_id=venue.id) + "#feed")


# --- command line -------------------------------------------------------------------------------------


@bp.cli.command("remind")
def remind_command():
    """Remind party branches without a 主题党日 booked this month (run monthly, e.g. on the 20th)."""
    import click

    from app.db import write_intent

    token = write_intent.set(True)
    try:
        count = services.remind_theme_days()
        db.session.commit()
    finally:
        write_intent.reset(token)
    click.echo(f"{count} organizers reminded")


# --- iCalendar feeds: the secret token in the address is the key --------------------------------------


def _ics(body: bytes, name: str) -> Response:
    response = Response(body, mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'inline; filename="{name}.ics"'
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/feeds/venues/<token>.ics")
def venue_feed(token: str):
    venue = db.session.scalar(select(Venue).where(Venue.feed_token == token)) if len(token) <= 64 else None
    if venue is None:
        abort(404)
    return _ics(feeds.venue_calendar(venue), f"venue-{venue.id}")


@bp.get("/feeds/branches/<token>.ics")
def organization_feed(token: str):
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.token == token)) if len(token) <= 64 else None
    if feed is None:
        abort(404)
    return _ics(feeds.organization_calendar(feed.organization), f"branch-{feed.organization_id}")

