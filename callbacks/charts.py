"""The chart framework: a declared chart (`layouts.charts.Chart`) -> its callbacks, its content, its downloads.

- `register_chart(app, ctx, chart, page)`: the callback that fills the chart's card and the one that downloads
  the same frame as CSV or Excel, generated from the declaration (`callbacks.register_callbacks` does it for every
  chart of every page in `callbacks.pages.ALL_PAGES`).
- `chart_body`: the content of a card (figure, table, empty state, error or database notice), memoized with
  the metrics; `chart_frame` and `chart_download`: the numbers a chart shows, as a frame and as a CSV or XLSX
  download (headers as the chart labels them, plain numbers without float noise, formula-safe text, file name
  `<page>_<chart>_<start>_<end>`: dashboard/spreadsheet_export.py).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Mapping

import pandas as pd
import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, callback_context, dcc
from dash.exceptions import PreventUpdate

from callbacks.filters import checked_page_values, retry_attempt
from callbacks.state import checked_state, load_bounds
from dashboard.cache import MetricReader
from dashboard.context import AppContext, marker_kind, unavailable_kind
from dashboard.errors import error_summary
from dashboard.spreadsheet_export import frame_csv, frame_xlsx  # formula-like text is written as text
from layouts.charts import (DEFAULT_EMPTY_MESSAGE, Chart, ChartRequest, EmptyMessage, FrameFunction,
                            ViewFunction)
from layouts.common import Palette, empty_state, error_state, graph, retry_interval_id, unavailable_state
from layouts.filters import DataBounds
from layouts.ids import FilterIds, chart_body_id, csv_button_id, csv_download_id, page_param_id, xlsx_button_id

log = logging.getLogger(__name__)


def chart_request(ctx: AppContext, stored: dict, params: Mapping[str, str] | None, read: MetricReader
                  ) -> ChartRequest:
    """Return the ChartRequest of a filter state from the store and page parameter values."""
    import metrics

    raw_bounds = read(metrics.data_bounds)
    has_data = bool(raw_bounds["has_visits"] or raw_bounds["has_orders"] or raw_bounds["channels"])
    bounds = DataBounds.from_metric(raw_bounds)
    return ChartRequest(state=checked_state(stored, bounds), params=checked_page_values(params),
                        bounds=bounds, read=read, palette=Palette.from_bounds(raw_bounds), has_data=has_data)


NO_DATA = "No data yet."
NO_DATA_HINT = "The database holds no visits, orders or costs: the Data page (/data) says how to import them."

def empty_texts(empty_message: EmptyMessage, request: "ChartRequest") -> tuple[str, str | None]:
    """Return (message, hint) of an empty chart: a fixed message with the default hint (check the filters), or
    what a callable gives for this request (when the cause may be something other than the filters)."""
    if callable(empty_message):
        return empty_message(request)
    return empty_message, None


def chart_body(ctx: AppContext, name: str, frame_fn: FrameFunction, view_fn: ViewFunction, stored: dict | None,
               params: Mapping[str, str] | None = None, empty_message: EmptyMessage = DEFAULT_EMPTY_MESSAGE,
               retry_attempt: int = 0):
    """Return chart `name`'s content: its figure or table, an empty state, or an error notice; while the database
    cannot be read, the notice saying so (retrying by itself after retry_delay_seconds(retry_attempt))."""
    if not stored:
        raise PreventUpdate
    if marker_kind(stored):  # the filter sync could not read the database: its notice retries, the cards say so
        return unavailable_state(marker_kind(stored))

    def unavailable(kind: str, exc: BaseException):
        log.warning("chart %s: database %s (%s); the card retries by itself", name, kind, error_summary(exc))
        return unavailable_state(kind, name, retry_attempt)

    def render(read: MetricReader):
        try:
            request = chart_request(ctx, stored, params, read)
            if not request.has_data:  # a new database: say so once per card, run no query on missing tables
                return empty_state(NO_DATA, NO_DATA_HINT)
            frame = frame_fn(request)
            if frame is None or len(frame) == 0:
                return empty_state(*empty_texts(empty_message, request))
            view = view_fn(frame, request)
        except Exception as exc:  # noqa: BLE001 - a broken chart shows a notice, never a traceback
            kind = unavailable_kind(exc)
            if kind is not None:
                failures.append(unavailable(kind, exc))
                return None  # not cached: the retry reads again
            log.exception("chart %s failed", name)
            failures.append(error_state(f"{error_summary(exc)} (details in the server log)"))
            return None  # not cached: the next request tries again
        return graph(name, view) if isinstance(view, go.Figure) else view

    failures: list = []
    try:
        with MetricReader(ctx) as read:
            # the finished content is memoized too (same key parts as the metrics: filters, params, data version),
            # keyed on the checked state, so crafted variants of one view share its entry
            state = checked_state(stored, load_bounds(read))
            body = read.cached(f"chart:{name}", {"filters": state.to_store(), "params": checked_page_values(params)},
                               lambda: render(read))
    except Exception as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        return unavailable(kind, exc)  # the data version or the bounds could not be read
    return body if body is not None else failures[0]


def chart_frame(ctx: AppContext, frame_fn: FrameFunction, stored: dict, params: Mapping[str, str] | None = None
                ) -> pd.DataFrame:
    """Return the frame chart `frame_fn` shows for the stored filter state (what its CSV holds)."""
    with MetricReader(ctx) as read:
        return frame_fn(chart_request(ctx, stored, params, read))


DOWNLOAD_FORMATS = ("csv", "xlsx")
XLSX_MAX_ROWS = 1_048_575  # Excel's rows per sheet, less the header


def chart_download(ctx: AppContext, chart: Chart, stored: dict | None, params: Mapping[str, str] | None = None,
                   file_format: str = "csv") -> dict:
    """Return the dcc.Download data of declared chart `chart`: exactly the frame it shows, as CSV or XLSX
    (`file_format`), headed by the chart's column labels and named `<page>_<chart>_<start>_<end>.<format>`."""
    if file_format not in DOWNLOAD_FORMATS:
        raise ValueError(f"unknown download format {file_format!r}")
    if not stored or marker_kind(stored):
        raise PreventUpdate
    try:
        with MetricReader(ctx) as read:
            request = chart_request(ctx, stored, params, read)
            frame = chart.frame(request)
            headers = chart.column_labels(request)
    except Exception as exc:
        if unavailable_kind(exc) is None:
            raise
        raise PreventUpdate from None  # the database does not answer: no download (the cards say why)
    frame = frame if frame is not None else pd.DataFrame()
    filename = chart.file_name(request.state, file_format)
    if file_format == "csv":
        return dcc.send_string(frame_csv(frame, headers), filename)
    if len(frame) > XLSX_MAX_ROWS:
        raise PreventUpdate  # more rows than a sheet holds: the CSV has them all
    return dcc.send_bytes(frame_xlsx(frame, headers, chart.title), filename)


