"""Accounting checks: do the order lines, the ledger, the hierarchy, the statements and the
closed periods agree, to the cent? (``salesml check``)"""

from __future__ import annotations

from decimal import Decimal

import duckdb
import pandas as pd

from salesml.accounting import closing
from salesml.accounting import performance as perf
from salesml.accounting.commissions import statements
from salesml.config import Settings


def _row(check: str, left, right, detail: str = "") -> dict:
    ok = abs(Decimal(str(left or 0)) - Decimal(str(right or 0))) < Decimal("0.005")
    return {"check": check, "left": float(left or 0), "right": float(right or 0), "ok": ok, "detail": detail}


def run(con: duckdb.DuckDBPyConnection, period: str, settings: Settings) -> pd.DataFrame:
    """Every check for ``period`` (and the closed periods); one row each, ``ok`` true or false."""
    rows = []
    ps = settings.performance
    [(ledger_all, lines_all)] = con.execute(
        "SELECT (SELECT coalesce(sum(amount), 0) FROM ledger), "
        "(SELECT coalesce(sum(amount), 0) FROM order_lines WHERE status IN (?, ?))",
        [ps.sale_status, ps.return_status],
    ).fetchall()
    rows.append(_row("ledger total = order lines (sales + returns), all periods", ledger_all, lines_all))
    [(ledger_p, margin_p)] = con.execute(
        "SELECT coalesce(sum(amount), 0), coalesce(sum(margin), 0) FROM ledger WHERE period = ?", [period]
    ).fetchall()
    levels = {by: perf.performance(con, period, by, None, ps) for by in perf.LEVELS}
    company = levels["company"]
    c_rev = company["revenue"].iloc[0] if len(company) else 0
    rows.append(_row(f"perf company revenue {period} = ledger", c_rev, ledger_p))
    # no cost loaded: perf shows no margin (NULL), the ledger holds 0 for those lines
    rows.append(_row(f"perf company margin {period} = ledger", company["margin"].fillna(0).iloc[0] if len(company) else 0, margin_p))
    for by in ("rep", "team", "region"):
        rows.append(_row(f"sum over {by}s = company revenue {period}", round(levels[by]["revenue"].sum(), 2), c_rev))
    adj = con.execute("SELECT coalesce(sum(amount), 0) FROM ledger WHERE period = ? AND period <> origin_period", [period]).fetchall()[0][0]
    rows.append(_row(f"perf adjustments {period} = ledger adjustments", company["adjustments"].iloc[0] if len(company) else 0, adj))
    summary, lines = statements(con, period, settings)
    credited = con.execute(
        "SELECT coalesce(sum(amount), 0), coalesce(sum(margin), 0) FROM ledger WHERE period = ? AND rep_id IS NOT NULL", [period]
    ).fetchall()[0]
    if len(summary):
        rows.append(_row(f"statements revenue {period} = ledger (credited reps)", round(summary["revenue"].sum(), 2), credited[0]))
        rows.append(_row(f"statements margin {period} = ledger (credited reps)", round(summary["margin"].sum(), 2), credited[1]))
        # statements with a plan and a commission (a margin plan without costs computes none)
        with_plan = summary[summary["plan"].notna() & (summary["plan"] != "") & summary["commission"].notna()]
        tiers = lines[lines["in_total"].astype(bool)].groupby("rep_id")["amount"].sum() if len(lines) else pd.Series(dtype=float)
        diff = (with_plan.set_index("rep_id")["commission"] - tiers.reindex(with_plan["rep_id"]).fillna(0)).abs()
        rows.append(
            {
                "check": f"each statement total = its lines {period}",
                "left": int((diff >= 0.005).sum()),
                "right": 0,
                "ok": bool((diff < 0.005).all()),
                "detail": f"{len(with_plan)} statements",
            }
        )
    v = closing.verify(con)
    rows.append(
        {
            "check": "closed periods unchanged since their close",
            "left": int((~v["unchanged"]).sum()) if len(v) else 0,
            "right": 0,
            "ok": bool(v["unchanged"].all()) if len(v) else True,
            "detail": ", ".join(v["period"]) if len(v) else "no closed periods",
        }
    )
    return pd.DataFrame(rows)
