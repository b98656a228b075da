"""The Data page's administration (issue 19): uploads into the validated import as a background job, its summary
and rejects file, a refused file storing nothing, command jobs, the job history and the audit log, and the refusal
of every other role. Real app (Flask test client, signed in through /login), real DuckDB and PostgreSQL databases,
real worker processes."""

from __future__ import annotations

import base64
import fcntl
import io
import json
import time
from pathlib import Path

import pytest

from dashboard import db, jobs
from dashboard.accounts import Role
from dashboard.demo.generation import generate
from layouts.ids import DataAdminIds as Ids
from tests.app.auth_helpers import add_account, audit_rows, csrf_cookie, make_app, sign_in
from tests.conftest import make_database_url

UPDATE = "/_dash-update-component"
KINDS = ("visits", "orders", "costs", "transactions")
JOB_SECONDS = 120


# ----------------------------------------------------------------------------------------------- helpers


def data_url(data: bytes, mime: str = "text/csv") -> str:
    """Return `data` as the base64 data URL a dcc.Upload gives its callbacks."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def output_of(app, component_id: str) -> str:
    """Return the callback-map key of the server callback writing `component_id` (first output)."""
    return next(key for key, cb in app.callback_map.items() if "callback" in cb and component_id in key)


def body(app, output: str, values: dict) -> dict:
    """Return the callback request the renderer sends for `output`, values {(id, prop): value} (else None)."""
    callback = app.callback_map[output]
    outputs = callback["output"] if isinstance(callback["output"], (list, tuple)) else [callback["output"]]
    declared = [{"id": o.component_id_str(), "property": o.component_property} for o in outputs]

    def entry(d):
        """Return the envelope entry of declared dependency `d`."""
        if d["id"].startswith("{"):
            return []  # a pattern (ALL) with no component on the page
        return {"id": d["id"], "property": d["property"], "value": values.get((d["id"], d["property"]))}

    inputs = [entry(d) for d in callback["inputs"]]
    return {"output": output, "outputs": declared if output.startswith("..") else declared[0], "inputs": inputs,
            "state": [entry(d) for d in callback["state"]],
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def post(client, app, component_id: str, values: dict):
    """Return the response to the callback writing `component_id` sent by `client` (with its CSRF header)."""
    headers = {}
    cookie = client.get_cookie("csrf_token")
    if cookie is not None:
        headers["X-CSRFToken"] = cookie.value
    return client.post(UPDATE, json=body(app, output_of(app, component_id), values), headers=headers)


def answer(response, component_id: str):
    """Return the value a callback response gives `component_id` (its first property)."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return next(iter(response.get_json()["response"][component_id].values()))


def upload_values(files: dict[str, tuple[str, bytes]], options=None) -> dict:
    """Return the import button's callback values for `files` {input kind: (file name, bytes)}."""
    values = {(Ids.IMPORT_START, "n_clicks"): 1, (Ids.IMPORT_OPTIONS, "value"): options or []}
    for kind, (name, data) in files.items():
        values[(Ids.upload(kind), "contents")] = data_url(data)
        values[(Ids.upload(kind), "filename")] = name
    return values


def wait_for_job(client, app, store: dict) -> str:
    """Poll the status callback (as the page's timer does) until the job of `store` ends; return the status view
    as JSON text."""
    deadline = time.monotonic() + JOB_SECONDS
    while time.monotonic() < deadline:
        response = post(client, app, Ids.IMPORT_STATUS, {(Ids.POLL, "n_intervals"): 1, (Ids.IMPORT_JOB, "data"): store,
                                                         (Ids.JOB_ID, "data"): store})
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        data = response.get_json()["response"]
        if data[Ids.POLL]["disabled"]:
            return json.dumps(data)
        time.sleep(0.5)
    raise AssertionError("the job did not end in time")


