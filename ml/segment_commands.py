"""`export-segments`: one row per customer with RFM values, scores, segment and cluster; trains and saves the
cluster classifier (the registry's `clusters` model)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import db
from dashboard.config import Config
from dashboard.errors import BadInput
from ml.registry import CLUSTERS, REGISTRY, TrainOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `export-segments` command."""
    parser = subparsers.add_parser(
        "export-segments", help="write RFM segments and clusters per customer to a CSV file",
        description="Write one row per customer with at least one order up to the observation date: "
        "user_id, recency_days, frequency, monetary, r, f, m, segment, cluster. Works on orders-only data. "
        "Also saves the cluster classifier to MODEL_DIR/segments-latest.joblib for the segments API.",
    )
    parser.add_argument("--out", required=True, type=Path, help="CSV file to write")
    parser.add_argument("--observation-date", help="O, YYYY-MM-DD (default: the date of the last order)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the clustering (default 0)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Compute and write the segments file; print the segment and cluster summary."""
    import datetime as dt

    spec = REGISTRY.get(CLUSTERS)
    observation = None
    if args.observation_date:
        try:
            observation = dt.date.fromisoformat(args.observation_date)
        except ValueError:
            raise BadInput(f"--observation-date: not a date (YYYY-MM-DD): {args.observation_date!r}") from None
    url = Config.from_env().database_url
    engine = db.make_engine(url, read_only=db.resolve_url(url).startswith("duckdb:"))
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no tables yet: import orders first (python -m dashboard import --orders F)")
            fit = spec.train(conn, TrainOptions(seed=args.seed, as_of=observation))
    finally:
        engine.dispose()
    table, result = fit.table, fit.result
    if table.empty:
        raise BadInput("no customer has an order up to the observation date")
    saved = spec.save(fit, Config.from_env().model_dir)
    if saved is not None:
        print(f"cluster classifier saved to {saved} (used by POST /api/v1/segments/predict)", file=sys.stderr)
    from dashboard.spreadsheet_safety import neutralise_frame

    args.out.parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(table).to_csv(args.out, index=False)  # a formula-like user id is written as text
    print(f"{len(table):,} customers written to {args.out}", file=sys.stderr)
    print(table["segment"].value_counts().to_string(), file=sys.stderr)
    if result is not None:
        accuracy = result.classifier_accuracy
        held_out = f"; classifier hold-out accuracy {accuracy:.3f}" if accuracy is not None else ""
        print(f"clusters: k={result.k} chosen by silhouette{held_out}", file=sys.stderr)
    return 0
