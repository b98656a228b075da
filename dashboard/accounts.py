"""Accounts and API tokens (issue 19): who may sign in, with which role, and the tokens the API takes.

Data layer only: every function takes a SQLAlchemy Connection inside a transaction (`engine.begin()`) and never
commits; the caller records the audit event (`dashboard.audit`). Passwords are kept as argon2id hashes
(argon2-cffi's PasswordHasher, memory-hard), tokens as the SHA-256 hex of their text: neither is stored, logged
or returned. Times are stored as naive UTC and returned timezone-aware (UTC).

Names: 1..64 characters, ASCII letters, digits and `. _ - @`; one account per name whatever its case ("Alice" and
"alice" are the same account; the name keeps the case it was created with). Passwords: 8..1024 characters.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from functools import lru_cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection

from dashboard.db import accounts, api_tokens
from dashboard.errors import BadInput

NAME_PATTERN = re.compile(r"[A-Za-z0-9._@-]{1,64}")
NAME_RULE = "1 to 64 characters: letters A-Z a-z, digits, and . _ - @"
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
TOKEN_PREFIX = "mkd_"
TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters after the prefix
MAX_EXPIRES_DAYS = 3650
MAX_ID = 2**31 - 1  # ids are INTEGER columns

_hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile


class Role(str, Enum):
    """What an account may do: admin > analyst > viewer."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    def allows(self, needed: "Role") -> bool:
        """Return True when this role has at least the rights of `needed`."""
        return _ROLE_RANK[self] >= _ROLE_RANK[Role(needed)]


_ROLE_RANK = {Role.VIEWER: 0, Role.ANALYST: 1, Role.ADMIN: 2}


class Scope(str, Enum):
    """What an API token may call: read, the GET routes; score, also the POST routes."""

    READ = "read"
    SCORE = "score"


@dataclass(frozen=True)
class Account:
    """One account as stored, without its password hash."""

    id: int
    name: str
    role: Role
    created_at: datetime
    last_sign_in_at: datetime | None
    disabled: bool
    session_epoch: int  # bumped on role change, password reset, disable: sessions of an older epoch end


@dataclass(frozen=True)
class ApiToken:
    """One API token as stored, without its text (only its hash is kept)."""

    id: int
    account_id: int
    account_name: str
    name: str
    scope: Scope
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AccountError(BadInput):
    """A refused account or token operation (unknown account, name taken, bad role, weak password...): one line."""


# ------------------------------------------------------------------------------------------ checks of input


def shown(value, limit: int = 40) -> str:
    """Return `value` for a message: a text quoted with its control characters escaped, anything else as its repr;
    cut at `limit` characters."""
    text = value if isinstance(value, str) else repr(value)
    cut = text[:limit]
    return (repr(cut) if isinstance(value, str) else cut) + ("…" if len(text) > limit else "")


def check_name(name: str, what: str = "account name") -> str:
    """Return `name` when it follows the name rule, else raise AccountError saying the rule."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise AccountError(f"invalid {what} {shown(name)}: {NAME_RULE}")
    return name


def check_password_rule(password: str) -> str:
    """Return `password` when it is 8..1024 characters, else raise AccountError (the password is never shown)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: at most {MAX_PASSWORD} characters")
    return password


def parse_role(value: str | Role) -> Role:
    """Return the Role named `value` (viewer, analyst, admin), else raise AccountError listing them."""
    try:
        return Role(value)
    except ValueError:
        raise AccountError(f"unknown role {shown(value)}: one of {', '.join(r.value for r in Role)}") from None


def parse_scope(value: str | Scope) -> Scope:
    """Return the Scope named `value` (read, score), else raise AccountError listing them."""
    try:
        return Scope(value)
    except ValueError:
        raise AccountError(f"unknown scope {shown(value)}: one of {', '.join(s.value for s in Scope)}") from None


def _stored_time(when: datetime) -> datetime:
    """Return `when` as naive UTC for storage (a naive `when` is taken as UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def _read_time(value: datetime | str | None) -> datetime | None:
    """Return a stored time as an aware UTC datetime (None stays None)."""
    if value is None:
        return None
    if isinstance(value, str):  # a driver that returns text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    """Return the current time as naive UTC, to the microsecond."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# ------------------------------------------------------------------------------------------ accounts


