"""Partial first and last weeks and months (issue 17 item 6): the bucket helper of layouts/periods.py on its edge
cases (and against DuckDB's own week and month starts, the rule the metrics use), and every week/month chart
marking exactly the partial buckets of an explicit period, in its figure and its CSV."""

from __future__ import annotations

import base64
import datetime as _dt
import io

import duckdb
import numpy as np
import pandas as pd
import pytest

from app import create_app
from callbacks import acquisition as acq
from callbacks import cohorts as coh
from callbacks import marketing as mkt
from callbacks.charts import chart_body, chart_download, chart_frame, registered_charts
from callbacks.filters import sync_filters_and_url
from dashboard.config import Config
from layouts import acquisition as acq_view
from layouts.common import Palette
from layouts.ids import AcquisitionIds, CohortIds, MarketingIds
from layouts.periods import (DAYS_IN_PERIOD, PARTIAL, PARTIAL_OPACITY, PARTIAL_PATTERN, Bucket, bucket_length,
                             bucket_start, cohort_period, new_users_period, partial_buckets, partial_note,
                             partial_segments, period_buckets, with_days_in_period)

D = _dt.date


def _spans(first, last, grain):
    """Return [(bucket start, days in the period, days of the bucket)] of a period."""
    return [(b.start, b.days_in_period, b.days) for b in period_buckets(first, last, grain)]


# ------------------------------------------------------------------------------------------------- the helper


def test_per001_a_period_inside_one_week_is_one_partial_week():
    # Wednesday 3 to Friday 5 June 2026
    assert _spans(D(2026, 6, 3), D(2026, 6, 5), "week") == [(D(2026, 6, 1), 3, 7)]
    assert [b.start for b in partial_buckets(D(2026, 6, 3), D(2026, 6, 5), "week")] == [D(2026, 6, 1)]
    assert partial_note(period_buckets(D(2026, 6, 3), D(2026, 6, 5), "week")) == \
        "The only week is partial: 3 of 7 days in the period"


def test_per002_monday_to_sunday_has_no_partial_week():
    assert _spans(D(2026, 6, 1), D(2026, 6, 14), "week") == [(D(2026, 6, 1), 7, 7), (D(2026, 6, 8), 7, 7)]
    assert partial_buckets(D(2026, 6, 1), D(2026, 6, 14), "week") == []
    assert partial_note(period_buckets(D(2026, 6, 1), D(2026, 6, 14), "week")) is None


def test_per003_starting_on_a_monday_only_the_last_week_can_be_partial():
    spans = _spans(D(2026, 6, 1), D(2026, 6, 17), "week")  # ends on a Wednesday
    assert spans == [(D(2026, 6, 1), 7, 7), (D(2026, 6, 8), 7, 7), (D(2026, 6, 15), 3, 7)]
    assert partial_note(period_buckets(D(2026, 6, 1), D(2026, 6, 17), "week")) == \
        "Last week is partial: 3 of 7 days in the period"


def test_per004_ending_on_a_sunday_only_the_first_week_can_be_partial():
    spans = _spans(D(2026, 6, 4), D(2026, 6, 14), "week")  # starts on a Thursday: a first "week" of 4 days
    assert spans == [(D(2026, 6, 1), 4, 7), (D(2026, 6, 8), 7, 7)]
    assert partial_note(period_buckets(D(2026, 6, 4), D(2026, 6, 14), "week")) == \
        "First week is partial: 4 of 7 days in the period"


def test_per005_both_ends_cut_and_the_demo_range():
    # the demo's whole range: Friday 2026-05-01 to Saturday 2026-10-31
    buckets = period_buckets(D(2026, 5, 1), D(2026, 10, 31), "week")
    assert (buckets[0].start, buckets[0].days_in_period) == (D(2026, 4, 27), 3)
    assert (buckets[-1].start, buckets[-1].days_in_period) == (D(2026, 10, 26), 6)
    assert [b.partial for b in buckets] == [True] + [False] * (len(buckets) - 2) + [True]
    assert sum(b.days_in_period for b in buckets) == 184
    assert partial_note(buckets) == "First and last weeks are partial: 3 and 6 of 7 days in the period"
    # a week across a month boundary is one full week
    assert _spans(D(2026, 6, 29), D(2026, 7, 5), "week") == [(D(2026, 6, 29), 7, 7)]


