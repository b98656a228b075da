"""The routes of the REST API, each declared once in `ROUTES` (method, path, summary, request and answer
schemas, error codes, handler), and the Flask blueprint built from that table under /api/v1.

The OpenAPI document (`ml.api.openapi`) is generated from the same table. The routes only read: `churn_scores`
is written by `ml.scoring.score` (CLI), models by training (CLI). Every answer is JSON; an error is
`{"error": code, "message": "field: what is wrong", "errors": [...]}` (`ml.api.schemas.ApiProblem`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from dashboard import db
from dashboard.cache import metric_reader
from dashboard.context import BUSY, AppContext, unavailable_kind
from ml.api.docs_page import docs_html
from ml.api.forecast_reads import cac_artifact, no_cac_model_problem, series_forecast, what_if
from ml.api.model_stores import ModelStore, SegmentModelStore, predict_segments, score_customers, served_feature_kinds
from ml.api.openapi import Answer, ApiRoute, JsonBody, PathParam, openapi_document
from ml.api.risk_reads import customer_risk, risk_page
from ml.api.schemas import (
    API_PREFIX, EXAMPLE_MODEL, EXAMPLE_RISK, MAX_BATCH, MAX_BODY_BYTES, MAX_ID_LENGTH, MODEL_NAME_PATTERN, ApiProblem,
    CustomerPath, CustomerRisk, EXAMPLE_WHAT_IF, ForecastPath, ForecastQuery, ForecastRows, ModelInfo, ModelList,
    ModelPath, RiskListQuery, RiskPage, ScoreBatchResult, ScoreResult, SegmentBatchResult, SegmentRequest,
    SegmentResult, WhatIfRequest, WhatIfResult, bad_input, feature_request_model, problem_response,
)
from ml.registry import REGISTRY, ModelRegistry, ModelSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiState:
    """What the route handlers read: the app context (engine, model directory), the stores of the two served
    models, and the model registry (the generic /models routes list and describe every registered model)."""

    ctx: AppContext
    models: ModelStore
    segment_models: SegmentModelStore
    registry: ModelRegistry = REGISTRY


# --- handlers -----------------------------------------------------------------------------------------

def customer_risk_route(api: ApiState, user_id: str) -> Response:
    """Return the customer's latest churn score (404 when unknown)."""
    try:
        CustomerPath(user_id=user_id)
    except ValidationError as exc:
        raise bad_input(exc) from None
    with api.ctx.engine.connect() as conn:
        found = customer_risk(conn, user_id)
    if found is None:
        raise ApiProblem(404, "not_found", f"user_id: no churn score for customer {user_id!r}",
                         [{"field": "user_id", "message": "unknown customer"}])
    return jsonify(found.model_dump(mode="json"))


def risk_list_route(api: ApiState) -> Response:
    """Return one page of a scoring run with total and the next link."""
    try:
        query = RiskListQuery.model_validate(request.args.to_dict(flat=True))  # first value of repeated keys
    except ValidationError as exc:
        raise bad_input(exc) from None
    with api.ctx.engine.connect() as conn:
        items, total, as_of = risk_page(conn, query)
    next_offset = query.offset + len(items) if query.offset + len(items) < total and items else None
    next_link = None
    if next_offset is not None:
        params = {"limit": query.limit, "offset": next_offset, "as_of": as_of.isoformat()}
        if query.band:
            params["band"] = query.band
        next_link = url_for("api_v1.risk_list_route", **params)
    page = RiskPage(items=items, total=total, limit=query.limit, offset=query.offset, as_of=as_of,
                    band=query.band, next_offset=next_offset, next=next_link)
    return jsonify(page.model_dump(mode="json"))


def churn_score_route(api: ApiState) -> Response:
    """Return probability, band and reasons for the posted feature values."""
    body = _json_body()
    artifact, request_model = api.models.get()
    validated, single = _validated_customers(body, request_model)
    results = score_customers(artifact, validated)
    version = str(getattr(artifact, "version", ""))
    if single:
        return jsonify(results[0].model_dump(mode="json"))
    return jsonify(ScoreBatchResult(items=results, count=len(results), model_version=version)
                   .model_dump(mode="json"))


