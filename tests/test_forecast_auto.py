"""The automatic per-series model choice: series of known structure, bad series, the pool."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from salesml.config import ForecastSettings
from salesml.forecast import auto
from salesml.forecast.auto import (
    FORECAST_COLUMNS,
    STATUS_COLUMNS,
    auto_summary,
    forecast_panel,
    forecast_series,
    select_and_forecast,
)
from salesml.forecast.models import ETS, Ensemble, SeasonalNaive, candidate_models, make_model
from salesml.forecast.panels import PanelError

#: the statistical candidates (no Prophet: it costs ~0.5 s a fit), small backtests
FAST = ForecastSettings(models=("seasonal_naive", "ets", "theta", "croston", "tsb"), windows=2, choice="series", selection_windows=0)
POOLED = replace(FAST, choice="pooled")
WEEK = np.array([1.0, 1.1, 1.2, 1.2, 1.4, 0.6, 0.5])


def frame(y, start="2024-01-01", freq="D"):
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(y), freq=freq), "y": np.asarray(y, dtype="float64")})


def seasonal_trend(n=112, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return frame((100 + 0.8 * t) * np.resize(WEEK, n) + rng.normal(0, 4, n))


def intermittent(n=112, p=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return frame((rng.random(n) < p) * rng.gamma(2, 5, n))


@dataclass(frozen=True)
class Boom:
    """A model that always fails."""

    name: str = "boom"

    def forecast(self, history, horizon, freq, level=80):
        raise RuntimeError("boom")


@dataclass(frozen=True)
class Shifted:
    """Seasonal naive moved up or down by a constant (two of them average to seasonal naive)."""

    shift: float
    name: str

    def forecast(self, history, horizon, freq, level=80):
        fc = SeasonalNaive().forecast(history, horizon, freq, level)
        return fc.assign(yhat=fc["yhat"] + self.shift, lo=fc["lo"] + self.shift, hi=fc["hi"] + self.shift)


@dataclass(frozen=True)
class FailsOnFullHistory:
    """ETS under another name that cannot fit histories of ``limit`` steps or more."""

    limit: int
    name: str = "fragile"

    def forecast(self, history, horizon, freq, level=80):
        if len(history) >= self.limit:
            raise ValueError("cannot refit")
        return ETS().forecast(history, horizon, freq, level)


def test_a_trend_and_weekly_season_gets_ets_or_theta_and_beats_seasonal_naive():
    h = seasonal_trend()
    before = h.copy()
    res = select_and_forecast("s", h, 14, "D", FAST)
    fc, st = res.forecast, res.status
    assert list(fc.columns) == FORECAST_COLUMNS and len(fc) == 14 and (fc["model"] == st["model"]).all()
    assert set(st) == set(STATUS_COLUMNS)
    assert st["status"] == "fitted" and st["model"] in ("ets", "theta") and st["n_obs"] == 112
    assert st["mase"] < st["mase_seasonal_naive"]
    assert "lowest MASE" in st["reason"]
    assert set(res.errors["model"]) == {"seasonal_naive", "ets", "theta"}  # not intermittent: no croston/tsb
    assert (fc["lo"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["hi"]).all() and (fc["lo"] >= 0).all()
    pd.testing.assert_frame_equal(h, before)  # pure


def test_an_intermittent_series_gets_croston_or_tsb():
    s = ForecastSettings(models=("seasonal_naive", "croston", "tsb"), windows=2, choice="series", selection_windows=0)
    res = select_and_forecast("slow", intermittent(), 14, "D", s)
    assert res.status["model"] in ("croston", "tsb") and res.status["status"] == "fitted"
    assert res.status["reason"].startswith("lowest MASE") and "intermittent (" in res.status["reason"]
    assert {"croston", "tsb", "seasonal_naive"} <= set(res.errors["model"])
    assert res.forecast["yhat"].nunique() == 1 and (res.forecast["lo"] == 0).all()


def test_short_series_fall_back_to_seasonal_naive_or_naive():
    rng = np.random.default_rng(1)
    fc, st = forecast_series("new", frame(rng.poisson(5, 20)), 7, "D", FAST)
    assert (st["status"], st["model"]) == ("fallback", "seasonal_naive") and "20 observations, fewer than the 56" in st["reason"]
    assert len(fc) == 7 and np.isfinite(st["mase_seasonal_naive"])
    fc, st = forecast_series("newer", frame([3, 5, 4, 6]), 7, "D", FAST)
    assert (st["status"], st["model"]) == ("fallback", "naive") and (fc["yhat"] == 6).all()


def test_constant_negative_empty_and_zero_series_are_reported_not_fatal():
    fc, st = forecast_series("flat", frame(np.full(80, 5.0)), 7, "D", FAST)
    assert (st["status"], st["model"], st["reason"]) == ("fallback", "naive", "constant series") and (fc["yhat"] == 5).all()

    y = seasonal_trend()["y"].to_numpy().copy()
    y[[10, 40, 70]] = -30.0  # a day of returns larger than its sales
    fc, st = forecast_series("returns", frame(y), 7, "D", FAST)
    assert st["status"] == "fitted" and "3 negative values (sales net of returns) clipped at 0 for fitting" in st["reason"]
    assert (fc["lo"] >= 0).all()

    for uid, h, why in [
        ("zeros", frame(np.zeros(80)), "all zeros"),
        ("one", frame([4.0]), "fewer than 2 observations"),
        ("none", frame([]), "no observations"),
        ("refunds", frame([-1.0, 0.0, -2.0]), "all zeros"),
    ]:
        fc, st = forecast_series(uid, h, 7, "D", FAST)
        assert st["status"] == "skipped" and why in st["reason"] and st["model"] is None
        assert fc.empty and list(fc.columns) == FORECAST_COLUMNS


def test_duplicate_dates_are_summed_and_gaps_filled():
    h = seasonal_trend(n=70)
    dup = pd.concat([h, h.iloc[[5, 30]].assign(y=10.0)]).sample(frac=1, random_state=0)  # unsorted too
    summed = h.copy()
    summed.loc[[5, 30], "y"] += 10.0
    fc_dup, st_dup = forecast_series("d", dup, 7, "D", FAST)
    fc_sum, st_sum = forecast_series("d", summed, 7, "D", FAST)
    pd.testing.assert_frame_equal(fc_dup, fc_sum)
    assert st_dup["model"] == st_sum["model"] and st_dup["n_obs"] == 70 and "2 duplicate dates summed" in st_dup["reason"]
    fc, st = forecast_series("g", h.drop(index=[20, 21]), 7, "D", FAST)
    assert st["n_obs"] == 70 and "2 missing steps filled with 0" in st["reason"]


def test_a_failing_model_is_scored_as_an_error_and_the_others_carry_on():
    res = select_and_forecast("s", seasonal_trend(), 7, "D", FAST, candidates=[Boom(), ETS(), SeasonalNaive()])
    assert res.status["status"] == "fitted" and res.status["model"] == "ets"
    boom = res.errors[res.errors["model"] == "boom"]
    assert len(boom) == 2 and boom["error"].str.contains("RuntimeError: boom").all()
    # every candidate fails: seasonal naive, with the errors said
    fc, st = forecast_series("s", seasonal_trend(), 7, "D", FAST, candidates=[Boom()])
    assert (st["status"], st["model"]) == ("fallback", "seasonal_naive") and "boom: RuntimeError: boom" in st["reason"]
    assert len(fc) == 7


def test_a_winner_that_cannot_refit_gives_way_to_the_next_best():
    h = seasonal_trend()
    # the same forecasts as ETS in the backtest, listed first: it wins the tie, then fails
    res = select_and_forecast("s", h, 7, "D", FAST, candidates=[FailsOnFullHistory(limit=len(h)), ETS(), SeasonalNaive()])
    assert (res.status["status"], res.status["model"]) == ("fallback", "ets")
    assert "fragile failed on the full history (ValueError: cannot refit)" in res.status["reason"]


def test_the_ensemble_of_the_best_is_used_when_it_beats_them():
    y = np.resize([10.0, 12, 14, 16, 18, 5, 3], 84) + np.random.default_rng(0).normal(0, 0.5, 84)
    candidates = [Shifted(3.0, "high"), Shifted(-3.0, "low")]  # their average is seasonal naive
    s = ForecastSettings(models=("seasonal_naive",), windows=2, ensemble_top=2, choice="series", selection_windows=0)
    res = select_and_forecast("e", frame(y), 7, "D", s, candidates=candidates)
    assert res.status["model"] == "ensemble(high+low)" and "the average of the best 2" in res.status["reason"]
    expected = SeasonalNaive().forecast(frame(y), 7, "D")
    assert res.forecast["yhat"].to_numpy() == pytest.approx(expected["yhat"].to_numpy())
    assert "ensemble(high+low)" in set(res.errors["model"])
    assert res.status["mase"] == pytest.approx(res.status["mase_seasonal_naive"])


def small_panel():
    parts = {
        "a_season": seasonal_trend(seed=1),
        "b_slow": intermittent(seed=2),
        "c_new": frame(np.arange(1.0, 11.0)),
        "d_zeros": frame(np.zeros(30)),
        "e_flat": frame(np.full(60, 2.0)),
        "f_season": seasonal_trend(n=84, seed=3),
    }
    return pd.concat([h.assign(unique_id=uid) for uid, h in parts.items()], ignore_index=True)


def test_forecast_panel_reports_every_series_and_a_broken_one_does_not_stop_it(monkeypatch):
    real = auto.select_and_forecast

    def broken_for_one(uid, *args, **kwargs):
        if uid == "f_season":
            raise KeyError("something unexpected")
        return real(uid, *args, **kwargs)

    monkeypatch.setattr(auto, "select_and_forecast", broken_for_one)
    fc, st, errors = forecast_panel(small_panel(), 7, "D", FAST, workers=1)
    st = st.set_index("unique_id")
    assert list(st.index) == ["a_season", "b_slow", "c_new", "d_zeros", "e_flat", "f_season"]
    assert st["status"].to_dict() == {"a_season": "fitted", "b_slow": "fitted", "c_new": "fallback", "d_zeros": "skipped", "e_flat": "fallback", "f_season": "skipped"}
    assert "KeyError" in st.loc["f_season", "reason"]
    assert set(fc["unique_id"]) == {"a_season", "b_slow", "c_new", "e_flat"} and (fc.groupby("unique_id").size() == 7).all()
    assert list(fc.columns) == FORECAST_COLUMNS
    assert set(errors.loc[errors["unique_id"] == "b_slow", "model"]) == {"seasonal_naive", "ets", "theta", "croston", "tsb"}
    summary = auto_summary(errors, st.reset_index()).set_index("model")
    assert list(summary.columns) == ["mase", "smape", "wape", "bias", "coverage_80", "series"]
    assert summary.index[0] == "auto" and {"seasonal_naive", "ets", "naive"} <= set(summary.index)
    # every forecast series is scored, with the model it got, next to seasonal naive
    assert summary.loc["auto", "series"] == 4 and summary.loc["seasonal_naive", "series"] == 4
    assert summary.loc["auto", "mase"] <= summary.loc["seasonal_naive", "mase"]


def test_the_process_pool_gives_the_same_results_as_one_process():
    panel = small_panel()
    one = forecast_panel(panel, 7, "D", FAST, workers=1)
    two = forecast_panel(panel, 7, "D", FAST, workers=2)
    for a, b in zip(one, two, strict=True):
        pd.testing.assert_frame_equal(a, b)
    empty = forecast_panel(panel.head(0), 7, "D", FAST, workers=2)
    assert [list(x.columns) for x in empty[:2]] == [FORECAST_COLUMNS, STATUS_COLUMNS] and all(x.empty for x in empty)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(PanelError, match="freq must be one of"):
        forecast_series("s", seasonal_trend(), 7, "Q", FAST)
    with pytest.raises(PanelError, match="horizon"):
        forecast_panel(small_panel(), 0, "D", FAST)


class Counting:
    """Seasonal naive under another name that counts its fits, per training length."""

    def __init__(self, name="counted"):
        self.name, self.fits = name, []

    def forecast(self, history, horizon, freq, level=80):
        self.fits.append(len(history))
        return SeasonalNaive().forecast(history, horizon, freq, level)


def test_the_honest_backtest_chooses_before_each_window_and_shares_its_fits():
    h = seasonal_trend(n=140)
    counted = Counting()
    s = ForecastSettings(models=("seasonal_naive",), windows=3, selection_windows=5)
    ev = auto.evaluate_series("s", h, 3, 7, "D", s, candidates=[counted, ETS()], forecast=True)
    # each window's auto row is the choice made on the history up to its cut-off
    auto_rows = ev.errors[ev.errors["model"] == "auto"].set_index("window")
    for window, cut in [(1, 119), (2, 126), (3, 133)]:
        alone = select_and_forecast("s", h.iloc[:cut], 7, "D", s, candidates=[counted, ETS()])
        assert ev.choices[window] == alone.status["model"]
        assert auto_rows.loc[window, "forecast"] == pytest.approx(alone.forecast["yhat"].sum())
        assert auto_rows.loc[window, "actual"] == pytest.approx(h["y"].iloc[cut : cut + 7].sum())
    # the single models are scored on the same windows as a plain backtest scores them
    plain = auto.backtest_series("s", h, [ETS(), SeasonalNaive()], 3, 7, "D")
    mine = ev.errors[ev.errors["model"].isin(["ets", "seasonal_naive"])]
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), plain.sort_values(["window", "model"]).reset_index(drop=True), check_like=True)
    # one fit per training cut-off: 8 cut-offs for 3 windows of a choice on 5 windows, and
    # the full history
    counted.fits.clear()
    auto.evaluate_series("s", h, 3, 7, "D", s, candidates=[counted], forecast=True)
    assert sorted(counted.fits) == [84, 91, 98, 105, 112, 119, 126, 133, 140]
    # a choice on as many windows as the backtest (selection_windows = 0, the default): 6 cut-offs
    counted.fits.clear()
    auto.evaluate_series("s", h, 3, 7, "D", replace(s, selection_windows=0), candidates=[counted], forecast=True)
    assert sorted(counted.fits) == [98, 105, 112, 119, 126, 133, 140]
    assert ev.result.status["status"] == "fitted" and len(ev.result.forecast) == 7


def test_the_honest_backtest_of_a_panel_reports_bad_series_and_carries_on(monkeypatch):
    real = auto.evaluate_series

    def broken_for_one(uid, *args, **kwargs):
        if uid == "f_season":
            raise KeyError("something unexpected")
        return real(uid, *args, **kwargs)

    monkeypatch.setattr(auto, "evaluate_series", broken_for_one)
    ev = auto.evaluate_panel(small_panel(), 2, 7, "D", FAST, workers=1, forecast=True)
    e = ev.errors
    assert set(e["unique_id"]) == set(small_panel()["unique_id"])
    broken = e[e["unique_id"] == "f_season"]
    assert list(broken["model"]) == ["auto", "auto"] and broken["error"].str.contains("KeyError").all()
    zeros = e[(e["unique_id"] == "d_zeros") & (e["model"] == "auto")]
    assert zeros["error"].str.startswith("skipped: all zeros").all()
    assert (e.loc[(e["unique_id"] == "a_season") & (e["model"] == "auto"), "error"].isna()).all()
    assert set(ev.choices.columns) == {"unique_id", "window", "model"} and len(ev.choices) == 12
    st = ev.statuses.set_index("unique_id")["status"].to_dict()
    assert st == {"a_season": "fitted", "b_slow": "fitted", "c_new": "fallback", "d_zeros": "skipped", "e_flat": "fallback", "f_season": "skipped"}
    # the forecasts are those of forecast_panel (the cache changes the cost, not the result)
    monkeypatch.undo()
    fc, statuses, _ = forecast_panel(small_panel(), 7, "D", FAST, workers=1)
    again = auto.evaluate_panel(small_panel(), 2, 7, "D", FAST, workers=2, forecast=True)
    pd.testing.assert_frame_equal(again.forecasts, fc)
    pd.testing.assert_frame_equal(again.statuses, statuses)
    with pytest.raises(PanelError, match="1 window or more"):
        auto.evaluate_panel(small_panel(), 0, 7, "D", FAST)


def test_forecast_and_backtest_gives_the_same_forecasts_with_an_honest_backtest():
    panel = small_panel()
    p = auto.forecast_and_backtest(panel, 7, "D", FAST, workers=1)
    h = auto.forecast_and_backtest(panel, 7, "D", FAST, workers=1, honest=True)
    plain, honest = (p.forecasts, p.statuses, p.errors), (h.forecasts, h.statuses, h.errors)
    pd.testing.assert_frame_equal(honest[0], plain[0])
    pd.testing.assert_frame_equal(honest[1], plain[1])
    assert "auto" not in set(plain[2]["model"]) and "auto" in set(honest[2]["model"])
    summary = auto_summary(honest[2], honest[1])
    assert summary["model"].iloc[0] == "auto" and (summary["model"] == "auto").sum() == 1
    # the honest auto row is the choice scored out of sample, not the chosen models' selection scores
    ev = auto.evaluate_panel(panel, FAST.windows, 7, "D", FAST, workers=1)
    expected = auto.summarise(ev.errors).set_index("model").loc["auto"]
    assert summary.set_index("model").loc["auto", "mase"] == pytest.approx(expected["mase"])


# --------------------------------------------------------------------------- pooled choice


def test_pooled_choice_takes_the_lowest_mean_across_the_series_of_a_group():
    """x is best for one series but y across the three; a group with other candidates is
    chosen for on its own; a model not scored on every series of its group is not eligible."""
    rows = [("s1", "x", 0.5), ("s1", "y", 0.8), ("s2", "x", 1.0), ("s2", "y", 0.8), ("s3", "x", 1.0), ("s3", "y", 0.8),
            ("s1", "z", 0.1), ("s2", "z", 0.1)]
    sel = pd.DataFrame([{"unique_id": u, "group": "x+y+z", "model": m, "mase": v, "wape": 10 * v, "abs_error": v} for u, m, v in rows])
    other = pd.DataFrame([{"unique_id": "s4", "group": "x+w", "model": m, "mase": v, "wape": v, "abs_error": v} for m, v in (("x", 0.9), ("w", 0.7))])
    out = auto.pooled_choice(pd.concat([sel, other])).set_index("group")
    assert out.loc["x+y+z", "model"] == "y" and out.loc["x+y+z", "mase"] == pytest.approx(0.8) and out.loc["x+y+z", "series"] == 3
    assert out.loc["x+w", "model"] == "w"


def test_a_pooled_choice_counts_what_a_model_that_fails_on_a_few_series_would_give_them():
    """z fails on one series of ten: chosen for the group, that series keeps its own best, so z
    is judged by that outcome; a model scored on fewer than 90 % of the series is not eligible."""
    rows = [(f"s{i}", m, v) for i in range(10) for m, v in (("x", 1.0), ("y", 0.9))]
    rows += [(f"s{i}", "z", 0.5) for i in range(9)]  # not on s9, whose own best is y (0.9)
    rows += [("s0", "w", 0.01)]
    sel = pd.DataFrame([{"unique_id": u, "group": "x+y+z+w", "model": m, "mase": v, "wape": v, "abs_error": v} for u, m, v in rows])
    out = auto.pooled_choice(sel).set_index("group")
    assert out.loc["x+y+z+w", "model"] == "z" and out.loc["x+y+z+w", "mase"] == pytest.approx((9 * 0.5 + 0.9) / 10)
    assert out.loc["x+y+z+w", "series"] == 10


def test_a_pooled_choice_over_several_levels_weighs_each_level_the_same():
    """Ten reps prefer x a little; two regions prefer y a lot. Pooled series by series, the reps
    outvote the regions (x); with the level as stratum each level counts once (y: mean of the
    levels' means 0.9 vs x's 1.05). Without a stratum column the choice is as before."""
    rows = [(f"rep{i}", "rep", m, v) for i in range(10) for m, v in (("x", 0.9), ("y", 1.0))]
    rows += [(f"region{i}", "region", m, v) for i in range(2) for m, v in (("x", 1.2), ("y", 0.8))]
    sel = pd.DataFrame([{"unique_id": u, "stratum": lv, "group": "x+y", "model": m, "mase": v, "wape": v, "abs_error": v}
                        for u, lv, m, v in rows])
    flat = auto.pooled_choice(sel.drop(columns="stratum")).set_index("group")
    assert flat.loc["x+y", "model"] == "x" and flat.loc["x+y", "mase"] == pytest.approx((10 * 0.9 + 2 * 1.2) / 12)
    by_level = auto.pooled_choice(sel).set_index("group")
    assert by_level.loc["x+y", "model"] == "y" and by_level.loc["x+y", "mase"] == pytest.approx((1.0 + 0.8) / 2)
    assert by_level.loc["x+y", "series"] == 12
    # a level where y has no score for one series: that series counts at its own best (x) within its level
    gap = sel[~((sel["unique_id"] == "region0") & (sel["model"] == "y"))]
    out = auto.pooled_choice(gap).set_index("group")
    assert out.loc["x+y", "mase"] == pytest.approx((1.0 + (1.2 + 0.8) / 2) / 2)


def test_a_pooled_choice_keeps_the_level_aboves_pick_unless_its_own_is_clearly_better():
    """y is the group's own best (mean 0.8); x, the level above's pick, scores 0.85: 6.25 %
    worse. Kept within a margin of 10 %, not within 5 %; a pick that is not eligible here (z,
    scored on one series of three) or not a candidate at all leaves the group its own."""
    rows = [(u, m, v) for u in ("s1", "s2", "s3") for m, v in (("x", 0.85), ("y", 0.8))] + [("s1", "z", 0.1)]
    sel = pd.DataFrame([{"unique_id": u, "group": "x+y+z", "model": m, "mase": v, "wape": v, "abs_error": v} for u, m, v in rows])
    kept = auto.pooled_choice(sel, "x", 0.1).set_index("group").loc["x+y+z"]
    assert (kept["model"], kept["own"]) == ("x", "y")
    assert kept["mase"] == pytest.approx(0.85) and kept["own_mase"] == pytest.approx(0.8)
    for prefer, margin in [("x", 0.05), ("z", 10.0), ("prophet", 10.0), (None, 10.0), ("x", 0.0)]:
        out = auto.pooled_choice(sel, prefer, margin).set_index("group").loc["x+y+z"]
        assert (out["model"], out["own"]) == ("y", "y"), (prefer, margin)
    tie = sel.assign(mase=0.8)  # x ties y: the level above's pick wins a tie even with no margin
    assert auto.pooled_choice(tie, "x", 0.0).set_index("group").loc["x+y+z", "model"] == "x"


def test_a_level_keeps_the_picks_of_the_level_above_in_each_window_and_for_its_forecast():
    """With a wide margin the level takes the level above's pick in every window (its honest
    scores are that model's) and for the forecast (refitted, said in the status); with none
    given it chooses alone, as before; ``picks`` say the level's pick and its own."""
    margin = replace(POOLED, parent_margin=100.0)
    alone = auto.evaluate_panel(pooled_panel(), 2, 7, "D", margin, workers=1, forecast=True)
    own = alone.picks.set_index("window")
    assert (own["model"] == own["own"]).all() and set(own.index) == {0, 1, 2}
    assert auto.picks_by_window(alone.picks) == own["model"].to_dict()
    given = {1: "croston", 2: "seasonal_naive", 0: "tsb"}
    assert all(given[w] != m for w, m in own["model"].items()), "the fixture should pick otherwise alone"
    ev = auto.evaluate_panel(pooled_panel(), 2, 7, "D", margin, workers=1, forecast=True, parent_picks=given)
    assert auto.picks_by_window(ev.picks) == given
    assert ev.picks.set_index("window")["own"].to_dict() == own["model"].to_dict()
    e = ev.errors.set_index(["unique_id", "window", "model"])
    for row in ev.choices.itertuples():
        assert row.model == given[row.window]
        assert e.loc[(row.unique_id, row.window, "auto"), "mase"] == pytest.approx(e.loc[(row.unique_id, row.window, row.model), "mase"])
    st = ev.statuses
    assert set(st["model"]) == {"tsb"} and set(ev.forecasts["model"]) == {"tsb"}
    assert all(f"the level above's pick (this level's own, {own.loc[0, 'model']}, scored" in r for r in st["reason"])
    # the same without the backtest: forecast_panel and forecast_and_backtest keep it too
    _, st2, _ = forecast_panel(pooled_panel(), 7, "D", margin, workers=1, parent_pick="tsb")
    assert set(st2["model"]) == {"tsb"}
    quick = auto.forecast_and_backtest(pooled_panel(), 7, "D", margin, workers=1, parent_picks={0: "tsb"})
    assert auto.picks_by_window(quick.picks) == {0: "tsb"}
    # a margin of 0 leaves every window to the level's own pick
    none = auto.evaluate_panel(pooled_panel(), 2, 7, "D", replace(POOLED, parent_margin=0.0), workers=1, parent_picks=given)
    assert auto.picks_by_window(none.picks) == {w: m for w, m in own["model"].items() if w}


