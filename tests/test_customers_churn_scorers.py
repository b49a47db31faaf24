"""The churn baselines as estimators, the bootstrap of the ROC-AUC gain, and the choice of
the scorer a saved version uses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.customers import churn_scorers as scorers


def customers(n=400, seed=0):
    """Customers whose churn rises with recency and falls with orders (known by construction)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "recency_days": rng.integers(0, 365, n).astype(float),
        "orders_lookback": rng.integers(1, 20, n).astype(float),
        "revenue_lookback": rng.gamma(2.0, 500.0, n) * np.where(rng.random(n) < 0.05, -1, 1),  # a few net negative
        "tenure_days": rng.integers(30, 1500, n).astype(float),
        "bgnbd_p_no_purchase": rng.random(n),
    })
    logit = 0.012 * X["recency_days"] - 0.25 * X["orders_lookback"] - 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, pd.Series(y)


def test_the_log_rfm_baseline_learns_the_directions_of_recency_and_frequency():
    X, y = customers()
    b = scorers.LogRFMBaseline().fit(X, y)
    probe = pd.DataFrame({"recency_days": [10.0, 300.0, 10.0], "orders_lookback": [5.0, 5.0, 15.0],
                          "revenue_lookback": [1000.0] * 3, "tenure_days": [400.0] * 3})
    p = b.predict_proba(probe)[:, 1]
    assert p[1] > p[0] > p[2]  # longer silence: riskier; more orders: safer
    # log(1 + x) of recency, frequency, monetary (negative = 0) and tenure
    assert scorers.log_rfm(pd.DataFrame({"recency_days": [0.0], "orders_lookback": [np.e - 1], "revenue_lookback": [-5.0],
                                         "tenure_days": [np.nan]})).tolist() == [[0.0, 1.0, 0.0, 0.0]]


def test_recency_and_bgnbd_baselines_score_from_their_columns():
    X, y = customers()
    rec = scorers.RecencyBaseline().fit(X, y)
    order = np.argsort(X["recency_days"].to_numpy(), kind="stable")
    assert np.all(np.diff(rec.predict_proba(X)[order, 1]) >= 0)  # isotonic in recency
    bg = scorers.BGNBDBaseline().fit(X, y)
    got = bg.predict_proba(X.assign(bgnbd_p_no_purchase=[np.nan, *X["bgnbd_p_no_purchase"].iloc[1:]]))[:, 1]
    assert got[0] == 0.5 and got[1:] == pytest.approx(X["bgnbd_p_no_purchase"].iloc[1:].to_numpy())
    with pytest.raises(ValueError, match="bgnbd feature group was skipped"):
        scorers.BGNBDBaseline().fit(X.drop(columns="bgnbd_p_no_purchase"), y)


def test_the_auc_gain_and_its_bootstrap_interval():
    X, y = customers(n=600)
    good = 0.012 * X["recency_days"] - 0.25 * X["orders_lookback"]
    noise = np.random.default_rng(1).random(len(y))
    g = scorers.auc_gain(y, good, noise, n_boot=100, random_state=0)
    assert g["gain"] > 0.2 and 0 < g["low"] < g["gain"] < g["high"] and g["resamples"] == 100
    same = scorers.auc_gain(y, good, good, n_boot=50)
    assert same["gain"] == 0 and same["low"] == same["high"] == 0
    assert scorers.auc_gain(y, good, noise, n_boot=100, random_state=0) == g  # seeded: the same interval


def test_the_model_scores_only_when_it_beats_the_best_baseline_beyond_the_noise():
    metrics = {"recency": {"roc_auc": 0.80}, "bgnbd": {"roc_auc": 0.85}, "logistic": {"roc_auc": 0.85}}
    assert scorers.best_baseline(metrics) == "bgnbd"  # a tie goes to the first listed
    assert scorers.best_baseline({"recency": {"roc_auc": None}}) is None
    clear = {"gain": 0.03, "low": 0.01, "high": 0.05, "resamples": 200}
    name, why = scorers.choose_scorer(0.88, "bgnbd", 0.85, clear, 0.0)
    assert name == "model" and "gain +0.030, 90% interval +0.010 to +0.050" in why
    noisy = {"gain": 0.004, "low": -0.002, "high": 0.01, "resamples": 200}
    name, why = scorers.choose_scorer(0.854, "bgnbd", 0.85, noisy, 0.0)
    assert name == "bgnbd" and "does not beat the best baseline beyond the noise" in why and "scores with baseline: BG/NBD" in why
    assert scorers.choose_scorer(0.88, "bgnbd", 0.85, clear, 0.02)[0] == "bgnbd"  # a stricter margin
    assert scorers.choose_scorer(0.88, None, None, None, 0.0)[0] == "model"
