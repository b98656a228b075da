"""What sign-in needs at start: the secret key signing the sessions, and the refusal of an open non-loopback bind.

The key comes from SECRET_KEY, else from a random key made once and kept (mode 0600) beside the embedded DuckDB file
(or in MODEL_DIR with another database), so sessions survive a restart and every worker uses the same key.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
import time
from pathlib import Path

import sqlalchemy as sa

from dashboard import accounts, db
from dashboard.backends import backend_spec
from dashboard.config import Config, default_duckdb_path

log = logging.getLogger(__name__)

SECRET_FILE_NAME = "session-secret.key"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def secret_key_file(config: Config) -> Path:
    """Return where the generated session key is kept: beside the embedded DuckDB file, else in MODEL_DIR."""
    if config.uses_default_database:
        return default_duckdb_path().parent / SECRET_FILE_NAME
    url = sa.make_url(db.resolve_url(config.database_url))
    database_file = backend_spec(url).database_file(url)
    if database_file is not None and url.get_backend_name() == "duckdb":
        return database_file.parent / SECRET_FILE_NAME
    return Path(config.model_dir) / SECRET_FILE_NAME


def secret_key_for(config: Config) -> str:
    """Return SECRET_KEY, else the key kept in `secret_key_file` (made once, random, mode 0600, by the first of
    several workers to get there)."""
    if config.secret_key:
        return config.secret_key
    path = secret_key_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another worker may be writing it this moment
            key = path.read_text(encoding="ascii").strip()
            if key:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"the session key file {path} is empty: delete it, or set SECRET_KEY") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.info("generated the session key in %s (set SECRET_KEY to choose it)", path)
    return key


def is_loopback(address: str | None) -> bool:
    """True when `address` (a client address or a bind host) is this machine's loopback."""
    if not address:
        return False
    if address in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def check_open_bind(config: Config) -> None:
    """Refuse to start (SystemExit) on a non-loopback HOST while the database holds no account, unless
    AUTH_DISABLED=1: everyone on the network would see everything."""
    if config.auth_disabled or is_loopback(config.host):
        return
    count = 0
    url = sa.make_url(db.resolve_url(config.database_url))
    database_file = backend_spec(url).database_file(url)
    if database_file is None or database_file.exists():
        with db.one_off_connection(config.database_url, read_only=backend_spec(url).read_only_readers) as conn:
            count = accounts.count_accounts(conn)
    if count == 0:
        raise SystemExit(f"HOST={config.host} is reachable from other machines and the database holds no account: "
                         f"everyone could see everything. Create one first (python -m dashboard users add NAME "
                         f"--role admin), bind to 127.0.0.1, or set AUTH_DISABLED=1 to serve it open on purpose")
