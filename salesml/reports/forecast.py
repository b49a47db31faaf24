"""The sales forecast report: what ``notebooks/sales_forecast.ipynb`` shows.

Sections: the headline (next horizon's forecast for the scope and whether the automatic
choice beats seasonal naive), forecasts against actuals with their intervals for the
scope's top node and the level below it, the backtest table, the landing of the open month
and quarter with the probability of reaching target, reorder alerts, and how it is made.

How it is built (:func:`build`, once per render; every section reads its result):

* **Hierarchy forecast** at the report's frequency: every node of the scope's hierarchy
  (:func:`salesml.forecast.reconcile.hierarchy_panel`, data up to ``as_of``) gets its
  automatically chosen model (:func:`salesml.forecast.auto.evaluate_panel`: the forecast and
  an honest backtest of the choice in one pass), and the
  forecasts are reconciled with ``[forecast] reconcile`` so that children add up to their
  parent. A node that could not be forecast (skipped: all zeros, too short...) counts as 0,
  without an interval; a reconciliation that fails falls back to bottom-up. Both are said.
* **Daily forecast for the landing**: the same nodes at daily frequency, for the days
  from ``as_of`` to the end of the open quarter, reconciled the same way, then
  :func:`salesml.forecast.landing.landing_for_period` for the open month and quarter. A
  daily hierarchy has hundreds of series and ETS or Prophet cost seconds per daily series,
  so the daily candidates are the report's models among :data:`salesml.forecast.auto.CHEAP_MODELS`, and they learn
  from the last ``2 x windows x horizon + min_obs_d`` days: just enough for the honest
  backtest of the full rolling-origin choice. They model the weekly pattern, not the yearly one, so they are then
  aligned with the hierarchy forecast (:func:`salesml.forecast.summary.align_daily`): wherever a whole week (or
  month, for a monthly report) is forecast at both frequencies, each node's days are scaled
  to add up to its reconciled weekly (monthly) forecast. The yearly peaks the report's own
  models see (618, Double 11) reach the landing that way; the daily models only spread each
  week over its days, and fill the weeks the hierarchy forecast does not cover.
* **Product demand** (company scope only): daily units per product
  (:func:`salesml.forecast.inventory.demand_panel`) forecast with ``[forecast] product_models``
  over the longest lead time, then :func:`salesml.forecast.inventory.reorder_table`.

Scope: every query is filtered to the scope in the warehouse (the hierarchy panels, the
landing's actuals and targets, the reps' names), so nothing of anyone else is read,
charted or rendered. Inventory is not kept per region, team or rep: a narrower report skips
the reorder section with a note (company-wide demand would show everyone's sales).

Connections are short: one read before the forecasts, one after (landing), none open
while models fit.

The arithmetic on the forecasts and backtests (nodes combined, daily forecasts aligned with
weeks or months, year-earlier dates, backtest and reconciliation summaries) is in
:mod:`salesml.forecast.summary`; this module reads, forecasts and lays out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import ceil

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.config import FORECAST_MODELS, ConfigError, ForecastSettings, Settings, check_forecast
from salesml.customers.rfm import SegmentError, parse_as_of
from salesml.errors import SalesmlError
from salesml.forecast import auto, landing, reconcile
from salesml.forecast.auto import cheap_models
from salesml.forecast.inventory import Reorder, forecast_reorder, reorder_inputs
from salesml.forecast.panels import FREQS, Steps, ledger_steps, without_partial
from salesml.forecast.reconcile import HierarchyForecast, forecast_hierarchy
from salesml.forecast.service import cached_runner, candidates_for
from salesml.forecast.summary import (
    STATUS_ORDER,
    align_daily,
    backtest_summary,
    combine_landing,
    combine_nodes,
    reconciliation_summary,
    status_counts,
    year_earlier,
)
from salesml.insights import forecast_checks as FC
from salesml.reports import html as H
from salesml.reports.lang import Lang
from salesml.reports.performance import report_settings, warehouse_connect
from salesml.scope import Scope, check_scope, parse_scope

#: small multiples per row in the children's chart
CHART_COLUMNS = 3
#: report frequencies whose forecasts the daily landing forecasts are aligned with
ALIGNED_FREQS = ("W", "M")
#: what one step of each frequency is called
STEP_NAMES = {"D": "day", "W": "week", "M": "month"}
#: chart colours
ACTUAL, FORECAST, BAND, TARGET = "#57606a", "#0969da", "rgba(9,105,218,0.18)", "#cf222e"


class ForecastReportError(SalesmlError, ValueError):
    """A report parameter is malformed; the message says which and how to write it."""


# --------------------------------------------------------------------------- parameters


def parse_day(value: str | date) -> date:
    """A day from ``YYYY-MM-DD`` text (or a date): :func:`salesml.customers.rfm.parse_as_of`,
    failing as a report parameter error."""
    try:
        return parse_as_of(value)
    except SegmentError as e:
        raise ForecastReportError(str(e)) from None


def parse_models(text: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Candidate models from a comma-separated override ("" = ``default``), checked by name."""
    names = tuple(dict.fromkeys(m.strip() for m in (text or "").split(",") if m.strip()))
    if not names:
        return tuple(default)
    unknown = [m for m in names if m not in FORECAST_MODELS]
    if unknown:
        raise ForecastReportError(f"models: unknown model(s) {', '.join(unknown)}; known: {', '.join(FORECAST_MODELS)}")
    return names


def check_freq(freq: str) -> str:
    """``D``, ``W`` or ``M`` (case-insensitive)."""
    f = (freq or "").strip().upper()
    if f not in FREQS:
        raise ForecastReportError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    return f


