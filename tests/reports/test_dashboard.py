"""The bureaus' dashboards: every figure recomputed here from the raw rows and compared, at the
province, a city, a county and an organization; small counts hidden below the county; scope
(another county's figures never shown, out of region 404); the export and the page."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from io import BytesIO
from urllib.parse import quote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.bookings.models import ActivityType, Booking, BookingOccurrence, BookingStatus
from app.clock import add_months, local_now, month_start, utcnow
from app.members import pool
from app.members.models import (
    Capacity,
    EntryStatus,
    MemberProfile,
    MemberSkill,
    MemberStatus,
    PoolEntry,
    PoolLevel,
    Skill,
)
from app.organizations.models import OrganizationKind
from app.regions.models import Region
from app.reports.figures import CHILD_METRICS, Unit, load
from app.reports.summary import ACTIVE_DAYS, COUNTY_TOTAL, current_period, month_key, refresh
from app.tasks.models import Assignment, AssignmentStatus, ServiceRecord, Task, TaskSkill, TaskStatus
from app.venues.holidays import public_holiday
from app.venues.models import Closure, OpeningHours, Venue, VenueKind
from app.venues.services import venue_rules

ZHENGZHOU, GUANCHENG, JINSHUI, XICHUAN, JIYUAN = "410100", "410104", "410105", "411326", "419001"


@pytest.fixture
def world(db, create_member, create_org, create_task, create_admin):
    """Members, pool entries, needs, hours and bookings across two cities and 济源."""
    today = local_now().date()
    a = create_org(name="管城一支部", kind=OrganizationKind.PARTY_BRANCH, county=GUANCHENG)
    b = create_org(name="管城二支部", kind=OrganizationKind.PARTY_BRANCH, county=GUANCHENG)
    community = create_org(name="东大街社区", county=GUANCHENG)
    d = create_org(name="淅川老党员支部", kind=OrganizationKind.PARTY_BRANCH, county=XICHUAN)
    create_org(name="济源一支部", kind=OrganizationKind.PARTY_BRANCH, county=JIYUAN)
    members = []
    specs = [  # county, branch, birth year, capacity, skills
        (GUANCHENG, a, 1950, Capacity.LIGHT, {"法律咨询": 3, "课业辅导": 2}),
        (GUANCHENG, a, 1958, Capacity.MODERATE, {"法律咨询": 2}),
        (GUANCHENG, a, 1944, None, {"课业辅导": 1}),
        (GUANCHENG, b, 1962, Capacity.HEAVY, {"法律咨询": 1}),
        (GUANCHENG, None, None, Capacity.LIGHT, {}),
        (JINSHUI, None, 1955, Capacity.LIGHT, {"课业辅导": 3}),
        (XICHUAN, d, 1949, Capacity.MODERATE, {"法律咨询": 2}),
        (XICHUAN, d, 1947, Capacity.LIGHT, {}),
        (JIYUAN, None, 1953, Capacity.LIGHT, {"法律咨询": 1}),
    ]
    for county, branch, born, capacity, skills in specs:
        members.append(create_member(county=county, branch=branch, birth_year=born, capacity=capacity,
                                     consent=capacity is not None, skills=skills))
    deleted = create_member(county=GUANCHENG, branch=a)
    deleted.status = MemberStatus.DELETED
    admin = create_admin("410000")
    for m in members[:7]:
        pool.apply(actor=m.user, member=m)
    db.session.flush()
    entries = {e.member_id: e for e in db.session.scalars(select(PoolEntry))}
    for m in members[:4] + [members[6]]:
        pool.decide(actor=admin, entry=entries[m.id], approve=True)
    pool.nominate(actor=admin, member=members[0], level=PoolLevel.CITY, reason="骨干宣讲员")
    entries[members[0].id].nominated_at = utcnow() - timedelta(days=20)

    # Needs: open, filled and cancelled, in 管城 and 淅川.
    create_task(org=community, skills={"法律咨询": 2, "课业辅导": 1})
    filled = create_task(org=community, skills={"法律咨询": 1})
    filled.status = TaskStatus.FILLED
    cancelled = create_task(org=community)
    cancelled.status = TaskStatus.CANCELLED
    old_open = create_task(org=d, skills={"法律咨询": 1})
    old_open.published_at = utcnow() - timedelta(days=40)
    create_task(org=community, publish=False)   # a draft counts nowhere

    # Service records: attended and missed, inside and outside the active window and the 12 months.
    def served(member, task, days_ago, hours, attended=True):
        assignment = db.session.scalar(select(Assignment).where(Assignment.task_id == task.id,
                                                                Assignment.member_id == member.id))
        if assignment is None:
            assignment = Assignment(task_id=task.id, member_id=member.id, origin="invited",
                                    status=AssignmentStatus.ACCEPTED)
            db.session.add(assignment)
            db.session.flush()
        session = task.sessions[0]
        db.session.add(ServiceRecord(assignment_id=assignment.id, session_id=session.id, member_id=member.id,
                                     organization_id=task.organization_id, hours=hours, attended=attended,
                                     served_on=today - timedelta(days=days_ago)))
        db.session.flush()

    served(members[0], filled, 0, 2.5)
    served(members[1], filled, ACTIVE_DAYS - 1, 3)      # the active window's first day: active
    served(members[2], filled, ACTIVE_DAYS, 4)          # one day before it: not active
    served(members[3], filled, 10, 0, attended=False)   # a no-show
    served(members[6], old_open, 40, 1.5)
    served(members[5], cancelled, 400, 6)               # older than 12 months: no hours

    # Venues: a 主题党日 for branch a this month, hours last month.
    venue = Venue(name="管城共享家园", kind=VenueKind.SHARED_HOME, operator=community, region_code=GUANCHENG,
                  address="东大街", lat=34.7, lon=113.6, capacity=40)
    db.session.add(venue)
    db.session.flush()
    this_month = datetime.combine(month_start(today), datetime.min.time()) + timedelta(hours=9)
    last_month = datetime.combine(add_months(today, -1), datetime.min.time()) + timedelta(hours=14)
    for org, start, hours, activity, status in [
            (a, this_month, 2, ActivityType.THEME_PARTY_DAY, BookingStatus.APPROVED),
            (b, last_month, 3, ActivityType.MICRO_LECTURE, BookingStatus.APPROVED),
            (b, this_month + timedelta(days=1), 2, ActivityType.THEME_PARTY_DAY, BookingStatus.REJECTED)]:
        booking = Booking(venue_id=venue.id, organization_id=org.id, title="活动", activity=activity, attendees=10,
                          status=status)
        booking.occurrences.append(BookingOccurrence(venue_id=venue.id, start_at=start,
                                                     end_at=start + timedelta(hours=hours), status=status))
        db.session.add(booking)
    db.session.commit()
    return {"branches": (a, b, community, d), "members": members, "venue": venue}


def expected(db, *, in_unit) -> dict[tuple[str, str], float]:
    """Every figure computed from the raw rows, in Python, for members, tasks, venues and branches
    that `in_unit(county_code, org_id)` accepts."""
    period = current_period()
    out: dict[tuple[str, str], float] = defaultdict(float)
    members = [m for m in db.session.scalars(select(MemberProfile))
               if m.status is not MemberStatus.DELETED and in_unit(m.region_code, m.branch_id or 0)]
    ids = {m.id for m in members}
    for m in members:
        out[("members", "")] += 1
        year = period.today.year
        age = year - m.birth_year if m.birth_year else None
        band = ("unknown" if age is None else "lt60" if age < 60 else "80" if age >= 80 else str(age // 5 * 5))
        out[("age", band)] += 1
        out[("capacity", m.capacity.value if m.capacity else "none")] += 1
        for category in {db.session.get(Skill, s.skill_id).category_id
                         for s in db.session.scalars(select(MemberSkill).where(MemberSkill.member_id == m.id))}:
            out[("skill", str(category))] += 1
    for e in db.session.scalars(select(PoolEntry)):
        if e.member_id in ids and e.status in (EntryStatus.APPROVED, EntryStatus.NOMINATED):
            out[("pool" if e.status is EntryStatus.APPROVED else "waiting", e.level.value)] += 1
    months = {month_key(m) for m in period.months(12)}
    active, served = set(), set()
    for r in db.session.scalars(select(ServiceRecord)):
        if r.member_id not in ids or r.served_on > period.today:
            continue
        if r.attended and r.served_on >= period.active_since:
            active.add(r.member_id)
        if r.attended and month_key(r.served_on) in months:
            out[("hours", month_key(r.served_on))] += r.hours
            served.add(r.member_id)
        if r.served_on >= period.active_since:
            out[("records", "attended" if r.attended else "no_show")] += 1
    if active:
        out[("active", "")] = len(active)
    if served:
        out[("served", "")] = len(served)
    for t in db.session.scalars(select(Task)):
        if not in_unit(t.region_code, t.organization_id) or t.status is TaskStatus.DRAFT:
            continue
        if t.published_at and t.published_at >= period.posted_since:
            out[("tasks", t.status.value)] += 1
        if t.status is TaskStatus.OPEN:
            days = (period.now - t.published_at).days
            out[("open_age", "lt7" if days < 7 else "7to30" if days < 30 else "gt30")] += 1
            for s in db.session.scalars(select(TaskSkill).where(TaskSkill.task_id == t.id, TaskSkill.required)):
                out[("missing", str(s.skill_id))] += 1
    return {k: v for k, v in out.items() if v}


def shown(figures) -> dict[tuple[str, str], float]:
    venue_metrics = ("venue_hours", "venue_month", "venue_open", "venue_month_open", "theme_day")   # tested apart
    return {k: v for k, v in figures.values.items() if v and k[0] not in venue_metrics}


def of_child(figures: dict) -> dict:
    """What the ranking tables read of each unit under the one on the page."""
    return {k: v for k, v in figures.items() if k[0] in CHILD_METRICS}


def test_every_figure_matches_the_raw_rows_at_every_level(db, world):
    refresh()
    a = world["branches"][0]
    province = load(Unit(region=db.session.get(Region, "410000")))
    assert shown(province.totals) == expected(db, in_unit=lambda county, org: county.startswith("41"))
    assert {c.name for c in province.children} >= {"郑州市", "南阳市", "济源市"}
    for child in province.children:
        assert shown(child.figures) == of_child(expected(
            db, in_unit=lambda county, org, c=child: county.startswith(c.key[:4]) if c.key != JIYUAN
            else county == JIYUAN)), child.name
    city = load(Unit(region=db.session.get(Region, ZHENGZHOU)))
    assert shown(city.totals) == expected(db, in_unit=lambda county, org: county.startswith("4101"))
    by_code = {c.key: c for c in city.children}
    assert shown(by_code[GUANCHENG].figures) == of_child(expected(db, in_unit=lambda county, org: county == GUANCHENG))
    county = load(Unit(region=db.session.get(Region, GUANCHENG)))
    assert shown(county.totals) == expected(db, in_unit=lambda c, org: c == GUANCHENG)
    for child in county.children:
        assert shown(child.figures) == of_child(expected(db, in_unit=lambda c, org, k=child.key: c == GUANCHENG
                                                         and org == int(k))), child.name
    branch = load(Unit(region=a.region, org=a))
    assert shown(branch.totals) == expected(db, in_unit=lambda c, org: org == a.id)
    assert branch.children == []


def test_the_raw_figures_are_what_the_world_holds(db, world):
    """The independent computation itself, pinned on the seeded world: the active window's first
    day counts and the day before it does not; no-shows and deleted members are not active."""
    refresh()
    guancheng = expected(db, in_unit=lambda c, org: c == GUANCHENG)
    assert guancheng[("members", "")] == 5 and guancheng[("active", "")] == 2
    assert guancheng[("records", "no_show")] == 1 and guancheng[("waiting", "city")] == 1
    assert guancheng[("tasks", "open")] == 1 and guancheng[("tasks", "filled")] == 1


def test_venue_hours_and_theme_days(db, world):
    refresh()
    a, b = world["branches"][:2]
    county = load(Unit(region=db.session.get(Region, GUANCHENG)))
    last = month_key(add_months(local_now().date(), -1))
    this = month_key(local_now().date())
    assert county.totals.get("venue_month", last) == pytest.approx(3)
    assert county.totals.get("venue_month", this) == pytest.approx(2)
    top = county.sections[3].tables[0]
    # The venue has no opening hours: no occupancy, its hours still shown (this month's).
    assert top.rows == [["管城共享家园", "—", "—", "—", "—", "—", "—", "2", "0"]]
    province = load(Unit(region=db.session.get(Region, "410000")))
    assert province.sections[3].tables[0].rows == top.rows
    assert [row[1] for row in province.sections[3].tables[1].rows] == ["0", "0", "0", "0", "3", "2"]
    assert county.totals.get("theme_day", "booked") == 1 and county.totals.get("theme_day", "missing") == 1
    assert load(Unit(region=db.session.get(Region, XICHUAN))).sections[3].tables[0].rows == []
    children = {c.key: c.figures for c in county.children}
    assert children[str(a.id)].get("theme_day", "booked") == 1
    assert children[str(b.id)].get("theme_day", "missing") == 1     # its rejected booking does not count
    assert province.totals.get("theme_day", "missing") == 3        # b, 淅川's and 济源's branches


def _open_hours(db, venue: Venue, first: date) -> float:
    """A venue's open hours in the month starting `first`, from its raw rows: every opening period
    on its weekday, not on a closure day, nor on a holiday when the venue closes on holidays."""
    periods = db.session.scalars(select(OpeningHours).where(OpeningHours.venue_id == venue.id)).all()
    closures = db.session.scalars(select(Closure).where(Closure.venue_id == venue.id)).all()
    total, day = 0.0, first
    while day < add_months(first, 1):
        closed = any(c.first_day <= day <= c.last_day for c in closures) or \
            (venue.closed_on_holidays and public_holiday(day) is not None)
        if not closed:
            total += sum((datetime.combine(day, p.closes) - datetime.combine(day, p.opens)).total_seconds() / 3600
                         for p in periods if p.weekday == day.weekday())
        day += timedelta(days=1)
    return total


def _booked_hours(db, venue: Venue, first: date) -> float:
    start, end = (datetime.combine(d, time()) for d in (first, add_months(first, 1)))
    return sum((o.end_at - o.start_at).total_seconds() / 3600 for o in db.session.scalars(select(BookingOccurrence).where(
        BookingOccurrence.venue_id == venue.id, BookingOccurrence.status == BookingStatus.APPROVED,
        BookingOccurrence.start_at >= start, BookingOccurrence.start_at < end)))


def _pct(booked: float, open_hours: float) -> str:
    return f"{booked / open_hours * 100:.1f}%" if open_hours else "—"


@pytest.fixture
def venues(db, world):
    """Opening hours for the world's venue (weekdays, two periods, closed on holidays) with a
    closure last month; a Saturday-morning venue that opens on holidays, with an approved and a
    pending booking this month; a venue in 淅川 with hours and a booking."""
    home, community, d = world["venue"], world["branches"][2], world["branches"][3]
    today = local_now().date()
    for weekday in range(5):
        home.hours.append(OpeningHours(weekday=weekday, opens=time(8, 30), closes=time(11, 30)))
        home.hours.append(OpeningHours(weekday=weekday, opens=time(14, 30), closes=time(17, 30)))
    last = add_months(today, -1)
    db.session.add(Closure(venue_id=home.id, first_day=last + timedelta(days=2), last_day=last + timedelta(days=6),
                           reason="设备维修"))
    saturday = Venue(name="管城老党员之家", kind=VenueKind.SHARED_HOME, operator=community, region_code=GUANCHENG,
                     address="北大街", lat=34.7, lon=113.6, capacity=20, closed_on_holidays=False)
    saturday.hours.append(OpeningHours(weekday=5, opens=time(9), closes=time(12)))
    far = Venue(name="淅川政治生活馆", kind=VenueKind.POLITICAL_LIFE_HALL, operator=d, region_code=XICHUAN,
                address="城关", lat=33.1, lon=111.5, capacity=30)
    far.hours.append(OpeningHours(weekday=2, opens=time(9), closes=time(11)))
    db.session.add_all([saturday, far])
    db.session.flush()
    first = datetime.combine(month_start(today), time(9))
    for venue, org, hours, status in [(saturday, community, 3, BookingStatus.APPROVED),
                                      (saturday, community, 1, BookingStatus.PENDING),
                                      (far, d, 2, BookingStatus.APPROVED)]:
        start = first + timedelta(days=7 if status is BookingStatus.PENDING else 0)
        booking = Booking(venue_id=venue.id, organization_id=org.id, title="活动", activity=ActivityType.MICRO_LECTURE,
                          attendees=10, status=status)
        booking.occurrences.append(BookingOccurrence(venue_id=venue.id, start_at=start,
                                                     end_at=start + timedelta(hours=hours), status=status))
        db.session.add(booking)
    db.session.commit()
    return {"home": home, "saturday": saturday, "far": far}


def test_venue_occupancy_matches_the_raw_rows(db, world, venues):
    """Open hours, booked hours and occupancy by venue and month, recomputed from the venues'
    opening hours, closures, holidays and bookings, at the county and the province, in the table,
    the chart and the summary; 淅川's venue counts in 淅川 only."""
    refresh()
    today = local_now().date()
    months = [add_months(today, -i) for i in range(5, -1, -1)]
    guancheng = [venues["home"], venues["saturday"]]
    county = load(Unit(region=db.session.get(Region, GUANCHENG)))
    province = load(Unit(region=db.session.get(Region, "410000")))
    for m in months:
        key = month_key(m)
        assert county.totals.get("venue_month_open", key) == pytest.approx(sum(_open_hours(db, v, m) for v in guancheng))
        assert province.totals.get("venue_month_open", key) == pytest.approx(
            sum(_open_hours(db, v, m) for v in [*guancheng, venues["far"]]))
    # The same hours as the booking code's own rules leave free on an empty calendar.
    for venue in guancheng:
        for m in months:
            last_day = add_months(m, 1) - timedelta(days=1)
            rules = venue_rules(venue, m, last_day)
            free = sum((s.end - s.start).total_seconds() / 3600 for i in range((last_day - m).days + 1)
                       for s in rules.free_periods(m + timedelta(days=i), []))
            assert free == pytest.approx(_open_hours(db, venue, m)), (venue.name, m)
    # The closure (five days last month) and holidays are taken out of the home venue's hours.
    assert _open_hours(db, venues["home"], months[-2]) < 6 * sum(
        1 for i in range(31) if (months[-2] + timedelta(days=i)).month == months[-2].month
        and (months[-2] + timedelta(days=i)).weekday() < 5)

    top = county.sections[3].tables[0]
    assert top.head[-2:] == ["本月已批准（小时）", "本月开放（小时）"]
    rows = {r[0]: r for r in top.rows}
    for venue in guancheng:
        assert rows[venue.name][1:7] == [_pct(_booked_hours(db, venue, m), _open_hours(db, venue, m)) for m in months]
    assert rows["管城老党员之家"][6] != "—"                    # 3 of its Saturday hours: shown as a share
    assert "淅川政治生活馆" not in rows
    by_month = county.sections[3].tables[1]
    assert by_month.head == ["月份", "预约时长（小时）", "开放时长（小时）", "占用率"]
    for row, m in zip(by_month.rows, months, strict=True):
        booked = sum(_booked_hours(db, v, m) for v in guancheng)
        open_hours = sum(_open_hours(db, v, m) for v in guancheng)
        assert row[3] == _pct(booked, open_hours)
        assert float(row[2]) == pytest.approx(open_hours)
    chart = by_month.chart
    assert chart is not None and chart.series[0][1][-1] == pytest.approx(
        round(5 / sum(_open_hours(db, v, months[-1]) for v in guancheng) * 100, 1))
    section = county.sections[3]
    assert f"占用率 {by_month.rows[-1][3]}" in section.summary
    assert section.note.startswith("占用率 = 该月已批准预约的时长 ÷ 该月的开放时长")
    assert {r[0] for r in province.sections[3].tables[0].rows} == {"管城共享家园", "管城老党员之家", "淅川政治生活馆"}
    xichuan = load(Unit(region=db.session.get(Region, XICHUAN)))
    assert [r[0] for r in xichuan.sections[3].tables[0].rows] == ["淅川政治生活馆"]


