"""Global filters <-> URL, navigation links, and the chart plumbing every page uses.

- `sync_filters_and_url`: one circular callback keeps the URL query string, the filter controls, the
  page-specific controls and the validated filter state (dcc.Store `FilterIds.STATE`) in agreement.
  A URL change (first load, a pasted link, back/forward) sets the controls; a control change writes
  the URL (`dcc.Location(refresh=False)` pushes a history entry, so back/forward work).
- `register_chart`: a page's chart = a frame function (ChartRequest -> DataFrame, the numbers shown)
  and a view function (DataFrame, ChartRequest -> figure or component); this registers the callback
  that fills the chart card and the one that downloads the same frame as CSV.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable, Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go
from dash import ALL, Dash, Input, Output, State, callback_context, dcc, no_update
from dash.exceptions import PreventUpdate

from dashboard.cache import MetricReader
from dashboard.context import AppContext, marker_kind, unavailable_kind, unavailable_marker
from dashboard.errors import error_summary
from layouts.common import (Palette, empty_state, error_state, graph, retry_interval_id,
                            unavailable_state)
from callbacks.request_guards import BadCallbackInput
from dashboard.spreadsheet_safety import neutralise_frame  # formula-like text is written as text
from layouts.filters import (DataBounds, FilterState, PageParam, filter_notes, global_query, normalise_state,
                             page_param_value, parse_query, state_from_store, to_query)
from layouts.ids import (FilterIds, ShellIds, chart_body_id, csv_button_id, csv_download_id, nav_link_id,
                         page_param_id)
from layouts.shell import page_for

log = logging.getLogger(__name__)

HIDDEN = {"display": "none"}
SHOWN: dict = {}


def load_bounds(read: MetricReader) -> DataBounds:
    """Return the data's bounds (dates, known regions, devices, channels) through the metric cache."""
    import metrics

    return DataBounds.from_metric(read(metrics.data_bounds))


ORDERS_ONLY_NOTE = ("This database holds orders but no visits: screens built on visits (activity, acquisition, "
                    "cohorts, marketing) stay empty. RFM segments and clusters work: see the Risk page and "
                    "`python -m dashboard export-segments`.")
NO_DATA_NOTE = "The database holds no data yet: the Data page (/data) says how to import it."


def checked_state(stored: Any, bounds: DataBounds) -> FilterState:
    """Return the filter state a browser sent, checked and clamped by the URL's rules (`state_from_store`);
    BadCallbackInput (a 400 answer) when it is not a filter state at all."""
    try:
        return state_from_store(stored, bounds)
    except ValueError as exc:
        raise BadCallbackInput(f"{FilterIds.STATE}.data: {exc}") from None


@lru_cache(maxsize=1)
def all_page_params() -> dict[str, PageParam]:
    """Return {name: PageParam} of every page's specific parameters, choices merged when pages share a name."""
    from layouts.shell import available_pages

    merged: dict[str, PageParam] = {}
    for page in available_pages():
        for param in page.page_params:
            known = merged.get(param.name)
            if known is None:
                merged[param.name] = param
            else:
                extra = tuple(choice for choice in param.choices if choice[0] not in known.values)
                merged[param.name] = PageParam(known.name, known.label, known.choices + extra, known.default)
    return merged


def checked_page_values(values: Mapping[str, Any] | None) -> dict[str, str | None]:
    """Return page parameter values a browser sent, each one of a page's choices or None (the page's default).

    A chart's frame function falls back to its page's default for None, exactly as for an unknown value in the
    URL; mapping every unknown value to None keeps one cache entry per real choice.
    """
    known = all_page_params()
    checked: dict[str, str | None] = {}
    for name, raw in (values or {}).items():
        param = known.get(name)
        checked[name] = raw if param is not None and page_param_value(param, raw) == raw else None
    return checked


def empty_data_note(raw_bounds: Mapping) -> str:
    """Return the note for data without visit attributes: orders-only data, or no data at all."""
    return ORDERS_ONLY_NOTE if raw_bounds.get("has_orders") and not raw_bounds.get("has_visits") else NO_DATA_NOTE


