"""The chart framework: a declared chart (`layouts.charts.Chart`) -> its callbacks, its content, its downloads.

- `register_page_charts(app, ctx, charts, page)`: the callbacks generated from a page's declarations: one callback
  that fills the cards of the page's charts (one per role the cards need: `chart_groups`), so that a filter change
  is one request and one answer, and per chart the one that downloads its frame as CSV or Excel (`register_chart`);
  `callbacks.register_callbacks` does it for every page in `callbacks.pages.ALL_PAGES`.
- `chart_body`: the content of a card (figure, table, empty state, error or database notice), memoized with
  the metrics; `chart_frame` and `chart_download`: the numbers a chart shows, as a frame and as a CSV or XLSX
  download (headers as the chart labels them, plain numbers without float noise, formula-safe text, file name
  `<page>_<chart>_<start>_<end>`: dashboard/spreadsheet_export.py).
- `chart_update`: what the body callback sends. While a chart is drawn, the filter-state fields its numbers read
  are recorded (the MetricQuery fields of every metric call, through `ReadsRecorder`, and the fields its code reads
  of `request.state`, through `layouts.charts.StateReads`); their values, the page parameters and the data version
  make its key, kept in the store beside the body (`layouts.charts.chart_drawn_id`). A change of a control the
  chart does not read leaves the body as it is (no request to the database, no redraw); when only the props of
  the body's components with an id differ (`body_parts`: a graph's figure, a grid's rows and height, a KPI card's
  value, change and sparkline), only the changed props go to those mounted components (set_props: Plotly.react
  for a graph, new rows for a grid; no new mount, no resize).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from typing import Mapping

import pandas as pd
import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
from dash import ALL, Dash, Input, Output, State, callback_context, dcc, no_update, set_props
from dash.exceptions import PreventUpdate

from callbacks.filters import (BROWSER_STATE_PROPS, STATE_CONTROL_NAMES, charts_state, checked_page_values,
                               retry_attempt)
from callbacks.state import checked_state, load_bounds
from dashboard.cache import MetricReader, stable_key
from dashboard.context import AppContext, marker_kind, unavailable_kind
from dashboard.errors import error_summary
from dashboard.spreadsheet_export import frame_csv, frame_xlsx  # formula-like text is written as text
from layouts.charts import (DEFAULT_EMPTY_MESSAGE, QUERY_STATE_FIELDS, STATE_FIELDS, Chart, ChartRequest,
                            EmptyMessage, FrameFunction, StateReads, ViewFunction, chart_drawn_id, state_fields_of)
from layouts.common import Palette, empty_state, error_state, graph, retry_interval_id, unavailable_state
from layouts.filters import DataBounds, FilterState
from layouts.ids import (FilterIds, chart_body_id, chart_graph_id, csv_button_id, csv_download_id, page_param_id,
                         xlsx_button_id)
from metrics.query import QUERY_FIELDS

log = logging.getLogger(__name__)


def chart_request(ctx: AppContext, stored: dict, params: Mapping[str, str] | None, read: MetricReader,
                  state_reads: set[str] | None = None) -> ChartRequest:
    """Return the ChartRequest of a filter state from the store and page parameter values; with `state_reads` (a
    set), its state records into it the fields the chart's code reads (`layouts.charts.StateReads`)."""
    import metrics

    raw_bounds = read(metrics.data_bounds)
    has_data = bool(raw_bounds["has_visits"] or raw_bounds["has_orders"] or raw_bounds["channels"])
    bounds = DataBounds.from_metric(raw_bounds)
    state = checked_state(stored, bounds)
    return ChartRequest(state=state if state_reads is None else StateReads(state, state_reads),
                        params=checked_page_values(params), bounds=bounds, read=read,
                        palette=Palette.from_bounds(raw_bounds), has_data=has_data)