def test_occupancy_is_in_the_page_the_export_and_the_print_view(client, db, login, create_admin, world, venues):
    refresh()
    db.session.commit()
    login(create_admin(GUANCHENG))
    page = client.get(f"/reports/regions/{GUANCHENG}").get_data(as_text=True)
    board = load(Unit(region=db.session.get(Region, GUANCHENG)))
    this_month = board.sections[3].tables[1].rows[-1][3]
    assert "占用率 = 该月已批准预约的时长 ÷ 该月的开放时长" in page and f"<td>{this_month}</td>" in page
    sheet = _sheets(client.get(f"/reports/regions/{GUANCHENG}.xlsx").get_data())["场地与主题党日"]
    assert any(isinstance(c, str) and c.startswith("占用率 = ") for r in sheet for c in r)
    month_rows = [r for r in sheet if r and r[0] == board.sections[3].tables[1].rows[-1][0]]
    assert month_rows[-1][3] == pytest.approx(float(this_month[:-1]) / 100)   # a number, shown as a percentage
    wb = load_workbook(BytesIO(client.get(f"/reports/regions/{GUANCHENG}.xlsx").get_data()))
    assert any(c.number_format == "0.0%" for r in wb["场地与主题党日"].iter_rows() for c in r if isinstance(c.value, float))


