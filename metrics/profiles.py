"""User profiles as a reusable SQL subquery: first visit (fixed tie-break), dt/week/month, payer, acquisition cost.

`profiles_select(observation_date, filters)` is public so that other SQL (ML features) can join to it. Where the
profiles come from on a connection (shared temporary tables, the stored first visits, or the live search in the
engine's query shape) is one explicit `ProfileSource`, from `profile_source(conn)` (docs/architecture.md).
"""

from __future__ import annotations

import datetime as _dt
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from dashboard import db
from dashboard.backends import FIRST_VISIT_SHAPES, BackendSpec, backend_spec
from dashboard.backends.base import DISTINCT_ON, MIN_INSTANT, ROW_NUMBER
from metrics.dialect import create_table_as, date_of, day_start, float_sum, month_start, week_start
from metrics.filters import Filters

PROFILE_COLUMNS = (
    "user_id", "first_ts", "dt", "week", "month", "region", "device", "channel", "payer", "acquisition_cost",
)


def next_day_start(d: _dt.date) -> _dt.datetime:
    """Return midnight of the day after `d`: `date(ts) <= d` is written `ts < next_day_start(d)` (index friendly)."""
    return day_start(d + _dt.timedelta(days=1))


def first_visits_select(observation_date: _dt.date | None, shape: str | None = None, *,
                        stored: bool = False) -> sa.Select:
    """Return a SELECT of one row per user with a visit dated <= O: user_id, first_ts, dt, region, device, channel.

    The first visit is the smallest session_start; ties go to the smallest channel, device, region
    (code-point order: the text columns are COLLATE "C" on PostgreSQL, bytes on DuckDB and SQLite).
    `observation_date` None: every visit (what `metrics.derived.store_derived_tables` stores).
    `stored=True` reads the table `user_first_visits` (every user's first visit over all the data) and keeps the
    users whose first visit is dated <= O: the same rows, because a user's first visit over all the visits is
    their first visit over the visits dated <= O whenever it is dated <= O itself (and ties share one instant).
    Only pass it when `db.derived_current(conn)` says the table is current. Otherwise one of three equivalent
    `shape`s, the one the engine's planner runs best (its spec's `first_visits_shape`; a backend name stands for
    its spec's shape, None for "row_number"):
    - "min_instant" (DuckDB): min(session_start) per user (a grouped aggregate), the visits at that instant (a
      join, ties included), then row_number over those few candidate rows only (DuckDB's windows are costly);
    - "distinct_on" (PostgreSQL): DISTINCT ON (user_id) in the tie-break order. PostgreSQL estimates its rows
      from the user_id statistics (~40k for 100k users), where `row_number() = 1` was estimated at 0.5 % of the
      visits (29 profiles after the date filter): that made it join every profile to every (day, channel)
      cost row in a nested loop (183M comparisons, 13.5 s of a 13.5 s profiles query at 1.2M visits; 0.8 s
      with DISTINCT ON). A join on the per-user minimum is misestimated the same way;
    - "row_number" (SQLite, portable): row_number over each user's visits.
    """
    if stored:
        t = db.user_first_visits
        stmt = sa.select(t.c.user_id, t.c.first_ts, date_of(t.c.first_ts).label("dt"), t.c.region, t.c.device,
                         t.c.channel)
        return stmt if observation_date is None else stmt.where(t.c.first_ts < next_day_start(observation_date))
    shape = first_visits_shape(shape)
    v = db.visits
    seen = [] if observation_date is None else [v.c.session_start < next_day_start(observation_date)]
    order = (v.c.session_start, v.c.channel, v.c.device, v.c.region)
    if shape == DISTINCT_ON:
        firsts = (
            sa.select(v.c.user_id, v.c.session_start, v.c.region, v.c.device, v.c.channel)
            .where(*seen)
            .ext(distinct_on(v.c.user_id))
            .order_by(v.c.user_id, *order)
            .subquery("first_candidates")
        )
        return _first_visit_row(firsts)
    if shape == MIN_INSTANT:
        firsts = (
            sa.select(v.c.user_id, sa.func.min(v.c.session_start).label("first_ts"))
            .where(*seen)
            .group_by(v.c.user_id)
            .subquery("first_instants")
        )
        source = v.join(firsts, sa.and_(firsts.c.user_id == v.c.user_id, firsts.c.first_ts == v.c.session_start))
        order = order[1:]
    else:
        source = v
    candidates = (
        sa.select(
            v.c.user_id,
            v.c.session_start,
            v.c.region,
            v.c.device,
            v.c.channel,
            sa.func.row_number().over(partition_by=v.c.user_id, order_by=order).label("visit_rank"),
        )
        .select_from(source)
        .where(*seen)
        .subquery("first_candidates")
    )
    return _first_visit_row(candidates).where(candidates.c.visit_rank == 1)


