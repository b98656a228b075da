"""The segment-risk page (`/risk`): churn risk by RFM segment, the target segment, segment tests, customers.

Pure functions: frames of `ml.risk_report` -> the table a card shows (also its CSV) -> figures and grids.
"""

from __future__ import annotations

import datetime as _dt
import textwrap
from typing import Any, Mapping

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from dashboard.access_rules import request_principal
from dashboard.accounts import Role
from layouts.common import data_grid, fmt_int, fmt_money, grid_column, param_select, style_figure
from layouts.filters import PageParam
from layouts.ids import DataPageIds, RiskIds, page_param_id
from layouts.paths import app_path
from ml.risk_bands import BANDS
from ml.risk_report import difference_words, format_p

BAND_COLORS = {"low": "#59A14F", "medium": "#EDC948", "high": "#E15759"}
SEGMENT_ORDER = (
    "Champions", "Loyal", "Can't lose them", "Potential loyalists", "New customers", "Promising",
    "Need attention", "About to sleep", "At risk", "Hibernating", "Lost", "No order yet",
)
FEATURE_LABELS = {
    "visits_30": "Visits, last 30 days", "visits_60": "Visits, last 60 days", "visits_90": "Visits, last 90 days",
    "visits_trend": "Visits trend (last 30 vs 30 before)", "minutes_30": "Minutes on site, last 30 days",
    "minutes_60": "Minutes on site, last 60 days", "minutes_90": "Minutes on site, last 90 days",
    "minutes_trend": "Minutes trend (last 30 vs 30 before)", "active_days_30": "Active days, last 30 days",
    "active_days_60": "Active days, last 60 days", "active_days_90": "Active days, last 90 days",
    "active_days_trend": "Active days trend", "days_since_last_visit": "Days since last visit",
    "days_since_last_order": "Days since last order", "days_since_first_visit": "Days since first visit",
    "orders_30": "Orders, last 30 days", "orders_60": "Orders, last 60 days", "orders_90": "Orders, last 90 days",
    "orders_trend": "Orders trend", "orders_total": "Orders, all time", "revenue_90": "Revenue, last 90 days",
    "revenue_total": "Revenue, all time", "avg_order_value": "Average order value",
    "days_first_to_last_order": "Days from first to last order", "acquisition_cost": "Acquisition cost",
}


PAGE_PARAMS = (
    PageParam("band", "Risk band", (("all", "All bands"), *((b, b.capitalize()) for b in reversed(BANDS))), "all"),
    PageParam("segment", "Segment", (("all", "All segments"), *((s, s) for s in SEGMENT_ORDER)), "all"),
    PageParam("compare", "Compare by", (("channel", "Channel"), ("country", "Country"), ("device", "Device")),
              "channel"),
)
FILTERS = ("dates", "attributes", "observation_date", "horizon")


CHURN_SCORES_HELP = f"/data#{DataPageIds.CHURN_SCORES}"  # the Data page's instructions for administrators


def admin_link(text: str = "how an administrator makes them") -> dcc.Link:
    """Return the link to the Data page's "Churn scores" instructions (the commands live there, not here)."""
    return dcc.Link(text, href=app_path(CHURN_SCORES_HELP), className="admin-link")


def no_scores_notice(first_scoring: _dt.date | None = None) -> dbc.Alert:
    """Return the explanation shown above the page when there is no churn scoring to show: none at all (an
    administrator trains the model and scores the customers), or none on or before an observation date set before
    the first scoring (`first_scoring`)."""
    if first_scoring is not None:
        body = [html.Strong("No churn scores on or before this observation date. "),
                f"The first scoring is dated {first_scoring.isoformat()}: move the observation date to that day or "
                "later to see it. Segment comparisons below need no scores."]
    else:
        body = [html.Strong("No churn scores yet. "),
                "An administrator trains the churn model and scores the customers (", admin_link(), "); the "
                "risk cards fill in afterwards. Segment comparisons below need no scores."]
    return dbc.Alert(body, color="info", className="mb-3", id=RiskIds.NO_SCORES)


