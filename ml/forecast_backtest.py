"""Forecasts of every series at an origin and their rolling-origin backtest.

`run_forecasts` forecasts each series (`ml.forecast_series.read_series`) over the horizon with the "auto" model
(`ml.forecast_models`: per series the ETS form or trend regression that did best in a validation on its own
history) and backtests the three models ("auto", the AICc-chosen "ets" alone, and the "seasonal_naive" baseline)
at 4 earlier origins, 14 days apart, the latest at origin - horizon so that each backtest forecast is scored on a
whole horizon of observed values. At each backtest origin the models see only the values known then (days up to
it, weeks that ended by it), and choose their form again (auto's validation origins lie before it). Scores per
(metric, channel, model): MASE (the forecast's MAE over the horizon divided by the in-sample MAE of the
seasonal-naive forecast of the training values, averaged over the origins) and the share of the backtest values
inside the 80% and 95% intervals.
"""

from __future__ import annotations

import datetime as _dt
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm import tqdm

from dashboard.errors import BadInput
from ml.forecast_models import AUTO, PERIOD, covered, forecast, forecast_all, mase, mase_scale
from ml.forecast_series import DEFAULT_HORIZON_DAYS, MIN_TRAIN_DAYS, Series, check_horizon, future_index, truncate

BACKTEST_ORIGINS = 4
BACKTEST_STEP_DAYS = 14
FORECAST_COLUMNS = ["metric", "channel", "date", "mean", "lo80", "hi80", "lo95", "hi95"]
BACKTEST_COLUMNS = ["metric", "channel", "model", "mase", "coverage80", "coverage95"]
DETAIL_COLUMNS = ["metric", "channel", "model", "origin", "days", "mase", "hits80", "hits95"]


def backtest_origins(first: _dt.date, origin: _dt.date, horizon_days: int) -> list[_dt.date]:
    """Return the BACKTEST_ORIGINS backtest origins, oldest first: origin - horizon - 14 k days (k = 0..3); BadInput
    when the oldest leaves fewer than MIN_TRAIN_DAYS days of history."""
    origins = [origin - _dt.timedelta(days=horizon_days + BACKTEST_STEP_DAYS * k) for k in range(BACKTEST_ORIGINS)]
    earliest = first + _dt.timedelta(days=MIN_TRAIN_DAYS - 1)
    if origins[-1] < earliest:
        needed = earliest + _dt.timedelta(days=horizon_days + BACKTEST_STEP_DAYS * (BACKTEST_ORIGINS - 1))
        raise BadInput(f"the backtest needs {BACKTEST_ORIGINS} origins with {MIN_TRAIN_DAYS} days of history each: "
                       f"with --horizon-days {horizon_days} the origin must be {needed} or later (data from {first})")
    return sorted(origins)


def forecast_one(series: Series, origin: _dt.date, horizon_days: int, model: str = AUTO) -> pd.DataFrame:
    """Return [metric, channel, date, mean, lo80, hi80, lo95, hi95] of `model`'s forecast of `series` from `origin`."""
    history = truncate(series, origin)
    index = future_index(history, series.freq, origin, horizon_days)
    frame = forecast(model, history, index, PERIOD[series.freq]).frame()
    frame.insert(0, "channel", series.channel)
    frame.insert(0, "metric", series.metric)
    return frame[FORECAST_COLUMNS]


def backtest_one(series: Series, origins: list[_dt.date], horizon_days: int) -> list[dict]:
    """Return one DETAIL_COLUMNS row per model and backtest origin of `series` (days scored, MASE, interval hits)."""
    rows = []
    period = PERIOD[series.freq]
    for at in origins:
        history = truncate(series, at)
        index = future_index(history, series.freq, at, horizon_days)
        index = index[index.isin(series.values.index)]
        if len(history) < 2 or not len(index):
            continue
        actual = series.values.reindex(index).to_numpy(float)
        scale = mase_scale(history, period)
        for model, result in forecast_all(history, index, period).items():
            rows.append({"metric": series.metric, "channel": series.channel, "model": model, "origin": at,
                         "days": len(index), "mase": mase(actual, result.mean, scale),
                         "hits80": int(covered(actual, result.lo80, result.hi80).sum()),
                         "hits95": int(covered(actual, result.lo95, result.hi95).sum())})
    return rows


def backtest_table(detail: pd.DataFrame) -> pd.DataFrame:
    """Return BACKTEST_COLUMNS per (metric, channel, model): mean MASE over the origins, pooled coverage."""
    if detail.empty:
        return pd.DataFrame(columns=BACKTEST_COLUMNS)
    grouped = detail.groupby(["metric", "channel", "model"], sort=False)
    out = grouped.agg(mase=("mase", "mean"), days=("days", "sum"), hits80=("hits80", "sum"),
                      hits95=("hits95", "sum")).reset_index()
    out["coverage80"] = out["hits80"] / out["days"]
    out["coverage95"] = out["hits95"] / out["days"]
    return out[BACKTEST_COLUMNS]


def pooled_summary(detail: pd.DataFrame, channel: str | None = None) -> pd.DataFrame:
    """Return [metric, model, series, days, mase, coverage80, coverage95] pooled over the series' backtest days
    (only `channel`'s series when given; mase: the mean over the series and origins)."""
    part = detail if channel is None else detail[detail["channel"] == channel]
    grouped = part.groupby(["metric", "model"], sort=False)
    out = grouped.agg(series=("channel", "nunique"), days=("days", "sum"), mase=("mase", "mean"),
                      hits80=("hits80", "sum"), hits95=("hits95", "sum")).reset_index()
    out["coverage80"] = out["hits80"] / out["days"]
    out["coverage95"] = out["hits95"] / out["days"]
    return out[["metric", "model", "series", "days", "mase", "coverage80", "coverage95"]]


@dataclass(frozen=True)
class ForecastRun:
    """What `run_forecasts` returns: the forecast table, the backtest table, its per-origin detail, the backtest
    origins and the seconds taken."""

    origin: _dt.date
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    detail: pd.DataFrame
    backtest_origins: list[_dt.date]
    seconds: float


def run_forecasts(series: list[Series], first: _dt.date, origin: _dt.date, horizon_days: int = DEFAULT_HORIZON_DAYS,
                  progress: bool = False) -> ForecastRun:
    """Return the "auto" forecast of every series from `origin` over `horizon_days` and the backtest of every model
    at the 4 earlier origins (a progress bar over the series on stderr when `progress`)."""
    check_horizon(horizon_days)
    origins = backtest_origins(first, origin, horizon_days)
    started = time.perf_counter()
    forecasts, detail = [], []
    for item in tqdm(series, desc="forecast", unit="series", file=sys.stderr, disable=not progress):
        forecasts.append(forecast_one(item, origin, horizon_days))
        detail.extend(backtest_one(item, origins, horizon_days))
    table = pd.concat(forecasts, ignore_index=True) if forecasts else pd.DataFrame(columns=FORECAST_COLUMNS)
    table["date"] = pd.to_datetime(table["date"])
    for column in FORECAST_COLUMNS[3:]:
        table[column] = table[column].astype(float)
    detail_frame = pd.DataFrame(detail, columns=DETAIL_COLUMNS)
    return ForecastRun(origin, table, backtest_table(detail_frame), detail_frame, origins,
                       time.perf_counter() - started)


def nested_intervals(frame: pd.DataFrame) -> bool:
    """True when every row has lo95 <= lo80 <= mean <= hi80 <= hi95."""
    values = frame[["lo95", "lo80", "mean", "hi80", "hi95"]].to_numpy(float)
    return bool(np.all(np.diff(values, axis=1) >= -1e-9))
