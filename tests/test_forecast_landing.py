"""Landing of the open month and quarter: hand-worked numbers, missing pieces, the toy ledger."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from salesml.accounting.performance import performance
from salesml.forecast.landing import (
    COLUMNS,
    LandingError,
    landing,
    landing_for_period,
    last_actual_date,
    open_period,
    period_actuals,
    period_targets,
    sigma_from_interval,
)
from salesml.forecast.panels import panel
from salesml.forecast.reconcile import COMPANY, hierarchy_panel, node_id

LEVEL = 80
Z = NormalDist().inv_cdf(0.5 + LEVEL / 200)  # 1.2816: an 80% interval is yhat ± 1.2816 σ
PHI = NormalDist().cdf


def days_of(uid: str, start: str, n: int, yhat: float, sigma: float) -> pd.DataFrame:
    """``n`` daily forecasts of ``yhat`` with an 80% interval of ± Z σ (lower bound clipped at 0)."""
    ds = pd.date_range(start, periods=n)
    return pd.DataFrame({"unique_id": uid, "ds": ds, "yhat": yhat, "lo": max(yhat - Z * sigma, 0.0), "hi": yhat + Z * sigma})


def test_sigma_from_interval_uses_the_upper_half_when_the_lower_bound_was_clipped():
    # symmetric: 10 ± 2Z -> σ = 2
    assert sigma_from_interval([10.0], [10 - 2 * Z], [10 + 2 * Z], LEVEL)[0] == pytest.approx(2.0)
    # yhat 1, σ 2: lo = max(1 - 2.56, 0) = 0, hi = 3.56; (hi - lo) / 2Z would say 1.39, (hi - yhat) / Z says 2
    assert sigma_from_interval([1.0], [0.0], [1 + 2 * Z], LEVEL)[0] == pytest.approx(2.0)
    assert np.isnan(sigma_from_interval([1.0], [np.nan], [np.nan], LEVEL)[0])


def test_landing_by_hand():
    actuals = pd.DataFrame({"unique_id": ["r"], "actual": [100.0]})
    rest = days_of("r", "2026-06-28", 3, yhat=10.0, sigma=2.0)
    targets = pd.DataFrame({"unique_id": ["r"], "target": [135.0]})
    row = landing(actuals, rest, targets, LEVEL).iloc[0]
    # landing = 100 + 3 x 10 = 130; independent days: σ = √(3 x 2²) = 3.4641
    sigma = math.sqrt(3 * 2.0**2)
    assert row["landing"] == pytest.approx(130.0) and row["forecast_rest"] == pytest.approx(30.0)
    assert row["sigma"] == pytest.approx(sigma)
    assert (row["lo"], row["hi"]) == (pytest.approx(130 - Z * sigma), pytest.approx(130 + Z * sigma))  # 125.56, 134.44
    # P(landing >= 135) = 1 - Φ((135 - 130) / 3.4641) = 1 - Φ(1.4434) = 0.0745
    assert row["p_reach_target"] == pytest.approx(1 - PHI(5 / sigma)) and row["p_reach_target"] == pytest.approx(0.0745, abs=1e-4)
    assert row["gap_to_target"] == pytest.approx(5.0) and row["note"] == "" and row["days_forecast"] == 3
    # perfectly correlated days: σ = 3 x 2 = 6, P = 1 - Φ(5 / 6) = 0.2023
    perfect = landing(actuals, rest, targets, LEVEL, dependence="perfect").iloc[0]
    assert perfect["sigma"] == pytest.approx(6.0)
    assert perfect["p_reach_target"] == pytest.approx(1 - PHI(5 / 6)) and perfect["p_reach_target"] == pytest.approx(0.2023, abs=1e-4)
    assert list(landing(actuals, rest, targets, LEVEL).columns) == COLUMNS


def test_the_lower_bound_never_falls_below_the_actual_to_date():
    actuals = pd.DataFrame({"unique_id": ["r"], "actual": [50.0]})
    rest = days_of("r", "2026-06-29", 2, yhat=1.0, sigma=10.0)  # lower bounds clipped at 0
    row = landing(actuals, rest, pd.DataFrame({"unique_id": ["r"], "target": [60.0]}), LEVEL).iloc[0]
    # landing 52, σ = 10√2 = 14.14: 52 - 1.28 x 14.14 = 33.9 would be below what is already sold
    assert row["landing"] == pytest.approx(52.0) and row["lo"] == pytest.approx(50.0)
    assert row["hi"] == pytest.approx(52 + Z * 10 * math.sqrt(2))


def test_missing_target_forecast_and_short_forecasts_give_notes_not_errors():
    actuals = pd.DataFrame({"unique_id": ["has_all", "no_target", "no_forecast", "short"], "actual": [10.0, 10.0, 10.0, 10.0]})
    rest = pd.concat(
        [days_of("has_all", "2026-06-28", 3, 5.0, 1.0), days_of("no_target", "2026-06-28", 3, 5.0, 1.0),
         days_of("short", "2026-06-28", 2, 5.0, 1.0), days_of("new_rep", "2026-06-28", 3, 2.0, 1.0)]
    )
    targets = pd.DataFrame({"unique_id": ["has_all", "no_forecast", "short", "no_target"], "target": [20.0, 20.0, 20.0, np.nan]})
    out = landing(actuals, rest, targets, LEVEL).set_index("unique_id")
    assert out.loc["has_all", "landing"] == pytest.approx(25.0) and out.loc["has_all", "note"] == ""
    assert np.isnan(out.loc["no_target", "p_reach_target"]) and out.loc["no_target", "landing"] == pytest.approx(25.0)
    assert out.loc["no_target", "note"] == "no target for the period: no probability"
    assert np.isnan(out.loc["no_forecast", "landing"]) and "no forecast for the 3 remaining day(s)" in out.loc["no_forecast", "note"]
    assert np.isnan(out.loc["short", "landing"]) and "covers 2 of 3 remaining day(s)" in out.loc["short", "note"]
    # a series with a forecast but no sales yet starts from 0, and without a target has no probability
    assert out.loc["new_rep", "actual_to_date"] == 0.0 and out.loc["new_rep", "landing"] == pytest.approx(6.0)
    assert "no target" in out.loc["new_rep", "note"]
    # the caller says how many days remain: a 3-day forecast of a 5-day rest is short
    assert landing(actuals, rest, targets, LEVEL, remaining_days=5)["landing"].isna().all()


def test_a_finished_period_lands_on_its_actuals():
    actuals = pd.DataFrame({"unique_id": ["a", "b"], "actual": [100.0, 80.0]})
    empty = days_of("a", "2026-07-01", 0, 1.0, 1.0)
    targets = pd.DataFrame({"unique_id": ["a", "b"], "target": [90.0, 90.0]})
    out = landing(actuals, empty, targets, LEVEL).set_index("unique_id")
    assert out["landing"].tolist() == [100.0, 80.0] and out["sigma"].tolist() == [0.0, 0.0]
    assert out["p_reach_target"].tolist() == [1.0, 0.0]  # certain either way


def test_landing_checks_its_inputs_and_is_pure():
    actuals = pd.DataFrame({"unique_id": ["r"], "actual": [1.0]})
    rest = days_of("r", "2026-06-28", 2, 1.0, 1.0)
    targets = pd.DataFrame({"unique_id": ["r"], "target": [2.0]})
    before = (actuals.copy(), rest.copy(), targets.copy())
    landing(actuals, rest, targets, LEVEL)
    for df, was in zip((actuals, rest, targets), before, strict=True):
        pd.testing.assert_frame_equal(df, was)
    with pytest.raises(LandingError, match="dependence must be one of"):
        landing(actuals, rest, targets, LEVEL, dependence="some")
    with pytest.raises(LandingError, match="missing hi"):
        landing(actuals, rest.drop(columns="hi"), targets, LEVEL)
    with pytest.raises(LandingError, match="more than one row for 'r'"):
        landing(pd.concat([actuals, actuals]), rest, targets, LEVEL)


def test_open_periods():
    june_end = open_period("month", "2026-06-30")
    assert (june_end.label, june_end.remaining_days, june_end.months) == ("2026-07", 31, ("2026-07",))
    may = open_period("month", "2026-05-20")
    assert (may.label, may.start, may.end, may.remaining_days) == ("2026-05", pd.Timestamp("2026-05-01"), pd.Timestamp("2026-05-31"), 11)
    q2 = open_period("quarter", "2026-05-20")
    # 11 days of May + 30 of June
    assert (q2.label, q2.months, q2.remaining_days) == ("2026-Q2", ("2026-04", "2026-05", "2026-06"), 41)
    assert open_period("quarter", "2026-06-30").label == "2026-Q3"
    with pytest.raises(LandingError, match="period must be one of"):
        open_period("week", "2026-06-30")


def test_targets_per_node_as_the_performance_figures_have_them(toy_con):
    t = period_targets(toy_con, ["2024-02"]).set_index("unique_id")["target"]
    # February: R1 200 (T1, East); R2 160 and R3 250 (T2, West: R2's target follows their last stint)
    assert t[node_id("rep", "East", "T1", "R1")] == 200
    assert t[node_id("rep", "West", "T2", "R2")] == 160
    assert t[node_id("team", "West", "T2")] == 410 and t[node_id("region", "West")] == 410
    assert t[node_id("team", "East", "T1")] == 200 and t[COMPANY] == 610
    assert t[COMPANY] == performance(toy_con, "2024-02", "company")["target_revenue"].iloc[0]
    # two months add up: January 350 + February 610
    assert period_targets(toy_con, ["2024-01", "2024-02"]).set_index("unique_id").loc[COMPANY, "target"] == 350 + 610


def test_actuals_to_date_from_the_ledger(toy_con):
    assert last_actual_date(toy_con) == pd.Timestamp("2024-02-25")  # RT2, the last event
    a = period_actuals(toy_con, open_period("month", "2024-02-11")).set_index("unique_id")["actual"]
    # up to 11 February: SO5 50 (R2, still in T1/East), SO7 200 (R1), SO8 200 (R3, T2/West)
    assert a[COMPANY] == 450
    assert a[node_id("region", "East")] == 250 and a[node_id("team", "East", "T1")] == 250
    assert a[node_id("rep", "East", "T1", "R2")] == 50 and a[node_id("region", "West")] == 200
    full = period_actuals(toy_con, open_period("month", "2024-02-25")).set_index("unique_id")["actual"]
    assert full[COMPANY] == performance(toy_con, "2024-02", "company")["revenue"].iloc[0] == 510


def test_the_toy_hierarchy_has_the_nodes_landing_reports_on(toy_con, toy_wh):
    Y_df, S_df, tags = hierarchy_panel(toy_con, "D", toy_wh.performance)
    totals = Y_df.groupby("unique_id")["y"].sum()
    regions = panel(toy_con, "region", "D").groupby("unique_id")["y"].sum()
    assert totals[COMPANY] == 860  # 350 in January + 510 in February (see test_forecast_panels)
    assert totals[node_id("region", "East")] == regions["East"] and totals[node_id("region", "West")] == regions["West"]
    # R2 moved from T1 (East) to T2 (West) on 15 February: two bottom series, one per team
    assert {node_id("rep", "East", "T1", "R2"), node_id("rep", "West", "T2", "R2")} <= set(tags["rep"])
    # the nodes that have sales or targets in February are nodes of the hierarchy
    feb = open_period("month", "2024-02-25")
    nodes = set(S_df["unique_id"])
    assert set(period_actuals(toy_con, feb)["unique_id"]) <= nodes
    assert set(period_targets(toy_con, feb.months).dropna()["unique_id"]) <= nodes
    _, west_S, west_tags = hierarchy_panel(toy_con, "D", toy_wh.performance, scope="region:West")
    assert set(west_tags) == {"region", "team", "rep"} and west_S["unique_id"].iloc[0] == node_id("region", "West")


def test_landing_of_the_toy_month_and_quarter(toy_con, toy_wh):
    _, S_df, _ = hierarchy_panel(toy_con, "D", toy_wh.performance)
    # every node: 9 a day, σ 5, over the 18 days left in February after the 11th
    fc = pd.concat([days_of(uid, "2024-02-12", 18, 9.0, 5.0) for uid in S_df["unique_id"]], ignore_index=True)
    month = landing_for_period(toy_con, fc, "month", as_of="2024-02-11", settings=toy_wh)
    assert month["level"].tolist()[:3] == ["company", "region", "region"] and set(month["period"]) == {"2024-02"}
    company = month.set_index("unique_id").loc[COMPANY]
    # 450 + 18 x 9 = 612 against 610; σ = 5√18 = 21.21; P = Φ((612 - 610) / 21.21) = 0.538
    assert company["landing"] == pytest.approx(612.0)
    assert company["p_reach_target"] == pytest.approx(PHI(2 / (5 * math.sqrt(18))))
    r2_east = month.set_index("unique_id").loc[node_id("rep", "East", "T1", "R2")]
    assert np.isnan(r2_east["p_reach_target"]) and "no target" in r2_east["note"]
    # the quarter has 49 days left (18 in February, 31 in March) and no targets: notes, no crash
    quarter = landing_for_period(toy_con, fc, "quarter", as_of="2024-02-11", settings=toy_wh)
    assert quarter["landing"].isna().all() and quarter["p_reach_target"].isna().all()
    assert quarter["note"].str.contains("covers 18 of 49 remaining day").all()
    assert quarter["note"].str.contains("no target").all()
