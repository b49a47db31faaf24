"""The sales hierarchy and coherent forecasts: hand-worked toys, each method, the warehouse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml import warehouse
from salesml.forecast.models import Naive, SeasonalNaive
from salesml.forecast.panels import panel
from salesml.forecast.reconcile import (
    COMPANY,
    HierarchyError,
    build_hierarchy,
    coherence_gap,
    hierarchy_panel,
    node_id,
    node_level,
    present_levels,
    reconcile,
    seasonal_naive_fitted,
)

A = node_id("rep", "East", "T1", "A")
B = node_id("rep", "East", "T1", "B")
C = node_id("rep", "West", "T2", "C")
T1, T2 = node_id("team", "East", "T1"), node_id("team", "West", "T2")
EAST, WEST = node_id("region", "East"), node_id("region", "West")
METHODS = ("bottom_up", "mint_ols", "mint_shrink")


def toy_bottom(days: int = 3, rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Reps A and B in team T1 (East), rep C in team T2 (West): A = 1, 2, 3..., B = A + 3, C = 10
    (plus noise when ``rng`` is given)."""
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    t = np.arange(1, days + 1, dtype="float64")
    values = {"A": t, "B": t + 3, "C": np.full(days, 10.0)}
    rows = []
    for (region, team, rep), y in zip([("East", "T1", "A"), ("East", "T1", "B"), ("West", "T2", "C")], values.values(), strict=True):
        noise = rng.normal(0, 2, days) if rng is not None else 0.0
        rows.append(pd.DataFrame({"region": region, "team": team, "rep": rep, "ds": ds, "y": np.clip(y + noise, 0, None)}))
    return pd.concat(rows, ignore_index=True)


def base_forecasts(values: dict[str, float], dates: pd.DatetimeIndex, half: float = 1.0) -> pd.DataFrame:
    """The same yhat on every date, with an interval of yhat ± ``half``."""
    return pd.DataFrame(
        [{"unique_id": uid, "ds": d, "yhat": v, "lo": v - half, "hi": v + half, "model": "by_hand"} for uid, v in values.items() for d in dates]
    )


def assert_coherent(rec: pd.DataFrame, S_df: pd.DataFrame) -> None:
    """Every node equals the sum of its reps on every date, and nothing is negative."""
    assert coherence_gap(rec, S_df) < 1e-6
    wide = rec.pivot(index="unique_id", columns="ds", values="yhat")
    reps = [c for c in S_df.columns if c != "unique_id"]
    for parent in S_df["unique_id"]:
        children = [r for r in reps if r.startswith(parent + "/") or parent == COMPANY]
        if parent in reps:
            continue
        np.testing.assert_allclose(wide.loc[parent], wide.loc[children].sum(), rtol=1e-6, atol=1e-9)
    assert (rec[["yhat", "lo", "hi"]] >= 0).all().all()
    assert (rec["lo"] <= rec["yhat"]).all() and (rec["yhat"] <= rec["hi"]).all()


def test_node_ids_are_unique_across_levels_and_say_their_level():
    assert node_id("company") == "company"
    assert node_id("region", "East China") == "region/East China"
    assert node_id("team", "East China", "T03") == "region/East China/team/T03"
    assert node_id("rep", "East China", "T03", "R017") == "region/East China/team/T03/rep/R017"
    assert [node_level(u) for u in ("company", EAST, T1, A, "not/a/node")] == ["company", "region", "team", "rep", None]
    with pytest.raises(HierarchyError, match="needs its team"):
        node_id("rep", "East", None, "A")


