"""Check-in and check-out: the code on the organizer's screen, the member's tap, the organizer's hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.attendance import codes, services
from app.attendance.models import Attendance, CheckInMethod
from app.clock import utcnow
from app.errors import Conflict, Invalid, PermissionDenied
from tests.attendance.conftest import SESSION_START

SECRET = "test-secret"


def _scan(session, now=None):
    return codes.read_code(SECRET, codes.make_code(SECRET, codes.SESSION, session.id, now or utcnow()),
                           codes.SESSION, session.id, now or utcnow())


def _count(db, session) -> int:
    return db.session.scalar(select(func.count()).select_from(Attendance).where(Attendance.session_id == session.id))


# --- the code itself (pure) ----------------------------------------------------------------------

def test_a_code_is_good_for_its_window_and_the_next_then_expires(clock):
    now = utcnow()
    code = codes.make_code(SECRET, codes.SESSION, 7, now)
    start = now - timedelta(seconds=codes.seconds_left(now) - codes.WINDOW_SECONDS)  # its window's first second
    assert codes.read_code(SECRET, code, codes.SESSION, 7, start + timedelta(seconds=59)).target_id == 7
    with pytest.raises(codes.CodeRefused, match="过期"):
        codes.read_code(SECRET, code, codes.SESSION, 7, start + timedelta(seconds=60))
    with pytest.raises(codes.CodeRefused, match="过期"):     # a code from the future is no better
        codes.read_code(SECRET, code, codes.SESSION, 7, start - timedelta(seconds=1))


@pytest.mark.parametrize("token", ["", "abc", "WzEsMiwzXQ.forged", "null.x"])
def test_a_forged_code_is_refused(token):
    with pytest.raises(codes.CodeRefused, match="无效"):
        codes.read_code(SECRET, token, codes.SESSION, 7, utcnow())


def test_a_code_signed_with_another_key_is_refused():
    code = codes.make_code("another-secret", codes.SESSION, 7, utcnow())
    with pytest.raises(codes.CodeRefused, match="无效"):
        codes.read_code(SECRET, code, codes.SESSION, 7, utcnow())


def test_a_code_of_another_session_or_a_booking_is_refused():
    code = codes.make_code(SECRET, codes.SESSION, 7, utcnow())
    with pytest.raises(codes.CodeRefused, match="不是这次活动"):
        codes.read_code(SECRET, code, codes.SESSION, 8, utcnow())
    with pytest.raises(codes.CodeRefused, match="不是这次活动"):
        codes.read_code(SECRET, code, codes.OCCURRENCE, 7, utcnow())


def test_a_ticket_lasts_ten_minutes_and_is_no_code():
    now = utcnow()
    scan = codes.read_code(SECRET, codes.make_code(SECRET, codes.SESSION, 7, now), codes.SESSION, 7, now)
    ticket = codes.make_ticket(SECRET, scan)
    assert codes.read_ticket(SECRET, ticket, codes.SESSION, 7, now + timedelta(minutes=9)) == scan
    with pytest.raises(codes.CodeRefused, match="10 分钟"):
        codes.read_ticket(SECRET, ticket, codes.SESSION, 7, now + timedelta(minutes=11))
    with pytest.raises(codes.CodeRefused, match="无效"):        # a ticket does not pass for a code
        codes.read_code(SECRET, ticket, codes.SESSION, 7, now)


# --- checking in ---------------------------------------------------------------------------------

def test_a_member_checks_in_and_out_by_scanning(db, clock, on_session):
    task, session, [member] = on_session()
    clock.now = SESSION_START - timedelta(minutes=5)
    row = services.scan_in(actor=member.user, target=session, scan=_scan(session))
    assert row.checked_in_at == clock.now and row.check_in_method is CheckInMethod.QR and row.recorded_by_id is None
    clock.now = SESSION_START + timedelta(hours=1, minutes=50)
    row = services.scan_out(actor=member.user, target=session, scan=_scan(session))
    assert row.checked_out_at == clock.now and row.check_out_method is CheckInMethod.QR


def test_a_replayed_code_is_refused_and_changes_nothing(db, clock, on_session):
    task, session, [member] = on_session()
    clock.now = SESSION_START
    scan = _scan(session)
    services.scan_in(actor=member.user, target=session, scan=scan)
    db.session.commit()
    with pytest.raises(Conflict, match="已经用过"):
        services.scan_out(actor=member.user, target=session, scan=scan)
    db.session.rollback()
    row = services.attendance_of(session, member.id)
    assert row.checked_out_at is None and _count(db, session) == 1


def test_two_check_ins_of_the_same_member_count_once(db, clock, on_session):
    task, session, [member] = on_session()
    clock.now = SESSION_START
    first = services.scan_in(actor=member.user, target=session, scan=_scan(session))
    clock.now += timedelta(minutes=3)
    second = services.scan_in(actor=member.user, target=session, scan=_scan(session))
    assert first.id == second.id and second.checked_in_at == SESSION_START and _count(db, session) == 1


def test_a_scan_for_another_session_is_refused(db, clock, on_session):
    _, session, [member] = on_session()
    _, other, _ = on_session(n=0)
    clock.now = SESSION_START
    with pytest.raises(Invalid, match="不是这次活动"):
        services.scan_in(actor=member.user, target=session, scan=_scan(other))
    assert _count(db, session) == 0


def test_only_members_with_a_place_check_in(db, clock, on_session, create_member):
    _, session, _ = on_session()
    stranger = create_member(name="路人")
    clock.now = SESSION_START
    with pytest.raises(PermissionDenied, match="不在这次服务的名单上"):
        services.scan_in(actor=stranger.user, target=session, scan=_scan(session))
    assert _count(db, session) == 0


@pytest.mark.parametrize("moment,message", [
    (SESSION_START - timedelta(minutes=61), "还没到签到时间"),
    (SESSION_START + timedelta(hours=2), "已经结束"),
])
def test_check_in_is_open_from_an_hour_before_until_the_end(db, clock, on_session, moment, message):
    _, session, [member] = on_session()
    clock.now = moment
    with pytest.raises(Invalid, match=message):
        services.scan_in(actor=member.user, target=session, scan=_scan(session))


def test_check_out_needs_a_check_in(db, clock, on_session):
    _, session, [member] = on_session()
    clock.now = SESSION_START + timedelta(hours=1)
    with pytest.raises(Invalid, match="还没有签到"):
        services.scan_out(actor=member.user, target=session, scan=_scan(session))


def test_the_organizer_checks_in_by_hand_and_it_is_recorded_as_such(db, clock, on_session):
    task, session, [member] = on_session()
    clock.now = SESSION_START + timedelta(minutes=10)
    row = services.check_in_by_hand(actor=task.organizer, session=session, member_id=member.id)
    assert row.check_in_method is CheckInMethod.MANUAL and row.recorded_by_id == task.organizer.id
    clock.now = SESSION_START + timedelta(hours=2)
    row = services.check_in_by_hand(actor=task.organizer, session=session, member_id=member.id, out=True)
    assert row.check_out_method is CheckInMethod.MANUAL and row.checked_out_at == clock.now


def test_others_cannot_check_in_by_hand(db, clock, on_session, create_org, create_user):
    _, session, [member] = on_session()
    other = create_user(name="别处书记", roles=[("organizer", create_org())])
    clock.now = SESSION_START
    with pytest.raises(PermissionDenied):
        services.check_in_by_hand(actor=other, session=session, member_id=member.id)
    assert _count(db, session) == 0
