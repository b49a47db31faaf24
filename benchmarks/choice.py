"""Does ``auto`` beat every single candidate? An honest backtest per level and frequency.

    python -m benchmarks.choice [--config salesml.toml | --warehouse PATH | --scale medium]
                                [--levels region,team,category,rep]
                                [--freqs W,D] [--models seasonal_naive,ets,theta,croston,tsb]
                                [--choices pooled,series] [--selection-windows N]
                                [--combinations a+b,c+d | --all-combinations K]
                                [--pool-levels company,region,category,team]
                                [--parent-margin X] [--switch-margin Y] [--workers 0] [--no-calibrate | --calibrate-beyond-se Z]
                                [--calibrate-windows N] [--json]

For each level and frequency, ``salesml.forecast.auto.evaluate_panel`` scores, on the last
``[forecast] windows`` windows of the frequency's default horizon, ``auto`` chosen with the
data before each window only — pooled across the series of the level (``choice = "pooled"``)
and/or once per series (``choice = "series"``) — next to every candidate on the same windows.
Each row: mean MASE of auto per choice, the best single model (of ``--models``, picked after
the fact), the best combination when there are any, every candidate's MASE and the 80%
intervals' coverage. Each level is offered the candidates the ``backtest`` command offers it
(at rep level those ``[forecast] rep_models`` lists), and keeps the pooled pick of the level
above it as the command does (``[forecast] parent_margin``; ``--parent-margin 0``: each level
alone): levels are scored top down, a parent not listed in ``--levels`` is computed first
(``service.parent_picks``); a level with none above it keeps its own pick of the window
before (``[forecast] switch_margin``; ``--switch-margin 0``: each window afresh). The pooled
row gives each window's pick, and the level's own where it kept another instead.

``--pool-levels``: also score, at each of those levels, one choice per window made for the
listed levels together (``pooled_choice`` over their selection backtests, each level weighing
the same; levels with other candidates choose apart): ``auto_across`` in each row. Worked
out from the same runs' selection backtests and single-model scores, no extra fit; a series
that has no selection backtest in a window (too short) keeps its level's own pick there.

The same series, windows and fits' code for all: the ratios are the figures to quote.

Without ``--config`` or ``--warehouse`` the demo company of ``--scale`` is generated and loaded into a scratch
folder first. Figures belong in issue notes and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path


def combinations_of(models: tuple[str, ...], listed: str, up_to: int) -> tuple[str, ...]:
    """The combinations to add as candidates: the listed ones ("a+b,c+d"), or every subset of
    2 to ``up_to`` of ``models``."""
    if up_to >= 2:
        return tuple("+".join(c) for r in range(2, up_to + 1) for c in itertools.combinations(models, r))
    return tuple(c.strip() for c in listed.split(",") if c.strip())


def across_levels(evaluations: dict, label: str = "auto") -> dict[str, dict]:
    """Per level of ``evaluations`` (level -> a pooled ``PanelEvaluation``): the mean MASE and
    each window's pick when the levels choose together in each window (``pooled_choice`` of
    their selection backtests with the level as stratum)."""
    import numpy as np
    import pandas as pd

    from salesml.forecast.auto import pooled_choice

    parts = [ev.window_selection.assign(stratum=level, unique_id=level + "/" + ev.window_selection["unique_id"].astype(str))
             for level, ev in evaluations.items() if ev.window_selection is not None and len(ev.window_selection)]
    if not parts:
        return {}
    sel = pd.concat(parts, ignore_index=True)
    picks = {(w, r.group): r.model for w, g in sel.groupby("window", sort=True) for r in pooled_choice(g).itertuples()}
    out = {}
    for level, ev in evaluations.items():
        ws = ev.window_selection if ev.window_selection is not None else pd.DataFrame(columns=["unique_id", "window", "group"])
        group_of = ws.drop_duplicates(["unique_id", "window"]).set_index(["unique_id", "window"])["group"].to_dict()
        ok = ev.errors[ev.errors["error"].isna()]
        own = ok[ok["model"] == label].set_index(["unique_id", "window"])["mase"]
        singles = ok[ok["model"] != label].set_index(["unique_id", "window", "model"])["mase"].to_dict()
        scores, chosen = [], {}
        for (uid, w), mine in own.items():
            model = picks.get((w, group_of.get((uid, w))))
            value = singles.get((uid, w, model), np.nan) if model else np.nan
            scores.append(mine if np.isnan(value) else value)
            if model:
                chosen.setdefault(int(w), model)
        out[level] = {"mase": round(float(np.nanmean(scores)), 3) if scores else None, "picks": dict(sorted(chosen.items()))}
    return out


def evaluate(settings, level: str, freq: str, choices: tuple[str, ...], workers: int | None, keep: dict | None = None,
             picks: dict | None = None) -> dict:
    """One level and frequency, every way of choosing in ``choices``. ``picks``: each pooled
    level's picks by window so far (level -> {window: model}), read for this level's parent
    and given this level's."""
    from salesml.forecast.auto import default_horizon, evaluate_panel, picks_by_window
    from salesml.forecast.backtest import summarise
    from salesml.forecast.service import candidates_for, load_panel, parent_level, parent_picks

    fs = settings.forecast
    panel = load_panel(settings, level, freq)
    horizon = default_horizon(fs, freq)
    candidates = candidates_for("auto", settings, level)
    out = {"level": level, "freq": freq, "series": int(panel["unique_id"].nunique()), "horizon": horizon,
           "windows": fs.windows, "selection_windows": fs.selection_windows or fs.windows}
    t0 = time.perf_counter()
    picks = {} if picks is None else picks
    for choice in choices:
        fs_choice = dataclasses.replace(fs, choice=choice)
        above = None
        if choice == "pooled" and (parent := parent_level(settings, level)) is not None:
            above = picks[parent] if parent in picks else parent_picks(settings, level, freq, horizon, fs.windows, workers=workers)
            out["parent"] = parent
        ev = evaluate_panel(panel, fs.windows, horizon, freq, fs_choice, workers=workers,
                            candidates=candidates, singles=candidates, label="auto", parent_picks=above)
        if choice == "pooled" and ev.picks is not None:
            picks[level] = picks_by_window(ev.picks)
            out["picks"] = {int(r.window): r.model for r in ev.picks.itertuples()}
            out["own_picks"] = {int(r.window): r.own for r in ev.picks.itertuples() if r.own != r.model}
        if keep is not None and choice == "pooled":
            keep[level] = ev
        summary = summarise(ev.errors).set_index("model")
        out[f"auto_{choice}"] = round(float(summary.loc["auto", "mase"]), 3)
        out[f"coverage_{choice}"] = round(float(summary.loc["auto", "coverage_80"]), 1)
        if "candidates" not in out:
            scores = summary.drop(index="auto")["mase"]
            out["candidates"] = {m: round(float(v), 3) for m, v in scores.items()}
            singles = scores[[m in fs.models for m in scores.index]]
            out["best_single"], out["best_single_mase"] = singles.idxmin(), round(float(singles.min()), 3)
            combos = scores[[m not in fs.models for m in scores.index]]
            if len(combos):
                out["best_combination"], out["best_combination_mase"] = combos.idxmin(), round(float(combos.min()), 3)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.choice", description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="", help="a salesml.toml: its warehouse, promotion calendar and forecast settings")
    ap.add_argument("--warehouse", default="")
    ap.add_argument("--scale", default="medium")
    ap.add_argument("--levels", default="region,team,category,rep")
    ap.add_argument("--freqs", default="W,D")
    ap.add_argument("--models", default="seasonal_naive,ets,theta,croston,tsb")
    ap.add_argument("--choices", default="pooled,series", help="the ways of choosing to score: pooled, series")
    ap.add_argument("--selection-windows", type=int, default=-1, help="[forecast] selection_windows (default: the settings')")
    ap.add_argument("--combinations", default="", help='combinations to add as candidates: "ets+theta,ets+theta+seasonal_naive"')
    ap.add_argument("--all-combinations", type=int, default=0, metavar="K", help="add every combination of 2 to K models")
    ap.add_argument("--pool-levels", default="", help="levels that also choose together in each window (auto_across)")
    ap.add_argument("--parent-margin", type=float, default=-1.0,
                    help="[forecast] parent_margin (default: the settings'; 0 = each level chooses alone)")
    ap.add_argument("--switch-margin", type=float, default=-1.0,
                    help="[forecast] switch_margin (default: the settings'; 0 = each cut-off chooses afresh)")
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--no-calibrate", action="store_true", help="the models' own intervals ([forecast] calibrate_intervals = false)")
    ap.add_argument("--calibrate-beyond-se", type=float, default=-1.0,
                    help="[forecast] calibrate_beyond_se (default: the settings'; 0 = always calibrate)")
    ap.add_argument("--calibrate-windows", type=int, default=-1,
                    help="[forecast] calibrate_windows (default: the settings'; 0 = every selection window)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from salesml.accounting.ledger import ensure_posted
    from salesml.config import Settings, load_settings

    if args.config:
        settings = load_settings(args.config)
    elif args.warehouse:
        settings = Settings().with_overrides(warehouse={"path": str(Path(args.warehouse).resolve())})
    else:
        from salesml.demo import build_demo

        root = Path(tempfile.mkdtemp(prefix="salesml-choice-"))
        settings = dataclasses.replace(Settings(), root=root).with_overrides(
            warehouse={"path": str(root / "warehouse.duckdb")}, demo={"scale": args.scale, "out_dir": str(root / "raw")},
            forecast={"promotions": str(root / "raw" / "promotions.csv")})
        build_demo(settings)
    ensure_posted(settings)
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    forecast = {"models": models, "combinations": combinations_of(models, args.combinations, args.all_combinations)}
    if args.no_calibrate:
        forecast["calibrate_intervals"] = False
    for key in ("calibrate_beyond_se", "calibrate_windows", "selection_windows", "parent_margin", "switch_margin"):
        if getattr(args, key) >= 0:  # negative: the settings' own
            forecast[key] = getattr(args, key)
    settings = settings.with_overrides(forecast=forecast)
    choices = tuple(c.strip() for c in args.choices.split(",") if c.strip())
    rows = []
    pool = [x.strip() for x in args.pool_levels.split(",") if x.strip()]
    from salesml.forecast.panels import LEVELS

    levels = sorted((x.strip() for x in args.levels.split(",") if x.strip()), key=lambda x: LEVELS.index(x) if x in LEVELS else len(LEVELS))
    for freq in args.freqs.split(","):
        kept: dict = {}
        picks: dict = {}
        for level in levels:
            r = evaluate(settings, level, freq.strip(), choices, args.workers or None, kept if level in pool else None, picks)
            rows.append(r)
            if not args.json:
                autos = ", ".join(f"{c} {r[f'auto_{c}']:.3f} (80% cover {r[f'coverage_{c}']:.0f}%)" for c in choices)
                verdict = ", ".join(f"{c} {'<=' if r[f'auto_{c}'] <= r['best_single_mase'] else '>'} best" for c in choices)
                combo = f", best combination {r['best_combination']} {r['best_combination_mase']:.3f}" if "best_combination" in r else ""
                how = ""
                if "picks" in r:
                    how = f"; pooled picks {r['picks']}" + (f", own {r['own_picks']} (kept {'the ' + r['parent'] + ' level' if 'parent' in r else 'its window before'}'s)"
                                                             if r.get("own_picks") else "")
                print(f"{r['level']:9s} {r['freq']} {r['series']:4d} series: auto {autos}; best single {r['best_single']} "
                      f"{r['best_single_mase']:.3f}{combo} -> {verdict}{how}; all: {r['candidates']} [{r['seconds']}s]", flush=True)
        for level, across in across_levels(kept).items():
            r = next(x for x in rows if x["level"] == level and x["freq"] == freq.strip())
            r["auto_across"], r["picks_across"] = across["mase"], across["picks"]
            if not args.json:
                verdict = "<=" if across["mase"] <= r["best_single_mase"] else ">"
                print(f"{level:9s} {r['freq']} chosen with {', '.join(kept)} together: auto {across['mase']:.3f} {verdict} best single "
                      f"{r['best_single']} {r['best_single_mase']:.3f} (picks by window {across['picks']})", flush=True)
    if args.json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
