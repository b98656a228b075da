"""Browser tests of phones and narrow screens (issue 17, item 5), in headless Chromium through dash_duo.

Every page of the demo at 390x844 (a phone) and 1440x900: the page is never wider than the window once its charts
drew; on the phone the filter bar is a "Filters" button that opens the controls, legends sit under the plots,
heatmaps leave their numbers to the hover and numbers never break inside.
"""

from __future__ import annotations

import json

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from callbacks.pages import available_pages
from dashboard.config import Config
from layouts.ids import CohortIds, FilterIds, OverviewIds, chart_body_id
from tests.browser.browser_wait import PAGE_WIDTH, WIDE_ELEMENTS

pytestmark = pytest.mark.browser

PHONE = (390, 844)
DESKTOP = (1440, 900)

CHARTS_READY = """
const page = document.querySelector('#page-content');
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'));
return !!page && page.children.length > 0
    && bodies.every(b => b.children.length > 0)
    && Array.from(document.querySelectorAll('#page-content .dash-graph')).every(g => g.querySelector('.main-svg'))
    && document.querySelectorAll('[data-dash-is-loading="true"]').length === 0;
"""
# true once every graph narrower than its narrow width shows its narrow form (or has none)
NARROW_FORMS_DRAWN = """
return Array.from(document.querySelectorAll('#page-content .js-plotly-plot')).every(g => {
    const spec = g.layout && g.layout.meta && g.layout.meta.narrow;
    const narrow = spec && g.getBoundingClientRect().width < spec.below;
    return !narrow || !!g._narrowSaved;
});
"""
GRAPH = """
const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!g || !g._fullLayout) { return null; }
const legend = g._fullLayout.legend || {};
return {legend: {orientation: legend.orientation, yref: legend.yref},
        texttemplates: g._fullData.map(t => t.texttemplate || ''), width: g.getBoundingClientRect().width};
"""


@pytest.fixture(scope="module")
def dashboard_app(demo_duckdb_url):
    """One dashboard app on the shared DuckDB demo for the module."""
    return create_app(Config(database_url=demo_duckdb_url))


def _open(duo, path: str, timeout: float = 90) -> None:
    duo.driver.get(duo.server_url + path)
    try:
        WebDriverWait(duo.driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(CHARTS_READY))
        WebDriverWait(duo.driver, 20, poll_frequency=0.2).until(lambda d: d.execute_script(NARROW_FORMS_DRAWN))
    except TimeoutException:
        raise AssertionError(f"{path}: charts not drawn after {timeout:.0f} s; browser log {duo.get_logs()}") from None


def _assert_fits(duo, path: str, size: tuple[int, int]) -> None:
    scroll_width, inner_width = duo.driver.execute_script(PAGE_WIDTH)
    assert scroll_width <= inner_width, (
        f"{path} at {size[0]}x{size[1]} is {scroll_width} px wide for a {inner_width} px window; sticking out: "
        f"{json.dumps(duo.driver.execute_script(WIDE_ELEMENTS))}")


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["390x844", "1440x900"])
def test_no_page_wider_than_the_window(dash_duo, dashboard_app, size):
    """Every page, once its charts drew, is at most as wide as the window (no sideways scrolling)."""
    dash_duo.start_server(dashboard_app)
    dash_duo.driver.set_window_size(*size)
    paths = [page.path for page in available_pages()]
    assert len(paths) >= 6
    for path in paths:
        _open(dash_duo, path)
        _assert_fits(dash_duo, path, size)


def test_phone_filter_bar_collapses_into_a_button(dash_duo, dashboard_app):
    """At 390 px the filters hide behind a "Filters" button (with the period beside it); it opens and closes them.
    At 1440 px the button is hidden and the controls show."""
    dash_duo.start_server(dashboard_app)
    dash_duo.driver.set_window_size(*PHONE)
    _open(dash_duo, "/")
    driver = dash_duo.driver
    toggle = driver.find_element(By.ID, FilterIds.TOGGLE)
    dates = driver.find_element(By.ID, FilterIds.DATE_RANGE)
    assert toggle.is_displayed() and not dates.is_displayed()
    WebDriverWait(driver, 10).until(lambda d: " – " in d.find_element(By.ID, FilterIds.SUMMARY).text)
    toggle.click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, FilterIds.DATE_RANGE).is_displayed())
    bar_height = driver.find_element(By.ID, FilterIds.BAR).size["height"]
    toggle.click()
    WebDriverWait(driver, 10).until(lambda d: not d.find_element(By.ID, FilterIds.DATE_RANGE).is_displayed())
    assert driver.find_element(By.ID, FilterIds.BAR).size["height"] < min(bar_height, 100)

    driver.set_window_size(*DESKTOP)
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, FilterIds.DATE_RANGE).is_displayed())
    assert not driver.find_element(By.ID, FilterIds.TOGGLE).is_displayed()


def test_phone_charts_are_legible(dash_duo, dashboard_app):
    """At 390 px legends sit under the plots and heatmap cells leave their numbers to the hover; KPI values never
    wrap. Back at 1440 px the figures are drawn as the server sent them."""
    dash_duo.start_server(dashboard_app)
    driver = dash_duo.driver
    driver.set_window_size(*PHONE)
    _open(dash_duo, "/")
    activity = driver.execute_script(GRAPH, chart_body_id(OverviewIds.ACTIVITY))
    assert activity["legend"] == {"orientation": "h", "yref": "container"}, activity
    values = driver.find_elements(By.CSS_SELECTOR, ".kpi-value")
    assert values and all(v.value_of_css_property("white-space") == "nowrap" for v in values)
    assert all(v.size["height"] < 40 for v in values), [v.text for v in values]  # one line each

    _open(dash_duo, "/cohorts")
    heatmap = driver.execute_script(GRAPH, chart_body_id(CohortIds.RETENTION_HEATMAP))
    assert heatmap["width"] < 390 and set(heatmap["texttemplates"]) == {""}, heatmap

    driver.set_window_size(*DESKTOP)
    WebDriverWait(driver, 20, poll_frequency=0.2).until(
        lambda d: "%" in "".join(d.execute_script(GRAPH, chart_body_id(CohortIds.RETENTION_HEATMAP))["texttemplates"]))
    _open(dash_duo, "/")
    activity = driver.execute_script(GRAPH, chart_body_id(OverviewIds.ACTIVITY))
    assert activity["legend"]["yref"] == "paper", activity
