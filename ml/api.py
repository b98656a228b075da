"""REST API of the churn model: a Flask Blueprint under /api/v1 on the app's server.

Routes (all answer JSON; errors are `{"error": code, "message": "field: what is wrong", "errors": [...]}`):

- GET  /api/v1/customers/<user_id>/risk   the customer's latest row of `churn_scores`; 404 when unknown
- GET  /api/v1/risk?band=&as_of=&limit=&offset=   one page of a scoring run, by value at risk
- POST /api/v1/churn/score                 score feature values (one customer or a list) with the latest model
- POST /api/v1/segments/predict            the cluster of RFM values (classifier saved by `export-segments`)
- GET  /api/v1/openapi.json                OpenAPI 3.1 document built from the pydantic models
- GET  /api/v1/docs                        human-readable docs page (plain HTML, no external assets)

The routes only read: `churn_scores` is written by `ml.scoring.score` (CLI), models by training (CLI).
Input is validated with pydantic v2 before it reaches the database or the model; bad input is a 400 that
names the field, never a 500. SQL is SQLAlchemy Core with bound values only.
"""

from __future__ import annotations

import html
import json
import logging
import math
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, jsonify, request, url_for
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.json_schema import models_json_schema
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from dashboard import db
from dashboard.context import BUSY, AppContext, unavailable_kind

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
SCORES_TABLE = "churn_scores"
BANDS = ("low", "medium", "high")
MAX_PAGE = 1000
MAX_OFFSET = 1_000_000_000
MAX_BATCH = 1000
MAX_BODY_BYTES = 1_000_000
MAX_ID_LENGTH = 256
FEATURE_LIMIT = 1e12  # |numeric feature| bound: larger values are input errors, not customers

# The scores table as the API reads it (lightweight construct: the schema is owned by ml.scoring).
churn_scores = sa.table(
    SCORES_TABLE,
    sa.column("user_id", sa.String),
    sa.column("probability", sa.Double),
    sa.column("risk_band", sa.String),
    sa.column("reason_1", sa.String),
    sa.column("reason_2", sa.String),
    sa.column("reason_3", sa.String),
    sa.column("value_at_risk", sa.Double),
    sa.column("model_version", sa.String),
    sa.column("as_of", sa.Date),
    sa.column("scored_at", sa.DateTime),
)


# --- request and response models --------------------------------------------------------------------

UserId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$",
                              description="Customer id, text (20-digit ids are kept exactly)")]


class RiskListQuery(BaseModel):
    """Query parameters of GET /api/v1/risk."""

    model_config = ConfigDict(extra="forbid")

    band: Literal["low", "medium", "high"] | None = Field(None, description="Only customers of this risk band")
    as_of: date | None = Field(None, description="Scoring date (YYYY-MM-DD); default: the latest run")
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="Page size, 1..1000")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Rows to skip (offset paging)")


class CustomerPath(BaseModel):
    """Path parameter of GET /api/v1/customers/{user_id}/risk."""

    user_id: UserId


class CustomerRisk(BaseModel):
    """One customer's churn score, as stored in churn_scores."""

    user_id: str
    probability: float = Field(description="Probability that the customer's activity declines, 0..1")
    risk_band: Literal["low", "medium", "high"] | str
    reasons: list[str] = Field(description="Up to three features that push the probability most")
    value_at_risk: float | None = Field(description="Revenue at risk (probability x customer value)")
    model_version: str | None
    as_of: date | None = Field(description="Date the features were computed at")
    scored_at: AwareDatetime | None = Field(description="When the scoring run wrote the row: RFC 3339 date-time "
                                                        "in UTC with its offset, e.g. 2026-11-02T03:04:05Z")


class RiskPage(BaseModel):
    """One page of GET /api/v1/risk."""

    items: list[CustomerRisk]
    total: int = Field(description="Rows matching the filters (all pages)")
    limit: int
    offset: int
    as_of: date | None = Field(description="The scoring run listed (pinned in `next`)")
    band: str | None
    next_offset: int | None = Field(description="Offset of the next page; null on the last page")
    next: str | None = Field(description="Link to the next page; null on the last page")


