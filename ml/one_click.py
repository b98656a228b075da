"""The "В один клик" (One Click) shop data: load the four CSVs, fix the known dirt, pivot, join, add features.

Used by `bench/one_click_benchmark.py` to run the project's model selection on real data. The data stays
where it is (`../shared/data/one_click`); nothing here copies it.

Cleaning (each fix is for a documented fault of the source):
- service tier `стандартт` -> `стандарт`; category `Косметика и аксесуары` -> `Косметика и аксессуары`;
- period `предыдцщий_месяц` -> `предыдущий_месяц` (market_time.csv);
- `money.csv` is `;`-separated with a decimal comma;
- the customers with zero revenue in an earlier month (three, not active in every month: the usual protocol
  keeps only customers active in all three months) and the customer with the revenue outlier (106,862.2,
  customer 215380) are dropped, as in the published notebooks: 1,296 customers remain.

Features are built per customer from that customer's own row only (no statistics over other customers), so
they cannot leak test data into training.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

LABEL = "declined"
OUTLIER_REVENUE = 100_000.0  # the one revenue above this (106,862.2) is a data-entry fault

FILE_COLUMNS = {
    "id": "customer_id",
    "Покупательская активность": "activity",
    "Тип сервиса": "service_tier",
    "Разрешить сообщать": "allow_messages",
    "Маркет_актив_6_мес": "marketing_6m",
    "Маркет_актив_тек_мес": "marketing_current",
    "Длительность": "days_registered",
    "Акционные_покупки": "promo_share",
    "Популярная_категория": "favourite_category",
    "Средний_просмотр_категорий_за_визит": "categories_per_visit",
    "Неоплаченные_продукты_штук_квартал": "unpaid_items_quarter",
    "Ошибка_сервиса": "service_errors",
    "Страниц_за_визит": "pages_per_visit",
}
PERIODS = {"препредыдущий_месяц": "m3", "предыдущий_месяц": "m2", "текущий_месяц": "m1"}
TYPO_FIXES = {
    "service_tier": {"стандартт": "стандарт"},
    "favourite_category": {"Косметика и аксесуары": "Косметика и аксессуары"},
}
PERIOD_FIXES = {"предыдцщий_месяц": "предыдущий_месяц"}

BASE_NUMERIC = [
    "marketing_6m", "marketing_current", "days_registered", "promo_share", "categories_per_visit",
    "unpaid_items_quarter", "service_errors", "pages_per_visit",
    "revenue_m3", "revenue_m2", "revenue_m1", "minutes_m2", "minutes_m1", "profit",
    "premium", "allows_messages",
]
ENGINEERED_NUMERIC = [
    "revenue_trend", "revenue_trend_prev", "revenue_ratio", "revenue_mean",
    "minutes_trend", "minutes_total", "minutes_ratio",
    "marketing_trend", "pages_per_category", "revenue_per_minute", "unpaid_per_page",
]
LOG_NUMERIC = ["log_revenue_m3", "log_revenue_m2", "log_revenue_m1", "log_days_registered", "log_profit"]
EXTRA_NUMERIC = ["high_promo", "minutes_per_page", "errors_per_minute"]
NUMERIC = BASE_NUMERIC + ENGINEERED_NUMERIC  # every attribute and the first engineered features (28)
CATEGORICAL = ["favourite_category"]

# The attributes known to drive this data (published analyses agree): pages and categories per visit,
# minutes in both months, marketing contacts, unpaid items, promo share, service errors.
CORE = ["pages_per_visit", "minutes_m1", "minutes_m2", "marketing_6m", "unpaid_items_quarter", "promo_share",
        "categories_per_visit", "service_errors"]
# Candidate feature sets compared by `bench/one_click_cv_study.py` (CV on training parts only).
FEATURE_SETS: dict[str, tuple[list[str], list[str]]] = {
    "full": (NUMERIC, CATEGORICAL),
    "base": (BASE_NUMERIC, CATEGORICAL),
    "base_log": ([c for c in BASE_NUMERIC if c not in ("revenue_m3", "revenue_m2", "revenue_m1", "profit",
                                                        "days_registered")] + LOG_NUMERIC, CATEGORICAL),
    "core": (CORE, CATEGORICAL),
    "core_nocat": (CORE, []),
    "core_rev": (CORE + ["log_revenue_m3", "log_revenue_m2", "log_revenue_m1"], CATEGORICAL),
    "core_eng": (CORE + ["unpaid_per_page", "minutes_total", "marketing_trend", "revenue_trend_prev"], CATEGORICAL),
    "core_extra": (CORE + ["log_revenue_m3", "log_revenue_m2", "log_revenue_m1"] + EXTRA_NUMERIC, CATEGORICAL),
    # Round 2 candidates (R3 in docs/one_click_benchmark.md): total and change of minutes over the two months
    # (one split instead of two for a tree); the two binary customer attributes that `core` leaves out.
    "core_rev_min": (CORE + ["log_revenue_m3", "log_revenue_m2", "log_revenue_m1", "minutes_total", "minutes_trend"],
                     CATEGORICAL),
    "core_rev_flags": (CORE + ["log_revenue_m3", "log_revenue_m2", "log_revenue_m1", "premium", "allows_messages"],
                       CATEGORICAL),
    # Round 6 candidate (R8): core_rev without the favourite category (its six one-hot columns are a third of
    # the columns extra trees draw their split candidates from).
    "core_rev_nocat": (CORE + ["log_revenue_m3", "log_revenue_m2", "log_revenue_m1"], []),
}
# The benchmark's features: the eight drivers, log revenue of the three months, the one-hot category
# (best or tied-best mean CV ROC-AUC for every model on the training parts of splits 0-2).
DEFAULT_FEATURE_SET = "core_rev"
MODEL_NUMERIC, MODEL_CATEGORICAL = FEATURE_SETS[DEFAULT_FEATURE_SET]


def read_raw(data_dir: Path | str) -> dict[str, pd.DataFrame]:
    """Return the four source tables as read (money.csv with `;` and decimal comma)."""
    data_dir = Path(data_dir)
    missing = [n for n in ("market_file.csv", "market_money.csv", "market_time.csv", "money.csv")
               if not (data_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{data_dir} lacks {', '.join(missing)} (see shared/data/README.md)")
    return {
        "file": pd.read_csv(data_dir / "market_file.csv"),
        "money": pd.read_csv(data_dir / "market_money.csv"),
        "time": pd.read_csv(data_dir / "market_time.csv"),
        "profit": pd.read_csv(data_dir / "money.csv", sep=";", decimal=","),
    }


def _pivot(frame: pd.DataFrame, value: str, prefix: str) -> pd.DataFrame:
    """Return one row per customer, one column per period (`prefix_m3`, `_m2`, `_m1`)."""
    periods = frame["Период"].replace(PERIOD_FIXES)
    unknown = sorted(set(periods) - set(PERIODS))
    if unknown:
        raise ValueError(f"unknown periods {unknown}")
    long = pd.DataFrame({"customer_id": frame["id"], "period": periods.map(PERIODS), "value": frame[value]})
    if long.duplicated(["customer_id", "period"]).any():
        raise ValueError(f"{prefix}: more than one row per customer and period")
    wide = long.pivot(index="customer_id", columns="period", values="value")
    wide.columns = [f"{prefix}_{c}" for c in wide.columns]
    return wide


def clean_table(raw: dict[str, pd.DataFrame], drop_dirty: bool = True) -> pd.DataFrame:
    """Return one row per customer: cleaned attributes, revenue/minutes per period, profit, label `declined`."""
    base = raw["file"].rename(columns=FILE_COLUMNS)
    for column, fixes in TYPO_FIXES.items():
        base[column] = base[column].replace(fixes)
    revenue = _pivot(raw["money"], "Выручка", "revenue")
    minutes = _pivot(raw["time"], "минут", "minutes")
    profit = raw["profit"].rename(columns={"id": "customer_id", "Прибыль": "profit"}).set_index("customer_id")
    table = base.set_index("customer_id").join(revenue).join(minutes).join(profit)
    if len(table) != len(base):
        raise ValueError("joining the four files changed the number of customers")
    table[LABEL] = (table["activity"] == "Снизилась").astype(int)
    if drop_dirty:
        revenue_cols = ["revenue_m3", "revenue_m2", "revenue_m1"]
        inactive = (table[revenue_cols] == 0).any(axis=1)
        outlier = (table[revenue_cols] > OUTLIER_REVENUE).any(axis=1)
        table = table[~inactive & ~outlier]
    return table.reset_index()


def add_features(table: pd.DataFrame) -> pd.DataFrame:
    """Return `table` with the model features (row-wise: trends, ratios, binary flags)."""
    out = table.copy()
    out["premium"] = (out["service_tier"] == "премиум").astype(int)
    out["allows_messages"] = (out["allow_messages"] == "да").astype(int)
    out["revenue_trend"] = out["revenue_m1"] - out["revenue_m2"]
    out["revenue_trend_prev"] = out["revenue_m2"] - out["revenue_m3"]
    out["revenue_ratio"] = out["revenue_m1"] / out["revenue_m2"].replace(0, np.nan)
    out["revenue_mean"] = out[["revenue_m3", "revenue_m2", "revenue_m1"]].mean(axis=1)
    out["minutes_trend"] = out["minutes_m1"] - out["minutes_m2"]
    out["minutes_total"] = out["minutes_m1"] + out["minutes_m2"]
    out["minutes_ratio"] = out["minutes_m1"] / out["minutes_m2"].replace(0, np.nan)
    out["marketing_trend"] = out["marketing_current"] - out["marketing_6m"]
    out["pages_per_category"] = out["pages_per_visit"] / out["categories_per_visit"].replace(0, np.nan)
    out["revenue_per_minute"] = out["revenue_m1"] / out["minutes_m1"].replace(0, np.nan)
    out["unpaid_per_page"] = out["unpaid_items_quarter"] / out["pages_per_visit"].replace(0, np.nan)
    for column in ("revenue_m3", "revenue_m2", "revenue_m1", "days_registered", "profit"):
        out[f"log_{column}"] = np.log1p(out[column].clip(lower=0))
    out["high_promo"] = (out["promo_share"] > 0.5).astype(int)
    out["minutes_per_page"] = out["minutes_total"] / out["pages_per_visit"].replace(0, np.nan)
    out["errors_per_minute"] = out["service_errors"] / out["minutes_total"].replace(0, np.nan)
    return out


def load_one_click(data_dir: Path | str, drop_dirty: bool = True) -> pd.DataFrame:
    """Return the cleaned, joined One Click table with features and the label `declined` (1 = activity declined)."""
    return add_features(clean_table(read_raw(data_dir), drop_dirty=drop_dirty))
