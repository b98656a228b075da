"""Forecast lines on the Overview's and Marketing's time charts (issue 18, part 2), on the shared DuckDB demo database.

The demo's data ends on 2026-10-31: the default view (the last 28 days) continues the activity chart with the DAU
forecast of the next 28 days and its 80% band, equal to ml.forecast_backtest.forecast_one of the series of
ml.forecast_series; nothing with forecast=off, with a country filter (the note says why), or for a period ending
before the last date.
"""

from __future__ import annotations

import base64
import datetime as dt
import io

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from dash import dcc, html, no_update

from callbacks.charts import chart_body, chart_download, chart_update, registered_charts
from callbacks.filters import sync_filters_and_url
from callbacks.forecast_lines import FILTER_HIDES_FORECAST
from layouts.ids import MarketingIds, OverviewIds
from ml.forecast_backtest import forecast_one
from ml.forecast_series import read_series

LAST = dt.date(2026, 10, 31)
FORECAST_DATES = [f"2026-11-{day:02d}" for day in range(1, 29)]


def _store(ctx, search: str = "") -> dict:
    return sync_filters_and_url(ctx, None, search, "/", {}, [], [], None).store


def _body(ctx, name: str, search: str = "", **params):
    chart = registered_charts(ctx)[name]
    values = {p: params.get(p) for p in chart.params}
    return chart_body(ctx, name, chart.frame, chart.view, _store(ctx, search), values, chart.empty_message)


def _figure(body) -> go.Figure:
    graph = body if isinstance(body, dcc.Graph) else next(c for c in body._traverse() if isinstance(c, dcc.Graph))
    return go.Figure(graph.figure)


def _array(values):
    """Return a trace's array, decoding plotly's base64 typed-array form ({dtype, bdata, shape})."""
    if isinstance(values, dict) and "bdata" in values:
        array = np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
        shape = values.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    return values


def _traces(body) -> dict[str, dict]:
    """Return {name: trace as a dict, its arrays decoded} of the body's figure."""
    traces = {}
    for trace in _figure(body).data:
        plain = trace.to_plotly_json()
        traces[trace.name] = {key: _array(value) for key, value in plain.items()}
    return traces


def _notes(body) -> list[str]:
    if isinstance(body, dcc.Graph):
        return []
    return [c.children for c in body._traverse() if isinstance(c, html.P)]


def _dates(trace) -> list[str]:
    return [pd.Timestamp(x).strftime("%Y-%m-%d") for x in trace["x"]]


@pytest.fixture(scope="module")
def expected(demo_ctx) -> dict:
    """The forecasts ("auto" model) of the series the charts continue, computed here from ml.forecast_* (no dashboard cache)."""
    with demo_ctx.engine.connect() as conn:
        origin, series = read_series(conn)
    assert origin == LAST
    by_key = {s.key: s for s in series}
    out = {key: forecast_one(by_key[key], origin, 28) for key in
           [("dau", "All"), ("revenue", "All"), ("spend", "All"), ("dau", "TipTop"), ("spend", "TipTop")]}
    out["observed"] = {key: by_key[key].values for key in [("spend", "All"), ("revenue", "All"), ("dau", "All")]}
    return out


def test_fcl001_the_default_activity_chart_continues_with_the_dau_forecast(demo_ctx, expected):
    """The default Overview's activity chart: a dashed "DAU forecast" over the 28 days after 2026-10-31 equal to the
    forecast of dau/All, its 80% band ("80% interval") around it, the 95% interval in its hover."""
    body = _body(demo_ctx, OverviewIds.ACTIVITY)
    traces = _traces(body)
    line, band = traces["DAU forecast"], traces["80% interval"]
    dau = expected[("dau", "All")]
    assert _dates(line) == FORECAST_DATES and _dates(band) == FORECAST_DATES
    assert np.allclose(np.asarray(line["y"], float), dau["mean"].to_numpy(), rtol=1e-9)
    assert np.allclose(np.asarray(band["y"], float), dau["hi80"].to_numpy(), rtol=1e-9)
    low = traces["DAU forecast 80% low"]
    assert np.allclose(np.asarray(low["y"], float), dau["lo80"].to_numpy(), rtol=1e-9)
    assert band["fill"] == "tonexty" and line["line"]["dash"] == "dash"
    assert np.allclose(np.asarray(line["customdata"], float), dau[["lo95", "hi95"]].to_numpy(), rtol=1e-9)
    assert "95%" in line["hovertemplate"]
    assert np.all(dau["lo80"] < dau["hi80"])  # a real band
    # the observed DAU ends on the last date; WAU and MAU are not forecast
    assert _dates(traces["DAU"])[-1] == "2026-10-31"
    assert not any(name.startswith(("WAU", "MAU")) and "forecast" in name for name in traces)
    assert any("forecast of the next 28 days" in note for note in _notes(body))


