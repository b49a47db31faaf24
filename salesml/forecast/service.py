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
* ``train(settings, ...)`` — ``evaluate`` + ``run`` stored as a registry version, its
  forecasts also written to the warehouse table ``forecasts`` (``write_forecasts``: the one
  write of this module, in a short transaction of its own).

``run``, ``evaluate``, ``train`` and ``reorder`` run the series where ``[compute] engine`` says: their
``workers`` becomes the :class:`~salesml.compute_engines.Engine` of the settings
(``engine_for``) passed down to ``auto.map_series``; with the local engine it stays the
process count.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from salesml import registry, warehouse
from salesml.compute_engines import Engine, engine_for
from salesml.config import FORECAST_MODELS, RECONCILE_METHODS, ForecastSettings, Settings
from salesml.errors import SalesmlError
from salesml.forecast import KIND
from salesml.forecast import inventory as I
from salesml.forecast import reconcile as R
from salesml.forecast.auto import (
    STATUS_COLUMNS,
    PanelEvaluation,
    auto_summary,
    default_horizon,
    evaluate_panel,
    forecast_and_backtest,
    forecast_panel,
    map_series,
    picks_by_window,
    tidy_history,
)
from salesml.forecast.backtest import summarise, with_chosen
from salesml.forecast.models import (
    Ensemble,
    ProphetModel,
    SeasonalNaive,
    candidate_models,
    make_model,
)
from salesml.forecast.panels import (
    FREQS,
    LEVELS,
    Steps,
    ledger_steps,
    panel_steps,
    parent_of,
    without_partial,
)
from salesml.forecast.promotions import (
    Promotions,
    PromotionsError,
    load_promotions,
    series_categories,
)

#: levels of the sales hierarchy that can be reconciled
HIERARCHY_LEVELS = ("company", "region", "team", "rep")


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


def candidate_names(model: str, settings: Settings, level: str | None = None) -> tuple[str, ...]:
    """The names of the candidate models: for ``auto``, ``[forecast] product_models`` at
    product level (thousands of noisy series), the ``[forecast] models`` that
    ``[forecast] rep_models`` lists at rep level, and ``[forecast] models`` elsewhere; else
    the one model."""
    if model != "auto":
        return (model,)
    fs = settings.forecast
    if level == "product":
        return tuple(fs.product_models)
    if level == "rep":
        return R.rep_names(fs.models, fs.rep_models)
    return tuple(fs.models)


def level_forecast(settings: Settings, level: str | None) -> ForecastSettings:
    """The forecast settings of a level: at product level ``product_choice`` is the choice."""
    fs = settings.forecast
    return dataclasses.replace(fs, choice=fs.product_choice) if level == "product" else fs


def candidates_for(model: str, settings: Settings, level: str | None = None) -> list:
    """The candidate models (``candidate_names``), built from the forecast settings; Prophet
    with the promotion calendar (``promotions_for``) when one is configured; for ``auto`` the
    ``[forecast] combinations`` of them too (each an ensemble of the same model objects)."""
    names = candidate_names(model, settings, level)
    models = candidate_models(settings.forecast, names) if model == "auto" else [make_model(names[0], settings.forecast)]
    if any(isinstance(m, ProphetModel) for m in models):
        models = _with_promotions(models, promotions_for(settings, level))
    return models


def _with_promotions(models: list, promos) -> list:
    """Prophet with the promotion calendar, also inside a combination (the same object, so
    a combination still reuses its members' fits)."""
    swapped = {id(m): dataclasses.replace(m, promotions=promos) for m in models if isinstance(m, ProphetModel)}
    out = []
    for m in models:
        if isinstance(m, Ensemble):
            m = Ensemble(tuple(swapped.get(id(x), x) for x in m.members), m.name)
        out.append(swapped.get(id(m), m))
    return out


def parent_level(settings: Settings, level: str, scope: str | None = None, model: str = "auto") -> str | None:
    """The level whose pooled pick ``level`` keeps within ``[forecast] parent_margin``
    (``panels.parent_of``), or None: also for a single model, or a parent above ``scope`` (a
    scoped run reads nothing outside its scope)."""
    parent = parent_of(level, level_forecast(settings, level))
    if parent is None or model != "auto":
        return None
    if scope and parent not in R.hierarchy_levels(scope):
        return None
    return parent


