"""Arithmetic on forecasts and backtests (salesml.forecast.summary): year-earlier dates, the
step of a day, daily forecasts aligned with weeks and months, nodes combined, backtest and
reconciliation summaries. Small frames, expected values worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.forecast import reconcile
from salesml.forecast import summary as S
from salesml.forecast.models import z_value

#: the normal quantile of an 80 % (two-sided) interval: Φ⁻¹(0.9)
Z80 = 1.2815515655446
#: Φ(1), the standard normal's distribution function at 1
PHI_1 = 0.8413447460685429


# --------------------------------------------------------------------------- dates


def test_year_earlier_goes_back_364_days_52_weeks_or_a_year():
    days = S.year_earlier(pd.to_datetime(["2026-06-30", "2024-03-01"]), "D")
    assert list(days) == [pd.Timestamp("2025-07-01"), pd.Timestamp("2023-03-03")]  # both Tuesdays / Fridays as before
    assert [d.day_name() for d in days] == ["Tuesday", "Friday"]
    weeks = S.year_earlier(pd.Series(pd.to_datetime(["2026-06-28"])), "W")
    assert list(weeks) == [pd.Timestamp("2025-06-29")]  # Sunday to Sunday
    months = S.year_earlier(pd.to_datetime(["2024-02-29", "2026-03-01"]), "M")
    assert list(months) == [pd.Timestamp("2023-02-28"), pd.Timestamp("2025-03-01")]


def test_year_earlier_keeps_the_weekday_or_the_month():
    weeks = S.year_earlier(pd.to_datetime(["2026-06-28"]), "W")
    assert weeks[0] == pd.Timestamp("2025-06-29") and weeks[0].day_name() == "Sunday"
    assert S.year_earlier(pd.to_datetime(["2026-03-01"]), "M")[0] == pd.Timestamp("2025-03-01")


def test_step_of_is_the_sunday_ending_the_week_or_the_month_start():
    days = pd.Series(pd.to_datetime(["2026-06-29", "2026-07-01", "2026-07-05", "2026-07-31"]))  # Mon, Wed, Sun, Fri
    assert S.step_of(days, "W").tolist() == [pd.Timestamp("2026-07-05")] * 3 + [pd.Timestamp("2026-08-02")]
    assert S.step_of(days, "M").tolist() == [pd.Timestamp("2026-06-01")] + [pd.Timestamp("2026-07-01")] * 3
    with pytest.raises(S.SummaryError, match="weeks \\(W\\) or months \\(M\\), not 'D'"):
        S.step_of(days, "D")


# --------------------------------------------------------------------------- daily aligned


def test_align_daily_scales_each_whole_week_to_the_weekly_forecast():
    week = pd.date_range("2026-06-29", "2026-07-05", freq="D")  # Mon .. Sun: one whole week
    a = pd.DataFrame({"unique_id": "a", "ds": week, "yhat": [1.0, 2, 3, 4, 5, 6, 7]})  # Σ 28
    a = a.assign(lo=a["yhat"] - 0.5, hi=a["yhat"] + 1.0)
    b = pd.DataFrame({"unique_id": "b", "ds": week, "yhat": 2.0, "lo": 0.0, "hi": 4.0})  # Σ 14
    daily = pd.concat([a, b], ignore_index=True)
    weekly = pd.DataFrame({"unique_id": ["a", "b"], "ds": pd.to_datetime(["2026-07-05"] * 2), "yhat": [56.0, 7.0]})
    out, n = S.align_daily(daily, weekly, "W")
    assert n == 2
    oa, ob = out[out["unique_id"] == "a"], out[out["unique_id"] == "b"]
    # a: × 56 / 28 = 2; each day moved by its own yhat, the interval keeps its width
    assert oa["yhat"].tolist() == [2.0, 4, 6, 8, 10, 12, 14]
    assert oa["lo"].tolist() == [1.5, 3.5, 5.5, 7.5, 9.5, 11.5, 13.5]
    assert oa["hi"].tolist() == [3.0, 5, 7, 9, 11, 13, 15]
    # b: × 7 / 14 = 0.5 -> 1 a day, moved by −1: lo −1 clipped at 0, hi 3
    assert ob["yhat"].tolist() == [1.0] * 7 and ob["lo"].tolist() == [0.0] * 7 and ob["hi"].tolist() == [3.0] * 7
    assert daily["yhat"].sum() == 42.0  # the input is left as it was


def test_align_daily_leaves_partial_steps_and_steps_without_a_forecast():
    days = pd.date_range("2026-07-02", "2026-07-12", freq="D")  # Thu .. Sun: the week to 07-05 is partial
    daily = pd.DataFrame({"unique_id": "a", "ds": days, "yhat": 3.0, "lo": 1.0, "hi": 5.0})
    weekly = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2026-07-05", "2026-07-12"]), "yhat": [100.0, 42.0]})
    out, n = S.align_daily(daily, weekly, "W")
    assert n == 1
    assert out["yhat"].tolist() == [3.0] * 4 + [6.0] * 7  # the partial week untouched, the whole one × 42 / 21
    zero = daily.assign(yhat=0.0)
    assert S.align_daily(zero, weekly, "W")[1] == 0  # Σ daily = 0: nothing to scale
    assert S.align_daily(daily, weekly.iloc[:0], "W")[1] == 0


def test_align_daily_with_months():
    days = pd.date_range("2026-02-01", "2026-03-10", freq="D")  # all of February (28 days), part of March
    daily = pd.DataFrame({"unique_id": "a", "ds": days, "yhat": 1.0, "lo": 0.0, "hi": 2.0})
    monthly = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2026-02-01", "2026-03-01"]), "yhat": [70.0, 1.0]})
    out, n = S.align_daily(daily, monthly, "M")
    assert n == 1
    feb = out[out["ds"] < "2026-03-01"]
    assert len(feb) == 28 and feb["yhat"].eq(2.5).all() and feb["lo"].eq(1.5).all() and feb["hi"].eq(3.5).all()
    assert out.loc[out["ds"] >= "2026-03-01", "yhat"].eq(1.0).all()


def test_daily_forecasts_are_aligned_with_whole_weeks_and_months():
    days = pd.date_range("2026-06-25", "2026-07-12", freq="D")  # Thu .. Sun: one partial week, two whole ones
    daily = pd.DataFrame({"unique_id": "a", "ds": days, "yhat": 1.0, "lo": 0.5, "hi": 2.0})
    weekly = pd.DataFrame({"unique_id": ["a", "a", "a", "b"], "ds": pd.to_datetime(["2026-06-28", "2026-07-05", "2026-07-12", "2026-07-05"]),
                           "yhat": [100.0, 14.0, 0.0, 5.0]})
    out, n = S.align_daily(daily, weekly, "W")
    assert n == 2  # the week to 06-28 is only partly forecast daily; b has no daily forecast
    by_week = out.groupby(S.step_of(out["ds"], "W"))[["yhat", "lo", "hi"]].sum()
    assert by_week["yhat"].tolist() == [4.0, 14.0, 0.0]
    week = out[S.step_of(out["ds"], "W") == pd.Timestamp("2026-07-05")]
    assert (week["hi"] - week["yhat"]).tolist() == [1.0] * 7 and week["lo"].eq(1.5).all()  # the interval moves with yhat
    gone = out[S.step_of(out["ds"], "W") == pd.Timestamp("2026-07-12")]
    assert gone["lo"].eq(0).all() and gone["hi"].eq(1.0).all()  # scaled to 0: lo clipped, the width above kept
    assert daily["yhat"].eq(1.0).all()  # the input is not modified

    days = pd.date_range("2026-07-01", "2026-08-15", freq="D")
    daily = pd.DataFrame({"unique_id": "a", "ds": days, "yhat": 2.0, "lo": 1.0, "hi": 3.0})
    monthly = pd.DataFrame({"unique_id": "a", "ds": pd.to_datetime(["2026-07-01", "2026-08-01"]), "yhat": [31.0, 99.0]})
    out, n = S.align_daily(daily, monthly, "M")
    assert n == 1 and out.loc[out["ds"] < "2026-08-01", "yhat"].sum() == 31.0 and out.loc[out["ds"] >= "2026-08-01", "yhat"].eq(2.0).all()
    assert S.align_daily(daily.iloc[:0], monthly, "M")[1] == 0


# --------------------------------------------------------------------------- nodes combined


def test_combine_nodes_by_hand():
    ds = pd.to_datetime(["2026-07-05", "2026-07-12"])
    fc = pd.DataFrame({
        "unique_id": ["a", "a", "b", "b", "c", "c"], "ds": [ds[0], ds[1]] * 3,
        "yhat": [10.0, 1.0, 5.0, 1.0, 4.0, 4.0],
        # a: σ 6 and 0.3; b: σ 8 and 0.4, symmetric 80 % intervals; c has none
        "lo": [10 - 6 * Z80, 1 - 0.3 * Z80, 5 - 8 * Z80, 1 - 0.4 * Z80, np.nan, np.nan],
        "hi": [10 + 6 * Z80, 1 + 0.3 * Z80, 5 + 8 * Z80, 1 + 0.4 * Z80, np.nan, np.nan],
    })
    one = S.combine_nodes(fc, ["b"], 80)
    assert list(one.columns) == ["ds", "yhat", "lo", "hi"] and one["yhat"].tolist() == [5.0, 1.0]
    assert one["lo"].iloc[0] == pytest.approx(5 - 8 * Z80)  # one node: as it is, not clipped
    both = S.combine_nodes(fc, ["a", "b"], 80)
    assert both["yhat"].tolist() == [15.0, 2.0]
    # σ = √(6² + 8²) = 10 and √(0.3² + 0.4²) = 0.5
    assert both["hi"].tolist() == pytest.approx([15 + 10 * Z80, 2 + 0.5 * Z80], rel=1e-9)
    assert both["lo"].tolist() == pytest.approx([15 - 10 * Z80, 2 - 0.5 * Z80], rel=1e-9)
    small = pd.DataFrame({"unique_id": ["d", "e"], "ds": [ds[0], ds[0]], "yhat": [1.0, 1.0],
                          "lo": [1 - 3 * Z80, 1 - 4 * Z80], "hi": [1 + 3 * Z80, 1 + 4 * Z80]})
    clipped = S.combine_nodes(small, ["d", "e"], 80).iloc[0]
    assert clipped["lo"] == 0 and clipped["hi"] == pytest.approx(2 + 5 * Z80)  # 2 − 5·1.28 < 0: clipped at 0
    unknown = S.combine_nodes(fc, ["a", "c"], 80)
    assert unknown["yhat"].tolist() == [14.0, 5.0] and unknown["lo"].isna().all() and unknown["hi"].isna().all()


def test_combine_nodes_sums_forecasts_with_independent_errors():
    ds = pd.to_datetime(["2026-07-05"])
    z = z_value(80)
    fc = pd.DataFrame({"unique_id": ["a", "b"], "ds": [ds[0], ds[0]], "yhat": [10.0, 20.0], "lo": [10 - 3 * z, 20 - 4 * z], "hi": [10 + 3 * z, 20 + 4 * z]})
    one = S.combine_nodes(fc, ["a"], 80)
    assert one[["yhat", "lo", "hi"]].iloc[0].tolist() == pytest.approx([10, 10 - 3 * z, 10 + 3 * z])
    both = S.combine_nodes(fc, ["a", "b"], 80).iloc[0]
    assert both["yhat"] == 30 and both["hi"] == pytest.approx(30 + 5 * z)  # σ = √(3² + 4²)


def test_combine_landing_by_hand():
    rows = pd.DataFrame(
        {"period": "2026-Q3", "actual_to_date": [100.0, 20.0], "forecast_rest": [30.0, 10.0], "landing": [130.0, 30.0],
         "sigma": [6.0, 8.0], "target": [150.0, np.nan], "p_reach_target": [0.2, np.nan], "note": ["", ""]}
    )
    out = S.combine_landing(rows, 80)
    assert (out["actual_to_date"], out["forecast_rest"], out["landing"]) == (120.0, 40.0, 160.0)
    assert out["sigma"] == 10.0 and out["target"] == 150.0 and out["gap_to_target"] == -10.0  # a missing target counts as 0
    assert out["p_reach_target"] == pytest.approx(PHI_1, abs=1e-9)  # P(N(160, 10²) ≥ 150) = Φ(1)
    assert out["lo"] == pytest.approx(160 - 10 * Z80) and out["hi"] == pytest.approx(160 + 10 * Z80)
    assert out["period"] == "2026-Q3" and out["note"] == "sum of the rep's team stints"

    sure = S.combine_landing(rows.assign(sigma=0.0, actual_to_date=[150.0, 15.0]), 80)
    assert sure["p_reach_target"] == 1.0 and sure["lo"] == 165.0  # σ 0: certain; lo never below the actual (165)
    missed = S.combine_landing(rows.assign(sigma=0.0, target=[161.0, np.nan]), 80)
    assert missed["p_reach_target"] == 0.0
    untargeted = S.combine_landing(rows.assign(target=np.nan), 80)
    assert np.isnan(untargeted["target"]) and np.isnan(untargeted["p_reach_target"])
    assert S.combine_landing(rows.iloc[:1], 80)["p_reach_target"] == 0.2  # one row: as it is


def test_combine_landing():
    rows = pd.DataFrame(
        {"period": "2026-07", "actual_to_date": [100.0, 0.0], "forecast_rest": [50.0, 10.0], "landing": [150.0, 10.0],
         "sigma": [3.0, 4.0], "target": [165.0, np.nan], "p_reach_target": [0.1, np.nan], "note": ["", ""]}
    )
    one = S.combine_landing(rows.iloc[:1], 80)
    assert one["landing"] == 150 and one["p_reach_target"] == 0.1
    both = S.combine_landing(rows, 80)
    assert both["landing"] == 160 and both["sigma"] == 5 and both["target"] == 165
    assert both["p_reach_target"] == pytest.approx(0.158655, abs=1e-6)  # P(N(160, 5²) ≥ 165) = 1 − Φ(1)
    assert both["lo"] == pytest.approx(160 - z_value(80) * 5)


# --------------------------------------------------------------------------- backtests


def _error(uid: str, model: str, mase: float, actual: float, forecast: float, error: str | None = None) -> dict:
    return {"unique_id": uid, "model": model, "window": 1, "mase": mase, "smape": 10.0, "wape": np.nan, "bias": np.nan,
            "coverage": 80.0, "actual": actual, "forecast": forecast, "abs_error": abs(forecast - actual),
            "abs_actual": abs(actual), "error": error}


def test_backtest_summary_by_hand():
    region = "region/E"
    errors = pd.DataFrame([
        _error("company", "auto", 0.6, 100.0, 110.0), _error("company", "seasonal_naive", 1.0, 100.0, 120.0),
        _error("company", "theta", 0.5, 100.0, 105.0), _error("company", "ets", 0.4, 100.0, 104.0),
        _error(region, "auto", 0.8, 100.0, 70.0), _error(region, "seasonal_naive", 0.9, 100.0, 80.0),
        _error(region, "theta", 0.7, 100.0, 90.0), _error(region, "ets", 1.2, 100.0, 60.0),
        _error(region, "croston", np.nan, 100.0, 0.0, error="not intermittent"),  # left out
    ])
    statuses = pd.DataFrame({"unique_id": ["company", region], "status": "fitted", "model": ["theta", "theta"]})
    out = S.backtest_summary(errors, statuses)
    assert list(out.columns) == ["level", "model", "mase", "smape", "wape", "bias", "coverage_80", "series"]
    assert out["level"].tolist() == ["all"] * 4 + ["company"] * 4 + ["region"] * 4
    # all: auto (0.6+0.8)/2 = 0.7, seasonal naive 0.95, then theta 0.6 before ets 0.8
    assert out["model"].tolist() == ["auto", "seasonal_naive", "theta", "ets",
                                     "auto", "seasonal_naive", "ets", "theta",
                                     "auto", "seasonal_naive", "theta", "ets"]
    assert out["mase"].iloc[:4].tolist() == pytest.approx([0.7, 0.95, 0.6, 0.8])
    auto_all = out.iloc[0]
    assert auto_all["wape"] == pytest.approx(20.0)  # (10 + 30) / 200
    assert auto_all["bias"] == pytest.approx(-10.0)  # (+10 − 30) / 200
    assert auto_all["series"] == 2 and out.iloc[4]["series"] == 1
    assert out.iloc[8]["wape"] == pytest.approx(30.0) and out.iloc[8]["bias"] == pytest.approx(-30.0)
    empty = S.backtest_summary(errors.iloc[:0], statuses)
    assert empty.empty and list(empty.columns) == list(out.columns)


def test_backtest_summary_scores_auto_with_each_series_model():
    """A selection backtest (no ``auto`` rows): ``auto`` is each series' given model."""
    team = "region/E/team/T1"
    errors = pd.DataFrame([_error("company", "seasonal_naive", 1.0, 10.0, 10.0), _error("company", "theta", 0.5, 10.0, 10.0),
                           _error(team, "seasonal_naive", 0.8, 10.0, 10.0), _error(team, "theta", 0.9, 10.0, 10.0)])
    statuses = pd.DataFrame({"unique_id": ["company", team], "status": "fitted", "model": ["theta", "seasonal_naive"]})
    summary = S.backtest_summary(errors, statuses)
    first = summary[summary["level"] == "all"]
    assert first["model"].tolist() == ["auto", "seasonal_naive", "theta"]
    assert first["mase"].tolist() == pytest.approx([0.65, 0.9, 0.7])  # auto: (0.5 + 0.8) / 2
    assert summary["level"].unique().tolist() == ["all", "company", "team"]


