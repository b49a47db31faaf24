"""Where per-series work runs: on this machine's process pool, or on a Dask or Spark cluster
through Fugue (``[compute] engine``, ``cluster``, ``exchange_dir``).

This module owns the :class:`Engine` value that the service layer builds from the settings
(:func:`engine_for`) and passes down, in place of a worker count, to the one fan-out point of
the forecasts (``salesml.forecast.auto.map_series``), and the cluster side of that fan-out
(:func:`map_on_cluster`):

1. the panel (``unique_id, ds, y``) is written as Parquet partitioned by a chunk key (many
   series per chunk, a few chunks per core of the cluster) under the exchange folder;
2. ``fugue.transform`` runs, on Dask or Spark, a transformer that groups each chunk by
   ``unique_id`` and applies the same chunk runner the local pool runs, returning one row per
   series: its position and its result object, pickled (binary);
3. the rows come back to the caller, are unpickled and returned in ``unique_id`` order: the
   same results, in the same order, as the local pool gives.

The local engine is not represented here at run time: ``engine_for`` gives back the worker
count unchanged, so the local path neither imports this module's cluster side nor Fugue,
Dask or Spark. Clusters started here (``cluster = ""``: a Dask ``LocalCluster`` or a Spark
``local[N]`` session on this machine) live for the process and stop when it exits.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import importlib.util
import math
import os
import pickle
import shutil
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from salesml.compute import available_cores
from salesml.config import COMPUTE_ENGINES, ConfigError, Settings, check_compute
from salesml.errors import SalesmlError

#: what each cluster engine needs importable, and the extra of salesml that brings it
ENGINE_NEEDS = {"dask": (("dask", "distributed", "fugue", "fugue_dask"), "dask"),
                "spark": (("pyspark", "fugue", "fugue_spark"), "spark")}
#: chunks per core of the cluster: enough to balance slow and fast series, few enough that
#: each task gets many series
CHUNKS_PER_CORE = 4
#: the columns of the exchanged panel beyond ``unique_id, ds, y``
CHUNK, TASK, SERIES, ROW = "chunk", "task", "series_pos", "row_pos"
#: what the transformer reads of the exchange
COLUMNS = ["unique_id", "ds", "y", SERIES, ROW, TASK]
#: the transformer's output: the series' position and its pickled result
OUTPUT_SCHEMA = f"{SERIES}:long,payload:binary"


class EngineError(SalesmlError, RuntimeError):
    """The engine cannot run as configured (a missing library, an unreachable cluster)."""


@dataclass(frozen=True)
class Engine:
    """Where ``map_series`` runs: ``kind`` (``local``, ``dask``, ``spark``), the ``cluster``
    (a Dask scheduler address or a Spark master URL; "" = a local cluster started for the
    run), the ``exchange_dir`` its input is written to ("" = a temporary folder) and, for the
    local kind, ``workers`` (processes, as the ``workers`` arguments take)."""

    kind: str = "local"
    cluster: str = ""
    exchange_dir: str = ""
    workers: int | None = None

    def describe(self) -> str:
        where = self.cluster or ("a local cluster" if self.kind != "local" else "this machine")
        return f"{self.kind} on {where}"


def require(kind: str) -> None:
    """A one-line error naming what to install when ``kind``'s libraries are missing."""
    if kind not in COMPUTE_ENGINES:
        raise ConfigError(f"compute.engine must be one of {', '.join(COMPUTE_ENGINES)}, got {kind!r}")
    if kind == "local":
        return
    modules, extra = ENGINE_NEEDS[kind]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise EngineError(f"engine {kind!r} needs {', '.join(missing)}: pip install 'salesml[{extra}]'"
                          + (" (and Java 17+: apt-get install default-jre-headless)" if kind == "spark" else ""))
    if kind == "spark" and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise EngineError("engine 'spark' needs Java 17 or later: apt-get install default-jre-headless (or set JAVA_HOME)")


def with_engine(settings: Settings, kind: str | None) -> Settings:
    """``settings`` with ``[compute] engine = kind`` (the commands' ``--engine``; None keeps
    the configured one), its libraries checked. The configured ``cluster`` and
    ``exchange_dir`` go with the configured engine only: another engine gets a local cluster
    and a temporary folder."""
    c = settings.compute
    if kind is None or kind == c.engine:
        return settings
    require(kind)
    return dataclasses.replace(settings, compute=dataclasses.replace(c, engine=kind, cluster="", exchange_dir=""))


