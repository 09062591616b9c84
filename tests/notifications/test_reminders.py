"""Reminders members can answer: the day before a session, a reminder by the member's channels
with a link to a one-tap "去不了了" page; answering it tells the organizer and moves the waitlist up."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from app.jobs.schedule import remind_members
from app.members.models import MemberStatus
from app.notifications.models import Notification, SmsOutbox
from app.notifications.sms_outbox import send_due
from app.tasks import services
from app.tasks.models import Assignment, AssignmentStatus, TaskReminder
from app.tasks.reminders import remind_tomorrow
from tests.conftest import csrf_token
from tests.sms_provider import TEMPLATE_CODES

TODAY = datetime(2026, 9, 1, 10, 0)      # a Tuesday, local time
TOMORROW_NINE = datetime(2026, 9, 2, 9, 0)


@pytest.fixture
def full_task(db, clock, create_task, create_member):
    """A task tomorrow at 9:00 for one member: 王 accepted, 李 on the waitlist."""
    clock.now = TODAY
    task = create_task(when=TOMORROW_NINE, headcount=1)
    wang = create_member(name="王建国", skills={"法律咨询": 3})
    li = create_member(name="李秀英", skills={"法律咨询": 3})
    invited = services.invite(actor=task.organizer, task=task, members=[wang, li])
    for member, a in zip((wang, li), invited, strict=True):
        services.respond(member=member, assignment=a, accept=True)
    db.session.commit()
    return task, wang, li


def reminder_link(db, member) -> str:
    note = db.session.scalar(select(Notification).where(Notification.user_id == member.id,
                                                        Notification.kind == "task.reminder"))
    return note.link


def status(db, task, member) -> AssignmentStatus:
    return next(a.status for a in db.session.scalars(
        select(Assignment).where(Assignment.task_id == task.id,
                                          Assignment.member_id == member.id)))


def test_the_day_before_the_accepted_member_is_reminded_once_by_sms_with_the_link(db, full_task, provider):
    task, wang, li = full_task
    assert remind_tomorrow() == 1
    db.session.commit()
    assert remind_tomorrow() == 0                     # never twice
    link = reminder_link(db, wang)
    assert link.startswith("/r/")
    note = db.session.scalar(select(Notification).where(Notification.link == link))
    assert note.title == f"明天09:00：{task.title}" and "9月2日（周三）09:00–11:00" in note.body
    send_due()
    [text] = [d for d in provider.to(wang.user.phone) if d.template_code == TEMPLATE_CODES["reminder"]]
    assert text.params["code"] == link.removeprefix("/r/") and text.params["when"] == "明天09:00"
    assert f"/r/{text.params['code']}" in text.text
    assert all(d.template_code != TEMPLATE_CODES["reminder"] for d in provider.to(li.user.phone))
    row = db.session.scalar(select(SmsOutbox).where(SmsOutbox.template == "reminder"))
    assert row.expires_at is not None                 # a reminder after its session is not sent


def test_cant_go_in_one_tap_tells_the_organizer_and_moves_the_waitlist_up(client, db, full_task):
    task, wang, li = full_task
    remind_tomorrow()
    db.session.commit()
    link = reminder_link(db, wang)
    page = client.get(link).get_data(as_text=True)     # no sign-in
    assert "您去不了了吗" in page and "去不了了</button>" in page
    done = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert done.status_code == 200 and "已经告诉组织者了" in done.get_data(as_text=True)
    assert status(db, task, wang) is AssignmentStatus.WITHDRAWN
    assert status(db, task, li) is AssignmentStatus.ACCEPTED
    organizer_notes = db.session.scalars(select(Notification.title).where(
        Notification.user_id == task.organizer.id)).all()
    assert any("王建国退出了" in t for t in organizer_notes)
    assert any("候补成功" in t for t in db.session.scalars(select(Notification.title).where(
        Notification.user_id == li.id)))
    again = client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert again.status_code == 409 and "已经处理过了" in again.get_data(as_text=True)
    assert db.session.scalar(select(TaskReminder.answered_at)) is not None


def test_a_link_with_a_wrong_signature_opens_nothing(client, db, full_task):
    _task, wang, _li = full_task
    remind_tomorrow()
    db.session.commit()
    link = reminder_link(db, wang)
    ident, signature = link.removeprefix("/r/").split("-")
    for forged in (f"/r/{ident}-{'0' * len(signature)}", f"/r/{int(ident) + 1}-{signature}", f"/r/{ident}", "/r/x-y"):
        assert client.get(forged).status_code == 404
        assert client.post(forged, data={"csrf_token": csrf_token(client, "/login")}).status_code == 404
    assert status(db, _task, wang) is AssignmentStatus.ACCEPTED


def test_the_link_lapses_when_the_session_starts(client, db, clock, full_task):
    task, wang, _li = full_task
    remind_tomorrow()
    db.session.commit()
    link = reminder_link(db, wang)
    token = csrf_token(client, link)
    clock.now = TOMORROW_NINE
    assert "已经回复过了，或者服务已经开始了" in client.get(link).get_data(as_text=True)
    assert client.post(link, data={"csrf_token": token}).status_code == 409
    assert status(db, task, wang) is AssignmentStatus.ACCEPTED


def test_no_reminder_for_a_paused_member_or_a_cancelled_task(db, clock, full_task, create_task, create_member):
    task, wang, _li = full_task
    wang.status = MemberStatus.PAUSED
    other = create_task(when=TOMORROW_NINE, title="河道巡护")
    zhao = create_member(name="赵大爷", skills={"法律咨询": 3})
    [a] = services.invite(actor=other.organizer, task=other, members=[zhao])
    services.respond(member=zhao, assignment=a, accept=True)
    services.cancel(actor=other.organizer, task=other, reason="天气原因")
    db.session.commit()
    assert remind_tomorrow() == 0


def test_the_scheduled_run_reminds_and_commits(db, full_task):
    assert remind_members() == "1 members reminded of tomorrow's sessions, 0 bookers of tomorrow's bookings"
    assert db.session.scalar(select(TaskReminder.id)) is not None
