"""`train` and `score` commands (the churn model) and `models` (the registered models), looked up in
`ml.registry`. The training itself is `ml.churn_training.train_churn_model` (re-exported here).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date

import pandas as pd

from dashboard import db
from dashboard.errors import BadInput
from ml import features, scoring
from ml.artifact import ChurnArtifact
from ml.churn_training import default_cutoff, recency_baseline_auc, train_churn_model  # noqa: F401 (re-exported)
from ml.registry import CHURN, REGISTRY, ModelRegistry, TrainOptions
from ml.selection import DEFAULT_N_ITER


# --- CLI ----------------------------------------------------------------------------------------

def _parse_date(text: str) -> date:
    """Return the date of a YYYY-MM-DD argument (argparse error otherwise)."""
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
    """Add the `train`, `score` and `models` commands."""
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

    listing = subparsers.add_parser(
        "models", help="list the registered models, their commands, tables and saved artifacts",
        description="List every model of the registry (ml/registry.py): name, title, the commands that train and "
        "score it, the table it writes and its newest saved artifact under --model-dir (default MODEL_DIR).",
    )
    listing.add_argument("--model-dir", default=None, help="where the models are saved (default MODEL_DIR)")
    listing.set_defaults(func=run_models)


def _print_summary(artifact: ChurnArtifact) -> None:
    """Print the training summary of a churn artifact (CV per family, chosen model, test metrics); return None."""
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
    spec = REGISTRY.get(CHURN)
    options = TrainOptions(seed=args.seed, n_iter=args.n_iter, n_jobs=args.n_jobs, progress=True,
                           log=lambda message: print(message, file=sys.stderr),
                           extra=dict(cutoff=args.cutoff, horizon_days=args.horizon_days,
                                      lookback_days=args.lookback_days, min_tenure_days=args.min_tenure_days))
    engine = db.make_engine(config.database_url, read_only=config.uses_default_database)
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no schema yet; import data or run `python -m dashboard demo`")
            artifact = spec.train(conn, options)
    finally:
        engine.dispose()
    path = spec.save(artifact, args.model_dir or config.model_dir)
    _print_summary(artifact)
    print(f"saved {path} (card {path.with_suffix('.json').name}); score with `python -m dashboard score`")
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Score eligible customers into churn_scores; return 0."""
    from dashboard.config import Config

    config = Config.from_env()
    spec = REGISTRY.get(CHURN)
    try:
        artifact = spec.load(args.model or config.model_dir)
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
        rows = spec.score(engine, as_of, artifact)
        with engine.connect() as conn:
            bands = scoring.read_scores(conn, as_of)["risk_band"].value_counts().to_dict()
    finally:
        engine.dispose()
    print(f"scored {rows:,} eligible customers as of {as_of} with model {artifact.version} "
          f"in {time.perf_counter() - started:.1f}s; bands: "
          + ", ".join(f"{b} {bands.get(b, 0):,}" for b in scoring.BANDS))
    return 0


def model_rows(registry: ModelRegistry, model_dir) -> list[dict]:
    """Return one row per registered model: name, title, commands, table, newest saved artifact (or None)."""
    from pathlib import Path

    return [{"name": spec.name, "title": spec.title, "commands": list(spec.commands),
             "table": spec.table.name if spec.table is not None else None,
             "artifact": spec.latest_file(Path(model_dir))} for spec in registry]


def run_models(args: argparse.Namespace, registry: ModelRegistry = REGISTRY) -> int:
    """Print one line per registered model (name, title, commands, table, saved artifact); return 0."""
    from dashboard.config import Config

    for row in model_rows(registry, args.model_dir or Config.from_env().model_dir):
        saved = str(row["artifact"]) if row["artifact"] is not None else "not trained yet"
        print(f"{row['name']:<10} {row['title']}; commands: {', '.join(row['commands']) or '-'}; "
              f"table: {row['table'] or '-'}; saved: {saved}")
    return 0
