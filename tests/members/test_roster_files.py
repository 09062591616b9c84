"""Rosters as bureaus keep them: the table found below title rows, the sheet chosen, 合计 and
repeated header rows skipped and counted, columns mapped by synonyms and by the admin (remembered),
values normalised with what was done said, a preview before anything is written."""

import csv
import functools
import io
import json
import time
import zipfile
from datetime import datetime

import pytest
import xlwt
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.accounts.models import User
from app.members import cells, columns, importer, sheets
from app.members.models import Capacity, Gender, ImportJob, ImportMapping, MemberProfile, MemberSkill, Skill
from tests.conftest import csrf_token, export, record
from tests.members.test_import import accept_columns, counts, import_file, latest, post, upload

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


# --- 3. values normalised, and what was done said -------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("1950.3", (1950, 3)), ("1950.03", (1950, 3)), ("1950-03", (1950, 3)), ("1950/3", (1950, 3)),
    ("1950年3月", (1950, 3)), ("1950年03月05日", (1950, 3)), ("195003", (1950, 3)), (195003, (1950, 3)),
    ("19500305", (1950, 3)), ("1953", (1953, None)), (1953, (1953, None)), ("1953年", (1953, None)),
    (1950.03, (1950, 3)), (1950.1, (1950, 10)), (1950.11, (1950, 11)), ("１９５０．０３", (1950, 3)),
    (datetime(1950, 3, 2), (1950, 3)), (18324, (1950, 3)), ("18324", (1950, 3)), (" 1950 . 3 ", (1950, 3)),
])
def test_birth_dates_in_every_common_form(value, expected):
    born = cells.birth_date(value)
    assert (born.year, born.month) == expected


@pytest.mark.parametrize("value,message", [
    ("五十年代", "出生年月“五十年代”看不懂，请写成 1950.03 或 1950年3月"),
    ("1950.13", "出生年月“1950.13”的月份不对"),
    ("1950年13月", "出生年月“1950年13月”的月份不对"),
    (123, "出生年月“123”看不懂"),
])
def test_unreadable_birth_dates_say_why(value, message):
    with pytest.raises(cells.Unreadable) as e:
        cells.birth_date(value)
    assert message in str(e.value)


@pytest.mark.parametrize("value,expected", [
    ("138 0013 8000", "13800138000"), ("138-0013-8000", "13800138000"), ("１３８００１３８０００", "13800138000"),
    ("+86 138 0013 8000", "13800138000"), ("+86-13800138000", "13800138000"), (13800138000, "13800138000"),
    (13800138000.0, "13800138000"), ("13800138000 / 0371-66668888", "13800138000"), ("0086 13800138000", "13800138000"),
])
def test_phones_however_typed_or_stored(value, expected):
    assert cells.phone(value)[0] == expected


@pytest.mark.parametrize("value,message", [
    ("0371-66668888", "“0371-66668888”是座机号码，账号需要手机号码"),
    ("66668888", "是座机号码"),
    ("1380013800", "手机号码“1380013800”不对，应为 11 位手机号码"),
])
def test_phones_that_are_not_mobile_numbers_are_refused_with_the_reason(value, message):
    with pytest.raises(cells.Unreadable) as e:
        cells.phone(value)
    assert message in str(e.value)


@pytest.mark.parametrize("value,expected", [
    ("书法、法律咨询", ["书法", "法律咨询"]), ("书法，法律咨询,豫剧", ["书法", "法律咨询", "豫剧"]),
    ("书法；法律咨询;豫剧", ["书法", "法律咨询", "豫剧"]), ("书法/豫剧／中医", ["书法", "豫剧", "中医"]),
    ("书法 豫剧\n中医　电脑", ["书法", "豫剧", "中医", "电脑"]), ("书法等。", ["书法"]),
])
def test_skills_joined_every_way_are_split(value, expected):
    assert [t for t, _ in cells.split_skills(value)] == expected


def test_a_level_written_beside_a_skill_is_kept():
    assert cells.split_skills("书法（精通）、法律咨询(了解)、豫剧") == [("书法", 3), ("法律咨询", 1), ("豫剧", None)]


