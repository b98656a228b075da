"""Cache warm-up (`callbacks/warmup.py`): the default view of every page is computed before anyone asks, on each
backend, again after an import changes the data, and a browser opening the app then computes nothing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import plotly
import pytest
from selenium.webdriver.support.ui import WebDriverWait

import metrics
from app import create_app
from callbacks import warmup
from dashboard import db
from dashboard.cache import get_metric_cache
from dashboard.config import Config
from dashboard.demo import write_demo
from callbacks.pages import available_pages

REPO = Path(__file__).resolve().parents[2]
DATA_PAGES = [page for page in available_pages() if page.module is not None]


def _demo(url: str, users: int = 400) -> None:
    engine = db.make_engine(url)
    write_demo(engine, users=users, seed=11)
    engine.dispose()


def _as_json(bodies) -> list[str]:
    return [json.dumps(body.to_plotly_json(), cls=plotly.utils.PlotlyJSONEncoder, sort_keys=True) for body in bodies]


def test_wrm001_warm_pages_fill_the_cache_with_what_a_cold_request_computes(database_url):
    _demo(database_url)
    ctx = create_app(Config(database_url=database_url, autofill_demo=False)).server.extensions["dashboard_context"]
    cache = get_metric_cache(ctx)
    assert cache.misses == 0
    took = warmup.warm_pages(ctx)
    assert list(took) == [page.path for page in DATA_PAGES] and all(seconds > 0 for seconds in took.values())
    computed = cache.misses
    assert computed > 20  # metrics and chart bodies of five pages

    cold_ctx = create_app(Config(database_url=database_url, autofill_demo=False)).server.extensions[
        "dashboard_context"]
    for page in DATA_PAGES:
        hits = cache.hits
        bodies = warmup.render_page(ctx, page)
        assert cache.misses == computed, page.path  # nothing computed: every callback answered from the cache
        assert cache.hits > hits
        assert _as_json(bodies) == _as_json(warmup.render_page(cold_ctx, page)), page.path
    risk = next(page for page in DATA_PAGES if page.path == "/risk")
    assert "risk-customers" in warmup.chart_names(risk.layout({}))  # the grid is warmed too


def test_wrm002_empty_database_is_not_warmed(database_url):
    engine = db.make_engine(database_url)
    db.create_schema(engine)
    engine.dispose()
    ctx = create_app(Config(database_url=database_url, autofill_demo=False)).server.extensions["dashboard_context"]
    assert warmup.warm_pages(ctx) == {}
    assert get_metric_cache(ctx).misses == 1  # the data bounds only


def test_wrm003_the_warmer_warms_again_after_an_import_in_another_process(database_url):
    _demo(database_url)
    app = create_app(Config(database_url=database_url, autofill_demo=False))
    ctx = app.server.extensions["dashboard_context"]
    warmer = warmup.CacheWarmer(ctx, check_seconds=0.2).start()
    try:
        assert warmer.wait_for_run(1, timeout=120)
        first = warmer.warmed_version
        assert set(warmer.last_timings) == {page.path for page in DATA_PAGES}
        # what `python -m dashboard import` does at its end, from another process while the app runs
        code = ("import sys\nfrom dashboard import db\nengine = db.make_engine(sys.argv[1])\n"
                "with engine.begin() as conn:\n    print(db.bump_data_version(conn))\nengine.dispose()")
        new_version = subprocess.run([sys.executable, "-c", code, database_url], cwd=REPO, capture_output=True,
                                     text=True, check=True, timeout=120).stdout.strip()
        assert new_version and new_version != first
        assert warmer.wait_for_run(2, timeout=120)
        assert warmer.warmed_version == new_version
        misses = get_metric_cache(ctx).misses
        warmup.render_page(ctx, DATA_PAGES[0])
        assert get_metric_cache(ctx).misses == misses  # the new version's default view is already cached
    finally:
        warmer.stop()
    assert not warmer._thread.is_alive()  # noqa: SLF001


def test_wrm004_cache_warm_is_on_for_the_app_and_off_in_code(monkeypatch):
    monkeypatch.delenv("CACHE_WARM", raising=False)
    assert Config.from_env().cache_warm is True
    monkeypatch.setenv("CACHE_WARM", "0")
    assert Config.from_env().cache_warm is False
    assert Config().cache_warm is False


@pytest.mark.browser
def test_wrm005_after_the_warm_up_opening_the_default_pages_computes_nothing(dash_duo, tmp_path):
    from tests.browser.test_ui_browser import CHARTS_READY

    url = f"duckdb:///{tmp_path / 'warm.duckdb'}"
    _demo(url, users=2000)
    app = create_app(Config(database_url=url, autofill_demo=False, cache_warm=True))
    ctx = app.server.extensions["dashboard_context"]
    warmer = ctx.extras[warmup.CONTEXT_KEY]
    try:
        assert warmer.wait_for_run(1, timeout=120)
        cache = get_metric_cache(ctx)
        misses, hits = cache.misses, cache.hits
        dash_duo.start_server(app)
        dash_duo.driver.set_window_size(1440, 900)
        WebDriverWait(dash_duo.driver, 90, poll_frequency=0.2).until(lambda d: d.execute_script(CHARTS_READY))
        with ctx.engine.connect() as conn:  # the default period: the last 28 days of the data
            first, last = metrics.data_bounds(conn)["first_date"], metrics.data_bounds(conn)["last_date"]
            start = max(first, last - dt.timedelta(days=27))
            expected = int(metrics.new_users(conn, metrics.Filters.make(start=start, end=last),
                                             dimensions=())["new_users"].sum())
        assert 0 < expected < 2000
        assert dash_duo.find_element("#kpi-new_users-value").text == f"{expected:,}"
        # every callback of the page load was answered from the warm cache
        assert (cache.misses, warmer.runs) == (misses, 1), dash_duo.driver.current_url
        assert cache.hits >= hits + 4  # the filters (bounds, user counts) and the three charts
        for path in ("/marketing", "/risk"):  # pages whose charts also read page controls (breakdown, band, ...)
            hits = cache.hits
            dash_duo.driver.get(dash_duo.server_url + path)
            WebDriverWait(dash_duo.driver, 90, poll_frequency=0.2).until(
                lambda d: d.execute_script(CHARTS_READY))
            assert (cache.misses, warmer.runs) == (misses, 1), (path, dash_duo.driver.current_url)
            assert cache.hits >= hits + 6, path
        assert dash_duo.get_logs() == []
    finally:
        warmer.stop()


def test_wrm006_a_failing_page_or_database_does_not_stop_the_others_or_flood_the_log(tmp_path, monkeypatch,
                                                                                        caplog):
    import logging
    import time

    url = f"sqlite:///{tmp_path / 'warm.sqlite'}"
    _demo(url, users=300)
    ctx = create_app(Config(database_url=url, autofill_demo=False)).server.extensions["dashboard_context"]
    real_render = warmup.render_page

    def render(ctx, page, *args):
        if page.path == "/cohorts":
            raise RuntimeError("broken page")
        return real_render(ctx, page, *args)

    monkeypatch.setattr(warmup, "render_page", render)
    with caplog.at_level(logging.ERROR, logger="callbacks.warmup"):
        took = warmup.warm_pages(ctx)
    assert list(took) == [page.path for page in DATA_PAGES if page.path != "/cohorts"]
    assert [r.getMessage() for r in caplog.records] == [
        "cache warm-up of /cohorts failed; the page is computed on first use"]

    caplog.clear()
    warmer = warmup.CacheWarmer(ctx, check_seconds=0.02)
    calls = []

    def database_down():
        calls.append(time.monotonic())
        raise OSError("connection refused")

    warmer.check_once = database_down
    with caplog.at_level(logging.DEBUG, logger="callbacks.warmup"):
        warmer.start()
        deadline = time.monotonic() + 30
        while len(calls) < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        warmer.stop()
    assert len(calls) >= 5  # it keeps retrying
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None  # one traceback per outage, not one a minute
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) >= 4
