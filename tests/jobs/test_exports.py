"""Exports as jobs: the request answers with a page, the worker writes the file, and the file holds
what the in-memory export held, column by column (pinned here), in .csv and .xlsx."""

import io

from openpyxl import load_workbook

from app.jobs.models import Job
from app.members.models import EntryOrigin, EntryStatus, Gender, PoolEntry, PoolLevel, slot_bit
from app.organizations.models import OrganizationKind
from tests.conftest import csrf_token

HEADER = ["姓名", "手机号码", "性别", "出生年份", "县（市、区）", "所在党支部", "原工作单位", "原职务",
          "专长", "方便的时间", "服务范围（公里）", "人才库", "状态"]


def members(db, create_member, create_org):
    branch = create_org(kind=OrganizationKind.PARTY_BRANCH, county="410104", name="东大街社区第一党支部")
    full = create_member(name="钱秀英", phone="13812345678", county="410104", branch=branch, birth_year=1951,
                         gender=Gender.FEMALE, work_unit="郑州市第一中学", post="语文教师",
                         skills={"课业辅导": 3, "法律咨询": 2}, radius_km=8,
                         availability_mask=slot_bit(0, 0) | slot_bit(0, 1) | slot_bit(2, 2))
    db.session.add_all([
        PoolEntry(member_id=full.id, level=level, region_code="410104", status=status, origin=EntryOrigin.NOMINATED)
        for level, status in ((PoolLevel.COUNTY, EntryStatus.APPROVED), (PoolLevel.CITY, EntryStatus.APPROVED),
                              (PoolLevel.PROVINCE, EntryStatus.NOMINATED))])
    bare = create_member(name="孙建国", phone="13900001111", county="410102", consent=False, availability_mask=0,
                         radius_km=5)
    db.session.commit()
    return full, bare


# What the old export (built whole in the request) wrote for these two members, column by column.
# Ordered by county code, then name.
EXPECTED_MASKED = [
    ["孙建国", "139****1111", "", "", "中原区", "", "", "", "", "未填写", "5", "未入库", "正常"],
    ["钱秀英", "138****5678", "女", "1951", "管城回族区", "东大街社区第一党支部", "郑州市第一中学", "语文教师",
     "课业辅导（精通）、法律咨询（熟练）", "周一上午、下午；周三晚上", "8", "县级、市级", "正常"],
]


def ask(client, path):
    response = client.post(path, data={"csrf_token": csrf_token(client, "/pool/")})
    assert response.status_code == 302 and "/pool/exports/" in response.headers["Location"]
    return response.headers["Location"]


def download(client, page):
    response = client.get(page + "/file")
    assert response.status_code == 200
    body = response.get_data()
    response.close()
    return response, body


def test_the_csv_holds_every_column_as_before(client, db, login, create_admin, create_member, create_org):
    members(db, create_member, create_org)
    login(create_admin("410100"))
    page = ask(client, "/pool/export.csv")
    html = client.get(page).get_data(as_text=True)
    assert "文件已生成" in html and "共 2 人" in html and "下载文件" in html
    response, body = download(client, page)
    assert response.mimetype == "text/csv"
    assert 'attachment; filename=yinhui-pool-' in response.headers["Content-Disposition"]
    assert body.startswith("\ufeff".encode())
    lines = body.decode("utf-8-sig").split("\r\n")
    assert lines[0] == ",".join(HEADER) and lines[-1] == ""
    assert lines[1:-1] == [",".join(row) for row in EXPECTED_MASKED]


def test_the_xlsx_holds_every_column_as_before_and_whole_phones_for_an_admin(client, db, login, create_admin,
                                                                              create_member, create_org):
    members(db, create_member, create_org)
    login(create_admin("410100"))
    _, body = download(client, ask(client, "/pool/export.xlsx?full=1"))
    sheet = load_workbook(io.BytesIO(body), read_only=True)["银发人才库"]
    rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    expected = [[*row[:1], phone, *row[2:]] for row, phone in zip(EXPECTED_MASKED, ["13900001111", "13812345678"],
                                                                     strict=True)]
    assert rows == [HEADER, *expected]


def test_a_filtered_export_keeps_its_filters(client, db, login, create_admin, create_member, create_org):
    members(db, create_member, create_org)
    login(create_admin("410100"))
    _, body = download(client, ask(client, "/pool/export.csv?region=410104&pool_level=city"))
    assert body.decode("utf-8-sig").split("\r\n")[1:-1] == [",".join(EXPECTED_MASKED[1])]


def test_an_export_is_its_askers_alone(client, db, login, create_admin, create_member, create_org):
    members(db, create_member, create_org)
    login(create_admin("410100"))
    page = ask(client, "/pool/export.csv")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(create_admin("410100", name="另一位管理员"))
    assert client.get(page).status_code == 404 and client.get(page + "/file").status_code == 404


def test_a_queued_export_says_it_is_being_made_and_refreshes(client, db, login, create_admin, app, monkeypatch):
    admin = create_admin("410100")
    job = Job(kind="export", state="queued", params='{"format": "csv"}', created_by_id=admin.id)
    db.session.add(job)
    db.session.commit()
    login(admin)
    html = client.get(f"/pool/exports/{job.id}").get_data(as_text=True)
    assert "正在生成" in html and 'http-equiv="refresh"' in html and "下载文件" not in html
    assert client.get(f"/pool/exports/{job.id}/file").status_code == 404


def test_the_search_page_offers_the_exports_as_buttons(client, db, login, create_admin):
    login(create_admin("410100"))
    html = client.get("/pool/?region=410104").get_data(as_text=True)
    assert 'action="/pool/export.csv?region=410104"' in html and 'action="/pool/export.xlsx?region=410104&amp;full=1"' in html
