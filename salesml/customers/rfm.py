"""RFM: recency, frequency and monetary value of every customer as of a date, with 1-5 scores
and named segments.

Definitions (as of a day ``as_of``, within a scope)
---------------------------------------------------
* **Transactions** come from the ledger (``ledger``), never from raw order lines: the entries
  credited to the scope whose ``credit_date`` (the date of the sale) is on or before
  ``as_of`` and whose ``event_date`` is too: a return counts once it has happened, so the
  RFM as of a past day is what was known then (returns arriving later do not rewrite it;
  the migration between two days compares like with like). A return counts against the
  order it reverses (``order_lines.return_of_order_id``) and is dated, like in the ledger,
  by that sale. Corrections, cancellations and reassignments count against their own
  order (their ``event_date`` is the sale's). This is also how
  :mod:`salesml.customers.clv` reads purchases.
* A **purchase** is an order whose entries add up to more than zero (a sale fully returned or
  cancelled is not a purchase). Its date is the date of the sale.
* **recency_days** = days from the last purchase to ``as_of`` (0 = bought that day);
  **frequency** = number of purchases (distinct orders); **monetary** = net revenue: every
  entry of the customer counted above, returns netted (it includes returns that do not
  reference a sale); **tenure_days** = days from the first purchase to ``as_of``.
* Customers without a purchase by ``as_of`` (everything returned) have no row.
* **Anonymous lines** (walk-in / guest sales: ``customer_id`` NULL or one of
  ``Settings.anonymous_customer_ids``, see :mod:`salesml.anonymous`) are nobody's purchases:
  they are left out of the transactions, so they neither get a row nor move the score
  boundaries of the identified customers. :func:`left_out` says how many order lines and how
  much revenue of the same selection (as of the day, within the scope) were left out.
* **Scores** 1-5, higher = better (R 5 = most recent): a customer's mid-rank percentile
  ``p = (rank - 1/2) / n`` (tied customers share the average of their ranks) gives
  ``score = 1 + floor(5 p)``: quintiles of the ranks, computed in exact integer arithmetic.
  Tied values always share a score (``pd.qcut`` on tied values raises "Bin edges must be
  unique"; ranking first avoids it), and a population of identical values all score 3.
* **Scope**: in a region / team / rep scope only the entries credited to it count, so a
  rep's RFM holds the customers whose sales are credited to the rep, measured on those
  sales only (nothing of their purchases from other reps). Their scores rank those values
  among the whole company's customers as of the same day (the quintile boundaries are
  company aggregates; no other customer's row is returned), so a segment means the same
  in every report: the customers of a rep who left a year ago are not "Champions" just
  because they are that rep's best.
* **FM** (the map's second axis) = (F + M) / 2 rounded half up, or F alone
  (``[segments] fm_score``); the **segment** is the first rule of ``[segments] rules``
  that holds (R, FM).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd

from salesml.anonymous import LeftOut, identified_sql, is_anonymous
from salesml.anonymous import left_out as _left_out
from salesml.config import SegmentSettings, Settings
from salesml.errors import SalesmlError
from salesml.periods import PeriodError, latest_complete_period, parse_day, period_bounds
from salesml.scope import Scope, check_scope, parse_scope

#: levels of the R, F and M scores
LEVELS = 5

#: columns of an RFM table, in order
COLUMNS = [
    "customer_id",
    "first_purchase",
    "last_purchase",
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "r_score",
    "f_score",
    "m_score",
    "fm_score",
    "rfm",
    "segment",
]

#: columns of a transaction frame (the input of :func:`rfm_from_transactions`)
TX_COLUMNS = ["customer_id", "order_id", "date", "amount"]
#: the measures of an RFM table (and the features of the clusters)
FEATURES = ("recency_days", "frequency", "monetary")


class SegmentError(SalesmlError, ValueError):
    """An as-of date is malformed, or segments cannot be made from the data."""


def parse_as_of(value: str | date | pd.Timestamp) -> date:
    """A day from ``YYYY-MM-DD`` text, a date or a timestamp."""
    try:
        return parse_day(value, "as-of date")
    except PeriodError as e:
        raise SegmentError(str(e)) from None


def default_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The last day of the latest complete month of sales data."""
    _, stop = period_bounds(latest_complete_period(con))
    return stop - timedelta(days=1)