def engine_for(settings: Settings, workers: int | None = None) -> int | Engine | None:
    """What the service layer passes as ``workers`` down to ``map_series``: ``workers``
    itself for the local engine (the process pool, unchanged), else the :class:`Engine` of
    ``[compute]`` (its libraries checked: a missing one is a one-line error naming the extra)."""
    c = settings.compute
    if isinstance(workers, Engine) or c.engine == "local":
        return workers
    require(c.engine)
    check_compute(c)
    exchange = str(settings.path(c.exchange_dir)) if c.exchange_dir else ""
    return Engine(c.engine, c.cluster.strip(), exchange, workers)


def local_workers(workers: int | Engine | None) -> int | None:
    """The process count of a ``workers`` argument that may be an :class:`Engine`."""
    return workers.workers if isinstance(workers, Engine) else workers


# ----------------------------------------------------------------------------- the cluster side


def map_on_cluster(runner: Callable, fn: Callable, panel: pd.DataFrame, engine: Engine,
                   setup: Callable | None = None, progress: Callable[[int | None], None] | None = None) -> list:
    """``runner(fn, [(unique_id, history), ...])`` over chunks of the series of ``panel``
    (``unique_id, ds, y``) on ``engine``'s cluster through Fugue; one result per series, in
    ``unique_id`` order (the histories as the local pool gives them: ``ds, y`` in the panel's
    row order). ``setup()`` runs once in each worker process before its first chunk.
    ``runner``, ``fn`` and ``setup`` must be picklable, and salesml importable on the workers."""
    uids = pd.Series(pd.unique(panel["unique_id"])).sort_values(kind="stable").tolist()
    if not uids:
        return []
    import fugue.api as fa

    with _session(engine) as (fugue_engine, cores):
        n_chunks = max(1, min(len(uids), cores * CHUNKS_PER_CORE))
        size = math.ceil(len(uids) / n_chunks)
        pos = pd.Series(np.arange(len(uids), dtype="int64"), index=pd.Index(uids))
        series = pos.reindex(panel["unique_id"].to_numpy()).to_numpy()
        frame = panel[["unique_id", "ds", "y"]].reset_index(drop=True).assign(
            **{SERIES: series, ROW: np.arange(len(panel), dtype="int64"), TASK: series // size})
        with _exchange(engine) as root:
            # folders chunk=N for whoever reads the exchange; the task column is the same key as
            # a plain integer (engines read a folder key back as a dictionary, which Fugue refuses)
            frame.assign(**{CHUNK: frame[TASK]}).to_parquet(root, partition_cols=[CHUNK], index=False,
                                                             coerce_timestamps="us", allow_truncated_timestamps=False)
            job = pickle.dumps((runner, fn, setup), protocol=pickle.HIGHEST_PROTOCOL)
            df = fa.load(str(root), format_hint="parquet", columns=COLUMNS, engine=fugue_engine)
            with warnings.catch_warnings():  # Fugue's groupby-apply on Dask, a pandas deprecation of theirs
                warnings.filterwarnings("ignore", category=FutureWarning, module=r"dask\.")
                out = fa.transform(df, _apply_chunk, schema=OUTPUT_SCHEMA, partition={"by": [TASK], "num": n_chunks, "algo": "even"},
                                   params={"job": job}, engine=fugue_engine, as_local=True)
                out = fa.as_pandas(out)
    if progress:
        progress(len(uids))
    got = out.sort_values(SERIES, kind="stable")
    if len(got) != len(uids) or not np.array_equal(got[SERIES].to_numpy(dtype="int64"), np.arange(len(uids))):
        raise EngineError(f"the {engine.kind} cluster returned {len(got):,} results for {len(uids):,} series")
    return [pickle.loads(b) for b in got["payload"]]


#: whether this worker process has run its setup
_READY: set[int] = set()


def _apply_chunk(df: pd.DataFrame, job: bytes) -> pd.DataFrame:
    """The Fugue transformer: the chunk's series as the local pool gives them to the runner,
    and one row per series back (its position, its pickled result)."""
    runner, fn, setup = pickle.loads(job)
    if setup is not None and os.getpid() not in _READY:
        setup()
        _READY.add(os.getpid())
    df = df.sort_values(ROW, kind="stable")
    ds = pd.to_datetime(df["ds"])
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_convert("UTC").dt.tz_localize(None)
    df = df.assign(ds=ds.astype("datetime64[ns]"), y=df["y"].astype("float64"))
    groups, positions = [], []
    for _, g in df.groupby(SERIES, sort=True):
        groups.append((g["unique_id"].iloc[0], g[["ds", "y"]].reset_index(drop=True)))
        positions.append(int(g[SERIES].iloc[0]))
    results = runner(fn, groups)
    return pd.DataFrame({SERIES: pd.Series(positions, dtype="int64"),
                         "payload": [pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL) for r in results]})


class _exchange:
    """The folder of one run's input: under ``exchange_dir`` (a fresh subfolder) or a
    temporary one; removed afterwards."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self) -> Path:
        if self.engine.exchange_dir:
            base = Path(self.engine.exchange_dir)
            try:
                base.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise EngineError(f"compute.exchange_dir {str(base)!r} cannot be created: {e}") from e
            self.path = base / f"panel-{uuid.uuid4().hex[:12]}"
        else:
            self.path = Path(tempfile.mkdtemp(prefix="salesml-exchange-")) / "panel"
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path if self.engine.exchange_dir else self.path.parent, ignore_errors=True)


class _session:
    """A Fugue execution engine on the cluster, and the cluster's cores: ``(engine, cores)``."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.stack = contextlib.ExitStack()

    def __enter__(self):
        if self.engine.kind == "dask":
            return self._dask()
        if self.engine.kind == "spark":
            return self._spark()
        raise EngineError(f"no cluster for engine {self.engine.kind!r}")

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def _dask(self):
        import dask
        from distributed import Client
        from fugue_dask import DaskExecutionEngine

        if self.engine.cluster:
            try:
                client = Client(self.engine.cluster, timeout="20s", set_as_default=False)
            except (OSError, TimeoutError) as e:
                raise EngineError(f"no Dask scheduler at {self.engine.cluster} ({type(e).__name__}: {e})") from e
            self.stack.callback(client.close)
        else:
            client = _local_dask()
        cores = sum(w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()) or 1
        # the client computes the run (else Dask's own threads in this process would do it)
        self.stack.enter_context(dask.config.set(scheduler=client))
        return DaskExecutionEngine(dask_client=client), cores

    def _spark(self):
        from fugue_spark import SparkExecutionEngine

        spark = _spark_session(self.engine.cluster or f"local[{available_cores()}]")
        return SparkExecutionEngine(spark), max(1, spark.sparkContext.defaultParallelism)


#: the clusters started in this process (cluster = ""), stopped at exit
_STARTED: dict = {}


def _local_dask():
    """A Dask cluster on this machine for the process: one single-threaded worker process
    per core (the model fits are the parallelism, as in the local pool)."""
    if "dask" not in _STARTED:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=available_cores(), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster, set_as_default=False)
        _STARTED["dask"] = (cluster, client)
        atexit.register(_stop_dask)
    return _STARTED["dask"][1]


