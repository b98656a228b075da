"""Forecast models: ETS chosen by AICc among a few forms (statsmodels `ETSModel`, like AutoETS), and the
seasonal-naive baseline, each with 80% and 95% prediction intervals; plus the backtest scores MASE and coverage.

Every candidate has additive errors: trend none or additive damped (weekly series also additive), seasonality none
or additive with the series' period (7 for daily series, none for weekly ones), each fitted to the values and to
log(1 + value) (a multiplicative-like form for growing series; its AICc is moved to the original scale by the
log transform's Jacobian, 2 * sum(log(1 + y)), so all candidates compare). Initial states are set by statsmodels'
heuristic (not estimated), which keeps one fit at a few hundredths of a second. The intervals are the models'
exact (analytical) Gaussian intervals, back-transformed for log-scale forms (whose point forecast is then the
median), so a forecast is deterministic. Values of metrics that cannot be negative are clipped at 0 (mean and
bounds alike).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

ETS = "ets"
SEASONAL_NAIVE = "seasonal_naive"
MODELS = (ETS, SEASONAL_NAIVE)
PERIOD = {"D": 7, "W": 1}
# (trend, damped) x seasonal x scale: the ETS forms compared by AICc (A = additive, Ad = additive damped, N = none)
TRENDS = {"D": ((None, False), ("add", True)), "W": ((None, False), ("add", False), ("add", True))}
SEASONALS = (None, "add")
SCALES = ("linear", "log")
LEVELS = (80, 95)
# The least observations for a trend or a seasonal form (fewer: simpler forms only).
MIN_OBS_TREND = 8
MIN_OBS_SEASONAL_CYCLES = 3


@dataclass(frozen=True)
class Forecast:
    """A forecast: model ("ets" or "seasonal_naive"), form (e.g. "ETS(A,Ad,A)"), the dates and the mean with its
    80% and 95% interval bounds (numpy arrays of equal length)."""

    model: str
    form: str
    index: pd.DatetimeIndex
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray

    def frame(self) -> pd.DataFrame:
        """Return [date, mean, lo80, hi80, lo95, hi95]."""
        return pd.DataFrame({"date": self.index, "mean": self.mean, "lo80": self.lo80, "hi80": self.hi80,
                             "lo95": self.lo95, "hi95": self.hi95})

    def clipped(self, floor: float = 0.0) -> "Forecast":
        """Return the forecast with every value raised to at least `floor` (non-negative metrics)."""
        clip = lambda a: np.maximum(a, floor)  # noqa: E731
        return Forecast(self.model, self.form, self.index, clip(self.mean), clip(self.lo80), clip(self.hi80),
                        clip(self.lo95), clip(self.hi95))


def _form_name(trend, damped, seasonal, scale: str = "linear") -> str:
    """Return the ETS(error, trend, season) label of a form, prefixed with "log " on the log scale."""
    t = "N" if trend is None else ("Ad" if damped else "A")
    return f"{'log ' if scale == 'log' else ''}ETS(A,{t},{'A' if seasonal else 'N'})"


def candidate_forms(n_obs: int, period: int) -> list[tuple]:
    """Return the (trend, damped, seasonal) forms a series of `n_obs` observations and `period` can be fitted with."""
    forms = []
    for trend, damped in TRENDS["D" if period > 1 else "W"]:
        if trend is not None and n_obs < MIN_OBS_TREND:
            continue
        for seasonal in SEASONALS:
            if seasonal is not None and (period < 2 or n_obs < MIN_OBS_SEASONAL_CYCLES * period):
                continue
            forms.append((trend, damped, seasonal))
    return forms


def _fit(y: pd.Series, trend, damped, seasonal, period: int):
    """Return the fitted ETSModel results of one form, or None when it cannot be fitted."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ETSModel(y, error="add", trend=trend, damped_trend=damped, seasonal=seasonal,
                             seasonal_periods=period if seasonal else None, initialization_method="heuristic")
            result = model.fit(disp=False)
    except (ValueError, np.linalg.LinAlgError):
        return None
    return result if np.isfinite(result.aicc) else None


def _as_model_input(y: pd.Series) -> pd.Series:
    """Return `y` as floats on a positional index (statsmodels needs none of the dates)."""
    return pd.Series(np.asarray(y, dtype=float))


