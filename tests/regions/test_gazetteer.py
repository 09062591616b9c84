from sqlalchemy import func, select

from app.regions import gazetteer
from app.regions.models import Region


def test_gazetteer_holds_every_level_of_the_whole_country():
    levels = {}
    for place in gazetteer.places().values():
        levels[place.level] = levels.get(place.level, 0) + 1
    assert levels["province"] == 34
    assert 330 <= levels["city"] <= 345
    assert 2840 <= levels["county"] <= 2860


def test_gazetteer_is_current_for_henan():
    assert gazetteer.get("410783").name == "长垣市"
    assert gazetteer.get("411003").name == "建安区"
    assert gazetteer.get("410728") is None  # 长垣县, now 长垣市
    assert gazetteer.get("411023") is None  # 许昌县, now 建安区
    henan_counties = [p for p in gazetteer.places().values() if p.level == "county" and p.code.startswith("41")]
    assert len(henan_counties) == 157


def test_every_place_has_a_parent_chain_and_coordinates_in_china():
    for place in gazetteer.places().values():
        chain = gazetteer.ancestors(place.code)
        assert chain[-1].level == "province"
        assert 3 < place.lat < 54 and 73 < place.lon < 136, place


def test_county_level_city_under_the_province_points_at_the_province():
    assert gazetteer.get("419001").parent_code == "410000"  # 济源市


def test_coordinates_are_wgs84_near_the_county_seat():
    from app.regions.geo import haversine_km

    guancheng = gazetteer.get("410104")
    # 管城回族区 government seat, WGS-84, about 34.754 N, 113.672 E
    assert haversine_km(guancheng.lat, guancheng.lon, 34.754, 113.672) < 3


def test_locate_finds_the_deepest_region_in_an_address():
    assert gazetteer.locate("河南省郑州市管城回族区东大街").name == "管城回族区"
    assert gazetteer.locate("郑州管城东大街东关南里").name == "管城回族区"
    assert gazetteer.locate("河南省南阳市淅川县").code == "411326"
    assert gazetteer.locate("长垣市蒲东街道").code == "410783"


def test_locate_uses_the_stated_parent_to_resolve_ambiguous_names():
    # 朝阳区 exists in Beijing and Changchun; 鼓楼区 in several cities, one of them 开封.
    assert gazetteer.locate("北京市朝阳区").code == "110105"
    assert gazetteer.locate("开封市鼓楼区").code == "410204"
    assert gazetteer.locate("鼓楼区", within="41").code == "410204"


def test_locate_does_not_pick_a_county_that_contradicts_the_stated_province():
    place = gazetteer.locate("河南省朝阳区")
    assert place.code == "410000"


def test_locate_returns_none_for_text_without_a_place():
    assert gazetteer.locate("") is None
    assert gazetteer.locate("东大街三号院") is None


def test_short_names_drop_suffixes_and_ethnic_qualifiers():
    assert "管城" in gazetteer.short_names("管城回族区")
    assert "淅川" in gazetteer.short_names("淅川县")
    assert "郑州" in gazetteer.short_names("郑州市")
    assert gazetteer.short_names("县") == {"县"}


def test_loaded_regions_mirror_the_gazetteer(db):
    count = db.session.scalar(select(func.count()).select_from(Region).where(Region.code.startswith("41")))
    assert count == 1 + 17 + 157
    assert db.session.get(Region, "410104").parent_code == "410100"


def test_reloading_changes_nothing_and_retires_vanished_codes(db):
    from app.regions.models import RegionLevel
    from app.regions.services import load_gazetteer

    db.session.add(Region(code="410728", name="长垣县", level=RegionLevel.COUNTY, parent_code="410700",
                          lat=35.2, lon=114.7))
    db.session.flush()
    report = load_gazetteer(prefix="41")
    assert (report.added, report.updated, report.retired) == (0, 0, 1)
    assert db.session.get(Region, "410728").is_current is False
