"""The role matrix (issue 19): every route of `app.server.url_map` and every server-side Dash callback of
`app.callback_map`, asked by anonymous, viewer, analyst and admin sessions, an expired session, a revoked token and
tokens of each scope, answers what `dashboard.access_rules` says. The targets are generated from the app itself:
a new route or callback without a rule fails `test_rm001`, and its requests are refused for every account.

Real app on a private copy of the shared DuckDB demo (accounts added to it), Flask's test client.
"""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from app import create_app
from callbacks.filters import sync_filters_and_url
from dashboard import access_rules, accounts, db
from dashboard.access_rules import API, CALLBACK, DASH, OPEN, PAGE, PAGE_ROLES
from dashboard.accounts import Role, Scope
from dashboard.config import Config
from dashboard.web_auth import SIGNED_IN_AT
from tests.app.auth_helpers import add_account, csrf_cookie, make_token, run_on, sign_in
from tests.callbacks.test_web_hostile import envelope, server_outputs

UPDATE = "/_dash-update-component"
ROLES = (Role.VIEWER, Role.ANALYST, Role.ADMIN)
# (subject, role its requests carry or None, how it asks): sessions sign in through /login; tokens send a header
SUBJECTS = ("anonymous", "viewer", "analyst", "admin", "expired session", "revoked token",
            "admin read token", "viewer score token", "analyst score token")
PARAMETER_VALUES = {"user_id": "u1", "metric": "visits", "name": "churn", "rest": "nope", "filename": "style.css"}
DENIED = (401, 403)


@pytest.fixture(scope="module")
def matrix(shared_demo, tmp_path_factory):
    """(app, {subject: how it asks}, filter store) on a private copy of the DuckDB demo with one account per role."""
    tmp_path = tmp_path_factory.mktemp("matrix")
    url, cleanup = shared_demo.private_copy("duckdb", tmp_path)
    for role in ROLES:
        add_account(url, role.value, role)
    add_account(url, "gone", Role.ADMIN)
    tokens = {"admin read token": make_token(url, "admin", Scope.READ)[1],
              "viewer score token": make_token(url, "viewer", Scope.SCORE)[1],
              "analyst score token": make_token(url, "analyst", Scope.SCORE)[1]}
    revoked_id, revoked = make_token(url, "admin", Scope.SCORE)
    run_on(url, lambda conn: accounts.revoke_token(conn, revoked_id))
    tokens["revoked token"] = revoked
    app = create_app(Config(database_url=url, autofill_demo=False, model_dir=tmp_path / "models"))
    ctx = app.server.extensions["dashboard_context"]
    store = sync_filters_and_url(ctx, None, "?period=all", "/", {}, [], [], None).store
    clients = {}
    for subject in SUBJECTS:
        client = app.server.test_client()
        if subject in ("viewer", "analyst", "admin"):
            assert sign_in(client, subject).status_code == 302
        elif subject == "expired session":
            assert sign_in(client, "gone").status_code == 302
            with client.session_transaction() as session:
                session[SIGNED_IN_AT] = time.time() - 12 * 3600 - 1
        clients[subject] = client
    yield app, clients, tokens, store
    ctx.engine.dispose()
    cleanup()


def subject_role(subject: str) -> Role | None:
    """Return the role a subject's requests carry (None: anonymous, expired or revoked)."""
    first = subject.split()[0]
    return Role(first) if first in ("viewer", "analyst", "admin") else None


def ask(matrix, subject: str, method: str, path: str, **kwargs):
    """Return the response to `method path` sent as `subject` (CSRF header for sessions, bearer for tokens)."""
    app, clients, tokens, _ = matrix
    client = clients[subject]
    headers = dict(kwargs.pop("headers", {}))
    if subject in tokens:
        headers["Authorization"] = f"Bearer {tokens[subject]}"
    elif subject_role(subject) is not None and method != "GET":
        client.get("/")  # the page load that sets the csrf_token cookie
        headers["X-CSRFToken"] = csrf_cookie(client)
    return client.open(path, method=method, headers=headers, **kwargs)


def concrete_path(rule: str, component_file: str) -> str:
    """Return a path matching the Flask rule `rule` (its variables filled with PARAMETER_VALUES)."""
    if "fingerprinted_path" in rule:
        return component_file
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m: PARAMETER_VALUES[m.group(1)], rule)


def route_targets(app) -> list[tuple[str, str, str, access_rules.RouteRule]]:
    """Return (endpoint, method, path, rule) for every method of every route of the app; the page catch-all as
    every page path and one unknown path."""
    prefix = app.config.routes_pathname_prefix
    targets = []
    for rule in app.server.url_map.iter_rules():
        found = access_rules.endpoint_rule(rule.endpoint, prefix)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if found is not None and found.kind == PAGE:
                paths = [*PAGE_ROLES, "/no-such-page"] if "path" in rule.rule else ["/"]
            else:
                paths = [rule.rule]
            targets += [(rule.endpoint, method, path, found) for path in paths]
    return targets


