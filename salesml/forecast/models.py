"""Forecast models behind one interface, per series and pure.

A model is an object with a ``name`` and ``forecast(history, horizon, freq, level)``:
``history`` is one series' ``ds, y`` (complete: no gaps, no duplicate dates), the result is
``ds, yhat, lo, hi`` for the next ``horizon`` steps, with a ``level`` % interval. A model
object holds settings only: every call fits afresh (Prophet objects cannot be refit), so a
forecast is a pure function of the history and can run in any process.

Sales are never negative: forecasts and interval bounds are clipped at 0.

Models: ``seasonal_naive`` and ``naive`` (baselines), ``ets`` and ``theta`` (statsforecast's
AutoETS and Dynamic Optimized Theta, with their own intervals), ``croston`` and ``tsb`` (for
intermittent demand; intervals from the in-sample one-step errors, see
``ratio_interval``), ``prophet`` (holidays and shopping festivals), ``lgbm`` (a global LightGBM across the
series of a panel: :mod:`salesml.forecast.global_model`), and ``Ensemble`` (the
average of several). ``make_model`` builds one from its name and the forecast settings.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from salesml.config import ForecastSettings, combination_members
from salesml.errors import SalesmlError
from salesml.forecast.panels import step_offset

#: the season seasonal naive repeats, per frequency
SEASON = {"D": 7, "W": 52, "M": 12}


class SeriesError(SalesmlError, ValueError):
    """One series cannot be forecast by a model (too short, constant...): the message says why."""


class ModelError(SalesmlError, ValueError):
    """A model asked for does not exist or is set up wrongly."""


def future_dates(history: pd.DataFrame, horizon: int, freq: str) -> pd.DatetimeIndex:
    """The ``horizon`` steps after the history's last date, on its anchor (weeks ending on its
    weekday, months on its day: ``panels.step_offset``)."""
    last = pd.Timestamp(history["ds"].iloc[-1])
    if freq == "D":  # plain arithmetic: date_range costs ~0.7 ms, a fifth of a cheap model's fit
        return pd.DatetimeIndex(np.datetime64(last, "ns") + np.arange(1, horizon + 1) * np.timedelta64(1, "D"))
    if freq == "W":  # any weekday: seven days on
        return pd.DatetimeIndex(np.datetime64(last, "ns") + np.arange(1, horizon + 1) * np.timedelta64(7, "D"))
    return pd.date_range(last, periods=horizon + 1, freq=step_offset(freq, last))[1:]


def z_value(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 200)


def finish(ds, yhat, lo, hi) -> pd.DataFrame:
    """The common output: non-negative forecasts and bounds, lo <= yhat <= hi. Built from
    plain arrays (a forecast is made thousands of times in a backtest)."""
    yhat = np.clip(np.asarray(yhat, dtype="float64"), 0, None)
    lo = np.clip(np.minimum(np.asarray(lo, dtype="float64"), yhat), 0, None)
    hi = np.maximum(np.asarray(hi, dtype="float64"), yhat)
    return pd.DataFrame({"ds": np.array(ds, dtype="datetime64[ns]"), "yhat": yhat, "lo": lo, "hi": hi}, copy=False)


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


#: models made for intermittent demand (many zero steps): candidates only for such series
INTERMITTENT_MODELS = ("croston", "tsb")


def seasonal_period(n_obs: int, freq: str, season: int | None = None, min_seasons: int = 2) -> int:
    """The season a seasonal model fits: ``season`` (default ``SEASON[freq]``) when the history
    holds at least ``min_seasons`` full seasons, else 1 (non-seasonal): a seasonal pattern
    estimated from less than two seasons is mostly noise."""
    m = season or SEASON[freq]
    return m if n_obs >= min_seasons * m else 1


def _values(history: pd.DataFrame) -> np.ndarray:
    return history["y"].to_numpy(dtype="float64")


def _run_statsforecast(model, y: np.ndarray, horizon: int, level: float | None, name: str, fitted: bool = False) -> dict:
    """``model.forecast`` of a statsforecast model, quietly, as float64 arrays; its "tiny
    datasets" refusal and non-finite results become a ``SeriesError`` that says why."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "computing fitted values ... is very expensive"
        try:
            out = model.forecast(y=y, h=horizon, level=None if level is None else [level], fitted=fitted)
        except NotImplementedError as e:  # statsforecast: "tiny datasets"
            raise SeriesError(f"{name}: {len(y)} observations are too few to fit") from e
    out = {k: np.asarray(v, dtype="float64") for k, v in out.items()}
    if not np.isfinite(out["mean"]).all():
        raise SeriesError(f"{name}: the fit gave non-finite forecasts")
    return out


