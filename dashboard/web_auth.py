"""Sign-in for the web app: /login and /logout, the session, bearer tokens for /api/v1, CSRF, the open local mode.

`register_auth(app, ctx)` adds to the Dash app's Flask server:

- **open local mode**: while the database holds no account (or AUTH_DISABLED=1), nothing needs a sign-in and every
  page shows `OPEN_MODE_BANNER`; then only clients on this machine (loopback) are served, unless AUTH_DISABLED=1.
  Whether accounts exist is read at start and again at most every `ACCOUNTS_RECHECK_SECONDS`; a database that does
  not answer keeps the last answer (none yet: 503 with Retry-After, as nothing can be checked);
- once an account exists, every request is checked against `dashboard.access_rules` before anything else runs:
  a page without a sign-in redirects to /login?next=<path>; /api/v1 and Dash's documents and callbacks answer 401
  JSON with `WWW-Authenticate: Bearer`; a role that may not see a page gets 403 with the reason;
- the session (flask-login): cookie HttpOnly, SameSite=Lax, Secure when the request came over HTTPS; it ends after
  `Config.session_hours`, when the account's session_epoch changed (role change, password reset, disable) or the
  account is disabled or removed (checked at most `ACCOUNT_CACHE_SECONDS` late);
- `Authorization: Bearer <token>` on /api/v1: the token account's role, limited by its scope (read: GET; score: also
  POST); no cookie, so no CSRF token;
- CSRF (flask-wtf): /login, /logout and, once sign-in is required, every POST of a signed-in browser (Dash's
  callbacks included: assets/csrf.js copies the `csrf_token` cookie into the X-CSRFToken header) carries the
  token; without it the answer is 400;
- sign-in attempts limited to `SIGN_IN_LIMIT` per user name and per address (flask-limiter): the next answers 429
  with Retry-After. Sign-ins, failures, refusals and sign-outs go to the audit log (never the password).

The secret key signing the session comes from SECRET_KEY, else from a random key made once and kept (mode 0600)
beside the embedded DuckDB file (or in MODEL_DIR with an external database): `dashboard.auth_startup`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable
from urllib.parse import quote, urlsplit

import sqlalchemy as sa
from dash import Dash, html
from flask import Blueprint, Flask, current_app, g, has_request_context, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix

from dashboard import access_rules, accounts, audit, db
from dashboard.access_rules import API, CALLBACK, OPEN, PAGE
from dashboard.accounts import Account, Role, Scope
from dashboard.auth_startup import is_loopback, secret_key_for
from dashboard.backends import backend_spec
from dashboard.config import ADMIN_CALLBACK_BODY_LIMIT, MAX_CALLBACK_BODY_BYTES
from dashboard.context import AppContext
from dashboard.login_page import sign_in_page, sign_out_page
from dashboard.security_headers import register_security_headers

log = logging.getLogger(__name__)

OPEN_MODE_BANNER = ("No accounts yet: everyone who can reach this address sees everything. Create one with "
                    "`python -m dashboard users add …`")
AUTH_DISABLED_BANNER = ("Sign-in is turned off (AUTH_DISABLED=1): everyone who can reach this address sees "
                        "everything.")
BANNER_ID = "open-mode-banner"
SIGN_IN_LIMIT = "5 per minute"
ACCOUNTS_RECHECK_SECONDS = 5.0
ACCOUNT_CACHE_SECONDS = 2.0
ACCOUNT_STALE_SECONDS = 300.0
WRITE_LOCK_WAIT_SECONDS = 0.5  # an audit row waits this long for a DuckDB file another process writes
SIGNED_IN_AT = "signed_in_at"  # session key: when the sign-in happened (seconds since the epoch)
CSRF_COOKIE = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
WRONG_SIGN_IN = "wrong user name or password"
SIGN_IN_UNAVAILABLE = "Sign-in is not possible right now: the database does not answer. Try again in a minute."
EXTENSION = "dashboard_auth"


# ----------------------------------------------------------------------------------------------- who is asking


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the account, and the token's scope when it came with a bearer token (None: session)."""

    account: Account
    scope: Scope | None = None
    token_id: int | None = None


class SignedInUser(UserMixin):
    """The flask-login user of a session: its id carries the account's session epoch, so a bump ends it."""

    def __init__(self, account: Account):
        self.account = account

    def get_id(self) -> str:
        """Return "<account id>:<session epoch>" (what the session cookie keeps)."""
        return f"{self.account.id}:{self.account.session_epoch}"


