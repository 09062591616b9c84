"""Rosters as bureaus keep them: the table found below title rows, the sheet chosen, 合计 and
repeated header rows skipped and counted, columns mapped by synonyms and by the admin (remembered),
values normalised with what was done said, a preview before anything is written."""

import io
import json
from datetime import datetime

from openpyxl import Workbook
from sqlalchemy import select

from app.members import columns, importer, sheets
from app.members.models import ImportMapping
from tests.conftest import csrf_token
from tests.members.test_import import accept_columns, counts, latest, post, upload

TITLE = "管城回族区离退休干部银发人才名册"
HEADER = ["序号", "姓名", "性别", "出生年月", "原工作单位及职务", "所在党支部", "现居住地", "联系电话", "特长（可多项）",
          "身体状况"]


def person(n: int, name: str, **values) -> list:
    base = {"序号": n, "姓名": name, "性别": "男", "出生年月": "1950.03", "原工作单位及职务": "管城区教育局副局长",
            "所在党支部": "东大街社区离退休党支部", "现居住地": "郑州市管城回族区东大街12号", "联系电话": None,
            "特长（可多项）": "书法", "身体状况": "良好"}
    base.update(values)
    return [base[h] for h in HEADER]


def bureau_workbook(people: list[list | None], *, notes_sheet: bool = True, second_roster: list[list] | None = None,
                    repeat_header_at: int | None = None) -> bytes:
    """The bureau's own file: a merged title row and a 填报单位 line above the header, blank
    lines, the header repeated where a printed page began, a 合计 row and a 备注 row at the end,
    and a notes sheet (or a second roster) beside it."""
    wb = Workbook()
    ws = wb.active
    ws.title = "人才名册"
    ws.append([TITLE])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    ws.append(["填报单位：管城回族区委老干部局", None, None, None, None, None, "填报时间：2026年11月"])
    ws.append(HEADER)
    for i, values in enumerate(people):
        if repeat_header_at is not None and i == repeat_header_at:
            ws.append(HEADER)
        ws.append(values if values is not None else [])
    ws.append(["合计", f"{sum(1 for p in people if p)}人"])
    ws.append(["备注：特长可填多项，用顿号隔开。"])
    if notes_sheet:
        notes = wb.create_sheet("填表说明")
        notes.append(["填表说明"])
        notes.append(["1. 出生年月写到月。"])
    if second_roster is not None:
        other = wb.create_sheet("二七区")
        other.append(HEADER)
        for values in second_roster:
            other.append(values)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


MESSY = [
    person(1, "张建国", 出生年月="1950.03", 联系电话="138 0013 8001", 特长="", **{"特长（可多项）": "书法、法律咨询，豫剧"}),
    person(2, "李  梅", 性别="女", 出生年月="1964年11月", 联系电话="139-0013-8002", **{"特长（可多项）": "中医 手机教学"}),
    None,
    person(3, "王德福", 出生年月=1953, 联系电话=13800138003, 身体状况="有高血压", **{"特长（可多项）": "种植技术；养殖/农机维修"}),
    person(4, "赵秀兰", 性别="女", 出生年月=datetime(1948, 7, 1), 联系电话="１３９００１３８００４", 身体状况="较重"),
    person(5, "钱文", 出生年月="1951-08", 联系电话="+86 139 0013 8005", **{"特长（可多项）": "财务,会计"}),
    person(6, "孙立", 出生年月="1955/3", 联系电话="0371-66668888"),            # a landline: refused
    person(7, "周平", 出生年月="195206", 联系电话=None, 现居住地="东大街"),    # no county: refused
    person(8, "吴刚", 出生年月=18324, 联系电话="13900138008"),                 # an Excel serial (1950-03-02)
]


def admin_upload(client, login, create_admin, content: bytes, filename: str = "名册.xlsx", mode: str = "valid"):
    login(create_admin("410104"))
    return upload(client, content, mode=mode, filename=filename)


# --- 1. finding the table -------------------------------------------------------------------------


def test_the_header_is_found_below_merged_title_rows_and_the_roster_sheet_is_chosen(client, db, login, create_admin):
    admin_upload(client, login, create_admin, bureau_workbook(MESSY))
    job = latest(db)
    assert job.status == "mapping" and job.sheet == "人才名册"
    layout = next(s for s in importer.layouts_of(job) if s["name"] == "人才名册")
    assert layout["header_row"] == 3 and layout["headers"] == HEADER
    assert layout["samples"][1] == ["张建国", "李  梅", "王德福"]          # first values, blank line skipped
    notes = next(s for s in importer.layouts_of(job) if s["name"] == "填表说明")
    assert notes["header_row"] is None
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "标题在第 3 行" in page and "第 4 列：出生年月" in page and "1950.03、1964年11月、1953" in page


def test_blank_summary_and_repeated_header_rows_are_skipped_and_counted(client, db, login, create_admin):
    admin_upload(client, login, create_admin, bureau_workbook(MESSY, repeat_header_at=4))
    accept_columns(client, db)
    job = latest(db)
    assert job.status == "checked"
    assert (job.blank_rows, job.skipped_rows) == (1, 3)             # 1 blank; repeated header, 合计, 备注
    assert job.total_rows - job.blank_rows - job.skipped_rows == 8
    rows = {r["row"] for r in importer.report(job)}
    assert rows == {4, 5, 7, 9, 10, 11, 12, 13}                    # sheet row numbers, as the admin sees them


