"""The acquisition-cost (CAC) model: a regressor chosen among five families with time-ordered CV, a 28-day holdout.

Rows and features: `ml.cac_features` (one row per acquisition date, paid channel, region and device; target CAC).
One scikit-learn Pipeline shape: the churn model's ColumnTransformer (`ml.selection.make_preprocessor`: numeric
median-impute + StandardScaler, categorical one-hot) then a regressor of one of FAMILIES, fitted on log(CAC) and
answering in CAC (`TransformedTargetRegressor`; CAC is positive and its errors multiplicative). Each family's main
hyperparameter is searched on a small grid (GRIDS) with `DateFolds`: folds by date, each trained only on days
before the ones it scores. The family and value with the lowest CV MAE are chosen. The last `holdout_days` (28)
days of the data are never seen by the search: there every family's best candidate, refit on the days before, is
scored (R2, MAE, MAPE) against the naive baseline (each group's CAC over the previous 7 days, else its channel's).
The artifact's pipeline is then refit on every row up to the origin, for `predict_cac`.

The card (JSON beside the joblib file, like the churn model's) holds the features, the chosen family and
parameters, the CV table of every candidate, each family's validation curve (scores against its main
hyperparameter: the grid) and the chosen family's learning curve (scores against the training days kept), the
holdout metrics, the quantiles of the chosen family's holdout residuals (log of actual / predicted CAC: 2.5, 10,
90, 97.5 %; the what-if's CAC interval), the data version and the library versions. `comparison_rows(card)` is
the per-family table.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_absolute_percentage_error, r2_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVR
from sqlalchemy.engine import Connection
from threadpoolctl import threadpool_limits

from dashboard import db
from dashboard.errors import BadInput
from ml import cac_features as cf
from ml.artifact import library_versions, new_version, version_mismatches
from ml.selection import make_preprocessor

FAMILIES = ("ridge", "knn", "svr", "random_forest", "hist_gradient_boosting")
# family -> (its main hyperparameter, the values searched): the search grid is the validation curve
GRIDS: dict[str, tuple[str, list]] = {
    "ridge": ("alpha", [0.1, 1.0, 10.0, 100.0]),
    "knn": ("n_neighbors", [5, 15, 40]),
    "svr": ("gamma", [0.001, 0.003, 0.01]),
    "random_forest": ("min_samples_leaf", [2, 8, 32]),
    "hist_gradient_boosting": ("learning_rate", [0.03, 0.1, 0.3]),
}
BASELINE_FAMILY = "naive_baseline"
DEFAULT_CV = 4
DEFAULT_HOLDOUT_DAYS = 28
LEARNING_FRACTIONS = (0.25, 0.5, 0.75, 1.0)
# The card's holdout residual quantiles (log of actual / predicted CAC): 10-90 is the what-if's 80% interval,
# 2.5-97.5 a 95% one.
RESIDUAL_QUANTILES = (0.025, 0.1, 0.9, 0.975)
SCORING = {"r2": "r2", "mae": "neg_mean_absolute_error", "mape": "neg_mean_absolute_percentage_error"}
PREFIX = "cac-"
LATEST_POINTER = "cac-latest"
HOW_TO_TRAIN = "python -m dashboard forecast train"


class DateFolds:
    """Time-ordered CV folds by date: sklearn's TimeSeriesSplit over the distinct values of `time_column`.

    Fold k trains on the rows of the first dates and scores the rows of the next block of dates, so no fold
    trains on a date on or after the ones it scores (rows of one date are never split between train and test).
    """

    def __init__(self, n_splits: int = DEFAULT_CV, time_column: str = "days_since_start") -> None:
        self.n_splits = n_splits
        self.time_column = time_column

    def split(self, X: pd.DataFrame, y=None, groups=None):
        """Yield (train row positions, test row positions) per fold, earliest fold first."""
        times = np.asarray(X[self.time_column])
        days = np.unique(times)
        if len(days) <= self.n_splits:
            raise ValueError(f"{len(days)} dates cannot make {self.n_splits} time-ordered folds")
        for train_days, test_days in TimeSeriesSplit(n_splits=self.n_splits).split(days):
            yield (np.flatnonzero(np.isin(times, days[train_days])), np.flatnonzero(np.isin(times, days[test_days])))

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Return the number of folds."""
        return self.n_splits


