"""The sales forecast report: what ``notebooks/sales_forecast.ipynb`` shows.

Sections: the summary (:func:`summary`: three to six sentences written from the figures
below, each linked to its section, and up to five actions), the early warnings
(:func:`early_warnings`: the latest complete step of each node, and the latest days of each
product's demand, outside the honest backtest's interval for them; products below their
reorder point with their days of cover; what is not checked and why; computed by
:mod:`salesml.insights.forecast_checks` from what the report already holds, no extra fit), the
headline (next horizon's forecast for the scope and whether the automatic choice beats
seasonal naive), forecasts against actuals with their intervals for the scope's top node and
the level below it, the backtest table, the landing of the open month and quarter with the
probability of reaching target, reorder alerts, and how it is made. Every label, sentence and
number is in the page's language (``lang``: en or zh, :class:`salesml.reports.lang.Lang`);
notes that lower layers write in English are translated by pattern (:func:`note_text`).

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
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from math import ceil

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.compute_engines import engine_for
from salesml.config import (
    FORECAST_MODELS,
    ConfigError,
    ForecastSettings,
    Settings,
    check_forecast,
    notebook_settings,
)
from salesml.customers.rfm import SegmentError, parse_as_of
from salesml.errors import SalesmlError
from salesml.forecast import auto, landing, reconcile
from salesml.forecast.auto import cheap_models
from salesml.forecast.inventory import Reorder, forecast_reorder, reorder_inputs
from salesml.forecast.panels import FREQS, Steps, ledger_steps, without_partial
from salesml.forecast.reconcile import HierarchyForecast, forecast_hierarchy, rep_names
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
from salesml.reports import summary as S
from salesml.reports.lang import LANGS, TEXT, Lang, add_columns, add_text
from salesml.reports.performance import warehouse_connect
from salesml.reports.summary import Sentence
from salesml.scope import Scope, check_scope, parse_scope

#: small multiples per row in the children's chart
CHART_COLUMNS = 3
#: report frequencies whose forecasts the daily landing forecasts are aligned with
ALIGNED_FREQS = ("W", "M")
#: what one step of each frequency is called
STEP_NAMES = {"D": "day", "W": "week", "M": "month"}
#: chart colours (one per measure, as in every report)
ACTUAL, FORECAST, BAND, TARGET = H.COLORS["revenue"], H.COLORS["forecast"], "rgba(130,80,223,0.18)", H.COLORS["target"]
#: a count of actuals outside their interval less likely than this for a right interval says the intervals are too narrow
NARROW_P = 0.01


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
    ``[forecast] workers``; with ``[compute] engine`` dask or spark the fits run on that
    cluster); ``lang``: en or zh ("" = ``[report] lang``)."""
    settings = notebook_settings(config_path, warehouse)
    settings = settings.with_overrides(forecast={"models": parse_models(models, settings.forecast.models)})
    try:
        check_forecast(settings.forecast, settings.inventory, "report parameters")
    except ConfigError as e:
        raise ForecastReportError(str(e)) from None
    if lang and lang not in LANGS:
        raise ForecastReportError(f"lang must be one of {', '.join(LANGS)}, got {lang!r}")
    if settings.warnings.fc_outside_steps < 1 or settings.warnings.fc_outside_product_days < 1:
        raise ForecastReportError("[warnings] fc_outside_steps and fc_outside_product_days must be 1 or more")
    sc = parse_scope(scope)
    freq = check_freq(freq)
    fs = settings.forecast
    steps = resolve_horizon(horizon, freq, fs)
    # where the per-series fits run: the local pool, or the cluster of [compute] engine
    n_workers = engine_for(settings, int(workers) or None)
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


# --------------------------------------------------------------------------- words

