"""Where the open month and quarter will land, and the chance of making target.

For each node of the hierarchy (company, regions, teams, reps; see
:mod:`salesml.forecast.reconcile`):

    landing = actual to date + Σ forecast of the remaining days of the period

with an interval and P(landing ≥ target) = 1 − Φ((target − landing) / σ).

Uncertainty
-----------
* Each remaining day's σ comes from its forecast interval (:func:`sigma_from_interval`):
  the normal half-width ``(hi − lo) / 2z`` at the forecast's ``level``, or the upper
  half-width ``(hi − yhat) / z`` when that is larger — models clip ``lo`` at 0
  (:func:`salesml.forecast.models.finish`), which would shrink a symmetric estimate.
* Days are summed as **independent** by default: σ² = Σ σ_d². Sales of different days
  are mostly separate orders, so this is the usual assumption; it understates the spread
  when a whole month runs hot or cold (errors correlated across days).
  ``dependence="perfect"`` assumes perfectly correlated days, σ = Σ σ_d: an upper bound,
  for a cautious view. The actual to date is known (σ 0).
* The landing is normal with that σ; its lower bound is never below the actual to date
  (forecasts of the remaining days are never negative).

Actuals to date are the ledger entries posted in the period's months whose event
(sale, return...) happened by ``as_of``: the figure attainment is measured on
(:mod:`salesml.accounting.performance`), adjustments included. Targets come from
:func:`salesml.accounting.performance.performance`, so a team's target is its own or its
reps' sum exactly as in the performance reports; a quarter's target is the sum of its
three months' (missing when a month has none, rather than understated).

A node without a target gets a probability of NaN and a note, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from scipy.special import ndtr

from salesml.accounting.performance import performance
from salesml.config import ForecastSettings, PerformanceSettings, Settings
from salesml.errors import SalesmlError
from salesml.forecast.models import z_value
from salesml.forecast.reconcile import (
    LEVELS,
    hierarchy_levels,
    node_ids,
    node_level,
    performance_settings,
    rollup,
)
from salesml.scope import Scope, check_scope, parse_scope

#: how the remaining days' forecast errors combine
DEPENDENCE = ("independent", "perfect")
#: periods a landing is computed for
PERIOD_KINDS = ("month", "quarter")
MONTHS_PER_QUARTER = 3

COLUMNS = [
    "unique_id", "actual_to_date", "forecast_rest", "days_forecast", "landing", "lo", "hi", "sigma",
    "target", "gap_to_target", "p_reach_target", "note",
]


class LandingError(SalesmlError, ValueError):
    """A landing cannot be computed as asked; the message says why."""


def sigma_from_interval(yhat, lo, hi, level: float) -> np.ndarray:
    """Each step's standard deviation from its ``level`` % interval: the larger of the
    normal half-width ``(hi − lo) / 2z`` and the upper half-width ``(hi − yhat) / z`` (the
    lower bound may have been clipped at 0). NaN where the interval is missing."""
    z = z_value(level)
    yhat, lo, hi = (np.asarray(a, dtype="float64") for a in (yhat, lo, hi))
    return np.fmax((hi - lo) / (2 * z), (hi - yhat) / z).clip(min=0)


def _require(df: pd.DataFrame, what: str, columns: set[str]) -> None:
    missing = columns - set(df.columns)
    if missing:
        raise LandingError(f"{what} need columns {', '.join(sorted(columns))}; missing {', '.join(sorted(missing))}")


def landing(
    actuals_to_date: pd.DataFrame,
    forecast_rest: pd.DataFrame,
    targets: pd.DataFrame,
    level: float,
    *,
    dependence: str = "independent",
    remaining_days: int | None = None,
) -> pd.DataFrame:
    """Expected landing of each series, its ``level`` % interval and P(landing ≥ target). Pure.

    ``actuals_to_date``: ``unique_id, actual`` (the period so far). ``forecast_rest``:
    ``unique_id, ds, yhat, lo, hi`` for the remaining days only, at ``level`` %.
    ``targets``: ``unique_id, target`` (NaN or absent = no target). ``remaining_days``: how
    many days the forecast should cover (default: the number of distinct dates in
    ``forecast_rest``); a series whose forecast covers fewer gets no landing and a note.

    Returns one row per series of any input (:data:`COLUMNS`): ``actual_to_date``,
    ``forecast_rest`` (Σ yhat), ``landing``, ``lo``/``hi``, ``sigma`` (of the landing),
    ``target``, ``gap_to_target`` (target − landing), ``p_reach_target`` and ``note``.
    """
    if dependence not in DEPENDENCE:
        raise LandingError(f"dependence must be one of {', '.join(DEPENDENCE)}, got {dependence!r}")
    if not 0 < level < 100:
        raise LandingError(f"level must be a percentage between 0 and 100, got {level}")
    _require(actuals_to_date, "actuals to date", {"unique_id", "actual"})
    _require(forecast_rest, "forecasts of the remaining days", {"unique_id", "ds", "yhat", "lo", "hi"})
    _require(targets, "targets", {"unique_id", "target"})
    for what, df in (("actuals to date", actuals_to_date), ("targets", targets)):
        if df["unique_id"].duplicated().any():
            raise LandingError(f"{what} have more than one row for {df.loc[df['unique_id'].duplicated(), 'unique_id'].iloc[0]!r}")
    if forecast_rest.duplicated(["unique_id", "ds"]).any():
        raise LandingError("the forecasts of the remaining days have duplicate (unique_id, ds) rows")

    needed = remaining_days if remaining_days is not None else forecast_rest["ds"].nunique()
    fc = forecast_rest.assign(sigma=sigma_from_interval(forecast_rest["yhat"], forecast_rest["lo"], forecast_rest["hi"], level))
    fc = fc.assign(var=fc["sigma"] ** 2)
    per = fc.groupby("unique_id").agg(
        forecast_rest=("yhat", "sum"),
        days_forecast=("ds", "nunique"),
        sum_sigma=("sigma", lambda s: s.sum(min_count=len(s))),
        sum_var=("var", lambda s: s.sum(min_count=len(s))),
    )
    ids = pd.Index(
        pd.concat([actuals_to_date["unique_id"], forecast_rest["unique_id"], targets["unique_id"]]).unique(),
        name="unique_id",
    )
    out = pd.DataFrame(index=ids)
    out["actual_to_date"] = actuals_to_date.set_index("unique_id")["actual"].astype("float64").reindex(ids).fillna(0.0)
    out = out.join(per)
    out["days_forecast"] = out["days_forecast"].fillna(0).astype("int64")
    out["forecast_rest"] = out["forecast_rest"].fillna(0.0)
    if needed == 0:  # the period is over: the landing is what happened
        out["sum_sigma"], out["sum_var"] = 0.0, 0.0
    sigma = out["sum_sigma"] if dependence == "perfect" else np.sqrt(out["sum_var"])
    short = out["days_forecast"] < needed
    out["sigma"] = sigma.where(~short)
    out["landing"] = (out["actual_to_date"] + out["forecast_rest"]).where(~short)
    half = z_value(level) * out["sigma"]
    out["lo"] = np.fmax(out["landing"] - half, out["actual_to_date"]).where(out["sigma"].notna())
    out["hi"] = out["landing"] + half
    out["target"] = targets.set_index("unique_id")["target"].astype("float64").reindex(ids)
    out["gap_to_target"] = out["target"] - out["landing"]
    out["p_reach_target"] = _p_reach(out["landing"], out["sigma"], out["target"])

    notes = pd.Series("", index=ids, dtype=object)
    no_fc = short & (out["days_forecast"] == 0)
    notes[no_fc] = f"no forecast for the {needed} remaining day(s): no landing"
    partial = short & ~no_fc
    notes[partial] = [
        f"forecast covers {d} of {needed} remaining day(s): no landing" for d in out.loc[partial, "days_forecast"]
    ]
    no_interval = ~short & out["sigma"].isna()
    notes[no_interval] = "forecast without an interval: no landing interval or probability"
    no_target = out["target"].isna()
    notes[no_target] = [_join(n, "no target for the period: no probability") for n in notes[no_target]]
    out["note"] = notes
    return out.reset_index()[COLUMNS]


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


def _p_reach(landing: pd.Series, sigma: pd.Series, target: pd.Series) -> pd.Series:
    """P(N(landing, σ²) ≥ target); a step function when σ = 0; NaN when anything is missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = pd.Series(ndtr((landing - target) / sigma), index=landing.index)
    exact = sigma == 0
    p[exact] = (landing[exact] >= target[exact]).astype("float64")
    return p.where(landing.notna() & sigma.notna() & target.notna())