_ACCOUNT_COLUMNS = (accounts.c.id, accounts.c.name, accounts.c.role, accounts.c.created_at,
                    accounts.c.last_sign_in_at, accounts.c.disabled, accounts.c.session_epoch)


def _account(row) -> Account:
    """Return the Account of a row of _ACCOUNT_COLUMNS."""
    return Account(id=int(row.id), name=row.name, role=Role(row.role), created_at=_read_time(row.created_at),
                   last_sign_in_at=_read_time(row.last_sign_in_at), disabled=bool(row.disabled),
                   session_epoch=int(row.session_epoch))


def count_accounts(conn: Connection) -> int:
    """Return the number of accounts (disabled ones included); 0 when the accounts table does not exist yet."""
    if not sa.inspect(conn).has_table(accounts.name):
        return 0
    return int(conn.execute(sa.select(sa.func.count()).select_from(accounts)).scalar_one())


def count_active_admins(conn: Connection) -> int:
    """Return the number of admin accounts that are not disabled."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(accounts).where(
        accounts.c.role == Role.ADMIN.value, accounts.c.disabled.is_(False))).scalar_one())


def find_account(conn: Connection, name: str) -> Account | None:
    """Return the account named `name` (any case), or None (also for a name no account could have)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        return None
    row = conn.execute(sa.select(*_ACCOUNT_COLUMNS).where(accounts.c.name_key == name.lower())).one_or_none()
    return _account(row) if row is not None else None


def _valid_id(value) -> bool:
    """Return True when `value` is an int that an id column can hold (1 .. 2**31 - 1)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def get_account(conn: Connection, account_id: int) -> Account | None:
    """Return the account with id `account_id`, or None (also for a value no id could be)."""
    if not _valid_id(account_id):
        return None
    row = conn.execute(sa.select(*_ACCOUNT_COLUMNS).where(accounts.c.id == account_id)).one_or_none()
    return _account(row) if row is not None else None


def list_accounts(conn: Connection) -> list[Account]:
    """Return every account, by name."""
    rows = conn.execute(sa.select(*_ACCOUNT_COLUMNS).order_by(accounts.c.name_key)).all()
    return [_account(row) for row in rows]


def _existing(conn: Connection, name: str) -> Account:
    """Return the account named `name`, else raise AccountError (invalid name, or no such account)."""
    check_name(name)
    account = find_account(conn, name)
    if account is None:
        raise AccountError(f"no account named {shown(name)}")
    return account


def add_account(conn: Connection, name: str, password: str, role: Role) -> Account:
    """Create an account and return it; AccountError for an invalid or taken name, a weak password, a bad role."""
    check_name(name)
    role = parse_role(role)
    check_password_rule(password)
    existing = find_account(conn, name)
    if existing is not None:
        raise AccountError(f"an account named {shown(existing.name)} exists already (names match whatever their case)")
    try:
        account_id = conn.execute(sa.insert(accounts).values(
            name=name, name_key=name.lower(), password_hash=_hasher.hash(password), role=role.value,
            created_at=_now(), last_sign_in_at=None, disabled=False, session_epoch=0,
        ).returning(accounts.c.id)).scalar_one()
    except sa.exc.IntegrityError as exc:  # another transaction added the name meanwhile (its unique key)
        raise AccountError(f"an account named {shown(name)} exists already (added meanwhile)") from exc
    return get_account(conn, account_id)


# A hash of a random, forgotten password, verified for unknown names so that they cost the same time as known ones.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$zhMOs6TsSiKB1ya862uNjQ$UhtoV1AUGCFYGWzKLvalm2GANdpoiMRZNqfQobWopBQ"


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """Return a hash with the current parameters to verify for unknown names (_DUMMY_HASH while they match)."""
    return _hasher.hash(secrets.token_urlsafe(16)) if _hasher.check_needs_rehash(_DUMMY_HASH) else _DUMMY_HASH


def _verify(stored_hash: str, password: str) -> bool:
    """Return True when `password` matches `stored_hash` (False for a mismatch or an unreadable hash)."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password(conn: Connection, name: str, password: str) -> Account | None:
    """Return the account when `name` and `password` match an enabled account, else None (unknown name, wrong
    password, disabled account); the same hashing work is done in each case, so the time does not tell whether
    the name exists. A hash made with older parameters is replaced on a writable connection."""
    password = password if isinstance(password, str) else ""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or len(password) > MAX_PASSWORD:
        _verify(_dummy_hash(), "x" * MIN_PASSWORD)
        return None
    row = conn.execute(sa.select(*_ACCOUNT_COLUMNS, accounts.c.password_hash)
                       .where(accounts.c.name_key == name.lower())).one_or_none()
    if row is None:
        _verify(_dummy_hash(), password)
        return None
    if not _verify(row.password_hash, password) or row.disabled:
        return None
    if _hasher.check_needs_rehash(row.password_hash) and _writable(conn):
        conn.execute(sa.update(accounts).where(accounts.c.id == row.id)
                     .values(password_hash=_hasher.hash(password)))
    return _account(row)


