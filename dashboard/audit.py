"""The audit log (issue 19): sign-ins, account and token changes, uploads, imports and jobs, with who, when, from
where and the outcome.

Data layer only: `record_event` adds a row inside the caller's transaction. Callers never pass a password or a
token's text; every text is stored with control characters replaced and cut to its column's length, so a crafted
user name or address cannot forge lines or grow the table without bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard.db import audit_log

# The events the product records (issue 19); `record_event` takes these names only.
EVENTS = frozenset({"sign_in", "sign_out", "role_change", "account_add", "account_disable", "account_remove",
                    "password_reset", "token_create", "token_revoke", "upload", "import", "job"})
MAX_RECENT = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit log."""

    id: int
    at: datetime  # aware, UTC
    event: str
    actor: str  # an account name, "cli", or the name tried at a failed sign-in
    address: str  # the client's address ("" from the CLI)
    outcome: str  # e.g. "ok", "denied", "failed", "rate_limited"
    detail: str


def _clean(text: str, column: sa.Column) -> str:
    """Return `text` with control characters replaced by "?" and cut to the column's length."""
    cleaned = _CONTROL.sub("?", str(text))
    limit = column.type.length
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def record_event(conn: Connection, *, event: str, actor: str, address: str, outcome: str, detail: str = "") -> None:
    """Add an event to the audit log, timed now (UTC); ValueError for an event name not in EVENTS (a bug of the
    caller)."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}: one of {sorted(EVENTS)}")
    conn.execute(sa.insert(audit_log).values(
        occurred_at=datetime.now(timezone.utc).replace(tzinfo=None), event=event,
        actor=_clean(actor, audit_log.c.actor), address=_clean(address, audit_log.c.address),
        outcome=_clean(outcome, audit_log.c.outcome), detail=_clean(detail, audit_log.c.detail),
    ))


def recent_events(conn: Connection, limit: int = 200) -> list[AuditEvent]:
    """Return the latest `limit` events (1..MAX_RECENT), newest first."""
    limit = max(1, min(int(limit), MAX_RECENT))
    rows = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)).all()
    return [AuditEvent(id=int(row.id), at=_aware(row.occurred_at), event=row.event, actor=row.actor,
                       address=row.address, outcome=row.outcome, detail=row.detail) for row in rows]


def _aware(value: datetime | str) -> datetime:
    """Return a stored (naive UTC) time as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)
