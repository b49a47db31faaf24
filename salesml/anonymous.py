"""Anonymous sales: which order lines belong to no customer, and how to leave them out.

Shops sell to walk-in / guest customers. The import keeps such order lines: their
``customer_id`` is empty (NULL), or the id a source names in ``anonymous_customer`` (e.g.
``"GUEST"``; every source's id is in :attr:`salesml.config.Settings.anonymous_customer_ids`).
They count in revenue and performance, but they are nobody: customer models (segments,
clusters, migration, lifetime value, churn) and customer counts (new vs repeat customers,
cohorts, CAC) leave them out, and say how much they left out.

This module owns that rule, for everyone:

* an order line is **anonymous** when its ``customer_id`` is NULL, blank, or one of the
  anonymous ids; every other line has an **identified** customer;
* :func:`identified_sql` / :func:`anonymous_sql`: the SQL condition and its parameters, for
  any query over ``ledger`` or ``order_lines``; :func:`is_anonymous`: the same on a column
  of a DataFrame;
* :class:`LeftOut` and :func:`left_out`: how many anonymous order lines and orders, and how
  much net revenue, a selection of ledger entries holds (and its share of the selection's
  revenue), with the sentence the CLI and the reports print.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

import duckdb
import pandas as pd

from salesml.config import Settings

#: the name of the SQL parameter holding the anonymous ids
PARAM = "anonymous_ids"


def anonymous_ids(source: Settings | Iterable[str] | str | None = None) -> tuple[str, ...]:
    """The anonymous customer ids: those of the settings' sources (``Settings``), or the ids
    given (a string is one id). NULL and blank ids are anonymous whatever this holds."""
    if source is None:
        return ()
    if isinstance(source, Settings):
        return source.anonymous_customer_ids
    if isinstance(source, str):
        source = [source]
    return tuple(sorted({str(v) for v in source if v is not None and str(v).strip()}))


def _condition(column: str, param: str) -> str:
    return f"(nullif(trim({column}), '') IS NULL OR list_contains(${param}::VARCHAR[], {column}))"


def anonymous_sql(column: str = "customer_id", ids: Iterable[str] = (), param: str = PARAM) -> tuple[str, dict]:
    """A SQL condition true for anonymous lines (``column`` NULL, blank or one of ``ids``),
    and its parameters (``$anonymous_ids``, a VARCHAR list; give ``param`` another name when
    a query needs two such conditions)."""
    return _condition(column, param), {param: list(anonymous_ids(ids))}


def identified_sql(column: str = "customer_id", ids: Iterable[str] = (), param: str = PARAM) -> tuple[str, dict]:
    """A SQL condition true for lines with an identified customer (the negation of
    :func:`anonymous_sql`; NULL never passes), and its parameters."""
    return f"NOT {_condition(column, param)}", {param: list(anonymous_ids(ids))}


def is_anonymous(customer_ids: pd.Series, ids: Iterable[str] = ()) -> pd.Series:
    """True where a customer id is missing, blank or one of ``ids`` (a boolean Series on the
    same index; the input is not changed)."""
    text = customer_ids.astype(object).where(customer_ids.notna(), None)
    blank = text.map(lambda v: v is None or not str(v).strip()).astype(bool)
    return blank | text.isin(list(anonymous_ids(ids)))


@dataclass(frozen=True)
class LeftOut:
    """What a customer model or count left out: anonymous order lines of its selection.

    ``lines`` = distinct order lines (order_id, line_no) with an anonymous customer,
    ``orders`` = their distinct orders, ``revenue`` = their net revenue (sales, returns and
    corrections of those lines), ``total_revenue`` = the net revenue of the whole selection,
    anonymous lines included."""

    lines: int = 0
    orders: int = 0
    revenue: float = 0.0
    total_revenue: float = 0.0

    def __bool__(self) -> bool:
        return self.lines > 0

    @property
    def share_pct(self) -> float | None:
        """The anonymous lines' share of the selection's revenue, in percent, to 2 decimals
        (None when the selection has no positive revenue)."""
        share = self._share()
        return None if share is None else round(share, 2)

    def _share(self) -> float | None:
        return self.revenue / self.total_revenue * 100 if self.total_revenue > 0 else None

    def text(self, what: str = "the customer models", money: Callable[[float], str] | None = None) -> str:
        """E.g. ``1,204 anonymous order lines (¥86,310.20, 23.4% of revenue) are not in the
        customer models``; ``money`` formats the amount (default ``86,310.20``)."""
        if not self.lines:
            return f"No anonymous (walk-in / guest) order lines: nothing is left out of {what}"
        amount = money(self.revenue) if money else f"{self.revenue:,.2f}"
        pct = self._share()  # rounded once: 23.2503 is 23.3%, not 23.25 and then 23.2%
        share = f", {pct:.1f}% of revenue" if pct is not None else ""
        noun = "order line" if self.lines == 1 else "order lines"
        verb = "is" if self.lines == 1 else "are"
        orders = f" in {self.orders:,} order{'s' if self.orders != 1 else ''}"
        return f"{self.lines:,} anonymous {noun}{orders} ({amount}{share}) {verb} not in {what}"

    def to_dict(self, what: str = "the customer models") -> dict:
        """The counts, the share and the sentence, for JSON output and recorded figures."""
        return {**asdict(self), "revenue_share_pct": self.share_pct, "note": self.text(what)}


def left_out(
    con: duckdb.DuckDBPyConnection,
    where: str = "TRUE",
    params: dict | None = None,
    ids: Iterable[str] = (),
    *,
    source: str = "ledger",
) -> LeftOut:
    """The anonymous order lines among the rows of ``source`` (a table or a subquery with
    ``order_id, line_no, customer_id, amount``, by default the ledger) that satisfy
    ``where`` (with ``$name`` parameters in ``params``)."""
    cond, p = anonymous_sql("customer_id", ids)
    sql = f"""
    SELECT count(DISTINCT (order_id, line_no)) FILTER (WHERE anon) AS lines,
           count(DISTINCT order_id) FILTER (WHERE anon) AS orders,
           coalesce(sum(amount) FILTER (WHERE anon), 0)::DECIMAL(18,2) AS revenue,
           coalesce(sum(amount), 0)::DECIMAL(18,2) AS total
    FROM (SELECT *, {cond} AS anon FROM {source} AS e WHERE {where}) s
    """
    given = {**(params or {}), **p}
    used = {k: v for k, v in given.items() if re.search(rf"\${k}\b", sql)}
    lines, orders, revenue, total = con.execute(sql, used).fetchall()[0]
    return LeftOut(int(lines), int(orders), float(revenue), float(total))