def database_state(url: str) -> tuple:
    """Return (row counts of the event tables, data version) of the database at `url`."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return db.row_counts(conn), db.get_data_version(conn)
    finally:
        engine.dispose()


def wait_lock_free(config, kind: str) -> None:
    """Wait until no job of `kind` holds its lock (its process has ended)."""
    deadline = time.monotonic() + 30
    with open(config.jobs_folder / f"{kind}.lock", "a+") as handle:
        while time.monotonic() < deadline:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(handle, fcntl.LOCK_UN)
                return
            except BlockingIOError:
                time.sleep(0.2)
    raise AssertionError(f"the {kind} lock stayed taken")


@pytest.fixture(scope="module")
def demo_csv() -> dict[str, bytes]:
    """The demo's visits, orders and costs (400 users) as CSV files."""
    frames = generate(users=400, seed=11)
    return {name: frames[name].to_csv(index=False).encode() for name in ("visits", "orders", "costs")}


def signed_in_app(url: str, tmp_path: Path, **settings):
    """Return (app, {role name: signed-in client}) on the database `url` with an account per role."""
    for role in Role:
        add_account(url, role.value, role)
    app = make_app(url, tmp_path, cache_warm=False, **settings)
    clients = {}
    for role in Role:
        client = app.server.test_client()
        assert sign_in(client, role.value).status_code == 302
        client.get("/")  # the page load that sets the csrf_token cookie
        csrf_cookie(client)
        clients[role.value] = client
    return app, clients


@pytest.fixture
def duckdb_app(tmp_path):
    """(app, clients, url) on an empty DuckDB file with an account per role."""
    url = f"duckdb:///{tmp_path / 'admin.duckdb'}"
    app, clients = signed_in_app(url, tmp_path)
    yield app, clients, url
    app.server.extensions["dashboard_context"].engine.dispose()


# ----------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_da001_an_admin_uploads_the_demo_csv_files_and_gets_the_summary(backend, tmp_path, demo_csv):
    url, cleanup = make_database_url(backend, tmp_path)
    try:
        app, clients = signed_in_app(url, tmp_path)
        admin = clients["admin"]
        before = database_state(url)
        files = {kind: (f"demo-{kind}.csv", demo_csv[kind]) for kind in ("visits", "orders", "costs")}
        store = answer(post(admin, app, Ids.IMPORT_JOB, upload_values(files)), Ids.IMPORT_JOB)
        assert set(store) == {"id"}, store
        view = wait_for_job(admin, app, store)
        counts, version = database_state(url)
        expected = {kind: demo_csv[kind].count(b"\n") - 1 for kind in ("visits", "orders", "costs")}
        assert before[0] == {"visits": 0, "orders": 0, "costs": 0}
        assert counts == expected
        assert version != before[1] and version in view  # the summary names the new data version
        assert "Done" in view and Ids.IMPORT_SUMMARY in view
        for kind in ("visits", "orders", "costs"):
            assert f"demo-{kind}.csv" in view and f"{expected[kind]:,}" in view  # rows read / imported / stored
        status = jobs.read_status(app.server.extensions["dashboard_context"].config, store["id"])
        spec = json.loads((jobs.job_folder(app.server.extensions["dashboard_context"].config, store["id"])
                           / "spec.json").read_text())
        assert status["state"] == "done" and not Path(spec["upload_dir"]).exists()  # the uploads are gone
        events = [row for row in audit_rows(url) if row[0] in ("upload", "import")]
        assert [(e, a, o) for e, a, o, _ in events] == [("upload", "admin", "ok")] * 3 + [("import", "admin", "ok")]
        rows = answer(post(admin, app, Ids.HISTORY, {(Ids.FINISHED, "data"): [store["id"]]}), Ids.HISTORY)
        assert [(r["kind"], r["actor"], r["outcome"]) for r in rows] == [("Import CSV files", "admin", "done")]
        assert rows[0]["started"] <= rows[0]["finished"] and "imported" in rows[0]["message"]
    finally:
        cleanup()


