"""Crafted requests against the web app: callback inputs checked by the URL's rules, malformed callback envelopes
(400, never 500), oversized bodies (413), unknown component files (404), the in-process cache's byte budget,
OPTIONS on the API, RFC 3339 `scored_at` and a valid OpenAPI document. Real app, real DuckDB demo, Flask's
test client."""

from __future__ import annotations

import io
import json
import random
import re
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi

from app import create_app
from callbacks.filters import sync_filters_and_url
from dashboard import db
from dashboard.cache import ENTRY_OVERHEAD_BYTES, ByteBudgetCache, get_metric_cache
from dashboard.config import Config
from callbacks.request_guards import MAX_CALLBACK_BODY_BYTES, declared_outputs
from layouts.filters import DataBounds, MAX_HORIZON, parse_query, state_from_store
from layouts.ids import CohortIds, FilterIds, MarketingIds, OverviewIds, chart_body_id
from tests.callback_keys import output_items

UPDATE = "/_dash-update-component"
MAX_RESPONSE_BYTES = 3_000_000
CACHE_MB = 1
PATTERN_ITEMS = {"page-param": [{"type": "page-param", "name": "breakdown"}],
                 "nav-link": [{"type": "nav-link", "path": path} for path in ("/", "/acquisition", "/cohorts")]}


@pytest.fixture(scope="module")
def web(demo_duckdb_url):
    """(Dash app, its context, the whole range's filter store) on the shared DuckDB demo database (3,000 users, read only),
    a 4 MB metric cache."""
    app = create_app(Config(database_url=demo_duckdb_url, cache_max_mb=CACHE_MB))
    ctx = app.server.extensions["dashboard_context"]
    store = sync_filters_and_url(ctx, None, "?period=all", "/", {}, [], [], None).store  # the whole range
    yield app, ctx, store
    ctx.engine.dispose()


def server_outputs(app) -> list[str]:
    """Return the output keys of every server-side callback of the app."""
    return sorted(key for key, callback in app.callback_map.items() if "callback" in callback)


def crafted_view(state: dict) -> dict:
    """Return envelope overrides that send filter state `state` both ways a browser could: as the stored state and
    as the filter controls' values (the charts' callbacks take the controls as inputs and the store as state)."""
    return {(FilterIds.STATE, "data"): state, (FilterIds.DATE_RANGE, "start_date"): state.get("start"),
            (FilterIds.DATE_RANGE, "end_date"): state.get("end"),
            (FilterIds.OBSERVATION_DATE, "date"): state.get("observation_date"),
            (FilterIds.HORIZON, "value"): state.get("horizon"), (FilterIds.COUNTRY, "value"): state.get("country"),
            (FilterIds.DEVICE, "value"): state.get("device"), (FilterIds.CHANNEL, "value"): state.get("channel")}


def default_value(component: str, prop: str, store: dict):
    """Return what the browser sends for (component, prop) on the default view."""
    values = {("url", "search"): "?period=all", ("url", "pathname"): "/", (FilterIds.STATE, "data"): store,
              (FilterIds.DATE_RANGE, "start_date"): store["start"], (FilterIds.DATE_RANGE, "end_date"): store["end"],
              (FilterIds.OBSERVATION_DATE, "date"): store["observation_date"], (FilterIds.HORIZON, "value"): 14,
              (FilterIds.COUNTRY, "value"): [], (FilterIds.DEVICE, "value"): [], (FilterIds.CHANNEL, "value"): [],
              ("risk-demo-model-finished", "data"): False}
    if prop in ("n_clicks", "n_intervals"):
        return 1
    if prop == "rowData":
        return []
    return values.get((component, prop))


