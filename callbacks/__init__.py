"""Callbacks: read inputs, call metrics (through the cache), hand frames to layouts. Registered in create_app().

Each page has a module here with `register(app, ctx)`; it is registered when its layout module exists
(pages land one by one). Callback bodies are named module-level functions taking `ctx`, so tests call
them as plain functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from dash import Dash

from dashboard.cache import get_metric_cache
from dashboard.context import AppContext
from layouts.shell import ALL_PAGES

log = logging.getLogger(__name__)


def page_callback_modules() -> list[str]:
    """Return the callback modules of the pages whose layout and callback modules both exist."""
    names = []
    for page in ALL_PAGES:
        if page.module is None or not page.available:
            continue
        callback_module = "callbacks." + page.module.split(".", 1)[1]
        if importlib.util.find_spec(callback_module) is not None:
            names.append(callback_module)
    return names


def register_callbacks(app: Dash, ctx: AppContext) -> None:
    """Attach every callback of the dashboard to `app` and create the metric cache on `ctx`."""
    from callbacks import filters, routing

    cache = get_metric_cache(ctx)
    log.info("metric cache: %s", cache.kind)
    routing.register(app, ctx)
    filters.register(app, ctx)
    for name in page_callback_modules():
        importlib.import_module(name).register(app, ctx)
