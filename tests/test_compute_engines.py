"""The per-series work on Dask and Spark (salesml.compute_engines): the same forecasts and
backtests as the local pool, the settings' clear errors, and a local run that imports none of
the cluster libraries.

A Dask ``LocalCluster`` (2 single-threaded worker processes) is reached by its address, as a
real cluster is; Spark runs in local mode (``local[2]``), one session for the module. The
Spark test is marked ``spark`` (``pytest -m spark`` runs it alone); without Java it is skipped,
except in CI (``CI=true``), where it fails: ``.ci/run`` installs Java.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesml import registry, warehouse
from salesml.compute_engines import Engine, EngineError, engine_for, require, with_engine
from salesml.config import ConfigError, Settings, check_compute
from salesml.forecast import service
from salesml.forecast.auto import evaluate_panel
from tests.test_cli import run

ROOT = Path(__file__).resolve().parents[1]
SERIES = 12
WEEKS = 104


def weekly_panel(n: int = SERIES, weeks: int = WEEKS, seed: int = 7) -> pd.DataFrame:
    """``n`` weekly series (weeks ending Friday) with a level, a yearly wave and noise; one is
    too short to choose on its own and one is all zeros (skipped), so statuses differ."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-05", periods=weeks, freq="W-FRI")
    parts = []
    for i in range(n):
        y = 50 + 10 * i + 15 * np.sin(np.arange(weeks) * 2 * np.pi / 52 + i) + rng.normal(0, 6, weeks)
        parts.append(pd.DataFrame({"unique_id": f"s{i:02d}", "ds": ds, "y": np.clip(y, 0, None)}))
    parts[-1] = parts[-1].assign(y=0.0)
    parts[-2] = parts[-2].tail(6)
    return pd.concat(parts, ignore_index=True)


def fast(settings: Settings):
    return dataclasses.replace(settings.forecast, models=("seasonal_naive", "theta"), windows=2, cache=False)


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    return weekly_panel()


@pytest.fixture(scope="module")
def expected(panel):
    """The local pool's honest backtest and forecast (in this process)."""
    return evaluate_panel(panel, 2, 8, "W", fast(Settings()), workers=1, forecast=True)


def on(engine: Engine, panel: pd.DataFrame):
    """The honest backtest and the forecast (pooled choice: the refits run on the engine too)."""
    return evaluate_panel(panel, 2, 8, "W", fast(Settings()), workers=engine, forecast=True)


def assert_same(ev, ev0) -> None:
    for a, b in ((ev.errors, ev0.errors), (ev.choices, ev0.choices), (ev.window_forecasts, ev0.window_forecasts),
                 (ev.forecasts, ev0.forecasts), (ev.statuses, ev0.statuses), (ev.selection, ev0.selection)):
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
    assert {"fitted", "skipped"} <= set(ev.statuses["status"]) and len(ev.forecasts) and len(ev.errors)


