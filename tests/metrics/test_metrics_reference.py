"""The pandas reference (tests/metrics/reference.py) shown right on hand-computed data, then the SQL layer
(metrics/) compared with it on DuckDB, SQLite and PostgreSQL over many parameter combinations.

Hand example (`metric_data.tiny_data()`), observation date O = 2026-03-05:
- user 1: first visit 03-02 10:00 UK/PC/paid; visits of lifetime 0, 0 (23:59:59 later), 2; orders 10 (lt 0), 5 (lt 2).
- user 2: tie at 03-02 23:50: (US, mac, paid) vs (DE, PC, Zeta) -> Zeta wins; its order is after O.
- user 3: first visit 03-03 00:00:00 US/PC/organic; a visit of lifetime 2; an order 2 before the first visit (lt 0).
- user 4: only visit on 03-06 (after O): no profile.  user 9: an order, no visit: ignored.
- costs as of O: (03-02, paid) 6 + 2 = 8, (03-02, Zeta) 3, (03-03, paid) 4 (no new paid user: unattributed);
  (03-06, organic) 1 is after O, so organic is unpaid.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard import db
from tests.metrics import metric_data
from tests.metrics import reference as ref
from tests.conftest import BACKENDS
from tests.metrics.metric_data import load_data_database

D = pd.Timestamp
O = "2026-03-05"


@pytest.fixture(scope="module")
def tiny():
    return metric_data.tiny_data()


def f(**kwargs) -> ref.Filters:
    kwargs.setdefault("observation_date", O)
    return ref.Filters.make(**kwargs)


def rows(frame: pd.DataFrame) -> list[tuple]:
    """Rows as plain Python tuples (Timestamps kept, NaN and <NA> as None) for exact asserts."""
    out = []
    for record in frame.astype(object).itertuples(index=False):
        out.append(tuple(None if (not isinstance(v, (str, bool)) and pd.isna(v)) else v for v in record))
    return out


# ------------------------------------------------------------------------------ reference unit tests


def test_mref001_period_defaults(tiny):
    assert ref.resolve_period(tiny, ref.Filters()) == ref.Period(
        dt.date(2026, 3, 2), dt.date(2026, 3, 6), dt.date(2026, 3, 6), dt.date(2026, 3, 6))
    assert ref.resolve_period(tiny, f()) == ref.Period(
        dt.date(2026, 3, 2), dt.date(2026, 3, 6), dt.date(2026, 3, 5), dt.date(2026, 3, 5))


def test_mref002_profiles_tie_break_as_of_and_cost(tiny):
    got = ref.profiles(tiny, f())
    assert list(got.columns) == ref.PROFILE_COLUMNS
    assert rows(got) == [
        ("1", D("2026-03-02 10:00"), D("2026-03-02"), D("2026-03-02"), D("2026-03-01"), "UK", "PC", "paid", True, 8.0),
        ("2", D("2026-03-02 23:50"), D("2026-03-02"), D("2026-03-02"), D("2026-03-01"), "DE", "PC", "Zeta", False, 3.0),
        ("3", D("2026-03-03 00:00"), D("2026-03-03"), D("2026-03-02"), D("2026-03-01"), "US", "PC", "organic", True, 0.0),
    ]
    assert got["payer"].dtype == bool and got["acquisition_cost"].dtype == "float64"


def test_mref003_profiles_default_observation_sees_everything(tiny):
    got = ref.profiles(tiny, ref.Filters())
    assert got["user_id"].tolist() == ["1", "2", "3", "4"]
    assert got["payer"].tolist() == [True, True, True, False]       # user 2's order on 03-06 now counts
    assert got["acquisition_cost"].tolist() == [8.0, 3.0, 0.0, 0.0]  # no cost row for (03-06, paid)


def test_mref004_profiles_filters_select_by_first_visit(tiny):
    assert ref.profiles(tiny, f(regions=["US"]))["user_id"].tolist() == ["3"]  # user 2 is DE by profile
    assert ref.profiles(tiny, f(channels=["paid", "Zeta"], devices=["PC"]))["user_id"].tolist() == ["1", "2"]
    assert ref.profiles(tiny, f(start="2026-03-03"))["user_id"].tolist() == ["3"]
    assert ref.profiles(tiny, f(regions=["nowhere"])).empty


def test_mref005_activity(tiny):
    daily = ref.activity_daily(tiny, f())
    assert rows(daily) == [(D("2026-03-02"), 2, 2, 2), (D("2026-03-03"), 3, 3, 3),
                           (D("2026-03-04"), 1, 3, 3), (D("2026-03-05"), 1, 3, 3)]
    assert rows(ref.activity_weekly(tiny, f())) == [(D("2026-03-02"), 3)]
    assert rows(ref.activity_monthly(tiny, f())) == [(D("2026-03-01"), 3)]
    summary = ref.activity_summary(tiny, f())
    assert summary["metric"].tolist() == list(ref.SUMMARY_METRICS)
    # revision 2: WAU and MAU are the means of the daily WAU7 / MAU30 (2, 3, 3, 3), not the calendar week's 3
    assert summary["value"].tolist() == pytest.approx([1.75, 2.75, 2.75, 1.75 / 2.75, 1.75 / 2.75, 8, 615, 300],
                                                      rel=1e-12)


def test_mref006_activity_filtered_and_windows_before_start(tiny):
    assert rows(ref.activity_daily(tiny, f(regions=["US"]))) == [
        (D("2026-03-02"), 0, 0, 0), (D("2026-03-03"), 1, 1, 1), (D("2026-03-04"), 0, 1, 1), (D("2026-03-05"), 1, 1, 1)]
    # Period 03-04 .. 03-05: rolling windows still see 03-02 and 03-03; weeks count only days inside.
    late = f(start="2026-03-04")
    assert rows(ref.activity_daily(tiny, late)) == [(D("2026-03-04"), 1, 3, 3), (D("2026-03-05"), 1, 3, 3)]
    assert rows(ref.activity_weekly(tiny, late)) == [(D("2026-03-02"), 2)]
    summary = ref.activity_summary(tiny, late)["value"].tolist()
    assert summary == pytest.approx([1.0, 3.0, 3.0, 1 / 3, 1 / 3, 2.0, 150.0, 150.0])  # windows reach before start


def test_mref007_rolling_windows_match_brute_force():
    data = metric_data.edge_case_data(3)
    got = ref.activity_daily(data, ref.Filters.make(start="2026-03-20", end="2026-05-01"))
    days = data.visits.assign(day=data.visits["session_start"].dt.normalize())[["user_id", "day"]]
    for row in got.itertuples():
        for window, value in ((1, row.dau), (7, row.wau7), (30, row.mau30)):
            inside = days[(days["day"] <= row.date) & (days["day"] > row.date - pd.Timedelta(days=window))]
            assert value == inside["user_id"].nunique()


def test_mref008_retention_conversion_ltv(tiny):
    assert rows(ref.retention(tiny, f(), horizon=3)) == [
        ("All users", 3, 0, 1.0), ("All users", 3, 1, 0.0), ("All users", 3, 2, 2 / 3)]
    assert rows(ref.conversion(tiny, f(), horizon=3)) == [
        ("All users", 3, 0, 2 / 3), ("All users", 3, 1, 2 / 3), ("All users", 3, 2, 2 / 3)]
    assert rows(ref.ltv(tiny, f(), horizon=3)) == [
        ("All users", 3, 0, 4.0), ("All users", 3, 1, 4.0), ("All users", 3, 2, 17 / 3)]
    assert list(ref.ltv(tiny, f(), horizon=3).columns) == ["cohort", "cohort_size", "lifetime", "value"]


def test_mref009_cohort_bounds_and_horizon(tiny):
    # H = 4: dt <= O - 3 = 03-02 drops user 3; ignore_horizon keeps him.
    assert ref.retention(tiny, f(), horizon=4)["cohort_size"].unique().tolist() == [2]
    assert ref.retention(tiny, f(), horizon=4, ignore_horizon=True)["cohort_size"].unique().tolist() == [3]
    assert len(ref.retention(tiny, f(), horizon=4)) == 4
    assert ref.retention(tiny, f(regions=["nowhere"]), horizon=4).empty
    with pytest.raises(ValueError):
        ref.retention(tiny, f(), horizon=0)
    with pytest.raises(ValueError, match="colour"):
        ref.retention(tiny, f(), dimensions=("colour",))


def test_mref010_grouping_and_code_point_order(tiny):
    got = ref.ltv(tiny, f(), horizon=3, dimensions=("channel",))
    assert rows(got) == [
        ("Zeta", 1, 0, 0.0), ("Zeta", 1, 1, 0.0), ("Zeta", 1, 2, 0.0),
        ("organic", 1, 0, 2.0), ("organic", 1, 1, 2.0), ("organic", 1, 2, 2.0),
        ("paid", 1, 0, 10.0), ("paid", 1, 1, 10.0), ("paid", 1, 2, 15.0),
    ]
    by_payer = ref.conversion(tiny, f(), horizon=1, dimensions=("payer", "week"))
    assert rows(by_payer) == [(False, D("2026-03-02"), 1, 0, 0.0), (True, D("2026-03-02"), 2, 0, 1.0)]


def test_mref011_roi_and_payback(tiny):
    assert rows(ref.roi(tiny, f(), horizon=3)) == [
        ("All users", 2, 5.5, 0, 5 / 5.5), ("All users", 2, 5.5, 1, 5 / 5.5), ("All users", 2, 5.5, 2, 7.5 / 5.5)]
    assert rows(ref.payback(tiny, f(), horizon=3)) == [("All users", 2, 5.5, 2)]
    assert rows(ref.payback(tiny, f(), horizon=2)) == [("All users", 2, 5.5, None)]
    by_channel = ref.payback(tiny, f(), horizon=3, dimensions=("channel",))
    assert rows(by_channel) == [("Zeta", 1, 3.0, None), ("paid", 1, 8.0, 0)]
    assert str(by_channel["payback_day"].dtype) == "Int64"
    # organic is unpaid: no ROI row; a paid group with cac 0 has no row either.
    assert ref.roi(tiny, f(channels=["organic"]), horizon=3).empty


def test_mref012_channel_economics(tiny):
    assert rows(ref.channel_economics(tiny, f())) == [
        ("Zeta", 3.0, 1, 3.0, 0.0), ("organic", 0.0, 1, 0.0, 0.0), ("paid", 8.0, 1, 8.0, 4.0)]
    assert rows(ref.channel_economics(tiny, f(), grain="dt")) == [
        (D("2026-03-02"), "Zeta", 3.0, 1, 3.0, 0.0), (D("2026-03-02"), "paid", 8.0, 1, 8.0, 0.0),
        (D("2026-03-03"), "organic", 0.0, 1, 0.0, 0.0), (D("2026-03-03"), "paid", 0.0, 0, None, 4.0)]
    # A region filter changes new users and costs, never unattributed.
    assert rows(ref.channel_economics(tiny, f(regions=["US"]))) == [
        ("Zeta", 0.0, 0, None, 0.0), ("organic", 0.0, 1, 0.0, 0.0), ("paid", 0.0, 0, None, 4.0)]
    assert rows(ref.channel_economics(tiny, f(channels=["paid"]), grain="month")) == [
        (D("2026-03-01"), "paid", 8.0, 1, 8.0, 4.0)]


def test_mref013_money_and_new_users(tiny):
    assert rows(ref.daily_revenue(tiny, f())) == [
        (D("2026-03-02"), 12.0, 2, 2), (D("2026-03-03"), 0.0, 0, 0), (D("2026-03-04"), 5.0, 1, 1),
        (D("2026-03-05"), 0.0, 0, 0)]
    assert rows(ref.daily_spend(tiny, f())) == [
        (D("2026-03-02"), "Zeta", 3.0), (D("2026-03-02"), "paid", 8.0), (D("2026-03-03"), "paid", 4.0)]
    assert rows(ref.daily_spend(tiny, f(regions=["nowhere"], channels=["Zeta"]))) == [(D("2026-03-02"), "Zeta", 3.0)]
    assert rows(ref.new_users(tiny, f())) == [(D("2026-03-02"), 2), (D("2026-03-03"), 1)]
    assert rows(ref.new_users(tiny, f(), dimensions=())) == [("All users", 3)]
    assert rows(ref.new_users(tiny, f(), dimensions=("payer", "region"))) == [
        (False, "DE", 1), (True, "UK", 1), (True, "US", 1)]


def test_mref014_edge_data_invariants():
    data = metric_data.edge_case_data(1)
    assert data.visits.equals(metric_data.edge_case_data(1).visits)  # seeded
    assert (data.visits["session_end"] >= data.visits["session_start"]).all()
    assert (data.orders["revenue"] > 0).all() and (data.costs["costs"] >= 0).all()
    assert 200 <= data.visits["user_id"].nunique() <= 500 and 1500 <= len(data.visits) <= 6000
    ids = set(data.visits["user_id"])
    assert any(i.isdigit() and int(i) > 2**64 for i in ids) and "user-é-42" in ids
    assert not set(data.orders["user_id"]) <= ids  # orders by users with no visit
    firsts = data.visits.groupby("user_id")["session_start"].transform("min")
    tied = data.visits[data.visits["session_start"] == firsts].groupby("user_id").size()
    assert (tied > 1).sum() >= 10
    assert (data.visits["session_start"].dt.normalize() == data.visits["session_start"]).sum() >= 10
    assert (data.visits["session_end"].dt.normalize() > data.visits["session_start"].dt.normalize()).sum() >= 10
    assert data.costs.duplicated(["dt", "channel"]).sum() >= 5
    # Without region / device filters, attributed + unattributed = the whole spend in the period.
    econ = ref.channel_economics(data, ref.Filters())
    period = ref.resolve_period(data, ref.Filters())
    spend = data.costs[(data.costs["dt"] >= D(period.start)) & (data.costs["dt"] <= D(period.last))]
    assert np.isclose(econ["costs"].sum() + econ["unattributed"].sum(), spend["costs"].sum(), rtol=1e-12)
    assert econ["unattributed"].sum() > 0


def test_mref015_comparison_is_strict():
    base = pd.DataFrame({"channel": ["Zeta", "alpha"], "payer": [False, True], "lifetime": [0, 1],
                         "value": [1.0, np.nan], "dt": pd.to_datetime(["2026-03-02", "2026-03-03"])})
    assert_same_frame(base.assign(value=[1.0 + 1e-12, np.nan]), base)
    broken = [
        base.assign(value=[1.0 + 1e-8, np.nan]),          # beyond 1e-9 relative
        base.assign(value=[1.0, 0.0]),                     # NaN is not 0
        base.iloc[::-1],                                   # row order
        base.assign(lifetime=[0.0, 1.0]),                  # ints as floats
        base.assign(channel=["Zeta", "Alpha"]),            # strings exactly
        base.assign(dt=pd.to_datetime(["2026-03-02", "2026-03-04"])),
        base[["payer", "channel", "lifetime", "value", "dt"]],  # column order
        base.iloc[:1],
    ]
    for frame in broken:
        with pytest.raises(AssertionError):
            assert_same_frame(frame, base)


# ------------------------------------------------------------------------------ SQL layer vs reference
# One edge-case data set, loaded once per backend (module-scoped), compared on a deterministic grid
# of parameters plus a few random (hypothesis) combinations.

SEED = 7
DATA = metric_data.edge_case_data(SEED)
FIRST, LAST = "2026-03-04", "2026-05-20"  # the data's first and last session_start dates

FILTERS = {
    "all": {},
    "uk": {"regions": ["UK"]},
    "two_channels": {"channels": ["Zeta", "alpha"]},
    "iphone_faceboom": {"devices": ["iPhone"], "channels": ["FaceBoom"]},
    "nobody": {"regions": ["Atlantis"]},
    "regions_devices": {"regions": ["Österreich", "germany"], "devices": ["PC", "mac"]},
    "narrow": {"start": "2026-03-16", "end": "2026-04-26"},
    "o_first_day": {"observation_date": FIRST},
    "o_last_day": {"observation_date": LAST},
    "o_middle": {"observation_date": "2026-04-15"},
    "o_before_late_paid": {"observation_date": "2026-04-19", "channels": ["LateAds", "organic", "Zeta"]},
    "o_late_paid": {"observation_date": "2026-04-20", "channels": ["LateAds", "organic", "Zeta"]},
    "o_beyond_end": {"start": "2026-03-10", "end": "2026-04-10", "observation_date": "2026-04-30"},
    "o_after_data": {"observation_date": "2026-05-25"},
    "start_before_data": {"start": "2026-02-20", "end": "2026-03-31"},
    "o_before_start": {"start": "2026-05-01", "observation_date": "2026-04-15"},  # empty period
}

# Every filter set runs these; the rest run on FULL_FILTERS only.
CORE_CASES = [
    ("profiles", {}),
    ("activity_daily", {}),
    ("activity_summary", {}),
    ("daily_revenue", {}),
    ("channel_economics", {"grain": None}),
    ("channel_economics", {"grain": "week"}),
]
MORE_CASES = [
    ("resolve_period", {}),
    ("activity_weekly", {}),
    ("activity_monthly", {}),
    ("daily_spend", {}),
    ("channel_economics", {"grain": "dt"}),
    ("channel_economics", {"grain": "month"}),
    ("new_users", {}),
    ("new_users", {"dimensions": ()}),
    ("new_users", {"dimensions": ("channel", "payer")}),
    ("new_users", {"dimensions": ("week", "device")}),
]
FULL_FILTERS = ("all", "two_channels", "nobody", "narrow", "o_middle", "o_beyond_end", "start_before_data")

COHORT_FUNCTIONS = ("retention", "conversion", "ltv", "roi", "payback")
# (filters, horizon, dimensions, ignore_horizon)
COHORT_CASES = [
    ("all", 14, (), False),
    ("all", 1, ("channel",), False),
    ("all", 7, ("region",), True),
    ("all", 60, ("device",), False),
    ("all", 14, ("payer",), False),
    ("all", 7, ("dt",), False),
    ("all", 14, ("week",), True),
    ("all", 30, ("month",), False),
    ("all", 60, ("region", "device", "channel"), True),
    ("all", 14, ("device", "region"), False),
    ("two_channels", 14, ("channel", "payer"), False),
    ("uk", 7, ("week", "device"), False),
    ("iphone_faceboom", 14, ("region", "device", "channel"), True),
    ("regions_devices", 21, ("payer", "month", "region"), False),
    ("nobody", 14, (), False),
    ("nobody", 7, ("channel", "payer"), True),
    ("o_first_day", 1, ("channel",), False),
    ("o_first_day", 14, (), False),
    ("o_first_day", 14, ("device",), True),
    ("o_middle", 14, ("channel",), False),
    ("o_middle", 60, (), True),
    ("o_before_late_paid", 7, ("payer",), True),  # LateAds unpaid: not in the paid cohort
    ("o_late_paid", 7, ("payer",), True),  # LateAds paid (cost 0 for its users): in the paid cohort
    ("narrow", 21, ("month", "payer"), False),
    ("o_beyond_end", 14, ("channel",), False),
    ("o_after_data", 60, (), True),
    ("o_last_day", 2, ("dt", "channel"), False),
    ("start_before_data", 10, ("week",), False),
]


def _case_id(fn: str, filters: str, params: dict) -> str:
    parts = [fn, filters]
    for key, value in params.items():
        if key == "dimensions":
            value = "+".join(value) or "nodims"
        parts.append(f"{key}={value}")
    return "-".join(str(p) for p in parts)


CASES = [(fn, fname, params) for fname in FILTERS for fn, params in CORE_CASES]
CASES += [(fn, fname, params) for fname in FULL_FILTERS for fn, params in MORE_CASES]
CASES += [
    (fn, fname, {"horizon": h, "dimensions": dims, "ignore_horizon": ignore})
    for number, (fname, h, dims, ignore) in enumerate(COHORT_CASES)
    for fn in COHORT_FUNCTIONS
    if fn != "payback" or number % 2 == 0  # payback is roi's first crossing: half the cases suffice
]
_REFERENCE_CACHE: dict[str, object] = {}


def reference_result(fn: str, filter_kwargs: dict, params: dict):
    """The reference's answer, computed once per case for all backends."""
    key = repr((fn, sorted(filter_kwargs.items()), sorted(params.items())))
    if key not in _REFERENCE_CACHE:
        _REFERENCE_CACHE[key] = getattr(ref, fn)(DATA, ref.Filters.make(**filter_kwargs), **params)
    return _REFERENCE_CACHE[key]