def segments_predict_route(api: ApiState) -> Response:
    """Return the cluster (number and name) of the posted RFM values."""
    body = _json_body()
    validated, single = _validated_customers(body, SegmentRequest)
    results = predict_segments(api.segment_models.get(), validated)
    if single:
        return jsonify(results[0].model_dump(mode="json"))
    return jsonify(SegmentBatchResult(items=results, count=len(results)).model_dump(mode="json"))


def forecast_cac_route(api: ApiState) -> Response:
    """Return the what-if of a daily budget (ml.api.forecast_reads.what_if); 400 naming the field, 503 without a
    saved CAC model."""
    body = _json_body()
    if not isinstance(body, dict):
        raise ApiProblem(400, "bad_request", "body: must be a JSON object",
                         [{"field": "body", "message": "must be a JSON object"}])
    try:
        what = WhatIfRequest.model_validate(body)
    except ValidationError as exc:
        raise bad_input(exc) from None
    artifact = cac_artifact(api.ctx.config.model_dir)
    if artifact is None:
        raise no_cac_model_problem(api.ctx.config.model_dir)
    with metric_reader(api.ctx) as reader:
        return jsonify(what_if(reader, artifact, what).model_dump(mode="json"))


def forecast_metric_route(api: ApiState, metric: str) -> Response:
    """Return the forecast rows ("auto" model) of one series (ml.api.forecast_reads.series_forecast); 400 for bad values."""
    try:
        ForecastPath(metric=metric)
        query = ForecastQuery.model_validate(request.args.to_dict(flat=True))  # first value of repeated keys
    except ValidationError as exc:
        raise bad_input(exc) from None
    with metric_reader(api.ctx) as reader:
        return jsonify(series_forecast(reader, metric, query.channel, query.horizon_days).model_dump(mode="json"))


def _model_info(api: ApiState, spec: ModelSpec) -> ModelInfo:
    """Return the API view of one registered model: its spec and its newest saved artifact (file name only)."""
    saved = spec.latest_file(api.ctx.config.model_dir)
    return ModelInfo(name=spec.name, title=spec.title, trained=saved is not None,
                     artifact=saved.name if saved is not None else None,
                     table=spec.table.name if spec.table is not None else None,
                     commands=list(spec.commands), operations=list(spec.api_operations))


def _registered_spec(api: ApiState, name: str) -> ModelSpec:
    """Return the spec of model `name`; raise a 400 (bad name) or 404 (not registered) problem."""
    try:
        ModelPath(name=name)
    except ValidationError as exc:
        raise bad_input(exc) from None
    if name not in api.registry:
        raise ApiProblem(404, "not_found", f"name: no model named {name!r}; registered: "
                                           f"{', '.join(api.registry.names())}",
                         [{"field": "name", "message": "unknown model"}])
    return api.registry.get(name)


def models_route(api: ApiState) -> Response:
    """Return every registered model with whether a trained artifact is saved."""
    items = [_model_info(api, spec) for spec in api.registry]
    return jsonify(ModelList(items=items, count=len(items)).model_dump(mode="json"))


def model_route(api: ApiState, name: str) -> Response:
    """Return one registered model with whether a trained artifact is saved (404 when not registered)."""
    return jsonify(_model_info(api, _registered_spec(api, name)).model_dump(mode="json"))


def model_card_route(api: ApiState, name: str) -> Response:
    """Return the card of the model's newest saved artifact (404 unknown model, 503 not trained yet)."""
    spec = _registered_spec(api, name)
    try:
        card = spec.read_card(api.ctx.config.model_dir)
    except Exception as exc:  # a damaged or incompatible file: say so, keep serving the rest
        log.exception("could not read the card of model %s", name)
        raise ApiProblem(503, "no_model", f"model: could not read the card of {name} ({type(exc).__name__}); "
                                          f"train it again: {spec.how_to_train}") from None
    if card is None:
        raise ApiProblem(503, "no_model", f"model: {name} is not trained yet; train it with `{spec.how_to_train}`")
    return Response(json.dumps(_json_safe(card), allow_nan=False, default=str), mimetype="application/json")


