"""The database engines the product runs on: one `BackendSpec` per engine, in one file each, and their registry.

`backend_spec(x)` returns the spec of an engine, a connection, a dialect, a URL or a name, and raises
`UnsupportedBackendError` (naming the engine and the supported ones) for anything else. Adding an engine is one
new module here plus one line in `BACKENDS` (docs/architecture.md, "Adding a backend").
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dashboard.backends.base import (DEFAULT_LOCK_WAIT, FIRST_VISIT_SHAPES, BackendSpec,
                                     DatabaseBusyError, UnsupportedBackendError, busy_message)
from dashboard.backends.duckdb import DuckDBSpec
from dashboard.backends.postgresql import PostgreSQLSpec
from dashboard.backends.sqlite import SQLiteSpec

# The registry: dialect name -> spec. A new engine is one line here.
BACKENDS: dict[str, BackendSpec] = {spec.name: spec for spec in (
    DuckDBSpec(),
    PostgreSQLSpec(),
    SQLiteSpec(),
)}

# URL scheme (before any "+driver") -> spec: each engine's own name and the further schemes it answers to
_BY_SCHEME: dict[str, BackendSpec] = {scheme: spec for spec in BACKENDS.values()
                                      for scheme in (spec.name, *spec.url_schemes)}

__all__ = ["BACKENDS", "DEFAULT_LOCK_WAIT", "FIRST_VISIT_SHAPES", "BackendSpec",
           "DatabaseBusyError", "UnsupportedBackendError", "backend_spec", "busy_message", "contract_text_type",
           "url_scheme"]


def url_scheme(url: str) -> str:
    """Return the engine part of a URL's scheme: "postgresql" of "postgresql+psycopg://...", "" when there is none."""
    head, sep, _ = url.partition(":")
    return head.split("+", 1)[0].lower() if sep else ""


def backend_spec(target: Any) -> BackendSpec:
    """Return the spec of `target`: a BackendSpec, a dialect name, a URL (text or `sa.URL`), or anything with a
    `.dialect` (Engine, Connection) or a `.name` (a Dialect); UnsupportedBackendError for any other engine."""
    if isinstance(target, BackendSpec):
        return target
    if isinstance(target, sa.URL):
        name = target.get_backend_name()
    elif isinstance(target, str):
        name = url_scheme(target) if "://" in target else target
    else:
        dialect = getattr(target, "dialect", target)
        name = getattr(dialect, "name", None)
    spec = _BY_SCHEME.get(name) if isinstance(name, str) else None
    if spec is None:
        raise UnsupportedBackendError(str(name), tuple(BACKENDS))
    return spec


def contract_text_type() -> sa.types.TypeEngine:
    """Return the type of the contract's text columns: compared in code-point order on every engine (a collation
    variant for each engine whose default order differs)."""
    text = sa.String()
    for spec in BACKENDS.values():
        if spec.text_collation is not None:
            text = text.with_variant(sa.String(collation=spec.text_collation), spec.name)
    return text
