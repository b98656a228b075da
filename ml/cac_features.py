"""Features of the acquisition-cost (CAC) model: one row per (acquisition date, paid channel, region, device).

A row is a group of new users who first visited on date D through a paid channel from one region on one device.
Target `cac` = the group's attributed spend / its new users (the profiles' `acquisition_cost`: the channel's spend
of D over ALL its new users of D, so every group of one channel and day has the same CAC). Every feature of a row
is known before D: the calendar (weekday, month, days since the first data), the channel's spend of D (known in
advance as the plan), the channel's CAC and new users per day over the previous 7 and 28 days, spend per recent
user (the spend of D over the channel's new users per day of the previous 7 days), and the share of the group's
earlier customers (an order dated <= D - 1) in the high-value RFM segments as of D - 1.

Everything is read with `Filters(end=origin, observation_date=origin)` through the metrics' profile SQL: nothing
dated after the origin is read, so changing the events after it leaves every row unchanged. The SQL returns one
row per (date, channel, region, device) group and one per (customer, order day); the rolling windows and the
day-by-day RFM scores are vectorised pandas / numpy over those frames (no query per row).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from dashboard.errors import BadInput
from metrics.dialect import date_of, float_sum
from metrics.filters import Filters, data_date_range, resolve_period
from metrics.frames import conform, read_frame
from metrics.profiles import costs_by_day_select, next_day_start, payers_select, profile_source, profiles_select
from ml.risk_report import HIGH_VALUE_SEGMENTS  # the Risk page's high-value segments
from ml.segments import SEGMENT_MAP, quintile_scores

GROUP_KEYS = ["channel", "region", "device"]
CATEGORICAL_FEATURES = ["channel", "region", "device", "weekday"]
NUMERIC_FEATURES = [
    "month", "days_since_start", "spend",
    "channel_cac_7", "channel_cac_28", "channel_new_users_7", "channel_new_users_28",
    "spend_per_recent_user", "high_value_share",
]
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
LOG_FEATURES = ("spend", "channel_cac_7", "channel_cac_28", "channel_new_users_7", "channel_new_users_28",
                "spend_per_recent_user")  # positive amounts: the model reads their logarithms
TARGET = "cac"
BASELINE = "naive_cac_7"  # the group's CAC over the previous 7 days, else the channel's
WARMUP_DAYS = 7  # rows dated in the first week of the data have no 7-day history: left out
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TARGET_DEFINITION = ("cac = attributed spend of the group / its new users; group = (first-visit date, paid channel, "
                     "region, device) with at least one new user and spend > 0")


@dataclass
class CacData:
    """The model's rows and what `predict_cac` needs to build a row for a later date."""

    rows: pd.DataFrame  # one row per group: dt, GROUP_KEYS, new_users, attributed_spend, cac, FEATURES, BASELINE
    state: pd.DataFrame  # per group: the lag features as known after the origin (for dates after it)
    channel_state: pd.DataFrame  # per paid channel: its lag features after the origin (a group never seen)
    first_date: _dt.date
    origin: _dt.date


def default_origin(conn: Connection) -> _dt.date:
    """Return the data's last date (the default origin); BadInput when the database holds no visits."""
    last = data_date_range(conn)[1]
    if last is None:
        raise BadInput("the database holds no visits; import data or run `python -m dashboard demo`")
    return last


def _group_days(conn: Connection, origin: _dt.date) -> pd.DataFrame:
    """Return dt, channel, region, device, new_users, attributed_spend per group of paid-channel new users <= origin."""
    filters = Filters(end=origin, observation_date=origin)
    period = resolve_period(conn, filters)
    p = profiles_select(period.observation_date, filters, dt_to=period.last, with_payer=False, with_cost=True,
                        with_paid=True, source=profile_source(conn)).subquery("profiles")
    stmt = (sa.select(p.c.dt, p.c.channel, p.c.region, p.c.device, sa.func.count().label("new_users"),
                      float_sum(p.c.acquisition_cost).label("attributed_spend"))
            .where(p.c.paid)
            .group_by(p.c.dt, p.c.channel, p.c.region, p.c.device))
    frame = conform(read_frame(conn, stmt))
    frame["attributed_spend"] = pd.to_numeric(frame["attributed_spend"]).astype("float64")
    return frame.sort_values(["dt", *GROUP_KEYS], kind="mergesort").reset_index(drop=True)


