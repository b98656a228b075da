"""Plain pandas reference implementation of the metric contract (`/work/shared/spec/metrics.md`).

Written independently of `metrics/` (shares no code with it) to check the SQL layer: the same
function names, arguments, columns, dtypes and row order as `docs/metrics_api.md`, but taking the
three event frames (`data.visits`, `data.orders`, `data.costs`, or a dict with those keys) instead
of a database connection. Readability first; only vectorised groupby / merge, no per-row loops.

Conventions inside this module: every date is a `pandas.Timestamp` at midnight; `O` is the
observation date; "profiles" are built as of O (visits, orders and costs dated after O are dropped
before anything else is computed).
"""

from __future__ import annotations

import datetime as dt_
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

DIMENSIONS = ("region", "device", "channel", "payer", "dt", "week", "month")
ALL_USERS = "All users"
DAY = pd.Timedelta(days=1)
TS = "datetime64[us]"  # one resolution for every timestamp and date inside this module
SUMMARY_METRICS = ("dau", "wau", "mau", "sticky_wau", "sticky_mau", "sessions", "asl_seconds",
                   "median_session_seconds")
PROFILE_COLUMNS = ["user_id", "first_ts", "dt", "week", "month", "region", "device", "channel", "payer",
                   "acquisition_cost"]


# ----------------------------------------------------------------------------------------------
# Inputs


def _as_date(value: Any) -> dt_.date | None:
    """Return `value` (ISO string, date, datetime, Timestamp or None) as a date or None."""
    if value is None or value == "":
        return None
    return pd.Timestamp(value).date()


def _as_tuple(values: Any) -> tuple[str, ...]:
    """Return the values as a sorted (code-point), de-duplicated tuple of strings."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(sorted({str(v) for v in values}))


@dataclass(frozen=True)
class Filters:
    """Analysis period, observation date and the region / device / channel filters (empty = all)."""

    start: dt_.date | None = None
    end: dt_.date | None = None
    observation_date: dt_.date | None = None
    regions: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    @classmethod
    def make(cls, start=None, end=None, observation_date=None, regions=(), devices=(), channels=()) -> Filters:
        """Return Filters from ISO strings / dates / lists, normalised like the API's Filters.make."""
        return cls(_as_date(start), _as_date(end), _as_date(observation_date),
                   _as_tuple(regions), _as_tuple(devices), _as_tuple(channels))


@dataclass(frozen=True)
class Data:
    """The three event tables as DataFrames with the columns of `dashboard/db.py`."""

    visits: pd.DataFrame
    orders: pd.DataFrame
    costs: pd.DataFrame


class Period(NamedTuple):
    """Resolved period: start, end, observation date and last = min(end, observation date)."""

    start: dt_.date
    end: dt_.date
    observation_date: dt_.date
    last: dt_.date


