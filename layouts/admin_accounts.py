"""The Data page's account administration (issue 19): accounts and API tokens, for admins.

`accounts_panel()` is the panel the Data page's admin area places; its callbacks (callbacks/admin_accounts.py) fill
the lists and run the actions, each refused on the server for anyone but a signed-in admin (every id of
`layouts.ids.AdminAccountsIds` starts with "admin-accounts-": its access rule in dashboard/access_rules.py is the
admin role). The view functions below turn the rows of dashboard.accounts into tables and notices; they read
nothing themselves.
"""

from __future__ import annotations

from datetime import datetime

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.ids import AdminAccountsIds

ROLE_CHOICES = (("viewer", "viewer"), ("analyst", "analyst"), ("admin", "admin"))
SCOPE_CHOICES = (("read", "read (GET routes)"), ("score", "score (also POST routes)"))
NO_ACCOUNTS_YET = "No accounts."


def _field(label: str, control, width: int = 3) -> dbc.Col:
    """Return a labelled form field in a column (full width on a phone)."""
    return dbc.Col([dbc.Label(label, html_for=control.id, className="small mb-1"), control], xs=12, md=width)


def _select(component_id: str, choices, value: str | None = None, placeholder: str | None = None) -> dbc.Select:
    """Return a small select of (value, label) `choices`."""
    return dbc.Select(id=component_id, options=[{"label": label, "value": key} for key, label in choices],
                      value=value, placeholder=placeholder, size="sm")


def _password(component_id: str) -> dbc.Input:
    """Return a password input (never filled back in by the server, cleared after each action)."""
    return dbc.Input(id=component_id, type="password", size="sm", autocomplete="new-password", maxLength=1024)


def _button(component_id: str, text: str, color: str = "primary") -> dbc.Button:
    """Return a small action button."""
    return dbc.Button(text, id=component_id, color=color, size="sm", className="w-100", n_clicks=0)


def _confirmed(component_id: str, text: str, message: str, color: str) -> dcc.ConfirmDialogProvider:
    """Return a button that asks the browser's confirmation `message` first (the action reads submit_n_clicks)."""
    button = dbc.Button(text, color=color, size="sm", className="w-100", outline=True)
    return dcc.ConfirmDialogProvider(button, id=component_id, message=message)


def accounts_section() -> dbc.Card:
    """Return the accounts card: the list, the form adding an account and the form changing one."""
    ids = AdminAccountsIds
    add_form = dbc.Row([
        _field("Name", dbc.Input(id=ids.NEW_NAME, size="sm", maxLength=64, autocomplete="off")),
        _field("Role", _select(ids.NEW_ROLE, ROLE_CHOICES, "viewer"), 2),
        _field("Password", _password(ids.NEW_PASSWORD), 3),
        _field("Password again", _password(ids.NEW_PASSWORD_AGAIN), 2),
        dbc.Col(_button(ids.ADD, "Add account"), xs=12, md=2, className="d-grid align-items-end"),
    ], className="g-2 mb-3")
    change_form = [
        dbc.Row([
            _field("Account", _select(ids.TARGET, (), placeholder="choose an account"), 3),
            _field("New role", _select(ids.TARGET_ROLE, ROLE_CHOICES, "viewer"), 2),
            dbc.Col(_button(ids.SET_ROLE, "Change role", "secondary"), xs=12, md=2,
                    className="d-grid align-items-end"),
            dbc.Col(_confirmed(ids.DISABLE, "Disable", "Disable the chosen account? It can no longer sign in or "
                               "use its API tokens, and its sessions end.", "warning"), xs=6, md=2,
                    className="d-grid align-items-end"),
            dbc.Col(_confirmed(ids.REMOVE, "Remove", "Remove the chosen account and its API tokens? This cannot be "
                               "undone (the audit log keeps its events).", "danger"), xs=6, md=2,
                    className="d-grid align-items-end"),
        ], className="g-2 mb-2"),
        dbc.Row([
            _field("New password", _password(ids.RESET_PASSWORD_FIELD), 3),
            _field("New password again", _password(ids.RESET_PASSWORD_AGAIN), 3),
            dbc.Col(_button(ids.RESET_PASSWORD, "Reset password", "secondary"), xs=12, md=2,
                    className="d-grid align-items-end"),
        ], className="g-2"),
    ]
    return dbc.Card([
        dbc.CardHeader(html.H5("Accounts", className="mb-0")),
        dbc.CardBody([
            html.Div(id=ids.ACCOUNTS_TABLE, className="mb-3"),
            html.H6("Add an account", className="mb-2"), add_form,
            html.H6("Change an account", className="mb-2"), *change_form,
            html.Div(id=ids.ACCOUNT_MESSAGE, className="mt-3", role="status"),
        ]),
    ], className="mb-3")


