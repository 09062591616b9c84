import math

from hypothesis import given, settings
from hypothesis import strategies as st

from app.regions.geo import bounding_box, flat_distance_margin, flat_km, format_km, geodesic_km, haversine_km


def test_haversine_agrees_with_geodesic_within_half_a_percent():
    zhengzhou, xichuan = (34.7478, 113.6193), (33.1373, 111.4900)
    great_circle = haversine_km(*zhengzhou, *xichuan)
    ellipsoid = geodesic_km(*zhengzhou, *xichuan)
    assert 260 < ellipsoid < 290
    assert math.isclose(great_circle, ellipsoid, rel_tol=0.005)


def test_distance_to_self_is_zero():
    assert haversine_km(34.7, 113.6, 34.7, 113.6) == 0


@given(lat=st.floats(18, 53), lon=st.floats(74, 134), radius=st.floats(0.1, 200),
       bearing=st.floats(0, 2 * math.pi), fraction=st.floats(0, 0.999))
def test_bounding_box_holds_every_point_within_the_radius(lat, lon, radius, bearing, fraction):
    # Walk `fraction * radius` km from the centre along `bearing` (spherical destination formula).
    d = fraction * radius / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    point = (math.degrees(p2), math.degrees(l2))
    assert bounding_box(lat, lon, radius).contains(*point)


def _walk(lat, lon, km, bearing):
    """The point `km` from (lat, lon) along `bearing` (spherical destination formula)."""
    d = km / 6371.0088
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
    return math.degrees(p2), math.degrees(l2)


@settings(max_examples=500)
@given(lat=st.floats(18, 53), lon=st.floats(74, 134), reach=st.sampled_from([1, 3, 10, 30, 100]),
       bearing=st.floats(0, 2 * math.pi), fraction=st.floats(0, 1))
def test_the_shortened_flat_distance_never_exceeds_the_great_circle(lat, lon, reach, bearing, fraction):
    """What lets the database rank by a cheap distance and still bound every score from above."""
    point = _walk(lat, lon, fraction * reach, bearing)
    flat = flat_km(lat, lon, *point)
    assert flat * (1 - flat_distance_margin(lat, reach)) <= haversine_km(lat, lon, *point) + 1e-9
    assert flat_distance_margin(lat, reach) < (0.025 if reach > 30 else 0.008)         # and stays close to it


def test_format_km_reads_naturally():
    assert format_km(0.25) == "250 米"
    assert format_km(2.345) == "2.3 公里"