def _tables(data: Any) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return (visits, orders, costs) with normalised dtypes: text ids, timestamps, midnight dates."""
    if isinstance(data, dict):
        visits, orders, costs = data["visits"], data["orders"], data["costs"]
    else:
        visits, orders, costs = data.visits, data.orders, data.costs
    # Every id gets an integer key `user` (the same id, the same key in both tables): joins and
    # groupings run on integers, the text `user_id` is kept for the profiles output only.
    keys, _ = pd.factorize(pd.concat([visits["user_id"].astype(str), orders["user_id"].astype(str)],
                                     ignore_index=True))
    visits = pd.DataFrame({
        "user": keys[:len(visits)],
        "user_id": visits["user_id"].astype(str).to_numpy(),
        "region": visits["region"].astype(str),
        "device": visits["device"].astype(str),
        "channel": visits["channel"].astype(str),
        "session_start": pd.to_datetime(visits["session_start"]).astype(TS),
        "session_end": pd.to_datetime(visits["session_end"]).astype(TS),
    })
    orders = pd.DataFrame({
        "user": keys[len(visits):],
        "event_dt": pd.to_datetime(orders["event_dt"]).astype(TS),
        "revenue": orders["revenue"].astype("float64"),
    })
    costs = pd.DataFrame({
        "dt": pd.to_datetime(costs["dt"]).astype(TS).dt.normalize(),
        "channel": costs["channel"].astype(str),
        "costs": costs["costs"].astype("float64"),
    })
    return visits, orders, costs


def _ts(day: dt_.date) -> pd.Timestamp:
    return pd.Timestamp(day).as_unit("us")


# ----------------------------------------------------------------------------------------------
# Period, profiles


def resolve_period(data: Any, filters: Filters) -> Period:
    """Return the Period with defaults from the data: first / last date of session_start, O = end."""
    return _resolve(_tables(data)[0], filters)


def _resolve(visits: pd.DataFrame, filters: Filters) -> Period:
    start = filters.start or visits["session_start"].min().date()
    end = filters.end or visits["session_start"].max().date()
    observation = filters.observation_date or end
    return Period(start, end, observation, min(end, observation))


def _week_start(days: pd.Series) -> pd.Series:
    """Monday of each date's ISO week."""
    return days - pd.to_timedelta(days.dt.day_of_week, unit="D")


def _month_start(days: pd.Series) -> pd.Series:
    """First day of each date's month."""
    return days - pd.to_timedelta(days.dt.day - 1, unit="D")


def _all_profiles(visits: pd.DataFrame, orders: pd.DataFrame, costs: pd.DataFrame,
                  observation: pd.Timestamp) -> pd.DataFrame:
    """Every user's profile as of O (unfiltered), with an extra bool column `paid` (paid channel)."""
    seen = visits[visits["session_start"].dt.normalize() <= observation]
    # First visit: smallest session_start; ties by smallest channel, then device, then region.
    earliest = seen.groupby("user")["session_start"].transform("min")
    candidates = seen[seen["session_start"] == earliest]
    tied = candidates["user"].duplicated(keep=False)
    first = pd.concat([
        candidates[~tied],
        candidates[tied].sort_values(["user", "channel", "device", "region"]).drop_duplicates("user"),
    ])
    profiles = pd.DataFrame({
        "user": first["user"].to_numpy(),
        "user_id": first["user_id"].to_numpy(),
        "first_ts": first["session_start"].to_numpy(),
        "region": first["region"].to_numpy(),
        "device": first["device"].to_numpy(),
        "channel": first["channel"].to_numpy(),
    })
    profiles["dt"] = profiles["first_ts"].dt.normalize()
    profiles["week"] = _week_start(profiles["dt"])
    profiles["month"] = _month_start(profiles["dt"])

    paying = orders.loc[orders["event_dt"].dt.normalize() <= observation, "user"]
    profiles["payer"] = profiles["user"].isin(paying)

    spent = costs[costs["dt"] <= observation]
    spend = spent.groupby(["dt", "channel"], as_index=False)["costs"].sum()
    new = profiles.groupby(["dt", "channel"], as_index=False).size()
    per_user = new.merge(spend, on=["dt", "channel"], how="left")
    per_user["acquisition_cost"] = (per_user["costs"] / per_user["size"]).fillna(0.0)
    profiles = profiles.merge(per_user[["dt", "channel", "acquisition_cost"]], on=["dt", "channel"], how="left")
    profiles["paid"] = profiles["channel"].isin(spent["channel"].unique())
    return profiles


