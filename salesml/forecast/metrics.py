"""Forecast accuracy metrics as plain functions of arrays.

* MASE: mean absolute error / mean absolute error of the seasonal naive forecast on the
  training data (in-sample, season m); < 1 beats seasonal naive.
* sMAPE: mean of 2|y - ŷ| / (|y| + |ŷ|), in percent (0 where both are 0).
* WAPE: Σ|y - ŷ| / Σ|y|, in percent.
* bias: Σ(ŷ - y) / Σ|y|, in percent (positive = over-forecast).
* coverage: share of actuals inside the [lo, hi] interval, in percent.
"""

from __future__ import annotations

import numpy as np


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype="float64")


def mase_scale(train, season: int) -> float:
    """Mean absolute error of the seasonal naive forecast in the training data (NaN if
    the training data is shorter than one season plus one)."""
    y = _arr(train)
    m = max(int(season), 1)
    if len(y) <= m:
        m = 1
    if len(y) <= m:
        return float("nan")
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mase(y, yhat, train, season: int, scale: float | None = None) -> float:
    """``scale``: ``mase_scale(train, season)`` when already known (the same for every model
    scored on one training window)."""
    scale = mase_scale(train, season) if scale is None else scale
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return float(np.mean(np.abs(_arr(y) - _arr(yhat))) / scale)


def smape(y, yhat) -> float:
    y, yhat = _arr(y), _arr(yhat)
    den = np.abs(y) + np.abs(yhat)
    terms = np.where(den == 0, 0.0, 2 * np.abs(y - yhat) / np.where(den == 0, 1, den))
    return float(np.mean(terms) * 100)


def wape(y, yhat) -> float:
    y, yhat = _arr(y), _arr(yhat)
    total = np.sum(np.abs(y))
    return float(np.sum(np.abs(y - yhat)) / total * 100) if total else float("nan")


def bias(y, yhat) -> float:
    y, yhat = _arr(y), _arr(yhat)
    total = np.sum(np.abs(y))
    return float(np.sum(yhat - y) / total * 100) if total else float("nan")


def coverage(y, lo, hi) -> float:
    y, lo, hi = _arr(y), _arr(lo), _arr(hi)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return float("nan")
    return float(np.mean((y[ok] >= lo[ok]) & (y[ok] <= hi[ok])) * 100)
