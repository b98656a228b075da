"""The SQL metrics layer (metrics/) on hand-computed tiny data, on DuckDB, SQLite and PostgreSQL;
export-metrics files byte for byte; CLI bad-argument exits.

Data (`load_tiny`), O = 2026-03-05 (end), start = 2026-03-02 (first visit date):
- user 1: first 03-02 10:00 UK/iPhone/ads; visits of lifetime 0 (03-03 09:59:59 is 23:59:59 later) and 2;
  orders 10 (lt 0), 5 (lt 2), 100 on 03-06 (after O).
- user 2: tie at 03-02 23:50 between (US, Mac, ads) and (DE, PC, Zeta): "Zeta" < "ads" wins; the
  session crosses midnight (30 min); its only order is on 03-06 (after O): not a payer.
- user 12345678901234567890 (20 digits): first 03-03 00:00:00 FR/PC/organic; a visit of lifetime 2.
- user 4: only visit 03-07 (after O): no profile. user 5: first 03-03 08:00 UK/iPhone/ads; an order 3
  on 03-01, before the first visit (lifetime 0). user 9: an order, no visit.
- costs: (03-02, ads) 6 + 2, (03-02, Zeta) 3, (03-03, ads) 4, (03-04, ads) 5 (no new user that day),
  (03-04, TV) 9 (a channel without users), (03-06, organic) 1 (after O: organic stays unpaid).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import metrics
from dashboard import cli, db
from metrics import Filters
from metrics import dialect as d

BIG = "12345678901234567890"
T = pd.Timestamp
O = "2026-03-05"

VISITS = [
    ("1", "UK", "iPhone", "ads", "2026-03-02 10:00:00", "2026-03-02 10:30:00"),
    ("1", "UK", "iPhone", "ads", "2026-03-03 09:59:59", "2026-03-03 10:09:59"),
    ("1", "UK", "iPhone", "ads", "2026-03-04 10:00:00", "2026-03-04 10:01:00"),
    ("2", "US", "Mac", "ads", "2026-03-02 23:50:00", "2026-03-03 00:20:00"),
    ("2", "DE", "PC", "Zeta", "2026-03-02 23:50:00", "2026-03-03 00:20:00"),
    (BIG, "FR", "PC", "organic", "2026-03-03 00:00:00", "2026-03-03 00:05:00"),
    (BIG, "FR", "PC", "organic", "2026-03-05 12:00:00", "2026-03-05 12:10:00"),
    ("4", "UK", "Mac", "ads", "2026-03-07 08:00:00", "2026-03-07 08:20:00"),
    ("5", "UK", "iPhone", "ads", "2026-03-03 08:00:00", "2026-03-03 08:01:00"),
]
ORDERS = [
    ("1", "2026-03-02 11:00:00", 10.0),
    ("1", "2026-03-04 10:00:00", 5.0),
    ("1", "2026-03-06 10:00:00", 100.0),
    ("2", "2026-03-06 09:00:00", 7.0),
    ("5", "2026-03-01 12:00:00", 3.0),
    ("9", "2026-03-03 12:00:00", 50.0),
]
COSTS = [
    ("2026-03-02", "ads", 6.0),
    ("2026-03-02", "ads", 2.0),
    ("2026-03-02", "Zeta", 3.0),
    ("2026-03-03", "ads", 4.0),
    ("2026-03-04", "ads", 5.0),
    ("2026-03-04", "TV", 9.0),
    ("2026-03-06", "organic", 1.0),
]


def load_tiny(engine) -> None:
    visits = pd.DataFrame(VISITS, columns=["user_id", "region", "device", "channel", "session_start", "session_end"])
    orders = pd.DataFrame(ORDERS, columns=["user_id", "event_dt", "revenue"])
    costs = pd.DataFrame(COSTS, columns=["dt", "channel", "costs"])
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, visits)
        db.bulk_insert(conn, db.orders, orders)
        db.bulk_insert(conn, db.costs, costs)


@pytest.fixture
def tiny(engine):
    load_tiny(engine)
    with engine.connect() as conn:
        yield conn


def F(**kwargs) -> Filters:
    kwargs.setdefault("end", O)
    return Filters.make(**kwargs)


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as Python tuples; NaN / <NA> as None; floats rounded to 12 digits for readable asserts."""
    out = []
    for record in frame.astype(object).itertuples(index=False):
        values = []
        for v in record:
            if not isinstance(v, (str, bool)) and pd.isna(v):
                values.append(None)
            elif isinstance(v, float):
                values.append(round(v, 12))
            else:
                values.append(v)
        out.append(tuple(values))
    return out


def test_msql001_dialect_constructs_exact_on_each_backend(engine):
    ts = lambda text: sa.literal(dt.datetime.fromisoformat(text), sa.DateTime())  # noqa: E731
    day = lambda text: sa.literal(dt.date.fromisoformat(text), sa.Date())  # noqa: E731
    stmt = sa.select(
        d.week_start(day("2026-03-08")).label("sunday_week"),    # a Sunday: its Monday is 03-02
        d.week_start(day("2026-03-02")).label("monday_week"),
        d.month_start(day("2026-02-28")).label("month"),
        d.add_days(day("2026-02-27"), 2).label("plus_two"),
        d.add_days(day("2026-03-01"), -1).label("minus_one"),
        d.date_of(ts("2026-03-02 23:59:59.999999")).label("date"),
        d.whole_days(ts("2026-03-03 10:00:00"), ts("2026-03-02 10:00:00.000001")).label("short_by_1us"),
        d.whole_days(ts("2026-03-03 10:00:00.000001"), ts("2026-03-02 10:00:00.000001")).label("exactly_1d"),
        d.whole_days(ts("2026-03-01 10:00:00"), ts("2026-03-02 10:00:00")).label("before_first"),
        d.seconds_between(ts("2026-03-03 00:00:00.5"), ts("2026-03-02 23:59:59")).label("seconds"),
        d.epoch_us(ts("1970-01-02 00:00:00.000007")).label("epoch_us"),
    )
    with engine.connect() as conn:
        row = metrics.conform(pd.DataFrame([conn.execute(stmt).one()._mapping]))
    got = {k: row[k].iloc[0] for k in row.columns}
    assert str(got["sunday_week"])[:10] == "2026-03-02"
    assert str(got["monday_week"])[:10] == "2026-03-02"
    assert str(got["month"])[:10] == "2026-02-01"
    assert str(got["plus_two"])[:10] == "2026-03-01"
    assert str(got["minus_one"])[:10] == "2026-02-28"
    assert str(got["date"])[:10] == "2026-03-02"
    assert int(got["short_by_1us"]) == 0
    assert int(got["exactly_1d"]) == 1
    assert int(got["before_first"]) == 0
    assert float(got["seconds"]) == 1.5
    assert int(got["epoch_us"]) == 86_400_000_007


