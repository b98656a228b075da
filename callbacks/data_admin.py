"""Callbacks of the Data page's administration (layouts/data_admin.py): uploads into the import, background jobs,
their progress, the job history and the audit log. Admins only.

The server refuses these callbacks to anyone but an admin before they run (their ids start with "data-admin-":
dashboard/access_rules.py); each body checks again (`require_admin`). An upload travels as the dcc.Upload's
base64 text inside the callback request, so an admin's callback request may be larger than the request guards'
1 MB (`register_upload_body_limit`): up to the four files at the upload limit each; everyone else keeps 1 MB.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import re
import zipfile

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, no_update
from dash.exceptions import PreventUpdate
from flask import jsonify, request

from callbacks.request_guards import MAX_CALLBACK_BODY_BYTES, UPDATE_COMPONENT, BadCallbackInput
from dashboard.config import ADMIN_CALLBACK_BODY_LIMIT
from dashboard import audit, jobs
from dashboard.context import AppContext, unavailable_kind
from dashboard.errors import error_summary
from dashboard.web_auth import auth_state
from layouts.data_admin import job_status_view
from layouts.ids import DataAdminIds as Ids

log = logging.getLogger(__name__)

UPLOAD_KINDS = tuple(jobs.IMPORT_INPUTS)  # visits, orders, costs, transactions
TEXT_SAMPLE_BYTES = 64 * 1024  # the first bytes of an upload checked for being text (no NUL byte)
IMPORT_IDS = {"progress": Ids.IMPORT_PROGRESS, "message": Ids.IMPORT_MESSAGE, "summary": Ids.IMPORT_SUMMARY,
              "files_button": Ids.IMPORT_FILES_BUTTON, "shown": Ids.IMPORT_SHOWN}
JOB_IDS = {"progress": Ids.JOB_PROGRESS, "message": Ids.JOB_MESSAGE, "summary": None,
           "files_button": Ids.JOB_FILES_BUTTON, "shown": Ids.JOB_SHOWN}
AUDIT_ROWS = 500
OUTPUT_KEY = re.compile(rb'"output"\s*:\s*"([^"\\]{1,200})"')  # the callback a request body names


class UploadRefused(ValueError):
    """An uploaded file that is not accepted (too large, not .csv, not text): the message says why."""


def require_admin() -> tuple[str, str]:
    """Return (who, address) of the current request; PreventUpdate unless an admin sends it (the access rules
    already answered 403 to a signed-in non-admin)."""
    actor, address, admin = jobs.request_principal()
    if not admin:
        raise PreventUpdate
    return actor, address


def upload_body_limit(limit_bytes: int) -> int:
    """Return the largest callback body an admin may send: the four uploads at `limit_bytes` each, as base64 data
    URLs, plus 1 MB for the rest of the request."""
    return len(UPLOAD_KINDS) * (limit_bytes * 4 // 3 + 1024) + MAX_CALLBACK_BODY_BYTES


# ----------------------------------------------------------------------------------------------- uploads


def decode_upload(contents, filename, limit_bytes: int) -> tuple[str, bytes]:
    """Return (file name, bytes) of a dcc.Upload value (a base64 data URL); UploadRefused for a file that is not a
    .csv, larger than `limit_bytes` or not text; BadCallbackInput for values no browser sends."""
    if not isinstance(contents, str) or not isinstance(filename, str) or len(filename) > 1000:
        raise BadCallbackInput("an upload must be a data URL text with its file name")
    if not filename.lower().endswith(".csv"):
        raise UploadRefused(f"{jobs.safe_file_name(filename)}: only .csv files are imported here")
    header, comma, payload = contents.partition(",")
    if not comma or not header.startswith("data:") or not header.endswith(";base64"):
        raise BadCallbackInput("an upload must be a base64 data URL")
    if len(payload) * 3 // 4 > limit_bytes + 3:
        raise UploadRefused(f"{jobs.safe_file_name(filename)}: larger than the upload limit of "
                            f"{limit_bytes // jobs.MB:,} MB (UPLOAD_MAX_MB)")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadCallbackInput("an upload must be valid base64") from exc
    if len(data) > limit_bytes:
        raise UploadRefused(f"{jobs.safe_file_name(filename)}: larger than the upload limit of "
                            f"{limit_bytes // jobs.MB:,} MB (UPLOAD_MAX_MB)")
    if b"\x00" in data[:TEXT_SAMPLE_BYTES]:
        raise UploadRefused(f"{jobs.safe_file_name(filename)}: not a text file (a CSV file is text)")
    return filename, data


def start_import(ctx: AppContext, actor: str, address: str, contents: list, filenames: list, options) -> dict:
    """Return the import store's value: {"id": the started job} or {"error": why nothing started}. Refused uploads
    are recorded in the audit log."""
    if not isinstance(options, (list, type(None))):
        raise BadCallbackInput("the import options must be a list")
    options = options or []
    limit = jobs.upload_limit_bytes(ctx.config)
    files = {}
    try:
        for kind, content, filename in zip(UPLOAD_KINDS, contents, filenames):
            if content is None:
                continue
            files[kind] = decode_upload(content, filename, limit)
    except UploadRefused as exc:
        _audit("upload", actor, "refused", str(exc))
        return {"error": f"{exc}. Nothing was imported."}
    if not files:
        return {"error": "Choose at least one CSV file to import."}
    try:
        return {"id": jobs.start_import(ctx.config, actor, address, files, replace="replace" in options,
                                        strict="strict" in options)}
    except jobs.JobRefused as exc:
        return {"error": str(exc)}


def start_command(ctx: AppContext, actor: str, address: str, kind) -> dict:
    """Return the job store's value: {"id": the started job} or {"error": why nothing started}."""
    if kind is None:
        return {"error": "Choose a job first."}
    if kind not in jobs.COMMAND_KINDS:
        raise BadCallbackInput(f"unknown job {str(kind)[:40]!r}")
    try:
        return {"id": jobs.start_command(ctx.config, kind, actor, address)}
    except jobs.JobRefused as exc:
        return {"error": str(exc)}


