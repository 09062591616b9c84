"""Booking a venue for a party branch, deciding and cancelling bookings, and telling both sides.

Plain functions: keyword-only arguments, the acting user passed in, DomainError with Chinese
messages, flush but never commit (the caller owns the one transaction of a use case).

No double booking: `book_venue` checks the venue's rules and the slots already held, then inserts
the occurrences inside a savepoint. The database has the last word (PostgreSQL's exclusion
constraint, SQLite's triggers; on SQLite the caller's transaction also began with BEGIN IMMEDIATE,
which every POST request does and threads or commands must ask for with app.db.write_intent), and
its refusal is answered as a Conflict saying which booking holds the time (as much of it as the
booker may see: access.sees_booking).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import joinedload, lazyload

from app import access
from app.accounts.models import Role, RoleGrant, User
from app.audit.services import record_audit
from app.bookings.models import (
    SLOT_HOLDING,
    ActivityType,
    Booking,
    BookingHost,
    BookingOccurrence,
    BookingStatus,
    CalendarFeed,
)
from app.clock import local_now, utcnow
from app.db import rowcount
from app.errors import Conflict, Invalid, NotFound, PermissionDenied
from app.extensions import db
from app.formats import fmt_date, fmt_slot, fmt_time
from app.links import path_for
from app.notifications.services import notify
from app.organizations.models import Organization, OrganizationKind
from app.venues.models import ActivityPackage, Venue, new_token
from app.venues.recurrence import Plan, Refusal, Rule, Slot, VenueRules, expand, plan
from app.venues.services import venue_rules

OVERLAP_CONSTRAINT = "booking_occurrences_no_overlap"  # the PG constraint's and the SQLite triggers' name


# --- the time a venue's bookings hold -------------------------------------------------------------


def held_slots(venue_id: int, start: datetime, end: datetime,
               exclude_booking_id: int | None = None) -> list[tuple[Slot, BookingOccurrence]]:
    """Slot-holding occurrences of a venue overlapping [start, end), each with its booking (read
    in the same statement: the calendars and conflict messages name it, and loading each booking
    on first use took a statement per booking). Not the booking's venue again: the caller has it,
    and a booking's venue is then found without a statement."""
    stmt = (select(BookingOccurrence).options(joinedload(BookingOccurrence.booking).lazyload(Booking.venue)).where(
        BookingOccurrence.venue_id == venue_id, BookingOccurrence.status.in_(SLOT_HOLDING),
        BookingOccurrence.start_at < end, BookingOccurrence.end_at > start)
        .order_by(BookingOccurrence.start_at))
    if exclude_booking_id is not None:
        stmt = stmt.where(BookingOccurrence.booking_id != exclude_booking_id)
    return [(o.slot, o) for o in db.session.scalars(stmt)]


def horizon_end(venue: Venue, now: datetime) -> date:
    return now.date() + timedelta(days=venue.horizon_days)

def describe_holder(actor: User, occurrence: BookingOccurrence) -> str:
    """Which booking holds a slot, as much as the actor may know: its time, and for those who see
    the booking (its branches, the venue's people) its title and branch:
    2026年12月4日（周五）9:00–11:00「重温入党誓词」（东关南里社区离退休干部党支部）."""
    booking = occurrence.booking
    if access.sees_booking(actor, booking):
        return f"{occurrence.when}「{booking.title}」（{booking.organization.name}）"
    return occurrence.when


def conflict_message(actor: User, taken: Sequence[tuple[Slot, BookingOccurrence]]) -> str:
    """A series meets bookings already made: which dates, and the two ways on (the confirm page
    offers skipping them)."""
    shown = "；".join(f"{fmt_slot(*slot)} 已被预约：{describe_holder(actor, o)}" for slot, o in taken[:3])
    more = f"；另有 {len(taken) - 3} 个日期也已被预约" if len(taken) > 3 else ""
    return f"时间冲突：{shown}{more}。请换一个时间，或勾选下面的“跳过已被预约的日期”。"


