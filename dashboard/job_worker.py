"""The process of one Data page job (dashboard/jobs.py): `python -m dashboard.job_worker <job folder>`.

It runs what the CLI runs, in this process: the validated all-or-nothing import (`import_files`, as `import`) or
the `train`, `score`, `export-segments` and `refresh` commands (`dashboard.cli.main`), with DATABASE_URL and
MODEL_DIR from the environment the starter gave it. Their output goes to the job's log; its last line is the job's
step, and a percentage in it (the progress bars of large files and of the model search) its progress. At the end
it writes the job's final status (summary, message, result files), a row of the jobs table and the audit events,
and removes the uploaded files.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import shutil
import sys
import time
import traceback
from pathlib import Path

from dashboard import audit, cli, db
from dashboard.config import Config
from dashboard.db import DatabaseBusyError
from dashboard.errors import BadInput
from dashboard.importer import import_files
from dashboard.importer.staging import REJECTS_SUFFIX
from dashboard.jobs import FILES, SPEC, _now, record_finished, write_status

log = logging.getLogger("dashboard.job_worker")

PERCENT = re.compile(r"(\d{1,3})%\|")
STATUS_EVERY_SECONDS = 0.5
COMMANDS = {"train": ["train"], "score": ["score"], "refresh": ["refresh"]}  # "segments": its --out is the job's
# The lines of a command's output that make the job's message (the others are in its log).
KEY_LINES = {"train": ("chosen:", "test on T2:", "saved "), "score": ("scored ",),
             "segments": ("customers written to", "clusters:"), "refresh": ("data version:", "first visits")}
FOLDERS = re.compile(r"(?<![\w.])/(?:[^\s/]+/)+")  # the folders of an absolute path (the file name stays)


class ProgressSink(io.TextIOBase):
    """A text stream that copies what a command prints to the job's log and turns its last line into the job's
    step (and a tqdm percentage into its progress), written at most every STATUS_EVERY_SECONDS."""

    def __init__(self, folder: Path, log_stream) -> None:
        super().__init__()
        self.folder = folder
        self.log_stream = log_stream
        self.pending = ""
        self.lines: list[str] = []
        self.written_at = 0.0

    def writable(self) -> bool:
        """Return True: this stream takes text."""
        return True

    def write(self, text: str) -> int:
        """Copy `text` to the log and note its complete lines; return its length."""
        self.log_stream.write(text)
        self.pending += text
        *parts, self.pending = re.split(r"[\r\n]", self.pending)
        fields = {}
        for part in (p.strip() for p in parts if p.strip()):
            self.lines = (self.lines + [part])[-20:]
            match = PERCENT.search(part)
            fields = {"step": part[:200], **({"progress": min(100, int(match.group(1)))} if match else {})}
        if fields and time.monotonic() - self.written_at >= STATUS_EVERY_SECONDS:
            write_status(self.folder, **fields)
            self.written_at = time.monotonic()
        return len(text)

    def flush(self) -> None:
        """Flush the log."""
        self.log_stream.flush()


def _short(exc: BaseException, upload_dir: str | None) -> str:
    """Return the one-line message of `exc`, the temporary upload folder removed from the file paths in it."""
    text = str(exc).strip() or type(exc).__name__
    if upload_dir:
        text = re.sub(re.escape(upload_dir.rstrip("/")) + r"/[a-z]+/", "", text)
    return text


def run_import(spec: dict, config: Config, folder: Path, sink: ProgressSink) -> tuple[str, str, dict | None,
                                                                                      list[str]]:
    """Import the uploaded files; return (outcome done|refused|failed, message, summary, result file names)."""
    files = spec["files"]
    paths = {kind: Path(entry["path"]) for kind, entry in files.items()}
    engine = db.make_engine(config.database_url, lock_timeout=db.DEFAULT_LOCK_WAIT)
    try:
        write_status(folder, step="recording the upload")
        with engine.begin() as conn:
            db.create_schema(conn)
            for kind, entry in files.items():
                audit.record_event(conn, event="upload", actor=spec["actor"], address=spec["address"], outcome="ok",
                                   detail=f"{kind}: {entry['name']} ({entry['bytes']:,} bytes), job {spec['id']}")
        write_status(folder, step="checking and importing the rows (all or nothing)")
        outcome, summary = "done", None
        try:
            with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
                report = import_files(engine, visits=paths.get("visits"), orders=paths.get("orders"),
                                      costs=paths.get("costs"), transactions=paths.get("transactions"),
                                      replace=spec.get("replace", False), strict=spec.get("strict", False),
                                      progress=True)
        except BadInput as exc:
            outcome, message = "refused", _short(exc, spec["upload_dir"])  # one transaction: nothing stored
        except DatabaseBusyError as exc:
            outcome, message = "failed", str(exc)
        else:
            with engine.connect() as conn:
                counts = db.row_counts(conn)
            summary = {
                "files": [{"input": kind, "file": files[kind]["name"], "table": r.table, "read": r.read,
                           "imported": r.imported, "duplicate": r.duplicate, "rejected": r.rejected,
                           "ignored_columns": r.ignored_columns, "dropped": r.dropped}
                          for kind, r in zip([k for k in ("visits", "orders", "costs") if k in paths]
                                             + (["transactions"] if "transactions" in paths else []), report.files)],
                "replaced": report.replaced, "data_version": report.data_version if report.changed else None,
                "rows": counts,
            }
            imported = sum(r.imported for r in report.files)
            message = (f"imported {imported:,} new row(s); data version {report.data_version}" if report.changed
                       else "nothing changed: every valid row was already stored")
            if report.rejected:
                message += f"; {report.rejected:,} row(s) rejected (see the rejects file)"
        results = _keep_rejects(Path(spec["upload_dir"]), folder)
        return outcome, message, summary, results
    finally:
        engine.dispose()


def _keep_rejects(upload_dir: Path, folder: Path) -> list[str]:
    """Copy the rejects files the import wrote beside the uploads into the job's result files; return their names."""
    names = []
    for path in sorted(upload_dir.glob(f"*/*{REJECTS_SUFFIX}")):
        stem = path.name[: -len(REJECTS_SUFFIX)].rsplit(".", 1)[0]
        name = f"{path.parent.name}-{stem}{REJECTS_SUFFIX}"
        shutil.copyfile(path, folder / FILES / name)
        names.append(name)
    return names