def _filtered(profiles: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    """The profiles whose region, device and channel pass the filters (empty filter = all)."""
    keep = pd.Series(True, index=profiles.index)
    for column, allowed in (("region", filters.regions), ("device", filters.devices),
                            ("channel", filters.channels)):
        if allowed:
            keep &= profiles[column].isin(list(allowed))
    return profiles[keep]


class _Context(NamedTuple):
    visits: pd.DataFrame  # as of O
    orders: pd.DataFrame  # as of O
    costs: pd.DataFrame   # as of O
    period: Period
    start: pd.Timestamp
    last: pd.Timestamp
    observation: pd.Timestamp
    all_profiles: pd.DataFrame  # as of O, unfiltered
    profiles: pd.DataFrame      # as of O, filtered (any dt <= O)


def _context(data: Any, filters: Filters) -> _Context:
    """Everything as of O: events, the period, all and filtered profiles."""
    visits, orders, costs = _tables(data)
    period = _resolve(visits, filters)
    observation = _ts(period.observation_date)
    visits = visits[visits["session_start"].dt.normalize() <= observation]
    orders = orders[orders["event_dt"].dt.normalize() <= observation]
    costs = costs[costs["dt"] <= observation]
    all_profiles = _all_profiles(visits, orders, costs, observation)
    return _Context(visits, orders, costs, period, _ts(period.start), _ts(period.last), observation,
                    all_profiles, _filtered(all_profiles, filters))


def profiles(data: Any, filters: Filters) -> pd.DataFrame:
    """Return the filtered user profiles with start <= dt <= min(end, O), sorted by user_id."""
    ctx = _context(data, filters)
    p = ctx.profiles
    p = p[(p["dt"] >= ctx.start) & (p["dt"] <= ctx.last)]
    out = p[PROFILE_COLUMNS].sort_values("user_id", kind="mergesort").reset_index(drop=True)
    return out.astype({"payer": bool, "acquisition_cost": "float64"})


# ----------------------------------------------------------------------------------------------
# Activity


def _period_days(ctx: _Context) -> pd.DatetimeIndex:
    return pd.date_range(ctx.start, ctx.last, freq="D", unit="us") if ctx.start <= ctx.last else \
        pd.DatetimeIndex([], dtype=TS)


def _user_days(ctx: _Context) -> pd.DataFrame:
    """Distinct (user, day) pairs of visits by filtered users (as of O), any date."""
    v = ctx.visits[ctx.visits["user"].isin(ctx.profiles["user"])]
    return pd.DataFrame({"user": v["user"], "day": v["session_start"].dt.normalize()}).drop_duplicates()


def _rolling_distinct(user_days: pd.DataFrame, days: pd.DatetimeIndex, window: int) -> np.ndarray:
    """For each day d of `days`: distinct users with a visit in [d - window + 1, d].

    A user counts on day d exactly when some visit day v has v <= d <= v + window - 1. Each visit
    day v of a user covers [v, min(v + window, next visit day of that user)); these stretches do
    not overlap, so adding +1 at their start and -1 at their end counts every user once per day.
    """
    if len(days) == 0:
        return np.zeros(0, dtype="int64")
    ud = user_days.sort_values(["user", "day"])
    next_day = ud.groupby("user")["day"].shift(-1)
    stop = (ud["day"] + pd.Timedelta(days=window)).where(
        next_day.isna() | (next_day > ud["day"] + pd.Timedelta(days=window)), next_day)
    change = (pd.concat([pd.Series(1, index=ud["day"].to_numpy()), pd.Series(-1, index=stop.to_numpy())])
              .groupby(level=0).sum())
    all_days = change.index.union(days)
    covered = change.reindex(all_days, fill_value=0).sort_index().cumsum()
    return covered.reindex(days).to_numpy(dtype="int64")


def _activity_daily(ctx: _Context) -> pd.DataFrame:
    days = _period_days(ctx)
    ud = _user_days(ctx)
    dau = ud.groupby("day").size().reindex(days, fill_value=0)
    return pd.DataFrame({
        "date": days,
        "dau": dau.to_numpy(dtype="int64"),
        "wau7": _rolling_distinct(ud, days, 7),
        "mau30": _rolling_distinct(ud, days, 30),
    })


def activity_daily(data: Any, filters: Filters) -> pd.DataFrame:
    """Return date, dau, wau7, mau30 for every date of [start, min(end, O)] (filtered users)."""
    return _activity_daily(_context(data, filters))


def _calendar_active(ctx: _Context, bucket) -> pd.DataFrame:
    """Distinct users per calendar bucket (week / month start) over visit days inside the period."""
    buckets = pd.DatetimeIndex(bucket(pd.Series(_period_days(ctx))).unique())
    ud = _user_days(ctx)
    ud = ud[(ud["day"] >= ctx.start) & (ud["day"] <= ctx.last)]
    ud = ud.assign(bucket=bucket(ud["day"]))
    counts = ud.drop_duplicates(["user", "bucket"]).groupby("bucket").size()
    return pd.DataFrame({"start": buckets, "active": counts.reindex(buckets, fill_value=0).to_numpy(dtype="int64")})


def activity_weekly(data: Any, filters: Filters) -> pd.DataFrame:
    """Return week_start, wau for every ISO week intersecting the period (days inside it only)."""
    ctx = _context(data, filters)
    weekly = _calendar_active(ctx, _week_start)
    return pd.DataFrame({"week_start": weekly["start"], "wau": weekly["active"]})


def activity_monthly(data: Any, filters: Filters) -> pd.DataFrame:
    """Return month_start, mau for every month intersecting the period (days inside it only)."""
    ctx = _context(data, filters)
    monthly = _calendar_active(ctx, _month_start)
    return pd.DataFrame({"month_start": monthly["start"], "mau": monthly["active"]})


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def _distinct_in_window(user_days: pd.DataFrame, days: pd.DatetimeIndex, window: int) -> np.ndarray:
    """For each day d of `days`: distinct users with a visit day in [d - window + 1, d] (straightforward)."""
    return np.array([user_days.loc[(user_days["day"] <= d) & (user_days["day"] > d - pd.Timedelta(days=window)),
                                   "user"].nunique() for d in days], dtype="int64")


def activity_summary(data: Any, filters: Filters) -> pd.DataFrame:
    """Return metric, value rows: dau, wau, mau, sticky_wau, sticky_mau, sessions, asl_seconds, median.

    Contract revision 2: DAU, WAU and MAU are the means over every date d of the period of the distinct users with
    a visit on d, in [d-6, d] and in [d-29, d] (windows may reach before start); sticky = DAU / WAU, DAU / MAU.
    """
    ctx = _context(data, filters)
    days = _period_days(ctx)
    ud = _user_days(ctx)
    if len(days):
        dau, wau, mau = (float(_distinct_in_window(ud, days, window).mean()) for window in (1, 7, 30))
    else:
        dau = wau = mau = float("nan")

    v = ctx.visits[ctx.visits["user"].isin(ctx.profiles["user"])]
    started = v["session_start"].dt.normalize()
    v = v[(started >= ctx.start) & (started <= ctx.last)]
    seconds = (v["session_end"] - v["session_start"]).dt.total_seconds()
    values = [dau, wau, mau, _ratio(dau, wau), _ratio(dau, mau), float(len(seconds)),
              float(seconds.mean()) if len(seconds) else float("nan"),
              float(seconds.median()) if len(seconds) else float("nan")]
    return pd.DataFrame({"metric": list(SUMMARY_METRICS), "value": np.array(values, dtype="float64")})


# ----------------------------------------------------------------------------------------------
# Cohorts


def _check(horizon: int, dimensions) -> list[str]:
    """Validate horizon and dimensions; return the group key columns (`cohort` when no dimension)."""
    if int(horizon) < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    dimensions = tuple(dimensions)
    for name in dimensions:
        if name not in DIMENSIONS:
            raise ValueError(f"unknown dimension {name!r}")
    if len(set(dimensions)) != len(dimensions):
        raise ValueError(f"repeated dimension in {dimensions!r}")
    return list(dimensions) or ["cohort"]


def _cohort(ctx: _Context, horizon: int, ignore_horizon: bool) -> pd.DataFrame:
    """Filtered profiles with start <= dt <= O - (H - 1) (or <= O), with a `cohort` column."""
    newest = ctx.observation if ignore_horizon else ctx.observation - pd.Timedelta(days=horizon - 1)
    p = ctx.profiles
    cohort = p[(p["dt"] >= ctx.start) & (p["dt"] <= newest)].copy()
    cohort["cohort"] = ALL_USERS
    return cohort


def _with_lifetime(events: pd.DataFrame, ts_column: str, cohort: pd.DataFrame, keys: list[str],
                   horizon: int) -> pd.DataFrame:
    """Events of cohort users with their group keys and lifetime, kept for lifetimes 0 .. H-1."""
    measures = ["revenue"] if "revenue" in events.columns else []
    e = events[["user", ts_column, *measures]].merge(cohort[["user", "first_ts", *keys]], on="user")
    e["lifetime"] = ((e[ts_column] - e["first_ts"]) // DAY).clip(lower=0).astype("int64")
    return e[e["lifetime"] <= horizon - 1]


def _grid(cohort: pd.DataFrame, keys: list[str], horizon: int) -> pd.DataFrame:
    """One row per group and lifetime 0 .. H-1, with cohort_size; sorted by keys then lifetime."""
    sizes = cohort.groupby(keys, sort=False).size().rename("cohort_size").reset_index()
    lifetimes = pd.DataFrame({"lifetime": np.arange(horizon, dtype="int64")})
    grid = sizes.merge(lifetimes, how="cross")
    return _sorted(grid, [*keys, "lifetime"])


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Rows sorted by the columns (strings code-point, False before True, dates ascending)."""
    return frame.sort_values(by, kind="mergesort").reset_index(drop=True) if len(frame) else \
        frame.reset_index(drop=True)


def _attach(grid: pd.DataFrame, per_lifetime: pd.Series, keys: list[str], cumulative: bool) -> pd.Series:
    """Per-(group, lifetime) amounts aligned on the grid (0 where none), cumulated over lifetime if asked."""
    amounts = per_lifetime.rename("amount").reset_index()
    merged = grid[[*keys, "lifetime"]].merge(amounts, on=[*keys, "lifetime"], how="left")
    amount = merged["amount"].fillna(0).astype("float64")
    if cumulative:
        amount = amount.groupby([merged[k] for k in keys], sort=False).cumsum()
    return amount.to_numpy()


def _finish(grid: pd.DataFrame, keys: list[str], value: np.ndarray, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """The output frame: keys, cohort_size, [extra], lifetime, value with the API dtypes."""
    out = grid[[*keys, "cohort_size", *extra, "lifetime"]].copy()
    out["value"] = np.asarray(value, dtype="float64")
    return out.astype({"cohort_size": "int64", "lifetime": "int64", "value": "float64"})


def retention(data: Any, filters: Filters, horizon: int = 14, dimensions=(), ignore_horizon: bool = False
              ) -> pd.DataFrame:
    """Return *dims*, cohort_size, lifetime, value: share of the cohort with a visit of lifetime k."""
    keys = _check(horizon, dimensions)
    ctx = _context(data, filters)
    cohort = _cohort(ctx, horizon, ignore_horizon)
    grid = _grid(cohort, keys, horizon)
    visits = _with_lifetime(ctx.visits, "session_start", cohort, keys, horizon)
    active = visits.drop_duplicates(["user", "lifetime"]).groupby([*keys, "lifetime"]).size()
    return _finish(grid, keys, _attach(grid, active, keys, cumulative=False) / grid["cohort_size"].to_numpy())


def conversion(data: Any, filters: Filters, horizon: int = 14, dimensions=(), ignore_horizon: bool = False
               ) -> pd.DataFrame:
    """Return *dims*, cohort_size, lifetime, value: share of the cohort whose first order has lifetime <= k."""
    keys = _check(horizon, dimensions)
    ctx = _context(data, filters)
    cohort = _cohort(ctx, horizon, ignore_horizon)
    grid = _grid(cohort, keys, horizon)
    first_orders = ctx.orders.groupby("user", as_index=False)["event_dt"].min()
    firsts = _with_lifetime(first_orders, "event_dt", cohort, keys, horizon)
    converted = firsts.groupby([*keys, "lifetime"]).size()
    return _finish(grid, keys, _attach(grid, converted, keys, cumulative=True) / grid["cohort_size"].to_numpy())


def _ltv_frame(ctx: _Context, cohort: pd.DataFrame, keys: list[str], horizon: int) -> pd.DataFrame:
    grid = _grid(cohort, keys, horizon)
    orders = _with_lifetime(ctx.orders, "event_dt", cohort, keys, horizon)
    revenue = orders.groupby([*keys, "lifetime"])["revenue"].sum()
    grid["value"] = _attach(grid, revenue, keys, cumulative=True) / grid["cohort_size"].to_numpy()
    cac = cohort.groupby(keys, sort=False)["acquisition_cost"].mean().rename("cac").reset_index()
    return grid.merge(cac, on=keys, how="left")


def ltv(data: Any, filters: Filters, horizon: int = 14, dimensions=(), ignore_horizon: bool = False
        ) -> pd.DataFrame:
    """Return *dims*, cohort_size, lifetime, value: cumulative revenue up to lifetime k / cohort_size."""
    keys = _check(horizon, dimensions)
    ctx = _context(data, filters)
    cohort = _cohort(ctx, horizon, ignore_horizon)
    frame = _ltv_frame(ctx, cohort, keys, horizon)
    return _finish(frame, keys, frame["value"].to_numpy())


def roi(data: Any, filters: Filters, horizon: int = 14, dimensions=(), ignore_horizon: bool = False
        ) -> pd.DataFrame:
    """Return *dims*, cohort_size, cac, lifetime, value: ltv / cac over the paid cohort; cac-0 groups dropped."""
    keys = _check(horizon, dimensions)
    ctx = _context(data, filters)
    cohort = _cohort(ctx, horizon, ignore_horizon)
    paid = cohort[cohort["paid"]]
    frame = _ltv_frame(ctx, paid, keys, horizon)
    frame = frame[frame["cac"] != 0].reset_index(drop=True)
    out = _finish(frame, keys, (frame["value"] / frame["cac"]).to_numpy(), extra=("cac",))
    return out.astype({"cac": "float64"})


def payback(data: Any, filters: Filters, horizon: int = 14, dimensions=(), ignore_horizon: bool = False
            ) -> pd.DataFrame:
    """Return *dims*, cohort_size, cac, payback_day: the smallest lifetime with roi >= 1 (<NA> if none)."""
    keys = _check(horizon, dimensions)
    table = roi(data, filters, horizon, dimensions, ignore_horizon)
    groups = table.drop_duplicates(keys)[[*keys, "cohort_size", "cac"]].reset_index(drop=True)
    paid_back = table[table["value"] >= 1].groupby(keys, sort=False)["lifetime"].min().rename("payback_day")
    out = groups.merge(paid_back.reset_index(), on=keys, how="left")
    out["payback_day"] = out["payback_day"].astype("Int64")
    return _sorted(out.astype({"cohort_size": "int64", "cac": "float64"}), keys)


# ----------------------------------------------------------------------------------------------
# Acquisition and money


def new_users(data: Any, filters: Filters, dimensions=("dt",)) -> pd.DataFrame:
    """Return *dims*, new_users: filtered profiles with dt in [start, min(end, O)] per group."""
    keys = _check(1, dimensions)
    ctx = _context(data, filters)
    p = ctx.profiles
    p = p[(p["dt"] >= ctx.start) & (p["dt"] <= ctx.last)].assign(cohort=ALL_USERS)
    counts = p.groupby(keys, sort=False).size().rename("new_users").reset_index()
    return _sorted(counts.astype({"new_users": "int64"}), keys)


GRAINS = {None: None, "dt": lambda days: days, "week": _week_start, "month": _month_start}


def channel_economics(data: Any, filters: Filters, grain: str | None = None) -> pd.DataFrame:
    """Return [period,] channel, costs, new_users, cac, unattributed over [start, min(end, O)]."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}")
    ctx = _context(data, filters)
    in_period = lambda days: (days >= ctx.start) & (days <= ctx.last)  # noqa: E731

    new = ctx.profiles[in_period(ctx.profiles["dt"])]
    spend = ctx.costs[in_period(ctx.costs["dt"])]
    if filters.channels:
        spend = spend[spend["channel"].isin(list(filters.channels))]
    spend = spend.groupby(["dt", "channel"], as_index=False)["costs"].sum()
    # Unattributed: spend on (dt, channel) pairs without any new user (all profiles, unfiltered).
    everyone = ctx.all_profiles[in_period(ctx.all_profiles["dt"])]
    with_users = everyone[["dt", "channel"]].drop_duplicates().assign(has_user=True)
    spend = spend.merge(with_users, on=["dt", "channel"], how="left")
    spend["unattributed"] = spend["costs"].where(spend["has_user"].isna(), 0.0)

    keys = ["channel"] if grain is None else ["period", "channel"]
    if grain is not None:
        new = new.assign(period=GRAINS[grain](new["dt"]))
        spend = spend.assign(period=GRAINS[grain](spend["dt"]))
    users = new.groupby(keys).agg(costs=("acquisition_cost", "sum"), new_users=("user", "size"))
    unattributed = spend.groupby(keys)["unattributed"].sum()
    out = users.join(unattributed, how="outer").reset_index()
    out = out.fillna({"costs": 0.0, "new_users": 0, "unattributed": 0.0})
    out = out.astype({"costs": "float64", "new_users": "int64", "unattributed": "float64"})
    out["cac"] = (out["costs"] / out["new_users"]).where(out["new_users"] > 0, np.nan)
    return _sorted(out[[*keys, "costs", "new_users", "cac", "unattributed"]], keys)


def daily_revenue(data: Any, filters: Filters) -> pd.DataFrame:
    """Return date, revenue, orders, payers for every date of the period (orders of filtered users)."""
    ctx = _context(data, filters)
    days = _period_days(ctx)
    o = ctx.orders[ctx.orders["user"].isin(ctx.profiles["user"])]
    o = o.assign(day=o["event_dt"].dt.normalize())
    o = o[(o["day"] >= ctx.start) & (o["day"] <= ctx.last)]
    per_day = o.groupby("day").agg(revenue=("revenue", "sum"), orders=("revenue", "size"),
                                   payers=("user", "nunique"))
    per_day = per_day.reindex(days, fill_value=0)
    return pd.DataFrame({
        "date": days,
        "revenue": per_day["revenue"].to_numpy(dtype="float64"),
        "orders": per_day["orders"].to_numpy(dtype="int64"),
        "payers": per_day["payers"].to_numpy(dtype="int64"),
    })


def daily_spend(data: Any, filters: Filters) -> pd.DataFrame:
    """Return date, channel, costs: spend per day and channel in the period (channel filter only)."""
    ctx = _context(data, filters)
    c = ctx.costs[(ctx.costs["dt"] >= ctx.start) & (ctx.costs["dt"] <= ctx.last)]
    if filters.channels:
        c = c[c["channel"].isin(list(filters.channels))]
    out = c.groupby(["dt", "channel"], as_index=False)["costs"].sum().rename(columns={"dt": "date"})
    return _sorted(out.astype({"costs": "float64"}), ["date", "channel"])


# ----------------------------------------------------------------------------------------------
# KPIs and comparison (contract revision 2)


KPI_NAMES = ("users", "new_users", "dau", "wau", "mau", "asl_seconds", "sticky", "revenue", "spend", "cac", "roi",
             "payer_share")


class Comparison(NamedTuple):
    """The comparison period: first and last day, observation date, comparable or not."""

    start: dt_.date
    end: dt_.date
    observation_date: dt_.date
    comparable: bool


def comparison_period(data: Any, filters: Filters, compare: str = "none") -> Comparison | None:
    """Return the comparison period of `compare` ("previous": the n days before start as of O - n; "year": 364 days
    back as of O - 364; "none": None); comparable when it starts on or after the first visit date of the data."""
    if compare == "none":
        return None
    visits = _tables(data)[0]
    period = _resolve(visits, filters)
    n = (period.last - period.start).days + 1
    shift = dt_.timedelta(days=n if compare == "previous" else 364)
    first = visits["session_start"].min().date() if len(visits) else None
    start = period.start - shift
    comparable = n >= 1 and first is not None and start >= first
    return Comparison(start, period.last - shift, period.observation_date - shift, comparable)


def _kpi_values(data: Any, filters: Filters, horizon: int) -> dict[str, float]:
    """The KPI values of one period, straight from the event frames."""
    ctx = _context(data, filters)
    upto = ctx.profiles[ctx.profiles["dt"] <= ctx.last]
    new = upto[upto["dt"] >= ctx.start]
    summary = activity_summary(data, filters).set_index("metric")["value"]

    orders = ctx.orders[ctx.orders["user"].isin(ctx.profiles["user"])]
    order_day = orders["event_dt"].dt.normalize()
    revenue = orders.loc[(order_day >= ctx.start) & (order_day <= ctx.last), "revenue"].sum()
    if filters.regions or filters.devices:  # spend has no country or device: the new users' attributed spend
        spend = new["acquisition_cost"].sum()
    else:
        spent = ctx.costs[(ctx.costs["dt"] >= ctx.start) & (ctx.costs["dt"] <= ctx.last)]
        if filters.channels:
            spent = spent[spent["channel"].isin(list(filters.channels))]
        spend = spent["costs"].sum()
    paid_new = new[new["paid"]]
    curve = roi(data, filters, horizon)
    at_horizon = curve.loc[curve["lifetime"] == horizon - 1, "value"]
    return {
        "users": float(len(upto)),
        "new_users": float(len(new)),
        "dau": summary["dau"],
        "wau": summary["wau"],
        "mau": summary["mau"],
        "asl_seconds": summary["asl_seconds"],
        "sticky": summary["sticky_mau"],
        "revenue": float(revenue),
        "spend": float(spend),
        "cac": float(paid_new["acquisition_cost"].mean()) if len(paid_new) else float("nan"),
        "roi": float(at_horizon.iloc[0]) if len(at_horizon) else float("nan"),
        "payer_share": float(new["payer"].mean()) if len(new) else float("nan"),
    }


def kpis(data: Any, filters: Filters, horizon: int = 14, compare: str = "none") -> pd.DataFrame:
    """Return kpi, value, previous_value, change: the KPI table of the period against the comparison period."""
    values = _kpi_values(data, filters, horizon)
    previous = dict.fromkeys(KPI_NAMES, float("nan"))
    comparison = comparison_period(data, filters, compare)
    if comparison is not None and comparison.comparable:
        shifted = Filters(comparison.start, comparison.end, comparison.observation_date, filters.regions,
                          filters.devices, filters.channels)
        previous = _kpi_values(data, shifted, horizon)
    value = np.array([values[k] for k in KPI_NAMES], dtype="float64")
    before = np.array([previous[k] for k in KPI_NAMES], dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(before != 0, (value - before) / before, np.nan)
    return pd.DataFrame({"kpi": list(KPI_NAMES), "value": value, "previous_value": before, "change": change})
