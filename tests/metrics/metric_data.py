"""Seedable random event data packed with the edge cases of the metric contract.

`edge_case_data(seed)` returns `reference.Data(visits, orders, costs)` (frames with the columns of
`dashboard/db.py`, user_id as text) of a few hundred users and a few thousand visits over ~11 weeks
(2026-03-04 .. 2026-05-20, crossing month and week boundaries), containing on purpose:

- ties on the first visit: same session_start, different channel / device / region;
- sessions across midnight, zero-length sessions, visits exactly at 00:00:00;
- visits exactly k*24 h, k*24 h - 1 s and k*24 h - 1 us / 0.5 s after the first visit (lifetime boundaries);
- orders before the first visit (lifetime clamps to 0), orders by users with no visit;
- events (visits, orders, costs) after the last visit date and after any observation date tested;
- spend on days with no new user, several cost rows for one (day, channel), zero-cost rows, a channel
  whose only cost rows are 0 (paid, cac 0), a channel with spend but no users, spend before the first
  visit, a channel that becomes paid only late (as-of rule decides whether it is paid);
- 20-digit ids beyond 2**64, ids around 2**63, ids with leading zeros and text ids (non-ASCII too);
- mixed-case and non-ASCII names ("Zeta" < "alpha" < "Österreich" in code-point order);
- a few huge (1e9) and a few tiny (0.01) revenues.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tests.metrics.reference import Data

FIRST_DAY = pd.Timestamp("2026-03-04")  # a Wednesday: the first ISO week is cut by the period
DAYS = 78                               # last acquisition day 2026-05-20
REGIONS = ["United States", "UK", "France", "germany", "Österreich"]
DEVICES = ["iPhone", "Android", "PC", "mac"]
PAID_CHANNELS = ["FaceBoom", "TipTop", "Zeta", "alpha", "lambda"]
FREE_CHANNEL = "freebie"        # paid (has cost rows) but every cost row is 0 -> cac 0, no ROI rows
LATE_CHANNEL = "LateAds"        # cost rows only from day 50 on: unpaid for earlier observation dates
GHOST_CHANNEL = "Ghost"         # spend, never a user
UNPAID_CHANNEL = "organic"
USER_CHANNELS = PAID_CHANNELS + [FREE_CHANNEL, LATE_CHANNEL, UNPAID_CHANNEL]
CHANNEL_WEIGHTS = np.array([6, 5, 3, 3, 2, 2, 2, 8], dtype=float)
REVENUES = np.array([4.99, 5.99, 9.99, 19.99, 49.99])


def _user_ids(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct ids: plain numbers, 20-digit > 2**64, around 2**63, leading zeros, text ids."""
    ids: set[str] = set()
    special = [str(2**64 + 12345), "98765432109876543210", str(2**63), str(2**63 - 1), "007", "0",
               "user-é-42", "abc", "Zeta-user", "ölig"]
    out = list(special)
    ids.update(out)
    while len(out) < n:
        kind = rng.random()
        if kind < 0.7:
            candidate = str(int(rng.integers(10**8, 10**12)))
        elif kind < 0.85:
            candidate = str(2 * 10**19 + int(rng.integers(0, 10**18)) * 10 + int(rng.integers(0, 10)))  # 20 digits > 2**64
        else:
            candidate = f"u{int(rng.integers(0, 10**6)):06d}"
        if candidate not in ids:
            ids.add(candidate)
            out.append(candidate)
    return out[:n]


def _time_of_day(rng: np.random.Generator) -> pd.Timedelta:
    """A random time of day in whole seconds; 8 % exactly midnight, 8 % in the last ten minutes."""
    r = rng.random()
    if r < 0.08:
        return pd.Timedelta(0)
    if r < 0.16:
        return pd.Timedelta(seconds=int(rng.integers(86400 - 600, 86400)))
    return pd.Timedelta(seconds=int(rng.integers(0, 86400)))


def _duration(rng: np.random.Generator, start: pd.Timestamp) -> pd.Timedelta:
    """Session length: 5 % zero, late sessions cross midnight, otherwise ~20 min (whole seconds)."""
    if rng.random() < 0.05:
        return pd.Timedelta(0)
    seconds = int(rng.exponential(1200)) + 1
    if start.hour == 23 and start.minute >= 50:
        seconds += 900  # surely past midnight
    return pd.Timedelta(seconds=seconds)