class ScoreResult(BaseModel):
    """The model's answer for one customer of POST /api/v1/churn/score."""

    user_id: str | None = Field(None, description="Echoed when the request gave one")
    probability: float
    risk_band: Literal["low", "medium", "high"]
    reasons: list[str]
    model_version: str


class ScoreBatchResult(BaseModel):
    """The answer of POST /api/v1/churn/score for a list of customers (same order)."""

    items: list[ScoreResult]
    count: int
    model_version: str


class SegmentRequest(BaseModel):
    """RFM values of one customer for POST /api/v1/segments/predict."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId | None = Field(None, description="Optional, echoed back")
    recency_days: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1e6,
                                         description="Days from the last order to the observation date")]
    frequency: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1e9,
                                      description="Number of orders")]
    monetary: Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=1e12,
                                     description="Total revenue")]


class SegmentResult(BaseModel):
    """The cluster of one customer for POST /api/v1/segments/predict."""

    user_id: str | None = Field(None, description="Echoed when the request gave one")
    cluster: int
    cluster_name: str
    observation_date: str | None = Field(description="Observation date of the clustering the model learnt")


class SegmentBatchResult(BaseModel):
    """The answer of POST /api/v1/segments/predict for a list of customers (same order)."""

    items: list[SegmentResult]
    count: int


class ErrorItem(BaseModel):
    """One problem with the request."""

    field: str
    message: str


class ApiError(BaseModel):
    """Body of every error answer."""

    error: str = Field(description="Short code: bad_request, not_found, method_not_allowed, ...")
    message: str = Field(description="Human-readable; for bad input it starts with the field name")
    errors: list[ErrorItem] = Field(default_factory=list)


NumericFeature = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=-FEATURE_LIMIT, le=FEATURE_LIMIT)]
CategoricalFeature = Annotated[str, Field(strict=True, max_length=200)]


def feature_request_model(numeric: list[str], categorical: list[str]) -> type[BaseModel]:
    """Return the pydantic model of one customer's feature values (unknown fields are rejected)."""
    fields: dict[str, Any] = {"user_id": (UserId | None, Field(None, description="Optional, echoed back"))}
    for name in numeric:
        fields[name] = (NumericFeature, Field(..., description="numeric feature"))
    for name in categorical:
        fields[name] = (CategoricalFeature, Field(..., description="categorical feature (unseen values allowed)"))
    return create_model("CustomerFeatures", __config__=ConfigDict(extra="forbid"), **fields)


# --- errors -------------------------------------------------------------------------------------------

