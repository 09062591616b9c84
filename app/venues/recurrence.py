"""Recurrence and a venue's time rules, as pure functions (no database), so that they can be
tested exhaustively with hypothesis.

All times are naive local wall times (see app/clock.py); intervals are half-open [start, end), so
back-to-back slots (9:00–10:00 and 10:00–11:00) do not overlap.

A series is described by a `Rule` (weekly: every N weeks on chosen weekdays; monthly: day N of
every N months, or the n-th weekday such as the first Friday) and stored as an RFC 5545 RRULE
text. `expand()` lists its slots from the first one up to a last date; `plan()` sorts slots into
free ones, ones the venue refuses (closed, outside opening hours) and ones already taken.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Generic, NamedTuple, TypeVar

from app.clock import WEEKDAYS, WEEKDAYS_LONG
from app.errors import Invalid
from app.formats import fmt_date, fmt_time

MAX_OCCURRENCES = 400  # a weekly series over a year with every weekday stays below this
ICAL_DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
NTH_LABELS = {1: "第一个", 2: "第二个", 3: "第三个", 4: "第四个", -1: "最后一个"}


class Slot(NamedTuple):
    start: datetime
    end: datetime

    def overlaps(self, other: Slot) -> bool:
        return self.start < other.end and other.start < self.end


class Freq(enum.Enum):
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"


@dataclass(frozen=True)
class Rule:
    """How a series repeats. Exactly one of: weekdays (weekly), month_day, or (nth, weekday)."""

    freq: Freq
    until: date
    interval: int = 1
    weekdays: tuple[int, ...] = ()      # weekly: 0 = Monday … 6 = Sunday
    month_day: int | None = None        # monthly: day 1–31 (months without that day are left out)
    nth: int | None = None              # monthly: 1–4, or -1 for the last
    weekday: int | None = None          # monthly: with nth

    def __post_init__(self):
        if not 1 <= self.interval <= 12:
            raise Invalid("重复间隔应在 1 到 12 之间", field="interval")
        if self.freq is Freq.WEEKLY:
            if not self.weekdays or any(d not in range(7) for d in self.weekdays):
                raise Invalid("请选择每周哪几天", field="weekdays")
            object.__setattr__(self, "weekdays", tuple(sorted(set(self.weekdays))))
            if self.month_day is not None or self.nth is not None:
                raise Invalid("每周重复不需要选择日期")
        else:
            by_day = self.month_day is not None
            by_weekday = self.nth is not None and self.weekday is not None
            if by_day == by_weekday or self.weekdays:
                raise Invalid("请选择每月的哪一天", field="monthly")
            if self.month_day is not None and not 1 <= self.month_day <= 31:
                raise Invalid("每月的日期应在 1 到 31 之间", field="monthly")
            if by_weekday and (self.nth not in NTH_LABELS or self.weekday not in range(7)):
                raise Invalid("请选择每月的第几个星期几", field="monthly")

    @property
    def by_weekday(self) -> tuple[int, int]:
        """(n, weekday) of a monthly rule by weekday, e.g. (1, 4): the first Friday."""
        assert self.nth is not None and self.weekday is not None, "a monthly rule by day of the month"
        return self.nth, self.weekday

    # --- RFC 5545 text, for storage --------------------------------------------------------

    def to_rrule(self) -> str:
        parts = [f"FREQ={self.freq.value}", f"INTERVAL={self.interval}"]
        if self.freq is Freq.WEEKLY:
            parts.append("BYDAY=" + ",".join(ICAL_DAYS[d] for d in self.weekdays))
        elif self.month_day is not None:
            parts.append(f"BYMONTHDAY={self.month_day}")
        else:
            nth, weekday = self.by_weekday
            parts.append(f"BYDAY={nth}{ICAL_DAYS[weekday]}")
        parts.append(f"UNTIL={self.until:%Y%m%d}")
        return ";".join(parts)

    @classmethod
    def from_rrule(cls, text: str) -> Rule:
        values = dict(part.split("=", 1) for part in text.split(";"))
        until = datetime.strptime(values["UNTIL"][:8], "%Y%m%d").date()
        freq = Freq(values["FREQ"])
        interval = int(values.get("INTERVAL", "1"))
        if freq is Freq.WEEKLY:
            return cls(freq, until, interval, weekdays=tuple(ICAL_DAYS.index(d) for d in values["BYDAY"].split(",")))
        if "BYMONTHDAY" in values:
            return cls(freq, until, interval, month_day=int(values["BYMONTHDAY"]))
        by_day = values["BYDAY"]
        return cls(freq, until, interval, nth=int(by_day[:-2]), weekday=ICAL_DAYS.index(by_day[-2:]))

    # --- in words ---------------------------------------------------------------------------

    def describe(self) -> str:
        """每 2 周的周一、周四，到 2027年3月1日"""
        if self.freq is Freq.WEEKLY:
            every = "每周" if self.interval == 1 else f"每 {self.interval} 周的"
            what = every + "、".join(WEEKDAYS[d] for d in self.weekdays)
        else:
            every = "每月" if self.interval == 1 else f"每 {self.interval} 个月的"
            if self.month_day is not None:
                what = f"{every}{self.month_day} 日"
            else:
                nth, weekday = self.by_weekday
                what = f"{every}{NTH_LABELS[nth]}{WEEKDAYS_LONG[weekday]}"
        return f"{what}，到{fmt_date(self.until)}为止"

    def matches(self, day: date, first: date) -> bool:
        """Is `day` (on or after the first date) one of the rule's dates?"""
        if day < first or day > self.until:
            return False
        if self.freq is Freq.WEEKLY:
            weeks = ((day - timedelta(days=day.weekday())) - (first - timedelta(days=first.weekday()))).days // 7
            return weeks % self.interval == 0 and day.weekday() in self.weekdays
        months = (day.year - first.year) * 12 + day.month - first.month
        if months % self.interval:
            return False
        if self.month_day is not None:
            return day.day == self.month_day
        return day == nth_weekday(day.year, day.month, *self.by_weekday)


