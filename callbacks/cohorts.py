"""Cohorts page: its charts, declared once (`CHARTS`): filters, breakdown and payer toggle -> metrics (through
the cache) -> layouts.cohorts."""

from __future__ import annotations

import pandas as pd

import metrics
from layouts import cohorts as view
from layouts.charts import Chart, ChartRequest
from layouts.ids import CohortIds


def _breakdown(request: ChartRequest) -> tuple[str, str]:
    """Return (metric dimension, label) of the request's `breakdown` page parameter (default: payer)."""
    breakdown = view.normalise_cohort_breakdown(request.params.get("breakdown"))
    return view.COHORT_BREAKDOWNS[breakdown]


def _payer(request: ChartRequest) -> str:
    """Return the payer toggle of the request ("all", "true", "false")."""
    return view.normalise_payer(request.params.get("payer"))


def _cohort_metric(request: ChartRequest, metric, dimensions: tuple[str, ...]) -> pd.DataFrame:
    """Return `metric` (retention or conversion) by `dimensions` at the global horizon, through the cache."""
    return request.read(metric, request.query, horizon=request.state.horizon, dimensions=dimensions)


def _curve_colors(request: ChartRequest, table: pd.DataFrame) -> dict[str, str]:
    """Return the palette colour of each curve group (payer groups keep the page's own two colours)."""
    dimension, _ = _breakdown(request)
    if dimension == "payer" or table.empty:
        return {}
    return request.palette.colors(dimension, table["group"].unique())


def retention_heatmap_frame(request: ChartRequest) -> pd.DataFrame:
    """Return retention per acquisition week and lifetime on the payer toggle's side (what the heatmap shows)."""
    payer = _payer(request)
    frame = _cohort_metric(request, metrics.retention, view.payer_dimensions(payer, "week"))
    return view.heatmap_table(frame, payer)


def retention_heatmap_view(table: pd.DataFrame, request: ChartRequest):
    """Return the retention heatmap (colour scale from day 1 on; day 0 is 100% by definition)."""
    return view.heatmap_figure(table, "Retention", skip_day0_in_scale=True)


def retention_curves_frame(request: ChartRequest) -> pd.DataFrame:
    """Return retention by lifetime per breakdown group on the payer toggle's side (what the curves show)."""
    dimension, _ = _breakdown(request)
    payer = _payer(request)
    frame = _cohort_metric(request, metrics.retention, view.payer_dimensions(payer, dimension))
    return view.cohort_curves_table(frame, dimension, payer)


def retention_curves_view(table: pd.DataFrame, request: ChartRequest):
    """Return the retention curves."""
    _, label = _breakdown(request)
    return view.retention_curves_figure(table, _curve_colors(request, table), label)


def conversion_heatmap_frame(request: ChartRequest) -> pd.DataFrame:
    """Return conversion per acquisition week and lifetime, all users (what the heatmap shows)."""
    return view.heatmap_table(_cohort_metric(request, metrics.conversion, ("week",)))


def conversion_heatmap_view(table: pd.DataFrame, request: ChartRequest):
    """Return the conversion heatmap."""
    return view.heatmap_figure(table, "Conversion", colorscale="Greens")


def conversion_curves_frame(request: ChartRequest) -> pd.DataFrame:
    """Return conversion by lifetime per breakdown group, all users (what the curves show)."""
    dimension, _ = _breakdown(request)
    return view.cohort_curves_table(_cohort_metric(request, metrics.conversion, (dimension,)), dimension)


def conversion_curves_view(table: pd.DataFrame, request: ChartRequest):
    """Return the conversion curves."""
    _, label = _breakdown(request)
    return view.conversion_curves_figure(table, _curve_colors(request, table), label)


NO_COHORT = ("No users acquired early enough to be followed for the whole horizon. "
             "Widen the period, move the observation date later or shorten the horizon.")

# the labels each chart shows for its frame's columns: the headers of its CSV and Excel downloads
HEATMAP_COLUMNS = {"week": "Acquisition week (Monday)", "cohort_size": "Cohort size (users)",
                   "lifetime": "Lifetime day (days since first visit)"}


def retention_curves_columns(request: ChartRequest) -> dict[str, str]:
    """Return the retention curves' column labels (the group column is named after the breakdown)."""
    return {"group": _breakdown(request)[1], **HEATMAP_COLUMNS, "value": "Retention"}


def conversion_curves_columns(request: ChartRequest) -> dict[str, str]:
    """Return the conversion curves' column labels (the group column is named after the breakdown)."""
    return {"group": _breakdown(request)[1], **HEATMAP_COLUMNS, "value": "Conversion (cumulative)"}


CHARTS = (
    Chart(CohortIds.RETENTION_HEATMAP, "Retention by acquisition week",
          "Share of the week's cohort with a visit on lifetime day k", retention_heatmap_frame,
          retention_heatmap_view, params=("payer",), empty_message=NO_COHORT,
          columns={**HEATMAP_COLUMNS, "value": "Retention"}),
    Chart(CohortIds.RETENTION_CURVES, "Retention curves",
          "Share of the cohort active on lifetime day k, by the chosen breakdown", retention_curves_frame,
          retention_curves_view, params=("breakdown", "payer"), empty_message=NO_COHORT,
          columns=retention_curves_columns),
    Chart(CohortIds.CONVERSION_HEATMAP, "Conversion by acquisition week",
          "Share of the week's cohort with a first order by lifetime day k (cumulative)", conversion_heatmap_frame,
          conversion_heatmap_view, empty_message=NO_COHORT,
          columns={**HEATMAP_COLUMNS, "value": "Conversion (cumulative)"}),
    Chart(CohortIds.CONVERSION_CURVES, "Conversion curves",
          "Cumulative share of the cohort that has paid, by the chosen breakdown", conversion_curves_frame,
          conversion_curves_view, params=("breakdown",), empty_message=NO_COHORT,
          columns=conversion_curves_columns),
)
