"""The default period (the last 28 days of the data) and the period presets of the filter bar, in the URL."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from layouts.filters import (CUSTOM_PERIOD, PERIOD_PRESETS, DataBounds, FilterState, attribute_options,
                             default_dates, matching_preset, parse_query, period_options, preset_dates, to_query)

D = dt.date
BOUNDS = DataBounds(D(2026, 5, 1), D(2026, 10, 31), ("France", "UK"), ("Mac", "PC"), ("FaceBoom", "TipTop", "organic"))


@pytest.mark.parametrize("preset, expected", [
    ("last7", (D(2026, 10, 25), D(2026, 10, 31))),
    ("last28", (D(2026, 10, 4), D(2026, 10, 31))),
    ("last90", (D(2026, 8, 3), D(2026, 10, 31))),
    ("this_month", (D(2026, 10, 1), D(2026, 10, 31))),
    ("last_month", (D(2026, 9, 1), D(2026, 9, 30))),
    ("quarter", (D(2026, 10, 1), D(2026, 10, 31))),
    ("year", (D(2026, 5, 1), D(2026, 10, 31))),  # clamped: the data starts in May
    ("all", (D(2026, 5, 1), D(2026, 10, 31))),
])
def test_per001_presets_count_from_the_data_last_date(preset, expected):
    assert preset_dates(preset, BOUNDS) == expected


def test_per002_presets_on_short_data_and_month_edges_stay_inside_the_data():
    short = DataBounds(D(2026, 3, 10), D(2026, 3, 20))
    assert preset_dates("last90", short) == (D(2026, 3, 10), D(2026, 3, 20))
    assert preset_dates("last_month", short) == (D(2026, 3, 10), D(2026, 3, 10))  # no February in the data
    leap = DataBounds(D(2024, 1, 1), D(2024, 3, 5))
    assert preset_dates("last_month", leap) == (D(2024, 2, 1), D(2024, 2, 29))
    assert preset_dates("quarter", DataBounds(D(2026, 1, 1), D(2026, 8, 15))) == (D(2026, 7, 1), D(2026, 8, 15))
    assert default_dates(short) == (D(2026, 3, 10), D(2026, 3, 20))
    with pytest.raises(ValueError, match="unknown period"):
        preset_dates("last5", BOUNDS)


def test_per003_default_state_is_the_last_28_days_and_leaves_the_url_empty():
    state = FilterState.default(BOUNDS)
    assert (state.start, state.end, state.observation_date) == (D(2026, 10, 4), D(2026, 10, 31), D(2026, 10, 31))
    assert to_query(state, BOUNDS) == ""
    assert parse_query("", BOUNDS)[0] == state


@pytest.mark.parametrize("preset", [p for p, _ in PERIOD_PRESETS if p != "last28"])
def test_per004_a_preset_is_written_as_period_and_read_back(preset):
    start, end = preset_dates(preset, BOUNDS)
    state = FilterState(start, end, end)
    query = to_query(state, BOUNDS)
    found = matching_preset(start, end, BOUNDS)
    assert query == f"?period={found}"
    parsed, _, notes = parse_query(query, BOUNDS)
    assert parsed == state and notes == []


def test_per005_all_data_is_one_link_and_custom_dates_stay_dates():
    assert to_query(FilterState(D(2026, 5, 1), D(2026, 10, 31), D(2026, 10, 31)), BOUNDS) == "?period=all"
    custom = FilterState(D(2026, 6, 3), D(2026, 10, 31), D(2026, 10, 31))
    assert to_query(custom, BOUNDS) == "?start=2026-06-03"
    assert matching_preset(custom.start, custom.end, BOUNDS) == CUSTOM_PERIOD
    assert period_options(CUSTOM_PERIOD)[-1] == {"label": "Custom dates", "value": CUSTOM_PERIOD, "disabled": True}
    assert all(o["value"] != CUSTOM_PERIOD for o in period_options("last7"))
    # an end alone: the 28 days up to it
    state, _, _ = parse_query("?end=2026-07-31", BOUNDS)
    assert (state.start, state.end) == (D(2026, 7, 4), D(2026, 7, 31))


@pytest.mark.parametrize("query, note", [
    ("?period=last5", "Ignored period='last5'"),
    ("?period=%27%3B+DROP+TABLE+visits", "Ignored period=\"';"),
    ("?period=all&start=2026-07-01", "Ignored period=all: the link also gives start or end dates"),
])
def test_per006_unknown_or_conflicting_periods_are_ignored_with_a_note(query, note):
    state, _, notes = parse_query(query, BOUNDS)
    assert any(n.startswith(note) for n in notes), notes
    if "start=" in query:
        assert state.start == D(2026, 7, 1)
    else:
        assert (state.start, state.end) == default_dates(BOUNDS)


COUNTS = pd.DataFrame([
    ("France", "Mac", "organic", 5), ("France", "PC", "organic", 7), ("France", "PC", "FaceBoom", 0),
    ("UK", "Mac", "TipTop", 1200), ("UK", "PC", "FaceBoom", 30), ("UK", "PC", "organic", 2),
], columns=["region", "device", "channel", "users"])


def _labels(options):
    return [o["label"] for o in options]


def test_per007_options_count_users_and_narrow_by_the_other_filters():
    everything = attribute_options(COUNTS, FilterState.default(BOUNDS), BOUNDS)
    assert _labels(everything["country"]) == ["France (12)", "UK (1,232)"]
    assert _labels(everything["channel"]) == ["FaceBoom (30)", "TipTop (1,200)", "organic (14)"]
    france = attribute_options(COUNTS, FilterState(D(2026, 10, 4), D(2026, 10, 31), D(2026, 10, 31),
                                                   countries=("France",)), BOUNDS)
    assert _labels(france["channel"]) == ["organic (12)"]  # no TipTop or FaceBoom user in France
    assert _labels(france["device"]) == ["Mac (5)", "PC (7)"]
    assert _labels(france["country"]) == ["France (12)", "UK (1,232)"]  # its own list is not narrowed by itself
    chosen = attribute_options(COUNTS, FilterState(D(2026, 10, 4), D(2026, 10, 31), D(2026, 10, 31),
                                                   countries=("France",), channels=("TipTop",)), BOUNDS)
    assert _labels(chosen["channel"]) == ["TipTop (0)", "organic (12)"]  # a chosen value stays, with its 0
    assert _labels(chosen["country"]) == ["France (0)", "UK (1,200)"]  # France chosen: kept though TipTop has none
    assert matching_preset(D(2026, 5, 1), D(2026, 10, 31), BOUNDS) == "all"
    assert matching_preset(D(2026, 5, 1), D(2026, 10, 31), BOUNDS, shown="year") == "year"  # what the user chose
