"""Row validation of the import: the metric contract's field rules, checked vectorised one chunk at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd

TIMESTAMP_PATTERN = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
NON_FINITE_PATTERN = r"[+-]?(?:nan|inf|infinity)"

# Timestamps and dates are held as datetime64[ns] (pandas, the metric code), whose range is 1677-09-21 00:12:43 ..
# 2262-04-11 23:47:16. The supported range is the whole days inside it whose next day is inside it too:
# 1677-09-22 00:00:00 .. 2262-04-10 23:59:59.999999. Well-formed values outside it are rejected as out of range.
FIRST_SUPPORTED_DAY = "1677-09-22"
LAST_SUPPORTED_DAY = "2262-04-10"
OUT_OF_RANGE = f"out of the supported range ({FIRST_SUPPORTED_DAY} .. {LAST_SUPPORTED_DAY})"

# Control characters (C0, DEL, C1) are refused in text fields; NUL cannot be stored in PostgreSQL text at all.
CONTROL_PATTERN = r"[\x00-\x1f\x7f-\x9f]"
# Longest text field, in characters (the same on every backend). PostgreSQL's btree index entries must stay under
# about 2,700 bytes: ix_visits_first_visit holds (user_id, session_start, channel, device, region), at most
# 256 * 4 + 8 + 3 * 100 * 4 = 2,232 bytes of UTF-8 with these limits.
USER_ID_MAX_CHARS = 256
DIMENSION_MAX_CHARS = 100
TEXT_MAX_CHARS = {"user_id": USER_ID_MAX_CHARS, "region": DIMENSION_MAX_CHARS, "device": DIMENSION_MAX_CHARS,
                  "channel": DIMENSION_MAX_CHARS}
REASON_TEXT_CHARS = 100  # a value quoted in a reason is cut to this many characters

# Field kinds per table, in the table's column order. Every field is required (no empty values).
FIELD_KINDS: dict[str, dict[str, str]] = {
    "visits": {
        "user_id": "text", "region": "text", "device": "text", "channel": "text",
        "session_start": "timestamp", "session_end": "timestamp",
    },
    "orders": {"user_id": "text", "event_dt": "timestamp", "revenue": "number"},
    "costs": {"dt": "date", "channel": "text", "costs": "number"},
}


class _Reasons:
    """The first reason each row fails, filled check by check."""

    def __init__(self, index: pd.Index):
        self.values = pd.Series(pd.NA, index=index, dtype=object)

    def add(self, mask: pd.Series, text) -> None:  # noqa: ANN001 - str, or a function of the hit mask
        """Set `text` as the reason of the rows in `mask` that have none yet; `text` is a string or a function
        that returns the reasons of the rows of a mask (computed only for the rows that fail)."""
        hit = mask & self.values.isna()
        if hit.any():
            self.values[hit] = text(hit) if callable(text) else text

    @property
    def rejected(self) -> pd.Series:
        """Return the mask of the rows that have a reason."""
        return self.values.notna()


def _quoted(original: pd.Series) -> pd.Series:
    """Return the values quoted for a reason, each cut to REASON_TEXT_CHARS characters."""
    text = original.astype(str)
    long = text.str.len() > REASON_TEXT_CHARS
    if long.any():
        text = text.where(~long, text.str.slice(0, REASON_TEXT_CHARS) + "...")
    return "'" + text + "'"


def _out_of_range(values: pd.Series, well_formed: pd.Series, fmt: str) -> pd.Series:
    """Return the mask of well-formed values that are a real date (and time) outside the supported days
    FIRST_SUPPORTED_DAY .. LAST_SUPPORTED_DAY; `fmt` is the format they are parsed with."""
    day = values.str.slice(0, 10)
    outside = well_formed & ((day < FIRST_SUPPORTED_DAY) | (day > LAST_SUPPORTED_DAY))
    if outside.any():  # valid as a calendar date and time? the same month, day and time in the leap year 2000
        probe = "2000" + values[outside].str.slice(4)
        outside[outside] = pd.to_datetime(probe, format=fmt, errors="coerce").notna()
    return outside


def parse_timestamps_checked(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (naive timestamps for `YYYY-MM-DD HH:MM:SS[.fff]` (or `T`) text, NaT where it does not parse or is
    out of range; mask of well-formed timestamps outside the supported range)."""
    well_formed = values.str.fullmatch(TIMESTAMP_PATTERN).fillna(False).astype(bool)
    outside = _out_of_range(values, well_formed, "ISO8601")
    stamps = pd.to_datetime(values.where(well_formed & ~outside), format="ISO8601", errors="coerce")
    return stamps.astype("datetime64[ns]"), outside


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Return naive timestamps for `YYYY-MM-DD HH:MM:SS[.fff]` (or `T`) text; NaT where it does not parse or is
    outside the supported range."""
    return parse_timestamps_checked(values)[0]


def parse_dates_checked(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (midnight timestamps for `YYYY-MM-DD` text, NaT where it does not parse or is out of range; mask of
    well-formed dates outside the supported range)."""
    well_formed = values.str.fullmatch(DATE_PATTERN).fillna(False).astype(bool)
    outside = _out_of_range(values, well_formed, "%Y-%m-%d")
    dates = pd.to_datetime(values.where(well_formed & ~outside), format="%Y-%m-%d", errors="coerce")
    return dates.astype("datetime64[ns]"), outside