def scores_date_line(scored: _dt.date, cutoff: _dt.date, end: _dt.date) -> html.P:
    """Return the line under the heading saying which scoring the page shows ("Scores as of 2026-10-31") and why
    that one: the latest on or before `cutoff`; after the `end` of the date range it says the range does not
    select it."""
    why = f"the latest scoring on or before {cutoff.isoformat()}"
    if scored > end:
        why += "; the date range does not change the scores (they describe the customers on that day)"
    return html.P([html.Strong(f"Scores as of {scored.isoformat()}"), f" ({why})."],
                  className="text-muted small mb-2", id=RiskIds.SCORES_AS_OF)


DEMO_POLL_MS = 5000

DEMO_STEPS = {"train": "training the churn model", "score": "scoring the customers",
              "segments": "clustering the customers", "cac": "training the acquisition-cost model"}


def demo_model_notice(status: dict) -> dbc.Alert:
    """Return the notice shown instead of `no_scores_notice` while the demo's model is built in the background
    (ml/demo_model.py), or after that build failed or was interrupted."""
    by_hand = [admin_link("how an administrator builds it by hand"), "."]
    step = status.get("step", "?")
    if status.get("state") == "failed":
        return dbc.Alert(
            [html.Strong("Building the demo's churn model failed "),
             f"(step {step}: {status.get('error', 'unknown error')}). ", "See ", *by_hand],
            color="warning", className="mb-3", id=RiskIds.DEMO_MODEL,
        )
    if status.get("state") == "interrupted":
        return dbc.Alert(
            [html.Strong("Building the demo's churn model was interrupted "),
             f"(at step {step}; its process is gone). It resumes when the app is started again, "
             "or see ", *by_hand],
            color="warning", className="mb-3", id=RiskIds.DEMO_MODEL,
        )
    since = str(status.get("started") or status.get("requested") or "")
    doing = DEMO_STEPS.get(status.get("step", ""), "starting")
    return dbc.Alert(
        [html.Strong("The demo's churn model is being built in the background "),
         f"({doing}; started {since[11:19] or 'just now'} UTC, about 3-4 minutes in all). ",
         "This page reloads itself when it is done, with the risk scores and clusters. Segment comparisons "
         "below need no scores.",
         # polled by callbacks/risk.py: the store turns True when the build is no longer under way
         dcc.Interval(id=RiskIds.DEMO_POLL, interval=DEMO_POLL_MS), dcc.Store(id=RiskIds.DEMO_FINISHED, data=False)],
        color="info", className="mb-3", id=RiskIds.DEMO_MODEL,
    )


# ---------------------------------------------------------------- tables (what each card shows, also its CSV)

def distribution_table(customers: pd.DataFrame, bins: int = 20) -> pd.DataFrame:
    """Return probability_from, probability_to, risk_band, customers, value_at_risk per 5%-wide probability bin."""
    if customers.empty:
        return pd.DataFrame(columns=["probability_from", "probability_to", "risk_band", "customers", "value_at_risk"])
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.floor(customers["probability"].astype(float) * bins).astype(int), 0, bins - 1)
    frame = customers.assign(bin=index)
    table = (frame.groupby(["bin", "risk_band"], observed=True)
             .agg(customers=("user_id", "size"), value_at_risk=("value_at_risk", "sum")).reset_index())
    table["probability_from"] = edges[table["bin"]]
    table["probability_to"] = edges[table["bin"] + 1]
    table["band_order"] = table["risk_band"].map({b: i for i, b in enumerate(BANDS)})
    table = table.sort_values(["bin", "band_order"]).reset_index(drop=True)
    return table[["probability_from", "probability_to", "risk_band", "customers", "value_at_risk"]]


def distribution_figure(table: pd.DataFrame) -> go.Figure:
    """Return bars of customers per probability bin, coloured by risk band."""
    fig = go.Figure()
    for band in BANDS:
        part = table[table["risk_band"] == band]
        if part.empty:
            continue
        centers = (part["probability_from"] + part["probability_to"]) / 2
        fig.add_trace(go.Bar(
            x=centers, y=part["customers"], width=(part["probability_to"] - part["probability_from"]) * 0.95,
            name=f"{band} risk", marker_color=BAND_COLORS[band], customdata=part[["probability_from",
                                                                                  "probability_to", "value_at_risk"]],
            hovertemplate=("%{customdata[0]:.0%}–%{customdata[1]:.0%}: %{y:,} customers, "
                           "value at risk %{customdata[2]:$,.2f}<extra>" + band + "</extra>"),
        ))
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    return style_figure(fig, x_title="Probability of activity decline (next 30 days)", y_title="Customers",
                        hovermode="closest", legend_title="Band")


