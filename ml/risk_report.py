"""Numbers of the segment-risk screen: churn scores joined with RFM segments, the segment x band matrix,
the target segment's profile, segment comparisons with significance tests, and recommended actions.

Every function takes `(conn, filters, ...)` and returns a DataFrame, so the dashboard memoizes it like a metric.
Filters select customers by their profile (first visit), as everywhere; the scores are those of the latest
scoring run dated on or before the observation date (`scoring_date`: an observation date left at its default,
the end of the date range, stands for the last date of the data, so the date range never hides the scores).
"""

from __future__ import annotations

import datetime as _dt
import math
import re

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats
from sqlalchemy.engine import Connection

import metrics
from metrics.filters import data_date_range
from ml.risk_bands import BANDS
from ml.scoring import churn_scores
from ml.segments import rfm_table

HIGH_VALUE_SEGMENTS = ("Champions", "Loyal", "Can't lose them")
CUSTOMER_COLUMNS = [
    "user_id", "probability", "risk_band", "reason_1", "reason_2", "reason_3", "value_at_risk",
    "segment", "recency_days", "frequency", "monetary", "r", "f", "m", "target", "recommended_action",
]

# Recommended actions: the first rule whose condition holds wins (documented in docs/segments.md).
ACTION_RULES: tuple[tuple[str, str], ...] = (
    ("low risk", "No action: keep in the regular newsletter"),
    ("high-value customer at high risk", "Personal message from a manager with a loyalty bonus"),
    ("falling visits or time on site", "Personal selection of products on the main page and in the weekly email"),
    ("purchases falling or lapsed", "Win-back offer: time-limited discount on the customer's favourite category"),
    ("new or promising customer", "Second-order incentive: free delivery on the next order"),
    ("otherwise", "Reminder email with personal recommendations"),
)
_ENGAGEMENT = re.compile(r"visit|minute|time on site|active day|session", re.IGNORECASE)
_PURCHASES = re.compile(r"order|purchase|bought|revenue|spend", re.IGNORECASE)


def recommended_action(band: str, segment: str, reasons: list[str]) -> str:
    """Return the recommended action for a customer by ACTION_RULES (band, RFM segment, model reasons)."""
    text = " ".join(r for r in reasons if isinstance(r, str))
    if band == "low":
        return ACTION_RULES[0][1]
    if band == "high" and segment in HIGH_VALUE_SEGMENTS:
        return ACTION_RULES[1][1]
    if _ENGAGEMENT.search(text):
        return ACTION_RULES[2][1]
    if _PURCHASES.search(text) or segment in ("At risk", "About to sleep", "Hibernating", "Lost"):
        return ACTION_RULES[3][1]
    if segment in ("New customers", "Promising", "Potential loyalists"):
        return ACTION_RULES[4][1]
    return ACTION_RULES[5][1]


def has_scores(conn: Connection) -> bool:
    """True when the churn_scores table exists and holds at least one row."""
    if churn_scores.name not in sa.inspect(conn).get_table_names():
        return False
    return conn.execute(sa.select(sa.func.count()).select_from(churn_scores)).scalar_one() > 0


def scores_as_of(conn: Connection, observation_date: _dt.date) -> _dt.date | None:
    """Return the date of the latest scoring run on or before `observation_date` (None when there is none)."""
    value = conn.execute(sa.select(sa.func.max(churn_scores.c.as_of))
                         .where(churn_scores.c.as_of <= observation_date)).scalar()
    if value is None:
        return None
    return _dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def scoring_cutoff(conn: Connection, filters: metrics.Filters) -> _dt.date | None:
    """Return the date the page's scoring run must not be after: the observation date when it is set apart from
    the end date; else (an observation date left at its default follows the end of the date range, which must not
    hide the scores) the later of the end date and the last date of the data; None without any date."""
    if filters.observation_date is not None and filters.observation_date != filters.end:
        return filters.observation_date
    dates = [d for d in (filters.end, data_date_range(conn)[1]) if d is not None]
    return max(dates) if dates else None


def scoring_date(conn: Connection, filters: metrics.Filters) -> _dt.date | None:
    """Return the date of the scoring run the Risk page shows for `filters`: the latest run on or before
    `scoring_cutoff` (whatever the date range); None when there is none."""
    if not has_scores(conn):
        return None
    cutoff = scoring_cutoff(conn, filters)
    return scores_as_of(conn, cutoff) if cutoff is not None else None


def first_scoring_date(conn: Connection) -> _dt.date | None:
    """Return the date of the earliest scoring run (None without any)."""
    if not has_scores(conn):
        return None
    value = conn.execute(sa.select(sa.func.min(churn_scores.c.as_of))).scalar()
    if value is None:
        return None
    return _dt.date.fromisoformat(value[:10]) if isinstance(value, str) else value


