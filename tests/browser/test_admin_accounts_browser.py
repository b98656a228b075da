"""The Data page's accounts panel in headless Chromium (issue 19): an admin adds a viewer and creates an API token
(its text shown once), signs out from the navbar; the viewer signs in and sees no administration on the Data page
and no customer table on the Risk page. Screenshots tests/artifacts/admin_accounts_*.png at 1440x900 and 390x844."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import Select

from app import create_app
from dashboard import accounts
from dashboard.accounts import Role
from dashboard.config import Config
from layouts.ids import AdminAccountsIds as Ids
from layouts.risk import CUSTOMERS_NEED_ANALYST, CUSTOMERS_ROLE_NOTE
from layouts.shell import SIGNED_IN_ID
from tests.app.auth_helpers import PASSWORD, add_account, run_on
from tests.browser.browser_wait import wait_until_idle

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
VIEWER_PASSWORD = "viewer password 42"

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_copy(shared_demo, tmp_path):
    """URL of a private copy of the shared DuckDB demo (accounts may be added to it)."""
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    yield url
    cleanup()


def _sign_in(dash_duo, name: str, password: str) -> None:
    """Fill and send the sign-in form on the current page."""
    dash_duo.wait_for_element("#username", timeout=20).send_keys(name)
    dash_duo.find_element("#password").send_keys(password)
    dash_duo.find_element("#sign-in").click()


def _type(dash_duo, component_id: str, text: str) -> None:
    """Type `text` into the input `component_id`."""
    field = dash_duo.find_element(f"#{component_id}")
    field.clear()
    field.send_keys(text)


def _click(dash_duo, selector: str) -> None:
    """Click the element at CSS `selector` after scrolling it to the middle of the window at once (Bootstrap's
    smooth scrolling would move it while Selenium clicks)."""
    element = dash_duo.find_element(selector)
    dash_duo.driver.execute_script("document.documentElement.style.scrollBehavior = 'auto';"
                                   "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def _shot(dash_duo, element_id: str, name: str) -> None:
    """Scroll `element_id` to the top of the window and save the screenshot tests/artifacts/admin_accounts_<name>."""
    dash_duo.driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'start', "
                                   "behavior: 'instant'}); window.scrollBy({top: -8, behavior: 'instant'});",
                                   element_id)
    wait_until_idle(dash_duo, quiet=0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / f"admin_accounts_{name}.png"))


def _severe_logs(dash_duo) -> list:
    """Return the browser's console errors since the last call."""
    return [entry for entry in dash_duo.get_logs() or [] if entry.get("level") == "SEVERE"]


