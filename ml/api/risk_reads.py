"""Reads of the `churn_scores` table for the REST API: one customer's latest score, one page of a scoring run.

The API only reads the table (`ml.scoring` declares and writes it). SQL is SQLAlchemy Core with bound values only.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa

from ml.api.schemas import ApiProblem, CustomerRisk, RiskListQuery
from ml.scoring import churn_scores


def _row_to_risk(row: sa.Row) -> CustomerRisk:
    """Return the API view of one churn_scores row."""
    m = row._mapping
    reasons = [m[k] for k in ("reason_1", "reason_2", "reason_3") if m[k] not in (None, "")]
    return CustomerRisk(
        user_id=m["user_id"], probability=float(m["probability"]), risk_band=m["risk_band"], reasons=reasons,
        value_at_risk=_finite_or_none(m["value_at_risk"]),
        model_version=m["model_version"], as_of=_as_date(m["as_of"]), scored_at=_as_datetime(m["scored_at"]),
    )


def _finite_or_none(value: Any) -> float | None:
    """Return `value` as a float, or None when missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _as_date(value: Any) -> date | None:
    """Return `value` as a date (SQLite aggregates may return text)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime | None:
    """Return `value` as a time-zone aware datetime: churn_scores stores UTC without an offset (SQLite may return
    text), the API answers RFC 3339 with the offset (`...Z`)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _require_scores_table(conn: sa.Connection) -> None:
    """Raise a 503 problem when churn_scores does not exist yet."""
    if not sa.inspect(conn).has_table(churn_scores.name):
        raise ApiProblem(503, "no_scores", "no churn scores yet: train a model and run the scoring command first")


def customer_risk(conn: sa.Connection, user_id: str) -> CustomerRisk | None:
    """Return the customer's latest churn score (latest as_of, then scored_at), or None."""
    _require_scores_table(conn)
    row = conn.execute(
        sa.select(churn_scores).where(churn_scores.c.user_id == user_id)
        .order_by(churn_scores.c.as_of.desc(), churn_scores.c.scored_at.desc()).limit(1)
    ).first()
    return None if row is None else _row_to_risk(row)


def risk_page(conn: sa.Connection, query: RiskListQuery) -> tuple[list[CustomerRisk], int, date | None]:
    """Return (rows of one page, total matching rows, as_of listed) ordered by value_at_risk desc, user_id."""
    _require_scores_table(conn)
    as_of = query.as_of
    if as_of is None:
        as_of = _as_date(conn.execute(sa.select(sa.func.max(churn_scores.c.as_of))).scalar())
        if as_of is None:
            return [], 0, None
    where = [churn_scores.c.as_of == as_of]
    if query.band is not None:
        where.append(churn_scores.c.risk_band == query.band)
    total = conn.execute(sa.select(sa.func.count()).select_from(churn_scores).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(churn_scores).where(*where)
        .order_by(churn_scores.c.value_at_risk.desc().nulls_last(), churn_scores.c.user_id)
        .limit(query.limit).offset(query.offset)
    ).all()
    return [_row_to_risk(r) for r in rows], int(total), as_of
