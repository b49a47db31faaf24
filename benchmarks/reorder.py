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
"""

from __future__ import annotations

import argparse
import json
import time

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
    wall = cpu = float("inf")
    for _ in range(max(args.repeat, 1)):
        t, c = time.perf_counter(), time.process_time()
        result = forecast_reorder(snapshot, demand, settings, args.workers, honest=True)
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.process_time() - c)
    digest = registry.frame_hash(pd.concat([result.table.astype(str), result.statuses.astype(str), result.errors.astype(str)],
                                           axis=0, ignore_index=True))
    out = {"products": int(snapshot["product_id"].nunique()), "rows": len(result.table), "workers": args.workers,
           "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "result_hash": digest}
    print(json.dumps(out) if args.json else "  ".join(f"{k}={v}" for k, v in out.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
