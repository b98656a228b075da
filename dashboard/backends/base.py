"""The interface every database engine implements: `BackendSpec`, and the errors the engines share.

A spec says everything the code does differently per engine: how its URL is written, how an engine is opened,
how a frame is bulk loaded, which indexes it keeps, whether its statistics need a refresh after a write, how
writers lock, which query shapes its planner runs best and the SQL text of the dialect constructs of
`metrics.dialect`. The rest of the code asks the spec (`backend_spec(conn).some_flag`); it never compares engine
names. Standard SQL is the default where the standard has an answer; everything else is abstract, so a new
engine's class cannot be made before it says how it does each of them.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any, Callable, ClassVar

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard.errors import BadInput

# First-visit query shapes (`metrics.profiles.first_visits_select`), each the same rows, for different planners.
DISTINCT_ON = "distinct_on"  # DISTINCT ON (user_id) in the tie-break order
MIN_INSTANT = "min_instant"  # min(session_start) per user, the visits at that instant, row_number over those few
ROW_NUMBER = "row_number"  # row_number over each user's visits (portable)
FIRST_VISIT_SHAPES = (DISTINCT_ON, MIN_INSTANT, ROW_NUMBER)

# Shapes of the distinct (user, day/week/month) pair counts (`metrics.activity._period_pairs_select`).

DEFAULT_LOCK_WAIT = 60.0  # seconds a writer waits for another writer's lock before DatabaseBusyError


class UnsupportedBackendError(BadInput):
    """A database engine (dialect) with no spec in `dashboard.backends`: named with the supported ones."""

    def __init__(self, name: str, supported: tuple[str, ...]):
        super().__init__(f"unsupported database backend {name!r}: supported are {', '.join(supported)} "
                         f"(one spec per engine in dashboard/backends/)")
        self.backend = name
        self.supported = supported


class DatabaseBusyError(RuntimeError):
    """Another process holds the database's write lock (DuckDB file lock, SQLite lock, PostgreSQL import lock) for
    longer than we waited. The message is one line for the user and names no file path."""


def busy_message(waited: float) -> str:
    """Return the one-line message of DatabaseBusyError after waiting `waited` seconds."""
    return (f"the database is busy: another process (an import, a demo load or a refresh) holds its write lock; "
            f"waited {waited:g}s, try again when it has finished")


def file_of(url: sa.URL) -> Path | None:
    """Return the database file of a file-backed `url` (None for an in-memory database or none named)."""
    if not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


class BackendSpec(abc.ABC):
    """One database engine: what the storage, the metrics and the commands do differently on it.

    Subclasses set `name` (the SQLAlchemy dialect name) and implement the abstract methods; the class attributes
    are the engine's policies and query-shape choices.
    """

    name: ClassVar[str]
    url_schemes: ClassVar[tuple[str, ...]] = ()  # further URL schemes (before any "+driver") meaning this engine
    text_collation: ClassVar[str | None] = None  # collation giving text columns code-point order, when not the default
    row_store_indexes: ClassVar[bool] = True  # keep the metric indexes (`db.INDEXES`); False: drop them (columnar)
    refreshes_statistics: ClassVar[bool] = False  # `refresh_statistics` does work after a bulk write
    bulk_slice_rows: ClassVar[int | None] = None  # rows per bulk_insert call when loading a large frame (None: one)
    read_only_readers: ClassVar[bool] = False  # readers (web, export) open an existing database file read-only
    first_visits_shape: ClassVar[str] = ROW_NUMBER  # one of FIRST_VISIT_SHAPES
    temp_schema: ClassVar[str] = "temp"  # the schema that names only the connection's temporary tables
    has_median_aggregate: ClassVar[bool] = False  # `median` gives an exact median aggregate

    # ------------------------------------------------------------------------------------------ engine

    def resolve_url(self, url: str) -> str:
        """Return `url` in the form SQLAlchemy opens (a driver chosen when the URL names none)."""
        return url

    @abc.abstractmethod
    def create_engine(self, url: str, *, read_only: bool, lock_timeout: float,
                      connect_timeout: int | None) -> Engine:
        """Return an engine on the resolved `url` (see `dashboard.db.make_engine` for the arguments)."""

    def database_file(self, url: sa.URL) -> Path | None:
        """Return the file holding the database of `url`, or None (a server, an in-memory database)."""
        return None

    def fingerprint_file(self, url: sa.URL) -> Path | None:
        """Return the file whose (and whose `<file>.wal`'s) size and time change with every committed write,
        when readers open it read-only per request; None when the engine gives no such sign."""
        return None

    # ------------------------------------------------------------------------------------------ writes

    @abc.abstractmethod
    def bulk_insert(self, conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
        """Append `frame` (exactly the table's columns, storage dtypes) to `table` in the caller's transaction."""

    def run_as_owner(self, conn: Connection, run: Callable[[], Any], statement: str) -> bool:
        """Run work that may need the tables' owner and return True (False: refused, warned, `statement` named)."""
        run()
        return True

    def lock_for_write(self, conn: Connection, timeout: float) -> None:
        """Take the database's write lock for the current transaction (nothing when the engine already has one)."""

    def refresh_statistics(self, engine: Engine, tables: tuple[sa.Table, ...]) -> float | None:
        """After a bulk write committed: refresh the planner's statistics of `tables`; return the seconds, or None
        when the engine needs nothing (or it failed: logged, never raised)."""
        return None

    # ------------------------------------------------------------------------------------------ reads

    def fetch_frame(self, result: sa.CursorResult) -> pd.DataFrame | None:
        """Return the rows of `result` as a DataFrame straight from the driver, or None (read them as rows)."""
        return None

    def create_temp_table_as(self, name: str, select: str) -> str:
        """Return SQL creating the TEMPORARY table `name` (quoted) from the SELECT `select`."""
        return f"CREATE TEMPORARY TABLE {name} AS {select}"

    def drop_temp_table_sql(self, name: str) -> str:
        """Return DROP TABLE IF EXISTS for the TEMPORARY table `name` only (never a permanent table of that name)."""
        return f"DROP TABLE IF EXISTS {self.temp_schema}.{name}"

    # ------------------------------------------------------------------------------------------ SQL constructs
    # The SQL text of the constructs of `metrics.dialect`, given their compiled arguments (SQL text).

    def date_of(self, ts: str) -> str:
        """Return SQL of the date of timestamp `ts`."""
        return f"CAST({ts} AS DATE)"

    @abc.abstractmethod
    def week_start(self, d: str) -> str:
        """Return SQL of the Monday of the ISO week of date `d`."""

    @abc.abstractmethod
    def month_start(self, d: str) -> str:
        """Return SQL of the first day of the month of date `d`."""

    @abc.abstractmethod
    def add_days(self, d: str, n: str) -> str:
        """Return SQL of date `d` plus `n` (an integer expression) days."""

    @abc.abstractmethod
    def epoch_us(self, ts: str) -> str:
        """Return SQL of the microseconds since 1970-01-01 of timestamp `ts` (exact BIGINT)."""

    @abc.abstractmethod
    def whole_days(self, ts: str, ts0: str) -> str:
        """Return SQL of floor((ts - ts0) / 24 h), clamped at 0 from below."""

    @abc.abstractmethod
    def seconds_between(self, end: str, start: str) -> str:
        """Return SQL of (end - start) in seconds, a float."""

    def least_of(self, a: str, b: str) -> str:
        """Return SQL of the smaller of two values."""
        return f"LEAST({a}, {b})"

    def float_sum(self, x: Callable[[], str]) -> str:
        """Return SQL of a SUM of float expression `x` that is the same on every run. `x()` compiles the argument
        afresh at each use (positional bound parameters are then counted where they appear)."""
        return f"SUM({x()})"

    def median(self, x: str) -> str:
        """Return SQL of the exact median aggregate of `x` (only when `has_median_aggregate`; without one,
        `metrics.dialect.median_select` finds the middle rows with window functions)."""
        raise NotImplementedError(f"{self.name} has no median aggregate")
