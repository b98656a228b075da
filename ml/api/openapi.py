"""The route declaration of the REST API (`ApiRoute`) and the OpenAPI 3.1 document generated from it.

Each route is declared once, in `ml.api.routes.ROUTES`: method, Flask rule, summary, path and query parameters,
request body and answer schemas, error codes. The blueprint is built from that table and so is the document
(`openapi_document`): paths are never written twice. Component schemas come from the pydantic models.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from dashboard.access_rules import API, ENDPOINT_RULES
from ml.api.schemas import API_PREFIX, API_VERSION, MAX_BATCH, ApiError

TITLE = "Marketing analytics: churn-risk API"
DESCRIPTION = ("Read churn scores and score customers with the latest trained model; list the registered models "
               "and read their cards; forecast a budget's CAC, users and return, and spend, users, revenue, DAU and "
               "CAC over the coming weeks. "
               "Errors are JSON {error, message, errors[]}; the message names the field.")
ERROR_DESCRIPTIONS = {400: "Bad input: the message names the field", 404: "Unknown customer, model or path",
                      405: "Method not allowed", 413: "Body too large", 415: "Body is not JSON",
                      503: "No scores / no model / no data / database unavailable",
                      401: "No valid sign-in or bearer token (WWW-Authenticate: Bearer)",
                      403: "The account's role or the token's scope does not allow this route"}
BLUEPRINT_NAME = "api_v1"  # the Flask blueprint of the API (ml.api.routes): its endpoints are "api_v1.<handler>"
SECURITY_SCHEME = "bearerAuth"
BEARER_DESCRIPTION = ("An API token: `python -m dashboard tokens create NAME --account ACCOUNT [--scope read|score] "
                      "[--expires-days N]` prints it once (admins also create tokens on the Data page). Send it as "
                      "`Authorization: Bearer <token>`. It has the rights of its account's role; scope read allows "
                      "the GET routes, score also the POST routes. A browser signed in to the dashboard may call "
                      "the API with its session cookie instead.")
_RULE_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")  # Flask's <converter:name> -> OpenAPI's {name}


@dataclass(frozen=True)
class PathParam:
    """A path parameter as the document describes it (its value is validated by the route)."""

    name: str
    description: str
    schema: dict


@dataclass(frozen=True)
class JsonBody:
    """A JSON request body: one object of `model`, or (`batch`) a list of 1..MAX_BATCH of them; `example` is one
    object."""

    model: type[BaseModel]
    example: Any
    batch: bool = True


@dataclass(frozen=True)
class Answer:
    """The 200 answer of a route: a pydantic model, a (one, batch) pair of models, or a literal JSON schema."""

    description: str
    schema: type[BaseModel] | tuple[type[BaseModel], ...] | dict
    media_type: str = "application/json"
    example: Any = None


@dataclass(frozen=True)
class ApiRoute:
    """One route of the API, declared once: the blueprint and the OpenAPI document are built from it.

    `body` is a JsonBody, or a function of the served model's (numeric, categorical) feature names returning one
    (the churn features depend on the trained model). `handler(api, **path_values)` answers the request.
    """

    method: str
    rule: str
    operation_id: str
    summary: str
    handler: Callable[..., Any]
    answer: Answer
    errors: tuple[int, ...] = ()
    path_params: tuple[PathParam, ...] = ()
    query: type[BaseModel] | None = None
    body: JsonBody | Callable[[list[str], list[str]], JsonBody] | None = None
    curl: str | None = None

    @property
    def endpoint(self) -> str:
        """Return the Flask endpoint name of the route (the handler's name)."""
        return self.handler.__name__

    @property
    def openapi_path(self) -> str:
        """Return the route's path in OpenAPI form: /api/v1/customers/{user_id}/risk."""
        return API_PREFIX + _RULE_VARIABLE.sub(r"{\1}", self.rule)

    def json_body(self, numeric: list[str], categorical: list[str]) -> JsonBody | None:
        """Return the request body of the route for the served model's features (None without a body)."""
        return self.body(numeric, categorical) if callable(self.body) else self.body


def _ref(model: type[BaseModel]) -> dict:
    """Return a JSON reference to the component schema of `model`."""
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _answer_schema(answer: Answer) -> dict:
    """Return the JSON schema of an answer: a reference, a oneOf of references, or the literal schema."""
    if isinstance(answer.schema, dict):
        return answer.schema
    if isinstance(answer.schema, tuple):
        return {"oneOf": [_ref(model) for model in answer.schema]}
    return _ref(answer.schema)


def _answer_models(answer: Answer) -> tuple[type[BaseModel], ...]:
    """Return the pydantic models an answer refers to."""
    if isinstance(answer.schema, dict):
        return ()
    return answer.schema if isinstance(answer.schema, tuple) else (answer.schema,)


def _responses(route: ApiRoute) -> dict:
    """Return the OpenAPI responses of a route: its 200 answer, then its error codes."""
    content: dict[str, Any] = {"schema": _answer_schema(route.answer)}
    if route.answer.example is not None:
        content["example"] = route.answer.example
    responses = {"200": {"description": route.answer.description, "content": {route.answer.media_type: content}}}
    error_ref = _ref(ApiError)
    for code in route.errors:
        responses[str(code)] = {"description": ERROR_DESCRIPTIONS[code],
                                "content": {"application/json": {"schema": error_ref}}}
    return responses


def _parameters(route: ApiRoute) -> list[dict]:
    """Return the OpenAPI parameters of a route: its path parameters, then the fields of its query model."""
    parameters = [{"name": p.name, "in": "path", "required": True, "description": p.description,
                   "schema": p.schema} for p in route.path_params]
    if route.query is not None:
        for name, prop in route.query.model_json_schema()["properties"].items():
            prop = dict(prop)
            description = prop.pop("description", "")
            parameters.append({"name": name, "in": "query", "required": False, "description": description,
                               "schema": prop})
    return parameters


def _request_body(body: JsonBody) -> dict:
    """Return the OpenAPI requestBody of a JSON body: one object, or one or a list of 1..MAX_BATCH objects."""
    ref = _ref(body.model)
    schema = ref if not body.batch else {"oneOf": [ref, {"type": "array", "items": ref, "minItems": 1,
                                                         "maxItems": MAX_BATCH}]}
    return {"required": True, "content": {"application/json": {"schema": schema, "example": body.example}}}


def needed_role(route: ApiRoute) -> str | None:
    """Return the role a route needs (dashboard.access_rules), None for an open route (this document, the docs)."""
    rule = ENDPOINT_RULES.get(f"{BLUEPRINT_NAME}.{route.endpoint}")
    return rule.role.value if rule is not None and rule.kind == API else None


def _security(route: ApiRoute, operation: dict) -> None:
    """Add to `operation` its security (the bearer scheme; none for an open route), the role it needs and the
    401 and 403 answers."""
    role = needed_role(route)
    if role is None:
        operation["security"] = []
        return
    operation["security"] = [{SECURITY_SCHEME: []}]
    scope = "read or score" if route.method == "GET" else "score"
    operation["description"] = f"Needs an account with the role {role} (a token of scope {scope})."
    error_ref = _ref(ApiError)
    for code in (401, 403):
        operation["responses"][str(code)] = {"description": ERROR_DESCRIPTIONS[code],
                                             "content": {"application/json": {"schema": error_ref}}}


def openapi_document(routes: tuple[ApiRoute, ...], numeric: list[str], categorical: list[str]) -> dict:
    """Return the OpenAPI 3.1 document of `routes`, with the request bodies of the given feature names."""
    paths: dict[str, dict] = {}
    request_models: list[type[BaseModel]] = []
    answer_models: list[type[BaseModel]] = []
    for route in routes:
        operation: dict[str, Any] = {"summary": route.summary, "operationId": route.operation_id}
        parameters = _parameters(route)
        if parameters:
            operation["parameters"] = parameters
        body = route.json_body(numeric, categorical)
        if body is not None:
            operation["requestBody"] = _request_body(body)
            request_models.append(body.model)
        operation["responses"] = _responses(route)
        _security(route, operation)
        answer_models.extend(_answer_models(route.answer))
        paths.setdefault(route.openapi_path, {})[route.method.lower()] = operation
    _, defs = models_json_schema(
        [(m, "validation") for m in request_models] + [(m, "serialization") for m in (*answer_models, ApiError)],
        ref_template="#/components/schemas/{model}",
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": API_VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": defs.get("$defs", {}),
                       "securitySchemes": {SECURITY_SCHEME: {"type": "http", "scheme": "bearer",
                                                             "description": BEARER_DESCRIPTION}}},
    }
