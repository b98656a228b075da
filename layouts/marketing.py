"""The marketing page (`/marketing`): spend, CAC, LTV, ROI and payback, as pure functions of metric frames.

Every chart is built in two steps: a `*_table` function turns a metric frame (shapes of `docs/metrics_api.md`)
into the exact numbers the chart shows (that frame is also the chart's CSV download), and a `*_figure`
function draws that table. Nothing here touches the database or Dash callbacks. The charts are declared in
`callbacks/marketing.py` (`CHARTS`); `page_layout` arranges their cards.
"""

from __future__ import annotations

from typing import Any, Mapping

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from dash import html

from layouts.common import (FIGURE_MARGIN, data_grid, fmt_money, fmt_pct, grid_column, narrow_form,
                            narrow_legend_entries, param_select, style_figure)
from layouts.filters import PageParam
from layouts.ids import MarketingIds, page_param_id
from layouts.overview import FORECAST_FIELDS, FORECAST_PARAM, forecast_column, forecast_part, forecast_traces
from layouts.periods import DAYS_IN_PERIOD, add_note_under, hover_texts, partial_flags, partial_segments
from metrics.kpis import ROLLING_DAYS

# ---------------------------------------------------------------------------------------------------------------
# Constants shared with the cohorts page
# ---------------------------------------------------------------------------------------------------------------

# URL value of the `breakdown` page parameter -> (metric dimension, label shown to the user).
BREAKDOWNS: dict[str, tuple[str, str]] = {
    "channel": ("channel", "Channel"),
    "country": ("region", "Country"),
    "device": ("device", "Device"),
}
DEFAULT_BREAKDOWN = "channel"

PAGE_PARAMS = (
    PageParam("breakdown", "Break down by", tuple((value, label) for value, (_, label) in BREAKDOWNS.items()),
              DEFAULT_BREAKDOWN),
    FORECAST_PARAM,  # the spend-over-time chart's forecast, on or off (its card's select)
)
FILTERS = ("dates", "attributes", "observation_date", "horizon")

ROI_AXIS_CAP = 4.0  # ROI-by-date opens with the y axis at most this high (small cohorts make huge spikes)
CHART_HEIGHT = 340
FALLBACK_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)


def breakdown_dimension(breakdown: str | None) -> str:
    """Return the metric dimension of a `breakdown` URL value (unknown or empty -> the default, channel)."""
    return BREAKDOWNS.get(breakdown or DEFAULT_BREAKDOWN, BREAKDOWNS[DEFAULT_BREAKDOWN])[0]


def breakdown_label(breakdown: str | None) -> str:
    """Return the user-facing label of a `breakdown` URL value ("Channel", "Country", "Device")."""
    return BREAKDOWNS.get(breakdown or DEFAULT_BREAKDOWN, BREAKDOWNS[DEFAULT_BREAKDOWN])[1]


def normalise_breakdown(breakdown: str | None) -> str:
    """Return `breakdown` if it is a known URL value, else the default ("channel")."""
    return breakdown if breakdown in BREAKDOWNS else DEFAULT_BREAKDOWN


# ---------------------------------------------------------------------------------------------------------------
# Small figure helpers
# ---------------------------------------------------------------------------------------------------------------


def color_of(value, position: int, colors: Mapping[str, str] | None) -> str:
    """Return the colour of a group value: from `colors` when it names it, else a fixed fallback by position."""
    if colors and str(value) in colors:
        return colors[str(value)]
    return FALLBACK_COLORS[position % len(FALLBACK_COLORS)]


def _base_figure(x_title: str, y_title: str, *, height: int = CHART_HEIGHT, hovermode: str = "closest"
                 ) -> go.Figure:
    """Return an empty figure with the dashboard's common styling (layouts.common.style_figure) and labelled axes."""
    fig = style_figure(go.Figure(), x_title=x_title, y_title=y_title, height=height, hovermode=hovermode)
    fig.update_layout(hoverlabel=dict(namelength=-1))
    return fig


