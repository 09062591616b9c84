"""Distances and bounding boxes: great-circle for filtering and ranking, geodesic for display."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geopy.distance import geodesic
from sqlalchemy import func

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in km: cheap enough to run over thousands of candidates."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def geodesic_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Ellipsoidal distance (WGS-84) for the numbers people read; ~70 µs, so never over a pool."""
    return geodesic((lat1, lon1), (lat2, lon2)).km


@dataclass(frozen=True)
class BoundingBox:
    min_lat: float
    max_lat: float
    min_lon: float
    max_lon: float

    def contains(self, lat: float, lon: float) -> bool:
        return self.min_lat <= lat <= self.max_lat and self.min_lon <= lon <= self.max_lon


def bounding_box(lat: float, lon: float, radius_km: float) -> BoundingBox:
    """The smallest lat/lon box holding every point within radius_km (China: no pole or date line)."""
    angular = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(angular)
    # The widest longitude reached by a great-circle disc (J. Matuschek, "Finding points within
    # a distance of a latitude/longitude"): asin(sin r / cos lat), not r / cos lat.
    dlon = math.degrees(math.asin(min(1.0, math.sin(angular) / max(math.cos(math.radians(lat)), 1e-9))))
    return BoundingBox(lat - dlat, lat + dlat, lon - dlon, lon + dlon)


KM_PER_DEGREE = EARTH_RADIUS_KM * math.pi / 180   # along a meridian, on the sphere of haversine_km()


def flat_scales(lat: float) -> tuple[float, float]:
    """Squared km per degree of latitude and of longitude near `lat` (flat-earth distances)."""
    kx = KM_PER_DEGREE * math.cos(math.radians(lat))
    return KM_PER_DEGREE * KM_PER_DEGREE, kx * kx


def flat_km(lat0: float, lon0: float, lat: float, lon: float) -> float:
    """The flat-earth distance, the east-west scale taken at lat0: a few arithmetic operations, so
    that a database can compute it for thousands of rows (see app.matching.query)."""
    ky2, kx2 = flat_scales(lat0)
    return math.sqrt((lat - lat0) ** 2 * ky2 + (lon - lon0) ** 2 * kx2)


def flat_distance_margin(lat: float, reach_km: float) -> float:
    """How much shorter than the flat-earth distance from latitude `lat` to count it, so that it
    never exceeds the great-circle distance to any point within reach_km: the east-west scale is
    off by about tan(lat) times the difference in latitude (property-tested)."""
    spread = reach_km / EARTH_RADIUS_KM
    return math.tan(math.radians(abs(lat)) + spread) * spread + 1e-4


def sql_haversine_km(lat_column, lon_column, lat: float, lon: float):
    """The great-circle distance as a SQL expression (PostgreSQL, and SQLite with math functions)."""
    dlat = func.radians(lat_column - lat) / 2
    dlon = func.radians(lon_column - lon) / 2
    a = (func.sin(dlat) * func.sin(dlat)
         + math.cos(math.radians(lat)) * func.cos(func.radians(lat_column)) * func.sin(dlon) * func.sin(dlon))
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def format_km(km: float) -> str:
    """How far, said one way everywhere (reasons, pages, lists): metres to the nearest 10 (at least
    10) under a kilometre, else kilometres to one decimal."""
    if km < 1:
        return f"{max(10, round(km * 1000, -1)):.0f} 米"
    return f"{km:.1f} 公里"