class ApiProblem(Exception):
    """An error answer: HTTP status, short code, message, per-field errors."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict] | None = None,
                 headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors = errors or []
        self.headers = headers or {}


def _field_name(loc: tuple) -> str:
    """Return a dotted field path for a pydantic error location: ('items', 0, 'x') -> '[0].x'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def _short_message(error: dict) -> str:
    """Return a short message for one pydantic error: 'must be <= 1000', 'field required', ..."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "missing":
        return "field required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "literal_error":
        allowed = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
        return f"must be one of {allowed}"
    bounds = {"less_than_equal": "<=", "less_than": "<", "greater_than_equal": ">=", "greater_than": ">"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "")
        return f"must be {bounds[kind]} {limit:g}" if isinstance(limit, float) else f"must be {bounds[kind]} {limit}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return "must be an integer"
    if kind in ("float_parsing", "float_type"):
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number (not NaN or Infinity)"
    if kind in ("string_type", "string_sub_type"):
        return "must be a string"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return "must not contain control characters"
    if kind.startswith("date"):
        return "must be a date YYYY-MM-DD"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    return error.get("msg", "invalid value")


def _bad_input(exc: ValidationError, prefix: tuple = ()) -> ApiProblem:
    """Return a 400 problem listing every field of a pydantic ValidationError."""
    errors = [{"field": _field_name(prefix + tuple(e["loc"])), "message": _short_message(e)}
              for e in exc.errors(include_url=False)]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ApiProblem(400, "bad_request", message, errors)


RETRY_AFTER_SECONDS = {"database_unavailable": 5}  # no_scores / no_model wait for a command to be run
RETRY_AFTER_DEFAULT_SECONDS = 60


def _problem_response(problem: ApiProblem) -> Response:
    """Return the JSON response of an ApiProblem; every 503 carries Retry-After (seconds)."""
    body = ApiError(error=problem.code, message=problem.message,
                    errors=[ErrorItem(**e) for e in problem.errors]).model_dump(mode="json")
    response = jsonify(body)
    response.status_code = problem.status
    for key, value in problem.headers.items():
        response.headers[key] = value
    if problem.status == 503 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS.get(problem.code, RETRY_AFTER_DEFAULT_SECONDS))
    return response


# --- data access --------------------------------------------------------------------------------------

def _row_to_risk(row: sa.Row) -> CustomerRisk:
    """Return the API view of one churn_scores row."""
    m = row._mapping
    reasons = [m[k] for k in ("reason_1", "reason_2", "reason_3") if m[k] not in (None, "")]
    return CustomerRisk(
        user_id=m["user_id"], probability=float(m["probability"]), risk_band=m["risk_band"], reasons=reasons,
        value_at_risk=_finite_or_none(m["value_at_risk"]),
        model_version=m["model_version"], as_of=_as_date(m["as_of"]), scored_at=_as_datetime(m["scored_at"]),
    )


def _finite_or_none(value: Any) -> float | None:
    """Return `value` as a float, or None when missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _as_date(value: Any) -> date | None:
    """Return `value` as a date (SQLite aggregates may return text)."""
    if value is None or isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime | None:
    """Return `value` as a time-zone aware datetime: churn_scores stores UTC without an offset (SQLite may return
    text), the API answers RFC 3339 with the offset (`...Z`)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _require_scores_table(conn: sa.Connection) -> None:
    """Raise a 503 problem when churn_scores does not exist yet."""
    if not sa.inspect(conn).has_table(SCORES_TABLE):
        raise ApiProblem(503, "no_scores", "no churn scores yet: train a model and run the scoring command first")


def customer_risk(conn: sa.Connection, user_id: str) -> CustomerRisk | None:
    """Return the customer's latest churn score (latest as_of, then scored_at), or None."""
    _require_scores_table(conn)
    row = conn.execute(
        sa.select(churn_scores).where(churn_scores.c.user_id == user_id)
        .order_by(churn_scores.c.as_of.desc(), churn_scores.c.scored_at.desc()).limit(1)
    ).first()
    return None if row is None else _row_to_risk(row)


def risk_page(conn: sa.Connection, query: RiskListQuery) -> tuple[list[CustomerRisk], int, date | None]:
    """Return (rows of one page, total matching rows, as_of listed) ordered by value_at_risk desc, user_id."""
    _require_scores_table(conn)
    as_of = query.as_of
    if as_of is None:
        as_of = _as_date(conn.execute(sa.select(sa.func.max(churn_scores.c.as_of))).scalar())
        if as_of is None:
            return [], 0, None
    where = [churn_scores.c.as_of == as_of]
    if query.band is not None:
        where.append(churn_scores.c.risk_band == query.band)
    total = conn.execute(sa.select(sa.func.count()).select_from(churn_scores).where(*where)).scalar_one()
    rows = conn.execute(
        sa.select(churn_scores).where(*where)
        .order_by(churn_scores.c.value_at_risk.desc().nulls_last(), churn_scores.c.user_id)
        .limit(query.limit).offset(query.offset)
    ).all()
    return [_row_to_risk(r) for r in rows], int(total), as_of


# --- the model ----------------------------------------------------------------------------------------

