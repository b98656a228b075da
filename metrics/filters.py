"""Filters (the one way filters travel, the cache key), the resolved period, dimension validation."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Iterable, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db

DIMENSIONS = ("region", "device", "channel", "payer", "dt", "week", "month")
ALL_USERS = "All users"


def parse_date(value, name: str = "date") -> _dt.date | None:
    """Return `value` (ISO string, date, datetime, pandas Timestamp or None) as a `datetime.date` or None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return _dt.date.fromisoformat(text) if len(text) <= 10 else _dt.datetime.fromisoformat(text).date()
        except ValueError as exc:
            raise ValueError(f"{name}: not an ISO date (YYYY-MM-DD): {value!r}") from exc
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime().date()
    raise ValueError(f"{name}: not a date: {value!r}")


def _values(values: Iterable[str] | str | None) -> tuple[str, ...]:
    """Return the values as a sorted (code-point), de-duplicated tuple of strings."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [values]
    return tuple(sorted({str(v) for v in values if v is not None and str(v) != ""}))


@dataclass(frozen=True)
class Filters:
    """Analysis period, observation date and attribute filters (sorted tuples; empty = all). Hashable."""

    start: _dt.date | None = None
    end: _dt.date | None = None
    observation_date: _dt.date | None = None
    regions: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()

    @classmethod
    def make(cls, start=None, end=None, observation_date=None, regions=None, devices=None, channels=None) -> "Filters":
        """Return normalised Filters from ISO strings / dates / lists / None; ValueError when end < start."""
        start_d = parse_date(start, "start")
        end_d = parse_date(end, "end")
        if start_d is not None and end_d is not None and end_d < start_d:
            raise ValueError(f"end {end_d.isoformat()} is before start {start_d.isoformat()}")
        return cls(
            start=start_d,
            end=end_d,
            observation_date=parse_date(observation_date, "observation_date"),
            regions=_values(regions),
            devices=_values(devices),
            channels=_values(channels),
        )

    @property
    def has_attribute_filters(self) -> bool:
        """True when any of regions, devices, channels is restricted."""
        return bool(self.regions or self.devices or self.channels)


class Period(NamedTuple):
    """Resolved dates: start, end, observation date O, and last = min(end, O) (a named tuple)."""

    start: _dt.date
    end: _dt.date
    observation_date: _dt.date
    last: _dt.date

    @property
    def is_empty(self) -> bool:
        """True when the activity / economics period [start, last] holds no date."""
        return self.last < self.start

    def dates(self) -> list[_dt.date]:
        """Return every date of [start, last]."""
        n = (self.last - self.start).days + 1
        return [self.start + _dt.timedelta(days=i) for i in range(max(n, 0))]


def data_date_range(conn: Connection) -> tuple[_dt.date | None, _dt.date | None]:
    """Return the first and last date of session_start in the data.

    Orders-only data (no visit at all) falls back to the dates of event_dt, so order-based views (RFM
    segments) default to the data's own period; (None, None) when there is neither.
    """
    row = conn.execute(sa.select(sa.func.min(db.visits.c.session_start), sa.func.max(db.visits.c.session_start))).one()
    if row[0] is None:
        row = conn.execute(sa.select(sa.func.min(db.orders.c.event_dt), sa.func.max(db.orders.c.event_dt))).one()
    return _as_date(row[0]), _as_date(row[1])


def _as_date(value) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite returns ISO text
        return _dt.date.fromisoformat(value[:10])
    if isinstance(value, _dt.datetime):
        return value.date()
    return value


def resolve_period(conn: Connection, filters: Filters) -> Period:
    """Return the Period of `filters` with defaults filled in from the data (today when the data is empty)."""
    start, end, obs = filters.start, filters.end, filters.observation_date
    if start is None or end is None:
        first, last = data_date_range(conn)
        fallback = _dt.date.today()
        if start is None:
            start = first or end or fallback
        if end is None:
            end = last or start
            if end < start:
                end = start
    if obs is None:
        obs = end
    return Period(start=start, end=end, observation_date=obs, last=min(end, obs))


def validate_dimensions(dimensions) -> tuple[str, ...]:
    """Return `dimensions` as a tuple after checking each is in DIMENSIONS and none repeats (ValueError otherwise)."""
    if dimensions is None:
        return ()
    if isinstance(dimensions, str):
        dimensions = (dimensions,)
    dims = tuple(dimensions)
    for d in dims:
        if d not in DIMENSIONS:
            raise ValueError(f"unknown dimension {d!r}; choose from {', '.join(DIMENSIONS)}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"dimension repeated in {dims!r}")
    return dims


def validate_horizon(horizon) -> int:
    """Return `horizon` as an int >= 1 (ValueError otherwise)."""
    try:
        h = int(horizon)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}") from exc
    if h != horizon and not (isinstance(horizon, str)):
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if h < 1:
        raise ValueError(f"horizon must be >= 1, got {h}")
    return h
