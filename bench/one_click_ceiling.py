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
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from scipy.stats import ks_2samp  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.ensemble import ExtraTreesClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from ml.one_click import DEFAULT_FEATURE_SET, FEATURE_SETS, LABEL, load_one_click  # noqa: E402
from ml.selection import make_preprocessor, positive_scores  # noqa: E402

ID = "customer_id"


def pure_blocks(ids: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return masks (positive block, negative block): the longest run of positives from the smallest id and the
    longest run of negatives up to the largest id (empty when the sorted labels do not start or end that way)."""
    order = np.argsort(ids, kind="stable")
    sorted_labels = np.asarray(labels)[order]
    n = len(sorted_labels)
    first_negative = int(np.argmin(sorted_labels == 1)) if (sorted_labels == 0).any() else n
    last_positive = n - 1 - int(np.argmax(sorted_labels[::-1] == 1)) if (sorted_labels == 1).any() else -1
    positive, negative = np.zeros(n, bool), np.zeros(n, bool)
    positive[order[:first_negative]] = True
    negative[order[max(last_positive + 1, first_negative):]] = True
    return positive, negative


def auc_parts(y: np.ndarray, scores: np.ndarray, hidden: np.ndarray) -> tuple[float, float, float]:
    """Return (ROC-AUC of the visible positives vs all negatives, of the hidden positives vs all negatives, hidden
    share q of the positives); the overall ROC-AUC is exactly (1 - q) * first + q * second."""
    y, scores, hidden = np.asarray(y), np.asarray(scores), np.asarray(hidden, bool)
    negatives = y == 0
    visible = (y == 1) & ~hidden
    q = float(hidden.sum() / (y == 1).sum())
    part = (lambda m: float(roc_auc_score(y[m | negatives], scores[m | negatives])) if m.any() else float("nan"))
    return part(visible), part(hidden & (y == 1)), q


def mixture_auc_bound(hidden_share: float, hidden_auc: float) -> float:
    """Return the highest ROC-AUC of any scorer when a share of the positives is separable from the negatives
    only with ROC-AUC `hidden_auc` and the other positives perfectly: (1 - q) * 1 + q * A."""
    if not (0.0 <= hidden_share <= 1.0 and 0.0 <= hidden_auc <= 1.0):
        raise ValueError("share and ROC-AUC must lie in [0, 1]")
    return (1.0 - hidden_share) + hidden_share * hidden_auc


def reference_model(seed: int, numeric: list[str], categorical: list[str]) -> Pipeline:
    """Return the benchmark's fixed reference: extra trees (400 trees, leaf 2) on the shared preprocessing."""
    return Pipeline([("prep", make_preprocessor(numeric, categorical)),
                     ("model", ExtraTreesClassifier(n_estimators=400, min_samples_leaf=2, random_state=seed,
                                                    n_jobs=1))])


def residual_models(seed: int, numeric: list[str], categorical: list[str]) -> dict[str, Pipeline]:
    """Return the models tried on the hidden positives: the reference extra trees, LR, RBF SVC."""
    prep = make_preprocessor(numeric, categorical)
    return {
        "extra_trees": reference_model(seed, numeric, categorical),
        "logistic_regression": Pipeline([("prep", clone(prep)), ("model", LogisticRegression(C=1.0, max_iter=2000))]),
        "svc": Pipeline([("prep", clone(prep)), ("model", SVC(C=1.0, gamma="scale"))]),
    }


def out_of_fold_scores(model, X: pd.DataFrame, y: np.ndarray, seed: int, repeats: int = 3,
                       train_share: float = 1.0) -> np.ndarray:
    """Return each row's mean out-of-fold score over `repeats` stratified 5-fold CVs, each fold's model fitted
    on a seeded stratified `train_share` of its training rows."""
    scores, counts = np.zeros(len(y)), np.zeros(len(y))
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    rng = np.random.default_rng(seed)
    for train, test in cv.split(X, y):
        if train_share < 1.0:
            keep = []
            for label in (0, 1):
                rows = train[y[train] == label]
                keep.append(rng.choice(rows, size=max(2, round(len(rows) * train_share)), replace=False))
            train = np.sort(np.concatenate(keep))
        fitted = clone(model).fit(X.iloc[train], y[train])
        scores[test] += positive_scores(fitted, X.iloc[test])
        counts[test] += 1
    return scores / counts


def mean_cv_auc(model, X: pd.DataFrame, y: np.ndarray, seed: int, repeats: int = 3) -> float:
    """Return the mean ROC-AUC over the folds of a repeated stratified 5-fold CV."""
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=repeats, random_state=seed)
    aucs = [roc_auc_score(y[test], positive_scores(clone(model).fit(X.iloc[train], y[train]), X.iloc[test]))
            for train, test in cv.split(X, y)]
    return float(np.mean(aucs))


