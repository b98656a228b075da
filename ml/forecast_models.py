"""Forecast models, each with 80% and 95% prediction intervals, and the backtest scores MASE and coverage.

- "auto" (the forecasts the product shows): per series, the AICc-best ETS form or one of the trend regressions,
  whichever forecast the series best at earlier origins of its own history (`validation_plan`: 2 origins 14 days
  apart at 28 days ahead, more for shorter horizons) (mean absolute error
  over the same horizon, each candidate refitted on the values before each origin); ETS on a tie or when the
  history is too short for a validation origin.
- "ets": ETS chosen by AICc among a few forms (statsmodels `ETSModel`, like AutoETS). Every candidate has
  additive errors: trend none or additive damped (weekly series also additive), seasonality none or additive with
  the series' period (7 for daily series, none for weekly ones), each fitted to the values and to log(1 + value) (a
  multiplicative-like form for growing series; its AICc is moved to the original scale by the log transform's
  Jacobian, 2 * sum(log(1 + y)), so all candidates compare). Initial states are set by statsmodels' heuristic (not
  estimated), which keeps one fit at a few hundredths of a second. Intervals: the exact (analytical) Gaussian
  ones, back-transformed for log-scale forms (whose point forecast is then the median).
- trend regressions (candidates of "auto"): least squares of the value, or of log(1 + value), on a linear trend
  and (daily series) a dummy per weekday, on all the history or on its last 12 weeks. Intervals: the least-squares
  prediction intervals (Student t, parameter uncertainty included), scaled up to the root mean squared error the
  same form made at the validation origins when that is larger (a line fitted to a few months understates its
  error four weeks ahead).
- "seasonal_naive": the baseline (the same weekday a week earlier; the last value for weekly series).

Everything is deterministic (no simulation). Values of metrics that cannot be negative are clipped at 0 (mean and
bounds alike).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm
from scipy.stats import t as student_t
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

AUTO = "auto"  # per series, the ETS form or trend regression that did best in a validation on its own history
ETS = "ets"  # the ETS form with the lowest AICc
REGRESSION = "trend_regression"  # a candidate of AUTO only (not backtested on its own)
SEASONAL_NAIVE = "seasonal_naive"
MODELS = (AUTO, ETS, SEASONAL_NAIVE)  # the models forecast and backtested
PERIOD = {"D": 7, "W": 1}
# (trend, damped) x seasonal x scale: the ETS forms compared by AICc (A = additive, Ad = additive damped, N = none)
TRENDS = {"D": ((None, False), ("add", True)), "W": ((None, False), ("add", False), ("add", True))}
SEASONALS = (None, "add")
SCALES = ("linear", "log")
LEVELS = (80, 95)
# The least observations for a trend or a seasonal form (fewer: simpler forms only).
MIN_OBS_TREND = 8
MIN_OBS_SEASONAL_CYCLES = 3
# AUTO's validation: at least 2 origins, and as many more (up to 8) as 56 days of scored values take; 14 days
# (2 weeks) apart, or the horizon when shorter; the latest one horizon before the end of the history; each leaving at
# least 6 seasons (6 weeks of days; 10 weeks for weekly series) to fit.
VALIDATION_ORIGINS = 2
MAX_VALIDATION_ORIGINS = 8
VALIDATION_DAYS = 56
VALIDATION_STEP_DAYS = 14
MIN_VALIDATION_SEASONS = 6
REGRESSION_WINDOW_WEEKS = 12  # the trend regressions are fitted on all the history and on its last 12 weeks
MIN_REGRESSION_DOF = 4


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


@dataclass(frozen=True)
class EtsForm:
    """One ETS form: trend (None or "add"), damped, seasonal (None or "add") and scale ("linear" or "log", the
    latter fitted to log(1 + value))."""

    trend: str | None
    damped: bool
    seasonal: str | None
    scale: str = "linear"

    @property
    def label(self) -> str:
        """Return the ETS(error, trend, season) label, prefixed with "log " on the log scale."""
        t = "N" if self.trend is None else ("Ad" if self.damped else "A")
        return f"{'log ' if self.scale == 'log' else ''}ETS(A,{t},{'A' if self.seasonal else 'N'})"


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


def _on_scale(values: pd.Series, scale: str) -> pd.Series:
    """Return `values` on the fitting scale: log(1 + value) for "log", unchanged for "linear"."""
    return np.log1p(values) if scale == "log" else values


def _scales(values: pd.Series) -> tuple[str, ...]:
    """Return the scales a series can be fitted on: the log scale only when no value is negative."""
    return SCALES if bool((values >= 0).all()) else ("linear",)


def select_ets(y: pd.Series, period: int):
    """Return (fitted results, EtsForm) of the candidate with the lowest AICc on the original scale, None when no
    candidate fits (e.g. a constant series)."""
    values = _as_model_input(y)
    if values.nunique() <= 1:
        return None
    best = None
    for scale in _scales(values):
        fitted_values = _on_scale(values, scale)
        jacobian = 2.0 * float(fitted_values.sum()) if scale == "log" else 0.0
        for trend, damped, seasonal in candidate_forms(len(values), period):
            result = _fit(fitted_values, trend, damped, seasonal, period)
            if result is None:
                continue
            aicc = result.aicc + jacobian
            if best is None or aicc < best[0]:
                best = (aicc, result, EtsForm(trend, damped, seasonal, scale))
    return None if best is None else best[1:]


def _ets_predict(result, form: EtsForm, index: pd.DatetimeIndex, start: int) -> Forecast:
    """Return the forecast over `index` of fitted ETS results (`start`: the number of fitted values), with its
    exact Gaussian intervals, back on the original scale."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prediction = result.get_prediction(start=start, end=start + len(index) - 1, method="exact")
        f80 = prediction.summary_frame(alpha=0.20)
        f95 = prediction.summary_frame(alpha=0.05)
    back = np.expm1 if form.scale == "log" else (lambda a: a)
    columns = (f80["mean"], f80["pi_lower"], f80["pi_upper"], f95["pi_lower"], f95["pi_upper"])
    return Forecast(ETS, form.label, index, *(back(c.to_numpy(float)) for c in columns))


