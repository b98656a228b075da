"""The forecast routes of the REST API (ml/api/forecast_reads.py, ml/api/routes.py): POST /api/v1/forecast/cac (the
what-if of a daily budget) and GET /api/v1/forecast/<metric>, on the shared demo with a CAC model trained on it.
Validation class by class (400 naming the field, never a 500), no model (503 saying how to train one), the happy
path's numbers agreeing with each other and with the model, nested intervals, the OpenAPI document and docs page."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from app import create_app
from dashboard import db
from dashboard.config import Config
from ml.cac_model import load_cac, predict_cac, save_cac, train_cac_model

URL = "/api/v1/forecast/cac"
GOOD = {"channel": "TipTop", "region": "United States", "device": "iPhone", "start": "2026-11-01", "days": 28,
        "daily_budget": 500.0}


@pytest.fixture(scope="session")
def cac_model_dir(demo_duckdb_url, tmp_path_factory):
    """A model directory holding a CAC model trained on the shared demo (ridge and KNN, 3 folds: fast)."""
    folder = tmp_path_factory.mktemp("cac_models")
    engine = db.make_engine(demo_duckdb_url, read_only=True)
    try:
        with engine.connect() as conn:
            save_cac(train_cac_model(conn, seed=0, cv=3, families=("ridge", "knn")), folder)
    finally:
        engine.dispose()
    return folder


@pytest.fixture(scope="module")
def client(demo_duckdb_url, cac_model_dir):
    """Flask test client of the app on the shared demo with the trained CAC model."""
    app = create_app(Config(database_url=demo_duckdb_url, model_dir=cac_model_dir, autofill_demo=False))
    return app.server.test_client()


@pytest.fixture(scope="module")
def no_model_client(demo_duckdb_url, tmp_path_factory):
    """Flask test client of the app on the shared demo with an empty model directory."""
    folder = tmp_path_factory.mktemp("no_models")
    return create_app(Config(database_url=demo_duckdb_url, model_dir=folder, autofill_demo=False)).server.test_client()


def _post(client, body, **kwargs):
    """Return the response of POSTing `body` (a dict or list as JSON, or raw text/bytes) to the what-if route."""
    if isinstance(body, (dict, list)):
        return client.post(URL, json=body, **kwargs)
    return client.post(URL, data=body, content_type=kwargs.pop("content_type", "application/json"), **kwargs)


def _bad(response, field: str, words: str = "") -> None:
    """Assert a 400 JSON problem whose message starts with `field` and holds `words`."""
    assert response.status_code == 400, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert body["error"] == "bad_request" and body["message"].startswith(f"{field}:"), body
    assert words in body["message"], body
    assert any(e["field"] == field for e in body["errors"]), body


# ------------------------------------------------------------------------------------------------ happy path


def test_fx001_what_if_numbers_agree_with_each_other(client):
    """users x CAC = spend, per-day users x days = users, the days' users sum to the users, revenue / spend = ROI,
    the ROI curve ends at the ROI and the payback day is its first day at 1; every value inside its interval."""
    response = _post(client, GOOD)
    assert response.status_code == 200, response.get_data(as_text=True)
    r = response.get_json()
    assert r["spend"] == pytest.approx(500.0 * 28)
    assert r["new_users"]["value"] * r["cac"]["value"] == pytest.approx(r["spend"], rel=1e-9)
    assert r["new_users_per_day"]["value"] * 28 == pytest.approx(r["new_users"]["value"], rel=1e-9)
    assert sum(d["new_users"] for d in r["daily"]) == pytest.approx(r["new_users"]["value"], rel=1e-9)
    assert len(r["daily"]) == 28 and r["daily"][0]["date"] == "2026-11-01" and r["end"] == "2026-11-28"
    assert r["revenue"]["value"] / r["spend"] == pytest.approx(r["roi"]["value"], rel=1e-9)
    assert len(r["roi_curve"]) == r["horizon_days"] == 60
    assert r["roi_curve"][-1]["roi"] == pytest.approx(r["roi"]["value"])
    rois = [p["roi"] for p in r["roi_curve"]]
    assert rois == sorted(rois)  # cumulative
    first = next((p["lifetime"] for p in r["roi_curve"] if p["roi"] >= 1), None)
    assert r["payback_day"] == first
    for key in ("cac", "new_users", "new_users_per_day"):
        assert 0 < r[key]["lo80"] < r[key]["value"] < r[key]["hi80"], key
    for key in ("revenue", "roi"):  # a small weekly cohort of the small demo may have bought nothing: LTV 0
        assert 0 <= r[key]["lo80"] <= r[key]["value"] < r[key]["hi80"], key
    for point in r["roi_curve"]:
        assert point["lo80"] <= point["roi"] <= point["hi80"]
    # the CAC interval is the model's holdout error: exp of the 10th and 90th percentile of log(actual / predicted)
    artifact = load_cac(_model_dir(client))
    quantiles = artifact.card["holdout_residuals"]["quantiles"]
    assert r["cac"]["lo80"] / r["cac"]["value"] == pytest.approx(math.exp(quantiles["0.1"]), rel=1e-9)
    assert r["cac"]["hi80"] / r["cac"]["value"] == pytest.approx(math.exp(quantiles["0.9"]), rel=1e-9)
    assert r["new_users"]["lo80"] == pytest.approx(r["new_users"]["value"] / math.exp(quantiles["0.9"]), rel=1e-9)
    assert r["ltv_cohorts"] > 0 and r["model_version"] == artifact.version


def test_fx004_a_card_without_residual_quantiles_falls_back_to_the_mape_rule(client, demo_duckdb_url, tmp_path):
    """A CAC model saved before the cards held holdout residual quantiles: its 80% CAC interval is exp(-/+ 1.2816
    sigma) with sigma = holdout MAPE x sqrt(pi / 2), symmetric on the log scale; the point figures are unchanged."""
    import copy

    old = copy.deepcopy(load_cac(_model_dir(client)))
    del old.card["holdout_residuals"]
    save_cac(old, tmp_path / "old_models")
    old_client = create_app(Config(database_url=demo_duckdb_url, model_dir=tmp_path / "old_models",
                                   autofill_demo=False)).server.test_client()
    r = _post(old_client, GOOD).get_json()
    sigma = old.card["holdout_metrics"]["model"]["mape"] * math.sqrt(math.pi / 2)
    spread = math.exp(1.2815515655446004 * sigma)
    assert r["cac"]["hi80"] / r["cac"]["value"] == pytest.approx(spread, rel=1e-9)
    assert r["cac"]["value"] / r["cac"]["lo80"] == pytest.approx(spread, rel=1e-9)
    new = _post(client, GOOD).get_json()
    assert r["cac"]["value"] == pytest.approx(new["cac"]["value"], rel=1e-12)
    assert (r["cac"]["lo80"], r["cac"]["hi80"]) != pytest.approx((new["cac"]["lo80"], new["cac"]["hi80"]), rel=1e-6)


def _model_dir(client):
    """Return the model directory of the test client's app."""
    return client.application.extensions["dashboard_context"].config.model_dir


