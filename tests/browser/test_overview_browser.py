"""The Overview in headless Chromium, as leadership opens it: the default view compares the last 28 days with the 28
before (12 changes), a period whose comparison is not in the data says n/a and why, and Germany Q3 shows one spend
figure on every card that shows spend (Overview and Marketing). Screenshots in tests/artifacts/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from dashboard.config import Config
from layouts.overview import KPIS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHANGE = re.compile(r"^[▲▼]\s?\d[\d,]*\.\d%$")  # "▲ 12.4%"
TRACES = ("const el = document.querySelector(arguments[0]);"
          "if (!el || !el._fullData) { return null; }"
          "return el._fullData.map(t => ({name: t.name, y: Array.from(t.y || []), customdata: Array.from(t.customdata || [])}));")

pytestmark = pytest.mark.browser


@pytest.fixture
def overview(dash_duo, demo_duckdb_url):
    """dash_duo serving the dashboard on the shared demo database at 1440x900."""
    dash_duo.start_server(create_app(Config(database_url=demo_duckdb_url, autofill_demo=False)))
    dash_duo.driver.set_window_size(1440, 900)
    return dash_duo


def _open(duo, path: str) -> None:
    duo.driver.get(duo.server_url + path)
    duo.wait_for_element("#kpi-users-value", timeout=60)


CHANGES = ("return arguments[0].map(k => { const el = document.getElementById('kpi-' + k + '-change');"
           " return el ? el.innerText : ''; });")


def _changes(duo) -> dict[str, str]:
    """Return {kpi: its change as shown} ("▲ 12.4%", "n/a"), read in one script (cards may be redrawn meanwhile)."""
    texts = duo.driver.execute_script(CHANGES, [kpi.key for kpi in KPIS])
    return {kpi.key: text.split(" vs ")[0].strip() for kpi, text in zip(KPIS, texts)}


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", ""))


def _wait_traces(duo, chart: str, timeout: float = 60):
    box = {}

    def drawn(_):
        box["traces"] = duo.driver.execute_script(TRACES, f"#{chart}-graph .js-plotly-plot")
        return bool(box["traces"])

    WebDriverWait(duo.driver, timeout, poll_frequency=0.2).until(drawn)
    return box["traces"]


def test_ovb001_the_default_overview_shows_twelve_changes(overview):
    _open(overview, "/")
    WebDriverWait(overview.driver, 60).until(lambda d: all(CHANGE.match(t) for t in _changes(overview).values()))
    changes = _changes(overview)
    assert len(changes) == 12 and all(CHANGE.match(text) for text in changes.values()), changes
    note = overview.find_element("#kpi-comparison-note").text
    assert "2026-09-06 – 2026-10-03" in note  # the 28 days before the default 2026-10-04 .. 10-31
    assert overview.find_element("#filter-period").text.startswith("Last 28 days")
    ARTIFACTS.mkdir(exist_ok=True)
    overview.driver.save_screenshot(str(ARTIFACTS / "overview-default.png"))
    assert overview.get_logs() == []


def test_ovb002_all_data_says_n_a_with_the_reason(overview):
    _open(overview, "/?period=all")
    WebDriverWait(overview.driver, 60).until(lambda d: "n/a" in d.find_element(By.ID, "kpi-comparison-note").text)
    note = overview.find_element("#kpi-comparison-note").text
    assert "the previous period starts on 2025-10-29, before the data's first date 2026-05-01" in note
    changes = _changes(overview)
    assert set(changes.values()) == {"n/a"}, changes
    reason = overview.find_element("#kpi-dau-change").get_attribute("title")
    assert reason.startswith("n/a: the previous period starts on 2025-10-29")
    overview.find_element("#kpi-compare-last-weeks").click()  # back to a comparable view: the default
    WebDriverWait(overview.driver, 60).until(lambda d: CHANGE.match(_changes(overview)["dau"]))
    assert overview.driver.current_url.rstrip("/") == overview.server_url.rstrip("/")
    assert overview.get_logs() == []


def test_ovb003_germany_q3_shows_one_spend_figure_everywhere(overview):
    query = "?start=2026-07-01&end=2026-09-30&country=Germany"
    _open(overview, "/" + query)
    WebDriverWait(overview.driver, 60).until(lambda d: d.find_element(By.ID, "kpi-spend-value").text.startswith("$"))
    kpi = _money(overview.find_element("#kpi-spend-value").text)
    traces = _wait_traces(overview, "overview-revenue-spend")
    spend = [t for t in traces if t["name"].startswith("Ad spend") and "previous" not in t["name"]]
    assert len(spend) == 1 and "attributed" in spend[0]["name"]
    figures = {"Overview revenue and ad spend": sum(spend[0]["y"])}
    overview.driver.save_screenshot(str(ARTIFACTS / "overview-germany-q3.png"))
    overview.driver.get(overview.server_url + "/marketing" + query)
    over_time = _wait_traces(overview, "mkt-spend-over-time")
    figures["Marketing spend over time"] = sum(sum(t["y"]) for t in over_time)
    share = _wait_traces(overview, "mkt-spend-share")
    figures["Marketing share of spend"] = sum(sum(t["customdata"]) for t in share)  # the bars' $ (x is the share)
    assert kpi > 0
    for name, value in figures.items():
        assert round(value, 2) == pytest.approx(kpi, abs=0.01), (name, value, kpi)
    # no channel without German users is drawn (the demo's TipTop and FaceBoom have none)
    assert not {t["name"] for t in over_time} & {"TipTop", "FaceBoom"}
    overview.driver.save_screenshot(str(ARTIFACTS / "marketing-germany-q3.png"))
    assert overview.get_logs() == []