add_text(
    {
        # steps and periods
        "fc_step_D": ("day", "天"),
        "fc_step_W": ("week", "周"),
        "fc_step_M": ("month", "月"),
        "fc_steps_D": ("{n} days", "{n} 天"),
        "fc_steps_D_one": ("{n} day", "{n} 天"),
        "fc_steps_W": ("{n} weeks", "{n} 周"),
        "fc_steps_W_one": ("{n} week", "{n} 周"),
        "fc_steps_M": ("{n} months", "{n} 个月"),
        "fc_steps_M_one": ("{n} month", "{n} 个月"),
        "fc_week_to": ("the week to {end}", "截至 {end} 的一周"),
        "fc_day_of": ("{day}", "{day}"),
        "fc_span_to": ("the {steps} to {end}", "截至 {end} 的 {steps}"),
        "fc_quarter": ("{year}-Q{q}", "{year}年第{q}季度"),
        "fc_month_heading": ("Month {period}", "{period}"),
        "fc_quarter_heading": ("Quarter {period}", "{period}"),
        "fc_level_company": ("company", "公司"),
        "fc_level_all": ("all", "全部"),
        "fc_status_fitted": ("fitted", "已拟合"),
        "fc_status_fallback": ("fallback", "退回基准"),
        "fc_status_skipped": ("skipped", "跳过"),
        "fc_units": ("{n} units", "{n} 件"),
        "fc_units_one": ("{n} unit", "{n} 件"),
        "fc_below": ("below", "低于"),
        "fc_above": ("above", "高于"),
        # title and cards
        "fc_title": ("Sales forecast as of {date}", "销售预测（截至 {date}）"),
        "fc_title_note": (
            "{who}. Net revenue{currency} of the sales made each {step} (returns netted on the date of the sale), up to {date}; "
            "forecast {steps} ahead with {level}% intervals.",
            "{who}。每{step}销售的净收入{currency}（退货冲减在原销售日期），截至 {date}；向后预测 {steps}，附 {level}% 区间。",
        ),
        "fc_in_currency": (" in {code}", "（{code}）"),
        "fc_card_forecast": ("Forecast, next {steps}", "未来 {steps}预测"),
        "fc_card_forecast_sub": ("{start} to {end}; {change} on a year earlier", "{start} 至 {end}；较上年同期 {change}"),
        "fc_card_forecast_no_ly": ("{start} to {end}; no year-earlier actuals", "{start} 至 {end}；无上年同期实际"),
        "fc_card_mase": ("Backtest MASE (auto)", "回测 MASE（自动选择）"),
        "fc_card_mase_sub": ("seasonal naive {value}", "季节性朴素 {value}"),
        "fc_card_landing": ("Landing {period}", "{period}预计"),
        "fc_card_landing_sub": ("P(reach target) {p}, target {target}", "达成概率 {p}，目标 {target}"),
        "fc_card_landing_no_target": ("no target", "无目标"),
        "fc_card_alerts": ("Reorder alerts", "补货预警"),
        "fc_card_alerts_sub": ("of {n} product × warehouse rows", "共 {n} 个产品×仓库"),
        "fc_no_forecast": ("No forecast for {scope}: {why}.", "{scope} 没有预测：{why}。"),
        "fc_verdict_beats": ("auto beats seasonal naive: MASE {a} vs {b}", "自动选择优于季节性朴素：MASE {a} 对 {b}"),
        "fc_verdict_not": ("auto does not beat seasonal naive: MASE {a} vs {b}", "自动选择未优于季节性朴素：MASE {a} 对 {b}"),
        "fc_verdict_none": (
            "no backtest could compare the automatic choice with seasonal naive (series too short)",
            "回测无法比较自动选择与季节性朴素（序列太短）",
        ),
        "fc_verdict_over": ("{verdict} (mean over {n} series and the backtest windows).", "{verdict}（{n} 个序列和各回测窗口的平均）。"),
        # forecast vs actuals
        "fc_vs_actuals": ("Forecast vs actuals", "预测与实际"),
        "fc_vs_actuals_note": (
            "Each node's own forecast, reconciled with {method} so that the children add up to the parent; the shaded band is "
            "the node's own {level}% interval moved with the reconciliation.",
            "每个节点先各自预测，再用{method}调和，使下级之和等于上级；阴影为该节点自身的 {level}% 区间，随调和平移。",
        ),
        "fc_chart_top": ("{who}: actual and forecast per {step}", "{who}：每{step}实际与预测"),
        "fc_chart_by": ("By {level}", "按{level}"),
        "fc_chart_by_top": ("By {level} (the {shown} largest of {total})", "按{level}（{total} 个中最大的 {shown} 个）"),
        "fc_interval": ("{level}% interval", "{level}% 区间"),
        "fc_actual": ("actual", "实际"),
        "fc_forecast_reconciled": ("forecast (reconciled)", "预测（调和后）"),
        "fc_own_forecast": ("own forecast (before reconciliation)", "自身预测（调和前）"),
        "fc_stints": (
            "Several team stints of the rep: the interval of their sum takes their errors as independent.",
            "该销售代表曾在多个团队：合计的区间按各段误差相互独立计算。",
        ),
        "fc_forecast_table": ("Forecast by node, next {steps}", "各节点未来 {steps}预测"),
        # backtest
        "fc_backtest": ("Backtest", "回测"),
        "fc_backtest_note": (
            "Rolling-origin backtest of each node's own (base) forecast: {windows} windows of {steps}. On each window 'auto' is the "
            "model chosen with the data before it only, then scored on it (out of sample), next to each candidate and seasonal "
            "naive on the same windows; MASE below 1 beats a naive forecast in sample. Reconciliation is not backtested here.",
            "对每个节点自身（基础）预测做滚动起点回测：{windows} 个窗口，每个 {steps}。每个窗口中，“自动选择”只用窗口之前的数据选模型，"
            "再在窗口上评分（样本外），并与各候选模型和季节性朴素在同一窗口上比较；MASE 低于 1 表示优于样本内的朴素预测。此处不回测调和。",
        ),
        "fc_series_note": (
            "'Series' counts the series each row scores: a single model that was a candidate for some series only (Croston and TSB "
            "for intermittent ones), or failed on some, is not comparable with the auto row.",
            "“序列数”是每行评分的序列数：只对部分序列参选（Croston 和 TSB 只用于间歇序列）或在部分序列上失败的模型，不能与自动选择行直接比较。",
        ),
        "fc_series": ("Series", "序列"),
        "fc_series_counts": ("{counts}.", "{counts}。"),
        "fc_reconciliation": ("Reconciliation backtest", "调和回测"),
        "fc_reconciliation_note": (
            "The same windows: every node's base forecast (made before the window) as it was ('base') and reconciled by each method "
            "with the data before the window; mean MASE per level. This report reconciles with {used}; the best per level was: {best}.",
            "同样的窗口：每个节点的基础预测（窗口前做出）原样（“基础”）及用各方法以窗口前数据调和后的结果；按层级的平均 MASE。"
            "本报告用{used}调和；各层级最好的是：{best}。",
        ),
        # landing
        "fc_landing": ("Landing", "月度与季度预计"),
        "fc_landing_note": (
            "Landing = actual to date + the reconciled daily forecast of the remaining days, days summed as independent; "
            "P(reach target) from a normal with that spread. Daily models: {models}, learning from {start} to {end}; they follow the "
            "weekly pattern only{aligned}",
            "预计 = 截至今日的实际 + 剩余各天调和后的日预测（各天按独立相加）；达成概率按该离散度的正态分布计算。日模型：{models}，"
            "学习 {start} 至 {end} 的数据；日模型只刻画周内规律{aligned}",
        ),
        "fc_landing_aligned": (
            ", so every whole {step} that the forecast above covers is scaled to it (which carries the yearly peaks); the daily "
            "models spread each {step} over its days.",
            "，因此上方预测覆盖的每个完整{step}都按其缩放（年度高峰由此带入）；日模型只把每{step}分配到各天。",
        ),
        "fc_no_landing": ("No landing: {why}.", "没有预计：{why}。"),
        "fc_daily_backtest": ("Daily backtest: {verdict}.{extra}", "日预测回测：{verdict}。{extra}"),
        "fc_no_landing_scope": ("No landing for this scope.", "本范围没有预计。"),
        "fc_card_actual": ("Actual to date", "截至今日实际"),
        "fc_up_to": ("up to {date}", "截至 {date}"),
        "fc_card_expected": ("Expected landing", "预计收于"),
        "fc_card_interval": ("{level}%: {lo} to {hi}", "{level}%：{lo} 至 {hi}"),
        "fc_card_target": ("Target", "目标"),
        "fc_gap": ("gap {value}", "差距 {value}"),
        "fc_card_p": ("P(reach target)", "达成概率"),
        "fc_least_likely": ("Least likely to reach target", "最难达成目标"),
        "fc_least_likely_note": ("The {n} nodes below with the lowest probability.", "下级中概率最低的 {n} 个节点。"),
        "fc_landing_chart": (
            "Expected landing of the {period} with the {level}% interval, and the target",
            "{period}预计及 {level}% 区间，与目标",
        ),
        "fc_expected_landing": ("expected landing", "预计"),
        "fc_target": ("target", "目标"),
        "fc_month_word": ("month", "本月"),
        "fc_quarter_word": ("quarter", "本季"),
        # reorder
        "fc_reorder": ("Reorder alerts", "补货预警"),
        "fc_reorder_note": (
            "Reorder point = forecast demand over the lead time + safety stock at a {service} service level; an alert when on hand "
            "+ on order is below it. A product's demand is split equally among the warehouses holding it.",
            "补货点 = 补货周期内的预测需求 + {service} 服务水平下的安全库存；在库 + 在途低于补货点时预警。产品需求在持有它的仓库间平均分摊。",
        ),
        "fc_no_inventory": ("no inventory loaded: reorder alerts skipped", "未导入库存：不显示补货预警"),
        "fc_company_inventory": (
            "Inventory is kept for the whole company, not per region, team or rep: reorder alerts are in the company report.",
            "库存按全公司管理，不分区域、团队或销售代表：补货预警见全公司报告。",
        ),
        "fc_card_checked": ("Products checked", "检查的产品"),
        "fc_card_checked_sub": ("daily demand forecast {steps} ahead", "日需求预测 {steps}"),
        "fc_demand_note": ("Demand in units, models {models}; {verdict}.", "需求以件计，模型 {models}；{verdict}。"),
        "fc_no_alerts": ("No product is below its reorder point.", "没有产品低于补货点。"),
        "fc_snapshot_of": (" Inventory snapshot of {date}.", "库存盘点日 {date}。"),
        # notes
        "fc_notes_mase": (
            "MASE (mean absolute scaled error): a forecast's average miss divided by the average miss, within the history, of "
            "repeating the same step one season earlier; below 1 beats that seasonal naive forecast, 0.8 = misses a fifth smaller.",
            "MASE（平均绝对标度误差）：预测的平均误差除以历史内“重复上一季节同期”的平均误差；低于 1 即优于季节性朴素预测，0.8 表示误差小五分之一。",
        ),
        "fc_notes_reconcile": ("Reconciliation: {how}.", "调和：{how}。"),
        "fc_notes_series": (
            "Series: net revenue per node of the sales hierarchy (rep within team within region, as credited on the date of each "
            "sale), up to {date}; a {step} the data ends inside is partial: left out and not forecast (the forecast starts after "
            "it). {choose}; "
            "short, constant or empty series fall back to seasonal naive / naive or are skipped, with the reason. Forecasts are "
            "reconciled ({method}) so that every level adds up, and are never negative. Intervals are {level}% and not additive. "
            "Generated by salesml from {file}.",
            "序列：销售层级各节点的净收入（销售代表属于团队、团队属于区域，按每笔销售当日的归属），截至 {date}；数据结束于其中的{step}不完整："
            "不计入也不预测（预测从其后开始）。{choose}；"
            "过短、恒定或为空的序列退回季节性朴素/朴素或跳过，并注明原因。预测经调和（{method}）使各层级相加一致，且不为负。"
            "区间为 {level}%，不可相加。由 salesml 基于 {file} 生成。",
        ),
        "fc_notes_promo": ("; Prophet learns the promotion calendar", "；Prophet 学习促销日历"),
        "fc_choose_series": (
            "Each series gets the candidate ({models}) with the lowest mean MASE over {windows} rolling-origin windows{promo}",
            "每个序列从候选模型（{models}）中选 {windows} 个滚动窗口平均 MASE 最低者{promo}",
        ),
        "fc_choose_pooled": (
            "Each level of the hierarchy gets one candidate ({models}; the reps: {rep_models}): the lowest mean MASE across its "
            "nodes over {windows} rolling-origin windows{promo}{parent}",
            "层级的每一层选一个候选模型（{models}；销售代表：{rep_models}）：{windows} 个滚动窗口中该层各节点平均 MASE 最低者{promo}{parent}",
        ),
        "fc_choose_parent": (
            "; a region or team keeps the pick of the level above unless its own scores more than {pct} better",
            "；区域或团队沿用上一层的选择，除非其自身选择的得分好 {pct} 以上",
        ),
        "fc_choose_switch": (
            "; the company and the reps keep their pick of one window earlier unless their best now scores more than {pct} better",
            "；全公司和销售代表沿用前一个窗口的选择，除非其当前最优的得分好 {pct} 以上",
        ),
        "fc_choose_switch_all": (
            "; each level keeps its pick of one window earlier unless its best now scores more than {pct} better",
            "；每一层沿用前一个窗口的选择，除非其当前最优的得分好 {pct} 以上",
        ),
        "fc_rec_bottom_up": (
            "bottom-up: the reps' forecasts are added up into their teams, regions and the company",
            "自下而上：销售代表的预测加总为团队、区域和全公司",
        ),
        "fc_rec_mint_shrink": (
            "MinT (shrinkage): every node is forecast on its own, then all are adjusted together so that they add up, moving the "
            "noisier series most (minimum-trace reconciliation with a shrunk error covariance)",
            "MinT（收缩）：每个节点各自预测，再一起调整使其相加一致，波动大的序列调整最多（带收缩误差协方差的最小迹调和）",
        ),
        "fc_rec_mint_ols": (
            "MinT (OLS): every node is forecast on its own, then all are adjusted together, equally, so that they add up",
            "MinT（OLS）：每个节点各自预测，再同等地一起调整使其相加一致",
        ),
        "fc_method_bottom_up": ("bottom-up", "自下而上"),
        "fc_method_mint_shrink": ("MinT (shrinkage)", "MinT（收缩）"),
        "fc_method_mint_ols": ("MinT (OLS)", "MinT（OLS）"),
        "fc_method_base": ("base (own forecast)", "基础（自身预测）"),
        "fc_model_auto": ("auto (chosen)", "自动选择"),
        "fc_model_seasonal_naive": ("seasonal naive", "季节性朴素"),
        "fc_model_naive": ("naive", "朴素"),
        "fc_model_none": ("none", "无"),
        # summary
        "fc_s_next": (
            "{what}: {value} forecast ({level}% interval {lo} to {hi})",
            "{what}预测 {value}（{level}% 区间 {lo} 至 {hi}）",
        ),
        "fc_next_week": ("The week to {end}", "截至 {end} 的一周"),
        "fc_next_day": ("{end}", "{end}"),
        "fc_s_total": ("the next {steps} {total}", "未来 {steps}合计 {total}"),
        "fc_s_total_change": ("the next {steps} {total}, {change} on a year earlier", "未来 {steps}合计 {total}，较上年同期 {change}"),
        "fc_s_landing": (
            "{period} is expected to land at {landing} ({level}%: {lo} to {hi}) against a target of {target}, a {p} chance of reaching it",
            "{period}预计收于 {landing}（{level}%：{lo} 至 {hi}），目标 {target}，达成概率 {p}",
        ),
        "fc_s_landing_no_target": (
            "{period} is expected to land at {landing} ({level}%: {lo} to {hi}); no target is loaded for it",
            "{period}预计收于 {landing}（{level}%：{lo} 至 {hi}）；未导入目标",
        ),
        "fc_s_landing_q": ("{period}: {landing} against {target} ({p})", "{period}：预计 {landing}，目标 {target}（达成概率 {p}）"),
        "fc_s_landing_q_no_target": ("{period}: {landing} (no target)", "{period}：预计 {landing}（无目标）"),
        "fc_s_backtest_beats": (
            "In the honest backtest ({windows} windows of {steps}), the chosen forecasts missed {pct} less than seasonal naive "
            "(MASE {a} vs {b}); their {level}% intervals held {cov} of the actuals.",
            "在诚实回测中（{windows} 个窗口，每个 {steps}），所选预测的误差比季节性朴素小 {pct}（MASE {a} 对 {b}）；其 {level}% 区间覆盖了 {cov} 的实际值。",
        ),
        "fc_s_backtest_not": (
            "In the honest backtest ({windows} windows of {steps}), the chosen forecasts were no better than seasonal naive "
            "(MASE {a} vs {b}): the simple baseline, the same {step} a year earlier, is as good; their {level}% intervals held {cov} of the actuals.",
            "在诚实回测中（{windows} 个窗口，每个 {steps}），所选预测并不优于季节性朴素（MASE {a} 对 {b}）：简单基准（上年同{step}）同样好；"
            "其 {level}% 区间覆盖了 {cov} 的实际值。",
        ),
        "fc_s_backtest_none": (
            "No backtest could compare the chosen forecasts with seasonal naive: the series are too short.",
            "回测无法比较所选预测与季节性朴素：序列太短。",
        ),
        "fc_s_outside": (
            "In {when}, the actuals of {k} of the {n} series forecast here ({levels}) were outside their {level}% interval "
            "({expected} expected by chance){narrow}; the furthest: {unit}, {actual} against {lo} to {hi}.",
            "{when}，本报告预测的 {n} 个序列（{levels}）中有 {k} 个实际值落在 {level}% 区间之外（随机预期约 {expected} 个）{narrow}；"
            "偏离最大的是{unit}：{actual}，区间 {lo} 至 {hi}。",
        ),
        "fc_s_inside": (
            "In {when}, the actuals of all {n} series forecast here ({levels}) were inside their {level}% interval.",
            "{when}，本报告预测的全部 {n} 个序列（{levels}）的实际值都在 {level}% 区间内。",
        ),
        "fc_s_outside_one": (
            "In {when}, the actual of {unit}, {actual}, was outside its {level}% interval ({lo} to {hi}).",
            "{when}，{unit}的实际值 {actual} 落在 {level}% 区间（{lo} 至 {hi}）之外。",
        ),
        "fc_s_inside_one": (
            "In {when}, the actual of the one series forecast here ({levels}) was inside its {level}% interval.",
            "{when}，本报告预测的唯一序列（{levels}）的实际值在 {level}% 区间内。",
        ),
        "fc_plural_company": ("the company", "公司"),
        "fc_plural_region": ("regions", "区域"),
        "fc_plural_team": ("teams", "团队"),
        "fc_plural_rep": ("reps", "销售代表"),
        "fc_narrow": (", more than chance explains: the intervals are too narrow", "，超出随机所能解释：区间偏窄"),
        "fc_s_reorder": (
            "{n} product × warehouse rows are below their reorder point, {m} of them running out before an order placed today "
            "arrives; the first: {product} at {warehouse}, {cover} days of cover against a {lead}-day lead time.",
            "{n} 个产品×仓库低于补货点，其中 {m} 个会在今天下单的货到达前售罄；最紧急的是{warehouse}的 {product}：可售 {cover} 天，补货周期 {lead} 天。",
        ),
        "fc_s_reorder_none": ("No product × warehouse row is below its reorder point.", "没有产品×仓库低于补货点。"),
        "fc_s_products": (
            "In {when}, the demand of {k} of {n} products was outside its {level}% interval ({expected} expected by chance){narrow}.",
            "{when}，{n} 个产品中有 {k} 个的需求落在 {level}% 区间之外（随机预期约 {expected} 个）{narrow}。",
        ),
        "fc_narrow_products": (
            ", more than chance explains: the demand intervals behind the safety stocks are too narrow",
            "，超出随机所能解释：安全库存所依据的需求区间偏窄",
        ),
        "fc_a_landing": (
            "Close the {gap} gap to {period}'s target, starting with {unit}, the least likely to reach its own ({p}).",
            "缩小{period}距目标 {gap} 的差距，先从{unit}入手，它达成自身目标的概率最低（{p}）。",
        ),
        "fc_a_landing_top": ("Close the {gap} gap to {period}'s target ({p} chance at the current pace).", "缩小{period}距目标 {gap} 的差距（按当前进度达成概率 {p}）。"),
        "fc_a_outside": (
            "Ask what changed for {unit} ({actual} against {lo} to {hi}) before relying on its forecast.",
            "先了解{unit}发生了什么变化（{actual}，区间 {lo} 至 {hi}），再依赖其预测。",
        ),
        "fc_a_baseline": (
            "Plan with seasonal naive (the same {step} a year earlier) while the models do not beat it, and review [forecast] models.",
            "在模型未优于季节性朴素前，按上年同{step}做计划，并检查 [forecast] models。",
        ),
        "fc_a_reorder": (
            "Order now for the {m} rows that run out before their lead time, starting with {product} at {warehouse} (short {short}).",
            "立即为 {m} 个会在补货周期前售罄的产品×仓库下单，从{warehouse}的 {product} 开始（缺 {short}）。",
        ),
        "fc_a_reorder_review": ("Review the {n} rows below their reorder point, starting with {product} at {warehouse}.", "检查 {n} 个低于补货点的产品×仓库，从{warehouse}的 {product} 开始。"),
        "fc_a_products": (
            "Review the product demand models ([forecast] product_models): their {level}% intervals missed {k} of {n} products, so safety stocks are likely too low.",
            "检查产品需求模型（[forecast] product_models）：其 {level}% 区间漏掉了 {n} 个产品中的 {k} 个，安全库存可能偏低。",
        ),
        # warnings
        "fc_w_note": (
            "Actuals outside the interval: {when_nodes} of each region, team and rep{products} against the forecast the honest "
            "backtest made for it from the data before its window (each node's own forecast, before reconciliation); a right "
            "{level}% interval misses one time in {one_in} by chance. Reorder: inventory position (on hand + on order) below the "
            "reorder point; days of cover = on hand / forecast daily demand.",
            "区间外实际：各区域、团队和销售代表{when_nodes}{products}的实际值，对比诚实回测只用窗口前数据所做的预测（各节点自身预测，调和前）；"
            "正确的 {level}% 区间随机也会有 {one_in} 次中 1 次落在区间外。补货：库存位置（在库 + 在途）低于补货点；可售天数 = 在库 / 预测日需求。",
        ),
        "fc_w_note_products": (" (and {when} of each product's demand)", "（以及各产品{when}的需求）"),
        "fc_w_nodes": (
            "{k} of the {n} series forecast here ({levels}) outside their {level}% interval in {when} ({expected} expected by chance){narrow}",
            "{when}，本报告预测的 {n} 个序列（{levels}）中 {k} 个在 {level}% 区间之外（随机预期约 {expected} 个）{narrow}",
        ),
        "fc_w_nodes_evidence": ("by level: {levels}", "按层级：{levels}"),
        "fc_w_level_count": ("{level} {k} of {n}", "{level} {n} 个中 {k} 个"),
        "fc_w_node": ("{unit}: {actual} in {when}, {side} its {level}% interval ({lo} to {hi})", "{unit}：{when}为 {actual}，{side} {level}% 区间（{lo} 至 {hi}）"),
        "fc_w_node_evidence": (
            "forecast {forecast} by {model} with the data up to {cutoff}, {ahead} ahead (honest backtest, window {window})",
            "预测 {forecast}，由 {model} 用截至 {cutoff} 的数据做出，提前 {ahead}（诚实回测，第 {window} 个窗口）",
        ),
        "fc_w_products": (
            "{k} of {n} products' demand outside its {level}% interval in {when} ({expected} expected by chance){narrow}",
            "{when}，{n} 个产品中 {k} 个的需求在 {level}% 区间之外（随机预期约 {expected} 个）{narrow}",
        ),
        "fc_w_product": ("{product}: {actual} in {when}, {side} its {level}% interval ({lo} to {hi})", "{product}：{when}需求 {actual}，{side} {level}% 区间（{lo} 至 {hi}）"),
        "fc_w_reorder": (
            "{n} product × warehouse rows below their reorder point; {m} run out before an order placed today arrives",
            "{n} 个产品×仓库低于补货点；其中 {m} 个会在今天下单的货到达前售罄",
        ),
        "fc_w_reorder_row": (
            "{product} at {warehouse}: {cover} days of cover against a {lead}-day lead time; {position} on hand and on order, below the reorder point of {rop}",
            "{warehouse}的 {product}：可售 {cover} 天，补货周期 {lead} 天；在库加在途 {position}，低于补货点 {rop}",
        ),
        "fc_w_reorder_evidence": (
            "short by {short}; {on_hand} on hand, {on_order} on order; demand over the lead time {demand}, safety stock {safety}",
            "缺 {short}；在库 {on_hand}，在途 {on_order}；补货周期内需求 {demand}，安全库存 {safety}",
        ),
        "fc_no_warnings": (
            "No warnings: every checked actual was inside its {level}% interval and no product is below its reorder point.",
            "没有预警：所有检查的实际值都在 {level}% 区间内，也没有产品低于补货点。",
        ),
        "fc_skip_scope_products": (
            "products (inventory is kept for the whole company: the company report checks them)",
            "产品（库存按全公司管理：见全公司报告）",
        ),
        "fc_skip_no_inventory": ("products (no inventory loaded)", "产品（未导入库存）"),
        "fc_too_short": ("the series are too short", "序列太短"),
        "fc_skip_no_backtest": ("actuals against the interval (no honest backtest window: {why})", "实际与区间对比（没有诚实回测窗口：{why}）"),
        "fc_skip_future": (
            "the forecast shown below (its {steps} are still ahead; the latest complete {step} is checked against the backtest's forecast of it instead)",
            "下方的预测（其 {steps}尚未发生；改为用回测对最近完整一{step}的预测来检查）",
        ),
        "fc_skip_reconciled": (
            "reconciled figures (the backtest scores each node's own forecast, before reconciliation)",
            "调和后的数字（回测评估的是各节点调和前的自身预测）",
        ),
        "fc_skip_channels": ("channels, categories and customers (not forecast in this report)", "渠道、品类和客户（本报告不做预测）"),
    }
)

