"""The callbacks of the Data page's accounts panel (layouts/admin_accounts.py): list accounts and API tokens, add,
change, disable and remove accounts, create and revoke tokens.

Every action runs through dashboard.accounts in one write transaction with its audit event (actor: the signed-in
admin, address: the client's), after checking on the server that the request comes from a signed-in, enabled
admin (the access rule of the "admin-accounts-" ids refuses other roles with 403 before the callback runs; this
check also covers the open mode, where nothing is signed in). A refused action changes nothing and shows the
AccountError's text; it is recorded in the audit log with the outcome "refused". The last active admin cannot be
disabled, demoted or removed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from dash import Dash, Input, Output, State, callback_context, no_update
from dash.exceptions import PreventUpdate
from flask import request

from dashboard import accounts, audit, db
from dashboard.access_rules import request_principal
from dashboard.accounts import AccountError, Role
from dashboard.backends import backend_spec
from dashboard.context import AppContext, unavailable_kind
from layouts import admin_accounts as view
from layouts.ids import AdminAccountsIds as Ids

log = logging.getLogger(__name__)

WRITE_LOCK_WAIT_SECONDS = 2.0  # an action waits this long for a DuckDB file another process writes
ADMINS_ONLY = "Only a signed-in administrator can manage accounts and API tokens."
DATABASE_BUSY = "The database is busy (an import or another request holds it): nothing changed, try again shortly."
LAST_ADMIN = "refused: {name} is the last active admin; make another account admin first"


@dataclass(frozen=True)
class Outcome:
    """What an action did: ok or refused, the line shown, and (token creation only) the token's text."""

    ok: bool
    message: str
    secret: str | None = None
    token_name: str | None = None


class Refused(Exception):
    """An action refused before it reached the database (no admin signed in): its text is shown, nothing audited."""


# ------------------------------------------------------------------------------------------ who acts, where


def acting_admin() -> accounts.Account:
    """Return the account of the signed-in admin sending the request, else raise Refused (open mode, a token, or
    a lower role: the access rule answers 403 first, this check is the second line)."""
    principal = request_principal()
    if principal is None or principal.scope is not None or principal.account.role != Role.ADMIN:
        raise Refused(ADMINS_ONLY)
    return principal.account


def client_address() -> str:
    """Return the address of the client sending the current request ("" outside a request)."""
    try:
        return request.remote_addr or ""
    except RuntimeError:
        return ""


def write(ctx: AppContext, work: Callable[[Any], Any]) -> Any:
    """Return work(conn) run in one write transaction (a writable engine of its own when the web engine only reads
    an embedded DuckDB file); exceptions propagate (the transaction is then rolled back)."""
    engine = ctx.engine
    own = backend_spec(engine).read_only_readers
    if own:
        engine = db.make_engine(ctx.config.database_url, lock_timeout=WRITE_LOCK_WAIT_SECONDS)
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        if own:
            engine.dispose()


def audited(ctx: AppContext, event: str, detail: str, change: Callable[[Any], str]) -> Outcome:
    """Return the Outcome of `change(conn)` (which returns the line to show) run with its audit event `event` in one
    transaction by the acting admin; a refusal (AccountError) is shown and recorded with the outcome "refused"."""
    try:
        actor = acting_admin()
    except Refused as exc:
        return Outcome(False, str(exc))
    address = client_address()

    def transaction(conn) -> str:
        """Return the line to show after checking the actor, making the change and recording it."""
        current = accounts.get_account(conn, actor.id)
        if current is None or current.disabled or current.role != Role.ADMIN:
            raise Refused(ADMINS_ONLY)
        shown = change(conn)
        audit.record_event(conn, event=event, actor=actor.name, address=address, outcome="ok", detail=detail)
        return shown

    try:
        return Outcome(True, write(ctx, transaction))
    except Refused as exc:
        return Outcome(False, str(exc))
    except AccountError as exc:
        reason = str(exc)
        log.info("account action %s by %s refused: %s", event, actor.name, reason)
        _record_refusal(ctx, event, actor.name, address, f"{detail}: {reason}")
        return Outcome(False, reason)
    except Exception as exc:
        if unavailable_kind(exc) is None and "different configuration" not in str(exc):
            raise
        log.warning("account action %s by %s: database unavailable (%s)", event, actor.name, exc)
        return Outcome(False, DATABASE_BUSY)


