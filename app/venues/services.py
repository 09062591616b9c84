"""Venue and booking use cases.

Plain functions: keyword-only arguments, the acting user passed in, DomainError with Chinese
messages, flush but never commit (the caller owns the one transaction of a use case).

No double booking: `book_venue` checks the venue's rules and the slots already held, then inserts
the occurrences inside a savepoint. The database has the last word (PostgreSQL's exclusion
constraint, SQLite's triggers; on SQLite the caller's transaction also began with BEGIN IMMEDIATE,
which every POST request does and threads or commands must ask for with app.db.write_intent), and
its refusal is answered as a Conflict naming the booking that holds the time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import lazyload

from app.accounts.models import Role, RoleGrant, User
from app.audit.services import record_audit
from app.clock import WEEKDAYS, add_months, local_now, month_start, utcnow
from app.errors import Conflict, Invalid, NotFound, PermissionDenied
from app.extensions import db
from app.formats import fmt_date, fmt_slot, fmt_time
from app.notifications.services import notify
from app.organizations.models import Organization, OrganizationKind
from app.regions.geo import bounding_box, haversine_km
from app.regions.models import Region, RegionLevel
from app.regions.scope import covers, highest_admin_level
from app.regions.services import place_address
from app.venues.holidays import public_holiday
from app.venues.models import (
    SLOT_HOLDING,
    ActivityPackage,
    ActivityType,
    Booking,
    BookingHost,
    BookingOccurrence,
    BookingStatus,
    CalendarFeed,
    Closure,
    Facility,
    OpeningHours,
    PackageFacility,
    Venue,
    VenueFacility,
    VenueKind,
    managed_venue_ids,
    new_token,
    organizer_org_ids,
)
from app.venues.recurrence import Plan, Refusal, Rule, Slot, VenueRules, expand, plan

OVERLAP_CONSTRAINT = "booking_occurrences_no_overlap"  # the PG constraint's and the SQLite triggers' name
MAX_MANUAL_DISTANCE_KM = 80


def booking_path(booking_id: int) -> str:
    """Where a booking is shown (for notification links; services have no request to build URLs)."""
    return f"/bookings/{booking_id}"


# --- who may do what -----------------------------------------------------------------------------


def can_manage(actor, venue: Venue) -> bool:
    """The venue's managers and the admins of its region run it."""
    return venue.id in managed_venue_ids(actor) or covers(actor, venue.region_code)


def _require_manager(actor, venue: Venue) -> None:
    if not can_manage(actor, venue):
        raise PermissionDenied("只有本场地的管理员或所在地区的老干部局可以办理")


def booking_orgs(booking: Booking) -> set[int]:
    return {booking.organization_id} | {h.organization_id for h in booking.hosts}


def sees_booking_details(actor, booking: Booking) -> bool:
    """Branch names and titles are for the branches themselves and for the people who run the venue."""
    return can_manage(actor, booking.venue) or bool(booking_orgs(booking) & set(organizer_org_ids(actor)))


def can_cancel(actor, booking: Booking) -> bool:
    return booking.organization_id in organizer_org_ids(actor) or can_manage(actor, booking.venue)


# --- a venue's rules as plain data ---------------------------------------------------------------


def venue_rules(venue: Venue, first_day: date, last_day: date) -> VenueRules:
    """Opening hours, the closures touching [first_day, last_day] and public holidays."""
    hours: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for row in venue.hours:
        hours[row.weekday].append((row.opens, row.closes))
    closures = db.session.scalars(select(Closure).where(
        Closure.venue_id == venue.id, Closure.last_day >= first_day, Closure.first_day <= last_day)
        .order_by(Closure.first_day)).all()
    return VenueRules(hours={d: tuple(sorted(p)) for d, p in hours.items()},
                      closures=tuple((c.first_day, c.last_day, c.reason) for c in closures),
                      holiday=public_holiday, closed_on_holidays=venue.closed_on_holidays)


def held_slots(venue_id: int, start: datetime, end: datetime,
               exclude_booking_id: int | None = None) -> list[tuple[Slot, BookingOccurrence]]:
    """Slot-holding occurrences of a venue overlapping [start, end)."""
    stmt = (select(BookingOccurrence).where(
        BookingOccurrence.venue_id == venue_id, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.start_at < end, BookingOccurrence.end_at > start)
        .order_by(BookingOccurrence.start_at))
    if exclude_booking_id is not None:
        stmt = stmt.where(BookingOccurrence.booking_id != exclude_booking_id)
    return [(o.slot, o) for o in db.session.scalars(stmt)]


def horizon_end(venue: Venue, now: datetime) -> date:
    return now.date() + timedelta(days=venue.horizon_days)


def describe_holder(occurrence: BookingOccurrence) -> str:
    """2026年12月4日（周五）9:00–11:00「重温入党誓词」（东关南里社区离退休干部党支部）"""
    booking = occurrence.booking
    return f"{occurrence.when}「{booking.title}」（{booking.organization.name}）"