def dependency(declared: dict, store: dict, overrides: dict, with_value: bool = True):
    """Return the envelope entry the renderer sends for a declared dependency (a list for an ALL pattern)."""
    prop = declared["property"]
    if not declared["id"].startswith("{"):
        entry = {"id": declared["id"], "property": prop}
        if with_value:
            key = (declared["id"], prop)
            entry["value"] = overrides[key] if key in overrides else default_value(declared["id"], prop, store)
        return entry
    pattern = json.loads(declared["id"])
    kind = pattern["type"]
    if not any(isinstance(v, list) for v in pattern.values()):  # a dict id without wildcards: one component
        entry = {"id": pattern, "property": prop}
        if with_value:
            entry["value"] = overrides.get((declared["id"], prop), overrides.get((kind, prop)))
        return entry
    entries = []
    for component_id in PATTERN_ITEMS.get(kind, []):  # other patterns: none on the page (an empty list)
        entry = {"id": component_id, "property": prop}
        if with_value:
            entry["value"] = component_id if prop == "id" else overrides.get((kind, prop))
        entries.append(entry)
    return entries


def envelope(app, output: str, store: dict, overrides: dict | None = None) -> dict:
    """Return the body the renderer posts for callback `output` (values from `overrides`, else the default view)."""
    overrides = overrides or {}
    callback = app.callback_map[output]
    inputs = [dependency(d, store, overrides) for d in callback["inputs"]]
    first = next(entry for entry in inputs for entry in ([entry] if isinstance(entry, dict) else entry))
    first_id = first["id"] if isinstance(first["id"], str) else json.dumps(first["id"], sort_keys=True,
                                                                            separators=(",", ":"))
    outputs = [dependency(d, store, overrides, with_value=False) for d in declared_outputs(callback)]
    return {"output": output, "outputs": outputs if output.startswith("..") else outputs[0], "inputs": inputs,
            "state": [dependency(d, store, overrides) for d in callback["state"]],
            "changedPropIds": [f"{first_id}.{first['property']}"]}


def post(client, body) -> tuple[int, bytes]:
    """Return (status, body bytes) of a callback request."""
    response = client.post(UPDATE, json=body)
    return response.status_code, response.get_data()


def chart_output(app, name: str) -> str:
    """Return the output key of the callback that fills chart `name`'s body: its page's (role group's) multi-output
    body callback, whose outputs hold "<name>-body.children" (exactly one such callback)."""
    item = f"{chart_body_id(name)}.children"
    keys = [key for key in app.callback_map if item in output_items(key)]
    assert len(keys) == 1, (name, keys)
    return keys[0]


def chart_response(data: bytes, name: str):
    """Return chart `name`'s body in a callback answer (its entry under "response", keyed by its body id)."""
    body = json.loads(data)
    assert chart_body_id(name) in body["response"], (name, list(body["response"]))
    return body["response"][chart_body_id(name)]["children"]


def assert_refused(status: int, data: bytes, fragment: str = "") -> None:
    """Assert a 400 JSON answer with a message (holding `fragment`)."""
    assert status == 400, data[:500]
    body = json.loads(data)
    assert body["error"] == "bad_request" and body["message"]
    assert fragment in body["message"], body["message"]


# ----------------------------------------------------------------------------------- genuine requests still work


def test_wh001_every_callback_answers_its_genuine_envelope(web):
    app, _, store = web
    client = app.server.test_client()
    statuses = {}
    for output in server_outputs(app):
        status, data = post(client, envelope(app, output, store))
        statuses[output] = status
        assert len(data) < MAX_RESPONSE_BYTES
    assert set(statuses.values()) <= {200, 204}, {k: v for k, v in statuses.items() if v not in (200, 204)}
    # 65 server callbacks: each page's chart bodies are one callback per role group (callbacks.charts.chart_groups)
    assert statuses[chart_output(app, OverviewIds.KPIS)] == 200 and len(statuses) >= 65


# ----------------------------------------------------------------------------------- values clamped like the URL


HORIZONS = [200_000, 366, 0, -5, 10**30, 1e308, "abc", "7.5", "", 1, 365, 30, 2.0]
DATES = ["2600-01-01", "9999-12-31", "0001-01-01", "1900-02-30", "not a date", "2026-13-01", "", "2026-07-15",
         "2026-05-01", "2026-10-31", "20260701", "2026-07-15T10:00:00"]


