"""The demo's churn model and clustering, built in the background after the first start fills the demo data.

`python app.py` on an empty embedded database generates demo data (dashboard/bootstrap.py) and, so that the
risk page is not empty on a first look, marks the model work as pending here. `start_background` then runs
`python -m ml.demo_model` as a separate process, which builds every model of the registry (`ml.registry`) marked
`demo_build`, in registry order: train it, save it, and score with it when it scores. Today that is the churn
model (the same code and defaults as `python -m dashboard train --seed DEMO_SEED`, then `score`) and the RFM
cluster classifier (`export-segments`, without the CSV). The search uses every core (at most 4) at nice 10,
below the web app: 74 s on the default demo with 2 cores, while the app started (103 s with one core).

State lives next to the database file (`<DUCKDB_PATH>.demo-model.json`, as it describes that database):
pending -> running (with the step) -> done | failed (with the reason). The risk page reads it to say what is
happening. A file lock (`<DUCKDB_PATH>.demo-model.lock`) makes sure one process does the work even when
several gunicorn workers start; a run cut off (the app stopped) stays
pending/running and is resumed at the next start; a failed run is not retried (its reason and the manual
commands are logged and shown). Only the embedded default database is ever touched, and DEMO_MODEL=0 turns
the whole thing off.
"""

from __future__ import annotations

import argparse
import fcntl
import logging
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from pathlib import Path

from dashboard.config import Config
from ml.demo_model_status import (ACTIVE, LOCK_SUFFIX, MANUAL, STATUS_SUFFIX, _now, build_in_progress,  # noqa: F401 (re-exported)
                                   lock_path, mark_pending, read_status, status_path, write_status)

log = logging.getLogger("ml.demo_model")  # the same name when run as `python -m ml.demo_model`

def is_wanted(config: Config) -> bool:
    """True when the background run should start: on, the embedded database, and a pending or cut-off run."""
    if not (config.demo_model and config.uses_default_database):
        return False
    status = read_status()
    return status is not None and status.get("state") in ACTIVE


def start_background(config: Config, extra_args: tuple[str, ...] = ()) -> subprocess.Popen | None:
    """Start `python -m ml.demo_model` when `is_wanted(config)`; return the process (None when not started).

    The child inherits the environment (DUCKDB_PATH, DUCKDB_* settings) plus MODEL_DIR and DEMO_SEED of
    `config`; its output goes to this process's stderr, so its progress is in the app's log.
    """
    if not is_wanted(config):
        return None
    env = dict(os.environ, MODEL_DIR=str(config.model_dir), DEMO_SEED=str(config.demo_seed))
    env.pop("DATABASE_URL", None)  # the embedded default only (is_wanted checked uses_default_database)
    repo = Path(__file__).resolve().parent.parent
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo), env.get("PYTHONPATH", "")) if p)
    process = subprocess.Popen([sys.executable, "-m", "ml.demo_model", *extra_args], env=env, cwd=str(repo),
                               stdin=subprocess.DEVNULL, stdout=sys.stderr, stderr=sys.stderr)
    log.warning("Started process %s to build the demo's churn model, clusters and acquisition-cost model in the "
                "background (about 3-4 minutes; with several workers, one such process does it); the risk page "
                "fills in when the churn scores are done.", process.pid)
    return process


def default_n_jobs() -> int:
    """Parallel fits of the model search: every core (at most 4). The process runs at a lower priority
    (`main`), so the web app's requests still come first."""
    return max(1, min(4, os.cpu_count() or 1))


