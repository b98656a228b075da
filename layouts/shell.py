"""The frame every page shares: navigation bar, URL location, global filter bar, page container; what a page is.

A `Page` names its layout module and its callbacks module; the pages themselves are listed once, in
`callbacks.pages.ALL_PAGES` (the one module that imports both sides). A layout module (e.g.
`layouts/acquisition.py`) provides `page_layout(params: dict[str, str], cards: dict[str, card]) -> component`
(it arranges the cards of the page's declared charts) and may define `PAGE_PARAMS` (page-specific URL
parameters) and `FILTERS` (which of "observation_date", "horizon" the page uses). A callbacks module (e.g.
`callbacks/acquisition.py`) provides `CHARTS` (its `layouts.charts.Chart` declarations) and may define
`register(app, ctx)` for callbacks other than its charts'.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Callable

import dash_bootstrap_components as dbc
from dash import dcc, html

from flask_wtf.csrf import generate_csrf

from dashboard.access_rules import request_principal
from dashboard.web_auth import auth_state, open_mode_banner
from layouts.charts import Chart, chart_cards
from layouts.filters import filter_bar
from layouts.ids import FilterIds, ShellIds, nav_link_id
from layouts.paths import app_path


@dataclass(frozen=True)
class Page:
    """A page: URL path, navbar label, its layout module (None = built in) and its callbacks module.

    A page may also be ONE module, given as `module` with no `callbacks`: it declares `CHARTS` (and optionally
    `FILTERS`, `PAGE_PARAMS`, `register`); without its own `page_layout` its cards are stacked under its label.
    """

    path: str
    label: str
    module: ModuleType | None
    callbacks: ModuleType | None = None

    def load(self) -> ModuleType | None:
        """Return the page's layout module (None for built-in pages)."""
        return self.module

    @property
    def _declaring(self) -> ModuleType | None:
        """Return the module that declares the page's charts: its callbacks module, else its one module."""
        return self.callbacks if self.callbacks is not None else self.module

    @property
    def available(self) -> bool:
        """True when the page is built in, or its module provides `page_layout` or declares `CHARTS`."""
        return (self.module is None or callable(getattr(self.module, "page_layout", None))
                or bool(getattr(self.module, "CHARTS", ())))

    @property
    def page_params(self) -> tuple:
        """Return the page's specific URL parameters (`PAGE_PARAMS` of its module)."""
        module = self.load() if self.available else None
        return tuple(getattr(module, "PAGE_PARAMS", ())) if module else ()

    @property
    def filters(self) -> tuple[str, ...]:
        """Return which global filters the page uses ("dates", "attributes", "observation_date", "horizon")."""
        if self.module is None:
            return ()
        module = self.load() if self.available else None
        return tuple(getattr(module, "FILTERS", ("dates", "attributes", "observation_date"))) if module else ()

    @property
    def charts(self) -> tuple[Chart, ...]:
        """Return the page's chart declarations (`CHARTS` of its callbacks module or one module), in layout order."""
        return tuple(getattr(self._declaring, "CHARTS", ())) if self._declaring is not None else ()

    @property
    def register_extra(self) -> Callable | None:
        """Return the `register(app, ctx)` of the page's callbacks module for callbacks other than its charts'."""
        return getattr(self._declaring, "register", None) if self._declaring is not None else None

    def layout(self, params: dict[str, str]):
        """Return the page's layout for the page parameter values `params`: its charts' cards, arranged."""
        cards = chart_cards(self.charts, params)
        arrange = getattr(self.module, "page_layout", None)
        if arrange is None:
            return stacked_page_layout(self.label, cards)
        return arrange(params, cards)


def stacked_page_layout(title: str, cards: dict) -> html.Div:
    """Return a page of one-module pages: its title, then its chart cards one under the other."""
    return html.Div([html.H2(title, className="h4 mb-3"),
                     *[html.Div(card, className="mb-3") for card in cards.values()]])


def navbar(pages: tuple[tuple[str, str], ...]) -> dbc.Navbar:
    """Return the navigation bar with a link per (path, label) page (hrefs get the current filters by callback)."""
    links = [dbc.NavItem(dbc.NavLink(label, href=app_path(path), id=nav_link_id(path))) for path, label in pages]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Marketing analytics", href=app_path("/")),
                dbc.Nav(links, navbar=True, className="me-auto"),
                dcc.Link("Reset filters", href=app_path("/"), id=ShellIds.RESET,
                         className="nav-link text-light small"),
                *signed_in_user(),
            ],
            fluid=True,
        ),
        color="dark", dark=True, className="mb-3", id=ShellIds.NAVBAR,
    )


SIGNED_IN_ID = "navbar-signed-in"  # the signed-in user's name and role, and the Sign out button


def signed_in_user() -> list:
    """Return the navbar's signed-in user (name, role) and its Sign out button (a POST form to /logout with the
    CSRF token), [] when nobody is signed in (the open local mode, a bearer token)."""
    principal = request_principal()
    state = auth_state()
    if principal is None or principal.scope is not None or state is None:
        return []
    account = principal.account
    sign_out = html.Form([dbc.Input(type="hidden", name="csrf_token", value=generate_csrf()),
                          html.Button("Sign out", type="submit", className="btn btn-outline-light btn-sm py-0")],
                         action=state.url("logout"), method="POST", className="d-inline mb-0 ms-2")
    return [html.Div([html.Span(account.name, className="fw-semibold"),
                      html.Span(f"· {account.role.value}", className="text-white-50 ms-1"), sign_out],
                     id=SIGNED_IN_ID, className="navbar-text text-light small d-flex align-items-center ms-2")]


def app_layout(pages: tuple[tuple[str, str], ...]) -> html.Div:
    """Return the app's root layout: location, navigation to the (path, label) `pages`, filter bar, notes and the
    page container."""
    return html.Div(
        [
            dcc.Location(id=ShellIds.URL, refresh=False), *open_mode_banner(),
            navbar(pages),
            dbc.Container(
                [filter_bar(), html.Div(id=FilterIds.NOTES), html.Div(id=ShellIds.PAGE)],
                fluid=True, className="pb-4 page-container",
            ),
        ]
    )
