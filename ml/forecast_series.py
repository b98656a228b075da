"""The series the forecasts start from, read from the metrics layer as if the data ended on the origin.

Every read uses `Filters(start=first data date, end=origin, observation_date=origin)`, so nothing dated after the
origin is read: daily spend (`metrics.daily_spend`: every cost row), new users by acquisition date and channel
(`metrics.new_users`), revenue (`metrics.daily_revenue`) and DAU (`metrics.activity_daily`), in total (channel
"All") and per channel (the channel filter: the users acquired through it), and weekly CAC per paid channel
(spend of the week / new users of the week, Monday-dated, complete weeks only).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.engine import Connection

import metrics
from dashboard.errors import BadInput
from metrics import Filters

DAILY_METRICS = ("spend", "new_users", "revenue", "dau")
WEEKLY_METRICS = ("cac",)
METRICS = DAILY_METRICS + WEEKLY_METRICS
TOTAL = "All"
# The least history before the origin: the backtest needs 4 origins 14 days apart before origin - horizon.
MIN_TRAIN_DAYS = 28
DEFAULT_HORIZON_DAYS = 28
HORIZON_RANGE = (7, 90)


@dataclass(frozen=True)
class Series:
    """One observed series: metric, channel ("All" for totals), frequency ("D" or "W") and its values (a float
    Series on a complete DatetimeIndex: days, or the Mondays of complete weeks)."""

    metric: str
    channel: str
    freq: str
    values: pd.Series

    @property
    def key(self) -> tuple[str, str]:
        """Return (metric, channel)."""
        return self.metric, self.channel


def parse_origin(text: str | None) -> _dt.date | None:
    """Return the date of a YYYY-MM-DD origin (None for None); BadInput naming the option otherwise."""
    if text is None:
        return None
    try:
        return _dt.date.fromisoformat(str(text))
    except ValueError as exc:
        raise BadInput(f"--origin: not a date (YYYY-MM-DD): {text!r}") from exc


def check_horizon(days) -> int:
    """Return `days` as an int when it is a whole number in HORIZON_RANGE; BadInput naming the option otherwise."""
    low, high = HORIZON_RANGE
    try:
        value = int(str(days))
    except ValueError as exc:
        raise BadInput(f"--horizon-days: not a whole number: {days!r}") from exc
    if not low <= value <= high:
        raise BadInput(f"--horizon-days must be between {low} and {high}, got {value}")
    return value


def data_window(conn: Connection, origin: _dt.date | None, min_days: int = MIN_TRAIN_DAYS) -> tuple[_dt.date, _dt.date]:
    """Return (first data date, origin): the origin defaults to the data's last date; BadInput when the database is
    empty or the origin is outside the data or leaves fewer than `min_days` days of history."""
    bounds = metrics.data_bounds(conn)
    first, last = bounds["first_date"], bounds["last_date"]
    if first is None or last is None:
        raise BadInput("the database holds no data; import data or run `python -m dashboard demo`")
    origin = origin or last
    if origin > last:
        raise BadInput(f"--origin {origin} is after the data's last date {last}")
    earliest = first + _dt.timedelta(days=min_days - 1)
    if origin < earliest:
        raise BadInput(f"--origin {origin} leaves fewer than {min_days} days of history "
                       f"(the data starts {first}); choose {earliest} or later")
    return first, origin


def _calendar(first: _dt.date, origin: _dt.date) -> pd.DatetimeIndex:
    """Return every day of [first, origin] as a DatetimeIndex with frequency D."""
    return pd.date_range(pd.Timestamp(first), pd.Timestamp(origin), freq="D")


def _daily(values: pd.Series, calendar: pd.DatetimeIndex) -> pd.Series:
    """Return `values` (indexed by day) on `calendar`, missing days 0, as floats with frequency D."""
    index = pd.DatetimeIndex(values.index).as_unit("ns") if len(values) else pd.DatetimeIndex([], dtype="datetime64[ns]")
    out = pd.Series(values.to_numpy(dtype=float), index=index).reindex(calendar, fill_value=0.0).astype(float)
    out.index.freq = "D"
    return out


def _per_channel(frame: pd.DataFrame, date_col: str, value_col: str, calendar: pd.DatetimeIndex) -> dict[str, pd.Series]:
    """Return {channel: daily series} of a long frame, plus "All" (the sum of every channel)."""
    out = {TOTAL: _daily(frame.groupby(date_col)[value_col].sum(), calendar)}
    for channel, part in frame.groupby("channel", sort=True):
        out[str(channel)] = _daily(part.groupby(date_col)[value_col].sum(), calendar)
    return out


def complete_weeks(first: _dt.date, origin: _dt.date) -> pd.DatetimeIndex:
    """Return the Mondays of the weeks (Monday..Sunday) lying wholly in [first, origin], frequency W-MON."""
    monday = first + _dt.timedelta(days=(7 - first.weekday()) % 7)
    last_monday = origin - _dt.timedelta(days=origin.weekday() + (0 if origin.weekday() == 6 else 7))
    return pd.date_range(pd.Timestamp(monday), pd.Timestamp(last_monday), freq="W-MON")


def weekly_cac(spend: pd.Series, new_users: pd.Series, weeks: pd.DatetimeIndex) -> pd.Series:
    """Return spend / new users of each week of `weeks` (Mondays) from two daily series; a week without new users
    takes the CAC of the week before (or after, at the start)."""
    week_of = spend.index - pd.to_timedelta(spend.index.day_of_week, unit="D")
    spend_w = spend.groupby(week_of).sum().reindex(weeks, fill_value=0.0)
    users_w = new_users.groupby(week_of).sum().reindex(weeks, fill_value=0.0)
    cac = (spend_w / users_w.where(users_w > 0)).ffill().bfill().astype(float)
    cac.index.freq = "W-MON"
    return cac


def read_series(conn: Connection, origin: _dt.date | None = None) -> tuple[_dt.date, list[Series]]:
    """Return (origin, every series as of the origin): daily spend, new_users, revenue and dau in total and per
    channel, weekly cac per paid channel. Only data dated on or before the origin is read."""
    first, origin = data_window(conn, origin)
    flt = Filters(start=first, end=origin, observation_date=origin)
    calendar = _calendar(first, origin)
    spend = _per_channel(metrics.daily_spend(conn, flt), "date", "costs", calendar)
    new = _per_channel(metrics.new_users(conn, flt, dimensions=("dt", "channel")), "dt", "new_users", calendar)
    channels = sorted(c for c in new if c != TOTAL)
    revenue = {TOTAL: _daily(metrics.daily_revenue(conn, flt).set_index("date")["revenue"], calendar)}
    dau = {TOTAL: _daily(metrics.activity_daily(conn, flt).set_index("date")["dau"], calendar)}
    for channel in channels:
        by_channel = Filters(start=first, end=origin, observation_date=origin, channels=(channel,))
        revenue[channel] = _daily(metrics.daily_revenue(conn, by_channel).set_index("date")["revenue"], calendar)
        dau[channel] = _daily(metrics.activity_daily(conn, by_channel).set_index("date")["dau"], calendar)
    out: list[Series] = []
    for metric, table in (("spend", spend), ("new_users", new), ("revenue", revenue), ("dau", dau)):
        for channel in [TOTAL] + sorted(c for c in table if c != TOTAL):
            out.append(Series(metric, channel, "D", table[channel]))
    weeks = complete_weeks(first, origin)
    if len(weeks):
        for channel in sorted(c for c in spend if c != TOTAL and c in new):
            if spend[channel].sum() > 0 and new[channel].sum() > 0:
                out.append(Series("cac", channel, "W", weekly_cac(spend[channel], new[channel], weeks)))
    return origin, out


def truncate(series: Series, origin: _dt.date) -> pd.Series:
    """Return the values of `series` known at `origin`: days up to it, or the weeks that ended by it."""
    values = series.values
    cut = pd.Timestamp(origin) - (pd.Timedelta(days=6) if series.freq == "W" else pd.Timedelta(0))
    out = values[values.index <= cut].copy()
    out.index.freq = values.index.freq
    return out


def future_index(values: pd.Series, freq: str, origin: _dt.date, horizon_days: int) -> pd.DatetimeIndex:
    """Return the dates to forecast after `values` (known at `origin`) up to origin + horizon_days: the days, or the
    Mondays after the last complete week up to that date (the week under way at the origin included)."""
    end = pd.Timestamp(origin) + pd.Timedelta(days=horizon_days)
    if freq == "D":
        return pd.date_range(pd.Timestamp(origin) + pd.Timedelta(days=1), end, freq="D")
    last = values.index[-1] if len(values) else pd.Timestamp(origin) - pd.Timedelta(days=origin.weekday() + 7)
    return pd.date_range(last + pd.Timedelta(days=7), end, freq="W-MON")

