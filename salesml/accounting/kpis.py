"""Sales KPIs: new vs repeat business, growth, retention, CAC, win rate, sales cycle, funnel,
pipeline coverage, Pareto/ABC, discount leakage, returns and service.

Every KPI is a function of a (short-lived, read-only) DuckDB connection, a period or window
and, where it makes sense, a :class:`~salesml.scope.Scope`. It returns a pandas
DataFrame computed in SQL; the scope is applied in the warehouse query, so a frame made for
a team holds nothing of another team's reps.

Conventions
-----------
* **Revenue comes from the ledger** (``ledger``): an entry counts in the ledger's ``period``
  (the month of the sale, a return in the month of the sale it reverses, an adjustment to a
  closed month in the first open month after it), credited to the ``rep_id`` / ``team`` /
  ``region`` frozen in the entry. So revenue figures agree with ``salesml perf``.
  ``order_lines`` is read only for what the ledger lacks (``discount``, ``channel``), joined
  on ``(order_id, line_no)``.
* **A customer's first sale** is the earliest ``credit_date`` of a *sale line still credited*:
  a line with a ``sale`` entry (and no ``return`` entry) whose ledger entries, posted up to
  the last period asked for, still add up to more than zero (a sale cancelled or corrected
  to nothing does not acquire a customer). "New" means new to the company.
* **Anonymous lines** (walk-in / guest sales: ``customer_id`` NULL, or one of the ids passed
  as ``anonymous``, i.e. ``Settings.anonymous_customer_ids``; see :mod:`salesml.anonymous`)
  are no customer: customer counts (new / repeat customers, cohorts, CAC) leave them out,
  while revenue totals keep them (:func:`new_vs_repeat` gives them a row of their own, so
  its rows still add up to ``salesml perf`` revenue). Figures per customer are of identified
  customers only.
* **Opportunities** are attributed to their rep's team and region through the effective-dated
  hierarchy (``reps``) on a date that depends on the KPI (closing date for win rate and sales
  cycle, creation date for the funnel, the as-of date for the pipeline); an opportunity
  without a rep, or whose rep has no stint then, goes to ``(unassigned)``. ``outcome`` is
  read case-insensitively; when it is missing, a stage ``Closed Won`` / ``Closed Lost``
  decides.
* A window is a month ``YYYY-MM``, ``YYYY-MM..YYYY-MM`` (inclusive), a quarter ``YYYY-Qn``,
  a year ``YYYY`` or a pair of months (see :func:`parse_window`).
* Columns ending in ``_pct`` are percentages (0..100); ``*_rate``, ``retention`` and
  ``coverage*`` are plain ratios (a win rate of 0.6 is 60 %).
* KPIs grouped ``by`` rep / team / region (and the ``by`` dimensions of the ledger KPIs)
  end with one ``(total)`` row: the first key column says ``(total)``, the others are empty,
  and its ratios are recomputed from the totals (never averaged).
* A KPI whose table is absent or empty raises :class:`KpiUnavailable` with a message such as
  ``no opportunities loaded: win rate skipped``; reports show the message instead.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from salesml import warehouse
from salesml.accounting.performance import COST_JOIN, cost_known_sql, margin_sql
from salesml.anonymous import identified_sql
from salesml.config import PerformanceSettings
from salesml.errors import SalesmlError
from salesml.periods import PeriodError, parse_period, period_bounds, period_range, shift_period
from salesml.scope import Scope, check_scope, parse_scope

#: the opportunity stages in order; an open opportunity has reached its stage and all before it
STAGES = ("Prospecting", "Qualification", "Proposal", "Negotiation", "Closed Won")

TOTAL = "(total)"

#: output label of the key columns per hierarchy level (``rep_key`` is shown as ``rep_id``)
_LEVEL_KEYS = {
    "rep": ["rep_key", "team", "region"],
    "team": ["team", "region"],
    "region": ["region"],
    "company": [],
}


class KpiUnavailable(SalesmlError):
    """A KPI cannot be computed from the data loaded (a table is absent or empty)."""


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class Window:
    """Months ``first`` .. ``last`` (inclusive)."""

    first: str
    last: str

    @property
    def start(self) -> date:
        return period_bounds(self.first)[0]

    @property
    def stop(self) -> date:
        """The day after the window."""
        return period_bounds(self.last)[1]

    @property
    def months(self) -> list[str]:
        return period_range(self.first, self.last)

    def __str__(self) -> str:
        return self.first if self.first == self.last else f"{self.first}..{self.last}"


_QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^\d{4}$")


def parse_window(value: str | Window | Sequence[str]) -> Window:
    """A month ``2026-06``, a range ``2026-04..2026-06``, a quarter ``2026-Q2``, a year ``2026``,
    or a pair of months ``("2026-04", "2026-06")``."""
    if isinstance(value, Window):
        return value
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise PeriodError(f"window {value!r}: give two months (first, last)")
        first, last = parse_period(value[0]), parse_period(value[1])
    else:
        text = (value or "").strip()
        if ".." in text:
            a, _, b = text.partition("..")
            first, last = parse_period(a), parse_period(b)
        elif m := _QUARTER.match(text):
            y, q = int(m.group(1)), int(m.group(2))
            first = f"{y:04d}-{3 * q - 2:02d}"
            last = shift_period(first, 2)
        elif _YEAR.match(text):
            first, last = f"{text}-01", f"{text}-12"
        else:
            try:
                first = last = parse_period(text)
            except PeriodError:
                raise PeriodError(
                    f"window {value!r} is not a month (2026-06), a range (2026-04..2026-06), "
                    "a quarter (2026-Q2) or a year (2026)"
                ) from None
    if first > last:
        raise PeriodError(f"window {first}..{last}: the first month is after the last")
    return Window(first, last)


def quarter_of(period: str) -> Window:
    y, m = map(int, parse_period(period).split("-"))
    first = f"{y:04d}-{(m - 1) // 3 * 3 + 1:02d}"
    return Window(first, shift_period(first, 2))


# --------------------------------------------------------------------------- helpers


def _require(con: duckdb.DuckDBPyConnection, table: str, what: str) -> None:
    """Raise KpiUnavailable naming ``table`` when it is absent or has no rows."""
    if not warehouse.table_exists(con, table) or warehouse.row_count(con, table) == 0:
        if table == "ledger":
            raise KpiUnavailable(
                f"no sales in the ledger (no order lines loaded, or the ledger is not posted): {what} skipped"
            )
        raise KpiUnavailable(f"no {table} loaded: {what} skipped")


def _scope(con: duckdb.DuckDBPyConnection, scope: str | Scope | None) -> tuple[Scope, str, dict]:
    s = parse_scope(scope)
    check_scope(con, s)
    cond, params = s.sql()
    return s, cond, params


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pd.DataFrame:
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    return con.execute(sql, used).df()


def _un(settings: PerformanceSettings | None) -> str:
    return (settings or PerformanceSettings()).unassigned


def _grouping(keys: list[str]) -> tuple[str, str, str]:
    """(select list, GROUP BY clause, ORDER BY prefix) for ``keys`` plus a ``(total)`` row."""
    if not keys:
        return "", "", ""
    first = keys[0]
    cols = [f"CASE WHEN grouping({first}) = 1 THEN '{TOTAL}' ELSE {first} END AS {first}", *keys[1:]]
    return ", ".join(cols) + ",", f"GROUP BY GROUPING SETS (({', '.join(keys)}), ())", f"grouping({first}), "


def _div(a, b):
    """a / b as float, NaN when b is not positive or either is missing."""
    a = pd.to_numeric(pd.Series(a), errors="coerce").astype(float)
    b = pd.to_numeric(pd.Series(b), errors="coerce").astype(float)
    return (a / b.where(b > 0)).to_numpy()


def _finish(df: pd.DataFrame, int_cols: Sequence[str] = ()) -> pd.DataFrame:
    df = df.rename(columns={"rep_key": "rep_id"}).reset_index(drop=True)
    for c in int_cols:
        if c in df.columns:
            df[c] = pd.to_numeric(df[c]).fillna(0).astype("int64")
    return df


def _credits_sql(con: duckdb.DuckDBPyConnection, last_period: str, un: str, anonymous: Sequence[str] = ()) -> str:
    """CTEs ``credits`` (sale lines of identified customers still credited, per rep/team/region,
    up to ``last_period``) and ``first_sale``, read from temporary tables computed once per
    connection, ledger state and arguments: the customer figures of one report (new vs
    repeat, cohorts, CAC, the KPI table) share them instead of each rebuilding every
    customer's first sale. Returns the CTE text (it takes no parameters)."""
    who, params = identified_sql("l.customer_id", anonymous)
    entries, last_entry = con.execute("SELECT count(*), coalesce(max(entry_id), 0) FROM ledger").fetchall()[0]
    key = hashlib.sha256(json.dumps([last_period, un, sorted(map(str, anonymous)), entries, last_entry]).encode()).hexdigest()[:16]
    credits, first = f"kpi_credits_{key}", f"kpi_first_sale_{key}"
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [credits]).fetchall()[0][0]:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {credits} AS WITH {_credits_cte(who)} SELECT * FROM credits",
                    {"last_period": last_period, "un": un, **params})
        con.execute(f"CREATE OR REPLACE TEMP TABLE {first} AS "
                    f"SELECT customer_id, min(credit_date) AS first_date FROM {credits} GROUP BY customer_id")
    return f"credits AS (SELECT * FROM {credits}), first_sale AS (SELECT * FROM {first})"


