"""Key figures: the KPI table of contract revision 2 with its comparison period, and derived KPI maths.

- `kpi_table(conn, query)`: the contract's KPI table (section "KPIs and comparison") for the period and filters of
  `query`, against the comparison period of `query.compare` (none, previous, year). Every number comes from the
  database through the metric functions (activity_summary, daily_revenue, spend_daily_by_rule, roi) and one
  aggregate of the new users' profiles; pandas only adds and divides their results.
- `comparison_period(conn, query)`: the comparison period's dates and whether it is comparable.
- `kpi_daily(conn, query)`: the KPIs per date of the period (the Overview cards' sparklines), from the same metric
  functions and one aggregate of the profiles per acquisition date and one of the visits per date.
- Pure pandas over metric frames (`rolling_roi_by_date`): no database, no UI. The pages only format
  and draw what these functions return, so every number on screen traces to a function of the metrics package.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from metrics.activity import _visits_where, activity_daily, activity_summary
from metrics.cohorts import roi as roi_table
from metrics.dialect import date_of, epoch_us, float_sum
from metrics.economics import daily_revenue, spend_daily_by_rule
from metrics.filters import Filters, Period, _as_date, resolve_period
from metrics.frames import DATETIME_UNIT, conform, read_frame
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


# ------------------------------------------------------------------------------------- KPIs per day

KPI_DAILY_COLUMNS = ("date", *KPI_NAMES)
KPI_DAILY_COUNTS = ("users", "new_users", "dau", "wau", "mau")  # int64; every other KPI column is float64


def _empty_daily() -> pd.DataFrame:
    """Return the empty frame of `kpi_daily` with its dtypes."""
    return pd.DataFrame({column: pd.Series([], dtype=DATETIME_UNIT if column == "date" else
                                           "int64" if column in KPI_DAILY_COUNTS else "float64")
                         for column in KPI_DAILY_COLUMNS})


def _profiles_by_dt(conn: Connection, filters: Filters, period: Period) -> pd.DataFrame:
    """Return [dt, paid, payer, users, cost]: the filtered profiles as of O with dt <= min(end, O) counted per
    acquisition date, paid channel and payer, with their summed acquisition_cost (one aggregate)."""
    p = profiles_select(period.observation_date, filters, dt_to=period.last, with_paid=True,
                        source=profile_source(conn)).subquery("daily_profiles")
    stmt = sa.select(p.c.dt, p.c.paid, p.c.payer, sa.func.count().label("users"),
                     float_sum(p.c.acquisition_cost).label("cost")).group_by(p.c.dt, p.c.paid, p.c.payer)
    frame = conform(read_frame(conn, stmt))
    frame["cost"] = pd.to_numeric(frame["cost"]).astype("float64")
    return frame


def _sessions_by_date(conn: Connection, filters: Filters, period: Period) -> pd.Series:
    """Return the mean session length in seconds of the filtered users' visits per start date of the period (dates
    without a visit absent), from an exact integer sum of microseconds per date, as `session_stats` does."""
    v = db.visits
    day = date_of(v.c.session_start)
    stmt = (sa.select(day.label("date"), sa.func.count().label("sessions"),
                      sa.func.sum(epoch_us(v.c.session_end) - epoch_us(v.c.session_start)).label("micros"))
            .where(*_visits_where(period, filters, period.start, conn)).group_by(day))
    rows = read_frame(conn, stmt)
    dates = conform(rows[["date"]])["date"]
    means = [int(micros) / (int(sessions) * 1_000_000) for sessions, micros in zip(rows["sessions"], rows["micros"])]
    return pd.Series(means, index=pd.DatetimeIndex(dates), dtype="float64")


def _per_day(values: pd.Series, calendar: pd.DatetimeIndex, fill=None) -> np.ndarray:
    """Return `values` (indexed by date) on every date of `calendar` (`fill` where absent, NaN without one)."""
    aligned = values.groupby(level=0).sum().reindex(calendar)
    return (aligned.fillna(fill) if fill is not None else aligned).to_numpy(dtype="float64")


@reads("horizon")
def kpi_daily(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET) -> pd.DataFrame:
    """Return the KPIs per day: one row per date of [start, min(end, O)], columns date and KPI_NAMES (NaN undefined).

    users: filtered profiles with dt <= the date (cumulative); new_users: with dt = the date; dau, wau, mau: DAU(d),
    WAU7(d), MAU30(d); sticky: DAU(d) / MAU30(d); asl_seconds: mean session length of the visits starting that day;
    revenue: the filtered users' orders of the day; spend: the contract's one spend rule on that day
    (`spend_daily_by_rule`); cac: attributed spend / count of the day's paid new users; roi: roi(H-1) of the paid
    cohort acquired that day (NaN after O - (H - 1) and where its cac is 0); payer_share: payers among the day's new
    users. Every value as of O; the comparison period's series is `kpi_daily` of its query.
    """
    query = as_query(query, horizon=horizon)
    filters, h = query.filters, query.horizon
    with shared_profiles(conn):  # the profiles as of O, read by most of the series below: built once
        period = resolve_period(conn, filters)
        if period.is_empty:
            return _empty_daily()
        calendar = pd.date_range(period.start, period.last, freq="D").astype(DATETIME_UNIT)
        activity = activity_daily(conn, filters).set_index("date").reindex(calendar, fill_value=0)
        asl = _sessions_by_date(conn, filters, period)
        profiles = _profiles_by_dt(conn, filters, period)
        revenue = daily_revenue(conn, filters).set_index("date")["revenue"]
        spend = spend_daily_by_rule(conn, filters).set_index("date")["costs"]
        curve = roi_table(conn, filters, horizon=h, dimensions=("dt",), ignore_horizon=False)
    at_horizon = curve[curve["lifetime"] == h - 1].set_index("dt")["value"]
    dt = pd.DatetimeIndex(profiles["dt"])
    users, before = profiles["users"].set_axis(dt), int(profiles.loc[dt < calendar[0], "users"].sum())
    paid = profiles["paid"].to_numpy() & (dt >= calendar[0])
    new = _per_day(users, calendar, 0.0)
    payers = _per_day(users[profiles["payer"].to_numpy()], calendar, 0.0)
    paid_new = _per_day(users[paid], calendar, 0.0)
    paid_cost = _per_day(profiles["cost"].set_axis(dt)[paid], calendar, 0.0)
    dau, mau = activity["dau"].to_numpy(dtype="float64"), activity["mau30"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        frame = pd.DataFrame({
            "date": calendar,
            "users": before + np.cumsum(new).astype("int64"),
            "new_users": new.astype("int64"),
            "dau": activity["dau"].to_numpy(dtype="int64"),
            "wau": activity["wau7"].to_numpy(dtype="int64"),
            "mau": activity["mau30"].to_numpy(dtype="int64"),
            "asl_seconds": _per_day(asl, calendar),
            "sticky": np.where(mau > 0, dau / mau, np.nan),
            "revenue": _per_day(revenue, calendar, 0.0),
            "spend": _per_day(spend, calendar, 0.0),
            "cac": np.where(paid_new > 0, paid_cost / paid_new, np.nan),
            "roi": _per_day(at_horizon, calendar),
            "payer_share": np.where(new > 0, payers / new, np.nan),
        })
    return frame[list(KPI_DAILY_COLUMNS)]