add_columns(
    {
        "fc_level": ("text", "Level", "层级"),
        "fc_node": ("text", "Node", "节点"),
        "fc_status": ("text", "Status", "状态"),
        "fc_model": ("text", "Model", "模型"),
        "fc_forecast": ("money", "Forecast", "预测"),
        "fc_base_forecast": ("money", "Before reconciliation", "调和前"),
        "fc_year_earlier": ("money", "Actual a year earlier", "上年同期实际"),
        "fc_change_pct": ("signed_pct", "Change", "变动"),
        "fc_mase": ("number", "MASE", "MASE"),
        "fc_mase_sn": ("number", "MASE seasonal naive", "季节性朴素 MASE"),
        # the reconciliation backtest's columns (their headers: the methods' names)
        **{f"fc_mase_{m}": ("number", f"MASE {m}", f"MASE {m}") for m in ("base", "bottom_up", "mint_shrink", "mint_ols")},
        "fc_smape": ("pct", "sMAPE", "sMAPE"),
        "fc_wape": ("pct", "WAPE", "WAPE"),
        "fc_bias": ("signed_pct", "Bias", "偏差"),
        "fc_coverage": ("pct", "Interval coverage", "区间覆盖率"),
        "fc_series": ("count", "Series", "序列数"),
        "fc_steps": ("count", "Steps", "期数"),
        "fc_reason": ("text", "How chosen", "选择方式"),
        "fc_actual_to_date": ("money", "Actual to date", "截至今日实际"),
        "fc_forecast_rest": ("money", "Forecast rest", "剩余预测"),
        "fc_landing": ("money", "Expected landing", "预计"),
        "fc_lo": ("money", "Low", "下限"),
        "fc_hi": ("money", "High", "上限"),
        "fc_p_reach": ("ratio", "P(reach target)", "达成概率"),
        "fc_note": ("text", "Note", "说明"),
        "fc_warehouse": ("text", "Warehouse", "仓库"),
        "fc_snapshot": ("date", "Snapshot", "盘点日"),
        "fc_on_hand": ("number", "On hand", "在库"),
        "fc_on_order": ("number", "On order", "在途"),
        "fc_lead_time": ("count", "Lead time (days)", "补货周期（天）"),
        "fc_demand_lead_time": ("number", "Demand over lead time", "补货周期需求"),
        "fc_safety_stock": ("number", "Safety stock", "安全库存"),
        "fc_reorder_point": ("number", "Reorder point", "补货点"),
        "fc_shortfall": ("number", "Short by", "缺口"),
        "fc_days_of_cover": ("days", "Days of cover", "可售天数"),
    }
)

