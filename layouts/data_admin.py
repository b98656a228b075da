"""The Data page's administration (issue 19), shown to admins only: upload CSV files into the validated import, start
training, scoring, segment export and refresh as background jobs, the job history and the audit log.

Every id of `layouts.ids.DataAdminIds` starts with "data-admin-": its access rule (dashboard/access_rules.py) is
the admin role, so the server refuses these callbacks to anyone else. The view functions turn a job's status
(dashboard/jobs.py) into its progress bar, summary or message; they read nothing themselves.
"""

from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.admin_accounts import accounts_panel
from layouts.ids import DataAdminIds


# the import's inputs (dashboard.jobs.IMPORT_INPUTS) and what each file holds
UPLOAD_HINTS = {
    "visits": ("Visits", "user_id, region, device, channel, session_start, session_end"),
    "orders": ("Orders", "user_id, event_dt, revenue"),
    "costs": ("Costs", "dt, channel, costs"),
    "transactions": ("Transaction log", "InvoiceNo, Quantity, UnitPrice, CustomerID, InvoiceDate (mapped to orders)"),
}
JOB_CHOICES = (
    ("train", "Train the churn model (python -m dashboard train)"),
    ("score", "Score the customers (python -m dashboard score)"),
    ("segments", "Export the segments (python -m dashboard export-segments)"),
    ("refresh", "Refresh the derived tables (python -m dashboard refresh)"),
)
HISTORY_COLUMNS = [
    {"field": "kind", "headerName": "Job"},
    {"field": "actor", "headerName": "Who"},
    {"field": "started", "headerName": "Started (UTC)"},
    {"field": "finished", "headerName": "Finished (UTC)"},
    {"field": "outcome", "headerName": "Outcome", "maxWidth": 130},
    {"field": "message", "headerName": "Message", "flex": 3, "tooltipField": "message"},
]
AUDIT_COLUMNS = [
    {"field": "at", "headerName": "When (UTC)"},
    {"field": "event", "headerName": "Event", "maxWidth": 150},
    {"field": "actor", "headerName": "Who"},
    {"field": "address", "headerName": "From"},
    {"field": "outcome", "headerName": "Outcome", "maxWidth": 140},
    {"field": "detail", "headerName": "Detail", "flex": 3, "tooltipField": "detail"},
]
POLL_MS = 1000


def admin_grid(grid_id: str, columns: list[dict], height: int = 320) -> dag.AgGrid:
    """Return an empty AG Grid (its rows come from a callback) with the dashboard's grid settings."""
    return dag.AgGrid(
        id=grid_id, rowData=[], columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "filter": True, "flex": 1, "minWidth": 120},
        dashGridOptions={"animateRows": False, "domLayout": "normal", "tooltipShowDelay": 300},
        style={"height": f"{height}px"},
    )


def upload_box(kind: str) -> dbc.Col:
    """Return the drop zone of import input `kind`, with its label, expected columns and the chosen file's line."""
    label, columns = UPLOAD_HINTS[kind]
    return dbc.Col(
        [
            html.Label(label, className="fw-semibold mb-1", htmlFor=DataAdminIds.upload(kind)),
            dcc.Upload(
                id=DataAdminIds.upload(kind), multiple=False, accept=".csv,text/csv",
                children=html.Div(["Drop a CSV file here or ", html.Span("choose one", className="link-primary")]),
                className="data-admin-upload", className_active="data-admin-upload-active",
            ),
            html.Div("No file chosen", id=DataAdminIds.upload_name(kind), className="small text-muted mt-1",
                     role="status"),
            html.Div(columns, className="small text-muted"),
        ],
        xs=12, md=6, xl=3, className="mb-3",
    )