@pytest.mark.parametrize("value,expected", [
    ("中度", (Capacity.MODERATE, False)), ("良好", (Capacity.MODERATE, True)), ("身体健康", (Capacity.MODERATE, True)),
    ("一般", (Capacity.LIGHT, True)), ("有高血压", (Capacity.LIGHT, True)), ("身体硬朗", (Capacity.HEAVY, True)),
    ("较重", (Capacity.HEAVY, False)), ("", (None, False)),
])
def test_health_as_written_is_read_to_a_capacity_level_for_review(value, expected):
    assert cells.capacity(value) == expected


def skill_names(db, member_id: int) -> set[str]:
    return set(db.session.scalars(select(Skill.name).join(MemberSkill, MemberSkill.skill_id == Skill.id).where(
        MemberSkill.member_id == member_id)))


def member_named(db, name: str) -> MemberProfile:
    return db.session.scalar(select(MemberProfile).join(User, User.id == MemberProfile.id).where(User.name == name))


def test_a_messy_bureau_roster_is_imported_field_by_field(client, db, login, create_admin):
    login(create_admin("410104"))
    before = counts(db)
    job = import_file(client, db, bureau_workbook(MESSY))
    assert job.status == "done", job.message
    assert (job.imported_rows, job.error_rows, job.blank_rows, job.skipped_rows) == (6, 2, 1, 2)
    assert job.message == "新建 6 人，更新 0 人，0 人资料相同，2 行有错误没有导入。"
    assert counts(db)[1] - before[1] == 6

    zhang = member_named(db, "张建国")
    assert (zhang.user.phone, zhang.birth_year, zhang.gender, zhang.region_code) == ("13800138001", 1950, Gender.MALE, "410104")
    assert zhang.work_unit == "管城区教育局副局长" and zhang.post == "" and zhang.branch_id is None
    assert zhang.address == "郑州市管城回族区东大街12号" and zhang.capacity is None and not zhang.has_consent
    assert skill_names(db, zhang.id) == {"书法教学", "法律咨询", "戏曲"}
    assert {s.level for s in zhang.skills} == {2}
    li = member_named(db, "李梅")                                    # "李  梅": the spaces that line names up
    assert (li.user.phone, li.birth_year, li.gender) == ("13900138002", 1964, Gender.FEMALE)
    assert skill_names(db, li.id) == {"中医养生", "智能手机教学"}
    wang = member_named(db, "王德福")
    assert (wang.user.phone, wang.birth_year) == ("13800138003", 1953)
    assert skill_names(db, wang.id) == {"种植技术", "养殖技术", "农机维修"} and wang.capacity is None
    zhao = member_named(db, "赵秀兰")
    assert (zhao.user.phone, zhao.birth_year, zhao.gender) == ("13900138004", 1948, Gender.FEMALE)
    qian = member_named(db, "钱文")
    assert (qian.user.phone, qian.birth_year) == ("13900138005", 1951)
    assert skill_names(db, qian.id) == {"财务咨询"}                   # 财务 and 会计 are the same skill
    wu = member_named(db, "吴刚")
    assert (wu.user.phone, wu.birth_year) == ("13900138008", 1950)

    report = {r["row"]: r for r in importer.report(job)}
    assert report[10]["errors"] == ["“0371-66668888”是座机号码，账号需要手机号码"]
    assert report[11]["errors"] == ["家庭住址“东大街”没有写明县（市、区）或地名不对"]
    assert "出生年月是 Excel 日期序号 18324，读作 1950 年 3 月" in report[12]["notes"]
    assert "身体状况“有高血压”没有导入：要本人同意后才能登记" in report[7]["notes"]
    assert any("没有找到党支部“东大街社区离退休党支部”" in n for n in report[4]["notes"])
    assert all(r["action"] == "create" for n, r in report.items() if n not in (10, 11))
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "是座机号码" in page and "新建 6 人" in page


def test_health_as_free_text_is_kept_with_consent_and_marked_for_review(client, db, login, create_admin):
    wb = Workbook()
    wb.active.append(["姓名", "家庭住址", "同意保存敏感信息", "同意方式", "健康状况"])
    wb.active.append(["好身体", "郑州市管城回族区东大街", "是", "纸质同意书", "良好"])
    out = io.BytesIO()
    wb.save(out)
    login(create_admin("410104"))
    job = import_file(client, db, out.getvalue())
    assert member_named(db, "好身体").capacity is Capacity.MODERATE
    assert "待核对：身体状况“良好”记为中度" in importer.report(job)[0]["notes"]


