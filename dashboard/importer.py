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

from dashboard import db
from dashboard.errors import BadInput
from metrics.derived import store_derived_tables

log = logging.getLogger(__name__)

CHUNK_ROWS = 1_000_000
SQLITE_SLICE_ROWS = 100_000
PROGRESS_MIN_BYTES = 20 * 1024 * 1024
REJECTS_SUFFIX = ".rejects.csv"

TIMESTAMP_PATTERN = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
DATE_PATTERN = r"\d{4}-\d{2}-\d{2}"
NON_FINITE_PATTERN = r"[+-]?(?:nan|inf|infinity)"

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
    """Return ({canonical name: header in the file}, [ignored extra headers]); BadInput if one is missing."""
    wanted = {header_key(name): name for name in FIELD_KINDS[table]}
    mapping: dict[str, str] = {}
    extra: list[str] = []
    for header in headers:
        canonical = wanted.get(header_key(header))
        if canonical is None:
            extra.append(header)
        elif canonical in mapping:
            raise BadInput(f"{path}: columns {mapping[canonical]!r} and {header!r} both mean {canonical}")
        else:
            mapping[canonical] = header
    missing = [name for name in FIELD_KINDS[table] if name not in mapping]
    if missing:
        raise BadInput(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} for {table} "
            f"(found: {', '.join(map(str, headers)) or 'no header'})"
        )
    return mapping, extra


def _open_checked(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise BadInput(f"file not found: {path}")
    if not path.is_file():
        raise BadInput(f"not a file: {path}")
    return path


def _csv_chunks(path: Path, chunk_rows: int, progress: bool) -> Iterator[pd.DataFrame]:
    """Yield the rows of a CSV file as text frames of at most `chunk_rows` rows, index = row number."""
    size = path.stat().st_size
    bar = None
    if progress and size > PROGRESS_MIN_BYTES:
        from tqdm import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, desc=path.name, file=sys.stderr, mininterval=1.0)
    try:
        with open(path, "rb") as handle:
            try:
                reader = pd.read_csv(
                    handle, dtype=str, na_filter=False, keep_default_na=False, skip_blank_lines=False,
                    chunksize=chunk_rows, encoding="utf-8-sig",
                )
                with reader:
                    for chunk in reader:
                        if bar is not None:
                            bar.update(handle.tell() - bar.n)
                        yield chunk
            except pd.errors.EmptyDataError as exc:
                raise BadInput(f"{path}: empty file (no header row)") from exc
            except pd.errors.ParserError as exc:
                raise BadInput(f"{path}: not a readable CSV file: {str(exc).strip().splitlines()[-1]}") from exc
            except UnicodeDecodeError as exc:
                raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    finally:
        if bar is not None:
            bar.close()


def _csv_headers(path: Path) -> list[str]:
    try:
        return list(pd.read_csv(path, dtype=str, nrows=0, encoding="utf-8-sig").columns)
    except pd.errors.EmptyDataError as exc:
        raise BadInput(f"{path}: empty file (no header row)") from exc
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


# ----------------------------------------------------------------------------------------------
# Validation (vectorised, one chunk at a time)


class _Reasons:
    """The first reason each row fails, filled check by check."""

    def __init__(self, index: pd.Index):
        self.values = pd.Series(pd.NA, index=index, dtype=object)

    def add(self, mask: pd.Series, text: str | pd.Series) -> None:
        hit = mask & self.values.isna()
        if hit.any():
            self.values[hit] = text[hit] if isinstance(text, pd.Series) else text

    @property
    def rejected(self) -> pd.Series:
        return self.values.notna()