def _json_safe(value: Any) -> Any:
    """Return `value` with every non-finite float (NaN, Infinity: cards may hold them) replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def openapi_route(api: ApiState) -> Response:
    """Return the OpenAPI document."""
    return jsonify(served_openapi_document(api.models))


def docs_route(api: ApiState) -> Response:
    """Return the HTML docs page."""
    return Response(docs_html(served_openapi_document(api.models), curl_examples()), mimetype="text/html")


def churn_features_body(numeric: list[str], categorical: list[str]) -> JsonBody:
    """Return the request body of POST /churn/score for the served model's feature names."""
    example = {n: 0.0 for n in numeric} | {n: "unknown" for n in categorical}
    return JsonBody(feature_request_model(numeric, categorical), example)


# --- the route table ----------------------------------------------------------------------------------

_POST_JSON = "curl -X POST -H 'Content-Type: application/json'"

ROUTES: tuple[ApiRoute, ...] = (
    ApiRoute("GET", "/customers/<path:user_id>/risk", "getCustomerRisk", "Latest churn score of one customer",
             customer_risk_route,
             Answer("The latest row of churn_scores", CustomerRisk, example=EXAMPLE_RISK),
             errors=(400, 404, 503),
             path_params=(PathParam("user_id", "Customer id (text; 20-digit ids exact)",
                                    {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}),),
             curl=f"curl {API_PREFIX}/customers/10000000000000007919/risk"),
    ApiRoute("GET", "/risk", "listRisk", "Customers of one scoring run, by value at risk (desc), then user_id",
             risk_list_route,
             Answer("One page; follow `next` for the following one", RiskPage),
             errors=(400, 503), query=RiskListQuery,
             curl=f"curl '{API_PREFIX}/risk?band=high&limit=100&offset=0'"),
    ApiRoute("POST", "/churn/score", "scoreChurn", "Score feature values with the latest trained model",
             churn_score_route,
             Answer("One result (object body) or {items, count} (list body)", (ScoreResult, ScoreBatchResult)),
             errors=(400, 413, 415, 503), body=churn_features_body,
             curl=f"{_POST_JSON} -d @customer.json {API_PREFIX}/churn/score"),
    ApiRoute("POST", "/segments/predict", "predictSegment",
             "Cluster of customers from their RFM values (the classifier saved by export-segments)",
             segments_predict_route,
             Answer("One result (object body) or {items, count} (list body)", (SegmentResult, SegmentBatchResult)),
             errors=(400, 413, 415, 503),
             body=JsonBody(SegmentRequest, {"user_id": "c-42", "recency_days": 12, "frequency": 3, "monetary": 250.0}),
             curl=f"{_POST_JSON} -d '{{\"recency_days\": 12, \"frequency\": 3, \"monetary\": 250.0}}' "
                  f"{API_PREFIX}/segments/predict"),
    ApiRoute("POST", "/forecast/cac", "forecastCac",
             "What a daily budget would bring: CAC, new users, spend, revenue, ROI and payback with 80% intervals",
             forecast_cac_route, Answer("The what-if (docs/forecast.md: how the intervals are made)", WhatIfResult),
             errors=(400, 413, 415, 503), body=JsonBody(WhatIfRequest, EXAMPLE_WHAT_IF, batch=False),
             curl=f"{_POST_JSON} -d '{{\"channel\": \"TipTop\", \"region\": \"United States\", "
                  f"\"device\": \"iPhone\", \"start\": \"2026-11-01\", \"days\": 28, \"daily_budget\": 500}}' "
                  f"{API_PREFIX}/forecast/cac"),
    ApiRoute("GET", "/forecast/<metric>", "forecastMetric",
             "Forecast of spend, new_users, revenue, dau (daily) or cac (weekly) with 80% and 95% intervals",
             forecast_metric_route, Answer("The forecast rows after the data's last date", ForecastRows),
             errors=(400, 503), query=ForecastQuery,
             path_params=(PathParam("metric", "spend, new_users, revenue, dau or cac",
                                    {"type": "string", "enum": ["spend", "new_users", "revenue", "dau", "cac"]}),),
             curl=f"curl '{API_PREFIX}/forecast/new_users?channel=TipTop&horizon_days=28'"),
    ApiRoute("GET", "/models", "listModels", "Every registered model, and whether a trained artifact is saved",
             models_route, Answer("The registered models, in registry order", ModelList),
             curl=f"curl {API_PREFIX}/models"),
    ApiRoute("GET", "/models/<name>", "getModel", "One registered model", model_route,
             Answer("The model and whether it is trained", ModelInfo, example=EXAMPLE_MODEL), errors=(400, 404),
             path_params=(PathParam("name", "A registered model's name (see /models)",
                                    {"type": "string", "pattern": MODEL_NAME_PATTERN}),),
             curl=f"curl {API_PREFIX}/models/churn"),
    ApiRoute("GET", "/models/<name>/card", "getModelCard", "The card of a model's newest saved artifact",
             model_card_route, Answer("The model card (its fields depend on the model)", {"type": "object"}),
             errors=(400, 404, 503),
             path_params=(PathParam("name", "A registered model's name (see /models)",
                                    {"type": "string", "pattern": MODEL_NAME_PATTERN}),),
             curl=f"curl {API_PREFIX}/models/churn/card"),
    ApiRoute("GET", "/openapi.json", "openapi", "This document", openapi_route,
             Answer("OpenAPI 3.1 JSON", {"type": "object"})),
    ApiRoute("GET", "/docs", "docs", "Human-readable API documentation", docs_route,
             Answer("HTML page", {"type": "string"}, media_type="text/html")),
)


