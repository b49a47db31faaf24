"""Shared ground of the KPI modules: windows (:class:`Window`, :func:`parse_window`,
:func:`quarter_of`), constants (:data:`STAGES`, :data:`TOTAL`, hierarchy level keys),
:class:`KpiUnavailable` and the SQL / frame helpers the KPIs are built from (scope, grouping
with a ``(total)`` row, credited sales and first sales, ledger dimensions, attributed
opportunities). It imports no other KPI module."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from salesml import warehouse
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
