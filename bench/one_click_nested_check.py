"""Nested CV on TRAINING parts only: does a selection setting (families, CV repeats) pick better models?

    python bench/one_click_nested_check.py --data ../shared/data/one_click --seeds 0,1 --outer 4

For each split seed the benchmark's 25 % test part is set aside and never used. The 75 % training part is
split again by an outer StratifiedKFold(`outer`); on each outer training fold the whole `select_model` runs
with each setting, and the chosen model is scored on the outer validation fold. Prints the mean outer ROC-AUC
per setting (same outer folds for every setting, so the comparison is paired).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import StratifiedKFold, train_test_split  # noqa: E402

from ml import one_click  # noqa: E402
from ml.selection import ALL_FAMILIES, positive_scores, select_model  # noqa: E402

SETTINGS = {
    "all_families_cv1": {"families": ALL_FAMILIES, "cv_repeats": 1},
    "all_families_cv2": {"families": ALL_FAMILIES, "cv_repeats": 2},
    "no_knn_cv1": {"families": tuple(f for f in ALL_FAMILIES if f != "knn"), "cv_repeats": 1},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "one_click"))
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--outer", type=int, default=4)
    parser.add_argument("--n-iter", type=int, default=6)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--settings", default=",".join(SETTINGS))
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    table = one_click.load_one_click(args.data)
    numeric, categorical = one_click.MODEL_NUMERIC, one_click.MODEL_CATEGORICAL
    X_all, y_all = table[numeric + categorical], table[one_click.LABEL].to_numpy()
    scores = {name: [] for name in args.settings.split(",")}
    for seed in (int(s) for s in args.seeds.split(",")):
        X, _, y, _ = train_test_split(X_all, y_all, test_size=0.25, stratify=y_all, random_state=seed)
        outer = StratifiedKFold(n_splits=args.outer, shuffle=True, random_state=1000 + seed)
        for fold, (fit_idx, val_idx) in enumerate(outer.split(X, y)):
            for name in scores:
                started = time.perf_counter()
                result = select_model(X.iloc[fit_idx], y[fit_idx], numeric, categorical, seed=seed,
                                      n_iter=args.n_iter, cv=5, n_jobs=args.n_jobs, **SETTINGS[name])
                auc = roc_auc_score(y[val_idx], positive_scores(result.best_pipeline, X.iloc[val_idx]))
                scores[name].append(auc)
                print(f"seed {seed} fold {fold} {name:<18} chose {result.best_family:<22} "
                      f"CV {result.best_cv_roc_auc:.4f} outer {auc:.4f} ({time.perf_counter() - started:.0f}s)",
                      flush=True)
    for name, values in scores.items():
        print(f"{name:<18} mean outer ROC-AUC {np.mean(values):.4f} over {len(values)} folds", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