def _record_refusal(ctx: AppContext, event: str, actor: str, address: str, detail: str) -> None:
    """Record a refused action in the audit log, in a transaction of its own (nothing else changed); a database
    that cannot be written now only loses the row (logged)."""
    try:
        write(ctx, lambda conn: audit.record_event(conn, event=event, actor=actor, address=address,
                                                   outcome="refused", detail=detail))
    except Exception as exc:  # noqa: BLE001 - the refusal is shown either way
        log.warning("could not record the refused %s: %s", event, exc)


def _keep_an_admin(conn, name: str) -> None:
    """Raise AccountError (rolling the change back) when the change left no active admin."""
    if accounts.count_active_admins(conn) == 0:
        raise AccountError(LAST_ADMIN.format(name=accounts.shown(name)))


def _same_passwords(password: Any, again: Any) -> None:
    """Raise AccountError when the password typed twice differs (the passwords are never shown)."""
    if password != again:
        raise AccountError("the two passwords differ: type the same password twice")


# ------------------------------------------------------------------------------------------ the actions


def add_account(ctx: AppContext, name: Any, role: Any, password: Any, again: Any) -> Outcome:
    """Return the Outcome of adding account `name` with `role` and the password typed twice."""

    def change(conn) -> str:
        """Return the line saying the account was added."""
        _same_passwords(password, again)
        account = accounts.add_account(conn, name, password, role)
        return f"Account {account.name} added with the role {account.role.value}."

    return audited(ctx, "account_add", f"account {accounts.shown(name)} role {accounts.shown(role)}", change)


def set_role(ctx: AppContext, name: Any, role: Any) -> Outcome:
    """Return the Outcome of giving account `name` the role `role` (its sessions end)."""

    def change(conn) -> str:
        """Return the line saying the role changed."""
        account = accounts.set_role(conn, name, role)
        _keep_an_admin(conn, account.name)
        return f"{account.name} now has the role {account.role.value}; their sessions ended."

    return audited(ctx, "role_change", f"account {accounts.shown(name)} to {accounts.shown(role)}", change)


def reset_password(ctx: AppContext, name: Any, password: Any, again: Any) -> Outcome:
    """Return the Outcome of setting account `name`'s password (typed twice; its sessions end)."""

    def change(conn) -> str:
        """Return the line saying the password was reset."""
        _same_passwords(password, again)
        account = accounts.reset_password(conn, name, password)
        return f"The password of {account.name} was reset; their sessions ended."

    return audited(ctx, "password_reset", f"account {accounts.shown(name)}", change)


def disable_account(ctx: AppContext, name: Any) -> Outcome:
    """Return the Outcome of disabling account `name` (no sign-in, no token; it stays listed)."""

    def change(conn) -> str:
        """Return the line saying the account was disabled."""
        account = accounts.disable_account(conn, name)
        _keep_an_admin(conn, account.name)
        return f"{account.name} is disabled: no sign-in, no API token, their sessions ended."

    return audited(ctx, "account_disable", f"account {accounts.shown(name)}", change)


def remove_account(ctx: AppContext, name: Any) -> Outcome:
    """Return the Outcome of removing account `name` and its API tokens."""

    def change(conn) -> str:
        """Return the line saying the account was removed."""
        accounts.remove_account(conn, name)
        _keep_an_admin(conn, str(name))
        return f"Account {name} and its API tokens were removed."

    return audited(ctx, "account_remove", f"account {accounts.shown(name)}", change)


