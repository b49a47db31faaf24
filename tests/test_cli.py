"""The command line, run as users run it (a subprocess): data on stdout, messages on stderr."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest


def run(*args, cwd, env_extra=None, check=True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")}
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-m", "salesml.cli", *args], capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture
def wh(toy):
    return {"SALESML_WAREHOUSE": str(toy.warehouse_path)}


def test_help_lists_the_commands(tmp_path):
    out = run("--help", cwd=tmp_path).stdout
    for cmd in ("demo", "ingest", "info", "sql", "perf", "report"):
        assert cmd in out


def test_info_json(toy, wh):
    data = json.loads(run("info", "--format", "json", cwd=toy.root, env_extra=wh).stdout)
    assert data["warehouse"] == str(toy.warehouse_path)
    tables = {t["table"]: t for t in data["tables"]}
    assert tables["order_lines"]["rows"] == 12
    assert tables["order_lines"]["first"] == "2024-01-10"


def test_sql_csv_prints_only_data(toy, wh):
    proc = run("sql", "SELECT order_id, amount FROM order_lines WHERE order_id = 'SO7'", "--format", "csv", cwd=toy.root, env_extra=wh)
    assert list(csv.reader(io.StringIO(proc.stdout))) == [["order_id", "amount"], ["SO7", "200.0"]]


def test_sql_refuses_writes(toy, wh):
    proc = run("sql", "DELETE FROM order_lines", cwd=toy.root, env_extra=wh, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "refused" in proc.stderr and "DELETE" in proc.stderr
    assert json.loads(run("sql", "SELECT count(*) AS n FROM order_lines", "--format", "json", cwd=toy.root, env_extra=wh).stdout) == [{"n": 12}]


def test_perf_json_by_team(toy, wh):
    rows = json.loads(run("perf", "--period", "2024-02", "--by", "team", "--format", "json", cwd=toy.root, env_extra=wh).stdout)
    t1 = next(r for r in rows if r["team"] == "T1")
    assert (t1["revenue"], t1["margin"], t1["returns"], t1["target_revenue"], t1["rank_in_region"]) == (200, 80, 50, 200, 1)


def test_perf_defaults_to_the_latest_complete_month(toy, wh):
    proc = run("perf", "--by", "company", cwd=toy.root, env_extra=wh)
    assert "2024-01" in proc.stderr  # data ends 2024-02-25, so January is the latest complete month
    assert "350.00" in proc.stdout


def test_clear_errors(toy, wh, tmp_path):
    bad = run("perf", "--period", "2024-13", cwd=toy.root, env_extra=wh, check=False)
    assert bad.returncode == 1 and "2024-13" in bad.stderr and "YYYY-MM" in bad.stderr and "Traceback" not in bad.stderr
    scope = run("perf", "--period", "2024-02", "--scope", "team:T99", cwd=toy.root, env_extra=wh, check=False)
    assert scope.returncode == 1 and "T99" in scope.stderr
    none = run("info", cwd=tmp_path, check=False)
    assert none.returncode == 1 and "no warehouse at" in none.stderr and "salesml demo" in none.stderr
    usage = run("perf", "--bogus", cwd=tmp_path, check=False)
    assert usage.returncode == 2 and "--bogus" in usage.stderr


def test_config_option_before_or_after_the_command_and_env(toy, tmp_path):
    cfg = tmp_path / "conf" / "salesml.toml"
    cfg.parent.mkdir()
    cfg.write_text(f'[warehouse]\npath = "{toy.warehouse_path}"\n', encoding="utf-8")
    for args in (["--config", str(cfg), "info", "--format", "json"], ["info", "--config", str(cfg), "--format", "json"]):
        assert json.loads(run(*args, cwd=tmp_path).stdout)["warehouse"] == str(toy.warehouse_path)
    via_env = run("info", "--format", "json", cwd=tmp_path, env_extra={"SALESML_CONFIG": str(cfg)})
    assert json.loads(via_env.stdout)["warehouse"] == str(toy.warehouse_path)
    missing = run("--config", str(tmp_path / "nope.toml"), "info", cwd=tmp_path, check=False)
    assert missing.returncode == 1 and "config file not found" in missing.stderr


@pytest.mark.notebook
def test_report_prints_the_path(toy, wh):
    from tests.test_reports_runner import ROOT_NOTEBOOKS

    cfg = toy.root / "salesml.toml"
    cfg.write_text(f'[report]\nnotebooks_dir = "{ROOT_NOTEBOOKS}"\n', encoding="utf-8")
    proc = run("report", "sales_performance", "-p", "period=2024-02", "-p", "scope=team:T2", cwd=toy.root, env_extra=wh)
    path = proc.stdout.strip()
    assert path == str(toy.root / "reports" / "2024-02" / "sales_performance_team-T2.html")
    assert os.path.exists(path)
    bad = run("report", "sales_performance", "-p", "nonsense", cwd=toy.root, env_extra=wh, check=False)
    assert bad.returncode == 1 and "key=value" in bad.stderr


BAD_CSV = """Invoice,Line,Date,Customer,SKU,Qty,Price,Status
A1,1,2024-03-01,C1,P1,2,$10.00,Completed
A1,1,2024-03-01,C1,P1,2,$10.00,Completed
A2,1,2024-13-01,C1,P1,1,5,Completed
A3,1,2024-03-02,C1,P1,x,5,Completed
"""


@pytest.fixture
def erp(tmp_path):
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "orders.csv").write_text(BAD_CSV, encoding="utf-8")
    (tmp_path / "salesml.toml").write_text(
        '[warehouse]\npath = "wh.duckdb"\n[sources.erp.tables.order_lines]\nfiles = ["exports/*.csv"]\n'
        'columns = { order_id = "Invoice", line_no = "Line", order_date = "Date", customer_id = "Customer", '
        'product_id = "SKU", quantity = "Qty", unit_price = "Price", status = "Status" }\n'
        'values = { status = { completed = "completed" } }\n'
        # one impossible date in four rows: above the default share, which would stop the load
        '[cleaning]\nmax_bad_date_share = 0.5\n',
        encoding="utf-8",
    )
    return tmp_path


def test_ingest_quarantine_and_batches(erp):
    out = json.loads(run("ingest", "--source", "erp", "--format", "json", cwd=erp).stdout)
    assert (out["rows_read"], out["rows_loaded"], out["rows_fixed"], out["rows_quarantined"]) == (4, 1, 1, 3)
    assert out["quarantine_reasons"] == {
        "order_id,line_no: exact duplicate of a later row": 1,
        "order_date: not a date (YYYY-MM-DD)": 1,
        "quantity: not a number (decimal '.', thousands ',')": 1,
    }
    assert (out["revenue_read"], out["revenue_loaded"], out["revenue_quarantined"], out["skipped"]) == (45.0, 20.0, 25.0, False)
    q = list(csv.DictReader(io.StringIO(run("quarantine", "--format", "csv", cwd=erp).stdout)))
    assert [(r["row"], r["reason"]) for r in q] == [
        ("2", "order_id,line_no: exact duplicate of a later row"),
        ("4", "order_date: not a date (YYYY-MM-DD)"),
        ("5", "quantity: not a number (decimal '.', thousands ',')"),
    ]
    assert q[0]["file"].endswith("orders.csv") and json.loads(q[2]["record"])["Qty"] == "x"
    table = run("quarantine", "--batch", str(out["batch_id"]), cwd=erp).stdout
    assert "not a number" in table
    missing = run("quarantine", "--batch", "99", cwd=erp, check=False)
    assert missing.returncode == 1 and "no load batch 99" in missing.stderr
    b = json.loads(run("batches", "--format", "json", cwd=erp).stdout)
    assert [(x["batch_id"], x["rows_read"], x["rows_quarantined"], x["status"]) for x in b] == [(out["batch_id"], 4, 3, "loaded")]
    # files on the command line replace the configured ones; loading them again changes nothing
    again = json.loads(run("ingest", str(erp / "exports" / "orders.csv"), "--source", "erp", "--format", "json", cwd=erp).stdout)
    assert again["skipped"] is True
    unknown = run("ingest", "--source", "nope", cwd=erp, check=False)
    assert unknown.returncode == 1 and "no source 'nope'" in unknown.stderr and "erp" in unknown.stderr


def test_period_close_reopen_status_and_check(toy, wh):
    closed = run("period", "close", "2024-01", "--reason", "month end", cwd=toy.root, env_extra=wh)
    assert "closed 2024-01" in closed.stderr and "350.00" in closed.stderr
    again = run("period", "close", "2024-01", cwd=toy.root, env_extra=wh, check=False)
    assert again.returncode == 1 and "already closed" in again.stderr
    status = json.loads(run("period", "status", "--format", "json", cwd=toy.root, env_extra=wh).stdout)
    assert [(p["period"], p["status"]) for p in status] == [("2024-01", "closed"), ("2024-02", "open")]
    no_reason = run("period", "reopen", "2024-01", cwd=toy.root, env_extra=wh, check=False)
    assert no_reason.returncode == 1 and "needs a reason" in no_reason.stderr
    run("period", "reopen", "2024-01", "--reason", "credit note", cwd=toy.root, env_extra=wh)
    checks = json.loads(run("check", "--period", "2024-02", "--format", "json", cwd=toy.root, env_extra=wh).stdout)
    assert all(c["ok"] for c in checks) and len(checks) >= 8
    verify = run("period", "verify", cwd=toy.root, env_extra=wh)
    assert verify.returncode == 0


def test_targets_phase_then_ingest_canonical_files(toy, wh, tmp_path):
    yearly = tmp_path / "yearly.csv"
    yearly.write_text("rep_id,year,target_revenue\nR1,2025,1200.00\nR3,2025,100.00\n", encoding="utf-8")
    out = tmp_path / "monthly.csv"
    proc = run("targets", "phase", str(yearly), "--year", "2025", "--method", "custom", "--weights", "2,1,1,1,1,1,1,1,1,1,1,1", "--to", str(out), cwd=toy.root, env_extra=wh)
    assert proc.stdout.strip() == str(out)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 24 and rows[0]["period"] == "2025-01" and rows[0]["target_revenue"] == "184.61"
    assert round(sum(float(r["target_revenue"]) for r in rows if r["rep_id"] == "R1"), 2) == 1200.00
    loaded = json.loads(run("ingest", str(out), "--table", "targets", "--format", "json", cwd=toy.root, env_extra=wh).stdout)
    assert (loaded["rows_read"], loaded["rows_loaded"]) == (24, 24)
    bad = run("targets", "phase", str(yearly), "--year", "2025", "--method", "seasonal", cwd=toy.root, env_extra=wh, check=False)
    assert bad.returncode == 1 and "complete year" in bad.stderr


def test_perf_by_rep_has_commission(toy, wh):
    rows = json.loads(run("perf", "--period", "2024-02", "--by", "rep", "--format", "json", cwd=toy.root, env_extra=wh).stdout)
    r1 = next(r for r in rows if r["rep_id"] == "R1")
    # standard plan: 3% up to 100% of target; R1: 200 of 200 -> 6.00
    assert (r1["plan"], r1["commission"]) == ("standard", 6.0)
    movers = [r for r in rows if r["rep_id"] == "R2"]
    assert sorted((r["team"], r["commission"]) for r in movers) == [("T1", None), ("T2", 3.0)]