def test_per006_month_boundaries():
    assert _spans(D(2026, 5, 14), D(2026, 7, 31), "month") == [
        (D(2026, 5, 1), 18, 31), (D(2026, 6, 1), 30, 30), (D(2026, 7, 1), 31, 31)]
    assert _spans(D(2026, 5, 1), D(2026, 10, 31), "month")[0] == (D(2026, 5, 1), 31, 31)
    assert partial_buckets(D(2026, 5, 1), D(2026, 10, 31), "month") == []
    spans = _spans(D(2026, 1, 31), D(2026, 3, 1), "month")  # the last day of one month to the first of another
    assert spans == [(D(2026, 1, 1), 1, 31), (D(2026, 2, 1), 28, 28), (D(2026, 3, 1), 1, 31)]
    assert partial_note(period_buckets(D(2026, 1, 31), D(2026, 3, 1), "month")) == \
        "First and last months are partial: 1 and 1 of 31 days in the period"
    assert partial_note(period_buckets(D(2026, 6, 10), D(2026, 7, 31), "month"), "the cohort") == \
        "First month is partial: 21 of 30 days in the cohort"


def test_per007_leap_february():
    assert bucket_length(D(2024, 2, 1), "month") == 29 and bucket_length(D(2026, 2, 1), "month") == 28
    assert _spans(D(2024, 2, 1), D(2024, 2, 29), "month") == [(D(2024, 2, 1), 29, 29)]
    assert _spans(D(2024, 2, 10), D(2024, 3, 5), "month") == [(D(2024, 2, 1), 20, 29), (D(2024, 3, 1), 5, 31)]
    assert _spans(D(2024, 2, 1), D(2024, 2, 28), "month") == [(D(2024, 2, 1), 28, 29)]  # one day short
    assert _spans(D(2024, 2, 26), D(2024, 3, 3), "week") == [(D(2024, 2, 26), 7, 7)]  # Mon 26 Feb .. Sun 3 Mar


def test_per008_a_one_day_period_and_an_empty_one():
    assert _spans(D(2026, 6, 3), D(2026, 6, 3), "week") == [(D(2026, 6, 1), 1, 7)]
    assert _spans(D(2026, 6, 3), D(2026, 6, 3), "month") == [(D(2026, 6, 1), 1, 30)]
    assert partial_note(period_buckets(D(2026, 6, 3), D(2026, 6, 3), "month")) == \
        "The only month is partial: 1 of 30 days in the period"
    assert period_buckets(D(2026, 6, 3), D(2026, 6, 2), "week") == []
    assert partial_note([]) is None
    with pytest.raises(ValueError, match="unknown grain"):
        period_buckets(D(2026, 6, 3), D(2026, 6, 3), "dt")


def test_per009_hover_text_says_how_partial():
    assert Bucket(D(2026, 6, 1), "week", 7, 4).hover_text() == "partial week: 4 of 7 days in the period"
    assert Bucket(D(2024, 2, 1), "month", 29, 20).hover_text() == "partial month: 20 of 29 days in the period"
    assert Bucket(D(2026, 6, 1), "week", 7, 7).hover_text() == ""


def test_per010_buckets_start_where_the_databases_put_them():
    """The helper's week and month starts are DuckDB's date_trunc (the metrics' week_start / month_start) on every
    day of three years, leap February included."""
    days = pd.date_range("2023-12-25", "2026-12-31", freq="D")
    truth = duckdb.sql(
        "SELECT d::DATE AS d, CAST(date_trunc('week', d::DATE) AS DATE) AS w, "
        "CAST(date_trunc('month', d::DATE) AS DATE) AS m "
        "FROM range(DATE '2023-12-25', DATE '2027-01-01', INTERVAL 1 DAY) t(d) ORDER BY d").df()
    assert len(truth) == len(days)
    assert [bucket_start(d, "week") for d in truth["d"]] == [pd.Timestamp(w).date() for w in truth["w"]]
    assert [bucket_start(d, "month") for d in truth["d"]] == [pd.Timestamp(m).date() for m in truth["m"]]


