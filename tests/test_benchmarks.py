"""The benchmarks run end to end on tiny workloads (their figures go in benchmarks/README.md,
never into assertions about time)."""

from __future__ import annotations

import json
import math

from benchmarks import churn as churn_bench
from benchmarks import forecast as bench
from benchmarks import posting as posting_bench


def test_the_forecast_benchmark_runs_on_a_tiny_workload(small_demo, capsys):
    args = ["--warehouse", str(small_demo.warehouse_path), "--series", "3", "--days", "120", "--windows", "2",
            "--horizon", "7", "--workers", "1", "--prophet-series", "1", "--json"]
    assert bench.main(args) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["series"] == 3 and r["days"] == 120 and r["windows"] == 2
    assert r["auto"]["series"] == 3 and math.isfinite(r["auto"]["mase"]) and math.isfinite(r["seasonal_naive"]["mase"])
    assert sum(r["chosen_in_windows"].values()) == 6 and sum(r["chosen_for_forecast"].values()) == 3
    p = r["prophet_default"]
    assert p["series"] == 1 and not p["measured_on_all"] and math.isfinite(p["mase"])
    assert set(r["same_series"]) == {"auto", "seasonal_naive", "prophet_default"} and r["speedup"] > 0


def test_the_ingest_benchmark_runs_on_a_tiny_file(tmp_path, capsys):
    """Each variant in its own process, on the same generated export; salesml loads every line
    (its returns are accepted as unlinked) and the ratios are to DuckDB's time and memory."""
    from benchmarks import ingest

    assert ingest.main(["--lines", "2000", "--out", str(tmp_path), "--repeat", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    by = {x["variant"]: x for x in r["results"]}
    assert set(by) == {"duckdb", "pandas", "salesml"} and all(x["rows"] == 2000 and x["runs"] == 1 for x in by.values())
    assert by["duckdb"]["x_duckdb_time"] == 1.0 and by["salesml"]["peak_rss_mb"] > 0
    assert by["salesml"]["startup_s"] > 0  # the imports, timed apart from the load


def test_the_sql_floor_of_the_ingest_benchmark_types_what_salesml_would(tmp_path):
    """The ``sql`` variant's rows: every line, customer ids as whole-number text (guests NULL),
    returns marked, and the money of the file to the cent as Python's csv and Decimal see it."""
    import csv
    from decimal import ROUND_HALF_EVEN, Decimal

    import duckdb

    from benchmarks import ingest
    from salesml import schema

    path = tmp_path / "orders.csv"
    ingest.write_export(path, 3000)
    with path.open("a", encoding="utf-8") as f:  # a sale and, four days later, a return of one of its items
        f.write("INVZ0000001,2023-03-01,99999.0,P99999,Product X,3,2.00,R001,France\n"
                "INVZ0000002,2023-03-05,99999.0,P99999,Product X,-1,2.00,R001,France\n")
    with path.open(newline="", encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    money = sum((Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])).quantize(Decimal("0.01"), ROUND_HALF_EVEN) for r in lines)
    con = duckdb.connect(str(tmp_path / "floor.duckdb"))
    con.execute(schema.table("order_lines").ddl())
    assert ingest.sql_floor(con, path) == len(lines) == 3002
    total, guests, returns, bad_ids = con.execute(
        "SELECT sum(amount), count(*) FILTER (customer_id IS NULL), count(*) FILTER (status = 'returned'), "
        "count(*) FILTER (customer_id LIKE '%.%') FROM order_lines").fetchone()
    assert total == money
    assert guests == sum(1 for r in lines if not r["CustomerID"].strip())
    assert returns == sum(1 for r in lines if Decimal(r["Quantity"]) < 0) and bad_ids == 0
    assert con.execute("SELECT min(source_row), max(source_row) FROM order_lines").fetchone() == (2, 3003)
    # with its rules: invoices of up to four lines numbered from 1, every line written or quarantined, the return linked
    ruled = duckdb.connect(str(tmp_path / "rules.duckdb"))
    ruled.execute(schema.table("order_lines").ddl())
    written = ingest.sql_floor(ruled, path, rules=True)
    bad = ruled.execute("SELECT count(*) FROM bad").fetchone()[0]
    assert written + bad == len(lines)
    assert ruled.execute("SELECT min(line_no), max(line_no), count(DISTINCT (order_id, line_no)) FROM order_lines").fetchone() == (1, 4, written)
    assert ruled.execute("SELECT return_of_order_id, return_of_line_no FROM order_lines WHERE order_id = 'INVZ0000002'").fetchall() == [
        ("INVZ0000001", 1)]


def test_the_ingest_benchmark_splits_the_export_into_daily_gzipped_files(tmp_path, capsys):
    """With --files, every variant reads the same lines from the gzipped files through a glob."""
    import gzip

    from benchmarks import ingest

    assert ingest.main(["--lines", "2000", "--files", "7", "--out", str(tmp_path), "--repeat", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["files"] == 7 and all(x["rows"] == 2000 for x in r["results"])
    parts = sorted((tmp_path / "daily_2000_7").glob("orders_*.csv.gz"))
    lines = [gzip.decompress(p.read_bytes()).decode("utf-8").splitlines() for p in parts]
    whole = (tmp_path / "orders_2000.csv").read_text(encoding="utf-8").splitlines()
    assert len(parts) == 7 and all(part[0] == whole[0] for part in lines)
    assert [line for part in lines for line in part[1:]] == whole[1:]  # the same lines, in order


def test_the_choice_benchmark_scores_auto_next_to_every_candidate(small_demo, capsys):
    from benchmarks import choice

    assert choice.combinations_of(("a", "b", "c"), "", 3) == ("a+b", "a+c", "b+c", "a+b+c")
    assert choice.combinations_of(("a", "b", "c"), "a+b, b+c", 0) == ("a+b", "b+c")
    choice.main(["--warehouse", str(small_demo.warehouse_path), "--levels", "region", "--freqs", "W", "--models", "seasonal_naive,theta",
                 "--all-combinations", "2", "--choices", "pooled", "--selection-windows", "2", "--workers", "1", "--json"])
    [r] = json.loads(capsys.readouterr().out)
    assert (r["level"], r["freq"], r["selection_windows"]) == ("region", "W", 2) and r["series"] > 1
    assert set(r["candidates"]) == {"seasonal_naive", "theta", "ensemble(seasonal_naive+theta)"}
    assert r["best_single"] in ("seasonal_naive", "theta") and r["best_combination"] == "ensemble(seasonal_naive+theta)"
    assert r["best_single_mase"] == min(r["candidates"]["seasonal_naive"], r["candidates"]["theta"])
    assert math.isfinite(r["auto_pooled"]) and 0 <= r["coverage_pooled"] <= 100
    # the regions keep the company's pick (computed first, not listed) as the backtest command does
    # (a combination is a candidate like the others: its name's "+" is not a list of candidates)
    assert r["parent"] == "company" and set(r["picks"]) == {"1", "2", "3"} and set(r["picks"].values()) <= set(r["candidates"])


def test_the_choice_benchmark_scores_levels_choosing_together(small_demo, capsys):
    """With ``--pool-levels`` each listed level also gets the score of one choice per window
    for all of them; a level alone in the pool scores as its own pooled choice."""
    from benchmarks import choice

    argv = ["--warehouse", str(small_demo.warehouse_path), "--freqs", "W", "--models", "seasonal_naive,theta",
            "--choices", "pooled", "--selection-windows", "2", "--workers", "1", "--json"]
    choice.main([*argv, "--levels", "region,company", "--pool-levels", "region,company"])
    rows = {r["level"]: r for r in json.loads(capsys.readouterr().out)}
    for r in rows.values():
        assert math.isfinite(r["auto_across"]) and set(r["picks_across"].values()) <= {"seasonal_naive", "theta"}
        assert r["candidates"][r["best_single"]] <= r["auto_across"] or r["auto_across"] <= r["best_single_mase"]
    # both levels made the same pick in each window
    assert rows["region"]["picks_across"] == rows["company"]["picks_across"]
    choice.main([*argv, "--levels", "region", "--pool-levels", "region", "--parent-margin", "0"])
    [alone] = json.loads(capsys.readouterr().out)
    assert alone["auto_across"] == alone["auto_pooled"] and "parent" not in alone


def test_the_churn_benchmark_trains_a_shop_export_both_ways(tmp_path, capsys):
    """A small shop export (tests/shop_churn.py) loaded and trained by the CLI, as configured
    and with one thread per native pool."""
    assert churn_bench.main(["--shop", "--customers", "600", "--months", "9", "--max-lines", "3", "--out", str(tmp_path), "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["data"].startswith("shop export (600 customers") and row["load_s"] > 0
    assert row["train_s"] > 0 and row["train_omp1_s"] > 0 and row["holdout"] > 50
    assert row["scorer"] in {"model", "recency", "bgnbd", "logistic"} and 0.5 < row["roc_auc_best_baseline"] < 1


def test_the_posting_benchmark_posts_the_same_entries_both_ways(small_demo, tmp_path, capsys):
    assert posting_bench.main(["--warehouse", str(small_demo.warehouse_path), "--lines", "50", "--repeat", "1",
                               "--out", str(tmp_path), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["incremental"]["incremental"] is True and r["full"]["incremental"] is False
    assert r["incremental"]["entries"] == r["full"]["entries"] >= 50 and r["full"]["ledger_rows"] > 1000


def test_the_perf_benchmark_gives_the_same_figures_three_ways(small_demo, capsys):
    """salesml, the hand-written SQL and pandas agree to the cent for a month and a year
    (the benchmark asserts it before timing) on the small demo."""
    from benchmarks import perf as perf_bench

    args = ["--warehouse", str(small_demo.warehouse_path), "--period", "2026-05,2025", "--repeat", "1", "--no-memory", "--json"]
    assert perf_bench.main(args) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["period"] for r in rows] == ["2026-05", "2025"]
    for r in rows:
        assert 0 < r["period_entries"] < r["ledger_entries"] and r["salesml_s"] > 0 and r["pandas_s"] > 0


def test_the_backup_benchmark_backs_up_verifies_and_restores_plain_and_encrypted(small_demo, tmp_path, capsys):
    from benchmarks import backup

    assert backup.main(["--warehouse", str(small_demo.warehouse_path), "--repeat", "1", "--out", str(tmp_path), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    for name in ("plain", "encrypted"):
        assert r[name]["order_lines"] > 10_000 and r[name]["backup_mb"] > 0 and r[name]["restore_s"] > 0
    assert r["plain"]["tables"] == r["encrypted"]["tables"] and r["perf_plain_s"] > 0 and r["perf_encrypted_s"] > 0
    assert not list(tmp_path.glob("backups/salesml-backup-*"))  # each round's backup removed


def test_the_reorder_benchmark_times_the_honest_backtest_and_fingerprints_its_figures(small_demo, capsys):
    """Two runs on the same products give the same reorder table, statuses and backtest rows
    (the hash two commits are compared by); fewer products give other figures."""
    from benchmarks import reorder

    args = ["--warehouse", str(small_demo.warehouse_path), "--products", "4", "--repeat", "2", "--json"]
    assert reorder.main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["products"] == 4 and first["rows"] >= 4 and first["wall_s"] > 0 and first["cpu_s"] > 0
    # the safety stocks checked against the same backtest: every row's lead time in every window
    assert first["service_level_pct"] == 95.0 and first["lead_time_checks"] > 0
    assert 0 <= first["covered_days_independent_pct"] <= first["covered_days_correlated_pct"] <= 100
    assert 0 < first["days_inside_80_pct"] <= 100
    assert reorder.main(args) == 0
    assert json.loads(capsys.readouterr().out)["result_hash"] == first["result_hash"]
    assert reorder.main([*args[:3], "3", "--repeat", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result_hash"] != first["result_hash"]


def test_the_reorder_benchmarks_service_check_by_hand():
    """One product, a 2-day lead time, one window of 3 days forecast at 10 a day with σ = 1
    (80% interval 10 ± 1.2816): the reorder point covers 20 + 1.645·√2 = 22.33 with the days
    independent, 20 + 1.645·2 = 23.29 with them correlated; 23 units in the first two days is
    covered only by the second. Days inside their 80% interval [8.72, 11.28]: 11 and 9.5, not 12."""
    from types import SimpleNamespace

    import pandas as pd

    from benchmarks import reorder

    half = 1.2815515655446004
    windows = pd.DataFrame({"unique_id": "P1", "ds": pd.date_range("2026-01-01", periods=3), "yhat": 10.0,
                            "lo": 10.0 - half, "hi": 10.0 + half, "model": "ets", "window": 1})
    demand = pd.DataFrame({"unique_id": "P1", "ds": pd.date_range("2026-01-01", periods=3), "y": [11.0, 12.0, 9.5]})
    snapshot = pd.DataFrame({"product_id": ["P1"], "lead_time_days": [2]})
    settings = SimpleNamespace(forecast=SimpleNamespace(level=80), inventory=SimpleNamespace(service_level=0.95, default_lead_time_days=7))
    got = reorder.service_check(windows, demand, snapshot, settings)
    assert got == {"service_level_pct": 95.0, "lead_time_checks": 1, "covered_days_independent_pct": 0.0,
                   "covered_days_correlated_pct": 100.0, "days_inside_80_pct": 66.7}
