"""Browser tests of what a filter change redraws (issue 17, item 8), in headless Chromium through dash_duo.

- A chart whose numbers change keeps its mounted graph, grid or KPI card and takes the new values in place
  (callbacks.charts.body_parts): the elements are the same DOM nodes after the change.
- assets/plotly_resize_guard.js: a Plotly.Plots.resize that would change nothing (the plot already has its div's
  size) does not redraw; a real change of size (a narrower window) still does.
"""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app import create_app
from dashboard.config import Config
from layouts.ids import AcquisitionIds, OverviewIds, chart_graph_id
from tests.browser.test_narrow_screens import _open

pytestmark = pytest.mark.browser

MARK_NODES = """
window.__marked = arguments[0].map(id => { const e = document.getElementById(id); if (e) { e.__mark = 1; } return !!e; });
return window.__marked;
"""
STILL_MARKED = "return arguments[0].map(id => { const e = document.getElementById(id); return !!(e && e.__mark); });"
TEXT_OF = "return document.getElementById(arguments[0]).textContent;"
COUNT_REDRAWS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot') || document.getElementById(arguments[0]);
window.__redraws = 0;
gd.on('plotly_afterplot', () => { window.__redraws += 1; });
return !!gd._fullLayout;
"""
RESIZE = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot') || document.getElementById(arguments[0]);
const done = arguments[arguments.length - 1];
Plotly.Plots.resize(gd).then(() => done([window.__redraws, !!Plotly.Plots.resize.__guarded]));
"""
PLOT_FITS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot') || document.getElementById(arguments[0]);
return [Math.round(gd._fullLayout.width), gd.clientWidth];
"""


@pytest.fixture(scope="module")
def dashboard_app(demo_duckdb_url):
    """One dashboard app on the shared DuckDB demo for the module."""
    return create_app(Config(database_url=demo_duckdb_url))


def _pick_channel(driver, name: str) -> None:
    """Choose channel `name` in the filter bar's Channel dropdown."""
    driver.find_element(By.CSS_SELECTOR, "#filter-channel").click()
    WebDriverWait(driver, 20).until(lambda d: any(o.is_displayed() and o.text.startswith(name)
                                                  for o in d.find_elements(By.CSS_SELECTOR, "[role=option]")))
    next(o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]")
         if o.is_displayed() and o.text.startswith(name)).click()


def test_rdr001_a_channel_change_updates_the_cards_and_grids_in_place(dash_duo, dashboard_app):
    """Overview: after choosing a channel the KPI cards, their sparklines and the activity graph are the same DOM
    nodes with new values. Acquisition: the paying-channels grid stays mounted with the new rows."""
    dash_duo.start_server(dashboard_app)
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    _open(dash_duo, "/?period=all")
    kept = [OverviewIds.kpi_value("new_users"), OverviewIds.kpi_sparkline("new_users"),
            OverviewIds.kpi_card("new_users"), chart_graph_id(OverviewIds.ACTIVITY)]
    assert all(driver.execute_script(MARK_NODES, kept))
    before = driver.execute_script(TEXT_OF, OverviewIds.kpi_value("new_users"))
    _pick_channel(driver, "TipTop")
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(TEXT_OF, OverviewIds.kpi_value("new_users")) != before)
    assert driver.execute_script(STILL_MARKED, kept) == [True] * len(kept)
    assert dash_duo.get_logs() == []

    _open(dash_duo, "/acquisition?period=all")
    grid = chart_graph_id(AcquisitionIds.PAYING_CHANNELS)
    assert driver.execute_script(MARK_NODES, [grid]) == [True]
    rows = driver.execute_script("return document.querySelectorAll('#' + arguments[0] + ' .ag-row').length", grid)
    _pick_channel(driver, "TipTop")
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return document.querySelectorAll('#' + arguments[0] + ' .ag-center-cols-container .ag-row').length",
        grid) == 1)
    assert rows > 1 and driver.execute_script(STILL_MARKED, [grid]) == [True]
    assert dash_duo.get_logs() == []


