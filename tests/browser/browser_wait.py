"""Waiting helpers for the browser tests (dash_duo)."""

from __future__ import annotations

import time

# [document width, window width]: a page wider than its window scrolls sideways
PAGE_WIDTH = "return [document.documentElement.scrollWidth, window.innerWidth];"
# what sticks out on the right of the window (id or class @ its right edge), for a failure message
WIDE_ELEMENTS = """
const w = window.innerWidth;
const clipped = e => { for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') { return true; } } return false; };
return Array.from(document.querySelectorAll('body *')).filter(e => e.getBoundingClientRect().right > w + 1
    && !clipped(e)).slice(0, 8).map(e => (e.id || e.className || e.tagName).toString().slice(0, 60)
    + '@' + Math.round(e.getBoundingClientRect().right));
"""


def wait_until_idle(dash_duo, quiet: float = 1.0, timeout: float = 20.0) -> None:
    """Return once no Dash component has been loading for `quiet` seconds; AssertionError after `timeout`."""
    deadline = time.time() + timeout
    quiet_since = None
    while time.time() < deadline:
        if dash_duo.driver.execute_script("return document.querySelectorAll('[data-dash-is-loading=\"true\"]').length"):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since >= quiet:
            return
        time.sleep(0.1)
    raise AssertionError("the page kept loading")


def open_risk_page(dash_duo, database_url: str) -> None:
    """Serve the app on `database_url` and open its Risk page at 1440x900 (returns once the page has loaded)."""
    from app import create_app
    from dashboard.config import Config

    app = create_app(Config(database_url=database_url, autofill_demo=False))
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.wait_for_page(url=dash_duo.server_url + "/risk", timeout=20)
