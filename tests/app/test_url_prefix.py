"""The app under a URL path prefix (behind a reverse proxy, issue 19 part 4's README): every link of the app and
its routing go through layouts/paths.py, so that with DASH_URL_BASE_PATHNAME=/app/ the pages are at /app/...,
the navbar links there, and a path outside the prefix is no page. In headless Chromium: a page opened under the
prefix draws its charts, and the navbar link to another page keeps the prefix."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from callbacks.filters import nav_hrefs, navigation
from callbacks.pages import app_layout, available_pages
from callbacks.routing import render_page
from dashboard.config import Config
from layouts.ids import AcquisitionIds, CohortIds, ShellIds, nav_link_id

PREFIX = "/app/"


@pytest.fixture
def prefixed_app(demo_duckdb_url, monkeypatch):
    """The dashboard on the shared DuckDB demo, served under /app/ (Dash reads DASH_URL_BASE_PATHNAME)."""
    monkeypatch.setenv("DASH_URL_BASE_PATHNAME", PREFIX)
    return create_app(Config(database_url=demo_duckdb_url, autofill_demo=False))


def _ids(component) -> set:
    """Return the ids of `component` and everything inside it."""
    return {c.id for c in [component, *component._traverse()] if isinstance(getattr(c, "id", None), str)}


def test_pfx001_routing_and_links_follow_the_prefix(prefixed_app):
    ctx = prefixed_app.server.extensions["dashboard_context"]
    client = prefixed_app.server.test_client()
    assert client.get("/app/cohorts").status_code == 200 and client.get("/app/_dash-layout").status_code == 200
    with prefixed_app.server.test_request_context("/app/cohorts"):
        assert CohortIds.PAGE in _ids(render_page("/app/cohorts", ctx))
        assert AcquisitionIds.PAGE in _ids(render_page("/app/acquisition/", ctx))
        assert ShellIds.NOT_FOUND in _ids(render_page("/cohorts", ctx))  # outside the prefix: no page
        layout = app_layout()
        hrefs = {c.id["path"]: c.href for c in [layout, *layout._traverse()]
                 if isinstance(getattr(c, "id", None), dict) and c.id.get("type") == "nav-link"}
        assert hrefs == {page.path: PREFIX.rstrip("/") + page.path for page in available_pages()}
        links = [{"type": "nav-link", "path": page.path} for page in available_pages()]
        active, reset, *_ = navigation("/app/cohorts", links)
        assert all(href.startswith(PREFIX) for href in nav_hrefs(links, "?channel=TipTop")) and reset == "/app/cohorts"
        assert active == [page.path == "/cohorts" for page in available_pages()]


@pytest.mark.browser
def test_pfx002_in_the_browser_a_page_under_the_prefix_draws_and_its_links_keep_it(dash_duo, prefixed_app):
    dash_duo.start_server(prefixed_app, navigate=False)  # nothing is served at the root, only under /app/
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    base = dash_duo.server.url.rstrip("/")
    driver.get(base + "/app/acquisition")
    dash_duo.wait_for_element(f"#{AcquisitionIds.NEW_USERS}-graph .main-svg", timeout=60)
    link_id = _dash_id(nav_link_id("/cohorts"))
    link = driver.find_element(By.CSS_SELECTOR, f"[id='{link_id}']")
    assert link.get_attribute("href").startswith(base + "/app/cohorts")
    link.click()
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.ID, CohortIds.PAGE))
    assert driver.current_url.startswith(base + "/app/cohorts")
    assert dash_duo.get_logs() == []


def _dash_id(component_id: dict) -> str:
    """Return a pattern-matching id as Dash writes it into the DOM (sorted compact JSON)."""
    import json

    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))