def test_rdr002_a_resize_to_the_same_size_does_not_redraw_a_real_one_does(dash_duo, dashboard_app):
    """Plots.resize on a plot that already has its div's size returns without a redraw; after the window narrows,
    the same call redraws the plot to the new width."""
    dash_duo.start_server(dashboard_app)
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    _open(dash_duo, "/?period=all")
    driver.set_script_timeout(20)
    name = OverviewIds.ACTIVITY + "-body"
    assert driver.execute_script(COUNT_REDRAWS, name)
    quiet_since = time.monotonic()  # the page may still redraw once (a late update): wait for 2 s without one
    while time.monotonic() - quiet_since < 2:
        if driver.execute_script("const n = window.__redraws; window.__redraws = 0; return n;"):
            quiet_since = time.monotonic()
        time.sleep(0.2)
    width, client = driver.execute_script(PLOT_FITS, name)
    assert abs(width - client) <= 1  # the plot has its div's size: a resize has nothing to do
    redraws, guarded = driver.execute_async_script(RESIZE, name)
    assert guarded and redraws == 0
    driver.set_window_size(1000, 900)  # dcc.Graph resizes it by itself: the plot follows its narrower div
    WebDriverWait(driver, 20).until(lambda d: (lambda w: abs(w[0] - w[1]) <= 1)(d.execute_script(PLOT_FITS, name)))
    width, client = driver.execute_script(PLOT_FITS, name)
    assert width < 1000 and driver.execute_script("return window.__redraws") >= 1


RUN_STATE_JS = """
const [source, args, changed] = arguments;
const previousContext = window.dash_clientside.callback_context;
window.dash_clientside.callback_context = {triggered: changed.map(prop_id => ({prop_id: prop_id, value: null}))};
try {
    const result = (0, eval)('(' + source + ')')(...args);
    return result === window.dash_clientside.no_update ? 'unchanged' : result;
} finally { window.dash_clientside.callback_context = previousContext; }
"""


def test_rdr003_the_browser_writes_the_filter_state_the_server_would(dash_duo, dashboard_app):
    """A control change reaches the charts without the server's filter sync: the browser writes the filter state
    (callbacks.filters.STATE_FROM_CONTROLS_JS). For every kind of valid control change it writes exactly the state
    the server's rules give (`sync_filters_and_url`: values sorted without repeats, the observation date following
    the end date when it was left at it, dates without a time, a horizon as a number), and nothing when the state
    is the same or the store holds none."""
    from callbacks.filters import state_from_controls_js, sync_filters_and_url
    from layouts.ids import FilterIds

    ctx = dashboard_app.server.extensions["dashboard_context"]
    dash_duo.start_server(dashboard_app)
    _open(dash_duo, "/?period=all")
    base = sync_filters_and_url(ctx, None, "?start=2026-06-01&end=2026-08-31", "/", {}, [], [], None).store
    apart = sync_filters_and_url(ctx, None, "?start=2026-06-01&end=2026-08-31&observation_date=2026-07-15", "/",
                                 {}, [], [], None).store

    def controls(store, **changes):
        values = {"start": store["start"], "end": store["end"], "observation_date": store["observation_date"],
                  "horizon": store["horizon"], "country": store["country"], "device": store["device"],
                  "channel": store["channel"]} | changes
        return values

    date_range, observation = FilterIds.DATE_RANGE, FilterIds.OBSERVATION_DATE
    cases = [  # (previous store, controls, changed props, the id the server sees as triggered)
        (base, controls(base, channel=["TipTop", "FaceBoom"]), [f"{FilterIds.CHANNEL}.value"], FilterIds.CHANNEL),
        (base, controls(base, country=["Germany", "France", "Germany"]), [f"{FilterIds.COUNTRY}.value"],
         FilterIds.COUNTRY),
        (base, controls(base, device="iPhone"), [f"{FilterIds.DEVICE}.value"], FilterIds.DEVICE),
        (base, controls(base, end="2026-08-20"), [f"{date_range}.end_date"], date_range),
        (base, controls(base, start="2026-07-01T00:00:00"), [f"{date_range}.start_date"], date_range),
        (apart, controls(apart, end="2026-08-20"), [f"{date_range}.end_date"], date_range),
        # the dates and the observation date set at once (by the server's sync): the observation date set wins,
        # as when it alone is changed
        (base, controls(base, end="2026-08-20", observation_date="2026-08-01"),
         [f"{date_range}.end_date", f"{observation}.date"], observation),
        (base, controls(base, observation_date="2026-08-10"), [f"{observation}.date"], observation),
        (base, controls(base, horizon="30"), [f"{FilterIds.HORIZON}.value"], FilterIds.HORIZON),
        (base, controls(base, horizon=7), [f"{FilterIds.HORIZON}.value"], FilterIds.HORIZON),
    ]
    source = state_from_controls_js()
    for previous, values, changed, triggered in cases:
        expected = sync_filters_and_url(ctx, triggered, "?start=2026-06-01&end=2026-08-31", "/", values, [], [],
                                        previous).state.to_store()
        args = [values["start"], values["end"], values["observation_date"], values["horizon"], values["country"],
                values["device"], values["channel"], previous]
        written = dash_duo.driver.execute_script(RUN_STATE_JS, source, args, changed)
        assert written == expected, (values, changed, written, expected)
    same = [base["start"], base["end"], base["observation_date"], base["horizon"], [], [], [], base]
    assert dash_duo.driver.execute_script(RUN_STATE_JS, source, same, [f"{FilterIds.CHANNEL}.value"]) == "unchanged"
    assert dash_duo.driver.execute_script(RUN_STATE_JS, source, same[:-1] + [None], []) == "unchanged"
    assert dash_duo.driver.execute_script(RUN_STATE_JS, source, same[:-1] + [{"unavailable": "down"}],
                                          []) == "unchanged"
    assert dash_duo.get_logs() == []