def chart_content(ctx: AppContext, chart: Chart, stored: dict | None, params: Mapping[str, str] | None = None):
    """Return declared chart `chart`'s content for a filter state and page parameter values, exactly as its
    callback does (only the parameters it reads are passed on)."""
    values = dict(params or {})
    return chart_body(ctx, chart.name, chart.frame, chart.view, stored, {p: values.get(p) for p in chart.params},
                      chart.empty_message)


CHARTS_KEY = "charts"


def registered_charts(ctx: AppContext) -> dict[str, Chart]:
    """Return {chart name: Chart} of every chart whose callbacks are registered on the app of `ctx`."""
    return ctx.extras.setdefault(CHARTS_KEY, {})


def register_chart(app: Dash, ctx: AppContext, chart: Chart, page: str = "") -> None:
    """Register the callbacks a chart declaration generates: the one that fills its card (figure, table, empty
    state or notice) and the one that downloads its frame as CSV (unless `chart.csv` is False) or Excel (unless
    `chart.xlsx` is False); `page` (the page's label) names the page in the file names.

    The card reads the page controls (layouts.ids.page_param_id) named in `chart.params`. A chart with
    `own_callbacks` is filled by its page's `register(app, ctx)`: nothing is generated for it here.
    """
    if chart.own_callbacks:
        return
    if page and not chart.page:
        chart = dataclasses.replace(chart, page=page)
    name, frame_fn, view_fn, params, empty_message = (chart.name, chart.frame, chart.view, chart.params,
                                                     chart.empty_message)
    registered_charts(ctx)[name] = chart

    @app.callback(Output(chart_body_id(name), "children"), Input(FilterIds.STATE, "data"),
                  Input(retry_interval_id(name, ALL), "n_intervals"),
                  *[Input(page_param_id(p), "value") for p in params])
    def _body(stored, retries, *values):
        attempt = retry_attempt(callback_context.triggered_id, retries)
        if attempt is None:
            raise PreventUpdate  # the notice's retry timer appeared; it fires later
        return chart_body(ctx, name, frame_fn, view_fn, stored, dict(zip(params, values)), empty_message,
                          retry_attempt=attempt)

    buttons = {fmt: button for fmt, button, wanted in (("csv", csv_button_id(name), chart.csv),
                                                       ("xlsx", xlsx_button_id(name), chart.xlsx)) if wanted}
    if not buttons:
        return
    by_button = {button: fmt for fmt, button in buttons.items()}

    @app.callback(Output(csv_download_id(name), "data"), *[Input(b, "n_clicks") for b in buttons.values()],
                  State(FilterIds.STATE, "data"), *[State(page_param_id(p), "value") for p in params],
                  prevent_initial_call=True)
    def _download(*args):
        clicks, (stored, *values) = args[:len(buttons)], args[len(buttons):]
        file_format = by_button.get(callback_context.triggered_id)
        if file_format is None or not any(clicks):
            raise PreventUpdate
        return chart_download(ctx, chart, stored, dict(zip(params, values)), file_format)
