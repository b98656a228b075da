"""Customer segments: RFM scores and named segments, clustering on R/F/M, a classifier for new customers.

RFM (per customer with at least one order dated <= O):
- `recency_days` = days from the date of the last order to O; `frequency` = number of orders;
  `monetary` = total revenue. The three aggregates are computed in SQL; only one row per customer returns.
- Scores 1..5 by quintiles, 5 = best (most recent, most frequent, highest spend):
  `score = ceil(5 * rank / n)`, where `rank` orders the n customers from worst (1) to best (n) and equal values
  share the lowest rank of their group (`method="min"`). Equal values therefore always get equal scores, scores
  never decrease as the value improves, a unique best value scores 5, and the result does not depend on row
  order (deterministic). With many ties at the bottom (one-order customers) they all score 1 when they are the
  majority.
- `fm` = floor((f + m + 1) / 2) (the mean of F and M, halves rounded up); the segment comes from (r, fm) by
  SEGMENT_MAP, which assigns every one of the 25 cells, so every customer has a segment.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.cluster import KMeans
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sqlalchemy.engine import Connection

from dashboard import db
from metrics.dialect import float_sum

RFM_COLUMNS = ["user_id", "recency_days", "frequency", "monetary", "r", "f", "m", "segment"]
FEATURES = ["recency_days", "frequency", "monetary"]

# Segment by R score (rows) and FM score (columns 1..5): the usual RFM segment map.
SEGMENT_MAP: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"),
    3: ("About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At risk", "At risk", "Can't lose them"),
    1: ("Lost", "Lost", "At risk", "At risk", "Can't lose them"),
}
SEGMENTS = (
    "Champions", "Loyal", "Potential loyalists", "New customers", "Promising", "Need attention",
    "About to sleep", "At risk", "Can't lose them", "Hibernating", "Lost",
)


def rfm_aggregates(conn: Connection, observation_date: _dt.date | None = None, filters=None) -> pd.DataFrame:
    """Return user_id, last_order, frequency, monetary per customer with an order dated <= O (SQL aggregation).

    `filters` (a `metrics.Filters`) selects customers by their profile (first visit) when it restricts region,
    device or channel; O defaults to the date of the last order.
    """
    orders = db.orders
    if observation_date is None:
        last = conn.execute(sa.select(sa.func.max(orders.c.event_dt))).scalar_one()
        if last is None:
            return pd.DataFrame({"user_id": pd.Series(dtype=str), "last_order": pd.Series(dtype="datetime64[us]"),
                                 "frequency": pd.Series(dtype="int64"), "monetary": pd.Series(dtype="float64")})
        observation_date = pd.Timestamp(last).date()
    until = _dt.datetime.combine(observation_date + _dt.timedelta(days=1), _dt.time())
    query = (
        sa.select(
            orders.c.user_id,
            sa.func.max(orders.c.event_dt).label("last_order"),
            sa.func.count().label("frequency"),
            float_sum(orders.c.revenue).label("monetary"),
        )
        .where(orders.c.event_dt < until)
        .group_by(orders.c.user_id)
    )
    if filters is not None and filters.has_attribute_filters:
        from metrics.profiles import filtered_users_select, profile_source

        selected = filtered_users_select(observation_date, filters, source=profile_source(conn))
        if selected is not None:
            query = query.where(orders.c.user_id.in_(selected))
    frame = pd.DataFrame(conn.execute(query).all(), columns=["user_id", "last_order", "frequency", "monetary"])
    frame["user_id"] = frame["user_id"].astype(str)
    frame["last_order"] = pd.to_datetime(frame["last_order"], format="ISO8601")
    frame["frequency"] = frame["frequency"].astype("int64")
    frame["monetary"] = frame["monetary"].astype("float64")
    return frame


def quintile_scores(values: pd.Series, higher_is_better: bool = True) -> pd.Series:
    """Return scores 1..5 by quintiles (5 = best); ties share the lowest rank of their group."""
    if values.empty:
        return pd.Series(dtype="int64", index=values.index)
    ranked = (values if higher_is_better else -values).rank(method="min")
    return np.ceil(5 * ranked / len(values)).astype("int64")


def segment_of(r: pd.Series, f: pd.Series, m: pd.Series) -> pd.Series:
    """Return the named segment of each (r, f, m) score triple by SEGMENT_MAP on R and FM."""
    fm = (f + m + 1) // 2
    lookup = {(rs, col + 1): name for rs, names in SEGMENT_MAP.items() for col, name in enumerate(names)}
    return pd.Series([lookup[(int(a), int(b))] for a, b in zip(r, fm)], index=r.index, dtype=object)


def rfm_scores(aggregates: pd.DataFrame, observation_date: _dt.date) -> pd.DataFrame:
    """Return RFM_COLUMNS per customer from `rfm_aggregates` output, sorted by user_id."""
    frame = aggregates.copy()
    last_day = frame["last_order"].dt.normalize()
    frame["recency_days"] = (pd.Timestamp(observation_date) - last_day).dt.days.astype("int64")
    frame["r"] = quintile_scores(frame["recency_days"], higher_is_better=False)
    frame["f"] = quintile_scores(frame["frequency"])
    frame["m"] = quintile_scores(frame["monetary"])
    frame["segment"] = segment_of(frame["r"], frame["f"], frame["m"]) if len(frame) else pd.Series(dtype=object)
    return frame[RFM_COLUMNS].sort_values("user_id", kind="stable").reset_index(drop=True)


def rfm_table(conn: Connection, observation_date: _dt.date | None = None, filters=None) -> pd.DataFrame:
    """Return one row per customer: user_id, recency_days, frequency, monetary, r, f, m, segment."""
    if observation_date is None:
        last = conn.execute(sa.select(sa.func.max(db.orders.c.event_dt))).scalar_one()
        observation_date = pd.Timestamp(last).date() if last is not None else _dt.date.today()
    return rfm_scores(rfm_aggregates(conn, observation_date, filters), observation_date)


def _log_scale() -> FunctionTransformer:
    return FunctionTransformer(np.log1p, feature_names_out="one-to-one")


def _scaled(frame: pd.DataFrame) -> np.ndarray:
    return StandardScaler().fit_transform(np.log1p(frame[FEATURES].to_numpy(dtype="float64")))


@dataclass
class ClusteringResult:
    """Chosen clustering: labels per customer, scores by k for each algorithm, profiles, the classifier."""

    k: int
    labels: np.ndarray
    scores: pd.DataFrame
    profiles: pd.DataFrame
    names: dict[int, str]
    classifier: Pipeline | None = None
    classifier_accuracy: float | None = None
    details: dict = field(default_factory=dict)


def cluster_scores(frame: pd.DataFrame, k_values=range(2, 11), seed: int = 0, sample_size: int = 10_000) -> pd.DataFrame:
    """Return, per algorithm and k, the silhouette (on a fixed sample when large) and KMeans inertia (elbow)."""
    x = _scaled(frame)
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(x), size=min(sample_size, len(x)), replace=False) if len(x) > sample_size else None
    rows = []
    for k in k_values:
        if k >= len(x):
            break
        km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
        gm = GaussianMixture(n_components=k, covariance_type="full", random_state=seed, n_init=2).fit(x)
        for algorithm, labels, extra in (("kmeans", km.labels_, km.inertia_), ("gaussian_mixture", gm.predict(x), gm.bic(x))):
            xs, ls = (x, labels) if sample is None else (x[sample], labels[sample])
            silhouette = silhouette_score(xs, ls) if len(set(ls)) > 1 else float("nan")
            rows.append({"algorithm": algorithm, "k": k, "silhouette": float(silhouette),
                         "inertia": float(extra) if algorithm == "kmeans" else float("nan"),
                         "bic": float(extra) if algorithm == "gaussian_mixture" else float("nan")})
    return pd.DataFrame(rows)


def _cluster_name(profile: pd.Series, overall: pd.Series) -> str:
    """Return a cluster's name from its mean R, F, M against the mean customer's (`overall`)."""
    recency = "Recent" if profile["recency_days"] <= overall["recency_days"] else "Lapsed"
    if profile["frequency"] >= 2 * overall["frequency"]:
        frequency = "frequent"
    elif profile["frequency"] >= overall["frequency"]:
        frequency = "repeat"
    else:
        frequency = "occasional"
    monetary = "high-spend" if profile["monetary"] >= overall["monetary"] else "low-spend"
    return f"{recency} {frequency} {monetary} buyers"


# How clusters sharing a name differ, on the measure where they differ most: (name of a higher value, of a lower
# one); a higher recency (days since the last order) is the less recent.
RANK_WORDS = {"recency_days": ("less recent", "more recent"), "frequency": ("more orders", "fewer orders"),
              "monetary": ("higher spend", "lower spend")}


def _rank_qualifiers(means: pd.DataFrame) -> dict[int, str]:
    """Return, for clusters that share a name (`means`: their mean R/F/M by cluster), a qualifier each that tells
    them apart truthfully on the measure where they differ most (relative spread): "higher spend of the two",
    "lower spend of the two"; with three or more, "highest spend of the 3", "2nd highest spend of the 3", ...,
    "lowest spend of the 3"."""
    spread = (np.log1p(means.clip(lower=0)).max() - np.log1p(means.clip(lower=0)).min())
    feature = str(spread.idxmax())
    higher, lower = RANK_WORDS[feature]
    order = means[feature].sort_values(ascending=False, kind="stable").index
    if len(order) == 2:
        return {int(order[0]): f"{higher} of the two", int(order[1]): f"{lower} of the two"}
    rank_of = lambda i: "highest" if i == 1 else f"{i}{'nd' if i == 2 else 'rd' if i == 3 else 'th'} highest"  # noqa: E731
    word = higher.split(" ", 1)[1] if feature != "recency_days" else "days since the last order"
    words = {int(c): f"{rank_of(i + 1)} {word} of the {len(order)}" for i, c in enumerate(order)}
    words[int(order[-1])] = f"lowest {word} of the {len(order)}"
    return words


def cluster_profiles(frame: pd.DataFrame, labels: np.ndarray) -> tuple[pd.DataFrame, dict[int, str]]:
    """Return per-cluster size, share, mean R/F/M, revenue share and a readable name (and the name map).

    A name compares the cluster's mean recency, frequency and spend with the mean customer's; clusters that would
    share a name get a qualifier on the measure where they differ most ("... (higher spend of the two)"), so names
    differ."""
    data = frame[FEATURES].assign(cluster=labels)
    grouped = data.groupby("cluster")
    profiles = grouped[FEATURES].mean().rename(columns=lambda c: f"mean_{c}")
    profiles.insert(0, "customers", grouped.size())
    profiles.insert(1, "share", profiles["customers"] / len(data))
    profiles["revenue_share"] = grouped["monetary"].sum() / data["monetary"].sum()
    overall = data[FEATURES].mean()
    means = grouped[FEATURES].mean()
    base = {int(cluster): _cluster_name(row, overall) for cluster, row in means.iterrows()}
    names: dict[int, str] = dict(base)
    for shared in set(base.values()):
        clusters = [c for c, name in base.items() if name == shared]
        if len(clusters) < 2:
            continue
        for cluster, qualifier in _rank_qualifiers(means.loc[clusters]).items():
            names[cluster] = f"{shared} ({qualifier})"
    for cluster in sorted(names):  # equal means on every measure: numbered, still distinct
        if list(names.values()).count(names[cluster]) > 1:
            names[cluster] = f"{names[cluster]} (cluster {cluster})"
    profiles.insert(0, "name", [names[int(c)] for c in profiles.index])
    return profiles.reset_index(), names


def cluster_customers(frame: pd.DataFrame, seed: int = 0, k_values=range(2, 11), test_size: float = 0.25) -> ClusteringResult:
    """Return the KMeans clustering with k chosen by silhouette, its profiles and a held-out-evaluated classifier."""
    scores = cluster_scores(frame, k_values=k_values, seed=seed)
    km_scores = scores[scores["algorithm"] == "kmeans"]
    best = km_scores.sort_values(["silhouette", "k"], ascending=[False, True]).iloc[0]
    k = int(best["k"])
    x = _scaled(frame)
    km = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
    # Relabel clusters by descending mean monetary so that cluster 0 is the most valuable (stable names across runs).
    order = pd.Series(frame["monetary"].to_numpy()).groupby(km.labels_).mean().sort_values(ascending=False).index
    relabel = {old: new for new, old in enumerate(order)}
    labels = np.array([relabel[v] for v in km.labels_])
    profiles, names = cluster_profiles(frame, labels)
    result = ClusteringResult(k=k, labels=labels, scores=scores, profiles=profiles, names=names)
    counts = np.bincount(labels)
    if len(frame) >= 20 and counts.min() >= 2:
        x_train, x_test, y_train, y_test = train_test_split(
            frame[FEATURES], labels, test_size=test_size, random_state=seed, stratify=labels)
        classifier = Pipeline([("log", _log_scale()), ("scale", StandardScaler()),
                               ("model", LogisticRegression(max_iter=2000, C=10.0))])
        classifier.fit(x_train, y_train)
        result.classifier_accuracy = float(accuracy_score(y_test, classifier.predict(x_test)))
        classifier.fit(frame[FEATURES], labels)  # final classifier on every customer
        result.classifier = classifier
    return result


def segments_table(conn: Connection, observation_date: _dt.date | None = None, filters=None, seed: int = 0) -> tuple[pd.DataFrame, ClusteringResult | None]:
    """Return (one row per customer with RFM, segment and cluster, the clustering) as of O."""
    rfm = rfm_table(conn, observation_date, filters)
    if len(rfm) < 3:
        return rfm.assign(cluster=pd.Series(dtype="Int64")), None
    result = cluster_customers(rfm, seed=seed)
    return rfm.assign(cluster=result.labels), result


SEGMENT_MODEL_NAME = "segments-latest.joblib"


@dataclass
class SegmentModel:
    """The fitted cluster classifier with its card (k, names, scores, accuracy, observation date)."""

    classifier: Pipeline
    card: dict

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return cluster and cluster_name for rows with recency_days, frequency, monetary."""
        clusters = self.classifier.predict(frame[FEATURES])
        names = {int(k): v for k, v in self.card["names"].items()}
        return pd.DataFrame({"cluster": clusters.astype("int64"), "cluster_name": [names[int(c)] for c in clusters]},
                            index=frame.index)


