"""Seasonal naive and rolling-origin backtests on series whose answers are known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.forecast.backtest import backtest, left_out, summarise, window_periods, with_chosen
from salesml.forecast.models import Naive, SeasonalNaive, SeriesError


def weekly_pattern(weeks=10, start="2024-01-01"):
    ds = pd.date_range(start, periods=7 * weeks, freq="D")
    y = np.tile([10, 12, 14, 16, 18, 5, 3], weeks).astype(float)
    return pd.DataFrame({"ds": ds, "y": y})


def test_seasonal_naive_repeats_the_last_season_and_never_goes_negative():
    h = weekly_pattern()
    fc = SeasonalNaive().forecast(h, 10, "D")
    assert fc["yhat"].tolist() == [10, 12, 14, 16, 18, 5, 3, 10, 12, 14]
    assert fc["ds"].iloc[0] == h["ds"].iloc[-1] + pd.Timedelta(days=1)
    assert (fc["lo"] == fc["yhat"]).all()  # a perfectly repeating history: no spread
    noisy = h.assign(y=h["y"] + np.tile([0, 3, -3, 0, 0, 0, 0], 10) * np.repeat([1, -1], 35))
    fc2 = SeasonalNaive().forecast(noisy, 14, "D")
    assert (fc2["lo"] >= 0).all() and (fc2["hi"] >= fc2["yhat"]).all()
    w1, w2 = (fc2["hi"] - fc2["yhat"]).iloc[0], (fc2["hi"] - fc2["yhat"]).iloc[7]
    assert w2 == pytest.approx(w1 * np.sqrt(2))  # one more season ahead: sqrt(2) wider
    with pytest.raises(SeriesError, match="at least"):
        SeasonalNaive().forecast(h.head(1), 3, "D")


def test_backtest_scores_every_model_and_window_and_reports_short_series():
    panel = pd.concat([weekly_pattern().assign(unique_id="steady"), weekly_pattern(weeks=1).assign(unique_id="new")])
    errors = backtest(panel, [SeasonalNaive(), Naive()], windows=2, horizon=7, freq="D")
    steady = errors[errors["unique_id"] == "steady"]
    assert set(zip(steady["model"], steady["window"], strict=True)) == {("seasonal_naive", 1), ("seasonal_naive", 2), ("naive", 1), ("naive", 2)}
    sn = steady[steady["model"] == "seasonal_naive"]
    # a perfectly repeating history: seasonal naive is exact, but MASE is undefined (its scale is 0)
    assert (sn["wape"] == 0).all() and (sn["coverage"] == 100).all() and sn["mase"].isna().all()
    naive = steady[steady["model"] == "naive"]
    assert (naive["wape"] > 0).all()
    new = errors[errors["unique_id"] == "new"]
    assert new["error"].str.contains("too short").all()
    summary = summarise(errors).set_index("model")
    assert summary.loc["seasonal_naive", "wape"] == 0 and summary.loc["seasonal_naive", "series"] == 1
    assert summary.loc["naive", "wape"] > 0


def test_mase_compares_with_the_in_sample_seasonal_naive():
    rng = np.random.default_rng(0)
    h = weekly_pattern(weeks=20)
    h = h.assign(y=h["y"] + rng.normal(0, 1, len(h)))
    errors = backtest(h.assign(unique_id="s"), [SeasonalNaive(), Naive()], windows=3, horizon=7, freq="D")
    s = summarise(errors).set_index("model")
    assert 0.5 < s.loc["seasonal_naive", "mase"] < 2  # about the in-sample seasonal naive error
    assert s.loc["naive", "mase"] > 2 * s.loc["seasonal_naive", "mase"]


def test_window_periods_and_left_out_series_name_what_was_scored():
    """Weeks ending Friday: each window's first and last week; a series too short for the
    first window is left out of it, with the reason, not silently dropped."""
    fridays = pd.date_range("2024-01-05", periods=20, freq="W-FRI")
    long = pd.DataFrame({"unique_id": "long", "ds": fridays, "y": np.arange(20.0) % 5 + 1})
    short = pd.DataFrame({"unique_id": "short", "ds": fridays[-10:], "y": np.arange(10.0) + 1})
    errors = backtest(pd.concat([long, short]), [Naive()], windows=2, horizon=4, freq="W")
    periods = window_periods(errors, "W", "naive")
    assert periods[["window", "series", "left_out"]].values.tolist() == [[1, 2, 0], [2, 2, 0]]
    assert periods["first"].tolist() == [fridays[-8], fridays[-4]] and periods["last"].tolist() == [fridays[-5], fridays[-1]]
    errors = backtest(pd.concat([long, short.iloc[-6:]]), [Naive()], windows=2, horizon=4, freq="W")
    periods = window_periods(errors, "W", "naive")
    assert periods[["window", "series", "left_out"]].values.tolist() == [[1, 1, 1], [2, 2, 0]]
    out = left_out(errors, "naive")
    assert out.values.tolist() == [["short", "1", "too short for window 1: 6 observations"]]


def test_window_periods_say_what_the_choice_gave_in_each_window():
    """With the choice's picks (``with_chosen``) each window says the model the choice gave its
    series — one name when it gave them all the same, else each with its number of series;
    the other models' rows carry none."""
    fridays = pd.date_range("2024-01-05", periods=20, freq="W-FRI")
    panel = pd.concat([pd.DataFrame({"unique_id": u, "ds": fridays, "y": np.arange(20.0) % k + 1}) for u, k in (("a", 5), ("b", 3), ("c", 4))])
    errors = backtest(panel, [Naive(), SeasonalNaive()], windows=2, horizon=4, freq="W")
    errors = errors.assign(model=errors["model"].replace({"naive": "auto"}))  # the choice's rows
    choices = pd.DataFrame({"unique_id": ["a", "b", "c", "a", "b", "c"], "window": [1, 1, 1, 2, 2, 2],
                            "model": ["theta", "theta", "theta", "theta", "ets", "theta"]})
    marked = with_chosen(errors, choices)
    assert marked.loc[marked["model"] == "seasonal_naive", "chosen"].isna().all()
    assert marked.set_index(["unique_id", "window", "model"]).loc[("b", 2, "auto"), "chosen"] == "ets"
    periods = window_periods(marked, "W", "auto")
    assert periods["chosen"].tolist() == ["theta", "theta (2), ets (1)"]
    assert "chosen" not in window_periods(errors, "W", "auto").columns  # nothing said, nothing shown
