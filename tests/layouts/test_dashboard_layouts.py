"""Dashboard layouts as pure functions: URL state, palette, formats, Overview and Acquisition tables and figures."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

import metrics

from layouts import acquisition as A
from layouts import overview as O
from layouts.common import Palette, change_badge, color_map, fmt_duration, fmt_money, fmt_pct, fmt_ratio
from layouts.filters import DataBounds, FilterState, PageParam, parse_query, to_query

BOUNDS = DataBounds(dt.date(2026, 5, 1), dt.date(2026, 10, 31), ("France", "UK"), ("Mac", "PC"),
                    ("FaceBoom", "TipTop", "organic"))
BREAKDOWN = PageParam("breakdown", "Break down by", (("channel", "Channel"), ("device", "Device")), "channel")


def _dates(trace) -> list[str]:
    return [pd.Timestamp(x).date().isoformat() for x in trace.x]


# ------------------------------------------------------------------------------------------------ URL state


def test_dash001_url_round_trip_restores_the_same_state():
    state = FilterState(dt.date(2026, 6, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 15), 7,
                        ("UK",), (), ("FaceBoom", "TipTop"))
    query = to_query(state, BOUNDS, {"breakdown": "device"}, (BREAKDOWN,))
    assert query == ("?start=2026-06-01&end=2026-06-30&observation_date=2026-07-15&horizon=7&country=UK"
                     "&channel=FaceBoom&channel=TipTop&breakdown=device")
    parsed, values, notes = parse_query(query, BOUNDS, (BREAKDOWN,))
    assert parsed == state and values == {"breakdown": "device"} and notes == []


def test_dash002_defaults_are_left_out_of_the_url():
    assert to_query(FilterState.default(BOUNDS), BOUNDS, {"breakdown": "channel"}, (BREAKDOWN,)) == ""
    state, values, notes = parse_query("", BOUNDS, (BREAKDOWN,))
    # the default period: the last 28 days of the data (Oct 4 - Oct 31), observed at its end
    assert state == FilterState(dt.date(2026, 10, 4), dt.date(2026, 10, 31), dt.date(2026, 10, 31), 14)
    assert values == {"breakdown": "channel"} and notes == []


def test_dash003_unknown_and_malformed_url_values_are_dropped_with_notes():
    state, values, notes = parse_query(
        "?channel=TipTop&channel=Bogus%27%3B+DROP+TABLE+visits&country=Narnia&start=2026-13-01&end=2027-01-01"
        "&horizon=0&breakdown=planet", BOUNDS, (BREAKDOWN,))
    assert state.channels == ("TipTop",) and state.countries == ()
    # an unreadable start is dropped: the default period's start for the end in force (the 28 days to Oct 31)
    assert state.start == dt.date(2026, 10, 4) and state.end == dt.date(2026, 10, 31) and state.horizon == 14
    assert values == {"breakdown": "channel"}
    text = " ".join(notes)
    assert "Unknown channel \"Bogus'; DROP TABLE visits\" ignored." in text
    assert "Unknown country 'Narnia' ignored." in text
    assert "start='2026-13-01'" in text and "after the last date" in text
    assert "horizon=0" in text and "breakdown='planet'" in text


def test_dash004_swapped_dates_and_early_observation_date_are_corrected():
    state, _, notes = parse_query("?start=2026-07-01&end=2026-06-01&observation_date=2026-05-02", BOUNDS)
    assert (state.start, state.end, state.observation_date) == (dt.date(2026, 6, 1), dt.date(2026, 7, 1),
                                                                 dt.date(2026, 7, 1))
    assert len(notes) == 2


def test_dash005_state_round_trips_the_store():
    # the comparison periods are metrics.kpis.comparison_period's (tests/metrics/test_kpis_contract.py)
    state = FilterState(dt.date(2026, 6, 1), dt.date(2026, 6, 30), dt.date(2026, 6, 20), 14, ("UK",))
    assert FilterState.from_store(state.to_store()) == state


# ------------------------------------------------------------------------------------------------ common


def test_dash006_palette_is_fixed_by_sorted_known_values():
    colors = color_map(["TipTop", "FaceBoom", "organic", "AdNonSense"])
    assert list(colors)[:3] == ["AdNonSense", "FaceBoom", "TipTop"]
    assert colors["organic"] == "#A0A0A0"
    palette = Palette.from_bounds({"channels": ["TipTop", "FaceBoom"], "devices": ["PC"], "regions": []})
    again = Palette.from_bounds({"channels": ["FaceBoom", "TipTop"], "devices": ["PC"], "regions": []})
    assert palette.color("channel", "TipTop") == again.color("channel", "TipTop") != palette.color("channel",
                                                                                                   "FaceBoom")
    assert palette.color("channel", "Unknown") == again.color("channel", "Unknown")  # stable fallback


def test_dash007_formats_and_change_colours():
    assert fmt_money(1234.5) == "$1,234.50" and fmt_money(-2) == "-$2.00" and fmt_money(float("nan")) == "—"
    assert fmt_pct(0.1234) == "12.3%" and fmt_ratio(1.234) == "1.23×" and fmt_duration(754) == "12m 34s"
    assert "kpi-bad" in str(change_badge(0.2, -1)) and "kpi-good" in str(change_badge(-0.2, -1))
    assert "kpi-neutral" in str(change_badge(0.2, 0)) and "▲ 20.0%" in str(change_badge(0.2, 1))


# ------------------------------------------------------------------------------------------------ overview


def _kpi_table(scale: float = 2.0) -> pd.DataFrame:
    """Return a `metrics.kpi_table`-shaped frame: this period's values are the previous ones times `scale`."""
    previous = {"users": 500, "new_users": 100, "dau": 10.0, "wau": 40.0, "mau": 80.0, "asl_seconds": 600.0,
                "sticky": 0.125, "revenue": 75.5, "spend": 20.0, "cac": 1.0, "roi": 0.9, "payer_share": 0.1}
    rows = [{"kpi": key, "value": value * scale, "previous_value": value, "change": scale - 1.0}
            for key, value in previous.items()]
    return pd.DataFrame(rows)


