"""Recurrence expansion and a venue's time rules: pure functions, checked with hypothesis against
independent brute-force definitions."""

from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.errors import Invalid
from app.venues.recurrence import Freq, Rule, Slot, VenueRules, expand, monthly_choices, nth_weekday, plan

FIRST_DAY = date(2026, 1, 1)


# --- strategies ----------------------------------------------------------------------------------

quarter_hours = st.integers(min_value=6 * 4, max_value=21 * 4).map(lambda q: time(q // 4, q % 4 * 15))


@st.composite
def periods(draw):
    """0–2 non-overlapping opening periods of a day."""
    marks = sorted(set(draw(st.lists(quarter_hours, min_size=0, max_size=4))))
    if len(marks) % 2:
        marks = marks[:-1]
    return tuple((marks[i], marks[i + 1]) for i in range(0, len(marks), 2))


@st.composite
def venue_rules(draw):
    hours = {d: draw(periods()) for d in range(7)}
    closures = []
    for _ in range(draw(st.integers(0, 4))):
        first = FIRST_DAY + timedelta(days=draw(st.integers(0, 400)))
        closures.append((first, first + timedelta(days=draw(st.integers(0, 20))), "维修"))
    holidays = set(draw(st.lists(st.integers(0, 400), max_size=10)))
    closed_on_holidays = draw(st.booleans())
    return VenueRules(hours={d: p for d, p in hours.items() if p}, closures=tuple(closures),
                      holiday=lambda day: "节日" if (day - FIRST_DAY).days in holidays else None,
                      closed_on_holidays=closed_on_holidays), holidays


@st.composite
def series(draw):
    """A first slot and a rule matching its date."""
    day = FIRST_DAY + timedelta(days=draw(st.integers(0, 300)))
    start_time = draw(quarter_hours)
    start = datetime.combine(day, start_time)
    length = timedelta(minutes=15 * draw(st.integers(1, 12)))
    if start + length > datetime.combine(day, time(23, 59)):
        length = timedelta(minutes=15)
    until = day + timedelta(days=draw(st.integers(0, 200)))
    interval = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["weekly", "month_day", "nth"]))
    if kind == "weekly":
        others = draw(st.sets(st.integers(0, 6), max_size=6))
        rule = Rule(Freq.WEEKLY, until, interval, weekdays=tuple(others | {day.weekday()}))
    elif kind == "month_day":
        rule = Rule(Freq.MONTHLY, until, interval, month_day=day.day)
    else:
        _, nth, weekday = monthly_choices(day)
        rule = Rule(Freq.MONTHLY, until, interval, nth=nth, weekday=weekday)
    return Slot(start, start + length), rule


def brute_force_dates(rule: Rule, first: date) -> list[date]:
    """The rule's dates by its definition, day by day, independently of expand()."""
    found = []
    day = first
    while day <= rule.until:
        if rule.freq is Freq.WEEKLY:
            weeks = ((day - first).days + first.weekday()) // 7  # Monday-to-Sunday weeks since the first
            ok = day.weekday() in rule.weekdays and weeks % rule.interval == 0
        else:
            months = (day.year - first.year) * 12 + day.month - first.month
            if rule.month_day is not None:
                ok = months % rule.interval == 0 and day.day == rule.month_day
            else:
                same = [d for d in (date(day.year, day.month, 1) + timedelta(days=i) for i in range(31))
                        if d.month == day.month and d.weekday() == rule.weekday]
                target = same[rule.nth - 1] if rule.nth > 0 else same[-1]
                ok = months % rule.interval == 0 and day == target
        if ok:
            found.append(day)
        day += timedelta(days=1)
    return found


def inside_hours(slot: Slot, hours) -> bool:
    return any(a <= slot.start.time() and slot.end.time() <= b for a, b in hours.get(slot.start.weekday(), ()))


def in_closure(day: date, rules: VenueRules, holidays: set[int]) -> bool:
    if any(a <= day <= b for a, b, _ in rules.closures):
        return True
    return rules.closed_on_holidays and (day - FIRST_DAY).days in holidays


# --- properties ----------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(series())
def test_expansion_gives_exactly_the_rules_dates_at_the_same_time(case):
    first, rule = case
    slots = expand(rule, first)
    assert [s.start.date() for s in slots] == brute_force_dates(rule, first.start.date())
    assert slots[0] == first
    assert all(s.start.time() == first.start.time() and s.end - s.start == first.end - first.start for s in slots)


@settings(max_examples=300, deadline=None)
@given(series(), venue_rules())
def test_no_free_occurrence_is_outside_opening_hours_or_in_a_closure(case, venue):
    (first, rule), (rules, holidays) = case, venue
    result = plan(expand(rule, first), rules, held=[])
    for slot in result.free:
        assert inside_hours(slot, rules.hours)
        assert not in_closure(slot.start.date(), rules, holidays)
    for slot, _reason in result.refused:
        assert not inside_hours(slot, rules.hours) or in_closure(slot.start.date(), rules, holidays)


