"""The cohorts page (`/cohorts`): retention and conversion heatmaps and curves, as pure functions of metric frames.

As on the marketing page, a `*_table` function gives the exact numbers a chart shows (also its CSV download)
and a `*_figure` function draws them. The charts are declared in `callbacks/cohorts.py` (`CHARTS`);
`page_layout` arranges their cards.
"""

from __future__ import annotations

from typing import Any, Mapping

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import html

from layouts.common import NARROW_TICKS, narrow_form, param_select
from layouts.filters import PageParam
from layouts.ids import CohortIds, page_param_id
from layouts.periods import DAYS_IN_PERIOD, PARTIAL, add_note_under, hover_texts
from layouts.marketing import BREAKDOWNS, CHART_HEIGHT, lifetime_curves_figure

# URL value of the cohorts page's `breakdown` -> (metric dimension, label): the marketing ones plus payer.
COHORT_BREAKDOWNS: dict[str, tuple[str, str]] = {"payer": ("payer", "Payer"), **BREAKDOWNS}
DEFAULT_COHORT_BREAKDOWN = "payer"

# URL value of the `payer` page parameter -> label of the toggle.
PAYER_CHOICES: dict[str, str] = {"all": "All users", "true": "Payers", "false": "Non-payers"}
DEFAULT_PAYER = "all"
PAYER_LABELS = {True: "payers", False: "non-payers"}
PAYER_COLORS = {"payers": "#1b7f5b", "non-payers": "#9aa4b2"}
HEATMAP_MARGIN_LEFT = 160  # px: the week labels (a partial week's mark too) and the axis title: no automargin redraw
HEATMAP_MARGIN_RIGHT = 120  # px: the colour bar with its title and ticks
HEATMAP_NARROW_WIDTH = 768  # px: below this a heatmap's cells are too small for their numbers

PAGE_PARAMS = (
    PageParam("breakdown", "Curves by", tuple((value, label) for value, (_, label) in COHORT_BREAKDOWNS.items()),
              DEFAULT_COHORT_BREAKDOWN),
    PageParam("payer", "Retention of", tuple(PAYER_CHOICES.items()), DEFAULT_PAYER),
)
FILTERS = ("dates", "attributes", "observation_date", "horizon")


def normalise_cohort_breakdown(breakdown: str | None) -> str:
    """Return `breakdown` if it is a known cohorts-page URL value, else the default ("payer")."""
    return breakdown if breakdown in COHORT_BREAKDOWNS else DEFAULT_COHORT_BREAKDOWN


def normalise_payer(payer: str | None) -> str:
    """Return the payer toggle value ("all", "true", "false"); unknown or empty -> "all"."""
    value = (payer or "").strip().lower()
    return value if value in PAYER_CHOICES else DEFAULT_PAYER


def payer_dimensions(payer: str, *rest: str) -> tuple[str, ...]:
    """Return the metric dimensions to query: ("payer", *rest) when the toggle selects a side, else `rest`."""
    dims = tuple(rest)
    return dims if normalise_payer(payer) == "all" or "payer" in dims else ("payer", *dims)


def select_payer(frame: pd.DataFrame, payer: str) -> pd.DataFrame:
    """Return the rows of a cohort frame on the toggle's side (payer column kept only if it is a breakdown)."""
    choice = normalise_payer(payer)
    if choice == "all" or "payer" not in frame.columns:
        return frame
    return frame[frame["payer"] == (choice == "true")]


def heatmap_table(weekly: pd.DataFrame, payer: str = "all") -> pd.DataFrame:
    """Return (week, cohort_size, lifetime, value) of a weekly cohort frame on the payer toggle's side."""
    table = select_payer(weekly, payer)[["week", "cohort_size", "lifetime", "value"]]
    return table.sort_values(["week", "lifetime"], kind="stable").reset_index(drop=True)


