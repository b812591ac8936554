"""Tables written for spreadsheets: CSV cells a spreadsheet will not run, and workbooks.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel and LibreOffice when a CSV file is opened (OWASP "CSV injection"); teachers'
free text ends up in the comment and research exports, so every text cell goes through
:func:`csv_cell`. A workbook needs no such prefix: its cells are typed, and we type text as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Font

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Excel's limit on a sheet name.
SHEET_NAME_MAX = 31
BOLD = Font(bold=True)


def csv_cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula (a leading ``'`` if it would)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def rows_to_csv(rows: Sequence[Mapping[str, Any]], separator: str = ",") -> str:
    """Rows (dicts with the same keys, in column order) as CSV text with a header row. Text is
    guarded by :func:`csv_cell`; numbers are written as they are (``-1`` stays a number). An
    empty table is an empty text: there are no columns to name."""
    if not rows:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=separator, lineterminator="\r\n")
    columns = list(rows[0])
    writer.writerow([csv_cell(c) for c in columns])
    for row in rows:
        writer.writerow([_csv_value(row.get(c)) for c in columns])
    return buffer.getvalue()


def _csv_value(value: object) -> object:
    if isinstance(value, str):
        return csv_cell(value)
    return "" if value is None else value


def workbook(sheets: Mapping[str, Sequence[Mapping[str, Any]]]) -> bytes:
    """An .xlsx workbook with one sheet per table (in the order given), a bold header row, and
    the header frozen. Text cells are stored as text, never as formulas; ``None`` is an empty
    cell. Raises ValueError for a sheet name Excel refuses (too long)."""
    book = Workbook()
    for blank in list(book.worksheets):  # a new workbook has one empty sheet
        book.remove(blank)
    for name, rows in sheets.items():
        if not name or len(name) > SHEET_NAME_MAX:
            raise ValueError(f"a sheet name has 1 to {SHEET_NAME_MAX} characters: {name!r}")
        sheet = book.create_sheet(name)
        columns = list(rows[0]) if rows else []
        for x, column in enumerate(columns, 1):
            cell = sheet.cell(row=1, column=x)
            _set(cell, column)
            cell.font = BOLD
        for y, row in enumerate(rows, 2):
            for x, column in enumerate(columns, 1):
                _set(sheet.cell(row=y, column=x), row.get(column))
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _set(cell: Any, value: object) -> None:
    cell.value = value
    if isinstance(value, str):
        # openpyxl takes a str that starts with "=" for a formula: say it is text.
        cell.data_type = TYPE_STRING
