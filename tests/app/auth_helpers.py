"""What the sign-in tests share: an app on a real database with accounts, signing in through the real form."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from app import create_app
from dashboard import accounts, db
from dashboard.accounts import Role, Scope
from dashboard.config import Config

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(url: str, tmp_path: Path, **settings):
    """Return a Dash app on database `url` (schema created, no demo fill), its session key file under tmp_path."""
    engine = db.make_engine(url)
    db.create_schema(engine)
    engine.dispose()
    config = Config(database_url=url, autofill_demo=False, model_dir=tmp_path / "models", **settings)
    return create_app(config)


def add_account(url: str, name: str, role: Role, password: str = PASSWORD) -> accounts.Account:
    """Create account `name` with `role` in the database at `url` (schema made if missing) and return it."""
    engine = db.make_engine(url)
    db.create_schema(engine)
    try:
        with engine.begin() as conn:
            return accounts.add_account(conn, name, password, role)
    finally:
        engine.dispose()


def run_on(url: str, work):
    """Return work(conn) run in a write transaction on the database at `url` (an engine of its own)."""
    engine = db.make_engine(url)
    try:
        with engine.begin() as conn:
            return work(conn)
    finally:
        engine.dispose()


def make_token(url: str, account_name: str, scope: Scope, expires_days: int | None = None) -> tuple[int, str]:
    """Return (id, text) of a new API token of `account_name` with `scope`."""
    token, secret = run_on(url, lambda conn: accounts.create_token(conn, account_name, "t" + account_name, scope,
                                                                   expires_days))
    return token.id, secret


def csrf_of(html: str) -> str:
    """Return the csrf_token hidden field of a form page."""
    match = CSRF_FIELD.search(html)
    assert match, html[:500]
    return match.group(1)


def sign_in(client, name: str, password: str = PASSWORD, next_path: str | None = None):
    """Post the real sign-in form (token read from GET /login) and return the response (not followed)."""
    page = client.get("/login").get_data(as_text=True)
    form = {"username": name, "password": password, "csrf_token": csrf_of(page)}
    if next_path is not None:
        form["next"] = next_path
    return client.post("/login", data=form)


def csrf_cookie(client) -> str:
    """Return the csrf_token cookie the server gave the signed-in browser (after a page GET)."""
    cookie = client.get_cookie("csrf_token")
    assert cookie is not None, "no csrf_token cookie"
    return cookie.value


def audit_rows(url: str) -> list[tuple[str, str, str, str]]:
    """Return (event, actor, outcome, detail) of every audit row, oldest first."""
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(db.audit_log.c.event, db.audit_log.c.actor, db.audit_log.c.outcome,
                                          db.audit_log.c.detail).order_by(db.audit_log.c.id)).all()
    finally:
        engine.dispose()
    return [tuple(row) for row in rows]
