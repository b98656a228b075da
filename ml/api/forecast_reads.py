"""What the forecast routes and the what-if page (/forecast) compute: one function each, called by the API handlers
and by the page's callbacks alike (never an HTTP call to itself).

- `what_if(reader, artifact, request)`: a daily budget for one (paid channel, region, device) over a period -> the
  CAC model's expected CAC per day (`ml.cac_model.predict_cac`), the new users it buys (budget / CAC), the spend,
  and from the channel's observed LTV curve (`metrics.ltv` of its recent weekly cohorts) the revenue, ROI at the
  horizon and payback day, each with an 80% interval, and the cumulative ROI by lifetime day.
- `series_forecast(reader, metric, channel, horizon_days)`: the forecast (model "auto": per series the ETS form or
  trend regression chosen by a validation on its history) with 80/95% intervals of one series
  (`ml.forecast_series`, `ml.forecast_backtest.forecast_one`), memoized per data version and parameters.

Intervals of the what-if (docs/forecast.md, "The what-if page and its API"): the CAC's 80% interval is the CAC
times exp of the 10th and 90th percentile of the model's holdout residuals (log of actual / predicted CAC, stored in
its card); a card without them (saved before they were) falls back to a log-normal error with sigma = holdout MAPE x
sqrt(pi / 2) (the mean absolute log error of a normal error is sigma x sqrt(2 / pi)). The same factors apply to
every day of the period (an error of the model does not average out over days); the LTV interval is the 10th-90th
percentile of the recent weekly cohorts' LTV. The bounds of users, revenue,
ROI and payback combine the two ends (fewest users at the highest CAC, lowest ROI from the lowest LTV at the highest
CAC, ...).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import logging
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import metrics
from dashboard.cache import MetricReader
from dashboard.errors import BadInput
from ml.api.schemas import (
    ApiProblem, ForecastRow, ForecastRows, Interval, WhatIfDay, WhatIfRequest, WhatIfResult, WhatIfRoiPoint,
)
from ml.cac_model import predict_cac
from ml import forecast_backtest, forecast_models, forecast_series
from ml.forecast_backtest import forecast_one
from ml.forecast_models import AUTO
from ml.forecast_series import METRICS, TOTAL, read_series
from ml.registry import CAC, REGISTRY

log = logging.getLogger(__name__)

Z80 = 1.2815515655446004  # the standard normal's 90th percentile: a central 80% interval
RECENT_COHORT_DAYS = 56  # the LTV curve: users acquired in the 8 weeks before the last date followed for the horizon
MIN_WEEK_USERS = 10  # a weekly cohort smaller than this is left out of the LTV interval (kept in the curve)
LTV_QUANTILES = (0.1, 0.9)
RESIDUAL_80 = (0.1, 0.9)  # the card's holdout residual quantiles that bound the CAC's 80% interval
MAX_START_AHEAD_DAYS = 366  # a what-if may start at most a year after the model's origin


# --- the saved CAC model --------------------------------------------------------------------------------

_MODELS: dict[str, tuple[tuple, Any]] = {}
_MODELS_LOCK = threading.Lock()


def no_cac_model_problem(model_dir: Path) -> ApiProblem:
    """Return the 503 answer for a model directory without a saved CAC model (how to train one)."""
    spec = REGISTRY.get(CAC)
    return ApiProblem(503, "no_model", f"model: no CAC model trained yet (none in {model_dir}); train one with "
                                       f"`{spec.how_to_train}`")


def cac_artifact(model_dir: Path | str) -> Any | None:
    """Return the newest saved CAC model of `model_dir` (loaded once, again only when its file changes), None when
    none is saved; a file that cannot be loaded is an ApiProblem 503 (retrain)."""
    spec = REGISTRY.get(CAC)
    path = spec.latest_file(Path(model_dir))
    if path is None:
        return None
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _MODELS_LOCK:
        known = _MODELS.get(str(model_dir))
        if known is not None and known[0] == key:
            return known[1]
        try:
            artifact = spec.load(path)
        except Exception as exc:  # a damaged or incompatible file: say so, keep serving the rest
            log.exception("could not load CAC model %s", path)
            raise ApiProblem(503, "no_model", f"model: could not load {path.name} ({type(exc).__name__}); train it "
                                              f"again with `{spec.how_to_train}`") from None
        _MODELS[str(model_dir)] = (key, artifact)
        log.info("loaded CAC model %s", path.name)
        return artifact


def model_choices(artifact: Any) -> dict[str, list[str]]:
    """Return {'channel', 'region', 'device'}: the values the CAC model knows (its paid channels), sorted."""
    return {"channel": sorted(map(str, artifact.channel_state["channel"].unique())),
            "region": sorted(map(str, artifact.state["region"].unique())),
            "device": sorted(map(str, artifact.state["device"].unique()))}


def model_origin(artifact: Any) -> _dt.date:
    """Return the last data date the CAC model was trained with (its origin)."""
    return _dt.date.fromisoformat(artifact.card["origin"])


def cac_sigma(artifact: Any) -> float:
    """Return sigma of the model's log-normal error: its holdout MAPE x sqrt(pi / 2)."""
    mape = float(artifact.card["holdout_metrics"]["model"]["mape"])
    return mape * math.sqrt(math.pi / 2)