def resolve_horizon(horizon: int, freq: str, settings: ForecastSettings) -> int:
    """The horizon in steps: ``horizon``, or the settings' default for ``freq`` when 0."""
    if int(horizon) < 0:
        raise ForecastReportError(f"horizon must be 0 (the default) or more steps, got {horizon}")
    return int(horizon) or auto.default_horizon(settings, freq)


def daily_history_start(as_of: date, horizon: int, settings: ForecastSettings) -> date:
    """First day the daily models learn from: ``(windows + selection windows) x horizon +
    min_obs_d`` days up to ``as_of``: the honest backtest's windows, before each of which the
    choice has its own backtest windows and the shortest series a model is chosen for."""
    days = (settings.windows + auto.selection_windows(settings)) * horizon + auto.min_obs(settings, "D")
    return as_of - timedelta(days=days - 1)


# --------------------------------------------------------------------------- the scope's nodes


def top_and_children(tags: dict, scope: Scope) -> tuple[list[str], list[str]]:
    """The nodes of the scope's own level (one, or a rep's several team stints) and those
    shown below them: company -> regions, region -> teams, team -> reps, rep -> its stints
    when there are several. Pure."""
    own = [str(u) for u in tags.get(scope.level, [])]
    if scope.level == "rep":
        return own, own if len(own) > 1 else []
    below = reconcile.LEVELS[reconcile.LEVELS.index(scope.level) + 1]
    return own, [str(u) for u in tags.get(below, [])]


def node_parts(uid: str) -> dict[str, str]:
    """``region/East China/team/T03`` -> ``{"region": "East China", "team": "T03"}``; ``{}``
    for the company and for an id that does not parse (a name holding a ``/``)."""
    if reconcile.node_level(uid) in (None, reconcile.COMPANY):
        return {}
    parts = uid.split("/")
    return dict(zip(parts[0::2], parts[1::2], strict=True))


def region_label(region: str, local_regions: dict[str, str]) -> str:
    """A region's name with its local name, e.g. ``East China · 华东``."""
    local = local_regions.get(region)
    return f"{region} · {local}" if local else str(region)


def node_labels(ids: list[str], rep_names: dict[str, str], local_regions: dict[str, str]) -> dict[str, str]:
    """A readable label per node id: ``Company``, a region (with its local name), a team,
    or a rep's id and name (with the team when the rep has several stints); an id that
    does not parse is its own label. Pure."""
    reps = [node_parts(u).get("rep") for u in ids if reconcile.node_level(u) == "rep"]
    repeated = {r for r in reps if reps.count(r) > 1}
    out = {}
    for uid in ids:
        level, p = reconcile.node_level(uid), node_parts(uid)
        if level is None:  # a name holding "/": the id itself
            out[uid] = uid
        elif level == "region":
            out[uid] = region_label(p["region"], local_regions)
        elif level == "team":
            out[uid] = p["team"]
        elif level == "rep":
            name = rep_names.get(p["rep"], "")
            out[uid] = f"{p['rep']} {name}".strip() + (f" ({p['team']})" if p["rep"] in repeated else "")
        else:
            out[uid] = "Company"
    return out


# --------------------------------------------------------------------------- backtests


def verdict(summary: pd.DataFrame) -> tuple[str, bool | None, float, float]:
    """``(sentence, auto beats seasonal naive?, MASE auto, MASE seasonal naive)`` from the
    ``all`` rows of :func:`salesml.forecast.summary.backtest_summary` (``None`` and NaN when they cannot be compared)."""
    rows = summary[summary["level"] == "all"].set_index("model")["mase"] if len(summary) else pd.Series(dtype=float)
    a, b = float(rows.get("auto", np.nan)), float(rows.get(auto.BASELINE, np.nan))
    if np.isnan(a) or np.isnan(b):
        return "no backtest could compare the automatic choice with seasonal naive (series too short)", None, a, b
    if a < b:
        return f"auto beats seasonal naive: MASE {a:.3f} vs {b:.3f}", True, a, b
    return f"auto does not beat seasonal naive: MASE {a:.3f} vs {b:.3f}", False, a, b


# --------------------------------------------------------------------------- build


@dataclass(frozen=True)
class ForecastReport:
    """Everything the sections show, computed once by :func:`build`."""

    settings: Settings
    scope: Scope
    as_of: date
    freq: str
    horizon: int
    currency: str | None
    labels: dict[str, str]
    main: HierarchyForecast | None
    daily: HierarchyForecast | None
    daily_start: date
    landings: dict[str, pd.DataFrame]
    reorder: Reorder | None
    messages: dict[str, str] = field(default_factory=dict)
    product_names: dict[str, str] = field(default_factory=dict)
    rep_names: dict[str, str] = field(default_factory=dict)
    #: the latest complete steps of every node against the honest backtest's interval for them
    #: (:func:`salesml.insights.forecast_checks.outside_interval`), and the same for the products' demand
    outside: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=FC.OUTSIDE_COLUMNS))
    product_outside: pd.DataFrame | None = None
    #: the page's language and number formats
    L: Lang = field(default_factory=Lang)

    @property
    def top(self) -> list[str]:
        return top_and_children(self.main.tags, self.scope)[0] if self.main else []

    @property
    def children(self) -> list[str]:
        return top_and_children(self.main.tags, self.scope)[1] if self.main else []