# --------------------------------------------------------------------------- scores


def score(
    values: pd.Series, higher_is_better: bool = True, levels: int = LEVELS, reference: pd.Series | None = None
) -> pd.Series:
    """1..levels scores from the ranks of ``values`` (ties share a score; see the module docs).

    With ``reference`` (e.g. the whole company's values), each value is ranked among the
    reference values instead: its mid-rank percentile there is
    ``p = (#reference below + #reference equal / 2) / n``, which is the same as above when
    the reference is ``values`` itself."""
    v = pd.to_numeric(values).astype(float)
    ref = v if reference is None else pd.to_numeric(reference).astype(float)
    if v.isna().any() or ref.isna().any():
        raise SegmentError("cannot score missing values")
    n = len(ref)
    if len(v) == 0:
        return pd.Series([], index=values.index, dtype="int64")
    if n == 0:
        raise SegmentError("cannot score against an empty reference")
    sign = 1.0 if higher_is_better else -1.0
    x, r = (sign * v).to_numpy(), np.sort(sign * ref.to_numpy())
    below = np.searchsorted(r, x, side="left")
    equal = np.searchsorted(r, x, side="right") - below
    # score = 1 + floor(levels * p), in integers: 2 n p = 2 below + equal
    out = np.minimum((levels * (2 * below + equal)) // (2 * n) + 1, levels)
    return pd.Series(out.astype("int64"), index=values.index)


def fm_scores(f: pd.Series, m: pd.Series, how: str = "mean") -> pd.Series:
    """The segment map's second axis: (F + M) / 2 rounded half up, or F (``how="f"``)."""
    if how == "f":
        return f.astype("int64")
    if how == "mean":
        return ((f + m + 1) // 2).astype("int64")
    raise SegmentError(f"fm_score must be 'mean' or 'f', got {how!r}")


def assign_segments(r: pd.Series, fm: pd.Series, settings: SegmentSettings | None = None) -> pd.Series:
    """Segment names from R and FM scores through the segment map (the first matching rule)."""
    settings = settings or SegmentSettings()
    grid = settings.score_grid()
    keys = zip(r.astype(int), fm.astype(int), strict=True)
    return pd.Series([grid[k] for k in keys], index=r.index, dtype=object if r.empty else None)


# --------------------------------------------------------------------------- RFM


def _empty() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="int64") for c in COLUMNS})
    for c in ("customer_id", "rfm", "segment"):
        df[c] = df[c].astype(object)
    for c in ("first_purchase", "last_purchase"):
        df[c] = pd.Series(dtype="datetime64[ns]")
    df["monetary"] = df["monetary"].astype(float)
    return df


