"""Getting back in, in a real browser: on a 360 × 740 phone in 长辈版, forgot password → SMS code
(through the local Aliyun) → new password → signed in; a county admin's reset code, from the
admin's screen to the member's; and a county admin merging two accounts of one member."""

import itertools
import os
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from app.accounts.services import register_user
from app.extensions import db
from app.members.models import MemberProfile
from app.members.services import ProfileData, register_member
from app.organizations.models import Organization
from tests.browser.conftest import sign_in, submit
from tests.sms_provider import FakeDysms

pytestmark = pytest.mark.browser
_numbers = itertools.count(1)
OLD = "老槐树下的第七个春天"


def fresh_member(app) -> tuple[int, str]:
    """A member of 东关南里's branch in 管城回族区 with a password, made in the live server's database."""
    phone = f"1344{os.getpid() % 10000:04d}{next(_numbers):03d}"[:11]   # 1344: no other browser test uses it
    with app.app_context():
        user = register_user(phone=phone, name="赵秀兰", password=OLD)
        branch = db.session.scalar(select(Organization.id).where(Organization.name == "东关南里社区离退休干部党支部"))
        register_member(actor=user, data=ProfileData(name="赵秀兰", county_code="410104", address="", consent=False,
                                                     capacity=None, availability_mask=0, radius_km=5, branch_id=branch))
        db.session.commit()
        member_id = db.session.get_one(MemberProfile, user.id).id
        db.session.remove()
    return member_id, phone


@pytest.fixture
def provider(live_server):
    fake = FakeDysms().start()
    saved = {k: live_server.app.config[k] for k in fake.config()}
    live_server.app.config.update(fake.config())
    yield fake
    live_server.app.config.update(saved)
    fake.stop()


@pytest.fixture
def phone_page(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def new_password(page, password: str) -> None:
    expect(page.get_by_role("heading", name="请设置新密码")).to_be_visible()
    page.get_by_label("新密码", exact=True).fill(password)
    page.get_by_label("再输入一次新密码").fill(password)
    submit(page, page.get_by_role("button", name="保存新密码并登录"))
    expect(page.get_by_text("您的密码已重新设置，您已登录")).to_be_visible()


def test_forgot_password_by_sms_on_a_phone_in_elder_mode(phone_page, live_server, provider):
    page = phone_page
    _member_id, phone = fresh_member(live_server.app)
    page.goto("/login")
    submit(page, page.get_by_role("button", name="长辈版"))
    expect(page.locator("html.elder")).to_have_count(1)
    submit(page, page.get_by_role("link", name="忘记密码？用短信验证码重新设置"))
    expect(page.get_by_role("heading", name="您注册时用的手机号码是多少？")).to_be_visible()
    page.get_by_label("手机号码").fill(phone)
    button = page.get_by_role("button", name="发送验证码")
    assert button.bounding_box()["height"] >= 60          # 长辈版: big primary buttons
    submit(page, button)
    expect(page.get_by_role("heading", name="请输入短信里的验证码")).to_be_visible()
    page.get_by_label("6 位数字验证码").fill("000000")
    submit(page, page.get_by_role("button", name="下一步"))
    expect(page.locator(".error-summary")).to_contain_text("还可以再试 4 次")
    page.get_by_label("6 位数字验证码").fill(provider.codes(phone)[-1])
    submit(page, page.get_by_role("button", name="下一步"))
    new_password(page, "梧桐树下的老房子")
    expect(page.locator("html.elder")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360   # nothing wider than the phone


def test_a_county_admin_gives_a_reset_code_and_the_member_uses_it(page, phone_page, live_server):
    member_id, phone = fresh_member(live_server.app)
    sign_in(page, "19900000003")                      # 管城回族区委老干部局
    page.goto(f"/pool/members/{member_id}")
    submit(page, page.get_by_role("button", name="生成重置码"))
    expect(page.get_by_text("这个重置码只显示这一次")).to_be_visible()
    code = page.locator(".code strong").inner_text()

    member = phone_page
    member.goto("/login")
    submit(member, member.get_by_role("link", name="用重置码设置新密码").first)
    member.get_by_label("您注册时用的手机号码").fill(phone)
    member.get_by_label("重置码").fill(code.lower())
    submit(member, member.get_by_role("button", name="下一步"))
    new_password(member, "梧桐树下的老房子")
    expect(member.get_by_role("link", name="我的账号").first).to_be_visible()


def test_a_county_admin_merges_two_accounts_of_one_member(page, phone_page, live_server):
    kept, kept_phone = fresh_member(live_server.app)
    closed, closed_phone = fresh_member(live_server.app)
    sign_in(page, "19900000003")                      # 管城回族区委老干部局
    page.goto(f"/pool/members/{kept}/account")
    submit(page, page.get_by_role("link", name="查找并合并另一个账号"))
    page.get_by_label("找另一个账号").fill(closed_phone[-6:])
    submit(page, page.get_by_role("button", name="查找"))
    submit(page, page.get_by_role("link", name=re.compile(f"编号 {closed}，")))
    expect(page.get_by_role("heading", name="两个账号对比")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("服务时长"))).to_be_visible()
    expect(page.get_by_text("合并后不能自动撤销").first).to_be_visible()
    page.get_by_label(re.compile(f"保留 赵秀兰（编号 {kept}，")).check()
    page.get_by_label(re.compile("我已核实两个账号是同一个人")).check()
    submit(page, page.get_by_role("button", name="合并这两个账号"))
    expect(page.get_by_text("两个账号已合并到赵秀兰")).to_be_visible()
    expect(page.get_by_role("heading", name="账号维护：赵秀兰")).to_be_visible()

    # The closed account's number no longer signs in; the kept one does.
    member = phone_page
    member.goto("/login")
    member.get_by_label("手机号码").fill(closed_phone)
    member.get_by_label("密码").fill(OLD)
    submit(member, member.get_by_role("button", name="登录"))
    expect(member.get_by_role("button", name="登录")).to_be_visible()
    sign_in(member, kept_phone, OLD)
    expect(member.get_by_role("link", name="我的账号").first).to_be_visible()