def one_off_conflict(actor: User, venue: Venue, wanted: Slot, holder: BookingOccurrence) -> Conflict:
    """A single date is taken: who holds it, and the nearest free times of the same length that
    day (inside opening hours, after the lead time), so that the booker can pick one."""
    day = wanted.start.date()
    held = [slot for slot, _ in held_slots(venue.id, datetime.combine(day, datetime.min.time()),
                                            datetime.combine(day + timedelta(days=1), datetime.min.time()))]
    earliest = local_now() + timedelta(hours=venue.min_lead_hours)
    free = [s for s in venue_rules(venue, day, day).nearest_free(wanted, held, limit=6) if s.start >= earliest][:3]
    said = f"时间冲突：{fmt_time(wanted.start)}–{fmt_time(wanted.end)} 已被预约：{describe_holder(actor, holder)}。"
    if free:
        said += f"这天还空着、一样长的时间：{'、'.join(f'{fmt_time(s.start)}–{fmt_time(s.end)}' for s in free)}。请改一下开始和结束时间。"
    else:
        said += "这天没有一样长的空闲时间了，请换一天。"
    return Conflict(said, field="start")


def count_slot_holding(venue_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(BookingOccurrence).where(
        BookingOccurrence.venue_id == venue_id, BookingOccurrence.status.in_(SLOT_HOLDING))) or 0


# --- booking ---------------------------------------------------------------------------------------


@dataclass
class CoHost:
    organization: Organization
    attendees: int


@dataclass(frozen=True)
class BookingRequest:
    """What a branch asks of a venue: when, for whom and how many, and (to book) what. The wizard
    fills it page by page: the time first, then the branch and people, then the repeats."""

    venue: Venue
    start: datetime
    end: datetime
    organization: Organization | None = None
    attendees: int = 0
    package: ActivityPackage | None = None
    co_hosts: Sequence[CoHost] = ()
    rule: Rule | None = None
    activity: ActivityType | None = None
    title: str = ""
    note: str = ""
    skip_conflicts: bool = False    # book the free dates of a series, leaving out those taken


@dataclass
class Preview:
    """What a booking request would hold, before it is made."""

    slots: list[Slot]
    plan: Plan[BookingOccurrence]
    rule: Rule | None
    total_attendees: int

    @property
    def free(self) -> list[Slot]:
        return self.plan.free


def _check_people(venue: Venue, organization: Organization, attendees: int, co_hosts: Sequence[CoHost],
                  package: ActivityPackage | None) -> int:
    if attendees < 1:
        raise Invalid("参加人数至少 1 人", field="attendees")
    seen = {organization.id}
    for host in co_hosts:
        if host.organization.id in seen:
            raise Invalid(f"“{host.organization.name}”重复了，每个支部只填一次", field="co_hosts")
        if host.organization.kind is not OrganizationKind.PARTY_BRANCH or not host.organization.active:
            raise Invalid(f"“{host.organization.name}”不是党支部，不能联合主办", field="co_hosts")
        if host.attendees < 1:
            raise Invalid(f"请填写“{host.organization.name}”的参加人数（至少 1 人）", field="co_hosts")
        seen.add(host.organization.id)
    total = attendees + sum(h.attendees for h in co_hosts)
    if total > venue.capacity:
        joint = "（各支部合计）" if co_hosts else ""
        raise Invalid(f"参加人数 {total} 人{joint}超过了场地容量 {venue.capacity} 人，请减少人数或换一个大一些的场地",
                      field="attendees")
    if package is not None and total > package.max_participants:
        raise Invalid(f"活动套餐「{package.name}」最多 {package.max_participants} 人参加，现在是 {total} 人",
                      field="attendees")
    return total


def _check_package(venue: Venue, package: ActivityPackage | None, minutes: int) -> None:
    if package is None:
        return
    if not package.active or package.venue_id not in (None, venue.id):
        raise Invalid("这个活动套餐本场地不提供，请重新选择", field="package")
    missing = package.needs - venue.facilities
    if missing:
        names = "、".join(f.label for f in sorted(missing, key=lambda f: f.value))
        raise Invalid(f"本场地没有{names}，不能安排「{package.name}」", field="package")
    if minutes < package.duration_minutes:
        raise Invalid(f"「{package.name}」需要 {package.duration_label}，所选时间只有 {minutes} 分钟，请把结束时间往后调",
                      field="end")


