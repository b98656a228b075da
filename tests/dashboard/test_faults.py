"""Faults really run while the app serves (issue 15, items 9 and 10): a private PostgreSQL cluster stopped and started
again, a private redis-server stopped and frozen, the DuckDB file locked by another process's write transaction.

The app runs under gunicorn (2 workers x 4 threads, gunicorn.conf.py) in a subprocess; the tests talk to it over
HTTP like a browser: /health, /ready, the API, and the Dash callbacks posted to /_dash-update-component as the page
posts them. What is checked is what a user sees (the notice, the status codes) and that the app recovers by itself.
/health latencies are printed, not asserted (each probe must only answer 200 within the client timeout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from dashboard import db
from dashboard.demo import write_demo
from tests.callback_keys import is_multi_output, output_items

REPO = Path(__file__).resolve().parents[2]
CLIENT_TIMEOUT = 5.0  # seconds a probe or an API client waits for an answer
CALLBACK_TIMEOUT = 30.0  # a chart computed from scratch on the small demo takes well under this
DOWN_TEXT = "The database is not answering"
BUSY_TEXT = "The database is busy (an import is running)"
DEMO_USERS = 1500
# gunicorn's default access log line plus the answering worker's process id ("<1234>")
ACCESS_LOG_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" worker=%(p)s'


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- the app under gunicorn


class Server:
    """The app under gunicorn in a subprocess (its own process group), and an HTTP client for it."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {**os.environ, **env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "2",
                    "GUNICORN_THREADS": "4", "CACHE_WARM": "0", "DEMO_MODEL": "0", "DEMO_AUTOFILL": "0"}
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--access-logformat", ACCESS_LOG_FORMAT,
                                      "app:server"], cwd=REPO, env=full_env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        # /health answers once one worker has started; the others may still be starting, and a start reads the
        # database (whether accounts exist): wait until every worker has answered, so that no start-up read
        # meets a lock a test takes (the workers' start is not what the tests are about)
        deadline = time.monotonic() + 120
        workers = int(full_env["GUNICORN_WORKERS"])
        while True:
            try:
                if (requests.get(self.base + "/health", timeout=2).status_code == 200
                        and len(set(re.findall(r"worker=<(\d+)>", log_path.read_text()))) >= workers):
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise AssertionError(log_path.read_text()[-3000:])
            time.sleep(0.05)
        self.deps = requests.get(self.base + "/_dash-dependencies", timeout=CALLBACK_TIMEOUT).json()

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()

    def get(self, path: str, timeout: float = CLIENT_TIMEOUT) -> requests.Response:
        """Return the answer to GET `path`."""
        return requests.get(self.base + path, timeout=timeout)

    # -- Dash callbacks, posted as the page posts them

    def dependency(self, output: str) -> dict:
        """Return the callback declaration one of whose outputs is exactly `output` (e.g. "url.search")."""
        found = [d for d in self.deps if output in output_items(d["output"])]
        assert len(found) == 1, (output, [d["output"] for d in found])
        return found[0]

    def chart_names(self) -> list[str]:
        """Return the name of every chart card filled from the database (register_page_charts: its page's body
        callback also listens to the card's retry timer); the clustering card reads a model file, not the
        database."""
        names = []
        for dep in self.deps:
            sources = {json.loads(i["id"]).get("source") for i in dep["inputs"] if i["id"].startswith("{")}
            for item in output_items(dep["output"]):
                name = item[:-len("-body.children")]
                if item.endswith("-body.children") and name in sources:
                    names.append(name)
        assert len(names) == len(set(names)), names  # each card is filled by one callback
        return sorted(names)

    def callback(self, output: str, values: dict[str, Any], changed: list[str],
                 retries: dict[str, int] | None = None) -> requests.Response:
        """Post the callback of `output` with input/state `values` ({"id.prop": value}) after `changed` changed;
        `retries` ({source: attempt}) adds a database notice's retry timer that has just fired."""
        dep = self.dependency(output)

        def item(spec: dict) -> Any:
            raw = spec["id"]
            if raw.startswith("{"):
                pattern = json.loads(raw)
                if ["ALL"] in pattern.values():  # a wildcard: the matching components on the page
                    if pattern.get("type") == "db-retry" and pattern.get("source") in (retries or {}):
                        attempt = retries[pattern["source"]]
                        return [{"id": {**pattern, "attempt": attempt}, "property": spec["property"], "value": 1}]
                    return []
                return {"id": pattern, "property": spec["property"], "value": None}
            return {"id": raw, "property": spec["property"], "value": values.get(f"{raw}.{spec['property']}")}

        def output_item(text: str) -> Any:
            raw, prop = text.rsplit(".", 1)
            if raw.startswith("{"):
                pattern = json.loads(raw)
                return [] if ["ALL"] in pattern.values() else {"id": pattern, "property": prop}
            return {"id": raw, "property": prop}

        out = dep["output"]
        outputs = [output_item(o) for o in output_items(out)] if is_multi_output(out) else output_item(out)
        changed_ids = list(changed)
        for source, attempt in (retries or {}).items():
            changed_ids.append(json.dumps({"attempt": attempt, "source": source, "type": "db-retry"},
                                          separators=(",", ":")) + ".n_intervals")
        body = {"output": out, "outputs": outputs, "inputs": [item(s) for s in dep["inputs"]],
                "state": [item(s) for s in dep.get("state", [])], "changedPropIds": changed_ids}
        return requests.post(self.base + "/_dash-update-component", json=body, timeout=CALLBACK_TIMEOUT)

    def sync(self, search: str = "", pathname: str = "/", retry: int | None = None) -> requests.Response:
        """Return the answer of the URL -> filters sync for a page load at `pathname` + `search`."""
        return self.callback("url.search", {"url.search": search, "url.pathname": pathname},
                             ["url.search"] if retry is None else [],
                             None if retry is None else {"filters": retry})

    def chart(self, name: str, stored: Any, retry: int | None = None) -> requests.Response:
        """Return the answer of the body callback filling chart `name`'s card (its page's callback for the charts of
        its role group) for the filter state `stored`; `retry`: chart `name`'s retry timer fired instead."""
        return self.callback(f"{name}-body.children", {"filter-state.data": stored},
                             ["filter-state.data"] if retry is None else [],
                             None if retry is None else {name: retry})