def test_build_hierarchy_by_hand():
    Y_df, S_df, tags = build_hierarchy(toy_bottom())
    assert {k: sorted(v) for k, v in tags.items()} == {
        "company": ["company"], "region": [EAST, WEST], "team": [T1, T2], "rep": [A, B, C],
    }
    # S: one row per node, one column per rep; the reps' rows are the identity, last
    S = S_df.set_index("unique_id")[[A, B, C]]
    assert S.loc[COMPANY].tolist() == [1, 1, 1]
    assert S.loc[EAST].tolist() == S.loc[T1].tolist() == [1, 1, 0]
    assert S.loc[WEST].tolist() == S.loc[T2].tolist() == [0, 0, 1]
    assert set(S_df["unique_id"].tolist()[-3:]) == {A, B, C}
    y = Y_df.pivot(index="unique_id", columns="ds", values="y")
    # A = 1, 2, 3; B = 4, 5, 6; C = 10 -> T1 = East = 5, 7, 9; company = 15, 17, 19
    assert y.loc[T1].tolist() == y.loc[EAST].tolist() == [5.0, 7.0, 9.0]
    assert y.loc[WEST].tolist() == [10.0, 10.0, 10.0]
    assert y.loc[COMPANY].tolist() == [15.0, 17.0, 19.0]


def test_an_absent_rep_hierarchy_is_not_rebuilt_as_copies_of_the_regions():
    """Order lines with regions but no reps loaded: every team and rep is "(unassigned)". The
    hierarchy is company -> regions, with no team or rep level copying the regions."""
    un = "(unassigned)"
    bottom = toy_bottom().drop_duplicates(["region", "ds"]).assign(team=un, rep=un)
    levels = present_levels(bottom, ("company", "region", "team", "rep"), un)
    assert levels == ("company", "region")
    Y_df, S_df, tags = build_hierarchy(bottom, levels)
    assert set(tags) == {"company", "region"} and sorted(tags["region"]) == [EAST, WEST]
    assert set(S_df["unique_id"]) == {COMPANY, EAST, WEST}
    assert Y_df.groupby("unique_id")["y"].sum().to_dict() == {COMPANY: 6 + 30.0, EAST: 6.0, WEST: 30.0}
    # nothing at all: the company alone
    flat = bottom.assign(region=un).groupby(["region", "team", "rep", "ds"], as_index=False)["y"].sum()
    assert present_levels(flat, ("company", "region", "team", "rep"), un) == ("company",)
    Y_df, S_df, tags = build_hierarchy(flat, ("company",))
    assert set(Y_df["unique_id"]) == {COMPANY} and list(tags) == ["company"]


def test_build_hierarchy_below_a_scope_and_with_awkward_names():
    bottom = toy_bottom().replace({"region": {"East": "East/North"}})
    Y_df, S_df, tags = build_hierarchy(bottom, ("region", "team", "rep"))
    assert set(tags) == {"region", "team", "rep"} and COMPANY not in set(S_df["unique_id"])
    assert "region/East/North/team/T1/rep/A" in set(S_df["unique_id"])
    with pytest.raises(HierarchyError, match="holds several reps per node"):
        build_hierarchy(bottom, ("company", "region"))


def test_bottom_up_by_hand_with_shifted_intervals():
    Y_df, S_df, tags = build_hierarchy(toy_bottom())
    dates = pd.date_range("2024-01-04", periods=2)
    # incoherent base forecasts: the reps add up to 2 + 5 + 10 = 17, the company says 20
    base = base_forecasts({A: 2, B: 5, C: 10, T1: 9, T2: 10, EAST: 9, WEST: 12, COMPANY: 20}, dates)
    rec = reconcile(base, Y_df, S_df, tags, "bottom_up")
    y = rec.groupby("unique_id")["yhat"].first()
    assert y[[A, B, C]].tolist() == [2, 5, 10]
    assert y[[T1, EAST, T2, WEST, COMPANY]].tolist() == [7, 7, 10, 10, 17]
    # the interval moves with the adjustment: T1 was 9 ± 1, reconciled 7 -> [6, 8]; company 20 ± 1 -> [16, 18]
    row = rec.set_index("unique_id").loc[[T1, COMPANY]].groupby(level=0).first()
    assert row.loc[T1, ["lo", "hi"]].tolist() == [6, 8]
    assert row.loc[COMPANY, ["lo", "hi", "yhat_base"]].tolist() == [16, 18, 20]
    assert set(rec["method"]) == {"bottom_up"} and set(rec["model"]) == {"by_hand"}
    assert_coherent(rec, S_df)