def conflict_message(taken: Sequence[tuple[Slot, BookingOccurrence]]) -> str:
    shown = "；".join(f"{fmt_slot(*slot)} 已被预约：{describe_holder(o)}" for slot, o in taken[:3])
    more = f"；另有 {len(taken) - 3} 个日期也已被预约" if len(taken) > 3 else ""
    return f"时间冲突：{shown}{more}。请换一个时间，或选择跳过冲突的日期。"


# --- booking ---------------------------------------------------------------------------------------


@dataclass
class CoHost:
    organization: Organization
    attendees: int


@dataclass
class Preview:
    """What a booking request would hold, before it is made."""

    slots: list[Slot]
    plan: Plan[BookingOccurrence]
    rule: Rule | None
    total_attendees: int

    @property
    def free(self) -> list[Slot]:
        return self.plan.free


def _check_people(venue: Venue, organization: Organization, attendees: int, co_hosts: Sequence[CoHost],
                  package: ActivityPackage | None) -> int:
    if attendees < 1:
        raise Invalid("参加人数至少 1 人", field="attendees")
    seen = {organization.id}
    for host in co_hosts:
        if host.organization.id in seen:
            raise Invalid(f"“{host.organization.name}”重复了，每个支部只填一次", field="co_hosts")
        if host.organization.kind is not OrganizationKind.PARTY_BRANCH or not host.organization.active:
            raise Invalid(f"“{host.organization.name}”不是党支部，不能联合主办", field="co_hosts")
        if host.attendees < 1:
            raise Invalid(f"请填写“{host.organization.name}”的参加人数（至少 1 人）", field="co_hosts")
        seen.add(host.organization.id)
    total = attendees + sum(h.attendees for h in co_hosts)
    if total > venue.capacity:
        joint = "（各支部合计）" if co_hosts else ""
        raise Invalid(f"参加人数 {total} 人{joint}超过了场地容量 {venue.capacity} 人，请减少人数或换一个大一些的场地",
                      field="attendees")
    if package is not None and total > package.max_participants:
        raise Invalid(f"活动套餐「{package.name}」最多 {package.max_participants} 人参加，现在是 {total} 人",
                      field="attendees")
    return total


def _check_package(venue: Venue, package: ActivityPackage | None, minutes: int) -> None:
    if package is None:
        return
    if not package.active or package.venue_id not in (None, venue.id):
        raise Invalid("这个活动套餐本场地不提供，请重新选择", field="package")
    missing = package.needs - venue.facilities
    if missing:
        names = "、".join(f.label for f in sorted(missing, key=lambda f: f.value))
        raise Invalid(f"本场地没有{names}，不能安排「{package.name}」", field="package")
    if minutes < package.duration_minutes:
        raise Invalid(f"「{package.name}」需要 {package.duration_label}，所选时间只有 {minutes} 分钟，请把结束时间往后调",
                      field="end")


def _check_first_slot(venue: Venue, first: Slot, rules: VenueRules, now: datetime) -> None:
    if first.end <= first.start:
        raise Invalid("结束时间要晚于开始时间", field="end")
    if first.start.second or first.start.microsecond or first.end.second or first.end.microsecond:
        raise Invalid("时间请精确到分钟", field="start")
    if first.start < now:
        raise Invalid("不能预约已经过去的时间，请选择以后的日期", field="date")
    earliest = now + timedelta(hours=venue.min_lead_hours)
    if first.start < earliest:
        raise Invalid(f"本场地需要至少提前 {venue.min_lead_hours} 小时预约，最早可以预约 "
                      f"{fmt_date(earliest.date())} {fmt_time(earliest)} 以后的时间", field="date")
    last = horizon_end(venue, now)
    if first.start.date() > last:
        raise Invalid(f"本场地只接受 {venue.horizon_days} 天以内的预约（到{fmt_date(last)}为止）", field="date")
    refusal = rules.refusal(first)
    if refusal is not None:
        kind, message = refusal
        raise Invalid(message, field={Refusal.CLOSED: "date", Refusal.HOURS: "start"}.get(kind, "end"))


def check_time(*, venue: Venue, start: datetime, end: datetime) -> None:
    """The first question of a booking: can this venue hold this slot at all? (Everything else is
    checked again when the booking is made.)"""
    now = local_now()
    _check_first_slot(venue, Slot(start, end), venue_rules(venue, start.date(), start.date()), now)
    taken = held_slots(venue.id, start, end)
    if taken:
        raise Conflict(conflict_message([(Slot(start, end), taken[0][1])]))