def response_of(answer: requests.Response) -> dict:
    """Return {component id: {prop: value}} of a callback answer (a 200 with a body): its declared outputs
    ("response") and what it set with set_props ("sideUpdate"), merged."""
    assert answer.status_code == 200, (answer.status_code, answer.text[:500])
    body = answer.json()
    merged = {component: dict(props) for component, props in body.get("response", {}).items()}
    for component, props in (body.get("sideUpdate") or {}).items():
        target = merged.setdefault(component, {})
        clashing = {prop for prop in props if prop in target and target[prop] != props[prop]}
        assert not clashing, (component, clashing)  # a prop both returned and set differently
        target.update(props)
    return merged


def chart_content(answer: requests.Response, name: str) -> Any:
    """Return what a chart callback put in the card of `name`."""
    return response_of(answer)[f"{name}-body"]["children"]


def components(tree: Any):
    """Yield every Dash component (as JSON) in `tree`."""
    if isinstance(tree, dict):
        if "type" in tree and "props" in tree:
            yield tree
            yield from components(tree["props"].get("children"))
        else:
            for value in tree.values():
                yield from components(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from components(value)


def retry_timer(tree: Any) -> dict | None:
    """Return the props of the notice's retry timer (a dcc.Interval) in `tree`, or None."""
    timers = [c["props"] for c in components(tree)
              if c["type"] == "Interval" and isinstance(c["props"].get("id"), dict)
              and c["props"]["id"].get("type") == "db-retry"]
    assert len(timers) <= 1
    return timers[0] if timers else None


def is_real_chart(tree: Any) -> bool:
    """True when `tree` is a chart's data (a figure, a grid or KPI cards), not a notice or an empty state."""
    text = json.dumps(tree)
    return "db-unavailable" not in text and "chart-error" not in text and "empty-state" not in text


def filter_state(server: Server, search: str) -> dict:
    """Return the filter state the sync computes for `search` (the database answering)."""
    store = response_of(server.sync(search))["filter-state"]["data"]
    assert "start" in store and "unavailable" not in store
    return store


MIN_PROBES = 3


def probe_health(server: Server, stop: threading.Event, latencies: list[float], failures: list[str]) -> None:
    """GET /health every 0.2 s until `stop` is set and at least MIN_PROBES probes were made; record each latency, and
    every answer that was not a 200 in time."""
    while not stop.is_set() or len(latencies) < MIN_PROBES:
        started = time.perf_counter()
        try:
            status = server.get("/health", timeout=CLIENT_TIMEOUT).status_code
            if status != 200:
                failures.append(f"status {status}")
        except requests.RequestException as exc:
            failures.append(type(exc).__name__)
        latencies.append(time.perf_counter() - started)
        stop.wait(0.2)


def describe(latencies: list[float]) -> str:
    """Return "n probes, median and max in ms"."""
    ordered = sorted(latencies)
    return (f"{len(ordered)} probes, median {1000 * ordered[len(ordered) // 2]:.0f} ms, "
            f"max {1000 * ordered[-1]:.0f} ms")


# ---------------------------------------------------------------- a private PostgreSQL cluster


class PrivateCluster:
    """A PostgreSQL cluster of its own in a temporary folder (initdb as the postgres OS user), on a free port."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="fault-pg-", dir="/tmp"))
        shutil.chown(self.root, user="postgres", group="postgres")
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.as_postgres(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"])
        self.start()

    @staticmethod
    def as_postgres(command: list[str]) -> None:
        """Run `command` as the postgres OS user (initdb and pg_ctl refuse root)."""
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self.as_postgres(["pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"),
                          "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: sessions are ended, as on a planned restart)."""
        self.as_postgres(["pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop"])

    def remove(self) -> None:
        """Stop the server if it runs and delete its folder."""
        subprocess.run(["runuser", "-u", "postgres", "--", "pg_ctl", "-D", str(self.data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="module")
def private_pg():
    """A private PostgreSQL cluster holding a small demo, removed after the module."""
    cluster = PrivateCluster()
    try:
        engine = db.make_engine(cluster.url)
        write_demo(engine, users=DEMO_USERS, seed=5)
        engine.dispose()
        yield cluster
    finally:
        cluster.remove()


def test_flt001_postgresql_stopped_and_started_while_serving(private_pg, tmp_path):
    """PostgreSQL stops under the running app: pages answer 200 with the notice (filter bar and every chart card,
    retrying by itself with backoff), /health stays 200, /ready and the API answer 503 with Retry-After. When it
    starts again, the same requests give the real filters and charts without restarting the app."""
    server = Server({"DATABASE_URL": private_pg.url}, tmp_path / "gunicorn.log")
    try:
        store = filter_state(server, "")
        charts = server.chart_names()
        assert len(charts) >= 20  # every page's cards (overview, acquisition, marketing, cohorts, risk)
        assert is_real_chart(chart_content(server.chart("overview-activity", store), "overview-activity"))
        unseen = filter_state(server, "?channel=TipTop&horizon=21")  # a view no chart has computed yet

        private_pg.stop("fast")
        assert server.get("/health").status_code == 200
        ready = server.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        assert int(ready.headers["Retry-After"]) > 0
        for path in ("/api/v1/risk", "/api/v1/risk?band=high&limit=5", "/api/v1/customers/42/risk"):
            answer = server.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.json()["error"] == "database_unavailable"
            assert int(answer.headers["Retry-After"]) > 0

        # a page opened now: the filter bar says so and retries by itself; the state tells the cards
        for search, pathname in (("", "/"), ("?channel=FaceBoom", "/marketing"), ("?start=2026-06-01", "/cohorts")):
            synced = response_of(server.sync(search, pathname))
            assert synced["filter-state"]["data"] == {"unavailable": "down"}
            notes = synced["filter-notes"]["children"]
            assert DOWN_TEXT in json.dumps(notes)
            assert retry_timer(notes)["interval"] == 2000 and retry_timer(notes)["max_intervals"] == 1
        backoff = [retry_timer(response_of(server.sync(retry=attempt))["filter-notes"]["children"])["interval"]
                   for attempt in range(5)]
        assert backoff == [4000, 8000, 16000, 30000, 30000]  # retry n+1 waits longer, up to 30 s
        for name in charts:
            marked = chart_content(server.chart(name, {"unavailable": "down"}), name)
            assert DOWN_TEXT in json.dumps(marked), name
            fresh = chart_content(server.chart(name, unseen), name)  # uncached: reads the database
            assert DOWN_TEXT in json.dumps(fresh), name
            assert retry_timer(fresh)["id"] == {"type": "db-retry", "source": name, "attempt": 0}
        # the navigation callback reads no database (the sync gives the links' filters): it answers in an outage
        navigation = server.callback("filter-bar.style", {"url.pathname": "/"}, ["url.pathname"])
        assert navigation.status_code == 200 and response_of(navigation)["filter-bar"]["style"] == {}
        data_page = server.callback("page-content.children", {"url.pathname": "/data"}, ["url.pathname"])
        assert DOWN_TEXT in json.dumps(response_of(data_page))
        assert server.get("/health").status_code == 200

        private_pg.start()
        recovered = response_of(server.sync(retry=0))  # the filter bar's timer fires
        assert recovered["filter-state"]["data"] == store
        assert "db-unavailable" not in json.dumps(recovered.get("filter-notes", {}))
        for name in ("overview-activity", "overview-kpis", "acq-new-users", "mkt-spend-over-time",
                     "coh-retention-heatmap"):
            # the same uncached request as during the outage: its notice was not cached
            content = chart_content(server.chart(name, unseen, retry=0), name)
            assert is_real_chart(content), (name, json.dumps(content)[:300])
        assert server.get("/ready").status_code == 200
        assert server.get("/api/v1/risk").status_code in (200, 503)  # 503 only as "no_scores": no model here
        assert server.get("/api/v1/risk").json().get("error") != "database_unavailable"
    finally:
        server.stop()


# ---------------------------------------------------------------- the embedded DuckDB file, a private Redis


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory) -> Path:
    """A DuckDB file holding a small demo (each test serves a copy of it)."""
    path = tmp_path_factory.mktemp("fault-duckdb") / "demo.duckdb"
    engine = db.make_engine(f"duckdb:///{path}")
    write_demo(engine, users=DEMO_USERS, seed=5)
    engine.dispose()
    return path


def fresh_views(count: int) -> list[str]:
    """Return `count` URL queries of views no test has asked for yet (their charts are not in any cache)."""
    fresh_views.used = getattr(fresh_views, "used", 0)
    start = fresh_views.used
    fresh_views.used += count
    return [f"?start=2026-{5 + (i // 28) % 5:02d}-{1 + i % 28:02d}&end=2026-10-{1 + (i // 140) % 30:02d}"
            for i in range(start, start + count)]


class PrivateRedis:
    """A redis-server of its own on a free port, without persistence."""

    def __init__(self, folder: Path):
        import redis

        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=5)
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start the server (empty) and wait until it answers PING."""
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.folder)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                if self.client.ping():
                    return
            except Exception:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def shutdown(self) -> None:
        """Stop the server with SHUTDOWN NOSAVE (its data is gone)."""
        self.client.shutdown(nosave=True)
        self.proc.wait(timeout=20)

    def remove(self) -> None:
        """Stop the server if it runs (thawed first)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(timeout=20)


def test_flt002_redis_stopped_and_frozen_while_serving(demo_file, tmp_path):
    """The shared metric cache (a private redis-server) stops, then freezes (SIGSTOP), while the app serves: every
    page still answers with the real charts, computed without the cache, within the client timeout; /health stays
    200; once Redis is back (restarted, or thawed with SIGCONT) the cache is filled and used again."""
    file = tmp_path / "served.duckdb"
    shutil.copy(demo_file, file)
    redis_server = PrivateRedis(tmp_path)
    server = None
    try:
        server = Server({"DATABASE_URL": f"duckdb:///{file}", "CACHE_REDIS_URL": redis_server.url},
                        tmp_path / "gunicorn.log")
        views = iter(fresh_views(400))

        def chart_of_new_view(timeout: float = CALLBACK_TIMEOUT) -> Any:
            """Return the activity chart of a view never computed before (answered within `timeout`)."""
            store = filter_state(server, next(views))
            answer = server.callback("overview-activity-body.children", {"filter-state.data": store},
                                     ["filter-state.data"])
            assert answer.elapsed.total_seconds() < timeout
            return chart_content(answer, "overview-activity")

        def cache_used_again() -> None:
            """Ask for new views until the app writes to Redis again (its cache retries after 30 s)."""
            deadline = time.monotonic() + 90
            while redis_server.client.dbsize() == 0:
                assert time.monotonic() < deadline, "the cache was not used again after Redis came back"
                assert is_real_chart(chart_of_new_view())
                time.sleep(1)

        assert is_real_chart(chart_of_new_view())
        assert redis_server.client.dbsize() > 0  # the results went to Redis
        cached_store = filter_state(server, "?channel=TipTop")
        assert is_real_chart(chart_content(server.chart("overview-activity", cached_store), "overview-activity"))

        redis_server.shutdown()
        for _ in range(6):  # both workers notice, each answers without the cache
            assert is_real_chart(chart_of_new_view(CLIENT_TIMEOUT))
        assert is_real_chart(chart_content(server.chart("overview-activity", cached_store), "overview-activity"))
        assert server.get("/health").status_code == 200 and server.get("/ready").status_code == 200
        redis_server.start()
        assert redis_server.client.dbsize() == 0
        cache_used_again()

        redis_server.proc.send_signal(signal.SIGSTOP)
        latencies: list[float] = []
        for _ in range(6):
            started = time.perf_counter()
            assert server.get("/health").status_code == 200
            latencies.append(time.perf_counter() - started)
            assert is_real_chart(chart_of_new_view(2 * CLIENT_TIMEOUT))  # at most one Redis timeout (2 s) on top
        print(f"\n/health with Redis frozen: {describe(latencies)}")
        redis_server.proc.send_signal(signal.SIGCONT)
        redis_server.client.flushall()
        cache_used_again()
    finally:
        if server is not None:
            server.stop()
        redis_server.remove()


LOCK_HOLDER = """
import sys, duckdb
connection = duckdb.connect(sys.argv[1])  # read-write: DuckDB's write lock on the file, as an import holds it
connection.execute("BEGIN TRANSACTION")
connection.execute("DELETE FROM costs WHERE costs < 0")
print("locked", flush=True)
sys.stdin.read()  # hold until the test closes stdin
connection.execute("ROLLBACK")
connection.close()
"""


def test_flt003_duckdb_write_lock_held_while_users_ask_for_uncached_charts(demo_file, tmp_path):
    """Another process holds the DuckDB file's write lock (a write transaction, as an import does) while 16 users
    ask at once for charts nobody computed yet: /health answers 200 on every probe, the charts show the busy notice
    (without the file's path) and retry by themselves, /ready and the API answer 503 with Retry-After; once the
    lock is released the same requests give the real charts."""
    file = tmp_path / "served.duckdb"
    shutil.copy(demo_file, file)
    server = Server({"DATABASE_URL": f"duckdb:///{file}"}, tmp_path / "gunicorn.log")
    holder = None
    try:
        names = ("overview-activity", "acq-new-users", "mkt-spend-over-time")
        stores = [filter_state(server, view) for view in fresh_views(16)]  # the users' views, not yet charted
        holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(file)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"

        stop, latencies, failures = threading.Event(), [], []
        prober = threading.Thread(target=probe_health, args=(server, stop, latencies, failures))
        prober.start()
        try:
            with ThreadPoolExecutor(16) as pool:
                answers = list(pool.map(lambda job: (job[0], server.chart(job[0], job[1])),
                                        [(name, store) for store in stores for name in names]))
            ready = server.get("/ready")
            api = server.get("/api/v1/risk")
        finally:
            stop.set()
            prober.join()
        print(f"\n/health while the lock was held and {len(answers)} chart requests came: {describe(latencies)}")
        assert not failures  # every probe (at least MIN_PROBES, all while the lock was held) answered 200 in time
        for name, answer in answers:
            content = chart_content(answer, name)
            text = json.dumps(content)
            assert BUSY_TEXT in text, (name, text[:300])
            assert str(tmp_path) not in text and file.name not in text
            assert retry_timer(content)["id"]["source"] == name
        assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
        assert ready.json()["reason"] == "database busy (an import is running)"
        assert api.status_code == 503 and int(api.headers["Retry-After"]) > 0
        assert file.name not in api.text and "busy" in api.json()["message"]

        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        for store in stores[:4]:
            for name in names:  # the retry timer fires: the same views now read the file
                content = chart_content(server.chart(name, store, retry=0), name)
                assert is_real_chart(content), (name, json.dumps(content)[:300])
        assert server.get("/ready").status_code == 200
    finally:
        if holder is not None and holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
        server.stop()


# ---------------------------------------------------------------- in the browser

CARDS_SAY_UNAVAILABLE = """
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'))
    .filter(b => b.id !== 'risk-clusters-body');
const notes = document.querySelector('#filter-notes');
return bodies.length > 0 && bodies.every(b => b.querySelector('.db-unavailable'))
    && !!notes && notes.innerText.includes(arguments[0]);
"""
CHARTS_BACK = """
const bodies = Array.from(document.querySelectorAll('#page-content [id$="-body"]'));
return bodies.length > 0 && document.querySelectorAll('.db-unavailable').length === 0
    && Array.from(document.querySelectorAll('#page-content .dash-graph')).every(g => g.querySelector('.main-svg'))
    && bodies.every(b => b.children.length > 0);
"""


@pytest.mark.browser
def test_flt004_browser_shows_the_notice_and_recovers_without_a_reload(dash_duo, private_pg):
    """In the browser, with PostgreSQL stopped, the overview's filter bar and every card show the notice instead
    of blank cards; once it starts again the charts appear by themselves (the page is not reloaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    from app import create_app
    from dashboard.config import Config

    dash_duo.start_server(create_app(Config(database_url=private_pg.url, cache_warm=False)))
    private_pg.stop("fast")
    try:
        dash_duo.driver.get(dash_duo.server_url + "/?channel=FaceBoom")
        WebDriverWait(dash_duo.driver, 60, poll_frequency=0.2).until(
            lambda d: d.execute_script(CARDS_SAY_UNAVAILABLE, DOWN_TEXT))
        dash_duo.driver.execute_script("window.faultTestSamePage = true;")
        assert dash_duo.driver.find_element("css selector", "#filter-notes").text.count("Retrying by itself") == 1
    finally:
        private_pg.start()
    WebDriverWait(dash_duo.driver, 90, poll_frequency=0.2).until(lambda d: d.execute_script(CHARTS_BACK))
    assert dash_duo.driver.execute_script("return window.faultTestSamePage === true;")  # recovered in place
    assert "channel=FaceBoom" in dash_duo.driver.current_url
    severe = [entry for entry in dash_duo.get_logs() if entry.get("level") == "SEVERE"]
    assert severe == []  # no callback answered with an error status
