"""Global filters <-> URL and navigation links (the chart plumbing is in callbacks/charts.py).

- `sync_filters_and_url`: one circular callback keeps the URL query string, the filter controls, the
  page-specific controls and the validated filter state (dcc.Store `FilterIds.STATE`) in agreement.
  A URL change (first load, a pasted link, back/forward) sets the controls; a control change writes
  the URL (`dcc.Location(refresh=False)` pushes a history entry, so back/forward work).
  It also sets the country, device and channel options (values with users under the other filters, with counts)
  with the values: a Dash 4 dropdown drops a value its options do not hold, so they cannot come later.
  The controls, the options and the filter state are set with set_props, not declared as outputs: Dash holds back
  every callback downstream of a pending callback's outputs, and the charts would wait for this one.
- `state_from_controls`: the charts take the controls as inputs and compute the filter state from them on the
  server, so their request leaves with the sync's; the browser writes the stored state from the controls too
  (`STATE_FROM_CONTROLS_JS`, the same rules) for what reads it later. The sync checks the controls meanwhile and
  corrects those it does not accept; an outage it meets reaches the charts through `FilterIds.OUTAGE`.
- The navbar links carry the global filters and the narrow-screen summary names them: the filter sync sets both
  (`SyncResult.nav_query`, `filter_summary`), so a filter change runs no callback of its own for them;
  `navigation` (on a page change) marks the active link and shows the filter groups the page uses.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from dash import ALL, Dash, Input, Output, State, callback_context, no_update, set_props
from dash.exceptions import PreventUpdate

from callbacks.pages import available_pages, page_for
from dashboard.cache import MetricReader
from dashboard.context import AppContext, marker_kind, unavailable_kind, unavailable_marker
from dashboard.errors import error_summary
from layouts.common import retry_interval_id, unavailable_state
from layouts.filters import (MAX_HORIZON, PERIOD_PRESETS, DataBounds, FilterState, PageParam, attribute_options,
                             filter_notes, filter_summary, global_query, matching_preset, normalise_state,
                             page_param_value, parse_query, period_options, preset_dates, state_from_store, to_query)
from layouts.ids import FilterIds, ShellIds, nav_link_id, page_param_id
from layouts.paths import app_path

log = logging.getLogger(__name__)

HIDDEN = {"display": "none"}
SHOWN: dict = {}


ORDERS_ONLY_NOTE = ("This database holds orders but no visits: screens built on visits (activity, acquisition, "
                    "cohorts, marketing) stay empty. RFM segments and clusters work: see the Risk page and "
                    "`python -m dashboard export-segments`.")
NO_DATA_NOTE = "The database holds no data yet: the Data page (/data) says how to import it."


@lru_cache(maxsize=1)
def all_page_params() -> dict[str, PageParam]:
    """Return {name: PageParam} of every page's specific parameters, choices merged when pages share a name."""
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


def user_counts(read: MetricReader, state: FilterState):
    """Return `metrics.users_by_attributes` for the state's end and observation date (the users to date of every
    combination of attributes), read through the cache (one entry per end and observation date)."""
    import metrics

    return read(metrics.users_by_attributes,
                metrics.MetricQuery(metrics.Filters(end=state.end, observation_date=state.observation_date)))


