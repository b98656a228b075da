"""Training of the churn model: `train_churn_model` (snapshots -> selection -> calibration -> test -> card).

Validation in time: train on the snapshot at T1 (= cutoff), test on the snapshot at T2 = T1 + P, so
the training labels (events in (T1, T1+P]) end where the test features start; test labels need data
up to T2 + P. The default cutoff is the latest T1 with T2 + P <= the last date in the data.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline as sk_make_pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy.engine import Connection

from dashboard import db
from dashboard.errors import BadInput
from ml import features, scoring
from ml.artifact import ChurnArtifact, library_versions, new_version
from ml.explain import ShapExplainer
from ml.selection import DEFAULT_N_ITER, positive_scores, select_model

RECENCY_BASELINE = ["days_since_last_visit", "days_since_last_order"]
BACKGROUND_ROWS = 200
EXPLAIN_SAMPLE_ROWS = 1000
PERMUTATION_ROWS = 2000


def default_cutoff(last_date: date, horizon_days: int = 30) -> date:
    """Return the latest training cutoff T1 such that T2 = T1 + P and T2 + P fit in data ending at `last_date`."""
    return last_date - timedelta(days=2 * horizon_days)


def recency_baseline_auc(train: pd.DataFrame, test: pd.DataFrame, seed: int = 0) -> float:
    """Return the test ROC-AUC of a recency-only logistic regression (days since last visit and last order)."""
    model = sk_make_pipeline(StandardScaler(), LogisticRegression(random_state=seed))
    model.fit(train[RECENCY_BASELINE], train[features.LABEL])
    return float(roc_auc_score(test[features.LABEL], model.predict_proba(test[RECENCY_BASELINE])[:, 1]))


def _check_snapshot(frame: pd.DataFrame, cutoff: date, role: str) -> None:
    """Return nothing; raise BadInput when the snapshot is empty or has too few customers of one label."""
    if len(frame) == 0:
        raise BadInput(f"no eligible customer (an order in the lookback window) at the {role} cutoff {cutoff}")
    counts = frame[features.LABEL].value_counts()
    if counts.size < 2 or counts.min() < 10:
        raise BadInput(f"the {role} snapshot at {cutoff} has too few customers of one label "
                       f"({counts.to_dict()}); choose another --cutoff or use more data")


def train_churn_model(conn: Connection, cutoff: date | None = None, horizon_days: int = 30,
                      lookback_days: int = 90, seed: int = 0, n_iter: int = DEFAULT_N_ITER, cv: int = 5,
                      n_jobs: int = 1, progress: bool = False, log=None,
                      min_tenure_days: int = features.DEFAULT_MIN_TENURE_DAYS) -> ChurnArtifact:
    """Return a trained ChurnArtifact: model chosen on the T1 snapshot, calibrated, tested on T2 = T1 + P, with its card."""
    say = log or (lambda message: None)
    first_date, last_date = features.data_date_range(conn)
    if last_date is None:
        raise BadInput("the database holds no visits or orders; import data or run `python -m dashboard demo`")
    train_cutoff = cutoff or default_cutoff(last_date, horizon_days)
    test_cutoff = train_cutoff + timedelta(days=horizon_days)
    if test_cutoff + timedelta(days=horizon_days) > last_date:
        raise BadInput(f"cutoff {train_cutoff} too late: the test labels need data up to "
                       f"{test_cutoff + timedelta(days=horizon_days)}, the data ends {last_date} "
                       f"(latest cutoff: {default_cutoff(last_date, horizon_days)})")
    if train_cutoff < first_date:
        raise BadInput(f"cutoff {train_cutoff} is before the first data date {first_date}")
    started = time.perf_counter()
    train = features.build_snapshot(conn, train_cutoff, horizon_days, lookback_days, min_tenure_days=min_tenure_days)
    test = features.build_snapshot(conn, test_cutoff, horizon_days, lookback_days, min_tenure_days=min_tenure_days)
    _check_snapshot(train, train_cutoff, "training")
    _check_snapshot(test, test_cutoff, "test")
    say(f"snapshots: train T1={train_cutoff} {len(train):,} customers, base rate {train[features.LABEL].mean():.3f}; "
        f"test T2={test_cutoff} {len(test):,} customers, base rate {test[features.LABEL].mean():.3f} "
        f"({time.perf_counter() - started:.1f}s)")

    numeric, categorical = features.NUMERIC_FEATURES, features.CATEGORICAL_FEATURES
    X_train, y_train = train[features.FEATURES], train[features.LABEL]
    X_test, y_test = test[features.FEATURES], test[features.LABEL]
    timings = {"snapshots": time.perf_counter() - started}
    stage = time.perf_counter()
    result = select_model(X_train, y_train, numeric, categorical, seed=seed, n_iter=n_iter, cv=cv,
                          progress=progress, n_jobs=n_jobs, log=None if progress else log)
    timings["selection"] = time.perf_counter() - stage
    stage = time.perf_counter()

    # Sigmoid calibration on out-of-fold scores of the chosen candidate (ensemble=False): the model used
    # for prediction is the chosen pipeline refit on all of T1; the calibrator never sees in-sample scores.
    calibrated = CalibratedClassifierCV(
        clone(result.best_pipeline), method="sigmoid", ensemble=False,
        cv=StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed),
    )
    calibrated.fit(X_train, y_train)
    pipeline = calibrated.calibrated_classifiers_[0].estimator
    timings["calibration"] = time.perf_counter() - stage
    stage = time.perf_counter()

    proba_test = calibrated.predict_proba(X_test)[:, 1]
    raw_scores_test = positive_scores(pipeline, X_test)
    prob_true, prob_pred = calibration_curve(y_test, proba_test, n_bins=10, strategy="quantile")
    baseline = recency_baseline_auc(train, test, seed)
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, proba_test)),
        "pr_auc": float(average_precision_score(y_test, proba_test)),
        "brier": float(brier_score_loss(y_test, proba_test)),
        "roc_auc_uncalibrated": float(roc_auc_score(y_test, raw_scores_test)),
        "brier_base_rate_only": float(brier_score_loss(y_test, np.full(len(y_test), y_train.mean()))),
        "recency_baseline_roc_auc": baseline,
        "customers": int(len(test)),
    }

    rng_rows = lambda frame, n: frame.sample(n, random_state=seed) if len(frame) > n else frame  # noqa: E731
    perm_X = rng_rows(X_test, PERMUTATION_ROWS)
    perm = permutation_importance(calibrated, perm_X, y_test.loc[perm_X.index], scoring="roc_auc",
                                  n_repeats=5, random_state=seed, n_jobs=1)
    permutation_table = sorted(
        ({"feature": name, "mean_auc_drop": float(m), "std": float(s)}
         for name, m, s in zip(features.FEATURES, perm.importances_mean, perm.importances_std)),
        key=lambda r: -r["mean_auc_drop"])
    timings["permutation_importance"] = time.perf_counter() - stage
    stage = time.perf_counter()

    background = rng_rows(X_train, BACKGROUND_ROWS).copy()
    explainer = ShapExplainer(pipeline, numeric, categorical, background, seed=seed)
    shap_importance = explainer.global_importance(rng_rows(X_test, EXPLAIN_SAMPLE_ROWS))
    timings["shap"] = time.perf_counter() - stage
    say("stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))

    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    version = new_version(now)
    cv_table = result.cv_table.sort_values(["rank", "family", "candidate"]).reset_index(drop=True)
    card: dict[str, Any] = {
        "model": "churn-risk (activity decline)",
        "version": version,
        "trained_at": now.isoformat() + "Z",
        "data_version": db.get_data_version(conn),
        "data_range": {"first": first_date.isoformat(), "last": last_date.isoformat()},
        "label_definition": features.LABEL_DEFINITION,
        "cutoffs": {"train_cutoff": train_cutoff.isoformat(), "test_cutoff": test_cutoff.isoformat(),
                    "horizon_days": horizon_days, "lookback_days": lookback_days,
                    "min_tenure_days": min_tenure_days},
        "rows": {"train": int(len(train)), "test": int(len(test))},
        "base_rates": {"train": float(y_train.mean()), "test": float(y_test.mean())},
        "features": {"numeric": list(numeric), "categorical": list(categorical)},
        "chosen_model": {"family": result.best_family, "params": result.best_params,
                         "mean_cv_roc_auc": result.best_cv_roc_auc, "calibration": f"sigmoid on {cv}-fold out-of-fold scores"},
        "selection": {"seed": seed, "n_iter_per_family": n_iter, "cv_folds": cv, "scoring": "roc_auc",
                      "families": sorted(result.cv_table["family"].unique().tolist())},
        "cv_table": cv_table.to_dict(orient="records"),
        "test_metrics": metrics,
        "calibration_curve": {"strategy": "quantile", "n_bins": 10,
                              "prob_pred": [float(v) for v in prob_pred], "prob_true": [float(v) for v in prob_true]},
        "shap_importance": {"method": explainer.method, "rows": int(min(len(X_test), EXPLAIN_SAMPLE_ROWS)),
                            "mean_abs_shap": shap_importance},
        "permutation_importance": {"scoring": "roc_auc", "n_repeats": 5, "rows": int(len(perm_X)),
                                   "table": permutation_table},
        "risk_bands": {"high": f"probability >= {scoring.HIGH_THRESHOLD}",
                       "medium": f"{scoring.MEDIUM_THRESHOLD} <= probability < {scoring.HIGH_THRESHOLD}",
                       "low": f"probability < {scoring.MEDIUM_THRESHOLD}"},
        "library_versions": library_versions(),
        "training_seconds": round(time.perf_counter() - started, 1),
        "stage_seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    return ChurnArtifact(model=calibrated, pipeline=pipeline, numeric=list(numeric), categorical=list(categorical),
                         background=background, card=card, version=version, seed=seed)
