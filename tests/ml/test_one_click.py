"""Tests of the One Click data preparation (`ml/one_click.py`), the opt-in families (extra trees, soft voting) of
`ml/selection.py`, the studies' code (`ml/one_click_study.py`: the benchmark's split runner and the CV study's
candidates; `ml/one_click_ceiling.py`) and the CV study script, on small synthetic tables shaped like the four
One Click files (the real data in ../shared is never needed here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml import one_click
from ml import one_click_ceiling as ceiling
from ml import one_click_study as study

REPO = Path(__file__).resolve().parents[2]
CATEGORIES = ["Товары для детей", "Домашний текстиль", "Косметика и аксесуары", "Кухонная посуда",
              "Мелкая бытовая техника и электроника", "Техника для красоты и здоровья"]


def raw_frames(customers: int = 120, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The four source tables as read, with the real files' dirt: tier and category typos, the period typo,
    one customer with zero revenue in an earlier month, one revenue outlier. Decline depends on pages and
    minutes, as in the real data."""
    rng = np.random.default_rng(seed)
    ids = np.arange(215348, 215348 + customers)
    pages = rng.integers(1, 20, customers)
    minutes_now, minutes_prev = rng.integers(4, 23, customers), rng.integers(5, 23, customers)
    logit = 2.0 - 0.25 * pages - 0.08 * (minutes_now + minutes_prev) + 3.0 + rng.normal(0, 0.5, customers)
    declined = rng.random(customers) < 1 / (1 + np.exp(-logit))
    tiers = np.where(rng.random(customers) < 0.3, "премиум", "стандарт").astype(object)
    tiers[:3] = "стандартт"
    file = pd.DataFrame({
        "id": ids,
        "Покупательская активность": np.where(declined, "Снизилась", "Прежний уровень"),
        "Тип сервиса": tiers,
        "Разрешить сообщать": rng.choice(["да", "нет"], customers),
        "Маркет_актив_6_мес": rng.uniform(1, 6, customers).round(1),
        "Маркет_актив_тек_мес": rng.integers(3, 6, customers),
        "Длительность": rng.integers(100, 1100, customers),
        "Акционные_покупки": rng.uniform(0, 1, customers).round(2),
        "Популярная_категория": rng.choice(CATEGORIES, customers),
        "Средний_просмотр_категорий_за_визит": rng.integers(1, 7, customers),
        "Неоплаченные_продукты_штук_квартал": rng.integers(0, 11, customers),
        "Ошибка_сервиса": rng.integers(0, 10, customers),
        "Страниц_за_визит": pages,
    })
    money_rows = []
    for i, customer in enumerate(ids):
        for period in ("препредыдущий_месяц", "предыдущий_месяц", "текущий_месяц"):
            revenue = round(float(rng.uniform(3000, 7000)), 1)
            if i == 5 and period == "препредыдущий_месяц":
                revenue = 0.0  # not active in every month: dropped
            if i == 7 and period == "текущий_месяц":
                revenue = 106862.2  # the outlier: dropped
            money_rows.append((customer, period, revenue))
    money = pd.DataFrame(money_rows, columns=["id", "Период", "Выручка"])
    time_rows = [(c, "текущий_месяц", int(m)) for c, m in zip(ids, minutes_now)]
    time_rows += [(c, "предыдцщий_месяц", int(m)) for c, m in zip(ids, minutes_prev)]  # the source's typo
    time = pd.DataFrame(time_rows, columns=["id", "Период", "минут"])
    profit = pd.DataFrame({"id": ids, "Прибыль": rng.uniform(1, 7, customers).round(2)})
    return {"file": file, "money": money, "time": time, "profit": profit}


def write_raw(frames: dict[str, pd.DataFrame], folder: Path) -> Path:
    """Write the frames the way the source files are written (money.csv: `;` and decimal comma)."""
    frames["file"].to_csv(folder / "market_file.csv", index=False)
    frames["money"].to_csv(folder / "market_money.csv", index=False)
    frames["time"].sample(frac=1.0, random_state=0).to_csv(folder / "market_time.csv", index=False)
    frames["profit"].to_csv(folder / "money.csv", index=False, sep=";", decimal=",")
    return folder