def test_a_county_total_row_sums_its_organizations(db, world):
    from app.reports.models import RegionFigure

    refresh()
    rows = db.session.scalars(select(RegionFigure).where(RegionFigure.county_code == GUANCHENG)).all()
    total = {(r.metric, r.key): r.value for r in rows if r.org_id == COUNTY_TOTAL}
    summed: dict = defaultdict(float)
    for r in rows:
        if r.org_id != COUNTY_TOTAL:
            summed[(r.metric, r.key)] += r.value
    assert total == pytest.approx(dict(summed))


def test_small_counts_are_hidden_below_the_county_only(db, world):
    refresh()
    county = load(Unit(region=db.session.get(Region, GUANCHENG)))
    ranking = county.sections[0].tables[0]
    rows = {r[0]: r for r in ranking.rows}
    assert rows["管城一支部"][1] == 3                 # three members: shown
    assert rows["管城二支部"][1] == "<3"              # one member: hidden
    assert ranking.foot[1] == 5                      # the county's own total is not hidden
    chart = ranking.chart
    assert chart.series[0][1][chart.categories.index("管城二支部")] is None   # nor drawn
    b = world["branches"][1]
    org_board = load(Unit(region=b.region, org=b))
    assert org_board.sections[0].summary.startswith("管城二支部登记老同志 <3 人")
    city = load(Unit(region=db.session.get(Region, ZHENGZHOU)))
    assert {r[0]: r for r in city.sections[0].tables[0].rows}["金水区"][1] == 1   # a county: shown


