"""The roster import reads a workbook once: app.members.xlsx yields what openpyxl's read-only mode
yields, value for value; the preview stages the sheet's rows on disk and the write step streams
them without opening the workbook again; the staged files go when the import ends."""

import io
import os
import time as wallclock
import uuid
from datetime import date, datetime, time, timedelta
from pathlib import Path

from openpyxl import Workbook, load_workbook

from app.members import importer, sheets, staging, xlsx
from tests.members.test_import import accept_columns, counts, latest, post, upload
from tests.members.test_roster_files import MESSY, bureau_workbook, member_named, person


def openpyxl_rows(content: bytes) -> dict[str, list[tuple]]:
    wb = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    out = {}
    for name in wb.sheetnames:
        ws = wb[name]
        ws.reset_dimensions()
        out[name] = [tuple(r) for r in ws.iter_rows(values_only=True)]
    wb.close()
    return out


def every_kind_of_cell() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "名册"
    ws["A1"] = "郑州市离退休干部名册"
    ws.merge_cells("A1:D1")
    ws["B3"], ws["C3"], ws["D3"], ws["E3"] = 1.5, 3, True, datetime(1950, 3, 1)
    ws["F3"] = date(1964, 11, 2)
    ws["A5"], ws["B5"] = "=1+1", "x005F_y"
    ws["C7"], ws["A8"], ws["B8"] = 13800138000, time(10, 30), timedelta(hours=5)
    ws["A9"], ws["B9"], ws["C9"] = 1e20, -3, "  张  三 "
    ws["A10"] = 20000
    ws["A10"].number_format = "yyyy-mm-dd"
    ws["B10"] = 195003
    other = wb.create_sheet("二七区")
    other.append(["姓名", None, "电话"])
    other.append([])
    other.append([None, None])
    other.append(["李四", None, 13900139000])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_the_reader_yields_what_openpyxl_yields_for_every_kind_of_cell():
    content = every_kind_of_cell()
    book = xlsx.Workbook(content)
    mine = {name: list(book.rows(name)) for name in book.names}
    book.close()
    assert mine == openpyxl_rows(content)
    assert mine["名册"][2] == (None, 1.5, 3, True, datetime(1950, 3, 1), datetime(1964, 11, 2))
    assert mine["名册"][3] == ()                              # a row the file leaves out
    assert mine["名册"][4] == (None, "x005F_y")               # a formula without a cached value: nothing
    assert mine["名册"][7] == (time(10, 30), timedelta(hours=5))
    assert mine["名册"][8] == (1e20, -3, "  张  三 ")
    assert mine["名册"][6] == (None, None, 13800138000)
    assert mine["名册"][9] == (datetime(1954, 10, 3), 195003)  # serial 20000 shown as a date
    assert mine["二七区"] == [("姓名", None, "电话"), (), (), ("李四", None, 13900139000)]


def test_the_reader_yields_the_bureau_workbook_as_openpyxl_does():
    content = bureau_workbook(MESSY, second_roster=[["1", "郑和平"]])
    book = sheets.Book(content, "xlsx")
    mine = {name: list(book.rows(name)) for name in book.names}
    book.close()
    assert mine == openpyxl_rows(content)


def staged_files(app) -> list[Path]:
    with app.app_context():
        return sorted(staging.folder().glob("rows-*.pickle"))


def test_the_workbook_is_parsed_once_and_its_staged_rows_go_when_the_import_ends(app, client, db, login,
                                                                                 create_admin, monkeypatch):
    opened: list[str] = []
    original = sheets.Book

    def counting(content, kind):
        opened.append(kind)
        return original(content, kind)

    monkeypatch.setattr(sheets, "Book", counting)
    login(create_admin("410104"))
    before_files = staged_files(app)    # (other test runs may share the instance folder)
    before = counts(db)
    unique = person(99, "唯一", 联系电话="13700137299", 原工作单位及职务=f"某局{uuid.uuid4().hex}")   # a file no other run has
    upload(client, bureau_workbook([*MESSY, unique]))
    assert len(opened) == 1                                   # the read step's survey (its first rows)
    accept_columns(client, db)
    job = latest(db)
    assert job.status == "checked" and len(opened) == 2       # the preview: one parse for both passes
    path = staging.rows_path(job.content, f"xlsx:{job.sheet}", importer.layouts_of(job)[0]["header_row"])
    assert path.exists() and path not in before_files
    post(client, f"/pool/import/{job.id}/confirm")
    job = latest(db)
    assert job.status == "done" and job.imported_rows == 7 and len(opened) == 2    # written from the staged rows
    assert counts(db)[1] == before[1] + 7 and member_named(db, "张建国").region_code == "410104"
    assert not path.exists()


def test_giving_up_removes_the_staged_rows(app, client, db, login, create_admin):
    login(create_admin("410104"))
    upload(client, bureau_workbook(MESSY))
    accept_columns(client, db)
    job = latest(db)
    path = staging.rows_path(job.content, f"xlsx:{job.sheet}", importer.layouts_of(job)[0]["header_row"])
    assert path.exists()
    post(client, f"/pool/import/{job.id}/cancel")
    assert latest(db).status == "cancelled" and not path.exists()


def test_a_staged_file_is_complete_or_absent(app, tmp_path):
    path = tmp_path / "rows.pickle"

    def broken():
        yield from range(5)
        raise OSError("disk gone")

    items = staging.staged(path, broken)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    try:
        next(items)
    except OSError:
        pass
    assert not path.exists() and list(tmp_path.iterdir()) == []
    assert list(staging.staged(path, lambda: iter(range(2500)))) == list(range(2500))
    assert path.exists() and list(staging.staged(path, lambda: iter(()))) == list(range(2500))


def test_a_failed_import_removes_its_staged_rows_and_writes_nothing(app, client, db, login, create_admin,
                                                                    monkeypatch):
    login(create_admin("410104"))
    before = counts(db)
    upload(client, bureau_workbook(MESSY))
    accept_columns(client, db)
    job = latest(db)
    path = staging.rows_path(job.content, f"xlsx:{job.sheet}", importer.layouts_of(job)[0]["header_row"])
    assert path.exists()

    def fail(actor, rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer, "write_rows", fail)
    post(client, f"/pool/import/{job.id}/confirm")
    job = latest(db)
    assert job.status == "failed" and job.message.startswith("文件无法读取") and job.content is None
    assert not path.exists() and counts(db) == before


def test_files_of_imports_left_waiting_are_swept_after_two_days(app):
    with app.app_context():
        old, fresh = staging.folder() / "rows-sweep-test-old.pickle", staging.folder() / "rows-sweep-test-new.pickle"
        old.write_bytes(b"x")
        fresh.write_bytes(b"x")
        now = wallclock.time()                       # the sweep's clock, not the file system's
        two_days_ago = now - staging.KEEP_SECONDS - 60
        os.utime(old, (two_days_ago, two_days_ago))
        os.utime(fresh, (now, now))
        staging.sweep()
        assert not old.exists() and fresh.exists()
        fresh.unlink()
