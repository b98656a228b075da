"""`refresh`: after the event tables were written by other tools, a new data version and the derived tables again."""

from __future__ import annotations

import argparse
import time

from sqlalchemy.engine import Engine

from dashboard import db
from metrics.derived import store_derived_tables


def refresh(engine: Engine) -> tuple[str, int | None, float]:
    """Set a new data version and rebuild the derived tables in one transaction; return (version, users,
    seconds); users is None when this PostgreSQL role may not write the table (a warning says so). The dashboard's
    cached results and derived tables (first visits, user-days) then follow tables written by other tools."""
    started = time.perf_counter()
    with engine.begin() as conn:
        db.create_schema(conn)
        version = db.bump_data_version(conn)
        users = store_derived_tables(conn)
    db.refresh_statistics(engine, db.DERIVED_TABLES)
    return version, users, time.perf_counter() - started


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `refresh` command."""
    parser = subparsers.add_parser(
        "refresh", help="after writing the tables with other tools: new data version, first visits and user-days stored again",
        description="Run this after the visits, orders or costs tables were changed by anything but `import` or "
        "`demo` (SQL, an ETL job): it sets a new data version, so the dashboard drops its cached results, and "
        "stores every user's first visit and the (user, day) pairs of the visits again (the profiles and the "
        "activity read them). Until then the dashboard shows the cached numbers of the previous version and "
        "computes from the visits.",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Refresh the database of DATABASE_URL (default data/dashboard.duckdb); print what was done."""
    from dashboard.config import Config

    engine = db.make_engine(Config.from_env().database_url)
    try:
        version, users, seconds = refresh(engine)
    finally:
        engine.dispose()
    if users is None:
        print(f"data version: {version}\nfirst visits and user-days NOT stored: this role may not write them "
              "(see the warning); the tables' owner should run this command")
        return 1
    print(f"data version: {version}\nfirst visits and user-days stored for {users:,} users in {seconds:.1f}s")
    return 0
