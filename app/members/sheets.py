"""Reading a roster file as bureaus keep it: .xlsx (app.members.xlsx, read-only), .xls (xlrd) or .csv
(UTF-8 or GBK), one or several sheets, the table somewhere below title rows.

check_file() refuses, before anything reads the workbook whole, what is too big: the file, the
unpacked size of an .xlsx (a zip bomb) and the rows of each sheet (counted on the packed XML with
an early stop, so a 1,000,000-row sheet is refused after reading only as many rows as we accept).
find_header() picks the header row among the first rows; table() yields the data rows after it and
says which rows it skipped (blank, 合计/小计/总计/备注, the header repeated on a later page).
Pure: no database, no Flask.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

import xlrd
from openpyxl.cell import WriteOnlyCell

from app.members import columns, xlsx

MAX_FILE_BYTES = 15 * 1024 * 1024
MAX_UNPACKED_BYTES = 400 * 1024 * 1024
MAX_ROWS = 100_000
HEADER_SEARCH_ROWS = 30
SAMPLES = 3
KINDS = ("xlsx", "xls", "csv")

_SUMMARY = re.compile(r"^(合计|小计|总计|共计|备注|说明|注[:：]|填表说明|填表人|审核人|制表)")
_SUMMARY_FIRST = re.compile(r"^[\s\u3000]*[合小总共备说注填审制]")   # cheap test before the full one
_ROW_TAG = re.compile(rb"<(?:\w+:)?row[\s>]")
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"[A-Z]+\d+:?[A-Z]*(\d*)\"")


class Refused(ValueError):
    """A file that will not be read, with the reason in Chinese."""


def kind_of(filename: str) -> str | None:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return suffix if suffix in KINDS else None


def check_file(content: bytes, filename: str) -> str:
    """The file's kind, once it is known to be small enough to read; Refused otherwise."""
    kind = kind_of(filename)
    if kind is None:
        raise Refused("请上传 Excel 文件（.xlsx 或 .xls）或 CSV 文件")
    if len(content) > MAX_FILE_BYTES:
        raise Refused(f"文件有 {len(content) / 1024 / 1024:.1f} MB，超过了 {MAX_FILE_BYTES // 1024 // 1024} MB，请分开导入")
    if kind == "xlsx":
        _check_xlsx(content)
    elif kind == "xls" and not content.startswith(b"\xd0\xcf\x11\xe0"):
        raise Refused("这个文件不是 Excel 97-2003（.xls）文件，请用 Excel 或 WPS 打开后另存为 .xlsx 再上传")
    elif kind == "csv" and content.count(b"\n") > MAX_ROWS + HEADER_SEARCH_ROWS:
        raise Refused(_too_many())
    return kind


def _too_many() -> str:
    return f"表格超过了 {MAX_ROWS:,} 行，请分成几个文件导入"


def _check_xlsx(content: bytes) -> None:
    if not content.startswith(b"PK"):
        raise Refused("这个文件不是 .xlsx 文件，请用 Excel 或 WPS 打开后另存为 .xlsx 再上传")
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise Refused("文件已损坏，无法打开，请用 Excel 或 WPS 打开后另存为 .xlsx 再上传") from e
    if sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise Refused("文件解开后过大，可能已损坏或不是普通的名册，无法导入")
    for entry in entries:
        if entry.filename.startswith("xl/worksheets/") and entry.filename.endswith(".xml"):
            _check_rows(archive, entry)