def parent_picks(settings: Settings, level: str, freq: str, horizon: int, windows: int | None = None, scope: str | None = None,
                 forecast_horizon: int | None = None, workers: int | Engine | None = None, progress: bool = False,
                 log: Callable[[str], None] | None = None, model: str = "auto") -> dict[int, str] | None:
    """The picks of the level above ``level`` (``parent_level``) that ``level`` keeps within
    ``[forecast] parent_margin``, computed top down (the parent keeps its own parent's):
    with ``windows``, its pick in each window of an honest backtest of ``windows`` windows of
    ``horizon`` steps (and, with ``forecast_horizon``, for a forecast of that many steps as
    window 0); without, the pick of its forecast of ``horizon`` steps (window 0). None when
    ``level`` chooses alone."""
    parent = parent_level(settings, level, scope, model)
    if parent is None:
        return None
    above = parent_picks(settings, parent, freq, horizon, windows, scope, forecast_horizon, workers, progress, log)
    df, _ = load_history(settings, parent, freq, scope)
    if log:
        log(f"the {parent} level's pick first ({df['unique_id'].nunique():,} series): the {level} level keeps it "
            f"unless its own scores more than {settings.forecast.parent_margin:.0%} better ...")
    fs, candidates = level_forecast(settings, parent), candidates_for("auto", settings, parent)
    if windows:
        ev = evaluate_panel(df, windows, horizon, freq, fs, workers=workers, progress=progress, candidates=candidates,
                            forecast=forecast_horizon is not None, forecast_horizon=forecast_horizon, parent_picks=above)
    else:
        ev = forecast_and_backtest(df, horizon, freq, fs, workers, progress, candidates, parent_picks=above)
    return picks_by_window(ev.picks)


def cached_runner(settings: Settings) -> Callable[..., PanelEvaluation]:
    """:func:`salesml.forecast.auto.forecast_and_backtest`, answered from the registry's
    cache when the same panel was forecast and backtested before with the same settings,
    candidates and salesml code (``[forecast] cache``); stored there when it was not."""
    if not settings.forecast.cache:
        return forecast_and_backtest

    def run(panel: pd.DataFrame, horizon: int, freq: str, fs, workers: int | None = None, progress: bool = False,
            candidates=None, honest: bool = False, parent_picks=None) -> PanelEvaluation:
        params = {k: v for k, v in dataclasses.asdict(fs).items() if k not in ("workers", "cache")}
        key = registry.cache_key(panel, {"horizon": int(horizon), "freq": freq, "honest": bool(honest), "settings": params,
                                         "candidates": None if candidates is None else [_describe(m) for m in candidates],
                                         "parent_picks": sorted((parent_picks or {}).items())})
        stored = registry.load_result(settings, CACHE_KIND, key)
        if stored is not None:  # stored by this very code (the key holds its hash): every field is there
            return PanelEvaluation(**stored)
        ev = forecast_and_backtest(panel, horizon, freq, fs, workers, progress, candidates, honest, parent_picks)
        registry.save_result(settings, CACHE_KIND, key, {f.name: getattr(ev, f.name) for f in dataclasses.fields(ev)})
        return ev

    return run


#: the registry cache's kind of forecast-and-backtest results
CACHE_KIND = "forecast"


