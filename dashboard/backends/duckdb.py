"""DuckDB, the embedded default: a columnar file with one read-write process at a time."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from dashboard.backends.base import (MIN_INSTANT, BackendSpec, DatabaseBusyError, busy_message,
                                     file_of)

US_PER_DAY = 86_400_000_000

# Values below 1e14 in magnitude (every real amount) are summed as exact DECIMAL(38, 12), which cannot overflow
# below 1e12 rows; anything larger, infinite or NaN (never from an import, possibly from another writer) is summed
# as a double on the side, so one absurd value gives an inexact total instead of an error.
EXACT_SUM_LIMIT = "1e14"


def duckdb_settings() -> dict[str, Any]:
    """Return DuckDB settings from the environment: DUCKDB_MEMORY_LIMIT (e.g. "1GB") and DUCKDB_THREADS.

    Unset means DuckDB's own defaults (80% of the machine's memory and every core per process): with several
    gunicorn workers set a memory limit so that their sum fits the machine.
    """
    settings: dict[str, Any] = {}
    memory = os.environ.get("DUCKDB_MEMORY_LIMIT", "").strip()
    if memory:
        settings["memory_limit"] = memory
    threads = os.environ.get("DUCKDB_THREADS", "").strip()
    if threads:
        try:
            settings["threads"] = int(threads)
        except ValueError as exc:
            raise ValueError(f"DUCKDB_THREADS must be a whole number, got {threads!r}") from exc
    return settings


def is_lock_error(exc: BaseException) -> bool:
    """True when `exc` says another process holds the file's lock."""
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


class DuckDBSpec(BackendSpec):
    """DuckDB: columnar (no indexes: zone maps prune), Arrow bulk loads, readers open the file read-only."""

    name = "duckdb"
    # ART indexes only slow bulk loads here (the 10m benchmark load: 32.1 s instead of 5.6 s, a 1,186 MB file
    # instead of 198 MB, at the same query speed): a database made by an earlier version has its indexes dropped
    row_store_indexes = False
    read_only_readers = True
    # min(session_start) per user, then row_number over the few candidate rows only (DuckDB's windows are costly)
    first_visits_shape = MIN_INSTANT
    # the distinct (user, day) pairs as a MATERIALIZED CTE, weeks and months derived from it (1.59 s at 11.7M
    # visits, against 2.56 s for per-user distinct counts and 1.95 s for GROUPING SETS)
    has_median_aggregate = True

    def create_engine(self, url: str, *, read_only: bool, lock_timeout: float,
                      connect_timeout: int | None) -> Engine:
        """Return an engine on the DuckDB file of `url` (its folder made), one connection per use (NullPool).

        With `read_only` every connection opens the file read-only, so several processes can read at once and
        a writer can take the lock between requests. Opening a locked file is retried for `lock_timeout`
        seconds, then DatabaseBusyError; after such a wait ran out, later opens try once without waiting until
        one succeeds (a burst of web requests during an import fails fast instead of each holding a thread).
        """
        path = file_of(sa.make_url(url))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, Any] = {"read_only": True} if read_only else {}
        settings = duckdb_settings()
        if settings:
            connect_args["config"] = settings
        engine = sa.create_engine(url, connect_args=connect_args, poolclass=NullPool)

        gave_up = [False]  # the last open waited lock_timeout in vain: the lock is still held, do not wait again

        @sa.event.listens_for(engine, "do_connect")
        def _retry_locked(dialect, conn_rec, cargs, cparams):  # noqa: ANN001
            deadline = time.monotonic() + (0.0 if gave_up[0] else lock_timeout)
            delay = 0.05
            while True:
                try:
                    connection = dialect.connect(*cargs, **cparams)
                    gave_up[0] = False
                    return connection
                except Exception as exc:  # duckdb raises IOException for a held lock
                    if not is_lock_error(exc):
                        raise
                    if time.monotonic() >= deadline:
                        gave_up[0] = True
                        raise DatabaseBusyError(busy_message(lock_timeout)) from exc
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)

        return engine

    def database_file(self, url: sa.URL) -> Path | None:
        """Return the DuckDB file of `url` (None in memory)."""
        return file_of(url)

    def fingerprint_file(self, url: sa.URL) -> Path | None:
        """Return the DuckDB file: any write changes it or its write-ahead log `<file>.wal`."""
        return file_of(url)

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        """Insert `frame` through a registered view of it (an Arrow scan, no Python rows)."""
        raw = conn.connection.driver_connection
        view = f"bulk_{uuid.uuid4().hex}"
        raw.register(view, frame)
        try:
            column_list = ", ".join(c.name for c in table.columns)
            raw.execute(f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM {view}")
        finally:
            raw.unregister(view)

    def fetch_frame(self, result: sa.CursorResult) -> pd.DataFrame | None:
        """Return the result as a DataFrame fetched columnar by the driver (no Python row objects)."""
        cursor = getattr(result, "cursor", None)
        if cursor is None or not hasattr(cursor, "fetch_df"):
            return None
        frame = cursor.fetch_df()
        result.close()
        frame.columns = list(result.keys())
        return frame

    def week_start(self, d: str) -> str:
        """Return SQL of the Monday of the ISO week of `d`."""
        return f"CAST(date_trunc('week', {d}) AS DATE)"

    def month_start(self, d: str) -> str:
        """Return SQL of the first day of the month of `d`."""
        return f"CAST(date_trunc('month', {d}) AS DATE)"

    def add_days(self, d: str, n: str) -> str:
        """Return SQL of `d` plus `n` days."""
        return f"CAST(({d} + CAST({n} AS INTEGER)) AS DATE)"

    def epoch_us(self, ts: str) -> str:
        """Return SQL of the microseconds since 1970 of `ts`."""
        return f"epoch_us({ts})"

    def whole_days(self, ts: str, ts0: str) -> str:
        """Return SQL of the whole days from `ts0` to `ts`, at least 0."""
        # negative differences clamp to 0, so integer division (truncation) equals floor where it matters
        return f"GREATEST(0, (epoch_us({ts}) - epoch_us({ts0})) // {US_PER_DAY})"

    def seconds_between(self, end: str, start: str) -> str:
        """Return SQL of the seconds from `start` to `end`."""
        return f"(CAST(epoch_us({end}) - epoch_us({start}) AS DOUBLE) / 1000000.0)"

    def float_sum(self, x: Callable[[], str]) -> str:
        """Return SQL of an exact DECIMAL(38, 12) sum of the values below EXACT_SUM_LIMIT plus a double sum of the
        others (parallel double sums differ in the last bits from run to run; see `metrics.dialect.float_sum`)."""
        limit = EXACT_SUM_LIMIT
        return (f"(CAST(SUM(CAST(CASE WHEN abs({x()}) < {limit} THEN {x()} ELSE 0 END AS DECIMAL(38, 12))) AS DOUBLE)"
                f" + SUM(CASE WHEN abs({x()}) < {limit} THEN 0.0 ELSE {x()} END))")

    def median(self, x: str) -> str:
        """Return SQL of DuckDB's exact median."""
        return f"median(CAST({x} AS DOUBLE))"
