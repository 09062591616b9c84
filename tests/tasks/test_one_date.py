"""去不了了 for one date of a weekly task (app/tasks/dates.py): from the reminder's one-tap page
("只是这一次去不了" by default, "以后都不去了" as the second choice) and from the member's own task
page. The member stays on the task for the other dates; the organizer is told which date."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.errors import Conflict
from app.notifications.models import Notification
from app.tasks import dates, records, services
from app.tasks.ledger import member_hours
from app.tasks.models import Assignment, AssignmentStatus, SessionRelease, TaskReminder
from app.tasks.reminders import remind_tomorrow
from tests.conftest import csrf_token
from tests.venues.conftest import clock  # noqa: F401  (the fixed application clock)

TODAY = datetime(2026, 9, 1, 10, 0)          # a Tuesday
WEDNESDAY = 1 << 2


@pytest.fixture
def weekly(db, clock, create_task, create_member):  # noqa: F811
    """Every Wednesday 9:00–11:00 from 2 to 23 September, one place: 王 accepted, 李 waiting."""
    clock.now = TODAY
    task = create_task(when=datetime(2026, 9, 2, 9, 0), headcount=1, weekly_until=date(2026, 9, 23),
                       weekdays=WEDNESDAY, title="每周普法")
    wang = create_member(name="王建国", skills={"法律咨询": 3})
    li = create_member(name="李秀英", skills={"法律咨询": 3})
    invited = services.invite(actor=task.organizer, task=task, members=[wang, li])
    for member, a in zip((wang, li), invited, strict=True):
        services.respond(member=member, assignment=a, accept=True)
    db.session.commit()
    assert len(task.sessions) == 4
    return task, wang, li, invited[0]


def status(db, assignment_id: int) -> AssignmentStatus:
    return db.session.scalar(select(Assignment.status).where(Assignment.id == assignment_id))


def organizer_titles(db, task) -> list[str]:
    return list(db.session.scalars(select(Notification.title).where(Notification.user_id == task.organizer.id)))


def reminder_link(db, member) -> str:
    return db.session.scalar(select(Notification.link).where(Notification.user_id == member.id,
                                                             Notification.kind == "task.reminder")
                             .order_by(Notification.id.desc()))


def test_only_this_time_releases_one_date_and_keeps_the_others(client, db, login, clock, weekly):  # noqa: F811
    task, wang, li, a = weekly
    assert remind_tomorrow() == 1
    db.session.commit()
    link = reminder_link(db, wang)
    page = client.get(link).get_data(as_text=True)
    assert "只是这一次去不了</button>" in page and "以后都不去了，退出这项服务</button>" in page
    assert page.index("只是这一次去不了</button>") < page.index("以后都不去了")      # the default comes first

    done = client.post(link, data={"csrf_token": csrf_token(client, link), "choice": "once"})
    assert done.status_code == 200 and "以后的日期您照常参加" in done.get_data(as_text=True)
    assert status(db, a.id) is AssignmentStatus.ACCEPTED                       # still on the task
    first = task.sessions[0]
    assert db.session.scalar(select(SessionRelease.session_id).where(SessionRelease.assignment_id == a.id)) == first.id
    # No per-session headcount: nobody moves up for one date, and the organizer is told which date.
    assert db.session.scalar(select(Assignment.status).where(Assignment.member_id == li.id)) \
        is AssignmentStatus.WAITLISTED
    assert any("王建国9月2日（周三）09:00–11:00去不了" in t for t in organizer_titles(db, task))

    # Replayed: refused, nothing more changes.
    again = client.post(link, data={"csrf_token": csrf_token(client, link), "choice": "all"})
    assert again.status_code == 409 and "已经处理过了" in again.get_data(as_text=True)
    assert status(db, a.id) is AssignmentStatus.ACCEPTED
    assert db.session.scalar(select(func.count()).select_from(SessionRelease)) == 1

    # The date itself: no check-in expected, the hours page shows the leave and ticks nobody.
    clock.now = datetime(2026, 9, 2, 12, 0)
    assert remind_tomorrow() == 0                                              # nothing on Thursday
    login(task.organizer)
    page = client.get(f"/tasks/{task.id}/sessions/{first.id}/attendance").get_data(as_text=True)
    assert "已请假：这一次去不了" in page
    records.confirm_attendance(actor=task.organizer, session=first, entries={a.id: (False, 0, "")})
    db.session.commit()

    # The next week: reminded as usual, served, hours counted.
    clock.now = datetime(2026, 9, 8, 10, 0)
    assert remind_tomorrow() == 1
    db.session.commit()
    second = task.sessions[1]
    assert db.session.scalar(select(TaskReminder.session_id).order_by(TaskReminder.id.desc())) == second.id
    clock.now = datetime(2026, 9, 9, 12, 0)
    records.confirm_attendance(actor=task.organizer, session=second, entries={a.id: (True, 2.0, "")})
    db.session.commit()
    assert member_hours(wang.id) == 2.0


def test_never_again_withdraws_and_moves_the_waitlist_up(client, db, weekly):
    task, wang, li, a = weekly
    remind_tomorrow()
    db.session.commit()
    link = reminder_link(db, wang)
    done = client.post(link, data={"csrf_token": csrf_token(client, link), "choice": "all"})
    assert done.status_code == 200 and "您已退出这项服务" in done.get_data(as_text=True)
    assert status(db, a.id) is AssignmentStatus.WITHDRAWN
    assert db.session.scalar(select(Assignment.status).where(Assignment.member_id == li.id)) \
        is AssignmentStatus.ACCEPTED
    assert not db.session.scalar(select(func.count()).select_from(SessionRelease))


def test_a_released_date_is_not_reminded(db, clock, weekly):  # noqa: F811
    task, wang, li, a = weekly
    dates.release(member=wang, assignment=a, session=task.sessions[0], via="app")
    db.session.commit()
    assert remind_tomorrow() == 0
    clock.now = datetime(2026, 9, 8, 10, 0)
    assert remind_tomorrow() == 1


def test_the_members_own_page_offers_each_date(client, db, login, clock, weekly):  # noqa: F811
    task, wang, li, a = weekly
    login(wang.user)
    page = client.get(f"/my/tasks/{task.id}").get_data(as_text=True)
    assert page.count("这一次去不了</button>") == 4 and "以后都不去了，退出这项服务" in page
    third = task.sessions[2]
    path = f"/my/tasks/{task.id}/sessions/{third.id}/release"
    response = client.post(path, data={"csrf_token": csrf_token(client, f"/my/tasks/{task.id}")})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "9月16日（周三）09:00–11:00这一次您不去" in page and "已请假，这一次不去" in page
    assert status(db, a.id) is AssignmentStatus.ACCEPTED
    assert any("9月16日" in t for t in organizer_titles(db, task))
    # Twice: refused with a message, nothing added.
    client.post(path, data={"csrf_token": csrf_token(client, f"/my/tasks/{task.id}")})
    assert db.session.scalar(select(func.count()).select_from(SessionRelease)) == 1
    # Someone else's task or a date of another task: 404.
    other = f"/my/tasks/{task.id}/sessions/{third.id + 100}/release"
    assert client.post(other, data={"csrf_token": csrf_token(client, f"/my/tasks/{task.id}")}).status_code == 404
    # Every other date released: the last one is leaving the task, and the waitlist moves up.
    for s in (task.sessions[0], task.sessions[1]):
        client.post(f"/my/tasks/{task.id}/sessions/{s.id}/release",
                    data={"csrf_token": csrf_token(client, f"/my/tasks/{task.id}")})
    assert status(db, a.id) is AssignmentStatus.ACCEPTED
    last = client.post(f"/my/tasks/{task.id}/sessions/{task.sessions[3].id}/release",
                       data={"csrf_token": csrf_token(client, f"/my/tasks/{task.id}")})
    assert "已退出这项服务" in client.get(last.headers["Location"]).get_data(as_text=True)
    assert status(db, a.id) is AssignmentStatus.WITHDRAWN
    assert db.session.scalar(select(Assignment.status).where(Assignment.member_id == li.id)) \
        is AssignmentStatus.ACCEPTED


def test_a_single_session_task_offers_only_leaving(client, db, clock, create_task, create_member):  # noqa: F811
    clock.now = TODAY
    task = create_task(when=datetime(2026, 9, 2, 9, 0), headcount=1)
    wang = create_member(name="王建国", skills={"法律咨询": 3})
    [a] = services.invite(actor=task.organizer, task=task, members=[wang])
    services.respond(member=wang, assignment=a, accept=True)
    db.session.commit()
    remind_tomorrow()
    db.session.commit()
    link = reminder_link(db, wang)
    page = client.get(link).get_data(as_text=True)
    assert "只是这一次" not in page and "去不了了</button>" in page
    client.post(link, data={"csrf_token": csrf_token(client, link)})
    assert status(db, a.id) is AssignmentStatus.WITHDRAWN


def test_a_date_already_begun_cannot_be_released(db, clock, weekly):  # noqa: F811
    task, wang, li, a = weekly
    clock.now = datetime(2026, 9, 2, 9, 30)
    with pytest.raises(Conflict, match="已经开始"):
        dates.release(member=wang, assignment=a, session=task.sessions[0], via="app")
    assert not db.session.scalar(select(func.count()).select_from(SessionRelease))


def test_only_this_time_for_the_last_date_left_is_leaving_the_task(client, db, clock, weekly):  # noqa: F811
    task, wang, li, a = weekly
    for s in task.sessions[1:]:
        dates.release(member=wang, assignment=a, session=s, via="app")
    db.session.commit()
    remind_tomorrow()
    db.session.commit()
    link = reminder_link(db, wang)
    done = client.post(link, data={"csrf_token": csrf_token(client, link), "choice": "once"})
    assert "您已退出这项服务" in done.get_data(as_text=True)
    assert status(db, a.id) is AssignmentStatus.WITHDRAWN
    assert db.session.scalar(select(Assignment.status).where(Assignment.member_id == li.id)) \
        is AssignmentStatus.ACCEPTED