def _writable(conn: Connection) -> bool:
    """Return False on a DuckDB connection opened read-only (the web workers' engine), else True."""
    if conn.dialect.name != "duckdb":
        return True
    mode = conn.execute(sa.text("SELECT current_setting('access_mode')")).scalar_one()
    return str(mode).lower() != "read_only"


def record_sign_in(conn: Connection, account_id: int, when: datetime) -> None:
    """Set the account's last sign-in time to `when`."""
    conn.execute(sa.update(accounts).where(accounts.c.id == int(account_id))
                 .values(last_sign_in_at=_stored_time(when)))


def set_role(conn: Connection, name: str, role: Role) -> Account:
    """Give the account `role` and end its sessions (epoch bumped); return it; AccountError for an unknown name
    or role."""
    role = parse_role(role)
    account = _existing(conn, name)
    conn.execute(sa.update(accounts).where(accounts.c.id == account.id)
                 .values(role=role.value, session_epoch=accounts.c.session_epoch + 1))
    return get_account(conn, account.id)


def reset_password(conn: Connection, name: str, password: str) -> Account:
    """Set the account's password and end its sessions (epoch bumped); return it; AccountError for an unknown
    name or a weak password."""
    account = _existing(conn, name)
    check_password_rule(password)
    conn.execute(sa.update(accounts).where(accounts.c.id == account.id)
                 .values(password_hash=_hasher.hash(password), session_epoch=accounts.c.session_epoch + 1))
    return get_account(conn, account.id)


def disable_account(conn: Connection, name: str) -> Account:
    """Disable the account (no sign-in, no token) and end its sessions (epoch bumped); return it."""
    account = _existing(conn, name)
    conn.execute(sa.update(accounts).where(accounts.c.id == account.id)
                 .values(disabled=True, session_epoch=accounts.c.session_epoch + 1))
    return get_account(conn, account.id)


def remove_account(conn: Connection, name: str) -> None:
    """Delete the account and its API tokens (which then verify as unknown); AccountError for an unknown name."""
    account = _existing(conn, name)
    conn.execute(sa.delete(api_tokens).where(api_tokens.c.account_id == account.id))
    conn.execute(sa.delete(accounts).where(accounts.c.id == account.id))


# ------------------------------------------------------------------------------------------ API tokens


_TOKEN_COLUMNS = (api_tokens.c.id, api_tokens.c.account_id, accounts.c.name.label("account_name"), api_tokens.c.name,
                  api_tokens.c.scope, api_tokens.c.created_at, api_tokens.c.expires_at, api_tokens.c.revoked_at,
                  api_tokens.c.last_used_at)
_TOKEN_PATTERN = re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{43}")


def _token(row) -> ApiToken:
    """Return the ApiToken of a row of _TOKEN_COLUMNS."""
    return ApiToken(id=int(row.id), account_id=int(row.account_id), account_name=row.account_name, name=row.name,
                    scope=Scope(row.scope), created_at=_read_time(row.created_at),
                    expires_at=_read_time(row.expires_at), revoked_at=_read_time(row.revoked_at),
                    last_used_at=_read_time(row.last_used_at))


