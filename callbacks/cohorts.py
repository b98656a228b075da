"""Cohorts page: its charts, declared once (`CHARTS`): filters, breakdown and payer toggle -> metrics (through
the cache) -> layouts.cohorts."""

from __future__ import annotations

import pandas as pd

import metrics
from layouts import cohorts as view
from layouts.charts import Chart, ChartRequest
from layouts.glossary import terms
from layouts.ids import CohortIds
from layouts.periods import (DAYS_IN_PERIOD, PARTIAL, cohort_period, partial_note, period_buckets,
                             with_days_in_period)


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


def _cohort_days(request: ChartRequest):
    """Return (first, last) acquisition day of the horizon cohort: [start, O - (H - 1)]."""
    return cohort_period(request.state.start, request.state.observation_date, request.state.horizon)


def _weeks_marked(table: pd.DataFrame, request: ChartRequest) -> pd.DataFrame:
    """Return a heatmap table with each acquisition week's days in the cohort and whether it is partial."""
    return with_days_in_period(table, "week", *_cohort_days(request), "week")


def _cohort_note(request: ChartRequest) -> str | None:
    """Return the note naming the cohort's partial first and last weeks (None when both are full)."""
    first, last = _cohort_days(request)
    return partial_note(period_buckets(first, last, "week"),
                        f"the cohort (acquired {first:%Y-%m-%d} – {last:%Y-%m-%d})")


def retention_heatmap_frame(request: ChartRequest) -> pd.DataFrame:
    """Return retention per acquisition week and lifetime on the payer toggle's side, with each week's days in the
    cohort (what the heatmap shows)."""
    payer = _payer(request)
    frame = _cohort_metric(request, metrics.retention, view.payer_dimensions(payer, "week"))
    return _weeks_marked(view.heatmap_table(frame, payer), request)


def retention_heatmap_view(table: pd.DataFrame, request: ChartRequest):
    """Return the retention heatmap (colour scale from day 1 on; day 0 is 100% by definition; partial weeks
    marked)."""
    return view.heatmap_figure(table, "Retention", skip_day0_in_scale=True, note=_cohort_note(request))


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
    """Return conversion per acquisition week and lifetime, all users, with each week's days in the cohort (what
    the heatmap shows)."""
    return _weeks_marked(view.heatmap_table(_cohort_metric(request, metrics.conversion, ("week",))), request)


def conversion_heatmap_view(table: pd.DataFrame, request: ChartRequest):
    """Return the conversion heatmap (partial weeks marked)."""
    return view.heatmap_figure(table, "Conversion", colorscale="Greens", note=_cohort_note(request))


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
WEEK_DAYS_COLUMNS = {DAYS_IN_PERIOD: "Days of the week in the cohort", PARTIAL: "Partial week"}


def retention_curves_columns(request: ChartRequest) -> dict[str, str]:
    """Return the retention curves' column labels (the group column is named after the breakdown)."""
    return {"group": _breakdown(request)[1], **HEATMAP_COLUMNS, "value": "Retention"}


def conversion_curves_columns(request: ChartRequest) -> dict[str, str]:
    """Return the conversion curves' column labels (the group column is named after the breakdown)."""
    return {"group": _breakdown(request)[1], **HEATMAP_COLUMNS, "value": "Conversion (cumulative)"}


CHARTS = (
    Chart(CohortIds.RETENTION_HEATMAP, "Retention by acquisition week",
          terms("retention", "cohort", "lifetime"), retention_heatmap_frame,
          retention_heatmap_view, params=("payer",), empty_message=NO_COHORT,
          columns={**HEATMAP_COLUMNS, "value": "Retention", **WEEK_DAYS_COLUMNS}),
    Chart(CohortIds.RETENTION_CURVES, "Retention curves",
          terms("retention", "horizon"), retention_curves_frame,
          retention_curves_view, params=("breakdown", "payer"), empty_message=NO_COHORT,
          columns=retention_curves_columns),
    Chart(CohortIds.CONVERSION_HEATMAP, "Conversion by acquisition week",
          terms("conversion", "cohort", "lifetime"), conversion_heatmap_frame,
          conversion_heatmap_view, empty_message=NO_COHORT,
          columns={**HEATMAP_COLUMNS, "value": "Conversion (cumulative)", **WEEK_DAYS_COLUMNS}),
    Chart(CohortIds.CONVERSION_CURVES, "Conversion curves",
          terms("conversion", "horizon"), conversion_curves_frame,
          conversion_curves_view, params=("breakdown",), empty_message=NO_COHORT,
          columns=conversion_curves_columns),
)
