"""Snapshot features and the "activity declined" label, computed inside the database.

A snapshot at cutoff date T has one row per *eligible* customer: a user with at least one order
whose date(event_dt) lies in (T - lookback_days, T] and, when min_tenure_days = M > 0 (opt-in,
default 0), a first visit or order dated on or before T - M, so that the customer's activity has had
time to settle after the install burst. Every feature reads only events whose date is
<= T (visits by date(session_start), orders by date(event_dt), costs by dt). The label reads only
events in (T, T + P]; features and label come from separate sub-queries, so nothing after T can
reach a feature.

Label (P = horizon_days, default 30; L = lookback_days, default 90), with "usual" = the customer's
count over the lookback dates (T - L, T] scaled to P days (x P / L) and "next" = dates in (T, T + P]:

    declined = 1  when  orders_next < 0.5 * usual_orders   AND   visits_next < 0.5 * usual_visits

(counts of orders and of visits): purchases fall below half the customer's usual pace and the visits
confirm it. Either count alone is noise for a shop's regular customers: with about one order a
month, a month without an order happens to steady customers all the time, and a single month's
visits against the month before flags every customer whose last month was a lucky one. The usual
pace over the whole lookback (the window that makes a customer eligible) is steadier than one month.

All aggregation happens in SQL (SQLAlchemy Core, the same query on DuckDB, SQLite and PostgreSQL,
dialect constructs and the profiles subquery from `metrics/`);
only one row per eligible customer comes back. Windows are compared against bound timestamps
(`session_start >= day_start`), never with string-built SQL.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from metrics.dialect import date_of, float_sum, seconds_between
from metrics.profiles import profiles_select

WINDOWS = (30, 60, 90)
RECENCY_CAP_DAYS = 365
UNKNOWN = "unknown"

NUMERIC_FEATURES = [
    "visits_30", "visits_60", "visits_90", "visits_trend",
    "minutes_30", "minutes_60", "minutes_90", "minutes_trend",
    "active_days_30", "active_days_60", "active_days_90", "active_days_trend",
    "days_since_last_visit", "days_since_last_order", "days_since_first_visit",
    "orders_30", "orders_60", "orders_90", "orders_trend", "orders_total",
    "revenue_90", "revenue_total", "avg_order_value", "days_first_to_last_order",
    "acquisition_cost",
]
CATEGORICAL_FEATURES = ["channel", "device", "region"]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
LABEL = "label"

LABEL_DEFINITION = (
    "declined = 1 when orders in (T, T+P] < 0.5 x orders in (T-L, T] x P/L "
    "AND visits in (T, T+P] < 0.5 x visits in (T-L, T] x P/L; dates are date(event_dt) and date(session_start); "
    "eligible = at least one order with date in (T-L, T] (and, when M > 0, a first visit or order dated <= T-M); "
    "P = horizon_days, L = lookback_days, M = min_tenure_days"
)
DEFAULT_MIN_TENURE_DAYS = 0  # opt-in: `train --min-tenure-days 60` (docs/churn_model.md)


# --- helpers --------------------------------------------------------------------------------------

def day_start(day: date) -> datetime:
    """Return midnight at the start of `day` (the bound used for date windows)."""
    return datetime.combine(day, time())


def _in_dates(column, first_day: date, last_day: date):
    """SQL condition: date(column) in [first_day, last_day], written on the raw timestamp."""
    return sa.and_(column >= day_start(first_day), column < day_start(last_day + timedelta(days=1)))


def _last_days(column, cutoff: date, days: int):
    """SQL condition: date(column) in (cutoff - days, cutoff]."""
    return _in_dates(column, cutoff - timedelta(days=days - 1), cutoff)


def _count_if(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _sum_if(condition, value):
    return sa.func.coalesce(float_sum(sa.case((condition, value), else_=0.0)), 0.0)


def eligible_users(cutoff: date, lookback_days: int = 90, min_tenure_days: int = 0):
    """Return a subquery of the eligible user ids: >= 1 order with date in (cutoff - lookback_days, cutoff]
    and, when min_tenure_days > 0, a first visit or order dated on or before cutoff - min_tenure_days."""
    o, v = db.orders, db.visits
    query = sa.select(o.c.user_id).where(_last_days(o.c.event_dt, cutoff, lookback_days))
    if min_tenure_days > 0:
        seen_by = day_start(cutoff - timedelta(days=min_tenure_days - 1))  # dates <= cutoff - min_tenure_days
        seen_early = sa.union(
            sa.select(v.c.user_id).where(v.c.session_start < seen_by),
            sa.select(o.c.user_id).where(o.c.event_dt < seen_by),
        )
        query = query.where(o.c.user_id.in_(seen_early))
    return query.group_by(o.c.user_id).subquery("eligible")


def profiles_subquery(cutoff: date):
    """Return the metrics layer's profiles as of `cutoff` as a subquery (user_id, first_ts, region, device,
    channel, acquisition_cost = costs(dt, channel) / N profiles that day and channel)."""
    return profiles_select(cutoff, with_payer=False, with_cost=True).subquery("profiles")


def _visit_features(cutoff: date, eligible):
    v = db.visits
    seconds = seconds_between(v.c.session_end, v.c.session_start)
    columns = [v.c.user_id, sa.func.max(v.c.session_start).label("last_visit_ts")]
    for days in WINDOWS:
        window = _last_days(v.c.session_start, cutoff, days)
        columns += [
            _count_if(window).label(f"visits_{days}"),
            _sum_if(window, seconds).label(f"seconds_{days}"),
            sa.func.count(sa.distinct(sa.case((window, date_of(v.c.session_start)), else_=None)))
            .label(f"active_days_{days}"),
        ]
    return (
        sa.select(*columns)
        .select_from(v.join(eligible, eligible.c.user_id == v.c.user_id))
        .where(v.c.session_start < day_start(cutoff + timedelta(days=1)))
        .group_by(v.c.user_id)
        .subquery("visit_features")
    )


def _order_features(cutoff: date, eligible):
    o = db.orders
    columns = [
        o.c.user_id,
        sa.func.count().label("orders_total"),
        float_sum(o.c.revenue).label("revenue_total"),
        sa.func.min(o.c.event_dt).label("first_order_ts"),
        sa.func.max(o.c.event_dt).label("last_order_ts"),
        _sum_if(_last_days(o.c.event_dt, cutoff, 90), o.c.revenue).label("revenue_90"),
    ]
    for days in WINDOWS:
        columns.append(_count_if(_last_days(o.c.event_dt, cutoff, days)).label(f"orders_{days}"))
    return (
        sa.select(*columns)
        .select_from(o.join(eligible, eligible.c.user_id == o.c.user_id))
        .where(o.c.event_dt < day_start(cutoff + timedelta(days=1)))
        .group_by(o.c.user_id)
        .subquery("order_features")
    )


def _label_counts(cutoff: date, horizon_days: int, lookback_days: int, eligible):
    """Subqueries: per eligible user, visits and orders in (T-L, T] (`_prev`) and in (T, T+P] (`_next`)."""
    prev_first, prev_last = cutoff - timedelta(days=lookback_days - 1), cutoff
    next_first, next_last = cutoff + timedelta(days=1), cutoff + timedelta(days=horizon_days)
    v, o = db.visits, db.orders

    def counts(table, ts, kind: str):
        """Per eligible user: events of `table` (dated by `ts`) in (T-L, T] and in (T, T+P]."""
        return (
            sa.select(
                table.c.user_id,
                _count_if(_in_dates(ts, prev_first, prev_last)).label(f"{kind}_prev"),
                _count_if(_in_dates(ts, next_first, next_last)).label(f"{kind}_next"),
            )
            .select_from(table.join(eligible, eligible.c.user_id == table.c.user_id))
            .where(_in_dates(ts, prev_first, next_last))
            .group_by(table.c.user_id)
            .subquery(f"label_{kind}")
        )

    visit_counts, order_counts = counts(v, v.c.session_start, "visits"), counts(o, o.c.event_dt, "orders")
    return visit_counts, order_counts


def snapshot_query(cutoff: date, horizon_days: int = 30, lookback_days: int = 90, with_label: bool = True,
                   min_tenure_days: int = 0):
    """Return the SQLAlchemy SELECT of one row per eligible customer: raw aggregates (and label counts)."""
    eligible = eligible_users(cutoff, lookback_days, min_tenure_days)
    visits_f = _visit_features(cutoff, eligible)
    orders_f = _order_features(cutoff, eligible)
    profiles = profiles_subquery(cutoff)
    columns = [
        eligible.c.user_id,
        *[c for c in visits_f.c if c.name != "user_id"],
        *[c for c in orders_f.c if c.name != "user_id"],
        profiles.c.first_ts, profiles.c.region, profiles.c.device, profiles.c.channel,
        profiles.c.acquisition_cost,
    ]
    joined = (
        eligible.outerjoin(visits_f, visits_f.c.user_id == eligible.c.user_id)
        .join(orders_f, orders_f.c.user_id == eligible.c.user_id)
        .outerjoin(profiles, profiles.c.user_id == eligible.c.user_id)
    )
    if with_label:
        label_visits, label_orders = _label_counts(cutoff, horizon_days, lookback_days, eligible)
        columns += [
            sa.func.coalesce(label_visits.c.visits_prev, 0).label("visits_prev"),
            sa.func.coalesce(label_visits.c.visits_next, 0).label("visits_next"),
            sa.func.coalesce(label_orders.c.orders_prev, 0).label("orders_prev"),
            sa.func.coalesce(label_orders.c.orders_next, 0).label("orders_next"),
        ]
        joined = (
            joined.outerjoin(label_visits, label_visits.c.user_id == eligible.c.user_id)
            .outerjoin(label_orders, label_orders.c.user_id == eligible.c.user_id)
        )
    return sa.select(*columns).select_from(joined).order_by(eligible.c.user_id)


def _days_before(cutoff: date, timestamps: pd.Series) -> pd.Series:
    """Whole days from date(timestamp) to cutoff (float, NaN when the timestamp is missing)."""
    ts = pd.to_datetime(timestamps, errors="coerce")
    return (pd.Timestamp(cutoff) - ts.dt.normalize()).dt.days.astype("float64")


def _trend(last: pd.Series, previous: pd.Series) -> pd.Series:
    """Relative change of the last window versus the one before: (last - prev) / max(prev, 1)."""
    return (last - previous) / np.maximum(previous, 1.0)


def derive_features(raw: pd.DataFrame, cutoff: date, horizon_days: int = 30, lookback_days: int = 90) -> pd.DataFrame:
    """Return the feature frame (index user_id) from the raw per-customer aggregates of `snapshot_query`."""
    out = pd.DataFrame(index=pd.Index(raw["user_id"].astype(str), name="user_id"))
    num = lambda name: pd.to_numeric(raw[name], errors="coerce").fillna(0.0).astype("float64").to_numpy()  # noqa: E731
    for days in WINDOWS:
        out[f"visits_{days}"] = num(f"visits_{days}")
        out[f"minutes_{days}"] = num(f"seconds_{days}") / 60.0
        out[f"active_days_{days}"] = num(f"active_days_{days}")
    for name in ("visits", "minutes", "active_days"):
        last, sixty = out[f"{name}_30"], out[f"{name}_60"]
        out[f"{name}_trend"] = _trend(last, sixty - last)
    days_since_visit = _days_before(cutoff, raw["last_visit_ts"]).to_numpy()
    days_since_order = _days_before(cutoff, raw["last_order_ts"]).to_numpy()
    days_since_first_visit = _days_before(cutoff, raw["first_ts"]).to_numpy()
    days_since_first_order = _days_before(cutoff, raw["first_order_ts"]).to_numpy()
    out["days_since_last_visit"] = np.minimum(np.nan_to_num(days_since_visit, nan=RECENCY_CAP_DAYS), RECENCY_CAP_DAYS)
    out["days_since_last_order"] = np.minimum(days_since_order, RECENCY_CAP_DAYS)
    out["days_since_first_visit"] = np.where(
        np.isnan(days_since_first_visit), days_since_first_order, days_since_first_visit)
    for days in WINDOWS:
        out[f"orders_{days}"] = num(f"orders_{days}")
    out["orders_trend"] = _trend(out["orders_30"], out["orders_60"] - out["orders_30"])
    out["orders_total"] = num("orders_total")
    out["revenue_90"] = num("revenue_90")
    out["revenue_total"] = num("revenue_total")
    out["avg_order_value"] = out["revenue_total"] / np.maximum(out["orders_total"], 1.0)
    out["days_first_to_last_order"] = days_since_first_order - days_since_order
    out["acquisition_cost"] = num("acquisition_cost")
    for name in CATEGORICAL_FEATURES:
        values = raw[name].astype(object).where(raw[name].notna(), UNKNOWN)
        out[name] = pd.array(values.astype(str).to_numpy(), dtype="str")
    out = out[FEATURES]
    if "visits_next" in raw.columns:
        orders_prev, orders_next = num("orders_prev"), num("orders_next")
        visits_prev, visits_next = num("visits_prev"), num("visits_next")
        # next < 0.5 x prev x P / L, compared exactly in integers: 2 L next < P prev
        twice_l, p = 2 * lookback_days, horizon_days
        declined = (twice_l * orders_next < p * orders_prev) & (twice_l * visits_next < p * visits_prev)
        out[LABEL] = declined.astype("int64")
    return out


def build_snapshot(conn: Connection, cutoff: date, horizon_days: int = 30, lookback_days: int = 90,
                   with_label: bool = True, min_tenure_days: int = 0) -> pd.DataFrame:
    """Return one row per eligible customer at `cutoff` (index user_id): the FEATURES columns and `label` (0/1)."""
    if horizon_days < 1 or lookback_days < 1:
        raise ValueError("horizon_days and lookback_days must be >= 1")
    if min_tenure_days < 0:
        raise ValueError("min_tenure_days must be >= 0")
    query = snapshot_query(cutoff, horizon_days, lookback_days, with_label, min_tenure_days)
    result = conn.execute(query)
    raw = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    if raw.empty:
        columns = FEATURES + ([LABEL] if with_label else [])
        return pd.DataFrame(columns=columns, index=pd.Index([], name="user_id", dtype="str"))
    return derive_features(raw, cutoff, horizon_days, lookback_days)


def data_date_range(conn: Connection) -> tuple[date | None, date | None]:
    """Return (first, last) date of session_start or event_dt in the data, None when empty."""
    bounds = []
    for column in (db.visits.c.session_start, db.orders.c.event_dt):
        row = conn.execute(sa.select(sa.func.min(column), sa.func.max(column))).one()
        bounds.append(row)
    firsts = [pd.Timestamp(b[0]).date() for b in bounds if b[0] is not None]
    lasts = [pd.Timestamp(b[1]).date() for b in bounds if b[1] is not None]
    return (min(firsts) if firsts else None, max(lasts) if lasts else None)
