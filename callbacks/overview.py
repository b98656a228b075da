"""Overview page: its charts, declared once (`CHARTS`): filters -> metrics (through the cache) -> layouts.overview."""

from __future__ import annotations

import pandas as pd

import metrics
from callbacks.forecast_lines import forecast_channel, forecast_rows
from layouts import overview as view
from layouts.charts import Chart, ChartRequest
from layouts.common import attributed_spend_note, spend_is_attributed
from layouts.glossary import terms
from layouts.ids import OverviewIds
from layouts.paths import app_path


def kpi_query(request: ChartRequest) -> metrics.MetricQuery:
    """Return the query of the KPI card: the filters and horizon, with the comparison chosen on the page."""
    return request.query.with_(compare=request.params.get("comparison") or view.DEFAULT_COMPARE)


def comparison_of(request: ChartRequest) -> tuple[metrics.ComparisonPeriod | None, metrics.MetricQuery | None]:
    """Return the comparison period chosen on the page (None for "none") and the query of that period, as of its
    own observation date (None when there is no comparison or it is not comparable)."""
    query = kpi_query(request)
    comparison = request.read(metrics.comparison_period, query)
    if comparison is None or not comparison.comparable:
        return comparison, None
    return comparison, query.with_filters(start=comparison.start, end=comparison.end,
                                          observation_date=comparison.observation_date)


def shift_days(request: ChartRequest, comparison: metrics.ComparisonPeriod) -> int:
    """Return how many days the comparison period lies before the current one (n for "previous", 364 for "year")."""
    return (request.state.observation_date - comparison.observation_date).days


def kpi_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the contract's KPI table (kpi, label, value, previous_value, change, kind) of the Overview cards."""
    with request.read.shared_profiles():  # on a cache miss, built once per period for the table and the series
        table = request.read(metrics.kpi_table, kpi_query(request))
        values = table.set_index("kpi")["value"]
        if not values.get("users", 0) and not values.get("new_users", 0):
            return pd.DataFrame()  # no user matches: the card shows its empty state
        kpi_series(request)  # the sparklines' series, read here to share the profiles (kpi_view reads them cached)
    return view.kpi_rows(table)


def kpi_series(request: ChartRequest) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Return the KPIs per day (`metrics.kpi_daily`) of the period and of the comparable comparison period (None
    when there is none): the cards' sparklines."""
    _, previous = comparison_of(request)
    series = request.read(metrics.kpi_daily, kpi_query(request))
    return series, request.read(metrics.kpi_daily, previous) if previous is not None else None


COMPARISON_DAYS = 28


def last_weeks_href(request: ChartRequest) -> str | None:
    """Return a link to the same filters over the last 4 weeks of the period, when the 4 weeks before are in the data."""
    import datetime as _dt

    from layouts.filters import FilterState, to_query

    state, bounds = request.state, request.bounds
    last = min(state.end, state.observation_date)
    start = last - _dt.timedelta(days=COMPARISON_DAYS - 1)
    if start - _dt.timedelta(days=COMPARISON_DAYS) < bounds.first_date:
        return None
    shorter = FilterState(start, last, last, state.horizon, state.countries, state.devices, state.channels)
    return app_path("/") + to_query(shorter, bounds)


def kpi_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the KPI cards with a line naming the comparison period, or why there is none (and a comparable view)."""
    query = kpi_query(request)
    comparison, _ = comparison_of(request)
    href = last_weeks_href(request) if comparison is not None and not comparison.comparable else None
    series, previous_series = kpi_series(request)
    return view.kpi_cards(frame, query.compare, comparison, suggestion_href=href, series=series,
                          previous_series=previous_series)


def activity_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the DAU / WAU7 / MAU30 trend the activity chart shows, with the comparison period's (comparable)
    series moved onto the current dates, and the DAU forecast's rows after them (`forecast_channel`)."""
    comparison, previous = comparison_of(request)
    daily = request.read(metrics.activity_daily, request.query)
    if previous is None:
        table = view.activity_table(daily)
    else:
        table = view.activity_table(daily, request.read(metrics.activity_daily, previous),
                                    shift_days(request, comparison))
    channel, _ = forecast_channel(request)
    if channel is None or table.empty:
        return table
    return view.with_forecast(table, {"dau": forecast_rows(request, "dau", channel)})