def safe_next(target: str | None, home: str) -> str:
    """Return `target` when it is a path on this site (no scheme, no host, no "//" or backslash), else `home`."""
    if not target or not isinstance(target, str) or len(target) > 2048:
        return home
    if any(ord(ch) < 32 or ch == "\\" for ch in target) or not target.startswith("/") or target.startswith("//"):
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return home
    return target


class SecureWhenHttpsSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions with the Secure flag set when the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """Return True for a request made over HTTPS (behind a proxy: with PROXY_HOPS set)."""
        return bool(has_request_context() and request.is_secure) or super().get_cookie_secure(app)


# ----------------------------------------------------------------------------------------------- the state


class AuthState:
    """What the checks share: settings, the engine, whether accounts exist (cached), recently read accounts."""

    def __init__(self, app: Dash, ctx: AppContext):
        self.app = app
        self.ctx = ctx
        self.config = ctx.config
        self._accounts_exist: bool | None = None
        self._checked_at = 0.0
        self._refresh_lock = threading.Lock()
        self._account_cache: dict[int, tuple[float, Account | None]] = {}

    # -- open local mode

    def sign_in_required(self) -> bool:
        """True when a request needs a sign-in: accounts exist (read at most every ACCOUNTS_RECHECK_SECONDS; a
        database that does not answer keeps the last answer; none yet: True, see `accounts_unknown`) and
        AUTH_DISABLED is not set."""
        if self.config.auth_disabled:
            return False
        stale = time.monotonic() - self._checked_at > ACCOUNTS_RECHECK_SECONDS
        if (stale or self._accounts_exist is None) and self._refresh_lock.acquire(blocking=self._accounts_exist is None):
            try:
                with self.ctx.engine.connect() as conn:
                    self._accounts_exist = accounts.count_accounts(conn) > 0
            except Exception as exc:  # unreadable: keep the last answer
                log.warning("could not read whether accounts exist: %s", exc)
            finally:
                self._checked_at = time.monotonic()
                self._refresh_lock.release()
        return self._accounts_exist is not False

    @property
    def accounts_unknown(self) -> bool:
        """True while the database has never answered whether accounts exist (then nothing can be checked)."""
        return not self.config.auth_disabled and self._accounts_exist is None

    def open_mode_text(self) -> str | None:
        """Return the banner of the open mode (no sign-in needed), None when sign-in is required."""
        if self.config.auth_disabled:
            return AUTH_DISABLED_BANNER
        return None if self.sign_in_required() else OPEN_MODE_BANNER

    # -- accounts

    def account(self, account_id: int) -> Account | None:
        """Return the account `account_id` as read at most ACCOUNT_CACHE_SECONDS ago (None: no such account); while
        the database does not answer, the copy read at most ACCOUNT_STALE_SECONDS ago (pages then show their
        "database down" notices instead of sending a signed-in user to /login)."""
        cached = self._account_cache.get(account_id)
        if cached is not None and time.monotonic() - cached[0] <= ACCOUNT_CACHE_SECONDS:
            return cached[1]
        try:
            with self.ctx.engine.connect() as conn:
                found = accounts.get_account(conn, account_id)
        except Exception:  # the database does not answer: the last copy, if recent enough, else no sign-in
            if cached is not None and time.monotonic() - cached[0] <= ACCOUNT_STALE_SECONDS:
                return cached[1]
            raise
        if len(self._account_cache) > 10_000:
            self._account_cache.clear()
        self._account_cache[account_id] = (time.monotonic(), found)
        return found

    def forget_account(self, account_id: int) -> None:
        """Drop the cached copy of account `account_id` (after a sign-in or sign-out)."""
        self._account_cache.pop(account_id, None)

    def write(self, what: str, work: Callable[[sa.Connection], None]) -> bool:
        """Run `work` in a write transaction and return True; on an engine that cannot write now (a DuckDB file
        held by another process, or read by this one) log a warning naming `what` and return False."""
        engine = self.ctx.engine
        own = backend_spec(engine).read_only_readers
        try:
            if own:
                engine = db.make_engine(self.config.database_url, lock_timeout=WRITE_LOCK_WAIT_SECONDS)
            try:
                with engine.begin() as conn:
                    work(conn)
            finally:
                if own:
                    engine.dispose()
            return True
        except Exception as exc:  # the audit row is lost, the request goes on: say so in the log
            log.warning("could not record %s: %s", what, str(exc).splitlines()[0] if str(exc) else exc)
            return False

    def audit(self, event: str, actor: str, outcome: str, detail: str = "") -> None:
        """Record an audit event from the current request's address (and log it)."""
        address = (request.remote_addr or "") if has_request_context() else ""
        log.info("audit %s actor=%r address=%s outcome=%s %s", event, actor[:64], address, outcome, detail)
        self.write(f"the audit event {event}", lambda conn: audit.record_event(
            conn, event=event, actor=actor, address=address, outcome=outcome, detail=detail))

    # -- paths

    @property
    def requests_prefix(self) -> str:
        """Return the path prefix browsers use for the app (Dash's requests_pathname_prefix, e.g. "/")."""
        return self.app.config.requests_pathname_prefix

    def url(self, path: str) -> str:
        """Return the browser URL of the app path `path` (without its leading slash) under the prefix."""
        return self.requests_prefix + path.lstrip("/")


