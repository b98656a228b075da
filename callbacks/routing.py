"""Page routing: the URL path picks the page layout (pages are declared in callbacks.pages.ALL_PAGES)."""

from __future__ import annotations

import logging

from dash import ALL, Dash, Input, Output, State, callback_context, html
from dash.exceptions import PreventUpdate

from callbacks.filters import retry_attempt
from callbacks.pages import page_for
from dashboard import db
from dashboard.context import AppContext, unavailable_kind
from dashboard.errors import error_summary
from layouts.common import error_state, retry_interval_id, unavailable_state
from layouts.data_page import data_page
from layouts.filters import parse_page_params
from layouts.ids import ShellIds

log = logging.getLogger(__name__)

DATA_PAGE_SOURCE = "data-page"  # the retry timer of the data page's database notice


def not_found(pathname: str | None) -> html.Div:
    """Return the page shown for an unknown path."""
    return html.Div([html.H2("Page not found", className="h4"), html.P(f"There is no page at {pathname}.")],
                    id=ShellIds.NOT_FOUND)


def render_page(pathname: str | None, ctx: AppContext, search: str | None = None, retry_attempt: int = 0):
    """Return the layout of the page at `pathname`; page-specific controls start from the URL `search`. The data
    page, the only one read while routing, shows the database notice (retrying by itself) when it cannot be read."""
    page = page_for(pathname)
    if page is None:
        return not_found(pathname)
    if page.module is None:  # the built-in data page
        try:
            with ctx.engine.connect() as conn:
                return data_page(db.db_info(conn))
        except Exception as exc:
            kind = unavailable_kind(exc)
            if kind is None:
                raise
            log.warning("data page: database %s (%s)", kind, error_summary(exc))
            return unavailable_state(kind, DATA_PAGE_SOURCE, retry_attempt)
    try:
        params, _ = parse_page_params(search, page.page_params)
        return page.layout(params)
    except Exception as exc:  # noqa: BLE001 - a broken page shows a notice; the other pages keep working
        log.exception("page %s failed to render", page.path)
        return error_state(f"The page {page.label} could not be built ({error_summary(exc)}; details in the "
                           "server log).")


def register(app: Dash, ctx: AppContext) -> None:
    """Register the routing callback on `app`."""

    @app.callback(Output(ShellIds.PAGE, "children"), Input(ShellIds.URL, "pathname"),
                  Input(retry_interval_id(DATA_PAGE_SOURCE, ALL), "n_intervals"), State(ShellIds.URL, "search"))
    def _route(pathname, retries, search):
        attempt = retry_attempt(callback_context.triggered_id, retries)
        if attempt is None:
            raise PreventUpdate  # the notice's retry timer appeared; it fires later
        return render_page(pathname, ctx, search, attempt)
