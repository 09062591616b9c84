"""Roster import: every row checked, a Chinese report row by row, both modes, nothing half-written."""

import io
import json
import time

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.accounts.models import User
from app.members import importer
from app.members.models import ImportJob, MemberProfile, MemberSkill, SkillLocation
from tests.conftest import csrf_token, record

HEADER = [name for name, _ in importer.COLUMNS]


def row(**values) -> list:
    base = {"姓名": "张建国", "家庭住址": "郑州市管城回族区东大街12号"}
    base.update(values)
    return [base.get(name, "") for name in HEADER]


def workbook(rows: list[list | None]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER)
    for r in rows:
        ws.append(r if r is not None else [])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def upload(client, content: bytes, mode: str = "valid", filename: str = "名册.xlsx"):
    # Encoded here, in memory: Werkzeug's test client would spool a large body to a temporary
    # file it never closes.
    from werkzeug.datastructures import FileStorage, MultiDict
    from werkzeug.test import encode_multipart

    fields = MultiDict({"mode": mode, "csrf_token": csrf_token(client, "/pool/import"),
                        "file": FileStorage(io.BytesIO(content), filename=filename)})
    boundary, body = encode_multipart(fields)
    return client.post("/pool/import", data=body, content_type=f"multipart/form-data; boundary={boundary}")


def latest(db) -> ImportJob:
    db.session.expire_all()
    return db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))


def post(client, path: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": csrf_token(client, "/pool/import"), **(data or {})})


def accept_columns(client, db, overrides: dict[int, str] | None = None, sheet: str | None = None):
    """Post the mapping page as proposed (with `overrides`: column index → field, or "ignore")."""
    job = latest(db)
    assert job.status == "mapping", (job.status, job.message)
    layout = next(s for s in importer.layouts_of(job) if s["name"] == (sheet or job.sheet))
    proposal = (importer.mapping_of(job)["columns"] if layout["name"] == job.sheet
                else importer.proposed_mapping(layout["headers"])[0])
    data = {"sheet": layout["name"]}
    for i, key in enumerate(proposal):
        data[f"col-{i}"] = "ignore" if key == "" else (key or "")
    data.update({f"col-{i}": v for i, v in (overrides or {}).items()})
    return post(client, f"/pool/import/{job.id}/columns", data)


def import_file(client, db, content: bytes, mode: str = "valid", filename: str = "名册.xlsx") -> ImportJob:
    """Upload, accept the proposed columns, look at the preview, import: the whole web path."""
    assert upload(client, content, mode, filename).status_code == 302
    accept_columns(client, db)
    job = latest(db)
    assert job.status == "checked", (job.status, job.message)
    if job.valid_rows and not (mode == "all" and (job.error_rows or job.review_rows)):
        post(client, f"/pool/import/{job.id}/confirm")
    else:
        post(client, f"/pool/import/{job.id}/cancel")
    return latest(db)


CHARS = "一二三四五六七八九十百千万甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥春夏秋冬梅兰竹菊"


def name_for(n: int, surname: str = "王") -> str:
    """A unique, valid Chinese name for a number (no digits: names hold only characters)."""
    chars = []
    while True:
        n, r = divmod(n, len(CHARS))
        chars.append(CHARS[r])
        if n == 0:
            return surname + "".join(chars)


def counts(db):
    return (db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(MemberProfile)),
            db.session.scalar(select(func.count()).select_from(MemberSkill)))


MIXED = [
    row(姓名="好人一", 手机号码="13811110001", 专长1="法律咨询", 程度1="精通", 同意保存敏感信息="是", 同意方式="纸质同意书", 身体状况="中度"),
    row(姓名="全角号", 手机号码="１３８ １１１１ ０００２", 专长1="课业辅导", 程度1="熟练"),
    None,                                                                    # blank line
    row(姓名="没有县", 家庭住址="东大街12号"),                                   # unknown region
    row(姓名="重复号", 手机号码="13811110001"),                                  # duplicate in the file
    row(姓名="坏程度", 专长1="法律咨询", 程度1="很好"),                           # bad level
    row(姓名="外县人", 家庭住址="南阳市淅川县城关镇"),                              # outside the admin's region
    None,
    row(姓名="好人三", 方便的时间="周一上午、周三下午", 出生年份=1950, 性别="女"),
]


