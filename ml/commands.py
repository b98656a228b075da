"""`train` and `score` commands, and `train_churn_model` (snapshots -> selection -> calibration -> test -> card).

Validation in time: train on the snapshot at T1 (= cutoff), test on the snapshot at T2 = T1 + P, so
the training labels (events in (T1, T1+P]) end where the test features start; test labels need data
up to T2 + P. The default cutoff is the latest T1 with T2 + P <= the last date in the data.
"""

from __future__ import annotations

import argparse
import sys
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
from ml.artifact import ChurnArtifact, library_versions, load_artifact, new_version, save_artifact
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


# --- CLI ----------------------------------------------------------------------------------------

def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def _int_at_least(minimum: int):
    """Return an argparse type that parses an integer >= `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from exc
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


_non_negative_int = _int_at_least(0)
_positive_int = _int_at_least(1)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `train` and `score` commands."""
    train = subparsers.add_parser(
        "train", help="train the churn-risk model (features at a cutoff, model selection, calibration, test)",
        description="Train the churn-risk (activity decline) model on the snapshot at --cutoff, test it on the "
        "snapshot P days later, save churn-<version>.joblib/.json under MODEL_DIR (default data/models/).",
    )
    train.add_argument("--cutoff", type=_parse_date, default=None,
                       help="training cutoff T1 (default: the latest with T1 + 2P inside the data)")
    train.add_argument("--horizon-days", type=_positive_int, default=30, help="label horizon P in days (default 30)")
    train.add_argument("--lookback-days", type=_positive_int, default=90,
                       help="eligible = an order in the last N days before the cutoff; the label compares "
                            "the next P days with the pace over these N days (default 90)")
    train.add_argument("--min-tenure-days", type=_non_negative_int, default=features.DEFAULT_MIN_TENURE_DAYS,
                       help="eligible = first seen at least N days before the cutoff "
                       f"(default {features.DEFAULT_MIN_TENURE_DAYS}; 0: no minimum)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--n-iter", type=_positive_int, default=DEFAULT_N_ITER,
                       help=f"random-search candidates per model family (default {DEFAULT_N_ITER})")
    train.add_argument("--n-jobs", type=_positive_int, default=1, help="parallel CV fits (default 1; this is CPU work)")
    train.add_argument("--model-dir", default=None, help="where to save the model (default MODEL_DIR or data/models/)")
    train.set_defaults(func=run_train)

    score = subparsers.add_parser(
        "score", help="score eligible customers with the churn model into the churn_scores table",
        description="Score every eligible customer at --as-of with the latest (or --model) churn model and replace "
        "that date's rows of the churn_scores table.",
    )
    score.add_argument("--as-of", type=_parse_date, default=None, help="scoring date (default: last data date)")
    score.add_argument("--model", default=None, help="model file or directory (default: the latest in MODEL_DIR)")
    score.set_defaults(func=run_score)


def _print_summary(artifact: ChurnArtifact) -> None:
    card = artifact.card
    table = pd.DataFrame(card["cv_table"])
    best = (table.sort_values("mean_cv_roc_auc", ascending=False).groupby("family", sort=False).head(1))
    metrics = card["test_metrics"]
    print(f"label: {card['label_definition']}")
    print(f"train T1={card['cutoffs']['train_cutoff']} ({card['rows']['train']:,} customers, "
          f"base rate {card['base_rates']['train']:.3f}); test T2={card['cutoffs']['test_cutoff']} "
          f"({card['rows']['test']:,} customers, base rate {card['base_rates']['test']:.3f})")
    print(f"CV ROC-AUC, best candidate per family ({len(table)} candidates in all):")
    for _, row in best.iterrows():
        print(f"  {row['family']:<24} {row['mean_cv_roc_auc']:.4f} +- {row['std_cv_roc_auc']:.4f}  {row['params']}")
    print(f"chosen: {card['chosen_model']['family']} {card['chosen_model']['params']}")
    print(f"test on T2: ROC-AUC {metrics['roc_auc']:.4f}, PR-AUC {metrics['pr_auc']:.4f}, "
          f"Brier {metrics['brier']:.4f} (base-rate-only Brier {metrics['brier_base_rate_only']:.4f}); "
          f"recency-only baseline ROC-AUC {metrics['recency_baseline_roc_auc']:.4f}")
    top = list(card["shap_importance"]["mean_abs_shap"].items())[:5]
    print("top features (mean |SHAP|): " + ", ".join(f"{k} {v:.3f}" for k, v in top))


def run_train(args: argparse.Namespace) -> int:
    """Train, print the summary, save the artifact; return 0."""
    from dashboard.config import Config

    config = Config.from_env()
    engine = db.make_engine(config.database_url, read_only=config.uses_default_database)
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no schema yet; import data or run `python -m dashboard demo`")
            artifact = train_churn_model(
                conn, cutoff=args.cutoff, horizon_days=args.horizon_days, lookback_days=args.lookback_days,
                min_tenure_days=args.min_tenure_days, seed=args.seed, n_iter=args.n_iter, n_jobs=args.n_jobs, progress=True,
                log=lambda message: print(message, file=sys.stderr),
            )
    finally:
        engine.dispose()
    path = save_artifact(artifact, args.model_dir or config.model_dir)
    _print_summary(artifact)
    print(f"saved {path} (card {path.with_suffix('.json').name}); score with `python -m dashboard score`")
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Score eligible customers into churn_scores; return 0."""
    from dashboard.config import Config

    config = Config.from_env()
    try:
        artifact = load_artifact(args.model or config.model_dir)
    except FileNotFoundError as exc:
        raise BadInput(str(exc)) from exc
    engine = db.make_engine(config.database_url)
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no schema yet; import data or run `python -m dashboard demo`")
            last_date = features.data_date_range(conn)[1]
        if last_date is None:
            raise BadInput("the database holds no visits or orders")
        as_of = args.as_of or last_date
        started = time.perf_counter()
        rows = scoring.score(engine, as_of, artifact)
        with engine.connect() as conn:
            bands = scoring.read_scores(conn, as_of)["risk_band"].value_counts().to_dict()
    finally:
        engine.dispose()
    print(f"scored {rows:,} eligible customers as of {as_of} with model {artifact.version} "
          f"in {time.perf_counter() - started:.1f}s; bands: "
          + ", ".join(f"{b} {bands.get(b, 0):,}" for b in scoring.BANDS))
    return 0
