"""The demo company's calendar: the date window and the daily demand intensity.

Day ``t`` is an integer offset from the window's first day (``start``); the window ends at
``n_days - 1`` (``end``). Arrays run on to ``n_total - 1`` = 31 December of the end year,
because targets and open opportunities look into the future.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import holidays as _holidays
import numpy as np

#: Monday .. Sunday (B2B: weekends are quiet)
WEEKLY = np.array([1.08, 1.10, 1.10, 1.06, 1.00, 0.52, 0.40])
#: smooth yearly shape, value at mid-month (Jan .. Dec); Chinese New Year is separate
MONTHLY = np.array([0.97, 0.93, 1.00, 1.00, 1.00, 1.04, 0.95, 0.94, 1.02, 0.98, 1.10, 1.14])
#: per-customer drift per year (company growth comes mostly from the customer base)
TREND = 1.03

#: (offset from the Spring Festival day, factor): stock-up before, dip during, slow restart
CNY_EFFECT = [(-21, -8, 1.22), (-7, -2, 0.80), (-1, 6, 0.16), (7, 13, 0.55), (14, 20, 0.85)]
OTHER_HOLIDAY = 0.50
#: shopping festivals: ramp days factor (rising to), peak-day factor, promo level, discount
F618 = dict(month=6, first=1, peak=18, ramp=0.4, peak_factor=4.0, level=0.25, disc=(0.03, 0.08))
F1111 = dict(month=11, first=1, peak=11, ramp=0.9, peak_factor=4.8, level=0.35, disc=(0.04, 0.10))


def window_start(end: date, years: float) -> date:
    """First day of a window of ``years`` years ending on ``end`` (inclusive)."""
    whole = int(years)
    frac = years - whole
    anchor = end + timedelta(days=1)
    try:
        s = anchor.replace(year=anchor.year - whole)
    except ValueError:  # 29 February
        s = anchor.replace(year=anchor.year - whole, day=28)
    return s - timedelta(days=round(frac * 365.25))


@dataclass(frozen=True)
class Calendar:
    start: date
    end: date
    n_days: int
    n_total: int
    dates: np.ndarray  # datetime64[D], n_total
    year: np.ndarray
    month: np.ndarray
    dom: np.ndarray
    dow: np.ndarray
    #: index of the calendar month of each day (0 = the window's first month)
    month_idx: np.ndarray
    #: global daily order intensity (trend x weekly x seasonal x holidays x festivals)
    intensity: np.ndarray
    #: shopping-festival level (0 .. 1) and discount per day
    event_level: np.ndarray
    event_discount: np.ndarray
    #: category promotions: bool (n_cat, n_total) and their discount
    promo: np.ndarray
    promo_discount: np.ndarray
    #: Spring Festival day per year
    cny: dict[int, date]
    #: (category index, first day, last day, discount)
    promotions: list[tuple[int, int, int, float]]

    def day(self, d: date) -> int:
        return (d - self.start).days

    @property
    def months(self) -> np.ndarray:
        """First day (datetime64[D]) of every calendar month from start to December of the end year."""
        first = np.datetime64(self.start, "M")
        last = np.datetime64(f"{self.end.year}-12", "M")
        return np.arange(first, last + 1).astype("datetime64[D]")


def spring_festivals(first_year: int, last_year: int) -> dict[int, date]:
    hol = _holidays.country_holidays("CN", years=range(first_year, last_year + 1), language="en_US")
    out: dict[int, date] = {}
    for d, name in sorted(hol.items()):
        if "Spring Festival" in name and d.year not in out:
            out[d.year] = d
    return out


def build_calendar(end: date, years: float, n_cat: int, rng: np.random.Generator) -> Calendar:
    start = window_start(end, years)
    horizon = date(end.year, 12, 31)
    n_days = (end - start).days + 1
    n_total = (horizon - start).days + 1
    dates = np.datetime64(start, "D") + np.arange(n_total).astype("timedelta64[D]")
    y = dates.astype("datetime64[Y]").astype(int) + 1970
    m = dates.astype("datetime64[M]").astype(int) % 12 + 1
    dom = (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(int) + 1
    dow = (dates.astype("int64") + 3) % 7  # 1970-01-01 was a Thursday
    doy = (dates - dates.astype("datetime64[Y]").astype("datetime64[D]")).astype(int)
    month_idx = dates.astype("datetime64[M]").astype(int) - np.datetime64(start, "M").astype(int)
    t = np.arange(n_total)

    trend = TREND ** ((t - n_days / 2) / 365.25)
    mids = np.array([15, 45, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349], dtype=float)
    season = np.interp(doy, np.r_[mids - 365, mids, mids + 365], np.r_[MONTHLY, MONTHLY, MONTHLY])
    weekly = WEEKLY[dow].copy()
    factor = np.ones(n_total)

    # public holidays (a quiet day, like a Saturday) and the Spring Festival window
    hol = _holidays.country_holidays("CN", years=range(start.year - 1, horizon.year + 2), language="en_US")
    hol_days = np.array(sorted((d - start).days for d in hol if start <= d <= horizon), dtype=int)
    if len(hol_days):
        weekly[hol_days] = OTHER_HOLIDAY
    cny = spring_festivals(start.year - 1, horizon.year + 1)
    for d in cny.values():
        k = t - (d - start).days
        for lo, hi, f in CNY_EFFECT:
            sel = (k >= lo) & (k <= hi)
            factor[sel] *= f
            if f < 0.5:
                weekly[sel] = 1.0

    # shopping festivals: 618 and Double 11 (the strongest day of the year)
    event_level = np.zeros(n_total)
    event_discount = np.zeros(n_total)
    for fest in (F618, F1111):
        ramp = (m == fest["month"]) & (dom >= fest["first"]) & (dom < fest["peak"])
        peak = (m == fest["month"]) & (dom == fest["peak"])
        factor[ramp] *= 1 + fest["ramp"] * (dom[ramp] - fest["first"]) / (fest["peak"] - fest["first"] - 1)
        factor[peak] *= fest["peak_factor"]
        weekly[peak] = 1.0
        event_level[ramp] = fest["level"]
        event_level[peak] = 1.0
        event_discount[ramp] = fest["disc"][0]
        event_discount[peak] = fest["disc"][1]

    intensity = trend * season * weekly * factor

    # category promotions: a few 1-2 week windows per category and year
    promo = np.zeros((n_cat, n_total), dtype=bool)
    promo_discount = np.zeros((n_cat, n_total))
    promotions: list[tuple[int, int, int, float]] = []
    for yr in range(start.year, horizon.year + 1):
        y0 = (date(yr, 1, 1) - start).days
        y1 = (date(yr, 12, 31) - start).days
        for c in range(n_cat):
            n = int(rng.integers(2, 4))
            firsts = np.sort(rng.integers(y0, y1 - 14, n))
            lengths = rng.integers(7, 15, n)
            discs = np.round(rng.uniform(0.05, 0.20, n), 2)
            for f, ln, dsc in zip(firsts, lengths, discs, strict=True):
                lo, hi = max(int(f), 0), min(int(f + ln - 1), n_total - 1)
                if hi < lo:
                    continue
                promo[c, lo : hi + 1] = True
                promo_discount[c, lo : hi + 1] = np.maximum(promo_discount[c, lo : hi + 1], dsc)
                promotions.append((c, lo, hi, float(dsc)))

    return Calendar(
        start=start,
        end=end,
        n_days=n_days,
        n_total=n_total,
        dates=dates,
        year=y,
        month=m,
        dom=dom,
        dow=dow,
        month_idx=month_idx,
        intensity=intensity,
        event_level=event_level,
        event_discount=event_discount,
        promo=promo,
        promo_discount=promo_discount,
        cny=cny,
        promotions=sorted(promotions),
    )
