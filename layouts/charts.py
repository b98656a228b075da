"""A chart, declared once: `Chart` names its id, title, help text, frame and view functions, the page parameters
it reads, its empty-state message, whether it has a CSV download and how its card looks.

From one declaration the page gets its card (`Chart.card`, here: pure, no callbacks) and
`callbacks.charts.register_page_charts` its callbacks (body and CSV download). A page's declarations are its
`CHARTS` tuple, in the page's callbacks module (the frame functions read metrics); the page registry
(`callbacks.pages`) hands the cards to the page layout, which only arranges them. See docs/architecture.md,
"Declaring a chart".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping

import pandas as pd
from dash import dcc

from layouts.common import FIGURE_HEIGHT, Palette, chart_card
from layouts.filters import DataBounds, FilterState
from layouts.glossary import HelpTerms

# the FilterState fields a chart's numbers can depend on (what `StateReads` records)
STATE_FIELDS = ("start", "end", "observation_date", "horizon", "countries", "devices", "channels")
# the MetricQuery fields taken from the filter state, and the state fields each one carries (`state_fields_of`);
# the other query fields (dimensions, grain, ignore_horizon, compare) come from the chart's code or page parameters
QUERY_STATE_FIELDS = {"filters": ("start", "end", "observation_date", "countries", "devices", "channels"),
                      "horizon": ("horizon",)}


def state_fields_of(query_fields) -> set[str]:
    """Return the FilterState fields that carry the given MetricQuery fields (`QUERY_STATE_FIELDS`)."""
    return {field_name for name in query_fields for field_name in QUERY_STATE_FIELDS.get(name, ())}


class StateReads:
    """A FilterState that records which of its fields a chart's code reads (`read`): a data field by its name,
    anything else (a method such as `to_store`) as every field. Attribute access is otherwise the state's own."""

    def __init__(self, state: FilterState, read: set[str]):
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_read", read)

    def __getattr__(self, name: str):
        self._read.update((name,) if name in STATE_FIELDS else STATE_FIELDS)
        return getattr(self._state, name)

    def __eq__(self, other) -> bool:
        self._read.update(STATE_FIELDS)
        return real_state(other) == self._state

    __hash__ = None


def real_state(state):
    """Return the FilterState itself, unwrapped from a `StateReads` that records its reads."""
    return state._state if isinstance(state, StateReads) else state


def chart_drawn_id(name: str) -> str:
    """Return the id of the dcc.Store beside chart `name`'s body that says what the body shows: the state fields its
    numbers read and their key, and whether the body holds a graph (callbacks.charts.chart_update)."""
    return f"{name}-drawn"


@dataclass
class ChartRequest:
    """Everything a chart's frame function needs: filter state, page parameters, data bounds, metric reader."""

    state: FilterState
    params: dict[str, str]
    bounds: DataBounds
    read: Any  # dashboard.cache.MetricReader: read(metric function, filters or query, **parameters) -> result
    palette: Palette = field(default_factory=Palette)
    has_data: bool = True  # False: no visit, order or cost row at all (or no tables yet)

    @cached_property
    def filters(self):
        """Return the `metrics.Filters` of the current state (what a metric reads of it, the reader records)."""
        return real_state(self.state).to_filters()

    @cached_property
    def query(self):
        """Return the `metrics.MetricQuery` of the current state (filters, horizon; what a metric reads of it, the
        reader records)."""
        return real_state(self.state).metric_query()


FrameFunction = Callable[[ChartRequest], pd.DataFrame]
ViewFunction = Callable[[pd.DataFrame, ChartRequest], Any]
# a chart's empty-state text: fixed, or computed from the request (message, hint); see callbacks.charts.empty_texts
EmptyMessage = str | Callable[[ChartRequest], tuple[str, str | None]]
# the controls a card shows in its header, built from the page parameter values of the URL
ControlsFunction = Callable[[Mapping[str, str]], Any]
# a chart's column labels (frame column -> the label the chart shows), fixed or computed from the request (a label
# that depends on a page parameter or the horizon: the breakdown's name, "ROI by day 13")
ColumnLabels = Mapping[str, str] | Callable[[ChartRequest], Mapping[str, str]]

