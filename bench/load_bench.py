"""Bounded loopback load test of the production server: `gunicorn app:server` with 2 gthread workers.

    python bench/load_bench.py                                  # 20,000 demo users, 30 s per target, 8 clients
    python bench/load_bench.py --duration 30 --concurrency 16 --users 50000 --keep

What it does, all on 127.0.0.1 and stopping by itself:

1. Prepares an embedded DuckDB demo database in a temporary folder (`python -m dashboard demo --users N --days D`),
   trains a quick churn model and scores the customers (`train --n-iter 1`, `score`) so the REST API has rows
   (`--no-score` skips that; the API then answers its documented 503 `no_scores`, counted as errors, and
   customer lookups are left out).
2. Starts `gunicorn app:server` from the repository folder with its gunicorn.conf.py (2 gthread workers x 4
   threads, as in production) on a free loopback port, with DATABASE_URL pointing at that file, DEMO_MODEL=0
   (no background model training), the in-process metric cache (CACHE_REDIS_URL unset) and the cache warm-up on.
   It waits for /health and for both workers' cache warm-up.
3. Drives each target in turn for --duration seconds or --max-requests requests, whichever comes first, with
   --concurrency clients in a closed loop (each client sends its next request when the previous one has answered),
   using aiohttp (pinned in requirements-dev.txt):
   - `health`: GET /health;
   - `pages`: GET of every page path (/, /acquisition, /marketing, /cohorts, /risk, /data) and of the two
     documents a browser loads next (/_dash-layout, /_dash-dependencies);
   - `api`: GET /api/v1/risk (each band, a few offsets) and GET /api/v1/customers/<id>/risk of scored customers;
   - `callbacks-cached`: POST /_dash-update-component for the Overview's chart callbacks with the default filter
     state (the view the cache warm-up computes, served from the cache);
   - `callbacks-uncached`: the same callbacks, each request with a filter state not sent before (date range,
     horizon, channels, countries), so the metric cache misses every time.
   During every target but `health`, a probe asks GET /health twice a second (its p99 and max are printed).
4. Prints per target: requests, requests/s, p50/p99 latency, errors (non-2xx and connection errors), chart
   notices (a 200 whose body is the "could not be loaded" or "data temporarily unavailable" notice), the CPU
   used by the load generator and by the workers, the workers' RSS after the target; then the workers' RSS
   before and after (and peak), and the ratio cached/uncached for throughput and p50.
5. Stops gunicorn (SIGTERM, then SIGKILL of its process group after 45 s) in every case, also on Ctrl-C or an
   error, and removes the folder unless --keep.

The load generator runs on the same machine and competes with the workers for the CPU (on 2 cores it takes a
sizeable share, printed per target): absolute figures are a lower bound of what the server does alone, and the
ratios between targets are what to compare. Latencies are closed-loop service times under the given concurrency
(no open-loop arrival rate, so they do not include queueing a real burst of users would add).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

try:
    import aiohttp
    import psutil
except ImportError as missing:  # pragma: no cover - a missing dev dependency
    sys.exit(f"{missing}: install the test tools first: python3 -m pip install -r requirements-dev.txt")

from layouts.ids import FilterIds, OverviewIds, chart_body_id  # noqa: E402  (light: no app, no database)
from bench_common import free_port, percentile, wait_for_ok  # noqa: E402

PAGE_PATHS = ("/", "/acquisition", "/marketing", "/cohorts", "/risk", "/data", "/_dash-layout", "/_dash-dependencies")
CHARTS = (OverviewIds.KPIS, OverviewIds.ACTIVITY, OverviewIds.REVENUE_SPEND)
WARMUP_LINE = "cache warm-up: default view"
# classes of the notices shown instead of a chart: layouts.common.error_state ("could not be loaded") and
# unavailable_state ("data temporarily unavailable": database down or busy)
NOTICE_MARKS = (b"chart-error", b"db-unavailable")
WORKERS = 2
THREADS = 4
HEALTH_PROBE_SECONDS = 0.5
TARGETS = ("health", "pages", "api", "callbacks-cached", "callbacks-uncached")


@dataclass
class Request:
    """One HTTP request of a target: method, path and an optional JSON body (already encoded)."""

    method: str
    path: str
    body: bytes | None = None


@dataclass
class TargetResult:
    """What one target's run measured."""

    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, every answered request (errors included)
    statuses: dict[str, int] = field(default_factory=dict)  # non-2xx status or exception name -> count
    notices: int = 0
    elapsed: float = 0.0
    generator_cpu: float = 0.0  # seconds of CPU of this process
    workers_cpu: float = 0.0  # seconds of CPU of the gunicorn workers
    health: list[float] = field(default_factory=list)  # latencies of the /health probe during the run
    health_errors: int = 0
    failed: int = 0  # requests that got no answer (connection error or timeout)
    rss_after: int = 0  # bytes, sum over workers

    @property
    def requests(self) -> int:
        """Return the number of requests sent and finished (answered or failed)."""
        return len(self.latencies) + self.failed

    @property
    def errors(self) -> int:
        """Return the number of non-2xx answers and connection errors."""
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        """Return requests per second."""
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0






