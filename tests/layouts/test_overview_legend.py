"""The Overview's time charts keep one legend entry per series (issue 18 follow-up: on a phone the activity chart's
legend took 8 rows): a series' comparison line and forecast line share its legend group and have no entry of their
own; the 80% band keeps one entry."""

from __future__ import annotations

import numpy as np
import pandas as pd

from layouts import overview as view
from layouts.common import NARROW_LEGEND_ROW, legend_entries


def _activity_with_everything() -> pd.DataFrame:
    """Return an activity table with comparison columns and the DAU forecast's rows."""
    dates = pd.date_range("2026-10-04", "2026-10-31", freq="D")
    daily = pd.DataFrame({"date": dates, "dau": np.arange(len(dates)) + 100, "wau7": 500, "mau30": 2000})
    previous = daily.assign(date=daily["date"] - pd.Timedelta(days=28), dau=daily["dau"] - 20)
    table = view.activity_table(daily, previous, 28)
    future = pd.DataFrame({"date": pd.date_range("2026-11-01", periods=28, freq="D"), "mean": 140.0, "lo80": 120.0,
                           "hi80": 160.0, "lo95": 110.0, "hi95": 170.0})
    return view.with_forecast(table, {"dau": future})


def test_olg001_comparison_and_forecast_lines_share_their_series_legend_entry():
    fig = view.activity_figure(_activity_with_everything(), "previous")
    shown = [t.name for t in fig.data if t.showlegend is not False]
    assert shown == ["DAU", "WAU (rolling 7 days)", "MAU (rolling 30 days)", view.FORECAST_BAND_NAME]
    groups = {t.name: t.legendgroup for t in fig.data}
    assert groups["DAU (previous period)"] == groups["DAU forecast"] == groups["DAU"] == "DAU"
    assert groups["MAU (previous period)"] == "MAU (rolling 30 days)"
    # the hover still names each line
    assert "DAU (previous period)" in next(t for t in fig.data if t.name == "DAU (previous period)").hovertemplate
    # the phone form keeps room for those 4 entries only
    assert legend_entries(fig) == 4
    assert fig.layout.meta["narrow"]["layout"]["height"] == fig.layout.height + NARROW_LEGEND_ROW * 4 + 10


def test_olg002_without_comparison_or_forecast_the_legend_is_the_series():
    dates = pd.date_range("2026-10-04", "2026-10-31", freq="D")
    daily = pd.DataFrame({"date": dates, "dau": 100, "wau7": 500, "mau30": 2000})
    fig = view.activity_figure(view.activity_table(daily), "none")
    assert [t.name for t in fig.data if t.showlegend is not False] == [
        "DAU", "WAU (rolling 7 days)", "MAU (rolling 30 days)"]