def page_params_of(pathname: str | None) -> tuple[PageParam, ...]:
    """Return the page-specific URL parameters of the page at `pathname`."""
    page = page_for(pathname)
    return page.page_params if page else ()


def _options(values: Iterable[str]) -> list[dict]:
    return [{"label": v, "value": v} for v in values]


@dataclass
class SyncResult:
    """What `sync_filters_and_url` sets (dash.no_update where nothing changes)."""

    search: Any = no_update
    store: Any = no_update
    start_date: Any = no_update
    end_date: Any = no_update
    min_date: Any = no_update
    max_date: Any = no_update
    observation_date: Any = no_update
    countries: Any = no_update
    country_options: Any = no_update
    devices: Any = no_update
    device_options: Any = no_update
    channels: Any = no_update
    channel_options: Any = no_update
    horizon: Any = no_update
    page_values: Any = no_update
    notes: Any = no_update

    def outputs(self) -> tuple:
        """Return the values in the order of the callback's outputs."""
        return (self.search, self.store, self.start_date, self.end_date, self.min_date, self.max_date,
                self.observation_date, self.min_date, self.max_date, self.countries, self.country_options,
                self.devices, self.device_options, self.channels, self.channel_options, self.horizon,
                self.page_values, self.notes)


def sync_filters_and_url(ctx: AppContext, triggered: Any, search: str | None, pathname: str | None,
                         controls: Mapping[str, Any], page_param_ids: list[dict], page_param_values: list,
                         stored: dict | None) -> SyncResult:
    """Return the updates that bring URL, controls and filter state into agreement after `triggered` changed.

    `triggered` is the id of the component that changed (None on the first call = the URL); `controls`
    holds start, end, observation_date, horizon, country, device, channel as the controls show them.
    """
    import metrics

    with MetricReader(ctx) as read:
        raw_bounds = read(metrics.data_bounds)
    bounds = DataBounds.from_metric(raw_bounds)
    params = page_params_of(pathname)
    names = [pid["name"] for pid in page_param_ids]
    controls_ready = bool(controls.get("start")) and bool(controls.get("end"))
    if triggered in (None, ShellIds.URL) or not controls_ready:  # the URL is the truth (first load, back/forward)
        state, page_values, notes = parse_query(search, bounds, params)
        if bounds.is_empty:
            notes = [empty_data_note(raw_bounds)] + notes
        defaults = {p.name: p.default for p in params}
        return SyncResult(
            store=state.to_store() if state.to_store() != stored else no_update,
            start_date=state.start.isoformat(), end_date=state.end.isoformat(),
            min_date=bounds.first_date.isoformat(), max_date=bounds.last_date.isoformat(),
            observation_date=state.observation_date.isoformat(),
            countries=list(state.countries), country_options=_options(bounds.regions),
            devices=list(state.devices), device_options=_options(bounds.devices),
            channels=list(state.channels), channel_options=_options(bounds.channels),
            horizon=state.horizon,
            page_values=[page_values.get(n, defaults.get(n, no_update)) for n in names],
            notes=filter_notes(notes),
        )
    shown_state, shown_values, _ = parse_query(search, bounds, params)
    notes: list[str] = []
    horizon = controls.get("horizon")
    if triggered == "page-param":
        # a page control changed (or appeared with a new page): the global filters stay as the URL has them,
        # even if a control has not shown them yet
        state = shown_state
    else:
        previous = shown_state
        if stored:
            try:
                previous = state_from_store(stored, bounds)
            except ValueError:  # not a filter state (a crafted request): the URL's state stands in
                previous = shown_state
        obs = controls.get("observation_date")
        if triggered == FilterIds.DATE_RANGE and previous.observation_date == previous.end:
            obs = controls.get("end")  # an observation date left at its default keeps following the end
        state = normalise_state(controls.get("start"), controls.get("end"), obs,
                                previous.horizon if horizon in (None, "") else horizon,
                                controls.get("country") or (), controls.get("device") or (),
                                controls.get("channel") or (), bounds, notes)
    by_name = dict(zip(names, page_param_values))
    page_values = {p.name: page_param_value(p, by_name.get(p.name)) for p in params}
    query = to_query(state, bounds, page_values, params)
    unchanged = shown_state == state and shown_values == page_values  # same view: keep the URL as it is
    # A new page's controls appearing (they show what the URL says) must send the state even when it is the
    # same: Dash leaves the new page's chart callbacks to this callback (their inputs are its outputs) and
    # runs them only if it updates an input, so a no_update here left every chart of the page empty whenever
    # the page layout arrived after the first filter sync (test_dcb020, test_uib006).
    resend = triggered == "page-param" and unchanged
    result = SyncResult(search=no_update if unchanged or query == (search or "") else query,
                        store=state.to_store() if state.to_store() != stored or resend else no_update,
                        # a page control appearing or changing keeps the note about the link; a filter change replaces it
                        notes=no_update if triggered == "page-param" and not notes else filter_notes(notes))
    if str(controls.get("start") or "")[:10] != state.start.isoformat():
        result.start_date = state.start.isoformat()
    if str(controls.get("end") or "")[:10] != state.end.isoformat():
        result.end_date = state.end.isoformat()
    if str(controls.get("observation_date") or "")[:10] != state.observation_date.isoformat():
        result.observation_date = state.observation_date.isoformat()
    if horizon in (None, "") or str(horizon) != str(state.horizon):
        result.horizon = state.horizon
    for url_name, attr in (("country", "countries"), ("device", "devices"), ("channel", "channels")):
        if sorted(controls.get(url_name) or ()) != list(getattr(state, attr)):
            setattr(result, attr, list(getattr(state, attr)))
    result.page_values = [no_update for _ in names]
    return result


