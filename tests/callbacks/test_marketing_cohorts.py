"""Marketing and cohorts pages: layout functions on hand-made frames, callbacks as plain functions on demo data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from layouts import cohorts as C
from layouts import marketing as M
from layouts.ids import MarketingIds
from metrics.kpis import rolling_roi_by_date


def _d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def _daily_spend() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.to_datetime(["2026-05-01", "2026-05-01", "2026-05-02", "2026-05-02", "2026-05-02"]),
        "channel": ["TipTop", "FaceBoom", "TipTop", "FaceBoom", "FaceBoom"],
        "costs": [10.0, 4.0, 12.5, 3.0, 1.0],
    })


def _economics() -> pd.DataFrame:
    return pd.DataFrame({
        "channel": ["FaceBoom", "TipTop", "YRabbit", "organic"],
        "costs": [8.0, 22.5, 0.0, 0.0],
        "new_users": [4, 9, 0, 30],
        "cac": [2.0, 2.5, np.nan, 0.0],
        "unattributed": [0.0, 0.0, 1.25, 0.0],
    })


# ------------------------------------------------------------------------------------------------ layouts


def test_mkc001_spend_over_time_sums_rows_per_date_and_channel():
    table = M.spend_over_time_table(_daily_spend())
    fig = M.spend_over_time_figure(table, colors={"TipTop": "#123456"})
    by_name = {t.name: t for t in fig.data}
    assert list(by_name) == ["FaceBoom", "TipTop"]
    assert list(by_name["FaceBoom"].y) == [4.0, 4.0]
    assert list(by_name["TipTop"].y) == [10.0, 12.5]
    assert list(by_name["TipTop"].x) == ["2026-05-01", "2026-05-02"]
    assert by_name["TipTop"].line.color == "#123456"
    assert all(t.stackgroup == "spend" for t in fig.data)
    assert "$%{y:,.2f}" in by_name["TipTop"].hovertemplate
    assert fig.layout.yaxis.title.text == "Spend per day ($)"
    assert fig.layout.xaxis.title.text == "Date"


def test_mkc002_spend_share_is_share_of_total_largest_first():
    table = M.spend_share_table(_daily_spend())
    assert table["channel"].tolist() == ["TipTop", "FaceBoom"]
    assert table["costs"].tolist() == [22.5, 8.0]
    fig = M.spend_share_figure(table)
    assert list(fig.data[0].x) == pytest.approx([22.5 / 30.5, 8.0 / 30.5], rel=1e-12)
    assert list(fig.data[0].y) == ["TipTop", "FaceBoom"]
    assert list(fig.data[0].customdata) == [22.5, 8.0]
    assert fig.data[0].text[0] == "73.8% · $22.50"
    assert fig.layout.xaxis.tickformat == ".0%"


def test_mkc003_cac_by_channel_leaves_out_unpaid_and_channels_without_users():
    table = M.cac_by_channel_table(_economics())
    assert table["channel"].tolist() == ["TipTop", "FaceBoom"]  # highest CAC first
    fig = M.cac_by_channel_figure(table)
    assert list(fig.data[0].y) == ["TipTop", "FaceBoom"]
    assert list(fig.data[0].x) == [2.5, 2.0]
    assert fig.data[0].customdata.tolist() == [[9.0, 22.5], [4.0, 8.0]]
    assert fig.data[0].text == ("$2.50", "$2.00")
    assert "CAC: $%{x:,.2f}" in fig.data[0].hovertemplate


def test_mkc004_channel_table_keeps_unattributed_spend_visible():
    table = M.channel_economics_table(_economics())
    assert table.loc[table["channel"] == "YRabbit", "unattributed"].item() == 1.25
    assert table["total_spend"].tolist() == [8.0, 22.5, 1.25, 0.0]
    assert M.unattributed_total(_economics()) == (1.25, 31.75)
    grid = M.channel_economics_grid(table)
    fields = [c["field"] for c in grid.columnDefs]
    assert "unattributed" in fields
    yrabbit = next(r for r in grid.rowData if r["channel"] == "YRabbit")
    assert yrabbit["unattributed"] == 1.25 and yrabbit["cac"] is None
    organic = next(r for r in grid.rowData if r["channel"] == "organic")
    assert organic["new_users"] == 30 and organic["cac"] is None  # no spend: no CAC ("—", not $0.00)
    assert next(r for r in grid.rowData if r["channel"] == "TipTop")["cac"] == 2.5


def test_mkc005_cac_over_time_one_line_per_paid_channel():
    frame = pd.DataFrame({
        "period": pd.to_datetime(["2026-04-27", "2026-05-04", "2026-04-27", "2026-05-04"]),
        "channel": ["FaceBoom", "FaceBoom", "organic", "organic"],
        "costs": [3.0, 0.0, 0.0, 0.0], "new_users": [2, 0, 5, 7], "cac": [1.5, np.nan, 0.0, 0.0],
        "unattributed": [0.0, 2.0, 0.0, 0.0],
    })
    table = M.cac_over_time_table(frame)
    fig = M.cac_over_time_figure(table)
    assert [t.name for t in fig.data] == ["FaceBoom"]
    assert fig.data[0].y[0] == 1.5 and math.isnan(fig.data[0].y[1])
    assert list(fig.data[0].x) == ["2026-04-27", "2026-05-04"]


def _roi_frame(rows: list[tuple]) -> pd.DataFrame:
    """(channel, dt, cohort_size, cac, value at lifetime 2) -> a roi frame with horizon 3."""
    out = []
    for channel, dt, size, cac, value in rows:
        for k in range(3):
            out.append({"channel": channel, "dt": _d(dt), "cohort_size": size, "cac": cac, "lifetime": k,
                        "value": value * (k + 1) / 3})
    return pd.DataFrame(out)


def test_mkc006_roi_by_date_is_rolling_revenue_over_rolling_cost():
    roi = _roi_frame([("A", "2026-05-01", 2, 1.0, 0.5), ("A", "2026-05-03", 1, 3.0, 2.0),
                      ("B", "2026-05-10", 4, 0.5, 1.5)])
    table = rolling_roi_by_date(roi, "channel", horizon=3)
    a = table[table["group"] == "A"].set_index("dt")
    # window of 7 calendar days ending at the date; A: revenue 1.0 / cost 2.0 on 05-01, 6.0 / 3.0 on 05-03
    assert a.loc[_d("2026-05-01"), "roi_7d"] == pytest.approx(0.5)
    assert a.loc[_d("2026-05-02"), "roi_7d"] == pytest.approx(0.5)
    assert a.loc[_d("2026-05-03"), "roi_7d"] == pytest.approx(7.0 / 5.0)
    assert a.loc[_d("2026-05-07"), "roi_7d"] == pytest.approx(7.0 / 5.0)
    assert a.loc[_d("2026-05-08"), "roi_7d"] == pytest.approx(2.0)  # 05-01 left the window
    assert a.loc[_d("2026-05-09"), "roi_7d"] == pytest.approx(2.0)
    assert _d("2026-05-10") not in a.index  # no cost in the window: no point
    assert a.loc[_d("2026-05-03"), "cohort_size_7d"] == 3
    b = table[table["group"] == "B"]
    assert b["dt"].tolist() == [_d("2026-05-10")] and b["roi_7d"].tolist() == [pytest.approx(1.5)]
    fig = M.roi_by_date_figure(table, horizon=3)
    assert [t.name for t in fig.data] == ["A", "B"]
    assert list(fig.data[0].y) == pytest.approx(a["roi_7d"].tolist())
    assert any(s.y0 == 1.0 and s.y1 == 1.0 for s in fig.layout.shapes)  # break-even line


def test_mkc007_ltv_and_roi_curves_hold_the_values_by_lifetime():
    roi = pd.DataFrame({"device": ["Mac", "Mac", "PC", "PC"], "cohort_size": [10, 10, 5, 5], "cac": [1.0, 1.0, 2.0, 2.0],
                        "lifetime": [0, 1, 0, 1], "value": [0.2, 1.1, 0.1, 0.4]})
    table = M.curves_table(roi, "device")
    fig = M.roi_curves_figure(table, colors={"Mac": "#aa0000", "PC": "#00aa00"}, breakdown_title="Device")
    assert [t.name for t in fig.data] == ["Mac", "PC"]
    assert list(fig.data[0].x) == [0, 1] and list(fig.data[0].y) == [0.2, 1.1]
    assert list(fig.data[1].y) == [0.1, 0.4]
    assert fig.data[1].line.color == "#00aa00"
    assert any(s.y0 == 1.0 for s in fig.layout.shapes)
    assert fig.layout.xaxis.title.text == "Lifetime (days since first visit)"
    ltv_fig = M.ltv_curves_figure(table.drop(columns="cac"))
    assert "LTV: $%{y:,.2f}" in ltv_fig.data[0].hovertemplate
    assert ltv_fig.layout.yaxis.tickformat == "$,.2f"


def test_mkc008_payback_table_says_never_within_h_days():
    payback = pd.DataFrame({"channel": ["TipTop", "FaceBoom"], "cohort_size": [30, 20], "cac": [2.5, 1.0],
                            "payback_day": pd.array([pd.NA, 3], dtype="Int64")})
    roi = pd.DataFrame({"channel": ["FaceBoom", "FaceBoom", "TipTop", "TipTop"], "cohort_size": [20, 20, 30, 30],
                        "cac": [1.0, 1.0, 2.5, 2.5], "lifetime": [0, 13, 0, 13], "value": [0.1, 1.7, 0.05, 0.6]})
    table = M.payback_table(payback, "channel", 14, roi)
    assert table["group"].tolist() == ["FaceBoom", "TipTop"]
    assert table["payback"].tolist() == ["day 3", "never within 14 days"]
    assert table["roi_at_h"].tolist() == [1.7, 0.6]
    grid = M.payback_grid(table, 14)
    assert grid.rowData[1]["payback_day"] is None
    payback_col = next(c for c in grid.columnDefs if c["field"] == "payback_day")
    assert "never within 14 days" in payback_col["valueFormatter"]["function"]


def test_mkc009_empty_frames_give_empty_tables_without_errors():
    empty_spend = _daily_spend().iloc[0:0]
    assert M.spend_over_time_table(empty_spend).empty and M.spend_share_table(empty_spend).empty
    assert rolling_roi_by_date(_roi_frame([]).reindex(columns=["channel", "dt", "cohort_size", "cac", "lifetime",
                                                                "value"]), "channel", 3).empty
    assert len(M.spend_over_time_figure(M.spend_over_time_table(empty_spend)).data) == 0


def _weekly(payer_column: bool) -> pd.DataFrame:
    rows = []
    for payer in ([False, True] if payer_column else [None]):
        for week, size in (("2026-05-04", 10), ("2026-05-11", 4)):
            for k in range(3):
                value = 1.0 if k == 0 else (0.5 if payer else 0.1) / k + (0.05 if week == "2026-05-11" else 0)
                row = {"week": _d(week), "cohort_size": size + (5 if payer else 0), "lifetime": k, "value": value}
                if payer_column:
                    row = {"payer": payer, **row}
                rows.append(row)
    return pd.DataFrame(rows)


def test_coh001_heatmap_holds_the_weekly_values_on_the_payer_side():
    frame = _weekly(payer_column=True)
    table = C.heatmap_table(frame, "true")
    expected = frame[frame["payer"]].pivot(index="week", columns="lifetime", values="value")
    fig = C.heatmap_figure(table, "Retention", skip_day0_in_scale=True)
    assert np.allclose(fig.data[0].z, expected.to_numpy())
    assert list(fig.data[0].y) == ["2026-05-04 · n=15", "2026-05-11 · n=9"] and list(fig.data[0].x) == [0, 1, 2]
    assert fig.data[0].customdata[0][0] == 15  # payer cohort size in the hover
    assert fig.data[0].zmax == pytest.approx(0.55)  # colour scale ignores day 0 (always 100%)
    assert "%{z:.2%}" in fig.data[0].hovertemplate
    assert C.heatmap_table(frame, "false")["value"].tolist() == frame[~frame["payer"]]["value"].tolist()


def test_coh002_payer_toggle_adds_the_payer_dimension_only_when_needed():
    assert C.payer_dimensions("all", "week") == ("week",)
    assert C.payer_dimensions("true", "week") == ("payer", "week")
    assert C.payer_dimensions("false", "payer") == ("payer",)
    assert C.normalise_payer("TRUE") == "true" and C.normalise_payer("bogus") == "all"
    assert C.normalise_cohort_breakdown("country") == "country" and C.normalise_cohort_breakdown(None) == "payer"


def test_coh003_curves_by_payer_are_labelled_and_coloured():
    frame = _weekly(payer_column=True).groupby(["payer", "lifetime"], as_index=False).agg(
        cohort_size=("cohort_size", "sum"), value=("value", "mean"))[["payer", "cohort_size", "lifetime", "value"]]
    table = C.cohort_curves_table(frame, "payer")
    fig = C.retention_curves_figure(table)
    assert [t.name for t in fig.data] == ["non-payers", "payers"]
    assert list(fig.data[1].y) == frame[frame["payer"]]["value"].tolist()
    assert fig.data[1].line.color == C.PAYER_COLORS["payers"]
    assert fig.layout.yaxis.tickformat == ".0%"
    conv = C.conversion_curves_figure(table)
    assert "Conversion: %{y:.2%}" in conv.data[0].hovertemplate


# ------------------------------------------------------------------------------------- callbacks on demo data

import io  # noqa: E402

import dash_ag_grid as dag  # noqa: E402
from dash import dcc, html  # noqa: E402

import metrics  # noqa: E402
from app import create_app  # noqa: E402
from callbacks import cohorts as CC  # noqa: E402
from callbacks import marketing as CM  # noqa: E402
from callbacks.charts import chart_body, chart_download, chart_frame, registered_charts  # noqa: E402
from dashboard.config import Config  # noqa: E402
from layouts.filters import FilterState  # noqa: E402


@pytest.fixture(scope="module")
def default_store(demo_ctx):
    """The filter store of the default view: whole range, observed at its end, horizon 14, no filters."""
    with demo_ctx.engine.connect() as conn:
        bounds = metrics.data_bounds(conn)
    return {"start": bounds["first_date"].isoformat()[:10], "end": bounds["last_date"].isoformat()[:10],
            "observation_date": bounds["last_date"].isoformat()[:10], "horizon": 14,
            "country": [], "device": [], "channel": []}


def _filters(store: dict) -> metrics.Filters:
    return FilterState.from_store(store).to_filters()


def test_mkc020_every_marketing_chart_renders_from_demo_data(demo_ctx, default_store):
    for chart in CM.CHARTS:
        name, frame_fn, view_fn = chart.name, chart.frame, chart.view
        frame = chart_frame(demo_ctx, frame_fn, default_store, {"breakdown": "channel"})
        assert len(frame) > 0, name
        body = chart_body(demo_ctx, name, frame_fn, view_fn, default_store, {"breakdown": "channel"})
        assert isinstance(body, (dcc.Graph, dag.AgGrid, html.Div)), name
        assert "chart-error" not in str(body), name


def test_mkc021_spend_and_channel_table_agree_with_the_metrics(demo_ctx, default_store):
    share = chart_frame(demo_ctx, CM.spend_share_frame, default_store)
    channels = chart_frame(demo_ctx, CM.channel_table_frame, default_store)
    with demo_ctx.engine.connect() as conn:
        spend = metrics.daily_spend(conn, _filters(default_store))
    assert share["costs"].sum() == pytest.approx(spend["costs"].sum(), rel=1e-9)
    assert share["share"].sum() == pytest.approx(1.0, rel=1e-12)
    # without country/device filters, attributed + unattributed is each channel's whole spend (spec)
    whole = spend.groupby("channel")["costs"].sum()
    paid = channels.set_index("channel").loc[whole.index]
    assert paid["total_spend"].to_numpy() == pytest.approx(whole.to_numpy(), rel=1e-9)
    assert (channels["unattributed"] > 0).any()  # the demo plants some; the page must show it
    note = CM.channel_table_view(channels, None).children[0]
    assert note.id == "mkt-unattributed" and "$" in str(note.children)


def test_mkc022_rolling_roi_over_the_whole_period_equals_roi_of_the_channel(demo_ctx, default_store):
    filters = _filters(default_store)
    with demo_ctx.engine.connect() as conn:
        by_day = metrics.roi(conn, filters, horizon=14, dimensions=("channel", "dt"))
        by_channel = metrics.roi(conn, filters, horizon=14, dimensions=("channel",))
    whole = rolling_roi_by_date(by_day, "channel", 14, window_days=10_000)  # a window covering every date
    last = whole.groupby("group").tail(1).set_index("group")["roi_7d"]
    expected = by_channel[by_channel["lifetime"] == 13].set_index("channel")["value"]
    assert sorted(last.index) == sorted(expected.index)
    assert last.loc[expected.index].to_numpy() == pytest.approx(expected.to_numpy(), rel=1e-9)
    shown = chart_frame(demo_ctx, CM.roi_by_date_frame, default_store, {"breakdown": "channel"})
    assert set(shown["group"]) == set(expected.index) and "organic" not in set(shown["group"])
    assert (shown["roi_7d"] == shown["revenue_7d"] / shown["cost_7d"]).all()


def test_mkc023_breakdown_switches_the_groups_and_payback_matches_roi_at_h(demo_ctx, default_store):
    by_device = chart_frame(demo_ctx, CM.roi_curves_frame, default_store, {"breakdown": "device"})
    assert set(by_device["group"]) == {"Android", "Mac", "PC", "iPhone"}
    by_country = chart_frame(demo_ctx, CM.ltv_curves_frame, default_store, {"breakdown": "country"})
    with demo_ctx.engine.connect() as conn:
        regions = set(metrics.data_bounds(conn)["regions"])
    assert set(by_country["group"]) == regions
    payback = chart_frame(demo_ctx, CM.payback_frame, default_store, {"breakdown": "channel"})
    # ROI is cumulative, so a group pays back within H days exactly when its ROI by day H-1 is >= 1
    assert (payback["payback_day"].isna() == (payback["roi_at_h"] < 1)).all()
    assert payback["payback_day"].isna().any()  # the demo has channels that never pay back
    assert set(payback.loc[payback["payback_day"].isna(), "payback"]) == {"never within 14 days"}


def test_mkc024_csv_download_is_the_frame_shown(demo_ctx, default_store):
    from tests.callbacks.test_export_safety import hand_exported

    headers = {MarketingIds.PAYBACK_TABLE: ["Channel", "Paid users", "CAC of the horizon cohort ($)", "ROI by day 13",
                                            "Payback day (empty = never)", "Payback"],
               MarketingIds.CAC_OVER_TIME: ["Week of acquisition (start date)", "Channel", "New users",
                                            "Attributed spend ($)", "CAC ($)", "Days in period", "Partial week"]}
    for name, frame_fn in ((MarketingIds.PAYBACK_TABLE, CM.payback_frame),
                           (MarketingIds.CAC_OVER_TIME, CM.cac_over_time_frame)):
        chart = registered_charts(demo_ctx)[name]
        assert chart.frame is frame_fn
        sent = chart_download(demo_ctx, chart, default_store, {"breakdown": "channel"})
        frame = chart_frame(demo_ctx, frame_fn, default_store, {"breakdown": "channel"})
        assert sent["filename"].startswith("marketing_" + name.removeprefix("mkt-") + "_")
        assert sent["filename"].endswith(".csv")
        expected = frame.astype(object).map(hand_exported)  # floats at 12 significant digits, headers as shown
        expected.columns = headers[name]
        assert sent["content"] == expected.to_csv(index=False)
        assert len(pd.read_csv(io.StringIO(sent["content"]))) == len(frame)


def test_mkc025_empty_results_show_an_explanation_not_an_axis(demo_ctx, default_store):
    organic_only = {**default_store, "channel": ["organic"]}
    for chart in CM.CHARTS:
        name, frame_fn, view_fn, message = chart.name, chart.frame, chart.view, chart.empty_message
        if name in (MarketingIds.LTV_CURVES, MarketingIds.CHANNEL_TABLE):
            continue  # organic users have LTV and new users: these two are not empty
        body = chart_body(demo_ctx, name, frame_fn, view_fn, organic_only, {"breakdown": "channel"}, message)
        assert "empty-state" in str(body), name
        assert message in str(body), name
    too_long = {**default_store, "horizon": 365}  # no cohort can be followed for a year
    body = chart_body(demo_ctx, MarketingIds.LTV_CURVES, CM.ltv_curves_frame, CM.ltv_curves_view, too_long,
                      {"breakdown": "channel"}, "no cohort")
    assert "empty-state" in str(body)


def test_coh020_cohort_frames_match_the_metrics(demo_ctx, default_store):
    filters = _filters(default_store)
    with demo_ctx.engine.connect() as conn:
        by_payer_week = metrics.retention(conn, filters, horizon=14, dimensions=("payer", "week"))
        conversion = metrics.conversion(conn, filters, horizon=14, dimensions=("week",))
    payers = chart_frame(demo_ctx, CC.retention_heatmap_frame, default_store, {"payer": "true"})
    expected = by_payer_week[by_payer_week["payer"]]
    assert payers["value"].to_numpy() == pytest.approx(expected["value"].to_numpy(), rel=1e-12)
    assert payers["cohort_size"].tolist() == expected["cohort_size"].tolist()
    conv = chart_frame(demo_ctx, CC.conversion_heatmap_frame, default_store, {})
    assert conv["value"].to_numpy() == pytest.approx(conversion["value"].to_numpy(), rel=1e-12)
    assert (conv.groupby("week")["value"].diff().dropna() >= 0).all()  # cumulative
    curves = chart_frame(demo_ctx, CC.retention_curves_frame, default_store, {"breakdown": "device", "payer": "all"})
    assert set(curves["group"]) == {"Android", "Mac", "PC", "iPhone"}
    assert (curves.loc[curves["lifetime"] == 0, "value"] == 1.0).all()  # everyone visits on day 0
    non_payers = chart_frame(demo_ctx, CC.retention_curves_frame, default_store,
                             {"breakdown": "country", "payer": "false"})
    with demo_ctx.engine.connect() as conn:
        raw = metrics.retention(conn, filters, horizon=14, dimensions=("payer", "region"))
    raw = raw[~raw["payer"]]
    assert non_payers["value"].to_numpy() == pytest.approx(raw["value"].to_numpy(), rel=1e-12)


def test_coh021_every_cohort_chart_renders_and_empties_cleanly(demo_ctx, default_store):
    params = {"breakdown": "payer", "payer": "all"}
    for chart in CC.CHARTS:
        name, frame_fn, view_fn, message = chart.name, chart.frame, chart.view, chart.empty_message
        body = chart_body(demo_ctx, name, frame_fn, view_fn, default_store, params, message)
        assert isinstance(body, dcc.Graph), name
        empty = chart_body(demo_ctx, name, frame_fn, view_fn, {**default_store, "horizon": 365}, params, message)
        assert "empty-state" in str(empty) and message in str(empty), name
