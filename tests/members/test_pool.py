import pytest
from sqlalchemy import select

from app.errors import Conflict, Invalid, PermissionDenied
from app.members import pool
from app.members.models import EntryStatus, PoolEntry, PoolLevel
from app.notifications.models import Notification
from app.regions.models import Region
from app.reports.figures import Unit, load
from app.reports.summary import refresh
from tests.conftest import csrf_token, statements_run


def test_from_county_up_to_province(db, create_member, create_admin):
    member = create_member(county="410104", skills={"法律咨询": 3})
    county, city, province = create_admin("410104"), create_admin("410100"), create_admin("410000")

    entry = pool.apply(actor=member.user, member=member, reason="愿意为社区调解出力")
    pool.decide(actor=county, entry=entry, approve=True)
    city_entry = pool.nominate(actor=county, member=member, level=PoolLevel.CITY, reason="调解经验丰富")
    assert city_entry.region_code == "410100" and city_entry.basis_id == entry.id
    with pytest.raises(PermissionDenied):
        pool.decide(actor=county, entry=city_entry, approve=True)  # a county admin cannot decide for the city
    pool.decide(actor=city, entry=city_entry, approve=True)
    province_entry = pool.nominate(actor=city, member=member, level=PoolLevel.PROVINCE, reason="全市调解能手")
    pool.decide(actor=province, entry=province_entry, approve=True, note="欢迎")
    assert member.approved_levels() == {PoolLevel.COUNTY, PoolLevel.CITY, PoolLevel.PROVINCE}
    titles = db.session.scalars(select(Notification.title).where(Notification.user_id == member.id)).all()
    assert any("省级" in t for t in titles)


def test_a_city_nomination_needs_an_approved_county_entry(db, create_member, create_admin):
    member = create_member()
    admin = create_admin("410100")
    with pytest.raises(Invalid, match="县级"):
        pool.nominate(actor=admin, member=member, level=PoolLevel.CITY, reason="理由充分")
    pool.apply(actor=member.user, member=member)
    with pytest.raises(Invalid, match="县级"):  # applied, not approved yet
        pool.nominate(actor=admin, member=member, level=PoolLevel.CITY, reason="理由充分")


def test_a_county_directly_under_the_province_goes_straight_to_the_province(db, create_member, create_admin):
    member = create_member(county="419001")  # 济源市
    admin = create_admin("410000")
    entry = pool.apply(actor=member.user, member=member)
    pool.decide(actor=admin, entry=entry, approve=True)
    assert pool.nominable_levels(admin, member) == [PoolLevel.PROVINCE]
    with pytest.raises(Invalid, match="直属省"):
        pool.nominate(actor=admin, member=member, level=PoolLevel.CITY, reason="理由充分")
    assert pool.nominate(actor=admin, member=member, level=PoolLevel.PROVINCE, reason="理由充分").region_code == "410000"


def test_applying_twice_is_a_conflict(db, create_member):
    member = create_member()
    pool.apply(actor=member.user, member=member)
    with pytest.raises(Conflict):
        pool.apply(actor=member.user, member=member)


def test_the_database_holds_one_live_entry_per_level(db, create_member):
    import sqlalchemy as sa

    member = create_member()
    pool.apply(actor=member.user, member=member)
    with pytest.raises(sa.exc.IntegrityError):
        with db.session.begin_nested():
            db.session.add(PoolEntry(member_id=member.id, level=PoolLevel.COUNTY, region_code="410104",
                                     status=EntryStatus.APPROVED, origin=pool.EntryOrigin.NOMINATED))


def test_a_rejection_needs_a_reason_and_is_final(db, create_member, create_admin):
    member = create_member()
    admin = create_admin("410104")
    entry = pool.apply(actor=member.user, member=member)
    with pytest.raises(Invalid, match="原因"):
        pool.decide(actor=admin, entry=entry, approve=False, note="")
    pool.decide(actor=admin, entry=entry, approve=False, note="专长信息不完整，请补充后再申请")
    with pytest.raises(Conflict):
        pool.decide(actor=admin, entry=entry, approve=True)
    again = pool.apply(actor=member.user, member=member)  # a new request is a new entry
    assert again.id != entry.id and entry.status is EntryStatus.REJECTED


