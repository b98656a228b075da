"""Derived KPIs: numbers computed from metric frames (paid CAC, payer share, cost-weighted rolling ROI, ...).

Pure pandas over the frames the metric functions return (shapes of `docs/metrics_api.md`); no database, no UI.
The pages only format and draw what these functions return, so every number on screen traces to a function of
the metrics package.
"""

from __future__ import annotations

import pandas as pd

ROLLING_DAYS = 7  # the window of the rolling ROI by acquisition date


def summary_value(summary: pd.DataFrame, metric: str) -> float:
    """Return the value of `metric` in an activity_summary frame (NaN when absent)."""
    rows = summary.loc[summary["metric"] == metric, "value"]
    return float(rows.iloc[0]) if len(rows) else float("nan")


def ratio(numerator: float, denominator: float) -> float:
    """Return numerator / denominator as a float, NaN when the denominator is 0."""
    return float(numerator) / float(denominator) if denominator else float("nan")


def kpi_values(summary: pd.DataFrame, new_users_by_payer: pd.DataFrame, users_to_date: int,
               revenue_daily: pd.DataFrame, spend_daily: pd.DataFrame, economics: pd.DataFrame,
               roi_curve: pd.DataFrame, horizon: int) -> dict[str, float]:
    """Return {kpi key: value} of one period from its metric frames (NaN where undefined).

    users, new_users, dau, wau, mau, sticky (DAU/MAU), asl_seconds, revenue, spend; cac = attributed spend / new
    users over the paid channels (costs > 0); roi = ROI of the paid cohort at lifetime horizon-1; payer_share =
    payers among the period's new users.
    """
    new_users = int(new_users_by_payer["new_users"].sum()) if len(new_users_by_payer) else 0
    payers = int(new_users_by_payer.loc[new_users_by_payer["payer"].astype(bool), "new_users"].sum()) \
        if len(new_users_by_payer) else 0
    paid = economics[economics["costs"] > 0] if len(economics) else economics
    roi_at = roi_curve.loc[roi_curve["lifetime"] == horizon - 1, "value"] if len(roi_curve) else pd.Series([])
    return {
        "users": int(users_to_date),
        "new_users": new_users,
        "dau": summary_value(summary, "dau"),
        "wau": summary_value(summary, "wau"),
        "mau": summary_value(summary, "mau"),
        "sticky": summary_value(summary, "sticky_mau"),
        "asl_seconds": summary_value(summary, "asl_seconds"),
        "revenue": float(revenue_daily["revenue"].sum()) if len(revenue_daily) else 0.0,
        "spend": float(spend_daily["costs"].sum()) if len(spend_daily) else 0.0,
        "cac": ratio(paid["costs"].sum(), paid["new_users"].sum()) if len(paid) else float("nan"),
        "roi": float(roi_at.iloc[0]) if len(roi_at) else float("nan"),
        "payer_share": ratio(payers, new_users),
    }


ROLLING_ROI_COLUMNS = ("group", "dt", "cohort_size_7d", "revenue_7d", "cost_7d", "roi_7d")


def rolling_roi_by_date(roi_by_dt: pd.DataFrame, dimension: str, horizon: int,
                        window_days: int = ROLLING_DAYS) -> pd.DataFrame:
    """Return ROI at day H per group and acquisition date over a rolling window of calendar days.

    Input: `metrics.roi(dimensions=(dimension, "dt"))`. At lifetime H-1 each (group, dt) cohort has
    revenue = value * cac * cohort_size and cost = cac * cohort_size; the rolling ROI of date d is
    sum(revenue) / sum(cost) over the `window_days` calendar days ending at d (a cost-weighted ROI, not a mean of
    daily ROIs), days without a paid cohort adding nothing; the window is cut at the first date of the frame.
    Columns: group, dt, cohort_size_7d, revenue_7d, cost_7d, roi_7d (the window columns keep the `_7d` names).
    """
    columns = list(ROLLING_ROI_COLUMNS)
    at_h = roi_by_dt[roi_by_dt["lifetime"] == horizon - 1]
    if at_h.empty:
        return pd.DataFrame({c: pd.Series([], dtype=(str if c == "group" else "datetime64[us]" if c == "dt" else float))
                             for c in columns})
    daily = pd.DataFrame({
        "group": at_h[dimension].astype(str).to_numpy(),
        "dt": pd.to_datetime(at_h["dt"]).to_numpy(),
        "cohort_size": at_h["cohort_size"].to_numpy(dtype=float),
        "revenue": (at_h["value"] * at_h["cac"] * at_h["cohort_size"]).to_numpy(dtype=float),
        "cost": (at_h["cac"] * at_h["cohort_size"]).to_numpy(dtype=float),
    })
    calendar = pd.date_range(daily["dt"].min(), daily["dt"].max(), freq="D")
    parts = []
    for group in sorted(daily["group"].unique()):
        part = (daily[daily["group"] == group].groupby("dt")[["cohort_size", "revenue", "cost"]].sum()
                .reindex(calendar, fill_value=0.0))
        rolled = part.rolling(window_days, min_periods=1).sum()
        present = part.index >= daily.loc[daily["group"] == group, "dt"].min()
        rolled = rolled[present & (rolled["cost"] > 0)]
        parts.append(pd.DataFrame({
            "group": group, "dt": rolled.index.astype("datetime64[us]"),
            "cohort_size_7d": rolled["cohort_size"].to_numpy().round().astype("int64"),
            "revenue_7d": rolled["revenue"].to_numpy(),
            "cost_7d": rolled["cost"].to_numpy(), "roi_7d": (rolled["revenue"] / rolled["cost"]).to_numpy(),
        }))
    return pd.concat(parts, ignore_index=True)[columns]