def ets_forecast(y: pd.Series, index: pd.DatetimeIndex, period: int) -> Forecast:
    """Return the forecast over `index` of the ETS candidate with the lowest AICc fitted to `y` (the seasonal naive
    when none fits)."""
    chosen = select_ets(y, period)
    if chosen is None:
        return seasonal_naive_forecast(y, index, period)
    result, form = chosen
    return _ets_predict(result, form, index, len(y))


def ets_form_forecast(y: pd.Series, index: pd.DatetimeIndex, period: int, form: EtsForm) -> Forecast | None:
    """Return the forecast over `index` of one ETS form fitted to `y`, None when it cannot be fitted."""
    values = _as_model_input(y)
    if form.scale == "log" and not bool((values >= 0).all()):
        return None
    result = _fit(_on_scale(values, form.scale), form.trend, form.damped, form.seasonal, period)
    return None if result is None else _ets_predict(result, form, index, len(values))


# --- trend regressions: least squares on a linear trend and weekday dummies --------------------------------

@dataclass(frozen=True)
class RegressionForm:
    """A trend regression: value (or log(1 + value)) = a + b t (+ a dummy per weekday for daily series), fitted
    by least squares on the last `window` observations (None: all of them)."""

    scale: str = "linear"
    window: int | None = None

    @property
    def label(self) -> str:
        """Return a label such as "log TrendReg(last 84)" or "TrendReg(all)"."""
        kept = "all" if self.window is None else f"last {self.window}"
        return f"{'log ' if self.scale == 'log' else ''}TrendReg({kept})"


def _design(t: np.ndarray, period: int) -> np.ndarray:
    """Return the regression's design matrix at positions `t`: intercept, trend (in units of 100 observations)
    and, for period > 1, a dummy per season position except the first."""
    columns = [np.ones(len(t)), t / 100.0]
    if period > 1:
        columns += [(t % period == k).astype(float) for k in range(1, period)]
    return np.column_stack(columns)


