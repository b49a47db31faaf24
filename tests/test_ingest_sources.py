"""Sources end to end through the config: Superstore (both forms), PostgreSQL, Excel, Parquet.

The Superstore totals are computed here independently of salesml (csv + Decimal).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from salesml import warehouse
from salesml.config import load_settings
from salesml.ingest import ingest_source

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "superstore"
VENDORED = Path(__file__).parent / "data" / "superstore"


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """(repo root, Superstore folder) laid out as the example config expects: the real
    ``../shared/data/superstore`` when present, else the vendored copy unpacked beside a copy
    of ``examples/`` in a temporary folder (same relative paths)."""
    if SHARED.is_dir():
        return ROOT, SHARED
    import gzip
    import shutil

    base = tmp_path_factory.mktemp("layout")
    repo, data = base / "repo", base / "shared" / "data" / "superstore"
    data.mkdir(parents=True)
    shutil.copytree(ROOT / "examples", repo / "examples")
    for gz in VENDORED.glob("*.gz"):
        (data / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    return repo, data


def rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def money(text: str) -> Decimal:
    return Decimal(text.replace("$", "").replace(",", ""))


def cents(d: Decimal) -> Decimal:
    return d.quantize(Decimal("0.01"), ROUND_HALF_UP)


def example(repo, tmp_path, name="wh.duckdb"):
    s = load_settings(repo / "examples" / "superstore.toml")
    return s.with_overrides(warehouse={"path": str(tmp_path / name)})


def one(settings, sql):
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(sql).fetchall()


def test_superstore_flat_reconciles_exactly(layout, tmp_path):
    repo, superstore = layout
    flat = rows(superstore / "superstore.csv")
    sales = sum(money(r["Sales"]) for r in flat)
    cost = sum(money(r["Sales"]) - money(r["Profit"]) for r in flat)
    s = example(repo, tmp_path)
    results = {r.table: r for r in ingest_source(s, "superstore_flat", s.sources["superstore_flat"])}
    lines = results["order_lines"]
    # the export repeats one row verbatim (rows 3407 and 3408): the repeat is quarantined
    seen, repeats = set(), []
    for r in flat:
        key = tuple(r.values())
        (repeats.append(r) if key in seen else seen.add(key))
    assert len(repeats) == 1
    repeated = sum(money(r["Sales"]) for r in repeats)
    assert (lines.rows_read, lines.rows_loaded, lines.rows_quarantined) == (len(flat), len(flat) - 1, 1)
    assert lines.quarantine_reasons == {"exact duplicate of an earlier row": 1}
    assert Decimal(str(lines.revenue_read)) == sales == Decimal("2297354")
    assert Decimal(str(lines.revenue_loaded)) == sales - repeated and Decimal(str(lines.revenue_quarantined)) == repeated
    [(amount, db_cost, n_orders)] = one(s, "SELECT sum(amount), sum(cost), count(DISTINCT order_id) FROM order_lines")
    assert amount == sales - repeated and db_cost == cost - sum(money(r["Sales"]) - money(r["Profit"]) for r in repeats)
    assert n_orders == len({r["Order ID"] for r in flat})
    products = results["products"]
    assert products.rows_loaded == len({r["Product Name"] for r in flat}) == 1850
    assert products.rows_loaded + products.rows_merged + products.rows_quarantined == len(flat)
    assert results["customers"].rows_loaded == len({r["Customer Name"] for r in flat})
    # "20%" discounts are fractions in the warehouse, "$262" amounts numbers
    assert one(s, "SELECT max(discount) FROM order_lines")[0][0] == Decimal("0.8")
    assert one(s, "SELECT count(*) FROM order_lines WHERE line_no > 1")[0][0] == len(flat) - 1 - n_orders


def test_superstore_normalized_reconciles_exactly(layout, tmp_path):
    repo, superstore = layout
    items = rows(superstore / "normalized_lineitems.csv")
    per_line = sum(cents(Decimal(r["Sales"])) for r in items)
    s = example(repo, tmp_path)
    results = {r.table: r for r in ingest_source(s, "superstore_normalized", s.sources["superstore_normalized"])}
    lines = results["order_lines"]
    assert (lines.rows_read, lines.rows_loaded, lines.rows_quarantined) == (len(items), len(items), 0)
    assert Decimal(str(lines.revenue_loaded)) == per_line == Decimal("2297201.07")
    # joined through the order header and its address: every line has a date, customer and region
    assert one(s, "SELECT count(*) FROM order_lines WHERE order_date IS NULL OR customer_id IS NULL OR region IS NULL") == [(0,)]
    assert sorted(r[0] for r in one(s, "SELECT DISTINCT region FROM order_lines")) == ["Central", "East", "South", "West"]
    assert results["products"].rows_loaded == len(rows(superstore / "normalized_products.csv"))


def test_superstore_from_the_command_line_as_the_readme_says(layout, tmp_path):
    repo, _ = layout
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")}
    env["SALESML_WAREHOUSE"] = str(tmp_path / "cli.duckdb")
    proc = subprocess.run(
        [sys.executable, "-m", "salesml.cli", "--config", "examples/superstore.toml", "ingest", "--source", "superstore_flat", "--table", "order_lines", "--format", "json"],
        cwd=repo, env=env, capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("batch_id", "rows_read", "rows_loaded", "rows_fixed", "rows_quarantined", "quarantine_reasons",
                "revenue_read", "revenue_loaded", "revenue_quarantined", "skipped"):
        assert key in out
    assert out["revenue_read"] == 2297354.0 and out["skipped"] is False
    assert round(out["revenue_loaded"] + out["revenue_quarantined"], 2) == out["revenue_read"] and out["rows_quarantined"] == 1
    again = subprocess.run(proc.args, cwd=repo, env=env, capture_output=True, text=True, check=True)
    assert json.loads(again.stdout)["skipped"] is True


# ----------------------------------------------------------------------------- PostgreSQL


def test_sql_source_from_postgresql(tmp_path, pg_url, monkeypatch):
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as con:
        con.exec_driver_sql("DROP TABLE IF EXISTS erp_lines")
        con.exec_driver_sql(
            "CREATE TABLE erp_lines (invoice TEXT, line INT, day DATE, cust TEXT, sku TEXT, qty INT, price NUMERIC(12,2), st TEXT)"
        )
        con.exec_driver_sql(
            "INSERT INTO erp_lines VALUES ('007', 1, '2024-01-05', 'C1', 'P1', 2, 10.25, 'S'),"
            " ('C008', 1, '2024-01-06', 'C1', 'P1', 1, 10.25, 'S'), ('009', 1, '2024-01-07', 'C2', 'P1', 0, 10.25, 'S')"
        )
    url = sa.make_url(pg_url)
    monkeypatch.setenv("ERP_PASSWORD", url.password)
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [warehouse]
            path = "wh.duckdb"
            [sources.erp]
            format = "sql"
            url = "{url.set(password="PLACEHOLDER").render_as_string(hide_password=False).replace("PLACEHOLDER", "${ERP_PASSWORD}")}"
            [sources.erp.tables.order_lines]
            query = "SELECT * FROM erp_lines ORDER BY invoice, line"
            columns = {{ order_id = "invoice", line_no = "line", order_date = "day", customer_id = "cust", product_id = "sku", quantity = "qty", unit_price = "price", status = "st" }}
            values = {{ status = {{ S = "completed" }} }}
            rules = [{{ name = "C invoices are cancellations", column = "order_id", matches = "^C", set = {{ status = "cancelled" }} }}]
            """
        ),
        encoding="utf-8",
    )
    s = load_settings(cfg)
    [r] = ingest_source(s, "erp", s.sources["erp"])
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (3, 2, 1)
    assert r.quarantine_reasons == {"quantity: is 0": 1}
    assert "***" in r.path and url.password not in r.path
    assert one(s, "SELECT order_id, status, amount FROM order_lines ORDER BY 1") == [("007", "completed", Decimal("20.50")), ("C008", "cancelled", Decimal("10.25"))]
    assert one(s, "SELECT rule, \"column\", before, after FROM row_fixes WHERE kind = 'fix'") == [("C invoices are cancellations", "status", "completed", "cancelled")]
    # the same result again: nothing changes; a changed table: a new version replaces the old
    assert ingest_source(s, "erp", s.sources["erp"])[0].skipped
    with engine.begin() as con:
        con.exec_driver_sql("UPDATE erp_lines SET qty = 3 WHERE invoice = '009'")
    [r2] = ingest_source(s, "erp", s.sources["erp"])
    assert r2.rows_loaded == 3 and r2.replaced_batches == [r.batch_id]
    with engine.begin() as con:
        con.exec_driver_sql("DROP TABLE erp_lines")
    engine.dispose()