def test_fx002_what_if_cac_is_the_models_prediction_per_day(client):
    """Each day's CAC is ml.cac_model.predict_cac of that day's row; new users = budget / CAC; a TipTop budget four
    times larger costs more per user (the demo's model extrapolates CAC upwards with the budget)."""
    r = _post(client, GOOD).get_json()
    artifact = load_cac(_model_dir(client))
    rows = [{"channel": "TipTop", "region": "United States", "device": "iPhone", "date": d["date"],
             "daily_budget": 500.0} for d in r["daily"]]
    expected = predict_cac(artifact, rows)
    assert [d["cac"] for d in r["daily"]] == pytest.approx(list(expected), rel=1e-12)
    assert [d["new_users"] for d in r["daily"]] == pytest.approx([500.0 / c for c in expected], rel=1e-12)
    bigger = _post(client, {**GOOD, "daily_budget": 2000.0}).get_json()
    assert bigger["cac"]["value"] > r["cac"]["value"]


def test_fx003_horizon_and_payback_follow_the_request(client):
    """horizon_days sets the curve's length; a huge CAC never pays back (null) while its interval's bounds stay
    ordered; a payback day, when there is one, lies between the interval's bounds."""
    short = _post(client, {**GOOD, "horizon_days": 7, "days": 1}).get_json()
    assert len(short["roi_curve"]) == 7 and short["days"] == 1 and len(short["daily"]) == 1
    for body in (GOOD, {**GOOD, "channel": "YRabbit", "region": "United States"}):
        r = _post(client, body).get_json()
        lo, mid, hi = r["payback_day_lo80"], r["payback_day"], r["payback_day_hi80"]
        if mid is not None:
            assert lo is not None and lo <= mid and (hi is None or mid <= hi)
        if lo is None:
            assert mid is None and hi is None


