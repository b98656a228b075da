"""The narrow-screen forms figures carry (layout.meta.narrow, applied in the browser by assets/narrow_charts.js)."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go

from layouts import cohorts as C
from layouts import marketing as M
from layouts.common import (NARROW_LEGEND_ROW, NARROW_TICKS, NARROW_WIDTH, legend_entries, narrow_form,
                            style_figure)
from layouts.filters import FilterState, filter_bar, filter_summary
from layouts.ids import FilterIds


def _spec(fig: go.Figure) -> dict:
    """Return the narrow form as the browser receives it (JSON)."""
    return json.loads(json.dumps(fig.to_plotly_json()["layout"]["meta"]["narrow"]))


def test_style_figure_gives_every_figure_a_narrow_form_with_the_legend_below():
    fig = go.Figure([go.Scatter(x=[1, 2], y=[1, 2], name="a"), go.Scatter(x=[1, 2], y=[2, 1], name="b")])
    style_figure(fig, x_title="x", y_title="y", height=300)
    spec = _spec(fig)
    assert spec["below"] == NARROW_WIDTH
    layout = spec["layout"]
    assert (layout["legend.orientation"], layout["legend.yref"], layout["legend.y"]) == ("h", "container", 0)
    assert layout["xaxis.nticks"] == layout["yaxis.nticks"] == NARROW_TICKS
    assert layout["height"] == 300 + 2 * NARROW_LEGEND_ROW + 10  # room for the two entries under the plot
    assert fig.layout.height == 300 and fig.layout.legend.y == 1.02 and fig.layout.autosize  # wide form unchanged


def test_narrow_form_merges_and_a_figure_without_legend_keeps_its_height():
    fig = style_figure(go.Figure([go.Bar(x=[1], y=[1])]), x_title="x", y_title="y", height=250)
    assert legend_entries(fig) == 0 and _spec(fig)["layout"]["height"] == 250
    narrow_form(fig, {"xaxis.nticks": 3}, {"bar": {"textposition": "inside"}}, below=700)
    spec = _spec(fig)
    assert spec["below"] == 700 and spec["layout"]["xaxis.nticks"] == 3 and "legend.orientation" in spec["layout"]
    assert spec["traces"] == {"bar": {"textposition": "inside"}}


def test_cohort_heatmap_leaves_its_numbers_to_the_hover_when_narrow():
    table = pd.DataFrame({"week": pd.to_datetime(["2026-05-04"] * 2 + ["2026-05-11"] * 2), "cohort_size": [10] * 4,
                          "lifetime": [0, 1, 0, 1], "value": [1.0, 0.3, 1.0, 0.2]})
    fig = C.heatmap_figure(table, "Retention")
    spec = _spec(fig)
    assert fig.data[0].texttemplate == "%{z:.1%}"  # wide: numbers in the cells
    assert spec["traces"]["heatmap"]["texttemplate"] == ""
    assert spec["layout"]["yaxis.ticktext"] == ["05-04", "05-11"]
    assert spec["layout"]["xaxis.dtick"] is None and spec["below"] == C.HEATMAP_NARROW_WIDTH


def test_roi_small_multiples_take_two_panels_a_row_when_narrow():
    dates = pd.date_range("2026-05-01", periods=3)
    table = pd.DataFrame({"group": [g for g in "abcde" for _ in dates], "dt": list(dates) * 5,
                          "roi_7d": 1.0, "revenue_7d": 1.0, "cost_7d": 1.0, "cohort_size_7d": 5.0})
    fig = M.roi_by_date_figure(table, horizon=14)
    layout = _spec(fig)["layout"]
    assert layout["xaxis.domain"][0] == 0 and layout["xaxis2.domain"][1] == 1  # a and b share the first row
    assert layout["yaxis3.domain"][1] < layout["yaxis.domain"][0]  # c starts the second row
    assert layout["yaxis3.title.text"] and not layout["yaxis2.title.text"]
    assert layout["xaxis6.visible"] is False  # the empty 6th cell of the wide 2x4 grid: hidden
    assert layout["annotations[5].text"].startswith("Dashed line")  # the note after the five panel titles


def test_filter_bar_collapses_behind_a_button_and_keeps_its_control_ids():
    bar = filter_bar()
    text = str(bar)
    for control in (FilterIds.DATE_RANGE, FilterIds.COUNTRY, FilterIds.DEVICE, FilterIds.CHANNEL,
                    FilterIds.OBSERVATION_DATE, FilterIds.HORIZON, FilterIds.STATE, FilterIds.TOGGLE,
                    FilterIds.COLLAPSE, FilterIds.SUMMARY):
        assert f"'{control}'" in text, control
    collapse = next(child for child in bar.children if getattr(child, "id", None) == FilterIds.COLLAPSE)
    assert FilterIds.DATE_RANGE in str(collapse) and FilterIds.STATE not in str(collapse)


def test_filter_summary_names_the_dates_and_each_filter_or_how_many():
    """Beside the narrow screen's "Filters" button: the dates, then one value by name or the number of values."""
    import datetime as dt

    day = dt.date(2026, 10, 4)
    bare = FilterState(day, dt.date(2026, 10, 31), dt.date(2026, 10, 31))
    assert filter_summary(bare) == "2026-10-04 – 2026-10-31"
    chosen = FilterState(day, dt.date(2026, 10, 31), dt.date(2026, 10, 31), countries=("France",),
                         devices=("Android", "iPhone"), channels=("FaceBoom", "TipTop", "YRabbit"))
    assert filter_summary(chosen) == "2026-10-04 – 2026-10-31 · France · 2 devices · 3 channels"
