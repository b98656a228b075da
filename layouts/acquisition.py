"""The Acquisition page (`/acquisition`): where new users come from and which sources bring payers.

Pure functions: metric frames -> the table a chart shows (`*_table`, also its CSV) -> figures/grids. The
charts are declared in `callbacks/acquisition.py` (`CHARTS`); `page_layout` arranges their cards.
"""

from __future__ import annotations

from typing import Any, Mapping

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from layouts.common import (DIMENSION_LABELS, HOVER_FORMATS, TICK_FORMATS, Palette, data_grid, grid_column,
                            narrow_form, narrow_legend_entries, param_select, style_figure)
from layouts.filters import PageParam
from layouts.ids import AcquisitionIds, page_param_id
from layouts.periods import (DAYS_IN_PERIOD, PARTIAL, add_note_under, bar_marker, hover_texts,
                             partial_flags)

# URL value of `breakdown` -> metric dimension (the URL says "country", the data says "region").
BREAKDOWN_DIMENSIONS = {"channel": "channel", "country": "region", "device": "device"}
GRAIN_LABELS = {"dt": "Day", "week": "Week", "month": "Month"}

PAGE_PARAMS = (
    PageParam("breakdown", "Break down by", (("channel", "Channel"), ("country", "Country"), ("device", "Device")),
              "channel"),
    PageParam("grain", "Per", (("dt", "Day"), ("week", "Week"), ("month", "Month")), "week"),
)
FILTERS = ("dates", "attributes", "observation_date")

BY_DIMENSION_CHARTS = ((AcquisitionIds.BY_COUNTRY, "region"), (AcquisitionIds.BY_DEVICE, "device"),
                       (AcquisitionIds.BY_CHANNEL, "channel"))


def new_users_table(new_users: pd.DataFrame, grain: str, dimension: str) -> pd.DataFrame:
    """Return <grain>, <dimension>, new_users sorted by period then value (empty when there is no new user)."""
    table = new_users[[grain, dimension, "new_users"]]
    table = table[table["new_users"] > 0].sort_values([grain, dimension]).reset_index(drop=True)
    return table


def new_users_figure(table: pd.DataFrame, grain: str, dimension: str, palette: Palette,
                     note: str | None = None) -> go.Figure:
    """Return stacked bars of new users per period, one colour per value of `dimension`; the bars of a partial week
    or month (the table's PARTIAL column) lighter and hatched, its hover saying so, and `note` under the plot."""
    fig = go.Figure()
    label = DIMENSION_LABELS[dimension]
    totals = table.groupby(dimension)["new_users"].sum().sort_values(ascending=False)
    texts = partial_hover_lines(table, grain, dimension, list(totals.index))
    for value in totals.index:  # largest group at the bottom of the stack
        part = table[table[dimension] == value]
        part = part.iloc[np.argsort(partial_flags(part), kind="stable")]  # a full bar first: the legend's swatch
        fig.add_trace(go.Bar(
            x=part[grain], y=part["new_users"], name=str(value),
            marker=bar_marker(palette.color(dimension, value), partial_flags(part)),
            customdata=[texts.get((v, x), "") for v, x in zip(part[dimension], part[grain])],
            hovertemplate=f"%{{y:{HOVER_FORMATS['int']}}} new users%{{customdata}}<extra>{value}</extra>",
        ))
    fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_xaxes(hoverformat={"dt": "%a %Y-%m-%d", "week": "week of %Y-%m-%d", "month": "%B %Y"}[grain])
    if grain == "month":  # a tick on each month's bar, named by its month (not plotly's mid-month "May 31")
        fig.update_xaxes(dtick="M1", tickformat="%b %Y")
    style_figure(fig, x_title=GRAIN_LABELS[grain], y_title="New users", y_kind="int", legend_title=label)
    # many series: a legend down the right side, clear of the mode bar
    fig.update_layout(legend=dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.01),
                      margin=dict(t=30))
    fig = narrow_legend_entries(fig, len(totals) + 1)  # narrow: every value and the title under the plot
    return add_note_under(fig, note)


