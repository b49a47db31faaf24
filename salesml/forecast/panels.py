"""Long-format panels ``unique_id, ds, y`` from the ledger, at any level and frequency.

``y`` is net revenue (or net quantity) of the sales made in each day / week / month:
returns are netted against the date of the sale they reverse, as the ledger credits them.
(The last weeks of a panel can still lose some revenue to returns that have not arrived.)
Every series has a row for every step from its first sale to the panel's end: gaps are
filled with 0 explicitly, and duplicate dates cannot occur (they are summed).
"""

from __future__ import annotations

import duckdb
import pandas as pd

from salesml.accounting.scope import Scope, parse_scope
from salesml.config import PerformanceSettings
from salesml.errors import SalesmlError

LEVELS = ("company", "region", "team", "rep", "category", "product")
FREQS = {"D": "day", "W": "week", "M": "month"}
#: pandas offsets of the frequencies (weeks end on Sunday, months are month starts)
PANDAS_FREQ = {"D": "D", "W": "W-SUN", "M": "MS"}


class PanelError(SalesmlError, ValueError):
    """A panel cannot be built as asked; the message says why."""


def _key_sql(level: str) -> tuple[str, str]:
    """(SQL expression of the series id, extra join) for a level."""
    return {
        "company": ("'company'", ""),
        "region": ("e.region", ""),
        "team": ("e.team", ""),
        "rep": ("coalesce(e.rep_id, $un)", ""),
        "category": ("coalesce(p.category, '(unknown)')", "LEFT JOIN products p ON p.product_id = e.product_id"),
        "product": ("e.product_id", ""),
    }[level]


def _bucket_sql(freq: str) -> str:
    return {
        "D": "e.credit_date",
        "W": "(date_trunc('week', e.credit_date) + INTERVAL 6 DAY)::DATE",  # week ending Sunday
        "M": "date_trunc('month', e.credit_date)::DATE",
    }[freq]


def panel(
    con: duckdb.DuckDBPyConnection,
    level: str = "company",
    freq: str = "D",
    *,
    measure: str = "amount",
    scope: str | Scope | None = None,
    start: str | None = None,
    end: str | None = None,
    settings: PerformanceSettings | None = None,
) -> pd.DataFrame:
    """``unique_id, ds, y`` for every series of ``level`` (within ``scope``).

    ``measure``: ``amount`` (net revenue) or ``quantity`` (net units). ``end`` defaults to the
    last sale date in the ledger; a partial last week or month is dropped (a forecast of a
    complete step should not learn from a half one).
    """
    if level not in LEVELS:
        raise PanelError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if freq not in FREQS:
        raise PanelError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    if measure not in ("amount", "quantity"):
        raise PanelError(f"measure must be amount or quantity, got {measure!r}")
    key, join = _key_sql(level)
    df, last_step = ledger_sums(con, f"{key} AS unique_id", freq, measure=measure, scope=scope, start=start, end=end, settings=settings, join=join)
    if df.empty:
        return pd.DataFrame({"unique_id": pd.Series(dtype=object), "ds": pd.Series(dtype="datetime64[ns]"), "y": pd.Series(dtype="float64")})
    return fill_gaps(df, freq, end=last_step)


def ledger_sums(
    con: duckdb.DuckDBPyConnection,
    keys: str,
    freq: str,
    *,
    measure: str = "amount",
    scope: str | Scope | None = None,
    start: str | None = None,
    end: str | None = None,
    settings: PerformanceSettings | None = None,
    join: str = "",
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """The ledger's ``measure`` summed per ``keys`` (SQL select items over the ledger ``e``,
    which has ``rep_key``: the rep or the unassigned key; ``join`` adds tables) and step of
    ``freq`` (``ds``, a timestamp), within ``scope`` and ``start``..``end`` (default: the last
    credit date), up to the last complete step; and that step. Gaps are not filled."""
    settings = settings or PerformanceSettings()
    cond, params = parse_scope(scope).sql("e")
    last = con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0]
    if last is None:
        raise PanelError("the ledger is empty: load sales and post them first")
    end_date = pd.Timestamp(end) if end else pd.Timestamp(last)
    df = con.execute(
        f"""
        SELECT {keys}, {_bucket_sql(freq)} AS ds, sum(e.{measure})::DOUBLE AS y
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) e {join}
        WHERE e.credit_date <= $end {"AND e.credit_date >= $start" if start else ""} AND {cond}
        GROUP BY ALL
        """,
        {"un": settings.unassigned, "end": end_date.date(), **({"start": pd.Timestamp(start).date()} if start else {}), **params},
    ).df()
    last_step = _last_complete_step(end_date, freq)
    df["ds"] = pd.to_datetime(df["ds"])
    return df[df["ds"] <= last_step].reset_index(drop=True), last_step


def _last_complete_step(end: pd.Timestamp, freq: str) -> pd.Timestamp:
    end = end.normalize()
    if freq == "D":
        return end
    if freq == "W":
        sunday = end + pd.Timedelta(days=(6 - end.weekday()))
        return sunday if sunday == end else sunday - pd.Timedelta(days=7)
    month_start = end.replace(day=1)
    month_end = month_start + pd.offsets.MonthEnd(0)
    return month_start if end == month_end else month_start - pd.offsets.MonthBegin(1)


def fill_gaps(df: pd.DataFrame, freq: str, end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Sum duplicate dates and add the missing steps (y = 0) from each series' first date to
    ``end`` (default: the panel's last date). Pure: returns a new frame."""
    if df.empty:
        return df.copy()
    summed = df.groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    end = pd.Timestamp(end) if end is not None else summed["ds"].max()
    parts = []
    for uid, g in summed.groupby("unique_id", sort=True):
        idx = pd.date_range(g["ds"].min(), end, freq=PANDAS_FREQ[freq])
        full = g.set_index("ds")["y"].reindex(idx, fill_value=0.0)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": idx, "y": full.to_numpy()}))
    return pd.concat(parts, ignore_index=True)
