"""The Overview page (`/`, for leadership): KPI cards with the change against the previous period, trends.

Pure functions: metric frames -> the table a card or chart shows (`*_table`, also its CSV) -> components
and figures (`*_figure`, `kpi_cards`). No database, no callbacks. The KPI values themselves are computed by
`metrics.kpi_table` (contract revision 2), their daily series (the cards' sparklines) by `metrics.kpi_daily`; the
time charts carry the comparison period's series shifted onto the current dates (`*_comparison` columns, drawn
dashed). The charts are declared in `callbacks/overview.py` (`CHARTS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from layouts.common import (FORMATTERS, HOVER_FORMATS, SERIES_COLORS, figure_with_notes, kpi_card, param_select,
                            style_figure)
from layouts.filters import PageParam
from layouts.glossary import HelpTerms, terms
from layouts.sparkline import sparkline_image
from layouts.ids import page_param_id
from layouts.ids import OverviewIds

DEFAULT_COMPARE = "previous"
COMPARE_CHOICES = (("previous", "Previous period"), ("year", "Previous year"), ("none", "No comparison"))
DEFAULT_FORECAST = "on"
FORECAST_PARAM = PageParam("forecast", "Forecast", (("on", "On"), ("off", "Off")), DEFAULT_FORECAST)
PAGE_PARAMS = (PageParam("comparison", "Compare with", COMPARE_CHOICES, DEFAULT_COMPARE), FORECAST_PARAM)
COMPARISON_NAMES = {"previous": "the previous period of equal length", "year": "the same days 364 days earlier"}
COMPARISON_LABELS = {"previous": "previous period", "year": "previous year"}  # in series names: "DAU (previous year)"
FILTERS = ("dates", "attributes", "observation_date", "horizon")


@dataclass(frozen=True)
class Kpi:
    """A KPI: key, label, value kind (int, money, pct, ...), good direction (+1 up, -1 down, 0 neutral), help."""

    key: str
    label: str
    kind: str
    good_direction: int
    help: HelpTerms | str  # glossary terms (`layouts.glossary.terms`), or plain text


KPIS: tuple[Kpi, ...] = (
    Kpi("users", "Users to date", "int", +1, terms("users")),
    Kpi("new_users", "New users", "int", +1, terms("new_users")),
    Kpi("dau", "DAU", "number", +1, terms("dau")),
    Kpi("wau", "WAU", "number", +1, terms("wau")),
    Kpi("mau", "MAU", "number", +1, terms("mau")),
    Kpi("sticky", "Sticky factor", "pct", +1, terms("sticky")),
    Kpi("asl_seconds", "Avg session length", "duration", +1, terms("asl_seconds")),
    Kpi("revenue", "Revenue", "money", +1, terms("revenue")),
    Kpi("spend", "Ad spend", "money", 0, terms("spend")),
    Kpi("cac", "CAC (new users)", "money", -1, terms("cac")),
    Kpi("roi", "ROI at horizon", "ratio", +1, terms("roi", "horizon")),
    Kpi("payer_share", "Payer share", "pct", +1, terms("payer_share")),
)
KPI_BY_KEY = {k.key: k for k in KPIS}
# what each card's sparkline shows, for its alt text: "DAU per day, 2026-05-04 – 2026-05-31"
SPARKLINE_NAMES = {
    "users": "Users to date per day", "new_users": "New users per day", "dau": "DAU per day",
    "wau": "WAU (rolling 7 days) per day", "mau": "MAU (rolling 30 days) per day",
    "sticky": "Sticky factor (DAU / MAU30) per day", "asl_seconds": "Avg session length per day",
    "revenue": "Revenue per day", "spend": "Ad spend per day", "cac": "CAC of each day's paid new users",
    "roi": "ROI at horizon of each day's new users", "payer_share": "Payer share of each day's new users",
}


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
            f"{comparison.observation_date.isoformat()}). Green is good, red is bad, grey is neutral; the ? beside "
            "a label gives its definition.", None)


def period_text(dates: pd.Series) -> str:
    """Return "first – last" (ISO dates) of a series of dates ("" when empty)."""
    return f"{dates.iloc[0]:%Y-%m-%d} – {dates.iloc[-1]:%Y-%m-%d}" if len(dates) else ""


def kpi_sparkline(key: str, series: pd.DataFrame | None, previous: pd.DataFrame | None = None,
                  compare: str = DEFAULT_COMPARE):
    """Return the sparkline image of KPI `key` from `metrics.kpi_daily`'s `series` (the comparison period's
    `previous` series faint behind it, when given), with an alt text naming the KPI and the dates; None without a
    defined value."""
    if series is None or key not in series.columns or series.empty:
        return None
    alt = f"{SPARKLINE_NAMES.get(key, key)}, {period_text(series['date'])}"
    before = None
    if previous is not None and key in previous.columns and len(previous):
        before = previous[key]
        alt += f"; faint: the {COMPARISON_LABELS.get(compare, 'comparison period')}, {period_text(previous['date'])}"
    return sparkline_image(series[key], alt, previous=before, image_id=OverviewIds.kpi_sparkline(key))


def kpi_cards(table: pd.DataFrame, compare: str = DEFAULT_COMPARE, comparison=None,
              suggestion_href: str | None = None, series: pd.DataFrame | None = None,
              previous_series: pd.DataFrame | None = None) -> html.Div:
    """Return the KPI cards of `kpi_rows`, with a line naming the comparison period or why there is none (then
    each change reads "n/a" with that reason and `suggestion_href`, a link to a comparable view, is offered); each
    card has the sparkline of its column of `series` (`metrics.kpi_daily`), with `previous_series` (the comparable
    comparison period's) faint behind it."""
    text, missing = comparison_caption(compare, comparison)
    cards = []
    for row in table.itertuples(index=False):
        kpi = KPI_BY_KEY[row.kpi]
        fmt = FORMATTERS[kpi.kind]
        change = None if pd.isna(row.change) else float(row.change)
        line = kpi_sparkline(kpi.key, series, previous_series if missing is None else None, compare)
        cards.append(dbc.Col(kpi_card(kpi.key, kpi.label, fmt(row.value), change, kpi.good_direction,
                                      fmt(row.previous_value), kpi.help, missing_reason=missing, sparkline=line),
                             xs=6, sm=4, lg=3, xl=2, className="mb-2"))
    if missing is not None and compare != "none" and suggestion_href:
        text = [text, " ", dcc.Link("Compare the last 4 weeks with the 4 weeks before →", href=suggestion_href,
                                    id=OverviewIds.COMPARE_LAST_WEEKS)]
    caption = html.P(text, className="text-muted small mb-2", id=OverviewIds.COMPARISON_NOTE)
    return html.Div([caption, dbc.Row(cards, className="g-2")], id=OverviewIds.KPI_CARDS)


def page_controls(params: Mapping[str, str]) -> html.Div:
    """Return the KPI card's selects of the page parameters (comparison, forecast), set to `params`."""
    values = {p.name: p.default for p in PAGE_PARAMS} | dict(params or {})
    return html.Div([param_select(page_param_id(p.name), p.label, p.choices, values[p.name]) for p in PAGE_PARAMS],
                    className="d-flex flex-wrap column-gap-3 row-gap-1")


COMPARISON_DATE = "comparison_date"
COMPARISON_SUFFIX = "_comparison"


def with_comparison(table: pd.DataFrame, previous: pd.DataFrame | None, shift_days: int,
                    columns: tuple[str, ...]) -> pd.DataFrame:
    """Return `table` with the comparison period's values of `columns` from `previous` (a frame with a `date`
    column), moved `shift_days` days forward onto the current dates: columns comparison_date and `<column>_comparison`
    (NaN on a date the comparison period does not cover). `table` unchanged without `previous` or when empty."""
    if previous is None or table.empty:
        return table
    moved = previous[["date", *columns]].rename(columns={c: c + COMPARISON_SUFFIX for c in columns})
    moved = moved.rename(columns={"date": COMPARISON_DATE})
    moved["date"] = moved[COMPARISON_DATE] + pd.Timedelta(days=int(shift_days))
    out = table.merge(moved, on="date", how="left")
    return out[[*table.columns, COMPARISON_DATE, *(c + COMPARISON_SUFFIX for c in columns)]]


def comparison_trace(table: pd.DataFrame, column: str, name: str, color: str, hover: str,
                     group: str | None = None) -> go.Scatter:
    """Return the dashed line of the comparison period's `column` (drawn on the current dates, `color` of the current
    series), its hover naming the comparison date; `hover` is the value's hover format with its unit. With `group`,
    the line belongs to that legend group (its series') and has no legend entry of its own."""
    when = table[COMPARISON_DATE].dt.strftime("%a %Y-%m-%d").fillna("")
    return go.Scatter(
        x=table["date"], y=table[column + COMPARISON_SUFFIX], name=name, mode="lines", customdata=when,
        legendgroup=group, showlegend=group is None,
        line=dict(color=color, width=1.4, dash="dash"), opacity=0.85,
        hovertemplate=f"{hover} on %{{customdata}}<extra>{name}</extra>",
    )


def comparison_note(compare: str, comparison) -> str | None:
    """Return the line a time chart shows about its comparison: what the dashed lines are, why there are none (a
    comparison period that starts before the data), or None when no comparison is chosen."""
    if compare == "none" or comparison is None:
        return None
    label = COMPARISON_LABELS.get(compare, "comparison period")
    period = f"{comparison.start.isoformat()} – {comparison.end.isoformat()}"
    if not comparison.comparable:
        return f"No {label} line: {comparison.reason or 'the comparison period is not in the data'}."
    return f"Dashed: the {label}, {period}, shifted onto these dates."


def chart_with_note(name: str, fig: go.Figure, note: str | None, *more_notes: str | None):
    """Return chart `name`'s figure, under muted lines `note` and `more_notes` when there are any."""
    return figure_with_notes(name, fig, note, *more_notes)


# a forecast continues a time chart: per forecast column, `<column>_forecast` (the mean) and its interval bounds
FORECAST_FIELDS = {"mean": "forecast", "lo80": "lo80", "hi80": "hi80", "lo95": "lo95", "hi95": "hi95"}
FORECAST_LABELS = {"forecast": "forecast", "lo80": "forecast, 80% low", "hi80": "forecast, 80% high",
                   "lo95": "forecast, 95% low", "hi95": "forecast, 95% high"}
FORECAST_BAND_NAME = "80% interval"


def forecast_column(column: str, field: str) -> str:
    """Return the frame column of a forecast `field` (forecast, lo80, hi80, lo95, hi95) of series `column`."""
    return f"{column}_{field}"


def forecast_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """Return the labels of the forecast columns of each value column of `labels` ("DAU forecast, 80% low",
    "Revenue forecast, 95% high ($)": a unit in parentheses stays last)."""
    out = {}
    for column, text in labels.items():
        name, unit = (text[:-4], text[-4:]) if text.endswith(" ($)") else (text, "")
        out.update({forecast_column(column, field): f"{name} {label}{unit}" for field, label in FORECAST_LABELS.items()
                    if column != "date"})
    return out


def with_forecast(table: pd.DataFrame, forecasts: Mapping[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Return `table` followed by one row per forecast date: for each column of `forecasts` (column -> forecast rows
    date, mean, lo80, hi80, lo95, hi95; None: no forecast) its columns `<column>_forecast`, `_lo80`, `_hi80`,
    `_lo95`, `_hi95` (the observed columns empty on those rows). `table` unchanged when empty or without forecasts."""
    parts = [frame.set_index("date")[list(FORECAST_FIELDS)].rename(
        columns={field: forecast_column(column, name) for field, name in FORECAST_FIELDS.items()})
        for column, frame in forecasts.items() if frame is not None and len(frame)]
    if table.empty or not parts:
        return table
    future = pd.concat(parts, axis=1).sort_index().rename_axis("date").reset_index()
    future["date"] = pd.to_datetime(future["date"]).astype(table["date"].dtype)
    return pd.concat([table, future], ignore_index=True)


def forecast_part(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (the observed rows, the forecast rows) of a time chart's table (`with_forecast`)."""
    columns = [c for c in table.columns if c.endswith("_forecast")]
    if not columns:
        return table, table.iloc[0:0]
    future = table[columns].notna().any(axis=1)
    return table[~future], table[future]


def light(color: str, alpha: float = 0.15) -> str:
    """Return the hex colour `color` ("#1f77b4") as a translucent rgba colour for a band."""
    red, green, blue = (int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({red},{green},{blue},{alpha})"


def forecast_traces(future: pd.DataFrame, column: str, name: str, color: str, hover: str,
                    band_in_legend: bool = True, group: str | None = None) -> list[go.Scatter]:
    """Return the forecast of `column` in `future` (`with_forecast` rows): its 80% interval as a light band (named
    "80% interval", in the legend when `band_in_legend`) and its mean as a dashed line named "<name> forecast",
    whose hover gives the 95% interval; `hover` is the value's hover format (with "%{y:...}"). With `group`, the
    line belongs to that legend group (its series': shown and hidden with it) and has no legend entry of its own."""
    rows = future[future[forecast_column(column, "forecast")].notna()]
    label = f"{name.split(' (')[0]} forecast"
    low, high = (hover.replace("%{y:", f"%{{customdata[{i}]:") for i in (0, 1))
    band = dict(mode="lines", line=dict(width=0, color=color), legendgroup=FORECAST_BAND_NAME, hoverinfo="skip")
    return [
        go.Scatter(x=rows["date"], y=rows[forecast_column(column, "lo80")], showlegend=False,
                   name=f"{label} 80% low", **band),
        go.Scatter(x=rows["date"], y=rows[forecast_column(column, "hi80")], fill="tonexty", fillcolor=light(color),
                   name=FORECAST_BAND_NAME, showlegend=band_in_legend, legendrank=1001, **band),
        go.Scatter(x=rows["date"], y=rows[forecast_column(column, "forecast")], name=label, mode="lines",
                   legendgroup=group or label, showlegend=group is None, line=dict(color=color, width=2, dash="dash"),
                   customdata=rows[[forecast_column(column, "lo95"), forecast_column(column, "hi95")]].to_numpy(),
                   hovertemplate=f"{hover} (95%: {low} – {high})<extra>{label}</extra>"),
    ]


def forecast_note(table: pd.DataFrame) -> str | None:
    """Return the line a time chart shows about its forecast (None when it has none)."""
    observed, future = forecast_part(table)
    if future.empty:
        return None
    return (f"Dashed after {observed['date'].max():%Y-%m-%d}: the forecast of the next {len(future)} days, "
            "its 80% interval shaded (95% in the hover).")


ACTIVITY_SERIES = (("dau", "DAU"), ("wau7", "WAU (rolling 7 days)"), ("mau30", "MAU (rolling 30 days)"))


def activity_table(daily: pd.DataFrame, previous: pd.DataFrame | None = None, shift_days: int = 0) -> pd.DataFrame:
    """Return the activity trend: date, dau, wau7, mau30 (empty when nobody was active); with the comparison
    period's `activity_daily` frame `previous`, also comparison_date, dau_comparison, wau7_comparison and
    mau30_comparison, moved `shift_days` forward onto the current dates."""
    table = daily[["date", "dau", "wau7", "mau30"]].reset_index(drop=True)
    table = table if int(table["dau"].sum()) > 0 else table.iloc[0:0]
    return with_comparison(table, previous, shift_days, ("dau", "wau7", "mau30"))


def trend_figure(table: pd.DataFrame, series, hover: str, compare: str, widths=None) -> go.Figure:
    """Return one solid line per (column, name) of `series` over the table's dates (`widths`: column -> line width,
    2 by default); when `table` has comparison columns, the comparison period's lines dashed in the same colours,
    named "<name> (previous period)" (`compare`'s label); when it has forecast rows (`with_forecast`), each
    forecast column's dashed line after the last date with its 80% band (`forecast_traces`). A series' comparison
    and forecast lines share its legend entry (shown and hidden with it; the notes above the chart say what the
    dashes are), so the legend stays one entry per series plus the band's (a phone shows it in a few rows)."""
    table, future = forecast_part(table)
    fig = go.Figure()
    for column, name in series:
        fig.add_trace(go.Scatter(
            x=table["date"], y=table[column], name=name, mode="lines", legendgroup=name,
            line=dict(color=SERIES_COLORS[column], width=(widths or {}).get(column, 2)),
            hovertemplate=f"{hover}<extra>{name}</extra>",
        ))
    if COMPARISON_DATE in table.columns:
        label = COMPARISON_LABELS.get(compare, "comparison period")
        for column, name in series:
            fig.add_trace(comparison_trace(table, column, f"{name.split(' (')[0]} ({label})",
                                           SERIES_COLORS[column], hover, group=name))
    forecast = [(column, name) for column, name in series if forecast_column(column, "forecast") in future.columns]
    for i, (column, name) in enumerate(forecast):
        fig.add_traces(forecast_traces(future, column, name, SERIES_COLORS[column], hover, band_in_legend=i == 0,
                                       group=name))
    fig.update_xaxes(hoverformat="%a %Y-%m-%d")
    return fig


def activity_figure(table: pd.DataFrame, compare: str = DEFAULT_COMPARE) -> go.Figure:
    """Return DAU with the rolling WAU (7 days) and MAU (30 days) lines; when `table` has comparison columns, the
    comparison period's lines dashed in the same colours, named "DAU (previous period)" (`compare`'s label)."""
    fig = trend_figure(table, ACTIVITY_SERIES, f"%{{y:{HOVER_FORMATS['int']}}} users", compare,
                       widths={"wau7": 1.6, "mau30": 1.6})
    return style_figure(fig, x_title="Date", y_title="Active users", y_kind="int")


def _money_per_day(revenue_daily: pd.DataFrame, spend_daily: pd.DataFrame) -> pd.DataFrame:
    """Return date, revenue, spend per date of `daily_revenue` and `spend_daily_by_rule` frames (0 where absent)."""
    revenue = revenue_daily[["date", "revenue"]]
    spend = spend_daily.groupby("date", as_index=False)["costs"].sum().rename(columns={"costs": "spend"}) \
        if len(spend_daily) else pd.DataFrame({"date": pd.Series([], dtype="datetime64[us]"),
                                               "spend": pd.Series([], dtype="float64")})
    table = revenue.merge(spend, on="date", how="outer").sort_values("date").reset_index(drop=True)
    table[["revenue", "spend"]] = table[["revenue", "spend"]].fillna(0.0).astype("float64")
    return table


def revenue_spend_table(revenue_daily: pd.DataFrame, spend_daily: pd.DataFrame,
                        previous: tuple[pd.DataFrame, pd.DataFrame] | None = None, shift_days: int = 0) -> pd.DataFrame:
    """Return date, revenue, spend per date of the period (empty when both are zero throughout); with the comparison
    period's (revenue, spend) frames `previous`, also comparison_date, revenue_comparison and spend_comparison, moved
    `shift_days` forward onto the current dates."""
    table = _money_per_day(revenue_daily, spend_daily)
    if not np.any(table[["revenue", "spend"]].to_numpy() != 0):
        return table.iloc[0:0]
    before = _money_per_day(*previous) if previous is not None else None
    return with_comparison(table, before, shift_days, ("revenue", "spend"))


def revenue_spend_figure(table: pd.DataFrame, attributed: bool = False, compare: str = DEFAULT_COMPARE) -> go.Figure:
    """Return daily revenue against daily ad spend (`attributed`: the spend of the filtered new users, named so);
    when `table` has comparison columns, the comparison period's lines dashed in the same colours."""
    spend_name = "Ad spend (attributed to these users)" if attributed else "Ad spend"
    fig = trend_figure(table, (("revenue", "Revenue"), ("spend", spend_name)), f"%{{y:{HOVER_FORMATS['money']}}}",
                       compare)
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
