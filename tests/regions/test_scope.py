import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from app.access import admin_prefixes, covers, regions_in_scope
from app.access import get_or_404 as scoped_get_or_404
from app.access import visible as scoped
from app.organizations.models import Organization
from app.regions.codes import code_within, minimal_prefixes, prefix_upper
from app.regions.models import Region, RegionLevel


def test_prefix_upper_bounds_a_subtree():
    assert prefix_upper("41") == "42"
    assert prefix_upper("4101") == "4102"
    assert prefix_upper("410109") == "41010:"


def test_minimal_prefixes_drop_nested_ones():
    assert minimal_prefixes(["4101", "41", "410104", "11"]) == ["11", "41"]


def test_code_within_matches_exactly_the_subtree(db):
    codes = set(db.session.scalars(select(Region.code).where(code_within(Region.code, ["4101"]))))
    assert "410100" in codes and "410104" in codes and "410183" in codes
    assert not any(not c.startswith("4101") for c in codes)
    assert db.session.scalars(select(Region.code).where(code_within(Region.code, []))).all() == []


def test_admin_prefixes_follow_the_region_level(create_admin):
    assert admin_prefixes(create_admin("410000")) == ["41"]
    assert admin_prefixes(create_admin("410100")) == ["4101"]
    assert admin_prefixes(create_admin("410104")) == ["410104"]


def test_a_member_covers_nothing(create_user):
    member = create_user()
    assert admin_prefixes(member) == []
    assert not covers(member, "410104")


def test_county_admin_gets_404_for_an_organization_of_another_county(create_admin, create_org):
    guancheng_admin = create_admin("410104")
    xichuan_org = create_org(county="411326")
    with pytest.raises(NotFound):
        scoped_get_or_404(Organization, xichuan_org.id, guancheng_admin)


def test_city_admin_sees_exactly_the_counties_of_the_city(db, create_admin, create_org):
    zhengzhou_admin = create_admin("410100")
    inside = [create_org(county=c) for c in ("410104", "410102", "410183")]
    outside = [create_org(county=c) for c in ("411326", "410202", "110105")]
    visible = set(db.session.scalars(scoped(Organization, zhengzhou_admin).select_from(Organization)
                                     .with_only_columns(Organization.id)))
    assert {o.id for o in inside} <= visible
    assert not visible & {o.id for o in outside}
    counties = db.session.scalars(regions_in_scope(zhengzhou_admin, RegionLevel.COUNTY)).all()
    assert {c.code[:4] for c in counties} == {"4101"}
    assert len(counties) == 12


def test_province_admin_sees_henan_but_not_beijing(create_admin, create_org):
    henan = create_admin("410000")
    assert scoped_get_or_404(Organization, create_org(county="411326").id, henan)
    with pytest.raises(NotFound):
        scoped_get_or_404(Organization, create_org(county="110105").id, henan)


def test_organizer_sees_only_their_own_organization(create_user, create_org):
    org, other = create_org(), create_org()
    organizer = create_user(roles=[("organizer", org)])
    assert scoped_get_or_404(Organization, org.id, organizer) is org
    with pytest.raises(NotFound):
        scoped_get_or_404(Organization, other.id, organizer)


def test_malformed_ids_are_not_found(create_admin):
    with pytest.raises(NotFound):
        scoped_get_or_404(Organization, "abc", create_admin())
