"""Forecast models behind one interface, per series and pure.

A model is an object with a ``name`` and ``forecast(history, horizon, freq, level)``:
``history`` is one series' ``ds, y`` (complete: no gaps, no duplicate dates), the result is
``ds, yhat, lo, hi`` for the next ``horizon`` steps, with a ``level`` % interval. A model
object holds settings only: every call fits afresh (Prophet objects cannot be refit), so a
forecast is a pure function of the history and can run in any process.

Sales are never negative: forecasts and interval bounds are clipped at 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from salesml.errors import SalesmlError
from salesml.forecast.panels import PANDAS_FREQ

#: the season seasonal naive repeats, per frequency
SEASON = {"D": 7, "W": 52, "M": 12}


class SeriesError(SalesmlError, ValueError):
    """One series cannot be forecast by a model (too short, constant...): the message says why."""


def future_dates(history: pd.DataFrame, horizon: int, freq: str) -> pd.DatetimeIndex:
    last = pd.Timestamp(history["ds"].iloc[-1])
    return pd.date_range(last, periods=horizon + 1, freq=PANDAS_FREQ[freq])[1:]


def z_value(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 200)


def finish(ds, yhat, lo, hi) -> pd.DataFrame:
    """The common output: non-negative forecasts and bounds, lo <= yhat <= hi."""
    yhat = np.clip(np.asarray(yhat, dtype="float64"), 0, None)
    lo = np.clip(np.minimum(np.asarray(lo, dtype="float64"), yhat), 0, None)
    hi = np.maximum(np.asarray(hi, dtype="float64"), yhat)
    return pd.DataFrame({"ds": pd.DatetimeIndex(ds), "yhat": yhat, "lo": lo, "hi": hi})


@dataclass(frozen=True)
class SeasonalNaive:
    """Each step repeats the same step one season earlier; intervals from the spread of the
    seasonal differences in the history (normal, widening with the number of seasons ahead)."""

    season: int | None = None
    name: str = "seasonal_naive"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        y = history["y"].to_numpy(dtype="float64")
        m = self.season or SEASON[freq]
        if len(y) < m:
            m = 1
        if len(y) < max(m, 2):
            raise SeriesError(f"seasonal naive needs at least {max(m, 2)} observations, got {len(y)}")
        steps = np.arange(1, horizon + 1)
        last_season = y[-m:]
        yhat = last_season[(steps - 1) % m]
        resid = y[m:] - y[:-m]
        sigma = float(np.std(resid, ddof=1)) if len(resid) > 1 else 0.0
        k = np.ceil(steps / m)
        half = z_value(level) * sigma * np.sqrt(k)
        return finish(future_dates(history, horizon, freq), yhat, yhat - half, yhat + half)


@dataclass(frozen=True)
class Naive:
    """The last value, repeated (the baseline of last resort, for very short series)."""

    name: str = "naive"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        y = history["y"].to_numpy(dtype="float64")
        if len(y) < 1:
            raise SeriesError("naive needs at least 1 observation")
        sigma = float(np.std(np.diff(y), ddof=1)) if len(y) > 2 else 0.0
        half = z_value(level) * sigma * np.sqrt(np.arange(1, horizon + 1))
        yhat = np.repeat(y[-1], horizon)
        return finish(future_dates(history, horizon, freq), yhat, yhat - half, yhat + half)



#: shopping festivals (month, first day, peak day): 618 and Double 11
FESTIVALS = {"618": (6, 1, 18), "double_11": (11, 1, 11)}


def festival_frame(years: range) -> pd.DataFrame:
    """Prophet holidays for 618 and Double 11: the ramp-up days before the peak day."""
    rows = []
    for name, (month, first, peak) in FESTIVALS.items():
        for y in years:
            rows.append({"holiday": name, "ds": pd.Timestamp(y, month, peak), "lower_window": first - peak, "upper_window": 1})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ProphetModel:
    """Prophet with the country's holidays and the shopping festivals (daily data), a fresh
    model per call, and few uncertainty samples on the future rows only (that is most of
    Prophet's cost otherwise)."""

    country: str = "CN"
    festivals: bool = True
    uncertainty_samples: int = 200
    seasonality_mode: str = "multiplicative"
    name: str = "prophet"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        import logging

        for noisy in ("cmdstanpy", "prophet"):
            logging.getLogger(noisy).disabled = True
        from prophet import Prophet

        y = history["y"].to_numpy(dtype="float64")
        min_len = {"D": 28, "W": 12, "M": 12}[freq]
        if len(y) < min_len:
            raise SeriesError(f"prophet needs at least {min_len} observations at frequency {freq}, got {len(y)}")
        if np.nanstd(y) == 0:
            raise SeriesError("a constant series: prophet gives zero-width intervals")
        daily = freq == "D"
        years = range(history["ds"].min().year, history["ds"].max().year + 2)
        mode = self.seasonality_mode if (y > 0).all() else "additive"
        m = Prophet(
            interval_width=level / 100,
            uncertainty_samples=self.uncertainty_samples,
            seasonality_mode=mode,
            weekly_seasonality=daily,
            daily_seasonality=False,
            yearly_seasonality=len(y) >= {"D": 365, "W": 52, "M": 24}[freq],
            holidays=festival_frame(years) if (self.festivals and daily) else None,
        )
        if self.country and daily:
            m.add_country_holidays(country_name=self.country)
        m.fit(history[["ds", "y"]])
        future = pd.DataFrame({"ds": future_dates(history, horizon, freq)})
        fc = m.predict(future)
        return finish(future["ds"], fc["yhat"], fc["yhat_lower"], fc["yhat_upper"])