def matrix_figure(matrix: pd.DataFrame) -> go.Figure:
    """Return the segment x band heatmap: colour = value at risk, text = customers; target cells outlined."""
    segments = [s for s in SEGMENT_ORDER if s in set(matrix["segment"])]
    segments += sorted(set(matrix["segment"]) - set(segments))
    counts = matrix.pivot(index="segment", columns="risk_band", values="customers").reindex(index=segments,
                                                                                            columns=list(BANDS))
    value = matrix.pivot(index="segment", columns="risk_band", values="value_at_risk").reindex(index=segments,
                                                                                              columns=list(BANDS))
    text = counts.map(lambda v: "" if pd.isna(v) else f"{int(v):,}")
    fig = go.Figure(go.Heatmap(
        z=value.to_numpy(dtype=float), x=[f"{b} risk" for b in BANDS], y=segments, text=text.to_numpy(),
        texttemplate="%{text}", colorscale="Reds", colorbar=dict(title="Value at risk", tickformat="$,~s"),
        customdata=counts.fillna(0).to_numpy(), hoverongaps=False,
        hovertemplate="%{y} · %{x}<br>%{customdata:,} customers<br>value at risk %{z:$,.2f}<extra></extra>",
    ))
    for _, row in matrix[matrix["target"].astype(bool)].iterrows():
        y = segments.index(row["segment"])
        x = BANDS.index(row["risk_band"])
        fig.add_shape(type="rect", x0=x - 0.5, x1=x + 0.5, y0=y - 0.5, y1=y + 0.5,
                      line=dict(color="#1F3A93", width=3))
    fig.update_yaxes(autorange="reversed")
    style_figure(fig, x_title="Risk band", y_title="RFM segment", hovermode="closest", height=420)
    fig.update_yaxes(tickformat="", rangemode="normal", **EVERY_CATEGORY)
    return fig


def target_profile_view(profile: pd.DataFrame, customers: pd.DataFrame) -> html.Div:
    """Return the target segment summary and the table of behaviours that differ, with effect sizes."""
    target = customers[customers["target"].astype(bool)]
    others = customers[~customers["target"].astype(bool)]
    summary = html.P(
        [html.Strong(f"{fmt_int(len(target))} customers"),
         f" are high value (Champions, Loyal, Can't lose them) and at high risk; value at risk "
         f"{fmt_money(target['value_at_risk'].sum())} of {fmt_money(customers['value_at_risk'].sum())} "
         f"({fmt_int(len(others))} other scored customers)."],
        className="mb-2", id=RiskIds.TARGET_SUMMARY,
    )
    grid = data_grid(RiskIds.TARGET_PROFILE, profile_table(profile),
                     [grid_column("behaviour", "Behaviour", minWidth=200, tooltipField="behaviour", **WRAPPED_HEADER),
                      grid_column("target_mean", "Target segment (mean)", "number", minWidth=110, **WRAPPED_HEADER),
                      grid_column("others_mean", "Everyone else (mean)", "number", minWidth=110, **WRAPPED_HEADER),
                      grid_column("difference", "Target segment vs everyone else", minWidth=210,
                                  tooltipField="difference", **WRAPPED_HEADER),
                      grid_column("effect", "How clear the difference is", minWidth=110, **WRAPPED_HEADER)],
                     height=320)
    return html.Div([summary, grid])


WRAPPED_HEADER = {"wrapHeaderText": True, "autoHeaderHeight": True}  # headers on several lines, never cut
EFFECT_WORDS = {"large": "clear", "medium": "moderate", "small": "slight", "negligible": "hardly any",
                "undefined": "not defined"}