def legend_beside_when_many(fig: go.Figure, many: int = 5) -> go.Figure:
    """Return `fig` with its legend in a column at the right when it has more than `many` traces (else on top);
    on a narrow screen the legend is under the plot, with room for every entry."""
    if len(fig.data) > many:
        fig.update_layout(legend=dict(orientation="v", x=1.01, xanchor="left", y=1, yanchor="top", font_size=11),
                          margin=dict(r=10))
    return narrow_legend_entries(fig)


def add_break_even_line(fig: go.Figure) -> go.Figure:
    """Return `fig` with a dashed horizontal line at ROI 1.0 labelled "break-even"."""
    fig.add_hline(y=1.0, line_dash="dash", line_color="#b42318", line_width=1.5,
                  annotation_text="break-even (ROI 1.0)", annotation_position="top left",
                  annotation_font=dict(color="#b42318", size=11), annotation_bgcolor="rgba(255,255,255,0.8)")
    return fig


def _groups(table: pd.DataFrame, column: str) -> list:
    """Return the distinct values of `column` in first-appearance order."""
    return list(dict.fromkeys(table[column].tolist())) if len(table) else []


def _dates(series: pd.Series) -> list[str]:
    """Return dates as ISO strings (YYYY-MM-DD), the form both the chart and the CSV use."""
    return [pd.Timestamp(v).strftime("%Y-%m-%d") for v in series]


# ---------------------------------------------------------------------------------------------------------------
# Spend
# ---------------------------------------------------------------------------------------------------------------


def spend_over_time_table(daily_spend: pd.DataFrame) -> pd.DataFrame:
    """Return spend per date and channel (columns date, channel, costs), dates ascending, channels code-point order."""
    if daily_spend.empty:
        return pd.DataFrame({"date": pd.Series([], dtype="datetime64[us]"), "channel": pd.Series([], dtype=str),
                             "costs": pd.Series([], dtype=float)})
    table = (daily_spend.groupby(["date", "channel"], as_index=False, sort=True)["costs"].sum()
             .sort_values(["channel", "date"], kind="stable").reset_index(drop=True))
    return table[["date", "channel", "costs"]]


FORECAST_COLOR = "#343a40"  # the total spend forecast over the stack of channels
TOTAL_SPEND_LABEL = "All channels"


def spend_with_forecast(table: pd.DataFrame, forecast: pd.DataFrame | None, channel: str) -> pd.DataFrame:
    """Return the spend-over-time table followed by the spend forecast's rows (date, mean, lo80, hi80, lo95, hi95;
    None: none) of `channel` ("All channels" for the total): columns costs_forecast, costs_lo80, costs_hi80,
    costs_lo95, costs_hi95, their costs empty. `table` unchanged when empty or without a forecast."""
    if table.empty or forecast is None or forecast.empty:
        return table
    future = forecast[["date", *FORECAST_FIELDS]].rename(
        columns={field: forecast_column("costs", name) for field, name in FORECAST_FIELDS.items()})
    future.insert(1, "channel", channel)
    future["date"] = pd.to_datetime(future["date"]).astype(table["date"].dtype)
    return pd.concat([table, future], ignore_index=True)


def forecast_control(params: Mapping[str, str]) -> html.Div:
    """Return the spend-over-time card's forecast select (on / off), set to `params`."""
    value = dict(params or {}).get(FORECAST_PARAM.name) or FORECAST_PARAM.default
    return param_select(page_param_id(FORECAST_PARAM.name), FORECAST_PARAM.label, FORECAST_PARAM.choices, value)


def spend_over_time_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None) -> go.Figure:
    """Return a stacked area chart of daily spend by channel (one trace per channel, y = that channel's spend); with
    forecast rows (`spend_with_forecast`), the forecast after them as a dashed line with its 80% band (the
    channel's colour for one channel, dark grey for the total)."""
    table, future = forecast_part(table)
    fig = _base_figure("Date", "Spend per day ($)")
    for i, channel in enumerate(_groups(table, "channel")):
        part = table[table["channel"] == channel]
        fig.add_trace(go.Scatter(
            x=_dates(part["date"]), y=part["costs"].to_numpy(dtype=float), name=str(channel),
            mode="lines", stackgroup="spend", line=dict(width=0.5, color=color_of(channel, i, colors)),
            hovertemplate=f"{channel}: $%{{y:,.2f}}<extra></extra>",
        ))
    if len(future):
        channel = str(future["channel"].iloc[0])
        total = channel == TOTAL_SPEND_LABEL
        color = FORECAST_COLOR if total else color_of(channel, 0, colors)
        fig.add_traces(forecast_traces(future, "costs", "Spend" if total else f"{channel} spend", color,
                                       "$%{y:,.2f}"))
    fig.update_layout(hovermode="x unified")
    fig.update_yaxes(tickformat="$,.2~f", rangemode="tozero")  # $0.5 and $1 on small spend, not "$1" twice
    return legend_beside_when_many(fig)


