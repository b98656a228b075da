"""Sign-in (issue 19): the open local mode, /login and /logout, the session's end, the sign-in limit, CSRF, the
secret key and the refusal of an open non-loopback bind. Real app (Flask test client), real databases."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from dashboard import accounts, db
from dashboard.accounts import Role
from dashboard.auth_startup import SECRET_FILE_NAME, check_open_bind, secret_key_file, secret_key_for
from dashboard.config import Config
from dashboard.web_auth import (ACCOUNT_CACHE_SECONDS, ACCOUNTS_RECHECK_SECONDS, OPEN_MODE_BANNER, SIGNED_IN_AT,
                                WRONG_SIGN_IN)
from tests.app.auth_helpers import (PASSWORD, add_account, audit_rows, csrf_cookie, csrf_of, make_app, run_on,
                                    sign_in)

REPO = Path(__file__).resolve().parents[2]
UPDATE = "/_dash-update-component"
SUMMARY_CALLBACK = {"output": "..risk-status.children...risk-scores-date.children..",
                    "outputs": [{"id": "risk-status", "property": "children"},
                                {"id": "risk-scores-date", "property": "children"}],
                    "inputs": [{"id": "filter-state", "property": "data", "value": None}],
                    "changedPropIds": []}


@pytest.fixture
def sqlite_url(tmp_path):
    """URL of an empty SQLite database file (schema made by make_app)."""
    return f"sqlite:///{tmp_path / 'auth.sqlite'}"


def _layout_text(client) -> str:
    """Return the text of the app's layout document."""
    response = client.get("/_dash-layout")
    assert response.status_code == 200
    return response.get_data(as_text=True)


# ----------------------------------------------------------------------------------------------- open local mode


def test_au001_without_accounts_everything_is_open_and_every_page_says_so(sqlite_url, tmp_path):
    client = make_app(sqlite_url, tmp_path).server.test_client()
    for path in ("/", "/risk", "/data", "/no-such-page", "/_dash-dependencies"):
        assert client.get(path).status_code == 200, path
    assert OPEN_MODE_BANNER in _layout_text(client)
    assert client.get("/api/v1/models").status_code == 200
    answer = client.post(UPDATE, json=SUMMARY_CALLBACK)  # no CSRF token needed: nobody signs in
    assert answer.status_code in (200, 204), answer.get_data(as_text=True)[:300]
    assert client.get("/login").status_code == 200