def test_hours_and_shares_of_one_or_two_people_are_hidden_below_the_county(db, world):
    refresh()
    a, _, _, d = world["branches"]
    guancheng = load(Unit(region=db.session.get(Region, GUANCHENG)))
    rows = {r[0]: r for r in guancheng.sections[1].tables[0].rows}
    assert rows["管城一支部"][1] == "<3" and rows["管城一支部"][2] == "—"   # 2 active of 3: neither shown
    assert rows["管城一支部"][3] == "9.5"                                 # three people served: shown
    xichuan = load(Unit(region=db.session.get(Region, XICHUAN)))
    assert {r[0]: r for r in xichuan.sections[1].tables[0].rows}["淅川老党员支部"][3] == "不足3人，不单列"
    assert xichuan.sections[1].tables[1].foot == ["合计", "1.5"]           # the county's own: shown
    branch = load(Unit(region=d.region, org=d))
    hours = branch.sections[1].tables[0]
    assert hours.chart is None and {r[1] for r in hours.rows} == {"不足3人，不单列"}
    assert "服务时长不单列" in branch.sections[1].summary and "1.5" not in branch.sections[1].summary


def test_before_the_first_refresh_the_page_says_so(client, db, login, create_admin):
    login(create_admin(GUANCHENG))
    page = client.get(f"/reports/regions/{GUANCHENG}").get_data(as_text=True)
    assert "统计数据还没有生成" in page


