"""Callbacks: read inputs, call metrics, hand frames to layouts. Registered per app in create_app()."""

from __future__ import annotations

from dash import Dash

from dashboard.context import AppContext


def register_callbacks(app: Dash, ctx: AppContext) -> None:
    """Attach every callback of the dashboard to `app`."""
    from callbacks import routing

    routing.register(app, ctx)
