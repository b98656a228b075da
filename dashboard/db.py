"""Database layer: engine from DATABASE_URL, the schema of the metric contract, bulk loading, data version.

One schema for DuckDB (embedded default), PostgreSQL and SQLite. `user_id` is stored as text so
that 20-digit ids beyond the signed 64-bit range and text ids survive exactly. What differs per engine (URL,
engine options, bulk load, index policy, statistics, write lock) is asked of its spec (`dashboard.backends`).
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard.backends import (DEFAULT_LOCK_WAIT, DatabaseBusyError, UnsupportedBackendError,  # noqa: F401
                                backend_spec, busy_message, contract_text_type)
from dashboard.config import default_duckdb_path

# Text columns compare in code-point order on every backend (the contract's string order): a collation variant
# for each engine whose spec names one (PostgreSQL: COLLATE "C"; DuckDB and SQLite compare bytes by default).
Text = contract_text_type()

metadata = sa.MetaData()

visits = sa.Table(
    "visits",
    metadata,
    sa.Column("user_id", Text, nullable=False),
    sa.Column("region", Text, nullable=False),
    sa.Column("device", Text, nullable=False),
    sa.Column("channel", Text, nullable=False),
    sa.Column("session_start", sa.DateTime(), nullable=False),
    sa.Column("session_end", sa.DateTime(), nullable=False),
)

orders = sa.Table(
    "orders",
    metadata,
    sa.Column("user_id", Text, nullable=False),
    sa.Column("event_dt", sa.DateTime(), nullable=False),
    sa.Column("revenue", sa.Double(), nullable=False),
)

costs = sa.Table(
    "costs",
    metadata,
    sa.Column("dt", sa.Date(), nullable=False),
    sa.Column("channel", Text, nullable=False),
    sa.Column("costs", sa.Double(), nullable=False),
)

app_meta = sa.Table(
    "app_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
)

EVENT_TABLES = (visits, orders, costs)

# Derived tables, rebuilt from the visits by `metrics.derived.store_derived_tables` inside each transaction that
# changes the visits (import, demo load, `refresh`), so that the metrics do not search 10M visits in every query:
# - user_first_visits: every user's first visit (the contract's tie-break) and a dense integer `user_key`;
# - user_days: the distinct (user_key, day) of the visits, day = date(session_start).
# They are read only while app_meta's DERIVED_KEY equals the data version: a writer that changes the visits and
# bumps the version without rebuilding them leaves them unused, never wrong (`derived_current`).
user_first_visits = sa.Table(
    "user_first_visits",
    metadata,
    sa.Column("user_id", Text, nullable=False),
    sa.Column("user_key", sa.Integer(), nullable=False),
    sa.Column("first_ts", sa.DateTime(), nullable=False),
    sa.Column("region", Text, nullable=False),
    sa.Column("device", Text, nullable=False),
    sa.Column("channel", Text, nullable=False),
)
user_days = sa.Table(
    "user_days",
    metadata,
    sa.Column("user_key", sa.Integer(), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
)
DERIVED_TABLES = (user_first_visits, user_days)

# Accounts (issue 19; written and read by dashboard.accounts and dashboard.audit): who may sign in and with which
# role, their API tokens (only a SHA-256 hash of each), and the audit log. Ids come from a sequence (DuckDB has no
# SERIAL); SQLite takes its rowid and, with sqlite_autoincrement, never hands a deleted row's id out again.
accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer(), sa.Sequence("accounts_id_seq"), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("name_key", sa.String(64), nullable=False, unique=True),  # the name in lower case: one account per name
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("last_sign_in_at", sa.DateTime()),
    sa.Column("disabled", sa.Boolean(), nullable=False),
    sa.Column("session_epoch", sa.Integer(), nullable=False),  # bumped to end the account's sessions
    sqlite_autoincrement=True,
)
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer(), sa.Sequence("api_tokens_id_seq"), primary_key=True),
    # an accounts.id; no FOREIGN KEY: DuckDB refuses to delete an account whose tokens the same transaction deleted
    sa.Column("account_id", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # SHA-256 hex of the token; never the token
    sa.Column("scope", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("expires_at", sa.DateTime()),
    sa.Column("revoked_at", sa.DateTime()),
    sa.Column("last_used_at", sa.DateTime()),
    sqlite_autoincrement=True,
)
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer(), sa.Sequence("audit_log_id_seq"), primary_key=True),
    sa.Column("occurred_at", sa.DateTime(), nullable=False),  # not "at": a keyword of DuckDB
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("detail", sa.String(1000), nullable=False),
    sqlite_autoincrement=True,
)
# The Data page's background jobs (dashboard/jobs.py): one row per finished import, training, scoring, segment
# export or refresh started from the browser, written by the job's process when it ends (a running job is read from
# its state file: an embedded DuckDB file is locked while the job writes it).
jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Integer(), sa.Sequence("jobs_id_seq"), primary_key=True),
    sa.Column("job_id", sa.String(40), nullable=False),  # the job's folder name under Config.jobs_folder
    sa.Column("kind", sa.String(16), nullable=False),  # import, train, score, segments, refresh
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime(), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # ok, refused, failed
    sa.Column("message", sa.String(1000), nullable=False),
    sqlite_autoincrement=True,
)
ACCOUNT_TABLES = (accounts, api_tokens, audit_log)


def row_store_indexes(*indexes: sa.Index) -> tuple[sa.Index, ...]:
    """Return `indexes`, taken out of their tables' own DDL: `create_all` no longer emits them (it would on
    every backend), `create_indexes` does, on row stores only."""
    for index in indexes:
        index.table.indexes.discard(index)
    return indexes


def create_indexes(conn: Connection, indexes, superseded=()) -> None:
    """Create `indexes` (if missing) on a row store and drop the `superseded` ones; on an engine whose spec keeps
    no indexes (DuckDB) drop all of them, as a database made by an earlier version may hold them (index names are
    constants of the code, not input).

    On PostgreSQL only a table's owner may create or drop its indexes. A user who may only write the rows (an
    import role) gets a warning with the statement for the owner to run, and the caller's work goes on: the
    metrics are right without the index, only slower.
    """
    if not backend_spec(conn).row_store_indexes:
        for name in [index.name for index in indexes] + list(superseded):
            conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
        return
    for index in indexes:
        owner_ddl(conn, lambda: index.create(conn, checkfirst=True), str(sa.schema.CreateIndex(index).compile(conn)))
    for name in superseded:
        owner_ddl(conn, lambda: conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}")), f"DROP INDEX {name}")


def owner_ddl(conn: Connection, run, statement: str) -> bool:
    """Run work that may need the tables' owner (index DDL, creating or rebuilding a derived table) and return True;
    on PostgreSQL inside a savepoint, so that a missing privilege (SQLSTATE 42501) is logged as a warning naming
    `statement` (what the owner should run) and False returned, instead of failing the transaction around it
    (the spec's `run_as_owner`)."""
    return backend_spec(conn).run_as_owner(conn, run, statement)


# Indexes the metric queries use on row stores (PostgreSQL, SQLite). DuckDB is columnar and prunes
# with its automatic min-max zone maps; ART indexes there only slow bulk loads, so it gets none
# (`row_store_indexes`: until 2026-11-23 create_all put them on DuckDB too, and loading the 10m
# benchmark data took 32.1 s instead of 5.6 s, into a 1,186 MB file instead of 198 MB, at the same
# query speed).
# ix_visits_first_visit holds the first-visit order (user, start, then the tie-break channel, device,
# region), so PostgreSQL reads each user's first visit from an index-only scan without sorting the
# visits: 0.20 s instead of 0.89 s at 1.2M visits, in every call built on the profiles. It also serves
# every lookup by (user_id, session_start), the job of the index it replaced.
INDEXES = row_store_indexes(
    sa.Index("ix_visits_first_visit", visits.c.user_id, visits.c.session_start, visits.c.channel, visits.c.device,
             visits.c.region),
    sa.Index("ix_visits_start", visits.c.session_start),
    sa.Index("ix_orders_user_dt", orders.c.user_id, orders.c.event_dt),
    sa.Index("ix_orders_dt", orders.c.event_dt),
    sa.Index("ix_costs_dt_channel", costs.c.dt, costs.c.channel),
    sa.Index("ix_user_first_visits_user", user_first_visits.c.user_id, unique=True),
    sa.Index("ix_user_days_user_day", user_days.c.user_key, user_days.c.day, unique=True),
)

# Indexes of earlier versions that an index above now covers (same leading columns): dropped by
# create_schema, so a database made before is not slowed down by maintaining both.
SUPERSEDED_INDEXES = ("ix_visits_user_start",)


DATA_VERSION_KEY = "data_version"
DERIVED_KEY = "derived_version"  # the data version the derived tables (user_first_visits, user_days) were built for


# DatabaseBusyError, busy_message and DEFAULT_LOCK_WAIT (seconds a writer waits for another writer's lock) live with
# the engines' specs (dashboard/backends/base.py) and are re-exported here, where their callers have always read them.


def lock_for_write(conn: Connection, timeout: float = DEFAULT_LOCK_WAIT) -> None:
    """Take the database's write lock at the start of a write transaction, so that concurrent writers serialise
    (each sees the rows the previous one committed, and the duplicate check holds); DatabaseBusyError after
    `timeout` seconds.

    PostgreSQL: a transaction-level advisory lock on the current schema. SQLite: `BEGIN IMMEDIATE` on the driver
    connection. DuckDB: nothing; the read-write process already holds the file lock (the spec's `lock_for_write`).
    """
    backend_spec(conn).lock_for_write(conn, timeout)


def resolve_url(url: str | None) -> str:
    """Return a SQLAlchemy URL: the default DuckDB file when `url` is empty, else as its engine's spec writes it
    (postgres URLs mapped to psycopg 3); a URL of no known engine unchanged (make_engine refuses it)."""
    if not url:
        return f"duckdb:///{default_duckdb_path()}"
    try:
        return backend_spec(url).resolve_url(url)
    except UnsupportedBackendError:
        return url


def backend_name(engine_or_conn: Engine | Connection) -> str:
    """Return the backend name: 'duckdb', 'postgresql' or 'sqlite' (UnsupportedBackendError for another)."""
    return backend_spec(engine_or_conn).name


def make_engine(url: str | None = None, *, read_only: bool = False, lock_timeout: float = 60.0,
                connect_timeout: int | None = None) -> Engine:
    """Return an engine for `url` (default: the embedded DuckDB file), made by its engine's spec;
    UnsupportedBackendError for an engine with no spec.

    DuckDB allows one read-write process per file. With `read_only=True` (web workers) every
    connection opens the file read-only and is closed after use (NullPool), so several workers can
    read at once and the CLI can take the write lock between requests. Opening a locked file is
    retried for `lock_timeout` seconds, then DatabaseBusyError is raised; after such a wait ran out, later opens
    try once without waiting until one succeeds (a burst of web requests during an import fails fast instead of
    each holding a server thread for the whole wait). SQLite waits `lock_timeout` for a lock. `connect_timeout`
    (seconds) bounds a PostgreSQL connection attempt (libpq's connect_timeout; a value in the URL wins).
    """
    resolved = resolve_url(url)
    spec = backend_spec(sa.make_url(resolved))
    return spec.create_engine(resolved, read_only=read_only, lock_timeout=lock_timeout,
                              connect_timeout=connect_timeout)


@contextmanager
def one_off_connection(url: str | None, read_only: bool = False):
    """Yield a connection on an engine of its own, disposed on exit: one-off work outside a long-lived engine
    (a DuckDB file is then free again for other processes)."""
    engine = make_engine(url, read_only=read_only)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def create_schema(engine_or_conn: Engine | Connection) -> None:
    """Create the event tables, app_meta, the derived tables, the account tables, the jobs table and (on row
    stores) their indexes, if missing."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            create_schema(conn)
        return
    conn = engine_or_conn
    metadata.create_all(conn, tables=[visits, orders, costs, app_meta], checkfirst=True)
    for table in DERIVED_TABLES:  # new in a database made by an earlier version: maybe by a role that may not create
        if _has_shape(conn, table):
            continue
        # missing, or an earlier shape of a derived table (nothing in it is lost by building it again)
        if sa.inspect(conn).has_table(table.name) and not owner_ddl(conn, lambda: table.drop(conn),
                                                                     f"DROP TABLE {table.name}"):
            continue
        owner_ddl(conn, lambda: table.create(conn), str(sa.schema.CreateTable(table).compile(conn)))
    for table in ACCOUNT_TABLES + (jobs,):  # new in a database made by an earlier version: maybe by a role that may not create
        if not sa.inspect(conn).has_table(table.name):
            owner_ddl(conn, lambda: table.create(conn, checkfirst=True),
                      str(sa.schema.CreateTable(table).compile(conn)))
    present = set(sa.inspect(conn).get_table_names())  # a derived table whose creation was refused has no index
    create_indexes(conn, [i for i in INDEXES if i.table.name in present], SUPERSEDED_INDEXES)


def _has_shape(conn: Connection, table: sa.Table) -> bool:
    """True when `table` exists with exactly its columns of this version."""
    if not sa.inspect(conn).has_table(table.name):
        return False
    # the columns of a zero-row read (duckdb-engine's inspector cannot list columns: it queries PostgreSQL catalogs)
    columns = conn.execute(sa.select(sa.text("*")).select_from(sa.table(table.name)).limit(0)).keys()
    return set(columns) == {c.name for c in table.columns}


def derived_tables_writable(conn: Connection) -> bool:
    """True when every derived table exists in this version's shape (create_schema could make them)."""
    return all(_has_shape(conn, table) for table in DERIVED_TABLES)


def schema_exists(conn: Connection) -> bool:
    """True when every table of the schema exists."""
    inspector = sa.inspect(conn)
    names = set(inspector.get_table_names())
    return {t.name for t in (visits, orders, costs, app_meta)} <= names


def get_data_version(conn: Connection) -> str:
    """Return the current data version ('empty' before the first import)."""
    if not schema_exists(conn):
        return "empty"
    value = conn.execute(
        sa.select(app_meta.c.value).where(app_meta.c.key == DATA_VERSION_KEY)
    ).scalar_one_or_none()
    return value or "empty"


def get_meta(conn: Connection, *keys: str) -> dict[str, str]:
    """Return the app_meta values of `keys` that are set."""
    rows = conn.execute(sa.select(app_meta.c.key, app_meta.c.value).where(app_meta.c.key.in_(keys))).all()
    return {key: value for key, value in rows}


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Set the app_meta value of `key` (insert or update)."""
    updated = conn.execute(sa.update(app_meta).where(app_meta.c.key == key).values(value=value)).rowcount
    if not updated:
        conn.execute(sa.insert(app_meta).values(key=key, value=value))


_HAS_META = "dashboard.has_app_meta"


def derived_current(conn: Connection) -> bool:
    """True when the derived tables (user_first_visits, user_days) were built for the data's current version, so
    they equal what the metrics would compute from the visits.

    One small read of app_meta: they are trusted only while app_meta's derived version equals the data version,
    which every writer of the event tables bumps (a writer that does not rebuild them only makes the metrics
    compute from the visits again). Event tables made by other tools, without app_meta, have none.
    """
    if not conn.info.get(_HAS_META):
        if not sa.inspect(conn).has_table(app_meta.name):
            return False
        conn.info[_HAS_META] = True  # app_meta is never dropped by this code: looked up once per connection
    meta = get_meta(conn, DATA_VERSION_KEY, DERIVED_KEY)
    return meta.get(DERIVED_KEY) is not None and meta.get(DERIVED_KEY) == meta.get(DATA_VERSION_KEY)


def bump_data_version(conn: Connection, *, visits_changed: bool = True) -> str:
    """Set and return a new data version; call inside the transaction that changed the data.

    The derived tables (user_first_visits, user_days) stay in use only if they were current and the caller says the
    visits did not change (`visits_changed=False`: an orders- or costs-only import, new churn scores); otherwise
    they wait for `metrics.derived.store_derived_tables` and the metrics compute from the visits.
    """
    before = get_meta(conn, DATA_VERSION_KEY, DERIVED_KEY)
    version = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ") + "-" + uuid.uuid4().hex[:8]
    set_meta(conn, DATA_VERSION_KEY, version)
    current = before.get(DATA_VERSION_KEY)
    if not visits_changed and current is not None and before.get(DERIVED_KEY) == current:
        set_meta(conn, DERIVED_KEY, version)
    return version


def _frame_for(table: sa.Table, df: pd.DataFrame) -> pd.DataFrame:
    """Return `df` with exactly the table's columns, in order, and storage dtypes."""
    missing = [c.name for c in table.columns if c.name not in df.columns]
    if missing:
        raise ValueError(f"frame for table {table.name} lacks columns {missing}")
    out = df[[c.name for c in table.columns]].copy()
    for column in table.columns:
        name = column.name
        if isinstance(column.type, sa.DateTime):
            out[name] = pd.to_datetime(out[name]).astype("datetime64[us]")
        elif isinstance(column.type, sa.Date):
            out[name] = pd.to_datetime(out[name]).dt.date
        elif isinstance(column.type, sa.Double):
            out[name] = out[name].astype("float64")
        elif not _is_text_dtype(out[name].dtype):
            out[name] = out[name].astype(str)
    return out


def _is_text_dtype(dtype) -> bool:
    """True for string dtypes and categoricals of strings (loaded as they are, without a copy)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.api.types.is_string_dtype(dtype.categories.dtype)
    return pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype)


def bulk_insert(conn: Connection, table: sa.Table, df: pd.DataFrame) -> int:
    """Append the rows of `df` to `table` inside the caller's transaction; return the row count.

    Each engine's spec loads the frame its fastest way: DuckDB reads it directly (Arrow scan), PostgreSQL takes
    it through COPY, SQLite through executemany. Table and column names come from the schema, never from input.
    """
    if df.empty:
        return 0
    frame = _frame_for(table, df)
    backend_spec(conn).bulk_insert(conn, table, frame)
    return len(frame)


def replace_all(conn: Connection, frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Delete every event row and load `frames` (keyed by table name) in the caller's transaction and set a new
    data version; return the rows loaded per event table. The caller then rebuilds the derived tables
    (`metrics.derived.store_derived_tables`) in the same transaction; until then the metrics compute from the visits."""
    counts = {}
    for table in EVENT_TABLES:
        conn.execute(sa.delete(table))
    for table in EVENT_TABLES:
        counts[table.name] = bulk_insert(conn, table, frames.get(table.name, pd.DataFrame()))
    bump_data_version(conn)
    return counts


def refresh_statistics(engine: Engine, tables: tuple[sa.Table, ...] = EVENT_TABLES + DERIVED_TABLES) -> float | None:
    """After a bulk write has committed: refresh the planner statistics of `tables` where the engine needs it
    (PostgreSQL: `VACUUM (ANALYZE)`, see its spec) and return the seconds; None when the engine keeps its own
    (DuckDB) or is not helped (SQLite). A failure is logged, never raised: the data is already committed.
    """
    return backend_spec(engine).refresh_statistics(engine, tables)


def row_counts(conn: Connection) -> dict[str, int]:
    """Return the number of rows of each event table."""
    return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in EVENT_TABLES}


