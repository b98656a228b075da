"""Browser tests of the help icons (issue 17 item 3), in headless Chromium through dash_duo: the "?" beside a KPI
label or a chart title opens its glossary definition by a mouse click or hover, by keyboard focus, and by a finger tap
on a phone (a W3C touch pointer at 390x844); it closes again; the page logs no console error and stays as
wide as the screen. Screenshots with a popover open (1440x900 and 390x844) are written to tests/artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from dashboard.config import Config
from layouts.glossary import GLOSSARY, help_button_id
from layouts.ids import MarketingIds, OverviewIds, chart_card_id

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
DESKTOP, PHONE = (1440, 900), (390, 844)
CHARTS_READY = """
const page = document.querySelector('#page-content');
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'));
return !!page && page.children.length > 0 && bodies.every(b => b.children.length > 0)
    && Array.from(document.querySelectorAll('#page-content .dash-graph')).every(g => g.querySelector('.main-svg'))
    && document.querySelectorAll('[data-dash-is-loading="true"]').length === 0;
"""
# the text of the open help popover, or null
POPOVER_TEXT = "const p = document.querySelector('.help-popover'); return p ? p.innerText : null;"
# true once the open popover has faded in (a screenshot taken earlier shows it half transparent)
POPOVER_SHOWN = "const p = document.querySelector('.help-popover'); return !!p && getComputedStyle(p).opacity === '1';"
CENTER = """
const r = document.getElementById(arguments[0]).getBoundingClientRect();
return [Math.round(r.left + r.width / 2), Math.round(r.top + r.height / 2)];
"""


@pytest.fixture(scope="module")
def dashboard_app(demo_duckdb_url):
    """One dashboard app on the shared DuckDB demo database for the module."""
    return create_app(Config(database_url=demo_duckdb_url))


def _open(duo, path: str, size: tuple[int, int]) -> None:
    """Open `path` at window `size` and wait until every chart is drawn."""
    duo.driver.set_window_size(*size)
    duo.driver.get(duo.server_url + path)
    try:
        WebDriverWait(duo.driver, 90, poll_frequency=0.2).until(lambda d: d.execute_script(CHARTS_READY))
    except TimeoutException:
        raise AssertionError(f"{path} not drawn; browser log {duo.get_logs()}") from None


def _wait_popover(duo, expected: str | None, timeout: float = 5) -> str | None:
    """Wait until the open popover's text contains `expected` (None: until no popover is open); return the text."""
    def check(driver):
        text = driver.execute_script(POPOVER_TEXT)
        return (text is None) if expected is None else (text is not None and expected in text)
    try:
        WebDriverWait(duo.driver, timeout, poll_frequency=0.1).until(check)
    except TimeoutException:
        raise AssertionError(f"popover text {duo.driver.execute_script(POPOVER_TEXT)!r}, expected {expected!r}") \
            from None
    return duo.driver.execute_script(POPOVER_TEXT)


def _screenshot(duo, name: str) -> None:
    """Save a screenshot of the window to tests/artifacts/`name` once the open popover has faded in."""
    WebDriverWait(duo.driver, 5, poll_frequency=0.1).until(lambda d: d.execute_script(POPOVER_SHOWN))
    ARTIFACTS.mkdir(exist_ok=True)
    duo.driver.save_screenshot(str(ARTIFACTS / name))


def _move_away(duo) -> None:
    """Move the mouse to the page heading and click there (away from every help icon)."""
    heading = duo.driver.find_element(By.CSS_SELECTOR, "#page-content h2")
    ActionChains(duo.driver).move_to_element(heading).click().perform()


def test_hlp001_clicking_a_help_icon_shows_the_definition(dash_duo, dashboard_app):
    """A click on the "?" of the DAU card and of the payback table shows their glossary definitions (the payback's
    names the horizon cohort's CAC); moving away closes it; keyboard focus opens one too; no console error."""
    dash_duo.start_server(dashboard_app)
    _open(dash_duo, "/", DESKTOP)
    button = dash_duo.driver.find_element(By.ID, help_button_id(OverviewIds.kpi_card("dau")))
    assert button.get_attribute("aria-label") == "What is DAU?" and button.text == "?"
    assert dash_duo.driver.execute_script(POPOVER_TEXT) is None
    ActionChains(dash_duo.driver).move_to_element(button).click().perform()
    text = _wait_popover(dash_duo, GLOSSARY["dau"].definition)
    assert text.startswith(GLOSSARY["dau"].name)
    _screenshot(dash_duo, "help_popover_overview_1440.png")
    _move_away(dash_duo)
    _wait_popover(dash_duo, None)
    # keyboard: focusing the chart's "?" opens its definitions, Escape closes them
    activity = dash_duo.driver.find_element(By.ID, help_button_id(chart_card_id(OverviewIds.ACTIVITY)))
    dash_duo.driver.execute_script("arguments[0].focus()", activity)
    text = _wait_popover(dash_duo, GLOSSARY["mau"].definition)
    assert GLOSSARY["dau"].name in text and GLOSSARY["wau"].name in text
    activity.send_keys(Keys.ESCAPE)
    _wait_popover(dash_duo, None)

    _open(dash_duo, "/marketing", DESKTOP)
    payback = dash_duo.driver.find_element(By.ID, help_button_id(chart_card_id(MarketingIds.PAYBACK_TABLE)))
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", payback)
    ActionChains(dash_duo.driver).move_to_element(payback).click().perform()
    text = _wait_popover(dash_duo, GLOSSARY["payback_day"].definition)
    assert "CAC (horizon cohort)" in text and GLOSSARY["cac_cohort"].definition in text
    _screenshot(dash_duo, "help_popover_marketing_1440.png")
    assert dash_duo.get_logs() == []


def _tap(duo, x: int, y: int) -> None:
    """Tap the page at viewport point (x, y) with a finger (a W3C touch pointer: the browser fires the touch events
    and, as on a phone, the mouse-compatibility events, focus and click that follow a tap)."""
    finger = PointerInput(interaction.POINTER_TOUCH, "finger")
    actions = ActionBuilder(duo.driver, mouse=finger)
    actions.pointer_action.move_to_location(x, y).pointer_down().pause(0.05).pointer_up()
    actions.perform()


def test_hlp002_a_tap_on_a_phone_shows_the_definition_and_a_tap_elsewhere_hides_it(dash_duo, dashboard_app):
    """At 390x844, a finger tap on the "?" of the CAC card opens its definition inside the screen, a tap elsewhere
    closes it; the page stays as wide as the screen; no console error."""
    dash_duo.start_server(dashboard_app)
    driver = dash_duo.driver
    _open(dash_duo, "/", PHONE)
    button_id = help_button_id(OverviewIds.kpi_card("cac"))
    driver.execute_script("document.getElementById(arguments[0]).scrollIntoView({block: 'center', "
                          "behavior: 'instant'})", button_id)
    _tap(dash_duo, *driver.execute_script(CENTER, button_id))
    text = _wait_popover(dash_duo, GLOSSARY["cac"].definition)
    assert text.startswith("CAC (period's new users)")
    left, right, width, scroll_width = box = driver.execute_script(
        "const r = document.querySelector('.help-popover').getBoundingClientRect();"
        "return [r.left, r.right, window.innerWidth, document.documentElement.scrollWidth];")
    assert left >= 0 and right <= width and scroll_width <= width, box
    _screenshot(dash_duo, "help_popover_overview_390.png")
    _tap(dash_duo, *driver.execute_script(CENTER, OverviewIds.kpi_value("cac")))  # a tap elsewhere: on the value
    _wait_popover(dash_duo, None)
    assert dash_duo.get_logs() == []
