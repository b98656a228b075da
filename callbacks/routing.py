"""Page routing: the URL path picks the page layout (pages are declared in layouts.shell.ALL_PAGES)."""

from __future__ import annotations

import logging

from dash import Dash, Input, Output, State, html

from dashboard import db
from dashboard.context import AppContext
from layouts.common import error_state, error_summary
from layouts.data_page import data_page
from layouts.filters import parse_page_params
from layouts.ids import ShellIds
from layouts.shell import page_for

log = logging.getLogger(__name__)


def not_found(pathname: str | None) -> html.Div:
    """Return the page shown for an unknown path."""
    return html.Div([html.H2("Page not found", className="h4"), html.P(f"There is no page at {pathname}.")],
                    id="not-found")


def render_page(pathname: str | None, ctx: AppContext, search: str | None = None):
    """Return the layout of the page at `pathname`; page-specific controls start from the URL `search`."""
    page = page_for(pathname)
    if page is None:
        return not_found(pathname)
    if page.module is None:  # the built-in data page
        with ctx.engine.connect() as conn:
            return data_page(db.db_info(conn))
    try:
        module = page.load()
        params, _ = parse_page_params(search, getattr(module, "PAGE_PARAMS", ()))
        return module.page_layout(params)
    except Exception as exc:  # noqa: BLE001 - a broken page shows a notice; the other pages keep working
        log.exception("page %s failed to render", page.path)
        return error_state(f"The page {page.label} could not be built ({error_summary(exc)}; details in the "
                           "server log).")


def register(app: Dash, ctx: AppContext) -> None:
    """Register the routing callback on `app`."""

    @app.callback(Output(ShellIds.PAGE, "children"), Input(ShellIds.URL, "pathname"), State(ShellIds.URL, "search"))
    def _route(pathname, search):
        return render_page(pathname, ctx, search)