def test_dash010_kpi_rows_put_the_metric_table_in_card_order_with_labels_and_units():
    table = _kpi_table().iloc[::-1]  # any order in
    rows = O.kpi_rows(table)
    assert list(rows["kpi"]) == [k.key for k in O.KPIS]
    assert list(rows.columns) == ["kpi", "label", "value", "previous_value", "change", "kind"]
    indexed = rows.set_index("kpi")
    assert indexed.loc["cac", "label"] == "CAC (new users)" and indexed.loc["cac", "kind"] == "money"
    assert indexed.loc["revenue", "value"] == 151.0 and indexed.loc["revenue", "previous_value"] == 75.5
    assert str(rows["change"].dtype) == "float64"


def test_dash011_kpi_cards_show_change_against_the_comparison_or_say_why_not():
    rows = O.kpi_rows(_kpi_table(1.5))
    comparable = metrics.ComparisonPeriod(dt.date(2026, 5, 1), dt.date(2026, 5, 31), dt.date(2026, 5, 31), True, "")
    cards = str(O.kpi_cards(rows, "previous", comparable))
    assert "$1.50" in cards and "1.35×" in cards and "15m 00s" in cards and "18.8%" in cards
    assert "2026-05-01 – 2026-05-31" in cards and "previous period of equal length" in cards
    year = str(O.kpi_cards(rows, "year", comparable))
    assert "364 days earlier" in year
    # CAC up 50 % is bad (red), ROI up 50 % is good (green), spend is neutral
    cac_card = str(O.kpi_cards(rows.iloc[[9]], "previous", comparable))
    assert "kpi-bad" in cac_card and "▲ 50.0%" in cac_card
    assert "kpi-good" in str(O.kpi_cards(rows.iloc[[10]], "previous", comparable))
    assert "kpi-neutral" in str(O.kpi_cards(rows.iloc[[8]], "previous", comparable))
    # not comparable: every change reads n/a with the reason, and the caption says it
    reason = "the previous period starts on 2026-03-01, before the data's first date 2026-04-01"
    early = metrics.ComparisonPeriod(dt.date(2026, 3, 1), dt.date(2026, 3, 31), dt.date(2026, 3, 31), False, reason)
    missing = rows.assign(previous_value=float("nan"), change=float("nan"))
    text = str(O.kpi_cards(missing, "previous", early, suggestion_href="/?start=2026-10-04"))
    assert text.count("'n/a'") == len(O.KPIS) and f"n/a: {reason}" in text
    assert "href='/?start=2026-10-04'" in text and "▲" not in text
    none = str(O.kpi_cards(missing, "none", None))
    assert "No comparison chosen" in none and "href=" not in none


