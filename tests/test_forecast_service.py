"""Forecasting on the warehouse: run, reconcile, an honest backtest, reorder points, train."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml import registry, warehouse
from salesml.forecast import service
from salesml.forecast.auto import forecast_panel

#: fast candidates: the tests check the plumbing, tests/test_forecast_models.py the models
FAST = {"models": ["seasonal_naive", "theta"], "workers": 1}


@pytest.fixture(scope="module")
def demo(small_demo):
    return small_demo.with_overrides(forecast=FAST)


def test_clear_errors_for_bad_arguments(demo):
    for kwargs, message in [
        ({"level": "galaxy"}, "--level must be one of"),
        ({"freq": "Q"}, "--freq must be one of"),
        ({"model": "oracle"}, "--model must be auto or one of"),
        ({"reconcile": "magic"}, "--reconcile must be one of"),
        ({"level": "product", "reconcile": "bottom_up"}, "works on the sales hierarchy"),
    ]:
        with pytest.raises(service.ForecastError, match=message):
            service.check_args(**{"level": "region", "freq": "W", **kwargs})


def test_run_forecasts_every_series_with_a_status(demo):
    res = service.run(demo, "region", "W", horizon=4)
    regions = set(res.history["unique_id"])
    assert set(res.statuses["unique_id"]) == regions
    fitted = res.statuses.loc[res.statuses["status"] != "skipped", "unique_id"]
    assert res.forecasts.groupby("unique_id").size().loc[list(fitted)].eq(4).all()
    assert (res.forecasts[["yhat", "lo", "hi"]] >= 0).all().all()
    assert (res.forecasts["lo"] <= res.forecasts["yhat"]).all() and (res.forecasts["yhat"] <= res.forecasts["hi"]).all()
    # the demo's sales end before a Sunday: that week (ending Sunday) is partial, named, left out
    # of the history and not forecast; the first forecast week is the one after it
    with warehouse.connect(demo.warehouse_path, read_only=True) as con:
        last = pd.Timestamp(con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0])
    partial = last + pd.Timedelta(days=6 - last.weekday())
    assert last.weekday() != 6 and res.history["ds"].max() == partial - pd.Timedelta(weeks=1)
    assert res.forecasts["ds"].min() == partial + pd.Timedelta(weeks=1)
    assert any(f"the week ending {partial:%Y-%m-%d} is partial (data through {last:%Y-%m-%d})" in n for n in res.notes)
    assert {"auto", "seasonal_naive", "theta"} <= set(res.summary["model"])
    one = service.run(demo, "region", "W", horizon=4, model="seasonal_naive")
    assert set(one.forecasts["model"]) == {"seasonal_naive"}


def test_a_level_keeps_the_pick_of_the_level_above_within_the_margin(demo):
    """Region and category keep the company's pooled pick, team the region level's, unless
    their own scores more than ``parent_margin`` better; the rep and product levels, a single
    model, a margin of 0 and a parent outside the scope choose alone. On the small demo the
    regions alone pick otherwise than the company in the weekly windows: with a wide margin
    their honest scores become those of the company's picks."""
    wide = demo.with_overrides(forecast={"parent_margin": 100.0})
    alone = demo.with_overrides(forecast={"parent_margin": 0.0})
    levels = ("company", "region", "team", "rep", "category", "product")
    assert [service.parent_level(demo, lv) for lv in levels] == [None, "company", "region", None, "company", None]
    assert service.parent_level(demo, "team", scope="region:East China") == "region"
    assert service.parent_level(demo, "region", scope="region:East China") is None  # the company is outside the scope
    assert service.parent_level(demo, "category", scope="team:T01") is None
    assert service.parent_level(alone, "region") is None and service.parent_level(demo, "region", model="theta") is None
    company = service.parent_picks(wide, "region", "W", 4, 2)
    assert set(company) == {1, 2}
    assert service.parent_picks(wide, "team", "W", 4, 2) == company  # the region level kept the company's picks
    _, own = service.evaluate(alone, "region", "W", windows=2, horizon=4)
    _, kept = service.evaluate(wide, "region", "W", windows=2, horizon=4)
    scores = kept[kept["error"].isna()].set_index(["unique_id", "window", "model"])["mase"]
    autos = scores.xs("auto", level="model")
    for (uid, w), v in autos.items():
        assert v == pytest.approx(scores[(uid, w, company[w])])
    alone_autos = own[own["error"].isna() & (own["model"] == "auto")].set_index(["unique_id", "window"])["mase"]
    assert (alone_autos.reindex(autos.index) - autos).abs().max() > 1e-6, "the regions should pick otherwise alone"
    # the forecast keeps the company's pick of the whole history, and says so where it was not the region level's own
    run = service.run(wide, "region", "W", horizon=4)
    pick = service.parent_picks(wide, "region", "W", 4 + 1)[0]  # the demo's last week is partial: one more step
    fitted = run.statuses[run.statuses["status"] == "fitted"]
    assert len(fitted) and set(fitted["model"]) == {pick}


