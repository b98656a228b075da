"""What the web app's callbacks and routes share: settings, the read engine, the metric cache."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from dashboard import db
from dashboard.config import Config


@dataclass
class AppContext:
    """Settings and shared resources of one Dash app instance."""

    config: Config
    engine: sa.Engine
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config) -> "AppContext":
        """Return a context whose engine reads the configured database (DuckDB files read-only)."""
        url = db.resolve_url(config.database_url)
        read_only = url.startswith("duckdb:")
        if read_only:
            path = sa.make_url(url).database
            if path and path != ":memory:" and not Path(path).exists():
                # a read-only handle needs an existing file: create it, with the empty schema
                writer = db.make_engine(config.database_url)
                db.create_schema(writer)
                writer.dispose()
        return cls(config=config, engine=db.make_engine(config.database_url, read_only=read_only, lock_timeout=15))

    def data_version(self) -> str:
        """Return the current data version of the database."""
        with self.engine.connect() as conn:
            return db.get_data_version(conn)