@pytest.fixture(scope="module")
def dask_address():
    """A Dask cluster of 2 single-threaded worker processes, reached by its address."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40) as cluster:
        yield cluster.scheduler_address


def test_dask_engine_gives_the_local_forecasts_and_backtests(panel, expected, dask_address):
    from distributed import Client

    from salesml import compute_engines

    assert_same(on(Engine("dask", dask_address), panel), expected)
    # the series ran in the cluster's worker processes, not in this one
    assert not compute_engines._READY
    with Client(dask_address, set_as_default=False) as client:
        ran = client.run(lambda: sorted(__import__("salesml.compute_engines").compute_engines._READY))
    assert len(ran) == 2 and any(ran.values())


def _java_or_skip() -> None:
    if shutil.which("java") or os.environ.get("JAVA_HOME"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail("Java is needed for the Spark engine test in CI (.ci/run installs default-jre-headless)")
    pytest.skip("no Java for the Spark engine test (apt-get install default-jre-headless)")


@pytest.mark.spark
def test_spark_engine_gives_the_local_forecasts_and_backtests(panel, expected, tmp_path):
    _java_or_skip()
    from salesml import compute_engines

    exchange = tmp_path / "exchange"
    try:
        assert_same(on(Engine("spark", "local[2]", str(exchange)), panel), expected)
    finally:
        from pyspark import SparkContext

        jvm = getattr(SparkContext._gateway, "proc", None)
        compute_engines.shutdown()  # else the JVM stays warm for the rest of this test process
    assert jvm is not None and jvm.poll() is not None and SparkContext._gateway is None  # the session and its JVM ended
    assert exchange.is_dir() and not any(exchange.iterdir())  # each run's input is removed after it


def test_service_and_cli_on_dask(small_demo, dask_address, tmp_path):
    """``[compute] engine = "dask"`` with a cluster address: the service's forecast, backtest
    and registry version, and ``salesml forecast`` as a user runs it, equal the local ones."""
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        f'[warehouse]\npath = {json.dumps(str(small_demo.warehouse_path))}\n'
        f'[models]\ndir = {json.dumps(str(tmp_path / "models"))}\n'
        '[forecast]\nmodels = ["seasonal_naive", "theta"]\nwindows = 2\nworkers = 1\ncache = false\n'
        f'[compute]\nengine = "dask"\ncluster = "{dask_address}"\nexchange_dir = "exchange"\n',
        encoding="utf-8",
    )
    dask = dataclasses.replace(small_demo, forecast=dataclasses.replace(fast(small_demo), models=("seasonal_naive", "theta")),
                               compute=dataclasses.replace(small_demo.compute, engine="dask", cluster=dask_address))
    local = with_engine(dask, "local")
    assert isinstance(engine_for(dask, 1), Engine) and engine_for(local, 1) == 1
    got, want = service.evaluate(dask, "category", "W", 2, 4), service.evaluate(local, "category", "W", 2, 4)
    pd.testing.assert_frame_equal(got[0], want[0], check_exact=False, rtol=1e-6)
    version = service.train(dask, "region", "W", 4, 2)
    assert version["series"] > 1 and "auto" in version["metrics"]
    # the cluster's forecasts come back into the warehouse, as the registry has them
    with warehouse.open(dask, read_only=True) as con:
        stored = con.execute("SELECT unique_id, ds, yhat FROM forecasts WHERE version = ? ORDER BY unique_id, ds", [version["version"]]).df()
    kept = pd.read_csv(registry.resolve(dask, "forecast", version["version"]) / "forecast.csv", parse_dates=["ds"]).sort_values(["unique_id", "ds"])
    assert len(stored) == version["warehouse_rows"] == len(kept) > 0
    assert stored["yhat"].to_numpy() == pytest.approx(kept["yhat"].to_numpy(), rel=1e-12)
    rows = run("forecast", "--level", "region", "--freq", "W", "--horizon", "4", "--format", "csv", cwd=tmp_path).stdout
    got = pd.read_csv(io.StringIO(rows), parse_dates=["ds"])
    want = service.run(local, "region", "W", 4).forecasts
    assert len(got) and set(got["unique_id"]) == set(want["unique_id"])
    pd.testing.assert_frame_equal(got, want.astype({"ds": got["ds"].dtype}), check_exact=False, rtol=1e-6, check_dtype=False)
    assert not any((tmp_path / "exchange").iterdir())


def test_settings_say_what_is_wrong(monkeypatch):
    c = Settings().compute
    with pytest.raises(ConfigError, match="compute.engine must be one of local, dask, spark"):
        check_compute(dataclasses.replace(c, engine="ray"))
    with pytest.raises(ConfigError, match="compute.cluster must be a Dask scheduler address"):
        check_compute(dataclasses.replace(c, engine="dask", cluster="spark://h:7077"))
    with pytest.raises(ConfigError, match="compute.cluster must be a Spark master URL"):
        check_compute(dataclasses.replace(c, engine="spark", cluster="tcp://h:8786"))
    with pytest.raises(ConfigError, match="engine is 'local'"):
        check_compute(dataclasses.replace(c, cluster="tcp://h:8786"))
    check_compute(dataclasses.replace(c, engine="spark", cluster="local[2]"))
    with pytest.raises(ConfigError, match="compute.engine must be one of"):
        with_engine(Settings(), "ray")
    # a missing library: one line naming the extra to install
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "distributed" else real(name, *a))
    with pytest.raises(EngineError, match=r"engine 'dask' needs distributed: pip install 'salesml\[dask\]'"):
        require("dask")


def test_the_cli_says_what_is_wrong(tmp_path):
    (tmp_path / "salesml.toml").write_text('[compute]\nengine = "ray"\n', encoding="utf-8")
    proc = run("forecast", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "compute.engine must be one of local, dask, spark" in proc.stderr and "Traceback" not in proc.stderr
    (tmp_path / "salesml.toml").write_text("", encoding="utf-8")
    proc = run("backtest", "--engine", "ray", cwd=tmp_path, check=False)
    assert proc.returncode == 1 and "compute.engine must be one of" in proc.stderr and "Traceback" not in proc.stderr


def test_a_local_forecast_starts_no_cluster():
    """The local engine runs the process pool as before: no Dask client, no Fugue engine, no
    Spark session (its sessions are none). (With the extras installed, statsforecast imports fugue, utilsforecast
    dask.dataframe and pandera pyspark.pandas on their own; salesml imports none of them.)"""
    code = (
        "import sys\n"
        "from tests.test_compute_engines import weekly_panel, fast\n"
        "from salesml.config import Settings\n"
        "from salesml import compute_engines\n"
        "from salesml.forecast.auto import forecast_panel\n"
        "fc, st, _ = forecast_panel(weekly_panel(4, 60), 4, 'W', fast(Settings()), workers=compute_engines.engine_for(Settings(), 2))\n"
        "assert len(fc) and not compute_engines._STARTED\n"
        "print(sorted(m for m in ('distributed', 'fugue_dask', 'fugue_spark') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_the_sales_forecast_reports_fits_run_on_the_configured_cluster(small_demo, dask_address, tmp_path):
    """``[compute] engine = "dask"``: the company report's weekly hierarchy, daily landing and
    reorder points are fitted in the cluster's worker processes (that the same fits give the
    same forecasts there as here is the first test's)."""
    from distributed import Client

    from salesml.reports import forecast as report

    cfg = tmp_path / "dask.toml"
    cfg.write_text(f'[warehouse]\npath = {json.dumps(str(small_demo.warehouse_path))}\n'
                   f'[models]\ndir = {json.dumps(str(tmp_path / "models"))}\n'
                   '[forecast]\nwindows = 1\ncache = false\n[inventory]\nhistory_days = 60\n'
                   f'[compute]\nengine = "dask"\ncluster = "{dask_address}"\nexchange_dir = "exchange"\n', encoding="utf-8")
    with Client(dask_address, set_as_default=False) as client:
        client.run(lambda: __import__("salesml.compute_engines").compute_engines._READY.clear())
        built = report.build(as_of="2026-06-21", freq="W", horizon=4, models="seasonal_naive", workers=1, config_path=str(cfg))
        ran = client.run(lambda: sorted(__import__("salesml.compute_engines").compute_engines._READY))
    assert any(ran.values())  # the fits ran in the cluster's workers
    assert set(built.main.forecasts["unique_id"]) >= {"company"} and len(built.daily.forecasts) and len(built.reorder.table)
    assert not any((tmp_path / "exchange").iterdir())
