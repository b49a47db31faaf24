"""The workbench's queries: what is read from the warehouse once, and the one aggregate per selection.

Every function takes a connection and returns data; none keeps one. :func:`entries`,
:func:`hierarchy`, :func:`day_range` and :func:`targets` read the warehouse (read-only) when
the workbench opens; :func:`entries` copies the scope's ledger entries, and
:func:`aggregate` is the one query a change of the row filters costs, on that in-memory copy:
the selection's entries in the range, the period before it and the same range a year earlier,
summed per day and per member of the breakdown dimension, with order and customer counts.

Dating an entry
---------------
Revenue agrees with ``salesml perf`` (see :mod:`salesml.accounting.kpis`, "Conventions"): an
entry counts in its ledger ``period``. Its day is its ``credit_date`` (the day of the sale)
when that lies in the period, else its ``event_date`` (the day of the return or correction)
when that does, else the first day of the period (an adjustment to a closed month posted in
a later one). So the days of a month add up to the month's revenue in ``salesml perf``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from salesml.accounting.performance import cost_known_sql
from salesml.anonymous import anonymous_sql
from salesml.config import PerformanceSettings
from salesml.scope import Scope

#: the row filters on the hierarchy, then on products, customers and lines
FILTERS = ("region", "team", "rep", "category", "product", "segment", "channel")
#: the drill path of the breakdown: a click on a bar filters to it and shows the next one
DRILL_PATH = ("region", "team", "rep", "category", "product")
#: what a missing category, product, segment or channel is shown as
UNKNOWN = "(unknown)"

#: SQL of each dimension over a ledger entry ``l`` (with ``ol``, ``p``, ``c`` joined where needed)
DIMENSION_SQL = {
    "region": "l.region",
    "team": "l.team",
    "rep": "coalesce(l.rep_id, $un)",
    "category": f"coalesce(p.category, '{UNKNOWN}')",
    "product": f"coalesce(l.product_id, '{UNKNOWN}')",
    "segment": f"coalesce(c.segment, '{UNKNOWN}')",
    "channel": f"coalesce(ol.channel, '{UNKNOWN}')",
}
_JOINS = {
    "lines": "LEFT JOIN order_lines ol ON ol.order_id = l.order_id AND ol.line_no = l.line_no",
    "products": "LEFT JOIN products p ON p.product_id = l.product_id",
    "customers": "LEFT JOIN customers c ON c.customer_id = l.customer_id",
}

#: the entry's day (see the module docs)
DAY_SQL = """CASE WHEN strftime(l.credit_date, '%Y-%m') = l.period THEN l.credit_date
         WHEN strftime(l.event_date, '%Y-%m') = l.period THEN l.event_date
         ELSE strptime(l.period || '-01', '%Y-%m-%d')::DATE END"""

#: the sums an aggregate row carries (every measure is made of these)
SUMS = ("gross_sales", "returns", "revenue", "margin", "revenue_with_cost", "orders", "customers")


@dataclass(frozen=True)
class Windows:
    """The range asked for and the two it can be compared with (inclusive days)."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        return self.start - timedelta(days=self.days), self.start - timedelta(days=1)

    @property
    def last_year(self) -> tuple[date, date]:
        return _year_back(self.start), _year_back(self.end)


def _year_back(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February
        return d.replace(year=d.year - 1, day=28)


def scope_sql(scope: Scope) -> tuple[str, dict]:
    """The scope as a condition on ledger entries ``l`` (their frozen region / team / rep)."""
    if scope.level == "company":
        return "TRUE", {}
    column = {"region": "l.region", "team": "l.team", "rep": "coalesce(l.rep_id, $un)"}[scope.level]
    return f"{column} = $scope_value", {"scope_value": scope.value}


#: the in-memory copy of the scope's entries (see :func:`entries`)
ENTRIES = "entries"


def entries(con: duckdb.DuckDBPyConnection, scope: Scope, settings: PerformanceSettings, anonymous: Sequence[str] = ()):
    """The scope's ledger entries as an Arrow table, one row per entry, with everything a
    selection filters on or sums: ``day`` (see the module docs), ``sale`` / ``sold`` /
    ``ret`` flags, ``amount``, ``margin``, ``cost_known``, ``o`` (the order, a number),
    ``customer_id`` (NULL when anonymous) and the dimensions of :data:`DIMENSION_SQL`.
    Read once; the controller queries its own in-memory copy, so the warehouse is held only
    while this runs."""
    scond, sparams = scope_sql(scope)
    anon, aparams = anonymous_sql("l.customer_id", anonymous)
    dims = ", ".join(f"{sql} AS {name}" for name, sql in DIMENSION_SQL.items())
    sql = f"""
    SELECT {DAY_SQL} AS day, l.kind = 'sale' AS sale, l.kind = 'sale' AND l.amount > 0 AS sold, l.kind = 'return' AS ret,
           l.amount::DOUBLE AS amount, l.margin::DOUBLE AS margin, {cost_known_sql()} AS cost_known,
           hash(l.order_id) AS o, CASE WHEN {anon} THEN NULL ELSE l.customer_id END AS customer_id, {dims}
    FROM ledger l {_JOINS["lines"]} {_JOINS["products"]} {_JOINS["customers"]}
    WHERE {scond}
    ORDER BY day
    """
    params = {"un": settings.unassigned, **sparams, **aparams}
    # execute, not sql(..., params=): a relation from a parameterised query runs on one thread in DuckDB 1.5
    return con.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql}).to_arrow_table()