def import_card(limit_mb: int) -> dbc.Card:
    """Return the card that uploads CSV files into the import, with its options, button and job status."""
    return dbc.Card(
        [
            dbc.CardHeader(html.H5("Import CSV files", className="mb-0")),
            dbc.CardBody(
                [
                    html.P(["The same validated, all-or-nothing import as ", html.Code("python -m dashboard import"),
                            ": every row is checked against the metric contract, rejected rows go to a rejects file "
                            "(with their line and reason) you can download, exact duplicates are skipped. A file "
                            "the import refuses stores nothing. CSV files only (UTF-8 text), at most "
                            f"{limit_mb:,} MB each; they are removed from the server when the import ends."],
                           className="small"),
                    dbc.Row([upload_box(kind) for kind in UPLOAD_HINTS]),
                    dbc.Checklist(
                        id=DataAdminIds.IMPORT_OPTIONS, value=[], inline=True, className="mb-2 small",
                        options=[{"label": "Replace the stored rows of these tables", "value": "replace"},
                                 {"label": "Strict: import nothing if any row is rejected", "value": "strict"}],
                    ),
                    dbc.Button("Import", id=DataAdminIds.IMPORT_START, color="primary", className="mb-3"),
                    html.Div(id=DataAdminIds.IMPORT_STATUS, **{"aria-live": "polite"}),
                    dcc.Download(id=DataAdminIds.IMPORT_DOWNLOAD),
                ]
            ),
        ],
        className="data-admin-card",
    )


def jobs_card() -> dbc.Card:
    """Return the card that starts training, scoring, segment export or refresh, with the job's status."""
    return dbc.Card(
        [
            dbc.CardHeader(html.H5("Models and derived tables", className="mb-0")),
            dbc.CardBody(
                [
                    html.P("Runs the command on the server in the background, with the dashboard's database and "
                           "model folder; one job of each kind at a time.", className="small"),
                    dbc.Row(
                        [
                            dbc.Col(dcc.Dropdown(id=DataAdminIds.JOB_KIND, clearable=False, searchable=False,
                                                 placeholder="Choose a job",
                                                 options=[{"label": label, "value": value}
                                                          for value, label in JOB_CHOICES]),
                                    xs=12, md=8, className="mb-2"),
                            dbc.Col(dbc.Button("Start", id=DataAdminIds.JOB_START, color="primary"), xs=12, md=4,
                                    className="mb-2"),
                        ],
                        className="g-2",
                    ),
                    html.Div(id=DataAdminIds.JOB_STATUS, **{"aria-live": "polite"}),
                    dcc.Download(id=DataAdminIds.JOB_DOWNLOAD),
                ]
            ),
        ],
        className="data-admin-card",
    )


def grid_card(title: str, grid_id: str, note_id: str, refresh_id: str, columns: list[dict], intro: str) -> dbc.Card:
    """Return a card holding a grid filled by a callback, its note line and a Refresh button."""
    return dbc.Card(
        [
            dbc.CardHeader(dbc.Row([dbc.Col(html.H5(title, className="mb-0")),
                                    dbc.Col(dbc.Button("Refresh", id=refresh_id, size="sm", color="secondary",
                                                       outline=True), width="auto")],
                                   align="center")),
            dbc.CardBody([html.P(intro, className="small mb-2"), admin_grid(grid_id, columns),
                          html.Div(id=note_id, className="small text-muted mt-1")]),
        ],
        className="data-admin-card",
    )


