"""The frame every page shares: navigation bar, URL location, global filter bar, page container.

Pages are declared once in `ALL_PAGES`, with their layout modules imported here. A page module (e.g.
`layouts/acquisition.py`) provides `page_layout(params: dict[str, str]) -> component` and may define
`PAGE_PARAMS` (page-specific URL parameters) and `FILTERS` (which of "observation_date", "horizon" the page uses).
A new page is one module plus one line in `ALL_PAGES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts import acquisition, cohorts, marketing, overview, risk
from layouts.filters import filter_bar
from layouts.ids import FilterIds, ShellIds, nav_link_id


@dataclass(frozen=True)
class Page:
    """A page: URL path, navbar label, and the layout module holding its `page_layout` (None = built in)."""

    path: str
    label: str
    module: ModuleType | None

    def load(self) -> ModuleType | None:
        """Return the page's layout module (None for built-in pages)."""
        return self.module

    @property
    def available(self) -> bool:
        """True when the page is built in or its module provides `page_layout`."""
        return self.module is None or callable(getattr(self.module, "page_layout", None))

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


# Every page, in navigation order.
ALL_PAGES: tuple[Page, ...] = (
    Page("/", "Overview", overview),
    Page("/acquisition", "Acquisition", acquisition),
    Page("/marketing", "Marketing", marketing),
    Page("/cohorts", "Cohorts", cohorts),
    Page("/risk", "Risk", risk),
    Page("/data", "Data", None),
)


def available_pages() -> tuple[Page, ...]:
    """Return the pages whose modules provide a layout (every page in `ALL_PAGES`)."""
    return tuple(page for page in ALL_PAGES if page.available)


def page_for(pathname: str | None) -> Page | None:
    """Return the available page at `pathname` (trailing slash ignored), or None."""
    path = (pathname or "/").rstrip("/") or "/"
    return next((page for page in available_pages() if page.path == path), None)


# (path, label) of every available page, in navigation order.
PAGES: tuple[tuple[str, str], ...] = tuple((page.path, page.label) for page in available_pages())


def navbar(pages: tuple[tuple[str, str], ...] | None = None) -> dbc.Navbar:
    """Return the navigation bar with a link per page (hrefs get the current filters by callback)."""
    pages = pages if pages is not None else tuple((p.path, p.label) for p in available_pages())
    links = [dbc.NavItem(dbc.NavLink(label, href=path, id=nav_link_id(path))) for path, label in pages]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand("Marketing analytics", href="/"),
                dbc.Nav(links, navbar=True, className="me-auto"),
                dcc.Link("Reset filters", href="/", id=ShellIds.RESET, className="nav-link text-light small"),
            ],
            fluid=True,
        ),
        color="dark", dark=True, className="mb-3", id=ShellIds.NAVBAR,
    )


def app_layout() -> html.Div:
    """Return the app's root layout: location, navigation, filter bar, notes and the page container."""
    return html.Div(
        [
            dcc.Location(id=ShellIds.URL, refresh=False),
            navbar(),
            dbc.Container(
                [filter_bar(), html.Div(id=FilterIds.NOTES), html.Div(id=ShellIds.PAGE)],
                fluid=True, className="pb-4 page-container",
            ),
        ]
    )