def cac_interval_factors(artifact: Any) -> tuple[float, float]:
    """Return (low, high) factors of the CAC's 80% interval: exp of the 10th and 90th percentile of the card's
    holdout residuals (log of actual / predicted CAC), or exp(-/+ 1.2816 sigma) (`cac_sigma`) for a card without
    them; low <= 1 <= high, so the interval holds the CAC."""
    quantiles = (artifact.card.get("holdout_residuals") or {}).get("quantiles") or {}
    low, high = quantiles.get(str(RESIDUAL_80[0])), quantiles.get(str(RESIDUAL_80[1]))
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        spread = math.exp(Z80 * cac_sigma(artifact))
        return 1.0 / spread, spread
    return min(1.0, math.exp(low)), max(1.0, math.exp(high))


# --- the what-if --------------------------------------------------------------------------------------

def _field_problem(field: str, message: str) -> ApiProblem:
    """Return a 400 problem naming `field`."""
    return ApiProblem(400, "bad_request", f"{field}: {message}", [{"field": field, "message": message}])


def check_what_if(reader: MetricReader, artifact: Any, request: WhatIfRequest) -> None:
    """Return nothing when the model knows the request's channel, region and device and its start date is in range;
    raise a 400 problem naming the first bad field otherwise."""
    choices = model_choices(artifact)
    if request.channel not in choices["channel"]:
        channels = reader(metrics.data_bounds).get("channels") or []
        reason = "is not a paid channel (no ad cost)" if request.channel in channels else "unknown channel"
        raise _field_problem("channel", f"{reason}; the paid channels are {', '.join(choices['channel'])}")
    for field in ("region", "device"):
        if getattr(request, field) not in choices[field]:
            raise _field_problem(field, f"unknown {field}; one of {', '.join(choices[field])}")
    first, latest = artifact.first_date, model_origin(artifact) + _dt.timedelta(days=MAX_START_AHEAD_DAYS)
    if not first <= request.start <= latest:
        raise _field_problem("start", f"must be between {first} (the model's first data) and {latest}")


def ltv_cohorts(reader: MetricReader, channel: str, horizon_days: int) -> pd.DataFrame:
    """Return the LTV of the channel's weekly cohorts: [week, cohort_size, lifetime, value] for the users acquired in
    the RECENT_COHORT_DAYS before the data's last date who have been followed for `horizon_days` (cached)."""
    bounds = reader(metrics.data_bounds)
    last = bounds["last_date"]
    if last is None:
        return pd.DataFrame(columns=["week", "cohort_size", "lifetime", "value"])
    start = max(bounds["first_date"], last - _dt.timedelta(days=horizon_days - 1 + RECENT_COHORT_DAYS - 1))
    query = metrics.MetricQuery.make(start, last, last, channels=[channel], horizon=horizon_days,
                                     dimensions=("week",))
    return reader(metrics.ltv, query)


