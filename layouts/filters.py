"""The global filter bar and the URL state it mirrors.

URL query names: period, start, end, observation_date, horizon, country, device, channel (the last three repeat:
`?channel=TipTop&channel=FaceBoom`), plus page-specific parameters (`PageParam`, e.g. breakdown=channel).
Values equal to their default are left out of the URL, so a link without parameters means the default period: the
last 28 days of the data (`DEFAULT_PERIOD_DAYS`). Dates that are a preset of `PERIOD_PRESETS` (last 7 / 28 / 90
days, this month, last month, quarter to date, year to date, all data; "this" and "last" counted from the data's
last date) are written `?period=<preset>`, so a shared link keeps meaning "the last 90 days" as data arrives.
Everything from the URL is validated against the known values of the data (`metrics.data_bounds`);
what cannot be used is dropped with a note the page shows. Nothing from the URL ever reaches SQL other
than through `metrics.Filters`, whose values the metrics bind as parameters.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Iterable, Mapping
from urllib.parse import parse_qs, urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from layouts.ids import FilterIds

DEFAULT_HORIZON = 14
DEFAULT_PERIOD_DAYS = 28  # the default period: the last 28 days of the data (compared with the 28 before)
MAX_HORIZON = 365
MAX_LIST_VALUES = 1000  # values of one dimension a filter state may name (more is a malformed request)
MAX_VALUE_LENGTH = 200  # characters of one dimension value
GLOBAL_PARAMS = ("period", "start", "end", "observation_date", "horizon", "country", "device", "channel")
# URL name -> (FilterState attribute, data_bounds key, label)
LIST_PARAMS = {"country": ("countries", "regions", "country"), "device": ("devices", "devices", "device"),
               "channel": ("channels", "channels", "channel")}


@dataclass(frozen=True)
class PageParam:
    """A page-specific URL parameter: its name, allowed (value, label) choices and default value."""

    name: str
    label: str
    choices: tuple[tuple[str, str], ...]
    default: str

    @property
    def values(self) -> tuple[str, ...]:
        """Return the allowed values."""
        return tuple(value for value, _ in self.choices)


def as_date(value) -> _dt.date | None:
    """Return `value` (ISO text, date, datetime, Timestamp) as a date; None when empty or unreadable."""
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    try:
        return _dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


@dataclass(frozen=True)
class DataBounds:
    """What the data allows: first and last date and the known regions, devices, channels."""

    first_date: _dt.date
    last_date: _dt.date
    regions: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    @classmethod
    def from_metric(cls, bounds: Mapping) -> "DataBounds":
        """Return DataBounds from the dict of `metrics.data_bounds` (today's date when the data is empty)."""
        today = _dt.date.today()
        first = as_date(bounds.get("first_date")) or today
        last = as_date(bounds.get("last_date")) or first
        return cls(first, max(first, last), *(tuple(sorted(str(v) for v in bounds.get(k) or ()))
                                             for k in ("regions", "devices", "channels")))

    @property
    def is_empty(self) -> bool:
        """True when no value of any dimension is known (no data)."""
        return not (self.regions or self.devices or self.channels)


PERIOD_PRESETS: tuple[tuple[str, str], ...] = (
    ("last7", "Last 7 days"), ("last28", "Last 28 days"), ("last90", "Last 90 days"), ("this_month", "This month"),
    ("last_month", "Last month"), ("quarter", "Quarter to date"), ("year", "Year to date"), ("all", "All data"),
)
DEFAULT_PERIOD = "last28"
CUSTOM_PERIOD = "custom"  # the period control's value when the dates are no preset


def default_dates(bounds: DataBounds, end: _dt.date | None = None) -> tuple[_dt.date, _dt.date]:
    """Return (start, end) of the default period ending on `end` (the data's last date when None): its
    DEFAULT_PERIOD_DAYS days, or fewer when the data starts later."""
    end = bounds.last_date if end is None else end
    return max(bounds.first_date, end - _dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)), end


