"""Booking use cases: every rule and every failure path, with the database left as it was."""

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from app.bookings import calendars
from app.bookings import services as bookings
from app.bookings.models import ActivityType, Booking, BookingOccurrence, BookingStatus
from app.errors import Conflict, Invalid, PermissionDenied
from app.notifications.models import Notification
from app.venues import services
from app.venues.models import Facility
from app.venues.recurrence import Freq, Rule
from tests.venues.conftest import at


def counts(db):
    return (db.session.scalar(select(func.count()).select_from(Booking)),
            db.session.scalar(select(func.count()).select_from(BookingOccurrence)))


def test_a_booking_holds_its_slot_as_pending(db, create_venue, book):
    venue = create_venue()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 11:00")
    assert booking.status is BookingStatus.PENDING
    assert [(o.start_at, o.end_at, o.status) for o in booking.occurrences] == [
        (datetime(2026, 9, 4, 9), datetime(2026, 9, 4, 11), BookingStatus.PENDING)]
    assert booking.hosts[0].attendees == 12 and booking.attendees == 12


def test_an_overlapping_booking_is_a_conflict_naming_the_holder(db, create_venue, book, branch):
    venue = create_venue()
    org, organizer = branch(name="东关南里社区离退休干部党支部")
    book(venue, "2026-09-04 09:00", "2026-09-04 11:00", org=org, actor=organizer, title="重温入党誓词")
    before = counts(db)
    with pytest.raises(Conflict) as e:   # the holder's own branch sees which of its bookings is in the way
        book(venue, "2026-09-04 10:30", "2026-09-04 11:30", org=org, actor=organizer)
    assert "2026年9月4日（周五）9:00–11:00「重温入党誓词」（东关南里社区离退休干部党支部）" in e.value.message
    assert e.value.status == 409
    db.session.rollback()
    assert counts(db) == before


def test_another_branch_learns_only_when_the_time_is_taken(db, create_venue, book, branch):
    """As in the week calendar (已被预约): another branch's title and name are not theirs to read."""
    venue = create_venue()
    org, organizer = branch(name="东关南里社区离退休干部党支部")
    book(venue, "2026-09-04 09:00", "2026-09-04 11:00", org=org, actor=organizer, title="重温入党誓词")
    before = counts(db)
    with pytest.raises(Conflict) as e:
        book(venue, "2026-09-04 10:30", "2026-09-04 11:30")
    assert "已被预约：2026年9月4日（周五）9:00–11:00" in e.value.message
    assert "重温入党誓词" not in e.value.message and "东关南里" not in e.value.message
    assert e.value.status == 409
    db.session.rollback()
    assert counts(db) == before


def test_back_to_back_bookings_are_allowed(db, create_venue, book):
    venue = create_venue()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    book(venue, "2026-09-04 10:00", "2026-09-04 11:00")
    book(venue, "2026-09-04 08:30", "2026-09-04 09:00")
    assert bookings.count_slot_holding(venue.id) == 3


def test_the_same_time_at_another_venue_is_fine(db, create_venue, book):
    book(create_venue(), "2026-09-04 09:00", "2026-09-04 10:00")
    book(create_venue(), "2026-09-04 09:00", "2026-09-04 10:00")


@pytest.mark.parametrize("start,end,kw,field,message", [
    ("2026-09-04 10:00", "2026-09-04 09:00", {}, "end", "结束时间要晚于开始时间"),
    ("2026-09-04 10:00", "2026-09-04 10:00", {}, "end", "结束时间要晚于开始时间"),
    ("2026-09-04 09:00", "2026-09-04 10:00", {"attendees": 0}, "attendees", "参加人数至少 1 人"),
    ("2026-09-04 09:00", "2026-09-04 10:00", {"attendees": 10_000}, "attendees", "参加人数 10000 人超过了场地容量 40 人"),
    ("2026-09-04 07:00", "2026-09-04 09:00", {}, "start", "不在开放时间内：周五的开放时间是 8:30–11:30、14:30–17:30"),
    ("2026-09-04 11:00", "2026-09-04 15:00", {}, "start", "不在开放时间内"),
    ("2026-09-06 09:00", "2026-09-06 10:00", {}, "start", "周日不开放"),
    ("2026-10-02 09:00", "2026-10-02 10:00", {}, "date", "2026年10月2日是法定节假日（国庆节），场地不开放"),
    ("2026-08-31 09:00", "2026-08-31 10:00", {}, "date", "不能预约已经过去的时间"),
    ("2026-09-01 14:30", "2026-09-01 15:00", {}, "date", "需要至少提前 24 小时预约"),
    ("2026-12-04 09:00", "2026-12-04 10:00", {}, "date", "只接受 90 天以内的预约（到2026年11月30日为止）"),
    ("2026-09-04 09:00", "2026-09-05 10:00", {}, "end", "活动要在当天结束"),
    ("2026-09-04 09:00", "2026-09-04 10:00", {"title": "  "}, "title", "请填写活动主题"),
])
def test_bad_requests_are_refused_with_a_clear_message_and_change_nothing(
        db, create_venue, book, start, end, kw, field, message):
    venue = create_venue(capacity=40)
    before = counts(db)
    with pytest.raises(Invalid) as e:
        book(venue, start, end, **kw)
    assert message in e.value.message and e.value.field == field
    db.session.rollback()
    assert counts(db) == before


