"""Optional online geocoding through geopy, converted to WGS-84 at the boundary.

Configured by GEOCODER (a geopy geocoder name such as "nominatim" or "baiduv3"), GEOCODER_OPTIONS
(its keyword arguments, e.g. {"domain": "nominatim.intranet", "scheme": "http"}) and GEOCODER_CRS
("wgs84", "gcj02" for Amap/Tencent-style providers, "bd09" for Baidu). Any failure returns None
and the caller falls back to the gazetteer: an intranet without a geocoder loses nothing.
"""

from __future__ import annotations

import logging

import prcoords
from flask import current_app
from geopy.exc import GeopyError
from geopy.geocoders import get_geocoder_for_service

log = logging.getLogger(__name__)


def to_wgs84(lat: float, lon: float, crs: str) -> tuple[float, float]:
    if crs == "gcj02":
        c = prcoords.gcj_wgs_bored((lat, lon))
    elif crs == "bd09":
        c = prcoords.bd_wgs_bored((lat, lon))
    else:
        return lat, lon
    return c.lat, c.lon


def geocode(query: str) -> tuple[float, float] | None:
    config = current_app.config
    try:
        cls = get_geocoder_for_service(config["GEOCODER"])
        options = {"timeout": config["GEOCODER_TIMEOUT"], **config["GEOCODER_OPTIONS"]}
        if cls.__name__ == "Nominatim":
            options.setdefault("user_agent", "yinhui")
        location = cls(**options).geocode(query, exactly_one=True)
    except (GeopyError, OSError, ValueError) as e:
        log.warning("geocoder %s failed: %s", config["GEOCODER"], e)
        return None
    if location is None:
        return None
    return to_wgs84(location.latitude, location.longitude, config["GEOCODER_CRS"])