def roster_with_skills(*values: str) -> bytes:
    wb = Workbook()
    wb.active.append(["姓名", "现居住地", "特长"])
    for i, value in enumerate(values):
        wb.active.append([f"特长{'一二三四五'[i]}", "郑州市管城回族区东大街", value])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_unknown_skills_are_listed_and_must_be_mapped_or_dropped_before_importing(client, db, login, create_admin):
    login(create_admin("410104"))
    upload(client, roster_with_skills("象棋、书法", "象棋", "剪纸"))
    accept_columns(client, db)
    job = latest(db)
    assert json.loads(job.unknown_skills) == {"象棋": 2, "剪纸": 1}
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "“象棋”（2 行）" in page and "导入 3 人" not in page
    assert "专长“象棋”不在专长列表中，待您选择对应的专长或不登记" in importer.report(job)[0]["notes"]
    before = counts(db)
    response = post(client, f"/pool/import/{job.id}/confirm")
    assert response.status_code == 400 and "还有专长不在专长列表中" in response.get_data(as_text=True)
    response = post(client, f"/pool/import/{job.id}/skills", {"skill-0": "0"})          # 剪纸 not answered
    assert response.status_code == 400 and "请为专长“剪纸”选择对应的专长" in response.get_data(as_text=True)
    assert counts(db) == before and latest(db).status == "checked"

    art = db.session.scalar(select(Skill.id).where(Skill.name == "书法绘画"))
    response = post(client, f"/pool/import/{job.id}/skills", {"skill-0": "0", "skill-1": str(art)})
    assert response.status_code == 302
    job = latest(db)
    assert job.status == "checked" and json.loads(job.unknown_skills) == {}
    assert json.loads(db.session.scalar(select(ImportMapping)).skills) == {"象棋": 0, "剪纸": art}
    post(client, f"/pool/import/{job.id}/confirm")
    assert latest(db).imported_rows == 3
    assert skill_names(db, member_named(db, "特长一").id) == {"书法教学"}
    assert skill_names(db, member_named(db, "特长二").id) == set()
    assert skill_names(db, member_named(db, "特长三").id) == {"书法绘画"}
    assert "专长“象棋”按您的选择不登记" in importer.report(latest(db))[1]["notes"]


# --- 4. a preview before anything is written ------------------------------------------------------


def test_the_preview_writes_nothing_and_counts_what_would_be_done(client, db, login, create_admin):
    login(create_admin("410104"))
    before = counts(db)
    upload(client, bureau_workbook(MESSY))
    accept_columns(client, db)
    job = latest(db)
    assert job.status == "checked" and counts(db) == before
    assert (job.valid_rows, job.error_rows, job.updated_rows, job.unchanged_rows) == (6, 2, 0, 0)
    assert job.message == "可以新建 6 人，更新 0 人，0 人不用更新，2 行有错误。"
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "检查结果（还没有导入）" in page and "导入 6 人（新建和更新）" in page and "是座机号码" in page
    report = client.get(f"/pool/import/{job.id}/report.csv")
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["行号", "姓名", "处理", "问题", "说明"]
    assert ["10", "孙立", "不导入", "“0371-66668888”是座机号码，账号需要手机号码"] == rows[6][:4]
    assert rows[1][:3] == ["4", "张建国", "新建"]


def test_importing_nothing_drops_the_file_and_keeps_the_report(client, db, login, create_admin):
    login(create_admin("410104"))
    before = counts(db)
    upload(client, bureau_workbook(MESSY))
    accept_columns(client, db)
    job = latest(db)
    response = post(client, f"/pool/import/{job.id}/cancel")
    assert response.status_code == 302
    job = latest(db)
    assert (job.status, job.content) == ("cancelled", None) and counts(db) == before
    assert "已放弃，没有导入任何一行。" in client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert client.get(f"/pool/import/{job.id}/report.csv").status_code == 200
    assert post(client, f"/pool/import/{job.id}/confirm").status_code == 409
    assert counts(db) == before


