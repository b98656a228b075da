"""The Overview's sparklines and comparison lines as pure functions: the SVG builder (layouts/sparkline.py), a
sparkline per KPI card from `metrics.kpi_daily`'s series, and the dashed comparison traces of the time charts
(layouts/overview.py). Frames are made by hand here; tests/callbacks/test_overview_comparison.py reads them from a
database."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import unquote

import numpy as np
import pandas as pd
import pytest

from layouts import overview as ov
from layouts import sparkline as sp
from layouts.common import SERIES_COLORS
from layouts.ids import OverviewIds, chart_graph_id
from metrics.kpis import KPI_NAMES, ComparisonPeriod


def svg_of(src: str) -> str:
    """Return the SVG text inside a data: URI."""
    prefix = "data:image/svg+xml;charset=utf-8,"
    assert src.startswith(prefix)
    return unquote(src[len(prefix):])


def polylines(svg: str) -> list[list[tuple[float, float]]]:
    """Return the points of every polyline of `svg`, in order."""
    return [[tuple(map(float, p.split(","))) for p in points.split()]
            for points in re.findall(r'<polyline points="([^"]+)"', svg)]


def find(component, predicate) -> list:
    """Return every component in the tree under `component` (itself included) for which `predicate` is true."""
    found = [component] if predicate(component) else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found += find(child, predicate)
    return found


def daily_series(start: str, days: int, seed: int) -> pd.DataFrame:
    """Return a frame shaped like metrics.kpi_daily: date and a column per KPI, with some undefined values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"date": pd.date_range(start, periods=days, freq="D").astype("datetime64[us]")})
    for i, key in enumerate(KPI_NAMES):
        frame[key] = rng.uniform(1, 100, days) + 10 * i
    frame.loc[days - 3:, "roi"] = np.nan  # the last cohorts have not reached the horizon yet
    frame["users"] = np.cumsum(np.arange(1, days + 1))
    return frame


def kpi_table(value: float = 10.0, previous: float = 8.0) -> pd.DataFrame:
    """Return a KPI table (kpi, label, value, previous_value, change, kind) as layouts.overview.kpi_rows gives."""
    raw = pd.DataFrame({"kpi": list(KPI_NAMES), "value": value, "previous_value": previous,
                        "change": (value - previous) / previous})
    return ov.kpi_rows(raw)


# ------------------------------------------------------------------------------------------ the SVG builder


def test_spark001_points_follow_the_values():
    """x spreads the dates over the width, y puts the highest value at the top and the lowest at the bottom."""
    svg = sp.sparkline_svg([1, 3, 2, 5])
    (line,) = polylines(svg)
    xs, ys = [x for x, _ in line], [y for _, y in line]
    assert xs == sorted(xs) and xs[0] == sp.PAD and xs[-1] == sp.WIDTH - sp.PAD
    assert ys[3] == sp.PAD and ys[0] == sp.HEIGHT - sp.PAD  # 5 at the top, 1 at the bottom
    assert ys[3] < ys[1] < ys[2] < ys[0]
    assert f'cx="{xs[-1]}" cy="{ys[-1]}"' in svg  # the last value is marked
    assert 'viewBox="0 0 120 30"' in svg and 'preserveAspectRatio="none"' in svg


def test_spark002_gaps_single_points_flat_and_empty():
    """An undefined value breaks the line; a lone value is a dot; a flat series sits in the middle; no defined value
    gives no sparkline."""
    svg = sp.sparkline_svg([1, 2, float("nan"), 3, 4, None, 5])
    assert [len(line) for line in polylines(svg)] == [2, 2]
    assert svg.count("<circle") == 2  # the lone 5 and the last-value mark
    flat = polylines(sp.sparkline_svg([7, 7, 7]))[0]
    assert {y for _, y in flat} == {sp.HEIGHT / 2}
    assert sp.sparkline_svg([float("nan"), None]) is None and sp.sparkline_svg([]) is None
    assert sp.sparkline_image([np.nan], "nothing") is None


def test_spark003_previous_series_is_faint_and_on_the_same_scale():
    """The comparison series is drawn first (behind), faint grey, on the scale of both series together."""
    svg = sp.sparkline_svg([10, 20], previous=[0, 40])
    before, current = polylines(svg)
    assert svg.index(sp.PREVIOUS_COLOR) < svg.index(sp.COLOR)
    assert before[0][1] == sp.HEIGHT - sp.PAD and before[1][1] == sp.PAD  # 0 and 40: the bounds of both
    assert current[0][1] == pytest.approx(sp.PAD + (sp.HEIGHT - 2 * sp.PAD) * 30 / 40, abs=0.01)
    assert current[1][1] == pytest.approx(sp.PAD + (sp.HEIGHT - 2 * sp.PAD) * 20 / 40, abs=0.01)
    assert sp.sparkline_svg([np.nan], previous=[1, 2]) is None  # nothing to show of the period itself