# --------------------------------------------------------------------------- from the warehouse


@dataclass(frozen=True)
class PeriodWindow:
    """An open period: the days ``start``..``end`` (inclusive), of which those up to
    ``as_of`` are actuals and the rest (``remaining_days``) are to be forecast."""

    kind: str
    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    months: tuple[str, ...]
    as_of: pd.Timestamp

    @property
    def remaining_days(self) -> int:
        return max((self.end - self.as_of).days, 0)


def open_period(kind: str, as_of) -> PeriodWindow:
    """The month or quarter that holds the day after ``as_of`` (the first day without
    actuals): after the 30th of June, the open month is July and the open quarter Q3."""
    if kind not in PERIOD_KINDS:
        raise LandingError(f"period must be one of {', '.join(PERIOD_KINDS)}, got {kind!r}")
    as_of = pd.Timestamp(as_of).normalize()
    nxt = as_of + pd.Timedelta(days=1)
    if kind == "month":
        start = nxt.replace(day=1)
        label = f"{start:%Y-%m}"
        n_months = 1
    else:
        first_month = (nxt.month - 1) // MONTHS_PER_QUARTER * MONTHS_PER_QUARTER + 1
        start = nxt.replace(month=first_month, day=1)
        label = f"{start.year}-Q{(first_month - 1) // MONTHS_PER_QUARTER + 1}"
        n_months = MONTHS_PER_QUARTER
    months = tuple(f"{start + pd.DateOffset(months=i):%Y-%m}" for i in range(n_months))
    end = start + pd.DateOffset(months=n_months) - pd.Timedelta(days=1)
    return PeriodWindow(kind, label, start, end, months, as_of)


