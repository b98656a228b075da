"""The Overview's sparklines and dashed comparison lines through the chart framework, on real databases: every KPI
card draws the sparkline of `metrics.kpi_daily`'s series; the activity and revenue-vs-spend charts draw the
comparison period's series dashed (present with previous period or previous year, absent with none or a comparison
period that starts before the data, which the chart says); their CSVs carry the comparison columns."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd
import pytest

from tests.callbacks.conftest import app_context
from dash import dcc, html

import metrics
from app import create_app
from callbacks import overview as ov
from callbacks.charts import chart_body, chart_download, registered_charts
from callbacks.filters import sync_filters_and_url
from dashboard import db
from dashboard.config import Config
from dashboard.demo import write_demo
from layouts import overview as ov_view
from layouts.ids import OverviewIds
from layouts.sparkline import sparkline_image

PERIOD = "?start=2026-10-04&end=2026-10-31"  # explicit dates: 28 days, the previous 28 days are in the demo data


def trace_values(values) -> list:
    """Return a trace's array as a list, decoding plotly's base64 typed-array form ({dtype, bdata})."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def _store(ctx, search: str) -> dict:
    return sync_filters_and_url(ctx, None, search, "/", {}, [], [], None).store


def components(tree, predicate) -> list:
    """Return every component under `tree` (itself included) for which `predicate` is true."""
    found = [tree] if predicate(tree) else []
    children = getattr(tree, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found += components(child, predicate)
    return found


def graph_and_note(body) -> tuple[dict, str | None]:
    """Return (the figure, the notes above it joined, or None) of a time chart's body."""
    if isinstance(body, dcc.Graph):
        return body.figure, None
    assert isinstance(body, html.Div), str(body)[:300]
    *notes, graph = body.children
    return graph.figure, " ".join(note.children for note in notes)


@pytest.fixture(scope="module")
def two_year_ctx(tmp_path_factory):
    """An app context on a small demo of 420 days (2025-09-07 .. 2026-10-31): the previous year of the last weeks
    is in the data."""
    url = f"duckdb:///{tmp_path_factory.mktemp('ovc') / 'long.duckdb'}"
    engine = db.make_engine(url)
    write_demo(engine, users=800, days=420, seed=11)
    engine.dispose()
    ctx = app_context(url)
    yield ctx
    ctx.engine.dispose()


def previous_query(ctx, query: metrics.MetricQuery) -> tuple[metrics.MetricQuery, int]:
    """Return the comparison period's query of `query` and how many days it lies before."""
    with ctx.engine.connect() as conn:
        period = metrics.comparison_period(conn, query)
    assert period.comparable
    shifted = query.with_filters(start=period.start, end=period.end, observation_date=period.observation_date)
    return shifted, (query.filters.observation_date - period.observation_date).days


def test_ovc001_every_kpi_card_draws_the_sparkline_of_its_series(demo_ctx):
    query = metrics.MetricQuery.make("2026-10-04", "2026-10-31", "2026-10-31", compare="previous")
    before, _ = previous_query(demo_ctx, query)
    with demo_ctx.engine.connect() as conn:
        series, previous = metrics.kpi_daily(conn, query), metrics.kpi_daily(conn, before)
    body = chart_body(demo_ctx, OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, _store(demo_ctx, PERIOD),
                      {"comparison": "previous"})
    images = components(body, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
    assert len(images) == 12
    for kpi in ov_view.KPIS:
        card = components(body, lambda c, k=kpi.key: getattr(c, "id", None) == OverviewIds.kpi_card(k))[0]
        (image,) = components(card, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
        alt = (f"{ov_view.SPARKLINE_NAMES[kpi.key]}, 2026-10-04 – 2026-10-31; faint: the previous period, "
               "2026-09-06 – 2026-10-03")
        assert image.alt == alt
        assert image.src == sparkline_image(series[kpi.key], alt, previous=previous[kpi.key]).src, kpi.key
    assert series["users"].iloc[-1] > series["users"].iloc[0] and series["dau"].gt(0).all()
    none = chart_body(demo_ctx, OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, _store(demo_ctx, PERIOD),
                      {"comparison": "none"})
    images = components(none, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
    assert len(images) == 12 and not any("faint" in image.alt for image in images)


def test_ovc002_activity_chart_draws_the_previous_period_dashed(demo_ctx):
    store = _store(demo_ctx, PERIOD)
    query = metrics.MetricQuery.make("2026-10-04", "2026-10-31", "2026-10-31", compare="previous")
    before, shift = previous_query(demo_ctx, query)
    with demo_ctx.engine.connect() as conn:
        current, previous = metrics.activity_daily(conn, query), metrics.activity_daily(conn, before)
    assert shift == 28
    body = chart_body(demo_ctx, OverviewIds.ACTIVITY, ov.activity_frame, ov.activity_view, store,
                      {"comparison": "previous", "forecast": "off"})
    figure, note = graph_and_note(body)
    assert note == "Dashed: the previous period, 2026-09-06 – 2026-10-03, shifted onto these dates."
    traces = figure["data"]
    assert [t["name"] for t in traces] == ["DAU", "WAU (rolling 7 days)", "MAU (rolling 30 days)",
                                           "DAU (previous period)", "WAU (previous period)", "MAU (previous period)"]
    for solid, dashed, column in zip(traces[:3], traces[3:], ("dau", "wau7", "mau30")):
        assert trace_values(solid["y"]) == current[column].tolist()
        assert trace_values(dashed["y"]) == previous[column].tolist()
        assert dashed["line"]["dash"] == "dash" and dashed["line"]["color"] == solid["line"]["color"]
        assert trace_values(dashed["x"]) == trace_values(solid["x"])  # drawn on the current dates
        assert list(dashed["customdata"])[:2] == ["Sun 2026-09-06", "Mon 2026-09-07"]  # the hover's date
    # none / the demo has no previous year (and no forecast: the dashed lines are the comparison's alone)
    for params in ({"comparison": "none", "forecast": "off"}, {"comparison": "year", "forecast": "off"}):
        figure, note = graph_and_note(chart_body(demo_ctx, OverviewIds.ACTIVITY, ov.activity_frame,
                                                 ov.activity_view, store, params))
        assert len(figure["data"]) == 3 and not any("previous" in t["name"] for t in figure["data"])
        assert note == (None if params["comparison"] == "none" else
                        "No previous year line: the previous year starts on 2025-10-05, before the data's first date "
                        "2026-05-01.")


def test_ovc003_revenue_spend_chart_draws_the_previous_period_dashed(demo_ctx):
    """The comparison's revenue and spend follow the one spend rule of their own period (with a country filter: the
    attributed spend of that period's filtered new users)."""
    store = _store(demo_ctx, PERIOD + "&country=UK")
    query = metrics.MetricQuery.make("2026-10-04", "2026-10-31", "2026-10-31", regions=["UK"], compare="previous")
    before, _ = previous_query(demo_ctx, query)
    with demo_ctx.engine.connect() as conn:
        revenue = metrics.daily_revenue(conn, before)
        spend = metrics.spend_daily_by_rule(conn, before).groupby("date")["costs"].sum()
    body = chart_body(demo_ctx, OverviewIds.REVENUE_SPEND, ov.revenue_spend_frame, ov.revenue_spend_view, store,
                      {"comparison": "previous"})
    figure, note = graph_and_note(body)
    # a UK filter: the attributed-spend line first, then what the dashes are
    assert note.startswith("Spend attributed to the filtered new users")
    assert "Dashed: the previous period, 2026-09-06 – 2026-10-03" in note
    names = [t["name"] for t in figure["data"]]
    assert names == ["Revenue", "Ad spend (attributed to these users)", "Revenue (previous period)",
                     "Ad spend (previous period)"]
    assert trace_values(figure["data"][2]["y"]) == pytest.approx(revenue["revenue"].tolist(), rel=1e-12)
    dashed_spend = trace_values(figure["data"][3]["y"])
    assert dashed_spend == pytest.approx(spend.reindex(revenue["date"], fill_value=0.0).tolist(), rel=1e-12)
    assert sum(dashed_spend) > 0
    figure, note = graph_and_note(chart_body(demo_ctx, OverviewIds.REVENUE_SPEND, ov.revenue_spend_frame,
                                             ov.revenue_spend_view, store, {"comparison": "none"}))
    assert len(figure["data"]) == 2 and note.startswith("Spend attributed to the filtered new users")
    assert "Dashed" not in note


def test_ovc004_csv_carries_the_comparison_columns(demo_ctx):
    store = _store(demo_ctx, PERIOD)
    chart = registered_charts(demo_ctx)[OverviewIds.ACTIVITY]
    assert "comparison" in chart.params
    download = chart_download(demo_ctx, chart, store, {"comparison": "previous", "forecast": "off"})
    assert download["filename"] == "overview_activity_2026-10-04_2026-10-31.csv"
    text = base64.b64decode(download["content"]).decode() if download["base64"] else download["content"]
    csv = pd.read_csv(io.StringIO(text))
    assert list(csv.columns) == ["Date", "DAU", "WAU (rolling 7 days)", "MAU (rolling 30 days)",
                                 "Comparison date (previous period)", "DAU, previous period",
                                 "WAU (rolling 7 days), previous period", "MAU (rolling 30 days), previous period"]
    assert csv["Date"].iloc[0] == "2026-10-04" and csv["Comparison date (previous period)"].iloc[0] == "2026-09-06"
    revenue = registered_charts(demo_ctx)[OverviewIds.REVENUE_SPEND]
    text = chart_download(demo_ctx, revenue, store, {"comparison": "none", "forecast": "off"})["content"]
    assert pd.read_csv(io.StringIO(text)).columns.tolist() == ["Date", "Revenue ($)", "Ad spend ($)"]


def test_ovc005_previous_year_is_drawn_when_the_data_has_it(two_year_ctx):
    store = _store(two_year_ctx, PERIOD)
    query = metrics.MetricQuery.make("2026-10-04", "2026-10-31", "2026-10-31", compare="year")
    before, shift = previous_query(two_year_ctx, query)
    assert shift == 364 and before.start.isoformat() == "2025-10-05"
    with two_year_ctx.engine.connect() as conn:
        previous = metrics.activity_daily(conn, before)
        series = metrics.kpi_daily(conn, before)
    figure, note = graph_and_note(chart_body(two_year_ctx, OverviewIds.ACTIVITY, ov.activity_frame,
                                             ov.activity_view, store, {"comparison": "year", "forecast": "off"}))
    assert note == "Dashed: the previous year, 2025-10-05 – 2025-11-01, shifted onto these dates."
    assert [t["name"] for t in figure["data"]][3:] == ["DAU (previous year)", "WAU (previous year)",
                                                       "MAU (previous year)"]
    assert trace_values(figure["data"][3]["y"]) == previous["dau"].tolist() and sum(previous["dau"]) > 0
    assert list(figure["data"][3]["customdata"])[0] == "Sun 2025-10-05"
    cards = chart_body(two_year_ctx, OverviewIds.KPIS, ov.kpi_frame, ov.kpi_view, store, {"comparison": "year"})
    revenue = components(cards, lambda c: getattr(c, "id", None) == OverviewIds.kpi_card("revenue"))[0]
    (image,) = components(revenue, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
    assert image.alt.endswith("faint: the previous year, 2025-10-05 – 2025-11-01")
    assert series["revenue"].sum() > 0