def run(config: Config, n_iter: int | None = None, cv: int = 5, n_jobs: int = 1) -> dict | None:
    """Build the registry's demo models on the embedded database; return the final status (None: another process
    has the lock).

    Holds `<DUCKDB_PATH>.demo-model.lock` for the whole run, so a second process returns at once. `n_jobs`:
    parallel fits of the model search (the same model whatever the number).
    """
    from dashboard import db
    from ml import features
    from ml.registry import REGISTRY, TrainOptions
    from sklearn.exceptions import ConvergenceWarning

    model_dir = Path(config.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_path()
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("the demo model is being built by another process")
            return None
        status = read_status()
        if status is None or status.get("state") not in ACTIVE:
            return status  # done or failed meanwhile, or never asked for
        started = time.monotonic()
        since = _now()
        specs = REGISTRY.demo_models()
        step = specs[0].demo_step if specs else "train"
        built: list[str] = []
        scored_by: dict[str, tuple] = {}  # model name -> (artifact, rows scored)
        try:
            with db.one_off_connection(config.database_url, read_only=True) as conn:
                as_of = features.data_date_range(conn)[1]  # the last data date: scoring and observation date
            for spec in specs:  # every registered model the demo build makes, in registry order
                step = spec.demo_step
                write_status("running", step=step, started=since)
                options = TrainOptions(seed=config.demo_seed, as_of=as_of, n_iter=n_iter, cv=cv, n_jobs=n_jobs,
                                       log=lambda message: log.info("%s", message))
                # A model search tries settings that do not converge (e.g. unscaled logistic regression);
                # the train command prints those warnings, here they are counted in one log line. The search's
                # worker processes (n_jobs > 1) cannot hand theirs back, and would print each one with the
                # solver's full message: they ignore them (scikit-learn passes the filters on to its workers).
                with (db.one_off_connection(config.database_url, read_only=True) as conn,
                      warnings.catch_warnings(record=True) as caught):
                    warnings.simplefilter("always")
                    if n_jobs > 1:
                        warnings.simplefilter("ignore", ConvergenceWarning)
                    artifact = spec.train(conn, options)
                if caught:
                    counts = Counter(w.category.__name__ for w in caught)
                    log.info("warnings while training the %s model: %s", spec.name,
                             ", ".join(f"{n} {k}" for k, n in counts.items()))
                spec.save(artifact, model_dir)
                built.append(spec.describe(artifact))
                if spec.score is not None:
                    step = "score"
                    write_status("running", step=step, started=since)
                    writer = db.make_engine(config.database_url)
                    try:
                        scored_by[spec.name] = (artifact, spec.score(writer, as_of, artifact))
                    finally:
                        writer.dispose()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is retried silently
            log.exception("The demo model failed at step %s; build it by hand: %s", step, MANUAL)
            return write_status("failed", step=step, started=since, error=f"{type(exc).__name__}: {exc}")
        seconds = round(time.monotonic() - started, 1)
        log.warning("Demo model ready in %.1fs as of %s: %s.", seconds, as_of, "; ".join(built))
        # the status names the (first) scoring model: the one whose scores the risk page shows
        scored_artifact, scored = next(iter(scored_by.values()), (None, 0))
        return write_status("done", started=since, seconds=seconds,
                            model_version=getattr(scored_artifact, "version", None), scored=scored,
                            as_of=as_of.isoformat() if as_of else None)


def main(argv: list[str] | None = None) -> int:
    """`python -m ml.demo_model [--n-iter N] [--cv K]`: the background run (started by the app)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-iter", type=int, default=None, help="random-search candidates per family (default: "
                        "the train command's)")
    parser.add_argument("--cv", type=int, default=5, help="CV folds of the search (default 5)")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel fits of the search (default: every "
                        "core, at most 4)")
    parser.add_argument("--nice", type=int, default=10, help="lower this process's priority by this much "
                        "(default 10), so the web app's requests come first")
    args = parser.parse_args(argv)
    config = Config.from_env()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.database_url is not None:
        log.error("ml.demo_model only builds the embedded demo database's model; DATABASE_URL is set")
        return 2
    if args.nice > 0:
        os.nice(args.nice)
    status = run(config, n_iter=args.n_iter, cv=args.cv, n_jobs=args.n_jobs or default_n_jobs())
    return 1 if status is not None and status.get("state") == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