def is_empty(conn: Connection) -> bool:
    """True when the schema is missing or every event table is empty."""
    if not schema_exists(conn):
        return True
    return all(n == 0 for n in row_counts(conn).values())


def db_info(conn: Connection) -> dict[str, Any]:
    """Return backend, row counts, date ranges and data version, for `db-info` and the home page."""
    info: dict[str, Any] = {
        "backend": backend_name(conn),
        "url": conn.engine.url.render_as_string(hide_password=True),
        "tables": {},
        "data_version": get_data_version(conn),
    }
    if not schema_exists(conn):
        return info
    spans = {
        "visits": (visits.c.session_start, visits.c.user_id),
        "orders": (orders.c.event_dt, orders.c.user_id),
        "costs": (costs.c.dt, None),
    }
    for table in EVENT_TABLES:
        ts, user = spans[table.name]
        columns = [sa.func.count(), sa.func.min(ts), sa.func.max(ts)]
        if user is not None:
            columns.append(sa.func.count(sa.distinct(user)))
        row = conn.execute(sa.select(*columns).select_from(table)).one()
        entry = {"rows": row[0], "first": _as_date(row[1]), "last": _as_date(row[2])}
        if user is not None:
            entry["users"] = row[3]
        info["tables"][table.name] = entry
    stored = derived_current(conn)
    rows = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() if stored else None
            for t in DERIVED_TABLES}
    info["derived"] = {"current": stored, "users": rows[user_first_visits.name], "user_days": rows[user_days.name]}
    return info


def _as_date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns text for aggregates over DATETIME columns
        return value[:10]
    return value.strftime("%Y-%m-%d")
