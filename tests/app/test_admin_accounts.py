"""The Data page's accounts panel (issue 19): admins manage accounts and API tokens through the real Dash callback
endpoint (Flask test client, signed in through the real form), on DuckDB and PostgreSQL; other roles get 403; the
token's text is shown once and only its hash is stored; the last active admin stays; the navbar shows who is
signed in; a viewer's Risk page has no customer table; the OpenAPI document declares the bearer scheme."""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from callbacks.admin_accounts import ADMINS_ONLY
from dashboard import accounts, db
from dashboard.accounts import Role
from layouts.ids import AdminAccountsIds as Ids
from layouts.risk import CUSTOMERS_NEED_ANALYST, CUSTOMERS_ROLE_NOTE
from layouts.shell import SIGNED_IN_ID
from tests.app.auth_helpers import PASSWORD, add_account, audit_rows, csrf_cookie, make_app, run_on, sign_in
from tests.callback_keys import output_items
from tests.conftest import make_database_url

UPDATE = "/_dash-update-component"
NEW_PASSWORD = "another long secret"


@pytest.fixture(params=("duckdb", "postgresql"))
def admin_app(request, tmp_path):
    """(app, url, signed-in admin client) on an empty database of each backend with the admin account "root"."""
    url, cleanup = make_database_url(request.param, tmp_path)
    add_account(url, "root", Role.ADMIN)
    app = make_app(url, tmp_path)
    client = app.server.test_client()
    assert sign_in(client, "root").status_code == 302
    yield app, url, client
    app.server.extensions["dashboard_context"].engine.dispose()
    cleanup()


def output_key(app, component: str) -> str:
    """Return the callback-map key of the callback writing `component` (any property)."""
    return next(key for key in app.callback_map if f"{component}." in key and "callback" in app.callback_map[key])


def callback_body(app, component: str, trigger: tuple[str, str] | None, values: dict) -> dict:
    """Return the envelope the renderer posts to the callback writing `component`, fired by `trigger` (id, prop),
    with `values` {(id, prop): value} (others None, or 0 for click counts)."""
    key = output_key(app, component)
    callback = app.callback_map[key]

    def entry(dep: dict, with_value: bool = True) -> dict | list:
        """Return one dependency of the envelope (an ALL pattern: no component)."""
        if dep["id"].startswith("{"):
            return []
        item = {"id": dep["id"], "property": dep["property"]}
        if with_value:
            default = 0 if "n_clicks" in dep["property"] else None
            item["value"] = values.get((dep["id"], dep["property"]), default)
        return item

    outputs = [{"id": part.rsplit(".", 1)[0], "property": part.rsplit(".", 1)[1]}
               for part in output_items(key)]
    changed = [f"{trigger[0]}.{trigger[1]}"] if trigger else [f"{callback['inputs'][0]['id']}."
                                                               f"{callback['inputs'][0]['property']}"]
    return {"output": key, "outputs": outputs if key.startswith("..") else outputs[0],
            "inputs": [entry(d) for d in callback["inputs"]], "state": [entry(d) for d in callback["state"]],
            "changedPropIds": changed}


def post(client, body: dict):
    """Return the response to a callback request from a signed-in browser (CSRF header from its cookie)."""
    client.get("/")
    return client.post(UPDATE, json=body, headers={"X-CSRFToken": csrf_cookie(client)})


def account_action(app, client, trigger: str, **fields):
    """Return (status, text of the answer) of pressing account button `trigger` with form `fields` (by id)."""
    prop = "submit_n_clicks" if trigger in (Ids.DISABLE, Ids.REMOVE) else "n_clicks"
    values = {(component, "value"): value for component, value in fields.items()}
    values[(trigger, prop)] = 1
    response = post(client, callback_body(app, Ids.ACCOUNT_MESSAGE, (trigger, prop), values))
    return response.status_code, response.get_data(as_text=True)


def token_action(app, client, trigger: str, **fields):
    """Return (status, JSON answer) of pressing token button `trigger` with form `fields` (by id)."""
    prop = "submit_n_clicks" if trigger == Ids.REVOKE else "n_clicks"
    values = {(component, "value"): value for component, value in fields.items()}
    values[(trigger, prop)] = 1
    response = post(client, callback_body(app, Ids.TOKEN_MESSAGE, (trigger, prop), values))
    return response.status_code, response.get_json()