def test_dash012_activity_figure_holds_exactly_the_daily_numbers():
    daily = pd.DataFrame({"date": pd.to_datetime(["2026-06-01", "2026-06-02"]), "dau": [3, 4], "wau7": [5, 6],
                          "mau30": [7, 9]})
    table = O.activity_table(daily)
    fig = O.activity_figure(table)
    assert [t.name for t in fig.data] == ["DAU", "WAU (rolling 7 days)", "MAU (rolling 30 days)"]
    assert [list(t.y) for t in fig.data] == [[3, 4], [5, 6], [7, 9]]
    assert _dates(fig.data[0]) == ["2026-06-01", "2026-06-02"]
    assert "users" in fig.data[0].hovertemplate and fig.layout.yaxis.title.text == "Active users"
    assert O.activity_table(daily.assign(dau=0)).empty


def test_dash013_revenue_spend_table_sums_channels_per_date():
    frames = {"revenue_daily": pd.DataFrame({"date": pd.to_datetime(["2026-06-01", "2026-06-02"]),
                                             "revenue": [50.0, 25.5], "orders": [3, 2], "payers": [3, 2]}),
              "spend_daily": pd.DataFrame({"date": pd.to_datetime(["2026-06-01", "2026-06-01", "2026-06-02"]),
                                           "channel": ["FaceBoom", "TipTop", "TipTop"], "costs": [10.0, 5.0, 5.0]})}
    table = O.revenue_spend_table(frames["revenue_daily"], frames["spend_daily"])
    assert table["revenue"].tolist() == [50.0, 25.5] and table["spend"].tolist() == [15.0, 5.0]
    fig = O.revenue_spend_figure(table)
    assert list(fig.data[0].y) == [50.0, 25.5] and list(fig.data[1].y) == [15.0, 5.0]
    assert "$,.2f" in fig.data[0].hovertemplate and fig.layout.yaxis.title.text == "Amount per day ($)"
    assert fig.data[1].name == "Ad spend"
    assert O.revenue_spend_figure(table, attributed=True).data[1].name == "Ad spend (attributed to these users)"
    empty_spend = frames["spend_daily"].iloc[0:0]
    assert O.revenue_spend_table(frames["revenue_daily"].assign(revenue=0.0), empty_spend).empty


# ------------------------------------------------------------------------------------------------ acquisition


def _new_users_by(dim: str) -> pd.DataFrame:
    return pd.DataFrame({dim: ["TipTop", "TipTop", "organic", "organic", "FaceBoom"],
                         "payer": [False, True, False, True, False], "new_users": [8, 2, 30, 0, 5]})


def test_dash020_users_by_table_sorts_by_users_with_payer_share():
    table = A.users_by_table(_new_users_by("channel"), "channel")
    assert table.to_dict("list") == {"channel": ["organic", "TipTop", "FaceBoom"], "users": [30, 10, 5],
                                     "payers": [0, 2, 0], "payer_share": [0.0, 0.2, 0.0]}
    palette = Palette.from_bounds({"channels": ["FaceBoom", "TipTop", "organic"]})
    fig = A.users_by_figure(table, "channel", palette)
    users, share = fig.data
    assert list(users.y) == ["FaceBoom", "TipTop", "organic"]  # largest drawn on top
    assert list(users.x) == [5, 10, 30] and list(share.x) == [0.0, 0.2, 0.0]
    assert list(users.marker.color) == [palette.color("channel", v) for v in ["FaceBoom", "TipTop", "organic"]]
    assert "new users" in users.hovertemplate and ".2%" in share.hovertemplate
    assert (fig.layout.yaxis.tickmode, fig.layout.yaxis.dtick) == ("linear", 1)  # every value named, none skipped