def preview_booking(*, actor, venue: Venue, organization: Organization, start: datetime, end: datetime,
                    attendees: int, package: ActivityPackage | None = None, rule: Rule | None = None,
                    co_hosts: Sequence[CoHost] = ()) -> Preview:
    """Check a booking request against every rule and sort its dates into free, refused (closed,
    outside opening hours) and taken. Changes nothing."""
    if organization.id not in organizer_org_ids(actor):
        raise PermissionDenied("只能为您负责的组织预约场地", field="organization")
    if not venue.active:
        raise Invalid("这个场地暂停接受预约")
    now = local_now()
    first = Slot(start, end)
    last_day = horizon_end(venue, now)
    if rule is not None:
        if rule.until < start.date():
            raise Invalid("重复的截止日期要晚于第一次活动的日期", field="until")
        if rule.until > last_day:
            raise Invalid(f"本场地只接受 {venue.horizon_days} 天以内的预约，截止日期最晚是{fmt_date(last_day)}",
                          field="until")
    rules = venue_rules(venue, start.date(), rule.until if rule else start.date())
    _check_first_slot(venue, first, rules, now)
    total = _check_people(venue, organization, attendees, co_hosts, package)
    _check_package(venue, package, int((end - start).total_seconds() // 60))
    slots = expand(rule, first)
    held = held_slots(venue.id, slots[0].start, slots[-1].end)
    return Preview(slots=slots, plan=plan(slots, rules, held), rule=rule, total_attendees=total)


def book_venue(*, actor, venue: Venue, organization: Organization, start: datetime, end: datetime,
               activity: ActivityType, title: str, attendees: int, package: ActivityPackage | None = None,
               rule: Rule | None = None, co_hosts: Sequence[CoHost] = (), note: str = "",
               skip_conflicts: bool = False) -> Booking:
    """Request a venue for a branch: one slot or a series. Every free date is held as pending
    until a manager decides; dates the venue is closed are left out; dates another booking holds
    are refused as a Conflict unless the booker chose to skip them."""
    title = (title or "").strip()
    if not title:
        raise Invalid("请填写活动主题", field="title")
    preview = preview_booking(actor=actor, venue=venue, organization=organization, start=start, end=end,
                              attendees=attendees, package=package, rule=rule, co_hosts=co_hosts)
    if preview.plan.taken and not skip_conflicts:
        raise Conflict(conflict_message(preview.plan.taken))
    if not preview.free:
        if preview.plan.taken:
            raise Conflict(conflict_message(preview.plan.taken))
        raise Invalid("所选的日期场地都不开放，没有可以预约的日期", field="date")
    booking = Booking(venue=venue, organization=organization, booked_by_id=actor.id, title=title,
                      activity=activity, package=package, attendees=preview.total_attendees, note=note or "",
                      recurrence=rule.to_rrule() if rule else None, status=BookingStatus.PENDING)
    booking.hosts = [BookingHost(organization_id=organization.id, attendees=attendees)] + [
        BookingHost(organization_id=h.organization.id, attendees=h.attendees) for h in co_hosts]
    booking.occurrences = [BookingOccurrence(venue_id=venue.id, start_at=s.start, end_at=s.end,
                                             status=BookingStatus.PENDING) for s in preview.free]
    _insert_holding(booking, preview.free)
    record_audit(actor, "booking.create", booking, region_code=venue.region_code,
                 detail={"venue_id": venue.id, "occurrences": len(preview.free),
                         "skipped_conflicts": len(preview.plan.taken), "skipped_closed": len(preview.plan.refused)})
    count = f"共 {len(preview.free)} 次，" if len(preview.free) > 1 else ""
    _tell(actor, _venue_people(venue) | _booking_people(booking), kind="booking.created",
          title=f"新的场地预约待审核：{venue.name}",
          body=f"{organization.name}预约{fmt_slot(*preview.free[0])}「{title}」，{count}{preview.total_attendees} 人。",
          booking=booking)
    return booking


def _insert_holding(booking: Booking, slots: Sequence[Slot]) -> None:
    """Insert a booking and its occurrences in a savepoint; the database's no-overlap rule turns
    a lost race into a Conflict naming the winner, and the caller's transaction stays usable."""
    try:
        with db.session.begin_nested():
            db.session.add(booking)
            db.session.flush()
    except OperationalError as e:
        # PostgreSQL breaks a rare wait cycle between two series with a deadlock error.
        if getattr(e.orig, "sqlstate", None) not in ("40P01", "40001"):
            raise
        raise Conflict("同一时间有别的支部在预约这个场地，请重新提交。") from None
    except IntegrityError as e:
        if OVERLAP_CONSTRAINT not in str(e.orig):
            raise
        taken = [(slot, o) for slot in slots for _, o in held_slots(booking.venue_id, slot.start, slot.end)[:1]]
        if not taken:  # the winner has been cancelled since: rare, and worth a retry
            raise Conflict("这个时间刚刚被别的支部预约了，请刷新后重新选择时间。") from None
        raise Conflict(conflict_message(taken)) from None


def decide_booking(*, actor, booking: Booking, approve: bool, reason: str = "") -> Booking:
    """A manager approves a pending booking (all its pending dates) or rejects it with a reason,
    which frees its time. Both sides are told."""
    _require_manager(actor, booking.venue)
    if booking.status is not BookingStatus.PENDING:
        raise Conflict(f"这个预约已经{booking.status.label}，不能再审核")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise Invalid("请填写不批准的原因，方便支部调整安排", field="reason")
    new = BookingStatus.APPROVED if approve else BookingStatus.REJECTED
    for occurrence in booking.occurrences:
        if occurrence.status is BookingStatus.PENDING:
            occurrence.status = new
    booking.status = new
    booking.decided_by_id, booking.decided_at, booking.decision_reason = actor.id, utcnow(), reason
    db.session.flush()
    record_audit(actor, "booking.approve" if approve else "booking.reject", booking,
                 region_code=booking.venue.region_code, detail={"reason": reason} if reason else None)
    first = next((o for o in booking.occurrences if o.status is new), None)
    when = f"{first.when}" if first else ""
    _tell(actor, _venue_people(booking.venue) | _booking_people(booking),
          kind="booking.approved" if approve else "booking.rejected",
          title=f"场地预约{'已批准' if approve else '未获批准'}：{booking.venue.name}",
          body=f"「{booking.title}」{when}。" + (f"原因：{reason}" if reason else ""), booking=booking)
    return booking


class CancelScope:
    ONE = "one"        # this date only
    REST = "rest"      # this date and every later one
    ALL = "all"        # every date still to come


def cancel_booking(*, actor, booking: Booking, reason: str, scope: str = CancelScope.ALL,
                   occurrence: BookingOccurrence | None = None) -> list[BookingOccurrence]:
    """Cancel one date, a date and the rest of its series, or every date still to come. The
    booking branch's organizers and the venue's managers may cancel, with a reason; dates that
    have begun are kept. Both sides are told."""
    if not can_cancel(actor, booking):
        raise PermissionDenied("只有预约的支部或场地管理员可以取消这个预约")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写取消的原因", field="reason")
    if scope not in (CancelScope.ONE, CancelScope.REST, CancelScope.ALL):
        raise Invalid("请选择取消哪些日期", field="scope")
    if scope != CancelScope.ALL and (occurrence is None or occurrence.booking_id != booking.id):
        raise NotFound("没有找到要取消的日期")
    now = local_now()
    chosen = [o for o in booking.occurrences if o.status.holds_slot and o.start_at > now and (
        scope == CancelScope.ALL or (scope == CancelScope.ONE and o.id == occurrence.id)
        or (scope == CancelScope.REST and o.start_at >= occurrence.start_at))]
    if not chosen:
        raise Invalid("没有可以取消的日期（已经开始或已取消的不能再取消）", field="scope")
    stamp = utcnow()
    for o in chosen:
        o.status, o.cancelled_by_id, o.cancelled_at, o.cancel_reason = BookingStatus.CANCELLED, actor.id, stamp, reason
    if not any(o.status.holds_slot for o in booking.occurrences):
        booking.status = BookingStatus.CANCELLED
    db.session.flush()
    record_audit(actor, "booking.cancel", booking, region_code=booking.venue.region_code,
                 detail={"scope": scope, "occurrences": [o.id for o in chosen], "reason": reason})
    dates = chosen[0].when + (f" 等 {len(chosen)} 个日期" if len(chosen) > 1 else "")
    _tell(actor, _venue_people(booking.venue) | _booking_people(booking), kind="booking.cancelled",
          title=f"场地预约已取消：{booking.venue.name}",
          body=f"「{booking.title}」{dates}已由{actor.name}取消。原因：{reason}", booking=booking)
    return chosen


# --- notifications ---------------------------------------------------------------------------------


def _venue_people(venue: Venue) -> set[User]:
    """Who answers for a venue: its managers, or when it has none the admins of its county."""
    managers = set(db.session.scalars(_people().where(
        RoleGrant.role == Role.VENUE_MANAGER, RoleGrant.venue_id == venue.id)))
    if managers:
        return managers
    return set(db.session.scalars(_people().where(RoleGrant.role == Role.ADMIN, RoleGrant.region_code == venue.region_code)))


def _people():
    """Active users by their grants, without loading the grants (notify needs name and email)."""
    return (select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(User.active)
            .options(lazyload(User.grants)).distinct())


def _booking_people(booking: Booking) -> set[User]:
    """The booking side: whoever booked, and the organizers of every hosting branch."""
    people = set(db.session.scalars(_people().where(
        RoleGrant.role == Role.ORGANIZER, RoleGrant.organization_id.in_(booking_orgs(booking)))))
    if booking.booked_by_id is not None:
        booker = db.session.get(User, booking.booked_by_id)
        if booker is not None and booker.active:
            people.add(booker)
    return people


def _tell(actor, people: Iterable[User], *, kind: str, title: str, body: str, booking: Booking) -> None:
    for person in sorted(people, key=lambda u: u.id):
        if person.id != getattr(actor, "id", None):
            notify(person, kind=kind, title=title, body=body, link=booking_path(booking.id))


# --- venues, hours, closures, packages, managers ---------------------------------------------------


@dataclass
class VenueValues:
    name: str
    kind: VenueKind
    operator: Organization
    county_code: str
    address: str
    capacity: int
    description: str = ""
    contact_phone: str | None = None
    facilities: frozenset[Facility] = frozenset()
    min_lead_hours: int = 24
    horizon_days: int = 90
    closed_on_holidays: bool = True
    active: bool = True
    lat: float | None = None
    lon: float | None = None


def _apply_venue(actor, venue: Venue, values: VenueValues) -> None:
    """Everything, as an admin of the venue's (new) county."""
    county = db.session.get(Region, values.county_code or "")
    if county is None or county.level is not RegionLevel.COUNTY or not covers(actor, county.code):
        raise Invalid("请选择您管辖范围内的县（市、区）", field="county")
    if not covers(actor, values.operator.region_code):
        raise Invalid("请选择您管辖范围内的运营单位", field="operator")
    if (values.lat is None) != (values.lon is None):
        raise Invalid("经度和纬度要同时填写，或者都不填", field="lat")
    if values.lat is not None and haversine_km(values.lat, values.lon, county.lat, county.lon) > MAX_MANUAL_DISTANCE_KM:
        raise Invalid(f"这个位置离{county.name}太远了，请检查经纬度", field="lat")
    moved = venue.region_code != county.code or venue.address != values.address
    venue.region_code, venue.operator = county.code, values.operator
    _apply_common(venue, values)
    if values.lat is not None:
        venue.lat, venue.lon = values.lat, values.lon
    elif moved or venue.lat is None:
        place = place_address(county_code=county.code, address=values.address)
        venue.lat, venue.lon = place.lat, place.lon


def _apply_common(venue: Venue, values: VenueValues) -> None:
    """What a venue's managers may change too."""
    if values.capacity < 1:
        raise Invalid("容纳人数至少 1 人", field="capacity")
    duplicate = db.session.scalar(select(exists().where(
        Venue.region_code == venue.region_code, Venue.name == values.name, Venue.id != (venue.id or -1))))
    if duplicate:
        raise Conflict(f"这个县（市、区）已经有名为“{values.name}”的场地", field="name")
    venue.name, venue.kind, venue.capacity, venue.description = values.name, values.kind, values.capacity, values.description
    venue.address, venue.contact_phone = values.address, values.contact_phone or None
    venue.min_lead_hours, venue.horizon_days = values.min_lead_hours, values.horizon_days
    venue.closed_on_holidays, venue.active = values.closed_on_holidays, values.active
    _sync_facilities(venue.facility_rows, values.facilities, VenueFacility)


def _sync_facilities(rows: list, wanted: frozenset[Facility], row_class) -> None:
    """Make a venue's (or package's) facility rows the wanted set, keeping rows that stay."""
    for row in list(rows):
        if row.facility not in wanted:
            rows.remove(row)
    have = {row.facility for row in rows}
    for facility in sorted(wanted - have, key=lambda f: f.value):
        rows.append(row_class(facility=facility))


def create_venue(*, actor, values: VenueValues) -> Venue:
    """An admin registers a venue in a county of their region. It opens Monday to Friday,
    8:30–11:30 and 14:30–17:30, until its managers set its own hours."""
    venue = Venue()
    _apply_venue(actor, venue, values)
    for weekday in range(5):
        venue.hours.append(OpeningHours(weekday=weekday, opens=time(8, 30), closes=time(11, 30)))
        venue.hours.append(OpeningHours(weekday=weekday, opens=time(14, 30), closes=time(17, 30)))
    db.session.add(venue)
    db.session.flush()
    record_audit(actor, "venue.create", venue)
    return venue


def update_venue(*, actor, venue: Venue, values: VenueValues) -> Venue:
    """The region's admins edit everything; its managers all but where it is and who runs it.
    Bookings already made are kept; the approval queue flags those that no longer fit."""
    _require_manager(actor, venue)
    if covers(actor, venue.region_code):
        _apply_venue(actor, venue, values)
    else:
        if values.county_code != venue.region_code or values.operator.id != venue.operator_id:
            raise Invalid("场地所在地和运营单位请联系老干部局修改", field="county")
        if values.lat is not None:
            raise Invalid("经纬度请联系老干部局修改", field="lat")
        moved = venue.address != values.address
        _apply_common(venue, values)
        if moved:
            place = place_address(county_code=venue.region_code, address=values.address)
            venue.lat, venue.lon = place.lat, place.lon
    db.session.flush()
    record_audit(actor, "venue.update", venue)
    return venue


def set_opening_hours(*, actor, venue: Venue, hours: dict[int, list[tuple[time, time]]]) -> None:
    """Replace the weekly opening hours. Periods of a day must not overlap."""
    _require_manager(actor, venue)
    if not any(hours.values()):
        raise Invalid("请至少填写一天的开放时间。暂停接受预约请在“修改信息”里取消“开放预约”", field="day0")
    for weekday, periods in hours.items():
        ordered = sorted(periods)
        for opens, closes in ordered:
            if opens >= closes:
                raise Invalid(f"{WEEKDAYS[weekday]}：开门时间要早于关门时间", field=f"day{weekday}")
        for (_, b1), (a2, _) in zip(ordered, ordered[1:], strict=False):
            if a2 < b1:
                raise Invalid(f"{WEEKDAYS[weekday]}：两段开放时间重叠了", field=f"day{weekday}")
    venue.hours.clear()
    db.session.flush()
    for weekday in sorted(hours):
        for opens, closes in sorted(hours[weekday]):
            venue.hours.append(OpeningHours(weekday=weekday, opens=opens, closes=closes))
    db.session.flush()
    record_audit(actor, "venue.hours", venue, detail={str(d): [f"{a:%H:%M}-{b:%H:%M}" for a, b in p]
                                                       for d, p in sorted(hours.items())})


def add_closure(*, actor, venue: Venue, first_day: date, last_day: date, reason: str) -> Closure:
    """Close a venue on some days (repairs, events). Bookings already holding those days are not
    cancelled by this: the approval queue and the venue page list them for the manager."""
    _require_manager(actor, venue)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写闭馆原因，例如“设备维修”", field="reason")
    if last_day < first_day:
        raise Invalid("结束日期不能早于开始日期", field="last_day")
    if last_day < local_now().date():
        raise Invalid("不能为已经过去的日期设置闭馆", field="last_day")
    if (last_day - first_day).days > 366:
        raise Invalid("一次最多设置一年的闭馆", field="last_day")
    closure = Closure(venue_id=venue.id, first_day=first_day, last_day=last_day, reason=reason,
                      created_by_id=actor.id)
    db.session.add(closure)
    db.session.flush()
    record_audit(actor, "venue.closure_add", venue, detail={"closure_id": closure.id, "first": str(first_day),
                                                            "last": str(last_day), "reason": reason})
    return closure


def remove_closure(*, actor, closure: Closure) -> None:
    venue = db.session.get(Venue, closure.venue_id)
    _require_manager(actor, venue)
    record_audit(actor, "venue.closure_remove", venue, detail={"closure_id": closure.id})
    db.session.delete(closure)
    db.session.flush()


def occurrences_in_closures(venue: Venue) -> list[tuple[BookingOccurrence, str]]:
    """Upcoming slot-holding dates on days the venue is now closed or no longer open."""
    now = local_now()
    upcoming = db.session.scalars(select(BookingOccurrence).where(
        BookingOccurrence.venue_id == venue.id, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.start_at > now).order_by(BookingOccurrence.start_at)).all()
    if not upcoming:
        return []
    rules = venue_rules(venue, upcoming[0].start_at.date(), upcoming[-1].start_at.date())
    found = []
    for o in upcoming:
        refusal = rules.refusal(o.slot)
        if refusal is not None:
            found.append((o, refusal[1]))
    return found


@dataclass
class PackageValues:
    name: str
    content: str
    provides: str
    duration_minutes: int
    max_participants: int
    needs: frozenset[Facility] = frozenset()
    active: bool = True


def save_package(*, actor, values: PackageValues, venue: Venue | None = None,
                 package: ActivityPackage | None = None) -> ActivityPackage:
    """Create or edit an activity package: a venue's own (its managers and admins), or a global
    one offered by every venue (province admins)."""
    target_venue = package.venue if package is not None else venue
    if target_venue is None:
        if highest_admin_level(actor) is not RegionLevel.PROVINCE:
            raise PermissionDenied("全省通用的活动套餐由省委老干部局维护")
    else:
        _require_manager(actor, target_venue)
    if not values.name.strip():
        raise Invalid("请填写套餐名称", field="name")
    if not 15 <= values.duration_minutes <= 720:
        raise Invalid("活动时长应在 15 分钟到 12 小时之间", field="duration_minutes")
    if values.max_participants < 1:
        raise Invalid("最多人数至少 1 人", field="max_participants")
    if package is None:
        package = ActivityPackage(venue=target_venue)
        db.session.add(package)
    package.name, package.content, package.provides = values.name.strip(), values.content, values.provides
    package.duration_minutes, package.max_participants, package.active = (
        values.duration_minutes, values.max_participants, values.active)
    _sync_facilities(package.facility_rows, values.needs, PackageFacility)
    db.session.flush()
    record_audit(actor, "package.save", package, region_code=target_venue.region_code if target_venue else None)
    return package


def packages_for(venue: Venue) -> list[ActivityPackage]:
    """Active packages offered at a venue: its own and the global ones its facilities allow."""
    rows = db.session.scalars(select(ActivityPackage).where(
        ActivityPackage.active, or_(ActivityPackage.venue_id.is_(None), ActivityPackage.venue_id == venue.id))
        .order_by(ActivityPackage.venue_id.is_(None), ActivityPackage.name)).all()
    facilities = venue.facilities
    return [p for p in rows if p.needs <= facilities]


def add_manager(*, actor, venue: Venue, user: User) -> RoleGrant:
    from app.accounts.services import grant_role

    return grant_role(actor=actor, user=user, role=Role.VENUE_MANAGER, venue=venue)


def venue_managers(venue: Venue) -> list[RoleGrant]:
    return db.session.scalars(select(RoleGrant).where(
        RoleGrant.role == Role.VENUE_MANAGER, RoleGrant.venue_id == venue.id).order_by(RoleGrant.id)).all()


# --- feeds -------------------------------------------------------------------------------------------


def regenerate_venue_feed(*, actor, venue: Venue) -> str:
    """Give the venue's calendar feed a new secret address; the old one stops working."""
    _require_manager(actor, venue)
    venue.feed_token = new_token()
    db.session.flush()
    record_audit(actor, "venue.feed_token", venue)
    return venue.feed_token


def organization_feed(*, actor, organization: Organization, regenerate: bool = False) -> CalendarFeed:
    """The branch's calendar feed (created on first use); regenerating retires the old address."""
    if organization.id not in organizer_org_ids(actor):
        raise PermissionDenied("只有本组织的组织者可以管理日历订阅")
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.organization_id == organization.id))
    if feed is None:
        feed = CalendarFeed(organization_id=organization.id, token=new_token(), created_by_id=actor.id)
        db.session.add(feed)
    elif regenerate:
        feed.token, feed.created_by_id, feed.created_at = new_token(), actor.id, utcnow()
    db.session.flush()
    record_audit(actor, "organization.feed_token", organization)
    return feed