def _describe(obj):
    """A model's parameters as plain data for a cache key (frames by their content hash)."""
    if isinstance(obj, pd.DataFrame):
        return registry.frame_hash(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"type": type(obj).__name__, **{f.name: _describe(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, list | tuple):
        return [_describe(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _describe(v) for k, v in obj.items()}
    return repr(obj)


def promotions_for(settings: Settings, level: str | None = None) -> Promotions | None:
    """The promotion calendar of ``[forecast] promotions`` (None when none is configured) with
    the category of each series of ``level`` (categories and products; other levels are
    totals over the categories). A configured file that is missing or malformed is an error
    that names it."""
    if not settings.forecast.promotions:
        return None
    try:
        calendar = load_promotions(settings.path(settings.forecast.promotions))
    except PromotionsError as e:
        raise ForecastError(f"{e} (set [forecast] promotions = \"\" if no calendar is known)") from e
    categories = {}
    if level in ("category", "product"):
        _require_warehouse(settings)
        with warehouse.open(settings, read_only=True) as con:
            categories = series_categories(con, level)
    return Promotions.from_frame(calendar, categories)


def load_panel(settings: Settings, level: str, freq: str, scope: str | None = None, measure: str = "amount") -> pd.DataFrame:
    """The level's panel (``unique_id, ds, y``) from the ledger, on a short read-only connection."""
    return load_history(settings, level, freq, scope, measure)[0]


def load_history(settings: Settings, level: str, freq: str, scope: str | None = None, measure: str = "amount") -> tuple[pd.DataFrame, Steps]:
    """``load_panel`` and the panel's ``Steps``: its anchor and the partial step left out."""
    _require_warehouse(settings)
    with warehouse.open(settings, read_only=True) as con:
        df, steps = panel_steps(con, level, freq, measure=measure, scope=scope, settings=settings.performance, forecast=settings.forecast)
    if df.empty:
        raise ForecastError(f"no sales in the ledger for level {level!r}{' within ' + scope if scope else ''}: nothing to forecast")
    return df, steps


def steps_note(steps: Steps | None) -> list[str]:
    """The calendar in a line, with the partial step left out, for a run's notes."""
    if steps is None:
        return []
    own = "the data's own" if steps.point_dated else "the default for sales over the days"
    line = f"steps: {steps.describe()} ({own}); the last complete step is {steps.last:%Y-%m-%d}"
    return [line, *([steps.note()] if steps.partial is not None else [])]


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
    workers: int | Engine | None = None,
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
    workers = engine_for(settings, workers)
    fs = level_forecast(settings, level)
    horizon = horizon or default_horizon(fs, freq)
    if horizon < 1:
        raise ForecastError(f"--horizon must be 1 or more, got {horizon}")
    t0 = time.perf_counter()
    notes: list[str] = []
    steps = None
    if reconcile:
        _require_warehouse(settings)
        with warehouse.open(settings, read_only=True) as con:
            Y_df, S_df, tags = R.hierarchy_panel(con, freq, settings, scope=scope)
            steps = ledger_steps(con, freq, scope=scope, forecast=settings.forecast, settings=settings.performance)
        notes += steps_note(steps)
        if Y_df.empty:
            raise ForecastError(f"no sales in the ledger{' within ' + scope if scope else ''}: nothing to forecast")
        keep = set(tags.get(level, []))
        if not keep and level in R.hierarchy_levels(scope):
            raise ForecastError(f"the data has no {level} level: every line's {level} is {settings.performance.unassigned!r} "
                                "(no reps loaded); forecast a level above it")
        if not keep:
            raise ForecastError(f"level {level!r} is above the scope {scope!r}: nothing of it to forecast")
        fs_method = dataclasses.replace(fs, reconcile=reconcile)
        steps_ahead = horizon + (steps.partial is not None)  # the partial step is forecast, then left out
        hf = R.forecast_hierarchy(Y_df, S_df, tags, steps_ahead, freq, fs_method, workers, candidates_for(model, settings), progress,
                                  run=cached_runner(settings))
        fc = without_partial(hf.forecasts[hf.forecasts["unique_id"].isin(keep)], steps).copy()
        history = Y_df[Y_df["unique_id"].isin(keep)].copy()
        statuses = hf.statuses[hf.statuses["unique_id"].isin(keep)].reset_index(drop=True)
        errors = hf.errors[hf.errors["unique_id"].isin(keep)].reset_index(drop=True)
        notes += [*hf.notes, f"reconciled ({hf.method}) over {S_df.shape[0]:,} nodes of the hierarchy; each row adds up with its children"]
    else:
        if history is None:
            history, steps = load_history(settings, level, freq, scope)
            notes += steps_note(steps)
        steps_ahead = horizon + (steps is not None and steps.partial is not None)
        above = parent_picks(settings, level, freq, steps_ahead, scope=scope, workers=workers, progress=progress, model=model)
        fc, statuses, errors = forecast_panel(history, steps_ahead, freq, fs, workers=workers, progress=progress,
                                              candidates=candidates_for(model, settings, level), parent_pick=(above or {}).get(0))
        fc = without_partial(fc, steps)
    summary = auto_summary(errors, statuses) if len(errors) else pd.DataFrame(columns=["model", "mase", "smape", "wape", "bias", "coverage_80", "series"])
    return ForecastRun(level, freq, horizon, model, scope or "company", reconcile, history.reset_index(drop=True), fc.reset_index(drop=True),
                       statuses, errors, summary, time.perf_counter() - t0, notes)


# ----------------------------------------------------------------------------- honest backtest


def _honest(settings: Settings, df: pd.DataFrame, level: str, freq: str, windows: int, horizon: int, model: str, workers: int | None,
            forecast: bool = False, progress: bool = False, forecast_horizon: int | None = None, scope: str | None = None,
            log: Callable[[str], None] | None = None, parents: bool = True) -> tuple[pd.DataFrame, PanelEvaluation]:
    """``auto.evaluate_panel`` with the level's candidates, each of them and seasonal naive
    scored alone too, and its per-model summary (the choice first, then seasonal naive, then
    the others; the errors say what the choice gave, ``chosen``); with ``parents``, the level
    above's picks first where the level keeps them (``parent_picks``, read from the warehouse
    within ``scope``)."""
    fs = level_forecast(settings, level)
    label = "auto" if model == "auto" else model
    candidates = candidates_for(model, settings, level)
    singles = [*candidates, *([] if any(m.name == "seasonal_naive" for m in candidates) else [make_model("seasonal_naive", fs)])]
    above = parent_picks(settings, level, freq, horizon, windows, scope, (forecast_horizon or horizon) if forecast else None,
                         workers, progress, log, model) if parents else None
    ev = evaluate_panel(df, windows, horizon, freq, fs, workers=workers, progress=progress, candidates=candidates,
                        singles=singles, label=label, forecast=forecast, forecast_horizon=forecast_horizon, parent_picks=above)
    ev = dataclasses.replace(ev, errors=with_chosen(ev.errors, ev.choices, label))
    summary = summarise(ev.errors)
    order = {label: 0, "seasonal_naive": 1}
    summary = summary.assign(_o=summary["model"].map(lambda m: order.get(m, 2))).sort_values(["_o", "model"]).drop(columns="_o").reset_index(drop=True)
    return summary, ev


def backtest_shape(settings: Settings, freq: str, windows: int | None, horizon: int | None) -> tuple[int, int]:
    """``(windows, horizon)`` of a backtest: the ones given, else ``[forecast] windows`` and the
    frequency's default horizon; a clear error unless both are 1 or more."""
    windows = windows or settings.forecast.windows
    horizon = horizon or default_horizon(settings.forecast, freq)
    if windows < 1 or horizon < 1:
        raise ForecastError(f"--windows and --horizon must be 1 or more, got {windows} and {horizon}")
    return windows, horizon


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
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """An out-of-sample backtest: ``(summary, errors)``.

    On each of the last ``windows`` windows of ``horizon`` steps, ``auto`` (or ``model``)
    is chosen and fitted on the data before the window — its own selection backtest never
    sees the window — and scored on it (``auto.evaluate_series``). Every candidate and
    seasonal naive are scored on the same windows. ``summary`` has one row per model
    (``model, mase, smape, wape, bias, coverage_80, series``; MASE and sMAPE are means over
    series and windows, WAPE and bias pooled); ``errors`` one row per series, window and model
    (``chosen``: on the rows of the choice, the model it gave the series in the window).
    ``history``: a panel to use instead of reading the level from the warehouse (the level then
    chooses alone: the level above it is read from the warehouse, see ``parent_picks``).
    """
    check_args(level, freq, model)
    workers = engine_for(settings, workers)
    windows, horizon = backtest_shape(settings, freq, windows, horizon)
    df, steps = (history, None) if history is not None else load_history(settings, level, freq, scope)
    if log:
        for line in steps_note(steps):
            log(line)
        log(f"backtest of {df['unique_id'].nunique():,} series, {windows} windows of {horizon} steps: "
            f"{'auto' if model == 'auto' else model} chosen with the data before each window ...")
    summary, ev = _honest(settings, df, level, freq, windows, horizon, model, workers, progress=progress, scope=scope, log=log,
                          parents=history is None)
    return summary, ev.errors


# ----------------------------------------------------------------------------- inventory


def reorder(settings: Settings, workers: int | None = None, progress: bool = False, model: str = "auto") -> tuple[pd.DataFrame, list[str]]:
    """Reorder points per product and warehouse from the latest inventory snapshot and daily
    unit-demand forecasts (``inventory.forecast_reorder``: the cheap candidates, over the
    longest lead time), and notes. ``inventory.alerts(table)`` are the low-stock rows."""
    _require_warehouse(settings)
    workers = engine_for(settings, workers)
    with warehouse.open(settings, read_only=True) as con:
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
    progress: bool = False,
) -> dict[str, Any]:
    """Evaluate (honest backtest) and forecast a level in one pass (``auto.evaluate_panel``
    with ``forecast=True``: the forecast's selection backtest reuses the backtest's fits), and
    store both as a new version of ``forecast`` in the registry: the manifest holds the data
    window and hash, the settings, the backtest metrics per model and each series' chosen
    model; ``forecast.csv``, ``statuses.csv`` and ``backtest.csv`` hold the forecasts, and
    ``prophet_models.json`` the fitted Prophet object (Prophet's own JSON) of every series
    whose forecast is Prophet's (``prophet_model`` loads one). Returns the manifest's
    essentials."""
    t0 = time.perf_counter()
    check_args(level, freq, model)
    workers = engine_for(settings, workers)
    fs = settings.forecast
    windows, horizon = backtest_shape(settings, freq, windows, horizon)
    hist, steps = load_history(settings, level, freq)
    if log:
        log(f"backtest ({windows} windows of {horizon} steps) and forecast of {hist['unique_id'].nunique():,} series of level {level} ...")
        for line in steps_note(steps):
            log(line)
    summary, ev = _honest(settings, hist, level, freq, windows, horizon, model, workers, forecast=True, progress=progress,
                          forecast_horizon=horizon + (steps.partial is not None), log=log)
    ev = dataclasses.replace(ev, forecasts=without_partial(ev.forecasts, steps))
    statuses = ev.statuses
    metrics = {r["model"]: {k: _num(r[k]) for k in ("mase", "smape", "wape", "bias", "coverage_80", "series")} for r in summary.to_dict("records")}
    chosen = statuses["model"].fillna("(skipped)").value_counts().to_dict()
    prophets = _prophet_json(settings, hist, statuses, level, freq, workers)
    manifest = {
        "data_window": {"first": str(hist["ds"].min().date()), "last": str(hist["ds"].max().date())},
        "steps": {"anchor": steps.anchor, "point_dated": steps.point_dated, "through": str(steps.through.date()),
                  "partial": None if steps.partial is None else str(steps.partial.date())},
        "data_hash": registry.frame_hash(hist),
        "level": level, "freq": freq, "horizon": horizon, "windows": windows, "model": model,
        "parameters": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(fs).items()},
        "metrics": metrics,
        "chosen_models": chosen,
        "series": int(hist["unique_id"].nunique()),
        "prophet_models": sorted(prophets, key=str),
    }
    files = {
        "forecast.csv": ev.forecasts.to_csv(index=False),
        "statuses.csv": statuses.to_csv(index=False),
        "backtest.csv": summary.to_csv(index=False),
    }
    if prophets:
        files[PROPHET_FILE] = json.dumps(prophets, ensure_ascii=False)
    version = registry.save(settings, KIND, manifest, files=files)
    written = write_forecasts(settings, version, level, freq, fs.level, ev.forecasts)
    return {"version": version, "level": level, "freq": freq, "horizon": horizon, "windows": windows, "metrics": metrics,
            "chosen_models": chosen, "series": manifest["series"], "prophet_models": len(prophets),
            "warehouse_rows": written, "seconds": round(time.perf_counter() - t0, 1)}


def write_forecasts(settings: Settings, version: str, level: str, freq: str, interval_pct: float, forecasts: pd.DataFrame) -> int:
    """Store a trained version's forecasts (``unique_id, ds, yhat, lo, hi, model``) in the
    warehouse table ``forecasts``, next to the actuals they forecast, wherever their fits ran:
    the rows of the same version are replaced, in one transaction, with an audit entry.
    Returns the rows written."""
    rows = pd.DataFrame({
        "version": version, "level": level, "freq": freq,
        "unique_id": forecasts["unique_id"].astype(str).to_numpy(),
        "ds": pd.to_datetime(forecasts["ds"]).dt.date.to_numpy(),
        **{c: forecasts[c].to_numpy(dtype="float64") for c in ("yhat", "lo", "hi")},
        "interval_pct": float(interval_pct), "model": forecasts["model"].astype(object).to_numpy(),
        "made_at": pd.Timestamp.now().floor("s"),
    })
    warehouse.replace_rows(settings, "forecasts", rows, {"version": version}, "write forecasts",
                           {"version": version, "level": level, "freq": freq, "rows": len(rows)})
    return len(rows)


#: the registry file of a forecast version holding its fitted Prophet objects (unique_id -> JSON)
PROPHET_FILE = "prophet_models.json"


def _uses_prophet(name) -> bool:
    """Whether a status' model is Prophet or an ensemble with Prophet in it."""
    if not isinstance(name, str):
        return False
    return name == "prophet" or (name.startswith("ensemble(") and "prophet" in name[len("ensemble(") : -1].split("+"))


def _prophet_json(settings: Settings, hist: pd.DataFrame, statuses: pd.DataFrame, level: str, freq: str, workers: int | None) -> dict:
    """Prophet's JSON of the model fitted to the whole history of each series whose forecast
    is (or averages) Prophet's: the same fit as the forecast's (Prophet's fit is a
    deterministic optimisation), one more fit per such series, on the process pool."""
    uids = statuses.loc[statuses["model"].map(_uses_prophet), "unique_id"]
    if uids.empty:
        return {}
    fs = settings.forecast
    task = partial(_fit_prophet_json, model=candidates_for("prophet", settings, level)[0], freq=freq, level=fs.level)
    wanted = hist[hist["unique_id"].isin(set(uids))]
    return dict(zip(sorted(uids), map_series(task, wanted, fs, workers, models=["prophet"], desc="prophet"), strict=True))


def _fit_prophet_json(uid, history: pd.DataFrame, model, freq: str, level: float) -> str:
    from prophet.serialize import model_to_json

    h, _ = tidy_history(history, freq)
    h = h.assign(y=h["y"].clip(lower=0))  # as the choice fitted it
    return model_to_json(model.for_series(uid).fit(h, freq, level))


def prophet_model(settings: Settings, unique_id: str, version: str | None = None):
    """The fitted Prophet object stored for ``unique_id`` by ``train`` (the latest version of
    ``forecast``, or ``version``): ``m.predict(future)`` forecasts as the stored run did (with
    a ``promo`` column in ``future`` when ``"promo" in m.extra_regressors``: the promotion
    regressor, ``salesml.forecast.promotions.regressor``)."""
    from prophet.serialize import model_from_json

    folder = registry.resolve(settings, KIND, version)
    path = folder / PROPHET_FILE
    stored = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    if unique_id not in stored:
        have = ", ".join(sorted(stored)[:10]) or "none"
        raise ForecastError(f"forecast version {folder.name} holds no Prophet model for {unique_id!r} (it holds: {have})")
    return model_from_json(stored[unique_id])


def _num(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return v.item() if hasattr(v, "item") else v


__all__ = [
    "ForecastError", "ForecastRun", "HIERARCHY_LEVELS", "KIND", "STATUS_COLUMNS", "SeasonalNaive",
    "PROPHET_FILE", "check_args", "evaluate", "load_panel", "prophet_model", "reorder", "run", "train", "write_forecasts",
]