def test_da002_a_bad_file_gives_the_importers_message_and_stores_nothing(duckdb_app, demo_csv):
    app, clients, url = duckdb_app
    admin = clients["admin"]
    config = app.server.extensions["dashboard_context"].config
    store = answer(post(admin, app, Ids.IMPORT_JOB, upload_values(
        {"visits": ("visits.csv", demo_csv["visits"]), "costs": ("costs.csv", demo_csv["costs"])})), Ids.IMPORT_JOB)
    wait_for_job(admin, app, store)
    before = database_state(url)
    wait_lock_free(config, "import")
    bad = b"dt,channel,costs\n2026-01-01,organic,1.5\n2026-01-02,organic,2.5,extra\n"
    store = answer(post(admin, app, Ids.IMPORT_JOB, upload_values(
        {"orders": ("orders.csv", demo_csv["orders"]), "costs": ("my costs.csv", bad)})), Ids.IMPORT_JOB)
    view = wait_for_job(admin, app, store)
    assert "my_costs.csv: not a readable CSV file: Expected 3 fields in line 3, saw 4" in view  # file, row, reason
    assert "Refused, nothing was stored" in view and "/tmp" not in view
    assert database_state(url) == before  # the good orders file of the same import was not stored either
    assert audit_rows(url)[-1][:3] == ("import", "admin", "refused")


def test_da003_rejected_rows_are_reported_and_their_file_downloads(duckdb_app):
    app, clients, url = duckdb_app
    admin = clients["admin"]
    rows = b"dt,channel,costs\n2026-01-01,organic,1.5\n2026-01-02,organic,-3\n2026-01-03,organic,2\n"
    store = answer(post(admin, app, Ids.IMPORT_JOB, upload_values({"costs": ("costs.csv", rows)})), Ids.IMPORT_JOB)
    view = wait_for_job(admin, app, store)
    assert "1 row(s) rejected" in view and Ids.IMPORT_FILES_BUTTON in view
    assert database_state(url)[0]["costs"] == 2
    shown = {"id": store["id"], "files": ["costs-costs.rejects.csv"]}
    download = answer(post(admin, app, Ids.IMPORT_DOWNLOAD, {(Ids.IMPORT_FILES_BUTTON, "n_clicks"): 1,
                                                             (Ids.IMPORT_SHOWN, "data"): shown}), Ids.IMPORT_DOWNLOAD)
    text = base64.b64decode(download["content"]).decode() if download["base64"] else download["content"]
    assert download["filename"] == "costs-costs.rejects.csv"
    header, line = text.strip().splitlines()
    assert header.split(",")[:3] == ["dt", "channel", "costs"] and line.startswith("2026-01-02,organic,-3,")
    assert ",3" in line  # its CSV line number
    crafted = {"id": store["id"], "files": ["../../admin.duckdb"]}
    assert post(admin, app, Ids.IMPORT_DOWNLOAD, {(Ids.IMPORT_FILES_BUTTON, "n_clicks"): 1,
                                                  (Ids.IMPORT_SHOWN, "data"): crafted}).status_code == 204


def test_da004_uploads_refused_before_the_import_say_why_and_are_audited(tmp_path):
    url = f"duckdb:///{tmp_path / 'limits.duckdb'}"
    app, clients = signed_in_app(url, tmp_path, upload_max_mb=1)
    admin = clients["admin"]
    before = database_state(url)
    big = b"dt,channel,costs\n" + b"2026-01-01,organic,1.5\n" * 50_000  # 1.15 MB
    cases = {"costs.csv": (big, "larger than the upload limit of 1 MB"),
             "costs.xlsx": (b"dt,channel,costs\n", "only .csv files are imported here"),
             "costs2.csv": (b"dt,channel\x00,costs\n", "not a text file")}
    for name, (data, message) in cases.items():
        store = answer(post(admin, app, Ids.IMPORT_JOB, upload_values({"costs": (name, data)})), Ids.IMPORT_JOB)
        assert message in store["error"] and "Nothing was imported" in store["error"], store
    assert answer(post(admin, app, Ids.IMPORT_JOB, {(Ids.IMPORT_START, "n_clicks"): 1}), Ids.IMPORT_JOB) == {
        "error": "Choose at least one CSV file to import."}
    crafted = upload_values({"costs": ("costs.csv", b"x")})
    crafted[(Ids.upload("costs"), "contents")] = "not a data url"
    assert post(admin, app, Ids.IMPORT_JOB, crafted).status_code == 400
    huge = post(admin, app, Ids.IMPORT_JOB, upload_values({"costs": ("costs.csv", b"1" * 7 * 1024 * 1024)}))
    assert huge.status_code == 413 and "UPLOAD_MAX_MB=1" in huge.get_json()["message"]  # over four files' worth
    assert database_state(url) == before
    refused = [row for row in audit_rows(url) if row[0] == "upload"]
    assert [row[2] for row in refused] == ["refused"] * 3 and "costs.xlsx" in refused[1][3]
    app.server.extensions["dashboard_context"].engine.dispose()


