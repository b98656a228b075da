"""The Overview page (`/`, for leadership): KPI cards with the change against the previous period, trends.

Pure functions: metric frames -> the table a card or chart shows (`*_table`, also its CSV) -> components
and figures (`*_figure`, `kpi_cards`). No database, no callbacks. The KPI values themselves are computed by
`metrics.kpi_table` (contract revision 2); the charts are declared in `callbacks/overview.py` (`CHARTS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from layouts.common import FORMATTERS, HOVER_FORMATS, SERIES_COLORS, kpi_card, param_select, style_figure
from layouts.filters import PageParam
from layouts.ids import page_param_id
from layouts.ids import OverviewIds

DEFAULT_COMPARE = "previous"
COMPARE_CHOICES = (("previous", "Previous period"), ("year", "Previous year"), ("none", "No comparison"))
PAGE_PARAMS = (PageParam("comparison", "Compare with", COMPARE_CHOICES, DEFAULT_COMPARE),)
COMPARISON_NAMES = {"previous": "the previous period of equal length", "year": "the same days 364 days earlier"}
FILTERS = ("dates", "attributes", "observation_date", "horizon")


@dataclass(frozen=True)
class Kpi:
    """A KPI: key, label, value kind (int, money, pct, ...), good direction (+1 up, -1 down, 0 neutral), help."""

    key: str
    label: str
    kind: str
    good_direction: int
    help: str


KPIS: tuple[Kpi, ...] = (
    Kpi("users", "Users to date", "int", +1,
        "Filtered users whose first visit is on or before the end of the period (as of the observation date)."),
    Kpi("new_users", "New users", "int", +1, "Filtered users whose first visit is in the period."),
    Kpi("dau", "DAU", "number", +1, "Mean daily active users over every date of the period."),
    Kpi("wau", "WAU", "number", +1,
        "Mean over the period's days of the users active in the 7 days ending that day (rolling WAU)."),
    Kpi("mau", "MAU", "number", +1,
        "Mean over the period's days of the users active in the 30 days ending that day (rolling MAU)."),
    Kpi("sticky", "Sticky factor", "pct", +1, "DAU / MAU: how many of the month's users come on an average day."),
    Kpi("asl_seconds", "Avg session length", "duration", +1,
        "Mean of session end minus start over the period's visits."),
    Kpi("revenue", "Revenue", "money", +1, "Revenue of the filtered users' orders dated in the period."),
    Kpi("spend", "Ad spend", "money", 0,
        "Advertising costs dated in the period (the channel filter applies). With a country or device filter: the "
        "spend attributed to the filtered new users, as spend has no country or device."),
    Kpi("cac", "CAC (new users)", "money", -1,
        "Spend attributed to the period's new users of paid channels / those users (organic users cost nothing "
        "and are not counted)."),
    Kpi("roi", "ROI at horizon", "ratio", +1,
        "LTV / CAC of the paid cohort at lifetime horizon-1 (1.00× = break-even)."),
    Kpi("payer_share", "Payer share", "pct", +1,
        "Share of the period's new users with an order by the observation date."),
)
KPI_BY_KEY = {k.key: k for k in KPIS}


def kpi_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Return `metrics.kpi_table`'s rows in card order with the card's label and unit: kpi, label, value,
    previous_value, change (relative; NaN when there is none), kind."""
    rows = table.set_index("kpi")
    frame = pd.DataFrame([{"kpi": kpi.key, "label": kpi.label, "value": rows.at[kpi.key, "value"],
                           "previous_value": rows.at[kpi.key, "previous_value"], "change": rows.at[kpi.key, "change"],
                           "kind": kpi.kind} for kpi in KPIS if kpi.key in rows.index])
    return frame.astype({"value": "float64", "previous_value": "float64", "change": "float64"})


def comparison_caption(compare: str, comparison) -> tuple[str, str | None]:
    """Return (the line naming the comparison period, the reason there is none or None) for `compare` and the
    `metrics.ComparisonPeriod` (None: no comparison asked)."""
    if compare == "none" or comparison is None:
        return "No comparison chosen: pick one in \"Compare with\".", "no comparison chosen"
    period = f"{comparison.start.isoformat()} – {comparison.end.isoformat()}"
    if not comparison.comparable:
        reason = comparison.reason or "the comparison period is not in the data"
        return (f"Changes n/a: {reason}. Comparing {period} would average days with no data.", reason)
    return (f"Changes compare with {COMPARISON_NAMES.get(compare, compare)}, {period} (as of "
            f"{comparison.observation_date.isoformat()}). Green is good, red is bad, grey is neutral; hover a label "
            "for its definition.", None)