def test_onc001_read_clean_join(tmp_path):
    """The files are read (decimal comma), typos fixed, periods pivoted by id, the dirty customers dropped."""
    frames = raw_frames()
    raw = one_click.read_raw(write_raw(frames, tmp_path))
    assert raw["profit"]["Прибыль"].dtype == float
    np.testing.assert_allclose(raw["profit"]["Прибыль"], frames["profit"]["Прибыль"])
    full = one_click.clean_table(raw, drop_dirty=False)
    assert len(full) == 120
    assert set(full["service_tier"]) == {"премиум", "стандарт"}
    assert "Косметика и аксессуары" in set(full["favourite_category"])
    assert "Косметика и аксесуары" not in set(full["favourite_category"])
    row = full.set_index("customer_id").loc[215350]
    minutes = frames["time"].query("id == 215350").set_index("Период")["минут"]
    assert (row["minutes_m1"], row["minutes_m2"]) == (minutes["текущий_месяц"], minutes["предыдцщий_месяц"])
    assert full[one_click.LABEL].sum() == (frames["file"]["Покупательская активность"] == "Снизилась").sum()
    clean = one_click.clean_table(raw)
    assert len(clean) == 118 and not {215348 + 5, 215348 + 7} & set(clean["customer_id"])


def test_onc002_bad_inputs_are_refused(tmp_path):
    frames = raw_frames(customers=20)
    with pytest.raises(FileNotFoundError, match="money.csv"):
        one_click.read_raw(tmp_path)
    frames["time"].loc[0, "Период"] = "позапрошлый_месяц"
    with pytest.raises(ValueError, match="unknown periods"):
        one_click.clean_table(frames)


def test_onc003_features_are_row_wise():
    """Every feature of a customer comes from that customer's row: a subset gives the same values."""
    table = one_click.clean_table(raw_frames())
    whole = one_click.add_features(table)
    part = one_click.add_features(table.iloc[10:30])
    columns = sorted({c for numeric, _ in one_click.FEATURE_SETS.values() for c in numeric})
    pd.testing.assert_frame_equal(whole.iloc[10:30][columns], part[columns])
    numeric, categorical = one_click.FEATURE_SETS[one_click.DEFAULT_FEATURE_SET]
    assert (numeric, categorical) == (one_click.MODEL_NUMERIC, one_click.MODEL_CATEGORICAL)
    assert np.isfinite(whole[numeric].to_numpy(dtype=float)).all()
    np.testing.assert_allclose(whole["log_revenue_m1"], np.log1p(whole["revenue_m1"]))
    for name in ("core_rev_min", "core_rev_flags"):  # round-2 candidate sets: core_rev plus row-wise columns
        extra = [c for c in one_click.FEATURE_SETS[name][0] if c not in numeric]
        assert len(extra) == 2 and np.isfinite(whole[extra].to_numpy(dtype=float)).all()
    np.testing.assert_allclose(whole["minutes_total"], whole["minutes_m1"] + whole["minutes_m2"])


def test_onc010_soft_voting_family_fits_scores_and_is_deterministic():
    """The opt-in ensemble family is searched like the others, scores in [0, 1], same result for a seed."""
    from ml.explain import ShapExplainer
    from ml.selection import ALL_FAMILIES, FAMILIES, make_pipeline, search_space, select_model
    from tests.ml.test_churn_model import generic_table

    assert "soft_voting" in ALL_FAMILIES and "soft_voting" not in FAMILIES  # churn default unchanged
    assert "model__svc__estimator__C" in search_space("soft_voting")
    assert make_pipeline("soft_voting", ["x1"], [], seed=0).named_steps["model"].voting == "soft"
    X, y = generic_table(rows=160, seed=3)
    numeric = ["x1", "x2", "noise"]
    first = select_model(X, y, numeric, ["colour"], seed=4, n_iter=2, cv=3, families=("soft_voting",))
    second = select_model(X, y, numeric, ["colour"], seed=4, n_iter=2, cv=3, families=("soft_voting",))
    assert first.best_family == "soft_voting" and len(first.cv_table) == 2
    assert first.best_cv_roc_auc > 0.75
    assert {"scaler", "lr__C", "svc__estimator__C", "svc__estimator__gamma"} <= set(json.loads(first.cv_table["params"].iloc[0]))
    scores = first.risk_scores(X.head(30))
    assert ((scores >= 0) & (scores <= 1)).all()
    np.testing.assert_array_equal(scores, second.risk_scores(X.head(30)))
    explainer = ShapExplainer(first.best_pipeline, numeric, ["colour"], X, seed=0)
    values = explainer.shap_values(X.head(8))
    assert explainer.method == "permutation" and np.isfinite(values.to_numpy()).all()