def served_openapi_document(models: ModelStore | None) -> dict:
    """Return the OpenAPI document of ROUTES for the served model's features (ml.features' without a model)."""
    return openapi_document(ROUTES, *served_feature_kinds(models))


def curl_examples() -> dict[str, str]:
    """Return the curl line of each route that has one, by operationId (shown on the docs page)."""
    return {route.operation_id: route.curl for route in ROUTES if route.curl}


# --- request helpers ----------------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
    """Raise for NaN / Infinity in a JSON body (never returns)."""
    raise ValueError(f"{name} is not valid JSON")


def _json_body() -> Any:
    """Return the parsed JSON body; raise 415/413/400 problems for a wrong type, size or syntax."""
    if not request.is_json:
        raise ApiProblem(415, "unsupported_media_type", "body: send JSON with Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ApiProblem(413, "too_large", f"body: at most {MAX_BODY_BYTES} bytes")
    raw = request.stream.read(MAX_BODY_BYTES + 1)  # bounded even without a Content-Length (chunked)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiProblem(413, "too_large", f"body: at most {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        reason = str(exc).splitlines()[0][:200] if not isinstance(exc, RecursionError) else "nested too deeply"
        raise ApiProblem(400, "bad_request", f"body: malformed JSON ({reason})",
                         [{"field": "body", "message": f"malformed JSON ({reason})"}]) from None


def _validated_customers(body: Any, request_model: type[BaseModel]) -> tuple[list[BaseModel], bool]:
    """Return (validated customers, True if the body was one object); raise a 400 problem naming each bad field."""
    if isinstance(body, dict):
        customers, single = [body], True
    elif isinstance(body, list):
        if not body:
            raise ApiProblem(400, "bad_request", "body: the list of customers is empty",
                             [{"field": "body", "message": "the list of customers is empty"}])
        if len(body) > MAX_BATCH:
            raise ApiProblem(400, "bad_request", f"body: at most {MAX_BATCH} customers per request",
                             [{"field": "body", "message": f"at most {MAX_BATCH} customers per request"}])
        customers, single = body, False
    else:
        raise ApiProblem(400, "bad_request", "body: must be a JSON object (one customer) or a list of objects",
                         [{"field": "body", "message": "must be a JSON object or a list of objects"}])
    validated, errors = [], []
    for index, item in enumerate(customers):
        try:
            validated.append(request_model.model_validate(item))
        except ValidationError as exc:
            errors.extend(bad_input(exc, () if single else (index,)).errors)
    if errors:
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:20])
        raise ApiProblem(400, "bad_request", message, errors)
    return validated, single


# --- the blueprint ------------------------------------------------------------------------------------

def _bound(handler: Callable[..., Response], api: ApiState) -> Callable[..., Response]:
    """Return the Flask view of `handler`: called with the path values, it answers with `api` bound."""
    def view(**path_values: Any) -> Response:
        return handler(api, **path_values)
    return view


