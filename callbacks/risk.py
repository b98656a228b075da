"""Segment-risk page: its charts, declared once (`CHARTS`), and its other callbacks (`register`: the scoring
notice, the demo-model poll, the clustering card, the customer grid's own CSV export): filters and page
parameters -> ml.risk_report (through the cache) -> layouts.risk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dash import Dash, Input, Output, State, callback_context, dcc, html, no_update
from dash.exceptions import PreventUpdate

from callbacks.state import checked_state, load_bounds
from dashboard.cache import MetricReader, memo_key
from dashboard.context import AppContext, marker_kind, unavailable_kind
from dashboard.spreadsheet_export import frame_csv, frame_xlsx  # formula-like text is written as text
from layouts import risk as view
from layouts.charts import Chart, ChartRequest, chart_drawn_id, view_only
from layouts.glossary import terms
from layouts.ids import (FilterIds, RiskIds, chart_body_id, chart_graph_id, csv_button_id, csv_download_id,
                         xlsx_button_id)
from ml import demo_model_status, risk_report


def _param(request: ChartRequest, name: str) -> str:
    """Return page parameter `name` of the request, its default when missing or unknown."""
    spec = next(p for p in view.PAGE_PARAMS if p.name == name)
    value = request.params.get(name)
    return value if value in spec.values else spec.default


def customers_of(request: ChartRequest) -> pd.DataFrame:
    """Return the scored customers under the request's filters (cached)."""
    return request.read(risk_report.customer_risk_table, request.filters)


def distribution_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the risk distribution table (what the distribution chart shows)."""
    return view.distribution_table(customers_of(request))


def matrix_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the segment x band matrix (what the heatmap shows)."""
    return risk_report.risk_matrix(customers_of(request))


def target_profile_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the target segment's behaviour comparison (what the profile table shows): the cached customer
    table against the cached scoring-date snapshot (read only when there is a target to compare)."""
    customers = customers_of(request)
    snapshot = (request.read(risk_report.scoring_snapshot, request.filters)
                if risk_report.has_target_contrast(customers) else pd.DataFrame())
    return risk_report.compare_target(customers, snapshot)


def target_profile_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the target summary and profile grid."""
    return view.target_profile_view(frame, customers_of(request))


def target_reasons_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the model reasons among the target segment (what the reasons chart shows)."""
    return risk_report.target_reasons(customers_of(request))


def segment_tests_frame(request: ChartRequest) -> pd.DataFrame:
    """Return conversion and retention by the chosen segment dimension with the tests."""
    return request.read(risk_report.segment_comparison, request.filters, dimension=_param(request, "compare"),
                        horizon=request.state.horizon)


def segment_tests_view(frame: pd.DataFrame, request: ChartRequest):
    """Return the segment tests grid."""
    return view.segment_tests_grid(frame, risk_report.SEGMENT_DIMENSIONS[_param(request, "compare")])


def customers_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the customer rows the table shows (band and segment selections applied)."""
    return view.customers_table(customers_of(request), _param(request, "band"), _param(request, "segment"))


def segments_frame(request: ChartRequest) -> pd.DataFrame:
    """Return the RFM segment summary (what the segments card shows; works on orders-only data)."""
    return view.segments_summary_table(request.read(risk_report.segment_summary, request.filters))


NO_CLUSTERS = "No clustering yet."


def clusters_frame(ctx: AppContext) -> pd.DataFrame:
    """Return the cluster profiles of the saved segment model (empty when export-segments has not run)."""
    from ml.segments import load_segment_model

    model = load_segment_model(ctx.config.model_dir)
    return pd.DataFrame(model.card.get("profiles", [])) if model is not None else pd.DataFrame()


def clusters_download(ctx: AppContext, file_format: str = "csv") -> dict:
    """Return the dcc.Download data of the cluster profiles as CSV or XLSX (headers as the card shows them), named
    `risk_clusters_<observation date of the clustering>`."""
    from ml.segments import load_segment_model

    model = load_segment_model(ctx.config.model_dir)
    frame = pd.DataFrame(model.card.get("profiles", [])) if model is not None else pd.DataFrame()
    as_of = str(model.card.get("observation_date") or "") if model is not None else ""
    filename = "_".join(part for part in ("risk", "clusters", as_of) if part) + f".{file_format}"
    if file_format == "xlsx":
        return dcc.send_bytes(frame_xlsx(frame, CLUSTERS_COLUMNS, "Customer clusters"), filename)
    return dcc.send_string(frame_csv(frame, CLUSTERS_COLUMNS), filename)


