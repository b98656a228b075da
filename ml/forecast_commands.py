"""`forecast` command: `forecast export` (time-series forecasts with intervals, their backtest and the CAC model
comparison as CSV files) and `forecast train` (the acquisition-cost model, through `ml.registry`).

The forecasting itself is `ml.forecast_series` (the series as of the origin), `ml.forecast_models` ("auto": ETS
or a trend regression per series, ETS alone and the seasonal naive) and `ml.forecast_backtest` (forecasts and the rolling-origin backtest); see docs/forecast.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from dashboard import db
from dashboard.errors import BadInput
from ml.forecast_series import DEFAULT_HORIZON_DAYS, HORIZON_RANGE, check_horizon, data_window, parse_origin, read_series
from ml.registry import CAC, REGISTRY, TrainOptions

FORECAST_FILE = "forecast.csv"
BACKTEST_FILE = "backtest.csv"
CAC_MODELS_FILE = "cac_models.csv"
CAC_MODEL_COLUMNS = ["family", "cv_r2", "cv_mae", "holdout_r2", "holdout_mae", "holdout_mape", "chosen"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `forecast` command with its `export` and `train` subcommands."""
    forecast = subparsers.add_parser(
        "forecast", help="time-series forecasts with intervals (export) and the acquisition-cost model (train)",
        description="Forecast daily spend, new users, revenue and DAU (total and per channel) and weekly CAC per paid "
        "channel with 80% and 95% intervals, backtest them, and train the acquisition-cost (CAC) model. "
        "See docs/forecast.md.",
    )
    commands = forecast.add_subparsers(dest="forecast_command", metavar="SUBCOMMAND")
    commands.required = True
    export = commands.add_parser(
        "export", help="write forecast.csv, backtest.csv and cac_models.csv to a folder",
        description="Forecast every series as if the data ended on --origin (nothing after it is read), backtest the "
        "auto model (the ETS form or trend regression chosen per series), ETS alone and the seasonal-naive baseline at 4 earlier origins, and write forecast.csv, backtest.csv and "
        "(when a CAC model is saved) cac_models.csv to --out.",
    )
    export.add_argument("--out", required=True, help="folder to write the CSV files to (created when missing)")
    low, high = HORIZON_RANGE
    export.add_argument("--horizon-days", default=str(DEFAULT_HORIZON_DAYS),
                        help=f"days to forecast, {low}..{high} (default {DEFAULT_HORIZON_DAYS})")
    export.add_argument("--origin", default=None, help="forecast as if the data ended on this date, YYYY-MM-DD "
                        "(default: the data's last date)")
    export.add_argument("--model-dir", default=None, help="where the CAC model is saved (default MODEL_DIR)")
    export.set_defaults(func=run_export)

    train = commands.add_parser(
        "train", help="train the acquisition-cost (CAC) regression and save it",
        description="Train the acquisition-cost model (several families compared by time-ordered CV, scored on the "
        "last 28 days against the naive baseline) with data up to --origin; save cac-<version>.joblib/.json under "
        "MODEL_DIR (default data/models/).",
    )
    train.add_argument("--origin", default=None, help="last date of the training data, YYYY-MM-DD "
                       "(default: the data's last date)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    train.add_argument("--n-jobs", type=int, default=1, help="parallel CV fits (default 1)")
    train.add_argument("--model-dir", default=None, help="where to save the model (default MODEL_DIR or data/models/)")
    train.set_defaults(func=run_train)


def prepare_out_dir(text: str) -> Path:
    """Return the --out folder, created when missing; BadInput when it cannot be created or written to."""
    out = Path(text)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".forecast-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BadInput(f"--out {text}: cannot write there ({exc.strerror or exc})") from exc
    return out


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write `frame` as CSV (dates YYYY-MM-DD, floats to 12 significant digits) to `path`; return the path."""
    frame.to_csv(path, index=False, float_format="%.12g", date_format="%Y-%m-%d")
    return path


def cac_model_table(model_dir) -> pd.DataFrame | None:
    """Return the model comparison of the newest saved CAC model (CAC_MODEL_COLUMNS), None when none is saved."""
    card = REGISTRY.get(CAC).read_card(Path(model_dir))
    if card is None:
        return None
    from ml.cac_model import comparison_rows

    return pd.DataFrame(comparison_rows(card), columns=CAC_MODEL_COLUMNS)


def _open_engine():
    """Return (config, an engine on the configured database; read-only on the default DuckDB file)."""
    from dashboard.config import Config

    config = Config.from_env()
    return config, db.make_engine(config.database_url, read_only=config.uses_default_database)


def _print_backtest(run) -> None:
    """Print the pooled backtest figures of the totals and of every series, per metric and model; return None."""
    from ml.forecast_backtest import pooled_summary

    origins = ", ".join(str(d) for d in run.backtest_origins)
    print(f"backtest at {len(run.backtest_origins)} origins ({origins}); MASE against the in-sample seasonal naive, "
          "coverage over the backtest days:")
    for label, channel in (("totals (All)", "All"), ("all series", None)):
        summary = pooled_summary(run.detail, channel)
        print(f"  {label}:")
        for _, row in summary.iterrows():
            print(f"    {row['metric']:<10} {row['model']:<15} series {row['series']:>2}  days {row['days']:>5}  "
                  f"MASE {row['mase']:.3f}  cover80 {row['coverage80']:.3f}  cover95 {row['coverage95']:.3f}")


def run_export(args: argparse.Namespace) -> int:
    """Forecast, backtest, write the CSV files to --out and print a summary; return 0."""
    from ml.forecast_backtest import BACKTEST_COLUMNS, backtest_origins, run_forecasts

    horizon = check_horizon(args.horizon_days)
    origin = parse_origin(args.origin)
    out = prepare_out_dir(args.out)
    config, engine = _open_engine()
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no schema yet; import data or run `python -m dashboard demo`")
            first, origin = data_window(conn, origin)
            backtest_origins(first, origin, horizon)  # enough history for the backtest, before the reads
            origin, series = read_series(conn, origin)
    finally:
        engine.dispose()
    run = run_forecasts(series, first, origin, horizon, progress=True)
    written = [write_table(run.forecast, out / FORECAST_FILE), write_table(run.backtest[BACKTEST_COLUMNS], out / BACKTEST_FILE)]
    print(f"forecast of {len(series)} series from origin {origin} over {horizon} days in {run.seconds:.1f}s")
    _print_backtest(run)
    models = cac_model_table(args.model_dir or config.model_dir)
    if models is None:
        print(f"no CAC model is saved in {args.model_dir or config.model_dir}, so {CAC_MODELS_FILE} was not written; "
              f"train one with `{REGISTRY.get(CAC).how_to_train}`", file=sys.stderr)
    else:
        written.append(write_table(models, out / CAC_MODELS_FILE))
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def run_train(args: argparse.Namespace) -> int:
    """Train the CAC model through the registry (progress bar), save it and print its comparison; return 0."""
    origin = parse_origin(args.origin)
    spec = REGISTRY.get(CAC)
    config, engine = _open_engine()
    try:
        with engine.connect() as conn:
            if not db.schema_exists(conn):
                raise BadInput("the database has no schema yet; import data or run `python -m dashboard demo`")
            _, origin = data_window(conn, origin, min_days=1)
            options = TrainOptions(seed=args.seed, as_of=origin, n_jobs=max(1, args.n_jobs), progress=True,
                                   log=lambda message: print(message, file=sys.stderr))
            artifact = spec.train(conn, options)
    finally:
        engine.dispose()
    path = spec.save(artifact, args.model_dir or config.model_dir)
    from ml.cac_model import comparison_rows

    print(f"{spec.describe(artifact)} trained on data up to {origin}")
    for row in comparison_rows(artifact.card):
        mark = "  <- chosen" if row.get("chosen") else ""
        cells = "  ".join(f"{key} {_number(row.get(key))}" for key in CAC_MODEL_COLUMNS[1:-1])
        print(f"  {str(row.get('family')):<24} {cells}{mark}")
    print(f"saved {path} (card {path.with_suffix('.json').name}); export with "
          "`python -m dashboard forecast export --out DIR`")
    return 0


def _number(value) -> str:
    """Return a number as text with 4 significant digits ("-" for a missing value)."""
    return "-" if value is None or pd.isna(value) else f"{float(value):.4g}"