def _audit(event: str, actor: str, outcome: str, detail: str) -> None:
    """Record an audit event of the current request (best effort: see web_auth.AuthState.write)."""
    state = auth_state()
    if state is not None:
        state.audit(event, actor, outcome, detail)


# ----------------------------------------------------------------------------------------------- following jobs


def shown_status(ctx: AppContext, store, kinds: tuple[str, ...]) -> dict | None:
    """Return the status to show for a job store's value: its job's, its error, else the newest job of `kinds`."""
    if store is not None and not isinstance(store, dict):
        raise BadCallbackInput("a job store must be an object or null")
    if store and isinstance(store.get("error"), str):
        return {"error": store["error"]}
    if store and isinstance(store.get("id"), str):
        status = jobs.read_status(ctx.config, store["id"])
        if status is not None:
            return status
    return jobs.latest_job(ctx.config, kinds)


def poll(ctx: AppContext, import_store, job_store, finished_before):
    """Return (import status view, job status view, poll disabled, ended jobs shown or no_update)."""
    import_status = shown_status(ctx, import_store, ("import",))
    job_status = shown_status(ctx, job_store, jobs.COMMAND_KINDS)
    shown = [s for s in (import_status, job_status) if s is not None and "error" not in s]
    running = any(s.get("state") not in jobs.FINAL_STATES for s in shown)
    ended = sorted(str(s.get("id")) for s in shown if s.get("state") in jobs.FINAL_STATES)
    return (job_status_view(import_status, IMPORT_IDS, "No import yet."),
            job_status_view(job_status, JOB_IDS, "No job yet."),
            not running, ended if ended != finished_before else no_update)


