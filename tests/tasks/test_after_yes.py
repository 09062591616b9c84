"""After 我去 the next step is on the page (issue 16 item 6): each date to come, the place, whom to
call, and a calendar file whose events remind the day before and hold only sessions to come."""

from datetime import timedelta

from icalendar import Calendar
from sqlalchemy import select

from app.clock import local_now
from app.formats import fmt_slot
from app.tasks.models import Assignment, AssignmentStatus
from tests.conftest import csrf_token


def accepted(db, client, login, create_task, create_member, **task_kw):
    task = create_task(**task_kw)
    member = create_member(skills={"法律咨询": 3})
    db.session.add(Assignment(task_id=task.id, member_id=member.id, origin="invited", status=AssignmentStatus.INVITED))
    db.session.commit()
    login(member.user)
    r = client.post(f"/my/tasks/{task.id}/respond", data={"accept": "1", "csrf_token": csrf_token(client, "/my/tasks")})
    assert r.status_code == 302
    return task, member


def test_the_accepted_page_lists_dates_place_and_whom_to_call(client, db, login, create_task, create_member):
    start = (local_now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    task, _ = accepted(db, client, login, create_task, create_member, when=start,
                       weekly_until=(start + timedelta(days=14)).date(), weekdays=1 << start.weekday())
    html = client.get(f"/my/tasks/{task.id}").get_data(as_text=True)
    assert "时间、地点和有事找谁，都在下面" in html
    for s in task.sessions:
        assert fmt_slot(s.starts_at, s.ends_at) in html
    assert "东大街" in html and "书记" in html and f'href="/my/tasks/{task.id}/calendar.ics"' in html
    assert "加到手机日历（提前一天提醒）" in html and ".ics<" not in html


def test_the_calendar_file_reminds_the_day_before_and_holds_only_sessions_to_come(client, db, login, create_task,
                                                                                   create_member):
    start = (local_now() + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    task, _ = accepted(db, client, login, create_task, create_member, when=start,
                       weekly_until=(start + timedelta(days=14)).date(), weekdays=1 << start.weekday())
    first = min(task.sessions, key=lambda s: s.starts_at)
    first.starts_at, first.ends_at = local_now() - timedelta(hours=3), local_now() - timedelta(hours=1)
    db.session.commit()
    response = client.get(f"/my/tasks/{task.id}/calendar.ics")
    assert response.mimetype == "text/calendar"
    events = list(Calendar.from_ical(response.data).walk("VEVENT"))
    assert len(events) == len(task.sessions) - 1                      # the past session is left out
    for event in events:
        [alarm] = event.walk("VALARM")
        assert str(alarm["action"]) == "DISPLAY" and alarm["trigger"].dt == -timedelta(days=1)
    everything = list(Calendar.from_ical(client.get("/my/tasks.ics").data).walk("VEVENT"))
    assert len(everything) == len(events)


def test_the_calendar_of_a_task_not_accepted_is_404(client, db, login, create_task, create_member):
    task = create_task()
    member = create_member(skills={"法律咨询": 3})
    db.session.add(Assignment(task_id=task.id, member_id=member.id, origin="invited", status=AssignmentStatus.INVITED))
    db.session.commit()
    login(member.user)
    assert client.get(f"/my/tasks/{task.id}/calendar.ics").status_code == 404
    other = create_task(title="别的服务")
    assert client.get(f"/my/tasks/{other.id}/calendar.ics").status_code == 404
    assert db.session.scalar(select(Assignment.status).where(Assignment.task_id == task.id)) is AssignmentStatus.INVITED
