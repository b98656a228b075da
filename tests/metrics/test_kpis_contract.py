"""KPIs and comparison (contract revision 2, `metrics.kpi_table`): the pandas reference (tests/metrics/reference.py) on
hand-computed data, then the SQL layer against it on DuckDB, SQLite and PostgreSQL (1e-9).

Data for the SQL comparison: two years of edge-case data (`two_years()`): seed 7 over 2026-03-04 .. 2026-05-20 and
seed 8 moved back 364 days (2025-03-05 .. 2025-05-21), so "previous year" comparisons can be comparable; the
data's first date is 2025-03-05.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import BACKENDS
from tests.metrics import metric_data
from tests.metrics.metric_data import load_data_database
from tests.metrics import reference as ref
from tests.metrics.test_metrics_reference import assert_same_frame

YEAR = pd.Timedelta(days=364)


def two_years() -> ref.Data:
    """Edge-case data of seed 7 (2026) and of seed 8 moved back by 364 days (2025), in one data set."""
    this, last = metric_data.edge_case_data(7), metric_data.edge_case_data(8)
    visits = last.visits.assign(session_start=last.visits["session_start"] - YEAR,
                                session_end=last.visits["session_end"] - YEAR)
    orders = last.orders.assign(event_dt=last.orders["event_dt"] - YEAR)
    costs = last.costs.assign(dt=pd.to_datetime(last.costs["dt"]) - YEAR)
    return ref.Data(pd.concat([visits, this.visits], ignore_index=True),
                    pd.concat([orders, this.orders], ignore_index=True),
                    pd.concat([costs, this.costs.assign(dt=pd.to_datetime(this.costs["dt"]))], ignore_index=True))


DATA = two_years()
FIRST = dt.date(2025, 3, 5)  # the data's first date

# (filters, horizon); every case runs with compare previous, year and none
CASES = {
    "default": ({}, 14),  # the whole data: neither comparison is comparable
    "late_28": ({"start": "2026-04-20", "end": "2026-05-17"}, 14),  # both comparable
    "one_day": ({"start": "2026-04-20", "end": "2026-04-20"}, 1),
    "early_not_comparable": ({"start": "2025-03-10", "end": "2025-03-30"}, 7),  # starts < n days after the data
    "previous_on_first_day": ({"start": "2025-03-26", "end": "2025-04-15"}, 7),  # P' starts on the first date
    "previous_a_day_early": ({"start": "2025-03-25", "end": "2025-04-14"}, 7),  # P' starts one day before it
    "start_before_data": ({"start": "2025-02-20", "end": "2025-03-31"}, 14),
    "o_before_end": ({"start": "2026-04-01", "end": "2026-04-30", "observation_date": "2026-04-18"}, 7),
    "o_after_end": ({"start": "2026-04-01", "end": "2026-04-14", "observation_date": "2026-05-10"}, 14),
    "o_before_start": ({"start": "2026-05-01", "end": "2026-05-10", "observation_date": "2026-04-15"}, 14),
    "uk": ({"start": "2026-04-20", "end": "2026-05-17", "regions": ["UK"]}, 14),  # spend = attributed spend
    "devices": ({"start": "2026-04-06", "end": "2026-05-03", "devices": ["PC", "iPhone"]}, 7),
    "region_channels": ({"start": "2026-04-20", "end": "2026-05-17", "regions": ["germany", "Österreich"],
                         "channels": ["FaceBoom", "organic"]}, 14),
    "paid_only": ({"start": "2026-04-13", "end": "2026-05-10", "channels": ["FaceBoom", "TipTop"]}, 30),
    "organic_only": ({"start": "2026-04-13", "end": "2026-05-10", "channels": ["organic"]}, 14),
    "late_paid": ({"start": "2026-04-10", "end": "2026-04-30", "channels": ["LateAds", "Zeta"]}, 7),
    "nobody": ({"start": "2026-04-20", "end": "2026-05-17", "regions": ["Atlantis"]}, 14),
}
COMPARE = ("previous", "year", "none")


# ------------------------------------------------------------------------------------------ the reference


def test_kref001_reference_kpis_by_hand():
    """Tiny data (see test_metrics_reference), O = 03-05: the period 03-02 .. 03-05 has no previous period in the
    data; 03-04 .. 03-05 against 03-02 .. 03-03 as of 03-03 does."""
    tiny = metric_data.tiny_data()
    whole = ref.kpis(tiny, ref.Filters.make(observation_date="2026-03-05"), horizon=3, compare="previous")
    assert whole["kpi"].tolist() == list(ref.KPI_NAMES)
    assert whole["value"].tolist() == pytest.approx(
        [3, 3, 1.75, 2.75, 2.75, 615, 1.75 / 2.75, 17, 15, 5.5, 7.5 / 5.5, 2 / 3], rel=1e-12)
    assert whole[["previous_value", "change"]].isna().all().all()
    late = ref.kpis(tiny, ref.Filters.make(start="2026-03-04", observation_date="2026-03-05"), horizon=1,
                    compare="previous").set_index("kpi")
    # P': users 1, 2, 3 new; DAU (2 + 3) / 2; spend 8 + 3 + 4 (cost rows as of 03-03); cac over paid and Zeta (8, 3)
    assert late.loc["new_users", "previous_value"] == 3 and late.loc["new_users", "value"] == 0
    assert late.loc["dau", "previous_value"] == 2.5 and late.loc["dau", "value"] == 1.0
    assert late.loc["spend", "previous_value"] == 15.0 and late.loc["spend", "value"] == 0.0
    assert late.loc["cac", "previous_value"] == 5.5 and math.isnan(late.loc["cac", "value"])
    assert late.loc["spend", "change"] == -1.0 and math.isnan(late.loc["cac", "change"])  # an empty side: empty
    assert late.loc["roi", "previous_value"] == pytest.approx(5 / 5.5)  # ltv(0) 10 / 2 users / cac 5.5
    # a region filter: spend is the attributed spend of the filtered new users (user 1: 8), not the cost rows
    uk = ref.kpis(tiny, ref.Filters.make(start="2026-03-04", observation_date="2026-03-05", regions=["UK"]),
                  horizon=1, compare="previous").set_index("kpi")
    assert uk.loc["spend", "previous_value"] == 8.0 and uk.loc["roi", "previous_value"] == 1.25
    assert uk.loc["users", "change"] == 0.0 and uk.loc["new_users", "change"] == -1.0


def test_kref002_reference_comparison_periods():
    """previous: n days before start as of O - n; year: 364 days back as of O - 364; comparable from the first date."""
    f = ref.Filters.make(start="2025-03-26", end="2025-04-15")
    assert ref.comparison_period(DATA, f, "previous") == ref.Comparison(
        dt.date(2025, 3, 5), dt.date(2025, 3, 25), dt.date(2025, 3, 25), True)
    assert not ref.comparison_period(DATA, ref.Filters.make(start="2025-03-25", end="2025-04-14"), "previous").comparable
    late = ref.Filters.make(start="2026-04-01", end="2026-04-30", observation_date="2026-04-18")
    assert ref.comparison_period(DATA, late, "previous") == ref.Comparison(
        dt.date(2026, 3, 14), dt.date(2026, 3, 31), dt.date(2026, 3, 31), True)  # n = 18 days up to O
    assert ref.comparison_period(DATA, late, "year") == ref.Comparison(
        dt.date(2025, 4, 2), dt.date(2025, 4, 19), dt.date(2025, 4, 19), True)
    assert ref.comparison_period(DATA, late, "none") is None


# ------------------------------------------------------------------------------------------ SQL vs reference


@pytest.fixture(scope="module", params=[(b, m) for b in BACKENDS for m in ("stored", "live")],
                ids=[f"{b}-{m}" for b in BACKENDS for m in ("stored", "live")])
def loaded(request, tmp_path_factory):
    """A read-only connection to a database holding DATA, per backend, with the stored first visits and user days
    (`stored`, as after an import) or without (`live`)."""
    backend, mode = request.param
    engine, cleanup = load_data_database(DATA, backend, mode, tmp_path_factory.mktemp(f"kpis_{backend}_{mode}"))
    with engine.connect() as conn:
        yield conn
    engine.dispose()
    cleanup()


_EXPECTED: dict[tuple[str, str], pd.DataFrame] = {}


def expected(case: str, compare: str) -> pd.DataFrame:
    """The reference's KPI table of a case, computed once for every backend."""
    if (case, compare) not in _EXPECTED:
        kwargs, horizon = CASES[case]
        _EXPECTED[case, compare] = ref.kpis(DATA, ref.Filters.make(**kwargs), horizon=horizon, compare=compare)
    return _EXPECTED[case, compare]


