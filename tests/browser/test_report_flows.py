"""The dashboards in a real browser: a province admin drills down from the province to a city, a
county and a party branch; the charts are drawn by the vendored ECharts without breaking the
content security policy (the page fixture fails on any console error); the printed report hides
the site's chrome. Screenshots at 1280 × 800 and at 360 × 740 in the 长辈版 go to test-artifacts/."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in, submit, two_county_admin

pytestmark = pytest.mark.browser
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def drill(page, name: str) -> None:
    submit(page, page.locator("main table a", has_text=name).first)
    expect(page.locator(".report-title")).to_contain_text(name)


def test_a_province_admin_drills_down_to_a_branch(page):
    sign_in(page, "19900000001")
    expect(page.locator(".report-title")).to_contain_text("河南省")
    expect(page.locator("#chart-pool canvas")).to_have_count(1)       # drawn from the JSON, by ECharts
    expect(page.locator("#pool .report-summary")).to_contain_text("登记老同志")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(".report-title").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "dashboard-province-1280.png"))
    page.locator("#pool").screenshot(path=str(SHOTS / "dashboard-province-pool-1280.png"))
    drill(page, "郑州市")
    drill(page, "管城回族区")
    expect(page.locator(".report-meta")).to_contain_text("河南省 › 郑州市 › 管城回族区")
    drill(page, "东关南里社区离退休干部党支部")
    expect(page.locator("#activity")).to_contain_text("近 90 天内（含今天）至少有一次已确认出勤的志愿服务")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".report-meta")).to_contain_text("生成时间")
    pdf = page.pdf(format="A4")        # the monthly report as the bureau prints it
    assert pdf.startswith(b"%PDF")
    (SHOTS / "dashboard-branch-a4.pdf").write_bytes(pdf)
    page.set_viewport_size({"width": 794, "height": 1123})
    page.screenshot(path=str(SHOTS / "dashboard-branch-print-a4.png"))
    page.emulate_media(media="screen")


def test_the_dashboard_on_a_phone_in_the_elder_mode(browser, live_server):
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    context.add_cookies([{"name": "yinhui_elder", "value": "1", "url": live_server.url}])
    page = context.new_page()
    try:
        sign_in(page, "19900000003")
        page.goto("/reports/regions/410104")
        expect(page.locator("#chart-hours canvas")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("#activity").screenshot(path=str(SHOTS / "dashboard-county-activity-360-elder.png"))
    finally:
        context.close()


def test_an_admin_of_two_counties_switches_between_them_on_a_phone_in_the_elder_mode(browser, live_server):
    """The region switcher and the venues' occupancy at 360 px in the 长辈版: nothing wider than the
    screen, every link of the switcher a 44 px target, the occupancy chart drawn."""
    phone = two_county_admin(live_server)
    context = browser.new_context(viewport={"width": 360, "height": 740}, base_url=live_server.url, locale="zh-CN",
                                  is_mobile=True, has_touch=True)
    context.add_cookies([{"name": "yinhui_elder", "value": "1", "url": live_server.url}])
    page = context.new_page()
    try:
        sign_in(page, phone)
        switcher = page.get_by_role("navigation", name="您管理的地区")
        expect(switcher).to_contain_text("郑州市管城回族区（正在查看）")
        expect(page.locator(".report-title")).to_contain_text("管城回族区")
        expect(page.locator("#venues")).to_contain_text("占用率 = 该月已批准预约的时长 ÷ 该月的开放时长")
        expect(page.locator("#chart-venues canvas")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        SHOTS.mkdir(parents=True, exist_ok=True)
        switcher.screenshot(path=str(SHOTS / "dashboard-region-switcher-360-elder.png"))
        page.locator("#venues").screenshot(path=str(SHOTS / "dashboard-county-venues-360-elder.png"))
        link = switcher.get_by_role("link", name="南阳市淅川县")
        assert link.bounding_box()["height"] >= 44
        submit(page, link)
        expect(page.locator(".report-title")).to_contain_text("淅川县")
        expect(page.get_by_role("navigation", name="您管理的地区")).to_contain_text("南阳市淅川县（正在查看）")
        assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        page.emulate_media(media="print")
        expect(page.get_by_role("navigation", name="您管理的地区")).to_be_hidden()   # not in the printed report
    finally:
        context.close()
