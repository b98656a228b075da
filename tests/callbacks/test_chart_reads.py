"""A control recomputes only the charts that read it (issue 17 items 6 and 8), on the shared DuckDB demo database.

While a chart is drawn, the filter-state fields its numbers read are recorded (callbacks.charts.ReadsRecorder and
layouts.charts.StateReads); the body callback (`chart_update`) answers nothing when those fields, the page
parameters and the data version are unchanged, and a new figure for a body that holds a graph as the figure of that
mounted graph.
"""

from __future__ import annotations

import copy
import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from dash import dcc, no_update
from plotly.io.json import to_json_plotly

from app import create_app
from callbacks.charts import chart_body, chart_update, reads_key, registered_charts
from callbacks.filters import sync_filters_and_url
from dashboard.config import Config
from layouts.charts import STATE_FIELDS, StateReads, chart_drawn_id
from layouts.filters import FilterState
from layouts.ids import MarketingIds, OverviewIds, chart_graph_id


def _store(ctx, search: str) -> dict:
    return sync_filters_and_url(ctx, None, search, "/", {}, [], [], None).store


BASE = "?start=2026-07-01&end=2026-09-30"


def _params(chart, **values) -> dict:
    return {p: values.get(p) for p in chart.params}


def _json(component) -> str:
    return to_json_plotly(component)


def _applied(body, update):
    """Return what the browser shows after `update` reaches a card showing `body`: the new body, or `body` with the
    update's props set on its components (by id)."""
    if update.body is not no_update:
        return update.body
    shown = copy.deepcopy(body)
    components = {c.id: c for c in [shown, *shown._traverse()] if getattr(c, "id", None) is not None}
    for ident, props in (update.props or {}).items():
        for prop, value in props.items():
            setattr(components[ident], prop, value)
    return shown


def _graph(component) -> dcc.Graph:
    """Return the dcc.Graph that is `component` or the first inside it."""
    if isinstance(component, dcc.Graph):
        return component
    return next(c for c in component._traverse() if isinstance(c, dcc.Graph))


def _drawn(ctx, chart, store, params=None) -> tuple:
    """Return (update, its store content) of a first drawing (nothing drawn before)."""
    update = chart_update(ctx, chart, store, params if params is not None else _params(chart), None)
    assert update.body is not no_update and isinstance(update.drawn, dict)
    return update, update.drawn


@pytest.mark.parametrize("name", [OverviewIds.ACTIVITY, OverviewIds.REVENUE_SPEND, MarketingIds.SPEND_OVER_TIME,
                                  MarketingIds.SPEND_SHARE])
def test_crd001_a_horizon_change_leaves_a_chart_that_does_not_read_it(demo_ctx, name):
    """The Overview's activity and revenue-vs-spend charts and Marketing's spend charts do not read the horizon: a
    horizon change sends nothing for them (no body, no figure, no store); a date change redraws them."""
    chart = registered_charts(demo_ctx)[name]
    store = _store(demo_ctx, BASE)
    first, drawn = _drawn(demo_ctx, chart, store)
    assert "horizon" not in drawn["reads"]
    assert {"start", "end", "channels", "countries", "devices"} <= set(drawn["reads"])
    horizon = chart_update(demo_ctx, chart, dict(store, horizon=7), _params(chart), drawn)
    assert (horizon.body, horizon.figure, horizon.drawn) == (no_update, None, no_update)
    # the content really is the same for horizon 7: nothing was left stale
    assert _json(chart_body(demo_ctx, name, chart.frame, chart.view, dict(store, horizon=7), _params(chart),
                            chart.empty_message)) == _json(first.body)
    later = dict(store, start="2026-08-01")
    dates = chart_update(demo_ctx, chart, later, _params(chart), drawn)
    assert dates.drawn is not no_update and dates.drawn["key"] != drawn["key"]
    expected = chart_body(demo_ctx, name, chart.frame, chart.view, later, _params(chart), chart.empty_message)
    sent = dates.figure if dates.figure is not None else _graph(dates.body).figure
    assert json.loads(_json(sent)) == json.loads(_json(_graph(expected).figure))
    assert json.loads(_json(sent)) != json.loads(_json(_graph(first.body).figure))
    # a channel change: the body holds the graph already and only its figure differs (the Overview's note names
    # the dates only), so the mounted graph takes the new figure
    channel = dict(store, channel=["FaceBoom"])
    picked = chart_update(demo_ctx, chart, channel, _params(chart), drawn)
    expected = chart_body(demo_ctx, name, chart.frame, chart.view, channel, _params(chart), chart.empty_message)
    assert picked.body is no_update and picked.figure is not None
    assert json.loads(_json(picked.figure)) == json.loads(_json(_graph(expected).figure))
    assert picked.drawn["structure"] == drawn["structure"]


