"""Plain Flask routes on the app's server: /health (no database) and /ready (checks the database).

/ready answers 200 when the database answers (`has_data` tells whether it holds events), 503 when it does not.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import Flask, jsonify

from dashboard import db
from dashboard.context import AppContext

log = logging.getLogger(__name__)


def register_server_routes(server: Flask, ctx: AppContext) -> None:
    """Add /health and /ready to `server`."""

    @server.get("/health")
    def health():
        return jsonify(status="ok")

    @server.get("/ready")
    def ready():
        try:
            with ctx.engine.connect() as conn:
                conn.execute(sa.select(1)).scalar_one()
                has_schema = db.schema_exists(conn)
                version = db.get_data_version(conn)
                counts = db.row_counts(conn) if has_schema else {}
        except Exception as exc:  # any database failure means not ready; say why
            log.warning("readiness check failed: %s", exc)
            return jsonify(status="not ready", reason=str(exc).splitlines()[0]), 503
        return jsonify(status="ready", backend=ctx.engine.dialect.name, data_version=version, rows=counts,
                       has_data=any(counts.values()))
