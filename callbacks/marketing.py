"""Marketing page: its charts, declared once (`CHARTS`): filters and the breakdown -> metrics (through the cache)
-> layouts.marketing.

Each chart is a frame function (ChartRequest -> the exact table shown, also its CSV) and a view function
(table, request -> figure or grid), declared with its card in a `layouts.charts.Chart`.
"""

from __future__ import annotations

import pandas as pd

import metrics
from layouts import marketing as view
from layouts.charts import Chart, ChartRequest
from layouts.common import attributed_spend_note, figure_with_notes, spend_is_attributed
from callbacks.forecast_lines import forecast_channel, forecast_rows
from layouts.glossary import terms
from layouts.overview import forecast_labels, forecast_note
from ml.forecast_series import TOTAL
from layouts.ids import MarketingIds
from layouts.periods import (DAYS_IN_PERIOD, PARTIAL, new_users_period, partial_note, period_buckets,
                             with_days_in_period)
from metrics.kpis import ROLLING_DAYS, rolling_roi_by_date


def _breakdown(request: ChartRequest) -> tuple[str, str]:
    """Return (metric dimension, label) of the request's `breakdown` page parameter (default: channel)."""
    breakdown = view.normalise_breakdown(request.params.get("breakdown"))
    return view.breakdown_dimension(breakdown), view.breakdown_label(breakdown)


def _cohort_report(request: ChartRequest) -> dict[str, pd.DataFrame]:
    """Return the LTV, ROI and payback frames by the breakdown (one cached query shared by three charts)."""
    dimension, _ = _breakdown(request)
    return request.read(metrics.cohort_report, request.query, horizon=request.state.horizon,
                        dimensions=(dimension,))


def _colors(request: ChartRequest, dimension: str, table: pd.DataFrame, column: str) -> dict[str, str]:
    """Return the palette colour of every value of `column` in `table` (values of `dimension`)."""
    return request.palette.colors(dimension, table[column].unique()) if len(table) else {}


# ----------------------------------------------------------------------------------------------- spend


def spend_over_time_frame(request: ChartRequest) -> pd.DataFrame:
    """Return spend per date and channel under the contract's one spend rule (what the spend-over-time chart shows),
    then the spend forecast's rows: the total's, or the one chosen channel's (`callbacks.forecast_lines.forecast_channel`)."""
    table = view.spend_over_time_table(request.read(metrics.spend_daily_by_rule, request.query))
    channel, _ = forecast_channel(request)
    if channel is None or table.empty:
        return table
    return view.spend_with_forecast(table, forecast_rows(request, "spend", channel),
                                    view.TOTAL_SPEND_LABEL if channel == TOTAL else channel)


def spend_over_time_view(table: pd.DataFrame, request: ChartRequest):
    """Return the stacked spend chart (under the attributed-spend line with a country or device filter), and a line
    about its forecast (or why none)."""
    return figure_with_notes(MarketingIds.SPEND_OVER_TIME,
                             view.spend_over_time_figure(table, _colors(request, "channel", table, "channel")),
                             attributed_spend_note(request.state), forecast_note(table) or forecast_channel(request)[1])


def spend_share_frame(request: ChartRequest) -> pd.DataFrame:
    """Return total spend and share per channel (what the share-of-spend chart shows)."""
    table = view.spend_share_table(request.read(metrics.spend_daily_by_rule, request.query))
    return table[table["costs"] > 0].reset_index(drop=True)


def spend_share_view(table: pd.DataFrame, request: ChartRequest):
    """Return the share-of-spend bars (under the attributed-spend line with a country or device filter)."""
    return figure_with_notes(MarketingIds.SPEND_SHARE,
                             view.spend_share_figure(table, _colors(request, "channel", table, "channel")),
                             attributed_spend_note(request.state))


# ----------------------------------------------------------------------------------------------- CAC


def cac_by_channel_frame(request: ChartRequest) -> pd.DataFrame:
    """Return CAC per paid channel (what the CAC-by-channel chart shows)."""
    return view.cac_by_channel_table(request.read(metrics.channel_economics, request.query))


def cac_by_channel_view(table: pd.DataFrame, request: ChartRequest):
    """Return the CAC-by-channel bars."""
    return view.cac_by_channel_figure(table, _colors(request, "channel", table, "channel"))


def _acquisition_days(request: ChartRequest):
    """Return (first, last) acquisition day of the period's new users and spend: [start, min(end, O)]."""
    return new_users_period(request.state.start, request.state.end, request.state.observation_date)


