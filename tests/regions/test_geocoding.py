"""The optional online geocoder refines a place; when it fails, the gazetteer answers, silently."""

import socket

import pytest

from app.regions import geocoding
from app.regions.services import place_address


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def geocoder(app):
    saved = {k: app.config[k] for k in ("GEOCODER", "GEOCODER_OPTIONS", "GEOCODER_CRS", "GEOCODER_TIMEOUT")}
    yield app.config
    app.config.update(saved)


def test_without_a_geocoder_the_county_seat_is_used(db):
    place = place_address(county_code="410104", address="东大街12号")
    assert place.source == "gazetteer" and abs(place.lat - 34.755) < 0.01


def test_an_unreachable_geocoder_falls_back_to_the_gazetteer(db, geocoder):
    geocoder.update(GEOCODER="nominatim", GEOCODER_TIMEOUT=1,
                    GEOCODER_OPTIONS={"domain": f"127.0.0.1:{closed_port()}", "scheme": "http"})
    place = place_address(county_code="410104", address="东大街12号")
    assert place.source == "gazetteer"


def test_a_geocoder_answer_near_the_county_is_used_and_converted(db, geocoder, monkeypatch):
    geocoder.update(GEOCODER="nominatim", GEOCODER_CRS="gcj02")

    class Answer:
        latitude, longitude = 34.7561, 113.6863   # GCJ-02, as Chinese map providers answer

    class Fake:
        def __init__(self, **kw):
            pass

        def geocode(self, query, exactly_one=True):
            assert query.startswith("河南省郑州市管城回族区")
            return Answer()

    monkeypatch.setattr(geocoding, "get_geocoder_for_service", lambda name: Fake)
    place = place_address(county_code="410104", address="东大街12号")
    assert place.source == "geocoder"
    assert 0.0005 < abs(place.lon - 113.6863) < 0.01   # moved from GCJ-02 to WGS-84


def test_a_geocoder_answer_far_away_is_ignored(db, geocoder, monkeypatch):
    geocoder.update(GEOCODER="nominatim", GEOCODER_CRS="wgs84")

    class Beijing:
        latitude, longitude = 39.9, 116.4

    monkeypatch.setattr(geocoding, "get_geocoder_for_service",
                        lambda name: type("G", (), {"__init__": lambda self, **kw: None,
                                                    "geocode": lambda self, q, exactly_one=True: Beijing()}))
    assert place_address(county_code="410104", address="东大街").source == "gazetteer"
