"""Hostile import input on DuckDB, SQLite and PostgreSQL: rows with more or fewer fields than the header, repeated
headers, non-finite numbers, control characters and over-long text, out-of-range timestamps, concurrent imports,
a held write lock and Ctrl-C in a real `python -m dashboard import` process."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard import db, importer
from dashboard.errors import BadInput
from tests.dashboard.test_import import (COSTS_HEADER, GOOD_COST, GOOD_ORDER, GOOD_VISIT, ORDERS_HEADER, VISITS_HEADER,
                               read_rejects, run_cli, state, stored, write_csv)

REPO = Path(__file__).resolve().parents[2]
HEADERS = {"visits": VISITS_HEADER, "orders": ORDERS_HEADER, "costs": COSTS_HEADER}
GOOD = {"visits": GOOD_VISIT, "orders": GOOD_ORDER, "costs": GOOD_COST}
SECOND = {"visits": "2,Germany,PC,FaceBoom,2026-03-02 10:00:00,2026-03-02 10:30:00",
          "orders": "2,2026-03-02 10:10:00,9.5", "costs": "2026-03-02,FaceBoom,20"}
TX_HEADER = "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID"
TX_GOOD = ("536365,A,6,2010-12-01 08:26:00,2.55,17850", "536366,B,2,2010-12-01 09:00:00,1.5,12345")


def seed(engine, tmp_path: Path) -> tuple:
    """Store one row per table and return (row counts, data version): what a refused import must leave."""
    files = {t: write_csv(tmp_path, f"seed_{t}.csv", HEADERS[t], SECOND[t]) for t in HEADERS}
    importer.import_files(engine, **files)
    return state(engine)


def with_engine(database_url: str):
    """Return a read-write engine with the schema created."""
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    return engine


# ------------------------------------------------------------------------------------------------------------------
# 1. rows with more fields than the header: the whole file is refused, never shifted


def _long_variants(table: str) -> dict[str, tuple[list[str], int]]:
    """{variant: (data rows, line of the first long row)} for files with rows longer than the header."""
    good, second = (TX_GOOD if table == "transactions" else (GOOD[table], SECOND[table]))
    return {
        "every_row_one_more_timestamp": ([good + ",2026-03-01 10:00:00", second + ",2026-03-01 10:00:00"], 2),
        "every_row_one_more_text": ([good + ",surplus", second + ",surplus"], 2),
        "one_row_in_the_middle": ([good, second, good.replace(",", ",,", 1)], 4),
        "quoted_field_then_long_row": ([good, '"a, quoted",' + second], 3),
    }


@pytest.mark.parametrize("table", ["visits", "orders", "costs", "transactions"])
@pytest.mark.parametrize("variant", ["every_row_one_more_timestamp", "every_row_one_more_text",
                                     "one_row_in_the_middle", "quoted_field_then_long_row"])
def test_hos001_rows_longer_than_the_header_refuse_the_file(database_url, tmp_path, monkeypatch, capsys, table,
                                                            variant):
    engine = with_engine(database_url)
    try:
        before = seed(engine, tmp_path)
        rows, line = _long_variants(table)[variant]
        header = TX_HEADER if table == "transactions" else HEADERS[table]
        path = write_csv(tmp_path, f"{table}.csv", header, *rows)
        assert run_cli(monkeypatch, database_url, f"--{table}", str(path)) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
        fields = len(header.split(","))
        assert str(path) in err and f"Expected {fields} fields in line {line}, saw " in err
        assert state(engine) == before
    finally:
        engine.dispose()


# ------------------------------------------------------------------------------------------------------------------
# rows with fewer fields: rejected with their line and the field count, the rest imported


@pytest.mark.parametrize("table", ["visits", "orders", "costs"])
@pytest.mark.parametrize("missing", ["last", "middle", "all_but_one"])
def test_hos002_rows_shorter_than_the_header_are_rejected_rows(engine, tmp_path, table, missing):
    fields = GOOD[table].split(",")
    short = {"last": fields[:-1], "middle": fields[:1] + fields[2:], "all_but_one": fields[:1]}[missing]
    short_row = ",".join(short)
    path = write_csv(tmp_path, f"{table}.csv", HEADERS[table], SECOND[table], short_row, "", GOOD[table])
    report = importer.import_files(engine, **{table: path}, chunk_rows=1).for_table(table)
    assert (report.read, report.imported, report.rejected) == (3, 2, 1)
    expected = dict(zip(HEADERS[table].split(","), short + [""] * (len(fields) - len(short))))
    expected.update(line="3", reason=f"{len(short)} field{'s' if len(short) > 1 else ''} instead of {len(fields)}")
    assert read_rejects(path) == [expected]
    assert_stored_exactly(engine, tmp_path, table, SECOND[table], GOOD[table])


def assert_stored_exactly(engine, tmp_path: Path, table: str, *rows: str) -> None:
    """Assert that `table` holds exactly the rows of a file with `rows` (importing them again adds nothing)."""
    assert len(stored(engine, getattr(db, table))) == len(rows)
    again = importer.import_files(engine, **{table: write_csv(tmp_path, f"again_{table}.csv", HEADERS[table], *rows)})
    assert (again.for_table(table).imported, again.for_table(table).duplicate) == (0, len(rows))


@pytest.mark.parametrize("missing", ["CustomerID", "last_two", "single_field"])
def test_hos003_transaction_lines_shorter_than_the_header_refuse_the_log(engine, tmp_path, missing):
    fields = TX_GOOD[1].split(",")
    short = {"CustomerID": fields[:-1], "last_two": fields[:-2], "single_field": fields[:1]}[missing]
    path = write_csv(tmp_path, "tx.csv", TX_HEADER, TX_GOOD[0], ",".join(short), TX_GOOD[1])
    before = state(engine)
    with pytest.raises(BadInput, match=rf"{path}: line 3 has {len(short)} fields? instead of 6"):
        importer.import_files(engine, transactions=path)
    assert state(engine) == before


# ------------------------------------------------------------------------------------------------------------------
# 2. a header naming the same column twice


DUPLICATE_HEADERS = {
    # table: [(header, positions)]
    "visits": [("user_id,user_id,region,device,channel,session_start,session_end", (1, 2)),
               ("User Id,Region,Device,Channel,Session Start,Session End,USER_ID", (1, 7)),
               ("user_id,region,device,channel,session_start,session_end,note,Note", (7, 8))],
    "orders": [("user_id,event_dt,revenue,event-dt", (2, 4)), ("Revenue,user_id,event_dt,revenue", (1, 4))],
    "costs": [("dt,channel,costs,costs", (3, 4)), ("DT,dt,channel,costs", (1, 2))],
    "transactions": [("InvoiceNo,Quantity,UnitPrice,CustomerID,InvoiceDate,Customer ID", (4, 6)),
                     ("InvoiceNo,invoice_no,Quantity,UnitPrice,CustomerID,InvoiceDate", (1, 2))],
}


@pytest.mark.parametrize("table,header,positions", [(t, h, p) for t, cases in DUPLICATE_HEADERS.items()
                                                    for h, p in cases])
def test_hos004_same_column_twice_is_bad_input_naming_both_positions(engine, tmp_path, table, header, positions):
    names = header.split(",")
    path = write_csv(tmp_path, f"{table}.csv", header, ",".join("x" for _ in names))
    before = seed(engine, tmp_path)
    with pytest.raises(BadInput) as raised:
        importer.import_files(engine, **{table: path})
    first, second = positions
    assert str(path) in str(raised.value)
    assert f"columns {first} ({names[first - 1]!r}) and {second} ({names[second - 1]!r})" in str(raised.value)
    assert state(engine) == before


# ------------------------------------------------------------------------------------------------------------------
# 3. numbers that are not finite


TX_NON_FINITE = {
    "product_overflows": (["900001,A,1e200,2010-12-02 10:00:00,1e200,777"], 1, 0),
    "max_double_times_two": (["900001,A,2,2010-12-02 10:00:00,1.7976931348623157e308,777"], 1, 0),
    "invoice_total_overflows": (["900001,A,1,2010-12-02 10:00:00,1.7e308,777",
                                 "900001,B,1,2010-12-02 10:00:00,1.7e308,777"], 0, 2),
}


@pytest.mark.parametrize("case", list(TX_NON_FINITE))
def test_hos005_transaction_amounts_that_overflow_are_dropped_with_a_reason(engine, tmp_path, case):
    lines, product_lines, total_lines = TX_NON_FINITE[case]
    path = write_csv(tmp_path, "tx.csv", TX_HEADER, *TX_GOOD, *lines)
    report = importer.import_files(engine, transactions=path).for_table("orders")
    assert report.dropped.get("quantity * unit price is not a finite number", 0) == product_lines
    assert report.dropped.get("invoice total is not a finite number", 0) == total_lines
    assert report.valid == 2 and report.imported == 2
    rows = stored(engine, db.orders)
    assert [r[0] for r in rows] == ["12345", "17850"]
    assert all(0 < r[2] < 100 for r in rows)


@pytest.mark.parametrize("table,row,reason", [
    ("orders", "3,2026-03-01 10:00:00,1e309", "revenue must be a finite number (got 1e309)"),
    ("orders", "3,2026-03-01 10:00:00,-Infinity", "revenue must be a finite number (got -Infinity)"),
    ("orders", "3,2026-03-01 10:00:00," + "9" * 400, "revenue must be a finite number (got " + "9" * 400 + ")"),
    ("costs", "2026-03-03,ads,-1e400", "costs must be a finite number (got -1e400)"),
    ("costs", "2026-03-03,ads,NAN", "costs must be a finite number (got NAN)"),
])
def test_hos006_non_finite_numbers_are_rejected_rows(engine, tmp_path, table, row, reason):
    path = write_csv(tmp_path, f"{table}.csv", HEADERS[table], GOOD[table], row, SECOND[table])
    report = importer.import_files(engine, **{table: path}).for_table(table)
    assert (report.read, report.imported, report.rejected) == (3, 2, 1)
    assert [(r["line"], r["reason"]) for r in read_rejects(path)] == [("3", reason)]
    assert_stored_exactly(engine, tmp_path, table, GOOD[table], SECOND[table])


# ------------------------------------------------------------------------------------------------------------------
# 4. control characters and over-long text


def _visit(user: str = "9", region: str = "France", device: str = "Mac", channel: str = "organic") -> str:
    """A visits row with these text fields, quoted for CSV."""
    fields = [user, region, device, channel, "2026-03-05 10:00:00", "2026-03-05 10:01:00"]
    return ",".join('"' + f.replace('"', '""') + '"' for f in fields)


FOUR_BYTE = "\U0001F600"  # 4 bytes in UTF-8
HOSTILE_TEXT = {
    "nul_in_user_id": (_visit(user="ab\x00cd"), "user_id contains a control character (U+0000)"),
    "nul_in_region": (_visit(region="Fr\x00ance"), "region contains a control character (U+0000)"),
    "escape_in_device": (_visit(device="Mac\x1b[31m"), "device contains a control character (U+001B)"),
    "delete_in_channel": (_visit(channel="org\x7fanic"), "channel contains a control character (U+007F)"),
    "c1_in_channel": (_visit(channel="org\x85anic"), "channel contains a control character (U+0085)"),
    "newline_in_user_id": (_visit(user="a\nb"), "user_id contains a control character (U+000A)"),
    "user_id_257": (_visit(user="u" * 257), "user_id longer than 256 characters (257)"),
    "user_id_5000_random": (_visit(user="".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(5000))),
                            "user_id longer than 256 characters (5000)"),
    "region_101_four_byte": (_visit(region=FOUR_BYTE * 101), "region longer than 100 characters (101)"),
    "channel_3000": (_visit(channel="c" * 3000), "channel longer than 100 characters (3000)"),
}


@pytest.mark.parametrize("case", list(HOSTILE_TEXT))
def test_hos007_control_characters_and_long_text_are_rejected_rows(engine, tmp_path, case):
    row, reason = HOSTILE_TEXT[case]
    path = tmp_path / "visits.csv"
    path.write_text("\n".join([VISITS_HEADER, GOOD_VISIT, row, SECOND["visits"]]) + "\n", encoding="utf-8")
    report = importer.import_files(engine, visits=path).for_table("visits")
    assert (report.read, report.imported, report.rejected) == (3, 2, 1)
    rejects = read_rejects(path)
    assert [(r["line"], r["reason"]) for r in rejects] == [("3", reason)]
    assert list(rejects[0].values())[:6] == next(csv.reader([row]))  # the original text
    assert_stored_exactly(engine, tmp_path, "visits", GOOD_VISIT, SECOND["visits"])


def test_hos008_longest_allowed_text_is_stored_on_every_backend(engine, tmp_path):
    """The limits keep PostgreSQL's btree index rows storable even with 4-byte characters everywhere."""
    user, dimension = FOUR_BYTE * 256, FOUR_BYTE * 100
    row = _visit(user=user, region=dimension, device=dimension, channel=dimension)
    path = tmp_path / "visits.csv"
    path.write_text("\n".join([VISITS_HEADER, row]) + "\n", encoding="utf-8")
    report = importer.import_files(engine, visits=path).for_table("visits")
    assert (report.imported, report.rejected) == (1, 0)
    assert stored(engine, db.visits)[0][:4] == (user, dimension, dimension, dimension)


