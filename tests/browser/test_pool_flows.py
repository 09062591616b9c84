"""The pool in a real browser: the self-registration wizard on a phone-sized screen, a proxy
registration and its claim, and an approval from county up to province."""

import io
import itertools
import os
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, submit

pytestmark = pytest.mark.browser
_numbers = itertools.count(1)


def fresh_phone(prefix: str) -> str:
    return f"{prefix}{os.getpid() % 10000:04d}{next(_numbers):03d}"[:11]


def next_step(page):
    submit(page, page.get_by_role("button", name="下一步"))


@pytest.fixture
def phone_page(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def test_self_registration_wizard_on_a_phone(phone_page):
    page = phone_page
    phone = fresh_phone("1366")
    page.goto("/register")
    page.get_by_label("姓名").fill("马秀珍")
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("设置密码").fill("老伴李秀英1958年")
    page.get_by_label("再输入一次密码").fill("老伴李秀英1958年")
    page.get_by_label("我已阅读并同意").check()
    submit(page, page.get_by_role("button", name="注册"))
    submit(page, page.get_by_role("link", name="开始", exact=True))     # sign-up leads to the start page

    expect(page.get_by_role("heading", name="性别")).to_be_visible()   # the name is the account's: not asked
    page.get_by_label("女").check()
    next_step(page)
    page.get_by_label("出生年份").fill("1956")
    next_step(page)
    page.get_by_label("家庭住址").fill("东大街12号")               # no county: refused, kept
    next_step(page)
    expect(page).to_have_title(re.compile("^错误："))
    expect(page.get_by_label("家庭住址")).to_have_value("东大街12号")
    page.get_by_label("家庭住址").fill("郑州市管城回族区东大街12号")
    next_step(page)
    next_step(page)                                               # branch: not chosen
    page.get_by_label("原工作单位（选填）").fill("郑州市第一人民医院")
    next_step(page)
    page.get_by_label("我同意保存").check()
    next_step(page)
    page.get_by_label("轻度").check()
    next_step(page)
    page.get_by_label("晚上不方便参加").check()
    next_step(page)
    page.get_by_label("5 公里以内").check()
    next_step(page)
    page.get_by_label("周二上午").check()
    page.get_by_label("周四下午").check()
    next_step(page)
    page.get_by_label("专长").select_option(label="健康咨询")
    page.get_by_label("精通").check()
    submit(page, page.get_by_role("button", name="添加这项专长"))
    expect(page.get_by_text("健康咨询（精通）")).to_be_visible()
    next_step(page)
    page.get_by_label(re.compile("^加入。")).check()
    next_step(page)

    expect(page.get_by_role("heading", name="核对一下您的信息")).to_be_visible()
    for text in ("马秀珍", "1956 年", "管城回族区", "周二上午", "健康咨询（精通）", "晚上不方便"):
        expect(page.get_by_text(text).first).to_be_visible()
    submit(page, page.get_by_role("link", name=re.compile(r"更改\s*出生年份")))
    page.get_by_label("出生年份").fill("1955")
    next_step(page)
    expect(page).to_have_url(re.compile("check"))
    expect(page.get_by_text("1955 年")).to_be_visible()
    submit(page, page.get_by_role("button", name="确认提交"))
    expect(page.get_by_role("heading", name="登记完成")).to_be_visible()
    expect(page.get_by_text(re.compile("入库申请已交给.*个工作日内审核完"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_proxy_registration_and_the_later_claim(browser, live_server, page):
    sign_in(page, "19900000011")
    page.goto("/pool/proxy")
    discard = page.get_by_role("button", name="清空，重新开始")
    if discard.count():     # another test left this organizer's proxy draft half done: resuming would skip pages
        submit(page, discard)
    submit(page, page.get_by_role("link", name="开始", exact=True))
    claim_phone = fresh_phone("1355")
    page.get_by_label("老同志本人的手机号码").fill(claim_phone)
    next_step(page)
    page.get_by_label("姓名").fill("韩德厚")
    next_step(page)
    page.get_by_label("男").check()
    next_step(page)
    page.get_by_label("出生年份").fill("1948")
    next_step(page)
    page.get_by_label("家庭住址").fill("郑州市管城回族区东关南里3号")
    next_step(page)
    next_step(page)
    next_step(page)
    page.get_by_label("老同志本人同意").check()
    page.get_by_label("本人签署纸质同意书").check()
    next_step(page)
    page.get_by_label("中度").check()
    for _ in range(5):  # capacity, limits, radius, availability, unavailable dates
        next_step(page)
    page.get_by_label("专长").select_option(label="矛盾纠纷调解")
    page.get_by_label("熟练").check()
    next_step(page)
    page.get_by_label("暂不加入").check()
    next_step(page)
    expect(page.get_by_text("没有这些，就不会给老同志推荐志愿服务")).to_be_visible()   # no free time ticked
    submit(page, page.get_by_role("button", name="先登记，以后再补"))
    code = page.locator(".slip .code strong").inner_text()
    assert re.fullmatch(r"\d+-[A-Z2-9]{4}-[A-Z2-9]{4}", code)

    member_context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url)
    member = member_context.new_page()
    member.goto("/claim")
    member.get_by_label("认领码").fill(code)
    member.get_by_label("您的手机号码").fill(claim_phone)
    member.get_by_label("设置密码").fill("韩家老宅东关南里")
    member.get_by_label("再输入一次密码").fill("韩家老宅东关南里")
    submit(member, member.get_by_role("button", name="认领并登录"))
    expect(member.get_by_role("heading", name="我的资料")).to_be_visible()
    expect(member.get_by_text("矛盾纠纷调解（熟练）")).to_be_visible()
    member_context.close()


def test_approval_from_county_up_to_province(browser, live_server):
    def staff(phone):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url)
        page = context.new_page()
        sign_in(page, phone)
        return context, page

    county_ctx, county = staff("19900000003")
    county.goto("/pool/queue")
    submit(county, county.get_by_role("link", name=re.compile(r"审核\s*演示·李大夫")))
    submit(county, county.get_by_role("button", name="通过", exact=True))
    expect(county.get_by_text("已通过")).to_be_visible()
    county.goto("/pool/?q=李大夫")
    submit(county, county.get_by_role("link", name="演示·李大夫"))
    submit(county, county.get_by_role("link", name="推荐入库"))
    county.get_by_label("推荐理由").fill("退休医生，健康讲座深受欢迎")
    submit(county, county.get_by_role("button", name="提交推荐"))
    county_ctx.close()

    city_ctx, city = staff("19900000002")
    city.goto("/pool/queue")
    submit(city, city.get_by_role("link", name=re.compile(r"审核\s*演示·李大夫")))
    submit(city, city.get_by_role("button", name="通过", exact=True))
    city.goto("/pool/?q=李大夫")
    submit(city, city.get_by_role("link", name="演示·李大夫"))
    submit(city, city.get_by_role("link", name="推荐入库"))
    expect(city.get_by_label("河南省省级人才库")).to_be_checked()
    city.get_by_label("推荐理由").fill("全市健康宣讲骨干")
    submit(city, city.get_by_role("button", name="提交推荐"))
    city_ctx.close()

    province_ctx, province = staff("19900000001")
    province.goto("/pool/queue")
    submit(province, province.get_by_role("link", name=re.compile(r"审核\s*演示·李大夫")))
    submit(province, province.get_by_role("button", name="通过", exact=True))
    province.goto("/pool/?q=李大夫&pool_level=province")
    expect(province.get_by_role("link", name="演示·李大夫")).to_be_visible()
    submit(province, province.get_by_role("link", name="演示·李大夫"))
    for label in ("审核通过", "推荐"):
        expect(province.get_by_text(label).first).to_be_visible()
    province_ctx.close()

    member_ctx = browser.new_context(base_url=live_server.url)
    member = member_ctx.new_page()
    sign_in(member, "19900000022")
    member.goto("/profile")
    expect(member.get_by_text("河南省省级人才库：已入库")).to_be_visible()
    member_ctx.close()


@pytest.mark.parametrize("viewport", [{"width": 360, "height": 740}, {"width": 1280, "height": 800}],
                         ids=["phone", "desktop"])
def test_a_bureau_roster_is_mapped_previewed_and_imported(browser, live_server, viewport):
    """Upload the bureau's own file → the mapping page → the preview → import → the report."""
    from openpyxl import Workbook

    context = browser.new_context(viewport=viewport, base_url=live_server.url, locale="zh-CN")
    page = context.new_page()
    tag = "一" if viewport["width"] < 400 else "二"
    wb = Workbook()
    ws = wb.active
    ws.append(["管城回族区离退休干部人才名册"])
    ws.merge_cells("A1:F1")
    ws.append(["序号", "姓名", "出生年月", "现居住地", "联系电话", "特长（可多项）", "爱好"])
    ws.append([1, f"浏览{tag}甲", "1950.03", "郑州市管城回族区东大街12号", fresh_phone("1377"), "书法、豫剧", "钓鱼"])
    ws.append([2, f"浏览{tag}乙", "1952年6月", "郑州市管城回族区南大街3号", fresh_phone("1377"), "法律", "下棋"])
    ws.append([3, f"浏览{tag}丙", "1955", "东大街", "0371-66668888", "", ""])
    ws.append(["合计", "3人"])
    out = io.BytesIO()
    wb.save(out)

    sign_in(page, "19900000003")
    page.goto("/pool/import")
    page.get_by_label("名册文件").set_input_files(files=[{"name": "管城名册.xlsx", "buffer": out.getvalue(),
                                                       "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    submit(page, page.get_by_role("button", name="上传并检查"))
    expect(page.get_by_role("heading", name="这个文件的每一列是什么？")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("标题在第 2 行")).to_be_visible()
    page.get_by_label("对应").nth(6).select_option("ignore")         # 爱好: not kept
    submit(page, page.get_by_role("button", name="下一步：检查每一行（先不导入）"))
    expect(page.get_by_role("heading", name="检查结果（还没有导入）")).to_be_visible(timeout=15_000)
    expect(page.get_by_text("可以新建 2 人")).to_be_visible()
    expect(page.get_by_text("是座机号码").first).to_be_visible()
    submit(page, page.get_by_role("button", name="导入 2 人（新建和更新）"))
    expect(page.get_by_text("新建 2 人，更新 0 人").first).to_be_visible(timeout=15_000)
    expect(page.get_by_role("link", name="下载逐行结果（CSV）")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
    context.close()