def profile_table(profile: pd.DataFrame) -> pd.DataFrame:
    """Return the rows the target profile grid shows: behaviour, the two means, the difference in plain words
    ("3.1× higher"; trends by their difference) and how clear it is (from Cohen's d: clear, moderate, ...)."""
    table = profile.assign(behaviour=profile["feature"].map(lambda f: FEATURE_LABELS.get(f, f)))
    table["difference"] = [difference_words(t, o, signed=str(f).endswith("_trend"))
                           for f, t, o in zip(table["feature"], table["target_mean"], table["others_mean"])]
    table["effect"] = table["effect"].map(lambda e: EFFECT_WORDS.get(e, e))
    return table[["behaviour", "target_mean", "others_mean", "difference", "effect"]]


REASON_WRAP = 34  # characters per line of a reason's label in the narrow reasons card


def reasons_figure(reasons: pd.DataFrame, top: int = 8) -> go.Figure:
    """Return horizontal bars: how many target customers have each model reason (top `top`)."""
    shown = reasons.head(top).iloc[::-1]
    # the reasons are long ("minutes on site down in the last 30 days (median 62%)"): wrapped
    # over lines, they leave the narrow card room for the bars; the hover shows each in one line
    labels = ["<br>".join(textwrap.wrap(str(reason), REASON_WRAP)) for reason in shown["reason"]]
    fig = go.Figure(go.Bar(x=shown["customers"], y=labels, orientation="h", marker_color="#E15759",
                           customdata=shown[["reason"]],
                           hovertemplate="%{customdata[0]}: %{x:,} customers<extra></extra>"))
    lines = sum(label.count("<br>") + 1 for label in labels)
    style_figure(fig, x_title="Target customers", y_title="", hovermode="closest",
                 height=max(300, 110 + 20 * lines + 8 * len(labels)))  # room for every wrapped line
    fig.update_yaxes(tickformat="", automargin=True, **EVERY_CATEGORY)
    return fig


# a bar chart's categories are its labels: every one is shown (also on narrow screens, whose fewer ticks are meant
# for number axes)
EVERY_CATEGORY = {"tickmode": "linear", "tick0": 0, "dtick": 1}


def segment_tests_grid(table: pd.DataFrame, dimension: str) -> dag.AgGrid:
    """Return the grid of conversion and retention by segment with the test verdicts (p-values as "p < 0.001")."""
    shown = table.assign(p_shown=[format_p(p) for p in table["p_adjusted"]])
    return data_grid(RiskIds.SEGMENT_TESTS, shown, [
        grid_column("metric", "Metric", minWidth=170), grid_column(dimension, dimension.capitalize()),
        grid_column("cohort_size", "Users", "int"), grid_column("rate", "Rate", "pct"),
        grid_column("rest_rate", "All others", "pct"),
        grid_column("p_shown", "p-value (Holm-corrected)", minWidth=130, **WRAPPED_HEADER),
        grid_column("verdict", "Verdict", minWidth=300, tooltipField="verdict")], height=340)


# "Recommended action" comes before the reasons, so it is in view without scrolling sideways at 1440 px
CUSTOMER_GRID_COLUMNS = [
    ("user_id", "Customer", None), ("probability", "Probability", "pct"), ("risk_band", "Band", None),
    ("segment", "Segment", None), ("value_at_risk", "Value at risk", "money"),
    ("recommended_action", "Recommended action", None), ("reason_1", "Reason 1", None),
    ("reason_2", "Reason 2", None), ("reason_3", "Reason 3", None),
]


def segments_summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Return the RFM segment summary in the segment map's order (what the segments card shows)."""
    order = {name: i for i, name in enumerate(SEGMENT_ORDER)}
    return summary.sort_values("segment", key=lambda c: c.map(order).fillna(len(order))).reset_index(drop=True)


def segments_figure(table: pd.DataFrame) -> go.Figure:
    """Return bars of customers per RFM segment, with revenue and its share on hover."""
    shown = table.iloc[::-1]
    fig = go.Figure(go.Bar(
        x=shown["customers"], y=shown["segment"], orientation="h", marker_color="#4E79A7",
        customdata=shown[["revenue", "revenue_share", "mean_recency_days", "mean_frequency"]],
        text=[f"{share:.0%} of revenue" for share in shown["revenue_share"]], textposition="auto",
        hovertemplate=("%{y}: %{x:,} customers<br>revenue %{customdata[0]:$,.2f} (%{customdata[1]:.1%})"
                       "<br>mean recency %{customdata[2]:.0f} days, %{customdata[3]:.1f} orders<extra></extra>"),
    ))
    style_figure(fig, x_title="Customers", y_title="", hovermode="closest", height=380)
    fig.update_yaxes(tickformat="", automargin=True, **EVERY_CATEGORY)
    return fig


