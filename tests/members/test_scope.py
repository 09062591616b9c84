"""Region scope on every pool page: county A's admin sees nothing of county B, a city admin
exactly the counties of the city, and phones are masked for roles without need."""

import pytest

from app.members import pool
from tests.conftest import csrf_token, export


@pytest.fixture
def two_counties(db, create_member):
    a = create_member(name="管城甲", county="410104", phone="13811110001", skills={"法律咨询": 3})
    b = create_member(name="淅川乙", county="411326", phone="13811110002", skills={"河道巡护": 2})
    entry_b = pool.apply(actor=b.user, member=b)
    db.session.commit()
    return a, b, entry_b


def test_a_county_admin_gets_404_for_everything_of_another_county(client, login, create_admin, two_counties):
    a, b, entry_b = two_counties
    login(create_admin("410104"))
    token = csrf_token(client, "/pool/")
    for method, path in [("get", f"/pool/members/{b.id}"), ("get", f"/pool/members/{b.id}/edit/name"),
                         ("get", f"/pool/members/{b.id}/nominate"), ("post", f"/pool/members/{b.id}/claim-code"),
                         ("get", f"/pool/entries/{entry_b.id}/decide"), ("post", f"/pool/entries/{entry_b.id}/decide"),
                         ("get", f"/pool/entries/{entry_b.id}/withdraw")]:
        response = getattr(client, method)(path, data={"csrf_token": token, "decision": "approve"})
        assert response.status_code == 404, (method, path, response.status_code)
    for path in ("/pool/", "/pool/queue", "/pool/?q=淅川"):
        assert "淅川乙" not in client.get(path).get_data(as_text=True), path
    for path in ("/pool/export.csv", "/pool/export.csv?full=1", "/pool/export.csv?region=411326"):
        assert "淅川乙" not in export(client, path), path
    assert entry_b.status.value == "nominated"


def test_a_city_admin_sees_exactly_the_counties_of_the_city(client, db, login, create_admin, create_member):
    inside = [create_member(name=f"郑州{c}", county=c) for c in ("410104", "410102", "410183")]
    outside = [create_member(name=f"外地{c}", county=c) for c in ("411326", "410202")]
    login(create_admin("410100"))
    html = client.get("/pool/").get_data(as_text=True)
    assert all(m.user.name in html for m in inside)
    assert not any(m.user.name in html for m in outside)
    exported = export(client, "/pool/export.csv")
    assert all(m.user.name in exported for m in inside) and not any(m.user.name in exported for m in outside)


def test_lists_and_exports_mask_phones_unless_asked_by_an_admin_of_the_region(client, db, login, create_admin,
                                                                               create_user, create_org, create_member):
    from app.organizations.models import OrganizationKind

    branch = create_org(kind=OrganizationKind.PARTY_BRANCH, county="410104")
    member = create_member(name="周阿姨", phone="13812345678", branch=branch)
    login(create_user(roles=[("organizer", branch)]))
    assert "138****5678" in client.get("/pool/").get_data(as_text=True)
    member_page = client.get(f"/pool/members/{member.id}").get_data(as_text=True)
    assert "13812345678" not in member_page and "138****5678" in member_page
    full = export(client, "/pool/export.csv?full=1")   # not an admin: still masked
    assert "13812345678" not in full and "138****5678" in full
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})

    login(create_admin("410104"))
    assert "13812345678" not in client.get("/pool/").get_data(as_text=True)
    assert "13812345678" not in export(client, "/pool/export.csv")
    assert "13812345678" in export(client, "/pool/export.csv?full=1")
    assert "13812345678" in client.get(f"/pool/members/{member.id}").get_data(as_text=True)


def test_views_and_exports_are_audited(client, db, login, create_admin, create_member):
    from sqlalchemy import select

    from app.audit.models import AuditEvent

    member = create_member()
    admin = create_admin("410104")
    login(admin)
    client.get(f"/pool/members/{member.id}")
    export(client, "/pool/export.xlsx?full=1")
    events = db.session.execute(select(AuditEvent.action, AuditEvent.detail, AuditEvent.ip).where(
        AuditEvent.actor_id == admin.id).order_by(AuditEvent.id)).all()
    actions = [e.action for e in events]
    assert "member.view" in actions and "pool.export" in actions
    exported = next(e for e in events if e.action == "pool.export")
    assert '"full_phones": true' in exported.detail and exported.ip == "127.0.0.1"


def test_members_see_no_staff_pages(client, login, create_member):
    member = create_member()
    login(member.user)
    for path in ("/pool/", "/pool/queue", f"/pool/members/{member.id}", "/pool/import"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/account")
    assert client.post("/pool/export.csv", data={"csrf_token": token}).status_code == 403


def test_another_admins_import_job_is_404(client, db, login, create_admin):
    from app.members.models import ImportJob

    other = create_admin("410104")
    job = ImportJob(created_by_id=other.id, filename="x.xlsx", mode="valid", status="done")
    db.session.add(job)
    db.session.commit()
    login(create_admin("410104"))
    assert client.get(f"/pool/import/{job.id}").status_code == 404
    assert client.get(f"/pool/import/{job.id}/report.csv").status_code == 404