def run_step(argv: list[str], env: dict[str, str], what: str) -> tuple[bool, str]:
    """Run `python -m dashboard ...` in the repository; return (succeeded, last line of its output)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "dashboard", *argv], cwd=REPO, env=env, capture_output=True,
                          text=True)
    lines = [line for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()
             and "\r" not in line and "it/s" not in line]
    last = lines[-1] if lines else ""
    print(f"  {what}: {'ok' if done.returncode == 0 else f'exit {done.returncode}'} in "
          f"{time.perf_counter() - started:.1f} s; {last[:160]}", flush=True)
    return done.returncode == 0, last


def prepare_database(folder: Path, env: dict[str, str], users: int, days: int, score: bool) -> bool:
    """Generate the demo into folder/bench.duckdb and (when `score`) train and score; return True if scored."""
    print(f"preparing {users:,} demo users over {days} days in {folder} ...", flush=True)
    ok, last = run_step(["demo", "--users", str(users), "--days", str(days)], env, "demo")
    if not ok:
        raise SystemExit(f"demo generation failed: {last}")
    if not score:
        return False
    trained, _ = run_step(["train", "--n-iter", "1", "--seed", "0"], env, "train (quick: 1 candidate per family)")
    if not trained:
        print("  the API will list an empty scoring run (the model needs about 150 days of data)", flush=True)
        return False
    scored, _ = run_step(["score"], env, "score")
    return scored


def read_bounds(url: str):
    """Return the data's DataBounds, read once (read-only) before the server starts."""
    import metrics
    from dashboard import db
    from layouts.filters import DataBounds

    engine = db.make_engine(url, read_only=True)
    try:
        with engine.connect() as conn:
            return DataBounds.from_metric(metrics.data_bounds(conn))
    finally:
        engine.dispose()


def output_items(output: str) -> list[str]:
    """Return the "id.prop" items of a callback's output key (a multi-output key is ..a.p...b.p..)."""
    return output[2:-2].split("...") if output.startswith("..") else [output]


def chart_dependencies(base_url: str) -> dict[str, dict]:
    """Return {chart name: the entry of /_dash-dependencies of the callback that fills it} for the charts of CHARTS
    (a page's charts share one body callback: one request fills them all)."""
    import urllib.request

    with urllib.request.urlopen(f"{base_url}/_dash-dependencies", timeout=30) as answer:
        dependencies = json.load(answer)
    outputs = {item: entry for entry in dependencies for item in output_items(entry["output"])}
    missing = [chart for chart in CHARTS if f"{chart_body_id(chart)}.children" not in outputs]
    if missing:
        raise SystemExit(f"no callback fills {missing} in /_dash-dependencies")
    return {chart: outputs[f"{chart_body_id(chart)}.children"] for chart in CHARTS}