def test_per011_the_periods_each_chart_reads():
    assert new_users_period(D(2026, 6, 3), D(2026, 7, 2), D(2026, 6, 24)) == (D(2026, 6, 3), D(2026, 6, 24))
    assert new_users_period(D(2026, 6, 3), D(2026, 7, 2), D(2026, 7, 31)) == (D(2026, 6, 3), D(2026, 7, 2))
    assert cohort_period(D(2026, 6, 3), D(2026, 7, 31), 14) == (D(2026, 6, 3), D(2026, 7, 18))


def test_per012_a_table_gets_its_days_in_period_and_segments_join_partial_points():
    table = pd.DataFrame({"week": pd.to_datetime(["2026-06-01", "2026-06-08", "2026-06-29"]), "n": [1, 2, 3]})
    marked = with_days_in_period(table, "week", D(2026, 6, 3), D(2026, 7, 2), "week")
    assert marked[DAYS_IN_PERIOD].tolist() == [5, 7, 4] and marked[PARTIAL].tolist() == [True, False, True]
    assert list(marked.columns) == ["week", "n", DAYS_IN_PERIOD, PARTIAL] and list(table.columns) == ["week", "n"]
    x, y = ["a", "b", "c", "d"], [1.0, 2.0, 3.0, 4.0]
    assert partial_segments(x, y, [True, False, False, True]) == (["a", "b", None, "d", "c", None],
                                                                   [1.0, 2.0, None, 4.0, 3.0, None])
    assert partial_segments(x, y, [False] * 4) == ([], [])


# ------------------------------------------------------------------------------------------------- the charts


@pytest.fixture(scope="module")
def demo_ctx(demo_duckdb_url):
    """An app context on the shared DuckDB demo database (read only; data 2026-05-01 .. 2026-10-31)."""
    ctx = create_app(Config(database_url=demo_duckdb_url, autofill_demo=False)).server.extensions["dashboard_context"]
    yield ctx
    ctx.engine.dispose()


def _store(ctx, search: str) -> dict:
    """Return the filter store of URL query `search` (explicit dates)."""
    return sync_filters_and_url(ctx, None, search, "/", {}, [], [], None).store


# Wednesday 3 June to Thursday 2 July 2026: weeks of 1 June (5 of 7 days) and 29 June (4 of 7 days) are partial;
# June (28 of 30 days) and July (2 of 31 days) too
PERIOD = "?start=2026-06-03&end=2026-07-02"
PARTIAL_WEEKS = {"2026-06-01": 5, "2026-06-29": 4}


def _day(value) -> str:
    """Return a date-like value as YYYY-MM-DD."""
    return pd.Timestamp(value).strftime("%Y-%m-%d")


def _csv(ctx, chart_name: str, store: dict, params: dict | None = None) -> pd.DataFrame:
    """Return the CSV download of a chart, read back."""
    return pd.read_csv(io.StringIO(chart_download(ctx, registered_charts(ctx)[chart_name], store, params)["content"]))


def _values(values) -> list:
    """Return a trace's array as a list, decoding plotly's base64 typed-array form ({dtype, bdata})."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def _notes(figure: dict) -> list[str]:
    """Return the texts of a figure's annotations."""
    return [a.get("text", "") for a in figure["layout"].get("annotations", [])]


