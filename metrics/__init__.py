"""Metrics layer: every metric of shared/spec/metrics.md as SQL aggregated inside the database.

Public API (docs/metrics_api.md): `MetricQuery` (what a metric reads), `Filters`, `Period`, `DIMENSIONS`,
`resolve_period`, the KPI table `kpi_table` with `comparison_period` (contract revision 2) and its daily series `kpi_daily`, the metric functions `(conn, query, ...) -> DataFrame` (a bare `Filters` is read as
`MetricQuery(filters)`), and for reuse in other SQL (ML features) the profiles
subquery builder `profiles_select` and the dialect constructs in `metrics.dialect`.
"""

from metrics.activity import activity_daily, activity_monthly, activity_summary, activity_weekly, session_stats
from metrics.cohorts import cohort_report, conversion, ltv, payback, retention, roi, to_wide
from metrics.economics import (channel_economics, daily_revenue, daily_spend, data_bounds, new_users, spend_daily_by_rule,
                               users_by_attributes)
from metrics.filters import DIMENSIONS, Filters, Period, resolve_period, validate_dimensions, validate_horizon
from metrics.frames import conform
from metrics.kpis import KPI_DAILY_COLUMNS, KPI_NAMES, ComparisonPeriod, comparison_period, kpi_daily, kpi_table
from metrics.profiles import PROFILE_COLUMNS, first_visits_select, profiles, profiles_select, shared_profiles
from metrics.query import MetricQuery, narrowed


__all__ = [
    "ComparisonPeriod", "DIMENSIONS", "Filters", "KPI_DAILY_COLUMNS", "KPI_NAMES", "MetricQuery", "Period", "PROFILE_COLUMNS",
    "activity_daily", "activity_monthly", "activity_summary", "activity_weekly", "channel_economics", "cohort_report",
    "comparison_period", "conform", "conversion", "daily_revenue", "daily_spend", "data_bounds", "first_visits_select",
    "kpi_daily", "kpi_table", "ltv", "narrowed", "new_users", "payback", "profiles", "profiles_select", "resolve_period", "retention",
    "roi", "session_stats", "shared_profiles", "spend_daily_by_rule", "to_wide", "users_by_attributes", "validate_dimensions",
    "validate_horizon",
]