def test_ab001_an_admin_adds_a_viewer_who_sees_no_admin_area_and_no_customer_table(dash_duo, demo_copy, tmp_path):
    add_account(demo_copy, "root", Role.ADMIN)
    dash_duo.start_server(create_app(Config(database_url=demo_copy, autofill_demo=False,
                                            model_dir=tmp_path / "models")), navigate=False)
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    driver.get(dash_duo.server.url + "/data")
    _sign_in(dash_duo, "root", PASSWORD)
    dash_duo.wait_for_element("#admin-accounts-list", timeout=60)
    assert dash_duo.find_element(f"#{SIGNED_IN_ID}").text.replace("\n", " ").startswith("root · admin")
    assert dash_duo.find_element(f"#{Ids.PANEL}").is_displayed()

    _type(dash_duo, Ids.NEW_NAME, "vera")
    Select(dash_duo.find_element(f"#{Ids.NEW_ROLE}")).select_by_value("viewer")
    _type(dash_duo, Ids.NEW_PASSWORD, VIEWER_PASSWORD)
    _type(dash_duo, Ids.NEW_PASSWORD_AGAIN, VIEWER_PASSWORD)
    _click(dash_duo, f"#{Ids.ADD}")
    dash_duo.wait_for_contains_text(f"#{Ids.ACCOUNT_MESSAGE}", "Account vera added with the role viewer.", timeout=30)
    dash_duo.wait_for_contains_text("#admin-accounts-list", "vera", timeout=30)
    assert dash_duo.find_element(f"#{Ids.NEW_PASSWORD}").get_attribute("value") == ""  # cleared after the action
    stored = {a.name: a for a in run_on(demo_copy, accounts.list_accounts)}
    assert stored["vera"].role == Role.VIEWER

    dash_duo.wait_for_contains_text(f"#{Ids.TOKEN_ACCOUNT}", "vera", timeout=30)
    _type(dash_duo, Ids.TOKEN_NAME, "nightly-export")
    Select(dash_duo.find_element(f"#{Ids.TOKEN_ACCOUNT}")).select_by_value("vera")
    _type(dash_duo, Ids.TOKEN_DAYS, "90")
    _click(dash_duo, f"#{Ids.CREATE_TOKEN}")
    secret = dash_duo.wait_for_element(f"#{Ids.TOKEN_SECRET_TEXT}", timeout=30).text
    assert re.fullmatch(r"mkd_[A-Za-z0-9_-]{43}", secret)
    assert "it is not shown again" in dash_duo.find_element(f"#{Ids.TOKEN_SECRET}").text
    dash_duo.wait_for_contains_text("#admin-accounts-token-list", "nightly-export", timeout=30)
    assert dash_duo.find_element(f"#{Ids.TOKEN_NAME}").get_attribute("value") == ""  # ready for the next one
    assert secret not in dash_duo.find_element("#admin-accounts-token-list").text
    wait_until_idle(dash_duo)
    assert _severe_logs(dash_duo) == []
    _shot(dash_duo, Ids.PANEL, "1440")
    _shot(dash_duo, Ids.TOKEN_SECRET, "token_1440")
    driver.set_window_size(390, 844)
    wait_until_idle(dash_duo)
    _shot(dash_duo, Ids.PANEL, "390")
    wide = driver.execute_script("return Array.from(document.querySelectorAll('body *')).filter(e => "
                                 "e.getBoundingClientRect().right > 392 && e.getClientRects().length).map(e => "
                                 "e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round("
                                 "e.getBoundingClientRect().right)).slice(0, 40)")
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390 + 1, wide  # no sideways scroll
    driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    wait_until_idle(dash_duo, quiet=0.5)
    driver.save_screenshot(str(ARTIFACTS / "admin_accounts_navbar_390.png"))
    driver.set_window_size(1440, 900)
    driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    wait_until_idle(dash_duo, quiet=0.5)
    _click(dash_duo, f"#{SIGNED_IN_ID} button[type=submit]")  # Sign out: POST /logout with the token
    dash_duo.wait_for_element("#login-form", timeout=20)
    driver.get(dash_duo.server.url + "/data")
    _sign_in(dash_duo, "vera", VIEWER_PASSWORD)
    dash_duo.wait_for_element("#database-summary", timeout=60)
    dash_duo.wait_for_contains_text(f"#{SIGNED_IN_ID}", "vera", timeout=60)
    wait_until_idle(dash_duo, quiet=1.5, timeout=60)
    assert dash_duo.find_elements(f"#{Ids.PANEL}") == []
    assert dash_duo.find_elements("#data-admin-area") == []

    driver.get(dash_duo.server.url + "/risk")
    note = dash_duo.wait_for_element(f"#{CUSTOMERS_ROLE_NOTE}", timeout=60)
    assert note.text == f"{CUSTOMERS_NEED_ANALYST}."
    dash_duo.wait_for_element("#risk-distribution-body", timeout=60)
    wait_until_idle(dash_duo, quiet=2.0, timeout=60)
    assert dash_duo.find_elements("#risk-customers-graph") == []
    assert dash_duo.find_elements("#risk-customers-card") == []
    assert _severe_logs(dash_duo) == []
    _shot(dash_duo, CUSTOMERS_ROLE_NOTE, "viewer_risk_1440")
    driver.set_window_size(390, 844)
    wait_until_idle(dash_duo)
    _shot(dash_duo, CUSTOMERS_ROLE_NOTE, "viewer_risk_390")