def ltv_curve(weekly: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """Return [lifetime, ltv, lo80, hi80] for lifetimes 0..horizon-1: the LTV of all the weekly cohorts together
    (their revenue over their users) and the 10th-90th percentile of the weekly cohorts' LTV (those of at least
    MIN_WEEK_USERS users)."""
    if weekly.empty:
        return pd.DataFrame(columns=["lifetime", "ltv", "lo80", "hi80"])
    frame = weekly.assign(revenue=weekly["value"] * weekly["cohort_size"])
    total = frame.groupby("lifetime").agg(revenue=("revenue", "sum"), users=("cohort_size", "sum"))
    curve = pd.DataFrame({"lifetime": total.index.astype(int), "ltv": (total["revenue"] / total["users"]).to_numpy()})
    kept = frame[frame["cohort_size"] >= MIN_WEEK_USERS]
    if kept.empty:
        kept = frame
    wide = kept.pivot_table(index="lifetime", columns="week", values="value", aggfunc="first")
    curve["lo80"] = np.minimum(curve["ltv"], wide.quantile(LTV_QUANTILES[0], axis=1).to_numpy())
    curve["hi80"] = np.maximum(curve["ltv"], wide.quantile(LTV_QUANTILES[1], axis=1).to_numpy())
    return curve[curve["lifetime"] < horizon_days].reset_index(drop=True)


def _first_day(values: np.ndarray, threshold: float) -> int | None:
    """Return the first index where values >= threshold (None when never)."""
    reached = np.flatnonzero(values >= threshold)
    return int(reached[0]) if len(reached) else None


def what_if(reader: MetricReader, artifact: Any, request: WhatIfRequest) -> WhatIfResult:
    """Return the what-if answer of a validated request (checked against the model first: 400 problems)."""
    check_what_if(reader, artifact, request)
    dates = [request.start + _dt.timedelta(days=i) for i in range(request.days)]
    rows = [{"channel": request.channel, "region": request.region, "device": request.device, "date": d,
             "daily_budget": request.daily_budget} for d in dates]
    cac_days = predict_cac(artifact, rows)
    if not np.all(np.isfinite(cac_days)) or np.any(cac_days <= 0):
        raise _field_problem("daily_budget", "the model gives no finite positive CAC for this budget")
    low, high = cac_interval_factors(artifact)
    spend = request.daily_budget * request.days
    users = float(np.sum(request.daily_budget / cac_days))
    cac = Interval(value=spend / users, lo80=spend / users * low, hi80=spend / users * high)
    new_users = Interval(value=users, lo80=users / high, hi80=users / low)

    weekly = ltv_cohorts(reader, request.channel, request.horizon_days)
    curve = ltv_curve(weekly, request.horizon_days)
    if curve.empty or len(curve) < request.horizon_days:
        raise _field_problem("horizon_days", f"no cohort of {request.channel} has been followed for "
                                             f"{request.horizon_days} days yet; choose a shorter horizon")
    ltv, ltv_lo, ltv_hi = (curve[c].to_numpy(dtype=float) for c in ("ltv", "lo80", "hi80"))
    end = len(curve) - 1
    roi_points = [WhatIfRoiPoint(lifetime=int(k), roi=ltv[k] / cac.value, lo80=ltv_lo[k] / cac.hi80,
                                 hi80=ltv_hi[k] / cac.lo80) for k in range(len(curve))]
    payback = _first_day(ltv, cac.value)
    return WhatIfResult(
        channel=request.channel, region=request.region, device=request.device, start=request.start,
        end=dates[-1], days=request.days, daily_budget=request.daily_budget, horizon_days=request.horizon_days,
        spend=spend, cac=cac, new_users=new_users,
        new_users_per_day=Interval(value=users / request.days, lo80=new_users.lo80 / request.days,
                                   hi80=new_users.hi80 / request.days),
        revenue=Interval(value=users * ltv[end], lo80=new_users.lo80 * ltv_lo[end],
                         hi80=new_users.hi80 * ltv_hi[end]),
        roi=Interval(value=roi_points[end].roi, lo80=roi_points[end].lo80, hi80=roi_points[end].hi80),
        payback_day=payback, payback_day_lo80=_first_day(ltv_hi, cac.lo80),
        payback_day_hi80=_first_day(ltv_lo, cac.hi80),
        roi_curve=roi_points,
        daily=[WhatIfDay(date=d, cac=float(c), new_users=float(request.daily_budget / c))
               for d, c in zip(dates, cac_days)],
        ltv_cohorts=int(weekly.drop_duplicates("week")["cohort_size"].sum()) if not weekly.empty else 0,
        model_version=str(artifact.version), model_origin=model_origin(artifact),
    )


# --- time-series forecasts ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def forecast_code_version() -> str:
    """Return a hash of the forecasting modules' source (series, models, backtest), part of the memoized forecasts'
    key: a changed model is not answered from a shared (Redis) cache filled by the code before it."""
    digest = hashlib.sha256()
    for module in (forecast_series, forecast_models, forecast_backtest):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:16]


def all_series(reader: MetricReader) -> list:
    """Return every series of ml.forecast_series as of the data's last date (memoized per data version)."""
    try:
        return reader.cached("forecast-series", {"code": forecast_code_version()},
                             lambda: read_series(reader.connection())[1])
    except BadInput as exc:  # no data, or too little history to forecast
        raise ApiProblem(503, "no_data", f"data: {exc}") from None


def series_forecast(reader: MetricReader, metric: str, channel: str, horizon_days: int) -> ForecastRows:
    """Return the forecast rows (model "auto") of (metric, channel) for the next `horizon_days` days (memoized per
    data version and parameters); a 400 problem naming `metric` or `channel` when there is no such series."""
    if metric not in METRICS:
        raise _field_problem("metric", f"must be one of {', '.join(METRICS)}")
    series = {s.key: s for s in all_series(reader)}
    channels = sorted(c for m, c in series if m == metric)
    if (metric, channel) not in series:
        what = "cac is forecast per paid channel" if channel == TOTAL and metric == "cac" else "no such series"
        raise _field_problem("channel", f"{what}; one of {', '.join(channels)}")
    chosen = series[(metric, channel)]
    origin = chosen.values.index[-1].date() if chosen.freq == "D" else None
    if origin is None:  # weekly: the daily series of the same data end at the origin
        origin = max(s.values.index[-1] for s in series.values() if s.freq == "D").date()

    def compute() -> pd.DataFrame:
        return forecast_one(chosen, origin, horizon_days)

    frame = reader.cached("forecast-rows", {"metric": metric, "channel": channel, "horizon": horizon_days,
                                            "code": forecast_code_version(),
                                            "origin": origin.isoformat()}, compute)
    rows = [ForecastRow(date=pd.Timestamp(r.date).date(), mean=r.mean, lo80=r.lo80, hi80=r.hi80, lo95=r.lo95,
                        hi95=r.hi95) for r in frame.itertuples(index=False)]
    return ForecastRows(metric=metric, channel=channel, horizon_days=horizon_days, origin=origin,
                        grain="week" if chosen.freq == "W" else "day", model=AUTO, items=rows, count=len(rows))
