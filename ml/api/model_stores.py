"""The models the REST API answers with: the latest churn artifact and the saved cluster classifier, each loaded
once and reloaded only when its file changes, and the functions that score validated requests with them. Both
stores find and load their files through the model's spec in the registry (`ml.registry`).
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ml.api.schemas import ApiProblem, ScoreResult, SegmentRequest, SegmentResult, feature_request_model
from ml.registry import CHURN, CLUSTERS, REGISTRY
from ml.risk_bands import risk_band_of

log = logging.getLogger(__name__)


class ModelStore:
    """The latest churn artifact of a model directory, loaded once and reloaded only when a newer one appears."""

    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._artifact: Any = None
        self._request_model: type[BaseModel] | None = None

    def latest_path(self) -> Path | None:
        """Return the joblib file of the newest model (the directory's `latest` pointer), or None."""
        return REGISTRY.get(CHURN).latest_file(self.model_dir)

    def get(self) -> tuple[Any, type[BaseModel]]:
        """Return (artifact, request model of its features); raise a 503 problem when there is no model."""
        path = self.latest_path()
        if path is None:
            raise ApiProblem(503, "no_model", f"no churn model trained yet (none in {self.model_dir}): "
                                              "train one with the CLI first")
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                try:
                    artifact = REGISTRY.get(CHURN).load(path)
                except Exception as exc:  # a damaged or incompatible file: say so, keep serving the rest
                    log.exception("could not load churn model %s", path)
                    raise ApiProblem(503, "no_model", f"model: could not load {path.name} "
                                                      f"({type(exc).__name__}); retrain the model") from None
                numeric, categorical = artifact_feature_kinds(artifact)
                self._artifact = artifact
                self._request_model = feature_request_model(numeric, categorical)
                self._key = key
                log.info("loaded churn model %s (version %s)", path, getattr(artifact, "version", "?"))
            return self._artifact, self._request_model


class SegmentModelStore:
    """The saved cluster classifier (ml.segments) of a model directory, reloaded only when the file changes."""

    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._model: Any = None

    def get(self) -> Any:
        """Return the SegmentModel; raise a 503 problem when none was saved or it cannot be loaded."""
        spec = REGISTRY.get(CLUSTERS)
        path = spec.latest_file(self.model_dir)
        try:
            if path is None:
                raise FileNotFoundError(self.model_dir)
            stat = path.stat()
        except OSError:
            raise ApiProblem(503, "no_model", f"no segment model yet (none in {self.model_dir}): run "
                                              "`python -m dashboard export-segments --out FILE` first") from None
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                try:
                    model = spec.load(self.model_dir)
                except Exception as exc:  # damaged or incompatible file
                    log.exception("could not load segment model %s", path)
                    raise ApiProblem(503, "no_model", f"model: could not load {path.name} "
                                                      f"({type(exc).__name__}); run export-segments again") from None
                if model is None:
                    raise ApiProblem(503, "no_model", "no segment model yet: run export-segments first")
                self._model, self._key = model, key
            return self._model


def artifact_feature_kinds(artifact: Any) -> tuple[list[str], list[str]]:
    """Return (numeric, categorical) feature names of an artifact."""
    numeric = getattr(artifact, "numeric", None)
    categorical = getattr(artifact, "categorical", None)
    card = getattr(artifact, "card", None) or {}
    if numeric is None and isinstance(card, dict):
        numeric = card.get("numeric") or card.get("numeric_features")
        categorical = card.get("categorical") or card.get("categorical_features")
    if numeric is None:
        from ml.features import CATEGORICAL_FEATURES

        names = list(artifact.features)
        categorical = [n for n in names if n in CATEGORICAL_FEATURES]
        numeric = [n for n in names if n not in CATEGORICAL_FEATURES]
    return list(numeric), list(categorical or [])


def served_feature_kinds(models: ModelStore | None) -> tuple[list[str], list[str]]:
    """Return (numeric, categorical) feature names of the served model; those of ml.features when no model is
    trained yet (or it cannot be loaded), so that the docs always document a feature set."""
    if models is not None:
        try:
            artifact, _ = models.get()
            return artifact_feature_kinds(artifact)
        except Exception:  # no model yet (or not loadable): document the default feature set
            pass
    from ml.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    return list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES)


def score_customers(artifact: Any, customers: list[BaseModel]) -> list[ScoreResult]:
    """Return the model's probability, band and top reasons for validated customers (in order)."""
    import pandas as pd

    features = list(artifact.features)
    frame = pd.DataFrame([{name: getattr(c, name) for name in features} for c in customers], columns=features)
    try:
        probabilities = artifact.predict_proba(frame)
        reasons = artifact.explain(frame, top=3)
    except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
        log.warning("model could not score a request: %s", exc)
        raise ApiProblem(400, "bad_request", f"features: the model could not score these values ({exc})",
                         [{"field": "features", "message": "the model could not score these values"}]) from None
    version = str(getattr(artifact, "version", ""))
    out = []
    for customer, probability, why in zip(customers, probabilities, reasons):
        p = float(probability)
        if not math.isfinite(p):
            raise ApiProblem(400, "bad_request", "features: the model returned no finite probability",
                             [{"field": "features", "message": "no finite probability for these values"}])
        out.append(ScoreResult(user_id=getattr(customer, "user_id", None), probability=p,
                               risk_band=risk_band_of(p), reasons=[str(r) for r in why][:3],
                               model_version=version))
    return out


def predict_segments(model: Any, customers: list[SegmentRequest]) -> list[SegmentResult]:
    """Return the cluster number and name of validated RFM values (in order)."""
    import pandas as pd

    frame = pd.DataFrame([{"recency_days": c.recency_days, "frequency": c.frequency, "monetary": c.monetary}
                          for c in customers])
    try:
        predicted = model.predict(frame)
    except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
        log.warning("segment model could not classify a request: %s", exc)
        raise ApiProblem(400, "bad_request", "rfm: the model could not classify these values",
                         [{"field": "rfm", "message": "the model could not classify these values"}]) from None
    observed = (getattr(model, "card", None) or {}).get("observation_date")
    return [SegmentResult(user_id=c.user_id, cluster=int(cluster), cluster_name=str(name), observation_date=observed)
            for c, cluster, name in zip(customers, predicted["cluster"], predicted["cluster_name"])]