def _check_rows(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """Count a sheet's rows on its XML, stopping as soon as there are too many."""
    limit = MAX_ROWS + HEADER_SEARCH_ROWS
    with archive.open(entry) as stream:
        head = stream.read(4096)
        found = _DIMENSION.search(head)
        if found and found.group(1) and int(found.group(1)) > limit * 2:
            raise Refused(_too_many())     # the sheet says so itself; a lie is caught below
        count, tail = len(_ROW_TAG.findall(head)), head[-16:]
        while count <= limit:
            chunk = stream.read(1 << 20)
            if not chunk:
                return
            count += len(_ROW_TAG.findall(tail + chunk)) - len(_ROW_TAG.findall(tail))
            tail = chunk[-16:]
    raise Refused(_too_many())


# --- the workbook ---------------------------------------------------------------------------------


class Book:
    """The sheets of a checked file, each read row by row as tuples of cell values."""

    def __init__(self, content: bytes, kind: str):
        self.kind = kind
        self._wb: Any = None
        self._csv: list[list[str]] | None = None
        if kind == "xlsx":
            self._wb = xlsx.Workbook(content)
            self.names = list(self._wb.names)
        elif kind == "xls":
            try:
                self._wb = xlrd.open_workbook(file_contents=content, on_demand=True)
            except xlrd.XLRDError as e:
                raise Refused("这个 .xls 文件无法打开，请用 Excel 或 WPS 另存为 .xlsx 再上传") from e
            self.names = list(self._wb.sheet_names())
        else:
            self._csv = list(csv.reader(io.StringIO(_decode(content)), dialect=_dialect(content)))
            self.names = ["表格"]

    def rows(self, name: str) -> Iterator[tuple]:
        if self.kind == "xlsx":
            # Every row there is, whatever the sheet's own <dimension> claims (other programs
            # write A1:J2 for any size).
            yield from self._wb.rows(name)
        elif self.kind == "xls":
            yield from _xls_rows(self._wb, name)
        else:
            yield from (tuple(r) for r in self._csv or [])

    def close(self) -> None:
        if self.kind == "xlsx":
            self._wb.close()
        elif self.kind == "xls":
            self._wb.release_resources()


def _decode(content: bytes) -> str:
    """UTF-8 (with or without the mark Excel writes), else GBK as WPS and older Excel save it."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030")
    except UnicodeDecodeError as e:
        raise Refused("CSV 文件的文字编码无法识别，请用 Excel 或 WPS 另存为 .xlsx 再上传") from e


def _dialect(content: bytes) -> type[csv.Dialect]:
    first = content.split(b"\n", 1)[0]
    return csv.excel_tab if first.count(b"\t") > first.count(b",") else csv.excel


def _xls_rows(book: Any, name: str) -> Iterator[tuple]:
    sheet = book.sheet_by_name(name)
    if sheet.nrows > MAX_ROWS + HEADER_SEARCH_ROWS:
        raise Refused(_too_many())
    for r in range(sheet.nrows):
        values = []
        for c in range(sheet.ncols):
            cell = sheet.cell(r, c)
            if cell.ctype == xlrd.XL_CELL_DATE:
                values.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
            elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                values.append(None)
            else:
                values.append(cell.value)
        yield tuple(values)


# --- finding the table ----------------------------------------------------------------------------


def display(value: object) -> str:
    """A cell as text, as the admin would read it in the sheet."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == time(0) else value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


@dataclass
class Header:
    row: int                       # 1-based number of the (last) header row
    names: list[str]               # one per column
    recognised: int                # how many columns the synonym table knows


def find_header(first_rows: list[tuple]) -> Header | None:
    """The header among the first rows: the row naming most known columns, with 姓名 among them.
    A two-row header (a merged 联系方式 above 手机 / 座机) is read as one: the lower row names a
    column where it says something, the upper row where it is blank."""
    best: Header | None = None
    for index, values in enumerate(first_rows[:HEADER_SEARCH_ROWS]):
        names = [display(v) for v in values]
        keys = [columns.recognise(n) for n in names]
        score = sum(1 for k in keys if k)
        if "name" in keys and (best is None or score > best.recognised):
            best = Header(index + 1, names, score)
    if best is None:
        return None
    if best.row < len(first_rows):
        below = [display(v) for v in first_rows[best.row]]
        below_keys = [columns.recognise(n) for n in below]
        name_column = [columns.recognise(n) for n in best.names].index("name")
        if any(below_keys) and not (name_column < len(below) and below[name_column]):
            width = max(len(best.names), len(below))
            upper = best.names + [""] * (width - len(best.names))
            lower = below + [""] * (width - len(below))
            best = Header(best.row + 1, [lo or up for up, lo in zip(upper, lower, strict=True)],
                          sum(1 for n in lower if columns.recognise(n)) + best.recognised)
    while best.names and not best.names[-1]:
        best.names.pop()
    return best


@dataclass
class SheetLayout:
    """What the mapping page shows of a sheet."""

    name: str
    header: Header | None
    samples: list[list[str]] = field(default_factory=list)      # the first values of each column

    def to_json(self) -> dict:
        return {"name": self.name, "header_row": self.header.row if self.header else None,
                "headers": self.header.names if self.header else [],
                "recognised": self.header.recognised if self.header else 0, "samples": self.samples}


def survey(book: Book) -> list[SheetLayout]:
    """Every sheet's header and the first values under each of its columns."""
    found = []
    for name in book.names:
        first: list[tuple] = []
        rows = book.rows(name)
        for values in rows:
            first.append(values)
            if len(first) >= HEADER_SEARCH_ROWS:
                break
        header = find_header(first)
        layout = SheetLayout(name, header)
        if header is not None:
            layout.samples = [[] for _ in header.names]
            taken = 0
            for values in itertools.chain(first[header.row:], rows):    # never the whole sheet
                kind, _ = classify(values, header)
                if kind != "data":
                    continue
                for i, v in enumerate(values[:len(header.names)]):
                    text = display(v)
                    if text and len(layout.samples[i]) < SAMPLES:
                        layout.samples[i].append(text[:40])
                taken += 1
                if taken >= 20 or all(len(s) >= SAMPLES for s in layout.samples):
                    break
        found.append(layout)
    return found


def choose(layouts: list[SheetLayout]) -> SheetLayout | None:
    """The sheet to import when it is obvious: the only one with a header, or the one whose header
    names clearly more known columns than any other. None: ask the admin."""
    candidates = sorted((s for s in layouts if s.header), key=lambda s: -s.header.recognised)  # type: ignore[union-attr]
    if len(candidates) == 1:
        return candidates[0]
    if len(candidates) > 1 and candidates[0].header.recognised >= candidates[1].header.recognised + 3:  # type: ignore[union-attr]
        return candidates[0]
    return None


def classify(values: tuple, header: Header) -> tuple[str, str]:
    """("data" | "blank" | "summary" | "header", what the row starts with)."""
    texts = [display(v) for v in values[:max(len(header.names), 1)]]
    filled = [t for t in texts if t]
    if not filled:
        return "blank", ""
    if _SUMMARY_FIRST.match(filled[0]) and _SUMMARY.match(columns.clean(filled[0])):
        return "summary", filled[0][:10]
    same = sum(1 for t, n in zip(texts, header.names, strict=False) if n and t == n)
    if same >= max(2, header.recognised // 2):
        return "header", ""
    return "data", ""


def table(book: Book, sheet: str, header: Header) -> Iterator[tuple[int, str, tuple]]:
    """(row number, kind, values) for every row below the header; kind as classify() says.
    Stops with Refused past MAX_ROWS."""
    for number, values in enumerate(book.rows(sheet), start=1):
        if number <= header.row:
            continue
        if number > MAX_ROWS + HEADER_SEARCH_ROWS:       # as check_file() counts them
            raise Refused(_too_many())
        kind, _ = classify(values, header)
        yield number, kind, values


# --- writing cells --------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A value for a CSV file we write (export, report): text that a spreadsheet would take for a
    formula (= + - @, a tab or a carriage return first) gets a leading apostrophe, as OWASP advises
    for CSV, so opening the file never runs anything. Numbers stay numbers."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def text_cells(ws: Any, values: list) -> list:
    """A row for a write-only openpyxl sheet whose text is stored as text: openpyxl would otherwise
    write a string starting with = as a formula, and Excel would run it."""
    cells = []
    for value in values:
        if isinstance(value, str) and value.startswith(_FORMULA_START):
            cell = WriteOnlyCell(ws, value=value)
            cell.data_type = "s"
            cells.append(cell)
        else:
            cells.append(value)
    return cells