def test_msql018_float_sum_is_the_same_on_every_run_and_correctly_rounded(engine):
    """Money sums (`dialect.float_sum`): bit-for-bit the same on repeated runs; per group equal to math.fsum
    within 1e-15 (relative) on DuckDB and PostgreSQL (exact decimal sums), within 1e-12 on SQLite (its plain
    one-thread SUM: deterministic, rounding as it goes). On DuckDB the table spans several row groups, so the
    sum runs on both threads (a plain SUM there gave 5 different results in 5 runs on 10M values)."""
    rows = 1_000_000 if engine.dialect.name == "duckdb" else 20_000
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"g": rng.integers(0, 4, rows), "x": rng.uniform(0, 1000, rows) / 7})
    table = sa.Table("float_sum_values", sa.MetaData(), sa.Column("g", sa.Integer()), sa.Column("x", sa.Double()))
    with engine.begin() as conn:
        table.create(conn)
        db.bulk_insert(conn, table, frame)
    stmt = sa.select(table.c.g, d.float_sum(table.c.x).label("total")).group_by(table.c.g).order_by(table.c.g)
    runs = set()
    with engine.connect() as conn:
        if engine.dialect.name == "duckdb":
            conn.exec_driver_sql("SET threads = 2")
        for _ in range(5):
            runs.add(tuple(conn.execute(stmt).all()))
    assert len(runs) == 1
    tolerance = 1e-12 if engine.dialect.name == "sqlite" else 1e-15
    for group, total in runs.pop():
        exact = math.fsum(frame.loc[frame["g"] == group, "x"])
        assert abs(total - exact) <= tolerance * exact, (group, total, exact)


def test_msql021_float_sum_of_absurd_values_does_not_fail(engine):
    """A value no import accepts but another writer might store (1e20, infinity) gives a total, not an error
    (DuckDB's exact path stops at 1e14 per value; the rest is summed as doubles)."""
    table = sa.Table("float_sum_absurd", sa.MetaData(), sa.Column("g", sa.Integer()), sa.Column("x", sa.Double()))
    frame = pd.DataFrame({"g": [1, 1, 1, 2, 2, 3], "x": [1e20, 2.5, 0.25, math.inf, 1.0, 99_999_999_999_999.5]})
    with engine.begin() as conn:
        table.create(conn)
        db.bulk_insert(conn, table, frame)
    stmt = sa.select(table.c.g, d.float_sum(table.c.x)).group_by(table.c.g).order_by(table.c.g)
    with engine.connect() as conn:
        totals = dict(conn.execute(stmt).all())
    assert totals[1] == pytest.approx(1e20 + 2.75, rel=1e-15)
    assert totals[2] == math.inf
    assert totals[3] == 99_999_999_999_999.5  # just under the limit: exact


def test_msql019_average_session_length_is_exact_and_the_same_on_every_run(engine):
    """asl_seconds = (sum of session lengths in whole microseconds) / sessions, one correctly rounded division,
    identical on repeated runs (DuckDB: 300,000 sessions, several row groups on two threads)."""
    sessions = 300_000 if engine.dialect.name == "duckdb" else 5_000
    rng = np.random.default_rng(8)
    start = pd.Timestamp("2026-03-02") + pd.to_timedelta(rng.integers(0, 3 * 86_400_000_000, sessions), unit="us")
    micros = rng.integers(1, 7_200_000_000, sessions)  # up to two hours, any microsecond
    visits = pd.DataFrame({"user_id": [str(i % 5000) for i in range(sessions)], "region": "UK", "device": "PC",
                           "channel": "organic", "session_start": start,
                           "session_end": start + pd.to_timedelta(micros, unit="us")})
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, visits)
        db.bump_data_version(conn)
    filters = Filters.make(start="2026-03-02", end="2026-03-04")
    with engine.connect() as conn:
        if engine.dialect.name == "duckdb":
            conn.exec_driver_sql("SET threads = 2")
        runs = {tuple(metrics.session_stats(conn, filters).items()) for _ in range(4)}
    assert len(runs) == 1
    stats = dict(runs.pop())
    assert stats["sessions"] == sessions
    assert stats["asl_seconds"] == int(micros.sum()) / (sessions * 1_000_000)  # exact, not approximately


def test_msql020_export_metrics_twice_on_the_default_demo_gives_the_same_bytes(tmp_path, monkeypatch):
    """The analyst's check: two exports of the same data are identical files. On the default-size demo (150,000
    users: profiles span several DuckDB row groups, summed on two threads) the earlier plain SUMs made
    channels.csv, ltv.csv and roi.csv differ in the last digits between runs."""
    from dashboard.demo import write_demo

    url = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    engine = db.make_engine(url)
    write_demo(engine, users=150_000, seed=42)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DUCKDB_THREADS", "2")
    for run in ("first", "second"):
        assert cli.main(["export-metrics", "--out", str(tmp_path / run), "--horizon", "14",
                         "--dimension", "channel"]) == 0
    names = sorted(p.name for p in (tmp_path / "first").iterdir())
    assert {"channels.csv", "ltv.csv", "roi.csv", "activity_summary.csv"} <= set(names)
    for name in names:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name


