"""Counting the dashboards' figures into region_figures, in SQL: every figure is one
INSERT … SELECT … GROUP BY over the underlying rows, per county and organization, then summed
per county (org_id COUNTY_TOTAL), city (CITY_TOTAL) and province (PROVINCE_TOTAL), so that a
dashboard reads its own total and a few figures of each unit under it, never every branch.
Nothing is loaded into Python.

Which county and organization a figure belongs to:
- members, the pool, activity and hours: the member's home county and party branch (0: none);
- needs: the task's county and the organization that posted it;
- venue hours and open hours (occupancy): the venue's county (organization 0);
- the 主题党日 obligation: the party branch's county and the branch.

A refresh counts into a temporary table first and then replaces every row in one short
transaction: readers see the old figures until it commits. The schedule (app.jobs.schedule) and
`flask reports refresh` run refresh_apart(), which counts in a read transaction so that writers
are not held up while it counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Date,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    case,
    cast,
    delete,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import FunctionElement

from app.bookings.models import ActivityType, Booking, BookingHost, BookingOccurrence, BookingStatus
from app.clock import add_months, local_now, month_start, utcnow
from app.db import write_intent
from app.extensions import db
from app.members.models import EntryStatus, MemberProfile, MemberSkill, MemberStatus, PoolEntry, Skill
from app.organizations.models import Organization, OrganizationKind
from app.regions.models import Region, RegionLevel
from app.reports.models import FigureRefresh, RegionFigure
from app.tasks.models import ServiceRecord, Task, TaskSkill, TaskStatus
from app.venues.holidays import public_holiday
from app.venues.models import Closure, OpeningHours, Venue

COUNTY_TOTAL = -1        # org_id of the rows that sum a whole county
CITY_TOTAL = -2          # org_id of the rows that sum a whole city (county_code holds the city's code)
PROVINCE_TOTAL = -3      # and a whole province (county_code holds the province's code)
NO_ORG = 0               # org_id of members without a branch, and of venues

# Active, defined once: shown on the dashboard with these words.
ACTIVE_DAYS = 90
ACTIVE_DEFINITION = f"近 {ACTIVE_DAYS} 天内（含今天）至少有一次已确认出勤的志愿服务"
HOUR_MONTHS = 12         # confirmed hours by month, this month included
VENUE_MONTHS = 6         # venue hours by month, this month included
# Occupancy, defined once: the refresh counts both sums in SQL (venue_month / venue_month_open for
# all venues of a unit, venue_hours / venue_open for one venue), the page divides them; shown with
# these words.
OCCUPANCY_DEFINITION = ("占用率 = 该月已批准预约的时长 ÷ 该月的开放时长。开放时长按场地每周的开放时间逐日相加（整月，"
                        "含尚未到来的日子），扣除闭馆日；节假日闭馆的场地再扣除法定节假日")
PER_VENUE_METRICS = ("venue_hours", "venue_open")   # keyed "venue id:YYYY-MM", summed up to counties only
POSTED_MONTHS = 12       # needs counted when published within this many months
KEEP_DAYS = 30           # refreshes remembered

AGE_BANDS = (("lt60", "60 岁以下"), ("60", "60–64 岁"), ("65", "65–69 岁"), ("70", "70–74 岁"),
             ("75", "75–79 岁"), ("80", "80 岁及以上"), ("unknown", "未填出生年份"))
OPEN_AGES = (("lt7", "不到 7 天"), ("7to30", "7–30 天"), ("gt30", "超过 30 天"))

# Figures summed across organizations and counties, except `since`, which is their minimum.
FIELDS = ["county_code", "org_id", "metric", "key", "value", "since"]


class hours_between(FunctionElement[float]):
    """Hours from the first datetime to the second, in SQL."""

    type = Float()
    inherit_cache = True


@compiles(hours_between, "sqlite")
def _hours_sqlite(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({end}) - julianday({start})) * 24.0)"


@compiles(hours_between, "postgresql")
def _hours_postgresql(element: hours_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 3600.0)"


@dataclass(frozen=True)
class Period:
    """The dates a refresh counts for, fixed once so that every figure agrees."""

    today: date
    now: datetime             # aware UTC

    @property
    def active_since(self) -> date:
        return self.today - timedelta(days=ACTIVE_DAYS - 1)

    def months(self, count: int) -> list[date]:
        """The first days of the last `count` months, oldest first, this month last."""
        return [add_months(self.today, -i) for i in range(count - 1, -1, -1)]

    @property
    def posted_since(self) -> datetime:
        return self.now - timedelta(days=round(POSTED_MONTHS * 365.25 / 12))


def current_period() -> Period:
    return Period(today=local_now().date(), now=utcnow())


def month_key(first: date) -> str:
    return first.strftime("%Y-%m")


def _month_case(column: Any, months: list[date], *, wall_clock: bool = False) -> ColumnElement[str]:
    """'YYYY-MM' of a date (or, wall_clock, a naive local datetime) column, for values inside
    `months` (portable SQL: a CASE over the months' first days, newest first)."""
    whens = [(column >= (datetime.combine(first, datetime.min.time()) if wall_clock else first), month_key(first))
             for first in reversed(months)]
    return case(*whens, else_=literal("", String))


def _text(value: str) -> ColumnElement[str]:
    return literal(value, String)


def _members(period: Period) -> list:
    """Member figures, by the member's county and branch."""
    county, org = MemberProfile.region_code, func.coalesce(MemberProfile.branch_id, NO_ORG)
    counted = MemberProfile.status != MemberStatus.DELETED
    year = period.today.year
    birth = MemberProfile.birth_year
    age = case((birth.is_(None), "unknown"), (birth > year - 60, "lt60"), (birth > year - 65, "60"),
               (birth > year - 70, "65"), (birth > year - 75, "70"), (birth > year - 80, "75"), else_="80")
    capacity = func.coalesce(cast(MemberProfile.capacity, String), _text("none"))
    live = (EntryStatus.APPROVED, EntryStatus.NOMINATED)
    return [
        select(county, org, _text("members"), _text(""), func.count(), null()).where(counted).group_by(county, org),
        select(county, org, _text("age"), age, func.count(), null()).where(counted).group_by(county, org, age),
        select(county, org, _text("capacity"), capacity, func.count(), null()).where(counted)
        .group_by(county, org, capacity),
        # The pool: approved entries as "pool", nominations waiting as "waiting", with the oldest.
        select(county, org, case((PoolEntry.status == EntryStatus.APPROVED, "pool"), else_="waiting"),
               cast(PoolEntry.level, String), func.count(), func.min(PoolEntry.nominated_at))
        .join(PoolEntry, PoolEntry.member_id == MemberProfile.id)
        .where(counted, PoolEntry.status.in_(live))
        .group_by(county, org, PoolEntry.status, PoolEntry.level),
        select(county, org, _text("skill"), cast(Skill.category_id, String),
               func.count(func.distinct(MemberProfile.id)), null())
        .join(MemberSkill, MemberSkill.member_id == MemberProfile.id).join(Skill, Skill.id == MemberSkill.skill_id)
        .where(counted).group_by(county, org, Skill.category_id),
    ]


def _activity(period: Period) -> list:
    """Active members, members who served in the 12 months (so that the hours of one or two people
    can be hidden), confirmed hours by month and the no-show share, by the member's county and branch."""
    county, org = MemberProfile.region_code, func.coalesce(MemberProfile.branch_id, NO_ORG)
    months = period.months(HOUR_MONTHS)
    month = _month_case(ServiceRecord.served_on, months)
    served = ServiceRecord.served_on <= period.today
    outcome = case((ServiceRecord.attended, "attended"), else_="no_show")
    return [
        select(county, org, _text("active"), _text(""), func.count(func.distinct(ServiceRecord.member_id)), null())
        .join(ServiceRecord, ServiceRecord.member_id == MemberProfile.id)
        .where(ServiceRecord.attended, ServiceRecord.served_on >= period.active_since, served)
        .group_by(county, org),
        select(county, org, _text("served"), _text(""), func.count(func.distinct(ServiceRecord.member_id)), null())
        .join(ServiceRecord, ServiceRecord.member_id == MemberProfile.id)
        .where(ServiceRecord.attended, ServiceRecord.served_on >= months[0], served)
        .group_by(county, org),
        select(county, org, _text("hours"), month, func.sum(ServiceRecord.hours), null())
        .join(ServiceRecord, ServiceRecord.member_id == MemberProfile.id)
        .where(ServiceRecord.attended, ServiceRecord.served_on >= months[0], served)
        .group_by(county, org, month),
        select(county, org, _text("records"), outcome, func.count(), null())
        .join(ServiceRecord, ServiceRecord.member_id == MemberProfile.id)
        .where(ServiceRecord.served_on >= period.active_since, served)
        .group_by(county, org, outcome),
    ]


def _needs(period: Period) -> list:
    """Needs by the posting organization: posted in the last 12 months by status, the unfilled
    ones by how long they have waited, and the skills the unfilled ones ask for."""
    county, org = Task.region_code, Task.organization_id
    age = case((Task.published_at >= period.now - timedelta(days=7), "lt7"),
               (Task.published_at >= period.now - timedelta(days=30), "7to30"), else_="gt30")
    return [
        select(county, org, _text("tasks"), cast(Task.status, String), func.count(), null())
        .where(Task.published_at >= period.posted_since, Task.status != TaskStatus.DRAFT)
        .group_by(county, org, Task.status),
        select(county, org, _text("open_age"), age, func.count(), func.min(Task.published_at))
        .where(Task.status == TaskStatus.OPEN).group_by(county, org, age),
        select(county, org, _text("missing"), cast(TaskSkill.skill_id, String), func.count(), null())
        .join(TaskSkill, TaskSkill.task_id == Task.id)
        .where(Task.status == TaskStatus.OPEN, TaskSkill.required).group_by(county, org, TaskSkill.skill_id),
    ]


# The days of the venue months, for counting open hours in SQL: a temporary table of the refreshing
# connection, written from the calendar (no rows are read for it), with Python's weekday (0 = Monday,
# as opening_hours.weekday) and whether the day is a statutory holiday (app.venues.holidays, as the
# booking rules use it).
CALENDAR = Table("venue_calendar_days", MetaData(),
                 Column("day", Date), Column("weekday", Integer), Column("month", String(7)),
                 Column("holiday", Boolean), prefixes=["TEMPORARY"])


def calendar_days(period: Period) -> list[dict[str, Any]]:
    """Every day of the venue months, this month to its last day."""
    first, end = period.months(VENUE_MONTHS)[0], add_months(period.today, 1)
    days = []
    day = first
    while day < end:
        days.append({"day": day, "weekday": day.weekday(), "month": month_key(day),
                     "holiday": public_holiday(day) is not None})
        day += timedelta(days=1)
    return days


def _venue_open() -> list:
    """Open hours by venue and month, and by month for all venues of a county: each opening period
    on each day of its weekday, except the venue's closure days and, for venues closed on holidays,
    statutory holidays (the days app.venues.recurrence.VenueRules refuses)."""
    day = CALENDAR.c
    open_hours = func.sum(hours_between(OpeningHours.opens, OpeningHours.closes))
    is_open = (or_(~Venue.closed_on_holidays, ~day.holiday),
               ~exists().where(Closure.venue_id == Venue.id, Closure.first_day <= day.day, Closure.last_day >= day.day))
    # All venues' open hours by month: summed from the venues' rows already staged (they come first).
    staged = STAGING.c
    month = func.substr(staged.key, func.length(staged.key) - 6)
    return [
        select(Venue.region_code, literal(NO_ORG), _text("venue_open"), cast(Venue.id, String) + _text(":") + day.month,
               open_hours, null())
        .join(OpeningHours, OpeningHours.venue_id == Venue.id).join(CALENDAR, day.weekday == OpeningHours.weekday)
        .where(*is_open).group_by(Venue.region_code, Venue.id, day.month),
        select(staged.county_code, literal(NO_ORG), _text("venue_month_open"), month, func.sum(staged.value), null())
        .where(staged.metric == "venue_open").group_by(staged.county_code, month),
    ]


def _venues(period: Period) -> list:
    """Approved venue hours by venue and month, and by month for all venues, with their open hours;
    party branches with and without a 主题党日 this month."""
    months = period.months(VENUE_MONTHS)
    start = datetime.combine(months[0], datetime.min.time())
    end = datetime.combine(add_months(period.today, 1), datetime.min.time())
    month = _month_case(BookingOccurrence.start_at, months, wall_clock=True)
    venue_key = cast(Venue.id, String) + _text(":") + month
    this_month = datetime.combine(month_start(period.today), datetime.min.time())
    holds = (BookingStatus.PENDING, BookingStatus.APPROVED)
    booked = exists(select(BookingOccurrence.id).join(Booking, Booking.id == BookingOccurrence.booking_id).where(
        Booking.activity == ActivityType.THEME_PARTY_DAY, BookingOccurrence.status.in_(holds),
        BookingOccurrence.start_at >= this_month, BookingOccurrence.start_at < end,
        or_(Booking.organization_id == Organization.id,
            exists(select(BookingHost.id).where(BookingHost.booking_id == Booking.id,
                                                BookingHost.organization_id == Organization.id)))))
    theme = case((booked, "booked"), else_="missing")
    return [
        select(Venue.region_code, literal(NO_ORG), _text("venue_hours"), venue_key,
               func.sum(hours_between(BookingOccurrence.start_at, BookingOccurrence.end_at)), null())
        .join(BookingOccurrence, BookingOccurrence.venue_id == Venue.id)
        .where(BookingOccurrence.status == BookingStatus.APPROVED, BookingOccurrence.start_at >= start,
               BookingOccurrence.start_at < end)
        .group_by(Venue.region_code, Venue.id, month),
        select(Venue.region_code, literal(NO_ORG), _text("venue_month"), month,
               func.sum(hours_between(BookingOccurrence.start_at, BookingOccurrence.end_at)), null())
        .join(BookingOccurrence, BookingOccurrence.venue_id == Venue.id)
        .where(BookingOccurrence.status == BookingStatus.APPROVED, BookingOccurrence.start_at >= start,
               BookingOccurrence.start_at < end)
        .group_by(Venue.region_code, month),
        select(Organization.region_code, Organization.id, _text("theme_day"), theme, literal(1), null())
        .where(Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.active),
        *_venue_open(),
    ]


# Where a refresh counts before the figures are swapped in: a temporary table of the refreshing
# connection (outside the app's metadata, so never in a migration).
STAGING = Table("region_figures_staging", MetaData(),
                Column("county_code", String(6)), Column("org_id", Integer), Column("metric", String(20)),
                Column("key", String(20)), Column("value", Float), Column("since", DateTime(timezone=True)),
                prefixes=["TEMPORARY"])


@dataclass(frozen=True)
class Refreshed:
    rows: int
    seconds: float


def _stage(conn: Connection, period: Period) -> None:
    """Count every figure into the staging table, then each county's total over its organizations
    and each city's and province's over its counties (the oldest `since` kept). Reads the data and writes only
    the connection's temporary table."""
    STAGING.drop(conn, checkfirst=True)
    STAGING.create(conn)
    CALENDAR.drop(conn, checkfirst=True)
    CALENDAR.create(conn)
    conn.execute(insert(CALENDAR), calendar_days(period))
    for stmt in _members(period) + _activity(period) + _needs(period) + _venues(period):
        conn.execute(insert(STAGING).from_select(FIELDS, stmt))
    CALENDAR.drop(conn)
    c = STAGING.c
    conn.execute(insert(STAGING).from_select(FIELDS, select(
        c.county_code, literal(COUNTY_TOTAL), c.metric, c.key, func.sum(c.value), func.min(c.since))
        .where(c.org_id != COUNTY_TOTAL).group_by(c.county_code, c.metric, c.key)))
    city = aliased(Region)
    conn.execute(insert(STAGING).from_select(FIELDS, select(
        Region.parent_code, literal(CITY_TOTAL), c.metric, c.key, func.sum(c.value), func.min(c.since))
        .join(Region, Region.code == c.county_code).join(city, city.code == Region.parent_code)
        .where(c.org_id == COUNTY_TOTAL, city.level == RegionLevel.CITY, c.metric.not_in(PER_VENUE_METRICS))
        .group_by(Region.parent_code, c.metric, c.key)))
    province = func.substr(c.county_code, 1, 2)
    conn.execute(insert(STAGING).from_select(FIELDS, select(
        province + _text("0000"), literal(PROVINCE_TOTAL), c.metric, c.key, func.sum(c.value), func.min(c.since))
        .where(c.org_id == COUNTY_TOTAL, c.metric.not_in(PER_VENUE_METRICS)).group_by(province, c.metric, c.key)))


def _swap(conn: Connection, started: datetime, clock: float) -> Refreshed:
    """Replace region_figures with the staged figures and record the refresh."""
    conn.execute(delete(RegionFigure))
    conn.execute(insert(RegionFigure).from_select(FIELDS, select(*(STAGING.c[name] for name in FIELDS))))
    rows = conn.scalar(select(func.count()).select_from(RegionFigure)) or 0
    STAGING.drop(conn)
    seconds = round(time.perf_counter() - clock, 3)
    conn.execute(insert(FigureRefresh).values(started_at=started, finished_at=utcnow(), seconds=seconds, rows=rows))
    conn.execute(delete(FigureRefresh).where(FigureRefresh.finished_at < started - timedelta(days=KEEP_DAYS)))
    return Refreshed(rows, seconds)


def refresh(period: Period | None = None) -> Refreshed:
    """Count every figure afresh in the caller's transaction (the caller commits). For tests and
    small databases; the schedule runs refresh_apart()."""
    started, clock = utcnow(), time.perf_counter()
    conn = db.session.connection()
    _stage(conn, period or current_period())
    return _swap(conn, started, clock)


def refresh_apart(period: Period | None = None) -> Refreshed:
    """Count every figure afresh on a connection of its own, committed: first in a read
    transaction into the temporary table (at a million members this takes seconds, and writers go
    on meanwhile), then in a short writing transaction that swaps the figures in. On SQLite only
    the swap holds the write lock (taken as it begins: app.db.write_intent)."""
    started, clock = utcnow(), time.perf_counter()
    with db.engine.connect() as conn:
        _stage(conn, period or current_period())
        conn.commit()
        token = write_intent.set(True)
        try:
            done = _swap(conn, started, clock)
            conn.commit()
        finally:
            write_intent.reset(token)
        if conn.dialect.name == "postgresql":
            # Every row was just replaced: the planner's statistics of the table, at once rather than
            # whenever autovacuum comes round (a few tens of milliseconds for ~33,000 rows).
            conn.execute(text("ANALYZE region_figures"))
            conn.commit()
    return done


def last_refresh() -> FigureRefresh | None:
    return db.session.scalar(select(FigureRefresh).order_by(FigureRefresh.finished_at.desc()).limit(1))