DEFAULT_EMPTY_MESSAGE = "No data for these filters."


@dataclass(frozen=True)
class Chart:
    """One chart, declared once: what its card shows and how its numbers are read and drawn.

    `frame` (ChartRequest -> DataFrame) gives the exact numbers shown, which are also the CSV; `view` (frame,
    request -> figure or component) draws them. `params` names the page parameters the chart reads (its callback
    inputs). `csv=False` leaves the CSV button to the page (an AG Grid exporting the rows it shows);
    `own_callbacks=True` means the page's `register(app, ctx)` fills the card itself (content not read through a
    ChartRequest), so no body or CSV callback is generated and the chart is not in the registered charts.

    Downloads: `columns` maps every frame column to the label the chart shows (a mapping, or a function of the
    request when a label depends on it); the CSV and Excel files carry these labels as headers. `xlsx=False`
    leaves out the Excel button. `page` is the page's name in file names (`<page>_<chart>_<start>_<end>.csv`); the
    page registry sets it when the chart's callbacks are registered (`callbacks.charts.register_page_charts`).
    """

    name: str
    title: str
    help: HelpTerms | str | None  # glossary terms (`layouts.glossary.terms`), plain text or none
    frame: FrameFunction | None
    view: ViewFunction | None
    params: tuple[str, ...] = ()
    empty_message: EmptyMessage = DEFAULT_EMPTY_MESSAGE
    csv: bool = True
    min_height: int = FIGURE_HEIGHT
    controls: ControlsFunction | None = None
    own_callbacks: bool = False
    columns: ColumnLabels | None = None
    xlsx: bool = True
    page: str = ""

    def card(self, params: Mapping[str, str] | None = None):
        """Return the chart's card (title, help, controls, CSV and Excel buttons, the body its callback fills), with
        the store saying what the body shows (`chart_drawn_id`) inside it."""
        controls = self.controls(dict(params or {})) if self.controls is not None else None
        card = chart_card(self.name, self.title, self.help, controls=controls, min_height=self.min_height,
                          xlsx=self.xlsx)
        card.children = [*card.children, dcc.Store(id=chart_drawn_id(self.name), data=None)]
        return card

    def column_labels(self, request: ChartRequest | None = None) -> dict[str, str]:
        """Return {frame column: label shown} of the chart for `request` (empty when none are declared)."""
        if self.columns is None:
            return {}
        labels = self.columns(request) if callable(self.columns) else self.columns
        return dict(labels)

    @property
    def slug(self) -> str:
        """Return the chart's part of a file name: its name without the page prefix ("mkt-roi-curves" ->
        "roi-curves")."""
        prefix, _, rest = self.name.partition("-")
        return rest or prefix

    def file_name(self, state: FilterState, extension: str) -> str:
        """Return the download file name for filter state `state`: `<page>_<chart>_<start>_<end>.<extension>`."""
        parts = [file_slug(self.page)] if self.page else []
        parts += [self.slug, state.start.isoformat(), state.end.isoformat()]
        return "_".join(p for p in parts if p) + f".{extension}"


def file_slug(text: str) -> str:
    """Return `text` as a file-name part: lower case, runs of other characters than letters and digits as "-"."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def chart_cards(charts: Iterable[Chart], params: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return {chart name: card} of a page's declared charts, for its page layout to arrange."""
    return {chart.name: chart.card(params) for chart in charts}


def view_only(draw: Callable[[pd.DataFrame], Any]) -> ViewFunction:
    """Return a view function drawing the frame with `draw` alone (the request is not needed)."""
    def view(frame: pd.DataFrame, request: ChartRequest):
        """Return `draw(frame)`."""
        return draw(frame)
    view.__name__ = view.__qualname__ = getattr(draw, "__name__", "view")
    return view
