"""App shell: create_app, /health, /ready, first-start demo fill, the data page, gunicorn with 2 workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

import pandas as pd
import pytest

from app import create_app
from dashboard import db
from dashboard.bootstrap import ensure_demo_data
from dashboard.config import Config
from callbacks.routing import render_page

REPO = Path(__file__).resolve().parents[2]


def _one_visit():
    return pd.DataFrame({
        "user_id": ["98765432109876543210"], "region": ["UK"], "device": ["PC"], "channel": ["organic"],
        "session_start": pd.to_datetime(["2026-05-01 10:00:00"]),
        "session_end": pd.to_datetime(["2026-05-01 10:30:00"]),
    })


def test_app001_health_needs_no_database(tmp_path):
    app = create_app(Config(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", autofill_demo=False))
    client = app.server.test_client()
    assert client.get("/health").get_json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert ready.get_json()["status"] == "not ready"



def test_app011_objects_alive_after_start_up_are_skipped_by_full_garbage_collections():
    """create_app ends by freezing the objects alive then (dashboard/memory.py): a full collection no longer scans
    the app, its callbacks and the modules loaded (about 150 ms held on every request thread), while an object
    made later is still tracked, and a frozen object with no reference left is still freed."""
    import gc
    import weakref

    app = create_app(Config(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", autofill_demo=False))
    tracked = {id(o) for o in gc.get_objects()}
    callback = next(iter(app.callback_map.values()))["callback"]
    assert gc.get_freeze_count() > 100_000  # the libraries' functions, classes and dicts are among them
    assert id(app.server) not in tracked and id(app.server.view_functions) not in tracked
    assert id(callback) not in tracked

    class Holder:
        pass

    made_later = Holder()
    assert any(o is made_later for o in gc.get_objects())
    frozen = Holder()
    gc.freeze()  # as create_app does with what is alive then
    gone = weakref.ref(frozen)
    del frozen
    assert gone() is None  # reference counting still frees it


def test_app002_ready_reports_rows_and_version(database_url):
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _one_visit())
        version = db.bump_data_version(conn)
    engine.dispose()
    client = create_app(Config(database_url=database_url)).server.test_client()
    body = client.get("/ready").get_json()
    assert body["status"] == "ready"
    assert body["data_version"] == version
    assert body["rows"] == {"visits": 1, "orders": 0, "costs": 0}
    assert body["has_data"] is True


def test_app003_empty_external_database_gets_instructions_and_no_demo(database_url):
    app = create_app(Config(database_url=database_url))
    ctx = app.server.extensions["dashboard_context"]
    page = str(render_page("/data", ctx))
    assert "No data yet" in page and "python -m dashboard import" in page
    body = app.server.test_client().get("/ready").get_json()
    assert body["has_data"] is False
    engine = db.make_engine(database_url)
    with engine.connect() as conn:
        assert db.is_empty(conn)  # never filled with demo data
    engine.dispose()


def test_app004_first_start_fills_embedded_database_once(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "embedded.duckdb"))
    config = Config(demo_users=400, demo_seed=7)
    assert ensure_demo_data(config) is True
    engine = db.make_engine(None, read_only=True)
    with engine.connect() as conn:
        counts, version = db.row_counts(conn), db.get_data_version(conn)
    engine.dispose()
    assert counts["visits"] > 400 and counts["orders"] > 0 and counts["costs"] > 0
    assert ensure_demo_data(config) is False  # already filled: nothing rewritten
    engine = db.make_engine(None, read_only=True)
    with engine.connect() as conn:
        assert db.get_data_version(conn) == version
    engine.dispose()


def test_app010_first_start_stores_the_first_visits_of_an_older_embedded_database(tmp_path, monkeypatch, caplog):
    """The embedded file of an earlier version (events, no user_first_visits): the first start stores every user's
    first visit once, keeps the data version (the data did not change), and the metrics read them; a database given
    by DATABASE_URL is never written."""
    import sqlalchemy as sa

    import metrics
    from dashboard.bootstrap import ensure_derived_tables, prepare_default_database

    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "older.duckdb"))
    config = Config(demo_users=300, demo_seed=3)
    assert ensure_demo_data(config) is True
    with db.one_off_connection(None) as conn:
        assert db.derived_current(conn)  # the demo load stores them
        conn.exec_driver_sql("DROP TABLE user_first_visits")
        conn.exec_driver_sql("DROP TABLE user_days")
        conn.execute(sa.delete(db.app_meta).where(db.app_meta.c.key == db.DERIVED_KEY))
        conn.commit()
        version, live = db.get_data_version(conn), metrics.profiles(conn, metrics.Filters.make())
    external = Config(database_url=f"duckdb:///{tmp_path / 'older.duckdb'}")
    assert ensure_derived_tables(external) is False
    with caplog.at_level("WARNING", logger="dashboard.bootstrap"):
        prepare_default_database(config)
    assert "First visits and user-days stored for" in caplog.text
    with db.one_off_connection(None, read_only=True) as conn:
        assert db.derived_current(conn) and db.get_data_version(conn) == version
        assert conn.execute(sa.select(sa.func.count()).select_from(db.user_first_visits)).scalar_one() == len(live)
        pd.testing.assert_frame_equal(metrics.profiles(conn, metrics.Filters.make()), live)
    assert ensure_derived_tables(config) is False  # done once


def test_app005_concurrent_first_starts_fill_once(tmp_path):
    env = {**os.environ, "DUCKDB_PATH": str(tmp_path / "race.duckdb"), "DEMO_USERS": "400"}
    env.pop("DATABASE_URL", None)
    code = ("from dashboard.bootstrap import ensure_demo_data; from dashboard.config import Config;"
            "print(ensure_demo_data(Config.from_env()))")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate(timeout=180)[0].strip() for p in procs]
    assert sorted(outputs) == ["False", "False", "True"]


def test_app006_data_page_shows_the_summary(database_url):
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _one_visit())
        db.bump_data_version(conn)
    engine.dispose()
    ctx = create_app(Config(database_url=database_url)).server.extensions["dashboard_context"]
    page = str(render_page("/data", ctx))
    assert "No data yet" not in page
    assert "2026-05-01" in page and "database-summary" in page
    assert "not stored for this data version" in page  # written without `import`: not stored
    from dashboard.refresh import refresh

    writer = db.make_engine(database_url)
    refresh(writer)
    writer.dispose()
    assert "first visits of 1 user and 1 user-day stored" in str(render_page("/data", ctx))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    with urlopen(url, timeout=30) as response:
        return response.status, response.read().decode()


def _get_when_up(url: str, proc: subprocess.Popen, log_path: Path, timeout: float = 120) -> tuple[int, str]:
    """GET `url` once the server `proc` answers; fail with the end of its log if it exits or never answers."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AssertionError(log_path.read_text()[-3000:])
            time.sleep(0.5)


