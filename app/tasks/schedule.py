"""Task schedules expanded into sessions. Pure: dates and times in, local datetimes out."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

MAX_SESSIONS = 120
MAX_SPAN_DAYS = 366


class ScheduleError(ValueError):
    """A schedule that cannot be turned into sessions; the message is Chinese."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def expand_once(on: date, start: time, end: time) -> list[tuple[datetime, datetime]]:
    if end <= start:
        raise ScheduleError("结束时间要晚于开始时间", "end_time")
    return [(datetime.combine(on, start), datetime.combine(on, end))]


def expand_weekly(first: date, last: date, weekdays: int, start: time, end: time) -> list[tuple[datetime, datetime]]:
    """Every chosen weekday (bit 0 = Monday) from `first` to `last`, inclusive."""
    if end <= start:
        raise ScheduleError("结束时间要晚于开始时间", "end_time")
    if last < first:
        raise ScheduleError("结束日期不能早于开始日期", "last_date")
    if (last - first).days > MAX_SPAN_DAYS:
        raise ScheduleError("每周固定的服务最长安排一年", "last_date")
    if not weekdays & 0b1111111:
        raise ScheduleError("请选择每周哪几天", "weekdays")
    sessions = []
    day = first
    while day <= last:
        if weekdays & (1 << day.weekday()):
            sessions.append((datetime.combine(day, start), datetime.combine(day, end)))
        day += timedelta(days=1)
    if not sessions:
        raise ScheduleError("这段日期里没有所选的星期几", "weekdays")
    if len(sessions) > MAX_SESSIONS:
        raise ScheduleError(f"最多安排 {MAX_SESSIONS} 次，请缩短日期范围", "last_date")
    return sessions


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]