def test_reconciled_levels_add_up(demo, method="mint_shrink"):
    """(bottom_up and mint_ols are checked by hand in tests/test_forecast_reconcile.py)"""
    company = service.run(demo, "company", "W", horizon=3, model="seasonal_naive", reconcile=method).forecasts
    regions = service.run(demo, "region", "W", horizon=3, model="seasonal_naive", reconcile=method).forecasts
    summed = regions.groupby("ds")["yhat"].sum()
    assert np.allclose(summed.to_numpy(), company.set_index("ds")["yhat"].loc[summed.index].to_numpy(), rtol=1e-9)
    assert (regions["yhat"] >= 0).all()


def test_the_backtest_chooses_with_the_data_before_each_window_only():
    """``evaluate``'s auto row for a window is exactly the choice made on the history up to
    that window's cutoff: a series whose last window jumps cannot be foreseen."""
    rng = np.random.default_rng(3)
    ds = pd.date_range("2024-01-07", periods=80, freq="W-SUN")
    y = 100 + 10 * np.sin(np.arange(80) / 4) + rng.normal(0, 2, 80)
    y[-4:] += 500  # a jump in the last window nobody could know of
    panel = pd.DataFrame({"unique_id": "s", "ds": ds, "y": y})
    from salesml.config import Settings

    s = Settings().with_overrides(forecast=FAST)
    summary, errors = service.evaluate(s, "company", "W", windows=2, horizon=4, history=panel)
    auto = errors[errors["model"] == "auto"].set_index("window")
    expected, _, _ = forecast_panel(panel.iloc[:-4], 4, "W", s.forecast, workers=1)
    assert auto.loc[2, "forecast"] == pytest.approx(expected["yhat"].sum())
    assert auto.loc[2, "bias"] < -50  # the jump was not seen: a large under-forecast
    assert list(summary["model"][:2]) == ["auto", "seasonal_naive"]
    assert set(summary.columns) >= {"model", "mase", "smape", "wape", "coverage_80", "series"}


def test_reorder_points_from_the_demo_inventory(demo):
    table, notes = service.reorder(demo, model="seasonal_naive")
    assert len(table) and {"product_id", "warehouse", "reorder_point", "alert"} <= set(table.columns)
    ok = table.dropna(subset=["reorder_point"])
    assert (ok["reorder_point"] >= ok["demand_lead_time"]).all()  # safety stock is never negative
    assert (table["alert"] == ((table["on_hand"] + table["on_order"]) < table["reorder_point"])).all()


