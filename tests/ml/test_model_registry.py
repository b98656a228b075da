"""The model registry (ml/registry.py): every registered model trains, saves, loads and scores through its spec; the
demo build, the CLI and the REST API find models through the registry (a made-up model registered for one test
is built, listed and described by them, then removed)."""

from __future__ import annotations

import ast
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from dashboard import db
from ml import registry as model_registry
from ml.registry import REGISTRY, ModelRegistry, ModelSpec, TrainOptions

SMALL_SEARCH = TrainOptions(seed=0, n_iter=1, cv=3)
ROOT = Path(__file__).resolve().parents[2]


# --- a tiny made-up model ---------------------------------------------------------------------------------

@dataclass
class CountModel:
    """A made-up model: counts the orders up to its date."""

    orders: int
    card: dict


def _train_count(conn, options: TrainOptions) -> CountModel:
    """Return a CountModel of the orders in the database."""
    orders = conn.execute(sa.select(sa.func.count()).select_from(db.orders)).scalar_one()
    return CountModel(orders=orders, card={"model": "count", "orders": orders, "seed": options.seed})


def _save_count(model: CountModel, model_dir: Path) -> Path:
    """Write the model's card as count.json; return its path."""
    path = Path(model_dir) / "count.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.card), encoding="utf-8")
    return path


def _count_file(model_dir: Path) -> Path | None:
    """Return count.json of `model_dir` when saved."""
    path = Path(model_dir) / "count.json"
    return path if path.exists() else None


def _load_count(model_dir: Path) -> CountModel:
    """Return the saved CountModel; FileNotFoundError when none."""
    path = _count_file(model_dir)
    if path is None:
        raise FileNotFoundError(f"no count model in {model_dir}")
    card = json.loads(path.read_text(encoding="utf-8"))
    return CountModel(orders=card["orders"], card=card)


def _read_count_card(model_dir: Path) -> dict | None:
    """Return the saved card, None when none."""
    path = _count_file(model_dir)
    return json.loads(path.read_text(encoding="utf-8")) if path is not None else None


COUNT = ModelSpec(name="count-test", title="Order count (made up)", train=_train_count, save=_save_count,
                  latest_file=_count_file, load=_load_count, read_card=_read_count_card,
                  describe=lambda model: f"{model.orders} orders counted", how_to_train="nothing",
                  commands=("none",), demo_build=True, demo_step="counting")


@pytest.fixture
def count_registered():
    """COUNT registered in the product's REGISTRY for one test, removed afterwards."""
    REGISTRY.register(COUNT)
    try:
        yield COUNT
    finally:
        REGISTRY.unregister(COUNT.name)


# --- the registry itself ----------------------------------------------------------------------------------

def test_reg001_the_churn_model_and_the_cluster_classifier_are_registered_with_unique_names():
    names = REGISTRY.names()
    assert names[:2] == ["churn", "clusters"] and len(names) == len(set(names))
    with pytest.raises(ValueError, match="already registered"):
        REGISTRY.register(REGISTRY.get("churn"))
    with pytest.raises(KeyError, match="registered: churn, clusters"):
        REGISTRY.get("nope")
    # the acquisition-cost model (issue 18) is built last, after the Risk page's scores
    assert [spec.name for spec in REGISTRY.demo_models()] == ["churn", "clusters", "cac"]
    assert REGISTRY.get("churn").commands == ("train", "score")
    assert REGISTRY.get("clusters").commands == ("export-segments",)


def test_reg002_a_temporary_registry_registers_and_removes():
    local = ModelRegistry((COUNT,))
    assert local.names() == ["count-test"] and "count-test" in local and len(local) == 1
    assert local.unregister("count-test") is COUNT and len(local) == 0
    assert "count-test" not in REGISTRY


def test_reg003_churn_scores_and_the_risk_bands_are_declared_once():
    """The churn_scores table is one sa.Table (ml/scoring.py); the band thresholds one pair (ml/risk_bands.py)."""
    tables, thresholds = [], []
    for path in sorted(p for folder in ("dashboard", "metrics", "ml", "callbacks", "layouts")
                       for p in (ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "Table"
                    and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value == "churn_scores"):
                tables.append(path.relative_to(ROOT).as_posix())
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") in ("HIGH_THRESHOLD", "MEDIUM_THRESHOLD")
                                                    for t in node.targets):
                thresholds.append(path.relative_to(ROOT).as_posix())
    assert tables == ["ml/scoring.py"]
    assert thresholds == ["ml/risk_bands.py", "ml/risk_bands.py"]
    assert REGISTRY.tables() == [REGISTRY.get("churn").table] and REGISTRY.get("churn").table.name == "churn_scores"


# --- every registered model through its spec --------------------------------------------------------------

