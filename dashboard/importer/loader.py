"""The import run: every file staged and its new rows moved into the event tables, in one transaction."""

from __future__ import annotations

import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from dashboard import db, interrupts
from dashboard.errors import BadInput
from dashboard.importer import staging
from dashboard.importer.reading import CHUNK_ROWS, open_checked
from dashboard.importer.report import ImportReport
from metrics.derived import store_derived_tables


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
        open_checked(path)
    report = ImportReport()
    with engine.begin() as conn:
        db.lock_for_write(conn, lock_wait)
        db.create_schema(conn)
        staged = [staging.stage_csv(conn, table, path, chunk_rows, progress) for table, path in inputs]
        if transactions is not None:
            staged.append(staging.stage_transactions(conn, Path(transactions)))
        report.files = [s.report for s in staged]
        if strict and report.rejected:
            where = ", ".join(str(r.rejects_path) for r in report.files if r.rejected)
            raise BadInput(f"--strict: {report.rejected} row(s) rejected, nothing imported (see {where})")
        if replace:
            for table in dict.fromkeys(s.table for s in staged):
                report.replaced[table.name] = staging.count_rows(conn, table)
                conn.execute(sa.delete(table))
        for item in staged:
            item.report.imported = staging.move_new_rows(conn, item.staging, item.table)
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