def scores_available(conn: Connection, filters: metrics.Filters) -> bool:
    """True when the page has a scoring run to show for `filters` (`scoring_date` is not None; any customer)."""
    return scoring_date(conn, filters) is not None


def customer_risk_table(conn: Connection, filters: metrics.Filters) -> pd.DataFrame:
    """Return one row per scored customer (CUSTOMER_COLUMNS), highest value at risk first.

    Scores of the run `scoring_date` picks (the latest dated <= O, whatever the date range), joined with the customer's RFM segment as of that run's date;
    `target` marks the target segment: high risk band and a high-value RFM segment.
    """
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in CUSTOMER_COLUMNS})
    as_of = scoring_date(conn, filters)
    if as_of is None:
        return empty
    scores = churn_scores
    query = sa.select(scores.c.user_id, scores.c.probability, scores.c.risk_band, scores.c.reason_1,
                      scores.c.reason_2, scores.c.reason_3, scores.c.value_at_risk).where(scores.c.as_of == as_of)
    if filters.has_attribute_filters:
        from metrics.profiles import filtered_users_select, profile_source

        query = query.where(scores.c.user_id.in_(filtered_users_select(as_of, filters,
                                                                       source=profile_source(conn))))
    rows = pd.DataFrame(conn.execute(query).all(),
                        columns=["user_id", "probability", "risk_band", "reason_1", "reason_2", "reason_3",
                                 "value_at_risk"])
    if rows.empty:
        return empty
    rows["user_id"] = rows["user_id"].astype(str)
    rfm = rfm_table(conn, as_of)
    table = rows.merge(rfm, on="user_id", how="left")
    table["segment"] = table["segment"].fillna("No order yet")
    table["target"] = (table["risk_band"] == "high") & table["segment"].isin(HIGH_VALUE_SEGMENTS)
    reasons = table[["reason_1", "reason_2", "reason_3"]].to_numpy().tolist()
    table["recommended_action"] = [recommended_action(b, s, r) for b, s, r in
                                   zip(table["risk_band"], table["segment"], reasons)]
    table = table.sort_values(["value_at_risk", "user_id"], ascending=[False, True]).reset_index(drop=True)
    return table[CUSTOMER_COLUMNS]


def risk_matrix(customers: pd.DataFrame) -> pd.DataFrame:
    """Return segment, risk_band, customers, value_at_risk, target for every segment x band with customers."""
    if customers.empty:
        return pd.DataFrame(columns=["segment", "risk_band", "customers", "value_at_risk", "target"])
    grouped = (customers.groupby(["segment", "risk_band"], observed=True)
               .agg(customers=("user_id", "size"), value_at_risk=("value_at_risk", "sum")).reset_index())
    grouped["target"] = (grouped["risk_band"] == "high") & grouped["segment"].isin(HIGH_VALUE_SEGMENTS)
    grouped["band_order"] = grouped["risk_band"].map({b: i for i, b in enumerate(BANDS)})
    return (grouped.sort_values(["segment", "band_order"]).drop(columns="band_order").reset_index(drop=True))


