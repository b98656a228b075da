"""`users` and `tokens`: the accounts and API tokens of the dashboard from the command line (docs/accounts.md).

Each command changes the database of DATABASE_URL in one transaction together with its audit event (actor "cli");
a refused command (unknown account, taken name, weak password...) changes nothing and exits 2 with one line.
Passwords come from a prompt asked twice (on a terminal) or from one line of standard input (`--password-stdin`);
a token's text is printed once, by `tokens create`, and is never stored.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from contextlib import contextmanager
from datetime import datetime

from dashboard import accounts, audit, db
from dashboard.accounts import AccountError, Role, Scope

ACTOR = "cli"
ROLE_NAMES = "|".join(role.value for role in Role)
SCOPE_NAMES = "|".join(scope.value for scope in Scope)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `users` and `tokens` commands with their subcommands."""
    _register_users(subparsers)
    _register_tokens(subparsers)


def _register_users(subparsers: argparse._SubParsersAction) -> None:
    """Add `users` with add, list, set-role, reset-password, disable and remove."""
    users = subparsers.add_parser(
        "users", help="dashboard accounts: add, list, set-role, reset-password, disable, remove",
        description="Manage who may sign in to the dashboard and with which role (viewer: the aggregate pages; "
        "analyst: also customer-level data; admin: also the Data page's administration). As soon as one account "
        "exists, the dashboard asks everyone to sign in. See docs/accounts.md.",
    )
    commands = users.add_subparsers(dest="users_command", metavar="SUBCOMMAND")
    commands.required = True
    add = commands.add_parser("add", help="add an account (password asked twice, or --password-stdin)",
                              description="Add an account. Name: " + accounts.NAME_RULE + "; one account per name "
                              f"whatever its case. Password: at least {accounts.MIN_PASSWORD} characters.")
    add.add_argument("name", metavar="NAME", help="the account's user name")
    add.add_argument("--role", required=True, metavar=ROLE_NAMES, help="the account's role")
    _password_stdin_argument(add)
    add.set_defaults(func=run_add)
    listing = commands.add_parser("list", help="list the accounts", description="List every account: id, name, "
                                  "role, created, last sign-in (UTC), disabled.")
    listing.set_defaults(func=run_list)
    set_role = commands.add_parser("set-role", help="change an account's role (its sessions end)",
                                   description="Give an account another role; its open sessions end.")
    set_role.add_argument("name", metavar="NAME")
    set_role.add_argument("role", metavar=ROLE_NAMES)
    set_role.set_defaults(func=run_set_role)
    reset = commands.add_parser("reset-password", help="set a new password (its sessions end)",
                                description="Set an account's password (asked twice, or --password-stdin); its "
                                "open sessions end.")
    reset.add_argument("name", metavar="NAME")
    _password_stdin_argument(reset)
    reset.set_defaults(func=run_reset_password)
    disable = commands.add_parser("disable", help="disable an account: no sign-in, no API token; sessions end",
                                  description="Disable an account: it can no longer sign in, its API tokens stop "
                                  "working and its open sessions end. The account stays listed.")
    disable.add_argument("name", metavar="NAME")
    disable.set_defaults(func=run_disable)
    remove = commands.add_parser("remove", help="delete an account and its API tokens",
                                 description="Delete an account and its API tokens (the audit log keeps its events).")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=run_remove)


def _register_tokens(subparsers: argparse._SubParsersAction) -> None:
    """Add `tokens` with create, list and revoke."""
    tokens = subparsers.add_parser(
        "tokens", help="API tokens: create (printed once), list, revoke",
        description="Manage the tokens the REST API takes as `Authorization: Bearer <token>`, with the rights of "
        "the token's account, limited by its scope (read: the GET routes; score: also the POST routes). Only a "
        "hash of each token is stored. See docs/accounts.md.",
    )
    commands = tokens.add_subparsers(dest="tokens_command", metavar="SUBCOMMAND")
    commands.required = True
    create = commands.add_parser("create", help="create a token and print it once",
                                 description="Create an API token for an account and print it once on standard "
                                 "output (the details go to standard error): copy it now, it cannot be shown again.")
    create.add_argument("name", metavar="NAME", help="the token's name, e.g. what uses it (" + accounts.NAME_RULE + ")")
    create.add_argument("--account", required=True, metavar="ACCOUNT", help="the account whose rights it has")
    create.add_argument("--scope", default=Scope.READ.value, metavar=SCOPE_NAMES,
                        help="read: the GET routes; score: also the POST routes (default read)")
    create.add_argument("--expires-days", type=_whole_number, default=None, metavar="N",
                        help=f"the token stops working after N days, 1..{accounts.MAX_EXPIRES_DAYS} "
                        "(default: never)")
    create.set_defaults(func=run_token_create)
    listing = commands.add_parser("list", help="list the tokens (never their text)",
                                  description="List the API tokens: id, name, account, scope, created, expires, "
                                  "revoked, last used (UTC). A token's text is never shown again.")
    listing.add_argument("--account", default=None, metavar="ACCOUNT", help="only this account's tokens")
    listing.set_defaults(func=run_token_list)
    revoke = commands.add_parser("revoke", help="revoke a token by its id (see `tokens list`)",
                                 description="Revoke an API token: the API refuses it from now on.")
    revoke.add_argument("id", type=_whole_number, metavar="ID")
    revoke.set_defaults(func=run_token_revoke)