def test_mint_ols_matches_the_textbook_formula():
    Y_df, S_df, tags = build_hierarchy(toy_bottom())
    dates = pd.date_range("2024-01-04", periods=2)
    values = {A: 2, B: 5, C: 10, T1: 9, T2: 10, EAST: 9, WEST: 12, COMPANY: 20}
    rec = reconcile(base_forecasts(values, dates), Y_df, S_df, tags, "mint_ols")
    # OLS reconciliation: y~ = S (S'S)^-1 S' y^ (all positive here, so the non-negativity
    # constraint does not bind and the constrained solution is the same)
    S = S_df[[A, B, C]].to_numpy(dtype=float)
    y_hat = np.array([values[u] for u in S_df["unique_id"]], dtype=float)
    expected = S @ np.linalg.solve(S.T @ S, S.T @ y_hat)
    got = rec.groupby("unique_id")["yhat"].first().reindex(S_df["unique_id"]).to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    assert_coherent(rec, S_df)


def test_every_method_stays_non_negative_and_coherent_when_the_formula_would_go_negative():
    Y_df, S_df, tags = build_hierarchy(toy_bottom(60, np.random.default_rng(0)))
    dates = pd.date_range("2024-03-01", periods=3)
    # East says 0 while the company says 0 too and C says 10: unconstrained OLS pushes A and B below 0
    values = {A: 0, B: 0, C: 10, T1: 0, T2: 10, EAST: 0, WEST: 10, COMPANY: 0}
    S = S_df[[A, B, C]].to_numpy(dtype=float)
    y_hat = np.array([values[u] for u in S_df["unique_id"]], dtype=float)
    assert (np.linalg.solve(S.T @ S, S.T @ y_hat) < 0).any()
    base = base_forecasts(values, dates)
    for method in METHODS:
        rec = reconcile(base, Y_df, S_df, tags, method)
        assert_coherent(rec, S_df)
        assert len(rec) == len(base)


def test_mint_shrink_uses_the_in_sample_errors():
    Y_df, S_df, tags = build_hierarchy(toy_bottom(60, np.random.default_rng(1)))
    dates = pd.date_range("2024-03-01", periods=2)
    base = base_forecasts({A: 30, B: 33, C: 10, T1: 70, T2: 12, EAST: 70, WEST: 12, COMPANY: 90}, dates, half=3)
    default = reconcile(base, Y_df, S_df, tags, "mint_shrink")
    assert_coherent(default, S_df)
    bu = reconcile(base, Y_df, S_df, tags, "bottom_up")
    company = default.set_index("unique_id").loc[COMPANY, "yhat"]
    # the company's own forecast (90) pulls the total above the reps' sum (73)
    assert (company > bu.set_index("unique_id").loc[COMPANY, "yhat"]).all()
    # explicit fitted values (yesterday's value) give another weighting, still coherent
    yesterday = Y_df.assign(yhat=Y_df.groupby("unique_id")["y"].shift(1))[["unique_id", "ds", "yhat"]]
    assert_coherent(reconcile(base, Y_df, S_df, tags, "mint_shrink", fitted=yesterday), S_df)


def test_seasonal_naive_fitted_is_the_value_one_season_earlier():
    Y_df = pd.DataFrame({"unique_id": "x", "ds": pd.date_range("2024-01-01", periods=10), "y": np.arange(1.0, 11.0)})
    fit = seasonal_naive_fitted(Y_df)  # daily -> season 7
    assert fit["yhat"].isna().sum() == 7
    assert fit["yhat"].iloc[7:].tolist() == [1.0, 2.0, 3.0]
    assert len(Y_df) == 10 and "yhat" not in Y_df  # pure


