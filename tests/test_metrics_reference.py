"""The pandas reference (tests/reference.py) shown right on hand-computed data, then the SQL layer
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

from tests import metric_data
from tests import reference as ref

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
    assert summary["value"].tolist() == pytest.approx([1.75, 3, 3, 1.75 / 3, 1.75 / 3, 8, 615, 300], rel=1e-12)


def test_mref006_activity_filtered_and_windows_before_start(tiny):
    assert rows(ref.activity_daily(tiny, f(regions=["US"]))) == [
        (D("2026-03-02"), 0, 0, 0), (D("2026-03-03"), 1, 1, 1), (D("2026-03-04"), 0, 1, 1), (D("2026-03-05"), 1, 1, 1)]
    # Period 03-04 .. 03-05: rolling windows still see 03-02 and 03-03; weeks count only days inside.
    late = f(start="2026-03-04")
    assert rows(ref.activity_daily(tiny, late)) == [(D("2026-03-04"), 1, 3, 3), (D("2026-03-05"), 1, 3, 3)]
    assert rows(ref.activity_weekly(tiny, late)) == [(D("2026-03-02"), 2)]
    summary = ref.activity_summary(tiny, late)["value"].tolist()
    assert summary == pytest.approx([1.0, 2.0, 2.0, 0.5, 0.5, 2.0, 150.0, 150.0])


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