def test_onc011_extra_trees_family_fits_and_is_explained_by_tree_shap():
    from ml.explain import ShapExplainer
    from ml.selection import ALL_FAMILIES, FAMILIES, select_model
    from tests.ml.test_churn_model import generic_table

    assert "extra_trees" in ALL_FAMILIES and "extra_trees" not in FAMILIES
    X, y = generic_table(rows=160, seed=5)
    numeric = ["x1", "x2", "noise"]
    first = select_model(X, y, numeric, ["colour"], seed=1, n_iter=2, cv=3, families=("extra_trees",))
    second = select_model(X, y, numeric, ["colour"], seed=1, n_iter=2, cv=3, families=("extra_trees",))
    assert first.best_family == "extra_trees" and first.best_cv_roc_auc > 0.75
    assert {"min_samples_leaf", "max_features"} <= set(first.best_params)
    np.testing.assert_array_equal(first.risk_scores(X.head(30)), second.risk_scores(X.head(30)))
    explainer = ShapExplainer(first.best_pipeline, numeric, ["colour"], X, seed=0)
    values = explainer.shap_values(X.head(8))
    assert explainer.method == "tree" and np.isfinite(values.to_numpy()).all()


def test_onc012_repeated_cv_search():
    """cv_repeats=2 scores the same candidates on twice the folds; 1 is the plain StratifiedKFold; 0 is refused."""
    from ml.selection import select_model
    from tests.ml.test_churn_model import generic_table

    X, y = generic_table(rows=150, seed=6)
    args = dict(numeric=["x1", "x2", "noise"], categorical=["colour"], seed=2, n_iter=2, cv=3,
                families=("logistic_regression",))
    once = select_model(X, y, **args)
    twice = select_model(X, y, **args, cv_repeats=2)
    again = select_model(X, y, **args, cv_repeats=2)
    assert list(once.cv_table["params"]) == list(twice.cv_table["params"])
    assert not np.allclose(once.cv_table["mean_cv_roc_auc"], twice.cv_table["mean_cv_roc_auc"])
    pd.testing.assert_frame_equal(twice.cv_table.drop(columns="mean_fit_seconds"),
                                  again.cv_table.drop(columns="mean_fit_seconds"))
    with pytest.raises(ValueError, match="cv_repeats"):
        select_model(X, y, **args, cv_repeats=0)


def test_onc020_benchmark_split_on_a_synthetic_one_click_table():
    """The benchmark's split runner: selection on the 75 % training part, one test ROC-AUC in [0, 1]."""
    table = one_click.add_features(one_click.clean_table(raw_frames(customers=160, seed=1)))
    row = study.run_split(table, seed=0, n_iter=1, n_jobs=1, families=("logistic_regression", "extra_trees"))
    assert row["family"] in ("logistic_regression", "extra_trees")
    assert (row["train_rows"], row["test_rows"]) == (118, 40)
    assert 0.0 <= row["test_auc"] <= 1.0 and 0.5 < row["cv_auc"] <= 1.0


def test_onc021_cv_study_uses_training_parts_and_the_scaler_override(tmp_path):
    """The CV study script: its printed mean is the repeated 5-fold CV of the training part alone (recomputed
    here), and a `qtn_` model runs behind a normal-output quantile transform instead of the standard scaler."""
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import QuantileTransformer

    from ml.selection import make_preprocessor

    folder = write_raw(raw_frames(customers=160, seed=2), tmp_path)
    script = subprocess.run([sys.executable, str(REPO / "bench" / "one_click_cv_study.py"), "--data", str(folder),
                             "--seeds", "3", "--repeats", "1", "--sets", "core_rev", "--models", "lr_C1,qtn_lr_C1"],
                            cwd=REPO, capture_output=True, text=True)
    assert script.returncode == 0, script.stderr
    lines = {line.split()[1]: line for line in script.stdout.splitlines()}
    assert set(lines) == {"lr_C1", "qtn_lr_C1"}

    override = study.scaler_override("qtn_lr_C1")
    assert isinstance(override, QuantileTransformer) and override.output_distribution == "normal"
    assert study.scaler_override("qt_et_leaf2").output_distribution == "uniform"
    assert study.scaler_override("lr_C1") is None

    table = one_click.load_one_click(folder)
    y = table[one_click.LABEL].to_numpy()
    train, _ = train_test_split(np.arange(len(table)), test_size=0.25, stratify=y, random_state=3)
    numeric, categorical = one_click.FEATURE_SETS["core_rev"]
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=1, random_state=3)
    for name, scale in (("lr_C1", None), ("qtn_lr_C1", override)):
        pipe = Pipeline([("prep", make_preprocessor(numeric, categorical)), ("model", study.fixed_models(3)[name])])
        if scale is not None:
            pipe.set_params(prep__num__scale=scale)
        expected = cross_val_score(pipe, table.iloc[train][numeric + categorical], y[train], cv=cv,
                                   scoring="roc_auc").mean()
        assert f"mean {expected:.6f}" in lines[name]
    assert lines["lr_C1"].split("mean ")[1][:6] != lines["qtn_lr_C1"].split("mean ")[1][:6]


