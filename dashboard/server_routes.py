"""Plain Flask routes on the app's server: /health (no database) and /ready (checks the database).

/ready answers 200 when the database answers (`has_data` tells whether it holds events), 503 with Retry-After when
it does not (a DuckDB file locked by an import is "database busy", without its path). /health reads nothing, so
it answers whatever the data layer does.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify

from dashboard import db
from dashboard.context import BUSY, AppContext, unavailable_kind

log = logging.getLogger(__name__)

READY_RETRY_AFTER_SECONDS = 5


def register_server_routes(server: Flask, ctx: AppContext) -> None:
    """Add /health and /ready to `server`."""

    @server.get("/health")
    def health():
        """Return 200 {"status": "ok"} without touching the database (liveness)."""
        return jsonify(status="ok")

    @server.get("/ready")
    def ready():
        """Return 200 with the backend, data version and row counts, or 503 when the database cannot be read."""
        try:
            with ctx.engine.connect() as conn:
                conn.execute(sa.select(1)).scalar_one()
                has_schema = db.schema_exists(conn)
                version = db.get_data_version(conn)
                counts = db.row_counts(conn) if has_schema else {}
        except Exception as exc:  # any database failure means not ready; say why
            log.warning("readiness check failed: %s", exc)
            kind = unavailable_kind(exc)
            # a lock names no server path: the file's location stays in the log
            reason = "database busy (an import is running)" if kind == BUSY else str(exc).splitlines()[0]
            response = jsonify(status="not ready", reason=reason)
            response.status_code = 503
            response.headers["Retry-After"] = str(READY_RETRY_AFTER_SECONDS)
            return response
        return jsonify(status="ready", backend=db.backend_name(ctx.engine), data_version=version, rows=counts,
                       has_data=any(counts.values()))
