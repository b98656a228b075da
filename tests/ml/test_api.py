"""REST API /api/v1: customer risk, risk list paging, churn scoring, validation (400 names the field), 404/405/415,
no 500 on random input, OpenAPI document and docs page. Through the Flask test client of create_app."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.calibration import CalibratedClassifierCV

from app import create_app
from dashboard import db
from dashboard.config import Config
from ml import features, scoring, segments
from ml.artifact import ChurnArtifact, library_versions, save_artifact
from ml.segments import load_segment_model, save_segment_model
from ml.selection import make_pipeline

BIG_ID_A = "18446744073709551617"  # 20 digits, beyond uint64; differs from B only in the last digit
BIG_ID_B = "18446744073709551618"
AS_OF_OLD = date(2026, 10, 1)
AS_OF = date(2026, 11, 1)
SCORED_AT = datetime(2026, 11, 2, 3, 4, 5)

def score_rows() -> list[dict]:
    """Return the churn_scores rows of the tests: 25 customers at AS_OF (ties in value_at_risk), 2 at AS_OF_OLD."""
    rows = []
    for i in range(23):
        p = round(0.04 * i, 2)
        band = "high" if p >= 0.6 else "medium" if p >= 0.3 else "low"
        rows.append(dict(user_id=f"u{i:03d}", probability=p, risk_band=band, reason_1="visits_trend",
                         reason_2="orders_30" if i % 2 else None, reason_3=None,
                         value_at_risk=float(i // 2),  # pairs share a value: user_id breaks the tie
                         model_version="v2", as_of=AS_OF, scored_at=SCORED_AT))
    rows.append(dict(user_id=BIG_ID_A, probability=0.9, risk_band="high", reason_1="days_since_last_visit",
                     reason_2="visits_trend", reason_3="minutes_30", value_at_risk=50.0, model_version="v2",
                     as_of=AS_OF, scored_at=SCORED_AT))
    rows.append(dict(user_id="клиент-é", probability=0.5, risk_band="medium", reason_1="orders_trend",
                     reason_2=None, reason_3=None, value_at_risk=0.0, model_version="v2", as_of=AS_OF,
                     scored_at=SCORED_AT))
    # older run: BIG_ID_A had another score; BIG_ID_B exists only there
    rows.append(dict(user_id=BIG_ID_A, probability=0.1, risk_band="low", reason_1="old", reason_2=None,
                     reason_3=None, value_at_risk=1.0, model_version="v1", as_of=AS_OF_OLD, scored_at=SCORED_AT))
    rows.append(dict(user_id=BIG_ID_B, probability=0.7, risk_band="high", reason_1="revenue_90", reason_2=None,
                     reason_3=None, value_at_risk=7.0, model_version="v1", as_of=AS_OF_OLD, scored_at=SCORED_AT))
    return rows


def write_scores(url: str, rows: list[dict]) -> None:
    """Create the schema and churn_scores (ml.scoring's table) in the database at `url` and insert `rows`."""
    engine = db.make_engine(url)
    db.create_schema(engine)
    with engine.begin() as conn:
        scoring.create_scores_table(conn)
        conn.execute(scoring.churn_scores.insert(), rows)
    engine.dispose()


def make_client(url: str, model_dir: Path):
    """Return a Flask test client of create_app on `url` with models in `model_dir`."""
    return create_app(Config(database_url=url, model_dir=model_dir, autofill_demo=False)).server.test_client()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """Test client on a DuckDB file holding churn_scores, without a trained model."""
    folder = tmp_path_factory.mktemp("api")
    url = f"duckdb:///{folder / 'api.duckdb'}"
    write_scores(url, score_rows())
    return make_client(url, folder / "models")


def expected_order(as_of: date = AS_OF, band: str | None = None) -> list[str]:
    """Return the user ids of a scoring run in the API's order: value_at_risk desc, then user_id."""
    rows = [r for r in score_rows() if r["as_of"] == as_of and (band is None or r["risk_band"] == band)]
    rows.sort(key=lambda r: (-r["value_at_risk"], r["user_id"]))  # code-point order of ids
    return [r["user_id"] for r in rows]


def assert_bad_field(response, field: str, fragment: str = "") -> None:
    """Assert a 400 JSON answer whose message names `field` (and holds `fragment`)."""
    assert response.status_code == 400, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == "bad_request"
    assert body["message"].startswith(f"{field}: ") or f"; {field}: " in body["message"], body["message"]
    assert any(e["field"] == field for e in body["errors"])
    assert fragment in body["message"]


# --- read routes ---------------------------------------------------------------------------------------

def test_api001_customer_risk_returns_latest_row(client):
    body = client.get(f"/api/v1/customers/{BIG_ID_A}/risk").get_json()
    assert body == {
        "user_id": BIG_ID_A, "probability": 0.9, "risk_band": "high",
        "reasons": ["days_since_last_visit", "visits_trend", "minutes_30"], "value_at_risk": 50.0,
        "model_version": "v2", "as_of": "2026-11-01", "scored_at": "2026-11-02T03:04:05Z",
    }


def test_api002_twenty_digit_ids_exact(client):
    a = client.get(f"/api/v1/customers/{BIG_ID_A}/risk").get_json()
    b = client.get(f"/api/v1/customers/{BIG_ID_B}/risk").get_json()
    assert (a["user_id"], a["probability"]) == (BIG_ID_A, 0.9)
    assert (b["user_id"], b["probability"], b["as_of"]) == (BIG_ID_B, 0.7, "2026-10-01")
    assert client.get("/api/v1/customers/18446744073709551619/risk").status_code == 404
    assert client.get("/api/v1/customers/1.8446744073709552e19/risk").status_code == 404


def test_api003_unknown_customer_is_404_json(client):
    response = client.get("/api/v1/customers/nobody/risk")
    assert response.status_code == 404
    body = response.get_json()
    assert body["error"] == "not_found" and body["message"].startswith("user_id: ")
    assert body["errors"] == [{"field": "user_id", "message": "unknown customer"}]


def test_api004_unicode_and_control_character_ids(client):
    body = client.get("/api/v1/customers/клиент-é/risk").get_json()
    assert body["user_id"] == "клиент-é" and body["value_at_risk"] == 0.0 and body["reasons"] == ["orders_trend"]
    assert client.get("/api/v1/customers/клиент-ё/risk").status_code == 404
    assert_bad_field(client.get("/api/v1/customers/a%00b/risk"), "user_id", "control characters")
    assert_bad_field(client.get("/api/v1/customers/" + "9" * 300 + "/risk"), "user_id", "at most 256")


def test_api005_risk_list_default_page(client):
    body = client.get("/api/v1/risk").get_json()
    order = expected_order()
    assert body["total"] == len(order) == 25
    assert [item["user_id"] for item in body["items"]] == order
    assert body["as_of"] == "2026-11-01" and body["limit"] == 100 and body["offset"] == 0
    assert body["next_offset"] is None and body["next"] is None
    assert body["items"][0]["user_id"] == BIG_ID_A  # highest value at risk
    assert [i["user_id"] for i in body["items"][-3:]] == ["u000", "u001", "клиент-é"]  # ties: by user_id


def test_api006_paging_limit_offset_total_consistent(client):
    order = expected_order()
    seen, link, pages = [], "/api/v1/risk?limit=4", 0
    while link:
        body = client.get(link).get_json()
        assert body["total"] == len(order) and body["limit"] == 4
        assert body["offset"] == len(seen)
        assert len(body["items"]) == min(4, len(order) - len(seen))
        seen += [item["user_id"] for item in body["items"]]
        link, pages = body["next"], pages + 1
        if link:
            assert body["next_offset"] == len(seen) and f"offset={len(seen)}" in link and "as_of=2026-11-01" in link
    assert seen == order and pages == 7
    beyond = client.get("/api/v1/risk?limit=4&offset=100").get_json()
    assert beyond["items"] == [] and beyond["total"] == len(order) and beyond["next_offset"] is None


def test_api007_risk_list_band_and_as_of_filters(client):
    high = client.get("/api/v1/risk?band=high&limit=3").get_json()
    assert high["total"] == len(expected_order(band="high"))
    assert [i["user_id"] for i in high["items"]] == expected_order(band="high")[:3]
    assert all(i["risk_band"] == "high" for i in high["items"])
    assert "band=high" in high["next"]
    old = client.get("/api/v1/risk?as_of=2026-10-01").get_json()
    assert [i["user_id"] for i in old["items"]] == [BIG_ID_B, BIG_ID_A] and old["total"] == 2
    none = client.get("/api/v1/risk?as_of=2020-01-01").get_json()
    assert none["total"] == 0 and none["items"] == []


@pytest.mark.parametrize("query, field, fragment", [
    ("limit=0", "limit", "must be >= 1"),
    ("limit=1001", "limit", "must be <= 1000"),
    ("limit=abc", "limit", "must be an integer"),
    ("limit=1.5", "limit", "must be an integer"),
    ("limit=" + "9" * 5000, "limit", ""),
    ("offset=-1", "offset", "must be >= 0"),
    ("offset=99999999999999999999999", "offset", "must be <="),
    ("band=extreme", "band", "must be one of low, medium, high"),
    ("band=", "band", "must be one of low, medium, high"),
    ("as_of=yesterday", "as_of", "must be a date"),
    ("as_of=2026-02-30", "as_of", "must be a date"),
    ("limt=5", "limt", "unknown field"),
])
def test_api008_risk_list_validation_names_the_field(client, query, field, fragment):
    assert_bad_field(client.get(f"/api/v1/risk?{query}"), field, fragment)


def test_api009_several_errors_listed_together(client):
    body = client.get("/api/v1/risk?limit=0&band=x").get_json()
    assert {e["field"] for e in body["errors"]} == {"limit", "band"}
    assert body["message"] == "band: must be one of low, medium, high; limit: must be >= 1"


def test_api010_read_routes_on_every_backend(database_url, tmp_path):
    write_scores(database_url, score_rows())
    api = make_client(database_url, tmp_path / "models")
    a = api.get(f"/api/v1/customers/{BIG_ID_A}/risk").get_json()
    assert (a["user_id"], a["probability"], a["as_of"], a["scored_at"]) == (BIG_ID_A, 0.9, "2026-11-01",
                                                                           "2026-11-02T03:04:05Z")
    assert api.get(f"/api/v1/customers/{BIG_ID_B}/risk").get_json()["as_of"] == "2026-10-01"
    assert api.get("/api/v1/customers/клиент-é/risk").get_json()["user_id"] == "клиент-é"
    assert api.get("/api/v1/customers/nobody/risk").status_code == 404
    order = expected_order()
    first = api.get("/api/v1/risk?limit=10").get_json()
    second = api.get(first["next"]).get_json()
    third = api.get(second["next"]).get_json()
    assert [i["user_id"] for i in first["items"] + second["items"] + third["items"]] == order
    assert third["next"] is None and first["total"] == second["total"] == third["total"] == 25
    assert api.get("/api/v1/risk?band=medium").get_json()["total"] == len(expected_order(band="medium"))


def test_api011_no_scores_table_is_503(tmp_path):
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    api = make_client(url, tmp_path / "models")
    for path in ("/api/v1/customers/u1/risk", "/api/v1/risk"):
        response = api.get(path)
        assert response.status_code == 503
        assert response.get_json()["error"] == "no_scores" and "scoring" in response.get_json()["message"]


# --- HTTP errors -----------------------------------------------------------------------------------------

def test_api012_method_media_type_and_unknown_paths(client):
    wrong_method = client.get("/api/v1/churn/score")
    assert wrong_method.status_code == 405 and wrong_method.headers["Allow"] == "POST"
    assert wrong_method.get_json()["error"] == "method_not_allowed"
    post_list = client.post("/api/v1/risk")
    assert post_list.status_code == 405 and "GET" in post_list.headers["Allow"]
    delete = client.delete(f"/api/v1/customers/{BIG_ID_A}/risk")
    assert delete.status_code == 405 and delete.get_json()["error"] == "method_not_allowed"
    not_json = client.post("/api/v1/churn/score", data="visits_30=1", content_type="text/plain")
    assert not_json.status_code == 415 and not_json.get_json()["message"].startswith("body: ")
    missing = client.get("/api/v1/no/such/route")
    assert missing.status_code == 404 and missing.get_json()["error"] == "not_found"
    assert client.post("/api/v1/nothing", json={}).status_code == 404
    # outside /api/ the app keeps its own answers
    assert client.get("/health").get_json() == {"status": "ok"}
    assert client.get("/some/page").status_code == 200  # Dash's catch-all page


def test_api013_segments_without_model_is_503(client):
    response = client.post("/api/v1/segments/predict", json={"recency_days": 3, "frequency": 2, "monetary": 9.5})
    assert response.status_code == 503 and response.get_json()["error"] == "no_model"
    assert "export-segments" in response.get_json()["message"]


# --- OpenAPI and docs ------------------------------------------------------------------------------------

def test_api014_openapi_lists_every_path(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    spec = json.loads(response.get_data(as_text=True))
    assert spec["openapi"].startswith("3.")
    rules = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in client.application.url_map.iter_rules()
             if r.rule.startswith("/api/v1/") and r.endpoint != "api_v1.unknown_route"}
    assert set(spec["paths"]) == rules
    assert spec["paths"]["/api/v1/risk"]["get"]["parameters"][2]["schema"]["maximum"] == 1000
    features = spec["components"]["schemas"]["CustomerFeatures"]
    assert "visits_30" in features["required"] and features["additionalProperties"] is False
    refs = re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(spec))
    assert refs and set(refs) <= set(spec["components"]["schemas"])


