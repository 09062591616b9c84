"""Members without a phone account are reachable (issue 16 item 5): marked on the candidates
page, listed with whom to call, and their answer given on the phone recorded by an organizer of
the task or of their branch, audited."""

import json

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.organizations.models import OrganizationKind
from app.tasks.models import Assignment, AssignmentStatus
from tests.conftest import csrf_token


@pytest.fixture
def offline(db, create_org, create_user, create_member):
    """A member registered by proxy who never claimed the account, in a branch with a secretary."""
    branch = create_org(name="东大街社区党支部", kind=OrganizationKind.PARTY_BRANCH)
    secretary = create_user(name="李书记", phone="13700001111", roles=[("organizer", branch)])
    member = create_member(name="韩德厚", skills={"法律咨询": 3}, branch=branch)
    member.user.password_hash = None
    db.session.commit()
    return member, secretary


def invite(client, task, member):
    return client.post(f"/tasks/{task.id}/invite", data={"member": str(member.id),
                                                         "csrf_token": csrf_token(client, f"/tasks/{task.id}/candidates")})


def answer(client, assignment, **data):
    path = f"/tasks/calls/{assignment.id}"
    return client.post(path, data={**data, "csrf_token": csrf_token(client, "/tasks/calls")})


def test_the_organizer_learns_to_call_instead_of_waiting(client, db, login, create_task, offline):
    member, secretary = offline
    task = create_task()
    login(task.organizer)
    assert "不用手机，要打电话问" in client.get(f"/tasks/{task.id}/candidates").get_data(as_text=True)
    invite(client, task, member)
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert "韩德厚不用手机，收不到邀请：请打电话问" in page and "他们回复后会通知您" not in page
    assert "打电话问，记下韩德厚的回复" in page
    calls = client.get("/tasks/calls").get_data(as_text=True)
    assert "韩德厚：社区法律咨询" in calls and "东大街社区党支部书记 李书记" in calls and 'href="tel:13700001111"' in calls
    assert "等您打电话（1）" in client.get("/tasks/").get_data(as_text=True)


def test_a_recorded_yes_places_the_member_and_is_audited(client, db, login, create_task, offline):
    member, _ = offline
    task = create_task()
    login(task.organizer)
    invite(client, task, member)
    a = db.session.scalar(select(Assignment).where(Assignment.member_id == member.id))
    done = answer(client, a, accept="1", note="电话问了本人")
    assert done.status_code == 302
    db.session.refresh(a)
    assert a.status is AssignmentStatus.ACCEPTED and a.responded_at is not None
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "task.answer_for"))
    assert event.actor_id == task.organizer.id and json.loads(event.detail) == {
        "accept": True, "note": "电话问了本人", "member_id": member.id}
    assert "现在没有等您打电话的邀请" in client.get("/tasks/calls").get_data(as_text=True)
    assert client.get(f"/tasks/calls/{a.id}").status_code == 404          # answered: nothing to record


def test_the_branch_secretary_may_record_the_answer(client, db, login, create_task, offline):
    member, secretary = offline
    task = create_task()
    login(task.organizer)
    invite(client, task, member)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(secretary)
    a = db.session.scalar(select(Assignment).where(Assignment.member_id == member.id))
    assert "韩德厚" in client.get("/tasks/calls").get_data(as_text=True)
    assert answer(client, a, accept="0").status_code == 302
    db.session.refresh(a)
    assert a.status is AssignmentStatus.DECLINED


def test_no_answer_chosen_is_refused_and_nothing_changes(client, db, login, create_task, offline):
    member, _ = offline
    task = create_task()
    login(task.organizer)
    invite(client, task, member)
    a = db.session.scalar(select(Assignment).where(Assignment.member_id == member.id))
    refused = answer(client, a, note="没打通")
    assert refused.status_code == 400 and "请选择老同志的回复" in refused.get_data(as_text=True)
    assert 'value="没打通"' in refused.get_data(as_text=True)
    db.session.refresh(a)
    assert a.status is AssignmentStatus.INVITED
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "task.answer_for")) == 0


def test_others_cannot_record_and_members_who_sign_in_answer_themselves(client, db, login, create_task, create_org,
                                                                       create_user, create_member, offline):
    member, _ = offline
    task = create_task()
    online = create_member(name="钱律师", skills={"法律咨询": 3})
    login(task.organizer)
    client.post(f"/tasks/{task.id}/invite", data={"member": [str(member.id), str(online.id)],
                                                  "csrf_token": csrf_token(client, f"/tasks/{task.id}/candidates")})
    mine = db.session.scalar(select(Assignment).where(Assignment.member_id == online.id))
    assert client.get(f"/tasks/calls/{mine.id}").status_code == 404        # they answer on their phone
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    stranger = create_user(name="别处书记", roles=[("organizer", create_org())])
    login(stranger)
    theirs = db.session.scalar(select(Assignment).where(Assignment.member_id == member.id))
    assert client.get(f"/tasks/calls/{theirs.id}").status_code == 404
    assert client.post(f"/tasks/calls/{theirs.id}", data={"accept": "1", "csrf_token": csrf_token(client, "/tasks/calls")}
                       ).status_code == 404
    assert "韩德厚" not in client.get("/tasks/calls").get_data(as_text=True)
    db.session.refresh(theirs)
    assert theirs.status is AssignmentStatus.INVITED
