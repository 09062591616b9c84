"""A dashboard as an .xlsx workbook: one sheet per section, its tables one under another, each
cell a figure (never a formula), with the title, region, period and generated time on top.
A dashboard is a few hundred summary figures at most, so the workbook is written on the request."""

from __future__ import annotations

from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font

from app.formats import fmt_instant
from app.reports.figures import Dashboard, refreshed_text


def workbook(board: Dashboard) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for section in board.sections:
        ws = wb.create_sheet(section.title)
        ws.append([f"{board.unit.name} · {section.title}"])
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(["统计期间", board.period])
        ws.append(["生成时间", fmt_instant(board.generated_at)])
        ws.append([refreshed_text(board)])
        ws.append([section.summary])
        if section.note:
            ws.append([section.note])
        for table in section.tables:
            ws.append([])
            ws.append([table.caption])
            ws.cell(ws.max_row, 1).font = bold
            ws.append(table.head)
            for cell in ws[ws.max_row]:
                cell.font = bold
            for row in [*table.rows, *([table.foot] if table.foot else [])]:
                ws.append([_value(v) for v in row])
                for cell, v in zip(ws[ws.max_row], row, strict=False):
                    if _is_percent(v):
                        cell.number_format = "0.0%"
        ws.column_dimensions["A"].width = 28
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def _is_percent(v: object) -> bool:
    return isinstance(v, str) and v.endswith("%") and v[:-1].replace(".", "", 1).isdigit()


def _value(v: object) -> object:
    """Numbers stay numbers (hours are written "2.5" on the page, shares "35.2%": a fraction shown
    as a percentage); text such as "<3" stays text."""
    if _is_percent(v):
        assert isinstance(v, str)
        return round(float(v[:-1]) / 100, 4)
    if isinstance(v, str):
        try:
            return float(v) if "." in v else int(v)
        except ValueError:
            return v
    return v