def spend_share_table(daily_spend: pd.DataFrame) -> pd.DataFrame:
    """Return total spend and share of spend per channel (columns channel, costs, share), largest spend first."""
    if daily_spend.empty:
        return pd.DataFrame({"channel": pd.Series([], dtype=str), "costs": pd.Series([], dtype=float),
                             "share": pd.Series([], dtype=float)})
    table = daily_spend.groupby("channel", as_index=False, sort=True)["costs"].sum()
    total = float(table["costs"].sum())
    table["share"] = table["costs"] / total if total > 0 else np.nan
    return table.sort_values(["costs", "channel"], ascending=[False, True], kind="stable").reset_index(drop=True)


# every channel named on a bar chart's category axis (plotly's automatic ticks skip every other name of 11)
EVERY_CHANNEL = {"tickmode": "linear", "tick0": 0, "dtick": 1}


def spend_share_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None) -> go.Figure:
    """Return a horizontal bar chart of each channel's share of spend (x = share; label and hover show $ too)."""
    fig = _base_figure("Share of spend in the period", "")
    channels = [str(c) for c in table["channel"]]
    order = {c: i for i, c in enumerate(sorted(channels))}  # colour position independent of the spend ranking
    fig.add_trace(go.Bar(
        x=table["share"].to_numpy(dtype=float), y=channels, orientation="h",
        marker_color=[color_of(c, order[c], colors) for c in channels],
        customdata=table["costs"].to_numpy(dtype=float),
        text=[f"{s:.1%} · ${c:,.2f}" for s, c in zip(table["share"], table["costs"])], textposition="auto",
        hovertemplate="%{y}<br>Share of spend: %{x:.1%}<br>Spend: $%{customdata:,.2f}<extra></extra>",
        showlegend=False,
    ))
    fig.update_xaxes(tickformat=".0%", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", **EVERY_CHANNEL)
    return fig


# ---------------------------------------------------------------------------------------------------------------
# CAC and channel economics
# ---------------------------------------------------------------------------------------------------------------


def channel_economics_table(economics: pd.DataFrame, attributed_only: bool = False) -> pd.DataFrame:
    """Return channel economics (channel, new_users, costs, cac, unattributed, total_spend), channels in code-point order.

    `attributed_only` (a country or device filter: the contract's one spend rule) keeps the channels with new users
    of the filtered kind, leaves unattributed empty (spend has no country or device) and total spend = attributed.
    """
    table = economics[["channel", "new_users", "costs", "cac", "unattributed"]].copy()
    table["cac"] = table["cac"].where(table["costs"] > 0)  # no spend (organic): no CAC, shown as "—", not $0.00
    if attributed_only:
        table = table[table["new_users"] > 0].copy()
        table["unattributed"] = float("nan")
        table["total_spend"] = table["costs"]
    else:
        table["total_spend"] = table["costs"] + table["unattributed"]
    return table.sort_values("channel", kind="stable").reset_index(drop=True)


def unattributed_total(economics: pd.DataFrame) -> tuple[float, float]:
    """Return (unattributed spend, total spend) summed over the channels of a `channel_economics` frame."""
    unattributed = float(economics["unattributed"].sum()) if len(economics) else 0.0
    total = unattributed + (float(economics["costs"].sum()) if len(economics) else 0.0)
    return unattributed, total


def cac_by_channel_table(economics: pd.DataFrame) -> pd.DataFrame:
    """Return CAC per paid channel with new users (channel, new_users, costs, cac), highest CAC first; unpaid left out."""
    table = economics[["channel", "new_users", "costs", "cac"]]
    paid = table[(table["costs"] > 0) & table["cac"].notna()]
    return paid.sort_values(["cac", "channel"], ascending=[False, True], kind="stable").reset_index(drop=True)


def cac_by_channel_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None) -> go.Figure:
    """Return horizontal bars of CAC per channel, in table order (x = cac in $; hover adds new users and spend)."""
    fig = _base_figure("CAC ($ per new user)", "")
    channels = [str(c) for c in table["channel"]]
    fig.add_trace(go.Bar(
        x=table["cac"].to_numpy(dtype=float), y=channels, orientation="h",
        marker_color=[color_of(c, i, colors) for i, c in enumerate(channels)],
        customdata=np.column_stack([table["new_users"].to_numpy(dtype=float), table["costs"].to_numpy(dtype=float)])
        if len(table) else None,
        text=[f"${v:,.2f}" for v in table["cac"]], textposition="auto",
        hovertemplate=("%{y}<br>CAC: $%{x:,.2f}<br>New users: %{customdata[0]:,.0f}"
                       "<br>Attributed spend: $%{customdata[1]:,.2f}<extra></extra>"),
        showlegend=False,
    ))
    fig.update_xaxes(tickformat="$,.2f", rangemode="tozero")
    fig.update_yaxes(autorange="reversed", tickformat="", **EVERY_CHANNEL)
    return fig