def test_a_level_with_none_above_keeps_its_pick_of_one_window_earlier():
    """A level with no level above it keeps its own best of the window before (depth one: the
    pick it would have made there afresh) unless its best now is more than ``switch_margin``
    better: the first window has none, the forecast keeps the last window's. A forecast made
    without a backtest makes the same pick (one more cut-off), and 0 chooses afresh."""
    fresh = auto.evaluate_panel(shifting_panel(), 3, 7, "D", replace(POOLED, switch_margin=0.0), workers=1, forecast=True)
    own = fresh.picks.set_index("window")["own"]
    assert (fresh.picks["model"] == fresh.picks["own"]).all()
    assert own[1] != own[2] != own[3] != own[0], "the fixture's best should change at every cut-off"
    sticky = replace(POOLED, switch_margin=100.0)
    ev = auto.evaluate_panel(shifting_panel(), 3, 7, "D", sticky, workers=1, forecast=True)
    picks = ev.picks.set_index("window")
    assert picks["own"].to_dict() == own.to_dict()  # what each cut-off would pick afresh is the same
    assert picks.loc[1, "model"] == own[1]  # the first window: nothing earlier
    assert picks.loc[2, "model"] == own[1] and picks.loc[3, "model"] == own[2] and picks.loc[0, "model"] == own[3]
    e = ev.errors.set_index(["unique_id", "window", "model"])
    for row in ev.choices.itertuples():
        assert row.model == picks.loc[row.window, "model"]
        assert e.loc[(row.unique_id, row.window, "auto"), "mase"] == pytest.approx(e.loc[(row.unique_id, row.window, row.model), "mase"])
    assert set(ev.statuses["model"]) == {own[3]}
    assert all(f"its pick one window earlier (its best now, {own[0]}, scored" in r for r in ev.statuses["reason"])
    # without a backtest: the pick one window earlier comes from one more cut-off, the same pick
    _, st, sel = forecast_panel(shifting_panel(), 7, "D", sticky, workers=1)
    assert set(st["model"]) == {own[3]}
    assert sel.equals(ev.selection)  # the forecast's own selection backtest, as with the backtest
    quick = auto.forecast_and_backtest(shifting_panel(), 7, "D", sticky, workers=1)
    assert auto.picks_by_window(quick.picks) == {0: own[3]}
    # the one more cut-off is fitted only when there is a pick to keep: not for a single candidate
    one = seasonal_trend(n=112).assign(unique_id="s")
    for candidates, extra in (([Counting()], False), ([Counting(), ETS()], True)):
        forecast_panel(one, 7, "D", sticky, workers=1, candidates=candidates)
        assert {105, 98} <= set(candidates[0].fits) and min(candidates[0].fits) == (91 if extra else 98), candidates
    # a level given the picks of the level above keeps those (here: within no margin), not its own earlier ones
    given = auto.evaluate_panel(shifting_panel(), 3, 7, "D", replace(sticky, parent_margin=0.0), workers=1,
                                parent_picks={1: "croston", 2: "croston", 3: "croston", 0: "croston"})
    assert (given.picks["model"] == given.picks["own"]).all()
    assert given.picks.set_index("window")["model"].to_dict() == {w: m for w, m in own.items() if w}