def _as_url(store: dict) -> str:
    """Return the URL query holding the same values as a filter state."""
    pairs = [(k, str(store[k])) for k in ("start", "end", "observation_date", "horizon")]
    pairs += [(k, v) for k in ("country", "device", "channel") for v in store[k]]
    return "?" + urlencode(pairs)


@pytest.mark.parametrize("horizon", HORIZONS)
@pytest.mark.parametrize("start, end, observation_date", [
    (DATES[0], DATES[1], DATES[0]), (DATES[2], DATES[0], DATES[1]), (DATES[3], DATES[4], DATES[5]),
    (DATES[7], DATES[6], DATES[0]), (DATES[9], DATES[8], DATES[10]), (DATES[11], DATES[7], DATES[2])])
def test_wh002_crafted_store_is_read_as_the_url_reads_the_same_values(web, horizon, start, end, observation_date):
    _, ctx, store = web
    bounds = DataBounds(date.fromisoformat(store["start"]), date.fromisoformat(store["end"]),
                        ("Germany", "UK"), ("Mac", "PC"), ("TipTop", "organic"))
    crafted = dict(store, start=start, end=end, observation_date=observation_date, horizon=horizon,
                   channel=["TipTop", "=HYPERLINK()", "x" * 200], country=["UK", "Atlantis"])
    from_store = state_from_store(crafted, bounds)
    from_url, _, _ = parse_query(_as_url(crafted), bounds)
    assert from_store == from_url
    assert 1 <= from_store.horizon <= MAX_HORIZON
    assert bounds.first_date <= from_store.start <= from_store.end <= bounds.last_date
    assert from_store.start <= from_store.observation_date <= bounds.last_date
    assert from_store.channels == ("TipTop",) and from_store.countries == ("UK",)


@pytest.mark.parametrize("chart", [OverviewIds.KPIS, CohortIds.RETENTION_HEATMAP, MarketingIds.ROI_BY_DATE,
                                   MarketingIds.LTV_CURVES])
@pytest.mark.parametrize("horizon, observation_date, expected", [
    (200_000, "2600-01-01", {}), (10**12, "9999-12-31", {}), (-3, "1200-01-01", {"observation_date": "first"}),
    ("12e9", "2600-06-30", {}), (MAX_HORIZON + 1, "3000-01-01", {})])
def test_wh003_huge_horizon_and_far_dates_cost_the_clamped_view(web, chart, horizon, observation_date, expected):
    app, ctx, store = web
    client = app.server.test_client()
    crafted = dict(store, horizon=horizon, observation_date=observation_date)
    clamped = dict(store, horizon=14)  # the URL's rule: an out-of-range horizon is the default, dates clamped
    if expected.get("observation_date") == "first":  # a date before the data is its first date
        clamped["observation_date"] = store["start"]
    status, data = post(client, envelope(app, chart_output(app, chart), store, crafted_view(crafted)))
    assert status == 200 and len(data) < MAX_RESPONSE_BYTES
    reference_status, reference = post(client, envelope(app, chart_output(app, chart), store,
                                                        crafted_view(clamped)))
    assert reference_status == 200 and json.loads(data) == json.loads(reference)  # every card of the page
    assert chart_response(data, chart) == chart_response(reference, chart)  # the chart's own body is answered


def test_wh004_unknown_page_parameter_values_are_the_page_default(web):
    app, _, store = web
    client = app.server.test_client()
    output = chart_output(app, MarketingIds.LTV_CURVES)
    default = post(client, envelope(app, output, store, {('{"name":"breakdown","type":"page-param"}', "value"): None}))
    for value in ("nonsense", "x" * 100, "CHANNEL", "channel ", "region"):
        crafted = post(client, envelope(app, output, store,
                                        {('{"name":"breakdown","type":"page-param"}', "value"): value}))
        assert crafted[0] == 200 and json.loads(crafted[1]) == json.loads(default[1]), value
        assert chart_response(crafted[1], MarketingIds.LTV_CURVES) == chart_response(default[1],
                                                                                      MarketingIds.LTV_CURVES)


