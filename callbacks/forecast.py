"""What-if page (/forecast): its cards, declared once (`CHARTS`, each filled by this module's own callbacks: the form
is the page's own, not the filter bar), and `register`: the form's options from the saved acquisition-cost model,
the what-if on every change of the form (ml.api.forecast_reads.what_if: the function POST /api/v1/forecast/cac
answers with, called in the server, never over HTTP), the model's card, and each card's CSV / Excel download."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from dash import Dash, Input, Output, State, callback_context, dcc, html
from dash.exceptions import PreventUpdate
from pydantic import ValidationError

from callbacks.request_guards import BadCallbackInput
from dashboard.cache import metric_reader
from dashboard.context import AppContext
from dashboard.spreadsheet_export import frame_csv, frame_xlsx  # formula-like text is written as text
from layouts import forecast as view
from layouts.charts import Chart
from layouts.glossary import terms
from layouts.ids import ForecastIds, chart_body_id, csv_button_id, csv_download_id, xlsx_button_id
from ml.api.forecast_reads import cac_artifact, model_choices, model_origin, what_if
from ml.api.schemas import ApiProblem, WhatIfRequest, WhatIfResult, bad_input
from ml.cac_model import comparison_rows

log = logging.getLogger(__name__)

FIGURE_COLUMNS = {"figure": "Figure", "value": "Expected", "lo80": "80% low", "hi80": "80% high"}
ROI_COLUMNS = {"lifetime": "Lifetime day", "roi": "Expected ROI", "lo80": "80% low", "hi80": "80% high"}
VALIDATION_COLUMNS = {"family": "Model", "param": "Setting", "value": "Value", "train_r2": "Train R²",
                      "cv_r2": "CV R²", "cv_mae": "CV MAE"}
LEARNING_COLUMNS = {"fraction": "Training days kept", "train_rows": "Training rows", "train_r2": "Train R²",
                    "cv_r2": "CV R²", "train_mae": "Train MAE", "cv_mae": "CV MAE"}
NO_MODEL = "No acquisition-cost model yet."
FORM_INCOMPLETE = "Fill in every field of the form."

CHARTS = (
    Chart(ForecastIds.FIGURES, "What the budget would bring", terms("what_if", "forecast_interval"), None, None,
          own_callbacks=True, min_height=240, columns=FIGURE_COLUMNS),
    Chart(ForecastIds.ROI, "Cumulative ROI of the budget by lifetime day", terms("what_if_roi", "payback_day"),
          None, None, own_callbacks=True, min_height=320, columns=ROI_COLUMNS),
    Chart(ForecastIds.MODELS, "Acquisition-cost models compared", terms("cac_model"), None, None,
          own_callbacks=True, min_height=160, columns=view.MODEL_COLUMNS),
    Chart(ForecastIds.VALIDATION, "Validation curves (score by main setting)", terms("validation_curve"), None, None,
          own_callbacks=True, min_height=320, columns=VALIDATION_COLUMNS),
    Chart(ForecastIds.LEARNING, "Learning curve of the chosen model", terms("learning_curve"), None, None,
          own_callbacks=True, min_height=320, columns=LEARNING_COLUMNS),
)


# --- frames (what each card shows, and its download) ------------------------------------------------------

def figures_frame(result: dict | None) -> pd.DataFrame:
    """Return [figure, value, lo80, hi80] of a what-if answer (empty without one)."""
    if not result:
        return pd.DataFrame(columns=list(FIGURE_COLUMNS))
    rows = [{"figure": key, **result[key]} for key in ("new_users_per_day", "new_users", "cac", "revenue", "roi")]
    rows.insert(3, {"figure": "spend", "value": result["spend"], "lo80": result["spend"], "hi80": result["spend"]})
    rows.append({"figure": "payback_day", "value": result["payback_day"], "lo80": result["payback_day_lo80"],
                 "hi80": result["payback_day_hi80"]})
    return pd.DataFrame(rows, columns=list(FIGURE_COLUMNS))


def roi_frame(result: dict | None) -> pd.DataFrame:
    """Return [lifetime, roi, lo80, hi80] of a what-if answer's cumulative ROI (empty without one)."""
    return pd.DataFrame((result or {}).get("roi_curve") or [], columns=list(ROI_COLUMNS))


def models_frame(card: dict | None) -> pd.DataFrame:
    """Return the model comparison rows of the card (ml.cac_model.comparison_rows; empty without a card)."""
    return pd.DataFrame(comparison_rows(card or {}), columns=list(view.MODEL_COLUMNS))


def validation_frame(card: dict | None) -> pd.DataFrame:
    """Return [family, param, value, train_r2, cv_r2, cv_mae]: every candidate of the card's search."""
    return pd.DataFrame((card or {}).get("cv_table") or [], columns=list(VALIDATION_COLUMNS))[list(VALIDATION_COLUMNS)]


def learning_frame(card: dict | None) -> pd.DataFrame:
    """Return the chosen model's learning curve rows of the card."""
    rows = ((card or {}).get("learning_curve") or {}).get("rows") or []
    return pd.DataFrame(rows, columns=list(LEARNING_COLUMNS))


