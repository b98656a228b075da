"""First start: fill the empty embedded database with demo data, once, even with several workers."""

from __future__ import annotations

import fcntl
import logging
import time
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from dashboard import db
from dashboard.config import Config, default_duckdb_path

log = logging.getLogger(__name__)


@contextmanager
def _file_lock(path: Path):
    """Hold an exclusive advisory lock on `path` (created if missing) for the block."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _default_database_is_empty() -> bool:
    """True when the embedded DuckDB file is missing or holds no events (opened read-only)."""
    if not default_duckdb_path().exists():
        return True
    with db.one_off_connection(None, read_only=True) as conn:
        return db.is_empty(conn)


def _once_with_the_file_locked(needed, work) -> bool:
    """Run `work(engine)` on a writable engine of the embedded file when `needed()` holds, checked again under the
    file lock (several gunicorn workers may start at once: the first does the work while the others wait, then
    find nothing left to do); return True if it ran."""
    if not needed():
        return False
    path = default_duckdb_path()
    with _file_lock(path.with_name(path.name + ".lock")):
        if not needed():  # another process did it while we waited
            return False
        engine = db.make_engine(None)
        try:
            work(engine)
        finally:
            engine.dispose()
        return True


def ensure_demo_data(config: Config) -> bool:
    """Fill the embedded default database with demo data when it is empty; return True if it did.

    Never touches a database given by DATABASE_URL. Several processes may call this at once
    (gunicorn workers): a file lock lets the first one generate while the others wait.
    """
    if not config.uses_default_database or not config.autofill_demo:
        return False

    def fill(engine) -> None:
        from dashboard import demo  # imported lazily: only a first start needs the generator

        started = time.monotonic()
        log.warning(
            "The embedded database %s is empty: generating demo data (%s users, seed %s); "
            "this happens once.", default_duckdb_path(), f"{config.demo_users:,}", config.demo_seed,
        )
        counts = demo.write_demo(engine, users=config.demo_users, seed=config.demo_seed)
        log.warning("Demo data ready in %.1fs: %s", time.monotonic() - started, counts)

    if not _once_with_the_file_locked(_default_database_is_empty, fill):
        return False
    if config.demo_model:  # the churn model and clusters of the demo follow in the background
        from ml import demo_model

        demo_model.mark_pending()
    return True


def _derived_tables_missing() -> bool:
    """True when the embedded database holds events but no current derived tables (opened read-only)."""
    if not default_duckdb_path().exists():
        return False
    with db.one_off_connection(None, read_only=True) as conn:
        return not db.is_empty(conn) and not db.derived_current(conn)


def ensure_derived_tables(config: Config) -> bool:
    """Store the derived tables (first visits, user-days) of the embedded default database when they are missing
    (a file made by an earlier version); return True if it did. The data version is kept: the data did not change.

    Never touches a database given by DATABASE_URL (`python -m dashboard refresh` does it there). When the file
    is busy (an import holds it) the app starts anyway: the metrics then compute from the visits.
    """
    if not config.uses_default_database:
        return False

    def store(engine) -> None:
        from metrics.derived import store_derived_tables

        started = time.monotonic()
        log.warning("Storing every user's first visit and active days in %s (once, for faster pages) ...",
                    default_duckdb_path())
        with engine.begin() as conn:
            users = store_derived_tables(conn)
        log.warning("First visits and user-days stored for %s users in %.1fs", f"{users:,}", time.monotonic() - started)

    try:
        return _once_with_the_file_locked(_derived_tables_missing, store)
    except (db.DatabaseBusyError, sa.exc.SQLAlchemyError) as exc:
        log.warning("Could not store the first visits and user-days (%s); the pages compute from the visits until "
                    "`python -m dashboard refresh` runs", str(exc).splitlines()[0])
        return False


def prepare_default_database(config: Config) -> None:
    """First-start work on the embedded default database: the demo fill when it is empty, else the stored first
    visits and user-days when an earlier version did not make them."""
    if not ensure_demo_data(config):
        ensure_derived_tables(config)


if __name__ == "__main__":  # `python -m dashboard.bootstrap`: the first-start work on its own (gunicorn's master)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    prepare_default_database(Config.from_env())
