"""Speed and memory of the import, side by side with a bare DuckDB and a pandas read of the same file.

    python -m benchmarks.ingest [--lines N] [--files F] [--repeat R] [--out DIR] [--json]

Writes an N-line order export like a shop's (invoice, date, a customer id written as a
float or empty for guests, product, quantity, price, rep, country; ~2% returns), then runs,
each in a fresh process so its peak memory is its own:

* ``duckdb``   — ``CREATE TABLE … AS SELECT * FROM read_csv(…, all_varchar = true)``;
* ``pandas``   — ``pd.read_csv(…, dtype=str)`` (what the import read with before);
* ``salesml``  — ``ingest_source`` with a mapping (arithmetic amount, ``num()`` customer ids,
  ``@seq`` line numbers) and every rule on, into a new warehouse;
* ``sql``      — not a variant to compare with but a floor: the same mapping and typing written
  by hand in DuckDB SQL (the file into a table in its order, each line's number in the file,
  trimmed text, numbers and dates typed, returns marked, the row hash that exact repeats are
  found by) and inserted into the warehouse's ``order_lines``, with no rule and no record of
  the load; line numbers are the file's (no ``@seq``). What an import done in SQL would
  start from (only with ``--variants``);
* ``sqlrules`` — ``sql`` with the main rules of a file written in SQL before the INSERT: ``@seq``
  line numbers (runs of an invoice), exact repeats, repeated keys, missing values and future
  dates, price outliers (ten times a product's median), returns linked to the latest earlier
  sale of their customer and product (``ASOF JOIN``), the rows quarantined by them left out
  and the counts and money of the load. Still no text normalisation, number styles, foreign
  keys, check against the warehouse or record of what each rule did: a lower bound for an
  import in SQL with its rules (only with ``--variants``).

With ``--files F`` (> 1) the export is split into F gzipped files of consecutive lines, as a
shop's daily exports come (an order may straddle two files), and each variant reads them
all through one glob: salesml as one source run, DuckDB and pandas file by file.

Runs R rounds of the variants side by side and quotes each one's fastest run (the machine
is shared). Prints the seconds of each load (its imports, ``startup_s``, apart), rows/s and peak RSS
of each, and the ratios to DuckDB. Machines are shared:
quote the ratios of one run.
"""

from __future__ import annotations

import argparse
import glob
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import peak_mb

MAPPING = {
    "order_id": "Invoice",
    "line_no": "@seq(Invoice)",
    "order_date": "InvoiceDate",
    "customer_id": "num(CustomerID)",
    "product_id": "StockCode",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "rep_id": "Rep",
    "region": "Country",
    "status": "'completed'",
}


