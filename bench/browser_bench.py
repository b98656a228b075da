"""How fast a filter change draws in the browser: headless Chromium against `python app.py`, per data page.

    python bench/browser_bench.py                          # 150,000 demo users (the README's demo), 5 repeats
    python bench/browser_bench.py --users 20000 --repeats 3 --pages / /marketing --out /tmp/browser.json

What it does, all on 127.0.0.1:

1. Prepares the demo database bench/.cache/browser_bench_<users>.duckdb (git-ignored, reused by later runs):
   `python -m dashboard demo --users N`, then (unless --no-model) a quick churn model (`train --n-iter 1`),
   `score` and `export-segments`, with MODEL_DIR=bench/.cache/models_<users>, so the Risk page has charts.
2. Starts `python app.py` (Flask's threaded development server) with DATABASE_URL to that file, a free PORT,
   CACHE_WARM=0 (so "cold" really is cold), DEMO_MODEL=0, the in-process metric cache; waits for /ready.
3. Drives headless Chromium (/usr/bin/chromium, /usr/bin/chromedriver, window 1440x900) through selenium. For
   each page and each repetition r it opens the page on a base state no other measurement used
   (`?start=<first date + k days>&end=<last date>`, k distinct per page and repetition), waits until it is drawn,
   then makes a real UI change: opens the Channel dropdown and clicks its first option (a filter change through
   the controls, not a reload). Measured from the pointerdown on that option to the end of the last event of
   the update (see "All drawn" below):
   - cold: the first time the server sees that filter state (its metric cache misses);
   - warm: the page opened again on the same base state, and the same option clicked again (the server answers
     from its metric cache; the browser still runs every callback and redraws every chart).
4. The floor: right after each warm change the figures on the page (`gd.data` and `gd.layout` of every
   `.js-plotly-plot`, typed arrays as lists) are written to bench/.cache/floor_<page>.html, a static page
   that loads the plotly.js Dash serves (plotly/package_data/plotly.min.js; no CDN) and calls Plotly.newPlot
   for every figure into a div of the size the chart had on the dashboard. Floor = the time of those newPlot
   calls (from before the first call until the promise of the last has resolved; plotly.js is loaded and the
   JSON parsed before the clock starts, as it is in the dashboard before a filter change): the faster of the
   second and third of three loads of that page (the first pays plotly.js's first compile). Each repetition's warm and cold times are divided by its own floor (measured seconds apart, on the
   figures that change drew); the table prints the medians of those ratios. The JSON also has `floor_nav_ms`:
   navigation start to all plots drawn.
5. The Dash floor: the same change through Dash with nothing else on the page (bench/dash_floor_app.py, started
   once beside the dashboard): a page with the dashboard's Channel dropdown and one dcc.Graph per figure, in divs of
   the dashboard graphs' sizes, showing the figures the dashboard showed before the warm change; choosing the option
   runs one server callback that answers the figures the dashboard drew after it (read from a file, nothing
   computed). Timed exactly as the warm change (open, pick, all drawn), the faster of two; `warm/dash` is the
   median of the per-repetition ratios: what the dashboard costs beyond Dash's own minimum for the same redraw
   (one request, its answer applied, Plotly.react per graph). Its ratio to the floor (`dash/fl`) is what Dash
   itself adds to the static page.

All drawn: before the change the bench wraps `window.fetch` (counts `_dash-update-component` requests in flight),
`Plotly.react` / `Plotly.newPlot` (counts draws, time their promises) and observes mutations under
#page-content. The update is over when at least one callback request was sent, none is in flight, no element
has `data-dash-is-loading="true"`, every chart body (`#page-content [id$="-body"]`) has content, every
`.js-plotly-plot` has `_fullData`, and nothing of the above happened for --quiet ms (400). The time reported
ends at the last such event (last response, draw or DOM change), so the quiet wait is not counted. Not counted as
a DOM change: AG Grid's screen-reader announcement (`.ag-aria-description-container`, visually hidden), which the
grid sets and clears on its own timer 50-100 ms after its rows are drawn; its last change is `last_announcement_ms`
in the JSON.

Printed per page (milliseconds, medians over the repeats; p90 in the JSON): warm, cold, floor, Dash floor, and the
medians of the per-repetition ratios warm/floor, cold/floor, dash/floor and warm/dash; callback requests per filter
change and their total response bytes (Resource Timing API,
`encodedBodySize` of the `_dash-update-component` entries, i.e. as sent, gzip when the server compresses);
Plotly draws per change; the page's total figure JSON bytes (the floor page's figures). Then, per page, the
largest callback responses of one warm change with their outputs and server times. `--out FILE.json` writes
every raw number. The load average is printed at the start: the figures are wall times on a shared machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from bench_common import free_port, percentile, wait_for_ok  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache"
PAGES = ("/", "/acquisition", "/marketing", "/cohorts", "/risk")
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1440, 900

INSTRUMENT = """
if (window.__bench) { return true; }
const b = window.__bench = {pending: 0, started: 0, draws: 0, lastEvent: 0, lastMutation: 0, lastAnnouncement: 0,
                            t0: null,
                            armed: false, requests: [], drawTimes: [], mutations: []};