def edge_case_data(seed: int = 0, n_users: int = 400) -> Data:
    """Return a seeded random Data(visits, orders, costs) full of the contract's edge cases."""
    rng = np.random.default_rng(seed)
    ids = _user_ids(rng, n_users)
    visit_rows: list[tuple] = []
    order_rows: list[tuple] = []
    last_day = FIRST_DAY + pd.Timedelta(days=DAYS - 1)
    weights = CHANNEL_WEIGHTS / CHANNEL_WEIGHTS.sum()

    for number, user in enumerate(ids):
        # Acquisition day: a skew towards the first weeks; never on day 40 (a day with no new user).
        day = int(min(rng.exponential(30), DAYS - 1))
        if day == 40:
            day = 41
        if number == 0:
            day = 0  # someone is acquired on the very first day at 00:00:00
        first_ts = FIRST_DAY + pd.Timedelta(days=day) + (_time_of_day(rng) if number else pd.Timedelta(0))
        region = REGIONS[int(rng.integers(len(REGIONS)))]
        device = DEVICES[int(rng.integers(len(DEVICES)))]
        channel = USER_CHANNELS[int(rng.choice(len(USER_CHANNELS), p=weights))]
        visit_rows.append((user, region, device, channel, first_ts, first_ts + _duration(rng, first_ts)))

        # Ties on the first visit: the same session_start with other attributes.
        tie = rng.random()
        if tie < 0.04:    # other channel (the smaller channel wins)
            other = USER_CHANNELS[int(rng.integers(len(USER_CHANNELS)))]
            visit_rows.append((user, REGIONS[0], DEVICES[0], other, first_ts, first_ts + pd.Timedelta(minutes=3)))
        elif tie < 0.07:  # same channel, other device
            other = DEVICES[int(rng.integers(len(DEVICES)))]
            visit_rows.append((user, region, other, channel, first_ts, first_ts))
        elif tie < 0.10:  # same channel and device, other region
            other = REGIONS[int(rng.integers(len(REGIONS)))]
            visit_rows.append((user, other, device, channel, first_ts, first_ts + pd.Timedelta(seconds=59)))

        # Later visits: gaps of ~4 days, sometimes exactly k*24h or k*24h - 1 s after the first visit.
        ts = first_ts
        for _ in range(int(rng.geometric(0.15)) - 1):
            r = rng.random()
            if r < 0.03:  # sub-second precision around the lifetime boundary
                ts = first_ts + pd.Timedelta(days=int(rng.integers(1, 20))) - pd.Timedelta(
                    microseconds=int(rng.choice([1, 500_000])))
            elif r < 0.08:
                ts = first_ts + pd.Timedelta(days=int(rng.integers(1, 20)))
            elif r < 0.16:
                ts = first_ts + pd.Timedelta(days=int(rng.integers(1, 20))) - pd.Timedelta(seconds=1)
            elif r < 0.22:
                ts = ts.normalize() + pd.Timedelta(days=int(rng.integers(1, 4)))  # 00:00:00
            else:
                ts = ts + pd.Timedelta(seconds=int(rng.exponential(4 * 86400)) + 60)
            if ts > last_day + pd.Timedelta(days=10):
                break
            v_channel = channel if rng.random() < 0.9 else USER_CHANNELS[int(rng.integers(len(USER_CHANNELS)))]
            v_device = device if rng.random() < 0.9 else DEVICES[int(rng.integers(len(DEVICES)))]
            visit_rows.append((user, region, v_device, v_channel, ts, ts + _duration(rng, ts)))

        # Orders: ~30 % payers; some pay before their first visit; a few huge and tiny amounts.
        if rng.random() < 0.3:
            for _ in range(int(rng.geometric(0.5))):
                r = rng.random()
                if r < 0.08:
                    when = first_ts - pd.Timedelta(seconds=int(rng.integers(1, 3 * 86400)))
                elif r < 0.15:
                    when = first_ts + pd.Timedelta(days=int(rng.integers(0, 10)))  # k*24h exactly
                else:
                    when = first_ts + pd.Timedelta(seconds=int(rng.exponential(6 * 86400)))
                amount = float(rng.choice(REVENUES))
                big = rng.random()
                if big < 0.02:
                    amount = 1e9
                elif big < 0.04:
                    amount = 0.01
                order_rows.append((user, when, amount))

    # Orders by users who never visit.
    for k in range(8):
        when = FIRST_DAY + pd.Timedelta(days=int(rng.integers(0, DAYS)), seconds=int(rng.integers(0, 86400)))
        order_rows.append((f"{10**19 * 5 + k}", when, float(rng.choice(REVENUES))))

    visits = pd.DataFrame(visit_rows, columns=["user_id", "region", "device", "channel", "session_start",
                                               "session_end"])
    visits = visits[visits["session_start"] <= last_day + pd.Timedelta(hours=23, minutes=59, seconds=59)]
    orders = pd.DataFrame(order_rows, columns=["user_id", "event_dt", "revenue"])
    costs = _costs(rng, last_day)

    visits = visits.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # no helpful input order
    orders = orders.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    for frame, columns in ((visits, ["session_start", "session_end"]), (orders, ["event_dt"])):
        for column in columns:
            frame[column] = frame[column].astype("datetime64[us]")
    visits = visits.astype({"user_id": str, "region": str, "device": str, "channel": str})
    orders = orders.astype({"user_id": str})
    return Data(visits, orders, costs)


