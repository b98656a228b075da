"""Marketing page callbacks: filters and the breakdown -> metrics (through the cache) -> layouts.marketing.

Each chart is a frame function (ChartRequest -> the exact table shown, also its CSV) and a view function
(table, request -> figure or grid), registered with `callbacks.filters.register_chart`.
"""

from __future__ import annotations

import pandas as pd
from dash import Dash

import metrics
from callbacks.filters import ChartRequest, register_chart
from dashboard.context import AppContext
from layouts import marketing as view
from layouts.marketing import MarketingIds


def _breakdown(request: ChartRequest) -> tuple[str, str]:
    """Return (metric dimension, label) of the request's `breakdown` page parameter (default: channel)."""
    breakdown = view.normalise_breakdown(request.params.get("breakdown"))
    return view.breakdown_dimension(breakdown), view.breakdown_label(breakdown)


def _cohort_report(request: ChartRequest) -> dict[str, pd.DataFrame]:
    """Return the LTV, ROI and payback frames by the breakdown (one cached query shared by three charts)."""
    dimension, _ = _breakdown(request)
    return request.read(metrics.cohort_report, request.filters, horizon=request.state.horizon,
                        dimensions=(dimension,))


def _colors(request: ChartRequest, dimension: str, table: pd.DataFrame, column: str) -> dict[str, str]:
    """Return the palette colour of every value of `column` in `table` (values of `dimension`)."""
    return request.palette.colors(dimension, table[column].unique()) if len(table) else {}


# ----------------------------------------------------------------------------------------------- spend


def spend_over_time_frame(request: ChartRequest) -> pd.DataFrame:
    """Return spend per date and channel (what the spend-over-time chart shows)."""
    return view.spend_over_time_table(request.read(metrics.daily_spend, request.filters))


def spend_over_time_view(table: pd.DataFrame, request: ChartRequest):
    """Return the stacked spend chart."""
    return view.spend_over_time_figure(table, _colors(request, "channel", table, "channel"))


def spend_share_frame(request: ChartRequest) -> pd.DataFrame:
    """Return total spend and share per channel (what the share-of-spend chart shows)."""
    table = view.spend_share_table(request.read(metrics.daily_spend, request.filters))
    return table[table["costs"] > 0].reset_index(drop=True)


def spend_share_view(table: pd.DataFrame, request: ChartRequest):
    """Return the share-of-spend bars."""
    return view.spend_share_figure(table, _colors(request, "channel", table, "channel"))


# ----------------------------------------------------------------------------------------------- CAC


def cac_by_channel_frame(request: ChartRequest) -> pd.DataFrame:
    """Return CAC per paid channel (what the CAC-by-channel chart shows)."""
    return view.cac_by_channel_table(request.read(metrics.channel_economics, request.filters))


def cac_by_channel_view(table: pd.DataFrame, request: ChartRequest):
    """Return the CAC-by-channel bars."""
    return view.cac_by_channel_figure(table, _colors(request, "channel", table, "channel"))


def cac_over_time_frame(request: ChartRequest) -> pd.DataFrame:
    """Return weekly CAC per paid channel (what the CAC-over-time chart shows)."""
    return view.cac_over_time_table(request.read(metrics.channel_economics, request.filters, grain="week"))


def cac_over_time_view(table: pd.DataFrame, request: ChartRequest):
    """Return the CAC-over-time lines."""
    return view.cac_over_time_figure(table, _colors(request, "channel", table, "channel"))


def channel_table_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the channel economics table with the unattributed spend (what the channel table shows)."""
    return view.channel_economics_table(request.read(metrics.channel_economics, request.filters))


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
    roi = request.read(metrics.roi, request.filters, horizon=horizon, dimensions=(dimension, "dt"))
    return view.roi_by_date_table(roi, dimension, horizon)


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

# (chart name, frame function, view function, page params it reads, empty-state message)
CHARTS = (
    (MarketingIds.SPEND_OVER_TIME, spend_over_time_frame, spend_over_time_view, (), NO_SPEND),
    (MarketingIds.SPEND_SHARE, spend_share_frame, spend_share_view, (), NO_SPEND),
    (MarketingIds.CAC_BY_CHANNEL, cac_by_channel_frame, cac_by_channel_view, (),
     "No paid channel brought new users in the period for these filters."),
    (MarketingIds.CAC_OVER_TIME, cac_over_time_frame, cac_over_time_view, (),
     "No paid channel brought new users in the period for these filters."),
    (MarketingIds.CHANNEL_TABLE, channel_table_frame, channel_table_view, (),
     "No new users and no spend in the period for these filters."),
    (MarketingIds.LTV_CURVES, ltv_curves_frame, ltv_curves_view, ("breakdown",),
     "No users acquired early enough to be followed for the whole horizon. "
     "Widen the period, move the observation date later or shorten the horizon."),
    (MarketingIds.ROI_CURVES, roi_curves_frame, roi_curves_view, ("breakdown",), NO_PAID_COHORT),
    (MarketingIds.ROI_BY_DATE, roi_by_date_frame, roi_by_date_view, ("breakdown",), NO_PAID_COHORT),
    (MarketingIds.PAYBACK_TABLE, payback_frame, payback_view, ("breakdown",), NO_PAID_COHORT),
)


def register(app: Dash, ctx: AppContext) -> None:
    """Register the marketing page's chart callbacks (body and CSV download per chart)."""
    for name, frame_fn, view_fn, params, empty in CHARTS:
        register_chart(app, ctx, name, frame_fn, view_fn, params=params, empty_message=empty)