RETRY_TRIGGER = "db-retry"  # `triggered` of a sync re-run by the retry timer of the database notice


def retry_attempt(triggered: Any, retries: list | None) -> int | None:
    """Return which retry of a database notice fired a callback (1, 2, ...; from the timer's id), 0 when something
    else fired it (a filter, the page), None when a notice's timer only appeared (nothing to do until it fires)."""
    if isinstance(triggered, dict) and triggered.get("type") == "db-retry":
        if not any(retries or ()):
            return None
        attempt = triggered.get("attempt")
        return min(attempt, 100) + 1 if isinstance(attempt, int) and attempt >= 0 else 1
    if triggered is None and retries and not any(retries):
        return None
    return 0


def sync_or_notice(ctx: AppContext, triggered: Any, search: str | None, pathname: str | None,
                   controls: Mapping[str, Any], page_param_ids: list[dict], page_param_values: list,
                   stored: dict | None, attempt: int = 0) -> SyncResult:
    """Return sync_filters_and_url's updates; when the database cannot be read (PostgreSQL down, the DuckDB file
    locked by an import), the filter bar's notice instead (it retries this sync by itself, with backoff) and the
    unavailable marker as filter state, so every chart card shows the notice rather than staying blank."""
    previous_kind = marker_kind(stored)
    try:
        return sync_filters_and_url(ctx, triggered, search, pathname, controls, page_param_ids, page_param_values,
                                    None if previous_kind else stored)
    except Exception as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        log.warning("filter sync: database %s (%s); the page retries by itself", kind, error_summary(exc))
        return SyncResult(store=no_update if previous_kind == kind else unavailable_marker(kind),
                          page_values=[no_update for _ in page_param_ids],
                          notes=unavailable_state(kind, "filters", attempt))


def navigation(pathname: str | None, stored: dict | None, link_ids: list[dict], ctx: AppContext) -> tuple:
    """Return (link hrefs carrying the global filters, link active flags, reset href, group styles)."""
    query = ""
    if stored and not marker_kind(stored):
        try:
            with MetricReader(ctx) as read:
                bounds = load_bounds(read)
                query = global_query(checked_state(stored, bounds), bounds)
        except Exception as exc:
            if unavailable_kind(exc) is None:
                raise
            query = ""  # the database does not answer: the links keep the page, without the filters
    page = page_for(pathname)
    current = page.path if page else None
    hrefs = [link["path"] + query for link in link_ids]
    active = [link["path"] == current for link in link_ids]
    uses = page.filters if page else ()
    bar_style = SHOWN if uses else HIDDEN
    obs_style = SHOWN if "observation_date" in uses else HIDDEN
    horizon_style = SHOWN if "horizon" in uses else HIDDEN
    return hrefs, active, current or "/", bar_style, obs_style, horizon_style