def save_segment_model(result: ClusteringResult, model_dir, observation_date: _dt.date) -> "Path":
    """Save the clustering's classifier and card to `model_dir`/segments-latest.joblib; return the path."""
    from pathlib import Path

    import joblib
    import sklearn

    if result.classifier is None:
        raise ValueError("the clustering has no classifier (too few customers)")
    path = Path(model_dir) / SEGMENT_MODEL_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    card = {
        "k": result.k, "names": {str(k): v for k, v in result.names.items()},
        "classifier_accuracy": result.classifier_accuracy, "observation_date": observation_date.isoformat(),
        "features": FEATURES, "sklearn": sklearn.__version__,
        "silhouette": result.scores[result.scores["algorithm"] == "kmeans"].set_index("k")["silhouette"].to_dict(),
        "scores": result.scores.to_dict("records"),
        "profiles": result.profiles.to_dict("records"),
        "customers": int(result.profiles["customers"].sum()),
    }
    tmp = path.with_suffix(".tmp")
    joblib.dump({"classifier": result.classifier, "card": card}, tmp)
    tmp.replace(path)  # atomic: a reader never sees a half-written model
    return path


def load_segment_model(model_dir) -> SegmentModel | None:
    """Return the saved segment model of `model_dir`, or None when none was saved."""
    from pathlib import Path

    import joblib

    path = Path(model_dir) / SEGMENT_MODEL_NAME
    if not path.exists():
        return None
    payload = joblib.load(path)
    return SegmentModel(classifier=payload["classifier"], card=payload["card"])