def test_a_pooled_choice_can_pick_a_combination():
    """A group whose candidates include a combination (``ensemble(a+b)``, whose name holds a
    ``+``) offers it like any other candidate."""
    rows = [(u, m, v) for u in ("s1", "s2") for m, v in (("ets", 0.9), ("theta", 0.95), ("ensemble(ets+theta)", 0.8))]
    group = "ets+theta+ensemble(ets+theta)"
    assert auto.candidate_names(group) == ["ets", "theta", "ensemble(ets+theta)"]
    sel = pd.DataFrame([{"unique_id": u, "group": group, "model": m, "mase": v, "wape": v, "abs_error": v} for u, m, v in rows])
    assert auto.pooled_choice(sel).set_index("group").loc[group, "model"] == "ensemble(ets+theta)"


def test_a_series_too_short_to_choose_gets_its_groups_pooled_model():
    long = pooled_panel()
    short = seasonal_trend(n=30, seed=9).assign(unique_id="new")  # fewer than min_obs_d (56) days
    panel = pd.concat([long, short], ignore_index=True)
    _, own, _ = forecast_panel(panel, 7, "D", FAST, workers=1)
    assert own.set_index("unique_id").loc["new", "status"] == "fallback"  # on its own: seasonal naive
    fc, st, _ = forecast_panel(panel, 7, "D", POOLED, workers=1)
    st = st.set_index("unique_id")
    chosen = st.loc["s1", "model"]
    assert st.loc["new", ["status", "model"]].tolist() == ["fitted", chosen]
    assert "too short to choose on its own" in st.loc["new", "reason"] and "fewer than the 56 needed" in st.loc["new", "reason"]
    expected = make_model(chosen, FAST).forecast(short[["ds", "y"]], 7, "D", FAST.level)
    assert fc.loc[fc["unique_id"] == "new", "yhat"].to_numpy() == pytest.approx(expected["yhat"].to_numpy())
    # the honest backtest scores it with the pooled pick wherever it was too short to choose
    ev = auto.evaluate_panel(panel, 2, 7, "D", POOLED, workers=1)
    picks = ev.choices.set_index(["unique_id", "window"])["model"]
    for w in (1, 2):
        assert picks[("new", w)] == picks[("s1", w)]
    e = ev.errors.set_index(["unique_id", "window", "model"])
    assert e.loc[("new", 2, "auto"), "mase"] == pytest.approx(e.loc[("new", 2, picks[("new", 2)]), "mase"])


