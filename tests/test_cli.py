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
    assert data["encrypted"] is False and data["key_env"] is None and data["latest_backup"] is None


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
    # several reports: each page that rendered is printed, in the order asked; one that
    # failed (data_quality takes no period) is named, and the command fails
    both = run("report", "data_quality", "sales_performance", "-p", "period=2024-02", "--workers", "2", cwd=toy.root, env_extra=wh, check=False)
    assert both.returncode == 1 and "unknown parameter 'period'" in both.stderr and "Traceback" not in both.stderr
    assert both.stdout.strip() == str(toy.root / "reports" / "2024-02" / "sales_performance.html")


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
        "exact duplicate of an earlier row": 1,
        "order_date: not a date (YYYY-MM-DD)": 1,
        "quantity: not a number (decimal '.', thousands ',')": 1,
    }
    assert (out["revenue_read"], out["revenue_loaded"], out["revenue_quarantined"], out["skipped"]) == (45.0, 20.0, 25.0, False)
    q = list(csv.DictReader(io.StringIO(run("quarantine", "--format", "csv", cwd=erp).stdout)))
    assert [(r["row"], r["reason"]) for r in q] == [
        ("3", "exact duplicate of an earlier row"),
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


# --------------------------------------------------------------------------- [warehouse] memory_limit


def _limited_config(toy, tmp_path, limit="256MiB", threads=1):
    cfg = tmp_path / "limited.toml"
    cfg.write_text(f'[warehouse]\npath = "{toy.warehouse_path}"\nmemory_limit = "{limit}"\nthreads = {threads}\n', encoding="utf-8")
    return cfg


def test_sql_runs_under_the_configured_memory_limit(toy, tmp_path):
    cfg = _limited_config(toy, tmp_path)
    rows = json.loads(run("--config", str(cfg), "sql", "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t",
                          "--format", "json", cwd=tmp_path).stdout)
    assert rows == [{"m": "256.0 MiB", "t": 1}]


def test_a_bad_memory_limit_is_one_line_naming_the_setting_and_file(toy, tmp_path):
    cfg = _limited_config(toy, tmp_path, limit="lots")
    proc = run("--config", str(cfg), "info", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "warehouse.memory_limit" in proc.stderr and "limited.toml" in proc.stderr


def test_every_command_connects_with_the_memory_limit(toy, tmp_path, monkeypatch):
    """Each command's connections to the warehouse carry [warehouse] memory_limit and threads."""
    import duckdb
    from typer.testing import CliRunner

    from salesml.cli import app

    cfg = _limited_config(toy, tmp_path)
    targets = tmp_path / "targets_2025.csv"
    targets.write_text("rep_id,team,region,period,target_revenue,target_margin\nR1,T1,East,2025-01,10,4\n", encoding="utf-8")
    seen: list[tuple[str, dict]] = []
    real = duckdb.connect

    def spy(database=":memory:", *args, config=None, **kwargs):
        seen.append((str(database), dict(config or {})))
        return real(database, *args, **({"config": config} if config is not None else {}), **kwargs)

    monkeypatch.setattr(duckdb, "connect", spy)
    commands = [
        ["info"], ["batches"], ["quarantine"], ["sql", "SELECT 1"], ["post"],
        ["perf", "--period", "2024-02"], ["commission", "--period", "2024-02"], ["check", "--period", "2024-02"],
        ["export", "order_lines", "--to", str(tmp_path / "lines.csv")],
        ["export", "order_lines", "--to", str(tmp_path / "lines.parquet"), "--partition-by", "region"], ["period", "status"], ["period", "verify"],
        ["period", "close", "2024-01"], ["period", "reopen", "2024-01", "--reason", "test"],
        ["ingest", str(targets), "--table", "targets"], ["segments", "--as-of", "2024-02-29"],
    ]
    runner = CliRunner()
    for args in commands:
        before = len(seen)
        result = runner.invoke(app, ["--config", str(cfg), *args])
        assert result.exit_code == 0, (args, result.output, result.exception)
        opened = [c for db, c in seen[before:] if db == str(toy.warehouse_path)]
        assert opened, args
        assert all(c.get("memory_limit") == "256MiB" and c.get("threads") == 1 for c in opened), (args, opened)


# --------------------------------------------------------------------------- a full disk


def run_limited(*args, cwd, max_file_bytes: int, env_extra=None) -> subprocess.CompletedProcess:
    """The CLI with a file size limit: a write beyond it fails with EFBIG, as on a full disk
    (Python ignores SIGXFSZ, so the write returns the error instead of killing the process)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, resource.RLIM_INFINITY))

    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "salesml.cli", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          check=False, preexec_fn=limit)


def _files(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_ingest_on_a_full_disk_says_so_and_leaves_the_warehouse_unchanged(toy, wh, tmp_path):
    lines = tmp_path / "many_lines.csv"
    with lines.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "line_no", "order_date", "customer_id", "product_id", "quantity", "unit_price", "rep_id", "status"])
        for i in range(60_000):
            w.writerow([f"BIG{i}", 1, "2024-02-01", "C1", "P1", 1, "10.00", "R1", "completed"])
    before = run("sql", "SELECT (SELECT count(*) FROM order_lines) AS lines, (SELECT count(*) FROM load_batches) AS batches",
                 "--format", "json", cwd=toy.root, env_extra=wh).stdout
    files_before = _files(toy.root)
    size = toy.warehouse_path.stat().st_size
    proc = run_limited("ingest", str(lines), "--table", "order_lines", cwd=toy.root, env_extra=wh, max_file_bytes=size + 64 * 1024)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    message = [line for line in proc.stderr.splitlines() if "error:" in line]
    assert len(message) == 1 and f"no space left on device writing {toy.warehouse_path}" in proc.stderr.replace("\n", "")
    after = run("sql", "SELECT (SELECT count(*) FROM order_lines) AS lines, (SELECT count(*) FROM load_batches) AS batches",
                "--format", "json", cwd=toy.root, env_extra=wh).stdout
    assert after == before
    assert _files(toy.root) == files_before  # no temporary file left beside the warehouse


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_on_a_full_disk_says_so_and_leaves_no_temporary_file(toy, wh, tmp_path, suffix):
    out = tmp_path / "out"
    out.mkdir()
    target = out / f"lines{suffix}"
    target.write_text("the previous export\n", encoding="utf-8")
    query = "SELECT range AS i, repeat('x', 100) AS filler FROM range(20000)"
    proc = run_limited("export", query, "--to", str(target), cwd=toy.root, env_extra=wh, max_file_bytes=50_000)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"no space left on device writing {target}" in proc.stderr.replace("\n", "")
    assert sorted(p.name for p in out.iterdir()) == [target.name]  # no temporary file
    assert target.read_text(encoding="utf-8") == "the previous export\n"  # the old file is intact


@pytest.mark.notebook
def test_report_on_a_full_disk_says_so_and_leaves_no_partial_page(toy, wh):
    from tests.test_reports_runner import ROOT_NOTEBOOKS

    (toy.root / "salesml.toml").write_text(f'[report]\nnotebooks_dir = "{ROOT_NOTEBOOKS}"\n', encoding="utf-8")
    folder = toy.root / "reports" / "2024-02"
    # the page carries plotly.js inline (~4.8 MB): it cannot be written under a 3 MB limit
    proc = run_limited("report", "sales_performance", "-p", "period=2024-02", cwd=toy.root, env_extra=wh, max_file_bytes=3_000_000)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"no space left on device writing {folder / 'sales_performance.html'}" in proc.stderr.replace("\n", "")
    assert list(folder.iterdir()) == []  # neither a page, nor a sidecar, nor a temporary file


# --------------------------------------------------------------------------- report parameters


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("period=../x", "parameter period: '../x' is not a month of the form YYYY-MM"),
        ("period=/tmp/x", "parameter period: '/tmp/x' is not a month"),
        ("scope=team:../../x", "parameter scope: 'team:../../x': a team name may not contain"),
        ("scope=region:a/b", "parameter scope: 'region:a/b': a region name may not contain"),
        ("scope=rep:/etc", "parameter scope: 'rep:/etc'"),
        ("scope=../x", "parameter scope: scope '../x': unknown level"),
    ],
)
def test_report_parameters_that_would_make_paths_are_checked(toy, wh, param, message):
    from tests.test_reports_runner import ROOT_NOTEBOOKS

    (toy.root / "salesml.toml").write_text(f'[report]\nnotebooks_dir = "{ROOT_NOTEBOOKS}"\n', encoding="utf-8")
    proc = run("report", "sales_performance", "-p", param, cwd=toy.root, env_extra=wh, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert message in proc.stderr.replace("\n", "")
    assert not (toy.root / "reports").exists() and not (toy.root / "x").exists()


def test_a_report_name_is_not_a_path(toy, wh):
    proc = run("report", "../notebooks/sales_performance", cwd=toy.root, env_extra=wh, check=False)
    assert proc.returncode == 1 and "report name '../notebooks/sales_performance'" in proc.stderr.replace("\n", "")


# --------------------------------------------------------------------------- help texts


def _commands(command, path=()):
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


def test_help_shows_bracketed_words_as_written(tmp_path):
    """Every command whose help (its own, or an option's) holds [words] shows them literally."""
    import re

    import typer

    from salesml.cli import app

    root = typer.main.get_command(app)
    checked = 0
    for path, command in _commands(root):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        words = {w for text in texts for w in re.findall(r"\[[^\[\]\s]+\]", text)}
        if not words:
            continue
        out = run(*path, "--help", cwd=tmp_path, env_extra={"COLUMNS": "400"}).stdout
        for w in words:
            assert w in out, (path, w)
        checked += 1
    assert checked >= 5  # ingest, clv, forecast, backtest, commission, ...


def test_help_of_every_command_loads_no_heavy_library(tmp_path):
    """``salesml … --help`` of every command and group stays light (a help is meant to come at
    once): no pandas, DuckDB or model library, and not pydantic, which typer would import to
    validate the groups' own --help and --config on the way to a command's help."""
    script = """
import sys
import typer
from salesml.cli import app, main
from tests.test_cli import _commands
paths = [p for p, _ in _commands(typer.main.get_command(app))]
for path in paths:
    sys.argv = ["salesml", *path, "--help"]
    try:
        main()
    except SystemExit as e:
        assert not e.code, (path, e.code)
heavy = sorted(m for m in ("pandas", "duckdb", "pydantic", "sklearn", "prophet", "statsforecast") if m in sys.modules)
print(len(paths), ",".join(heavy))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    n, _, heavy = last.partition(" ")
    assert int(n) >= 30 and heavy == "", last


def test_config_before_the_command_still_reads_the_file(tmp_path):
    """The groups' light --config still gives the path to every command below them."""
    proc = run("--config", str(tmp_path / "nope.toml"), "train", "churn", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "nope.toml" in proc.stderr


# --------------------------------------------------------------------------- margin without costs


def test_perf_without_costs_shows_no_margin_rather_than_zero(tmp_path):
    from tests.test_accounting_performance import toy_costed

    s = toy_costed(tmp_path, set())
    env = {"SALESML_WAREHOUSE": str(s.warehouse_path)}
    rows = json.loads(run("perf", "--period", "2024-02", "--by", "company", "--format", "json", cwd=tmp_path, env_extra=env).stdout)
    assert (rows[0]["revenue"], rows[0]["margin"], rows[0]["margin_pct"], rows[0]["margin_coverage_pct"]) == (510, None, None, 0)
    lines = list(csv.DictReader(io.StringIO(run("perf", "--period", "2024-02", "--format", "csv", cwd=tmp_path, env_extra=env).stdout)))
    assert {r["margin"] for r in lines} == {""}
    table = run("perf", "--period", "2024-02", cwd=tmp_path, env_extra=env)
    assert "note: no cost loaded: margin not shown" in table.stderr


def test_reading_the_warehouse_imports_no_pandera():
    """pandera (and through it pyspark, when installed) is the import path's: a command that
    reads the warehouse builds no schema and pays none of its ~0.3 s."""
    script = ("import sys\nfrom salesml import config, warehouse, schema\nfrom salesml.api import Warehouse\n"
              "assert not {'pandera', 'pyspark'} & set(sys.modules), sorted(m for m in sys.modules if m.startswith(('pandera', 'pyspark')))[:5]\n"
              "sch = schema.pandera_schema('order_lines')\nassert 'pandera' in sys.modules and len(sch.columns) == len(schema.table('order_lines').columns)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