def test_two_rosters_in_one_file_ask_which_sheet(client, db, login, create_admin):
    other = [person(1, "郑和平", 现居住地="郑州市二七区大学路1号", 联系电话="13700137001")]
    admin_upload(client, login, create_admin, bureau_workbook(MESSY[:2], second_roster=other))
    job = latest(db)
    assert job.status == "mapping" and job.sheet == ""             # not obvious: the admin chooses
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "请先选一张" in page and "二七区" in page
    page = client.get(f"/pool/import/{job.id}?sheet=二七区").get_data(as_text=True)
    assert "工作表“二七区”的标题在第 1 行" in page
    accept_columns(client, db, sheet="二七区")
    job = latest(db)
    assert job.sheet == "二七区" and job.status == "checked"
    assert [r["name"] for r in importer.report(job)] == ["郑和平"]


def test_a_two_row_header_under_a_merged_cell_is_read_as_one():
    first = [("名册",), ("序号", "姓名", "联系方式", None, "住址"), (None, None, "手机", "座机", None),
             (1, "张三", "13800138000", "66668888", "郑州市金水区")]
    header = sheets.find_header(first)
    assert header is not None and header.row == 3
    assert header.names == ["序号", "姓名", "手机", "座机", "住址"]
    assert columns.auto_mapping(header.names) == ["", "name", "phone", None, "address"]


def test_a_file_without_a_roster_header_fails_with_a_clear_message(client, db, login, create_admin):
    wb = Workbook()
    wb.active.append(["会议纪要"])
    wb.active.append(["2026年11月5日", "老干部局"])
    out = io.BytesIO()
    wb.save(out)
    login(create_admin("410104"))
    before = counts(db)
    upload(client, out.getvalue())
    job = latest(db)
    assert job.status == "failed" and "没有找到标题行（要有“姓名”一列）" in job.message
    assert job.content is None and counts(db) == before


# --- 2. mapping the columns -----------------------------------------------------------------------


def test_bureau_headers_are_recognised_by_synonyms():
    assert columns.auto_mapping(HEADER) == ["", "name", "gender", "birth", "work_unit_post", "branch", "address",
                                            "phone", "skills", "capacity"]
    assert columns.auto_mapping(["名字", "手机号码", "生日", "家庭住址", "专长", "健康状况", "支部", "原单位", "原职务"]) == [
        "name", "phone", "birth", "address", "skills", "capacity", "branch", "work_unit", "post"]
    assert columns.recognise("联系电话(手机)") == "phone" and columns.recognise(" 姓　名 ") == "name"
    assert columns.recognise("爱好") is None


def test_the_template_maps_itself():
    assert None not in columns.auto_mapping([name for name, _ in importer.COLUMNS])


def test_an_unknown_column_must_be_chosen_and_required_fields_named(client, db, login, create_admin):
    wb = Workbook()
    wb.active.append(["名字", "住处", "爱好"])
    wb.active.append(["张三", "郑州市管城回族区东大街", "象棋"])
    out = io.BytesIO()
    wb.save(out)
    admin_upload(client, login, create_admin, out.getvalue())
    job = latest(db)
    assert importer.mapping_of(job)["columns"] == ["name", None, None]
    response = accept_columns(client, db)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "错误：" in page
    assert "还有列没有选择" in page and "请指出哪一列是“家庭住址（现居住地）”" in page
    assert latest(db).status == "mapping"
    response = accept_columns(client, db, {1: "address", 2: "name"})
    assert response.status_code == 400 and "“姓名”只能对应一列" in response.get_data(as_text=True)
    response = accept_columns(client, db, {1: "address", 2: "ignore"})
    assert response.status_code == 302 and latest(db).status == "checked"


def test_the_mapping_is_remembered_for_the_next_file_with_the_same_headers(client, db, login, create_admin):
    def file(name: str) -> bytes:
        wb = Workbook()
        wb.active.append(["名字", "住处", "爱好"])
        wb.active.append([name, "郑州市管城回族区东大街", "象棋"])
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()

    admin_upload(client, login, create_admin, file("张三"))
    accept_columns(client, db, {1: "address", 2: "ignore"})
    saved = db.session.scalar(select(ImportMapping))
    assert json.loads(saved.columns) == ["name", "address", ""]
    upload(client, file("李四"))
    job = latest(db)
    assert importer.mapping_of(job)["columns"] == ["name", "address", ""]
    assert "上次对同样标题的名册所做的选择" in client.get(f"/pool/import/{job.id}").get_data(as_text=True)


def test_a_mapping_cannot_be_posted_twice(client, db, login, create_admin):
    admin_upload(client, login, create_admin, bureau_workbook(MESSY))
    accept_columns(client, db)
    job = latest(db)
    response = post(client, f"/pool/import/{job.id}/columns", {"sheet": "人才名册", **{f"col-{i}": "ignore" for i in range(10)}})
    assert response.status_code == 409 and "已经往下进行了" in response.get_data(as_text=True)


def test_another_admins_import_is_not_found(client, db, login, create_admin):
    admin_upload(client, login, create_admin, bureau_workbook(MESSY))
    job = latest(db)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(create_admin("410104"))
    assert client.get(f"/pool/import/{job.id}").status_code == 404
    assert post(client, f"/pool/import/{job.id}/cancel").status_code == 404
