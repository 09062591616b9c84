"""A fast read-only reader of an .xlsx workbook's cell values, row by row.

openpyxl's read-only mode parses every cell into a dictionary and every shared string into a rich
text object, and it scans a whole sheet to find its size when the sheet does not say it first (as
openpyxl's own write-only files): at 100,000 rows that was most of an import's time. This reader
keeps openpyxl for what is small and subtle (the package manifest, the workbook's sheets and
relationships, its date epoch, which cell styles are dates) and reads the shared strings and the
sheets' cells itself with ElementTree's incremental parser, yielding exactly what openpyxl's
`ReadOnlyWorksheet.iter_rows(values_only=True)` yields after `reset_dimensions()`: a tuple per row
as wide as its last cell, an empty tuple for a row the file leaves out, values cast the same way
(numbers, shared and inline strings, booleans, ISO and serial dates by the cell's style, the cached
value of a formula). Pure: no database, no Flask.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree.ElementTree import iterparse

from openpyxl.reader.excel import ExcelReader
from openpyxl.styles.stylesheet import apply_stylesheet
from openpyxl.utils.cell import column_index_from_string
from openpyxl.utils.datetime import from_excel, from_ISO8601
from openpyxl.worksheet._reader import _cast_number
from openpyxl.xml.constants import SHARED_STRINGS, SHEET_MAIN_NS

_NS = f"{{{SHEET_MAIN_NS}}}"
_ROW, _CELL, _VALUE = _NS + "row", _NS + "c", _NS + "v"
_STRING_ITEM, _TEXT, _RUN, _INLINE = _NS + "si", _NS + "t", _NS + "r", _NS + "is"


class Workbook:
    """The sheets of an .xlsx file by name, each read as tuples of cell values."""

    def __init__(self, content: bytes):
        reader = ExcelReader(io.BytesIO(content), read_only=True, data_only=True)
        reader.read_manifest()
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        self._archive: zipfile.ZipFile = reader.archive
        wb = reader.wb
        self._epoch = wb.epoch
        self._dates: set[int] = set(wb._date_formats)
        self._durations: set[int] = set(wb._timedelta_formats)
        self._paths: dict[str, str] = {}
        files = set(self._archive.namelist())
        for sheet, rel in reader.parser.find_sheets():
            if rel.target in files and "chartsheet" not in rel.Type:
                self._paths[sheet.name] = rel.target
        self.names = list(self._paths)
        part = reader.package.find(SHARED_STRINGS)
        self._strings_path = part.PartName[1:] if part is not None else None
        self._strings: list[str] | None = None

    def _shared_strings(self) -> list[str]:
        if self._strings is None:
            self._strings = []
            if self._strings_path is not None:
                with self._archive.open(self._strings_path) as source:
                    self._strings = _read_strings(source)
        return self._strings

    def rows(self, name: str) -> Iterator[tuple]:
        strings = self._shared_strings()
        with self._archive.open(self._paths[name]) as source:
            yield from _read_rows(source, strings, self._dates, self._durations, self._epoch)

    def close(self) -> None:
        self._archive.close()


def _text_of(item: Any) -> str:
    """A string item's text as openpyxl's Text.content: its plain text and its runs' text, without
    the phonetic runs (rPh)."""
    parts = []
    for child in item:
        if child.tag == _TEXT:
            parts.append(child.text or "")
        elif child.tag == _RUN:
            t = child.find(_TEXT)
            if t is not None and t.text:
                parts.append(t.text)
    return "".join(parts)


def _read_strings(source: IO[bytes]) -> list[str]:
    strings = []
    for _, element in iterparse(source):
        if element.tag == _STRING_ITEM:
            strings.append(_text_of(element).replace("x005F_", ""))
            element.clear()
    return strings


def _column(ref: str) -> int:
    letters = ref.rstrip("0123456789")
    return column_index_from_string(letters)


def _read_rows(source: IO[bytes], strings: list[str], dates: set[int], durations: set[int],
               epoch: Any) -> Iterator[tuple]:
    counter, row_number = 1, 0
    cells: list[tuple[int, object]] = []
    column = 0
    for _, element in iterparse(source):
        tag = element.tag
        if tag == _CELL:
            ref = element.get("r")
            column = _column(ref) if ref else column + 1
            cells.append((column, _value(element, strings, dates, durations, epoch)))
        elif tag == _ROW:
            r = element.get("r")
            if r is None:
                row_number += 1
            else:
                try:
                    row_number = int(r)
                except ValueError:
                    as_float = float(r)
                    if not as_float.is_integer():
                        raise ValueError(f"{r} is not a valid row number") from None
                    row_number = int(as_float)
            element.clear()
            while counter < row_number:        # rows the file leaves out
                counter += 1
                yield ()
            if counter <= row_number:
                counter += 1
                if cells:
                    values: list[object] = [None] * cells[-1][0]
                    for index, value in cells:
                        if 0 < index <= len(values):
                            values[index - 1] = value
                    yield tuple(values)
                else:
                    yield ()
            cells, column = [], 0


def _value(element: Any, strings: list[str], dates: set[int], durations: set[int], epoch: Any) -> object:
    data_type = element.get("t", "n")
    if data_type == "inlineStr":
        child = element.find(_INLINE)
        return _text_of(child) if child is not None else None
    value = element.findtext(_VALUE, None) or None
    if value is None:
        return None
    if data_type == "n":
        number = _cast_number(value)
        style = element.get("s")
        style_id = int(style) if style else 0
        if style_id in dates:
            try:
                return from_excel(number, epoch, timedelta=style_id in durations)
            except (OverflowError, ValueError):
                return "#VALUE!"
        return number
    if data_type == "s":
        return strings[int(value)]
    if data_type == "b":
        return bool(int(value))
    if data_type == "d":
        return from_ISO8601(value)
    return value       # "str" (a formula's text), "e" (an error such as #N/A)