# ----------------------------------------------------------------------------- Excel, Parquet


def test_excel_workbook_with_two_sheets_for_two_tables(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Products"
    ws.append(["SKU", "Name", "Cat"])
    ws.append(["007", "Widget", "Tools"])
    ws.append(["P2", "Ｇａｄｇｅｔ", "Tools"])
    lines = wb.create_sheet("Lines")
    lines.append(["Order", "Line", "Date", "Customer", "SKU", "Qty", "Amount"])
    lines.append(["A1", 1, "2024-03-01", "C1", "007", 2, "¥1,000.00"])
    lines.append(["A1", 2, "2024-03-01", "C1", "P404", 1, 5])
    path = tmp_path / "export.xlsx"
    wb.save(path)
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        textwrap.dedent(
            """
            [warehouse]
            path = "wh.duckdb"
            [sources.xl]
            format = "excel"
            [sources.xl.tables.products]
            files = ["export.xlsx"]
            sheet = "Products"
            columns = { product_id = "SKU", name = "Name", category = "Cat" }
            [sources.xl.tables.order_lines]
            files = ["export.xlsx"]
            sheet = "Lines"
            columns = { order_id = "Order", line_no = "Line", order_date = "Date", customer_id = "Customer", product_id = "SKU", quantity = "Qty", amount = "Amount", status = "'completed'" }
            """
        ),
        encoding="utf-8",
    )
    s = load_settings(cfg)
    results = {r.table: r for r in ingest_source(s, "xl", s.sources["xl"])}
    assert results["products"].rows_loaded == 2 and results["products"].rows_fixed == 1  # full-width name
    lines_r = results["order_lines"]
    assert (lines_r.rows_loaded, lines_r.rows_quarantined) == (1, 1)
    assert lines_r.quarantine_reasons == {"product_id: unknown (not in products)": 1}
    assert one(s, "SELECT source_row, reason FROM quarantine") == [(3, "product_id: unknown (not in products)")]
    assert one(s, "SELECT product_id, amount FROM order_lines") == [("007", Decimal("1000.00"))]
    assert one(s, "SELECT name FROM products ORDER BY 1") == [("Gadget",), ("Widget",)]


def test_parquet_source(tmp_path):
    import pandas as pd

    pd.DataFrame({"id": ["R1", "R2"], "team": ["T1", "T1"], "region": ["East", "East"], "start": pd.to_datetime(["2024-01-01", "2024-02-01"])}).to_parquet(tmp_path / "reps.parquet")
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        '[warehouse]\npath = "wh.duckdb"\n[sources.pq]\nformat = "parquet"\n[sources.pq.tables.reps]\nfiles = ["*.parquet"]\n'
        'columns = { rep_id = "id", team = "team", region = "region", valid_from = "start" }\n',
        encoding="utf-8",
    )
    s = load_settings(cfg)
    [r] = ingest_source(s, "pq", s.sources["pq"])
    assert (r.rows_read, r.rows_loaded) == (2, 2)
    assert one(s, "SELECT rep_id, valid_from FROM reps ORDER BY 1")[1][1].isoformat() == "2024-02-01"