class ModelStore:
    """The latest churn artifact of a model directory, loaded once and reloaded only when a newer one appears."""

    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._artifact: Any = None
        self._request_model: type[BaseModel] | None = None

    def latest_path(self) -> Path | None:
        """Return the joblib file of the newest model (the directory's `latest` pointer), or None."""
        try:
            from ml.artifact import resolve_model_path
        except ImportError as exc:
            raise ApiProblem(503, "no_model", f"model: the model package is not available ({exc})") from None
        if not self.model_dir.is_dir():
            return None
        try:
            return resolve_model_path(self.model_dir)
        except FileNotFoundError:
            return None

    def get(self) -> tuple[Any, type[BaseModel]]:
        """Return (artifact, request model of its features); raise a 503 problem when there is no model."""
        path = self.latest_path()
        if path is None:
            raise ApiProblem(503, "no_model", f"no churn model trained yet (none in {self.model_dir}): "
                                              "train one with the CLI first")
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                from ml.artifact import load_artifact

                try:
                    artifact = load_artifact(path)
                except Exception as exc:  # a damaged or incompatible file: say so, keep serving the rest
                    log.exception("could not load churn model %s", path)
                    raise ApiProblem(503, "no_model", f"model: could not load {path.name} "
                                                      f"({type(exc).__name__}); retrain the model") from None
                numeric, categorical = artifact_feature_kinds(artifact)
                self._artifact = artifact
                self._request_model = feature_request_model(numeric, categorical)
                self._key = key
                log.info("loaded churn model %s (version %s)", path, getattr(artifact, "version", "?"))
            return self._artifact, self._request_model


class SegmentModelStore:
    """The saved cluster classifier (ml.segments) of a model directory, reloaded only when the file changes."""

    def __init__(self, model_dir: Path):
        self.model_dir = Path(model_dir)
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._model: Any = None

    def get(self) -> Any:
        """Return the SegmentModel; raise a 503 problem when none was saved or it cannot be loaded."""
        from ml.segments import SEGMENT_MODEL_NAME, load_segment_model

        path = self.model_dir / SEGMENT_MODEL_NAME
        try:
            stat = path.stat()
        except OSError:
            raise ApiProblem(503, "no_model", f"no segment model yet (none in {self.model_dir}): run "
                                              "`python -m dashboard export-segments --out FILE` first") from None
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._key:
                try:
                    model = load_segment_model(self.model_dir)
                except Exception as exc:  # damaged or incompatible file
                    log.exception("could not load segment model %s", path)
                    raise ApiProblem(503, "no_model", f"model: could not load {path.name} "
                                                      f"({type(exc).__name__}); run export-segments again") from None
                if model is None:
                    raise ApiProblem(503, "no_model", "no segment model yet: run export-segments first")
                self._model, self._key = model, key
            return self._model


def artifact_feature_kinds(artifact: Any) -> tuple[list[str], list[str]]:
    """Return (numeric, categorical) feature names of an artifact."""
    numeric = getattr(artifact, "numeric", None)
    categorical = getattr(artifact, "categorical", None)
    card = getattr(artifact, "card", None) or {}
    if numeric is None and isinstance(card, dict):
        numeric = card.get("numeric") or card.get("numeric_features")
        categorical = card.get("categorical") or card.get("categorical_features")
    if numeric is None:
        from ml.features import CATEGORICAL_FEATURES

        names = list(artifact.features)
        categorical = [n for n in names if n in CATEGORICAL_FEATURES]
        numeric = [n for n in names if n not in CATEGORICAL_FEATURES]
    return list(numeric), list(categorical or [])


def risk_band_of(probability: float) -> str:
    """Return the risk band of a probability, with the thresholds of the scoring job (ml.scoring.risk_band)."""
    from ml.scoring import risk_band

    return str(risk_band(np.asarray([probability], dtype=float))[0])


def _default_feature_lists() -> tuple[list[str], list[str]]:
    """Return the feature lists of ml.features (used for the docs when no model is trained yet)."""
    from ml.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

    return list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES)


# --- request helpers ----------------------------------------------------------------------------------

def _reject_constant(name: str) -> Any:
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