def test_da005_viewers_and_analysts_are_refused_every_administration_callback(duckdb_app, demo_csv):
    app, clients, url = duckdb_app
    outputs = [key for key, cb in app.callback_map.items() if "callback" in cb and "data-admin-" in key]
    assert len(outputs) >= 7
    values = upload_values({"visits": ("visits.csv", demo_csv["visits"])})
    values.update({(Ids.JOB_START, "n_clicks"): 1, (Ids.JOB_KIND, "value"): "refresh",
                   (Ids.POLL, "n_intervals"): 1})
    for name in ("viewer", "analyst"):
        for output in outputs:
            headers = {"X-CSRFToken": clients[name].get_cookie("csrf_token").value}
            response = clients[name].post(UPDATE, json=body(app, output, values), headers=headers)
            assert response.status_code in (403, 413), (name, output, response.status_code)
            if response.status_code == 403:
                assert "needs the role 'admin'" in response.get_json()["message"]
        small = body(app, output_of(app, Ids.JOB_ID), values)
        response = clients[name].post(UPDATE, json=small, headers=headers)
        assert response.status_code == 403  # below the body limit: the role check answers
    anonymous = app.server.test_client().post(UPDATE, json=body(app, output_of(app, Ids.JOB_ID), values))
    assert anonymous.status_code == 401
    assert database_state(url)[0]["visits"] == 0 and not any(row[0] == "job" for row in audit_rows(url))
    assert not app.server.extensions["dashboard_context"].config.jobs_folder.exists()  # no job ever started
    page = {("url", "pathname"): "/data"}
    for name, shown in (("viewer", False), ("analyst", False), ("admin", True)):
        response = post(clients[name], app, "page-content", page)
        assert response.status_code == 200 and (Ids.AREA in response.get_data(as_text=True)) is shown, name


def test_da006_a_refresh_job_runs_with_progress_and_lands_in_the_history_and_the_audit_log(duckdb_app, demo_csv):
    app, clients, url = duckdb_app
    admin = clients["admin"]
    config = app.server.extensions["dashboard_context"].config
    store = answer(post(admin, app, Ids.IMPORT_JOB, upload_values({"visits": ("v.csv", demo_csv["visits"])})),
                   Ids.IMPORT_JOB)
    wait_for_job(admin, app, store)
    version = database_state(url)[1]
    start = {(Ids.JOB_START, "n_clicks"): 1, (Ids.JOB_KIND, "value"): "refresh"}
    with open(config.jobs_folder / "refresh.lock", "a+") as held:  # as a running refresh holds it
        fcntl.flock(held, fcntl.LOCK_EX)
        refused = answer(post(admin, app, Ids.JOB_ID, start), Ids.JOB_ID)
    assert "is already running" in refused["error"]
    job = answer(post(admin, app, Ids.JOB_ID, start), Ids.JOB_ID)
    view = wait_for_job(admin, app, job)
    assert "Done" in view and "first visits and user-days stored for 400 users" in view
    assert database_state(url)[1] != version
    assert post(admin, app, Ids.JOB_ID, {(Ids.JOB_START, "n_clicks"): 1,
                                         (Ids.JOB_KIND, "value"): "rm -rf"}).status_code == 400
    rows = answer(post(admin, app, Ids.HISTORY, {(Ids.HISTORY_REFRESH, "n_clicks"): 1}), Ids.HISTORY)
    assert [(r["kind"], r["outcome"]) for r in rows] == [("Refresh the derived tables", "done"),
                                                         ("Import CSV files", "done")]
    events = answer(post(admin, app, Ids.AUDIT, {(Ids.AUDIT_REFRESH, "n_clicks"): 1}), Ids.AUDIT)
    assert [e["event"] for e in events[:3]] == ["job", "import", "upload"]  # newest first
    assert events[0]["actor"] == "admin" and events[0]["outcome"] == "ok" and "refresh job" in events[0]["detail"]
    assert events[-1]["event"] == "sign_in"
    assert events == sorted(events, key=lambda e: e["at"], reverse=True)


