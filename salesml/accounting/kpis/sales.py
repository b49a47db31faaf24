"""Revenue KPIs read from the ledger: growth (MoM / YoY / YTD), Pareto / ABC concentration,
discount leakage and return rate."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from salesml.accounting.kpis.common import (
    _JOINS,
    _LEDGER_DIMS,
    KpiUnavailable,
    Window,
    _div,
    _finish,
    _ledger_dims,
    _require,
    _run,
    _scope,
    _un,
    parse_window,
)
from salesml.accounting.performance import cost_known_sql, margin_sql
from salesml.anonymous import identified_sql
from salesml.config import PerformanceSettings
from salesml.periods import parse_period, period_range, shift_period
from salesml.scope import Scope

# --------------------------------------------------------------------------- growth


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


# --------------------------------------------------------------------------- Pareto / ABC


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
                       FROM ledger l
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


# --------------------------------------------------------------------------- discount leakage


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


# --------------------------------------------------------------------------- return rate


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