def cac_over_time_table(economics_by_period: pd.DataFrame) -> pd.DataFrame:
    """Return CAC per period and paid channel (period, channel, new_users, costs, cac); unpaid channels left out."""
    frame = economics_by_period[["period", "channel", "new_users", "costs", "cac"]]
    spend_by_channel = frame.groupby("channel")["costs"].sum()
    paid = set(spend_by_channel[spend_by_channel > 0].index)
    table = frame[frame["channel"].isin(paid)]
    return table.sort_values(["channel", "period"], kind="stable").reset_index(drop=True)


def cac_over_time_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None,
                         grain_label: str = "Week", note: str | None = None) -> go.Figure:
    """Return CAC over time, one line per paid channel (x = period start, y = cac in $; gaps = no new users); a
    partial week (the table's PARTIAL column) an open marker joined by a dotted segment, its hover saying so; `note`
    under the plot."""
    fig = _base_figure(f"{grain_label} of acquisition (start date)", "CAC ($ per new user)")
    hover = (f"%{{meta}}<br>{grain_label} of %{{x}}<br>CAC: $%{{y:,.2f}}"
             "<br>New users: %{customdata[0]:,.0f}%{customdata[1]}<extra></extra>")
    partial_traces = []
    for i, channel in enumerate(_groups(table, "channel")):
        part = table[table["channel"] == channel]
        color, partial = color_of(channel, i, colors), partial_flags(part)
        x, y = _dates(part["period"]), part["cac"].to_numpy(dtype=float)
        texts = [f"<br>{t}" if t else "" for t in
                 hover_texts(part["period"], part.get(DAYS_IN_PERIOD), grain_label.lower())]
        customdata = np.column_stack([part["new_users"].to_numpy(dtype=float), np.array(texts, dtype=object)])
        fig.add_trace(go.Scatter(  # the full weeks: a solid line
            x=x, y=[np.nan if p else v for v, p in zip(y, partial)], name=str(channel), mode="lines+markers",
            line=dict(color=color, width=2), marker=dict(size=5), legendgroup=str(channel), meta=str(channel),
            customdata=customdata, hovertemplate=hover))
        if any(partial):  # the partial weeks: open markers, joined to their full neighbours by dotted segments
            seg_x, seg_y = partial_segments(x, list(y), partial)
            chosen = np.flatnonzero(partial)
            partial_traces += [
                go.Scatter(x=seg_x, y=seg_y, mode="lines", line=dict(color=color, width=2, dash="dot"),
                           legendgroup=str(channel), showlegend=False, hoverinfo="skip"),
                go.Scatter(x=[x[k] for k in chosen], y=y[chosen], mode="markers", legendgroup=str(channel),
                           marker=dict(size=8, symbol="circle-open", color=color, line=dict(width=2)),
                           showlegend=False, name=f"{channel} (partial)", meta=str(channel),
                           customdata=customdata[chosen], hovertemplate=hover)]
    fig.update_yaxes(tickformat="$,.2f", rangemode="tozero")
    fig = legend_beside_when_many(fig)  # by the channels' lines only
    fig.add_traces(partial_traces)
    return add_note_under(fig, note)


