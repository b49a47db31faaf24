"""Accuracy metrics by hand."""

from __future__ import annotations

import math

from salesml.forecast import metrics as M


def test_metrics_by_hand():
    y, yhat = [10, 20, 30], [12, 18, 30]
    # |e| = 2, 2, 0; seasonal naive (m = 1) on the training data 1, 3, 6: |diffs| 2, 3 -> scale 2.5
    assert M.mase(y, yhat, [1, 3, 6], season=1) == (4 / 3) / 2.5
    assert M.wape(y, yhat) == 4 / 60 * 100
    assert M.bias(y, yhat) == 0.0
    assert M.smape([0, 10], [0, 30]) == (0 + 2 * 20 / 40) / 2 * 100
    assert M.coverage([1, 5, 9], [0, 6, 8], [2, 7, 10]) == 2 / 3 * 100


def test_edge_cases():
    assert math.isnan(M.mase([1], [1], [5], season=7))  # too short to scale
    assert math.isnan(M.mase([1, 2], [1, 2], [3, 3, 3], season=1))  # a constant history: scale 0
    assert math.isnan(M.wape([0, 0], [1, 1]))
    assert M.mase_scale([1, 2, 3, 4], season=7) == 1.0  # falls back to m = 1 when shorter than a season