def test_dash021_new_users_figure_stacks_one_trace_per_value():
    raw = pd.DataFrame({"week": pd.to_datetime(["2026-06-01", "2026-06-01", "2026-06-08", "2026-06-08"]),
                        "device": ["PC", "Mac", "PC", "Mac"], "new_users": [4, 1, 0, 3]})
    table = A.new_users_table(raw, "week", "device")
    assert table["new_users"].tolist() == [1, 4, 3]  # zero rows dropped, sorted by week then value
    fig = A.new_users_figure(table, "week", "device", Palette.from_bounds({"devices": ["Mac", "PC"]}))
    assert fig.layout.barmode == "stack"
    by_name = {t.name: t for t in fig.data}
    assert list(by_name["Mac"].y) == [1, 3] and _dates(by_name["Mac"]) == ["2026-06-01", "2026-06-08"]
    assert list(by_name["PC"].y) == [4] and fig.layout.yaxis.title.text == "New users"
    assert fig.layout.xaxis.title.text == "Week" and fig.layout.legend.title.text == "Device"


def test_dash022_paying_channels_table_joins_spend_and_payers():
    economics = pd.DataFrame({"channel": ["FaceBoom", "TipTop", "YRabbit", "organic"],
                              "costs": [10.0, 20.0, 0.0, 0.0], "new_users": [5, 10, 0, 30],
                              "cac": [2.0, 2.0, np.nan, 0.0], "unattributed": [0.0, 0.0, 3.0, 0.0]})
    table = A.paying_channels_table(_new_users_by("channel"), economics)
    assert table["channel"].tolist() == ["TipTop", "FaceBoom", "organic"]  # most payers first; YRabbit: no users
    row = table.set_index("channel")
    assert row.loc["TipTop"].tolist() == [10, 2, 0.2, 20.0, 2.0, 10.0]
    assert math.isnan(row.loc["FaceBoom", "cost_per_payer"])
    grid = A.paying_channels_grid(table)
    assert grid.rowData[0] == {"channel": "TipTop", "new_users": 10, "payers": 2, "payer_share": 0.2,
                               "spend": 20.0, "cac": 2.0, "cost_per_payer": 10.0}
    assert grid.rowData[1]["cost_per_payer"] is None  # NaN shown as "—"
    organic = next(r for r in grid.rowData if r["channel"] == "organic")
    assert organic["new_users"] == row.loc["organic", "new_users"] > 0 and organic["spend"] == 0.0
    assert organic["cac"] is None and organic["cost_per_payer"] is None  # no spend: no CAC ("—", not $0.00)
    assert [c["field"] for c in grid.columnDefs] == list(table.columns)


def test_dash030_bar_charts_of_channels_name_every_channel():
    """Marketing's share of spend and CAC by channel label all 11 demo channels, not every other one (plotly's
    automatic category ticks skipped names on an 11-bar chart)."""
    from layouts import marketing as M

    channels = [f"Channel{i:02d}" for i in range(11)]
    share = M.spend_share_figure(pd.DataFrame({"channel": channels, "share": [1 / 11] * 11, "costs": [10.0] * 11}))
    cac = M.cac_by_channel_figure(pd.DataFrame({"channel": channels, "new_users": [5] * 11, "costs": [10.0] * 11,
                                                "cac": [2.0] * 11}))
    for fig in (share, cac):
        assert (fig.layout.yaxis.tickmode, fig.layout.yaxis.tick0, fig.layout.yaxis.dtick) == ("linear", 0, 1)
        assert list(fig.data[0].y) == channels