def sql_result(conn, fn: str, filter_kwargs: dict, params: dict):
    """The SQL layer's answer on the connection `conn`."""
    import metrics  # here, so that the reference's own tests run even while metrics/ is broken

    return getattr(metrics, fn)(conn, metrics.Filters.make(**filter_kwargs), **params)


FIRST_VISIT_MODES = ("stored", "live")


@pytest.fixture(scope="module", params=[(b, m) for b in BACKENDS for m in FIRST_VISIT_MODES],
                ids=[f"{b}-{m}" for b in BACKENDS for m in FIRST_VISIT_MODES])
def loaded(request, tmp_path_factory):
    """A connection to a database holding DATA, one per backend and first-visit mode for the whole module (read
    only): `stored` = the table user_first_visits built for the data version, as after an import (what the app
    reads); `live` = first visits computed from the visits on each query (no stored table for this version)."""
    backend, mode = request.param
    engine, cleanup = load_data_database(DATA, backend, mode, tmp_path_factory.mktemp(f"ref_{backend}_{mode}"))
    with engine.connect() as conn:
        assert db.derived_current(conn) is (mode == "stored")
        yield conn
    engine.dispose()
    cleanup()


def _describe(frame: pd.DataFrame, positions) -> str:
    return frame.iloc[list(positions)[:8]].to_string()


