"""Customer KPIs: new vs repeat business, monthly cohort retention and customer acquisition
cost by channel, all built on a customer's first sale (see the package notes)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from salesml.accounting.kpis.common import (
    KpiUnavailable,
    Window,
    _credits_sql,
    _div,
    _finish,
    _require,
    _run,
    _scope,
    _un,
    parse_window,
)
from salesml.anonymous import identified_sql
from salesml.config import PerformanceSettings
from salesml.periods import parse_period, period_bounds, period_range, shift_period
from salesml.scope import Scope, parse_scope

# --------------------------------------------------------------------------- new vs repeat


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


# --------------------------------------------------------------------------- cohort retention


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


# --------------------------------------------------------------------------- CAC


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