def auth_state() -> AuthState | None:
    """Return the AuthState of the current app (None outside a request or before register_auth)."""
    if not has_request_context():
        return None
    return current_app.extensions.get(EXTENSION)


def open_mode_banner() -> list:
    """Return [the banner component] of the open local mode for the page shell, [] when sign-in is required."""
    state = auth_state()
    text = state.open_mode_text() if state is not None else None
    if text is None:
        return []
    return [html.Div(text, id=BANNER_ID, role="status", className="alert alert-warning small py-1 px-3 mb-0 rounded-0")]


# ----------------------------------------------------------------------------------------------- the principal


def _session_principal(state: AuthState) -> Principal | None:
    """Return the principal of the request's session, None without a valid one (flask-login's loader checks)."""
    user = current_user
    if not getattr(user, "is_authenticated", False):
        return None
    return Principal(account=user.account)


def _bearer_secret() -> str | None:
    """Return the token text of an `Authorization: Bearer ...` header, None without one."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    return secret.strip() if scheme.lower() == "bearer" and secret.strip() else None


def _token_principal(state: AuthState, secret: str) -> Principal | None:
    """Return the principal of a bearer token (its account and scope), None for an unknown, revoked or expired
    token or a disabled account; its time of use is recorded when the database can be written."""
    now = datetime.now(timezone.utc)
    with state.ctx.engine.connect() as conn:
        found = accounts.verify_token(conn, secret, now)
    if found is None:
        return None
    account, token = found
    state.write("a token's time of use", lambda conn: accounts.record_token_use(conn, token.id, now))
    return Principal(account=account, scope=token.scope, token_id=token.id)


# ----------------------------------------------------------------------------------------------- the checks


def _browser_path(state: AuthState) -> str:
    """Return the path and query of the current request as the browser asked for it (under the requests prefix:
    a proxy may have removed it)."""
    routes_prefix = state.app.config.routes_pathname_prefix
    path = request.path[len(routes_prefix):] if request.path.startswith(routes_prefix) else request.path.lstrip("/")
    query = request.query_string.decode("latin-1")
    return state.url(path) + (f"?{query}" if query else "")


def _redirect_to_login(state: AuthState):
    """Return a redirect to /login with next = the requested path and query."""
    return redirect(state.url("login") + "?next=" + quote(_browser_path(state), safe="/"), code=302)


def _check_request(state: AuthState, csrf: CSRFProtect):
    """Return the answer refusing the current request (401, 403, redirect), or None to let it through."""
    prefix = state.app.config.routes_pathname_prefix
    rule = access_rules.endpoint_rule(request.endpoint, prefix)
    if rule is not None and rule.kind == OPEN:
        if request.blueprint == "auth" and request.method == "POST":
            csrf.protect()  # the sign-in and sign-out forms: CSRFError, 400
        return None
    if state.sign_in_required() and state.accounts_unknown:
        return access_rules.unavailable("the database does not answer, so whether a sign-in is needed cannot be "
                                        "checked; try again shortly", ACCOUNTS_RECHECK_SECONDS)
    if not state.sign_in_required():
        if not state.config.auth_disabled and not is_loopback(request.remote_addr):
            return access_rules.forbidden_json(
                "no accounts yet: the open mode serves only this machine. Create an account with "
                "`python -m dashboard users add NAME --role admin`, or set AUTH_DISABLED=1")
        return None
    if rule is None:
        if request.routing_exception is not None:
            return None  # no such route (404) or method (405): Flask answers, nothing is served
        return access_rules.forbidden_page(request.path, None, None, state.url(""))
    if rule.kind == API:
        return _check_api(state, rule, csrf)
    principal = _session_principal(state)
    g.principal = principal
    if principal is None:
        if rule.kind == PAGE:
            return _redirect_to_login(state)
        return access_rules.unauthorized_api("sign in first (your session ended or there was none)")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()  # CSRFError: 400
    if rule.kind == PAGE:
        path = request.path[len(prefix) - 1:] if request.path.startswith(prefix) else request.path
        needed = access_rules.page_role(path)
        if not principal.account.role.allows(needed):
            return access_rules.forbidden_page(f"The page {path}", needed, principal.account.role, state.url(""))
    return None  # CALLBACK: checked after the request guards (`_check_callback`)


def _check_api(state: AuthState, rule: access_rules.RouteRule, csrf: CSRFProtect):
    """Return the answer refusing an API request (401, 403), or None: a bearer token or the session's account."""
    secret = _bearer_secret()
    if secret is not None:
        principal = _token_principal(state, secret)
        if principal is None:
            return access_rules.unauthorized_api("the token is unknown, revoked or expired, or its account is "
                                                 "disabled", error="invalid_token")
        if not access_rules.scope_allows(principal.scope, request.method):
            return access_rules.forbidden_json(f"the token's scope {principal.scope.value!r} does not allow "
                                               f"{request.method} (read: GET only; score: also POST)")
    else:
        principal = _session_principal(state)
        if principal is None:
            return access_rules.unauthorized_api()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            csrf.protect()
    g.principal = principal
    if not principal.account.role.allows(rule.role):
        return access_rules.forbidden_json(f"{request.path} needs the role {rule.role.value!r}; the account has "
                                           f"{principal.account.role.value!r}")
    return None


