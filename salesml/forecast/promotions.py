"""A promotion calendar, and the promotion regressor Prophet learns from.

The calendar (``[forecast] promotions``: a CSV file) lists promotions, past and planned, one
per row: ``category, first_day, last_day, discount`` (a fraction of the price, 0 to 1; an
empty category means every category). Planned rows are what makes it useful: the forecast of a
window that holds a promotion knows about it.

The regressor of a series at a step is the depth of promotion that step:

* a series of one category (``--level category``, or a product of that category): the largest
  discount of that category's promotions running on the day;
* any other series (company, region, team, rep): the mean over the calendar's categories of
  that largest discount, i.e. how much of the catalogue is on promotion, and how deeply;
* weekly and monthly steps: the mean of their days.

``Promotions`` holds the calendar and which category each series belongs to; a model binds it
to one series (``for_series``) before fitting.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from salesml.errors import SalesmlError

COLUMNS = ("category", "first_day", "last_day", "discount")


class PromotionsError(SalesmlError, ValueError):
    """The promotion calendar cannot be read; the message names the file and row."""


def load_promotions(path: str | Path) -> pd.DataFrame:
    """The calendar at ``path`` as ``category`` (None = every category), ``first_day``,
    ``last_day`` (timestamps) and ``discount`` (float): clear errors for a missing file or
    column, and for a row with a bad date, a last day before its first, or a discount outside
    [0, 1] (row numbers count the header as line 1)."""
    path = Path(path)
    if not path.exists():
        raise PromotionsError(f"{path}: no such promotion calendar ([forecast] promotions)")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise PromotionsError(f"{path}: not a readable CSV file ({e})") from e
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise PromotionsError(f"{path}: missing column(s) {', '.join(missing)} (a promotion calendar has {', '.join(COLUMNS)})")
    first = pd.to_datetime(raw["first_day"].str.strip(), format="%Y-%m-%d", errors="coerce")
    last = pd.to_datetime(raw["last_day"].str.strip(), format="%Y-%m-%d", errors="coerce")
    discount = pd.to_numeric(raw["discount"].str.strip(), errors="coerce")
    for i in range(len(raw)):
        where = f"{path}, line {i + 2}"
        if pd.isna(first.iloc[i]) or pd.isna(last.iloc[i]):
            raise PromotionsError(f"{where}: first_day and last_day must be dates (YYYY-MM-DD), got {raw['first_day'].iloc[i]!r} and {raw['last_day'].iloc[i]!r}")
        if last.iloc[i] < first.iloc[i]:
            raise PromotionsError(f"{where}: last_day {last.iloc[i].date()} is before first_day {first.iloc[i].date()}")
        if not 0 <= discount.iloc[i] <= 1:  # NaN fails too
            raise PromotionsError(f"{where}: discount must be a fraction between 0 and 1, got {raw['discount'].iloc[i]!r}")
    category = raw["category"].str.strip()
    return pd.DataFrame({"category": category.where(category != "", None), "first_day": first, "last_day": last, "discount": discount.astype("float64")})


def daily_depth(calendar: pd.DataFrame, days: pd.DatetimeIndex, category: str | None = None) -> np.ndarray:
    """Per day: the largest discount running in ``category`` (promotions without a category
    count for every category), or — ``category`` None — the mean of that over the calendar's
    categories. Pure."""
    days = pd.DatetimeIndex(days).normalize()
    cats = sorted({c for c in calendar["category"] if c is not None})
    wanted = [category] if category is not None else (cats or [None])
    depth = np.zeros((len(wanted), len(days)))
    day_ns = days.to_numpy(dtype="datetime64[ns]")
    for row in calendar.itertuples(index=False):
        on = (day_ns >= row.first_day.to_datetime64()) & (day_ns <= row.last_day.to_datetime64())
        if not on.any():
            continue
        for k, c in enumerate(wanted):
            if row.category is None or row.category == c:
                depth[k, on] = np.maximum(depth[k, on], row.discount)
    return depth.mean(axis=0)


def regressor(calendar: pd.DataFrame, ds, freq: str, category: str | None = None) -> np.ndarray:
    """The promotion regressor at the steps ``ds`` of frequency ``freq`` (days, weeks ending
    on ``ds``, month starts): ``daily_depth`` averaged over each step's days. Pure."""
    ds = pd.DatetimeIndex(ds)
    if freq == "D":
        return daily_depth(calendar, ds, category)
    weekly = freq == "W"  # a week ends on its step's date, a month starts on it
    starts = ds - pd.Timedelta(days=6) if weekly else ds
    ends = ds if weekly else ds + pd.offsets.MonthEnd(0)
    days = pd.date_range(starts.min(), ends.max(), freq="D")
    daily = pd.Series(daily_depth(calendar, days, category), index=days)
    csum = np.concatenate([[0.0], daily.cumsum().to_numpy()])
    lo = days.get_indexer(starts)
    hi = days.get_indexer(ends) + 1
    return (csum[hi] - csum[lo]) / (hi - lo)


@dataclass(frozen=True)
class Promotions:
    """A promotion calendar (``rows``: ``(category or None, first_day, last_day, discount)``
    tuples, as ``load_promotions`` reads them) and the category of each series of a panel
    (``categories``: ``(unique_id, category)`` pairs; a series not listed is a total over the
    categories). Hashable and picklable: it travels with the model to the worker processes."""

    rows: tuple[tuple, ...]
    categories: tuple[tuple[object, str], ...] = ()

    @classmethod
    def from_frame(cls, calendar: pd.DataFrame, categories: dict | None = None) -> Promotions:
        rows = tuple((r.category, pd.Timestamp(r.first_day), pd.Timestamp(r.last_day), float(r.discount)) for r in calendar.itertuples(index=False))
        return cls(rows, tuple(sorted((categories or {}).items(), key=lambda kv: str(kv[0]))))

    @property
    def calendar(self) -> pd.DataFrame:
        return pd.DataFrame(list(self.rows), columns=list(COLUMNS))

    def category_of(self, unique_id) -> str | None:
        return dict(self.categories).get(unique_id)

    def values(self, ds, freq: str, category: str | None) -> np.ndarray:
        return regressor(self.calendar, ds, freq, category)


def series_categories(con, level: str) -> dict:
    """``unique_id -> category`` of a level's series: a category is itself, a product its
    products-table category; other levels are totals (an empty map)."""
    if level == "category":
        rows = con.execute("SELECT DISTINCT coalesce(category, '(unknown)') FROM products").fetchall()
        return {c: c for (c,) in rows}
    if level == "product":
        rows = con.execute("SELECT product_id, category FROM products WHERE category IS NOT NULL").fetchall()
        return dict(rows)
    return {}


__all__ = ["COLUMNS", "Promotions", "PromotionsError", "daily_depth", "load_promotions", "regressor", "series_categories"]
