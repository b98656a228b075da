"""Segment-risk numbers (ml.risk_report) and the /risk page: statistics, actions, joins, callbacks, browser."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats

import metrics
from app import create_app
from dashboard import db, demo
from dashboard.config import Config
from ml import risk_report
from ml.segments import rfm_table
from tests.browser.browser_wait import open_risk_page, wait_until_idle

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

SCORES = sa.Table(
    "churn_scores", sa.MetaData(),
    sa.Column("user_id", sa.String), sa.Column("probability", sa.Double), sa.Column("risk_band", sa.String),
    sa.Column("reason_1", sa.String), sa.Column("reason_2", sa.String), sa.Column("reason_3", sa.String),
    sa.Column("value_at_risk", sa.Double), sa.Column("model_version", sa.String), sa.Column("as_of", sa.Date),
    sa.Column("scored_at", sa.DateTime),
)


def _band(p):
    return "high" if p >= 0.6 else "medium" if p >= 0.3 else "low"


def _score_rows(user_ids, probabilities, as_of, reasons=("visits down 60% in the last 30 days",
                                                          "no order for 45 days", "acquired via TipTop")):
    return [{"user_id": u, "probability": p, "risk_band": _band(p), "reason_1": reasons[0], "reason_2": reasons[1],
             "reason_3": reasons[2], "value_at_risk": round(p * 100, 6), "model_version": "test", "as_of": as_of,
             "scored_at": dt.datetime(2026, 11, 1)} for u, p in zip(user_ids, probabilities)]


def test_rsk001_two_proportion_z_matches_hand_computation_and_scipy():
    z, p = risk_report.two_proportion_z(45, 100, 30, 100)
    pooled = 75 / 200
    expected_z = 0.15 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert z == pytest.approx(expected_z, rel=1e-12) and z == pytest.approx(2.19089, rel=1e-5)
    # the pooled z-test squared is the chi-square test without continuity correction
    chi2 = stats.chi2_contingency([[45, 55], [30, 70]], correction=False)
    assert z ** 2 == pytest.approx(chi2.statistic, rel=1e-9) and p == pytest.approx(chi2.pvalue, rel=1e-9)
    assert all(math.isnan(v) for v in risk_report.two_proportion_z(0, 0, 3, 10))


def test_rsk002_holm_adjustment_and_words():
    assert risk_report.holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    adjusted = risk_report.holm_adjust([0.2, float("nan"), 0.001])
    assert adjusted[0] == pytest.approx(0.2) and math.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.002)
    assert risk_report.significance_words(0.03, 0.07, 0.0004) == "significantly lower, p < 0.001"
    assert risk_report.significance_words(0.09, 0.07, 0.004) == "significantly higher, p < 0.01"
    assert risk_report.significance_words(0.09, 0.07, 0.03) == "significantly higher, p < 0.05"
    assert risk_report.significance_words(0.09, 0.07, 0.3) == "no significant difference (p = 0.30)"


def test_rsk003_recommended_actions_follow_the_documented_rules():
    rules = dict(risk_report.ACTION_RULES)
    act = risk_report.recommended_action
    assert act("low", "Champions", ["visits down 60%"]) == rules["low risk"]
    assert act("high", "Champions", ["visits down 60%"]) == rules["high-value customer at high risk"]
    assert act("high", "At risk", ["minutes on site down 40% in the last 30 days"]) == rules["falling visits or time on site"]
    assert act("medium", "Potential loyalists", ["no order for 45 days"]) == rules["purchases falling or lapsed"]
    assert act("medium", "Hibernating", ["acquired via TipTop"]) == rules["purchases falling or lapsed"]
    assert act("medium", "New customers", ["acquired via TipTop"]) == rules["new or promising customer"]
    assert act("medium", "Need attention", [None, "acquired via TipTop"]) == rules["otherwise"]


def test_rsk004_customer_table_joins_latest_scores_with_segments(engine):
    visits = pd.DataFrame({
        "user_id": ["a", "b", "c", "98765432109876543210"], "region": ["UK", "UK", "France", "UK"],
        "device": ["PC"] * 4, "channel": ["organic", "TipTop", "TipTop", "organic"],
        "session_start": pd.to_datetime(["2026-01-01 10:00:00"] * 4),
        "session_end": pd.to_datetime(["2026-01-01 10:30:00"] * 4)})
    orders = pd.DataFrame({
        "user_id": ["a", "a", "b", "c", "98765432109876543210"],
        "event_dt": pd.to_datetime(["2026-01-02", "2026-01-09", "2026-01-03", "2026-01-08", "2026-01-10"]),
        "revenue": [10.0, 20.0, 5.0, 1.0, 50.0]})
    with engine.begin() as conn:
        db.bulk_insert(conn, db.visits, visits)
        db.bulk_insert(conn, db.orders, orders)
        SCORES.create(conn)
        conn.execute(SCORES.insert(), _score_rows(["a", "b", "c", "98765432109876543210"], [0.1, 0.9, 0.5, 0.7],
                                                  dt.date(2026, 1, 10)))
        conn.execute(SCORES.insert(), _score_rows(["a", "b"], [0.99, 0.99], dt.date(2026, 1, 20)))  # after O
    with engine.connect() as conn:
        table = risk_report.customer_risk_table(conn, metrics.Filters.make(end="2026-01-15", observation_date="2026-01-15"))
        rfm = rfm_table(conn, dt.date(2026, 1, 10)).set_index("user_id")
        filtered = risk_report.customer_risk_table(conn, metrics.Filters.make(
            end="2026-01-15", observation_date="2026-01-15", channels=["TipTop"]))
        later = risk_report.customer_risk_table(conn, metrics.Filters.make(end="2026-01-25", observation_date="2026-01-25"))
    assert list(table.columns) == risk_report.CUSTOMER_COLUMNS
    # scores dated 2026-01-10 (the run of 2026-01-20 is after O), highest value at risk first
    assert table["user_id"].tolist() == ["b", "98765432109876543210", "c", "a"]
    assert table["probability"].tolist() == [0.9, 0.7, 0.5, 0.1]
    for row in table.itertuples():
        assert row.segment == rfm.loc[row.user_id, "segment"]
        assert row.monetary == rfm.loc[row.user_id, "monetary"]
        assert row.target == (row.risk_band == "high" and row.segment in risk_report.HIGH_VALUE_SEGMENTS)
    assert sorted(filtered["user_id"]) == ["b", "c"]  # TipTop users by profile
    assert sorted(later["user_id"]) == ["a", "b"] and set(later["probability"]) == {0.99}
    matrix = risk_report.risk_matrix(table)
    assert matrix["customers"].sum() == 4
    assert matrix["value_at_risk"].sum() == pytest.approx(table["value_at_risk"].sum())


def test_rsk005_no_scores_gives_empty_frames(engine):
    with engine.connect() as conn:
        assert risk_report.has_scores(conn) is False
        table = risk_report.customer_risk_table(conn, metrics.Filters.make())
    assert table.empty and list(table.columns) == risk_report.CUSTOMER_COLUMNS
    assert risk_report.risk_matrix(table).empty
    assert risk_report.target_reasons(table).empty


@pytest.fixture(scope="module")
def scored_demo(tmp_path_factory):
    """A small demo database (DuckDB) with a churn_scores table for its eligible customers."""
    from ml.features import build_snapshot

    path = tmp_path_factory.mktemp("risk") / "risk.duckdb"
    url = f"duckdb:///{path}"
    engine = db.make_engine(url)
    demo.write_demo(engine, users=4000, seed=3)
    with engine.connect() as conn:
        as_of = metrics.resolve_period(conn, metrics.Filters.make()).observation_date
        snapshot = build_snapshot(conn, as_of, with_label=False).reset_index()
    rng = np.random.default_rng(0)
    probabilities = rng.uniform(size=len(snapshot))
    rows = _score_rows(snapshot["user_id"].astype(str), probabilities, as_of)
    for row, revenue in zip(rows, snapshot["revenue_90"]):
        row["value_at_risk"] = row["probability"] * float(revenue)
    with engine.begin() as conn:
        SCORES.create(conn)
        conn.execute(SCORES.insert(), rows)
    engine.dispose()
    return url


def test_rsk006_segment_comparison_counts_match_the_metrics(scored_demo):
    engine = db.make_engine(scored_demo, read_only=True)
    filters = metrics.Filters.make()
    with engine.connect() as conn:
        table = risk_report.segment_comparison(conn, filters, "device", horizon=14)
        conversion = metrics.conversion(conn, filters, horizon=14, dimensions=("device",))
    engine.dispose()
    conv = table[table["metric"] == "conversion by day 13"].set_index("device")
    expected = conversion[conversion["lifetime"] == 13].set_index("device")
    assert (conv["cohort_size"] == expected["cohort_size"]).all()
    assert np.allclose(conv["rate"], expected["value"], rtol=1e-9)
    total_n, total_users = conv["cohort_size"].sum(), conv["users"].sum()
    for device, row in conv.iterrows():
        rest = (total_users - row["users"]) / (total_n - row["cohort_size"])
        assert row["rest_rate"] == pytest.approx(rest, rel=1e-12)
        assert row["p_value"] == pytest.approx(risk_report.two_proportion_z(
            int(row["users"]), int(row["cohort_size"]), int(total_users - row["users"]),
            int(total_n - row["cohort_size"]))[1], rel=1e-12)
    assert (table["p_adjusted"] >= table["p_value"] - 1e-15).all()
    assert table["verdict"].str.match(r"^(significantly (higher|lower), p < 0\.0[05]1?|no significant|not testable)").all()


def scored_app(url: str):
    """Return (app context, default period, scored customer table, default filter store) of a scored database."""
    from layouts.filters import FilterState

    ctx = create_app(Config(database_url=url)).server.extensions["dashboard_context"]
    with ctx.engine.connect() as conn:
        period = metrics.resolve_period(conn, metrics.Filters.make())
        customers = risk_report.customer_risk_table(conn, metrics.Filters.make())
    return ctx, period, customers, FilterState(period.start, period.end, period.observation_date, 14).to_store()


def test_rsk007_page_callbacks_as_functions(scored_demo):
    from callbacks import risk as risk_callbacks
    from callbacks.charts import chart_frame
    from layouts.filters import FilterState

    ctx, period, customers, stored = scored_app(scored_demo)
    high = chart_frame(ctx, risk_callbacks.customers_frame, stored, {"band": "high", "segment": "all"})
    assert len(high) == int((customers["risk_band"] == "high").sum()) > 0 and set(high["risk_band"]) == {"high"}
    champions = chart_frame(ctx, risk_callbacks.customers_frame, stored, {"band": "all", "segment": "Champions"})
    assert len(champions) == int((customers["segment"] == "Champions").sum())
    distribution = chart_frame(ctx, risk_callbacks.distribution_frame, stored, {})
    assert distribution["customers"].sum() == len(customers)
    matrix = chart_frame(ctx, risk_callbacks.matrix_frame, stored, {})
    assert matrix["customers"].sum() == len(customers)
    assert matrix.loc[matrix["target"], "customers"].sum() == int(customers["target"].sum())
    uk = FilterState(period.start, period.end, period.observation_date, 14, ("UK",)).to_store()
    uk_customers = chart_frame(ctx, risk_callbacks.customers_frame, uk, {"band": "all", "segment": "all"})
    assert 0 < len(uk_customers) < len(customers)


@pytest.mark.browser
def test_rsk008_risk_page_in_the_browser(dash_duo, scored_demo):
    import csv
    import time

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_risk_page(dash_duo, scored_demo)
    for name in ("risk-distribution", "risk-matrix", "risk-target-reasons", "risk-segments"):
        dash_duo.wait_for_element(f"#{name}-graph .main-svg", timeout=40)
    for name in ("risk-target-profile", "risk-segment-tests", "risk-customers"):
        dash_duo.wait_for_element(f"#{name}-graph .ag-row", timeout=40)
    assert "high value" in dash_duo.find_element("#risk-target-summary").text
    ARTIFACTS.mkdir(exist_ok=True)
    time.sleep(0.5)
    dash_duo.driver.save_screenshot(str(ARTIFACTS / "risk.png"))
    assert dash_duo.get_logs() == []

    def grid_count():
        return dash_duo.driver.execute_script(
            "const grid = dash_ag_grid.getApi('risk-customers-graph'); return grid.getDisplayedRowCount();")

    all_rows = grid_count()
    band = Select(dash_duo.driver.find_element(By.CSS_SELECTOR, "select[id*='\"name\":\"band\"']"))
    band.select_by_value("high")
    deadline = time.time() + 10
    while time.time() < deadline and "band=high" not in dash_duo.driver.current_url:
        time.sleep(0.1)
    assert "band=high" in dash_duo.driver.current_url  # the table's filter lives in the URL
    deadline = time.time() + 20
    while time.time() < deadline and (grid_count() in (None, all_rows)):
        time.sleep(0.2)
    high_rows = grid_count()
    assert 0 < high_rows < all_rows
    cells = dash_duo.driver.execute_script(
        "const api = dash_ag_grid.getApi('risk-customers-graph'); const out = [];"
        "api.forEachNodeAfterFilterAndSort(n => out.push([n.data.user_id, n.data.risk_band])); return out;")
    assert {band for _, band in cells} == {"high"}
    wait_until_idle(dash_duo)  # the URL sync may re-render the grid once more; click on the settled grid
    assert grid_count() == high_rows
    dash_duo.find_element("#risk-customers-csv").click()
    target = Path(dash_duo.download_path) / "customers_at_risk.csv"
    deadline = time.time() + 45  # generous: a loaded CI machine is slow to run the callback and the export
    while time.time() < deadline and not target.exists():
        time.sleep(0.2)
    with open(target, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) - 1 == high_rows  # header + exactly the rows the table shows
    assert [r[0] for r in rows[1:]] == [user for user, _ in cells]
    assert dash_duo.get_logs() == []


def test_rsk009_status_notice_only_without_scores(scored_demo, database_url):
    from callbacks.risk import scores_status
    from layouts.filters import FilterState

    scored = create_app(Config(database_url=scored_demo)).server.extensions["dashboard_context"]
    with scored.engine.connect() as conn:
        period = metrics.resolve_period(conn, metrics.Filters.make())
    state = FilterState(period.start, period.end, period.observation_date, 14)
    assert scores_status(scored, state.to_store()) is None
    day_before = period.end - dt.timedelta(days=1)
    earlier_range = FilterState(period.start, day_before, day_before, 14)  # O left at its default, the end
    assert scores_status(scored, earlier_range.to_store()) is None  # the date range does not hide the scores
    before = FilterState(period.start, period.end, day_before, 14)  # O set before the only run
    notice = str(scores_status(scored, before.to_store()))
    assert "No churn scores" in notice and f"first scoring is dated {period.end.isoformat()}" in notice
    empty = create_app(Config(database_url=database_url)).server.extensions["dashboard_context"]
    notice = str(scores_status(empty, state.to_store()))
    assert "An administrator trains the churn model" in notice and "/data#churn-scores" in notice
    assert "python -m" not in notice  # no command in the page body: the Data page has them


def test_rsk010_orders_only_data_gets_segments_dates_and_a_plain_note(tmp_path):
    from callbacks.filters import sync_filters_and_url
    from callbacks.risk import clusters_body, segments_frame
    from callbacks.charts import chart_frame
    from layouts.filters import FilterState

    url = f"duckdb:///{tmp_path / 'orders_only.duckdb'}"
    engine = db.make_engine(url)
    db.create_schema(engine)
    orders = pd.DataFrame({"user_id": ["a", "a", "b", "c"],
                           "event_dt": pd.to_datetime(["2011-01-03 10:00:00", "2011-02-01 09:00:00",
                                                       "2011-01-20 12:00:00", "2011-02-10 08:30:00"]),
                           "revenue": [10.0, 30.0, 5.0, 7.5]})
    with engine.begin() as conn:
        db.bulk_insert(conn, db.orders, orders)
        db.bump_data_version(conn)
    engine.dispose()
    app = create_app(Config(database_url=url, model_dir=tmp_path / "models"))
    ctx = app.server.extensions["dashboard_context"]
    result = sync_filters_and_url(ctx, None, "/risk", "/risk", {}, [], [], None)
    assert "holds orders but no visits" in str(result.notes)
    state = FilterState.from_store(result.store)
    # the default period: the last 28 days of the orders' own dates (2011-01-03 .. 02-10)
    assert (state.start, state.end) == (dt.date(2011, 1, 14), dt.date(2011, 2, 10))
    summary = chart_frame(ctx, segments_frame, result.store, {})
    assert summary["customers"].sum() == 3 and summary["revenue"].sum() == pytest.approx(52.5)
    assert summary["revenue_share"].sum() == pytest.approx(1.0)
    body = str(clusters_body(ctx))  # no clustering saved yet: says how (the Data page has the command)
    assert "No clustering yet" in body and "/data#churn-scores" in body and "python -m" not in body


def test_rsk011_clusters_card_reads_the_saved_model(tmp_path):
    from callbacks.risk import clusters_body, clusters_frame
    from ml import segments

    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"user_id": [f"u{i}" for i in range(300)],
                          "recency_days": rng.integers(0, 200, 300), "frequency": rng.integers(1, 20, 300),
                          "monetary": rng.uniform(5, 500, 300)})
    result = segments.cluster_customers(frame, seed=0, k_values=range(2, 5))
    segments.save_segment_model(result, tmp_path / "models", dt.date(2026, 10, 31))
    ctx = create_app(Config(database_url=f"sqlite:///{tmp_path / 'x.sqlite'}",
                            model_dir=tmp_path / "models")).server.extensions["dashboard_context"]
    profiles = clusters_frame(ctx)
    assert profiles["customers"].sum() == 300 and len(profiles) == result.k
    body = str(clusters_body(ctx))
    assert f"k = {result.k}" in body and "2026-10-31" in body


def test_rsk012_scoring_changes_the_data_version(engine):
    from ml import scoring

    with engine.connect() as conn:
        before = db.get_data_version(conn)
    frame = pd.DataFrame(_score_rows(["a", "b"], [0.2, 0.8], dt.date(2026, 1, 10)))
    assert scoring.write_scores(engine, frame[scoring.SCORE_COLUMNS], dt.date(2026, 1, 10)) == 2
    with engine.connect() as conn:
        assert db.get_data_version(conn) != before  # cached risk numbers are recomputed at once


def test_rsk013_target_profile_reads_the_customer_table_once_and_matches_a_hand_computation(scored_demo,
                                                                                            monkeypatch):
    """The page's target profile = risk_report.target_profile; a cold page builds the customer table once
    (profile, matrix and distribution share it); Cohen's d of one feature recomputed in pandas."""
    from callbacks import risk as risk_callbacks
    from callbacks.charts import chart_frame
    from layouts.filters import FilterState
    from ml.features import build_snapshot

    filters = metrics.Filters.make()
    engine = db.make_engine(scored_demo, read_only=True)
    with engine.connect() as conn:
        period = metrics.resolve_period(conn, filters)
        direct = risk_report.target_profile(conn, filters)
        customers = risk_report.customer_risk_table(conn, filters)
        snapshot = build_snapshot(conn, period.observation_date, with_label=False)
    engine.dispose()
    assert risk_report.has_target_contrast(customers)

    calls = []
    original = risk_report.customer_risk_table

    def counting(conn, filters):
        calls.append(filters)
        return original(conn, filters)

    monkeypatch.setattr(risk_report, "customer_risk_table", counting)
    app = create_app(Config(database_url=scored_demo))
    ctx = app.server.extensions["dashboard_context"]
    stored = FilterState(period.start, period.end, period.observation_date, 14).to_store()
    profile = chart_frame(ctx, risk_callbacks.target_profile_frame, stored, {})
    chart_frame(ctx, risk_callbacks.matrix_frame, stored, {})
    chart_frame(ctx, risk_callbacks.distribution_frame, stored, {})
    assert len(calls) == 1
    pd.testing.assert_frame_equal(profile, direct)

    target_ids = set(customers.loc[customers["target"], "user_id"])
    scored = snapshot.loc[snapshot.index.isin(set(customers["user_id"]))]
    a = scored.loc[scored.index.isin(target_ids), "visits_30"]
    b = scored.loc[~scored.index.isin(target_ids), "visits_30"]
    pooled = np.sqrt(((len(a) - 1) * a.var() + (len(b) - 1) * b.var()) / (len(a) + len(b) - 2))
    row = profile.set_index("feature").loc["visits_30"]
    assert row["cohens_d"] == pytest.approx((a.mean() - b.mean()) / pooled, rel=1e-9)
    assert row["target_mean"] == pytest.approx(a.mean()) and row["others_mean"] == pytest.approx(b.mean())
    assert list(profile["cohens_d"].abs().fillna(-1)) == sorted(profile["cohens_d"].abs().fillna(-1), reverse=True)