@pytest.mark.parametrize("name", [MarketingIds.ROI_CURVES, MarketingIds.LTV_CURVES, MarketingIds.PAYBACK_TABLE,
                                  OverviewIds.KPIS])
def test_crd002_a_horizon_change_redraws_the_charts_that_read_it(demo_ctx, name):
    """Cohort charts (LTV, ROI, payback) and the KPI card (ROI at the horizon) read the horizon: a horizon change
    sends their new content, which is what chart_body draws for the new state."""
    chart = registered_charts(demo_ctx)[name]
    store = _store(demo_ctx, BASE)
    _, drawn = _drawn(demo_ctx, chart, store)
    assert "horizon" in drawn["reads"]
    changed = dict(store, horizon=7)
    update = chart_update(demo_ctx, chart, changed, _params(chart), drawn)
    assert update.drawn is not no_update and update.drawn["key"] != drawn["key"]
    expected = chart_body(demo_ctx, name, chart.frame, chart.view, changed, _params(chart), chart.empty_message)
    assert update.body is not no_update or update.props
    first, _ = _drawn(demo_ctx, chart, store)
    assert _json(_applied(first.body, update)) == _json(expected)


def test_crd003_every_chart_skipped_for_a_field_it_does_not_read_draws_the_same(demo_ctx):
    """For EVERY generated chart of every page: the recorded reads are state fields, and changing a field outside
    them (the horizon, the observation date when not read) leaves exactly the same content, so skipping the redraw
    never leaves a stale chart. The charts that read the horizon are the cohort ones."""
    store = _store(demo_ctx, BASE)
    changes = {"horizon": dict(store, horizon=30), "observation_date": dict(store, observation_date="2026-09-15")}
    reading_horizon, skipped = set(), 0
    for name, chart in registered_charts(demo_ctx).items():
        params = _params(chart)
        _, drawn = _drawn(demo_ctx, chart, store, params)
        assert set(drawn["reads"]) <= set(STATE_FIELDS), name
        if "horizon" in drawn["reads"]:
            reading_horizon.add(name)
        for field, changed in changes.items():
            update = chart_update(demo_ctx, chart, changed, params, drawn)
            if field in drawn["reads"]:
                assert update.drawn is not no_update, (name, field)
                continue
            skipped += 1
            assert (update.body, update.figure, update.drawn) == (no_update, None, no_update), (name, field)
            before = chart_body(demo_ctx, name, chart.frame, chart.view, store, params, chart.empty_message)
            after = chart_body(demo_ctx, name, chart.frame, chart.view, changed, params, chart.empty_message)
            assert _json(after) == _json(before), (name, field)
    assert skipped >= 10
    assert {MarketingIds.ROI_CURVES, MarketingIds.LTV_CURVES, MarketingIds.ROI_BY_DATE, MarketingIds.PAYBACK_TABLE,
            OverviewIds.KPIS} <= reading_horizon
    assert not {OverviewIds.ACTIVITY, OverviewIds.REVENUE_SPEND, MarketingIds.SPEND_OVER_TIME,
                MarketingIds.SPEND_SHARE, MarketingIds.CAC_BY_CHANNEL} & reading_horizon


def test_crd004_a_page_parameter_or_the_data_version_changes_the_key(demo_ctx):
    """A page parameter the chart reads (Marketing's breakdown) redraws it; the data version is part of the key."""
    chart = registered_charts(demo_ctx)[MarketingIds.ROI_CURVES]
    store = _store(demo_ctx, BASE)
    _, drawn = _drawn(demo_ctx, chart, store, _params(chart, breakdown="channel"))
    same = chart_update(demo_ctx, chart, store, _params(chart, breakdown="channel"), drawn)
    assert same.drawn is no_update
    other = chart_update(demo_ctx, chart, store, _params(chart, breakdown="country"), drawn)
    assert other.drawn is not no_update and other.drawn["key"] != drawn["key"]
    state = FilterState(dt.date(2026, 7, 1), dt.date(2026, 9, 30), dt.date(2026, 9, 30))
    assert reads_key("x", state, ["start"], {}, "v1") != reads_key("x", state, ["start"], {}, "v2")
    assert reads_key("x", state, ["start"], {}, "v1") == reads_key("x", state.__class__(
        state.start, state.end, state.observation_date, horizon=60), ["start"], {}, "v1")


