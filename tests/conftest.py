"""Shared fixtures: a fresh, empty database on each of the three real backends, and one shared demo database per
backend for the tests that only read it.

PostgreSQL is the local server (PG_TEST_URL, default postgresql://postgres@127.0.0.1:5432/test);
each test gets a schema of its own, selected through the URL's search_path, dropped afterwards.

`shared_demo` builds the demo data set (SHARED_DEMO_USERS users, seed SHARED_DEMO_SEED) once per session and
backend, on first use. It is READ ONLY: a test that writes (import, scoring, training that stores tables) takes
`shared_demo.private_copy(backend, tmp_path)` (a file copy for DuckDB and SQLite, a schema of its own filled with
the same demo on PostgreSQL) or builds its own database. At the end of the session every shared database is
checked unchanged (tables, row counts, data version); a change fails the session.
"""

from __future__ import annotations

import os

# Tests use small data: one BLAS/OpenMP thread each. On a loaded 2-core machine, threaded scikit-learn
# kernels (KMeans, GaussianMixture) were measured 35x slower than single-threaded (12.8 s vs 0.37 s).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from dashboard import db
from dashboard.demo import write_demo

PG_TEST_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("duckdb", "sqlite", "postgresql")
SHARED_DEMO_USERS = 3000
SHARED_DEMO_SEED = 5

os.environ.setdefault("DASH_TEST_CHROMEPATH", "/usr/bin/chromium")
# Apps started by tests (app.py, gunicorn) fill small demos; they must not also train the demo model in the
# background (ml/demo_model.py). The tests of that feature turn it on explicitly.
os.environ["DEMO_MODEL"] = "0"
os.environ.setdefault("SE_OFFLINE", "true")


def make_database_url(backend: str, tmp_path: Path) -> tuple[str, callable]:
    """Return (url of an empty database on `backend`, cleanup function)."""
    if backend == "duckdb":
        return f"duckdb:///{tmp_path / 'test.duckdb'}", lambda: None
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}", lambda: None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(db.resolve_url(PG_TEST_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_TEST_URL else "?"
    url = f"{PG_TEST_URL}{sep}options={quote(f'-csearch_path={schema}')}"

    def cleanup() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return url, cleanup


def pg_table_state(engine, name: str) -> tuple:
    """(manual last_vacuum set, manual last_analyze set, reltuples, relpages, relallvisible) of a table."""
    with engine.connect() as conn:  # a new session: no cached statistics snapshot
        stats = conn.execute(sa.text(
            "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relid = to_regclass(:name)"), {"name": name}).one()
        pages = conn.execute(sa.text(
            "SELECT reltuples, relpages, relallvisible FROM pg_class WHERE oid = to_regclass(:name)"),
            {"name": name}).one()
    return (*stats, *pages)


def table_indexes(engine, table: str) -> dict[str, list[str]]:
    """{index name: its column names in order} of `table` (DuckDB from duckdb_indexes(): its SQLAlchemy dialect
    reports no index)."""
    with engine.connect() as conn:
        if conn.dialect.name != "duckdb":
            return {index["name"]: index["column_names"] for index in sa.inspect(conn).get_indexes(table)}
        rows = conn.execute(sa.text("SELECT index_name, expressions FROM duckdb_indexes() WHERE table_name = :t"),
                            {"t": table}).all()
    def columns(expressions) -> list[str]:  # a list, or its text '[user_id, session_start]'
        if isinstance(expressions, str):
            expressions = expressions.strip("[]").split(",")
        return [str(e).strip().strip('"') for e in expressions]

    return {name: columns(expressions) for name, expressions in rows}


@pytest.fixture(params=BACKENDS)
def database_url(request, tmp_path):
    """URL of an empty database on each backend in turn (schema not created)."""
    url, cleanup = make_database_url(request.param, tmp_path)
    yield url
    cleanup()


@pytest.fixture
def engine(database_url):
    """A read-write engine on an empty database with the schema created, per backend."""
    eng = db.make_engine(database_url)
    db.create_schema(eng)
    yield eng
    eng.dispose()


def write_shared_demo(url: str) -> None:
    """Fill the database at `url` with the shared demo data set; return nothing."""
    engine = db.make_engine(url)
    write_demo(engine, users=SHARED_DEMO_USERS, seed=SHARED_DEMO_SEED)
    engine.dispose()


def database_fingerprint(url: str) -> tuple:
    """Return (data version, ((table, row count), ...) of every table) of the database at `url` (read only)."""
    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            tables = sorted(sa.inspect(conn).get_table_names())
            counts = tuple((name, conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one())
                           for name in tables)
            return db.get_data_version(conn), counts
    finally:
        engine.dispose()


class SharedDemoDatabases:
    """The session's read-only demo database of each backend, built on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.urls: dict[str, str] = {}
        self.fingerprints: dict[str, tuple] = {}
        self.cleanups: list = []

    def url(self, backend: str) -> str:
        """Return the URL of `backend`'s shared demo database (built on the first call); tests only read it."""
        if backend not in self.urls:
            folder = self.folder / backend
            folder.mkdir()
            url, cleanup = make_database_url(backend, folder)
            self.cleanups.append(cleanup)
            write_shared_demo(url)
            self.urls[backend] = url
            self.fingerprints[backend] = database_fingerprint(url)
        return self.urls[backend]

    def private_copy(self, backend: str, tmp_path: Path) -> tuple[str, callable]:
        """Return (URL of a private database holding the shared demo, cleanup function), for a test that writes:
        a copy of the shared file (DuckDB, SQLite), or a schema of its own filled with the same demo (PostgreSQL)."""
        if backend == "postgresql":
            url, cleanup = make_database_url(backend, tmp_path)
            write_shared_demo(url)
            return url, cleanup
        source = sa.make_url(self.url(backend)).database
        target = tmp_path / Path(source).name
        shutil.copyfile(source, target)
        return f"{backend}:///{target}", lambda: None

    def changed(self) -> list[str]:
        """Return the backends whose shared database a test changed."""
        return [backend for backend, url in self.urls.items()
                if database_fingerprint(url) != self.fingerprints[backend]]

    def remove(self) -> None:
        """Drop the PostgreSQL schemas (files go with the session's temporary folder); return nothing."""
        for cleanup in self.cleanups:
            cleanup()


@pytest.fixture(scope="session")
def shared_demo(tmp_path_factory):
    """The shared demo databases (one per backend, built on first use); fails the session if a test changed one."""
    databases = SharedDemoDatabases(tmp_path_factory.mktemp("shared_demo"))
    yield databases
    try:
        changed = databases.changed()
        assert not changed, f"a test wrote to the shared demo database of {changed}: use shared_demo.private_copy"
    finally:
        databases.remove()


@pytest.fixture(scope="session")
def demo_duckdb_url(shared_demo) -> str:
    """URL of the shared DuckDB demo database (3,000 users, seed 5), READ ONLY."""
    return shared_demo.url("duckdb")
