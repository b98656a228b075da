"""The Overview page (`/`, for leadership): KPI cards with the change against the previous period, trends.

Pure functions: metric frames -> the table a card or chart shows (`*_table`, also its CSV) -> components
and figures (`*_figure`, `kpi_cards`). No database, no callbacks. The KPI values themselves are computed by
`metrics.kpis.kpi_values`; the charts are declared in `callbacks/overview.py` (`CHARTS`).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Mapping

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from layouts.common import FORMATTERS, HOVER_FORMATS, SERIES_COLORS, kpi_card, relative_change, style_figure
from layouts.ids import OverviewIds

PAGE_PARAMS = ()
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
    Kpi("wau", "WAU", "number", +1, "Mean weekly active users over the calendar weeks of the period."),
    Kpi("mau", "MAU", "number", +1, "Mean monthly active users over the calendar months of the period."),
    Kpi("sticky", "Sticky factor", "pct", +1, "DAU / MAU."),
    Kpi("asl_seconds", "Avg session length", "duration", +1,
        "Mean of session end minus start over the period's visits."),
    Kpi("revenue", "Revenue", "money", +1, "Revenue of the filtered users' orders dated in the period."),
    Kpi("spend", "Ad spend", "money", 0,
        "Advertising costs dated in the period (the channel filter applies; country and device do not)."),
    Kpi("cac", "CAC (paid)", "money", -1,
        "Spend attributed to the period's new users of paid channels / those users."),
    Kpi("roi", "ROI at horizon", "ratio", +1,
        "LTV / CAC of the paid cohort at lifetime horizon-1 (1.00× = break-even)."),
    Kpi("payer_share", "Payer share", "pct", +1,
        "Share of the period's new users with an order by the observation date."),
)
KPI_BY_KEY = {k.key: k for k in KPIS}


def kpi_table(current: dict[str, float], previous: dict[str, float]) -> pd.DataFrame:
    """Return one row per KPI: kpi, label, value, previous_value, change (relative; NaN when undefined), kind."""
    rows = []
    for kpi in KPIS:
        change = relative_change(current.get(kpi.key), previous.get(kpi.key))
        rows.append({"kpi": kpi.key, "label": kpi.label, "value": current.get(kpi.key, float("nan")),
                     "previous_value": previous.get(kpi.key, float("nan")),
                     "change": float("nan") if change is None else change, "kind": kpi.kind})
    frame = pd.DataFrame(rows)
    return frame.astype({"value": "float64", "previous_value": "float64", "change": "float64"})


def kpi_cards(table: pd.DataFrame, previous_start: _dt.date | None = None, previous_end: _dt.date | None = None,
              first_date: _dt.date | None = None, suggestion_href: str | None = None) -> html.Div:
    """Return the KPI cards of a kpi_table, with a line naming the previous period they compare with.

    When that period lies before the data, `suggestion_href` (a link to a comparable view) is offered.
    """
    cards = []
    for row in table.itertuples(index=False):
        kpi = KPI_BY_KEY[row.kpi]
        fmt = FORMATTERS[kpi.kind]
        change = None if pd.isna(row.change) else float(row.change)
        cards.append(dbc.Col(kpi_card(kpi.key, kpi.label, fmt(row.value), change, kpi.good_direction,
                                      fmt(row.previous_value), kpi.help), xs=6, md=4, xl=2, className="mb-2"))
    caption = None
    if previous_start is not None and previous_end is not None:
        text = (f"Changes compare with the previous period of equal length, {previous_start.isoformat()} – "
                f"{previous_end.isoformat()}. Green is good, red is bad, grey is neutral; hover a label for its "
                "definition.")
        if first_date is not None and previous_end < first_date:
            text = (f"No comparison: the previous period of equal length ({previous_start.isoformat()} – "
                    f"{previous_end.isoformat()}) is before the first date of the data ({first_date.isoformat()}). "
                    "Choose a later start date to compare with it.")
            if suggestion_href:
                text = [text, " ", dcc.Link("Compare the last 4 weeks with the 4 weeks before →",
                                            href=suggestion_href, id=OverviewIds.COMPARE_LAST_WEEKS)]
        caption = html.P(text, className="text-muted small mb-2", id=OverviewIds.COMPARISON_NOTE)
    return html.Div([caption, dbc.Row(cards, className="g-2")], id=OverviewIds.KPI_CARDS)


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


def revenue_spend_figure(table: pd.DataFrame) -> go.Figure:
    """Return daily revenue against daily ad spend."""
    fig = go.Figure()
    for column, name in (("revenue", "Revenue"), ("spend", "Ad spend")):
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
