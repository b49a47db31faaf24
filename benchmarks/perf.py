"""``salesml perf`` for one month against the hand-written DuckDB SQL of the same figures.

    python -m benchmarks.perf --warehouse W [--period YYYY-MM] [--repeat 5] [--json]

On a loaded and posted warehouse ``W`` (the demo's, at any scale), in one process and one
read-only connection: :func:`salesml.accounting.performance.performance` at rep level (every
measure, ranks and rep names, as ``salesml perf`` prints them) and one SQL query written by
hand over the same tables (ledger, order lines, targets, reps) that a DuckDB user would write
for the same figures. The two results are asserted equal (money to the cent, rates to 1e-6)
before any time is quoted. Rounds alternate; the fastest of each is quoted, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from salesml.accounting import performance as perf
from salesml.config import PerformanceSettings
from salesml.periods import latest_complete_period, shift_period

#: the same figures as ``performance(con, period, "rep")``, written by hand: the month's ledger
#: entries with their lines' costs, the two comparison months' revenue, the reps' targets on
#: their stint, ranks and names
HAND_SQL = """
WITH cur AS (
    SELECT coalesce(l.rep_id, $un) AS rep_key, l.team, l.region,
           coalesce(sum(l.amount) FILTER (WHERE l.kind = 'sale'), 0) AS gross_sales,
           coalesce(-sum(l.amount) FILTER (WHERE l.kind = 'return'), 0) AS returns,
           coalesce(sum(l.amount) FILTER (WHERE l.kind IN ('correction', 'reassignment')), 0) AS corrections,
           coalesce(sum(l.amount) FILTER (WHERE l.period <> l.origin_period), 0) AS adjustments,
           CASE WHEN bool_or(ol.cost IS NOT NULL OR l.margin <> 0)
                THEN coalesce(sum(l.margin) FILTER (WHERE l.period <> l.origin_period), 0) END AS adjustments_margin,
           sum(l.amount) AS revenue,
           CASE WHEN bool_or(ol.cost IS NOT NULL OR l.margin <> 0) THEN sum(l.margin) END AS margin,
           coalesce(sum(l.amount) FILTER (WHERE ol.cost IS NOT NULL OR l.margin <> 0), 0) AS costed,
           coalesce(sum(abs(l.amount)) FILTER (WHERE ol.cost IS NOT NULL OR l.margin <> 0), 0) * 100.0
               / nullif(sum(abs(l.amount)), 0) AS margin_coverage_pct,
           count(DISTINCT l.order_id) FILTER (WHERE l.kind = 'sale' AND l.amount > 0) AS orders,
           count(DISTINCT l.customer_id) FILTER (WHERE l.kind = 'sale' AND l.amount > 0) AS customers
    FROM ledger l LEFT JOIN order_lines ol ON ol.order_id = l.order_id AND ol.line_no = l.line_no
    WHERE l.period = $period
    GROUP BY ALL
),
cmp AS (
    SELECT period, coalesce(rep_id, $un) AS rep_key, team, region, sum(amount) AS revenue
    FROM ledger WHERE period = $prev OR period = $ly GROUP BY ALL
),
tgt AS (
    SELECT t.rep_id AS rep_key,
           coalesce(CASE WHEN r.valid_to IS NULL OR r.valid_to >= $start THEN r.team END, t.team, $un) AS team,
           coalesce(CASE WHEN r.valid_to IS NULL OR r.valid_to >= $start THEN r.region END, t.region, $un) AS region,
           t.target_revenue, t.target_margin
    FROM (SELECT *, $last_day AS p_end FROM targets WHERE period = $period AND rep_id IS NOT NULL) t
    ASOF LEFT JOIN reps r ON t.rep_id = r.rep_id AND t.p_end >= r.valid_from
),
tgt_rep AS (SELECT rep_key, team, region, sum(target_revenue) AS target_revenue, sum(target_margin) AS target_margin FROM tgt GROUP BY ALL),
c AS (SELECT * FROM cur FULL OUTER JOIN tgt_rep USING (rep_key, team, region))
SELECT c.rep_key AS rep_id, n.rep_name, c.team, c.region,
       c.gross_sales, c.returns, c.corrections, c.adjustments, c.adjustments_margin, c.revenue, c.margin,
       CASE WHEN c.costed <> 0 THEN c.margin / c.costed * 100 END AS margin_pct, c.margin_coverage_pct,
       coalesce(c.orders, 0) AS orders, coalesce(c.customers, 0) AS customers,
       CASE WHEN c.orders > 0 THEN c.gross_sales / c.orders END AS aov,
       c.target_revenue, c.target_margin,
       CASE WHEN c.target_revenue > 0 THEN c.revenue / c.target_revenue * 100 END AS attainment_pct,
       c.target_revenue - c.revenue AS gap_to_target,
       p.revenue AS revenue_prev_month,
       CASE WHEN p.revenue > 0 THEN (c.revenue - p.revenue) / p.revenue * 100 END AS growth_mom_pct,
       y.revenue AS revenue_last_year,
       CASE WHEN y.revenue > 0 THEN (c.revenue - y.revenue) / y.revenue * 100 END AS growth_yoy_pct,
       CASE WHEN c.rep_key <> $un AND c.team <> $un
            THEN rank() OVER (PARTITION BY c.team, c.rep_key = $un OR c.team = $un ORDER BY c.revenue DESC NULLS LAST) END AS rank_in_team,
       CASE WHEN c.rep_key <> $un AND c.region <> $un
            THEN rank() OVER (PARTITION BY c.region, c.rep_key = $un OR c.region = $un ORDER BY c.revenue DESC NULLS LAST) END AS rank_in_region