def test_the_page_has_charts_tables_and_summaries_without_inline_script(client, db, login, create_admin, world):
    refresh()
    db.session.commit()
    login(create_admin("410000"))
    response = client.get("/reports/regions/410000")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "数据更新于" in page and "统计期间" in page and "生成时间" in page
    for title in ("入库情况", "服务活跃", "服务需求", "场地与主题党日"):
        assert title in page
    assert "近 90 天内（含今天）至少有一次已确认出勤的志愿服务" in page
    assert 'id="dashboard-charts"' in page and 'type="application/json"' in page
    for tag in page.split("<script")[1:]:
        head = tag.split(">", 1)[0]
        assert "src=" in head or 'type="application/json"' in head, head
    assert "vendor/echarts/echarts.min.js" in page and "http" not in page.split("echarts.min.js")[0][-80:]
    assert client.get("/static/vendor/echarts/echarts.min.js").status_code == 200
    assert client.get("/static/js/dashboard.js").status_code == 200
    assert f'href="/reports/regions/{ZHENGZHOU}"' in page       # drill down into a city


def test_drilling_down_and_out_of_region(client, db, login, create_admin, world):
    refresh()
    db.session.commit()
    a, _, _, d = world["branches"]
    login(create_admin(ZHENGZHOU))
    assert client.get(f"/reports/regions/{GUANCHENG}").status_code == 200
    assert client.get(f"/reports/organizations/{a.id}").status_code == 200
    for path in ("/reports/regions/410000", f"/reports/regions/{XICHUAN}", f"/reports/organizations/{d.id}",
                 "/reports/regions/110101", "/reports/regions/999999", "/reports/regions/x",
                 f"/reports/regions/{XICHUAN}.xlsx", f"/reports/organizations/{d.id}.xlsx",
                 "/reports/organizations/999999"):
        assert client.get(path).status_code == 404, path