const originalFetch = window.fetch;
window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : (input && input.url) || '';
    if (!url.includes('_dash-update-component')) { return originalFetch.apply(this, arguments); }
    let output = '';
    try { output = JSON.parse(init.body).output; } catch (e) { output = '?'; }
    const request = {output: output, start: performance.now(), end: null};
    if (b.armed) { b.requests.push(request); }
    b.pending++; b.started++; b.lastEvent = request.start;
    return originalFetch.apply(this, arguments).finally(() => {
        b.pending--; request.end = b.lastEvent = performance.now();
    });
};
const wrap = (owner, name, counted) => {
        const original = owner[name];
        owner[name] = function () {
            const draw = {call: name, start: performance.now(), end: null};
            if (b.armed) { if (counted) { b.draws++; } b.drawTimes.push(draw); }
            b.lastEvent = draw.start;
            return Promise.resolve(original.apply(this, arguments)).then(r => {
                draw.end = b.lastEvent = performance.now(); return r; });
        };
};
if (window.Plotly) {
    wrap(window.Plotly, 'react', true);
    wrap(window.Plotly, 'newPlot', true);
    wrap(window.Plotly, 'relayout', false);
    wrap(window.Plotly.Plots, 'resize', false);
}
const announcement = r => {  // AG Grid's screen-reader live region (visually hidden), set and cleared on its own timer
    const t = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    return !!(t && t.closest('.ag-aria-description-container'));
};
new MutationObserver(allRecords => {
    const records = allRecords.filter(r => !announcement(r));
    if (records.length < allRecords.length) { b.lastAnnouncement = performance.now(); }
    if (!records.length) { return; }
    b.lastMutation = performance.now();
    if (b.armed) {
        const r = records[records.length - 1];
        const t = r.target.nodeType === 1 ? r.target : r.target.parentElement;
        const owner = t && t.closest('[id]');
        b.mutations.push({ms: b.lastMutation - (b.t0 || 0), type: r.type, attr: r.attributeName,
                          where: (owner ? owner.id : '') + ' ' + (t ? t.tagName + '.' + t.className : '')});
        if (b.mutations.length > 50) { b.mutations.shift(); }
    }
})
    .observe(document.querySelector('#page-content'),
             {childList: true, subtree: true, attributes: true, characterData: true});
document.addEventListener('pointerdown', e => { if (b.armed && b.t0 === null) { b.t0 = e.timeStamp; } }, true);
return true;
"""
ARM = """
const b = window.__bench;
performance.setResourceTimingBufferSize(100000);
performance.clearResourceTimings();
b.armed = true; b.t0 = null; b.started = 0; b.draws = 0; b.requests = []; b.drawTimes = []; b.mutations = [];
return true;
"""
DRAWN = """
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'));
const graphs = Array.from(document.querySelectorAll('#page-content .js-plotly-plot'));
return bodies.length > 0 && bodies.every(body => body.children.length > 0)
    && graphs.every(g => !!g._fullData)
    && document.querySelector('[data-dash-is-loading="true"]') === null;