def _bounds(out: dict, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The lower and upper bound of statsforecast's output for the one level asked for."""
    return out[f"lo-{level}"], out[f"hi-{level}"]


def ratio_interval(y, fitted, yhat, level: float) -> tuple[np.ndarray, np.ndarray]:
    """An interval for models without a distribution of their own (Croston, TSB), from the
    in-sample one-step errors taken as ratios ``r_t = y_t / fitted_t`` (``fitted_t`` forecasts
    step t from the steps before it; steps with no positive forecast are left out):
    ``[yhat * q(r, (100 - level) / 200), yhat * q(r, (100 + level) / 200)]``, empirical
    quantiles, the same at every step. When the lower quantile is 0 (demand is zero on more
    than the lower tail's share of steps) the interval is ``[0, yhat * q(r, level / 100)]``:
    the zeros already fill the lower tail, so all of ``level`` is counted from the bottom.

    Why ratios, not differences ``y - fitted``: the spread of intermittent demand is its own
    (a zero or a burst) and scales with the rate, and a difference quantile shifted onto the
    current forecast can put the lower bound just above 0 and leave out every zero day (on
    simulated slow movers that sent the 80% coverage of some series to 0-20%; the ratios
    gave 80-82% on average). In-sample errors of fitted smoothing constants are a little
    optimistic; backtests measure the actual coverage. Fewer than 2 ratios: zero width.
    """
    y, fitted, yhat = (np.asarray(a, dtype="float64") for a in (y, fitted, yhat))
    ok = np.isfinite(fitted) & (fitted > 0)
    ratios = y[ok] / fitted[ok]
    if len(ratios) < 2:
        return yhat.copy(), yhat.copy()
    r_lo = np.quantile(ratios, (100 - level) / 200)
    r_hi = np.quantile(ratios, level / 100 if r_lo <= 0 else (100 + level) / 200)
    return yhat * r_lo, yhat * r_hi


#: the longest season an ETS search ("Z" season) considers; longer ones are searched without a season
ETS_MAX_SEARCH_SEASON = 24


@dataclass(frozen=True)
class ETS:
    """Exponential smoothing state-space models (statsforecast's AutoETS): error, trend and
    season each additive, multiplicative or none (``model``, "Z" = chosen by AICc), a damped
    trend when it helps; intervals from the model's own distribution. ``ets_ana`` is
    ETS(A,N,A): a level and an additive season, no trend, ~30 ms per 2-year daily series; on
    the large demo's product demand it was as accurate as the full search (benchmarks/).

    The season is ``SEASON[freq]`` (weekly for daily data) when the history holds
    ``min_seasons`` seasons, else non-seasonal. Cost: ~0.6 s per 2-year daily series with
    "ZZZ" (most of it the multiplicative-season candidates); "ZZA" halves it.

    A season longer than :data:`ETS_MAX_SEARCH_SEASON` steps (52 weeks) is left out of a
    search ("Z" season), as R's ``forecast::ets`` does: each seasonal form carries one initial
    state per step of the season, so AICc all but never picks one (1 of 411 weekly fits on the
    medium demo: 3 years, 52 states), while fitting them cost ~95% of the search (~200 ms vs
    ~11 ms per weekly series). An explicit season (``ets_ana``) is fitted as asked.
    """

    season: int | None = None
    min_seasons: int = 2
    model: str = "ZZZ"
    name: str = "ets"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        from statsforecast.models import AutoETS

        y = _values(history)
        m = seasonal_period(len(y), freq, self.season, self.min_seasons)
        if self.model[2] == "Z" and m > ETS_MAX_SEARCH_SEASON:
            m = 1  # a long season is not searched (see above)
        spec = self.model if m > 1 or self.model[2] == "Z" else self.model[:2] + "N"  # too short for a season: none
        out = _run_statsforecast(AutoETS(season_length=m, model=spec), y, horizon, level, self.name)
        return finish(future_dates(history, horizon, freq), out["mean"], *_bounds(out, level))


#: statsforecast's theta: no seasonal test below this season, and no multiplicative
#: decomposition with an index this small (dividing by it would blow the series up)
MIN_THETA_SEASON = 4
MIN_SEASONAL_INDEX = 0.01


def theta_season(y: np.ndarray, m: int, prefer: str = "multiplicative") -> tuple[str | None, np.ndarray | None]:
    """The seasonal component theta takes out first, decided as statsforecast's theta decides
    it: only if the autocorrelation at lag ``m`` passes a one-sided 95% test and the history
    holds two seasons; classical decomposition, of the ``prefer`` kind, but additive when
    the history has a value <= 0 or a multiplicative index falls below ``MIN_SEASONAL_INDEX``.
    Returns (``"additive"`` / ``"multiplicative"`` / None, the component at each step)."""
    from statsmodels.tsa.seasonal import seasonal_decompose
    from statsmodels.tsa.stattools import acf

    if m < MIN_THETA_SEASON or len(y) < 2 * m or np.ptp(y) == 0:
        return None, None
    r = acf(y, nlags=m, fft=False)[1:]
    stat = np.sqrt((1 + 2 * np.sum(r[:-1] ** 2)) / len(y))
    if not abs(r[-1]) / stat > z_value(90):  # one-sided 95%: the upper 5% of a normal
        return None, None
    kind = prefer if y.min() > 0 else "additive"
    seasonal = seasonal_decompose(y, model=kind, period=m).seasonal
    if kind == "multiplicative" and (seasonal < MIN_SEASONAL_INDEX).any():
        kind, seasonal = "additive", seasonal_decompose(y, model="additive", period=m).seasonal
    return kind, np.asarray(seasonal, dtype="float64")


@dataclass(frozen=True)
class Theta:
    """The theta method (a linear trend blended with simple exponential smoothing, on
    seasonally adjusted data when a seasonality test says so): statsforecast's Dynamic
    Optimized Theta (``variant="dotm"``, the strongest variant in the M4 competition and
    ~0.1 s per 2-year daily series) or AutoTheta (``"auto"``: picks among four variants,
    ~4x slower). Season as for ``ETS``; ``decomposition`` is the one preferred (see
    ``theta_season``).

    The season is taken out here (``theta_season``, as statsforecast does it) and theta fits
    the adjusted series, then forecast and bounds are re-seasonalised: statsforecast 2.1.1
    derives its intervals from residuals to which it adds the seasonal component back, which
    made additive-season intervals ~17x too wide on a synthetic weekly series.
    """

    season: int | None = None
    min_seasons: int = 2
    variant: str = "dotm"
    decomposition: str = "multiplicative"
    name: str = "theta"

    VARIANTS = ("dotm", "auto")
    DECOMPOSITIONS = ("additive", "multiplicative")

    def __post_init__(self):
        if self.variant not in self.VARIANTS:
            raise ModelError(f"theta variant must be one of {', '.join(self.VARIANTS)}, got {self.variant!r}")
        if self.decomposition not in self.DECOMPOSITIONS:
            raise ModelError(f"theta decomposition must be one of {', '.join(self.DECOMPOSITIONS)}, got {self.decomposition!r}")

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        from statsforecast.models import AutoTheta, DynamicOptimizedTheta

        variants = {"dotm": DynamicOptimizedTheta, "auto": AutoTheta}
        y = _values(history)
        m = seasonal_period(len(y), freq, self.season, self.min_seasons)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' acf on a short series
            kind, seasonal = theta_season(y, m, self.decomposition)
        adjusted = y if kind is None else (y / seasonal if kind == "multiplicative" else y - seasonal)
        out = _run_statsforecast(variants[self.variant](season_length=1), adjusted, horizon, level, self.name)
        mean, (lo, hi) = out["mean"], _bounds(out, level)
        if kind is not None:
            ahead = seasonal[-m:][np.arange(horizon) % m]
            mean, lo, hi = ((a * ahead if kind == "multiplicative" else a + ahead) for a in (mean, lo, hi))
        return finish(future_dates(history, horizon, freq), mean, lo, hi)


@dataclass(frozen=True)
class Croston:
    """Croston's method for intermittent demand: the sizes of the non-zero demands and the
    intervals between them are smoothed separately, the forecast is size / interval (a flat
    rate per step). ``optimized``: statsforecast's CrostonOptimized (smoothing constants fitted
    per series) rather than CrostonClassic (0.1, the default: on the large demo's product
    demand it was as accurate, and ~25x cheaper with the in-sample forecasts the interval
    needs). Intervals: ``ratio_interval``."""

    optimized: bool = False
    name: str = "croston"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        from statsforecast.models import CrostonClassic, CrostonOptimized

        y = _values(history)
        if len(y) < 2:
            raise SeriesError(f"croston needs at least 2 observations, got {len(y)}")
        model = CrostonOptimized() if self.optimized else CrostonClassic()
        out = _run_statsforecast(model, y, horizon, None, self.name, fitted=True)
        lo, hi = ratio_interval(y, out["fitted"], out["mean"], level)
        return finish(future_dates(history, horizon, freq), out["mean"], lo, hi)


@dataclass(frozen=True)
class TSB:
    """Teunter-Syntetos-Babai for intermittent demand: smooths the probability that a step
    has a demand (``alpha_p``, updated every step) and the size of a demand (``alpha_d``,
    updated when one occurs); the forecast is probability x size. Unlike Croston's, it falls
    through a long run of zeros, so a product that stopped selling is forecast towards 0.

    Both constants are chosen per series from the grid ``alphas`` x ``alphas`` by the
    in-sample one-step squared error (squared, not absolute: the median of intermittent
    demand is 0, so absolute error would favour forecasting nothing). Intervals:
    ``ratio_interval``."""

    alphas: tuple[float, ...] = (0.05, 0.1, 0.2, 0.3)
    name: str = "tsb"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        from statsforecast.models import TSB as StatsTSB

        y = _values(history)
        if len(y) < 2:
            raise SeriesError(f"tsb needs at least 2 observations, got {len(y)}")
        best, best_sse = None, np.inf
        for alpha_d in self.alphas:
            for alpha_p in self.alphas:
                out = _run_statsforecast(StatsTSB(alpha_d=alpha_d, alpha_p=alpha_p), y, horizon, None, self.name, fitted=True)
                err = (y - out["fitted"])[np.isfinite(out["fitted"])]
                sse = float(np.sum(err**2))
                if sse < best_sse:
                    best, best_sse = out, sse
        if best is None:
            raise SeriesError("tsb: no smoothing constants to try (empty alphas)")
        lo, hi = ratio_interval(y, best["fitted"], best["mean"], level)
        return finish(future_dates(history, horizon, freq), best["mean"], lo, hi)


def ensemble_name(names) -> str:
    """The name of the average of models: ``ensemble(ets+theta)``."""
    return f"ensemble({'+'.join(names)})"


@dataclass(frozen=True)
class Ensemble:
    """The average of several models' forecasts and of their bounds, step by step (averaging
    the quantiles keeps an interval of about the same nominal level). If a member fails, the
    ensemble fails: an average of the others would be a different model."""

    members: tuple
    name: str = ""

    def __post_init__(self):
        if not self.members:
            raise ModelError("an ensemble needs at least one model")
        if not self.name:
            object.__setattr__(self, "name", ensemble_name(m.name for m in self.members))

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        fcs = [m.forecast(history, horizon, freq, level) for m in self.members]
        mean = {col: np.mean([fc[col].to_numpy() for fc in fcs], axis=0) for col in ("yhat", "lo", "hi")}
        return finish(fcs[0]["ds"], mean["yhat"], mean["lo"], mean["hi"])


#: shopping festivals (month, first day, peak day): 618 and Double 11
FESTIVALS = {"618": (6, 1, 18), "double_11": (11, 1, 11)}


def festival_frame(years: range, freq: str = "D") -> pd.DataFrame:
    """Prophet holidays for 618 and Double 11 at frequency ``freq``. Daily: the ramp-up days
    before the peak day and the day after. Weekly (weeks ending Sunday): the week holding the
    peak day and the weeks of the ramp-up before it (offsets of 7 days, so each week is a
    step of its own). Monthly: the festival's month. Without these, a weekly or monthly
    Prophet only has its smooth yearly season, which smears the festival over the weeks
    around it."""
    rows = []
    for name, (month, first, peak) in FESTIVALS.items():
        for y in years:
            day, start = pd.Timestamp(y, month, peak), pd.Timestamp(y, month, first)
            if freq == "D":
                rows.append({"holiday": name, "ds": day, "lower_window": first - peak, "upper_window": 1})
            elif freq == "W":
                week_end = day + pd.Timedelta(days=6 - day.weekday())
                first_week_end = start + pd.Timedelta(days=6 - start.weekday())
                rows.append({"holiday": name, "ds": week_end, "lower_window": -(week_end - first_week_end).days, "upper_window": 0})
            else:
                rows.append({"holiday": name, "ds": pd.Timestamp(y, month, 1), "lower_window": 0, "upper_window": 0})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ProphetModel:
    """Prophet with the country's holidays and the shopping festivals (daily data), the
    promotions of a calendar as a regressor where one is known, a fresh model per call, and
    few uncertainty samples on the future rows only (that is most of Prophet's cost
    otherwise)."""

    country: str = "CN"
    festivals: bool = True
    uncertainty_samples: int = 200
    seasonality_mode: str = "multiplicative"
    #: seeds numpy's global generator before ``predict`` (Prophet draws its uncertainty
    #: samples from it and offers no other hook), so a forecast does not depend on which
    #: process ran it or what ran before; None leaves the generator alone
    random_state: int | None = None
    #: a promotion calendar (``salesml.forecast.promotions.Promotions``): its depth of
    #: promotion becomes an extra regressor (when it varies over the history), for the history
    #: and the forecast steps; ``category`` is the series' own (``for_series`` sets it)
    promotions: object = None
    category: str | None = None
    name: str = "prophet"

    def for_series(self, unique_id) -> ProphetModel:
        """This model for one series: its category in the promotion calendar."""
        if self.promotions is None:
            return self
        return dataclasses.replace(self, category=self.promotions.category_of(unique_id))

    def _promo(self, ds, freq: str) -> np.ndarray | None:
        return None if self.promotions is None else self.promotions.values(ds, freq, self.category)

    def fit(self, history: pd.DataFrame, freq: str, level: float = 80):
        """A new ``prophet.Prophet`` fitted to ``history`` (``ds, y``), as ``forecast`` fits it;
        ``prophet.serialize.model_to_json`` saves it."""
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
            holidays=festival_frame(years, freq) if self.festivals else None,
        )
        if self.country and daily:
            m.add_country_holidays(country_name=self.country)
        train = history[["ds", "y"]]
        promo = self._promo(train["ds"], freq)
        if promo is not None and np.ptp(promo) > 0:  # a regressor that never moves has nothing to learn
            m.add_regressor("promo")
            train = train.assign(promo=promo)
        return m.fit(train)

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        m = self.fit(history, freq, level)
        future = pd.DataFrame({"ds": future_dates(history, horizon, freq)})
        if "promo" in m.extra_regressors:
            future["promo"] = self._promo(future["ds"], freq)
        if self.random_state is not None:
            np.random.seed(self.random_state)
        fc = m.predict(future)
        return finish(future["ds"], fc["yhat"], fc["yhat_lower"], fc["yhat_upper"])


