"""User profiles as a reusable SQL subquery: first visit (fixed tie-break), dt/week/month, payer, acquisition cost.

`profiles_select(observation_date, filters)` is public so that other SQL (ML features) can join to it.
"""

from __future__ import annotations

import datetime as _dt
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on

from dashboard import db
from metrics.dialect import (create_table_as, date_of, day_start, drop_temp_table_sql, float_sum, month_start,
                             week_start)
from metrics.filters import Filters

PROFILE_COLUMNS = (
    "user_id", "first_ts", "dt", "week", "month", "region", "device", "channel", "payer", "acquisition_cost",
)


def next_day_start(d: _dt.date) -> _dt.datetime:
    """Return midnight of the day after `d`: `date(ts) <= d` is written `ts < next_day_start(d)` (index friendly)."""
    return day_start(d + _dt.timedelta(days=1))


def first_visits_select(observation_date: _dt.date | None, dialect_name: str | None = None, *,
                        stored: bool = False) -> sa.Select:
    """Return a SELECT of one row per user with a visit dated <= O: user_id, first_ts, dt, region, device, channel.

    The first visit is the smallest session_start; ties go to the smallest channel, device, region
    (code-point order: the text columns are COLLATE "C" on PostgreSQL, bytes on DuckDB and SQLite).
    `observation_date` None: every visit (what `metrics.derived.store_derived_tables` stores).
    `stored=True` reads the table `user_first_visits` (every user's first visit over all the data) and keeps the
    users whose first visit is dated <= O: the same rows, because a user's first visit over all the visits is
    their first visit over the visits dated <= O whenever it is dated <= O itself (and ties share one instant).
    Only pass it when `db.derived_current(conn)` says the table is current. Otherwise
    three equivalent shapes, chosen for the planner of `dialect_name`:
    - "duckdb": min(session_start) per user (a grouped aggregate), the visits at that instant (a join,
      ties included), then row_number over those few candidate rows only (DuckDB's windows are costly);
    - "postgresql": DISTINCT ON (user_id) in the tie-break order. PostgreSQL estimates its rows from the
      user_id statistics (~40k for 100k users), where `row_number() = 1` was estimated at 0.5 % of the
      visits (29 profiles after the date filter): that made it join every profile to every (day, channel)
      cost row in a nested loop (183M comparisons, 13.5 s of a 13.5 s profiles query at 1.2M visits; 0.8 s
      with DISTINCT ON). A join on the per-user minimum is misestimated the same way;
    - otherwise (SQLite): row_number over each user's visits.
    """
    if stored:
        t = db.user_first_visits
        stmt = sa.select(t.c.user_id, t.c.first_ts, date_of(t.c.first_ts).label("dt"), t.c.region, t.c.device,
                         t.c.channel)
        return stmt if observation_date is None else stmt.where(t.c.first_ts < next_day_start(observation_date))
    v = db.visits
    seen = [] if observation_date is None else [v.c.session_start < next_day_start(observation_date)]
    order = (v.c.session_start, v.c.channel, v.c.device, v.c.region)
    if dialect_name == "postgresql":
        firsts = (
            sa.select(v.c.user_id, v.c.session_start, v.c.region, v.c.device, v.c.channel)
            .where(*seen)
            .ext(distinct_on(v.c.user_id))
            .order_by(v.c.user_id, *order)
            .subquery("first_candidates")
        )
        return _first_visit_row(firsts)
    if dialect_name == "duckdb":
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
    source: sa.Table | None = None,
    dialect_name: str | None = None,
    stored: bool = False,
) -> sa.Select:
    """Return a SELECT of the profiles as of O (columns PROFILE_COLUMNS, plus `paid` if asked), filtered.

    `filters` selects users by their profile attributes (its dates are NOT applied here: pass
    `dt_from`/`dt_to` to bound the acquisition date). `acquisition_cost` divides the (dt, channel)
    spend by the number of ALL profiles with that dt and channel, whatever the filters.
    Use it as a subquery: `profiles_select(O, f).subquery("profiles")`. `source`: a table already
    holding every profile as of O (see `shared_profiles`), read instead of recomputing them.
    `dialect_name` (`conn.dialect.name`) picks the first-visit query shape its planner runs best; `stored` reads
    the stored first visits (see `first_visits_select`). `first_visit_options(conn, O)` gives all three.
    """
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