def ceiling_report(table: pd.DataFrame, feature_set: str = DEFAULT_FEATURE_SET, seed: int = 0,
                   repeats: int = 3, shares: tuple[float, ...] = (0.4, 0.6, 0.8, 1.0)) -> dict:
    """Return the diagnostic's numbers (see the module docstring) for a One Click table with ids and labels."""
    numeric, categorical = FEATURE_SETS[feature_set]
    X = table[numeric + categorical].reset_index(drop=True)
    y = table[LABEL].to_numpy().astype(int)
    ids = table[ID].to_numpy()
    report: dict = {"rows": len(y), "positives": int(y.sum()), "id_auc": float(roc_auc_score(y, ids))}

    positive_block, negative_block = pure_blocks(ids, y)
    pure = positive_block | negative_block
    mixed = ~pure
    report.update(positive_block=int(positive_block.sum()), negative_block=int(negative_block.sum()),
                  mixed_rows=int(mixed.sum()), mixed_positives=int(y[mixed].sum()))
    profile_model = reference_model(seed, numeric, categorical)
    pure_idx = np.flatnonzero(pure)
    report["profile_oof_auc"] = float(roc_auc_score(
        y[pure], out_of_fold_scores(profile_model, X.iloc[pure_idx], y[pure], seed, repeats)))
    if mixed.any():
        fitted = clone(profile_model).fit(X.iloc[pure_idx], y[pure])
        mixed_profile = fitted.predict_proba(X.iloc[np.flatnonzero(mixed)])[:, 1] >= 0.5
    else:
        mixed_profile = np.zeros(0, bool)
    hidden = np.zeros(len(y), bool)
    hidden[np.flatnonzero(mixed)[(y[mixed] == 1) & ~mixed_profile]] = True
    report.update(mixed_negatives_on_declining_side=int(((y[mixed] == 0) & mixed_profile).sum()),
                  hidden_positives=int(hidden.sum()))
    report["hidden_share"] = report["hidden_positives"] / max(report["positives"], 1)

    versus = hidden | (y == 0)
    target = hidden[versus].astype(int)
    residual = {}
    if 5 <= target.sum() <= len(target) - 5:
        X_versus = X.iloc[np.flatnonzero(versus)]
        for name, model in residual_models(seed, numeric, categorical).items():
            residual[name] = mean_cv_auc(model, X_versus, target, seed, repeats)
        report["ks_min_p"] = min(
            (float(ks_2samp(X_versus.loc[target == 1, c], X_versus.loc[target == 0, c]).pvalue), c)
            for c in numeric)
    report["residual_auc"] = residual
    best_residual = max(residual.values()) if residual else 0.5
    report["bound"] = mixture_auc_bound(report["hidden_share"], best_residual)
    report["bound_no_signal"] = mixture_auc_bound(report["hidden_share"], 0.5)

    reference = reference_model(seed, numeric, categorical)
    curve = {share: out_of_fold_scores(reference, X, y, seed, repeats, train_share=share) for share in shares}
    report["learning_curve"] = {share: float(roc_auc_score(y, s)) for share, s in curve.items()}
    if 1.0 in curve:
        visible_auc, hidden_auc, _ = auc_parts(y, curve[1.0], hidden)
        report.update(oof_visible_auc=visible_auc, oof_hidden_auc=hidden_auc,
                      bound_perfect_visible=mixture_auc_bound(report["hidden_share"], hidden_auc))
    report["hidden"] = hidden
    return report


def split_diagnostic(table: pd.DataFrame, hidden: np.ndarray, seeds: list[int],
                     feature_set: str = DEFAULT_FEATURE_SET) -> pd.DataFrame:
    """Return, per benchmark split (stratified 25 % test part of `seed`), the fixed reference model's test ROC-AUC
    (fitted on the training part), the test part's hidden positives and share, and the two parts of the ROC-AUC.
    It reads test parts to explain their spread; nothing is chosen with it."""
    numeric, categorical = FEATURE_SETS[feature_set]
    X = table[numeric + categorical].reset_index(drop=True)
    y = table[LABEL].to_numpy().astype(int)
    rows = []
    for seed in seeds:
        train, test = train_test_split(np.arange(len(y)), test_size=0.25, stratify=y, random_state=seed)
        fitted = reference_model(seed, numeric, categorical).fit(X.iloc[train], y[train])
        scores = positive_scores(fitted, X.iloc[test])
        visible_auc, hidden_auc, q = auc_parts(y[test], scores, hidden[test])
        rows.append({"seed": seed, "test_auc": float(roc_auc_score(y[test], scores)),
                     "hidden": int(hidden[test].sum()), "hidden_share": q,
                     "visible_auc": visible_auc, "hidden_auc": hidden_auc})
    return pd.DataFrame(rows)


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