@pytest.mark.parametrize("customer,reason", [
    ("17\x0050", "customer id with a control character"),
    ("C" * 300, "customer id longer than 256 characters"),
])
def test_hos009_hostile_customer_ids_in_transaction_logs_are_dropped(engine, tmp_path, customer, reason):
    path = write_csv(tmp_path, "tx.csv", TX_HEADER, *TX_GOOD, f"900001,A,1,2010-12-02 10:00:00,2,{customer}")
    report = importer.import_files(engine, transactions=path).for_table("orders")
    assert report.dropped[reason] == 1 and report.imported == 2
    assert [r[0] for r in stored(engine, db.orders)] == ["12345", "17850"]


# ------------------------------------------------------------------------------------------------------------------
# 7. well-formed timestamps outside the supported range


RANGE = "out of the supported range (1677-09-22 .. 2262-04-10)"
OUT_OF_RANGE = {
    "year_0001": ("visits", "session_start", "0001-01-01 00:00:00"),
    "year_1677": ("visits", "session_start", "1677-09-21 12:00:00"),
    "year_2262": ("visits", "session_end", "2262-04-11 00:00:00"),
    "year_9999": ("orders", "event_dt", "9999-12-31 23:59:59.999"),
    "year_1000_leap_day": ("orders", "event_dt", "1000-02-29 10:00:00"),
    "costs_year_0001": ("costs", "dt", "0001-01-01"),
    "costs_year_9999": ("costs", "dt", "9999-12-31"),
    "costs_year_2262": ("costs", "dt", "2262-04-11"),
}