class ReadsRecorder:
    """A MetricReader that records which filter-state fields the metrics it is asked for read (`read`): for a
    MetricQuery the fields the function declares (`metrics.reads`; every field when it declares none), for bare
    Filters the filters and the query fields given as keywords; other attributes are the reader's own."""

    def __init__(self, reader: MetricReader, read: set[str]):
        self._reader = reader
        self._read = read

    def __call__(self, fn, filters=None, **params):
        """Return the reader's result of metric `fn`, recording the state fields the call reads."""
        import metrics

        if isinstance(filters, metrics.MetricQuery):
            fields = set(getattr(fn, "query_fields", None) or QUERY_FIELDS)
        elif isinstance(filters, metrics.Filters):
            fields = {"filters", *(name for name in params if name in QUERY_STATE_FIELDS)}
        elif filters is None:
            fields = set()  # the data itself (its bounds): the data version stands for it
        else:
            fields = set(QUERY_STATE_FIELDS)
        self._read.update(state_fields_of(fields))
        return self._reader(fn, filters, **params)

    @property
    def unrecorded(self) -> MetricReader:
        """Return the reader itself: for what depends on the data alone (its version), not on the filter state (a
        forecast of the whole data), so that it records no state field."""
        return self._reader

    def connection(self):
        """Return the reader's connection, recording every state field (SQL run on it may read any of them)."""
        self._read.update(STATE_FIELDS)
        return self._reader.connection()

    def __getattr__(self, name: str):
        return getattr(self._reader, name)


def reads_key(name: str, state: FilterState, fields, params: Mapping[str, str | None] | None,
              data_version: str) -> str:
    """Return the key of what chart `name` shows: the values of the state `fields` its numbers read, its page
    parameter values and the data version (equal keys: the same numbers)."""
    values = {field_name: getattr(state, field_name) for field_name in sorted(fields) if field_name in STATE_FIELDS}
    return stable_key(f"chart-reads:{name}", {"state": values, "params": dict(params or {}),
                                              "data_version": str(data_version)})


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
               retry_attempt: int = 0, drawn: dict | None = None):
    """Return chart `name`'s content: its figure or table, an empty state, or an error notice; while the database
    cannot be read, the notice saying so (retrying by itself after retry_delay_seconds(retry_attempt)).

    With `drawn` (a dict), it is filled with what the content depends on when the content is the chart's (not a
    notice): `reads`, the state fields its numbers read, and `key`, their `reads_key`; and with `parts`, the
    content's (structure digest, leaf digests) (`body_parts`, `leaf_digests`), memoized with it."""
    if not stored:
        raise PreventUpdate
    if marker_kind(stored):  # the filter sync could not read the database: its notice retries, the cards say so
        return unavailable_state(marker_kind(stored))

    def unavailable(kind: str, exc: BaseException):
        log.warning("chart %s: database %s (%s); the card retries by itself", name, kind, error_summary(exc))
        return unavailable_state(kind, name, retry_attempt)

    def render(read: MetricReader):
        fields: set[str] = set()
        try:
            request = chart_request(ctx, stored, params, ReadsRecorder(read, fields), state_reads=fields)
            if not request.has_data:  # a new database: say so once per card, run no query on missing tables
                return empty_state(NO_DATA, NO_DATA_HINT), []
            frame = frame_fn(request)
            if frame is None or len(frame) == 0:
                return empty_state(*empty_texts(empty_message, request)), sorted(fields)
            view = view_fn(frame, request)
        except Exception as exc:  # noqa: BLE001 - a broken chart shows a notice, never a traceback
            kind = unavailable_kind(exc)
            if kind is not None:
                failures.append(unavailable(kind, exc))
                return None  # not cached: the retry reads again
            log.exception("chart %s failed", name)
            failures.append(error_state(f"{error_summary(exc)} (details in the server log)"))
            return None  # not cached: the next request tries again
        return (graph(name, view) if isinstance(view, go.Figure) else view), sorted(fields)

    def render_with_parts(read: MetricReader):
        rendered = render(read)
        if rendered is None:
            return None
        content, fields = rendered
        structure, leaves = body_parts(content)
        return content, fields, (structure, leaf_digests(leaves))

    failures: list = []
    values = checked_page_values(params)
    try:
        with MetricReader(ctx) as read:
            # the finished content is memoized too (same key parts as the metrics: filters, params, data version),
            # keyed on the checked state, so crafted variants of one view share its entry; with it the state fields
            # its numbers read and its parts' digests (a warm update then serialises only the leaves it sends)
            state = checked_state(stored, load_bounds(read))
            rendered = read.cached(f"chart-content:{name}", {"filters": state.to_store(), "params": values},
                                   lambda: render_with_parts(read))
            if rendered is not None and drawn is not None:
                drawn.update(reads=list(rendered[1]), key=reads_key(name, state, rendered[1], values,
                                                                      read.data_version),
                             parts=rendered[2] if len(rendered) > 2 else None)
    except Exception as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        return unavailable(kind, exc)  # the data version or the bounds could not be read
    return rendered[0] if rendered is not None else failures[0]