def _password_stdin_argument(parser: argparse.ArgumentParser) -> None:
    """Add --password-stdin to `parser`."""
    parser.add_argument("--password-stdin", action="store_true",
                        help="read the password from one line of standard input instead of asking twice")


def _whole_number(text: str) -> int:
    """Return `text` as an int; AccountError (exit 2, one line) when it is not a whole number."""
    try:
        return int(text)
    except ValueError:
        raise AccountError(f"not a whole number: {accounts.shown(text)}") from None


# ------------------------------------------------------------------------------------------ helpers


@contextmanager
def _transaction():
    """Yield a connection in one transaction on DATABASE_URL's database, schema created; the engine disposed after."""
    from dashboard.config import Config

    engine = db.make_engine(Config.from_env().database_url)
    try:
        with engine.begin() as conn:
            db.create_schema(conn)
            yield conn
    finally:
        engine.dispose()


def read_password(from_stdin: bool) -> str:
    """Return the new password: one line of standard input with `from_stdin`, else asked twice on the terminal;
    AccountError when none is given, the two differ, there is no terminal, or it breaks the password rule."""
    if from_stdin:
        line = sys.stdin.readline(accounts.MAX_PASSWORD + 3)
        if not line:
            raise AccountError("no password on standard input (--password-stdin reads one line)")
        password = line[:-1] if line.endswith("\n") else line
        password = password[:-1] if password.endswith("\r") else password
    else:
        if not sys.stdin.isatty():
            raise AccountError("no terminal to ask the password on: give it on standard input with --password-stdin")
        password = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != password:
            raise AccountError("the two passwords differ: nothing was changed")
    return accounts.check_password_rule(password)


def _check_exists(name: str, exists: bool) -> None:
    """Before asking a password: raise AccountError unless an account named `name` exists (`exists`) or not."""
    accounts.check_name(name)
    with _transaction() as conn:
        found = accounts.find_account(conn, name)
    if exists and found is None:
        raise AccountError(f"no account named {accounts.shown(name)}")
    if not exists and found is not None:
        raise AccountError(f"an account named {accounts.shown(found.name)} exists already (names match whatever "
                           "their case)")


def _time(value: datetime | None) -> str:
    """Return a time as 'YYYY-MM-DD HH:MM' UTC, or '-'."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "-"


def _record(conn, event: str, detail: str) -> None:
    """Record a successful CLI `event` in the audit log."""
    audit.record_event(conn, event=event, actor=ACTOR, address="", outcome="ok", detail=detail)


# ------------------------------------------------------------------------------------------ users


def run_add(args: argparse.Namespace) -> int:
    """Add an account; print it; return 0."""
    accounts.check_name(args.name)
    role = accounts.parse_role(args.role)
    _check_exists(args.name, False)
    password = read_password(args.password_stdin)
    with _transaction() as conn:
        first = accounts.count_accounts(conn) == 0
        account = accounts.add_account(conn, args.name, password, role)
        _record(conn, "account_add", f"account {account.name} role {account.role.value}")
    print(f"account {account.name} added (id {account.id}, role {account.role.value})")
    if first:
        print("this is the first account: from now on the dashboard asks everyone to sign in")
    return 0


def format_accounts(rows: list[accounts.Account]) -> str:
    """Return the `users list` table."""
    if not rows:
        return "no accounts: the dashboard is open to everyone who can reach it (see docs/accounts.md)"
    lines = [f"{'id':>4}  {'name':<24} {'role':<8} {'created (UTC)':<16}  {'last sign-in':<16}  status"]
    for account in rows:
        lines.append(f"{account.id:>4}  {account.name:<24} {account.role.value:<8} {_time(account.created_at):<16}  "
                     f"{_time(account.last_sign_in_at):<16}  {'disabled' if account.disabled else 'active'}")
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    """Print the accounts; return 0."""
    with _transaction() as conn:
        rows = accounts.list_accounts(conn)
    print(format_accounts(rows))
    return 0


def run_set_role(args: argparse.Namespace) -> int:
    """Change an account's role; return 0."""
    with _transaction() as conn:
        before = accounts.find_account(conn, args.name)
        account = accounts.set_role(conn, args.name, args.role)
        _record(conn, "role_change", f"account {account.name}: {before.role.value} -> {account.role.value}")
    print(f"account {account.name}: role {account.role.value} (its sessions end)")
    return 0