COUNT_DRAWS = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
window.__draws = {afterplot: 0, update: 0};
gd.on('plotly_afterplot', () => { window.__draws.afterplot += 1; });
const update = Plotly.update;
Plotly.update = function () { window.__draws.update += 1; return update.apply(this, arguments); };
return !!gd._fullLayout;
"""
NARROW_STATE = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return {width: gd.getBoundingClientRect().width, below: gd.layout.meta.narrow.below,
        margin: gd._fullLayout.margin.l, nticks: gd._fullLayout.xaxis.nticks,
        savedMargin: gd._narrowSaved ? gd._narrowSaved.layout['margin.l'] : null,
        categories: Array.from(gd._fullData[0].y), heldMargin: gd.layout.meta.narrow.layout['margin.l']};
"""


def test_rdr004_a_narrow_chart_is_drawn_once_in_its_narrow_form(dash_duo, dashboard_app):
    """assets/narrow_charts.js gives Plotly.react a narrow graph's figure in its narrow form: a filter change draws
    each such chart once (no second draw by Plotly.update after the wide one), with the narrow margins and ticks,
    and the wide values saved; once the window is wide enough the wide form comes back."""
    dash_duo.start_server(dashboard_app)
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    _open(dash_duo, "/acquisition?period=all")
    name = chart_graph_id(AcquisitionIds.BY_CHANNEL)
    before = driver.execute_script(NARROW_STATE, name)
    assert before["width"] < before["below"]  # three charts in a row at 1440 px: each is narrow
    assert before["margin"] == before["heldMargin"] == 8 and before["savedMargin"] == 140
    assert driver.execute_script(COUNT_DRAWS, name)
    _pick_channel(driver, "TipTop")
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(NARROW_STATE, name)["categories"] == ["TipTop"])
    time.sleep(1.5)  # any second draw would come within a frame or two of the first
    assert driver.execute_script("return window.__draws") == {"afterplot": 1, "update": 0}
    after = driver.execute_script(NARROW_STATE, name)
    assert after["margin"] == 8 and after["nticks"] == 3 and after["savedMargin"] == 140
    driver.set_window_size(2100, 900)
    WebDriverWait(driver, 20).until(lambda d: d.execute_script(NARROW_STATE, name)["margin"] == 140)
    wide = driver.execute_script(NARROW_STATE, name)
    assert wide["width"] >= wide["below"] and wide["savedMargin"] is None and wide["nticks"] == 4
    assert dash_duo.get_logs() == []


MARGINS_PER_DRAW = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
window.__draws = [];
gd.on('plotly_afterplot', () => {
    const size = gd._fullLayout._size;  // the margins Plotly drew with; the count of its own redraws for them
    window.__draws.push([size.l, size.b, gd._fullLayout._redrawFromAutoMarginCount || 0]);
});
return [gd._fullLayout._size.l, gd._fullLayout._size.b];
"""
SPEND_TAIL = """
const gd = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');
return Array.from(gd._fullData[1].y).slice(-3);
"""


def test_rdr005_a_filter_change_does_not_move_the_plot_area_of_a_wide_chart(dash_duo, dashboard_app):
    """layouts.common.FIGURE_MARGIN holds the usual tick labels: after a channel change that gives the revenue chart
    other money ticks, its margins are the same (the plot area does not move) and Plotly did not redraw it to grow
    them (automargin); before, the left margin followed the labels' width and each such change drew the chart
    twice."""
    dash_duo.start_server(dashboard_app)
    driver = dash_duo.driver
    driver.set_window_size(1440, 900)
    _open(dash_duo, "/?period=all")
    name = chart_graph_id(OverviewIds.REVENUE_SPEND)
    assert driver.execute_script(MARGINS_PER_DRAW, name) == [80, 56]
    spend_before = driver.execute_script(SPEND_TAIL, name)
    _pick_channel(driver, "LeapBob")  # a small channel: other, shorter tick labels
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(SPEND_TAIL, name) != spend_before)
    time.sleep(1.5)  # a redraw for the margins would follow within a frame or two
    draws = driver.execute_script("return window.__draws")
    assert draws and all(draw == [80, 56, 0] for draw in draws), draws
    assert dash_duo.get_logs() == []
