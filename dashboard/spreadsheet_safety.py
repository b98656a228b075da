"""Spreadsheet safety: text that a spreadsheet would run as a formula is written so that it stays text.

The rule follows OWASP's "CSV Injection" page and OWASP ASVS 5.0 requirement 1.2.10:

- A text cell is *formula-like* when its first character is a tab, a carriage return or a NUL, or when its first
  character that is not a space is `=`, `+`, `-` or `@` (Excel, LibreOffice and Google Sheets skip leading
  spaces before they look for a formula).
- OWASP adds that the start of the cell is not the only start: a spreadsheet that splits lines on another
  separator (`;` where the decimal mark is a comma, a tab when text is pasted, a line break in a reader that
  ignores quotes) starts a new cell inside the value. So every part of a text value that follows a `,`, `;`,
  tab, carriage return or line feed is checked the same way (spaces skipped, then `= + - @`).
- Each such start gets a single quote in front: `=1+1` is written `'=1+1`, ` @SUM(A1)` is written `' @SUM(A1)`,
  `x;=cmd` is written `x;'=cmd`. The spreadsheet then shows the text (with the quote) instead of evaluating it.
  The file's own separator and quotes are handled by the CSV writer's quoting (RFC 4180), as before.
- Only text changes. Numbers, dates and booleans are never touched: a negative revenue stays `-12.5` in a
  numeric column. Text that merely looks like a number (a user id `-42` stored as text) is text and is quoted.
- Every other text is written byte for byte as before.

Where it applies: every CSV the product writes for people (chart downloads, the cluster profiles, the customer
grid's browser-side export through `assets/dashAgGridFunctions.js`, which implements the same rule,
`export-metrics`, `export-segments`). XLSX (`export-metrics --format xlsx`, the charts' and the cluster profiles'
Excel downloads through dashboard/spreadsheet_export.py) keeps each text exactly as stored,
writes it as a string cell (never a formula or an error value) and sets the cell's "quote prefix" style on
formula-like text: the XLSX form of the leading quote, which also keeps the cell text when it is edited. XML
cannot hold most control characters, so those are replaced by U+FFFD in XLSX (not in CSV).
An import's rejects file is the exception: it keeps each rejected line's text as it was, so that the corrected
file can be imported again.

Known limit: Python's csv writer before 3.13 leaves a field holding a bare carriage return unquoted, so a
spreadsheet splits that row there; a trigger after the CR is still quoted by the rule above.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

ESCAPE = "'"

# The spaces skipped before a trigger: Unicode white space (Python's and JavaScript's) but tab, CR and LF.
# FORMULA_START_PATTERN is a cell start (the beginning, or just after a separator) followed by optional spaces and
# a trigger, or a tab / CR / NUL as the very first character. assets/dashAgGridFunctions.js holds the same
# pattern text (a test compares them).
SPACES = r"\v\f\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
FORMULA_START_PATTERN = r"(?:^|(?<=[,;\t\r\n]))(?=[" + SPACES + r"]*[=+\-@])|^(?=[\t\r\0])"
_FORMULA_START = re.compile(FORMULA_START_PATTERN)
# characters XML 1.0 (hence XLSX) cannot hold: the C0 controls but tab, LF and CR
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def is_formula_like(value: Any) -> bool:
    """Return True when `value` is text a spreadsheet could read as a formula (see the module rule)."""
    return isinstance(value, str) and _FORMULA_START.search(value) is not None


def neutralise_cell(value: Any) -> Any:
    """Return `value` with a quote before each formula start when it is formula-like text; else unchanged."""
    return _FORMULA_START.sub(ESCAPE, value) if isinstance(value, str) else value


def _is_text_column(series: pd.Series) -> bool:
    """Return True when `series` holds text (object, string or categorical dtype)."""
    return pd.api.types.is_object_dtype(series.dtype) or pd.api.types.is_string_dtype(series.dtype) or (
        isinstance(series.dtype, pd.CategoricalDtype))


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with its formula-like text cells and column names neutralised (a copy when any changed)."""
    out = frame
    for position, column in enumerate(frame.columns):
        series = frame.iloc[:, position]
        if not _is_text_column(series):
            continue
        values = series.astype(object) if isinstance(series.dtype, pd.CategoricalDtype) else series
        if not values.map(is_formula_like).any():
            continue
        if out is frame:
            out = frame.copy()
        out.isetitem(position, values.map(neutralise_cell))
    if any(is_formula_like(c) for c in frame.columns):
        out = out.copy() if out is frame else out
        out.columns = [neutralise_cell(c) for c in frame.columns]
    return out


def xlsx_text(value: Any) -> Any:
    """Return `value` with the characters an XLSX cell cannot hold replaced by U+FFFD; other values unchanged."""
    return _XML_ILLEGAL.sub("\ufffd", value) if isinstance(value, str) else value


def protect_xlsx_sheet(sheet) -> None:
    """Make every text cell of an openpyxl worksheet a string cell; quote-prefix the formula-like ones."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # openpyxl types '=...' as a formula and '#N/A' as an error
                if is_formula_like(cell.value):
                    cell.quotePrefix = True
