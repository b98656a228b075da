"""SHAP explanations of a fitted Pipeline(prep -> model), summed back to the original features, and plain-words reasons.

- Tree models (random forest, decision tree, histogram gradient boosting): `shap.TreeExplainer` on the
  transformed features (exact, fast), in the model's raw output units (log-odds for boosting).
- Logistic regression: `shap.LinearExplainer` with an independent masker on a background sample.
- Other families (KNN, SVC): permutation SHAP (the algorithm of `shap.PermutationExplainer`: one
  permutation per row and its reverse, independent masker with 10 background rows) over the ORIGINAL
  features, vectorised over rows in `permutation_shap` (shap's per-row Python loop took minutes for a
  few thousand customers): 2 x (features + 1) x 10 model evaluations per row, in large batches.

One-hot columns of a categorical feature are summed into that feature, so every explanation is per
original feature. A reason is a feature whose SHAP value pushes the risk UP, phrased from the row's
own values ("visits down 60% in the last 30 days", "no order for 45 days", "acquired via TipTop").
"""

from __future__ import annotations

import math
import re
import zlib

import numpy as np
import pandas as pd
import shap
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

TREE_MODELS = ("RandomForestClassifier", "DecisionTreeClassifier", "ExtraTreesClassifier",
               "HistGradientBoostingClassifier", "GradientBoostingClassifier")
LINEAR_MODELS = ("LogisticRegression",)
PERMUTATION_BACKGROUND_ROWS = 10


def feature_groups(pipeline: Pipeline, numeric: list[str], categorical: list[str]) -> list[str]:
    """Return, for each transformed column of the pipeline's `prep` step, the original feature it comes from."""
    prep = pipeline.named_steps["prep"]
    groups: list[str] = []
    for name, transformer, columns in prep.transformers_:
        if name == "num":
            groups.extend(columns)
        elif name == "cat":
            encoder = transformer.named_steps["onehot"]
            for column, categories in zip(columns, encoder.categories_):
                groups.extend([column] * len(categories))
    return groups


def _positive_output(values) -> np.ndarray:
    """Pick the positive-class slice of whatever shape a SHAP explainer returned."""
    if isinstance(values, list):
        values = values[-1]
    values = np.asarray(values, dtype=float)
    if values.ndim == 3:
        values = values[:, :, -1]
    return values


def permutation_shap(model_output, Xt: np.ndarray, background: np.ndarray, group_index: np.ndarray,
                     n_groups: int, seed: int = 0, batch_rows: int = 64) -> np.ndarray:
    """Return SHAP values (rows x groups) by antithetic permutation sampling with an independent masker.

    The algorithm of `shap.PermutationExplainer` with one permutation per row and its reverse, over
    feature groups (a group = the transformed columns of one original feature), vectorised over rows:
    a coalition takes the row's values for its groups and each background row's values elsewhere; its
    value is the mean model output over the background. Per row the values sum exactly to
    f(row) - mean f(background).
    """
    n, width = Xt.shape
    steps = np.arange(n_groups + 1)
    out = np.zeros((n, n_groups))
    for start in range(0, n, batch_rows):
        X = Xt[start:start + batch_rows]
        m = len(X)
        # each row's permutation comes from the seed and the row's own values, so a customer's reasons do not
        # depend on the batch or the position they are explained in (scoring job and API agree)
        perms = np.stack([np.random.default_rng([seed, zlib.crc32(np.ascontiguousarray(row).tobytes())])
                          .permutation(n_groups) for row in X])
        ranks = np.argsort(perms, axis=1)  # position of each group in the row's permutation
        forward = ranks[:, None, :] < steps[None, :, None]  # coalition k = the first k groups
        backward = ranks[:, None, :] >= (n_groups - steps)[None, :, None]  # coalition k = the last k groups
        masks = np.concatenate([forward, backward], axis=1)[:, :, group_index]  # (m, 2(F+1), columns)
        data = np.where(masks[:, :, None, :], X[:, None, None, :], background[None, None, :, :])
        values = np.asarray(model_output(data.reshape(-1, width)), dtype=float)
        values = values.reshape(m, 2 * (n_groups + 1), len(background)).mean(axis=2)
        gain_forward = np.diff(values[:, :n_groups + 1], axis=1)  # step j adds group perms[:, j]
        gain_backward = np.diff(values[:, n_groups + 1:], axis=1)  # step j adds group perms[:, F-1-j]
        phi = np.zeros((m, n_groups))
        rows = np.arange(m)[:, None]
        phi[rows, perms] += gain_forward
        phi[rows, perms[:, ::-1]] += gain_backward
        out[start:start + m] = phi / 2.0
    return out


