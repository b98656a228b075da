"""Cohort metrics (retention, conversion, LTV, ROI, payback) from one lifetime-aggregate query.

Shape of the SQL: the cohort (filtered profiles with start <= dt <= O - (H - 1)) is one materialised
CTE; visits and orders are joined to it, the lifetime is computed in SQL, and only aggregates per
(group, lifetime) come back (distinct users, revenue). Every lifetime 0..H-1 is then filled per group
and cumulated (conversion, LTV, ROI) on those few aggregated rows.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from metrics.dialect import float_sum, whole_days
from metrics.filters import ALL_USERS, Filters, resolve_period
from metrics.frames import conform, empty_frame, read_frame, sort_frame
from metrics.query import UNSET, MetricQuery, as_query, reads
from metrics.profiles import next_day_start, profile_source, profiles_select

COHORT_KINDS = ("retention", "conversion", "ltv", "roi")

# aggregate row kinds of the one query
_SIZE, _PAID_SIZE, _VISIT, _FIRST_ORDER, _REVENUE, _PAID_REVENUE = (
    "size", "paid_size", "visit", "first_order", "revenue", "paid_revenue",
)


def cohort_bounds(conn: Connection, filters: Filters, horizon: int, ignore_horizon: bool):
    """Return (period, first cohort date, last cohort date): [start, O - (H - 1)] or [start, O] when ignoring H."""
    period = resolve_period(conn, filters)
    last = period.observation_date if ignore_horizon else period.observation_date - _dt.timedelta(days=horizon - 1)
    return period, period.start, last


def _group_columns(dims: tuple[str, ...]) -> list[str]:
    return list(dims) if dims else ["cohort"]


def _aggregate_rows(conn: Connection, filters: Filters, horizon: int, dims: tuple[str, ...],
                    ignore_horizon: bool, kinds: set[str]) -> pd.DataFrame:
    """Return the aggregates [kind, *dims, lifetime, users, amount] of the requested kinds, in one query."""
    period, first_dt, last_dt = cohort_bounds(conn, filters, horizon, ignore_horizon)
    o_date = period.observation_date
    if last_dt < first_dt:
        return pd.DataFrame(columns=["kind", *dims, "lifetime", "users", "amount"])
    cohort = (
        profiles_select(o_date, filters, dt_from=first_dt, dt_to=last_dt, with_paid=True,
                        source=profile_source(conn))
        .cte("cohort")
        .prefix_with("MATERIALIZED")
    )
    # an event of lifetime <= H - 1 happens before first_ts + H days < (last cohort date + 1 day) + H days
    ts_limit = min(next_day_start(o_date), next_day_start(last_dt) + _dt.timedelta(days=horizon))
    ts_from = next_day_start(first_dt) - _dt.timedelta(days=1)
    dim_cols = [cohort.c[d] for d in dims]
    null_lifetime = sa.cast(sa.null(), sa.BigInteger())
    parts = []

    def kind_label(kind):
        return sa.literal_column(f"'{kind}'", sa.String()).label("kind")  # a constant of this module

    if kinds & {_SIZE}:
        parts.append(
            sa.select(kind_label(_SIZE), *dim_cols, null_lifetime.label("lifetime"),
                      sa.func.count().label("users"),
                      float_sum(cohort.c.acquisition_cost).label("amount"))
            .select_from(cohort)
            .group_by(*dim_cols)
            .having(sa.func.count() > 0)
        )
    if kinds & {_PAID_SIZE}:
        parts.append(
            sa.select(kind_label(_PAID_SIZE), *dim_cols, null_lifetime.label("lifetime"),
                      sa.func.count().label("users"),
                      float_sum(cohort.c.acquisition_cost).label("amount"))
            .select_from(cohort)
            .where(cohort.c.paid == sa.true())
            .group_by(*dim_cols)
            .having(sa.func.count() > 0)
        )
    if _VISIT in kinds:
        v = db.visits
        lifetime = whole_days(v.c.session_start, cohort.c.first_ts)
        user_days = (
            sa.select(cohort.c.user_id, *dim_cols, lifetime.label("lifetime"))
            .select_from(cohort.join(v, v.c.user_id == cohort.c.user_id))
            .where(v.c.session_start >= ts_from, v.c.session_start < ts_limit, lifetime < horizon)
            .distinct()
            .subquery("user_lifetimes")
        )
        ud_dims = [user_days.c[d] for d in dims]
        parts.append(
            sa.select(kind_label(_VISIT), *ud_dims, user_days.c.lifetime, sa.func.count().label("users"),
                      sa.cast(sa.null(), sa.Double()).label("amount"))
            .group_by(*ud_dims, user_days.c.lifetime)
        )
    if _FIRST_ORDER in kinds:
        o = db.orders
        first_orders = (
            sa.select(o.c.user_id, sa.func.min(o.c.event_dt).label("first_order_ts"))
            .where(o.c.event_dt < next_day_start(o_date))
            .group_by(o.c.user_id)
            .subquery("first_orders")
        )
        lifetime = whole_days(first_orders.c.first_order_ts, cohort.c.first_ts)
        parts.append(
            sa.select(kind_label(_FIRST_ORDER), *dim_cols, lifetime.label("lifetime"), sa.func.count().label("users"),
                      sa.cast(sa.null(), sa.Double()).label("amount"))
            .select_from(cohort.join(first_orders, first_orders.c.user_id == cohort.c.user_id))
            .where(lifetime < horizon)
            .group_by(*dim_cols, lifetime)
        )
    for kind in (_REVENUE, _PAID_REVENUE):
        if kind not in kinds:
            continue
        o = db.orders
        lifetime = whole_days(o.c.event_dt, cohort.c.first_ts)
        stmt = (
            sa.select(kind_label(kind), *dim_cols, lifetime.label("lifetime"), sa.func.count().label("users"),
                      float_sum(o.c.revenue).label("amount"))
            .select_from(cohort.join(o, o.c.user_id == cohort.c.user_id))
            .where(o.c.event_dt < ts_limit, lifetime < horizon)
        )
        if kind == _PAID_REVENUE:
            stmt = stmt.where(cohort.c.paid == sa.true())
        parts.append(stmt.group_by(*dim_cols, lifetime))
    stmt = parts[0] if len(parts) == 1 else sa.union_all(*parts)
    frame = read_frame(conn, stmt)
    frame["users"] = frame["users"].astype("int64")
    frame["amount"] = pd.to_numeric(frame["amount"], errors="coerce").astype("float64")
    frame["kind"] = frame["kind"].astype(str)
    return frame


def _grid(sizes: pd.DataFrame, group_cols: list[str], horizon: int) -> pd.DataFrame:
    """Return every (group, lifetime 0..H-1) of the groups in `sizes`."""
    lifetimes = pd.DataFrame({"lifetime": np.arange(horizon, dtype="int64")})
    return sizes.merge(lifetimes, how="cross")


def _series(frame: pd.DataFrame, kind: str, group_cols: list[str], column: str) -> pd.DataFrame:
    part = frame[frame["kind"] == kind]
    out = part[[*group_cols, "lifetime", column]].copy()
    out["lifetime"] = out["lifetime"].astype("int64")
    return out


def _prepare(frame: pd.DataFrame, dims: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """Conform the dimension columns and add the `cohort` column when there is no dimension."""
    group_cols = _group_columns(dims)
    frame = conform(frame)
    if not dims:
        frame.insert(1, "cohort", ALL_USERS)
        frame["cohort"] = frame["cohort"].astype(str)
    return frame, group_cols


def _metric_table(frame: pd.DataFrame, dims: tuple[str, ...], horizon: int, size_kind: str, event_kind: str,
                  column: str, cumulative: bool, with_cac: bool) -> pd.DataFrame:
    """Return [*group, cohort_size, (cac,) lifetime, value] for every lifetime of every group with a cohort."""
    frame, group_cols = _prepare(frame, dims)
    sizes = frame[frame["kind"] == size_kind][[*group_cols, "users", "amount"]].rename(columns={"users": "cohort_size"})
    sizes["cohort_size"] = sizes["cohort_size"].astype("int64")
    sizes["cac"] = sizes["amount"] / sizes["cohort_size"]
    sizes = sizes.drop(columns=["amount"])
    if with_cac:
        sizes = sizes[sizes["cac"] != 0]
    grid = _grid(sizes, group_cols, horizon)
    events = _series(frame, event_kind, group_cols, column).rename(columns={column: "event"})
    table = grid.merge(events, on=[*group_cols, "lifetime"], how="left")
    table["event"] = table["event"].fillna(0).astype("float64")
    table = sort_frame(table, [*group_cols, "lifetime"])
    if cumulative and len(table):
        table["event"] = table.groupby(group_cols, sort=False, dropna=False)["event"].cumsum()
    table["value"] = table["event"] / table["cohort_size"]
    if with_cac:
        table["value"] = table["value"] / table["cac"]
        columns = [*group_cols, "cohort_size", "cac", "lifetime", "value"]
    else:
        columns = [*group_cols, "cohort_size", "lifetime", "value"]
    out = conform(table[columns].reset_index(drop=True))
    return out


def _columns(dims: tuple[str, ...], with_cac: bool) -> list[str]:
    group_cols = _group_columns(dims)
    return [*group_cols, "cohort_size", *(["cac"] if with_cac else []), "lifetime", "value"]


def _run(conn, query: MetricQuery, kinds):
    """Return (the aggregated rows of `kinds`, horizon, dimensions) of `query`."""
    frame = _aggregate_rows(conn, query.filters, query.horizon, query.dimensions, query.ignore_horizon, kinds)
    return frame, query.horizon, query.dimensions


def _query(query, horizon, dimensions, ignore_horizon) -> MetricQuery:
    """Return the MetricQuery of a cohort metric call (bare Filters: horizon 14, no dimensions)."""
    return as_query(query, horizon=horizon, dimensions=dimensions, ignore_horizon=ignore_horizon)


def _finish(frame, dims, horizon, size_kind, event_kind, column, cumulative, with_cac):
    if frame.empty:
        return empty_frame(_columns(dims, with_cac))
    return _metric_table(frame, dims, horizon, size_kind, event_kind, column, cumulative, with_cac)


@reads("horizon", "dimensions", "ignore_horizon")
def retention(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, dimensions=UNSET,
              ignore_horizon: bool = UNSET) -> pd.DataFrame:
    """Return retention: [*dims|cohort, cohort_size, lifetime, value], share of the cohort with a visit at lifetime k."""
    frame, horizon, dims = _run(conn, _query(query, horizon, dimensions, ignore_horizon), {_SIZE, _VISIT})
    return _finish(frame, dims, horizon, _SIZE, _VISIT, "users", False, False)


@reads("horizon", "dimensions", "ignore_horizon")
def conversion(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, dimensions=UNSET,
               ignore_horizon: bool = UNSET) -> pd.DataFrame:
    """Return conversion: [*dims|cohort, cohort_size, lifetime, value], share whose first order has lifetime <= k."""
    frame, horizon, dims = _run(conn, _query(query, horizon, dimensions, ignore_horizon), {_SIZE, _FIRST_ORDER})
    return _finish(frame, dims, horizon, _SIZE, _FIRST_ORDER, "users", True, False)


@reads("horizon", "dimensions", "ignore_horizon")
def ltv(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, dimensions=UNSET,
        ignore_horizon: bool = UNSET) -> pd.DataFrame:
    """Return LTV: [*dims|cohort, cohort_size, lifetime, value], revenue of lifetimes <= k per cohort user."""
    frame, horizon, dims = _run(conn, _query(query, horizon, dimensions, ignore_horizon), {_SIZE, _REVENUE})
    return _finish(frame, dims, horizon, _SIZE, _REVENUE, "amount", True, False)


@reads("horizon", "dimensions", "ignore_horizon")
def roi(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, dimensions=UNSET,
        ignore_horizon: bool = UNSET) -> pd.DataFrame:
    """Return ROI of the paid cohort: [*dims|cohort, cohort_size, cac, lifetime, value]; groups with cac 0 omitted."""
    frame, horizon, dims = _run(conn, _query(query, horizon, dimensions, ignore_horizon), {_PAID_SIZE, _PAID_REVENUE})
    return _finish(frame, dims, horizon, _PAID_SIZE, _PAID_REVENUE, "amount", True, True)


def _payback_from_roi(roi_table: pd.DataFrame, dims: tuple[str, ...]) -> pd.DataFrame:
    group_cols = _group_columns(dims)
    columns = [*group_cols, "cohort_size", "cac", "payback_day"]
    if roi_table.empty:
        return empty_frame(columns)
    keys = [*group_cols, "cohort_size", "cac"]
    groups = roi_table[keys].drop_duplicates().reset_index(drop=True)
    reached = roi_table[roi_table["value"] >= 1].groupby(group_cols, sort=False, dropna=False)["lifetime"].min()
    reached = reached.rename("payback_day").reset_index()
    out = groups.merge(reached, on=group_cols, how="left")
    out["payback_day"] = out["payback_day"].astype("Int64")
    return sort_frame(conform(out[columns]), group_cols)


@reads("horizon", "dimensions", "ignore_horizon")
def payback(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, dimensions=UNSET,
            ignore_horizon: bool = UNSET) -> pd.DataFrame:
    """Return [*dims|cohort, cohort_size, cac, payback_day]: smallest lifetime with ROI >= 1 (<NA> if never within H)."""
    query = _query(query, horizon, dimensions, ignore_horizon)
    return _payback_from_roi(roi(conn, query), query.dimensions)


@reads("horizon", "dimensions", "ignore_horizon")
def cohort_report(conn: Connection, query: MetricQuery | Filters, horizon: int = UNSET, dimensions=UNSET,
                  ignore_horizon: bool = UNSET) -> dict[str, pd.DataFrame]:
    """Return {'retention', 'conversion', 'ltv', 'roi', 'payback'} frames computed from ONE database query."""
    kinds = {_SIZE, _PAID_SIZE, _VISIT, _FIRST_ORDER, _REVENUE, _PAID_REVENUE}
    frame, horizon, dims = _run(conn, _query(query, horizon, dimensions, ignore_horizon), kinds)
    report = {
        "retention": _finish(frame, dims, horizon, _SIZE, _VISIT, "users", False, False),
        "conversion": _finish(frame, dims, horizon, _SIZE, _FIRST_ORDER, "users", True, False),
        "ltv": _finish(frame, dims, horizon, _SIZE, _REVENUE, "amount", True, False),
        "roi": _finish(frame, dims, horizon, _PAID_SIZE, _PAID_REVENUE, "amount", True, True),
    }
    report["payback"] = _payback_from_roi(report["roi"], dims)
    return report


def to_wide(df: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Return one row per group (columns before `lifetime`) with lifetimes as integer columns 0, 1, ... holding `value`."""
    if "lifetime" not in df.columns:
        raise ValueError("to_wide needs a long frame with a 'lifetime' column")
    keys = [c for c in df.columns[: list(df.columns).index("lifetime")]]
    wide = df.pivot_table(index=keys, columns="lifetime", values=value, aggfunc="first", sort=False, dropna=False)
    wide.columns = [int(c) for c in wide.columns]
    wide.columns.name = None
    return sort_frame(wide.reset_index(), keys)