def stored_accounts(url: str) -> dict[str, accounts.Account]:
    """Return the accounts of the database at `url` by name."""
    return {a.name: a for a in run_on(url, accounts.list_accounts)}


def lists_text(app, client) -> str:
    """Return the text of the panel's lists callback answer."""
    response = post(client, callback_body(app, Ids.ACCOUNTS_TABLE, None, {(Ids.CHANGED, "data"): 1}))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return response.get_data(as_text=True)


# ----------------------------------------------------------------------------------------------- accounts


def test_aa001_an_admin_adds_changes_disables_and_removes_an_account(admin_app):
    app, url, client = admin_app
    status, text = account_action(app, client, Ids.ADD, **{Ids.NEW_NAME: "vera", Ids.NEW_ROLE: "viewer",
                                                          Ids.NEW_PASSWORD: PASSWORD, Ids.NEW_PASSWORD_AGAIN: PASSWORD})
    assert status == 200 and "Account vera added with the role viewer." in text
    assert PASSWORD not in text
    vera = stored_accounts(url)["vera"]
    assert vera.role == Role.VIEWER and not vera.disabled
    assert sign_in(app.server.test_client(), "vera").status_code == 302  # the password typed works
    listing = lists_text(app, client)
    assert "vera" in listing and "root" in listing and "viewer" in listing and "active" in listing

    status, text = account_action(app, client, Ids.SET_ROLE, **{Ids.TARGET: "vera", Ids.TARGET_ROLE: "analyst"})
    assert status == 200 and "vera now has the role analyst" in text
    assert stored_accounts(url)["vera"].role == Role.ANALYST
    assert stored_accounts(url)["vera"].session_epoch == vera.session_epoch + 1

    status, text = account_action(app, client, Ids.RESET_PASSWORD, **{
        Ids.TARGET: "vera", Ids.RESET_PASSWORD_FIELD: NEW_PASSWORD, Ids.RESET_PASSWORD_AGAIN: NEW_PASSWORD})
    assert status == 200 and "The password of vera was reset" in text
    assert sign_in(app.server.test_client(), "vera", NEW_PASSWORD).status_code == 302
    assert sign_in(app.server.test_client(), "vera", PASSWORD).status_code == 200  # the old one: the form again

    status, text = account_action(app, client, Ids.DISABLE, **{Ids.TARGET: "vera"})
    assert status == 200 and "vera is disabled" in text
    assert stored_accounts(url)["vera"].disabled
    assert sign_in(app.server.test_client(), "vera", NEW_PASSWORD).status_code == 200

    status, text = account_action(app, client, Ids.REMOVE, **{Ids.TARGET: "vera"})
    assert status == 200 and "Account vera and its API tokens were removed." in text
    assert set(stored_accounts(url)) == {"root"}

    events = [(event, actor, outcome) for event, actor, outcome, _ in audit_rows(url) if event != "sign_in"]
    assert events == [("account_add", "root", "ok"), ("role_change", "root", "ok"), ("password_reset", "root", "ok"),
                      ("account_disable", "root", "ok"), ("account_remove", "root", "ok")]
    assert not any(PASSWORD in detail or NEW_PASSWORD in detail for *_, detail in audit_rows(url))