def test_crd005_the_graph_is_remounted_only_when_more_than_its_figure_changes(demo_ctx):
    """A body whose content other than the figure changes (the Overview's note under another comparison) is sent
    whole; a first drawing, or one after a store without a graph, too; an unknown or foreign store redraws."""
    chart = registered_charts(demo_ctx)[OverviewIds.ACTIVITY]
    store = _store(demo_ctx, BASE)
    _, drawn = _drawn(demo_ctx, chart, store, _params(chart, comparison="previous"))
    other = chart_update(demo_ctx, chart, store, _params(chart, comparison="none"), drawn)
    assert other.body is not no_update and other.figure is None
    assert other.drawn["structure"] != drawn["structure"]
    for foreign in (None, {}, {"reads": "start", "key": 3}, {"reads": [], "key": drawn["key"], "structure": None}):
        update = chart_update(demo_ctx, chart, store, _params(chart, comparison="previous"), foreign)
        assert update.body is not no_update and update.figure is None, foreign


def test_crd007_every_chart_updated_in_place_shows_what_a_new_drawing_shows(demo_ctx):
    """For EVERY generated chart and three filter changes (a channel, a country, later dates): what the browser shows
    after the update (a new body, or the drawn body with the sent props set on its components) is exactly what a new
    drawing shows. The KPI cards and the tables take new values in place (no new mount) on a channel change, and
    only the props that changed are sent."""
    store = _store(demo_ctx, BASE)
    changes = [dict(store, channel=["FaceBoom"]), dict(store, country=["France"]), dict(store, start="2026-08-01")]
    in_place = set()
    for name, chart in registered_charts(demo_ctx).items():
        params = _params(chart)
        first, drawn = _drawn(demo_ctx, chart, store, params)
        for changed in changes:
            update = chart_update(demo_ctx, chart, changed, params, drawn)
            expected = chart_body(demo_ctx, name, chart.frame, chart.view, changed, params, chart.empty_message)
            assert _json(_applied(first.body, update)) == _json(expected), (name, changed)
            if update.body is no_update and update.props and changed is changes[0]:
                in_place.add(name)
    assert {OverviewIds.KPIS, OverviewIds.ACTIVITY, MarketingIds.CHANNEL_TABLE, MarketingIds.PAYBACK_TABLE} <= in_place
    kpis = registered_charts(demo_ctx)[OverviewIds.KPIS]
    _, drawn = _drawn(demo_ctx, kpis, store)
    update = chart_update(demo_ctx, kpis, dict(store, channel=["FaceBoom"]), _params(kpis), drawn)
    sent = set(update.props)
    assert OverviewIds.kpi_value("revenue") in sent and OverviewIds.kpi_sparkline("revenue") in sent
    assert not any(ident.endswith("-help") or "popover" in ident for ident in sent)  # the help texts stay


def test_crd008_a_crafted_store_never_sends_props_of_components_the_body_does_not_hold(demo_ctx):
    """A drawn store sent by a browser is not trusted: with the body's structure digest and made-up leaves, only the
    body's own components get props (every prop, as for a first drawing), never an id the store names."""
    chart = registered_charts(demo_ctx)[OverviewIds.KPIS]
    store = _store(demo_ctx, BASE)
    first, drawn = _drawn(demo_ctx, chart, store)
    crafted = dict(drawn, key="x", leaves={"url": {"search": "?evil"}, OverviewIds.kpi_value("revenue"): "not a map"})
    update = chart_update(demo_ctx, chart, store, _params(chart), crafted)
    assert update.body is no_update and "url" not in update.props
    own = {c.id for c in first.body._traverse() if isinstance(getattr(c, "id", None), str)}
    assert set(update.props) <= own and OverviewIds.kpi_value("revenue") in update.props
    assert _json(_applied(first.body, update)) == _json(first.body)


def test_crd006_state_reads_record_the_fields_chart_code_reads():
    """StateReads records a field read by name, any other use (a method, a comparison) as every field."""
    state = FilterState(dt.date(2026, 7, 1), dt.date(2026, 9, 30), dt.date(2026, 9, 30), channels=("TipTop",))
    read: set[str] = set()
    wrapped = StateReads(state, read)
    assert wrapped.channels == ("TipTop",) and wrapped.horizon == 14
    assert read == {"channels", "horizon"}
    wrapped.to_store()
    assert read == set(STATE_FIELDS)


