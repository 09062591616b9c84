"""The main flow of the foundation, in a real browser: register → log in → 长辈版 on → log out."""

import itertools
import os
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, submit

pytestmark = pytest.mark.browser
_numbers = itertools.count(1)


def px(page, selector: str, prop: str) -> float:
    return float(page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}").removesuffix("px"))


def test_register_log_in_switch_to_elder_mode_and_log_out(page):
    phone = f"1377{os.getpid() % 10000:04d}{next(_numbers):03d}"
    page.goto("/register")
    page.get_by_label("姓名").fill("刘秀兰")
    page.get_by_label("手机号码").fill(f"{phone[:3]} {phone[3:7]} {phone[7:]}")
    page.get_by_label("设置密码").fill("老伴李秀英1958年")
    page.get_by_label("再输入一次密码").fill("老伴李秀英1958年")
    page.get_by_label("我已阅读并同意").check()
    submit(page, page.get_by_role("button", name="注册"))
    expect(page.get_by_role("heading", name="登记到银发人才库")).to_be_visible()   # straight on to registering
    page.goto("/")
    expect(page.get_by_role("heading", name="刘秀兰，您好")).to_be_visible()

    submit(page, page.get_by_role("button", name="退出登录"))
    expect(page.get_by_role("link", name="登录", exact=True).first).to_be_visible()

    sign_in(page, phone, "老伴李秀英1958年")
    assert px(page, "body", "fontSize") >= 18
    submit(page, page.get_by_role("button", name="长辈版"))
    expect(page.locator("html.elder")).to_have_count(1)
    assert px(page, "body", "fontSize") >= 24
    expect(page.get_by_role("button", name="长辈版：已开")).to_have_attribute("aria-pressed", "true")

    page.goto("/account/password")
    assert px(page, "button.primary", "height") >= 60
    page.reload()
    expect(page.locator("html.elder")).to_have_count(1)  # it persists

    submit(page, page.get_by_role("button", name="退出登录"))
    page.goto("/account")
    expect(page).to_have_url(re.compile("/login"))


def test_a_wrong_password_shows_the_error_summary_with_focus(page):
    page.goto("/login")
    page.get_by_label("手机号码").fill("19900000001")
    page.get_by_label("密码").fill("not-the-password")
    submit(page, page.get_by_role("button", name="登录"))
    expect(page).to_have_title(re.compile("^错误："))
    expect(page.locator(".error-summary")).to_be_focused()
    expect(page.get_by_label("手机号码")).to_have_value("19900000001")


def test_error_summary_links_move_focus_to_the_field(page):
    page.goto("/register")
    page.get_by_label("姓名").fill("王")
    submit(page, page.get_by_role("button", name="注册"))
    page.locator(".error-summary a", has_text="手机号码").click()
    expect(page.locator("#phone")).to_be_focused()