def test_members_and_organizers_have_no_dashboard(client, db, login, create_member, create_user, create_org):
    member = create_member()
    login(member.user)
    assert client.get("/reports/").status_code == 403
    assert client.get(f"/reports/regions/{GUANCHENG}").status_code == 403
    assert "银发人才工作统计" not in client.get("/").get_data(as_text=True)


def test_the_home_page_shows_the_admins_own_region(client, db, login, create_admin, world):
    refresh()
    db.session.commit()
    login(create_admin(GUANCHENG))
    page = client.get("/").get_data(as_text=True)
    assert "管城回族区银发人才工作统计" in page and "管城一支部" in page
    assert "淅川" not in page
    assert client.get("/pool/stats").headers["Location"].endswith("/reports/#pool")


def _sheets(body: bytes) -> dict[str, list[list]]:
    wb = load_workbook(BytesIO(body))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_the_export_has_a_sheet_per_section_with_figures_not_formulas(client, db, login, create_admin, world):
    refresh()
    db.session.commit()
    login(create_admin("410000"))
    response = client.get("/reports/regions/410000.xlsx")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheets = _sheets(response.get_data())
    assert list(sheets) == ["入库情况", "服务活跃", "服务需求", "场地与主题党日"]
    cells = [c for rows in sheets.values() for r in rows for c in r if c is not None]
    assert not any(isinstance(c, str) and c.startswith("=") for c in cells)
    pool_rows = {r[0]: r for r in sheets["入库情况"] if r and r[0]}
    assert pool_rows["郑州市"][1] == 6 and pool_rows["合计"][1] == 9
    # The Chinese file name travels as RFC 5987's filename*: gunicorn writes headers as latin-1,
    # so a raw Chinese name there would fail the response in production.
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")
    assert "filename*=UTF-8''" in disposition and quote("统计报表") in disposition