def test_a_repair_closure_is_refused(db, create_venue, book, create_admin):
    venue = create_venue()
    services.add_closure(actor=create_admin("410104"), venue=venue, first_day=date(2026, 9, 14),
                         last_day=date(2026, 9, 18), reason="空调维修")
    with pytest.raises(Invalid, match="2026年9月16日场地闭馆（空调维修）"):
        book(venue, "2026-09-16 09:00", "2026-09-16 10:00")


def test_a_venue_open_on_holidays_takes_bookings_then(db, create_venue, book):
    venue = create_venue()
    venue.closed_on_holidays = False
    db.session.commit()
    book(venue, "2026-10-02 09:00", "2026-10-02 10:00")


def test_only_the_branchs_organizers_may_book_for_it(db, create_venue, branch, clock):
    venue = create_venue()
    org, _ = branch()
    _, stranger = branch()
    with pytest.raises(PermissionDenied):
        bookings.book_venue(actor=stranger, request=bookings.BookingRequest(
            venue=venue, organization=org, start=at("2026-09-04 09:00"), end=at("2026-09-04 10:00"),
            activity=ActivityType.OTHER, title="会", attendees=5))


def test_an_inactive_venue_takes_no_bookings(db, create_venue, book):
    with pytest.raises(Invalid, match="暂停"):
        book(create_venue(active=False), "2026-09-04 09:00", "2026-09-04 10:00")


# --- packages ------------------------------------------------------------------------------------


def test_a_package_must_fit_duration_size_and_facilities(db, create_venue, create_package, book):
    venue = create_venue(facilities=(Facility.ACCESSIBLE_ENTRANCE,))
    film = create_package(name="红色观影", minutes=120, max_participants=30, needs=(Facility.PROJECTOR,))
    oath = create_package(name="重温入党誓词", minutes=60, max_participants=20)
    other_venues = create_package(venue=create_venue(), name="别馆套餐")
    with pytest.raises(Invalid, match="本场地没有投影仪，不能安排「红色观影」"):
        book(venue, "2026-09-04 09:00", "2026-09-04 11:00", package=film)
    with pytest.raises(Invalid, match="「重温入党誓词」需要 1 小时，所选时间只有 30 分钟") as e:
        book(venue, "2026-09-04 09:00", "2026-09-04 09:30", package=oath)
    assert e.value.field == "end"
    with pytest.raises(Invalid, match="最多 20 人参加，现在是 25 人"):
        book(venue, "2026-09-04 09:00", "2026-09-04 10:00", package=oath, attendees=25)
    with pytest.raises(Invalid, match="本场地不提供"):
        book(venue, "2026-09-04 09:00", "2026-09-04 10:00", package=other_venues)
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:30", package=oath, attendees=20)
    assert booking.package is oath
    assert [p.name for p in services.packages_for(venue)] == ["重温入党誓词"]


# --- joint bookings ------------------------------------------------------------------------------


def test_a_joint_booking_sums_the_branches_attendees_against_capacity(db, create_venue, book, branch):
    venue = create_venue(capacity=40)
    org, organizer = branch()
    partner, _ = branch(name="锦绣江南小区离退休干部党支部")
    with pytest.raises(Invalid, match="参加人数 45 人（各支部合计）超过了场地容量 40 人"):
        book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer, attendees=20,
             co_hosts=[bookings.CoHost(partner, 25)])
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer, attendees=20,
                   co_hosts=[bookings.CoHost(partner, 20)])
    assert booking.attendees == 40 and booking.lead_attendees == 20
    assert [h.organization.name for h in booking.co_hosts] == ["锦绣江南小区离退休干部党支部"]
    assert booking in calendars.organization_bookings(organization=partner)


def test_co_hosts_must_be_other_party_branches(db, create_venue, book, branch, create_org):
    venue = create_venue()
    org, organizer = branch()
    community = create_org()
    with pytest.raises(Invalid, match="不是党支部"):
        book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer,
             co_hosts=[bookings.CoHost(community, 3)])
    with pytest.raises(Invalid, match="重复"):
        book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer,
             co_hosts=[bookings.CoHost(org, 3)])


# --- recurrence ----------------------------------------------------------------------------------


