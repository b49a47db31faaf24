"""The forecasting commands, run as users run them (subprocesses)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from salesml.reports import forecast as forecast_report
from tests.conftest import write_config
from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "prophet_retail" / "example_retail_sales.csv"
VENDORED = Path(__file__).parent / "data" / "prophet_retail" / "example_retail_sales.csv"
BACKTEST_KEYS = {"model", "mase", "smape", "wape", "coverage_80", "series"}


def test_prophet_retail_through_the_import_path(tmp_path):
    """examples/prophet_retail.toml: the monthly US retail series loads as order lines, and
    the automatic choice beats seasonal naive in a 3 × 12-month backtest (as the README says)."""
    data = SHARED if SHARED.is_file() else VENDORED
    text = (ROOT / "examples" / "prophet_retail.toml").read_text(encoding="utf-8")
    text = text.replace('"../../shared/data/prophet_retail/example_retail_sales.csv"', json.dumps(str(data)))
    text = text.replace('path = "../data/prophet_retail.duckdb"', 'path = "wh.duckdb"')
    cfg = tmp_path / "retail.toml"
    cfg.write_text(text, encoding="utf-8")
    loaded = json.loads(run("--config", str(cfg), "ingest", "--source", "prophet_retail", "--format", "json", cwd=tmp_path).stdout)
    assert (loaded["rows_read"], loaded["rows_loaded"], loaded["rows_quarantined"]) == (293, 293, 0)
    assert loaded["revenue_loaded"] == 90528594.0  # the sum of y in the file
    proc = run("--config", str(cfg), "backtest", "--level", "company", "--freq", "M", "--windows", "3", "--horizon", "12", "--workers", "1", "--format", "json", cwd=tmp_path)
    rows = {r["model"]: r for r in json.loads(proc.stdout)}
    assert all(set(r) >= BACKTEST_KEYS for r in rows.values())
    assert {"auto", "seasonal_naive", "prophet", "ets", "theta"} <= set(rows)
    assert rows["seasonal_naive"]["mase"] == pytest.approx(0.9065, abs=1e-3)  # windows end with 2016-05, the file's last month
    assert rows["auto"]["mase"] < 0.5 * rows["seasonal_naive"]["mase"]
    assert rows["auto"]["series"] == 1
    # each window's first and last month is in the output
    assert [(w["window"], w["first"], w["last"], w["series"]) for w in rows["auto"]["windows"]] == [
        (1, "2013-06-01", "2014-05-01", 1), (2, "2014-06-01", "2015-05-01", 1), (3, "2015-06-01", "2016-05-01", 1)]
    # and the model the choice gave in each window (benchmarks/README.md: Theta, then ETS twice)
    assert [w["chosen"] for w in rows["auto"]["windows"]] == ["theta", "ets", "ets"]
    # windows the series is too short for are said to be dropped, not counted as run
    proc = run("--config", str(cfg), "backtest", "--level", "company", "--freq", "M", "--windows", "26", "--horizon", "12",
               "--model", "seasonal_naive", "--format", "json", cwd=tmp_path)
    said = " ".join(proc.stderr.split())
    assert "windows 1–2 of 26 not run: no series is long enough" in said
    assert "1 series left out of some windows' scores: company (windows 1,2: too short" in said
    assert [w["series"] for w in json.loads(proc.stdout)[0]["windows"]][:3] == [0, 0, 1]
    # months dated on the 1st are the data's own: 2016-05 is complete, the forecast starts 2016-06
    proc = run("--config", str(cfg), "forecast", "--level", "company", "--freq", "M", "--horizon", "3", "--model", "seasonal_naive",
               "--format", "csv", cwd=tmp_path)
    assert [r["ds"][:10] for r in csv.DictReader(io.StringIO(proc.stdout))] == ["2016-06-01", "2016-07-01", "2016-08-01"]
    assert "months dated on the 1st (the data's own); the last complete step is 2016-05-01" in " ".join(proc.stderr.split())


@pytest.fixture(scope="module")
def fast(small_demo, tmp_path_factory):
    """The small demo with fast candidate models (a config file, as a user would set it)."""
    folder = tmp_path_factory.mktemp("fc")
    cfg = write_config(folder, small_demo.warehouse_path,
                       {"models": ["seasonal_naive", "tsb"], "product_models": ["tsb"], "windows": 2, "workers": 1})
    # the products' demand from the last 60 days (the reorder points' backtests are most of a
    # company report's forecasting on the small demo)
    cfg.write_text(cfg.read_text(encoding="utf-8") + "[inventory]\nhistory_days = 60\n", encoding="utf-8")
    return folder


def test_forecast_train_and_reorder(fast):
    proc = run("forecast", "--level", "region", "--freq", "W", "--horizon", "4", "--format", "csv", cwd=fast)
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert rows and set(rows[0]) == {"unique_id", "ds", "yhat", "lo", "hi", "model"}
    assert all(float(r["yhat"]) >= 0 and float(r["lo"]) <= float(r["yhat"]) <= float(r["hi"]) for r in rows)
    table = run("forecast", "--level", "region", "--freq", "W", "--horizon", "4", cwd=fast).stdout
    assert "fitted" in table and "series in" in table
    trained = json.loads(run("train", "forecast", "--level", "region", "--freq", "W", "--horizon", "4", "--windows", "2", "--format", "json", cwd=fast).stdout)
    assert trained["version"] == "v0001" and {"auto", "seasonal_naive"} <= set(trained["metrics"])
    # training also computed the company sales_forecast report's forecasts: the report reads them all
    kept = fast / "models" / "cache" / "forecast"
    # the weekly hierarchy's and the daily landing's four levels (each its own choice), the reorder points
    assert "report_seconds" in trained and len(list(kept.iterdir())) == 9
    before = {p.name: p.stat().st_mtime_ns for p in kept.iterdir()}
    report = forecast_report.build(config_path=str(fast / "salesml.toml"))
    assert report.main is not None and report.daily is not None and report.reorder is not None
    assert {p.name for p in kept.iterdir()} == set(before)  # nothing computed again
    trained = json.loads(run("train", "forecast", "--level", "region", "--freq", "W", "--horizon", "4", "--windows", "2", "--no-report",
                             "--format", "json", cwd=fast).stdout)
    assert trained["version"] == "v0002" and "report_seconds" not in trained
    assert "forecast" in run("models", "list", cwd=fast).stdout
    alerts = json.loads(run("reorder", "--format", "json", "--all", cwd=fast).stdout)
    assert alerts and {"product_id", "warehouse", "reorder_point", "alert"} <= set(alerts[0])


def test_clear_errors(fast):
    proc = run("forecast", "--level", "galaxy", cwd=fast, check=False)
    assert proc.returncode == 1 and "--level must be one of" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("backtest", "--model", "oracle", cwd=fast, check=False)
    assert proc.returncode == 1 and "--model must be auto or one of" in proc.stderr