def test_a_county_admins_page_and_export_hold_nothing_of_another_county(client, db, login, create_admin, world):
    refresh()
    db.session.commit()
    login(create_admin(XICHUAN))
    page = client.get("/reports/regions/411326").get_data(as_text=True)
    body = client.get("/reports/regions/411326.xlsx").get_data()
    text = " ".join(str(c) for rows in _sheets(body).values() for r in rows for c in r if c is not None)
    for other in ("管城", "金水", "东大街", "济源", "郑州"):
        assert other not in page and other not in text, other
    assert "淅川老党员支部" in page and "淅川老党员支部" in text
    pool_rows = {r[0]: r for r in _sheets(body)["入库情况"] if r and r[0]}
    assert pool_rows["合计"][1] == 2           # 淅川's two members, nothing of 管城's five


def test_an_admin_of_two_counties_sees_both_on_the_home_page(client, db, login, create_user, world):
    """A county admin of 管城 and 淅川: the home page shows the first (by code) with a switcher
    naming both; the other's dashboard is one click away, and nothing outside the two is."""
    refresh()
    db.session.commit()
    login(create_user(name="两县管理员", roles=[("admin", XICHUAN), ("admin", GUANCHENG)]))
    home = client.get("/").get_data(as_text=True)
    assert "管城回族区银发人才工作统计" in home and 'aria-label="您管理的地区"' in home
    assert "您管理 2 个地区" in home and "郑州市管城回族区（正在查看）" in home
    assert f'<a href="/reports/regions/{XICHUAN}">南阳市淅川县</a>' in home
    other = client.get(f"/reports/regions/{XICHUAN}")
    assert other.status_code == 200
    page = other.get_data(as_text=True)
    assert "淅川县银发人才工作统计" in page and "南阳市淅川县（正在查看）" in page and "淅川老党员支部" in page
    assert f'<a href="/reports/regions/{GUANCHENG}">郑州市管城回族区</a>' in page
    for path in (f"/reports/regions/{JINSHUI}", f"/reports/regions/{ZHENGZHOU}", "/reports/regions/410000",
                 f"/reports/regions/{JIYUAN}", f"/reports/regions/{JINSHUI}.xlsx"):
        assert client.get(path).status_code == 404, path


def test_an_admin_of_a_city_and_a_county_elsewhere_sees_the_city_first(client, db, login, create_user, world):
    refresh()
    db.session.commit()
    login(create_user(name="市县管理员", roles=[("admin", XICHUAN), ("admin", ZHENGZHOU)]))
    home = client.get("/").get_data(as_text=True)
    assert "郑州市银发人才工作统计" in home and "郑州市（正在查看）" in home
    assert f'<a href="/reports/regions/{XICHUAN}">南阳市淅川县</a>' in home
    assert client.get("/reports/").headers["Location"].endswith(f"/reports/regions/{ZHENGZHOU}")
    # Below the city, drilled into, none of the two is the one shown: both are links.
    county = client.get(f"/reports/regions/{GUANCHENG}").get_data(as_text=True)
    assert "（正在查看）" not in county and f'<a href="/reports/regions/{ZHENGZHOU}">郑州市</a>' in county
    assert client.get("/reports/regions/410000").status_code == 404


def test_an_admin_of_one_region_has_no_switcher(client, db, login, create_admin, world):
    refresh()
    db.session.commit()
    login(create_admin(GUANCHENG))
    assert "您管理的地区" not in client.get("/").get_data(as_text=True)
