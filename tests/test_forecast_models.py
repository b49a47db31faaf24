"""Statistical forecast models on small synthetic series whose structure is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from salesml.config import FORECAST_MODELS, ForecastSettings
from salesml.forecast.models import (
    ETS,
    TSB,
    Croston,
    Ensemble,
    ModelError,
    Naive,
    ProphetModel,
    SeasonalNaive,
    SeriesError,
    Theta,
    make_model,
    ratio_interval,
    seasonal_period,
)

WEEK = np.array([1.0, 1.1, 1.2, 1.2, 1.4, 0.6, 0.5])


def seasonal_trend(n=140, seed=0, start="2024-01-01"):
    """Daily sales: a rising level times a weekly pattern, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = (100 + 0.8 * t) * np.resize(WEEK, n) + rng.normal(0, 4, n)
    return pd.DataFrame({"ds": pd.date_range(start, periods=n, freq="D"), "y": y})


def intermittent(n=140, p=0.3, seed=0, start="2024-01-01"):
    """Daily demand of a slow mover: a sale on a share p of the days, of a random size."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < p) * rng.integers(2, 9, n).astype(float)
    return pd.DataFrame({"ds": pd.date_range(start, periods=n, freq="D"), "y": y})


STATS_MODELS = [SeasonalNaive(), Naive(), ETS(), ETS(model="ANA", name="ets_ana"), Theta(), Croston(), TSB()]


@pytest.mark.parametrize("model", STATS_MODELS, ids=lambda m: m.name)
@pytest.mark.parametrize("series", [seasonal_trend, intermittent], ids=["seasonal_trend", "intermittent"])
def test_every_model_gives_horizon_rows_of_ordered_non_negative_bounds(model, series):
    h = series()
    before = h.copy()
    fc = model.forecast(h, 10, "D", 80)
    assert list(fc.columns) == ["ds", "yhat", "lo", "hi"] and len(fc) == 10
    assert (fc["ds"] == pd.date_range(h["ds"].iloc[-1] + pd.Timedelta(days=1), periods=10, freq="D")).all()
    values = fc[["yhat", "lo", "hi"]].to_numpy()
    assert np.isfinite(values).all() and (values >= 0).all()
    assert (fc["lo"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi"]).all()
    assert (fc["hi"] > fc["lo"]).any()  # a noisy history: a real interval
    pd.testing.assert_frame_equal(h, before)  # pure


@pytest.mark.parametrize("model", [ETS(), Theta()], ids=lambda m: m.name)
def test_ets_and_theta_follow_trend_and_season_better_than_naive(model):
    h = seasonal_trend(n=168)
    train, test = h.iloc[:140], h["y"].iloc[140:].to_numpy()
    mae = {m.name: np.mean(np.abs(m.forecast(train, 28, "D")["yhat"].to_numpy() - test)) for m in (model, Naive(), SeasonalNaive())}
    assert mae[model.name] < 0.5 * mae["naive"]
    assert mae[model.name] < mae["seasonal_naive"]  # seasonal naive misses the trend
    fc = model.forecast(train, 28, "D", 80)
    inside = np.mean((test >= fc["lo"]) & (test <= fc["hi"]))
    assert 0.5 <= inside <= 1


def test_seasonal_models_need_two_seasons_else_go_non_seasonal():
    assert seasonal_period(14, "D") == 7 and seasonal_period(13, "D") == 1
    assert seasonal_period(103, "W") == 1 and seasonal_period(104, "W") == 52
    assert seasonal_period(30, "M", season=3) == 3
    weekly = pd.DataFrame({"ds": pd.date_range("2024-01-07", periods=40, freq="W-SUN"), "y": np.linspace(10, 50, 40)})
    for model in (ETS(), Theta()):  # 40 weeks < 2 years: fitted without a yearly season
        fc = model.forecast(weekly, 4, "W")
        assert (fc["ds"].dt.dayofweek == 6).all() and fc["yhat"].iloc[0] > 40
    with pytest.raises(SeriesError, match="too few"):
        ETS().forecast(weekly.head(4), 4, "W")


@pytest.mark.parametrize("model", [Croston(), Croston(optimized=True), TSB()], ids=["croston", "croston_optimized", "tsb"])
def test_croston_and_tsb_forecast_the_demand_rate_with_a_skewed_interval(model):
    h = intermittent(n=365, p=0.3, seed=1)  # sizes 2..8: 0.3 x 5 = 1.5 a day
    train, test = h.iloc[:337], h["y"].iloc[337:].to_numpy()
    fc = model.forecast(train, 28, "D", 80)
    assert fc["yhat"].nunique() == 1  # a flat rate
    # about the demand per day (smoothing follows the recent past, which ran a little high)
    assert fc["yhat"].iloc[0] == pytest.approx(train["y"].mean(), rel=0.5)
    assert (fc["lo"] == 0).all() and (fc["hi"] > 2 * fc["yhat"]).all()  # zeros below, bursts above
    inside = np.mean((test >= fc["lo"]) & (test <= fc["hi"]))
    assert 0.6 <= inside <= 1


def test_tsb_lets_a_product_that_stopped_selling_fade_croston_does_not():
    h = intermittent(n=150, p=0.5, seed=2)
    h.loc[h.index >= 100, "y"] = 0.0  # no sale in the last 50 days
    tsb, croston = TSB().forecast(h, 7, "D")["yhat"].iloc[0], Croston().forecast(h, 7, "D")["yhat"].iloc[0]
    assert tsb < 0.25 * croston


def test_ratio_interval_scales_the_one_step_error_ratios():
    fitted = np.r_[np.nan, np.full(11, 10.0)]  # the first step has no forecast
    y = np.r_[99.0, np.linspace(5, 15, 11)]  # ratios 0.5 .. 1.5
    lo, hi = ratio_interval(y, fitted, np.array([4.0, 4.0]), 80)
    assert lo == pytest.approx([2.4, 2.4]) and hi == pytest.approx([5.6, 5.6])  # 4 x 0.6, 4 x 1.4
    # demand on 4 steps of 10: the zeros fill the lower 10% and more, so [0, the 80% quantile]
    y = np.r_[0.0, np.array([0, 0, 0, 0, 0, 0, 10, 20, 30, 40.0])]
    lo, hi = ratio_interval(y, np.r_[np.nan, np.full(10, 10.0)], np.array([1.0]), 80)
    assert lo.tolist() == [0.0] and hi == pytest.approx([np.quantile(y[1:] / 10, 0.8)])
    lo, hi = ratio_interval([1.0], [np.nan], np.array([3.0]), 80)
    assert lo.tolist() == hi.tolist() == [3.0]


def test_ensemble_averages_its_members_forecasts_and_bounds():
    h = seasonal_trend()
    ens = Ensemble((SeasonalNaive(), Naive()))
    assert ens.name == "ensemble(seasonal_naive+naive)"
    a, b, e = SeasonalNaive().forecast(h, 5, "D"), Naive().forecast(h, 5, "D"), ens.forecast(h, 5, "D")
    assert e["yhat"].to_numpy() == pytest.approx((a["yhat"] + b["yhat"]).to_numpy() / 2)
    assert e["hi"].to_numpy() == pytest.approx((a["hi"] + b["hi"]).to_numpy() / 2)
    with pytest.raises(ModelError):
        Ensemble(())


def test_make_model_builds_every_configured_model_from_the_settings():
    s = ForecastSettings(country_holidays="US", festivals=False, prophet_uncertainty_samples=50, random_state=3)
    for name in FORECAST_MODELS:
        assert make_model(name, s).name == name
    assert make_model("prophet", s) == ProphetModel(country="US", festivals=False, uncertainty_samples=50, random_state=3)
    assert make_model("ets") == ETS()  # default settings
    with pytest.raises(ModelError, match="unknown forecast model 'arima'"):
        make_model("arima", s)
    with pytest.raises(ModelError, match="variant"):
        Theta(variant="fancy")
    assert dataclasses.is_dataclass(make_model("tsb", s))


def test_prophet_with_a_random_state_is_reproducible():
    h = seasonal_trend(n=70)
    model = make_model("prophet", ForecastSettings(prophet_uncertainty_samples=30, country_holidays="", festivals=False))
    a, b = model.forecast(h, 7, "D"), model.forecast(h, 7, "D")
    pd.testing.assert_frame_equal(a, b)
    assert (a["lo"] >= 0).all() and (a["lo"] <= a["yhat"]).all() and (a["yhat"] <= a["hi"]).all()


def test_ets_ana_without_two_seasons_of_history_fits_no_season():
    """ETS(A,N,A) needs two seasons; a shorter history gets ETS(A,N,N) rather than an error."""
    short = seasonal_trend(n=10)
    fc = make_model("ets_ana").forecast(short, 7, "D")
    assert len(fc) == 7 and np.ptp(fc["yhat"].to_numpy()) == pytest.approx(0)  # level only: flat
    long = make_model("ets_ana").forecast(seasonal_trend(n=84), 7, "D")
    assert np.ptp(long["yhat"].to_numpy()) > 10  # the weekly season


def test_a_full_ets_search_leaves_out_a_season_longer_than_24_steps():
    """Three years of weekly sales with a yearly peak: the search ("ZZZ") fits as "ZZN" (52
    seasonal states are not searched, as in R's forecast::ets), while ETS(A,N,A) asked for by
    name keeps its 52-week season; daily data (a 7-day season) is still searched with it."""
    rng = np.random.default_rng(3)
    t = np.arange(156)
    y = 100 + 0.3 * t + 60 * (t % 52 == 5) + rng.normal(0, 5, 156)
    weekly = pd.DataFrame({"ds": pd.date_range("2023-01-08", periods=156, freq="W-SUN"), "y": y})
    searched = ETS().forecast(weekly, 13, "W")
    pd.testing.assert_frame_equal(searched, ETS(model="ZZN").forecast(weekly, 13, "W"))
    ana = make_model("ets_ana").forecast(weekly, 13, "W")
    assert ana["yhat"].idxmax() == 5 and searched["yhat"].idxmax() != 5  # the peak comes back a year on
    daily = seasonal_trend(n=140)
    assert not ETS().forecast(daily, 14, "D").equals(ETS(model="ZZN").forecast(daily, 14, "D"))


def test_festivals_are_steps_of_their_own_at_every_frequency():
    from salesml.forecast.models import festival_frame

    w = festival_frame(range(2025, 2027), "W").set_index(["holiday", "ds"])
    # Double 11 2025 is a Tuesday: the week ending Sunday 16 November, and the ramp from 1 November
    # (a Saturday, in the week ending 2 November): two weeks before it
    assert w.loc[("double_11", pd.Timestamp("2025-11-16")), "lower_window"] == -14
    assert w.loc[("618", pd.Timestamp("2026-06-21")), "lower_window"] == -14  # 18 June 2026 is a Thursday
    assert (w["upper_window"] == 0).all()
    m = festival_frame(range(2025, 2026), "M")
    assert sorted(m["ds"].dt.strftime("%Y-%m-%d")) == ["2025-06-01", "2025-11-01"]
    d = festival_frame(range(2025, 2026), "D").set_index("holiday")
    assert d.loc["double_11", "lower_window"] == -10 and d.loc["double_11", "upper_window"] == 1


def test_a_weekly_prophet_keeps_the_double_11_week_sharp():
    """Three years of weekly sales with the Double 11 week at 2.2x and the week before at
    1.5x: the forecast of the coming November peaks in the festival's week, not smeared."""
    rng = np.random.default_rng(1)
    ds = pd.date_range("2023-01-01", "2025-10-26", freq="W-SUN")
    lift = np.ones(len(ds))
    for y in (2023, 2024, 2025):
        peak = pd.Timestamp(y, 11, 11)
        week_end = peak + pd.Timedelta(days=6 - peak.weekday())
        lift[ds == week_end] = 2.2
        lift[ds == week_end - pd.Timedelta(days=7)] = 1.5
    history = pd.DataFrame({"ds": ds, "y": 100 * lift + rng.normal(0, 3, len(ds))})
    fc = ProphetModel(country="", random_state=0).forecast(history, 8, "W").set_index("ds")["yhat"]
    assert fc.idxmax() == pd.Timestamp("2025-11-16")
    assert fc.loc["2025-11-16"] == pytest.approx(220, rel=0.1) and fc.loc["2025-11-30"] == pytest.approx(100, rel=0.1)