def segment_model_fingerprint(ctx: AppContext) -> str | None:
    """Return "path:mtime_ns:size" of the saved segment model file (export-segments replaces it without changing the
    data), None when there is none (text: a browser's JSON numbers would round the nanoseconds)."""
    from ml.segments import SEGMENT_MODEL_NAME

    path = Path(ctx.config.model_dir) / SEGMENT_MODEL_NAME
    try:
        status = path.stat()
    except OSError:
        return None
    return f"{path}:{status.st_mtime_ns}:{status.st_size}"


CLUSTERS_MEMO_KEY = "risk_clusters_body"


def clusters_update(ctx: AppContext, drawn) -> tuple:
    """Return (body, store content) of the clustering card for its store `drawn`: (no_update, no_update) while the
    saved model file is the one it shows; else its content, memoized per model file (`clusters_body` loads the
    model: about a second on the demo) and the file's fingerprint (None without a model: asked again each time)."""
    fingerprint = segment_model_fingerprint(ctx)
    if fingerprint is not None and drawn == fingerprint:
        return no_update, no_update
    if fingerprint is None:
        return clusters_body(ctx), None
    memo = ctx.extras.get(CLUSTERS_MEMO_KEY)
    if memo is None or memo[0] != fingerprint:
        memo = ctx.extras[CLUSTERS_MEMO_KEY] = (fingerprint, clusters_body(ctx))
    return memo[1], fingerprint


def clusters_body(ctx: AppContext):
    """Return the clustering card: the saved model's scores by k and profiles (read from the file each time,
    not cached, because export-segments replaces the model without changing the data; `clusters_update` memoizes
    it per model file)."""
    from layouts.common import empty_state
    from ml.segments import load_segment_model

    model = load_segment_model(ctx.config.model_dir)
    if model is None:
        building = _demo_model_status(ctx)
        if building is not None and building.get("state") in demo_model_status.ACTIVE:
            return empty_state("The demo's clustering is being computed in the background.",
                               "Reload the page in a minute or two (see the notice above).")
        return html.Div([empty_state(NO_CLUSTERS, "An administrator computes it (RFM, k by silhouette) with the "
                                                  "churn scores."),
                         html.P(view.admin_link("How an administrator makes it"), className="text-center small")])
    return view.clusters_view(pd.DataFrame(model.card.get("profiles", [])), model.card)


NO_SCORES = "No churn scores for these filters."
NO_SCORES_YET = "No churn scores yet for this observation date."


def unless_unscored(message: str):
    """Return the empty-state texts of a chart that needs churn scores: `message` (check the filters) when a
    scoring run exists for the observation date, else that there are no scores at all (the filters are not why)."""
    def texts(request: ChartRequest) -> tuple[str, str | None]:
        if request.read(risk_report.scores_available, request.filters):
            return message, None
        return NO_SCORES_YET, "The notice at the top of the page says how they are made."
    return texts


def scoring_facts(ctx: AppContext, stored: dict | None) -> dict | None:
    """Return what the page says about its scoring for the stored filter state: the date of the scoring it shows
    (`scored`, None without one), the date that scoring may not be after (`cutoff`), the end of the date range
    (`end`) and the first scoring's date (`first`); None while the database cannot be read or does not answer."""
    if not stored:
        raise PreventUpdate
    if marker_kind(stored):
        return None  # the database does not answer: the filter bar and the cards say so and retry
    try:
        with MetricReader(ctx) as read:  # the state checked by the URL's rules, as every chart reads it
            state = checked_state(stored, load_bounds(read))

            def facts() -> dict:
                conn, filters = read.connection(), state.to_filters()
                scored = risk_report.scoring_date(conn, filters)  # None at once without a scores table
                return {"scored": scored, "end": state.end, "first": risk_report.first_scoring_date(conn),
                        "cutoff": risk_report.scoring_cutoff(conn, filters) if scored is not None else None}

            # memoized in the metric cache, keyed like a chart's content (a scoring run bumps the data version, which
            # is part of the key); through get/set, not `read.cached`: not a metric, so not in the hit/miss counts
            # (the warm-up does not compute it; before it was memoized, it was read from the database each time)
            key = memo_key("risk-scoring-facts", state.to_store(), read.data_version)
            known = read.cache.get(key)
            if known is None:
                known = facts()
                read.cache.set(key, known)
            return known
    except Exception as exc:
        if unavailable_kind(exc) is None:
            raise
        return None  # no scoring notice while the database cannot be read: the cards show why and retry