def make_regressor(family: str, seed: int = 0):
    """Return the unfitted regressor of `family` (one of FAMILIES) with its fixed settings."""
    if family == "ridge":
        return Ridge()
    if family == "knn":
        return KNeighborsRegressor(weights="distance")
    if family == "svr":
        return SVR(kernel="rbf", C=10.0, epsilon=0.05, cache_size=400)  # a wide kernel: a local one overfits
    if family == "random_forest":
        return RandomForestRegressor(n_estimators=120, max_features=0.5, random_state=seed, n_jobs=1)
    if family == "hist_gradient_boosting":
        return HistGradientBoostingRegressor(max_iter=200, early_stopping=False, random_state=seed)
    raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")


def _log_positive(values):
    """Return log(values), values clipped below at 1e-3 (money and counts: their ratios matter, not differences)."""
    return np.log(np.clip(np.asarray(values, dtype=float), 1e-3, None))


def make_cac_preprocessor() -> ColumnTransformer:
    """Return the ColumnTransformer: numeric median-impute (money and counts then logged) + StandardScaler,
    categorical one-hot (ml.selection's, unknown values ignored)."""
    logged = [c for c in cf.NUMERIC_FEATURES if c in cf.LOG_FEATURES]
    plain = [c for c in cf.NUMERIC_FEATURES if c not in cf.LOG_FEATURES]
    prep = make_preprocessor(plain, cf.CATEGORICAL_FEATURES)
    log_steps = Pipeline([("impute", SimpleImputer(strategy="median")),
                          ("log", FunctionTransformer(_log_positive, feature_names_out="one-to-one")),
                          ("scale", StandardScaler())])
    prep.transformers = [("log", log_steps, logged), *prep.transformers]
    return prep


def make_cac_pipeline(family: str, seed: int = 0) -> Pipeline:
    """Return Pipeline(prep: impute, log and scale numeric, one-hot categorical -> model: regressor on log CAC)."""
    model = TransformedTargetRegressor(regressor=make_regressor(family, seed), func=np.log, inverse_func=np.exp,
                                       check_inverse=False)
    return Pipeline([("prep", make_cac_preprocessor()), ("model", model)])


def param_key(family: str) -> str:
    """Return the pipeline parameter name of `family`'s main hyperparameter."""
    return f"model__regressor__{GRIDS[family][0]}"


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """Return r2, mae and mape (a fraction: 0.1 = 10 %) of the predictions."""
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return {"r2": float(r2_score(y_true, y_pred)), "mae": float(mean_absolute_error(y_true, y_pred)),
            "mape": float(mean_absolute_percentage_error(y_true, y_pred))}


def baseline_predictions(rows: pd.DataFrame, fallback: float) -> np.ndarray:
    """Return the naive baseline per row: the group's CAC over the previous 7 days, else the channel's (7, then
    28 days), else `fallback` (the training rows' median CAC)."""
    return rows[cf.BASELINE].fillna(fallback).to_numpy(dtype=float)