def partial_hover_lines(table: pd.DataFrame, grain: str, dimension: str, stack_order: list) -> dict:
    """Return {(value, period): "<br>partial week: 4 of 7 days in the period"} for the lowest bar of each partial
    period's stack (in `stack_order`), so that the period's hover says it once however many values are stacked."""
    if DAYS_IN_PERIOD not in table.columns or not any(partial_flags(table)):
        return {}
    rank = {value: i for i, value in enumerate(stack_order)}
    rows = table[table[PARTIAL]].assign(rank=table[dimension].map(rank)).sort_values([grain, "rank"])
    lowest = rows.drop_duplicates(grain)
    lines = hover_texts(lowest[grain], lowest[DAYS_IN_PERIOD], grain)
    return {(v, x): f"<br>{line}" for v, x, line in zip(lowest[dimension], lowest[grain], lines)}


def users_by_table(new_users_by_payer: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Return <dimension>, users, payers, payer_share sorted by users (descending, then value)."""
    frame = new_users_by_payer
    users = frame.groupby(dimension, as_index=False)["new_users"].sum().rename(columns={"new_users": "users"})
    payers = (frame[frame["payer"].astype(bool)].groupby(dimension, as_index=False)["new_users"].sum()
              .rename(columns={"new_users": "payers"}))
    table = users.merge(payers, on=dimension, how="left")
    table["payers"] = table["payers"].fillna(0).astype("int64")
    table["users"] = table["users"].astype("int64")
    table = table[table["users"] > 0]
    table["payer_share"] = (table["payers"] / table["users"]).astype("float64")
    table[dimension] = table[dimension].astype(str)
    return table.sort_values(["users", dimension], ascending=[False, True]).reset_index(drop=True)


def users_by_figure(table: pd.DataFrame, dimension: str, palette: Palette) -> go.Figure:
    """Return side-by-side horizontal bars: new users and payer share per value (largest on top)."""
    label = DIMENSION_LABELS[dimension]
    # the gap and at most 4 ticks per axis keep "100k" of the first axis clear of "0.0%" of the second
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.12)
    ordered = table.iloc[::-1]  # plotly draws the first category at the bottom
    colors = [palette.color(dimension, v) for v in ordered[dimension]]
    fig.add_trace(go.Bar(
        y=ordered[dimension], x=ordered["users"], orientation="h", marker_color=colors, name="New users",
        customdata=ordered[["payers"]].to_numpy(),
        hovertemplate=f"%{{y}}: %{{x:{HOVER_FORMATS['int']}}} new users, %{{customdata[0]:,}} payers<extra></extra>",
    ), row=1, col=1)
    fig.add_trace(go.Bar(
        y=ordered[dimension], x=ordered["payer_share"], orientation="h", marker_color=colors, name="Payer share",
        opacity=0.75, customdata=ordered[["payers", "users"]].to_numpy(),
        hovertemplate=(f"%{{y}}: %{{x:{HOVER_FORMATS['pct']}}} payers "
                       "(%{customdata[0]:,} of %{customdata[1]:,})<extra></extra>"),
    ), row=1, col=2)
    height = max(220, 60 + 34 * len(table))
    style_figure(fig, x_title="", y_title="", height=height, hovermode="closest")
    fig.update_layout(showlegend=False, margin=dict(l=140, r=20, t=20, b=50))
    fig.update_xaxes(title_text="New users", tickformat=TICK_FORMATS["int"], nticks=4, row=1, col=1)
    fig.update_xaxes(title_text="Payer share", tickformat=".1%", rangemode="tozero", nticks=4, row=1, col=2)
    fig.update_yaxes(title_text=label, row=1, col=1)
    # every category labelled (plotly's automatic ticks left out every other channel name of 11)
    fig.update_yaxes(rangemode=None, tickmode="linear", tick0=0, dtick=1)
    # narrow: no legend, so no room kept for one; three ticks keep "100k" clear of "0.0%"
    return narrow_form(fig, {"height": height, "xaxis.nticks": 3, "xaxis2.nticks": 3})


def paying_channels_table(new_users_by_channel_payer: pd.DataFrame, economics: pd.DataFrame) -> pd.DataFrame:
    """Return per channel: new_users, payers, payer_share, spend, cac, cost_per_payer (NaN, shown "—", for a
    channel without spend); most payers first."""
    users = users_by_table(new_users_by_channel_payer, "channel")[["channel", "users", "payers", "payer_share"]]
    spend = economics[["channel", "costs"]].copy()
    spend["channel"] = spend["channel"].astype(str)
    table = users.merge(spend, on="channel", how="outer")
    table[["users", "payers"]] = table[["users", "payers"]].fillna(0).astype("int64")
    table["costs"] = table["costs"].fillna(0.0).astype("float64")
    table = table.rename(columns={"users": "new_users", "costs": "spend"})
    table["payer_share"] = (table["payers"] / table["new_users"].where(table["new_users"] > 0)).astype("float64")
    paid = table["spend"] > 0  # a channel without spend (organic) has no CAC: shown as "—", not $0.00
    table["cac"] = (table["spend"] / table["new_users"].where((table["new_users"] > 0) & paid)).astype("float64")
    table["cost_per_payer"] = (table["spend"] / table["payers"].where((table["payers"] > 0) & paid)).astype("float64")
    table = table[(table["new_users"] > 0) | (table["spend"] > 0)]
    table = table.sort_values(["payers", "channel"], ascending=[False, True]).reset_index(drop=True)
    return table[["channel", "new_users", "payers", "payer_share", "spend", "cac", "cost_per_payer"]]


def paying_channels_grid(table: pd.DataFrame) -> dag.AgGrid:
    """Return the AG Grid of paying users per channel."""
    columns = [
        grid_column("channel", "Channel", pinned="left", minWidth=150),
        grid_column("new_users", "New users", "int"),
        grid_column("payers", "Paying users", "int", sort="desc"),
        grid_column("payer_share", "Payer share", "pct"),
        grid_column("spend", "Attributed spend", "money",
                    headerTooltip="Ad spend attributed to the channel's new users in the period"),
        grid_column("cac", "CAC", "money", headerTooltip="Attributed spend / new users"),
        grid_column("cost_per_payer", "Cost per paying user", "money",
                    headerTooltip="Attributed spend / paying users"),
    ]
    return data_grid(AcquisitionIds.PAYING_CHANNELS, table, columns, height=min(80 + 42 * len(table), 520))


def page_controls(params: Mapping[str, str]) -> html.Div:
    """Return the page's breakdown and grain selects (shown on the new-users card), set to `params`."""
    values = {p.name: p.default for p in PAGE_PARAMS} | dict(params or {})
    return html.Div(
        [param_select(page_param_id(p.name), p.label, p.choices, values[p.name]) for p in PAGE_PARAMS],
        className="d-flex flex-wrap column-gap-3 row-gap-1",
    )


def page_layout(params: dict[str, str] | None, cards: Mapping[str, Any]) -> html.Div:
    """Return the Acquisition page (`cards`: chart name -> card of the page's declared charts)."""
    by_cards = [dbc.Col(cards[name], xl=4, className="mb-3") for name, _ in BY_DIMENSION_CHARTS]
    return html.Div(
        [
            html.H2("Acquisition", className="h4 mb-3"),
            cards[AcquisitionIds.NEW_USERS],
            dbc.Row(by_cards, className="mt-3"),
            cards[AcquisitionIds.PAYING_CHANNELS],
        ],
        id=AcquisitionIds.PAGE,
    )