def cac_over_time_frame(request: ChartRequest) -> pd.DataFrame:
    """Return weekly CAC per paid channel with each week's days in the period and whether it is partial (what the
    CAC-over-time chart shows)."""
    table = view.cac_over_time_table(request.read(metrics.channel_economics, request.query, grain="week"))
    return with_days_in_period(table, "period", *_acquisition_days(request), "week")


def cac_over_time_view(table: pd.DataFrame, request: ChartRequest):
    """Return the CAC-over-time lines (partial first and last weeks marked, with a note)."""
    note = partial_note(period_buckets(*_acquisition_days(request), "week"))
    return view.cac_over_time_figure(table, _colors(request, "channel", table, "channel"), note=note)


def channel_table_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the channel economics table with the unattributed spend (what the channel table shows); with a country
    or device filter, the filtered users' attributed spend only (the contract's one spend rule)."""
    return view.channel_economics_table(request.read(metrics.channel_economics, request.query),
                                        attributed_only=spend_is_attributed(request.state))


def channel_table_view(table: pd.DataFrame, request: ChartRequest):
    """Return the unattributed spend line and the channel economics grid."""
    return view.channel_economics_view(table)


# ----------------------------------------------------------------------------------------------- cohorts


def ltv_curves_frame(request: ChartRequest) -> pd.DataFrame:
    """Return LTV by lifetime per breakdown group (what the LTV chart shows)."""
    dimension, _ = _breakdown(request)
    return view.curves_table(_cohort_report(request)["ltv"], dimension)


def ltv_curves_view(table: pd.DataFrame, request: ChartRequest):
    """Return the LTV curves."""
    dimension, label = _breakdown(request)
    return view.ltv_curves_figure(table, _colors(request, dimension, table, "group"), label)


def roi_curves_frame(request: ChartRequest) -> pd.DataFrame:
    """Return ROI by lifetime per breakdown group of the paid cohort (what the ROI chart shows)."""
    dimension, _ = _breakdown(request)
    return view.curves_table(_cohort_report(request)["roi"], dimension)


def roi_curves_view(table: pd.DataFrame, request: ChartRequest):
    """Return the ROI curves with the break-even line."""
    dimension, label = _breakdown(request)
    return view.roi_curves_figure(table, _colors(request, dimension, table, "group"), label)


def roi_by_date_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the 7-day rolling ROI at the horizon per group and acquisition date (what that chart shows)."""
    dimension, _ = _breakdown(request)
    horizon = request.state.horizon
    roi = request.read(metrics.roi, request.query, horizon=horizon, dimensions=(dimension, "dt"))
    return rolling_roi_by_date(roi, dimension, horizon)


def roi_by_date_view(table: pd.DataFrame, request: ChartRequest):
    """Return the rolling ROI-by-acquisition-date lines with the break-even line."""
    dimension, label = _breakdown(request)
    return view.roi_by_date_figure(table, request.state.horizon, _colors(request, dimension, table, "group"), label)


def payback_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the payback table per breakdown group (what the payback grid shows)."""
    dimension, _ = _breakdown(request)
    report = _cohort_report(request)
    return view.payback_table(report["payback"], dimension, request.state.horizon, report["roi"])


def payback_view(table: pd.DataFrame, request: ChartRequest):
    """Return the payback grid."""
    _, label = _breakdown(request)
    return view.payback_grid(table, request.state.horizon, label)


NO_SPEND = "No ad spend in the period for these filters."
NO_PAID_COHORT = ("No paid users acquired early enough to be followed for the whole horizon. "
                  "Widen the period, move the observation date later or shorten the horizon.")

NO_PAID_CHANNEL = "No paid channel brought new users in the period for these filters."

# the labels each chart shows for its frame's columns: the headers of its CSV and Excel downloads
SPEND_OVER_TIME_COLUMNS = {"date": "Date", "channel": "Channel", "costs": "Spend ($)",
                           **forecast_labels({"costs": "Spend ($)"})}
SPEND_SHARE_COLUMNS = {"channel": "Channel", "costs": "Spend ($)", "share": "Share of spend"}
CAC_COLUMNS = {"channel": "Channel", "period": "Week of acquisition (start date)", "new_users": "New users",
               "costs": "Attributed spend ($)", "cac": "CAC ($)"}
CHANNEL_TABLE_COLUMNS = {**CAC_COLUMNS, "unattributed": "Unattributed spend ($)", "total_spend": "Total spend ($)"}
CAC_OVER_TIME_COLUMNS = {**CAC_COLUMNS, DAYS_IN_PERIOD: "Days in period", PARTIAL: "Partial week"}
LIFETIME = "Lifetime day (days since first visit)"


def ltv_curves_columns(request: ChartRequest) -> dict[str, str]:
    """Return the LTV curves' column labels (the group column is named after the breakdown)."""
    return {"group": _breakdown(request)[1], "cohort_size": "Cohort size (users)", "lifetime": LIFETIME,
            "value": "LTV ($ per user, cumulative)"}


