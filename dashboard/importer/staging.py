"""Staging of the import: each file's valid rows into a temporary table, then the new ones into the event table."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from dashboard.backends import backend_spec
from dashboard.importer.reading import csv_chunks, csv_headers, open_checked, map_columns
from dashboard.importer.report import FileReport
from dashboard.importer.transactions import read_transactions, orders_from_transactions
from dashboard.importer.validation import validate_chunk

log = logging.getLogger(__name__)

REJECTS_SUFFIX = ".rejects.csv"


def _staging_table(table: sa.Table) -> sa.Table:
    """Return a TEMPORARY table with the columns of `table` and a unique name (not yet created)."""
    columns = [sa.Column(c.name, c.type, nullable=False) for c in table.columns]
    name = f"import_staging_{table.name}_{uuid.uuid4().hex[:10]}"
    return sa.Table(name, sa.MetaData(), *columns, prefixes=["TEMPORARY"])


def count_rows(conn: Connection, table: sa.Table) -> int:
    """Return the number of rows in `table`."""
    return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def move_new_rows(conn: Connection, staging: sa.Table, table: sa.Table) -> int:
    """Insert the distinct staging rows not already in `table`; return how many went in."""
    names = [c.name for c in table.columns]
    new_rows = sa.except_(
        sa.select(*[staging.c[n] for n in names]).distinct(),
        sa.select(*[table.c[n] for n in names]),
    )
    before = count_rows(conn, table)
    conn.execute(sa.insert(table).from_select(names, new_rows))
    return count_rows(conn, table) - before


def load_staging(conn: Connection, staging: sa.Table, frame: pd.DataFrame) -> int:
    """Append `frame` to a staging table with db.bulk_insert; return the row count.

    An engine whose spec loads through Python records (SQLite: executemany) takes its frames in slices of its
    `bulk_slice_rows`, to bound memory; the others take the frame whole.
    """
    step = backend_spec(conn).bulk_slice_rows or max(len(frame), 1)
    slices = (frame.iloc[begin:begin + step] for begin in range(0, len(frame), step))
    return sum(db.bulk_insert(conn, staging, part) for part in slices)


@dataclass
class _StagedFile:
    report: FileReport
    table: sa.Table
    staging: sa.Table


def _rejects_path(path: Path) -> Path:
    """Return the rejects file of `path`: `<input>.rejects.csv` beside it."""
    return path.with_name(path.name + REJECTS_SUFFIX)


def stage_csv(conn: Connection, table: sa.Table, path: Path, chunk_rows: int, progress: bool) -> _StagedFile:
    """Validate a CSV file chunk by chunk: rejects to the rejects file, valid rows to a staging table."""
    path = open_checked(path)
    report = FileReport(table=table.name, path=path)
    headers = csv_headers(path)
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
    for chunk in csv_chunks(path, headers, chunk_rows, progress):
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


def stage_transactions(conn: Connection, path: Path) -> _StagedFile:
    """Map a transaction-line log to orders and load them into a staging table."""
    lines = read_transactions(path)
    orders, dropped = orders_from_transactions(lines)
    report = FileReport(table="orders", path=Path(path), read=len(lines), dropped=dropped,
                        customers=int(orders["user_id"].nunique()), valid=len(orders))
    staging = _staging_table(db.orders)
    staging.create(conn)
    load_staging(conn, staging, orders)
    return _StagedFile(report, db.orders, staging)