def assert_same_frame(got: pd.DataFrame, expected: pd.DataFrame, *, sort_by: list[str] | None = None) -> None:
    """Same columns and row order; ints equal; floats to 1e-9 relative (NaN == NaN); same dates and strings."""
    assert isinstance(got, pd.DataFrame), type(got)
    assert list(got.columns) == list(expected.columns), f"columns {list(got.columns)} != {list(expected.columns)}"
    if sort_by:
        got = got.assign(_key=got[sort_by[0]].astype(str)).sort_values("_key", kind="mergesort").drop(columns="_key")
    got = got.reset_index(drop=True)
    assert len(got) == len(expected), (
        f"{len(got)} rows != expected {len(expected)}\nGOT:\n{got.head(12).to_string()}\n"
        f"EXPECTED:\n{expected.head(12).to_string()}")
    if len(expected) == 0:
        return
    for column in expected.columns:
        want, have = expected[column], got[column]
        if pd.api.types.is_datetime64_any_dtype(want):
            assert pd.api.types.is_datetime64_any_dtype(have), f"{column}: dtype {have.dtype}, want datetime64"
            bad = have.astype("datetime64[us]").to_numpy() != want.astype("datetime64[us]").to_numpy()
        elif pd.api.types.is_bool_dtype(want):
            assert pd.api.types.is_bool_dtype(have), f"{column}: dtype {have.dtype}, want bool"
            bad = have.to_numpy(dtype=bool) != want.to_numpy(dtype=bool)
        elif pd.api.types.is_integer_dtype(want):
            assert pd.api.types.is_integer_dtype(have), f"{column}: dtype {have.dtype}, want integer"
            if str(want.dtype) == "Int64":
                assert str(have.dtype) == "Int64", f"{column}: dtype {have.dtype}, want Int64"
            want_na, have_na = want.isna().to_numpy(), have.isna().to_numpy()
            bad = (want_na != have_na) | (~want_na & (have.fillna(-1).to_numpy(dtype="int64")
                                                      != want.fillna(-1).to_numpy(dtype="int64")))
        elif pd.api.types.is_float_dtype(want):
            assert have.dtype == "float64", f"{column}: dtype {have.dtype}, want float64"
            a, b = have.to_numpy(dtype="float64"), want.to_numpy(dtype="float64")
            bad = ~(np.isclose(a, b, rtol=1e-9, atol=0.0) | (np.isnan(a) & np.isnan(b)))
        else:
            assert pd.api.types.is_string_dtype(have) or have.dtype == object, f"{column}: dtype {have.dtype}"
            bad = np.array([type(x) is not str or x != y for x, y in zip(have.tolist(), want.tolist())])
        where = np.flatnonzero(bad)
        assert len(where) == 0, (
            f"column {column!r}: {len(where)} of {len(want)} rows differ\nGOT:\n{_describe(got, where)}\n"
            f"EXPECTED:\n{_describe(expected, where)}")