def test_api015_docs_page_lists_endpoints_without_external_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for path in ("/api/v1/customers/{user_id}/risk", "/api/v1/risk", "/api/v1/churn/score",
                 "/api/v1/segments/predict", "/api/v1/openapi.json"):
        assert path in page
    assert "limit" in page and "band" in page and "curl" in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)
    assert "<script" not in page


# --- never a 500 on random input -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(query=st.dictionaries(st.sampled_from(["band", "limit", "offset", "as_of", "x", "limit "]),
                             st.text(max_size=30), max_size=4),
       user_id=st.text(min_size=1, max_size=40))
def test_api016_random_queries_and_ids_never_500(client, query, user_id):
    response = client.get("/api/v1/risk", query_string=query)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    assert response.is_json
    risk = client.get(f"/api/v1/customers/{quote(user_id, safe='')}/risk")
    assert risk.status_code in (200, 400, 404) and risk.is_json, risk.get_data(as_text=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=json_values)
def test_api017_random_bodies_without_model_never_500(client, body):
    response = client.post("/api/v1/churn/score", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (400, 503), response.get_data(as_text=True)
    segment = client.post("/api/v1/segments/predict", data=json.dumps(body), content_type="application/json")
    assert segment.status_code in (400, 503), segment.get_data(as_text=True)


# --- scoring with a trained model ----------------------------------------------------------------------

def synthetic_training_frame(rows: int = 400, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Return (features of ml.features, label) where falling visits and no recent order mean decline."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({name: rng.gamma(2.0, 5.0, rows) for name in features.NUMERIC_FEATURES})
    X["visits_trend"] = rng.normal(0, 1, rows)
    X["channel"] = rng.choice(["organic", "FaceBoom", "TipTop"], rows)
    X["device"] = rng.choice(["PC", "iPhone"], rows)
    X["region"] = rng.choice(["UK", "France"], rows)
    logit = -2.0 * X["visits_trend"] + 0.08 * (X["days_since_last_order"] - 10) + (X["channel"] == "TipTop")
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def train_artifact(model_dir: Path, version: str, seed: int = 0) -> ChurnArtifact:
    """Fit a small calibrated logistic-regression artifact, save it to `model_dir` as the latest; return it."""
    X, y = synthetic_training_frame(seed=seed)
    numeric, categorical = list(features.NUMERIC_FEATURES), list(features.CATEGORICAL_FEATURES)
    pipeline = make_pipeline("logistic_regression", numeric, categorical, seed).fit(X, y)
    calibrated = CalibratedClassifierCV(make_pipeline("logistic_regression", numeric, categorical, seed), cv=3)
    calibrated.fit(X, y)
    artifact = ChurnArtifact(model=calibrated, pipeline=pipeline, numeric=numeric, categorical=categorical,
                             background=X.head(40), card={"library_versions": library_versions()},
                             version=version, seed=seed)
    save_artifact(artifact, model_dir)
    return artifact


def customer_features(index: int = 0, seed: int = 1) -> dict:
    """Return one customer's feature values as JSON-ready Python values."""
    X, _ = synthetic_training_frame(rows=index + 1, seed=seed)
    row = X.iloc[index]
    return {k: (float(v) if k in features.NUMERIC_FEATURES else str(v)) for k, v in row.items()}


def rfm_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Return recency_days, frequency, monetary of `rows` synthetic customers in three clear groups."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 3, rows)
    return pd.DataFrame({
        "recency_days": np.choose(group, [rng.integers(1, 10, rows), rng.integers(60, 120, rows),
                                          rng.integers(200, 365, rows)]).astype(float),
        "frequency": np.choose(group, [rng.integers(10, 30, rows), rng.integers(2, 5, rows),
                                       np.ones(rows, dtype=int)]).astype(float),
        "monetary": np.choose(group, [rng.uniform(500, 2000, rows), rng.uniform(50, 200, rows),
                                      rng.uniform(5, 20, rows)]),
    })


@pytest.fixture(scope="module")
def model_client(tmp_path_factory):
    """Test client with churn_scores and a trained model in its model directory; yields (client, artifact)."""
    folder = tmp_path_factory.mktemp("api_model")
    url = f"duckdb:///{folder / 'api.duckdb'}"
    write_scores(url, score_rows())
    artifact = train_artifact(folder / "models", "test-v1")
    save_segment_model(segments.cluster_customers(rfm_frame(), seed=0, k_values=range(2, 5)), folder / "models",
                       date(2026, 11, 1))
    return make_client(url, folder / "models"), artifact, folder / "models"


def test_api018_score_one_customer(model_client):
    api, artifact, _ = model_client
    body = customer_features() | {"user_id": BIG_ID_A}
    response = api.post("/api/v1/churn/score", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    frame = pd.DataFrame([customer_features()])[artifact.features]
    expected = float(artifact.predict_proba(frame)[0])
    assert result["user_id"] == BIG_ID_A and result["model_version"] == "test-v1"
    assert result["probability"] == pytest.approx(expected, abs=1e-12)
    assert result["risk_band"] == scoring.risk_band(np.array([expected]))[0]
    assert result["reasons"] == artifact.explain(frame, top=3)[0] and len(result["reasons"]) <= 3


def test_api019_score_a_list_keeps_order(model_client):
    api, artifact, _ = model_client
    customers = [customer_features(i, seed=5) for i in range(6)]
    response = api.post("/api/v1/churn/score", json=customers)
    assert response.status_code == 200, response.get_data(as_text=True)
    result = response.get_json()
    expected = artifact.predict_proba(pd.DataFrame(customers)[artifact.features])
    assert result["count"] == 6 and result["model_version"] == "test-v1"
    assert [r["probability"] for r in result["items"]] == pytest.approx(list(expected), abs=1e-12)
    assert all(r["user_id"] is None for r in result["items"])


def _score(api, body) -> object:
    return api.post("/api/v1/churn/score", data=body if isinstance(body, (str, bytes)) else json.dumps(body),
                    content_type="application/json")


@pytest.mark.parametrize("change, field, fragment", [
    (lambda b: b.pop("visits_30"), "visits_30", "field required"),
    (lambda b: b.update(visits_30="3"), "visits_30", "must be a number"),
    (lambda b: b.update(visits_30=True), "visits_30", "must be a number"),
    (lambda b: b.update(visits_30=None), "visits_30", "must be a number"),
    (lambda b: b.update(visits_30=[1]), "visits_30", "must be a number"),
    (lambda b: b.update(visits_30=1e13), "visits_30", "must be <= 1e+12"),
    (lambda b: b.update(visits_30=-(10 ** 400)), "visits_30", ""),
    (lambda b: b.update(channel=7), "channel", "must be a string"),
    (lambda b: b.update(channel="x" * 201), "channel", "at most 200"),
    (lambda b: b.update(user_id=12345678901234567890), "user_id", "must be a string"),
    (lambda b: b.update(visits_30d=4), "visits_30d", "unknown field"),
])
def test_api020_score_validation_names_the_field(model_client, change, field, fragment):
    api, _, _ = model_client
    body = customer_features()
    change(body)
    assert_bad_field(_score(api, body), field, fragment)


def test_api021_score_body_errors(model_client):
    api, _, _ = model_client
    good = customer_features()
    infinite = json.dumps(good).replace(json.dumps(good["visits_60"]), "1e400", 1)
    assert_bad_field(_score(api, infinite), "visits_60", "finite")
    nan = json.dumps(good).replace(json.dumps(good["visits_60"]), "NaN", 1)
    assert_bad_field(_score(api, nan), "body", "NaN is not valid JSON")
    assert_bad_field(_score(api, '{"visits_30": 1,'), "body", "malformed JSON")
    assert_bad_field(_score(api, "[" * 100_000 + "]" * 100_000), "body", "malformed JSON")
    assert_bad_field(_score(api, b"\xff\xfe{}"), "body", "malformed JSON")
    assert_bad_field(_score(api, "42"), "body", "must be a JSON object")
    assert_bad_field(_score(api, []), "body", "empty")
    assert_bad_field(_score(api, [good] * 1001), "body", "at most 1000")
    items = _score(api, [good, good | {"channel": None}, "x"]).get_json()
    assert [e["field"] for e in items["errors"]] == ["[1].channel", "[2]"]
    assert items["message"] == "[1].channel: must be a string; [2]: must be a JSON object"
    too_big = api.post("/api/v1/churn/score", data=b"[" + b" " * 1_000_001 + b"]", content_type="application/json")
    assert too_big.status_code == 413 and too_big.get_json()["error"] == "too_large"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(replacements=st.dictionaries(st.sampled_from(["visits_30", "channel", "orders_trend", "user_id", "extra"]),
                                    json_values, max_size=3),
       drop=st.sets(st.sampled_from(["region", "revenue_90", "device"]), max_size=2))
def test_api022_random_feature_values_never_500(model_client, replacements, drop):
    api, _, _ = model_client
    body = {k: v for k, v in customer_features().items() if k not in drop} | replacements
    response = _score(api, body)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 200:
        assert 0.0 <= response.get_json()["probability"] <= 1.0


def test_api023_no_model_is_503_then_new_model_is_picked_up(tmp_path):
    url = f"duckdb:///{tmp_path / 'api.duckdb'}"
    write_scores(url, score_rows())
    api = make_client(url, tmp_path / "models")
    missing = _score(api, customer_features())
    assert missing.status_code == 503 and missing.get_json()["error"] == "no_model"
    assert "no churn model trained yet" in missing.get_json()["message"]
    train_artifact(tmp_path / "models", "test-v1")
    assert _score(api, customer_features()).get_json()["model_version"] == "test-v1"
    train_artifact(tmp_path / "models", "test-v2", seed=3)
    assert _score(api, customer_features()).get_json()["model_version"] == "test-v2"
    spec = api.get("/api/v1/openapi.json").get_json()
    assert set(spec["components"]["schemas"]["CustomerFeatures"]["required"]) == set(features.FEATURES)


def test_api024_damaged_model_file_is_503(tmp_path):
    url = f"duckdb:///{tmp_path / 'api.duckdb'}"
    write_scores(url, score_rows())
    models = tmp_path / "models"
    models.mkdir()
    (models / "churn-broken.joblib").write_bytes(b"not a joblib file")
    (models / "latest").write_text("churn-broken\n")
    response = _score(make_client(url, models), customer_features())
    assert response.status_code == 503 and "could not load churn-broken.joblib" in response.get_json()["message"]


def test_api025_segments_predict(model_client):
    api, _, model_dir = model_client
    model = load_segment_model(model_dir)
    customers = [{"recency_days": 3, "frequency": 20, "monetary": 1500.0, "user_id": BIG_ID_A},
                 {"recency_days": 300, "frequency": 1, "monetary": 9.99}]
    expected = model.predict(pd.DataFrame(customers)[segments.FEATURES])
    one = api.post("/api/v1/segments/predict", json=customers[0])
    assert one.status_code == 200, one.get_data(as_text=True)
    assert one.get_json() == {"user_id": BIG_ID_A, "cluster": int(expected["cluster"].iloc[0]),
                              "cluster_name": expected["cluster_name"].iloc[0], "observation_date": "2026-11-01"}
    many = api.post("/api/v1/segments/predict", json=customers).get_json()
    assert many["count"] == 2
    assert [i["cluster"] for i in many["items"]] == [int(c) for c in expected["cluster"]]
    assert many["items"][0]["cluster"] != many["items"][1]["cluster"]  # a champion and a lapsed buyer differ


@pytest.mark.parametrize("change, field, fragment", [
    (lambda b: b.pop("monetary"), "monetary", "field required"),
    (lambda b: b.update(recency_days=-1), "recency_days", "must be >= 0"),
    (lambda b: b.update(frequency="3"), "frequency", "must be a number"),
    (lambda b: b.update(monetary=1e13), "monetary", "must be <= 1e+12"),
    (lambda b: b.update(segment="x"), "segment", "unknown field"),
])
def test_api026_segments_validation_names_the_field(model_client, change, field, fragment):
    api, _, _ = model_client
    body = {"recency_days": 3, "frequency": 2, "monetary": 9.5}
    change(body)
    response = api.post("/api/v1/segments/predict", data=json.dumps(body), content_type="application/json")
    assert_bad_field(response, field, fragment)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(["recency_days", "frequency", "monetary", "user_id", "x"]),
                            json_values, max_size=5))
def test_api027_random_rfm_bodies_never_500(model_client, body):
    api, _, _ = model_client
    response = api.post("/api/v1/segments/predict", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400), response.get_data(as_text=True)