# --- reading: find, calendars, queues, the branch's bookings --------------------------------------


@dataclass
class Found:
    venue: Venue
    distance_km: float | None


def find_venues(*, actor, near: tuple[float, float] | None = None, radius_km: float | None = None,
                kind: VenueKind | None = None, min_capacity: int | None = None,
                facilities: Iterable[Facility] = (), free: Slot | None = None) -> list[Found]:
    """Active venues the actor may see, filtered, nearest first when a place is given."""
    from app.regions.scope import scoped

    stmt = scoped(Venue, actor).where(Venue.active)
    if kind is not None:
        stmt = stmt.where(Venue.kind == kind)
    if min_capacity:
        stmt = stmt.where(Venue.capacity >= min_capacity)
    for facility in set(facilities):
        stmt = stmt.where(exists().where(VenueFacility.venue_id == Venue.id, VenueFacility.facility == facility))
    if near is not None and radius_km:
        box = bounding_box(near[0], near[1], radius_km)
        stmt = stmt.where(Venue.lat.between(box.min_lat, box.max_lat), Venue.lon.between(box.min_lon, box.max_lon))
    if free is not None:
        stmt = stmt.where(~exists().where(
            BookingOccurrence.venue_id == Venue.id, BookingOccurrence.status.in_(SLOT_HOLDING),
            BookingOccurrence.start_at < free.end, BookingOccurrence.end_at > free.start))
    found = []
    for venue in db.session.scalars(stmt.order_by(Venue.name)).unique():
        if free is not None and venue_rules(venue, free.start.date(), free.start.date()).refusal(free):
            continue
        distance = haversine_km(near[0], near[1], venue.lat, venue.lon) if near else None
        if distance is not None and radius_km and distance > radius_km:
            continue
        found.append(Found(venue, distance))
    if near is not None:
        found.sort(key=lambda f: f.distance_km)
    return found


