"""Speed and memory of the spine, measured on demand (never as test assertions).

    python -m benchmarks [--scale small|medium|large] [--seed N] [--end-date YYYY-MM-DD] [--out DIR]

Runs, in a scratch folder (default: a temporary one): demo generation, the warehouse load,
the ledger posting,
`perf` for the latest complete month at every level, the KPI blocks' data of the
sales_performance report (company, that month), and one report render. Prints the
wall time and peak memory (RSS of this process) of each step as a table and, with
``--json``, as JSON. Figures belong in issue notes.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--end-date", default="")
    ap.add_argument("--out", default="", help="scratch folder (default: temporary)")
    ap.add_argument("--no-report", action="store_true", help="skip the report render")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    import dataclasses

    from salesml import warehouse
    from salesml.accounting import performance as perf
    from salesml.accounting.ledger import ensure_posted
    from salesml.config import Settings
    from salesml.demo.generator import generate
    from salesml.demo.source import SOURCE_NAME, demo_source
    from salesml.ingest import ingest_source
    from salesml.periods import latest_complete_period
    from salesml.reports import kpi_blocks
    from salesml.reports.runner import render
    from salesml.scope import parse_scope

    root = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="salesml-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    s = dataclasses.replace(Settings(), root=root).with_overrides(
        warehouse={"path": str(root / "warehouse.duckdb")},
        demo={"out_dir": str(root / "raw"), "scale": args.scale, "seed": args.seed},
        report={"notebooks_dir": str(repo / "notebooks"), "output_dir": str(root / "reports")},
    )
    end = date.fromisoformat(args.end_date) if args.end_date else date.today()
    steps = []

    def step(name, fn):
        t0 = time.perf_counter()
        value = fn()
        steps.append({"step": name, "seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(_peak_mb())})
        return value

    manifest = step("generate", lambda: generate(root / "raw", scale=args.scale, seed=args.seed, end_date=end, progress=True))
    results = step("load", lambda: ingest_source(s, SOURCE_NAME, demo_source(s), progress=True))
    step("reload (unchanged)", lambda: ingest_source(s, SOURCE_NAME, demo_source(s)))
    step("post ledger", lambda: ensure_posted(s))

    def perf_all():
        with warehouse.connect(s.warehouse_path, read_only=True) as con:
            p = latest_complete_period(con)
            return {by: len(perf.performance(con, p, by)) for by in perf.LEVELS}

    step("perf, all levels", perf_all)

    def report_data():
        with warehouse.connect(s.warehouse_path, read_only=True) as con:
            p = latest_complete_period(con)
            return kpi_blocks.load(con, p, parse_scope("company"), s.performance)

    step("report data (KPI blocks)", report_data)
    if not args.no_report:
        step("report sales_performance", lambda: render(s, "sales_performance"))
    lines = manifest.get("rows", {}).get("order_lines")
    loaded = sum(r.rows_loaded for r in results)
    summary = {"scale": args.scale, "order_lines": lines, "rows_loaded": loaded, "folder": str(root), "steps": steps}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"scale {args.scale}: {lines:,} order lines, {loaded:,} rows loaded in all ({root})")
        for st in steps:
            print(f"  {st['step']:<28} {st['seconds']:>8.2f} s   peak RSS {st['peak_rss_mb']:>7,} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
