"""`import`: load visits, orders and costs CSV files (and transaction-line logs) into the database.

Every row is validated by the rules of the metric contract (`shared/spec/metrics.md`); rejected rows
go to `<input>.rejects.csv` with their original text, CSV line number and a reason. Valid rows are
loaded into per-file staging tables, then moved into the event tables with
`INSERT ... SELECT DISTINCT ... EXCEPT SELECT ... FROM <table>`, so exact duplicates (within the files
and against stored rows) are dropped in SQL. The whole run is one transaction: it all goes in, or
nothing does.
"""

from __future__ import annotations

import argparse
import codecs
import csv
import logging
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard import db, interrupts
from dashboard.errors import BadInput
from metrics.derived import store_derived_tables

log = logging.getLogger(__name__)

CHUNK_ROWS = 1_000_000
SQLITE_SLICE_ROWS = 100_000
PROGRESS_MIN_BYTES = 20 * 1024 * 1024
REJECTS_SUFFIX = ".rejects.csv"

READ_BLOCK_BYTES = 4 * 1024 * 1024  # pyarrow's CSV reader parses the file in blocks of this size

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

TRANSACTION_COLUMNS = ("InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate")

# Reasons a transaction line is dropped, in the order they are checked (one reason per line).
TRANSACTION_DROP_REASONS = (
    "cancellation",
    "no invoice number",
    "no customer",
    "unparseable quantity, unit price or invoice date",
    "non-positive quantity",
    "non-positive unit price",
    "exact duplicate line",
)
# Reasons for hostile lines, listed (after the ones above) only when a line was dropped for them.
TRANSACTION_HOSTILE_REASONS = (
    "customer id with a control character",
    f"customer id longer than {USER_ID_MAX_CHARS} characters",
    "quantity * unit price is not a finite number",
    "invoice total is not a finite number",
)


def header_key(name: str) -> str:
    """Return the comparison key of a column header: lower case, without spaces, underscores or dashes."""
    return re.sub(r"[\s_\-]+", "", str(name).strip().lower())


@dataclass
class FileReport:
    """Counts of one imported file."""

    table: str
    path: Path
    read: int = 0
    imported: int = 0
    duplicate: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    ignored_columns: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)  # transaction logs: lines dropped per reason
    customers: int | None = None  # transaction logs: distinct customers after cleaning
    valid: int = 0  # rows that passed validation (for transaction logs: orders built)


@dataclass
class ImportReport:
    """Result of one import run: a FileReport per input file, rows replaced per table, new data version."""

    files: list[FileReport] = field(default_factory=list)
    replaced: dict[str, int] = field(default_factory=dict)
    data_version: str | None = None
    changed: bool = False
    statistics_seconds: float | None = None  # VACUUM (ANALYZE) after the commit (PostgreSQL only)
    derived_users: int | None = None  # users in the rebuilt derived tables (None: the visits did not change)
    derived_seconds: float | None = None
    interrupted_after_commit: bool = False  # Ctrl-C during VACUUM (ANALYZE), after the import committed

    def for_table(self, table: str) -> FileReport:
        """Return the report of the (first) file imported into `table`."""
        for report in self.files:
            if report.table == table:
                return report
        raise KeyError(table)

    @property
    def rejected(self) -> int:
        """Return the number of rejected rows over all files."""
        return sum(r.rejected for r in self.files)


# ----------------------------------------------------------------------------------------------
# Header mapping and chunked reading


def map_columns(table: str, headers: list[str], path: Path) -> tuple[dict[str, str], list[str]]:
    """Return ({canonical name: header in the file}, [ignored extra headers]); BadInput if one is missing or two
    headers are the same column."""
    check_unique_headers(headers, path, {header_key(name): name for name in FIELD_KINDS[table]})
    wanted = {header_key(name): name for name in FIELD_KINDS[table]}
    mapping: dict[str, str] = {}
    extra: list[str] = []
    for header in headers:
        canonical = wanted.get(header_key(header))
        if canonical is None:
            extra.append(header)
        else:
            mapping[canonical] = header
    missing = [name for name in FIELD_KINDS[table] if name not in mapping]
    if missing:
        raise BadInput(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for {table} "
            f"(found: {', '.join(map(str, headers)) or 'no header'})"
        )
    return mapping, extra