def test_da007_an_admins_upload_may_exceed_the_callback_body_limit_and_no_one_elses(duckdb_app):
    app, clients, url = duckdb_app
    rows = b"dt,channel,costs\n" + b"".join(b"2026-01-%02d,ch%06d,1.5\n" % (1 + i % 28, i) for i in range(60_000))
    assert len(rows) > 1_000_000
    values = upload_values({"costs": ("costs.csv", rows)})
    viewer = clients["viewer"]
    response = viewer.post(UPDATE, json=body(app, output_of(app, Ids.IMPORT_JOB), values),
                           headers={"X-CSRFToken": viewer.get_cookie("csrf_token").value})
    assert response.status_code == 413  # the body limit (1 MB for non-admins) answers before the role check
    assert not app.server.extensions["dashboard_context"].config.jobs_folder.exists()
    store = answer(post(clients["admin"], app, Ids.IMPORT_JOB, values), Ids.IMPORT_JOB)
    wait_for_job(clients["admin"], app, store)
    assert database_state(url)[0]["costs"] == 60_000


def test_da008_a_running_job_shows_its_progress_bar_and_step(tmp_path):
    from dash import html

    from dashboard.job_worker import ProgressSink
    from layouts.data_admin import job_status_view

    folder = tmp_path / "job"
    folder.mkdir()
    jobs.write_status(folder, id="20260101T000000-0123abcd", kind="import", label="Import CSV files", actor="ada",
                      state="running", step="starting", progress=None, started="2026-01-01T00:00:00+00:00")
    log = tmp_path / "log.txt"
    with open(log, "w") as stream:
        sink = ProgressSink(folder, stream)
        sink.write("reading\n")
        sink.written_at = 0.0
        sink.write("visits.csv:  37%|███▋      | 74.0M/200M [00:03<00:05, 24.6MB/s]\r")
        sink.written_at = 0.0
        sink.write("visits.csv:  38%|███▊      | 76.0M/200M [00:03<00:05, 24.6MB/s]\n")
    status = json.loads((folder / "status.json").read_text())
    assert status["progress"] == 38 and status["step"].startswith("visits.csv:  38%")
    assert "37%" in log.read_text()  # everything printed goes to the job's log

    view = job_status_view(status, {"progress": "p", "message": "m", "summary": "s", "files_button": "b",
                                    "shown": "k"}, "none")
    bar = view.children[0]
    assert (bar.id, bar.value, bar.label, bar.animated, bar.striped) == ("p", 38, "38%", True, True)
    assert "started by ada at 2026-01-01 00:00:00 UTC" in str(view.children[1].children)
    unknown = job_status_view(dict(status, progress=None), {"progress": "p", "message": "m", "summary": None,
                                                            "files_button": "b", "shown": "k"}, "none")
    assert (unknown.children[0].value, unknown.children[0].label) == (100, "")  # striped, moving: under way
    assert isinstance(job_status_view(None, {}, "No import yet.").children, html.P)


