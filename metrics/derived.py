"""The derived tables: what the metrics would otherwise compute from all the visits in every query, stored once.

- `user_first_visits` (user_id, user_key, first_ts, region, device, channel): every user's first visit over all
  the visits, with the contract's tie-break (`profiles.first_visits_select`), and a dense integer key per user.
  The profiles as of O are its rows with `first_ts` dated <= O: a user's first visit over all the visits is also
  their first over the visits dated <= O whenever it is dated <= O itself (tied visits share one instant).
- `user_days` (user_key, day): the distinct (user, date(session_start)) of the visits. The activity metrics count
  these pairs in a period (days <= the period's last day <= O, so the as-of rule holds); integer keys make their
  hashing and windows about twice as fast as over text ids.

Both are rebuilt by `store_derived_tables` inside the transaction that changes the visits, and read only while
`db.derived_current(conn)` (app_meta's derived version equals the data version).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dashboard import db
from dashboard.backends import backend_spec
from metrics.dialect import date_of
from metrics.profiles import first_visits_select


def store_derived_tables(conn: Connection) -> int | None:
    """Rebuild `user_first_visits` and `user_days` from the visits and mark them current for the data version;
    return the number of users stored.

    Call inside the transaction that changed the visits, after `db.bump_data_version`: readers see the new visits
    and the derived tables together, or neither. On PostgreSQL a role that may not create or write the tables (an
    import role on a database made by an earlier version) gets a warning naming the command for the owner, and
    None: the metrics then compute from the visits, as before.
    """
    db.create_schema(conn)  # a database made before the tables existed
    if not db.derived_tables_writable(conn):  # their creation was refused (create_schema warned)
        return None
    firsts, days, v = db.user_first_visits, db.user_days, db.visits
    first = first_visits_select(None, backend_spec(conn).first_visits_shape).subquery("first_visits")
    keyed = sa.select(
        first.c.user_id,
        sa.func.row_number().over(order_by=first.c.user_id).label("user_key"),
        first.c.first_ts, first.c.region, first.c.device, first.c.channel,
    ).subquery("keyed")
    first_columns = ["user_id", "user_key", "first_ts", "region", "device", "channel"]
    day = date_of(v.c.session_start)
    # ordered by day: DuckDB's zone maps then skip the row groups outside a period
    visit_days = (sa.select(firsts.c.user_key, day.label("day"))
                  .select_from(v.join(firsts, firsts.c.user_id == v.c.user_id))
                  .group_by(firsts.c.user_key, day)
                  .order_by(day))

    def rebuild() -> None:
        conn.execute(sa.delete(days))
        conn.execute(sa.delete(firsts))
        conn.execute(sa.insert(firsts).from_select(
            first_columns, sa.select(*[keyed.c[c] for c in first_columns]).order_by(keyed.c.first_ts)))
        conn.execute(sa.insert(days).from_select(["user_key", "day"], visit_days))
        db.set_meta(conn, db.DERIVED_KEY, db.get_data_version(conn))

    if not db.owner_ddl(conn, rebuild, "python -m dashboard refresh"):
        return None
    return conn.execute(sa.select(sa.func.count()).select_from(firsts)).scalar_one()
