"""CV-only study on the One Click data: compare feature sets and fixed models on TRAINING parts only.

    python bench/one_click_cv_study.py --data ../shared/data/one_click --seeds 0,1,2 --repeats 3

For each split seed, the same stratified 25 % test part as `one_click_benchmark.py` is set aside and never
used; on the 75 % training part a RepeatedStratifiedKFold(5 folds x `repeats`) gives the mean ROC-AUC of each
(feature set, model) pair. Prints one line per pair: the mean over the seeds and the per-seed means. This is
how the feature and model choices of the benchmark were made (see docs/one_click_benchmark.md).
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

from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score, train_test_split  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from ml import one_click  # noqa: E402
from ml.one_click_study import build_pipeline, feature_set, fixed_models  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "one_click"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sets", default=",".join(one_click.FEATURE_SETS),
                        help="feature sets (comma-separated): names of ml/one_click.py FEATURE_SETS or "
                             "<set>_minus_<numeric column>, e.g. core_rev_minus_service_errors")
    parser.add_argument("--models", default="")
    parser.add_argument("--n-jobs", type=int, default=1)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    seeds = [int(s) for s in args.seeds.split(",")]
    table = one_click.load_one_click(args.data)
    y = table[one_click.LABEL].to_numpy()
    train_parts = {}
    for seed in seeds:
        idx_train, _ = train_test_split(np.arange(len(table)), test_size=0.25, stratify=y, random_state=seed)
        train_parts[seed] = idx_train  # the test part is never touched here
    wanted_models = [m for m in args.models.split(",") if m]
    for set_name in args.sets.split(","):
        numeric, categorical = feature_set(set_name)
        for model_name in fixed_models(0):
            if wanted_models and model_name not in wanted_models:
                continue
            started = time.perf_counter()
            per_seed = []
            for seed in seeds:
                pipe = build_pipeline(model_name, numeric, categorical, seed)
                idx = train_parts[seed]
                cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=args.repeats, random_state=seed)
                with threadpool_limits(limits=1):
                    scores = cross_val_score(pipe, table.iloc[idx][numeric + categorical], y[idx], cv=cv,
                                             scoring="roc_auc", n_jobs=args.n_jobs)
                per_seed.append(scores.mean())
            print(f"{set_name:<36} {model_name:<12} mean {np.mean(per_seed):.6f}  per seed "
                  + " ".join(f"{s:.4f}" for s in per_seed) + f"  ({time.perf_counter() - started:.0f}s)",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