@dataclasses.dataclass
class ChartUpdate:
    """What a chart's body callback sends: the body's children (`no_update`: it stays as it is), the new props of
    components the body already holds (`props`: {component id: {prop: value}}, e.g. a graph's figure or a KPI's
    value; None: no such update) and the new content of its store (`no_update`: unchanged)."""

    body: object
    props: dict | None
    drawn: object
    graph_id: str | None = None  # the chart's graph or grid (chart_graph_id): whose figure `figure` returns

    @property
    def figure(self):
        """Return the new figure of the chart's mounted graph (None when this update sends none)."""
        return ((self.props or {}).get(self.graph_id) or {}).get("figure")


def _is_component(node) -> bool:
    """True when JSON `node` is a serialised Dash component ({"type", "namespace", "props"})."""
    return isinstance(node, dict) and "props" in node and "type" in node and "namespace" in node


def _holds_id(node) -> bool:
    """True when JSON `node` (a component's prop value) holds a component with an id."""
    if _is_component(node):
        return node["props"].get("id") is not None or any(_holds_id(v) for v in node["props"].values())
    if isinstance(node, dict):
        return any(_holds_id(v) for v in node.values())
    if isinstance(node, list):
        return any(_holds_id(v) for v in node)
    return False


def _digest(value) -> str:
    """Return a short digest of value `value` as Plotly's JSON encoder writes it."""
    return hashlib.sha256(to_json_plotly(value).encode()).hexdigest()[:24]


def _leaf_key(ident) -> str:
    """Return component id `ident` as a text key (a pattern-matching id as its sorted JSON)."""
    return ident if isinstance(ident, str) else json.dumps(ident, sort_keys=True, separators=(",", ":"))


def body_parts(body) -> tuple[str, dict[str, dict]]:
    """Return (structure digest, leaves) of content `body`: its leaves are the components with an id and no component
    with an id inside them ({id: {prop: value}} of the props set on them, e.g. a graph's figure, a grid's rows, a
    KPI's value text); the digest covers everything else, so equal digests mean the mounted body can stay and take
    the leaves' new props (set_props) instead of a new mount."""
    found: set[str] = set()

    def strip(node):
        if _is_component(node):
            props = node["props"]
            ident = props.get("id")
            if ident is not None and not any(_holds_id(v) for k, v in props.items() if k != "id"):
                found.add(_leaf_key(ident))  # which props it sets is structure: a prop that goes away remounts it
                return {"leaf": _leaf_key(ident), "type": node["type"], "namespace": node["namespace"],
                        "props": sorted(props)}
            return {**node, "props": {k: strip(v) for k, v in props.items()}}
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    structure = strip(json.loads(to_json_plotly(body)))
    return hashlib.sha256(json.dumps(structure, sort_keys=True).encode()).hexdigest()[:24], body_leaves(body, found)


def body_leaves(body, leaf_ids) -> dict[str, dict]:
    """Return {id: {prop: value}} of the components of content `body` whose id (as `_leaf_key`) is in `leaf_ids`:
    the props set on them, but the id."""
    components = [body, *body._traverse()] if hasattr(body, "_traverse") else [body]  # noqa: SLF001 - Dash's walk
    leaves = {}
    for component in components:
        ident = getattr(component, "id", None)
        if ident is not None and _leaf_key(ident) in leaf_ids:
            leaves[_leaf_key(ident)] = {k: v for k, v in component.to_plotly_json()["props"].items() if k != "id"}
    return leaves


def leaf_digests(leaves: Mapping[str, Mapping]) -> dict[str, dict[str, str]]:
    """Return {leaf id: {prop: digest}} of `body_parts`'s leaves (what the chart's store keeps of them)."""
    return {ident: {prop: _digest(value) for prop, value in props.items()} for ident, props in leaves.items()}