def register(app: Dash, ctx: AppContext) -> None:
    """Register the URL <-> filters callback and the navigation callback on `app`."""
    control_inputs = [
        Input(FilterIds.DATE_RANGE, "start_date"), Input(FilterIds.DATE_RANGE, "end_date"),
        Input(FilterIds.OBSERVATION_DATE, "date"), Input(FilterIds.HORIZON, "value"),
        Input(FilterIds.COUNTRY, "value"), Input(FilterIds.DEVICE, "value"), Input(FilterIds.CHANNEL, "value"),
    ]

    @app.callback(
        Output(ShellIds.URL, "search"), Output(FilterIds.STATE, "data"),
        Output(FilterIds.DATE_RANGE, "start_date"), Output(FilterIds.DATE_RANGE, "end_date"),
        Output(FilterIds.DATE_RANGE, "min_date_allowed"), Output(FilterIds.DATE_RANGE, "max_date_allowed"),
        Output(FilterIds.OBSERVATION_DATE, "date"), Output(FilterIds.OBSERVATION_DATE, "min_date_allowed"),
        Output(FilterIds.OBSERVATION_DATE, "max_date_allowed"),
        Output(FilterIds.COUNTRY, "value"), Output(FilterIds.COUNTRY, "options"),
        Output(FilterIds.DEVICE, "value"), Output(FilterIds.DEVICE, "options"),
        Output(FilterIds.CHANNEL, "value"), Output(FilterIds.CHANNEL, "options"),
        Output(FilterIds.HORIZON, "value"),
        Output(page_param_id(ALL), "value"),
        Output(FilterIds.NOTES, "children"),
        Input(ShellIds.URL, "search"),
        *control_inputs,
        Input(page_param_id(ALL), "value"),
        Input(retry_interval_id("filters", ALL), "n_intervals"),
        State(ShellIds.URL, "pathname"), State(page_param_id(ALL), "id"), State(FilterIds.STATE, "data"),
    )
    def _sync(search, start, end, obs, horizon, country, device, channel, param_values, retries, pathname,
              param_ids, stored):
        triggered = callback_context.triggered_id
        attempt = retry_attempt(triggered, retries)
        if attempt is None:
            raise PreventUpdate  # the notice's retry timer appeared; it fires later
        if attempt:
            triggered = RETRY_TRIGGER
        elif isinstance(triggered, dict):  # a page-specific control
            triggered = "page-param"
        controls = {"start": start, "end": end, "observation_date": obs, "horizon": horizon,
                    "country": country, "device": device, "channel": channel}
        return sync_or_notice(ctx, triggered, search, pathname, controls, param_ids, param_values, stored,
                              attempt).outputs()

    @app.callback(
        Output(nav_link_id(ALL), "href"), Output(nav_link_id(ALL), "active"), Output(ShellIds.RESET, "href"),
        Output(FilterIds.BAR, "style"), Output(FilterIds.OBSERVATION_GROUP, "style"),
        Output(FilterIds.HORIZON_GROUP, "style"),
        Input(ShellIds.URL, "pathname"), Input(FilterIds.STATE, "data"), State(nav_link_id(ALL), "id"),
    )
    def _navigation(pathname, stored, link_ids):
        return navigation(pathname, stored, link_ids, ctx)


# ---------------------------------------------------------------- charts


@dataclass
class ChartRequest:
    """Everything a chart's frame function needs: filter state, page parameters, data bounds, metric reader."""

    state: FilterState
    params: dict[str, str]
    bounds: DataBounds
    read: MetricReader
    palette: Palette = field(default_factory=Palette)
    has_data: bool = True  # False: no visit, order or cost row at all (or no tables yet)

    @cached_property
    def filters(self):
        """Return the `metrics.Filters` of the current state."""
        return self.state.to_filters()

    @cached_property
    def previous_filters(self):
        """Return the `metrics.Filters` of the previous period of equal length."""
        return self.state.previous().to_filters()


FrameFunction = Callable[[ChartRequest], pd.DataFrame]
ViewFunction = Callable[[pd.DataFrame, ChartRequest], Any]


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

