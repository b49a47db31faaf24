"""CLI commands: forecasts, backtests, stored forecasts and reorder alerts. Registered on
``salesml.cli.app`` when salesml.cli is imported.

* ``salesml forecast --level L --freq F --horizon H [--model auto|prophet|…] [--reconcile M]``
* ``salesml backtest --level L --freq F --windows N --horizon H [--model …]``
* ``salesml train forecast [--level L] [--freq F] …`` (a registry version with its backtest)
* ``salesml reorder [--format csv|json|table] [--all]``
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from salesml.cli.base import (
    ConfigOpt,
    Fmt,
    JsonOrTable,
    _jsonable,
    _log,
    _post,
    _settings,
    app,
    audited,
    emit,
    out,
)
from salesml.cli.models import train_app

if TYPE_CHECKING:
    import pandas as pd

LevelOpt = Annotated[str, typer.Option("--level", help="company, region, team, rep, category or product")]
FreqOpt = Annotated[str, typer.Option("--freq", help="D (days), W (weeks ending Sunday) or M (months)")]
HorizonOpt = Annotated[int, typer.Option("--horizon", help="steps ahead (0 = [forecast] horizon_d / horizon_w / horizon_m)")]
ModelOpt = Annotated[str, typer.Option("--model", help="auto (per series, lowest backtest MASE) or one of [forecast] models' names, e.g. prophet, ets, seasonal_naive")]
ScopeOpt = Annotated[str | None, typer.Option("--scope", help="company, region:NAME, team:ID or rep:ID")]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="processes (default [forecast] workers; 0 = one per core)")]
EngineOpt = Annotated[str | None, typer.Option("--engine", help="where the series run: local (process pool), dask or spark (default [compute] engine; see [compute] cluster)")]


def _fmt_metrics(df: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd
    shown = df.copy()
    for c, spec in (("mase", ".3f"), ("smape", ".1f"), ("wape", ".1f"), ("bias", ".1f"), ("coverage_80", ".1f")):
        if c in shown:
            shown[c] = shown[c].map(lambda v, spec=spec: "" if pd.isna(v) else format(v, spec))
    return shown


@app.command()
def forecast(
    level: LevelOpt = "company",
    freq: FreqOpt = "D",
    horizon: HorizonOpt = 0,
    model: ModelOpt = "auto",
    scope: ScopeOpt = None,
    reconcile: Annotated[str | None, typer.Option("--reconcile", help="bottom_up, mint_shrink or mint_ols: make rep → team → region → company add up")] = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="csv / json: every forecast row; table: per-series totals and statuses")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Forecast every series of a level: ``unique_id, ds, yhat, lo, hi, model`` (never
    negative), each series' model chosen by backtest, with its status (fitted, fallback or
    skipped, and why)."""
    import pandas as pd

    from salesml.api import Warehouse
    from salesml.compute_engines import with_engine
    from salesml.forecast import service

    settings = with_engine(_settings(config), engine)
    service.check_args(level, freq, model, reconcile)
    _post(settings)
    res = Warehouse(settings).forecast(level, freq, horizon or None, model, scope, reconcile, workers, details=True,
                                       progress=True)  # progress on stderr in every format
    for note in res.notes:
        _log(f"note: {note}")
    if fmt != Fmt.table:
        emit(res.forecasts, fmt.value)
        return
    if res.forecasts.empty:
        out.print("no series could be forecast", highlight=False)
    else:
        totals = res.forecasts.groupby("unique_id", sort=True).agg(first=("ds", "min"), last=("ds", "max"), forecast=("yhat", "sum"), lo=("lo", "sum"), hi=("hi", "sum")).reset_index()
        totals = totals.assign(first=pd.to_datetime(totals["first"]).dt.strftime("%Y-%m-%d"), last=pd.to_datetime(totals["last"]).dt.strftime("%Y-%m-%d"))
        shown = totals.merge(res.statuses[["unique_id", "status", "model", "mase", "mase_seasonal_naive"]], on="unique_id", how="left")
        emit(shown, "table", title=f"{level} forecast, {res.horizon} steps of {freq} ({settings.forecast.level}% intervals summed per step; every row: --format csv)")
    odd = res.statuses[res.statuses["status"] != "fitted"]
    if len(odd):
        emit(odd[["unique_id", "status", "model", "reason"]], "table", title="series not fitted by the choice (fallbacks and skips)")
    out.print(f"{len(res.statuses):,} series in {res.seconds:.1f}s", highlight=False)