"""
NOT_DRAWN = """
const ids = (selector, test) => Array.from(document.querySelectorAll(selector)).filter(test).map(e => e.id);
return JSON.stringify({empty_bodies: ids('#page-content [id$="-body"]', b => b.children.length === 0),
    bodies: document.querySelectorAll('#page-content [id$="-body"]').length,
    graphs_without_data: ids('#page-content .js-plotly-plot', g => !g._fullData),
    loading: ids('[data-dash-is-loading="true"]', () => true)});
"""
UPDATE_STATE = """
const b = window.__bench;
const graphs = Array.from(document.querySelectorAll('#page-content .js-plotly-plot'));
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'));
return {now: performance.now(), t0: b.t0, started: b.started, pending: b.pending, draws: b.draws,
        last: Math.max(b.lastEvent, b.lastMutation),
        drawn: bodies.length > 0 && bodies.every(body => body.children.length > 0)
               && graphs.every(g => !!g._fullData)
               && document.querySelector('[data-dash-is-loading="true"]') === null,
        graphs: graphs.length, mutations: b.mutations,
        last_mutation_ms: b.lastMutation - b.t0, last_announcement_ms: b.lastAnnouncement - b.t0,
        draw_times: b.drawTimes.map(d => ({call: d.call, start_ms: d.start - b.t0, end_ms: d.end - b.t0}))};
"""
REQUESTS = """
const entries = performance.getEntriesByType('resource').filter(e => e.name.includes('_dash-update-component'));
const requests = window.__bench.requests;
return entries.map(e => {
    let best = null;
    for (const r of requests) {
        if (best === null || Math.abs(r.start - e.startTime) < Math.abs(best.start - e.startTime)) { best = r; }
    }
    return {output: best ? best.output : '?', bytes: e.encodedBodySize, decoded: e.decodedBodySize,
            transfer: e.transferSize, ms: e.duration, server_wait_ms: e.responseStart - e.requestStart,
            start_ms: e.startTime - window.__bench.t0, end_ms: e.responseEnd - window.__bench.t0};
});
"""
FIGURES = """
const asList = (key, value) => ArrayBuffer.isView(value) ? Array.from(value) : value;
return Array.from(document.querySelectorAll('#page-content .js-plotly-plot')).map(g => {
    const box = g.getBoundingClientRect();
    const owner = g.closest('[id]');
    return {id: owner ? owner.id : '', width: Math.round(box.width), height: Math.round(box.height),
            figure: JSON.stringify({data: g.data, layout: g.layout}, asList)};
});
"""
OPEN_FIRST_OPTION = """
return Array.from(document.querySelectorAll('[role=option]')).filter(o => o.offsetParent !== null).length;
"""
FLOOR_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>floor {page}</title>
<script src="{plotly}"></script>
<style>body {{ margin: 0; font-family: sans-serif; }} .g {{ margin: 4px; }}</style></head>
<body>{divs}
<script type="application/json" id="figures">{figures}</script>
<script>
const figures = JSON.parse(document.getElementById('figures').textContent);
window.addEventListener('load', () => {{
    const started = performance.now();
    Promise.all(figures.map((f, i) => Plotly.newPlot('g' + i, f.data, f.layout, {{displaylogo: false}})))
        .then(() => {{ const ended = performance.now();
                       window.__floor = {{newplot_ms: ended - started, nav_ms: ended}}; }});
}});
</script></body></html>
"""


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages as text."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())






