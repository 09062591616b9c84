"""Region use cases: loading the gazetteer into the database, placing addresses."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

from app.errors import Invalid
from app.extensions import db
from app.regions import gazetteer
from app.regions.geo import haversine_km
from app.regions.geocoding import geocode
from app.regions.models import Region, RegionLevel

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    added: int
    updated: int
    retired: int


def load_gazetteer(*, prefix: str = "") -> LoadReport:
    """Insert or update regions from the shipped gazetteer; codes no longer listed are kept but
    marked not current (records may still point at them). Flushes; the caller commits."""
    existing = {r.code: r for r in db.session.scalars(select(Region).where(Region.code.startswith(prefix)))}
    wanted = {c: p for c, p in gazetteer.places().items() if c.startswith(prefix)}
    added = updated = 0
    for code in sorted(wanted):  # parents first
        place = wanted[code]
        values = dict(name=place.name, level=RegionLevel(place.level), parent_code=place.parent_code,
                      lat=place.lat, lon=place.lon, is_current=True)
        row = existing.get(code)
        if row is None:
            db.session.add(Region(code=code, **values))
            added += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            updated += 1
        if added % 500 == 0:
            db.session.flush()
    gone = [c for c in existing if c not in wanted and existing[c].is_current]
    if gone:
        db.session.execute(update(Region).where(Region.code.in_(gone)).values(is_current=False))
    db.session.flush()
    return LoadReport(added, updated, len(gone))


@dataclass(frozen=True)
class Location:
    lat: float
    lon: float
    source: str          # "gazetteer" or "geocoder"
    region_code: str


def place_address(*, county_code: str, address: str) -> Location:
    """Coordinates for an address in a county: the configured geocoder when it answers with a
    point inside the county's neighbourhood, otherwise the county seat from the gazetteer."""
    county = db.session.get(Region, county_code)
    if county is None or county.level is not RegionLevel.COUNTY:
        raise Invalid("请选择县（市、区）", field="county")
    fallback = Location(county.lat, county.lon, "gazetteer", county.code)
    if not address or not current_app.config.get("GEOCODER"):
        return fallback
    point = geocode(_full_address(county, address))
    if point is None:
        return fallback
    # A geocoder may confuse places with the same name elsewhere: accept only nearby answers.
    if haversine_km(point[0], point[1], county.lat, county.lon) > 80:
        log.info("geocoder answer for county %s too far from its seat; using the gazetteer", county.code)
        return fallback
    return Location(point[0], point[1], "geocoder", county.code)


def _full_address(county: Region, address: str) -> str:
    names = [p.name for p in reversed(gazetteer.ancestors(county.code))]
    prefix = "".join(names)
    return address if address.startswith(names[0]) else prefix + address
