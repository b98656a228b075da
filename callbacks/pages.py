"""The page registry: every page, declared once, in navigation order (one line per page).

A `layouts.shell.Page` names the page's layout module (pure: its view functions and `page_layout`) and its
callbacks module (its `CHARTS` declarations and, optionally, `register(app, ctx)` for other callbacks). This is
the one module that imports both sides of every page: routing, the filter sync, the warm-up and
`callbacks.register_callbacks` read the pages from here. Importing it registers nothing.
"""

from __future__ import annotations

import callbacks.acquisition
import callbacks.cohorts
import callbacks.forecast
import callbacks.marketing
import callbacks.overview
import callbacks.risk
import layouts.acquisition
import layouts.cohorts
import layouts.forecast
import layouts.marketing
import layouts.overview
import layouts.risk
from layouts.paths import page_path
from layouts.shell import Page
from layouts.shell import app_layout as shell_layout

# Every page, in navigation order.
ALL_PAGES: tuple[Page, ...] = (
    Page("/", "Overview", layouts.overview, callbacks.overview),
    Page("/acquisition", "Acquisition", layouts.acquisition, callbacks.acquisition),
    Page("/marketing", "Marketing", layouts.marketing, callbacks.marketing),
    Page("/cohorts", "Cohorts", layouts.cohorts, callbacks.cohorts),
    Page("/risk", "Risk", layouts.risk, callbacks.risk),
    Page("/forecast", "Forecast", layouts.forecast, callbacks.forecast),
    Page("/data", "Data", None),
)


def available_pages() -> tuple[Page, ...]:
    """Return the pages whose modules provide a layout (every page in `ALL_PAGES`)."""
    return tuple(page for page in ALL_PAGES if page.available)


def page_for(pathname: str | None) -> Page | None:
    """Return the available page at browser path `pathname` (under the app's URL prefix, trailing slash ignored),
    or None."""
    path = page_path(pathname)
    return next((page for page in available_pages() if page.path == path), None)


# (path, label) of every available page, in navigation order.
PAGES: tuple[tuple[str, str], ...] = tuple((page.path, page.label) for page in available_pages())


def app_layout():
    """Return the app's root layout (layouts.shell.app_layout) with a navbar link to every page."""
    return shell_layout(PAGES)
