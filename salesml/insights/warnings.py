"""Early warnings: what needs a look now, each with the figures that back it.

Three kinds, each a DataFrame within a report scope (nothing outside it is read):

* **Sudden drops** (:func:`sudden_drops`): the gross sales of the last 7 days up to ``end``,
  per region, team or rep, against the ``[warnings] drop_weeks`` 7-day blocks before it: a
  drop when the last block is at least ``drop_z`` standard deviations (of those blocks,
  ``ddof=1``) below their mean *and* at least ``drop_min_pct`` % below it. Blocks are counted
  back from ``end`` (7-day blocks, not calendar weeks), so a report of any day compares like
  with like; sales are dated by the day they were made (the ledger's ``credit_date``).
* **Stale pipeline** (:func:`stale_pipeline`): the opportunities open on ``as_of`` (created
  by then and not closed by then: a report of a past month sees the pipeline of that day) whose ``expected_close`` is more than
  ``stale_days`` days before ``as_of``, per rep: how many, their amount, the oldest.
  In a scope: the opportunities of the scope's reps (by each rep's latest team and region).
* **Customers at risk** (:func:`at_risk_customers`): the latest stored churn scores
  (``salesml score churn``: the newest as-of date, and its newest model version) with a
  risk of at least ``[churn] at_risk_threshold``, with their owner rep, in the scope of
  :func:`salesml.customers.scores.scope_customers` (by owner).

:func:`early_warnings` gathers them for a report and says, for each kind it cannot check,
why (no opportunities loaded, no stored churn scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from salesml.config import PerformanceSettings, Settings, WarningsSettings
from salesml.customers.scores import stored_scores
from salesml.scope import Scope, parse_scope
from salesml.warehouse import table_exists

#: the rows each scope's drops are checked on
DROP_LEVELS = {"company": ("region", "rep"), "region": ("team", "rep"), "team": ("rep",), "rep": ("rep",)}
_KEY = {"region": "region", "team": "team", "rep": "rep_key"}


def weekly_blocks(con: duckdb.DuckDBPyConnection, end: date, weeks: int, by: str, scope: str | Scope | None = None,
                  settings: PerformanceSettings | None = None) -> pd.DataFrame:
    """Gross sales per group and 7-day block back from ``end`` (block 0 = the 7 days ending
    on ``end``, block ``weeks`` the oldest); every group of the window has every block (0
    where it sold nothing)."""
    scope = parse_scope(scope)
    settings = settings or PerformanceSettings()
    cond, params = scope.sql("h")
    first = end - timedelta(days=7 * (weeks + 1) - 1)
    df = con.execute(
        f"""
        WITH h AS (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger
                   WHERE kind = 'sale' AND credit_date BETWEEN $first AND $end)
        SELECT {_KEY[by]} AS "group", (date_diff('day', credit_date, $end::DATE) // 7)::INTEGER AS block,
               sum(amount)::DOUBLE AS sales
        FROM h WHERE {cond} GROUP BY ALL
        """,
        {"first": first, "end": end, "un": settings.unassigned, **params},
    ).df()
    groups = sorted(df["group"].dropna().unique())
    grid = pd.MultiIndex.from_product([groups, range(weeks + 1)], names=["group", "block"])
    return df.set_index(["group", "block"])["sales"].reindex(grid, fill_value=0.0).reset_index()


def drops_from_blocks(blocks: pd.DataFrame, settings: WarningsSettings) -> pd.DataFrame:
    """The groups whose last block (0) fell below their own history (pure): ``group``,
    ``last_week``, ``usual`` (mean of the earlier blocks), ``std``, ``z``, ``drop_pct``;
    the largest drops first."""
    wide = blocks.pivot(index="group", columns="block", values="sales")
    if wide.empty or wide.shape[1] < 4:
        return pd.DataFrame(columns=["group", "last_week", "usual", "std", "z", "drop_pct"])
    last, history = wide[0], wide.drop(columns=0)
    usual, std = history.mean(axis=1), history.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (last - usual) / std.where(std > 0)
        drop = (usual - last) / usual.where(usual > 0) * 100
    out = pd.DataFrame({"last_week": last, "usual": usual, "std": std, "z": z, "drop_pct": drop})
    hit = (out["z"] <= -settings.drop_z) & (out["drop_pct"] >= settings.drop_min_pct)
    return out[hit].sort_values(["z", "drop_pct"], ascending=[True, False]).rename_axis("group").reset_index()


def sudden_drops(con: duckdb.DuckDBPyConnection, end: date, scope: str | Scope | None, settings: Settings) -> pd.DataFrame:
    """Sudden drops of the scope's regions / teams / reps (:data:`DROP_LEVELS`) in the 7 days
    ending on ``end``: the columns of :func:`drops_from_blocks` with ``level``."""
    scope = parse_scope(scope)
    parts = []
    for level in DROP_LEVELS[scope.level]:
        blocks = weekly_blocks(con, end, settings.warnings.drop_weeks, level, scope, settings.performance)
        parts.append(drops_from_blocks(blocks, settings.warnings).assign(level=level))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out[["level", "group", "last_week", "usual", "std", "z", "drop_pct"]] if len(out) else out


def _rep_scope_sql(scope: Scope) -> tuple[str, dict]:
    """A condition on ``o.rep_id`` selecting the scope's reps (their latest team and region)."""
    if scope.level == "company":
        return "TRUE", {}
    if scope.level == "rep":
        return "o.rep_id = $scope_value", {"scope_value": scope.value}
    column = scope.level
    return (
        f"o.rep_id IN (SELECT rep_id FROM (SELECT rep_id, arg_max({column}, valid_from) AS v FROM reps GROUP BY rep_id) "
        "WHERE v = $scope_value)",
        {"scope_value": scope.value},
    )


def stale_pipeline(con: duckdb.DuckDBPyConnection, as_of: date, scope: str | Scope | None, settings: WarningsSettings) -> pd.DataFrame:
    """Open opportunities past their expected close, per rep: ``rep_id``, ``rep_name``,
    ``opportunities``, ``amount``, ``oldest_close`` and ``days_overdue`` (of the oldest)."""
    scope = parse_scope(scope)
    cond, params = _rep_scope_sql(scope)
    return con.execute(
        f"""
        WITH names AS (SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps GROUP BY rep_id)
        SELECT o.rep_id, n.rep_name, count(*) AS opportunities, sum(o.amount)::DOUBLE AS amount,
               min(o.expected_close) AS oldest_close,
               date_diff('day', min(o.expected_close), $as_of::DATE) AS days_overdue
        FROM opportunities o LEFT JOIN names n USING (rep_id)
        WHERE o.created_date <= $as_of AND (o.closed_date IS NULL OR o.closed_date > $as_of)
          AND o.expected_close < $as_of::DATE - to_days($stale) AND {cond}
        GROUP BY ALL ORDER BY amount DESC NULLS LAST, o.rep_id
        """,
        {"as_of": as_of, "stale": settings.stale_days, **params},
    ).df()


def at_risk_customers(con: duckdb.DuckDBPyConnection, scope: str | Scope | None, threshold: float) -> pd.DataFrame:
    """The scope's customers at risk in the latest stored churn scores: ``customer_id``,
    ``customer_name``, ``owner_rep_id``, ``owner_name``, ``risk``, ``value_at_risk``,
    ``as_of``, ``version``; riskiest value first."""
    rows = stored_scores(con, scope, min_risk=threshold)
    return rows[["customer_id", "customer_name", "owner_rep_id", "owner_name", "risk", "value_at_risk", "as_of", "version"]]


@dataclass
class Warnings:
    """The early warnings of one report: each kind's rows, and why a kind was not checked."""

    end: date
    drops: pd.DataFrame = field(default_factory=pd.DataFrame)
    stale: pd.DataFrame = field(default_factory=pd.DataFrame)
    at_risk: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: kind -> why it was not checked
    skipped: dict[str, str] = field(default_factory=dict)
    #: the churn risk from which a customer is at risk
    threshold: float = 0.5

    @property
    def count(self) -> int:
        return len(self.drops) + len(self.stale) + (1 if len(self.at_risk) else 0)


def early_warnings(con: duckdb.DuckDBPyConnection, end: date, scope: str | Scope | None, settings: Settings) -> Warnings:
    """The warnings of a report whose data ends on ``end`` (the report period's last day, or
    the data's last day when that is earlier)."""
    w = Warnings(end=end, drops=sudden_drops(con, end, scope, settings), threshold=settings.churn.at_risk_threshold)
    if table_exists(con, "opportunities") and con.execute("SELECT count(*) FROM opportunities").fetchone()[0]:
        w.stale = stale_pipeline(con, end, scope, settings.warnings)
    else:
        w.skipped["stale"] = "no opportunities loaded"
    if table_exists(con, "churn_scores") and con.execute("SELECT count(*) FROM churn_scores").fetchone()[0]:
        w.at_risk = at_risk_customers(con, scope, settings.churn.at_risk_threshold)
    else:
        w.skipped["at_risk"] = "no churn scores stored (salesml score churn)"
    return w