def test_a_monthly_series_skips_closed_dates_and_lists_conflicts_before_booking(db, create_venue, book, branch, clock):
    venue = create_venue()
    holder = book(venue, "2026-11-06 09:00", "2026-11-06 10:00", title="微党课")  # first Friday of November
    org, organizer = branch()
    rule = Rule(Freq.MONTHLY, date(2026, 11, 30), nth=1, weekday=4)  # first Fridays: 9/4, 10/2, 11/6
    preview = bookings.preview_booking(actor=organizer, request=bookings.BookingRequest(
        venue=venue, organization=org, start=at("2026-09-04 09:00"), end=at("2026-09-04 10:00"), attendees=10,
        rule=rule))
    assert [s.start.date() for s in preview.free] == [date(2026, 9, 4)]
    assert [(s.start.date(), "国庆节" in why) for s, why in preview.plan.refused] == [(date(2026, 10, 2), True)]
    assert [(s.start.date(), o.booking_id) for s, o in preview.plan.taken] == [(date(2026, 11, 6), holder.id)]

    before = counts(db)
    with pytest.raises(Conflict, match="2026年11月6日（周五）9:00–10:00 已被预约：2026年11月6日（周五）9:00–10:00。"):
        book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer, rule=rule)
    db.session.rollback()
    assert counts(db) == before
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer, rule=rule,
                   skip_conflicts=True)
    assert [o.start_at.date() for o in booking.occurrences] == [date(2026, 9, 4)]
    assert booking.recurrence == "FREQ=MONTHLY;INTERVAL=1;BYDAY=1FR;UNTIL=20261130"


def test_a_weekly_series_up_to_the_horizon(db, create_venue, book):
    venue = create_venue(horizon_days=30)
    rule = Rule(Freq.WEEKLY, date(2026, 10, 1), weekdays=(0, 2))
    booking = book(venue, "2026-09-02 14:30", "2026-09-02 16:00", rule=rule)
    assert [o.start_at.day for o in booking.occurrences] == [2, 7, 9, 14, 16, 21, 23, 28, 30]
    with pytest.raises(Invalid, match="截止日期最晚是2026年10月1日"):
        book(venue, "2026-09-02 09:00", "2026-09-02 10:00", rule=Rule(Freq.WEEKLY, date(2026, 10, 2), weekdays=(2,)))


def test_cancel_one_date_then_the_rest_of_the_series(db, create_venue, book, branch, clock):
    venue = create_venue()
    org, organizer = branch()
    booking = book(venue, "2026-09-07 09:00", "2026-09-07 10:00", org=org, actor=organizer,
                   rule=Rule(Freq.WEEKLY, date(2026, 10, 31), weekdays=(0,)))
    dates = [o.start_at.day for o in booking.occurrences]
    assert dates == [7, 14, 21, 28, 12, 19, 26]  # 5 Oct is National Day
    second, fourth = booking.occurrences[1], booking.occurrences[3]
    bookings.cancel_booking(actor=organizer, booking=booking, reason="与社区活动冲突", scope="one", occurrence=second)
    bookings.cancel_booking(actor=organizer, booking=booking, reason="换到别的场地", scope="rest", occurrence=fourth)
    db.session.commit()
    held = [o.start_at.day for o in booking.occurrences if o.status.holds_slot]
    assert held == [7, 21]
    assert booking.status is BookingStatus.PENDING
    # the freed dates can be booked by someone else
    book(venue, "2026-09-14 09:00", "2026-09-14 10:00")
    bookings.cancel_booking(actor=organizer, booking=booking, reason="不办了")
    assert booking.status is BookingStatus.CANCELLED


def test_cancelling_needs_a_reason_and_the_right_person(db, create_venue, book, branch):
    venue = create_venue()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    _, stranger = branch()
    with pytest.raises(PermissionDenied):
        bookings.cancel_booking(actor=stranger, booking=booking, reason="想取消")
    organizer = booking.booked_by
    with pytest.raises(Invalid, match="请填写取消的原因"):
        bookings.cancel_booking(actor=organizer, booking=booking, reason=" ")
    assert booking.occurrences[0].status is BookingStatus.PENDING


def test_dates_that_have_begun_cannot_be_cancelled(db, create_venue, book, clock):
    venue = create_venue()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    clock.now = datetime(2026, 9, 4, 9, 30)
    with pytest.raises(Invalid, match="没有可以取消的日期"):
        bookings.cancel_booking(actor=booking.booked_by, booking=booking, reason="晚了")


# --- approval and notifications --------------------------------------------------------------------


def notes(db, user):
    return [n.title for n in db.session.scalars(select(Notification).where(Notification.user_id == user.id)
                                                 .order_by(Notification.id))]