def regression_forecast(y: pd.Series, index: pd.DatetimeIndex, period: int, form: RegressionForm,
                        validated: tuple[np.ndarray, np.ndarray] | None = None) -> Forecast | None:
    """Return the forecast over `index` of a trend regression fitted to `y`, with its least-squares prediction
    intervals (Student t, parameter uncertainty included), scaled up so that their root mean square standard
    deviation over the horizon is the root mean squared error of `validated` (actual, predicted values of the same
    form at earlier origins, compared on the fitting scale) when that is larger; None when there are too few
    observations."""
    values = np.asarray(y, dtype=float)
    if form.scale == "log" and not bool((values >= 0).all()):
        return None
    n = len(values)
    t = np.arange(n)[-form.window:] if form.window else np.arange(n)
    X = _design(t, period)
    target = np.log1p(values[t]) if form.scale == "log" else values[t]
    dof = len(t) - X.shape[1]
    if dof < MIN_REGRESSION_DOF:
        return None
    coef, *_ = np.linalg.lstsq(X, target, rcond=None)
    residual = target - X @ coef
    s2 = float(residual @ residual) / dof
    X_new = _design(np.arange(n, n + len(index)), period)
    mean = X_new @ coef
    leverage = np.einsum("ij,jk,ik->i", X_new, np.linalg.pinv(X.T @ X), X_new)
    sd = np.sqrt(s2 * (1.0 + leverage))
    if validated is not None and len(validated[0]):
        on_scale = (lambda a: np.log1p(np.maximum(a, 0.0))) if form.scale == "log" else (lambda a: a)
        rmse = float(np.sqrt(np.mean((on_scale(validated[0]) - on_scale(validated[1])) ** 2)))
        typical = float(np.sqrt(np.mean(sd ** 2)))
        sd = sd * max(1.0, rmse / typical) if typical > 0 else np.full(len(sd), rmse)
    back = np.expm1 if form.scale == "log" else (lambda a: a)
    bounds = [mean + sign * student_t.ppf(q, dof) * sd for q in (0.90, 0.975) for sign in (-1, 1)]
    return Forecast(REGRESSION, form.label, index, back(mean), back(bounds[0]), back(bounds[1]), back(bounds[2]),
                    back(bounds[3]))


def regression_forms(n_obs: int, period: int) -> list[RegressionForm]:
    """Return the trend regressions compared for a series of `n_obs` observations: each scale, on all the history
    and on its last REGRESSION_WINDOW_WEEKS weeks (when it is longer)."""
    window = REGRESSION_WINDOW_WEEKS * (7 if period > 1 else 1)
    windows = (None, window) if n_obs > window else (None,)
    return [RegressionForm(scale, w) for scale in SCALES for w in windows]


# --- the model chosen per series by a rolling validation on its own history ---------------------------------