def envelope_entries(declared: list[dict], store: dict) -> list:
    """Return the renderer's values for a callback's declared inputs or states: the filter state for the store,
    an empty list for a wildcard (ALL) id that no component on the page matches, None for anything else (a page
    control's None is its default)."""
    entries = []
    for item in declared:
        pattern = json.loads(item["id"]) if item["id"].startswith("{") else None
        if pattern is not None and ["ALL"] in pattern.values():  # e.g. a retry timer that only exists on a notice
            entries.append([])
        elif pattern is not None:  # a page control ({"type": "page-param", "name": ...})
            entries.append({"id": pattern, "property": item["property"], "value": None})
        else:
            value = store if item["id"] == FilterIds.STATE else None
            entries.append({"id": item["id"], "property": item["property"], "value": value})
    return entries


def callback_body(dependency: dict, store: dict) -> bytes:
    """Return the JSON envelope the Dash renderer posts to run the chart callback `dependency` (its entry of
    /_dash-dependencies) for filter state `store`."""
    outputs = [dict(zip(("id", "property"), item.rsplit(".", 1))) for item in output_items(dependency["output"])]
    return json.dumps({
        "output": dependency["output"],
        "outputs": outputs if dependency["output"].startswith("..") else outputs[0],
        "inputs": envelope_entries(dependency["inputs"], store),
        "changedPropIds": [f"{FilterIds.STATE}.data"],
        "state": envelope_entries(dependency["state"], store),
    }).encode()


def default_store(bounds) -> dict:
    """Return the default filter state as the dcc.Store holds it (what the cache warm-up computes)."""
    from layouts.filters import FilterState

    return FilterState.default(bounds).to_store()


def distinct_stores(bounds, count: int, seed: int) -> list[dict]:
    """Return `count` different valid filter states (none equal to the default), in a reproducible order."""
    from layouts.filters import FilterState

    rng = random.Random(seed)
    days = (bounds.last_date - bounds.first_date).days
    default = FilterState.default(bounds)
    seen, stores = {default}, []
    attempts = 0
    while len(stores) < count and attempts < count * 50:
        attempts += 1
        length = rng.randint(min(7, days), days)
        start = bounds.first_date + dt.timedelta(days=rng.randint(0, days - length))
        end = start + dt.timedelta(days=length)
        channels = tuple(sorted(rng.sample(bounds.channels, rng.randint(0, min(3, len(bounds.channels))))))
        countries = tuple(sorted(rng.sample(bounds.regions, rng.randint(0, min(1, len(bounds.regions))))))
        state = FilterState(start, end, end, rng.choice((7, 14, 28)), countries, (), channels)
        if state not in seen:
            seen.add(state)
            stores.append(state.to_store())
    return stores


def worker_processes(master: psutil.Process) -> list[psutil.Process]:
    """Return the gunicorn worker processes of `master` (its children running the app)."""
    return [child for child in master.children() if child.is_running()]


def rss_of(processes: list[psutil.Process]) -> dict[int, int]:
    """Return {pid: RSS bytes} of the processes still alive."""
    sizes = {}
    for proc in processes:
        try:
            sizes[proc.pid] = proc.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return sizes


def cpu_of(processes: list[psutil.Process]) -> float:
    """Return the CPU seconds (user + system) used so far by the processes still alive."""
    total = 0.0
    for proc in processes:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


