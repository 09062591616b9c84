"""The journeys of issue 16, played as a first-time user would on a phone at 390 × 844 with the
长辈版 on (the organizer at 1280 × 800), counting page loads and taps on the straight path:

- registration to the first task seen (goal: at most 16 page loads with the demo data);
- an invitation accepted through to the calendar file (which reminds the day before).

The counts are written to test-artifacts/journeys.json."""

import itertools
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from icalendar import Calendar
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import sign_in, submit
from tests.conftest import record

pytestmark = pytest.mark.browser
_numbers = itertools.count(1)
PHONE_VIEW = {"width": 390, "height": 844}


class Journey:
    """A page whose loads (main-frame navigations) and taps (every click, tick, choice or field
    typed into) are counted."""

    def __init__(self, page):
        self.page, self.loads, self.taps = page, 0, 0
        page.on("framenavigated", lambda frame: self._navigated(frame))

    def _navigated(self, frame) -> None:
        if frame == self.page.main_frame:
            self.loads += 1

    def go(self, target) -> None:
        self.taps += 1
        submit(self.page, target)

    def fill(self, target, text: str) -> None:
        self.taps += 1
        target.fill(text)

    def tick(self, target) -> None:
        self.taps += 1
        target.check()

    def choose(self, target, label: str) -> None:
        self.taps += 2          # open the list, pick one
        target.select_option(label=label)


def elder_phone(browser, live_server):
    context = browser.new_context(viewport=PHONE_VIEW, base_url=live_server.url, locale="zh-CN",
                                  is_mobile=True, has_touch=True, accept_downloads=True)
    context.add_cookies([{"name": "yinhui_elder", "value": "1", "url": live_server.url}])
    return context


def test_a_newcomer_registers_sees_a_task_accepts_an_invitation_and_gets_the_calendar(browser, live_server):
    context = elder_phone(browser, live_server)
    j = Journey(context.new_page())
    page = j.page
    phone = f"1366{os.getpid() % 10000:04d}{next(_numbers) + 500:03d}"[:11]

    # --- registration to the first task seen -------------------------------------------------------
    page.goto("/register")
    j.loads = 1                                   # the sign-up page, reached from a link or a QR code
    j.fill(page.get_by_label("姓名"), "赵淑芬")
    j.fill(page.get_by_label("手机号码"), phone)
    j.fill(page.get_by_label("设置密码"), "外孙女小雨2019年")
    j.fill(page.get_by_label("再输入一次密码"), "外孙女小雨2019年")
    j.tick(page.get_by_label("我已阅读并同意"))
    j.go(page.get_by_role("button", name="注册"))
    expect(page.locator("html.elder")).to_have_count(1)
    j.go(page.get_by_role("link", name="开始", exact=True))
    expect(page.get_by_role("heading", name="性别")).to_be_visible()
    j.tick(page.get_by_label("女"))
    j.go(page.get_by_role("button", name="下一步"))
    j.fill(page.get_by_label("出生年份"), "1954")
    j.go(page.get_by_role("button", name="下一步"))
    j.fill(page.get_by_label("家庭住址"), "郑州市管城回族区东大街18号")
    j.go(page.get_by_role("button", name="下一步"))
    expect(page.get_by_role("radio", name="暂不选择（找不到我的支部）")).to_be_checked()
    j.go(page.get_by_role("button", name="下一步"))                     # branch: not chosen
    j.go(page.get_by_role("button", name="下一步"))                     # work: optional
    j.tick(page.get_by_label("我同意保存"))
    j.go(page.get_by_role("button", name="下一步"))
    j.tick(page.get_by_label("轻度"))
    j.go(page.get_by_role("button", name="下一步"))
    j.go(page.get_by_role("button", name="下一步"))                     # limits: none
    j.go(page.get_by_role("button", name="下一步"))                     # radius: 5 km, as offered
    j.go(page.get_by_role("button", name="工作日白天都行"))
    j.choose(page.get_by_label("专长"), "课业辅导")
    j.tick(page.get_by_label("精通"))
    j.go(page.get_by_role("button", name="下一步"))
    j.tick(page.get_by_role("radio", name=re.compile("^加入。")))
    j.go(page.get_by_role("button", name="下一步"))
    expect(page.get_by_role("heading", name="核对一下您的信息")).to_be_visible()
    j.go(page.get_by_role("button", name="确认提交"))
    expect(page.get_by_role("heading", name="登记完成")).to_be_visible()
    expect(page.get_by_text("个工作日内审核完")).to_be_visible()
    expect(page.get_by_role("link", name="四点半课堂课业辅导")).to_be_visible()     # the first task seen
    registration = {"page_loads": j.loads, "taps": j.taps}
    assert j.loads <= 16, registration
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")

    # --- the organizer invites her (1280 × 800) ------------------------------------------------------
    from app.extensions import db
    from app.tasks.models import Task

    with live_server.app.app_context():
        tutoring = db.session.scalar(select(Task.id).where(Task.title == "四点半课堂课业辅导"))
    organizer_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
    org = organizer_ctx.new_page()
    sign_in(org, "19900000011")
    org.goto(f"/tasks/{tutoring}/candidates")
    org.locator(".candidate-list li", has_text="赵淑芬").get_by_role("checkbox").check()
    submit(org, org.get_by_role("button", name="邀请选中的老同志"))
    expect(org.get_by_text("他们回复后会通知您")).to_be_visible()
    organizer_ctx.close()

    # --- the invitation accepted, to the calendar file ------------------------------------------------
    j.loads, j.taps = 0, 0
    page.goto("/")
    j.loads = 1
    j.go(page.get_by_role("link", name="志愿服务").last)
    card = page.locator(".card", has_text="四点半课堂课业辅导")
    j.go(card.get_by_role("button", name="我去"))
    expect(page.get_by_role("heading", name="接下来")).to_be_visible()
    button = page.get_by_role("link", name="加到手机日历（提前一天提醒）")
    assert button.bounding_box()["height"] >= 60
    with page.expect_download() as download:
        j.taps += 1
        button.click()
    events = list(Calendar.from_ical(Path(download.value.path()).read_bytes()).walk("VEVENT"))
    assert events and all(e.walk("VALARM") for e in events)
    accepting = {"page_loads": j.loads, "taps": j.taps, "calendar_events": len(events)}
    assert j.loads <= 3, accepting
    record("journeys", {"registration_to_first_task": registration, "invitation_to_calendar": accepting})
    print("journeys:", registration, accepting)
    context.close()