def test_all_or_nothing_offers_no_import_while_a_row_is_refused(client, db, login, create_admin):
    login(create_admin("410104"))
    upload(client, bureau_workbook(MESSY), mode="all")
    accept_columns(client, db)
    job = latest(db)
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "导入 6 人" not in page and "有错误或待核对的行，不能导入" in page
    before = counts(db)
    post(client, f"/pool/import/{job.id}/confirm")          # posted anyway: the write step refuses
    job = latest(db)
    assert job.imported_rows == 0 and "没有导入任何一行" in job.message and counts(db) == before


# --- 5. no duplicates -------------------------------------------------------------------------------


def test_importing_the_same_file_again_creates_nobody(client, db, login, create_admin):
    login(create_admin("410104"))
    content = bureau_workbook(MESSY)
    import_file(client, db, content)
    before = counts(db)
    job = import_file(client, db, content)
    assert counts(db) == before
    assert (job.imported_rows, job.updated_rows, job.unchanged_rows, job.error_rows) == (0, 0, 6, 2)
    assert job.message == "新建 0 人，更新 0 人，6 人资料相同，2 行有错误没有导入。"
    report = {r["row"]: r for r in importer.report(job)}
    assert report[4]["action"] == "unchanged" and "已在人才库中，资料相同，不用更新" in report[4]["notes"]


def test_an_overlapping_file_updates_the_members_already_there(client, db, login, create_admin):
    login(create_admin("410104"))
    import_file(client, db, bureau_workbook(MESSY[:2]))
    before = counts(db)
    changed = [person(1, "张建国", 出生年月="1950.03", 联系电话="13800138001", 原工作单位及职务="管城区文化局",
                      **{"特长（可多项）": "书法、太极拳"}),
               person(2, "李梅", 性别="女", 出生年月="1964年11月", 联系电话="13900138002", **{"特长（可多项）": "中医 手机教学"}),
               person(3, "新来的", 联系电话="13700137000")]
    job = import_file(client, db, bureau_workbook(changed))
    assert (job.imported_rows, job.updated_rows, job.unchanged_rows) == (1, 1, 1)
    assert counts(db)[1] == before[1] + 1
    zhang = member_named(db, "张建国")
    db.session.refresh(zhang)
    assert zhang.work_unit == "管城区文化局"
    assert skill_names(db, zhang.id) == {"书法教学", "法律咨询", "戏曲", "文艺演出"}    # added, none removed
    assert "已在人才库中，将更新：原工作单位、专长" in importer.report(job)[0]["notes"]
    from app.members.index import index_rows
    from app.members.models import SkillLocation
    assert db.session.scalar(select(func.count()).select_from(SkillLocation).where(
        SkillLocation.member_id == zhang.id)) == len(index_rows(zhang))


def test_a_row_without_a_phone_naming_a_member_already_there_is_held_for_review(client, db, login, create_admin):
    login(create_admin("410104"))
    import_file(client, db, bureau_workbook([person(1, "周平", 出生年月="1952.06", 联系电话="13700137011")]))
    before = counts(db)
    job = import_file(client, db, bureau_workbook([person(1, "周平", 出生年月="195206", 联系电话=None),
                                                   person(2, "周平", 出生年月="1970.01", 联系电话=None)]))
    assert counts(db)[1] == before[1] + 1            # the other 周平 (born 1970) is someone else
    report = importer.report(job)
    assert (report[0]["action"], job.review_rows) == ("review", 1)
    assert "人才库里已有同名、同出生年份、同县的老同志，这一行没有导入，请核对后在人才库中修改" in report[0]["notes"]


def test_one_person_twice_in_a_file_is_reported(client, db, login, create_admin):
    login(create_admin("410104"))
    job = import_file(client, db, bureau_workbook([
        person(1, "张建国", 联系电话="13800138001"), person(2, "张建国", 联系电话="138-0013-8001"),
        person(3, "王德福", 联系电话=None), person(4, "王德福", 联系电话=None)]))
    report = {r["row"]: r for r in importer.report(job)}
    assert report[5]["errors"] == ["手机号码与第 4 行重复"]
    assert report[7]["errors"] == ["与第 6 行可能是同一人（姓名、出生年月、县都相同）"]
    assert job.imported_rows == 2