@pytest.mark.parametrize("grain, partial, note", [
    ("week", PARTIAL_WEEKS, "First and last weeks are partial: 5 and 4 of 7 days in the period"),
    ("month", {"2026-06-01": 28, "2026-07-01": 2},
     "First and last months are partial: 28 of 30 and 2 of 31 days in the period"),
])
def test_per020_new_users_bars_mark_exactly_the_partial_weeks_and_months(demo_ctx, grain, partial, note):
    store, params = _store(demo_ctx, PERIOD), {"breakdown": "device", "grain": grain}
    frame = chart_frame(demo_ctx, acq.new_users_frame, store, params)
    marked = frame[frame[PARTIAL]]
    assert {_day(d): n for d, n in zip(marked[grain], marked[DAYS_IN_PERIOD])} == partial
    assert not frame.loc[~frame[PARTIAL], DAYS_IN_PERIOD].isin([5, 4, 28, 2]).any()
    body = chart_body(demo_ctx, AcquisitionIds.NEW_USERS, acq.new_users_frame, acq.new_users_view, store, params)
    figure = body.figure
    bars = [t for t in figure["data"] if t["type"] == "bar"]
    assert sorted(t["name"] for t in bars) == sorted(frame["device"].unique())
    for trace in bars:
        days = [_day(x) for x in trace["x"]]
        expected = [d in partial for d in days]
        assert [o == PARTIAL_OPACITY for o in trace["marker"]["opacity"]] == expected
        assert [s == PARTIAL_PATTERN for s in trace["marker"]["pattern"]["shape"]] == expected
        assert all(o == 1.0 for o, p in zip(trace["marker"]["opacity"], expected) if not p)
    assert len(bars) == len(figure["data"])  # no extra trace
    lines = [(_day(x), c) for t in bars for x, c in zip(t["x"], t["customdata"]) if c]
    assert sorted(lines) == sorted(  # said once per partial period, on one bar of its stack
        (d, f"<br>partial {grain}: {n} of {bucket_length(d, grain)} days in the period") for d, n in partial.items())
    assert all("%{customdata}" in t["hovertemplate"] for t in bars)
    assert note in _notes(figure)
    csv = _csv(demo_ctx, AcquisitionIds.NEW_USERS, store, params)
    label = {"week": "Week", "month": "Month"}[grain]
    assert list(csv.columns) == [label, "Device", "New users", "Days in period", f"Partial {grain}"]
    assert csv["Days in period"].tolist() == frame[DAYS_IN_PERIOD].tolist()
    assert set(csv.loc[csv[f"Partial {grain}"], label]) == set(partial)


def test_per021_new_users_follow_the_observation_date_and_days_stay_unmarked(demo_ctx):
    # observed on Wednesday 24 June: new users end there, so the week of 22 June has 3 days in the period
    store = _store(demo_ctx, PERIOD + "&observation_date=2026-06-24")
    frame = chart_frame(demo_ctx, acq.new_users_frame, store, {"breakdown": "channel", "grain": "week"})
    days = frame.groupby(frame["week"].map(_day))[DAYS_IN_PERIOD].first().to_dict()
    assert days == {"2026-06-01": 5, "2026-06-08": 7, "2026-06-15": 7, "2026-06-22": 3}
    daily_params = {"breakdown": "channel", "grain": "dt"}
    daily = chart_frame(demo_ctx, acq.new_users_frame, _store(demo_ctx, PERIOD), daily_params)
    assert list(daily.columns) == ["dt", "channel", "new_users"]  # a day is never partial
    body = chart_body(demo_ctx, AcquisitionIds.NEW_USERS, acq.new_users_frame, acq.new_users_view,
                      _store(demo_ctx, PERIOD), daily_params)
    assert all("marker" not in t or "pattern" not in t["marker"] for t in body.figure["data"])
    assert not any("partial" in n for n in _notes(body.figure))


def test_per022_full_weeks_draw_as_before():
    """A period of whole weeks: no lighter bar, no hover trace, no note."""
    table = pd.DataFrame({"week": pd.to_datetime(["2026-06-01", "2026-06-08"]), "device": ["PC", "PC"],
                          "new_users": [3, 4]})
    table = with_days_in_period(table, "week", D(2026, 6, 1), D(2026, 6, 14), "week")
    fig = acq_view.new_users_figure(table, "week", "device", Palette.from_bounds({"devices": ["PC"]}),
                                    partial_note(period_buckets(D(2026, 6, 1), D(2026, 6, 14), "week")))
    assert len(fig.data) == 1 and fig.data[0].marker.opacity is None and fig.data[0].marker.pattern.shape is None
    assert not fig.layout.annotations