def validation_plan(steps: int, period: int) -> tuple[int, int]:
    """Return (origins, step in observations) of AUTO's validation for a horizon of `steps` observations of a
    series of `period` (7: days, 1: weeks): enough origins to score VALIDATION_DAYS days (at least
    VALIDATION_ORIGINS, at most MAX_VALIDATION_ORIGINS), VALIDATION_STEP_DAYS apart or `steps` when shorter."""
    per_day = 1 if period > 1 else 7
    wanted = -(-(VALIDATION_DAYS // per_day) // max(1, steps))
    return (min(MAX_VALIDATION_ORIGINS, max(VALIDATION_ORIGINS, wanted)),
            max(1, min(VALIDATION_STEP_DAYS // per_day, steps)))


def validation_errors(y: pd.Series, steps: int, step: int, min_obs: int, predict,
                      origins: int = VALIDATION_ORIGINS) -> tuple[np.ndarray, np.ndarray] | None:
    """Return (actual, predicted) values of `predict(history, index)` (a Forecast or None) at `origins` origins
    `step` observations apart, the latest `steps` before the end of `y`, each over the next `steps` values (the
    origins leaving fewer than `min_obs` observations to fit are skipped; empty arrays when none is left); None when
    `predict` fails at one."""
    values = np.asarray(y, dtype=float)
    actual, predicted = [], []
    for k in range(origins):
        cut = len(values) - steps - k * step
        if cut < min_obs:
            break
        result = predict(y.iloc[:cut], pd.RangeIndex(cut, cut + steps))
        if result is None or not np.all(np.isfinite(result.mean)):
            return None
        actual.append(values[cut:cut + steps])
        predicted.append(np.maximum(result.mean, 0.0))
    return (np.concatenate(actual), np.concatenate(predicted)) if actual else (np.zeros(0), np.zeros(0))


def auto_and_ets_forecasts(y: pd.Series, index: pd.DatetimeIndex, period: int) -> tuple[Forecast, Forecast]:
    """Return (AUTO's forecast, ETS's forecast) over `index` from `y`, sharing the ETS selection. AUTO: the
    AICc-best ETS form and the trend regressions are each refitted at the earlier origins of `validation_plan` and
    scored on the `len(index)` values after each; the one with the lowest mean absolute error is fitted to all of
    `y` (ETS when no earlier origin leaves enough history, and on a tie)."""
    chosen = select_ets(y, period)
    if chosen is None:
        naive = seasonal_naive_forecast(y, index, period)
        return _as_auto(naive), naive
    result, ets_form = chosen
    ets = _ets_predict(result, ets_form, index, len(y))
    steps = len(index)
    origins, step = validation_plan(steps, period)
    min_obs = max(MIN_VALIDATION_SEASONS * period, MIN_OBS_TREND + 2)
    scored = validation_errors(y, steps, step, min_obs, lambda h, i: ets_form_forecast(h, i, period, ets_form),
                               origins)
    best = ets
    if scored is None or not len(scored[0]):
        return _as_auto(best), ets
    best_error = float(np.mean(np.abs(scored[0] - scored[1])))
    for form in regression_forms(len(y), period):
        scored = validation_errors(y, steps, step, min_obs, lambda h, i: regression_forecast(h, i, period, form),
                                   origins)
        if scored is None or not len(scored[0]):
            continue
        error = float(np.mean(np.abs(scored[0] - scored[1])))
        if error < best_error:
            fitted = regression_forecast(y, index, period, form, validated=scored)
            if fitted is not None and np.all(np.isfinite(fitted.mean)):
                best_error, best = error, fitted
    return _as_auto(best), ets


def auto_forecast(y: pd.Series, index: pd.DatetimeIndex, period: int) -> Forecast:
    """Return AUTO's forecast over `index` from `y` (see `auto_and_ets_forecasts`)."""
    return auto_and_ets_forecasts(y, index, period)[0]


def _as_auto(chosen: Forecast) -> Forecast:
    """Return `chosen` labelled as the auto model (its form keeps the family: "ETS(...)", "TrendReg(...)")."""
    return Forecast(AUTO, chosen.form, chosen.index, chosen.mean, chosen.lo80, chosen.hi80, chosen.lo95, chosen.hi95)


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
    """Return the non-negative forecast of `model` ("auto", "ets" or "seasonal_naive") over `index` from history
    `y`."""
    if model == AUTO:
        return auto_forecast(y, index, period).clipped()
    if model == ETS:
        return ets_forecast(y, index, period).clipped()
    if model == SEASONAL_NAIVE:
        return seasonal_naive_forecast(y, index, period).clipped()
    raise ValueError(f"unknown model {model!r}; choose from {MODELS}")


def forecast_all(y: pd.Series, index: pd.DatetimeIndex, period: int) -> dict[str, Forecast]:
    """Return {model: non-negative forecast over `index`} of every model of MODELS from history `y` (one ETS
    selection for AUTO and ETS)."""
    auto, ets = auto_and_ets_forecasts(y, index, period)
    naive = seasonal_naive_forecast(y, index, period)
    return {AUTO: auto.clipped(), ETS: ets.clipped(), SEASONAL_NAIVE: naive.clipped()}


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
