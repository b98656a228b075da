"""Model selection: one sklearn Pipeline shape, a randomized search per model family, every candidate kept.

The pipeline is `ColumnTransformer(numeric: median impute -> scaler, categorical: impute 'unknown' ->
one-hot(handle_unknown='ignore'))` followed by a classifier. The scaler (StandardScaler,
MinMaxScaler or 'passthrough') is itself a searched hyperparameter. Each family gets its own
RandomizedSearchCV over StratifiedKFold(cv, shuffle=True, random_state=seed) scored by ROC-AUC;
the best candidate over all families is refit on all rows. Nothing here knows the churn features:
column names come from the arguments, so any table can be fed in. FAMILIES is the default set (the churn
model's); ALL_FAMILIES adds the opt-in `extra_trees` and `soft_voting` (used by the One Click benchmark).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd
from scipy.stats import loguniform, randint
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier,
                              VotingClassifier)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RandomizedSearchCV, RepeatedStratifiedKFold, StratifiedKFold, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler, OneHotEncoder, StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

FAMILIES = ("logistic_regression", "knn", "random_forest", "svc", "hist_gradient_boosting")
# Opt-in families (pass them in `families`): extremely randomized trees, and a soft-voting ensemble of
# LR + SVC + RF + HGB on the shared preprocessing. Not in the default FAMILIES: the churn training keeps
# its five single models (and its tests and run time). Both work with `ml.explain.ShapExplainer`
# (extra trees: tree SHAP; the ensemble: permutation SHAP).
ENSEMBLE_FAMILIES = ("soft_voting",)
EXTRA_FAMILIES = ("extra_trees",) + ENSEMBLE_FAMILIES
ALL_FAMILIES = FAMILIES + EXTRA_FAMILIES
SCALERS = {"standard": StandardScaler(), "minmax": MinMaxScaler(), "passthrough": "passthrough"}
DEFAULT_N_ITER = 8


def _as_object_strings(frame):
    """Categorical columns as plain Python strings (object dtype), missing as 'unknown'."""
    frame = pd.DataFrame(frame)
    return frame.astype(object).where(frame.notna(), "unknown").astype(str).astype(object)


def make_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Return the ColumnTransformer: numeric median-impute + scaler, categorical one-hot (unknown ignored)."""
    transformers = []
    if numeric:
        transformers.append(("num", Pipeline([
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]), list(numeric)))
    if categorical:
        transformers.append(("cat", Pipeline([
            ("as_text", FunctionTransformer(_as_object_strings, feature_names_out="one-to-one")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]), list(categorical)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=True)


def make_classifier(family: str, seed: int = 0):
    """Return the unfitted classifier of `family` (one of FAMILIES)."""
    if family == "logistic_regression":
        return LogisticRegression(max_iter=2000, random_state=seed)
    if family == "knn":
        return KNeighborsClassifier()
    if family == "random_forest":
        return RandomForestClassifier(n_estimators=150, random_state=seed, n_jobs=1)
    if family == "svc":
        return SVC(kernel="rbf", random_state=seed, cache_size=400)  # scores via decision_function
    if family == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(early_stopping=False, random_state=seed)
    if family == "extra_trees":
        return ExtraTreesClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    if family == "soft_voting":  # mean of the four members' probabilities (SVC: sigmoid-calibrated)
        return VotingClassifier(_ensemble_members(seed), voting="soft", n_jobs=1)
    raise ValueError(f"unknown model family {family!r}; expected one of {', '.join(ALL_FAMILIES)}")


def _ensemble_members(seed: int) -> list[tuple[str, Any]]:
    """LR + RBF SVC + random forest + histogram boosting with moderate settings (searched further by name)."""
    return [
        ("lr", LogisticRegression(C=0.3, max_iter=2000, random_state=seed)),
        ("svc", CalibratedClassifierCV(  # Platt-scaled SVC scores (what SVC(probability=True) did)
            SVC(kernel="rbf", C=1.0, gamma="scale", random_state=seed, cache_size=400), method="sigmoid",
            ensemble=False, cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=seed))),
        ("rf", RandomForestClassifier(n_estimators=200, min_samples_leaf=3, max_features="sqrt",
                                      random_state=seed, n_jobs=1)),
        ("hgb", HistGradientBoostingClassifier(learning_rate=0.05, max_iter=150, max_leaf_nodes=15,
                                               min_samples_leaf=20, early_stopping=False, random_state=seed)),
    ]


def search_space(family: str) -> dict[str, Any]:
    """Return the RandomizedSearchCV distributions of `family` (pipeline parameter names)."""
    space: dict[str, Any] = {"prep__num__scale": list(SCALERS.values())}
    if family == "logistic_regression":
        space.update({"model__C": loguniform(1e-3, 1e2), "model__class_weight": [None, "balanced"]})
    elif family == "knn":
        space.update({"model__n_neighbors": randint(5, 80), "model__weights": ["uniform", "distance"],
                      "model__p": [1, 2]})
    elif family == "random_forest":
        space.update({"model__max_depth": [4, 6, 8, 12, None], "model__min_samples_leaf": randint(1, 30),
                      "model__max_features": ["sqrt", 0.3, 0.6],
                      "model__class_weight": [None, "balanced_subsample"]})
    elif family == "svc":
        space.update({"model__C": loguniform(1e-2, 1e2), "model__gamma": loguniform(1e-3, 1.0),
                      "model__class_weight": [None, "balanced"]})
    elif family == "hist_gradient_boosting":
        space.update({"model__learning_rate": loguniform(0.02, 0.3), "model__max_leaf_nodes": randint(8, 48),
                      "model__min_samples_leaf": randint(10, 80), "model__l2_regularization": loguniform(1e-4, 1.0),
                      "model__max_iter": [100, 200]})
    elif family == "extra_trees":
        space.update({"model__max_depth": [8, 12, 20, None], "model__min_samples_leaf": randint(1, 10),
                      "model__max_features": ["sqrt", 0.3, 0.5],
                      "model__class_weight": [None, "balanced_subsample"]})
    elif family in ENSEMBLE_FAMILIES:
        space["prep__num__scale"] = [SCALERS["standard"], SCALERS["minmax"]]  # SVC and LR need a scaler
        space.update({"model__lr__C": loguniform(1e-2, 1e1), "model__svc__estimator__C": loguniform(0.3, 10.0),
                      "model__svc__estimator__gamma": ["scale", 0.01, 0.03],
                      "model__rf__min_samples_leaf": randint(1, 10),
                      "model__hgb__learning_rate": loguniform(0.02, 0.1)})
    else:
        raise ValueError(f"unknown model family {family!r}")
    return space


def make_pipeline(family: str, numeric: list[str], categorical: list[str], seed: int = 0) -> Pipeline:
    """Return the unfitted Pipeline(prep -> model) of `family`."""
    return Pipeline([("prep", make_preprocessor(numeric, categorical)), ("model", make_classifier(family, seed))])


def _plain(value: Any) -> Any:
    """A JSON-friendly version of a hyperparameter value (scalers by name)."""
    for name, scaler in SCALERS.items():
        if value is scaler or (not isinstance(value, str) and type(value) is type(scaler)):
            return name
    if value == "passthrough":
        return "passthrough"
    if isinstance(value, np.generic):
        return value.item()
    return value


def describe_params(params: dict[str, Any]) -> dict[str, Any]:
    """Return `params` with readable keys ('scaler', 'C', ...) and JSON-friendly values."""
    out = {}
    for key, value in sorted(params.items()):
        short = "scaler" if key == "prep__num__scale" else key.split("__", 1)[-1]
        out[short] = _plain(value)
    return out


@dataclass
class SelectionResult:
    """The outcome of `select_model`: the refit best pipeline and the CV score of every candidate."""

    best_pipeline: Pipeline
    best_family: str
    best_params: dict[str, Any]
    best_cv_roc_auc: float
    cv_table: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    seed: int
    search_params: dict[str, Any] = field(repr=False, default_factory=dict)

    def risk_scores(self, X: pd.DataFrame) -> np.ndarray:
        """Return a risk score per row (predict_proba of class 1, or decision_function for SVC): for ranking, AUC."""
        return positive_scores(self.best_pipeline, X)

    def family_summary(self) -> pd.DataFrame:
        """Return the best candidate of each family (family, mean/std CV ROC-AUC, params), best first."""
        best = self.cv_table.sort_values(["mean_cv_roc_auc", "family"], ascending=[False, True])
        return best.groupby("family", sort=False).head(1).reset_index(drop=True)


def positive_scores(model, X: pd.DataFrame) -> np.ndarray:
    """Return scores increasing with the positive class: predict_proba[:, 1] if available, else decision_function."""
    if hasattr(model, "predict_proba"):
        try:
            return np.asarray(model.predict_proba(X))[:, 1]
        except AttributeError:  # SVC(probability=False) exposes the method but refuses it
            pass
    return np.asarray(model.decision_function(X), dtype=float)


def _subsample(X: pd.DataFrame, y: pd.Series, max_rows: int | None, seed: int):
    if max_rows is None or len(X) <= max_rows:
        return X, y
    X_small, _, y_small, _ = train_test_split(X, y, train_size=max_rows, stratify=y, random_state=seed)
    return X_small, y_small


def select_model(X: pd.DataFrame, y: pd.Series, numeric: list[str], categorical: list[str], seed: int = 0,
                 n_iter: int = DEFAULT_N_ITER, cv: int = 5, progress: bool = False,
                 families: tuple[str, ...] = FAMILIES, n_jobs: int = 1,
                 max_rows: int | None = None, cv_repeats: int = 1,
                 log: Callable[[str], None] | None = None) -> SelectionResult:
    """Return the SelectionResult of a per-family RandomizedSearchCV (ROC-AUC) with the best pipeline refit on all X.

    `max_rows` (optional) runs the search on a stratified sample of that many rows (SVC and KNN grow
    quadratically); the chosen candidate is still refit on every row. `cv_repeats` > 1 repeats the
    stratified `cv`-fold split with different shuffles (RepeatedStratifiedKFold) and averages: a less noisy
    choice among near-equal candidates for `cv_repeats` times the search time. `log` (optional) gets one line
    per family searched (its best CV ROC-AUC), for a log file where the progress bar would not fit.
    """
    numeric, categorical = list(numeric), list(categorical)
    missing = [c for c in numeric + categorical if c not in X.columns]
    if missing:
        raise ValueError(f"columns not in X: {missing}")
    y = pd.Series(np.asarray(y).astype(int), index=X.index, name="label")
    if y.nunique() < 2:
        raise ValueError("the label has a single class; cannot select a model")
    if int(y.value_counts().min()) < cv:
        raise ValueError(f"the rarer class has {int(y.value_counts().min())} rows; need at least cv={cv}")
    X = X[numeric + categorical]
    X_search, y_search = _subsample(X, y, max_rows, seed)
    if cv_repeats < 1:
        raise ValueError(f"cv_repeats must be at least 1, got {cv_repeats}")
    splitter = (StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed) if cv_repeats == 1
                else RepeatedStratifiedKFold(n_splits=cv, n_repeats=cv_repeats, random_state=seed))
    rows = []
    raw_params: dict[tuple[str, int], dict[str, Any]] = {}
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(families), desc="model search", unit="family", file=sys.stderr)
    for number, family in enumerate(families, 1):
        if bar is not None:
            bar.set_postfix_str(family)
        search = RandomizedSearchCV(
            make_pipeline(family, numeric, categorical, seed), search_space(family), n_iter=n_iter,
            scoring="roc_auc", cv=splitter, refit=False, random_state=seed, n_jobs=n_jobs, error_score=np.nan,
        )
        started = time.perf_counter()
        with threadpool_limits(limits=1):  # OpenMP/BLAS single-threaded: CV folds are the unit of parallelism
            search.fit(X_search, y_search)
        results = search.cv_results_
        for i, params in enumerate(results["params"]):
            raw_params[(family, i)] = params
            rows.append({
                "family": family,
                "candidate": i,
                "params": json.dumps(describe_params(params), sort_keys=True, default=str),
                "mean_cv_roc_auc": float(results["mean_test_score"][i]),
                "std_cv_roc_auc": float(results["std_test_score"][i]),
                "mean_fit_seconds": float(results["mean_fit_time"][i]),
            })
        line = (f"{family:<24} best CV ROC-AUC {np.nanmax(results['mean_test_score']):.4f} "
                f"({len(results['params'])} candidates, {time.perf_counter() - started:.1f}s)")
        if log is not None:
            log(f"model search {number}/{len(families)}: {line}")
        if bar is not None:
            bar.write(f"  {line}", file=sys.stderr)
            bar.update(1)
    if bar is not None:
        bar.close()
    table = pd.DataFrame(rows)
    scores = table["mean_cv_roc_auc"].fillna(-np.inf)
    table["rank"] = scores.rank(ascending=False, method="min").astype(int)
    best_row = table.loc[int(np.argmax(scores.to_numpy()))]  # first maximum: family order breaks ties
    best_family, best_index = str(best_row["family"]), int(best_row["candidate"])
    params = raw_params[(best_family, best_index)]
    pipeline = clone(make_pipeline(best_family, numeric, categorical, seed)).set_params(**clone(params, safe=False))
    with threadpool_limits(limits=max(1, n_jobs)):
        pipeline.fit(X, y)
    return SelectionResult(
        best_pipeline=pipeline, best_family=best_family, best_params=describe_params(params),
        best_cv_roc_auc=float(best_row["mean_cv_roc_auc"]), cv_table=table, numeric=numeric,
        categorical=categorical, seed=seed, search_params=params,
    )