def test_per023_cac_over_time_opens_exactly_the_partial_weeks(demo_ctx):
    store = _store(demo_ctx, PERIOD)
    frame = chart_frame(demo_ctx, mkt.cac_over_time_frame, store)
    assert {_day(d): n for d, n in zip(frame.loc[frame[PARTIAL], "period"], frame.loc[frame[PARTIAL],
                                                                                     DAYS_IN_PERIOD])} == PARTIAL_WEEKS
    figure = chart_body(demo_ctx, MarketingIds.CAC_OVER_TIME, mkt.cac_over_time_frame, mkt.cac_over_time_view,
                        store).figure
    channels = sorted(frame["channel"].unique())
    lines = [t for t in figure["data"] if t.get("showlegend") is not False]
    opened = [t for t in figure["data"] if t.get("mode") == "markers"]
    dotted = [t for t in figure["data"] if t.get("line", {}).get("dash") == "dot"]
    assert sorted(t["name"] for t in lines) == channels
    assert len(opened) == len(dotted) == len(channels)
    for trace in lines:  # the solid line has no value on a partial week
        values = dict(zip(trace["x"], _values(trace["y"])))
        assert all(values.get(d) is None or np.isnan(values[d]) for d in PARTIAL_WEEKS)
        assert any(v is not None and not np.isnan(v) for d, v in values.items() if d not in PARTIAL_WEEKS)
    for trace in opened:  # an open marker on each partial week of the channel, its hover saying how partial
        part = frame[(frame["channel"] == trace["meta"]) & frame[PARTIAL]]
        weeks = [_day(d) for d in part["period"]]
        assert weeks and set(weeks) <= set(PARTIAL_WEEKS)
        assert trace["x"] == weeks and trace["marker"]["symbol"] == "circle-open"
        assert [c[1] for c in trace["customdata"]] == [
            f"<br>partial week: {PARTIAL_WEEKS[d]} of 7 days in the period" for d in weeks]
        assert np.allclose(np.array(_values(trace["y"]), dtype=float), part["cac"].to_numpy(dtype=float), equal_nan=True)
    for trace in dotted:  # from each partial week to its full neighbour
        assert set(x for x in trace["x"] if x is not None) <= {"2026-06-01", "2026-06-08", "2026-06-29", "2026-06-22"}
        assert trace["hoverinfo"] == "skip"
    both = [t for t in dotted if [x for x in t["x"] if x is not None] == ["2026-06-01", "2026-06-08", "2026-06-29",
                                                                        "2026-06-22"]]
    assert both  # at least one channel has both partial weeks joined to its neighbours
    assert "First and last weeks are partial: 5 and 4 of 7 days in the period" in _notes(figure)
    csv = _csv(demo_ctx, MarketingIds.CAC_OVER_TIME, store)
    assert list(csv.columns)[-2:] == ["Days in period", "Partial week"]
    assert set(csv.loc[csv["Partial week"], "Week of acquisition (start date)"]) == set(PARTIAL_WEEKS)


@pytest.mark.parametrize("name, frame_fn, view_fn, params", [
    (CohortIds.RETENTION_HEATMAP, coh.retention_heatmap_frame, coh.retention_heatmap_view, {"payer": "all"}),
    (CohortIds.CONVERSION_HEATMAP, coh.conversion_heatmap_frame, coh.conversion_heatmap_view, {}),
])
def test_per024_cohort_heatmaps_star_exactly_the_partial_weeks_of_the_cohort(demo_ctx, name, frame_fn, view_fn,
                                                                               params):
    # cohort: acquired 2026-06-03 (Wednesday) .. O - 13 = 2026-07-18 (Saturday): weeks of 1 June (5 days) and
    # 13 July (6 days) are partial
    store = _store(demo_ctx, "?start=2026-06-03&end=2026-07-31&horizon=14")
    partial = {"2026-06-01": 5, "2026-07-13": 6}
    frame = chart_frame(demo_ctx, frame_fn, store, params)
    by_week = frame.groupby(frame["week"].map(_day))[[DAYS_IN_PERIOD, PARTIAL]].first()
    assert by_week[by_week[PARTIAL]][DAYS_IN_PERIOD].to_dict() == partial
    assert list(by_week.index) == ["2026-06-01", "2026-06-08", "2026-06-15", "2026-06-22", "2026-06-29",
                                   "2026-07-06", "2026-07-13"]
    figure = chart_body(demo_ctx, name, frame_fn, view_fn, store, params).figure
    heatmap = figure["data"][0]
    starred = [label.split(" ")[0] for label in heatmap["y"] if label.split(" ")[0].endswith("*")]
    assert starred == [f"{d}*" for d in partial]
    texts = {label.split(" ")[0].rstrip("*"): row[0] for label, row in zip(heatmap["y"], heatmap["text"])}
    assert {d: t for d, t in texts.items() if t} == {
        d: f"<br>partial week: {n} of 7 days in the period" for d, n in partial.items()}
    assert "%{text}" in heatmap["hovertemplate"]
    assert ("* First and last weeks are partial: 5 and 6 of 7 days in the cohort (acquired 2026-06-03 – 2026-07-18)"
            in _notes(figure))
    csv = _csv(demo_ctx, name, store, params)
    assert list(csv.columns)[-2:] == ["Days of the week in the cohort", "Partial week"]
    assert set(csv.loc[csv["Partial week"], "Acquisition week (Monday)"]) == set(partial)