def parse_dates(values: pd.Series) -> pd.Series:
    """Return midnight timestamps for `YYYY-MM-DD` text; NaT where it does not parse or is out of range."""
    return parse_dates_checked(values)[0]


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (float values, mask of NaN/inf text) for decimal text; NaN where it does not parse."""
    non_finite = values.str.fullmatch(NON_FINITE_PATTERN, case=False).fillna(False).astype(bool)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    non_finite = non_finite | (numbers.notna() & ~np.isfinite(numbers))
    return numbers.where(~non_finite), non_finite


def text_problems(name: str, values: pd.Series, limit: int) -> list[tuple[pd.Series, object]]:
    """Return [(mask, function of a mask returning the reasons)] for text values with a control character and for
    those longer than `limit` characters, in that order."""
    control = values.str.contains(CONTROL_PATTERN, regex=True).fillna(False).astype(bool)
    lengths = values.str.len()

    def control_reason(hit: pd.Series) -> pd.Series:
        found = values[hit].str.extract(f"({CONTROL_PATTERN})", expand=False)
        return f"{name} contains a control character (U+" + found.map(lambda c: f"{ord(c):04X}").astype(str) + ")"

    def long_reason(hit: pd.Series) -> pd.Series:
        return f"{name} longer than {limit} characters (" + lengths[hit].astype(str) + ")"

    return [(control, control_reason), (lengths > limit, long_reason)]


def validate_chunk(table: str, raw: pd.DataFrame, mapping: dict[str, str]) -> tuple[pd.DataFrame, pd.Series]:
    """Return (parsed frame with the table's columns, reason per row: NA for valid rows) for a text chunk."""
    reasons = _Reasons(raw.index)
    parsed: dict[str, pd.Series] = {}
    for name, kind in FIELD_KINDS[table].items():
        original = raw[mapping[name]]
        values = original.str.strip()
        empty = values == ""
        reasons.add(empty, f"empty {name}")
        if kind == "text":
            for mask, reason in text_problems(name, values, TEXT_MAX_CHARS[name]):
                reasons.add(mask, reason)
            parsed[name] = values
        elif kind in ("timestamp", "date"):
            stamps, outside = parse_timestamps_checked(values) if kind == "timestamp" else parse_dates_checked(values)
            reasons.add(outside, lambda hit: f"{name} " + _quoted(original[hit]) + f" {OUT_OF_RANGE}")
            reasons.add(~empty & stamps.isna(), lambda hit: f"unparseable {name} " + _quoted(original[hit]))
            parsed[name] = stamps
        else:
            numbers, non_finite = parse_numbers(values)
            reasons.add(non_finite,
                        lambda hit: f"{name} must be a finite number (got " + original[hit].astype(str) + ")")
            reasons.add(~empty & numbers.isna(), lambda hit: f"unparseable {name} " + _quoted(original[hit]))
            parsed[name] = numbers
    if table == "visits":
        reasons.add(parsed["session_end"] < parsed["session_start"], "session_end before session_start")
    elif table == "orders":
        reasons.add(parsed["revenue"] <= 0,
                    lambda hit: "revenue must be > 0 (got " + raw.loc[hit, mapping["revenue"]].astype(str) + ")")
    elif table == "costs":
        reasons.add(parsed["costs"] < 0,
                    lambda hit: "costs must be >= 0 (got " + raw.loc[hit, mapping["costs"]].astype(str) + ")")
    return pd.DataFrame(parsed, index=raw.index), reasons.values