@st.composite
def held_slots(draw, around: date):
    held = []
    for i in range(draw(st.integers(0, 12))):
        day = around + timedelta(days=draw(st.integers(0, 200)))
        start = datetime.combine(day, draw(quarter_hours))
        held.append((Slot(start, start + timedelta(minutes=15 * draw(st.integers(1, 16)))), f"预约{i}"))
    return held


@settings(max_examples=300, deadline=None)
@given(st.data(), series(), venue_rules())
def test_skipping_conflicts_never_drops_a_free_date(data, case, venue):
    (first, rule), (rules, holidays) = case, venue
    held = data.draw(held_slots(first.start.date()))
    slots = expand(rule, first)
    result = plan(slots, rules, held)
    # A partition of the series, in order …
    assert sorted(result.free + [s for s, _ in result.refused] + [s for s, _ in result.taken]) == slots
    # … where a date is free exactly when the venue is open and nothing held overlaps it.
    for slot in slots:
        open_then = inside_hours(slot, rules.hours) and not in_closure(slot.start.date(), rules, holidays)
        clash = any(h.start < slot.end and slot.start < h.end for h, _ in held)
        assert (slot in result.free) == (open_then and not clash)
    for slot, blocker in result.taken:
        assert any(h.overlaps(slot) for h, name in held if name == blocker)


@settings(max_examples=200, deadline=None)
@given(series())
def test_a_rule_survives_its_rrule_text(case):
    _, rule = case
    assert Rule.from_rrule(rule.to_rrule()) == rule


# --- examples ------------------------------------------------------------------------------------


def test_first_fridays_of_the_months():
    first = Slot(datetime(2026, 12, 4, 9), datetime(2026, 12, 4, 11))
    rule = Rule(Freq.MONTHLY, date(2027, 4, 30), nth=1, weekday=4)
    assert [s.start.date() for s in expand(rule, first)] == [
        date(2026, 12, 4), date(2027, 1, 1), date(2027, 2, 5), date(2027, 3, 5), date(2027, 4, 2)]
    assert rule.describe() == "每月第一个星期五，到2027年4月30日为止"


def test_every_second_week_on_monday_and_thursday():
    first = Slot(datetime(2026, 11, 30, 9), datetime(2026, 11, 30, 10))
    rule = Rule(Freq.WEEKLY, date(2026, 12, 31), 2, weekdays=(0, 3))
    assert [s.start.day for s in expand(rule, first)] == [30, 3, 14, 17, 28, 31]
    assert rule.to_rrule() == "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH;UNTIL=20261231"


def test_the_31st_is_left_out_of_short_months():
    first = Slot(datetime(2027, 1, 31, 9), datetime(2027, 1, 31, 10))
    rule = Rule(Freq.MONTHLY, date(2027, 5, 31), month_day=31)
    assert [s.start.month for s in expand(rule, first)] == [1, 3, 5]


def test_last_weekday_and_fifth_weekday():
    assert nth_weekday(2026, 12, -1, 4) == date(2026, 12, 25)
    assert nth_weekday(2026, 12, 4, 4) == date(2026, 12, 25)
    assert monthly_choices(date(2026, 10, 30)) == (30, -1, 4)  # the fifth Friday counts as the last


def test_a_first_date_the_rule_does_not_give_is_refused():
    first = Slot(datetime(2026, 12, 1, 9), datetime(2026, 12, 1, 10))  # a Tuesday
    with pytest.raises(Invalid):
        expand(Rule(Freq.WEEKLY, date(2026, 12, 31), weekdays=(4,)), first)


@pytest.mark.parametrize("kwargs", [
    dict(freq=Freq.WEEKLY, weekdays=()), dict(freq=Freq.WEEKLY, weekdays=(7,)),
    dict(freq=Freq.MONTHLY), dict(freq=Freq.MONTHLY, month_day=32), dict(freq=Freq.MONTHLY, nth=5, weekday=1),
    dict(freq=Freq.WEEKLY, weekdays=(1,), interval=0),
])
def test_malformed_rules_are_refused(kwargs):
    with pytest.raises(Invalid):
        Rule(until=date(2027, 1, 1), **kwargs)


def test_back_to_back_slots_do_not_overlap_and_free_time_is_what_is_left():
    rules = VenueRules(hours={4: ((time(8, 30), time(11, 30)), (time(14, 30), time(17, 30)))})
    day = date(2026, 12, 4)
    taken = [Slot(datetime(2026, 12, 4, 9), datetime(2026, 12, 4, 10)),
             Slot(datetime(2026, 12, 4, 10), datetime(2026, 12, 4, 11))]
    assert not taken[0].overlaps(taken[1])
    assert rules.free_periods(day, taken) == [
        Slot(datetime(2026, 12, 4, 8, 30), datetime(2026, 12, 4, 9)),
        Slot(datetime(2026, 12, 4, 11), datetime(2026, 12, 4, 11, 30)),
        Slot(datetime(2026, 12, 4, 14, 30), datetime(2026, 12, 4, 17, 30))]