def _check_callback(state: AuthState):
    """Return 403 when the signed-in account's role may not run the callback the request names, else None."""
    principal = g.get("principal")
    if principal is None:
        return None
    body = request.get_json(silent=True)
    output = body.get("output") if isinstance(body, dict) else None
    callback = state.app.callback_map.get(output) if isinstance(output, str) else None
    if callback is None:
        return None  # the request guards answered 400 already
    needed = access_rules.callback_role(output, callback, body, state.requests_prefix)
    if needed is None:
        return access_rules.forbidden_json(f"the callback {output[:200]!r} has no access rule")
    if not principal.account.role.allows(needed):
        return access_rules.forbidden_json(f"this part of the page needs the role {needed.value!r}; the account "
                                           f"has {principal.account.role.value!r}")
    return None


# ----------------------------------------------------------------------------------------------- sign-in pages


def _may_administer(state: AuthState) -> bool:
    """True when the current request comes from a signed-in administrator's session, or anyone in the open mode."""
    if not state.sign_in_required():
        return not state.accounts_unknown
    user = current_user
    return bool(getattr(user, "is_authenticated", False)) and user.account.role.allows(Role.ADMIN)


def _username_key() -> str:
    """Return the rate-limit key of the user name posted to /login (case-insensitive)."""
    return "user:" + str(request.form.get("username", ""))[:64].strip().lower()


def _address_key() -> str:
    """Return the rate-limit key of the client's address."""
    return "address:" + (request.remote_addr or "")


