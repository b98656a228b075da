"""Demo data loading: the generated frames into a database in one transaction, with the derived tables."""

from __future__ import annotations

import sys
from datetime import date

import pandas as pd
from sqlalchemy.engine import Engine
from tqdm import tqdm

from dashboard import db, interrupts
from dashboard.backends import backend_spec
from dashboard.demo.generation import DEFAULT_DAYS, DEFAULT_END_DATE, DEFAULT_SEED, DEFAULT_USERS, generate
from dashboard.errors import BadInput
from metrics.derived import store_derived_tables


class _LoadProgress(dict):
    """The frames for `db.replace_all`, advancing a progress bar as each table is asked for."""

    def __init__(self, frames: dict[str, pd.DataFrame], bar: tqdm) -> None:
        super().__init__(frames)
        self._bar = bar
        self._pending = 0

    def get(self, key, default=None):  # noqa: ANN001, ANN201 - dict API
        """Return the frame for `key` after counting the previous table as loaded."""
        self._bar.update(self._pending)
        frame = super().get(key, default)
        self._pending = 0 if frame is None else len(frame)
        self._bar.set_postfix_str(f"{key}")
        return frame

    def finish(self) -> None:
        """Count the last table as loaded."""
        self._bar.update(self._pending)
        self._pending = 0


FILLED_MESSAGE = (
    "the database already holds data; pass --replace (replace=True) to delete it and load the demo data"
)


def refuse_if_filled(engine: Engine, replace: bool) -> None:
    """Raise BadInput when the database holds events and `replace` is False."""
    if replace:
        return
    with engine.connect() as conn:
        filled = not db.is_empty(conn)
    if filled:
        raise BadInput(FILLED_MESSAGE)


def load_frames(
    engine: Engine, frames: dict[str, pd.DataFrame], replace: bool = False, progress: bool = False
) -> dict[str, int]:
    """Load `frames` in one transaction (deleting existing events) and rebuild the derived tables; return row
    counts per table."""
    db.create_schema(engine)
    total = sum(len(f) for f in frames.values())
    with tqdm(total=total, desc="loading", unit="rows", unit_scale=True, file=sys.stderr, disable=not progress) as bar:
        with engine.begin() as conn:
            db.lock_for_write(conn)  # after a concurrent import or demo load, never interleaved with it
            if not replace and not db.is_empty(conn):
                raise BadInput(FILLED_MESSAGE)
            tracked = _LoadProgress(frames, bar)
            counts = db.replace_all(conn, tracked)
            store_derived_tables(conn)  # same transaction: the new visits and their derived tables commit together
            tracked.finish()
            interrupts.raise_if_requested()  # a Ctrl-C a library swallowed still rolls the load back
            bar.set_postfix_str("commit")
        if backend_spec(engine).refreshes_statistics:
            bar.set_postfix_str("VACUUM ANALYZE")
            db.refresh_statistics(engine)
    return counts


def write_demo(
    engine: Engine,
    users: int = DEFAULT_USERS,
    days: int = DEFAULT_DAYS,
    seed: int = DEFAULT_SEED,
    replace: bool = False,
    progress: bool = False,
    end_date: date = DEFAULT_END_DATE,
) -> dict[str, int]:
    """Generate the demo data and load it in one transaction; return row counts per table."""
    db.create_schema(engine)
    refuse_if_filled(engine, replace)
    frames = generate(users=users, days=days, seed=seed, end_date=end_date, progress=progress)
    return load_frames(engine, frames, replace=replace, progress=progress)
