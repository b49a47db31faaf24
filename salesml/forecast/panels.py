"""Long-format panels ``unique_id, ds, y`` from the ledger, at any level and frequency, and
the calendar of their steps.

``y`` is net revenue (or net quantity) of the sales made in each day / week / month:
returns are netted against the date of the sale they reverse, as the ledger credits them.
(The last weeks of a panel can still lose some revenue to returns that have not arrived.)
Every series has a row for every step from its first sale to the panel's end: gaps are
filled with 0 explicitly, and duplicate dates cannot occur (they are summed).

Steps are anchored by the data, not assumed (``Steps``): a weekly export dated on the
Friday that ends each week keeps weeks ending Friday, a monthly export dated on the 1st or on
the last day of each month keeps that date, and sales spread over the days of a week or month
get weeks ending Sunday and months dated on the 1st — or what ``[forecast] week_ends`` /
``month_dates`` say. A step is dated by its anchor (the week's last day, the month's 1st or
last day). The step holding the last date with data is complete when that date is the
step's own (a point-dated export) or the step's last day; otherwise it is *partial*: left
out of the panel and named (``Steps.note``), and forecasts start after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from salesml.config import WEEKDAYS, ForecastSettings, PerformanceSettings
from salesml.errors import SalesmlError
from salesml.scope import Scope, parse_scope

LEVELS = ("company", "region", "team", "rep", "category", "product")
#: the level whose pooled pick a level keeps unless its own is clearly better (``[forecast]
#: parent_margin``): the level above it, whose series are sums of its own. The rep level
#: (its own candidates, ``rep_models``) and the product level choose alone
PARENT_LEVEL = {"region": "company", "team": "region", "category": "company"}


def parent_of(level: str | None, fs: ForecastSettings) -> str | None:
    """The level whose pooled pick ``level`` keeps (:data:`PARENT_LEVEL`), or None when it
    keeps none: it chooses alone, the choice is per series, or ``parent_margin`` is 0 (a level
    with none keeps its own pick of one window earlier instead, ``switch_margin``)."""
    if fs.choice != "pooled" or fs.parent_margin <= 0:
        return None
    return PARENT_LEVEL.get(level)
FREQS = {"D": "day", "W": "week", "M": "month"}
#: pandas offsets of the default calendar (sales spread over the days: weeks end on Sunday,
#: months are dated on the 1st); a panel's own are its ``Steps.anchor``
PANDAS_FREQ = {"D": "D", "W": "W-SUN", "M": "MS"}
#: the share of a panel's distinct dates that must fall on one weekday (one day of the month)
#: for the data to count as point-dated weekly (monthly) figures rather than daily sales
POINT_DATED_SHARE = 0.95
#: point-dating is judged on at least this many distinct dates
POINT_DATED_MIN_DATES = 3


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


@dataclass(frozen=True)
class Steps:
    """The calendar of a panel: how its steps are dated and where it ends."""

    freq: str
    #: the pandas offset alias of a step: "D", "W-FRI", "MS" (month dated on the 1st), "ME"
    anchor: str
    #: every sale of a step carries one date, the step's own (a weekly or monthly export)
    point_dated: bool
    #: the last date with data (or the ``end`` asked for)
    through: pd.Timestamp
    #: the last complete step: the panel's last ``ds``
    last: pd.Timestamp
    #: the step after ``last`` when it holds data but is only partly observed (left out)
    partial: pd.Timestamp | None = None

    @property
    def first_forecast(self) -> pd.Timestamp:
        """The first step a forecast gives: the first one after the last with data."""
        return step_after(self.partial if self.partial is not None else self.last, self.anchor)

    def describe(self) -> str:
        """The calendar in words (``weeks ending Friday (the data's own)``)."""
        if self.freq == "D":
            return "days"
        if self.freq == "W":
            day = pd.Timestamp("2024-01-01") + pd.Timedelta(days=WEEKDAYS.index(self.anchor[2:]))  # a Monday
            return f"weeks ending {day:%A}"
        return "months dated on the 1st" if self.anchor == "MS" else "months dated on their last day"

    def note(self) -> str | None:
        """The partial step, named; None when the panel ends on a complete step."""
        if self.partial is None:
            return None
        step = {"D": "day", "W": "week ending", "M": "month"}[self.freq]
        when = f"{self.partial:%Y-%m}" if self.freq == "M" else f"{self.partial:%Y-%m-%d}"
        return (f"the {step} {when} is partial (data through {self.through:%Y-%m-%d}): left out of the history; "
                f"forecasts start with {self.first_forecast:%Y-%m-%d}")


def without_partial(forecasts: pd.DataFrame, steps: Steps | None) -> pd.DataFrame:
    """Forecast rows (``ds``) of a run made one step longer because its data ends inside a
    step, without that partial step: forecasts start after the last step with data."""
    if steps is None or steps.partial is None or forecasts.empty:
        return forecasts
    return forecasts[pd.to_datetime(forecasts["ds"]) != steps.partial]


def step_offset(freq: str, ds) -> str | pd.DateOffset:
    """The pandas offset that steps from ``ds`` to the next step of ``freq``, keeping the
    anchor ``ds`` has: weeks end on its weekday, months keep the 1st, the last day, or
    (neither) the same day of the month."""
    if freq == "D":
        return "D"
    ds = pd.Timestamp(ds)
    if freq == "W":
        return f"W-{WEEKDAYS[ds.weekday()]}"
    if ds.day == 1:
        return "MS"
    if ds.is_month_end:
        return "ME"
    return pd.DateOffset(months=1)


def step_after(ds, anchor: str | pd.DateOffset) -> pd.Timestamp:
    return pd.Timestamp(ds) + pd.tseries.frequencies.to_offset(anchor)


def _share(mask) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def data_anchor(dates: pd.Series, freq: str, forecast: ForecastSettings | None = None) -> tuple[str, bool]:
    """``(anchor, point_dated)`` of a panel from its distinct dates and ``[forecast]``
    ``week_ends`` / ``month_dates`` (pure)."""
    fs = forecast or ForecastSettings()
    d = pd.DatetimeIndex(pd.to_datetime(pd.Series(dates).dropna().unique()))
    enough = len(d) >= POINT_DATED_MIN_DATES
    if freq == "D":
        return "D", True
    if freq == "W":
        if fs.week_ends:
            wd = WEEKDAYS.index(fs.week_ends.upper())
            return f"W-{WEEKDAYS[wd]}", enough and _share(d.weekday == wd) >= POINT_DATED_SHARE
        if enough:
            top = int(pd.Series(d.weekday).mode().iloc[0])
            if _share(d.weekday == top) >= POINT_DATED_SHARE:
                return f"W-{WEEKDAYS[top]}", True
        return PANDAS_FREQ["W"], False
    on_first, on_last = _share(d.day == 1), _share(d.is_month_end)
    if fs.month_dates:
        anchor = "MS" if fs.month_dates == "start" else "ME"
        return anchor, enough and (on_first if anchor == "MS" else on_last) >= POINT_DATED_SHARE
    if enough and on_first >= POINT_DATED_SHARE:
        return "MS", True
    if enough and on_last >= POINT_DATED_SHARE:
        return "ME", True
    return PANDAS_FREQ["M"], False


def bucket(ds, anchor: str) -> pd.Timestamp:
    """The step (its date) a day belongs to under ``anchor``."""
    ds = pd.Timestamp(ds).normalize()
    if anchor == "D":
        return ds
    if anchor.startswith("W-"):
        return ds + pd.Timedelta(days=(WEEKDAYS.index(anchor[2:]) - ds.weekday()) % 7)
    return ds.replace(day=1) if anchor == "MS" else ds + pd.offsets.MonthEnd(0)


def calendar(dates: pd.Series, freq: str, through, forecast: ForecastSettings | None = None) -> Steps:
    """The ``Steps`` of a panel whose distinct dates are ``dates``, up to ``through`` (pure)."""
    anchor, point = data_anchor(dates, freq, forecast)
    through = pd.Timestamp(through).normalize()
    step = bucket(through, anchor)
    if anchor == "D":
        complete = True
    elif point:  # the step's sales are all on its own date: complete once that date is in
        complete = through >= (step.replace(day=1) if anchor == "MS" else step)
    else:  # sales over the step's days: complete on its last day
        complete = through >= (step + pd.offsets.MonthEnd(0) if anchor == "MS" else step)
    if complete:
        return Steps(freq, anchor, point, through, step)
    return Steps(freq, anchor, point, through, step - pd.tseries.frequencies.to_offset(anchor), partial=step)


def _bucket_sql(anchor: str) -> str:
    if anchor == "D":
        return "e.credit_date"
    if anchor.startswith("W-"):  # the week's last day: the next anchor weekday on or after the date
        return f"(e.credit_date + CAST(({WEEKDAYS.index(anchor[2:])} - (isodow(e.credit_date) - 1) + 7) % 7 AS INTEGER))::DATE"
    return "date_trunc('month', e.credit_date)::DATE" if anchor == "MS" else "last_day(e.credit_date)"


def panel(con: duckdb.DuckDBPyConnection, level: str = "company", freq: str = "D", **options) -> pd.DataFrame:
    """``unique_id, ds, y`` for every series of ``level``: :func:`panel_steps` without its
    calendar (the same options: ``measure``, ``scope``, ``start``, ``end``, ``settings``,
    ``forecast``)."""
    return panel_steps(con, level, freq, **options)[0]


def panel_steps(
    con: duckdb.DuckDBPyConnection,
    level: str = "company",
    freq: str = "D",
    *,
    measure: str = "amount",
    scope: str | Scope | None = None,
    start: str | None = None,
    end: str | None = None,
    settings: PerformanceSettings | None = None,
    forecast: ForecastSettings | None = None,
) -> tuple[pd.DataFrame, Steps]:
    """``unique_id, ds, y`` for every series of ``level`` (within ``scope``) and the panel's
    ``Steps`` (anchor, last complete step, the partial step left out).

    ``measure``: ``amount`` (net revenue) or ``quantity`` (net units). ``end`` defaults to the
    last sale date in the ledger; a partial last week or month is left out (a forecast of a
    complete step should not learn from a half one) and named by the ``Steps``.
    """
    if level not in LEVELS:
        raise PanelError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if freq not in FREQS:
        raise PanelError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    if measure not in ("amount", "quantity"):
        raise PanelError(f"measure must be amount or quantity, got {measure!r}")
    key, join = _key_sql(level)
    df, steps = ledger_sums(con, f"{key} AS unique_id", freq, measure=measure, scope=scope, start=start, end=end, settings=settings,
                            join=join, forecast=forecast)
    if df.empty:
        empty = pd.DataFrame({"unique_id": pd.Series(dtype=object), "ds": pd.Series(dtype="datetime64[ns]"), "y": pd.Series(dtype="float64")})
        return empty, steps
    return fill_gaps(df, freq, end=steps.last, anchor=steps.anchor), steps


def ledger_steps(
    con: duckdb.DuckDBPyConnection,
    freq: str,
    *,
    scope: str | Scope | None = None,
    start: str | None = None,
    end: str | None = None,
    forecast: ForecastSettings | None = None,
    settings: PerformanceSettings | None = None,
) -> Steps:
    """The ``Steps`` of the ledger's sales within ``scope`` and ``start``..``end`` (default: the
    last credit date): anchored by their own dates (or ``[forecast]``)."""
    settings = settings or PerformanceSettings()
    cond, params = parse_scope(scope).sql("e")
    last = con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0]
    if last is None:
        raise PanelError("the ledger is empty: load sales and post them first")
    through = pd.Timestamp(end) if end else pd.Timestamp(last)
    dates = con.execute(
        f"""SELECT DISTINCT e.credit_date FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) e
        WHERE e.credit_date <= $end {"AND e.credit_date >= $start" if start else ""} AND {cond}""",
        {"un": settings.unassigned, "end": through.date(), **({"start": pd.Timestamp(start).date()} if start else {}), **params},
    ).df()["credit_date"]
    return calendar(dates, freq, through, forecast)


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
    forecast: ForecastSettings | None = None,
) -> tuple[pd.DataFrame, Steps]:
    """The ledger's ``measure`` summed per ``keys`` (SQL select items over the ledger ``e``,
    which has ``rep_key``: the rep or the unassigned key; ``join`` adds tables) and step of
    ``freq`` (``ds``, a timestamp, dated by the data's anchor), within ``scope`` and
    ``start``..``end`` (default: the last credit date), up to the last complete step; and the
    panel's ``Steps``. Gaps are not filled."""
    settings = settings or PerformanceSettings()
    steps = ledger_steps(con, freq, scope=scope, start=start, end=end, forecast=forecast, settings=settings)
    cond, params = parse_scope(scope).sql("e")
    df = con.execute(
        f"""
        SELECT {keys}, {_bucket_sql(steps.anchor)} AS ds, sum(e.{measure})::DOUBLE AS y
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) e {join}
        WHERE e.credit_date <= $end {"AND e.credit_date >= $start" if start else ""} AND {cond}
        GROUP BY ALL
        """,
        {"un": settings.unassigned, "end": steps.through.date(), **({"start": pd.Timestamp(start).date()} if start else {}), **params},
    ).df()
    df["ds"] = pd.to_datetime(df["ds"]).astype("datetime64[ns]")
    return df[df["ds"] <= steps.last].reset_index(drop=True), steps


def fill_gaps(df: pd.DataFrame, freq: str, end: pd.Timestamp | None = None, anchor: str | None = None) -> pd.DataFrame:
    """Sum duplicate dates and add the missing steps (y = 0) from each series' first date to
    ``end`` (default: the panel's last date), on the steps of ``anchor`` (default: the anchor
    of the panel's last date, ``step_offset``). Pure: returns a new frame."""
    if df.empty:
        return df.copy()
    summed = df.groupby(["unique_id", "ds"], as_index=False)["y"].sum()
    end = pd.Timestamp(end) if end is not None else summed["ds"].max()
    offset = anchor or step_offset(freq, end)
    parts = []
    for uid, g in summed.groupby("unique_id", sort=True):
        idx = pd.date_range(g["ds"].min(), end, freq=offset)
        full = g.set_index("ds")["y"].reindex(idx, fill_value=0.0)
        parts.append(pd.DataFrame({"unique_id": uid, "ds": idx, "y": full.to_numpy()}))
    return pd.concat(parts, ignore_index=True)
