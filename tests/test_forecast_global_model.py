"""The global model (salesml.forecast.global_model): LightGBM across the series of a panel,
served to the per-series machinery at every cut-off the backtests ask for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.config import ForecastSettings, load_settings
from salesml.forecast.auto import evaluate_panel, forecast_panel
from salesml.forecast.global_model import Precomputed, cutoffs, global_forecasts
from salesml.forecast.models import GlobalLGBM, SeriesError, make_model


def seasonal_panel(series: int = 6, weeks: int = 120, seed: int = 0) -> pd.DataFrame:
    """Weekly series of different sizes sharing one yearly shape (what a global model learns
    from all of them at once), with a little noise."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2022-01-07", periods=weeks, freq="W-FRI")  # weeks ending on Friday
    shape = 1 + 0.4 * np.sin(2 * np.pi * np.arange(weeks) / 52)
    return pd.concat(
        [pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": 50 * (i + 1) * shape + rng.normal(0, 2 * (i + 1), weeks)})
         for i in range(series)],
        ignore_index=True,
    )


def test_cutoffs_cover_the_nested_windows_and_the_forecast():
    assert cutoffs(4, 3) == {(0, 4), (4, 4), (8, 4), (12, 4)}
    assert cutoffs(4, 1, [(0, 13)]) == {(0, 4), (4, 4), (0, 13)}


def test_the_global_model_is_fitted_on_the_panel_at_each_cut_off():
    panel = seasonal_panel()
    table = global_forecasts(GlobalLGBM(n_estimators=50), panel, "W", {(0, 6), (6, 6)})
    last = panel["ds"].max()
    for uid in panel["unique_id"].unique():
        for end in (last, last - pd.Timedelta(weeks=6)):
            yhat, sd = table[(uid, end, 6)]
            assert len(yhat) == 6 and (yhat >= 0).all() and np.isfinite(yhat).all()
            assert (np.diff(sd) >= 0).all()  # wider further ahead
    # the forecast of the held-out six weeks is near what happened (the shape is shared)
    held = panel[panel["ds"] > last - pd.Timedelta(weeks=6)]
    for uid, g in held.groupby("unique_id"):
        yhat, _ = table[(uid, last - pd.Timedelta(weeks=6), 6)]
        assert np.abs(yhat - g["y"].to_numpy()).mean() < 0.15 * g["y"].mean()


def test_precomputed_forecasts_are_served_by_series_and_cut_off():
    ds = pd.date_range("2024-01-05", periods=3, freq="W-FRI")
    table = {("a", ds[-1], 2): (np.array([10.0, 12.0]), np.array([1.0, 2.0]))}
    model = Precomputed("lgbm", table).for_series("a")
    fc = model.forecast(pd.DataFrame({"ds": ds, "y": [1.0, 2.0, 3.0]}), 2, "W", level=80)
    assert fc["ds"].tolist() == [ds[-1] + pd.Timedelta(weeks=1), ds[-1] + pd.Timedelta(weeks=2)]  # still Fridays
    z = 1.2815515655446004  # the 90th percentile of the normal: an 80% interval
    assert np.allclose(fc["yhat"], [10, 12]) and np.allclose(fc["hi"], [10 + z, 12 + 2 * z]) and np.allclose(fc["lo"], [10 - z, 12 - 2 * z])
    with pytest.raises(SeriesError, match="no global forecast"):
        model.forecast(pd.DataFrame({"ds": ds[:2], "y": [1.0, 2.0]}), 2, "W")
    with pytest.raises(SeriesError, match="global model"):
        make_model("lgbm").forecast(pd.DataFrame({"ds": ds, "y": [1.0, 2.0, 3.0]}), 2, "W")


def test_the_global_model_is_a_candidate_of_auto_in_forecasts_and_honest_backtests(tmp_path):
    panel = seasonal_panel()
    fs = ForecastSettings(models=("seasonal_naive", "naive", "lgbm"), windows=2, workers=1)
    forecasts, statuses, selection = forecast_panel(panel, 6, "W", fs)
    assert set(selection["model"]) >= {"lgbm", "seasonal_naive", "naive"}
    assert selection.loc[selection["model"] == "lgbm", "mase"].notna().all()  # scored in every window of every series
    assert len(forecasts) == 6 * panel["unique_id"].nunique() and (forecasts["yhat"] >= 0).all()
    ev = evaluate_panel(panel, 2, 6, "W", fs, forecast=True)
    scored = ev.errors.groupby("model")["mase"].mean()
    assert {"auto", "lgbm"} <= set(scored.index)
    assert scored["auto"] <= scored.drop("auto").min() + 1e-9  # here the choice is as good as the best single model
    # a config may list it
    cfg = tmp_path / "salesml.toml"
    cfg.write_text('[forecast]\nmodels = ["seasonal_naive", "lgbm"]\n', encoding="utf-8")
    assert load_settings(cfg).forecast.models == ("seasonal_naive", "lgbm")
