"""Booking pages: the booking wizard (time, activity, package, people, repeats, confirm), a booking and deciding or
cancelling it, the managers' approval queue, the branch's bookings, and the iCalendar feeds
(the secret token in their address is the key: calendar programs cannot sign in)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from app import access
from app.accounts.phone import mask_phone
from app.bookings import calendars, feeds, queries, services
from app.bookings.models import ActivityType, Booking
from app.bookings.services import BookingRequest, CoHost
from app.clock import WEEKDAYS_LONG, local_now
from app.errors import DomainError, Invalid
from app.forms import options
from app.organizations.models import Organization
from app.venues.forms import (
    CANCEL_SCOPES,
    STEP_FIELDS,
    STEP_TITLES,
    STEPS,
    BookingForm,
    CancelForm,
    ConfirmForm,
    ReasonForm,
    time_choices,
)
from app.venues.models import ActivityPackage, Venue
from app.venues.recurrence import NTH_LABELS, Freq, Rule, monthly_choices
from app.venues.services import packages_for, venue_rules
from app.venues.views import parse_day, venue_or_404
from app.web import commit, file_response, run_action, run_use_case

bp = Blueprint("bookings", __name__)


# --- the booking wizard ----------------------------------------------------------------------------


STEP_OF = {name: step for step, names in STEP_FIELDS.items() for name in names} | {"co_hosts": "people"}


class Choices:
    """What the wizard's lists offer for one venue: the actor's branches, the venue's packages and
    the branches of its city that may co-host."""

    def __init__(self, venue: Venue):
        self.orgs = queries.my_organizations(current_user)
        self.packages = packages_for(venue)
        self.branches = queries.co_host_choices(venue)

    def fill(self, form: BookingForm, venue: Venue, *, asking: bool = False) -> None:
        """Fill the lists. `asking`: a page being shown afresh (GET), whose start and end times may
        keep to the opening hours of the day asked for; an answer being checked keeps every time
        the venue opens on any day, so that a time outside the day's hours is refused in words."""
        periods: tuple = ()
        if asking and form.date.data:
            periods = venue_rules(venue, form.date.data, form.date.data).hours.get(form.date.data.weekday(), ())
        opens = min((a for a, _ in periods), default=None) or min((h.opens for h in venue.hours), default=None)
        closes = max((b for _, b in periods), default=None) or max((h.closes for h in venue.hours), default=None)
        hours = time_choices(opens, closes) if opens and closes else time_choices()
        form.start.choices = options(hours[:-1] if asking else hours)     # nothing starts at closing time
        form.end.choices = options(hours[1:] if asking else hours)        # nor ends at opening time
        form.organization.choices = options([(o.id, o.name) for o in self.orgs])
        if len(self.orgs) == 1 and not form.organization.data:
            form.organization.data = str(self.orgs[0].id)
        form.package.choices = options([(p.id, f"{p.name}（{p.duration_label}，最多 {min(p.max_participants, venue.capacity)} 人）")
                                        for p in self.packages], "不选套餐，自己安排内容")
        # A branch is never its own co-host: not the one booking, nor (with one) the actor's own.
        own = {str(o.id) for o in self.orgs} if len(self.orgs) == 1 else {form.organization.data or ""}
        for field in (form.co_host_1, form.co_host_2, form.co_host_3):
            field.choices = options([(o.id, o.name, o.region.name) for o in self.branches if str(o.id) not in own],
                                    "（不联合）")
        if form.date.data:
            day, nth, weekday = monthly_choices(form.date.data)
            form.monthly.choices = options([("day", f"每月 {day} 日"),
                                            ("nth", f"每月{NTH_LABELS[nth]}{WEEKDAYS_LONG[weekday]}")], None)

    def package(self, value: str | None) -> ActivityPackage | None:
        return next((p for p in self.packages if str(p.id) == (value or "")), None)

    def steps(self) -> list[str]:
        """The wizard's pages for this venue: no package page where it offers none."""
        return [s for s in STEPS if s != "package" or self.packages]

    def after(self, step: str) -> str:
        steps = self.steps()
        return steps[steps.index(step) + 1]

    def before(self, step: str) -> str | None:
        steps = self.steps()
        return steps[steps.index(step) - 1] if steps.index(step) > 0 else None


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


