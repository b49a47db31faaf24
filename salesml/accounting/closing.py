"""Closing accounting periods: open until closed; a closed period's figures never change again.

A period is a month ``YYYY-MM``. Every period is open unless it was closed. Closing takes a
snapshot of the period's ledger totals; reopening is an explicit act with an actor and a
reason, recorded like every close. Entries whose own period is closed are posted in the
first open period after it (see :mod:`salesml.accounting.ledger`).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from salesml.errors import SalesmlError
from salesml.periods import PeriodError, parse_period, shift_period


class PeriodStateError(SalesmlError, ValueError):
    """A period cannot be closed or reopened as asked; the message says why."""


def _check(period: str) -> str:
    try:
        return parse_period(period)
    except PeriodError as e:  # a period of the ledger's calendar: its state error
        raise PeriodStateError(str(e)) from None


def closed_periods(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT period FROM periods WHERE status = 'closed'").fetchall()}


def first_open(period: str, closed: set[str]) -> str:
    """``period`` itself if it is open, else the first open period after it."""
    p = period
    while p in closed:
        p = shift_period(p, 1)
    return p


def status(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every period with ledger entries or a close/reopen event: its status and totals."""
    return con.execute(
        """
        WITH totals AS (
            SELECT period, count(*) AS entries, sum(amount) AS revenue, sum(margin) AS margin,
                   sum(amount) FILTER (WHERE period <> origin_period) AS adjustments
            FROM ledger GROUP BY period
        ), last_event AS (
            SELECT period, arg_max(action, happened_at) AS last_action, max(happened_at) AS last_at,
                   arg_max(actor, happened_at) AS actor, arg_max(reason, happened_at) AS reason
            FROM period_events GROUP BY period
        )
        SELECT coalesce(t.period, e.period) AS period,
               coalesce(p.status, 'open') AS status,
               p.closed_at, e.actor AS by_whom, e.reason,
               coalesce(t.entries, 0) AS entries, t.revenue, t.margin, t.adjustments
        FROM totals t FULL OUTER JOIN last_event e USING (period)
        LEFT JOIN periods p ON p.period = coalesce(t.period, e.period)
        ORDER BY 1
        """
    ).df()


def _totals(con: duckdb.DuckDBPyConnection, period: str) -> tuple:
    return con.execute(
        "SELECT count(*), coalesce(sum(amount), 0), coalesce(sum(margin), 0) FROM ledger WHERE period = ?", [period]
    ).fetchall()[0]


def close(
    con: duckdb.DuckDBPyConnection, period: str, actor: str, reason: str = "", today: date | None = None, at: datetime | None = None
) -> dict:
    """Close a period (the ledger must be posted first); returns the snapshot taken.

    ``at`` records when the books were closed (default now; the demo replays a timeline)."""
    _check(period)
    today = today or (at.date() if at else date.today())
    if period >= f"{today:%Y-%m}":
        raise PeriodStateError(f"period {period} has not ended yet (today is {today:%Y-%m-%d}); only past months can be closed")
    if period in closed_periods(con):
        raise PeriodStateError(f"period {period} is already closed")
    entries, revenue, margin = _totals(con, period)
    now = at or datetime.now()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO periods VALUES (?, 'closed', ?, ?) ON CONFLICT (period) DO UPDATE SET status = 'closed', closed_at = excluded.closed_at, closed_by = excluded.closed_by",
            [period, now, actor],
        )
        con.execute(
            "INSERT INTO period_events VALUES (?, 'close', ?, ?, ?, ?, ?, ?)",
            [period, now, actor, reason or None, entries, revenue, margin],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"period": period, "status": "closed", "entries": entries, "revenue": float(revenue), "margin": float(margin), "closed_at": now.isoformat(timespec="seconds")}


def reopen(con: duckdb.DuckDBPyConnection, period: str, actor: str, reason: str) -> dict:
    """Reopen a closed period: explicit, with a reason, recorded."""
    _check(period)
    if not (reason or "").strip():
        raise PeriodStateError("reopening a period needs a reason (--reason \"...\")")
    if period not in closed_periods(con):
        raise PeriodStateError(f"period {period} is not closed")
    entries, revenue, margin = _totals(con, period)
    now = datetime.now()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE periods SET status = 'open' WHERE period = ?", [period])
        con.execute("INSERT INTO period_events VALUES (?, 'reopen', ?, ?, ?, ?, ?, ?)", [period, now, actor, reason.strip(), entries, revenue, margin])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"period": period, "status": "open", "reason": reason.strip(), "reopened_at": now.isoformat(timespec="seconds")}


def verify(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """For every closed period: the totals at its last close and now (they must be equal)."""
    return con.execute(
        """
        WITH last_close AS (
            SELECT period, arg_max(entries, happened_at) AS entries_at_close, arg_max(revenue, happened_at) AS revenue_at_close,
                   arg_max(margin, happened_at) AS margin_at_close
            FROM period_events WHERE action = 'close' GROUP BY period
        ), now AS (
            SELECT period, count(*) AS entries, coalesce(sum(amount), 0) AS revenue, coalesce(sum(margin), 0) AS margin
            FROM ledger GROUP BY period
        )
        SELECT p.period, c.entries_at_close, coalesce(n.entries, 0) AS entries, c.revenue_at_close,
               coalesce(n.revenue, 0) AS revenue, c.margin_at_close, coalesce(n.margin, 0) AS margin,
               c.entries_at_close = coalesce(n.entries, 0) AND c.revenue_at_close = coalesce(n.revenue, 0)
               AND c.margin_at_close = coalesce(n.margin, 0) AS unchanged
        FROM periods p JOIN last_close c USING (period) LEFT JOIN now n USING (period)
        WHERE p.status = 'closed' ORDER BY 1
        """
    ).df()
