"""What-if page (/forecast): a form (paid channel, country, device, start, days, daily budget, horizon) and what the
budget would bring (ml.api.forecast_reads.what_if, the same function as POST /api/v1/forecast/cac): its figures with
their 80% intervals, one sentence in plain words, the cumulative ROI by lifetime day with the break-even line, and
the acquisition-cost model's comparison table, validation curves and learning curve (from its card).

Pure: dicts and frames in, components out. The cards are the page's declared charts (callbacks/forecast.py).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import dcc, html

from layouts.common import fmt_int, fmt_money, fmt_number, fmt_ratio
from layouts.ids import ForecastIds
from layouts.paths import app_path

FILTERS: tuple[str, ...] = ()  # the page has its own form: the filter bar is hidden
DATA_PAGE_HELP = "/data"  # where an administrator reads how the models are made
DEFAULTS = {"days": 28, "daily_budget": 500, "horizon_days": 60}
HORIZONS = (14, 30, 60, 90, 120)
DEBOUNCE_MS = 400  # a number typed in the form is sent once the typing pauses this long
BAND_COLOR = "rgba(78, 121, 167, 0.18)"
LINE_COLOR = "#4E79A7"
FAMILY_NAMES = {"ridge": "Ridge (linear)", "knn": "Nearest neighbours", "svr": "SVR", "random_forest": "Random forest",
                "hist_gradient_boosting": "Gradient boosting", "naive_baseline": "Naive (CAC of the last 7 days)"}
MODEL_COLUMNS = {"family": "Model", "cv_r2": "CV R²", "cv_mae": "CV MAE", "holdout_r2": "Holdout R²",
                 "holdout_mae": "Holdout MAE", "holdout_mape": "Holdout MAPE", "chosen": "Chosen"}


def _labelled(label: str, control, width: dict) -> dbc.Col:
    """Return a form column: a small label above `control`."""
    return dbc.Col([html.Label(label, htmlFor=control.id, className="small text-muted mb-1"), control], **width)


def what_if_form() -> dbc.Card:
    """Return the form; the channel, country and device options and the start date are filled from the saved model."""
    wide, narrow = {"xs": 12, "sm": 6, "lg": 2}, {"xs": 6, "sm": 4, "lg": 1}
    return dbc.Card(dbc.CardBody(dbc.Row([
        _labelled("Channel", dbc.Select(id=ForecastIds.CHANNEL), wide),
        _labelled("Country", dbc.Select(id=ForecastIds.REGION), wide),
        _labelled("Device", dbc.Select(id=ForecastIds.DEVICE), wide),
        _labelled("Start", dcc.DatePickerSingle(id=ForecastIds.START, display_format="YYYY-MM-DD",
                                                first_day_of_week=1), {"xs": 6, "sm": 4, "lg": 2}),
        _labelled("Days", dbc.Input(id=ForecastIds.DAYS, type="number", step=1,  # range: the server names it
                                    value=DEFAULTS["days"], debounce=DEBOUNCE_MS), narrow),
        _labelled("Daily budget", dbc.Input(id=ForecastIds.BUDGET, type="number", step="any",
                                            value=DEFAULTS["daily_budget"], debounce=DEBOUNCE_MS),
                  {"xs": 6, "sm": 4, "lg": 2}),
        _labelled("Horizon (days)", dbc.Select(id=ForecastIds.HORIZON,
                                               options=[{"label": str(h), "value": str(h)} for h in HORIZONS],
                                               value=str(DEFAULTS["horizon_days"])), narrow),
    ], className="g-2 align-items-end")), className="mb-3")


def no_model_notice() -> dbc.Alert:
    """Return the notice shown while no acquisition-cost model is saved (for an administrator: the Data page)."""
    return dbc.Alert(["No acquisition-cost model has been trained yet, so the page cannot forecast. An administrator "
                      "trains it once the data is imported: see ", dcc.Link("the Data page", href=app_path(DATA_PAGE_HELP)),
                      ". On the demo it is trained in the background after the first start."],
                     color="info", className="mb-3", id=f"{ForecastIds.STATUS}-no-model")


def bad_input_notice(message: str) -> dbc.Alert:
    """Return the notice for a form value the model cannot answer ("days: must be <= 90")."""
    return dbc.Alert(f"Check the form: {message}.", color="warning", className="mb-0")


def _range(lo: str, hi: str) -> str:
    """Return "80%: lo – hi" ("80%: lo" when both ends read the same)."""
    return f"80%: {lo}" if lo == hi else f"80%: {lo} – {hi}"


def _payback_text(day, horizon: int) -> str:
    """Return "day 45", or "not in 60 days" for a payback day not reached within the horizon (None)."""
    return f"not in {horizon} days" if day is None else f"day {day}"


def figures(result: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """Return (key, label, value text, 80% interval text) of each figure of a what-if answer."""
    money = fmt_money
    rows = [("new_users_per_day", "New users per day", fmt_number(result["new_users_per_day"]["value"], 0),
             _range(fmt_number(result["new_users_per_day"]["lo80"], 0), fmt_number(result["new_users_per_day"]["hi80"], 0))),
            ("new_users", f"New users in {result['days']} days", fmt_int(result["new_users"]["value"]),
             _range(fmt_int(result["new_users"]["lo80"]), fmt_int(result["new_users"]["hi80"]))),
            ("cac", "CAC", money(result["cac"]["value"]),
             _range(money(result["cac"]["lo80"]), money(result["cac"]["hi80"]))),
            ("spend", "Spend", money(result["spend"], 0), "the budget × days"),
            ("revenue", f"Revenue by day {result['horizon_days'] - 1}", money(result["revenue"]["value"], 0),
             _range(money(result["revenue"]["lo80"], 0), money(result["revenue"]["hi80"], 0))),
            ("roi", f"ROI by day {result['horizon_days'] - 1}", fmt_ratio(result["roi"]["value"]),
             _range(fmt_ratio(result["roi"]["lo80"]), fmt_ratio(result["roi"]["hi80"]))),
            ("payback_day", "Payback", _payback_text(result["payback_day"], result["horizon_days"]),
             _range(_payback_text(result["payback_day_lo80"], result["horizon_days"]),
                    _payback_text(result["payback_day_hi80"], result["horizon_days"])))]
    return rows


def figures_view(result: Mapping[str, Any]) -> html.Div:
    """Return the what-if figures as a grid of small tiles (value, then its 80% interval)."""
    tiles = [dbc.Col(html.Div([html.Div(label, className="small text-muted"),
                               html.Div(value, className="fs-5 fw-semibold" if value.startswith("not in") else
                                        "fs-4 fw-semibold", id=ForecastIds.figure_value(key)),
                               html.Div(interval, className="small text-muted")], className="fc-figure"),
                     xs=6, md=4, xl=3, className="mb-2") for key, label, value, interval in figures(result)]
    return html.Div(dbc.Row(tiles, className="g-2"))


def sentence(result: Mapping[str, Any]) -> str:
    """Return the what-if in one plain sentence ("At $500/day TipTop would bring about 180 users a day at $2.80 each;
    they would not pay back within 60 days.")."""
    users = result["new_users_per_day"]["value"]
    about = fmt_int(users) if users >= 10 else fmt_number(users, 1)
    head = (f"At {fmt_money(result['daily_budget'], 0)}/day {result['channel']} would bring about {about} users a day "
            f"({result['region']}, {result['device']}) at {fmt_money(result['cac']['value'])} each")
    if result["payback_day"] is None:
        tail = f"they would not pay back within {result['horizon_days']} days"
    else:
        tail = f"they would pay back on lifetime day {result['payback_day']}"
    return f"{head}; {tail} (ROI {fmt_ratio(result['roi']['value'])} by day {result['horizon_days'] - 1})."


def roi_figure(curve: pd.DataFrame) -> go.Figure:
    """Return the cumulative ROI by lifetime day with its 80% band and the dashed break-even line at 1.0."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=curve["lifetime"], y=curve["hi80"], mode="lines", line={"width": 0},
                             hoverinfo="skip", showlegend=False))
    fig.add_trace(go.Scatter(x=curve["lifetime"], y=curve["lo80"], mode="lines", line={"width": 0},
                             fill="tonexty", fillcolor=BAND_COLOR, name="80% interval", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=curve["lifetime"], y=curve["roi"], mode="lines", line={"color": LINE_COLOR},
                             name="Expected ROI", hovertemplate="day %{x}: %{y:.2f}×<extra></extra>"))
    fig.add_hline(y=1.0, line_dash="dash", line_color="#888", annotation_text="break-even",
                  annotation_position="top left")
    fig.update_layout(margin={"l": 50, "r": 10, "t": 10, "b": 40}, height=320, template="plotly_white",
                      xaxis_title="Lifetime day", yaxis_title="ROI (revenue / spend)",
                      legend={"orientation": "h", "y": -0.25})
    return fig


def models_table(rows: pd.DataFrame) -> dbc.Table:
    """Return the model comparison table (the chosen model in bold)."""
    head = html.Thead(html.Tr([html.Th(label) for label in MODEL_COLUMNS.values()]))
    body = []
    for row in rows.to_dict("records"):
        cells = [FAMILY_NAMES.get(row["family"], row["family"]), fmt_number(row["cv_r2"], 3),
                 fmt_number(row["cv_mae"], 4), fmt_number(row["holdout_r2"], 3), fmt_number(row["holdout_mae"], 4),
                 f"{100 * row['holdout_mape']:.1f}%" if row["holdout_mape"] is not None else "—",
                 "✓" if row["chosen"] else ""]
        body.append(html.Tr([html.Td(c) for c in cells], className="fw-bold" if row["chosen"] else None))
    return dbc.Table([head, html.Tbody(body)], size="sm", striped=True, responsive=True, className="mb-0")


def validation_figure(curves: pd.DataFrame) -> go.Figure:
    """Return one small panel per family: train and CV R² against the value of its main setting."""
    families = list(dict.fromkeys(curves["family"]))
    fig = go.Figure()
    for i, family in enumerate(families):
        part = curves[curves["family"] == family]
        axis = "" if i == 0 else str(i + 1)
        labels = [f"{family_param(family, part)}={v:g}" for v in part["value"]]
        for column, name, dash in (("train_r2", "train", "dot"), ("cv_r2", "CV", "solid")):
            fig.add_trace(go.Scatter(x=labels, y=part[column], mode="lines+markers", name=name, legendgroup=name,
                                     showlegend=i == 0, line={"dash": dash, "color": "#999" if dash == "dot"
                                                              else LINE_COLOR},
                                     xaxis=f"x{axis}", yaxis=f"y{axis}",
                                     hovertemplate=f"{FAMILY_NAMES.get(family, family)} %{{x}}: R² %{{y:.3f}}"
                                                   "<extra></extra>"))
    count = max(len(families), 1)
    gap = 0.04
    width = (1 - gap * (count - 1)) / count
    layout: dict[str, Any] = {}
    for i, family in enumerate(families):
        axis = "" if i == 0 else str(i + 1)
        left = i * (width + gap)
        layout[f"xaxis{axis}"] = {"domain": [left, left + width], "anchor": f"y{axis}", "tickangle": -45,
                                  "title": {"text": FAMILY_NAMES.get(family, family), "font": {"size": 11}}}
        layout[f"yaxis{axis}"] = {"anchor": f"x{axis}", "matches": "y", "showticklabels": i == 0}
    fig.update_layout(**layout, margin={"l": 40, "r": 10, "t": 10, "b": 90}, height=320, template="plotly_white",
                      yaxis_title="R²", legend={"orientation": "h", "y": 1.08})
    return fig


def family_param(family: str, part: pd.DataFrame) -> str:
    """Return the name of the family's main setting as the curve rows give it ("alpha")."""
    return str(part["param"].iloc[0]) if "param" in part.columns and len(part) else "value"


def learning_figure(rows: pd.DataFrame, family: str) -> go.Figure:
    """Return the chosen model's train and CV R² against the share of training days kept."""
    fig = go.Figure()
    x = [f"{100 * f:.0f}%" for f in rows["fraction"]]
    fig.add_trace(go.Scatter(x=x, y=rows["train_r2"], mode="lines+markers", name="train", line={"dash": "dot",
                                                                                              "color": "#999"}))
    fig.add_trace(go.Scatter(x=x, y=rows["cv_r2"], mode="lines+markers", name="CV", line={"color": LINE_COLOR}))
    fig.update_layout(margin={"l": 40, "r": 10, "t": 10, "b": 40}, height=320, template="plotly_white",
                      xaxis_title=f"Training days kept ({FAMILY_NAMES.get(family, family)})", yaxis_title="R²",
                      legend={"orientation": "h", "y": 1.08})
    return fig


def graph(name: str, figure: go.Figure) -> dcc.Graph:
    """Return the card's graph (id `<name>-graph`, no mode bar, responsive)."""
    return dcc.Graph(id=f"{name}-graph", figure=figure, config={"displayModeBar": False, "responsive": True})


def model_line(card: Mapping[str, Any]) -> str:
    """Return the line under the title saying which model answers and on what data."""
    chosen = card.get("chosen_model", {})
    params = ", ".join(f"{k} {v}" for k, v in (chosen.get("params") or {}).items())
    return (f"Estimates of the acquisition-cost model ({FAMILY_NAMES.get(chosen.get('family'), chosen.get('family'))}"
            f"{', ' + params if params else ''}) trained on the data up to {card.get('origin')}, and of the channel's "
            "observed lifetime value. Beyond the budgets a channel has had, the model extrapolates.")


def page_layout(params: dict[str, str], cards: Mapping[str, Any]) -> html.Div:
    """Return the what-if page (`cards`: chart name -> card of the page's declared charts)."""
    return html.Div([
        html.H2("Forecast", className="h4 mb-1"),
        html.P("What would a daily budget bring? Choose a channel, country, device, period and budget.",
               className="text-muted mb-2", id=f"{ForecastIds.STATUS}-intro"),
        html.Div(id=ForecastIds.STATUS),
        what_if_form(),
        dcc.Store(id=ForecastIds.RESULT, data=None),
        html.P(id=ForecastIds.SENTENCE, className="lead fs-6 fw-semibold mb-3", **{"aria-live": "polite"}),
        dbc.Row([dbc.Col(cards[ForecastIds.FIGURES], lg=5), dbc.Col(cards[ForecastIds.ROI], lg=7)],
                className="g-3 mb-3"),
        dbc.Row([dbc.Col(cards[ForecastIds.MODELS])], className="g-3 mb-3"),
        dbc.Row([dbc.Col(cards[ForecastIds.VALIDATION], lg=8), dbc.Col(cards[ForecastIds.LEARNING], lg=4)],
                className="g-3"),
    ])


def start_default(origin: _dt.date) -> _dt.date:
    """Return the form's default start: the day after the model's data."""
    return origin + _dt.timedelta(days=1)