# --- the answers ------------------------------------------------------------------------------------------

def form_view(ctx: AppContext) -> tuple:
    """Return what the form starts with from the saved model: (status line or notice, channel options and value,
    country options and value, device options and value, start date and its bounds); empty without a model."""
    try:
        artifact = cac_artifact(ctx.config.model_dir)
    except ApiProblem as problem:  # a saved model that cannot be loaded
        return (view.bad_input_notice(problem.message), [], None, [], None, [], None, None, None, None)
    if artifact is None:
        return (view.no_model_notice(), [], None, [], None, [], None, None, None, None)
    choices = model_choices(artifact)
    spend = artifact.channel_state.assign(spend=artifact.channel_state["channel_cac_7"]
                                          * artifact.channel_state["channel_new_users_7"])
    channel = str(spend.sort_values(["spend", "channel"], ascending=[False, True])["channel"].iloc[0])
    options = {key: [{"label": v, "value": v} for v in values] for key, values in choices.items()}
    start = view.start_default(model_origin(artifact))
    region, device = usual_group(artifact, channel)
    return (html.P(view.model_line(artifact.card), className="small text-muted mb-2"),
            options["channel"], channel, options["region"], region, options["device"], device, start.isoformat(),
            artifact.first_date.isoformat(), start.replace(year=start.year + 1).isoformat())


def usual_group(artifact, channel: str) -> tuple[str, str]:
    """Return the (region, device) the form starts with: the channel's most frequent of the model's groups."""
    groups = artifact.state[artifact.state["channel"] == channel]
    if groups.empty:
        groups = artifact.state
    region = groups["region"].value_counts().sort_index().idxmax()
    device = groups[groups["region"] == region]["device"].value_counts().sort_index().idxmax()
    return str(region), str(device)


def card_body(ctx: AppContext, name: str):
    """Return the body of one of the model's cards (comparison table, validation curves, learning curve)."""
    card = _card(ctx)
    if card is None:
        return html.P(NO_MODEL, className="text-muted")
    if name == ForecastIds.MODELS:
        return view.models_table(models_frame(card))
    if name == ForecastIds.VALIDATION:
        return view.graph(name, view.validation_figure(validation_frame(card)))
    return view.graph(name, view.learning_figure(learning_frame(card), card["learning_curve"]["family"]))


def what_if_answer(ctx: AppContext, values: dict[str, Any]) -> dict:
    """Return the what-if of the form's `values` as JSON (the API's answer), or {"notice": text, "kind": "empty" |
    "bad"} when there is no model, the form is incomplete or a value is refused (the message names the field)."""
    try:
        artifact = cac_artifact(ctx.config.model_dir)
    except ApiProblem as problem:
        return {"notice": problem.message, "kind": "bad"}
    if artifact is None:
        return {"notice": NO_MODEL, "kind": "empty"}
    if any(v is None or v == "" for v in values.values()):
        return {"notice": FORM_INCOMPLETE, "kind": "empty"}
    try:
        request = WhatIfRequest.model_validate(values)
        with metric_reader(ctx) as reader:
            return what_if(reader, artifact, request).model_dump(mode="json")
    except ValidationError as exc:
        return {"notice": bad_input(exc).message, "kind": "bad"}
    except ApiProblem as problem:
        return {"notice": problem.message, "kind": "bad"}


NOTICE_KINDS = ("empty", "bad")


def checked_answer(answer: Any) -> dict | None:
    """Return the what-if store's data as the server wrote it: None (no answer yet), a notice {"notice", "kind"} or
    a what-if answer (`WhatIfResult`'s JSON); BadCallbackInput (a 400) for anything else a crafted request sends."""
    if answer is None or answer == {}:
        return None
    if not isinstance(answer, dict):
        raise BadCallbackInput(f"{ForecastIds.RESULT}.data must be an object, not {type(answer).__name__}")
    if "notice" in answer:
        if set(answer) != {"notice", "kind"} or not isinstance(answer["notice"], str) \
                or answer["kind"] not in NOTICE_KINDS or len(answer["notice"]) > 2000:
            raise BadCallbackInput(f"{ForecastIds.RESULT}.data is not a notice the server writes")
        return answer
    try:
        WhatIfResult.model_validate(answer)
    except ValidationError:
        raise BadCallbackInput(f"{ForecastIds.RESULT}.data is not a what-if answer") from None
    return answer


def _notice(answer: dict | None):
    """Return the component of a notice answer (None when `answer` is a what-if)."""
    answer = checked_answer(answer)
    if not answer:
        return html.P(FORM_INCOMPLETE, className="text-muted")
    if "notice" not in answer:
        return None
    if answer["kind"] == "bad":
        return view.bad_input_notice(answer["notice"])
    return html.P(answer["notice"], className="text-muted")


def sentence_of(answer: dict | None) -> str:
    """Return the plain sentence of a what-if answer ("" for none or a notice)."""
    return view.sentence(answer) if answer and "notice" not in answer else ""


def figures_body(answer: dict | None):
    """Return the figures card's body for a what-if answer (or its notice)."""
    answer = checked_answer(answer)
    notice = _notice(answer)
    return notice if notice is not None else view.figures_view(answer)


