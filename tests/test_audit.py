"""The audit log: who ran what, with which parameters, how it went, how long, and what it wrote."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from tests.test_reports_runner import ROOT_NOTEBOOKS


def _cli(toy, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")} | {"SALESML_WAREHOUSE": str(toy.warehouse_path)}
    return subprocess.run([sys.executable, "-m", "salesml.cli", *args], capture_output=True, text=True, cwd=toy.root, env=env, check=False)


def test_batch_ids_are_written_as_ranges():
    from salesml.warehouse import batch_ranges

    assert batch_ranges([7, 1, 2, 3, 5, 8, 2]) == "1-3,5,7-8"
    assert batch_ranges([]) == "" and batch_ranges([4]) == "4"


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()  # noqa: SIM115 (a test's one read)


@pytest.mark.notebook
def test_exports_reports_and_failures_are_recorded_with_who_and_what(toy):
    (toy.root / "salesml.toml").write_text(f'[report]\nnotebooks_dir = "{ROOT_NOTEBOOKS}"\n', encoding="utf-8")
    out = toy.root / "lines.csv"
    assert _cli(toy, "--as", "Wang Li", "export", "order_lines", "--to", str(out)).returncode == 0
    bad = _cli(toy, "export", "no_such_table", "--to", str(toy.root / "x.csv"))
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    page = _cli(toy, "report", "sales_performance", "-p", "period=2024-02", "-p", "scope=team:T1")
    assert page.returncode == 0, page.stderr
    rows = json.loads(_cli(toy, "audit", "--format", "json").stdout)
    by = {}
    for r in rows:
        by.setdefault(r["command"], []).append(r)
    (ok_export, failed_export) = sorted(by["export"], key=lambda r: r["status"], reverse=True)
    assert (ok_export["actor"], ok_export["status"], ok_export["output"]) == ("Wang Li", "ok", str(out))
    assert ok_export["output_sha256"] == _sha(out) and json.loads(ok_export["params"])["rows"] == 12
    assert failed_export["status"] == "failed" and "no_such_table" in json.loads(failed_export["params"])["error"]
    (report,) = by["report"]
    params = json.loads(report["params"])
    assert (params["report"], params["period"], params["scope"], report["status"]) == ("sales_performance", "2024-02", "team:T1", "ok")
    assert report["output_sha256"] == _sha(report["output"]) and report["seconds"] > 0
    assert report["input_batches"] == ok_export["input_batches"] and report["input_batches"].startswith("1-")  # every toy table's batch
    assert "warehouse" not in params and "config_path" not in params
    # newest first, filtered by command and time
    only = json.loads(_cli(toy, "audit", "--command", "export", "--since", "2000-01-01", "--format", "json").stdout)
    assert {r["command"] for r in only} == {"export"} and len(only) == 2
    assert _cli(toy, "audit", "--since", "yesterday").returncode == 1
