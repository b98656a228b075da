"""Scoring: the `churn_scores` table (one row per eligible customer and as-of date), written in one transaction.

Risk bands by calibrated probability p (declared in `ml.risk_bands`): high when p >= HIGH_THRESHOLD, medium
when p >= MEDIUM_THRESHOLD, low otherwise. `value_at_risk` = p x the customer's revenue in the 90 days up to
as-of (dates in (as_of - 90, as_of]). Scoring an as-of date again replaces that date's rows (delete + insert, one
transaction); other dates stay. The dashboard only reads this table.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard import db
from ml import features
from ml.risk_bands import BANDS, HIGH_THRESHOLD, MEDIUM_THRESHOLD, risk_band  # noqa: F401  (the CLI reads them here)

metadata = sa.MetaData()

churn_scores = sa.Table(
    "churn_scores",
    metadata,
    sa.Column("user_id", db.Text, nullable=False),
    sa.Column("probability", sa.Double(), nullable=False),
    sa.Column("risk_band", sa.String(16), nullable=False),
    sa.Column("reason_1", sa.Text()),
    sa.Column("reason_2", sa.Text()),
    sa.Column("reason_3", sa.Text()),
    sa.Column("value_at_risk", sa.Double(), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=False),
    sa.Column("scored_at", sa.DateTime(), nullable=False),
)
SCORES_INDEXES = db.row_store_indexes(
    sa.Index("ix_churn_scores_as_of_user", churn_scores.c.as_of, churn_scores.c.user_id))
SCORE_COLUMNS = [c.name for c in churn_scores.columns]


def create_scores_table(conn: Connection) -> None:
    """Create the churn_scores table (and, on row stores, its as_of index) if missing."""
    metadata.create_all(conn, tables=[churn_scores], checkfirst=True)
    db.create_indexes(conn, SCORES_INDEXES)


def score_frame(snapshot: pd.DataFrame, artifact, as_of: date, scored_at: datetime | None = None) -> pd.DataFrame:
    """Return the churn_scores rows (SCORE_COLUMNS) for a label-free snapshot (index user_id)."""
    scored_at = scored_at or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    probability = artifact.predict_proba(snapshot)
    reasons = artifact.explain(snapshot, top=3) if len(snapshot) else []
    padded = [(list(r) + [None, None, None])[:3] for r in reasons]
    reason_columns = {
        f"reason_{k + 1}": pd.array([r[k] for r in padded], dtype="str") for k in range(3)
    }
    frame = pd.DataFrame({
        "user_id": pd.array(snapshot.index.astype(str), dtype="str"),
        "probability": probability,
        "risk_band": pd.array(risk_band(probability), dtype="str"),
        **reason_columns,
        "value_at_risk": probability * snapshot["revenue_90"].to_numpy(dtype=float),
        "model_version": pd.array([artifact.version] * len(snapshot), dtype="str"),
        "as_of": [as_of] * len(snapshot),
        "scored_at": pd.to_datetime([scored_at] * len(snapshot)).astype("datetime64[us]"),
    })
    return frame[SCORE_COLUMNS]


def write_scores(engine: Engine, frame: pd.DataFrame, as_of: date) -> int:
    """Replace the churn_scores rows of `as_of` with `frame` in one transaction; return the rows written.

    Then, on PostgreSQL, the table gets VACUUM (ANALYZE) like the event tables after an import."""
    with engine.begin() as conn:
        create_scores_table(conn)
        conn.execute(sa.delete(churn_scores).where(churn_scores.c.as_of == as_of))
        written = db.bulk_insert(conn, churn_scores, frame)
        # the dashboard reads these scores: cached results must not outlive them (the visits did not change)
        db.bump_data_version(conn, visits_changed=False)
    db.refresh_statistics(engine, (churn_scores,))
    return written


def score(engine: Engine, as_of: date, artifact) -> int:
    """Score every eligible customer at `as_of` with `artifact`, write churn_scores; return the number of rows."""
    with engine.connect() as conn:
        snapshot = features.build_snapshot(conn, as_of, horizon_days=artifact.horizon_days,
                                           lookback_days=artifact.lookback_days, with_label=False,
                                           min_tenure_days=artifact.min_tenure_days)
    frame = score_frame(snapshot, artifact, as_of)
    return write_scores(engine, frame, as_of)


def read_scores(conn: Connection, as_of: date | None = None) -> pd.DataFrame:
    """Return the churn_scores rows of `as_of` (default: the latest as_of), ordered by user_id."""
    if churn_scores.name not in sa.inspect(conn).get_table_names():
        return pd.DataFrame(columns=SCORE_COLUMNS)
    if as_of is None:
        as_of = conn.execute(sa.select(sa.func.max(churn_scores.c.as_of))).scalar()
        if as_of is None:
            return pd.DataFrame(columns=SCORE_COLUMNS)
    result = conn.execute(sa.select(churn_scores).where(churn_scores.c.as_of == as_of)
                          .order_by(churn_scores.c.user_id))
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
