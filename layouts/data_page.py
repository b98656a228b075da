"""The data page: what the database holds (backend, tables, rows, date ranges, data version) and how an
administrator makes the churn scores; for admins also the administration (layouts/data_admin.py: uploads, jobs,
job history, audit log, accounts)."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from dashboard.jobs import current_config, request_principal, upload_limit_bytes
from layouts.data_admin import admin_area
from layouts.ids import DataPageIds


def empty_database_notice(backend: str) -> dbc.Alert:
    """Return the notice shown when the database holds no events, with how to import."""
    return dbc.Alert(
        [
            html.H4("No data yet", className="alert-heading"),
            html.P(f"The {backend} database given by DATABASE_URL holds no visits, orders or costs."),
            html.P("Import your CSV files (both header styles of the metric contract are accepted):"),
            html.Pre(
                "python -m dashboard import --visits visits.csv --orders orders.csv --costs costs.csv",
                className="mb-2",
            ),
            html.P(["or load demo data: ", html.Code("python -m dashboard demo")], className="mb-0"),
        ],
        color="info",
        id=DataPageIds.EMPTY_NOTICE,
    )


def database_summary(info: dict) -> html.Div:
    """Return a card with the database summary of `dashboard.db.db_info`."""
    rows = []
    for name, entry in info["tables"].items():
        rows.append(
            html.Tr(
                [
                    html.Td(name),
                    html.Td(f"{entry['rows']:,}", className="text-end"),
                    html.Td(f"{entry['users']:,}" if "users" in entry else "—", className="text-end"),
                    html.Td(entry["first"] or "—"),
                    html.Td(entry["last"] or "—"),
                ]
            )
        )
    table = dbc.Table(
        [
            html.Thead(html.Tr([html.Th("table"), html.Th("rows", className="text-end"),
                                html.Th("users", className="text-end"), html.Th("first date"), html.Th("last date")])),
            html.Tbody(rows),
        ],
        bordered=False, hover=True, size="sm", className="mb-0", id=DataPageIds.SUMMARY_TABLE,
    )
    return dbc.Card(
        [
            dbc.CardHeader(html.H5("Database", className="mb-0")),
            dbc.CardBody(
                [
                    html.P(
                        [html.Strong("Backend: "), info["backend"], html.Span(" · "),
                         html.Strong("Data version: "), html.Code(info["data_version"])],
                        className="mb-2",
                    ),
                    table,
                    *derived_note(info.get("derived")),
                ]
            ),
        ],
        id=DataPageIds.SUMMARY,
    )


def derived_note(derived: dict | None) -> list:
    """Return the line saying whether the pages read the derived tables (first visits, user-days), or nothing."""
    if derived is None:
        return []
    if derived["current"]:
        users, days = derived["users"], derived["user_days"]
        text = [html.Strong("Derived tables: "), f"first visits of {users:,} user{'' if users == 1 else 's'} and "
                f"{days:,} user-day{'' if days == 1 else 's'} stored (the profiles and the activity read them)"]
    else:
        text = [html.Strong("Derived tables: "), "not stored for this data version, the pages compute from the "
                "visits; ", html.Code("python -m dashboard refresh"), " stores them and makes the pages faster"]
    return [html.P(text, className="mt-2 mb-0 small text-muted", id=DataPageIds.DERIVED_NOTE)]


CHURN_SCORE_COMMANDS = (
    ("python -m dashboard train", "trains the churn model on the data (a few minutes; saved in MODEL_DIR)"),
    ("python -m dashboard score", "scores every customer with the latest model as of the last date of the data "
                                  "(--as-of DATE for another day)"),
    ("python -m dashboard export-segments --out segments.csv", "clusters the customers (R, F, M) for the Risk "
                                                               "page's cluster card and writes them to a file"),
)


def churn_scores_section() -> dbc.Card:
    """Return the "Churn scores" section: what an administrator runs so that the Risk page has scores and clusters
    (the Risk page links here instead of showing commands)."""
    steps = [html.Li([html.Code(command), f": {what}."]) for command, what in CHURN_SCORE_COMMANDS]
    return dbc.Card(
        [
            dbc.CardHeader(html.H5("Churn scores", className="mb-0")),
            dbc.CardBody(
                [
                    html.P("The Risk page shows the latest scoring dated on or before its observation date. An "
                           "administrator makes one on the server, with the same DATABASE_URL and MODEL_DIR as the "
                           "dashboard, and again after each import to keep the scores current:", className="mb-2"),
                    html.Ol(steps, className="mb-2"),
                    html.P("The Risk page shows the new scores at once (scoring changes the data version). "
                           "Admins can also start these commands below, in the administration's \"Models and "
                           "derived tables\" card.", className="mb-0 small text-muted"),
                ]
            ),
        ],
        id=DataPageIds.CHURN_SCORES,
    )


def data_page(info: dict) -> html.Div:
    """Return the data page for the database summary `info`, with the churn scores instructions and, when an admin
    asks (or anyone in the open local mode), the administration."""
    has_rows = any(entry["rows"] for entry in info["tables"].values())
    body = [database_summary(info)] if has_rows else [empty_database_notice(info["backend"]), database_summary(info)]
    admin = [admin_area(upload_limit_bytes(current_config()))] if request_principal()[2] else []
    return html.Div([html.H2("Data", className="h4 mb-3"), *body, churn_scores_section(), *admin],
                    className="d-grid gap-3")
