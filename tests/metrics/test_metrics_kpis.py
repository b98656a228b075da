"""Derived maths of metrics/kpis.py on small hand-made frames: the Marketing page's cost-weighted rolling ROI.

The Overview's key figures are `metrics.kpi_table` (contract revision 2), tested against the pandas reference in
tests/metrics/test_kpis_contract.py.
"""

from __future__ import annotations


import pandas as pd
import pytest

from metrics.kpis import rolling_roi_by_date


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