def preset_dates(preset: str, bounds: DataBounds) -> tuple[_dt.date, _dt.date]:
    """Return (start, end) of period preset `preset` (a key of PERIOD_PRESETS) counted from the data's last date
    ("this month" is the month of the last date), clamped to the data; ValueError for an unknown preset."""
    if preset not in dict(PERIOD_PRESETS):
        raise ValueError(f"unknown period {preset!r}")
    last = bounds.last_date
    if preset.startswith("last") and preset[4:].isdigit():
        start, end = last - _dt.timedelta(days=int(preset[4:]) - 1), last
    elif preset == "this_month":
        start, end = last.replace(day=1), last
    elif preset == "last_month":
        end = last.replace(day=1) - _dt.timedelta(days=1)
        start = end.replace(day=1)
    elif preset == "quarter":
        start, end = last.replace(month=3 * ((last.month - 1) // 3) + 1, day=1), last
    elif preset == "year":
        start, end = last.replace(month=1, day=1), last
    else:  # "all"
        start, end = bounds.first_date, last
    end = max(bounds.first_date, end)  # "last month" of data that starts this month: its first day
    return max(bounds.first_date, start), end


MATCH_ORDER = ("last7", "last28", "last90", "all", "this_month", "last_month", "quarter", "year")


def matching_preset(start: _dt.date, end: _dt.date, bounds: DataBounds, shown: str | None = None) -> str:
    """Return the preset whose dates are (start, end): `shown` (the one the control shows) when it is one, else the
    first of MATCH_ORDER ("all" before "year to date" when the data starts this year); CUSTOM_PERIOD when none is."""
    for preset in ((shown,) if shown in MATCH_ORDER else ()) + MATCH_ORDER:
        if preset_dates(preset, bounds) == (start, end):
            return preset
    return CUSTOM_PERIOD


def period_options(current: str) -> list[dict]:
    """Return the period control's options: the presets, and "Custom dates" (not selectable) when `current` is
    no preset."""
    options = [{"label": label, "value": value} for value, label in PERIOD_PRESETS]
    if current == CUSTOM_PERIOD:
        options.append({"label": "Custom dates", "value": CUSTOM_PERIOD, "disabled": True})
    return options


@dataclass(frozen=True)
class FilterState:
    """The validated global filters: explicit dates, horizon and sorted value tuples (empty = all)."""

    start: _dt.date
    end: _dt.date
    observation_date: _dt.date
    horizon: int = DEFAULT_HORIZON
    countries: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    @classmethod
    def default(cls, bounds: DataBounds) -> "FilterState":
        """Return the default state: the last DEFAULT_PERIOD_DAYS days of the data, observed at their end, horizon 14,
        no filters."""
        start, end = default_dates(bounds)
        return cls(start, end, end)

    def to_filters(self):
        """Return the `metrics.Filters` of this state."""
        from metrics import Filters

        return Filters.make(start=self.start, end=self.end, observation_date=self.observation_date,
                            regions=self.countries, devices=self.devices, channels=self.channels)

    def metric_query(self, **changes):
        """Return the `metrics.MetricQuery` of this state (its filters and horizon), with `changes` applied."""
        from metrics import MetricQuery

        return MetricQuery(self.to_filters(), horizon=self.horizon).with_(**changes)

    def to_store(self) -> dict[str, Any]:
        """Return the state as JSON data for the dcc.Store."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "observation_date": self.observation_date.isoformat(), "horizon": self.horizon,
                "country": list(self.countries), "device": list(self.devices), "channel": list(self.channels)}

    @classmethod
    def from_store(cls, data: Mapping[str, Any]) -> "FilterState":
        """Return the state written by `to_store` (ValueError when data is not such a dict)."""
        try:
            return cls(as_date(data["start"]), as_date(data["end"]), as_date(data["observation_date"]),
                       int(data["horizon"]), tuple(data["country"]), tuple(data["device"]),
                       tuple(data["channel"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a filter state: {data!r}") from exc


def attribute_options(counts, state: FilterState, bounds: DataBounds) -> dict[str, list[dict]]:
    """Return {"country"|"device"|"channel": dropdown options}: each value with its users to date under the other two
    filters ("France (12,345)"), from `counts` (`metrics.users_by_attributes`: region, device, channel, users).

    Without a filter on the other two attributes every known value is offered (a channel with spend and no user yet
    shows 0); with one, only the values that have users under it, plus the values already chosen.
    """
    options: dict[str, list[dict]] = {}
    for url_name, (attr, bounds_key, _) in LIST_PARAMS.items():
        column = "region" if url_name == "country" else url_name
        others = [(("region" if other == "country" else other), getattr(state, other_attr))
                  for other, (other_attr, _, _) in LIST_PARAMS.items() if other != url_name]
        rows = counts
        for other_column, chosen in others:
            if chosen:
                rows = rows[rows[other_column].isin(chosen)]
        users = rows.groupby(column)["users"].sum() if len(rows) else {}
        narrowed = any(chosen for _, chosen in others)
        chosen_here = set(getattr(state, attr))
        values = sorted(value for value in getattr(bounds, bounds_key)
                        if not narrowed or int(users.get(value, 0)) > 0 or value in chosen_here)
        options[url_name] = [{"label": f"{value} ({int(users.get(value, 0)):,})", "value": value} for value in values]
    return options


def _first(query: dict[str, list[str]], name: str) -> str | None:
    """Return the first non-empty value of `name` in a parsed query."""
    values = [v for v in query.get(name, []) if v.strip()]
    return values[0].strip() if values else None


def _date_param(query, name: str, bounds: DataBounds, notes: list[str]) -> _dt.date | None:
    """Return the date of URL parameter `name`, clamped to the data's range, with notes for bad values."""
    return checked_date(name, _first(query, name), bounds, notes)


def checked_date(name: str, raw: str | None, bounds: DataBounds, notes: list[str]) -> _dt.date | None:
    """Return the date in text `raw` clamped to the data's range (None when empty or not YYYY-MM-DD), with notes.

    The one rule for dates from outside (a URL, a filter state sent by a browser): a date before the data's
    first date becomes the first date, one after its last date the last date; text that is not a date is ignored.
    """
    if raw is None or not str(raw).strip():
        return None
    raw = str(raw).strip()
    value = as_date(raw)
    if value is None or len(raw) != 10:
        notes.append(f"Ignored {name}={raw[:40]!r}: not a date (YYYY-MM-DD).")
        return None
    if value < bounds.first_date:
        notes.append(f"{name} {value} is before the first date of the data; using {bounds.first_date}.")
        return bounds.first_date
    if value > bounds.last_date:
        notes.append(f"{name} {value} is after the last date of the data; using {bounds.last_date}.")
        return bounds.last_date
    return value


def whole_days(value: Any) -> int | None:
    """Return `value` (a number or its text, as a URL or a number input gives it) as a whole number, None when it
    is not one (7.5, "abc", true, infinity)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
            return int(value)  # exact for long digit strings (refused beyond Python's 4300 digits)
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if number.is_integer() else None


def normalise_state(start, end, observation_date, horizon, countries: Iterable[str], devices: Iterable[str],
                    channels: Iterable[str], bounds: DataBounds, notes: list[str] | None = None) -> FilterState:
    """Return a valid FilterState from raw values: defaults filled, dates ordered, unknown values dropped."""
    notes = notes if notes is not None else []
    end = as_date(end) or bounds.last_date
    start = as_date(start) or default_dates(bounds, min(max(end, bounds.first_date), bounds.last_date))[0]
    start = min(max(start, bounds.first_date), bounds.last_date)
    end = min(max(end, bounds.first_date), bounds.last_date)
    if end < start:
        notes.append(f"end {end} was before start {start}; the two were swapped.")
        start, end = end, start
    obs = as_date(observation_date) or end
    if obs > bounds.last_date:
        notes.append(f"observation_date {obs} is after the last date of the data; using {bounds.last_date}.")
        obs = bounds.last_date
    if obs < start:
        notes.append(f"observation_date {obs} was before start {start}; using the end date {end}.")
        obs = end
    horizon_days = whole_days(horizon) if horizon not in (None, "") else DEFAULT_HORIZON
    if horizon_days is None:
        notes.append(f"Ignored horizon={str(horizon)[:40]!r}: not a whole number of days.")
        horizon_days = DEFAULT_HORIZON
    if not 1 <= horizon_days <= MAX_HORIZON:
        notes.append(f"Ignored horizon={horizon_days}: it must be between 1 and {MAX_HORIZON} days.")
        horizon_days = DEFAULT_HORIZON
    lists = []
    for url_name, raw_values in (("country", countries), ("device", devices), ("channel", channels)):
        known = set(getattr(bounds, LIST_PARAMS[url_name][1]))
        if isinstance(raw_values, str):  # a single-value dropdown sends its value, not a list
            raw_values = [raw_values]
        values = {str(v) for v in (raw_values or ()) if v is not None and str(v) != ""}
        unknown = sorted(values - known)
        if unknown:
            shown = ", ".join(repr(u[:40]) for u in unknown[:5]) + (f" and {len(unknown) - 5} more"
                                                                    if len(unknown) > 5 else "")
            notes.append(f"Unknown {url_name} {shown} ignored.")
        lists.append(tuple(sorted(values & known)))
    return FilterState(start, end, obs, horizon_days, *lists)


def parse_query(search: str | None, bounds: DataBounds,
                page_params: Iterable[PageParam] = ()) -> tuple[FilterState, dict[str, str], list[str]]:
    """Return (filter state, page parameter values, notes on ignored values) read from a URL query string."""
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    notes: list[str] = []
    start = _date_param(query, "start", bounds, notes)
    end = _date_param(query, "end", bounds, notes)
    period = _first(query, "period")
    if period is not None:
        if period not in dict(PERIOD_PRESETS):
            notes.append(f"Ignored period={period[:40]!r}: choose one of {', '.join(dict(PERIOD_PRESETS))}.")
        elif start is not None or end is not None:
            notes.append(f"Ignored period={period}: the link also gives start or end dates, which are used.")
        else:
            start, end = preset_dates(period, bounds)
    obs = _date_param(query, "observation_date", bounds, notes)
    state = normalise_state(start, end, obs, _first(query, "horizon"), query.get("country", []),
                            query.get("device", []), query.get("channel", []), bounds, notes)
    page_values, page_notes = parse_page_params(search, page_params)
    return state, page_values, notes + page_notes


STORE_DATES = ("start", "end", "observation_date")
STORE_LISTS = ("country", "device", "channel")


def store_shape_error(data: Any) -> str | None:
    """Return why `data` is not a filter state as `FilterState.to_store` writes it (JSON types and sizes checked,
    not values: those are clamped like the URL's), or None when it is one."""
    if not isinstance(data, Mapping):
        return f"the filter state must be an object, not {type(data).__name__}"
    expected = set(STORE_DATES) | set(STORE_LISTS) | {"horizon"}
    if set(data) != expected:
        missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
        return "the filter state " + "; ".join(
            part for part in (f"lacks {', '.join(missing)}" if missing else "",
                              f"has unknown keys {', '.join(k[:40] for k in extra[:5])}" if extra else "") if part)
    for name in STORE_DATES:
        if not isinstance(data[name], str) or len(data[name]) > 40:
            return f"{name} must be a date text YYYY-MM-DD"
    horizon = data["horizon"]
    if isinstance(horizon, bool) or not isinstance(horizon, (int, float, str)) or (
            isinstance(horizon, str) and len(horizon) > 40):
        return "horizon must be a number of days"
    for name in STORE_LISTS:
        values = data[name]
        if not isinstance(values, list) or len(values) > MAX_LIST_VALUES:
            return f"{name} must be a list of at most {MAX_LIST_VALUES} values"
        if not all(isinstance(v, str) and len(v) <= MAX_VALUE_LENGTH for v in values):
            return f"{name} must hold texts of at most {MAX_VALUE_LENGTH} characters"
    return None


def state_from_store(data: Any, bounds: DataBounds, notes: list[str] | None = None) -> FilterState:
    """Return the valid FilterState of a filter state sent by a browser, checked by the URL's rules.

    Dates outside the data are clamped to its first or last date, a horizon outside 1..MAX_HORIZON or not a
    number becomes the default, unknown dimension values are dropped (exactly what `parse_query` does with the
    same values in a URL). ValueError when `data` is not a filter state at all (`store_shape_error`).
    """
    problem = store_shape_error(data)
    if problem is not None:
        raise ValueError(problem)
    notes = notes if notes is not None else []
    start, end, obs = (checked_date(name, data[name], bounds, notes) for name in STORE_DATES)
    return normalise_state(start, end, obs, data["horizon"], data["country"], data["device"], data["channel"],
                           bounds, notes)


def page_param_value(param: PageParam, raw: Any) -> str:
    """Return `raw` when it is one of the parameter's choices, else its default (the URL's rule)."""
    return raw if isinstance(raw, str) and raw in param.values else param.default


def parse_page_params(search: str | None, page_params: Iterable[PageParam]) -> tuple[dict[str, str], list[str]]:
    """Return ({name: value} of a page's specific URL parameters, defaults filled in; notes on ignored values)."""
    query = parse_qs((search or "").lstrip("?"), keep_blank_values=False)
    values, notes = {}, []
    for param in page_params:
        raw = _first(query, param.name)
        if raw is not None and raw not in param.values:
            notes.append(f"Ignored {param.name}={raw!r}: choose one of {', '.join(param.values)}.")
            raw = None
        values[param.name] = raw if raw is not None else param.default
    return values, notes


def to_query(state: FilterState, bounds: DataBounds, page_values: Mapping[str, str] | None = None,
             page_params: Iterable[PageParam] = ()) -> str:
    """Return the URL query string ("?..." or "") of a state; values equal to their default are left out."""
    pairs: list[tuple[str, str]] = []
    preset = matching_preset(state.start, state.end, bounds)
    if (state.start, state.end) == default_dates(bounds):
        pass
    elif preset != CUSTOM_PERIOD:
        pairs.append(("period", preset))
    elif state.end == bounds.last_date:
        pairs.append(("start", state.start.isoformat()))
    elif state.start == default_dates(bounds, state.end)[0]:  # the 28 days up to an end: the end is enough
        pairs.append(("end", state.end.isoformat()))
    else:
        pairs += [("start", state.start.isoformat()), ("end", state.end.isoformat())]
    if state.observation_date != state.end:
        pairs.append(("observation_date", state.observation_date.isoformat()))
    if state.horizon != DEFAULT_HORIZON:
        pairs.append(("horizon", str(state.horizon)))
    for url_name, (attr, _, _) in LIST_PARAMS.items():
        pairs.extend((url_name, value) for value in getattr(state, attr))
    page_values = page_values or {}
    for param in page_params:
        value = page_values.get(param.name)
        if value is not None and value != param.default and value in param.values:
            pairs.append((param.name, value))
    return "?" + urlencode(pairs) if pairs else ""


def global_query(state: FilterState, bounds: DataBounds) -> str:
    """Return the query string of the global filters only (what navigation links carry between pages)."""
    return to_query(state, bounds)


SUMMARY_ATTRIBUTES = ("countries", "devices", "channels")  # FilterState fields, named by their plural


def filter_summary(state: FilterState) -> str:
    """Return the filters in force in a few words, for beside the narrow screen's "Filters" button: the dates, then
    per attribute its one value or how many ("2026-10-04 – 2026-10-31 · France · 2 channels")."""
    parts = [f"{state.start.isoformat()} – {state.end.isoformat()}"]
    for attr in SUMMARY_ATTRIBUTES:
        values = getattr(state, attr)
        if len(values) == 1:
            parts.append(values[0])
        elif len(values) > 1:
            parts.append(f"{len(values)} {attr}")
    return " · ".join(parts)


def filter_bar() -> html.Div:
    """Return the global filter bar (values, options and date limits are filled by the URL callback).

    Below the md breakpoint (768 px) the controls sit in a collapse that a "Filters" button opens, with the
    filters in force summarised beside it (the button works in the browser, the filter sync writes the summary:
    `filter_summary`); from md up the button is hidden and the controls are always shown (assets/style.css),
    whatever the collapse's state.
    """
    def labelled(label, control, width, group_id=None, help_text=None):
        return dbc.Col(html.Div([html.Label(label, className="filter-label"), control], title=help_text),
                       xs=12, md=6, xl=width, id=group_id or f"{getattr(control, 'id', label)}-col")

    dropdown = dict(multi=True, clearable=True, searchable=True, className="filter-dropdown")
    toggle = html.Div(
        [dbc.Button("Filters", id=FilterIds.TOGGLE, size="sm", color="secondary", outline=True,
                    className="filter-toggle", n_clicks=0, title="Show or hide the filters"),
         html.Span(id=FilterIds.SUMMARY, className="filter-summary small text-muted")],
        className="d-flex d-md-none align-items-center gap-2 filter-toggle-row",
    )
    controls = dbc.Row(
        [
            labelled("Period", html.Div(
                [dcc.Dropdown(id=FilterIds.PERIOD, options=period_options(DEFAULT_PERIOD), value=DEFAULT_PERIOD,
                              clearable=False, searchable=False, className="filter-period"),
                 dcc.DatePickerRange(id=FilterIds.DATE_RANGE, display_format="YYYY-MM-DD", first_day_of_week=1,
                                     minimum_nights=0, updatemode="bothdates", className="filter-dates")],
                className="filter-period-group"), 4, FilterIds.PERIOD_GROUP,
                "A preset period counted from the data's last date, or any dates in the calendar"),
            labelled("Country", dcc.Dropdown(id=FilterIds.COUNTRY, placeholder="All countries", **dropdown), 2),
            labelled("Device", dcc.Dropdown(id=FilterIds.DEVICE, placeholder="All devices", **dropdown), 2),
            labelled("Channel", dcc.Dropdown(id=FilterIds.CHANNEL, placeholder="All channels", **dropdown), 2),
            labelled("As of", dcc.DatePickerSingle(id=FilterIds.OBSERVATION_DATE, display_format="YYYY-MM-DD",
                                                   first_day_of_week=1, className="filter-as-of"),
                     1, FilterIds.OBSERVATION_GROUP,
                     "Observation date: the metrics count only events up to this date (default: the period's end)"),
            labelled("Horizon", dcc.Input(id=FilterIds.HORIZON, type="number", min=1, max=MAX_HORIZON,
                                          step=1, debounce=True, className="form-control form-control-sm"),
                     1, FilterIds.HORIZON_GROUP, "Horizon in days: cohort metrics cover lifetimes 0 .. horizon-1"),
        ],
        className="g-2 align-items-end",
    )
    return html.Div(
        [toggle, dbc.Collapse(controls, id=FilterIds.COLLAPSE, is_open=False, className="filter-collapse"),
         dcc.Store(id=FilterIds.STATE), dcc.Store(id=FilterIds.OUTAGE, data=None)],
        id=FilterIds.BAR, className="filter-bar mb-3",
    )


def filter_notes(notes: list[str]):
    """Return the visible note listing URL values that were ignored or corrected (None when there are none)."""
    if not notes:
        return None
    return dbc.Alert([html.Strong("Note: "),
                      html.Ul([html.Li(n) for n in notes], className="mb-0")],
                     color="warning", dismissable=True, className="py-2 small", id="filter-notes-alert")