@pytest.mark.parametrize("name", ["churn", "clusters", "cac"])
def test_reg004_every_registered_model_trains_saves_loads_and_scores(name, shared_demo, tmp_path):
    """On the shared demo (a private copy: scoring writes), the spec trains, saves, finds, loads and reads the card
    of its model; a scoring model writes its table."""
    spec = REGISTRY.get(name)
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            as_of = dt.date(2026, 10, 31) if name == "clusters" else None
            artifact = spec.train(conn, TrainOptions(seed=0, n_iter=1, cv=3, as_of=as_of))
        assert isinstance(artifact.card, dict) and artifact.card and spec.describe(artifact)
        models = tmp_path / "models"
        assert spec.latest_file(models) is None and spec.read_card(models) is None
        with pytest.raises(FileNotFoundError):
            spec.load(models)
        saved = spec.save(artifact, models)
        assert saved is not None and spec.latest_file(models) == saved
        loaded = spec.load(models)
        assert type(loaded).__name__ in ("ChurnArtifact", "SegmentModel", "CacArtifact")
        card = spec.read_card(models)
        expected = {"churn": ("version", getattr(artifact, "version", None)), "clusters": ("observation_date", "2026-10-31"),
                    "cac": ("origin", "2026-10-31")}[name]  # the CAC model is built as of the data's last date
        assert card and card.get(expected[0]) == expected[1], (name, expected)
        if spec.score is not None:
            from ml.features import data_date_range

            with engine.connect() as conn:
                last = data_date_range(conn)[1]
            rows = spec.score(engine, last, loaded)
            with engine.connect() as conn:
                assert sa.inspect(conn).has_table(spec.table.name)
                stored = conn.execute(sa.select(sa.func.count()).select_from(spec.table)).scalar_one()
            assert rows == stored > 0
    finally:
        engine.dispose()
        cleanup()


# --- the consumers find models through the registry -------------------------------------------------------

def test_reg005_the_models_command_lists_a_registered_model(count_registered, tmp_path, capsys):
    from dashboard.cli import main

    models = tmp_path / "models"
    assert main(["models", "--model-dir", str(models)]) == 0
    out = capsys.readouterr().out
    assert "churn" in out and "churn_scores" in out and "clusters" in out
    assert "count-test" in out and "Order count (made up)" in out and "not trained yet" in out
    _save_count(CountModel(3, {"orders": 3}), models)
    assert main(["models", "--model-dir", str(models)]) == 0
    assert str(models / "count.json") in capsys.readouterr().out


def test_reg006_the_api_lists_and_describes_a_registered_model(count_registered, tmp_path):
    from app import create_app
    from dashboard.config import Config

    models = tmp_path / "models"
    url = f"duckdb:///{tmp_path / 'api.duckdb'}"
    client = create_app(Config(database_url=url, model_dir=models, autofill_demo=False)).server.test_client()
    listed = client.get("/api/v1/models").get_json()
    assert [item["name"] for item in listed["items"]][-1] == "count-test" and listed["count"] == len(REGISTRY)
    churn = client.get("/api/v1/models/churn").get_json()
    assert churn["table"] == "churn_scores" and churn["trained"] is False and "scoreChurn" in churn["operations"]
    response = client.get("/api/v1/models/count-test/card")
    assert response.status_code == 503 and response.get_json()["error"] == "no_model"
    _save_count(CountModel(5, {"model": "count", "orders": 5}), models)
    assert client.get("/api/v1/models/count-test/card").get_json() == {"model": "count", "orders": 5}
    assert client.get("/api/v1/models/count-test").get_json()["artifact"] == "count.json"
    missing = client.get("/api/v1/models/nope/card")
    assert missing.status_code == 404 and missing.get_json()["errors"][0]["field"] == "name"
    assert client.get("/api/v1/models/Bad%20Name").status_code == 400
    REGISTRY.unregister(COUNT.name)
    try:
        assert client.get("/api/v1/models/count-test").status_code == 404
    finally:
        REGISTRY.register(COUNT)


def test_reg007_the_demo_build_makes_every_registered_demo_model(tmp_path, monkeypatch):
    """`ml.demo_model.run` loops over the registry's demo models: with only the made-up model registered, it trains
    and saves that one, under its own status step, and records done."""
    from dashboard import demo
    from dashboard.config import Config
    from ml import demo_model

    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "embedded.duckdb"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = db.make_engine(None)
    try:
        demo.write_demo(engine, users=200, seed=3, replace=True)
    finally:
        engine.dispose()
    steps = []
    monkeypatch.setattr(model_registry, "REGISTRY", ModelRegistry((COUNT,)))
    real_write_status = demo_model.write_status
    monkeypatch.setattr(demo_model, "write_status",
                        lambda state, **fields: steps.append(fields.get("step")) or real_write_status(state, **fields))
    demo_model.mark_pending()
    status = demo_model.run(Config(demo_model=True, model_dir=tmp_path / "models"), n_iter=1, cv=3)
    assert status["state"] == "done" and status["model_version"] is None and status["scored"] == 0
    assert "counting" in steps
    assert _load_count(tmp_path / "models").orders > 0