def roi_curves_columns(request: ChartRequest) -> dict[str, str]:
    """Return the ROI curves' column labels (the group column is named after the breakdown)."""
    return {"group": _breakdown(request)[1], "cohort_size": "Cohort size (paid users)", "lifetime": LIFETIME,
            "value": "ROI (LTV / CAC)", "cac": "CAC ($)"}


def roi_by_date_columns(request: ChartRequest) -> dict[str, str]:
    """Return the rolling ROI chart's column labels (the breakdown's name; the lifetime day of the horizon)."""
    day, window = request.state.horizon - 1, ROLLING_DAYS
    return {"group": _breakdown(request)[1], "dt": f"Acquisition date (last day of the {window}-day window)",
            "cohort_size_7d": f"Paid users ({window} days)", "revenue_7d": f"Revenue by day {day} ($, {window} days)",
            "cost_7d": f"Acquisition cost ($, {window} days)", "roi_7d": f"ROI by day {day} ({window}-day rolling)"}


def payback_columns(request: ChartRequest) -> dict[str, str]:
    """Return the payback table's column labels (the breakdown's name; the lifetime day of the horizon)."""
    return {"group": _breakdown(request)[1], "cohort_size": "Paid users", "cac": "CAC of the horizon cohort ($)",
            "roi_at_h": f"ROI by day {request.state.horizon - 1}", "payback_day": "Payback day (empty = never)",
            "payback": "Payback"}


CHARTS = (
    Chart(MarketingIds.SPEND_OVER_TIME, "Spend by channel over time", terms("spend", "unattributed"),
          spend_over_time_frame, spend_over_time_view, params=("forecast",), empty_message=NO_SPEND,
          columns=SPEND_OVER_TIME_COLUMNS, controls=view.forecast_control),
    Chart(MarketingIds.SPEND_SHARE, "Share of spend", terms("spend"),
          spend_share_frame, spend_share_view, empty_message=NO_SPEND, columns=SPEND_SHARE_COLUMNS),
    Chart(MarketingIds.CAC_BY_CHANNEL, "CAC by channel (period's new users)", terms("cac", "paid_channel"),
          cac_by_channel_frame, cac_by_channel_view, empty_message=NO_PAID_CHANNEL, columns=CAC_COLUMNS),
    Chart(MarketingIds.CAC_OVER_TIME, "CAC over time (new users per week)", terms("cac", "acquisition_cost"),
          cac_over_time_frame, cac_over_time_view, empty_message=NO_PAID_CHANNEL, columns=CAC_OVER_TIME_COLUMNS),
    Chart(MarketingIds.CHANNEL_TABLE, "Channel economics",
          terms("new_users", "cac", "unattributed"),
          channel_table_frame, channel_table_view,
          empty_message="No new users and no spend in the period for these filters.", min_height=200,
          columns=CHANNEL_TABLE_COLUMNS),
    Chart(MarketingIds.LTV_CURVES, "LTV by lifetime", terms("ltv", "cohort", "lifetime", "horizon"),
          ltv_curves_frame, ltv_curves_view, params=("breakdown",),
          empty_message="No users acquired early enough to be followed for the whole horizon. "
                        "Widen the period, move the observation date later or shorten the horizon.",
          columns=ltv_curves_columns),
    Chart(MarketingIds.ROI_CURVES, "ROI by lifetime", terms("roi_curve", "cac_cohort", "paid_channel"),
          roi_curves_frame, roi_curves_view, params=("breakdown",), empty_message=NO_PAID_COHORT,
          columns=roi_curves_columns),
    Chart(MarketingIds.ROI_BY_DATE, "ROI at the horizon by acquisition date",
          terms("rolling_roi", "roi"),
          roi_by_date_frame, roi_by_date_view, params=("breakdown",), empty_message=NO_PAID_COHORT,
          columns=roi_by_date_columns),
    Chart(MarketingIds.PAYBACK_TABLE, "Payback", terms("payback_day", "cac_cohort"),
          payback_frame, payback_view, params=("breakdown",), empty_message=NO_PAID_COHORT, min_height=200,
          columns=payback_columns),
)