def rfm_from_transactions(
    tx: pd.DataFrame,
    as_of: str | date | pd.Timestamp,
    settings: SegmentSettings | None = None,
    reference: pd.DataFrame | None = None,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """The RFM table (one row per customer with a purchase) from transactions.

    ``tx`` has ``customer_id, order_id, date, amount``: one row per order, line or ledger
    entry (rows of an order are added up; a return belongs to the order it reverses).
    Rows after ``as_of`` and anonymous rows (no customer, or one of the ids in ``anonymous``,
    e.g. ``settings.anonymous_customer_ids``) are ignored. Scores rank the customers
    among themselves, or among the rows of ``reference`` (an RFM table, e.g. the whole
    company's) when it is given. Pure: ``tx`` is not changed.
    """
    settings = settings or SegmentSettings()
    missing = [c for c in TX_COLUMNS if c not in tx.columns]
    if missing:
        raise SegmentError(f"transactions lack column(s) {', '.join(missing)} (need {', '.join(TX_COLUMNS)})")
    day = pd.Timestamp(parse_as_of(as_of))
    t = pd.DataFrame(
        {
            "customer_id": tx["customer_id"],
            "order_id": tx["order_id"],
            "date": pd.to_datetime(tx["date"]).astype("datetime64[ns]"),
            "amount": pd.to_numeric(tx["amount"]).astype(float),
        }
    )
    t = t[~is_anonymous(t["customer_id"], anonymous) & (t["date"] <= day)]
    orders = t.groupby(["customer_id", "order_id"], sort=False).agg(date=("date", "min"), amount=("amount", "sum")).reset_index()
    orders["amount"] = orders["amount"].round(2)
    purchases = orders[orders["amount"] > 0]
    if purchases.empty:
        return _empty()
    per = purchases.groupby("customer_id").agg(
        first_purchase=("date", "min"), last_purchase=("date", "max"), frequency=("order_id", "nunique")
    )
    per["monetary"] = orders.groupby("customer_id")["amount"].sum().reindex(per.index).round(2)
    df = per.reset_index().sort_values("customer_id", kind="stable").reset_index(drop=True)
    df["recency_days"] = (day - df["last_purchase"]).dt.days.astype("int64")
    df["tenure_days"] = (day - df["first_purchase"]).dt.days.astype("int64")
    df["frequency"] = df["frequency"].astype("int64")
    return with_scores(df, settings, reference)


def with_scores(df: pd.DataFrame, settings: SegmentSettings | None = None, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Add (or recompute) the scores, the RFM cell and the segment of a table with
    ``recency_days``, ``frequency`` and ``monetary``, ranking its customers among themselves
    or among the rows of ``reference``. Other columns are kept (after the RFM columns)."""
    settings = settings or SegmentSettings()
    out = df.copy()

    def ref(col: str) -> pd.Series | None:
        return None if reference is None else reference[col]

    out["r_score"] = score(out["recency_days"], higher_is_better=False, reference=ref("recency_days"))
    out["f_score"] = score(out["frequency"], reference=ref("frequency"))
    out["m_score"] = score(out["monetary"], reference=ref("monetary"))
    out["fm_score"] = fm_scores(out["f_score"], out["m_score"], settings.fm_score)
    out["rfm"] = out["r_score"].astype(str) + out["f_score"].astype(str) + out["m_score"].astype(str)
    out["segment"] = assign_segments(out["r_score"], out["fm_score"], settings)
    return out[[c for c in COLUMNS if c in out.columns] + [c for c in out.columns if c not in COLUMNS]]


def transactions(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """Net revenue per customer and order from the ledger, as of a day, within a scope.

    One row per (customer, order): ``customer_id, order_id, date, amount``, of the entries
    whose sale and event both happened by ``as_of``; a return is booked on the order it
    reverses and ``date`` is the date of the sale (see the module docs). Anonymous lines
    are left out (:func:`left_out` counts them).
    """
    settings = settings or Settings()
    sc = parse_scope(scope)
    check_scope(con, sc)
    cond, params = sc.sql()
    known, kp = _known_by(as_of, "l.")
    who, wp = identified_sql("l.customer_id", settings.anonymous_customer_ids)
    return con.execute(
        f"""
        WITH e AS (
            SELECT l.customer_id, coalesce(ol.return_of_order_id, l.order_id) AS order_id,
                   l.credit_date, l.amount, l.region, l.team, coalesce(l.rep_id, $un) AS rep_key
            FROM ledger l
            LEFT JOIN order_lines ol
              ON ol.order_id = l.order_id AND ol.line_no = l.line_no AND ol.status = $ret
            WHERE {who} AND {known}
        )
        SELECT customer_id, order_id, min(credit_date) AS date, sum(amount)::DOUBLE AS amount
        FROM e WHERE {cond}
        GROUP BY customer_id, order_id
        ORDER BY customer_id, order_id
        """,
        {"un": settings.performance.unassigned, "ret": settings.performance.return_status, **kp, **wp, **params},
    ).df()


def _known_by(as_of: str | date | pd.Timestamp, prefix: str = "") -> tuple[str, dict]:
    """The ledger entries known by ``as_of``: sale and event both on or before it."""
    p = prefix
    return (
        f"{p}credit_date <= $as_of AND coalesce({p}event_date, {p}credit_date) <= $as_of",
        {"as_of": parse_as_of(as_of)},
    )


def left_out(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
) -> LeftOut:
    """The anonymous order lines that :func:`transactions` (and so :func:`rfm`, the clusters
    and the migration) leaves out as of a day within a scope: lines, orders, net revenue and
    its share of the selection's revenue (see :class:`salesml.anonymous.LeftOut`)."""
    settings = settings or Settings()
    sc = parse_scope(scope)
    check_scope(con, sc)
    cond, params = sc.sql()
    known, kp = _known_by(as_of)
    return _left_out(
        con,
        f"{known} AND {cond}",
        {"un": settings.performance.unassigned, **kp, **params},
        settings.anonymous_customer_ids,
        source="(SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger)",
    )


def rfm(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The RFM table of the scope's customers as of a day (see the module docs for definitions):
    ``customer_id, first_purchase, last_purchase, recency_days, frequency, monetary,
    tenure_days, r_score, f_score, m_score, fm_score, rfm, segment``."""
    settings = settings or Settings()
    sc = parse_scope(scope)
    company = rfm_from_transactions(transactions(con, as_of, None, settings), as_of, settings.segments)
    if sc.level == "company":
        return company
    # the scope's customers on the scope's sales, scored against the whole company's customers
    scoped = transactions(con, as_of, sc, settings)
    return rfm_from_transactions(scoped, as_of, settings.segments, reference=company if len(company) else None)


def score_matrix(table: pd.DataFrame, value: str = "customers", rows: str = "r_score", cols: str = "f_score") -> pd.DataFrame:
    """A 5 x 5 grid of an RFM table: ``customers`` (count) or ``revenue`` (sum of monetary) per
    pair of scores; rows R 5 (top) to 1, columns F 1 to 5; empty cells are 0."""
    if value not in ("customers", "revenue"):
        raise ValueError(f"value must be 'customers' or 'revenue', got {value!r}")
    grouped = table.groupby([rows, cols])
    agg = grouped.size() if value == "customers" else grouped["monetary"].sum()
    levels = np.arange(1, LEVELS + 1)
    grid = agg.unstack(cols).reindex(index=levels[::-1], columns=levels).fillna(0)
    grid = grid.astype("int64") if value == "customers" else grid.astype(float).round(2)
    grid.index.name, grid.columns.name = rows, cols
    return grid


def _ordered(names: Sequence[str], order: Sequence[str]) -> list[str]:
    """``order`` first (those present or not), then any other names as they come."""
    return list(dict.fromkeys([*order, *names]))


# --------------------------------------------------------------------------- segment summaries


def segment_summary(table: pd.DataFrame, settings: SegmentSettings | None = None) -> pd.DataFrame:
    """One row per segment of the map (in the order of its rules, empty ones included):
    ``segment, customers, share_pct, revenue, revenue_share_pct, recency_days_mean,
    frequency_mean, monetary_mean, recency_days_median, frequency_median, monetary_median``.

    ``revenue`` is the sum of the customers' monetary value; shares are of the table's
    customers and revenue (percent)."""
    settings = settings or SegmentSettings()
    names = _ordered(table["segment"].dropna().unique().tolist(), settings.segment_names())
    return _profile(table, "segment", names)


def _profile(table: pd.DataFrame, key: str, keys: Sequence) -> pd.DataFrame:
    g = table.groupby(key)
    df = pd.DataFrame(index=pd.Index(list(keys), name=key))
    df["customers"] = g.size().reindex(df.index).fillna(0).astype("int64")
    n = int(df["customers"].sum())
    df["share_pct"] = df["customers"] / n * 100 if n else np.nan
    df["revenue"] = g["monetary"].sum().reindex(df.index).fillna(0.0).astype(float).round(2)
    total = float(table["monetary"].sum())
    df["revenue_share_pct"] = df["revenue"] / total * 100 if total else np.nan
    for stat in ("mean", "median"):
        for c in FEATURES:
            df[f"{c}_{stat}"] = g[c].agg(stat).reindex(df.index).astype(float)
    return df.reset_index()