# ----------------------------------------------------------------------------------- wrong JSON in every slot


WRONG_VALUES = [12345, -1.5, True, {"a": 1}, {"start": "2026-05-01"}, ["x"] * 3, [[]], "x" * 10_000, [1, 2],
                ["UK"] * 1001, None]


def _slots(app, output: str) -> list[tuple[str, str, str]]:
    """Return (section, component key, prop) of every input and state slot of a callback."""
    callback = app.callback_map[output]
    slots = []
    for section in ("inputs", "state"):
        for declared in callback[section]:
            key = declared["id"]
            if key.startswith("{"):
                key = json.loads(key)["type"]
            slots.append((section, key, declared["property"]))
    return slots


def test_wh005_wrong_json_types_in_every_slot_of_every_callback_never_500(web):
    app, ctx, store = web
    client = app.server.test_client()
    seen_statuses = set()
    requests = 0
    for output in server_outputs(app):
        for _, component, prop in _slots(app, output):
            if prop == "id":
                continue  # pattern ids: covered by the envelope tests
            for value in WRONG_VALUES:
                status, data = post(client, envelope(app, output, store, {(component, prop): value}))
                requests += 1
                seen_statuses.add(status)
                assert status in (200, 204, 400), (output, component, prop, repr(value)[:80], data[:300])
                assert len(data) < MAX_RESPONSE_BYTES
    assert requests > 500 and 400 in seen_statuses and 200 in seen_statuses
    cache = get_metric_cache(ctx).backend
    assert cache.size_bytes <= CACHE_MB * 2**20


@pytest.mark.parametrize("value", [12345, 3.5, {"search": "?horizon=7"}, ["?horizon=7"], [], {}, True, "x" * 9000])
def test_wh006_url_search_of_the_wrong_type_is_400(web, value):
    app, _, store = web
    client = app.server.test_client()
    sync = next(o for o in server_outputs(app) if o.startswith("..url.search"))
    route = "page-content.children"
    for output, key in ((sync, ("url", "search")), (route, ("url", "search"))):
        status, data = post(client, envelope(app, output, store, {key: value}))
        assert_refused(status, data, "url.search")


# ----------------------------------------------------------------------------------- malformed envelopes


