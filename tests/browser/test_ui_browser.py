"""Browser tests (headless Chromium through dash_duo): pages, filters, URL state, CSV download, back/forward.

Screenshots of every page at 1440x900 are written to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

import metrics
from app import create_app
from dashboard import db
from dashboard.config import Config
from callbacks.pages import available_pages

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
WIDTH, HEIGHT = 1440, 900

pytestmark = pytest.mark.browser

CHARTS_READY = """
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'));
const page = document.querySelector('#page-content');
return !!page && page.children.length > 0
    && bodies.every(b => b.children.length > 0)
    && Array.from(document.querySelectorAll('#page-content .dash-graph')).every(g => g.querySelector('.main-svg'))
    && document.querySelectorAll('[data-dash-is-loading="true"]').length === 0;
"""
NOT_READY = """
const ids = (selector, test) => Array.from(document.querySelectorAll(selector)).filter(test).map(e => e.id);
return JSON.stringify({url: location.href,
    empty_bodies: ids('#page-content [id$="-body"]', b => b.children.length === 0),
    graphs_without_plot: ids('#page-content .dash-graph', g => !g.querySelector('.main-svg')),
    loading: ids('[data-dash-is-loading="true"]', () => true)});
"""
FIGURE = """
const g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
if (!g || !g._fullData) return null;
return g._fullData.map(t => ({name: t.name, x: Array.from(t.x || []).map(String), y: Array.from(t.y || []).map(String)}));
"""


@pytest.fixture(scope="module")
def demo_url(demo_duckdb_url):
    """URL of the shared DuckDB demo database (3,000 demo users, read only)."""
    return demo_duckdb_url


@pytest.fixture(scope="module")
def dashboard_app(demo_url):
    """One dashboard app for the module (its metric cache stays warm between tests)."""
    return create_app(Config(database_url=demo_url))


@pytest.fixture
def duo(dash_duo, dashboard_app):
    """dash_duo running the dashboard on the demo data, window 1440x900."""
    dash_duo.start_server(dashboard_app)
    dash_duo.driver.set_window_size(WIDTH, HEIGHT)
    return dash_duo


def _open(duo, path: str) -> None:
    duo.driver.get(duo.server_url + path)
    _wait_ready(duo)


def _wait_ready(duo, timeout: float = 90) -> None:
    try:
        WebDriverWait(duo.driver, timeout, poll_frequency=0.2).until(lambda d: d.execute_script(CHARTS_READY))
    except TimeoutException:
        raise AssertionError(f"page not ready after {timeout:.0f} s: {duo.driver.execute_script(NOT_READY)}; "
                             f"browser log {duo.get_logs()}") from None


def _figure(duo, graph_id: str):
    return duo.driver.execute_script(FIGURE, graph_id)


def _wait_figure(duo, graph_id: str, condition, timeout: float = 60):
    """Wait until the figure's traces satisfy `condition`; return them (generous timeout: busy CI machines)."""
    result = {}

    def check(_):
        traces = _figure(duo, graph_id)
        result["last"] = traces
        if traces is not None and condition(traces):
            result["traces"] = traces
            return True
        return False

    try:
        WebDriverWait(duo.driver, timeout, poll_frequency=0.2).until(check)
    except TimeoutException:
        body = duo.driver.execute_script("return document.querySelector('#page-content').innerText")
        raise AssertionError(f"{graph_id} at {duo.driver.current_url}: last traces "
                             f"{[t['name'] for t in result.get('last') or []]}; page text {body[:500]!r}") from None
    return result["traces"]


def _query(duo) -> dict[str, list[str]]:
    return parse_qs(urlparse(duo.driver.current_url).query)


def _new_users(url: str, dimension: str, **filters) -> dict[str, int]:
    engine = db.make_engine(url, read_only=True)
    with engine.connect() as conn:
        frame = metrics.new_users(conn, metrics.Filters.make(**filters), dimensions=(dimension,))
    engine.dispose()
    return {str(k): int(v) for k, v in frame.set_index(dimension)["new_users"].items() if v}


def _trace_totals(traces) -> dict[str, int]:
    return {t["name"]: int(sum(float(y) for y in t["y"])) for t in traces}


def _pick(duo, dropdown_id: str, *labels: str) -> None:
    duo.find_element(f"#{dropdown_id}").click()
    for label in labels:
        option = WebDriverWait(duo.driver, 30).until(
            lambda d: next((o for o in d.find_elements(By.CSS_SELECTOR, "[role=option]")
                            if o.text.rsplit(" (", 1)[0] == label), None))  # options read "TipTop (12,345)"
        duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", option)
        option.click()
    duo.driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def test_uib001_every_page_renders_without_console_errors(duo):
    ARTIFACTS.mkdir(exist_ok=True)
    for page in available_pages():
        _open(duo, page.path)
        name = page.path.strip("/") or "overview"
        duo.driver.save_screenshot(str(ARTIFACTS / f"page-{name}.png"))
        assert duo.get_logs() == [], page.path
        assert duo.driver.find_elements(By.CSS_SELECTOR, ".chart-error") == [], page.path
    _open(duo, "/?start=2026-09-01&end=2026-09-30&country=UK")
    duo.driver.save_screenshot(str(ARTIFACTS / "page-overview-september-uk.png"))
    assert duo.find_element("#kpi-new_users-value").text != ""
    assert "2026-08-02 – 2026-08-31" in duo.find_element("#kpi-comparison-note").text