def nth_weekday(year: int, month: int, nth: int, weekday: int) -> date | None:
    """The n-th (1–4, or -1 for the last) given weekday of a month: the first Friday of Dec 2026
    is 2026-12-04."""
    if nth > 0:
        first = date(year, month, 1)
        day = first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))
        return day if day.month == month else None
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def monthly_choices(day: date) -> tuple[int, int, int]:
    """The ways a monthly series can start on `day`: (day of month, n-th, weekday). The n-th is
    -1 when the day is the last such weekday of its month and the fifth (there is no "fifth")."""
    nth = (day.day - 1) // 7 + 1
    if nth > 4:
        nth = -1
    return day.day, nth, day.weekday()


def expand(rule: Rule | None, first: Slot) -> list[Slot]:
    """The slots of a series: the first one, then every date the rule gives up to rule.until,
    each at the same time of day and with the same length. Without a rule: the first slot."""
    if rule is None:
        return [first]
    if not rule.matches(first.start.date(), first.start.date()):
        raise Invalid("第一次活动的日期不符合所选的重复方式，请重新选择", field="weekdays"
                      if rule.freq is Freq.WEEKLY else "monthly")
    length = first.end - first.start
    start_time = first.start.time()
    first_day = first.start.date()
    days: list[date] = []
    if rule.freq is Freq.WEEKLY:
        week = first_day - timedelta(days=first_day.weekday())
        while week <= rule.until:
            days += [week + timedelta(days=d) for d in rule.weekdays]
            week += timedelta(weeks=rule.interval)
    else:
        year, month = first_day.year, first_day.month
        while date(year, month, 1) <= rule.until:
            if rule.month_day is not None:
                try:
                    days.append(date(year, month, rule.month_day))
                except ValueError:  # no 31st in this month: left out, as RFC 5545 does
                    pass
            else:
                day = nth_weekday(year, month, *rule.by_weekday)
                if day is not None:
                    days.append(day)
            month += rule.interval
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    slots = []
    for day in sorted(days):
        if first_day <= day <= rule.until:
            start = datetime.combine(day, start_time)
            slots.append(Slot(start, start + length))
    if len(slots) > MAX_OCCURRENCES:
        raise Invalid(f"重复次数太多（{len(slots)} 次），请缩短截止日期", field="until")
    return slots


# --- a venue's time rules ------------------------------------------------------------------


class Refusal(enum.Enum):
    CLOSED = "closed"        # a closure or a public holiday
    HOURS = "hours"          # outside opening hours
    SHAPE = "shape"          # ends before it starts, or spans midnight