def _malformed_bodies(app, store) -> list[tuple[str, object]]:
    """Return (label, body) of envelopes no renderer sends: each breaks one rule of the envelope."""
    chart = chart_output(app, OverviewIds.ACTIVITY)
    good = envelope(app, chart, store)  # the page's chart bodies: a multi-output callback
    rest = good["inputs"][1:]  # the inputs after the first, left as sent: each body breaks one rule
    sync = next(o for o in server_outputs(app) if o.startswith("..url.search"))
    good_sync = envelope(app, sync, store)
    # the navigation callback: its pattern outputs (the navbar links) list the components its state lists
    nav = next(o for o in server_outputs(app) if output_items(o)[0].startswith('{"path":["ALL"],"type":"nav-link"}'))
    good_nav = envelope(app, nav, store)
    param_input = next(i for i, d in enumerate(app.callback_map[sync]["inputs"]) if '"page-param"' in d["id"])
    param_state = next(i for i, d in enumerate(app.callback_map[sync]["state"]) if '"page-param"' in d["id"])
    clientside = next(k for k, c in app.callback_map.items() if "callback" not in c)
    bodies = [("list body", [good]), ("number body", 42), ("text body", "hello"), ("null body", None),
              ("missing output", {k: v for k, v in good.items() if k != "output"}),
              ("output a number", dict(good, output=7)), ("output an object", dict(good, output={"a": 1})),
              ("unknown output", dict(good, output="no-such-thing.children")),
              ("clientside output", dict(envelope(app, clientside, store))),
              ("missing inputs", {k: v for k, v in good.items() if k != "inputs"}),
              ("inputs an object", dict(good, inputs={"id": FilterIds.STATE})),
              ("extra input", dict(good, inputs=good["inputs"] + good["inputs"])),
              ("input of another component", dict(good, inputs=[dict(good["inputs"][0], id="url")] + rest)),
              ("input with a dict id", dict(good, inputs=[dict(good["inputs"][0], id={"type": "x"})] + rest)),
              ("input of another property", dict(good, inputs=[dict(good["inputs"][0], property="children")] + rest)),
              ("input entry a text", dict(good, inputs=["filter-state.data"] + rest)),
              ("missing outputs", {k: v for k, v in good.items() if k != "outputs"}),
              ("outputs of another component", dict(good, outputs=[{"id": "page-content", "property": "children"}]
                                                    + good["outputs"][1:])),
              ("multi outputs too short", dict(good_sync, outputs=good_sync["outputs"][:3])),
              ("multi outputs not a list", dict(good_sync, outputs=good_sync["outputs"][0])),
              ("pattern outputs differ from inputs", dict(good_nav, outputs=[[]] + good_nav["outputs"][1:])),
              ("pattern item of another type", dict(good_sync, inputs=good_sync["inputs"][:param_input] + [[{
                  "id": {"type": "nav-link", "name": "breakdown"}, "property": "value", "value": None}]]
                  + good_sync["inputs"][param_input + 1:])),
              ("pattern item with an object value", dict(good_sync, state=good_sync["state"][:param_state] + [[{
                  "id": {"type": "page-param", "name": {"a": 1}}, "property": "id", "value": None}]]
                  + good_sync["state"][param_state + 1:])),
              ("changedPropIds not a list", dict(good, changedPropIds="filter-state.data")),
              ("changedPropIds unknown", dict(good, changedPropIds=["{not json.value"])),
              ("changedPropIds a number", dict(good, changedPropIds=[5])),
              ("state missing", dict(good_sync, state=[])),
              ]
    return bodies


def test_wh007_malformed_envelopes_are_400(web):
    app, _, store = web
    client = app.server.test_client()
    for label, body in _malformed_bodies(app, store):
        status, data = post(client, body)
        assert status == 400, (label, data[:300])
        assert json.loads(data)["error"] == "bad_request", label


@pytest.mark.parametrize("data, content_type", [
    (b"not json", "application/json"), (b'{"output": ', "application/json"), (b"\xff\xfe\x00", "application/json"),
    (b"[" * 50_000, "application/json"), (b"output=x", "application/x-www-form-urlencoded"),
    (b'{"output": "page-content.children"}', "text/plain"), (b"", "application/json"), (b"NaN", "application/json")])
def test_wh008_non_json_bodies_and_wrong_content_types_are_400(web, data, content_type):
    app, _, _ = web
    response = app.server.test_client().post(UPDATE, data=data, content_type=content_type)
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"


@pytest.mark.parametrize("size", [MAX_CALLBACK_BODY_BYTES + 1, 2 * MAX_CALLBACK_BODY_BYTES, 20 * MAX_CALLBACK_BODY_BYTES])
@pytest.mark.parametrize("chunked", [False, True])
def test_wh009_oversized_callback_bodies_are_413(web, size, chunked):
    app, _, store = web
    chart = chart_output(app, OverviewIds.ACTIVITY)
    body = json.dumps(dict(envelope(app, chart, store), padding="x" * size)).encode()
    client = app.server.test_client()
    if chunked:  # no Content-Length: the limit holds while reading
        response = client.post(UPDATE, input_stream=io.BytesIO(body), content_type="application/json",
                               environ_overrides={"wsgi.input_terminated": True})
    else:
        response = client.post(UPDATE, data=body, content_type="application/json")
    assert response.status_code == 413
    assert str(MAX_CALLBACK_BODY_BYTES) in response.get_json()["message"]
    # just under the limit is read and checked as usual
    fits = json.dumps(dict(envelope(app, chart, store), padding="")).encode()
    assert client.post(UPDATE, data=fits, content_type="application/json").status_code == 200


