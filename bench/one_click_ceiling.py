"""How high can ROC-AUC go on the One Click data? A diagnostic of the data, not a model search.

    python bench/one_click_ceiling.py --data ../shared/data/one_click

The source file lists its customers in id order, and the label follows the id in blocks: the first ids are
all "declined", the last ids all "kept", and a middle run mixes the two. The id is a row number of the
course author's file, not a customer attribute (its own ROC-AUC is printed to show why it must never be a
feature; no feature set of `ml/one_click.py` uses it). What the blocks do allow is a look at how the labels
were made:

1. **Profiles.** A model fitted on the two pure blocks only (declined block vs kept block) learns what a
   "declining profile" looks like; its out-of-fold ROC-AUC on those blocks says how separable the two
   profiles are.
2. **Mixed block.** Applied to the mixed block (never fitted on it), that model sorts each declined customer
   there into the declining profile or the kept profile. Declined customers with a *kept* profile are the
   part of the label the features cannot see.
3. **Residual signal.** Cross-validated ROC-AUC of those kept-profile decliners against every kept customer
   (several models; the best is reported), and a two-sample Kolmogorov-Smirnov test per feature.
4. **Ceiling.** If a share q of the positives can be told from the negatives at best with ROC-AUC A and the
   rest perfectly, no scorer beats (1 - q) + q * A (`mixture_auc_bound`). That is compared with the
   benchmark's numbers.
5. **Learning curve.** Out-of-fold ROC-AUC of the benchmark's reference model (extra trees, 400 trees, leaf 2,
   feature set `core_rev`) trained on 40 %, 60 %, 80 % and 100 % of each training fold: flat means more rows
   of this kind would not help either.

Deterministic (every model and split is seeded); about a minute on 2 cores. See docs/one_click_benchmark.md,
"Why the target sits at the data's ceiling".
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ml.one_click import DEFAULT_FEATURE_SET, FEATURE_SETS, load_one_click  # noqa: E402
from ml.one_click_ceiling import ceiling_report, split_diagnostic  # noqa: E402

def main(argv: list[str] | None = None) -> int:
    """Print the diagnostic of the One Click data; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "one_click"),
                        help="folder with market_file.csv, market_money.csv, market_time.csv, money.csv")
    parser.add_argument("--features", default=DEFAULT_FEATURE_SET, choices=sorted(FEATURE_SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of every 5-fold CV (default 3)")
    parser.add_argument("--splits", default="0-9",
                        help="benchmark split seeds to explain, e.g. 0-9 or 0,1 (default 0-9; 'none' to skip)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table = load_one_click(args.data)
    r = ceiling_report(table, args.features, args.seed, args.repeats)
    print(f"one_click ceiling: {r['rows']} customers, {r['positives']} declined; features {args.features}")
    print(f"customer id alone: ROC-AUC {r['id_auc']:.4f} (a file-order leak: never a feature)")
    print(f"pure blocks by id: {r['positive_block']} declined first, {r['negative_block']} kept last; "
          f"mixed block {r['mixed_rows']} ({r['mixed_positives']} declined)")
    print(f"profile model on the pure blocks: out-of-fold ROC-AUC {r['profile_oof_auc']:.4f}")
    print(f"mixed block: {r['mixed_positives'] - r['hidden_positives']} declined with a declining profile, "
          f"{r['hidden_positives']} declined with a kept profile; "
          f"{r['mixed_negatives_on_declining_side']} kept with a declining profile")
    print(f"hidden share q = {r['hidden_positives']}/{r['positives']} = {r['hidden_share']:.4f} of the declined")
    for name, auc in r["residual_auc"].items():
        print(f"  hidden declined vs all kept, CV ROC-AUC {name}: {auc:.4f}")
    if "ks_min_p" in r:
        p, column = r["ks_min_p"]
        print(f"  smallest per-feature KS p-value: {p:.4f} ({column}; Bonferroni 0.05 level: "
              f"{0.05 / len(FEATURE_SETS[args.features][0]):.4f})")
    print(f"ceiling (1 - q) + q * A: {r['bound']:.4f} with the best residual A; "
          f"{r['bound_no_signal']:.4f} if A = 0.5")
    curve = ", ".join(f"{share:.0%} {auc:.4f}" for share, auc in r["learning_curve"].items())
    print(f"learning curve (reference extra trees, out-of-fold ROC-AUC by share of each training fold): {curve}")
    if "oof_visible_auc" in r:
        print(f"that out-of-fold ROC-AUC at 100% = (1 - q) * {r['oof_visible_auc']:.4f} (declined with a declining "
              f"profile vs all kept) + q * {r['oof_hidden_auc']:.4f} (hidden declined vs all kept); "
              f"with the first part perfect: {r['bound_perfect_visible']:.4f}")
    if args.splits != "none":
        first, _, last = args.splits.partition("-")
        seeds = list(range(int(first), int(last) + 1)) if last else [int(v) for v in args.splits.split(",")]
        splits = split_diagnostic(table, r["hidden"], seeds, args.features)
        print("benchmark splits, fixed reference model fitted on each training part (explains the spread of the test "
              "parts; chooses nothing):")
        print(splits.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        corr = float(np.corrcoef(splits["hidden_share"], splits["test_auc"])[0, 1]) if len(splits) > 2 else float("nan")
        print(f"mean test ROC-AUC {splits['test_auc'].mean():.4f}; mean hidden share {splits['hidden_share'].mean():.4f}; "
              f"correlation of hidden share and test ROC-AUC {corr:.2f}")
    print(f"done in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