def tokens_section() -> dbc.Card:
    """Return the API tokens card: the list, the form creating a token (its text shown once) and revoking one."""
    ids = AdminAccountsIds
    create_form = dbc.Row([
        _field("Token name", dbc.Input(id=ids.TOKEN_NAME, size="sm", maxLength=64, autocomplete="off",
                                       placeholder="e.g. nightly-export"), 3),
        _field("Account", _select(ids.TOKEN_ACCOUNT, (), placeholder="choose an account"), 3),
        _field("Scope", _select(ids.TOKEN_SCOPE, SCOPE_CHOICES, "read"), 2),
        _field("Expires after (days)", dbc.Input(id=ids.TOKEN_DAYS, type="number", min=1, max=3650, step=1,
                                                 size="sm", placeholder="never"), 2),
        dbc.Col(_button(ids.CREATE_TOKEN, "Create token"), xs=12, md=2, className="d-grid align-items-end"),
    ], className="g-2 mb-2")
    revoke_form = dbc.Row([
        _field("Token", _select(ids.REVOKE_TARGET, (), placeholder="choose a token"), 4),
        dbc.Col(_confirmed(ids.REVOKE, "Revoke", "Revoke the chosen API token? Programs using it get 401 from now "
                           "on.", "danger"), xs=12, md=2, className="d-grid align-items-end"),
    ], className="g-2")
    return dbc.Card([
        dbc.CardHeader(html.H5("API tokens", className="mb-0")),
        dbc.CardBody([
            html.Div(id=ids.TOKENS_TABLE, className="mb-3"),
            html.H6("Create a token", className="mb-2"), create_form,
            html.Div(id=ids.TOKEN_SECRET),
            html.H6("Revoke a token", className="mb-2 mt-3"), revoke_form,
            html.Div(id=ids.TOKEN_MESSAGE, className="mt-3", role="status"),
        ]),
    ])


def accounts_panel() -> html.Div:
    """Return the accounts and API tokens panel of the Data page's admin area."""
    stores = [dcc.Store(id=AdminAccountsIds.CHANGED, data=0), dcc.Store(id=AdminAccountsIds.TOKENS_CHANGED, data=0)]
    return html.Div([*stores, accounts_section(), tokens_section()],
                    id=AdminAccountsIds.PANEL)


# ------------------------------------------------------------------------------------------ views of the rows


def when(moment: datetime | None, never: str = "never") -> str:
    """Return an aware UTC time as "2026-12-07 09:44 UTC", or `never` for None."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else never


def _table(header: list[str], rows: list[list], table_id: str) -> html.Div:
    """Return a small striped table that scrolls sideways on a phone (its wrapper adds no width to the page: width 0,
    at least the width of its container)."""
    table = dbc.Table([html.Thead(html.Tr([html.Th(h) for h in header])),
                       html.Tbody([html.Tr([html.Td(cell) for cell in row]) for row in rows])],
                      size="sm", striped=True, className="mb-0 small text-nowrap", id=table_id)
    return html.Div(table, className="table-responsive", style={"width": 0, "minWidth": "100%"})


def accounts_table(accounts: list) -> html.Div:
    """Return the table of `accounts` (dashboard.accounts.Account): name, role, created, last sign-in, status."""
    if not accounts:
        return html.P(NO_ACCOUNTS_YET, className="text-muted small mb-0")
    rows = [[account.name, account.role.value, when(account.created_at), when(account.last_sign_in_at),
             html.Span("disabled", className="badge text-bg-secondary") if account.disabled
             else html.Span("active", className="badge text-bg-success")] for account in accounts]
    return _table(["Name", "Role", "Created", "Last sign-in", "Status"], rows, "admin-accounts-list")


def token_status(token, now: datetime) -> str:
    """Return "revoked", "expired" or "active" for a token (dashboard.accounts.ApiToken) at `now` (aware UTC)."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def tokens_table(tokens: list, now: datetime) -> html.Div:
    """Return the table of API `tokens` (never their text): id, name, account, scope, dates, status."""
    if not tokens:
        return html.P("No API tokens yet.", className="text-muted small mb-0")
    rows = [[str(token.id), token.name, token.account_name, token.scope.value, when(token.created_at),
             when(token.expires_at), when(token.last_used_at), token_status(token, now)] for token in tokens]
    return _table(["Id", "Name", "Account", "Scope", "Created", "Expires", "Last used", "Status"], rows,
                  "admin-accounts-token-list")


def open_mode_notice() -> html.P:
    """Return the line shown instead of the lists while nobody is signed in (the open mode): how to begin."""
    return html.P(["Nobody is signed in (no accounts yet, or AUTH_DISABLED=1), so accounts and API tokens cannot be "
                   "managed here. Create the first administrator on the server with ",
                   html.Code("python -m dashboard users add NAME --role admin"),
                   ", then sign in as that account."], className="text-muted small mb-0")


def result_notice(text: str, ok: bool) -> dbc.Alert:
    """Return the line saying what an action did (green) or why it was refused (red)."""
    return dbc.Alert(text, color="success" if ok else "danger", className="py-2 px-3 mb-0 small")


def token_secret_notice(name: str, secret: str) -> dbc.Alert:
    """Return the new token's text, shown this once, with a copy button and the hint that it is not shown again."""
    return dbc.Alert([
        html.Strong(f"Token {name} created. Copy it now: it is not shown again (only its hash is stored)."),
        html.Div([html.Code(secret, id=AdminAccountsIds.TOKEN_SECRET_TEXT, className="user-select-all me-2"),
                  dcc.Clipboard(target_id=AdminAccountsIds.TOKEN_SECRET_TEXT, title="Copy the token",
                                style={"display": "inline-block", "cursor": "pointer"})],
                 className="my-2 text-break"),
        html.Div(["Use it as ", html.Code('curl -H "Authorization: Bearer $TOKEN" …/api/v1/models'), "."],
                 className="small"),
    ], color="warning", className="mb-0")
