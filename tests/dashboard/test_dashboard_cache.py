"""The metric cache: stable keys, memoization counted, data version invalidation, Redis shared and Redis down."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest
import redis
from dash import html

import metrics
from app import create_app
from dashboard import db
from dashboard import cache as metric_cache
from dashboard.cache import (ByteBudgetCache, MetricCache, MetricReader, cache_key, memo_key, metrics_code_version,
                             source_version)
from dashboard.config import Config
from dashboard.context import AppContext
from layouts.filters import FilterState
from tests.callbacks.test_dashboard_callbacks import trace_values

REPO = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
CALLS: list[tuple] = []


def counted_new_users(conn, filters, **params) -> pd.DataFrame:
    """metrics.new_users, recording each real computation in CALLS."""
    CALLS.append((filters, tuple(sorted(params.items()))))
    return metrics.new_users(conn, filters, **params)


def _visits(users: list[tuple[str, str, str]]) -> pd.DataFrame:
    """Visits of (user_id, channel, date) triples."""
    return pd.DataFrame({
        "user_id": [u for u, _, _ in users], "region": ["UK"] * len(users), "device": ["PC"] * len(users),
        "channel": [c for _, c, _ in users],
        "session_start": pd.to_datetime([f"{d} 10:00:00" for _, _, d in users]),
        "session_end": pd.to_datetime([f"{d} 10:05:00" for _, _, d in users]),
    })


def _fill(engine, users) -> str:
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, _visits(users))
        return db.bump_data_version(conn)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own in the test Redis db; its keys are deleted afterwards."""
    prefix = f"test-dashboard-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def test_dcache001_key_is_canonical_and_the_same_in_another_process():
    a = metrics.Filters.make(start="2026-05-01", end="2026-05-31", channels=["TipTop", "FaceBoom", "TipTop"])
    b = metrics.Filters.make(start="2026-05-01", end="2026-05-31", channels=["FaceBoom", "TipTop"])
    key = cache_key(metrics.roi, a, {"horizon": 14, "dimensions": ("channel",)}, "v1")
    assert key == cache_key(metrics.roi, b, {"dimensions": ("channel",), "horizon": 14}, "v1")
    assert key.startswith("metrics.cohorts.roi:")
    assert key != cache_key(metrics.roi, a, {"horizon": 14, "dimensions": ("channel",)}, "v2")
    assert key != cache_key(metrics.roi, a, {"horizon": 7, "dimensions": ("channel",)}, "v1")
    assert key != cache_key(metrics.ltv, a, {"horizon": 14, "dimensions": ("channel",)}, "v1")
    code = ("import metrics; from dashboard.cache import cache_key;"
            "f = metrics.Filters.make(start='2026-05-01', end='2026-05-31', channels=['TipTop', 'FaceBoom']);"
            "print(cache_key(metrics.roi, f, {'horizon': 14, 'dimensions': ('channel',)}, 'v1'))")
    for seed in ("1", "2"):  # Python's hash() differs per seed; the key must not
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.stdout.strip() == key


def test_dcache002_second_call_is_cached_and_a_new_import_is_seen_at_once(engine, database_url):
    _fill(engine, [("1", "TipTop", "2026-05-01"), ("2", "organic", "2026-05-02")])
    ctx = AppContext(config=Config(database_url=database_url), engine=engine)
    f = metrics.Filters.make(start="2026-05-01", end="2026-05-31")
    CALLS.clear()
    with MetricReader(ctx) as read:
        first = read(counted_new_users, f, dimensions=("channel",))
    with MetricReader(ctx) as read:
        second = read(counted_new_users, f, dimensions=("channel",))
        other = read(counted_new_users, f, dimensions=("device",))
    assert len(CALLS) == 2  # the repeated call came from the cache, the other parameters did not
    pd.testing.assert_frame_equal(first, second)
    assert first["new_users"].tolist() == [1, 1] and other["new_users"].tolist() == [2]
    _fill(engine, [("3", "TipTop", "2026-05-03")])  # an import bumps the data version
    with MetricReader(ctx) as read:
        third = read(counted_new_users, f, dimensions=("channel",))
    assert len(CALLS) == 3
    assert third.set_index("channel")["new_users"].to_dict() == {"TipTop": 2, "organic": 1}
    cache = ctx.extras["metric_cache"]
    assert (cache.kind, cache.hits, cache.misses) == ("simple", 1, 3)