@pytest.mark.parametrize("values, expected", [([5.0, 1.0, 3.0], 3.0), ([4.0, 1.0, 10.0, 2.0], 3.0), ([7.0], 7.0)])
def test_msql002_median_exact_odd_and_even(engine, values, expected):
    source = sa.union_all(*[sa.select(sa.literal(v, sa.Double()).label("x")) for v in values]).subquery("s")
    with engine.connect() as conn:
        assert conn.execute(d.median_select(conn.dialect.name, source, "x")).scalar() == expected


def test_msql003_profiles_tie_break_as_of_cost_and_ids(tiny):
    got = metrics.profiles(tiny, F())
    assert list(got.columns) == list(metrics.PROFILE_COLUMNS)
    assert rows(got) == [
        ("1", T("2026-03-02 10:00"), T("2026-03-02"), T("2026-03-02"), T("2026-03-01"), "UK", "iPhone", "ads", True, 8.0),
        (BIG, T("2026-03-03 00:00"), T("2026-03-03"), T("2026-03-02"), T("2026-03-01"), "FR", "PC", "organic", False, 0.0),
        ("2", T("2026-03-02 23:50"), T("2026-03-02"), T("2026-03-02"), T("2026-03-01"), "DE", "PC", "Zeta", False, 3.0),
        ("5", T("2026-03-03 08:00"), T("2026-03-03"), T("2026-03-02"), T("2026-03-01"), "UK", "iPhone", "ads", True, 4.0),
    ]
    assert str(got["first_ts"].dtype) == "datetime64[us]" and str(got["dt"].dtype) == "datetime64[us]"
    assert got["payer"].dtype == bool and got["acquisition_cost"].dtype == "float64"
    # filters select by the first visit; the cost of a user never depends on the filters
    assert rows(metrics.profiles(tiny, F(regions=["US"]))) == []
    assert metrics.profiles(tiny, F(devices=["PC"], channels=["Zeta", "organic"]))["user_id"].tolist() == [BIG, "2"]
    assert metrics.profiles(tiny, F(regions=["UK"], start="2026-03-03"))["acquisition_cost"].tolist() == [4.0]
    # without an observation date everything is seen: user 4 appears, user 2 becomes a payer
    everything = metrics.profiles(tiny, Filters.make())
    assert everything["user_id"].tolist() == ["1", BIG, "2", "4", "5"]
    assert everything["payer"].tolist() == [True, False, True, False, True]


def test_msql004_activity_daily_weekly_monthly(tiny):
    daily = metrics.activity_daily(tiny, F())
    assert rows(daily) == [
        (T("2026-03-02"), 2, 2, 2), (T("2026-03-03"), 3, 4, 4), (T("2026-03-04"), 1, 4, 4), (T("2026-03-05"), 1, 4, 4),
    ]
    assert [str(t) for t in daily.dtypes] == ["datetime64[us]", "int64", "int64", "int64"]
    assert rows(metrics.activity_weekly(tiny, F())) == [(T("2026-03-02"), 4)]
    assert rows(metrics.activity_monthly(tiny, F())) == [(T("2026-03-01"), 4)]
    # windows reach before start; a filtered day without visits is a 0 row
    assert rows(metrics.activity_daily(tiny, F(start="2026-03-04"))) == [(T("2026-03-04"), 1, 4, 4), (T("2026-03-05"), 1, 4, 4)]
    assert rows(metrics.activity_daily(tiny, F(regions=["UK"]))) == [
        (T("2026-03-02"), 1, 1, 1), (T("2026-03-03"), 2, 2, 2), (T("2026-03-04"), 1, 2, 2), (T("2026-03-05"), 0, 2, 2),
    ]
    # weeks and months intersecting a period across a week and month boundary, days outside not counted
    assert rows(metrics.activity_weekly(tiny, F(start="2026-02-27", end="2026-03-02"))) == [(T("2026-02-23"), 0), (T("2026-03-02"), 2)]
    assert rows(metrics.activity_monthly(tiny, F(start="2026-02-27", end="2026-03-02"))) == [(T("2026-02-01"), 0), (T("2026-03-01"), 2)]


def test_msql005_activity_summary_and_median(tiny):
    summary = metrics.activity_summary(tiny, F())
    assert summary["metric"].tolist() == list(metrics.activity.SUMMARY_METRICS)
    # DAU (2+3+1+1)/4; lengths 1800 600 60 | 1800 1800 (both tied visits) | 300 600 | 60 -> mean 7020/8
    # revision 2: WAU, MAU = means of the daily WAU7 / MAU30 (2, 4, 4, 4) = 3.5
    assert rows(summary) == [("dau", 1.75), ("wau", 3.5), ("mau", 3.5), ("sticky_wau", 0.5), ("sticky_mau", 0.5),
                             ("sessions", 8.0), ("asl_seconds", 877.5), ("median_session_seconds", 600.0)]
    uk = dict(rows(metrics.activity_summary(tiny, F(regions=["UK"]))))
    assert uk["sessions"] == 4.0 and uk["asl_seconds"] == 630.0 and uk["median_session_seconds"] == 330.0  # (60+600)/2
    assert uk["dau"] == 1.0 and uk["wau"] == 1.75  # WAU7 1, 2, 2, 2
    nobody = dict(rows(metrics.activity_summary(tiny, F(regions=["nowhere"]))))
    assert nobody["dau"] == 0.0 and nobody["sessions"] == 0.0
    assert nobody["sticky_wau"] is None and nobody["asl_seconds"] is None and nobody["median_session_seconds"] is None


