"""MetricQuery: the one validated, frozen description of what a metric reads (and the cache key's payload).

The UI builds it from the URL's filter state (`layouts.filters.FilterState.to_query`), every metric function
takes it as its second argument (a bare `Filters` is still accepted and read as `MetricQuery(filters)`), and the
metric cache keys a result on it together with the data version and the metrics code version.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, replace

from metrics.filters import Filters, validate_dimensions, validate_horizon

DEFAULT_HORIZON = 14
GRAINS = (None, "dt", "week", "month")
COMPARE_MODES = ("none", "previous", "year")


@dataclass(frozen=True)
class MetricQuery:
    """Filters (period, observation date, attributes), horizon, dimensions, grain and comparison mode. Hashable."""

    filters: Filters = Filters()
    horizon: int = DEFAULT_HORIZON
    dimensions: tuple[str, ...] = ()
    grain: str | None = None
    ignore_horizon: bool = False
    compare: str = "none"

    def __post_init__(self):
        if not isinstance(self.filters, Filters):
            raise TypeError(f"filters must be metrics.Filters, got {type(self.filters).__name__}")
        object.__setattr__(self, "horizon", validate_horizon(self.horizon))
        object.__setattr__(self, "dimensions", validate_dimensions(self.dimensions))
        if self.grain not in GRAINS:
            raise ValueError(f"unknown grain {self.grain!r}; choose from None, 'dt', 'week', 'month'")
        if self.compare not in COMPARE_MODES:
            raise ValueError(f"unknown comparison {self.compare!r}; choose from {', '.join(COMPARE_MODES)}")
        object.__setattr__(self, "ignore_horizon", bool(self.ignore_horizon))

    @classmethod
    def make(cls, start=None, end=None, observation_date=None, regions=None, devices=None, channels=None, *,
             horizon: int = DEFAULT_HORIZON, dimensions=(), grain: str | None = None, ignore_horizon: bool = False,
             compare: str = "none") -> "MetricQuery":
        """Return a validated MetricQuery from loose values (ISO strings, lists, None), as `Filters.make` takes them."""
        return cls(Filters.make(start, end, observation_date, regions, devices, channels), horizon=horizon,
                   dimensions=dimensions, grain=grain, ignore_horizon=ignore_horizon, compare=compare)

    def with_(self, **changes) -> "MetricQuery":
        """Return a copy with `changes` applied (validated again)."""
        return replace(self, **changes)

    def with_filters(self, **changes) -> "MetricQuery":
        """Return a copy whose filters have `changes` (start, end, observation_date, regions, ...) applied."""
        return replace(self, filters=replace(self.filters, **changes))

    @property
    def start(self) -> _dt.date | None:
        """The first day of the analysis period (None: the data's first day)."""
        return self.filters.start

    @property
    def end(self) -> _dt.date | None:
        """The last day of the analysis period (None: the data's last day)."""
        return self.filters.end

    @property
    def observation_date(self) -> _dt.date | None:
        """The observation date O (None: the period's end)."""
        return self.filters.observation_date


class _Unset:
    """The default of a metric function's keyword that the query supplies (`UNSET`: read it from the query)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = _Unset()


def as_query(query_or_filters, *, defaults: dict | None = None, **overrides) -> MetricQuery:
    """Return the MetricQuery a metric function reads: `query_or_filters` itself, or built around bare Filters.

    `defaults` (horizon, dimensions, grain, ignore_horizon) complete bare Filters only (a function's own default,
    such as `new_users`' dimensions ('dt',)); `overrides` not UNSET replace the query's values, so
    `retention(conn, query, horizon=7)` reads horizon 7. ValueError/TypeError for invalid values.
    """
    if isinstance(query_or_filters, MetricQuery):
        query = query_or_filters
    elif query_or_filters is None or isinstance(query_or_filters, Filters):
        query = MetricQuery(query_or_filters or Filters(), **(defaults or {}))
    else:
        raise TypeError(f"expected metrics.MetricQuery or metrics.Filters, got {type(query_or_filters).__name__}")
    changes = {name: value for name, value in overrides.items() if value is not UNSET}
    return query.with_(**changes) if changes else query


QUERY_FIELDS = ("filters", "horizon", "dimensions", "grain", "ignore_horizon", "compare")


def reads(*fields: str):
    """Return a decorator recording on a metric function which MetricQuery fields besides `filters` it reads.

    The metric cache keys a call on the query narrowed to these fields (`narrowed`), so a horizon change does not
    recompute a metric that does not read the horizon.
    """
    unknown = set(fields) - set(QUERY_FIELDS)
    if unknown:
        raise ValueError(f"not MetricQuery fields: {sorted(unknown)}")

    def mark(fn):
        fn.query_fields = frozenset(("filters", *fields))
        return fn

    return mark


def narrowed(query: MetricQuery, fn) -> MetricQuery:
    """Return `query` with the fields `fn` does not read (see `reads`) reset to their defaults."""
    fields = getattr(fn, "query_fields", None)
    if fields is None:
        return query
    defaults = MetricQuery()
    return query.with_(**{name: getattr(defaults, name) for name in QUERY_FIELDS
                          if name not in fields and getattr(query, name) != getattr(defaults, name)})