_POOLED = re.compile(r"pooled choice for the (\d+) series with candidates ([^:;]+): (\S+), mean MASE ([\d.]+)([^;]*)")
#: notes written by lower layers (English) and their Chinese, by pattern
ZH_NOTES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"the (day|week ending|month) (\S+) is partial \(data through (\S+)\): left out of the history; forecasts start with (\S+)"),
     "{1} 这{0}不完整（数据截至 {2}）：不计入历史；预测从 {3} 开始"),
    (re.compile(r"(\d+) node\(s\) without a forecast counted as 0, without an interval"), "{0} 个节点没有预测，按 0 计且无区间"),
    (re.compile(r"no node could be forecast \(see the statuses\)"), "没有节点能够预测（见各序列状态）"),
    (re.compile(r"(\d+) node-(day|week|month)\(s\) of the daily forecast scaled to the (\w+) forecast"), "日预测中 {0} 个节点-{1}已按{2}预测缩放"),
    (re.compile(r"no forecast for the (\d+) remaining day\(s\): no landing"), "剩余 {0} 天没有预测：无预计"),
    (re.compile(r"forecast covers (\d+) of (\d+) remaining day\(s\): no landing"), "预测只覆盖剩余 {1} 天中的 {0} 天：无预计"),
    (re.compile(r"forecast without an interval: no landing interval or probability"), "预测没有区间：无预计区间和概率"),
    (re.compile(r"no target for the period: no probability"), "本期没有目标：无概率"),
    (re.compile(r"sum of the rep's team stints"), "该销售代表各团队任期之和"),
    (re.compile(r"no daily forecast"), "没有日预测"),
    (re.compile(r"no inventory loaded: reorder alerts skipped([^;]*)"), "未导入库存：不显示补货预警{0}"),
    (re.compile(r"no forecast for this product: no reorder point"), "该产品没有预测：无补货点"),
    (re.compile(r"forecast without an interval: no safety stock or reorder point"), "预测没有区间：无安全库存和补货点"),
    (re.compile(r"on_hand unknown: no alert"), "在库未知：不预警"),
    (re.compile(r"on_order unknown: taken as 0"), "在途未知：按 0 计"),
    (re.compile(r"no lead time in the snapshot: default (\d+) days"), "盘点中无补货周期：默认 {0} 天"),
    (re.compile(r"lead time beyond the (\d+)-day forecast: extrapolated at its mean"), "补货周期超出 {0} 天预测：按均值外推"),
    (re.compile(r"zero demand forecast: cover is unlimited"), "预测需求为 0：可售天数无限"),
    (re.compile(r"no share of the product's demand given for this warehouse"), "未给出本仓库的需求份额"),
    # how each series' model was chosen (salesml.forecast.auto)
    (re.compile(r"lowest (MASE|WAPE) of ([^;]+?) over (\d+) backtest windows"), "{2} 个回测窗口中 {0} 最低（候选 {1}）"),
    (_POOLED, "同类 {0} 个序列合并选择（候选 {1}）：{2}，平均 MASE {3}{4}"),
    (re.compile(r"intervals ×([\d.]+) to cover (\d+)% of the backtest"), "区间 ×{0} 以覆盖回测的 {1}%"),
    (re.compile(r"intermittent \((\d+%) zero steps\)"), "间歇序列（{0} 期为零）"),
    (re.compile(r"(\d+) observations, fewer than the (\d+) needed to choose a model \((\w+)\)"), "{0} 期观测，少于选模型所需的 {1} 期（{2}）"),
    (re.compile(r"(\d+) negative values \(sales net of returns\) clipped at 0 for fitting"), "{0} 个负值（扣除退货后）拟合时按 0 计"),
    (re.compile(r"(\d+) missing values counted as 0"), "{0} 个缺失值按 0 计"),
    (re.compile(r"(\d+) missing steps filled with 0"), "{0} 个缺失期按 0 填充"),
    (re.compile(r"(\d+) duplicate dates summed"), "{0} 个重复日期已合并"),
    (re.compile(r"all zeros: no sales to forecast"), "全为零：没有可预测的销售"),
    (re.compile(r"constant series"), "恒定序列"),
    (re.compile(r"no observations"), "没有观测"),
    (re.compile(r"fewer than 2 observations"), "少于 2 期观测"),
    (re.compile(r"the average of the best (\d+) beat (\S+) alone"), "最好的 {0} 个模型平均优于单独的 {1}"),
    (re.compile(r"(\S+) failed on the full history \((.*?)\)(?=: kept|;|$)"), "{0} 在全部历史上拟合失败（{1}）"),
    (re.compile(r": kept its own choice"), "：保留其自身选择"),
]
_ZH_TAIL = [(re.compile(r" \(too short to choose on its own\)"), "（太短，无法单独选择）"),
            (re.compile(r" \(its own best: (\S+), MASE ([\d.]+)\)"), "（其自身最优：{0}，MASE {1}）"),
            (re.compile(r", the level above's pick \(this level's own, (\S+), scored ([\d.]+): not more than (\d+)% better\)"),
             "，沿用上一层的选择（本层自身最优 {0}，MASE {1}：好不到 {2}%）"),
            (re.compile(r", its pick one window earlier \(its best now, (\S+), scored ([\d.]+): not more than (\d+)% better\)"),
             "，沿用前一个窗口的选择（当前最优 {0}，MASE {1}：好不到 {2}%）"),
            (re.compile(r", intervals ×([\d.]+) to cover (\d+)% of the backtest"), "，区间 ×{0} 以覆盖回测的 {1}%")]
_ZH_WORDS = {"day": "天", "week ending": "周", "week": "周", "month": "月", "weekly": "周", "monthly": "月", "daily": "日"}


def note_text(text, L: Lang) -> str:
    """A note written by a lower layer (English), in the page's language: each part that matches
    a known pattern (:data:`ZH_NOTES`) is translated; anything else is shown as it is."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    text = str(text)
    if not L.zh or not text:
        return text

    def words(groups) -> list[str]:
        return [_ZH_WORDS.get(g, g) for g in groups]

    for pattern, zh in ZH_NOTES:
        if pattern is _POOLED:
            def pooled(m, zh=zh):
                *head, tail = words(m.groups())
                for p2, z2 in _ZH_TAIL:
                    tail = p2.sub(lambda mm, z2=z2: z2.format(*mm.groups()), tail)
                return zh.format(*head, tail)

            text = pattern.sub(pooled, text)
        else:
            text = pattern.sub(lambda m, zh=zh: zh.format(*words(m.groups())), text)
    return text.replace("; ", "；")


# --------------------------------------------------------------------------- display helpers


def _money(data: ForecastReport, v) -> str:
    return data.L.money(v)


def _steps(L: Lang, n: int, freq: str) -> str:
    return L.t(f"fc_steps_{freq}", n=L.count(n))


def _step(L: Lang, freq: str) -> str:
    return L.t(f"fc_step_{freq}")


def _prob(L: Lang, v) -> str:
    return L.ratio(v)


def _cover(L: Lang, v) -> str:
    """Days of cover: unlimited (no demand forecast) as ∞."""
    return "–" if v is None or pd.isna(v) else ("∞" if np.isinf(v) else L.days(v))


def _about(L: Lang, x: float) -> str:
    """How many a right interval would miss by chance: one decimal below 10."""
    return L.count(x) if x >= 10 else L.number(round(float(x), 1))


def _mase(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{float(v):.3f}"


def _model(L: Lang, name) -> str:
    """A model's name: salesml's own words translated, the models' names as they are."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    key = f"fc_model_{name}"
    return L.t(key) if key in TEXT else str(name)


def _method(L: Lang, name: str) -> str:
    key = f"fc_method_{name}"
    return L.t(key) if key in TEXT else str(name)


def _level(L: Lang, level) -> str:
    if level == reconcile.COMPANY:
        return L.t("fc_level_company")
    if level == "all":
        return L.t("fc_level_all")
    return L.t(f"level_word_{level}") if level in reconcile.LEVELS else str(level or "")


def _status(L: Lang, status) -> str:
    return L.t(f"fc_status_{status}") if status in STATUS_ORDER else str(status or "")


def _label(data: ForecastReport, uid: str) -> str:
    """A node's label (the company's in the page's language)."""
    return data.L.t("who_company") if uid == reconcile.COMPANY else data.labels.get(uid, uid)