def test_app009_python_app_py_listens_on_port_and_refuses_a_bad_one(tmp_path):
    """`python app.py` (the README's quick start) serves on $PORT; a PORT out of range stops it with a message."""
    env = {**os.environ, "DUCKDB_PATH": str(tmp_path / "dev.duckdb"), "DEMO_USERS": "300", "PORT": "70000"}
    env.pop("DATABASE_URL", None)
    env.pop("DASHBOARD_DEBUG", None)
    bad = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "environment variable PORT must be a TCP port between 1 and 65535, got 70000" in bad.stderr
    exposed = subprocess.run([sys.executable, "app.py"], cwd=REPO, capture_output=True, text=True, timeout=120,
                             env={**env, "PORT": "8050", "HOST": "0.0.0.0", "DASHBOARD_DEBUG": "1"})
    assert exposed.returncode != 0
    assert "DASHBOARD_DEBUG=1 is only allowed on a local address" in exposed.stderr
    assert not (tmp_path / "dev.duckdb").exists()  # refused before anything was built

    port = _free_port()
    env["PORT"] = str(port)
    log = open(tmp_path / "dev.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        status, body = _get_when_up(f"http://127.0.0.1:{port}/ready", proc, tmp_path / "dev.log")
        assert status == 200 and '"has_data":true' in body.replace(" ", "")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
    output = (tmp_path / "dev.log").read_text()
    assert f"http://127.0.0.1:{port}" in output and "Debug mode: off" in output


def test_app007_gunicorn_two_workers_on_embedded_duckdb(tmp_path):
    port = _free_port()
    env = {**os.environ, "DUCKDB_PATH": str(tmp_path / "gunicorn.duckdb"), "DEMO_USERS": "500",
           "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2"}
    env.pop("DATABASE_URL", None)
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:server"], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        status, _ = _get_when_up(f"http://127.0.0.1:{port}/health", proc, tmp_path / "gunicorn.log")
        assert status == 200
        pids = set()
        for _ in range(20):  # several requests so both workers open the file read-only
            status, body = _get(f"http://127.0.0.1:{port}/ready")
            assert status == 200 and '"has_data":true' in body.replace(" ", "")
        status, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 200 and "<title>Marketing analytics</title>" in body and "_dash-config" in body
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        pids.update(workers)
        assert len(pids) == 2
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)  # a clean shutdown takes seconds, not the 30 s graceful timeout
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
        assert proc.returncode == 0, (tmp_path / "gunicorn.log").read_text()[-3000:]


@pytest.mark.browser
def test_app008_page_loads_without_console_errors(dash_duo, tmp_path):
    url = f"duckdb:///{tmp_path / 'browser.duckdb'}"
    engine = db.make_engine(url)
    db.create_schema(engine)
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _one_visit())
        db.bump_data_version(conn)
    engine.dispose()
    app = create_app(Config(database_url=url))
    dash_duo.start_server(app)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/data", timeout=20)
    dash_duo.wait_for_element("#database-summary", timeout=20)
    assert "98765432109876543210" not in dash_duo.driver.page_source  # per-user rows never shown here
    assert dash_duo.find_element("#database-summary-table").text.count("visits") == 1
    assert dash_duo.get_logs() == []

    # a phone-sized window: the page links wrap in a row under the title, not a column over 6 lines
    def link_rows() -> tuple[int, int]:
        links = dash_duo.driver.find_elements("css selector", "#navbar .navbar-nav .nav-link")
        tops = {round(link.rect["y"]) for link in links}
        return len(tops), dash_duo.find_element("#navbar").rect["height"]

    wide_rows, wide_height = link_rows()
    dash_duo.driver.set_window_size(400, 900)
    rows, height = link_rows()
    assert wide_rows == 1 and wide_height < 80 and rows <= 2 and height <= 150, (wide_rows, rows, height)