@app.command()
def backtest(
    level: LevelOpt = "company",
    freq: FreqOpt = "D",
    windows: Annotated[int, typer.Option("--windows", help="rolling-origin windows (0 = [forecast] windows)")] = 0,
    horizon: HorizonOpt = 0,
    model: ModelOpt = "auto",
    scope: ScopeOpt = None,
    workers: WorkersOpt = None,
    engine: EngineOpt = None,
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Out-of-sample accuracy per model on the last windows: ``auto`` chosen on the data
    before each window only, next to every candidate and seasonal naive (MASE < 1 beats the
    in-sample seasonal naive)."""
    from salesml.api import Warehouse
    from salesml.compute_engines import with_engine
    from salesml.forecast import service
    from salesml.forecast.backtest import left_out, window_periods

    settings = with_engine(_settings(config), engine)
    service.check_args(level, freq, model)
    _post(settings)
    bt = Warehouse(settings).backtest(level, freq, windows or None, horizon or None, model, scope, workers, details=True, log=_log,
                                      progress=True)  # on stderr, whatever the format: long runs show they are alive
    summary, errors, periods = bt.summary, bt.errors, bt.windows
    label = model
    asked = windows or settings.forecast.windows
    run = int((periods["series"] > 0).sum())
    dropped = periods.loc[periods["series"] == 0, "window"].tolist()
    if dropped:
        which = f"window {dropped[0]}" if len(dropped) == 1 else f"windows {dropped[0]}–{dropped[-1]}"
        _log(f"note: {which} of {asked} not run: no series is long enough (the earliest windows need the longest history)")
    missing = left_out(errors, label)
    if len(missing):
        shown = "; ".join(f"{r.unique_id} (windows {r.windows}: {r.reason})" for r in missing.head(5).itertuples())
        _log(f"note: {len(missing):,} series left out of some windows' scores: {shown}{' …' if len(missing) > 5 else ''}")
    if fmt == JsonOrTable.json:
        rows = _jsonable(summary)
        for row in rows:
            row["windows"] = _jsonable(window_periods(errors, freq, row["model"]))
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    emit(_fmt_metrics(summary), "table", title=f"backtest: {level}, freq {freq}, {run} of {asked} windows (MASE, sMAPE %, WAPE %, bias %, 80% coverage %)")
    emit(periods.assign(first=periods["first"].dt.strftime("%Y-%m-%d"), last=periods["last"].dt.strftime("%Y-%m-%d")).fillna(""),
         "table", title=f"windows of {label}: the steps each scored, the series scored / left out, and the model the choice gave")
    if len(missing):
        emit(missing.head(50), "table", title=f"series left out of some windows ({len(missing):,}; first 50)")


@train_app.command("forecast")
def train_forecast(
    level: LevelOpt = "region",
    freq: FreqOpt = "D",
    horizon: HorizonOpt = 0,
    windows: Annotated[int, typer.Option("--windows", help="backtest windows (0 = [forecast] windows)")] = 0,
    model: ModelOpt = "auto",
    workers: WorkersOpt = None,
    engine: EngineOpt = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="also compute the company sales_forecast report's forecasts (kept in the registry's cache: the report then reads them)")] = True,
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Backtest and forecast a level and store both as a new version in the registry
    (data/models/forecast/vNNNN: manifest with metrics, forecast.csv, statuses.csv,
    backtest.csv, and prophet_models.json with the fitted Prophet objects as Prophet's JSON),
    and its forecasts in the warehouse table forecasts (version, level, freq, unique_id, ds,
    yhat, lo, hi, interval_pct, model, made_at), next to the actuals.

    With ``[forecast] cache`` on, it also computes what the company's sales_forecast report
    shows (weekly hierarchy, daily landing, reorder points, as of the last day with sales) and
    keeps it in data/models/cache/: rendering that report afterwards reads it instead of
    fitting again, as long as the data, settings and salesml are the same (else the report
    computes it again)."""
    import pandas as pd

    from salesml.compute_engines import with_engine
    from salesml.forecast import service
    from salesml.reports import forecast as forecast_report

    settings = with_engine(_settings(config), engine)
    service.check_args(level, freq, model)
    _post(settings)
    with audited(settings, "train forecast", {"level": level, "freq": freq, "model": model, "report": report}) as what:
        result = service.train(settings, level, freq, horizon or None, windows or None, model, workers, log=_log, progress=True)
        what["params"] = {"version": result["version"]}
        if report and settings.forecast.cache:
            _log("the company sales_forecast report's forecasts (weekly, as of the last day with sales), kept for the report ...")
            started = time.perf_counter()
            try:
                forecast_report.build(config_path=str(settings.config_path or ""), warehouse=str(settings.warehouse_path), workers=workers or 0)
            except forecast_report.ForecastReportError as e:
                _log(f"the report's forecasts were not computed: {e}")
            result["report_seconds"] = round(time.perf_counter() - started, 1)
    if fmt == JsonOrTable.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    rows = pd.DataFrame([{"model": m, **v} for m, v in result["metrics"].items()])
    emit(_fmt_metrics(rows), "table", title=f"forecast {result['version']}: {level}, freq {freq}, backtest of {result['windows']} windows × {result['horizon']} steps")
    out.print("models chosen: " + ", ".join(f"{m} {n}" for m, n in result["chosen_models"].items()), highlight=False)
    if result["prophet_models"]:
        out.print(f"{result['prophet_models']} fitted Prophet models saved as JSON (prophet_models.json)", highlight=False)
    out.print(f"saved forecast model {result['version']} in {result['seconds']:.0f}s; its {result['warehouse_rows']:,} forecast rows "
              "are in the warehouse table forecasts", highlight=False)
    if "report_seconds" in result:
        out.print(f"the sales_forecast report's forecasts computed and kept in {result['report_seconds']:.0f}s", highlight=False)


@app.command()
def reorder(
    fmt: Annotated[Fmt, typer.Option("--format", help="csv / json / table")] = Fmt.table,
    show_all: Annotated[bool, typer.Option("--all", help="every product and warehouse, not only the alerts")] = False,
    workers: WorkersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Low-stock alerts: products whose stock on hand + on order is below the reorder point
    (demand over the lead time from the forecast + safety stock at [inventory] service_level)."""
    import pandas as pd

    from salesml.forecast import inventory, service

    settings = _settings(config)
    _post(settings)
    table, notes = service.reorder(settings, workers, progress=True)
    for note in notes:
        _log(f"note: {note}")
    shown = table if show_all else inventory.alerts(table)
    if fmt != Fmt.table:
        emit(shown, fmt.value)
        return
    cols = ["product_id", "warehouse", "on_hand", "on_order", "lead_time_days", "mean_daily_demand", "safety_stock", "reorder_point", "shortfall", "days_of_cover"]
    view = shown[[c for c in cols if c in shown]].copy()
    for c in ("mean_daily_demand", "safety_stock", "reorder_point", "shortfall", "days_of_cover"):
        if c in view:
            view[c] = view[c].map(lambda v: "" if pd.isna(v) else f"{v:,.1f}")
    n_alerts = int(table["alert"].sum()) if "alert" in table else 0
    emit(view, "table", title=f"{'reorder points' if show_all else 'low-stock alerts'}: {n_alerts:,} of {len(table):,} product/warehouse pairs below their reorder point "
         f"(service level {settings.inventory.service_level:.0%})")