def _select_tokens() -> sa.Select:
    """Return the SELECT of every token with its account's name."""
    return sa.select(*_TOKEN_COLUMNS).join_from(api_tokens, accounts, api_tokens.c.account_id == accounts.c.id)


def token_hash(secret: str) -> str:
    """Return the SHA-256 hex of a token's text: what is stored instead of the token."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def get_token(conn: Connection, token_id: int) -> ApiToken | None:
    """Return the token with id `token_id`, or None (also for a value no id could be)."""
    if not _valid_id(token_id):
        return None
    row = conn.execute(_select_tokens().where(api_tokens.c.id == token_id)).one_or_none()
    return _token(row) if row is not None else None


def create_token(conn: Connection, account_name: str, token_name: str, scope: Scope,
                 expires_days: int | None) -> tuple[ApiToken, str]:
    """Create an API token for the account and return (the token, its text): the text is shown once, only its
    hash is stored. AccountError for an unknown or disabled account, an invalid name, scope or expiry."""
    check_name(token_name, "token name")
    scope = parse_scope(scope)
    if expires_days is not None and (isinstance(expires_days, bool) or not isinstance(expires_days, int)
                                     or not 1 <= expires_days <= MAX_EXPIRES_DAYS):
        raise AccountError(f"invalid expiry {shown(expires_days)}: a whole number of days, 1 to {MAX_EXPIRES_DAYS}")
    account = _existing(conn, account_name)
    if account.disabled:
        raise AccountError(f"account {shown(account.name)} is disabled: it cannot have a new token")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    created = _now()
    expires = created + timedelta(days=expires_days) if expires_days is not None else None
    token_id = conn.execute(sa.insert(api_tokens).values(
        account_id=account.id, name=token_name, token_hash=token_hash(secret), scope=scope.value,
        created_at=created, expires_at=expires, revoked_at=None, last_used_at=None,
    ).returning(api_tokens.c.id)).scalar_one()
    return get_token(conn, token_id), secret


def verify_token(conn: Connection, secret: str, now: datetime) -> tuple[Account, ApiToken] | None:
    """Return (account, token) for a token text that is known, not revoked, not expired at `now` and whose
    account is enabled; else None. Reads only (`record_token_use` stores the time of use)."""
    if not isinstance(secret, str) or not _TOKEN_PATTERN.fullmatch(secret):
        return None
    row = conn.execute(_select_tokens().where(api_tokens.c.token_hash == token_hash(secret))).one_or_none()
    if row is None:
        return None
    token = _token(row)
    if token.revoked_at is not None:
        return None
    if token.expires_at is not None and _read_time(_stored_time(now)) >= token.expires_at:
        return None
    account = get_account(conn, token.account_id)
    if account is None or account.disabled:
        return None
    return account, token


def record_token_use(conn: Connection, token_id: int, when: datetime) -> None:
    """Set the token's last-used time to `when`."""
    conn.execute(sa.update(api_tokens).where(api_tokens.c.id == int(token_id))
                 .values(last_used_at=_stored_time(when)))


def list_tokens(conn: Connection, account_name: str | None = None) -> list[ApiToken]:
    """Return the tokens (of the account `account_name` when given), oldest first; AccountError for an unknown
    account."""
    query = _select_tokens().order_by(api_tokens.c.id)
    if account_name is not None:
        query = query.where(api_tokens.c.account_id == _existing(conn, account_name).id)
    return [_token(row) for row in conn.execute(query).all()]


def revoke_token(conn: Connection, token_id: int) -> ApiToken:
    """Revoke the token (it no longer verifies) and return it; a revoked token keeps its first revocation time.
    AccountError for an unknown id."""
    if not _valid_id(token_id):
        raise AccountError(f"invalid token id {shown(token_id)}: a whole number from 1 (see `tokens list`)")
    token = get_token(conn, token_id)
    if token is None:
        raise AccountError(f"no API token with id {token_id} (see `tokens list`)")
    if token.revoked_at is None:
        conn.execute(sa.update(api_tokens).where(api_tokens.c.id == token.id).values(revoked_at=_now()))
        token = get_token(conn, token.id)
    return token