def history(ctx: AppContext) -> tuple[list | object, str]:
    """Return (the job history's rows: running jobs, then the ended ones newest first, or no_update, the note)."""
    running = jobs.running_rows(ctx.config)
    try:
        with ctx.engine.connect() as conn:
            ended = jobs.history_rows(conn)
    except Exception as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        return no_update, (f"The database is {kind} ({error_summary(exc)}): the history shows again when it "
                           "answers (Refresh).")
    return running + ended, f"{len(running) + len(ended):,} job(s)."


def audit_rows(ctx: AppContext) -> tuple[list | object, str]:
    """Return (the newest AUDIT_ROWS audit events as grid rows, or no_update when the database cannot be read, the
    note)."""
    try:
        with ctx.engine.connect() as conn:
            events = audit.recent_events(conn, AUDIT_ROWS)
    except Exception as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        return no_update, f"The database is {kind} ({error_summary(exc)}): Refresh when it answers."
    rows = [{"at": e.at.strftime("%Y-%m-%d %H:%M:%S"), "event": e.event, "actor": e.actor, "address": e.address,
             "outcome": e.outcome, "detail": e.detail} for e in events]
    return rows, f"The newest {len(rows):,} event(s)."


def result_download(ctx: AppContext, shown) -> dict:
    """Return the dcc.Download value of the shown job's result files: the file, or a zip of several."""
    if not isinstance(shown, dict) or not isinstance(shown.get("id"), str) or not isinstance(shown.get("files"), list):
        raise PreventUpdate
    paths = [jobs.result_file(ctx.config, shown["id"], name) for name in shown["files"][:20]]
    paths = [p for p in paths if p is not None]
    if not paths:
        raise PreventUpdate
    if len(paths) == 1:
        return dcc.send_file(str(paths[0]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, arcname=path.name)
    return dcc.send_bytes(buffer.getvalue(), f"job-{shown['id']}-results.zip")


# ----------------------------------------------------------------------------------------------- registration


def _too_large(message: str):
    """Return a 413 JSON answer {error: "too_large", message}."""
    response = jsonify(error="too_large", message=message)
    response.status_code = 413
    return response


def register_upload_body_limit(app: Dash, ctx: AppContext) -> None:
    """Let an admin's request to the import callback carry the uploads (`upload_body_limit`). The limit itself is
    applied by dashboard/web_auth.py before anything reads a body (this registers it, with its reason, under
    ADMIN_CALLBACK_BODY_LIMIT: an admin gets it, everyone else the guards' 1 MB); here a body over 1 MB is read
    before the request guards (which then check the envelope of these bytes) and kept only when its top-level
    "output" is the import callback's; any other gets 413 as from the guards."""
    update_path = f"{app.config.routes_pathname_prefix}{UPDATE_COMPONENT}"
    limit = upload_body_limit(jobs.upload_limit_bytes(ctx.config))
    app.server.extensions[ADMIN_CALLBACK_BODY_LIMIT] = (limit, f"four uploads of UPLOAD_MAX_MB="
                                                               f"{ctx.config.upload_max_mb} MB")
    import_output = f"{Ids.IMPORT_JOB}.data".encode()

    @app.server.before_request
    def _admin_upload_body():
        """Return 413 for a callback body over the guards' 1 MB that is not an import; else None (a body this
        large got past dashboard/web_auth.py's limit only as an admin's, within `limit`)."""
        if request.path != update_path or request.method != "POST":
            return None
        length = request.content_length
        if length is None or length <= MAX_CALLBACK_BODY_BYTES:
            return None
        output = OUTPUT_KEY.search(request.get_data(cache=True))  # a key: quotes inside texts are escaped
        if output is None or output.group(1) != import_output:
            return _too_large(f"request body: at most {MAX_CALLBACK_BODY_BYTES} bytes")
        return None


def register(app: Dash, ctx: AppContext) -> None:
    """Register the administration's callbacks on `app`."""
    register_upload_body_limit(app, ctx)

    for kind in UPLOAD_KINDS:  # the chosen file's name and size, refused in the browser when too large
        app.clientside_callback(
            ClientsideFunction(namespace="data_admin", function_name="chosen_file"),
            Output(Ids.upload_name(kind), "children"), Output(Ids.upload(kind), "contents"),
            Input(Ids.upload(kind), "contents"), State(Ids.upload(kind), "filename"), State(Ids.LIMITS, "data"),
            prevent_initial_call=True,
        )

    @app.callback(Output(Ids.IMPORT_JOB, "data"), Input(Ids.IMPORT_START, "n_clicks"),
                  *[State(Ids.upload(kind), "contents") for kind in UPLOAD_KINDS],
                  *[State(Ids.upload(kind), "filename") for kind in UPLOAD_KINDS],
                  State(Ids.IMPORT_OPTIONS, "value"), prevent_initial_call=True)
    def _start_import(n_clicks, *values):
        """Return the import store: the started job's id, or why nothing started."""
        if not n_clicks:
            raise PreventUpdate
        actor, address = require_admin()
        count = len(UPLOAD_KINDS)
        contents, filenames, options = list(values[:count]), list(values[count:2 * count]), values[-1]
        return start_import(ctx, actor, address, contents, filenames, options)

    @app.callback(Output(Ids.JOB_ID, "data"), Input(Ids.JOB_START, "n_clicks"), State(Ids.JOB_KIND, "value"),
                  prevent_initial_call=True)
    def _start_job(n_clicks, kind):
        """Return the job store: the started job's id, or why nothing started."""
        if not n_clicks:
            raise PreventUpdate
        actor, address = require_admin()
        if kind is None:
            raise PreventUpdate
        return start_command(ctx, actor, address, kind)

    @app.callback(Output(Ids.IMPORT_STATUS, "children"), Output(Ids.JOB_STATUS, "children"),
                  Output(Ids.POLL, "disabled"), Output(Ids.FINISHED, "data"),
                  Input(Ids.POLL, "n_intervals"), Input(Ids.IMPORT_JOB, "data"), Input(Ids.JOB_ID, "data"),
                  State(Ids.FINISHED, "data"))
    def _poll(_n, import_store, job_store, finished_before):
        """Return the two status views, whether the timer stops, and the ended jobs shown (`poll`)."""
        require_admin()
        return poll(ctx, import_store, job_store, finished_before)

    @app.callback(Output(Ids.HISTORY, "rowData"), Output(Ids.HISTORY_NOTE, "children"),
                  Input(Ids.FINISHED, "data"), Input(Ids.HISTORY_REFRESH, "n_clicks"), Input(Ids.IMPORT_JOB, "data"),
                  Input(Ids.JOB_ID, "data"))
    def _history(_finished, _clicks, _import_started, _job_started):
        """Return the job history's rows and note (`history`)."""
        require_admin()
        return history(ctx)

    @app.callback(Output(Ids.AUDIT, "rowData"), Output(Ids.AUDIT_NOTE, "children"),
                  Input(Ids.FINISHED, "data"), Input(Ids.AUDIT_REFRESH, "n_clicks"))
    def _audit_log(_finished, _clicks):
        """Return the audit log's rows and note (`audit_rows`)."""
        require_admin()
        return audit_rows(ctx)

    @app.callback(Output(Ids.IMPORT_DOWNLOAD, "data"), Input(Ids.IMPORT_FILES_BUTTON, "n_clicks"),
                  State(Ids.IMPORT_SHOWN, "data"), prevent_initial_call=True)
    def _import_files(n_clicks, shown):
        """Return the download of the shown import's rejects file(s)."""
        if not n_clicks:
            raise PreventUpdate
        require_admin()
        return result_download(ctx, shown)

    @app.callback(Output(Ids.JOB_DOWNLOAD, "data"), Input(Ids.JOB_FILES_BUTTON, "n_clicks"),
                  State(Ids.JOB_SHOWN, "data"), prevent_initial_call=True)
    def _job_files(n_clicks, shown):
        """Return the download of the shown job's result file(s)."""
        if not n_clicks:
            raise PreventUpdate
        require_admin()
        return result_download(ctx, shown)