def test_rsk014_reasons_figure_wraps_long_reasons_and_hovers_them_whole():
    """The reasons card is narrow: each reason is wrapped into lines of at most REASON_WRAP characters (most
    frequent on top), the figure grows with the lines, the hover shows the reason in one line, and the counts
    are the table's."""
    from layouts.risk import REASON_WRAP, reasons_figure

    long_reason = "minutes on site down N% in the last N days (N vs N in the N days before)"
    table = pd.DataFrame({"reason": [long_reason, "no visit for N days", "acquisition cost N"],
                          "customers": [150, 40, 3]})
    figure = reasons_figure(table)
    bar = figure.data[0]
    assert list(bar.x) == [3, 40, 150]  # drawn bottom-up: the most frequent reason on top
    assert [row[0] for row in bar.customdata] == ["acquisition cost N", "no visit for N days", long_reason]
    lines = bar.y[-1].split("<br>")
    assert len(lines) >= 2 and max(map(len, lines)) <= REASON_WRAP and " ".join(lines) == long_reason
    assert bar.y[0] == "acquisition cost N" and "%{customdata[0]}" in bar.hovertemplate
    many = pd.DataFrame({"reason": [long_reason + f" {k}" for k in range(8)], "customers": range(8, 0, -1)})
    assert reasons_figure(many).layout.height > figure.layout.height >= 300