def build_blueprint(ctx: AppContext) -> Blueprint:
    """Return the /api/v1 blueprint bound to `ctx` (engine and model directory), one URL rule per ROUTES entry."""
    bp = Blueprint("api_v1", __name__, url_prefix=API_PREFIX)
    api = ApiState(ctx, ModelStore(ctx.config.model_dir), SegmentModelStore(ctx.config.model_dir))
    bp.model_store = api.models  # type: ignore[attr-defined]
    for route in ROUTES:
        bp.add_url_rule(route.rule, endpoint=route.endpoint, view_func=_bound(route.handler, api),
                        methods=[route.method])

    @bp.errorhandler(ApiProblem)
    def _on_problem(problem: ApiProblem):
        return problem_response(problem)

    @bp.errorhandler(Exception)
    def _on_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error_response(exc)
        log.exception("API error on %s %s", request.method, request.path)
        return problem_response(ApiProblem(500, "internal_error", "server: internal error (logged)"))

    @bp.errorhandler(db.DatabaseBusyError)
    def _on_database_busy(exc: db.DatabaseBusyError):
        log.warning("API database busy: %s", exc)  # the file path stays in the server log
        return problem_response(ApiProblem(503, "database_unavailable",
                                           "database: busy (an import is running); retry after a few seconds"))

    @bp.errorhandler(sa.exc.SQLAlchemyError)
    def _on_database_error(exc: sa.exc.SQLAlchemyError):
        log.warning("API database error: %s", exc)
        if unavailable_kind(exc) == BUSY:
            return _on_database_busy(exc)
        reason = str(getattr(exc, "orig", exc) or exc).splitlines()[0][:200]
        return problem_response(ApiProblem(503, "database_unavailable", f"database: {reason}"))

    @bp.before_request
    def _answer_options():
        """Answer OPTIONS with the methods the path really accepts (Flask's own answer would add the catch-all's)."""
        if request.method != "OPTIONS":
            return None
        allowed = _allowed_methods(request.path)
        if not allowed:
            raise ApiProblem(404, "not_found", f"path: no API endpoint {request.path}; see {API_PREFIX}/docs")
        methods = set(allowed) | {"OPTIONS"} | ({"HEAD"} if "GET" in allowed else set())
        response = Response(status=204)
        response.headers["Allow"] = ", ".join(sorted(methods))
        return response

    @bp.route("/", defaults={"rest": ""}, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def unknown_route(rest: str):
        """Return a JSON 405 (known path, other method) or 404 for any other path under /api/v1."""
        allowed = _allowed_methods(request.path)
        if allowed:
            raise ApiProblem(405, "method_not_allowed",
                             f"method: {request.method} is not allowed here; use {', '.join(allowed)}",
                             headers={"Allow": ", ".join(allowed)})
        raise ApiProblem(404, "not_found", f"path: no API endpoint {request.path}; see {API_PREFIX}/docs")

    return bp


def _allowed_methods(path: str) -> list[str]:
    """Return the methods a known (non catch-all) API route accepts for `path`."""
    adapter = current_app.url_map.bind("localhost")
    allowed = []
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(path, method=method)
        except HTTPException:
            continue
        if endpoint.startswith("api_v1.") and endpoint != "api_v1.unknown_route":
            allowed.append(method)
    return allowed


# --- registration -------------------------------------------------------------------------------------

def register_api(server: Flask, ctx: AppContext) -> None:
    """Add the /api/v1 blueprint to `server`, with JSON answers for HTTP errors under /api/."""
    server.register_blueprint(build_blueprint(ctx))

    @server.errorhandler(HTTPException)
    def _api_http_error(exc: HTTPException):
        if not request.path.startswith(API_PREFIX + "/") and request.path != API_PREFIX:
            return exc  # everything outside the API keeps Flask's and Dash's own answers
        return _http_error_response(exc)


def _http_error_response(exc: HTTPException) -> Response:
    """Return the JSON answer of an HTTP error raised under /api/."""
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large",
            415: "unsupported_media_type"}.get(exc.code or 500, "http_error")
    headers = {}
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    message = exc.description or exc.name
    if isinstance(exc, NotFound):
        message = f"path: no API endpoint {request.path}; see {API_PREFIX}/docs"
    elif isinstance(exc, MethodNotAllowed):
        message = f"method: {request.method} is not allowed here"
    return problem_response(ApiProblem(exc.code or 500, code, message, headers=headers))
