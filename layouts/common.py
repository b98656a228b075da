"""Building blocks every page shares: colours, number formats, chart cards, empty states, KPI cards.

Pure functions (data in, components or figures out): no database, no callbacks.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from layouts.glossary import help_icon
from layouts.ids import (OverviewIds, chart_body_id, chart_card_id, chart_graph_id, csv_button_id, csv_download_id,
                         xlsx_button_id)

# ---------------------------------------------------------------- colours

# Qualitative palette (Tableau 10, then 10 more distinct hues); the i-th known value (sorted) gets PALETTE[i].
PALETTE: tuple[str, ...] = (
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F",
    "#17BECF", "#1F3A93", "#D35400", "#8E44AD", "#16A085", "#C0392B", "#2C3E50", "#7F8C8D", "#BCBD22",
    "#AF7AC5", "#5D6D7E",
)
FALLBACK_PALETTE: tuple[str, ...] = ("#6C757D", "#495057", "#ADB5BD", "#868E96")
FIXED_COLORS: dict[str, str] = {"organic": "#A0A0A0"}  # unpaid traffic is always grey
SERIES_COLORS: dict[str, str] = {  # named series of the overview charts
    "dau": "#4E79A7", "wau7": "#F28E2B", "mau30": "#59A14F", "revenue": "#59A14F", "spend": "#E15759",
    "users": "#4E79A7", "payer_share": "#B07AA1", "payers": "#B07AA1",
}
COLOR_DIMENSIONS = ("region", "device", "channel")


def color_map(values: Iterable[str]) -> dict[str, str]:
    """Return {value: colour} for `values`, assigned in sorted (code-point) order from PALETTE."""
    ordered = sorted({str(v) for v in values if v is not None} - set(FIXED_COLORS))
    colors = {value: PALETTE[i % len(PALETTE)] for i, value in enumerate(ordered)}
    colors.update({v: c for v, c in FIXED_COLORS.items() if v in {str(x) for x in values}})
    return colors


def fallback_color(value: str) -> str:
    """Return a stable colour for a value no palette knows (same in every process)."""
    digest = hashlib.sha256(str(value).encode()).digest()
    return FALLBACK_PALETTE[digest[0] % len(FALLBACK_PALETTE)]


@dataclass(frozen=True)
class Palette:
    """One colour per region, device and channel value, the same on every chart."""

    maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @classmethod
    def from_bounds(cls, bounds: Mapping) -> "Palette":
        """Return the palette of the known values in `metrics.data_bounds` output."""
        return cls({dim: color_map(bounds.get(dim + "s", ()) or ()) for dim in COLOR_DIMENSIONS})

    def color(self, dimension: str, value) -> str:
        """Return the colour of `value` of `dimension` (a fixed fallback when unknown)."""
        value = str(value)
        known = self.maps.get(dimension, {})
        if value in known:
            return known[value]
        return FIXED_COLORS.get(value) or fallback_color(value)

    def colors(self, dimension: str, values: Iterable) -> dict[str, str]:
        """Return {value: colour} for `values` of `dimension`."""
        return {str(v): self.color(dimension, v) for v in values}


# ---------------------------------------------------------------- numbers

CURRENCY = "$"
DIMENSION_LABELS = {"region": "Country", "device": "Device", "channel": "Channel", "payer": "Payer",
                    "dt": "Day", "week": "Week", "month": "Month"}


def is_missing(value) -> bool:
    """True when `value` is None, NaN or pandas NA."""
    if value is None or value is pd.NA:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt_int(value) -> str:
    """Return an integer with thousands separators ("—" when missing)."""
    return "—" if is_missing(value) else f"{round(float(value)):,}"


def fmt_number(value, digits: int = 1) -> str:
    """Return a number with thousands separators and `digits` decimals ("—" when missing)."""
    return "—" if is_missing(value) else f"{float(value):,.{digits}f}"


def fmt_money(value, digits: int = 2) -> str:
    """Return a money amount such as "$1,234.56" ("—" when missing)."""
    if is_missing(value):
        return "—"
    sign = "-" if float(value) < 0 else ""
    return f"{sign}{CURRENCY}{abs(float(value)):,.{digits}f}"


def fmt_pct(value, digits: int = 1) -> str:
    """Return a ratio as a percentage, 0.1234 -> "12.3%" ("—" when missing)."""
    return "—" if is_missing(value) else f"{100 * float(value):,.{digits}f}%"


def fmt_ratio(value, digits: int = 2) -> str:
    """Return a ratio such as ROI as "1.23×" ("—" when missing)."""
    return "—" if is_missing(value) else f"{float(value):,.{digits}f}×"


def fmt_duration(seconds) -> str:
    """Return a duration in seconds as "12m 05s" (or "45s")."""
    if is_missing(seconds):
        return "—"
    total = int(round(float(seconds)))
    minutes, secs = divmod(total, 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


FORMATTERS = {"int": fmt_int, "number": fmt_number, "money": fmt_money, "pct": fmt_pct, "ratio": fmt_ratio,
              "duration": fmt_duration}

# Plotly hover / tick formats (d3-format) for the same kinds.
HOVER_FORMATS = {"int": ",.0f", "number": ",.2f", "money": "$,.2f", "pct": ".2%", "ratio": ".3f"}
TICK_FORMATS = {"int": ",~s", "number": ",~s", "money": "$,.2~f", "pct": ".0%", "ratio": ".2f"}


# ---------------------------------------------------------------- figures

FIGURE_HEIGHT = 340
# room for the usual tick labels and axis titles ("$1,000", "1.5k", a date and "Week" under it): when the labels fit,
# automargin leaves the margins alone, so a filter change that changes the labels' widths does not move the plot
# area and Plotly does not draw the chart a second time (about 15-20 ms per chart; 100 ms on Marketing); longer
# labels still grow the margins
FIGURE_MARGIN = {"l": 80, "r": 20, "t": 56, "b": 56}
# A graph narrower than this (px) is drawn in its narrow form (`narrow_form`), applied in the browser by
# assets/narrow_charts.js: a phone in portrait, or a card in a narrow column.
NARROW_WIDTH = 576
NARROW_TICKS = 5  # at most about this many ticks per axis on a narrow graph
NARROW_LEGEND_ROW = 20  # px per legend entry under a narrow plot (plotly gives each entry its own row there)


def narrow_form(fig: go.Figure, layout: Mapping | None = None, traces: Mapping[str, Mapping] | None = None,
                below: int = NARROW_WIDTH) -> go.Figure:
    """Return `fig` with more of its narrow-screen form: `layout` ({"legend.y": 0, ...}: layout paths -> values) and
    `traces` ({trace type: {attribute path: value}}) are merged into `fig.layout.meta["narrow"]`, which the browser
    applies while the graph is narrower than `below` px and undoes when it is wider again."""
    meta = dict(fig.layout.meta) if isinstance(fig.layout.meta, Mapping) else {}
    spec = dict(meta.get("narrow") or {})
    spec["below"] = int(below)
    spec["layout"] = {**dict(spec.get("layout") or {}), **dict(layout or {})}
    merged_traces = {kind: dict(changes) for kind, changes in dict(spec.get("traces") or {}).items()}
    for kind, changes in dict(traces or {}).items():
        merged_traces[kind] = {**merged_traces.get(kind, {}), **dict(changes)}
    spec["traces"] = merged_traces
    meta["narrow"] = spec
    fig.update_layout(meta=meta)
    return fig


def narrow_axes_layout(fig: go.Figure) -> dict:
    """Return the narrow-form layout paths that give every axis of `fig` at most about NARROW_TICKS ticks."""
    names = [axis.plotly_name for axis in (*fig.select_xaxes(), *fig.select_yaxes())]
    return {f"{name}.nticks": NARROW_TICKS for name in names}


def narrow_legend_layout() -> dict:
    """Return the narrow-form layout paths that put the legend in rows under the plot, with slim margins (the
    figure's narrow height, which keeps room for those rows, comes from `narrow_legend_entries`)."""
    return {"legend.orientation": "h", "legend.x": 0, "legend.xanchor": "left", "legend.yref": "container",
            "legend.y": 0, "legend.yanchor": "bottom", "legend.title.side": "top", "legend.font.size": 11,
            "margin.l": 8, "margin.r": 8, "margin.t": 28}


def legend_entries(fig: go.Figure) -> int:
    """Return how many entries `fig`'s legend shows (plotly shows none for a single trace unless told to)."""
    if fig.layout.showlegend is False:
        return 0
    entries = sum(1 for trace in fig.data if trace.showlegend is not False)
    return entries if entries > 1 or fig.layout.showlegend else 0


def narrow_legend_entries(fig: go.Figure, entries: int | None = None) -> go.Figure:
    """Return `fig` whose narrow form keeps room under the plot for a legend of `entries` entries, one a row
    (default: the entries its legend shows now)."""
    entries = legend_entries(fig) if entries is None else max(int(entries), 0)
    height = int(fig.layout.height or FIGURE_HEIGHT)
    return narrow_form(fig, {"height": height + (NARROW_LEGEND_ROW * entries + 10 if entries else 0)})


def style_figure(fig: go.Figure, *, x_title: str, y_title: str, y_kind: str = "int", height: int = FIGURE_HEIGHT,
                 hovermode: str = "x unified", legend_title: str | None = None) -> go.Figure:
    """Return `fig` with the dashboard's look: titled axes, formatted ticks, legend on top, white theme, sized by
    its container; narrower than NARROW_WIDTH px it has its legend in rows under the plot, slim margins and fewer
    ticks (`narrow_form`)."""
    fig.update_layout(
        template="plotly_white", height=height, autosize=True, margin=dict(FIGURE_MARGIN),
        hovermode=hovermode,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, title=legend_title),
        font=dict(family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", size=12),
        separators=".,",
    )
    fig.update_xaxes(title_text=x_title, showgrid=False, automargin=True)
    fig.update_yaxes(title_text=y_title, tickformat=TICK_FORMATS.get(y_kind, ""), rangemode="tozero", automargin=True)
    narrow_form(fig, {**narrow_legend_layout(), **narrow_axes_layout(fig)})
    return narrow_legend_entries(fig)


# every chart's plotly.js config: no logo, resized with its card, the mode bar on hover without lasso and box select
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "displayModeBar": "hover",
                "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def graph(name: str, figure: go.Figure | dict) -> dcc.Graph:
    """Return the dcc.Graph of chart `name` showing `figure` (held as a plain dict: cheap to cache and send), its
    template cut to what the figure uses: the trace defaults of its own trace types, and no defaults of polar, geo,
    ternary, 3-D or map subplots when it has none (plotly_white is 7 kB otherwise; the look does not change)."""
    if isinstance(figure, go.Figure):
        figure = figure.to_plotly_json()
    template = (figure.get("layout") or {}).get("template")
    if isinstance(template, dict):
        kinds = {trace.get("type") or "scatter" for trace in figure.get("data") or ()}
        plain = {"scatter", "scattergl", "bar", "heatmap", "histogram", "box", "violin", "pie", "table", "waterfall",
                 "funnel", "indicator", "contour", "histogram2d", "histogram2dcontour"}
        subplots = ("geo", "polar", "ternary", "scene", "mapbox", "map")
        template = {**template, "data": {kind: value for kind, value in (template.get("data") or {}).items()
                                         if kind in kinds}}
        if kinds <= plain and isinstance(template.get("layout"), dict):
            template["layout"] = {key: value for key, value in template["layout"].items() if key not in subplots}
        figure = {**figure, "layout": {**figure["layout"], "template": template}}
    return dcc.Graph(id=chart_graph_id(name), figure=figure, className="chart-graph", config=GRAPH_CONFIG)


def grid_column(field_name: str, header: str, kind: str | None = None, **extra) -> dict:
    """Return an AG Grid column definition whose cells are formatted as `kind` (money, pct, int, ...)."""
    column = {"field": field_name, "headerName": header, **extra}
    formats = {"int": "d3.format(',.0f')(params.value)", "money": "d3.format('$,.2f')(params.value)",
               "pct": "d3.format('.1%')(params.value)", "number": "d3.format(',.2f')(params.value)",
               "ratio": "d3.format(',.2f')(params.value) + '×'"}
    if kind in formats:
        column["valueFormatter"] = {"function": f"params.value == null ? '—' : {formats[kind]}"}
        column["type"] = "rightAligned"
        column.setdefault("filter", "agNumberColumnFilter")
    return column


def data_grid(name: str, frame: pd.DataFrame, columns: list[dict], height: int = 360) -> dag.AgGrid:
    """Return an AG Grid table of chart `name` holding `frame`'s rows (NaN shown as "—"); its columns share the width
    by flex (no columnSize: sizing the columns to fit again after each new set of rows moved every header a
    moment after the rows were drawn)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return dag.AgGrid(
        id=chart_graph_id(name), rowData=records, columnDefs=columns,
        defaultColDef={"sortable": True, "resizable": True, "filter": True, "flex": 1, "minWidth": 110},
        dashGridOptions={"animateRows": False, "domLayout": "normal", "tooltipShowDelay": 300},
        style={"height": f"{height}px"},
    )


# ---------------------------------------------------------------- cards and states

def empty_state(message: str, hint: str | None = None) -> html.Div:
    """Return the notice shown instead of a chart when the filters select no data."""
    return html.Div(
        [html.Div("∅", className="empty-state-icon", **{"aria-hidden": "true"}),
         html.P(message, className="mb-1 fw-semibold"),
         html.P(hint or "Widen the date range or remove some country, device or channel filters.",
                className="mb-0 text-muted small")],
        className="empty-state",
    )


def error_state(message: str) -> dbc.Alert:
    """Return the notice shown instead of a chart when its data could not be read."""
    return dbc.Alert([html.Strong("This chart could not be loaded. "), message], color="warning",
                     className="mb-0 chart-error")


UNAVAILABLE_TEXTS = {
    "down": "The database is not answering (stopped or restarting).",
    "busy": "The database is busy (an import is running).",
}
RETRY_FIRST_SECONDS = 2
RETRY_MAX_SECONDS = 30


def retry_delay_seconds(attempt: int) -> int:
    """Return the wait before retry number `attempt` (0, 1, ...): 2, 4, 8, 16, then 30 s (backoff)."""
    return min(RETRY_FIRST_SECONDS * 2 ** max(0, min(int(attempt), 8)), RETRY_MAX_SECONDS)


def retry_interval_id(source: str, attempt) -> dict:
    """Return the pattern-matching id of the retry timer inside a notice of `source` (a chart name or "filters");
    `attempt` counts the retries so far (dash.ALL in a callback's Input)."""
    return {"type": "db-retry", "source": source, "attempt": attempt}


def unavailable_state(kind: str, source: str | None = None, attempt: int = 0) -> dbc.Alert:
    """Return the notice shown while the database cannot be read (`kind` "down" or "busy"): it says so, never a
    server path or driver text, and with a `source` holds a one-shot timer that makes that callback try again
    after retry_delay_seconds(attempt), so the page recovers by itself."""
    text = UNAVAILABLE_TEXTS.get(kind, UNAVAILABLE_TEXTS["down"])
    if source is None:
        retrying = " The page retries by itself and fills in once it answers again."
        timer = None
    else:
        delay = retry_delay_seconds(attempt)
        retrying = f" Retrying by itself in {delay} s…"
        timer = dcc.Interval(id=retry_interval_id(source, attempt), interval=delay * 1000, max_intervals=1)
    children = [html.Strong("Data temporarily unavailable. "), text, retrying] + ([timer] if timer is not None else [])
    return dbc.Alert(children, color="info", className=f"mb-0 db-unavailable db-unavailable-{kind}")


def download_buttons(name: str, xlsx: bool = True) -> dbc.ButtonGroup:
    """Return chart `name`'s download buttons: CSV and, unless `xlsx` is False, Excel (xlsx)."""
    buttons = [dbc.Button("CSV", id=csv_button_id(name), size="sm", color="secondary", outline=True,
                          title="Download the numbers shown as CSV (plain numbers, headers as shown)")]
    if xlsx:
        buttons.append(dbc.Button("Excel", id=xlsx_button_id(name), size="sm", color="secondary", outline=True,
                                  title="Download the numbers shown as an Excel workbook (.xlsx)"))
    return dbc.ButtonGroup(buttons, size="sm", className="ms-2 chart-downloads")


def chart_card(name: str, title: str, description: str | None = None, controls=None,
               min_height: int = FIGURE_HEIGHT, xlsx: bool = True) -> dbc.Card:
    """Return a card for chart `name`: title with a "?" help button whose popover gives `description` (the chart's
    glossary terms, `layouts.glossary.terms`, or a plain text), optional controls, CSV and Excel downloads (no Excel
    when `xlsx` is False), loading spinner, body to fill."""
    header = html.Div(
        [
            html.Div([html.H3(title, className="h6 mb-0"), help_icon(chart_card_id(name), description, title)],
                     className="chart-card-title"),
            html.Div(
                [controls, download_buttons(name, xlsx), dcc.Download(id=csv_download_id(name))],
                className="d-flex align-items-center chart-card-controls",
            ),
        ],
        className="d-flex justify-content-between align-items-start gap-2 chart-card-header",
    )
    body = dcc.Loading(html.Div(id=chart_body_id(name), style={"minHeight": f"{min_height}px"}),
                       type="default", delay_show=150)
    return dbc.Card([dbc.CardHeader(header, className="bg-white"), dbc.CardBody(body)],
                    id=chart_card_id(name), className="h-100 chart-card")


def param_select(param_id: dict, label: str, options: Iterable[tuple[str, str]], value: str) -> html.Div:
    """Return a labelled select for a page-specific URL parameter (id from layouts.ids.page_param_id)."""
    return html.Div(
        [html.Label(label, className="small text-muted me-1 mb-0",
                    htmlFor=json.dumps(param_id, sort_keys=True, separators=(",", ":"))),  # Dash's id string
         dbc.Select(id=param_id, options=[{"label": lab, "value": val} for val, lab in options], value=value,
                    size="sm", style={"width": "auto"})],
        className="d-flex align-items-center",
    )


def change_badge(change: float | None, good_direction: int) -> html.Span:
    """Return an arrow and percentage for `change`; green when good, red when bad, grey when neutral."""
    if change is None:
        return html.Span("no comparison", className="kpi-change kpi-neutral fw-normal")
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "■")
    if change == 0 or good_direction == 0:
        tone = "kpi-neutral"
    else:
        tone = "kpi-good" if (change > 0) == (good_direction > 0) else "kpi-bad"
    return html.Span(f"{arrow} {abs(change) * 100:.1f}%", className=f"kpi-change {tone}")


def kpi_card(kpi_id: str, label: str, value_text: str, change: float | None, good_direction: int,
             previous_text: str, help_text: str, missing_reason: str | None = None, sparkline=None) -> dbc.Card:
    """Return a KPI card: label with a "?" help button (`help_text`: the KPI's glossary terms,
    `layouts.glossary.terms`), value, change against the comparison period, the previous value on hover; with
    `missing_reason` (no comparable period) the change reads "n/a" and says why on hover; `sparkline` (a component,
    e.g. layouts.sparkline.sparkline_image) is drawn under the change."""
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div([html.Span(label), help_icon(OverviewIds.kpi_card(kpi_id), help_text, label)],
                         className="kpi-label"),
                html.Div(value_text, className="kpi-value", id=OverviewIds.kpi_value(kpi_id)),
                html.Div([change_badge(change, good_direction) if missing_reason is None or change is not None
                          else html.Span("n/a", className="kpi-change kpi-neutral fw-normal"),
                          html.Span(f" vs {previous_text}", className="text-muted small") if change is not None
                          else None],
                         id=OverviewIds.kpi_change(kpi_id),
                         title=f"n/a: {missing_reason}" if missing_reason is not None and change is None
                         else f"Comparison period: {previous_text}"),
                sparkline,
            ],
            className="py-2 px-3",
        ),
        className="kpi-card h-100", id=OverviewIds.kpi_card(kpi_id),
    )


# what a card says above its figure when its spend numbers switch to attributed spend (the contract's one spend rule)
ATTRIBUTED_SPEND_NOTE = ("Spend attributed to the filtered new users: spend has no country or device, so with a "
                         "country or device filter it is each channel's daily spend shared out over its new users.")


def spend_is_attributed(state) -> bool:
    """True when a country or device filter switches a state's spend to the filtered new users' attributed spend (the
    contract's one spend rule; reads only the two fields, so a chart's recorded reads stay exact)."""
    return bool(state.countries or state.devices)


def attributed_spend_note(state) -> str | None:
    """Return the line a spend card shows above its figure when `state`'s spend is attributed spend, else None."""
    return ATTRIBUTED_SPEND_NOTE if spend_is_attributed(state) else None


def figure_with_notes(name: str, fig, *notes: str | None):
    """Return chart `name`'s graph of `fig` under a muted line per note (the figure alone when there is none)."""
    shown = [note for note in notes if note]
    if not shown:
        return fig
    return html.Div([*(html.P(note, className="text-muted small mb-1 chart-note") for note in shown),
                     graph(name, fig)])
