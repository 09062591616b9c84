"""Hours from attendance: proposed from check-in and check-out, confirmed or changed with a reason,
locked once confirmed, corrected only by a new, audited entry."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from app.attendance import services as attendance
from app.audit.models import AuditEvent
from app.errors import Conflict, Invalid
from app.tasks import ledger, records
from app.tasks.hours import propose, round_half_hours
from app.tasks.models import Assignment, ServiceRecord
from tests.attendance.conftest import SESSION_START

START, END = datetime(2026, 9, 2, 9, 0), datetime(2026, 9, 2, 11, 0)


@pytest.mark.parametrize("minutes,hours", [(0, 0), (14, 0), (15, 0.5), (44, 0.5), (45, 1.0), (74, 1.0), (75, 1.5),
                                           (120, 2.0), (-5, 0)])
def test_rounding_to_the_nearest_half_hour(minutes, hours):
    assert round_half_hours(minutes * 60) == hours


@pytest.mark.parametrize("check_in,check_out,hours", [
    ("9:00", "11:00", 2.0),
    ("9:10", "10:40", 1.5),
    ("9:20", "10:34", 1.0),        # 74 minutes
    ("8:00", "11:30", 2.0),        # early and late: capped at the session's two hours
    ("9:30", None, 1.5),           # no check-out: the session's end stands in
    ("10:50", "10:55", 0.0),
])
def test_hours_proposed_from_check_in_and_out(check_in, check_out, hours):
    def t(text):
        h, m = text.split(":")
        return START.replace(hour=int(h), minute=int(m))
    assert propose(checked_in=t(check_in), checked_out=t(check_out) if check_out else None,
                   starts=START, ends=END) == hours


def test_no_check_in_proposes_nothing_and_an_odd_session_caps_at_its_length():
    assert propose(checked_in=None, checked_out=None, starts=START, ends=END) is None
    assert propose(checked_in=START, checked_out=END, starts=START, ends=START + timedelta(minutes=110)) == 1.83


def _assignment(db, task, member) -> Assignment:
    return db.session.scalar(select(Assignment).where(Assignment.task_id == task.id,
                                                      Assignment.member_id == member.id))


def _attend(clock, task, session, member, minutes_in=5, minutes_out=100):
    clock.now = SESSION_START + timedelta(minutes=minutes_in)
    attendance.check_in_by_hand(actor=task.organizer, session=session, member_id=member.id)
    clock.now = SESSION_START + timedelta(minutes=minutes_out)
    attendance.check_in_by_hand(actor=task.organizer, session=session, member_id=member.id, out=True)


@pytest.fixture
def served(db, clock, on_session):
    """A session over, one member who checked in 9:05 and out 10:40 (proposal 1.5 h)."""
    task, session, [member] = on_session()
    _attend(clock, task, session, member)
    clock.now = SESSION_START + timedelta(hours=3)
    db.session.commit()
    return task, session, member


def test_the_proposal_is_confirmed_without_a_reason(db, served):
    task, session, member = served
    assert records.proposals(session) == {member.id: 1.5}
    [record] = records.confirm_attendance(actor=task.organizer, session=session,
                                          entries={_assignment(db, task, member).id: (True, 1.5, "")})
    assert record.proposed_hours == 1.5 and record.hours == 1.5 and ledger.member_hours(member.id) == 1.5


def test_other_hours_than_proposed_need_a_reason(db, served):
    task, session, member = served
    a = _assignment(db, task, member)
    with pytest.raises(Invalid, match="按签到签退应记 1.5 小时.*请写明原因") as refused:
        records.confirm_attendance(actor=task.organizer, session=session, entries={a.id: (True, 2.0, "")})
    assert refused.value.field == f"reason_{a.id}"
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0
    [record] = records.confirm_attendance(actor=task.organizer, session=session, entries={
        a.id: records.HoursEntry(attended=True, hours=2.0, reason="提前到场布置会场")})
    assert record.hours == 2.0 and record.reason == "提前到场布置会场" and record.proposed_hours == 1.5


def test_a_confirmed_hour_cannot_be_edited_in_the_database(db, served):
    task, session, member = served
    [record] = records.confirm_attendance(actor=task.organizer, session=session,
                                          entries={_assignment(db, task, member).id: (True, 1.5, "")})
    db.session.commit()
    with pytest.raises(sa.exc.DBAPIError, match="service_records_locked"):
        with db.session.begin_nested():
            db.session.execute(sa.update(ServiceRecord).where(ServiceRecord.id == record.id).values(hours=3))
    db.session.expire_all()
    assert db.session.get(ServiceRecord, record.id).hours == 1.5


def test_a_correction_is_a_new_audited_entry(db, served):
    task, session, member = served
    [record] = records.confirm_attendance(actor=task.organizer, session=session,
                                          entries={_assignment(db, task, member).id: (True, 1.5, "")})
    db.session.commit()
    entry = records.correct_hours(actor=task.organizer, record=record, hours=2.5, reason="漏记了会后整理材料", seen=1.5)
    db.session.commit()
    assert entry.corrects_id == record.id and entry.hours == 1.0 and entry.reason == "漏记了会后整理材料"
    db.session.expire_all()
    assert db.session.get(ServiceRecord, record.id).hours == 1.5          # the original is untouched
    assert ledger.member_hours(member.id) == 2.5
    assert [s.hours for s in ledger.served_records(member.id)] == [2.5]
    audit = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "task.hours_correct"))
    assert audit is not None and "漏记了会后整理材料" in str(audit.detail)
    records.correct_hours(actor=task.organizer, record=record, hours=0, reason="其实当天没来", seen=2.5)
    assert ledger.member_hours(member.id) == 0 and ledger.served_records(member.id) == []


@pytest.mark.parametrize("hours,reason,seen,error,message", [
    (2.0, "", 1.5, Invalid, "更正的原因"),
    (1.5, "写错了", 1.5, Invalid, "一样"),
    (30, "写错了", 1.5, Invalid, "0 到 6"),
    (2.0, "写错了", 1.0, Conflict, "刚被更正为 1.5 小时"),     # someone corrected it since the page was shown
])
def test_bad_corrections_are_refused_and_change_nothing(db, served, hours, reason, seen, error, message):
    task, session, member = served
    [record] = records.confirm_attendance(actor=task.organizer, session=session,
                                          entries={_assignment(db, task, member).id: (True, 1.5, "")})
    db.session.commit()
    with pytest.raises(error, match=message):
        records.correct_hours(actor=task.organizer, record=record, hours=hours, reason=reason, seen=seen)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 1
    assert ledger.member_hours(member.id) == 1.5


def test_the_organizer_corrects_through_the_page(client, db, login, post, served):
    task, session, member = served
    [record] = records.confirm_attendance(actor=task.organizer, session=session,
                                          entries={_assignment(db, task, member).id: (True, 1.5, "")})
    db.session.commit()
    login(task.organizer)
    page = client.get(f"/tasks/{task.id}/sessions/{session.id}/attendance").get_data(as_text=True)
    assert "已确认（已锁定）" in page and "9:05–10:40" in page
    path = f"/tasks/{task.id}/records/{record.id}/correct"
    r = post(path, {"hours": "2", "reason": "", "seen": "1.5"})
    assert r.status_code == 400 and "更正的原因" in r.get_data(as_text=True)
    r = post(path, {"hours": "2", "reason": "漏记了", "seen": "1.5"})
    assert r.status_code == 302
    assert ledger.member_hours(member.id) == 2.0
    assert "漏记了" in client.get(path).get_data(as_text=True)


def test_the_attendance_page_proposes_hours_and_asks_why_they_differ(client, db, login, post, served):
    task, session, member = served
    a = _assignment(db, task, member)
    login(task.organizer)
    path = f"/tasks/{task.id}/sessions/{session.id}/attendance"
    page = client.get(path).get_data(as_text=True)
    assert "推算 1.5 小时" in page and 'value="1.5"' in page
    r = post(path, {f"attended_{a.id}": "y", f"hours_{a.id}": "2"})
    assert r.status_code == 400 and "请写明原因" in r.get_data(as_text=True) and 'value="2"' in r.get_data(as_text=True)
    assert post(path, {f"attended_{a.id}": "y", f"hours_{a.id}": "2", f"reason_{a.id}": "布置会场"}).status_code == 302
    assert ledger.member_hours(member.id) == 2.0
