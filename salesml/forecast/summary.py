"""Arithmetic on forecasts and backtests that the reports, the CLI and the Python API share.

What it owns (pure functions of frames, no warehouse, no layout):

* **Dates**: the same steps a year earlier (:func:`year_earlier`: 52 weeks / 364 days back
  for weeks and days, so the weekday is kept; a year for months), and the week or month each
  day belongs to (:func:`step_of`).
* **Daily forecasts aligned with coarser ones** (:func:`align_daily`): a node's days scaled
  to add up to its weekly (monthly) forecast wherever a whole week (month) is forecast at
  both frequencies.
* **Nodes combined as one** (a rep's team stints): forecasts (:func:`combine_nodes`) and
  landings (:func:`combine_landing`), their errors taken as independent.
* **Backtest summaries**: :func:`salesml.forecast.auto.auto_summary` over all nodes and per
  level of the hierarchy (:func:`backtest_summary`), series per status
  (:func:`status_counts`), and the reconciliation backtest as mean MASE per level and method
  (:func:`reconciliation_summary`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import ndtr

from salesml.errors import SalesmlError
from salesml.forecast import auto, landing, reconcile
from salesml.forecast.models import z_value

#: statuses from the most to the least in need of attention
STATUS_ORDER = ("skipped", "fallback", "fitted")
#: how far back "a year earlier" is, per frequency (weeks and days keep the weekday)
YEAR_BACK = {"D": pd.DateOffset(days=364), "W": pd.DateOffset(weeks=52), "M": pd.DateOffset(years=1)}


class SummaryError(SalesmlError, ValueError):
    """A frequency the arithmetic here does not handle; the message says which it takes."""


# --------------------------------------------------------------------------- dates


def year_earlier(dates: pd.Series | pd.DatetimeIndex, freq: str) -> pd.DatetimeIndex:
    """The same steps a year earlier (52 weeks / 364 days back for weeks and days)."""
    return pd.DatetimeIndex(dates) - YEAR_BACK[freq]


def step_of(days: pd.Series, freq: str) -> pd.Series:
    """The step of frequency ``freq`` (``W``: the week ending on Sunday, ``M``: the month
    start, as in the panels) each day belongs to."""
    days = pd.to_datetime(days)
    if freq == "W":
        return days + pd.to_timedelta((6 - days.dt.weekday) % 7, unit="D")
    if freq == "M":
        return days.dt.to_period("M").dt.start_time
    raise SummaryError(f"days are aligned with weeks (W) or months (M), not {freq!r}")


# --------------------------------------------------------------------------- daily aligned with weeks / months


def align_daily(daily: pd.DataFrame, coarse: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, int]:
    """Daily forecasts scaled to coarser ones: for every node and every step of ``coarse``
    (weekly or monthly ``unique_id, ds, yhat``, ``freq`` W or M) whose days are all in
    ``daily``, the node's daily ``yhat`` on those days is multiplied by coarse ``yhat`` /
    Σ daily ``yhat``, so they add up to the coarse forecast. ``lo`` and ``hi`` move with
    ``yhat`` (the daily interval's width is kept, as reconciliation does; scaling it too
    would blow up the interval of a day forecast near 0), ``lo`` clipped at 0. Steps only
    partly in ``daily``, absent from ``coarse``, or with no daily forecast (Σ = 0) are left
    as they are. Returns the new frame and how many (node, step) pairs were scaled. Pure."""
    out = daily.copy()
    if out.empty or coarse.empty:
        return out, 0
    out["ds"] = pd.to_datetime(out["ds"])
    step = step_of(out["ds"], freq)
    length = 7 if freq == "W" else step.dt.days_in_month
    sums = (
        out.assign(_step=step, _length=length)
        .groupby(["unique_id", "_step"], as_index=False)
        .agg(days=("ds", "nunique"), length=("_length", "first"), daily=("yhat", "sum"))
    )
    target = coarse.assign(_step=pd.to_datetime(coarse["ds"]))[["unique_id", "_step", "yhat"]].rename(columns={"yhat": "coarse"})
    sums = sums.merge(target, on=["unique_id", "_step"], how="inner")
    sums = sums[(sums["days"] == sums["length"]) & (sums["daily"] > 0)].set_index(["unique_id", "_step"])
    factors = (sums["coarse"] / sums["daily"]).to_dict()
    factor = pd.MultiIndex.from_arrays([out["unique_id"], step]).map(factors).to_numpy(dtype="float64")
    scaled = out["yhat"] * np.where(np.isnan(factor), 1.0, factor)
    shift = scaled - out["yhat"]
    out["yhat"] = scaled
    out["lo"] = np.clip(np.minimum(out["lo"] + shift, scaled), 0, None)
    out["hi"] = np.maximum(out["hi"] + shift, scaled)
    return out, len(factors)


# --------------------------------------------------------------------------- nodes combined


def combine_nodes(forecasts: pd.DataFrame, ids: list[str], level: float) -> pd.DataFrame:
    """``ds, yhat, lo, hi`` of the sum of nodes ``ids``: one node as it is; several (a rep's
    team stints) summed, their errors taken as independent (σ² = Σ σ², σ from each
    interval), the interval clipped at 0. Pure."""
    f = forecasts[forecasts["unique_id"].isin(ids)]
    if len(ids) == 1:
        return f[["ds", "yhat", "lo", "hi"]].reset_index(drop=True)
    f = f.assign(var=landing.sigma_from_interval(f["yhat"], f["lo"], f["hi"], level) ** 2)
    g = f.groupby("ds", as_index=False).agg(yhat=("yhat", "sum"), var=("var", lambda v: v.sum(min_count=len(v))))
    half = z_value(level) * np.sqrt(g["var"])
    return pd.DataFrame({"ds": g["ds"], "yhat": g["yhat"], "lo": (g["yhat"] - half).clip(lower=0), "hi": g["yhat"] + half})


def combine_landing(rows: pd.DataFrame, level: float) -> dict:
    """The landing of several nodes (a rep's team stints) as one: sums of the actual, the
    landing and the target (missing if no node has one), σ = √Σσ² (independent), the
    ``level`` % interval (never below the actual to date) and P(landing ≥ target) under the
    normal, as :func:`salesml.forecast.landing.landing` does for one node. One row is
    returned as it is. Pure."""
    if len(rows) == 1:
        return rows.iloc[0].to_dict()
    out = {k: float(rows[k].sum()) for k in ("actual_to_date", "forecast_rest")}
    out["landing"] = float(rows["landing"].sum(min_count=len(rows)))
    out["sigma"] = float(np.sqrt((rows["sigma"] ** 2).sum(min_count=len(rows))))
    out["target"] = float(rows["target"].sum(min_count=1))
    out["gap_to_target"] = out["target"] - out["landing"]
    half = z_value(level) * out["sigma"]
    out["lo"] = max(out["landing"] - half, out["actual_to_date"]) if not np.isnan(half) else np.nan
    out["hi"] = out["landing"] + half
    if np.isnan(out["sigma"]) or np.isnan(out["target"]) or np.isnan(out["landing"]):
        out["p_reach_target"] = np.nan
    elif out["sigma"] == 0:
        out["p_reach_target"] = float(out["landing"] >= out["target"])
    else:
        out["p_reach_target"] = float(ndtr((out["landing"] - out["target"]) / out["sigma"]))
    out["period"] = rows["period"].iloc[0]
    out["note"] = "sum of the rep's team stints"
    return out


# --------------------------------------------------------------------------- backtests


def backtest_summary(errors: pd.DataFrame, statuses: pd.DataFrame) -> pd.DataFrame:
    """:func:`salesml.forecast.auto.auto_summary` over all nodes (``level`` = ``all``) and
    per level of the hierarchy: ``level, model, mase, smape, wape, bias, coverage_80,
    series``; ``auto`` first, then seasonal naive, then the others by MASE. Pure."""
    parts = []
    levels = errors["unique_id"].map(reconcile.node_level)
    for level in ("all", *reconcile.LEVELS):
        e = errors if level == "all" else errors[levels == level]
        if e.empty:
            continue
        s = auto.auto_summary(e, statuses)
        rank = s["model"].map({"auto": 0, auto.BASELINE: 1}).fillna(2)
        s = s.assign(_r=rank).sort_values(["_r", "mase", "model"]).drop(columns="_r")
        s.insert(0, "level", level)
        parts.append(s)
    cols = ["level", "model", "mase", "smape", "wape", "bias", "coverage_80", "series"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def status_counts(statuses: pd.DataFrame) -> dict[str, int]:
    """Series per status, in :data:`STATUS_ORDER` (statuses with none left out)."""
    counts = statuses["status"].value_counts()
    return {s: int(counts[s]) for s in STATUS_ORDER if s in counts}


def reconciliation_summary(errors: pd.DataFrame) -> pd.DataFrame:
    """The reconciliation backtest (:func:`salesml.forecast.reconcile.backtest_reconciliation`)
    as mean MASE per level (rows, company first) and method (columns: ``base`` first). Pure."""
    ok = errors[errors["error"].isna()] if len(errors) else errors
    if ok.empty:
        return pd.DataFrame()
    table = ok.pivot_table(index="level", columns="model", values="mase", aggfunc="mean")
    levels = [lv for lv in reconcile.LEVELS if lv in table.index]
    methods = ["base", *[m for m in table.columns if m != "base"]]
    return table.loc[levels, [m for m in methods if m in table.columns]]