@pytest.mark.parametrize("path", ["/_dash-component-suites/no_such_package/x.js",
                                  "/_dash-component-suites/dash/no/such/file.js",
                                  "/_dash-component-suites/dash/../../etc/passwd",
                                  "/_dash-component-suites/dash/dcc/dash_core_components.v9_9_9m1.js.map.nope",
                                  "/_dash-component-suites/dash_bootstrap_components/%00.js",
                                  "/_dash-component-suites/os/path.py"])
def test_wh010_unknown_component_suite_paths_are_404(web, path):
    app, _, _ = web
    response = app.server.test_client().get(path)
    assert response.status_code == 404
    assert "registered" not in response.get_data(as_text=True)  # Dash's message lists every served path


def test_wh011_known_component_suite_path_still_served(web):
    app, _, _ = web
    client = app.server.test_client()
    page = client.get("/").get_data(as_text=True)
    scripts = re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)
    assert scripts
    assert all(client.get(src).status_code == 200 for src in scripts[:5])


# ----------------------------------------------------------------------------------- the cache's byte budget


def test_wh012_many_crafted_requests_keep_the_cache_under_its_budget(web):
    app, ctx, store = web
    client = app.server.test_client()
    rng = random.Random(7)
    first, last = date.fromisoformat(store["start"]), date.fromisoformat(store["end"])
    charts = [CohortIds.RETENTION_HEATMAP, MarketingIds.LTV_CURVES, MarketingIds.ROI_BY_DATE, OverviewIds.KPIS]
    cache = get_metric_cache(ctx).backend
    for i in range(60):
        start = first + timedelta(days=rng.randint(0, (last - first).days))
        crafted = dict(store, start=start.isoformat(), horizon=rng.choice([rng.randint(1, MAX_HORIZON), 10**6]),
                       observation_date=rng.choice(["2600-01-01", last.isoformat()]),
                       channel=rng.sample(["TipTop", "FaceBoom", "organic", "nope"], 2))
        status, data = post(client, envelope(app, chart_output(app, charts[i % len(charts)]), store,
                                             crafted_view(crafted)))
        assert status == 200 and len(data) < MAX_RESPONSE_BYTES
        assert cache.size_bytes <= cache.max_bytes == CACHE_MB * 2**20
    assert cache.evictions > 0  # the budget was reached and held


def test_wh013_byte_budget_cache_evicts_least_recently_used_and_refuses_large_items():
    cache = ByteBudgetCache(max_bytes=10_000, max_item_bytes=3_000, default_timeout=0)
    for i in range(20):
        assert cache.set(f"k{i}", "v" * 1000)
        if i == 3:
            assert cache.get("k0") == "v" * 1000  # k0 becomes recently used
        assert cache.size_bytes <= 10_000
    assert cache.get("k19") == "v" * 1000 and cache.get("k1") is None and cache.evictions > 0
    assert not cache.set("big", "x" * 5_000) and cache.get("big") is None and cache.refused == 1
    assert cache.set("k19", "w") and cache.get("k19") == "w"
    sizes = cache.size_bytes
    assert cache.delete("k19") and cache.size_bytes < sizes - ENTRY_OVERHEAD_BYTES
    expiring = ByteBudgetCache(max_bytes=10_000, default_timeout=-1)  # timeouts <= 0 never expire
    assert expiring.set("a", 1) and expiring.get("a") == 1
    short = ByteBudgetCache(max_bytes=10_000)
    assert short.set("a", 1, timeout=1e-9) is True and short.get("a") is None and short.size_bytes == 0
    assert cache.clear() and cache.size_bytes == 0 and len(cache) == 0


