"""The demo model build's state, beside the embedded database: pending -> running -> done | failed.

`ml/demo_model.py` (the build, a command) writes it; the risk page reads it to say what is happening. Kept apart
from the build so that the pages read the state without importing the command that trains the model.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path

from dashboard.config import default_duckdb_path
from ml.registry import REGISTRY

log = logging.getLogger("ml.demo_model")

STATUS_SUFFIX = ".demo-model.json"
LOCK_SUFFIX = ".demo-model.lock"
ACTIVE = ("pending", "running")
# The commands that build by hand what the demo build makes: each demo model's, in the registry's order.
MANUAL = " && ".join(spec.how_to_train for spec in REGISTRY.demo_models())


def _now() -> str:
    """Return the current UTC time as ISO text, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def _beside_database(suffix: str) -> Path:
    """The file `<DUCKDB_PATH><suffix>`: the build's state belongs to the embedded database it describes."""
    database = default_duckdb_path()
    return database.with_name(database.name + suffix)


def status_path() -> Path:
    """The status file of the embedded database (beside it)."""
    return _beside_database(STATUS_SUFFIX)


def read_status() -> dict | None:
    """Return the demo model status ({"state": pending|running|done|failed, ...}) or None when there is none."""
    try:
        return json.loads(status_path().read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # unreadable or half-written: treat as unknown, say so once in the log
        log.debug("demo model status unreadable: %s", exc)
        return None


def write_status(state: str, **fields) -> dict:
    """Write the status atomically (a temporary file renamed over the old one); return it."""
    path = status_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    status = {"state": state, "updated": _now(), **fields}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(status, indent=1))
    os.replace(tmp, path)
    return status


def lock_path() -> Path:
    """The build lock of the embedded database (beside it)."""
    return _beside_database(LOCK_SUFFIX)


def build_in_progress() -> bool:
    """True when some process holds the build lock (a `running` status without it was cut off)."""
    try:
        with open(lock_path(), "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False
    except OSError:  # the folder is not writable: cannot tell, assume it is under way
        return True


def mark_pending() -> None:
    """Record that the demo data was just generated and its model is still to be built."""
    write_status("pending", requested=_now())