# ---------------------------------------------------------------------------------------------------------------
# LTV and ROI curves by lifetime
# ---------------------------------------------------------------------------------------------------------------


def curves_table(frame: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """Return a cohort metric frame reduced to (group, cohort_size, lifetime, value) [+ cac], group = the dimension's value."""
    columns = [dimension, "cohort_size", "lifetime", "value"] + (["cac"] if "cac" in frame.columns else [])
    table = frame[columns].rename(columns={dimension: "group"})
    table["group"] = table["group"].astype(str)
    return table.sort_values(["group", "lifetime"], kind="stable").reset_index(drop=True)


def lifetime_curves_figure(table: pd.DataFrame, colors: Mapping[str, str] | None, y_title: str, y_hover: str,
                           y_format: str, breakdown_title: str) -> go.Figure:
    """Return one line per group of a curves table: x = lifetime (days), y = value (hover text `y_hover`)."""
    fig = _base_figure("Lifetime (days since first visit)", y_title)
    for i, group in enumerate(_groups(table, "group")):
        part = table[table["group"] == group]
        fig.add_trace(go.Scatter(
            x=part["lifetime"].to_numpy(dtype=int), y=part["value"].to_numpy(dtype=float), name=str(group),
            mode="lines+markers", marker=dict(size=4), line=dict(color=color_of(group, i, colors), width=2),
            customdata=part["cohort_size"].to_numpy(dtype=float),
            hovertemplate=(f"{breakdown_title}: {group}<br>Lifetime day %{{x}}<br>{y_hover}"
                           "<br>Cohort size: %{customdata:,.0f} users<extra></extra>"),
        ))
    fig.update_xaxes(dtick=1 if len(table) and table["lifetime"].max() <= 20 else None, rangemode="tozero")
    fig.update_yaxes(tickformat=y_format, rangemode="tozero")
    return legend_beside_when_many(fig)


def ltv_curves_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None,
                      breakdown_title: str = "Channel") -> go.Figure:
    """Return LTV curves (cumulative revenue per cohort user, $) by lifetime, one line per group."""
    return lifetime_curves_figure(table, colors, "LTV ($ per user, cumulative)", "LTV: $%{y:,.2f}", "$,.2f", breakdown_title)


def roi_curves_figure(table: pd.DataFrame, colors: Mapping[str, str] | None = None,
                      breakdown_title: str = "Channel") -> go.Figure:
    """Return ROI curves (LTV / CAC of the paid cohort) by lifetime with the 1.0 break-even line."""
    fig = lifetime_curves_figure(table, colors, "ROI (LTV / CAC)", "ROI: %{y:.2f}× (LTV / CAC)", ".1f",
                                 breakdown_title)
    fig.update_yaxes(ticksuffix="×")
    return add_break_even_line(fig)


# ---------------------------------------------------------------------------------------------------------------
# ROI at day H by acquisition date (7-day rolling; the numbers: metrics.kpis.rolling_roi_by_date)
# ---------------------------------------------------------------------------------------------------------------