def _query_args() -> dict[str, str]:
    """Return the query string as a dict (first value of repeated keys)."""
    return request.args.to_dict(flat=True)


# --- the blueprint ------------------------------------------------------------------------------------

def build_blueprint(ctx: AppContext) -> Blueprint:
    """Return the /api/v1 blueprint bound to `ctx` (engine and model directory)."""
    bp = Blueprint("api_v1", __name__, url_prefix=API_PREFIX)
    models = ModelStore(ctx.config.model_dir)
    segment_models = SegmentModelStore(ctx.config.model_dir)
    bp.model_store = models  # type: ignore[attr-defined]

    @bp.errorhandler(ApiProblem)
    def _on_problem(problem: ApiProblem):
        return _problem_response(problem)

    @bp.errorhandler(Exception)
    def _on_unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error_response(exc)
        log.exception("API error on %s %s", request.method, request.path)
        return _problem_response(ApiProblem(500, "internal_error", "server: internal error (logged)"))

    @bp.errorhandler(db.DatabaseBusyError)
    def _on_database_busy(exc: db.DatabaseBusyError):
        log.warning("API database busy: %s", exc)  # the file path stays in the server log
        return _problem_response(ApiProblem(503, "database_unavailable",
                                            "database: busy (an import is running); retry after a few seconds"))

    @bp.errorhandler(sa.exc.SQLAlchemyError)
    def _on_database_error(exc: sa.exc.SQLAlchemyError):
        log.warning("API database error: %s", exc)
        if unavailable_kind(exc) == BUSY:
            return _on_database_busy(exc)
        reason = str(getattr(exc, "orig", exc) or exc).splitlines()[0][:200]
        return _problem_response(ApiProblem(503, "database_unavailable", f"database: {reason}"))

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

    @bp.get("/customers/<path:user_id>/risk")
    def customer_risk_route(user_id: str):
        """Return the customer's latest churn score (404 when unknown)."""
        try:
            CustomerPath(user_id=user_id)
        except ValidationError as exc:
            raise _bad_input(exc) from None
        with ctx.engine.connect() as conn:
            found = customer_risk(conn, user_id)
        if found is None:
            raise ApiProblem(404, "not_found", f"user_id: no churn score for customer {user_id!r}",
                             [{"field": "user_id", "message": "unknown customer"}])
        return jsonify(found.model_dump(mode="json"))

    @bp.get("/risk")
    def risk_list_route():
        """Return one page of a scoring run with total and the next link."""
        try:
            query = RiskListQuery.model_validate(_query_args())
        except ValidationError as exc:
            raise _bad_input(exc) from None
        with ctx.engine.connect() as conn:
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

    @bp.post("/churn/score")
    def churn_score_route():
        """Return probability, band and reasons for the posted feature values."""
        body = _json_body()
        artifact, request_model = models.get()
        validated, single = _validated_customers(body, request_model)
        results = score_customers(artifact, validated)
        version = str(getattr(artifact, "version", ""))
        if single:
            return jsonify(results[0].model_dump(mode="json"))
        return jsonify(ScoreBatchResult(items=results, count=len(results), model_version=version)
                       .model_dump(mode="json"))

    @bp.post("/segments/predict")
    def segments_predict_route():
        """Return the cluster (number and name) of the posted RFM values."""
        body = _json_body()
        validated, single = _validated_customers(body, SegmentRequest)
        results = predict_segments(segment_models.get(), validated)
        if single:
            return jsonify(results[0].model_dump(mode="json"))
        return jsonify(SegmentBatchResult(items=results, count=len(results)).model_dump(mode="json"))

    @bp.get("/openapi.json")
    def openapi_route():
        """Return the OpenAPI document."""
        return jsonify(openapi_document(models))

    @bp.get("/docs")
    def docs_route():
        """Return the HTML docs page."""
        return Response(docs_html(openapi_document(models)), mimetype="text/html")

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
            errors.extend(_bad_input(exc, () if single else (index,)).errors)
    if errors:
        message = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:20])
        raise ApiProblem(400, "bad_request", message, errors)
    return validated, single