def compare(conn, fn: str, filter_kwargs: dict, params: dict) -> None:
    """Assert that metrics.<fn> on `conn` equals reference.<fn> for these filters and parameters."""
    expected = reference_result(fn, filter_kwargs, params)
    got = sql_result(conn, fn, filter_kwargs, params)
    if fn == "resolve_period":
        fields = ("start", "end", "observation_date", "last")
        have = tuple(pd.Timestamp(getattr(got, name)).date() for name in fields)
        assert have == tuple(expected), f"{have} != {tuple(expected)}"
        return
    assert_same_frame(got, expected, sort_by=["user_id"] if fn == "profiles" else None)


@pytest.mark.parametrize(("fn", "filters", "params"), CASES,
                         ids=[_case_id(fn, fname, params) for fn, fname, params in CASES])
def test_mref100_sql_matches_reference(loaded, fn, filters, params):
    compare(loaded, fn, FILTERS[filters], params)


DATES = pd.date_range("2026-02-25", "2026-05-26", freq="D").date.tolist()


@st.composite
def random_case(draw):
    """A random cohort query: filters, period, observation date, horizon, dimensions, ignore_horizon."""
    kwargs: dict = {}
    for field, values in (("regions", metric_data.REGIONS), ("devices", metric_data.DEVICES),
                          ("channels", metric_data.USER_CHANNELS + [metric_data.GHOST_CHANNEL])):
        if draw(st.booleans()):
            kwargs[field] = draw(st.lists(st.sampled_from(values), min_size=1, max_size=3, unique=True))
    dates = sorted(draw(st.lists(st.sampled_from(DATES), min_size=2, max_size=2)))
    if draw(st.booleans()):
        kwargs["start"] = dates[0]
    if draw(st.booleans()):
        kwargs["end"] = dates[1]
    if draw(st.booleans()):
        kwargs["observation_date"] = draw(st.sampled_from(DATES))
    dims = tuple(draw(st.permutations(ref.DIMENSIONS))[:draw(st.integers(0, 3))])
    fn = draw(st.sampled_from(COHORT_FUNCTIONS + COHORT_FUNCTIONS + (
        "channel_economics", "activity_summary", "activity_daily", "activity_weekly", "profiles", "new_users",
        "daily_revenue", "daily_spend")))
    if fn == "channel_economics":
        return fn, kwargs, {"grain": draw(st.sampled_from([None, "dt", "week", "month"]))}
    if fn == "new_users":
        return fn, kwargs, {"dimensions": dims}
    if fn not in COHORT_FUNCTIONS:
        return fn, kwargs, {}
    return fn, kwargs, {"horizon": draw(st.integers(1, 60)), "dimensions": dims,
                        "ignore_horizon": draw(st.booleans())}


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=random_case())
def test_mref101_sql_matches_reference_random(loaded, case):
    fn, kwargs, params = case
    compare(loaded, fn, kwargs, params)


def test_mref102_sql_rejects_bad_parameters_like_reference(loaded):
    import metrics

    with pytest.raises(ValueError):
        metrics.retention(loaded, metrics.Filters.make(), horizon=0)
    with pytest.raises(ValueError, match="colour"):
        metrics.ltv(loaded, metrics.Filters.make(), dimensions=("colour",))