def _login_blueprint(state: AuthState, limiter: Limiter) -> Blueprint:
    """Return the blueprint of /login (GET form, POST sign-in) and /logout (GET button, POST sign-out)."""
    bp = Blueprint("auth", __name__)
    assets = state.app.get_asset_url("")

    def on_breach(limit) -> None:
        """Record the refused sign-in attempt in the audit log (returns nothing: the 429 comes from the handler)."""
        state.audit("sign_in", str(request.form.get("username", ""))[:64], "rate_limited", f"limit {limit.limit}")

    @bp.route("/login", methods=["GET", "POST"])
    @limiter.limit(SIGN_IN_LIMIT, key_func=_address_key, methods=["POST"], on_breach=on_breach)
    @limiter.limit(SIGN_IN_LIMIT, key_func=_username_key, methods=["POST"], on_breach=on_breach)
    def login():
        """Return the sign-in form (GET), or sign in and redirect to next (POST); failures say only that the name
        or password is wrong."""
        home = state.url("")
        next_path = safe_next(request.values.get("next"), home)
        if request.method == "GET":
            if _session_principal(state) is not None:
                return redirect(next_path)
            return sign_in_page(action=state.url("login"), assets=assets, csrf_token=generate_csrf(),
                                next_path=next_path)
        name = str(request.form.get("username", ""))[:64].strip()
        password = str(request.form.get("password", ""))
        try:
            with state.ctx.engine.connect() as conn:
                account = accounts.check_password(conn, name, password)
        except Exception as exc:  # the database does not answer (or holds no account table yet)
            log.warning("sign-in of %r not checked: %s", name, str(exc).splitlines()[0] if str(exc) else exc)
            return sign_in_page(action=state.url("login"), assets=assets, csrf_token=generate_csrf(),
                                next_path=next_path, username=name, message=SIGN_IN_UNAVAILABLE), 503
        if account is None:
            state.audit("sign_in", name, "failed")
            return sign_in_page(action=state.url("login"), assets=assets, csrf_token=generate_csrf(),
                                next_path=next_path, username=name, message=WRONG_SIGN_IN), 200
        session.clear()  # a new session for the new sign-in (no fixation)
        login_user(SignedInUser(account))
        session.permanent = True
        session[SIGNED_IN_AT] = time.time()
        now = datetime.now(timezone.utc)
        state.write("the sign-in time", lambda conn: accounts.record_sign_in(conn, account.id, now))
        state.forget_account(account.id)
        state.audit("sign_in", account.name, "ok", f"role {account.role.value}")
        return redirect(next_path)

    @bp.route("/logout", methods=["GET", "POST"])
    def logout():
        """Return the sign-out button (GET), or end the session and go to /login (POST)."""
        principal = _session_principal(state)
        if request.method == "GET":
            if principal is None:
                return redirect(state.url("login"))
            return sign_out_page(action=state.url("logout"), assets=assets, csrf_token=generate_csrf(),
                                 name=principal.account.name, role=principal.account.role.value)
        if principal is not None:
            state.audit("sign_out", principal.account.name, "ok")
            state.forget_account(principal.account.id)
        logout_user()
        session.clear()
        return redirect(state.url("login"))

    return bp


# ----------------------------------------------------------------------------------------------- registration