def test_aa002_refusals_show_the_account_error_and_change_nothing(admin_app):
    app, url, client = admin_app
    cases = [
        ({Ids.NEW_NAME: "vera", Ids.NEW_ROLE: "viewer", Ids.NEW_PASSWORD: PASSWORD,
          Ids.NEW_PASSWORD_AGAIN: PASSWORD + "x"}, "the two passwords differ"),
        ({Ids.NEW_NAME: "vera", Ids.NEW_ROLE: "viewer", Ids.NEW_PASSWORD: "short", Ids.NEW_PASSWORD_AGAIN: "short"},
         "password too short: at least 8 characters"),
        ({Ids.NEW_NAME: "bad name", Ids.NEW_ROLE: "viewer", Ids.NEW_PASSWORD: PASSWORD,
          Ids.NEW_PASSWORD_AGAIN: PASSWORD}, "invalid account name 'bad name'"),
        ({Ids.NEW_NAME: "ROOT", Ids.NEW_ROLE: "viewer", Ids.NEW_PASSWORD: PASSWORD, Ids.NEW_PASSWORD_AGAIN: PASSWORD},
         "an account named 'root' exists already"),
        ({Ids.NEW_NAME: "vera", Ids.NEW_ROLE: "owner", Ids.NEW_PASSWORD: PASSWORD, Ids.NEW_PASSWORD_AGAIN: PASSWORD},
         "unknown role 'owner'"),
        ({Ids.NEW_NAME: {"x": 1}, Ids.NEW_ROLE: ["admin"], Ids.NEW_PASSWORD: 7, Ids.NEW_PASSWORD_AGAIN: 7},
         "invalid account name"),
    ]
    for fields, message in cases:
        status, text = account_action(app, client, Ids.ADD, **fields)
        assert status == 200 and message in text, (fields, text[:300])
        assert '"color":"danger"' in text
    assert set(stored_accounts(url)) == {"root"}
    status, text = account_action(app, client, Ids.SET_ROLE, **{Ids.TARGET: "nobody", Ids.TARGET_ROLE: "admin"})
    assert status == 200 and "no account named 'nobody'" in text
    status, text = account_action(app, client, Ids.SET_ROLE, **{Ids.TARGET: None, Ids.TARGET_ROLE: "admin"})
    assert status == 200 and "choose an account first" in text
    refused = [(event, outcome) for event, _, outcome, _ in audit_rows(url) if event != "sign_in"]
    assert refused == [("account_add", "refused")] * len(cases) + [("role_change", "refused")]


def test_aa003_the_last_active_admin_cannot_be_disabled_demoted_or_removed(admin_app):
    app, url, client = admin_app
    for trigger, fields in ((Ids.DISABLE, {}), (Ids.REMOVE, {}), (Ids.SET_ROLE, {Ids.TARGET_ROLE: "analyst"})):
        status, text = account_action(app, client, trigger, **{Ids.TARGET: "root", **fields})
        assert status == 200 and "refused: 'root' is the last active admin" in text, text[:300]
    root = stored_accounts(url)["root"]
    assert root.role == Role.ADMIN and not root.disabled
    add_account(url, "ada", Role.ADMIN)
    run_on(url, lambda conn: accounts.disable_account(conn, "ada"))  # a disabled admin does not count
    status, text = account_action(app, client, Ids.SET_ROLE, **{Ids.TARGET: "root", Ids.TARGET_ROLE: "viewer"})
    assert "last active admin" in text and stored_accounts(url)["root"].role == Role.ADMIN
    add_account(url, "bob", Role.ADMIN)
    status, text = account_action(app, client, Ids.SET_ROLE, **{Ids.TARGET: "bob", Ids.TARGET_ROLE: "viewer"})
    assert "bob now has the role viewer" in text  # root stays admin: allowed
    add_account(url, "cat", Role.ADMIN)
    status, text = account_action(app, client, Ids.SET_ROLE, **{Ids.TARGET: "root", Ids.TARGET_ROLE: "viewer"})
    assert "root now has the role viewer" in text  # cat is still an admin
    assert stored_accounts(url)["root"].role == Role.VIEWER
    # root is no admin any more: its next action is refused (the session ends within ACCOUNT_CACHE_SECONDS: 401;
    # before that, the callback's own check of the acting account in the transaction)
    status, text = account_action(app, client, Ids.DISABLE, **{Ids.TARGET: "cat"})
    assert status == 401 or (status == 200 and ADMINS_ONLY in text), (status, text[:300])
    assert not stored_accounts(url)["cat"].disabled


# ----------------------------------------------------------------------------------------------- tokens


