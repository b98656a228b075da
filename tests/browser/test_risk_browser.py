"""The Risk page in headless Chromium: scores and their date whatever the date range, the no-scoring state (the
administrator's text and the link to the Data page's instructions), "Recommended action" in view at 1440 px.

Screenshots at 1440x900 go to tests/artifacts/risk_other_range.png and risk_no_scores.png (look at them).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

import metrics
from app import create_app
from dashboard import db, demo
from dashboard.config import Config
from tests.browser.browser_wait import wait_until_idle
from tests.ml.test_risk_report import scored_demo  # noqa: F401  (the module fixture: a scored demo database)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

pytestmark = pytest.mark.browser


def _open(dash_duo, url: str, path: str, model_dir: Path) -> None:
    app = create_app(Config(database_url=url, autofill_demo=False, model_dir=model_dir))
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(1440, 900)
    dash_duo.wait_for_page(url=dash_duo.server_url + path, timeout=20)


def test_rkb001_another_date_range_shows_the_scores_and_their_date(dash_duo, scored_demo, tmp_path):  # noqa: F811
    """A date range ending months before the only scoring (the observation date follows the end) still shows
    every score card, and the page says which scoring it shows; "Recommended action" is in view at 1440 px."""
    engine = db.make_engine(scored_demo, read_only=True)
    with engine.connect() as conn:
        last = metrics.resolve_period(conn, metrics.Filters.make()).observation_date
    engine.dispose()
    end = last - dt.timedelta(days=31)
    _open(dash_duo, scored_demo, f"/risk?start={(end - dt.timedelta(days=60)).isoformat()}&end={end.isoformat()}",
          tmp_path / "models")
    dash_duo.wait_for_text_to_equal("h2", "Risk", timeout=20)
    dash_duo.wait_for_contains_text("#risk-scores-as-of", f"Scores as of {last.isoformat()}", timeout=40)
    for name in ("risk-distribution", "risk-matrix", "risk-target-reasons"):
        dash_duo.wait_for_element(f"#{name}-graph .main-svg", timeout=40)
    for name in ("risk-target-profile", "risk-customers"):
        dash_duo.wait_for_element(f"#{name}-graph .ag-row", timeout=40)
    wait_until_idle(dash_duo)
    assert f"end={end.isoformat()}" in dash_duo.driver.current_url  # the range is still the one asked for
    assert not dash_duo.driver.find_elements("css selector", "#risk-no-scores")
    text, right, grid_right = dash_duo.driver.execute_script(
        "const cell = document.querySelector(\"#risk-customers-graph .ag-header-cell[col-id='recommended_action']\");"
        "const grid = document.querySelector('#risk-customers-graph .ag-body-viewport');"
        "return [cell.textContent.trim(), cell.getBoundingClientRect().right, grid.getBoundingClientRect().right];")
    assert text == "Recommended action" and right <= grid_right  # whole, without scrolling sideways
    profile_headers = dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('#risk-target-profile-graph .ag-header-cell-text')]"
        ".map(e => e.textContent.trim());")
    assert "Target segment vs everyone else" in profile_headers and not any("Cohen" in h for h in profile_headers)
    reasons = dash_duo.driver.execute_script(
        "return document.querySelector('#risk-target-reasons-graph .js-plotly-plot').data[0].customdata"
        ".map(r => r[0]);")
    assert reasons and not any(" N " in f" {r} " for r in reasons)
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "risk_other_range.png"))
    assert dash_duo.get_logs() == []


def test_rkb002_without_scores_the_page_says_what_an_administrator_does(dash_duo, tmp_path):
    """No scoring at all: the notice speaks to the reader (an administrator makes the scores), with no command in
    the page body, and links to the Data page's "Churn scores" section, which has the commands."""
    url = f"duckdb:///{tmp_path / 'unscored.duckdb'}"
    engine = db.make_engine(url)
    demo.write_demo(engine, users=400, seed=3)
    engine.dispose()
    _open(dash_duo, url, "/risk", tmp_path / "models")
    notice = dash_duo.wait_for_element("#risk-no-scores", timeout=30)
    assert "An administrator trains the churn model" in notice.text and "python -m" not in notice.text
    wait_until_idle(dash_duo)
    body = dash_duo.find_element("#page-content").text if dash_duo.driver.find_elements(
        "css selector", "#page-content") else dash_duo.find_element("body").text
    assert "python -m" not in body
    ARTIFACTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "risk_no_scores.png"))
    link = dash_duo.find_element("#risk-no-scores a[href='/data#churn-scores']")
    link.click()
    section = dash_duo.wait_for_element("#churn-scores", timeout=20)
    deadline = time.time() + 10
    while time.time() < deadline and "python -m dashboard train" not in section.text:
        time.sleep(0.2)
    assert "Churn scores" in section.text and "python -m dashboard train" in section.text
    assert "python -m dashboard score" in section.text
    assert dash_duo.driver.current_url.split("?")[0].endswith("/data") or "/data" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
