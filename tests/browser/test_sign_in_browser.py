"""Sign-in in headless Chromium (issue 19): the open local mode's banner; with accounts, the Overview asks for a
sign-in, the form signs in and comes back, and the Overview draws its charts under the Content-Security-Policy with
no console error (Dash's callbacks carry the CSRF token through assets/csrf.js); a viewer's Risk page draws its
aggregate cards and not the customer table; a session that ends sends the next click to the sign-in form.
Screenshots in tests/artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from app import create_app
from dashboard import accounts
from dashboard.accounts import Role
from dashboard.config import Config
from dashboard.web_auth import ACCOUNT_CACHE_SECONDS, BANNER_ID, OPEN_MODE_BANNER, WRONG_SIGN_IN
from tests.app.auth_helpers import PASSWORD, add_account, run_on
from tests.browser.browser_wait import wait_until_idle

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CSP_VIOLATIONS = ("window.__cspViolations = window.__cspViolations || [];"
                  "document.addEventListener('securitypolicyviolation', e => window.__cspViolations.push("
                  "e.violatedDirective + ' ' + e.blockedURI));")

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_copy(shared_demo, tmp_path):
    """URL of a private copy of the shared DuckDB demo (accounts may be added to it)."""
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    yield url
    cleanup()


def _serve(dash_duo, url: str, tmp_path: Path) -> None:
    """Start the app on `url` in dash_duo at 1440x900 (not opened: with accounts "/" is the sign-in page)."""
    dash_duo.start_server(create_app(Config(database_url=url, autofill_demo=False, model_dir=tmp_path / "models")),
                          navigate=False)
    dash_duo.driver.set_window_size(1440, 900)


def _sign_in(dash_duo, name: str, password: str) -> None:
    """Fill and send the sign-in form on the current page."""
    dash_duo.wait_for_element("#username", timeout=20).send_keys(name)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#sign-in").click()


def _severe_logs(dash_duo) -> list:
    """Return the browser's console errors (and warnings about the policy) since the last call."""
    return [entry for entry in dash_duo.get_logs() or [] if entry.get("level") == "SEVERE"
            or "Content Security Policy" in entry.get("message", "")]


def test_sb001_the_open_mode_shows_its_banner(dash_duo, demo_copy, tmp_path):
    _serve(dash_duo, demo_copy, tmp_path)
    dash_duo.driver.get(dash_duo.server.url + "/")
    banner = dash_duo.wait_for_element(f"#{BANNER_ID}", timeout=60)
    assert banner.text == OPEN_MODE_BANNER
    dash_duo.wait_for_element("#kpi-users-value", timeout=60)
    wait_until_idle(dash_duo)
    assert _severe_logs(dash_duo) == []


def test_sb002_sign_in_then_the_overview_works_under_the_policy(dash_duo, demo_copy, tmp_path):
    add_account(demo_copy, "ann", Role.VIEWER)
    _serve(dash_duo, demo_copy, tmp_path)
    driver = dash_duo.driver
    driver.get(dash_duo.server.url + "/cohorts?period=all")
    dash_duo.wait_for_element("#login-form", timeout=20)
    assert "/login?next=/cohorts" in driver.current_url
    _sign_in(dash_duo, "ann", "not it at all")
    assert dash_duo.wait_for_element("#auth-message", timeout=20).text == WRONG_SIGN_IN
    driver.find_element(By.ID, "username").clear()
    _sign_in(dash_duo, "ann", PASSWORD)
    dash_duo.wait_for_element("#coh-retention-heatmap-body", timeout=60)
    assert driver.current_url == dash_duo.server.url + "/cohorts?period=all"

    driver.get(dash_duo.server.url + "/")
    driver.execute_script(CSP_VIOLATIONS)
    value = dash_duo.wait_for_element("#kpi-users-value", timeout=60)  # drawn by a callback: CSRF header sent
    wait_until_idle(dash_duo)
    assert value.text.strip() not in ("", "…")
    assert dash_duo.find_elements(f"#{BANNER_ID}") == []
    assert driver.execute_script("return document.querySelectorAll('.js-plotly-plot').length") >= 2
    assert driver.execute_script("return window.__cspViolations") == []
    assert _severe_logs(dash_duo) == []
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "sign_in_overview.png"))


def test_sb003_a_viewer_sees_the_risk_cards_but_not_the_customer_table(dash_duo, demo_copy, tmp_path):
    add_account(demo_copy, "vic", Role.VIEWER)
    _serve(dash_duo, demo_copy, tmp_path)
    dash_duo.driver.get(dash_duo.server.url + "/risk")
    _sign_in(dash_duo, "vic", PASSWORD)
    dash_duo.wait_for_element("#risk-distribution-body", timeout=60)
    wait_until_idle(dash_duo, quiet=2.0, timeout=60)
    assert dash_duo.find_elements("#risk-customers-graph .ag-row") == []  # its callback answered 403
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "sign_in_viewer_risk.png"))


def test_sb004_when_the_session_ends_the_next_click_shows_the_sign_in_form(dash_duo, demo_copy, tmp_path):
    add_account(demo_copy, "ann", Role.VIEWER)
    _serve(dash_duo, demo_copy, tmp_path)
    dash_duo.driver.get(dash_duo.server.url + "/")
    _sign_in(dash_duo, "ann", PASSWORD)
    dash_duo.wait_for_element("#kpi-users-value", timeout=60)
    wait_until_idle(dash_duo)
    run_on(demo_copy, lambda conn: accounts.disable_account(conn, "ann"))
    time.sleep(ACCOUNT_CACHE_SECONDS + 0.5)
    dash_duo.find_element("#overview-kpis-csv").click()  # a callback only: no navigation of its own
    dash_duo.wait_for_element("#login-form", timeout=20)  # its 401 reloaded the page (assets/csrf.js)
    assert dash_duo.driver.current_url == dash_duo.server.url + "/login?next=/"
