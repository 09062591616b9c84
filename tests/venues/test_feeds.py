"""iCalendar feeds: they parse with the icalendar package, follow RFC 5545's required properties,
and hold exactly the slot-holding occurrences; the secret address is the only key."""

from datetime import date, datetime

import pytest
from icalendar import Calendar

from app.bookings import services as bookings
from app.clock import LOCAL
from app.errors import PermissionDenied
from app.venues import services
from app.venues.recurrence import Freq, Rule
from tests.conftest import csrf_token, statements_of


def parse(response):
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    cal = Calendar.from_ical(response.data)
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    events = list(cal.walk("VEVENT"))
    for event in events:  # RFC 5545 §3.6.1: UID and DTSTAMP required; DTSTART with a VTIMEZONE
        assert event["UID"] and event["DTSTAMP"] and event["DTSTART"]
        assert event.decoded("DTSTART").tzinfo is not None
    if events:
        assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
    return events


def starts(events):
    return sorted(e.decoded("DTSTART").astimezone(LOCAL).replace(tzinfo=None) for e in events)


@pytest.fixture
def setup(db, create_venue, book, branch, manager, clock):
    venue = create_venue()
    org, organizer = branch()
    partner, partner_organizer = branch()
    series = book(venue, "2026-09-07 09:00", "2026-09-07 10:00", org=org, actor=organizer, title="学习会",
                  rule=Rule(Freq.WEEKLY, date(2026, 9, 28), weekdays=(0,)))
    joint = book(venue, "2026-09-09 09:00", "2026-09-09 10:00", org=partner, actor=partner_organizer, title="联合主题党日",
                 co_hosts=[bookings.CoHost(org, 5)])
    elsewhere = book(create_venue(), "2026-09-10 09:00", "2026-09-10 10:00", org=org, actor=organizer, title="外出参观")
    other = book(venue, "2026-09-11 09:00", "2026-09-11 10:00", title="别的支部")
    boss = manager(venue)
    bookings.decide_booking(actor=boss, booking=series, approve=True)
    bookings.cancel_booking(actor=organizer, booking=series, reason="停电", scope="one", occurrence=series.occurrences[1])
    rejected = book(venue, "2026-09-15 09:00", "2026-09-15 10:00", title="被拒的")
    bookings.decide_booking(actor=boss, booking=rejected, approve=False, reason="检查")
    db.session.commit()
    return dict(venue=venue, org=org, organizer=organizer, boss=boss, other=other, elsewhere=elsewhere, joint=joint)


def test_the_venue_feed_holds_exactly_the_slot_holding_dates(db, client, setup):
    venue, boss = setup["venue"], setup["boss"]
    token = services.regenerate_venue_feed(actor=boss, venue=venue)
    db.session.commit()
    events = parse(client.get(f"/feeds/venues/{token}.ics"))
    assert starts(events) == [datetime(2026, 9, 7, 9), datetime(2026, 9, 9, 9), datetime(2026, 9, 11, 9),
                              datetime(2026, 9, 21, 9), datetime(2026, 9, 28, 9)]
    by_start = {e.decoded("DTSTART").astimezone(LOCAL).replace(tzinfo=None): e for e in events}
    assert str(by_start[datetime(2026, 9, 7, 9)]["STATUS"]) == "CONFIRMED"
    assert str(by_start[datetime(2026, 9, 11, 9)]["STATUS"]) == "TENTATIVE"
    assert "别的支部" in str(by_start[datetime(2026, 9, 11, 9)]["SUMMARY"])  # the managers' feed names branches
    assert by_start[datetime(2026, 9, 7, 9)].decoded("DTEND") - by_start[datetime(2026, 9, 7, 9)].decoded("DTSTART") \
        == datetime(2026, 9, 7, 10) - datetime(2026, 9, 7, 9)
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_the_branch_feed_holds_its_own_and_co_hosted_dates_anywhere(db, client, setup):
    feed = bookings.organization_feed(actor=setup["organizer"], organization=setup["org"])
    db.session.commit()
    events = parse(client.get(f"/feeds/branches/{feed.token}.ics"))
    assert starts(events) == [datetime(2026, 9, 7, 9), datetime(2026, 9, 9, 9), datetime(2026, 9, 10, 9),
                              datetime(2026, 9, 21, 9), datetime(2026, 9, 28, 9)]
    assert not any("别的支部" in str(e["SUMMARY"]) for e in events)


def test_an_unknown_or_retired_token_is_404(db, client, setup, login):
    organizer, org = setup["organizer"], setup["org"]
    assert client.get("/feeds/venues/nope.ics").status_code == 404
    assert client.get("/feeds/branches/" + "x" * 500 + ".ics").status_code == 404
    login(organizer)
    client.post(f"/bookings/feeds/{org.id}", data={"csrf_token": csrf_token(client, "/bookings/")})
    old = bookings.organization_feed(actor=organizer, organization=org).token
    assert client.get(f"/feeds/branches/{old}.ics").status_code == 200
    client.post(f"/bookings/feeds/{org.id}", data={"csrf_token": csrf_token(client, "/bookings/"), "regenerate": "1"})
    db.session.expire_all()
    new = bookings.organization_feed(actor=organizer, organization=org).token
    assert new != old
    assert client.get(f"/feeds/branches/{old}.ics").status_code == 404
    assert client.get(f"/feeds/branches/{new}.ics").status_code == 200


def test_only_the_branchs_organizers_and_the_venues_managers_handle_feeds(db, setup, branch):
    _, stranger = branch()
    with pytest.raises(PermissionDenied):
        bookings.organization_feed(actor=stranger, organization=setup["org"])
    with pytest.raises(PermissionDenied):
        services.regenerate_venue_feed(actor=stranger, venue=setup["venue"])


def test_a_feed_reads_as_many_statements_for_many_bookings_as_for_few(db, client, setup, book):
    """Calendar programs ask for a feed again and again: its bookings, their hosts and packages
    come in a fixed number of statements, not more for each booking."""
    venue, boss = setup["venue"], setup["boss"]
    token = services.regenerate_venue_feed(actor=boss, venue=venue)
    db.session.commit()
    few, _ = statements_of(db, client, f"/feeds/venues/{token}.ics")
    for day in ("2026-09-16", "2026-09-17", "2026-09-18"):
        book(venue, f"{day} 09:00", f"{day} 10:00", title=f"{day}的微党课")
    many, body = statements_of(db, client, f"/feeds/venues/{token}.ics")
    assert "2026-09-18的微党课" in body.replace("\r\n ", "")
    assert many == few