def heatmap_figure(table: pd.DataFrame, metric_label: str, *, colorscale: str = "Blues",
                   skip_day0_in_scale: bool = False, note: str | None = None) -> go.Figure:
    """Return a week x lifetime heatmap of a heatmap table (z = value as a ratio, cells labelled in %).

    With `skip_day0_in_scale` the colour scale tops out at the largest value after day 0 (retention on day 0
    is 100% by definition and would wash out the rest); the day-0 cells still show their exact value. A partial
    week (the table's PARTIAL column) has a "*" after its date and its hover says so; `note` goes under the plot.
    """
    weeks = sorted(table["week"].unique()) if len(table) else []
    lifetimes = sorted(table["lifetime"].unique()) if len(table) else []
    z = table.pivot(index="week", columns="lifetime", values="value").reindex(index=weeks, columns=lifetimes)
    sizes = table.groupby("week")["cohort_size"].first().reindex(weeks)
    days = table.groupby("week")[DAYS_IN_PERIOD].first().reindex(weeks) if DAYS_IN_PERIOD in table else None
    partial = (table.groupby("week")[PARTIAL].first().reindex(weeks).tolist() if PARTIAL in table
               else [False] * len(weeks))
    stars = ["*" if p else "" for p in partial]
    week_labels = [f"{pd.Timestamp(w).strftime('%Y-%m-%d')}{s} · n={int(n):,}" for w, s, n in zip(weeks, stars, sizes)]
    size_grid = np.repeat(sizes.to_numpy(dtype=float)[:, None], len(lifetimes), axis=1)
    partial_text = [f"<br>{t}" if t else "" for t in hover_texts(weeks, days, "week")]
    later = table[table["lifetime"] > 0]["value"] if skip_day0_in_scale else table["value"]
    zmax = float(later.max()) if len(later) and later.max() > 0 else 1.0
    fig = go.Figure(go.Heatmap(
        z=z.to_numpy(dtype=float), x=[int(k) for k in lifetimes], y=week_labels, customdata=size_grid,
        text=[[t] * len(lifetimes) for t in partial_text], colorscale=colorscale, zmin=0, zmax=zmax, xgap=1, ygap=1,
        texttemplate="%{z:.1%}", textfont=dict(size=10),
        colorbar=dict(title=dict(text=metric_label), tickformat=".0%", thickness=12),
        hovertemplate=(f"Acquisition week %{{y}}<br>Cohort size: %{{customdata:,.0f}} users<br>Lifetime day %{{x}}"
                       f"<br>{metric_label}: %{{z:.2%}}%{{text}}<extra></extra>"),
    ))
    height = max(CHART_HEIGHT, 90 + 22 * len(weeks))
    fig.update_layout(template="plotly_white", height=height,
                      margin=dict(l=HEATMAP_MARGIN_LEFT, r=HEATMAP_MARGIN_RIGHT, t=36, b=50), font=dict(size=12))
    fig.update_xaxes(title_text="Lifetime (days since first visit)", dtick=1, side="bottom", automargin=True)
    fig.update_yaxes(title_text="Acquisition week (Monday)", autorange="reversed", type="category", automargin=True)
    fig = narrow_heatmap(fig, week_labels, [f"{pd.Timestamp(w).strftime('%m-%d')}{s}" for w, s in zip(weeks, stars)])
    return add_note_under(fig, f"* {note}" if note and any(partial) else note)


def narrow_heatmap(fig: go.Figure, week_labels: list[str], short_labels: list[str]) -> go.Figure:
    """Return a cohort heatmap with its narrow-screen form: cells without numbers (the hover tells them), weeks
    as "MM-DD", a slim colour bar, slim margins, about NARROW_TICKS lifetime ticks."""
    return narrow_form(
        fig,
        {"yaxis.tickmode": "array", "yaxis.tickvals": week_labels, "yaxis.ticktext": short_labels,
         "yaxis.tickfont.size": 10, "xaxis.dtick": None, "xaxis.nticks": NARROW_TICKS,
         "margin.l": 8, "margin.r": 8},
        {"heatmap": {"texttemplate": "", "colorbar.thickness": 8, "colorbar.tickfont.size": 9,
                     "colorbar.title.font.size": 10}},
        below=HEATMAP_NARROW_WIDTH,
    )


def cohort_curves_table(frame: pd.DataFrame, dimension: str, payer: str = "all") -> pd.DataFrame:
    """Return (group, cohort_size, lifetime, value) per breakdown group on the payer toggle's side."""
    rows = select_payer(frame, payer)
    table = rows[[dimension, "cohort_size", "lifetime", "value"]].rename(columns={dimension: "group"})
    if dimension == "payer":
        table["group"] = table["group"].map(PAYER_LABELS)
    else:
        table["group"] = table["group"].astype(str)
    return table.sort_values(["group", "lifetime"], kind="stable").reset_index(drop=True)


def retention_curves_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None,
                            breakdown_title: str = "Payer") -> go.Figure:
    """Return retention curves (share of the cohort active on lifetime day k), one line per group."""
    palette = {**PAYER_COLORS, **(colors or {})}
    return lifetime_curves_figure(table, palette, "Retention (% of cohort)", "Retention: %{y:.2%}", ".0%",
                                  breakdown_title)


def conversion_curves_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None,
                             breakdown_title: str = "Payer") -> go.Figure:
    """Return conversion curves (share of the cohort with a first order by lifetime day k), one line per group."""
    palette = {**PAYER_COLORS, **(colors or {})}
    return lifetime_curves_figure(table, palette, "Conversion (% of cohort, cumulative)", "Conversion: %{y:.2%}",
                                  ".0%", breakdown_title)


def page_layout(params: dict[str, str] | None, cards: Mapping[str, Any]) -> html.Div:
    """Return the cohorts page; `params` holds the validated `breakdown` and `payer` from the URL, `cards` the
    chart name -> card of the page's declared charts."""
    params = {p.name: p.default for p in PAGE_PARAMS} | dict(params or {})
    controls = html.Div(
        [param_select(page_param_id(p.name), p.label, p.choices, params[p.name]) for p in PAGE_PARAMS],
        className="d-flex flex-wrap column-gap-3 row-gap-1",
    )
    header = html.Div(
        [html.Div([html.H2("Cohorts", className="h4 mb-0"),
                   html.Small("Users by the week of their first visit, followed for the horizon (global control). "
                              "The payer choice applies to the retention charts.", className="text-muted")]),
         controls],
        className="d-flex justify-content-between align-items-end mb-3 page-header",
    )
    return html.Div(
        [
            header,
            dbc.Row([dbc.Col(cards[CohortIds.RETENTION_HEATMAP], xl=7, className="mb-3"),
                     dbc.Col(cards[CohortIds.RETENTION_CURVES], xl=5, className="mb-3")]),
            dbc.Row([dbc.Col(cards[CohortIds.CONVERSION_HEATMAP], xl=7, className="mb-3"),
                     dbc.Col(cards[CohortIds.CONVERSION_CURVES], xl=5, className="mb-3")]),
        ],
        id=CohortIds.PAGE,
    )