def predict_segments(model: Any, customers: list[SegmentRequest]) -> list[SegmentResult]:
    """Return the cluster number and name of validated RFM values (in order)."""
    import pandas as pd

    frame = pd.DataFrame([{"recency_days": c.recency_days, "frequency": c.frequency, "monetary": c.monetary}
                          for c in customers])
    try:
        predicted = model.predict(frame)
    except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
        log.warning("segment model could not classify a request: %s", exc)
        raise ApiProblem(400, "bad_request", "rfm: the model could not classify these values",
                         [{"field": "rfm", "message": "the model could not classify these values"}]) from None
    observed = (getattr(model, "card", None) or {}).get("observation_date")
    return [SegmentResult(user_id=c.user_id, cluster=int(cluster), cluster_name=str(name), observation_date=observed)
            for c, cluster, name in zip(customers, predicted["cluster"], predicted["cluster_name"])]


def score_customers(artifact: Any, customers: list[BaseModel]) -> list[ScoreResult]:
    """Return the model's probability, band and top reasons for validated customers (in order)."""
    import pandas as pd

    features = list(artifact.features)
    frame = pd.DataFrame([{name: getattr(c, name) for name in features} for c in customers], columns=features)
    try:
        probabilities = artifact.predict_proba(frame)
        reasons = artifact.explain(frame, top=3)
    except (ValueError, TypeError, OverflowError, FloatingPointError) as exc:
        log.warning("model could not score a request: %s", exc)
        raise ApiProblem(400, "bad_request", f"features: the model could not score these values ({exc})",
                         [{"field": "features", "message": "the model could not score these values"}]) from None
    version = str(getattr(artifact, "version", ""))
    out = []
    for customer, probability, why in zip(customers, probabilities, reasons):
        p = float(probability)
        if not math.isfinite(p):
            raise ApiProblem(400, "bad_request", "features: the model returned no finite probability",
                             [{"field": "features", "message": "no finite probability for these values"}])
        out.append(ScoreResult(user_id=getattr(customer, "user_id", None), probability=p,
                               risk_band=risk_band_of(p), reasons=[str(r) for r in why][:3],
                               model_version=version))
    return out


# --- OpenAPI and the docs page -------------------------------------------------------------------------

