"""The acquisition-cost (CAC) model (ml/cac_features.py, ml/cac_model.py): features read nothing after the origin,
the CV folds are ordered in time, training is deterministic for a seed, the artifact survives a save and a load, and
on the demo the chosen model beats the naive baseline on the 28-day holdout."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import db
from metrics.derived import store_derived_tables
from ml import cac_features as cf
from ml.cac_model import (FAMILIES, GRIDS, LEARNING_FRACTIONS, DateFolds, cac_latest_file, comparison_rows,
                          load_cac, predict_cac, read_cac_card, save_cac, train_cac_model)
from ml.registry import REGISTRY

ORIGIN = dt.date(2026, 10, 3)  # the shared demo runs 2026-05-01 .. 2026-10-31


@pytest.fixture(scope="module")
def trained(demo_duckdb_url):
    """The CAC model trained on the shared demo (3,000 users, seed 5) up to its last date, seed 0."""
    engine = db.make_engine(demo_duckdb_url, read_only=True)
    try:
        with engine.connect() as conn:
            return train_cac_model(conn, seed=0)
    finally:
        engine.dispose()


def _read_data(url: str, origin: dt.date | None) -> cf.CacData:
    """Return the CacData of the database at `url` up to `origin`."""
    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return cf.build_cac_data(conn, origin)
    finally:
        engine.dispose()


def _rewrite_after(url: str, origin: dt.date) -> None:
    """Change every kind of event dated after `origin` (move, delete, add, rescale), then rebuild the derived
    tables under a new data version, as an import would; return nothing."""
    after = dt.datetime.combine(origin + dt.timedelta(days=1), dt.time())
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            v, o, c = db.visits, db.orders, db.costs
            conn.execute(sa.text("INSERT INTO visits SELECT user_id, region, device, channel, "
                                 "session_start + INTERVAL 35 DAY, session_end + INTERVAL 35 DAY FROM visits "
                                 "WHERE session_start >= :low AND session_start < :high"),
                         {"low": after - dt.timedelta(days=30), "high": after})
            conn.execute(sa.text("INSERT INTO orders SELECT user_id, event_dt + INTERVAL 35 DAY, revenue * 3 "
                                 "FROM orders WHERE event_dt >= :low AND event_dt < :high"),
                         {"low": after - dt.timedelta(days=30), "high": after})
            conn.execute(v.update().where(v.c.session_start >= after)
                         .values(channel="TipTop", region="United States", device="Mac"))
            conn.execute(v.delete().where(v.c.session_start >= after, v.c.user_id.like("%1")))
            conn.execute(o.update().where(o.c.event_dt >= after).values(revenue=o.c.revenue * 10))
            conn.execute(c.update().where(c.c.dt > origin).values(costs=c.c.costs * 5))
            conn.execute(c.insert().values(dt=origin + dt.timedelta(days=2), channel="LeapBob", costs=999.0))
            db.bump_data_version(conn)
            store_derived_tables(conn)
    finally:
        engine.dispose()


def test_cac001_features_ignore_every_event_after_the_origin(shared_demo, demo_duckdb_url, tmp_path):
    """Changing the visits, orders and costs after the origin leaves the rows, the features and the state for later
    dates unchanged; the same change does show in features read with a later origin (the test can fail)."""
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    try:
        _rewrite_after(url, ORIGIN)
        before, changed = _read_data(demo_duckdb_url, ORIGIN), _read_data(url, ORIGIN)
        assert len(before.rows) > 500 and before.rows["dt"].max() == pd.Timestamp(ORIGIN)
        pd.testing.assert_frame_equal(before.rows, changed.rows)
        pd.testing.assert_frame_equal(before.state, changed.state)
        pd.testing.assert_frame_equal(before.channel_state, changed.channel_state)
        later = ORIGIN + dt.timedelta(days=10)
        rows_before, rows_changed = _read_data(demo_duckdb_url, later).rows, _read_data(url, later).rows
        assert len(rows_before) != len(rows_changed) or not rows_before.equals(rows_changed)
    finally:
        cleanup()


def test_cac002_rows_and_features_are_what_the_brief_says(trained, demo_duckdb_url):
    """One row per (date, paid channel, region, device); CAC = attributed spend / new users; the channel's 7-day CAC
    of a row equals the spend / new users of its channel over the 7 days before, recomputed from the rows."""
    data = _read_data(demo_duckdb_url, ORIGIN)
    rows = data.rows
    assert not rows.duplicated(["dt", *cf.GROUP_KEYS]).any() and "organic" not in set(rows["channel"])
    assert np.allclose(rows["cac"], rows["attributed_spend"] / rows["new_users"]) and (rows["cac"] > 0).all()
    assert set(cf.FEATURES) <= set(rows.columns) and rows["weekday"].isin(cf.WEEKDAYS).all()
    share = rows["high_value_share"].dropna()
    assert len(share) > 0.5 * len(rows) and share.between(0, 1).all() and share.max() > 0
    row = rows[rows["channel"] == "FaceBoom"].iloc[-1]
    week = rows[(rows["channel"] == "FaceBoom") & (rows["dt"] < row["dt"])
                & (rows["dt"] >= row["dt"] - pd.Timedelta(days=7))]
    assert row["channel_cac_7"] == pytest.approx(week["attributed_spend"].sum() / week["new_users"].sum())
    assert row["days_since_start"] == (row["dt"] - pd.Timestamp(data.first_date)).days


def test_cac003_cv_folds_never_train_on_or_after_a_scored_date(trained, demo_duckdb_url):
    """Per fold, every training date is before the earliest scored date; scored blocks follow each other."""
    rows = _read_data(demo_duckdb_url, ORIGIN).rows
    folds = list(DateFolds(4).split(rows))
    assert len(folds) == 4
    previous_last = None
    for train, test in folds:
        train_dates, test_dates = rows["dt"].iloc[train], rows["dt"].iloc[test]
        assert len(train) and len(test) and train_dates.max() < test_dates.min()
        assert previous_last is None or test_dates.min() > previous_last
        previous_last = test_dates.max()
    for fold in trained.card["selection"]["folds"]:
        assert fold["train_last"] < fold["test_first"] <= fold["test_last"]
    assert trained.card["selection"]["folds"][-1]["test_last"] < trained.card["holdout"]["first"]
    with pytest.raises(ValueError, match="time-ordered folds"):
        list(DateFolds(4).split(rows[rows["dt"] <= rows["dt"].min() + pd.Timedelta(days=2)]))


def test_cac004_the_chosen_model_beats_the_naive_baseline_on_the_holdout(trained, capsys):
    """On the demo the chosen model's holdout MAE is below the naive baseline's; the card holds the comparison."""
    card = trained.card
    model, naive = card["holdout_metrics"]["model"], card["holdout_metrics"]["naive_baseline"]
    with capsys.disabled():
        print(f"\nCAC holdout ({card['holdout']['first']} .. {card['holdout']['last']}, {card['rows']['holdout']} rows):"
              f" {card['chosen_model']['family']} MAE {model['mae']:.4f} R2 {model['r2']:.3f} MAPE {model['mape']:.3f};"
              f" naive baseline MAE {naive['mae']:.4f} R2 {naive['r2']:.3f} MAPE {naive['mape']:.3f}")
    assert model["mae"] < naive["mae"]
    table = comparison_rows(card)
    assert [r["family"] for r in table] == [*FAMILIES, "naive_baseline"]
    assert set(table[0]) == {"family", "cv_r2", "cv_mae", "holdout_r2", "holdout_mae", "holdout_mape", "chosen"}
    chosen = [r for r in table if r["chosen"]]
    assert len(chosen) == 1 and chosen[0]["family"] == card["chosen_model"]["family"]
    assert chosen[0]["cv_mae"] == min(r["cv_mae"] for r in table[:-1])
    assert chosen[0]["holdout_mae"] == pytest.approx(model["mae"])
    for family in FAMILIES:
        curve = card["validation_curves"][family]
        assert curve["values"] == GRIDS[family][1] and len(curve["cv_r2"]) == len(GRIDS[family][1])
    learning = card["learning_curve"]["rows"]
    assert [r["fraction"] for r in learning] == list(LEARNING_FRACTIONS)
    assert all(a["train_rows"] < b["train_rows"] for a, b in zip(learning, learning[1:]))
    assert len(card["cv_table"]) == sum(len(GRIDS[f][1]) for f in FAMILIES)
    assert card["data_version"] and card["library_versions"]["scikit-learn"]


def test_cac005_training_is_deterministic_for_a_seed(demo_duckdb_url):
    """The seeded families give the same card numbers and predictions for a seed, other numbers for another seed."""
    engine = db.make_engine(demo_duckdb_url, read_only=True)
    families = ("random_forest", "hist_gradient_boosting")
    try:
        with engine.connect() as conn:
            runs = [train_cac_model(conn, origin=ORIGIN, seed=seed, cv=3, families=families) for seed in (7, 7, 8)]
    finally:
        engine.dispose()
    first, again, other = runs
    scores = lambda card: [{k: v for k, v in row.items() if k != "fit_seconds"} for row in card["cv_table"]]  # noqa: E731
    assert scores(first.card) == scores(again.card)
    for key in ("families", "holdout_metrics", "learning_curve", "chosen_model"):
        assert first.card[key] == again.card[key]
    request = [{"channel": "TipTop", "region": "United States", "device": "iPhone", "date": "2026-10-10",
                "daily_budget": 300.0}]
    assert predict_cac(first, request) == predict_cac(again, request)
    assert scores(first.card) != scores(other.card)


def test_cac006_the_artifact_round_trips_and_predicts(trained, tmp_path):
    """save -> latest file -> load -> card: the same model (same predictions); the registry's `cac` entry finds it,
    and the churn model's `latest` pointer is left alone."""
    models = tmp_path / "models"
    assert cac_latest_file(models) is None and read_cac_card(models) is None
    with pytest.raises(FileNotFoundError, match="forecast train"):
        load_cac(models)
    path = save_cac(trained, models)
    assert cac_latest_file(models) == path and path.name == f"cac-{trained.version}.joblib"
    assert not (models / "latest").exists()
    loaded = load_cac(models)
    assert read_cac_card(models) == json.loads(json.dumps(trained.card, default=str))
    requests = pd.DataFrame({"channel": ["TipTop", "TipTop", "LeapBob", "TipTop"],
                             "region": ["United States", "United States", "Germany", "Atlantis"],
                             "device": ["iPhone", "iPhone", "PC", "iPhone"],
                             "date": ["2026-11-02", "2026-11-02", "2026-11-02", "2026-11-03"],
                             "daily_budget": [500.0, 100.0, 20.0, 500.0]})
    predicted = predict_cac(loaded, requests)
    assert np.array_equal(predicted, predict_cac(trained, requests))
    assert np.isfinite(predicted).all() and (predicted > 0).all()
    assert predicted[0] > 5 * predicted[2]  # TipTop's users cost several times LeapBob's (planted in the demo)
    assert predict_cac(loaded, []).shape == (0,)
    spec = REGISTRY.get("cac")
    assert spec.demo_build and spec.latest_file(models) == path and spec.read_card(models)["version"] == trained.version
    assert type(spec.load(models)).__name__ == "CacArtifact" and "CAC model" in spec.describe(loaded)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_cac007_every_backend_gives_the_same_rows(backend, shared_demo, demo_duckdb_url):
    """The feature SQL runs on SQLite and PostgreSQL and gives DuckDB's rows and state (same demo data)."""
    expected, got = _read_data(demo_duckdb_url, ORIGIN), _read_data(shared_demo.url(backend), ORIGIN)
    pd.testing.assert_frame_equal(expected.rows, got.rows, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(expected.state, got.state, check_exact=False, rtol=1e-9)
    pd.testing.assert_frame_equal(expected.channel_state, got.channel_state, check_exact=False, rtol=1e-9)


def test_cac008_the_card_holds_the_holdout_residual_quantiles(trained, demo_duckdb_url):
    """holdout_residuals: the 2.5/10/90/97.5 % quantiles of log(actual / predicted CAC) of the chosen family refit on
    the days before the holdout, recomputed here from the rows; 80 % of the holdout rows lie between the 10th and
    90th, and the spread matches the holdout MAPE's size."""
    from ml.cac_model import RESIDUAL_QUANTILES, make_cac_pipeline, param_key

    card = trained.card
    residuals = card["holdout_residuals"]
    assert residuals["rows"] == card["rows"]["holdout"]
    quantiles = [residuals["quantiles"][str(q)] for q in RESIDUAL_QUANTILES]
    assert quantiles == sorted(quantiles) and quantiles[1] < 0 < quantiles[2]
    rows = _read_data(demo_duckdb_url, None).rows
    before = rows["dt"] < pd.Timestamp(card["holdout"]["first"])
    family, params = card["chosen_model"]["family"], card["chosen_model"]["params"]
    pipeline = make_cac_pipeline(family, trained.seed).set_params(**{param_key(family): params[GRIDS[family][0]]})
    pipeline.fit(rows.loc[before, cf.FEATURES], rows.loc[before, cf.TARGET])
    ratio = np.log(rows.loc[~before, cf.TARGET].to_numpy() / pipeline.predict(rows.loc[~before, cf.FEATURES]))
    assert quantiles == pytest.approx(list(np.quantile(ratio, RESIDUAL_QUANTILES)), rel=1e-6, abs=1e-9)
    assert residuals["median"] == pytest.approx(float(np.median(ratio)), rel=1e-6, abs=1e-9)
    inside = np.mean((ratio >= quantiles[1]) & (ratio <= quantiles[2]))
    assert 0.79 <= inside <= 0.81
    mape = card["holdout_metrics"]["model"]["mape"]
    assert 0.5 * mape < (quantiles[2] - quantiles[1]) / (2 * 1.2816) < 2 * mape  # a log-normal's sigma ~ MAPE