def last_actual_date(con: duckdb.DuckDBPyConnection) -> pd.Timestamp:
    """The last day the ledger's events (sales, returns...) run through: the data is
    complete up to it, so the period's remaining days start the day after."""
    last = con.execute("SELECT max(coalesce(event_date, credit_date)) FROM ledger").fetchall()[0][0]
    if last is None:
        raise LandingError("the ledger is empty: load sales and post them first")
    return pd.Timestamp(last)


def period_actuals(
    con: duckdb.DuckDBPyConnection,
    window: PeriodWindow,
    settings: Settings | PerformanceSettings | None = None,
    scope: str | Scope | None = None,
) -> pd.DataFrame:
    """``unique_id, level, actual``: net revenue posted in the window's months from events up
    to ``window.as_of``, for every node of the scope's levels."""
    settings = performance_settings(settings)
    sc = parse_scope(scope)
    check_scope(con, sc)
    cond, params = sc.sql("e")
    months = list(window.months)
    bottom = con.execute(
        f"""
        SELECT e.region, e.team, e.rep_key AS rep, sum(e.amount)::DOUBLE AS actual
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) e
        WHERE list_contains($months, e.period) AND coalesce(e.event_date, e.credit_date) <= $as_of AND {cond}
        GROUP BY ALL
        """,
        {"un": settings.unassigned, "months": months, "as_of": window.as_of.date(), **params},
    ).df()
    return rollup(bottom, ["actual"], hierarchy_levels(sc))