def kpi_cards(table: pd.DataFrame, compare: str = DEFAULT_COMPARE, comparison=None,
              suggestion_href: str | None = None) -> html.Div:
    """Return the KPI cards of `kpi_rows`, with a line naming the comparison period or why there is none (then
    each change reads "n/a" with that reason and `suggestion_href`, a link to a comparable view, is offered)."""
    text, missing = comparison_caption(compare, comparison)
    cards = []
    for row in table.itertuples(index=False):
        kpi = KPI_BY_KEY[row.kpi]
        fmt = FORMATTERS[kpi.kind]
        change = None if pd.isna(row.change) else float(row.change)
        cards.append(dbc.Col(kpi_card(kpi.key, kpi.label, fmt(row.value), change, kpi.good_direction,
                                      fmt(row.previous_value), kpi.help, missing_reason=missing),
                             xs=6, sm=4, lg=3, xl=2, className="mb-2"))
    if missing is not None and compare != "none" and suggestion_href:
        text = [text, " ", dcc.Link("Compare the last 4 weeks with the 4 weeks before →", href=suggestion_href,
                                    id=OverviewIds.COMPARE_LAST_WEEKS)]
    caption = html.P(text, className="text-muted small mb-2", id=OverviewIds.COMPARISON_NOTE)
    return html.Div([caption, dbc.Row(cards, className="g-2")], id=OverviewIds.KPI_CARDS)


def page_controls(params: Mapping[str, str]) -> html.Div:
    """Return the KPI card's comparison select, set to `params`."""
    values = {p.name: p.default for p in PAGE_PARAMS} | dict(params or {})
    return html.Div([param_select(page_param_id(p.name), p.label, p.choices, values[p.name]) for p in PAGE_PARAMS],
                    className="d-flex flex-wrap column-gap-3 row-gap-1")


def activity_table(daily: pd.DataFrame) -> pd.DataFrame:
    """Return the activity trend: date, dau, wau7, mau30 (empty when nobody was active)."""
    table = daily[["date", "dau", "wau7", "mau30"]].reset_index(drop=True)
    return table if int(table["dau"].sum()) > 0 else table.iloc[0:0]


def activity_figure(table: pd.DataFrame) -> go.Figure:
    """Return DAU with the rolling WAU (7 days) and MAU (30 days) lines."""
    fig = go.Figure()
    series = (("dau", "DAU"), ("wau7", "WAU (rolling 7 days)"), ("mau30", "MAU (rolling 30 days)"))
    for column, name in series:
        fig.add_trace(go.Scatter(
            x=table["date"], y=table[column], name=name, mode="lines",
            line=dict(color=SERIES_COLORS[column], width=2 if column == "dau" else 1.6),
            hovertemplate=f"%{{y:{HOVER_FORMATS['int']}}} users<extra>{name}</extra>",
        ))
    fig.update_xaxes(hoverformat="%a %Y-%m-%d")
    return style_figure(fig, x_title="Date", y_title="Active users", y_kind="int")


def revenue_spend_table(revenue_daily: pd.DataFrame, spend_daily: pd.DataFrame) -> pd.DataFrame:
    """Return date, revenue, spend per date of the period (empty when both are zero throughout)."""
    revenue = revenue_daily[["date", "revenue"]]
    spend = spend_daily.groupby("date", as_index=False)["costs"].sum().rename(columns={"costs": "spend"}) \
        if len(spend_daily) else pd.DataFrame({"date": pd.Series([], dtype="datetime64[us]"),
                                               "spend": pd.Series([], dtype="float64")})
    table = revenue.merge(spend, on="date", how="outer").sort_values("date").reset_index(drop=True)
    table[["revenue", "spend"]] = table[["revenue", "spend"]].fillna(0.0).astype("float64")
    if not np.any(table[["revenue", "spend"]].to_numpy() != 0):
        return table.iloc[0:0]
    return table


def revenue_spend_figure(table: pd.DataFrame, attributed: bool = False) -> go.Figure:
    """Return daily revenue against daily ad spend (`attributed`: the spend of the filtered new users, named so)."""
    fig = go.Figure()
    spend_name = "Ad spend (attributed to these users)" if attributed else "Ad spend"
    for column, name in (("revenue", "Revenue"), ("spend", spend_name)):
        fig.add_trace(go.Scatter(
            x=table["date"], y=table[column], name=name, mode="lines",
            line=dict(color=SERIES_COLORS[column], width=2),
            hovertemplate=f"%{{y:{HOVER_FORMATS['money']}}}<extra>{name}</extra>",
        ))
    fig.update_xaxes(hoverformat="%a %Y-%m-%d")
    return style_figure(fig, x_title="Date", y_title="Amount per day ($)", y_kind="money")


def page_layout(params: dict[str, str] | None, cards: Mapping[str, Any]) -> html.Div:
    """Return the Overview page: KPI cards, then the activity and revenue-vs-spend trends (`cards`: chart name ->
    card of the page's declared charts)."""
    return html.Div(
        [
            html.H2("Overview", className="h4 mb-3"),
            cards[OverviewIds.KPIS],
            dbc.Row(
                [
                    dbc.Col(cards[OverviewIds.ACTIVITY], xl=6, className="mb-3"),
                    dbc.Col(cards[OverviewIds.REVENUE_SPEND], xl=6, className="mb-3"),
                ],
                className="mt-3",
            ),
        ],
        id=OverviewIds.PAGE,
    )
