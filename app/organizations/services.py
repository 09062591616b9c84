"""Organization use cases: admins create and edit organizations inside their region."""

from __future__ import annotations

from sqlalchemy import exists, select

from app.audit.services import record_audit
from app.errors import Conflict, Invalid
from app.extensions import db
from app.organizations.models import LocationSource, Organization, OrganizationKind
from app.regions.geo import haversine_km
from app.regions.models import Region, RegionLevel
from app.regions.scope import covers
from app.regions.services import place_address

MAX_MANUAL_DISTANCE_KM = 80


def _county_in_scope(actor, county_code: str) -> Region:
    county = db.session.get(Region, county_code or "")
    if county is None or county.level is not RegionLevel.COUNTY or not covers(actor, county.code):
        raise Invalid("请选择您管辖范围内的县（市、区）", field="county")
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
    if lat is not None:
        if haversine_km(lat, lon, county.lat, county.lon) > MAX_MANUAL_DISTANCE_KM:
            raise Invalid(f"这个位置离{county.name}太远了，请检查经纬度", field="lat")
        org.lat, org.lon, org.location_source = lat, lon, LocationSource.MANUAL
    elif location_changed:
        place = place_address(county_code=county.code, address=address)
        org.lat, org.lon = place.lat, place.lon
        org.location_source = LocationSource(place.source)


def create_organization(*, actor, name: str, kind: OrganizationKind, county_code: str,
                        address: str = "", contact_phone: str | None = None,
                        lat: float | None = None, lon: float | None = None) -> Organization:
    """Register an organization in a county of the actor's region."""
    county = _county_in_scope(actor, county_code)
    org = Organization()
    _apply(org, name=name, kind=kind, county=county, address=address, contact_phone=contact_phone,
           lat=lat, lon=lon)
    db.session.add(org)
    db.session.flush()
    record_audit(actor, "organization.create", org)
    return org


def update_organization(*, actor, org: Organization, name: str, kind: OrganizationKind,
                        county_code: str, address: str = "", contact_phone: str | None = None,
                        lat: float | None = None, lon: float | None = None) -> Organization:
    """Edit an organization; the actor must cover both its old and its new county."""
    if not covers(actor, org.region_code):
        raise Invalid("只有所在地区的管理员可以修改这个组织")
    county = _county_in_scope(actor, county_code)
    _apply(org, name=name, kind=kind, county=county, address=address, contact_phone=contact_phone,
           lat=lat, lon=lon)
    db.session.flush()
    record_audit(actor, "organization.update", org)
    return org