def test_rsk015_empty_score_charts_say_why(scored_demo, tmp_path):
    """An empty score-based chart names its cause: no scoring run on or before the observation date ("No churn
    scores yet", pointing at the page notice; not the filters), or filters that select no scored customer."""
    from callbacks.charts import chart_content, registered_charts
    from layouts.filters import FilterState
    from layouts.risk import SEGMENT_ORDER

    def text(ctx, name, stored, params=None):
        return str(chart_content(ctx, registered_charts(ctx)[name], stored, params or {}))

    ctx, period, customers, stored = scored_app(scored_demo)
    counts = customers.groupby(["risk_band", "segment"]).size()
    band, segment = next((b, s) for b in ("high", "medium", "low") for s in SEGMENT_ORDER
                         if counts.get((b, s), 0) == 0)  # a band x segment cell with no customer
    empty_cell = text(ctx, "risk-customers", stored, {"band": band, "segment": segment})
    assert "No churn scores for these filters." in empty_cell and "Widen the date range" in empty_cell
    day_before = period.observation_date - dt.timedelta(days=1)  # before the only scoring run
    early = FilterState(period.start, period.end, day_before, 14).to_store()  # O set apart from the end date
    for name in ("risk-distribution", "risk-matrix", "risk-target-reasons", "risk-customers"):
        body = text(ctx, name, early, {"band": "all", "segment": "all"})
        assert "No churn scores yet for this observation date." in body and "notice at the top" in body, name
        assert "Widen the date range" not in body

    unscored = tmp_path / "unscored.duckdb"
    engine = db.make_engine(f"duckdb:///{unscored}")
    demo.write_demo(engine, users=400, seed=3)
    engine.dispose()
    bare = create_app(Config(database_url=f"duckdb:///{unscored}")).server.extensions["dashboard_context"]
    with bare.engine.connect() as conn:
        bare_period = metrics.resolve_period(conn, metrics.Filters.make())
    bare_state = FilterState(bare_period.start, bare_period.end, bare_period.observation_date, 14).to_store()
    assert "No churn scores yet" in text(bare, "risk-distribution", bare_state)


