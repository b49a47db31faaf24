"""The global model: one LightGBM regressor fitted across every series of a panel (through
mlforecast), as a candidate of the automatic choice next to the per-series models.

A per-series model fits one history at a time; a global model learns from all the series of a
level at once (lags, a rolling mean, calendar features; each series standardised by its own
mean and spread, so a large region and a small one teach the same shapes). To take part in
the per-series machinery — selection backtests, honest backtests, pooled choices, worker
processes — its forecasts are computed for the whole panel first, at every cut-off the
backtests will ask for, and served by :class:`Precomputed`, a model that looks them up by
series, last date and horizon. A cut-off it has no forecast for is a failure of the model on
that series, reported as any other.

Intervals: normal, from the spread of each series' in-sample one-step errors of the global
fit, widening with the square root of the steps ahead; ``[forecast] calibrate_intervals``
then scales them on the series' own backtest like any candidate's. Forecasts are clipped at 0.
Promotions are not features of the global model yet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from salesml.forecast.models import GlobalLGBM, SeriesError, finish, future_dates, z_value
from salesml.forecast.panels import step_offset

#: lags and the calendar features of the global model, per frequency
LAGS = {"D": (1, 2, 3, 7, 14, 28), "W": (1, 2, 3, 4, 8, 13), "M": (1, 2, 3, 6, 12)}
DATE_FEATURES = {"D": ("dayofweek", "month"), "W": ("week", "month"), "M": ("month",)}
#: the rolling mean (over this many steps) of the previous step's value
ROLLING = {"D": 7, "W": 4, "M": 3}


@dataclass(frozen=True)
class Precomputed:
    """A global model's forecasts, served one series at a time: ``table`` maps (series, last
    date of the history, horizon) to the steps' (yhat, sd). ``for_series`` binds a series."""

    name: str
    table: dict = field(repr=False, compare=False)
    unique_id: object = None

    def for_series(self, unique_id) -> Precomputed:
        return dataclasses.replace(self, unique_id=unique_id)

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        key = (self.unique_id, pd.Timestamp(history["ds"].iloc[-1]), int(horizon))
        if key not in self.table:
            raise SeriesError(f"{self.name}: no global forecast for this series from {key[1]:%Y-%m-%d} ({horizon} steps)")
        yhat, sd = self.table[key]
        half = z_value(level) * sd
        return finish(future_dates(history, horizon, freq), yhat, yhat - half, yhat + half)


def is_global(model) -> bool:
    return isinstance(model, GlobalLGBM)


def cutoffs(horizon: int, windows: int, extra: Iterable[tuple[int, int]] = ()) -> set[tuple[int, int]]:
    """The (steps back from a series' end, horizon) pairs a backtest of ``windows`` windows of
    ``horizon`` steps asks for, nested ones included (a choice made before each window has its
    own selection backtest), plus the forecast from the whole history."""
    return {(k * horizon, horizon) for k in range(windows + 1)} | set(extra)


def global_forecasts(model: GlobalLGBM, panel: pd.DataFrame, freq: str, wanted: Iterable[tuple[int, int]], threads: int = 1) -> dict:
    """The table of :class:`Precomputed`: for each (back, horizon) in ``wanted``, the model
    fitted on every series of ``panel`` (``unique_id, ds, y``: complete, on one step grid)
    without its last ``back`` steps, and its forecast of ``horizon`` steps of each series. A
    cut-off where the fit is impossible (too little history) is left out. Pure."""
    from lightgbm import LGBMRegressor
    from mlforecast import MLForecast
    from mlforecast.lag_transforms import RollingMean
    from mlforecast.target_transforms import LocalStandardScaler

    panel = panel.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    panel = panel.assign(ds=pd.to_datetime(panel["ds"]), y=np.clip(panel["y"].to_numpy(dtype="float64"), 0, None))
    position_from_end = panel.groupby("unique_id", sort=False).cumcount(ascending=False).to_numpy()
    offset = step_offset(freq, panel["ds"].max())
    table: dict = {}
    for back in sorted({b for b, _ in wanted}):
        train = panel[position_from_end >= back]
        sizes = train.groupby("unique_id", sort=False)["y"].size()
        train = train[train["unique_id"].isin(sizes.index[sizes > max(LAGS[freq]) + 2])]
        if train.empty:
            continue
        fc = MLForecast(
            models={model.name: LGBMRegressor(n_estimators=model.n_estimators, learning_rate=model.learning_rate,
                                              num_leaves=model.num_leaves, min_child_samples=model.min_child_samples,
                                              random_state=model.random_state, n_jobs=threads, verbosity=-1)},
            freq=offset,
            lags=list(LAGS[freq]),
            lag_transforms={1: [RollingMean(window_size=ROLLING[freq])]},
            date_features=list(DATE_FEATURES[freq]),
            target_transforms=[LocalStandardScaler()],
        )
        try:
            fc.fit(train, fitted=True, static_features=[])
            fitted = fc.forecast_fitted_values()
        except Exception:  # a cut-off the model cannot be fitted at is left out (its series say so)
            continue
        resid = (fitted["y"] - fitted[model.name].clip(lower=0)).groupby(fitted["unique_id"]).std()
        last = train.groupby("unique_id", sort=False)["ds"].last()
        for h in sorted({h for b, h in wanted if b == back}):
            pred = fc.predict(h)
            for uid, g in pred.groupby("unique_id", sort=False):
                yhat = np.clip(g[model.name].to_numpy(dtype="float64"), 0, None)
                if len(yhat) != h or not np.isfinite(yhat).all():
                    continue
                sd = float(resid.get(uid, np.nan))
                sd = sd if np.isfinite(sd) else 0.0
                table[(uid, pd.Timestamp(last[uid]), int(h))] = (yhat, sd * np.sqrt(np.arange(1, h + 1)))
    return table


def serve_global(candidates: Sequence, panel: pd.DataFrame, freq: str, wanted: Iterable[tuple[int, int]], threads: int = 1) -> list:
    """``candidates`` with each global model replaced by its :class:`Precomputed` forecasts
    of ``panel`` at the ``wanted`` cut-offs (the others unchanged)."""
    wanted = set(wanted)
    return [Precomputed(m.name, global_forecasts(m, panel, freq, wanted, threads)) if is_global(m) else m
            for m in candidates]
