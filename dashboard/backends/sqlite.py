"""SQLite: a row-store file; timestamps and dates stored as ISO text, so its SQL constructs work on that text.

DATETIME is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' and DATE as 'YYYY-MM-DD'; the constructs use strftime and substr
on that text, never floating julian days, so day boundaries are exact.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard.backends.base import ROW_NUMBER, BackendSpec, DatabaseBusyError, busy_message, file_of

US_PER_DAY = 86_400_000_000


def epoch_us_of_text(ts: str) -> str:
    """Return SQL of the microseconds since 1970 of ISO timestamp text `ts`: the integer seconds of its
    'YYYY-MM-DD HH:MM:SS' prefix, plus its 6 fraction digits (padded)."""
    return (f"(CAST(strftime('%s', substr({ts}, 1, 19)) AS INTEGER) * 1000000 "
            f"+ CAST(substr({ts} || '000000', 21, 6) AS INTEGER))")


class SQLiteSpec(BackendSpec):
    """SQLite: row store with indexes, executemany loads in slices, `BEGIN IMMEDIATE` for writers."""

    name = "sqlite"
    bulk_slice_rows = 100_000  # loads go through Python records: large frames in slices, to bound memory
    first_visits_shape = ROW_NUMBER

    def create_engine(self, url: str, *, read_only: bool, lock_timeout: float,
                      connect_timeout: int | None) -> Engine:
        """Return an engine on the SQLite file of `url` (its folder made) waiting `lock_timeout` for locks."""
        path = file_of(sa.make_url(url))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": lock_timeout})

    def database_file(self, url: sa.URL) -> Path | None:
        """Return the SQLite file of `url` (None in memory)."""
        return file_of(url)

    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        """executemany on the driver connection (same transaction), with timestamps and dates written as the text
        SQLAlchemy's SQLite DateTime / Date types store and parse."""
        columns = []
        for column in table.columns:
            values = frame[column.name]
            if isinstance(column.type, sa.DateTime):
                values = values.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            elif isinstance(column.type, sa.Date):
                values = pd.to_datetime(values).dt.strftime("%Y-%m-%d")
            columns.append(values.astype(object).where(values.notna(), None).tolist())
        names = [c.name for c in table.columns]
        placeholders = ", ".join("?" for _ in names)
        raw = conn.connection.driver_connection
        raw.executemany(f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders})", zip(*columns))

    def lock_for_write(self, conn: Connection, timeout: float) -> None:
        """`BEGIN IMMEDIATE` on the driver connection (waits the engine's busy timeout), so that two writers never
        both hold a read lock and deadlock when they write."""
        driver = conn.connection.driver_connection
        if not driver.in_transaction:
            try:
                driver.execute("BEGIN IMMEDIATE")
            except Exception as exc:  # sqlite3.OperationalError: database is locked
                if "locked" in str(exc) or "busy" in str(exc):
                    raise DatabaseBusyError(busy_message(timeout)) from exc
                raise

    def date_of(self, ts: str) -> str:
        """Return SQL of the date of `ts`."""
        return f"date({ts})"

    def week_start(self, d: str) -> str:
        """Return SQL of the Monday of the ISO week of `d`."""
        # 'weekday 0' moves forward to the next Sunday (or stays on a Sunday); 6 days back is that week's Monday.
        return f"date({d}, 'weekday 0', '-6 days')"

    def month_start(self, d: str) -> str:
        """Return SQL of the first day of the month of `d`."""
        return f"date({d}, 'start of month')"

    def add_days(self, d: str, n: str) -> str:
        """Return SQL of `d` plus `n` days."""
        return f"date({d}, printf('%+d days', {n}))"

    def epoch_us(self, ts: str) -> str:
        """Return SQL of the microseconds since 1970 of `ts`."""
        return epoch_us_of_text(ts)

    def whole_days(self, ts: str, ts0: str) -> str:
        """Return SQL of the whole days from `ts0` to `ts`, at least 0."""
        return f"max(0, ({epoch_us_of_text(ts)} - {epoch_us_of_text(ts0)}) / {US_PER_DAY})"

    def seconds_between(self, end: str, start: str) -> str:
        """Return SQL of the seconds from `start` to `end`."""
        return f"(({epoch_us_of_text(end)} - {epoch_us_of_text(start)}) / 1000000.0)"

    def least_of(self, a: str, b: str) -> str:
        """Return SQL of the scalar min of two values."""
        return f"min({a}, {b})"

    # float_sum: each group is summed in one thread, so a plain SUM is the same on every run (the default)
    # median: none (has_median_aggregate False): `metrics.dialect.median_select` finds the middle rows with windows
