"""Storage layer on DuckDB, SQLite and PostgreSQL: schema, id round-trip, atomicity, data version."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import metrics
from dashboard import db
from metrics.derived import store_derived_tables
from tests.conftest import PG_TEST_URL, make_database_url, pg_table_state, table_indexes


def _visits(ids):
    n = len(ids)
    return pd.DataFrame(
        {
            "user_id": ids,
            "region": ["United States"] * n,
            "device": ["iPhone"] * n,
            "channel": ["organic"] * n,
            "session_start": pd.to_datetime(["2026-03-01 23:59:59"] * n),
            "session_end": pd.to_datetime(["2026-03-02 00:10:00"] * n),
        }
    )


def test_db001_schema_is_idempotent(engine):
    db.create_schema(engine)
    db.create_schema(engine)
    with engine.connect() as conn:
        assert db.schema_exists(conn)
        assert db.row_counts(conn) == {"visits": 0, "orders": 0, "costs": 0}
        columns = set(conn.execute(sa.text("SELECT * FROM visits WHERE 1 = 0")).keys())
    assert columns == {"user_id", "region", "device", "channel", "session_start", "session_end"}


def test_db002_ids_round_trip_exactly(engine):
    ids = ["98765432109876543210", "18446744073709551616", "9223372036854775808", "user-é-42", "007"]
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits(ids))
    with engine.connect() as conn:
        stored = [r[0] for r in conn.execute(sa.select(db.visits.c.user_id))]
    assert sorted(stored) == sorted(ids)


def test_db003_failed_transaction_leaves_nothing(engine):
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits(["1"]))
        before = db.bump_data_version(conn)
    with pytest.raises(RuntimeError):
        with engine.begin() as conn:
            db.bulk_insert(conn, db.visits, _visits(["2", "3"]))
            db.bump_data_version(conn)
            raise RuntimeError("failure injected midway")
    with engine.connect() as conn:
        assert db.row_counts(conn)["visits"] == 1
        assert db.get_data_version(conn) == before


def test_db004_data_version_changes_on_every_bump(engine):
    with engine.connect() as conn:
        assert db.get_data_version(conn) == "empty"
    seen = set()
    for _ in range(3):
        with engine.begin() as conn:
            seen.add(db.bump_data_version(conn))
    with engine.connect() as conn:
        assert db.get_data_version(conn) in seen
    assert len(seen) == 3


def test_db005_url_forms():
    assert db.resolve_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.resolve_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.resolve_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert db.resolve_url(None).startswith("duckdb:///") and db.resolve_url(None).endswith("data/dashboard.duckdb")


def test_db006_duckdb_readers_share_the_file(tmp_path):
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    writer = db.make_engine(url)
    db.create_schema(writer)
    with writer.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits(["1", "2"]))
    writer.dispose()
    readers = [db.make_engine(url, read_only=True) for _ in range(3)]
    conns = [r.connect() for r in readers]  # three read-only handles open at once
    assert [db.row_counts(c)["visits"] for c in conns] == [2, 2, 2]
    for c in conns:
        c.close()
    # with the readers closed, a writer gets the lock again
    with db.make_engine(url).begin() as conn:
        db.bulk_insert(conn, db.visits, _visits(["3"]))
    with readers[0].connect() as conn:
        assert db.row_counts(conn)["visits"] == 3


def test_db007_duckdb_memory_limit_and_threads_from_the_environment(tmp_path, monkeypatch):
    url = f"duckdb:///{tmp_path / 'limits.duckdb'}"
    db.create_schema(db.make_engine(url))
    monkeypatch.setenv("DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("DUCKDB_THREADS", "1")
    engine = db.make_engine(url, read_only=True)
    with engine.connect() as conn:
        limit = conn.execute(sa.text("SELECT current_setting('memory_limit')")).scalar_one()
        threads = conn.execute(sa.text("SELECT current_setting('threads')")).scalar_one()
    engine.dispose()
    assert limit.replace(" ", "").lower() in {"512.0mib", "488.2mib", "512mb"} and int(threads) == 1
    monkeypatch.setenv("DUCKDB_THREADS", "two")
    with pytest.raises(ValueError, match="DUCKDB_THREADS"):
        db.make_engine(url)


def test_db008_refresh_statistics_vacuums_and_analyzes_on_postgresql_only(engine):
    """After a bulk write, PostgreSQL tables get VACUUM (ANALYZE): row estimates and a visibility map (the manual
    vacuum and analyze times, not autovacuum's); DuckDB and SQLite are left alone (None)."""
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits([str(i) for i in range(40)]))  # under autovacuum's thresholds
    if engine.dialect.name != "postgresql":
        assert db.refresh_statistics(engine) is None
        return
    before = pg_table_state(engine, "visits")
    assert before[:2] == (False, False) and before[2] == -1 and before[4] == 0  # never analyzed, nothing all-visible
    seconds = db.refresh_statistics(engine)
    assert seconds is not None and seconds >= 0
    vacuumed, analyzed, tuples, pages, all_visible = pg_table_state(engine, "visits")
    assert vacuumed and analyzed and tuples == 40 and pages >= 1 and all_visible == pages
    assert pg_table_state(engine, "orders")[:2] == (True, True)  # every event table by default


