"""CSV import on DuckDB, SQLite and PostgreSQL: validation and rejects, headers, duplicates, atomicity, CLI."""

from __future__ import annotations

import csv
import re
import logging
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard import cli, db, importer
from dashboard.errors import BadInput

VISITS_HEADER = "User Id,Region,Device,Channel,Session Start,Session End"
ORDERS_HEADER = "User Id,Event Dt,Revenue"
COSTS_HEADER = "dt,Channel,costs"
GOOD_VISIT = "1,France,Mac,organic,2026-03-01 10:00:00,2026-03-01 10:05:00"
GOOD_ORDER = "1,2026-03-01 10:01:00,4.99"
GOOD_COST = "2026-03-01,FaceBoom,12.5"
# The real data set lies in shared/ beside the repository (never copied into it).
RETAIL_PARQUET = Path(__file__).resolve().parents[3] / "shared" / "data" / "online_retail" / "online_retail.parquet"


def write_csv(tmp_path: Path, name: str, *lines: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_rejects(path: Path) -> list[dict[str, str]]:
    with open(str(path) + ".rejects.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def stored(engine, table: sa.Table) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(tuple(row) for row in conn.execute(sa.select(table)))


def state(engine) -> tuple[dict[str, int], str]:
    with engine.connect() as conn:
        return db.row_counts(conn), db.get_data_version(conn)


def run_cli(monkeypatch, database_url: str, *argv: str) -> int:
    """Run `python -m dashboard import ...` in-process with DATABASE_URL set."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setattr(cli, "COMMAND_MODULES", (importer,))  # independent of other commands
    return cli.main(["import", *argv])


# One case per rejection reason: (table, header, bad row, expected reason).
REJECT_CASES = {
    "empty_user_id": ("visits", VISITS_HEADER, ",France,Mac,organic,2026-03-01 10:00:00,2026-03-01 10:05:00",
                      "empty user_id"),
    "empty_region": ("visits", VISITS_HEADER, "2,  ,Mac,organic,2026-03-01 10:00:00,2026-03-01 10:05:00",
                     "empty region"),
    "empty_device": ("visits", VISITS_HEADER, "2,France,,organic,2026-03-01 10:00:00,2026-03-01 10:05:00",
                     "empty device"),
    "empty_channel": ("visits", VISITS_HEADER, "2,France,Mac,,2026-03-01 10:00:00,2026-03-01 10:05:00",
                      "empty channel"),
    "empty_session_end": ("visits", VISITS_HEADER, "2,France,Mac,organic,2026-03-01 10:00:00,",
                          "empty session_end"),
    "unparseable_session_start": ("visits", VISITS_HEADER,
                                  "2,France,Mac,organic,2026-13-01,2026-03-01 10:05:00",
                                  "unparseable session_start '2026-13-01'"),
    "unparseable_session_start_month": ("visits", VISITS_HEADER,
                                        "2,France,Mac,organic,2026-13-01 10:00:00,2026-03-01 10:05:00",
                                        "unparseable session_start '2026-13-01 10:00:00'"),
    "session_end_before_start": ("visits", VISITS_HEADER,
                                 "2,France,Mac,organic,2026-03-01 10:00:00,2026-03-01 09:59:59",
                                 "session_end before session_start"),
    "empty_event_dt": ("orders", ORDERS_HEADER, "2,,5", "empty event_dt"),
    "unparseable_event_dt": ("orders", ORDERS_HEADER, "2,01/03/2026 10:00,5",
                             "unparseable event_dt '01/03/2026 10:00'"),
    "revenue_negative": ("orders", ORDERS_HEADER, "2,2026-03-01 10:00:00,-5", "revenue must be > 0 (got -5)"),
    "revenue_zero": ("orders", ORDERS_HEADER, "2,2026-03-01 10:00:00,0.0", "revenue must be > 0 (got 0.0)"),
    "revenue_unparseable": ("orders", ORDERS_HEADER, "2,2026-03-01 10:00:00,1 234",
                            "unparseable revenue '1 234'"),
    "revenue_nan": ("orders", ORDERS_HEADER, "2,2026-03-01 10:00:00,NaN",
                    "revenue must be a finite number (got NaN)"),
    "revenue_empty": ("orders", ORDERS_HEADER, "2,2026-03-01 10:00:00,", "empty revenue"),
    "costs_negative": ("costs", COSTS_HEADER, "2026-03-02,FaceBoom,-0.5", "costs must be >= 0 (got -0.5)"),
    "costs_inf": ("costs", COSTS_HEADER, "2026-03-02,FaceBoom,inf", "costs must be a finite number (got inf)"),
    "costs_overflow": ("costs", COSTS_HEADER, "2026-03-02,FaceBoom,1e400",
                       "costs must be a finite number (got 1e400)"),
    "costs_quoted_thousands": ("costs", COSTS_HEADER, '2026-03-02,"Face, Boom","1,234"',
                               "unparseable costs '1,234'"),
    "unparseable_dt": ("costs", COSTS_HEADER, "2026-02-30,FaceBoom,1", "unparseable dt '2026-02-30'"),
    "empty_dt": ("costs", COSTS_HEADER, ",FaceBoom,1", "empty dt"),
    "empty_costs_channel": ("costs", COSTS_HEADER, "2026-03-02,,1", "empty channel"),
}
GOOD_ROWS = {"visits": GOOD_VISIT, "orders": GOOD_ORDER, "costs": GOOD_COST}


@pytest.mark.parametrize("case", list(REJECT_CASES))
def test_imp001_rejects_row_with_reason(engine, tmp_path, case):
    table, header, bad_row, reason = REJECT_CASES[case]
    path = write_csv(tmp_path, f"{table}.csv", header, GOOD_ROWS[table], bad_row)
    report = importer.import_files(engine, **{table: path})
    file_report = report.for_table(table)
    assert (file_report.read, file_report.imported, file_report.duplicate, file_report.rejected) == (2, 1, 0, 1)
    assert file_report.rejects_path == Path(str(path) + ".rejects.csv")
    rejects = read_rejects(path)
    expected = dict(zip(header.split(","), next(csv.reader([bad_row]))))
    expected.update(line="3", reason=reason)
    assert rejects == [expected]  # the original text, exactly as in the file
    assert len(stored(engine, getattr(db, table))) == 1


def test_imp002_export_and_snake_case_headers_any_order_give_the_same_rows(database_url, tmp_path):
    export = tmp_path / "export"
    snake = tmp_path / "snake"
    export.mkdir()
    snake.mkdir()
    files_export = {
        "visits": write_csv(export, "v.csv", VISITS_HEADER, GOOD_VISIT),
        "orders": write_csv(export, "o.csv", ORDERS_HEADER, GOOD_ORDER),
        "costs": write_csv(export, "c.csv", COSTS_HEADER, GOOD_COST),
    }
    files_snake = {
        "visits": write_csv(snake, "v.csv", "session_end,CHANNEL,user_id,session_start,device,REGION",
                            "2026-03-01 10:05:00,organic,1,2026-03-01 10:00:00,Mac,France"),
        "orders": write_csv(snake, "o.csv", "revenue,event_dt,USER_ID", "4.99,2026-03-01 10:01:00,1"),
        "costs": write_csv(snake, "c.csv", "COSTS,channel,DT", "12.5,FaceBoom,2026-03-01"),
    }
    results = []
    for index, files in enumerate((files_export, files_snake)):
        engine = db.make_engine(database_url)
        importer.import_files(engine, replace=True, **files)
        results.append({t.name: stored(engine, t) for t in db.EVENT_TABLES})
        engine.dispose()
    assert results[0] == results[1]
    assert results[0]["visits"] == [("1", "France", "Mac", "organic", datetime(2026, 3, 1, 10, 0),
                                     datetime(2026, 3, 1, 10, 5))]
    assert results[0]["orders"] == [("1", datetime(2026, 3, 1, 10, 1), 4.99)]
    assert results[0]["costs"] == [(date(2026, 3, 1), "FaceBoom", 12.5)]


def test_imp003_extra_columns_are_ignored_with_a_warning(engine, tmp_path, caplog):
    path = write_csv(tmp_path, "o.csv", "Order Note,User Id,Event Dt,Revenue,Coupon", "hi,7,2026-03-01 10:00:00,5,X")
    with caplog.at_level(logging.WARNING, logger="dashboard.importer"):
        report = importer.import_files(engine, orders=path)
    assert report.for_table("orders").ignored_columns == ["Order Note", "Coupon"]
    assert any("ignoring extra columns: Order Note, Coupon" in r.getMessage() and str(path) in r.getMessage()
               for r in caplog.records)
    assert stored(engine, db.orders) == [("7", datetime(2026, 3, 1, 10, 0), 5.0)]


def test_imp004_missing_column_is_exit_2_naming_file_and_column(database_url, tmp_path, monkeypatch, capsys):
    path = write_csv(tmp_path, "visits.csv", "User Id,Region,Device,Session Start,Session End",
                     "1,France,Mac,2026-03-01 10:00:00,2026-03-01 10:05:00")
    assert run_cli(monkeypatch, database_url, "--visits", str(path)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(path) in err and "missing column channel" in err
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        assert db.is_empty(conn)
    engine.dispose()


def test_imp005_bad_arguments_and_missing_file_are_exit_2(database_url, tmp_path, monkeypatch, capsys):
    assert run_cli(monkeypatch, database_url) == 2
    assert "nothing to import" in capsys.readouterr().err
    missing = tmp_path / "nope.csv"
    assert run_cli(monkeypatch, database_url, "--orders", str(missing)) == 2
    assert f"file not found: {missing}" in capsys.readouterr().err
    empty = write_csv(tmp_path, "empty.csv", "")
    assert run_cli(monkeypatch, database_url, "--costs", str(empty)) == 2
    assert "empty file" in capsys.readouterr().err


def test_imp006_duplicates_within_files_across_chunks_and_against_stored(engine, tmp_path):
    first = write_csv(tmp_path, "o1.csv", ORDERS_HEADER, GOOD_ORDER, "2,2026-03-01 11:00:00,3", GOOD_ORDER,
                      "2,2026-03-01 11:00:00,3", GOOD_ORDER)
    report = importer.import_files(engine, orders=first, chunk_rows=2)  # duplicates fall in other chunks
    orders = report.for_table("orders")
    assert (orders.read, orders.imported, orders.duplicate, orders.rejected) == (5, 2, 3, 0)
    second = write_csv(tmp_path, "o2.csv", ORDERS_HEADER, "2,2026-03-01 11:00:00,3", "3,2026-03-02 11:00:00,3",
                       "2,2026-03-01T11:00:00.000,3.0")
    orders = importer.import_files(engine, orders=second).for_table("orders")
    assert (orders.read, orders.imported, orders.duplicate) == (3, 1, 2)
    assert stored(engine, db.orders) == [
        ("1", datetime(2026, 3, 1, 10, 1), 4.99), ("2", datetime(2026, 3, 1, 11, 0), 3.0),
        ("3", datetime(2026, 3, 2, 11, 0), 3.0),
    ]


def _three_files(tmp_path: Path) -> dict[str, Path]:
    return {
        "visits": write_csv(tmp_path, "v.csv", VISITS_HEADER, GOOD_VISIT,
                            "2,Germany,PC,FaceBoom,2026-03-02 10:00:00,2026-03-02 10:30:00"),
        "orders": write_csv(tmp_path, "o.csv", ORDERS_HEADER, GOOD_ORDER, "2,2026-03-02 10:10:00,9.5"),
        "costs": write_csv(tmp_path, "c.csv", COSTS_HEADER, GOOD_COST, "2026-03-02,FaceBoom,20"),
    }


def test_imp007_reimport_changes_nothing(engine, tmp_path):
    files = _three_files(tmp_path)
    first = importer.import_files(engine, **files)
    assert first.changed and [r.imported for r in first.files] == [2, 2, 2]
    before = state(engine)
    assert before[0] == {"visits": 2, "orders": 2, "costs": 2}
    second = importer.import_files(engine, **files)
    assert not second.changed
    assert [(r.read, r.imported, r.duplicate, r.rejected) for r in second.files] == [(2, 0, 2, 0)] * 3
    assert state(engine) == before


def test_imp008_failure_midway_leaves_database_unchanged(engine, tmp_path, monkeypatch):
    importer.import_files(engine, costs=write_csv(tmp_path, "c0.csv", COSTS_HEADER, "2026-02-01,ads,1"))
    before = state(engine)
    real_move = importer.move_new_rows
    calls = []

    def move_then_fail(conn, staging, table):
        calls.append(table.name)
        if len(calls) == 2:  # visits already moved into the real table inside the transaction
            raise RuntimeError("failure injected after the first table")
        return real_move(conn, staging, table)

    monkeypatch.setattr(importer.staging, "move_new_rows", move_then_fail)  # where the import run finds it
    with pytest.raises(RuntimeError, match="failure injected"):
        importer.import_files(engine, replace=True, **_three_files(tmp_path))
    assert calls == ["visits", "orders"]
    assert state(engine) == before
    assert stored(engine, db.costs) == [(date(2026, 2, 1), "ads", 1.0)]


def test_imp009_keyboard_interrupt_midway_leaves_database_unchanged(database_url, tmp_path, monkeypatch, capsys):
    engine = db.make_engine(database_url)
    importer.import_files(engine, orders=write_csv(tmp_path, "o0.csv", ORDERS_HEADER, "9,2026-02-01 00:00:00,1"))
    before = state(engine)
    calls = []

    def interrupt(conn, **_):
        calls.append(db.row_counts(conn))  # every table already replaced inside the transaction
        raise KeyboardInterrupt

    monkeypatch.setattr(db, "bump_data_version", interrupt)
    files = _three_files(tmp_path)
    code = run_cli(monkeypatch, database_url, "--visits", str(files["visits"]), "--orders", str(files["orders"]),
                   "--costs", str(files["costs"]), "--replace")
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert calls == [{"visits": 2, "orders": 2, "costs": 2}]
    assert state(engine) == before
    engine.dispose()


def test_imp010_strict_refuses_everything_but_writes_rejects(database_url, tmp_path, monkeypatch, capsys):
    files = _three_files(tmp_path)
    files["orders"] = write_csv(tmp_path, "o.csv", ORDERS_HEADER, GOOD_ORDER, "2,2026-03-02 10:10:00,-1")
    code = run_cli(monkeypatch, database_url, "--strict", *[a for t, p in files.items() for a in (f"--{t}", str(p))])
    assert code == 2
    err = capsys.readouterr().err
    assert "--strict: 1 row(s) rejected, nothing imported" in err and "o.csv.rejects.csv" in err
    assert read_rejects(files["orders"])[0]["reason"] == "revenue must be > 0 (got -1)"
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        assert db.is_empty(conn) and db.get_data_version(conn) == "empty"
    engine.dispose()


def test_imp011_replace_swaps_only_the_imported_tables(engine, tmp_path):
    importer.import_files(engine, **_three_files(tmp_path))
    version = state(engine)[1]
    new_visits = write_csv(tmp_path, "v2.csv", VISITS_HEADER,
                           "5,UK,Android,TipTop,2026-04-01 08:00:00,2026-04-01 08:00:00")
    report = importer.import_files(engine, visits=new_visits, replace=True)
    assert report.replaced == {"visits": 2}
    assert report.for_table("visits").imported == 1
    counts, new_version = state(engine)
    assert counts == {"visits": 1, "orders": 2, "costs": 2}
    assert new_version != version
    assert stored(engine, db.visits) == [("5", "UK", "Android", "TipTop", datetime(2026, 4, 1, 8, 0),
                                          datetime(2026, 4, 1, 8, 0))]


def test_imp012_orders_only_import(database_url, tmp_path, monkeypatch, capsys):
    path = write_csv(tmp_path, "orders.csv", ORDERS_HEADER, GOOD_ORDER, "1,2026-03-01 12:00:00,0", GOOD_ORDER)
    assert run_cli(monkeypatch, database_url, "--orders", str(path)) == 0
    out = capsys.readouterr().out
    assert f"{path} -> orders: read 3, imported 1, duplicate 1, rejected 1" in out
    assert f"{path}.rejects.csv" in out
    engine = db.make_engine(database_url)
    counts, version = state(engine)
    assert counts == {"visits": 0, "orders": 1, "costs": 0} and version != "empty"
    engine.dispose()


def test_imp013_text_and_20_digit_ids_round_trip_exactly(engine, tmp_path):
    ids = ["98765432109876543210", "18446744073709551616", "0042", "user-é-42", "1e5", "00"]
    visits = write_csv(tmp_path, "v.csv", VISITS_HEADER,
                       *[f"{i},France,Mac,organic,2026-03-01 10:00:00,2026-03-01 10:05:00" for i in ids])
    orders = write_csv(tmp_path, "o.csv", ORDERS_HEADER, *[f"{i},2026-03-01 10:00:00,1" for i in ids])
    importer.import_files(engine, visits=visits, orders=orders)
    assert sorted(r[0] for r in stored(engine, db.visits)) == sorted(ids)
    assert sorted(r[0] for r in stored(engine, db.orders)) == sorted(ids)


def test_imp014_timestamp_forms_blank_lines_and_line_numbers(engine, tmp_path):
    path = write_csv(tmp_path, "v.csv", VISITS_HEADER,
                     "1,France,Mac,organic,2026-03-01T10:00:00,2026-03-01 10:00:00.250", "",
                     "2,France,Mac,organic,2026-03-01 10:00:00.123456,2026-03-01T10:00:01", "",
                     "3,France,Mac,organic,2026-03-01 10:00,2026-03-01 10:00:01",
                     "4,France,Mac,organic,2026-03-01 10:00:00+01:00,2026-03-01 10:00:01")
    report = importer.import_files(engine, visits=path, chunk_rows=3).for_table("visits")
    assert (report.read, report.imported, report.rejected) == (4, 2, 2)
    assert [(r["line"], r["reason"]) for r in read_rejects(path)] == [
        ("6", "unparseable session_start '2026-03-01 10:00'"),
        ("7", "unparseable session_start '2026-03-01 10:00:00+01:00'"),
    ]
    assert [(r[0], r[4], r[5]) for r in stored(engine, db.visits)] == [
        ("1", datetime(2026, 3, 1, 10, 0), datetime(2026, 3, 1, 10, 0, 0, 250000)),
        ("2", datetime(2026, 3, 1, 10, 0, 0, 123456), datetime(2026, 3, 1, 10, 0, 1)),
    ]


def test_imp015_cli_summary_and_stale_rejects_file_removed(database_url, tmp_path, monkeypatch, capsys):
    files = _three_files(tmp_path)
    stale = Path(str(files["costs"]) + ".rejects.csv")
    stale.write_text("old\n")
    args = [a for t, p in files.items() for a in (f"--{t}", str(p))]
    assert run_cli(monkeypatch, database_url, *args) == 0
    out = capsys.readouterr().out
    for table, path in files.items():
        assert f"{path} -> {table}: read 2, imported 2, duplicate 0, rejected 0" in out
    assert not stale.exists()
    assert "data version: " in out
    assert run_cli(monkeypatch, database_url, *args) == 0
    assert "nothing changed" in capsys.readouterr().out


def test_imp016_transactions_map_to_orders(engine, tmp_path):
    path = write_csv(
        tmp_path, "tx.csv", "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID",
        "536365,A,6,2010-12-01 08:26:00,2.55,17850.0",
        "536365,B,2,2010-12-01 08:26:00,1.5,17850.0",
        "536365,B,2,2010-12-01 08:26:00,1.5,17850.0",  # exact duplicate line
        "536366,A,1,12/1/2010 8:28,10,17850",
        "C536367,A,-1,2010-12-01 09:00:00,2.55,17850.0",  # cancellation
        "536368,A,1,2010-12-01 09:00:00,2.55,",  # no customer
        "536369,A,0,2010-12-01 09:00:00,2.55,12345.0",  # non-positive quantity
        "536370,A,1,2010-12-01 09:00:00,0,12345.0",  # non-positive price
        "536371,A,1,2010-12-01 09:00:00,abc,12345.0",  # unparseable
        "536372,A,1,2010-12-01 10:00:00,4,A-77",
    )
    report = importer.import_files(engine, transactions=path)
    tx = report.for_table("orders")
    assert (tx.read, tx.valid, tx.imported, tx.customers) == (10, 3, 3, 2)
    assert tx.dropped == {
        "cancellation": 1, "no invoice number": 0, "no customer": 1,
        "unparseable quantity, unit price or invoice date": 1, "non-positive quantity": 1,
        "non-positive unit price": 1, "exact duplicate line": 1,
    }
    assert stored(engine, db.orders) == [
        ("17850", datetime(2010, 12, 1, 8, 26), pytest.approx(6 * 2.55 + 2 * 1.5)),
        ("17850", datetime(2010, 12, 1, 8, 28), 10.0),
        ("A-77", datetime(2010, 12, 1, 10, 0), 4.0),
    ]


def test_imp017_online_retail_parquet_has_4338_customers():
    lines = importer.read_transactions(RETAIL_PARQUET)
    orders, dropped = importer.orders_from_transactions(lines)
    assert len(lines) == 541_909
    assert orders["user_id"].nunique() == 4_338
    assert dropped["cancellation"] == 9_288 and dropped["no customer"] == 134_697
    assert "17850" in set(orders["user_id"])


def test_imp018_duplicate_meaning_columns_are_bad_input(engine, tmp_path):
    path = write_csv(tmp_path, "c.csv", "dt,channel,costs,Channel", "2026-03-01,a,1,b")
    with pytest.raises(BadInput, match="both mean channel"):
        importer.import_files(engine, costs=path)


def test_imp019_malformed_csv_is_exit_2_and_nothing_stored(database_url, tmp_path, monkeypatch, capsys):
    good = write_csv(tmp_path, "c.csv", COSTS_HEADER, GOOD_COST)
    bad = write_csv(tmp_path, "o.csv", ORDERS_HEADER, GOOD_ORDER, "2,2026-03-01 10:00:00,5,surplus")
    assert run_cli(monkeypatch, database_url, "--costs", str(good), "--orders", str(bad)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "Expected 3 fields in line 3, saw 4" in err
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        assert db.is_empty(conn) and db.get_data_version(conn) == "empty"
    engine.dispose()


def test_imp020_postgresql_import_refreshes_planner_statistics(database_url, tmp_path, monkeypatch, capsys):
    """After the import commits, PostgreSQL's written tables are vacuumed and analyzed (the summary says so and
    how long it took); tables not written are left alone; DuckDB and SQLite print no such line."""
    costs = write_csv(tmp_path, "c.csv", COSTS_HEADER, GOOD_COST)
    orders = write_csv(tmp_path, "o.csv", ORDERS_HEADER, GOOD_ORDER)
    assert run_cli(monkeypatch, database_url, "--costs", str(costs), "--orders", str(orders)) == 0
    out = capsys.readouterr().out
    engine = db.make_engine(database_url)
    try:
        if engine.dialect.name != "postgresql":
            assert "planner statistics" not in out and "data version:" in out
            return
        assert re.search(r"planner statistics refreshed \(VACUUM ANALYZE\) in \d+\.\ds", out), out
        with engine.connect() as conn:
            state = {name: conn.execute(sa.text(  # this test's schema (search_path), not other schemas' tables
                "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relid = to_regclass(:name)"), {"name": name}).scalar_one() for name in ("visits", "orders", "costs")}
        assert state == {"costs": True, "orders": True, "visits": False}
    finally:
        engine.dispose()


def first_visit_rows(engine) -> list[tuple]:
    """The stored first visits as (user_id, first_ts as text, region, device, channel), by user."""
    t = db.user_first_visits
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.user_id, t.c.first_ts, t.c.region, t.c.device, t.c.channel)
                            .order_by(t.c.user_id))
        return [(u, str(ts)[:19], r, d, c) for u, ts, r, d, c in rows]


def user_day_rows(engine) -> list[tuple]:
    """The stored user-days as (user_id, day as text), by user and day."""
    k, ud = db.user_first_visits, db.user_days
    with engine.connect() as conn:
        rows = conn.execute(sa.select(k.c.user_id, ud.c.day).select_from(ud.join(k, k.c.user_key == ud.c.user_key))
                            .order_by(k.c.user_id, ud.c.day))
        return [(u, str(day)[:10]) for u, day in rows]


def test_imp021_imports_keep_the_derived_tables_current(database_url, tmp_path, monkeypatch, capsys):
    """An import that writes visits rebuilds the derived tables in its transaction (the summary says for how many
    users); an orders-only import keeps them current without a rebuild; an earlier visit of a known user moves that
    user's first visit and adds a user-day; a refused import leaves tables and version as they were."""
    files = _three_files(tmp_path)
    assert run_cli(monkeypatch, database_url, "--visits", str(files["visits"])) == 0
    assert re.search(r"first visits and user-days stored for 2 users in \d+\.\ds", capsys.readouterr().out)
    engine = db.make_engine(database_url)
    try:
        assert first_visit_rows(engine) == [("1", "2026-03-01 10:00:00", "France", "Mac", "organic"),
                                            ("2", "2026-03-02 10:00:00", "Germany", "PC", "FaceBoom")]
        with engine.connect() as conn:
            assert db.derived_current(conn)

        assert run_cli(monkeypatch, database_url, "--orders", str(files["orders"])) == 0
        assert "user-days stored" not in capsys.readouterr().out
        with engine.connect() as conn:
            assert db.derived_current(conn)

        earlier = write_csv(tmp_path, "v2.csv", VISITS_HEADER,
                            "2,Italy,iPhone,TipTop,2026-02-27 23:59:59,2026-02-28 00:10:00",
                            "3,Italy,iPhone,TipTop,2026-03-05 08:00:00,2026-03-05 08:01:00")
        report = importer.import_files(engine, visits=earlier)
        assert report.derived_users == 3
        assert first_visit_rows(engine)[1:] == [("2", "2026-02-27 23:59:59", "Italy", "iPhone", "TipTop"),
                                                ("3", "2026-03-05 08:00:00", "Italy", "iPhone", "TipTop")]
        assert user_day_rows(engine) == [("1", "2026-03-01"), ("2", "2026-02-27"), ("2", "2026-03-02"),
                                         ("3", "2026-03-05")]
        before = (first_visit_rows(engine), user_day_rows(engine), state(engine))
        bad = write_csv(tmp_path, "v3.csv", VISITS_HEADER, "4,Spain,PC,TipTop,2026-02-01 10:00:00,2026-02-01 10:05:00",
                        "5,Spain,PC,TipTop,2026-02-01 10:00:00,2026-02-01 09:00:00")  # ends before it starts
        with pytest.raises(BadInput):
            importer.import_files(engine, visits=bad, strict=True)
        assert (first_visit_rows(engine), user_day_rows(engine), state(engine)) == before
        with engine.connect() as conn:
            assert db.derived_current(conn)
    finally:
        engine.dispose()
