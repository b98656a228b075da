"""Cache warm-up: every page's default view computed in the background, at start and after each import.

The first visitor of the morning (or the first after a nightly import) would otherwise wait for every
metric of the page to be computed (seconds on millions of visits). A `CacheWarmer` thread renders the
default view of each page — what a browser opening the page without a query string triggers: the
URL -> filters callback (with the navigation links' query) and every registered chart's callback — through the
metric cache, so that view answers from the cache. It then checks the data version every
`check_seconds` (DuckDB: a file stat, no connection) and warms again when an import has changed it.

On by default for `python app.py` and gunicorn (`CACHE_WARM=0` turns it off); a `Config` built in code
(tests, benchmarks) has it off unless `cache_warm=True`. With the in-process cache each gunicorn worker
warms its own; with `CACHE_REDIS_URL` the first worker's results serve them all.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from callbacks.charts import chart_content, registered_charts
from callbacks.filters import sync_filters_and_url
from callbacks.pages import available_pages
from callbacks.state import load_bounds
from dashboard.cache import MetricReader
from layouts.ids import page_param_id
from layouts.shell import Page

log = logging.getLogger(__name__)

CONTEXT_KEY = "cache_warmer"
CHECK_SECONDS = 60.0


def chart_names(component) -> list[str]:
    """Return the chart names whose body Div (`<name>-body`) appears in a page layout, in layout order."""
    names = []
    for child in component._traverse():  # noqa: SLF001 - Dash's own tree walk
        child_id = getattr(child, "id", None)
        if isinstance(child_id, str) and child_id.endswith("-body"):
            names.append(child_id[: -len("-body")])
    return names


def render_page(ctx, page: Page, query: str = "", values: dict[str, str] | None = None) -> list[Any]:
    """Run the callbacks a browser triggers when it opens `page` with URL `query`; return the chart bodies.

    `values` are the page's own parameters as its controls show them (default: the page's defaults, which is
    what the controls hold on a URL without them).
    """
    values = {p.name: p.default for p in page.page_params} | dict(values or {})
    ids = [page_param_id(name) for name in values]
    result = sync_filters_and_url(ctx, None, query, page.path, {}, ids, [None] * len(ids), None)
    stored = result.store
    charts = registered_charts(ctx)
    layout = page.layout(values)
    return [chart_content(ctx, charts[name], stored, values) for name in chart_names(layout) if name in charts]


def warm_pages(ctx) -> dict[str, float]:
    """Render the default view of every data page through the cache; return {page path: seconds}."""
    with MetricReader(ctx) as read:
        if load_bounds(read).is_empty:
            return {}
    took = {}
    for page in available_pages():
        if page.module is None:  # the built-in data page reads row counts directly, nothing to cache
            continue
        started = time.perf_counter()
        try:
            render_page(ctx, page)
        except Exception:  # noqa: BLE001 - one broken page must not keep the others cold
            log.exception("cache warm-up of %s failed; the page is computed on first use", page.path)
            continue
        took[page.path] = time.perf_counter() - started
    return took


class CacheWarmer:
    """A daemon thread that warms the cache at start and again whenever the data version changes."""

    def __init__(self, ctx, check_seconds: float = CHECK_SECONDS):
        self.ctx = ctx
        self.check_seconds = check_seconds
        self.runs = 0  # completed warm-ups
        self.warmed_version: str | None = None
        self.last_timings: dict[str, float] = {}
        self._stop = threading.Event()
        self._warmed = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="cache-warmer", daemon=True)

    def start(self) -> "CacheWarmer":
        """Start the thread (returns self)."""
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop after the page it is on and wait up to `timeout` seconds for it."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_for_run(self, runs: int = 1, timeout: float = 120.0) -> bool:
        """Wait until `runs` warm-ups have completed; return False on timeout."""
        with self._warmed:
            return self._warmed.wait_for(lambda: self.runs >= runs, timeout)

    def check_once(self) -> bool:
        """Warm the cache if the data version changed since the last warm-up; return True if it warmed."""
        with MetricReader(self.ctx) as read:
            version = read.data_version
        if version == self.warmed_version:
            return False
        started = time.perf_counter()
        timings = warm_pages(self.ctx)
        with self._warmed:
            self.warmed_version, self.last_timings = version, timings
            self.runs += 1
            self._warmed.notify_all()
        if timings:
            log.info("cache warm-up: default view of %d pages in %.1f s (data version %s)", len(timings),
                     time.perf_counter() - started, version)
        return True

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.check_once()
                failing = False
            except Exception as exc:  # noqa: BLE001 - a failed warm-up only means a slower first request
                if not failing:  # the traceback once per outage (e.g. the database is down), then one line
                    log.exception("cache warm-up failed; retrying every %.0f s", self.check_seconds)
                else:
                    log.debug("cache warm-up still failing: %s", exc)
                failing = True
            self._stop.wait(self.check_seconds)


def start_cache_warmer(ctx, check_seconds: float = CHECK_SECONDS) -> CacheWarmer:
    """Start a CacheWarmer for the app of `ctx` (kept in ctx.extras; stopped at interpreter exit)."""
    import atexit

    warmer = CacheWarmer(ctx, check_seconds).start()
    ctx.extras[CONTEXT_KEY] = warmer
    atexit.register(warmer.stop)
    return warmer