SILHOUETTE_TITLE = "Silhouette (higher: better)"
INERTIA_TITLE = "KMeans inertia (elbow)"


def clusters_view(profiles: pd.DataFrame, card: dict) -> html.Div:
    """Return the clustering card: silhouette and inertia by k, the chosen k, and the cluster profiles."""
    scores = pd.DataFrame(card.get("scores", []))
    fig = go.Figure()
    for algorithm, label, color in (("kmeans", "KMeans", "#4E79A7"), ("gaussian_mixture", "Gaussian mixture",
                                                                      "#F28E2B")):
        part = scores[scores["algorithm"] == algorithm] if not scores.empty else scores
        if len(part):
            fig.add_trace(go.Scatter(x=part["k"], y=part["silhouette"], mode="lines+markers", name=label,
                                     line_color=color, hovertemplate="k=%{x}: silhouette %{y:.3f}<extra>"
                                     + label + "</extra>"))
    if not scores.empty:
        inertia = scores[scores["algorithm"] == "kmeans"]
        fig.add_trace(go.Scatter(x=inertia["k"], y=inertia["inertia"], mode="lines+markers", name="KMeans inertia",
                                 yaxis="y2", line=dict(color="#9C755F", dash="dot"),
                                 hovertemplate="k=%{x}: inertia %{y:,.0f}<extra>elbow</extra>"))
        fig.update_layout(yaxis2=dict(title="Inertia (elbow)", overlaying="y", side="right", showgrid=False,
                                      tickformat=",.0f", rangemode="tozero"))
    fig.add_vline(x=card.get("k"), line_dash="dash", line_color="#6c757d")
    style_figure(fig, x_title="Number of clusters k", y_title=SILHOUETTE_TITLE, y_kind="number", hovermode="closest",
                 height=300)
    # style_figure titles every y axis alike: the left one is the silhouette, the right one KMeans inertia
    fig.update_layout(yaxis=dict(title_text=SILHOUETTE_TITLE, tickformat=".2f"))
    if not scores.empty:
        fig.update_layout(yaxis2=dict(title_text=INERTIA_TITLE, tickformat=",.0f", rangemode="tozero"))
    summary = html.P([html.Strong(f"k = {card.get('k')}"), " chosen by silhouette; cluster classifier accuracy on "
                      f"held-out customers {card.get('classifier_accuracy', float('nan')):.1%}; "
                      f"{fmt_int(card.get('customers'))} customers as of {card.get('observation_date')} "
                      "(the latest clustering)."], className="small mb-2", id=RiskIds.CLUSTERS_SUMMARY)
    grid = data_grid(RiskIds.CLUSTERS, profiles, [
        grid_column("cluster", "Cluster", "int"), grid_column("name", "Name", minWidth=240),
        grid_column("customers", "Customers", "int"), grid_column("share", "Share", "pct"),
        grid_column("mean_recency_days", "Recency (days)", "number"),
        grid_column("mean_frequency", "Orders", "number"), grid_column("mean_monetary", "Spend", "money"),
        grid_column("revenue_share", "Revenue share", "pct")], height=220)
    grid.columnDefs = [{**c, "minWidth": 300 if c["field"] == "name" else 120} for c in grid.columnDefs]
    from dash import dcc

    return html.Div([summary, dcc.Graph(figure=fig, config={"displaylogo": False}), grid])


def customers_table(customers: pd.DataFrame, band: str = "all", segment: str = "all") -> pd.DataFrame:
    """Return the customer rows the table shows (band and segment filters applied), value at risk first."""
    table = customers
    if band != "all":
        table = table[table["risk_band"] == band]
    if segment != "all":
        table = table[table["segment"] == segment]
    return table[[c for c, _, _ in CUSTOMER_GRID_COLUMNS]].reset_index(drop=True)