@pytest.mark.parametrize("p, text", [
    (0.0, "p < 0.001"), (1e-12, "p < 0.001"), (0.0004, "p < 0.001"), (0.001, "p = 0.001"), (0.0123, "p = 0.01"),
    (0.5, "p = 0.50"), (1.0, "p = 1.00"), (float("nan"), "p not defined"), (None, "p not defined")])
def test_rsk016_p_values_read_p_below_0_001_never_0_00(p, text):
    assert risk_report.format_p(p) == text
    assert "0.00 " not in risk_report.format_p(p) + " " and not risk_report.format_p(p).endswith("= 0.000")


def test_rsk017_effect_sizes_in_plain_words():
    """The target profile says how the target segment differs ("3.1× higher"), not Cohen's d."""
    words = risk_report.difference_words
    assert words(3.1, 1.0) == "3.1× higher" and words(1.0, 3.1) == "3.1× lower"
    assert words(1.4, 1.0) == "40% higher" and words(0.7, 1.0) == "30% lower" and words(1.02, 1.0) == "about the same"
    assert words(2.5, 0.0) == "2.5 vs none" and words(0.0, 2.0) == "none vs 2" and words(0.0, 0.0) == "about the same"
    assert words(-0.6, 0.1, signed=True) == "70 percentage points lower"
    assert words(float("nan"), 1.0) == "not defined"
    from layouts.risk import profile_table

    profile = pd.DataFrame({"feature": ["visits_30", "orders_trend"], "target_mean": [6.2, -0.5],
                            "others_mean": [2.0, 0.1], "cohens_d": [1.1, -0.3], "effect": ["large", "small"]})
    shown = profile_table(profile)
    assert shown["difference"].tolist() == ["3.1× higher", "60 percentage points lower"]
    assert shown["behaviour"].tolist() == ["Visits, last 30 days", "Orders trend"]
    assert "cohens_d" not in shown.columns and shown["effect"].tolist() == ["clear", "slight"]