def test_train_stores_a_version_with_its_backtest(demo, tmp_path):
    s = demo.with_overrides(models={"dir": str(tmp_path / "models")})
    result = service.train(s, "region", "W", horizon=4, windows=2)
    assert result["version"] == "v0001"
    assert {"auto", "seasonal_naive"} <= set(result["metrics"])
    m = registry.manifest(s, "forecast")
    assert m["metrics"] == result["metrics"] and m["level"] == "region" and m["data_hash"]
    folder = registry.resolve(s, "forecast")
    fc = pd.read_csv(folder / "forecast.csv")
    assert set(fc.columns) >= {"unique_id", "ds", "yhat", "lo", "hi", "model"}
    # the forecasts are in the warehouse too, next to the actuals, as the registry has them
    stored = _stored_forecasts(s, "v0001")
    assert result["warehouse_rows"] == len(stored) == len(fc) > 0
    assert stored[["level", "freq", "interval_pct"]].drop_duplicates().values.tolist() == [["region", "W", 80.0]]
    want = fc.assign(ds=pd.to_datetime(fc["ds"])).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    for c in ("yhat", "lo", "hi"):
        assert stored[c].to_numpy() == pytest.approx(want[c].to_numpy(), rel=1e-12)
    assert stored["unique_id"].tolist() == want["unique_id"].astype(str).tolist() and stored["model"].tolist() == want["model"].tolist()
    assert (pd.to_datetime(stored["ds"]) == want["ds"]).all()
    # a version written again replaces its rows; another version keeps its own
    assert service.write_forecasts(s, "v0001", "region", "W", 80, fc) == len(fc)
    assert len(_stored_forecasts(s, "v0001")) == len(fc)
    again = service.train(s, "region", "W", horizon=2, windows=1)
    assert again["version"] == "v0002" and len(_stored_forecasts(s, "v0002")) == again["warehouse_rows"] < len(fc)
    assert len(_stored_forecasts(s, "v0001")) == len(fc)


def _stored_forecasts(settings, version: str) -> pd.DataFrame:
    with warehouse.open(settings, read_only=True) as con:
        return con.execute("SELECT * FROM forecasts WHERE version = ? ORDER BY unique_id, ds", [version]).df()


def test_train_saves_the_fitted_prophet_models_as_json(demo, tmp_path):
    """A version trained with Prophet holds each series' fitted Prophet object as Prophet's
    JSON; loaded back, it forecasts what the stored forecast says."""
    s = demo.with_overrides(models={"dir": str(tmp_path / "models")})
    result = service.train(s, "region", "W", horizon=3, windows=1, model="prophet")
    folder = registry.resolve(s, "forecast")
    statuses = pd.read_csv(folder / "statuses.csv")
    prophet_series = sorted(statuses.loc[statuses["model"] == "prophet", "unique_id"])
    assert prophet_series and result["prophet_models"] == len(prophet_series)
    assert registry.manifest(s, "forecast")["prophet_models"] == prophet_series
    fc = pd.read_csv(folder / "forecast.csv", parse_dates=["ds"])
    uid = prophet_series[0]
    mine = fc[fc["unique_id"] == uid]
    m = service.prophet_model(s, uid)
    again = m.predict(mine[["ds"]].reset_index(drop=True))
    assert np.clip(again["yhat"].to_numpy(), 0, None) == pytest.approx(mine["yhat"].to_numpy(), rel=1e-6)
    with pytest.raises(service.ForecastError, match="holds no Prophet model for 'nowhere'"):
        service.prophet_model(s, "nowhere")
    # a version without Prophet holds no such file
    service.train(s, "region", "W", horizon=3, windows=1, model="seasonal_naive")
    assert not (registry.resolve(s, "forecast") / service.PROPHET_FILE).exists()


def test_product_level_chooses_among_the_product_models(demo):
    s = demo.with_overrides(forecast={"models": ["seasonal_naive", "prophet"], "product_models": ["ets_ana", "tsb"]})
    assert service.candidate_names("auto", s, "product") == ("ets_ana", "tsb")
    assert service.candidate_names("auto", s, "region") == ("seasonal_naive", "prophet")
    assert service.candidate_names("theta", s, "product") == ("theta",)