def test_au002_the_open_mode_serves_only_this_machine_unless_auth_disabled(sqlite_url, tmp_path):
    client = make_app(sqlite_url, tmp_path).server.test_client()
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    refused = client.get("/", environ_base=remote)
    assert refused.status_code == 403 and "AUTH_DISABLED=1" in refused.get_json()["message"]
    assert client.get("/api/v1/models", environ_base=remote).status_code == 403
    assert client.get("/health", environ_base=remote).status_code == 200
    assert client.get("/", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200

    disabled = make_app(sqlite_url, tmp_path, auth_disabled=True).server.test_client()
    assert disabled.get("/", environ_base=remote).status_code == 200
    assert "AUTH_DISABLED=1" in disabled.get("/_dash-layout", environ_base=remote).get_data(as_text=True)


def test_au003_the_first_account_closes_everything_but_static_files_and_health(sqlite_url, tmp_path):
    app = make_app(sqlite_url, tmp_path)
    client = app.server.test_client()
    assert client.get("/risk").status_code == 200  # open: no account yet
    add_account(sqlite_url, "ann", Role.VIEWER)
    time.sleep(ACCOUNTS_RECHECK_SECONDS + 0.2)  # the running app reads it again within this time

    page = client.get("/risk?band=high")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/risk%3Fband%3Dhigh"
    for path in ("/_dash-layout", "/_dash-dependencies", "/api/v1/models", "/api/v1/risk"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["WWW-Authenticate"].startswith("Bearer") and answer.get_json()["error"] == "unauthorized"
    assert client.post(UPDATE, json=SUMMARY_CALLBACK).status_code == 401
    for path in ("/health", "/ready", "/login", "/assets/bootstrap.min.css", "/assets/csrf.js", "/api/v1/docs",
                 "/api/v1/openapi.json"):
        assert client.get(path).status_code == 200, path
    assert OPEN_MODE_BANNER.split(":")[0] not in client.get("/login").get_data(as_text=True)


# ----------------------------------------------------------------------------------------------- signing in


def test_au004_sign_in_redirects_to_next_and_records_it_on_every_backend(database_url, tmp_path):
    add_account(database_url, "Ann", Role.ANALYST)
    client = make_app(database_url, tmp_path).server.test_client()

    wrong = sign_in(client, "ann", "not the password")
    unknown = sign_in(client, "nobody", PASSWORD)
    for answer in (wrong, unknown):
        text = answer.get_data(as_text=True)
        assert answer.status_code == 200 and WRONG_SIGN_IN in text
        assert "not the password" not in text
    assert client.get("/").status_code == 302

    signed = sign_in(client, "ann", next_path="/cohorts?period=all")  # names are case-insensitive
    assert signed.status_code == 302 and signed.headers["Location"] == "/cohorts?period=all"
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert client.get("/cohorts").status_code == 200
    assert client.get("/login").headers["Location"] == "/"  # signed in already: on to next

    rows = audit_rows(database_url)
    assert [(event, actor, outcome) for event, actor, outcome, _ in rows] == [
        ("sign_in", "ann", "failed"), ("sign_in", "nobody", "failed"), ("sign_in", "Ann", "ok")]
    assert all(PASSWORD not in detail and "not the password" not in detail for *_, detail in rows)
    account = run_on(database_url, lambda conn: accounts.find_account(conn, "ann"))
    assert account.last_sign_in_at is not None


def test_au005_the_session_cookie_is_secure_over_https(sqlite_url, tmp_path):
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    page = client.get("/login", base_url="https://localhost")
    answer = client.post("/login", base_url="https://localhost",
                         data={"username": "ann", "password": PASSWORD, "csrf_token": csrf_of(page.get_data(as_text=True))})
    assert answer.status_code == 302
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)", "http:/evil", "/\t/evil.example", ""])
def test_au006_next_is_only_a_path_of_this_site(sqlite_url, tmp_path, target):
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    answer = sign_in(client, "ann", next_path=target)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_au007_the_sixth_attempt_in_a_minute_gets_429_per_name_and_per_address(sqlite_url, tmp_path):
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    for attempt in range(5):  # one name from five addresses
        answer = client.post("/login", data={"username": "ann", "password": f"wrong {attempt}",
                                             "csrf_token": csrf_of(client.get("/login").get_data(as_text=True))},
                             environ_base={"REMOTE_ADDR": f"10.0.0.{attempt + 1}"})
        assert answer.status_code == 200
    limited = sign_in(client, "ann")  # the right password, from a sixth address: still refused
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert "Too many sign-in attempts" in limited.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in

    for attempt in range(5):  # one address, five other names
        sign_in(client, f"someone{attempt}", "wrong password", next_path="/")
    assert sign_in(client, "bob").status_code == 429
    outcomes = [(event, outcome) for event, _, outcome, _ in audit_rows(sqlite_url)]
    assert outcomes.count(("sign_in", "rate_limited")) == 2 and outcomes.count(("sign_in", "failed")) == 10


# ----------------------------------------------------------------------------------------------- CSRF


def test_au008_posts_without_the_csrf_token_are_refused_400(sqlite_url, tmp_path):
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    client.get("/login")
    no_token = client.post("/login", data={"username": "ann", "password": PASSWORD})
    assert no_token.status_code == 400 and "CSRF check failed" in no_token.get_data(as_text=True)
    assert client.get("/").status_code == 302  # not signed in

    assert sign_in(client, "ann").status_code == 302
    assert client.get("/").status_code == 200
    refused = client.post(UPDATE, json=SUMMARY_CALLBACK)
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]
    forged = client.post(UPDATE, json=SUMMARY_CALLBACK, headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400
    accepted = client.post(UPDATE, json=SUMMARY_CALLBACK, headers={"X-CSRFToken": csrf_cookie(client)})
    assert accepted.status_code in (200, 204), accepted.get_data(as_text=True)[:300]

    assert client.post("/logout").status_code == 400  # sign-out needs the token too
    assert client.get("/").status_code == 200


def test_au009_sign_out_ends_the_session_and_is_audited(sqlite_url, tmp_path):
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    sign_in(client, "ann")
    form = client.get("/logout").get_data(as_text=True)
    answer = client.post("/logout", data={"csrf_token": csrf_of(form)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert audit_rows(sqlite_url)[-1][:3] == ("sign_out", "ann", "ok")


# ----------------------------------------------------------------------------------------------- the session ends


def test_au010_a_session_expires_after_session_hours(sqlite_url, tmp_path):
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path, session_hours=2).server.test_client()
    sign_in(client, "ann")
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = time.time() - 2 * 3600 + 60  # one minute left
    assert client.get("/").status_code == 200
    with client.session_transaction() as session:
        session[SIGNED_IN_AT] = time.time() - 2 * 3600 - 1
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/models").status_code == 401


@pytest.mark.parametrize("change", ["role", "password", "disable", "remove"])
def test_au011_a_session_ends_when_its_account_changes(sqlite_url, tmp_path, change):
    add_account(sqlite_url, "ann", Role.ANALYST)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    sign_in(client, "ann")
    assert client.get("/").status_code == 200
    work = {"role": lambda conn: accounts.set_role(conn, "ann", Role.VIEWER),
            "password": lambda conn: accounts.reset_password(conn, "ann", "another good password"),
            "disable": lambda conn: accounts.disable_account(conn, "ann"),
            "remove": lambda conn: accounts.remove_account(conn, "ann")}[change]
    run_on(sqlite_url, work)
    time.sleep(ACCOUNT_CACHE_SECONDS + 0.2)
    assert client.get("/").status_code == 302
    assert client.get("/_dash-layout").status_code == 401
    if change == "disable":
        assert WRONG_SIGN_IN in sign_in(client, "ann").get_data(as_text=True)


# ----------------------------------------------------------------------------------------------- the secret key


def test_au012_the_generated_key_is_kept_0600_and_sessions_survive_a_restart(sqlite_url, tmp_path):
    add_account(sqlite_url, "ann", Role.VIEWER)
    first = make_app(sqlite_url, tmp_path)
    key_file = secret_key_file(first.server.extensions["dashboard_context"].config)
    assert key_file == tmp_path / "models" / SECRET_FILE_NAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    client = first.server.test_client()
    sign_in(client, "ann")
    cookie = client.get_cookie("session").value

    second = make_app(sqlite_url, tmp_path).server.test_client()  # a restart: the same key from the file
    second.set_cookie("session", cookie)
    assert second.get("/").status_code == 200
    other = make_app(sqlite_url, tmp_path, secret_key="a key set in the environment").server.test_client()
    other.set_cookie("session", cookie)
    assert other.get("/").status_code == 302  # signed with another key: no session


def test_au013_the_key_sits_beside_the_embedded_duckdb_file(tmp_path, monkeypatch):
    monkeypatch.setenv("DUCKDB_PATH", str(tmp_path / "embedded" / "dash.duckdb"))
    config = Config(model_dir=tmp_path / "models")
    key = secret_key_for(config)
    path = tmp_path / "embedded" / SECRET_FILE_NAME
    assert path.read_text().strip() == key and len(key) >= 60
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert secret_key_for(config) == key
    assert secret_key_for(Config(secret_key="from the environment")) == "from the environment"


# ----------------------------------------------------------------------------------------------- the bind


def test_au014_an_open_app_refuses_a_non_loopback_bind(sqlite_url, tmp_path):
    engine = db.make_engine(sqlite_url)
    db.create_schema(engine)
    engine.dispose()
    exposed = Config(database_url=sqlite_url, host="0.0.0.0")
    with pytest.raises(SystemExit, match="HOST=0.0.0.0 is reachable from other machines"):
        check_open_bind(exposed)
    check_open_bind(Config(database_url=sqlite_url, host="0.0.0.0", auth_disabled=True))
    check_open_bind(Config(database_url=sqlite_url, host="127.0.0.1"))
    add_account(sqlite_url, "ann", Role.ADMIN)
    check_open_bind(exposed)  # an account exists: sign-in protects it


def test_au015_python_app_py_on_0_0_0_0_without_accounts_stops_with_the_reason(tmp_path):
    env = {**os.environ, "DUCKDB_PATH": str(tmp_path / "dev.duckdb"), "HOST": "0.0.0.0", "PORT": "8050"}
    for name in ("DATABASE_URL", "DASHBOARD_DEBUG", "AUTH_DISABLED"):
        env.pop(name, None)
    refused = subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=120)
    assert refused.returncode != 0
    assert "no account" in refused.stderr and "AUTH_DISABLED=1" in refused.stderr
    assert not (tmp_path / "dev.duckdb").exists()  # refused before anything was built


# ----------------------------------------------------------------------------------------------- prefix and proxy


def test_au016_behind_a_proxy_that_strips_a_path_prefix_links_keep_it(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DASH_REQUESTS_PATHNAME_PREFIX", "/app/")  # the browser's paths; the proxy removes /app
    add_account(sqlite_url, "ann", Role.VIEWER)
    app = make_app(sqlite_url, tmp_path)
    client = app.server.test_client()
    answer = client.get("/risk?band=high")
    assert answer.headers["Location"] == "/app/login?next=/app/risk%3Fband%3Dhigh"
    form = client.get("/login").get_data(as_text=True)
    assert 'action="/app/login"' in form and 'href="/app/assets/bootstrap.min.css"' in form
    signed = sign_in(client, "ann", next_path="/app/risk")
    assert signed.headers["Location"] == "/app/risk"
    assert sign_in(app.server.test_client(), "ann", next_path="//evil.example").headers["Location"] == "/app/"


def test_au017_under_a_path_prefix_every_route_moves_with_it(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DASH_URL_BASE_PATHNAME", "/app/")  # no proxy rewriting: the app serves /app/...
    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path).server.test_client()
    assert client.get("/app/risk").headers["Location"] == "/app/login?next=/app/risk"
    assert client.get("/app/_dash-layout").status_code == 401
    page = client.get("/app/login").get_data(as_text=True)
    answer = client.post("/app/login", data={"username": "ann", "password": PASSWORD, "csrf_token": csrf_of(page),
                                             "next": "/app/risk"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/app/risk"
    assert client.get("/app/risk").status_code == 200 and client.get("/app/_dash-layout").status_code == 200


def test_au018_proxy_hops_trusts_the_forwarded_scheme_and_address(sqlite_url, tmp_path):
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    open_app = make_app(sqlite_url, tmp_path, proxy_hops=1).server.test_client()
    assert open_app.get("/", headers=proxied).status_code == 403  # the open mode: the real client is not local
    assert make_app(sqlite_url, tmp_path).server.test_client().get("/", headers=proxied).status_code == 200

    add_account(sqlite_url, "ann", Role.VIEWER)
    client = make_app(sqlite_url, tmp_path, proxy_hops=1).server.test_client()
    page = client.get("/login", headers=proxied).get_data(as_text=True)
    answer = client.post("/login", headers=proxied,
                         data={"username": "ann", "password": PASSWORD, "csrf_token": csrf_of(page)})
    cookie = next(c for c in answer.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert answer.status_code == 302 and "Secure" in cookie
    assert audit_rows(sqlite_url)[-1][:3] == ("sign_in", "ann", "ok")
    engine = db.make_engine(sqlite_url)
    with engine.connect() as conn:
        address = conn.execute(sa.select(db.audit_log.c.address).order_by(db.audit_log.c.id.desc())).first()[0]
    engine.dispose()
    assert address == "203.0.113.5"


def test_au019_a_database_that_never_answered_gets_503_not_an_open_app(tmp_path):
    app = create_app(Config(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", autofill_demo=False,
                            model_dir=tmp_path / "models"))
    client = app.server.test_client()
    for path in ("/", "/_dash-layout", "/api/v1/models"):
        answer = client.get(path)
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5", path
        assert "whether a sign-in is needed cannot be checked" in answer.get_json()["message"]
    assert client.get("/health").status_code == 200
    assert client.get("/login").status_code == 200