def test_the_manager_approves_and_both_sides_are_told(db, create_venue, book, branch, manager):
    venue = create_venue()
    boss = manager(venue)
    org, organizer = branch()
    _, colleague = branch()
    colleague.grants[0].organization_id = org.id  # a second organizer of the same branch
    db.session.commit()
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer)
    assert notes(db, boss) == [f"新的场地预约待审核：{venue.name}"]
    bookings.decide_booking(actor=boss, booking=booking, approve=True)
    db.session.commit()
    assert booking.status is BookingStatus.APPROVED and booking.occurrences[0].status is BookingStatus.APPROVED
    assert notes(db, organizer) == [f"场地预约已批准：{venue.name}"]
    assert f"场地预约已批准：{venue.name}" in notes(db, colleague)
    with pytest.raises(Conflict, match="已批准"):
        bookings.decide_booking(actor=boss, booking=booking, approve=False, reason="再想想")


def test_rejecting_needs_a_reason_and_frees_the_time(db, create_venue, book, manager):
    venue = create_venue()
    boss = manager(venue)
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    with pytest.raises(Invalid, match="请填写不批准的原因"):
        bookings.decide_booking(actor=boss, booking=booking, approve=False)
    bookings.decide_booking(actor=boss, booking=booking, approve=False, reason="当天有上级检查")
    db.session.commit()
    assert booking.occurrences[0].status is BookingStatus.REJECTED
    assert "当天有上级检查" in db.session.scalar(select(Notification.body).where(
        Notification.user_id == booking.booked_by_id, Notification.kind == "booking.rejected"))
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00")


def test_a_manager_cancels_with_a_reason_and_the_branch_is_told(db, create_venue, book, manager):
    venue = create_venue()
    boss = manager(venue)
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    bookings.cancel_booking(actor=boss, booking=booking, reason="场地临时停电")
    db.session.commit()
    assert "场地临时停电" in db.session.scalar(select(Notification.body).where(
        Notification.user_id == booking.booked_by_id, Notification.kind == "booking.cancelled"))


def test_managers_of_other_venues_and_admins_elsewhere_cannot_decide(db, create_venue, book, manager, create_admin):
    venue = create_venue(county="410104")
    booking = book(venue, "2026-09-04 09:00", "2026-09-04 10:00")
    for outsider in (manager(create_venue()), create_admin("411326")):
        with pytest.raises(PermissionDenied):
            bookings.decide_booking(actor=outsider, booking=booking, approve=True)
    bookings.decide_booking(actor=create_admin("410100"), booking=booking, approve=True)


def test_the_queue_flags_dates_a_later_closure_covers(db, create_venue, book, manager, clock):
    venue = create_venue()
    boss = manager(venue)
    booking = book(venue, "2026-09-07 09:00", "2026-09-07 10:00", rule=Rule(Freq.WEEKLY, date(2026, 9, 21), weekdays=(0,)))
    services.add_closure(actor=boss, venue=venue, first_day=date(2026, 9, 14), last_day=date(2026, 9, 14), reason="消防检查")
    [entry] = calendars.approval_queue(actor=boss)
    assert entry.booking is booking
    flagged = {o.start_at.day: why for o in entry.pending if (why := entry.problems.get(o.id))}
    assert list(flagged) == [14] and "消防检查" in flagged[14]
    assert [o.start_at.day for o, _ in calendars.occurrences_in_closures(venue)] == [14]


# --- 主题党日 ------------------------------------------------------------------------------------


def test_months_without_a_theme_party_day_are_flagged(db, create_venue, book, branch, clock):
    venue = create_venue()
    org, organizer = branch()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=org, actor=organizer)
    book(venue, "2026-10-09 09:00", "2026-10-09 10:00", org=org, actor=organizer, activity=ActivityType.MICRO_LECTURE)
    months = calendars.theme_days(organization=org)
    assert [(m.month, m.missing, m.past) for m in months] == [
        (date(2026, 7, 1), True, True), (date(2026, 8, 1), True, True), (date(2026, 9, 1), False, False),
        (date(2026, 10, 1), True, False), (date(2026, 11, 1), True, False), (date(2026, 12, 1), True, False)]


def test_branches_without_a_theme_party_day_this_month_are_reminded_once(db, app, create_venue, book, branch, clock):
    venue = create_venue()
    done, done_organizer = branch()
    missing, missing_organizer = branch()
    book(venue, "2026-09-04 09:00", "2026-09-04 10:00", org=done, actor=done_organizer)
    result = app.test_cli_runner().invoke(args=["venues", "remind"])
    assert result.exit_code == 0, result.output
    assert notes(db, missing_organizer)[-1] == f"提醒：{missing.name}9月还没有预约主题党日场地"
    assert not any("提醒" in t for t in notes(db, done_organizer))
    before = len(notes(db, missing_organizer))
    app.test_cli_runner().invoke(args=["venues", "remind"])
    assert len(notes(db, missing_organizer)) == before
