"""Distances and bounding boxes: great-circle for filtering and ranking, geodesic for display."""

from __future__ import annotations

import math
from dataclasses import dataclass

from geopy.distance import geodesic

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


def sql_haversine_km(lat_column, lon_column, lat: float, lon: float):
    """The great-circle distance as a SQL expression (PostgreSQL, and SQLite with math functions)."""
    from sqlalchemy import func

    dlat = func.radians(lat_column - lat) / 2
    dlon = func.radians(lon_column - lon) / 2
    a = (func.sin(dlat) * func.sin(dlat)
         + math.cos(math.radians(lat)) * func.cos(func.radians(lat_column)) * func.sin(dlon) * func.sin(dlon))
    return 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(a))


def format_km(km: float) -> str:
    if km < 1:
        return f"{round(km * 1000, -1):.0f} 米"
    return f"{km:.1f} 公里"