def _filter_sql(filters: dict[str, str]) -> tuple[str, dict]:
    """The selection's row filters as `` AND column = $f_column`` conditions on the entries."""
    chosen = [name for name in FILTERS if filters.get(name)]
    return "".join(f" AND {name} = $f_{name}" for name in chosen), {f"f_{name}": filters[name] for name in chosen}


def aggregate(mem: duckdb.DuckDBPyConnection, windows: Windows, filters: dict[str, str], dimension: str) -> pd.DataFrame:
    """The one query of a selection, on the in-memory :data:`ENTRIES`: long rows ``part, w,
    key, gross_sales, returns, revenue, margin, revenue_with_cost, cost_known, n``.

    ``w`` is the window (cur, prev, ly; ly is left out when it is the same days as prev),
    whose days are moved onto the range's calendar (the previous period by its length, last
    year by a year), so a key means the same day in every window. ``part``: ``day`` and
    ``member`` carry the sums (per day, per member of ``dimension``); ``o_day`` / ``o_member``
    count orders with a sale (n), ``c_day`` / ``c_week`` / ``c_month`` / ``c_member`` /
    ``c_total`` count distinct identified customers with a sale. An order is dated by its
    sale, so orders of a week are the sum of its days'."""
    fcond, params = _filter_sql(filters)
    prev, ly = windows.previous, windows.last_year
    cols = f"sale, sold, ret, amount, margin, cost_known, o, customer_id, {dimension}"  # only what is summed or counted
    parts = [f"SELECT {cols} AS member, 'cur' AS w, day AS sday FROM {ENTRIES} WHERE day BETWEEN $c_lo AND $c_hi{fcond}",
             f"SELECT {cols}, 'prev', day + $shift FROM {ENTRIES} WHERE day BETWEEN $v_lo AND $v_hi{fcond}"]
    params.update({"c_lo": windows.start, "c_hi": windows.end, "v_lo": prev[0], "v_hi": prev[1], "shift": windows.days})
    if ly != prev:
        parts.append(f"SELECT {cols}, 'ly', CAST(day + INTERVAL 1 YEAR AS DATE) FROM {ENTRIES} WHERE day BETWEEN $y_lo AND $y_hi{fcond}")
        params.update({"y_lo": ly[0], "y_hi": ly[1]})
    sums = """coalesce(sum(amount) FILTER (WHERE sale), 0), coalesce(-sum(amount) FILTER (WHERE ret), 0), sum(amount),
              CASE WHEN bool_or(cost_known) THEN sum(margin) END, coalesce(sum(amount) FILTER (WHERE cost_known), 0),
              bool_or(cost_known), NULL::BIGINT"""
    none = "NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE, NULL::BOOLEAN"
    sql = f"""
    WITH x AS MATERIALIZED ({" UNION ALL ".join(parts)}),
    od AS (SELECT DISTINCT w, sday, o FROM x WHERE sold),
    om AS (SELECT DISTINCT w, member, o FROM x WHERE sold),
    cd AS MATERIALIZED (SELECT DISTINCT w, sday, customer_id FROM x WHERE sold AND customer_id IS NOT NULL),
    cm AS MATERIALIZED (SELECT DISTINCT w, member, customer_id FROM x WHERE sold AND customer_id IS NOT NULL)
    SELECT 'day' AS part, w, CAST(sday AS VARCHAR) AS key, {sums} FROM x GROUP BY w, sday
    UNION ALL SELECT 'member', w, member, {sums} FROM x GROUP BY w, member
    UNION ALL SELECT 'o_day', w, CAST(sday AS VARCHAR), {none}, count(*) FROM od GROUP BY w, sday
    UNION ALL SELECT 'o_member', w, member, {none}, count(*) FROM om GROUP BY w, member
    UNION ALL SELECT 'c_day', w, CAST(sday AS VARCHAR), {none}, count(*) FROM cd GROUP BY w, sday
    UNION ALL SELECT 'c_week', w, CAST(CAST(date_trunc('week', sday) AS DATE) AS VARCHAR), {none}, count(DISTINCT customer_id) FROM cd GROUP BY ALL
    UNION ALL SELECT 'c_month', w, CAST(CAST(date_trunc('month', sday) AS DATE) AS VARCHAR), {none}, count(DISTINCT customer_id) FROM cd GROUP BY ALL
    UNION ALL SELECT 'c_member', w, member, {none}, count(*) FROM cm GROUP BY w, member
    UNION ALL SELECT 'c_total', w, '', {none}, count(DISTINCT customer_id) FROM cm GROUP BY w
    """
    df = mem.execute(sql, params).df()
    df.columns = ["part", "w", "key", "gross_sales", "returns", "revenue", "margin", "revenue_with_cost", "cost_known", "n"]
    return df


