"""notebooks/tutorial.ipynb under nbval (``pytest --nbval-lax``): every cell of the Python API's
walk-through runs without error on the small demo, as a user runs it after ``make demo``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_config

TUTORIAL = Path(__file__).resolve().parents[1] / "notebooks" / "tutorial.ipynb"


@pytest.mark.notebook
def test_tutorial_runs_under_nbval(small_demo, tmp_path):
    cfg = write_config(tmp_path, small_demo.warehouse_path)  # the demo's warehouse; fast forecast candidates
    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESML_")} | {"SALESML_CONFIG": str(cfg)}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "--nbval-lax", str(TUTORIAL)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )
    cells = sum(1 for c in json.loads(TUTORIAL.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"{cells} passed" in proc.stdout


def test_tutorial_is_stored_clean():
    nb = json.loads(TUTORIAL.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code)
    assert "parameters" in code[0]["metadata"].get("tags", [])
    api = "".join("".join(c["source"]) for c in code)
    for method in ("perf", "kpis", "bridge", "segments", "clv", "churn_scores", "forecast", "backtest", "sql"):
        assert f"wh.{method}(" in api
