"""The booking flow in a real browser: a branch books the shared home with an activity package →
the manager approves it from the queue → the venue's calendar shows it → the branch cancels it.
Every step of the wizard also passes the accessibility checks."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from app.clock import local_now
from app.venues.holidays import public_holiday
from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import check

pytestmark = pytest.mark.browser


def a_free_weekday():
    """A Tuesday or Wednesday four weeks or more ahead that is no holiday (the demo books earlier)."""
    day = local_now().date() + timedelta(days=28)
    while day.weekday() not in (1, 2) or public_holiday(day):
        day += timedelta(days=1)
    return day


def accessible(page, label: str) -> None:
    problems = check(page, Axe(), label, {}, elder=False)
    assert not problems, "\n".join(problems)


def test_book_with_a_package_approve_see_it_in_the_calendar_and_cancel(browser, live_server):
    day = a_free_weekday()
    title = f"重温入党誓词主题党日{day:%m%d}"
    branch = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN", base_url=live_server.url)
    page = branch.new_page()
    sign_in(page, "19900000011")

    page.get_by_role("link", name="场地", exact=True).click()
    page.get_by_label("在哪里附近").fill("管城回族区")
    page.get_by_role("button", name="查找场地").click()
    page.get_by_role("link", name="管城回族区东大街街道老党员共享家园").click()
    page.get_by_role("link", name="预约这个场地").click()

    page.get_by_label("日期").fill(day.isoformat())
    page.get_by_label("开始时间").select_option("15:00")
    page.get_by_label("结束时间").select_option("16:00")
    page.get_by_role("button", name="下一步").click()

    assert page.get_by_role("heading", name="活动内容").is_visible()
    accessible(page, "wizard/details")
    page.get_by_label("主题党日", exact=True).check()
    page.get_by_label("活动主题").fill(title)
    page.get_by_label(re.compile("^重温入党誓词")).check()
    page.get_by_label("本单位参加人数").fill("15")
    page.get_by_role("button", name="下一步").click()

    assert page.get_by_role("heading", name="是否重复").is_visible()
    accessible(page, "wizard/repeat")
    page.get_by_role("button", name="下一步").click()

    assert page.get_by_role("heading", name="核对并提交").is_visible()
    accessible(page, "wizard/confirm")
    assert page.get_by_text("将要预约的日期（1 个）").is_visible()
    page.get_by_role("button", name="提交预约").click()
    assert page.get_by_text("预约已提交").is_visible()
    assert page.get_by_role("heading", name=title).is_visible()
    booking_url = page.url
    accessible(page, "booking/pending")

    manager = browser.new_context(viewport={"width": 320, "height": 640}, locale="zh-CN", base_url=live_server.url)
    mpage = manager.new_page()
    sign_in(mpage, "19900000031")
    mpage.get_by_role("link", name="预约审核").click()
    card = mpage.locator("li.card", has=mpage.get_by_role("link", name=title))
    card.get_by_role("button", name="批准").click()
    assert mpage.get_by_text("已批准").first.is_visible()
    assert mpage.locator("li.card", has=mpage.get_by_role("link", name=title)).count() == 0
    manager.close()

    page.goto(booking_url)
    assert page.locator(".tag", has_text="已批准").first.is_visible()
    page.get_by_role("link", name="在场地日历中查看").click()
    slot = page.locator("li.slot.taken", has_text=title)
    assert slot.is_visible() and "15:00–16:00" in slot.inner_text() and "已批准" in slot.inner_text()
    accessible(page, "calendar/week")

    page.goto(booking_url)
    page.get_by_role("link", name="取消整个预约").click()
    page.get_by_label("原因").fill("支部改到社区会议室开展")
    page.get_by_role("button", name="确认取消").click()
    assert page.get_by_text("已取消 1 个日期").is_visible()
    assert page.locator(".tag", has_text="已取消").first.is_visible()
    page.get_by_role("link", name="在场地日历中查看").click()
    assert page.locator("li.slot.taken", has_text=title).count() == 0
    assert page.locator("li.slot.free", has_text="15:00").count() + page.locator("li.slot.free", has_text="14:30").count() >= 1
    branch.close()
