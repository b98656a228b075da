"""Request and response models of the REST API (pydantic v2), its limits, and its error answers (`ApiProblem`).

Input is validated with these models before it reaches the database or the model; bad input is a 400 whose
message names the field (`bad_input`), never a 500. Every error body is `ApiError`: `{"error": code,
"message": "field: what is wrong", "errors": [...]}`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from flask import Response, jsonify
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from pydantic_core import PydanticCustomError

from ml.risk_bands import RiskBand

API_PREFIX = "/api/v1"
API_VERSION = "1.0.0"
MAX_PAGE = 1000
MAX_OFFSET = 1_000_000_000
MAX_BATCH = 1000
MAX_BODY_BYTES = 1_000_000
MAX_ID_LENGTH = 256
FEATURE_LIMIT = 1e12  # |numeric feature| bound: larger values are input errors, not customers


# --- request and response models --------------------------------------------------------------------

UserId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[^\x00-\x1f\x7f]+$",
                              description="Customer id, text (20-digit ids are kept exactly)")]


class RiskListQuery(BaseModel):
    """Query parameters of GET /api/v1/risk."""

    model_config = ConfigDict(extra="forbid")

    band: RiskBand | None = Field(None, description="Only customers of this risk band")
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
    risk_band: RiskBand | str
    reasons: list[str] = Field(description="Up to three features that push the probability most")
    value_at_risk: float | None = Field(description="Revenue at risk (probability x customer value)")
    model_version: str | None
    as_of: date | None = Field(description="Date the features were computed at")
    scored_at: AwareDatetime | None = Field(description="When the scoring run wrote the row: RFC 3339 date-time "
                                                        "in UTC with its offset, e.g. 2026-11-02T03:04:05Z")


EXAMPLE_RISK = {
    "user_id": "10000000000000007919", "probability": 0.81, "risk_band": "high",
    "reasons": ["visits_trend", "days_since_last_visit", "orders_30"], "value_at_risk": 40.5,
    "model_version": "20261122T160000-abcd1234", "as_of": "2026-11-01", "scored_at": "2026-11-22T16:05:00Z",
}


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
    risk_band: RiskBand
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


MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"


class ModelPath(BaseModel):
    """Path parameter of GET /api/v1/models/{name} and /models/{name}/card."""

    name: Annotated[str, Field(pattern=MODEL_NAME_PATTERN, description="A registered model's name")]


class ModelInfo(BaseModel):
    """One registered model (ml/registry.py) and whether a trained artifact is saved."""

    name: str
    title: str
    trained: bool = Field(description="True when a trained artifact is saved in the model directory")
    artifact: str | None = Field(description="File name of the newest saved artifact; null when not trained")
    table: str | None = Field(description="The table its scores are written to; null when it stores none")
    commands: list[str] = Field(description="The CLI commands that train or score it")
    operations: list[str] = Field(description="operationIds of its own routes in this API")


class ModelList(BaseModel):
    """The answer of GET /api/v1/models: every registered model, in registry order."""

    items: list[ModelInfo]
    count: int


EXAMPLE_MODEL = {"name": "churn", "title": "Churn risk (activity decline)", "trained": True,
                 "artifact": "churn-20261101T120000Z.joblib", "table": "churn_scores", "commands": ["train", "score"],
                 "operations": ["getCustomerRisk", "listRisk", "scoreChurn"]}


# --- forecasts (ml/api/forecast_reads.py) ------------------------------------------------------------------

MAX_DAILY_BUDGET = 1_000_000.0  # a larger daily budget is an input error, far beyond any channel's spend
WHAT_IF_DAYS = (1, 90)
WHAT_IF_HORIZON = (7, 120)
AttributeValue = Annotated[str, Field(strict=True, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class WhatIfRequest(BaseModel):
    """Body of POST /api/v1/forecast/cac: a daily budget for one paid channel, region and device over a period."""

    model_config = ConfigDict(extra="forbid")

    channel: AttributeValue = Field(description="A paid channel the CAC model knows")
    region: AttributeValue = Field(description="A region (country) the CAC model knows")
    device: AttributeValue = Field(description="A device the CAC model knows")
    start: date = Field(description="First day of the period, YYYY-MM-DD")
    days: Annotated[int, Field(strict=True, ge=WHAT_IF_DAYS[0], le=WHAT_IF_DAYS[1],
                               description="Days of the period, 1..90")]
    daily_budget: Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0, le=MAX_DAILY_BUDGET,
                                         description="Ad spend per day, > 0 and <= 1,000,000")]
    horizon_days: Annotated[int, Field(strict=True, ge=WHAT_IF_HORIZON[0], le=WHAT_IF_HORIZON[1],
                                       description="Lifetime days of the ROI and payback, 7..120 (default 60)")] = 60

    @field_validator("start", mode="before")
    @classmethod
    def _start_is_text(cls, value: Any) -> Any:
        """Return `value` when it is text (a number would be read as a timestamp); raise otherwise."""
        if not isinstance(value, str):
            raise PydanticCustomError("date_type", "must be a date YYYY-MM-DD")
        return value


class Interval(BaseModel):
    """A figure with its 80% interval."""

    value: float
    lo80: float
    hi80: float


class WhatIfRoiPoint(BaseModel):
    """Cumulative ROI of the budget on one lifetime day, with its 80% interval."""

    lifetime: int
    roi: float
    lo80: float
    hi80: float


class WhatIfDay(BaseModel):
    """The model's CAC and the new users the budget buys on one day of the period."""

    date: date
    cac: float
    new_users: float


