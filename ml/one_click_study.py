"""The One Click model studies' code (`bench/one_click_benchmark.py`, `bench/one_click_cv_study.py`): the
benchmark's split runner and the CV study's fixed candidate models, feature-set names and pipelines.

The scripts parse their arguments, read the data and print; what they compute lives here, so the tests import it
as any other module. See docs/one_click_benchmark.md for the rounds and rules behind each candidate.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from ml import one_click
from ml.one_click import DEFAULT_FEATURE_SET, FEATURE_SETS, LABEL
from ml.selection import _ensemble_members, make_classifier, make_preprocessor, positive_scores, select_model


def run_split(table, seed: int, n_iter: int, n_jobs: int, families: tuple[str, ...],
              feature_set: str = DEFAULT_FEATURE_SET, cv_repeats: int = 1) -> dict:
    """Return seed, chosen family, CV and test ROC-AUC, seconds of one split (selection on the train part only)."""
    NUMERIC, CATEGORICAL = FEATURE_SETS[feature_set]
    X = table[NUMERIC + CATEGORICAL]
    y = table[LABEL].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    started = time.perf_counter()
    result = select_model(X_train, y_train, NUMERIC, CATEGORICAL, seed=seed, n_iter=n_iter, cv=5,
                          families=families, n_jobs=n_jobs, cv_repeats=cv_repeats)
    test_auc = roc_auc_score(y_test, positive_scores(result.best_pipeline, X_test))
    return {"seed": seed, "family": result.best_family, "cv_auc": result.best_cv_roc_auc, "test_auc": float(test_auc),
            "seconds": time.perf_counter() - started, "params": result.best_params,
            "train_rows": len(X_train), "test_rows": len(X_test)}


def fixed_models(seed: int) -> dict:
    """Return {name: fixed-setting model (no search)} of the comparisons (LightGBM and CatBoost when installed)."""
    from sklearn.ensemble import (ExtraTreesClassifier, HistGradientBoostingClassifier, RandomForestClassifier,
                                  VotingClassifier)
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline as make_sklearn_pipeline
    from sklearn.preprocessing import SplineTransformer
    from sklearn.svm import SVC

    models = {
        "lr_C1": LogisticRegression(C=1.0, max_iter=2000),
        "lr_C0.1": LogisticRegression(C=0.1, max_iter=2000),
        "svc_C1": SVC(C=1.0, gamma="scale"),
        "svc_C3_g.02": SVC(C=3.0, gamma=0.02),
        "rf_leaf3": RandomForestClassifier(n_estimators=300, min_samples_leaf=3, max_features="sqrt",
                                           random_state=seed, n_jobs=1),
        "hgb_slow": HistGradientBoostingClassifier(learning_rate=0.03, max_iter=200, max_leaf_nodes=8,
                                                   min_samples_leaf=20, early_stopping=False, random_state=seed),
        "et_leaf1": ExtraTreesClassifier(n_estimators=400, min_samples_leaf=1, random_state=seed, n_jobs=1),
        "et_leaf2": ExtraTreesClassifier(n_estimators=400, min_samples_leaf=2, random_state=seed, n_jobs=1),
        "et_leaf3": ExtraTreesClassifier(n_estimators=400, min_samples_leaf=3, random_state=seed, n_jobs=1),
    }
    models["et_leaf2_f.5"] = ExtraTreesClassifier(n_estimators=400, min_samples_leaf=2, max_features=0.5,
                                                  random_state=seed, n_jobs=1)
    models["et_leaf2_f1"] = ExtraTreesClassifier(n_estimators=400, min_samples_leaf=2, max_features=1.0,
                                                 random_state=seed, n_jobs=1)
    models["spline_lr_C.1"] = make_sklearn_pipeline(SplineTransformer(n_knots=4, degree=2),
                                                    LogisticRegression(C=0.1, max_iter=3000))
    # Round 2 (pre-registered rule in docs/one_click_benchmark.md): extra-trees variants, LR+SVC+ET votes, a small MLP.
    for name, kwargs in {
        "et1000_leaf2": dict(n_estimators=1000, min_samples_leaf=2),
        "et1000_leaf1": dict(n_estimators=1000, min_samples_leaf=1),
        "et1000_leaf4": dict(n_estimators=1000, min_samples_leaf=4),
        "et1000_leaf2_ent": dict(n_estimators=1000, min_samples_leaf=2, criterion="entropy"),
        "et1000_leaf2_bal": dict(n_estimators=1000, min_samples_leaf=2, class_weight="balanced_subsample"),
        "et1000_leaf2_f.3": dict(n_estimators=1000, min_samples_leaf=2, max_features=0.3),
        "et1000_leaf2_boot": dict(n_estimators=1000, min_samples_leaf=2, bootstrap=True),
        "et1000_leaf2_d12": dict(n_estimators=1000, min_samples_leaf=2, max_depth=12),
    }.items():
        models[name] = ExtraTreesClassifier(random_state=seed, n_jobs=1, **kwargs)
    from sklearn.neural_network import MLPClassifier
    models["mlp_16"] = MLPClassifier(hidden_layer_sizes=(16,), alpha=1e-2, early_stopping=True, max_iter=500,
                                     random_state=seed)
    models["mlp_32_a1"] = MLPClassifier(hidden_layer_sizes=(32,), alpha=1.0, early_stopping=True, max_iter=500,
                                        random_state=seed)
    models["soft_voting"] = make_classifier("soft_voting", seed)
    members = dict(_ensemble_members(seed))
    members["et"] = ExtraTreesClassifier(n_estimators=400, min_samples_leaf=2, random_state=seed, n_jobs=1)
    members["et1000"] = ExtraTreesClassifier(n_estimators=1000, min_samples_leaf=2, random_state=seed, n_jobs=1)
    for subset in ("lr+svc+rf", "svc+rf+hgb", "lr+rf+hgb", "lr+svc+hgb", "lr+svc", "svc+rf", "rf+hgb",
                   "lr+svc+et+hgb", "lr+svc+et1000", "svc+et1000", "lr+et1000"):
        models[f"vote_{subset}"] = VotingClassifier([(m, members[m]) for m in subset.split("+")], voting="soft")
    # Round 3 (pre-registered rule R4 in docs/one_click_benchmark.md): quantile-transformed numeric columns for
    # extra trees / SVC / LR (the transform replaces the scaler, see scaler_override), LightGBM, CatBoost.
    models["qt_et_leaf2"] = clone(models["et_leaf2"])
    models["qtn_et_leaf2"] = clone(models["et_leaf2"])
    models["qtn_svc_C1"] = clone(models["svc_C1"])
    models["qtn_lr_C1"] = clone(models["lr_C1"])
    try:
        from lightgbm import LGBMClassifier
        models["lgbm"] = LGBMClassifier(n_estimators=300, learning_rate=0.03, num_leaves=8, min_child_samples=20,
                                        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=seed,
                                        n_jobs=1, verbose=-1)
    except ImportError:  # optional: only the round-3 study needs it
        pass
    try:
        from catboost import CatBoostClassifier
        models["catboost"] = CatBoostClassifier(iterations=500, depth=6, random_seed=seed, thread_count=1,
                                                verbose=0, allow_writing_files=False)
        # Round 3, R5: CatBoost with shallower trees, and soft votes of extra trees with CatBoost.
        models["catboost_d4"] = CatBoostClassifier(iterations=1000, depth=4, learning_rate=0.03, random_seed=seed,
                                                   thread_count=1, verbose=0, allow_writing_files=False)
        models["vote_et_cat"] = VotingClassifier([("et", clone(models["et_leaf2"])),
                                                  ("cat", clone(models["catboost"]))], voting="soft")
        models["vote_et_cat_d4"] = VotingClassifier([("et", clone(models["et_leaf2"])),
                                                     ("cat", clone(models["catboost_d4"]))], voting="soft")
    except ImportError:  # optional: only the round-3 study needs it
        pass
    # Round 4, R6: domain-fixed monotonic constraints on the numeric columns of `core_rev` (see MONOTONE).
    models["et_mono"] = MonotoneConstrained(clone(models["et_leaf2"]), monotone_directions())
    models["et_mono_free_errors"] = MonotoneConstrained(clone(models["et_leaf2"]),
                                                        monotone_directions(free=("service_errors",)))
    models["hgb_mono"] = MonotoneConstrained(clone(models["hgb_slow"]), monotone_directions())
    # Round 5, R7: oblique directions for extra trees (axis-aligned splits need many cuts for a boundary along a
    # combination of columns): PCA components, random rotations, an out-of-fold logistic-regression score.
    n_numeric = len(one_click.FEATURE_SETS["core_rev"][0])
    models["et_pca"] = Pipeline([("oblique", AppendOblique("pca", n_numeric, seed)),
                                 ("et", clone(models["et_leaf2"]))])
    models["et_rot"] = RotationBag(clone(models["et_leaf2"]), n_numeric, n_rotations=10, seed=seed)
    models["et_lr_logit"] = Pipeline([("oblique", AppendOblique("lr_logit", n_numeric, seed)),
                                      ("et", clone(models["et_leaf2"]))])
    # Round 7, R9: fewer columns drawn per split, and the category as one column (see category_override).
    models["et_f1"] = clone(models["et_leaf2"]).set_params(max_features=1)
    models["et_f2"] = clone(models["et_leaf2"]).set_params(max_features=2)
    models["et_te"] = clone(models["et_leaf2"])
    models["et_ord"] = clone(models["et_leaf2"])
    return models


class AppendOblique(TransformerMixin, BaseEstimator):
    """Append oblique columns computed from the first `n_numeric` (standardized numeric) columns: `pca` all
    principal components; `lr_logit` a logistic regression's decision value over all columns, out-of-fold
    (inner 5-fold) for the rows it is fitted on, so the trees never see a score fitted on the row itself."""

    def __init__(self, kind="pca", n_numeric=0, seed=0):
        """Keep the settings (scikit-learn estimator convention: no work here)."""
        self.kind = kind
        self.n_numeric = n_numeric
        self.seed = seed

    def fit(self, X, y=None):
        """Fit the oblique model; return self."""
        self._fit(X, y)
        return self

    def fit_transform(self, X, y=None, **_):
        """Return X with the oblique columns of the training rows appended (out-of-fold for `lr_logit`)."""
        return np.hstack([X, self._fit(X, y)])

    def transform(self, X):
        """Return X with the fitted model's oblique columns appended."""
        return np.hstack([X, self._columns(X)])

    def _fit(self, X, y):
        """Fit the model; return the columns the training rows get (out-of-fold for `lr_logit`)."""
        from sklearn.decomposition import PCA
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        if self.kind == "pca":
            self.model_ = PCA(random_state=self.seed).fit(X[:, :self.n_numeric])
            return self._columns(X)
        lr = LogisticRegression(C=1.0, max_iter=2000)
        inner = StratifiedKFold(n_splits=5, shuffle=True, random_state=self.seed)
        oof = cross_val_predict(lr, X, y, cv=inner, method="decision_function")
        self.model_ = lr.fit(X, y)
        return oof.reshape(-1, 1)

    def _columns(self, X):
        """The fitted model's columns for new rows."""
        if self.kind == "pca":
            return self.model_.transform(X[:, :self.n_numeric])
        return self.model_.decision_function(X).reshape(-1, 1)


