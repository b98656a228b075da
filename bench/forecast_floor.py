"""The lowest MASE a forecast of the demo's daily totals can reach: that of their expected values.

    python bench/forecast_floor.py [--users 150000] [--draws 16] [--horizon-days 28]

The demo generator draws new users per day (growth x weekday x 6 % noise, a multinomial) and each paid channel's
spend per day (its new users x its cost per user x 12 % noise). The expected daily totals are estimated by the
mean of `--draws` independent draws of those two steps (`dashboard.demo.generation`'s users and costs, seeds 100,
101, ...; seed 42, the demo's, is not among them). The forecast that knows them (an oracle) is then scored like the
models, on the seed-42 demo's series at the backtest origins of `forecast export --origin 2026-10-31`: MASE against
the in-sample seasonal-naive error. A model cannot be expected to beat it; the mean of the draws carries a little
noise of its own (its relative standard error is printed), which raises the figure slightly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def expected_totals(users: int, draws: int) -> dict[str, pd.Series]:
    """Return {"spend", "new_users"}: the mean daily totals of `draws` draws of the demo's users and costs."""
    from dashboard.demo import generation as g

    days = g.DEFAULT_DAYS
    start = g.DEFAULT_END_DATE - dt.timedelta(days=days - 1)
    spend, new_users = [], []
    for seed in range(100, 100 + draws):
        rng = np.random.default_rng(seed)
        drawn = g._draw_users(rng, users, days, start)
        day, _, cost = g._draw_costs(rng, drawn, days)
        spend.append(np.bincount(day, weights=cost, minlength=days))
        new_users.append(np.bincount(drawn.first_day, minlength=days))
    index = pd.date_range(start, periods=days, freq="D")
    for name, values in (("spend", spend), ("new_users", new_users)):
        error = float(np.mean(np.std(values, axis=0) / np.mean(values, axis=0))) / np.sqrt(draws)
        print(f"  {name}: relative standard error of the estimated expected value {error:.3f}")
    return {"spend": pd.Series(np.mean(spend, axis=0), index=index),
            "new_users": pd.Series(np.mean(new_users, axis=0), index=index)}


def main(argv: list[str] | None = None) -> int:
    """Print the oracle's MASE per backtest origin and on average for total spend and new users; return 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=150_000)
    parser.add_argument("--draws", type=int, default=16)
    parser.add_argument("--horizon-days", type=int, default=28)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from browser_bench import prepare_database
    from dashboard import db
    from ml.forecast_backtest import backtest_origins
    from ml.forecast_models import PERIOD, mase, mase_scale
    from ml.forecast_series import TOTAL, future_index, read_series, truncate

    url, _ = prepare_database(args.users, with_model=False)
    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            origin, series = read_series(conn, dt.date(2026, 10, 31))
    finally:
        engine.dispose()
    first = min(s.values.index[0] for s in series).date()
    origins = backtest_origins(first, origin, args.horizon_days)
    print(f"expected daily totals from {args.draws} draws of {args.users:,} users:")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = expected_totals(args.users, args.draws)
    for metric in ("spend", "new_users"):
        observed = next(s for s in series if s.key == (metric, TOTAL))
        scores = []
        for at in origins:
            history = truncate(observed, at)
            index = future_index(history, "D", at, args.horizon_days)
            actual = observed.values.reindex(index).to_numpy(float)
            scores.append(mase(actual, expected[metric].reindex(index).to_numpy(float),
                               mase_scale(history, PERIOD["D"])))
        print(f"{metric:<10} oracle MASE {np.mean(scores):.3f} (origins {', '.join(str(o) for o in origins)}: "
              f"{', '.join(f'{v:.2f}' for v in scores)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