def test_aa004_a_token_is_shown_once_only_its_hash_is_stored_and_revoking_ends_it(admin_app):
    app, url, client = admin_app
    add_account(url, "ana", Role.ANALYST)
    status, answer = token_action(app, client, Ids.CREATE_TOKEN, **{
        Ids.TOKEN_NAME: "nightly", Ids.TOKEN_ACCOUNT: "ana", Ids.TOKEN_SCOPE: "read", Ids.TOKEN_DAYS: 30})
    assert status == 200
    text = json.dumps(answer)
    secrets_shown = set(__import__("re").findall(r"mkd_[A-Za-z0-9_-]{43}", text))
    assert len(secrets_shown) == 1, text[:500]
    secret = secrets_shown.pop()
    assert "it is not shown again" in text and "created for ana, scope read" in text
    stored = run_on(url, lambda conn: conn.execute(sa.select(db.api_tokens)).mappings().all())
    assert len(stored) == 1 and stored[0]["token_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps([{k: str(v) for k, v in row.items()} for row in stored])
    assert secret not in lists_text(app, client)  # listed without its text
    assert "nightly" in lists_text(app, client)
    assert not any(secret in detail for *_, detail in audit_rows(url))
    api = app.server.test_client()
    assert api.get("/api/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    assert api.post("/api/v1/churn/score", json={},
                    headers={"Authorization": f"Bearer {secret}"}).status_code == 403  # read scope: no POST

    status, answer = token_action(app, client, Ids.REVOKE, **{Ids.REVOKE_TARGET: str(stored[0]["id"])})
    assert status == 200 and f"Token {stored[0]['id']} (nightly, of ana) is revoked." in json.dumps(answer)
    assert api.get("/api/v1/models", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    status, answer = token_action(app, client, Ids.CREATE_TOKEN, **{
        Ids.TOKEN_NAME: "x", Ids.TOKEN_ACCOUNT: "ana", Ids.TOKEN_SCOPE: "write", Ids.TOKEN_DAYS: None})
    assert "unknown scope 'write'" in json.dumps(answer) and "mkd_" not in json.dumps(answer)
    status, answer = token_action(app, client, Ids.CREATE_TOKEN, **{
        Ids.TOKEN_NAME: "x", Ids.TOKEN_ACCOUNT: "ana", Ids.TOKEN_SCOPE: "read", Ids.TOKEN_DAYS: 99999})
    assert "invalid expiry 99999" in json.dumps(answer)
    events = [(event, outcome) for event, _, outcome, _ in audit_rows(url) if event.startswith("token")]
    assert events == [("token_create", "ok"), ("token_revoke", "ok"), ("token_create", "refused"),
                      ("token_create", "refused")]


# ----------------------------------------------------------------------------------------------- who may


def test_aa005_other_roles_get_403_and_the_open_mode_gets_the_admins_only_line(admin_app, tmp_path):
    app, url, _ = admin_app
    panel_outputs = [key for key in app.callback_map if "admin-accounts-" in key]
    assert len(panel_outputs) == 3
    for role in (Role.VIEWER, Role.ANALYST):
        add_account(url, role.value, role)
        client = app.server.test_client()
        assert sign_in(client, role.value).status_code == 302
        status, text = account_action(app, client, Ids.ADD, **{Ids.NEW_NAME: "evil", Ids.NEW_ROLE: "admin",
                                                                Ids.NEW_PASSWORD: PASSWORD,
                                                                Ids.NEW_PASSWORD_AGAIN: PASSWORD})
        assert status == 403 and "needs the role 'admin'" in text
        for key in panel_outputs:
            body = callback_body(app, key.strip(".").split(".")[0], None, {})
            assert post(client, body).status_code == 403, key
    assert "evil" not in stored_accounts(url)
    anonymous = app.server.test_client()
    assert anonymous.post(UPDATE, json=callback_body(app, Ids.ACCOUNT_MESSAGE, (Ids.ADD, "n_clicks"), {})
                          ).status_code == 401

    open_url = f"sqlite:///{tmp_path / 'open.sqlite'}"
    open_app = make_app(open_url, tmp_path)  # no account: the open local mode
    client = open_app.server.test_client()
    body = callback_body(open_app, Ids.ACCOUNT_MESSAGE, (Ids.ADD, "n_clicks"), {
        (Ids.NEW_NAME, "value"): "mallory", (Ids.NEW_ROLE, "value"): "admin", (Ids.NEW_PASSWORD, "value"): PASSWORD,
        (Ids.NEW_PASSWORD_AGAIN, "value"): PASSWORD, (Ids.ADD, "n_clicks"): 1})
    response = client.post(UPDATE, json=body)
    assert response.status_code == 200 and ADMINS_ONLY in response.get_data(as_text=True)
    assert run_on(open_url, accounts.count_accounts) == 0
    lists = client.post(UPDATE, json=callback_body(open_app, Ids.ACCOUNTS_TABLE, None, {}))
    assert lists.status_code == 200 and "Nobody is signed in" in lists.get_data(as_text=True)


# ----------------------------------------------------------------------------------------------- navbar, Risk


def layout_nodes(node) -> list[dict]:
    """Return every component (type and props) of a layout document, depth first."""
    if isinstance(node, list):
        return [found for item in node for found in layout_nodes(item)]
    if not isinstance(node, dict) or "props" not in node:
        return []
    children = [found for value in node["props"].values() for found in layout_nodes(value)]
    return [node, *children]


def test_aa006_the_navbar_shows_who_is_signed_in_and_a_sign_out_form(admin_app, tmp_path):
    app, url, client = admin_app
    nodes = layout_nodes(client.get("/_dash-layout").get_json())
    signed_in = [n for n in nodes if n["props"].get("id") == SIGNED_IN_ID]
    assert len(signed_in) == 1
    inside = layout_nodes(signed_in[0])
    texts = [n["props"].get("children") for n in inside if isinstance(n["props"].get("children"), str)]
    assert texts == ["root", "· admin", "Sign out"]
    form = next(n for n in inside if n["type"] == "Form")["props"]
    assert form["action"] == "/logout" and form["method"] == "POST"
    token = next(n for n in inside if n["props"].get("name") == "csrf_token")["props"]["value"]
    signed_out = client.post("/logout", data={"csrf_token": token})
    assert signed_out.status_code == 302 and signed_out.headers["Location"].endswith("/login")
    assert client.get("/_dash-layout").status_code == 401  # the form's token worked: the session ended

    open_app = make_app(f"sqlite:///{tmp_path / 'open.sqlite'}", tmp_path)
    open_nodes = layout_nodes(open_app.server.test_client().get("/_dash-layout").get_json())
    assert not [n for n in open_nodes if n["props"].get("id") == SIGNED_IN_ID]
    assert any(n["props"].get("id") == "navbar" for n in open_nodes)


def test_aa007_a_viewer_sees_no_customer_table_on_the_risk_page(admin_app):
    app, url, _ = admin_app
    add_account(url, "vic", Role.VIEWER)
    add_account(url, "ann", Role.ANALYST)
    pages = {}
    for name in ("vic", "ann"):
        client = app.server.test_client()
        assert sign_in(client, name).status_code == 302
        body = callback_body(app, "page-content", ("url", "pathname"),
                             {("url", "pathname"): "/risk", ("url", "search"): ""})
        response = post(client, body)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        pages[name] = response.get_data(as_text=True)
    assert CUSTOMERS_NEED_ANALYST in pages["vic"] and CUSTOMERS_ROLE_NOTE in pages["vic"]
    assert '"risk-customers-card"' not in pages["vic"] and "risk-customers-" not in pages["vic"].replace(
        CUSTOMERS_ROLE_NOTE, "")
    assert "risk-distribution" in pages["vic"]  # the aggregate cards stay
    assert CUSTOMERS_NEED_ANALYST not in pages["ann"] and "risk-customers-" in pages["ann"]


def test_aa008_the_openapi_document_declares_the_bearer_scheme(admin_app):
    app, _, client = admin_app
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"] == {"bearerAuth": {
        "type": "http", "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"]}}
    assert "tokens create" in spec["components"]["securitySchemes"]["bearerAuth"]["description"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path in ("/api/v1/openapi.json", "/api/v1/docs"):
                assert operation["security"] == [], path
            else:
                assert operation["security"] == [{"bearerAuth": []}], path
                assert "401" in operation["responses"] and "403" in operation["responses"], path
    assert "analyst" in spec["paths"]["/api/v1/risk"]["get"]["description"]
    docs = client.get("/api/v1/docs").get_data(as_text=True)
    assert "python -m dashboard tokens create" in docs
    assert "-H &quot;Authorization: Bearer $TOKEN&quot;" in docs or '-H "Authorization: Bearer $TOKEN"' in docs