def admin_area(limit_bytes: int) -> html.Div:
    """Return the Data page's administration (admins only): import, jobs, job history, audit log, accounts."""
    limit_mb = max(1, limit_bytes // (1024 * 1024))
    return html.Div(
        [
            html.H3("Administration", className="h5 mt-2 mb-0"),
            dcc.Store(id=DataAdminIds.LIMITS, data={"max_bytes": int(limit_bytes)}),
            dcc.Store(id=DataAdminIds.IMPORT_JOB),
            dcc.Store(id=DataAdminIds.JOB_ID),
            dcc.Store(id=DataAdminIds.FINISHED),
            dcc.Interval(id=DataAdminIds.POLL, interval=POLL_MS, disabled=False),
            import_card(limit_mb),
            jobs_card(),
            grid_card("Job history", DataAdminIds.HISTORY, DataAdminIds.HISTORY_NOTE, DataAdminIds.HISTORY_REFRESH,
                      HISTORY_COLUMNS, "Every job started here: who, when, and how it ended (newest first)."),
            grid_card("Audit log", DataAdminIds.AUDIT, DataAdminIds.AUDIT_NOTE, DataAdminIds.AUDIT_REFRESH,
                      AUDIT_COLUMNS, "Sign-ins, account and token changes, uploads, imports and jobs (newest first; "
                      "never a password or a token)."),
            accounts_panel(),
        ],
        id=DataAdminIds.AREA, className="d-grid gap-3",
    )


# ----------------------------------------------------------------------------------------------- a job's status


def job_status_view(status: dict | None, ids: dict[str, str], empty: str) -> html.Div:
    """Return the view of a job's status: its progress bar while it runs, then its summary or message; `ids` names
    the parts ("progress", "message", "summary", "files_button", "shown"); `empty` is said when there is none."""
    if status is None:
        return html.Div(html.P(empty, className="small text-muted mb-0"))
    if "error" in status:  # the job did not start
        return html.Div(dbc.Alert(status["error"], color="warning", className="mb-0", id=ids["message"]))
    state = status.get("state")
    who = f"{status.get('label', status.get('kind'))} · started by {status.get('actor')} at " \
          f"{str(status.get('started', ''))[:19].replace('T', ' ')} UTC"
    shown = dcc.Store(id=ids["shown"], data={"id": status.get("id"), "files": status.get("files") or []})
    if state not in ("done", "refused", "failed"):
        progress = status.get("progress")
        bar = dbc.Progress(value=progress if progress is not None else 100, striped=True, animated=True,
                           label=f"{progress}%" if progress is not None else "", id=ids["progress"],
                           className="mb-2", style={"height": "1.25rem"})
        return html.Div([bar, html.P([html.Strong(status.get("step") or state), " · ", who],
                                     className="small mb-0", id=ids["message"]), shown])
    parts = [dbc.Progress(value=100, color={"done": "success", "refused": "warning"}.get(state, "danger"),
                          id=ids["progress"], className="mb-2", style={"height": "0.5rem"})]
    color = {"done": "success", "refused": "warning"}.get(state, "danger")
    heading = {"done": "Done", "refused": "Refused", "failed": "Failed"}[state]
    if state != "done" and status.get("kind") == "import":
        heading += ", nothing was stored"  # the import is one transaction
    parts.append(dbc.Alert([html.Strong(f"{heading}: "), status.get("message") or ""], color=color,
                           className="mb-2", id=ids["message"]))
    if status.get("summary") and ids.get("summary"):
        parts.append(import_summary(status["summary"], ids["summary"]))
    if status.get("files"):
        label = "Download the rejects file" if status.get("kind") == "import" else "Download the result"
        if len(status["files"]) > 1:
            label += f"s ({len(status['files'])}, zipped)"
        parts.append(dbc.Button(label, id=ids["files_button"], color="secondary", outline=True, size="sm",
                                className="mb-2"))
    parts.append(html.P(who, className="small text-muted mb-0"))
    parts.append(shown)
    return html.Div(parts)


def import_summary(summary: dict, summary_id: str) -> html.Div:
    """Return the import's summary: per file the rows read, imported, duplicate and rejected; the rows now stored per
    table and the data version."""
    head = html.Thead(html.Tr([html.Th("file"), html.Th("table")]
                              + [html.Th(name, className="text-end")
                                 for name in ("read", "imported", "duplicate", "rejected")]))
    body = html.Tbody([
        html.Tr([html.Td(f["file"]), html.Td(f["table"])]
                + [html.Td(f"{f[name]:,}", className="text-end")
                   for name in ("read", "imported", "duplicate", "rejected")])
        for f in summary.get("files", [])
    ])
    stored = ", ".join(f"{table} {count:,}" for table, count in (summary.get("rows") or {}).items())
    lines = [html.Strong("Rows stored now: "), stored or "—"]
    if summary.get("data_version"):
        lines += [html.Span(" · "), html.Strong("Data version: "), html.Code(summary["data_version"])]
    replaced = summary.get("replaced") or {}
    notes = [html.P(f"Replaced: {count:,} earlier {table} row(s) deleted", className="small mb-1")
             for table, count in replaced.items()]
    return html.Div([dbc.Table([head, body], size="sm", bordered=False, className="mb-2", responsive=True),
                     html.P(lines, className="small mb-1"), *notes], id=summary_id)