def first_visits_shape(shape: str | None) -> str:
    """Return the first-visit query shape `shape` names: a shape of FIRST_VISIT_SHAPES, the shape of the backend
    of that name (UnsupportedBackendError for an engine with no spec), "row_number" for None."""
    if shape is None:
        return ROW_NUMBER
    if shape in FIRST_VISIT_SHAPES:
        return shape
    return backend_spec(shape).first_visits_shape


def _first_visit_row(visits: sa.Subquery) -> sa.Select:
    """Return the SELECT of a first-visit row from `visits` (user_id, first_ts, dt, region, device, channel)."""
    return sa.select(
        visits.c.user_id,
        visits.c.session_start.label("first_ts"),
        date_of(visits.c.session_start).label("dt"),
        visits.c.region,
        visits.c.device,
        visits.c.channel,
    )


def attribute_conditions(columns, filters: Filters) -> list:
    """Return the WHERE conditions selecting rows whose region/device/channel columns match `filters` (bound params)."""
    conditions = []
    if filters.regions:
        conditions.append(columns.region.in_(filters.regions))
    if filters.devices:
        conditions.append(columns.device.in_(filters.devices))
    if filters.channels:
        conditions.append(columns.channel.in_(filters.channels))
    return conditions


def payers_select(observation_date: _dt.date) -> sa.Select:
    """Return a SELECT of the distinct user_id with an order dated <= O."""
    o = db.orders
    return sa.select(o.c.user_id).where(o.c.event_dt < next_day_start(observation_date)).distinct()


def costs_by_day_select(observation_date: _dt.date, channels: tuple[str, ...] = ()) -> sa.Select:
    """Return a SELECT of dt, channel, costs: cost rows dated <= O summed per (dt, channel), optionally channel-filtered."""
    c = db.costs
    stmt = sa.select(c.c.dt, c.c.channel, float_sum(c.c.costs).label("costs")).where(c.c.dt <= observation_date)
    if channels:
        stmt = stmt.where(c.c.channel.in_(channels))
    return stmt.group_by(c.c.dt, c.c.channel)


def paid_channels_select(observation_date: _dt.date) -> sa.Select:
    """Return a SELECT of the distinct channels with at least one costs row dated <= O (the paid channels)."""
    c = db.costs
    return sa.select(c.c.channel).where(c.c.dt <= observation_date).distinct()


