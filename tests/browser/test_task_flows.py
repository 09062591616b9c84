"""Matching in a real browser: an organizer posts a need → sees ranked candidates with reasons →
invites → the member accepts → the organizer confirms hours → the member's proof of service shows them."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.clock import local_now
from tests.browser.conftest import sign_in, submit

pytestmark = pytest.mark.browser


def next_weekday(days_ahead: int = 3):
    day = (local_now() + timedelta(days=days_ahead)).date()
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def test_post_match_invite_accept_confirm_prove(browser, live_server):
    organizer_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    org = organizer_ctx.new_page()
    sign_in(org, "19900000011")
    org.goto("/tasks/new")
    org.get_by_label("需求名称").fill("社区义诊咨询")
    org.get_by_role("radio", name="为老服务").check()
    submit(org, org.get_by_role("button", name="下一步"))
    org.get_by_role("radio", name="到现场").check()
    submit(org, org.get_by_role("button", name="下一步"))
    org.get_by_role("radio", name="一次").check()
    org.get_by_label("日期（每周固定时，为开始日期）").fill(next_weekday().isoformat())
    org.get_by_label("开始时间").fill("09:00")
    org.get_by_label("结束时间").fill("11:00")
    submit(org, org.get_by_role("button", name="下一步"))
    org.get_by_label("需要几个人").fill("1")
    org.get_by_label(re.compile("^轻度")).check()
    submit(org, org.get_by_role("button", name="下一步"))
    org.get_by_label("需要的专长").select_option(label="健康咨询")
    org.get_by_role("radio", name="熟练").check()
    submit(org, org.get_by_role("button", name="添加这项专长"))
    submit(org, org.get_by_role("button", name="完成，去检查并发布"))
    submit(org, org.get_by_role("button", name="发布，开始找人"))
    submit(org, org.get_by_role("link", name="看看推荐的老同志"))

    candidate = org.locator(".candidate-list li", has_text="演示·李大夫")
    expect(candidate).to_contain_text("健康咨询·精通")
    expect(candidate).to_contain_text("有空")
    candidate.get_by_role("checkbox").check()
    org.get_by_label("想对老同志说的话").fill("李大夫，社区的老人们想请您看看。")
    submit(org, org.get_by_role("button", name="邀请选中的老同志"))
    expect(org.get_by_text("已邀请 1 位老同志")).to_be_visible()
    task_url = org.url

    member_ctx = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url)
    member = member_ctx.new_page()
    sign_in(member, "19900000022")
    member.goto("/my/tasks")
    card = member.locator(".card", has_text="社区义诊咨询")
    expect(card).to_contain_text("为什么请您")
    submit(member, card.get_by_role("button", name="我去"))
    expect(member.get_by_text("已确认参加").first).to_be_visible()

    # The session happens: move it into the past, as the clock would.
    from app.extensions import db
    from app.tasks.models import Task

    with live_server.app.app_context():
        task = db.session.scalar(select(Task).where(Task.title == "社区义诊咨询"))
        session = task.sessions[0]
        session.starts_at = local_now() - timedelta(hours=3)
        session.ends_at = local_now() - timedelta(hours=1)
        db.session.commit()
        task_id, session_id = task.id, session.id

    org.goto(task_url)
    org.goto(f"/tasks/{task_id}/sessions/{session_id}/attendance")
    org.get_by_label("演示·李大夫 服务时长（小时）").fill("2.5")
    org.get_by_label("对演示·李大夫的评价（选填）").fill("耐心细致")
    submit(org, org.get_by_role("button", name="确认这次服务"))
    expect(org.get_by_text("已确认这次服务的出勤和时长")).to_be_visible()

    member.goto("/my/proof")
    submit(member, member.get_by_role("button", name="开具东关南里社区的证明"))
    proof = member.locator(".certificate")
    for text in ("志愿服务证明", "演示·李大夫", "东关南里社区", "社区义诊咨询", "2.5"):
        expect(proof).to_contain_text(text)
    organizer_ctx.close()
    member_ctx.close()
