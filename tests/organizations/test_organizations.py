import pytest
from sqlalchemy import func, select

from app.errors import Invalid
from app.organizations import services
from app.organizations.models import LocationSource, Organization, OrganizationKind
from tests.conftest import csrf_token


def count(db):
    return db.session.scalar(select(func.count()).select_from(Organization))


def form(**overrides):
    return {"name": "东关南里社区", "kind": "community", "county": "410104", "address": "东大街街道东关南里",
            "contact_phone": "0371-6000 0000", "lat": "", "lon": "", **overrides}


def test_an_admin_creates_an_organization_placed_by_the_gazetteer(client, db, login, create_admin):
    login(create_admin("410100"))
    response = client.post("/organizations/new", data={**form(), "csrf_token": csrf_token(client, "/organizations/new")})
    assert response.status_code == 302
    org = db.session.scalar(select(Organization).where(Organization.name == "东关南里社区"))
    assert org.region_code == "410104" and org.location_source is LocationSource.GAZETTEER
    assert abs(org.lat - 34.755) < 0.05


def test_manual_coordinates_are_kept_when_near_the_county(db, create_admin):
    org = services.create_organization(actor=create_admin("410104"), name="东大街党群服务中心",
                                       kind=OrganizationKind.VENUE_OPERATOR, county_code="410104",
                                       lat=34.7561, lon=113.6802)
    assert (org.lat, org.lon, org.location_source) == (34.7561, 113.6802, LocationSource.MANUAL)


def test_coordinates_far_from_the_county_are_refused(db, create_admin):
    with pytest.raises(Invalid, match="太远"):
        services.create_organization(actor=create_admin("410104"), name="远方社区",
                                     kind=OrganizationKind.COMMUNITY, county_code="410104",
                                     lat=39.9, lon=116.4)


def test_a_duplicate_name_in_the_county_is_a_conflict(client, db, login, create_admin, create_org):
    create_org(name="东关南里社区", county="410104")
    login(create_admin("410104"))
    before = count(db)
    response = client.post("/organizations/new", data={**form(), "csrf_token": csrf_token(client, "/organizations/new")})
    assert response.status_code == 409
    assert "已经有名为“东关南里社区”的组织" in response.get_data(as_text=True)
    assert count(db) == before


def test_a_county_outside_the_region_is_refused(client, db, login, create_admin):
    login(create_admin("410104"))
    before = count(db)
    response = client.post("/organizations/new", data={**form(county="411326"),
                                                        "csrf_token": csrf_token(client, "/organizations/new")})
    assert response.status_code == 400
    assert count(db) == before


def test_service_refuses_a_county_outside_the_region(db, create_admin):
    with pytest.raises(Invalid):
        services.create_organization(actor=create_admin("410104"), name="外县社区",
                                     kind=OrganizationKind.COMMUNITY, county_code="411326")


@pytest.mark.parametrize("path", ["/organizations/{id}", "/organizations/{id}/edit"])
def test_another_regions_organization_is_404(client, login, create_admin, create_org, path):
    other = create_org(county="411326")
    login(create_admin("410104"))
    assert client.get(path.format(id=other.id)).status_code == 404


def test_editing_another_regions_organization_changes_nothing(client, db, login, create_admin, create_org):
    other = create_org(name="淅川社区", county="411326")
    login(create_admin("410104"))
    response = client.post(f"/organizations/{other.id}/edit",
                           data={**form(name="改名了"), "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 404
    db.session.refresh(other)
    assert other.name == "淅川社区"


def test_an_admin_edits_an_organization_and_moving_it_replaces_the_location(client, db, login, create_admin, create_org):
    org = create_org(name="旧名社区", county="410104")
    login(create_admin("410100"))
    response = client.post(f"/organizations/{org.id}/edit",
                           data={**form(name="新名社区", county="410102"),
                                 "csrf_token": csrf_token(client, f"/organizations/{org.id}/edit")})
    assert response.status_code == 302
    db.session.refresh(org)
    assert (org.name, org.region_code) == ("新名社区", "410102")


def test_the_list_shows_only_the_region(client, login, create_admin, create_org):
    create_org(name="管城的社区", county="410104")
    create_org(name="淅川的社区", county="411326")
    login(create_admin("410104"))
    html = client.get("/organizations/").get_data(as_text=True)
    assert "管城的社区" in html and "淅川的社区" not in html


def test_the_list_filters_by_name_and_survives_odd_queries(client, login, create_admin, create_org):
    create_org(name="东关南里社区", county="410104")
    create_org(name="城东社区", county="410104")
    login(create_admin("410104"))
    html = client.get("/organizations/?q=东关").get_data(as_text=True)
    assert "东关南里社区" in html and "城东社区" not in html
    for q in ("%", "_", "\x00", "x" * 5000, "😀"):
        assert client.get("/organizations/", query_string={"q": q}).status_code == 200


def test_organizers_see_their_organization_but_cannot_edit_it(client, login, create_user, create_org):
    org = create_org()
    login(create_user(roles=[("organizer", org)]))
    assert client.get(f"/organizations/{org.id}").status_code == 200
    assert client.get(f"/organizations/{org.id}/edit").status_code == 403
