"""Settings read from the environment (the only place secrets and URLs come from)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = REPO_ROOT / "data"
DEFAULT_DUCKDB_PATH = DATA_DIR / "dashboard.duckdb"
# the largest body of a Dash callback request (a real envelope of this app is a few kB; the largest: the filter
# sync); callbacks/request_guards.py answers 413 above it, dashboard/web_auth.py sets it before anything reads a body
MAX_CALLBACK_BODY_BYTES = 1_000_000
# server.extensions key: (bytes, reason) of the larger callback body an administrator may send (the Data page's
# uploads), set by the callback that takes them (callbacks/data_admin.py)
ADMIN_CALLBACK_BODY_LIMIT = "admin_callback_body_limit"


def default_duckdb_path() -> Path:
    """Return the embedded database file: DUCKDB_PATH if set, else data/dashboard.duckdb."""
    raw = os.environ.get("DUCKDB_PATH")
    return Path(raw).expanduser().resolve() if raw else DEFAULT_DUCKDB_PATH


def _env_bool(name: str, default: bool = False) -> bool:
    """Return the boolean value of environment variable `name`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    """Return the integer value of environment variable `name`."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _env_port(name: str, default: int) -> int:
    """Return the TCP port in environment variable `name` (1-65535)."""
    port = _env_int(name, default)
    if not 1 <= port <= 65535:
        raise ValueError(f"environment variable {name} must be a TCP port between 1 and 65535, got {port}")
    return port


@dataclass(frozen=True)
class Config:
    """Application settings; `Config.from_env()` reads them from the environment."""

    database_url: str | None = None
    cache_redis_url: str | None = None
    cache_timeout: int = 3600
    cache_max_mb: int = 256  # byte budget of the in-process metric cache (dashboard/cache.py)
    demo_users: int = 150_000
    demo_seed: int = 42
    autofill_demo: bool = True
    debug: bool = False
    model_dir: Path = field(default=DATA_DIR / "models")
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8050
    cache_warm: bool = False  # from_env: on unless CACHE_WARM=0 (callbacks/warmup.py)
    demo_model: bool = False  # from_env: on unless DEMO_MODEL=0 (ml/demo_model.py)
    secret_key: str | None = field(default=None, repr=False)  # SECRET_KEY; None: a key kept on disk (dashboard.auth_startup)
    session_hours: int = 12  # SESSION_HOURS: a sign-in lasts this long
    auth_disabled: bool = False  # AUTH_DISABLED=1: no sign-in even with accounts or on a non-loopback bind
    proxy_hops: int = 0  # PROXY_HOPS: reverse proxies in front whose X-Forwarded-* headers are trusted
    upload_max_mb: int = 200  # UPLOAD_MAX_MB: the largest CSV file an admin may upload on the Data page
    jobs_dir: Path | None = None  # JOBS_DIR: the Data page's background jobs (state, results); None: beside MODEL_DIR

    @classmethod
    def from_env(cls) -> "Config":
        """Return the settings found in the environment, defaults elsewhere."""
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            cache_redis_url=os.environ.get("CACHE_REDIS_URL") or None,
            cache_timeout=_env_int("CACHE_TIMEOUT", 3600),
            cache_max_mb=_env_int("CACHE_MAX_MB", 256),
            demo_users=_env_int("DEMO_USERS", 150_000),
            demo_seed=_env_int("DEMO_SEED", 42),
            autofill_demo=_env_bool("DEMO_AUTOFILL", True),
            debug=_env_bool("DASHBOARD_DEBUG", False),
            model_dir=Path(os.environ.get("MODEL_DIR") or DATA_DIR / "models"),
            log_level=os.environ.get("LOG_LEVEL", "INFO").upper(),
            host=(os.environ.get("HOST") or "127.0.0.1").strip(),
            port=_env_port("PORT", 8050),
            cache_warm=_env_bool("CACHE_WARM", True),
            demo_model=_env_bool("DEMO_MODEL", True),
            secret_key=os.environ.get("SECRET_KEY") or None,
            session_hours=_env_int("SESSION_HOURS", 12),
            auth_disabled=_env_bool("AUTH_DISABLED", False),
            proxy_hops=_env_int("PROXY_HOPS", 0),
            upload_max_mb=_env_int("UPLOAD_MAX_MB", 200),
            jobs_dir=Path(os.environ["JOBS_DIR"]) if os.environ.get("JOBS_DIR") else None,
        )

    @property
    def jobs_folder(self) -> Path:
        """Return the folder of the Data page's background jobs: JOBS_DIR, else `jobs` beside MODEL_DIR."""
        return Path(self.jobs_dir) if self.jobs_dir is not None else Path(self.model_dir).parent / "jobs"

    @property
    def uses_default_database(self) -> bool:
        """True when no DATABASE_URL is set and the embedded DuckDB file is used."""
        return self.database_url is None