def test_dcache003_redis_cache_is_shared_by_workers(tmp_path, redis_prefix):
    url = f"duckdb:///{tmp_path / 'shared.duckdb'}"
    writer = db.make_engine(url)
    db.create_schema(writer)
    _fill(writer, [("1", "TipTop", "2026-05-01")])
    writer.dispose()
    config = Config(database_url=url, cache_redis_url=REDIS_URL)
    f = metrics.Filters.make()
    CALLS.clear()
    results = []
    for _ in range(2):  # two workers: separate engines and cache objects, one Redis
        ctx = AppContext.from_config(config)
        cache = MetricCache.from_config(config, key_prefix=redis_prefix)
        with MetricReader(ctx, cache) as read:
            results.append(read(counted_new_users, f, dimensions=("channel",)))
        ctx.engine.dispose()
    assert len(CALLS) == 1 and cache.kind == "redis" and cache.hits == 1
    pd.testing.assert_frame_equal(results[0], results[1])
    client = redis.Redis.from_url(REDIS_URL)
    assert len(list(client.scan_iter(match=redis_prefix + "*"))) == 1
    client.close()


def test_dcache004_redis_down_pages_still_answer_and_it_is_logged(tmp_path, caplog):
    url = f"duckdb:///{tmp_path / 'down.duckdb'}"
    writer = db.make_engine(url)
    db.create_schema(writer)
    _fill(writer, [("1", "TipTop", "2026-05-01"), ("2", "TipTop", "2026-05-01")])
    writer.dispose()
    app = create_app(Config(database_url=url, cache_redis_url=f"redis://127.0.0.1:{_free_port()}/0"))
    ctx = app.server.extensions["dashboard_context"]
    assert ctx.extras["metric_cache"].kind == "redis"
    CALLS.clear()
    with caplog.at_level(logging.WARNING, logger="dashboard.cache"):
        for _ in range(2):
            with MetricReader(ctx) as read:
                frame = read(counted_new_users, metrics.Filters.make(), dimensions=("channel",))
            assert frame.to_dict("list") == {"channel": ["TipTop"], "new_users": [2]}
    assert len(CALLS) == 2  # computed each time, without the cache
    warnings = [r for r in caplog.records if "metric cache (redis) unavailable" in r.getMessage()]
    assert len(warnings) == 1  # logged once per outage, not per request
    from callbacks.charts import chart_body
    from callbacks.filters import sync_filters_and_url
    from callbacks.overview import activity_frame
    from layouts.overview import activity_figure

    stored = sync_filters_and_url(ctx, None, "", "/", {}, [], [], None).store
    body = chart_body(ctx, "overview-activity", activity_frame, lambda frame, _: activity_figure(frame), stored)
    assert body.id == "overview-activity-graph" and list(trace_values(body.figure["data"][0]["y"])) == [2]
    assert app.server.test_client().get("/").status_code == 200