def test_a_phone_of_someone_else_or_outside_the_region_is_refused(client, db, login, create_admin):
    login(create_admin("410100"))        # the city: imports into 金水区 too
    import_file(client, db, bureau_workbook([person(1, "金水人", 联系电话="13700137021", 现居住地="郑州市金水区花园路")]))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    login(create_admin("410104"))
    before = counts(db)
    job = import_file(client, db, bureau_workbook([person(1, "金水人", 联系电话="13700137021"),
                                                   person(2, "冒名者", 联系电话="13700137021")]), mode="valid")
    report = {r["row"]: r for r in importer.report(job)}
    assert report[4]["errors"] == ["这位老同志不在您管辖的地区内，不能修改"]
    assert "与第 4 行重复" in report[5]["errors"][0]
    assert counts(db) == before


# --- 6. safe files --------------------------------------------------------------------------------


@functools.cache
def huge_sheet(rows: int, *, dimension: str | None) -> bytes:
    """A real .xlsx whose sheet has `rows` rows (written as XML: openpyxl would take minutes), its
    <dimension> honest, lying (A1:J2) or missing. Packed, a million rows are about 3 MB."""
    wb = Workbook()
    wb.active.append(["姓名", "家庭住址"])
    small = io.BytesIO()
    wb.save(small)
    body = '<row><c t="n"><v>1</v></c></row>' * (rows - 1)
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    xml = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + dim +
           '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c>'
           '<c r="B1" t="inlineStr"><is><t>家庭住址</t></is></c></row>' + body + '</sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, xml if item.filename == "xl/worksheets/sheet1.xml" else src.read(item.filename))
    return out.getvalue()


@pytest.mark.parametrize("dimension", ["A1:J2", None])
def test_a_million_row_sheet_is_refused_quickly_before_it_is_read(client, db, login, create_admin, dimension):
    content = huge_sheet(1_000_000, dimension=dimension)
    login(create_admin("410104"))
    started = time.perf_counter()
    response = upload(client, content)
    seconds = time.perf_counter() - started
    assert response.status_code == 400 and "表格超过了 100,000 行，请分成几个文件导入" in response.get_data(as_text=True)
    assert seconds < 2, seconds
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0
    record("import", {f"refuse-million-rows/{dimension or 'no-dimension'}": {
        "seconds": round(seconds, 3), "file_bytes": len(content)}})


