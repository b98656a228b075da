"""Overview page: its charts, declared once (`CHARTS`): filters -> metrics (through the cache) -> layouts.overview."""

from __future__ import annotations

import pandas as pd

import metrics
from layouts import overview as view
from layouts.charts import Chart, ChartRequest, view_only
from layouts.ids import OverviewIds


def kpi_query(request: ChartRequest) -> metrics.MetricQuery:
    """Return the query of the KPI card: the filters and horizon, with the comparison chosen on the page."""
    return request.query.with_(compare=request.params.get("comparison") or view.DEFAULT_COMPARE)


def kpi_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the contract's KPI table (kpi, label, value, previous_value, change, kind) of the Overview cards."""
    table = request.read(metrics.kpi_table, kpi_query(request))  # shares the profiles of both periods itself
    values = table.set_index("kpi")["value"]
    if not values.get("users", 0) and not values.get("new_users", 0):
        return pd.DataFrame()  # no user matches: the card shows its empty state
    return view.kpi_rows(table)


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
    return "/" + to_query(shorter, bounds)


def kpi_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the KPI cards with a line naming the comparison period, or why there is none (and a comparable view)."""
    query = kpi_query(request)
    comparison = request.read(metrics.comparison_period, query)
    href = last_weeks_href(request) if comparison is not None and not comparison.comparable else None
    return view.kpi_cards(frame, query.compare, comparison, suggestion_href=href)


def activity_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the DAU / WAU7 / MAU30 trend the activity chart shows."""
    return view.activity_table(request.read(metrics.activity_daily, request.query))


def revenue_spend_frame(request: ChartRequest) -> pd.DataFrame:
    """Return daily revenue and spend (the contract's one spend rule) the revenue-vs-spend chart shows."""
    return view.revenue_spend_table(request.read(metrics.daily_revenue, request.query),
                                    request.read(metrics.spend_daily_by_rule, request.query))


def revenue_spend_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the revenue-vs-spend figure, saying when the spend is the attributed spend of the filtered users."""
    return view.revenue_spend_figure(frame, attributed=bool(request.state.countries or request.state.devices))


# the labels each chart shows for its frame's columns: the headers of its CSV and Excel downloads
KPI_COLUMNS = {"kpi": "Key", "label": "Key figure", "value": "Value", "previous_value": "Comparison period",
               "change": "Change (relative)", "kind": "Unit"}
ACTIVITY_COLUMNS = {"date": "Date", "dau": "DAU", "wau7": "WAU (rolling 7 days)", "mau30": "MAU (rolling 30 days)"}
REVENUE_SPEND_COLUMNS = {"date": "Date", "revenue": "Revenue ($)", "spend": "Ad spend ($)"}

CHARTS = (
    Chart(OverviewIds.KPIS, "Key figures",
          "The selected period against the comparison chosen here (the previous period of equal length, the same "
          "days a year (364 days) earlier, or none), each as of its own observation date",
          kpi_frame, kpi_view, params=("comparison",), empty_message="No user matches these filters.", min_height=180,
          columns=KPI_COLUMNS, controls=view.page_controls),
    Chart(OverviewIds.ACTIVITY, "Active users", "DAU with rolling WAU (7 days) and MAU (30 days)",
          activity_frame, view_only(view.activity_figure),
          empty_message="Nobody matching these filters was active in the period.", columns=ACTIVITY_COLUMNS),
    Chart(OverviewIds.REVENUE_SPEND, "Revenue and ad spend",
          "Daily revenue of the filtered users against daily ad spend (with a country or device filter: the spend attributed to the filtered new users, as spend has no country or device)", revenue_spend_frame, revenue_spend_view,
          empty_message="No revenue and no ad spend in the period for these filters.", columns=REVENUE_SPEND_COLUMNS),
)