def _keeping(run, into: list):
    """``run`` that also keeps each result's honest-backtest window forecasts in ``into``
    (what the early warnings compare the latest actuals with; nothing more is fitted)."""

    def kept(*args, **kwargs):
        ev = run(*args, **kwargs)
        if ev.window_forecasts is not None and len(ev.window_forecasts):
            into.append(ev.window_forecasts)
        return ev

    return kept


def _hierarchy(con, freq: str, settings: Settings, scope: Scope, as_of: date, start: date | None = None):
    """``hierarchy_panel`` up to ``as_of``, or the reason there is none."""
    try:
        return reconcile.hierarchy_panel(con, freq, settings, scope, end=as_of.isoformat(), start=start.isoformat() if start else None), ""
    except reconcile.HierarchyError as e:
        return None, str(e)


def _rep_names(con, ids: list[str]) -> dict[str, str]:
    """Names of the reps of these nodes (all inside the scope; nobody else's is read)."""
    reps = sorted({node_parts(u)["rep"] for u in ids if reconcile.node_level(u) == "rep"})
    if not reps:
        return {}
    rows = con.execute(
        "SELECT rep_id, arg_max(name, valid_from) FROM reps WHERE rep_id IN (SELECT unnest($ids)) GROUP BY rep_id",
        {"ids": reps},
    ).fetchall()
    return {str(k): str(v) for k, v in rows if v is not None}


def _product_names(con, ids) -> dict[str, str]:
    """Names of these products (from the products table, when it has them)."""
    ids = sorted({str(i) for i in ids})
    if not ids or not warehouse.table_exists(con, "products"):
        return {}
    rows = con.execute(
        "SELECT product_id, name FROM products WHERE product_id IN (SELECT unnest($ids)) AND name IS NOT NULL", {"ids": ids}
    ).fetchall()
    return {str(k): str(v) for k, v in rows}


def last_data_day(con) -> date:
    """The report's default as-of: the last day with sales in the ledger."""
    last = con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0]
    if last is None:
        raise ForecastReportError("the ledger is empty: load sales first (salesml ingest)")
    return last


def forecast_after(calendar: Steps, hf: HierarchyForecast) -> HierarchyForecast:
    """A hierarchy forecast made one step longer because the data ends inside a step (partial):
    that step's rows are left out, so the forecast starts after the last step with data, and
    the notes name it."""
    if calendar.partial is None:
        return hf
    return dataclasses.replace(hf, forecasts=without_partial(hf.forecasts, calendar), horizon=hf.horizon - 1, notes=(*hf.notes, calendar.note()))


def build(
    as_of: str = "",
    scope: str = "company",
    freq: str = "W",
    horizon: int = 0,
    models: str = "",
    workers: int = 0,
    config_path: str = "",
    warehouse: str = "",
    lang: str = "",
) -> ForecastReport:
    """Read the scope's data, forecast, reconcile, land and reorder: the report's figures.

    ``as_of``: last day of data used ("" = the last day with sales; a week or month it ends
    inside is partial: left out, named, and the forecast starts after it);
    ``freq``: D, W or M; ``horizon``: steps (0 = ``[forecast] horizon_<freq>``); ``models``:
    comma-separated candidates ("" = ``[forecast] models``); ``workers``: processes (0 =
    ``[forecast] workers``); ``lang``: en or zh ("" = ``[report] lang``)."""
    settings = report_settings(config_path, warehouse)
    settings = settings.with_overrides(forecast={"models": parse_models(models, settings.forecast.models)})
    try:
        check_forecast(settings.forecast, settings.inventory, "report parameters")
    except ConfigError as e:
        raise ForecastReportError(str(e)) from None
    sc = parse_scope(scope)
    freq = check_freq(freq)
    fs = settings.forecast
    steps = resolve_horizon(horizon, freq, fs)
    n_workers = int(workers) or None
    daily_fs = dataclasses.replace(fs, models=cheap_models(fs.models))
    messages: dict[str, str] = {}
    inputs = None
    products: dict[str, str] = {}

    with warehouse_connect(settings) as con:
        check_scope(con, sc)
        day = parse_day(as_of) if as_of else last_data_day(con)
        calendar = ledger_steps(con, freq, scope=sc, end=day.isoformat(), forecast=fs, settings=settings.performance)
        currency = perf.main_currency(con)
        days_left = landing.open_period("quarter", day).remaining_days
        daily_start = daily_history_start(day, days_left, daily_fs)
        main_panel, messages["forecast"] = _hierarchy(con, freq, settings, sc, day)
        daily_panel, messages["landing"] = _hierarchy(con, "D", settings, sc, day, daily_start)
        ids = main_panel[0]["unique_id"].unique().tolist() if main_panel else []
        ids += daily_panel[0]["unique_id"].unique().tolist() if daily_panel else []
        rep_names = _rep_names(con, ids)
        labels = node_labels(sorted(set(ids)), rep_names, settings.local_names.get("region", {}))
        if sc.level == "company":
            inputs, messages["reorder"] = reorder_inputs(con, settings, day)
            products = _product_names(con, inputs[0]["product_id"]) if inputs else {}
        else:
            messages["reorder"] = (
                "Inventory is kept for the whole company, not per region, team or rep: "
                "reorder alerts are in the company report."
            )

    candidates = candidates_for("auto", settings)  # Prophet with the promotion calendar, if any
    run = cached_runner(settings)  # the same forecasts computed before (another render) are read
    # honest backtests (the choice made before each window): the figures the report states
    main_windows: list[pd.DataFrame] = []
    product_windows: list[pd.DataFrame] = []
    main = forecast_after(calendar, forecast_hierarchy(*main_panel, steps + (calendar.partial is not None), freq, fs, n_workers, candidates,
                                                       honest=True, run=_keeping(run, main_windows))) if main_panel else None
    daily = forecast_hierarchy(*daily_panel, days_left, "D", daily_fs, n_workers, honest=True, run=run) if daily_panel else None
    if daily is not None and main is not None and main.freq in ALIGNED_FREQS and not daily.forecasts.empty:
        aligned, n = align_daily(daily.forecasts, main.forecasts, main.freq)
        note = f"{n} node-{STEP_NAMES[main.freq]}(s) of the daily forecast scaled to the {STEP_NAMES[main.freq]}ly forecast"
        daily = dataclasses.replace(daily, forecasts=aligned, notes=(*daily.notes, note))
    reorder = forecast_reorder(*inputs, settings, n_workers, honest=True, run=_keeping(run, product_windows)) if inputs else None
    landings: dict[str, pd.DataFrame] = {}
    if daily is not None and not daily.forecasts.empty:
        with warehouse_connect(settings) as con:
            for kind in landing.PERIOD_KINDS:
                landings[kind] = landing.landing_for_period(con, daily.forecasts, kind, day, settings, sc)
    elif daily is not None:
        messages["landing"] = "; ".join(daily.notes) or "no daily forecast"
    level, ws = fs.level, settings.warnings
    outside = FC.outside_interval(pd.concat(main_windows, ignore_index=True) if main_windows else None,
                                  main.history if main is not None else pd.DataFrame(), level, ws.fc_outside_steps)
    product_outside = None
    if reorder is not None:
        demand = inputs[1][inputs[1]["unique_id"].isin(set(reorder.statuses["unique_id"]))]
        product_outside = FC.outside_interval(pd.concat(product_windows, ignore_index=True) if product_windows else None, demand, level,
                                              ws.fc_outside_product_days)
    L = Lang(lang or settings.report.lang, currency, settings.report.zh_wan_units)
    return ForecastReport(
        settings, sc, day, freq, steps, currency, labels, main, daily, daily_start, landings, reorder,
        {k: v for k, v in messages.items() if v}, products, rep_names, outside, product_outside, L,
    )