Periods = tuple[tuple[time, time], ...]


@dataclass(frozen=True)
class VenueRules:
    """What a venue allows, as plain data: opening periods per weekday, closures (inclusive date
    ranges with a reason) and whether it closes on public holidays."""

    hours: dict[int, Periods]
    closures: tuple[tuple[date, date, str], ...] = ()
    holiday: Callable[[date], str | None] = field(default=lambda d: None)
    closed_on_holidays: bool = True

    def closed_because(self, day: date) -> str | None:
        for first, last, reason in self.closures:
            if first <= day <= last:
                return f"{fmt_date(day)}场地闭馆（{reason}）"
        if self.closed_on_holidays:
            name = self.holiday(day)
            if name:
                return f"{fmt_date(day)}是法定节假日（{name}），场地不开放"
        return None

    def hours_text(self, weekday: int) -> str:
        periods = self.hours.get(weekday, ())
        if not periods:
            return f"{WEEKDAYS[weekday]}不开放"
        return f"{WEEKDAYS[weekday]}的开放时间是 " + "、".join(f"{fmt_time(a)}–{fmt_time(b)}" for a, b in periods)

    def refusal(self, slot: Slot) -> tuple[Refusal, str] | None:
        """Why the venue cannot hold this slot, or None when it can."""
        if slot.end <= slot.start:
            return Refusal.SHAPE, "结束时间要晚于开始时间"
        if slot.end.date() != slot.start.date():
            return Refusal.SHAPE, "活动要在当天结束"
        closed = self.closed_because(slot.start.date())
        if closed:
            return Refusal.CLOSED, closed
        start, end = slot.start.time(), slot.end.time()
        if not any(opens <= start and end <= closes for opens, closes in self.hours.get(slot.start.weekday(), ())):
            return Refusal.HOURS, f"不在开放时间内：{self.hours_text(slot.start.weekday())}"
        return None

    def free_periods(self, day: date, taken: Sequence[Slot]) -> list[Slot]:
        """The open time of a day not covered by the taken slots (empty when closed)."""
        if self.closed_because(day):
            return []
        free = []
        for opens, closes in self.hours.get(day.weekday(), ()):
            cursor = datetime.combine(day, opens)
            period_end = datetime.combine(day, closes)
            for t in sorted(taken):
                if t.end <= cursor or t.start >= period_end:
                    continue
                if t.start > cursor:
                    free.append(Slot(cursor, t.start))
                cursor = max(cursor, t.end)
            if cursor < period_end:
                free.append(Slot(cursor, period_end))
        return free


    def nearest_free(self, wanted: Slot, taken: Sequence[Slot], *, limit: int = 3,
                     step: timedelta = timedelta(minutes=15)) -> list[Slot]:
        """Slots as long as `wanted`, on its day, that the venue allows and nobody holds: the
        `limit` starting nearest to it (on the quarter hour), in the order of the day."""
        length = wanted.end - wanted.start
        found = []
        for period in self.free_periods(wanted.start.date(), taken):
            start = period.start
            while start + length <= period.end:
                found.append(Slot(start, start + length))
                start += step
        found.sort(key=lambda s: (abs(s.start - wanted.start), s.start))
        return sorted(found[:limit])


T = TypeVar("T")


@dataclass
class Plan(Generic[T]):
    """A series sorted out against a venue: what can be booked, what the venue refuses, and
    what another booking already holds (with that booking, to name it)."""

    free: list[Slot]
    refused: list[tuple[Slot, str]]
    taken: list[tuple[Slot, T]]


def plan(slots: Sequence[Slot], rules: VenueRules, held: Sequence[tuple[Slot, T]]) -> Plan[T]:
    """Sort slots into free, refused and taken. Every slot lands in exactly one list; a slot is
    free exactly when the venue allows it and no held slot overlaps it."""
    result: Plan[T] = Plan([], [], [])
    for slot in slots:
        refusal = rules.refusal(slot)
        if refusal is not None:
            result.refused.append((slot, refusal[1]))
            continue
        blocker = next((item for held_slot, item in held if held_slot.overlaps(slot)), None)
        if blocker is not None:
            result.taken.append((slot, blocker))
        else:
            result.free.append(slot)
    return result
