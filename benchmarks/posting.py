"""A daily file's load and ledger posting: what is new only, vs a complete posting.

    python -m benchmarks.posting --warehouse W [--lines 1000] [--repeat 2] [--out DIR] [--json]

Writes ``--lines`` completed order lines in the canonical columns (the warehouse's latest
sale lines under new order numbers), then, on fresh copies of the warehouse ``W`` (a loaded
and posted demo), loads the file and posts the ledger: the way a load does (only the lines
the new batch can change) and complete (``ledger.post(full=True)``, every line compared),
alternately, ``--repeat`` rounds; quotes the fastest of each, the entries posted (the same
both ways) and the ledger's size. Figures belong in issue notes and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from salesml import schema, warehouse
from salesml.accounting import ledger
from salesml.config import Settings
from salesml.ingest import canonical_source, ingest_source


def write_daily(source: Path, out: Path, lines: int) -> None:
    """The latest ``lines`` completed lines of ``source``, as new orders (no return links)."""
    cols = schema.table("order_lines").column_names
    sel = ", ".join("'NEW-' || order_id AS order_id" if c == "order_id" else (f"NULL AS {c}" if c.startswith("return_of") else c) for c in cols)
    with duckdb.connect(str(source), read_only=True) as con:
        con.execute(f"COPY (SELECT {sel} FROM order_lines WHERE status = 'completed' "
                    f"ORDER BY order_date DESC, order_id, line_no LIMIT {int(lines)}) TO '{out}' (HEADER)")


def run(source: Path, daily: Path, folder: Path, full: bool) -> dict:
    """Load the file into a copy of the warehouse and post: seconds of each, entries."""
    wh = folder / ("full.duckdb" if full else "incremental.duckdb")
    shutil.copy(source, wh)
    s = dataclasses.replace(Settings(), root=folder).with_overrides(warehouse={"path": str(wh)})
    started = time.perf_counter()
    ingest_source(s, "daily", canonical_source({"order_lines": daily}))
    loaded = time.perf_counter()
    with warehouse.open(s) as con:
        result = ledger.post(con, s.performance, full=full)
        size = con.execute("SELECT count(*) FROM ledger").fetchall()[0][0]
    return {"load_s": loaded - started, "post_s": time.perf_counter() - loaded, "entries": result["entries"],
            "incremental": result["incremental"], "ledger_rows": int(size)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.posting", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", required=True, help="a loaded and posted warehouse (it is copied, never changed)")
    ap.add_argument("--lines", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default="")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    folder = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="salesml-bench-posting-"))
    folder.mkdir(parents=True, exist_ok=True)
    source = Path(args.warehouse).resolve()
    daily = folder / "daily.csv"
    write_daily(source, daily, args.lines)
    best: dict[str, dict] = {}
    for _ in range(max(1, args.repeat)):
        for name, full in (("incremental", False), ("full", True)):
            r = run(source, daily, folder, full)
            if name not in best or r["post_s"] < best[name]["post_s"]:
                best[name] = r
    out = {"lines": args.lines, **{k: {m: round(v, 3) if isinstance(v, float) else v for m, v in r.items()} for k, r in best.items()},
           "post_speedup": round(best["full"]["post_s"] / best["incremental"]["post_s"], 1)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        i, f = best["incremental"], best["full"]
        print(f"{args.lines:,} new lines into a ledger of {f['ledger_rows']:,} rows: load {i['load_s']:.2f} s; posting what is new "
              f"{i['post_s']:.2f} s vs complete {f['post_s']:.2f} s ({out['post_speedup']}x); {i['entries']:,} entries either way")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