def test_dcache005_chart_content_is_cached_and_a_quiet_duckdb_file_needs_no_connection(tmp_path):
    url = f"duckdb:///{tmp_path / 'quiet.duckdb'}"
    writer = db.make_engine(url)
    db.create_schema(writer)
    _fill(writer, [("1", "TipTop", "2026-05-01")])
    writer.dispose()
    ctx = create_app(Config(database_url=url)).server.extensions["dashboard_context"]
    from callbacks.charts import chart_body
    from callbacks.filters import sync_filters_and_url

    frames = []

    def counted_frame(request):
        frames.append(request.state)
        return request.read(metrics.new_users, request.filters, dimensions=("channel",))

    def view(frame, request):
        return html.Div(str(frame["new_users"].sum()), id="total")

    stored = sync_filters_and_url(ctx, None, "", "/", {}, [], [], None).store
    assert chart_body(ctx, "quiet", counted_frame, view, stored).children == "1"
    assert chart_body(ctx, "quiet", counted_frame, view, stored).children == "1"
    assert len(frames) == 1  # the second call was answered from the cached content
    with MetricReader(ctx) as read:
        read(metrics.new_users, FilterState.from_store(stored).to_filters(), dimensions=("channel",))
        assert read._conn is None  # noqa: SLF001 - cached result and unchanged file: no connection opened
    writer = db.make_engine(url)  # an import between requests takes the write lock and bumps the version
    _fill(writer, [("2", "organic", "2026-05-01")])
    writer.dispose()
    assert chart_body(ctx, "quiet", counted_frame, view, stored).children == "2"
    assert len(frames) == 2


def test_dcache006_a_changed_metrics_source_changes_every_key(tmp_path):
    package = Path(metrics.__file__).resolve().parent
    copy = tmp_path / "metrics"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__"))
    version = metrics_code_version()
    assert source_version(copy) == version  # the version is of the source bytes, not of where they are
    changed = tmp_path / "changed"
    shutil.copytree(copy, changed)
    source = (changed / "cohorts.py").read_bytes()
    (changed / "cohorts.py").write_bytes(source.replace(b"horizon", b"Horizon", 1))  # one byte changed
    new_version = source_version(changed)
    assert len(new_version) == 64 and new_version != version
    f = metrics.Filters.make(start="2026-05-01", end="2026-05-31")
    params = {"horizon": 14, "dimensions": ("channel",)}
    assert cache_key(metrics.roi, f, params, "v1") == cache_key(metrics.roi, f, params, "v1", version)
    assert cache_key(metrics.roi, f, params, "v1", new_version) != cache_key(metrics.roi, f, params, "v1", version)
    chart = {"filters": {"start": "2026-05-01"}, "params": {}}
    assert memo_key("chart:overview-activity", chart, "v1") == memo_key("chart:overview-activity", chart, "v1", version)
    assert (memo_key("chart:overview-activity", chart, "v1", new_version)
            != memo_key("chart:overview-activity", chart, "v1", version))


def test_dcache007_the_same_metrics_source_gives_the_same_key_in_every_process():
    f = metrics.Filters.make(start="2026-05-01", end="2026-05-31", channels=["TipTop"])
    expected = [metrics_code_version(), cache_key(metrics.roi, f, {"horizon": 14}, "v1"),
                memo_key("chart:x", {"a": 1}, "v1")]
    code = ("import metrics; from dashboard.cache import cache_key, memo_key, metrics_code_version;"
            "f = metrics.Filters.make(start='2026-05-01', end='2026-05-31', channels=['TipTop']);"
            "print(metrics_code_version()); print(cache_key(metrics.roi, f, {'horizon': 14}, 'v1'));"
            "print(memo_key('chart:x', {'a': 1}, 'v1'))")
    for seed in ("1", "2"):
        out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.stdout.split() == expected


def test_dcache008_a_result_cached_by_older_metric_code_is_not_served(monkeypatch):
    cache = MetricCache(ByteBudgetCache(2**20), kind="simple")
    computed = []

    def metric(conn, filters, **params):
        """Return how many times this metric was computed so far."""
        computed.append(filters)
        return len(computed)

    f = metrics.Filters.make()
    assert cache.call(metric, lambda: None, f, "v1") == 1
    assert cache.call(metric, lambda: None, f, "v1") == 1  # same data, same code: from the cache
    monkeypatch.setattr(metric_cache, "metrics_code_version", lambda: "a-fixed-metric")
    assert cache.call(metric, lambda: None, f, "v1") == 2  # same data, new metric code: computed anew
    assert (cache.hits, cache.misses) == (1, 2)
