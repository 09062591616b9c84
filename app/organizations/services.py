"""Organization use cases: admins create and edit organizations inside their region."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, exists, select

from app import access
from app.accounts.models import User
from app.audit.services import record_audit
from app.errors import Conflict, Invalid
from app.extensions import db
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.geo import haversine_km
from app.regions.models import Region, RegionLevel
from app.regions.services import place_address

MAX_MANUAL_DISTANCE_KM = 80


def county_in_scope(actor: User, county_code: str | None, field: str = "county") -> Region:
    """A current county inside the actor's region, where they may place things (organizations,
    venues); Invalid beside `field` otherwise."""
    county = db.session.get(Region, county_code or "")
    if county is None or county.level is not RegionLevel.COUNTY or not access.may_place_in(actor, county.code):
        raise Invalid("请选择您管辖范围内的县（市、区）", field=field)
    return county


def _apply(org: Organization, *, name: str, kind: OrganizationKind, county: Region, address: str,
           contact_phone: str | None, lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise Invalid("经度和纬度要同时填写，或者都不填", field="lat")
    duplicate = db.session.scalar(select(exists().where(
        Organization.region_code == county.code, Organization.name == name,
        Organization.id != (org.id or -1))))
    if duplicate:
        raise Conflict(f"{county.name}已经有名为“{name}”的组织", field="name")
    location_changed = (org.region_code != county.code or org.address != address
                        or lat is not None or org.location_source is None)
    org.name, org.kind, org.region_code, org.address = name, kind, county.code, address
    org.contact_phone = contact_phone or None
    if lat is not None and lon is not None:
        if haversine_km(lat, lon, county.lat, county.lon) > MAX_MANUAL_DISTANCE_KM:
            raise Invalid(f"这个位置离{county.name}太远了，请检查经纬度", field="lat")
        org.lat, org.lon, org.location_source = lat, lon, LocationSource.MANUAL
    elif location_changed:
        place = place_address(county_code=county.code, address=address)
        org.lat, org.lon = place.lat, place.lon
        org.location_source = LocationSource(place.source)


def create_organization(*, actor: User, name: str, kind: OrganizationKind, county_code: str,
                        address: str = "", contact_phone: str | None = None,
                        lat: float | None = None, lon: float | None = None) -> Organization:
    """Register an organization in a county of the actor's region."""
    county = county_in_scope(actor, county_code)
    org = Organization()
    _apply(org, name=name, kind=kind, county=county, address=address, contact_phone=contact_phone,
           lat=lat, lon=lon)
    db.session.add(org)
    db.session.flush()
    record_audit(actor, "organization.create", org)
    return org


def update_organization(*, actor: User, org: Organization, name: str, kind: OrganizationKind,
                        county_code: str, address: str = "", contact_phone: str | None = None,
                        lat: float | None = None, lon: float | None = None) -> Organization:
    """Edit an organization; the actor must cover both its old and its new county."""
    if not access.may_edit_organization(actor, org):
        raise Invalid("只有所在地区的管理员可以修改这个组织")
    county = county_in_scope(actor, county_code)
    _apply(org, name=name, kind=kind, county=county, address=address, contact_phone=contact_phone,
           lat=lat, lon=lon)
    db.session.flush()
    record_audit(actor, "organization.update", org)
    return org


def organizations_for(actor: User, *, active_only: bool = False,
                      kinds: Sequence[OrganizationKind] | None = None) -> list[Organization]:
    """The organizations the actor may see (to choose from), by county and name."""
    stmt = access.visible(Organization, actor)
    if active_only:
        stmt = stmt.where(Organization.active)
    if kinds is not None:
        stmt = stmt.where(Organization.kind.in_(list(kinds)))
    return list(db.session.scalars(stmt.order_by(Organization.region_code, Organization.name)))


def search_organizations(actor: User, *, name: str | None = None, kind: OrganizationKind | None = None,
                         county_code: str | None = None) -> Select[Organization]:
    """The organizations page's list: those the actor may see, filtered."""
    stmt = access.visible(Organization, actor)
    if name:
        stmt = stmt.where(Organization.name.contains(name, autoescape=True))
    if kind is not None:
        stmt = stmt.where(Organization.kind == kind)
    if county_code:
        stmt = stmt.where(Organization.region_code == county_code)
    return stmt.order_by(Organization.region_code, Organization.name)


def county_choices(actor: User) -> list[tuple[str, str, str | None]]:
    """The counties of the actor's region as (code, name, city) for a <select>; the city is None
    when there is only one."""
    regions = db.session.scalars(access.regions_in_scope(actor)).all()
    cities = {r.code: r.name for r in regions if r.level is RegionLevel.CITY}
    several = len(cities) > 1
    return [(r.code, r.name, cities.get(r.parent_code or "", "省直辖县级市") if several else None)
            for r in regions if r.level is RegionLevel.COUNTY]
