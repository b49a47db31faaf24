"""Rolling-origin backtests: per series, per window, per model errors as a DataFrame.

For ``windows`` = 3 and ``horizon`` = h, the cut-offs are the last 3h, 2h and h steps before
the end: each model forecasts the next h steps from the history up to a cut-off and is
scored on what happened (MASE, sMAPE, WAPE, bias, interval coverage), next to the others.
A model that cannot forecast a series (too short...) gets the reason instead of numbers;
one bad series never stops a backtest.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesml.forecast import metrics as M
from salesml.forecast.models import SEASON
from salesml.forecast.panels import step_after, step_offset

COLUMNS = [
    "unique_id", "model", "window", "cutoff", "horizon", "mase", "smape", "wape", "bias", "coverage",
    "actual", "forecast", "abs_error", "abs_actual", "error",
]


#: the dtype of every column, so that frames of different series (some only errors) concatenate alike
DTYPES = {
    "unique_id": object, "model": object, "window": "int64", "cutoff": "datetime64[ns]", "horizon": "int64",
    **dict.fromkeys(["mase", "smape", "wape", "bias", "coverage", "actual", "forecast", "abs_error", "abs_actual"], "float64"),
    "error": object,
}


def empty_errors() -> pd.DataFrame:
    """A backtest with no rows (all the columns, typed)."""
    return errors_frame([])


def errors_frame(rows: list[dict]) -> pd.DataFrame:
    """Backtest rows (dicts; a missing key is a missing value) as a frame of ``COLUMNS`` with
    ``DTYPES``, built from one array per column (``DataFrame(rows).astype(DTYPES)`` costs
    ~6 ms, more than scoring a series' windows)."""
    cols = {}
    for c in COLUMNS:
        values = [r.get(c) for r in rows]
        kind = DTYPES[c]
        if kind == "float64":
            cols[c] = np.array([np.nan if v is None else v for v in values], dtype="float64")
        elif kind == "datetime64[ns]":
            cols[c] = np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "ns") for v in values], dtype="datetime64[ns]")
        elif kind == "int64":
            cols[c] = np.array(values, dtype="int64")
        else:
            cols[c] = np.array(values, dtype=object)
    return pd.DataFrame(cols, copy=False)


def score(train_y, actual, fc: pd.DataFrame, season: int, scale: float | None = None) -> dict:
    """The errors of one window's forecast ``fc`` (``yhat, lo, hi``, at least as long as
    ``actual``) against ``actual``, MASE scaled on ``train_y`` (``scale``: its
    ``metrics.mase_scale``, when the window's other models already computed it): the metric
    columns of a backtest row."""
    n = len(actual)
    return score_arrays(train_y, actual, fc["yhat"].to_numpy(dtype="float64")[:n], fc["lo"].to_numpy(dtype="float64")[:n],
                        fc["hi"].to_numpy(dtype="float64")[:n], season, scale)


def score_arrays(train_y, actual, yhat, lo, hi, season: int, scale: float | None = None) -> dict:
    """``score`` of a forecast given as arrays as long as ``actual``."""
    actual = np.asarray(actual, dtype="float64")
    yhat = np.asarray(yhat, dtype="float64")
    return {
        "mase": M.mase(actual, yhat, train_y, season, scale),
        "smape": M.smape(actual, yhat),
        "wape": M.wape(actual, yhat),
        "bias": M.bias(actual, yhat),
        "coverage": M.coverage(actual, lo, hi),
        "actual": float(actual.sum()),
        "forecast": float(yhat.sum()),
        "abs_error": float(np.abs(actual - yhat).sum()),
        "abs_actual": float(np.abs(actual).sum()),
    }


