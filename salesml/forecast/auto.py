"""The automatic choice of a forecast model per series, and a panel of such forecasts.

For each series (``forecast_series``, a pure function of one history):

1. The history is tidied: duplicate dates summed, missing steps filled with 0 (no sales),
   negative steps (sales net of returns) clipped at 0 for fitting. Each is said in the status.
2. It is classified. Skipped (no forecast): no observations, fewer than 2, or nothing but
   zeros. Fallback (a baseline, no choice): a constant series (naive), or one shorter than
   ``min_obs_<freq>`` steps (seasonal naive with at least one season, else naive).
   Intermittent (a zero share of at least ``intermittent_zero_share``): Croston and TSB
   join the candidates; otherwise they are left out.
3. A rolling-origin backtest (``backtest_series``, ``windows`` windows of ``horizon`` steps)
   scores every candidate, and seasonal naive always (the baseline reports compare with).
   The lowest mean MASE wins; ties, and windows where MASE is undefined (a flat training
   period), are settled by WAPE, then by total absolute error, then by the order of
   ``settings.models``. A candidate that fails in a window the others could score is out.
   With ``ensemble_top`` >= 2 the average of the best N (``ensemble(a+b)``) is scored on
   the same windows and used when it beats the best single model.
4. The winner is refitted on the whole history for ``horizon`` steps. If it fails there, the
   next best is used; if every candidate failed, seasonal naive (then naive), with the errors.

``forecast_panel`` runs this over every series of a panel on a local process pool; any
failure stays with its series. With ``choice = "pooled"`` (the default) every candidate is
offered to every series (Croston and TSB too) and one model is then chosen for all the
series of the level (``pooled_choice``: the candidate whose choice for all of them scores
best in their selection backtests, a series it cannot forecast keeping its own best); each
series is refitted with it where its own best differed, and a series too short to choose on
its own gets it too. Given the pick of the level above (``parent_picks``, per window and for
the forecast: that level's ``PanelEvaluation.picks``), a level keeps it unless its own scores
more than ``[forecast] parent_margin`` better; which level is whose parent, and reading it,
is the callers' (``reconcile.by_level``, ``service.parent_picks``). ``[forecast]
combinations`` add the mean of fixed sets of candidates as candidates; a combination reuses
its members' fits (``_memoised``). A level with no level above it keeps its own pick of one
window earlier (the cut-off one horizon before) unless its best now scores more than
``[forecast] switch_margin`` better: in a backtest each window keeps the window before's (the
first has none), the forecast keeps the last window's.

``evaluate_series`` is the honest backtest of the automatic choice on one series: on each of
the last ``windows`` windows, the choice is made with the data before the window only and
scored on it, next to every single model on the same windows. All the fits of one series go
through one cache keyed by training cut-off, so the selection backtests of neighbouring
windows (and the single models' scores) share their fits: ``windows`` windows cost
``2 * windows`` fits per candidate, not ``windows * (windows + 1)``. ``evaluate_panel`` runs it
over a panel, and with ``forecast=True`` also makes the forecast from the whole history,
whose selection backtest is then already cached: fitting, backtesting and forecasting a
series costs ``2 * windows`` fits per candidate plus one refit. ``auto_summary`` turns the selection backtests into a per-model
table with an ``auto`` row (each series scored with the model it got), next to seasonal naive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from salesml.compute import available_cores, one_thread_per_worker
from salesml.compute_engines import Engine, map_on_cluster
from salesml.config import ForecastSettings
from salesml.forecast.backtest import backtest_series, empty_errors, errors_frame, score, summarise
from salesml.forecast.global_model import cutoffs, is_global, serve_global
from salesml.forecast.metrics import coverage, mase_scale
from salesml.forecast.models import (
    INTERMITTENT_MODELS,
    SEASON,
    Ensemble,
    Naive,
    SeasonalNaive,
    candidate_models,
)
from salesml.forecast.panels import FREQS, PanelError, step_offset

FORECAST_COLUMNS = ["unique_id", "ds", "yhat", "lo", "hi", "model"]
STATUS_COLUMNS = ["unique_id", "status", "model", "reason", "mase", "mase_seasonal_naive", "n_obs"]
#: the baseline every series is backtested with
BASELINE = "seasonal_naive"
#: models cheap enough per series for hundreds of daily series (product demand, the days of
#: an open quarter): ETS and Prophet cost seconds per daily series
CHEAP_MODELS = ("seasonal_naive", "ets_ana", "theta", "croston", "tsb")
#: mean MASEs equal to this many decimals are a tie (settled by WAPE): float noise is no win
TIE_DECIMALS = 9
#: tasks per worker process: small enough to balance slow and fast series across workers,
#: large enough that pickling the settings and results is a small share of the work
CHUNKS_PER_WORKER = 4


@dataclass(frozen=True)
class SeriesResult:
    """What one series gives: its forecast (``FORECAST_COLUMNS``), its status (a dict of
    ``STATUS_COLUMNS``) and its selection backtest (``backtest.COLUMNS``)."""

    forecast: pd.DataFrame
    status: dict
    errors: pd.DataFrame
    #: the candidates its choice was made among (empty for fallbacks and skips)
    candidates: tuple[str, ...] = ()
    #: too short to choose a model on its own: a pooled choice gives it its group's model
    short: bool = False
    #: each eligible candidate's interval factor from this series' selection backtest (its
    #: most recent ``calibrate_windows`` windows; ``[forecast] calibrate_intervals``; None: too
    #: few steps, or its own bounds held): a pooled pick's intervals are calibrated with its own
    factors: dict = field(default_factory=dict)


def cheap_models(models: Sequence[str]) -> tuple[str, ...]:
    """The cheap ones (:data:`CHEAP_MODELS`) among ``models``; seasonal naive if none."""
    return tuple(m for m in models if m in CHEAP_MODELS) or (BASELINE,)


def min_obs(settings: ForecastSettings, freq: str) -> int:
    """The shortest series (in steps) the candidates are fitted to at this frequency."""
    return int(getattr(settings, f"min_obs_{freq.lower()}"))


def selection_windows(settings: ForecastSettings) -> int:
    """The windows of each choice's selection backtest (``selection_windows``, else ``windows``)."""
    return settings.selection_windows or settings.windows


def default_horizon(settings: ForecastSettings, freq: str) -> int:
    """The default number of steps forecast at this frequency."""
    return int(getattr(settings, f"horizon_{freq.lower()}"))


def bind(model, unique_id):
    """The model for one series: ``model.for_series(unique_id)`` for models with series-specific
    inputs (Prophet's promotion category), else the model itself."""
    return model.for_series(unique_id) if hasattr(model, "for_series") else model


def _check_args(horizon: int, freq: str) -> None:
    if freq not in FREQS:
        raise PanelError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    if int(horizon) < 1:
        raise PanelError(f"the horizon must be 1 step or more, got {horizon}")


def _already_tidy(h: pd.DataFrame, freq: str) -> bool:
    """Whether ``ds, y`` is sorted, without missing values or duplicate dates, and (daily)
    without gaps: what ``tidy_history`` would return unchanged."""
    if freq != "D" or h["y"].isna().any() or h["ds"].isna().any():
        return False
    steps = np.diff(h["ds"].to_numpy(dtype="datetime64[ns]"))
    return bool((steps == np.timedelta64(1, "D")).all())


def tidy_history(history: pd.DataFrame, freq: str) -> tuple[pd.DataFrame, list[str]]:
    """One series' ``ds, y`` sorted, with duplicate dates summed (a missing ``y`` counts as 0)
    and, when every date lies on the frequency's calendar (days; weeks ending on the last
    date's weekday; months on its day), the missing steps added with y = 0. Returns the new frame and notes on what was
    changed. Pure: the input is not modified."""
    notes = []
    ds, y = history["ds"], history["y"]
    h = pd.DataFrame({
        "ds": ds if pd.api.types.is_datetime64_dtype(ds) else pd.to_datetime(ds),
        "y": y.astype("float64") if pd.api.types.is_numeric_dtype(y) else pd.to_numeric(y, errors="coerce"),
    })
    if _already_tidy(h, freq):  # the usual case (panels are complete): no groupby, no reindex
        return h.reset_index(drop=True), notes
    h = h[h["ds"].notna()]
    n_missing = int(h["y"].isna().sum())
    if n_missing:
        notes.append(f"{n_missing} missing values counted as 0")
    n_dup = int(h["ds"].duplicated().sum())
    h = h.groupby("ds", as_index=False, sort=True)["y"].sum()
    if n_dup:
        notes.append(f"{n_dup} duplicate dates summed")
    if len(h) > 1:
        grid = pd.date_range(h["ds"].iloc[0], h["ds"].iloc[-1], freq=step_offset(freq, h["ds"].iloc[-1]))
        if len(grid) > len(h) and h["ds"].isin(grid).all():
            notes.append(f"{len(grid) - len(h)} missing steps filled with 0")
            h = pd.DataFrame({"ds": grid, "y": h.set_index("ds")["y"].reindex(grid, fill_value=0.0).to_numpy()})
    return h.reset_index(drop=True), notes


