"""Background jobs of the Data page (issue 19): imports of uploaded CSV files, training, scoring, segment export and
refresh, started by an admin in the browser.

Each job runs in a process of its own (`python -m dashboard.job_worker <job folder>`), like the CLI command it stands
for: an embedded DuckDB file has one writer process at a time, and the web workers (several under gunicorn) read
it read-only, so while a job writes they see the file locked and show their "busy" notice, as during a CLI import.
What the pages need to follow a job lives in files, which every web worker can read even while the database is
locked:

- `<jobs folder>/<job id>/spec.json`: what to run (kind, who, options, the upload folder); written here;
- `<jobs folder>/<job id>/status.json`: queued -> running (step, progress 0-100 or None) -> done | refused | failed
  (message, summary, result files); written by the worker (`write_status`, atomically);
- `<jobs folder>/<job id>/files/`: results to download (an import's rejects files, the segment export);
- `<jobs folder>/<kind>.lock`: one job of a kind at a time. The starter takes the lock (flock) and hands it to the
  worker process, which holds it until it ends; a second start of the same kind is refused meanwhile.

Uploaded files are written only into a `tempfile.TemporaryDirectory`, removed by the worker when the import ends
(and by the starter's watcher thread if the worker died). When a job ends the worker adds a row to the `jobs` table
(the history) and audit events (upload, import, job).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request

from dashboard import db
from dashboard.accounts import Role
from dashboard.config import REPO_ROOT, Config
from dashboard.errors import BadInput
from dashboard.web_auth import auth_state

log = logging.getLogger(__name__)

# kind -> what the history and the buttons call it
KIND_LABELS = {
    "import": "Import CSV files",
    "train": "Train the churn model",
    "score": "Score the customers",
    "segments": "Export the segments",
    "refresh": "Refresh the derived tables",
}
COMMAND_KINDS = ("train", "score", "segments", "refresh")  # the jobs started with the Start button
# The import's inputs, in the order of the CLI's flags: --visits, --orders, --costs, --transactions.
IMPORT_INPUTS = {"visits": "Visits", "orders": "Orders", "costs": "Costs", "transactions": "Transaction log"}
FINAL_STATES = ("done", "refused", "failed")
OPEN_MODE_ACTOR = "(open local mode)"  # who starts a job while no account exists
KEEP_JOBS = 50  # job folders kept (the newest); the history in the database keeps every job
JOB_ID = re.compile(r"^[0-9]{8}T[0-9]{6}-[0-9a-f]{8}$")
RESULT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")
SPEC = "spec.json"
STATUS = "status.json"
FILES = "files"
MB = 1024 * 1024


class JobRefused(BadInput):
    """A job that cannot start (another of its kind runs, a file is refused): the message says why."""


# ----------------------------------------------------------------------------------------------- who asks


def request_principal() -> tuple[str, str, bool]:
    """Return (the name of who sends the current request, their address, True when they may administer): a signed-in
    admin, or anyone in the open local mode (no account: `dashboard.web_auth` lets every request through, as an admin
    would be). Outside a request, or for a bearer token: ("", "", False)."""
    state = auth_state()
    if state is None:
        return "", "", False
    address = request.remote_addr or ""
    if not state.sign_in_required():
        return OPEN_MODE_ACTOR, address, True
    principal = g.get("principal")
    if principal is None or principal.scope is not None:
        return "", address, False
    return principal.account.name, address, principal.account.role.allows(Role.ADMIN)


def current_config() -> Config:
    """Return the settings of the app serving the current request (the defaults outside one)."""
    ctx = current_app.extensions.get("dashboard_context") if has_request_context() else None
    return ctx.config if ctx is not None else Config()


def upload_limit_bytes(config: Config) -> int:
    """Return the largest upload accepted, in bytes (UPLOAD_MAX_MB)."""
    return max(1, int(config.upload_max_mb)) * MB


# ----------------------------------------------------------------------------------------------- state files


def _now() -> str:
    """Return the current UTC time as ISO text, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def job_folder(config: Config, job_id: str) -> Path | None:
    """Return the folder of job `job_id`, None for a text that is not a job id (never a path outside the folder)."""
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        return None
    return config.jobs_folder / job_id