class RotationBag(ClassifierMixin, BaseEstimator):
    """Mean probability of `n_rotations` copies of `estimator` (trees split evenly), each fitted on the columns
    plus a random orthogonal rotation of the first `n_numeric` columns (a rotation-forest-like ensemble)."""

    def __init__(self, estimator=None, n_numeric=0, n_rotations=10, seed=0):
        """Keep the settings (scikit-learn estimator convention: no work here)."""
        self.estimator = estimator
        self.n_numeric = n_numeric
        self.n_rotations = n_rotations
        self.seed = seed

    def fit(self, X, y):
        """Fit one member per random rotation; return self."""
        rng = np.random.default_rng(self.seed)
        trees = max(1, self.estimator.get_params()["n_estimators"] // self.n_rotations)
        self.members_ = []
        for k in range(self.n_rotations):
            rotation, _ = np.linalg.qr(rng.standard_normal((self.n_numeric, self.n_numeric)))
            member = clone(self.estimator).set_params(n_estimators=trees, random_state=self.seed * 1000 + k)
            self.members_.append((rotation, member.fit(self._with(X, rotation), y)))
        self.classes_ = self.members_[0][1].classes_
        return self

    def _with(self, X, rotation):
        """Return X with the rotated numeric columns appended."""
        return np.hstack([X, X[:, :self.n_numeric] @ rotation])

    def predict_proba(self, X):
        """Return the members' mean class probabilities."""
        return np.mean([member.predict_proba(self._with(X, rotation)) for rotation, member in self.members_], axis=0)


# Round 4 (R6): +1 = more of the column, more decline; -1 = less decline; fixed from the meaning of the columns
# before measuring (docs/one_click_benchmark.md); columns not listed (revenue months, category) are free.
MONOTONE = {"pages_per_visit": -1, "minutes_m1": -1, "minutes_m2": -1, "marketing_6m": -1,
            "unpaid_items_quarter": +1, "promo_share": +1, "categories_per_visit": -1, "service_errors": +1}


def monotone_directions(numeric: tuple[str, ...] | None = None, free: tuple[str, ...] = ()) -> list[int]:
    """The constraint of each numeric column of `numeric` (default: `core_rev`), in the pipeline's order."""
    numeric = numeric or tuple(one_click.FEATURE_SETS["core_rev"][0])
    return [0 if name in free else MONOTONE.get(name, 0) for name in numeric]


class MonotoneConstrained(ClassifierMixin, BaseEstimator):
    """`estimator` fitted with `monotonic_cst` = `leading` for the first columns (the numeric ones, which the
    ColumnTransformer puts first) and 0 for the rest (the one-hot columns, however many the fold has)."""

    def __init__(self, estimator=None, leading=()):
        """Keep the settings (scikit-learn estimator convention: no work here)."""
        self.estimator = estimator
        self.leading = leading

    def fit(self, X, y):
        """Fit a copy of the estimator with the monotonic constraints; return self."""
        constraints = list(self.leading) + [0] * (X.shape[1] - len(self.leading))
        self.estimator_ = clone(self.estimator).set_params(monotonic_cst=constraints).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def predict_proba(self, X):
        """Return the constrained estimator's class probabilities."""
        return self.estimator_.predict_proba(X)


def scaler_override(model_name: str):
    """The numeric-column transform replacing the standard scaler for `model_name` (None: keep the scaler)."""
    from sklearn.preprocessing import QuantileTransformer
    if model_name.startswith("qt_"):
        return QuantileTransformer(output_distribution="uniform", n_quantiles=200, random_state=0)
    if model_name.startswith("qtn_"):
        return QuantileTransformer(output_distribution="normal", n_quantiles=200, random_state=0)
    return None


def category_override(model_name: str, seed: int):
    """The category encoder replacing the one-hot encoder for `model_name` (None: keep one-hot). `et_te`: the
    cross-fitted target mean (TargetEncoder.fit_transform gives each training row the mean of the other inner
    folds, so no row sees its own label); `et_ord`: alphabetical codes."""
    from sklearn.model_selection import StratifiedKFold
    from sklearn.preprocessing import OrdinalEncoder, TargetEncoder
    if model_name == "et_te":
        return TargetEncoder(target_type="binary", cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=seed))
    if model_name == "et_ord":
        return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    return None


