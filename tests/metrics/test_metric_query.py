"""MetricQuery: the one validated, frozen query every metric reads and the cache keys on (issue 16 item 3).

Codes test_mq001...: validation, the bare-Filters compatibility, identical results through either form on the
shared demo of each backend, and the cache narrowing a query to the fields a metric reads.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt

import pandas as pd
import pytest
import sqlalchemy as sa

import metrics
from dashboard import db
from dashboard.cache import MetricReader, cache_key
from dashboard.config import Config
from dashboard.context import AppContext
from layouts.filters import FilterState
from metrics.query import QUERY_FIELDS, UNSET, MetricQuery, as_query, narrowed, reads
from tests.conftest import BACKENDS

BAD_VALUES = [
    ({"horizon": 0}, "horizon must be >= 1"),
    ({"horizon": -3}, "horizon must be >= 1"),
    ({"horizon": "seven"}, "horizon must be an integer"),
    ({"horizon": 2.5}, "horizon must be an integer"),
    ({"dimensions": ("country",)}, "unknown dimension 'country'"),
    ({"dimensions": ("channel", "channel")}, "dimension repeated"),
    ({"grain": "year"}, "unknown grain 'year'"),
    ({"compare": "last_week"}, "unknown comparison 'last_week'"),
]


@pytest.mark.parametrize("values, message", BAD_VALUES, ids=[next(iter(v)) + "=" + repr(next(iter(v.values())))
                                                             for v, _ in BAD_VALUES])
def test_mq001_invalid_values_are_refused_with_a_clear_message(values, message):
    with pytest.raises(ValueError, match=message):
        MetricQuery(**values)
    with pytest.raises(ValueError, match=message):  # also when derived from a valid query
        MetricQuery().with_(**values)


def test_mq002_a_query_is_frozen_hashable_and_normalised():
    a = MetricQuery.make("2026-05-01", "2026-05-31", channels=["TipTop", "FaceBoom", "TipTop"], horizon="7",
                         dimensions=["channel"])
    b = MetricQuery.make(_dt.date(2026, 5, 1), "2026-05-31", channels=("FaceBoom", "TipTop"), horizon=7,
                         dimensions=("channel",))
    assert a == b and hash(a) == hash(b) and {a: 1}[b] == 1
    assert a.filters.channels == ("FaceBoom", "TipTop") and a.horizon == 7 and a.dimensions == ("channel",)
    assert (a.start, a.end, a.observation_date) == (_dt.date(2026, 5, 1), _dt.date(2026, 5, 31), None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.horizon = 3
    with pytest.raises(ValueError, match="end 2026-04-01 is before start 2026-05-01"):
        MetricQuery.make("2026-05-01", "2026-04-01")
    with pytest.raises(TypeError, match="filters must be metrics.Filters"):
        MetricQuery(filters={"start": "2026-05-01"})
    assert a.with_filters(regions=("UK",)).filters.regions == ("UK",) and a.filters.regions == ()


def test_mq003_as_query_reads_bare_filters_with_the_function_defaults_and_overrides():
    f = metrics.Filters.make(start="2026-05-01", end="2026-05-31")
    assert as_query(f) == MetricQuery(f)
    assert as_query(f, defaults={"dimensions": ("dt",)}).dimensions == ("dt",)
    q = MetricQuery(f, horizon=7, dimensions=("channel",))
    assert as_query(q, defaults={"dimensions": ("dt",)}) is q  # defaults only complete bare Filters
    assert as_query(q, horizon=UNSET, dimensions=UNSET) is q
    assert as_query(q, horizon=21).horizon == 21 and as_query(q, horizon=21).dimensions == ("channel",)
    assert as_query(None) == MetricQuery()
    with pytest.raises(TypeError, match="expected metrics.MetricQuery or metrics.Filters, got dict"):
        as_query({"start": "2026-05-01"})


def test_mq004_narrowed_keeps_only_the_fields_a_metric_reads():
    q = MetricQuery.make("2026-05-01", "2026-05-31", horizon=7, dimensions=("channel",), grain="week",
                         compare="previous")
    assert narrowed(q, metrics.activity_summary) == MetricQuery(q.filters)
    assert narrowed(q, metrics.roi) == MetricQuery(q.filters, horizon=7, dimensions=("channel",))
    assert narrowed(q, metrics.channel_economics) == MetricQuery(q.filters, grain="week")
    assert narrowed(q, metrics.new_users) == MetricQuery(q.filters, dimensions=("channel",))
    assert narrowed(q, metrics.kpi_table) == MetricQuery(q.filters, horizon=7, compare="previous")
    assert narrowed(q, metrics.spend_daily_by_rule) == MetricQuery(q.filters)
    assert narrowed(q, lambda conn, query: None) is q  # an undeclared function reads everything
    every_metric = [getattr(metrics, name) for name in ("activity_daily", "activity_weekly", "activity_monthly",
                    "activity_summary", "session_stats", "channel_economics", "new_users", "daily_revenue",
                    "daily_spend", "retention", "conversion", "ltv", "roi", "payback", "cohort_report",
                    "spend_daily_by_rule", "kpi_table", "comparison_period")]
    for fn in every_metric:
        assert "filters" in fn.query_fields and fn.query_fields <= set(QUERY_FIELDS), fn.__name__
    with pytest.raises(ValueError, match="not MetricQuery fields"):
        reads("horizn")


def test_mq005_the_filter_state_builds_the_query_the_charts_read():
    state = FilterState(_dt.date(2026, 5, 1), _dt.date(2026, 5, 31), _dt.date(2026, 6, 10), 21, ("UK",), (),
                        ("TipTop",))
    q = state.metric_query()
    assert q == MetricQuery(metrics.Filters.make("2026-05-01", "2026-05-31", "2026-06-10", ["UK"], None,
                                                 ["TipTop"]), horizon=21)
    assert state.metric_query(dimensions=("channel",)).dimensions == ("channel",)


# every public metric, called (a) the old way with bare Filters and keyword parameters and (b) with one query
CALLS = [
    ("activity_daily", {}, {}),
    ("activity_weekly", {}, {}),
    ("activity_monthly", {}, {}),
    ("activity_summary", {}, {}),
    ("session_stats", {}, {}),
    ("channel_economics", {"grain": "week"}, {"grain": "week"}),
    ("channel_economics", {}, {}),
    ("new_users", {}, {"dimensions": ("dt",)}),
    ("new_users", {"dimensions": ("channel", "payer")}, {"dimensions": ("channel", "payer")}),
    ("daily_revenue", {}, {}),
    ("daily_spend", {}, {}),
    ("spend_daily_by_rule", {}, {}),
    ("kpi_table", {"horizon": 7, "compare": "previous"}, {"horizon": 7, "compare": "previous"}),
    ("retention", {"horizon": 7, "dimensions": ("device",)}, {"horizon": 7, "dimensions": ("device",)}),
    ("conversion", {}, {}),
    ("ltv", {"horizon": 21, "ignore_horizon": True}, {"horizon": 21, "ignore_horizon": True}),
    ("roi", {"dimensions": ("channel",)}, {"dimensions": ("channel",)}),
    ("payback", {"horizon": 28, "dimensions": ("channel",)}, {"horizon": 28, "dimensions": ("channel",)}),
    ("profiles", {}, {}),
]


def _same(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, dict) and a and isinstance(next(iter(a.values())), pd.DataFrame):
        assert a.keys() == b.keys()
        for key in a:
            pd.testing.assert_frame_equal(a[key], b[key])
    else:
        assert a == pytest.approx(b, nan_ok=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mq006_every_metric_gives_the_same_result_from_a_query_as_from_bare_filters(shared_demo, backend):
    engine = db.make_engine(shared_demo.url(backend), read_only=True)
    filters = metrics.Filters.make(start="2026-06-03", end="2026-07-20", observation_date="2026-08-01",
                                   regions=["United States"], devices=["iPhone", "Android"])
    try:
        with engine.connect() as conn:
            for name, params, query_fields in CALLS:
                fn = getattr(metrics, name)
                old = fn(conn, filters, **params)
                new = fn(conn, MetricQuery(filters, **query_fields))
                _same(old, new)
                if isinstance(old, pd.DataFrame) and name != "daily_spend":
                    assert len(old) > 0, name  # the period holds data: the comparison is not of two empty tables
                if name == "new_users" and not params:
                    assert "dt" in old.columns  # bare Filters keep the function's own default grouping
            # a keyword beside a query overrides the query's own value
            _same(metrics.retention(conn, MetricQuery(filters, horizon=7), horizon=3),
                  metrics.retention(conn, filters, horizon=3))
            assert metrics.activity_summary(conn, MetricQuery(filters)).shape[0] == 8
            assert int(conn.execute(sa.select(sa.func.count()).select_from(db.visits)).scalar()) > 0
    finally:
        engine.dispose()


def test_mq007_the_cache_keys_on_the_narrowed_query(shared_demo):
    url = shared_demo.url("duckdb")
    engine = db.make_engine(url, read_only=True)
    ctx = AppContext(config=Config(database_url=url), engine=engine)
    q7 = MetricQuery.make("2026-06-03", "2026-07-20", horizon=7)
    q28 = q7.with_(horizon=28)
    try:
        with MetricReader(ctx) as read:
            cache = read.cache
            summary7 = read(metrics.activity_summary, q7)
            misses = cache.misses
            summary28 = read(metrics.activity_summary, q28)  # the summary does not read the horizon: a hit
            assert (cache.misses, cache.hits) == (misses, 1)
            pd.testing.assert_frame_equal(summary7, summary28)
            roi7 = read(metrics.roi, q7)
            roi28 = read(metrics.roi, q28)  # ROI reads it: a miss, and another table
            assert cache.misses == misses + 2
            assert roi7["lifetime"].max() == 6 and roi28["lifetime"].max() == 27
            again = read(metrics.roi, q28.with_(grain="week", compare="previous"))  # fields ROI ignores: a hit
            pd.testing.assert_frame_equal(again, roi28)
            assert cache.hits == 2
            folded = read(metrics.roi, q7, horizon=28)  # a parameter beside the query is folded into it
            pd.testing.assert_frame_equal(folded, roi28)
            assert cache.hits == 3
        key = cache_key(metrics.roi, narrowed(q28, metrics.roi), {}, "v1")
        assert key != cache_key(metrics.roi, narrowed(q7, metrics.roi), {}, "v1")
        assert key == cache_key(metrics.roi, narrowed(q28.with_(grain="dt"), metrics.roi), {}, "v1")
    finally:
        engine.dispose()