def select_ets(y: pd.Series, period: int):
    """Return (fitted results, scale, form label) of the candidate with the lowest AICc on the original scale, None
    when no candidate fits (e.g. a constant series)."""
    values = _as_model_input(y)
    if values.nunique() <= 1:
        return None
    best = None
    for scale in SCALES if bool((values >= 0).all()) else ("linear",):
        fitted_values = np.log1p(values) if scale == "log" else values
        jacobian = 2.0 * float(fitted_values.sum()) if scale == "log" else 0.0
        for trend, damped, seasonal in candidate_forms(len(values), period):
            result = _fit(fitted_values, trend, damped, seasonal, period)
            if result is None:
                continue
            aicc = result.aicc + jacobian
            if best is None or aicc < best[0]:
                best = (aicc, result, scale, _form_name(trend, damped, seasonal, scale))
    return None if best is None else best[1:]


def ets_forecast(y: pd.Series, index: pd.DatetimeIndex, period: int) -> Forecast:
    """Return the forecast over `index` of the ETS candidate with the lowest AICc fitted to `y` (the seasonal naive
    when none fits)."""
    chosen = select_ets(y, period)
    if chosen is None:
        return seasonal_naive_forecast(y, index, period)
    result, scale, form = chosen
    start = len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prediction = result.get_prediction(start=start, end=start + len(index) - 1, method="exact")
        f80 = prediction.summary_frame(alpha=0.20)
        f95 = prediction.summary_frame(alpha=0.05)
    back = np.expm1 if scale == "log" else (lambda a: a)
    columns = (f80["mean"], f80["pi_lower"], f80["pi_upper"], f95["pi_lower"], f95["pi_upper"])
    return Forecast(ETS, form, index, *(back(c.to_numpy(float)) for c in columns))


def seasonal_naive_forecast(y: pd.Series, index: pd.DatetimeIndex, period: int) -> Forecast:
    """Return the seasonal-naive forecast over `index` (the last season repeated; period 1 = the last value), with
    Gaussian intervals from its in-sample residuals growing with the seasons ahead (sd * sqrt(k + 1))."""
    values = np.asarray(y, dtype=float)
    steps = len(index)
    m = max(1, min(period, len(values)))
    h = np.arange(1, steps + 1)
    mean = values[len(values) - m + (h - 1) % m] if len(values) else np.zeros(steps)
    residuals = values[m:] - values[:-m] if len(values) > m else np.zeros(1)
    sigma = float(np.sqrt(np.mean(residuals ** 2)))
    sd = sigma * np.sqrt((h - 1) // m + 1)
    z80, z95 = norm.ppf(0.90), norm.ppf(0.975)
    return Forecast(SEASONAL_NAIVE, f"SNaive({m})", index, mean, mean - z80 * sd, mean + z80 * sd,
                    mean - z95 * sd, mean + z95 * sd)


def forecast(model: str, y: pd.Series, index: pd.DatetimeIndex, period: int) -> Forecast:
    """Return the non-negative forecast of `model` ("ets" or "seasonal_naive") over `index` from history `y`."""
    if model == ETS:
        return ets_forecast(y, index, period).clipped()
    if model == SEASONAL_NAIVE:
        return seasonal_naive_forecast(y, index, period).clipped()
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def mase_scale(y: pd.Series, period: int) -> float:
    """Return the in-sample MAE of the seasonal-naive forecast of `y` (the MASE denominator; NaN when undefined)."""
    values = np.asarray(y, dtype=float)
    m = max(1, period)
    if len(values) <= m:
        return float("nan")
    scale = float(np.mean(np.abs(values[m:] - values[:-m])))
    return scale if scale > 0 else float("nan")


def mase(actual: np.ndarray, predicted: np.ndarray, scale: float) -> float:
    """Return the MAE of `predicted` against `actual` divided by `scale` (NaN for an undefined scale)."""
    if not np.isfinite(scale) or len(actual) == 0:
        return float("nan")
    return float(np.mean(np.abs(np.asarray(actual, float) - np.asarray(predicted, float))) / scale)


def covered(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Return a boolean array: whether each actual value lies within [lower, upper]."""
    actual = np.asarray(actual, float)
    return (actual >= lower) & (actual <= upper)