def shifting_panel():
    """Four series whose best model changes at each cut-off of a 3-window, 7-day backtest:
    seasonal with a trend, then a random walk for the last three weeks."""
    parts = []
    for seed in (1, 3, 5, 7):
        rng = np.random.default_rng(seed)
        t = np.arange(112)
        y = np.where(t < 91, (100 + 0.8 * t) * np.resize(WEEK, 112), 100 + np.cumsum(rng.normal(0, 10, 112))) + rng.normal(0, 4, 112)
        parts.append(frame(np.clip(y, 0, None)).assign(unique_id=f"s{seed}"))
    return pd.concat(parts, ignore_index=True)


def pooled_panel():
    parts = {f"s{seed}": seasonal_trend(seed=seed) for seed in (1, 3, 5, 7)}
    return pd.concat([h.assign(unique_id=uid) for uid, h in parts.items()], ignore_index=True)


def test_forecast_panel_pooled_gives_a_group_one_model_and_refits_those_whose_own_best_differed():
    panel = pooled_panel()
    _, own, _ = forecast_panel(panel, 7, "D", FAST, workers=1)
    fc, st, _ = forecast_panel(panel, 7, "D", POOLED, workers=1)
    assert st["model"].nunique() == 1 and set(fc["model"]) == set(st["model"])
    chosen = st["model"].iloc[0]
    # every candidate is offered to every series (Croston and TSB too, though no series is intermittent)
    assert all(r.startswith("pooled choice for the 4 series with candidates seasonal_naive, ets, theta, croston, tsb: " + chosen) for r in st["reason"])
    differed = own.loc[own["model"] != chosen, "unique_id"].tolist()
    assert differed, "the fixture should have a series whose own best differs"
    uid = differed[0]
    expected = make_model(chosen, FAST).forecast(panel.loc[panel["unique_id"] == uid, ["ds", "y"]].reset_index(drop=True), 7, "D", FAST.level)
    assert fc.loc[fc["unique_id"] == uid, "yhat"].to_numpy() == pytest.approx(expected["yhat"].to_numpy())
    assert f"its own best: {own.set_index('unique_id').loc[uid, 'model']}" in st.set_index("unique_id").loc[uid, "reason"]


