"""The frame every page shares: navigation bar, URL location, page container."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.ids import ShellIds

# (path, label) of every page, in navigation order.
PAGES: tuple[tuple[str, str], ...] = (
    ("/", "Overview"),
    ("/data", "Data"),
)


def navbar(pages: tuple[tuple[str, str], ...] = PAGES) -> dbc.Navbar:
    """Return the navigation bar with a link per page."""
    links = [dbc.NavItem(dbc.NavLink(label, href=path, active="exact")) for path, label in pages]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Marketing analytics", href="/"),
                dbc.Nav(links, navbar=True, className="me-auto"),
            ],
            fluid=True,
        ),
        color="dark", dark=True, className="mb-3", id=ShellIds.NAVBAR,
    )


def app_layout() -> html.Div:
    """Return the app's root layout: location, navigation and the page container."""
    return html.Div(
        [
            dcc.Location(id=ShellIds.URL, refresh=False),
            navbar(),
            dbc.Container(html.Div(id=ShellIds.PAGE), fluid=True, className="pb-4"),
        ]
    )
