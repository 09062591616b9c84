"""Check-in and proof in a real browser, on phones (360 × 740): the organizer shows the code, the
member's phone opens the check-in link and taps 签到, the organizer's list shows them; after the
session the hours are confirmed, the member issues a proof, and the verification page opened by
anyone shows the masked record; a forged number and, after a correction, the revoked one show 无效."""

import re
from datetime import time, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.clock import local_now, utcnow
from tests.browser.conftest import sign_in, submit

pytestmark = pytest.mark.browser
PHONE = {"width": 360, "height": 740}


def _task_starting_soon(app):
    """An open task of the demo community starting in 20 minutes, 李大夫 accepted."""
    from app.accounts.models import User
    from app.extensions import db
    from app.members.models import MemberProfile
    from app.organizations.models import Organization
    from app.tasks import services
    from app.tasks.models import Assignment, AssignmentStatus, ScheduleKind, TaskCategory

    with app.app_context():
        organizer = db.session.scalar(select(User).where(User.phone == "19900000011"))
        doctor = db.session.scalar(select(User).where(User.phone == "19900000022"))
        org = db.session.scalar(select(Organization).where(Organization.name == "东关南里社区"))
        task = services.create_task(actor=organizer, organization=org, title="扫码签到的健康讲座", description="",
                                    category=TaskCategory.ELDER_CARE)
        tomorrow = (local_now() + timedelta(days=1)).date()
        services.set_schedule(actor=organizer, task=task, kind=ScheduleKind.ONCE, first_date=tomorrow,
                              last_date=None, weekdays=0, start_time=time(9), end_time=time(11))
        services.publish(actor=organizer, task=task)
        session = task.sessions[0]       # then, as the clock would, bring it to 20 minutes from now
        session.starts_at = (local_now() + timedelta(minutes=20)).replace(second=0)
        session.ends_at = session.starts_at + timedelta(hours=2)
        # 李大夫 took the place (the invitation and answer are the task flows' own browser test).
        db.session.add(Assignment(task_id=task.id, member_id=db.session.get(MemberProfile, doctor.id).id,
                                  origin="invited", status=AssignmentStatus.ACCEPTED, accepted_at=utcnow()))
        db.session.commit()
        return task.id, task.sessions[0].id


def _session_over(app, session_id):
    """The clock moves on: the session took place two to four hours ago, the member in from its start."""
    from app.attendance.models import Attendance
    from app.extensions import db
    from app.tasks.models import TaskSession

    with app.app_context():
        session = db.session.get(TaskSession, session_id)
        session.starts_at = (local_now() - timedelta(hours=4)).replace(second=0)
        session.ends_at = session.starts_at + timedelta(hours=2)
        row = db.session.scalar(select(Attendance).where(Attendance.session_id == session_id))
        row.checked_in_at = session.starts_at + timedelta(minutes=5)
        row.checked_out_at = session.ends_at - timedelta(minutes=10)
        db.session.commit()


def _correct(app, session_id):
    from app.accounts.models import User
    from app.extensions import db
    from app.tasks import records
    from app.tasks.models import ServiceRecord

    with app.app_context():
        record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.session_id == session_id))
        organizer = db.session.scalar(select(User).where(User.phone == "19900000011"))
        records.correct_hours(actor=organizer, record=record, hours=1.5, reason="提前离开", seen=2.0)
        db.session.commit()


def test_scan_check_in_confirm_issue_and_verify(browser, live_server):
    from app.proofs.services import mask_name

    task_id, session_id = _task_starting_soon(live_server.app)
    org_ctx = browser.new_context(viewport=PHONE, base_url=live_server.url)
    org = org_ctx.new_page()
    sign_in(org, "19900000011")
    org.goto(f"/attend/sessions/{session_id}/code")
    expect(org.locator("svg.qr")).to_be_visible()
    expect(org.get_by_text("还没有人签到")).to_be_visible()
    link = org.get_by_role("link", name="本场签到链接").get_attribute("href")

    member_ctx = browser.new_context(viewport=PHONE, base_url=live_server.url)
    member = member_ctx.new_page()
    sign_in(member, "19900000022")
    member.goto(link)                                  # what the phone's camera opens
    expect(member.get_by_text("您还没有签到")).to_be_visible()
    submit(member, member.get_by_role("button", name="签到"))
    expect(member.get_by_text("签到成功")).to_be_visible()

    # The organizer's screen updates itself (its script fetches the live part every 5 seconds).
    expect(org.get_by_role("heading", name="已签到（1 人）")).to_be_visible()
    expect(org.locator("table")).to_contain_text("演示·李大夫")

    _session_over(live_server.app, session_id)
    org.goto(f"/tasks/{task_id}/sessions/{session_id}/attendance")
    expect(org.get_by_label("演示·李大夫 服务时长（小时）")).to_have_value(re.compile(r"^2(\.0)?$"))
    submit(org, org.get_by_role("button", name="确认这次服务"))
    expect(org.get_by_text("已确认这次服务的出勤和时长")).to_be_visible()

    member.goto("/my/proof")
    submit(member, member.get_by_role("button", name="开具东关南里社区的证明"))
    certificate = member.locator(".certificate")
    expect(certificate).to_contain_text("扫码签到的健康讲座")
    expect(certificate.locator("svg.qr")).to_be_visible()
    number = re.search(r"YH(-[0-9A-Z]{4}){4}", certificate.inner_text()).group(0)

    anyone_ctx = browser.new_context(viewport=PHONE, base_url=live_server.url)
    anyone = anyone_ctx.new_page()
    anyone.goto(f"/verify/{number}")
    expect(anyone.locator(".summary-list")).to_contain_text(mask_name("演示·李大夫"))
    expect(anyone.locator(".summary-list")).to_contain_text("东关南里社区")
    expect(anyone.get_by_text("有效", exact=True)).to_be_visible()
    expect(anyone.locator("main")).not_to_contain_text("演示·李大夫")
    anyone.goto("/verify/YH-AAAA-BBBB-CCCC-DDDD")
    expect(anyone.get_by_text("无效", exact=True)).to_be_visible()
    _correct(live_server.app, session_id)
    anyone.goto(f"/verify/{number}")
    expect(anyone.get_by_text("无效", exact=True)).to_be_visible()
    expect(anyone.locator("main")).to_contain_text("已作废")
    for ctx in (org_ctx, member_ctx, anyone_ctx):
        ctx.close()
