"""The demo's churn model and clusters, built in the background after the first start (ml/demo_model.py)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dashboard import db, demo
from dashboard.bootstrap import ensure_demo_data
from dashboard.config import Config
from dashboard.context import AppContext
from ml import demo_model, scoring
from ml.segments import load_segment_model

REPO = Path(__file__).resolve().parents[2]
SMALL = dict(n_iter="1", cv="3")  # a small search: the production run uses the train command's defaults


@pytest.fixture
def embedded(tmp_path, monkeypatch):
    """The embedded database path (DUCKDB_PATH) in a temporary folder, and a model folder beside it."""
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "embedded.duckdb"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def fill(users: int, seed: int = 7) -> None:
    engine = db.make_engine(None)
    try:
        demo.write_demo(engine, users=users, seed=seed, replace=True)
    finally:
        engine.dispose()


def write_random_scores() -> None:
    """Write churn scores with random probabilities as of 2026-10-31 for the eligible customers of the embedded
    database (what a build's `score` step writes, without a model)."""
    import datetime as dt

    import numpy as np

    from ml.features import build_snapshot

    as_of = dt.date(2026, 10, 31)
    engine = db.make_engine(None)
    try:
        with engine.connect() as conn:
            snapshot = build_snapshot(conn, as_of, with_label=False)
        p = np.random.default_rng(0).uniform(size=len(snapshot))
        frame = pd.DataFrame({
            "user_id": snapshot.index.astype(str), "probability": p, "risk_band": scoring.risk_band(p),
            "reason_1": "visits down 60% in the last 30 days", "reason_2": None, "reason_3": None,
            "value_at_risk": p * snapshot["revenue_90"].to_numpy(dtype=float), "model_version": "test",
            "as_of": as_of, "scored_at": pd.Timestamp("2026-11-23 01:11:00")})
        scoring.write_scores(engine, frame[scoring.SCORE_COLUMNS], as_of)
    finally:
        engine.dispose()


def stored_scores() -> pd.DataFrame:
    with db.one_off_connection(None, read_only=True) as conn:
        return scoring.read_scores(conn)


def test_dmo001_first_start_marks_the_model_pending_only_when_asked(embedded):
    """The first-start fill records a pending model build when demo_model is on, and nothing when it is off."""
    assert ensure_demo_data(Config(demo_users=400, demo_seed=7, demo_model=True, model_dir=embedded / "m")) is True
    status = json.loads((embedded / "embedded.duckdb.demo-model.json").read_text())
    assert status["state"] == "pending" and status["requested"]
    config = Config(demo_model=True, model_dir=embedded / "m")
    assert demo_model.is_wanted(config)
    assert not demo_model.is_wanted(Config(demo_model=False, model_dir=embedded / "m"))  # DEMO_MODEL=0
    assert not demo_model.is_wanted(Config(database_url=f"duckdb:///{embedded / 'other.duckdb'}", demo_model=True))
    assert demo_model.start_background(Config(demo_model=False)) is None


def test_dmo002_no_pending_build_no_process(embedded):
    """A filled database without a pending build (data imported by hand, or DEMO_MODEL=0 at the first start)
    starts nothing."""
    assert ensure_demo_data(Config(demo_users=400, demo_seed=7, demo_model=False)) is True
    assert demo_model.read_status() is None
    assert demo_model.start_background(Config(demo_model=True, model_dir=embedded / "m")) is None


def test_dmo003_background_process_trains_scores_and_clusters(embedded):
    """The real path: `start_background` runs `python -m ml.demo_model` as a process, which trains the churn model,
    writes one score per eligible customer and saves the clustering, then records done; started again, it does
    nothing (no second model)."""
    fill(12_000)
    models = embedded / "models"
    config = Config(demo_model=True, model_dir=models, demo_seed=7)
    demo_model.mark_pending()
    process = demo_model.start_background(config, ("--n-iter", SMALL["n_iter"], "--cv", SMALL["cv"]))
    assert process is not None and process.wait(timeout=300) == 0
    status = demo_model.read_status()
    assert status["state"] == "done" and status["as_of"] == "2026-10-31"
    scores = stored_scores()
    assert len(scores) == status["scored"] > 100 and scores["user_id"].is_unique
    assert set(scores["model_version"]) == {status["model_version"]}
    assert load_segment_model(models) is not None
    artifacts = sorted(p.name for p in models.glob("churn-*.joblib"))
    assert artifacts == [f"churn-{status['model_version']}.joblib"]
    assert not demo_model.is_wanted(config) and demo_model.start_background(config) is None


def test_dmo004_second_process_leaves_the_build_to_the_first(embedded):
    """While another process holds the build lock, `run` returns at once and leaves the status pending."""
    fill(400)
    config = Config(demo_model=True, model_dir=embedded / "models")
    demo_model.mark_pending()
    lock = embedded / "embedded.duckdb.demo-model.lock"
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert demo_model.run(config, n_iter=1, cv=3) is None
    assert demo_model.read_status()["state"] == "pending"


def test_dmo005_a_failed_build_is_recorded_with_its_reason_and_not_retried(embedded, caplog):
    """Too little history to train on: the status says failed, at which step and why; the log names the manual
    commands; nothing was scored; the build is not wanted again."""
    fill(300)  # 300 users: too few regular customers for a 3-fold search
    config = Config(demo_model=True, model_dir=embedded / "models")
    demo_model.mark_pending()
    with caplog.at_level("ERROR", logger="ml.demo_model"):
        status = demo_model.run(config, n_iter=1, cv=3)
    assert status["state"] == "failed" and status["step"] == "train" and status["error"]
    assert demo_model.read_status() == status
    assert "python -m dashboard train && python -m dashboard score" in caplog.text
    with db.one_off_connection(None, read_only=True) as conn:
        assert scoring.churn_scores.name not in sa.inspect(conn).get_table_names()
    assert not demo_model.is_wanted(config)


def test_dmo006_risk_page_says_the_model_is_being_built(embedded):
    """The risk page's notice and cluster card follow the build: starting, under way (with its step; a process
    holds the lock), interrupted (running but no process holds the lock), failed (with the reason and the
    commands), none (the plain how-to)."""
    from callbacks import risk
    from layouts.filters import FilterState

    fill(400)
    config = Config(demo_model=True, model_dir=embedded / "models", autofill_demo=False)
    ctx = AppContext.from_config(config)
    day = pd.Timestamp("2026-10-31").date()
    stored = FilterState(pd.Timestamp("2026-05-01").date(), day, day).to_store()

    def notice_text():
        return str(risk.scores_status(ctx, stored).children)

    assert "/data#churn-scores" in notice_text() and "background" not in notice_text()  # the how-to is linked
    demo_model.write_status("pending", requested="2026-11-23T01:09:28+00:00")  # the process is starting
    assert "being built in the background" in notice_text() and "starting" in notice_text()
    demo_model.write_status("running", step="score", started="2026-11-23T01:09:30+00:00")
    lock = open(embedded / "embedded.duckdb.demo-model.lock", "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)
    text = notice_text()
    assert "being built in the background" in text and "scoring the customers" in text and "01:09:30" in text
    assert "being computed in the background" in str(risk.clusters_body(ctx).children)
    lock.close()
    demo_model.write_status("running", step="train", started="2026-11-23T01:09:30+00:00")
    with open(embedded / "embedded.duckdb.demo-model.lock", "a+") as handle:  # the build's process holds it
        fcntl.flock(handle, fcntl.LOCK_EX)
        assert "being built in the background" in notice_text() and demo_model.build_in_progress()
    assert not demo_model.build_in_progress()  # the process is gone: the build was cut off
    text = notice_text()
    assert "interrupted" in text and "at step train" in text and "resumes when the app is started" in text
    assert demo_model.is_wanted(config)  # and the next start resumes it
    demo_model.write_status("failed", step="train", error="BadInput: too few customers")
    text = notice_text()
    assert "failed" in text and "BadInput: too few customers" in text and "/data#churn-scores" in text
    assert "No clustering yet" in str(risk.clusters_body(ctx).children)
    other = AppContext.from_config(Config(database_url=f"duckdb:///{embedded / 'embedded.duckdb'}",
                                          model_dir=embedded / "models", autofill_demo=False))
    assert "background" not in str(risk.scores_status(other, stored).children)  # only the embedded database


@pytest.mark.browser
def test_dmo007_risk_page_reloads_itself_when_the_build_ends(dash_duo, embedded):
    """In Chromium: while the build runs (status running, lock held) the Risk page shows the notice and polls;
    once scores are written and the build is done, the page reloads itself and draws the scores."""
    import datetime as dt

    from app import create_app

    fill(4000, seed=3)
    demo_model.write_status("running", step="score", started="2026-11-23T01:09:30+00:00")
    lock = open(embedded / "embedded.duckdb.demo-model.lock", "a+")
    fcntl.flock(lock, fcntl.LOCK_EX)  # as the build's process holds it
    try:
        app = create_app(Config(model_dir=embedded / "models", autofill_demo=False))  # demo_model off: no process
        dash_duo.start_server(app)
        dash_duo.wait_for_page(url=dash_duo.server_url + "/risk", timeout=20)
        dash_duo.wait_for_contains_text("#risk-demo-model", "being built in the background", timeout=30)
        dash_duo.driver.execute_script("window.beforeReload = true;")  # gone after a reload
        # the scores come from another process, as from the build's (DuckDB: one configuration per process)
        subprocess.run([sys.executable, "-c", "from tests.ml.test_demo_model import write_random_scores as w; w()"],
                       cwd=REPO, env=dict(os.environ), check=True, timeout=120)
        as_of = dt.date(2026, 10, 31)
        demo_model.write_status("done", model_version="test", as_of=as_of.isoformat())
    finally:
        lock.close()
    dash_duo.wait_for_element("#risk-distribution-graph .main-svg", timeout=40)
    assert dash_duo.driver.execute_script("return window.beforeReload === undefined;")  # it did reload
    assert dash_duo.driver.current_url.rstrip("/").endswith("/risk")
    assert not dash_duo.driver.find_elements("css selector", "#risk-demo-model")
