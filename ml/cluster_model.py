"""The cluster classifier as a registered model: training (RFM table + clustering) and its saved file.

`train_clusters` returns a `ClusterFit` (the per-customer table, the clustering, the observation date);
`save_clusters` writes its classifier and card to MODEL_DIR/segments-latest.joblib (`ml.segments`), when the
clustering has one. The card travels inside the joblib file: the cluster classifier has no JSON card file.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from ml.segments import (SEGMENT_MODEL_NAME, ClusteringResult, SegmentModel, load_segment_model, save_segment_model,
                         segments_table)


@dataclass
class ClusterFit:
    """A trained clustering: one row per customer (RFM, segment, cluster), the clustering and its date O."""

    table: pd.DataFrame
    result: ClusteringResult | None  # None: fewer than 3 customers
    observation_date: _dt.date | None

    @property
    def card(self) -> dict:
        """Return the card of the fit (k, names, accuracy, observation date; empty without a clustering)."""
        if self.result is None:
            return {}
        return {"k": self.result.k, "names": {str(k): v for k, v in self.result.names.items()},
                "classifier_accuracy": self.result.classifier_accuracy,
                "observation_date": self.observation_date.isoformat() if self.observation_date else None,
                "customers": int(len(self.table))}


def last_order_date(conn: Connection) -> _dt.date | None:
    """Return the date of the last order (the default observation date), None without orders."""
    last = conn.execute(sa.select(sa.func.max(db.orders.c.event_dt))).scalar_one()
    return None if last is None else pd.Timestamp(last).date()


def train_clusters(conn: Connection, seed: int = 0, observation_date: _dt.date | None = None) -> ClusterFit:
    """Return the ClusterFit as of `observation_date` (default: the date of the last order)."""
    table, result = segments_table(conn, observation_date, seed=seed)
    as_of = observation_date
    if as_of is None and result is not None:
        as_of = last_order_date(conn)
    return ClusterFit(table=table, result=result, observation_date=as_of)


def save_clusters(fit: ClusterFit, model_dir: Path | str) -> Path | None:
    """Save the fit's classifier and card under `model_dir`; return the path (None: no classifier to save)."""
    if fit.result is None or fit.result.classifier is None or fit.observation_date is None:
        return None
    return save_segment_model(fit.result, model_dir, fit.observation_date)


def cluster_model_path(model_dir: Path | str) -> Path | None:
    """Return the saved cluster classifier's file in `model_dir`, None when none was saved."""
    path = Path(model_dir) / SEGMENT_MODEL_NAME
    return path if path.exists() else None


def load_clusters(model_dir: Path | str) -> SegmentModel | None:
    """Return the saved cluster classifier of `model_dir`, None when none was saved."""
    return load_segment_model(model_dir)


def cluster_card(model_dir: Path | str) -> dict | None:
    """Return the card of the saved cluster classifier (kept inside its joblib file), None when none was saved."""
    model = load_segment_model(model_dir)
    return None if model is None else model.card
