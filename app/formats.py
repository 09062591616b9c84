"""How dates, times and numbers read, in one place: one format for each kind of date, used by
messages, notifications and (as Jinja filters, registered in app/__init__.py) every template.

    date      2026年12月4日              a calendar day
    day       12月4日                    a day in a list that says its year elsewhere
    weekday   周五                       the day of the week
    month     2026年12月                 a month
    time      9:00                      a time of day
    slot      2026年12月4日（周五）9:00–11:00   a stretch of local time
    instant   2026年12月4日 9:30          a moment something happened (stored in UTC)
    hours     2.5                       hours as people write them
    distance  800 米 / 2.3 公里          how far (app.regions.geo.format_km)
"""

from __future__ import annotations

from datetime import date, datetime, time

from app.clock import LOCAL, WEEKDAYS
from app.regions.geo import format_km


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(LOCAL)
    return f"{value.year}年{value.month}月{value.day}日"


def fmt_day(value: date | None) -> str:
    return "" if value is None else f"{value.month}月{value.day}日"


def fmt_weekday(value: date | None) -> str:
    return "" if value is None else WEEKDAYS[value.weekday()]


def fmt_month(value: date | None) -> str:
    return "" if value is None else f"{value.year}年{value.month}月"


def fmt_time(value: time | datetime | None) -> str:
    return "" if value is None else f"{value.hour}:{value.minute:02d}"


def fmt_slot(start: datetime, end: datetime) -> str:
    """2026年12月4日（周五）9:00–11:00"""
    return f"{fmt_date(start)}（{WEEKDAYS[start.weekday()]}）{fmt_time(start)}–{fmt_time(end)}"


def fmt_instant(value: datetime | None) -> str:
    """An instant in local time: 2026年12月4日 9:30."""
    if value is None:
        return ""
    local = value.astimezone(LOCAL) if value.tzinfo is not None else value
    return f"{fmt_date(local)} {fmt_time(local)}"


def fmt_hours(value: float | int | None) -> str:
    """2.0 → "2", 2.5 → "2.5": hours as people write them."""
    return f"{round(float(value or 0), 2):g}"


FILTERS = {"distance": format_km, "date": fmt_date, "day": fmt_day, "weekday": fmt_weekday, "month": fmt_month, "time": fmt_time, "slot": fmt_slot,
           "instant": fmt_instant, "hours": fmt_hours}
