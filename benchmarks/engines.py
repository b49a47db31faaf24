"""Per-series forecasting on the local pool, a Dask LocalCluster and Spark in local mode.

    python -m benchmarks.engines [--series 1000] [--weeks 156] [--windows 3] [--horizon 13]
                                 [--models seasonal_naive,theta,ets_ana]
                                 [--engines local,dask,spark] [--workers 0] [--json]

The workload: ``series`` synthetic weekly series (a level, a yearly wave, a trend, noise;
deterministic), each backtested honestly on ``windows`` windows of ``horizon`` weeks (the
choice among ``models`` made with the data before each window) and forecast ``horizon``
weeks from its whole history with the pooled choice (``salesml.forecast.auto.evaluate_panel``
with ``forecast=True``): what ``salesml train forecast`` runs.

Each engine runs in this process, one after the other, on all the cores this process may use
(``workers``; 0 = every core): the local process pool; a Dask ``LocalCluster`` of one
single-threaded worker process per core; Spark ``local[N]``. The cluster's start-up (Dask
workers, the Spark JVM and its Python workers) is timed apart (``start_s``: one tiny run
first) from the run itself (``seconds``, ``series_per_s``). Each engine's forecasts are checked
against the local pool's (``max_abs_diff``). Figures belong in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import numpy as np
import pandas as pd

from salesml.compute import available_cores
from salesml.compute_engines import Engine
from salesml.config import Settings
from salesml.forecast.auto import evaluate_panel


def weekly_panel(n: int, weeks: int, seed: int = 1) -> pd.DataFrame:
    """``n`` weekly series (weeks ending Friday) of ``weeks`` weeks."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2021-01-01", periods=weeks, freq="W-FRI")
    t = np.arange(weeks)
    level = rng.uniform(20, 500, n)
    amp = rng.uniform(0.05, 0.4, n)
    trend = rng.normal(0, 0.002, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    y = level[:, None] * (1 + amp[:, None] * np.sin(2 * np.pi * t / 52 + phase[:, None]) + trend[:, None] * t)
    y = np.clip(y + rng.normal(0, 1, (n, weeks)) * level[:, None] * 0.1, 0, None)
    return pd.DataFrame({"unique_id": np.repeat([f"s{i:05d}" for i in range(n)], weeks), "ds": np.tile(ds, n), "y": y.ravel()})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--series", type=int, default=1000)
    p.add_argument("--weeks", type=int, default=156)
    p.add_argument("--windows", type=int, default=3)
    p.add_argument("--horizon", type=int, default=13)
    p.add_argument("--models", default="seasonal_naive,theta,ets_ana")
    p.add_argument("--engines", default="local,dask,spark")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    cores = a.workers or available_cores()
    fs = dataclasses.replace(Settings().forecast, models=tuple(a.models.split(",")), windows=a.windows, cache=False)
    panel = weekly_panel(a.series, a.weeks)
    tiny = weekly_panel(2 * cores, a.weeks, seed=2)
    engines = {"local": cores, "dask": Engine("dask", "", "", cores), "spark": Engine("spark", f"local[{cores}]", "", cores)}
    rows, reference = [], None
    for name in a.engines.split(","):
        engine = engines[name]
        t0 = time.perf_counter()
        evaluate_panel(tiny, a.windows, a.horizon, "W", fs, workers=engine, forecast=True)  # start-up, imports in the workers
        start = time.perf_counter() - t0
        t0 = time.perf_counter()
        ev = evaluate_panel(panel, a.windows, a.horizon, "W", fs, workers=engine, forecast=True)
        seconds = time.perf_counter() - t0
        fc = ev.forecasts.sort_values(["unique_id", "ds"]).reset_index(drop=True)
        if reference is None:
            reference = fc
        diff = float(np.abs(fc["yhat"].to_numpy() - reference["yhat"].to_numpy()).max()) if len(fc) == len(reference) else float("nan")
        rows.append({"engine": name, "series": a.series, "cores": cores, "start_s": round(start, 1), "seconds": round(seconds, 1),
                     "series_per_s": round(a.series / seconds, 1), "max_abs_diff": diff,
                     "models": dict(ev.statuses["model"].value_counts())})
        print(json.dumps(rows[-1], default=str) if a.json else
              f"{name:6s} {a.series:,} series on {cores} cores: start {start:5.1f}s, run {seconds:6.1f}s = "
              f"{a.series / seconds:6.1f} series/s (max |Δ yhat| vs {a.engines.split(',')[0]}: {diff:.2g})", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    main()