@dataclass
class CalendarItem:
    slot: Slot
    status: BookingStatus
    label: str                      # "重温入党誓词 · 东关南里社区" or "已被预约"
    booking_id: int | None          # only when the viewer may open it
    own: bool = False


@dataclass
class CalendarDay:
    day: date
    closed: str | None
    hours: str
    items: list[CalendarItem] = field(default_factory=list)
    free: list[Slot] = field(default_factory=list)


def venue_calendar(*, actor, venue: Venue, first_day: date, last_day: date) -> list[CalendarDay]:
    """Each day's opening, taken and free time. Other branches' bookings show as taken without
    their names, except to the venue's managers and its region's admins."""
    rules = venue_rules(venue, first_day, last_day)
    start, end = datetime.combine(first_day, time()), datetime.combine(last_day + timedelta(days=1), time())
    held = held_slots(venue.id, start, end)
    mine = set(organizer_org_ids(actor))
    manager = can_manage(actor, venue)
    days = []
    day = first_day
    while day <= last_day:
        taken = [(s, o) for s, o in held if s.start.date() == day]
        closed = rules.closed_because(day)
        items = []
        for slot, o in taken:
            own = bool(booking_orgs(o.booking) & mine)
            visible = manager or own
            label = f"{o.booking.title} · {o.booking.organization.name}" if visible else "已被预约"
            items.append(CalendarItem(slot, o.status, label, o.booking_id if visible else None, own))
        days.append(CalendarDay(day, closed, rules.hours_text(day.weekday()), items,
                                rules.free_periods(day, [s for s, _ in taken])))
        day += timedelta(days=1)
    return days


