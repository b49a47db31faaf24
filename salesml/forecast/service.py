"""Forecasting on the warehouse: what the CLI and the reports call.

The pure pieces (panels from a connection, models, the automatic choice, backtests,
reconciliation, inventory) live in their own modules; this one opens short read-only
connections, puts the pieces together and returns frames:

* ``run(settings, level, freq, ...)`` — forecasts of every series of a level (optionally
  reconciled across the rep → team → region → company hierarchy), with each series' status
  and the backtest that chose its model;
* ``evaluate(settings, level, freq, windows, horizon, ...)`` — an honest backtest: on each of
  the last ``windows`` windows, the automatic choice is made **with the data before the
  window only** (its own selection backtest ends at the window's cutoff) and scored on the
  window, next to every candidate and seasonal naive scored on the same windows;
* ``reorder(settings)`` — reorder points and low-stock alerts from product demand forecasts;
* ``train(settings, ...)`` — ``evaluate`` + ``run`` stored as a registry version.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from salesml import registry, warehouse
from salesml.config import FORECAST_MODELS, RECONCILE_METHODS, Settings
from salesml.errors import SalesmlError
from salesml.forecast.auto import STATUS_COLUMNS, auto_summary, default_horizon, forecast_panel
from salesml.forecast.backtest import COLUMNS as ERROR_COLUMNS
from salesml.forecast.backtest import backtest, empty_errors, score, summarise
from salesml.forecast.models import SEASON, SeasonalNaive, make_model
from salesml.forecast.panels import FREQS, LEVELS, panel

#: levels of the sales hierarchy that can be reconciled
HIERARCHY_LEVELS = ("company", "region", "team", "rep")
#: the registry kind of stored forecasts
KIND = "forecast"


class ForecastError(SalesmlError, ValueError):
    """A forecast cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class ForecastRun:
    """What ``run`` gives: per-series forecasts (``unique_id, ds, yhat, lo, hi, model``),
    statuses (``auto.STATUS_COLUMNS``), the selection backtests and their per-model summary
    (with an ``auto`` row; in-sample for the choice — ``evaluate`` is the honest score)."""

    level: str
    freq: str
    horizon: int
    model: str
    scope: str
    reconcile: str | None
    history: pd.DataFrame
    forecasts: pd.DataFrame
    statuses: pd.DataFrame
    errors: pd.DataFrame
    summary: pd.DataFrame
    seconds: float
    notes: list[str] = field(default_factory=list)


def check_args(level: str, freq: str, model: str = "auto", reconcile: str | None = None) -> None:
    """Clear errors for a level, frequency, model or reconciliation method that do not exist."""
    if level not in LEVELS:
        raise ForecastError(f"--level must be one of {', '.join(LEVELS)}, got {level!r}")
    if freq not in FREQS:
        raise ForecastError(f"--freq must be one of {', '.join(FREQS)}, got {freq!r}")
    if model != "auto" and model not in FORECAST_MODELS:
        raise ForecastError(f"--model must be auto or one of {', '.join(FORECAST_MODELS)}, got {model!r}")
    if reconcile:
        if reconcile not in RECONCILE_METHODS:
            raise ForecastError(f"--reconcile must be one of {', '.join(RECONCILE_METHODS)}, got {reconcile!r}")
        if level not in HIERARCHY_LEVELS:
            raise ForecastError(f"--reconcile works on the sales hierarchy ({', '.join(HIERARCHY_LEVELS)}), not on level {level!r}")


def candidates_for(model: str, settings: Settings) -> list | None:
    """The candidate models: None (``settings.forecast.models``) for ``auto``, else the one model."""
    return None if model == "auto" else [make_model(model, settings.forecast)]


def load_panel(settings: Settings, level: str, freq: str, scope: str | None = None, measure: str = "amount") -> pd.DataFrame:
    """The level's panel (``unique_id, ds, y``) from the ledger, on a short read-only connection."""
    _require_warehouse(settings)
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        df = panel(con, level, freq, measure=measure, scope=scope, settings=settings.performance)
    if df.empty:
        raise ForecastError(f"no sales in the ledger for level {level!r}{' within ' + scope if scope else ''}: nothing to forecast")
    return df


