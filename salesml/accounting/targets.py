"""Targets: phasing a yearly target into months.

``phase(yearly, year, method)`` turns one target per rep (or team, or region) and year into
twelve monthly targets, in the canonical ``targets`` columns, ready to load:

* ``flat``: one twelfth each;
* ``custom``: by twelve weights (e.g. ``[6, 6, 8, ...]``), normalised;
* ``seasonal``: by the share of each calendar month in the company's revenue over the
  last complete years of the ledger (:func:`seasonal_profile`).

Money is split to the cent with the largest-remainder method, so the months add up to
the yearly figure exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import numpy as np
import pandas as pd

from salesml.errors import SalesmlError

METHODS = ("flat", "custom", "seasonal")
_ENTITY = ("rep_id", "team", "region")


class TargetError(SalesmlError, ValueError):
    """Targets cannot be phased as asked; the message says why."""


def split_cents(total: float, weights: Sequence[float]) -> list[float]:
    """Split ``total`` by ``weights`` into amounts to the cent that add up exactly."""
    w = np.asarray(weights, dtype="float64")
    if len(w) == 0 or (w < 0).any() or w.sum() <= 0:
        raise TargetError(f"weights must be non-negative and not all zero, got {list(weights)}")
    cents = int(round(total * 100))
    raw = cents * w / w.sum()
    floor = np.floor(raw).astype("int64")
    rest = cents - int(floor.sum())
    order = np.argsort(-(raw - floor), kind="stable")
    floor[order[:rest]] += 1
    return [c / 100 for c in floor]


def seasonal_profile(con: duckdb.DuckDBPyConnection, before_year: int, years: int = 2) -> pd.Series:
    """Each calendar month's share of ledger revenue over the ``years`` complete years
    before ``before_year`` (index 1..12, adds up to 1)."""
    first = f"{before_year - years:04d}-01"
    last = f"{before_year - 1:04d}-12"
    df = con.execute(
        """SELECT CAST(substr(period, 6, 2) AS INTEGER) AS month, sum(amount) AS revenue
           FROM ledger WHERE period BETWEEN ? AND ? GROUP BY 1 ORDER BY 1""",
        [first, last],
    ).df()
    months_seen = con.execute("SELECT count(DISTINCT period) FROM ledger WHERE period BETWEEN ? AND ?", [first, last]).fetchall()[0][0]
    if months_seen < 12 * years:
        raise TargetError(
            f"a seasonal profile needs {years} complete year(s) of sales before {before_year} "
            f"({first}..{last}); the ledger has {months_seen} of those months. Use --years 1, or flat/custom"
        )
    profile = df.set_index("month")["revenue"].astype(float).reindex(range(1, 13), fill_value=0.0).clip(lower=0)
    if profile.sum() <= 0:
        raise TargetError("no positive revenue to learn a seasonal profile from")
    return profile / profile.sum()


def phase(yearly: pd.DataFrame, year: int, method: str = "flat", weights: Sequence[float] | None = None, profile: pd.Series | None = None) -> pd.DataFrame:
    """Monthly targets from yearly ones (columns: rep_id and/or team and/or region,
    target_revenue, optional target_margin; an optional ``year`` column must match)."""
    if method not in METHODS:
        raise TargetError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if "target_revenue" not in yearly.columns:
        raise TargetError("the yearly targets need a target_revenue column")
    if not any(c in yearly.columns for c in _ENTITY):
        raise TargetError("the yearly targets need a rep_id, team or region column")
    if "year" in yearly.columns:
        other = yearly.loc[yearly["year"].astype(int) != year, "year"].unique()
        if len(other):
            raise TargetError(f"the file has targets for year(s) {sorted(map(int, other))}, not only {year}")
    if method == "flat":
        w = [1.0] * 12
    elif method == "custom":
        if weights is None or len(weights) != 12:
            raise TargetError("a custom phasing needs 12 weights, one per month")
        w = list(weights)
    else:
        if profile is None:
            raise TargetError("a seasonal phasing needs a profile (see seasonal_profile)")
        w = [float(profile.get(m, 0.0)) for m in range(1, 13)]
    rows = []
    entity_cols = [c for c in _ENTITY if c in yearly.columns]
    for rec in yearly.to_dict(orient="records"):
        rev = split_cents(float(rec["target_revenue"]), w)
        mar = split_cents(float(rec["target_margin"]), w) if pd.notna(rec.get("target_margin")) and "target_margin" in rec else [None] * 12
        for m in range(12):
            row = {c: rec.get(c) for c in entity_cols}
            row.update(period=f"{year:04d}-{m + 1:02d}", target_revenue=rev[m], target_margin=mar[m])
            rows.append(row)
    return pd.DataFrame(rows, columns=[*entity_cols, "period", "target_revenue", "target_margin"])