def changed_leaf_props(leaves: Mapping[str, Mapping], digests: Mapping[str, Mapping[str, str]], drawn_leaves
                       ) -> dict[str, dict]:
    """Return {id: {prop: value}} of the leaves' props whose digest (`digests`: `leaf_digests(leaves)`) differs from
    the store's `drawn_leaves` (every prop of a leaf the store does not describe)."""
    known = drawn_leaves if isinstance(drawn_leaves, Mapping) else {}
    changed: dict[str, dict] = {}
    for ident, props in leaves.items():
        before = known.get(ident) if isinstance(known.get(ident), Mapping) else {}
        different = {prop: value for prop, value in props.items() if before.get(prop) != digests[ident][prop]}
        if different:
            changed[ident] = different
    return changed


def unchanged_reads(ctx: AppContext, name: str, stored: dict, params: Mapping[str, str] | None,
                    drawn: Mapping | None) -> bool:
    """True when the store `drawn` beside chart `name`'s body says it shows numbers whose reads are unchanged for
    the stored filter state and page parameters (same key); False when it does not know or cannot tell."""
    if not isinstance(drawn, Mapping) or not isinstance(drawn.get("key"), str) or not isinstance(
            drawn.get("reads"), list):
        return False
    try:
        with MetricReader(ctx) as read:
            state = checked_state(stored, load_bounds(read))
            return reads_key(name, state, drawn["reads"], checked_page_values(params), read.data_version) == drawn[
                "key"]
    except Exception as exc:
        if unavailable_kind(exc) is None:
            raise
        return False  # the database does not answer: the body says so (chart_body)


def chart_update(ctx: AppContext, chart: Chart, stored: dict | None, params: Mapping[str, str] | None = None,
                 drawn: Mapping | None = None, retry_attempt: int = 0) -> ChartUpdate:
    """Return what declared chart `chart`'s body callback sends for a filter state and page parameter values, given
    its store `drawn`: nothing when the state fields and parameters its numbers read are unchanged; else its new
    content (`chart_body`), as new props of the components the body holds when only those differ (`body_parts`:
    a graph's figure, a grid's rows and height, a KPI card's value, change and sparkline), else as a new body."""
    if not stored:
        raise PreventUpdate
    graph_id = chart_graph_id(chart.name)
    if not marker_kind(stored) and not retry_attempt and unchanged_reads(ctx, chart.name, stored, params, drawn):
        return ChartUpdate(no_update, None, no_update, graph_id)
    new_drawn: dict = {}
    body = chart_body(ctx, chart.name, chart.frame, chart.view, stored, params, chart.empty_message,
                      retry_attempt=retry_attempt, drawn=new_drawn)
    if new_drawn.get("key") is None:  # a notice (error, database unavailable): sent whole, remembered as nothing
        return ChartUpdate(body, None, {"reads": None, "key": None, "structure": None, "leaves": {}}, graph_id)
    if new_drawn.get("parts") is not None:  # memoized with the content
        structure, digests = new_drawn["parts"]
        leaves = body_leaves(body, digests)
    else:
        structure, leaves = body_parts(body)
        digests = leaf_digests(leaves)  # each prop serialised once: kept in the store and compared with it
    new_drawn = {"reads": new_drawn.get("reads"), "key": new_drawn.get("key"), "structure": structure,
                 "leaves": digests}
    if isinstance(drawn, Mapping) and drawn.get("structure") == structure:
        return ChartUpdate(no_update, changed_leaf_props(leaves, digests, drawn.get("leaves")), new_drawn, graph_id)
    return ChartUpdate(body, None, new_drawn, graph_id)


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


def chart_retry_attempt(triggered, name: str, retries: list | None) -> int | None:
    """Return what a trigger of a page's body callback means for chart `name`: the retry of its database notice
    (1, 2, ...), 0 for a filter or page change, None when it concerns another chart (another card's retry timer) or
    when the chart's notice timer only appeared."""
    if isinstance(triggered, dict) and triggered.get("type") == "db-retry" and triggered.get("source") != name:
        return None
    return retry_attempt(triggered, retries)


def chart_groups(charts) -> list[list[Chart]]:
    """Return a page's charts filled by generated callbacks, grouped by the role their cards need (in page order):
    one body callback per group, so that a role is still checked for every card (access_rules)."""
    from dashboard.access_rules import component_role

    groups: dict = {}
    for chart in charts:
        if not chart.own_callbacks:
            groups.setdefault(component_role(chart_body_id(chart.name)), []).append(chart)
    return list(groups.values())


