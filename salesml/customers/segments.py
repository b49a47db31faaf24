"""Customer segments: summaries of the RFM segments, a k-means segmenter, cluster profiles and
the migration of customers between segments.

* :func:`segment_summary` - size, share and value of each named segment of an RFM table
  (defined in :mod:`salesml.customers.rfm`, which does not need scikit-learn).
* :class:`ClusterSegmenter` - a scikit-learn estimator: log1p + standardised recency,
  frequency and monetary value, k-means with the number of clusters chosen by silhouette.
* :func:`cluster_profiles` - size, share, mean / median R, F, M and revenue share per cluster,
  with a plain-words label ("recent, frequent, high spend").
* :func:`migration_matrix` - how many customers moved from segment A at one date to B at a
  later one (customers new at the later date come from ``(new)``).

Everything here is a pure function of RFM tables (see :mod:`salesml.customers.rfm`), except
:func:`migration`, which reads the two tables from the warehouse. Anonymous (walk-in / guest)
lines are in no RFM table, so in no segment, cluster or migration;
:func:`salesml.customers.rfm.left_out` says how many lines and how much revenue that leaves
out at each date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from salesml.config import SegmentSettings, Settings
from salesml.customers.rfm import FEATURES, _ordered, _profile, rfm, segment_summary
from salesml.scope import Scope

__all__ = [
    "FEATURES",
    "GONE",
    "NEW",
    "ClusterSegmenter",
    "cluster_label",
    "cluster_profiles",
    "migration",
    "migration_matrix",
    "segment_summary",
]

#: row of the migration matrix for customers who had no segment at the first date
NEW = "(new)"
#: column of the migration matrix for customers who have no segment at the second date
GONE = "(gone)"


# --------------------------------------------------------------------------- clustering


class ClusterSegmenter(ClusterMixin, BaseEstimator):
    """K-means segments of customers on recency, frequency and monetary value.

    The features are ``log1p`` transformed (monetary below 0 counts as 0), standardised, and
    clustered by k-means for every k in ``k_range`` (inclusive); the k with the best mean
    silhouette wins (the smaller k on a tie). Clusters are numbered from the most valuable
    (highest sum of standardised frequency and monetary minus recency) down, so labels do
    not depend on k-means' arbitrary numbering.

    ``X`` is an RFM table (its columns ``columns`` are used) or an array of those columns
    in that order.

    Attributes (after ``fit``): ``k_``, ``silhouette_scores_`` (k -> score), ``labels_``,
    ``cluster_centers_`` (a DataFrame in original units: days, orders, money; one row per
    cluster), ``scaler_``, ``kmeans_``, ``n_features_in_``, ``feature_names_in_`` (a frame).
    """

    def __init__(
        self,
        k_range: tuple[int, int] = (2, 8),
        random_state: int | None = 0,
        n_init: int = 10,
        silhouette_sample: int = 5000,
        columns: tuple[str, ...] = FEATURES,
    ):
        self.k_range = k_range
        self.random_state = random_state
        self.n_init = n_init
        self.silhouette_sample = silhouette_sample
        self.columns = columns

    @classmethod
    def from_settings(cls, settings: SegmentSettings | None = None) -> ClusterSegmenter:
        s = settings or SegmentSettings()
        return cls(k_range=tuple(s.k_range), random_state=s.random_state, n_init=s.n_init, silhouette_sample=s.silhouette_sample)

    # -- helpers

    def _matrix(self, X, reset: bool) -> np.ndarray:
        cols = list(self.columns)
        if isinstance(X, pd.DataFrame):
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise ValueError(f"X lacks column(s) {', '.join(missing)}; ClusterSegmenter uses {', '.join(cols)}")
            if reset:
                self.feature_names_in_ = np.asarray(cols, dtype=object)
            X = X[cols]
        arr = check_array(X, dtype=float)
        if reset:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {arr.shape[1]} features, but ClusterSegmenter was fitted with {self.n_features_in_}")
        return arr

    def _log(self, arr: np.ndarray) -> np.ndarray:
        return np.log1p(np.clip(arr, 0, None))

    # -- estimator API

    def fit(self, X, y=None) -> ClusterSegmenter:
        lo, hi = (int(v) for v in self.k_range)
        if lo < 2 or hi < lo:
            raise ValueError(f"k_range must be (low, high) with 2 <= low <= high, got {self.k_range!r}")
        arr = self._matrix(X, reset=True)
        logged = self._log(arr)
        scaler = StandardScaler().fit(logged)
        Z = scaler.transform(logged)
        n = len(Z)
        distinct = len(np.unique(np.round(Z, 12), axis=0))
        top = min(hi, distinct, n - 1)
        if top < lo:
            raise ValueError(
                f"cannot cluster {n} customers with {distinct} distinct (R, F, M) profiles into {lo}..{hi} clusters: "
                f"a silhouette needs at least {lo} distinct profiles and {lo + 1} customers"
            )
        sample = self.silhouette_sample if self.silhouette_sample and self.silhouette_sample < n else None
        scores: dict[int, float] = {}
        fits: dict[int, KMeans] = {}
        # one thread: on a busy 2-core machine k-means' OpenMP threads spin and waiting made a
        # 0.2 s fit of 545 customers take 20 s; customers x 3 features is small work anyway
        with threadpool_limits(limits=1):
            for k in range(lo, top + 1):
                km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state).fit(Z)
                if len(np.unique(km.labels_)) < 2:
                    continue
                scores[k] = float(silhouette_score(Z, km.labels_, sample_size=sample, random_state=self.random_state))
                fits[k] = km
        if not scores:
            raise ValueError("k-means found a single cluster for every k: the customers are too alike to cluster")
        best = max(scores, key=lambda k: (scores[k], -k))
        km = fits[best]
        centers_z = km.cluster_centers_
        value = centers_z.sum(axis=1)
        if "recency_days" in self.columns:  # recent is valuable: count recency against
            i = list(self.columns).index("recency_days")
            value = value - 2 * centers_z[:, i]
        order = np.argsort(-value, kind="stable")  # order[new] = old
        relabel = np.empty_like(order)
        relabel[order] = np.arange(len(order))  # relabel[old] = new
        self.scaler_ = scaler
        self.kmeans_ = km
        self.k_ = best
        self.silhouette_scores_ = scores
        self.relabel_ = relabel
        self.labels_ = relabel[km.labels_]
        centers = np.expm1(scaler.inverse_transform(centers_z[order]))
        self.cluster_centers_ = pd.DataFrame(centers, columns=list(self.columns), index=pd.RangeIndex(best, name="cluster"))
        return self

    def transform(self, X) -> np.ndarray:
        """The standardised log features the clusters live in."""
        check_is_fitted(self)
        return self.scaler_.transform(self._log(self._matrix(X, reset=False)))

    def predict(self, X) -> np.ndarray:
        """The cluster (0 = most valuable) of each customer."""
        check_is_fitted(self)
        Z = self.transform(X)
        with threadpool_limits(limits=1):
            return self.relabel_[self.kmeans_.predict(Z)]

    def fit_predict(self, X, y=None) -> np.ndarray:
        return self.fit(X).labels_


def _word(mean_score: float, words: tuple[str, str, str], settings: SegmentSettings) -> str:
    if mean_score >= settings.label_high:
        return words[0]
    if mean_score <= settings.label_low:
        return words[2]
    return words[1]


def cluster_label(r: float, f: float, m: float, settings: SegmentSettings | None = None) -> str:
    """Plain words for mean R, F and M scores, e.g. ``recent, frequent, high spend``."""
    s = settings or SegmentSettings()
    return ", ".join(
        [
            _word(r, ("recent", "lapsing", "lapsed"), s),
            _word(f, ("frequent", "occasional", "infrequent"), s),
            _word(m, ("high spend", "mid spend", "low spend"), s),
        ]
    )


def cluster_profiles(table: pd.DataFrame, labels, settings: SegmentSettings | None = None) -> pd.DataFrame:
    """One row per cluster: ``cluster, label, customers, share_pct, revenue, revenue_share_pct``,
    mean and median ``recency_days`` / ``frequency`` / ``monetary``, mean ``r_score`` /
    ``f_score`` / ``m_score``. ``labels`` are the clusters of the table's rows (e.g.
    ``ClusterSegmenter().fit(table).labels_``)."""
    settings = settings or SegmentSettings()
    labels = np.asarray(labels)
    if len(labels) != len(table):
        raise ValueError(f"{len(labels)} labels for {len(table)} customers")
    t = table.assign(cluster=labels)
    df = _profile(t, "cluster", sorted(np.unique(labels).tolist()))
    g = t.groupby("cluster")
    for c in ("r_score", "f_score", "m_score"):
        df[f"{c}_mean"] = g[c].mean().reindex(df["cluster"]).to_numpy()
    df.insert(
        1,
        "label",
        [cluster_label(r, f, m, settings) for r, f, m in df[["r_score_mean", "f_score_mean", "m_score_mean"]].itertuples(index=False)],
    )
    return df


# --------------------------------------------------------------------------- migration


def migration_matrix(before: pd.DataFrame, after: pd.DataFrame, segments: Sequence[str] = ()) -> pd.DataFrame:
    """Customers by segment at the first date (rows, ``from``) and the second (columns, ``to``).

    ``before`` and ``after`` are RFM tables (``customer_id``, ``segment``). Customers only in
    ``after`` come from the row ``(new)``; a column ``(gone)`` (customers only in ``before``)
    is there only when there are such customers. Rows and columns list ``segments`` (e.g.
    ``settings.segment_names()``) first, empty ones included. The cells add up to the
    customers of either table."""
    b = before.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    a = after.drop_duplicates("customer_id").set_index("customer_id")["segment"]
    ids = b.index.union(a.index)
    frm = b.reindex(ids).astype(object).where(lambda s: s.notna(), NEW)
    to = a.reindex(ids).astype(object).where(lambda s: s.notna(), GONE)
    counts = pd.crosstab(frm, to) if len(ids) else pd.DataFrame()
    rows = _ordered(sorted(set(frm) - {NEW}, key=str), segments) + [NEW]
    cols = _ordered(sorted(set(to) - {GONE}, key=str), segments) + ([GONE] if (to == GONE).any() else [])
    m = counts.reindex(index=rows, columns=cols).fillna(0).astype("int64")
    m.index.name, m.columns.name = "from", "to"
    return m


def migration(
    con: duckdb.DuckDBPyConnection,
    first: str | date,
    second: str | date,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The migration matrix of the scope's customers between two as-of dates."""
    settings = settings or Settings()
    return migration_matrix(
        rfm(con, first, scope, settings), rfm(con, second, scope, settings), settings.segments.segment_names()
    )