def _unit(data: ForecastReport, uid: str) -> str:
    """A node in a sentence: "rep R012 Li Wei", "区域East China · 华东", "the whole company"."""
    L, level = data.L, reconcile.node_level(uid)
    if level == reconcile.COMPANY or level is None:
        return _label(data, uid)
    word = L.t(f"level_word_{level}")
    return f"{word}{_label(data, uid)}" if L.zh else f"{word} {_label(data, uid)}"


def _product(data: ForecastReport, pid) -> str:
    name = data.product_names.get(str(pid))
    return f"{pid} {name}" if name else str(pid)


def _period_name(L: Lang, kind: str, label: str) -> str:
    """The open month or quarter in a sentence: "December 2026", "2026-Q4" / "2026年12月", "2026年第4季度"."""
    if not label:
        return ""
    if kind == "month":
        return L.month(label)
    year, q = str(label).split("-Q")
    return L.t("fc_quarter", year=year, q=q)


def _period_heading(L: Lang, kind: str, label: str) -> str:
    shown = label if not L.zh else (L.period(label) if kind == "month" else _period_name(L, kind, label))
    return L.t(f"fc_{kind}_heading", period=shown)


def _when(L: Lang, first, last, steps: int, freq: str) -> str:
    """The checked steps in words: "the week to 2026-11-29", "November 2026", "the 7 days to 2026-12-05"."""
    last = pd.Timestamp(last)
    if steps > 1:
        return L.t("fc_span_to", steps=_steps(L, steps, freq), end=L.date(last))
    if freq == "W":
        return L.t("fc_week_to", end=L.date(last))
    if freq == "M":
        return L.month(f"{last:%Y-%m}")
    return L.date(last)


def _who(data: ForecastReport) -> str:
    sc = data.scope
    if sc.level == "region":
        return data.L.who("region", region_label(sc.value, data.settings.local_names.get("region", {})))
    return data.L.who(sc.level, f"{sc.value} {data.rep_names.get(sc.value, '')}".strip() if sc.level == "rep" else sc.value)


def _layout(fig, title: str, height: int, data: ForecastReport, dates: bool = True) -> None:
    fig.update_layout(
        title=dict(text=title, y=0.98), height=height, margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", y=-0.15), yaxis_title=data.currency or "",
    )
    if dates:
        fig.update_xaxes(type="date", tickformat="%Y-%m", hoverformat="%Y-%m-%d")


