"""PostgreSQL through psycopg 3: a server shared by several roles; COPY loads, advisory write lock, VACUUM."""

from __future__ import annotations

import io
import logging
import time
from typing import Any, Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard.backends.base import DISTINCT_ON, BackendSpec, DatabaseBusyError, busy_message

log = logging.getLogger("dashboard.db")  # the warnings have always been the storage layer's

# Key of the advisory lock every writer of the event tables takes (import, demo load), combined with the schema
# name so that writers of different schemas do not wait for each other.
WRITE_LOCK_NAME = "dashboard.write"
COPY_CHUNK_ROWS = 500_000


class PostgreSQLSpec(BackendSpec):
    """PostgreSQL: row store with indexes, planner statistics refreshed after bulk writes, owner-only DDL."""

    name = "postgresql"
    url_schemes = ("postgres",)
    text_collation = "C"  # text compares in code-point order (the contract's string order) only with COLLATE "C"
    refreshes_statistics = True
    temp_schema = "pg_temp"
    # DISTINCT ON (user_id): estimated from the user_id statistics (~40k for 100k users), where `row_number() = 1`
    # was estimated at 0.5 % of the visits, which once made it join every profile to every cost row in a nested
    # loop (13.5 s of a 13.5 s profiles query at 1.2M visits; 0.8 s with DISTINCT ON)
    first_visits_shape = DISTINCT_ON
    has_median_aggregate = True

    def resolve_url(self, url: str) -> str:
        """Return `url` with the psycopg 3 driver when it names none (`postgres://`, `postgresql://`)."""
        for scheme in ("postgres://", "postgresql://"):
            if url.startswith(scheme):
                return "postgresql+psycopg://" + url[len(scheme):]
        return url

    def create_engine(self, url: str, *, read_only: bool, lock_timeout: float,
                      connect_timeout: int | None) -> Engine:
        """Return a pooled engine (connections checked before use); `connect_timeout` seconds bound a connection
        attempt (libpq's connect_timeout; a value in the URL wins)."""
        connect_args: dict[str, Any] = {}
        if connect_timeout is not None and "connect_timeout" not in sa.make_url(url).query:
            connect_args["connect_timeout"] = int(connect_timeout)
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        """Load `frame` through COPY ... FROM STDIN as CSV, in chunks of COPY_CHUNK_ROWS."""
        raw = conn.connection.driver_connection
        column_list = ", ".join(c.name for c in table.columns)
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({column_list}) FROM STDIN WITH (FORMAT csv)") as copy:
                for begin in range(0, len(frame), COPY_CHUNK_ROWS):
                    buf = io.StringIO()
                    frame.iloc[begin:begin + COPY_CHUNK_ROWS].to_csv(
                        buf, header=False, index=False, date_format="%Y-%m-%d %H:%M:%S.%f"
                    )
                    copy.write(buf.getvalue())

    def run_as_owner(self, conn: Connection, run: Callable[[], Any], statement: str) -> bool:
        """Run `run` inside a savepoint: a missing privilege (SQLSTATE 42501) is logged as a warning naming
        `statement` (what the owner should run) and gives False, instead of failing the transaction around it."""
        try:
            with conn.begin_nested():
                run()
            return True
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != "42501":
                raise
            log.warning("Could not change an index or derived table (%s). The work goes on and the numbers are the "
                        "same, but some queries or imports stay slower until the tables' owner runs: %s",
                        str(exc.orig).splitlines()[0], statement.strip())
            return False

    def lock_for_write(self, conn: Connection, timeout: float) -> None:
        """Take a transaction-level advisory lock (`pg_advisory_xact_lock`, released at commit or rollback) on the
        current schema, waiting at most `timeout` seconds (`lock_timeout`, restored after)."""
        previous = conn.execute(sa.select(sa.func.current_setting("lock_timeout"))).scalar_one()
        conn.execute(sa.select(sa.func.set_config("lock_timeout", f"{max(int(timeout * 1000), 1)}ms", True)))
        try:
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(
                sa.func.hashtext(sa.literal(WRITE_LOCK_NAME + ":") + sa.func.current_schema()))))
        except sa.exc.DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise DatabaseBusyError(busy_message(timeout)) from exc
            raise
        conn.execute(sa.select(sa.func.set_config("lock_timeout", previous, True)))

    def refresh_statistics(self, engine: Engine, tables: tuple[sa.Table, ...]) -> float | None:
        """`VACUUM (ANALYZE)` each of `tables` and return the seconds (None when it failed: logged).

        A freshly loaded table has neither planner statistics nor a visibility map until autovacuum gets to it (a
        minute or more later; never with autovacuum off). Meanwhile the metric queries are planned blind, and
        index-only scans still read every heap page: the metric bundle at 1.2M visits took 29.5 s on fresh
        tables, 9.3 s after ANALYZE and 8.4 s after VACUUM (ANALYZE) (docs/metrics.md).
        """
        started = time.perf_counter()
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:  # VACUUM: no transaction
                for table in tables:
                    # the name comes from the schema's metadata, quoted by the dialect: no user input
                    conn.execute(sa.text(f"VACUUM (ANALYZE) {conn.dialect.identifier_preparer.format_table(table)}"))
        except sa.exc.SQLAlchemyError as exc:
            log.warning("VACUUM (ANALYZE) after the write failed (autovacuum will catch up): %s", exc)
            return None
        return time.perf_counter() - started

    def week_start(self, d: str) -> str:
        """Return SQL of the Monday of the ISO week of `d`."""
        # date_trunc of a DATE resolves to its timestamptz form, which converts through the session's time zone:
        # right in every zone (checked over 1990-2040 in all 1,198), but about a third slower than on a TIMESTAMP
        return f"CAST(date_trunc('week', CAST({d} AS TIMESTAMP)) AS DATE)"

    def month_start(self, d: str) -> str:
        """Return SQL of the first day of the month of `d`."""
        return f"CAST(date_trunc('month', CAST({d} AS TIMESTAMP)) AS DATE)"

    def add_days(self, d: str, n: str) -> str:
        """Return SQL of `d` plus `n` days."""
        return f"CAST(({d} + CAST({n} AS INTEGER)) AS DATE)"

    def epoch_us(self, ts: str) -> str:
        """Return SQL of the microseconds since 1970 of `ts`."""
        return f"CAST(EXTRACT(EPOCH FROM {ts}) * 1000000 AS BIGINT)"

    def whole_days(self, ts: str, ts0: str) -> str:
        """Return SQL of the whole days from `ts0` to `ts`, at least 0."""
        return f"GREATEST(0, CAST(FLOOR(EXTRACT(EPOCH FROM ({ts} - {ts0})) / 86400) AS BIGINT))"

    def seconds_between(self, end: str, start: str) -> str:
        """Return SQL of the seconds from `start` to `end`."""
        return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"

    def float_sum(self, x: Callable[[], str]) -> str:
        """Return SQL of a sum as exact NUMERIC, turned back into a double (the same on every parallel plan)."""
        return f"CAST(SUM(CAST({x()} AS NUMERIC)) AS DOUBLE PRECISION)"

    def median(self, x: str) -> str:
        """Return SQL of the exact median (the mean of the two middle values)."""
        return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {x})"