def register_page_charts(app: Dash, ctx: AppContext, charts, page: str = "") -> None:
    """Register the callbacks of a page's declared charts: per role group (`chart_groups`), one callback that fills
    every card of the group (figure, table, empty state or notice), and each chart's downloads (`register_chart`).

    One callback per page rather than per chart: a filter change is one request and one answer the browser applies at
    once (Dash's renderer works per answer, in proportion to the components on the page), and the charts whose
    reads did not change send nothing (`chart_update`).
    """
    for chart in charts:
        register_chart(app, ctx, chart, page)
    for group in chart_groups(charts):
        register_chart_group(app, ctx, group)


def register_chart_group(app: Dash, ctx: AppContext, group: list[Chart]) -> None:
    """Register the body callback of charts `group`: its outputs are its cards' children and the stores beside them
    (what each body shows); a card's graph, grid or KPI props are set with set_props when only those change.

    The stores are outputs, not set_props: Dash drops the answer of a call overtaken by a newer call of the same
    callback (a page opening: its first call, then the filter state arriving), but applies its set_props; a store
    set that way would say a body is drawn that was never drawn, and the newer call would then send nothing."""
    names = [chart.name for chart in group]
    params = sorted({p for chart in group for p in chart.params})

    # The outputs as a list: a multi-output callback (a list answer) also for a group of one. The inputs are the
    # filter controls themselves, not the stored state the browser writes from them: a filter change then sends this
    # request at once, with the filter sync's, instead of after one more round of Dash's renderer (25-45 ms); the
    # state is computed from the controls here (`charts_state`, the same rules as the browser's). An outage the
    # filter sync meets reaches the cards through FilterIds.OUTAGE.
    @app.callback([Output(chart_body_id(name), "children") for name in names]
                  + [Output(chart_drawn_id(name), "data") for name in names],
                  *[Input(control, prop) for control, prop in BROWSER_STATE_PROPS], Input(FilterIds.OUTAGE, "data"),
                  *[Input(retry_interval_id(name, ALL), "n_intervals") for name in names],
                  *[Input(page_param_id(p), "value") for p in params],
                  State(FilterIds.STATE, "data"), *[State(chart_drawn_id(name), "data") for name in names])
    def _bodies(*args):
        controls = dict(zip(STATE_CONTROL_NAMES, args[:len(BROWSER_STATE_PROPS)]))
        args = args[len(BROWSER_STATE_PROPS) + 1:]  # the outage store: only a trigger
        retries, values = args[:len(names)], args[len(names):len(names) + len(params)]
        stored, drawn = args[len(names) + len(params)], args[-len(names):]
        stored = charts_state(controls, callback_context.triggered_prop_ids, stored)
        triggered = callback_context.triggered_id
        by_param = dict(zip(params, values))
        changed_param = triggered.get("name") if isinstance(triggered, dict) and triggered.get(
            "type") == "page-param" else None
        bodies, stores = [], []
        for chart, chart_retries, chart_drawn in zip(group, retries, drawn):
            attempt = chart_retry_attempt(triggered, chart.name, chart_retries)
            update = None  # another card's retry, or a page control this chart does not read: nothing to send
            if attempt is not None and (changed_param is None or changed_param in chart.params):
                try:
                    update = chart_update(ctx, chart, stored, {p: by_param.get(p) for p in chart.params},
                                          chart_drawn, retry_attempt=attempt)
                except PreventUpdate:
                    update = None
            for component_id, props in ((update and update.props) or {}).items():
                set_props(json.loads(component_id) if component_id.startswith("{") else component_id, props)
            bodies.append(update.body if update else no_update)
            stores.append(update.drawn if update else no_update)
        return bodies + stores


def register_chart(app: Dash, ctx: AppContext, chart: Chart, page: str = "") -> None:
    """Register the download callbacks a chart declaration generates: its frame as CSV (unless `chart.csv` is False)
    or Excel (unless `chart.xlsx` is False); `page` (the page's label) names the page in the file names. Its card is
    filled by its page's body callback (`register_page_charts`).

    A chart with `own_callbacks` is filled by its page's `register(app, ctx)`: nothing is generated for it here.
    """
    if chart.own_callbacks:
        return
    if page and not chart.page:
        chart = dataclasses.replace(chart, page=page)
    name, params = chart.name, chart.params
    registered_charts(ctx)[name] = chart

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