@pytest.mark.parametrize("compare", COMPARE)
@pytest.mark.parametrize("case", list(CASES))
def test_kpi100_sql_matches_reference(loaded, case, compare):
    import metrics

    kwargs, horizon = CASES[case]
    query = metrics.MetricQuery.make(**kwargs, horizon=horizon, compare=compare)
    got = metrics.kpi_table(loaded, query)
    assert_same_frame(got, expected(case, compare))
    want = ref.comparison_period(DATA, ref.Filters.make(**kwargs), compare)
    period = got.attrs["comparison"]
    assert period == metrics.comparison_period(loaded, query)
    if want is None:
        assert period is None
    else:
        assert (period.start, period.end, period.observation_date, period.comparable) == tuple(want)
        assert (period.reason == "") is period.comparable


def test_kpi101_comparability_rules(loaded):
    """n/a with the reason (and no number) when the comparison period starts before the data's first date; the
    same values whatever the comparison; change empty when the previous value is 0 or empty."""
    import metrics

    early = metrics.MetricQuery.make("2025-03-10", "2025-03-30", compare="previous")
    period = metrics.comparison_period(loaded, early)
    assert not period.comparable and period.start == dt.date(2025, 2, 17)
    assert period.reason == "the previous period starts on 2025-02-17, before the data's first date 2025-03-05"
    table = metrics.kpi_table(loaded, early)
    assert table[["previous_value", "change"]].isna().all().all() and table["value"].notna().all()
    none = metrics.kpi_table(loaded, early.with_(compare="none"))
    pd.testing.assert_frame_equal(none, table, check_exact=True)
    assert none.attrs["comparison"] is None
    on_first = metrics.comparison_period(loaded, early.with_filters(start=dt.date(2025, 3, 26),
                                                                    end=dt.date(2025, 4, 15)))
    assert on_first.comparable and on_first.start == FIRST
    year = metrics.comparison_period(loaded, metrics.MetricQuery.make("2026-04-20", "2026-05-17", compare="year"))
    assert year.comparable and (year.start, year.end) == (dt.date(2025, 4, 21), dt.date(2025, 5, 18))
    organic = metrics.kpi_table(loaded, metrics.MetricQuery.make("2026-04-13", "2026-05-10", channels=["organic"],
                                                            compare="previous")).set_index("kpi")
    assert organic.loc["spend", "previous_value"] == 0 and math.isnan(organic.loc["spend", "change"])
    assert organic[["value", "previous_value"]].loc[["cac", "roi"]].isna().all().all()  # no paid new user


