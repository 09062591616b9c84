"""What the bookings of venues look like from each side: a venue's week and month (free and taken
time), the managers' approval queue, a branch's own bookings and its monthly 主题党日, the
reminder to branches without one, and the bookings a venue's closures now clash with. Reads,
except the reminder, which only adds notifications."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import lazyload, selectinload

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.bookings.models import SLOT_HOLDING, ActivityType, Booking, BookingHost, BookingOccurrence, BookingStatus
from app.bookings.services import held_slots
from app.clock import add_months, local_now, month_start
from app.extensions import db
from app.links import path_for
from app.notifications.models import Notification
from app.notifications.services import notify
from app.organizations.models import Organization, OrganizationKind
from app.venues.models import Venue
from app.venues.recurrence import Slot
from app.venues.services import venue_rules

# --- calendars ------------------------------------------------------------------------------------


@dataclass
class CalendarItem:
    slot: Slot
    status: BookingStatus
    label: str                      # "重温入党誓词 · 东关南里社区" or "已被预约"
    booking_id: int | None          # only when the viewer may open it
    own: bool = False


@dataclass
class CalendarDay:
    day: date
    closed: str | None
    hours: str
    items: list[CalendarItem] = field(default_factory=list)
    free: list[Slot] = field(default_factory=list)


def venue_calendar(*, actor: User, venue: Venue, first_day: date, last_day: date) -> list[CalendarDay]:
    """Each day's opening, taken and free time. Bookings the actor may not see show as taken,
    without title or branch (access.sees_booking)."""
    rules = venue_rules(venue, first_day, last_day)
    start, end = datetime.combine(first_day, time()), datetime.combine(last_day + timedelta(days=1), time())
    held = held_slots(venue.id, start, end)
    mine = access.organized(actor)
    days = []
    day = first_day
    while day <= last_day:
        taken = [(s, o) for s, o in held if s.start.date() == day]
        closed = rules.closed_because(day)
        items = []
        for slot, o in taken:
            own = bool(access.booking_branches(o.booking) & mine)
            visible = access.sees_booking(actor, o.booking)
            label = f"{o.booking.title} · {o.booking.organization.name}" if visible else "已被预约"
            items.append(CalendarItem(slot, o.status, label, o.booking_id if visible else None, own))
        days.append(CalendarDay(day, closed, rules.hours_text(day.weekday()), items,
                                rules.free_periods(day, [s for s, _ in taken])))
        day += timedelta(days=1)
    return days


@dataclass
class QueueEntry:
    booking: Booking
    pending: list[BookingOccurrence]
    problems: dict[int, str]        # occurrence id → why it no longer fits (closure added, hours changed)
    over_capacity: bool


def approval_queue(*, actor: User) -> list[QueueEntry]:
    """Pending bookings at the venues the actor runs, oldest request first, with the dates that
    no longer fit the venue (a closure added since, changed hours, a smaller capacity) flagged."""
    bookings = db.session.scalars(select(Booking).where(
        Booking.status == BookingStatus.PENDING,
        Booking.venue_id.in_(select(Venue.id).where(access.venues_managed(actor))))
        .order_by(Booking.created_at, Booking.id)).all()
    entries = []
    for booking in bookings:
        pending = [o for o in booking.occurrences if o.status is BookingStatus.PENDING]
        problems = {}
        if pending:
            rules = venue_rules(booking.venue, pending[0].start_at.date(), pending[-1].start_at.date())
            for o in pending:
                refusal = rules.refusal(o.slot)
                if refusal is not None:
                    problems[o.id] = refusal[1]
        entries.append(QueueEntry(booking, pending, problems, booking.attendees > booking.venue.capacity))
    return entries


# --- a branch's bookings --------------------------------------------------------------------------


def hosted_by(organization: Organization) -> ColumnElement[bool]:
    """Bookings a branch leads or co-hosts (the lead branch is a host row too)."""
    return Booking.id.in_(select(BookingHost.booking_id).where(BookingHost.organization_id == organization.id))


def organization_bookings(*, organization: Organization, upcoming_only: bool = True) -> list[Booking]:
    """Bookings a branch leads or co-hosts, by their first date still to come (with their dates, in
    one statement for all of them)."""
    now = local_now()
    stmt = select(Booking).where(hosted_by(organization)).options(selectinload(Booking.occurrences))
    if upcoming_only:
        stmt = stmt.where(exists().where(BookingOccurrence.booking_id == Booking.id, BookingOccurrence.end_at > now))
    bookings = db.session.scalars(stmt.order_by(Booking.id.desc())).all()
    return sorted(bookings, key=lambda b: min((o.start_at for o in b.occurrences), default=datetime.max))


@dataclass
class MonthTheme:
    month: date
    occurrences: list[BookingOccurrence]
    past: bool

    @property
    def missing(self) -> bool:
        return not self.occurrences


def theme_days(*, organization: Organization, months_back: int = 2, months_ahead: int = 3) -> list[MonthTheme]:
    """The branch's monthly 主题党日 against its bookings (led or co-hosted, pending or approved),
    from a few months back to a few ahead; a month without one is flagged."""
    today = local_now().date()
    first = add_months(today, -months_back)
    last = add_months(today, months_ahead + 1)
    rows = db.session.scalars(select(BookingOccurrence).join(Booking).where(
        hosted_by(organization),
        Booking.activity == ActivityType.THEME_PARTY_DAY, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.start_at >= datetime.combine(first, time()),
        BookingOccurrence.start_at < datetime.combine(last, time()))
        .order_by(BookingOccurrence.start_at)).all()
    by_month: dict[date, list[BookingOccurrence]] = defaultdict(list)
    for o in rows:
        by_month[month_start(o.start_at.date())].append(o)
    months = []
    month = first
    while month < last:
        months.append(MonthTheme(month, by_month.get(month, []), past=add_months(month, 1) <= today))
        month = add_months(month, 1)
    return months


def remind_theme_days() -> int:
    """Tell the organizers of every party branch that has no 主题党日 booked this month (pending or
    approved, led or co-hosted), once a month. Returns how many people were told. For a monthly
    `flask venues remind`; only adds notifications, the caller commits."""
    today = local_now().date()
    first = datetime.combine(month_start(today), time())
    after = datetime.combine(add_months(today, 1), time())
    booked = (select(BookingHost.organization_id).join(Booking, Booking.id == BookingHost.booking_id)
              .join(BookingOccurrence, BookingOccurrence.booking_id == Booking.id).where(
                  Booking.activity == ActivityType.THEME_PARTY_DAY, BookingOccurrence.status.in_(SLOT_HOLDING),
                  BookingOccurrence.start_at >= first, BookingOccurrence.start_at < after))
    rows = db.session.execute(select(User, Organization).join(RoleGrant, RoleGrant.user_id == User.id)
                              .join(Organization, Organization.id == RoleGrant.organization_id).where(
        RoleGrant.role == Role.ORGANIZER, User.active, Organization.active,
        Organization.kind == OrganizationKind.PARTY_BRANCH, Organization.id.not_in(booked))
        .options(lazyload(User.grants)).order_by(Organization.id, User.id)).all()
    kind = f"venues.theme_day_reminder.{today:%Y-%m}"
    told = set(db.session.scalars(select(Notification.user_id).where(Notification.kind == kind)))
    count = 0
    for user, org in rows:
        if user.id in told:
            continue
        notify(user, kind=kind, title=f"提醒：{org.name}{today.month}月还没有预约主题党日场地",
               body="每月一次主题党日。可以在“场地”里找附近的政治生活馆或老党员共享家园预约，也可以和别的支部联合开展。",
               link=path_for("bookings.my_bookings"))
        told.add(user.id)
        count += 1
    return count


# --- a venue's closures against its bookings ------------------------------------------------------


def occurrences_in_closures(venue: Venue) -> list[tuple[BookingOccurrence, str]]:
    """Upcoming slot-holding dates on days the venue is now closed or no longer open."""
    now = local_now()
    upcoming = db.session.scalars(select(BookingOccurrence).where(
        BookingOccurrence.venue_id == venue.id, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.start_at > now).order_by(BookingOccurrence.start_at)).all()
    if not upcoming:
        return []
    rules = venue_rules(venue, upcoming[0].start_at.date(), upcoming[-1].start_at.date())
    found = []
    for o in upcoming:
        refusal = rules.refusal(o.slot)
        if refusal is not None:
            found.append((o, refusal[1]))
    return found