def write_export(path: Path, lines: int) -> None:
    """An N-line export, written by DuckDB (seconds for millions of lines)."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"""COPY (
            SELECT 'INV' || lpad((i // 4)::VARCHAR, 8, '0') AS Invoice,
                   (DATE '2023-01-01' + ((i // 4) % 700)::INTEGER)::VARCHAR AS InvoiceDate,
                   CASE WHEN i % 4 = 0 AND (i // 4) % 4 = 0 THEN '' ELSE (12000 + (i * 7919) % 5000)::VARCHAR || '.0' END AS CustomerID,
                   'P' || lpad(((i * 104729) % 3000)::VARCHAR, 5, '0') AS StockCode,
                   'Product ' || ((i * 104729) % 3000)::VARCHAR AS Description,
                   CASE WHEN i % 50 = 49 THEN '-1' ELSE (1 + i % 12)::VARCHAR END AS Quantity,
                   printf('%.2f', 0.5 + ((i * 104729) % 3000) / 100.0) AS UnitPrice,
                   'R' || lpad(((i // 4) % 60)::VARCHAR, 3, '0') AS Rep,
                   (['United Kingdom', 'France', 'Germany', 'EIRE', 'Spain'])[1 + (i // 4) % 5] AS Country
            FROM range({int(lines)}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )
    con.close()


def split_export(path: Path, files: int, out: Path) -> str:
    """``path`` cut into ``files`` gzipped files of consecutive lines (each with the header) in
    ``out``; returns their glob."""
    import gzip

    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("orders_*.csv.gz"):
        old.unlink()
    with path.open(encoding="utf-8", newline="") as f:
        header, *lines = f.readlines()
    size = -(-len(lines) // files)
    for k in range(files):
        with gzip.open(out / f"orders_{k:04d}.csv.gz", "wt", encoding="utf-8", newline="", compresslevel=1) as g:
            g.write(header)
            g.writelines(lines[k * size : (k + 1) * size])
    return str(out / "orders_*.csv.gz")


#: the export's columns, as ``write_export`` writes them
EXPORT_COLUMNS = ("Invoice", "InvoiceDate", "CustomerID", "StockCode", "Description", "Quantity", "UnitPrice", "Rep", "Country")


#: the ``sqlrules`` variant's rules, in order, over ``typed``: each makes a table of its own
SQL_RULES = (
    """CREATE TEMP TABLE seq AS SELECT source_row, (source_row - max(CASE WHEN order_id IS DISTINCT FROM prev THEN source_row END)
       OVER (ORDER BY source_row ROWS UNBOUNDED PRECEDING) + 1)::INTEGER AS line_no
       FROM (SELECT source_row, order_id, lag(order_id) OVER (ORDER BY source_row) AS prev FROM typed)""",
    """CREATE TEMP TABLE repeats AS SELECT row_hash, min(source_row) AS first_row FROM typed GROUP BY row_hash
       HAVING count(*) > 1""",
    """CREATE TEMP TABLE bad AS
       SELECT source_row FROM typed WHERE order_id IS NULL OR order_date IS NULL OR product_id IS NULL OR quantity IS NULL
                                          OR order_date > current_date
       UNION SELECT t.source_row FROM typed t JOIN repeats r ON t.row_hash = r.row_hash WHERE t.source_row > r.first_row
       UNION SELECT source_row FROM (SELECT t.source_row, row_number() OVER (PARTITION BY t.order_id, s.line_no ORDER BY t.source_row) AS n
                                     FROM typed t JOIN seq s USING (source_row)) WHERE n > 1
       UNION SELECT t.source_row FROM typed t JOIN (SELECT product_id, median(unit_price) AS med FROM typed
                                                    WHERE status = 'completed' GROUP BY product_id) m USING (product_id)
             WHERE t.unit_price > 10 * m.med OR t.unit_price < m.med / 10""",
    """CREATE TEMP TABLE linked AS SELECT r.source_row, s.order_id AS return_of_order_id, q.line_no AS return_of_line_no
       FROM (SELECT * FROM typed WHERE status = 'returned' AND customer_id IS NOT NULL) r
       ASOF JOIN (SELECT * FROM typed WHERE status = 'completed' AND customer_id IS NOT NULL) s
         ON r.customer_id = s.customer_id AND r.product_id = s.product_id AND r.order_date >= s.order_date
       JOIN seq q ON q.source_row = s.source_row""",
)


def sql_floor(con, path: Path, rules: bool = False) -> int:
    """The ``sql`` variant (``rules``: ``sqlrules``) on an open connection with ``order_lines``:
    returns the rows written."""
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in EXPORT_COLUMNS)
    con.execute(f"""CREATE TEMP TABLE raw AS SELECT * FROM read_csv('{path}', header = true, delim = ',', quote = '"',
                    escape = '"', columns = {{{columns}}}, auto_detect = false, store_rejects = true, strict_mode = true)""")
    text = ", ".join(f"coalesce({c}, '')" for c in EXPORT_COLUMNS)
    con.execute(f"""CREATE TEMP TABLE typed AS SELECT
        trim(Invoice) AS order_id, (rowid + 2)::INTEGER AS line_no, TRY_CAST(trim(InvoiceDate) AS DATE) AS order_date,
        CASE WHEN trim(coalesce(CustomerID, '')) = '' THEN NULL
             ELSE CAST(CAST(TRY_CAST(CustomerID AS DOUBLE) AS BIGINT) AS VARCHAR) END AS customer_id,
        trim(StockCode) AS product_id, TRY_CAST(trim(Quantity) AS DECIMAL(18,3)) AS quantity,
        TRY_CAST(trim(UnitPrice) AS DECIMAL(18,4)) AS unit_price,
        round(TRY_CAST(trim(Quantity) AS DOUBLE) * TRY_CAST(trim(UnitPrice) AS DOUBLE), 2)::DECIMAL(18,2) AS amount,
        trim(Rep) AS rep_id, trim(Country) AS region,
        CASE WHEN TRY_CAST(trim(Quantity) AS DOUBLE) < 0 THEN 'returned' ELSE 'completed' END AS status,
        hash({text}) AS row_hash, (rowid + 2)::INTEGER AS source_row
        FROM raw""")
    if rules:
        for rule in SQL_RULES:
            con.execute(rule)
        source = """SELECT t.order_id, s.line_no, t.order_date, t.customer_id, t.product_id, t.quantity, t.unit_price, t.amount,
                    t.rep_id, t.region, t.status, l.return_of_order_id, l.return_of_line_no, 1, t.source_row
                    FROM typed t JOIN seq s USING (source_row) LEFT JOIN linked l USING (source_row)
                    ANTI JOIN bad b ON b.source_row = t.source_row"""
    else:
        source = """SELECT order_id, line_no, order_date, customer_id, product_id, quantity, unit_price, amount, rep_id, region,
                    status, NULL, NULL, 1, source_row FROM typed"""
    con.execute("BEGIN")
    con.execute(f"""INSERT INTO order_lines (order_id, line_no, order_date, customer_id, product_id, quantity, unit_price, amount,
                   rep_id, region, status, return_of_order_id, return_of_line_no, batch_id, source_row) {source}""")
    if rules:  # the load's counts and money: read, quarantined, unlinked returns
        con.execute("""SELECT count(*), sum(amount), count(*) FILTER (source_row IN (SELECT source_row FROM bad)),
                       sum(amount) FILTER (status = 'returned' AND source_row NOT IN (SELECT source_row FROM linked))
                       FROM typed""").fetchall()
    con.execute("COMMIT")
    return con.execute("SELECT count(*) FROM order_lines").fetchall()[0][0]


def run_variant(variant: str, path: Path, scratch: Path) -> dict:
    """One variant in this process, into a new database; returns its start-up (imports),
    the seconds of the load itself, rows and peak RSS. Rows/s and the ratios are of the
    load: the imports are a fixed cost, quoted on their own."""
    for old in scratch.glob("*.duckdb*"):
        old.unlink()
    t_import = time.perf_counter()
    if variant == "duckdb":
        import duckdb
    elif variant == "pandas":
        import pandas as pd
    elif variant in ("sql", "sqlrules"):
        import duckdb

        from salesml import schema
    elif variant == "salesml":
        import dataclasses

        from salesml.config import Settings, SourceSettings, TableSource
        from salesml.ingest import ingest_source
    else:
        raise SystemExit(f"unknown variant {variant!r}")
    t0 = time.perf_counter()
    if variant == "duckdb":
        con = duckdb.connect(str(scratch / "bare.duckdb"))
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', all_varchar = true)")
        rows = con.execute("SELECT count(*) FROM t").fetchall()[0][0]
        con.close()
    elif variant == "pandas":
        rows = sum(len(pd.read_csv(f, dtype=str, keep_default_na=False)) for f in sorted(glob.glob(str(path))))
    elif variant in ("sql", "sqlrules"):
        con = duckdb.connect(str(scratch / "sql.duckdb"))
        con.execute(schema.table("order_lines").ddl())
        sql_floor(con, path, rules=variant == "sqlrules")
        rows = con.execute("SELECT count(*) FROM typed").fetchall()[0][0]  # the lines read, as the other variants count
        con.close()
    else:
        s = dataclasses.replace(Settings(), root=scratch).with_overrides(warehouse={"path": str(scratch / "salesml.duckdb")})
        src = SourceSettings(tables={"order_lines": TableSource(files=(str(path),), columns=MAPPING)})
        rows = sum(r.rows_read for r in ingest_source(s, "bench", src))
    seconds = time.perf_counter() - t0
    return {"variant": variant, "rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds),
            "peak_rss_mb": round(peak_mb()), "startup_s": round(t0 - t_import, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=1, help="split the export into this many gzipped daily files, read through one glob")
    ap.add_argument("--out", default="", help="scratch folder (default: temporary)")
    ap.add_argument("--variants", default="duckdb,pandas,salesml", help="of duckdb, pandas, salesml, sql, sqlrules")
    ap.add_argument("--variant", default="", help=argparse.SUPPRESS)  # a child process's own run
    ap.add_argument("--file", default="", help=argparse.SUPPRESS)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of all variants; the fastest run of each is quoted")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    scratch = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="salesml-bench-ingest-"))
    scratch.mkdir(parents=True, exist_ok=True)
    if args.variant:
        print(json.dumps(run_variant(args.variant, Path(args.file), scratch)))
        return 0
    path = scratch / f"orders_{args.lines}.csv"
    if not path.exists():
        write_export(path, args.lines)
    size_mb = path.stat().st_size / 2**20
    if args.files > 1:
        path = Path(split_export(path, args.files, scratch / f"daily_{args.lines}_{args.files}"))
    variants = args.variants.split(",")
    runs: dict[str, list[dict]] = {v: [] for v in variants}
    for _ in range(max(1, args.repeat)):  # rounds side by side: a noisy spell hits every variant
        for v in variants:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.ingest", "--variant", v, "--file", str(path), "--out", str(scratch / v)],
                capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parents[1],
            )
            if out.returncode:
                print(out.stderr, file=sys.stderr)
                return out.returncode
            runs[v].append(json.loads(out.stdout.strip().splitlines()[-1]))
    # the fastest run of each: what the work costs when the shared machine lets it run
    results = [dict(min(runs[v], key=lambda r: r["seconds"]), runs=len(runs[v])) for v in variants]
    base = next((r for r in results if r["variant"] == "duckdb"), None)
    for r in results:
        if base:
            r["x_duckdb_time"] = round(r["seconds"] / base["seconds"], 2)
            r["x_duckdb_memory"] = round(r["peak_rss_mb"] / base["peak_rss_mb"], 2)
    if args.json:
        print(json.dumps({"lines": args.lines, "files": args.files, "file_mb": round(size_mb), "results": results}, indent=2))
    else:
        print(f"{args.lines:,} lines, {size_mb:.0f} MB" + (f", in {args.files} gzipped files" if args.files > 1 else ""))
        for r in results:
            print("  ".join(f"{k}={v}" for k, v in r.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