def _check_first_slot(venue: Venue, first: Slot, rules: VenueRules, now: datetime) -> None:
    if first.end <= first.start:
        raise Invalid("结束时间要晚于开始时间", field="end")
    if first.start.second or first.start.microsecond or first.end.second or first.end.microsecond:
        raise Invalid("时间请精确到分钟", field="start")
    if first.start < now:
        raise Invalid("不能预约已经过去的时间，请选择以后的日期", field="date")
    earliest = now + timedelta(hours=venue.min_lead_hours)
    if first.start < earliest:
        raise Invalid(f"本场地需要至少提前 {venue.min_lead_hours} 小时预约，最早可以预约 "
                      f"{fmt_date(earliest.date())} {fmt_time(earliest)} 以后的时间", field="date")
    last = horizon_end(venue, now)
    if first.start.date() > last:
        raise Invalid(f"本场地只接受 {venue.horizon_days} 天以内的预约（到{fmt_date(last)}为止）", field="date")
    refusal = rules.refusal(first)
    if refusal is not None:
        kind, message = refusal
        raise Invalid(message, field={Refusal.CLOSED: "date", Refusal.HOURS: "start"}.get(kind, "end"))


def check_time(*, actor: User, request: BookingRequest) -> None:
    """The first question of a booking: can this venue hold this slot at all? (Everything else is
    checked again when the booking is made.)"""
    venue, start, end = request.venue, request.start, request.end
    _check_first_slot(venue, Slot(start, end), venue_rules(venue, start.date(), start.date()), local_now())
    taken = held_slots(venue.id, start, end)
    if taken:
        raise one_off_conflict(actor, venue, Slot(start, end), taken[0][1])