@dataclass
class SyncResult:
    """What `sync_filters_and_url` sets (dash.no_update where nothing changes)."""

    state: FilterState | None = None  # the filter state in force (not an output)
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
    period: Any = no_update
    period_options: Any = no_update
    horizon: Any = no_update
    page_values: Any = no_update
    notes: Any = no_update
    nav_query: Any = no_update  # the global filters' query string the navbar links carry (`global_query`)
    summary: Any = no_update  # the filters in force in a few words (`filter_summary`), beside the "Filters" button

    def outputs(self) -> tuple:
        """Return the values of the callback's declared outputs, in their order (the rest: `side_props`)."""
        return (self.search, self.min_date, self.max_date, self.min_date, self.max_date, self.period,
                self.period_options, self.notes)

    def side_props(self, page_param_ids: list[dict]) -> list[tuple[Any, dict]]:
        """Return [(component id, {prop: value})] of what the callback sets with set_props: the filter state first,
        then the controls whose value changes (a dropdown's options with its value: a Dash 4 dropdown drops a value
        its options do not hold) and the page controls (`page_param_ids`, in the order of `page_values`).

        These are not declared outputs: Dash holds back every callback downstream of a pending callback's declared
        outputs, so the charts (which read the filter state) would wait for this callback's answer on every change.
        """
        updates: list[tuple[Any, dict]] = []

        def add(component_id, **props):
            changed = {prop: value for prop, value in props.items() if value is not no_update}
            if changed:
                updates.append((component_id, changed))

        add(FilterIds.STATE, data=self.store)
        add(FilterIds.DATE_RANGE, start_date=self.start_date, end_date=self.end_date)
        add(FilterIds.OBSERVATION_DATE, date=self.observation_date)
        add(FilterIds.HORIZON, value=self.horizon)
        add(FilterIds.COUNTRY, options=self.country_options, value=self.countries)
        add(FilterIds.DEVICE, options=self.device_options, value=self.devices)
        add(FilterIds.CHANNEL, options=self.channel_options, value=self.channels)
        values = self.page_values if isinstance(self.page_values, list) else []
        for component_id, value in zip(page_param_ids, values):
            add(component_id, value=value)
        return updates


def sync_filters_and_url(ctx: AppContext, triggered: Any, search: str | None, pathname: str | None,
                         controls: Mapping[str, Any], page_param_ids: list[dict], page_param_values: list,
                         stored: dict | None, shown_options: Mapping[str, Any] | None = None) -> SyncResult:
    """Return the updates that bring URL, controls and filter state into agreement after `triggered` changed.

    `triggered` is the id of the component that changed (None on the first call = the URL); `controls`
    holds period, start, end, observation_date, horizon, country, device, channel as the controls show them.
    The country, device and channel options are the values with users under the other two filters, each with its
    number of users to date (`filter_options`), sent only when they differ from `shown_options` ({"country":
    options, ...} as the dropdowns show them; None: always sent); the period control shows the preset the dates
    match.
    """
    import metrics

    with MetricReader(ctx) as read:
        raw_bounds = read(metrics.data_bounds)
        bounds = DataBounds.from_metric(raw_bounds)
        result = _synced(triggered, search, pathname, controls, page_param_ids, page_param_values, stored,
                         raw_bounds, bounds)
        if not bounds.is_empty:
            result.country_options, result.device_options, result.channel_options = filter_options(
                read, result.state, bounds, shown_options)
    result.nav_query = global_query(result.state, bounds)
    result.summary = filter_summary(result.state)
    return result


OPTION_CONTROLS = ("country", "device", "channel")


def filter_options(read: MetricReader, state: FilterState, bounds: DataBounds,
                   shown: Mapping[str, Any] | None = None) -> tuple:
    """Return the (country, device, channel) dropdown options of filter state `state`: the values with users under
    the other two filters, each with its number of users to date (`attribute_options`); dash.no_update for a list
    equal to the one `shown` ({"country": options, ...}, as the dropdowns show them)."""
    options = attribute_options(user_counts(read, state), state, bounds)
    shown = shown or {}
    return tuple(changed_or_no_update(options[name], shown.get(name)) for name in OPTION_CONTROLS)