def _series(data: ForecastReport, ids: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(actuals ``ds, y`` since ``trend_months`` before as_of, forecast ``ds, yhat, lo, hi``)
    of the sum of nodes ``ids``."""
    run = data.main
    since = pd.Timestamp(data.as_of) - pd.DateOffset(months=data.settings.report.trend_months)
    h = run.history[run.history["unique_id"].isin(ids)]
    actual = h.groupby("ds", as_index=False)["y"].sum()
    actual = actual[actual["ds"] > since]
    return actual, combine_nodes(run.forecasts, ids, data.settings.forecast.level)


def _days(ds) -> list[str]:
    """Dates as ``YYYY-MM-DD`` for a chart (a date axis; no time written into the page)."""
    return [f"{pd.Timestamp(d):%Y-%m-%d}" for d in ds]


def _traces(fig, actual: pd.DataFrame, fc: pd.DataFrame, L: Lang, level: int, legend: bool, **where) -> None:
    band_x = _days(fc["ds"]) + _days(fc["ds"][::-1])
    band_y = list(fc["hi"]) + list(fc["lo"][::-1])
    fig.add_trace(go.Scatter(x=band_x, y=band_y, fill="toself", fillcolor=BAND, line=dict(width=0), hoverinfo="skip",
                             name=L.t("fc_interval", level=level), showlegend=legend, legendgroup="band"), **where)
    fig.add_trace(go.Scatter(x=_days(actual["ds"]), y=actual["y"], mode="lines", line=dict(color=ACTUAL), name=L.t("fc_actual"),
                             showlegend=legend, legendgroup="actual"), **where)
    fig.add_trace(go.Scatter(x=_days(fc["ds"]), y=fc["yhat"], mode="lines", line=dict(color=FORECAST), name=L.t("fc_forecast_reconciled"),
                             showlegend=legend, legendgroup="forecast"), **where)


def _verdict(L: Lang, beats: bool | None, a: float, b: float) -> str:
    """:func:`verdict`'s sentence in the page's language."""
    if beats is None:
        return L.t("fc_verdict_none")
    return L.t("fc_verdict_beats" if beats else "fc_verdict_not", a=_mase(a), b=_mase(b))


def _without_empty(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """``df`` without ``column`` when no row shown has anything in it (an empty "Note" column)."""
    return df.drop(columns=column) if column in df and not df[column].fillna("").astype(str).str.strip().any() else df


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- summary and warnings


def _next_step(data: ForecastReport) -> dict:
    """The first forecast step of the scope's own node(s): ``ds, yhat, lo, hi``."""
    fc = combine_nodes(data.main.forecasts, data.top, data.settings.forecast.level).sort_values("ds")
    return fc.iloc[0].to_dict() if len(fc) else {}


def _year_change(data: ForecastReport, total: float | None) -> float:
    """The change of the horizon's forecast on the same steps a year earlier (NaN without them)."""
    if total is None or data.main is None:
        return np.nan
    f = data.main.forecasts
    dates = np.sort(f.loc[f["unique_id"].isin(data.top), "ds"].unique())
    history = data.main.history[data.main.history["unique_id"].isin(data.top)].groupby("ds")["y"].sum()
    before = history.reindex(year_earlier(dates, data.freq))
    prev = float(before.sum()) if len(before) and before.notna().all() else np.nan
    return (total / prev - 1) * 100 if prev else np.nan


def _outside_counts(data: ForecastReport) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(counts per level, the total row) of the nodes checked against their interval."""
    level = data.settings.forecast.level
    by_level = FC.outside_counts(data.outside, level, reconcile.node_level)
    rank = {lv: i for i, lv in enumerate(reconcile.LEVELS)}
    by_level = by_level.assign(_r=by_level["level"].map(rank)).sort_values("_r", na_position="last").drop(columns="_r")
    total = FC.outside_counts(data.outside, level)
    return by_level, total


def _levels_text(data: ForecastReport, by_level: pd.DataFrame) -> str:
    """The levels of the series checked: "the company, regions, teams and reps"."""
    words = [data.L.t(f"fc_plural_{lv}") for lv in by_level["level"] if lv in reconcile.LEVELS]
    return S.join(words, data.L)


def _narrow(total: pd.DataFrame) -> bool:
    return bool(len(total) and total["p_value"].iloc[0] < NARROW_P)


def summary_sentences(data: ForecastReport) -> tuple[list[Sentence], list[Sentence]]:
    """Three to six sentences and up to five actions, from the figures the report holds: the
    next step's forecast with its interval, the landing, the honest backtest against seasonal
    naive, the actuals outside their interval, and the reorder alerts."""
    L, fs = data.L, data.settings.forecast
    level, out, actions = fs.level, [], []
    if data.main is None or data.main.forecasts.empty:
        return out, actions
    # the next step(s)
    nxt, total = _next_step(data), forecast_total(data)
    if nxt:
        ds = pd.Timestamp(nxt["ds"])
        what = (L.t("fc_next_week", end=L.date(ds)) if data.freq == "W" else
                _cap(L.month(f"{ds:%Y-%m}")) if data.freq == "M" else L.t("fc_next_day", end=L.date(ds)))
        clauses = [L.t("fc_s_next", what=what, value=L.money(nxt["yhat"]), level=level, lo=L.money(nxt["lo"]), hi=L.money(nxt["hi"]))]
        if data.horizon > 1:
            change = _year_change(data, total)
            key = "fc_s_total_change" if pd.notna(change) else "fc_s_total"
            clauses.append(L.t(key, steps=_steps(L, data.horizon, data.freq), total=L.money(total), change=L.pct(change, True)))
        out.append(Sentence(L.t("clause_semicolon").join(clauses) + L.t("end"), "forecast"))
    # the landing
    month, quarter = top_landing(data, "month"), top_landing(data, "quarter")
    if month and pd.notna(month.get("landing")):
        name = _period_name(L, "month", month["period"])
        values = dict(period=name, landing=L.money(month["landing"]), level=level, lo=L.money(month.get("lo")), hi=L.money(month.get("hi")))
        if pd.notna(month.get("target")):
            text = L.t("fc_s_landing", target=L.money(month["target"]), p=L.ratio(month["p_reach_target"]), **values)
        else:
            text = L.t("fc_s_landing_no_target", **values)
        if quarter and pd.notna(quarter.get("landing")) and quarter.get("period"):
            qname = _period_name(L, "quarter", quarter["period"])
            text += L.t("clause_semicolon") + (
                L.t("fc_s_landing_q", period=qname, landing=L.money(quarter["landing"]), target=L.money(quarter["target"]),
                    p=L.ratio(quarter["p_reach_target"]))
                if pd.notna(quarter.get("target")) else L.t("fc_s_landing_q_no_target", period=qname, landing=L.money(quarter["landing"])))
        out.append(Sentence(_cap(text) + L.t("end"), "landing"))
        action = _landing_action(data, "month", month)
        if action:
            actions.append(action)
    # the backtest
    summary = backtest_summary(data.main.errors, data.main.statuses)
    _, beats, a, b = verdict(summary)
    if beats is None:
        out.append(Sentence(L.t("fc_s_backtest_none"), "backtest"))
    else:
        rows = summary[(summary["level"] == "all") & (summary["model"] == "auto")]
        cov = rows["coverage_80"].iloc[0] if len(rows) else np.nan
        values = dict(windows=L.count(fs.windows), steps=_steps(L, data.main.horizon, data.freq), a=_mase(a), b=_mase(b),
                      level=level, cov=L.pct(cov), step=_step(L, data.freq))
        if beats:
            out.append(Sentence(L.t("fc_s_backtest_beats", pct=L.pct((1 - a / b) * 100, digits=0), **values), "backtest"))
        else:
            out.append(Sentence(L.t("fc_s_backtest_not", **values), "backtest"))
            actions.append(Sentence(L.t("fc_a_baseline", step=_step(L, data.freq)), "backtest"))
    # actuals outside their interval
    o = data.outside
    by_level, total_row = _outside_counts(data)
    levels = _levels_text(data, by_level)
    if len(total_row):
        t = total_row.iloc[0]
        hits = o[o["outside"]]
        first = o.iloc[0]
        when = _when(L, first["first"], first["last"], int(first["steps"]), data.freq)
        if len(hits):
            top = hits.iloc[0]
            out.append(Sentence(_cap(L.t(
                "fc_s_outside", when=when, k=L.count(t["outside"]), n=L.count(t["checked"]), levels=levels, level=level, expected=_about(L, t["expected"]),
                narrow=L.t("fc_narrow") if _narrow(total_row) else "", unit=_unit(data, top["unique_id"]), actual=L.money(top["actual"]),
                lo=L.money(top["lo"]), hi=L.money(top["hi"]))), "warnings"))
            actions.append(Sentence(L.t("fc_a_outside", unit=_unit(data, top["unique_id"]), actual=L.money(top["actual"]),
                                        lo=L.money(top["lo"]), hi=L.money(top["hi"])), "warnings"))
        else:
            out.append(Sentence(_cap(L.t("fc_s_inside", when=when, n=L.count(t["checked"]), levels=levels, level=level)), "warnings"))
    # reorder alerts and the products' demand
    if data.reorder is not None:
        w = FC.reorder_warnings(data.reorder.alerts)
        if len(w):
            first = w.iloc[0]
            soon = w[w["before_lead_time"]]
            out.append(Sentence(L.t("fc_s_reorder", n=L.count(len(w)), m=L.count(len(soon)), product=_product(data, first["product_id"]),
                                    warehouse=first["warehouse"], cover=_cover(L, first["days_of_cover"]), lead=L.count(first["lead_time_days"])),
                                "reorder"))
            if len(soon):
                s0 = soon.iloc[0]
                actions.append(Sentence(L.t("fc_a_reorder", m=L.count(len(soon)), product=_product(data, s0["product_id"]),
                                            warehouse=s0["warehouse"], short=L.t("fc_units", n=L.number(round(s0["shortfall"])))), "reorder"))
            else:
                actions.append(Sentence(L.t("fc_a_reorder_review", n=L.count(len(w)), product=_product(data, first["product_id"]),
                                            warehouse=first["warehouse"]), "reorder"))
        else:
            out.append(Sentence(L.t("fc_s_reorder_none"), "reorder"))
        p = data.product_outside
        counts = FC.outside_counts(p, level) if p is not None else pd.DataFrame()
        if len(counts) and len(out) < 6:
            c = counts.iloc[0]
            first = p.iloc[0]
            narrow = _narrow(counts)
            out.append(Sentence(_cap(L.t("fc_s_products", when=_when(L, first["first"], first["last"], int(first["steps"]), "D"),
                                         k=L.count(c["outside"]), n=L.count(c["checked"]), level=level, expected=_about(L, c["expected"]),
                                         narrow=L.t("fc_narrow_products") if narrow else "")), "warnings"))
            if narrow:
                actions.append(Sentence(L.t("fc_a_products", level=level, k=L.count(c["outside"]), n=L.count(c["checked"])), "warnings"))
    return out[:6], actions[:5]


def _landing_action(data: ForecastReport, kind: str, top: dict) -> Sentence | None:
    """Closing the gap to the open period's target, when it is less likely than not."""
    L = data.L
    p = top.get("p_reach_target")
    if p is None or pd.isna(p) or p >= 0.5 or not (top.get("gap_to_target", 0) > 0):
        return None
    period = _period_name(L, kind, top["period"])
    worst = FC.least_likely(data.landings.get(kind), [c for c in data.children if c not in data.top])
    if worst:
        return Sentence(L.t("fc_a_landing", gap=L.money(top["gap_to_target"]), period=period, unit=_unit(data, worst["unique_id"]),
                            p=L.ratio(worst["p_reach_target"])), "landing")
    return Sentence(L.t("fc_a_landing_top", gap=L.money(top["gap_to_target"]), period=period, p=L.ratio(p)), "landing")


def summary(data: ForecastReport) -> H.Block:
    """The summary box: sentences linked to their sections, then the numbered actions."""
    sentences, actions = summary_sentences(data)
    return S.block(sentences, actions, data.L) + H.figures({"summary": [s.text for s in sentences], "actions": [a.text for a in actions]})


def early_warnings(data: ForecastReport) -> H.Block:
    """Actuals outside their interval (nodes, then products) and products below their reorder
    point, each with its evidence; what is not checked, and why."""
    L, fs, ws = data.L, data.settings.forecast, data.settings.warnings
    level, max_items = fs.level, ws.max_items
    head = H.heading(L.t("warnings"), 2, anchor="warnings")
    items: list[tuple[str, str]] = []
    skipped: list[str] = []
    o = data.outside
    by_level, total = _outside_counts(data)
    when_nodes = ""
    if len(total):
        t, first = total.iloc[0], o.iloc[0]
        when_nodes = _when(L, first["first"], first["last"], int(first["steps"]), data.freq)
        if t["outside"] and t["checked"] > 1:
            levels = L.t("join_comma").join(
                L.t("fc_w_level_count", level=_level(L, r["level"]), k=L.count(r["outside"]), n=L.count(r["checked"])) for _, r in by_level.iterrows())
            items.append((L.t("fc_w_nodes", k=L.count(t["outside"]), n=L.count(t["checked"]), levels=_levels_text(data, by_level),
                              level=level, when=when_nodes,
                              expected=_about(L, t["expected"]), narrow=L.t("fc_narrow") if _narrow(total) else ""),
                          L.t("fc_w_nodes_evidence", levels=levels)))
        if t["outside"]:
            hits = o[o["outside"]]
            for _, r in hits.head(max_items).iterrows():
                items.append(_outside_item(data, r, _unit(data, r["unique_id"]), data.freq, L.money))
            if len(hits) > max_items:
                items.append((L.t("w_more", n=L.count(len(hits) - max_items)), ""))
    else:
        why = note_text(data.messages.get("forecast"), L) or L.t("fc_too_short")
        skipped.append(L.t("fc_skip_no_backtest", why=why))
    p = data.product_outside
    when_products = ""
    if p is not None and len(p):
        counts = FC.outside_counts(p, level)
        first = p.iloc[0]
        when_products = _when(L, first["first"], first["last"], int(first["steps"]), "D")
        if len(counts) and counts["outside"].iloc[0]:
            c = counts.iloc[0]
            items.append((L.t("fc_w_products", k=L.count(c["outside"]), n=L.count(c["checked"]), level=level, when=when_products,
                              expected=_about(L, c["expected"]), narrow=L.t("fc_narrow_products") if _narrow(counts) else ""), ""))
            hits = p[p["outside"]]
            units = lambda v: L.t("fc_units", n=L.count(round(float(v))))  # noqa: E731
            for _, r in hits.head(max_items).iterrows():
                items.append(_outside_item(data, r, _product(data, r["unique_id"]), "D", units, product=True))
            if len(hits) > max_items:
                items.append((L.t("w_more", n=L.count(len(hits) - max_items)), ""))
    if data.reorder is not None:
        w = FC.reorder_warnings(data.reorder.alerts)
        if len(w):
            items.append((L.t("fc_w_reorder", n=L.count(len(w)), m=L.count(int(w["before_lead_time"].sum()))), ""))
            units = lambda v: L.t("fc_units", n=L.number(round(float(v))))  # noqa: E731
            for _, r in w.head(max_items).iterrows():
                items.append((
                    L.t("fc_w_reorder_row", product=_product(data, r["product_id"]), warehouse=r["warehouse"], cover=_cover(L, r["days_of_cover"]),
                        lead=L.count(r["lead_time_days"]), position=units(r["position"]), rop=units(r["reorder_point"])),
                    L.t("fc_w_reorder_evidence", short=units(r["shortfall"]), on_hand=units(r["on_hand"]), on_order=units(r["on_order"]),
                        demand=units(r["demand_lead_time"]), safety=units(r["safety_stock"])),
                ))
            if len(w) > max_items:
                items.append((L.t("w_more", n=L.count(len(w) - max_items)), ""))
    elif data.scope.level != "company":
        skipped.append(L.t("fc_skip_scope_products"))
    else:
        skipped.append(L.t("fc_skip_no_inventory"))
    skipped += [L.t("fc_skip_future", steps=_steps(L, data.horizon, data.freq), step=_step(L, data.freq)), L.t("fc_skip_reconciled"),
                L.t("fc_skip_channels")]
    products = L.t("fc_w_note_products", when=when_products) if when_products else ""
    note = H.note(L.t("fc_w_note", when_nodes=when_nodes or _step(L, data.freq), products=products, level=level,
                      one_in=L.count(round(100 / (100 - level))) if level < 100 else "–"))
    body = S.warning_list(items, L, L.t("fc_no_warnings", level=level), skipped)
    n_nodes = int(total["outside"].iloc[0]) if len(total) else 0
    n_products = int(p["outside"].sum()) if p is not None and len(p) else 0
    n_reorder = len(data.reorder.alerts) if data.reorder is not None else 0
    return head + body + note + H.figures({"warnings": n_nodes + n_products + n_reorder, "warning_outside": n_nodes,
                                           "warning_products_outside": n_products, "warning_reorder": n_reorder})


def _outside_item(data: ForecastReport, r: pd.Series, unit: str, freq: str, fmt, product: bool = False) -> tuple[str, str]:
    L, level = data.L, data.settings.forecast.level
    when = _when(L, r["first"], r["last"], int(r["steps"]), freq)
    values = dict(actual=fmt(r["actual"]), when=when, side=L.t(f"fc_{r['side']}"), level=level, lo=fmt(r["lo"]), hi=fmt(r["hi"]))
    text = L.t("fc_w_product", product=unit, **values) if product else L.t("fc_w_node", unit=unit, **values)
    evidence = L.t("fc_w_node_evidence", forecast=fmt(r["forecast"]), model=_model(L, r["model"]), cutoff=L.date(r["cutoff"]),
                   ahead=_steps(L, int(r["ahead"]), freq), window=L.count(r["window"]))
    return _cap(text), evidence


# --------------------------------------------------------------------------- sections


def title(data: ForecastReport) -> H.Block:
    """The page's title and what it covers."""
    L = data.L
    currency = L.t("fc_in_currency", code=data.currency) if data.currency else ""
    return H.style() + H.heading(L.t("fc_title", date=L.date(data.as_of)), 1) + H.note(
        L.t("fc_title_note", who=_who(data), currency=currency, step=_step(L, data.freq), date=L.date(data.as_of),
            steps=_steps(L, data.horizon, data.freq), level=data.settings.forecast.level)
    )


def headline(data: ForecastReport) -> H.Block:
    """Next horizon's total for the scope, the backtest verdict, the landings; records the figures."""
    L = data.L
    figures = recorded_figures(data)
    record = H.figures(figures)
    if data.main is None or data.main.forecasts.empty:
        why = data.messages.get("forecast") or "; ".join(data.main.notes if data.main else ())
        return H.anchor("figures") + H.note(L.t("fc_no_forecast", scope=_who(data), why=note_text(why, L))) + record
    _, beats, _, _ = verdict(backtest_summary(data.main.errors, data.main.statuses))
    change = _year_change(data, figures["forecast_total"])
    start, end = L.date(pd.Timestamp(figures["forecast_start"])), L.date(pd.Timestamp(figures["forecast_end"]))
    cards = [
        {
            "label": L.t("fc_card_forecast", steps=_steps(L, data.horizon, data.freq)),
            "value": _money(data, figures["forecast_total"]),
            "sub": L.t("fc_card_forecast_sub", start=start, end=end, change=L.pct(change, True)) if pd.notna(change)
            else L.t("fc_card_forecast_no_ly", start=start, end=end),
            "trend": None if pd.isna(change) else change,
        },
        {
            "label": L.t("fc_card_mase"),
            "value": _mase(figures["mase_auto"]),
            "sub": L.t("fc_card_mase_sub", value=_mase(figures["mase_seasonal_naive"])),
            "trend": None if beats is None else (1 if beats else -1),
        },
    ]
    for kind in landing.PERIOD_KINDS:
        if figures[f"{kind}_period"]:
            target = figures[f"{kind}_target"]
            cards.append(
                {
                    "label": L.t("fc_card_landing", period=_period_name(L, kind, figures[f"{kind}_period"])),
                    "value": _money(data, figures[f"{kind}_landing"]),
                    "sub": L.t("fc_card_landing_sub", p=_prob(L, figures[f"{kind}_p_reach_target"]), target=_money(data, target))
                    if target is not None and pd.notna(target) else L.t("fc_card_landing_no_target"),
                }
            )
    if figures["reorder_alerts"] is not None:
        cards.append({"label": L.t("fc_card_alerts"), "value": L.count(figures["reorder_alerts"]),
                      "sub": L.t("fc_card_alerts_sub", n=L.count(figures["reorder_rows"]))})
    sentence = _cap(_verdict(L, beats, figures["mase_auto"], figures["mase_seasonal_naive"]))
    text = L.t("fc_verdict_over", verdict=sentence, n=L.count(figures["series"])) if beats is not None else sentence + L.t("end")
    return H.anchor("figures") + H.cards(cards) + H.note(text) + record


def forecast_vs_actuals(data: ForecastReport) -> H.Block:
    """The scope's top node and the level below: actuals, reconciled forecast and interval."""
    L = data.L
    level = data.settings.forecast.level
    method = data.main.method if data.main else data.settings.forecast.reconcile
    head = H.heading(L.t("fc_vs_actuals"), 2, L.t("fc_vs_actuals_note", method=_method(L, method), level=level), anchor="forecast")
    if data.main is None or data.main.forecasts.empty:
        why = data.messages.get("forecast") or "; ".join(data.main.notes if data.main else ())
        return head + H.note(L.t("fc_no_forecast", scope=_who(data), why=note_text(why, L)))
    notes = H.note(note_text("; ".join(data.main.notes), L) + L.t("end")) if data.main.notes else H.note("")
    actual, fc = _series(data, data.top)
    fig = go.Figure()
    _traces(fig, actual, fc, L, level, True)
    own = data.main.forecasts[data.main.forecasts["unique_id"].isin(data.top)].groupby("ds", as_index=False)["yhat_base"].sum()
    fig.add_trace(go.Scatter(x=_days(own["ds"]), y=own["yhat_base"], mode="lines", line=dict(color=FORECAST, dash="dot"),
                             name=L.t("fc_own_forecast")))
    _layout(fig, H.esc(L.t("fc_chart_top", who=_who(data), step=_step(L, data.freq))), 420, data)
    block = head + notes + H.chart(fig)
    if len(data.top) > 1:
        block += H.note(L.t("fc_stints"))
    children = data.children
    if children:
        block += _children_chart(data, children)
    return block + _forecast_table(data, data.top + [c for c in children if c not in data.top])


def _children_chart(data: ForecastReport, children: list[str]) -> H.Block:
    L = data.L
    totals = data.main.forecasts.groupby("unique_id")["yhat"].sum()
    shown = sorted(children, key=lambda u: (-totals.get(u, 0.0), u))[: data.settings.report.top_n]
    rows = ceil(len(shown) / CHART_COLUMNS)
    height = max(320, 260 * rows + 80)
    # room between rows for a row's date ticks and the next row's titles (about 70 px)
    fig = make_subplots(rows=rows, cols=CHART_COLUMNS, subplot_titles=[H.esc(_label(data, u)) for u in shown],
                        vertical_spacing=min(70 / height, 0.5 / max(rows, 1)), horizontal_spacing=0.06)
    for i, uid in enumerate(shown):
        actual, fc = _series(data, [uid])
        _traces(fig, actual, fc, L, data.settings.forecast.level, i == 0, row=i // CHART_COLUMNS + 1, col=i % CHART_COLUMNS + 1)
    level_name = _level(L, reconcile.node_level(shown[0])) if shown else ""
    title_text = (L.t("fc_chart_by_top", level=level_name, shown=len(shown), total=len(children)) if len(shown) < len(children)
                  else L.t("fc_chart_by", level=level_name))
    _layout(fig, title_text, height, data)
    fig.update_layout(yaxis_title=None, legend=dict(orientation="h", y=-0.08 if rows > 1 else -0.2))
    return H.chart(fig)


def _forecast_table(data: ForecastReport, ids: list[str]) -> H.Block:
    L, run = data.L, data.main
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
                "fc_level": _level(L, reconcile.node_level(uid)),
                "fc_node": _label(data, uid),
                "fc_status": _status(L, st["status"].get(uid)),
                "fc_model": _model(L, st["model"].get(uid)),
                "fc_forecast": total,
                "fc_base_forecast": float(g["yhat_base"].sum()),
                "fc_year_earlier": prev,
                "fc_change_pct": (total / prev - 1) * 100 if prev else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    return H.heading(L.t("fc_forecast_table", steps=_steps(L, data.horizon, data.freq)), 3) + H.view(
        table, L, top=data.settings.report.top_n)


def backtest(data: ForecastReport) -> H.Block:
    """Per-model backtest errors (``auto`` next to seasonal naive) and every series' status."""
    L, fs = data.L, data.settings.forecast
    horizon = data.main.horizon if data.main is not None else data.horizon
    head = H.heading(L.t("fc_backtest"), 2, L.t("fc_backtest_note", windows=L.count(fs.windows), steps=_steps(L, horizon, data.freq)),
                     anchor="backtest")
    if data.main is None:
        return head + H.note(note_text(data.messages.get("forecast", ""), L) or L.t("fc_verdict_none"))
    summary = backtest_summary(data.main.errors, data.main.statuses)
    _, beats, a, b = verdict(summary)
    shown = pd.DataFrame({
        "fc_level": [_level(L, v) for v in summary["level"]], "fc_model": [_model(L, m) for m in summary["model"]],
        "fc_mase": summary["mase"], "fc_smape": summary["smape"], "fc_wape": summary["wape"], "fc_bias": summary["bias"],
        "fc_coverage": summary["coverage_80"], "fc_series": summary["series"],
    })
    table = H.view(shown, L, formats={"fc_mase": _mase}, labels={"fc_coverage": f"{L.label('fc_coverage')} ({fs.level}%)"})
    st = data.main.statuses.assign(
        level=lambda d: d["unique_id"].map(reconcile.node_level),
        node=lambda d: d["unique_id"].map(lambda u: _label(data, u)),
    )
    order = {s: i for i, s in enumerate(STATUS_ORDER)}
    lv = {lv: i for i, lv in enumerate(reconcile.LEVELS)}
    st = st.assign(_s=st["status"].map(order), _l=st["level"].map(lv)).sort_values(["_s", "_l", "node"])
    counts = L.t("join_comma").join(f"{L.count(n)} {_status(L, s)}" for s, n in status_counts(data.main.statuses).items())
    series = pd.DataFrame({
        "fc_level": [_level(L, v) for v in st["level"]], "fc_node": st["node"].tolist(), "fc_status": [_status(L, s) for s in st["status"]],
        "fc_model": [_model(L, m) for m in st["model"]], "fc_mase": st["mase"].tolist(), "fc_mase_sn": st["mase_seasonal_naive"].tolist(),
        "fc_steps": st["n_obs"].tolist(), "fc_reason": [note_text(r, L) for r in st["reason"]],
    })
    verdict_text = _cap(_verdict(L, beats, a, b)) + L.t("end")
    return (head + H.note(verdict_text) + table + H.note(L.t("fc_series_note")) + _reconciliation_block(data)
            + H.heading(L.t("fc_series"), 3, L.t("fc_series_counts", counts=counts))
            + H.view(series, L, top=data.settings.report.top_n, formats={"fc_mase": _mase, "fc_mase_sn": _mase}))


def _reconciliation_block(data: ForecastReport) -> H.Block:
    L = data.L
    errors = data.main.reconciliation_errors if data.main is not None else None
    if errors is None or errors.empty:
        return H.note("")
    table = reconciliation_summary(errors)
    best = table.idxmin(axis=1)
    used = data.main.method
    head = H.heading(L.t("fc_reconciliation"), 3, L.t(
        "fc_reconciliation_note", used=_method(L, used),
        best=L.t("join_comma").join(f"{_level(L, lv)} {_method(L, m)}" for lv, m in best.items())))
    shown = pd.DataFrame({"fc_level": [_level(L, v) for v in table.index],
                          **{f"fc_mase_{c}": table[c].to_numpy() for c in table.columns}})
    cols = {f"fc_mase_{c}": c for c in table.columns}
    return head + H.view(shown, L, formats=dict.fromkeys(cols, _mase), labels={k: _method(L, c) for k, c in cols.items()})


def landing_block(data: ForecastReport) -> H.Block:
    """The open month's and quarter's landing per node, with P(reach target)."""
    L, fs = data.L, data.settings.forecast
    daily = data.daily
    aligned = L.t("fc_landing_aligned", step=_step(L, data.freq)) if data.freq in ALIGNED_FREQS else L.t("end")
    how = L.t("fc_landing_note", models=", ".join(_model(L, m) for m in daily.models) if daily else "–",
              start=L.date(data.daily_start), end=L.date(data.as_of), aligned=aligned)
    head = H.heading(L.t("fc_landing"), 2, how, anchor="landing")
    if not data.landings:
        return head + H.note(L.t("fc_no_landing", why=note_text(data.messages.get("landing", "no daily forecast"), L)))
    block = head
    if daily is not None:
        _, beats, a, b = verdict(backtest_summary(daily.errors, daily.statuses))
        extra = note_text("; ".join(daily.notes), L)
        block += H.note(L.t("fc_daily_backtest", verdict=_verdict(L, beats, a, b), extra=(" " + extra + L.t("end")) if extra else ""))
    for kind in landing.PERIOD_KINDS:
        block += _landing_period(data, kind, fs.level)
    return block


def _landing_period(data: ForecastReport, kind: str, level: int) -> H.Block:
    L = data.L
    table = data.landings[kind]
    top = top_landing(data, kind)
    period = top.get("period") or (table["period"].iloc[0] if len(table) else "")
    head = H.heading(_period_heading(L, kind, period), 3)
    if not top:
        return head + H.note(L.t("fc_no_landing_scope"))
    has_target = pd.notna(top.get("target"))
    cards = H.cards(
        [
            {"label": L.t("fc_card_actual"), "value": _money(data, top["actual_to_date"]), "sub": L.t("fc_up_to", date=L.date(data.as_of))},
            {"label": L.t("fc_card_expected"), "value": _money(data, top["landing"]),
             "sub": L.t("fc_card_interval", level=level, lo=_money(data, top.get("lo")), hi=_money(data, top.get("hi"))) if "lo" in top else ""},
            {"label": L.t("fc_card_target"), "value": _money(data, top["target"]),
             "sub": L.t("fc_gap", value=_money(data, top["gap_to_target"])) if has_target else L.t("fc_card_landing_no_target")},
            {"label": L.t("fc_card_p"), "value": _prob(L, top["p_reach_target"]),
             "trend": None if pd.isna(top["p_reach_target"]) else top["p_reach_target"] - 0.5},
        ]
    )
    block = head + cards
    if top.get("note"):
        block += H.note(note_text(top["note"], L))
    ids = data.top + [c for c in data.children if c not in data.top]
    rows = table[table["unique_id"].isin(ids)]
    if len(rows) > 1:
        block += _landing_chart(data, rows, kind)
    block += _landing_table(data, rows)
    deeper = table[~table["unique_id"].isin(ids) & table["p_reach_target"].notna()]
    if len(deeper):
        n = data.settings.report.top_n
        risk = deeper.sort_values(["p_reach_target", "unique_id"]).head(n)
        block += H.heading(L.t("fc_least_likely"), 4, L.t("fc_least_likely_note", n=len(risk)))
        block += _landing_table(data, risk)
    return block


def _landing_table(data: ForecastReport, rows: pd.DataFrame) -> H.Block:
    L = data.L
    shown = pd.DataFrame({
        "fc_level": [_level(L, v) for v in rows["level"]], "fc_node": [_label(data, u) for u in rows["unique_id"]],
        "fc_actual_to_date": rows["actual_to_date"].to_numpy(), "fc_forecast_rest": rows["forecast_rest"].to_numpy(),
        "fc_landing": rows["landing"].to_numpy(), "fc_lo": rows["lo"].to_numpy(), "fc_hi": rows["hi"].to_numpy(),
        "target": rows["target"].to_numpy(), "gap_to_target": rows["gap_to_target"].to_numpy(),
        "fc_p_reach": rows["p_reach_target"].to_numpy(), "fc_note": [note_text(v, L) for v in rows["note"]],
    })
    n = data.settings.report.top_n
    return H.view(_without_empty(shown.head(n), "fc_note"), L, total=len(shown))


def _landing_chart(data: ForecastReport, rows: pd.DataFrame, kind: str) -> H.Block:
    L = data.L
    labels = [H.esc(_label(data, u)) for u in rows["unique_id"]]
    fig = go.Figure(
        go.Bar(
            y=labels, x=rows["landing"], orientation="h", marker_color=FORECAST, name=L.t("fc_expected_landing"),
            error_x=dict(type="data", symmetric=False, array=(rows["hi"] - rows["landing"]).fillna(0),
                         arrayminus=(rows["landing"] - rows["lo"]).fillna(0), color=ACTUAL),
            customdata=rows["p_reach_target"].fillna(-1) * 100,
            hovertemplate="%{y}: %{x:,.0f}<br>" + H.esc(L.t("fc_card_p")) + " %{customdata:.0f}%<extra></extra>",
        )
    )
    fig.add_trace(go.Scatter(y=labels, x=rows["target"], mode="markers", name=L.t("fc_target"),
                             marker=dict(symbol="line-ns-open", size=18, color=TARGET, line=dict(width=3, color=TARGET))))
    _layout(fig, L.t("fc_landing_chart", period=L.t(f"fc_{kind}_word"), level=data.settings.forecast.level),
            max(300, 34 * len(rows) + 140), data, dates=False)
    fig.update_layout(yaxis=dict(autorange="reversed", title=None, type="category"), xaxis_title=data.currency or "", yaxis_title=None)
    return H.chart(fig)


def reorder_alerts(data: ForecastReport) -> H.Block:
    """Products whose stock position is below the reorder point (company scope)."""
    L, inv = data.L, data.settings.inventory
    head = H.heading(L.t("fc_reorder"), 2, L.t("fc_reorder_note", service=L.pct(inv.service_level * 100, digits=0)), anchor="reorder")
    if data.reorder is None:
        message = data.messages.get("reorder", "")
        if data.scope.level != "company":
            return head + H.note(L.t("fc_company_inventory"))
        return head + H.note(note_text(message, L) or L.t("fc_no_inventory"))
    r = data.reorder
    alerts = r.alerts
    _, beats, a, b = verdict(backtest_summary(r.errors, r.statuses))
    n = data.settings.report.top_n
    block = head + H.cards(
        [
            {"label": L.t("fc_card_alerts"), "value": L.count(len(alerts)), "sub": L.t("fc_card_alerts_sub", n=L.count(len(r.table)))},
            {"label": L.t("fc_card_checked"), "value": L.count(r.table["product_id"].nunique()),
             "sub": L.t("fc_card_checked_sub", steps=_steps(L, r.horizon, "D"))},
        ]
    )
    dates = alerts["snapshot_date"].dropna().unique()
    snapshot = L.t("fc_snapshot_of", date=L.date(pd.Timestamp(dates[0]))) if len(dates) == 1 else ""
    block += H.note(L.t("fc_demand_note", models=", ".join(_model(L, m) for m in r.models), verdict=_verdict(L, beats, a, b)) + snapshot)
    if alerts.empty:
        return block + H.note(L.t("fc_no_alerts"))
    shown = pd.DataFrame({
        "product_id": alerts["product_id"].to_numpy(), "name": alerts["product_id"].map(data.product_names).to_numpy(),
        "fc_warehouse": alerts["warehouse"].to_numpy(), "fc_snapshot": alerts["snapshot_date"].to_numpy(),
        "fc_on_hand": alerts["on_hand"].round().to_numpy(), "fc_on_order": alerts["on_order"].round().to_numpy(),
        "fc_lead_time": alerts["lead_time_days"].to_numpy(), "fc_demand_lead_time": alerts["demand_lead_time"].round().to_numpy(),
        "fc_safety_stock": alerts["safety_stock"].round().to_numpy(), "fc_reorder_point": alerts["reorder_point"].round().to_numpy(),
        "fc_shortfall": alerts["shortfall"].round().to_numpy(), "fc_days_of_cover": alerts["days_of_cover"].to_numpy(),
        "fc_note": [note_text(v, L) for v in alerts["note"]],
    })
    if snapshot:  # one snapshot date: said once, above
        shown = shown.drop(columns="fc_snapshot")
    return block + H.view(_without_empty(shown.head(n), "fc_note"), L, total=len(shown), formats={"fc_days_of_cover": lambda v: _cover(L, v)})


def _how_chosen(L: Lang, fs) -> str:
    """The sentence saying how each series' model is chosen (``[forecast] choice``)."""
    models, windows = ", ".join(_model(L, m) for m in fs.models), L.count(fs.windows)
    promo = L.t("fc_notes_promo") if fs.promotions and "prophet" in fs.models else ""
    if fs.choice != "pooled":
        return L.t("fc_choose_series", models=models, windows=windows, promo=promo)
    reps = ", ".join(_model(L, m) for m in rep_names(fs.models, fs.rep_models))
    parent = L.t("fc_choose_parent", pct=L.pct(fs.parent_margin * 100, digits=0)) if fs.parent_margin > 0 else ""
    if fs.switch_margin > 0:
        parent += L.t("fc_choose_switch" if fs.parent_margin > 0 else "fc_choose_switch_all", pct=L.pct(fs.switch_margin * 100, digits=0))
    return L.t("fc_choose_pooled", models=models, rep_models=reps, windows=windows, promo=promo, parent=parent)


def notes(data: ForecastReport) -> H.Block:
    """How the figures are made, and the labels this page lacked in its language (none)."""
    L, fs = data.L, data.settings.forecast
    method = data.main.method if data.main is not None else fs.reconcile
    how = L.t(f"fc_rec_{method}") if f"fc_rec_{method}" in TEXT else method
    block = H.heading(L.t("how_made"), 3) + H.note(L.t("fc_notes_mase")) + H.note(L.t("fc_notes_reconcile", how=how)) + H.note(
        L.t("fc_notes_series", date=L.date(data.as_of), step=_step(L, data.freq), choose=_how_chosen(L, fs),
            method=_method(L, method), level=fs.level, file=data.settings.warehouse_path.name)
    )
    return block + H.figures({"lang": L.code, "untranslated": sorted(L.missing)})