def test_prophet_gets_the_promotion_calendar_with_each_series_category(demo):
    s = demo.with_overrides(forecast={"promotions": str(demo.path(demo.demo.out_dir) / "promotions.csv")})
    by_product = service.promotions_for(s, "product")
    import duckdb

    with duckdb.connect(str(s.warehouse_path), read_only=True) as con:
        pid, category = con.execute("SELECT product_id, category FROM products WHERE category IS NOT NULL LIMIT 1").fetchone()
    assert by_product.category_of(pid) == category
    assert {c for c, *_ in by_product.rows} <= {c for (_, c) in by_product.categories}  # the demo's names match
    assert service.promotions_for(s, "region").categories == ()  # regions are totals over the categories
    prophet = service.candidates_for("prophet", s, "category")[0]
    assert prophet.promotions is not None and prophet.for_series(category).category == category
    res = service.run(s, "category", "W", horizon=2, model="prophet")
    assert set(res.forecasts["model"]) == {"prophet"} and (res.forecasts["yhat"] >= 0).all()
    # a configured calendar that is missing is an error naming it; none configured is none
    missing = demo.with_overrides(forecast={"promotions": "nowhere/promotions.csv"})
    with pytest.raises(service.ForecastError, match=r"nowhere/promotions.csv: no such promotion calendar.*promotions = \"\""):
        service.candidates_for("auto", missing.with_overrides(forecast={"models": ["prophet"]}), "region")
    assert service.promotions_for(demo, "region") is None
    assert service.candidates_for("auto", missing, "region")  # no Prophet among the candidates: the file is not read


def test_a_forecast_computed_before_is_read_from_the_cache(demo, tmp_path, monkeypatch):
    s = demo.with_overrides(models={"dir": str(tmp_path / "models")})
    panel = service.load_panel(s, "region", "W")
    calls = []
    real = service.forecast_and_backtest
    monkeypatch.setattr(service, "forecast_and_backtest", lambda *a, **k: calls.append(1) or real(*a, **k))
    run = service.cached_runner(s)
    first = run(panel, 4, "W", s.forecast, 1, False, None, True)
    again = run(panel, 4, "W", s.forecast, 1, False, None, True)
    assert len(calls) == 1  # the second answer is read
    for name in ("errors", "choices", "window_forecasts", "forecasts", "statuses", "selection"):
        a, b = getattr(first, name), getattr(again, name)
        assert (a is None) == (b is None)
        if a is not None:
            pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    # other data, another horizon or other settings are computed again
    run(panel.assign(y=panel["y"] * 2), 4, "W", s.forecast, 1, False, None, True)
    run(panel, 5, "W", s.forecast, 1, False, None, True)
    run(panel, 4, "W", s.with_overrides(forecast={"windows": 2}).forecast, 1, False, None, True)
    assert len(calls) == 4
    kept = list((tmp_path / "models" / "cache" / "forecast").iterdir())
    assert len(kept) == 4 and not [p for p in kept if p.name.startswith(".")]  # no half-written result
    # with [forecast] cache = false nothing is kept
    assert service.cached_runner(s.with_overrides(forecast={"cache": False})) is service.forecast_and_backtest


def test_the_cache_keeps_the_most_recently_used_results(demo, tmp_path, monkeypatch):
    s = demo.with_overrides(models={"dir": str(tmp_path / "models")})
    monkeypatch.setattr(registry, "CACHE_KEPT", 2)
    frame = pd.DataFrame({"a": [1, 2]})
    for key in ("k1", "k2", "k3"):
        registry.save_result(s, "t", key, {"f": frame, "none": None})
    assert registry.load_result(s, "t", "k1") is None  # the oldest went
    got = registry.load_result(s, "t", "k3")
    pd.testing.assert_frame_equal(got["f"], frame)
    assert got["none"] is None


def test_the_product_level_chooses_per_series_by_default(demo):
    assert service.level_forecast(demo, "product").choice == "series"  # thousands of unlike series
    assert service.level_forecast(demo, "region").choice == "pooled"
    pooled = demo.with_overrides(forecast={"product_choice": "pooled"})
    assert service.level_forecast(pooled, "product").choice == "pooled"