def _channel_spend(conn: Connection, origin: _dt.date) -> pd.DataFrame:
    """Return dt, channel, costs: each paid channel's spend per day <= origin."""
    frame = conform(read_frame(conn, costs_by_day_select(origin)))
    return frame.groupby(["dt", "channel"], as_index=False)["costs"].sum()


def _customer_order_days(conn: Connection, origin: _dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (orders per customer and day <= origin: user_id, day, orders, revenue; the customers' groups)."""
    o = db.orders
    day = date_of(o.c.event_dt).label("dt")
    orders = (sa.select(o.c.user_id, day, sa.func.count().label("orders"), float_sum(o.c.revenue).label("revenue"))
              .where(o.c.event_dt < next_day_start(origin)).group_by(o.c.user_id, day))
    order_days = conform(read_frame(conn, orders))
    filters = Filters(end=origin, observation_date=origin)
    p = profiles_select(origin, filters, with_payer=False, with_cost=False,
                        source=profile_source(conn)).subquery("profiles")
    payers = payers_select(origin).subquery("payers")
    groups = conform(read_frame(conn, sa.select(p.c.user_id, *[p.c[k] for k in GROUP_KEYS])
                                .where(p.c.user_id.in_(sa.select(payers.c.user_id)))))
    return order_days, groups


def _high_value_table() -> np.ndarray:
    """Return a 6x6 boolean array: [r, fm] is True when SEGMENT_MAP puts that cell in a high-value segment."""
    table = np.zeros((6, 6), dtype=bool)
    for r, names in SEGMENT_MAP.items():
        for column, name in enumerate(names):
            table[r, column + 1] = name in HIGH_VALUE_SEGMENTS
    return table


def high_value_shares(order_days: pd.DataFrame, customer_groups: pd.DataFrame, as_of_dates: list[_dt.date]
                      ) -> pd.DataFrame:
    """Return as_of, GROUP_KEYS, high_value_share: per date, the share of each group's customers (an order dated
    <= as_of) in HIGH_VALUE_SEGMENTS, their RFM scored among every customer as of that date (ml.segments' rules)."""
    users = pd.Index(pd.unique(order_days["user_id"]))
    keys = customer_groups.set_index("user_id").reindex(users)
    known = keys.notna().all(axis=1).to_numpy()
    group_index = pd.MultiIndex.from_frame(keys.loc[known, GROUP_KEYS].drop_duplicates().sort_values(GROUP_KEYS))
    codes = np.full(len(users), -1)
    codes[known] = group_index.get_indexer(pd.MultiIndex.from_frame(keys.loc[known, GROUP_KEYS]))
    days = pd.to_datetime(order_days["dt"]).dt.date.to_numpy()
    order_user = users.get_indexer(order_days["user_id"])
    order_sort = np.argsort(days, kind="stable")
    frequency = np.zeros(len(users))
    monetary = np.zeros(len(users))
    last_day = np.full(len(users), -1, dtype="int64")
    high_value = _high_value_table()
    position, rows = 0, []
    n_groups = len(group_index)
    for as_of in sorted(as_of_dates):  # orders are added day by day: each date costs one pass over its customers
        while position < len(order_sort) and days[order_sort[position]] <= as_of:
            i = order_sort[position]
            u = order_user[i]
            frequency[u] += order_days["orders"].iat[i]
            monetary[u] += order_days["revenue"].iat[i]
            last_day[u] = max(last_day[u], days[i].toordinal())
            position += 1
        active = np.flatnonzero(frequency > 0)
        share = np.full(n_groups, np.nan)
        if len(active):
            r = quintile_scores(pd.Series(as_of.toordinal() - last_day[active]), higher_is_better=False).to_numpy()
            f = quintile_scores(pd.Series(frequency[active])).to_numpy()
            m = quintile_scores(pd.Series(monetary[active])).to_numpy()
            flags = high_value[r, (f + m + 1) // 2]
            in_group = codes[active] >= 0
            counts = np.bincount(codes[active][in_group], minlength=n_groups)
            hits = np.bincount(codes[active][in_group], weights=flags[in_group].astype(float), minlength=n_groups)
            share = np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
        rows.append(pd.DataFrame({"as_of": as_of, "share": share}))
    if not rows or n_groups == 0:
        return pd.DataFrame(columns=["as_of", *GROUP_KEYS, "high_value_share"])
    frame = pd.concat(rows, ignore_index=True)
    groups = group_index.to_frame(index=False)
    frame[GROUP_KEYS] = pd.concat([groups] * len(rows), ignore_index=True)
    return frame.rename(columns={"share": "high_value_share"})


def _previous_window(daily: pd.DataFrame, days: int) -> pd.DataFrame:
    """Return the sums of each column of `daily` (rows: dates, sorted and complete) over the `days` days before."""
    return daily.shift(1).rolling(days, min_periods=1).sum()


def _channel_lags(groups: pd.DataFrame, spend: pd.DataFrame, calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Return dt, channel, spend and the channel's lag features (CAC, new users per day over 7 and 28 days before)."""
    users = groups.pivot_table(index="dt", columns="channel", values="new_users", aggfunc="sum").reindex(calendar)
    attributed = groups.pivot_table(index="dt", columns="channel", values="attributed_spend",
                                    aggfunc="sum").reindex(calendar)
    channels = sorted(set(users.columns) | set(spend["channel"]))
    users = users.reindex(columns=channels).fillna(0.0)
    attributed = attributed.reindex(columns=channels).fillna(0.0)
    costs = spend.pivot_table(index="dt", columns="channel", values="costs", aggfunc="sum")
    costs = costs.reindex(index=calendar, columns=channels).fillna(0.0)
    parts = {"spend": costs}
    for days in (7, 28):
        spend_sum, user_sum = _previous_window(attributed, days), _previous_window(users, days)
        window_days = users.shift(1).rolling(days, min_periods=1).count()  # fewer at the start of the data
        parts[f"channel_cac_{days}"] = spend_sum / user_sum.where(user_sum > 0)
        parts[f"channel_new_users_{days}"] = user_sum / window_days.where(window_days > 0)
    long = [frame.rename_axis(index="dt", columns="channel").stack().rename(name)
            for name, frame in parts.items()]
    out = pd.concat(long, axis=1).reset_index()
    out["spend_per_recent_user"] = out["spend"] / out["channel_new_users_7"].where(out["channel_new_users_7"] > 0)
    return out


def _group_lags(groups: pd.DataFrame, calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Return dt, GROUP_KEYS, group_cac_7: the group's attributed spend / new users over the 7 days before."""
    wide_users = groups.pivot_table(index="dt", columns=GROUP_KEYS, values="new_users", aggfunc="sum")
    wide_spend = groups.pivot_table(index="dt", columns=GROUP_KEYS, values="attributed_spend", aggfunc="sum")
    wide_users = wide_users.reindex(calendar).fillna(0.0)
    wide_spend = wide_spend.reindex(index=calendar, columns=wide_users.columns).fillna(0.0)
    user_sum = _previous_window(wide_users, 7)
    cac = _previous_window(wide_spend, 7) / user_sum.where(user_sum > 0)
    cac.index.name = "dt"
    return cac.stack(list(range(len(GROUP_KEYS)))).rename("group_cac_7").reset_index()


def add_calendar(frame: pd.DataFrame, first_date: _dt.date) -> pd.DataFrame:
    """Return `frame` with weekday (Mon..Sun), month and days_since_start from its `dt` column."""
    dates = pd.to_datetime(frame["dt"])
    frame = frame.copy()
    frame["weekday"] = np.asarray(WEEKDAYS, dtype=object)[dates.dt.day_of_week.to_numpy()]
    frame["month"] = dates.dt.month.astype("float64")
    frame["days_since_start"] = (dates - pd.Timestamp(first_date)).dt.days.astype("float64")
    return frame


def build_cac_data(conn: Connection, origin: _dt.date | None = None) -> CacData:
    """Return the CacData of the groups dated <= origin (default: the data's last date), read only up to origin."""
    origin = origin or default_origin(conn)
    groups = _group_days(conn, origin)
    if groups.empty:
        raise BadInput(f"no new user of a paid channel up to {origin}: the CAC model needs spend and new users")
    groups["dt"] = pd.to_datetime(groups["dt"])
    first_date = groups["dt"].min().date()
    spend = _channel_spend(conn, origin)
    spend["dt"] = pd.to_datetime(spend["dt"])
    spend = spend[spend["channel"].isin(groups["channel"].unique())]
    after = pd.Timestamp(origin + _dt.timedelta(days=1))  # the state for dates after the origin
    calendar = pd.date_range(pd.Timestamp(first_date), after, freq="D", name="dt")
    channel = _channel_lags(groups, spend, calendar)
    group_lags = _group_lags(groups, calendar)
    order_days, customer_groups = _customer_order_days(conn, origin)
    shares = high_value_shares(order_days, customer_groups, [d.date() - _dt.timedelta(days=1) for d in calendar])
    shares["dt"] = pd.to_datetime(shares["as_of"]) + pd.Timedelta(days=1)
    shares = shares.drop(columns="as_of")

    rows = groups.merge(channel, on=["dt", "channel"], how="left")
    rows = rows.merge(group_lags, on=["dt", *GROUP_KEYS], how="left").merge(shares, on=["dt", *GROUP_KEYS], how="left")
    rows = rows[(rows["new_users"] > 0) & (rows["attributed_spend"] > 0)
                & (rows["dt"] >= pd.Timestamp(first_date + _dt.timedelta(days=WARMUP_DAYS)))]
    rows = add_calendar(rows, first_date)
    rows[TARGET] = rows["attributed_spend"] / rows["new_users"]
    rows[BASELINE] = rows["group_cac_7"].fillna(rows["channel_cac_7"]).fillna(rows["channel_cac_28"])
    columns = ["dt", *GROUP_KEYS, "new_users", "attributed_spend", TARGET, *NUMERIC_FEATURES, "weekday", BASELINE]
    rows = rows[columns].sort_values(["dt", *GROUP_KEYS], kind="mergesort").reset_index(drop=True)

    state = group_lags[group_lags["dt"] == after].drop(columns="dt")
    state = state.merge(shares[shares["dt"] == after].drop(columns="dt"), on=GROUP_KEYS, how="outer")
    channel_state = channel[channel["dt"] == after].drop(columns=["dt", "spend", "spend_per_recent_user"])
    return CacData(rows=rows, state=state.reset_index(drop=True), channel_state=channel_state.reset_index(drop=True),
                   first_date=first_date, origin=origin)


def what_if_rows(requests: pd.DataFrame, state: pd.DataFrame, channel_state: pd.DataFrame,
                 first_date: _dt.date) -> pd.DataFrame:
    """Return model rows for `requests` (channel, region, device, date, daily_budget): the calendar of each date,
    the budget as the day's spend, and the lag features as known after the origin (`state`, `channel_state`)."""
    missing = [c for c in ("channel", "region", "device", "date", "daily_budget") if c not in requests.columns]
    if missing:
        raise ValueError(f"columns missing for a CAC prediction: {missing}")
    frame = requests.rename(columns={"date": "dt", "daily_budget": "spend"}).copy()
    frame["dt"] = pd.to_datetime(frame["dt"])
    frame["spend"] = pd.to_numeric(frame["spend"]).astype("float64")
    for key in GROUP_KEYS:
        frame[key] = frame[key].astype(str)
    frame = frame.merge(channel_state, on="channel", how="left")
    frame = frame.merge(state, on=GROUP_KEYS, how="left")
    frame["spend_per_recent_user"] = frame["spend"] / frame["channel_new_users_7"].where(frame["channel_new_users_7"] > 0)
    return add_calendar(frame, first_date)