# ------------------------------------------------------------------------------------------------ validation


@pytest.mark.parametrize("field", list(GOOD))
def test_fx010_a_missing_field_is_named(client, field):
    body = {k: v for k, v in GOOD.items() if k != field}
    _bad(_post(client, body), field, "field required")


@pytest.mark.parametrize("field,value,words", [
    ("channel", 5, "must be a string"), ("region", None, "must be a string"), ("device", ["Mac"], "must be a string"),
    ("start", 20261101, "must be a date"), ("start", "2026-13-01", "must be a date"), ("start", "01/11/2026", "date"),
    ("start", "", "must be a date"), ("days", "28", "integer"), ("days", 2.5, "integer"), ("days", True, "integer"),
    ("daily_budget", "500", "number"), ("daily_budget", True, "number"), ("daily_budget", None, "number"),
    ("daily_budget", {"v": 1}, "number"), ("horizon_days", "60", "integer"),
])
def test_fx011_a_wrong_type_is_named(client, field, value, words):
    _bad(_post(client, {**GOOD, field: value}), field, words)


@pytest.mark.parametrize("field,value,words", [
    ("days", 0, ">= 1"), ("days", 91, "<= 90"), ("days", -5, ">= 1"), ("days", 10 ** 30, "<= 90"),
    ("daily_budget", 0, "> 0"), ("daily_budget", -100.0, "> 0"), ("daily_budget", 1_000_001, "<= 1e+06"),
    ("daily_budget", 1e308, "<= 1e+06"), ("horizon_days", 6, ">= 7"), ("horizon_days", 121, "<= 120"),
    ("start", "1999-01-01", "must be between"), ("start", "2031-01-01", "must be between"),
])
def test_fx012_a_value_out_of_range_is_named(client, field, value, words):
    _bad(_post(client, {**GOOD, field: value}), field, words)


@pytest.mark.parametrize("field,value,words", [
    ("channel", "NoSuchChannel", "unknown channel"), ("channel", "organic", "not a paid channel"),
    ("channel", "tiptop", "unknown channel"), ("region", "Atlantis", "unknown region"),
    ("device", "Toaster", "unknown device"), ("channel", "x" * 201, "at most 200"),
    ("channel", "Tip\x00Top", "control characters"), ("channel", "", "must not be empty"),
])
def test_fx013_an_unknown_value_is_named_with_the_known_ones(client, field, value, words):
    response = _post(client, {**GOOD, field: value})
    _bad(response, field, words)
    if "unknown" in words or "paid" in words:
        assert "TipTop" in response.get_json()["message"] or field != "channel"


def test_fx014_crafted_bodies_answer_4xx_never_500(client):
    """Extra fields, a list, a string, nested junk, NaN and Infinity, malformed and non-UTF-8 JSON, a wrong content
    type and an oversized body are refused with the field named; nothing answers 500."""
    _bad(_post(client, {**GOOD, "budget": 5}), "budget", "unknown field")
    _bad(_post(client, [GOOD]), "body", "JSON object")
    _bad(_post(client, "\"TipTop\""), "body", "JSON object")
    _bad(_post(client, json.dumps({**GOOD, "daily_budget": float("nan")}, allow_nan=True)), "body", "NaN")
    _bad(_post(client, json.dumps({**GOOD, "daily_budget": float("inf")}, allow_nan=True)), "body", "Infinity")
    _bad(_post(client, "{\"channel\": "), "body", "malformed JSON")
    _bad(_post(client, b"\xff\xfe{}"), "body", "malformed JSON")
    _bad(_post(client, "[" * 100_000 + "]" * 100_000), "body", "")
    _bad(_post(client, {**GOOD, "daily_budget": "1e400"}), "daily_budget", "number")
    assert _post(client, json.dumps(GOOD), content_type="text/plain").status_code == 415
    assert _post(client, json.dumps({**GOOD, "pad": "x" * 1_100_000})).status_code == 413
    assert client.put(URL, json=GOOD).status_code == 405  # (GET here is the cac series: fx022)


