import pytest
from sqlalchemy import func, select

from app.accounts import services
from app.accounts.models import Role, RoleGrant
from app.errors import Conflict, Invalid, PermissionDenied
from app.regions.models import Region
from tests.conftest import csrf_token


def region(db, code):
    return db.session.get(Region, code)


def test_province_admin_grants_a_city_admin(db, create_admin, create_user):
    province = create_admin("410000")
    user = create_user()
    grant = services.grant_role(actor=province, user=user, role=Role.ADMIN, region=region(db, "410100"))
    assert grant.region_code == "410100" and grant.granted_by_id == province.id


def test_city_admin_cannot_grant_outside_the_city(db, create_admin, create_user):
    zhengzhou = create_admin("410100")
    user = create_user()
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=zhengzhou, user=user, role=Role.ADMIN, region=region(db, "411326"))
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=zhengzhou, user=user, role=Role.ADMIN, region=region(db, "410000"))
    assert not user.has_role(Role.ADMIN)


def test_county_admin_grants_organizers_only_for_organizations_in_the_county(db, create_admin, create_user, create_org):
    guancheng = create_admin("410104")
    user = create_user()
    mine, theirs = create_org(county="410104"), create_org(county="411326")
    services.grant_role(actor=guancheng, user=user, role=Role.ORGANIZER, organization=mine)
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=guancheng, user=user, role=Role.ORGANIZER, organization=theirs)
    assert [g.organization_id for g in user.grants_for(Role.ORGANIZER)] == [mine.id]


def test_the_same_role_twice_is_a_conflict(db, create_admin, create_user):
    province = create_admin("410000")
    user = create_user(roles=[("admin", "410104")])
    with pytest.raises(Conflict):
        services.grant_role(actor=province, user=user, role=Role.ADMIN, region=region(db, "410104"))


def test_members_cannot_grant_anything(db, create_user):
    member, other = create_user(), create_user()
    with pytest.raises(PermissionDenied):
        services.grant_role(actor=member, user=other, role=Role.ADMIN, region=region(db, "410104"))


def test_an_admin_cannot_revoke_their_own_admin_role(db, create_admin):
    admin = create_admin("410100")
    with pytest.raises(Invalid):
        services.revoke_grant(actor=admin, grant=admin.grants_for(Role.ADMIN)[0])


def test_disabling_needs_every_role_of_the_user_in_scope(db, create_admin, create_user):
    guancheng = create_admin("410104")
    city_admin = create_user(roles=[("admin", "410100")])
    with pytest.raises(PermissionDenied):
        services.set_user_active(actor=guancheng, user=city_admin, active=False)
    assert city_admin.active


def test_grant_through_the_staff_page(client, db, login, create_admin, create_user):
    admin = create_admin("410100")
    user = create_user(name="赵立新")
    login(admin)
    page = client.get(f"/admin/users?phone={user.phone}")
    assert "赵立新" in page.get_data(as_text=True)
    response = client.post("/admin/grants", data={
        "phone": user.phone, "role": "admin", "region": "410104", "organization": "",
        "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 302
    db.session.refresh(user)
    assert [g.region_code for g in user.grants_for(Role.ADMIN)] == ["410104"]


def test_grant_outside_the_region_through_the_page_changes_nothing(client, db, login, create_admin, create_user):
    admin = create_admin("410104")
    user = create_user()
    login(admin)
    before = db.session.scalar(select(func.count()).select_from(RoleGrant))
    response = client.post("/admin/grants", data={
        "phone": user.phone, "role": "admin", "region": "411326", "organization": "",
        "csrf_token": csrf_token(client, "/account")})
    assert response.status_code == 400
    assert "请选择管理的地区" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(RoleGrant)) == before


def test_staff_of_another_county_get_404_for_a_user(client, login, create_admin, create_user, create_org):
    xichuan_org = create_org(county="411326")
    xichuan_organizer = create_user(roles=[("organizer", xichuan_org)])
    login(create_admin("410104"))
    assert client.get(f"/admin/users/{xichuan_organizer.id}").status_code == 404
    assert client.post(f"/admin/users/{xichuan_organizer.id}/active",
                       data={"active": "0", "csrf_token": csrf_token(client, "/account")}).status_code == 404


def test_user_list_shows_masked_phones_and_only_staff_in_scope(client, login, create_admin, create_user, create_org):
    org = create_org(county="410104")
    mine = create_user(name="本区书记", phone="13811112222", roles=[("organizer", org)])
    create_user(name="外区书记", roles=[("organizer", create_org(county="411326"))])
    login(create_admin("410104"))
    html = client.get("/admin/users").get_data(as_text=True)
    assert "本区书记" in html and "138****2222" in html and "13811112222" not in html
    assert "外区书记" not in html
    assert mine.id


def test_viewing_a_user_in_full_is_audited(client, db, login, create_admin, create_user, create_org):
    from app.audit.models import AuditEvent

    org = create_org(county="410104")
    target = create_user(roles=[("organizer", org)])
    admin = create_admin("410104")
    login(admin)
    assert client.get(f"/admin/users/{target.id}").status_code == 200
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.view",
                                                       AuditEvent.object_id == str(target.id)))
    assert event.actor_id == admin.id and event.ip == "127.0.0.1"
