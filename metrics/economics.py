"""Unit economics and daily money series over [start, min(end, O)]: channel economics, spend, revenue, new users."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from metrics.dialect import date_of, day_start, float_sum, month_start, week_start
from metrics.filters import ALL_USERS, Filters, resolve_period
from metrics.frames import DATETIME_UNIT, conform, empty_frame, read_frame, sort_frame
from metrics.query import UNSET, MetricQuery, as_query, reads
from metrics.profiles import (
    attribute_conditions,
    costs_by_day_select,
    filtered_users_select,
    next_day_start,
    profile_source,
    profiled_users_select,
    profiles_select,
)



def _bucket(grain, dt_column):
    if grain == "dt":
        return dt_column
    if grain == "week":
        return week_start(dt_column)
    if grain == "month":
        return month_start(dt_column)
    raise ValueError(f"unknown grain {grain!r}; choose from None, 'dt', 'week', 'month'")


@reads("grain")
def channel_economics(conn: Connection, query: MetricQuery | Filters, grain: str | None = UNSET) -> pd.DataFrame:
    """Return [period,] channel, costs, new_users, cac, unattributed per channel with costs or new users in the period."""
    query = as_query(query, grain=grain)
    filters, grain = query.filters, query.grain
    columns = (["period"] if grain else []) + ["channel", "costs", "new_users", "cac", "unattributed"]
    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(columns)
    o_date = period.observation_date
    # all profiles acquired in the period (unfiltered: they decide which spend is unattributed)
    everyone = (
        profiles_select(o_date, None, dt_from=period.start, dt_to=period.last, with_payer=False,
                        source=profile_source(conn))
        .cte("period_profiles")
        .prefix_with("MATERIALIZED")
    )
    day_costs = (
        costs_by_day_select(o_date, filters.channels)
        .where(db.costs.c.dt >= period.start, db.costs.c.dt <= period.last)
        .subquery("day_costs")
    )
    day_users = (
        sa.select(everyone.c.dt, everyone.c.channel, sa.func.count().label("n"))
        .group_by(everyone.c.dt, everyone.c.channel)
        .subquery("day_users")
    )
    new_key = [_bucket(grain, everyone.c.dt).label("period")] if grain else []
    cost_key = [_bucket(grain, day_costs.c.dt).label("period")] if grain else []
    acquired = (
        sa.select(
            *new_key,
            everyone.c.channel,
            sa.func.count().label("new_users"),
            float_sum(everyone.c.acquisition_cost).label("costs"),
            sa.literal(0.0, sa.Double()).label("unattributed"),
        )
        .where(*attribute_conditions(everyone.c, filters))
        .group_by(*new_key, everyone.c.channel)
    )
    spend = (
        sa.select(
            *cost_key,
            day_costs.c.channel,
            sa.literal(0, sa.BigInteger()).label("new_users"),
            sa.literal(0.0, sa.Double()).label("costs"),
            float_sum(sa.case((day_users.c.n.is_(None), day_costs.c.costs), else_=0.0)).label("unattributed"),
        )
        .select_from(
            day_costs.outerjoin(
                day_users, sa.and_(day_users.c.dt == day_costs.c.dt, day_users.c.channel == day_costs.c.channel)
            )
        )
        .group_by(*cost_key, day_costs.c.channel)
    )
    both = sa.union_all(acquired, spend).subquery("channel_rows")
    key = ([both.c.period] if grain else []) + [both.c.channel]
    stmt = sa.select(
        *key,
        float_sum(both.c.costs).label("costs"),
        sa.func.sum(both.c.new_users).label("new_users"),
        float_sum(both.c.unattributed).label("unattributed"),
    ).group_by(*key)
    frame = conform(read_frame(conn, stmt))
    frame["cac"] = frame["costs"] / frame["new_users"].where(frame["new_users"] > 0)
    frame = conform(frame[columns])
    return sort_frame(frame, (["period"] if grain else []) + ["channel"])


@reads("dimensions")
def new_users(conn: Connection, query: MetricQuery | Filters, dimensions=UNSET) -> pd.DataFrame:
    """Return [*dims|cohort, new_users]: filtered profiles with dt in [start, min(end, O)] grouped by `dimensions`
    (bare Filters: by ('dt',))."""
    query = as_query(query, defaults={"dimensions": ("dt",)}, dimensions=dimensions)
    filters, dims = query.filters, query.dimensions
    group_cols = list(dims) if dims else ["cohort"]
    columns = [*group_cols, "new_users"]
    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(columns)
    p = profiles_select(
        period.observation_date, filters, dt_from=period.start, dt_to=period.last,
        with_payer="payer" in dims, with_cost=False, source=profile_source(conn),
    ).subquery("profiles")
    key = [p.c[d] for d in dims]
    stmt = sa.select(*key, sa.func.count().label("new_users")).select_from(p).group_by(*key)
    frame = read_frame(conn, stmt.having(sa.func.count() > 0))
    if frame.empty:
        return empty_frame(columns)
    frame = conform(frame)
    if not dims:
        frame.insert(0, "cohort", ALL_USERS)
        frame["cohort"] = frame["cohort"].astype(str)
    return sort_frame(frame[columns], group_cols)


def _profile_users(conn, observation_date, filters: Filters) -> sa.Select:
    """Return a SELECT of user_id of the filtered users that have a profile as of O."""
    source = profile_source(conn)
    users = filtered_users_select(observation_date, filters, source=source)
    if users is not None:
        return users
    return profiled_users_select(observation_date, source)


@reads()
def daily_revenue(conn: Connection, query: MetricQuery | Filters) -> pd.DataFrame:
    """Return [date, revenue, orders, payers] for every date of the period: orders of the filtered users."""
    filters = as_query(query).filters
    columns = ["date", "revenue", "orders", "payers"]
    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(columns)
    o = db.orders
    day = date_of(o.c.event_dt)
    stmt = (
        sa.select(
            day.label("date"),
            float_sum(o.c.revenue).label("revenue"),
            sa.func.count().label("orders"),
            sa.func.count(sa.distinct(o.c.user_id)).label("payers"),
        )
        .where(
            o.c.event_dt >= day_start(period.start),
            o.c.event_dt < next_day_start(period.last),
            o.c.user_id.in_(_profile_users(conn, period.observation_date, filters)),
        )
        .group_by(day)
    )
    frame = conform(read_frame(conn, stmt))
    calendar = pd.date_range(period.start, period.last, freq="D").astype(DATETIME_UNIT)
    out = frame.set_index("date").reindex(calendar)
    result = pd.DataFrame({
        "date": calendar,
        "revenue": out["revenue"].fillna(0.0).to_numpy(),
        "orders": out["orders"].fillna(0).to_numpy(),
        "payers": out["payers"].fillna(0).to_numpy(),
    })
    return conform(result)


@reads()
def daily_spend(conn: Connection, query: MetricQuery | Filters) -> pd.DataFrame:
    """Return [date, channel, costs]: cost rows with dt in the period summed per (date, channel); channel filter only."""
    filters = as_query(query).filters
    columns = ["date", "channel", "costs"]
    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(columns)
    c = db.costs
    stmt = (
        costs_by_day_select(period.observation_date, filters.channels)
        .where(c.c.dt >= period.start, c.c.dt <= period.last)
    )
    frame = read_frame(conn, stmt).rename(columns={"dt": "date"})
    if frame.empty:
        return empty_frame(columns)
    return sort_frame(conform(frame[columns]), ["date", "channel"])


@reads()
def spend_daily_by_rule(conn: Connection, query: MetricQuery | Filters) -> pd.DataFrame:
    """Return [date, channel, costs]: the contract's one spend rule per day and channel, for every spend figure.

    Without a region or device filter: the cost rows with dt in the period (the channel filter applies), as
    `daily_spend`. With a region or device filter (spend has no country or device): the spend attributed to the
    filtered new users of the period, the sum of their acquisition_cost per (dt, channel) that has cost rows.
    """
    filters = as_query(query).filters
    if not (filters.regions or filters.devices):
        return daily_spend(conn, filters)
    columns = ["date", "channel", "costs"]
    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(columns)
    new = profiles_select(period.observation_date, filters, dt_from=period.start, dt_to=period.last,
                          with_payer=False, source=profile_source(conn)).subquery("new_profiles")
    day_costs = (costs_by_day_select(period.observation_date, filters.channels)
                 .where(db.costs.c.dt >= period.start, db.costs.c.dt <= period.last)
                 .subquery("day_costs"))
    stmt = (
        sa.select(new.c.dt.label("date"), new.c.channel, float_sum(new.c.acquisition_cost).label("costs"))
        .select_from(new.join(day_costs, sa.and_(day_costs.c.dt == new.c.dt, day_costs.c.channel == new.c.channel)))
        .group_by(new.c.dt, new.c.channel)
    )
    frame = read_frame(conn, stmt)
    if frame.empty:
        return empty_frame(columns)
    return sort_frame(conform(frame[columns]), ["date", "channel"])


def data_bounds(conn: Connection) -> dict:
    """Return {'first_date', 'last_date', 'regions', 'devices', 'channels', 'has_visits', 'has_orders'}: the filter
    options found in the data (dates of the orders when there is no visit)."""
    v, c = db.visits, db.costs
    from metrics.filters import data_date_range

    if not db.schema_exists(conn):  # a new database (DATABASE_URL) before its first import: nothing to show yet
        return {"first_date": None, "last_date": None, "has_visits": False, "has_orders": False,
                "regions": [], "devices": [], "channels": []}
    first, last = data_date_range(conn)
    has_visits = conn.execute(sa.select(v.c.user_id).limit(1)).first() is not None
    has_orders = conn.execute(sa.select(db.orders.c.user_id).limit(1)).first() is not None

    def distinct(column) -> set[str]:
        return {str(x) for x in conn.execute(sa.select(column).distinct()).scalars()}

    return {
        "first_date": first,
        "last_date": last,
        "has_visits": has_visits,
        "has_orders": has_orders,
        "regions": sorted(distinct(v.c.region)),
        "devices": sorted(distinct(v.c.device)),
        "channels": sorted(distinct(v.c.channel) | distinct(c.c.channel)),
    }


@reads()
def users_by_attributes(conn: Connection, query: MetricQuery | Filters) -> pd.DataFrame:
    """Return region, device, channel, users: the users to date (first visit on or before min(end, O)) of each
    combination of attributes, whatever the query's attribute filters (the filter bar narrows its options with it)."""
    period = resolve_period(conn, as_query(query).filters)
    columns = ["region", "device", "channel", "users"]
    if not db.schema_exists(conn) or period.is_empty:
        return empty_frame(columns)
    p = profiles_select(period.observation_date, None, dt_to=period.last, with_payer=False, with_cost=False,
                        source=profile_source(conn)).subquery("profiles")
    stmt = (sa.select(p.c.region, p.c.device, p.c.channel, sa.func.count().label("users"))
            .group_by(p.c.region, p.c.device, p.c.channel)
            .order_by(p.c.region, p.c.device, p.c.channel))
    frame = read_frame(conn, stmt)
    if frame.empty:
        return empty_frame(columns)
    frame[["region", "device", "channel"]] = frame[["region", "device", "channel"]].astype(str)
    return frame.astype({"users": "int64"}).reset_index(drop=True)