def register_auth(app: Dash, ctx: AppContext) -> None:
    """Add sign-in, the access checks, CSRF, the sign-in limit and the security headers to `app.server` (call it
    after the request guards: the callback role check runs after their envelope check)."""
    server: Flask = app.server
    config = ctx.config
    state = AuthState(app, ctx)
    server.extensions[EXTENSION] = state
    state.sign_in_required()  # read whether accounts exist now, while starting (a database down later keeps it)
    server.secret_key = secret_key_for(config)
    server.session_interface = SecureWhenHttpsSessions()
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in the request gate, only where it applies
        WTF_CSRF_TIME_LIMIT=None,  # valid as long as the session
        WTF_CSRF_HEADERS=[CSRF_HEADER],
        WTF_CSRF_SSL_STRICT=False,  # the Referer is not sent across the proxy reliably; the token is the check
    )
    csrf = CSRFProtect(server)
    login_manager = LoginManager(server)

    @login_manager.user_loader
    def _load_user(user_id: str) -> SignedInUser | None:
        """Return the session's user, None when the session ended (expired, epoch changed, disabled, removed)."""
        account_id, _, epoch = user_id.partition(":")
        signed_in_at = session.get(SIGNED_IN_AT)
        if not account_id.isdigit() or not epoch.isdigit() or not isinstance(signed_in_at, (int, float)):
            return None
        if time.time() - signed_in_at > config.session_hours * 3600:
            return None
        try:
            account = state.account(int(account_id))
        except Exception as exc:  # the database does not answer: no check possible, no access
            log.warning("could not read account %s: %s", account_id, exc)
            return None
        if account is None or account.disabled or account.session_epoch != int(epoch):
            return None
        return SignedInUser(account)

    limiter = Limiter(_address_key, app=server, storage_uri=config.cache_redis_url or "memory://",
                      headers_enabled=True, swallow_errors=True, in_memory_fallback_enabled=True,
                      key_prefix="signin")
    server.register_blueprint(_login_blueprint(state, limiter),
                              url_prefix=app.config.routes_pathname_prefix.rstrip("/") or None)
    if config.proxy_hops:  # behind a reverse proxy: the client's address, scheme, host and prefix it forwards
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=config.proxy_hops, x_proto=config.proxy_hops,
                                   x_host=config.proxy_hops, x_prefix=config.proxy_hops)

    def _gate():
        """Return the refusal of the current request, or None (`_check_request`)."""
        return _check_request(state, csrf)

    def _callback_body_limit():
        """Return 413 for a callback request whose body is over its limit, else None: the limit is set here,
        before anything (the CSRF check, the request guards) reads the body, so that every later read is bounded
        (werkzeug fixes a request stream's limit when it is first opened)."""
        if request.method != "POST" or access_rules.endpoint_rule(
                request.endpoint, app.config.routes_pathname_prefix) != access_rules.RouteRule(CALLBACK):
            return None
        limit, why = MAX_CALLBACK_BODY_BYTES, ""
        if server.extensions.get(ADMIN_CALLBACK_BODY_LIMIT) and _may_administer(state):
            admin_limit, reason = server.extensions[ADMIN_CALLBACK_BODY_LIMIT]  # (bytes, why) of the uploads
            limit, why = max(limit, int(admin_limit)), f" ({reason})"
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            most = f"{limit:,}" if why else str(limit)  # the request guards' wording for everyone else
            response = jsonify(error="too_large", message=f"request body: at most {most} bytes{why}")
            response.status_code = 413
            return response
        return None

    funcs = server.before_request_funcs.setdefault(None, [])
    funcs.insert(0, _gate)  # before the request guards and Dash
    funcs.insert(0, _callback_body_limit)  # before the gate: its CSRF check may open the request's body

    @server.before_request
    def _callback_role():
        """Return 403 for a callback the signed-in role may not run, else None."""
        if request.endpoint is None or access_rules.endpoint_rule(
                request.endpoint, app.config.routes_pathname_prefix) != access_rules.RouteRule(CALLBACK):
            return None
        return _check_callback(state) if state.sign_in_required() else None

    @server.after_request
    def _csrf_cookie(response):
        """Return `response` with the csrf_token cookie for assets/csrf.js when a browser session is signed in."""
        if g.get("principal") is not None and g.principal.scope is None and request.method == "GET":
            response.set_cookie(CSRF_COOKIE, generate_csrf(), httponly=False, samesite="Lax",
                                secure=request.is_secure, path=state.requests_prefix)
        return response

    @server.errorhandler(CSRFError)
    def _csrf_refused(exc: CSRFError):
        """Return the 400 answer of a POST without a valid CSRF token (the sign-in form again for /login)."""
        log.info("refused a request without a valid CSRF token: %s", exc.description)
        message = f"CSRF check failed: {exc.description} Reload the page and try again."
        if request.blueprint == "auth":  # the sign-in form: show it again, with a fresh token
            return sign_in_page(action=state.url("login"), assets=app.get_asset_url(""), csrf_token=generate_csrf(),
                                next_path=safe_next(request.values.get("next"), state.url("")), message=message), 400
        return access_rules.bad_request(message)

    @server.errorhandler(RateLimitExceeded)
    def _too_many(exc: RateLimitExceeded):
        """Return the sign-in page with 429 and Retry-After for an attempt over the limit."""
        retry_after = _retry_after_seconds(limiter)
        message = f"Too many sign-in attempts: try again in {retry_after} seconds."
        body = sign_in_page(action=state.url("login"), assets=app.get_asset_url(""), csrf_token=generate_csrf(),
                            next_path=safe_next(request.values.get("next"), state.url("")), message=message)
        return body, 429, {"Retry-After": str(retry_after)}

    register_security_headers(app)


def _retry_after_seconds(limiter: Limiter) -> int:
    """Return the seconds until the sign-in limit the current request broke lets a new attempt through (>= 1)."""
    limit = limiter.current_limit
    if limit is None:
        return 60
    return max(1, int(limit.reset_at - time.time()) + 1)