def _request(form: BookingForm, venue: Venue, choices: Choices, step: str) -> BookingRequest:
    """The booking request as far as the wizard has asked it (the pages up to `step`)."""
    start, end = form.start_end()
    if STEPS.index(step) < STEPS.index("activity"):
        return BookingRequest(venue=venue, start=start, end=end)
    org = next((o for o in choices.orgs if str(o.id) == form.organization.data), None)
    if org is None:
        raise Invalid("请选择为哪个组织预约", field="organization")
    package = choices.package(form.package.data)
    if form.package.data and package is None:
        raise Invalid("这个活动套餐本场地不提供，请重新选择", field="package")
    by_id = {str(o.id): o for o in choices.branches}
    co_hosts = []
    for host, count in ((form.co_host_1, form.co_attendees_1), (form.co_host_2, form.co_attendees_2),
                        (form.co_host_3, form.co_attendees_3)):
        if host.data:
            if host.data not in by_id:
                raise Invalid("请从列表中选择联合主办的支部", field=host.name)
            co_hosts.append(CoHost(by_id[host.data], count.data or 0))
    booking: dict[str, Any] = dict(organization=org, attendees=form.attendees.data or 0, package=package,
                                   co_hosts=co_hosts)
    if STEPS.index(step) >= STEPS.index("repeat"):
        booking["rule"] = _rule(form, venue, start.date())
    if step == "confirm":
        booking.update(activity=ActivityType(form.activity.data) if form.activity.data else None,
                       title=form.title.data, note=form.note.data or "", skip_conflicts=bool(form.skip_conflicts.data))
    return BookingRequest(venue=venue, start=start, end=end, **booking)


@bp.route("/venues/<int:venue_id>/book", methods=["GET", "POST"])
@access.requires(access.may_book_venues)
def book(venue_id: int) -> ResponseReturnValue:
    venue = venue_or_404(venue_id)
    choices = Choices(venue)
    if request.method == "GET":
        form = BookingForm(formdata=None, date=parse_day(request.args.get("date")), start=request.args.get("start"),
                           end=request.args.get("end"))
        choices.fill(form, venue, asking=True)
        return _step_page(form, venue, choices, "time", 200)
    form = BookingForm()
    choices.fill(form, venue)
    back = request.form.get("back")
    if back in choices.steps()[:-1]:
        return _step_page(form, venue, choices, back, 200)
    step = form.step.data if form.step.data in STEPS else "time"
    if not form.validate_steps(step):
        first_bad = next(s for s in STEPS if any(getattr(form, n).errors for n in STEP_FIELDS[s]) or s == step)
        return _step_page(form, venue, choices, first_bad, 400)
    preview = None
    try:
        asked = _request(form, venue, choices, step)
        if step == "time":
            services.check_time(actor=current_user, request=asked)
        elif step in ("activity", "package"):
            pass        # nothing to check beyond the answers' shape until the people are known
        elif step in ("people", "repeat"):
            preview = services.preview_booking(actor=current_user, request=asked)
        else:
            booking = commit(lambda: services.book_venue(actor=current_user, request=asked))
            flash("预约已提交，等待场地管理员审核。审核结果会在“消息”里告诉您。", "success")
            return redirect(url_for("bookings.booking", booking_id=booking.id))
    except DomainError as e:
        form.add_error(e)
        target = STEP_OF.get(e.field or "", step)
        if STEPS.index(target) > STEPS.index(step):
            target = step
        return _step_page(form, venue, choices, target, e.status)
    return _step_page(form, venue, choices, choices.after(step), 200, preview=preview)


def _step_page(form: BookingForm, venue: Venue, choices: Choices, step: str, status: int, *,
               preview: services.Preview | None = None) -> ResponseReturnValue:
    form.step.data = step
    if step == "confirm" and preview is None and form.date.data and form.start.data and form.end.data:
        try:  # show the dates as they stand now, also after a refusal
            preview = services.preview_booking(actor=current_user, request=_request(form, venue, choices, "repeat"))
        except DomainError:
            pass
    carried = [(name, value) for name in STEP_OF if name in form._fields and name not in STEP_FIELDS[step]
               for value in request.form.getlist(name)] if request.method == "POST" else []
    return render_template("venues/book.html", form=form, venue=venue, step=step, steps=choices.steps(),
                           back=choices.before(step),
                           step_titles=STEP_TITLES, carried=carried, preview=preview,
                           package=choices.package(form.package.data), packages=choices.packages,
                           describe_holder=lambda o: services.describe_holder(current_user, o),
                           activity_label=next((c.label for c in form.activity.choices
                                                if c.value == form.activity.data), "")), status


# --- a booking, deciding and cancelling ------------------------------------------------------------