def scores_status(ctx: AppContext, stored: dict | None, facts: dict | None = None):
    """Return the notice above the page when it has no scoring to show (None when it has one): the demo model's
    build, the first scoring's date when the observation date is set before it, or what an administrator does."""
    facts = scoring_facts(ctx, stored) if facts is None else facts
    if facts is None or facts["scored"] is not None:
        return None
    building = _demo_model_status(ctx)
    if building:
        return view.demo_model_notice(building)
    return view.no_scores_notice(facts["first"])


def scores_date(facts: dict | None):
    """Return the line under the page heading saying which scoring the page shows, or None without one."""
    if facts is None or facts["scored"] is None:
        return None
    return view.scores_date_line(facts["scored"], facts["cutoff"], facts["end"])


def demo_model_finished(ctx: AppContext) -> bool:
    """True when the background demo model build the page announced is no longer under way."""
    status = _demo_model_status(ctx)
    return status is None or status.get("state") not in demo_model_status.ACTIVE


def _demo_model_status(ctx: AppContext) -> dict | None:
    """The background demo model build's status when it is under way, failed or cut off (state "interrupted":
    running, but no process holds the build lock); None otherwise or for a database given by DATABASE_URL."""
    if not ctx.config.uses_default_database:
        return None
    status = demo_model_status.read_status()
    if status is None or status.get("state") not in (*demo_model_status.ACTIVE, "failed"):
        return None
    if status["state"] == "running" and not demo_model_status.build_in_progress():
        return {**status, "state": "interrupted"}  # its process is gone (stopped or killed)
    return status


NO_TARGET = unless_unscored("No customer is both high value and at high risk for these filters.")

# the labels each chart shows for its frame's columns: the headers of its CSV and Excel downloads
RISK_COLUMNS = {"segment": "RFM segment", "risk_band": "Risk band", "customers": "Customers",
                "value_at_risk": "Value at risk ($)"}
DISTRIBUTION_COLUMNS = {**RISK_COLUMNS, "probability_from": "Probability from", "probability_to": "Probability to"}
MATRIX_COLUMNS = {**RISK_COLUMNS, "target": "Target segment"}
TARGET_PROFILE_COLUMNS = {"feature": "Behaviour", "target_mean": "Target (mean)",
                          "others_mean": "Everyone else (mean)", "cohens_d": "Effect size (Cohen's d)",
                          "effect": "Size"}
TARGET_REASONS_COLUMNS = {"reason": "Reason", "customers": "Target customers"}
SEGMENTS_COLUMNS = {**RISK_COLUMNS, "revenue": "Revenue ($)", "revenue_share": "Revenue share",
                    "mean_recency_days": "Mean recency (days)", "mean_frequency": "Mean orders",
                    "mean_monetary": "Mean spend ($)"}
SEGMENT_TESTS_COLUMNS = {"metric": "Metric", "region": "Country", "device": "Device", "channel": "Channel",
                         "cohort_size": "Users", "users": "Users converted or retained", "rate": "Rate",
                         "rest_rate": "All others (rate)", "z": "z statistic", "p_value": "p-value",
                         "p_adjusted": "p-value (Holm)", "verdict": "Verdict"}
CUSTOMERS_COLUMNS = {field: header for field, header, _ in view.CUSTOMER_GRID_COLUMNS} | {
    "value_at_risk": "Value at risk ($)"}
CLUSTERS_COLUMNS = {"cluster": "Cluster", "name": "Name", "customers": "Customers", "share": "Share",
                    "mean_recency_days": "Recency (days)", "mean_frequency": "Orders", "mean_monetary": "Spend ($)",
                    "revenue_share": "Revenue share"}

