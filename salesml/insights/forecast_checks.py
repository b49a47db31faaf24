"""Early warnings of the sales forecast report, from figures the report already computed.

No model is fitted here: every function reads frames the report holds (the honest
backtest's window forecasts, the history they were scored on, the reorder table, the
landings) and says what needs a look.

* **Actuals outside the forecast's interval** (:func:`outside_interval`): for each series
  (a node of the sales hierarchy: company, region, team, rep; or a product's daily demand in
  units), the latest ``steps`` complete steps of its history against the forecast the honest
  backtest made for them — from the data before the backtest's window only, by the model the
  automatic choice gave then, with its ``level`` % interval. A series is *outside* when the
  actual of those steps (summed) is below the interval's lower bound or above its upper
  bound. An 80% interval that is right misses one time in five, so :func:`outside_counts`
  gives, next to how many series were outside, how many a right interval would miss by
  chance.
* **Products below their reorder point** (:func:`reorder_warnings`): the reorder table's
  alerts (inventory position below the reorder point), soonest to run out first (days of
  cover), and whether stock runs out before an order placed today arrives (days of cover
  below the lead time).
* **Least likely to reach target** (:func:`least_likely`): the landing row with the lowest
  probability of reaching its target among given nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binom

from salesml.forecast.landing import sigma_from_interval
from salesml.forecast.models import z_value

#: the columns of :func:`outside_interval`
OUTSIDE_COLUMNS = [
    "unique_id", "window", "model", "cutoff", "first", "last", "steps", "ahead", "actual", "forecast", "lo", "hi",
    "sigma", "side", "outside", "beyond", "distance", "error_pct",
]
#: the columns of :func:`outside_counts`
COUNT_COLUMNS = ["level", "checked", "outside", "below", "above", "expected", "p_value"]


def outside_interval(window_forecasts: pd.DataFrame | None, history: pd.DataFrame, level: float, steps: int = 1) -> pd.DataFrame:
    """Each series' latest complete steps against the honest backtest's forecast of them. Pure.

    ``window_forecasts``: the honest backtest's forecasts, ``unique_id, ds, yhat, lo, hi,
    model, window`` (:attr:`salesml.forecast.auto.PanelEvaluation.window_forecasts`: each
    window forecast from the history before it only); ``history``: ``unique_id, ds, y``, the
    actuals the backtest was scored on, whose last ``ds`` per series is its latest complete
    step (a partial step is not in a panel). ``level``: the intervals' %.

    Per series, the checked steps are its latest ``steps`` steps up to its last ``ds`` that
    have a backtest forecast (they lie in the last window, which ends where the history ends;
    fewer when that window is shorter). Then:

    * ``actual``: the sum of the history over those steps (a step missing from the history
      counts 0, as the panel's filled steps do); ``forecast``: the sum of ``yhat``;
    * the interval: one step's own ``[lo, hi]``; several steps' ``forecast ± z·σ`` with
      ``σ = √Σσ²``, each step's σ from its interval
      (:func:`salesml.forecast.landing.sigma_from_interval`, steps independent, as the
      landing sums days), the lower bound never below 0;
    * ``side``: ``below`` when ``actual < lo``, ``above`` when ``actual > hi``, else ``""``;
      ``outside`` = side is not empty. Steps without an interval (``lo`` or ``hi`` missing,
      or of zero width everywhere: a constant series' naive forecast, which any change would
      leave) leave the series unchecked (``outside`` False, ``side`` ``""``, ``sigma`` NaN);
    * ``beyond``: how far the actual is beyond the bound, in the series' unit (0 inside);
      ``distance``: the same in σ; ``error_pct`` = (actual − forecast) / forecast × 100 (NaN
      for a forecast of 0);
    * ``cutoff``: the last step of history the window's forecast saw; ``ahead``: how many
      steps after it the last checked step was; ``first``/``last``: the checked steps.

    Rows: every series with a backtest forecast of its latest steps, outside first (furthest
    beyond the bound first), then the rest by id.
    """
    if window_forecasts is None or window_forecasts.empty or history.empty or steps < 1:
        return pd.DataFrame(columns=OUTSIDE_COLUMNS)
    wf = window_forecasts.assign(ds=pd.to_datetime(window_forecasts["ds"]))
    hist = history.assign(ds=pd.to_datetime(history["ds"]))
    last_ds = hist.groupby("unique_id")["ds"].max()
    wf = wf[wf["ds"] <= wf["unique_id"].map(last_ds)]
    if wf.empty:
        return pd.DataFrame(columns=OUTSIDE_COLUMNS)
    # one forecast per step: the latest window covering it (windows do not overlap; be safe)
    wf = wf.sort_values(["unique_id", "ds", "window"]).drop_duplicates(["unique_id", "ds"], keep="last")
    latest = wf.groupby("unique_id", group_keys=False)[list(wf.columns)].apply(lambda g: g.tail(steps))
    actual = hist.set_index(["unique_id", "ds"])["y"]
    got = actual.reindex(pd.MultiIndex.from_arrays([latest["unique_id"], latest["ds"]])).fillna(0.0).to_numpy(dtype="float64")
    latest = latest.assign(y=got, var=sigma_from_interval(latest["yhat"], latest["lo"], latest["hi"], level) ** 2)
    z = z_value(level)
    window_steps = {k: np.sort(g.to_numpy()) for k, g in wf.groupby(["unique_id", "window"])["ds"]}
    history_steps = {k: np.sort(g.to_numpy()) for k, g in hist.groupby("unique_id")["ds"]}
    rows = []
    for uid, g in latest.groupby("unique_id", sort=True):
        win = int(g["window"].iloc[-1])
        days = window_steps[(uid, win)]
        seen = history_steps.get(uid, np.array([], dtype="datetime64[ns]"))
        before = seen[: np.searchsorted(seen, days[0])]
        cutoff = pd.Timestamp(before[-1]) if len(before) else pd.NaT
        fc, act = float(g["yhat"].sum()), float(g["y"].sum())
        has_interval = bool(g["lo"].notna().all() and g["hi"].notna().all() and (g["hi"] > g["lo"]).any())
        if not has_interval:
            lo = hi = sigma = np.nan
        elif len(g) == 1:
            lo, hi = float(g["lo"].iloc[0]), float(g["hi"].iloc[0])
            sigma = float(np.sqrt(g["var"].iloc[0]))
        else:
            sigma = float(np.sqrt(g["var"].sum()))
            lo, hi = max(fc - z * sigma, 0.0), fc + z * sigma
        side = "" if not has_interval else "below" if act < lo else "above" if act > hi else ""
        beyond = (lo - act) if side == "below" else (act - hi) if side == "above" else 0.0
        distance = beyond / sigma if side and sigma > 0 else 0.0
        rows.append({
            "unique_id": uid, "window": win, "model": g["model"].iloc[-1] if "model" in g else None, "cutoff": cutoff,
            "first": g["ds"].min(), "last": g["ds"].max(), "steps": len(g),
            "ahead": int((days <= g["ds"].max().to_datetime64()).sum()), "actual": act, "forecast": fc, "lo": lo, "hi": hi,
            "sigma": sigma, "side": side, "outside": bool(side), "beyond": beyond, "distance": distance,
            "error_pct": (act / fc - 1) * 100 if fc else np.nan,
        })
    out = pd.DataFrame(rows, columns=OUTSIDE_COLUMNS)
    return out.assign(_o=~out["outside"]).sort_values(["_o", "beyond", "unique_id"], ascending=[True, False, True]).drop(
        columns="_o").reset_index(drop=True)


def outside_counts(checked: pd.DataFrame, level: float, level_of: Callable[[str], str | None] | None = None) -> pd.DataFrame:
    """Per level (``level_of(unique_id)``; one row ``all`` without it) of
    :func:`outside_interval`'s rows: series ``checked`` (those with an interval), how many
    were ``outside`` (``below``, ``above``), how many a right ``level`` % interval would
    miss by chance (``expected`` = checked × (1 − level/100)), and ``p_value``: the chance
    that a right interval misses at least that many (binomial, series independent): below
    0.01, the intervals are too narrow for these series. Pure."""
    ok = checked[checked["sigma"].notna()] if len(checked) else checked
    if ok.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    groups = ok["unique_id"].map(level_of) if level_of else pd.Series("all", index=ok.index)
    rows = []
    for name in dict.fromkeys(groups):
        g = ok[groups == name]
        rows.append({"level": name, "checked": len(g), "outside": int(g["outside"].sum()), "below": int((g["side"] == "below").sum()),
                     "above": int((g["side"] == "above").sum()), "expected": len(g) * (1 - level / 100),
                     "p_value": float(binom.sf(int(g["outside"].sum()) - 1, len(g), 1 - level / 100))})
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def reorder_warnings(alerts: pd.DataFrame) -> pd.DataFrame:
    """The reorder alerts (rows of :func:`salesml.forecast.inventory.reorder_table` below their
    reorder point) soonest to run out first: by ``days_of_cover``, then the largest
    ``shortfall``; ``before_lead_time`` is True where the stock on hand runs out before an
    order placed today arrives (days of cover below the lead time). Pure."""
    if alerts is None or alerts.empty:
        cols = [*(alerts.columns if alerts is not None else []), "before_lead_time"]
        return pd.DataFrame(columns=list(dict.fromkeys(cols)))
    out = alerts.assign(before_lead_time=(alerts["days_of_cover"] < alerts["lead_time_days"]).fillna(False).astype(bool))
    return out.sort_values(["days_of_cover", "shortfall", "product_id", "warehouse"], ascending=[True, False, True, True],
                           na_position="last").reset_index(drop=True)


def least_likely(landing_rows: pd.DataFrame, ids: Sequence[str]) -> dict:
    """The row of ``landing_rows`` (:func:`salesml.forecast.landing.landing_for_period`) among
    ``ids`` least likely to reach its target (lowest ``p_reach_target``, then the largest
    gap), or ``{}`` when none of them has a probability. Pure."""
    if landing_rows is None or landing_rows.empty:
        return {}
    rows = landing_rows[landing_rows["unique_id"].isin(list(ids)) & landing_rows["p_reach_target"].notna()]
    if rows.empty:
        return {}
    return rows.sort_values(["p_reach_target", "gap_to_target", "unique_id"], ascending=[True, False, True]).iloc[0].to_dict()
