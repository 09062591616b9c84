"""Accounts staff look after: mark 逝世 (and undo), disable and enable, change the registered phone;
in scope only (404 elsewhere), audited, reversible."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import RecoveryCode, UserSession
from app.audit.models import AuditEvent
from app.matching.search import suggest
from app.members import pool
from app.members.models import MemberStatus
from app.notifications.models import Notification, SmsOutbox
from app.notifications.services import notify
from app.organizations.models import OrganizationKind
from app.tasks import records
from app.tasks import services as tasks
from app.tasks.ledger import member_hours
from app.tasks.models import Assignment, AssignmentStatus
from app.tasks.reminders import remind_tomorrow
from tests.conftest import PASSWORD, csrf_token
from tests.venues.conftest import clock  # noqa: F401  (the fixed application clock)

TODAY = datetime(2026, 9, 1, 10, 0)


@pytest.fixture
def branch(create_org):
    return create_org(county="410104", kind=OrganizationKind.PARTY_BRANCH)


@pytest.fixture
def secretary(create_user, branch):
    return create_user(name="张书记", roles=[("organizer", branch)])


@pytest.fixture
def elder(create_member, branch):
    return create_member(name="王建国", county="410104", branch=branch, skills={"法律咨询": 3})


def page_post(client, member_id: int, action: str, data: dict | None = None):
    token = csrf_token(client, f"/pool/members/{member_id}/account")
    return client.post(f"/pool/members/{member_id}/account/{action}", data={**(data or {}), "csrf_token": token})


def status_of(db, assignment_id: int) -> AssignmentStatus:
    return db.session.get(Assignment, assignment_id).status


def test_a_member_marked_deceased_leaves_candidates_tasks_and_reminders_but_not_the_hours(
        client, db, login, clock, secretary, elder, create_task, create_member):  # noqa: F811
    clock.now = TODAY
    served = create_task(when=TODAY + timedelta(days=1), headcount=2)
    [a] = tasks.invite(actor=served.organizer, task=served, members=[elder])
    tasks.respond(member=elder, assignment=a, accept=True)
    db.session.commit()
    clock.now = TODAY + timedelta(days=2)
    records.confirm_attendance(actor=served.organizer, session=served.sessions[0], entries={a.id: (True, 2.0, "")})
    db.session.commit()
    hours = member_hours(elder.id)
    assert hours == 2.0

    coming = create_task(when=clock.now + timedelta(days=1), headcount=1, title="社区普法讲座")
    li = create_member(name="李秀英", skills={"法律咨询": 3})
    first, second = tasks.invite(actor=coming.organizer, task=coming, members=[elder, li])
    tasks.respond(member=elder, assignment=first, accept=True)
    tasks.respond(member=li, assignment=second, accept=True)       # waitlisted
    later = create_task(when=clock.now + timedelta(days=3), title="法律咨询")
    assert elder.id in {s.member_id for s in suggest(later)}
    db.session.commit()

    login(secretary)
    response = page_post(client, elder.id, "deceased", {"note": "家属告知", "confirm": "y"})
    assert response.status_code == 302
    assert "已退出 1 项服务" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert elder.id not in {s.member_id for s in suggest(later)}                   # candidates
    assert status_of(db, first.id) is AssignmentStatus.WITHDRAWN                    # tasks
    assert status_of(db, second.id) is AssignmentStatus.ACCEPTED                    # the waitlist moved up
    assert any("王建国同志已逝世" in t for t in db.session.scalars(
        select(Notification.title).where(Notification.user_id == coming.organizer.id)))
    assert remind_tomorrow() == 1                                                   # 李 only, not 王
    assert member_hours(elder.id) == hours                                          # hours stay
    assert elder.user.active is False and elder.status is MemberStatus.PAUSED
    before = db.session.scalar(select(func.count()).select_from(SmsOutbox).where(SmsOutbox.user_id == elder.id))
    notify(elder.user, kind="x", title="不应发出")
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(SmsOutbox).where(SmsOutbox.user_id == elder.id)) == before
    assert db.session.scalar(select(func.count()).select_from(SmsOutbox).where(
        SmsOutbox.user_id == elder.id, SmsOutbox.state == "pending")) == 0
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.deceased"))
    assert audit.actor_id == secretary.id and "家属告知" in audit.detail


def test_marking_deceased_needs_the_confirmation_and_changes_nothing_without_it(client, db, login, secretary, elder):
    login(secretary)
    response = page_post(client, elder.id, "deceased", {"note": "家属告知"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "请先核实并勾选确认" in html and 'value="家属告知"' in html
    db.session.refresh(elder)
    assert elder.deceased_at is None and elder.user.active


def test_only_an_admin_of_the_region_can_take_the_mark_back(client, db, login, secretary, elder, create_admin):
    login(secretary)
    page_post(client, elder.id, "deceased", {"confirm": "y"})
    assert page_post(client, elder.id, "deceased/undo").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(create_admin("410104"))
    assert page_post(client, elder.id, "deceased/undo").status_code == 302
    db.session.refresh(elder)
    assert elder.deceased_at is None and elder.user.active and elder.status is MemberStatus.PAUSED


def test_disable_and_enable_a_members_account(app, client, db, login, secretary, elder):
    other = app.test_client()
    other.post("/login", data={"phone": elder.user.phone, "password": PASSWORD, "csrf_token": csrf_token(other)})
    login(secretary)
    refused = page_post(client, elder.id, "disable", {"reason": ""})
    assert refused.status_code == 400 and "请写明停用的原因" in refused.get_data(as_text=True)
    assert page_post(client, elder.id, "disable", {"reason": "本人要求暂停使用"}).status_code == 302
    db.session.refresh(elder)
    assert not elder.user.active and elder.status is MemberStatus.PAUSED
    assert other.get("/account").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == elder.id)) == 0
    fresh = app.test_client()
    assert fresh.post("/login", data={"phone": elder.user.phone, "password": PASSWORD,
                                      "csrf_token": csrf_token(fresh)}).status_code == 400
    assert page_post(client, elder.id, "enable").status_code == 302
    assert fresh.post("/login", data={"phone": elder.user.phone, "password": PASSWORD,
                                      "csrf_token": csrf_token(fresh)}).status_code == 302
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(elder.id))).all()
    assert "member.account_disable" in actions and "member.account_enable" in actions


def test_change_the_registered_phone_after_checking_identity(app, client, db, login, secretary, elder,
                                                             create_user):
    old = elder.user.phone
    db.session.add(RecoveryCode(purpose="sms", phone=old, user_id=elder.id, code_digest="x" * 64,
                                expires_at=datetime.now().astimezone() + timedelta(minutes=5)))
    db.session.commit()
    taken = create_user()
    login(secretary)
    unchecked = page_post(client, elder.id, "phone", {"phone": "13912340000"})
    assert unchecked.status_code == 400 and "请先核实是老同志本人" in unchecked.get_data(as_text=True)
    clash = page_post(client, elder.id, "phone", {"phone": taken.phone, "identity_checked": "y"})
    assert clash.status_code == 409 and "已经注册了别的账号" in clash.get_data(as_text=True)
    db.session.refresh(elder.user)
    assert elder.user.phone == old
    assert page_post(client, elder.id, "phone", {"phone": "139 1234 0000", "identity_checked": "y"}).status_code == 302
    db.session.refresh(elder.user)
    assert elder.user.phone == "13912340000"
    assert db.session.scalar(select(RecoveryCode.expires_at)) <= datetime.now().astimezone()
    fresh = app.test_client()
    for phone, status in ((old, 400), ("13912340000", 302)):
        assert fresh.post("/login", data={"phone": phone, "password": PASSWORD,
                                          "csrf_token": csrf_token(fresh)}).status_code == status
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.phone_change"))
    assert "139****0000" in audit.detail and "13912340000" not in audit.detail


@pytest.mark.parametrize("action", ["disable", "enable", "deceased", "deceased/undo", "phone", "transfer"])
def test_staff_outside_the_members_area_get_404_for_every_action(client, db, login, elder, create_admin, create_user,
                                                                 create_org, action):
    outsiders = [create_admin("410105"), create_admin("110000"),
                 create_user(roles=[("organizer", create_org(county="410104"))])]
    for outsider in outsiders:
        login(outsider)
        assert client.get(f"/pool/members/{elder.id}/account").status_code == 404
        assert client.post(f"/pool/members/{elder.id}/account/{action}",
                           data={"csrf_token": csrf_token(client, "/account"), "confirm": "y", "reason": "x",
                                 "phone": "13912340001", "identity_checked": "y"}).status_code == 404
        assert client.post(f"/pool/members/{elder.id}/reset-code",
                           data={"csrf_token": csrf_token(client, "/account")}).status_code == 404
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    db.session.refresh(elder)
    assert elder.user.active and elder.deceased_at is None and elder.user.phone != "13912340001"


def test_a_county_admin_moves_a_member_to_another_county_with_the_pool_entry_and_its_history(
        client, db, login, elder, create_admin):
    guancheng, xichuan = create_admin("410104"), create_admin("411326")
    entry = pool.apply(actor=elder.user, member=elder, reason="想为社区出份力")
    pool.decide(actor=guancheng, entry=entry, approve=True)
    db.session.commit()
    login(guancheng)
    unknown = page_post(client, elder.id, "transfer", {"address": "火星基地1号"})
    assert unknown.status_code == 400 and "没有认出是哪个县" in unknown.get_data(as_text=True)
    same = page_post(client, elder.id, "transfer", {"address": "郑州市管城回族区东大街1号"})
    assert same.status_code == 400 and "不用迁移" in same.get_data(as_text=True)
    moved = page_post(client, elder.id, "transfer", {"address": "南阳市淅川县城关镇建设路8号"})
    assert moved.status_code == 302 and moved.headers["Location"] == "/pool/"
    db.session.expire_all()
    assert (elder.region_code, elder.branch_id, elder.address) == ("411326", None, "南阳市淅川县城关镇建设路8号")
    assert entry.region_code == "411326" and entry.status.value == "approved"
    assert [e.action for e in entry.events][-1] == "transferred" and "迁往淅川县" in entry.events[-1].note
    assert client.get(f"/pool/members/{elder.id}").status_code == 404          # the sending county: gone
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(xichuan)
    page = client.get(f"/pool/members/{elder.id}")
    assert page.status_code == 200 and "王建国" in page.get_data(as_text=True)   # the receiving county sees it
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.transfer"))
    assert audit.actor_id == guancheng.id and audit.region_code == "411326"


def test_only_admins_of_the_members_region_move_them(client, db, login, secretary, elder, create_admin):
    login(secretary)                      # the branch's organizer sees the member, may not move them
    assert page_post(client, elder.id, "transfer", {"address": "南阳市淅川县城关镇"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(create_admin("411326"))         # the county they would move to: not theirs yet
    assert page_post(client, elder.id, "transfer", {"address": "南阳市淅川县城关镇"}).status_code == 404
    db.session.refresh(elder)
    assert elder.region_code == "410104"