def write_status(folder: Path, **fields) -> dict:
    """Merge `fields` into the job's status file (written atomically: a temporary file renamed over it); return it."""
    path = folder / STATUS
    status = _read_json(path) or {}
    status.update(fields, updated=_now())
    tmp = path.with_name(f"{STATUS}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(status, indent=1, default=str))
    os.replace(tmp, path)
    return status


def _read_json(path: Path) -> dict | None:
    """Return the JSON object in `path`, None when it is missing or unreadable."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def read_status(config: Config, job_id: str) -> dict | None:
    """Return the status of job `job_id` (None: no such job)."""
    folder = job_folder(config, job_id)
    return _read_json(folder / STATUS) if folder is not None else None


def latest_job(config: Config, kinds: tuple[str, ...]) -> dict | None:
    """Return the status of the newest job of one of `kinds` (None: none kept)."""
    folder = config.jobs_folder
    if not folder.is_dir():
        return None
    for path in sorted((p for p in folder.iterdir() if JOB_ID.match(p.name)), reverse=True):
        status = _read_json(path / STATUS)
        if status is not None and status.get("kind") in kinds:
            return status
    return None


def unfinished_jobs(config: Config) -> list[dict]:
    """Return the statuses of the kept jobs that have not ended (queued or running), newest first."""
    folder = config.jobs_folder
    if not folder.is_dir():
        return []
    found = []
    for path in sorted((p for p in folder.iterdir() if JOB_ID.match(p.name)), reverse=True):
        status = _read_json(path / STATUS)
        if status is not None and status.get("state") not in FINAL_STATES:
            found.append(status)
    return found


def result_file(config: Config, job_id: str, name: str) -> Path | None:
    """Return the result file `name` of job `job_id` when it exists (None for anything else)."""
    folder = job_folder(config, job_id)
    if folder is None or not isinstance(name, str) or not RESULT_NAME.match(name):
        return None
    path = folder / FILES / name
    return path if path.is_file() else None


def _prune(config: Config) -> None:
    """Remove the folders of ended jobs beyond the newest KEEP_JOBS."""
    folders = sorted((p for p in config.jobs_folder.iterdir() if JOB_ID.match(p.name)), reverse=True)
    for path in folders[KEEP_JOBS:]:
        status = _read_json(path / STATUS) or {}
        if status.get("state") in FINAL_STATES:
            shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------------------------- starting


def safe_file_name(name: str) -> str:
    """Return an uploaded file's name reduced to a plain file name (letters, digits, ".", "_", "-"; at most 100
    characters), keeping its extension."""
    base = re.split(r"[\\/]", str(name))[-1]
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_")[:90] or "upload"
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext)[:8]
    return f"{stem}.{ext}" if ext else stem


def start_import(config: Config, actor: str, address: str, files: dict[str, tuple[str, bytes]], *,
                 replace: bool = False, strict: bool = False) -> str:
    """Start the import of `files` ({input kind of IMPORT_INPUTS: (file name, contents)}) as a background job and
    return its id; JobRefused when another import runs. The contents are written only into a temporary folder,
    removed when the import ends."""
    unknown = [kind for kind in files if kind not in IMPORT_INPUTS]
    if unknown or not files:
        raise JobRefused("nothing to import" if not files else f"unknown input {unknown[0]!r}")
    lock = _take_lock(config, "import")
    uploads = tempfile.TemporaryDirectory(prefix="dashboard-upload-")
    try:
        saved = {}
        for kind, (name, contents) in files.items():
            target = Path(uploads.name) / kind / safe_file_name(name)
            target.parent.mkdir()
            target.write_bytes(contents)
            saved[kind] = {"name": target.name, "path": str(target), "bytes": len(contents)}
        options = {"files": saved, "upload_dir": uploads.name, "replace": bool(replace), "strict": bool(strict)}
        return _launch(config, "import", actor, address, options, lock, uploads)
    except BaseException:
        uploads.cleanup()
        lock.close()
        raise


def start_command(config: Config, kind: str, actor: str, address: str) -> str:
    """Start the job `kind` (one of COMMAND_KINDS) in the background and return its id; JobRefused when one of the
    same kind runs."""
    if kind not in COMMAND_KINDS:
        raise JobRefused(f"unknown job {kind!r}: one of {', '.join(COMMAND_KINDS)}")
    lock = _take_lock(config, kind)
    try:
        return _launch(config, kind, actor, address, {}, lock, None)
    except BaseException:
        lock.close()
        raise


def _take_lock(config: Config, kind: str):
    """Return the open lock file of `kind`, locked (flock); JobRefused naming the running job when it is held."""
    folder = config.jobs_folder
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / f"{kind}.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        running = next((s for s in unfinished_jobs(config) if s.get("kind") == kind), None)
        who = f" (started by {running.get('actor')} at {running.get('started')})" if running else ""
        raise JobRefused(f"a job “{KIND_LABELS[kind]}” is already running{who}; wait for it to end") from None
    return handle


def _launch(config: Config, kind: str, actor: str, address: str, options: dict, lock,
            uploads: tempfile.TemporaryDirectory | None) -> str:
    """Write the job's spec and status, start its worker process holding `lock`, and return the job id; a thread
    waits for the process, then removes the upload folder and marks a job whose process died as failed."""
    job_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    folder = config.jobs_folder / job_id
    (folder / FILES).mkdir(parents=True)
    spec = {"id": job_id, "kind": kind, "actor": actor, "address": address, "started": _now(),
            "lock_fd": lock.fileno(), **options}
    (folder / SPEC).write_text(json.dumps(spec, indent=1))
    write_status(folder, id=job_id, kind=kind, label=KIND_LABELS[kind], actor=actor, state="queued",
                 step="starting", progress=None, started=spec["started"], finished=None, message="", summary=None,
                 files=[], inputs={k: v["name"] for k, v in options.get("files", {}).items()})
    env = dict(os.environ, MODEL_DIR=str(config.model_dir), PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p))
    if config.database_url:
        env["DATABASE_URL"] = config.database_url
    else:
        env.pop("DATABASE_URL", None)
    with open(folder / "log.txt", "ab") as output:
        process = subprocess.Popen([sys.executable, "-m", "dashboard.job_worker", str(folder)], cwd=str(REPO_ROOT),
                                   env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=output,
                                   pass_fds=(lock.fileno(),))
    lock.close()  # the worker holds the lock (the same open file) until it ends
    log.info("job %s (%s) started by %s: process %s", job_id, kind, actor, process.pid)
    threading.Thread(target=_watch, args=(process, folder, uploads), name=f"job-{job_id}", daemon=True).start()
    try:
        _prune(config)
    except OSError as exc:
        log.warning("could not remove old job folders: %s", exc)
    return job_id


def _watch(process: subprocess.Popen, folder: Path, uploads: tempfile.TemporaryDirectory | None) -> None:
    """Wait for a job's process; remove its upload folder; mark the job failed if it ended without a final state."""
    code = process.wait()
    if uploads is not None:
        uploads.cleanup()
    status = _read_json(folder / STATUS) or {}
    if status.get("state") not in FINAL_STATES:
        write_status(folder, state="failed", finished=_now(), progress=None,
                     message=f"the job's process ended (exit code {code}) before it finished; see "
                             f"{folder / 'log.txt'}")