def profiles_select(
    observation_date: _dt.date,
    filters: Filters | None = None,
    *,
    dt_from: _dt.date | None = None,
    dt_to: _dt.date | None = None,
    with_payer: bool = True,
    with_cost: bool = True,
    with_paid: bool = False,
    source: ProfileSource | sa.Table | None = None,
    dialect_name: str | None = None,
    stored: bool = False,
) -> sa.Select:
    """Return a SELECT of the profiles as of O (columns PROFILE_COLUMNS, plus `paid` if asked), filtered.

    `filters` selects users by their profile attributes (its dates are NOT applied here: pass
    `dt_from`/`dt_to` to bound the acquisition date). `acquisition_cost` divides the (dt, channel)
    spend by the number of ALL profiles with that dt and channel, whatever the filters.
    Use it as a subquery: `profiles_select(O, f).subquery("profiles")`. `source`: where the profiles come from
    on the caller's connection, `profile_source(conn)` (the usual way: it decides all of the below), or a table
    already holding every profile as of O, read instead of recomputing them. `dialect_name` (a first-visit shape
    or a backend name, see `first_visits_select`) picks the first-visit query shape; `stored` reads the stored
    first visits (see `first_visits_select`).
    """
    source, dialect_name, stored = _resolved(source, observation_date, dialect_name, stored)
    if source is not None:
        wanted = ["user_id", "first_ts", "dt", "week", "month", "region", "device", "channel"]
        wanted += (["payer"] if with_payer else []) + (["acquisition_cost"] if with_cost else [])
        wanted += ["paid"] if with_paid else []
        conditions = attribute_conditions(source.c, filters) if filters is not None else []
        if dt_from is not None:
            conditions.append(source.c.dt >= dt_from)
        if dt_to is not None:
            conditions.append(source.c.dt <= dt_to)
        stmt = sa.select(*[source.c[name] for name in wanted])
        return stmt.where(*conditions) if conditions else stmt
    # A profile with dt <= dt_to has the same first visit (and the same new-user count of its (dt, channel))
    # whether the visits are read up to O or only up to dt_to, so they are read up to min(O, dt_to) and the
    # `dt <= dt_to` condition is implied. This is not only less to read: PostgreSQL knows no statistics of a
    # CTE's computed `dt`, and a two-sided range on it is estimated at 0.5 % of the profiles (201 of 91,410
    # at 1.2M visits), which sent the retention join into 91k index lookups; one side is estimated at 33 %.
    first_as_of = observation_date if dt_to is None else min(observation_date, dt_to)
    if with_cost:  # read twice (profiles and the new-user count per (dt, channel)): computed once
        p = first_visits_select(first_as_of, dialect_name, stored=stored).cte("first_visits").prefix_with("MATERIALIZED")
    else:
        p = first_visits_select(first_as_of, dialect_name, stored=stored).subquery("first_visits")
    columns = [
        p.c.user_id,
        p.c.first_ts,
        p.c.dt,
        week_start(p.c.dt).label("week"),
        month_start(p.c.dt).label("month"),
        p.c.region,
        p.c.device,
        p.c.channel,
    ]
    from_clause = p
    if with_payer:
        payers = payers_select(observation_date).subquery("payers")
        from_clause = from_clause.outerjoin(payers, payers.c.user_id == p.c.user_id)
        columns.append(sa.case((payers.c.user_id.is_not(None), sa.true()), else_=sa.false()).label("payer"))
    if with_cost:
        day_costs = costs_by_day_select(observation_date).subquery("day_costs")
        day_users = (
            sa.select(p.c.dt, p.c.channel, sa.func.count().label("n")).group_by(p.c.dt, p.c.channel).subquery("day_users")
        )
        # cost per new user of each (dt, channel) with spend: the spend over ALL profiles of that dt and channel
        unit_costs = (
            sa.select(
                day_costs.c.dt,
                day_costs.c.channel,
                (sa.cast(day_costs.c.costs, sa.Double()) / sa.cast(day_users.c.n, sa.Double())).label("unit_cost"),
            )
            .select_from(
                day_costs.join(day_users, sa.and_(day_users.c.dt == day_costs.c.dt, day_users.c.channel == day_costs.c.channel))
            )
            .subquery("unit_costs")
        )
        from_clause = from_clause.outerjoin(
            unit_costs, sa.and_(unit_costs.c.dt == p.c.dt, unit_costs.c.channel == p.c.channel)
        )
        columns.append(
            sa.func.coalesce(unit_costs.c.unit_cost, sa.literal(0.0, sa.Double())).label("acquisition_cost")
        )
    if with_paid:
        paid = paid_channels_select(observation_date).subquery("paid_channels")
        from_clause = from_clause.outerjoin(paid, paid.c.channel == p.c.channel)
        columns.append(sa.case((paid.c.channel.is_not(None), sa.true()), else_=sa.false()).label("paid"))
    stmt = sa.select(*columns).select_from(from_clause)
    conditions = attribute_conditions(p.c, filters) if filters is not None else []
    if dt_from is not None:
        conditions.append(p.c.dt >= dt_from)
    if conditions:
        stmt = stmt.where(*conditions)
    return stmt