FROM c
LEFT JOIN cmp p ON p.period = $prev AND p.rep_key = c.rep_key AND p.team = c.team AND p.region = c.region
LEFT JOIN cmp y ON y.period = $ly AND y.rep_key = c.rep_key AND y.team = c.team AND y.region = c.region
LEFT JOIN (SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps GROUP BY rep_id) n ON n.rep_id = c.rep_key
ORDER BY c.revenue DESC, c.rep_key
"""

#: the columns compared (both give them; salesml adds the run-rate projection, empty for a complete month)
COLUMNS = ["rep_id", "rep_name", "team", "region", "gross_sales", "returns", "corrections", "adjustments", "adjustments_margin",
           "revenue", "margin", "margin_pct", "margin_coverage_pct", "orders", "customers", "aov", "target_revenue", "target_margin",
           "attainment_pct", "gap_to_target", "revenue_prev_month", "growth_mom_pct", "revenue_last_year", "growth_yoy_pct",
           "rank_in_team", "rank_in_region"]


def hand(con: duckdb.DuckDBPyConnection, period: str, settings: PerformanceSettings) -> pd.DataFrame:
    start = pd.Timestamp(f"{period}-01")
    params = {"period": period, "prev": shift_period(period, -1), "ly": shift_period(period, -12), "un": settings.unassigned,
              "start": start.date(), "last_day": (start + pd.offsets.MonthEnd(0)).date()}
    return con.execute(HAND_SQL, params).df()


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Equal row for row: text exactly, money to the cent, rates to 1e-6 (raises if not)."""
    a, b = a[COLUMNS].reset_index(drop=True), b[COLUMNS].reset_index(drop=True)
    if len(a) != len(b):
        raise AssertionError(f"{len(a)} rows vs {len(b)}")
    for c in COLUMNS:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            xv, yv = x.astype("float64").to_numpy(), y.astype("float64").to_numpy()
            if not np.allclose(xv, yv, rtol=0, atol=0.005 if c in perf.ADDITIVE else 1e-6, equal_nan=True):
                raise AssertionError(f"{c} differs")
        elif not x.fillna("").astype(str).equals(y.fillna("").astype(str)):
            raise AssertionError(f"{c} differs")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.perf", description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", required=True, help="a loaded and posted warehouse (opened read-only)")
    ap.add_argument("--period", default="", help="YYYY-MM (default: the latest complete month)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    settings = PerformanceSettings()
    with duckdb.connect(str(Path(args.warehouse)), read_only=True) as con:
        con.execute("SET threads = 2")
        period = args.period or latest_complete_period(con)
        lines = con.execute("SELECT count(*) FROM ledger WHERE period = ?", [period]).fetchall()[0][0]
        same(perf.performance(con, period, "rep", settings=settings), hand(con, period, settings))
        best = {"salesml": float("inf"), "hand_sql": float("inf")}
        for _ in range(max(1, args.repeat)):
            for name, run in (("salesml", lambda: perf.performance(con, period, "rep", settings=settings)),
                              ("hand_sql", lambda: hand(con, period, settings))):
                t0 = time.perf_counter()
                run()
                best[name] = min(best[name], time.perf_counter() - t0)
    out = {"period": period, "ledger_entries": int(lines), **{k: round(v, 3) for k, v in best.items()},
           "ratio": round(best["salesml"] / best["hand_sql"], 2)}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"perf {period} by rep ({lines:,} ledger entries that month): salesml {out['salesml']:.3f} s, "
              f"hand-written SQL {out['hand_sql']:.3f} s = {out['ratio']}x; the same figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