def test_spark004_image_is_a_data_uri_with_alt_text():
    image = sp.sparkline_image([1, 2, 3], "DAU per day, 2026-05-04 – 2026-05-31")
    assert image.alt == image.title == "DAU per day, 2026-05-04 – 2026-05-31"
    assert svg_of(image.src) == sp.sparkline_svg([1, 2, 3])
    assert "kpi-sparkline" in image.className and "<" not in image.src and "#" not in image.src


# ------------------------------------------------------------------------------------------ the KPI cards


def test_spark010_every_card_has_the_sparkline_of_its_series():
    """Twelve cards, twelve sparklines, each drawing its own KPI's column, named with the KPI and the dates; the
    comparison period's column faint behind it."""
    series, previous = daily_series("2026-05-04", 28, 1), daily_series("2026-04-06", 28, 2)
    comparison = ComparisonPeriod(dt.date(2026, 4, 6), dt.date(2026, 5, 3), dt.date(2026, 5, 3), True, "")
    cards = ov.kpi_cards(kpi_table(), "previous", comparison, series=series, previous_series=previous)
    images = find(cards, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
    assert len(images) == len(KPI_NAMES) == 12
    for key in KPI_NAMES:
        card = find(cards, lambda c, k=key: getattr(c, "id", None) == OverviewIds.kpi_card(k))[0]
        (image,) = find(card, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
        assert svg_of(image.src) == sp.sparkline_svg(series[key], previous[key]), key
        assert image.alt == (f"{ov.SPARKLINE_NAMES[key]}, 2026-05-04 – 2026-05-31; faint: the previous period, "
                             "2026-04-06 – 2026-05-03")
    dau = find(cards, lambda c: getattr(c, "id", None) == OverviewIds.kpi_card("dau"))[0]
    assert "DAU per day, 2026-05-04 – 2026-05-31" in str(dau)


def test_spark011_no_faint_series_without_a_comparable_period():
    series, previous = daily_series("2026-05-04", 28, 1), daily_series("2026-04-06", 28, 2)
    early = ComparisonPeriod(dt.date(2026, 4, 6), dt.date(2026, 5, 3), dt.date(2026, 5, 3), False,
                             "the previous period starts on 2026-04-06, before the data's first date 2026-05-01")
    for compare, comparison in (("previous", early), ("none", None)):
        cards = ov.kpi_cards(kpi_table(), compare, comparison, series=series, previous_series=previous)
        images = find(cards, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
        assert len(images) == 12
        for image, key in zip(images, [kpi.key for kpi in ov.KPIS]):  # in card order
            assert svg_of(image.src) == sp.sparkline_svg(series[key]) and "faint" not in image.alt
            assert sp.PREVIOUS_COLOR not in svg_of(image.src)
    plain = ov.kpi_cards(kpi_table(), "previous", None)  # no series: the cards as before, no sparkline
    assert not find(plain, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))
    blank = series.assign(cac=np.nan)  # a KPI undefined every day (organic only): no sparkline on its card
    cards = ov.kpi_cards(kpi_table(), "none", None, series=blank)
    cac = find(cards, lambda c: getattr(c, "id", None) == OverviewIds.kpi_card("cac"))[0]
    assert not find(cac, lambda c: "kpi-sparkline" in (getattr(c, "className", "") or ""))


# ------------------------------------------------------------------------------------------ the time charts


def activity(start: str, days: int, base: int) -> pd.DataFrame:
    """Return an activity_daily-shaped frame: date, dau, wau7, mau30."""
    n = np.arange(days)
    return pd.DataFrame({"date": pd.date_range(start, periods=days, freq="D").astype("datetime64[us]"),
                         "dau": base + n, "wau7": 3 * base + n, "mau30": 7 * base + n})


def test_spark020_activity_table_moves_the_comparison_onto_the_current_dates():
    current, before = activity("2026-05-29", 28, 100), activity("2026-05-01", 28, 50)
    table = ov.activity_table(current, before, 28)
    assert list(table.columns) == ["date", "dau", "wau7", "mau30", "comparison_date", "dau_comparison",
                                   "wau7_comparison", "mau30_comparison"]
    assert (table["date"] - table["comparison_date"] == pd.Timedelta(days=28)).all()
    assert table["dau_comparison"].tolist() == before["dau"].tolist()
    assert table["mau30_comparison"].tolist() == before["mau30"].tolist()
    year = ov.activity_table(current, activity("2025-05-30", 28, 60), 364)
    assert year["comparison_date"].iloc[0] == pd.Timestamp("2025-05-30") and year["dau_comparison"].iloc[0] == 60
    assert list(ov.activity_table(current).columns) == ["date", "dau", "wau7", "mau30"]
    assert ov.activity_table(current.assign(dau=0), before, 28).empty  # nobody active: empty, not a comparison


def test_spark021_activity_figure_draws_the_comparison_dashed():
    table = ov.activity_table(activity("2026-05-29", 28, 100), activity("2026-05-01", 28, 50), 28)
    fig = ov.activity_figure(table, "previous")
    names = [t.name for t in fig.data]
    assert names == ["DAU", "WAU (rolling 7 days)", "MAU (rolling 30 days)", "DAU (previous period)",
                     "WAU (previous period)", "MAU (previous period)"]
    for solid, dashed, column in zip(fig.data[:3], fig.data[3:], ("dau", "wau7", "mau30")):
        assert solid.line.dash is None and dashed.line.dash == "dash"
        assert solid.line.color == dashed.line.color == SERIES_COLORS[column]
        assert list(dashed.x) == list(solid.x) and list(dashed.y) == table[f"{column}_comparison"].tolist()
        assert dashed.customdata[0] == "Fri 2026-05-01" and "on %{customdata}" in dashed.hovertemplate
    year = ov.activity_figure(table, "year")
    assert [t.name for t in year.data][3] == "DAU (previous year)"
    assert len(ov.activity_figure(ov.activity_table(activity("2026-05-29", 28, 100)), "previous").data) == 3


def test_spark022_revenue_spend_table_and_figure_with_comparison():
    days = pd.date_range("2026-05-29", periods=4, freq="D").astype("datetime64[us]")
    before_days = days - pd.Timedelta(days=4)
    revenue = pd.DataFrame({"date": days, "revenue": [1.0, 2.0, 3.0, 4.0]})
    spend = pd.DataFrame({"date": [days[0], days[0], days[2]], "channel": ["A", "B", "A"], "costs": [1.0, 2.0, 5.0]})
    previous = (pd.DataFrame({"date": before_days, "revenue": [9.0, 8.0, 7.0, 6.0]}),
                pd.DataFrame({"date": [before_days[1]], "channel": ["A"], "costs": [4.0]}))
    table = ov.revenue_spend_table(revenue, spend, previous, 4)
    assert list(table.columns) == ["date", "revenue", "spend", "comparison_date", "revenue_comparison",
                                   "spend_comparison"]
    assert table["spend"].tolist() == [3.0, 0.0, 5.0, 0.0]
    assert table["revenue_comparison"].tolist() == [9.0, 8.0, 7.0, 6.0]
    assert table["spend_comparison"].tolist() == [0.0, 4.0, 0.0, 0.0]
    fig = ov.revenue_spend_figure(table, attributed=True, compare="year")
    assert [t.name for t in fig.data] == ["Revenue", "Ad spend (attributed to these users)", "Revenue (previous year)",
                                          "Ad spend (previous year)"]
    assert [t.line.dash for t in fig.data] == [None, None, "dash", "dash"]
    assert fig.data[3].line.color == SERIES_COLORS["spend"] and fig.data[3].customdata[1] == "Tue 2026-05-26"
    assert len(ov.revenue_spend_figure(ov.revenue_spend_table(revenue, spend)).data) == 2


def test_spark023_comparison_note_says_what_the_dashes_are_or_why_none():
    ok = ComparisonPeriod(dt.date(2026, 4, 6), dt.date(2026, 5, 3), dt.date(2026, 5, 3), True, "")
    assert ov.comparison_note("previous", ok) == ("Dashed: the previous period, 2026-04-06 – 2026-05-03, shifted onto "
                                                  "these dates.")
    early = ok._replace(comparable=False, reason="the previous year starts on 2025-05-05, before the data's first "
                                                 "date 2026-05-01")
    assert ov.comparison_note("year", early) == ("No previous year line: the previous year starts on 2025-05-05, "
                                                 "before the data's first date 2026-05-01.")
    assert ov.comparison_note("none", None) is None
    fig = ov.activity_figure(ov.activity_table(activity("2026-05-29", 28, 100)), "none")
    assert ov.chart_with_note(OverviewIds.ACTIVITY, fig, None) is fig
    wrapped = ov.chart_with_note(OverviewIds.ACTIVITY, fig, "note")
    assert wrapped.children[0].children == "note" and wrapped.children[1].figure["data"]
    assert wrapped.children[1].id == chart_graph_id(OverviewIds.ACTIVITY)  # the graph the browser scripts look for