def filtered_users_select(observation_date: _dt.date, filters: Filters,
                          source: ProfileSource | sa.Table | None = None, dialect_name: str | None = None,
                          stored: bool = False) -> sa.Select | None:
    """Return a SELECT of user_id of the users selected by the attribute filters, or None when there is none
    (`source`, `dialect_name`, `stored` as in `profiles_select`)."""
    if not filters.has_attribute_filters:
        return None
    source, dialect_name, stored = _resolved(source, observation_date, dialect_name, stored)
    if source is not None:
        return sa.select(source.c.user_id).where(*attribute_conditions(source.c, filters))
    first = first_visits_select(observation_date, dialect_name, stored=stored).subquery("first_visits")
    return sa.select(first.c.user_id).where(*attribute_conditions(first.c, filters))


def profiled_users_select(observation_date: _dt.date, source: ProfileSource | sa.Table | None = None,
                          stored: bool = False) -> sa.Select:
    """Return a SELECT of user_id of every user with a profile as of O (a visit dated <= O)."""
    source, _, stored = _resolved(source, observation_date, None, stored)
    if source is not None:
        return sa.select(source.c.user_id)
    if stored:
        first = first_visits_select(observation_date, stored=True).subquery("first_visits")
        return sa.select(first.c.user_id)
    v = db.visits
    return sa.select(v.c.user_id).where(v.c.session_start < next_day_start(observation_date)).distinct()


def profiles(conn, query):
    """Return the filtered profiles with start <= dt <= min(end, O): PROFILE_COLUMNS, one row per user, by user_id."""
    from metrics.filters import resolve_period
    from metrics.frames import conform, empty_frame, read_frame
    from metrics.query import as_query

    filters = as_query(query).filters

    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(PROFILE_COLUMNS)
    p = profiles_select(period.observation_date, filters, dt_from=period.start, dt_to=period.last,
                        source=profile_source(conn)).subquery("profiles")
    frame = read_frame(conn, sa.select(*[p.c[c] for c in PROFILE_COLUMNS]).order_by(p.c.user_id))
    if frame.empty:
        return empty_frame(PROFILE_COLUMNS)
    return conform(frame)


# ---------------------------------------------------------------------------------------- profile source

@dataclass(frozen=True)
class ProfileSource:
    """Where the profiles on one connection come from, resolved once by `profile_source(conn)` and passed
    explicitly to the SQL builders (`profiles_select(..., source=src)`, `filtered_users_select`,
    `profiled_users_select`).

    `spec`: the engine's spec (its first-visit query shape); `stored`: the derived tables are current for the
    data version, so the first visits are read from `user_first_visits`; `shared`: the temporary tables of the
    `shared_profiles` block the connection is in (None outside one), which then hold every profile as of O.
    """

    spec: BackendSpec
    stored: bool
    shared: _SharedProfiles | None = None

    def table(self, observation_date: _dt.date) -> sa.Table | None:
        """Return the shared temporary table of every profile as of O (built on first use), None outside a block."""
        return None if self.shared is None else self.shared.table(observation_date, self)


def _resolved(source: ProfileSource | sa.Table | None, observation_date: _dt.date, shape: str | None,
              stored: bool) -> tuple[sa.Table | None, str | None, bool]:
    """Return (table of every profile as of O or None, first-visit shape, stored) for a builder's arguments: from
    `source` when it is a ProfileSource, else the arguments as given."""
    if not isinstance(source, ProfileSource):
        return source, shape, stored
    table = source.table(observation_date)
    return table, source.spec.first_visits_shape, table is None and source.stored


