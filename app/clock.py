"""The one clock, and the names of its days.

Instants are UTC (`utcnow()`, stored by app.db.UTCDateTime). Schedules, sessions and bookings are
wall-clock times in Henan, on China Standard Time (UTC+8 all year, no daylight saving since 1991),
stored without a zone: `local_now()` and `local_today()` give them. Everything that asks what time
it is asks here, so a test fixes the time for the whole application by replacing `datetime` in
this module (see tests/venues/conftest.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")

WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]            # index 0 = Monday
WEEKDAYS_LONG = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
WEEKDAY_DIGITS = ["一", "二", "三", "四", "五", "六", "日"]                 # 每周一、三
PERIODS = ["上午", "下午", "晚上"]     # the parts of a day a member says they are free in


def utcnow() -> datetime:
    """Now, as an aware UTC instant."""
    return datetime.now(UTC)


def local_now() -> datetime:
    """Now, as a naive local wall-clock time (whole seconds), comparable with session times."""
    return datetime.now(LOCAL).replace(tzinfo=None, microsecond=0)


def local_today() -> date:
    return local_now().date()


def local_date(instant: datetime) -> date:
    """The local calendar day of an aware instant (a row's created_at, say)."""
    return instant.astimezone(LOCAL).date()


def to_instant(wall: datetime) -> datetime:
    """The aware instant of a local wall time (for iCalendar and other outside readers)."""
    return wall.replace(tzinfo=LOCAL)


def period_of(moment: datetime) -> int:
    """0 morning, 1 afternoon, 2 evening: by when something starts."""
    if moment.hour < 12:
        return 0
    return 1 if moment.hour < 18 else 2


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, months: int) -> date:
    """The first day of the month `months` after d's month."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)
