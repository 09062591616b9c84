"""Merging two accounts of the same person (app/members/merge.py): everything moves to the account
kept, once; the hours are the same before and after; the other account is closed; a merge record
is written; bad input changes nothing; out of scope is 404."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.accounts.models import Role, RoleGrant, UserSession
from app.attendance.models import Attendance, CheckInMethod
from app.audit.models import AuditEvent
from app.extensions import db as _db
from app.members import merge, pool
from app.members.models import (
    AccountMerge,
    EntryStatus,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    PoolEntry,
    PoolEvent,
    PoolLevel,
    SkillLocation,
    UnavailablePeriod,
)
from app.notifications.models import Notification
from app.notifications.services import notify
from app.organizations.models import OrganizationKind
from app.tasks import records
from app.tasks import services as tasks
from app.tasks.ledger import member_hours
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord
from tests.conftest import PASSWORD, csrf_token
from tests.venues.conftest import clock  # noqa: F401  (the fixed application clock)

TODAY = datetime(2026, 9, 1, 10, 0)
FULL = (1 << 21) - 1   # every weekly slot


@pytest.fixture
def branch(create_org):
    return create_org(county="410104", kind=OrganizationKind.PARTY_BRANCH)


@pytest.fixture
def secretary(create_user, branch):
    return create_user(name="张书记", roles=[("organizer", branch)])


@pytest.fixture
def old(create_member, branch):
    """The account registered first, by proxy years ago."""
    return create_member(name="王建国", county="410104", branch=branch, skills={"法律咨询": 2, "课业辅导": 1},
                         phone="13800000001", availability_mask=FULL & ~(1 << 20))


@pytest.fixture
def new(create_member, branch):
    """The account the same man registered himself after changing phones."""
    return create_member(name="王建国", county="410104", branch=branch, skills={"法律咨询": 3},
                         phone="13900000002", availability_mask=FULL & ~(1 << 19))


def merge_post(client, member_id: int, other_id: int, data: dict):
    path = f"/pool/members/{member_id}/account/merge/{other_id}"
    return client.post(path, data={**data, "csrf_token": csrf_token(client, f"/pool/members/{member_id}/account")})


def snapshot(db, *member_ids: int) -> dict:
    """Everything a refused merge must leave as it was."""
    def count(model, column) -> int:
        return db.session.scalar(select(func.count()).select_from(model).where(column.in_(member_ids))) or 0

    return {"skills": count(MemberSkill, MemberSkill.member_id), "pool": count(PoolEntry, PoolEntry.member_id),
            "assignments": sorted((i, m, s.value) for i, m, s in db.session.execute(
                select(Assignment.id, Assignment.member_id, Assignment.status)
                .where(Assignment.member_id.in_(member_ids)))),
            "records": sorted((i, m) for i, m in db.session.execute(select(ServiceRecord.id, ServiceRecord.member_id)
                                                                 .where(ServiceRecord.member_id.in_(member_ids)))),
            "hours": [member_hours(m) for m in member_ids], "merges": db.session.scalar(
                select(func.count()).select_from(AccountMerge)),
            "active": [db.session.get(MemberProfile, m).user.active for m in member_ids],
            "phones": [db.session.get(MemberProfile, m).user.phone for m in member_ids]}


def test_every_foreign_key_to_users_and_member_profiles_is_handled_by_the_merge(app):
    """A new table naming a user or member must say what a merge does with it (merge.HANDLED)."""
    with app.app_context():
        found = {(table.name, fk.parent.name) for table in _db.metadata.sorted_tables for fk in table.foreign_keys
                 if fk.column.table.name in ("users", "member_profiles")}
    missing = found - set(merge.HANDLED)
    assert not missing, f"app/members/merge.py does not say what a merge does with: {sorted(missing)}"
    assert set(merge.HANDLED) - found == set(), "HANDLED names columns that no longer exist"


def test_merging_moves_everything_once_and_keeps_the_hours(
        app, client, db, login, clock, secretary, old, new, create_task, create_member, create_admin):  # noqa: F811
    clock.now = TODAY
    admin = create_admin("410104")
    # The old account: an approved county pool entry, hours served, a task both accounts are on.
    entry = pool.nominate(actor=secretary, member=old, level=PoolLevel.COUNTY, reason="多年法律援助经验")
    pool.decide(actor=admin, entry=entry, approve=True)
    pool.nominate(actor=secretary, member=new, level=PoolLevel.COUNTY, reason="自己报名的新账号")
    old_skill = next(s for s in old.skills if s.skill.name == "法律咨询")
    old_skill.certificate, old_skill.years = "律师执业证", 30
    db.session.add(UnavailablePeriod(member_id=old.id, start_date=date(2026, 10, 1), end_date=date(2026, 10, 7)))
    db.session.add(UnavailablePeriod(member_id=new.id, start_date=date(2026, 10, 1), end_date=date(2026, 10, 7)))

    served = create_task(when=TODAY + timedelta(days=1), headcount=2, title="社区法律咨询")
    [a] = tasks.invite(actor=served.organizer, task=served, members=[old])
    tasks.respond(member=old, assignment=a, accept=True)
    other = create_task(when=TODAY + timedelta(days=1, hours=3), headcount=2, title="普法讲座")
    [b] = tasks.invite(actor=other.organizer, task=other, members=[new])
    tasks.respond(member=new, assignment=b, accept=True)
    db.session.commit()
    clock.now = TODAY + timedelta(days=2)
    db.session.add(Attendance(session_id=served.sessions[0].id, user_id=old.id,
                              checked_in_at=datetime(2026, 9, 2, 8, 55), check_in_method=CheckInMethod.MANUAL))
    records.confirm_attendance(actor=served.organizer, session=served.sessions[0], entries={a.id: (True, 2.0, "")})
    records.confirm_attendance(actor=other.organizer, session=other.sessions[0], entries={b.id: (True, 1.5, "")})
    db.session.commit()

    # Both accepted on a coming task (the same man holding two places), one member waiting; and on
    # another, the old account accepted while the new one is only invited.
    coming = create_task(when=clock.now + timedelta(days=5), headcount=2, title="调解纠纷")
    zhao = create_member(name="赵文", skills={"法律咨询": 3})
    first, third, fourth = tasks.invite(actor=coming.organizer, task=coming, members=[old, new, zhao])
    for member, assignment in ((old, first), (new, third), (zhao, fourth)):
        tasks.respond(member=member, assignment=assignment, accept=True)
    talk = create_task(when=clock.now + timedelta(days=6), headcount=2, title="普法宣传")
    kept, weaker = tasks.invite(actor=talk.organizer, task=talk, members=[old, new])
    tasks.respond(member=old, assignment=kept, accept=True)
    notify(old.user, kind="x", title="给旧账号的消息")
    db.session.commit()
    assert db.session.get(Assignment, fourth.id).status is AssignmentStatus.WAITLISTED
    first_id, weaker_id = first.id, weaker.id
    hours_before = member_hours(old.id) + member_hours(new.id)
    assert hours_before == 3.5

    # The member signs in on the old phone (a session that must end).
    fresh = app.test_client()
    fresh.post("/login", data={"phone": "13800000001", "password": PASSWORD, "csrf_token": csrf_token(fresh)})
    assert db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == old.id))

    login(secretary)
    page = client.get(f"/pool/members/{new.id}/account/merge?q=0001").get_data(as_text=True)
    assert f"/account/merge/{old.id}" in page                                   # found by the phone's last digits
    page = client.get(f"/pool/members/{new.id}/account/merge/{old.id}").get_data(as_text=True)
    assert "3.5" not in page and "2.0 小时" in page and "1.5 小时" in page      # side by side
    assert "不能自动撤销" in page
    response = merge_post(client, new.id, old.id, {"survivor": "this", "identity_checked": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()

    # Hours: identical, all on the survivor, every ledger row moved whole.
    assert member_hours(new.id) == hours_before and member_hours(old.id) == 0
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord).where(
        ServiceRecord.member_id == new.id)) == 2
    # Skills: the union, the higher level, the certificate and years kept.
    skills = {s.skill.name: s for s in db.session.scalars(select(MemberSkill).where(MemberSkill.member_id == new.id))}
    assert set(skills) == {"法律咨询", "课业辅导"}
    assert (skills["法律咨询"].level, skills["法律咨询"].years, skills["法律咨询"].certificate) == (3, 30, "律师执业证")
    assert not db.session.scalar(select(func.count()).select_from(MemberSkill).where(MemberSkill.member_id == old.id))
    survivor = db.session.get(MemberProfile, new.id)
    assert survivor.availability_mask == FULL                                  # the union
    assert db.session.scalar(select(func.count()).select_from(UnavailablePeriod).where(
        UnavailablePeriod.member_id == new.id)) == 1                             # the same dates, once
    # Pool: the approved county entry is live, the nomination gave way; both histories kept.
    entries = db.session.scalars(select(PoolEntry).where(PoolEntry.member_id == new.id)).all()
    assert sorted(e.status.value for e in entries) == ["approved", "withdrawn"]
    assert db.session.scalar(select(func.count()).select_from(PoolEvent).where(
        PoolEvent.entry_id == entry.id, PoolEvent.action == "merged")) == 1
    assert survivor.pool_rank == 1
    # Assignments: one per task, the stronger state; the place freed went to the waitlist.
    on_coming = db.session.scalars(select(Assignment).where(Assignment.task_id == coming.id,
                                                            Assignment.member_id == new.id)).all()
    assert [(x.id, x.status) for x in on_coming] == [(third.id, AssignmentStatus.ACCEPTED)]
    assert db.session.get(Assignment, first_id) is None
    assert db.session.get(Assignment, fourth.id).status is AssignmentStatus.ACCEPTED   # the place freed
    on_talk = db.session.scalars(select(Assignment).where(Assignment.task_id == talk.id)).all()
    assert [(x.id, x.member_id, x.status) for x in on_talk] == [(kept.id, new.id, AssignmentStatus.ACCEPTED)]
    assert db.session.get(Assignment, weaker_id) is None
    assert db.session.get(Assignment, a.id).member_id == new.id
    # Attendance and notifications moved.
    assert db.session.scalar(select(Attendance.user_id).where(Attendance.session_id == served.sessions[0].id)) == new.id
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == new.id, Notification.title == "给旧账号的消息")) == 1
    # The other account: closed, phone freed, signed out, out of matching.
    closed = db.session.get(MemberProfile, old.id)
    assert closed.user.active is False and closed.user.phone is None and closed.status is MemberStatus.PAUSED
    assert not db.session.scalar(select(func.count()).select_from(UserSession).where(UserSession.user_id == old.id))
    assert not db.session.scalar(select(func.count()).select_from(SkillLocation).where(SkillLocation.member_id == old.id))
    assert survivor.user.phone == "13900000002"
    # The record: who, which ids, what moved.
    record = db.session.scalar(select(AccountMerge).where(AccountMerge.merged_id == old.id))
    assert record.survivor_id == new.id and record.actor_id == secretary.id
    detail = json.loads(record.detail)
    assert detail["counts"]["service_records"] == 1 and a.id in detail["rows"]["assignments"]["moved"]
    assert detail["merged_phone"] == "13800000001"                              # to reconstruct
    assert detail["rows"]["member_skills"]["combined"][0]["certificate"] == "律师执业证"
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "member.merge"))
    assert audit.actor_id == secretary.id and audit.object_id == str(new.id) and str(record.id) in audit.detail
    assert "138****0001" in audit.detail and "13800000001" not in audit.detail
    # Merged once: the closed account cannot be merged again.
    assert "已经合并到别的账号" in merge_post(client, new.id, old.id, {"survivor": "this", "identity_checked": "y"}
                                          ).get_data(as_text=True)
    # The closed account cannot be enabled again or given a number: it is looked after through the survivor.
    page = client.get(f"/pool/members/{old.id}/account").get_data(as_text=True)
    assert f"合并到<a href=\"/pool/members/{new.id}/account\">编号 {new.id} 的账号</a>" in page
    response = client.post(f"/pool/members/{old.id}/account/enable",
                           data={"csrf_token": csrf_token(client, "/account")})
    assert "已经合并到编号" in client.get(response.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(MemberProfile, old.id).user.active is False
    # The old phone no longer signs in; the number is free for the survivor.
    assert fresh.post("/login", data={"phone": "13800000001", "password": PASSWORD,
                                      "csrf_token": csrf_token(fresh)}).status_code != 302


def test_the_other_account_can_be_the_one_kept(client, db, login, secretary, old, new):
    login(secretary)
    assert merge_post(client, new.id, old.id, {"survivor": "other", "identity_checked": "y"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(MemberProfile, old.id).user.active and not db.session.get(MemberProfile, new.id).user.active
    assert db.session.get(MemberProfile, old.id).user.phone == "13800000001"


def test_bad_input_changes_nothing(client, db, login, clock, secretary, old, new, create_task,  # noqa: F811
                                   create_member, create_admin):
    clock.now = TODAY
    login(secretary)
    before = snapshot(db, old.id, new.id)

    # With itself.
    body = merge_post(client, old.id, old.id, {"survivor": "this", "identity_checked": "y"}).get_data(as_text=True)
    assert "不能把一个账号和它自己合并" in body
    # Without the identity check.
    response = merge_post(client, new.id, old.id, {"survivor": "this"})
    assert response.status_code == 400 and "请先核实两个账号是同一个人" in response.get_data(as_text=True)
    # Without choosing.
    assert merge_post(client, new.id, old.id, {"identity_checked": "y"}).status_code == 400

    # Both with confirmed hours for the same session.
    served = create_task(when=TODAY + timedelta(days=1), headcount=2, title="社区法律咨询")
    pair = tasks.invite(actor=served.organizer, task=served, members=[old, new])
    for member, assignment in zip((old, new), pair, strict=True):
        tasks.respond(member=member, assignment=assignment, accept=True)
    db.session.commit()
    clock.now = TODAY + timedelta(days=2)
    records.confirm_attendance(actor=served.organizer, session=served.sessions[0],
                               entries={pair[0].id: (True, 2.0, ""), pair[1].id: (True, 2.0, "")})
    db.session.commit()
    before = snapshot(db, old.id, new.id)
    response = merge_post(client, new.id, old.id, {"survivor": "this", "identity_checked": "y"})
    assert response.status_code == 409 and "同一个人不能重复计时" in response.get_data(as_text=True)
    db.session.expire_all()
    assert snapshot(db, old.id, new.id) == before

    # A deceased account.
    third = create_member(name="王建国", branch=old.branch, phone="13700000003")
    admin = create_admin("410104")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(admin)
    assert client.post(f"/pool/members/{third.id}/account/deceased",
                       data={"confirm": "y", "csrf_token": csrf_token(client, "/account")}).status_code == 302
    db.session.expire_all()
    before = snapshot(db, third.id, new.id)
    response = merge_post(client, new.id, third.id, {"survivor": "this", "identity_checked": "y"})
    assert response.status_code == 409 and "已标记逝世，不能合并" in response.get_data(as_text=True)
    db.session.expire_all()
    assert snapshot(db, third.id, new.id) == before


def test_out_of_scope_is_404_for_the_page_and_the_post(client, db, login, old, new, create_admin, create_user,
                                                       create_org, create_member):
    elsewhere = create_member(name="王建国", county="410105", phone="13600000004")
    branch_of_old_only = create_user(roles=[("organizer", old.branch)])
    outsiders = [create_admin("410105"), create_admin("110000"),
                 create_user(roles=[("organizer", create_org(county="410104"))])]
    cases = [(o, new.id, old.id) for o in outsiders] + [(branch_of_old_only, old.id, elsewhere.id),
                                                          (create_admin("410104"), old.id, elsewhere.id)]
    before = snapshot(db, old.id, new.id, elsewhere.id)
    for actor, this, that in cases:
        login(actor)
        assert client.get(f"/pool/members/{this}/account/merge/{that}").status_code == 404
        assert merge_post(client, this, that, {"survivor": "this", "identity_checked": "y"}).status_code == 404
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    db.session.expire_all()
    assert snapshot(db, old.id, new.id, elsewhere.id) == before


def test_the_search_lists_only_accounts_in_scope(client, db, login, secretary, old, new, create_member):
    elsewhere = create_member(name="王建国", county="410105", phone="13600000004")
    login(secretary)
    page = client.get(f"/pool/members/{new.id}/account/merge?q=王建国").get_data(as_text=True)
    assert f"/account/merge/{old.id}" in page and f"/account/merge/{elsewhere.id}" not in page
    assert f"/account/merge/{new.id}\"" not in page
    page = client.get(f"/pool/members/{new.id}/account/merge?q=13800000001").get_data(as_text=True)
    assert f"/account/merge/{old.id}" in page


def test_a_city_admin_merges_accounts_in_two_counties_and_the_pool_entry_follows_the_home(
        client, db, login, new, create_member, create_admin):
    elsewhere = create_member(name="王建国", county="410105", phone="13600000004", skills={"课业辅导": 2})
    entry = pool.nominate(actor=create_admin("410105"), member=elsewhere, level=PoolLevel.COUNTY, reason="老教师多年")
    pool.decide(actor=create_admin("410105"), entry=entry, approve=True)
    db.session.commit()
    login(create_admin("410100"))
    assert merge_post(client, new.id, elsewhere.id, {"survivor": "this", "identity_checked": "y"}).status_code == 302
    db.session.expire_all()
    moved = db.session.get(PoolEntry, entry.id)
    assert (moved.member_id, moved.region_code, moved.status) == (new.id, "410104", EntryStatus.APPROVED)
    assert [e.action for e in moved.events][-2:] == ["merged", "transferred"]
    assert db.session.get(MemberProfile, new.id).pool_rank == 1


def test_an_account_with_a_staff_role_is_not_closed_by_a_merge(client, db, login, old, new, branch, create_admin):
    db.session.add(RoleGrant(user_id=old.id, role=Role.ORGANIZER, organization_id=branch.id))
    db.session.commit()
    login(create_admin("410104"))
    before = snapshot(db, old.id, new.id)
    response = merge_post(client, new.id, old.id, {"survivor": "this", "identity_checked": "y"})
    assert response.status_code == 409 and "担任着工作人员角色" in response.get_data(as_text=True)
    db.session.expire_all()
    assert snapshot(db, old.id, new.id) == before
    # Kept instead, it stays an organizer and takes the other account in.
    assert merge_post(client, new.id, old.id, {"survivor": "other", "identity_checked": "y"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(MemberProfile, old.id).user.has_role(Role.ORGANIZER)
    assert not db.session.get(MemberProfile, new.id).user.active