@dataclass
class QueueEntry:
    booking: Booking
    pending: list[BookingOccurrence]
    problems: dict[int, str]        # occurrence id → why it no longer fits (closure added, hours changed)
    over_capacity: bool


def approval_queue(*, actor) -> list[QueueEntry]:
    """Pending bookings at the venues the actor runs, oldest request first, with the dates that
    no longer fit the venue (a closure added since, changed hours, a smaller capacity) flagged."""
    bookings = db.session.scalars(select(Booking).where(
        Booking.status == BookingStatus.PENDING,
        Booking.venue_id.in_(select(Venue.id).where(Venue.manage_clause(actor))))
        .order_by(Booking.created_at, Booking.id)).all()
    entries = []
    for booking in bookings:
        pending = [o for o in booking.occurrences if o.status is BookingStatus.PENDING]
        problems = {}
        if pending:
            rules = venue_rules(booking.venue, pending[0].start_at.date(), pending[-1].start_at.date())
            for o in pending:
                refusal = rules.refusal(o.slot)
                if refusal is not None:
                    problems[o.id] = refusal[1]
        entries.append(QueueEntry(booking, pending, problems, booking.attendees > booking.venue.capacity))
    return entries


def hosted_by(organization: Organization):
    """Bookings a branch leads or co-hosts (the lead branch is a host row too)."""
    return Booking.id.in_(select(BookingHost.booking_id).where(BookingHost.organization_id == organization.id))