def test_the_organizer_posts_a_need_to_an_invitation_and_books_a_venue(browser, live_server):
    """At 1280 × 800 from the organizer's home. Page loads before issue 16, on the same path: a
    need to an invitation 10, a venue booked 8 (场地 → search → venue → 预约 → four pages)."""
    from datetime import date

    from app.venues.holidays import public_holiday
    from tests.browser.test_task_flows import next_weekday

    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    sign_in(page, "19900000011")
    j = Journey(page)

    # --- a need posted, to an invitation ----------------------------------------------------------------
    j.go(page.get_by_role("link", name="发布新需求"))
    j.fill(page.get_by_label("需求名称"), "社区读报会")
    j.tick(page.get_by_role("radio", name="为老服务"))
    j.go(page.get_by_role("button", name="下一步"))
    j.tick(page.get_by_role("radio", name="到现场"))
    j.go(page.get_by_role("button", name="下一步"))
    j.tick(page.get_by_role("radio", name="一次"))
    j.fill(page.get_by_label("日期（每周固定时，为开始日期）"), next_weekday(4).isoformat())
    j.fill(page.get_by_label("开始时间"), "09:00")
    j.fill(page.get_by_label("结束时间"), "10:30")
    j.go(page.get_by_role("button", name="下一步"))
    j.fill(page.get_by_label("需要几个人"), "1")
    j.tick(page.get_by_label(re.compile("^轻度")))
    j.go(page.get_by_role("button", name="下一步"))
    j.choose(page.get_by_label("需要的专长"), "矛盾纠纷调解")
    j.tick(page.get_by_role("radio", name="熟练"))
    j.go(page.get_by_role("button", name="添加这项专长"))
    j.go(page.get_by_role("button", name="完成，去检查并发布"))
    j.go(page.get_by_role("button", name="发布，开始找人"))
    j.go(page.get_by_role("link", name="看看推荐的老同志"))
    j.tick(page.locator(".candidate-list li", has_text="演示·张大爷").get_by_role("checkbox"))
    j.go(page.get_by_role("button", name="邀请选中的老同志"))
    expect(page.get_by_text("已邀请 1 位老同志")).to_be_visible()
    posting = {"page_loads": j.loads, "taps": j.taps}
    assert j.loads <= 10, posting

    # --- a venue booked -----------------------------------------------------------------------------------
    page.goto("/")
    j.loads, j.taps = 0, 0
    day = date.today() + timedelta(days=35)
    while day.weekday() not in (1, 2) or public_holiday(day):
        day += timedelta(days=1)
    j.go(page.locator("main").get_by_role("link", name="预约场地"))
    j.go(page.get_by_role("link", name=re.compile(r"^预约\s*管城回族区东大街街道老党员共享家园")))
    j.fill(page.get_by_label("日期"), day.isoformat())
    j.choose(page.get_by_label("开始时间"), "9:00")
    j.choose(page.get_by_label("结束时间"), "10:00")
    j.go(page.get_by_role("button", name="下一步"))
    j.tick(page.get_by_label("主题党日", exact=True))
    j.fill(page.get_by_label("活动主题"), f"读报学习会{day:%m%d}")
    j.go(page.get_by_role("button", name="下一步"))
    j.go(page.get_by_role("button", name="下一步"))                 # no package
    j.fill(page.get_by_label("本单位参加人数"), "12")
    j.go(page.get_by_role("button", name="下一步"))
    j.go(page.get_by_role("button", name="下一步"))                 # no repeat
    j.go(page.get_by_role("button", name="提交预约"))
    expect(page.get_by_text("预约已提交")).to_be_visible()
    booking = {"page_loads": j.loads, "taps": j.taps}
    assert j.loads <= 8, booking
    record("journeys", {"need_to_invitation": posting, "venue_booked": booking})
    print("journeys:", posting, booking)
    context.close()