def _credits_cte(who: str) -> str:
    """The ``sale_lines`` and ``credits`` CTEs (parameters ``$last_period``, ``$un`` and those
    of ``who``)."""
    return f"""
    sale_lines AS (
        SELECT order_id, line_no FROM ledger WHERE period <= $last_period
        GROUP BY order_id, line_no
        HAVING bool_or(kind = 'sale') AND NOT bool_or(kind = 'return')
    ),
    credits AS (
        SELECT l.order_id, l.line_no, l.customer_id, l.rep_id, coalesce(l.rep_id, $un) AS rep_key,
               l.team, l.region, min(l.credit_date) AS credit_date, sum(l.amount) AS amount
        FROM ledger l SEMI JOIN sale_lines s ON l.order_id = s.order_id AND l.line_no = s.line_no
        WHERE l.period <= $last_period AND {who}
        GROUP BY l.order_id, l.line_no, l.customer_id, l.rep_id, l.team, l.region
        HAVING sum(l.amount) > 0
    )"""


_LEDGER_DIMS = {
    # by -> (key expressions with aliases, joins needed)
    "product": (
        [("h.product_id", "product_id"), ("any_value(p.name)", "product_name"), ("any_value(coalesce(p.category, '(unknown)'))", "category")],
        ["products"],
    ),
    "category": ([("coalesce(p.category, '(unknown)')", "category")], ["products"]),
    "brand": ([("coalesce(p.brand, '(unknown)')", "brand")], ["products"]),
    "customer": ([("h.customer_id", "customer_id"), ("any_value(c.name)", "customer_name")], ["customers"]),
    "channel": ([("coalesce(ol.channel, '(unknown)')", "channel")], ["order_lines"]),
    "rep": ([("h.rep_key", "rep_key"), ("h.team", "team"), ("h.region", "region")], []),
    "team": ([("h.team", "team"), ("h.region", "region")], []),
    "region": ([("h.region", "region")], []),
    "company": ([], []),
}

_JOINS = {
    "products": "LEFT JOIN products p ON p.product_id = h.product_id",
    "customers": "LEFT JOIN customers c ON c.customer_id = h.customer_id",
    "order_lines": "LEFT JOIN order_lines ol ON ol.order_id = h.order_id AND ol.line_no = h.line_no",
}