def test_msql006_retention_conversion_ltv(tiny):
    f = F()
    assert rows(metrics.retention(tiny, f, horizon=3)) == [
        ("All users", 4, 0, 1.0), ("All users", 4, 1, 0.0), ("All users", 4, 2, 0.5)]
    # first orders: user 1 lt 0, user 5 before its first visit -> lt 0; user 2's order is after O
    assert rows(metrics.conversion(tiny, f, horizon=3)) == [
        ("All users", 4, 0, 0.5), ("All users", 4, 1, 0.5), ("All users", 4, 2, 0.5)]
    assert rows(metrics.ltv(tiny, f, horizon=3)) == [
        ("All users", 4, 0, 3.25), ("All users", 4, 1, 3.25), ("All users", 4, 2, 4.5)]
    by_channel = metrics.retention(tiny, f, horizon=3, dimensions=("channel",))
    assert rows(by_channel) == [
        ("Zeta", 1, 0, 1.0), ("Zeta", 1, 1, 0.0), ("Zeta", 1, 2, 0.0),
        ("ads", 2, 0, 1.0), ("ads", 2, 1, 0.0), ("ads", 2, 2, 0.5),
        ("organic", 1, 0, 1.0), ("organic", 1, 1, 0.0), ("organic", 1, 2, 1.0),
    ]
    assert [str(t) for t in by_channel.dtypes][1:] == ["int64", "int64", "float64"]
    # payer dimension sorts False first; dt dimension comes back as dates
    by_payer = metrics.ltv(tiny, f, horizon=1, dimensions=("payer", "dt"))
    assert rows(by_payer) == [(False, T("2026-03-02"), 1, 0, 0.0), (False, T("2026-03-03"), 1, 0, 0.0),
                              (True, T("2026-03-02"), 1, 0, 10.0), (True, T("2026-03-03"), 1, 0, 3.0)]
    # horizon 4: cohort dt <= 03-02 (users 1 and 2); ignore_horizon: dt <= O (all four)
    assert metrics.retention(tiny, f, horizon=4)["cohort_size"].unique().tolist() == [2]
    assert metrics.retention(tiny, f, horizon=4, ignore_horizon=True)["cohort_size"].unique().tolist() == [4]
    assert metrics.retention(tiny, f, horizon=4)["lifetime"].tolist() == [0, 1, 2, 3]


def test_msql007_roi_payback_and_report(tiny):
    f = F()
    # paid cohort: users 1, 5 (ads) and 2 (Zeta); cac (8 + 4 + 3) / 3 = 5
    assert rows(metrics.roi(tiny, f, horizon=3)) == [
        ("All users", 3, 5.0, 0, round(13 / 3 / 5, 12)), ("All users", 3, 5.0, 1, round(13 / 3 / 5, 12)),
        ("All users", 3, 5.0, 2, 1.2)]
    assert rows(metrics.payback(tiny, f, horizon=3)) == [("All users", 3, 5.0, 2)]
    by_channel = metrics.roi(tiny, f, horizon=3, dimensions=("channel",))
    assert rows(by_channel) == [
        ("Zeta", 1, 3.0, 0, 0.0), ("Zeta", 1, 3.0, 1, 0.0), ("Zeta", 1, 3.0, 2, 0.0),
        ("ads", 2, 6.0, 0, round(6.5 / 6, 12)), ("ads", 2, 6.0, 1, round(6.5 / 6, 12)), ("ads", 2, 6.0, 2, 1.5),
    ]
    payback = metrics.payback(tiny, f, horizon=3, dimensions=("channel",))
    assert rows(payback) == [("Zeta", 1, 3.0, None), ("ads", 2, 6.0, 0)]
    assert str(payback["payback_day"].dtype) == "Int64"
    # a group whose cac is 0 has no ROI row: FR users only (organic) -> nothing paid
    assert metrics.roi(tiny, F(regions=["FR"]), horizon=3).empty
    report = metrics.cohort_report(tiny, f, horizon=3, dimensions=("channel",))
    for name in ("retention", "conversion", "ltv", "roi", "payback"):
        pd.testing.assert_frame_equal(report[name], getattr(metrics, name)(tiny, f, horizon=3, dimensions=("channel",)))


def test_msql008_channel_economics_unattributed(tiny):
    nan = None
    assert rows(metrics.channel_economics(tiny, F())) == [
        ("TV", 0.0, 0, nan, 9.0), ("Zeta", 3.0, 1, 3.0, 0.0), ("ads", 12.0, 2, 6.0, 5.0), ("organic", 0.0, 1, 0.0, 0.0)]
    # region filters do not change unattributed spend; Zeta's 03-02 spend has a (non-UK) new user
    assert rows(metrics.channel_economics(tiny, F(regions=["UK"]))) == [
        ("TV", 0.0, 0, nan, 9.0), ("Zeta", 0.0, 0, nan, 0.0), ("ads", 12.0, 2, 6.0, 5.0)]
    assert rows(metrics.channel_economics(tiny, F(channels=["ads"]))) == [("ads", 12.0, 2, 6.0, 5.0)]
    weekly = metrics.channel_economics(tiny, F(), grain="dt")
    assert rows(weekly[weekly["channel"] == "ads"]) == [
        (T("2026-03-02"), "ads", 8.0, 1, 8.0, 0.0), (T("2026-03-03"), "ads", 4.0, 1, 4.0, 0.0),
        (T("2026-03-04"), "ads", 0.0, 0, nan, 5.0)]
    assert list(metrics.channel_economics(tiny, F(), grain="month").columns) == [
        "period", "channel", "costs", "new_users", "cac", "unattributed"]
    with pytest.raises(ValueError, match="grain"):
        metrics.channel_economics(tiny, F(), grain="year")


def test_msql009_daily_money_new_users_bounds(tiny):
    assert rows(metrics.daily_spend(tiny, F())) == [
        (T("2026-03-02"), "Zeta", 3.0), (T("2026-03-02"), "ads", 8.0), (T("2026-03-03"), "ads", 4.0),
        (T("2026-03-04"), "TV", 9.0), (T("2026-03-04"), "ads", 5.0)]
    assert rows(metrics.daily_spend(tiny, F(channels=["TV"], regions=["UK"]))) == [(T("2026-03-04"), "TV", 9.0)]
    # user 5's order is before the period, user 9 has no profile, orders after O unseen
    assert rows(metrics.daily_revenue(tiny, F())) == [
        (T("2026-03-02"), 10.0, 1, 1), (T("2026-03-03"), 0.0, 0, 0), (T("2026-03-04"), 5.0, 1, 1), (T("2026-03-05"), 0.0, 0, 0)]
    assert rows(metrics.new_users(tiny, F())) == [(T("2026-03-02"), 2), (T("2026-03-03"), 2)]
    assert rows(metrics.new_users(tiny, F(), dimensions=("channel", "payer"))) == [
        ("Zeta", False, 1), ("ads", True, 2), ("organic", False, 1)]
    assert rows(metrics.new_users(tiny, F(), dimensions=())) == [("All users", 4)]
    bounds = metrics.data_bounds(tiny)
    assert bounds == {"first_date": dt.date(2026, 3, 2), "last_date": dt.date(2026, 3, 7),
                      "regions": ["DE", "FR", "UK", "US"], "devices": ["Mac", "PC", "iPhone"],
                      "channels": ["TV", "Zeta", "ads", "organic"], "has_visits": True, "has_orders": True}
    period = metrics.resolve_period(tiny, Filters.make(observation_date="2026-03-04"))
    assert tuple(period) == (dt.date(2026, 3, 2), dt.date(2026, 3, 7), dt.date(2026, 3, 4), dt.date(2026, 3, 4))