def _require_warehouse(settings: Settings) -> None:
    if not settings.warehouse_path.exists():
        raise ForecastError(f"no warehouse at {settings.warehouse_path}: load data first (salesml demo, or salesml ingest)")


def run(
    settings: Settings,
    level: str = "company",
    freq: str = "D",
    horizon: int | None = None,
    model: str = "auto",
    scope: str | None = None,
    reconcile: str | None = None,
    workers: int | None = None,
    progress: bool = False,
    history: pd.DataFrame | None = None,
) -> ForecastRun:
    """Forecast every series of ``level`` (within ``scope``) ``horizon`` steps ahead.

    ``model``: ``auto`` (per series, the candidate with the lowest backtest MASE) or one model
    (short, constant or empty series still fall back or are skipped, with the reason).
    ``reconcile``: a method of ``RECONCILE_METHODS`` to make the hierarchy add up; the whole
    hierarchy under the scope is then forecast and reconciled, and the level's rows returned.
    ``history``: the level's panel when the caller has read it already (not reconciled runs).
    """
    check_args(level, freq, model, reconcile)
    fs = settings.forecast
    horizon = horizon or default_horizon(fs, freq)
    if horizon < 1:
        raise ForecastError(f"--horizon must be 1 or more, got {horizon}")
    t0 = time.perf_counter()
    notes: list[str] = []
    if reconcile:
        from salesml.forecast import reconcile as R

        _require_warehouse(settings)
        with warehouse.connect(settings.warehouse_path, read_only=True) as con:
            Y_df, S_df, tags = R.hierarchy_panel(con, freq, settings, scope=scope)
        if Y_df.empty:
            raise ForecastError(f"no sales in the ledger{' within ' + scope if scope else ''}: nothing to forecast")
        keep = set(tags.get(level, []))
        if not keep:
            raise ForecastError(f"level {level!r} is above the scope {scope!r}: nothing of it to forecast")
        fs_method = dataclasses.replace(fs, reconcile=reconcile)
        hf = R.forecast_hierarchy(Y_df, S_df, tags, horizon, freq, fs_method, workers, candidates_for(model, settings), progress)
        fc = hf.forecasts[hf.forecasts["unique_id"].isin(keep)].copy()
        history = Y_df[Y_df["unique_id"].isin(keep)].copy()
        statuses = hf.statuses[hf.statuses["unique_id"].isin(keep)].reset_index(drop=True)
        errors = hf.errors[hf.errors["unique_id"].isin(keep)].reset_index(drop=True)
        notes += [*hf.notes, f"reconciled ({hf.method}) over {S_df.shape[0]:,} nodes of the hierarchy; each row adds up with its children"]
    else:
        history = history if history is not None else load_panel(settings, level, freq, scope)
        fc, statuses, errors = forecast_panel(history, horizon, freq, fs, workers=workers, progress=progress, candidates=candidates_for(model, settings))
    summary = auto_summary(errors, statuses) if len(errors) else pd.DataFrame(columns=["model", "mase", "smape", "wape", "bias", "coverage_80", "series"])
    return ForecastRun(level, freq, horizon, model, scope or "company", reconcile, history.reset_index(drop=True), fc.reset_index(drop=True),
                       statuses, errors, summary, time.perf_counter() - t0, notes)


# ----------------------------------------------------------------------------- honest backtest