def cohens_d(a: pd.Series, b: pd.Series) -> float:
    """Return Cohen's d (difference of means over the pooled standard deviation); NaN when undefined."""
    a, b = a.dropna().astype(float), b.dropna().astype(float)
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    pooled = math.sqrt(((len(a) - 1) * a.var() + (len(b) - 1) * b.var()) / (len(a) + len(b) - 2))
    return float((a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def effect_label(d: float) -> str:
    """Return the conventional size word of |d| (negligible < 0.2 <= small < 0.5 <= medium < 0.8 <= large)."""
    if d is None or np.isnan(d):
        return "undefined"
    size = abs(d)
    return "large" if size >= 0.8 else "medium" if size >= 0.5 else "small" if size >= 0.2 else "negligible"


def _number(value: float) -> str:
    """Return a mean as the profile table writes it (at most 3 significant digits below 100, whole above)."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def difference_words(target: float, others: float, signed: bool = False) -> str:
    """Return how the target segment's mean differs from everyone else's in plain words: "3.1× higher",
    "45% lower", "about the same", "2.5 vs none"; `signed` features (trends: relative changes, which can be
    negative) by their difference in percentage points ("62 percentage points lower"); "not defined" without both
    means."""
    if target is None or others is None or np.isnan(target) or np.isnan(others):
        return "not defined"
    if signed:  # a trend is a relative change (+0.5 = up 50%): compared in percentage points
        gap = (target - others) * 100
        if abs(gap) < 0.5:
            return "about the same"
        return f"{abs(gap):,.0f} percentage points {'higher' if gap > 0 else 'lower'}"
    if target < 0 or others < 0:
        gap = target - others
        if abs(gap) < 0.005:
            return "about the same"
        return f"{_number(abs(gap))} {'higher' if gap > 0 else 'lower'}"
    if others == 0:
        return "about the same" if target == 0 else f"{_number(target)} vs none"
    ratio = target / others
    if ratio >= 2:
        return f"{ratio:.1f}× higher"
    if ratio <= 0.5:
        return f"{1 / ratio:.1f}× lower" if target > 0 else "none vs " + _number(others)
    change = ratio - 1
    if abs(change) < 0.05:
        return "about the same"
    return f"{abs(change):.0%} {'higher' if change > 0 else 'lower'}"


PROFILE_COLUMNS = ["feature", "target_mean", "others_mean", "cohens_d", "effect"]


def has_target_contrast(customers: pd.DataFrame) -> bool:
    """True when the customers hold both target and other rows (a profile comparison is defined)."""
    return not customers.empty and bool(customers["target"].any()) and not bool(customers["target"].all())


def scoring_snapshot(conn: Connection, filters: metrics.Filters) -> pd.DataFrame:
    """Return the churn model's label-free snapshot features as of the scoring date that `filters` select
    (data up to that date only), one row per eligible customer with a `user_id` column; empty without scores."""
    from ml.features import build_snapshot

    as_of = scoring_date(conn, filters)
    if as_of is None:
        return pd.DataFrame(columns=["user_id"])
    snapshot = build_snapshot(conn, as_of, with_label=False).reset_index()
    snapshot["user_id"] = snapshot["user_id"].astype(str)
    return snapshot


def compare_target(customers: pd.DataFrame, snapshot: pd.DataFrame) -> pd.DataFrame:
    """Return feature, target_mean, others_mean, cohens_d, effect for the target segment of `customers`
    (customer_risk_table) against the other scored customers, from `snapshot` (scoring_snapshot), sorted by |d|."""
    from ml.features import NUMERIC_FEATURES

    if not has_target_contrast(customers) or snapshot.empty:
        return pd.DataFrame(columns=PROFILE_COLUMNS)
    merged = customers[["user_id", "target"]].merge(snapshot, on="user_id", how="inner")
    target, others = merged[merged["target"]], merged[~merged["target"]]
    rows = []
    for feature in NUMERIC_FEATURES:
        d = cohens_d(target[feature], others[feature])
        rows.append({"feature": feature, "target_mean": float(target[feature].mean()),
                     "others_mean": float(others[feature].mean()), "cohens_d": d, "effect": effect_label(d)})
    frame = pd.DataFrame(rows, columns=PROFILE_COLUMNS)
    order = frame["cohens_d"].abs().fillna(-1).sort_values(ascending=False, kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def target_profile(conn: Connection, filters: metrics.Filters) -> pd.DataFrame:
    """Return feature, target_mean, others_mean, cohens_d, effect: how the target segment's behaviour differs.

    Features are the churn model's snapshot features as of the scoring date (data up to that date only),
    sorted by |d| descending. (The dashboard composes the same from its cached customer table and a cached
    `scoring_snapshot`, so a cold page builds the customer table once.)
    """
    customers = customer_risk_table(conn, filters)
    snapshot = scoring_snapshot(conn, filters) if has_target_contrast(customers) else pd.DataFrame()
    return compare_target(customers, snapshot)


def target_reasons(customers: pd.DataFrame) -> pd.DataFrame:
    """Return reason, customers: how often each model reason appears among the target segment (top first), in
    group wording with the median of the customers' own numbers (ml.explain.group_reasons)."""
    from ml.explain import group_reasons

    target = customers[customers["target"].astype(bool)] if not customers.empty else customers
    if target.empty:
        return pd.DataFrame(columns=["reason", "customers"])
    reasons = pd.concat([target[c] for c in ("reason_1", "reason_2", "reason_3")]).dropna()
    return group_reasons(reasons.astype(str).tolist())


def two_proportion_z(successes_a: int, n_a: int, successes_b: int, n_b: int) -> tuple[float, float]:
    """Return (z, two-sided p) of the pooled two-proportion z-test; (nan, nan) when undefined."""
    if n_a == 0 or n_b == 0:
        return float("nan"), float("nan")
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    if se == 0:
        return float("nan"), float("nan")
    z = (successes_a / n_a - successes_b / n_b) / se
    return z, float(2 * stats.norm.sf(abs(z)))


def holm_adjust(p_values: list[float]) -> list[float]:
    """Return Holm-Bonferroni adjusted p-values (NaN stays NaN), in the input order."""
    indexed = [(p, i) for i, p in enumerate(p_values) if p is not None and not np.isnan(p)]
    m = len(indexed)
    adjusted = [float("nan")] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def format_p(p: float | None) -> str:
    """Return a p-value as it is read: "p < 0.001" below 0.001, else "p = 0.004" (3 decimals below 0.01) or
    "p = 0.57" (2 decimals); "p not defined" for None or NaN."""
    if p is None or np.isnan(p):
        return "p not defined"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"


def significance_words(rate: float, rest: float, p_adjusted: float, alpha: float = 0.05) -> str:
    """Return plain words for a comparison, e.g. 'significantly lower, p < 0.01'."""
    if p_adjusted is None or np.isnan(p_adjusted):
        return "not testable (too few users)"
    if p_adjusted >= alpha:
        return f"no significant difference ({format_p(p_adjusted)})"
    direction = "higher" if rate > rest else "lower"
    bound = next((b for b in (0.001, 0.01) if p_adjusted < b), alpha)
    return f"significantly {direction}, p < {bound:g}"


SEGMENT_DIMENSIONS = {"channel": "channel", "country": "region", "device": "device"}


def segment_comparison(conn: Connection, filters: metrics.Filters, dimension: str = "channel", horizon: int = 14,
                       retention_day: int = 7) -> pd.DataFrame:
    """Return, per value of `dimension`, conversion by day H-1 and retention on day `retention_day`
    against all other users of the cohort, with two-proportion z-tests and Holm-adjusted p-values.

    Columns: metric, <dimension>, cohort_size, users, rate, rest_rate, z, p_value, p_adjusted, verdict.
    Holm's correction runs over all comparisons of the table (both metrics, every value).
    """
    dim = SEGMENT_DIMENSIONS.get(dimension, dimension)
    day = min(retention_day, horizon - 1)
    parts = []
    for name, fn, lifetime in (("conversion", metrics.conversion, horizon - 1), ("retention", metrics.retention, day)):
        frame = fn(conn, filters, horizon=horizon, dimensions=(dim,))
        frame = frame[frame["lifetime"] == lifetime].copy()
        frame["users"] = (frame["value"] * frame["cohort_size"]).round().astype("int64")
        frame["metric"] = f"{name} by day {lifetime}"
        parts.append(frame[["metric", dim, "cohort_size", "users"]])
    columns = ["metric", dim, "cohort_size", "users", "rate", "rest_rate", "z", "p_value", "p_adjusted", "verdict"]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns[:4])
    if table.empty:
        return pd.DataFrame(columns=columns)
    totals = table.groupby("metric")[["cohort_size", "users"]].transform("sum")
    rest_n = totals["cohort_size"] - table["cohort_size"]
    rest_users = totals["users"] - table["users"]
    table["rate"] = table["users"] / table["cohort_size"]
    table["rest_rate"] = np.where(rest_n > 0, rest_users / rest_n.where(rest_n > 0, 1), np.nan)
    tests = [two_proportion_z(int(a), int(n), int(b), int(m)) for a, n, b, m in
             zip(table["users"], table["cohort_size"], rest_users, rest_n)]
    table["z"] = [t[0] for t in tests]
    table["p_value"] = [t[1] for t in tests]
    table["p_adjusted"] = holm_adjust(table["p_value"].tolist())
    table["verdict"] = [significance_words(r, o, p) for r, o, p in
                        zip(table["rate"], table["rest_rate"], table["p_adjusted"])]
    return table[columns].reset_index(drop=True)


SEGMENT_SUMMARY_COLUMNS = ["segment", "customers", "revenue", "revenue_share", "mean_recency_days",
                           "mean_frequency", "mean_monetary"]


def segment_summary(conn: Connection, filters: metrics.Filters) -> pd.DataFrame:
    """Return per RFM segment: customers, revenue, revenue share and mean R/F/M as of O (no scores needed).

    Works on orders-only data; filters select customers by profile like everywhere.
    """
    observation = metrics.resolve_period(conn, filters).observation_date
    rfm = rfm_table(conn, observation, filters)
    if rfm.empty:
        return pd.DataFrame(columns=SEGMENT_SUMMARY_COLUMNS)
    grouped = rfm.groupby("segment").agg(customers=("user_id", "size"), revenue=("monetary", "sum"),
                                         mean_recency_days=("recency_days", "mean"),
                                         mean_frequency=("frequency", "mean"), mean_monetary=("monetary", "mean"))
    grouped["revenue_share"] = grouped["revenue"] / grouped["revenue"].sum()
    return grouped.reset_index()[SEGMENT_SUMMARY_COLUMNS]
