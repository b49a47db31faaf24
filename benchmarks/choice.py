"""Does ``auto`` beat every single candidate? An honest backtest per level and frequency.

    python -m benchmarks.choice [--warehouse PATH | --scale medium] [--levels region,team,category,rep]
                                [--freqs W,D] [--models seasonal_naive,ets,theta,croston,tsb]
                                [--workers 0] [--combos] [--no-calibrate] [--json]

For each level and frequency, ``salesml.forecast.auto.evaluate_panel`` scores, on the last
``[forecast] windows`` windows of the frequency's default horizon, ``auto`` chosen with the
data before each window only — once per series (``choice = "series"``) and once pooled
across the series that share their candidates (``choice = "pooled"``) — next to every single
candidate on the same windows. Each row: mean MASE of auto (pooled), auto (per series), the
best single candidate and each candidate, and the 80% intervals' coverage. The same series,
windows and fits' code for all: the ratios are the figures to quote.

Without ``--warehouse`` the demo company of ``--scale`` is generated and loaded into a scratch
folder first. Figures belong in issue notes and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

#: fixed combinations (the mean of their members' forecasts) added as candidates with --combos
COMBOS = (("ets", "theta"), ("ets", "theta", "tsb"), ("ets", "theta", "seasonal_naive"))


def evaluate(settings, level: str, freq: str, models: tuple[str, ...], workers: int | None, combos: bool = False) -> dict:
    from salesml.forecast.auto import default_horizon, evaluate_panel
    from salesml.forecast.backtest import summarise
    from salesml.forecast.models import Ensemble, make_model
    from salesml.forecast.service import load_panel

    fs = dataclasses.replace(settings.forecast, models=models)
    panel = load_panel(dataclasses.replace(settings, forecast=fs), level, freq)
    horizon = default_horizon(fs, freq)
    candidates = [make_model(m, fs) for m in models]
    by_name = {m.name: m for m in candidates}
    if combos:
        candidates += [Ensemble(tuple(by_name[m] for m in c)) for c in COMBOS if all(m in by_name for m in c)]
    out = {"level": level, "freq": freq, "series": int(panel["unique_id"].nunique()), "horizon": horizon, "windows": fs.windows}
    t0 = time.perf_counter()
    for choice in ("pooled", "series"):
        ev = evaluate_panel(panel, fs.windows, horizon, freq, dataclasses.replace(fs, choice=choice), workers=workers,
                            candidates=candidates, singles=candidates, label="auto")
        summary = summarise(ev.errors).set_index("model")
        out[f"auto_{choice}"] = round(float(summary.loc["auto", "mase"]), 3)
        out[f"coverage_{choice}"] = round(float(summary.loc["auto", "coverage_80"]), 1)
        if choice == "pooled":
            singles = summary.drop(index="auto")
            out["singles"] = {m: round(float(v), 3) for m, v in singles["mase"].items()}
            best = singles["mase"].idxmin()
            out["best_single"], out["best_single_mase"] = best, round(float(singles.loc[best, "mase"]), 3)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.choice", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", default="")
    ap.add_argument("--scale", default="medium")
    ap.add_argument("--levels", default="region,team,category,rep")
    ap.add_argument("--freqs", default="W,D")
    ap.add_argument("--models", default="seasonal_naive,ets,theta,croston,tsb")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--combos", action="store_true", help="add the fixed combinations of COMBOS as candidates")
    ap.add_argument("--no-calibrate", action="store_true", help="the models' own intervals ([forecast] calibrate_intervals = false)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from salesml.accounting.ledger import ensure_posted
    from salesml.config import Settings

    if args.warehouse:
        settings = Settings().with_overrides(warehouse={"path": str(Path(args.warehouse).resolve())})
    else:
        from salesml.demo import build_demo

        root = Path(tempfile.mkdtemp(prefix="salesml-choice-"))
        settings = dataclasses.replace(Settings(), root=root).with_overrides(
            warehouse={"path": str(root / "warehouse.duckdb")}, demo={"scale": args.scale, "out_dir": str(root / "raw")})
        build_demo(settings)
    ensure_posted(settings)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if args.no_calibrate:
        settings = settings.with_overrides(forecast={"calibrate_intervals": False})
    rows = []
    for freq in args.freqs.split(","):
        for level in args.levels.split(","):
            r = evaluate(settings, level.strip(), freq.strip(), models, args.workers or None, args.combos)
            rows.append(r)
            if not args.json:
                beats = "yes" if r["auto_pooled"] <= r["best_single_mase"] else "no"
                print(f"{r['level']:9s} {r['freq']} {r['series']:4d} series: auto pooled {r['auto_pooled']:.3f} "
                      f"(80% cover {r['coverage_pooled']:.0f}%), per series {r['auto_series']:.3f} (cover {r['coverage_series']:.0f}%), best single "
                      f"{r['best_single']} {r['best_single_mase']:.3f} -> pooled <= best: {beats}; "
                      f"all: {r['singles']} [{r['seconds']}s]", flush=True)
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