def _synced(triggered: Any, search: str | None, pathname: str | None, controls: Mapping[str, Any],
            page_param_ids: list[dict], page_param_values: list, stored: dict | None, raw_bounds: Mapping,
            bounds: DataBounds) -> "SyncResult":
    """Return sync_filters_and_url's updates but the attribute options (`state` set to the filter state in force);
    `bounds` is `DataBounds.from_metric(raw_bounds)`."""
    params = page_params_of(pathname)
    names = [pid["name"] for pid in page_param_ids]
    controls_ready = bool(controls.get("start")) and bool(controls.get("end"))
    if triggered in (None, ShellIds.URL) or not controls_ready:  # the URL is the truth (first load, back/forward)
        state, page_values, notes = parse_query(search, bounds, params)
        if bounds.is_empty:
            notes = [empty_data_note(raw_bounds)] + notes
        defaults = {p.name: p.default for p in params}
        preset = matching_preset(state.start, state.end, bounds)
        result = SyncResult(
            state=state, period=preset, period_options=period_options(preset),
            store=state.to_store() if state.to_store() != stored else no_update,
            min_date=bounds.first_date.isoformat(), max_date=bounds.last_date.isoformat(),
            page_values=[page_values.get(n, defaults.get(n, no_update)) for n in names],
            notes=filter_notes(notes),
        )
        return _with_changed_controls(result, controls, state)
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
        start, end = controls.get("start"), controls.get("end")
        if triggered == FilterIds.PERIOD and controls.get("period") in dict(PERIOD_PRESETS):
            start, end = preset_dates(controls["period"], bounds)
        if triggered in (FilterIds.DATE_RANGE, FilterIds.PERIOD) and previous.observation_date == previous.end:
            obs = end  # an observation date left at its default keeps following the end
        state = normalise_state(start, end, obs,
                                previous.horizon if horizon in (None, "") else horizon,
                                controls.get("country") or (), controls.get("device") or (),
                                controls.get("channel") or (), bounds, notes)
    by_name = dict(zip(names, page_param_values))
    # a page control not on the page yet (the page's layout arrives after this sync) keeps what the URL says
    page_values = {p.name: page_param_value(p, by_name[p.name]) if p.name in by_name else shown_values[p.name]
                   for p in params}
    query = to_query(state, bounds, page_values, params)
    unchanged = shown_state == state and shown_values == page_values  # same view: keep the URL as it is
    # After a change of a control the browser writes the filter state itself (STATE_FROM_CONTROLS_JS, no round
    # trip; the charts compute it from the controls): this callback only corrects the controls it does not accept
    # (their change makes the browser write the state again); it writes the state when the browser could not (the
    # store held no state).
    browser_wrote = triggered in BROWSER_STATE_CONTROLS and stored is not None
    preset = matching_preset(state.start, state.end, bounds, controls.get("period"))
    result = SyncResult(state=state, search=no_update if unchanged or query == (search or "") else query,
                        store=state.to_store() if state.to_store() != stored and not browser_wrote else no_update,
                        # a page control appearing or changing, or the controls showing what the URL says (this
                        # callback set them), keep the note about the link; a filter change replaces it
                        notes=no_update if (triggered == "page-param" or unchanged) and not notes
                        else filter_notes(notes))
    if controls.get("period") != preset:
        result.period, result.period_options = preset, period_options(preset)
    result.page_values = [no_update for _ in names]
    return _with_changed_controls(result, controls, state)


def _with_changed_controls(result: SyncResult, controls: Mapping[str, Any], state: FilterState) -> SyncResult:
    """Return `result` setting the controls (dates, horizon, attribute values) that do not show `state` yet: only
    those, since each one set makes the browser run this sync and write the filter state again."""
    if str(controls.get("start") or "")[:10] != state.start.isoformat():
        result.start_date = state.start.isoformat()
    if str(controls.get("end") or "")[:10] != state.end.isoformat():
        result.end_date = state.end.isoformat()
    if str(controls.get("observation_date") or "")[:10] != state.observation_date.isoformat():
        result.observation_date = state.observation_date.isoformat()
    horizon = controls.get("horizon")
    if horizon in (None, "") or str(horizon) != str(state.horizon):
        result.horizon = state.horizon
    for url_name, attr in (("country", "countries"), ("device", "devices"), ("channel", "channels")):
        shown = controls.get(url_name)
        shown = [shown] if isinstance(shown, str) else list(shown or ())
        if sorted(shown) != list(getattr(state, attr)):
            setattr(result, attr, list(getattr(state, attr)))
    return result


