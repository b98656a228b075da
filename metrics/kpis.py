"""Key figures: the KPI table of contract revision 2 with its comparison period, and derived KPI maths.

- `kpi_table(conn, query)`: the contract's KPI table (section "KPIs and comparison") for the period and filters of
  `query`, against the comparison period of `query.compare` (none, previous, year). Every number comes from the
  database through the metric functions (activity_summary, daily_revenue, spend_daily_by_rule, roi) and one
  aggregate of the new users' profiles; pandas only adds and divides their results.
- `comparison_period(conn, query)`: the comparison period's dates and whether it is comparable.
- Pure pandas over metric frames (`rolling_roi_by_date`): no database, no UI. The pages only format
  and draw what these functions return, so every number on screen traces to a function of the metrics package.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from metrics.activity import activity_summary
from metrics.cohorts import roi as roi_table
from metrics.dialect import date_of, float_sum
from metrics.economics import daily_revenue, spend_daily_by_rule
from metrics.filters import Filters, Period, _as_date, resolve_period
from metrics.frames import conform, read_frame
from metrics.profiles import profile_source, profiles_select, shared_profiles
from metrics.query import UNSET, MetricQuery, as_query, reads

KPI_NAMES = ("users", "new_users", "dau", "wau", "mau", "asl_seconds", "sticky", "revenue", "spend", "cac", "roi",
             "payer_share")
KPI_COLUMNS = ("kpi", "value", "previous_value", "change")
YEAR_SHIFT_DAYS = 364  # the previous year: 52 weeks back, so weekdays stay aligned
ROLLING_DAYS = 7  # the window of the rolling ROI by acquisition date


def ratio(numerator: float, denominator: float) -> float:
    """Return numerator / denominator as a float, NaN when the denominator is 0."""
    return float(numerator) / float(denominator) if denominator else float("nan")


ROLLING_ROI_COLUMNS = ("group", "dt", "cohort_size_7d", "revenue_7d", "cost_7d", "roi_7d")


def rolling_roi_by_date(roi_by_dt: pd.DataFrame, dimension: str, horizon: int,
                        window_days: int = ROLLING_DAYS) -> pd.DataFrame:
    """Return ROI at day H per group and acquisition date over a rolling window of calendar days.

    Input: `metrics.roi(dimensions=(dimension, "dt"))`. At lifetime H-1 each (group, dt) cohort has
    revenue = value * cac * cohort_size and cost = cac * cohort_size; the rolling ROI of date d is
    sum(revenue) / sum(cost) over the `window_days` calendar days ending at d (a cost-weighted ROI, not a mean of
    daily ROIs), days without a paid cohort adding nothing; the window is cut at the first date of the frame.
    Columns: group, dt, cohort_size_7d, revenue_7d, cost_7d, roi_7d (the window columns keep the `_7d` names).
    """
    columns = list(ROLLING_ROI_COLUMNS)
    at_h = roi_by_dt[roi_by_dt["lifetime"] == horizon - 1]
    if at_h.empty:
        return pd.DataFrame({c: pd.Series([], dtype=(str if c == "group" else "datetime64[us]" if c == "dt" else float))
                             for c in columns})
    daily = pd.DataFrame({
        "group": at_h[dimension].astype(str).to_numpy(),
        "dt": pd.to_datetime(at_h["dt"]).to_numpy(),
        "cohort_size": at_h["cohort_size"].to_numpy(dtype=float),
        "revenue": (at_h["value"] * at_h["cac"] * at_h["cohort_size"]).to_numpy(dtype=float),
        "cost": (at_h["cac"] * at_h["cohort_size"]).to_numpy(dtype=float),
    })
    calendar = pd.date_range(daily["dt"].min(), daily["dt"].max(), freq="D")
    parts = []
    for group in sorted(daily["group"].unique()):
        part = (daily[daily["group"] == group].groupby("dt")[["cohort_size", "revenue", "cost"]].sum()
                .reindex(calendar, fill_value=0.0))
        rolled = part.rolling(window_days, min_periods=1).sum()
        present = part.index >= daily.loc[daily["group"] == group, "dt"].min()
        rolled = rolled[present & (rolled["cost"] > 0)]
        parts.append(pd.DataFrame({
            "group": group, "dt": rolled.index.astype("datetime64[us]"),
            "cohort_size_7d": rolled["cohort_size"].to_numpy().round().astype("int64"),
            "revenue_7d": rolled["revenue"].to_numpy(),
            "cost_7d": rolled["cost"].to_numpy(), "roi_7d": (rolled["revenue"] / rolled["cost"]).to_numpy(),
        }))
    return pd.concat(parts, ignore_index=True)[columns]


# ------------------------------------------------------------------------------------- KPIs and comparison


class ComparisonPeriod(NamedTuple):
    """The comparison period of a KPI table: its first and last day, its observation date, whether it is
    comparable (it starts on or after the data's first date) and, when not, the reason in plain words."""

    start: _dt.date
    end: _dt.date
    observation_date: _dt.date
    comparable: bool
    reason: str


def _first_visit_date(conn: Connection) -> _dt.date | None:
    """Return the first date of the data: the earliest date(session_start) of all visits (None without visits)."""
    return _as_date(conn.execute(sa.select(date_of(sa.func.min(db.visits.c.session_start)))).scalar())


def _comparison(conn: Connection, query: MetricQuery, period: Period) -> ComparisonPeriod | None:
    """Return the ComparisonPeriod of `query.compare` for the resolved `period` (None for compare "none")."""
    if query.compare == "none":
        return None
    days = (period.last - period.start).days + 1
    shift = _dt.timedelta(days=days if query.compare == "previous" else YEAR_SHIFT_DAYS)
    label = "previous period" if query.compare == "previous" else "previous year"
    start, end, observation = period.start - shift, period.last - shift, period.observation_date - shift
    if days < 1:
        return ComparisonPeriod(start, end, observation, False, "the period has no day before the observation date")
    first = _first_visit_date(conn)
    if first is None:
        return ComparisonPeriod(start, end, observation, False, "the data has no visit")
    if start < first:
        return ComparisonPeriod(start, end, observation, False,
                                f"the {label} starts on {start.isoformat()}, before the data's first date "
                                f"{first.isoformat()}")
    return ComparisonPeriod(start, end, observation, True, "")


@reads("compare")
def comparison_period(conn: Connection, query: MetricQuery | Filters, compare: str = UNSET) -> ComparisonPeriod | None:
    """Return the ComparisonPeriod (start, end, observation_date, comparable, reason) of `query.compare`: the n days
    right before start as of O - n ("previous"), or the period shifted by 364 days as of O - 364 ("year"); None for
    "none"."""
    query = as_query(query, compare=compare)
    return _comparison(conn, query, resolve_period(conn, query.filters))


def _profile_totals(conn: Connection, filters: Filters, period: Period) -> dict[str, float]:
    """Return {users, new_users, payers, paid_new_users, paid_cost}: one aggregate of the filtered profiles as of O
    with dt <= min(end, O) (users), of those with dt in the period (new users), their payers and paid-channel users
    with their summed acquisition_cost."""
    p = profiles_select(period.observation_date, filters, dt_to=period.last, with_paid=True,
                        source=profile_source(conn)).subquery("kpi_profiles")
    marked = sa.select(sa.case((p.c.dt >= period.start, 1), else_=0).label("new"), p.c.paid, p.c.payer,
                       p.c.acquisition_cost).subquery("kpi_marked")  # grouped by a column, not a bound expression
    stmt = sa.select(
        marked.c.new, marked.c.paid, marked.c.payer, sa.func.count().label("users"),
        float_sum(marked.c.acquisition_cost).label("cost"),
    ).group_by(marked.c.new, marked.c.paid, marked.c.payer)
    frame = read_frame(conn, stmt)
    for column in ("new", "paid", "payer"):
        frame[column] = frame[column].astype(bool)
    users = pd.to_numeric(frame["users"]).astype("int64")
    cost = pd.to_numeric(frame["cost"]).astype("float64")
    new_rows, paid_new = frame["new"], frame["new"] & frame["paid"]
    return {
        "users": float(users.sum()),
        "new_users": float(users[new_rows].sum()),
        "payers": float(users[new_rows & frame["payer"]].sum()),
        "paid_new_users": float(users[paid_new].sum()),
        "paid_cost": float(cost[paid_new].sum()),
    }


def _period_kpis(conn: Connection, query: MetricQuery) -> dict[str, float]:
    """Return {kpi: value} of the contract's KPI table for the period, filters and horizon of `query` (NaN where
    undefined)."""
    filters = query.filters
    period = resolve_period(conn, filters)
    totals = _profile_totals(conn, filters, period)
    summary = activity_summary(conn, filters).set_index("metric")["value"]
    revenue = daily_revenue(conn, filters)["revenue"]
    spend = spend_daily_by_rule(conn, filters)["costs"]
    curve = roi_table(conn, filters, horizon=query.horizon, dimensions=(), ignore_horizon=False)
    at_horizon = curve.loc[curve["lifetime"] == query.horizon - 1, "value"]
    return {
        "users": totals["users"],
        "new_users": totals["new_users"],
        "dau": float(summary["dau"]),
        "wau": float(summary["wau"]),
        "mau": float(summary["mau"]),
        "asl_seconds": float(summary["asl_seconds"]),
        "sticky": float(summary["sticky_mau"]),
        "revenue": float(revenue.sum()),
        "spend": float(spend.sum()),
        "cac": ratio(totals["paid_cost"], totals["paid_new_users"]),
        "roi": float(at_horizon.iloc[0]) if len(at_horizon) else float("nan"),
        "payer_share": ratio(totals["payers"], totals["new_users"]),
    }


def _change(value: float, previous: float) -> float:
    """Return (value - previous) / previous; NaN when either is NaN or previous is 0."""
    if math.isnan(value) or math.isnan(previous) or previous == 0:
        return float("nan")
    return (value - previous) / previous


@reads("horizon", "compare")
def kpi_table(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, compare: str = UNSET) -> pd.DataFrame:
    """Return the KPI table [kpi, value, previous_value, change], rows in KPI_NAMES order (contract revision 2).

    The period P = [start, min(end, O)] with the filters and horizon of `query`; the comparison of `query.compare`:
    "previous" (the n days right before start, as of O - n), "year" (shifted by 364 days, as of O - 364) or "none".
    previous_value and change are NaN for "none" and when the comparison period starts before the data's first
    date (never computed on missing days); change is NaN when previous_value is 0. The ComparisonPeriod (or None)
    is in `frame.attrs["comparison"]` (also `comparison_period(conn, query)`).
    """
    query = as_query(query, horizon=horizon, compare=compare)
    with shared_profiles(conn):  # both periods' metrics read the profiles of their O: built once each
        period = resolve_period(conn, query.filters)
        values = _period_kpis(conn, query)
        comparison = _comparison(conn, query, period)
        previous = dict.fromkeys(KPI_NAMES, float("nan"))
        if comparison is not None and comparison.comparable:
            previous = _period_kpis(conn, query.with_filters(start=comparison.start, end=comparison.end,
                                                             observation_date=comparison.observation_date))
    frame = pd.DataFrame({
        "kpi": list(KPI_NAMES),
        "value": [values[name] for name in KPI_NAMES],
        "previous_value": [previous[name] for name in KPI_NAMES],
        "change": [_change(values[name], previous[name]) for name in KPI_NAMES],
    })
    frame = conform(frame)
    frame.attrs["comparison"] = comparison
    return frame