# --------------------------------------------------------------------------- figures


def top_landing(data: ForecastReport, kind: str) -> dict:
    """The landing row of the scope's own node(s) for ``kind`` (month / quarter), or ``{}``."""
    table = data.landings.get(kind)
    if table is None or table.empty:
        return {}
    rows = table[table["level"] == data.scope.level]
    return combine_landing(rows, data.settings.forecast.level) if len(rows) else {}


def forecast_total(data: ForecastReport) -> float | None:
    """Σ of the reconciled forecast of the scope's own node(s) over the horizon."""
    if data.main is None or data.main.forecasts.empty:
        return None
    f = data.main.forecasts
    return float(f.loc[f["unique_id"].isin(data.top), "yhat"].sum())


def recorded_figures(data: ForecastReport) -> dict:
    """What the report records for tests and schedulers (read back from the executed notebook)."""
    out: dict = {
        "as_of": data.as_of.isoformat(),
        "scope": str(data.scope),
        "freq": data.freq,
        "horizon": data.horizon,
        "models": list(data.settings.forecast.models),
        "forecast_total": forecast_total(data),
    }
    if data.main is not None:
        summary = backtest_summary(data.main.errors, data.main.statuses)
        _, beats, a, b = verdict(summary)
        f = data.main.forecasts
        out.update(
            reconcile=data.main.method,
            forecast_start=f["ds"].min().date().isoformat() if len(f) else None,
            forecast_end=f["ds"].max().date().isoformat() if len(f) else None,
            series=len(data.main.statuses),
            statuses=status_counts(data.main.statuses),
            mase_auto=a,
            mase_seasonal_naive=b,
            auto_beats_seasonal_naive=beats,
        )
    for kind in landing.PERIOD_KINDS:
        row = top_landing(data, kind)
        out[f"{kind}_period"] = row.get("period")
        out[f"{kind}_landing"] = row.get("landing")
        out[f"{kind}_target"] = row.get("target")
        out[f"{kind}_p_reach_target"] = row.get("p_reach_target")
    if data.reorder is not None:
        out["products_checked"] = int(data.reorder.table["product_id"].nunique())
        out["reorder_rows"] = len(data.reorder.table)
        out["reorder_alerts"] = len(data.reorder.alerts)
    else:
        out["reorder_alerts"] = None
    return {k: (float(v) if isinstance(v, np.floating) else v) for k, v in out.items()}


# --------------------------------------------------------------------------- display helpers


def _money(data: ForecastReport, v) -> str:
    return H.fmt_money(v, H.currency_symbol(data.currency))


def _steps(n: int, freq: str) -> str:
    return f"{n} {STEP_NAMES[freq]}{'s' if n != 1 else ''}"


def _who(data: ForecastReport) -> str:
    sc = data.scope
    if sc.level == "company":
        return "Whole company"
    if sc.level == "region":
        return f"Region {region_label(sc.value, data.settings.local_names.get('region', {}))}"
    if sc.level == "team":
        return f"Team {sc.value}"
    return f"Rep {sc.value} {data.rep_names.get(sc.value, '')}".strip()


def _prob(v) -> str:
    return "–" if v is None or pd.isna(v) else H.fmt_pct(float(v) * 100)


def _layout(fig, title: str, height: int, data: ForecastReport) -> None:
    fig.update_layout(
        title=title, height=height, template="plotly_white", margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", y=-0.15), yaxis_title=data.currency or "amount",
    )