def _ledger_dims(by: str, allowed: Sequence[str]) -> tuple[str, str, str, str, str]:
    """For a ``by`` over ledger entries ``h``: (select keys, GROUP BY, ORDER prefix, joins, key names)."""
    if by not in allowed:
        raise ValueError(f"by must be one of {', '.join(allowed)}, got {by!r}")
    dims, joins = _LEDGER_DIMS[by]
    join_sql = "\n".join(_JOINS[j] for j in joins)
    group_keys = [e for e, _ in dims if not e.startswith("any_value")]
    if not dims:
        return "", "", "", join_sql, ""
    first_expr, first_alias = dims[0]
    sel = [f"CASE WHEN grouping({first_expr}) = 1 THEN '{TOTAL}' ELSE {first_expr} END AS {first_alias}"]
    sel += [f"{e} AS {a}" for e, a in dims[1:]]
    group = f"GROUP BY GROUPING SETS (({', '.join(group_keys)}), ())"
    return ", ".join(sel) + ",", group, f"grouping({first_expr}), ", join_sql, ", ".join(a for _, a in dims)


def _opps_sql(at: str, window_filter: str = "TRUE") -> str:
    """CTE ``opps``: opportunities with a normalised outcome, attributed on the date ``at``
    (an expression over ``o``) to the rep's hierarchy stint then."""
    return f"""
    o_raw AS (
        SELECT o.*,
               coalesce(CASE lower(trim(o.outcome)) WHEN 'won' THEN 'won' WHEN 'lost' THEN 'lost' WHEN 'open' THEN 'open' END,
                        CASE lower(trim(o.stage)) WHEN 'closed won' THEN 'won' WHEN 'closed lost' THEN 'lost' ELSE 'open' END)
                   AS result,
               {at} AS at_date
        FROM opportunities o
        WHERE {window_filter}
    ),
    opps AS (
        SELECT o_raw.*, coalesce(o_raw.rep_id, $un) AS rep_key,
               coalesce(CASE WHEN r.valid_to IS NULL OR o_raw.at_date <= r.valid_to THEN r.team END, $un) AS team,
               coalesce(CASE WHEN r.valid_to IS NULL OR o_raw.at_date <= r.valid_to THEN r.region END, $un) AS region
        FROM o_raw ASOF LEFT JOIN reps r ON o_raw.rep_id = r.rep_id AND o_raw.at_date >= r.valid_from
    )"""


def _level(by: str) -> list[str]:
    if by not in _LEVEL_KEYS:
        raise ValueError(f"by must be one of {', '.join(_LEVEL_KEYS)}, got {by!r}")
    return _LEVEL_KEYS[by]


# --------------------------------------------------------------------------- 1. new vs repeat