def _search_family(family: str, X: pd.DataFrame, y: pd.Series, folds: DateFolds, seed: int, n_jobs: int):
    """Return (CV rows of each candidate, the best candidate's parameter value) of `family`'s grid search."""
    name, values = GRIDS[family]
    search = GridSearchCV(make_cac_pipeline(family, seed), {param_key(family): values}, scoring=SCORING, cv=folds,
                          refit=False, n_jobs=n_jobs, return_train_score=True, error_score=np.nan)
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp of an extreme log prediction in a poor candidate
        search.fit(X, y)
    res = search.cv_results_
    rows = [{
        "family": family, "param": name, "value": value,
        "cv_r2": float(res["mean_test_r2"][i]), "cv_mae": float(-res["mean_test_mae"][i]),
        "cv_mape": float(-res["mean_test_mape"][i]), "cv_mae_std": float(res["std_test_mae"][i]),
        "train_r2": float(res["mean_train_r2"][i]), "train_mae": float(-res["mean_train_mae"][i]),
        "fit_seconds": float(res["mean_fit_time"][i]),
    } for i, value in enumerate(values)]
    best = min(rows, key=lambda r: (np.inf if np.isnan(r["cv_mae"]) else r["cv_mae"]))
    return rows, best["value"]


def _fitted(family: str, value, X: pd.DataFrame, y: pd.Series, seed: int) -> Pipeline:
    """Return the pipeline of `family` with its main hyperparameter at `value`, fitted on X, y."""
    pipeline = make_cac_pipeline(family, seed).set_params(**{param_key(family): value})
    with threadpool_limits(limits=1):
        return pipeline.fit(X, y)


def learning_curve_rows(family: str, value, X: pd.DataFrame, y: pd.Series, folds: DateFolds, seed: int
                        ) -> list[dict[str, float]]:
    """Return per training fraction the mean train and CV R2 and MAE over the folds, each fold keeping only its
    latest `fraction` of training dates (the dates nearest the scored ones)."""
    splits = list(folds.split(X))
    times = np.asarray(X[folds.time_column])
    out = []
    for fraction in LEARNING_FRACTIONS:
        scores = []
        for train, test in splits:
            days = np.unique(times[train])
            kept = train[np.isin(times[train], days[len(days) - max(1, round(fraction * len(days))):])]
            model = _fitted(family, value, X.iloc[kept], y.iloc[kept], seed)
            scores.append((len(kept), regression_metrics(y.iloc[kept], model.predict(X.iloc[kept])),
                           regression_metrics(y.iloc[test], model.predict(X.iloc[test]))))
        out.append({"fraction": fraction, "train_rows": float(np.mean([s[0] for s in scores])),
                    "train_r2": float(np.mean([s[1]["r2"] for s in scores])),
                    "cv_r2": float(np.mean([s[2]["r2"] for s in scores])),
                    "train_mae": float(np.mean([s[1]["mae"] for s in scores])),
                    "cv_mae": float(np.mean([s[2]["mae"] for s in scores]))})
    return out


def residual_quantiles(y_true, y_pred) -> dict[str, Any]:
    """Return the card's `holdout_residuals`: how the log ratio actual / predicted is defined, its row count, mean,
    median and RESIDUAL_QUANTILES (keys "0.025", "0.1", "0.9", "0.975")."""
    ratio = np.log(np.asarray(y_true, dtype=float) / np.asarray(y_pred, dtype=float))
    ratio = ratio[np.isfinite(ratio)]
    quantiles = np.quantile(ratio, RESIDUAL_QUANTILES) if len(ratio) else [float("nan")] * len(RESIDUAL_QUANTILES)
    return {"definition": "log(actual CAC / predicted CAC) of the chosen family on the holdout rows, fitted on the "
                          "days before the holdout",
            "rows": int(len(ratio)), "mean": float(np.mean(ratio)) if len(ratio) else float("nan"),
            "median": float(np.median(ratio)) if len(ratio) else float("nan"),
            "quantiles": {str(q): float(v) for q, v in zip(RESIDUAL_QUANTILES, quantiles)}}


def _baseline_cv(X: pd.DataFrame, y: pd.Series, rows: pd.DataFrame, folds: DateFolds) -> dict[str, float]:
    """Return the naive baseline's mean r2, mae, mape over the CV folds' scored rows."""
    scores = [regression_metrics(y.iloc[test], baseline_predictions(rows.iloc[test], float(y.iloc[train].median())))
              for train, test in folds.split(X)]
    return {k: float(np.mean([s[k] for s in scores])) for k in ("r2", "mae", "mape")}


