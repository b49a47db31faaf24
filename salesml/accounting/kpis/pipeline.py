"""Opportunity KPIs: win rate, sales cycle, funnel by stage and pipeline coverage of the
remaining target."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from salesml.accounting.kpis.common import (
    STAGES,
    Window,
    _div,
    _finish,
    _grouping,
    _level,
    _opps_sql,
    _require,
    _run,
    _scope,
    _un,
    parse_window,
    quarter_of,
)
from salesml.config import PerformanceSettings
from salesml.periods import parse_period, period_bounds
from salesml.scope import Scope

# --------------------------------------------------------------------------- win rate


def win_rate(
    con: duckdb.DuckDBPyConnection,
    window: str | Window | Sequence[str],
    scope: str | Scope | None = None,
    by: str = "rep",
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """Win rate of the opportunities closed in the window, per rep / team / region and total.

    Closed in the window = ``closed_date`` in it and outcome won or lost (open ones and closed
    ones without a date are ignored). Attributed to the rep's team and region on the closing
    date. ``win_rate`` = won / (won + lost); ``value_win_rate`` = won amount / (won + lost
    amount). Empty when nothing closed.
    """
    w = parse_window(window)
    keys = _level(by)
    _require(con, "opportunities", "win rate")
    s, cond, sp = _scope(con, scope)
    sel, group, order = _grouping(keys)
    sql = f"""
    WITH {_opps_sql("o.closed_date", "o.closed_date >= $start AND o.closed_date < $stop")}
    SELECT {sel}
           count(*) FILTER (WHERE result = 'won') AS won,
           count(*) FILTER (WHERE result = 'lost') AS lost,
           count(*) AS closed,
           coalesce(sum(amount) FILTER (WHERE result = 'won'), 0) AS won_amount,
           coalesce(sum(amount) FILTER (WHERE result = 'lost'), 0) AS lost_amount
    FROM opps WHERE result IN ('won', 'lost') AND {cond}
    {group}
    ORDER BY {order}1
    """
    df = _run(con, sql, {"un": _un(settings), "start": w.start, "stop": w.stop, **sp})
    df["win_rate"] = _div(df["won"], df["closed"])
    df["value_win_rate"] = _div(df["won_amount"], df["won_amount"] + df["lost_amount"])
    df.insert(0, "period", str(w))
    return _finish(df, ["won", "lost", "closed"])


# --------------------------------------------------------------------------- sales cycle


def sales_cycle(
    con: duckdb.DuckDBPyConnection,
    window: str | Window | Sequence[str],
    scope: str | Scope | None = None,
    by: str = "company",
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """Days from ``created_date`` to ``closed_date`` of the opportunities won in the window.

    Won in the window = outcome won and ``closed_date`` in it (attributed on that date, as
    for the win rate); opportunities closed before they were created are left out.
    ``median_days`` and ``p75_days`` are continuous quantiles (``quantile_cont``),
    ``mean_days`` the mean; per rep / team / region with a ``(total)`` row, or one row for
    ``by="company"``.
    """
    w = parse_window(window)
    keys = _level(by)
    _require(con, "opportunities", "sales cycle")
    s, cond, sp = _scope(con, scope)
    sel, group, order = _grouping(keys)
    sql = f"""
    WITH {_opps_sql("o.closed_date", "o.closed_date >= $start AND o.closed_date < $stop")},
    won AS (SELECT *, datediff('day', created_date, closed_date) AS days FROM opps
            WHERE result = 'won' AND closed_date >= created_date AND {cond})
    SELECT {sel}
           count(*) AS won,
           quantile_cont(days, 0.5) AS median_days,
           avg(days) AS mean_days,
           quantile_cont(days, 0.75) AS p75_days,
           min(days) AS min_days, max(days) AS max_days
    FROM won
    {group}
    {"ORDER BY " + order + "1" if keys else ""}
    """
    df = _run(con, sql, {"un": _un(settings), "start": w.start, "stop": w.stop, **sp})
    df.insert(0, "period", str(w))
    return _finish(df, ["won"])


# --------------------------------------------------------------------------- funnel


def funnel(
    con: duckdb.DuckDBPyConnection,
    window: str | Window | Sequence[str],
    scope: str | Scope | None = None,
    stages: Sequence[str] = STAGES,
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """How far the opportunities created in the window got, stage by stage.

    The table only holds each opportunity's current stage, so the stages reached are
    inferred: an **open** one reached its current stage and every stage before it (an open
    stage not in ``stages`` counts as the first); a **won** one reached every stage; a
    **lost** one is assumed to have reached only the first stage (where it was lost is
    unknown, so mid-funnel conversion is, if anything, understated). Attributed to the rep's
    team on the creation date. One row per stage: ``reached`` (count), ``reached_amount``,
    ``open_now`` (open ones currently at that stage), ``conversion_rate`` = reached / reached
    at the previous stage, ``cumulative_conversion_rate`` = reached / reached at the first.
    Recent windows look worse than they will: their open opportunities have not finished.
    """
    w = parse_window(window)
    _require(con, "opportunities", "funnel")
    s, cond, sp = _scope(con, scope)
    stages = list(stages)
    if len(stages) < 2:
        raise ValueError("funnel needs at least two stages")
    case = " ".join(f"WHEN lower(trim(stage)) = lower($st{i}) THEN {i + 1}" for i in range(len(stages)))
    sql = f"""
    WITH {_opps_sql("o.created_date", "o.created_date >= $start AND o.created_date < $stop")},
    idx AS (
        SELECT amount, result,
               CASE WHEN result = 'won' THEN {len(stages)}
                    WHEN result = 'lost' THEN 1
                    ELSE coalesce(CASE {case} END, 1) END AS reached
        FROM opps WHERE {cond}
    )
    SELECT s.no, count(i.reached) AS reached, coalesce(sum(i.amount), 0) AS reached_amount,
           count(i.reached) FILTER (WHERE i.result = 'open' AND i.reached = s.no) AS open_now
    FROM range(1, {len(stages) + 1}) s(no) LEFT JOIN idx i ON i.reached >= s.no
    GROUP BY s.no ORDER BY s.no
    """
    params = {"un": _un(settings), "start": w.start, "stop": w.stop, **sp, **{f"st{i}": st for i, st in enumerate(stages)}}
    df = _run(con, sql, params).rename(columns={"no": "stage_no"})
    df.insert(1, "stage", [stages[int(n) - 1] for n in df["stage_no"]])
    prev = df["reached"].shift(1)
    df["conversion_rate"] = _div(df["reached"], prev)
    df["cumulative_conversion_rate"] = _div(df["reached"], pd.Series(df["reached"].iloc[0], index=df.index))
    df.insert(0, "period", str(w))
    return _finish(df, ["stage_no", "reached", "open_now"])


# --------------------------------------------------------------------------- pipeline coverage


def pipeline_coverage(
    con: duckdb.DuckDBPyConnection,
    period: str,
    scope: str | Scope | None = None,
    by: str = "rep",
    as_of: date | None = None,
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """Open pipeline expected to close in the rest of the period (and quarter) / remaining target.

    ``as_of`` defaults to the last event date in the ledger (the data's "today"). Per rep /
    team / region with a ``(total)`` row:

    * ``revenue_to_date`` = ledger entries of ``period`` dated (``event_date``) up to
      ``as_of``; ``revenue_qtd`` likewise over the quarter's periods;
    * ``target`` / ``target_quarter`` = rep targets of the period / the quarter's three months
      (a rep's monthly target belongs to their last stint in that month, as in ``perf``);
    * ``remaining`` = target - revenue to date (negative: target already met);
    * ``pipeline`` = amount of the opportunities open on ``as_of`` (created by then and not
      closed by then, as far as the dates say; the table is today's snapshot, so their
      amounts and expected dates are today's) whose ``expected_close`` falls after ``as_of``
      and within the period; ``pipeline_quarter`` likewise within the quarter;
      ``overdue_pipeline`` = open ones whose expected close is on or before ``as_of``
      (not counted in coverage); opportunities are attributed on ``as_of``;
    * ``coverage`` = pipeline / remaining and ``coverage_quarter`` likewise, empty when the
      remaining target is not positive (met, or no target) or when nothing of the period
      (quarter) is left after ``as_of`` (``days_left`` = 0). Totals use total target minus
      total revenue.
    """
    period = parse_period(period)
    keys = _level(by)
    _require(con, "opportunities", "pipeline coverage")
    _require(con, "targets", "pipeline coverage")
    s, cond, sp = _scope(con, scope)
    if as_of is None:
        last = con.execute("SELECT max(event_date) FROM ledger").fetchall()[0][0]
        as_of = last or date.today()
    q = quarter_of(period)
    p_start, p_stop = period_bounds(period)
    p_end, q_end = p_stop - timedelta(days=1), q.stop - timedelta(days=1)
    rest_p = max(as_of + timedelta(days=1), p_start)
    rest_q = max(as_of + timedelta(days=1), q.start)
    sel, group, order = _grouping(keys)
    key_list = "".join(f"{k}, " for k in keys)
    sql = f"""
    WITH rev AS (
        SELECT {key_list}
               coalesce(sum(amount) FILTER (WHERE period = $period), 0) AS revenue_to_date,
               sum(amount) AS revenue_qtd
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger
              WHERE period >= $q_first AND period <= $q_last AND event_date <= $as_of)
        WHERE {cond} GROUP BY ALL
    ),
    tgt_raw AS (
        SELECT *, strptime(period || '-01', '%Y-%m-%d')::DATE AS p_start,
               last_day(strptime(period || '-01', '%Y-%m-%d')::DATE) AS p_end
        FROM targets WHERE rep_id IS NOT NULL AND period >= $q_first AND period <= $q_last
    ),
    tgt AS (
        SELECT * FROM (
            SELECT t.period, t.rep_id AS rep_key, t.target_revenue,
                   coalesce(CASE WHEN r.valid_to IS NULL OR r.valid_to >= t.p_start THEN r.team END, t.team, $un) AS team,
                   coalesce(CASE WHEN r.valid_to IS NULL OR r.valid_to >= t.p_start THEN r.region END, t.region, $un) AS region
            FROM tgt_raw t ASOF LEFT JOIN reps r ON t.rep_id = r.rep_id AND t.p_end >= r.valid_from
        ) WHERE {cond}
    ),
    tg AS (
        SELECT {key_list} coalesce(sum(target_revenue) FILTER (WHERE period = $period), 0) AS target,
               sum(target_revenue) AS target_quarter
        FROM tgt GROUP BY ALL
    ),
    {_opps_sql("$as_of::DATE", "o.created_date <= $as_of AND (o.closed_date > $as_of OR o.closed_date IS NULL)")},
    pipe AS (
        SELECT {key_list}
               coalesce(sum(amount) FILTER (WHERE expected_close >= $rest_p AND expected_close <= $p_end), 0) AS pipeline,
               coalesce(sum(amount) FILTER (WHERE expected_close >= $rest_q AND expected_close <= $q_end), 0) AS pipeline_quarter,
               coalesce(sum(amount) FILTER (WHERE expected_close <= $as_of), 0) AS overdue_pipeline,
               count(*) FILTER (WHERE expected_close >= $rest_p AND expected_close <= $p_end) AS open_opportunities
        FROM opps
        WHERE (closed_date IS NOT NULL OR result = 'open') AND {cond}
        GROUP BY ALL
    ),
    u AS (SELECT * FROM rev UNION ALL BY NAME SELECT * FROM tg UNION ALL BY NAME SELECT * FROM pipe)
    SELECT {sel}
           coalesce(sum(target), 0) AS target, coalesce(sum(revenue_to_date), 0) AS revenue_to_date,
           coalesce(sum(target), 0) - coalesce(sum(revenue_to_date), 0) AS remaining,
           coalesce(sum(pipeline), 0) AS pipeline,
           coalesce(sum(open_opportunities), 0) AS open_opportunities,
           coalesce(sum(target_quarter), 0) AS target_quarter, coalesce(sum(revenue_qtd), 0) AS revenue_qtd,
           coalesce(sum(target_quarter), 0) - coalesce(sum(revenue_qtd), 0) AS remaining_quarter,
           coalesce(sum(pipeline_quarter), 0) AS pipeline_quarter,
           coalesce(sum(overdue_pipeline), 0) AS overdue_pipeline
    FROM u
    {group}
    {"ORDER BY " + order + ", ".join(keys) if keys else ""}
    """
    params = {
        "un": _un(settings), "period": period, "q_first": q.first, "q_last": q.last, "as_of": as_of,
        "rest_p": rest_p, "rest_q": rest_q, "p_end": p_end, "q_end": q_end, **sp,
    }
    df = _run(con, sql, params)
    days_left = (p_end - rest_p).days + 1
    days_left_q = (q_end - rest_q).days + 1
    df["coverage"] = _div(df["pipeline"], df["remaining"]) if days_left > 0 else np.nan
    df["coverage_quarter"] = _div(df["pipeline_quarter"], df["remaining_quarter"]) if days_left_q > 0 else np.nan
    df.insert(0, "period", period)
    df.insert(1, "as_of", as_of)
    df["days_left"] = max(days_left, 0)
    df["days_left_quarter"] = max(days_left_q, 0)
    return _finish(df, ["open_opportunities"])