#: performance() key columns per level -> node_ids' region/team/rep columns
_PERF_KEYS = {"rep": {"rep_id": "rep"}, "team": {}, "region": {}, "company": {}}


def period_targets(
    con: duckdb.DuckDBPyConnection,
    months: tuple[str, ...] | list[str],
    settings: Settings | PerformanceSettings | None = None,
    scope: str | Scope | None = None,
) -> pd.DataFrame:
    """``unique_id, level, target``: the revenue target of every node of the scope's levels
    over ``months``, as :func:`salesml.accounting.performance.performance` computes them (a
    team's own target or its reps' sum...). A node with no target in one of the months has
    none for the whole span (NaN): a partial sum would understate it."""
    sc = parse_scope(scope)
    settings = performance_settings(settings)
    parts = []
    for level in hierarchy_levels(sc):
        per_month = []
        for month in months:
            perf = performance(con, month, by=level, scope=sc, settings=settings).rename(columns=_PERF_KEYS[level])
            ids = node_ids(perf, (level,))[level] if len(perf) else pd.Series(dtype=object)
            t = pd.DataFrame({"unique_id": ids, "target": perf["target_revenue"].astype("float64")})
            per_month.append(t.groupby("unique_id")["target"].sum(min_count=1).rename(month))
        wide = pd.concat(per_month, axis=1)
        total = wide.sum(axis=1, min_count=len(months)).where(wide.notna().all(axis=1))
        parts.append(pd.DataFrame({"unique_id": wide.index, "level": level, "target": total.to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["unique_id", "level", "target"])


def landing_for_period(
    con: duckdb.DuckDBPyConnection,
    forecasts: pd.DataFrame,
    kind: str = "month",
    as_of=None,
    settings: Settings | None = None,
    scope: str | Scope | None = None,
    *,
    dependence: str = "independent",
) -> pd.DataFrame:
    """The landing of the open ``kind`` (month or quarter) for every node of the hierarchy.

    ``forecasts``: daily ``unique_id, ds, yhat, lo, hi`` of the hierarchy's nodes (ideally
    reconciled, see :func:`salesml.forecast.reconcile.reconcile`) at
    ``settings.forecast.level`` %, covering the days after ``as_of`` (default:
    :func:`last_actual_date`) to the period's end; earlier or later days are ignored.

    Returns :func:`landing`'s columns with ``period`` and ``level`` first, ordered company,
    regions, teams, reps.
    """
    settings = settings or Settings()
    perf_settings: PerformanceSettings = settings.performance
    forecast_settings: ForecastSettings = settings.forecast
    window = open_period(kind, as_of if as_of is not None else last_actual_date(con))
    actuals = period_actuals(con, window, perf_settings, scope)
    targets = period_targets(con, window.months, perf_settings, scope)
    ds = pd.to_datetime(forecasts["ds"])
    rest = forecasts[(ds > window.as_of) & (ds <= window.end)]
    result = landing(
        actuals[["unique_id", "actual"]],
        rest[["unique_id", "ds", "yhat", "lo", "hi"]],
        targets[["unique_id", "target"]],
        forecast_settings.level,
        dependence=dependence,
        remaining_days=window.remaining_days,
    )
    known = pd.concat([actuals, targets]).drop_duplicates("unique_id").set_index("unique_id")["level"]
    result["level"] = result["unique_id"].map(known).fillna(result["unique_id"].map(node_level))
    result.insert(0, "period", window.label)
    result = result[["period", "level", *COLUMNS]]
    rank = result["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    return result.assign(_rank=rank).sort_values(["_rank", "unique_id"]).drop(columns="_rank").reset_index(drop=True)