def test_uib002_changing_a_filter_changes_the_chart_and_the_url(duo, demo_url):
    _open(duo, "/acquisition")
    default = dict(start="2026-10-04", end="2026-10-31")  # the default period: the last 28 days of the data
    before = _trace_totals(_wait_figure(duo, "acq-new-users-graph", lambda t: len(t) > 2))
    assert before == _new_users(demo_url, "channel", **default)
    _pick(duo, "filter-channel", "TipTop", "FaceBoom")
    after = _trace_totals(_wait_figure(duo, "acq-new-users-graph", lambda t: {x["name"] for x in t} ==
                                       {"TipTop", "FaceBoom"}))
    assert after == _new_users(demo_url, "channel", channels=["TipTop", "FaceBoom"], **default)
    assert _query(duo) == {"channel": ["FaceBoom", "TipTop"]}
    assert duo.get_logs() == []


def test_uib003_a_link_restores_its_filters_and_notes_unknown_values(duo, demo_url):
    _open(duo, "/acquisition?country=UK&channel=LeapBob&channel=Nope&breakdown=device&start=2026-06-01")
    assert "UK" in duo.find_element("#filter-country").text
    assert "LeapBob" in duo.find_element("#filter-channel").text
    assert duo.find_element("#filter-date-range").get_attribute("value") == "2026-06-01"  # the start input
    assert Select(duo.find_element('[id*="breakdown"]')).first_selected_option.text == "Device"
    assert "Unknown channel 'Nope' ignored." in duo.find_element("#filter-notes").text
    traces = _wait_figure(duo, "acq-new-users-graph", lambda t: len(t) > 0)
    assert _trace_totals(traces) == _new_users(demo_url, "device", start="2026-06-01", regions=["UK"],
                                               channels=["LeapBob"])
    assert duo.get_logs() == []


def test_uib004_csv_download_holds_the_numbers_shown(duo):
    _open(duo, "/acquisition?channel=TipTop&channel=organic&device=PC")
    shown = _wait_figure(duo, "acq-by-country-graph", lambda t: len(t) == 2)
    users = dict(zip(shown[0]["y"], (int(float(x)) for x in shown[0]["x"])))
    shares = dict(zip(shown[1]["y"], (float(x) for x in shown[1]["x"])))
    duo.find_element("#acq-by-country-csv").click()
    download = Path(duo.download_path)
    WebDriverWait(duo.driver, 60).until(lambda _: [p for p in download.glob("acquisition_by-country_*.csv")])
    time.sleep(0.3)  # let Chromium finish writing
    with open(next(download.glob("acquisition_by-country_*.csv")), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["Country"] for r in rows] == list(reversed(shown[0]["y"]))  # largest first; drawn largest on top
    assert {r["Country"]: int(r["New users"]) for r in rows} == users
    # the shares shown, at 12 significant digits (no float noise in the file)
    assert {r["Country"]: float(r["Payer share"]) for r in rows} == {k: float(f"{v:.12g}") for k, v in shares.items()}


def test_uib005_back_and_forward_restore_the_filters(duo):
    _open(duo, "/acquisition")
    select = '[id*="breakdown"]'
    names = lambda traces: {t["name"] for t in traces}  # noqa: E731
    Select(duo.find_element(select)).select_by_value("device")
    _wait_figure(duo, "acq-new-users-graph", lambda t: names(t) == {"Android", "Mac", "PC", "iPhone"})
    assert _query(duo) == {"breakdown": ["device"]}
    _pick(duo, "filter-country", "France")
    _wait_figure(duo, "acq-by-country-graph", lambda t: list(t[0]["y"]) == ["France"])
    assert _query(duo) == {"country": ["France"], "breakdown": ["device"]}
    duo.driver.back()
    _wait_figure(duo, "acq-by-country-graph", lambda t: len(t[0]["y"]) == 4)
    assert _query(duo) == {"breakdown": ["device"]} and "France" not in duo.find_element("#filter-country").text
    duo.driver.back()
    _wait_figure(duo, "acq-new-users-graph", lambda t: "organic" in names(t))
    assert Select(duo.find_element(select)).first_selected_option.get_attribute("value") == "channel"
    duo.driver.forward()
    _wait_figure(duo, "acq-new-users-graph", lambda t: names(t) == {"Android", "Mac", "PC", "iPhone"})
    assert Select(duo.find_element(select)).first_selected_option.get_attribute("value") == "device"
    assert duo.get_logs() == []


def test_uib006_a_page_layout_arriving_after_the_filters_still_fills_every_chart(dash_duo, demo_url, monkeypatch):
    """The page layout (routing callback) is held back 1.5 s, so it arrives after the filter state is set: every
    chart of every page with page controls is still filled, each chart's callback running once. Before the fix
    (callbacks/filters.py, `resend`) these pages stayed empty: the flaky timeouts of test_uib001/test_rsk008."""
    import callbacks.charts as chart_callbacks
    import callbacks.routing as routing

    render_page, chart_body = routing.render_page, chart_callbacks.chart_body
    ran: list[str] = []

    def slow_render_page(*args, **kwargs):
        time.sleep(1.5)
        return render_page(*args, **kwargs)

    def counted_chart_body(ctx, name, *args, **kwargs):
        ran.append(name)
        return chart_body(ctx, name, *args, **kwargs)

    monkeypatch.setattr(routing, "render_page", slow_render_page)
    monkeypatch.setattr(chart_callbacks, "chart_body", counted_chart_body)
    app = create_app(Config(database_url=demo_url))
    dash_duo.start_server(app)
    dash_duo.driver.set_window_size(WIDTH, HEIGHT)
    for path in ("/acquisition", "/marketing", "/cohorts", "/risk"):
        ran.clear()
        _open(dash_duo, path)
        bodies = dash_duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('#page-content [id$=\"-body\"]')).map(b => b.id)")
        assert len(bodies) >= 4, (path, bodies)
        expected = sorted(b[:-len("-body")] for b in bodies if b != "risk-clusters-body")
        assert sorted(ran) == expected, (path, sorted(ran))
    assert dash_duo.get_logs() == []