def organization_bookings(*, organization: Organization, upcoming_only: bool = True) -> list[Booking]:
    """Bookings a branch leads or co-hosts, by their first date still to come."""
    now = local_now()
    stmt = select(Booking).where(hosted_by(organization))
    if upcoming_only:
        stmt = stmt.where(exists().where(BookingOccurrence.booking_id == Booking.id, BookingOccurrence.end_at > now))
    bookings = db.session.scalars(stmt.order_by(Booking.id.desc())).all()
    return sorted(bookings, key=lambda b: min((o.start_at for o in b.occurrences), default=datetime.max))


@dataclass
class MonthTheme:
    month: date
    occurrences: list[BookingOccurrence]
    past: bool

    @property
    def missing(self) -> bool:
        return not self.occurrences


def theme_days(*, organization: Organization, months_back: int = 2, months_ahead: int = 3) -> list[MonthTheme]:
    """The branch's monthly 主题党日 against its bookings (led or co-hosted, pending or approved),
    from a few months back to a few ahead; a month without one is flagged."""
    today = local_now().date()
    first = add_months(today, -months_back)
    last = add_months(today, months_ahead + 1)
    rows = db.session.scalars(select(BookingOccurrence).join(Booking).where(
        hosted_by(organization),
        Booking.activity == ActivityType.THEME_PARTY_DAY, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.start_at >= datetime.combine(first, time()),
        BookingOccurrence.start_at < datetime.combine(last, time()))
        .order_by(BookingOccurrence.start_at)).all()
    by_month: dict[date, list[BookingOccurrence]] = defaultdict(list)
    for o in rows:
        by_month[month_start(o.start_at.date())].append(o)
    months = []
    month = first
    while month < last:
        months.append(MonthTheme(month, by_month.get(month, []), past=add_months(month, 1) <= today))
        month = add_months(month, 1)
    return months