def test_da009_an_admins_large_body_for_another_callback_is_still_413(duckdb_app):
    app, clients, _ = duckdb_app
    values = {(Ids.JOB_START, "n_clicks"): 1, (Ids.JOB_KIND, "value"): "x" * 1_200_000}
    response = post(clients["admin"], app, Ids.JOB_ID, values)
    assert response.status_code == 413 and "1000000" in response.get_json()["message"]


def test_da011_a_signed_in_viewers_large_body_is_413_before_anything_reads_it(duckdb_app):
    """The CSRF check of a signed-in request reads the form before the request guards: the body limit is set
    before it, so a viewer's 2 MB callback body is 413, never read whole (a chunked one is refused too)."""
    app, clients, _ = duckdb_app
    viewer = clients["viewer"]
    headers = {"X-CSRFToken": viewer.get_cookie("csrf_token").value, "Content-Type": "application/json"}
    big = b'{"output": "overview-kpis-body.children", "pad": "' + b"x" * 2_000_000 + b'"}'
    response = viewer.post(UPDATE, data=big, headers=headers)
    assert response.status_code == 413 and "at most 1000000 bytes" in response.get_json()["message"]
    # without a Content-Length the server reads no body it cannot bound (werkzeug: no terminated input): refused
    chunked = viewer.post(UPDATE, input_stream=io.BytesIO(big), headers={**headers, "Transfer-Encoding": "chunked"})
    assert chunked.status_code in (400, 413) and chunked.is_json


def test_da010_the_open_local_mode_administers_as_its_actor_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'open.sqlite'}"
    app = make_app(url, tmp_path, cache_warm=False)  # no account: the open local mode
    client = app.server.test_client()
    page = post(client, app, "page-content", {("url", "pathname"): "/data"})
    assert page.status_code == 200 and Ids.AREA in page.get_data(as_text=True)
    rows = b"dt,channel,costs\n2026-01-01,organic,1.5\n2026-01-02,organic,2\n"
    store = answer(post(client, app, Ids.IMPORT_JOB, upload_values({"costs": ("costs.csv", rows)})), Ids.IMPORT_JOB)
    assert "Done" in wait_for_job(client, app, store)
    assert database_state(url)[0]["costs"] == 2
    events = [row[:3] for row in audit_rows(url)]
    assert events == [("upload", jobs.OPEN_MODE_ACTOR, "ok"), ("import", jobs.OPEN_MODE_ACTOR, "ok")]
    app.server.extensions["dashboard_context"].engine.dispose()


def test_da011_crafted_values_are_answered_400_not_500(duckdb_app):
    app, clients, _ = duckdb_app
    admin = clients["admin"]
    crafted = [
        (Ids.IMPORT_STATUS, {(Ids.POLL, "n_intervals"): 1, (Ids.IMPORT_JOB, "data"): "../../etc/passwd"}),
        (Ids.IMPORT_JOB, {**upload_values({"costs": ("c.csv", b"dt\n")}), (Ids.IMPORT_OPTIONS, "value"): "strict"}),
        (Ids.IMPORT_JOB, {**upload_values({"costs": ("c.csv", b"dt\n")}), (Ids.upload("costs"), "filename"): 5}),
        (Ids.IMPORT_JOB, {**upload_values({"costs": ("c.csv", b"dt\n")}),
                          (Ids.upload("costs"), "contents"): "data:text/csv;base64,@@@"}),
        (Ids.JOB_ID, {(Ids.JOB_START, "n_clicks"): 1, (Ids.JOB_KIND, "value"): {"kind": "train"}}),
    ]
    for component_id, values in crafted:
        response = post(admin, app, component_id, values)
        assert response.status_code == 400 and response.get_json()["error"] == "bad_request", values
    unknown_job = post(admin, app, Ids.IMPORT_STATUS, {(Ids.POLL, "n_intervals"): 1,
                                                       (Ids.IMPORT_JOB, "data"): {"id": "../../x"}})
    assert unknown_job.status_code == 200 and "No import yet." in unknown_job.get_data(as_text=True)
