"""Marketing and cohorts pages in headless Chromium: render without console errors, breakdown, CSV, screenshots.

Screenshots at 1440x900 go to tests/artifacts/marketing.png and cohorts.png (look at them after a change).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from app import create_app
from dashboard.config import Config

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
MARKETING_CHARTS = ("mkt-spend-over-time", "mkt-spend-share", "mkt-cac-by-channel", "mkt-cac-over-time",
                    "mkt-ltv-curves", "mkt-roi-curves", "mkt-roi-by-date")
MARKETING_GRIDS = ("mkt-channel-table", "mkt-payback-table")
COHORT_CHARTS = ("coh-retention-heatmap", "coh-retention-curves", "coh-conversion-heatmap", "coh-conversion-curves")

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo_url(demo_duckdb_url):
    """URL of the shared DuckDB demo database (3000 users, read only)."""
    return demo_duckdb_url


def _open(dash_duo, url: str, path: str) -> None:
    app = create_app(Config(database_url=url, autofill_demo=False))
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.wait_for_page(url=dash_duo.server_url + path, timeout=20)


def _wait_for_charts(dash_duo, charts, grids=(), timeout: float = 40) -> None:
    for name in charts:
        dash_duo.wait_for_element(f"#{name}-graph .main-svg", timeout=timeout)
    for name in grids:
        dash_duo.wait_for_element(f"#{name}-graph .ag-row", timeout=timeout)


def _traces(dash_duo, name: str) -> list[dict]:
    """Return name, x and y of every trace of chart `name` as plotly.js drew them (typed arrays decoded)."""
    return dash_duo.driver.execute_script(
        "const el = document.querySelector(arguments[0]);"
        "if (!el || !el._fullData) { return []; }"
        "return el._fullData.map(t => ({name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}));",
        f"#{name}-graph .js-plotly-plot")


def _param_select(dash_duo, name: str) -> Select:
    return Select(dash_duo.driver.find_element(By.CSS_SELECTOR, f"select[id*='\"name\":\"{name}\"']"))


def _screenshot(dash_duo, filename: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.execute_script("window.scrollTo(0, 0)")
    time.sleep(0.5)  # let plotly finish its transitions before the picture
    dash_duo.driver.save_screenshot(str(ARTIFACTS / filename))


def test_mkb001_marketing_renders_all_charts_without_console_errors(dash_duo, demo_url):
    _open(dash_duo, demo_url, "/marketing")
    _wait_for_charts(dash_duo, MARKETING_CHARTS, MARKETING_GRIDS)
    assert "Unattributed spend:" in dash_duo.find_element("#mkt-unattributed").text
    roi_names = {t["name"] for t in _traces(dash_duo, "mkt-roi-curves")}
    assert "FaceBoom" in roi_names and "organic" not in roi_names  # ROI is for paid channels only
    payback = dash_duo.find_element("#mkt-payback-table-graph")
    # AG Grid leaves the text of a grid below the fold unrendered (content-visibility: auto): scroll to it first
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", payback)
    WebDriverWait(dash_duo.driver, 10).until(lambda _: "never within 14 days" in payback.text)
    _screenshot(dash_duo, "marketing.png")
    assert dash_duo.get_logs() == []


def test_mkb002_breakdown_selector_changes_the_charts_and_the_url(dash_duo, demo_url):
    _open(dash_duo, demo_url, "/marketing")
    _wait_for_charts(dash_duo, ("mkt-roi-curves",))
    before = {t["name"] for t in _traces(dash_duo, "mkt-roi-curves")}
    _param_select(dash_duo, "breakdown").select_by_value("device")
    dash_duo.wait_for_contains_text("#mkt-payback-table-graph", "Device", timeout=30)
    deadline = time.time() + 30
    while time.time() < deadline:
        after = {t["name"] for t in _traces(dash_duo, "mkt-roi-curves")}
        if after != before:
            break
        time.sleep(0.3)
    assert before >= {"FaceBoom", "TipTop"}
    assert after == {"Android", "Mac", "PC", "iPhone"}
    assert "breakdown=device" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []


def test_mkb003_csv_download_holds_the_numbers_shown(dash_duo, demo_url):
    _open(dash_duo, demo_url, "/marketing")
    _wait_for_charts(dash_duo, ("mkt-cac-by-channel",))
    shown = _traces(dash_duo, "mkt-cac-by-channel")[0]
    dash_duo.find_element("#mkt-cac-by-channel-csv").click()
    download_dir = Path(dash_duo.download_path)
    deadline = time.time() + 30
    files: list[Path] = []
    while time.time() < deadline and not files:
        files = [p for p in download_dir.glob("marketing_cac-by-channel_*.csv")]
        time.sleep(0.2)
    assert files, "no CSV downloaded"
    time.sleep(0.3)
    with files[0].open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10
    assert [r["Channel"] for r in rows] == shown["y"]  # horizontal bars: channels on y, CAC on x
    assert [float(r["CAC ($)"]) for r in rows] == [float(f"{x:.12g}") for x in shown["x"]]  # 12 significant digits
    assert set(rows[0]) == {"Channel", "New users", "Attributed spend ($)", "CAC ($)"}  # headers as shown


def test_cob001_cohorts_renders_and_payer_toggle_changes_the_heatmap(dash_duo, demo_url):
    _open(dash_duo, demo_url, "/cohorts")
    _wait_for_charts(dash_duo, COHORT_CHARTS)
    names = {t["name"] for t in _traces(dash_duo, "coh-retention-curves")}
    assert names == {"payers", "non-payers"}
    _screenshot(dash_duo, "cohorts.png")
    assert dash_duo.get_logs() == []
    before = _traces(dash_duo, "coh-retention-heatmap")[0]["y"]  # week labels carry the cohort sizes
    _param_select(dash_duo, "payer").select_by_value("true")
    deadline = time.time() + 30
    after = before
    while time.time() < deadline and after == before:
        time.sleep(0.3)
        traces = _traces(dash_duo, "coh-retention-heatmap")
        after = traces[0]["y"] if traces else before
    assert after != before and len(after) == len(before)
    assert [label.split(" · ")[0] for label in after] == [label.split(" · ")[0] for label in before]
    assert "payer=true" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
