"""The engines' specs (dashboard/backends/): the registry, the clear error for an engine with no spec (at engine
creation and at SQL compile time), and the explicit profile source (metrics.profiles.profile_source)."""

from __future__ import annotations

import datetime as dt
import threading

import duckdb_engine
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from dashboard import db
from dashboard.backends import (BACKENDS, FIRST_VISIT_SHAPES, BackendSpec,
                                UnsupportedBackendError, backend_spec)
from dashboard.errors import BadInput
from metrics import dialect as d
from tests.conftest import BACKENDS as TESTED_BACKENDS

T = sa.table("t", sa.column("ts", sa.DateTime()), sa.column("ts0", sa.DateTime()), sa.column("d", sa.Date()),
             sa.column("x", sa.Double()))
CONSTRUCTS = {
    "date_of": d.date_of(T.c.ts),
    "week_start": d.week_start(T.c.d),
    "month_start": d.month_start(T.c.d),
    "add_days": d.add_days(T.c.d, 3),
    "epoch_us": d.epoch_us(T.c.ts),
    "whole_days": d.whole_days(T.c.ts, T.c.ts0),
    "seconds_between": d.seconds_between(T.c.ts, T.c.ts0),
    "least_of": d.least_of(T.c.x, T.c.x),
    "float_sum": d.float_sum(T.c.x),
}


def test_backends001_every_tested_engine_has_one_spec_named_as_its_dialect():
    """The registry holds exactly the engines the tests run on, each under its dialect name, each a BackendSpec
    with query shapes the metrics know."""
    assert set(BACKENDS) == set(TESTED_BACKENDS)
    for name, spec in BACKENDS.items():
        assert isinstance(spec, BackendSpec) and spec.name == name
        assert backend_spec(name) is spec and backend_spec(spec) is spec
        assert spec.first_visits_shape in FIRST_VISIT_SHAPES


@pytest.mark.parametrize("url, name", [
    ("duckdb:///data/x.duckdb", "duckdb"),
    ("sqlite:///x.sqlite", "sqlite"),
    ("sqlite://", "sqlite"),
    ("postgresql+psycopg://u@h/db", "postgresql"),
    ("postgresql://u@h/db", "postgresql"),
    ("postgres://u@h/db", "postgresql"),
])
def test_backends002_a_url_resolves_to_its_engines_spec(url, name):
    assert backend_spec(url).name == name
    assert backend_spec(sa.make_url(db.resolve_url(url))).name == name


def test_backends003_url_resolution_is_the_specs():
    assert db.resolve_url("postgres://u:p@h:5/db") == "postgresql+psycopg://u:p@h:5/db"
    assert db.resolve_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert db.resolve_url("postgresql+psycopg2://u@h/db") == "postgresql+psycopg2://u@h/db"
    assert db.resolve_url("sqlite:///a.sqlite") == "sqlite:///a.sqlite"
    assert db.resolve_url("").startswith("duckdb:///")
    assert db.resolve_url("mysql://u@h/db") == "mysql://u@h/db"  # unchanged: make_engine refuses it


def test_backends004_engine_and_connection_resolve_to_their_spec(engine):
    spec = backend_spec(engine)
    assert spec is BACKENDS[engine.dialect.name] and db.backend_name(engine) == spec.name
    with engine.connect() as conn:
        assert backend_spec(conn) is spec and backend_spec(conn.dialect) is spec


def _assert_unsupported(exc_info, name: str) -> None:
    message = str(exc_info.value)
    assert isinstance(exc_info.value, BadInput)  # the CLI reports it on one line, exit code 2
    assert repr(name) in message
    for supported in BACKENDS:
        assert supported in message


@pytest.mark.parametrize("url", ["mysql://u@h/db", "mysql+pymysql://u@h/db", "oracle://u@h/db"])
def test_backends005_an_engine_with_no_spec_is_refused_at_engine_creation(url):
    with pytest.raises(UnsupportedBackendError) as exc_info:
        db.make_engine(url)
    _assert_unsupported(exc_info, sa.make_url(url).get_backend_name())


