"""The KPIs per day (`metrics.kpi_daily`, the Overview cards' sparklines): a straightforward pandas reference below,
checked by hand on tiny data, then the SQL layer against it on DuckDB, SQLite and PostgreSQL (stored and live
profiles), with and without region/device filters, for the current and a comparison period (1e-9).

The reference builds every series from the event frames and the contract's profiles (`reference.profiles`,
`reference.activity_daily`, `reference.daily_revenue`, `reference.roi`): users to date = profiles with dt <= d;
new users, payer share and CAC of the paid new users per acquisition date; ASL = the mean length of the visits
starting that day; spend = the cost rows of the day, or with a region or device filter the day's new users'
acquisition cost; ROI = roi(H-1) of the day's acquisition cohort.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from tests.conftest import BACKENDS
from tests.metrics import metric_data
from tests.metrics import reference as ref
from tests.metrics.metric_data import load_data_database
from tests.metrics.test_kpis_contract import DATA, two_years  # noqa: F401 - the two-year data of the KPI tests

COUNTS = ("users", "new_users", "dau", "wau", "mau")
COLUMNS = ("date", *ref.KPI_NAMES)


def reference_kpi_daily(data, filters: ref.Filters, horizon: int = 14) -> pd.DataFrame:
    """Return the KPIs per date of [start, min(end, O)] straight from the event frames (pandas only)."""
    period = ref.resolve_period(data, filters)
    days = pd.date_range(period.start, period.last, freq="D", unit="us")
    observation = pd.Timestamp(period.observation_date)
    # every filtered profile as of O with dt <= last: the same filters over the data's whole range
    upto = ref.profiles(data, ref.Filters(None, period.last, period.observation_date, filters.regions,
                                          filters.devices, filters.channels))
    upto = upto[upto["dt"] <= pd.Timestamp(period.last)]
    costs = data.costs.assign(dt=pd.to_datetime(data.costs["dt"]))
    paid_channels = set(costs.loc[costs["dt"] <= observation, "channel"].astype(str))
    new = upto[upto["dt"] >= pd.Timestamp(period.start)]
    per_dt = new.groupby("dt")
    paid_new = new[new["channel"].isin(paid_channels)]

    activity = ref.activity_daily(data, filters).set_index("date").reindex(days)
    visits = data.visits.assign(user_id=data.visits["user_id"].astype(str))
    visits = visits[visits["user_id"].isin(set(upto["user_id"]))]
    day = pd.to_datetime(visits["session_start"]).dt.normalize()
    seconds = (pd.to_datetime(visits["session_end"]) - pd.to_datetime(visits["session_start"])).dt.total_seconds()
    asl = seconds[(day >= days[0]) & (day <= days[-1])].groupby(day).mean() if len(days) else pd.Series(dtype=float)

    if filters.regions or filters.devices:  # spend has no country or device: the new users' attributed spend
        spend = per_dt["acquisition_cost"].sum()
    else:
        rows = costs[(costs["dt"] >= days[0]) & (costs["dt"] <= days[-1])] if len(days) else costs.iloc[0:0]
        if filters.channels:
            rows = rows[rows["channel"].isin(list(filters.channels))]
        spend = rows.groupby("dt")["costs"].sum()
    roi = ref.roi(data, filters, horizon, dimensions=("dt",))
    roi = roi[roi["lifetime"] == horizon - 1].set_index("dt")["value"]
    new_count = per_dt.size().reindex(days, fill_value=0)
    before = int((upto["dt"] < pd.Timestamp(period.start)).sum())
    mau = activity["mau30"].astype(float)
    return pd.DataFrame({
        "date": days,
        "users": (before + new_count.cumsum()).to_numpy(dtype="int64"),
        "new_users": new_count.to_numpy(dtype="int64"),
        "dau": activity["dau"].to_numpy(dtype="int64"),
        "wau": activity["wau7"].to_numpy(dtype="int64"),
        "mau": activity["mau30"].to_numpy(dtype="int64"),
        "asl_seconds": asl.reindex(days).to_numpy(dtype="float64"),
        "sticky": (activity["dau"] / mau.where(mau > 0)).to_numpy(dtype="float64"),
        "revenue": ref.daily_revenue(data, filters).set_index("date")["revenue"].reindex(days).to_numpy(),
        "spend": spend.reindex(days, fill_value=0.0).to_numpy(dtype="float64"),
        "cac": paid_new.groupby("dt")["acquisition_cost"].mean().reindex(days).to_numpy(dtype="float64"),
        "roi": roi.reindex(days).to_numpy(dtype="float64"),
        "payer_share": per_dt["payer"].mean().reindex(days).to_numpy(dtype="float64"),
    })


def assert_same_daily(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same columns, dates and dtypes; counts equal; floats equal to 1e-9 (NaN where the reference has NaN)."""
    assert list(got.columns) == list(COLUMNS)
    assert got["date"].tolist() == want["date"].tolist()
    for column in COLUMNS[1:]:
        assert str(got[column].dtype) == ("int64" if column in COUNTS else "float64"), column
        if column in COUNTS:
            assert got[column].tolist() == want[column].tolist(), column
        else:
            g, w = got[column].to_numpy(), want[column].to_numpy(dtype="float64")
            assert np.array_equal(np.isnan(g), np.isnan(w)), column
            assert np.allclose(g[~np.isnan(g)], w[~np.isnan(w)], rtol=1e-9, atol=0), column