def test_the_honest_backtest_of_the_pooled_choice_is_the_single_scores_of_its_picks():
    ev = auto.evaluate_panel(pooled_panel(), 2, 7, "D", POOLED, workers=1, forecast=True)
    fc, st, _ = forecast_panel(pooled_panel(), 7, "D", POOLED, workers=1)
    pd.testing.assert_frame_equal(ev.forecasts.reset_index(drop=True), fc.reset_index(drop=True))
    pd.testing.assert_frame_equal(ev.statuses, st)
    e = ev.errors.set_index(["unique_id", "window", "model"])
    for row in ev.choices.itertuples():
        assert e.loc[(row.unique_id, row.window, "auto"), "mase"] == pytest.approx(e.loc[(row.unique_id, row.window, row.model), "mase"])
    assert ev.choices.groupby("window")["model"].nunique().eq(1).all()  # one group: one pick per window
    # scoring seasonal naive alone next to it still scores the pooled picks (the candidates join the singles)
    alone = auto.evaluate_panel(pooled_panel(), 2, 7, "D", POOLED, workers=1, singles=[SeasonalNaive()])
    pd.testing.assert_frame_equal(alone.choices, ev.choices)
    wf = ev.window_forecasts
    assert set(wf["model"]) <= set(ev.choices["model"])


