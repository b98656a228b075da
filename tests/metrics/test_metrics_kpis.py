"""Derived KPI maths (metrics/kpis.py) on small hand-made frames: the numbers the Overview and Marketing pages show."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from metrics.kpis import kpi_values, rolling_roi_by_date


def _frames(**changes):
    """Return kpi_values' arguments for one small period (3 paid + 1 organic channel), with `changes` applied."""
    frames = dict(
        summary=pd.DataFrame({"metric": ["dau", "wau", "mau", "sticky_mau", "asl_seconds"],
                              "value": [4.0, 9.0, 20.0, 0.2, 95.0]}),
        new_users_by_payer=pd.DataFrame({"payer": [False, True, False, True], "new_users": [30, 5, 10, 5]}),
        users_to_date=120,
        revenue_daily=pd.DataFrame({"date": pd.to_datetime(["2026-01-01", "2026-01-02"]), "revenue": [7.5, 2.5]}),
        spend_daily=pd.DataFrame({"date": pd.to_datetime(["2026-01-01"] * 3), "channel": ["A", "B", "C"],
                                  "costs": [6.0, 3.0, 1.0]}),
        economics=pd.DataFrame({"channel": ["A", "B", "C", "organic"], "costs": [6.0, 3.0, 0.0, 0.0],
                                "new_users": [4, 2, 6, 28]}),
        roi_curve=pd.DataFrame({"lifetime": [0, 1, 2, 3], "value": [0.1, 0.4, 0.7, 1.1]}),
        horizon=3,
    )
    return frames | changes


def test_kpi001_paid_cac_payer_share_and_roi_at_the_horizon():
    values = kpi_values(**_frames())
    assert values["new_users"] == 50 and values["users"] == 120
    assert values["payer_share"] == pytest.approx(10 / 50)
    assert values["cac"] == pytest.approx(9.0 / 6)  # spend / new users of the channels with costs only (A, B)
    assert values["roi"] == pytest.approx(0.7)  # lifetime horizon-1
    assert values["revenue"] == 10.0 and values["spend"] == 10.0
    assert (values["dau"], values["wau"], values["mau"], values["sticky"], values["asl_seconds"]) == \
        (4.0, 9.0, 20.0, 0.2, 95.0)


def test_kpi002_undefined_kpis_are_nan_not_errors():
    empty = _frames(new_users_by_payer=pd.DataFrame({"payer": [], "new_users": []}),
                    economics=pd.DataFrame({"channel": ["organic"], "costs": [0.0], "new_users": [3]}),
                    roi_curve=pd.DataFrame({"lifetime": [0], "value": [0.1]}),
                    summary=pd.DataFrame({"metric": ["dau"], "value": [1.0]}))
    values = kpi_values(**empty)
    assert values["new_users"] == 0
    assert all(math.isnan(values[key]) for key in ("payer_share", "cac", "roi", "wau", "mau", "sticky"))


def test_kpi003_rolling_roi_is_cost_weighted_over_calendar_days():
    """Two cohorts 2 days apart in a 2-day window: ROI = revenue sum / cost sum, not the mean of the two ROIs."""
    roi = pd.DataFrame({"channel": ["A", "A", "A"], "dt": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-04"]),
                        "cohort_size": [1, 3, 2], "cac": [10.0, 2.0, 5.0], "lifetime": [1, 1, 1],
                        "value": [2.0, 1.0, 0.5]})
    table = rolling_roi_by_date(roi, "channel", horizon=2, window_days=2).set_index("dt")
    # costs 10, 6, 0, 10; revenues 20, 6, 0, 5 by day
    assert table.loc[pd.Timestamp("2026-01-01"), "roi_7d"] == pytest.approx(20 / 10)
    assert table.loc[pd.Timestamp("2026-01-02"), "roi_7d"] == pytest.approx(26 / 16)  # not (2.0 + 1.0) / 2
    assert table.loc[pd.Timestamp("2026-01-03"), "roi_7d"] == pytest.approx(6 / 6)
    assert table.loc[pd.Timestamp("2026-01-04"), "roi_7d"] == pytest.approx(5 / 10)
    assert table.loc[pd.Timestamp("2026-01-02"), "cohort_size_7d"] == 4
    assert rolling_roi_by_date(roi, "channel", horizon=5).empty  # nothing at lifetime 4
