"""Venue administration: registering venues, their details, opening hours, closures, activity
packages, managers and calendar address; and finding venues. Booking them is app.bookings.

Plain functions: keyword-only arguments, the acting user passed in, DomainError with Chinese
messages, flush but never commit (the caller owns the one transaction of a use case).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time

from sqlalchemy import exists, or_, select

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.accounts.services import find_user_by_phone, grant_role, revoke_grant
from app.audit.services import record_audit
from app.bookings.models import SLOT_HOLDING, BookingOccurrence
from app.clock import WEEKDAYS, local_today
from app.errors import Conflict, Invalid, PermissionDenied
from app.extensions import db
from app.organizations.models import Organization
from app.organizations.services import county_in_scope
from app.regions.geo import bounding_box, haversine_km
from app.regions.services import place_address
from app.venues.holidays import public_holiday
from app.venues.models import (
    ActivityPackage,
    Closure,
    Facility,
    OpeningHours,
    PackageFacility,
    Venue,
    VenueFacility,
    VenueKind,
    new_token,
)
from app.venues.recurrence import Slot, VenueRules

MAX_MANUAL_DISTANCE_KM = 80


def _require_manager(actor: User, venue: Venue) -> None:
    if not access.may_manage_venue(actor, venue):
        raise PermissionDenied("只有本场地的管理员或所在地区的老干部局可以办理")


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
    no_show_minutes: int = 30
    closed_on_holidays: bool = True
    active: bool = True
    lat: float | None = None
    lon: float | None = None


def _apply_venue(actor: User, venue: Venue, values: VenueValues) -> None:
    """Everything, as an admin of the venue's (new) county."""
    county = county_in_scope(actor, values.county_code)
    if not access.may_place_in(actor, values.operator.region_code):
        raise Invalid("请选择您管辖范围内的运营单位", field="operator")
    if (values.lat is None) != (values.lon is None):
        raise Invalid("经度和纬度要同时填写，或者都不填", field="lat")
    if values.lat is not None and values.lon is not None and \
            haversine_km(values.lat, values.lon, county.lat, county.lon) > MAX_MANUAL_DISTANCE_KM:
        raise Invalid(f"这个位置离{county.name}太远了，请检查经纬度", field="lat")
    moved = venue.region_code != county.code or venue.address != values.address
    venue.region_code, venue.operator = county.code, values.operator
    _apply_common(venue, values)
    if values.lat is not None and values.lon is not None:
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
    if not 5 <= values.no_show_minutes <= 240:
        raise Invalid("自动释放的分钟数应在 5 到 240 之间", field="no_show_minutes")
    venue.min_lead_hours, venue.horizon_days = values.min_lead_hours, values.horizon_days
    venue.no_show_minutes = values.no_show_minutes
    venue.closed_on_holidays, venue.active = values.closed_on_holidays, values.active
    _sync_facilities(venue.facility_rows, values.facilities, VenueFacility)


def _sync_facilities(rows: list, wanted: frozenset[Facility], row_class: type) -> None:
    """Make a venue's (or package's) facility rows the wanted set, keeping rows that stay."""
    for row in list(rows):
        if row.facility not in wanted:
            rows.remove(row)
    have = {row.facility for row in rows}
    for facility in sorted(wanted - have, key=lambda f: f.value):
        rows.append(row_class(facility=facility))


def create_venue(*, actor: User, values: VenueValues) -> Venue:
    """An admin registers a venue in a county of their region. It opens Monday to Friday,
    8:30–11:30 and 14:30–17:30, until its managers set its own hours."""
    if not access.may_create_venue(actor):
        raise PermissionDenied("只有老干部局可以添加场地")
    venue = Venue()
    _apply_venue(actor, venue, values)
    for weekday in range(5):
        venue.hours.append(OpeningHours(weekday=weekday, opens=time(8, 30), closes=time(11, 30)))
        venue.hours.append(OpeningHours(weekday=weekday, opens=time(14, 30), closes=time(17, 30)))
    db.session.add(venue)
    db.session.flush()
    record_audit(actor, "venue.create", venue)
    return venue


def update_venue(*, actor: User, venue: Venue, values: VenueValues) -> Venue:
    """The region's admins edit everything; its managers all but where it is and who runs it.
    Bookings already made are kept; the approval queue flags those that no longer fit."""
    _require_manager(actor, venue)
    if access.may_relocate_venue(actor, venue):
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


def set_opening_hours(*, actor: User, venue: Venue, hours: dict[int, list[tuple[time, time]]]) -> None:
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


def add_closure(*, actor: User, venue: Venue, first_day: date, last_day: date, reason: str) -> Closure:
    """Close a venue on some days (repairs, events). Bookings already holding those days are not
    cancelled by this: the approval queue and the venue page list them for the manager."""
    _require_manager(actor, venue)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写闭馆原因，例如“设备维修”", field="reason")
    if last_day < first_day:
        raise Invalid("结束日期不能早于开始日期", field="last_day")
    if last_day < local_today():
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


