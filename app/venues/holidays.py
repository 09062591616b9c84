"""China's statutory public holidays, from the chinese-calendar package (offline, maintained).

The package knows each year once the State Council has published its holiday schedule (usually in
November for the next year). For a year it does not know yet we cannot say which days are
holidays: such days count as ordinary days, and the calendars say that the schedule is not out yet.
Upgrading the package brings the new year in.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import chinese_calendar


@lru_cache(maxsize=4096)
def public_holiday(day: date) -> str | None:
    """The Chinese name of the statutory holiday on this day (国庆节), or None. Weekends are not
    holidays here (opening hours say whether a venue opens on Saturdays); in-lieu workdays (调休
    上班日) are ordinary days."""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # a year the package has no schedule for
        return None
    if not on_holiday or name is None:
        return None
    try:
        return chinese_calendar.Holiday(name).chinese
    except ValueError:
        return name


def schedule_known(year: int) -> bool:
    """Does the package hold the official holiday schedule of this year?"""
    try:
        chinese_calendar.get_holiday_detail(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True