@dataclass
class CacArtifact:
    """A trained CAC model: the chosen pipeline refit on every row up to the origin, the lag state after the origin
    (for `predict_cac`), and the card."""

    pipeline: Any
    card: dict[str, Any]
    version: str
    state: pd.DataFrame
    channel_state: pd.DataFrame
    first_date: _dt.date
    seed: int = 0


def train_cac_model(conn: Connection, origin: _dt.date | None = None, seed: int = 0, cv: int = DEFAULT_CV,
                    holdout_days: int = DEFAULT_HOLDOUT_DAYS, n_jobs: int = 1, families: tuple[str, ...] = FAMILIES,
                    progress: bool = False, log: Callable[[str], None] | None = None) -> CacArtifact:
    """Return a trained CacArtifact: family chosen by time-ordered CV before the holdout, scored on the holdout
    against the naive baseline, refit on every row up to `origin` (default: the data's last date)."""
    say = log or (lambda message: None)
    started = time.perf_counter()
    data = cf.build_cac_data(conn, origin)
    rows = data.rows
    holdout_start = pd.Timestamp(data.origin - _dt.timedelta(days=holdout_days - 1))
    train_rows, holdout_rows = rows[rows["dt"] < holdout_start], rows[rows["dt"] >= holdout_start]
    if train_rows["dt"].nunique() < 3 * (cv + 1) or holdout_rows.empty:
        raise BadInput(f"too little data for the CAC model up to {data.origin}: {train_rows['dt'].nunique()} days "
                       f"before the {holdout_days}-day holdout (need {3 * (cv + 1)}) and {len(holdout_rows)} holdout "
                       "rows")
    X, y = train_rows[cf.FEATURES], train_rows[cf.TARGET]
    X_hold, y_hold = holdout_rows[cf.FEATURES], holdout_rows[cf.TARGET]
    folds = DateFolds(cv)
    timings = {"features": time.perf_counter() - started}
    say(f"CAC rows: {len(train_rows):,} before the holdout, {len(holdout_rows):,} in it "
        f"({holdout_start.date()} .. {data.origin}); features {timings['features']:.1f}s")

    stage = time.perf_counter()
    cv_rows, best_values, family_rows, holdout_predictions = [], {}, [], {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(families), desc="CAC model search", unit="family", file=sys.stderr)
    for family in families:
        if bar is not None:
            bar.set_postfix_str(family)
        family_started = time.perf_counter()
        searched, best_values[family] = _search_family(family, X, y, folds, seed, n_jobs)
        cv_rows += searched
        best = next(r for r in searched if r["value"] == best_values[family])
        holdout_predictions[family] = _fitted(family, best_values[family], X, y, seed).predict(X_hold)
        hold = regression_metrics(y_hold, holdout_predictions[family])
        family_rows.append({"family": family, "param": best["param"], "value": best["value"], "cv_r2": best["cv_r2"],
                            "cv_mae": best["cv_mae"], "cv_mape": best["cv_mape"], "holdout_r2": hold["r2"],
                            "holdout_mae": hold["mae"], "holdout_mape": hold["mape"]})
        line = (f"{family:<24} CV MAE {best['cv_mae']:.4f} R2 {best['cv_r2']:.3f}; holdout MAE {hold['mae']:.4f} "
                f"({time.perf_counter() - family_started:.1f}s)")
        if bar is None:
            say(f"CAC search: {line}")
        else:  # the bar's own line instead of the log's
            bar.write(f"  {line}", file=sys.stderr)
            bar.update(1)
    if bar is not None:
        bar.close()
    timings["selection"] = time.perf_counter() - stage
    chosen = min(family_rows, key=lambda r: (np.inf if np.isnan(r["cv_mae"]) else r["cv_mae"]))
    family, value = chosen["family"], chosen["value"]
    for row in family_rows:
        row["chosen"] = row["family"] == family

    stage = time.perf_counter()
    learning = learning_curve_rows(family, value, X, y, folds, seed)
    timings["learning_curve"] = time.perf_counter() - stage
    fallback = float(y.median())
    baseline_cv = _baseline_cv(X, y, train_rows, folds)
    baseline_hold = regression_metrics(y_hold, baseline_predictions(holdout_rows, fallback))
    family_rows.append({"family": BASELINE_FAMILY, "param": None, "value": None, "cv_r2": baseline_cv["r2"],
                        "cv_mae": baseline_cv["mae"], "cv_mape": baseline_cv["mape"],
                        "holdout_r2": baseline_hold["r2"], "holdout_mae": baseline_hold["mae"],
                        "holdout_mape": baseline_hold["mape"], "chosen": False})
    model_hold = {k.removeprefix("holdout_"): chosen[k] for k in ("holdout_r2", "holdout_mae", "holdout_mape")}
    holdout_residuals = residual_quantiles(y_hold, holdout_predictions[family])

    stage = time.perf_counter()
    pipeline = _fitted(family, value, rows[cf.FEATURES], rows[cf.TARGET], seed)  # every row up to the origin
    timings["final_fit"] = time.perf_counter() - stage
    say(f"CAC model: {family} ({GRIDS[family][0]}={value}); holdout MAE {model_hold['mae']:.4f} against the naive "
        f"baseline's {baseline_hold['mae']:.4f}; " + ", ".join(f"{k} {v:.1f}s" for k, v in timings.items()))

    now = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    version = new_version(now)
    fold_dates = [{"train_first": str(train_rows["dt"].iloc[tr].min().date()),
                   "train_last": str(train_rows["dt"].iloc[tr].max().date()),
                   "test_first": str(train_rows["dt"].iloc[te].min().date()),
                   "test_last": str(train_rows["dt"].iloc[te].max().date())} for tr, te in folds.split(X)]
    card: dict[str, Any] = {
        "model": "acquisition cost (CAC) regression",
        "version": version,
        "trained_at": now.isoformat() + "Z",
        "data_version": db.get_data_version(conn),
        "origin": data.origin.isoformat(),
        "data_range": {"first": data.first_date.isoformat(), "last": data.origin.isoformat()},
        "target": cf.TARGET_DEFINITION,
        "unit": "one row per (acquisition date, paid channel, region, device) with new users",
        "rows": {"train": int(len(train_rows)), "holdout": int(len(holdout_rows)), "final_fit": int(len(rows))},
        "holdout": {"days": holdout_days, "first": str(holdout_start.date()), "last": data.origin.isoformat()},
        "features": {"numeric": list(cf.NUMERIC_FEATURES), "categorical": list(cf.CATEGORICAL_FEATURES)},
        "chosen_model": {"family": family, "params": {GRIDS[family][0]: value}, "cv_mae": chosen["cv_mae"],
                         "cv_r2": chosen["cv_r2"], "target_transform": "log (predictions exp)",
                         "refit": "on every row up to the origin (the holdout figures are of the fit before it)"},
        "selection": {"seed": seed, "cv": "DateFolds (TimeSeriesSplit over the dates)", "cv_folds": cv,
                      "folds": fold_dates, "criterion": "lowest mean CV MAE", "families": list(families),
                      "grids": {f: {"param": GRIDS[f][0], "values": GRIDS[f][1]} for f in families}},
        "cv_table": cv_rows,
        "families": family_rows,
        "validation_curves": {f: {"param": GRIDS[f][0], "values": [r["value"] for r in cv_rows if r["family"] == f],
                                  "train_r2": [r["train_r2"] for r in cv_rows if r["family"] == f],
                                  "cv_r2": [r["cv_r2"] for r in cv_rows if r["family"] == f],
                                  "cv_mae": [r["cv_mae"] for r in cv_rows if r["family"] == f]} for f in families},
        "learning_curve": {"family": family, "rows": learning,
                           "method": "each fold keeps its latest fraction of training dates"},
        "holdout_metrics": {"model": model_hold, "naive_baseline": baseline_hold,
                            "baseline": "the group's CAC over the previous 7 days, else the channel's"},
        "holdout_residuals": holdout_residuals,
        "library_versions": library_versions(),
        "training_seconds": round(time.perf_counter() - started, 1),
        "stage_seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    return CacArtifact(pipeline=pipeline, card=card, version=version, state=data.state,
                       channel_state=data.channel_state, first_date=data.first_date, seed=seed)


