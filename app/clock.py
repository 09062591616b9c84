"""Local time. Henan is on China Standard Time (UTC+8, no daylight saving): schedules, sessions and
bookings are wall-clock times there, stored without a zone; instants are UTC (app.db.UTCDateTime)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


def local_now() -> datetime:
    """Now, as a naive local wall-clock time, comparable with session times."""
    return datetime.now(LOCAL).replace(tzinfo=None, microsecond=0)


def local_today() -> date:
    return local_now().date()