def _stop_dask() -> None:
    cluster, client = _STARTED.pop("dask", (None, None))
    if client is not None:
        client.close()
        cluster.close()


def _spark_session(master: str):
    """The process' Spark session on ``master`` (an existing one is reused): UTC session time,
    no web UI, and on a local master this interpreter as the workers' Python."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = (SparkSession.builder.master(master).appName("salesml")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", str(max(2, available_cores() * CHUNKS_PER_CORE)))
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if master.startswith("local"):  # the workers are this machine's: this interpreter, with salesml
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = builder.getOrCreate()
    except Exception as e:  # no Java, an unreachable master: one line, not a JVM trace
        raise EngineError(f"Spark could not start on {master} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from e
    spark.sparkContext.setLogLevel("ERROR")
    if "spark" not in _STARTED:
        _STARTED["spark"] = spark
        atexit.register(_stop_spark)
    return spark


def shutdown() -> None:
    """End the clusters this process started (a Dask ``LocalCluster``, the Spark session):
    they are kept warm for the next run until the process exits, unless ended here."""
    _stop_dask()
    _stop_spark()


def _stop_spark() -> None:
    """Stop the Spark session this process started, and the JVM pyspark launched for it (which
    outlives a stopped session: an idle JVM keeps a core's worth of threads busy now and then)."""
    spark = _STARTED.pop("spark", None)
    if spark is None:
        return
    spark.stop()
    from pyspark import SparkContext

    gateway, SparkContext._gateway, SparkContext._jvm = SparkContext._gateway, None, None
    if gateway is not None:
        with contextlib.suppress(Exception):
            gateway.shutdown()
        proc = getattr(gateway, "proc", None)
        if proc is not None:
            proc.terminate()
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)