def test_fx015_no_saved_model_answers_503_with_the_command(no_model_client):
    """Without a saved CAC model a valid request is a 503 naming the training command (like the churn routes)."""
    response = _post(no_model_client, GOOD)
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert body["error"] == "no_model" and "python -m dashboard forecast train" in body["message"]
    _bad(_post(no_model_client, {**GOOD, "days": 0}), "days")  # bad input is still named first


# ------------------------------------------------------------------------------------------------ GET series


def test_fx020_series_rows_have_nested_intervals_after_the_data(client):
    """GET /forecast/new_users (channel All, 28 days by default): one row per day after the data's last date, the
    intervals nested lo95 <= lo80 <= mean <= hi80 <= hi95, non-negative; the same answer twice (memoized)."""
    response = client.get("/api/v1/forecast/new_users")
    assert response.status_code == 200, response.get_data(as_text=True)
    r = response.get_json()
    assert r["channel"] == "All" and r["horizon_days"] == 28 and r["grain"] == "day" and r["count"] == 28
    assert r["model"] == "auto"
    origin = dt.date.fromisoformat(r["origin"])
    assert [row["date"] for row in r["items"]] == [(origin + dt.timedelta(days=k)).isoformat() for k in range(1, 29)]
    for row in r["items"]:
        assert 0 <= row["lo95"] <= row["lo80"] <= row["mean"] <= row["hi80"] <= row["hi95"], row
    assert row["hi95"] > row["lo95"]
    assert client.get("/api/v1/forecast/new_users?channel=All&horizon_days=28").get_json() == r


def test_fx021_channel_series_and_weekly_cac(client):
    """A channel's daily revenue for 7 days; TipTop's weekly CAC dated by Mondays, nested and positive."""
    revenue = client.get("/api/v1/forecast/revenue?channel=FaceBoom&horizon_days=7").get_json()
    assert revenue["count"] == 7 and revenue["channel"] == "FaceBoom"
    cac = client.get("/api/v1/forecast/cac?channel=TipTop&horizon_days=14").get_json()
    assert cac["grain"] == "week" and cac["count"] >= 2
    for row in cac["items"]:
        assert dt.date.fromisoformat(row["date"]).weekday() == 0
        assert 0 <= row["lo95"] <= row["lo80"] <= row["mean"] <= row["hi80"] <= row["hi95"] and row["mean"] > 0


@pytest.mark.parametrize("path,field,words", [
    ("/api/v1/forecast/profit", "metric", "must be one of"),
    ("/api/v1/forecast/spend?horizon_days=6", "horizon_days", ">= 7"),
    ("/api/v1/forecast/spend?horizon_days=91", "horizon_days", "<= 90"),
    ("/api/v1/forecast/spend?horizon_days=abc", "horizon_days", "integer"),
    ("/api/v1/forecast/spend?horizon_days=99999999999999999999999", "horizon_days", "<= 90"),
    ("/api/v1/forecast/spend?channel=Nope", "channel", "no such series"),
    ("/api/v1/forecast/cac", "channel", "per paid channel"),
    ("/api/v1/forecast/cac?channel=organic", "channel", "no such series"),
    ("/api/v1/forecast/spend?channel=", "channel", "must not be empty"),
    ("/api/v1/forecast/spend?color=red", "color", "unknown field"),
])
def test_fx022_bad_series_requests_are_named(client, path, field, words):
    _bad(client.get(path), field, words)


# ------------------------------------------------------------------------------------------------ documents


def test_fx030_openapi_and_docs_describe_the_forecast_routes(client):
    """The OpenAPI document has both routes with their schemas (a single-object body, the metric's enum); the docs
    page shows them with their curl lines."""
    spec = client.get("/api/v1/openapi.json").get_json()
    post = spec["paths"]["/api/v1/forecast/cac"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WhatIfRequest"}
    assert set(spec["components"]["schemas"]["WhatIfRequest"]["required"]) == set(GOOD)
    assert {"400", "503"} <= set(post["responses"])
    get = spec["paths"]["/api/v1/forecast/{metric}"]["get"]
    names = {p["name"] for p in get["parameters"]}
    assert names == {"metric", "channel", "horizon_days"}
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/forecast/cac" in page and "/api/v1/forecast/{metric}" in page
    assert "forecast/new_users?channel=TipTop&amp;horizon_days=28" in page and "daily_budget" in page
    assert "(one object)" in page
