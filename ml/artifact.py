"""The churn model artifact: a joblib file (calibrated model + explainer inputs) and a JSON card beside it.

Files under `Config.from_env().model_dir` (default `data/models/`, git-ignored):
`churn-<version>.joblib`, `churn-<version>.json` (the card) and `latest` (a one-line text file holding
the file stem of the newest model, written atomically). `load_artifact` compares the library
versions recorded in the card with the running ones and warns, naming each package, when they differ.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import warnings
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from ml.explain import ShapExplainer, top_reasons

LATEST_POINTER = "latest"
PREFIX = "churn-"


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries a model depends on (scikit-learn, pandas, numpy, shap, joblib, python)."""
    import shap
    import sklearn

    return {
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "shap": shap.__version__,
        "joblib": joblib.__version__,
        "python": platform.python_version(),
    }


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.DataFrame):
        return json.loads(value.to_json(orient="records"))
    if isinstance(value, Path):
        return str(value)
    return str(value)


@dataclass
class ChurnArtifact:
    """A trained churn model: calibrated classifier, the pipeline SHAP explains, a background sample and the card."""

    model: Any  # CalibratedClassifierCV over the chosen pipeline
    pipeline: Any  # the chosen Pipeline(prep -> model), fitted on the training snapshot (explained by SHAP)
    numeric: list[str]
    categorical: list[str]
    background: pd.DataFrame  # a small sample of training rows (original features) for SHAP maskers
    card: dict[str, Any]
    version: str
    seed: int = 0
    _explainer: ShapExplainer | None = field(default=None, init=False, repr=False)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_explainer"] = None  # rebuilt on demand; SHAP objects are not a stable pickle format
        return state

    @property
    def features(self) -> list[str]:
        """Return the model's input columns (numeric, then categorical)."""
        return list(self.numeric) + list(self.categorical)

    @property
    def horizon_days(self) -> int:
        """Return the label horizon P the model was trained for."""
        return int(self.card.get("cutoffs", {}).get("horizon_days", 30))

    @property
    def lookback_days(self) -> int:
        """Return the eligibility lookback L the model was trained with."""
        return int(self.card.get("cutoffs", {}).get("lookback_days", 90))

    @property
    def min_tenure_days(self) -> int:
        """Return the minimum tenure M (days since the first visit or order) of the eligible customers."""
        return int(self.card.get("cutoffs", {}).get("min_tenure_days", 0))

    def _frame(self, df: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.features if c not in df.columns]
        if missing:
            raise ValueError(f"columns missing for the churn model: {missing}")
        return df[self.features]

    def predict_proba(self, df: pd.DataFrame) -> np.ndarray:
        """Return the calibrated probability of "activity declined" per row (1-D array, class 1 only)."""
        if len(df) == 0:
            return np.zeros(0)
        return np.asarray(self.model.predict_proba(self._frame(df)), dtype=float)[:, 1]

    def explainer(self) -> ShapExplainer:
        """Return the SHAP explainer of the chosen pipeline (built on first use)."""
        if self._explainer is None:
            self._explainer = ShapExplainer(self.pipeline, self.numeric, self.categorical, self.background,
                                            seed=self.seed)
        return self._explainer

    def shap_values(self, df: pd.DataFrame) -> pd.DataFrame:
        """Return SHAP values per row and original feature (one-hot columns summed), model output units."""
        return self.explainer().shap_values(self._frame(df))

    def explain(self, df: pd.DataFrame, top: int = 3) -> list[list[str]]:
        """Return per row up to `top` plain-words reasons that push the risk up (largest positive SHAP first)."""
        frame = self._frame(df)
        return top_reasons(df, self.explainer().shap_values(frame), top=top)


def new_version(now: datetime | None = None) -> str:
    """Return a model version string: the UTC training time, e.g. 20261101T120000Z."""
    now = now or datetime.utcnow()
    return now.strftime("%Y%m%dT%H%M%SZ")


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def default_model_dir() -> Path:
    """Return the configured model directory (MODEL_DIR, default data/models/)."""
    from dashboard.config import Config

    return Config.from_env().model_dir


def save_artifact(artifact: ChurnArtifact, model_dir: Path | str | None = None, set_latest: bool = True) -> Path:
    """Write churn-<version>.joblib and .json (the card) under `model_dir`, update `latest`; return the joblib path."""
    directory = Path(model_dir) if model_dir is not None else default_model_dir()
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{PREFIX}{artifact.version}"
    model_path = directory / f"{stem}.joblib"
    card_text = json.dumps(artifact.card, indent=2, default=_json_default, allow_nan=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{stem}.", suffix=".joblib")
    os.close(fd)
    joblib.dump(artifact, tmp, compress=3)
    os.replace(tmp, model_path)
    _write_atomic(directory / f"{stem}.json", card_text + "\n")
    if set_latest:
        _write_atomic(directory / LATEST_POINTER, stem + "\n")
    return model_path


def resolve_model_path(path: Path | str | None = None) -> Path:
    """Return the joblib file meant by `path`: a .joblib or .json file, a directory (its latest), or None (model_dir)."""
    target = Path(path) if path is not None else default_model_dir()
    if not target.exists() and target.suffix not in (".joblib", ".json"):
        raise FileNotFoundError(f"no trained churn model in {target} (run `python -m dashboard train`)")
    if target.is_dir():
        pointer = target / LATEST_POINTER
        if not pointer.exists():
            raise FileNotFoundError(f"no trained churn model in {target} (run `python -m dashboard train`)")
        target = target / f"{pointer.read_text(encoding='utf-8').strip()}.joblib"
    elif target.suffix == ".json":
        target = target.with_suffix(".joblib")
    if not target.exists():
        raise FileNotFoundError(f"churn model file not found: {target}")
    return target


def version_mismatches(card: dict[str, Any]) -> list[str]:
    """Return 'package trained-version -> running-version' for each library whose version differs from the card's."""
    recorded = card.get("library_versions", {}) or {}
    running = library_versions()
    return [f"{name} {recorded[name]} (trained) vs {running[name]} (running)"
            for name in sorted(recorded) if name in running and str(recorded[name]) != running[name]]


def load_artifact(path: Path | str | None = None) -> ChurnArtifact:
    """Return the ChurnArtifact at `path` (see resolve_model_path); warns when library versions differ from the card."""
    model_path = resolve_model_path(path)
    card_path = model_path.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8")) if card_path.exists() else None
    with warnings.catch_warnings():
        # sklearn's own InconsistentVersionWarning is replaced by the one message below
        warnings.filterwarnings("ignore", message=".*Trying to unpickle estimator.*")
        artifact = joblib.load(model_path)
    if not isinstance(artifact, ChurnArtifact):
        raise ValueError(f"{model_path} does not hold a churn model artifact")
    if card is not None:
        artifact.card = card
    mismatches = version_mismatches(artifact.card)
    if mismatches:
        warnings.warn(
            f"churn model {model_path.name} was trained with other library versions: {'; '.join(mismatches)}. "
            "Predictions may differ or fail; retrain with `python -m dashboard train`.",
            UserWarning, stacklevel=2,
        )
    return artifact
