"""Shared fixtures: a fresh, empty database on each of the three real backends.

PostgreSQL is the local server (PG_TEST_URL, default postgresql://postgres@127.0.0.1:5432/test);
each test gets a schema of its own, selected through the URL's search_path, dropped afterwards.
"""

from __future__ import annotations

import os

# Tests use small data: one BLAS/OpenMP thread each. On a loaded 2-core machine, threaded scikit-learn
# kernels (KMeans, GaussianMixture) were measured 35x slower than single-threaded (12.8 s vs 0.37 s).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from dashboard import db

PG_TEST_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("duckdb", "sqlite", "postgresql")

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
