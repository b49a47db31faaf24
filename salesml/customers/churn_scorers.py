"""Churn scorers: the simple baselines the model must beat, as estimators over the churn
features, and the choice of the scorer a saved version uses.

Every scorer takes the feature frame of :mod:`salesml.customers.churn_features` and gives
``predict_proba`` (column 1 = the chance of no purchase in the horizon), so the model and
the baselines are trained, measured, saved and used to score alike:

* :class:`RecencyBaseline` — the longer since the last purchase, the higher the risk (an
  isotonic fit of the label on ``recency_days``);
* :class:`BGNBDBaseline` — BG/NBD's probability of no purchase in the horizon, fitted at each
  cutoff on every customer's purchases (the ``bgnbd`` feature group);
* :class:`LogRFMBaseline` — a logistic regression on log(1 + recency, frequency, monetary,
  tenure): on real data the strongest of the simple ones.

:func:`choose_scorer` keeps the model only when it beats the best baseline on the holdout by
more than the noise: the lower end of a paired bootstrap interval of its ROC-AUC gain
(:func:`auc_gain`) must be above ``[churn] min_auc_gain``; otherwise the version scores with
that baseline, and says why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

#: the columns of the log-RFM baseline: recency, frequency, monetary (net, at least 0), tenure
LOG_RFM_COLUMNS = ("recency_days", "orders_lookback", "revenue_lookback", "tenure_days")
#: the scorers, by the name manifests and reports use
NAMES = {
    "model": "model (gradient boosting)",
    "recency": "baseline: recency",
    "bgnbd": "baseline: BG/NBD P(no purchase)",
    "logistic": "baseline: logistic regression on log RFM + tenure",
}
BASELINES = ("recency", "bgnbd", "logistic")


def _two_columns(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    return np.c_[1 - p, p]


class RecencyBaseline(ClassifierMixin, BaseEstimator):
    """Risk rises with the days since the last purchase: the score is ``recency_days``, the
    probability an isotonic fit of the training labels on it."""

    def fit(self, X: pd.DataFrame, y) -> RecencyBaseline:
        self.isotonic_ = IsotonicRegression(increasing=True, out_of_bounds="clip", y_min=0.0, y_max=1.0)
        self.isotonic_.fit(X["recency_days"].to_numpy(dtype=float), np.asarray(y, dtype=float))
        self.classes_ = np.array([0, 1])
        return self

    def score_of(self, X: pd.DataFrame) -> np.ndarray:
        """The ranking score (days since the last purchase)."""
        return X["recency_days"].to_numpy(dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "isotonic_")
        return _two_columns(self.isotonic_.predict(self.score_of(X)))


class BGNBDBaseline(ClassifierMixin, BaseEstimator):
    """BG/NBD's probability of no purchase in the horizon (the ``bgnbd_p_no_purchase``
    feature, fitted at each cutoff): nothing to learn from the labels. ``fill``: the
    probability of a customer BG/NBD has no figure for."""

    def __init__(self, column: str = "bgnbd_p_no_purchase", fill: float = 0.5):
        self.column = column
        self.fill = fill

    def fit(self, X: pd.DataFrame, y) -> BGNBDBaseline:
        if self.column not in X.columns:
            raise ValueError(f"no {self.column} column: the bgnbd feature group was skipped")
        self.classes_ = np.array([0, 1])
        self.fitted_ = True
        return self

    def score_of(self, X: pd.DataFrame) -> np.ndarray:
        return X[self.column].to_numpy(dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "fitted_")
        p = self.score_of(X)
        return _two_columns(np.where(np.isnan(p), self.fill, p))


def log_rfm(X: pd.DataFrame) -> np.ndarray:
    """log(1 + recency, frequency, monetary, tenure) of each customer (missing and negative = 0)."""
    Z = X[list(LOG_RFM_COLUMNS)].astype(float).fillna(0.0).clip(lower=0.0)
    return np.log1p(Z.to_numpy())


class LogRFMBaseline(ClassifierMixin, BaseEstimator):
    """A logistic regression on log(1 + recency, frequency, monetary, tenure), standardised."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: pd.DataFrame, y) -> LogRFMBaseline:
        Z = log_rfm(X)
        self.scaler_ = StandardScaler().fit(Z)
        self.logit_ = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(self.scaler_.transform(Z), np.asarray(y, dtype=int))
        self.classes_ = self.logit_.classes_
        return self

    def score_of(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(X)[:, 1]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "logit_")
        return self.logit_.predict_proba(self.scaler_.transform(log_rfm(X)))


def make_baseline(name: str) -> BaseEstimator:
    """A new (unfitted) baseline by name."""
    return {"recency": RecencyBaseline, "bgnbd": BGNBDBaseline, "logistic": LogRFMBaseline}[name]()


def auc_gain(y, score_a, score_b, n_boot: int = 200, random_state: int = 0, level: float = 0.90) -> dict:
    """ROC-AUC of ``score_a`` minus that of ``score_b`` on the same examples, with a paired
    bootstrap interval (``level``; resamples with one class only are skipped): ``gain, low,
    high, resamples``. Pure."""
    y = np.asarray(y, dtype=int)
    a, b = np.asarray(score_a, dtype=float), np.asarray(score_b, dtype=float)
    gain = float(roc_auc_score(y, a) - roc_auc_score(y, b))
    rng = np.random.default_rng(random_state)
    gains = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if y[i].min() == y[i].max():
            continue
        gains.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    if not gains:
        return {"gain": gain, "low": None, "high": None, "resamples": 0}
    tail = (1 - level) / 2
    low, high = np.quantile(gains, [tail, 1 - tail])
    return {"gain": gain, "low": float(low), "high": float(high), "resamples": len(gains)}


def best_baseline(metrics: dict[str, dict]) -> str | None:
    """The baseline with the highest holdout ROC-AUC (ties: the simpler, in ``BASELINES`` order)."""
    scored = [(m.get("roc_auc"), -i, n) for i, n in enumerate(BASELINES) if (m := metrics.get(n)) and m.get("roc_auc") is not None]
    return max(scored)[2] if scored else None


def choose_scorer(model_auc: float | None, baseline: str | None, baseline_auc: float | None, gain: dict | None,
                  min_gain: float) -> tuple[str, str]:
    """(scorer, why): the model when the lower end of its ROC-AUC gain over the best baseline
    is above ``min_gain``; else that baseline. Pure."""
    if baseline is None or gain is None or gain.get("low") is None:
        return "model", "no baseline could be measured on the holdout: the model scores"
    words = (f"ROC-AUC {model_auc:.3f} vs {NAMES[baseline]} {baseline_auc:.3f} "
             f"(gain {gain['gain']:+.3f}, 90% interval {gain['low']:+.3f} to {gain['high']:+.3f})")
    if gain["low"] > min_gain:
        return "model", f"the model beats the best baseline beyond the noise: {words}"
    return baseline, (f"the model does not beat the best baseline beyond the noise ({words}; [churn] min_auc_gain = "
                      f"{min_gain:g}): this version scores with {NAMES[baseline]}")