#: model name (as in ``salesml.config.FORECAST_MODELS``) -> the model built from the settings
@dataclass(frozen=True)
class GlobalLGBM:
    """The settings of the global LightGBM model (``[forecast] models = [..., "lgbm"]``).
    Forecasting one series alone is refused: the model is fitted on a panel
    (:func:`salesml.forecast.global_model.global_forecasts`) and served by
    :class:`salesml.forecast.global_model.Precomputed`."""

    n_estimators: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 10
    random_state: int = 0
    name: str = "lgbm"

    def forecast(self, history: pd.DataFrame, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
        raise SeriesError(f"{self.name} is a global model: it forecasts a panel of series, not one alone")


MODEL_FACTORIES: dict[str, Callable[[ForecastSettings], object]] = {
    "seasonal_naive": lambda s: SeasonalNaive(),
    "naive": lambda s: Naive(),
    "ets": lambda s: ETS(),
    "ets_ana": lambda s: ETS(model="ANA", name="ets_ana"),
    "theta": lambda s: Theta(),
    "croston": lambda s: Croston(),
    "tsb": lambda s: TSB(),
    "prophet": lambda s: ProphetModel(
        country=s.country_holidays,
        festivals=s.festivals,
        uncertainty_samples=s.prophet_uncertainty_samples,
        random_state=s.random_state,
    ),
    "lgbm": lambda s: GlobalLGBM(random_state=s.random_state),
}


def candidate_models(settings: ForecastSettings, names: Sequence[str] | None = None) -> list:
    """The candidates of ``auto``: the models ``names`` (default ``settings.models``) and the
    ``combinations`` whose members are all among them, each an :class:`Ensemble` of those same
    model objects (a memoised backtest then fits each member once)."""
    singles = [make_model(n, settings) for n in (settings.models if names is None else names)]
    by_name = {m.name: m for m in singles}
    combos = []
    for combo in settings.combinations:
        members = combination_members(combo)
        if all(m in by_name for m in members):
            combos.append(Ensemble(tuple(by_name[m] for m in members)))
    return singles + combos


def make_model(name: str, settings: ForecastSettings | None = None):
    """The model called ``name`` (one of ``salesml.config.FORECAST_MODELS``), set up from the
    forecast settings (default settings if None)."""
    if name not in MODEL_FACTORIES:
        raise ModelError(f"unknown forecast model {name!r}: known models are {', '.join(MODEL_FACTORIES)}")
    if settings is None:
        settings = ForecastSettings()
    return MODEL_FACTORIES[name](settings)