def test_msql010_empty_filter_results_keep_columns(tiny):
    f = F(regions=["nowhere"])
    expected = {
        "profiles": list(metrics.PROFILE_COLUMNS),
        "retention": ["cohort", "cohort_size", "lifetime", "value"],
        "roi": ["cohort", "cohort_size", "cac", "lifetime", "value"],
        "payback": ["cohort", "cohort_size", "cac", "payback_day"],
        "new_users": ["dt", "new_users"],
    }
    for name, columns in expected.items():
        frame = getattr(metrics, name)(tiny, f)
        assert frame.empty and list(frame.columns) == columns, name
    by = metrics.conversion(tiny, f, dimensions=("week", "payer"))
    assert by.empty and list(by.columns) == ["week", "payer", "cohort_size", "lifetime", "value"]
    assert str(by["week"].dtype) == "datetime64[us]" and by["payer"].dtype == bool
    assert metrics.activity_daily(tiny, f)["dau"].tolist() == [0, 0, 0, 0]
    # observation date before start: empty period, empty frames
    before = F(start="2026-03-04", observation_date="2026-03-03")
    assert metrics.activity_daily(tiny, before).empty
    assert metrics.channel_economics(tiny, before).empty


def test_msql011_bad_parameters_raise_value_error(tiny):
    with pytest.raises(ValueError, match="horizon"):
        metrics.retention(tiny, F(), horizon=0)
    with pytest.raises(ValueError, match="colour"):
        metrics.ltv(tiny, F(), dimensions=("channel", "colour"))
    with pytest.raises(ValueError, match="before start"):
        Filters.make(start="2026-03-05", end="2026-03-01")
    with pytest.raises(ValueError, match="not an ISO date"):
        Filters.make(start="2026-02-30")
    assert Filters.make(regions=["b", "a", "b"], channels="x") == Filters(regions=("a", "b"), channels=("x",))
    assert hash(F()) == hash(F())


EXPECTED_FILES = {
    "profiles.csv": (
        "user_id,first_ts,dt,week,month,region,device,channel,payer,acquisition_cost\n"
        "1,2026-03-02 10:00:00,2026-03-02,2026-03-02,2026-03-01,UK,iPhone,ads,True,8.0\n"
        "12345678901234567890,2026-03-03 00:00:00,2026-03-03,2026-03-02,2026-03-01,FR,PC,organic,False,0.0\n"
        "2,2026-03-02 23:50:00,2026-03-02,2026-03-02,2026-03-01,DE,PC,Zeta,False,3.0\n"
        "5,2026-03-03 08:00:00,2026-03-03,2026-03-02,2026-03-01,UK,iPhone,ads,True,4.0\n"
    ),
    "activity_daily.csv": "date,dau,wau7,mau30\n2026-03-02,2,2,2\n2026-03-03,3,4,4\n2026-03-04,1,4,4\n2026-03-05,1,4,4\n",
    "activity_weekly.csv": "week_start,wau\n2026-03-02,4\n",
    "activity_monthly.csv": "month_start,mau\n2026-03-01,4\n",
    "activity_summary.csv": (
        "metric,value\ndau,1.75\nwau,3.5\nmau,3.5\nsticky_wau,0.5\nsticky_mau,0.5\nsessions,8.0\n"
        "asl_seconds,877.5\nmedian_session_seconds,600.0\n"
    ),
    "retention.csv": (
        "channel,payer,cohort_size,lifetime,value\n"
        "Zeta,False,1,0,1.0\nZeta,False,1,1,0.0\nads,True,2,0,1.0\nads,True,2,1,0.0\n"
    ),
    "conversion.csv": (
        "channel,payer,cohort_size,lifetime,value\n"
        "Zeta,False,1,0,0.0\nZeta,False,1,1,0.0\nads,True,2,0,1.0\nads,True,2,1,1.0\n"
    ),
    "ltv.csv": (
        "channel,payer,cohort_size,lifetime,value\n"
        "Zeta,False,1,0,0.0\nZeta,False,1,1,0.0\nads,True,2,0,6.5\nads,True,2,1,6.5\n"
    ),
    "roi.csv": (
        "channel,payer,cohort_size,cac,lifetime,value\n"
        "Zeta,False,1,3.0,0,0.0\nZeta,False,1,3.0,1,0.0\nads,True,2,6.0,0,1.0833333333333333\n"
        "ads,True,2,6.0,1,1.0833333333333333\n"
    ),
    "channels.csv": (
        "channel,costs,new_users,cac,unattributed\n"
        "Zeta,3.0,1,3.0,0.0\nads,12.0,2,6.0,5.0\norganic,0.0,1,0.0,0.0\n"  # TV: not in the channel filter
    ),
    # the previous period (02-26 .. 03-01) starts before the data (03-02): no comparison. Region and device filters:
    # spend = the attributed spend of the filtered new users (8 + 3 + 0 + 4); cac over the paid ones (1, 2, 5);
    # roi(1) of the paid cohort: revenue 10 + 3 (lifetime <= 1) / 3 users / cac 5
    "kpis.csv": (
        "kpi,value,previous_value,change\n"
        "users,4.0,,\nnew_users,4.0,,\ndau,1.75,,\nwau,3.5,,\nmau,3.5,,\nasl_seconds,877.5,,\nsticky,0.5,,\n"
        "revenue,15.0,,\nspend,15.0,,\ncac,5.0,,\nroi,0.8666666666666666,,\npayer_share,0.5,,\n"
    ),
}