# ------------------------------------------------------------------------------------------ the reference


def test_kday001_reference_by_hand():
    """Tiny data, O = 03-05, horizon 1: the daily values match the contract's scalars (test_kref001) where a period
    is one day, and the sums of the additive series match the KPI table of the whole period."""
    tiny = metric_data.tiny_data()
    whole = ref.Filters.make(observation_date="2026-03-05")
    daily = reference_kpi_daily(tiny, whole, horizon=1)
    assert daily["date"].dt.strftime("%m-%d").tolist() == ["03-02", "03-03", "03-04", "03-05"]
    kpis = ref.kpis(tiny, whole, horizon=1).set_index("kpi")["value"]
    assert daily["users"].iloc[-1] == kpis["users"] == 3 and daily["new_users"].sum() == kpis["new_users"]
    assert daily["dau"].mean() == kpis["dau"] and daily["wau"].mean() == kpis["wau"]
    assert daily["revenue"].sum() == kpis["revenue"] == 17 and daily["spend"].sum() == kpis["spend"] == 15
    for day in daily["date"]:  # one day's values are the KPI table of that one-day period
        one = ref.Filters.make(start=day.date(), end=day.date(), observation_date="2026-03-05")
        table = ref.kpis(tiny, one, horizon=1).set_index("kpi")["value"]
        row = daily.set_index("date").loc[day]
        for name in ("users", "new_users", "dau", "wau", "mau", "asl_seconds", "sticky", "revenue", "spend", "cac", "roi",
                     "payer_share"):
            assert (math.isnan(row[name]) and math.isnan(table[name])) or row[name] == pytest.approx(
                table[name], rel=1e-12), (day, name)
    # user 1 (UK) arrives on 03-02 as the only UK user: UK spend is that user's acquisition cost, 8
    uk = reference_kpi_daily(tiny, ref.Filters.make(observation_date="2026-03-05", regions=["UK"]), horizon=1)
    assert uk["spend"].tolist() == [8.0, 0.0, 0.0, 0.0] and uk["users"].tolist() == [1, 1, 1, 1]


# ------------------------------------------------------------------------------------------ SQL vs reference

# (filters, horizon): periods late in the data (comparable previous periods), early, cut by O, filtered
CASES = {
    "late_28": ({"start": "2026-04-20", "end": "2026-05-17"}, 14),
    "previous_of_late_28": ({"start": "2026-03-23", "end": "2026-04-19", "observation_date": "2026-04-19"}, 14),
    "year_before_late_28": ({"start": "2025-04-21", "end": "2025-05-18", "observation_date": "2025-05-18"}, 14),
    "one_day": ({"start": "2026-04-20", "end": "2026-04-20"}, 1),
    "first_days": ({"start": "2025-02-20", "end": "2025-03-31"}, 7),  # starts before the data
    "o_before_end": ({"start": "2026-04-01", "end": "2026-04-30", "observation_date": "2026-04-18"}, 7),
    "o_after_end": ({"start": "2026-04-01", "end": "2026-04-14", "observation_date": "2026-05-10"}, 14),
    "uk": ({"start": "2026-04-20", "end": "2026-05-17", "regions": ["UK"]}, 14),
    "devices": ({"start": "2026-04-06", "end": "2026-05-03", "devices": ["PC", "iPhone"]}, 7),
    "region_channels": ({"start": "2026-04-20", "end": "2026-05-17", "regions": ["germany", "Österreich"],
                         "channels": ["FaceBoom", "organic"]}, 14),
    "paid_only": ({"start": "2026-04-13", "end": "2026-05-10", "channels": ["FaceBoom", "TipTop"]}, 30),
    "organic_only": ({"start": "2026-04-13", "end": "2026-05-10", "channels": ["organic"]}, 14),
    "late_paid": ({"start": "2026-04-10", "end": "2026-04-30", "channels": ["LateAds", "Zeta"]}, 7),
    "nobody": ({"start": "2026-04-20", "end": "2026-05-17", "regions": ["Atlantis"]}, 14),
}