class WhatIfResult(BaseModel):
    """The answer of POST /api/v1/forecast/cac (docs/forecast.md: how the intervals are made)."""

    channel: str
    region: str
    device: str
    start: date
    end: date = Field(description="Last day of the period")
    days: int
    daily_budget: float
    horizon_days: int
    spend: float = Field(description="daily_budget x days")
    cac: Interval = Field(description="Expected CAC over the period: spend / new users")
    new_users: Interval = Field(description="New users over the period: the sum of budget / CAC per day")
    new_users_per_day: Interval
    revenue: Interval = Field(description="Revenue of those users by lifetime day horizon_days - 1")
    roi: Interval = Field(description="Revenue / spend at the horizon")
    payback_day: int | None = Field(description="First lifetime day with LTV >= CAC; null: not within horizon_days")
    payback_day_lo80: int | None = Field(description="Earliest payback day of the interval (null: not within)")
    payback_day_hi80: int | None = Field(description="Latest payback day of the interval (null: not within)")
    roi_curve: list[WhatIfRoiPoint] = Field(description="Cumulative ROI by lifetime day 0 .. horizon_days - 1")
    daily: list[WhatIfDay]
    ltv_cohorts: int = Field(description="Users of the channel's recent weekly cohorts the LTV curve comes from")
    model_version: str
    model_origin: date = Field(description="Last data date the CAC model saw")


EXAMPLE_WHAT_IF = {"channel": "TipTop", "region": "United States", "device": "iPhone", "start": "2026-11-01",
                   "days": 28, "daily_budget": 500.0}


class ForecastPath(BaseModel):
    """Path parameter of GET /api/v1/forecast/{metric}."""

    metric: Literal["spend", "new_users", "revenue", "dau", "cac"]


class ForecastQuery(BaseModel):
    """Query parameters of GET /api/v1/forecast/{metric}."""

    model_config = ConfigDict(extra="forbid")

    channel: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$",
                                  description="A channel, or All for the total (cac: a paid channel)")] = "All"
    horizon_days: int = Field(28, ge=7, le=90, description="Days to forecast after the data's last date, 7..90")


class ForecastRow(BaseModel):
    """One forecast date: the mean and the 80% and 95% intervals (lo95 <= lo80 <= mean <= hi80 <= hi95)."""

    date: date
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class ForecastRows(BaseModel):
    """The answer of GET /api/v1/forecast/{metric}: the forecast of one series ("auto": the ETS form or trend regression that did best on its own history; docs/forecast.md)."""

    metric: str
    channel: str
    horizon_days: int
    origin: date = Field(description="The data's last date: the forecast starts the day after")
    grain: str = Field(description="day, or week for cac (rows dated by the week's Monday)")
    model: str
    items: list[ForecastRow]
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


def bad_input(exc: ValidationError, prefix: tuple = ()) -> ApiProblem:
    """Return a 400 problem listing every field of a pydantic ValidationError."""
    errors = [{"field": _field_name(prefix + tuple(e["loc"])), "message": _short_message(e)}
              for e in exc.errors(include_url=False)]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return ApiProblem(400, "bad_request", message, errors)


RETRY_AFTER_SECONDS = {"database_unavailable": 5}  # no_scores / no_model wait for a command to be run
RETRY_AFTER_DEFAULT_SECONDS = 60


def problem_response(problem: ApiProblem) -> Response:
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
