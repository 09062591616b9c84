"""Venue time: naive wall-clock times in Asia/Shanghai (UTC+8 all year, no daylight saving).

Bookings belong to a place's calendar, so their start and end are stored as the local wall time
(app.db.LocalDateTime) and compared as half-open intervals [start, end). China has had no DST
since 1991, so a naive local time names exactly one instant and converting is a fixed offset.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")
WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
WEEKDAYS_LONG = ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]


def local_now() -> datetime:
    """The current local wall time, naive. Tests replace this function to fix the clock."""
    return datetime.now(LOCAL).replace(tzinfo=None, microsecond=0)


def to_instant(wall: datetime) -> datetime:
    """The timezone-aware instant of a local wall time (for iCalendar and other outside readers)."""
    return wall.replace(tzinfo=LOCAL)


def fmt_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def fmt_time(t: time | datetime) -> str:
    return f"{t.hour}:{t.minute:02d}"


def fmt_slot(start: datetime, end: datetime) -> str:
    """2026年12月4日（周五）9:00–11:00"""
    return f"{fmt_date(start.date())}（{WEEKDAYS[start.weekday()]}）{fmt_time(start)}–{fmt_time(end)}"


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, months: int) -> date:
    """The first day of the month `months` after d's month."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())