def _calibrated_forecast(name, hist, horizon, windows):
    """A model's forecast with its intervals calibrated on its own backtest of ``windows``
    windows before the history's end, computed from the model and the factor's definition."""
    model = make_model(name, FAST)
    factor = auto.interval_factor(auto.recent_windows(auto._backtest_windows(model, hist, windows, horizon, "D", FAST.level), FAST.calibrate_windows),
                                  FAST.level)
    return auto.calibrated(model.forecast(hist, horizon, "D", FAST.level), factor), factor


def test_pooled_picks_have_their_intervals_calibrated_on_their_own_backtest():
    """A series refitted with its group's pick gets the pick's intervals calibrated on its own
    selection backtest, as a series' own choice does; and so does each window of the honest
    backtest (its coverage is that of the calibrated bounds). Every model calibrated
    (``calibrate_beyond_se = 0``): the test of whether its own bounds were off has a test of its own."""
    panel = pooled_panel()
    always = replace(POOLED, calibrate_beyond_se=0.0)
    _, own, _ = forecast_panel(panel, 7, "D", replace(FAST, calibrate_beyond_se=0.0), workers=1)
    fc, st, _ = forecast_panel(panel, 7, "D", always, workers=1)
    chosen = st["model"].iloc[0]
    uid = own.loc[own["model"] != chosen, "unique_id"].iloc[0]
    hist = panel.loc[panel["unique_id"] == uid, ["ds", "y"]].reset_index(drop=True)
    expected, factor = _calibrated_forecast(chosen, hist, 7, 2)
    assert factor is not None and abs(factor - 1) > 0.05
    mine = fc[fc["unique_id"] == uid]
    assert mine["lo"].to_numpy() == pytest.approx(expected["lo"].to_numpy())
    assert mine["hi"].to_numpy() == pytest.approx(expected["hi"].to_numpy())
    assert f"intervals ×{factor:.2f} to cover 80% of the backtest" in st.set_index("unique_id").loc[uid, "reason"]

    ev = auto.evaluate_panel(panel, 2, 7, "D", always, workers=1)
    e = ev.errors.set_index(["unique_id", "window", "model"])
    changed = 0
    for row in ev.choices.itertuples():
        h = panel.loc[panel["unique_id"] == row.unique_id, ["ds", "y"]].reset_index(drop=True)
        cut = len(h) - (3 - row.window) * 7
        cal, _ = _calibrated_forecast(row.model, h.iloc[:cut], 7, 2)
        actual = h["y"].to_numpy()[cut : cut + 7]
        covered = np.mean((actual >= cal["lo"].to_numpy()) & (actual <= cal["hi"].to_numpy())) * 100
        assert e.loc[(row.unique_id, row.window, "auto"), "coverage"] == pytest.approx(covered)
        changed += e.loc[(row.unique_id, row.window, "auto"), "coverage"] != e.loc[(row.unique_id, row.window, row.model), "coverage"]
        w = ev.window_forecasts[(ev.window_forecasts["unique_id"] == row.unique_id) & (ev.window_forecasts["window"] == row.window)]
        assert w["hi"].to_numpy() == pytest.approx(cal["hi"].to_numpy())
    assert changed  # calibration moved some window's coverage away from the model's own bounds


