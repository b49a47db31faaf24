"""The Python API: a handle on one warehouse whose methods return DataFrames.

For notebooks and scripts, in the spirit of Prophet's and statsforecast's small APIs::

    import salesml as sm

    wh = sm.open()                    # salesml.toml (or $SALESML_CONFIG) and its warehouse
    wh.perf("2026-05", by="team")     # one row per team: revenue, margin, target, attainment ...
    wh.bridge("2026-05", compare="last_year")
    wh.sql("SELECT region, sum(amount) FROM ledger GROUP BY 1")

This module owns the handle (:class:`Warehouse`) and :func:`open`. It computes nothing of its
own: each method calls the same package function as the matching ``salesml`` command (the CLI
calls these methods), so a figure in a notebook is the figure on the command line and in the
reports. Every method

* brings the ledger up to date first (as every CLI command does: a no-op when it is current),
* opens the warehouse read-only for its own queries and closes it before returning, so an
  open notebook never blocks a load or a scheduled report,
* takes ``scope`` (``company``, ``region:NAME``, ``team:ID`` or ``rep:ID``) and returns only
  that scope's data,
* raises a :class:`~salesml.errors.SalesmlError` whose message says what to change.

The model libraries (scipy's optimisers for CLV; statsforecast, Prophet and LightGBM for
forecasts) load when a method that fits first runs, so that ``sm.open()`` and the accounting
commands start in well under a second.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from salesml import warehouse as _warehouse
from salesml.accounting import kpis as _kpis
from salesml.accounting.bridge import revenue_bridge
from salesml.accounting.commissions import statements, with_commission
from salesml.accounting.ledger import ensure_posted
from salesml.accounting.performance import is_year, parse_perf_period, performance
from salesml.config import Settings, notebook_settings
from salesml.customers import rfm as _rfm
from salesml.customers.scores import stored_scores
from salesml.forecast.backtest import window_periods  # numpy / pandas only: no model library
from salesml.periods import latest_complete_period, parse_period

if TYPE_CHECKING:
    from salesml.forecast.service import ForecastRun

__all__ = ["Backtest", "Warehouse", "open"]


@dataclass(frozen=True)
class Backtest:
    """An honest backtest (:meth:`Warehouse.backtest` with ``details=True``): the per-model
    ``summary``, the per series / window / model ``errors`` (``chosen``: on the choice's rows,
    the model it gave the series in the window), and the ``windows`` (each one's first and last
    scored step, how many series it scored and the model the choice gave them)."""

    summary: pd.DataFrame
    errors: pd.DataFrame
    windows: pd.DataFrame


class Warehouse:
    """A handle on one salesml warehouse and its settings (make one with :func:`open`).

    It holds no connection: each method opens the warehouse read-only for its own queries.
    ``settings`` are the loaded :class:`~salesml.config.Settings`; ``path`` the warehouse file.
    """

    def __init__(self, settings: Settings):
        self.settings = settings

    @property
    def path(self) -> Path:
        return self.settings.warehouse_path

    def __repr__(self) -> str:
        return f"<salesml warehouse {self.path}>"

    # ------------------------------------------------------------------ plumbing

    def post(self) -> dict | None:
        """Bring the ledger up to date with the loads; the posting summary, or None when it was
        current. Every method below does this first."""
        if not self.path.exists():
            return None
        return ensure_posted(self.settings)

    @contextmanager
    def reader(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection on the posted warehouse for a ``with`` block (for the
        package's lower-level functions; prefer the methods)."""
        self.post()
        with _warehouse.open(self.settings, read_only=True) as con:
            yield con

    def latest_period(self) -> str:
        """The latest complete month of sales (``YYYY-MM``): the default period of every method."""
        with self.reader() as con:
            return latest_complete_period(con)

    @staticmethod
    def _period(con: duckdb.DuckDBPyConnection, period: str | None) -> str:
        return parse_period(period) if period else latest_complete_period(con)

    # ------------------------------------------------------------------ accounting

    def perf(self, period: str | None = None, by: str = "rep", scope: str = "company") -> pd.DataFrame:
        """Performance of one month (or year) per ``rep`` / ``team`` / ``region`` / ``company``:
        revenue (gross sales, returns, corrections, net), margin and its coverage, orders,
        customers, average order value, target and attainment, growth vs the previous month and
        the same month last year, run rate and rank; per rep of a month also the commission plan
        and commission. ``period``: ``YYYY-MM``, or ``YYYY`` for a year's months together
        (default: the latest complete month). As ``salesml perf``.

        >>> wh.perf("2026-05", by="team", scope="region:North")[["team", "revenue", "attainment_pct"]]
        """
        with self.reader() as con:
            p = parse_perf_period(period) if period else latest_complete_period(con)
            df = performance(con, p, by, scope, self.settings.performance, self.settings.anonymous_customer_ids)
            if by == "rep" and len(df) and not is_year(p):  # commissions are monthly
                summary, _ = statements(con, p, self.settings, scope if scope != "company" else None)
                df = with_commission(df, summary[["rep_id", "plan", "commission"]], summary)
        return df

    def kpis(self, period: str | None = None, scope: str = "company") -> pd.DataFrame:
        """The headline sales KPIs of a month: ``kpi, value, unit, note`` (revenue and growth,
        new and repeat customers, retention, CAC, win rate, sales cycle, pipeline coverage,
        Pareto share, discount leakage, return rate, service). A KPI whose data is not loaded
        has no value and says why in ``note``. As ``salesml kpis`` and the performance report.

        >>> wh.kpis("2026-05").set_index("kpi").loc["revenue", "value"]
        """
        with self.reader() as con:
            p = self._period(con, period)
            return _kpis.kpi_table(con, p, scope, self.settings.performance, anonymous=self.settings.anonymous_customer_ids)

    def bridge(self, period: str | None = None, compare: str = "previous", by: str = "company", scope: str = "company") -> pd.DataFrame:
        """Why net revenue changed against ``compare`` (``previous`` month, ``last_year``'s
        same month, or ``ytd`` against the same months a year earlier): the change split into
        new customers, lost customers, price, volume, mix and returns, which add up to the
        change to the cent; one row per ``company`` / ``region`` / ``team`` / ``rep`` /
        ``category``. As ``salesml bridge``.

        >>> wh.bridge("2026-05", compare="last_year", by="region")
        """
        with self.reader() as con:
            p = self._period(con, period)
            return revenue_bridge(con, p, compare, by, scope, self.settings.performance, self.settings.anonymous_customer_ids)

    # ------------------------------------------------------------------ customers

    def segments(self, as_of: str | date | None = None, scope: str = "company", summary: bool = False) -> pd.DataFrame:
        """RFM scores and segment of each identified customer as of a day (default: the last
        day of the latest complete month): ``customer_id, first_purchase, last_purchase,
        recency_days, frequency, monetary, tenure_days, r_score, f_score, m_score, fm_score,
        rfm, segment``. ``summary=True``: one row per segment instead (customers, shares,
        medians). Anonymous (walk-in / guest) sales are in no segment. As ``salesml segments``.

        >>> wh.segments("2026-05-31", summary=True)[["segment", "customers", "revenue_share_pct"]]
        """
        day = _rfm.parse_as_of(as_of) if as_of is not None else None
        with self.reader() as con:
            table = _rfm.rfm(con, day or _rfm.default_as_of(con), scope, self.settings)
        return _rfm.segment_summary(table, self.settings.segments) if summary else table

    def clv(self, as_of: str | date | None = None, horizon_days: float | None = None, scope: str = "company") -> pd.DataFrame:
        """Customer lifetime value over the next ``horizon_days`` (default ``[clv]
        horizon_days``) after ``as_of``: BG/NBD purchases × Gamma-Gamma spend, discounted,
        fitted on the whole company; one row per customer of ``scope`` with ``p_alive``,
        ``p_no_purchase_h``, ``expected_purchases``, ``expected_spend`` and ``clv``, highest
        first. As ``salesml clv``.

        >>> wh.clv(horizon_days=365).head(10)
        """
        # scipy's optimisers: loaded by the methods that fit (~0.7 s)
        from salesml.customers import clv as _clv

        with self.reader() as con:
            return _clv.customer_clv(con, as_of, horizon_days, self.settings, scope)

    def churn_scores(self, scope: str = "company", as_of: str | date | None = None, version: str | None = None,
                     min_risk: float = 0.0) -> pd.DataFrame:
        """The stored churn scores (``salesml score churn`` writes them) of the scope's
        customers: risk, value at risk, top reasons, owner; riskiest value first. ``as_of`` /
        ``version`` pick a scoring (default: the latest); ``min_risk`` keeps the customers at
        least that likely to churn. Empty when the warehouse was never scored.

        >>> wh.churn_scores(scope="team:T01", min_risk=0.5)[["customer_name", "risk", "value_at_risk"]]
        """
        with self.reader() as con:
            return stored_scores(con, scope, as_of, version, min_risk)

    # ------------------------------------------------------------------ forecasts

    def forecast(self, level: str = "company", freq: str = "M", horizon: int | None = None, model: str = "auto",
                 scope: str | None = None, reconcile: str | None = None, workers: int | None = None,
                 details: bool = False, progress: bool = False) -> pd.DataFrame | ForecastRun:
        """Forecast every series of a level (``company``, ``region``, ``team``, ``rep``,
        ``category``, ``product``) ``horizon`` steps of ``freq`` (``D``, ``W``, ``M``) ahead:
        ``unique_id, ds, yhat, lo, hi, model``, never negative, starting at the first period
        after the last one with data. ``model="auto"`` chooses per series by backtest;
        ``reconcile`` (``bottom_up``, ``mint_shrink``, ``mint_ols``) makes the levels add up.
        ``details=True`` returns the whole run (statuses with each series' model or the
        reason it was skipped, notes, history). As ``salesml forecast``.

        >>> wh.forecast("region", "M", 6)
        """
        # the forecasting libraries: loaded by the methods that fit
        from salesml.forecast import service as _forecast

        _forecast.check_args(level, freq, model, reconcile)
        self.post()
        run = _forecast.run(self.settings, level, freq, horizon, model, scope, reconcile, workers, progress=progress)
        return run if details else run.forecasts

    def backtest(self, level: str = "company", freq: str = "M", windows: int | None = None, horizon: int | None = None,
                 model: str = "auto", scope: str | None = None, workers: int | None = None, details: bool = False,
                 log=None, progress: bool = False) -> pd.DataFrame | Backtest:
        """An honest backtest on the last ``windows`` windows of ``horizon`` steps: the model
        (or ``auto``'s choice) is fitted on the data before each window only and scored on it,
        beside every candidate and seasonal naive. One row per model: ``model, mase, smape,
        wape, bias, coverage_80, series`` (MASE < 1 beats the in-sample seasonal naive).
        ``details=True`` returns a :class:`Backtest` with the per-window errors and each
        window's first and last step. As ``salesml backtest``.

        >>> wh.backtest("region", "M", windows=3, horizon=3)
        """
        # the forecasting libraries: loaded by the methods that fit
        from salesml.forecast import service as _forecast

        _forecast.check_args(level, freq, model)
        self.post()
        summary, errors = _forecast.evaluate(self.settings, level, freq, windows, horizon, model, scope, workers,
                                             log=log, progress=progress)
        if not details:
            return summary
        return Backtest(summary, errors, window_periods(errors, freq, model))

    # ------------------------------------------------------------------ SQL

    def sql(self, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Read-only SQL on the warehouse (``?`` placeholders take ``params``); statements that
        write are refused. The canonical tables are described in ``salesml/schema.py``; the
        ``ledger`` holds revenue as the reports count it. As ``salesml sql``.

        >>> wh.sql("SELECT region, sum(amount) AS revenue FROM ledger WHERE period = ? GROUP BY 1", ["2026-05"])
        """
        return _warehouse.query(self.settings, query, params)


def open(config: str | Path | None = None, warehouse: str | Path | None = None) -> Warehouse:  # noqa: A001 - sm.open() reads as the API
    """Open a warehouse as the CLI does: the settings of ``config`` (default ``./salesml.toml``,
    or ``$SALESML_CONFIG``), with the warehouse file ``warehouse`` if given (default the
    config's ``[warehouse] path``, or ``$SALESML_WAREHOUSE``). The ledger is brought up to date.

    >>> import salesml as sm
    >>> wh = sm.open()
    """
    settings = notebook_settings(config, warehouse)
    ensure_posted(settings)  # a missing warehouse is an error that says how to build one
    return Warehouse(settings)
