"""Venue pages through the test client: the wizard, bad input answered with a form and nothing
changed, scope (404 outside a region), privacy of the calendars, the queue and the branch's page."""

from datetime import date

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.bookings.models import Booking, BookingOccurrence, BookingStatus
from app.venues.models import Closure, OpeningHours, Venue
from tests.conftest import csrf_token, statements_of


def counts(db):
    return tuple(db.session.scalar(select(func.count()).select_from(t))
                 for t in (Booking, BookingOccurrence, Venue, Closure, OpeningHours))


def booking_form(org, **overrides):
    return {"step": "confirm", "date": "2026-09-04", "start": "09:00", "end": "10:00", "organization": str(org.id),
            "activity": "theme_party_day", "title": "“向党说句心里话”主题党日", "package": "", "attendees": "12",
            "repeat": "none", "interval": "1", **overrides}


def test_the_wizard_asks_time_details_repeat_then_books(db, organizer_client, create_venue, create_package):
    client, org, organizer = organizer_client
    venue = create_venue()
    create_package(name="重温入党誓词", minutes=60)
    path = f"/venues/{venue.id}/book"
    page = client.get(path)
    assert page.status_code == 200 and "选择时间" in page.get_data(as_text=True)
    token = csrf_token(client, path)
    data = {"csrf_token": token, "step": "time", "date": "2026-09-04", "start": "09:00", "end": "10:00"}
    page = client.post(path, data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>办什么活动？</h1>" in html and 'name="date" value="2026-09-04"' in html
    data.update(step="activity", organization=str(org.id), activity="theme_party_day", title="主题党日")
    html = client.post(path, data=data).get_data(as_text=True)
    assert "<h1>要不要选活动套餐？</h1>" in html and "重温入党誓词" in html      # one question a page
    data.update(step="package", package="")
    html = client.post(path, data=data).get_data(as_text=True)
    assert "<h1>有多少人参加？</h1>" in html
    data.update(step="people", attendees="12")
    page = client.post(path, data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "每月第一个星期五" in html
    data.update(step="repeat", repeat="monthly", monthly="nth", interval="1", until="2026-11-30")
    page = client.post(path, data=data)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "核对并提交" in html
    assert "2026年9月4日（周五）9:00–10:00" in html and "国庆节" in html and "2026年11月6日" in html
    data.update(step="confirm")
    response = client.post(path, data=data)
    assert response.status_code == 302
    booking = db.session.scalar(select(Booking).where(Booking.organization_id == org.id))
    assert [o.start_at.day for o in booking.occurrences] == [4, 6]
    assert "预约已提交" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_wizards_back_button_keeps_what_was_typed(organizer_client, create_venue):
    client, org, _ = organizer_client
    venue = create_venue()
    path = f"/venues/{venue.id}/book"
    html = client.post(path, data={"csrf_token": csrf_token(client, path), "step": "activity", "back": "time",
                                   "date": "2026-09-04", "start": "09:00", "end": "10:00", "title": "主题党日"}).get_data(as_text=True)
    assert 'value="2026-09-04"' in html and 'name="title" value="主题党日"' in html


BAD = [
    ({"start": "10:00", "end": "09:00"}, 400, "结束时间要晚于开始时间"),
    ({"attendees": "0"}, 400, "参加人数至少 1 人"),
    ({"attendees": "10000"}, 400, "参加人数 10000 人超过了场地容量 40 人"),
    ({"start": "12:00", "end": "13:00"}, 400, "不在开放时间内：周五的开放时间是 8:30–11:30、14:30–17:30"),
    ({"date": "2026-10-02"}, 400, "是法定节假日（国庆节）"),
    ({"date": "2026-09-16"}, 400, "场地闭馆（空调维修）"),
    ({"date": "2026-08-20"}, 400, "不能预约已经过去的时间"),
    ({"date": "2027-01-08"}, 400, "只接受 90 天以内的预约"),
    ({"date": "not-a-date"}, 400, "请选择活动的日期"),
    ({"title": ""}, 400, "请填写活动主题"),
    ({"activity": "party"}, 400, "error-summary"),
    ({"organization": "999999"}, 400, "请选择为哪个组织预约"),
    ({"repeat": "weekly", "weekdays": ""}, 400, "请选择每周的哪几天"),
    ({"repeat": "weekly", "weekdays": "4", "until": "2027-06-30"}, 400, "截止日期最晚是"),
    ({"co_host_1": "424242", "co_attendees_1": "3"}, 400, "请从列表中选择联合主办的支部"),
    ({"title": "😀" * 3}, 400, "表情符号"),
    ({"start": "09:07"}, 400, "error-summary"),
]


@pytest.mark.parametrize("overrides,status,message", BAD)
def test_bad_booking_input_gets_a_clear_message_and_changes_nothing(
        db, organizer_client, create_venue, create_admin, overrides, status, message):
    client, org, _ = organizer_client
    venue = create_venue(capacity=40)
    db.session.add(Closure(venue_id=venue.id, first_day=date(2026, 9, 14), last_day=date(2026, 9, 18), reason="空调维修"))
    db.session.commit()
    path = f"/venues/{venue.id}/book"
    before = counts(db)
    response = client.post(path, data={**booking_form(org, **overrides), "csrf_token": csrf_token(client, path)})
    html = response.get_data(as_text=True)
    assert response.status_code == status, html[:3000]
    assert message in html and "<title>错误：" in html and "error-summary" in html
    db.session.expire_all()
    assert counts(db) == before


def test_a_taken_slot_is_answered_with_409_saying_when_it_is_taken(db, organizer_client, create_venue, book, branch):
    client, org, _ = organizer_client
    venue = create_venue()
    holder_org, holder = branch(name="开封市龙亭区县级离退休老干部党支部")
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=holder_org, actor=holder, title="政治生日")
    path = f"/venues/{venue.id}/book"
    before = counts(db)
    response = client.post(path, data={**booking_form(org, start="09:30", end="10:30"),
                                       "csrf_token": csrf_token(client, path)})
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "已被预约：2026年9月4日（周五）9:00–10:00" in html   # as the calendar shows it: taken, not by whom
    assert "政治生日" not in html and "龙亭区" not in html
    db.session.expire_all()
    assert counts(db) == before
    response = client.post(path, data={**booking_form(org, start="10:00", end="11:00"),
                                       "csrf_token": csrf_token(client, path)})
    assert response.status_code == 302  # back to back


def test_a_venue_outside_a_county_admins_region_is_404(db, client, login, create_admin, create_venue):
    other = create_venue(county="411326")
    login(create_admin("410104"))
    before = counts(db)
    for path in (f"/venues/{other.id}", f"/venues/{other.id}/week", f"/venues/{other.id}/month",
                 f"/venues/{other.id}/edit", f"/venues/{other.id}/hours", f"/venues/{other.id}/closures",
                 f"/venues/{other.id}/packages", f"/venues/{other.id}/managers"):
        assert client.get(path).status_code == 404, path
    token = csrf_token(client, "/venues/")
    assert client.post(f"/venues/{other.id}/closures", data={"first_day": "2026-12-01", "last_day": "2026-12-02",
                                                               "reason": "维修", "csrf_token": token}).status_code == 404
    assert client.post(f"/venues/{other.id}/hours", data={"day0": "", "csrf_token": token}).status_code == 404
    db.session.expire_all()
    assert counts(db) == before
    html = client.get("/venues/").get_data(as_text=True)
    assert other.name not in html


def test_a_booking_outside_the_region_is_404(db, client, login, create_admin, create_venue, book):
    booking = book(create_venue(county="411326"), "2026-09-04 09:00", "2026-09-04 10:00")
    login(create_admin("410104"))
    assert client.get(f"/bookings/{booking.id}").status_code == 404
    token = csrf_token(client, "/venues/")
    assert client.post(f"/bookings/{booking.id}/approve", data={"csrf_token": token}).status_code == 404
    db.session.refresh(booking)
    assert booking.status is BookingStatus.PENDING


def test_other_branches_names_show_only_to_the_venues_people(db, client, login, create_venue, book, branch, manager):
    venue = create_venue()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", title="秘密的微党课")
    _, onlooker = branch()
    login(onlooker)
    html = client.get(f"/venues/{venue.id}/week?start=2026-09-04").get_data(as_text=True)
    assert "已被预约" in html and "秘密的微党课" not in html
    assert "8:30–9:00" in html and "10:00–11:30" in html  # the free time around it
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(manager(venue))
    html = client.get(f"/venues/{venue.id}/week?start=2026-09-04").get_data(as_text=True)
    assert "秘密的微党课" in html


def test_the_month_calendar_marks_closed_and_busy_days(db, client, login, create_venue, book, branch):
    venue = create_venue()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    _, someone = branch()
    login(someone)
    html = client.get(f"/venues/{venue.id}/month?month=2026-10").get_data(as_text=True)
    assert html.count("闭馆") >= 7  # National Day week
    html = client.get(f"/venues/{venue.id}/month?month=2026-09").get_data(as_text=True)
    assert "已约 1 场，有空闲" in html
    assert client.get(f"/venues/{venue.id}/month?month=garbage").status_code == 200


def test_the_manager_approves_from_the_queue_and_the_branch_cancels(db, client, login, create_venue, book, branch, manager):
    venue = create_venue()
    org, organizer = branch()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer)
    boss = manager(venue)
    login(boss)
    html = client.get("/venues/queue").get_data(as_text=True)
    assert booking.title in html
    response = client.post(f"/bookings/{booking.id}/approve", data={"csrf_token": csrf_token(client, "/venues/queue"),
                                                                     "back": "queue"})
    assert response.status_code == 302
    db.session.refresh(booking)
    assert booking.status is BookingStatus.APPROVED
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(organizer)
    path = f"/bookings/{booking.id}/cancel"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "scope": "all", "reason": ""})
    assert response.status_code == 400 and "请填写原因" in response.get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "scope": "all", "reason": "改期"})
    assert response.status_code == 302
    db.session.refresh(booking)
    assert booking.status is BookingStatus.CANCELLED