def run_reset_password(args: argparse.Namespace) -> int:
    """Set an account's password; return 0."""
    _check_exists(args.name, True)
    password = read_password(args.password_stdin)
    with _transaction() as conn:
        account = accounts.reset_password(conn, args.name, password)
        _record(conn, "password_reset", f"account {account.name}")
    print(f"account {account.name}: password changed (its sessions end)")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    """Disable an account; return 0."""
    with _transaction() as conn:
        account = accounts.disable_account(conn, args.name)
        _record(conn, "account_disable", f"account {account.name}")
    print(f"account {account.name} disabled: no sign-in, no API token, its sessions end")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    """Delete an account and its tokens; return 0."""
    with _transaction() as conn:
        account = accounts.find_account(conn, args.name)
        tokens = len(accounts.list_tokens(conn, args.name)) if account is not None else 0
        accounts.remove_account(conn, args.name)
        _record(conn, "account_remove", f"account {account.name}, {tokens} API token(s) deleted")
    print(f"account {account.name} removed, with {tokens} API token(s)")
    return 0


# ------------------------------------------------------------------------------------------ tokens


def run_token_create(args: argparse.Namespace) -> int:
    """Create a token; print its text once on standard output and its details on standard error; return 0."""
    with _transaction() as conn:
        token, secret = accounts.create_token(conn, args.account, args.name, args.scope, args.expires_days)
        _record(conn, "token_create", f"token {token.id} {token.name} of {token.account_name}, scope "
                f"{token.scope.value}, expires {_time(token.expires_at)}")
    expires = f"expires {_time(token.expires_at)} UTC" if token.expires_at else "never expires"
    print(f"API token {token.id} '{token.name}' for {token.account_name} (scope {token.scope.value}, {expires}); "
          "copy it now, it is not shown again:", file=sys.stderr)
    print(secret)
    return 0


def format_tokens(rows: list[accounts.ApiToken]) -> str:
    """Return the `tokens list` table."""
    if not rows:
        return "no API tokens"
    lines = [f"{'id':>4}  {'name':<20} {'account':<20} {'scope':<6} {'created (UTC)':<16}  {'expires':<16}  "
             f"{'last used':<16}  status"]
    for token in rows:
        status = f"revoked {_time(token.revoked_at)}" if token.revoked_at else "active"
        lines.append(f"{token.id:>4}  {token.name:<20} {token.account_name:<20} {token.scope.value:<6} "
                     f"{_time(token.created_at):<16}  {_time(token.expires_at):<16}  {_time(token.last_used_at):<16}  "
                     f"{status}")
    return "\n".join(lines)


def run_token_list(args: argparse.Namespace) -> int:
    """Print the tokens (never their text); return 0."""
    with _transaction() as conn:
        rows = accounts.list_tokens(conn, args.account)
    print(format_tokens(rows))
    return 0


def run_token_revoke(args: argparse.Namespace) -> int:
    """Revoke a token; return 0."""
    with _transaction() as conn:
        before = accounts.get_token(conn, args.id)
        token = accounts.revoke_token(conn, args.id)
        if before is not None and before.revoked_at is None:
            _record(conn, "token_revoke", f"token {token.id} {token.name} of {token.account_name}")
    print(f"API token {token.id} '{token.name}' of {token.account_name} revoked at {_time(token.revoked_at)} UTC")
    return 0
