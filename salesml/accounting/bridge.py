"""The revenue bridge: why net revenue changed between two periods, split into parts that add up.

Between a *base* and a *current* stretch of months — the month before (``previous``), the same
month a year earlier (``last_year``), or the year to date against the same months a year
earlier (``ytd``) — the change in net revenue (the ledger's ``revenue``, as in
:mod:`salesml.accounting.performance`) of every group (company, region, team, rep or product
category), within a scope, is split into six parts:

* **new_customers** = the sales (gross, before returns) in the current stretch to customers
  who bought from the group then and not in the base stretch (first-time and returning
  buyers alike);
* **lost_customers** = minus the sales in the base stretch to customers who bought then and
  not in the current stretch;
* **price**, **volume**, **mix** = the change in sales to the *retained* customers (those who
  bought in both stretches, and all anonymous / walk-in sales, which cannot be told apart),
  with per product ``p`` sales ``S``, quantity ``Q`` and the base unit value
  ``u(p) = S_base(p) / Q_base(p)`` (the current one when the product sold nothing in the
  base, 0 when it has no quantity in either):

  - price  = sum_p (S_cur(p) - Q_cur(p) * u(p))            (same quantities, new prices)
  - volume = (Q_cur - Q_base) * S_base / Q_base              (more or fewer units at the
    base's average unit value; ``Q`` = all retained units)
  - mix    = sum_p Q_cur(p) * u(p) - Q_cur * S_base / Q_base (units moving between
    cheaper and dearer products)

  so that price + volume + mix = S_cur - S_base exactly;
* **returns** = the change in every entry that is not a sale: returns (negative), and
  adjustments to closed months and corrections posted in the stretch (so a late return of a
  closed month lowers the month it is posted in, as in the performance figures).

``base_revenue + new_customers + lost_customers + price + volume + mix + returns =
revenue`` to the cent: every part is rounded to the cent and the rounding (a few cents at
most) is carried by ``mix``. Groups present in only one stretch have a row (all of a new
group's sales are new customers). Sales split between reps count in each rep's row with
the rep's share of the amount and of the quantity, as in the ledger; a line of no amount (a
sub-cent price rounded to 0.00) has no ledger entry, so its units count nowhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from salesml.config import PerformanceSettings
from salesml.periods import parse_period, period_range, shift_period
from salesml.scope import Scope, ScopeError, check_scope, parse_scope

#: what the current stretch is compared with
COMPARES = ("previous", "last_year", "ytd")
#: levels a bridge can be split by (each row one group)
LEVELS = ("company", "region", "team", "rep", "category")
#: the parts, in the order a waterfall draws them
PARTS = ["new_customers", "lost_customers", "price", "volume", "mix", "returns"]

_KEY = {"company": None, "region": "h.region", "team": "h.team", "rep": "h.rep_key", "category": "coalesce(p.category, '(unknown)')"}
_SCOPE_RANK = {"company": 0, "region": 1, "team": 2, "rep": 3}


def stretches(period: str, compare: str = "previous") -> tuple[list[str], list[str]]:
    """The base and current months of a comparison ending in ``period``."""
    period = parse_period(period)
    if compare == "previous":
        return [shift_period(period, -1)], [period]
    if compare == "last_year":
        return [shift_period(period, -12)], [period]
    if compare == "ytd":
        current = period_range(f"{period[:4]}-01", period)
        return [shift_period(p, -12) for p in current], current
    raise ValueError(f"compare must be one of {', '.join(COMPARES)}, got {compare!r}")


def bridge_lines(
    con: duckdb.DuckDBPyConnection,
    base: Sequence[str],
    current: Sequence[str],
    by: str = "company",
    scope: str | Scope | None = None,
    settings: PerformanceSettings | None = None,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """The ledger of both stretches, summed per group, side, customer status and product.

    Columns: ``group``, ``side`` (``base``/``current``), ``status`` (``retained``, ``new``,
    ``lost`` for sales; ``other`` for every other entry), ``product_id`` (retained sales
    only), ``amount`` and ``quantity``. Only entries inside ``scope`` are read.
    """
    if by not in LEVELS:
        raise ValueError(f"by must be one of {', '.join(LEVELS)}, got {by!r}")
    scope = parse_scope(scope)
    check_scope(con, scope)
    # ``company`` is the scope's own total; a team or region row inside a narrower scope would
    # show a part of the team under the team's name
    if by != "company" and by in _SCOPE_RANK and _SCOPE_RANK[by] < _SCOPE_RANK[scope.level]:
        raise ScopeError(f"scope {scope} is narrower than the level {by!r}: a {scope.level} cannot see its {by}'s figures")
    settings = settings or PerformanceSettings()
    cond, params = scope.sql("h")
    key = _KEY[by] or "'company'"
    sql = f"""
    WITH h AS (
        SELECT l.*, coalesce(l.rep_id, $un) AS rep_key,
               CASE WHEN list_contains($base::VARCHAR[], l.period) THEN 'base' ELSE 'current' END AS side,
               l.customer_id IS NOT NULL AND NOT list_contains($anon::VARCHAR[], l.customer_id) AS identified
        FROM ledger l
        WHERE list_contains($base::VARCHAR[], l.period) OR list_contains($current::VARCHAR[], l.period)
    ),
    e AS (
        SELECT {key} AS "group", h.side, h.kind, h.customer_id, h.identified, h.product_id, h.amount, h.quantity
        FROM h {"LEFT JOIN products p ON p.product_id = h.product_id" if by == "category" else ""}
        WHERE {cond}
    ),
    buyers AS (
        SELECT "group", customer_id, bool_or(side = 'base') AS in_base, bool_or(side = 'current') AS in_current
        FROM e WHERE kind = 'sale' AND identified GROUP BY ALL
    )
    SELECT e."group", e.side,
           CASE WHEN e.kind <> 'sale' THEN 'other'
                WHEN NOT e.identified OR (b.in_base AND b.in_current) THEN 'retained'
                WHEN b.in_current THEN 'new' ELSE 'lost' END AS status,
           CASE WHEN e.kind = 'sale' AND (NOT e.identified OR (b.in_base AND b.in_current)) THEN e.product_id END
               AS product_id,
           sum(e.amount) AS amount, coalesce(sum(e.quantity), 0) AS quantity
    FROM e LEFT JOIN buyers b ON b."group" = e."group" AND b.customer_id = e.customer_id
    GROUP BY ALL
    """
    return con.execute(
        sql, {"base": list(base), "current": list(current), "anon": list(anonymous), "un": settings.unassigned, **params}
    ).df()


def _to_cents(v) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(f"{float(v):.2f}")


def _cents(x: pd.Series) -> pd.Series:
    return x.astype(float).round(2)


def decompose(lines: pd.DataFrame) -> pd.DataFrame:
    """The bridge of every group from :func:`bridge_lines`' sums (pure; input not changed).

    One row per group: ``base_revenue``, the :data:`PARTS`, ``revenue`` and ``change``.
    """
    # DuckDB hands sums of DECIMAL cents over as floats: back to exact cents before adding up
    d = lines.assign(amount=lines["amount"].map(_to_cents, na_action="ignore"), quantity=lines["quantity"].astype(float))
    groups = pd.Index(sorted(d["group"].dropna().unique()), name="group")

    def total(mask: pd.Series) -> pd.Series:
        s = d[mask].groupby("group")["amount"].sum()
        return s.reindex(groups, fill_value=Decimal(0))

    base, cur = d["side"] == "base", d["side"] == "current"
    out = pd.DataFrame(index=groups)
    out["base_revenue"] = total(base)
    out["revenue"] = total(cur)
    out["new_customers"] = total(cur & (d["status"] == "new"))
    out["lost_customers"] = -total(base & (d["status"] == "lost"))
    out["returns"] = total(cur & (d["status"] == "other")) - total(base & (d["status"] == "other"))

    ret = d[d["status"] == "retained"].assign(amount=lambda x: x["amount"].astype(float))
    wide = ret.pivot_table(index=["group", "product_id"], columns="side", values=["amount", "quantity"], aggfunc="sum", fill_value=0.0)
    wide.columns = [f"{m}_{s}" for m, s in wide.columns]
    for c in ("amount_base", "amount_current", "quantity_base", "quantity_current"):
        if c not in wide:
            wide[c] = 0.0
    sa, sb, qa, qb = (wide[c].to_numpy(float) for c in ("amount_base", "amount_current", "quantity_base", "quantity_current"))
    with np.errstate(divide="ignore", invalid="ignore"):
        unit = np.where(qa != 0, sa / qa, np.where(qb != 0, sb / qb, 0.0))
    wide = wide.assign(price=sb - qb * unit, at_base_prices=qb * unit)
    g = wide.groupby(level="group")[["amount_base", "quantity_base", "quantity_current", "price", "at_base_prices"]].sum()
    g = g.reindex(groups, fill_value=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(g["quantity_base"] != 0, g["amount_base"] / g["quantity_base"], 0.0)
    out["price"] = _cents(g["price"])
    out["volume"] = _cents(g["quantity_current"] * avg - g["amount_base"])
    for c in ("new_customers", "lost_customers", "returns", "base_revenue", "revenue"):
        out[c] = out[c].astype(float)
    # the exact change minus the cent-rounded parts: mix plus the rounding of the others
    exact = total(cur) - total(base)
    others = (out[["new_customers", "lost_customers", "returns", "price", "volume"]].sum(axis=1)).map(lambda v: Decimal(f"{v:.2f}"))
    out["mix"] = (exact - others).astype(float)
    out["change"] = exact.astype(float)
    return out.reset_index()[["group", "base_revenue", *PARTS, "revenue", "change"]]


def revenue_bridge(
    con: duckdb.DuckDBPyConnection,
    period: str,
    compare: str = "previous",
    by: str = "company",
    scope: str | Scope | None = None,
    settings: PerformanceSettings | None = None,
    anonymous: Sequence[str] = (),
) -> pd.DataFrame:
    """Why net revenue changed: one row per group of ``by`` inside ``scope``.

    Columns: the group's key (``region``, ``team``, ``rep_id`` + ``rep_name``, ``category``;
    none for ``company``, which is the scope's own total), ``base`` and ``current`` (the stretches, e.g. ``2026-10`` or
    ``2025-01..2025-11``), ``base_revenue``, ``new_customers``, ``lost_customers``,
    ``price``, ``volume``, ``mix``, ``returns``, ``revenue`` and ``change``; sorted by the
    size of the change. ``anonymous`` customer ids count as walk-in sales (retained).
    """
    base, current = stretches(period, compare)
    lines = bridge_lines(con, base, current, by, scope, settings, anonymous)
    df = decompose(lines)
    label = {"base": _label(base), "current": _label(current)}
    df.insert(1, "base", label["base"])
    df.insert(2, "current", label["current"])
    if by == "company":
        return df.drop(columns="group")
    name = {"rep": "rep_id"}.get(by, by)
    df = df.rename(columns={"group": name})
    if by == "rep":
        names = con.execute("SELECT rep_id, arg_max(name, valid_from) AS rep_name FROM reps GROUP BY rep_id").df()
        df = df.merge(names, on="rep_id", how="left")
        df.insert(1, "rep_name", df.pop("rep_name"))
    order = df["change"].abs().sort_values(ascending=False, kind="stable").index
    return df.loc[order].reset_index(drop=True)


def _label(periods: Sequence[str]) -> str:
    return periods[0] if len(periods) == 1 else f"{periods[0]}..{periods[-1]}"