class Server:
    """`gunicorn app:server` started in its own process group; stop() ends it whatever happened."""

    def __init__(self, env: dict[str, str], port: int, log_path: Path):
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:server"], cwd=REPO, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.master = psutil.Process(self.proc.pid)

    @property
    def base_url(self) -> str:
        """Return http://127.0.0.1:<port>."""
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        """Return the server log so far."""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        """Wait until /health answers 200 (SystemExit with the log's tail when it does not in `timeout` s)."""
        if wait_for_ok(f"{self.base_url}/health", self.proc, timeout):
            return
        if self.proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        raise SystemExit(f"gunicorn did not answer /health within {timeout:.0f} s:\n{self.log_text()[-3000:]}")

    def wait_warmed(self, workers: int, timeout: float) -> bool:
        """Wait until `workers` cache warm-ups are logged; return False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_text().count(WARMUP_LINE) >= workers:
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        """Stop gunicorn gracefully (SIGTERM to the master), then kill its process group after 45 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                print("gunicorn did not stop within 45 s: killing its process group", flush=True)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers of our own group only (workers, bootstrap)
        except ProcessLookupError:
            pass
        if self.proc.poll() is None:
            self.proc.wait(10)
        self._log.close()


async def timed_request(session: aiohttp.ClientSession, request: Request) -> tuple[float, str | None, bool]:
    """Send `request`; return (seconds, error key or None, True if the body is a notice instead of a chart)."""
    headers = {"Content-Type": "application/json"} if request.body is not None else None
    started = time.perf_counter()
    try:
        async with session.request(request.method, request.path, data=request.body, headers=headers) as answer:
            body = await answer.read()
            took = time.perf_counter() - started
            error = None if 200 <= answer.status < 300 else str(answer.status)
            return took, error, any(mark in body for mark in NOTICE_MARKS)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
        return time.perf_counter() - started, f"connection:{type(exc).__name__}", False