def _split(panel_df: pd.DataFrame, w: int, horizon: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per series: the history up to the cutoff ``w`` windows of ``horizon`` steps before its
    end, and the ``horizon`` steps after it (series too short to be cut are left out)."""
    train, test = [], []
    for _uid, g in panel_df.groupby("unique_id", sort=True):
        cut = len(g) - w * horizon
        if cut < 2:
            continue
        train.append(g.iloc[:cut])
        test.append(g.iloc[cut : cut + horizon])
    if not train:
        return panel_df.iloc[:0], panel_df.iloc[:0]
    return pd.concat(train, ignore_index=True), pd.concat(test, ignore_index=True)


def _score(uid, model: str, window: int, train: pd.DataFrame, test: pd.DataFrame, fc: pd.DataFrame, freq: str) -> dict:
    """One row of backtest errors (``backtest.COLUMNS``) for a forecast of one window."""
    actual = test["y"].to_numpy(dtype="float64")
    row: dict[str, Any] = {"unique_id": uid, "model": model, "window": window, "cutoff": train["ds"].iloc[-1], "horizon": len(actual)}
    if fc.empty:
        row["error"] = "no forecast"
        return row
    row.update(score(train["y"], actual, fc, SEASON[freq]))
    return row


def _backtest_chunk(chunk: pd.DataFrame, models: Sequence, windows: int, horizon: int, freq: str, level: float) -> pd.DataFrame:
    return backtest(chunk, models, windows, horizon, freq, level)


def _pool_backtest(panel_df: pd.DataFrame, models: Sequence, windows: int, horizon: int, freq: str, level: float, workers: int) -> pd.DataFrame:
    """``backtest`` over the series, split across ``workers`` processes."""
    uids = panel_df["unique_id"].drop_duplicates().sort_values().tolist()
    if workers <= 1 or len(uids) < 2:
        return backtest(panel_df, models, windows, horizon, freq, level)
    size = math.ceil(len(uids) / (workers * 4))
    chunks = [panel_df[panel_df["unique_id"].isin(uids[i : i + size])] for i in range(0, len(uids), size)]
    with ProcessPoolExecutor(max_workers=workers) as ex:
        parts = list(ex.map(_backtest_chunk, chunks, *[[a] * len(chunks) for a in (models, windows, horizon, freq, level)]))
    return pd.concat([p for p in parts if len(p)], ignore_index=True) if parts else empty_errors()


def evaluate(
    settings: Settings,
    level: str = "company",
    freq: str = "D",
    windows: int | None = None,
    horizon: int | None = None,
    model: str = "auto",
    scope: str | None = None,
    workers: int | None = None,
    history: pd.DataFrame | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An out-of-sample backtest: ``(summary, errors)``.

    On each of the last ``windows`` windows of ``horizon`` steps, ``auto`` (or ``model``)
    is chosen and fitted on the data before the window — its own selection backtest never
    sees the window — and scored on it. Every candidate and seasonal naive are scored on the
    same windows. ``summary`` has one row per model (``model, mase, smape, wape, bias,
    coverage_80, series``; MASE and sMAPE are means over series and windows, WAPE and bias
    pooled); ``errors`` one row per series, window and model.
    ``history``: a panel to use instead of reading the level from the warehouse.
    """
    check_args(level, freq, model)
    fs = settings.forecast
    windows = windows or fs.windows
    horizon = horizon or default_horizon(fs, freq)
    if windows < 1 or horizon < 1:
        raise ForecastError(f"--windows and --horizon must be 1 or more, got {windows} and {horizon}")
    df = history if history is not None else load_panel(settings, level, freq, scope)
    n_workers = fs.workers if workers is None else workers
    n_workers = n_workers or _cpu_count()
    label = "auto" if model == "auto" else model
    rows = []
    for w in range(windows, 0, -1):
        train, test = _split(df, w, horizon)
        if train.empty:
            continue
        if log:
            log(f"backtest window {windows - w + 1}/{windows}: {label} chosen on the data up to each series' cutoff ...")
        fc, statuses, _ = forecast_panel(train, horizon, freq, fs, workers=n_workers, candidates=candidates_for(model, settings))
        by_uid = dict(tuple(fc.groupby("unique_id", sort=False))) if len(fc) else {}
        reasons = statuses.set_index("unique_id")["reason"] if len(statuses) else pd.Series(dtype=object)
        for uid, t in test.groupby("unique_id", sort=True):
            row = _score(uid, label, windows - w + 1, train[train["unique_id"] == uid], t, by_uid.get(uid, pd.DataFrame()), freq)
            if "error" in row and uid in reasons.index:
                row["error"] = f"skipped: {reasons[uid]}"
            rows.append(row)
    auto_errors = pd.DataFrame(rows, columns=ERROR_COLUMNS)
    names = list(dict.fromkeys([*(fs.models if model == "auto" else [model]), "seasonal_naive"]))
    singles = [make_model(n, fs) for n in names if n != label]
    if log:
        log(f"scoring {', '.join(m.name for m in singles)} on the same windows ...")
    single_errors = _pool_backtest(df, singles, windows, horizon, freq, fs.level, n_workers) if singles else empty_errors()
    errors = pd.concat([e for e in (auto_errors, single_errors) if len(e)], ignore_index=True) if (len(auto_errors) or len(single_errors)) else empty_errors()
    summary = summarise(errors)
    order = {label: 0, "seasonal_naive": 1}
    summary = summary.assign(_o=summary["model"].map(lambda m: order.get(m, 2))).sort_values(["_o", "model"]).drop(columns="_o").reset_index(drop=True)
    return summary, errors


def _cpu_count() -> int:
    import os

    return os.cpu_count() or 1


# ----------------------------------------------------------------------------- inventory


def reorder(settings: Settings, workers: int | None = None, progress: bool = False, model: str = "auto") -> tuple[pd.DataFrame, list[str]]:
    """Reorder points per product and warehouse from the latest inventory snapshot and daily
    unit-demand forecasts (``inventory.forecast_reorder``: the cheap candidates, over the
    longest lead time), and notes. ``inventory.alerts(table)`` are the low-stock rows."""
    from salesml.forecast import inventory as I

    _require_warehouse(settings)
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        inputs, reason = I.reorder_inputs(con, settings)
    if inputs is None:
        raise ForecastError(reason)
    r = I.forecast_reorder(*inputs, settings, workers, models=None if model == "auto" else (model,), progress=progress)
    skipped = r.statuses[r.statuses["status"] == "skipped"]
    notes = [f"{len(skipped):,} products without a demand forecast ({skipped['reason'].iloc[0]}, …)"] if len(skipped) else []
    return r.table, notes


# ----------------------------------------------------------------------------- registry


def train(
    settings: Settings,
    level: str = "region",
    freq: str = "D",
    horizon: int | None = None,
    windows: int | None = None,
    model: str = "auto",
    workers: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Evaluate (honest backtest) and forecast a level, and store both as a new version of
    ``forecast`` in the registry: the manifest holds the data window and hash, the settings,
    the backtest metrics per model and each series' chosen model; ``forecast.csv`` and
    ``statuses.csv`` hold the forecasts. Returns the manifest's essentials."""
    t0 = time.perf_counter()
    fs = settings.forecast
    horizon = horizon or default_horizon(fs, freq)
    windows = windows or fs.windows
    hist = load_panel(settings, level, freq)
    summary, _ = evaluate(settings, level, freq, windows, horizon, model, workers=workers, history=hist, log=log)
    if log:
        log(f"forecasting {hist['unique_id'].nunique():,} series of level {level} ...")
    result = run(settings, level, freq, horizon, model, workers=workers, history=hist)
    metrics = {r["model"]: {k: _num(r[k]) for k in ("mase", "smape", "wape", "bias", "coverage_80", "series")} for r in summary.to_dict("records")}
    chosen = result.statuses["model"].fillna("(skipped)").value_counts().to_dict()
    manifest = {
        "data_window": {"first": str(hist["ds"].min().date()), "last": str(hist["ds"].max().date())},
        "data_hash": registry.frame_hash(hist),
        "level": level, "freq": freq, "horizon": horizon, "windows": windows, "model": model,
        "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(fs).items()},
        "metrics": metrics,
        "chosen_models": chosen,
        "series": int(hist["unique_id"].nunique()),
    }
    files = {
        "forecast.csv": result.forecasts.to_csv(index=False),
        "statuses.csv": result.statuses.to_csv(index=False),
        "backtest.csv": summary.to_csv(index=False),
    }
    version = registry.save(settings, KIND, manifest, files=files)
    return {"version": version, "level": level, "freq": freq, "horizon": horizon, "windows": windows, "metrics": metrics,
            "chosen_models": chosen, "series": manifest["series"], "seconds": round(time.perf_counter() - t0, 1)}


def _num(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return v.item() if hasattr(v, "item") else v


__all__ = [
    "ForecastError", "ForecastRun", "HIERARCHY_LEVELS", "KIND", "STATUS_COLUMNS", "SeasonalNaive",
    "check_args", "evaluate", "load_panel", "reorder", "run", "train",
]