def test_db009_refresh_statistics_failure_is_logged_not_raised(tmp_path, caplog):
    """The write has committed when statistics are refreshed: a failing VACUUM (here: no tables) logs a warning
    that names the cause and returns None."""

    url, cleanup = make_database_url("postgresql", tmp_path)
    engine = db.make_engine(url)
    try:
        with caplog.at_level("WARNING", logger="dashboard.db"):
            assert db.refresh_statistics(engine) is None
    finally:
        engine.dispose()
        cleanup()
    assert "VACUUM (ANALYZE) after the write failed" in caplog.text and "visits" in caplog.text


def _first_visits_plan(conn) -> str:
    import datetime as _dt

    from metrics.profiles import first_visits_select

    sql = str(first_visits_select(_dt.date(2026, 3, 31), conn.dialect.name)
              .compile(conn, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # a few rows: a plain scan would win otherwise
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
    return "\n".join(row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


def test_db010_first_visits_read_in_index_order_without_sorting(engine):
    """On the row stores the visits index holds the first-visit order (user, start, channel, device, region: the
    tie-break), so the first visit per user is read from the index alone, with no sort of the visits. create_schema
    drops what a database made by an earlier version holds: the (user, start) index the new one covers, and on
    DuckDB every index (they only slowed its loads)."""
    with engine.begin() as conn:  # as an earlier version left it
        conn.exec_driver_sql("DROP INDEX IF EXISTS ix_visits_first_visit")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_visits_user_start ON visits (user_id, session_start)")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_visits_start ON visits (session_start)")
    assert set(table_indexes(engine, "visits")) >= {"ix_visits_user_start", "ix_visits_start"}
    db.create_schema(engine)
    if engine.dialect.name == "duckdb":
        assert all(table_indexes(engine, table.name) == {} for table in db.EVENT_TABLES)
        return
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits([f"u{i:03d}" for i in range(300)]))
    db.refresh_statistics(engine)
    with engine.begin() as conn:
        plan = _first_visits_plan(conn)
    assert table_indexes(engine, "visits") == {
        "ix_visits_first_visit": ["user_id", "session_start", "channel", "device", "region"],
        "ix_visits_start": ["session_start"]}
    if engine.dialect.name == "postgresql":
        assert "Index Only Scan using ix_visits_first_visit" in plan, plan
        assert "Sort" not in plan, plan
    else:
        assert "USING COVERING INDEX ix_visits_first_visit" in plan, plan
        assert "TEMP B-TREE" not in plan, plan


def test_db011_a_user_who_may_only_write_rows_still_imports_after_an_index_change(tmp_path, caplog):
    """On PostgreSQL only a table's owner may create or drop its indexes. For a role with row privileges only (an
    import role), create_schema on a database made by an earlier version logs a warning with the statement for the
    owner, instead of failing the import's transaction; the rows are then written as usual."""
    import uuid

    url, cleanup = make_database_url("postgresql", tmp_path)
    owner = db.make_engine(url)
    role = f"writer_{uuid.uuid4().hex[:10]}"
    with owner.begin() as conn:  # tables as an earlier version left them, owned by another role
        db.create_schema(conn)
        conn.exec_driver_sql("DROP INDEX ix_visits_first_visit")
        conn.exec_driver_sql("CREATE INDEX ix_visits_user_start ON visits (user_id, session_start)")
        conn.exec_driver_sql("DROP TABLE user_first_visits")  # derived tables of later versions
        conn.exec_driver_sql("DROP TABLE user_days")
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        conn.exec_driver_sql(f'CREATE ROLE {role} LOGIN')  # a generated name
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.exec_driver_sql(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}')
    writer = None
    try:
        writer = db.make_engine(sa.make_url(url).set(username=role).render_as_string(hide_password=False))
        with caplog.at_level("WARNING", logger="dashboard.db"), writer.begin() as conn:
            db.create_schema(conn)
            db.bulk_insert(conn, db.visits, _visits(["1", "2"]))
            db.bump_data_version(conn)
            assert store_derived_tables(conn) is None  # it may not create the tables: the import goes on
        with writer.connect() as conn:
            assert db.row_counts(conn)["visits"] == 2
            assert not db.derived_current(conn)
            assert metrics.profiles(conn, metrics.Filters.make())["user_id"].tolist() == ["1", "2"]
        assert set(table_indexes(owner, "visits")) == {"ix_visits_user_start", "ix_visits_start"}
        assert ("must be owner of table visits" in caplog.text
                and "CREATE INDEX ix_visits_first_visit ON visits (user_id, session_start, channel, device, region)"
                in caplog.text and "DROP INDEX ix_visits_user_start" in caplog.text)
        assert "permission denied for schema" in caplog.text and "CREATE TABLE user_first_visits" in caplog.text
    finally:
        if writer is not None:
            writer.dispose()
        owner.dispose()
        cleanup()  # drops the schema, and with it every privilege granted on it
        admin = sa.create_engine(db.resolve_url(PG_TEST_URL))
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def test_db012_derived_tables_their_indexes_and_an_earlier_shape(engine):
    """create_schema makes user_first_visits and user_days; row stores index them (by user; by user and day),
    DuckDB gets no index. A derived table of an earlier shape is built again (its rows are derived, nothing is
    lost) and is not used until the next rebuild."""
    for table, index in (("user_first_visits", {"ix_user_first_visits_user": ["user_id"]}),
                         ("user_days", {"ix_user_days_user_day": ["user_key", "day"]})):
        assert sa.inspect(engine).has_table(table)
        assert table_indexes(engine, table) == ({} if engine.dialect.name == "duckdb" else index)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE user_first_visits")
        conn.exec_driver_sql("CREATE TABLE user_first_visits (user_id TEXT, first_ts TIMESTAMP, region TEXT, "
                             "device TEXT, channel TEXT)")  # the shape of the first version, without user_key
        assert not db.derived_tables_writable(conn)
        db.create_schema(conn)
        assert db.derived_tables_writable(conn)
        db.bulk_insert(conn, db.visits, _visits(["1", "2"]))
        db.bump_data_version(conn)
        assert not db.derived_current(conn)
        assert store_derived_tables(conn) == 2 and db.derived_current(conn)


def test_db013_refresh_command_and_db_info(database_url, monkeypatch, capsys):
    """Rows written by another tool (a plain insert, no new version): db-info says the derived tables are not stored;
    `python -m dashboard refresh` sets a new data version and stores them; db-info then counts them."""
    from dashboard import cli

    engine = db.make_engine(database_url)
    db.create_schema(engine)
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits(["1", "2", "2", "30000000000000000000"]))
        version = db.bump_data_version(conn)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["db-info"]) == 0
    assert "derived:      not stored for this data version" in capsys.readouterr().out
    assert cli.main(["refresh"]) == 0
    out = capsys.readouterr().out
    assert "first visits and user-days stored for 3 users" in out
    with engine.connect() as conn:
        assert db.get_data_version(conn) != version and db.get_data_version(conn) in out
        assert db.derived_current(conn)
        assert sorted(conn.execute(sa.select(db.user_first_visits.c.user_id)).scalars()) == [
            "1", "2", "30000000000000000000"]
    assert cli.main(["db-info"]) == 0
    assert "first visits of 3 users and 3 user-days stored (current)" in capsys.readouterr().out
    engine.dispose()
