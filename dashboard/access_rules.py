"""Who may see what: the role each page, route, API route and Dash callback needs, and the 401/403 answers.

One table per kind of request, read by `dashboard.web_auth` on every request once sign-in is required:

- `ENDPOINT_RULES`: every Flask endpoint of the app (Dash's own routes named without the path prefix) -> a
  `RouteRule`: OPEN (no sign-in: /health, /ready, /login, static files), PAGE (a Dash page: the role of its path in
  `PAGE_ROLES`), DASH (Dash's layout and dependency documents: any signed-in account), CALLBACK (the role of the
  callback named in the request body, `callback_role`) or API (a role, and for tokens the scope of the method);
- `PAGE_ROLES`: page path -> role (viewer: the aggregate pages; the Risk page's customer table has its own rule);
- `CALLBACK_ID_RULES`: component id (or its prefix, or a pattern id's "type") -> role. A callback needs the highest
  role of all the ids it writes or reads; an id with no rule means the callback has none, and it is refused.

A route or callback missing from these tables is refused for every account (403 naming it), and the role matrix
test (tests/app/test_auth_matrix.py) fails until it gets a rule here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Response, g, has_request_context, jsonify
from markupsafe import escape

from dashboard.accounts import Role, Scope

OPEN = "open"  # no sign-in needed
PAGE = "page"  # a Dash page: the role of its path
DASH = "dash"  # Dash's layout and dependency documents: any signed-in account
CALLBACK = "callback"  # a Dash callback: the role of the callback named in the body
API = "api"  # a REST API route: a role; a bearer token's scope must also allow the method


@dataclass(frozen=True)
class RouteRule:
    """What a request to one endpoint needs: its kind (OPEN, PAGE, DASH, CALLBACK, API) and, for API, the role."""

    kind: str
    role: Role | None = None


# Page path -> role. A path no page serves shows Dash's "not found" content to any signed-in account.
PAGE_ROLES: dict[str, Role] = {
    "/": Role.VIEWER,
    "/acquisition": Role.VIEWER,
    "/marketing": Role.VIEWER,
    "/cohorts": Role.VIEWER,
    "/risk": Role.VIEWER,  # its aggregate cards; the customer table's callbacks need ANALYST
    "/forecast": Role.VIEWER,
    "/data": Role.VIEWER,  # what the database holds; its administration callbacks will need ADMIN
}

# Flask endpoint -> rule. Dash's endpoints are its URL rules without the routes prefix.
ENDPOINT_RULES: dict[str, RouteRule] = {
    "health": RouteRule(OPEN),
    "ready": RouteRule(OPEN),
    "static": RouteRule(OPEN),
    "_dash_assets.static": RouteRule(OPEN),  # assets/: CSS and scripts, no data (the sign-in page needs its CSS)
    "_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": RouteRule(OPEN),  # library bundles
    "_favicon.ico": RouteRule(OPEN),
    "auth.login": RouteRule(OPEN),
    "auth.logout": RouteRule(OPEN),
    "": RouteRule(PAGE),  # Dash's index at the prefix itself
    "<path:path>": RouteRule(PAGE),
    "_dash-layout": RouteRule(DASH),
    "_dash-dependencies": RouteRule(DASH),
    "_reload-hash": RouteRule(DASH),
    "_dash-update-component": RouteRule(CALLBACK),
    # REST API: its description is open (it says how to get a token); the data needs a role
    "api_v1.docs_route": RouteRule(OPEN),
    "api_v1.openapi_route": RouteRule(OPEN),
    "api_v1.models_route": RouteRule(API, Role.VIEWER),
    "api_v1.model_route": RouteRule(API, Role.VIEWER),
    "api_v1.model_card_route": RouteRule(API, Role.VIEWER),
    "api_v1.forecast_metric_route": RouteRule(API, Role.VIEWER),
    "api_v1.forecast_cac_route": RouteRule(API, Role.VIEWER),
    "api_v1.customer_risk_route": RouteRule(API, Role.ANALYST),
    "api_v1.risk_list_route": RouteRule(API, Role.ANALYST),
    "api_v1.churn_score_route": RouteRule(API, Role.ANALYST),
    "api_v1.segments_predict_route": RouteRule(API, Role.ANALYST),
    "api_v1.unknown_route": RouteRule(API, Role.VIEWER),  # 404 / 405 JSON, after sign-in
}

# Component id -> role: exact ids first, then the longest matching prefix; pattern ids by their "type".
CALLBACK_EXACT_IDS: dict[str, Role] = {
    "url": Role.VIEWER,
    "page-content": Role.VIEWER,  # routing: the page's own role is checked from url.pathname (`callback_role`)
    "type=db-retry": Role.VIEWER,
    "type=nav-link": Role.VIEWER,
    "type=page-param": Role.VIEWER,
}
CALLBACK_ID_RULES: tuple[tuple[str, Role], ...] = (
    ("risk-customers-", Role.ANALYST),  # the Risk page's customer table and its exports
    ("admin-accounts-", Role.ADMIN),  # the Data page's accounts and API tokens panel (layouts/admin_accounts.py)
    ("data-admin-", Role.ADMIN),  # the Data page's uploads, jobs, job history and audit log (layouts/data_admin.py)
    ("filter-", Role.VIEWER),
    ("overview-", Role.VIEWER),
    ("acq-", Role.VIEWER),
    ("mkt-", Role.VIEWER),
    ("coh-", Role.VIEWER),
    ("risk-", Role.VIEWER),  # the Risk page's aggregate cards
    ("fc-", Role.VIEWER),
)
ROUTING_OUTPUT = "page-content.children"  # the callback that renders the page at url.pathname
ROLE_ORDER = (Role.VIEWER, Role.ANALYST, Role.ADMIN)


def request_principal():
    """Return the principal (account, token scope) the current request was checked as, None in the open mode, for
    an open route, or outside a request."""
    return g.get("principal") if has_request_context() else None


def endpoint_rule(endpoint: str | None, routes_prefix: str) -> RouteRule | None:
    """Return the rule of Flask endpoint `endpoint` (Dash's named with `routes_prefix` removed), None if it has none."""
    if endpoint is None:
        return None
    if endpoint in ENDPOINT_RULES:
        return ENDPOINT_RULES[endpoint]
    bare = endpoint[len(routes_prefix):] if endpoint.startswith(routes_prefix) else endpoint.lstrip("/")
    return ENDPOINT_RULES.get(bare)


def page_role(path: str) -> Role:
    """Return the role the page at `path` (without the routes prefix, trailing slash ignored) needs."""
    normal = "/" + path.strip("/")
    return PAGE_ROLES.get(normal, Role.VIEWER)


def component_role(component_id: str) -> Role | None:
    """Return the role a component id (a pattern id as JSON text) needs, None when it has no rule."""
    if component_id.startswith("{"):
        try:
            component_id = "type=" + str(json.loads(component_id).get("type"))
        except (ValueError, AttributeError):
            return None
    if component_id in CALLBACK_EXACT_IDS:
        return CALLBACK_EXACT_IDS[component_id]
    matches = [(prefix, role) for prefix, role in CALLBACK_ID_RULES if component_id.startswith(prefix)]
    return max(matches, key=lambda match: len(match[0]))[1] if matches else None


def highest(roles: list[Role]) -> Role:
    """Return the highest of `roles` (admin > analyst > viewer)."""
    return max(roles, key=ROLE_ORDER.index)


def callback_ids(callback: dict) -> list[str]:
    """Return the component ids (as the callback map spells them) a callback-map entry writes, reads or keeps."""
    outputs = callback["output"]
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return ([o.component_id_str() for o in outputs] + [d["id"] for d in callback["inputs"]]
            + [d["id"] for d in callback["state"]])


def callback_rule(callback: dict) -> Role | None:
    """Return the role a callback-map entry needs (the highest of its ids' roles), None when an id has no rule."""
    roles = [component_role(component_id) for component_id in callback_ids(callback)]
    return None if any(role is None for role in roles) else highest(roles)


def callback_role(output: str, callback: dict, body: Any, requests_prefix: str) -> Role | None:
    """Return the role the callback request `body` to `callback` (output key `output`) needs, None without a rule.
    The routing callback needs also the role of the page at the url.pathname it was sent."""
    role = callback_rule(callback)
    if role is None or output != ROUTING_OUTPUT:
        return role
    pathname = next((item.get("value") for item in body.get("inputs", [])
                     if isinstance(item, dict) and item.get("id") == "url" and item.get("property") == "pathname"),
                    None)
    path = pathname if isinstance(pathname, str) else "/"
    if path.startswith(requests_prefix):
        path = "/" + path[len(requests_prefix):]
    return highest([role, page_role(path)])


def scope_allows(scope: Scope, method: str) -> bool:
    """True when a token of `scope` may send `method`: read only GET (and HEAD), score also POST."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    return scope == Scope.SCORE and method == "POST"


# ----------------------------------------------------------------------------------------------- the answers


def unauthorized_api(message: str = "sign in or send Authorization: Bearer <token>",
                     error: str | None = None) -> Response:
    """Return the 401 JSON answer of an API or Dash request without a valid sign-in, with WWW-Authenticate: Bearer."""
    response = jsonify(error="unauthorized", message=message)
    response.status_code = 401
    challenge = 'Bearer realm="api"'
    if error:
        challenge += f', error="{error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def forbidden_json(message: str) -> Response:
    """Return a 403 JSON answer {error: "forbidden", message}."""
    response = jsonify(error="forbidden", message=message)
    response.status_code = 403
    return response


def forbidden_page(what: str, needed: Role | None, role: Role | None, home: str) -> Response:
    """Return the 403 HTML page saying `what` needs role `needed` (None: has no access rule) and the account has
    `role`."""
    if needed is None:
        reason = f"{escape(what)} has no access rule, so no account may open it."
    else:
        reason = (f"{escape(what)} needs the role <b>{escape(needed.value)}</b>; your account has the role "
                  f"<b>{escape(role.value if role else 'none')}</b>. An administrator can change it with "
                  f"<code>python -m dashboard users set-role</code>.")
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not allowed</title></head>"
            f"<body><h1>Not allowed</h1><p>{reason}</p><p><a href=\"{escape(home)}\">Back to the Overview</a></p>"
            f"</body></html>")
    return Response(body, status=403, mimetype="text/html")


def bad_request(message: str) -> Response:
    """Return a 400 JSON answer {error: "bad_request", message}."""
    response = jsonify(error="bad_request", message=message)
    response.status_code = 400
    return response


def unavailable(message: str, retry_after: float) -> Response:
    """Return a 503 JSON answer {error: "unavailable", message} with Retry-After (seconds, rounded up)."""
    response = jsonify(error="unavailable", message=message)
    response.status_code = 503
    response.headers["Retry-After"] = str(max(1, int(retry_after + 0.999)))
    return response