def new_vs_repeat(
    con: duckdb.DuckDBPyConnection,
    period: str | Window,
    scope: str | Scope | None = None,
    settings: PerformanceSettings | None = None,
    *,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """Revenue, customers and orders of the scope from new vs repeat customers.

    Rows ``customer_type`` = ``new`` and ``repeat``, and ``anonymous`` when the window has
    sales without a customer (``customer_id`` NULL or one of the ids in ``anonymous``, e.g.
    ``settings.anonymous_customer_ids``). A customer is **new** in the window
    when their first sale with the company (earliest ``credit_date`` of a sale line still
    credited, see the module notes; company-wide, whoever sold it) falls in the window;
    every other identified customer with ledger entries of the scope in the window is
    **repeat**. ``revenue`` = all ledger entries of the window's periods for the scope (sales,
    returns, corrections; so the rows add up to ``salesml perf`` revenue, anonymous sales
    included); ``gross_sales`` = its ``sale`` entries; ``customers`` / ``orders`` = distinct
    identified customers (none on the anonymous row) / orders with a positive ``sale`` entry;
    ``*_share_pct`` = the row's part of the total (100 in all); ``revenue_per_customer`` =
    revenue / customers, of identified customers only: anonymous sales are outside it (empty
    on their row).

    Caveat: a customer whose first sale falls in the window but was posted as an adjustment
    into a later open period counts as new in the window of its date, while that revenue
    lands in the later period as repeat revenue.
    """
    w = parse_window(period)
    _require(con, "ledger", "new vs repeat customers")
    s, cond, sp = _scope(con, scope)
    credits = _credits_sql(con, w.last, _un(settings), anonymous)
    who, wp = identified_sql("h.customer_id", anonymous)
    sql = f"""
    WITH {credits},
    h AS (
        SELECT l.*, coalesce(l.rep_id, $un) AS rep_key FROM ledger l
        WHERE l.period >= $first_period AND l.period <= $last_period
    ),
    tagged AS (
        SELECT h.*, CASE WHEN NOT {who} THEN 'anonymous'
                         WHEN f.first_date >= $start AND f.first_date < $stop THEN 'new' ELSE 'repeat' END AS customer_type
        FROM h LEFT JOIN first_sale f ON f.customer_id = h.customer_id
        WHERE {cond}
    )
    SELECT customer_type,
           coalesce(sum(amount), 0) AS revenue,
           coalesce(sum(amount) FILTER (WHERE kind = 'sale'), 0) AS gross_sales,
           count(DISTINCT customer_id) FILTER (WHERE kind = 'sale' AND amount > 0 AND customer_type <> 'anonymous') AS customers,
           count(DISTINCT order_id) FILTER (WHERE kind = 'sale' AND amount > 0) AS orders
    FROM tagged GROUP BY customer_type
    """
    params = {"un": _un(settings), "first_period": w.first, "last_period": w.last, "start": w.start, "stop": w.stop, **sp, **wp}
    got = _run(con, sql, params).set_index("customer_type")
    types = ["new", "repeat"] + (["anonymous"] if "anonymous" in got.index else [])
    df = pd.DataFrame({"customer_type": types}).join(got, on="customer_type")
    df[["revenue", "gross_sales", "customers", "orders"]] = df[["revenue", "gross_sales", "customers", "orders"]].fillna(0)
    df.insert(0, "period", str(w))
    df.insert(1, "scope", str(s))
    for c in ("revenue", "customers", "orders"):
        total = df[c].sum()
        df[f"{c}_share_pct"] = df[c] / total * 100 if total else np.nan
    df["revenue_per_customer"] = _div(df["revenue"], df["customers"])
    return _finish(df, ["customers", "orders"])


# --------------------------------------------------------------------------- 2. growth


def growth(
    con: duckdb.DuckDBPyConnection,
    period: str,
    scope: str | Scope | None = None,
) -> pd.DataFrame:
    """One row: the scope's revenue in ``period`` and its growth.

    ``revenue`` = sum of the scope's ledger entries of the period (= ``salesml perf``);
    ``growth_mom_pct`` = (revenue - previous month's) / previous month's x 100;
    ``growth_yoy_pct`` likewise against the same month a year earlier;
    ``ytd_revenue`` = January .. ``period`` of the same year; ``ytd_revenue_last_year`` =
    the same months a year earlier; ``growth_ytd_pct`` = their growth. A growth is empty when
    the base is not positive, or when the ledger starts after the base's first month (the
    comparison would be with months that have no data; ``note`` says so).
    """
    period = parse_period(period)
    _require(con, "ledger", "growth")
    s, cond, sp = _scope(con, scope)
    year = period[:4]
    ly = shift_period(period, -12)
    ly_jan = f"{int(year) - 1:04d}-01"
    rows = _run(
        con,
        f"""SELECT period, sum(amount) AS revenue
            FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger WHERE period >= $lo AND period <= $hi)
            WHERE {cond} GROUP BY period""",
        {"un": _un(None), "lo": ly_jan, "hi": period, **sp},
    )
    rev = dict(zip(rows["period"], rows["revenue"].astype(float), strict=True))
    data_first = con.execute("SELECT min(period) FROM ledger").fetchall()[0][0]

    def r(p: str) -> float:
        return rev.get(p, 0.0)

    def g(cur: float, base: float, base_first: str) -> float:
        if base_first < data_first or not base > 0:
            return np.nan
        return (cur - base) / base * 100

    prev = shift_period(period, -1)
    months = period_range(f"{year}-01", period)
    ly_months = [shift_period(p, -12) for p in months]
    ytd, ytd_ly = sum(r(p) for p in months), sum(r(p) for p in ly_months)
    notes = []
    if ly_jan < data_first and ly_months[0] < data_first:
        notes.append(f"the ledger starts in {data_first}: no full year-earlier comparison")
    df = pd.DataFrame(
        [
            {
                "period": period,
                "scope": str(s),
                "revenue": r(period),
                "revenue_prev_month": r(prev) if prev >= data_first else np.nan,
                "growth_mom_pct": g(r(period), r(prev), prev),
                "revenue_last_year": r(ly) if ly >= data_first else np.nan,
                "growth_yoy_pct": g(r(period), r(ly), ly),
                "ytd_months": len(months),
                "ytd_revenue": ytd,
                "ytd_revenue_last_year": ytd_ly if ly_months[0] >= data_first else np.nan,
                "growth_ytd_pct": g(ytd, ytd_ly, ly_months[0]),
                "note": "; ".join(notes) or None,
            }
        ]
    )
    return df


# --------------------------------------------------------------------------- 3. cohort retention


def cohort_retention(
    con: duckdb.DuckDBPyConnection,
    last_period: str,
    months: int = 12,
    scope: str | Scope | None = None,
    *,
    wide: bool = False,
    settings: PerformanceSettings | None = None,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """Monthly acquisition cohorts x months since acquisition -> share still buying.

    A customer's **cohort** is the month of their first sale with the company (see the module
    notes; ledger entries posted up to ``last_period``); anonymous sales (no customer, or one
    of the ids in ``anonymous``) are in no cohort. In a scope, the cohorts hold the
    customers the scope *acquired*: whose first sale is credited to the scope (a split first
    order can put a customer in several teams' cohorts). A customer is **active** in a month
    when a sale line of that month (its ``credit_date``) is still credited to them in the
    scope. ``retention`` = active customers / cohort size; month 0 is 1 by construction.

    Long format (default): one row per cohort (the ``months`` months up to ``last_period``,
    cohorts with no customers omitted) and month since acquisition up to ``last_period``:
    ``cohort, cohort_size, months_since, period, active_customers, retention, left_censored``.
    ``left_censored`` marks the ledger's first month: customers who bought before the data
    starts look acquired then. ``wide=True`` pivots to one row per cohort with ``cohort_size``
    and one column of retention per month since acquisition (0, 1, ...).
    """
    last_period = parse_period(last_period)
    if months < 1:
        raise ValueError("months must be at least 1")
    _require(con, "ledger", "cohort retention")
    s, cond, sp = _scope(con, scope)
    first = shift_period(last_period, -(months - 1))
    start, _ = period_bounds(first)
    _, stop = period_bounds(last_period)
    credits = _credits_sql(con, last_period, _un(settings), anonymous)
    sql = f"""
    WITH {credits},
    acq AS (
        SELECT DISTINCT c.customer_id, date_trunc('month', f.first_date) AS cohort
        FROM credits c JOIN first_sale f ON f.customer_id = c.customer_id AND c.credit_date = f.first_date
        WHERE f.first_date >= $start AND f.first_date < $stop AND {cond}
    ),
    act AS (
        SELECT DISTINCT customer_id, date_trunc('month', credit_date) AS m
        FROM credits WHERE credit_date >= $start AND credit_date < $stop AND {cond}
    ),
    sizes AS (SELECT cohort, count(*) AS cohort_size FROM acq GROUP BY cohort),
    active AS (
        SELECT a.cohort, datediff('month', a.cohort, t.m) AS months_since, count(DISTINCT a.customer_id) AS active_customers
        FROM acq a JOIN act t ON t.customer_id = a.customer_id AND t.m >= a.cohort
        GROUP BY ALL
    )
    SELECT strftime(s.cohort, '%Y-%m') AS cohort, s.cohort_size, a.months_since, a.active_customers
    FROM sizes s LEFT JOIN active a USING (cohort)
    """
    params = {"un": _un(settings), "last_period": last_period, "start": start, "stop": stop, **sp}
    got = _run(con, sql, params)
    data_first = con.execute("SELECT strftime(min(credit_date), '%Y-%m') FROM ledger WHERE kind = 'sale'").fetchall()[0][0]
    sizes = got.groupby("cohort")["cohort_size"].first()
    rows = []
    for cohort, size in sizes.items():
        for k, p in enumerate(period_range(cohort, last_period)):
            rows.append((cohort, int(size), k, p))
    grid = pd.DataFrame(rows, columns=["cohort", "cohort_size", "months_since", "period"])
    act = got.dropna(subset=["months_since"])[["cohort", "months_since", "active_customers"]]
    act = act.astype({"months_since": "int64"})
    if grid.empty:
        df = grid.assign(active_customers=pd.Series(dtype="int64"), retention=pd.Series(dtype=float), left_censored=pd.Series(dtype=bool))
    else:
        df = grid.merge(act, on=["cohort", "months_since"], how="left")
        df["active_customers"] = df["active_customers"].fillna(0).astype("int64")
        df["retention"] = df["active_customers"] / df["cohort_size"]
        df["left_censored"] = df["cohort"] == data_first
    df = df.sort_values(["cohort", "months_since"]).reset_index(drop=True)
    if not wide:
        return df
    mat = df.pivot(index=["cohort", "cohort_size", "left_censored"], columns="months_since", values="retention")
    mat.columns.name = None
    return mat.reset_index()


# --------------------------------------------------------------------------- 4. CAC


def cac_by_channel(
    con: duckdb.DuckDBPyConnection,
    window: str | Window | Sequence[str],
    scope: str | Scope | None = None,
    settings: PerformanceSettings | None = None,
    *,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """Customer acquisition cost per acquisition channel (company level only).

    ``spend`` = ``marketing_spend.spend`` of the window's months per channel; ``new_customers``
    = identified customers (not anonymous sales: no customer, or one of the ids in
    ``anonymous``) whose first sale with the company (module notes) falls in the window, by
    ``customers.acquisition_channel`` (``(unknown)`` when missing or the customer is not in
    ``customers``); channels are matched ignoring case and surrounding spaces.
    ``cac`` = spend / new customers, only when both are positive; otherwise empty and
    ``note`` says why: "spend but no new customers", "new customers but no recorded spend".
    Two summary rows follow: ``(paid channels)`` = all spend / new customers of channels with
    spend, and ``(all channels)`` = all spend / all new customers (blended CAC).

    Marketing spend is not attributable to reps, teams or regions: any scope but ``company``
    raises KpiUnavailable.
    """
    w = parse_window(window)
    s = parse_scope(scope)
    if s.level != "company":
        raise KpiUnavailable(f"CAC is company-level (marketing spend is not attributed to reps): skipped for scope {s}")
    _require(con, "marketing_spend", "CAC")
    _require(con, "ledger", "CAC")
    _require(con, "customers", "CAC")
    if not con.execute("SELECT count(acquisition_channel) FROM customers").fetchall()[0][0]:
        raise KpiUnavailable("customers have no acquisition_channel: CAC skipped")
    spent = con.execute(
        "SELECT count(*) FROM marketing_spend WHERE month >= ? AND month <= ?", [w.first, w.last]
    ).fetchall()[0][0]
    if not spent:
        raise KpiUnavailable(f"no marketing_spend recorded for {w}: CAC skipped")
    credits = _credits_sql(con, w.last, _un(settings), anonymous)
    sql = f"""
    WITH {credits},
    new AS (
        SELECT lower(trim(coalesce(c.acquisition_channel, '(unknown)'))) AS k,
               any_value(coalesce(trim(c.acquisition_channel), '(unknown)')) AS channel,
               count(*) AS new_customers
        FROM first_sale f LEFT JOIN customers c ON c.customer_id = f.customer_id
        WHERE f.first_date >= $start AND f.first_date < $stop
        GROUP BY 1
    ),
    sp AS (
        SELECT lower(trim(channel)) AS k, any_value(trim(channel)) AS channel, sum(spend) AS spend
        FROM marketing_spend WHERE month >= $first_period AND month <= $last_period GROUP BY 1
    )
    SELECT coalesce(sp.channel, new.channel) AS channel, coalesce(sp.spend, 0) AS spend,
           coalesce(new.new_customers, 0) AS new_customers
    FROM sp FULL OUTER JOIN new ON sp.k = new.k
    ORDER BY spend DESC, new_customers DESC, channel
    """
    params = {"un": _un(settings), "last_period": w.last, "first_period": w.first, "start": w.start, "stop": w.stop}
    df = _run(con, sql, params)
    df["spend"] = df["spend"].astype(float)
    df["new_customers"] = df["new_customers"].astype("int64")
    paid = df["spend"] > 0
    summary = pd.DataFrame(
        [
            {"channel": "(paid channels)", "spend": df["spend"].sum(), "new_customers": int(df.loc[paid, "new_customers"].sum())},
            {"channel": "(all channels)", "spend": df["spend"].sum(), "new_customers": int(df["new_customers"].sum())},
        ]
    )
    df = pd.concat([df, summary], ignore_index=True)
    df["cac"] = np.where((df["spend"] > 0) & (df["new_customers"] > 0), df["spend"] / df["new_customers"].where(df["new_customers"] > 0), np.nan)
    df["note"] = np.select(
        [(df["spend"] > 0) & (df["new_customers"] == 0), (df["spend"] == 0) & (df["new_customers"] > 0)],
        ["spend but no new customers", "new customers but no recorded spend"],
        default=None,
    )
    df["note"] = df["note"].where(df["note"].notna(), None)
    df.loc[df["channel"] == "(all channels)", "note"] = "blended: all spend / all new customers"
    df.insert(0, "period", str(w))
    return _finish(df, ["new_customers"])


# --------------------------------------------------------------------------- 5. win rate


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


# --------------------------------------------------------------------------- 6. sales cycle


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


# --------------------------------------------------------------------------- 7. funnel


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


# --------------------------------------------------------------------------- 8. pipeline coverage


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


# --------------------------------------------------------------------------- 9. Pareto / ABC


def abc_classes(values: pd.Series, a: float = 0.80, b: float = 0.95) -> pd.DataFrame:
    """ABC classes of items with the given (revenue) values, in the order of ``values``.

    Items are ranked by value, largest first. Only positive values share in the total:
    ``share_pct`` = value / sum of positive values x 100 (a negative item has a negative
    share), and ``cum_share_pct`` runs over positive items; tied values get the same rank,
    cumulative share (that of the whole tie) and class. Class **A** while the cumulative
    share is at most ``a`` (the largest item is always A), **B** while at most ``b``, **C**
    the rest; items with zero or negative value are C with no cumulative share.
    """
    if not 0 < a <= b <= 1:
        raise ValueError(f"ABC thresholds must satisfy 0 < a <= b <= 1, got a={a}, b={b}")
    v = pd.to_numeric(values, errors="coerce").astype(float).fillna(0.0)
    pos = v > 0
    total = v[pos].sum()
    out = pd.DataFrame(index=values.index)
    out["rank"] = v.rank(method="min", ascending=False).astype("int64")
    out["share_pct"] = v / total * 100 if total > 0 else np.nan
    vp = v[pos]
    # cumulative share through the end of each tie group: sum of everything >= the value
    order = np.sort(vp.to_numpy())[::-1]
    cums = np.cumsum(order)
    through = {val: cums[np.searchsorted(-order, -val, side="right") - 1] for val in np.unique(order)}
    cum = vp.map(through) / total * 100 if total > 0 else vp * np.nan
    out["cum_share_pct"] = cum.reindex(out.index)
    top = vp.max() if len(vp) else None
    eps = 1e-9
    cls = np.where(
        ~pos, "C",
        np.where((out["cum_share_pct"] <= a * 100 + eps) | (v == top), "A",
                 np.where(out["cum_share_pct"] <= b * 100 + eps, "B", "C")),
    )
    out["abc"] = cls
    return out


def pareto(
    con: duckdb.DuckDBPyConnection,
    period: str | Window,
    scope: str | Scope | None = None,
    by: str = "product",
    a: float = 0.80,
    b: float = 0.95,
    settings: PerformanceSettings | None = None,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """Revenue concentration: share, cumulative share and ABC class per product (or category,
    brand, customer), largest first. By customer, walk-in / guest sales (no customer, or one of
    the ``anonymous`` ids) are no customer and are left out.

    ``revenue`` = the scope's ledger entries of the window's periods per item (net of returns
    and corrections, as in ``perf``); items with no entries in the window are not listed.
    ``margin`` is over the entries whose line has a cost, empty (not 0) when none has, and
    ``margin_coverage_pct`` the share of the item's revenue it covers (as in ``perf``).
    ``share_pct`` / ``cum_share_pct`` / ``abc`` / ``rank`` as in :func:`abc_classes` (A up to
    ``a`` of revenue, B up to ``b``, C the rest; ties share a class; zero or negative revenue
    is C). Summarise with :func:`abc_summary`.
    """
    w = parse_window(period)
    _require(con, "ledger", "Pareto")
    allowed = ("product", "category", "brand", "customer")
    if by not in allowed:
        raise ValueError(f"by must be one of {', '.join(allowed)}, got {by!r}")
    s, cond, sp = _scope(con, scope)
    if by == "customer":
        who, who_params = identified_sql("customer_id", anonymous)
        cond, sp = f"({cond}) AND {who}", {**sp, **who_params}
    dims, joins = _LEDGER_DIMS[by]
    sel = ", ".join(f"{e} AS {al}" for e, al in dims)
    grp = ", ".join(e for e, _ in dims if not e.startswith("any_value"))
    margin, _, coverage = margin_sql("h.")
    sql = f"""
    WITH h AS (
        SELECT * FROM (SELECT l.*, coalesce(l.rep_id, $un) AS rep_key, {cost_known_sql()} AS cost_known
                       FROM ledger l {COST_JOIN}
                       WHERE l.period >= $first_period AND l.period <= $last_period)
        WHERE {cond}
    )
    SELECT {sel}, sum(h.amount) AS revenue, {margin} AS margin, {coverage} AS margin_coverage_pct,
           sum(h.quantity) AS quantity
    FROM h {" ".join(_JOINS[j] for j in joins)}
    GROUP BY {grp}
    """
    df = _run(con, sql, {"un": _un(settings), "first_period": w.first, "last_period": w.last, **sp})
    key = dims[0][1]
    df = df.sort_values(["revenue", key], ascending=[False, True]).reset_index(drop=True)
    df = pd.concat([df, abc_classes(df["revenue"], a, b)], axis=1)
    df.insert(0, "period", str(w))
    return df


def abc_summary(pareto_df: pd.DataFrame) -> pd.DataFrame:
    """Per ABC class of a :func:`pareto` frame: items, their share of items, revenue and its share."""
    n = len(pareto_df)
    g = pareto_df.groupby("abc")
    out = pd.DataFrame({"items": g.size(), "revenue": g["revenue"].sum()}).reindex(["A", "B", "C"])
    out["items"] = out["items"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    out["items_pct"] = out["items"] / n * 100 if n else np.nan
    pos_total = pareto_df.loc[pareto_df["revenue"] > 0, "revenue"].sum()
    out["revenue_share_pct"] = out["revenue"] / pos_total * 100 if pos_total > 0 else np.nan
    return out.rename_axis("abc").reset_index()


# --------------------------------------------------------------------------- 10. discount leakage


def discount_leakage(
    con: duckdb.DuckDBPyConnection,
    period: str | Window,
    scope: str | Scope | None = None,
    by: str = "category",
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """Revenue given away in discounts, by category (or product, brand, channel, rep, team,
    region, company), with a ``(total)`` row.

    Over the scope's ``sale`` entries of the window's periods (the ledger's ``gross_sales``;
    a split line's part credited to each rep), joined to ``order_lines`` on
    ``(order_id, line_no)`` for the discount ``d`` (a fraction of the list price): the list
    value is net / (1 - d), so ``leakage`` = list - net = net x d / (1 - d).
    ``gross_sales`` = net of all those entries; ``list_value`` = gross_sales + leakage;
    ``leakage_share_pct`` = leakage / list value x 100; ``discounted_lines`` counts entries
    with d > 0. A missing discount counts as none (``no_discount_info`` counts those entries);
    a 100 % discount (net 0, list unknown) adds no leakage and is counted in
    ``full_discount_lines``.
    """
    w = parse_window(period)
    _require(con, "ledger", "discount leakage")
    if not con.execute("SELECT count(discount) FROM order_lines").fetchall()[0][0]:
        raise KpiUnavailable("order_lines have no discount column loaded: discount leakage skipped")
    s, cond, sp = _scope(con, scope)
    dims = ("category", "product", "brand", "channel", "rep", "team", "region", "company")
    sel, group, order, joins, _ = _ledger_dims(by, dims)
    if _JOINS["order_lines"] not in joins:
        joins += "\n" + _JOINS["order_lines"]
    sql = f"""
    WITH h AS (
        SELECT * FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger
                       WHERE period >= $first_period AND period <= $last_period AND kind = 'sale')
        WHERE {cond}
    )
    SELECT {sel}
           coalesce(sum(h.amount), 0) AS gross_sales,
           coalesce(round(sum(CASE WHEN ol.discount > 0 AND ol.discount < 1
                                   THEN h.amount::DOUBLE * ol.discount / (1 - ol.discount) ELSE 0 END), 2), 0) AS leakage,
           count(*) AS lines,
           count(*) FILTER (WHERE ol.discount > 0) AS discounted_lines,
           count(*) FILTER (WHERE ol.discount IS NULL) AS no_discount_info,
           count(*) FILTER (WHERE ol.discount >= 1) AS full_discount_lines
    FROM h {joins}
    {group}
    {"ORDER BY " + order + "gross_sales DESC" if sel else ""}
    """
    df = _run(con, sql, {"un": _un(settings), "first_period": w.first, "last_period": w.last, **sp})
    df["gross_sales"] = df["gross_sales"].astype(float)
    df["list_value"] = df["gross_sales"] + df["leakage"]
    df["leakage_share_pct"] = _div(df["leakage"], df["list_value"]) * 100
    df.insert(0, "period", str(w))
    cols = [c for c in df.columns if c not in ("lines", "discounted_lines", "no_discount_info", "full_discount_lines")]
    df = df[cols + ["lines", "discounted_lines", "no_discount_info", "full_discount_lines"]]
    return _finish(df, ["lines", "discounted_lines", "no_discount_info", "full_discount_lines"])


# --------------------------------------------------------------------------- 11. return rate


def return_rate(
    con: duckdb.DuckDBPyConnection,
    period: str | Window,
    scope: str | Scope | None = None,
    by: str = "category",
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """Returns against gross sales, by category (or product, brand, rep, team, region,
    company), with a ``(total)`` row.

    From the scope's ledger entries of the window's periods, as ``perf`` counts them (a
    return counts in the period of the sale it reverses, or the first open period after it
    when that is closed; charged to the sale's rep): ``gross_sales`` = ``sale`` entries,
    ``returns`` = minus the ``return`` entries, ``return_rate`` = returns / gross sales;
    ``sold_qty`` / ``returned_qty`` likewise in units and ``qty_return_rate`` = returned /
    sold. Corrections are not counted. A rate is empty when nothing was sold (an item with
    only returns in the window).
    """
    w = parse_window(period)
    _require(con, "ledger", "return rate")
    s, cond, sp = _scope(con, scope)
    dims = ("category", "product", "brand", "rep", "team", "region", "company")
    sel, group, order, joins, _ = _ledger_dims(by, dims)
    sql = f"""
    WITH h AS (
        SELECT * FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger
                       WHERE period >= $first_period AND period <= $last_period AND kind IN ('sale', 'return'))
        WHERE {cond}
    )
    SELECT {sel}
           coalesce(sum(h.amount) FILTER (WHERE h.kind = 'sale'), 0) AS gross_sales,
           coalesce(-sum(h.amount) FILTER (WHERE h.kind = 'return'), 0) AS returns,
           coalesce(sum(h.quantity) FILTER (WHERE h.kind = 'sale'), 0) AS sold_qty,
           coalesce(-sum(h.quantity) FILTER (WHERE h.kind = 'return'), 0) AS returned_qty,
           count(*) FILTER (WHERE h.kind = 'return') AS return_lines
    FROM h {joins}
    {group}
    {"ORDER BY " + order + "gross_sales DESC" if sel else ""}
    """
    df = _run(con, sql, {"un": _un(settings), "first_period": w.first, "last_period": w.last, **sp})
    df["return_rate"] = _div(df["returns"], df["gross_sales"])
    df["qty_return_rate"] = _div(df["returned_qty"], df["sold_qty"])
    df.insert(0, "period", str(w))
    return _finish(df, ["return_lines"])


# --------------------------------------------------------------------------- 12. service


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


# --------------------------------------------------------------------------- 13. KPI table


def kpi_table(
    con: duckdb.DuckDBPyConnection,
    period: str,
    scope: str | Scope | None = None,
    settings: PerformanceSettings | None = None,
    *,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """One tidy frame ``kpi, value, unit, note``: the headline of every KPI for the period.

    A KPI that does not apply or whose data is missing has an empty value and its
    :class:`KpiUnavailable` message as the note. Ratios are shown as percentages (unit ``%``).
    Customer counts leave out anonymous sales (no customer, or one of the ids in
    ``anonymous``); revenue keeps them, and the customer notes say their share.
    """
    period = parse_period(period)
    s = parse_scope(scope)
    check_scope(con, s)
    rows: list[dict] = []

    def add(kpi: str, value, unit: str, note: str | None = None) -> None:
        v = None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
        rows.append({"kpi": kpi, "value": v, "unit": unit, "note": note})

    def skip(kpis: Sequence[tuple[str, str]], e: KpiUnavailable) -> None:
        for k, u in kpis:
            add(k, None, u, str(e))

    def total(df: pd.DataFrame) -> pd.Series:
        mask = (df.astype(object) == TOTAL).any(axis=1)
        return df[mask].iloc[-1] if mask.any() else df.iloc[-1]

    try:
        g = growth(con, period, s).iloc[0]
        add("revenue", g["revenue"], "money")
        add("growth vs previous month", g["growth_mom_pct"], "%")
        add("growth vs same month last year", g["growth_yoy_pct"], "%")
        add("revenue year to date", g["ytd_revenue"], "money", f"{g['ytd_months']} months")
        add("year-to-date growth", g["growth_ytd_pct"], "%", g["note"])
    except KpiUnavailable as e:
        skip([("revenue", "money"), ("growth vs previous month", "%"), ("growth vs same month last year", "%"),
              ("revenue year to date", "money"), ("year-to-date growth", "%")], e)
    guests = ""
    try:
        nv = new_vs_repeat(con, period, s, settings, anonymous=anonymous).set_index("customer_type")
        if "anonymous" in nv.index:
            share = nv.loc["anonymous", "revenue_share_pct"]
            guests = "; anonymous (walk-in / guest) sales" + (f" {share:.1f}% of revenue," if pd.notna(share) else "") + " in no customer count"
        add("new customers", nv.loc["new", "customers"], "customers", "identified customers" + guests if guests else None)
        add("revenue from new customers", nv.loc["new", "revenue_share_pct"], "%",
            f"{nv.loc['repeat', 'customers']} repeat customers{guests}")
    except KpiUnavailable as e:
        skip([("new customers", "customers"), ("revenue from new customers", "%")], e)
    try:
        ret = cohort_retention(con, period, 13, s, settings=settings, anonymous=anonymous)
        m1 = ret[ret["months_since"] == 1]
        add("retention after 1 month", m1["active_customers"].sum() / m1["cohort_size"].sum() * 100 if m1["cohort_size"].sum() else None,
            "%", "customers acquired in the 12 months before, who bought again the month after"
            + ("; anonymous sales are in no cohort" if guests else ""))
    except KpiUnavailable as e:
        skip([("retention after 1 month", "%")], e)
    try:
        cac = cac_by_channel(con, period, s, settings, anonymous=anonymous)
        add("customer acquisition cost", cac.loc[cac["channel"] == "(all channels)", "cac"].iloc[0], "money",
            "blended: all marketing spend / all new customers" + ("; anonymous sales acquire no customer" if guests else ""))
    except KpiUnavailable as e:
        skip([("customer acquisition cost", "money")], e)
    try:
        wr = total(win_rate(con, period, s, by="rep", settings=settings))
        add("win rate", wr["win_rate"] * 100 if wr["closed"] else None, "%", f"{wr['won']} won of {wr['closed']} closed")
    except KpiUnavailable as e:
        skip([("win rate", "%")], e)
    try:
        sc = sales_cycle(con, period, s, settings=settings).iloc[0]
        add("sales cycle (median)", sc["median_days"], "days", f"{sc['won']} won opportunities")
    except KpiUnavailable as e:
        skip([("sales cycle (median)", "days")], e)
    try:
        fn = funnel(con, period, s, settings=settings)
        add("opportunities created", fn["reached"].iloc[0], "opportunities", f"amount {fn['reached_amount'].iloc[0]:,.2f}")
    except KpiUnavailable as e:
        skip([("opportunities created", "opportunities")], e)
    try:
        pc = total(pipeline_coverage(con, period, s, by="rep", settings=settings))
        for label, sfx, span in (("month", "", period), ("quarter", "_quarter", str(quarter_of(period)))):
            if pc[f"days_left{sfx}"] == 0:
                note = f"as of {pc['as_of']}: nothing of {span} is left"
            else:
                note = f"as of {pc['as_of']}: pipeline {pc[f'pipeline{sfx}']:,.2f} / remaining target {pc[f'remaining{sfx}']:,.2f}"
            add(f"pipeline coverage (rest of {label})", pc[f"coverage{sfx}"], "x", note)
    except KpiUnavailable as e:
        skip([("pipeline coverage (rest of month)", "x"), ("pipeline coverage (rest of quarter)", "x")], e)
    try:
        pa_ = pareto(con, period, s, settings=settings)
        sm = abc_summary(pa_).set_index("abc")
        add("A-class products", sm.loc["A", "items"], "products",
            f"{sm.loc['A', 'items_pct']:.0f}% of {len(pa_)} products make {sm.loc['A', 'revenue_share_pct']:.0f}% of revenue"
            if len(pa_) else None)
    except KpiUnavailable as e:
        skip([("A-class products", "products")], e)
    try:
        dl = total(discount_leakage(con, period, s, by="category", settings=settings))
        add("discount leakage", dl["leakage"], "money", f"{dl['leakage_share_pct']:.1f}% of list value")
    except KpiUnavailable as e:
        skip([("discount leakage", "money")], e)
    try:
        rr = total(return_rate(con, period, s, by="category", settings=settings))
        add("return rate", rr["return_rate"] * 100 if rr["gross_sales"] > 0 else None, "%", "returns / gross sales")
    except KpiUnavailable as e:
        skip([("return rate", "%")], e)
    try:
        sv = total(service(con, period, s, by="rep", settings=settings))
        add("average satisfaction", sv["avg_satisfaction"], "score 1-5", f"{sv['rated']} rated of {sv['tickets']} tickets")
        add("low satisfaction scores", sv["low_score_rate"] * 100 if sv["rated"] else None, "%", "scores of 1 or 2")
    except KpiUnavailable as e:
        skip([("average satisfaction", "score 1-5"), ("low satisfaction scores", "%")], e)
    df = pd.DataFrame(rows, columns=["kpi", "value", "unit", "note"])
    df.insert(0, "period", period)
    df.insert(1, "scope", str(s))
    return df