def filtered_users_select(observation_date: _dt.date, filters: Filters, source: sa.Table | None = None,
                          dialect_name: str | None = None, stored: bool = False) -> sa.Select | None:
    """Return a SELECT of user_id of the users selected by the attribute filters, or None when there is none."""
    if not filters.has_attribute_filters:
        return None
    if source is not None:
        return sa.select(source.c.user_id).where(*attribute_conditions(source.c, filters))
    first = first_visits_select(observation_date, dialect_name, stored=stored).subquery("first_visits")
    return sa.select(first.c.user_id).where(*attribute_conditions(first.c, filters))


def profiled_users_select(observation_date: _dt.date, source: sa.Table | None = None, stored: bool = False) -> sa.Select:
    """Return a SELECT of user_id of every user with a profile as of O (a visit dated <= O)."""
    if source is not None:
        return sa.select(source.c.user_id)
    if stored:
        first = first_visits_select(observation_date, stored=True).subquery("first_visits")
        return sa.select(first.c.user_id)
    v = db.visits
    return sa.select(v.c.user_id).where(v.c.session_start < next_day_start(observation_date)).distinct()


# ------------------------------------------------------------------------------------- stored first visits

def first_visit_options(conn, observation_date: _dt.date) -> dict:
    """Return the keyword arguments `source`, `stored`, `dialect_name` of `profiles_select` and
    `filtered_users_select` for `conn`: the shared table of a `shared_profiles` block, else the stored first visits
    when current, else the backend's live query shape."""
    source = shared_source(conn, observation_date)
    return {"source": source, "stored": source is None and db.derived_current(conn),
            "dialect_name": conn.dialect.name}


def profiles(conn, filters: Filters):
    """Return the filtered profiles with start <= dt <= min(end, O): PROFILE_COLUMNS, one row per user, by user_id."""
    from metrics.filters import resolve_period
    from metrics.frames import conform, empty_frame, read_frame

    period = resolve_period(conn, filters)
    if period.is_empty:
        return empty_frame(PROFILE_COLUMNS)
    p = profiles_select(period.observation_date, filters, dt_from=period.start, dt_to=period.last,
                        **first_visit_options(conn, period.observation_date)).subquery("profiles")
    frame = read_frame(conn, sa.select(*[p.c[c] for c in PROFILE_COLUMNS]).order_by(p.c.user_id))
    if frame.empty:
        return empty_frame(PROFILE_COLUMNS)
    return conform(frame)


# ---------------------------------------------------------------------------------------------- sharing

_SHARED_KEY = "metrics.shared_profiles"


def _shared_table(name: str) -> sa.Table:
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


def shared_source(conn, observation_date: _dt.date) -> sa.Table | None:
    """Return the temporary table of all profiles as of O inside a `shared_profiles` block (built on first use), else None."""
    state = conn.info.get(_SHARED_KEY)
    if state is None:
        return None
    if observation_date not in state:
        name = f"metrics_profiles_{observation_date:%Y%m%d}"  # built from a date only: a safe identifier
        conn.execute(sa.text(drop_temp_table_sql(conn.dialect.name, name)))  # a leftover of an interrupted block
        conn.execute(create_table_as(name, profiles_select(observation_date, None, with_paid=True,
                                                            stored=db.derived_current(conn),
                                                            dialect_name=conn.dialect.name)))
        state[observation_date] = _shared_table(name)
    return state[observation_date]


@contextmanager
def shared_profiles(conn):
    """Within the block, metric calls on `conn` compute the profiles once per O (a TEMPORARY table) and reuse them.

    For a page or an export that computes several metrics on one connection. The tables are
    dropped on exit; do not change the event tables inside the block (the profiles would be stale).
    """
    if conn.info.get(_SHARED_KEY) is not None:  # nested: the outer block owns the tables
        yield conn
        return
    conn.info[_SHARED_KEY] = {}
    try:
        yield conn
    finally:
        state = conn.info.pop(_SHARED_KEY, {})
        for table in state.values():
            try:
                conn.execute(sa.text(drop_temp_table_sql(conn.dialect.name, table.name)))  # name from a date
            except Exception:  # a failed transaction: the temporary table goes with the connection
                pass