def check_unique_headers(headers: list[str], path: Path, canonical: dict[str, str]) -> None:
    """Raise BadInput naming both 1-based column positions when two headers have the same key (`header_key`);
    `canonical` maps keys to the column they mean. Empty headers (unnamed extra columns) may repeat."""
    first: dict[str, int] = {}
    for position, header in enumerate(headers, start=1):
        key = header_key(header)
        if not key:
            continue
        if key in first:
            earlier = first[key]
            meaning = (f"both mean {canonical[key]}" if key in canonical
                       else "have the same header")
            raise BadInput(f"{path}: columns {earlier} ({headers[earlier - 1]!r}) and {position} ({header!r}) "
                           f"{meaning}")
        first[key] = position


def _open_checked(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise BadInput(f"file not found: {path}")
    if not path.is_file():
        raise BadInput(f"not a file: {path}")
    return path


def _not_utf8(path: Path) -> BadInput:
    """Return the BadInput for a file that is not UTF-8, naming the byte offset of the first invalid byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                return BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})")
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {offset + exc.start})")
    return BadInput(f"{path}: not UTF-8 text")


def _csv_headers(path: Path) -> list[str]:
    """Return the header row (the first CSV record) of a UTF-8 file; BadInput for an empty file or bad bytes."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
            if not any(cell.strip() for cell in header):
                if handle.read(1 << 16).strip():
                    raise BadInput(f"{path}: line 1 is blank; the first line must be the header row")
                raise BadInput(f"{path}: empty file (no header row)")
    except UnicodeDecodeError as exc:
        raise _not_utf8(path) from exc
    except csv.Error as exc:
        raise BadInput(f"{path}: not a readable CSV header: {exc}") from exc
    return header


@dataclass
class _CsvChunk:
    """Up to `chunk_rows` data rows of a CSV file as text, and the short rows among or just before them."""

    rows: pd.DataFrame  # columns: the file's headers; index: the CSV line number (the header is line 1)
    short: pd.DataFrame  # rows with fewer fields than the header, padded with empty fields; index: line number
    short_reasons: pd.Series  # why each short row is rejected ("5 fields instead of 6")


class _RowShape:
    """pyarrow's invalid-row handler: notes rows with more or fewer fields than the header (line, fields, text)
    and skips them; the reader never reinterprets them."""

    def __init__(self) -> None:
        self.skipped_lines: list[int] = []  # every skipped row, in file order
        self.short: list[tuple[int, int, str]] = []  # (line, fields, text) of rows with fewer fields
        self.long: tuple[int, int, int] | None = None  # (line, expected, found) of the first longer row

    def __call__(self, row) -> str:  # noqa: ANN001 - pyarrow.csv.InvalidRow
        """Return 'skip' for every malformed row, after noting it."""
        self.skipped_lines.append(row.number)
        if row.actual_columns > row.expected_columns:
            if self.long is None:
                self.long = (row.number, row.expected_columns, row.actual_columns)
        elif row.text.strip():  # a line of spaces only is a blank line
            self.short.append((row.number, row.actual_columns, row.text))
        return "skip"

    def lines_of(self, first: int, count: int) -> np.ndarray:
        """Return the CSV line numbers of the well-formed rows `first .. first + count - 1` (0-based, in the
        order the reader returns them): the line numbers from 2 on that are not skipped rows."""
        skipped = np.asarray(self.skipped_lines, dtype=np.int64) - 2
        order = np.arange(first, first + count, dtype=np.int64)
        # the k-th line not skipped is k plus the number of skipped lines j with skipped[j] - j <= k
        return order + 2 + np.searchsorted(skipped - np.arange(len(skipped)), order, side="right")

    def take_short(self, before: int | None, headers: list[str]) -> tuple[pd.DataFrame, pd.Series]:
        """Return (the short rows with a line number below `before`, or all of them, their reasons) and forget
        them."""
        taken = [item for item in self.short if before is None or item[0] < before]
        self.short = self.short[len(taken):]
        records, lines, reasons = [], [], []
        for line, fields, text in taken:
            values = next(csv.reader([text]), [])
            records.append(values + [""] * (len(headers) - len(values)))
            lines.append(line)
            reasons.append(f"{fields} field{'s' if fields != 1 else ''} instead of {len(headers)}")
        index = pd.Index(lines, dtype="int64")
        frame = pd.DataFrame(records, columns=headers, index=index, dtype=str) if records else \
            pd.DataFrame({h: pd.Series([], dtype=str) for h in dict.fromkeys(headers)}, index=index)
        return frame, pd.Series(reasons, index=index, dtype=object)

    def refuse_long(self, path: Path) -> None:
        """Raise BadInput naming the first row with more fields than the header, if there is one."""
        if self.long is not None:
            line, expected, found = self.long
            raise BadInput(f"{path}: not a readable CSV file: Expected {expected} fields in line {line}, saw {found} "
                           "(a row has more fields than the header; nothing was imported)")


def _csv_chunks(path: Path, headers: list[str], chunk_rows: int, progress: bool) -> Iterator[_CsvChunk]:
    """Yield the data rows of a CSV file (`headers`: its header row) as text frames of at most `chunk_rows` rows,
    indexed by CSV line number, read by pyarrow's streaming CSV reader.

    A row with more fields than the header is a BadInput naming the file and line (nothing is reinterpreted);
    rows with fewer fields come in `short`, for the caller to reject with their line.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    names = [f"f{i}" for i in range(len(headers))]
    shape = _RowShape()
    read_options = pa_csv.ReadOptions(use_threads=False, block_size=READ_BLOCK_BYTES, column_names=names,
                                      skip_rows=1, encoding="utf8")
    parse_options = pa_csv.ParseOptions(delimiter=",", quote_char='"', double_quote=True, escape_char=False,
                                        newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=shape)
    convert_options = pa_csv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                            quoted_strings_can_be_null=False, include_columns=names)
    size = path.stat().st_size
    bar = None
    if progress and size > PROGRESS_MIN_BYTES:
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, mininterval=1.0)
    emitted = 0

    def chunk_of(table) -> _CsvChunk:  # noqa: ANN001 - pyarrow.Table
        nonlocal emitted
        lines = shape.lines_of(emitted, table.num_rows)
        emitted += table.num_rows
        rows = table.to_pandas()
        rows.columns = headers
        rows.index = pd.Index(lines, dtype="int64")
        short, reasons = shape.take_short(int(lines[-1]) if len(lines) else None, headers)
        return _CsvChunk(rows, short, reasons)

    try:
        with open(path, "rb") as handle:
            try:
                reader = pa_csv.open_csv(handle, read_options=read_options, parse_options=parse_options,
                                         convert_options=convert_options)
                pending: list = []
                pending_rows = 0
                for batch in reader:
                    shape.refuse_long(path)
                    if bar is not None:
                        bar.update(handle.tell() - bar.n)
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    while pending_rows >= chunk_rows:
                        table = pa.Table.from_batches(pending)
                        pending = table.slice(chunk_rows).to_batches()
                        pending_rows -= chunk_rows
                        yield chunk_of(table.slice(0, chunk_rows))
            except pa.ArrowInvalid as exc:
                if "utf8" in str(exc).lower() or "utf-8" in str(exc).lower():
                    raise _not_utf8(path) from exc
                if "Empty CSV file" in str(exc):
                    return
                raise BadInput(f"{path}: not a readable CSV file: {str(exc).strip().splitlines()[-1]}") from exc
            shape.refuse_long(path)
            if pending_rows:
                yield chunk_of(pa.Table.from_batches(pending))
            if shape.short:
                short, reasons = shape.take_short(None, headers)
                empty = pd.DataFrame({h: pd.Series([], dtype=str) for h in dict.fromkeys(headers)},
                                     index=pd.Index([], dtype="int64"))
                yield _CsvChunk(empty, short, reasons)
    finally:
        if bar is not None:
            bar.close()


# ----------------------------------------------------------------------------------------------
# Validation (vectorised, one chunk at a time)


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


# ----------------------------------------------------------------------------------------------
# Staging and moving rows into the event tables


def _staging_table(table: sa.Table) -> sa.Table:
    """Return a TEMPORARY table with the columns of `table` and a unique name (not yet created)."""
    columns = [sa.Column(c.name, c.type, nullable=False) for c in table.columns]
    name = f"import_staging_{table.name}_{uuid.uuid4().hex[:10]}"
    return sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])


def _count(conn: Connection, table: sa.Table) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def move_new_rows(conn: Connection, staging: sa.Table, table: sa.Table) -> int:
    """Insert the distinct staging rows not already in `table`; return how many went in."""
    names = [c.name for c in table.columns]
    new_rows = sa.except_(
        sa.select(*[staging.c[n] for n in names]).distinct(),
        sa.select(*[table.c[n] for n in names]),
    )
    before = _count(conn, table)
    conn.execute(sa.insert(table).from_select(names, new_rows))
    return _count(conn, table) - before


def load_staging(conn: Connection, staging: sa.Table, frame: pd.DataFrame) -> int:
    """Append `frame` to a staging table with db.bulk_insert; return the row count.

    SQLite loads through executemany of Python records, so its frames go in slices to bound memory.
    """
    step = SQLITE_SLICE_ROWS if db.backend_name(conn) == "sqlite" else max(len(frame), 1)
    slices = (frame.iloc[begin:begin + step] for begin in range(0, len(frame), step))
    return sum(db.bulk_insert(conn, staging, part) for part in slices)


@dataclass
class _StagedFile:
    report: FileReport
    table: sa.Table
    staging: sa.Table


def _rejects_path(path: Path) -> Path:
    return path.with_name(path.name + REJECTS_SUFFIX)


def _stage_csv(conn: Connection, table: sa.Table, path: Path, chunk_rows: int, progress: bool) -> _StagedFile:
    """Validate a CSV file chunk by chunk: rejects to the rejects file, valid rows to a staging table."""
    path = _open_checked(path)
    report = FileReport(table=table.name, path=path)
    headers = _csv_headers(path)
    mapping, extra = map_columns(table.name, headers, path)
    if extra:
        report.ignored_columns = [str(h) for h in extra]
        log.warning("%s: ignoring extra columns: %s", path, ", ".join(report.ignored_columns))
    rejects_path = _rejects_path(path)
    rejects_path.unlink(missing_ok=True)  # a rejects file of an earlier run would mislead
    line_column = "line" if "line" not in headers else "rejects_line"
    reason_column = "reason" if "reason" not in headers else "rejects_reason"
    staging = _staging_table(table)
    staging.create(conn)
    for chunk in _csv_chunks(path, headers, chunk_rows, progress):
        rows = chunk.rows
        blank = (rows == "").all(axis=1)
        if blank.any():
            rows = rows[~blank]
        report.read += len(rows) + len(chunk.short)
        parsed, reasons = validate_chunk(table.name, rows, mapping)
        rejected = reasons.notna()
        if rejected.any() or len(chunk.short):
            rejects = pd.concat([rows[rejected].assign(**{reason_column: reasons[rejected]}),
                                 chunk.short.assign(**{reason_column: chunk.short_reasons})]).sort_index()
            rejects.insert(len(headers), line_column, rejects.index)
            rejects.to_csv(rejects_path, mode="a", header=report.rejected == 0, index=False)
            report.rejected += len(rejects)
            report.rejects_path = rejects_path
        valid = parsed[~rejected]
        report.valid += len(valid)
        load_staging(conn, staging, valid)
    return _StagedFile(report, table, staging)


# ----------------------------------------------------------------------------------------------
# Transaction-line logs (issue 6)


def _read_transactions(path: Path) -> pd.DataFrame:
    """Return the transaction lines of a CSV or parquet file, columns renamed to TRANSACTION_COLUMNS."""
    path = _open_checked(path)
    wanted = {header_key(name): name for name in TRANSACTION_COLUMNS}
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            headers = list(pq.read_schema(path).names)
        except Exception as exc:  # pyarrow raises ArrowInvalid for a non-parquet file
            raise BadInput(f"{path}: not a readable parquet file ({exc})") from exc
        frame = pd.read_parquet(path)
    else:
        headers = _csv_headers(path)
        check_unique_headers(headers, path, wanted)
        parts = []
        for chunk in _csv_chunks(path, headers, CHUNK_ROWS, progress=False):
            if len(chunk.short):
                line = int(chunk.short.index[0])
                raise BadInput(f"{path}: line {line} has {chunk.short_reasons.iloc[0]} (the header has "
                               f"{len(headers)} columns); nothing was imported")
            parts.append(chunk.rows)
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            {h: pd.Series([], dtype=str) for h in headers})
    check_unique_headers(headers, path, wanted)
    rename = {}
    for header in headers:
        canonical = wanted.get(header_key(header))
        if canonical is not None:
            rename[header] = canonical
    missing = [name for name in TRANSACTION_COLUMNS if name not in rename.values()]
    if missing:
        raise BadInput(f"{path}: missing column {', '.join(missing)} for a transaction log")
    return frame.rename(columns=rename)


def customer_ids(values: pd.Series) -> pd.Series:
    """Return customer ids as text: 17850.0 (float or text) becomes '17850'; empty/missing becomes ''."""
    if pd.api.types.is_float_dtype(values.dtype):
        whole = values.notna() & (np.mod(values.fillna(0), 1) == 0) & (values.abs() < 2**63)
        text = values.astype(str)
        text[whole] = values[whole].astype("int64").astype(str)
        return text.where(values.notna(), "")
    if pd.api.types.is_integer_dtype(values.dtype):
        return values.astype(str)
    text = values.astype("str").fillna("").str.strip()
    return text.str.replace(r"^(\d+)\.0*$", r"\1", regex=True)


def _transaction_times(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    text = values.astype("str").fillna("").str.strip()
    stamps = parse_timestamps(text)
    for fmt in ("%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S", "%Y-%m-%d %H:%M"):
        todo = stamps.isna() & (text != "")
        if not todo.any():
            break
        stamps[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return stamps


def _numbers_any(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values.dtype):
        return values.astype("float64")
    return pd.to_numeric(values.astype("str").str.strip(), errors="coerce").astype("float64")


def orders_from_transactions(lines: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Return (orders: one per (invoice, customer), lines dropped per reason) for transaction lines.

    revenue = sum(Quantity * UnitPrice) of the kept lines, event_dt = the earliest InvoiceDate of the
    invoice. Dropped, in this order: cancellations (InvoiceNo starting with C), lines without invoice
    number or customer, unparseable numbers or dates, non-positive quantity, non-positive unit price,
    exact duplicate lines (all columns of the file).
    """
    invoice = lines["InvoiceNo"].astype("str").fillna("").str.strip()
    customer = customer_ids(lines["CustomerID"])
    quantity = _numbers_any(lines["Quantity"])
    price = _numbers_any(lines["UnitPrice"])
    when = _transaction_times(lines["InvoiceDate"])
    control_id, long_id = (mask for mask, _ in text_problems("CustomerID", customer, USER_ID_MAX_CHARS))
    with np.errstate(over="ignore", invalid="ignore"):
        amount = quantity * price
    checks = {
        "cancellation": invoice.str.upper().str.startswith("C"),
        "no invoice number": invoice == "",
        "no customer": customer == "",
        TRANSACTION_HOSTILE_REASONS[0]: control_id,
        TRANSACTION_HOSTILE_REASONS[1]: long_id,
        "unparseable quantity, unit price or invoice date": (
            quantity.isna() | price.isna() | when.isna() | ~np.isfinite(quantity.fillna(0))
            | ~np.isfinite(price.fillna(0))
        ),
        "non-positive quantity": quantity <= 0,
        "non-positive unit price": price <= 0,
        TRANSACTION_HOSTILE_REASONS[2]: ~np.isfinite(amount.fillna(0)),
    }
    dropped: dict[str, int] = {}
    keep = pd.Series(True, index=lines.index)
    for reason, mask in checks.items():
        hit = keep & mask.fillna(False).astype(bool)
        dropped[reason] = int(hit.sum())
        keep &= ~hit
    duplicate = lines[keep].duplicated(keep="first")
    dropped["exact duplicate line"] = int(duplicate.sum())
    keep[duplicate[duplicate].index] = False
    kept = pd.DataFrame({
        "invoice": invoice[keep], "user_id": customer[keep], "amount": amount[keep], "event_dt": when[keep],
    })
    with np.errstate(over="ignore", invalid="ignore"):
        orders = (
            kept.groupby(["invoice", "user_id"], sort=True, observed=True)
            .agg(event_dt=("event_dt", "min"), revenue=("amount", "sum"), lines=("amount", "size"))
            .reset_index()
        )
    overflow = ~np.isfinite(orders["revenue"])
    dropped[TRANSACTION_HOSTILE_REASONS[3]] = int(orders.loc[overflow, "lines"].sum())
    orders = orders[~overflow][["user_id", "event_dt", "revenue"]].reset_index(drop=True)
    orders["user_id"] = orders["user_id"].astype("str")
    return orders, {reason: count for reason, count in dropped.items()
                    if count or reason not in TRANSACTION_HOSTILE_REASONS}


def _stage_transactions(conn: Connection, path: Path) -> _StagedFile:
    """Map a transaction-line log to orders and load them into a staging table."""
    lines = _read_transactions(path)
    orders, dropped = orders_from_transactions(lines)
    report = FileReport(table="orders", path=Path(path), read=len(lines), dropped=dropped,
                        customers=int(orders["user_id"].nunique()), valid=len(orders))
    staging = _staging_table(db.orders)
    staging.create(conn)
    load_staging(conn, staging, orders)
    return _StagedFile(report, db.orders, staging)


# ----------------------------------------------------------------------------------------------
# The import run


def import_files(
    engine: Engine,
    visits: str | Path | None = None,
    orders: str | Path | None = None,
    costs: str | Path | None = None,
    replace: bool = False,
    strict: bool = False,
    progress: bool = False,
    *,
    transactions: str | Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
    lock_wait: float = db.DEFAULT_LOCK_WAIT,
) -> ImportReport:
    """Import the given files in one transaction and return an ImportReport; BadInput on bad input.

    `replace` deletes the stored rows of the tables being imported first; `strict` refuses the whole
    import when any row is rejected (the rejects files are still written). The transaction first takes the
    database's write lock (`db.lock_for_write`), so concurrent imports and demo loads run one after the other;
    DatabaseBusyError when it is not free within `lock_wait` seconds (PostgreSQL; DuckDB and SQLite wait for
    the engine's lock timeout).
    """
    inputs = [(db.visits, visits), (db.orders, orders), (db.costs, costs)]
    inputs = [(table, Path(path)) for table, path in inputs if path is not None]
    if not inputs and transactions is None:
        raise BadInput("nothing to import: give at least one of --visits, --orders, --costs, --transactions")
    for _, path in inputs + ([(None, Path(transactions))] if transactions is not None else []):
        _open_checked(path)
    report = ImportReport()
    with engine.begin() as conn:
        db.lock_for_write(conn, lock_wait)
        db.create_schema(conn)
        staged = [_stage_csv(conn, table, path, chunk_rows, progress) for table, path in inputs]
        if transactions is not None:
            staged.append(_stage_transactions(conn, Path(transactions)))
        report.files = [s.report for s in staged]
        if strict and report.rejected:
            where = ", ".join(str(r.rejects_path) for r in report.files if r.rejected)
            raise BadInput(f"--strict: {report.rejected} row(s) rejected, nothing imported (see {where})")
        if replace:
            for table in dict.fromkeys(s.table for s in staged):
                report.replaced[table.name] = _count(conn, table)
                conn.execute(sa.delete(table))
        for item in staged:
            item.report.imported = move_new_rows(conn, item.staging, item.table)
            item.report.duplicate = item.report.valid - item.report.imported
            item.staging.drop(conn)
        report.changed = any(r.imported for r in report.files) or any(report.replaced.values())
        visits_changed = (any(r.imported for r in report.files if r.table == db.visits.name)
                          or bool(report.replaced.get(db.visits.name)))
        written = tuple(dict.fromkeys(s.table for s in staged))
        if report.changed:
            report.data_version = db.bump_data_version(conn, visits_changed=visits_changed)
        if visits_changed:  # same transaction: the new visits and their derived tables commit together
            started = time.perf_counter()
            report.derived_users = store_derived_tables(conn)
            report.derived_seconds = time.perf_counter() - started
            written += db.DERIVED_TABLES
        interrupts.raise_if_requested()  # a Ctrl-C a library swallowed still rolls everything back
    if report.changed:  # committed: fresh planner statistics for the written tables (PostgreSQL)
        try:
            report.statistics_seconds = db.refresh_statistics(engine, written)
        except KeyboardInterrupt:  # the import is committed; autovacuum will catch up
            report.interrupted_after_commit = True
    return report


def format_report(report: ImportReport) -> str:
    """Return the import summary as text, one block per file."""
    lines = []
    for r in report.files:
        lines.append(
            f"{r.path} -> {r.table}: read {r.read:,}, imported {r.imported:,}, "
            f"duplicate {r.duplicate:,}, rejected {r.rejected:,}"
        )
        if r.rejects_path is not None:
            lines.append(f"  rejected rows (with line and reason): {r.rejects_path}")
        if r.ignored_columns:
            lines.append(f"  ignored columns: {', '.join(r.ignored_columns)}")
        if r.dropped:
            lines.append(f"  transaction lines: {r.read:,} read, {r.valid:,} orders built, "
                         f"{r.customers:,} customers")
            for reason, count in r.dropped.items():
                lines.append(f"  dropped {count:,} line(s): {reason}")
    for table, count in report.replaced.items():
        lines.append(f"replaced: deleted {count:,} earlier {table} row(s)")
    lines.append(f"data version: {report.data_version}" if report.changed else "nothing changed")
    if report.derived_users is not None:
        lines.append(f"first visits and user-days stored for {report.derived_users:,} users in "
                     f"{report.derived_seconds:.1f}s")
    elif report.derived_seconds is not None:
        lines.append("first visits and user-days not stored (see the warning): the pages compute from the visits until the "
                     "tables' owner runs `python -m dashboard refresh`")
    if report.statistics_seconds is not None:
        lines.append(f"planner statistics refreshed (VACUUM ANALYZE) in {report.statistics_seconds:.1f}s")
    return "\n".join(lines)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `import` command."""
    parser = subparsers.add_parser(
        "import", help="import visits, orders and costs CSV files (all or nothing)",
        description="Validate and import CSV files into the database (DATABASE_URL, default "
        "data/dashboard.duckdb) in one transaction. Rejected rows go to <file>.rejects.csv with "
        "their line number and a reason; exact duplicates are skipped. See docs/import.md.",
    )
    parser.add_argument("--visits", metavar="F", help="visits CSV: user_id, region, device, channel, "
                        "session_start, session_end")
    parser.add_argument("--orders", metavar="F", help="orders CSV: user_id, event_dt, revenue")
    parser.add_argument("--costs", metavar="F", help="costs CSV: dt, channel, costs")
    parser.add_argument("--transactions", metavar="F", help="transaction-line log (CSV or parquet: InvoiceNo, "
                        "Quantity, UnitPrice, CustomerID, InvoiceDate) mapped to orders")
    parser.add_argument("--replace", action="store_true",
                        help="delete the stored rows of the imported tables first (same transaction)")
    parser.add_argument("--strict", action="store_true",
                        help="import nothing if any row is rejected (exit 2; the rejects file is still written)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar for large files")
    parser.add_argument("--lock-wait", metavar="SECONDS", type=float, default=db.DEFAULT_LOCK_WAIT,
                        help="how long to wait for another import or demo load to finish before giving up with "
                        f"'the database is busy' (exit 2; default {db.DEFAULT_LOCK_WAIT:g})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the import from parsed arguments; print the summary; return the exit code."""
    from dashboard.config import Config

    if not (args.visits or args.orders or args.costs or args.transactions):
        raise BadInput("nothing to import: give at least one of --visits, --orders, --costs, --transactions")
    if not args.lock_wait >= 0:
        raise BadInput(f"--lock-wait must be a number of seconds >= 0, got {args.lock_wait}")
    engine = db.make_engine(Config.from_env().database_url, lock_timeout=args.lock_wait)
    try:
        report = import_files(
            engine, visits=args.visits, orders=args.orders, costs=args.costs, replace=args.replace,
            strict=args.strict, progress=not args.no_progress, transactions=args.transactions,
            lock_wait=args.lock_wait,
        )
    except sa.exc.OperationalError as exc:  # SQLite: a reader kept the lock past the busy timeout at commit
        if "database is locked" in str(exc.orig):
            raise db.DatabaseBusyError(db.busy_message(args.lock_wait)) from exc
        raise
    finally:
        engine.dispose()
    print(format_report(report))
    if report.interrupted_after_commit:
        print("interrupted after the import was committed: planner statistics not refreshed "
              "(autovacuum will do it)", file=sys.stderr)
        return 130
    return 0
