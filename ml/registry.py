"""The registry of models: one `ModelSpec` per model, read by the demo build, the CLI and the REST API.

A spec says, for one model: its name and title, how it trains (`train(conn, TrainOptions) -> artifact`), how it
saves, finds and loads its artifact and reads its card under a model directory, how it scores (writing its
`table`), which CLI commands train and score it, which API operations serve it, and whether the first-start
demo build makes it. The consumers loop over `REGISTRY` or look a model up by name; none of them names a
model's modules. Adding a model is its own module(s) plus one entry in `REGISTRY` below (docs/architecture.md,
"Adding a model").
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ml.scoring import churn_scores  # the table declared once, in ml.scoring

CHURN = "churn"
CLUSTERS = "clusters"
CAC = "cac"


@dataclass(frozen=True)
class TrainOptions:
    """The options every model's `train` accepts; each model reads those it needs.

    `as_of`: the data's date the model is built for (the cluster classifier's observation date); `n_iter`,
    `cv`, `n_jobs`: the size of a model search (None: the model's default); `log`: a function of one message;
    `extra`: the model's own options (for the churn model: cutoff, horizon_days, lookback_days, min_tenure_days).
    """

    seed: int = 0
    as_of: _dt.date | None = None
    n_iter: int | None = None
    cv: int | None = None
    n_jobs: int = 1
    progress: bool = False
    log: Callable[[str], None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """One model, declared once: how it trains, saves, loads, scores, and where the CLI, API and demo build find it.

    `train(conn, options)` returns the fitted artifact (it has a `.card` dict); `save(artifact, model_dir)`
    writes it and returns its path (None when there was nothing to save); `latest_file(model_dir)` returns the
    newest saved artifact's file (None when none is saved), `load(model_dir)` the artifact itself
    (FileNotFoundError, saying how to train one, when none is saved), `read_card(model_dir)` its card (None when
    none is saved); `score(engine, as_of, artifact)` writes `table` and returns the rows written (None: the model
    stores no scores). `describe(artifact)` is a few words for a log line.
    """

    name: str
    title: str
    train: Callable[[Connection, TrainOptions], Any]
    save: Callable[[Any, Path], Path | None]
    latest_file: Callable[[Path], Path | None]
    load: Callable[[Path], Any]
    read_card: Callable[[Path], dict | None]
    describe: Callable[[Any], str]
    how_to_train: str  # the CLI line that trains it (shown when no model is saved)
    score: Callable[[Engine, _dt.date, Any], int] | None = None
    table: sa.Table | None = None
    commands: tuple[str, ...] = ()  # the CLI commands that train or score it
    api_operations: tuple[str, ...] = ()  # operationIds of its own routes in the REST API (ml.api.routes)
    demo_build: bool = False  # built (and scored) by the first-start demo build (ml.demo_model)
    demo_step: str = "train"  # the demo build's status step while it trains


class ModelRegistry:
    """The registered models by name, in registration order (the order the demo build makes them)."""

    def __init__(self, specs: tuple[ModelSpec, ...] = ()) -> None:
        self._specs: dict[str, ModelSpec] = {}
        for spec in specs:
            self.register(spec)

    def register(self, spec: ModelSpec) -> ModelSpec:
        """Add `spec`; return it. A second model of the same name is refused (ValueError)."""
        if spec.name in self._specs:
            raise ValueError(f"a model named {spec.name!r} is already registered")
        self._specs[spec.name] = spec
        return spec

    def unregister(self, name: str) -> ModelSpec:
        """Remove the model `name`; return its spec (KeyError when unknown)."""
        return self._specs.pop(name)

    def get(self, name: str) -> ModelSpec:
        """Return the spec of model `name`; KeyError naming the known models when unknown."""
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"no model named {name!r}; registered: {', '.join(self._specs)}") from None

    def names(self) -> list[str]:
        """Return the registered model names, in registration order."""
        return list(self._specs)

    def demo_models(self) -> list[ModelSpec]:
        """Return the specs the first-start demo build makes, in order."""
        return [spec for spec in self._specs.values() if spec.demo_build]

    def tables(self) -> list[sa.Table]:
        """Return the tables the models write (one per scoring model)."""
        return [spec.table for spec in self._specs.values() if spec.table is not None]

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(list(self._specs.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)


# --- the churn model ------------------------------------------------------------------------------------

def _train_churn(conn: Connection, options: TrainOptions):
    """Return a trained ChurnArtifact (ml.churn_training) for the options."""
    from ml.churn_training import train_churn_model
    from ml.selection import DEFAULT_N_ITER

    return train_churn_model(conn, seed=options.seed, n_iter=options.n_iter or DEFAULT_N_ITER,
                             cv=options.cv or 5, n_jobs=options.n_jobs, progress=options.progress,
                             log=options.log, **options.extra)


def _churn_latest_file(model_dir: Path) -> Path | None:
    """Return the newest churn model file of `model_dir` (its `latest` pointer), None when there is none."""
    from ml.artifact import resolve_model_path

    if not Path(model_dir).is_dir():
        return None
    try:
        return resolve_model_path(model_dir)
    except FileNotFoundError:
        return None


def _churn_load(path: Path):
    """Return the churn artifact at `path` (a model file, or a directory's newest); FileNotFoundError when none."""
    from ml.artifact import load_artifact

    return load_artifact(path)


def _churn_card(model_dir: Path) -> dict | None:
    """Return the JSON card beside the newest churn model file, None when there is none."""
    path = _churn_latest_file(model_dir)
    card = None if path is None else path.with_suffix(".json")
    return json.loads(card.read_text(encoding="utf-8")) if card is not None and card.exists() else None


def _churn_save(artifact, model_dir: Path) -> Path:
    """Write the churn artifact and its JSON card under `model_dir`; return the joblib path."""
    from ml.artifact import save_artifact

    return save_artifact(artifact, model_dir)


def _churn_score(engine: Engine, as_of: _dt.date, artifact) -> int:
    """Score the eligible customers at `as_of` into churn_scores; return the rows written."""
    from ml.scoring import score

    return score(engine, as_of, artifact)


# --- the cluster classifier ---------------------------------------------------------------------------

def _train_clusters(conn: Connection, options: TrainOptions):
    """Return the ClusterFit (ml.cluster_model) as of `options.as_of`."""
    from ml.cluster_model import train_clusters

    return train_clusters(conn, seed=options.seed, observation_date=options.as_of)


def _save_clusters(fit, model_dir: Path) -> Path | None:
    """Save the cluster classifier of `fit`; return its path (None: too few customers for one)."""
    from ml.cluster_model import save_clusters

    return save_clusters(fit, model_dir)


def _clusters_latest_file(model_dir: Path) -> Path | None:
    """Return the saved cluster classifier's file, None when there is none."""
    from ml.cluster_model import cluster_model_path

    return cluster_model_path(model_dir)


def _clusters_load(model_dir: Path):
    """Return the saved cluster classifier (SegmentModel) of `model_dir`; FileNotFoundError when there is none."""
    from ml.cluster_model import load_clusters

    model = load_clusters(model_dir)
    if model is None:
        raise FileNotFoundError(f"no cluster classifier in {model_dir} (run `python -m dashboard export-segments "
                                "--out FILE`)")
    return model


def _clusters_card(model_dir: Path) -> dict | None:
    """Return the saved cluster classifier's card, None when there is none."""
    from ml.cluster_model import cluster_card

    return cluster_card(model_dir)


# --- the acquisition-cost (CAC) model ----------------------------------------------------------------------

def _train_cac(conn: Connection, options: TrainOptions):
    """Return a trained CacArtifact (ml.cac_model) with data up to `options.as_of` (default: the data's last date)."""
    from ml.cac_model import DEFAULT_CV, train_cac_model

    return train_cac_model(conn, origin=options.as_of, seed=options.seed, cv=options.cv or DEFAULT_CV,
                           n_jobs=options.n_jobs, progress=options.progress, log=options.log, **options.extra)


def _cac_save(artifact, model_dir: Path) -> Path:
    """Write the CAC artifact and its JSON card under `model_dir`; return the joblib path."""
    from ml.cac_model import save_cac

    return save_cac(artifact, model_dir)


def _cac_latest_file(model_dir: Path) -> Path | None:
    """Return the newest CAC model file of `model_dir`, None when there is none."""
    from ml.cac_model import cac_latest_file

    return cac_latest_file(model_dir)


def _cac_load(path: Path):
    """Return the CAC artifact at `path` (a model file, or a directory's newest); FileNotFoundError when none."""
    from ml.cac_model import load_cac

    return load_cac(path)


def _cac_card(model_dir: Path) -> dict | None:
    """Return the card of the newest CAC model of `model_dir`, None when there is none."""
    from ml.cac_model import read_cac_card

    return read_cac_card(model_dir)


REGISTRY = ModelRegistry((
    ModelSpec(
        name=CHURN, title="Churn risk (activity decline)", train=_train_churn, save=_churn_save,
        latest_file=_churn_latest_file, load=_churn_load, read_card=_churn_card,
        describe=lambda artifact: f"churn model {artifact.version}",
        how_to_train="python -m dashboard train && python -m dashboard score",
        score=_churn_score, table=churn_scores, commands=("train", "score"),
        api_operations=("getCustomerRisk", "listRisk", "scoreChurn"), demo_build=True, demo_step="train"),
    ModelSpec(
        name=CLUSTERS, title="RFM cluster classifier", train=_train_clusters, save=_save_clusters,
        latest_file=_clusters_latest_file, load=_clusters_load, read_card=_clusters_card,
        describe=lambda fit: f"{len(fit.table):,} customers clustered",
        how_to_train="python -m dashboard export-segments --out segments.csv", commands=("export-segments",),
        api_operations=("predictSegment",), demo_build=True, demo_step="segments"),
    ModelSpec(
        name=CAC, title="Acquisition cost (CAC) regression", train=_train_cac, save=_cac_save,
        latest_file=_cac_latest_file, load=_cac_load, read_card=_cac_card,
        describe=lambda artifact: f"CAC model {artifact.version} ({artifact.card['chosen_model']['family']})",
        how_to_train="python -m dashboard forecast train", commands=("forecast",), demo_build=True,
        demo_step="cac"),
))