def test_interval_factor_makes_the_backtest_cover_the_level():
    """Bounds of ±1 around 0 and actuals spread to ±3: the factor puts 80% inside."""
    actual = np.linspace(-3, 3, 50)
    fc = pd.DataFrame({"yhat": np.zeros(50), "lo": -np.ones(50), "hi": np.ones(50)})
    c = auto.interval_factor([(fc, actual)], 80)
    wide = auto.calibrated(fc.assign(yhat=10.0, lo=9.0, hi=11.0), c)
    assert np.mean(np.abs(actual) <= c) >= 0.8 and np.mean(np.abs(actual) < c) < 0.85
    assert (wide["hi"] - 10).iloc[0] == pytest.approx(c)
    assert auto.interval_factor([(fc.head(5), actual[:5])], 80) is None  # too few steps


def test_intervals_are_calibrated_on_the_most_recent_selection_windows():
    """``calibrate_windows`` = N: the newest N windows, and older ones while they hold fewer
    than 10 steps; 0 = all. A model whose last window erred as its intervals said keeps them
    even when its older windows erred far more (their fits saw less history)."""
    def window(n, spread):
        return (pd.DataFrame({"yhat": np.zeros(n), "lo": -np.ones(n), "hi": np.ones(n)}), np.linspace(-spread, spread, n))

    weekly = [window(13, 3.0), window(13, 3.0), window(13, 1.2)]  # oldest first
    assert auto.recent_windows(weekly, 1) == [weekly[2]]
    assert auto.recent_windows(weekly, 2) == weekly[1:]
    assert auto.recent_windows(weekly, 0) == weekly and auto.recent_windows(weekly, 5) == weekly
    daily7 = [window(7, 1.0) for _ in range(3)]
    assert auto.recent_windows(daily7, 1) == daily7[1:]  # 7 steps are too few: the window before joins
    assert auto.recent_windows([], 1) == []
    recent = auto.interval_factor(auto.recent_windows(weekly, 1), 80)
    every = auto.interval_factor(weekly, 80)
    assert recent <= 1.2 and every > 2  # the last window alone needs at most 1.2x, all three over 2x