def _row_with(table: str, column: str, value: str) -> str:
    """GOOD[table] with `column` set to `value` (session_end moved along for visits)."""
    names = [importer.header_key(h) for h in HEADERS[table].split(",")]
    fields = GOOD[table].split(",")
    fields[names.index(importer.header_key(column))] = value
    if column == "session_start":
        fields[names.index("sessionend")] = value
    return ",".join(fields)


@pytest.mark.parametrize("case", list(OUT_OF_RANGE))
def test_hos010_timestamps_outside_the_supported_range_say_so(engine, tmp_path, case):
    table, column, value = OUT_OF_RANGE[case]
    row = _row_with(table, column, value)
    path = write_csv(tmp_path, f"{table}.csv", HEADERS[table], GOOD[table], row, SECOND[table])
    report = importer.import_files(engine, **{table: path}).for_table(table)
    assert (report.read, report.imported, report.rejected) == (3, 2, 1)
    assert [(r["line"], r["reason"]) for r in read_rejects(path)] == [("3", f"{column} '{value}' {RANGE}")]
    assert_stored_exactly(engine, tmp_path, table, GOOD[table], SECOND[table])


@pytest.mark.parametrize("table,column,value,kept", [
    ("visits", "session_start", "1677-09-22 00:00:00", True),
    ("orders", "event_dt", "2262-04-10 23:59:59.999999", True),
    ("costs", "dt", "1677-09-22", True),
    ("costs", "dt", "2262-04-10", True),
    ("orders", "event_dt", "9999-02-30 10:00:00", False),  # not a date in any year: unparseable
    ("costs", "dt", "0001-13-01", False),
])
def test_hos011_range_edges_are_stored_and_impossible_dates_stay_unparseable(engine, tmp_path, table, column,
                                                                             value, kept):
    path = write_csv(tmp_path, f"{table}.csv", HEADERS[table], _row_with(table, column, value))
    report = importer.import_files(engine, **{table: path}).for_table(table)
    if kept:
        assert (report.imported, report.rejected) == (1, 0)
        position = [importer.header_key(h) for h in HEADERS[table].split(",")].index(importer.header_key(column))
        assert str(stored(engine, getattr(db, table))[0][position])[:10] == value[:10]
    else:
        assert [r["reason"] for r in read_rejects(path)] == [f"unparseable {column} '{value}'"]