# The control props from which the browser writes the filter state, in STATE_FROM_CONTROLS_JS's argument order
# (the filter sync's inputs too, after the period preset), and their controls.
BROWSER_STATE_PROPS = ((FilterIds.DATE_RANGE, "start_date"), (FilterIds.DATE_RANGE, "end_date"),
                       (FilterIds.OBSERVATION_DATE, "date"), (FilterIds.HORIZON, "value"),
                       (FilterIds.COUNTRY, "value"), (FilterIds.DEVICE, "value"), (FilterIds.CHANNEL, "value"))
BROWSER_STATE_CONTROLS = tuple(dict.fromkeys(control for control, _ in BROWSER_STATE_PROPS))
# the names `state_from_controls` gives the values of BROWSER_STATE_PROPS, in their order
STATE_CONTROL_NAMES = ("start", "end", "observation_date", "horizon", "country", "device", "channel")

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
                   stored: dict | None, attempt: int = 0, shown_options: Mapping[str, Any] | None = None
                   ) -> SyncResult:
    """Return sync_filters_and_url's updates (options as the dropdowns show them: `shown_options`); when the
    database cannot be read (PostgreSQL down, the DuckDB file locked by an import), the filter bar's notice instead
    (it retries this sync by itself, with backoff) and the unavailable marker as filter state, so every chart card
    shows the notice rather than staying blank."""
    previous_kind = marker_kind(stored)
    try:
        return sync_filters_and_url(ctx, triggered, search, pathname, controls, page_param_ids, page_param_values,
                                    None if previous_kind else stored, shown_options)
    except Exception as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        log.warning("filter sync: database %s (%s); the page retries by itself", kind, error_summary(exc))
        return SyncResult(store=no_update if previous_kind == kind else unavailable_marker(kind),
                          page_values=[no_update for _ in page_param_ids],
                          notes=unavailable_state(kind, "filters", attempt))


def navigation(pathname: str | None, link_ids: list[dict]) -> tuple:
    """Return (link active flags, reset href, filter bar style, observation date group style, horizon group style)
    of page `pathname`: the filter bar shows the filters the page uses."""
    page = page_for(pathname)
    current = page.path if page else None
    active = [link["path"] == current for link in link_ids]
    uses = page.filters if page else ()
    bar_style = SHOWN if uses else HIDDEN
    obs_style = SHOWN if "observation_date" in uses else HIDDEN
    horizon_style = SHOWN if "horizon" in uses else HIDDEN
    return active, app_path(current or "/"), bar_style, obs_style, horizon_style


def nav_hrefs(link_ids: list[dict], query: str) -> list[str]:
    """Return the hrefs of navbar links `link_ids`: each link's page with the global filters' `query`."""
    return [app_path(link["path"]) + query for link in link_ids]


def changed_or_no_update(new, shown):
    """Return `new`, or dash.no_update when it equals what the page `shown` (nothing to send)."""
    return no_update if new == shown else new