def test_a_zip_bomb_is_refused_before_it_is_unpacked(client, db, login, create_admin):
    wb = Workbook()
    wb.active.append(["姓名", "家庭住址"])
    small = io.BytesIO()
    wb.save(small)
    out = io.BytesIO()
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        with dst.open("xl/media/padding.bin", "w", force_zip64=True) as padding:
            block = b"\0" * (1 << 20)
            for _ in range(sheets.MAX_UNPACKED_BYTES // len(block) + 1):
                padding.write(block)
    content = out.getvalue()
    assert len(content) < 2 * 1024 * 1024              # under 2 MB packed, over 400 MB unpacked
    login(create_admin("410104"))
    started = time.perf_counter()
    response = upload(client, content)
    seconds = time.perf_counter() - started
    assert response.status_code == 400 and "文件解开后过大" in response.get_data(as_text=True)
    assert seconds < 2
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_files_too_big_or_broken_are_refused_with_a_message():
    with pytest.raises(sheets.Refused, match="超过了 15 MB"):
        sheets.check_file(b"PK" + b"\0" * sheets.MAX_FILE_BYTES, "名册.xlsx")
    with pytest.raises(sheets.Refused, match="文件已损坏"):
        sheets.check_file(b"PK\x03\x04 broken", "名册.xlsx")
    with pytest.raises(sheets.Refused, match="超过了 100,000 行"):
        sheets.check_file(b"a,b\n" * (sheets.MAX_ROWS + 100), "名册.csv")


def test_text_that_looks_like_a_formula_is_exported_as_text(client, db, login, create_admin):
    login(create_admin("410104"))
    wb = Workbook()
    wb.active.append(["姓名", "家庭住址", "原工作单位", "原职务"])
    wb.active.append(["公式人", "郑州市管城回族区东大街", '=HYPERLINK("http://evil.example","点我")', "+1+cmd|' /C calc'!A0"])
    wb.active["C2"].data_type = "s"          # text in the sheet (typed after an apostrophe), not a formula
    out = io.BytesIO()
    wb.save(out)
    import_file(client, db, out.getvalue())
    member = member_named(db, "公式人")
    assert member.work_unit.startswith("=HYPERLINK")           # kept as typed
    text = export(client, "/pool/export.csv")
    row = next(r for r in csv.reader(io.StringIO(text)) if r and r[0] == "公式人")
    assert row[6] == "'=HYPERLINK(\"http://evil.example\",\"点我\")" and row[7] == "'+1+cmd|' /C calc'!A0"
    exported = load_workbook(io.BytesIO(bytes.fromhex(export(client, "/pool/export.xlsx"))))
    cells_of = {r[0].value: r for r in exported.active.iter_rows(min_row=2)}
    unit = cells_of["公式人"][6]
    assert unit.data_type == "s" and unit.value.startswith("=HYPERLINK")


# --- 7. .xls and .csv -----------------------------------------------------------------------------


def xls_roster(people: list[list | None]) -> bytes:
    """The bureau's roster saved by Excel 97 / WPS as .xls: title row merged, dates as Excel dates."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("人才名册")
    sheet.write_merge(0, 0, 0, len(HEADER) - 1, TITLE)
    dates = xlwt.easyxf(num_format_str="yyyy-mm")
    for c, name in enumerate(HEADER):
        sheet.write(1, c, name)
    for r, values in enumerate(people, start=2):
        for c, value in enumerate(values or []):
            if value is not None:
                sheet.write(r, c, value, dates if isinstance(value, datetime) else xlwt.Style.default_style)
    sheet.write(len(people) + 2, 0, "合计")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_97_roster_imports(client, db, login, create_admin):
    login(create_admin("410104"))
    people = [person(1, "张建国", 出生年月=datetime(1950, 3, 1), 联系电话=13800138001.0),
              None,
              person(2, "李梅", 性别="女", 出生年月="1964.11", 联系电话="139 0013 8002", **{"特长（可多项）": "中医、豫剧"})]
    job = import_file(client, db, xls_roster(people), filename="名册.xls")
    assert (job.status, job.kind, job.imported_rows, job.blank_rows, job.skipped_rows) == ("done", "xls", 2, 1, 1)
    zhang, li = member_named(db, "张建国"), member_named(db, "李梅")
    assert (zhang.user.phone, zhang.birth_year, skill_names(db, zhang.id)) == ("13800138001", 1950, {"书法教学"})
    assert (li.user.phone, li.birth_year, li.gender) == ("13900138002", 1964, Gender.FEMALE)
    assert skill_names(db, li.id) == {"中医养生", "戏曲"}


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gbk"])
def test_a_csv_roster_imports_in_utf8_or_gbk(client, db, login, create_admin, encoding):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([TITLE])
    writer.writerow(HEADER)
    writer.writerow(person(1, "张建国", 联系电话="138-0013-8001", **{"特长（可多项）": "书法；法律咨询"}))
    writer.writerow([])
    writer.writerow(person(2, "李梅", 性别="女", 出生年月="1964年11月", 联系电话="13900138002"))
    writer.writerow(["合计", "2人"])
    login(create_admin("410104"))
    job = import_file(client, db, text.getvalue().encode(encoding), filename="名册.csv")
    assert (job.status, job.kind, job.imported_rows, job.blank_rows, job.skipped_rows) == ("done", "csv", 2, 1, 1)
    zhang = member_named(db, "张建国")
    assert (zhang.user.phone, zhang.birth_year, zhang.work_unit) == ("13800138001", 1950, "管城区教育局副局长")
    assert skill_names(db, zhang.id) == {"书法教学", "法律咨询"}
    assert member_named(db, "李梅").birth_year == 1964


def test_a_tab_separated_csv_from_wps_imports(client, db, login, create_admin):
    lines = ["\t".join(HEADER), "\t".join(str(v or "") for v in person(1, "张建国", 联系电话="13800138001"))]
    login(create_admin("410104"))
    job = import_file(client, db, "\n".join(lines).encode("gbk"), filename="名册.csv")
    assert job.imported_rows == 1 and member_named(db, "张建国").user.phone == "13800138001"


def test_a_broken_xls_fails_with_a_message(client, db, login, create_admin):
    login(create_admin("410104"))
    upload(client, b"\xd0\xcf\x11\xe0" + b"\0" * 600, filename="名册.xls")
    job = latest(db)
    assert job.status == "failed" and "另存为 .xlsx" in job.message


# --- 8. the command line --------------------------------------------------------------------------


def roster_import(app, tmp_path, content: bytes, *args: str, name: str = "管城名册.xlsx"):
    path = tmp_path / name
    path.write_bytes(content)
    return app.test_cli_runner().invoke(args=["roster", "import", str(path), *args])


def test_the_command_imports_a_county_and_ends_with_the_counts(app, db, tmp_path, create_admin):
    admin = create_admin("410100")
    people = [*MESSY, person(9, "乡下人", 联系电话="13700137031", 现居住地="城东路街道东三马路社区"),
              person(10, "金水人", 联系电话="13700137032", 现居住地="郑州市金水区花园路")]
    before = counts(db)
    result = roster_import(app, tmp_path, bureau_workbook(people), "--county", "410104", "--as", admin.phone)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-1] == "imported 8, updated 0, unchanged 0, refused 2"
    assert "工作表“人才名册”，标题在第 3 行：序号→不导入，姓名→姓名" in lines[0]
    assert any(line.startswith("第 10 行 孙立：不导入：“0371-66668888”是座机号码") for line in lines)
    assert any("第 14 行 金水人：不导入：家庭住址在金水区，不在这次导入的管城回族区" in line for line in lines)
    assert counts(db)[1] == before[1] + 8
    assert member_named(db, "乡下人").region_code == "410104"         # a street of the county being loaded
    assert member_named(db, "周平").region_code == "410104"

    again = roster_import(app, tmp_path, bureau_workbook(people), "--county", "410104", "--as", admin.phone)
    again_lines = again.output.strip().splitlines()
    assert again_lines[-1] == "imported 0, updated 0, unchanged 7, refused 3"    # refused: 2 errors, 1 to review
    assert any(line.startswith("第 11 行 周平：待核对：") and "人才库里已有同名" in line for line in again_lines)
    assert counts(db)[1] == before[1] + 8


def test_a_dry_run_writes_nothing(app, db, tmp_path, create_admin):
    admin = create_admin("410104")
    before = counts(db)
    result = roster_import(app, tmp_path, bureau_workbook(MESSY), "--county", "410104", "--as", admin.phone,
                           "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "dry run: would import 7, update 0, unchanged 0, refused 1"
    assert counts(db) == before


def test_the_command_lists_the_columns_it_could_not_map(app, db, tmp_path, create_admin):
    admin = create_admin("410104")
    wb = Workbook()
    wb.active.append(["名字", "住处", "爱好"])
    wb.active.append(["张三", "东大街", "象棋"])
    out = io.BytesIO()
    wb.save(out)
    before = counts(db)
    result = roster_import(app, tmp_path, out.getvalue(), "--county", "410104", "--as", admin.phone)
    assert result.exit_code == 1
    assert "认不出这些列（请在网页上导入，或把标题改成模板里的名称）：第 2 列“住处”、第 3 列“爱好”" in result.output
    assert "请指出哪一列是“家庭住址（现居住地）”" in result.output
    assert counts(db) == before


@pytest.mark.parametrize("args,message", [
    (["--county", "410105"], "金水区不在这个账号管辖的地区内"),
    (["--county", "999999"], "没有这个县（市、区）代码：999999"),
    (["--county", "410104", "--as", "13000000000"], "没有手机号码为 13000000000 的账号"),
])
def test_the_command_refuses_a_county_or_account_it_may_not_use(app, db, tmp_path, create_admin, args, message):
    admin = create_admin("410104")
    if "--as" not in args:
        args = [*args, "--as", admin.phone]
    before = counts(db)
    result = roster_import(app, tmp_path, bureau_workbook(MESSY), *args)
    assert result.exit_code == 1 and message in result.output
    assert counts(db) == before


def test_a_sheet_whose_dimension_understates_its_size_is_read_whole():
    book = sheets.Book(huge_sheet(11, dimension="A1:B2"), "xlsx")
    try:
        assert len(list(book.rows(book.names[0]))) == 11
    finally:
        book.close()