def _quoted(original: pd.Series) -> pd.Series:
    return "'" + original.astype(str) + "'"


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Return naive timestamps for `YYYY-MM-DD HH:MM:SS[.fff]` (or `T`) text; NaT where it does not parse."""
    well_formed = values.str.fullmatch(TIMESTAMP_PATTERN).fillna(False).astype(bool)
    return pd.to_datetime(values.where(well_formed), format="ISO8601", errors="coerce")


def parse_dates(values: pd.Series) -> pd.Series:
    """Return midnight timestamps for `YYYY-MM-DD` text; NaT where it does not parse."""
    well_formed = values.str.fullmatch(DATE_PATTERN).fillna(False).astype(bool)
    return pd.to_datetime(values.where(well_formed), format="%Y-%m-%d", errors="coerce")


def parse_numbers(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return (float values, mask of NaN/inf text) for decimal text; NaN where it does not parse."""
    non_finite = values.str.fullmatch(NON_FINITE_PATTERN, case=False).fillna(False).astype(bool)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    non_finite = non_finite | (numbers.notna() & ~np.isfinite(numbers))
    return numbers.where(~non_finite), non_finite


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
            parsed[name] = values
        elif kind in ("timestamp", "date"):
            stamps = parse_timestamps(values) if kind == "timestamp" else parse_dates(values)
            reasons.add(~empty & stamps.isna(), f"unparseable {name} " + _quoted(original))
            parsed[name] = stamps
        else:
            numbers, non_finite = parse_numbers(values)
            reasons.add(non_finite, f"{name} must be a finite number (got " + original.astype(str) + ")")
            reasons.add(~empty & numbers.isna(), f"unparseable {name} " + _quoted(original))
            parsed[name] = numbers
    if table == "visits":
        reasons.add(parsed["session_end"] < parsed["session_start"], "session_end before session_start")
    elif table == "orders":
        reasons.add(parsed["revenue"] <= 0, "revenue must be > 0 (got " + raw[mapping["revenue"]].astype(str) + ")")
    elif table == "costs":
        reasons.add(parsed["costs"] < 0, "costs must be >= 0 (got " + raw[mapping["costs"]].astype(str) + ")")
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
    for chunk in _csv_chunks(path, chunk_rows, progress):
        blank = (chunk == "").all(axis=1)
        if blank.any():
            chunk = chunk[~blank]
        if chunk.empty:
            continue
        report.read += len(chunk)
        parsed, reasons = validate_chunk(table.name, chunk, mapping)
        rejected = reasons.notna()
        if rejected.any():
            rejects = chunk[rejected].copy()
            rejects[line_column] = rejects.index + 2  # the header is line 1
            rejects[reason_column] = reasons[rejected]
            rejects.to_csv(rejects_path, mode="a", header=report.rejected == 0, index=False)
            report.rejected += int(rejected.sum())
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
        frame = pd.concat(list(_csv_chunks(path, CHUNK_ROWS, progress=False)), ignore_index=True)
        if frame.empty:
            frame = pd.DataFrame({h: pd.Series([], dtype=str) for h in headers})
    rename = {}
    for header in headers:
        canonical = wanted.get(header_key(header))
        if canonical is not None:
            if canonical in rename.values():
                raise BadInput(f"{path}: two columns mean {canonical}")
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
    checks = {
        "cancellation": invoice.str.upper().str.startswith("C"),
        "no invoice number": invoice == "",
        "no customer": customer == "",
        "unparseable quantity, unit price or invoice date": (
            quantity.isna() | price.isna() | when.isna() | ~np.isfinite(quantity.fillna(0))
            | ~np.isfinite(price.fillna(0))
        ),
        "non-positive quantity": quantity <= 0,
        "non-positive unit price": price <= 0,
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
        "invoice": invoice[keep], "user_id": customer[keep],
        "amount": quantity[keep] * price[keep], "event_dt": when[keep],
    })
    orders = (
        kept.groupby(["invoice", "user_id"], sort=True, observed=True)
        .agg(event_dt=("event_dt", "min"), revenue=("amount", "sum"))
        .reset_index()[["user_id", "event_dt", "revenue"]]
    )
    orders["user_id"] = orders["user_id"].astype("str")
    return orders, dropped


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
) -> ImportReport:
    """Import the given files in one transaction and return an ImportReport; BadInput on bad input.

    `replace` deletes the stored rows of the tables being imported first; `strict` refuses the whole
    import when any row is rejected (the rejects files are still written).
    """
    inputs = [(db.visits, visits), (db.orders, orders), (db.costs, costs)]
    inputs = [(table, Path(path)) for table, path in inputs if path is not None]
    if not inputs and transactions is None:
        raise BadInput("nothing to import: give at least one of --visits, --orders, --costs, --transactions")
    for _, path in inputs + ([(None, Path(transactions))] if transactions is not None else []):
        _open_checked(path)
    report = ImportReport()
    with engine.begin() as conn:
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
    if report.changed:  # committed: fresh planner statistics for the written tables (PostgreSQL)
        report.statistics_seconds = db.refresh_statistics(engine, written)
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the import from parsed arguments; print the summary; return the exit code."""
    from dashboard.config import Config

    if not (args.visits or args.orders or args.costs or args.transactions):
        raise BadInput("nothing to import: give at least one of --visits, --orders, --costs, --transactions")
    engine = db.make_engine(Config.from_env().database_url)
    try:
        report = import_files(
            engine, visits=args.visits, orders=args.orders, costs=args.costs, replace=args.replace,
            strict=args.strict, progress=not args.no_progress, transactions=args.transactions,
        )
    finally:
        engine.dispose()
    print(format_report(report))
    return 0