def test_interval_factor_keeps_bounds_that_held_the_level_to_within_the_noise():
    """100 steps, ±1 bounds: 76 actuals inside is within 1.96 standard errors of 80 % (4 points
    each), so the model's own bounds stay; 70 inside is not, and is calibrated; with 0 standard
    errors (the default) every model is calibrated."""
    fc = pd.DataFrame({"yhat": np.zeros(100), "lo": -np.ones(100), "hi": np.ones(100)})
    for inside, kept in ((76, True), (84, True), (70, False), (90, False)):
        actual = np.r_[np.full(inside, 0.5), np.full(100 - inside, 2.0)]
        assert (auto.interval_factor([(fc, actual)], 80, beyond_se=1.96) is None) == kept, inside
        assert auto.interval_factor([(fc, actual)], 80) is not None


# --------------------------------------------------------------------------- combinations


def test_combinations_join_the_candidates_and_cost_no_extra_fits():
    s = ForecastSettings(models=("seasonal_naive", "theta"), combinations=("seasonal_naive+theta", "theta+ets"), windows=2,
                         selection_windows=3, choice="series")
    names = [m.name for m in candidate_models(s)]
    assert names == ["seasonal_naive", "theta", "ensemble(seasonal_naive+theta)"]  # ets is no candidate: its combination is left out
    up, down = Counting("up"), Counting("down")
    res = select_and_forecast("c", seasonal_trend(), 7, "D", s, candidates=[up, down, Ensemble((up, down))])
    assert set(res.errors["model"]) >= {"up", "down", "ensemble(up+down)"}
    # each member is fitted once per selection window, and once more on the whole history if it is chosen
    for m in (up, down):
        assert len(m.fits) == 3 + (res.status["model"] in (m.name, "ensemble(up+down)"))
