"""Callbacks: read inputs, call metrics (through the cache), hand frames to layouts. Registered in create_app().

Each page has a module here with `register(app, ctx)`, listed in `PAGE_CALLBACK_MODULES` in navigation order
(`layouts.shell.ALL_PAGES`). Callback bodies are named module-level functions taking `ctx`, so tests call
them as plain functions.
"""

from __future__ import annotations

import logging

from dash import Dash

from callbacks import acquisition, cohorts, filters, marketing, overview, risk, routing
from dashboard.cache import get_metric_cache
from dashboard.context import AppContext

log = logging.getLogger(__name__)

# The callback module of every page with charts, in navigation order.
PAGE_CALLBACK_MODULES = (overview, acquisition, marketing, cohorts, risk)


def register_callbacks(app: Dash, ctx: AppContext) -> None:
    """Attach every callback of the dashboard to `app` and create the metric cache on `ctx`."""
    cache = get_metric_cache(ctx)
    log.info("metric cache: %s", cache.kind)
    routing.register(app, ctx)
    filters.register(app, ctx)
    for module in PAGE_CALLBACK_MODULES:
        module.register(app, ctx)