def test_status_counts_in_order_of_attention():
    statuses = pd.DataFrame({"status": ["fitted", "fallback", "fitted", "skipped", "skipped", "skipped"]})
    counts = S.status_counts(statuses)
    assert counts == {"skipped": 3, "fallback": 1, "fitted": 2} and list(counts) == ["skipped", "fallback", "fitted"]
    assert S.status_counts(pd.DataFrame({"status": ["fitted", "skipped", "fitted"]})) == {"skipped": 1, "fitted": 2}
    assert S.status_counts(pd.DataFrame({"status": pd.Series([], dtype=str)})) == {}


def test_reconciliation_summary_by_hand():
    errors = pd.DataFrame({
        "unique_id": ["region/E", "region/E", "company", "company", "company", "company", "company", "company", "region/E"],
        "model": ["mint_shrink", "base", "base", "mint_shrink", "bottom_up", "base", "bottom_up", "base", "bottom_up"],
        "mase": [0.6, 1.2, 1.0, 0.7, 0.9, 2.0, 0.5, 6.0, 99.0],
        "error": [None] * 8 + ["singular matrix"],  # a failed window is left out
        "level": ["region", "region", "company", "company", "company", "company", "company", "company", "region"],
    })
    t = S.reconciliation_summary(errors)
    assert list(t.index) == ["company", "region"]  # company first, whatever the order of the rows
    assert list(t.columns) == ["base", "bottom_up", "mint_shrink"]  # base first
    assert t.loc["company"].tolist() == pytest.approx([3.0, 0.7, 0.7])  # (1 + 2 + 6) / 3, (0.9 + 0.5) / 2, 0.7
    assert t.loc["region", "base"] == pytest.approx(1.2) and t.loc["region", "mint_shrink"] == pytest.approx(0.6)
    assert np.isnan(t.loc["region", "bottom_up"])
    assert S.reconciliation_summary(errors.iloc[8:]).empty and S.reconciliation_summary(errors.iloc[:0]).empty


def test_reconciliation_summary_is_mean_mase_per_level_and_method():
    errors = pd.DataFrame({
        "unique_id": ["company", "company", "company", "company", "region/East", "region/East"],
        "model": ["base", "bottom_up", "base", "bottom_up", "base", "bottom_up"],
        "window": [1, 1, 2, 2, 1, 1], "mase": [1.0, 0.5, 3.0, 0.7, 0.9, 0.8], "error": [None] * 6,
        "level": ["company"] * 4 + ["region"] * 2,
    })
    t = S.reconciliation_summary(errors)
    assert list(t.index) == ["company", "region"] and list(t.columns) == ["base", "bottom_up"]
    assert t.loc["company", "base"] == pytest.approx(2.0) and t.loc["company", "bottom_up"] == pytest.approx(0.6)
    assert S.reconciliation_summary(errors.iloc[:0]).empty


def test_node_ids_used_here_are_the_hierarchy_s():
    """The literal node ids above are what reconcile makes (so the levels read from them are right)."""
    assert reconcile.node_id("region", "E") == "region/E" and reconcile.node_id("team", "E", "T1") == "region/E/team/T1"
