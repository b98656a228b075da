"""What the web app's callbacks and routes share: settings, the read engine, the metric cache, and how a database
that does not answer (PostgreSQL down, a DuckDB file locked by an import) is recognised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import sqlalchemy as sa

from dashboard import db
from dashboard.backends import backend_spec
from dashboard.config import Config
from dashboard.errors import exception_chain

# How long a web read waits for a DuckDB file locked by a writer (an import) before it answers "busy". Short: a
# waiting read holds one of the server's few threads, and with 15 s waits 16 users' chart requests starved /health
# (issue 15, item 10). After one such wait runs out, later opens try once without waiting until one succeeds
# (db.make_engine), so a burst of requests during an import fails fast instead of queueing.
WEB_LOCK_WAIT_SECONDS = 1.0
# How long a web read waits for PostgreSQL to accept a connection (libpq connect_timeout): a host that does not
# answer at all (frozen, unreachable) fails in seconds instead of the operating system's TCP timeout.
WEB_CONNECT_TIMEOUT_SECONDS = 5

BUSY = "busy"  # the embedded DuckDB file is locked by a writer (an import, the demo generator)
DOWN = "down"  # the database does not answer (PostgreSQL stopped, restarting, unreachable)

# Key of the filter-state store's value while the database does not answer: {"unavailable": "down"} (the chart
# cards then show the notice instead of waiting for a state the filter sync could not compute).
UNAVAILABLE_KEY = "unavailable"


def unavailable_kind(exc: BaseException) -> str | None:
    """Return BUSY or DOWN when `exc` means the database cannot be read right now (locked or not answering), None
    for any other error (a missing table, a bug: those are shown as errors, not retried)."""
    for item in exception_chain(exc, implicit=False):
        if isinstance(item, db.DatabaseBusyError):
            return BUSY
        text = str(item)
        if "Could not set lock" in text or "Conflicting lock" in text or "database is locked" in text:
            return BUSY  # DuckDB's lock errors, SQLite's busy timeout
        if isinstance(item, sa.exc.TimeoutError):  # no pooled connection came free in time
            return DOWN
        if isinstance(item, sa.exc.DBAPIError) and item.connection_invalidated:
            return DOWN
        if type(item).__module__.startswith("psycopg"):
            import psycopg

            if isinstance(item, (psycopg.OperationalError, psycopg.InterfaceError)):
                return DOWN  # refused, closed, shut down by the administrator, cancelled
    return None


def unavailable_marker(kind: str) -> dict[str, str]:
    """Return the filter-state store value meaning "the database is `kind` (BUSY or DOWN); no state yet"."""
    return {UNAVAILABLE_KEY: kind}


def marker_kind(stored: Any) -> str | None:
    """Return BUSY or DOWN when `stored` is the marker of an unavailable database, else None."""
    if isinstance(stored, Mapping) and stored.get(UNAVAILABLE_KEY) in (BUSY, DOWN):
        return stored[UNAVAILABLE_KEY]
    return None


@dataclass
class AppContext:
    """Settings and shared resources of one Dash app instance."""

    config: Config
    engine: sa.Engine
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> "AppContext":
        """Return a context whose engine reads the configured database (DuckDB files read-only, waiting at most
        WEB_LOCK_WAIT_SECONDS for a writer's lock; PostgreSQL connections give up after
        WEB_CONNECT_TIMEOUT_SECONDS)."""
        url = db.resolve_url(config.database_url)
        spec = backend_spec(url)
        read_only = spec.read_only_readers
        if read_only:
            path = spec.database_file(sa.make_url(url))
            if path is not None and not path.exists():
                # a read-only handle needs an existing file: create it, with the empty schema
                writer = db.make_engine(config.database_url)
                db.create_schema(writer)
                writer.dispose()
        return cls(config=config, engine=db.make_engine(config.database_url, read_only=read_only,
                                                        lock_timeout=WEB_LOCK_WAIT_SECONDS,
                                                        connect_timeout=WEB_CONNECT_TIMEOUT_SECONDS))

    def data_version(self) -> str:
        """Return the current data version of the database."""
        with self.engine.connect() as conn:
            return db.get_data_version(conn)
