"""Real-data benchmark: the project's model selection (`ml.selection.select_model`) on the One Click shop data.

    python bench/one_click_benchmark.py --data ../shared/data/one_click

Features: the set `ml.one_click.DEFAULT_FEATURE_SET` (`--features`); families: `ml.selection.ALL_FAMILIES`
(the five churn families plus extra trees and a soft-voting ensemble; `--families`).

Protocol: ten stratified 25 % test splits (seeds 0-9). For each, the whole model selection (every family,
randomized search, 5-fold stratified CV, ROC-AUC) runs on the training part only; the chosen pipeline is
scored once on its test part. The split with seed 42 is run too, for comparison with published notebooks
(one split each, 0.913-0.926 test ROC-AUC), but it is not part of the mean. The last line is

    one_click: mean_test_roc_auc=0.xxxx std=0.xxxx splits=10 best=<family chosen most often>

The data is read where it lies; nothing is copied.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ml.one_click import DEFAULT_FEATURE_SET, FEATURE_SETS, LABEL, load_one_click  # noqa: E402
from ml.one_click_study import run_split  # noqa: E402
from ml.selection import ALL_FAMILIES  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per split and the summary line; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "one_click"),
                        help="folder with market_file.csv, market_money.csv, market_time.csv, money.csv")
    parser.add_argument("--n-iter", type=int, default=6, help="random-search candidates per family (default 6)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel CV fits (default 2)")
    parser.add_argument("--seeds", default="0-9", help="test-split seeds, e.g. 0-9 or 0,1,2 (default 0-9)")
    parser.add_argument("--families", default=",".join(ALL_FAMILIES),
                        help="model families to search (default: the five churn families, extra_trees, soft_voting)")
    parser.add_argument("--features", default=DEFAULT_FEATURE_SET, choices=sorted(FEATURE_SETS),
                        help=f"feature set of ml/one_click.py (default {DEFAULT_FEATURE_SET})")
    parser.add_argument("--cv-repeats", type=int, default=1,
                        help="repeats of the 5-fold stratified CV in the search (default 1)")
    parser.add_argument("--no-seed-42", action="store_true", help="skip the extra seed-42 split")
    args = parser.parse_args(argv)

    if "-" in args.seeds:
        first, last = (int(v) for v in args.seeds.split("-"))
        seeds = list(range(first, last + 1))
    else:
        seeds = [int(v) for v in args.seeds.split(",")]
    families = tuple(f.strip() for f in args.families.split(",") if f.strip())
    warnings.filterwarnings("ignore", category=UserWarning)

    table = load_one_click(args.data)
    numeric, categorical = FEATURE_SETS[args.features]
    print(f"one_click: {len(table)} customers after cleaning, {int(table[LABEL].sum())} declined; "
          f"features {args.features}: {len(numeric)} numeric + {len(categorical)} categorical; "
          f"families {', '.join(families)}; "
          f"n_iter={args.n_iter} per family, 5-fold CV x {args.cv_repeats}, n_jobs={args.n_jobs}", flush=True)
    print(f"{'seed':>4}  {'chosen family':<24} {'CV AUC':>7} {'test AUC':>8} {'seconds':>8}", flush=True)
    started = time.perf_counter()
    results = []
    for seed in seeds:
        row = run_split(table, seed, args.n_iter, args.n_jobs, families, args.features, args.cv_repeats)
        results.append(row)
        print(f"{row['seed']:>4}  {row['family']:<24} {row['cv_auc']:7.4f} {row['test_auc']:8.4f} "
              f"{row['seconds']:8.1f}", flush=True)
    if not args.no_seed_42:
        row = run_split(table, 42, args.n_iter, args.n_jobs, families, args.features, args.cv_repeats)
        print(f"seed 42 (published-notebook comparison, not in the mean): {row['family']} "
              f"CV AUC {row['cv_auc']:.4f} test AUC {row['test_auc']:.4f} ({row['seconds']:.1f}s) "
              f"params {row['params']}", flush=True)
    test_aucs = np.array([r["test_auc"] for r in results])
    cv_aucs = np.array([r["cv_auc"] for r in results])
    chosen = Counter(r["family"] for r in results)
    best = sorted(chosen.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    print(f"families chosen: {dict(chosen)}; mean CV AUC {cv_aucs.mean():.4f}; "
          f"total {time.perf_counter() - started:.0f}s", flush=True)
    print(f"one_click: mean_test_roc_auc={test_aucs.mean():.4f} std={test_aucs.std(ddof=1) if len(test_aucs) > 1 else 0.0:.4f} "
          f"splits={len(results)} best={best}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
