"""Booking a venue without doubt (issue 16 item 7): a conflict names the free times nearest it and
no control that is not there, the calendar opens on the week asked about, start times keep to the
day's opening hours, a branch is never its own co-host, 不重复 pre-ticks no weekday, packages
promise no more people than the venue holds, and the organizer's home offers 预约场地."""

from datetime import datetime, time

from app.venues.recurrence import Slot, VenueRules
from tests.conftest import csrf_token
from tests.venues.test_views import booking_form, counts


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


# --- the nearest free times, pure ----------------------------------------------------------------


def test_the_nearest_free_times_keep_to_the_hours_and_skip_what_is_held():
    rules = VenueRules(hours={4: ((time(8, 30), time(11, 30)), (time(14, 30), time(17, 30)))})
    wanted = Slot(at("2026-09-04 09:00"), at("2026-09-04 10:00"))
    held = [Slot(at("2026-09-04 08:30"), at("2026-09-04 10:30"))]
    assert rules.nearest_free(wanted, held) == [Slot(at("2026-09-04 10:30"), at("2026-09-04 11:30")),
                                                Slot(at("2026-09-04 14:30"), at("2026-09-04 15:30")),
                                                Slot(at("2026-09-04 14:45"), at("2026-09-04 15:45"))]


def test_no_free_time_on_a_closed_day():
    rules = VenueRules(hours={4: ((time(8, 30), time(11, 30)),)})
    assert rules.nearest_free(Slot(at("2026-09-05 09:00"), at("2026-09-05 10:00")), []) == []   # a Saturday


# --- through the wizard ----------------------------------------------------------------------------


def _post(client, venue, **data):
    path = f"/venues/{venue.id}/book"
    return client.post(path, data={**data, "csrf_token": csrf_token(client, path)})


def test_a_one_off_conflict_names_the_nearest_free_times_and_no_skipping(db, organizer_client, create_venue, book,
                                                                         branch):
    client, org, _ = organizer_client
    venue = create_venue()
    holder_org, holder = branch()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=holder_org, actor=holder)
    before = counts(db)
    for step in ("time", "confirm"):
        response = _post(client, venue, **booking_form(org, step=step, start="09:30", end="10:30"))
        html = response.get_data(as_text=True)
        assert response.status_code == 409, step
        assert "这天还空着、一样长的时间：8:30–9:00" not in html        # too short before it
        assert "这天还空着、一样长的时间：10:00–11:00、10:15–11:15、10:30–11:30" in html, step
        assert "跳过" not in html and "选择时间" in html
    db.session.expire_all()
    assert counts(db) == before


def test_a_full_day_says_to_pick_another(db, organizer_client, create_venue, book, branch):
    client, org, _ = organizer_client
    venue = create_venue(hours={4: [(time(9, 0), time(10, 0))]})
    holder_org, holder = branch()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=holder_org, actor=holder)
    html = _post(client, venue, **booking_form(org, step="time")).get_data(as_text=True)
    assert "这天没有一样长的空闲时间了，请换一天" in html


def test_a_series_conflict_offers_skipping_where_the_box_is(db, organizer_client, create_venue, book, branch):
    client, org, _ = organizer_client
    venue = create_venue()
    holder_org, holder = branch()
    book(venue, "2026-09-11 09:00", "2026-09-11 10:00", org=holder_org, actor=holder)
    series = booking_form(org, repeat="weekly", weekdays="4", until="2026-09-25")
    page = _post(client, venue, **{**series, "step": "repeat"}).get_data(as_text=True)
    assert "跳过已被预约的日期，只预约其余日期" in page
    refused = _post(client, venue, **series)
    assert refused.status_code == 409 and "勾选下面的“跳过已被预约的日期”" in refused.get_data(as_text=True)
    assert _post(client, venue, **series, skip_conflicts="y").status_code == 302


def test_the_calendar_link_opens_on_the_week_asked_about(organizer_client, create_venue):
    client, _, _ = organizer_client
    venue = create_venue()
    html = client.get(f"/venues/{venue.id}/book?date=2026-09-04").get_data(as_text=True)
    assert f'href="/venues/{venue.id}/week?start=2026-09-04">这一周的日历' in html


def test_start_times_keep_to_the_days_opening_hours(organizer_client, create_venue):
    client, _, _ = organizer_client
    venue = create_venue()
    saturday = client.get(f"/venues/{venue.id}/book?date=2026-09-05").get_data(as_text=True)
    start = saturday[saturday.index('name="start"'):saturday.index('name="end"')]
    assert 'value="09:00"' in start and 'value="11:15"' in start
    assert 'value="08:30"' not in start and 'value="11:30"' not in start and 'value="14:30"' not in start


def test_a_branch_is_never_offered_as_its_own_co_host(organizer_client, create_venue, branch):
    client, org, _ = organizer_client
    venue = create_venue()
    other, _ = branch(name="东关南里社区党支部")
    html = _post(client, venue, **booking_form(org, step="activity")).get_data(as_text=True)   # no packages: people next
    assert "<h1>有多少人参加？</h1>" in html                  # a venue without packages asks none
    co_host = html[html.index('name="co_host_1"'):html.index('name="co_attendees_1"')]
    assert f'value="{other.id}"' in co_host and f'value="{org.id}"' not in co_host


def test_no_repeat_pre_ticks_no_weekday(organizer_client, create_venue):
    client, org, _ = organizer_client
    venue = create_venue()
    html = _post(client, venue, **booking_form(org, step="people")).get_data(as_text=True)
    assert "是否重复" in html and 'name="weekdays"' in html
    weekdays = html[html.index('name="weekdays"') - 200:html.index("每月重复时")]
    assert "checked" not in weekdays
    assert 'class="repeat-options repeat-weekly"' in html


def test_a_package_promises_no_more_people_than_the_venue_holds(organizer_client, create_venue, create_package):
    client, org, _ = organizer_client
    venue = create_venue(capacity=20)
    create_package(name="红色观影", max_participants=50)
    html = _post(client, venue, **booking_form(org, step="activity")).get_data(as_text=True)
    assert "红色观影（1 小时，最多 20 人）" in html and "最多 50 人" not in html


def test_the_organizers_home_offers_booking_a_venue(organizer_client):
    client, _, _ = organizer_client
    html = client.get("/").get_data(as_text=True)
    assert 'href="/venues/">预约场地</a>' in html and "我的预约" in html


def test_the_list_of_venues_leads_straight_to_booking(organizer_client, create_venue):
    client, _, _ = organizer_client
    venue = create_venue()
    html = client.get("/venues/").get_data(as_text=True)
    assert f'href="/venues/{venue.id}/book">预约<span class="visually-hidden">{venue.name}</span>' in html