def test_a_reject_needs_a_reason(db, client, login, create_venue, book, manager):
    venue = create_venue()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    login(manager(venue))
    path = f"/bookings/{booking.id}/reject"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "reason": ""})
    assert response.status_code == 400
    db.session.refresh(booking)
    assert booking.status is BookingStatus.PENDING


def test_the_branch_page_flags_months_without_a_theme_party_day(db, client, login, create_venue, book, branch):
    org, organizer = branch()
    book(create_venue(), "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer)
    login(organizer)
    html = client.get("/bookings/").get_data(as_text=True)
    assert "提醒：10月、11月、12月还没有预约主题党日的场地" in html


def test_find_a_venue_by_place_capacity_facility_and_free_time(db, client, login, create_venue, book, branch):
    near = create_venue(county="410104", capacity=40, name="管城的家园")
    far = create_venue(county="411326", capacity=80, name="淅川的馆")
    _, organizer = branch()
    login(organizer)
    html = client.get("/venues/", query_string={"near": "管城回族区"}).get_data(as_text=True)
    assert html.index("管城的家园") < html.index("淅川的馆")
    html = client.get("/venues/", query_string={"capacity": "50"}).get_data(as_text=True)
    assert "淅川的馆" in html and "管城的家园" not in html
    book(near, "2026-09-04 09:00", "2026-09-04 10:00")
    html = client.get("/venues/", query_string={"date": "2026-09-04", "start": "09:30", "end": "10:30"}).get_data(as_text=True)
    assert "淅川的馆" in html and "管城的家园" not in html
    html = client.get("/venues/", query_string={"near": "火星"}).get_data(as_text=True)
    assert "没有认出这个地方" in html
    for q in ({"capacity": "-1"}, {"date": "x"}, {"near": "\x00" * 3}, {"facilities": "bogus"}, {"kind": "x"}):
        assert client.get("/venues/", query_string=q).status_code == 200
    assert far.id


def test_an_admin_creates_a_venue_sets_hours_and_appoints_a_manager(db, client, login, create_admin, create_org, create_user):
    from app.organizations.models import OrganizationKind

    admin = create_admin("410104")
    operator = create_org(county="410104", kind=OrganizationKind.VENUE_OPERATOR)
    login(admin)
    response = client.post("/venues/new", data={
        "csrf_token": csrf_token(client, "/venues/new"), "name": "东大街老党员共享家园", "kind": "shared_home",
        "operator": str(operator.id), "county": "410104", "address": "东大街 18 号", "capacity": "40",
        "facilities": ["projector", "lift"], "min_lead_hours": "24", "horizon_days": "60",
        "closed_on_holidays": "y", "active": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    venue = db.session.scalar(select(Venue).where(Venue.name == "东大街老党员共享家园"))
    path = f"/venues/{venue.id}/hours"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "day0": "8:30-11:30，14:30-17:30",
                                       "day5": "9：00～11：30"})
    assert response.status_code == 302
    db.session.refresh(venue)
    assert [h.label for h in venue.hours] == ["周一 8:30–11:30", "周一 14:30–17:30", "周六 9:00–11:30"]
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "day0": "早上八点"})
    assert response.status_code == 400 and "8:30-11:30" in response.get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "day0": "8:00-12:00, 11:00-13:00"})
    assert response.status_code == 400 and "重叠" in response.get_data(as_text=True)
    person = create_user(name="赵馆长")
    path = f"/venues/{venue.id}/managers"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "phone": person.phone})
    assert response.status_code == 302
    db.session.refresh(person)
    assert [g.venue_id for g in person.grants if g.role.value == "venue_manager"] == [venue.id]
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "role.grant")) >= 1