@pytest.fixture(scope="module", params=[(b, m) for b in BACKENDS for m in ("stored", "live")],
                ids=[f"{b}-{m}" for b in BACKENDS for m in ("stored", "live")])
def loaded(request, tmp_path_factory):
    """A read-only connection to a database holding the two-year KPI data, per backend, with the stored first
    visits and user days (`stored`) or without (`live`)."""
    backend, mode = request.param
    engine, cleanup = load_data_database(DATA, backend, mode, tmp_path_factory.mktemp(f"kday_{backend}_{mode}"))
    with engine.connect() as conn:
        yield conn
    engine.dispose()
    cleanup()


_EXPECTED: dict[str, pd.DataFrame] = {}


def expected(case: str) -> pd.DataFrame:
    """The reference's daily KPIs of a case, computed once for every backend."""
    if case not in _EXPECTED:
        kwargs, horizon = CASES[case]
        _EXPECTED[case] = reference_kpi_daily(DATA, ref.Filters.make(**kwargs), horizon)
    return _EXPECTED[case]


@pytest.mark.parametrize("case", list(CASES))
def test_kday100_sql_matches_reference(loaded, case):
    import metrics

    kwargs, horizon = CASES[case]
    got = metrics.kpi_daily(loaded, metrics.MetricQuery.make(**kwargs, horizon=horizon))
    assert_same_daily(got, expected(case))


def test_kday101_agrees_with_the_kpi_table(loaded):
    """The series add up to the period's KPIs: users at the last date, summed new users, revenue and spend, mean
    DAU/WAU/MAU; the comparison period's series (kpi_daily of its query) to the table's previous values."""
    import metrics

    for regions in ((), ("UK", "France")):
        query = metrics.MetricQuery.make("2026-04-20", "2026-05-17", regions=regions, compare="previous")
        table = metrics.kpi_table(loaded, query).set_index("kpi")
        comparison = metrics.comparison_period(loaded, query)
        assert comparison.comparable and comparison.start == dt.date(2026, 3, 23)
        previous = query.with_filters(start=comparison.start, end=comparison.end,
                                      observation_date=comparison.observation_date)
        for daily, column in ((metrics.kpi_daily(loaded, query), "value"),
                              (metrics.kpi_daily(loaded, previous), "previous_value")):
            want = table[column]
            assert len(daily) == 28 and daily["users"].iloc[-1] == want["users"]
            assert daily["new_users"].sum() == want["new_users"]
            for name, total in (("revenue", daily["revenue"].sum()), ("spend", daily["spend"].sum()),
                                ("dau", daily["dau"].mean()), ("wau", daily["wau"].mean()),
                                ("mau", daily["mau"].mean())):
                assert total == pytest.approx(want[name], rel=1e-9), (regions, column, name)
            assert daily["spend"].sum() > 0 and daily["roi"].notna().any() and daily["cac"].notna().any()
        assert previous.horizon == query.horizon


def test_kday102_reads_horizon_only(loaded):
    """Declared with @reads("horizon"): the cache keys it on filters and horizon; the horizon moves only ROI (the
    last H-1 dates have no cohort at horizon H), a comparison mode changes nothing."""
    import metrics

    assert metrics.kpi_daily.query_fields == frozenset({"filters", "horizon"})
    query = metrics.MetricQuery.make("2026-04-20", "2026-05-17", horizon=7)
    short, long = metrics.kpi_daily(loaded, query), metrics.kpi_daily(loaded, query.with_(horizon=21))
    pd.testing.assert_frame_equal(short.drop(columns="roi"), long.drop(columns="roi"))
    assert short["roi"].iloc[-6:].isna().all() and long["roi"].iloc[-20:].isna().all()
    assert short["roi"].iloc[:-6].notna().any()
    pd.testing.assert_frame_equal(metrics.kpi_daily(loaded, query.with_(compare="year")), short)
    empty = metrics.kpi_daily(loaded, metrics.MetricQuery.make("2026-05-01", "2026-05-10",
                                                               observation_date="2026-04-15"))
    assert empty.empty and list(empty.columns) == list(COLUMNS)