# a chart's empty-state text: fixed, or computed from the request (message, hint); see empty_texts
EmptyMessage = str | Callable[[Any], tuple[str, str | None]]


def empty_texts(empty_message: EmptyMessage, request: "ChartRequest") -> tuple[str, str | None]:
    """Return (message, hint) of an empty chart: a fixed message with the default hint (check the filters), or
    what a callable gives for this request (when the cause may be something other than the filters)."""
    if callable(empty_message):
        return empty_message(request)
    return empty_message, None


def chart_body(ctx: AppContext, name: str, frame_fn: FrameFunction, view_fn: ViewFunction, stored: dict | None,
               params: Mapping[str, str] | None = None, empty_message: EmptyMessage = "No data for these filters.",
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


def chart_csv(ctx: AppContext, name: str, frame_fn: FrameFunction, stored: dict | None,
              params: Mapping[str, str] | None = None) -> dict:
    """Return the dcc.Download data of chart `name`: exactly the frame it shows, as CSV."""
    if not stored or marker_kind(stored):
        raise PreventUpdate
    try:
        with MetricReader(ctx) as read:
            request = chart_request(ctx, stored, params, read)
            frame = frame_fn(request)
    except Exception as exc:
        if unavailable_kind(exc) is None:
            raise
        raise PreventUpdate from None  # the database does not answer: no download (the cards say why)
    filename = f"{name}_{request.state.start.isoformat()}_{request.state.end.isoformat()}.csv"
    return dcc.send_data_frame(neutralise_frame(frame).to_csv, filename, index=False)


@dataclass(frozen=True)
class ChartSpec:
    """A registered chart: its name, frame and view functions, page parameters and empty-state message."""

    name: str
    frame_fn: FrameFunction
    view_fn: ViewFunction
    params: tuple[str, ...]
    empty_message: EmptyMessage

    def body(self, ctx: AppContext, stored: dict, params: Mapping[str, str] | None = None):
        """Return the chart's content for a filter state, exactly as its callback does."""
        values = dict(params or {})
        return chart_body(ctx, self.name, self.frame_fn, self.view_fn, stored,
                          {p: values.get(p) for p in self.params}, self.empty_message)


CHARTS_KEY = "charts"


def registered_charts(ctx: AppContext) -> dict[str, ChartSpec]:
    """Return {chart name: ChartSpec} of every chart registered on the app of `ctx`."""
    return ctx.extras.setdefault(CHARTS_KEY, {})


def register_chart(app: Dash, ctx: AppContext, name: str, frame_fn: FrameFunction, view_fn: ViewFunction,
                   params: Iterable[str] = (), empty_message: EmptyMessage = "No data for these filters.",
                   csv: bool = True) -> None:
    """Register the callbacks that fill chart card `name` and download its numbers as CSV.

    `params` names the page-specific controls (layouts.ids.page_param_id) the chart reads. `csv=False` leaves
    the CSV button to the page (e.g. an AG Grid exporting exactly the rows it shows).
    """
    params = tuple(params)
    registered_charts(ctx)[name] = ChartSpec(name, frame_fn, view_fn, params, empty_message)

    @app.callback(Output(chart_body_id(name), "children"), Input(FilterIds.STATE, "data"),
                  Input(retry_interval_id(name, ALL), "n_intervals"),
                  *[Input(page_param_id(p), "value") for p in params])
    def _body(stored, retries, *values):
        attempt = retry_attempt(callback_context.triggered_id, retries)
        if attempt is None:
            raise PreventUpdate  # the notice's retry timer appeared; it fires later
        return chart_body(ctx, name, frame_fn, view_fn, stored, dict(zip(params, values)), empty_message,
                          retry_attempt=attempt)

    if not csv:
        return

    @app.callback(Output(csv_download_id(name), "data"), Input(csv_button_id(name), "n_clicks"),
                  State(FilterIds.STATE, "data"), *[State(page_param_id(p), "value") for p in params],
                  prevent_initial_call=True)
    def _csv(n_clicks, stored, *values):
        if not n_clicks:
            raise PreventUpdate
        return chart_csv(ctx, name, frame_fn, stored, dict(zip(params, values)))