def test_per025_the_note_sits_under_the_plot_and_above_it_on_a_phone():
    table = pd.DataFrame({"week": pd.to_datetime(["2026-06-01", "2026-06-08"]), "device": ["PC", "PC"],
                          "new_users": [3, 4]})
    table = with_days_in_period(table, "week", D(2026, 6, 4), D(2026, 6, 14), "week")
    note = partial_note(period_buckets(D(2026, 6, 4), D(2026, 6, 14), "week"), "the cohort (acquired 2026-06-04 – "
                        "2026-06-14)")
    fig = acq_view.new_users_figure(table, "week", "device", Palette.from_bounds({"devices": ["PC"]}), note)
    plain = acq_view.new_users_figure(table, "week", "device", Palette.from_bounds({"devices": ["PC"]}))
    (annotation,) = fig.layout.annotations
    assert annotation.text == note and annotation.y == 0 and annotation.yanchor == "top" and annotation.yshift < 0
    assert fig.layout.height == plain.layout.height + 34 and fig.layout.margin.b == plain.layout.margin.b + 34
    narrow = fig.layout.meta["narrow"]["layout"]
    lines = narrow["annotations[0].text"].split("<br>")
    assert len(lines) == 2 and all(len(line) <= 44 for line in lines) and " ".join(lines) == note
    assert narrow["annotations[0].y"] == 1 and narrow["annotations[0].yanchor"] == "bottom"
    grown = narrow["margin.t"] - plain.layout.meta["narrow"]["layout"]["margin.t"]
    assert grown > 0 and narrow["height"] == plain.layout.meta["narrow"]["layout"]["height"] + grown
    # the partial week lighter; a full bar first in the trace, so that the legend's swatch is not hatched
    assert [_day(x) for x in fig.data[0].x] == ["2026-06-08", "2026-06-01"]
    assert list(fig.data[0].marker.opacity) == [1.0, PARTIAL_OPACITY]
    assert list(fig.data[0].marker.pattern.shape) == ["", PARTIAL_PATTERN]


def test_per026_a_heatmap_note_keeps_the_narrow_height_unset():
    """A figure whose narrow form has no height of its own (the heatmaps) gets none from the note either: it keeps
    its height, grown by the note's margin, which the bottom margin gives back on a phone."""
    from layouts import cohorts as coh_view

    table = pd.DataFrame({"week": pd.to_datetime(["2026-06-01"] * 2), "cohort_size": [10, 10], "lifetime": [0, 1],
                          "value": [1.0, 0.3]})
    table = with_days_in_period(table, "week", D(2026, 6, 4), D(2026, 6, 7), "week")
    note = partial_note(period_buckets(D(2026, 6, 4), D(2026, 6, 7), "week"))
    fig = coh_view.heatmap_figure(table, "Retention", note=note)
    plain = coh_view.heatmap_figure(table.drop(columns=[DAYS_IN_PERIOD, PARTIAL]), "Retention")
    assert list(fig.data[0].y) == ["2026-06-01* · n=10"] and list(plain.data[0].y) == ["2026-06-01 · n=10"]
    assert fig.layout.annotations[0].text == f"* {note}"
    assert fig.data[0].text[0][0] == "<br>partial week: 4 of 7 days in the period"
    narrow = fig.layout.meta["narrow"]["layout"]
    assert "height" not in narrow and "height" not in plain.layout.meta["narrow"]["layout"]
    assert fig.layout.height == plain.layout.height + 34 and narrow["margin.b"] == plain.layout.margin.b
    assert narrow["yaxis.ticktext"] == ["06-01*"]