def _empty_forecast() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[ns]" if c == "ds" else ("float64" if c in ("yhat", "lo", "hi") else object)) for c in FORECAST_COLUMNS})


def _status(uid, status: str, model: str | None, reasons: Sequence[str], n_obs: int, mase=np.nan, mase_sn=np.nan) -> dict:
    return {
        "unique_id": uid,
        "status": status,
        "model": model,
        "reason": "; ".join(r for r in reasons if r),
        "mase": float(mase),
        "mase_seasonal_naive": float(mase_sn),
        "n_obs": int(n_obs),
    }


def _labelled(uid, fc: pd.DataFrame, model: str, **extra) -> pd.DataFrame:
    """A model's forecast (``ds, yhat, lo, hi``) as ``FORECAST_COLUMNS`` of series ``uid``
    (and ``extra`` constant columns, e.g. ``window``), built from its arrays."""
    n = len(fc)
    cols = {"unique_id": np.full(n, uid, dtype=object), **{c: fc[c].to_numpy(copy=True) for c in ("ds", "yhat", "lo", "hi")},
            "model": np.full(n, model, dtype=object)}
    return pd.DataFrame({**cols, **{k: np.full(n, v) for k, v in extra.items()}}, copy=False)


def _scores(errors: pd.DataFrame) -> pd.DataFrame:
    """Per model of one series' backtest: mean MASE, pooled WAPE, total absolute error, the
    windows it scored and its first error message."""
    model = errors["model"].to_numpy()
    failed = errors["error"].notna().to_numpy()
    mase, abs_error, abs_actual = (errors[c].to_numpy(dtype="float64") for c in ("mase", "abs_error", "abs_actual"))
    window, messages = errors["window"].to_numpy(), errors["error"].to_numpy()
    names = list(dict.fromkeys(model))
    cols: dict[str, list] = {"mase": [], "wape": [], "abs_error": [], "windows": [], "error": []}
    for name in names:
        mine = model == name
        ok = mine & ~failed
        total = abs_actual[ok].sum()
        m = mase[ok]
        cols["mase"].append(float(np.nanmean(m)) if (~np.isnan(m)).any() else np.nan)
        cols["wape"].append(float(abs_error[ok].sum() / total * 100) if total else np.nan)
        cols["abs_error"].append(float(abs_error[ok].sum()) if ok.any() else np.nan)
        cols["windows"].append(frozenset(window[ok].tolist()))
        cols["error"].append(next(iter(messages[mine & failed]), None))
    data = {k: np.array(v, dtype=object if k in ("windows", "error") else "float64") for k, v in cols.items()}
    return pd.DataFrame(data, index=pd.Index(names, dtype=object, name="model"), copy=False)