def customers_grid(table: pd.DataFrame) -> dag.AgGrid:
    """Return the paged, sortable, filterable customer grid (its CSV export holds the rows it shows)."""
    widths = {"user_id": 170, "probability": 120, "risk_band": 90, "value_at_risk": 120, "reason_1": 260,
              "reason_2": 260, "reason_3": 260, "recommended_action": 500, "segment": 140}
    wrapped = {"recommended_action": {"wrapText": True, "autoHeight": True}}  # whole, on two lines when long
    # numbers are shown formatted ("71.0%", "$68.10") and exported raw (0.71, 68.1): assets/dashAgGridFunctions.js
    # fixed widths (AG Grid gives every column 200 px otherwise): the first six columns fit 1440 px, reasons scroll
    columns = [grid_column(field, header, kind, minWidth=widths.get(field, 110), width=widths.get(field, 110), flex=0,
                           tooltipField=field,
                           **({"useValueFormatterForExport": False} if kind else {}), **wrapped.get(field, {}),
                           **WRAPPED_HEADER)
               for field, header, kind in CUSTOMER_GRID_COLUMNS]
    grid = data_grid(RiskIds.CUSTOMERS, table, columns, height=520)
    grid.dashGridOptions = {**grid.dashGridOptions, "pagination": True, "paginationPageSize": 25,
                            "paginationPageSizeSelector": [25, 50, 100]}
    # formula-like text (an id or reason starting with = + - @ ...) is exported as text: dashboard/spreadsheet_safety.py
    grid.csvExportParams = {"fileName": "customers_at_risk.csv",
                            "processCellCallback": {"function": "neutraliseCsvCell(params)"}}
    return grid


def compare_control(params: Mapping[str, str]) -> html.Div:
    """Return the "Compare by" select of the segment tests card, set to `params`."""
    return param_select(page_param_id("compare"), "Compare by", PAGE_PARAMS[2].choices,
                        params.get("compare", "channel"))


def customers_controls(params: Mapping[str, str]) -> html.Div:
    """Return the band and segment selects of the customer table card, set to `params`."""
    band = param_select(page_param_id("band"), "Band", PAGE_PARAMS[0].choices, params.get("band", "all"))
    segment = param_select(page_param_id("segment"), "Segment", PAGE_PARAMS[1].choices, params.get("segment", "all"))
    return html.Div([band, segment], className="d-flex gap-2")


def page_layout(params: dict[str, str], cards: Mapping[str, Any]) -> html.Div:
    """Return the segment-risk page (`cards`: chart name -> card of the page's declared charts)."""
    return html.Div([
        html.H2("Risk", className="h4 mb-1"),
        html.Div(id=RiskIds.SCORES_DATE),
        html.Div(id=RiskIds.STATUS),
        dbc.Row([dbc.Col(cards[RiskIds.DISTRIBUTION], lg=5), dbc.Col(cards[RiskIds.MATRIX], lg=7)],
                className="g-3 mb-3"),
        dbc.Row([dbc.Col(cards[RiskIds.TARGET_PROFILE], lg=7), dbc.Col(cards[RiskIds.TARGET_REASONS], lg=5)],
                className="g-3 mb-3"),
        dbc.Row([dbc.Col(cards[RiskIds.SEGMENTS], lg=5), dbc.Col(cards[RiskIds.CLUSTERS], lg=7)],
                className="g-3 mb-3"),
        dbc.Row([dbc.Col(cards[RiskIds.SEGMENT_TESTS])], className="g-3 mb-3"),
        dbc.Row([dbc.Col(customers_card_for_role(cards[RiskIds.CUSTOMERS]))], className="g-3"),
    ])


CUSTOMERS_NEED_ANALYST = "Customer-level data needs the analyst role"
CUSTOMERS_ROLE_NOTE = "risk-customers-role-note"  # replaces the customer table card for a signed-in viewer


def customers_card_for_role(card):
    """Return the customer table card, or for a signed-in account below analyst the short line saying it needs the
    analyst role (the server refuses the card's callbacks to that account anyway: 403)."""
    principal = request_principal()
    if principal is None or principal.account.role.allows(Role.ANALYST):
        return card
    return html.P(f"{CUSTOMERS_NEED_ANALYST}.", className="text-muted small mb-0", id=CUSTOMERS_ROLE_NOTE)