def roi_body(answer: dict | None):
    """Return the ROI card's body for a what-if answer (empty after a refused value: the figures card says why)."""
    answer = checked_answer(answer)
    notice = _notice(answer)
    if notice is not None:
        return html.Div() if answer and answer.get("kind") == "bad" else notice
    return view.graph(ForecastIds.ROI, view.roi_figure(roi_frame(answer)))


def download(chart: Chart, frame: pd.DataFrame, file_format: str, stem: str) -> dict:
    """Return the dcc.Download data of a card's frame as CSV or XLSX, headers as the card shows them."""
    filename = f"forecast_{chart.slug}{('_' + stem) if stem else ''}.{file_format}"
    if file_format == "xlsx":
        return dcc.send_bytes(frame_xlsx(frame, chart.column_labels(), chart.title[:31]), filename)
    return dcc.send_string(frame_csv(frame, chart.column_labels()), filename)


def register(app: Dash, ctx: AppContext) -> None:
    """Register the what-if page's callbacks: the form's options, the what-if (one store the figures, the ROI
    curve and the sentence read), the model's cards, the downloads."""

    @app.callback(
        Output(ForecastIds.STATUS, "children"),
        Output(ForecastIds.CHANNEL, "options"), Output(ForecastIds.CHANNEL, "value"),
        Output(ForecastIds.REGION, "options"), Output(ForecastIds.REGION, "value"),
        Output(ForecastIds.DEVICE, "options"), Output(ForecastIds.DEVICE, "value"),
        Output(ForecastIds.START, "date"), Output(ForecastIds.START, "min_date_allowed"),
        Output(ForecastIds.START, "max_date_allowed"),
        Input(ForecastIds.STATUS, "id"),  # once, when the page is drawn
    )
    def _form(_):
        return form_view(ctx)

    @app.callback(
        Output(ForecastIds.RESULT, "data"),
        Input(ForecastIds.CHANNEL, "value"), Input(ForecastIds.REGION, "value"), Input(ForecastIds.DEVICE, "value"),
        Input(ForecastIds.START, "date"), Input(ForecastIds.DAYS, "value"), Input(ForecastIds.BUDGET, "value"),
        Input(ForecastIds.HORIZON, "value"),
    )
    def _what_if(channel, region, device, start, days, budget, horizon):
        values = {"channel": channel, "region": region, "device": device, "start": start, "days": days,
                  "daily_budget": budget,
                  # a select's text; digits only, and few (int() refuses texts of over 4,300 digits with a 500)
                  "horizon_days": int(horizon) if str(horizon).isdigit() and len(str(horizon)) < 10 else horizon}
        return what_if_answer(ctx, values)

    app.callback(Output(chart_body_id(ForecastIds.FIGURES), "children"), Input(ForecastIds.RESULT, "data"))(
        figures_body)
    app.callback(Output(chart_body_id(ForecastIds.ROI), "children"), Input(ForecastIds.RESULT, "data"))(roi_body)
    app.callback(Output(ForecastIds.SENTENCE, "children"), Input(ForecastIds.RESULT, "data"))(
        lambda answer: sentence_of(checked_answer(answer)))
    for name in (ForecastIds.MODELS, ForecastIds.VALIDATION, ForecastIds.LEARNING):
        app.callback(Output(chart_body_id(name), "children"), Input(ForecastIds.STATUS, "id"))(
            lambda _, name=name: card_body(ctx, name))

    frames = {ForecastIds.FIGURES: figures_frame, ForecastIds.ROI: roi_frame,
              ForecastIds.MODELS: lambda answer: models_frame(_card(ctx)),
              ForecastIds.VALIDATION: lambda answer: validation_frame(_card(ctx)),
              ForecastIds.LEARNING: lambda answer: learning_frame(_card(ctx))}
    for chart in CHARTS:
        _register_download(app, chart, frames[chart.name])


def _card(ctx: AppContext) -> dict | None:
    """Return the card of the saved acquisition-cost model (None without one or when it cannot be loaded)."""
    try:
        artifact = cac_artifact(ctx.config.model_dir)
    except ApiProblem:
        return None
    return None if artifact is None else artifact.card


def _register_download(app: Dash, chart: Chart, frame_of) -> None:
    """Register the CSV / Excel download of one card: `frame_of(the last what-if answer)` is its frame."""
    name = chart.name

    @app.callback(Output(csv_download_id(name), "data"), Input(csv_button_id(name), "n_clicks"),
                  Input(xlsx_button_id(name), "n_clicks"), State(ForecastIds.RESULT, "data"),
                  prevent_initial_call=True)
    def _download(csv_clicks, xlsx_clicks, answer):
        if not (csv_clicks or xlsx_clicks):
            raise PreventUpdate
        answer = checked_answer(answer)
        answer = answer if answer and "notice" not in answer else None
        file_format = "xlsx" if callback_context.triggered_id == xlsx_button_id(name) else "csv"
        stem = "_".join(str(answer[k]) for k in ("channel", "start", "end")) if answer else ""
        return download(chart, frame_of(answer), file_format, stem)