def _rank(scores: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """``names`` from best to worst: mean MASE (if any is defined), then WAPE, then total
    absolute error, then the given order. Undefined values rank last."""

    def finite(x) -> float:
        return float(x) if np.isfinite(x) else math.inf

    use_mase = any(np.isfinite(scores.loc[n, "mase"]) for n in names)

    def key(item):
        pos, n = item
        mase = round(finite(scores.loc[n, "mase"]), TIE_DECIMALS) if use_mase else 0.0
        return (mase, finite(scores.loc[n, "wape"]), finite(scores.loc[n, "abs_error"]), pos)

    return [n for _, n in sorted(enumerate(names), key=key)]


def _memoised(models: Sequence) -> list:
    """Each model wrapped in a :class:`_Memo`, a combination as an ensemble of its members'
    memos (its backtest and forecast reuse their fits); one memo per name."""
    memos: dict[str, _Memo] = {}
    for m in models:
        if not isinstance(m, Ensemble):
            memos.setdefault(m.name, _Memo(m))
    for m in models:
        if isinstance(m, Ensemble) and m.name not in memos:
            members = tuple(memos.setdefault(x.name, _Memo(x)) for x in m.members)
            memos[m.name] = _Memo(Ensemble(members, m.name))
    return [memos[m.name] for m in models]


class _Memo:
    """A model that remembers its forecasts by training period, so an ensemble scored in the
    same backtest reuses its members' forecasts instead of fitting them again. Local to one
    ``forecast_series`` call (never returned)."""

    def __init__(self, model):
        self.model, self.name, self._seen = model, model.name, {}

    def forecast(self, history, horizon, freq, level=80):
        key = (len(history), history["ds"].to_numpy()[-1] if len(history) else None, horizon, freq, level)
        if key not in self._seen:
            try:
                self._seen[key] = (self.model.forecast(history, horizon, freq, level), None)
            except Exception as e:  # remembered and raised again for the ensemble
                self._seen[key] = (None, e)
        fc, err = self._seen[key]
        if err is not None:
            raise err
        return fc


def _fit_first(history: pd.DataFrame, models: Sequence, horizon: int, freq: str, level: float) -> tuple[object, pd.DataFrame, list[str]]:
    """The first of ``models`` that can forecast the whole history: (model, forecast, the
    errors of those before it). Raises the last error if none can."""
    failures = []
    for i, mdl in enumerate(models):
        try:
            return mdl, mdl.forecast(history, horizon, freq, level), failures
        except Exception as e:  # a model failing on a series is reported, not fatal
            failures.append(f"{mdl.name} failed on the full history ({type(e).__name__}: {e})")
            if i == len(models) - 1:
                raise
    raise ValueError("no model to fit")


def _baseline_run(uid, hist: pd.DataFrame, model, reasons: list[str], horizon: int, freq: str, settings: ForecastSettings, n_obs: int) -> SeriesResult:
    """A series that gets a baseline without a choice: backtest it and seasonal naive (so
    reports compare like with like), then forecast with it, or naive if it cannot."""
    sn = SeasonalNaive()
    models = [model] if model.name == BASELINE else [model, sn]
    errors = backtest_series(uid, hist, models, selection_windows(settings), horizon, freq, settings.level)
    scores = _scores(errors)
    chosen, fc, failures = _fit_first(hist, [model] if model.name == "naive" else [model, Naive()], horizon, freq, settings.level)
    return SeriesResult(
        _labelled(uid, fc, chosen.name),
        _status(uid, "fallback", chosen.name, [*reasons, *failures], n_obs, scores.loc[model.name, "mase"], scores.loc[BASELINE, "mase"]),
        errors,
    )


def select_and_forecast(
    uid, history: pd.DataFrame, horizon: int, freq: str, settings: ForecastSettings, candidates: Sequence | None = None
) -> SeriesResult:
    """``forecast_series`` with its selection backtest: a ``SeriesResult``.

    ``candidates``: model objects to choose from instead of ``settings.models`` (Croston and
    TSB, by name, still only for intermittent series)."""
    _check_args(horizon, freq)
    hist, notes = tidy_history(history, freq)
    n = len(hist)
    y = hist["y"].to_numpy(dtype="float64")
    if n == 0:
        return SeriesResult(_empty_forecast(), _status(uid, "skipped", None, ["no observations", *notes], n), empty_errors())
    if n < 2:
        return SeriesResult(_empty_forecast(), _status(uid, "skipped", None, ["fewer than 2 observations", *notes], n), empty_errors())
    n_neg = int((y < 0).sum())
    if n_neg:
        notes.append(f"{n_neg} negative values (sales net of returns) clipped at 0 for fitting")
        hist = hist.assign(y=np.clip(y, 0, None))
        y = hist["y"].to_numpy()
    if not (y > 0).any():
        return SeriesResult(_empty_forecast(), _status(uid, "skipped", None, ["all zeros: no sales to forecast", *notes], n), empty_errors())
    if np.ptp(y) == 0:
        return _baseline_run(uid, hist, Naive(), ["constant series", *notes], horizon, freq, settings, n)
    need = min_obs(settings, freq)
    if n < need:
        season = SEASON[freq]
        model = SeasonalNaive() if n >= season else Naive()
        short = f"{n} observations, fewer than the {need} needed to choose a model (min_obs_{freq.lower()})"
        res = _baseline_run(uid, hist, model, [short, *notes], horizon, freq, settings, n)
        return dataclasses.replace(res, short=True)

    zero_share = float(np.mean(y == 0))
    intermittent = zero_share >= settings.intermittent_zero_share
    if intermittent:
        notes.insert(0, f"intermittent ({zero_share:.0%} zero steps)")
    pool = [bind(m, uid) for m in (candidates if candidates is not None else candidate_models(settings))]
    if settings.choice == "series":  # a pooled choice offers every candidate to every series
        pool = [m for m in pool if intermittent or m.name not in INTERMITTENT_MODELS]
    pool = list({m.name: m for m in pool}.values())  # one candidate per name
    names = [m.name for m in pool]
    if not names:
        kind = "an intermittent" if intermittent else "a non-intermittent"
        why = f"no candidate model for {kind} series among {', '.join(settings.models)}"
        return _baseline_run(uid, hist, SeasonalNaive(), [why, *notes], horizon, freq, settings, n)
    tested = _memoised(pool) + ([] if BASELINE in names else [_Memo(SeasonalNaive())])
    errors = backtest_series(uid, hist, tested, selection_windows(settings), horizon, freq, settings.level)
    scores = _scores(errors)
    scored = frozenset().union(*scores["windows"])  # windows long enough for someone to score
    eligible = [m for m in names if scored and scores.loc[m, "windows"] >= scored]
    mase_sn = scores.loc[BASELINE, "mase"]
    if not eligible:
        failed = "; ".join(f"{m}: {scores.loc[m, 'error']}" for m in names)
        return _baseline_run(uid, hist, SeasonalNaive(), [f"no candidate could be backtested ({failed})", *notes], horizon, freq, settings, n)

    ranked = _rank(scores, eligible)
    by_name = dict(zip(names, pool, strict=True))
    memos = {m.name: m for m in tested}
    finalists = [by_name[m] for m in ranked]
    metric = "MASE" if np.isfinite(scores.loc[ranked[0], "mase"]) else "WAPE"
    how = [f"lowest {metric} of {', '.join(names)} over {len(scored)} backtest windows"]
    top = ranked[: settings.ensemble_top]
    if len(top) >= 2:  # the average of the best N: one more candidate, scored on the same windows
        ensemble = Ensemble(tuple(by_name[m] for m in top))
        ens_errors = backtest_series(uid, hist, [Ensemble(tuple(memos[m] for m in top))], selection_windows(settings), horizon, freq, settings.level)
        errors = pd.concat([errors, ens_errors], ignore_index=True)
        scores = pd.concat([scores, _scores(ens_errors)])
        if scores.loc[ensemble.name, "windows"] >= scored and _rank(scores, [ensemble.name, ranked[0]])[0] == ensemble.name:
            finalists.insert(0, ensemble)
            how.append(f"the average of the best {len(top)} beat {ranked[0]} alone")
    try:
        chosen, fc, failures = _fit_first(hist, finalists, horizon, freq, settings.level)
    except Exception as e:
        last = f"every candidate failed on the full history (last: {type(e).__name__}: {e})"
        return _baseline_run(uid, hist, SeasonalNaive(), [last, *notes], horizon, freq, settings, n)
    factors = {}
    if settings.calibrate_intervals:
        def factor_of(model) -> float | None:  # on the selection windows, whose fits are memoised
            windows = _backtest_windows(model, hist, selection_windows(settings), horizon, freq, settings.level)
            return interval_factor(recent_windows(windows, settings.calibrate_windows), settings.level, settings.calibrate_beyond_se)

        factors = {m: factor_of(memos[m]) for m in eligible}  # every eligible one: a pooled choice may pick any
        replay = memos.get(chosen.name) or (Ensemble(tuple(memos[m.name] for m in chosen.members)) if isinstance(chosen, Ensemble) else chosen)
        factor = factors[chosen.name] if chosen.name in factors else factor_of(replay)
        if factor is not None:
            fc = calibrated(fc, factor)
            how.append(f"intervals ×{factor:.2f} to cover {settings.level}% of the backtest")
    return SeriesResult(
        _labelled(uid, fc, chosen.name),
        # the backtest's winner could not refit: the next best (with its own score) is a fallback
        _status(uid, "fallback" if failures else "fitted", chosen.name, [*how, *failures, *notes], n, scores.loc[chosen.name, "mase"], mase_sn),
        errors,
        tuple(names),
        factors=factors,
    )


# --------------------------------------------------------------------------- intervals


#: the fewest backtest steps an interval is calibrated on
MIN_CALIBRATION_STEPS = 10


def interval_factor(windows: Sequence[tuple[pd.DataFrame, np.ndarray]], level: float, beyond_se: float = 0.0) -> float | None:
    """The conformal factor of a model's intervals from its backtest windows (``(forecast,
    actuals)`` pairs): each actual's distance from ``yhat`` in units of the bound on its side;
    the factor is the (finite-sample) ``level`` quantile of those, so scaling both bounds by it
    puts ``level`` % of the backtest's actuals inside. None when there are too few steps or
    the bounds are degenerate, and — with ``beyond_se`` > 0 — when the model's own bounds
    already held ``level`` % of the actuals to within ``beyond_se`` standard errors of a share
    measured on that many steps (their own intervals are then kept). Pure."""
    ratios = []
    for fc, actual in windows:
        n = len(actual)
        yhat, lo, hi = (fc[c].to_numpy(dtype="float64")[:n] for c in ("yhat", "lo", "hi"))
        e = np.asarray(actual, dtype="float64") - yhat
        side = np.where(e >= 0, hi - yhat, yhat - lo)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(np.where(e == 0, 0.0, np.abs(e) / side))
    r = np.concatenate(ratios) if ratios else np.array([])
    if len(r) < MIN_CALIBRATION_STEPS:
        return None
    p = level / 100
    if beyond_se > 0 and abs(float(np.mean(r <= 1)) - p) <= beyond_se * math.sqrt(p * (1 - p) / len(r)):
        return None
    q = min(1.0, math.ceil((len(r) + 1) * level / 100) / len(r))
    c = float(np.quantile(r, q, method="higher"))
    return c if np.isfinite(c) and c > 0 else None


def recent_windows(windows: Sequence, n: int) -> list:
    """The most recent ``n`` of a backtest's windows (``_backtest_windows``, oldest first), and
    older ones while they hold fewer than :data:`MIN_CALIBRATION_STEPS` steps; 0 = all. Pure."""
    if n <= 0:
        return list(windows)
    out, steps = [], 0
    for fc, actual in reversed(windows):
        if len(out) >= n and steps >= MIN_CALIBRATION_STEPS:
            break
        out.insert(0, (fc, actual))
        steps += len(actual)
    return out


def calibrated(fc: pd.DataFrame, factor: float | None) -> pd.DataFrame:
    """A forecast with its bounds scaled about ``yhat`` by ``factor`` (lower bound kept >= 0)."""
    if factor is None:
        return fc
    return scaled_bounds(fc, np.full(len(fc), float(factor)))


def scaled_bounds(fc: pd.DataFrame, factor) -> pd.DataFrame:
    """:func:`calibrated` with one factor per row (an array; NaN = keep the row's bounds)."""
    f = np.asarray(factor, dtype="float64")
    keep = np.isnan(f)
    yhat, lo, hi = (fc[c].to_numpy(dtype="float64") for c in ("yhat", "lo", "hi"))
    new_lo = np.minimum(np.clip(yhat - f * (yhat - lo), 0, None), yhat)
    new_hi = np.maximum(yhat + f * (hi - yhat), yhat)
    cols = {c: fc[c].to_numpy(copy=True) for c in fc.columns}
    cols.update(lo=np.where(keep, lo, new_lo), hi=np.where(keep, hi, new_hi))
    return pd.DataFrame(cols, index=fc.index.copy(), copy=False)


def _backtest_windows(model, hist: pd.DataFrame, windows: int, horizon: int, freq: str, level: float) -> list:
    """``(forecast, actuals)`` of ``model`` on the backtest windows of ``backtest_series`` (the
    same cut-offs: a memoised model answers from its cache)."""
    out = []
    for w in range(windows, 0, -1):
        cut = len(hist) - w * horizon
        if cut < 2:
            continue
        train, test = hist.iloc[:cut], hist.iloc[cut : cut + horizon]
        try:
            out.append((model.forecast(train, horizon, freq, level), test["y"].to_numpy(dtype="float64")))
        except Exception:  # a window the model failed in calibrates nothing
            continue
    return out


# --------------------------------------------------------------------------- pooled choice


def selection_scores(uid, errors: pd.DataFrame, candidates: Sequence[str]) -> pd.DataFrame:
    """One series' selection backtest per candidate (``unique_id, group, model, mase, wape,
    abs_error``): the candidates that scored every window it was scored on; ``group`` names
    the candidates (series with the same ones are chosen for together)."""
    cols = ["unique_id", "group", "model", "mase", "wape", "abs_error"]
    if not candidates or errors.empty:
        return pd.DataFrame(columns=cols)
    scores = _scores(errors)
    scored = frozenset().union(*scores["windows"])
    group = "+".join(candidates)
    rows = [{"unique_id": uid, "group": group, "model": m, "mase": scores.loc[m, "mase"],
             "wape": scores.loc[m, "wape"], "abs_error": scores.loc[m, "abs_error"]}
            for m in candidates if m in scores.index and scored and scores.loc[m, "windows"] >= scored]
    return pd.DataFrame(rows, columns=cols)


def candidate_names(group: str) -> list[str]:
    """The candidates a pooled ``group`` (``selection_scores``) names: its ``+``-joined names,
    a combination's own ``+`` (``ensemble(ets+theta)``) kept whole."""
    return re.split(r"\+(?![^()]*\))", group)


#: the least share of a group's series a model must have scored to be its pooled choice
POOL_COVERAGE = 0.9


def pooled_choice(selection: pd.DataFrame, prefer: str | None = None, margin: float = 0.0) -> pd.DataFrame:
    """Per group of series with the same candidates (``selection_scores`` of each), the model
    whose choice for the whole group scores best: for each candidate, every series scored
    with it, or — where it could not be scored — with the series' own best (what a pooled
    choice gives such a series); the lowest mean MASE (ties: mean WAPE, then total absolute
    error, then the candidates' order) among the candidates scored on at least
    :data:`POOL_COVERAGE` of the group's series: ``group, model, mase, series, own,
    own_mase``. With a ``stratum`` column (the level of each series, when several levels
    choose together) each stratum weighs the same: a model's MASE and WAPE are the mean of its
    means per stratum, so six regions count as much as 132 reps.

    ``prefer``: the pick the group would keep — the level above's (``[forecast]
    parent_margin``) or its own of one window earlier (``switch_margin``): it is kept when it
    is eligible and its mean MASE is at most ``1 + margin`` times the best's; ``own`` and
    ``own_mase`` are then the group's own best, which it did not take. Pure."""
    rows = []
    cols = ["mase", "wape", "abs_error"]
    for group, g in selection.groupby("group", sort=True):
        names = candidate_names(group)
        n = g["unique_id"].nunique()
        order = {m: i for i, m in enumerate(names)}
        ranked = g.assign(_nan=g["mase"].isna(), _order=g["model"].map(order))
        ranked = ranked.sort_values(["unique_id", "_nan", "mase", "wape", "abs_error", "_order"], kind="stable")
        own = ranked.drop_duplicates("unique_id").set_index("unique_id")[cols]
        strata = (g.drop_duplicates("unique_id").set_index("unique_id")["stratum"].reindex(own.index)
                  if "stratum" in g.columns else pd.Series(0, index=own.index))
        per = {}
        for m, mine in g.groupby("model", sort=False):
            mine = mine.drop_duplicates("unique_id").set_index("unique_id")[cols]
            if len(mine) < POOL_COVERAGE * n:
                continue
            outcome = own.copy()
            outcome.loc[mine.index] = mine
            means = outcome[["mase", "wape"]].groupby(strata.to_numpy(), sort=False, dropna=False).mean()  # NaN-skipping, per stratum
            per[m] = {"mase": float(means["mase"].mean()) if means["mase"].notna().any() else np.nan,
                      "wape": float(means["wape"].mean()) if means["wape"].notna().any() else np.nan,
                      "abs_error": float(outcome["abs_error"].sum()), "series": len(mine)}
        eligible = [m for m in names if m in per]
        if not eligible:
            continue
        table = pd.DataFrame.from_dict(per, orient="index")
        own = _rank(table, eligible)[0]
        best = own
        if prefer in per and prefer != own and table.loc[prefer, "mase"] <= table.loc[own, "mase"] * (1 + margin):  # NaN: never
            best = prefer
        rows.append({"group": group, "model": best, "mase": table.loc[best, "mase"], "series": n,
                     "own": own, "own_mase": table.loc[own, "mase"]})
    return pd.DataFrame(rows, columns=POOLED_COLUMNS)


#: the columns of ``pooled_choice``
POOLED_COLUMNS = ["group", "model", "mase", "series", "own", "own_mase"]


def _level_pick(choice: pd.DataFrame) -> dict | None:
    """The pick of a level (``pooled_choice(...).set_index("group")``): its largest group's
    ``model`` and ``own`` best; None when nothing was chosen."""
    largest = _largest_group(choice)
    return None if largest is None else {"model": choice.loc[largest, "model"], "own": choice.loc[largest, "own"]}


#: the columns of ``PanelEvaluation.picks``
PICK_COLUMNS = ["window", "model", "own"]

#: what a pooled pick may keep instead of the level's own best: the level above's pick
#: (``[forecast] parent_margin``), or the level's own pick one window earlier (``switch_margin``)
PARENT, PREVIOUS = "parent", "previous"


def keep_margin(settings: ForecastSettings, kept: str) -> float:
    """How much better a level's own best must score to replace the pick it would keep."""
    if kept not in (PARENT, PREVIOUS):
        raise ValueError(f"kept must be {PARENT!r} or {PREVIOUS!r}, got {kept!r}")
    return settings.parent_margin if kept == PARENT else settings.switch_margin


def _preferred(parent_picks: Mapping[int, str] | None, window: int, earlier_own: str | None) -> tuple[str | None, str]:
    """The pick a level keeps in ``window`` unless its own scores better by the margin, and
    whose it is: the level above's in that window when the level has one (``parent_picks``
    given), else the level's own best one window earlier (``earlier_own``; None: none)."""
    if parent_picks:
        return parent_picks.get(window), PARENT
    return earlier_own, PREVIOUS


def _own_in(picks: pd.DataFrame | None, window: int) -> str | None:
    """The level's own best in ``window`` of its ``picks`` (``PICK_COLUMNS``), or None."""
    own = None if picks is None else picks.loc[picks["window"] == window, "own"]
    return str(own.iloc[0]) if own is not None and len(own) else None


def _largest_group(choice: pd.DataFrame):
    """The pooled group (index of ``pooled_choice(...).set_index("group")``) with the most
    series: the one a series too short to choose on its own joins; None if there is none."""
    return None if choice.empty else choice["series"].idxmax()


def _pool_lookup(selection: pd.DataFrame, choice: pd.DataFrame | None = None) -> dict[str, str]:
    """unique_id -> the model its group's pooled choice (``pooled_choice(selection)``, unless
    given) gave."""
    model = (pooled_choice(selection) if choice is None else choice.reset_index()).set_index("group")["model"]
    groups = selection.drop_duplicates("unique_id").set_index("unique_id")["group"]
    return {uid: model[g] for uid, g in groups.items() if g in model.index}


def _refit(uid, history: pd.DataFrame, models: dict, horizon: int, freq: str, settings: ForecastSettings, pool: dict):
    """The forecast of one series by the model its group's pooled choice gave (``models[uid]``),
    fitted as the choice fits (tidied, negative steps clipped): ``(forecast, None)``, or
    ``(None, why)`` when it cannot fit the whole history."""
    hist, _ = tidy_history(history, freq)
    hist = hist.assign(y=np.clip(hist["y"].to_numpy(dtype="float64"), 0, None))
    model = bind(pool[models[uid]], uid)
    try:
        return _labelled(uid, model.forecast(hist, horizon, freq, settings.level), model.name), None
    except Exception as e:  # the series keeps its own choice, and says why
        return None, f"{model.name} failed on the full history ({type(e).__name__}: {e})"


def pool_results(results: Sequence[SeriesResult], panel: pd.DataFrame, horizon: int, freq: str, settings: ForecastSettings,
                 candidates: Sequence | None = None, workers: int | None = None, progress: bool = False,
                 prefer: str | None = None, kept: str = PARENT) -> tuple[list[SeriesResult], pd.DataFrame]:
    """The series results of a panel with the pooled choice (``settings.choice = "pooled"``):
    each series that made a choice gets its group's model (``pooled_choice``; ``prefer``: with
    ``kept = PARENT`` the level above's pick, kept within ``settings.parent_margin``; with
    ``kept = PREVIOUS`` the level's own pick one window earlier, kept within
    ``settings.switch_margin``), refitted where its own choice differed; so does a series too
    short to choose on its own (the largest group); other fallbacks and skips stay as they are.
    Also the choice (``pooled_choice``, by group)."""
    chose = [r for r in results if r.candidates and r.status["status"] == "fitted"]
    if not chose:
        return list(results), pd.DataFrame(columns=POOLED_COLUMNS).set_index("group")
    selection = pd.concat([selection_scores(r.status["unique_id"], r.errors, r.candidates) for r in chose], ignore_index=True)
    choice = pooled_choice(selection, prefer, keep_margin(settings, kept)).set_index("group")
    model_of = _pool_lookup(selection, choice)
    group_of = selection.drop_duplicates("unique_id").set_index("unique_id")["group"].to_dict()
    largest = _largest_group(choice)
    adopted = {r.status["unique_id"]: largest for r in results if r.short and largest is not None}
    model_of.update({uid: choice.loc[g, "model"] for uid, g in adopted.items()})
    group_of.update(adopted)
    own = {r.status["unique_id"]: r.status["model"] for r in [*chose, *(r for r in results if r.status["unique_id"] in adopted)]}
    redo = {uid: m for uid, m in model_of.items() if m != own[uid]}
    pool = {m.name: m for m in (candidates if candidates is not None else candidate_models(settings))}
    refits = {}
    if redo:
        task = partial(_refit, models=redo, horizon=horizon, freq=freq, settings=settings, pool=pool)
        todo = sorted(redo, key=str)
        refits = dict(zip(todo, map_series(task, panel[panel["unique_id"].isin(set(redo))], settings, workers, progress,
                                           sorted(set(redo.values())), desc="pooled"), strict=True))
    mine = selection.set_index(["unique_id", "model"])["mase"]
    out = []
    for r in results:
        uid = r.status["unique_id"]
        if uid not in model_of:
            out.append(r)
            continue
        m, group = model_of[uid], group_of[uid]
        fc, why = refits.get(uid, (r.forecast, None))
        if fc is None:
            status = {**r.status, "reason": f"{why}: kept its own choice; " + r.status["reason"]}
            out.append(dataclasses.replace(r, status=status))
            continue
        how = (f"pooled choice for the {int(choice.loc[group, 'series'])} series with candidates {', '.join(candidate_names(group))}: "
               f"{m}, mean MASE {choice.loc[group, 'mase']:.3f}")
        if choice.loc[group, "own"] != m:
            whose = "the level above's pick (this level's own" if kept == PARENT else "its pick one window earlier (its best now"
            how += (f", {whose}, {choice.loc[group, 'own']}, scored "
                    f"{choice.loc[group, 'own_mase']:.3f}: not more than {keep_margin(settings, kept):.0%} better)")
        if uid in refits and r.factors.get(m) is not None:  # its intervals calibrated on its own backtest, as a choice's are
            fc = calibrated(fc, r.factors[m])
            how += f", intervals ×{r.factors[m]:.2f} to cover {settings.level}% of the backtest"
        if uid in adopted:  # too short to choose on its own: its reasons all stay
            reasons = [how + " (too short to choose on its own)", *r.status["reason"].split("; ")]
        else:
            if own[uid] != m:
                how += f" (its own best: {own[uid]}, MASE {r.status['mase']:.3f})"
            reasons = [how, *r.status["reason"].split("; ")[1:]]
        status = {**r.status, "status": "fitted", "model": m, "mase": float(mine.get((uid, m), np.nan)), "reason": "; ".join(reasons)}
        out.append(dataclasses.replace(r, forecast=fc, status=status))
    return out, choice


def forecast_series(uid, history: pd.DataFrame, horizon: int, freq: str, settings: ForecastSettings, candidates: Sequence | None = None) -> tuple[pd.DataFrame, dict]:
    """The forecast of one series (``ds, y``) by its automatically chosen model, and its
    status: ``(frame of FORECAST_COLUMNS, dict of STATUS_COLUMNS)``. Pure; see the module's
    docstring for the rules. A skipped series has an empty forecast frame."""
    res = select_and_forecast(uid, history, horizon, freq, settings, candidates)
    return res.forecast, res.status


def _safe(uid, history, horizon, freq, settings, candidates) -> SeriesResult:
    """``select_and_forecast`` that turns any unexpected failure into a skipped status, so one
    series never stops a panel."""
    try:
        return select_and_forecast(uid, history, horizon, freq, settings, candidates)
    except Exception as e:
        status = _status(uid, "skipped", None, [f"failed: {type(e).__name__}: {e}"], len(history))
        return SeriesResult(_empty_forecast(), status, empty_errors())


def _run_chunk(fn, chunk) -> list:
    return [fn(uid, h) for uid, h in chunk]


@dataclass(frozen=True)
class SeriesEvaluation:
    """What ``evaluate_series`` gives for one series: ``errors`` (``backtest.COLUMNS``), one
    row per window for the automatic choice (model ``label``) and for each single model;
    ``choices``, the model the choice gave in each window (window -> name, None when the
    series was skipped there); ``result``, the forecast from the whole history when asked;
    ``window_forecasts``, the choice's forecast of each window; ``unique_id``, the series'."""

    errors: pd.DataFrame
    choices: dict = field(default_factory=dict)
    result: SeriesResult | None = None
    #: the choice's forecast of each window (``FORECAST_COLUMNS`` + ``window``)
    window_forecasts: pd.DataFrame | None = None
    unique_id: object = None
    #: the selection backtest before each window where a choice was made (``selection_scores``
    #: + ``window``): what a pooled choice across series is made from
    selection: pd.DataFrame | None = None
    #: each single model's forecast of each window (``FORECAST_COLUMNS`` + ``window``)
    single_forecasts: pd.DataFrame | None = None
    #: the windows where the series was too short to choose on its own (``unique_id, window``):
    #: a pooled choice gives it its group's model there
    short: pd.DataFrame | None = None
    #: per window and candidate, the interval factor of the selection backtest before the
    #: window and the coverage of the single model's forecast with it (``unique_id, window,
    #: model, factor, coverage``): a pooled pick's window is scored with calibrated intervals
    calibration: pd.DataFrame | None = None


def evaluate_series(
    uid,
    history: pd.DataFrame,
    windows: int,
    horizon: int,
    freq: str,
    settings: ForecastSettings,
    candidates: Sequence | None = None,
    singles: Sequence | None = None,
    label: str = "auto",
    forecast: bool = False,
    forecast_horizon: int | None = None,
) -> SeriesEvaluation:
    """The honest backtest of the automatic choice on one series (``ds, y``). Pure.

    On each of the last ``windows`` windows of ``horizon`` steps, ``select_and_forecast``
    chooses among ``candidates`` (default ``settings.models``) with the history up to the
    window's cut-off only — its own selection backtest ends there — and its forecast is
    scored on the window as model ``label``. ``singles`` (default: the candidates and
    seasonal naive) are scored alone on the same windows. Models see the history as the
    choice does (tidied, negative steps clipped at 0); errors are measured against the
    recorded values. One cache per series serves every fit (see the module docstring).
    ``forecast``: also choose and forecast from the whole history (``result``), ``forecast_horizon``
    steps ahead (default ``horizon``).
    """
    _check_args(horizon, freq)
    hist, _ = tidy_history(history, freq)
    fit_hist = hist.assign(y=np.clip(hist["y"].to_numpy(dtype="float64"), 0, None))
    pool = [bind(m, uid) for m in (candidates if candidates is not None else candidate_models(settings))]
    singles = [bind(m, uid) for m in singles] if singles is not None else [*pool, SeasonalNaive()]
    memos = {m.name: m for m in _memoised([*pool, *singles])}
    cached_pool = [memos[m.name] for m in pool]
    single_names = list(dict.fromkeys(m.name for m in singles if m.name != label))
    season = SEASON[freq]
    rows, choices, window_fcs, selections, single_fcs, shorts, calibration = [], {}, [], [], [], [], []
    n = len(hist)
    y_all, ds_all = hist["y"].to_numpy(dtype="float64"), hist["ds"].to_numpy(dtype="datetime64[ns]")
    for w in range(windows, 0, -1):
        window = windows - w + 1
        cut = n - w * horizon
        if cut < 2:
            for name in [label, *single_names]:
                rows.append({"unique_id": uid, "model": name, "window": window, "horizon": horizon,
                             "error": f"too short for window {window}: {n} observations"})
            choices[window] = None
            continue
        train_y, actual = y_all[:cut], y_all[cut : cut + horizon]
        scale = mase_scale(train_y, season)  # the same for every model of the window
        base = {"unique_id": uid, "window": window, "cutoff": ds_all[cut - 1], "horizon": horizon}
        seen = fit_hist.iloc[:cut].reset_index(drop=True)  # what every model fits in this window
        res = _safe(uid, seen, horizon, freq, settings, cached_pool)
        choices[window] = res.status["model"]
        if len(res.forecast):
            window_fcs.append(res.forecast.assign(window=window))
        if res.candidates and res.status["status"] == "fitted":
            selections.append(selection_scores(uid, res.errors, res.candidates).assign(window=window))
        elif res.short:
            shorts.append({"unique_id": uid, "window": window})
        row = {**base, "model": label}
        if len(res.forecast):
            row.update(score(train_y, actual, res.forecast, season, scale))
        else:
            row["error"] = f"skipped: {res.status['reason']}"
        rows.append(row)
        for name in single_names:
            row = {**base, "model": name}
            try:
                fc = memos[name].forecast(seen, horizon, freq, settings.level)
                row.update(score(train_y, actual, fc, season, scale))
                single_fcs.append(_labelled(uid, fc, name, window=window))
                factor = res.factors.get(name)
                if factor is not None:
                    cal = calibrated(fc.iloc[: len(actual)], factor)
                    calibration.append({"unique_id": uid, "window": window, "model": name, "factor": factor,
                                        "coverage": coverage(actual, cal["lo"].to_numpy(dtype="float64"), cal["hi"].to_numpy(dtype="float64"))})
            except Exception as e:  # one model failing on one series is a result, not a crash
                row["error"] = f"{type(e).__name__}: {e}"
            rows.append(row)
    errors = errors_frame(rows)
    result = _safe(uid, history, forecast_horizon or horizon, freq, settings, cached_pool) if forecast else None
    forecasts = pd.concat(window_fcs, ignore_index=True) if window_fcs else _empty_forecast().assign(window=pd.Series(dtype="int64"))
    return SeriesEvaluation(errors, choices, result, forecasts, uid,
                            pd.concat(selections, ignore_index=True) if selections else None,
                            pd.concat(single_fcs, ignore_index=True) if single_fcs else None,
                            pd.DataFrame(shorts, columns=["unique_id", "window"]) if shorts else None,
                            pd.DataFrame(calibration, columns=CALIBRATION_COLUMNS) if calibration else None)


#: the columns of ``SeriesEvaluation.calibration``
CALIBRATION_COLUMNS = ["unique_id", "window", "model", "factor", "coverage"]


def _safe_evaluate(uid, history, **kwargs) -> SeriesEvaluation:
    """``evaluate_series`` that turns an unexpected failure into error rows (one per window
    of the choice), so one series never stops a panel."""
    try:
        return evaluate_series(uid, history, **kwargs)
    except Exception as e:
        label, windows = kwargs.get("label", "auto"), kwargs["windows"]
        why = f"failed: {type(e).__name__}: {e}"
        errors = errors_frame([{"unique_id": uid, "model": label, "window": k, "horizon": kwargs["horizon"], "error": why}
                               for k in range(1, windows + 1)])
        result = None
        if kwargs.get("forecast"):
            result = SeriesResult(_empty_forecast(), _status(uid, "skipped", None, [why], len(history)), empty_errors())
        return SeriesEvaluation(errors, dict.fromkeys(range(1, windows + 1)), result, unique_id=uid)


@dataclass(frozen=True)
class PanelEvaluation:
    """What ``evaluate_panel`` gives: the honest backtest ``errors`` (``backtest.COLUMNS``) and
    ``choices`` (``unique_id, window, model``: what the choice gave in each window) of every
    series; ``window_forecasts``, the choice's forecast of each window (``FORECAST_COLUMNS`` +
    ``window``); with ``forecast=True`` also ``forecasts``, ``statuses`` and the selection
    backtests ``selection`` of the forecast from the whole history (as ``forecast_panel``)."""

    errors: pd.DataFrame
    choices: pd.DataFrame
    window_forecasts: pd.DataFrame | None = None
    forecasts: pd.DataFrame | None = None
    statuses: pd.DataFrame | None = None
    selection: pd.DataFrame | None = None
    #: with a pooled choice, the selection backtest before each window (``selection_scores`` +
    #: ``window``) that the window's pick was made from
    window_selection: pd.DataFrame | None = None
    #: with a pooled choice, the level's pick in each window and, as window 0, for the
    #: forecast from the whole history (``PICK_COLUMNS``: ``own`` is what the level would have
    #: picked afresh, without the pick it kept: the level above's, or its own one window
    #: earlier): what the level below keeps (``parent_picks``)
    picks: pd.DataFrame | None = None


def _serve_global_models(panel: pd.DataFrame, candidates: Sequence | None, singles: Sequence | None, settings: ForecastSettings,
                         freq: str, wanted: set[tuple[int, int]]) -> tuple[Sequence | None, Sequence | None]:
    """Candidates (and singles) with each global model (``lgbm``) fitted on the whole panel
    first, at the ``wanted`` cut-offs (steps back from each series' end, horizon), and served
    per series (:mod:`salesml.forecast.global_model`); unchanged when there is none."""
    pool = list(candidates) if candidates is not None else candidate_models(settings)
    if not any(is_global(m) for m in [*pool, *(singles or ())]):
        return candidates, singles
    tidy = [tidy_history(g[["ds", "y"]], freq)[0].assign(unique_id=uid) for uid, g in panel.groupby("unique_id", sort=True)]
    tidy_panel = pd.concat(tidy, ignore_index=True) if tidy else panel
    served = {m.name: m for m in serve_global([m for m in [*pool, *(singles or ())] if is_global(m)], tidy_panel, freq, wanted,
                                               available_cores())}
    swap = lambda models: [served.get(m.name, m) if is_global(m) else m for m in models]  # noqa: E731
    return swap(pool), (swap(singles) if singles is not None else None)


def evaluate_panel(
    panel: pd.DataFrame,
    windows: int,
    horizon: int,
    freq: str,
    settings: ForecastSettings,
    workers: int | None = None,
    progress: bool = False,
    candidates: Sequence | None = None,
    singles: Sequence | None = None,
    label: str = "auto",
    forecast: bool = False,
    forecast_horizon: int | None = None,
    parent_picks: Mapping[int, str] | None = None,
) -> PanelEvaluation:
    """``evaluate_series`` for every series of a panel (``unique_id, ds, y``) on a local
    process pool (``workers`` as in ``forecast_panel``). With a pooled choice,
    ``parent_picks``: the level above's pick per window (and as window 0 for the forecast;
    its ``PanelEvaluation.picks``), which this level keeps within ``settings.parent_margin``."""
    _check_args(horizon, freq)
    if int(windows) < 1:
        raise PanelError(f"the backtest needs 1 window or more, got {windows}")
    final = forecast_horizon or horizon
    wanted = cutoffs(horizon, int(windows) + selection_windows(settings))
    if forecast:
        wanted |= cutoffs(final, selection_windows(settings))
    candidates, singles = _serve_global_models(panel, candidates, singles, settings, freq, wanted)
    if settings.choice == "pooled" and singles is not None:  # a pooled pick is scored with its single scores
        given = {m.name for m in singles}
        singles = [*singles, *(m for m in (candidates if candidates is not None else candidate_models(settings)) if m.name not in given)]
    names = [*([m.name for m in candidates] if candidates is not None else settings.models), *(m.name for m in singles or ())]
    task = partial(_safe_evaluate, windows=windows, horizon=horizon, freq=freq, settings=settings,
                   candidates=candidates, singles=singles, label=label, forecast=forecast, forecast_horizon=forecast_horizon)
    flat = map_series(task, panel, settings, workers, progress, names, desc="backtest")
    parts = [e.errors for e in flat if len(e.errors)]
    choices = pd.DataFrame(
        [{"unique_id": e.unique_id, "window": k, "model": m} for e in flat for k, m in e.choices.items()],
        columns=["unique_id", "window", "model"],
    )
    wf = [e.window_forecasts for e in flat if e.window_forecasts is not None and len(e.window_forecasts)]
    out = PanelEvaluation(pd.concat(parts, ignore_index=True) if parts else empty_errors(), choices,
                          pd.concat(wf, ignore_index=True) if wf else _empty_forecast().assign(window=pd.Series(dtype="int64")))
    if settings.choice == "pooled":
        out = _pooled_windows(out, flat, label, settings, parent_picks)
    if not forecast:
        return out
    results = [e.result for e in flat]
    if settings.choice == "pooled":
        prefer, kept = _preferred(parent_picks, 0, _own_in(out.picks, int(windows)))  # the forecast keeps the last window's
        results, choice = pool_results(results, panel, forecast_horizon or horizon, freq, settings, candidates, workers, progress,
                                       prefer=prefer, kept=kept)
        out = dataclasses.replace(out, picks=_with_pick(out.picks, choice))
    forecasts, statuses, selection = _assemble(results)
    return dataclasses.replace(out, forecasts=forecasts, statuses=statuses, selection=selection)


def _with_pick(picks: pd.DataFrame | None, choice: pd.DataFrame) -> pd.DataFrame:
    """``picks`` (``PICK_COLUMNS``) with the pick of the forecast from the whole history
    (``choice``, by group) as window 0."""
    pick = _level_pick(choice)
    rows = [] if pick is None else [{"window": 0, **pick}]
    frames = [f for f in (picks, pd.DataFrame(rows, columns=PICK_COLUMNS)) if f is not None and len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=PICK_COLUMNS)


def picks_by_window(picks: pd.DataFrame | None) -> dict[int, str]:
    """A level's ``PanelEvaluation.picks`` as ``{window: model}`` (0: the forecast from the
    whole history): the ``parent_picks`` of the level below."""
    if picks is None or not len(picks):
        return {}
    return {int(w): str(m) for w, m in zip(picks["window"], picks["model"], strict=True)}


def _pooled_windows(ev: PanelEvaluation, flat: Sequence[SeriesEvaluation], label: str, settings: ForecastSettings,
                    parent_picks: Mapping[int, str] | None = None) -> PanelEvaluation:
    """The honest backtest of the pooled choice, from the per-series one: in each window, each
    series that made a choice — or was too short to choose on its own — is scored (and its
    window forecast taken) with the model its group's pooled choice gave from the selection
    backtests before that window — keeping the level above's pick of that window
    (``parent_picks[window]``) within ``settings.parent_margin``, or, for a level with none
    above it, its own best of the window before within ``settings.switch_margin`` (the first
    window has none): the scores the single models already have on the window; no extra fit."""
    sel = [e.selection for e in flat if e.selection is not None and len(e.selection)]
    if not sel:
        return ev
    sel = pd.concat(sel, ignore_index=True)
    shorts = [e.short for e in flat if e.short is not None and len(e.short)]
    shorts = pd.concat(shorts, ignore_index=True) if shorts else pd.DataFrame(columns=["unique_id", "window"])
    parts, level_picks, earlier_own = [], [], None
    for w, g in sel.groupby("window", sort=True):  # in time order: a window may keep the one before's pick
        prefer, kept = _preferred(parent_picks, int(w), earlier_own)
        choice = pooled_choice(g, prefer, keep_margin(settings, kept)).set_index("group")
        pick = _level_pick(choice)
        if pick is not None:
            level_picks.append({"window": int(w), **pick})
        earlier_own = None if pick is None else pick["own"]
        lookup = _pool_lookup(g, choice)
        largest = _largest_group(choice)
        if largest is not None:  # too short to choose on its own: the largest group's model
            lookup.update(dict.fromkeys(shorts.loc[shorts["window"] == w, "unique_id"], choice.loc[largest, "model"]))
        parts.append(pd.Series(lookup, name="pooled", dtype=object).rename_axis("unique_id").reset_index().assign(window=w))
    picks = pd.concat(parts, ignore_index=True)
    key = ["unique_id", "window"]
    errors = ev.errors
    singles = errors[(errors["model"] != label) & errors["error"].isna()].merge(picks, on=key)
    # a series the pick could not forecast in a window keeps its own choice there (as its forecast does)
    singles = singles[singles["model"] == singles["pooled"]].drop(columns="pooled")
    cal = [e.calibration for e in flat if e.calibration is not None and len(e.calibration)]
    cal = pd.concat(cal, ignore_index=True) if cal else pd.DataFrame(columns=CALIBRATION_COLUMNS)
    cal_key = [*key, "model"]
    if len(cal):  # the pick's intervals calibrated on the selection backtest before the window, as its forecast's are
        got = singles[cal_key].merge(cal, on=cal_key, how="left")
        singles = singles.assign(coverage=np.where(got["coverage"].notna(), got["coverage"], singles["coverage"]))
    singles = singles.assign(model=label)
    picks = picks.merge(singles[key], on=key)
    keep = errors.merge(singles[key].assign(_new=True), on=key, how="left")["_new"].isna().to_numpy() | (errors["model"] != label).to_numpy()
    errors = pd.concat([errors[keep], singles], ignore_index=True).sort_values(["unique_id", "window", "model"], kind="stable").reset_index(drop=True)
    choices = ev.choices.merge(picks, on=key, how="left")
    choices = choices.assign(model=choices["pooled"].where(choices["pooled"].notna(), choices["model"])).drop(columns="pooled")
    sf = [e.single_forecasts for e in flat if e.single_forecasts is not None and len(e.single_forecasts)]
    wf = ev.window_forecasts
    if sf and wf is not None:
        sf = pd.concat(sf, ignore_index=True).merge(picks, on=key)
        sf = sf[sf["model"] == sf["pooled"]].drop(columns="pooled")
        if len(cal):
            sf = scaled_bounds(sf, sf[cal_key].merge(cal, on=cal_key, how="left")["factor"].to_numpy(dtype="float64"))
        stale = wf.merge(sf[key].drop_duplicates().assign(_new=True), on=key, how="left")["_new"].notna().to_numpy()
        wf = pd.concat([wf[~stale], sf], ignore_index=True).sort_values(["unique_id", "window", "ds"], kind="stable").reset_index(drop=True)
    return dataclasses.replace(ev, errors=errors, choices=choices, window_forecasts=wf, window_selection=sel,
                               picks=pd.DataFrame(level_picks, columns=PICK_COLUMNS))


def _quiet_worker() -> None:
    """Worker start-up: one thread per native pool (the workers are the parallelism), and
    quiet Prophet (its cmdstanpy logs two lines per fit otherwise)."""
    one_thread_per_worker()
    for noisy in ("cmdstanpy", "prophet"):
        logging.getLogger(noisy).disabled = True


#: the libraries behind the models, imported before the pool starts: forked workers inherit
#: them instead of each paying the import (statsforecast alone takes seconds)
MODEL_LIBRARIES = {"ets": "statsforecast.models", "ets_ana": "statsforecast.models", "theta": "statsforecast.models", "croston": "statsforecast.models", "tsb": "statsforecast.models", "prophet": "prophet"}


def _preload(names) -> None:
    for module in sorted({MODEL_LIBRARIES[n] for n in names if n in MODEL_LIBRARIES}):
        with contextlib.suppress(ImportError):  # the model will say so, per series
            importlib.import_module(module)


def _workers(workers: int | None, settings: ForecastSettings, n_series: int) -> int:
    w = settings.workers if workers is None else workers
    w = w or os.cpu_count() or 1
    return max(1, min(int(w), n_series))


def forecast_panel(
    panel: pd.DataFrame,
    horizon: int,
    freq: str,
    settings: ForecastSettings,
    workers: int | None = None,
    progress: bool = False,
    candidates: Sequence | None = None,
    parent_pick: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``forecast_series`` for every series of a panel (``unique_id, ds, y``):
    ``(forecasts, statuses, backtest_errors)`` — ``FORECAST_COLUMNS``, ``STATUS_COLUMNS`` (one
    row per series) and the selection backtests (``backtest.COLUMNS``, every candidate and
    seasonal naive, per series and window), all sorted by series.

    ``workers``: processes (default ``settings.workers``; 0 = one per core; 1 = in this
    process). Series go to the workers in chunks, so pickling is paid per chunk, not per
    series. ``progress``: a progress bar on stderr. ``parent_pick``: with a pooled choice,
    the level above's pick, kept within ``settings.parent_margin``."""
    ev = _forecast_only(panel, horizon, freq, settings, workers, progress, candidates, parent_pick)
    return ev.forecasts, ev.statuses, ev.selection


def _forecast_only(panel: pd.DataFrame, horizon: int, freq: str, settings: ForecastSettings, workers: int | None, progress: bool,
                   candidates: Sequence | None, parent_pick: str | None) -> PanelEvaluation:
    """The forecast from the whole history, without an honest backtest: ``forecasts``,
    ``statuses``, the selection backtests as ``errors`` and ``selection``, and with a pooled
    choice the level's pick (``picks``, window 0). A pooled level with no level above it
    (``parent_pick`` None) keeps its own pick one window earlier within ``switch_margin``, as
    in a backtest: that pick comes from a one-window backtest, which shares the forecast's
    fits but those of one more cut-off (not made when there is one candidate: nothing to keep)."""
    n_candidates = len({m.name for m in (candidates if candidates is not None else candidate_models(settings))})
    if settings.choice == "pooled" and parent_pick is None and settings.switch_margin > 0 and n_candidates > 1:
        ev = evaluate_panel(panel, 1, horizon, freq, settings, workers, progress, candidates, forecast=True)
        picks = None if ev.picks is None else ev.picks[ev.picks["window"] == 0].reset_index(drop=True)
        return PanelEvaluation(ev.selection, _no_choices(), None, ev.forecasts, ev.statuses, ev.selection, picks=picks)
    results, choice = _forecast_results(panel, horizon, freq, settings, workers, progress, candidates, parent_pick)
    forecasts, statuses, selection = _assemble(results)
    return PanelEvaluation(selection, _no_choices(), None, forecasts, statuses, selection,
                           picks=None if choice is None else _with_pick(None, choice))


def _no_choices() -> pd.DataFrame:
    return pd.DataFrame(columns=["unique_id", "window", "model"])


def _forecast_results(panel: pd.DataFrame, horizon: int, freq: str, settings: ForecastSettings, workers: int | None, progress: bool,
                      candidates: Sequence | None, parent_pick: str | None) -> tuple[list[SeriesResult], pd.DataFrame | None]:
    """The series results of a forecast made on its selection backtest alone, and the pooled
    choice (by group; None unless pooled), keeping the level above's pick (``parent_pick``)."""
    _check_args(horizon, freq)
    candidates, _ = _serve_global_models(panel, candidates, None, settings, freq, cutoffs(horizon, selection_windows(settings)))
    names = [m.name for m in candidates] if candidates is not None else settings.models
    task = partial(_safe, horizon=horizon, freq=freq, settings=settings, candidates=candidates)
    results = map_series(task, panel, settings, workers, progress, names, desc="forecast")
    if settings.choice != "pooled":
        return results, None
    return pool_results(results, panel, horizon, freq, settings, candidates, workers, progress, prefer=parent_pick)


def forecast_and_backtest(
    panel: pd.DataFrame,
    horizon: int,
    freq: str,
    settings: ForecastSettings,
    workers: int | None = None,
    progress: bool = False,
    candidates: Sequence | None = None,
    honest: bool = False,
    parent_picks: Mapping[int, str] | None = None,
) -> PanelEvaluation:
    """The forecasts of ``forecast_panel`` with a backtest: its selection backtests (``errors``
    = ``selection``), or with ``honest`` ``evaluate_panel``'s (``settings.windows`` windows of
    ``horizon`` steps: rows of model ``auto``, the choice made before each window, next to each
    candidate and seasonal naive, and the choice's ``window_forecasts``). Honest costs about
    twice the fits, and gives figures a report can state. ``parent_picks``: the level above's
    ``picks`` (``picks_by_window``), as in ``evaluate_panel``."""
    if honest:
        return evaluate_panel(panel, settings.windows, horizon, freq, settings, workers, progress, candidates, forecast=True,
                              parent_picks=parent_picks)
    return _forecast_only(panel, horizon, freq, settings, workers, progress, candidates, (parent_picks or {}).get(0))


def _assemble(results: Sequence[SeriesResult]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Series results as ``(forecasts, statuses, selection backtests)`` frames."""
    forecasts = [r.forecast for r in results if len(r.forecast)]
    errors = [r.errors for r in results if len(r.errors)]
    return (
        pd.concat(forecasts, ignore_index=True) if forecasts else _empty_forecast(),
        pd.DataFrame([r.status for r in results], columns=STATUS_COLUMNS),
        pd.concat(errors, ignore_index=True) if errors else empty_errors(),
    )


def map_series(fn, panel: pd.DataFrame, settings: ForecastSettings, workers: int | Engine | None = None, progress: bool = False,
               models: Sequence[str] = (), desc: str = "series") -> list:
    """``fn(unique_id, history)`` for every series of ``panel`` (``unique_id, ds, y``; the
    history is the series' ``ds, y``), in ``unique_id`` order, on a local process pool — or,
    when ``workers`` is a :class:`salesml.compute_engines.Engine` of kind dask or spark, on
    that cluster through Fugue (``map_on_cluster``: the same chunk runner, the same results
    in the same order).

    ``workers``: processes (default ``settings.workers``; 0 = one per core; 1 = in this
    process). Series go to the workers in chunks, so pickling is paid per chunk, not per
    series; ``fn`` must be picklable (a module-level function or a ``functools.partial`` of
    one) and should not raise. ``models``: names of the models ``fn`` fits, whose libraries
    are imported once before the workers fork. ``progress``: a progress bar on stderr."""
    if isinstance(workers, Engine):
        if workers.kind != "local":
            bar = _progress_bar(panel["unique_id"].nunique(), progress, desc)
            try:
                return map_on_cluster(_run_chunk, fn, panel, workers, setup=_quiet_worker, progress=bar)
            finally:
                bar(None)
        workers = workers.workers
    groups = [(uid, g[["ds", "y"]].reset_index(drop=True)) for uid, g in panel.groupby("unique_id", sort=True)]
    n_workers = _workers(workers, settings, len(groups))
    size = max(1, math.ceil(len(groups) / (n_workers * CHUNKS_PER_WORKER)))
    chunks = [groups[i : i + size] for i in range(0, len(groups), size)]
    bar = _progress_bar(len(groups), progress, desc)
    results: list[list] = [[] for _ in chunks]
    try:
        if n_workers == 1:
            for i, chunk in enumerate(chunks):
                results[i] = _run_chunk(fn, chunk)
                bar(len(chunk))
        else:
            _preload(models)
            with ProcessPoolExecutor(max_workers=n_workers, initializer=_quiet_worker) as ex:
                futures = {ex.submit(_run_chunk, fn, chunk): i for i, chunk in enumerate(chunks)}
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = fut.result()
                    bar(len(chunks[i]))
    finally:
        bar(None)
    return [r for part in results for r in part]


def _progress_bar(total: int, enabled: bool, desc: str = "forecast"):
    """A function advancing a tqdm bar by n series (None closes it); a no-op when disabled."""
    if not enabled:
        return lambda n: None
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="series")
    return lambda n: bar.close() if n is None else bar.update(n)


def auto_summary(backtest_errors: pd.DataFrame, statuses) -> pd.DataFrame:
    """``backtest.summarise`` of the selection backtests plus a first row ``model="auto"``:
    each series scored with the model it was given (its status' ``model``), so ``auto`` can
    be read against ``seasonal_naive`` and the single models. Errors of an honest backtest
    (``evaluate_panel``, with rows of model ``auto``) are summarised as they are, ``auto`` first. Columns: ``model, mase, smape,
    wape, bias, coverage_80, series``."""
    if (backtest_errors["model"] == "auto").any():  # an honest backtest (evaluate_panel) scored auto itself
        s = summarise(backtest_errors)
        return s.assign(_o=(s["model"] != "auto")).sort_values("_o", kind="stable").drop(columns="_o").reset_index(drop=True)
    statuses = pd.DataFrame(statuses, columns=STATUS_COLUMNS) if not isinstance(statuses, pd.DataFrame) else statuses
    per_model = summarise(backtest_errors)
    chosen = backtest_errors["unique_id"].map(statuses.set_index("unique_id")["model"])
    auto = summarise(backtest_errors[backtest_errors["model"] == chosen].assign(model="auto"))
    return pd.concat([auto, per_model], ignore_index=True) if len(auto) else per_model