def register(app: Dash, ctx: AppContext) -> None:
    """Register the URL <-> filters callback and the navigation callback on `app`."""
    state_inputs = [Input(control, prop) for control, prop in BROWSER_STATE_PROPS]
    control_inputs = [Input(FilterIds.PERIOD, "value"), *state_inputs]

    # Declared outputs: only what no chart reads (see SyncResult.side_props); the rest is set with set_props.
    @app.callback(
        Output(ShellIds.URL, "search"),
        Output(FilterIds.DATE_RANGE, "min_date_allowed"), Output(FilterIds.DATE_RANGE, "max_date_allowed"),
        Output(FilterIds.OBSERVATION_DATE, "min_date_allowed"), Output(FilterIds.OBSERVATION_DATE, "max_date_allowed"),
        Output(FilterIds.PERIOD, "value"), Output(FilterIds.PERIOD, "options"),
        Output(FilterIds.NOTES, "children"),
        Output(nav_link_id(ALL), "href"), Output(FilterIds.SUMMARY, "children"),
        Input(ShellIds.URL, "search"),
        *control_inputs,
        Input(page_param_id(ALL), "value"),
        Input(retry_interval_id("filters", ALL), "n_intervals"),
        State(ShellIds.URL, "pathname"), State(page_param_id(ALL), "id"), State(FilterIds.STATE, "data"),
        State(nav_link_id(ALL), "id"), State(nav_link_id(ALL), "href"), State(FilterIds.SUMMARY, "children"),
        State(FilterIds.OUTAGE, "data"),
        State(FilterIds.COUNTRY, "options"), State(FilterIds.DEVICE, "options"), State(FilterIds.CHANNEL, "options"),
    )
    def _sync(search, period, start, end, obs, horizon, country, device, channel, param_values, retries, pathname,
              param_ids, stored, link_ids, shown_hrefs, shown_summary, outage, *shown_options):
        triggered = callback_context.triggered_id
        attempt = retry_attempt(triggered, retries)
        if attempt is None:
            raise PreventUpdate  # the notice's retry timer appeared; it fires later
        if attempt:
            triggered = RETRY_TRIGGER
        elif isinstance(triggered, dict):  # a page-specific control
            triggered = "page-param"
        controls = {"period": period, "start": start, "end": end, "observation_date": obs, "horizon": horizon,
                    "country": country, "device": device, "channel": channel}
        result = sync_or_notice(ctx, triggered, search, pathname, controls, param_ids, param_values, stored,
                                attempt, dict(zip(OPTION_CONTROLS, shown_options)))
        for component_id, props in result.side_props(param_ids):
            set_props(component_id, props)
        if result.store is not no_update and marker_kind(result.store) != outage:
            # the charts read the controls, not the stored state: an outage starting or ending reaches them here
            set_props(FilterIds.OUTAGE, {"data": marker_kind(result.store)})
        hrefs = [no_update for _ in link_ids] if result.nav_query is no_update else [  # a pattern output: a list
            changed_or_no_update(href, shown) for href, shown in zip(nav_hrefs(link_ids, result.nav_query),
                                                                     shown_hrefs)]
        summary = no_update if result.summary is no_update else changed_or_no_update(result.summary, shown_summary)
        return (*result.outputs(), hrefs, summary)

    app.clientside_callback(state_from_controls_js(), Output(FilterIds.STATE, "data"), *state_inputs,
                            State(FilterIds.STATE, "data"), prevent_initial_call=True)

    @app.callback(
        Output(nav_link_id(ALL), "active"), Output(ShellIds.RESET, "href"),
        Output(FilterIds.BAR, "style"), Output(FilterIds.OBSERVATION_GROUP, "style"),
        Output(FilterIds.HORIZON_GROUP, "style"),
        Input(ShellIds.URL, "pathname"), State(nav_link_id(ALL), "id"),
    )
    def _navigation(pathname, link_ids):
        return navigation(pathname, link_ids)

    register_filter_toggle(app)


# The filter state from the controls, in the browser, for what reads the stored state (downloads, the Risk page's
# status); the charts compute the same from the controls on the server (`state_from_controls`, its twin), so their
# request leaves with the filter sync's. The sync checks the controls in parallel and corrects those it does not
# accept, making both run again. The same rules as `_synced` for valid controls: the observation date follows the
# end date when it was left at it; a horizon that is not a whole number of days in range keeps the previous one;
# values sorted, without repeats. Nothing when the store holds no state (the server writes it) or the state is the
# same.
STATE_FROM_CONTROLS_JS = """function(start, end, observation, horizon, country, device, channel, previous) {
    const skip = window.dash_clientside.no_update;
    if (!start || !end || !previous || typeof previous.start !== "string") { return skip; }
    const changed = ((window.dash_clientside.callback_context || {}).triggered || []).map(t => t.prop_id || "");
    const moved = id => changed.some(prop => prop.startsWith(id + "."));
    const day = value => String(value).slice(0, 10);
    const values = value => Array.from(new Set((value === null || value === undefined ? [] :
        (Array.isArray(value) ? value : [value])).map(String).filter(v => v !== ""))).sort();
    let observed = observation ? day(observation) : day(end);
    if (moved(%(date_range)s) && !moved(%(observation)s) && previous.observation_date === previous.end) {
        observed = day(end);
    }
    const days = Number(horizon);
    const next = {start: day(start), end: day(end), observation_date: observed,
                  horizon: Number.isInteger(days) && days >= 1 && days <= %(max_horizon)d ? days : previous.horizon,
                  country: values(country), device: values(device), channel: values(channel)};
    const same = Object.keys(next).every(key => JSON.stringify(next[key]) === JSON.stringify(previous[key]));
    return same ? skip : next;
}"""