class _SharedProfiles:
    """The temporary profile tables of one `shared_profiles` block on one connection (one per O)."""

    def __init__(self, conn):
        self.conn = conn
        self.tables: dict[_dt.date, sa.Table] = {}
        self.source: ProfileSource | None = None  # resolved on the block's first profile_source(conn)

    def table(self, observation_date: _dt.date, source: ProfileSource) -> sa.Table:
        """Return the temporary table of all profiles as of O, built on first use from `source`'s choices."""
        if observation_date not in self.tables:
            name = f"metrics_profiles_{observation_date:%Y%m%d}"  # built from a date only: a safe identifier
            self.conn.execute(sa.text(source.spec.drop_temp_table_sql(name)))  # a leftover of an interrupted block
            self.conn.execute(create_table_as(name, profiles_select(
                observation_date, None, with_paid=True, stored=source.stored,
                dialect_name=source.spec.first_visits_shape)))
            self.tables[observation_date] = _shared_table(name)
        return self.tables[observation_date]

    def drop(self) -> None:
        """Drop the block's temporary tables (a failed transaction takes them with the connection)."""
        spec = backend_spec(self.conn)
        for table in self.tables.values():
            try:
                self.conn.execute(sa.text(spec.drop_temp_table_sql(table.name)))  # name from a date
            except Exception:  # a failed transaction: the temporary table goes with the connection
                pass


# The `shared_profiles` blocks open in the current thread (or task), innermost last. A context variable, not the
# connection: the block's state lives exactly as long as the `with` statement that made it, is never seen by
# another thread, and no connection object is written to. Read only by `profile_source`.
_OPEN_BLOCKS: ContextVar[tuple[_SharedProfiles, ...]] = ContextVar("metrics_shared_profiles", default=())


def profile_source(conn) -> ProfileSource:
    """Return where the profiles on `conn` come from: the shared tables of the `shared_profiles` block `conn` is in,
    else the stored first visits when they are current, else the live search in the engine's query shape.

    The one place that looks up a block's state. Resolve it once per metric call and pass it to every builder.
    """
    for block in _OPEN_BLOCKS.get():
        if block.conn is conn:
            if block.source is None:
                block.source = ProfileSource(backend_spec(conn), stored=db.derived_current(conn), shared=block)
            return block.source
    return ProfileSource(backend_spec(conn), stored=db.derived_current(conn))


def _shared_table(name: str) -> sa.Table:
    """Return the Table object of the temporary profile table `name` (all profile columns and `paid`)."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("user_id", sa.String()),
        sa.Column("first_ts", sa.DateTime()),
        sa.Column("dt", sa.Date()),
        sa.Column("week", sa.Date()),
        sa.Column("month", sa.Date()),
        sa.Column("region", sa.String()),
        sa.Column("device", sa.String()),
        sa.Column("channel", sa.String()),
        sa.Column("payer", sa.Boolean()),
        sa.Column("acquisition_cost", sa.Double()),
        sa.Column("paid", sa.Boolean()),
        prefixes=["TEMPORARY"],
    )


@contextmanager
def shared_profiles(conn):
    """Within the block, metric calls on `conn` compute the profiles once per O (a TEMPORARY table) and reuse them.

    For a page or an export that computes several metrics on one connection. The tables are
    dropped on exit; do not change the event tables inside the block (the profiles would be stale). The block is
    known to `profile_source(conn)` in the thread (or task) that opened it; nothing is stored on `conn`.
    """
    if any(block.conn is conn for block in _OPEN_BLOCKS.get()):  # nested: the outer block owns the tables
        yield conn
        return
    block = _SharedProfiles(conn)
    _OPEN_BLOCKS.set(_OPEN_BLOCKS.get() + (block,))
    try:
        yield conn
    finally:
        # removed by identity (blocks of different connections may close in any order), then its tables dropped
        _OPEN_BLOCKS.set(tuple(b for b in _OPEN_BLOCKS.get() if b is not block))
        block.drop()
