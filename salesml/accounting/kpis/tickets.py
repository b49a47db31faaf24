"""Service KPIs: tickets opened and customer satisfaction, attributed to the customer's
account owner."""

from __future__ import annotations

import duckdb
import pandas as pd

from salesml import warehouse
from salesml.accounting.kpis.common import (
    TOTAL,
    KpiUnavailable,
    Window,
    _div,
    _finish,
    _require,
    _run,
    _scope,
    _un,
    parse_window,
)
from salesml.config import PerformanceSettings
from salesml.scope import Scope

# --------------------------------------------------------------------------- service


def service(
    con: duckdb.DuckDBPyConnection,
    period: str | Window,
    scope: str | Scope | None = None,
    by: str = "rep",
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """Service tickets opened in the window and how satisfied customers were, with a
    ``(total)`` row.

    A ticket belongs to its customer's account owner (``customers.owner_rep_id``, the current
    owner) and, through the hierarchy, to the owner's team and region on the day the ticket
    was opened; the scope filters on those (tickets of customers without an owner, or unknown
    customers, are ``(unassigned)``). ``by``: ``rep``, ``team``, ``region``, ``product``,
    ``category`` (the product's), ``ticket_category`` or ``company``.
    ``tickets`` = opened in the window; ``rated`` = with a satisfaction score;
    ``avg_satisfaction`` = mean score (1..5) of the rated ones; ``low_score_rate`` = rated
    ones scoring 1 or 2 / rated; ``closed`` = closed by now; ``median_days_to_close`` over
    the closed ones.
    """
    w = parse_window(period)
    _require(con, "tickets", "service KPIs")
    s, cond, sp = _scope(con, scope)
    if (by in ("rep", "team", "region") or s.level != "company") and warehouse.row_count(con, "customers") == 0:
        raise KpiUnavailable(
            "no customers loaded: service KPIs per rep, team or region skipped "
            "(tickets reach a rep through customers.owner_rep_id)"
        )
    dims = {
        "rep": [("t.rep_key", "rep_key"), ("t.team", "team"), ("t.region", "region")],
        "team": [("t.team", "team"), ("t.region", "region")],
        "region": [("t.region", "region")],
        "product": [("t.product_id", "product_id"), ("any_value(p.name)", "product_name"), ("any_value(coalesce(p.category, '(unknown)'))", "category")],
        "category": [("coalesce(p.category, '(unknown)')", "category")],
        "ticket_category": [("coalesce(t.category, '(unknown)')", "ticket_category")],
        "company": [],
    }
    if by not in dims:
        raise ValueError(f"by must be one of {', '.join(dims)}, got {by!r}")
    d = dims[by]
    if d:
        fe, fa = d[0]
        sel = [f"CASE WHEN grouping({fe}) = 1 THEN '{TOTAL}' ELSE {fe} END AS {fa}"] + [f"{e} AS {a}" for e, a in d[1:]]
        keys = [e for e, _ in d if not e.startswith("any_value")]
        select, group, order = ", ".join(sel) + ",", f"GROUP BY GROUPING SETS (({', '.join(keys)}), ())", f"ORDER BY grouping({fe}), tickets DESC, 1"
    else:
        select = group = order = ""
    sql = f"""
    WITH tk AS (
        SELECT t.*, c.owner_rep_id FROM tickets t LEFT JOIN customers c ON c.customer_id = t.customer_id
        WHERE t.opened >= $start AND t.opened < $stop
    ),
    att AS (
        SELECT tk.*, coalesce(tk.owner_rep_id, $un) AS rep_key,
               coalesce(CASE WHEN r.valid_to IS NULL OR tk.opened <= r.valid_to THEN r.team END, $un) AS team,
               coalesce(CASE WHEN r.valid_to IS NULL OR tk.opened <= r.valid_to THEN r.region END, $un) AS region
        FROM tk ASOF LEFT JOIN reps r ON tk.owner_rep_id = r.rep_id AND tk.opened >= r.valid_from
    )
    SELECT {select}
           count(*) AS tickets,
           count(t.satisfaction) AS rated,
           avg(t.satisfaction) AS avg_satisfaction,
           count(*) FILTER (WHERE t.satisfaction <= 2) AS low_scores,
           count(t.closed) AS closed,
           quantile_cont(datediff('day', t.opened, t.closed), 0.5) AS median_days_to_close
    FROM (SELECT * FROM att WHERE {cond}) t LEFT JOIN products p ON p.product_id = t.product_id
    {group}
    {order}
    """
    df = _run(con, sql, {"un": _un(settings), "start": w.start, "stop": w.stop, **sp})
    df["low_score_rate"] = _div(df["low_scores"], df["rated"])
    df.insert(0, "period", str(w))
    return _finish(df, ["tickets", "rated", "low_scores", "closed"])