def state_from_controls_js() -> str:
    """Return the browser-side function that writes the filter state from the controls (STATE_FROM_CONTROLS_JS with
    the ids and limits filled in)."""
    return STATE_FROM_CONTROLS_JS % {"date_range": json.dumps(FilterIds.DATE_RANGE),
                                     "observation": json.dumps(FilterIds.OBSERVATION_DATE), "max_horizon": MAX_HORIZON}


def state_from_controls(controls: Mapping[str, Any], moved: Any, previous: Any) -> dict | None:
    """Return the filter state the browser writes from the controls (the server's twin of STATE_FROM_CONTROLS_JS,
    same rules), for the charts, which read the controls so that their request leaves with the filter sync's:
    `controls` as the sync takes them (start, end, observation_date, horizon, country, device, channel), `moved` the
    ids of the controls that changed, `previous` the stored state. None when there is no stored state to start from
    (the server writes it) or no dates yet."""
    start, end = controls.get("start"), controls.get("end")
    if not start or not end or not isinstance(previous, Mapping) or not isinstance(previous.get("start"), str):
        return None

    def day(value) -> str:
        return str(value)[:10]

    def values(value) -> list[str]:
        items = [] if value is None else (value if isinstance(value, (list, tuple)) else [value])
        return sorted({str(item) for item in items if str(item) != ""})

    observed = day(controls["observation_date"]) if controls.get("observation_date") else day(end)
    if (FilterIds.DATE_RANGE in moved and FilterIds.OBSERVATION_DATE not in moved
            and previous.get("observation_date") == previous.get("end")):
        observed = day(end)
    return {"start": day(start), "end": day(end), "observation_date": observed,
            "horizon": horizon_days(controls.get("horizon"), previous.get("horizon")),
            "country": values(controls.get("country")), "device": values(controls.get("device")),
            "channel": values(controls.get("channel"))}


def horizon_days(value: Any, previous: Any) -> Any:
    """Return horizon control `value` as a whole number of days when it is one in 1..MAX_HORIZON (as JavaScript's
    Number() reads it: "14" and 14.0 are 14; a boolean is not one), else `previous`."""
    if isinstance(value, bool) or value is None:
        return previous
    try:
        days = float(str(value).strip() or "nan")
    except ValueError:
        return previous
    return int(days) if days.is_integer() and 1 <= days <= MAX_HORIZON else previous


def charts_state(controls: Mapping[str, Any], triggered_props: Any, stored: Any) -> Any:
    """Return the filter state the charts draw: the state from the controls (`state_from_controls`, the controls
    moved being those of `triggered_props`, Dash's {"id.prop": value}), or the stored state itself when it is an
    outage marker or the controls give none."""
    if marker_kind(stored):
        return stored
    moved = {prop.rsplit(".", 1)[0] for prop in (triggered_props or {})}
    return state_from_controls(controls, moved, stored) or stored


TOGGLE_FILTERS_JS = "function(clicks, isOpen) { return !isOpen; }"



def register_filter_toggle(app: Dash) -> None:
    """Register the browser-side callback of the narrow-screen filter bar: the "Filters" button opens and closes
    the controls (no server round trip; the text beside it, `filter_summary`, comes with the filter sync)."""
    app.clientside_callback(TOGGLE_FILTERS_JS, Output(FilterIds.COLLAPSE, "is_open"),
                            Input(FilterIds.TOGGLE, "n_clicks"), State(FilterIds.COLLAPSE, "is_open"),
                            prevent_initial_call=True)
