"""The booking flow in a real browser: a branch books the shared home with an activity package →
the manager approves it from the queue → the venue's calendar shows it → the branch cancels it.
Every step of the wizard also passes the accessibility checks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.clock import local_now
from app.venues.holidays import public_holiday
from tests.browser.conftest import sign_in, submit
from tests.browser.test_accessibility import check, with_axe

pytestmark = pytest.mark.browser


def a_free_weekday():
    """A Tuesday or Wednesday four weeks or more ahead that is no holiday (the demo books earlier)."""
    day = local_now().date() + timedelta(days=28)
    while day.weekday() not in (1, 2) or public_holiday(day):
        day += timedelta(days=1)
    return day


def accessible(page, label: str) -> None:
    problems = check(page, True, label, {}, elder=False)   # axe: loaded by the context (with_axe)
    assert not problems, "\n".join(problems)


def test_book_with_a_package_approve_see_it_in_the_calendar_and_cancel(browser, live_server):
    day = a_free_weekday()
    title = f"重温入党誓词主题党日{day:%m%d}"
    branch = with_axe(browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN",
                                          base_url=live_server.url))
    page = branch.new_page()
    sign_in(page, "19900000011")

    submit(page, page.get_by_role("link", name="场地", exact=True))
    page.get_by_label("在哪里附近").fill("管城回族区")
    submit(page, page.get_by_role("button", name="查找场地"))
    submit(page, page.get_by_role("link", name="管城回族区东大街街道老党员共享家园", exact=True))
    submit(page, page.get_by_role("link", name="预约这个场地"))

    page.get_by_label("日期").fill(day.isoformat())
    page.get_by_label("开始时间").select_option("15:00")
    page.get_by_label("结束时间").select_option("16:00")
    submit(page, page.get_by_role("button", name="下一步"))

    expect(page.get_by_role("heading", name="办什么活动？")).to_be_visible()
    accessible(page, "wizard/activity")
    page.get_by_label("主题党日", exact=True).check()
    page.get_by_label("活动主题").fill(title)
    submit(page, page.get_by_role("button", name="下一步"))
    expect(page.get_by_role("heading", name="要不要选活动套餐？")).to_be_visible()
    accessible(page, "wizard/package")
    page.get_by_label(re.compile("^重温入党誓词")).check()
    submit(page, page.get_by_role("button", name="下一步"))
    expect(page.get_by_role("heading", name="有多少人参加？")).to_be_visible()
    accessible(page, "wizard/people")
    page.get_by_label("本单位参加人数").fill("15")
    submit(page, page.get_by_role("button", name="下一步"))

    expect(page.get_by_role("heading", name="是否重复")).to_be_visible()
    accessible(page, "wizard/repeat")
    submit(page, page.get_by_role("button", name="下一步"))

    expect(page.get_by_role("heading", name="核对并提交")).to_be_visible()
    accessible(page, "wizard/confirm")
    expect(page.get_by_text("将要预约的日期（1 个）")).to_be_visible()
    submit(page, page.get_by_role("button", name="提交预约"))
    expect(page.get_by_text("预约已提交")).to_be_visible()
    expect(page.get_by_role("heading", name=title)).to_be_visible()
    booking_url = page.url
    accessible(page, "booking/pending")

    manager = browser.new_context(viewport={"width": 320, "height": 640}, locale="zh-CN", base_url=live_server.url)
    mpage = manager.new_page()
    sign_in(mpage, "19900000031")
    submit(mpage, mpage.get_by_role("link", name="预约审核"))
    card = mpage.locator("li.card", has=mpage.get_by_role("link", name=title))
    submit(mpage, card.get_by_role("button", name="批准"))
    expect(mpage.get_by_text("已批准").first).to_be_visible()
    expect(mpage.locator("li.card", has=mpage.get_by_role("link", name=title))).to_have_count(0)
    manager.close()

    page.goto(booking_url)
    expect(page.locator(".tag", has_text="已批准").first).to_be_visible()
    submit(page, page.get_by_role("link", name="在场地日历中查看"))
    slot = page.locator("li.slot.taken", has_text=title)
    expect(slot).to_be_visible()
    expect(slot).to_contain_text("15:00–16:00")
    expect(slot).to_contain_text("已批准")
    accessible(page, "calendar/week")

    page.goto(booking_url)
    submit(page, page.get_by_role("link", name="取消整个预约"))
    page.get_by_label("原因").fill("支部改到社区会议室开展")
    submit(page, page.get_by_role("button", name="确认取消"))
    expect(page.get_by_text("已取消 1 个日期")).to_be_visible()
    expect(page.locator(".tag", has_text="已取消").first).to_be_visible()
    submit(page, page.get_by_role("link", name="在场地日历中查看"))
    expect(page.locator("li.slot.free").first).to_be_visible()       # the calendar is there
    expect(page.locator("li.slot.taken", has_text=title)).to_have_count(0)
    free = page.locator("li.slot.free", has_text="15:00").or_(page.locator("li.slot.free", has_text="14:30"))
    expect(free.first).to_be_visible()
    branch.close()