def test_the_template_downloads_with_the_columns_and_skill_list(client, login, create_admin):
    login(create_admin("410104"))
    response = client.get("/pool/import/template.xlsx")
    wb = load_workbook(io.BytesIO(response.data))
    assert [c.value for c in wb["名册"][1]] == HEADER
    assert {"填写说明", "专长列表"} <= set(wb.sheetnames)
    assert wb["专长列表"].max_row > 30


def test_valid_mode_imports_the_good_rows_and_reports_the_rest(client, db, login, create_admin, create_user):
    create_user(phone="13811110009")
    login(create_admin("410104"))
    before = counts(db)
    job = import_file(client, db, workbook(MIXED + [row(姓名="已注册", 手机号码="13811110009")]))
    assert (job.status, job.valid_rows, job.error_rows, job.blank_rows, job.imported_rows) == ("done", 3, 5, 2, 3)
    report = {item["row"]: " ".join(item["errors"]) for item in json.loads(job.report)}
    assert "县（市、区）" in report[5] and "第 2 行重复" in report[6] and "了解、熟练或精通" in report[7]
    assert "不在您管辖的地区内" in report[8] and "已经注册过账号" in report[11]
    page = client.get(f"/pool/import/{job.id}").get_data(as_text=True)
    assert "新建 3 人" in page and "第 2 行重复" in page
    after = counts(db)
    assert after[0] - before[0] == 3 and after[1] - before[1] == 3
    full_width = db.session.scalar(select(User).where(User.name == "全角号"))
    assert full_width.phone == "13811110002" and full_width.password_hash is None
    consenting = db.session.scalar(select(User).where(User.name == "好人一"))
    assert db.session.scalar(select(func.count()).select_from(SkillLocation).where(
        SkillLocation.member_id == consenting.id)) == 1
    # The index rows are the ones the profile services would write (county included: remote tasks
    # of the county read it).
    from app.members.index import index_rows
    from app.members.models import MemberProfile

    member = db.session.get(MemberProfile, consenting.id)
    written = db.session.scalars(select(SkillLocation).where(SkillLocation.member_id == member.id)).all()
    assert [{c.key: getattr(r, c.key) for c in SkillLocation.__table__.columns} for r in written] == index_rows(member)
    assert written[0].region_code == member.region_code != ""


def test_all_or_nothing_mode_imports_nothing_when_a_row_is_bad(client, db, login, create_admin):
    login(create_admin("410104"))
    before = counts(db)
    job = import_file(client, db, workbook(MIXED), mode="all")
    assert job.status == "cancelled" and job.imported_rows == 0 and job.error_rows == 4
    assert "没有导入任何一行" in job.message
    assert counts(db) == before


def test_all_or_nothing_mode_imports_everything_when_all_rows_are_good(client, db, login, create_admin):
    login(create_admin("410104"))
    job = import_file(client, db, workbook([row(姓名=name_for(i)) for i in range(5)]), mode="all")
    assert job.imported_rows == 5


@pytest.mark.parametrize("content,filename,message", [
    (b"not a spreadsheet", "名册.xlsx", "这个文件不是 .xlsx 文件"),
    (workbook([row()]), "名册.pdf", "请上传 Excel 文件（.xlsx 或 .xls）或 CSV 文件"),
    (b"not a spreadsheet", "名册.xls", "这个文件不是 Excel 97-2003（.xls）文件"),
])
def test_other_files_are_refused_before_anything_runs(client, db, login, create_admin, content, filename, message):
    login(create_admin("410104"))
    response = upload(client, content, filename=filename)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_a_sheet_without_the_template_header_fails_cleanly(client, db, login, create_admin):
    wb = Workbook()
    wb.active.append(["name", "phone"])
    wb.active.append(["张三", "13800138000"])
    out = io.BytesIO()
    wb.save(out)
    login(create_admin("410104"))
    before = counts(db)
    upload(client, out.getvalue())
    job = db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))
    assert job.status == "failed" and "标题行" in job.message and counts(db) == before