def predict_cac(artifact: CacArtifact, rows: pd.DataFrame | list[dict]) -> np.ndarray:
    """Return the predicted CAC of each what-if row (channel, region, device, date, daily_budget), with the lag
    features as known at the model's origin."""
    requests = pd.DataFrame(rows)
    if requests.empty:
        return np.zeros(0)
    frame = cf.what_if_rows(requests, artifact.state, artifact.channel_state, artifact.first_date)
    return np.asarray(artifact.pipeline.predict(frame[cf.FEATURES]), dtype=float)


def comparison_rows(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Return one row per family of the card (and the naive baseline): family, cv_r2, cv_mae, holdout_r2,
    holdout_mae, holdout_mape, chosen."""
    keys = ("family", "cv_r2", "cv_mae", "holdout_r2", "holdout_mae", "holdout_mape", "chosen")
    return [{k: row.get(k) for k in keys} for row in card.get("families", [])]


# --- artifact files ---------------------------------------------------------------------------------------

def _write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in its folder; return nothing."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def save_cac(artifact: CacArtifact, model_dir: Path | str) -> Path:
    """Write cac-<version>.joblib and .json (the card) under `model_dir`, point cac-latest at it; return the joblib."""
    directory = Path(model_dir)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{PREFIX}{artifact.version}"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=".joblib")
    os.close(fd)
    joblib.dump(artifact, tmp, compress=3)
    os.replace(tmp, directory / f"{stem}.joblib")
    _write_atomic(directory / f"{stem}.json", (json.dumps(artifact.card, indent=2, default=str) + "\n").encode())
    _write_atomic(directory / LATEST_POINTER, (stem + "\n").encode())
    return directory / f"{stem}.joblib"


def cac_latest_file(model_dir: Path | str) -> Path | None:
    """Return the newest saved CAC model file of `model_dir` (its cac-latest pointer), None when there is none."""
    pointer = Path(model_dir) / LATEST_POINTER
    if not pointer.is_file():
        return None
    path = Path(model_dir) / f"{pointer.read_text(encoding='utf-8').strip()}.joblib"
    return path if path.is_file() else None


def load_cac(path: Path | str) -> CacArtifact:
    """Return the CacArtifact at `path` (a .joblib file or a model directory's newest); FileNotFoundError when none.
    Warns when the card's library versions differ from the running ones."""
    target = Path(path)
    model_path = cac_latest_file(target) if target.is_dir() or not target.suffix else target
    if model_path is None or not model_path.is_file():
        raise FileNotFoundError(f"no trained CAC model in {target} (run `{HOW_TO_TRAIN}`)")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
        artifact = joblib.load(model_path)
    if not isinstance(artifact, CacArtifact):
        raise ValueError(f"{model_path} does not hold a CAC model artifact")
    mismatches = version_mismatches(artifact.card)
    if mismatches:
        warnings.warn(f"CAC model {model_path.name} was trained with other library versions: {'; '.join(mismatches)}."
                      f" Retrain with `{HOW_TO_TRAIN}`.", UserWarning, stacklevel=2)
    return artifact


def read_cac_card(model_dir: Path | str) -> dict | None:
    """Return the JSON card of the newest saved CAC model of `model_dir`, None when there is none."""
    path = cac_latest_file(model_dir)
    card = None if path is None else path.with_suffix(".json")
    return json.loads(card.read_text(encoding="utf-8")) if card is not None and card.is_file() else None