def _costs(rng: np.random.Generator, last_day: pd.Timestamp) -> pd.DataFrame:
    """Daily spend per paid channel from 3 days before the data to 5 days after it, with odd rows."""
    rows: list[tuple] = []
    days = pd.date_range(FIRST_DAY - pd.Timedelta(days=3), last_day + pd.Timedelta(days=5), freq="D")
    for number, day in enumerate(days):
        for channel in PAID_CHANNELS:
            if channel == "lambda" and number % 9 == 4:
                continue  # some days without spend for a paid channel
            amount = float(rng.uniform(5, 400))
            if rng.random() < 0.05:
                amount = 0.0
            if rng.random() < 0.1:  # the day's spend split over several rows
                parts = rng.dirichlet(np.ones(3)) * amount
                rows.extend((day, channel, float(p)) for p in parts)
            else:
                rows.append((day, channel, amount))
        rows.append((day, FREE_CHANNEL, 0.0))
        if number >= 50:
            rows.append((day, LATE_CHANNEL, float(rng.uniform(1, 50))))
        if number % 3 == 0:
            rows.append((day, GHOST_CHANNEL, float(rng.uniform(1, 20))))
    costs = pd.DataFrame(rows, columns=["dt", "channel", "costs"])
    costs["dt"] = costs["dt"].astype("datetime64[us]")
    costs = costs.astype({"channel": str})
    return costs.sample(frac=1.0, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)


def tiny_data() -> Data:
    """A hand-sized data set whose metrics are computed by hand in test_metrics_reference.py."""
    visits = pd.DataFrame(
        [
            # user, region, device, channel, session_start, session_end
            ("1", "UK", "PC", "paid", "2026-03-02 10:00:00", "2026-03-02 10:10:00"),
            ("1", "UK", "PC", "paid", "2026-03-03 09:59:59", "2026-03-03 10:00:59"),   # lifetime 0
            ("1", "UK", "PC", "paid", "2026-03-04 10:00:00", "2026-03-04 10:00:00"),   # lifetime 2
            ("2", "US", "mac", "paid", "2026-03-02 23:50:00", "2026-03-03 00:20:00"),  # across midnight
            ("2", "DE", "PC", "Zeta", "2026-03-02 23:50:00", "2026-03-02 23:51:00"),   # tie: Zeta < paid
            ("2", "US", "mac", "paid", "2026-03-03 00:00:00", "2026-03-03 00:30:00"),  # lifetime 0
            ("3", "US", "PC", "organic", "2026-03-03 00:00:00", "2026-03-03 00:05:00"),
            ("3", "US", "PC", "organic", "2026-03-05 12:00:00", "2026-03-05 12:05:00"),  # lifetime 2
            ("4", "UK", "mac", "paid", "2026-03-06 08:00:00", "2026-03-06 08:20:00"),  # after O=03-05
        ],
        columns=["user_id", "region", "device", "channel", "session_start", "session_end"],
    )
    orders = pd.DataFrame(
        [
            ("1", "2026-03-02 11:00:00", 10.0),   # lifetime 0
            ("1", "2026-03-04 12:00:00", 5.0),    # lifetime 2
            ("3", "2026-03-02 08:00:00", 2.0),    # before the first visit -> lifetime 0
            ("9", "2026-03-03 08:00:00", 100.0),  # user without visits: ignored
            ("2", "2026-03-06 08:00:00", 7.0),    # after O=03-05: ignored, user 2 not a payer
        ],
        columns=["user_id", "event_dt", "revenue"],
    )
    costs = pd.DataFrame(
        [
            ("2026-03-02", "paid", 6.0),
            ("2026-03-02", "paid", 2.0),    # two rows for one (dt, channel): 8 in all
            ("2026-03-02", "Zeta", 3.0),
            ("2026-03-03", "paid", 4.0),    # no new paid user on 03-03: unattributed
            ("2026-03-06", "organic", 1.0),  # after O: organic stays unpaid
        ],
        columns=["dt", "channel", "costs"],
    )
    for column in ("session_start", "session_end"):
        visits[column] = pd.to_datetime(visits[column]).astype("datetime64[us]")
    orders["event_dt"] = pd.to_datetime(orders["event_dt"]).astype("datetime64[us]")
    costs["dt"] = pd.to_datetime(costs["dt"]).astype("datetime64[us]")
    return Data(visits, orders, costs)


def load_data_database(data: Data, backend: str, mode: str, folder):
    """Return (engine, cleanup) of a new database on `backend` in `folder` holding `data`'s event tables, with the
    derived tables stored for its data version (`mode` "stored", as after an import) or not ("live")."""
    from dashboard import db
    from metrics.derived import store_derived_tables
    from tests.conftest import make_database_url

    url, cleanup = make_database_url(backend, folder)
    engine = db.make_engine(url)
    db.create_schema(engine)
    with engine.begin() as conn:
        for table in db.EVENT_TABLES:
            db.bulk_insert(conn, table, getattr(data, table.name))
        db.bump_data_version(conn)
        if mode == "stored":
            store_derived_tables(conn)
    return engine, cleanup