# ------------------------------------------------------------------------------------------------------------------
# 5, 6. real `python -m dashboard import` processes: concurrent imports, a held write lock, Ctrl-C


def start_import(database_url: str, *argv: str) -> subprocess.Popen:
    """Start `python -m dashboard import ARGV` against `database_url` in a process of its own."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "dashboard", "import", *argv], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


class HeldWriteLock:
    """The database's write lock, held by this test process the way an import holds it, until `release`."""

    def __init__(self, database_url: str):
        self.engine = db.make_engine(database_url)
        self.conn = self.engine.connect()  # DuckDB: an open read-write connection holds the file lock
        self.transaction = self.conn.begin()
        db.lock_for_write(self.conn)

    def release(self) -> None:
        """Roll back and close: the lock is free."""
        self.transaction.rollback()
        self.conn.close()
        self.engine.dispose()


def visits_file(path: Path, users: int) -> Path:
    """Write a visits file of `users` distinct users (2 visits each) and return its path."""
    start = datetime(2026, 3, 1)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(VISITS_HEADER + "\n")
        for user in range(users):
            for visit in range(2):
                begin = start + timedelta(minutes=user % 10_000, days=visit)
                handle.write(f"u{user},France,Mac,organic,{begin:%Y-%m-%d %H:%M:%S},"
                             f"{begin + timedelta(minutes=5):%Y-%m-%d %H:%M:%S}\n")
    return path


