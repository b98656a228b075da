"""`import`: the command that imports CSV files (and transaction-line logs) into DATABASE_URL."""

from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from dashboard import db
from dashboard.errors import BadInput
from dashboard.importer.loader import import_files
from dashboard.importer.report import format_report


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