def run_command(spec: dict, folder: Path, sink: ProgressSink) -> tuple[str, str, None, list[str]]:
    """Run the CLI command of the job; return (outcome, message: its last output lines or its error, None, result
    file names)."""
    kind = spec["kind"]
    results = []
    if kind == "segments":
        argv, results = ["export-segments", "--out", str(folder / FILES / "segments.csv")], ["segments.csv"]
    else:
        argv = list(COMMANDS[kind])
    with contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        code = cli.main(argv)
    lines = [FOLDERS.sub("", line) for line in sink.lines if not PERCENT.search(line)]  # no server paths
    errors = [line for line in lines if line.startswith("error:") or "database is busy" in line]
    if code == 0:
        summary = [line for line in lines if any(key in line for key in KEY_LINES[kind])] or lines[-2:]
        return "done", " · ".join(summary)[:1000], None, [n for n in results if (folder / FILES / n).is_file()]
    return ("refused" if code == 2 else "failed"), (errors[-1] if errors else " · ".join(lines[-2:]) or
                                                    f"exit code {code}")[:1000], None, []


def record(spec: dict, config: Config, status: dict) -> str | None:
    """Add the ended job to the jobs table and the audit log; return why that failed (None: recorded)."""
    event = "import" if spec["kind"] == "import" else "job"
    outcome = {"done": "ok"}.get(status["state"], status["state"])
    try:
        engine = db.make_engine(config.database_url, lock_timeout=db.DEFAULT_LOCK_WAIT)
        try:
            with engine.begin() as conn:
                db.create_schema(conn)
                record_finished(conn, status)
                audit.record_event(conn, event=event, actor=spec["actor"], address=spec["address"], outcome=outcome,
                                   detail=f"{spec['kind']} job {spec['id']}: {status.get('message', '')}")
        finally:
            engine.dispose()
    except Exception as exc:  # noqa: BLE001 - the job's own outcome stands; say the history missed it
        log.exception("could not record job %s", spec["id"])
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the job whose folder is the one argument; return 0 when it succeeded, 1 otherwise."""
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0])
    spec = json.loads((folder / SPEC).read_text())
    config = Config.from_env()
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    write_status(folder, state="running", step="starting", progress=None)
    sink = ProgressSink(folder, sys.stderr)
    try:
        if spec["kind"] == "import":
            outcome, message, summary, results = run_import(spec, config, folder, sink)
        else:
            outcome, message, summary, results = run_command(spec, folder, sink)
    except Exception as exc:  # noqa: BLE001 - every failure ends the job with its reason
        traceback.print_exc()
        outcome, message, summary, results = "failed", f"{type(exc).__name__}: {_short(exc, spec.get('upload_dir'))}", \
            None, []
    finally:
        if spec.get("upload_dir"):
            shutil.rmtree(spec["upload_dir"], ignore_errors=True)  # the uploads go as soon as the import ends
    final = {"state": outcome, "finished": _now(), "progress": 100 if outcome == "done" else None, "step": "",
             "message": message, "summary": summary, "files": results}
    problem = record(spec, config, {"id": spec["id"], "kind": spec["kind"], "actor": spec["actor"],
                                    "started": spec["started"], **final})  # before the final state: the page
    if problem is not None:  # reads the history again when it sees the job ended
        final["message"] = f"{message} (not recorded in the history: {problem})"
    with contextlib.suppress(OSError, TypeError):
        os.close(spec.get("lock_fd"))  # the next job of this kind may start as soon as this one shows as ended
    write_status(folder, **final)
    return 0 if outcome == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