def test_onc022_monotone_constraint_of_the_cv_study_holds():
    """The study's MonotoneConstrained: with pages per visit constrained to -1, the predicted probability of
    decline never rises as pages per visit grows (other columns fixed), and the one-hot columns stay free."""
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.pipeline import Pipeline

    from ml.selection import make_preprocessor

    numeric, categorical = one_click.FEATURE_SETS["core_rev"]
    directions = study.monotone_directions()
    assert len(directions) == len(numeric) and directions[numeric.index("pages_per_visit")] == -1
    assert directions[numeric.index("log_revenue_m1")] == 0
    assert study.monotone_directions(free=("service_errors",))[numeric.index("service_errors")] == 0

    table = one_click.add_features(one_click.clean_table(raw_frames(customers=200, seed=4)))
    model = study.MonotoneConstrained(ExtraTreesClassifier(n_estimators=50, min_samples_leaf=2, random_state=0),
                                      directions)
    pipe = Pipeline([("prep", make_preprocessor(numeric, categorical)), ("model", model)])
    pipe.fit(table[numeric + categorical], table[one_click.LABEL])
    fitted = pipe.named_steps["model"].estimator_.monotonic_cst
    assert list(fitted[:len(numeric)]) == directions and set(fitted[len(numeric):]) == {0}
    grid = pd.concat([table.iloc[[0]]] * 25, ignore_index=True)
    grid["pages_per_visit"] = np.arange(25)
    probabilities = pipe.predict_proba(grid[numeric + categorical])[:, 1]
    assert np.all(np.diff(probabilities) <= 1e-12) and probabilities[0] > probabilities[-1]