def activity_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the activity figure, its comparison lines dashed, under a line saying what they are (or why none),
    and one about its forecast (or why none)."""
    comparison, _ = comparison_of(request)
    compare = kpi_query(request).compare
    return view.chart_with_note(OverviewIds.ACTIVITY, view.activity_figure(frame, compare),
                                view.comparison_note(compare, comparison),
                                view.forecast_note(frame) or forecast_channel(request)[1])


def revenue_spend_frame(request: ChartRequest) -> pd.DataFrame:
    """Return daily revenue and spend (the contract's one spend rule) the revenue-vs-spend chart shows, with the
    comparison period's (comparable) series moved onto the current dates."""
    comparison, previous = comparison_of(request)
    before = None if previous is None else (request.read(metrics.daily_revenue, previous),
                                            request.read(metrics.spend_daily_by_rule, previous))
    table = view.revenue_spend_table(request.read(metrics.daily_revenue, request.query),
                                     request.read(metrics.spend_daily_by_rule, request.query), before,
                                     shift_days(request, comparison) if previous is not None else 0)
    channel, _ = forecast_channel(request)
    if channel is None or table.empty:
        return table
    return view.with_forecast(table, {metric: forecast_rows(request, metric, channel)
                                      for metric in ("revenue", "spend")})


def revenue_spend_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the revenue-vs-spend figure, saying when the spend is the attributed spend of the filtered users, its
    comparison lines dashed under a line saying what they are (or why none)."""
    comparison, _ = comparison_of(request)
    compare = kpi_query(request).compare
    fig = view.revenue_spend_figure(frame, attributed=spend_is_attributed(request.state), compare=compare)
    return view.chart_with_note(OverviewIds.REVENUE_SPEND, fig, attributed_spend_note(request.state),
                                view.comparison_note(compare, comparison),
                                view.forecast_note(frame) or forecast_channel(request)[1])


# the labels each chart shows for its frame's columns: the headers of its CSV and Excel downloads
KPI_COLUMNS = {"kpi": "Key", "label": "Key figure", "value": "Value", "previous_value": "Comparison period",
               "change": "Change (relative)", "kind": "Unit"}
ACTIVITY_COLUMNS = {"date": "Date", "dau": "DAU", "wau7": "WAU (rolling 7 days)", "mau30": "MAU (rolling 30 days)"}
REVENUE_SPEND_COLUMNS = {"date": "Date", "revenue": "Revenue ($)", "spend": "Ad spend ($)"}


def with_comparison_labels(labels: dict[str, str]):
    """Return a column-label function of the request: `labels`, and for each of their value columns the comparison
    column's label ("DAU, previous period"), with "Comparison date (previous period)", and its forecast columns
    labels ("DAU forecast, 80% low")."""
    def columns(request: ChartRequest | None) -> dict[str, str]:
        """Return the labels of the chart's columns for the comparison chosen in `request`."""
        compare = kpi_query(request).compare if request is not None else view.DEFAULT_COMPARE
        label = view.COMPARISON_LABELS.get(compare, "comparison period")
        extra = {f"{column}{view.COMPARISON_SUFFIX}": f"{text}, {label}" for column, text in labels.items()
                 if column != "date"}
        return {**labels, view.COMPARISON_DATE: f"Comparison date ({label})", **extra,
                **view.forecast_labels(labels)}
    return columns


CHARTS = (
    Chart(OverviewIds.KPIS, "Key figures", terms("comparison", "not_available", "observation_date"),
          kpi_frame, kpi_view, params=("comparison",), empty_message="No user matches these filters.", min_height=180,
          columns=KPI_COLUMNS, controls=view.page_controls),
    Chart(OverviewIds.ACTIVITY, "Active users", terms("dau", "wau", "mau"),
          activity_frame, activity_view, params=("comparison", "forecast"),
          empty_message="Nobody matching these filters was active in the period.",
          columns=with_comparison_labels(ACTIVITY_COLUMNS)),
    Chart(OverviewIds.REVENUE_SPEND, "Revenue and ad spend", terms("revenue", "spend"), revenue_spend_frame, revenue_spend_view,
          params=("comparison", "forecast"),
          empty_message="No revenue and no ad spend in the period for these filters.",
          columns=with_comparison_labels(REVENUE_SPEND_COLUMNS)),
)
