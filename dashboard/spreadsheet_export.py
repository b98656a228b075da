"""Spreadsheet files of a table as people download them (chart CSV and XLSX): readable headers, plain numbers.

- Headers: the caller passes the labels the chart shows (`headers`, column -> label); a column without one keeps
  its name.
- Numbers are written unformatted (no currency sign, no thousands separator, no percent sign: a share is 0.153)
  and without float noise: at most 12 significant digits (`plain_number`: 0.15000000000000002 -> 0.15,
  1234567.123456789 -> 1234567.12346, 1e-7 -> 0.0000001, never an exponent). Integers are written exactly as
  they are (an int64 column keeps all its digits). A missing value (NaN, NA, None) and an infinity (which no
  spreadsheet can hold, and which "-inf" would make a formula) are written as an empty cell.
- Text follows dashboard/spreadsheet_safety.py: formula-like text gets a leading quote in CSV; in XLSX it stays as
  stored in a string cell with the "quote prefix" style, never a formula or an error value.
- XLSX cells are typed: numbers are numeric cells (rounded the same way), dates are date cells (yyyy-mm-dd; a
  time of day other than midnight keeps its time), booleans are boolean cells.
"""

from __future__ import annotations

import datetime as _dt
import io
import math
import re
from decimal import Decimal
from typing import Any, Mapping

import numpy as np
import pandas as pd

from dashboard.spreadsheet_safety import neutralise_frame, protect_xlsx_sheet, xlsx_text

SIGNIFICANT_DIGITS = 12
XLSX_SHEET_TITLE_LENGTH = 31  # Excel's limit
_SHEET_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _is_float(value: Any) -> bool:
    """Return True when `value` is a float (Python's or NumPy's), not an int or a bool."""
    return isinstance(value, (float, np.floating))


def rounded_number(value: float) -> float | None:
    """Return `value` rounded to SIGNIFICANT_DIGITS significant digits; None when it is NaN or infinite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return 0.0 if rounded == 0 else rounded  # -0.0 -> 0.0


def plain_number(value: float) -> str:
    """Return the CSV text of a float: at most 12 significant digits, positional (no exponent), no trailing zeros;
    "" when NaN or infinite."""
    rounded = rounded_number(value)
    if rounded is None:
        return ""
    text = format(Decimal(repr(rounded)), "f")  # the shortest text of the rounded number, without exponent
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def labelled(frame: pd.DataFrame, headers: Mapping[str, str] | None) -> pd.DataFrame:
    """Return `frame` with its columns renamed to their labels in `headers` (unlabelled columns keep their name)."""
    if not headers:
        return frame
    out = frame.copy(deep=False)
    out.columns = [headers.get(column, column) for column in frame.columns]
    return out


def _csv_cell(value: Any) -> Any:
    """Return a cell of an object column as CSV writes it: a float as plain_number text, anything else as is."""
    return plain_number(value) if _is_float(value) else value


def csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with formula-like text neutralised and every float written as plain_number text."""
    out = neutralise_frame(frame)  # first: the number texts below are numbers, never quoted as formulas
    out = out.copy(deep=False) if out is frame else out
    for position in range(out.shape[1]):
        series = out.iloc[:, position]
        if pd.api.types.is_float_dtype(series.dtype):
            out.isetitem(position, series.map(plain_number).astype(object))
        elif pd.api.types.is_object_dtype(series.dtype):
            out.isetitem(position, series.map(_csv_cell))
    return out


def frame_csv(frame: pd.DataFrame, headers: Mapping[str, str] | None = None) -> str:
    """Return the CSV text of `frame` (headers relabelled, plain numbers, formula-safe text, no index)."""
    return csv_ready(labelled(frame, headers)).to_csv(index=False)


def _xlsx_cell(value: Any) -> Any:
    """Return the value an openpyxl cell gets for a frame cell (number, date, bool, text or None)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if _is_float(value):
        return rounded_number(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        value = pd.Timestamp(value).to_pydatetime()
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return value.date() if value.time() == _dt.time(0) else value
    if isinstance(value, str):
        return xlsx_text(value)
    return xlsx_text(str(value)) if not isinstance(value, _dt.date) else value


def sheet_title(title: str) -> str:
    """Return `title` as a valid worksheet title (no [ ] : * ? / \\, at most 31 characters; "Sheet" when empty)."""
    cleaned = _SHEET_TITLE_FORBIDDEN.sub(" ", title).strip().strip("'")
    return cleaned[:XLSX_SHEET_TITLE_LENGTH].strip() or "Sheet"


def frame_xlsx(frame: pd.DataFrame, headers: Mapping[str, str] | None = None, title: str = "Sheet") -> bytes:
    """Return an XLSX workbook (one sheet named after `title`) of `frame`: labelled headers, numeric cells,
    date cells, and text as string cells (formula-like text quote-prefixed, never a formula)."""
    from openpyxl import Workbook

    table = labelled(frame, headers)
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title(title)
    sheet.append([xlsx_text(str(column)) for column in table.columns])
    for row in table.itertuples(index=False, name=None):
        sheet.append([_xlsx_cell(value) for value in row])
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, _dt.datetime):
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            elif isinstance(cell.value, _dt.date):
                cell.number_format = "yyyy-mm-dd"
    for index, column in enumerate(table.columns, start=1):  # wide enough for the header
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(10, len(str(column)) + 2)
    protect_xlsx_sheet(sheet)  # text stays text: no formula, no error value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