# ----------------------------------------------------------------------------------- the API


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """Test client of an app whose database holds churn scores (naive UTC scored_at, as ml.scoring writes)."""
    from ml import scoring

    folder = tmp_path_factory.mktemp("api-hostile")
    url = f"duckdb:///{folder / 'scores.duckdb'}"
    engine = db.make_engine(url)
    db.create_schema(engine)
    with engine.begin() as conn:
        scoring.create_scores_table(conn)
        conn.execute(scoring.churn_scores.insert(), [
            dict(user_id=f"c{i}", probability=0.1 * i, risk_band="low", reason_1="visits_trend", reason_2=None,
                 reason_3=None, value_at_risk=float(i), model_version="v1", as_of=date(2026, 11, 1),
                 scored_at=datetime(2026, 11, 2, 3, 4, 5) + timedelta(hours=i)) for i in range(5)])
    engine.dispose()
    return create_app(Config(database_url=url, model_dir=folder / "models")).server.test_client()


@pytest.mark.parametrize("path, allowed", [
    ("/api/v1/risk", "GET, HEAD, OPTIONS"), ("/api/v1/customers/c1/risk", "GET, HEAD, OPTIONS"),
    ("/api/v1/churn/score", "OPTIONS, POST"), ("/api/v1/segments/predict", "OPTIONS, POST"),
    ("/api/v1/openapi.json", "GET, HEAD, OPTIONS"), ("/api/v1/docs", "GET, HEAD, OPTIONS")])
def test_wh014_options_lists_only_the_methods_the_route_accepts(api, path, allowed):
    response = api.options(path)
    assert response.status_code == 204 and response.headers["Allow"] == allowed
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        answer = api.open(path, method=method, json={} if method != "GET" else None)
        assert (answer.status_code == 405) == (method not in allowed.split(", ")), (method, answer.status_code)


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/", "/api/v1/risk/extra", "/api/v1/customers/x"])
def test_wh015_options_on_unknown_api_paths_is_404(api, path):
    response = api.options(path)
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def test_wh016_scored_at_carries_a_time_zone_offset(api):
    listed = api.get("/api/v1/risk").get_json()["items"]
    single = [api.get(f"/api/v1/customers/c{i}/risk").get_json() for i in range(5)]
    for item in listed + single:
        assert RFC3339.match(item["scored_at"]), item["scored_at"]
        parsed = datetime.fromisoformat(item["scored_at"].replace("Z", "+00:00"))
        assert parsed.utcoffset() == timedelta(0)
    assert sorted(i["scored_at"] for i in single) == [f"2026-11-02T{3 + i:02d}:04:05Z" for i in range(5)]


def _validator(spec: dict, schema: dict) -> jsonschema.Draft202012Validator:
    """Return a JSON Schema validator of `schema` whose #/components refs resolve in the OpenAPI document."""
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]},
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_wh017_openapi_document_is_valid_and_examples_match_their_schemas(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    validate_openapi(spec)  # raises OpenAPIValidationError on any invalid part
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            contents = [operation.get("requestBody", {}).get("content", {}).get("application/json", {})]
            contents += [r.get("content", {}).get("application/json", {}) for r in operation["responses"].values()]
            for content in contents:
                if "example" in content:
                    _validator(spec, content["schema"]).validate(content["example"])
                    checked += 1
    assert checked >= 3
    # live answers match their documented schemas too (scored_at as a date-time with offset)
    risk_schema = {"$ref": "#/components/schemas/CustomerRisk"}
    _validator(spec, risk_schema).validate(api.get("/api/v1/customers/c3/risk").get_json())
    _validator(spec, {"$ref": "#/components/schemas/RiskPage"}).validate(api.get("/api/v1/risk").get_json())
    naive = dict(api.get("/api/v1/customers/c3/risk").get_json(), scored_at="2026-11-02T03:04:05")
    with pytest.raises(jsonschema.ValidationError):
        _validator(spec, risk_schema).validate(naive)