def test_reconcile_says_what_is_wrong():
    Y_df, S_df, tags = build_hierarchy(toy_bottom())
    dates = pd.date_range("2024-01-04", periods=2)
    full = base_forecasts({A: 2, B: 5, C: 10, T1: 9, T2: 10, EAST: 9, WEST: 12, COMPANY: 20}, dates)
    with pytest.raises(HierarchyError, match="method must be one of"):
        reconcile(full, Y_df, S_df, tags, "top_down")
    with pytest.raises(HierarchyError, match="no base forecast for 1 node"):
        reconcile(full[full["unique_id"] != WEST], Y_df, S_df, tags, "bottom_up")
    with pytest.raises(HierarchyError, match="same dates"):
        reconcile(full.drop(index=full.index[-1]), Y_df, S_df, tags, "bottom_up")
    before = full.copy()
    reconcile(full, Y_df, S_df, tags, "bottom_up")
    pd.testing.assert_frame_equal(full, before)  # pure


def _forecast_every_node(Y_df: pd.DataFrame, horizon: int) -> pd.DataFrame:
    parts = []
    for uid, g in Y_df.groupby("unique_id"):
        history = g[["ds", "y"]].reset_index(drop=True)
        model = SeasonalNaive() if len(history) >= 2 * 7 else Naive()
        parts.append(model.forecast(history, horizon, "D").assign(unique_id=uid))
    return pd.concat(parts, ignore_index=True)