def test_msql012_export_metrics_files_byte_for_byte(engine, database_url, tmp_path, monkeypatch, capsys):
    load_tiny(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    out = tmp_path / "export"
    # horizon 2 with O = 03-05: cohorts dt <= 03-04; channels Zeta and ads only (organic filtered out)
    code = cli.main(["export-metrics", "--out", str(out), "--end", O, "--horizon", "2", "--dimension", "channel",
                     "--dimension", "payer", "--channel", "ads", "--channel", "Zeta", "--channel", "organic",
                     "--device", "iPhone", "--device", "PC", "--country", "UK", "--country", "DE", "--country", "FR"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(EXPECTED_FILES)
    # FR/organic user passes the filters; its retention rows sort after ads (code points)
    retention = (out / "retention.csv").read_bytes().decode()
    assert retention.endswith("organic,False,1,0,1.0\norganic,False,1,1,0.0\n")
    for name, text in EXPECTED_FILES.items():
        got = (out / name).read_bytes()
        if name in ("retention.csv", "conversion.csv", "ltv.csv"):
            got = b"".join(line for line in got.splitlines(keepends=True) if not line.startswith(b"organic,"))
        assert got == text.encode(), name
    printed = capsys.readouterr().out.split()
    assert len(printed) == 11
    # without filters TV (spend, no user) appears; its undefined cac is an empty field
    assert cli.main(["export-metrics", "--out", str(tmp_path / "all"), "--end", O, "--horizon", "3"]) == 0
    assert (tmp_path / "all" / "channels.csv").read_bytes() == (
        b"channel,costs,new_users,cac,unattributed\n"
        b"TV,0.0,0,,9.0\nZeta,3.0,1,3.0,0.0\nads,12.0,2,6.0,5.0\norganic,0.0,1,0.0,0.0\n")
    assert (tmp_path / "all" / "retention.csv").read_bytes().startswith(b"cohort,cohort_size,lifetime,value\nAll users,4,0,1.0\n")


def test_msql028_export_metrics_kpis_compare_previous_year_none(engine, database_url, tmp_path, monkeypatch):
    """kpis.csv with --compare: P = 03-04 .. 03-05 (n = 2) against P' = 03-02 .. 03-03 as of 03-03, which starts on
    the data's first date (comparable); the previous year starts before the data; `none` leaves both columns empty.
    P': users 1, 2, 5, 20-digit; DAU (2 + 3) / 2; WAU7 2, 4; revenue 10 (user 5's order is on 03-01); spend
    8 + 3 + 4; cac (8 + 3 + 4) / 3; roi(1) of the paid cohort (dt 03-02: users 1, 2): 10 / 2 / 5.5; payers 1, 5.
    P: no new user (cac, roi, payer share empty); spend 5 + 9 (TV: costs rows, no filter); DAU 1; WAU7 4, 4."""
    load_tiny(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    texts = {}
    for compare in ("previous", "year", "none", None):
        out = tmp_path / str(compare)
        argv = ["export-metrics", "--out", str(out), "--start", "2026-03-04", "--end", O, "--horizon", "2"]
        assert cli.main(argv + (["--compare", compare] if compare else [])) == 0
        texts[compare] = (out / "kpis.csv").read_bytes().decode()
    assert texts[None] == texts["previous"]  # the default
    assert texts["previous"] == (
        "kpi,value,previous_value,change\n"
        "users,4.0,4.0,0.0\nnew_users,0.0,4.0,-1.0\ndau,1.0,2.5,-0.6\n"
        "wau,4.0,3.0,0.3333333333333333\nmau,4.0,3.0,0.3333333333333333\n"
        "asl_seconds,330.0,1060.0,-0.6886792452830188\nsticky,0.25,0.8333333333333334,-0.7000000000000001\n"
        "revenue,5.0,10.0,-0.5\nspend,14.0,15.0,-0.06666666666666667\ncac,,5.0,\nroi,,0.9090909090909091,\n"
        "payer_share,,0.5,\n")
    empty_columns = (
        "kpi,value,previous_value,change\n"
        "users,4.0,,\nnew_users,0.0,,\ndau,1.0,,\nwau,4.0,,\nmau,4.0,,\nasl_seconds,330.0,,\nsticky,0.25,,\n"
        "revenue,5.0,,\nspend,14.0,,\ncac,,,\nroi,,,\npayer_share,,,\n")
    assert texts["year"] == empty_columns and texts["none"] == empty_columns


def test_msql013_export_metrics_xlsx_one_sheet_per_table(engine, database_url, tmp_path, monkeypatch):
    if engine.dialect.name != "duckdb":
        engine.dispose()
        return  # the workbook writer is backend independent; the CSV test covers the backends
    load_tiny(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["export-metrics", "--out", str(tmp_path), "--end", O, "--format", "xlsx"]) == 0
    sheets = pd.read_excel(tmp_path / "metrics.xlsx", sheet_name=None)
    assert list(sheets) == [name[:-4] for name in EXPECTED_FILES]
    assert sheets["channels"]["channel"].tolist() == ["TV", "Zeta", "ads", "organic"]
    assert math.isnan(sheets["channels"]["cac"].iloc[0])
    assert sheets["retention"].columns.tolist() == ["cohort", "cohort_size", "lifetime", "value"]


@pytest.mark.parametrize("argv, message", [
    (["--dimension", "colour"], "unknown dimension 'colour'"),
    (["--horizon", "0"], "--horizon must be >= 1"),
    (["--horizon", "two"], "--horizon: not an integer"),
    (["--start", "2026-03-05", "--end", "2026-03-01"], "is before --start"),
    (["--observation-date", "05/03/2026"], "--observation-date: not a date"),
    (["--start", "2026-02-30"], "--start: not a date"),
])
def test_msql014_export_metrics_bad_arguments_exit_2(tmp_path, capsys, argv, message):
    code = cli.main(["export-metrics", "--out", str(tmp_path / "x"), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_msql015_export_metrics_bad_format_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["export-metrics", "--out", str(tmp_path), "--format", "pdf"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        cli.main(["export-metrics", "--out", str(tmp_path), "--compare", "last-week"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_msql016_shared_profiles_block_gives_the_same_frames(tiny):
    calls = [
        lambda f: metrics.profiles(tiny, f),
        lambda f: metrics.activity_daily(tiny, f),
        lambda f: metrics.activity_summary(tiny, f),
        lambda f: metrics.roi(tiny, f, horizon=3, dimensions=("channel", "payer")),
        lambda f: metrics.conversion(tiny, f, horizon=2, dimensions=("week",)),
        lambda f: metrics.channel_economics(tiny, f, grain="week"),
        lambda f: metrics.new_users(tiny, f, dimensions=("payer",)),
        lambda f: metrics.daily_revenue(tiny, f),
    ]
    filters = [F(), F(regions=["UK"]), F(observation_date="2026-03-03"), Filters.make()]
    plain = [[call(f) for call in calls] for f in filters]
    with metrics.shared_profiles(tiny):
        shared = [[call(f) for call in calls] for f in filters]
    for expected_frames, got_frames in zip(plain, shared):
        for expected, got in zip(expected_frames, got_frames):
            pd.testing.assert_frame_equal(got, expected)
    assert "metrics.shared_profiles" not in tiny.info


def test_msql017_both_first_visit_shapes_agree_on_every_backend(tiny):
    from metrics.profiles import first_visits_select

    got = {}
    # "duckdb" and None (row_number) are portable SQL; "postgresql" (DISTINCT ON) runs on PostgreSQL only.
    # Each backend gets the shape its planner runs best.
    shapes = ("duckdb", None) + (("postgresql",) if tiny.dialect.name == "postgresql" else ())
    for shape in shapes:
        stmt = first_visits_select(dt.date(2026, 3, 5), shape).order_by("user_id")
        got[shape] = rows(metrics.conform(metrics.frames.read_frame(tiny, stmt)))
    assert all(got[shape] == got[None] for shape in shapes)
    assert [r[0] for r in got[None]] == ["1", BIG, "2", "5"]
    assert got[None][2][3:] == ("DE", "PC", "Zeta")  # the tie at 23:50 goes to "Zeta" < "ads"


def test_msql024_stored_first_visits_are_read_while_current_and_only_then(tiny):
    """The metrics read `user_first_visits` when it was built for the data version: the stored shape equals the
    live one at every observation date; a row altered in the table shows in the profiles and the filters (so it is
    really what they read); after a version bump that changed the visits, the live first visits are back."""
    from metrics.derived import store_derived_tables
    from metrics.profiles import first_visits_select

    db.bump_data_version(tiny)
    tiny.commit()
    assert not db.derived_current(tiny)
    live = metrics.profiles(tiny, F())
    assert store_derived_tables(tiny) == 5  # users 1, 2, 4 (after O, still stored), 5 and the 20-digit one
    tiny.commit()
    assert db.derived_current(tiny)
    for o in ("2026-03-02", "2026-03-03", "2026-03-05", "2026-03-07"):
        o_date = dt.date.fromisoformat(o)
        shapes = [rows(metrics.conform(metrics.frames.read_frame(
            tiny, first_visits_select(o_date, tiny.dialect.name, stored=stored).order_by("user_id"))))
            for stored in (False, True)]
        assert shapes[0] == shapes[1], o
    pd.testing.assert_frame_equal(metrics.profiles(tiny, F()), live)

    t = db.user_first_visits
    tiny.execute(sa.update(t).where(t.c.user_id == "5").values(region="XX"))
    tiny.commit()
    assert metrics.profiles(tiny, F()).set_index("user_id").loc["5", "region"] == "XX"
    assert list(metrics.profiles(tiny, F(regions=["XX"]))["user_id"]) == ["5"]
    assert metrics.new_users(tiny, F(regions=["XX"]), dimensions=())["new_users"].tolist() == [1]

    db.bump_data_version(tiny)  # a writer changed the visits and did not rebuild the table
    tiny.commit()
    assert not db.derived_current(tiny)
    pd.testing.assert_frame_equal(metrics.profiles(tiny, F()), live)
    assert metrics.profiles(tiny, F(regions=["XX"])).empty


def test_msql025_a_version_bump_keeps_the_stored_first_visits_only_when_the_visits_did_not_change(tiny):
    """Scores or an orders-only import bump the version with visits_changed=False: current stored first visits stay
    current. A bump that changed the visits makes them stale, and a later bump without visits does not revive them."""
    from metrics.derived import store_derived_tables

    db.bump_data_version(tiny)
    store_derived_tables(tiny)
    tiny.commit()
    db.bump_data_version(tiny, visits_changed=False)
    tiny.commit()
    assert db.derived_current(tiny)
    db.bump_data_version(tiny)
    tiny.commit()
    assert not db.derived_current(tiny)
    db.bump_data_version(tiny, visits_changed=False)
    tiny.commit()
    assert not db.derived_current(tiny)


def test_msql027_activity_reads_the_stored_user_days_while_current(tiny):
    """With the derived tables current, the activity counts the stored (user_key, day) pairs: the same frames as
    from the visits (filters too); a pair removed from user_days shows in DAU and the summary (so it is what they
    read); after a bump that changed the visits the visits count again."""
    from metrics.derived import store_derived_tables

    calls = [lambda f: metrics.activity_daily(tiny, f), lambda f: metrics.activity_summary(tiny, f),
             lambda f: metrics.activity_weekly(tiny, f), lambda f: metrics.activity_monthly(tiny, f)]
    filters = [F(), F(regions=["UK"]), F(channels=["Zeta", "organic"], observation_date="2026-03-04")]
    db.bump_data_version(tiny)
    tiny.commit()
    live = [[call(f) for call in calls] for f in filters]
    assert store_derived_tables(tiny) == 5
    tiny.commit()
    for expected_frames, f in zip(live, filters):
        for expected, call in zip(expected_frames, calls):
            pd.testing.assert_frame_equal(call(f), expected)
    days = dict(tiny.execute(sa.select(db.user_first_visits.c.user_id, db.user_first_visits.c.user_key)).all())
    assert sorted(tiny.execute(sa.select(db.user_days.c.day).where(db.user_days.c.user_key == days[BIG]))
                  .scalars()) == [dt.date(2026, 3, 3), dt.date(2026, 3, 5)]

    ud = db.user_days
    tiny.execute(sa.delete(ud).where(ud.c.user_key == days["1"], ud.c.day == dt.date(2026, 3, 2)))
    tiny.commit()
    daily = metrics.activity_daily(tiny, F()).set_index("date")["dau"]
    assert daily[pd.Timestamp("2026-03-02")] == live[0][0].set_index("date")["dau"][pd.Timestamp("2026-03-02")] - 1
    assert metrics.activity_summary(tiny, F()).set_index("metric")["value"]["dau"] < \
        live[0][1].set_index("metric")["value"]["dau"]

    db.bump_data_version(tiny)
    tiny.commit()
    pd.testing.assert_frame_equal(metrics.activity_daily(tiny, F()), live[0][0])


def test_msql026_event_tables_without_app_meta_have_no_stored_first_visits(database_url):
    """Event tables made by other tools (no app_meta, no user_first_visits): the metrics compute the first visits
    from the visits and say nothing of a stored table."""
    engine = db.make_engine(database_url)
    db.metadata.create_all(engine, tables=list(db.EVENT_TABLES))
    load_tiny(engine)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("app_meta")
        assert not db.derived_current(conn)
        assert list(metrics.profiles(conn, F())["user_id"]) == ["1", BIG, "2", "5"]
        assert metrics.new_users(conn, F(regions=["UK"]), dimensions=())["new_users"].tolist() == [2]
    engine.dispose()


def test_msql022_activity_scalars_are_the_means_of_straightforward_daily_counts(tiny):
    """activity_summary's DAU, WAU and MAU (contract revision 2), with and without an attribute filter, are the
    means over every date d of the period of a straightforward pandas count: distinct users with a visit on d, in
    [d-6, d] and in [d-29, d]."""
    from metrics.filters import resolve_period

    visits = pd.read_sql(sa.select(db.visits), tiny)
    for filters in (F(), F(regions=["DE"]), F(start="2026-03-04")):
        period = resolve_period(tiny, filters)
        got = metrics.activity_summary(tiny, filters).set_index("metric")["value"]
        seen = visits[pd.to_datetime(visits["session_start"]).dt.date <= period.last]
        if filters.regions:
            profiles = metrics.profiles(tiny, F(regions=["DE"], start=dt.date(2000, 1, 1)))
            seen = seen[seen["user_id"].isin(set(profiles["user_id"]))]
        day = pd.to_datetime(seen["session_start"]).dt.normalize()
        expected = []
        for window in (1, 7, 30):
            counts = [seen["user_id"][(day <= pd.Timestamp(d)) & (day > pd.Timestamp(d) - pd.Timedelta(days=window))]
                      .nunique() for d in period.dates()]
            expected.append(sum(counts) / len(counts))
        assert [got["dau"], got["wau"], got["mau"]] == pytest.approx(expected, rel=1e-12) and expected[0] > 0, (
            filters, got, expected)
        assert got["sticky_wau"] == pytest.approx(expected[0] / expected[1], rel=1e-12)
        assert got["sticky_mau"] == pytest.approx(expected[0] / expected[2], rel=1e-12)


def test_msql023_weeks_and_months_do_not_depend_on_the_session_time_zone(tiny):
    """Week and month starts (and the weekly / monthly activity built on them) are the same whatever the
    database session's time zone: zones whose daylight-saving change happens at midnight (Santiago, Havana),
    far from UTC (Kiritimati +14) and with a half-hour offset (St John's). Only PostgreSQL has session zones."""
    days = [dt.date(2026, 9, 6) + dt.timedelta(days=k) for k in range(-10, 10)]  # Chile's change is 09-06 00:00
    days += [dt.date(2026, 3, 8), dt.date(2026, 11, 1), dt.date(2027, 1, 1), dt.date(2024, 2, 29)]
    expected = [(day - dt.timedelta(days=day.weekday()), day.replace(day=1)) for day in days]
    zones = ("UTC", "America/Santiago", "America/Havana", "Pacific/Kiritimati", "America/St_Johns")
    results = {}
    for zone in zones if tiny.dialect.name == "postgresql" else (None,):
        if zone is not None:
            tiny.execute(sa.text("SELECT set_config('TimeZone', :zone, false)"), {"zone": zone})
        starts = [tuple(_as_date(v) for v in tiny.execute(
            sa.select(d.week_start(sa.literal(day, sa.Date())), d.month_start(sa.literal(day, sa.Date())))).one())
            for day in days]
        assert starts == expected, zone
        results[zone] = (rows(metrics.activity_weekly(tiny, F())), rows(metrics.activity_monthly(tiny, F())))
    assert len({repr(r) for r in results.values()}) == 1 and results[zone][0], results


def _as_date(value) -> dt.date:
    return value if type(value) is dt.date else pd.Timestamp(value).date()


def test_msql090_orders_only_data_takes_its_dates_from_the_orders(engine):
    orders = pd.DataFrame({"user_id": ["a", "b"], "revenue": [1.0, 2.0],
                           "event_dt": pd.to_datetime(["2011-01-03 10:00:00", "2011-02-10 23:59:59"])})
    with engine.begin() as conn:
        db.bulk_insert(conn, db.orders, orders)
    with engine.connect() as conn:
        bounds = metrics.data_bounds(conn)
        period = metrics.resolve_period(conn, Filters.make())
        summary = metrics.activity_summary(conn, Filters.make())
    assert (bounds["first_date"], bounds["last_date"]) == (dt.date(2011, 1, 3), dt.date(2011, 2, 10))
    assert bounds["has_orders"] is True and bounds["has_visits"] is False
    assert (period.start, period.observation_date) == (dt.date(2011, 1, 3), dt.date(2011, 2, 10))
    assert summary.set_index("metric").loc["dau", "value"] == 0  # no visit: activity is zero, not an error