class ShapExplainer:
    """SHAP values per original feature for a fitted Pipeline(prep -> model); built once, reused."""

    def __init__(self, pipeline: Pipeline, numeric: list[str], categorical: list[str],
                 background: pd.DataFrame, seed: int = 0, background_rows: int = 40):
        self.pipeline = pipeline
        self.numeric, self.categorical = list(numeric), list(categorical)
        self.features = self.numeric + self.categorical
        self.groups = np.asarray(feature_groups(pipeline, self.numeric, self.categorical))
        self.model = pipeline.named_steps["model"]
        self.kind = type(self.model).__name__
        self.seed = seed
        sample = background[self.features]
        if len(sample) > background_rows:
            sample = sample.sample(background_rows, random_state=seed)
        self.background_t = self._transform(sample)
        if self.kind in TREE_MODELS:
            self.method = "tree"
            self.explainer = shap.TreeExplainer(self.model)
        elif self.kind in LINEAR_MODELS:
            self.method = "linear"
            self.explainer = shap.LinearExplainer(self.model, shap.maskers.Independent(self.background_t))
        else:
            self.method = "permutation"
            self.explainer = None  # vectorised permutation SHAP below (shap's per-row loop is too slow here)
            self.group_index = np.asarray([self.features.index(g) for g in self.groups])

    def _transform(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline.named_steps["prep"].transform(X[self.features]), dtype=float)

    def _model_output(self, Xt: np.ndarray) -> np.ndarray:
        if hasattr(self.model, "decision_function"):
            return np.asarray(self.model.decision_function(Xt), dtype=float)
        return np.asarray(self.model.predict_proba(Xt), dtype=float)[:, 1]

    def shap_values(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return SHAP values (model output units) per row and ORIGINAL feature (one-hot columns summed)."""
        if len(X) == 0:
            return pd.DataFrame(columns=self.features, index=X.index, dtype=float)
        Xt = self._transform(X)
        if self.method == "tree":
            values = _positive_output(self.explainer.shap_values(Xt, check_additivity=False))
        elif self.method == "linear":
            values = _positive_output(self.explainer.shap_values(Xt))
        else:
            with threadpool_limits(limits=1):
                values = permutation_shap(self._model_output, Xt, self.background_t[:PERMUTATION_BACKGROUND_ROWS],
                                          self.group_index, len(self.features), seed=self.seed)
            return pd.DataFrame(values, index=X.index, columns=self.features)
        frame = pd.DataFrame(values, index=X.index)
        summed = frame.T.groupby(self.groups, sort=False).sum().T
        return summed.reindex(columns=self.features, fill_value=0.0)

    def global_importance(self, X: pd.DataFrame) -> dict[str, float]:
        """Return mean |SHAP| per original feature over the rows of X, largest first."""
        values = self.shap_values(X).abs().mean().sort_values(ascending=False)
        return {name: float(v) for name, v in values.items()}


# --- plain words ------------------------------------------------------------------------------------

def _num(row: pd.Series, name: str) -> float | None:
    value = row.get(name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def _count(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 10 else f"{value:.1f}"


def _trend_phrase(row: pd.Series, what: str, prefix: str, unit: str = "") -> str | None:
    last, sixty = _num(row, f"{prefix}_30"), _num(row, f"{prefix}_60")
    trend = _num(row, f"{prefix}_trend")
    if trend is None:
        return None
    if last is not None and sixty is not None:
        before = sixty - last
        pair = f" ({_count(last)}{unit} vs {_count(before)}{unit} in the 30 days before)"
        if before > 0:
            change = (last - before) / before
        elif last > 0:
            return f"{what} up from none to {_count(last)}{unit} in the last 30 days"
        else:
            return f"no {what} in the last 60 days"
    else:
        pair, change = "", trend
    if abs(change) < 0.005:
        return f"{what} flat over the last 30 days{pair}"
    direction = "down" if change < 0 else "up"
    return f"{what} {direction} {abs(change) * 100:.0f}% in the last 30 days{pair}"


def _days(value: float) -> str:
    return "1 day" if value == 1 else f"{value:.0f} days"


def reason_phrase(feature: str, row: pd.Series) -> str:
    """Return a plain-words description of `feature` for one customer, from the row's own values."""
    value = row.get(feature)
    v = _num(row, feature)
    trends = {"visits_trend": ("visits", "visits", ""), "minutes_trend": ("minutes on site", "minutes", ""),
              "active_days_trend": ("active days", "active_days", ""), "orders_trend": ("orders", "orders", "")}
    if feature in trends:
        phrase = _trend_phrase(row, *trends[feature])
        if phrase:
            return phrase
    if feature == "days_since_last_visit" and v is not None:
        return "visited today" if v == 0 else (f"no visit for {_days(v)}" if v < 365 else "no visit for a year or more")
    if feature == "days_since_last_order" and v is not None:
        return "ordered today" if v == 0 else f"no order for {_days(v)}"
    if feature == "days_since_first_visit" and v is not None:
        return f"customer for {_days(v)}" if v >= 60 else f"new customer: first seen {_days(v)} ago"
    if feature == "channel":
        return f"acquired via {value}"
    if feature == "device":
        return f"uses {value}"
    if feature == "region":
        return f"region {value}"
    if v is not None:
        for prefix, what, one in (("visits", "visits", "visit"), ("minutes", "minutes on site", "minute on site"),
                                  ("orders", "orders", "order")):
            for days in (30, 60, 90):
                if feature == f"{prefix}_{days}":
                    return f"{_count(v)} {one if v == 1 else what} in the last {days} days"
        for days in (30, 60, 90):
            if feature == f"active_days_{days}":
                return f"active on {_count(v)} of the last {days} days"
        simple = {
            "orders_total": f"{_count(v)} {'order' if v == 1 else 'orders'} in total",
            "revenue_90": f"revenue {v:.2f} in the last 90 days",
            "revenue_total": f"revenue {v:.2f} in total",
            "avg_order_value": f"average order value {v:.2f}",
            "days_first_to_last_order": f"{_days(v)} between first and last order",
            "acquisition_cost": f"acquisition cost {v:.2f}",
        }
        if feature in simple:
            return simple[feature]
        return f"{feature.replace('_', ' ')} = {v:g}"
    return f"{feature.replace('_', ' ')} = {value}"


def top_reasons(rows: pd.DataFrame, shap_frame: pd.DataFrame, top: int = 3) -> list[list[str]]:
    """Return per row the phrases of the `top` features with the largest POSITIVE SHAP (pushing risk up)."""
    out: list[list[str]] = []
    values = shap_frame.to_numpy(dtype=float)
    names = list(shap_frame.columns)
    for i in range(len(rows)):
        order = np.argsort(-values[i], kind="stable")
        row = rows.iloc[i]
        reasons = [reason_phrase(names[j], row) for j in order[:top] if values[i, j] > 0]
        out.append(reasons)
    return out


# --- reasons of a group of customers ------------------------------------------------------------------
# Each customer's reason carries that customer's own numbers (reason_phrase); a group of customers shares the
# wording and gets the median of the numbers: "visits down 62% in the last 30 days (3 vs 8 ...)" and "visits
# down 40% ..." read together as "visits down in the last 30 days (median 51%)".

_N = r"(?P<n0>\d[\d,]*(?:\.\d+)?)"
_WHAT = r"(?P<what>visits|minutes on site|active days|orders)"
GROUP_WORDING: tuple[tuple[re.Pattern, str], ...] = tuple((re.compile(pattern), template) for pattern, template in (
    (rf"^{_WHAT} (?P<dir>down|up) {_N}% in the last 30 days", "{what} {dir} in the last 30 days (median {n0}%)"),
    (rf"^{_WHAT} up from none to {_N}\S* in the last 30 days",
     "{what} up from none in the last 30 days (median {n0} in the last 30 days)"),
    (rf"^{_WHAT} flat over the last 30 days", "{what} flat over the last 30 days"),
    (rf"^no visit for {_N} days?$", "no visit for a while (median {n0} days)"),
    (rf"^no order for {_N} days?$", "no order for a while (median {n0} days)"),
    (rf"^customer for {_N} days?$", "customer for 60 days or more (median {n0} days)"),
    (rf"^new customer: first seen {_N} days? ago$", "new customer, first seen within 60 days (median {n0} days ago)"),
    (rf"^{_N} (?:visits?|minutes? on site|orders?) in the last (?P<days>\d+) days$",
     "{kind} in the last {days} days (median {n0})"),
    (rf"^active on {_N} of the last (?P<days>\d+) days$", "active days in the last {days} days (median {n0})"),
    (rf"^{_N} orders? in total$", "orders in total (median {n0})"),
    (rf"^revenue {_N} in the last 90 days$", "revenue in the last 90 days (median {n0})"),
    (rf"^revenue {_N} in total$", "revenue in total (median {n0})"),
    (rf"^average order value {_N}$", "average order value (median {n0})"),
    (rf"^{_N} days? between first and last order$", "days between first and last order (median {n0})"),
    (rf"^acquisition cost {_N}$", "acquisition cost (median {n0})"),
))
_KIND = re.compile(r"visit|minute|order")
_ANY_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


_MONEY = re.compile(r"revenue|order value|cost")


def _median_text(values: list[str], template: str) -> str:
    """Return the median of number texts as the reasons write numbers (money with 2 decimals)."""
    median = float(np.median([float(v.replace(",", "")) for v in values]))
    return f"{median:.2f}" if _MONEY.search(template) else _count(median)


def group_reason_key(reason: str) -> tuple[str, dict[str, str], str | None]:
    """Return (template, words, number) of one customer's reason: the group wording it belongs to, the words
    that name its group, and its number (None for a reason without one, e.g. "acquired via TipTop")."""
    text = str(reason).strip()
    for pattern, template in GROUP_WORDING:
        match = pattern.match(text)
        if match:
            words = {k: v for k, v in match.groupdict().items() if k != "n0" and v is not None}
            if "{kind}" in template:
                kind = _KIND.search(text[match.end("n0"):]).group(0)
                words["kind"] = {"visit": "visits", "minute": "minutes on site", "order": "orders"}[kind]
            return template, words, match.groupdict().get("n0")
    if _ANY_NUMBER.search(text):  # a wording without its own group: the median of its (first) number
        return _ANY_NUMBER.sub("{n0}", text, count=1) + " (median)", {}, _ANY_NUMBER.search(text).group(0)
    return text, {}, None


def group_reasons(reasons) -> pd.DataFrame:
    """Return reason, customers: the reasons of a group of customers in group wording (numbers are medians over
    the customers of each wording), most frequent first; one entry per phrase, so pass each customer's reasons."""
    groups: dict[tuple, list] = {}
    for reason in reasons:
        if not isinstance(reason, str) or not reason.strip():
            continue
        template, words, number = group_reason_key(reason)
        groups.setdefault((template, tuple(sorted(words.items()))), []).append(number)
    rows = []
    for (template, words), numbers in groups.items():
        values = [n for n in numbers if n is not None]
        label = template.format(**dict(words), n0=_median_text(values, template) if values else "")
        rows.append({"reason": label, "customers": len(numbers)})
    frame = pd.DataFrame(rows, columns=["reason", "customers"])
    return frame.sort_values(["customers", "reason"], ascending=[False, True]).reset_index(drop=True)