def test_rsk018_reasons_carry_numbers_and_groups_get_medians_not_placeholders():
    """Each customer's reason carries its own numbers; the target segment's reasons chart groups them by wording
    with the median of the numbers ("visits down in the last 30 days (median 51%)"), never a template with "N"."""
    from ml.explain import group_reasons, reason_phrase
    from ml.features import NUMERIC_FEATURES

    row = pd.Series({f: 3.0 for f in NUMERIC_FEATURES} | {
        "visits_30": 3.0, "visits_60": 11.0, "visits_trend": -0.62, "minutes_30": 0.0, "minutes_60": 0.0,
        "minutes_trend": 0.0, "days_since_last_order": 45.0, "days_since_first_visit": 120.0})
    for feature in NUMERIC_FEATURES:
        phrase = reason_phrase(feature, row)
        assert any(ch.isdigit() for ch in phrase) and " N" not in phrase, (feature, phrase)
    assert reason_phrase("visits_trend", row) == "visits down 62% in the last 30 days (3 vs 8 in the 30 days before)"
    reasons = ["visits down 62% in the last 30 days (3 vs 8 in the 30 days before)",
               "visits down 40% in the last 30 days (3 vs 5 in the 30 days before)", "no order for 45 days",
               "no order for 81 days", "no order for 60 days", "acquired via TipTop", "3 orders in total",
               "revenue 12.50 in total", "revenue 30.00 in total"]
    grouped = group_reasons(reasons)
    assert grouped.to_dict("records") == [
        {"reason": "no order for a while (median 60 days)", "customers": 3},
        {"reason": "revenue in total (median 21.25)", "customers": 2},
        {"reason": "visits down in the last 30 days (median 51%)", "customers": 2},
        {"reason": "acquired via TipTop", "customers": 1},
        {"reason": "orders in total (median 3)", "customers": 1}]
    customers = pd.DataFrame({"target": [True, True, False], "reason_1": reasons[:3], "reason_2": reasons[3:6],
                              "reason_3": [None, "", "no order for 2 days"]})
    table = risk_report.target_reasons(customers)
    assert table.to_dict("records") == [  # the two target customers' four reasons (empty ones skipped)
        {"reason": "no order for a while (median 70 days)", "customers": 2},
        {"reason": "visits down in the last 30 days (median 51%)", "customers": 2}]
    assert not grouped["reason"].str.contains(r"\bN\b").any()
    assert grouped["reason"].str.contains(r"\d").sum() == len(grouped) - 1  # all but "acquired via TipTop"
