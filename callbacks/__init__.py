"""Callbacks: read inputs, call metrics (through the cache), hand frames to layouts. Registered in create_app().

Every page is one entry of `callbacks.pages.ALL_PAGES`; its callbacks module declares its charts (`CHARTS`),
whose callbacks `callbacks.charts.register_page_charts` generates here, and may add others with `register(app, ctx)`.
Callback bodies are named module-level functions taking `ctx`, so tests call them as plain functions.
"""

from __future__ import annotations

import logging

from dash import Dash

from callbacks import admin_accounts, data_admin, filters, routing
from callbacks.charts import register_page_charts
from callbacks.pages import available_pages
from dashboard.cache import get_metric_cache
from dashboard.context import AppContext

log = logging.getLogger(__name__)


def register_callbacks(app: Dash, ctx: AppContext) -> None:
    """Attach every callback of the dashboard to `app` and create the metric cache on `ctx`."""
    cache = get_metric_cache(ctx)
    log.info("metric cache: %s", cache.kind)
    routing.register(app, ctx)
    filters.register(app, ctx)
    admin_accounts.register(app, ctx)  # the Data page's accounts and API tokens panel
    data_admin.register(app, ctx)  # the Data page's uploads, jobs, job history and audit log
    for page in available_pages():
        register_page_charts(app, ctx, page.charts, page.label)  # the label names the page in download file names
        if page.register_extra is not None:
            page.register_extra(app, ctx)