def _booking_or_404(booking_id: int) -> Booking:
    return access.get_or_404(Booking, booking_id, current_user)


@bp.get("/bookings/<int:booking_id>")
@login_required
def booking(booking_id: int) -> ResponseReturnValue:
    item = _booking_or_404(booking_id)
    return render_template("venues/booking.html", booking=item, now=local_now(), form=ConfirmForm(),
                           rule=item.rule, mask_phone=mask_phone)


@bp.post("/bookings/<int:booking_id>/approve")
@access.requires(access.may_review_bookings)
def approve(booking_id: int) -> ResponseReturnValue:
    item = _booking_or_404(booking_id)
    target = url_for("bookings.queue") if request.form.get("back") == "queue" else url_for(
        "bookings.booking", booking_id=item.id)
    return run_action(lambda: services.decide_booking(actor=current_user, booking=item, approve=True),
                      done=("已批准。预约的支部会收到通知。", target))


@bp.route("/bookings/<int:booking_id>/reject", methods=["GET", "POST"])
@access.requires(access.may_review_bookings)
def reject(booking_id: int) -> ResponseReturnValue:
    item = _booking_or_404(booking_id)
    form = ReasonForm()
    return run_use_case(form, lambda: services.decide_booking(actor=current_user, booking=item, approve=False,
                                                              reason=form.reason.data),
                        done=("已告诉预约的支部：这次预约没有批准。", url_for("bookings.booking", booking_id=item.id)),
                        template="venues/reason.html", booking=item, mode="reject")


@bp.route("/bookings/<int:booking_id>/cancel", methods=["GET", "POST"])
@login_required
def cancel(booking_id: int) -> ResponseReturnValue:
    item = _booking_or_404(booking_id)
    access.check_or_403(access.may_cancel_booking(current_user, item))
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
    return run_use_case(form, lambda: services.cancel_booking(actor=current_user, booking=item, reason=form.reason.data,
                                                              scope=form.scope.data, occurrence=chosen),
                        done=lambda cancelled: (f"已取消 {len(cancelled)} 个日期，对方会收到通知。",
                                                url_for("bookings.booking", booking_id=item.id)),
                        template="venues/reason.html", booking=item, mode="cancel", chosen=chosen)


@bp.get("/venues/queue")
@access.requires(access.may_review_bookings)
def queue() -> ResponseReturnValue:
    return render_template("venues/queue.html", entries=calendars.approval_queue(actor=current_user),
                           no_shows=queries.no_shows_by_branch(current_user),
                           form=ConfirmForm())


# --- the branch's bookings ---------------------------------------------------------------------------


@bp.get("/bookings/")
@access.requires(access.may_book_venues)
def my_bookings() -> ResponseReturnValue:
    orgs = queries.my_organizations(current_user)
    feeds_by_org = queries.feeds_of(orgs)
    sections: list[dict[str, Any]] = [
        dict(org=o, bookings=calendars.organization_bookings(organization=o),
             months=calendars.theme_days(organization=o), feed=feeds_by_org.get(o.id)) for o in orgs]
    return render_template("venues/my_bookings.html", sections=sections, now=local_now(), form=ConfirmForm())


@bp.post("/bookings/feeds/<int:org_id>")
@access.requires(access.may_book_venues)
def organization_feed_token(org_id: int) -> ResponseReturnValue:
    org = access.get_or_404(Organization, org_id, current_user)
    return run_action(lambda: services.organization_feed(actor=current_user, organization=org,
                                                         regenerate=request.form.get("regenerate") == "1"),
                      done=("日历订阅地址已生成。旧地址（如果有）已经失效。",
                            url_for("bookings.my_bookings") + f"#org-{org.id}"))


# --- iCalendar feeds: the secret token in the address is the key --------------------------------------


def _ics(body: bytes, name: str) -> ResponseReturnValue:
    response = file_response(body, kind="ics", filename=f"{name}.ics", inline=True)
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.get("/feeds/venues/<token>.ics")
def venue_feed(token: str) -> ResponseReturnValue:
    venue = queries.venue_by_feed(token) or abort(404)
    return _ics(feeds.venue_calendar(venue), f"venue-{venue.id}")


@bp.get("/feeds/branches/<token>.ics")
def organization_feed(token: str) -> ResponseReturnValue:
    feed = queries.feed_by_token(token) or abort(404)
    return _ics(feeds.organization_calendar(feed.organization), f"branch-{feed.organization_id}")