CHARTS = (
    Chart(RiskIds.DISTRIBUTION, "Risk distribution", terms("churn_score", "risk_band"),
          distribution_frame, view_only(view.distribution_figure), empty_message=unless_unscored(NO_SCORES),
          columns=DISTRIBUTION_COLUMNS),
    Chart(RiskIds.MATRIX, "RFM segment × risk band",
          terms("rfm_segments", "risk_band", "value_at_risk", "target_segment"),
          matrix_frame, view_only(view.matrix_figure), empty_message=unless_unscored(NO_SCORES), min_height=420,
          columns=MATRIX_COLUMNS),
    Chart(RiskIds.TARGET_PROFILE, "Target segment: high value, high risk",
          terms("target_segment", "effect_size"),
          target_profile_frame, target_profile_view, empty_message=NO_TARGET, columns=TARGET_PROFILE_COLUMNS),
    Chart(RiskIds.TARGET_REASONS, "The model's main reasons for the target segment",
          terms("churn_reasons"),
          target_reasons_frame, view_only(view.reasons_figure), empty_message=NO_TARGET, columns=TARGET_REASONS_COLUMNS),
    Chart(RiskIds.SEGMENTS, "RFM segments",
          terms("rfm_segments"),
          segments_frame, view_only(view.segments_figure),
          empty_message="No customer with an order up to the observation date for these filters.", min_height=380,
          columns=SEGMENTS_COLUMNS),
    # filled by register() below from the saved segment model (a file, not the database): not a ChartRequest read
    Chart(RiskIds.CLUSTERS, "Customer clusters (R, F, M)",
          terms("clusters"),
          None, None, min_height=380, own_callbacks=True, columns=CLUSTERS_COLUMNS),
    Chart(RiskIds.SEGMENT_TESTS, "Conversion and retention by segment",
          terms("segment_tests", "conversion", "retention"),
          segment_tests_frame, segment_tests_view, params=("compare",),
          empty_message="No cohort for these filters and horizon.", controls=view.compare_control,
          columns=SEGMENT_TESTS_COLUMNS),
    # its CSV is the grid's own export (register() below): exactly the rows it shows after sorting and filtering
    Chart(RiskIds.CUSTOMERS, "Customers at risk", terms("churn_score", "churn_reasons", "recommended_action"),
          customers_frame, view_only(view.customers_grid), params=("band", "segment"),
          empty_message=unless_unscored(NO_SCORES), csv=False, min_height=520, controls=view.customers_controls,
          columns=CUSTOMERS_COLUMNS),
)


def register(app: Dash, ctx: AppContext) -> None:
    """Register the segment-risk page's callbacks other than its charts' (those come from `CHARTS`)."""

    @app.callback(Output(RiskIds.STATUS, "children"), Output(RiskIds.SCORES_DATE, "children"),
                  Input(FilterIds.STATE, "data"))
    def _status(stored):
        facts = scoring_facts(ctx, stored)
        return scores_status(ctx, stored, facts), scores_date(facts)

    @app.callback(Output(RiskIds.DEMO_FINISHED, "data"), Input(RiskIds.DEMO_POLL, "n_intervals"),
                  prevent_initial_call=True)
    def _demo_model_poll(n_intervals):
        return demo_model_finished(ctx)

    # the build is over (done, failed or cut off): reload the page, which then reads the new scores or the reason
    app.clientside_callback(
        "function(finished) { if (finished) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output(RiskIds.DEMO_POLL, "disabled"), Input(RiskIds.DEMO_FINISHED, "data"), prevent_initial_call=True,
    )

    clusters = RiskIds.CLUSTERS

    # the clustering does not depend on the filters: it is filled when the card appears (the input is its store's
    # id, which never changes: only the callback's first call runs) and a filter change runs nothing for it (it
    # used to send a request that answered "unchanged"); the content is memoized per model file and the store
    # beside the body holds the file's fingerprint (an output, not set_props: see register_chart_group)
    @app.callback(Output(chart_body_id(clusters), "children"), Output(chart_drawn_id(clusters), "data"),
                  Input(chart_drawn_id(clusters), "id"), State(chart_drawn_id(clusters), "data"))
    def _clusters(_mounted, drawn):
        return clusters_update(ctx, drawn)

    @app.callback(Output(csv_download_id(clusters), "data"), Input(csv_button_id(clusters), "n_clicks"),
                  Input(xlsx_button_id(clusters), "n_clicks"), prevent_initial_call=True)
    def _clusters_download(csv_clicks, xlsx_clicks):
        if not (csv_clicks or xlsx_clicks):
            raise PreventUpdate
        return clusters_download(ctx, "xlsx" if callback_context.triggered_id == xlsx_button_id(clusters) else "csv")

    customers = RiskIds.CUSTOMERS

    # The customer table's CSV is the grid's own export: exactly the rows it shows after sorting and filtering.
    # The state read is the grid's column list, not its rows: rowData would post every customer (about 2 MB on
    # the demo) to the server, over the callback body limit (callbacks/request_guards.py), for a None check.
    @app.callback(Output(chart_graph_id(customers), "exportDataAsCsv"), Input(csv_button_id(customers), "n_clicks"),
                  State(chart_graph_id(customers), "columnDefs"), prevent_initial_call=True)
    def _customers_csv(n_clicks, columns):
        if not n_clicks or columns is None:
            raise PreventUpdate
        return True