async def run_target(base_url: str, name: str, make_request: Callable[[int], Request | None], duration: float,
                     max_requests: int, concurrency: int, timeout: float, workers: list[psutil.Process],
                     probe_health: bool, peak_rss: dict[int, int]) -> TargetResult:
    """Drive one target with `concurrency` closed-loop clients; return what was measured."""
    result = TargetResult(name)
    connector = aiohttp.TCPConnector(limit=concurrency + 2, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    me = psutil.Process()
    next_index = 0
    stop_at = 0.0

    def take() -> Request | None:
        """Return the next request to send, None once the duration or the request budget is used up."""
        nonlocal next_index
        if next_index >= max_requests or time.monotonic() >= stop_at:
            return None
        request = make_request(next_index)
        next_index += 1
        return request

    async def client(session):
        """Send requests one after another until take() says stop; record each outcome."""
        while (request := take()) is not None:
            took, error, notice = await timed_request(session, request)
            if error:
                result.statuses[error] = result.statuses.get(error, 0) + 1
            if error and error.startswith("connection"):
                result.failed += 1  # no answer: no latency
                continue
            result.latencies.append(took)
            result.notices += notice

    async def prober(session, done: asyncio.Event):
        """Ask /health every HEALTH_PROBE_SECONDS until `done`; record its latencies and failures."""
        while not done.is_set():
            took, error, _ = await timed_request(session, Request("GET", "/health"))
            if error:
                result.health_errors += 1
            else:
                result.health.append(took)
            try:
                await asyncio.wait_for(done.wait(), HEALTH_PROBE_SECONDS)
            except asyncio.TimeoutError:
                pass

    async def sampler(done: asyncio.Event):
        """Record the workers' peak RSS every 0.5 s until `done`."""
        while not done.is_set():
            for pid, size in rss_of(workers).items():
                peak_rss[pid] = max(peak_rss.get(pid, 0), size)
            try:
                await asyncio.wait_for(done.wait(), 0.5)
            except asyncio.TimeoutError:
                pass

    async with aiohttp.ClientSession(base_url, connector=connector, timeout=client_timeout) as session, \
            aiohttp.ClientSession(base_url, timeout=client_timeout) as probe_session:
        done = asyncio.Event()
        side = [asyncio.create_task(sampler(done))]
        if probe_health:
            side.append(asyncio.create_task(prober(probe_session, done)))
        cpu_me, cpu_workers = me.cpu_times(), cpu_of(workers)
        started = time.perf_counter()
        stop_at = time.monotonic() + duration
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        result.elapsed = time.perf_counter() - started
        done.set()
        await asyncio.gather(*side)
        cpu_after = me.cpu_times()
        result.generator_cpu = (cpu_after.user + cpu_after.system) - (cpu_me.user + cpu_me.system)
        result.workers_cpu = cpu_of(workers) - cpu_workers
    result.rss_after = sum(rss_of(workers).values())
    return result


async def warm_requests(base_url: str, requests: list[Request], timeout: float) -> list[str]:
    """Send `requests` once each, 4 at a time (not measured); return the error keys seen."""
    errors = []
    async with aiohttp.ClientSession(base_url, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        for first in range(0, len(requests), 4):
            answers = await asyncio.gather(*(timed_request(session, r) for r in requests[first:first + 4]))
            errors += [error for _, error, _ in answers if error]
    return errors


async def scored_ids(base_url: str, limit: int = 1000) -> list[str]:
    """Return up to `limit` customer ids of the latest scoring run (empty when nothing is scored)."""
    async with aiohttp.ClientSession(base_url) as session:
        async with session.get("/api/v1/risk", params={"limit": str(limit)}) as answer:
            if answer.status != 200:
                return []
            return [item["user_id"] for item in (await answer.json()).get("items", [])]


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages as text (other jobs on the machine skew the figures)."""
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


def mib(size: float) -> str:
    """Return bytes as MiB text."""
    return f"{size / 2**20:,.0f}"


def ms(seconds: float) -> str:
    """Return seconds as milliseconds text."""
    return "-" if seconds != seconds else f"{seconds * 1000:,.1f}"  # nan -> "-"


def print_results(results: list[TargetResult], rss_before: dict[int, int], rss_after: dict[int, int],
                  peak_rss: dict[int, int], cores: int) -> None:
    """Print the per-target table, memory and the cached/uncached ratios."""
    print("\n| target | requests | req/s | p50 ms | p99 ms | max ms | errors | chart notices "
          "| /health p99 ms during (max) | generator CPU | workers CPU | workers RSS after (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        health = "-" if not r.health else f"{ms(percentile(r.health, .99))} ({ms(max(r.health))})"
        if r.health_errors:
            health += f", {r.health_errors} failed"
        print(f"| {r.name} | {r.requests:,} | {r.rate:,.1f} | {ms(percentile(r.latencies, .5))} "
              f"| {ms(percentile(r.latencies, .99))} | {ms(max(r.latencies) if r.latencies else float('nan'))} "
              f"| {r.errors} | {r.notices} | {health} | {r.generator_cpu / r.elapsed:.0%} "
              f"| {r.workers_cpu / r.elapsed:.0%} | {mib(r.rss_after)} |")
    for r in results:
        if r.statuses:
            print(f"  {r.name} errors: " + ", ".join(f"{k} x{v}" for k, v in sorted(r.statuses.items())))
    print(f"\nCPU columns: share of one core over the target's run ({cores} cores in all); the load generator runs "
          "on the same machine and competes with the workers.")
    print("\nworkers' RSS (MiB): " + "; ".join(
        f"pid {pid}: before {mib(rss_before[pid])}, after {mib(rss_after.get(pid, 0))}, "
        f"peak {mib(peak_rss.get(pid, 0))}" for pid in sorted(rss_before)))
    print(f"sum: before {mib(sum(rss_before.values()))}, after {mib(sum(rss_after.values()))}")
    if set(rss_after) != set(rss_before):
        print(f"WORKER RESTARTED: pids before {sorted(rss_before)}, after {sorted(rss_after)}")
    by_name = {r.name: r for r in results}
    cached, uncached = by_name.get("callbacks-cached"), by_name.get("callbacks-uncached")
    if cached and uncached and uncached.rate > 0 and cached.latencies and uncached.latencies:
        cached_p50, uncached_p50 = percentile(cached.latencies, .5), percentile(uncached.latencies, .5)
        print(f"\ncached / uncached chart callbacks: throughput {cached.rate / uncached.rate:,.1f}x "
              f"({cached.rate:,.1f} vs {uncached.rate:,.1f} req/s); p50 latency {uncached_p50 / cached_p50:,.1f}x "
              f"lower ({ms(cached_p50)} vs {ms(uncached_p50)} ms)")


def main(argv=None) -> int:
    """Prepare the data, start gunicorn, run every target, print the figures, stop gunicorn; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per target (default 30)")
    parser.add_argument("--max-requests", type=int, default=5000, help="at most this many requests per target "
                        "(default 5,000)")
    parser.add_argument("--concurrency", type=int, default=8, help="closed-loop clients (default 8 = the workers' "
                        "2 x 4 threads)")
    parser.add_argument("--users", type=int, default=20_000, help="demo users (default 20,000)")
    parser.add_argument("--days", type=int, default=184, help="demo days (default 184; the churn model needs ~150)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a request counts as failed")
    parser.add_argument("--no-score", action="store_true", help="skip training and scoring (the API has no rows)")
    parser.add_argument("--targets", nargs="*", default=None,
                        help="targets to run (default all: health pages api callbacks-cached callbacks-uncached)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the uncached filter states")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server log)")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.max_requests < 1 or args.concurrency < 1 or args.users < 1 or args.days < 2:
        parser.error("--duration, --max-requests, --concurrency, --users must be positive and --days >= 2")

    chosen = args.targets or list(TARGETS)
    unknown = [name for name in chosen if name not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; choose from {list(TARGETS)}")

    folder = Path(tempfile.mkdtemp(prefix="load_bench_"))
    database = folder / "bench.duckdb"
    url = f"duckdb:///{database}"
    env = {key: value for key, value in os.environ.items() if key not in ("CACHE_REDIS_URL", "DASHBOARD_DEBUG")}
    env.update(DATABASE_URL=url, DUCKDB_PATH=str(database), MODEL_DIR=str(folder / "models"), DEMO_MODEL="0",
               DEMO_AUTOFILL="0", CACHE_WARM="1", GUNICORN_WORKERS=str(WORKERS), GUNICORN_THREADS=str(THREADS),
               LOG_LEVEL="info", PYTHONPATH=str(REPO))

    def on_signal(signum, _frame):
        """Turn SIGTERM / SIGHUP into KeyboardInterrupt, so the `finally` below stops gunicorn."""
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored (a `&` job)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    server = None
    try:
        has_scores = prepare_database(folder, env, args.users, args.days, not args.no_score)
        bounds = read_bounds(url)
        port = free_port()
        env["GUNICORN_BIND"] = f"127.0.0.1:{port}"
        cores = psutil.cpu_count() or 1
        print(f"starting gunicorn app:server on 127.0.0.1:{port} ({WORKERS} gthread workers x {THREADS} threads, "
              f"gunicorn.conf.py; in-process metric cache; DEMO_MODEL=0) ...", flush=True)
        started = time.perf_counter()
        server = Server(env, port, folder / "gunicorn.log")
        server.wait_ready(timeout=120)
        warmed = server.wait_warmed(WORKERS, timeout=180)
        print(f"  /health answered after {time.perf_counter() - started:.1f} s; cache warm-up "
              f"{'logged by both workers' if warmed else 'NOT logged by both workers within 180 s'} after "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        workers = worker_processes(server.master)
        if len(workers) != WORKERS:
            print(f"  note: {len(workers)} worker processes found, expected {WORKERS}", flush=True)

        dependencies = chart_dependencies(server.base_url)
        default = default_store(bounds)
        cached = [Request("POST", "/_dash-update-component", callback_body(dependencies[chart], default))
                  for chart in CHARTS]
        uncached_stores = distinct_stores(bounds, args.max_requests, args.seed)
        uncached = [Request("POST", "/_dash-update-component",
                            callback_body(dependencies[CHARTS[i % len(CHARTS)]], store))
                    for i, store in enumerate(uncached_stores)]
        ids = asyncio.run(scored_ids(server.base_url)) if has_scores else []
        api_lists = [Request("GET", f"/api/v1/risk?limit=100&offset={offset}" + (f"&band={band}" if band else ""))
                     for band in (None, "high", "medium", "low") for offset in (0, 100, 200)]
        api_ids = [Request("GET", f"/api/v1/customers/{quote(user_id, safe='')}/risk") for user_id in ids]

        def api_request(i: int) -> Request:
            """Return the i-th API request: list pages and customer lookups in turn."""
            if api_ids and i % 2:
                return api_ids[(i // 2) % len(api_ids)]
            return api_lists[(i // 2) % len(api_lists)]

        targets = {
            "health": lambda i: Request("GET", "/health"),
            "pages": lambda i: Request("GET", PAGE_PATHS[i % len(PAGE_PATHS)]),
            "api": api_request,
            "callbacks-cached": lambda i: cached[i % len(cached)],
            "callbacks-uncached": lambda i: uncached[i] if i < len(uncached) else None,
        }

        # every worker must hold the cached view: send the cached requests a few times first (not measured)
        warm_errors = asyncio.run(warm_requests(server.base_url, cached * (2 * WORKERS), args.timeout))
        print(f"data: {bounds.first_date} .. {bounds.last_date}, {len(bounds.channels)} channels, "
              f"{len(bounds.regions)} countries; scored customers for the API: {len(ids):,}"
              f"{' (no scores: customer lookups left out)' if not ids else ''}; "
              f"uncached filter states prepared: {len(uncached):,}", flush=True)
        if warm_errors:
            print(f"  warning: the cached warm-up requests answered {warm_errors}", flush=True)
        print(f"load: {args.concurrency} closed-loop aiohttp clients, {args.duration:g} s or {args.max_requests:,} "
              f"requests per target, loopback; {cores} cores shared by the generator and the server "
              f"({platform.python_implementation()} {platform.python_version()}, aiohttp {aiohttp.__version__}); "
              f"load average before: {load_average()}", flush=True)

        rss_before = rss_of(workers)
        peak_rss = dict(rss_before)
        results = []
        for name in chosen:
            result = asyncio.run(run_target(server.base_url, name, targets[name], args.duration, args.max_requests,
                                            args.concurrency, args.timeout, workers, name != "health", peak_rss))
            results.append(result)
            print(f"  {name:<19} {result.requests:>6,} requests in {result.elapsed:5.1f} s  "
                  f"{result.rate:8.1f} req/s  p50 {ms(percentile(result.latencies, .5)):>8} ms  "
                  f"p99 {ms(percentile(result.latencies, .99)):>8} ms  errors {result.errors}", flush=True)
        rss_after = rss_of(worker_processes(server.master))
        if not has_scores and "api" in chosen:
            print("note: no churn scores, so every API answer is the documented 503 `no_scores`")
        print_results(results, rss_before, rss_after, peak_rss, cores)
        log = server.log_text()
        tracebacks = log.count("Traceback (most recent call last)")
        print(f"server log: {tracebacks} tracebacks, {log.count('WORKER TIMEOUT')} worker timeouts; "
              f"load average after: {load_average()}")
        return 0
    except KeyboardInterrupt as stopped:
        print(f"\ninterrupted ({str(stopped) or 'Ctrl-C'}): stopping gunicorn", flush=True)
        return 130
    finally:
        if server is not None:
            server.stop()
            print("gunicorn stopped", flush=True)
        if args.keep:
            print(f"kept {folder} (database, models, gunicorn.log)")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
