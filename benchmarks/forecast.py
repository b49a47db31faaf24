"""Forecasting many product series: a plain loop of default Prophet against the automatic choice.

    python -m benchmarks.forecast [--warehouse PATH | --scale large --end-date YYYY-MM-DD]
                                  [--series 1000] [--days 730] [--freq D|W] [--windows 3] [--horizon 28]
                                  [--workers 0] [--prophet-series N] [--json]

The workload (issue #6): fit, backtest on ``windows`` rolling-origin windows of ``horizon``
days, and forecast the daily unit demand of the ``series`` best-selling products that have
``days`` days of history, on the warehouse's ledger (net of returns).

(a) **default Prophet, plain loop**: one process, for each series and window ``Prophet()``
    fitted to the history before the window and ``predict`` on ``make_future_dataframe`` (the
    textbook way: 1,000 uncertainty samples over history and future), then the same on the
    whole history for the forecast: ``windows + 1`` fits per series. Forecasts are clipped at 0
    before scoring (it only helps Prophet: sales are never negative).
(b) **the automatic choice** (``salesml.forecast.auto.evaluate_panel`` with ``forecast=True``,
    the candidates of ``[forecast] product_models``, a process per core): on each window the
    model is chosen with the data before the window only (its own selection backtest ends at
    the window's cut-off) and scored on the window; then chosen and fitted on the whole history
    for the forecast. This is the honest score: a choice scored on the windows it was made on
    would flatter it.

Both are scored with the same functions (``salesml.forecast.backtest.score``: MASE scaled by
the in-sample seasonal naive error of the training history) on the same series and windows,
next to seasonal naive. ``--prophet-series N`` runs (a) on the first N series only and says
so (its time is then also given per series); without it, (a) runs on all of them.

Without ``--warehouse`` the demo company of ``--scale`` is generated and loaded into a scratch
folder first (the large one takes a few minutes). Figures belong in issue notes.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd


def product_panel(warehouse_path: Path, n_series: int, days: int, freq: str = "D") -> pd.DataFrame:
    """Daily (or weekly, ``freq="W"``) net units (``unique_id, ds, y``) of the ``n_series``
    products with the most units among those with every step of the last ``days`` days' span
    (a full history: the first step of the span is in the panel)."""
    from salesml import warehouse
    from salesml.forecast.panels import panel

    with warehouse.connect(warehouse_path, read_only=True) as con:
        last = con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0]
        if last is None:
            raise SystemExit(f"{warehouse_path}: the ledger is empty: load and post sales first")
        start = pd.Timestamp(last) - pd.Timedelta(days=days - 1)
        df = panel(con, "product", freq, measure="quantity", start=str(start.date()))
    n = df.groupby("unique_id").size()
    full = n[n >= (days if freq == "D" else int(n.max()))].index
    units = df[df["unique_id"].isin(full)].groupby("unique_id")["y"].sum().sort_values(ascending=False, kind="stable")
    chosen = units.head(n_series).index
    if len(chosen) < n_series:
        print(f"only {len(chosen):,} products have {days} days of history; using them all", file=sys.stderr)
    return df[df["unique_id"].isin(set(chosen))].reset_index(drop=True)


def prophet_loop(panel: pd.DataFrame, windows: int, horizon: int, freq: str = "D") -> tuple[pd.DataFrame, float]:
    """(a): the backtest rows (``backtest.COLUMNS``, model ``prophet_default``) and the seconds
    the loop took, forecasts from the whole history included."""
    from prophet import Prophet

    from salesml.forecast.backtest import COLUMNS, DTYPES, score
    from salesml.forecast.models import SEASON

    for noisy in ("cmdstanpy", "prophet"):
        logging.getLogger(noisy).disabled = True
    rows = []
    t0 = time.perf_counter()
    for uid, g in panel.groupby("unique_id", sort=True):
        h = g[["ds", "y"]].reset_index(drop=True)
        for w in range(windows, 0, -1):
            cut = len(h) - w * horizon
            train, test = h.iloc[:cut], h.iloc[cut : cut + horizon]
            m = Prophet()
            m.fit(train)
            fc = m.predict(m.make_future_dataframe(periods=horizon, freq=freq)).tail(horizon)
            fc = pd.DataFrame({c: np.clip(fc[src].to_numpy(), 0, None) for c, src in (("yhat", "yhat"), ("lo", "yhat_lower"), ("hi", "yhat_upper"))})
            rows.append({"unique_id": uid, "model": "prophet_default", "window": windows - w + 1, "cutoff": train["ds"].iloc[-1],
                         "horizon": horizon, **score(train["y"], test["y"], fc, SEASON[freq])})
        m = Prophet()
        m.fit(h)
        m.predict(m.make_future_dataframe(periods=horizon, freq=freq))
    return pd.DataFrame(rows, columns=COLUMNS).astype(DTYPES), time.perf_counter() - t0


def auto_run(panel: pd.DataFrame, windows: int, horizon: int, workers: int, fs, freq: str = "D", all_models: bool = False):
    """(b): ``evaluate_panel`` (honest backtest and forecast) and the seconds it took;
    ``all_models``: each candidate scored alone too (a pooled choice always scores them)."""
    from salesml.forecast.auto import evaluate_panel
    from salesml.forecast.models import SeasonalNaive, make_model

    candidates = [make_model(n, fs) for n in fs.product_models]
    t0 = time.perf_counter()
    ev = evaluate_panel(panel, windows, horizon, freq, fs, workers=workers, candidates=candidates,
                        singles=[SeasonalNaive(), *(candidates if all_models else ())], forecast=True, progress=sys.stderr.isatty())
    return ev, time.perf_counter() - t0


def _mean(errors: pd.DataFrame, model: str, keys: pd.MultiIndex | None = None) -> tuple[float, int]:
    e = errors[(errors["model"] == model) & errors["error"].isna()].set_index(["unique_id", "window"])
    if keys is not None:
        e = e.loc[e.index.intersection(keys)]
    return float(np.nanmean(e["mase"])) if len(e) else float("nan"), int(e.index.get_level_values(0).nunique())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.forecast", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default="", help="a loaded warehouse (default: generate and load the demo of --scale)")
    ap.add_argument("--scale", default="large", choices=["small", "medium", "large"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-date", default="", help="demo end date (default: today)")
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=int, default=730, help="days of history per series")
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--horizon", type=int, default=0, help="steps per window (default 28 days, 8 weeks)")
    ap.add_argument("--freq", default="D", choices=["D", "W"], help="daily or weekly units")
    ap.add_argument("--all-models", action="store_true", help="score every candidate alone too (slower: the scoring)")
    ap.add_argument("--choice", default="", choices=["", "series", "pooled"], help="how auto chooses (default: [forecast] product_choice)")
    ap.add_argument("--workers", type=int, default=0, help="processes for (b) (0 = one per core)")
    ap.add_argument("--prophet-series", type=int, default=0, help="run (a) on the first N series only (0 = all)")
    ap.add_argument("--skip-prophet", action="store_true", help="(b) only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from salesml.config import Settings

    settings = Settings()
    if args.warehouse:
        wh = Path(args.warehouse)
        if not wh.exists():
            raise SystemExit(f"--warehouse {wh}: no such file")
    else:
        wh = _build_demo(args)
    t0 = time.perf_counter()
    args.horizon = args.horizon or (28 if args.freq == "D" else 8)
    unit = "days" if args.freq == "D" else "weeks"
    panel = product_panel(wh, args.series, args.days, args.freq)
    panel_s = time.perf_counter() - t0
    n = panel["unique_id"].nunique()
    zero_share = float(panel.groupby("unique_id")["y"].apply(lambda s: (s <= 0).mean()).ge(settings.forecast.intermittent_zero_share).mean())
    print(f"{n:,} product series x {args.days} days read in {panel_s:.1f} s ({zero_share:.0%} intermittent); "
          f"{args.windows} windows x {args.horizon} {unit} + a forecast; {os.cpu_count()} cores", file=sys.stderr)

    workers = args.workers or os.cpu_count() or 1
    print(f"(b) automatic choice among {', '.join(settings.forecast.product_models)} on {workers} processes ...", file=sys.stderr)
    import dataclasses

    fs = dataclasses.replace(settings.forecast, choice=args.choice or settings.forecast.product_choice)
    ev, auto_s = auto_run(panel, args.windows, args.horizon, workers, fs, args.freq, args.all_models)
    result = {
        "series": n, "days": args.days, "freq": args.freq, "windows": args.windows, "horizon": args.horizon, "cores": os.cpu_count(),
        "intermittent_share": round(zero_share, 3), "panel_seconds": round(panel_s, 1),
        "auto": {"seconds": round(auto_s, 1), "workers": workers, "candidates": list(settings.forecast.product_models), "choice": fs.choice},
        "models": {m: round(_mean(ev.errors, m)[0], 3) for m in sorted(set(ev.errors["model"]))},
        "chosen_in_windows": ev.choices["model"].fillna("(skipped)").value_counts().to_dict(),
        "chosen_for_forecast": ev.statuses["model"].fillna("(skipped)").value_counts().to_dict(),
    }
    for model in ("auto", "seasonal_naive"):
        result[model] = {**result.get(model, {}), **dict(zip(("mase", "series"), _mean(ev.errors, model), strict=True))}
    if not args.skip_prophet:
        sample = panel
        if args.prophet_series:
            keep = sorted(panel["unique_id"].unique())[: args.prophet_series]
            sample = panel[panel["unique_id"].isin(set(keep))]
        k = sample["unique_id"].nunique()
        print(f"(a) default Prophet, plain loop over {k:,} series in one process ...", file=sys.stderr)
        p_errors, p_s = prophet_loop(sample, args.windows, args.horizon, args.freq)
        keys = pd.MultiIndex.from_frame(p_errors[["unique_id", "window"]])
        per_series = p_s / k
        result["prophet_default"] = {
            "seconds": round(p_s, 1), "series": k, "seconds_per_series": round(per_series, 3),
            "seconds_all_series": round(per_series * n, 1), "measured_on_all": k == n,
            "mase": _mean(p_errors, "prophet_default")[0],
        }
        # the same series and windows for every figure of the comparison
        result["same_series"] = {m: _mean(ev.errors, m, keys)[0] for m in ("auto", "seasonal_naive")} | {"prophet_default": result["prophet_default"]["mase"]}
        result["speedup"] = round(per_series * n / auto_s, 1)
    if args.json:
        print(json.dumps(result, indent=2, default=float))
    else:
        _print_table(result)
    return 0


def _print_table(r: dict) -> None:
    unit = "days" if r["freq"] == "D" else "weeks"
    print(f"{r['series']:,} product series, {r['days']} days of {'daily' if r['freq'] == 'D' else 'weekly'} units, "
          f"{r['windows']} windows x {r['horizon']} {unit} + forecast, {r['cores']} cores")
    a = r["auto"]
    print(f"  (b) auto ({', '.join(a['candidates'])}), {a['workers']} processes: {a['seconds']:.1f} s, "
          f"MASE {a['mase']:.3f} (seasonal naive {r['seasonal_naive']['mase']:.3f})")
    print(f"      chosen in the windows: {r['chosen_in_windows']}")
    if "prophet_default" in r:
        p = r["prophet_default"]
        how = "" if p["measured_on_all"] else f" (measured on {p['series']:,} series: {p['seconds']:.1f} s, {p['seconds_per_series']:.3f} s each)"
        print(f"  (a) default Prophet, plain loop: {p['seconds_all_series']:.1f} s{how}, MASE {p['mase']:.3f}")
        same = r["same_series"]
        print(f"  on the same series and windows: Prophet {same['prophet_default']:.3f}, auto {same['auto']:.3f}, seasonal naive {same['seasonal_naive']:.3f}")
        print(f"  speed-up of (b) over (a): {r['speedup']:.1f}x")


def _build_demo(args) -> Path:
    import dataclasses

    from salesml.accounting.ledger import ensure_posted
    from salesml.config import Settings
    from salesml.demo.generator import generate
    from salesml.demo.source import SOURCE_NAME, demo_source
    from salesml.ingest import ingest_source

    root = Path(tempfile.mkdtemp(prefix="salesml-bench-forecast-"))
    s = dataclasses.replace(Settings(), root=root).with_overrides(
        warehouse={"path": str(root / "warehouse.duckdb")},
        demo={"out_dir": str(root / "raw"), "scale": args.scale, "seed": args.seed},
    )
    end = date.fromisoformat(args.end_date) if args.end_date else date.today()
    print(f"building the {args.scale} demo in {root} ...", file=sys.stderr)
    generate(root / "raw", scale=args.scale, seed=args.seed, end_date=end, progress=True)
    ingest_source(s, SOURCE_NAME, demo_source(s), progress=True)
    ensure_posted(s)
    return s.warehouse_path


if __name__ == "__main__":
    sys.exit(main())