def test_onc023_oblique_columns_of_the_cv_study_are_fitted_on_training_rows_only():
    """Round 5's helpers: AppendOblique('pca') appends the principal components of the numeric block only;
    AppendOblique('lr_logit') gives the training rows their out-of-fold logistic score (not the full fit's) and new
    rows the full fit's; RotationBag fits its members on rotated copies and is deterministic for a seed."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    rng = np.random.default_rng(3)
    X = rng.standard_normal((120, 6))
    X[:, 5] = rng.integers(0, 2, 120)  # a one-hot-like column after the 5 numeric ones
    y = (X[:, 0] + X[:, 1] + 0.5 * rng.standard_normal(120) > 0).astype(int)
    X_new = rng.standard_normal((7, 6))

    pca = study.AppendOblique("pca", 5, seed=0)
    out = pca.fit_transform(X, y)
    expected = PCA(random_state=0).fit(X[:, :5])
    assert out.shape == (120, 11) and np.array_equal(out[:, :6], X)
    np.testing.assert_allclose(out[:, 6:], expected.transform(X[:, :5]), atol=1e-12)
    np.testing.assert_allclose(pca.transform(X_new)[:, 6:], expected.transform(X_new[:, :5]), atol=1e-12)

    logit = study.AppendOblique("lr_logit", 5, seed=1)
    train_column = logit.fit_transform(X, y)[:, -1]
    oof = cross_val_predict(LogisticRegression(C=1.0, max_iter=2000), X, y, method="decision_function",
                            cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=1))
    full = LogisticRegression(C=1.0, max_iter=2000).fit(X, y)
    np.testing.assert_allclose(train_column, oof, atol=1e-9)
    assert np.abs(train_column - full.decision_function(X)).max() > 1e-3  # not the in-sample score
    np.testing.assert_allclose(logit.transform(X_new)[:, -1], full.decision_function(X_new), atol=1e-9)

    bag = study.RotationBag(ExtraTreesClassifier(n_estimators=40, min_samples_leaf=2), 5, n_rotations=4, seed=2)
    first = bag.fit(X, y).predict_proba(X_new)
    assert len(bag.members_) == 4 and all(m.n_estimators == 10 for _, m in bag.members_)
    for rotation, _ in bag.members_:
        np.testing.assert_allclose(rotation.T @ rotation, np.eye(5), atol=1e-12)  # orthogonal
    assert not np.allclose(bag.members_[0][0], bag.members_[1][0])
    again = study.RotationBag(ExtraTreesClassifier(n_estimators=40, min_samples_leaf=2), 5, n_rotations=4,
                              seed=2).fit(X, y).predict_proba(X_new)
    assert np.array_equal(first, again) and np.allclose(first.sum(axis=1), 1.0)


def test_onc024_round7_feature_sets_and_category_encoders_of_the_cv_study(tmp_path):
    """Round 7's helpers: `<set>_minus_<column>` is the set without that numeric column (unknown names and
    non-numeric columns are refused with the rule); `et_te` puts the category through a cross-fitted target mean
    (one column; a training row's value is not its category's in-sample mean) and `et_ord` through codes;
    `et_f2` draws two columns per split."""
    from sklearn.preprocessing import OrdinalEncoder, TargetEncoder

    numeric, categorical = one_click.FEATURE_SETS["core_rev"]
    lean, lean_cat = study.feature_set("core_rev_minus_marketing_6m")
    assert lean == [c for c in numeric if c != "marketing_6m"] and len(lean) == len(numeric) - 1
    assert lean_cat == categorical == ["favourite_category"]
    assert study.feature_set("core_rev") == (list(numeric), list(categorical))
    for bad in ("core_rev_minus_favourite_category", "core_rev_minus_nope", "nope_minus_marketing_6m", "nope"):
        with pytest.raises(ValueError, match="unknown feature set"):
            study.feature_set(bad)

    table = one_click.load_one_click(write_raw(raw_frames(customers=160, seed=4), tmp_path))
    X, y = table[numeric + categorical], table[one_click.LABEL].to_numpy()
    te = study.build_pipeline("et_te", list(numeric), list(categorical), seed=5)
    assert isinstance(te.get_params()["prep__cat__onehot"], TargetEncoder)
    encoded = te.named_steps["prep"].fit_transform(X, y)
    assert encoded.shape == (len(X), len(numeric) + 1)
    in_sample = pd.Series(y).groupby(X["favourite_category"].to_numpy()).mean()
    assert not np.allclose(encoded[:, -1], X["favourite_category"].map(in_sample).to_numpy())  # cross-fitted
    fitted = te.fit(X, y)
    new_rows = fitted.named_steps["prep"].transform(X)[:, -1]
    assert set(np.round(new_rows, 12)) == set(np.round(fitted.named_steps["prep"].named_transformers_["cat"]
                                                       .named_steps["onehot"].encodings_[0], 12))
    ordinal = study.build_pipeline("et_ord", list(numeric), list(categorical), seed=5).named_steps["prep"]
    assert isinstance(ordinal.get_params()["cat__onehot"], OrdinalEncoder)
    codes = ordinal.fit_transform(X, y)[:, -1]
    assert sorted(set(codes)) == list(range(X["favourite_category"].nunique()))
    assert study.build_pipeline("et_f2", list(numeric), list(categorical), 5).named_steps["model"].max_features == 2
    onehot = study.build_pipeline("et_leaf2", list(numeric), list(categorical), 5).named_steps["prep"]
    assert onehot.fit_transform(X, y).shape[1] == len(numeric) + X["favourite_category"].nunique()


def planted_mixture_table(seed: int = 0) -> pd.DataFrame:
    """A One Click-shaped table made like the real file: a block of declined customers with a declining profile
    (few pages and minutes), then a mixed block, then a block of kept customers. In the mixed block 12 declined
    customers have a declining profile and 10 are drawn exactly like the kept ones (the hidden part)."""
    rng = np.random.default_rng(seed)
    numeric, _ = one_click.FEATURE_SETS["core_rev"]
    blocks = [("declining", 1, 60), ("declining", 1, 12), ("kept", 1, 10), ("kept", 0, 28), ("kept", 0, 90)]
    rows = []
    for profile, label, count in blocks:
        for _ in range(count):
            row = {c: rng.normal(0.0, 1.0) for c in numeric}
            if profile == "declining":
                row.update(pages_per_visit=rng.integers(1, 6), minutes_m1=rng.integers(4, 10),
                           minutes_m2=rng.integers(4, 10))
            else:
                row.update(pages_per_visit=rng.integers(10, 20), minutes_m1=rng.integers(14, 23),
                           minutes_m2=rng.integers(14, 23))
            row.update(favourite_category=rng.choice(CATEGORIES), declined=label)
            rows.append(row)
    table = pd.DataFrame(rows)
    mixed = slice(60, 110)
    table.iloc[mixed] = table.iloc[mixed].sample(frac=1.0, random_state=seed).to_numpy()  # interleave the mixed block
    table["customer_id"] = np.arange(215348, 215348 + len(table))
    table["declined"] = table["declined"].astype(int)
    for c in numeric:
        table[c] = table[c].astype(float)
    return table.sample(frac=1.0, random_state=seed + 1).reset_index(drop=True)  # file order is not row order


def test_onc025_ceiling_blocks_parts_and_bound():
    """The ceiling script's pieces: the pure blocks are the runs of one label at both ends of the id order (rows in
    any order); the two parts of ROC-AUC recombine to the overall value exactly; the mixture bound."""
    from sklearn.metrics import roc_auc_score

    ids = np.array([7, 1, 5, 2, 8, 3, 6, 4])
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 0])  # by id: 1 1 1 0 0 0 0 0
    positive, negative = ceiling.pure_blocks(ids, labels)
    assert sorted(ids[positive]) == [1, 2, 3] and sorted(ids[negative]) == [4, 5, 6, 7, 8]
    labels = np.array([1, 1, 1, 1, 0, 1, 0, 0])  # by id: 1 1 1 0 1 0 1 0 -> mixed 4..7
    positive, negative = ceiling.pure_blocks(ids, labels)
    assert sorted(ids[positive]) == [1, 2, 3] and sorted(ids[negative]) == [8]
    positive, negative = ceiling.pure_blocks(ids, np.zeros(8, int))
    assert not positive.any() and negative.all()

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    scores = y * 0.8 + rng.random(400)
    hidden = (y == 1) & (rng.random(400) < 0.3)
    visible_auc, hidden_auc, q = ceiling.auc_parts(y, scores, hidden)
    assert q == pytest.approx(hidden.sum() / y.sum())
    assert (1 - q) * visible_auc + q * hidden_auc == pytest.approx(roc_auc_score(y, scores), abs=1e-12)
    assert visible_auc > hidden_auc > 0.0

    # The id orders the labels in the real file (a leak): no feature set may use it.
    assert all(ceiling.ID not in numeric + categorical for numeric, categorical in one_click.FEATURE_SETS.values())
    assert ceiling.mixture_auc_bound(0.2, 0.5) == pytest.approx(0.9)
    assert ceiling.mixture_auc_bound(0.0, 0.5) == 1.0
    with pytest.raises(ValueError):
        ceiling.mixture_auc_bound(1.2, 0.5)


def test_onc026_ceiling_report_finds_the_planted_hidden_decliners():
    """On a table built like the real file, the report finds the blocks, counts exactly the 10 declined customers
    drawn like kept ones (12 others are on the declining side), and bounds ROC-AUC by (1 - q) + q * A; the split
    diagnostic's test ROC-AUC recombines from its two parts."""
    table = planted_mixture_table()
    report = ceiling.ceiling_report(table, "core_rev", seed=0, repeats=1, shares=(0.5, 1.0))
    assert report["id_auc"] < 0.15  # ids order the labels: the leak the script warns about
    assert report["positive_block"] >= 60 and report["negative_block"] >= 90
    assert report["hidden_positives"] == 10 and report["hidden_share"] == pytest.approx(10 / 82)
    assert report["mixed_negatives_on_declining_side"] == 0
    assert report["profile_oof_auc"] > 0.99
    best = max(report["residual_auc"].values())
    assert 0.2 < best < 0.85  # drawn like the kept customers: no reliable signal
    assert report["bound"] == pytest.approx(1 - 10 / 82 + 10 / 82 * best)
    assert report["bound_no_signal"] == pytest.approx(1 - 10 / 82 / 2)
    assert set(report["learning_curve"]) == {0.5, 1.0}
    assert report["learning_curve"][1.0] < report["bound_perfect_visible"] + 1e-12

    splits = ceiling.split_diagnostic(table, report["hidden"], [0, 1], "core_rev")
    assert list(splits["seed"]) == [0, 1]
    recombined = (1 - splits["hidden_share"]) * splits["visible_auc"] + splits["hidden_share"] * splits["hidden_auc"]
    np.testing.assert_allclose(recombined, splits["test_auc"], atol=1e-12)
    assert (splits["hidden"] > 0).all()
