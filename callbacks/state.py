"""The filter state a callback reads: the data's bounds through the cache, and the browser's state checked by them.

The lowest module of the callbacks: the chart framework, the filter sync and the page modules read it; it
reads no page (so a page module may import it without a cycle through the page registry).
"""

from __future__ import annotations

from typing import Any

from callbacks.request_guards import BadCallbackInput
from dashboard.cache import MetricReader
from layouts.filters import DataBounds, FilterState, state_from_store
from layouts.ids import FilterIds


def load_bounds(read: MetricReader) -> DataBounds:
    """Return the data's bounds (dates, known regions, devices, channels) through the metric cache."""
    import metrics

    return DataBounds.from_metric(read(metrics.data_bounds))


def checked_state(stored: Any, bounds: DataBounds) -> FilterState:
    """Return the filter state a browser sent, checked and clamped by the URL's rules (`state_from_store`);
    BadCallbackInput (a 400 answer) when it is not a filter state at all."""
    try:
        return state_from_store(stored, bounds)
    except ValueError as exc:
        raise BadCallbackInput(f"{FilterIds.STATE}.data: {exc}") from None
