"""Demo-data generator: determinism, schema and validity, shares, the planted stories, loading, CLI."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard import cli, db, demo
from dashboard.errors import BadInput
from tests.conftest import make_database_url, pg_table_state

USERS = 20_000
END = pd.Timestamp(demo.DEFAULT_END_DATE)
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def generated():
    """The demo data set (20,000 users, default period and seed) with its ground truth."""
    return demo.generate_with_truth(users=USERS)


@pytest.fixture(scope="module")
def frames(generated):
    return generated[0]


@pytest.fixture(scope="module")
def profiles(frames):
    """One row per user as the metric contract defines it: first visit, dt, acquisition cost, payer."""
    visits, costs = frames["visits"], frames["costs"]
    first = visits.sort_values("session_start", kind="stable").groupby("user_id", observed=True).first()
    first = first.reset_index().rename(columns={"session_start": "first_ts"})
    first["dt"] = first["first_ts"].dt.normalize()
    spend = costs.assign(dt=pd.to_datetime(costs["dt"])).groupby(["dt", "channel"], observed=True)["costs"].sum()
    new_users = first.groupby(["dt", "channel"], observed=True).size()
    first = first.join((spend / new_users).rename("cac"), on=["dt", "channel"])
    first["cac"] = first["cac"].fillna(0.0)
    first["payer"] = first["user_id"].isin(set(frames["orders"]["user_id"]))
    return first


def _roi(frames, profiles, horizon, by):
    """ROI at `horizon` days per group of paid users whose cohort is complete at the end date."""
    cohort = profiles[(profiles["dt"] <= END - (horizon - 1) * DAY) & (profiles["cac"] > 0)]
    orders = frames["orders"].merge(cohort[["user_id", "first_ts", *by]], on="user_id")
    lifetime = (orders["event_dt"] - orders["first_ts"]) // DAY
    revenue = orders[lifetime < horizon].groupby(by, observed=True)["revenue"].sum()
    return revenue / cohort.groupby(by, observed=True)["cac"].sum()


def _retention(frames, cohort, lifetime, by):
    """Share of `cohort` users with a visit at exactly `lifetime` days, per group."""
    visits = frames["visits"][["user_id", "session_start"]].merge(cohort[["user_id", "first_ts", *by]], on="user_id")
    at = (visits["session_start"] - visits["first_ts"]) // DAY == lifetime
    return visits[at].groupby(by, observed=True)["user_id"].nunique() / cohort.groupby(by, observed=True).size()


def test_demo001_same_seed_same_frames_other_seed_differs():
    first = demo.generate(users=3_000, seed=7)
    again = demo.generate(users=3_000, seed=7)
    other = demo.generate(users=3_000, seed=8)
    for name in ("visits", "orders", "costs"):
        pd.testing.assert_frame_equal(first[name], again[name])
    for name in ("visits", "orders", "costs"):
        assert not first[name].equals(other[name])


def test_demo002_columns_are_the_schema(frames):
    for table in db.EVENT_TABLES:
        assert list(frames[table.name].columns) == [c.name for c in table.columns]
    for column in ("region", "device", "channel"):
        assert isinstance(frames["visits"][column].dtype, pd.CategoricalDtype)


def test_demo003_rows_are_valid(frames):
    visits, orders, costs = frames["visits"], frames["orders"], frames["costs"]
    assert (visits["session_end"] >= visits["session_start"]).all()
    assert (orders["revenue"] > 0).all()
    assert (costs["costs"] >= 0).all()
    for frame, keys in ((visits, ["user_id", "region", "device", "channel"]), (orders, ["user_id"]),
                        (costs, ["dt", "channel"])):
        for key in keys:
            assert frame[key].notna().all()
            assert (frame[key].astype(str).str.len() > 0).all()
    assert visits["session_start"].min() >= END - 183 * DAY
    assert visits["session_start"].max() < END + DAY
    assert set(orders["user_id"]) <= set(visits["user_id"])
    assert set(orders["revenue"].unique()) <= {4.99, 5.99, 9.99, 19.99, 49.99}


def test_demo004_ids_are_digit_strings_one_per_user_and_keep_region(frames, profiles):
    ids = frames["visits"]["user_id"]
    assert ids.str.fullmatch(r"\d+").all()
    unique = pd.Series(ids.unique())
    lengths = unique.str.len().value_counts()
    assert set(lengths.index) == {12, 20}
    assert 3 <= lengths[20] <= 0.01 * USERS
    assert all(int(x) > 2**64 for x in unique[unique.str.len() == 20])
    assert len(profiles) == USERS
    assert (frames["visits"].groupby("user_id", observed=True)["region"].nunique() == 1).all()


def test_demo005_shares_look_like_the_course_data(frames, profiles):
    assert set(profiles["region"]) == set(demo.REGIONS)
    assert set(profiles["device"]) == set(demo.DEVICES)
    assert set(profiles["channel"]) == set(demo.CHANNELS)
    regions = profiles["region"].value_counts(normalize=True)
    assert regions.idxmax() == "United States" and 0.6 < regions["United States"] < 0.73
    assert 0.25 < profiles["channel"].value_counts(normalize=True)["organic"] < 0.45
    assert 0.04 < profiles["payer"].mean() < 0.08
    visits_per_user = len(frames["visits"]) / USERS
    assert 7 < visits_per_user < 13
    minutes = (frames["visits"]["session_end"] - frames["visits"]["session_start"]).dt.total_seconds() / 60
    assert 10 <= minutes.median() <= 20 and minutes.quantile(0.99) > 3 * minutes.median()
    crosses = frames["visits"]["session_end"].dt.normalize() > frames["visits"]["session_start"].dt.normalize()
    assert crosses.sum() > 0


def test_demo006_tiptop_cost_per_user_climbs_and_never_pays_back(frames, profiles):
    tiptop = profiles[profiles["channel"] == "TipTop"]
    by_month = tiptop.groupby(tiptop["dt"].dt.to_period("M"))["cac"].mean()
    assert by_month.iloc[0] < 1.4 and by_month.iloc[-1] > 2.8
    assert by_month.is_monotonic_increasing
    assert _roi(frames, profiles, 14, ["channel"])["TipTop"] < 0.6
    assert _roi(frames, profiles, 60, ["channel"])["TipTop"] < 1


def test_demo007_faceboom_is_large_expensive_and_retains_badly(frames, profiles):
    shares = profiles["channel"].value_counts(normalize=True)
    assert shares.index[1] == "FaceBoom"  # the largest after organic
    cac = profiles[profiles["cac"] > 0].groupby("channel", observed=True)["cac"].mean()
    assert cac["FaceBoom"] > 1.0 and cac.rank(ascending=False)["FaceBoom"] <= 2
    day1 = _retention(frames, profiles, 1, ["channel"])
    day7 = _retention(frames, profiles, 7, ["channel"])
    assert day1["FaceBoom"] < 0.6 * day1.drop("FaceBoom").min()
    assert day7["FaceBoom"] < 0.5 * day7.drop("FaceBoom").min()
    assert _roi(frames, profiles, 14, ["channel"])["FaceBoom"] < 1


def test_demo008_mac_payers_retain_worse(frames, profiles):
    cohort = profiles[profiles["payer"] & (profiles["dt"] <= END - 7 * DAY)]
    day7 = _retention(frames, cohort, 7, ["device"])
    assert day7["Mac"] < 0.7 * day7.drop("Mac").mean()
    non_payers = _retention(frames, profiles[~profiles["payer"]], 7, ["device"])
    assert non_payers["Mac"] > 0.85 * non_payers.drop("Mac").min()  # only the payers differ


def test_demo009_united_states_has_most_users_and_worst_roi(frames, profiles):
    roi = _roi(frames, profiles, 14, ["region"])
    assert roi.idxmin() == "United States" and roi["United States"] < 1
    assert (roi.drop("United States") > 1.2).all()
    paid_us = profiles[(profiles["region"] == "United States") & (profiles["cac"] > 0)]
    assert paid_us["channel"].isin(["TipTop", "FaceBoom"]).mean() > 0.6
    channel_roi = _roi(frames, profiles, 14, ["channel"])
    assert channel_roi["AdNonSense"] > 1 and channel_roi["lambdaMediaAds"] > 1


def test_demo010_decliners_fade_and_stop_buying(generated):
    frames, truth = generated
    decliners = truth["decliners"].assign(start=lambda d: pd.to_datetime(d["decline_start"]))
    payers = frames["orders"]["user_id"].nunique()
    assert 0.05 * payers < len(decliners) < 0.2 * payers
    assert set(decliners["user_id"]) <= set(frames["orders"]["user_id"])
    visits = frames["visits"].merge(decliners[["user_id", "start"]], on="user_id")
    days_since = (visits["session_start"] - visits["start"]) / DAY
    complete = visits["start"] <= END - 29 * DAY
    before = ((days_since >= -30) & (days_since < 0) & complete).sum()
    after = ((days_since >= 0) & (days_since < 30) & complete).sum()
    assert after < 0.4 * before
    minutes = (visits["session_end"] - visits["session_start"]).dt.total_seconds() / 60
    assert minutes[days_since >= 14].mean() < 0.7 * minutes[(days_since < 0) & (days_since >= -30)].mean()
    orders = frames["orders"].merge(decliners[["user_id", "purchase_stop"]], on="user_id")
    assert (orders["event_dt"] < pd.to_datetime(orders["purchase_stop"])).all()
    # spread out: every cutoff of the last three months has decliners whose decline is under way
    for days_back in (90, 60, 30):
        cutoff = END - days_back * DAY
        under_way = (decliners["start"] <= cutoff) & (decliners["start"] > cutoff - 35 * DAY)
        assert under_way.sum() >= 10


def test_demo011_unattributed_spend_and_split_cost_rows(frames, profiles):
    costs = frames["costs"].assign(dt=pd.to_datetime(frames["costs"]["dt"]))
    new_users = profiles.groupby(["dt", "channel"], observed=True).size().rename("new_users")
    joined = costs.join(new_users, on=["dt", "channel"])
    unattributed = joined[joined["new_users"].isna()]
    assert unattributed["costs"].sum() > 0
    assert set(unattributed["channel"]) == {"YRabbit"}
    assert costs.duplicated(["dt", "channel"]).sum() > 0
    assert "organic" not in set(costs["channel"])
    assert set(costs["channel"]) == set(demo.PAID_CHANNELS)


def test_demo012_write_demo_loads_and_refuses_without_replace(database_url):
    engine = db.make_engine(database_url)
    try:
        counts = demo.write_demo(engine, users=500, seed=3)
        expected = demo.generate(users=500, seed=3)
        assert counts == {name: len(frame) for name, frame in expected.items()}
        with engine.connect() as conn:
            assert db.row_counts(conn) == counts
            version = db.get_data_version(conn)
        with pytest.raises(BadInput, match="--replace"):
            demo.write_demo(engine, users=500, seed=4)
        with engine.connect() as conn:
            assert db.row_counts(conn) == counts
            assert db.get_data_version(conn) == version
        replaced = demo.write_demo(engine, users=400, seed=4, replace=True)
        with engine.connect() as conn:
            assert db.row_counts(conn) == replaced
            assert db.get_data_version(conn) != version
    finally:
        engine.dispose()


def test_demo013_cli_fills_the_database_and_prints_a_summary(tmp_path, monkeypatch, capsys):
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    monkeypatch.setenv("DATABASE_URL", url)
    code = cli.main(["demo", "--users", "300", "--days", "60", "--seed", "5", "--end-date", "2026-06-30"])
    out = capsys.readouterr().out
    assert code == 0
    assert "300 users" in out and "visits" in out and "payers" in out
    engine = db.make_engine(url)
    with engine.connect() as conn:
        info = db.db_info(conn)
    engine.dispose()
    assert info["tables"]["visits"]["users"] == 300
    assert info["tables"]["visits"]["first"] == "2026-05-02"
    assert info["tables"]["visits"]["last"] <= "2026-06-30"
    assert cli.main(["demo", "--users", "300"]) == 2
    assert "--replace" in capsys.readouterr().err


def test_demo014_tiny_and_invalid_sizes():
    tiny = demo.generate(users=1, days=1, seed=1, end_date=date(2026, 1, 1))
    assert tiny["visits"]["user_id"].nunique() == 1
    with pytest.raises(BadInput):
        demo.generate(users=0)
    assert np.isfinite(tiny["costs"]["costs"]).all()


def test_demo015_demo_load_refreshes_postgresql_statistics(tmp_path):
    """The demo load (one bulk write) ends with VACUUM (ANALYZE) on PostgreSQL: exact row estimates and every
    page of visits all-visible, so the first dashboard queries are planned on real statistics."""
    url, cleanup = make_database_url("postgresql", tmp_path)
    engine = db.make_engine(url)
    try:
        counts = demo.write_demo(engine, users=300, seed=5)
        vacuumed, analyzed, tuples, pages, all_visible = pg_table_state(engine, "visits")
        assert vacuumed and analyzed and tuples == counts["visits"] and all_visible == pages >= 1
        assert pg_table_state(engine, "costs")[:3] == (True, True, counts["costs"])
    finally:
        engine.dispose()
        cleanup()