def test_hos012_a_held_write_lock_is_one_busy_line_and_exit_2(database_url, tmp_path):
    engine = with_engine(database_url)
    before = seed(engine, tmp_path)
    engine.dispose()
    path = write_csv(tmp_path, "costs.csv", COSTS_HEADER, GOOD_COST)
    lock = HeldWriteLock(database_url)
    try:
        done = start_import(database_url, "--costs", str(path), "--lock-wait", "1")
        out, err = done.communicate(timeout=120)
    finally:
        lock.release()
    assert done.returncode == 2, err
    assert err.startswith("the database is busy: ") and len(err.splitlines()) == 1, err
    assert "try again" in err and str(tmp_path) not in err and out == ""
    engine = db.make_engine(database_url)
    assert state(engine) == before
    engine.dispose()


def test_hos013_two_imports_of_one_file_at_once_store_it_once(database_url, tmp_path):
    path = visits_file(tmp_path / "visits.csv", users=3_000)
    db.create_schema(engine := db.make_engine(database_url))
    engine.dispose()
    lock = HeldWriteLock(database_url)  # both imports start, then wait for the lock side by side
    try:
        imports = [start_import(database_url, "--visits", str(path)) for _ in range(2)]
        if db.backend_name(lock.conn) == "postgresql":  # wait until both are queued on the advisory lock
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with db.make_engine(database_url).connect() as probe:
                    waiting = probe.execute(sa.text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar_one()
                if waiting >= 2:
                    break
                time.sleep(0.1)
        else:
            time.sleep(3)  # let both processes reach the lock
    finally:
        lock.release()
    results = [p.communicate(timeout=300) for p in imports]
    assert [p.returncode for p in imports] == [0, 0], results
    summaries = sorted(out.splitlines()[0].split(": ", 1)[1] for out, _ in results)
    assert summaries == ["read 6,000, imported 0, duplicate 6,000, rejected 0",
                         "read 6,000, imported 6,000, duplicate 0, rejected 0"]
    engine = db.make_engine(database_url)
    assert state(engine)[0]["visits"] == 6_000
    engine.dispose()


@pytest.fixture(scope="module")
def large_visits(tmp_path_factory) -> Path:
    """A visits file of 200,000 users (400,000 rows, about 30 MB)."""
    return visits_file(tmp_path_factory.mktemp("large") / "large_visits.csv", users=200_000)


def _read_position(pid: int, path: Path) -> int | None:
    """Return the read position of process `pid` in `path`, or None when it does not have the file open."""
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(path):
                    with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                        return int(info.readline().split()[1])
            except OSError:
                continue
    except OSError:
        return None
    return None


def _has_loaded(pid: int, library: str) -> bool:
    """True when process `pid` has mapped a file whose path contains `library`."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return library in maps.read()
    except OSError:
        return False


@pytest.mark.parametrize("phase", ["loading", "reading", "final_sql"])
def test_hos014_ctrl_c_in_any_phase_is_one_line_exit_130_and_nothing_changed(database_url, tmp_path, large_visits,
                                                                           phase):
    engine = with_engine(database_url)
    before = seed(engine, tmp_path)
    engine.dispose()
    running = start_import(database_url, "--visits", str(large_visits), "--no-progress")
    size = large_visits.stat().st_size
    if phase == "loading":  # Python runs the CLI and is loading its libraries (pandas is mapped, the file unread)
        while running.poll() is None and not _has_loaded(running.pid, "pandas/_libs"):
            time.sleep(0.002)
    else:
        seen_far = False  # the reader got past half of the file (the header read opens it only briefly)
        while running.poll() is None:
            position = _read_position(running.pid, large_visits)
            if position is not None and position > size // 2:
                seen_far = True
            if phase == "reading" and position is not None and position > importer.READ_BLOCK_BYTES:
                break
            if phase == "final_sql" and seen_far and position is None:
                break  # the file is read and closed: staging moved into the tables, derived tables, commit
            time.sleep(0.002)
    running.send_signal(signal.SIGINT)
    out, err = running.communicate(timeout=300)
    assert (running.returncode, err) == (130, "interrupted: nothing was changed\n"), (out, err)
    engine = db.make_engine(database_url)
    assert state(engine) == before
    engine.dispose()