def selection_customers(mem: duckdb.DuckDBPyConnection, windows: Windows, filters: dict[str, str]) -> list[str]:
    """The identified customers with a sale in the range within the selection."""
    fcond, params = _filter_sql(filters)
    params.update({"c_lo": windows.start, "c_hi": windows.end})
    sql = f"SELECT DISTINCT customer_id FROM {ENTRIES} WHERE sold AND customer_id IS NOT NULL AND day BETWEEN $c_lo AND $c_hi{fcond}"
    return [r[0] for r in mem.execute(sql, params).fetchall()]


def hierarchy(con: duckdb.DuckDBPyConnection, scope: Scope, settings: PerformanceSettings) -> pd.DataFrame:
    """``region, team, rep, rep_name``: every (region, team, rep) credited in the scope's ledger."""
    scond, sparams = scope_sql(scope)
    return con.execute(
        f"""
        WITH h AS (SELECT DISTINCT l.region, l.team, coalesce(l.rep_id, $un) AS rep FROM ledger l WHERE {scond}),
             names AS (SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps GROUP BY rep_id)
        SELECT h.region, h.team, h.rep, names.rep_name FROM h LEFT JOIN names ON names.rep_id = h.rep
        ORDER BY 1, 2, 3
        """,
        {"un": settings.unassigned, **sparams},
    ).df()


def day_range(con: duckdb.DuckDBPyConnection) -> tuple[date | None, date | None]:
    """The first and last day with ledger entries."""
    first, last = con.execute(f"SELECT min({DAY_SQL}), max({DAY_SQL}) FROM ledger l").fetchone()
    return first, last


def targets(con: duckdb.DuckDBPyConnection, scope: Scope, settings: PerformanceSettings) -> pd.DataFrame:
    """Monthly revenue targets of the scope: ``period, level, region, team, rep, target_revenue``
    (``level``: rep, team or region; a rep's target belongs to the team and region of the rep's
    last stint overlapping the month, as in ``salesml perf``). A team's or region's own target
    (a row without a rep, or without a team) is its own row; :func:`salesml.explore.controller`
    prefers it to the sum of its members', as ``salesml perf`` does."""
    un = settings.unassigned
    sql = """
    WITH t AS (
        SELECT *, last_day(strptime(period || '-01', '%Y-%m-%d')::DATE) AS p_end,
               strptime(period || '-01', '%Y-%m-%d')::DATE AS p_start
        FROM targets
    ),
    reps_t AS (
        SELECT t.period, 'rep' AS level,
               coalesce(CASE WHEN r.valid_to IS NULL OR r.valid_to >= t.p_start THEN r.region END, t.region, $un) AS region,
               coalesce(CASE WHEN r.valid_to IS NULL OR r.valid_to >= t.p_start THEN r.team END, t.team, $un) AS team,
               t.rep_id AS rep, t.target_revenue::DOUBLE AS target_revenue
        FROM t ASOF LEFT JOIN reps r ON t.rep_id = r.rep_id AND t.p_end >= r.valid_from
        WHERE t.rep_id IS NOT NULL
    ),
    team_region AS (SELECT team, arg_max(region, valid_from) AS region FROM reps GROUP BY team),
    own AS (
        SELECT t.period, CASE WHEN t.team IS NULL THEN 'region' ELSE 'team' END AS level,
               coalesce(t.region, tr.region, $un) AS region, t.team, NULL AS rep, t.target_revenue::DOUBLE AS target_revenue
        FROM t LEFT JOIN team_region tr ON tr.team = t.team
        WHERE t.rep_id IS NULL AND (t.team IS NOT NULL OR t.region IS NOT NULL)
    ),
    allt AS (SELECT * FROM reps_t UNION ALL SELECT * FROM own)
    SELECT * FROM allt l WHERE {cond}
    """
    if scope.level == "company":
        cond, params = "TRUE", {}
    elif scope.level == "rep":
        cond, params = "l.rep = $scope_value", {"scope_value": scope.value}
    else:  # a team's or region's own rows and its reps'
        cond, params = f"l.{scope.level} = $scope_value", {"scope_value": scope.value}
    if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'targets'").fetchone()[0]:
        return pd.DataFrame(columns=["period", "level", "region", "team", "rep", "target_revenue"])
    return con.execute(sql.format(cond=cond), {"un": un, **params}).df()