def test_a_manager_adds_a_closure_and_sees_bookings_it_hits(db, client, login, create_venue, book, manager):
    venue = create_venue()
    book(venue, "2026-09-16 09:00", "2026-09-16 10:00", title="组织生活会")
    login(manager(venue))
    path = f"/venues/{venue.id}/closures"
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "first_day": "2026-09-18",
                                       "last_day": "2026-09-14", "reason": "维修"})
    assert response.status_code == 400 and "结束日期不能早于开始日期" in response.get_data(as_text=True)
    response = client.post(path, data={"csrf_token": csrf_token(client, path), "first_day": "2026-09-14",
                                       "last_day": "2026-09-18", "reason": "空调维修"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "组织生活会" in html and "空调维修" in html


def test_a_manager_cannot_move_the_venue_or_manage_another(db, client, login, create_venue, manager):
    venue, other = create_venue(), create_venue()
    login(manager(venue))
    assert client.get(f"/venues/{venue.id}/edit").status_code == 200
    assert client.get(f"/venues/{other.id}/edit").status_code == 404
    assert client.get(f"/venues/{venue.id}/managers").status_code == 403


def test_a_weeks_calendar_reads_as_many_statements_for_many_bookings_as_for_one(db, client, login, create_venue,
                                                                               book, branch, manager):
    """The week's occurrences come with their bookings and the bookings' hosts in a fixed number of
    statements, not one or two more for each booking in the week."""
    venue = create_venue()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", title="第一场微党课")
    login(manager(venue))
    path = f"/venues/{venue.id}/week?start=2026-09-04"
    one, _ = statements_of(db, client, path)
    book(venue, "2026-09-03 09:00", "2026-09-03 10:00", title="第二场微党课")
    book(venue, "2026-09-05 09:30", "2026-09-05 10:30", title="第三场微党课")
    three, html = statements_of(db, client, path)
    assert all(title in html for title in ("第一场微党课", "第二场微党课", "第三场微党课"))
    assert three == one


def test_a_branchs_bookings_read_as_many_statements_for_many_bookings_as_for_one(db, client, login, create_venue,
                                                                                book, branch):
    """我的预约 lists each booking with its dates in a fixed number of statements."""
    org, organizer = branch()
    venue = create_venue()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer, title="第一场微党课")
    login(organizer)
    one, _ = statements_of(db, client, "/bookings/")
    book(venue, "2026-09-03 09:00", "2026-09-03 10:00", org=org, actor=organizer, title="第二场微党课")
    book(create_venue(), "2026-09-05 09:30", "2026-09-05 10:30", org=org, actor=organizer, title="第三场微党课")
    three, html = statements_of(db, client, "/bookings/")
    assert all(title in html for title in ("第一场微党课", "第二场微党课", "第三场微党课"))
    assert three == one