def remove_closure(*, actor: User, closure: Closure) -> None:
    venue = db.session.get_one(Venue, closure.venue_id)
    _require_manager(actor, venue)
    record_audit(actor, "venue.closure_remove", venue, detail={"closure_id": closure.id})
    db.session.delete(closure)
    db.session.flush()


@dataclass
class PackageValues:
    name: str
    content: str
    provides: str
    duration_minutes: int
    max_participants: int
    needs: frozenset[Facility] = frozenset()
    active: bool = True


def save_package(*, actor: User, values: PackageValues, venue: Venue | None = None,
                 package: ActivityPackage | None = None) -> ActivityPackage:
    """Create or edit an activity package: a venue's own (its managers and admins), or a global
    one offered by every venue (province admins)."""
    target_venue = package.venue if package is not None else venue
    if not access.may_edit_package(actor, package, venue):
        if target_venue is None:
            raise PermissionDenied("全省通用的活动套餐由省委老干部局维护")
        raise PermissionDenied("只有本场地的管理员或所在地区的老干部局可以办理")
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


def add_manager(*, actor: User, venue: Venue, phone: str) -> RoleGrant:
    """Appoint the account with this number as one of the venue's managers."""
    user = find_user_by_phone(actor=actor, phone=phone)
    return grant_role(actor=actor, user=user, role=Role.VENUE_MANAGER, venue=venue)


def venue_managers(venue: Venue) -> list[RoleGrant]:
    return list(db.session.scalars(select(RoleGrant).where(
        RoleGrant.role == Role.VENUE_MANAGER, RoleGrant.venue_id == venue.id).order_by(RoleGrant.id)))


def package(package_id: int) -> ActivityPackage | None:
    return db.session.get(ActivityPackage, package_id)


def manager_grant(venue: Venue, grant_id: int) -> RoleGrant | None:
    """One of the venue's manager roles."""
    return db.session.scalar(select(RoleGrant).where(RoleGrant.id == grant_id, RoleGrant.venue_id == venue.id))


def revoke_manager(*, actor: User, grant: RoleGrant) -> None:
    revoke_grant(actor=actor, grant=grant)


def operator_for(actor: User, organization_id: str | None) -> Organization:
    """The organization chosen to operate a venue, among those the actor may see."""
    operator = access.get(Organization, organization_id, actor) if organization_id else None
    if operator is None:
        raise Invalid("请选择运营单位", field="operator")
    return operator


def home_of(actor: User) -> tuple[float, float] | None:
    """Where an organizer's venue search starts: their (first) organization."""
    own = sorted(access.organized(actor))
    org = db.session.get(Organization, own[0]) if own else None
    return (org.lat, org.lon) if org is not None else None


def global_packages() -> list[ActivityPackage]:
    """The packages every venue may offer, by name."""
    return list(db.session.scalars(select(ActivityPackage).where(ActivityPackage.venue_id.is_(None))
                                   .order_by(ActivityPackage.name)))


def own_packages(venue: Venue) -> list[ActivityPackage]:
    """A venue's own packages, active or not, by name."""
    return list(db.session.scalars(select(ActivityPackage).where(ActivityPackage.venue_id == venue.id)
                                   .order_by(ActivityPackage.name)))


def closures_ahead(venue: Venue) -> list[Closure]:
    """The venue's closures not yet over, soonest first."""
    return list(db.session.scalars(select(Closure).where(
        Closure.venue_id == venue.id, Closure.last_day >= local_today()).order_by(Closure.first_day)))


def closure_of(venue: Venue, closure_id: int) -> Closure | None:
    return db.session.scalar(select(Closure).where(Closure.id == closure_id, Closure.venue_id == venue.id))


# --- the venue's calendar address ------------------------------------------------------------------


def regenerate_venue_feed(*, actor: User, venue: Venue) -> str:
    """Give the venue's calendar feed a new secret address; the old one stops working."""
    _require_manager(actor, venue)
    venue.feed_token = new_token()
    db.session.flush()
    record_audit(actor, "venue.feed_token", venue)
    return venue.feed_token


# --- finding a venue -------------------------------------------------------------------------------


@dataclass
class Found:
    venue: Venue
    distance_km: float | None


def find_venues(*, actor: User, near: tuple[float, float] | None = None, radius_km: float | None = None,
                kind: VenueKind | None = None, min_capacity: int | None = None,
                facilities: Iterable[Facility] = (), free: Slot | None = None) -> list[Found]:
    """Active venues the actor may see, filtered, nearest first when a place is given."""
    stmt = access.visible(Venue, actor).where(Venue.active)
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
        found.sort(key=lambda f: f.distance_km or 0.0)
    return found
