"""How long `salesml train churn` takes, with the thread budget and with one thread per pool.

    python -m benchmarks.churn [--config C ...] [--shop] [--customers 4000] [--months 12]
                               [--max-lines 46] [--out DIR] [--repeat 1] [--json]

Each ``--config`` (a salesml.toml whose warehouse is loaded, e.g. the medium demo's) and, with
``--shop``, a shop export written by ``tests/shop_churn.py`` (``--customers`` customers over
``--months`` months, invoices of up to ``--max-lines`` lines: 4,000 / 12 / 46 give about
500,000 lines, the size of the real "Online Retail" export) loaded into a scratch warehouse,
is trained by the CLI in a fresh process twice per round: as configured (``[compute] threads``)
and with ``OMP_NUM_THREADS=1`` (one thread per native pool), alternately; the fastest of
``--repeat`` rounds of each is quoted, with the holdout's size, the scorer the version uses and
the machine's cores. Figures belong in issue notes and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from salesml.config import load_settings
from salesml.ingest import ingest_source
from tests import shop_churn

ROOT = Path(__file__).resolve().parents[1]


def write_shop(folder: Path, customers: int, months: int, max_lines: int) -> tuple[Path, int, float]:
    """A shop export and its config, loaded: (config, lines, seconds to load)."""
    shop = shop_churn.write(folder / "data", customers=customers, months=months, max_lines=max_lines)
    cfg = folder / "salesml.toml"
    cfg.write_text('[warehouse]\npath = "wh.duckdb"\n[models]\ndir = "models"\n'
                   + shop_churn.MAPPING.format(files=json.dumps(str(folder / "data" / "*.csv"))), encoding="utf-8")
    s = load_settings(cfg)
    started = time.perf_counter()
    ingest_source(s, "shop", s.sources["shop"])
    return cfg, len(shop.lines), time.perf_counter() - started


def train(cfg: Path, one_thread: bool) -> dict:
    """`salesml --config cfg train churn --format json` in a fresh process: seconds and result."""
    env = {**os.environ, **({"OMP_NUM_THREADS": "1"} if one_thread else {})}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "salesml", "--config", str(cfg), "train", "churn", "--format", "json"],
                          capture_output=True, text=True, env=env, cwd=cfg.parent, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"train churn failed on {cfg}:\n{proc.stderr[-2000:]}")
    return {"seconds": seconds, "result": json.loads(proc.stdout)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.churn", description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", default=[], help="a salesml.toml with a loaded warehouse (repeatable)")
    ap.add_argument("--shop", action="store_true", help="also a shop export written by tests/shop_churn.py")
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--months", type=int, default=12)
    ap.add_argument("--max-lines", type=int, default=46)
    ap.add_argument("--out", default="", help="scratch folder for the shop export (default: temporary)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    configs = [(Path(c).resolve(), Path(c).resolve().parent.name, None) for c in args.config]
    scratch = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="salesml-bench-churn-"))
    if args.shop:
        cfg, lines, load_s = write_shop(scratch / "shop", args.customers, args.months, args.max_lines)
        configs.append((cfg, f"shop export ({args.customers:,} customers, {lines:,} lines, {args.months} months)", load_s))
    rows = []
    for cfg, label, load_s in configs:
        best: dict[str, dict] = {}
        for _ in range(max(1, args.repeat)):
            for name, one in (("threads", False), ("omp_1", True)):
                run = train(cfg, one)
                if name not in best or run["seconds"] < best[name]["seconds"]:
                    best[name] = run
        r = best["threads"]["result"]
        rows.append({"data": label, "load_s": None if load_s is None else round(load_s, 1),
                     "train_s": round(best["threads"]["seconds"], 1), "train_omp1_s": round(best["omp_1"]["seconds"], 1),
                     "examples": r["examples"], "holdout": r["holdout"]["examples"], "scorer": r["scorer"]["name"],
                     "roc_auc_model": round(r["model"]["roc_auc"], 4),
                     "roc_auc_best_baseline": round(max(b["roc_auc"] for b in r["baselines"].values() if b["roc_auc"] is not None), 4),
                     "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()})
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['data']}: train churn {row['train_s']} s, with OMP_NUM_THREADS=1 {row['train_omp1_s']} s "
                  f"({row['examples']['train']:,} training examples, holdout {row['holdout']:,}; scores with {row['scorer']}; "
                  f"ROC-AUC {row['roc_auc_model']} vs best baseline {row['roc_auc_best_baseline']}; {row['cores']} cores)"
                  + (f"; load {row['load_s']} s" if row["load_s"] is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