def expected(subject: str, method: str, path: str, rule: access_rules.RouteRule, token: bool) -> str:
    """Return "ok", "login" (302 to /login), 401 or 403 as the rules say for `subject`."""
    role = subject_role(subject)
    if rule.kind == OPEN:
        return "ok"
    if rule.kind == API:
        if role is None:
            return "401"
        if token and not access_rules.scope_allows(Scope.SCORE if "score" in subject else Scope.READ, method):
            return "403"
        return "ok" if role.allows(rule.role) else "403"
    if role is None or token:  # a token is no sign-in for pages and Dash
        return "login" if rule.kind == PAGE else "401"
    if rule.kind == PAGE:
        return "ok" if role.allows(access_rules.page_role(path)) else "403"
    return "ok"  # DASH; CALLBACK is checked per callback below


def outcome(response) -> str:
    """Return "login", "401", "403" or "ok" (any other answer: the request got through the checks)."""
    if response.status_code == 302 and response.headers["Location"].startswith("/login?next="):
        return "login"
    return str(response.status_code) if response.status_code in DENIED else "ok"


def test_rm001_every_route_and_callback_has_a_rule(matrix):
    app = matrix[0]
    prefix = app.config.routes_pathname_prefix
    missing_routes = sorted({rule.endpoint for rule in app.server.url_map.iter_rules()
                             if access_rules.endpoint_rule(rule.endpoint, prefix) is None})
    assert missing_routes == [], "give these routes a rule in dashboard/access_rules.py"
    missing_callbacks = [output for output in server_outputs(app)
                         if access_rules.callback_rule(app.callback_map[output]) is None]
    assert missing_callbacks == [], "give these callbacks' ids a rule in dashboard/access_rules.py"
    assert len(server_outputs(app)) >= 65  # a page's chart bodies: one callback per role group (chart_groups)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_rm002_every_route_answers_as_the_rules_say(matrix, subject):
    app, clients, tokens, _ = matrix
    index = clients["admin"].get("/").get_data(as_text=True)
    component_file = re.search(r'src="(/_dash-component-suites/[^"]+)"', index).group(1)
    wrong = {}
    for endpoint, method, path, rule in route_targets(app):
        path = concrete_path(path, component_file)
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        if rule.kind == CALLBACK or (endpoint == "auth.logout" and method == "POST"):
            continue  # callbacks: test_rm003; signing out (tests/app/test_auth_signin.py) would end the session
        response = ask(matrix, subject, method, path, **kwargs)
        want = expected(subject, method, path, rule, subject in tokens)
        got = outcome(response)
        if endpoint.startswith("auth.") and got == "login":
            got = "ok"  # /logout without a session sends the browser to /login
        if got != want:
            wrong[f"{method} {path}"] = (want, got, response.get_data(as_text=True)[:120])
        if want == "401":
            assert response.headers["WWW-Authenticate"].startswith("Bearer"), path
    assert wrong == {}


@pytest.mark.parametrize("subject", SUBJECTS)
def test_rm003_every_callback_answers_as_the_rules_say(matrix, subject):
    app, clients, tokens, store = matrix
    role = subject_role(subject)
    wrong = {}
    counts = {"ok": 0, "401": 0, "403": 0}
    for output in server_outputs(app):
        needed = access_rules.callback_rule(app.callback_map[output])
        body = envelope(app, output, store, {("url", "pathname"): "/risk"})
        response = ask(matrix, subject, "POST", UPDATE, json=body)
        if role is None or subject in tokens:
            want = "401"
        else:
            want = "ok" if role.allows(needed) else "403"
        got = outcome(response)
        counts[got] = counts.get(got, 0) + 1
        if got != want:
            wrong[output] = (want, got, response.get_data(as_text=True)[:120])
        if got == "ok":
            assert response.status_code in (200, 204), (output, response.get_data(as_text=True)[:300])
    assert wrong == {}
    if subject == "viewer":  # the customer table: its body, its export; the Data page's administration (admin)
        assert counts["403"] >= 2 and counts["ok"] >= 52  # 65 server callbacks, 13 of them analyst or admin only


def test_rm004_the_routing_callback_checks_the_role_of_the_page_it_renders(matrix, monkeypatch):
    app, _, _, store = matrix
    monkeypatch.setitem(PAGE_ROLES, "/data", Role.ADMIN)  # as the Data page's administration will need
    body = envelope(app, "page-content.children", store, {("url", "pathname"): "/data"})
    assert ask(matrix, "analyst", "POST", UPDATE, json=body).status_code == 403
    assert ask(matrix, "admin", "POST", UPDATE, json=body).status_code == 200
    page = ask(matrix, "analyst", "GET", "/data")
    assert page.status_code == 403 and "needs the role <b>admin</b>" in page.get_data(as_text=True)
    assert ask(matrix, "admin", "GET", "/data").status_code == 200
