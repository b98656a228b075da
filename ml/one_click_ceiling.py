"""How high can ROC-AUC go on the One Click data? The computations of the ceiling diagnostic
(`bench/one_click_ceiling.py`, which prints them; its docstring explains the five steps).

The label follows the customer id in blocks (a file-order leak, never a feature): the pure blocks give a
"declining profile" model, the mixed block's declined customers with a kept profile are the hidden part of the
label, and `mixture_auc_bound` turns their share and best residual ROC-AUC into a ceiling. Deterministic (every
model and split is seeded). See docs/one_click_benchmark.md, "Why the target sits at the data's ceiling".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp
from sklearn.base import clone
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC

from ml.one_click import DEFAULT_FEATURE_SET, FEATURE_SETS, LABEL
from ml.selection import make_preprocessor, positive_scores

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
