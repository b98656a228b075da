"""Fixtures shared by the callback tests: an app context on the shared demo database."""

from __future__ import annotations

import pytest

from app import create_app
from dashboard.config import Config


def app_context(url: str):
    """Return the AppContext of a new app on database `url` (its charts' callbacks registered)."""
    return create_app(Config(database_url=url, autofill_demo=False)).server.extensions["dashboard_context"]


@pytest.fixture(scope="module")
def demo_ctx(demo_duckdb_url):
    """An app context on the shared DuckDB demo database (3,000 demo users, 2026-05-01 .. 2026-10-31, read only)."""
    ctx = app_context(demo_duckdb_url)
    yield ctx
    ctx.engine.dispose()
