"""Page routing: the URL path picks the page layout."""

from __future__ import annotations

from dash import Dash, Input, Output, html

from dashboard import db
from dashboard.context import AppContext
from layouts.data_page import data_page
from layouts.ids import ShellIds


def render_page(pathname: str | None, ctx: AppContext):
    """Return the layout of the page at `pathname`."""
    if pathname in (None, "", "/", "/data"):
        with ctx.engine.connect() as conn:
            return data_page(db.db_info(conn))
    return html.Div([html.H2("Page not found", className="h4"), html.P(f"There is no page at {pathname}.")],
                    id="not-found")


def register(app: Dash, ctx: AppContext) -> None:
    """Register the routing callback on `app`."""

    @app.callback(Output(ShellIds.PAGE, "children"), Input(ShellIds.URL, "pathname"))
    def _route(pathname):
        return render_page(pathname, ctx)