def backtest_series(uid: str, history: pd.DataFrame, models: Sequence, windows: int, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
    """The backtest of one series (``ds, y``) for every model: one row per model and window."""
    rows = []
    y = history["y"].to_numpy(dtype="float64")
    ds = history["ds"].to_numpy(dtype="datetime64[ns]")
    season = SEASON[freq]
    for w in range(windows, 0, -1):
        cut = len(y) - w * horizon
        if cut < 2:
            for mdl in models:
                rows.append({"unique_id": uid, "model": mdl.name, "window": windows - w + 1, "horizon": horizon,
                             "error": f"too short for window {windows - w + 1}: {len(y)} observations"})
            continue
        train = history.iloc[:cut]
        train_y, test_y = y[:cut], y[cut : cut + horizon]
        scale = M.mase_scale(train_y, season)  # the same for every model of the window
        cutoff = ds[cut - 1]
        for mdl in models:
            row = {"unique_id": uid, "model": mdl.name, "window": windows - w + 1, "cutoff": cutoff, "horizon": horizon}
            try:
                fc = mdl.forecast(train, horizon, freq, level)
            except Exception as e:  # one model failing on one series is a result, not a crash
                row["error"] = f"{type(e).__name__}: {e}"
                rows.append(row)
                continue
            row.update(score(train_y, test_y, fc, season, scale))
            rows.append(row)
    return errors_frame(rows)


def backtest(panel: pd.DataFrame, models: Sequence, windows: int, horizon: int, freq: str, level: float = 80) -> pd.DataFrame:
    """``backtest_series`` for every series of a panel (``unique_id, ds, y``)."""
    parts = [backtest_series(uid, g[["ds", "y"]].reset_index(drop=True), models, windows, horizon, freq, level) for uid, g in panel.groupby("unique_id", sort=True)]
    return pd.concat(parts, ignore_index=True) if parts else empty_errors()


def summarise(errors: pd.DataFrame) -> pd.DataFrame:
    """Per model, over series and windows: mean MASE / sMAPE, pooled WAPE and bias, mean
    coverage, and how many series it could forecast."""
    ok = errors[errors["error"].isna()] if "error" in errors else errors
    rows = []
    for model, g in ok.groupby("model", sort=True):
        total = g["abs_actual"].sum()
        rows.append(
            {
                "model": model,
                "mase": float(np.nanmean(g["mase"])) if g["mase"].notna().any() else np.nan,
                "smape": float(np.nanmean(g["smape"])),
                "wape": float(g["abs_error"].sum() / total * 100) if total else np.nan,
                "bias": float((g["forecast"] - g["actual"]).sum() / total * 100) if total else np.nan,
                "coverage_80": float(np.nanmean(g["coverage"])) if g["coverage"].notna().any() else np.nan,
                "series": int(g["unique_id"].nunique()),
            }
        )
    return pd.DataFrame(rows, columns=["model", "mase", "smape", "wape", "bias", "coverage_80", "series"])


def window_periods(errors: pd.DataFrame, freq: str, model: str) -> pd.DataFrame:
    """Per window the steps it scored (``first``, ``last``: the step after the cut-off and the
    horizon's end) and how many series ``model`` was scored on in it, or left out of; a window
    no series was long enough for is listed with no dates. When the errors say what the
    automatic choice gave each series (a ``chosen`` column), also ``chosen``: the model, or
    the models with their numbers of series ("prophet (17), theta (1)")."""
    rows = []
    mine = errors[errors["model"] == model]
    cols = ["window", "first", "last", "series", "left_out"]
    with_chosen = "chosen" in mine.columns and mine["chosen"].notna().any()
    for window, g in mine.groupby("window", sort=True):
        scored = g[g["error"].isna()] if "error" in g else g
        cut = scored["cutoff"].dropna()
        first = last = None
        if len(cut):
            cutoff = pd.Timestamp(cut.mode().iloc[0])  # panels end on one step: every series shares its windows
            step = step_offset(freq, cutoff)
            first = step_after(cutoff, step)
            last = cutoff + int(scored["horizon"].iloc[0]) * pd.tseries.frequencies.to_offset(step)
        row = {"window": int(window), "first": first, "last": last, "series": int(scored["unique_id"].nunique()),
               "left_out": int(g["unique_id"].nunique() - scored["unique_id"].nunique())}
        if with_chosen:
            counts = scored["chosen"].dropna().value_counts()
            row["chosen"] = counts.index[0] if len(counts) == 1 else ", ".join(f"{m} ({n})" for m, n in counts.items())
        rows.append(row)
    return pd.DataFrame(rows, columns=[*cols, "chosen"] if with_chosen else cols)


def with_chosen(errors: pd.DataFrame, choices: pd.DataFrame, label: str = "auto") -> pd.DataFrame:
    """``errors`` with a ``chosen`` column: on the rows of ``label``, the model the automatic
    choice gave the series in the window (``choices``: ``unique_id, window, model``). Pure."""
    if choices is None or choices.empty:
        return errors.assign(chosen=pd.Series(pd.NA, index=errors.index, dtype=object))
    key = choices.dropna(subset=["model"]).drop_duplicates(["unique_id", "window"]).rename(columns={"model": "_chosen"})
    got = errors[["unique_id", "window"]].merge(key, on=["unique_id", "window"], how="left")["_chosen"].to_numpy()
    return errors.assign(chosen=np.where(errors["model"].to_numpy() == label, got, None))


def left_out(errors: pd.DataFrame, model: str) -> pd.DataFrame:
    """The series ``model`` was not scored on in some window, with the windows and the reason
    (too short, all zero, all negative…) instead of vanishing from the scores."""
    mine = errors[(errors["model"] == model) & errors["error"].notna()]
    if mine.empty:
        return pd.DataFrame(columns=["unique_id", "windows", "reason"])
    out = mine.groupby("unique_id", sort=True).agg(windows=("window", lambda w: ",".join(str(int(x)) for x in sorted(w))),
                                                   reason=("error", "first")).reset_index()
    return out[["unique_id", "windows", "reason"]]
