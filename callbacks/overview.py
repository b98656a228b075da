"""Overview page: its charts, declared once (`CHARTS`): filters -> metrics (through the cache) -> layouts.overview."""

from __future__ import annotations

import pandas as pd

import metrics
from layouts import overview as view
from layouts.charts import Chart, ChartRequest, view_only
from layouts.filters import FilterState
from layouts.ids import OverviewIds
from metrics.kpis import kpi_values


def _period_kpis(request: ChartRequest, state: FilterState) -> dict[str, float]:
    """Return the KPI values of one period (the current state or the previous one)."""
    read = request.read
    query = state.metric_query()
    first = request.bounds.first_date
    users_to_date = 0
    if state.end >= first:
        to_date = query.with_filters(start=first)
        users_to_date = int(read(metrics.new_users, to_date, dimensions=("payer",))["new_users"].sum())
    return kpi_values(
        summary=read(metrics.activity_summary, query),
        new_users_by_payer=read(metrics.new_users, query, dimensions=("payer",)),
        users_to_date=users_to_date,
        revenue_daily=read(metrics.daily_revenue, query),
        spend_daily=read(metrics.daily_spend, query),
        economics=read(metrics.channel_economics, query),
        roi_curve=read(metrics.roi, query),
        horizon=state.horizon,
    )


def kpi_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the KPI table (current, previous, change) of the Overview cards."""
    with request.read.shared_profiles():  # up to 15 metrics, most built on the same profiles
        current = _period_kpis(request, request.state)
        if current["users"] == 0 and current["new_users"] == 0:
            return pd.DataFrame()  # no user matches: the card shows its empty state
        return view.kpi_table(current, _period_kpis(request, request.state.previous()))


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
    """Return the KPI cards, naming the previous period (and offering the last 4 weeks when it is before the data)."""
    previous = request.state.previous()
    return view.kpi_cards(frame, previous.start, min(previous.end, previous.observation_date),
                          request.bounds.first_date, suggestion_href=last_weeks_href(request))


def activity_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the DAU / WAU7 / MAU30 trend the activity chart shows."""
    return view.activity_table(request.read(metrics.activity_daily, request.query))


def revenue_spend_frame(request: ChartRequest) -> pd.DataFrame:
    """Return daily revenue and spend the revenue-vs-spend chart shows."""
    return view.revenue_spend_table(request.read(metrics.daily_revenue, request.query),
                                    request.read(metrics.daily_spend, request.query))


CHARTS = (
    Chart(OverviewIds.KPIS, "Key figures", "Selected period against the previous period of equal length",
          kpi_frame, kpi_view, empty_message="No user matches these filters.", min_height=180),
    Chart(OverviewIds.ACTIVITY, "Active users", "DAU with rolling WAU (7 days) and MAU (30 days)",
          activity_frame, view_only(view.activity_figure),
          empty_message="Nobody matching these filters was active in the period."),
    Chart(OverviewIds.REVENUE_SPEND, "Revenue and ad spend",
          "Daily revenue of the filtered users against daily ad spend", revenue_spend_frame, view_only(view.revenue_spend_figure),
          empty_message="No revenue and no ad spend in the period for these filters."),
)
