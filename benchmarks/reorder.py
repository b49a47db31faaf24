"""The reorder points' honest backtest, as the company sales_forecast report runs it.

    python -m benchmarks.reorder [--config C] [--warehouse W] [--products N] [--workers 1]
                                 [--repeat 3] [--json]

Reads the latest inventory snapshot and the daily product demand of the warehouse (as of its
last day with sales), keeps the first ``products`` products (by id; 0 = all) and times
``salesml.forecast.inventory.forecast_reorder(..., honest=True)``: every product's demand
forecast chosen among ``[forecast] product_models`` before each of the backtest windows,
scored on it, then chosen and fitted on the whole history, and the reorder table. No cache.

Prints the fastest of ``repeat`` runs (wall and CPU seconds of this process, so ``--workers 1``
gives the work itself) and a hash of the reorder table, statuses and backtest rows: two
commits that give the same hash computed the same figures. Run two commits at the same time
(one core each) to compare them on a shared machine.

It also checks the safety stocks against the same honest backtest: for every product ×
warehouse row and every window, the product's demand over the row's lead time after the
window's cut-off against what the reorder point would have covered (the forecast's demand
over those days + z(service_level) × σ, σ summed over the days as the reorder table sums
it, days independent) — the share covered should be the service level — next to the same
with the days' errors taken as perfectly correlated (σ summed, not its square), and the
share of single days inside their own 80% interval.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.reorder", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="", help="salesml.toml (default: the one salesml finds)")
    ap.add_argument("--warehouse", default="", help="warehouse file (default: the configuration's)")
    ap.add_argument("--products", type=int, default=150, help="the first N products by id (0 = all)")
    ap.add_argument("--workers", type=int, default=1, help="processes (1 = in this process)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import statsforecast.models  # noqa: F401  (imported before the clock, as a warm worker has it)

    from salesml import registry
    from salesml.forecast.auto import forecast_and_backtest
    from salesml.forecast.inventory import forecast_reorder, reorder_inputs
    from salesml.reports.forecast import last_data_day, notebook_settings
    from salesml.reports.performance import warehouse_connect

    settings = notebook_settings(args.config, args.warehouse)
    with warehouse_connect(settings) as con:
        inputs, why = reorder_inputs(con, settings, last_data_day(con))
    if inputs is None:
        raise SystemExit(why)
    snapshot, demand = inputs
    if args.products:
        ids = sorted(snapshot["product_id"].unique())[: args.products]
        snapshot = snapshot[snapshot["product_id"].isin(ids)]
    kept: list[pd.DataFrame] = []

    def run(*a, **k):  # forecast_and_backtest, keeping the honest windows' forecasts
        ev = forecast_and_backtest(*a, **k)
        kept.append(ev.window_forecasts)
        return ev

    wall = cpu = float("inf")
    for _ in range(max(args.repeat, 1)):
        t, c = time.perf_counter(), time.process_time()
        result = forecast_reorder(snapshot, demand, settings, args.workers, honest=True, run=run)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    digest = registry.frame_hash(pd.concat([result.table.astype(str), result.statuses.astype(str), result.errors.astype(str)],
                                           axis=0, ignore_index=True))
    out = {"products": int(snapshot["product_id"].nunique()), "rows": len(result.table), "workers": args.workers,
           "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "result_hash": digest,
           **service_check(kept[-1], demand, snapshot, settings)}
    print(json.dumps(out) if args.json else "  ".join(f"{k}={v}" for k, v in out.items()))
    return 0


def service_check(windows: pd.DataFrame, demand: pd.DataFrame, snapshot: pd.DataFrame, settings) -> dict:
    """The safety stocks against the honest backtest (see the module's docstring): shares in %.
    Each day's σ and the service level's z are the reorder table's
    (:func:`salesml.forecast.landing.sigma_from_interval`, the normal quantile of the service level)."""
    from statistics import NormalDist

    from salesml.forecast.landing import sigma_from_interval
    from salesml.forecast.metrics import coverage

    level, service = settings.forecast.level, settings.inventory.service_level
    z = NormalDist().inv_cdf(service)
    wf = windows.assign(ds=pd.to_datetime(windows["ds"])).sort_values(["unique_id", "window", "ds"], kind="stable")
    actual = demand.assign(ds=pd.to_datetime(demand["ds"])).set_index(["unique_id", "ds"])["y"]
    y = actual.reindex(pd.MultiIndex.from_arrays([wf["unique_id"], wf["ds"]])).fillna(0.0).to_numpy(dtype="float64")
    sigma = sigma_from_interval(wf["yhat"], wf["lo"], wf["hi"], level)
    wf = wf.assign(y=y, sigma=sigma, var=sigma**2, missing=(~np.isfinite(sigma)).astype(int))
    g = wf.groupby(["unique_id", "window"], sort=False)
    # each window's running sums from its first day: the value on day L is the lead time's
    sums = wf[["unique_id", "window"]].assign(day=g.cumcount() + 1, **{c: g[c].cumsum() for c in ("y", "yhat", "sigma", "var", "missing")})
    lead = pd.to_numeric(snapshot["lead_time_days"], errors="coerce").fillna(settings.inventory.default_lead_time_days).astype(int)
    rows = pd.DataFrame({"unique_id": snapshot["product_id"].to_numpy(), "day": lead.to_numpy()})
    at = rows.merge(sums, on=["unique_id", "day"])  # every row × window that reaches its lead time
    at = at[at["missing"] == 0]  # a day without an interval: no safety stock to check
    covered_ind = at["y"] <= at["yhat"] + z * np.sqrt(at["var"])
    covered_cor = at["y"] <= at["yhat"] + z * at["sigma"]
    ok = (wf["hi"] > wf["lo"]).to_numpy()
    share = lambda v: round(100 * float(np.mean(v)), 1) if len(v) else None  # noqa: E731
    return {"service_level_pct": round(100 * service, 1), "lead_time_checks": len(at),
            "covered_days_independent_pct": share(covered_ind), "covered_days_correlated_pct": share(covered_cor),
            "days_inside_80_pct": round(coverage(wf["y"].to_numpy()[ok], wf["lo"].to_numpy()[ok], wf["hi"].to_numpy()[ok]), 1) if ok.any() else None}


if __name__ == "__main__":
    raise SystemExit(main())