def test_kpi102_one_spend_rule(loaded):
    """Without a region or device filter spend is the cost rows of the period (channel filter applied); with one,
    the attributed spend of the filtered new users: the same in the KPI table and in spend_daily_by_rule."""
    import metrics

    plain = metrics.MetricQuery.make("2026-04-20", "2026-05-17", channels=["FaceBoom", "TipTop", "organic"])
    assert metrics.spend_daily_by_rule(loaded, plain).equals(metrics.daily_spend(loaded, plain))
    uk = plain.with_filters(regions=("UK",))
    by_rule = metrics.spend_daily_by_rule(loaded, uk)
    new = metrics.profiles(loaded, uk)
    assert list(by_rule.columns) == ["date", "channel", "costs"] and len(by_rule) > 0
    assert set(by_rule["channel"]) <= {"FaceBoom", "TipTop"}  # organic has no cost rows
    assert by_rule["costs"].sum() == pytest.approx(new["acquisition_cost"].sum(), rel=1e-12)
    assert by_rule["costs"].sum() < metrics.daily_spend(loaded, uk)["costs"].sum()
    assert metrics.kpi_table(loaded, uk).set_index("kpi").loc["spend", "value"] == pytest.approx(
        by_rule["costs"].sum(), rel=1e-12)
    economics = metrics.channel_economics(loaded, uk)
    assert economics["costs"].sum() == pytest.approx(by_rule["costs"].sum(), rel=1e-12)  # channel table agrees
    per_day = by_rule.groupby(["date", "channel"])["costs"].sum()
    new_per_day = new.groupby(["dt", "channel"])["acquisition_cost"].sum()
    assert np.allclose(per_day.to_numpy(), new_per_day.reindex(per_day.index).to_numpy(), rtol=1e-12)