def test_crd007_a_notice_is_not_remembered(demo_ctx, tmp_path):
    """A chart that failed shows its notice and keeps no key: the next change (even of a field it did not get to
    read) draws it again. "No data yet" on an empty database reads nothing but the data version."""
    from layouts.charts import Chart

    calls = []

    def broken(request):
        calls.append(request.state.horizon)
        raise RuntimeError("boom")

    chart = Chart("broken-x", "Broken", None, broken, lambda frame, request: frame)
    store = _store(demo_ctx, BASE)
    first = chart_update(demo_ctx, chart, store, {}, None)
    assert first.drawn["key"] is None and "boom" in _json(first.body)
    again = chart_update(demo_ctx, chart, dict(store, channel=["TipTop"]), {}, first.drawn)
    assert again.body is not no_update and len(calls) == 2

    ctx = create_app(Config(database_url=f"duckdb:///{tmp_path / 'x.duckdb'}")).server.extensions[
        "dashboard_context"]
    try:
        empty = sync_filters_and_url(ctx, None, "", "/", {}, [], [], None).store
        nothing = chart_update(ctx, chart, empty, {}, None)
        assert "No data yet" in _json(nothing.body) and nothing.drawn["reads"] == [] and len(calls) == 2
        assert chart_update(ctx, chart, dict(empty, horizon=7), {}, nothing.drawn).drawn is no_update
    finally:
        ctx.engine.dispose()


def test_crd008_risk_clusters_are_sent_once_per_model_file(tmp_path):
    """The clustering card does not read the filters: memoized per saved model file, and nothing is sent for a
    filter change while the model file is the one shown; a new model file is sent."""
    from callbacks.risk import clusters_update
    from ml import segments

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(300)],
                          "recency_days": rng.integers(0, 200, 300), "frequency": rng.integers(1, 20, 300),
                          "monetary": rng.uniform(5, 500, 300)})
    ctx = create_app(Config(database_url=f"sqlite:///{tmp_path / 'x.sqlite'}",
                            model_dir=tmp_path / "models")).server.extensions["dashboard_context"]
    try:
        body, key = clusters_update(ctx, None)
        assert key is None and "No clustering yet" in _json(body)
        segments.save_segment_model(segments.cluster_customers(frame, seed=0, k_values=range(2, 4)),
                                    tmp_path / "models", dt.date(2026, 10, 31))
        body, key = clusters_update(ctx, None)
        assert isinstance(key, str) and "2026-10-31" in _json(body)
        assert clusters_update(ctx, key) == (no_update, no_update)
        again, same_key = clusters_update(ctx, None)  # a page opened anew: the memoized content
        assert same_key == key and again is body
        segments.save_segment_model(segments.cluster_customers(frame, seed=1, k_values=range(2, 5)),
                                    tmp_path / "models", dt.date(2026, 10, 30))
        newer, new_key = clusters_update(ctx, key)
        assert new_key != key and "2026-10-30" in _json(newer)
    finally:
        ctx.engine.dispose()


def test_crd009_every_chart_card_carries_its_drawn_store(demo_ctx):
    """Every declared chart's card holds the store its body callback reads (`chart_drawn_id`)."""
    from callbacks.pages import available_pages

    for page in available_pages():
        for chart in page.charts:
            ids = {c.id for c in chart.card()._traverse() if isinstance(getattr(c, "id", None), str)}
            assert chart_drawn_id(chart.name) in ids and chart_graph_id(chart.name) not in ids, chart.name


def test_crd010_a_content_is_cut_into_parts_once_and_the_parts_are_remembered_with_it(demo_ctx):
    """The structure digest and the leaves' digests of a chart's content are computed when it is rendered and kept
    with it in the cache: a later update reads them (serialising only the leaves it sends) and they are exactly what
    the content gives."""
    from callbacks.charts import body_parts, leaf_digests

    store = _store(demo_ctx, BASE)
    for name in (OverviewIds.KPIS, OverviewIds.ACTIVITY, MarketingIds.PAYBACK_TABLE):
        chart = registered_charts(demo_ctx)[name]
        params = _params(chart)
        for state in (store, dict(store, channel=["FaceBoom"])):  # rendered now, then read from the cache
            for _ in range(2):
                drawn: dict = {}
                body = chart_body(demo_ctx, name, chart.frame, chart.view, state, params, chart.empty_message,
                                  drawn=drawn)
                structure, leaves = body_parts(body)
                assert drawn["parts"] == (structure, leaf_digests(leaves)), name
                assert set(drawn["parts"][1]) == set(leaves) and leaves, name