def test_small_demo_hierarchy_adds_up_and_reconciles(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        Y_df, S_df, tags = hierarchy_panel(con, "D", small_demo.performance, start="2026-03-01")
        panels = {lv: panel(con, lv, "D", start="2026-03-01") for lv in ("company", "region", "team")}
        east_Y, east_S, east_tags = hierarchy_panel(con, "D", small_demo.performance, scope="region:East China", start="2026-03-01")
    # a region's own hierarchy starts at the region, and is that region's part of the whole
    assert set(east_tags) == {"region", "team", "rep"} and list(east_tags["region"]) == [node_id("region", "East China")]
    assert set(east_S["unique_id"]) <= set(S_df["unique_id"])
    pd.testing.assert_frame_equal(
        east_Y.sort_values(["unique_id", "ds"]).reset_index(drop=True),
        Y_df[Y_df["unique_id"].isin(east_S["unique_id"])].sort_values(["unique_id", "ds"]).reset_index(drop=True),
    )
    # each level of the hierarchy holds the same revenue as the panel of that level, day by day
    for level, p in panels.items():
        mine = Y_df[Y_df["unique_id"].isin(tags[level])].groupby("ds")["y"].sum()
        np.testing.assert_allclose(mine.to_numpy(), p.groupby("ds")["y"].sum().reindex(mine.index).to_numpy(), rtol=1e-9)
    assert len(tags["region"]) == panels["region"]["unique_id"].nunique()
    assert set(Y_df["unique_id"]) == set(S_df["unique_id"]) and set(tags) == {"company", "region", "team", "rep"}
    base = _forecast_every_node(Y_df, 14)
    for method in ("bottom_up", "mint_shrink"):
        rec = reconcile(base, Y_df, S_df, tags, method)
        assert_coherent(rec, S_df)
        assert rec["unique_id"].nunique() == len(S_df)


def test_the_reconciliation_backtest_scores_each_method_on_each_window():
    """Two windows of 2 days on the toy hierarchy: the base forecasts each window made, as
    given, and reconciled with the actuals before the window, scored against what happened."""
    from salesml.forecast.reconcile import backtest_reconciliation

    Y_df, S_df, tags = build_hierarchy(toy_bottom(days=30))
    windows = []
    for k, start in ((1, "2024-01-27"), (2, "2024-01-29")):
        dates = pd.date_range(start, periods=2)
        # the reps are right (A = day number, B = A + 3, C = 10); the company is 10 too high
        day = (dates[0] - pd.Timestamp("2024-01-01")).days + 1
        a, b = float(day), float(day + 3)
        values = {A: a, B: b, C: 10, T1: a + b, T2: 10, EAST: a + b, WEST: 10, COMPANY: a + b + 20}
        windows.append(base_forecasts(values, dates[:1]).assign(window=k))
    errors, notes = backtest_reconciliation(pd.concat(windows, ignore_index=True), Y_df, S_df, tags, "D")
    assert set(errors["model"]) == {"base", "bottom_up", "mint_ols", "mint_shrink"} and set(errors["window"]) == {1, 2}
    company = errors[errors["unique_id"] == COMPANY].set_index(["model", "window"])
    assert company.loc[("base", 1), "abs_error"] == pytest.approx(10)  # the company said 10 too much
    assert company.loc[("bottom_up", 1), "abs_error"] == pytest.approx(0)  # the reps add up to the truth
    assert company.loc[("base", 1), "cutoff"] == pd.Timestamp("2024-01-26") and company.loc[("base", 2), "cutoff"] == pd.Timestamp("2024-01-28")
    assert set(errors["level"]) == {"company", "region", "team", "rep"}
    rep_a = errors[(errors["unique_id"] == A) & (errors["model"] == "base")]
    assert (rep_a["abs_error"] == 0).all() and isinstance(notes, list)


def test_the_reconciliation_backtest_counts_a_node_that_had_not_sold_yet_as_zeros():
    """Rep C (and so team T2 and region West) starts selling inside the first window: before it
    C had sold nothing, and MinT still weighs every node, with zeros for C."""
    from salesml.forecast.reconcile import backtest_reconciliation

    bottom = toy_bottom(days=30)
    bottom = bottom[(bottom["rep"] != "C") | (bottom["ds"] >= pd.Timestamp("2024-01-28"))]
    Y_df, S_df, tags = build_hierarchy(bottom)
    dates = pd.date_range("2024-01-27", periods=2)
    values = {A: 27.0, B: 30.0, C: 5.0, T1: 57.0, T2: 5.0, EAST: 57.0, WEST: 5.0, COMPANY: 62.0}
    errors, _ = backtest_reconciliation(base_forecasts(values, dates).assign(window=1), Y_df, S_df, tags, "D")
    assert set(errors["model"]) == {"base", "bottom_up", "mint_ols", "mint_shrink"}
    c = errors[(errors["unique_id"] == C)].set_index("model")
    assert c.loc["base", "actual"] == pytest.approx(10)  # C sold 0 on the 27th and 10 on the 28th


def test_each_level_of_a_hierarchy_is_offered_the_pick_of_the_level_above(small_demo):
    """``by_level`` forecasts the levels top down and hands each one the picks of the level
    above it (region: the company's, team: the region level's; the reps choose alone among
    their own candidates); with a wide margin the region and team levels take the company's."""
    from dataclasses import replace

    from salesml.forecast.auto import forecast_and_backtest, picks_by_window
    from salesml.forecast.reconcile import by_level

    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        Y_df, _, _ = hierarchy_panel(con, "W", small_demo.performance)
    fs = replace(small_demo.forecast, models=("seasonal_naive", "theta", "naive"), rep_models=("seasonal_naive", "naive"),
                 workers=1, parent_margin=100.0)
    given = {}

    def run(panel, horizon, freq, settings, workers, progress, candidates, honest, parent_picks=None):
        given[node_level(panel["unique_id"].iloc[0])] = parent_picks
        return forecast_and_backtest(panel, horizon, freq, settings, workers, progress, candidates, honest, parent_picks)

    ev = by_level(run, Y_df, 4, "W", fs)
    picks = {lv: picks_by_window(g) for lv, g in ev.picks.groupby("level")}
    assert given == {"company": None, "region": picks["company"], "team": picks["region"], "rep": None}
    assert picks["region"] == picks["team"] == picks["company"]
    assert picks["rep"][0] in ("seasonal_naive", "naive")
    # with parent_margin = 0 no level is handed its parent's picks: each keeps its own earlier one instead
    given.clear()
    by_level(run, Y_df, 4, "W", replace(fs, parent_margin=0.0))
    assert given == {"company": None, "region": None, "team": None, "rep": None}