def test_a_failure_while_writing_leaves_nothing_behind(client, db, login, create_admin, monkeypatch):
    original = importer.write_rows

    def half_then_fail(actor, rows):
        original(actor, rows[:2])  # half of the rows are written…
        raise RuntimeError("disk full")  # …then it breaks

    monkeypatch.setattr(importer, "write_rows", half_then_fail)
    login(create_admin("410104"))
    before = counts(db)
    job = import_file(client, db, workbook([row(姓名=name_for(i)) for i in range(4)]))
    assert job.status == "failed" and counts(db) == before


def ten_thousand_rows() -> list[list | None]:
    rows: list[list | None] = []
    counties = ["郑州市管城回族区", "郑州市金水区", "郑州市中原区", "郑州市二七区", "郑州市惠济区"]
    for i in range(10_000):
        n = i + 1
        if n % 1000 == 500:
            rows.append(None)                                                      # blank lines
        elif n % 997 == 0:
            rows.append(row(姓名=name_for(n, "吴"), 家庭住址="东大街", 手机号码=f"137{n:08d}"))   # unknown region
        elif n % 991 == 0:
            rows.append(row(姓名=name_for(n, "钟"), 手机号码=f"137{n - 1:08d}"))               # duplicate phone
        elif n % 983 == 0:
            rows.append(row(姓名=name_for(n, "郝"), 专长1="法律咨询", 程度1="很好", 手机号码=f"137{n:08d}"))
        else:
            phone = f"137{n:08d}"
            if n % 7 == 0:  # full-width digits
                phone = phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
            rows.append(row(姓名=name_for(n), 手机号码=phone, 家庭住址=f"{counties[n % 5]}某路{n}号",
                            专长1="法律咨询", 程度1="熟练", 专长2="课业辅导", 程度2="精通",
                            同意保存敏感信息="是", 同意方式="口头同意", 身体状况="轻度", 方便的时间="周二上午"))
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["valid", "all"])
def test_ten_thousand_rows(client, db, login, create_admin, mode):
    rows = ten_thousand_rows()
    expected_blank = sum(r is None for r in rows)
    expected_bad = sum(1 for n in range(1, 10_001)
                       if n % 1000 != 500 and (n % 997 == 0 or n % 991 == 0 or n % 983 == 0))
    content = workbook(rows)
    login(create_admin("410100"))
    before = counts(db)
    started = time.perf_counter()
    job = import_file(client, db, content, mode=mode)
    seconds = time.perf_counter() - started
    good = 10_000 - expected_blank - expected_bad
    assert (job.blank_rows, job.error_rows, job.valid_rows) == (expected_blank, expected_bad, good)
    assert job.imported_rows == (good if mode == "valid" else 0)
    after = counts(db)
    assert after[1] - before[1] == job.imported_rows
    if mode == "valid":
        assert after[2] - before[2] == 2 * good
    record("import", {f"{db.engine.dialect.name}/{mode}": {
        "rows": 10_000, "seconds": round(seconds, 2), "imported": job.imported_rows, "errors": job.error_rows,
        "blank": job.blank_rows, "file_bytes": len(content)}})


@pytest.mark.slow
def test_ten_thousand_rows_imported_again_create_nobody(client, db, login, create_admin):
    content = workbook(ten_thousand_rows())
    login(create_admin("410100"))
    first = import_file(client, db, content)
    before = counts(db)
    started = time.perf_counter()
    again = import_file(client, db, content)
    seconds = time.perf_counter() - started
    assert counts(db) == before
    assert (again.imported_rows, again.updated_rows, again.unchanged_rows) == (0, 0, first.imported_rows)
    actions = [r["action"] for r in importer.report(again)]
    assert actions.count("unchanged") == first.imported_rows and actions.count("create") == 0
    assert again.error_rows == first.error_rows
    record("import", {f"{db.engine.dialect.name}/again": {
        "rows": 10_000, "seconds": round(seconds, 2), "unchanged": again.unchanged_rows, "errors": again.error_rows}})