def roi_by_date_figure(table: pd.DataFrame, horizon: int, colors: Mapping[str, str] | None = None,
                       breakdown_title: str = "Channel", window_days: int = ROLLING_DAYS,
                       columns: int = 4) -> go.Figure:
    """Return small multiples of rolling ROI by lifetime day H-1 per acquisition date: one panel (trace) per group.

    Panels share both axes and each has the dashed break-even line at 1.0. The y axis opens at most at
    ROI_AXIS_CAP (a few tiny cohorts reach ROI 50+ and would flatten everything else); exact values are in the
    hover and the CSV.
    """
    last_day = horizon - 1
    groups = _groups(table, "group")
    cols = max(1, min(columns, len(groups)))
    rows = max(1, -(-len(groups) // cols))
    fig = make_subplots(rows=rows, cols=cols, shared_xaxes="all", shared_yaxes="all",
                        subplot_titles=[str(g) for g in groups] or None,
                        horizontal_spacing=0.025, vertical_spacing=0.22 / rows if rows > 1 else 0.0)
    for i, group in enumerate(groups):
        part = table[table["group"] == group]
        fig.add_trace(go.Scatter(
            x=_dates(part["dt"]), y=part["roi_7d"].to_numpy(dtype=float), name=str(group), mode="lines",
            line=dict(color=color_of(group, i, colors), width=1.8), showlegend=False,
            customdata=np.column_stack([part["revenue_7d"].to_numpy(dtype=float), part["cost_7d"].to_numpy(dtype=float),
                                        part["cohort_size_7d"].to_numpy(dtype=float)]),
            hovertemplate=(f"{breakdown_title}: {group}<br>Acquired %{{x}} and the {window_days - 1} days before"
                           f"<br>ROI by lifetime day {last_day}: %{{y:.2f}}×"
                           f"<br>Revenue by day {last_day}: $%{{customdata[0]:,.2f}}"
                           "<br>Acquisition cost: $%{customdata[1]:,.2f}<br>Paid users: %{customdata[2]:,.0f}"
                           "<extra></extra>"),
        ), row=i // cols + 1, col=i % cols + 1)
    style_figure(fig, x_title="", y_title="", height=120 + 200 * rows, hovermode="closest")
    fig.update_layout(margin={**FIGURE_MARGIN, "t": 40, "b": 70})
    fig.update_annotations(font_size=12)
    fig.add_hline(y=1.0, line_dash="dash", line_color="#b42318", line_width=1.2, row="all", col="all")
    fig.update_xaxes(showticklabels=True, tickformat="%b %d")
    fig.update_yaxes(tickformat=".1f", ticksuffix="×", rangemode="tozero")
    fig.update_yaxes(title_text=f"ROI by day {last_day}", col=1)
    note = f"Acquisition date (last day of the {window_days}-day window); dashed line = break-even (ROI 1.0)"
    top = float(np.nanmax(table["roi_7d"].to_numpy(dtype=float))) if len(table) else 1.0
    if top > ROI_AXIS_CAP:
        fig.update_yaxes(range=[0, ROI_AXIS_CAP * 1.05])
        note += f". y axis cut at {ROI_AXIS_CAP:.1f} (highest value {top:.2f}): double-click a panel to see all"
    fig.add_annotation(xref="paper", yref="paper", x=0.5, y=0, xanchor="center", yanchor="top", yshift=-36,
                       showarrow=False, font=dict(size=12, color="#495057"), text=note)
    short_note = "Dashed line = break-even (ROI 1.0)" + (f"; y axis cut at {ROI_AXIS_CAP:.1f}" if top > ROI_AXIS_CAP
                                                          else "")
    return narrow_small_multiples(fig, len(groups), rows * cols, f"ROI by day {last_day}", short_note)


NARROW_PANEL_COLUMNS = 2  # panels a row of small multiples on a narrow screen
NARROW_PANEL_HEIGHT = 170  # px a row of those panels


def narrow_small_multiples(fig: go.Figure, panels: int, cells: int, y_title: str, short_note: str) -> go.Figure:
    """Return small multiples (`panels` panels in `cells` grid cells, a subplot title per panel, then a note) with a
    narrow form of NARROW_PANEL_COLUMNS panels a row: axis domains, titles and the note moved, empty cells hidden."""
    cols = max(1, min(NARROW_PANEL_COLUMNS, panels))
    rows = max(1, -(-panels // cols))
    grid = make_subplots(rows=rows, cols=cols, horizontal_spacing=0.1,
                         vertical_spacing=0.3 / rows if rows > 1 else 0.0)
    changes: dict = {"height": 90 + NARROW_PANEL_HEIGHT * rows, "margin.b": 60,
                     f"annotations[{panels}].text": short_note, f"annotations[{panels}].font.size": 10}
    for cell in range(cells):
        suffix = "" if cell == 0 else str(cell + 1)
        if cell >= panels:
            changes[f"xaxis{suffix}.visible"] = False
            changes[f"yaxis{suffix}.visible"] = False
            continue
        row, col = cell // cols + 1, cell % cols + 1
        subplot = grid.get_subplot(row, col)
        x_domain, y_domain = list(subplot.xaxis.domain), list(subplot.yaxis.domain)
        changes[f"xaxis{suffix}.domain"] = x_domain
        changes[f"yaxis{suffix}.domain"] = y_domain
        changes[f"yaxis{suffix}.title.text"] = y_title if col == 1 else ""
        changes[f"yaxis{suffix}.showticklabels"] = col == 1
        changes[f"annotations[{cell}].x"] = (x_domain[0] + x_domain[1]) / 2
        changes[f"annotations[{cell}].y"] = y_domain[1]
        changes[f"annotations[{cell}].font.size"] = 11
    return narrow_form(fig, changes)


# ---------------------------------------------------------------------------------------------------------------
# Tables (dash-ag-grid)
# ---------------------------------------------------------------------------------------------------------------

def never_text(horizon: int) -> str:
    """Return the text shown for a group that does not pay back within the horizon."""
    return f"never within {horizon} days"


def payback_table(payback: pd.DataFrame, dimension: str, horizon: int,
                  roi: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the payback table (group, cohort_size, cac, roi_at_h, payback_day, payback) of `metrics.payback`.

    `payback_day` is the day number (missing = never); `payback` is its text ("day 3" / "never within H days").
    `roi_at_h` is ROI at lifetime H-1 from `roi` (same dimension), NaN when `roi` is not given.
    """
    table = payback[[dimension, "cohort_size", "cac", "payback_day"]].rename(columns={dimension: "group"}).copy()
    table["group"] = table["group"].astype(str)
    if roi is not None and len(roi):
        at_h = roi[roi["lifetime"] == horizon - 1][[dimension, "value"]].rename(
            columns={dimension: "group", "value": "roi_at_h"})
        at_h["group"] = at_h["group"].astype(str)
        table = table.merge(at_h, on="group", how="left")
    else:
        table["roi_at_h"] = np.nan
    days = table["payback_day"].astype("Int64")
    table["payback_day"] = days
    table["payback"] = [never_text(horizon) if pd.isna(d) else f"day {int(d)}" for d in days]
    return table[["group", "cohort_size", "cac", "roi_at_h", "payback_day", "payback"]].sort_values(
        "group", kind="stable").reset_index(drop=True)


def payback_grid(table: pd.DataFrame, horizon: int, breakdown_title: str = "Channel",
                 name: str = MarketingIds.PAYBACK_TABLE) -> dag.AgGrid:
    """Return the payback table as an AG Grid (payback day sortable; "never within H days" shown for none)."""
    never = never_text(horizon)
    columns = [
        grid_column("group", breakdown_title, pinned="left", minWidth=130),
        grid_column("cohort_size", "Paid users", "int", headerTooltip="Users of paid channels in the cohort"),
        grid_column("cac", "CAC (horizon cohort)", "money",
                    headerTooltip="Mean acquisition cost of the paid cohort followed for the whole horizon"),
        grid_column("roi_at_h", f"ROI by day {horizon - 1}", "ratio",
                    headerTooltip=f"LTV / CAC at lifetime day {horizon - 1} (horizon {horizon} days)"),
        grid_column("payback_day", "Payback day", None, type="rightAligned", filter="agNumberColumnFilter",
                    headerTooltip="First lifetime day with ROI >= 1.0",
                    valueFormatter={"function": f"params.value == null ? '{never}' : 'day ' + params.value"},
                    cellClassRules={"text-danger fw-semibold": "params.value == null"}),
    ]
    return data_grid(name, table, columns, height=min(54 + 42 * len(table), 520))


def channel_economics_grid(table: pd.DataFrame, name: str = MarketingIds.CHANNEL_TABLE) -> dag.AgGrid:
    """Return the channel economics table (new users, attributed spend, CAC, unattributed spend, total spend)."""
    columns = [
        grid_column("channel", "Channel", pinned="left", minWidth=150),
        grid_column("new_users", "New users", "int"),
        grid_column("costs", "Attributed spend", "money",
                    headerTooltip="Spend attributed to the channel's new users in the period"),
        grid_column("cac", "CAC (period's new users)", "money",
                    headerTooltip="Attributed spend / new users acquired in the period; empty for organic"),
        grid_column("unattributed", "Unattributed spend", "money",
                    headerTooltip="Spend on days when the channel brought no new user: reported, never spread"),
        grid_column("total_spend", "Total spend", "money"),
    ]
    return data_grid(name, table, columns, height=min(54 + 42 * len(table), 560))


def unattributed_note(table: pd.DataFrame) -> html.P:
    """Return the line stating the unattributed spend (amount and share of all spend) of a channel table, or, with
    a country or device filter (unattributed left empty), that the spend shown is the filtered users' attributed spend."""
    if len(table) and table["unattributed"].isna().all():
        return html.P([html.Strong("Spend attributed to the filtered new users: "),
                       f"{fmt_money(float(table['total_spend'].sum()))}. ",
                       html.Span("Spend has no country or device, so with these filters every spend figure is the "
                                 "acquisition cost of the matching new users; unattributed spend is not shown.",
                                 className="text-muted")],
                      className="mb-2 small", id=MarketingIds.UNATTRIBUTED)
    unattributed = float(table["unattributed"].sum()) if len(table) else 0.0
    total = float(table["total_spend"].sum()) if len(table) else 0.0
    share = unattributed / total if total > 0 else 0.0
    channels = table.loc[table["unattributed"] > 0, "channel"].astype(str).tolist()
    where = f" ({', '.join(channels)})" if channels else ""
    return html.P(
        [html.Strong("Unattributed spend: "), f"{fmt_money(unattributed)} of {fmt_money(total)} total spend "
         f"({fmt_pct(share)}){where}. ",
         html.Span("Spend on days when a channel brought no new user; it is reported here and in the table, "
                   "never spread over other days' users.", className="text-muted")],
        className="mb-2 small", id=MarketingIds.UNATTRIBUTED,
    )


def channel_economics_view(table: pd.DataFrame) -> html.Div:
    """Return the channel economics card content: the unattributed spend line and the table."""
    return html.Div([unattributed_note(table), channel_economics_grid(table)])


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------


def page_layout(params: dict[str, str] | None, cards: Mapping[str, Any]) -> html.Div:
    """Return the marketing page; `params` holds the validated `breakdown` from the URL, `cards` the chart name ->
    card of the page's declared charts."""
    params = {p.name: p.default for p in PAGE_PARAMS} | dict(params or {})
    breakdown = normalise_breakdown(params.get("breakdown"))
    selector = param_select(page_param_id("breakdown"), "Break down by", PAGE_PARAMS[0].choices, breakdown)
    ids = MarketingIds
    spend_row = dbc.Row([dbc.Col(cards[ids.SPEND_OVER_TIME], xl=8, className="mb-3"),
                         dbc.Col(cards[ids.SPEND_SHARE], xl=4, className="mb-3")])
    cac_row = dbc.Row([dbc.Col(cards[ids.CAC_BY_CHANNEL], xl=4, className="mb-3"),
                       dbc.Col(cards[ids.CAC_OVER_TIME], xl=8, className="mb-3")])
    channel_row = dbc.Row(dbc.Col(cards[ids.CHANNEL_TABLE], className="mb-3"))
    section = html.Div(
        [html.Div([html.H3("Cohort economics", className="h5 mb-0"),
                   html.Small("Paid cohorts within the horizon (global horizon control); LTV over all users",
                              className="text-muted")]),
         selector],
        className="d-flex justify-content-between align-items-end mb-2 mt-2 page-header",
    )
    curves_row = dbc.Row([dbc.Col(cards[ids.LTV_CURVES], xl=6, className="mb-3"),
                          dbc.Col(cards[ids.ROI_CURVES], xl=6, className="mb-3")])
    roi_row = dbc.Row(dbc.Col(cards[ids.ROI_BY_DATE], className="mb-3"))
    payback_row = dbc.Row(dbc.Col(cards[ids.PAYBACK_TABLE], className="mb-3"))
    return html.Div(
        [html.H2("Marketing", className="h4 mb-3"), spend_row, cac_row, channel_row, section, curves_row, roi_row,
         payback_row],
        id=ids.PAGE,
    )