# ----------------------------------------------------------------------------------------------- the history


def record_finished(conn: sa.Connection, status: dict) -> None:
    """Add the ended job `status` to the jobs table (in the caller's transaction)."""
    conn.execute(sa.insert(db.jobs).values(
        job_id=status["id"], kind=status["kind"], actor=str(status.get("actor", ""))[:128],
        started_at=_naive(status["started"]), finished_at=_naive(status.get("finished") or _now()),
        outcome=status["state"], message=str(status.get("message", ""))[:1000]))


def _naive(text: str) -> datetime:
    """Return an ISO time text as a naive UTC datetime (how the tables store times)."""
    value = datetime.fromisoformat(text)
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def history_rows(conn: sa.Connection, limit: int = 200) -> list[dict]:
    """Return the latest `limit` ended jobs of the jobs table, newest first, as grid rows (kind, who, started,
    finished, outcome, message)."""
    rows = conn.execute(sa.select(db.jobs).order_by(db.jobs.c.id.desc()).limit(max(1, min(int(limit), 1000)))).all()
    return [{"kind": KIND_LABELS.get(row.kind, row.kind), "actor": row.actor, "started": _text(row.started_at),
             "finished": _text(row.finished_at), "outcome": row.outcome, "message": row.message} for row in rows]


def running_rows(config: Config) -> list[dict]:
    """Return the unfinished jobs as grid rows like `history_rows` (outcome "running" or "queued")."""
    return [{"kind": s.get("label", s.get("kind")), "actor": s.get("actor", ""),
             "started": _text(s.get("started")), "finished": "", "outcome": s.get("state", ""),
             "message": s.get("step") or ""} for s in unfinished_jobs(config)]


def _text(value) -> str:
    """Return a stored time (datetime or ISO text) as "YYYY-MM-DD HH:MM:SS" UTC."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = _naive(value)
    return value.strftime("%Y-%m-%d %H:%M:%S")