def _series(data: ForecastReport, ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(actuals ``ds, y`` since ``trend_months`` before as_of, forecast ``ds, yhat, lo, hi``)
    of the sum of nodes ``ids``."""
    run = data.main
    since = pd.Timestamp(data.as_of) - pd.DateOffset(months=data.settings.report.trend_months)
    h = run.history[run.history["unique_id"].isin(ids)]
    actual = h.groupby("ds", as_index=False)["y"].sum()
    actual = actual[actual["ds"] > since]
    return actual, combine_nodes(run.forecasts, ids, data.settings.forecast.level)


def _traces(fig, actual: pd.DataFrame, fc: pd.DataFrame, level: int, legend: bool, **where) -> None:
    band_x = list(fc["ds"]) + list(fc["ds"][::-1])
    band_y = list(fc["hi"]) + list(fc["lo"][::-1])
    fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=BAND, line=dict(width=0), hoverinfo="skip",
                             name=f"{level}% interval", showlegend=legend, legendgroup="band"), **where)
    fig.add_trace(go.Scatter(x=actual["ds"], y=actual["y"], mode="lines", line=dict(color=ACTUAL), name="actual",
                             showlegend=legend, legendgroup="actual"), **where)
    fig.add_trace(go.Scatter(x=fc["ds"], y=fc["yhat"], mode="lines", line=dict(color=FORECAST), name="forecast (reconciled)",
                             showlegend=legend, legendgroup="forecast"), **where)


# --------------------------------------------------------------------------- sections


def title(data: ForecastReport) -> H.Block:
    """The page's title and what it covers."""
    return H.style() + H.heading(f"Sales forecast as of {data.as_of}", 1) + H.note(
        f"{_who(data)}. Net revenue{' in ' + data.currency if data.currency else ''} of the sales made each "
        f"{STEP_NAMES[data.freq]} (returns netted on the date of the sale), up to {data.as_of}; "
        f"forecast {_steps(data.horizon, data.freq)} ahead with {data.settings.forecast.level}% intervals."
    )


def headline(data: ForecastReport) -> H.Block:
    """Next horizon's total for the scope, the backtest verdict, the landings; records the figures."""
    figures = recorded_figures(data)
    record = H.figures(figures)
    if data.main is None or data.main.forecasts.empty:
        why = data.messages.get("forecast") or "; ".join(data.main.notes if data.main else ())
        return H.note(f"No forecast for {data.scope}: {why}.") + record
    sentence, beats, _, _ = verdict(backtest_summary(data.main.errors, data.main.statuses))
    actual, fc = _series(data, data.top)
    last_year = data.main.history[data.main.history["unique_id"].isin(data.top)].groupby("ds")["y"].sum()
    before = last_year.reindex(year_earlier(fc["ds"], data.freq))
    before_total = float(before.sum()) if before.notna().all() else np.nan
    change = (figures["forecast_total"] / before_total - 1) * 100 if before_total else np.nan
    cards = [
        {
            "label": f"Forecast, next {_steps(data.horizon, data.freq)}",
            "value": _money(data, figures["forecast_total"]),
            "sub": f"{figures['forecast_start']} to {figures['forecast_end']}; "
            + (f"{H.fmt_pct(change, True)} on a year earlier" if pd.notna(change) else "no year-earlier actuals"),
            "trend": None if pd.isna(change) else change,
        },
        {
            "label": "Backtest MASE (auto)",
            "value": "–" if pd.isna(figures["mase_auto"]) else f"{figures['mase_auto']:.3f}",
            "sub": "seasonal naive " + ("–" if pd.isna(figures["mase_seasonal_naive"]) else f"{figures['mase_seasonal_naive']:.3f}"),
            "trend": None if beats is None else (1 if beats else -1),
        },
    ]
    for kind in landing.PERIOD_KINDS:
        if figures[f"{kind}_period"]:
            cards.append(
                {
                    "label": f"Landing {figures[f'{kind}_period']}",
                    "value": _money(data, figures[f"{kind}_landing"]),
                    "sub": f"P(reach target) {_prob(figures[f'{kind}_p_reach_target'])}, target {_money(data, figures[f'{kind}_target'])}",
                }
            )
    if figures["reorder_alerts"] is not None:
        cards.append({"label": "Reorder alerts", "value": H.fmt_int(figures["reorder_alerts"]),
                      "sub": f"of {H.fmt_int(figures['reorder_rows'])} product × warehouse rows"})
    over = f" (mean over {figures['series']} series and the backtest windows)" if beats is not None else ""
    return H.cards(cards) + H.note(f"{sentence[0].upper()}{sentence[1:]}{over}.") + record


def forecast_vs_actuals(data: ForecastReport) -> H.Block:
    """The scope's top node and the level below: actuals, reconciled forecast and interval."""
    level = data.settings.forecast.level
    head = H.heading(
        "Forecast vs actuals", 2,
        f"Each node's own forecast, reconciled with {data.main.method if data.main else data.settings.forecast.reconcile} "
        "so that the children add up to the parent; the shaded band is the node's own "
        f"{level}% interval moved with the reconciliation.",
    )
    if data.main is None or data.main.forecasts.empty:
        return head + H.note(data.messages.get("forecast") or "No forecast: " + "; ".join(data.main.notes if data.main else ()))
    notes = H.note("; ".join(data.main.notes) + ".") if data.main.notes else H.note("")
    actual, fc = _series(data, data.top)
    fig = go.Figure()
    _traces(fig, actual, fc, level, True)
    own = data.main.forecasts[data.main.forecasts["unique_id"].isin(data.top)].groupby("ds", as_index=False)["yhat_base"].sum()
    fig.add_trace(go.Scatter(x=own["ds"], y=own["yhat_base"], mode="lines", line=dict(color=FORECAST, dash="dot"),
                             name="own forecast (before reconciliation)"))
    name = H.esc(_who(data))
    _layout(fig, f"{name}: actual and forecast per {STEP_NAMES[data.freq]}", 420, data)
    block = head + notes + H.chart(fig)
    if len(data.top) > 1:
        block += H.note("Several team stints of the rep: the interval of their sum takes their errors as independent.")
    children = data.children
    if children:
        block += _children_chart(data, children)
    return block + _forecast_table(data, data.top + [c for c in children if c not in data.top])


def _children_chart(data: ForecastReport, children: list[str]) -> H.Block:
    totals = data.main.forecasts.groupby("unique_id")["yhat"].sum()
    shown = sorted(children, key=lambda u: (-totals.get(u, 0.0), u))[: data.settings.report.top_n]
    rows = ceil(len(shown) / CHART_COLUMNS)
    fig = make_subplots(rows=rows, cols=CHART_COLUMNS, subplot_titles=[H.esc(data.labels.get(u, u)) for u in shown],
                        vertical_spacing=min(0.08, 0.5 / max(rows, 1)), horizontal_spacing=0.06)
    for i, uid in enumerate(shown):
        actual, fc = _series(data, [uid])
        _traces(fig, actual, fc, data.settings.forecast.level, i == 0, row=i // CHART_COLUMNS + 1, col=i % CHART_COLUMNS + 1)
    level_name = reconcile.node_level(shown[0]) if shown else ""
    _layout(fig, f"By {level_name}" + (f" (the {len(shown)} largest of {len(children)})" if len(shown) < len(children) else ""),
            max(320, 240 * rows), data)
    fig.update_layout(yaxis_title=None)
    return H.chart(fig)


def _forecast_table(data: ForecastReport, ids: list[str]) -> H.Block:
    run = data.main
    f = run.forecasts[run.forecasts["unique_id"].isin(ids)]
    dates = np.sort(f["ds"].unique())
    h = run.history.set_index(["unique_id", "ds"])["y"]
    st = run.statuses.set_index("unique_id")
    rows = []
    for uid in ids:
        g = f[f["unique_id"] == uid]
        before = h.reindex(pd.MultiIndex.from_product([[uid], year_earlier(dates, data.freq)]))
        total = float(g["yhat"].sum())
        prev = float(before.sum()) if before.notna().all() else np.nan
        rows.append(
            {
                "level": reconcile.node_level(uid),
                "node": data.labels.get(uid, uid),
                "status": st["status"].get(uid),
                "model": st["model"].get(uid),
                "forecast": total,
                "base_forecast": float(g["yhat_base"].sum()),
                "year_earlier": prev,
                "change_pct": (total / prev - 1) * 100 if prev else np.nan,
            }
        )
    return H.table(
        pd.DataFrame(rows),
        formats={"forecast": H.fmt_exact_money, "base_forecast": H.fmt_exact_money, "year_earlier": H.fmt_exact_money,
                 "change_pct": lambda v: H.fmt_pct(v, True)},
        labels={"forecast": f"forecast, next {_steps(data.horizon, data.freq)}", "base_forecast": "before reconciliation",
                "year_earlier": "actual a year earlier", "change_pct": "change"},
    )


def backtest(data: ForecastReport) -> H.Block:
    """Per-model backtest errors (``auto`` next to seasonal naive) and every series' status."""
    fs = data.settings.forecast
    head = H.heading(
        "Backtest", 2,
        f"Rolling-origin backtest of each node's own (base) forecast: {fs.windows} windows of "
        f"{_steps(data.horizon, data.freq)}. On each window 'auto' is the model chosen with the data before it only, "
        "then scored on it (out of sample), next to each candidate and seasonal naive on the same windows; MASE below "
        "1 beats a naive forecast in sample. Reconciliation is not backtested.",
    )
    if data.main is None:
        return head + H.note(data.messages.get("forecast", "No forecast."))
    summary = backtest_summary(data.main.errors, data.main.statuses)
    sentence, _, _, _ = verdict(summary)
    table = H.table(
        summary,
        formats={"mase": lambda v: "–" if pd.isna(v) else f"{v:.3f}", "smape": H.fmt_pct, "wape": H.fmt_pct,
                 "bias": lambda v: H.fmt_pct(v, True), "coverage_80": H.fmt_pct, "series": H.fmt_int},
        labels={"mase": "MASE", "smape": "sMAPE", "wape": "WAPE", "coverage_80": f"{fs.level}% coverage"},
    )
    st = data.main.statuses.assign(
        level=lambda d: d["unique_id"].map(reconcile.node_level),
        node=lambda d: d["unique_id"].map(lambda u: data.labels.get(u, u)),
    )
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    lv = {lv: i for i, lv in enumerate(reconcile.LEVELS)}
    st = st.assign(_s=st["status"].map(order), _l=st["level"].map(lv)).sort_values(["_s", "_l", "node"])
    counts = ", ".join(f"{n} {s}" for s, n in status_counts(data.main.statuses).items())
    scope_note = H.note(
        "'series' counts the series each row scores: a single model that was a candidate for some series only "
        "(Croston and TSB for intermittent ones), or failed on some, is not comparable with the auto row."
    )
    return head + H.note(f"{sentence[0].upper()}{sentence[1:]}.") + table + scope_note + _reconciliation_block(data) + H.heading("Series", 3, f"{counts}.") + H.table(
        st[["level", "node", "status", "model", "mase", "mase_seasonal_naive", "n_obs", "reason"]],
        formats={"mase": lambda v: "–" if pd.isna(v) else f"{v:.3f}",
                 "mase_seasonal_naive": lambda v: "–" if pd.isna(v) else f"{v:.3f}", "n_obs": H.fmt_int},
        labels={"mase": "MASE", "mase_seasonal_naive": "MASE seasonal naive", "n_obs": "steps"},
    )


def _reconciliation_block(data: ForecastReport) -> H.Block:
    errors = data.main.reconciliation_errors if data.main is not None else None
    if errors is None or errors.empty:
        return H.note("")
    table = reconciliation_summary(errors)
    best = table.idxmin(axis=1)
    used = data.main.method
    head = H.heading(
        "Reconciliation backtest", 3,
        f"The same windows: every node's base forecast (made before the window) as it was ('base') and reconciled by "
        f"each method with the data before the window; mean MASE per level. This report reconciles with {used}; "
        f"the best per level was: " + ", ".join(f"{lv} {m}" for lv, m in best.items()) + ".",
    )
    return head + H.table(table.reset_index(), formats={c: (lambda v: "–" if pd.isna(v) else f"{v:.3f}") for c in table.columns})


def landing_block(data: ForecastReport) -> H.Block:
    """The open month's and quarter's landing per node, with P(reach target)."""
    fs = data.settings.forecast
    daily = data.daily
    aligned = data.freq in ALIGNED_FREQS
    how = (
        "Landing = actual to date + the reconciled daily forecast of the remaining days, days summed as independent; "
        f"P(reach target) from a normal with that spread. Daily models: {', '.join(daily.models) if daily else '–'}, "
        f"learning from {data.daily_start} to {data.as_of}; they follow the weekly pattern only"
        + (
            f", so every whole {STEP_NAMES[data.freq]} that the forecast above covers is scaled to it "
            f"(which carries the yearly peaks); the daily models spread each {STEP_NAMES[data.freq]} over its days."
            if aligned else "."
        )
    )
    head = H.heading("Landing", 2, how)
    if not data.landings:
        return head + H.note(f"No landing: {data.messages.get('landing', 'no daily forecast')}.")
    block = head
    if daily is not None:
        sentence, _, _, _ = verdict(backtest_summary(daily.errors, daily.statuses))
        extra = "; ".join(daily.notes)
        block += H.note(f"Daily backtest: {sentence}." + (f" {extra}." if extra else ""))
    for kind in landing.PERIOD_KINDS:
        block += _landing_period(data, kind, fs.level)
    return block


def _landing_period(data: ForecastReport, kind: str, level: int) -> H.Block:
    table = data.landings[kind]
    top = top_landing(data, kind)
    period = top.get("period") or (table["period"].iloc[0] if len(table) else "")
    head = H.heading(f"{kind.title()} {period}", 3)
    if not top:
        return head + H.note("No landing for this scope.")
    cards = H.cards(
        [
            {"label": "Actual to date", "value": _money(data, top["actual_to_date"]), "sub": f"up to {data.as_of}"},
            {"label": "Expected landing", "value": _money(data, top["landing"]),
             "sub": f"{level}%: {_money(data, top.get('lo'))} to {_money(data, top.get('hi'))}" if "lo" in top else ""},
            {"label": "Target", "value": _money(data, top["target"]),
             "sub": "gap " + _money(data, top["gap_to_target"]) if pd.notna(top["target"]) else "no target"},
            {"label": "P(reach target)", "value": _prob(top["p_reach_target"]),
             "trend": None if pd.isna(top["p_reach_target"]) else top["p_reach_target"] - 0.5},
        ]
    )
    block = head + cards
    if top.get("note"):
        block += H.note(str(top["note"]))
    ids = data.top + [c for c in data.children if c not in data.top]
    rows = table[table["unique_id"].isin(ids)]
    if len(rows) > 1:
        block += _landing_chart(data, rows, kind)
    shown = rows.assign(node=rows["unique_id"].map(lambda u: data.labels.get(u, u)))
    block += _landing_table(shown)
    deeper = table[~table["unique_id"].isin(ids) & table["p_reach_target"].notna()]
    if len(deeper):
        n = data.settings.report.top_n
        risk = deeper.sort_values(["p_reach_target", "unique_id"]).head(n)
        block += H.heading("Least likely to reach target", 4, f"The {len(risk)} nodes below with the lowest probability.")
        block += _landing_table(risk.assign(node=risk["unique_id"].map(lambda u: data.labels.get(u, u))))
    return block


def _landing_table(rows: pd.DataFrame) -> H.Block:
    money = H.fmt_exact_money
    return H.table(
        rows[["level", "node", "actual_to_date", "forecast_rest", "landing", "lo", "hi", "target", "gap_to_target", "p_reach_target", "note"]],
        formats={"actual_to_date": money, "forecast_rest": money, "landing": money, "lo": money, "hi": money,
                 "target": money, "gap_to_target": money, "p_reach_target": _prob},
        labels={"actual_to_date": "actual to date", "forecast_rest": "forecast rest", "gap_to_target": "gap to target",
                "p_reach_target": "P(reach target)"},
    )


def _landing_chart(data: ForecastReport, rows: pd.DataFrame, kind: str) -> H.Block:
    labels = [H.esc(data.labels.get(u, u)) for u in rows["unique_id"]]
    fig = go.Figure(
        go.Bar(
            y=labels, x=rows["landing"], orientation="h", marker_color=FORECAST, name="expected landing",
            error_x=dict(type="data", symmetric=False, array=(rows["hi"] - rows["landing"]).fillna(0),
                         arrayminus=(rows["landing"] - rows["lo"]).fillna(0), color=ACTUAL),
            customdata=rows["p_reach_target"].fillna(-1) * 100,
            hovertemplate="%{y}: %{x:,.0f}<br>P(reach target) %{customdata:.0f}%<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(y=labels, x=rows["target"], mode="markers", name="target",
                             marker=dict(symbol="line-ns-open", size=18, line=dict(width=3, color=TARGET))))
    _layout(fig, f"Expected landing of the {kind} with the {data.settings.forecast.level}% interval, and the target",
            max(300, 34 * len(rows) + 140), data)
    fig.update_layout(yaxis=dict(autorange="reversed", title=None), xaxis_title=data.currency or "amount")
    return H.chart(fig)


def reorder_alerts(data: ForecastReport) -> H.Block:
    """Products whose stock position is below the reorder point (company scope)."""
    inv = data.settings.inventory
    head = H.heading(
        "Reorder alerts", 2,
        f"Reorder point = forecast demand over the lead time + safety stock at a {inv.service_level:.0%} service level; "
        "an alert when on hand + on order is below it. A product's demand is split equally among the warehouses holding it.",
    )
    if data.reorder is None:
        return head + H.note(data.messages.get("reorder", "no inventory loaded: reorder alerts skipped"))
    r = data.reorder
    alerts = r.alerts
    sentence, _, _, _ = verdict(backtest_summary(r.errors, r.statuses))
    n = data.settings.report.top_n
    block = head + H.cards(
        [
            {"label": "Alerts", "value": H.fmt_int(len(alerts)), "sub": f"of {H.fmt_int(len(r.table))} product × warehouse rows"},
            {"label": "Products checked", "value": H.fmt_int(r.table["product_id"].nunique()),
             "sub": f"daily demand forecast {_steps(r.horizon, 'D')} ahead"},
        ]
    ) + H.note(f"Demand in units, models {', '.join(r.models)}; {sentence}.")
    if alerts.empty:
        return block + H.note("No product is below its reorder point.")
    shown = alerts.head(n).assign(
        snapshot_date=lambda d: d["snapshot_date"].dt.strftime("%Y-%m-%d"),
        name=lambda d: d["product_id"].map(data.product_names),
    )
    qty = lambda v: "–" if pd.isna(v) else f"{float(v):,.0f}"  # noqa: E731
    return block + H.table(
        shown[["product_id", "name", "warehouse", "snapshot_date", "on_hand", "on_order", "lead_time_days", "demand_lead_time",
               "safety_stock", "reorder_point", "shortfall", "days_of_cover", "note"]],
        formats={"on_hand": qty, "on_order": qty, "lead_time_days": H.fmt_int, "demand_lead_time": qty, "safety_stock": qty,
                 "reorder_point": qty, "shortfall": qty,
                 "days_of_cover": lambda v: "–" if pd.isna(v) else ("∞" if np.isinf(v) else f"{v:,.1f}")},
        labels={"product_id": "product", "snapshot_date": "snapshot", "on_hand": "on hand", "on_order": "on order",
                "lead_time_days": "lead time (days)", "demand_lead_time": "demand over lead time",
                "safety_stock": "safety stock", "reorder_point": "reorder point", "days_of_cover": "days of cover"},
    ) + (H.note(f"The {n} largest shortfalls of {len(alerts)}.") if len(alerts) > n else H.note(""))


#: the reconciliation methods in plain words (the report names the one it used)
RECONCILE_WORDS = {
    "bottom_up": "bottom-up: the reps' forecasts are added up into their teams, regions and the company",
    "mint_shrink": "MinT (shrinkage): every node is forecast on its own, then all are adjusted together so that they "
                   "add up, moving the noisier series most (minimum-trace reconciliation with a shrunk error covariance)",
    "mint_ols": "MinT (OLS): every node is forecast on its own, then all are adjusted together, equally, so that they add up",
}
#: MASE in plain words
MASE_WORDS = ("MASE (mean absolute scaled error): a forecast's average miss divided by the average miss, within the "
              "history, of repeating the same step one season earlier; below 1 beats that seasonal naive forecast, "
              "0.8 = misses a fifth smaller.")


def notes(data: ForecastReport) -> H.Block:
    """How the figures are made."""
    fs = data.settings.forecast
    method = data.main.method if data.main is not None else fs.reconcile
    return H.heading("How these figures are made", 3) + H.note(MASE_WORDS) + H.note(
        "Reconciliation: " + RECONCILE_WORDS.get(method, method) + ".") + H.note(
        f"Series: net revenue per node of the sales hierarchy (rep within team within region, as credited on the date "
        f"of each sale), up to {data.as_of}; a {STEP_NAMES[data.freq]} the data ends inside is partial: left out and "
        "not forecast (the forecast starts after it). Each series gets the "
        f"candidate ({', '.join(fs.models)}) with the lowest mean MASE over {fs.windows} rolling-origin windows"
        f"{'; Prophet learns the promotion calendar' if fs.promotions and 'prophet' in fs.models else ''}; short, "
        "constant or empty series fall back to seasonal naive / naive or are skipped, with the reason. Forecasts are "
        f"reconciled ({method}) so that every level adds up, and are never negative. Intervals are "
        f"{fs.level}% and not additive. Generated by salesml from {data.settings.warehouse_path.name}."
    )