def test_fcl002_the_csv_carries_the_forecast_rows_under_clear_headers(demo_ctx, expected):
    """The activity chart's CSV: the observed days, then 28 rows with "DAU forecast" and its interval bounds."""
    chart = registered_charts(demo_ctx)[OverviewIds.ACTIVITY]
    sent = chart_download(demo_ctx, chart, _store(demo_ctx), {"comparison": None, "forecast": None})
    csv = pd.read_csv(io.StringIO(sent["content"]))
    future = csv[csv["DAU forecast"].notna()]
    assert future["Date"].tolist() == FORECAST_DATES
    assert future["DAU"].isna().all() and csv.loc[csv["DAU forecast"].isna(), "DAU"].notna().all()
    for column, header in (("mean", "DAU forecast"), ("lo80", "DAU forecast, 80% low"),
                           ("hi95", "DAU forecast, 95% high")):
        assert np.allclose(future[header].to_numpy(float), expected[("dau", "All")][column].to_numpy(), rtol=1e-6)


def test_fcl003_no_forecast_when_switched_off_filtered_by_country_or_in_the_past(demo_ctx):
    """forecast=off: no forecast trace and no forecast note; a country filter: none, and the note says why; a period
    ending before the data's last date: none, no note."""
    def forecast_names(body):
        return [name for name in _traces(body) if "forecast" in name or name == "80% interval"]

    off = _body(demo_ctx, OverviewIds.ACTIVITY, forecast="off")
    assert forecast_names(off) == [] and not any("forecast" in n.lower() for n in _notes(off))
    assert _dates(_traces(off)["DAU"])[-1] == "2026-10-31"
    country = _body(demo_ctx, OverviewIds.REVENUE_SPEND, "?country=United%20States")
    assert forecast_names(country) == [] and FILTER_HIDES_FORECAST in _notes(country)
    activity = _body(demo_ctx, OverviewIds.ACTIVITY, "?device=iPhone")
    assert forecast_names(activity) == [] and FILTER_HIDES_FORECAST in _notes(activity)
    past = _body(demo_ctx, OverviewIds.ACTIVITY, "?start=2026-09-01&end=2026-09-30")
    assert forecast_names(past) == [] and not any("orecast" in n for n in _notes(past))
    assert _dates(_traces(past)["DAU"])[-1] == "2026-09-30"


def test_fcl004_revenue_spend_and_one_channel(demo_ctx, expected):
    """The revenue-vs-spend chart continues both series; with one channel chosen the activity chart's forecast is
    that channel's DAU forecast."""
    traces = _traces(_body(demo_ctx, OverviewIds.REVENUE_SPEND))
    # the series forecast are the ones the chart shows: its last 28 observed days are the series' last 28 values
    for name, key in (("Revenue", ("revenue", "All")), ("Ad spend", ("spend", "All"))):
        assert np.allclose(np.asarray(traces[name]["y"], float), expected["observed"][key].to_numpy()[-28:])
    for name, key in (("Revenue forecast", ("revenue", "All")), ("Ad spend forecast", ("spend", "All"))):
        assert _dates(traces[name]) == FORECAST_DATES
        assert np.allclose(np.asarray(traces[name]["y"], float), expected[key]["mean"].to_numpy(), rtol=1e-9)
    tiptop = _traces(_body(demo_ctx, OverviewIds.ACTIVITY, "?channel=TipTop"))["DAU forecast"]
    assert np.allclose(np.asarray(tiptop["y"], float), expected[("dau", "TipTop")]["mean"].to_numpy(), rtol=1e-9)
    assert not np.allclose(np.asarray(tiptop["y"], float), expected[("dau", "All")]["mean"].to_numpy())


def test_fcl005_marketing_spend_over_time_carries_the_total_spend_forecast(demo_ctx, expected):
    """Marketing's stacked spend chart: the total spend forecast as one dashed line with its band over the stack;
    the channel's with one channel chosen; none with forecast=off."""
    traces = _traces(_body(demo_ctx, MarketingIds.SPEND_OVER_TIME))
    assert _dates(traces["Spend forecast"]) == FORECAST_DATES
    assert np.allclose(np.asarray(traces["Spend forecast"]["y"], float), expected[("spend", "All")]["mean"].to_numpy(),
                       rtol=1e-9)
    assert "80% interval" in traces
    one = _traces(_body(demo_ctx, MarketingIds.SPEND_OVER_TIME, "?channel=TipTop"))["TipTop spend forecast"]
    assert np.allclose(np.asarray(one["y"], float), expected[("spend", "TipTop")]["mean"].to_numpy(), rtol=1e-9)
    off = _traces(_body(demo_ctx, MarketingIds.SPEND_OVER_TIME, forecast="off"))
    assert not any("forecast" in name for name in off)


def test_fcl006_the_forecast_records_no_horizon_read(demo_ctx):
    """Drawing the forecast reads no filter-state field beyond the chart's own: a horizon change sends nothing."""
    chart = registered_charts(demo_ctx)[OverviewIds.ACTIVITY]
    store = _store(demo_ctx)
    params = {p: None for p in chart.params}
    first = chart_update(demo_ctx, chart, store, params, None)
    assert "horizon" not in first.drawn["reads"]
    again = chart_update(demo_ctx, chart, dict(store, horizon=7), params, first.drawn)
    assert (again.body, again.figure, again.drawn) == (no_update, None, no_update)