def test_withdrawal_cascades_upward_and_keeps_the_history(db, create_member, create_admin):
    member = create_member()
    county, city = create_admin("410104"), create_admin("410100")
    entry = pool.apply(actor=member.user, member=member)
    pool.decide(actor=county, entry=entry, approve=True)
    city_entry = pool.nominate(actor=city, member=member, level=PoolLevel.CITY, reason="表现突出")
    with pytest.raises(Invalid, match="原因"):
        pool.withdraw(actor=county, entry=entry, note="")
    affected = pool.withdraw(actor=member.user, entry=entry, note="身体原因")
    assert {e.id for e in affected} == {entry.id, city_entry.id}
    assert [ev.action for ev in entry.events] == ["applied", "approved", "withdrawn"]
    assert [ev.action for ev in city_entry.events] == ["nominated", "withdrawn"]


def test_organizers_nominate_their_branch_members_for_the_county_only(db, create_member, create_user, create_org):
    from app.organizations.models import OrganizationKind

    branch = create_org(kind=OrganizationKind.PARTY_BRANCH)
    organizer = create_user(roles=[("organizer", branch)])
    member = create_member(branch=branch)
    stranger = create_member()
    assert pool.nominate(actor=organizer, member=member, level=PoolLevel.COUNTY, reason="支部推荐").status \
        is EntryStatus.NOMINATED
    with pytest.raises(PermissionDenied):
        pool.nominate(actor=organizer, member=stranger, level=PoolLevel.COUNTY, reason="支部推荐")


def test_the_queue_and_counts_follow_the_region(db, create_member, create_admin):
    here, there = create_member(county="410104"), create_member(county="411326")
    for m in (here, there):
        pool.apply(actor=m.user, member=m)
    guancheng = create_admin("410104")
    queued = db.session.scalars(pool.decision_queue(guancheng)).all()
    assert [e.member_id for e in queued] == [here.id]
    province_queue = db.session.scalars(pool.decision_queue(create_admin("410000"))).all()
    assert {e.member_id for e in province_queue} == {here.id, there.id}
    pool.decide(actor=guancheng, entry=queued[0], approve=True)
    refresh()
    board = load(Unit(region=db.session.get(Region, "410000")))
    counts = {c.region_code: c.figures for c in board.children}
    assert counts["410100"].get("pool", "county") == 1 and counts["411300"].get("waiting", "county") == 1


def test_deciding_through_the_pages(client, db, login, create_member, create_admin):
    member = create_member(name="孙大爷")
    entry = pool.apply(actor=member.user, member=member)
    db.session.commit()
    login(create_admin("410104"))
    assert "孙大爷" in client.get("/pool/queue").get_data(as_text=True)
    refused = client.post(f"/pool/entries/{entry.id}/decide", data={
        "decision": "reject", "note": "", "csrf_token": csrf_token(client, "/pool/queue")})
    assert refused.status_code == 400 and "原因" in refused.get_data(as_text=True)
    db.session.refresh(entry)
    assert entry.status is EntryStatus.NOMINATED
    ok = client.post(f"/pool/entries/{entry.id}/decide", data={
        "decision": "approve", "note": "", "csrf_token": csrf_token(client, "/pool/queue")})
    assert ok.status_code == 302
    db.session.refresh(entry)
    assert entry.status is EntryStatus.APPROVED


def test_a_member_applies_and_withdraws_from_their_profile(client, db, login, create_member):
    member = create_member()
    login(member.user)
    client.post("/profile/apply", data={"csrf_token": csrf_token(client, "/profile")})
    entry = db.session.scalar(select(PoolEntry).where(PoolEntry.member_id == member.id))
    assert entry.status is EntryStatus.NOMINATED
    client.post(f"/profile/entries/{entry.id}/withdraw", data={"csrf_token": csrf_token(client, "/profile")})
    db.session.refresh(entry)
    assert entry.status is EntryStatus.WITHDRAWN


def test_the_skill_taxonomy_page_reads_every_categorys_skills_in_one_statement(db, client, login, create_admin):
    """/pool/skills lists each category with its skills: one statement reads the skills of all
    the categories (the province's taxonomy has about twenty), not one each."""
    from app.members.models import SkillCategory

    login(create_admin("410000"))
    client.get("/pool/skills")
    with statements_run(db) as statements:
        html = client.get("/pool/skills").get_data(as_text=True)
    categories = db.session.scalars(select(SkillCategory)).all()
    assert len(categories) > 3 and all(c.name in html for c in categories)
    assert "法律咨询" in html
    assert len([s for s in statements if "FROM skills" in s]) == 1
