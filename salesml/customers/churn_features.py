"""Churn features: one pure function per feature group, of (tables, cutoff).

Every group function takes the :class:`ChurnTables` read from the warehouse, a cutoff
date, the churn settings and the customers to describe, and returns one row per customer
(indexed by ``customer_id``). It uses only what was known on or before the cutoff: order
lines and returns by the date they happened, tickets by the date they were opened (and
their satisfaction only once closed by the cutoff). Nothing is mutated.

A group whose table is missing raises :class:`SkipGroup`; :func:`build_features` then
leaves its columns out and records a note ("no tickets loaded: tickets and satisfaction
skipped"), never a traceback.

Anonymous lines (walk-in / guest sales: no customer, or one of
``Settings.anonymous_customer_ids``; see :mod:`salesml.anonymous`) are nobody's purchases:
:func:`load_tables` leaves them out (and an anonymous id's row of the customers and tickets
tables), so they are never active, labelled or scored; :func:`left_out` counts them.

Groups (``W`` = ``lookback_days``, ``r`` = ``recent_days``):

=========  ===========================================================================
rfm        days since the last purchase; orders, net revenue and average order value in W
trend      orders and spend in the last r days vs the r before, and their change
gaps       inter-purchase time: mean and spread of the gaps, days since last / usual gap
pace       orders per month; chance of a quiet horizon at the lookback and lifetime pace,
           and of a silence as long as the current one
tenure     days since the first purchase; orders over the whole history
returns    returned share of gross sales and number of returns in W
discount   revenue-weighted mean discount, share of revenue bought at a discount, and at a
           promotional discount (``promo_discount_margin`` above the customer's median)
breadth    distinct products and categories bought in W
tickets    tickets in the last r days and in W, mean satisfaction, low scores, open tickets
profile    segment, region, acquisition channel (categorical, one-hot in the model)
owners     different reps credited in W, and switches of rep between consecutive orders
calendar   month of the cutoff (the season of the label window, known in advance)
bgnbd      BG/NBD fitted at the cutoff: chance of no purchase in the horizon, P(alive)
=========  ===========================================================================
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from salesml import warehouse
from salesml.anonymous import LeftOut, identified_sql
from salesml.anonymous import left_out as _left_out
from salesml.config import ChurnSettings
from salesml.customers import clv
from salesml.errors import SalesmlError
from salesml.scope import Scope, parse_scope

#: the lifetime pace of a customer is measured over at least this many days
MIN_TENURE_DAYS = 30
#: feature groups that describe the date, not the customer (never a customer's reason)
CONTEXT_GROUPS = ("calendar",)
#: categorical feature columns (one-hot encoded by the model's pipeline)
CATEGORICAL = ("segment", "region", "acquisition_channel")
UNKNOWN = "(unknown)"


class SkipGroup(SalesmlError):
    """A feature group cannot be computed from these tables; the message says why."""


@dataclass(frozen=True)
class ChurnTables:
    """What the churn features are computed from (read by :func:`load_tables`).

    ``lines``: one row per order line and credited rep, net of later corrections:
    customer_id, order_id, line_no, rep_id, kind (``sale`` / ``return``), date (when it
    happened: the sale, or the goods coming back), product_id, category, amount, discount.
    ``orders``: one row per sale order with a positive net amount: customer_id, order_id,
    date, amount, rep_id (the rep credited with most of it).
    """

    lines: pd.DataFrame
    orders: pd.DataFrame
    customers: pd.DataFrame | None = None
    tickets: pd.DataFrame | None = None
    notes: tuple[str, ...] = field(default=())

    # the same rows in date order, computed once: a window is a slice (see _between)

    @functools.cached_property
    def lines_by_date(self) -> pd.DataFrame:
        return _by_date(self.lines)

    @functools.cached_property
    def sales(self) -> pd.DataFrame:
        """The sale lines, in date order."""
        return _by_date(self.lines[self.lines["kind"] == "sale"])

    @functools.cached_property
    def returned(self) -> pd.DataFrame:
        """The return lines, in date order."""
        return _by_date(self.lines[self.lines["kind"] == "return"])

    @functools.cached_property
    def orders_by_date(self) -> pd.DataFrame:
        return _by_date(self.orders)

    @property
    def first_date(self) -> pd.Timestamp | None:
        return None if self.lines.empty else self.lines["date"].min()

    @property
    def last_date(self) -> pd.Timestamp | None:
        return None if self.lines.empty else self.lines["date"].max()


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).astype("datetime64[ns]")


def _text(s: pd.Series) -> pd.Series:
    return s.astype(object).where(s.notna(), None)


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pd.DataFrame:
    """Execute with only the named parameters the statement uses (DuckDB insists)."""
    used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}
    return con.execute(sql, used).df()


def load_tables(
    con: duckdb.DuckDBPyConnection,
    through: date | pd.Timestamp | None = None,
    customers_sql: str = "",
    params: dict | None = None,
    sale_kind: str = "sale",
    return_kind: str = "return",
    anonymous: Sequence[str] = (),
) -> ChurnTables:
    """Read the churn tables from the warehouse (the ledger must be posted).

    ``through`` keeps only what happened on or before that day. ``customers_sql`` (a
    ``SELECT customer_id ...`` with ``$name`` parameters in ``params``) restricts every
    table to those customers, in the warehouse query: a rep's report never holds anyone
    else's customers. Anonymous lines (no customer, or one of the ids in ``anonymous``,
    e.g. ``settings.anonymous_customer_ids``) are left out of every table.
    """

    who, wp = identified_sql("customer_id", anonymous)
    params = {**(params or {}), **wp}
    params["through"] = pd.Timestamp(through).date() if through is not None else date(9999, 12, 31)
    only = f"AND {who}" + (f" AND customer_id IN ({customers_sql})" if customers_sql else "")
    have = {t: warehouse.table_exists(con, t) and warehouse.row_count(con, t) > 0 for t in ("ledger", "products", "customers", "tickets")}
    notes: list[str] = []
    if not have["ledger"]:
        raise SkipGroup("the ledger is empty: load order lines first (`salesml demo` or `salesml ingest`)")
    category = "p.category" if have["products"] else "NULL::VARCHAR"
    products_join = "LEFT JOIN products p ON p.product_id = e.product_id" if have["products"] else ""
    lines = _run(
        con,
        f"""
        WITH e AS (
            SELECT customer_id, order_id, line_no, rep_id, product_id, amount, entry_id,
                   first_value(kind) OVER (PARTITION BY order_id, line_no ORDER BY entry_id) AS line_kind,
                   first_value(event_date) OVER (PARTITION BY order_id, line_no ORDER BY entry_id) AS line_date
            FROM ledger
            WHERE TRUE {only}
        ),
        net AS (
            SELECT customer_id, order_id, line_no, rep_id, any_value(line_kind) AS kind,
                   any_value(line_date) AS date, any_value(product_id) AS product_id,
                   sum(amount)::DOUBLE AS amount
            FROM e GROUP BY customer_id, order_id, line_no, rep_id
            HAVING abs(sum(amount)) >= 0.005
        )
        SELECT e.customer_id, e.order_id, e.line_no, e.rep_id, e.kind, e.date, e.product_id,
               {category} AS category, e.amount, ol.discount::DOUBLE AS discount
        FROM net e
        LEFT JOIN order_lines ol ON ol.order_id = e.order_id AND ol.line_no = e.line_no
        {products_join}
        WHERE e.kind IN ($sale, $ret) AND e.date <= $through
        ORDER BY e.customer_id, e.date, e.order_id, e.line_no, e.rep_id
        """,
        {**params, "sale": sale_kind, "ret": return_kind},
    )
    lines = lines.assign(
        date=_dates(lines["date"]),
        kind=lines["kind"].map({sale_kind: "sale", return_kind: "return"}),
        **{c: _text(lines[c]) for c in ("customer_id", "order_id", "rep_id", "product_id", "category")},
    )
    if not have["products"]:
        notes.append("no products loaded: product breadth skipped")
    customers = None
    if have["customers"]:
        customers = _run(
            con,
            f"""SELECT customer_id, name, segment, region, acquisition_channel, first_order_date, owner_rep_id
                FROM customers WHERE TRUE {only} ORDER BY customer_id""",
            params,
        )
        customers = customers.assign(
            first_order_date=_dates(customers["first_order_date"]),
            **{c: _text(customers[c]) for c in ("customer_id", "name", "segment", "region", "acquisition_channel", "owner_rep_id")},
        )
    else:
        notes.append("no customers loaded: segment/region profile skipped")
    tickets = None
    if have["tickets"]:
        tickets = _run(
            con,
            f"""SELECT customer_id, opened, closed, category, satisfaction::DOUBLE AS satisfaction
                FROM tickets WHERE opened <= $through {only}
                ORDER BY customer_id, opened""",
            params,
        )
        tickets = tickets.assign(
            opened=_dates(tickets["opened"]),
            closed=_dates(tickets["closed"]),
            customer_id=_text(tickets["customer_id"]),
        )
    else:
        notes.append("no tickets loaded: tickets and satisfaction skipped")
    return ChurnTables(lines=lines, orders=derive_orders(lines), customers=customers, tickets=tickets, notes=tuple(notes))


def left_out(
    con: duckdb.DuckDBPyConnection,
    through: date | pd.Timestamp | None = None,
    since: date | pd.Timestamp | None = None,
    scope: str | Scope | None = None,
    anonymous: Sequence[str] = (),
    unassigned: str = "(unassigned)",
) -> LeftOut:
    """The anonymous order lines :func:`load_tables` leaves out: ledger entries that
    happened (``event_date``, else the sale's date) after ``since`` (if given) and on or
    before ``through`` (if given), credited to ``scope`` (the rep / team / region the ledger
    credits; anonymous sales have no owner): lines, orders, net revenue and its share of the
    same entries' revenue (:class:`salesml.anonymous.LeftOut`)."""
    cond, params = parse_scope(scope).sql()
    day = "coalesce(event_date, credit_date)"
    where = [cond]
    if through is not None:
        where.append(f"{day} <= $through")
        params["through"] = pd.Timestamp(through).date()
    if since is not None:
        where.append(f"{day} > $since")
        params["since"] = pd.Timestamp(since).date()
    return _left_out(
        con, " AND ".join(where), {**params, "un": unassigned}, anonymous,
        source="(SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger)",
    )


def derive_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """Sale orders: one row per (customer, order) with a positive net amount, dated by
    their first line; ``rep_id`` is the rep credited with most of the order."""
    sales = lines[lines["kind"] == "sale"]
    if sales.empty:
        return pd.DataFrame({"customer_id": pd.Series(dtype=object), "order_id": pd.Series(dtype=object),
                             "date": pd.Series(dtype="datetime64[ns]"), "amount": pd.Series(dtype=float),
                             "rep_id": pd.Series(dtype=object)})
    keys = ["customer_id", "order_id"]
    orders = sales.groupby(keys, sort=False).agg(date=("date", "min"), amount=("amount", "sum")).reset_index()
    by_rep = sales.groupby([*keys, "rep_id"], sort=False, dropna=False)["amount"].sum().reset_index()
    main = by_rep.sort_values([*keys, "amount"], ascending=[True, True, False], kind="mergesort").drop_duplicates(keys)
    orders = orders.merge(main[[*keys, "rep_id"]], on=keys, how="left")
    orders = orders[orders["amount"] > 0]
    return orders.sort_values(["customer_id", "date", "order_id"], kind="mergesort").reset_index(drop=True)


# --------------------------------------------------------------------------- helpers


def _ts(cutoff) -> pd.Timestamp:
    return pd.Timestamp(cutoff).normalize()


def _by_date(df: pd.DataFrame) -> pd.DataFrame:
    return df.sort_values("date", kind="mergesort").reset_index(drop=True)


def _between(df: pd.DataFrame, col: str, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
    """Rows with start < df[col] <= end (no lower bound when start is None): a slice when the
    rows are in ``col`` order (no copy), else a mask."""
    v = df[col]
    if v.is_monotonic_increasing and not v.hasnans:
        a = v.to_numpy()
        hi = int(np.searchsorted(a, pd.Timestamp(end).to_datetime64(), side="right"))
        lo = 0 if start is None else int(np.searchsorted(a, pd.Timestamp(start).to_datetime64(), side="right"))
        return df.iloc[lo:hi]
    mask = df[col] <= end
    if start is not None:
        mask &= df[col] > start
    return df[mask]


def _days(n: int) -> pd.Timedelta:
    return pd.Timedelta(days=int(n))


def _count(df: pd.DataFrame, customers: pd.Index) -> pd.Series:
    return df.groupby("customer_id").size().reindex(customers, fill_value=0).astype(float)


def _sum(df: pd.DataFrame, col: str, customers: pd.Index) -> pd.Series:
    return df.groupby("customer_id")[col].sum().reindex(customers, fill_value=0.0).astype(float)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, missing where den is 0."""
    den = den.astype(float)
    return (num.astype(float) / den.where(den != 0)).astype(float)


def _frame(customers: pd.Index, **cols: pd.Series) -> pd.DataFrame:
    out = pd.DataFrame({k: v.reindex(customers) for k, v in cols.items()}, index=customers)
    out.index.name = "customer_id"
    return out


# --------------------------------------------------------------------------- feature groups


def rfm(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Days since the last purchase; orders, net revenue (returns netted) and average
    order value in the lookback window."""
    c = _ts(cutoff)
    start = c - _days(s.lookback_days)
    known = _between(t.orders_by_date, "date", None, c)
    last = known.groupby("customer_id")["date"].max().reindex(customers)
    window = _between(known, "date", start, c)
    n = _count(window, customers)
    sales = _sum(window, "amount", customers)
    returns = _sum(_between(t.returned, "date", start, c), "amount", customers)
    return _frame(
        customers,
        recency_days=(c - last).dt.days.astype(float),
        orders_lookback=n,
        revenue_lookback=sales + returns,
        avg_order_value=_ratio(sales, n),
    )


def trend(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Orders and spend in the last ``recent_days`` vs the ``recent_days`` before them;
    the change in spend and orders (missing when there was none before), and the recent
    order count relative to the customer's pace over the lookback window."""
    c = _ts(cutoff)
    r = _days(s.recent_days)
    known = _between(t.orders_by_date, "date", None, c)
    recent = _between(known, "date", c - r, c)
    prior = _between(known, "date", c - 2 * r, c - r)
    year = _between(known, "date", c - _days(s.lookback_days), c)
    o_recent, o_prior = _count(recent, customers), _count(prior, customers)
    s_recent, s_prior = _sum(recent, "amount", customers), _sum(prior, "amount", customers)
    pace = _count(year, customers) * s.recent_days / s.lookback_days
    return _frame(
        customers,
        orders_recent=o_recent,
        orders_prior=o_prior,
        spend_recent=s_recent,
        spend_prior=s_prior,
        spend_change=_ratio(s_recent - s_prior, s_prior),
        orders_change=_ratio(o_recent - o_prior, o_prior),
        recent_vs_pace=_ratio(o_recent, pace),
    )


def gaps(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Inter-purchase time over the history up to the cutoff (purchase days): mean and
    standard deviation of the gaps, and days since the last purchase divided by the mean
    gap (above 1 = overdue). Missing for a customer with a single purchase day."""
    c = _ts(cutoff)
    days = _between(t.orders_by_date, "date", None, c)[["customer_id", "date"]].drop_duplicates()
    days = days.sort_values(["customer_id", "date"], kind="mergesort")
    gap = days.groupby("customer_id")["date"].diff().dt.days
    g = gap.groupby(days["customer_id"])
    mean_gap = g.mean().reindex(customers)
    last = days.groupby("customer_id")["date"].max().reindex(customers)
    since = (c - last).dt.days.astype(float)
    return _frame(
        customers,
        mean_gap_days=mean_gap.astype(float),
        std_gap_days=g.std().reindex(customers).astype(float),
        overdue_ratio=_ratio(since, mean_gap),
    )


def pace(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """The customer's purchase pace as a Poisson rate, and what it makes of the silence:
    the chance of no order in the next ``horizon_days`` at the lookback pace and at the
    lifetime pace (orders since the first purchase over days since it, at least
    ``MIN_TENURE_DAYS``), and the chance of a silence as long as the current one at the
    lifetime pace (small = unusually quiet)."""
    c = _ts(cutoff)
    known = _between(t.orders_by_date, "date", None, c)
    window = _between(known, "date", c - _days(s.lookback_days), c)
    first = known.groupby("customer_id")["date"].min().reindex(customers)
    last = known.groupby("customer_id")["date"].max().reindex(customers)
    age = np.maximum((c - first).dt.days.astype(float), MIN_TENURE_DAYS)
    rate_lookback = _count(window, customers) / s.lookback_days
    rate_lifetime = _count(known, customers) / age
    since = (c - last).dt.days.astype(float)
    return _frame(
        customers,
        orders_per_month=rate_lifetime * 30.0,
        quiet_prob_lookback=np.exp(-rate_lookback * s.horizon_days),
        quiet_prob_lifetime=np.exp(-rate_lifetime * s.horizon_days),
        silence_prob=np.exp(-rate_lifetime * since),
    )


def calendar(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """The month of the cutoff (1-12): the season of the next ``horizon_days``, known in
    advance (quiet seasons and festivals change who buys). The same for every customer at
    a cutoff, so it never counts as a customer's reason."""
    return _frame(customers, cutoff_month=pd.Series(float(_ts(cutoff).month), index=customers))


def tenure(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Days since the first purchase (the earlier of the first order in the data and the
    customer's recorded first order date, when that is on or before the cutoff), and the
    number of orders over the whole history."""
    c = _ts(cutoff)
    known = _between(t.orders_by_date, "date", None, c)
    first = known.groupby("customer_id")["date"].min().reindex(customers)
    if t.customers is not None and not t.customers.empty:
        recorded = t.customers.set_index("customer_id")["first_order_date"]
        recorded = recorded[~recorded.index.duplicated()]
        recorded = recorded.where(recorded <= c).reindex(customers)
        first = pd.concat([first, recorded], axis=1).min(axis=1)
    return _frame(
        customers,
        tenure_days=(c - first).dt.days.astype(float),
        orders_total=_count(known, customers),
    )


def returns(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Returns in the lookback window (by the day the goods came back): the returned share
    of gross sales in the window, and the number of returned lines."""
    c = _ts(cutoff)
    window = _between(t.lines_by_date, "date", c - _days(s.lookback_days), c)
    gross = _sum(window[window["kind"] == "sale"], "amount", customers)
    back = window[window["kind"] == "return"]
    returned = 0.0 - _sum(back, "amount", customers)
    return _frame(customers, return_rate=_ratio(returned, gross), returns_lookback=_count(back, customers))


def discount(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Discount dependence over the sale lines of the lookback window (order lines joined
    on order_id / line_no): revenue-weighted mean discount, share of revenue bought at a
    discount, and share bought at a promotional discount (``promo_discount_margin`` or more
    above the customer's own median discount)."""
    if "discount" not in t.lines or t.lines["discount"].isna().all():
        raise SkipGroup("the order lines carry no discount: discount dependence skipped")
    c = _ts(cutoff)
    window = _between(t.sales, "date", c - _days(s.lookback_days), c)
    window = window[window["discount"].notna()]
    usual = window.groupby("customer_id")["discount"].transform("median")
    amount = window["amount"]
    parts = pd.DataFrame(
        {
            "customer_id": window["customer_id"],
            "amount": amount,
            "weighted": amount * window["discount"],
            "discounted": amount.where(window["discount"] > 0, 0.0),
            "promo": amount.where(window["discount"] >= usual + s.promo_discount_margin - 1e-9, 0.0),
        }
    )
    sums = parts.groupby("customer_id")[["amount", "weighted", "discounted", "promo"]].sum().reindex(customers)
    return _frame(
        customers,
        mean_discount=_ratio(sums["weighted"], sums["amount"].fillna(0)),
        discount_share=_ratio(sums["discounted"], sums["amount"].fillna(0)),
        promo_share=_ratio(sums["promo"], sums["amount"].fillna(0)),
    )


def breadth(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Distinct products and product categories bought in the lookback window."""
    if t.lines["category"].isna().all():
        raise SkipGroup("no product categories (products not loaded): product breadth skipped")
    c = _ts(cutoff)
    window = _between(t.sales, "date", c - _days(s.lookback_days), c)
    g = window.groupby("customer_id")
    return _frame(
        customers,
        products_lookback=g["product_id"].nunique().reindex(customers, fill_value=0).astype(float),
        categories_lookback=g["category"].nunique().reindex(customers, fill_value=0).astype(float),
    )


def tickets(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Service tickets opened in the last ``recent_days`` and in the lookback window;
    satisfaction of the window's tickets closed by the cutoff (mean, and the number of low
    scores); tickets still open at the cutoff."""
    if t.tickets is None or t.tickets.empty:
        raise SkipGroup("no tickets loaded: tickets and satisfaction skipped")
    c = _ts(cutoff)
    tk = _between(t.tickets, "opened", None, c)
    window = _between(tk, "opened", c - _days(s.lookback_days), c)
    recent = _between(tk, "opened", c - _days(s.recent_days), c)
    answered = window[window["closed"].notna() & (window["closed"] <= c) & window["satisfaction"].notna()]
    low = answered[answered["satisfaction"] <= s.low_satisfaction]
    still_open = tk[tk["closed"].isna() | (tk["closed"] > c)]
    return _frame(
        customers,
        tickets_recent=_count(recent, customers),
        tickets_lookback=_count(window, customers),
        mean_satisfaction=answered.groupby("customer_id")["satisfaction"].mean().reindex(customers).astype(float),
        low_scores_lookback=_count(low, customers),
        open_tickets=_count(still_open, customers),
    )


def profile(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Segment, region and acquisition channel of the customer (categorical; "(unknown)"
    when missing). These come from the customers table as loaded, not as of the cutoff."""
    if t.customers is None or t.customers.empty:
        raise SkipGroup("no customers loaded: segment/region profile skipped")
    table = t.customers.drop_duplicates("customer_id").set_index("customer_id")
    if table[list(CATEGORICAL)].isna().all().all():
        raise SkipGroup("the customers carry no segment, region or acquisition channel: profile skipped")
    out = pd.DataFrame(index=customers)
    out.index.name = "customer_id"
    for col in CATEGORICAL:
        out[col] = table[col].reindex(customers).astype(object).where(lambda v: v.notna(), UNKNOWN)
    return out


def owners(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """Different reps credited on the customer's sale lines in the lookback window, and
    how often the main rep changed between consecutive orders there."""
    c = _ts(cutoff)
    start = c - _days(s.lookback_days)
    window = _between(t.sales, "date", start, c)
    window = window[window["rep_id"].notna()]
    reps = window.groupby("customer_id")["rep_id"].nunique().reindex(customers, fill_value=0).astype(float)
    o = _between(t.orders_by_date, "date", start, c)
    o = o[o["rep_id"].notna()].sort_values(["customer_id", "date", "order_id"], kind="mergesort")
    prev = o.groupby("customer_id")["rep_id"].shift()
    switched = (prev.notna() & (prev != o["rep_id"])).groupby(o["customer_id"]).sum()
    return _frame(customers, reps_lookback=reps, rep_switches=switched.reindex(customers, fill_value=0).astype(float))


def bgnbd(t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index) -> pd.DataFrame:
    """The BG/NBD model's own figures (stacking: the strongest baseline as features): the
    model fitted at the cutoff on every identified customer's purchase days up to it, then
    each customer's chance of no purchase in the next ``horizon_days`` and of still being a
    customer. A fit on the boundary of the model is refitted with a small penalizer
    (:func:`salesml.customers.clv.fit_bgnbd`; the frame's ``attrs["notes"]`` says so); where
    no fit is possible (no repeat purchase yet) the figures are missing."""
    c = _ts(cutoff)
    tx = _between(t.orders_by_date, "date", None, c)[["customer_id", "date", "amount"]]
    out = _frame(customers, bgnbd_p_no_purchase=pd.Series(np.nan, index=customers), bgnbd_p_alive=pd.Series(np.nan, index=customers))
    if tx.empty:
        return out
    summary = clv.summary_from_transactions(tx, as_of=c, freq_days=1)
    try:
        bg = clv.fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], s.bgnbd_penalizer, s.bgnbd_boundary_penalizer,
                           "[churn] bgnbd_boundary_penalizer")
    except clv.ClvError:
        return out
    sub = summary.reindex(customers)
    known = sub["frequency"].notna().to_numpy()
    x, tx_, T = (sub[k].to_numpy(dtype=float)[known] for k in ("frequency", "recency", "T"))
    p_none = np.full(len(customers), np.nan)
    alive = np.full(len(customers), np.nan)
    p_none[known] = np.asarray(bg.p_no_purchase(x, tx_, T, float(s.horizon_days)), dtype=float)
    alive[known] = np.asarray(bg.p_alive(x, tx_, T), dtype=float)
    out = _frame(customers, bgnbd_p_no_purchase=pd.Series(p_none, index=customers), bgnbd_p_alive=pd.Series(alive, index=customers))
    if bg.refit_:
        out.attrs["notes"] = [f"cutoff {c.date()}: {bg.refit_}"]
    return out


#: the feature groups, in the order their columns appear
GROUPS: dict[str, Callable[[ChurnTables, object, ChurnSettings, pd.Index], pd.DataFrame]] = {
    "rfm": rfm,
    "trend": trend,
    "gaps": gaps,
    "pace": pace,
    "tenure": tenure,
    "returns": returns,
    "discount": discount,
    "breadth": breadth,
    "tickets": tickets,
    "profile": profile,
    "owners": owners,
    "calendar": calendar,
    "bgnbd": bgnbd,
}


def active_customers(t: ChurnTables, cutoff, s: ChurnSettings) -> pd.Index:
    """Customers with a purchase in the lookback window up to the cutoff (sorted)."""
    c = _ts(cutoff)
    window = _between(t.orders_by_date, "date", c - _days(s.lookback_days), c)
    return pd.Index(sorted(window["customer_id"].unique()), name="customer_id", dtype=object)


@dataclass
class FeatureSet:
    """Features of some customers as of a cutoff: the frame, which group made which
    columns, and the groups skipped (with why)."""

    X: pd.DataFrame
    groups: dict[str, list[str]]
    skipped: dict[str, str]
    #: what a group said about its figures (e.g. a BG/NBD fit refitted off the boundary)
    fit_notes: list[str] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        return [*self.skipped.values(), *self.fit_notes]


def build_features(
    t: ChurnTables, cutoff, s: ChurnSettings, customers: pd.Index | None = None, groups: list[str] | None = None
) -> FeatureSet:
    """Every feature group (or ``groups``) for ``customers`` (default: the active ones)."""
    customers = active_customers(t, cutoff, s) if customers is None else pd.Index(customers, name="customer_id")
    parts, made, skipped, said = [], {}, {}, []
    for name in groups or list(GROUPS):
        try:
            part = GROUPS[name](t, cutoff, s, customers)
        except SkipGroup as e:
            skipped[name] = str(e)
            continue
        said += part.attrs.get("notes", [])
        parts.append(part)
        made[name] = list(part.columns)
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=customers)
    X.index.name = "customer_id"
    for col in X.columns:
        if col not in CATEGORICAL:
            X[col] = X[col].astype(float).replace([np.inf, -np.inf], np.nan)
    return FeatureSet(X=X, groups=made, skipped=skipped, fit_notes=said)