def feature_set(name: str) -> tuple[list[str], list[str]]:
    """A named set of `one_click.FEATURE_SETS`, or `<set>_minus_<column>`: that set without one numeric column
    (round 7, R9b)."""
    if name in one_click.FEATURE_SETS:
        numeric, categorical = one_click.FEATURE_SETS[name]
        return list(numeric), list(categorical)
    base, sep, column = name.partition("_minus_")
    if not sep or base not in one_click.FEATURE_SETS or column not in one_click.FEATURE_SETS[base][0]:
        raise ValueError(f"unknown feature set {name!r}: a name of ml/one_click.py FEATURE_SETS or "
                         "<set>_minus_<one of its numeric columns>")
    numeric, categorical = one_click.FEATURE_SETS[base]
    return [c for c in numeric if c != column], list(categorical)


def build_pipeline(model_name: str, numeric: list[str], categorical: list[str], seed: int) -> Pipeline:
    """The study's pipeline for one (model, feature set, seed): the project's preprocessor with the model's
    numeric transform and category encoder overrides, then the fixed model."""
    pipe = Pipeline([("prep", make_preprocessor(numeric, categorical)), ("model", fixed_models(seed)[model_name])])
    override = scaler_override(model_name)
    if override is not None:
        pipe.set_params(prep__num__scale=override)
    encoder = category_override(model_name, seed)
    if encoder is not None and categorical:
        pipe.set_params(prep__cat__onehot=encoder)
    return pipe