def _error_responses(*codes: int) -> dict:
    """Return OpenAPI response objects for error codes."""
    text = {400: "Bad input: the message names the field", 404: "Unknown customer or path",
            405: "Method not allowed", 413: "Body too large", 415: "Body is not JSON",
            503: "No scores / no model / database unavailable"}
    ref = {"$ref": "#/components/schemas/ApiError"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": ref}}} for c in codes}


def _ok(schema_name: str, description: str, example: Any = None) -> dict:
    """Return an OpenAPI 200 response object pointing at a component schema."""
    content: dict[str, Any] = {"schema": {"$ref": f"#/components/schemas/{schema_name}"}}
    if example is not None:
        content["example"] = example
    return {"200": {"description": description, "content": {"application/json": content}}}


EXAMPLE_RISK = {
    "user_id": "10000000000000007919", "probability": 0.81, "risk_band": "high",
    "reasons": ["visits_trend", "days_since_last_visit", "orders_30"], "value_at_risk": 40.5,
    "model_version": "20261122T160000-abcd1234", "as_of": "2026-11-01", "scored_at": "2026-11-22T16:05:00Z",
}


def openapi_document(models: ModelStore | None = None) -> dict:
    """Return the OpenAPI 3.1 document of the API (schemas from the pydantic models)."""
    numeric, categorical = _default_feature_lists()
    if models is not None:
        try:
            artifact, _ = models.get()
            numeric, categorical = artifact_feature_kinds(artifact)
        except Exception:  # no model yet (or not loadable): document the default feature set
            pass
    features_model = feature_request_model(numeric, categorical)
    _, defs = models_json_schema(
        [(m, "validation") for m in (features_model, SegmentRequest)]
        + [(m, "serialization") for m in (CustomerRisk, RiskPage, ScoreResult, ScoreBatchResult, SegmentResult,
                                          SegmentBatchResult, ApiError)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = defs.get("$defs", {})
    query_schema = RiskListQuery.model_json_schema()
    parameters = []
    for name, prop in query_schema["properties"].items():
        prop = dict(prop)
        description = prop.pop("description", "")
        parameters.append({"name": name, "in": "query", "required": False, "description": description,
                           "schema": prop})
    example_features = {n: 0.0 for n in numeric} | {n: "unknown" for n in categorical}
    feature_ref = {"$ref": "#/components/schemas/CustomerFeatures"}
    segment_ref = {"$ref": "#/components/schemas/SegmentRequest"}
    paths = {
        f"{API_PREFIX}/customers/{{user_id}}/risk": {"get": {
            "summary": "Latest churn score of one customer",
            "operationId": "getCustomerRisk",
            "parameters": [{"name": "user_id", "in": "path", "required": True,
                            "description": "Customer id (text; 20-digit ids exact)",
                            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}}],
            "responses": _ok("CustomerRisk", "The latest row of churn_scores", EXAMPLE_RISK)
            | _error_responses(400, 404, 503),
        }},
        f"{API_PREFIX}/risk": {"get": {
            "summary": "Customers of one scoring run, by value at risk (desc), then user_id",
            "operationId": "listRisk",
            "parameters": parameters,
            "responses": _ok("RiskPage", "One page; follow `next` for the following one")
            | _error_responses(400, 503),
        }},
        f"{API_PREFIX}/churn/score": {"post": {
            "summary": "Score feature values with the latest trained model",
            "operationId": "scoreChurn",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [feature_ref, {"type": "array", "items": feature_ref, "minItems": 1,
                                                   "maxItems": MAX_BATCH}]},
                "example": example_features}}},
            "responses": {"200": {"description": "One result (object body) or {items, count} (list body)",
                                  "content": {"application/json": {"schema": {"oneOf": [
                                      {"$ref": "#/components/schemas/ScoreResult"},
                                      {"$ref": "#/components/schemas/ScoreBatchResult"}]}}}}}
            | _error_responses(400, 413, 415, 503),
        }},
        f"{API_PREFIX}/segments/predict": {"post": {
            "summary": "Cluster of customers from their RFM values (the classifier saved by export-segments)",
            "operationId": "predictSegment",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"oneOf": [segment_ref, {"type": "array", "items": segment_ref, "minItems": 1,
                                                   "maxItems": MAX_BATCH}]},
                "example": {"user_id": "c-42", "recency_days": 12, "frequency": 3, "monetary": 250.0}}}},
            "responses": {"200": {"description": "One result (object body) or {items, count} (list body)",
                                  "content": {"application/json": {"schema": {"oneOf": [
                                      {"$ref": "#/components/schemas/SegmentResult"},
                                      {"$ref": "#/components/schemas/SegmentBatchResult"}]}}}}}
            | _error_responses(400, 413, 415, 503),
        }},
        f"{API_PREFIX}/openapi.json": {"get": {
            "summary": "This document", "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.1 JSON",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
        f"{API_PREFIX}/docs": {"get": {
            "summary": "Human-readable API documentation", "operationId": "docs",
            "responses": {"200": {"description": "HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}},
        }},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Marketing analytics: churn-risk API", "version": API_VERSION,
                 "description": "Read churn scores and score customers with the latest trained model. "
                                "Errors are JSON {error, message, errors[]}; the message names the field."},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def docs_html(spec: dict) -> str:
    """Return the plain-HTML docs page for an OpenAPI document (no scripts, no external assets)."""
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{esc(spec['info']['title'])}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.45}code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}"
        "pre{padding:.6rem;overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0}"
        "td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}"
        "h2{border-top:1px solid #ddd;padding-top:1rem}.m{font-weight:bold;color:#064}</style></head><body>",
        f"<h1>{esc(spec['info']['title'])}</h1>",
        f"<p>Version {esc(spec['info']['version'])}. {esc(spec['info']['description'])} "
        f"Machine-readable: <a href='{API_PREFIX}/openapi.json'>{API_PREFIX}/openapi.json</a>.</p>",
    ]
    examples = {
        "getCustomerRisk": f"curl {API_PREFIX}/customers/10000000000000007919/risk",
        "listRisk": f"curl '{API_PREFIX}/risk?band=high&limit=100&offset=0'",
        "scoreChurn": f"curl -X POST -H 'Content-Type: application/json' -d @customer.json {API_PREFIX}/churn/score",
        "predictSegment": f"curl -X POST -H 'Content-Type: application/json' "
                          f"-d '{{\"recency_days\": 12, \"frequency\": 3, \"monetary\": 250.0}}' "
                          f"{API_PREFIX}/segments/predict",
    }
    schemas = spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            parts.append(f"<h2><span class='m'>{method.upper()}</span> <code>{esc(path)}</code></h2>")
            parts.append(f"<p>{esc(op['summary'])}</p>")
            params = op.get("parameters") or []
            if params:
                parts.append("<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>")
                for p in params:
                    schema = p.get("schema", {})
                    kind = schema.get("type") or " | ".join(
                        str(s.get("enum") or s.get("type") or s.get("format")) for s in schema.get("anyOf", []))
                    extra = ", ".join(f"{k} {schema[k]}" for k in ("minimum", "maximum", "default")
                                      if schema.get(k) is not None)
                    parts.append(f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p['in'])}</td>"
                                 f"<td>{esc(str(kind))}</td><td>{esc(p.get('description', ''))}"
                                 f"{(' (' + esc(extra) + ')') if extra else ''}</td></tr>")
                parts.append("</table>")
            body = op.get("requestBody")
            if body:
                content = body["content"]["application/json"]
                ref = json.dumps(content["schema"])
                name = "CustomerFeatures" if "CustomerFeatures" in ref else "SegmentRequest"
                fields = schemas.get(name, {}).get("properties", {})
                required = set(schemas.get(name, {}).get("required", []))
                parts.append(f"<p>JSON body: <code>{esc(name)}</code>"
                             f" (one object, or a list of up to {MAX_BATCH})"
                             "; unknown fields are rejected.</p>")
                parts.append("<table><tr><th>field</th><th>type</th><th>required</th></tr>")
                for field_name, prop in fields.items():
                    kind = prop.get("type") or "string or null"
                    parts.append(f"<tr><td><code>{esc(field_name)}</code></td><td>{esc(str(kind))}</td>"
                                 f"<td>{'yes' if field_name in required else 'no'}</td></tr>")
                parts.append("</table>")
                if "example" in content:
                    parts.append(f"<pre>{esc(json.dumps(content['example'], indent=1))}</pre>")
            responses = op.get("responses", {})
            parts.append("<p>Responses: " + ", ".join(
                f"<b>{esc(code)}</b> {esc(r['description'])}" for code, r in responses.items()) + "</p>")
            for code, r in responses.items():
                example = r.get("content", {}).get("application/json", {}).get("example")
                if example is not None:
                    parts.append(f"<p>Example {esc(code)} answer:</p><pre>{esc(json.dumps(example, indent=1))}</pre>")
            if op.get("operationId") in examples:
                parts.append(f"<pre>{esc(examples[op['operationId']])}</pre>")
    parts.append("<h2>Errors</h2><p>Every error is JSON: <code>{\"error\": \"bad_request\", \"message\": "
                 "\"limit: must be &lt;= 1000\", \"errors\": [{\"field\": \"limit\", \"message\": "
                 "\"must be &lt;= 1000\"}]}</code>. Bad input is 400 and names the field; unknown customer 404; "
                 "wrong method 405; body over 1 MB 413; non-JSON body 415; no scores, no model or no database 503.</p>")
    parts.append("</body></html>")
    return "".join(parts)


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
    return _problem_response(ApiProblem(exc.code or 500, code, message, headers=headers))