def remind_theme_days() -> int:
    """Tell the organizers of every party branch that has no 主题党日 booked this month (pending or
    approved, led or co-hosted), once a month. Returns how many people were told. For a monthly
    `flask venues remind` (cron); only adds notifications, the caller commits."""
    from app.notifications.models import Notification

    today = local_now().date()
    first = datetime.combine(month_start(today), time())
    after = datetime.combine(add_months(today, 1), time())
    booked = (select(BookingHost.organization_id).join(Booking, Booking.id == BookingHost.booking_id)
              .join(BookingOccurrence, BookingOccurrence.booking_id == Booking.id).where(
                  Booking.activity == ActivityType.THEME_PARTY_DAY, BookingOccurrence.status.in_(SLOT_HOLDING),
                  BookingOccurrence.start_at >= first, BookingOccurrence.start_at < after))
    rows = db.session.execute(select(User, Organization).join(RoleGrant, RoleGrant.user_id == User.id)
                              .join(Organization, Organization.id == RoleGrant.organization_id).where(
        RoleGrant.role == Role.ORGANIZER, User.active, Organization.active,
        Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.id.not_in(booked))
        .options(lazyload(User.grants)).order_by(Organization.id, User.id)).all()
    kind = f"venues.theme_day_reminder.{today:%Y-%m}"
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == kind)))
    count = 0
    for user, org in rows:
        if user.id in told:
            continue
        notify(user, kind=kind, title=f"提醒：{org.name}{today.month}月还没有预约主题党日场地",
               body="每月一次主题党日。可以在“场地”里找附近的政治生活馆或老党员共享家园预约，也可以和别的支部联合开展。",
               link="/bookings/")
        told.add(user.id)
        count += 1
    return count


def count_slot_holding(venue_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(BookingOccurrence).where(
        BookingOccurrence.venue_id == venue_id, BookingOccurrence.status.in_(SLOT_HOLDING)))