@pytest.mark.parametrize("construct", sorted(CONSTRUCTS))
def test_backends006_a_dialect_construct_for_an_engine_with_no_spec_is_refused_not_given_duckdb_sql(construct):
    """Compiling for MySQL (SQLAlchemy has its dialect, the product has no spec) raises the clear error; before,
    the default handlers emitted DuckDB SQL for any unknown dialect."""
    with pytest.raises(UnsupportedBackendError) as exc_info:
        str(sa.select(CONSTRUCTS[construct].label("v")).compile(dialect=mysql.dialect()))
    _assert_unsupported(exc_info, "mysql")


def test_backends007_median_temp_tables_and_first_visits_refuse_an_engine_with_no_spec():
    from metrics.profiles import first_visits_select

    source = sa.select(T.c.x).subquery("s")
    for build in (lambda: d.median_select("mysql", source, "x"),
                  lambda: str(d.create_table_as("tmp_x", sa.select(T.c.x)).compile(dialect=mysql.dialect())),
                  lambda: first_visits_select(dt.date(2026, 3, 1), "mysql")):
        with pytest.raises(UnsupportedBackendError) as exc_info:
            build()
        _assert_unsupported(exc_info, "mysql")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_backends008_each_construct_compiles_to_its_specs_sql(name):
    """The SQL text of a construct on a registered engine is its spec's (compiled arguments substituted)."""
    engine_dialect = {"duckdb": duckdb_engine.Dialect, "postgresql": postgresql.psycopg.dialect,
                      "sqlite": sqlite.dialect}[name]()
    spec = BACKENDS[name]
    date_sql = str(sa.select(d.date_of(T.c.ts).label("v")).compile(dialect=engine_dialect))
    assert spec.date_of("t.ts") in date_sql
    days_sql = str(sa.select(d.whole_days(T.c.ts, T.c.ts0).label("v")).compile(dialect=engine_dialect))
    assert spec.whole_days("t.ts", "t.ts0") in days_sql


def test_backends009_a_spec_must_say_how_it_writes_each_construct():
    """A new engine's spec class cannot be made before it implements the abstract methods (engine, bulk load and
    the constructs with no standard SQL)."""
    class HalfDone(BackendSpec):
        name = "halfdone"

        def week_start(self, d: str) -> str:
            return d

    with pytest.raises(TypeError, match="abstract"):
        HalfDone()


def test_backends010_profile_source_is_explicit_and_shared_blocks_store_nothing_on_the_connection(engine):
    """profile_source(conn) outside a block: no shared tables, `stored` as db.derived_current says; inside
    shared_profiles: one source for the block with its shared tables, nothing written to conn.info, another
    connection and another thread not in the block; after the block: unshared again."""
    from metrics.profiles import ProfileSource, profile_source, shared_profiles

    with engine.connect() as conn, engine.connect() as other:
        plain = profile_source(conn)
        assert isinstance(plain, ProfileSource) and plain.shared is None
        assert plain.spec is backend_spec(conn) and plain.stored == db.derived_current(conn)
        info_before = dict(conn.info)
        with shared_profiles(conn):
            inside = profile_source(conn)
            assert inside.shared is not None and profile_source(conn) is inside
            with shared_profiles(conn):  # nested: the outer block's source
                assert profile_source(conn) is inside
            assert profile_source(other).shared is None
            seen_by_thread = []
            thread = threading.Thread(target=lambda: seen_by_thread.append(profile_source(conn).shared))
            thread.start()
            thread.join()
            assert seen_by_thread == [None]
            assert inside.table(dt.date(2026, 3, 1)) is inside.table(dt.date(2026, 3, 1))  # built once per O
            assert any(name.startswith("metrics_profiles_") for name in _temp_tables(conn))
            assert dict(conn.info) == info_before
        assert profile_source(conn).shared is None
        assert not any(name.startswith("metrics_profiles_") for name in _temp_tables(conn))


def _temp_tables(conn) -> list[str]:
    """Return the names of the connection's temporary tables."""
    name = conn.dialect.name
    if name == "sqlite":
        return [r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_temp_master WHERE type = 'table'")]
    if name == "postgresql":
        return [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = pg_my_temp_schema()::regnamespace::text")]
    return [r[0] for r in conn.exec_driver_sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' AND table_catalog = 'temp'")]