def preview_booking(*, actor: User, request: BookingRequest) -> Preview:
    """Check a booking request against every rule and sort its dates into free, refused (closed,
    outside opening hours) and taken. Changes nothing."""
    venue, organization, start, end, rule = request.venue, request.organization, request.start, request.end, request.rule
    if organization is None:
        raise Invalid("请选择为哪个组织预约", field="organization")
    if not access.may_book_for(actor, organization):
        raise PermissionDenied("只能为您负责的组织预约场地", field="organization")
    if not venue.active:
        raise Invalid("这个场地暂停接受预约")
    now = local_now()
    first = Slot(start, end)
    last_day = horizon_end(venue, now)
    if rule is not None:
        if rule.until < start.date():
            raise Invalid("重复的截止日期要晚于第一次活动的日期", field="until")
        if rule.until > last_day:
            raise Invalid(f"本场地只接受 {venue.horizon_days} 天以内的预约，截止日期最晚是{fmt_date(last_day)}",
                          field="until")
    rules = venue_rules(venue, start.date(), rule.until if rule else start.date())
    _check_first_slot(venue, first, rules, now)
    total = _check_people(venue, organization, request.attendees, request.co_hosts, request.package)
    _check_package(venue, request.package, int((end - start).total_seconds() // 60))
    slots = expand(rule, first)
    held = held_slots(venue.id, slots[0].start, slots[-1].end)
    return Preview(slots=slots, plan=plan(slots, rules, held), rule=rule, total_attendees=total)


def book_venue(*, actor: User, request: BookingRequest) -> Booking:
    """Request a venue for a branch: one slot or a series. Every free date is held as pending
    until a manager decides; dates the venue is closed are left out; dates another booking holds
    are refused as a Conflict unless the booker chose to skip them."""
    title = (request.title or "").strip()
    if not title:
        raise Invalid("请填写活动主题", field="title")
    if request.activity is None:
        raise Invalid("请选择活动类型", field="activity")
    preview = preview_booking(actor=actor, request=request)
    venue, organization, rule = request.venue, request.organization, request.rule
    assert organization is not None     # preview_booking() refuses a request without one
    if preview.plan.taken and rule is None:
        slot, holder = preview.plan.taken[0]
        raise one_off_conflict(actor, venue, slot, holder)
    if preview.plan.taken and not request.skip_conflicts:
        raise Conflict(conflict_message(actor, preview.plan.taken))
    if not preview.free:
        if preview.plan.taken:
            raise Conflict(conflict_message(actor, preview.plan.taken))
        raise Invalid("所选的日期场地都不开放，没有可以预约的日期", field="date")
    booking = Booking(venue=venue, organization=organization, booked_by_id=actor.id, title=title,
                      activity=request.activity, package=request.package, attendees=preview.total_attendees,
                      note=request.note or "", recurrence=rule.to_rrule() if rule else None,
                      status=BookingStatus.PENDING)
    booking.hosts = [BookingHost(organization_id=organization.id, attendees=request.attendees)] + [
        BookingHost(organization_id=h.organization.id, attendees=h.attendees) for h in request.co_hosts]
    booking.occurrences = [BookingOccurrence(venue_id=venue.id, start_at=s.start, end_at=s.end,
                                             status=BookingStatus.PENDING) for s in preview.free]
    _insert_holding(actor, booking, preview.free)
    record_audit(actor, "booking.create", booking, region_code=venue.region_code,
                 detail={"venue_id": venue.id, "occurrences": len(preview.free),
                         "skipped_conflicts": len(preview.plan.taken), "skipped_closed": len(preview.plan.refused)})
    count = f"共 {len(preview.free)} 次，" if len(preview.free) > 1 else ""
    _tell(actor, _venue_people(venue) | _booking_people(booking), kind="booking.created",
          title=f"新的场地预约待审核：{venue.name}",
          body=f"{organization.name}预约{fmt_slot(*preview.free[0])}「{title}」，{count}{preview.total_attendees} 人。",
          booking=booking)
    return booking


def _insert_holding(actor: User, booking: Booking, slots: Sequence[Slot]) -> None:
    """Insert a booking and its occurrences in a savepoint; the database's no-overlap rule turns
    a lost race into a Conflict naming the winner, and the caller's transaction stays usable."""
    try:
        with db.session.begin_nested():
            db.session.add(booking)
            db.session.flush()
    except OperationalError as e:
        # PostgreSQL breaks a rare wait cycle between two series with a deadlock error.
        if getattr(e.orig, "sqlstate", None) not in ("40P01", "40001"):
            raise
        raise Conflict("同一时间有别的支部在预约这个场地，请重新提交。") from None
    except IntegrityError as e:
        if OVERLAP_CONSTRAINT not in str(e.orig):
            raise
        taken = [(slot, o) for slot in slots for _, o in held_slots(booking.venue_id, slot.start, slot.end)[:1]]
        if not taken:  # the winner has been cancelled since: rare, and worth a retry
            raise Conflict("这个时间刚刚被别的支部预约了，请刷新后重新选择时间。") from None
        if booking.recurrence is None:
            raise one_off_conflict(actor, booking.venue, *taken[0]) from None
        raise Conflict(conflict_message(actor, taken)) from None


def decide_booking(*, actor: User, booking: Booking, approve: bool, reason: str = "") -> Booking:
    """A manager approves a pending booking (all its pending dates) or rejects it with a reason,
    which frees its time. Both sides are told."""
    if not access.may_decide_booking(actor, booking):
        raise PermissionDenied("只有本场地的管理员或所在地区的老干部局可以办理")
    if booking.status is not BookingStatus.PENDING:
        raise Conflict(f"这个预约已经{booking.status.label}，不能再审核")
    reason = (reason or "").strip()
    if not approve and not reason:
        raise Invalid("请填写不批准的原因，方便支部调整安排", field="reason")
    new = BookingStatus.APPROVED if approve else BookingStatus.REJECTED
    for occurrence in booking.occurrences:
        if occurrence.status is BookingStatus.PENDING:
            occurrence.status = new
    booking.status = new
    booking.decided_by_id, booking.decided_at, booking.decision_reason = actor.id, utcnow(), reason
    db.session.flush()
    record_audit(actor, "booking.approve" if approve else "booking.reject", booking,
                 region_code=booking.venue.region_code, detail={"reason": reason} if reason else None)
    first = next((o for o in booking.occurrences if o.status is new), None)
    when = f"{first.when}" if first else ""
    _tell(actor, _venue_people(booking.venue) | _booking_people(booking),
          kind="booking.approved" if approve else "booking.rejected",
          title=f"场地预约{'已批准' if approve else '未获批准'}：{booking.venue.name}",
          body=f"「{booking.title}」{when}。" + (f"原因：{reason}" if reason else ""), booking=booking)
    return booking


class CancelScope:
    ONE = "one"        # this date only
    REST = "rest"      # this date and every later one
    ALL = "all"        # every date still to come


def cancel_booking(*, actor: User, booking: Booking, reason: str, scope: str = CancelScope.ALL,
                   occurrence: BookingOccurrence | None = None) -> list[BookingOccurrence]:
    """Cancel one date, a date and the rest of its series, or every date still to come. The
    booking branch's organizers and the venue's managers may cancel, with a reason; dates that
    have begun are kept. Both sides are told."""
    if not access.may_cancel_booking(actor, booking):
        raise PermissionDenied("只有预约的支部或场地管理员可以取消这个预约")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("请填写取消的原因", field="reason")
    if scope not in (CancelScope.ONE, CancelScope.REST, CancelScope.ALL):
        raise Invalid("请选择取消哪些日期", field="scope")
    if scope != CancelScope.ALL and (occurrence is None or occurrence.booking_id != booking.id):
        raise NotFound("没有找到要取消的日期")
    now = local_now()
    chosen = [o for o in booking.occurrences if o.status.holds_slot and o.start_at > now and (
        scope == CancelScope.ALL or (occurrence is not None and (
            (scope == CancelScope.ONE and o.id == occurrence.id)
            or (scope == CancelScope.REST and o.start_at >= occurrence.start_at))))]
    if not chosen:
        raise Invalid("没有可以取消的日期（已经开始或已取消的不能再取消）", field="scope")
    stamp = utcnow()
    for o in chosen:
        o.status, o.cancelled_by_id, o.cancelled_at, o.cancel_reason = BookingStatus.CANCELLED, actor.id, stamp, reason
    if not any(o.status.holds_slot for o in booking.occurrences):
        booking.status = BookingStatus.CANCELLED
    db.session.flush()
    record_audit(actor, "booking.cancel", booking, region_code=booking.venue.region_code,
                 detail={"scope": scope, "occurrences": [o.id for o in chosen], "reason": reason})
    dates = chosen[0].when + (f" 等 {len(chosen)} 个日期" if len(chosen) > 1 else "")
    _tell(actor, _venue_people(booking.venue) | _booking_people(booking), kind="booking.cancelled",
          title=f"场地预约已取消：{booking.venue.name}",
          body=f"「{booking.title}」{dates}已由{actor.name}取消。原因：{reason}", booking=booking)
    return chosen


# --- no-shows --------------------------------------------------------------------------------------

NO_SHOW_LOOKBACK = timedelta(days=2)    # occurrences older than this are not released any more


def release_no_shows() -> list[BookingOccurrence]:
    """Release every slot-holding occurrence nobody checked in to within its venue's
    no_show_minutes of its start: it is cancelled (released_at says why), its time is free again,
    and the booker, the hosting branches' organizers and the venue's managers are told.

    Each release is one conditional UPDATE (still holding, still not checked in), so a check-in
    at the same moment (app.attendance.services) either keeps the booking or finds it released,
    never both."""
    now = local_now()
    candidates = db.session.execute(select(BookingOccurrence.id, BookingOccurrence.start_at, Venue.no_show_minutes)
                                    .join(Venue, Venue.id == BookingOccurrence.venue_id).where(
        BookingOccurrence.status.in_(SLOT_HOLDING), BookingOccurrence.checked_in_at.is_(None),
        BookingOccurrence.start_at <= now - timedelta(minutes=5),
        BookingOccurrence.start_at > now - NO_SHOW_LOOKBACK).order_by(BookingOccurrence.start_at)).all()
    released = []
    stamp = utcnow()
    for occurrence_id, start_at, minutes in candidates:
        if start_at + timedelta(minutes=minutes) > now:
            continue
        reason = f"开始后 {minutes} 分钟无人签到，已自动释放"
        changed = rowcount(db.session.execute(update(BookingOccurrence).where(
            BookingOccurrence.id == occurrence_id, BookingOccurrence.status.in_(SLOT_HOLDING),
            BookingOccurrence.checked_in_at.is_(None)).values(
            status=BookingStatus.CANCELLED, released_at=stamp, cancelled_at=stamp, cancel_reason=reason)
            .execution_options(synchronize_session=False)))
        if not changed:
            continue     # checked in (or cancelled) since it was read
        occurrence = db.session.get_one(BookingOccurrence, occurrence_id, populate_existing=True)
        booking = occurrence.booking
        still_holding = db.session.scalar(select(func.count()).select_from(BookingOccurrence).where(
            BookingOccurrence.booking_id == booking.id, BookingOccurrence.status.in_(SLOT_HOLDING)))
        if not still_holding:
            booking.status = BookingStatus.CANCELLED
        record_audit(None, "booking.no_show_release", booking, region_code=booking.venue.region_code,
                     detail={"occurrence": occurrence.id, "minutes": minutes})
        for person in sorted(_venue_people(booking.venue) | _booking_people(booking), key=lambda u: u.id):
            notify(person, kind="booking.released", title=f"预约未签到，已释放：{booking.venue.name}",
                   body=f"「{booking.title}」{occurrence.when}，{reason}，这段时间其他支部可以预约了。",
                   link=path_for("bookings.booking", booking_id=booking.id))
        released.append(occurrence)
    db.session.flush()
    return released


# --- notifications ---------------------------------------------------------------------------------


def _venue_people(venue: Venue) -> set[User]:
    """Who answers for a venue: its managers, or when it has none the admins of its county."""
    managers = set(db.session.scalars(_people().where(
        RoleGrant.role == Role.VENUE_MANAGER, RoleGrant.venue_id == venue.id)))
    if managers:
        return managers
    return set(db.session.scalars(_people().where(RoleGrant.role == Role.ADMIN,
                                                  RoleGrant.region_code == venue.region_code)))


def _people() -> Select[User]:
    """Active users by their grants, without loading the grants (notify needs name and email)."""
    return (select(User).join(RoleGrant, RoleGrant.user_id == User.id).where(User.active)
            .options(lazyload(User.grants)).distinct())


def _booking_people(booking: Booking) -> set[User]:
    """The booking side: whoever booked, and the organizers of every hosting branch."""
    people = set(db.session.scalars(_people().where(
        RoleGrant.role == Role.ORGANIZER, RoleGrant.organization_id.in_(access.booking_branches(booking)))))
    if booking.booked_by_id is not None:
        booker = db.session.get(User, booking.booked_by_id)
        if booker is not None and booker.active:
            people.add(booker)
    return people


def _tell(actor: User, people: Iterable[User], *, kind: str, title: str, body: str, booking: Booking) -> None:
    for person in sorted(people, key=lambda u: u.id):
        if person.id != actor.id:
            notify(person, kind=kind, title=title, body=body, link=path_for("bookings.booking", booking_id=booking.id))


# --- the branch's calendar address -----------------------------------------------------------------


def organization_feed(*, actor: User, organization: Organization, regenerate: bool = False) -> CalendarFeed:
    """The branch's calendar feed (created on first use); regenerating retires the old address."""
    if not access.may_manage_feed(actor, organization):
        raise PermissionDenied("只有本组织的组织者可以管理日历订阅")
    feed = db.session.scalar(select(CalendarFeed).where(CalendarFeed.organization_id == organization.id))
    if feed is None:
        feed = CalendarFeed(organization_id=organization.id, token=new_token(), created_by_id=actor.id)
        db.session.add(feed)
    elif regenerate:
        feed.token, feed.created_by_id, feed.created_at = new_token(), actor.id, utcnow()
    db.session.flush()
    record_audit(actor, "organization.feed_token", organization)
    return feed