def run_dashboard(argv: list[str], env: dict[str, str]) -> None:
    """Run `python -m dashboard ...` in the repository; SystemExit with its output's tail when it fails."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dashboard", *argv], cwd=REPO, env=env, capture_output=True,
                          text=True)
    if done.returncode != 0:
        raise SystemExit(f"`python -m dashboard {' '.join(argv)}` failed ({done.returncode}):\n"
                         f"{(done.stdout + done.stderr)[-2000:]}")
    print(f"  {argv[0]}: {time.perf_counter() - started:.1f} s", flush=True)


def prepare_database(users: int, with_model: bool) -> tuple[str, Path]:
    """Return (DATABASE_URL, MODEL_DIR) of the cached bench database, generating it (and the model) first if
    needed."""
    path = CACHE / f"browser_bench_{users}.duckdb"
    model_dir = CACHE / f"models_{users}"
    url = f"duckdb:///{path}"
    done_marker = path.with_suffix(".ready")
    model_marker = path.with_suffix(".model-ready")
    env = dict(os.environ, DATABASE_URL=url, MODEL_DIR=str(model_dir), DEMO_MODEL="0")
    if not done_marker.exists():
        for leftover in (path, path.with_suffix(".duckdb.wal"), model_marker):
            leftover.unlink(missing_ok=True)
        shutil.rmtree(model_dir, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"generating {users:,} demo users into {path} ...", flush=True)
        run_dashboard(["demo", "--users", str(users)], env)
        done_marker.write_text(dt.datetime.now().isoformat())
    if with_model and not model_marker.exists():
        print("training a quick churn model, scoring, clustering (once; about 2 minutes) ...", flush=True)
        model_dir.mkdir(parents=True, exist_ok=True)
        run_dashboard(["train", "--n-iter", "1", "--seed", "0"], env)
        run_dashboard(["score"], env)
        run_dashboard(["export-segments", "--out", str(CACHE / f"segments_{users}.csv")], env)
        model_marker.write_text(dt.datetime.now().isoformat())
    return url, model_dir


def data_dates(url: str) -> tuple[dt.date, dt.date]:
    """Return the first and last date of the data (read-only, before the server starts)."""
    sys.path.insert(0, str(REPO))
    import metrics
    from dashboard import db
    from layouts.filters import DataBounds

    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            bounds = DataBounds.from_metric(metrics.data_bounds(conn))
    finally:
        engine.dispose()
    return bounds.first_date, bounds.last_date


def stop_process(proc: subprocess.Popen) -> None:
    """Stop `proc` if it still runs: SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class App:
    """`python app.py` on a free port in its own process group; stop() ends it."""

    def __init__(self, url: str, model_dir: Path, log_path: Path):
        self.port = free_port()
        env = dict(os.environ, DATABASE_URL=url, MODEL_DIR=str(model_dir), PORT=str(self.port), HOST="127.0.0.1",
                   CACHE_WARM="0", DEMO_MODEL="0", DEMO_AUTOFILL="0", DASHBOARD_DEBUG="0", LOG_LEVEL="WARNING")
        env.pop("CACHE_REDIS_URL", None)
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        """Return once /ready answers 200; SystemExit with the log's tail otherwise."""
        if wait_for_ok(f"{self.base_url}/ready", self.proc, timeout):
            return
        raise SystemExit(f"the app did not get ready:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        """Stop the app (SIGTERM, then SIGKILL after 10 s) and close its log."""
        stop_process(self.proc)
        self._log.close()


class DashFloorApp:
    """bench/dash_floor_app.py on a free port, serving the figures of `figures_file`; stop() ends it."""

    def __init__(self, figures_file: Path, log_path: Path):
        self.port = free_port()
        self.figures_file = figures_file
        self.write([], [])
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, str(REPO / "bench" / "dash_floor_app.py"), "--figures",
                                      str(figures_file), "--port", str(self.port)], cwd=REPO, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def url(self) -> str:
        """Return the page's address."""
        return f"http://127.0.0.1:{self.port}/"

    def write(self, before: list[dict], after: list[dict]) -> None:
        """Write the figures the page shows (`before`, FIGURES items) and the callback answers (`after`)."""
        self.figures_file.write_text(json.dumps({
            "before": [json.loads(f["figure"]) for f in before], "after": [json.loads(f["figure"]) for f in after],
            "sizes": [[f["width"], f["height"]] for f in after]}), encoding="utf-8")

    def wait_ready(self, timeout: float = 60) -> None:
        """Return once the page answers 200; SystemExit with the log's tail otherwise."""
        if wait_for_ok(self.url, self.proc, timeout):
            return
        raise SystemExit(f"the Dash floor app did not start:\n{self.log_path.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        """Stop the app (SIGTERM, then SIGKILL after 10 s) and close its log."""
        stop_process(self.proc)
        self._log.close()


def start_browser():
    """Return a headless Chromium webdriver at 1440x900."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WIDTH},{HEIGHT}", "--allow-file-access-from-files"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_window_size(WIDTH, HEIGHT)
    driver.set_script_timeout(60)
    return driver


def wait_for(driver, script: str, what: str, timeout: float = 120, poll: float = 0.05):
    """Return the first truthy result of `script`, polled every `poll` s; RuntimeError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = driver.execute_script(script)
        if result:
            return result
        time.sleep(poll)
    raise RuntimeError(f"timed out waiting for {what} at {driver.current_url}")


def open_drawn(driver, url: str) -> None:
    """Open `url`, wait until every chart is drawn and stays so for a moment, then install the instrumentation
    (one more load when the first does not draw within 90 s)."""
    driver.get(url)
    try:
        wait_for(driver, DRAWN, "the page to draw", timeout=90)
    except RuntimeError:
        print(f"  (not drawn after 90 s, loading again: {driver.execute_script(NOT_DRAWN)})", flush=True)
        driver.get(url)
        wait_for(driver, DRAWN, "the page to draw")
    time.sleep(0.5)
    wait_for(driver, DRAWN, "the page to settle")
    driver.execute_script(INSTRUMENT)


def pick_first_channel(driver) -> str:
    """Open the Channel dropdown, arm the clock, click its first option; return the option's text."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, "#filter-channel").click()
    wait_for(driver, OPEN_FIRST_OPTION, "the channel options", timeout=30)
    option = next(o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]") if o.is_displayed())
    text = option.text
    driver.execute_script("arguments[0].scrollIntoView({block: 'nearest'});", option)
    driver.execute_script(ARM)
    option.click()
    return text


def wait_update(driver, quiet_ms: float, timeout: float = 180) -> dict:
    """Wait until the update started by the armed click is over; return its timings and counts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = driver.execute_script(UPDATE_STATE)
        if (state["t0"] is not None and state["started"] > 0 and state["pending"] == 0 and state["drawn"]
                and state["now"] - state["last"] >= quiet_ms):
            requests = driver.execute_script(REQUESTS)
            return {"ms": state["last"] - state["t0"], "requests": len(requests),
                    "response_bytes": sum(r["bytes"] for r in requests),
                    "decoded_bytes": sum(r["decoded"] for r in requests), "draws": state["draws"],
                    "resizes": sum(d["call"] in ("relayout", "resize") for d in state["draw_times"]),
                    "graphs": state["graphs"], "detail": requests, "last_mutation_ms": state["last_mutation_ms"],
                    "last_mutations": state["mutations"][-8:],
                    "last_announcement_ms": state["last_announcement_ms"], "draw_times": state["draw_times"]}
        time.sleep(0.05)
    raise RuntimeError(f"the filter change did not finish drawing at {driver.current_url}")


def close_dropdown(driver) -> None:
    """Close an open dropdown menu (Escape on the body)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)


def measure_change(driver, url: str, quiet_ms: float, figures_before: list | None = None) -> tuple[dict, str]:
    """Open `url` drawn, pick the first channel, wait for the redraw; return (measurement, option text). With
    `figures_before` (a list), the page's figures as opened (FIGURES) are added to it."""
    open_drawn(driver, url)
    if figures_before is not None:
        figures_before.extend(driver.execute_script(FIGURES))
    option = pick_first_channel(driver)
    result = wait_update(driver, quiet_ms)
    close_dropdown(driver)
    return result, option


def plotly_bundle() -> Path:
    """Return the plotly.min.js file Dash serves to the dashboard (from the installed plotly package)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def write_floor_page(page: str, figures: list[dict]) -> Path:
    """Write the static floor page of `figures` for `page`; return its path."""
    divs = "".join(f'<div class="g" id="g{i}" style="width:{f["width"]}px;height:{f["height"]}px"></div>'
                   for i, f in enumerate(figures))
    payload = "[" + ",".join(f["figure"] for f in figures) + "]"
    payload = payload.replace("</", "<\\/")
    name = page.strip("/") or "overview"
    path = CACHE / f"floor_{name}.html"
    path.write_text(FLOOR_PAGE.format(page=page, plotly=plotly_bundle().as_uri(), divs=divs, figures=payload),
                    encoding="utf-8")
    return path


def measure_floor(driver, path: Path, repeats: int) -> list[dict]:
    """Load the floor page `repeats` times; return its newPlot and navigation times (ms)."""
    runs = []
    for _ in range(repeats):
        driver.get(path.as_uri())
        runs.append(wait_for(driver, "return window.__floor || null;", "the floor page", timeout=60))
    return runs


def summary(values: list[float]) -> dict:
    """Return the median and p90 of `values` (ms)."""
    return {"median": statistics.median(values) if values else float("nan"), "p90": percentile(values, 0.9)}


def bench_page(driver, base_url: str, page: str, first_offset: int, first: dt.date, last: dt.date, repeats: int,
               quiet_ms: float, dash_floor: DashFloorApp) -> dict:
    """Measure cold and warm filter changes and the floor on `page`; return its raw numbers.

    The floor is measured in each repetition right after its warm change, on the figures that change drew, so that
    each ratio compares two times taken moments apart (a shared machine's load moves both alike); the ratios printed
    are the medians of the per-repetition ratios."""
    cold, warm, options, floor_runs, figures, dash_runs = [], [], [], [], [], []
    for repeat in range(repeats):
        start = first + dt.timedelta(days=first_offset + repeat)
        url = f"{base_url}{page}?start={start.isoformat()}&end={last.isoformat()}"
        cold_run, option = measure_change(driver, url, quiet_ms)
        before: list = []
        warm_run, _ = measure_change(driver, url, quiet_ms, before)
        figures = driver.execute_script(FIGURES)
        # three loads, the faster of the last two counted: the first pays plotly.js's first compile in a new renderer
        # process, which the dashboard paid when the page opened (the faster one keeps the ratio on the safe side)
        floor_run = min(measure_floor(driver, write_floor_page(page, figures), 3)[1:], key=lambda r: r["newplot_ms"])
        dash_floor.write(before, figures)
        dash_run = min((measure_change(driver, dash_floor.url, quiet_ms)[0] for _ in range(2)), key=lambda r: r["ms"])
        cold.append(cold_run)
        warm.append(warm_run)
        floor_runs.append(floor_run)
        dash_runs.append(dash_run)
        options.append(option)
        print(f"  {page} #{repeat + 1}: {option!r} cold {cold_run['ms']:,.0f} ms ({cold_run['requests']} requests), "
              f"warm {warm_run['ms']:,.0f} ms ({warm_run['requests']} requests, {warm_run['draws']} draws), "
              f"floor {floor_run['newplot_ms']:,.0f} ms, Dash floor {dash_run['ms']:,.0f} ms", flush=True)
    return {
        "page": page, "option": options, "cold": cold, "warm": warm, "floor": floor_runs, "dash_floor": dash_runs,
        "figures": [{"id": f["id"], "bytes": len(f["figure"].encode()), "width": f["width"], "height": f["height"]}
                    for f in figures],
        "figure_bytes": sum(len(f["figure"].encode()) for f in figures),
        "cold_ms": summary([r["ms"] for r in cold]), "warm_ms": summary([r["ms"] for r in warm]),
        "floor_ms": summary([r["newplot_ms"] for r in floor_runs]),
        "floor_nav_ms": summary([r["nav_ms"] for r in floor_runs]),
        "dash_floor_ms": summary([r["ms"] for r in dash_runs]),
        "dash_ratio": summary([d["ms"] / f["newplot_ms"] for d, f in zip(dash_runs, floor_runs)]),
        "warm_dash_ratio": summary([w["ms"] / d["ms"] for w, d in zip(warm, dash_runs)]),
        "warm_ratio": summary([w["ms"] / f["newplot_ms"] for w, f in zip(warm, floor_runs)]),
        "cold_ratio": summary([c["ms"] / f["newplot_ms"] for c, f in zip(cold, floor_runs)]),
    }


def kb(size: float) -> str:
    """Return bytes as kB text."""
    return f"{size / 1000:,.0f}"


def print_table(results: list[dict]) -> None:
    """Print the per-page table and the largest callback responses of one warm change per page."""
    header = (f"{'page':<13} {'warm':>7} {'cold':>7} {'floor':>6} {'dash':>6} {'warm/fl':>8} {'cold/fl':>8} "
              f"{'dash/fl':>8} {'warm/dash':>9} {'requests':>8} {'resp kB':>8} {'draws':>6} {'resizes':>7} "
              f"{'fig kB':>7}")
    print("\nmedians in ms (p90 in the JSON); dash: the Dash floor (the same redraw in a minimal Dash app); warm/fl, "
          "cold/fl, dash/fl,\nwarm/dash: medians of the ratios of each repetition;\nper warm filter change: "
          "callback requests, their response kB (as sent), Plotly.react/newPlot calls (draws),\n"
          "Plotly.relayout/Plots.resize calls (resizes); figure JSON kB of the page")
    print(header)
    print("-" * len(header))
    for r in results:
        warm, cold, floor = r["warm_ms"]["median"], r["cold_ms"]["median"], r["floor_ms"]["median"]
        warm_ratio, cold_ratio = r["warm_ratio"]["median"], r["cold_ratio"]["median"]
        dash, dash_ratio, warm_dash = (r["dash_floor_ms"]["median"], r["dash_ratio"]["median"],
                                       r["warm_dash_ratio"]["median"])
        requests = statistics.median(x["requests"] for x in r["warm"])
        response = statistics.median(x["response_bytes"] for x in r["warm"])
        draws = statistics.median(x["draws"] for x in r["warm"])
        resizes = statistics.median(x["resizes"] for x in r["warm"])
        print(f"{r['page']:<13} {warm:>7,.0f} {cold:>7,.0f} {floor:>6,.0f} {dash:>6,.0f} {warm_ratio:>8.2f} "
              f"{cold_ratio:>8.1f} {dash_ratio:>8.2f} {warm_dash:>9.2f} {requests:>8.0f} {kb(response):>8} "
              f"{draws:>6.0f} {resizes:>7.0f} {kb(r['figure_bytes']):>7}")
    print("\nlargest callback responses of the last warm change (kB as sent / decoded, ms total / server wait)")
    for r in results:
        detail = sorted(r["warm"][-1]["detail"], key=lambda x: -x["decoded"])
        print(f"{r['page']}: " + "; ".join(
            f"{x['output'].strip('.')[:60]} {kb(x['bytes'])}/{kb(x['decoded'])} kB "
            f"{x['ms']:.0f}/{x['server_wait_ms']:.0f} ms"
            for x in detail[:4]))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=150_000, help="demo users (default: the README's 150,000)")
    parser.add_argument("--repeats", type=int, default=5, help="filter changes per page and server-cache state")
    parser.add_argument("--pages", nargs="+", default=list(PAGES), help="page paths (default: every data page)")
    parser.add_argument("--quiet", type=float, default=400, help="ms without a request, draw or DOM change that "
                        "ends an update (not counted in the time)")
    parser.add_argument("--no-model", action="store_true", help="skip the churn model (the Risk page shows its "
                        "empty state)")
    parser.add_argument("--out", type=Path, help="write the raw numbers to this JSON file")
    args = parser.parse_args(argv)

    print(f"load average {load_average()} on {os.cpu_count()} cores (a shared machine skews wall times)", flush=True)
    url, model_dir = prepare_database(args.users, not args.no_model)
    first, last = data_dates(url)
    app = App(url, model_dir, CACHE / "browser_bench_app.log")
    dash_floor = DashFloorApp(CACHE / "dash_floor_figures.json", CACHE / "dash_floor_app.log")
    driver = None
    results = []
    try:
        app.wait_ready()
        dash_floor.wait_ready()
        driver = start_browser()
        print(f"app on {app.base_url} ({args.users:,} users, {first} .. {last}); {args.repeats} repeats per page",
              flush=True)
        for index, page in enumerate(args.pages):
            results.append(bench_page(driver, app.base_url, page, 1 + index * args.repeats, first, last,
                                      args.repeats, args.quiet, dash_floor))
    finally:
        if driver is not None:
            driver.quit()
        app.stop()
        dash_floor.stop()
    print_table(results)
    print(f"load average at the end {load_average()}")
    if args.out:
        args.out.write_text(json.dumps({"users": args.users, "repeats": args.repeats, "quiet_ms": args.quiet,
                                        "load_average_end": load_average(), "pages": results}, indent=1))
        print(f"raw numbers written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