def expiry_days(value: Any) -> Any:
    """Return the expiry field's value as whole days (None: never); other values go on to create_token's check."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def create_token(ctx: AppContext, token_name: Any, account_name: Any, scope: Any, days: Any) -> Outcome:
    """Return the Outcome of creating an API token (its text in `secret`, shown once; only its hash is stored)."""
    made: dict[str, str] = {}

    def change(conn) -> str:
        """Return the line saying the token was created (its text kept aside, never in the audit detail)."""
        token, secret = accounts.create_token(conn, account_name, token_name, scope, expiry_days(days))
        made["secret"] = secret
        expires = view.when(token.expires_at)
        return (f"Token {token.id} ({token.name}) created for {token.account_name}, scope {token.scope.value}, "
                f"expires {expires}.")

    outcome = audited(ctx, "token_create", f"token {accounts.shown(token_name)} for account "
                      f"{accounts.shown(account_name)} scope {accounts.shown(scope)} days {accounts.shown(days)}",
                      change)
    if outcome.ok:
        return Outcome(True, outcome.message, made["secret"], str(token_name))
    return outcome


def revoke_token(ctx: AppContext, token_id: Any) -> Outcome:
    """Return the Outcome of revoking the API token `token_id` (the select's text value, or an int)."""
    if isinstance(token_id, str) and token_id.isdigit() and len(token_id) <= 10:
        token_id = int(token_id)

    def change(conn) -> str:
        """Return the line saying the token was revoked."""
        token = accounts.revoke_token(conn, token_id)
        return f"Token {token.id} ({token.name}, of {token.account_name}) is revoked."

    return audited(ctx, "token_revoke", f"token {accounts.shown(token_id)}", change)


# ------------------------------------------------------------------------------------------ the lists


def panel_lists(ctx: AppContext) -> tuple:
    """Return (accounts table, tokens table, account options, revocable token options) for the signed-in admin;
    in the open mode the line saying how to make the first admin, for anyone else the "admins only" line; no
    options then."""
    if request_principal() is None:  # the open mode: nobody is signed in, nothing to manage here yet
        notice = view.open_mode_notice()
        return notice, notice, [], []
    try:
        acting_admin()
    except Refused as exc:
        notice = view.result_notice(str(exc), ok=False)
        return notice, notice, [], []
    with ctx.engine.connect() as conn:
        every_account = accounts.list_accounts(conn)
        every_token = accounts.list_tokens(conn)
    now = datetime.now(timezone.utc)
    account_options = [{"label": f"{a.name} ({a.role.value}{', disabled' if a.disabled else ''})", "value": a.name}
                       for a in every_account]
    token_options = [{"label": f"{t.id}: {t.name} ({t.account_name}, {t.scope.value})", "value": str(t.id)}
                     for t in every_token if view.token_status(t, now) == "active"]
    return (view.accounts_table(every_account), view.tokens_table(every_token, now), account_options,
            token_options)


ACCOUNT_BUTTONS = {Ids.ADD: "n_clicks", Ids.SET_ROLE: "n_clicks", Ids.RESET_PASSWORD: "n_clicks",
                   Ids.DISABLE: "submit_n_clicks", Ids.REMOVE: "submit_n_clicks"}


def account_action(ctx: AppContext, trigger: str | None, form: dict[str, Any]) -> Outcome:
    """Return the Outcome of the account action whose button `trigger` was pressed, with the panel's `form` values
    (keyed by component id)."""
    if trigger == Ids.ADD:
        return add_account(ctx, form.get(Ids.NEW_NAME), form.get(Ids.NEW_ROLE), form.get(Ids.NEW_PASSWORD),
                           form.get(Ids.NEW_PASSWORD_AGAIN))
    target = form.get(Ids.TARGET)
    if target in (None, ""):
        return Outcome(False, "choose an account first")
    if trigger == Ids.SET_ROLE:
        return set_role(ctx, target, form.get(Ids.TARGET_ROLE))
    if trigger == Ids.RESET_PASSWORD:
        return reset_password(ctx, target, form.get(Ids.RESET_PASSWORD_FIELD), form.get(Ids.RESET_PASSWORD_AGAIN))
    if trigger == Ids.DISABLE:
        return disable_account(ctx, target)
    if trigger == Ids.REMOVE:
        return remove_account(ctx, target)
    raise PreventUpdate


def register(app: Dash, ctx: AppContext) -> None:
    """Register the accounts panel's callbacks on `app`: the lists, the account actions, the token actions."""

    @app.callback(Output(Ids.ACCOUNTS_TABLE, "children"), Output(Ids.TOKENS_TABLE, "children"),
                  Output(Ids.TARGET, "options"), Output(Ids.TOKEN_ACCOUNT, "options"),
                  Output(Ids.REVOKE_TARGET, "options"),
                  Input(Ids.CHANGED, "data"), Input(Ids.TOKENS_CHANGED, "data"))
    def _lists(_accounts_changed, _tokens_changed):
        """Return the two lists and the options of the three selects (after every action, and at first)."""
        accounts_view, tokens_view, account_options, token_options = panel_lists(ctx)
        return accounts_view, tokens_view, account_options, account_options, token_options

    form_ids = (Ids.NEW_NAME, Ids.NEW_ROLE, Ids.NEW_PASSWORD, Ids.NEW_PASSWORD_AGAIN, Ids.TARGET, Ids.TARGET_ROLE,
                Ids.RESET_PASSWORD_FIELD, Ids.RESET_PASSWORD_AGAIN)

    @app.callback(Output(Ids.ACCOUNT_MESSAGE, "children"), Output(Ids.CHANGED, "data"),
                  Output(Ids.NEW_PASSWORD, "value"), Output(Ids.NEW_PASSWORD_AGAIN, "value"),
                  Output(Ids.RESET_PASSWORD_FIELD, "value"), Output(Ids.RESET_PASSWORD_AGAIN, "value"),
                  Output(Ids.NEW_NAME, "value"),
                  *[Input(component, prop) for component, prop in ACCOUNT_BUTTONS.items()],
                  *[State(component, "value") for component in form_ids], State(Ids.CHANGED, "data"),
                  prevent_initial_call=True)
    def _account_action(*values):
        """Return the outcome line, the bumped store (on success) and the cleared passwords of an account action."""
        buttons = len(ACCOUNT_BUTTONS)
        form = dict(zip(form_ids, values[buttons:buttons + len(form_ids)]))
        changed = values[-1] if isinstance(values[-1], int) else 0
        outcome = account_action(ctx, callback_context.triggered_id, form)
        return (view.result_notice(outcome.message, outcome.ok), changed + 1 if outcome.ok else no_update,
                "", "", "", "", "" if outcome.ok and callback_context.triggered_id == Ids.ADD else no_update)

    @app.callback(Output(Ids.TOKEN_MESSAGE, "children"), Output(Ids.TOKEN_SECRET, "children"),
                  Output(Ids.TOKENS_CHANGED, "data"), Output(Ids.TOKEN_NAME, "value"),
                  Input(Ids.CREATE_TOKEN, "n_clicks"), Input(Ids.REVOKE, "submit_n_clicks"),
                  State(Ids.TOKEN_NAME, "value"), State(Ids.TOKEN_ACCOUNT, "value"), State(Ids.TOKEN_SCOPE, "value"),
                  State(Ids.TOKEN_DAYS, "value"), State(Ids.REVOKE_TARGET, "value"), State(Ids.TOKENS_CHANGED, "data"),
                  prevent_initial_call=True)
    def _token_action(_create, _revoke, token_name, account_name, scope, days, revoke_target, changed):
        """Return the outcome line, the new token's text shown once, the bumped store and the cleared name."""
        changed = changed if isinstance(changed, int) else 0
        trigger = callback_context.triggered_id
        if trigger == Ids.CREATE_TOKEN:
            outcome = create_token(ctx, token_name, account_name, scope, days)
        elif trigger == Ids.REVOKE:
            outcome = (revoke_token(ctx, revoke_target) if revoke_target not in (None, "")
                       else Outcome(False, "choose a token first"))
        else:
            raise PreventUpdate
        secret = view.token_secret_notice(outcome.token_name, outcome.secret) if outcome.secret else None
        return (view.result_notice(outcome.message, outcome.ok), secret, changed + 1 if outcome.ok else no_update,
                "" if outcome.secret else no_update)
