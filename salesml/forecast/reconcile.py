"""The sales hierarchy (rep → team → region → company) and coherent forecasts on it.

The hierarchy
-------------
:func:`hierarchy_panel` builds one series per *node*: the company, each region, each team
within its region and each rep within their team and region. The bottom series are the
ledger's entries keyed by the team and region frozen in each entry (the hierarchy stint
on the date of the sale) and ``coalesce(rep_id, unassigned)`` — the keys
:func:`salesml.forecast.panels.panel` uses — so the nodes add up exactly: the company
equals ``panel(level="company")``, a region ``panel(level="region")``, and so on. A rep
who moved team is two bottom series (one per team), as in the performance figures.

Node ids are unique across levels and say where a node sits (:func:`node_id`)::

    company
    region/East China
    region/East China/team/T03
    region/East China/team/T03/rep/R017

Reconciliation
--------------
Forecasting every node on its own gives numbers that do not add up (the reps' forecasts
do not sum to their team's). :func:`reconcile` makes them coherent with
hierarchicalforecast: ``bottom_up`` (sum the reps), ``mint_ols`` and ``mint_shrink``
(MinTrace, Wickramasuriya et al. 2019). MinT-shrink
weighs the nodes by the covariance of their in-sample one-step errors: pass ``fitted``
values, or get those of a one-step seasonal naive (:func:`seasonal_naive_fitted`).

The output is non-negative and exactly coherent: after reconciliation the bottom series
are clipped at 0 and every parent is recomputed as the sum of its bottom series.
(hierarchicalforecast's own non-negative MinT, a quadratic program, refuses real sales
hierarchies: on the medium demo's 160 weekly nodes it reported MinT-shrink "ill-conditioned"
and MinT-OLS "nonnegative optimization failed" for any ridge; and it works in single
precision. The unconstrained MinT solves there and keeps the company's seasonal peaks,
which bottom-up from the reps loses; its few negative bottom values are small.)
Intervals are the base forecast's own interval shifted by the reconciliation adjustment
(``yhat`` reconciled minus ``yhat`` base), kept around the reconciled ``yhat`` and
clipped at 0: each node keeps the width of its own forecast's uncertainty. (Intervals
are not additive, so they are not summed.)
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from salesml.config import RECONCILE_METHODS, ForecastSettings, PerformanceSettings, Settings
from salesml.errors import SalesmlError
from salesml.forecast.auto import PanelEvaluation, forecast_and_backtest, picks_by_window
from salesml.forecast.backtest import errors_frame, score_arrays
from salesml.forecast.models import SEASON, Ensemble, candidate_models, future_dates
from salesml.forecast.panels import FREQS, PanelError, fill_gaps, ledger_sums, parent_of
from salesml.scope import Scope, check_scope, parse_scope

#: levels of the hierarchy, top to bottom
LEVELS = ("company", "region", "team", "rep")
#: id of the top node
COMPANY = "company"
#: methods that need in-sample fitted values (the covariance of the one-step errors)
INSAMPLE_METHODS = ("mint_shrink",)
_SEP = "/"
#: (largest step in days, frequency): a panel whose dates are at most 1 day apart is daily,
#: at most 7 weekly, otherwise monthly
_FREQ_BY_DAYS = ((1, "D"), (7, "W"))


class HierarchyError(SalesmlError, ValueError):
    """A hierarchy cannot be built or reconciled as asked; the message says why."""


def performance_settings(settings: Settings | PerformanceSettings | None) -> PerformanceSettings:
    """The performance settings (who counts as unassigned...) of full ``Settings``, or the
    ``PerformanceSettings`` given, or the defaults."""
    if settings is None:
        return PerformanceSettings()
    return settings.performance if isinstance(settings, Settings) else settings


def node_id(level: str, region: str | None = None, team: str | None = None, rep: str | None = None) -> str:
    """The id of a node of the hierarchy, e.g. ``node_id("team", "East China", "T03")`` is
    ``region/East China/team/T03``; ``node_id("company")`` is ``company``."""
    if level not in LEVELS:
        raise HierarchyError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    parts = []
    for name, value in (("region", region), ("team", team), ("rep", rep))[: LEVELS.index(level)]:
        if value is None or pd.isna(value):
            raise HierarchyError(f"a {level} node needs its {name}")
        parts.append(f"{name}{_SEP}{value}")
    return _SEP.join(parts) if parts else COMPANY


def node_level(uid: str) -> str | None:
    """The level of a node id made by :func:`node_id` (None if it is not one)."""
    if uid == COMPANY:
        return COMPANY
    parts = uid.split(_SEP)
    names = parts[0::2]
    return LEVELS[len(names)] if names == list(("region", "team", "rep")[: len(names)]) and len(parts) % 2 == 0 else None


def hierarchy_levels(scope: str | Scope | None = None) -> tuple[str, ...]:
    """The levels a scope sees: its own and those below (``team:T03`` -> team, rep)."""
    return LEVELS[LEVELS.index(parse_scope(scope).level):]


def node_ids(bottom: pd.DataFrame, levels: tuple[str, ...] = LEVELS) -> pd.DataFrame:
    """For every row of ``bottom`` (columns ``region, team, rep``): one column per level of
    ``levels`` holding the id of the row's node at that level. Pure."""
    out = pd.DataFrame(index=bottom.index)
    for level in levels:
        n = LEVELS.index(level)
        if n == 0:
            out[level] = COMPANY
            continue
        ids = None
        for name in ("region", "team", "rep")[:n]:
            part = name + _SEP + bottom[name].astype(str)
            ids = part if ids is None else ids + _SEP + part
        out[level] = ids
    return out


def rollup(bottom: pd.DataFrame, value_cols: list[str], levels: tuple[str, ...] = LEVELS) -> pd.DataFrame:
    """Sum ``value_cols`` of bottom rows (``region, team, rep`` [, ``ds``]) to every node of
    ``levels``: ``unique_id, level`` [, ``ds``], ``value_cols``. Pure."""
    ids = node_ids(bottom, levels)
    extra = ["ds"] if "ds" in bottom.columns else []
    parts = []
    for level in levels:
        frame = pd.concat([ids[[level]].rename(columns={level: "unique_id"}), bottom[extra + value_cols]], axis=1)
        summed = frame.groupby(["unique_id", *extra], as_index=False, sort=True)[value_cols].sum()
        summed.insert(1, "level", level)
        parts.append(summed)
    return pd.concat(parts, ignore_index=True)


def bottom_panel(
    con: duckdb.DuckDBPyConnection,
    freq: str = "D",
    settings: Settings | PerformanceSettings | None = None,
    scope: str | Scope | None = None,
    end: str | None = None,
    start: str | None = None,
) -> pd.DataFrame:
    """``region, team, rep, unique_id, ds, y``: net revenue per rep within team within region,
    from the ledger (team and region frozen in each entry), with the gaps and the partial
    last step handled as :func:`salesml.forecast.panels.panel` does."""
    if freq not in FREQS:
        raise HierarchyError(f"freq must be one of {', '.join(FREQS)}, got {freq!r}")
    sc = parse_scope(scope)
    check_scope(con, sc)
    try:
        df, steps = ledger_sums(con, "e.region, e.team, e.rep_key AS rep", freq, scope=sc, start=start, end=end,
                                settings=performance_settings(settings), forecast=settings.forecast if isinstance(settings, Settings) else None)
    except PanelError as e:
        raise HierarchyError(str(e)) from None
    if df.empty:
        raise HierarchyError(f"no sales in scope {sc} up to {steps.last:%Y-%m-%d}: nothing to build a hierarchy from")
    df = df.assign(unique_id=node_ids(df, ("rep",))["rep"])
    keys = df[["unique_id", "region", "team", "rep"]].drop_duplicates("unique_id")
    filled = fill_gaps(df[["unique_id", "ds", "y"]], freq, end=steps.last, anchor=steps.anchor)
    return keys.merge(filled, on="unique_id", how="right")[["region", "team", "rep", "unique_id", "ds", "y"]]


def hierarchy_panel(
    con: duckdb.DuckDBPyConnection,
    freq: str = "D",
    settings: Settings | PerformanceSettings | None = None,
    scope: str | Scope | None = None,
    end: str | None = None,
    *,
    start: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """``(Y_df, S_df, tags)`` of the hierarchy, as hierarchicalforecast's ``aggregate`` gives them.

    ``Y_df``: ``unique_id, ds, y`` of every node (see :func:`node_id`); ``S_df``: the summing
    matrix, ``unique_id`` and one column per bottom node (top nodes first, bottom last);
    ``tags``: level name (``company``, ``region``, ``team``, ``rep``) -> node ids. With a
    ``scope``, the levels above it are left out (``region:East China`` starts at the
    region). ``start``/``end`` bound the ledger's credit dates (``end`` defaults to the last).
    """
    bottom = bottom_panel(con, freq, settings, scope, end, start)
    return build_hierarchy(bottom, present_levels(bottom, hierarchy_levels(scope), performance_settings(settings).unassigned))


def present_levels(bottom: pd.DataFrame, levels: tuple[str, ...], unassigned: str) -> tuple[str, ...]:
    """The levels the data has: below the top one, a region, team or rep level whose every
    node is ``unassigned`` (no reps loaded: the hierarchy is absent) is left out rather than
    rebuilt as a copy of the level above. Pure."""
    return (levels[0], *(lv for lv in levels[1:] if not (bottom[lv].astype(str) == unassigned).all()))


def build_hierarchy(
    bottom: pd.DataFrame, levels: tuple[str, ...] = LEVELS
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """``(Y_df, S_df, tags)`` from bottom series ``region, team, rep, ds, y`` (see
    :func:`hierarchy_panel`), with the nodes of ``levels`` (top to bottom). The last level is
    the bottom: ``rep``, or a level above it when those below hold one node per parent (an
    absent hierarchy, see :func:`present_levels`). Pure."""
    from hierarchicalforecast.utils import aggregate

    missing = {"region", "team", "rep", "ds", "y"} - set(bottom.columns)
    if missing:
        raise HierarchyError(f"the bottom series need columns region, team, rep, ds, y; missing {sorted(missing)}")
    if not levels or any(lv not in LEVELS for lv in levels) or list(levels) != sorted(levels, key=LEVELS.index):
        raise HierarchyError(f"levels must be among {', '.join(LEVELS)}, top to bottom, got {list(levels)}")
    if bottom.empty:
        raise HierarchyError("no bottom series: nothing to build a hierarchy from")
    if bottom[["region", "team", "rep", "ds", "y"]].isna().any().any():
        raise HierarchyError("the bottom series have missing region, team, rep, ds or y values")
    bottom = bottom.reset_index(drop=True)
    # aggregate joins the values of a level's columns with "/" and splits them again, so it
    # gets integer codes (names may hold any character) and its ids are mapped to node ids
    codes = pd.DataFrame(
        {
            "company": COMPANY,
            **{name: pd.factorize(bottom[name])[0].astype(str) for name in ("region", "team", "rep")},
            "ds": pd.to_datetime(bottom["ds"]),
            "y": bottom["y"].astype("float64"),
        }
    )
    # every level starts with "company": aggregate needs the bottom level to hold every column
    # (a bottom above rep has one rep per node: the same groups)
    spec = [list(LEVELS[: LEVELS.index(level) + 1]) for level in levels[:-1]] + [list(LEVELS)]
    if levels[-1] != "rep":
        above = list(LEVELS[1 : LEVELS.index(levels[-1]) + 1])
        reps = bottom.drop_duplicates(["region", "team", "rep"])
        if (reps.groupby(above).size().max() if above else len(reps)) > 1:
            raise HierarchyError(f"the bottom level {levels[-1]!r} holds several reps per node: it cannot be the bottom")
    Y_df, S_df, tags = aggregate(codes, spec)
    keys = bottom.drop_duplicates(["region", "team", "rep"]).index
    ids = node_ids(bottom.loc[keys], levels)
    to_node: dict[str, str] = {}
    for level, cols in zip(levels, spec, strict=True):
        agg_ids = codes.loc[keys, cols].agg(_SEP.join, axis=1)
        to_node.update(zip(agg_ids, ids[level], strict=True))
    Y_df = Y_df.assign(unique_id=Y_df["unique_id"].map(to_node))[["unique_id", "ds", "y"]].reset_index(drop=True)
    S_df = S_df.assign(unique_id=S_df["unique_id"].map(to_node)).rename(columns=to_node).reset_index(drop=True)
    level_of = {_SEP.join(cols): level for level, cols in zip(levels, spec, strict=True)}
    tags = {level_of[key]: np.array([to_node[u] for u in members], dtype=object) for key, members in tags.items()}
    if S_df["unique_id"].duplicated().any():
        dup = S_df.loc[S_df["unique_id"].duplicated(), "unique_id"].tolist()[:3]
        raise HierarchyError(f"node ids are not unique (a region/team/rep name containing {_SEP!r}?), e.g. {dup}")
    return Y_df, S_df, tags


def infer_freq(Y_df: pd.DataFrame) -> str:
    """``D``, ``W`` or ``M`` from the smallest step between dates of a panel."""
    days = pd.Series(np.sort(pd.to_datetime(Y_df["ds"]).unique())).diff().dt.days.dropna()
    if days.empty:
        raise HierarchyError("cannot tell the frequency of a panel with a single date; pass freq")
    step = days.min()
    return next((f for limit, f in _FREQ_BY_DAYS if step <= limit), "M")


def seasonal_naive_fitted(Y_df: pd.DataFrame, freq: str | None = None, season: int | None = None) -> pd.DataFrame:
    """In-sample one-step forecasts of a seasonal naive: ``unique_id, ds, yhat`` with ``yhat``
    = the value one season earlier (NaN for each series' first season). Pure.

    These are what :func:`reconcile` uses for MinT-shrink when no ``fitted`` values are given:
    the covariance of their errors across nodes is the weight matrix MinT needs."""
    m = season or SEASON[freq or infer_freq(Y_df)]
    ordered = Y_df.sort_values(["unique_id", "ds"])
    yhat = ordered.groupby("unique_id", sort=False)["y"].shift(m)
    return pd.DataFrame({"unique_id": ordered["unique_id"], "ds": ordered["ds"], "yhat": yhat}).reset_index(drop=True)


def _insample(Y_df: pd.DataFrame, fitted: pd.DataFrame | None, freq: str | None) -> pd.DataFrame:
    """``unique_id, ds, y, yhat`` on a balanced grid (every node x every date of ``Y_df``).

    Before a node's first date it had no sales: ``y`` = 0 there, and so is ``yhat`` (a
    node that did not exist was forecast nothing), so every node has residuals over the
    whole window and MinT-shrink can estimate its variance even when it is new. Without
    ``fitted``, a seasonal naive is fitted on that balanced grid (its first sale day is then
    an error of the full sale, as a seasonal naive would have forecast 0)."""
    actual = Y_df[["unique_id", "ds", "y"]].assign(ds=pd.to_datetime(Y_df["ds"]))
    grid = pd.MultiIndex.from_product([actual["unique_id"].unique(), np.sort(actual["ds"].unique())], names=["unique_id", "ds"])
    balanced = actual.set_index(["unique_id", "ds"]).reindex(grid)
    before_start = balanced["y"].isna().to_numpy()
    balanced = balanced.fillna({"y": 0.0}).reset_index()
    if fitted is None:
        fit = seasonal_naive_fitted(balanced, freq or infer_freq(actual))
    else:
        fit = fitted[["unique_id", "ds", "yhat"]].assign(ds=pd.to_datetime(fitted["ds"]))
    out = balanced.merge(fit, on=["unique_id", "ds"], how="left")
    out.loc[before_start & out["yhat"].isna().to_numpy(), "yhat"] = 0.0
    return out


def _reconciler(method: str):
    from hierarchicalforecast.methods import BottomUp, MinTrace

    if method == "bottom_up":
        return BottomUp()
    # unconstrained, then clipped and summed up in reconcile() (see the module docstring)
    return MinTrace(method="mint_shrink" if method == "mint_shrink" else "ols", nonnegative=False)


def _check_inputs(base: pd.DataFrame, S_df: pd.DataFrame, Y_df: pd.DataFrame | None, method: str) -> None:
    if method not in RECONCILE_METHODS:
        raise HierarchyError(f"method must be one of {', '.join(RECONCILE_METHODS)}, got {method!r}")
    missing_cols = {"unique_id", "ds", "yhat"} - set(base.columns)
    if missing_cols:
        raise HierarchyError(f"the base forecasts need columns unique_id, ds, yhat; missing {sorted(missing_cols)}")
    nodes, have = set(S_df["unique_id"]), set(base["unique_id"])
    if nodes - have:
        raise HierarchyError(f"no base forecast for {len(nodes - have)} node(s) of the hierarchy, e.g. {sorted(nodes - have)[:3]}")
    if have - nodes:
        raise HierarchyError(f"{len(have - nodes)} forecast series are not nodes of the hierarchy, e.g. {sorted(have - nodes)[:3]}")
    if base["yhat"].isna().any():
        raise HierarchyError(f"base forecasts have missing yhat for {base.loc[base['yhat'].isna(), 'unique_id'].nunique()} node(s)")
    steps = base.groupby("unique_id")["ds"].agg(["nunique", "min", "max"])
    if len(steps.drop_duplicates()) > 1:
        raise HierarchyError("every node's base forecast must cover the same dates (same horizon)")
    if base.duplicated(["unique_id", "ds"]).any():
        raise HierarchyError("base forecasts have duplicate (unique_id, ds) rows")
    if Y_df is not None and set(Y_df["unique_id"]) != nodes:
        raise HierarchyError("the in-sample actuals (Y_df) must hold exactly the nodes of the hierarchy (S_df)")


def reconcile(
    base_forecasts: pd.DataFrame,
    Y_df: pd.DataFrame,
    S_df: pd.DataFrame,
    tags: dict[str, np.ndarray],
    method: str = "mint_shrink",
    fitted: pd.DataFrame | None = None,
    *,
    freq: str | None = None,
) -> pd.DataFrame:
    """Coherent, non-negative forecasts of every node of the hierarchy.

    ``base_forecasts``: ``unique_id, ds, yhat`` (+ optional ``lo, hi, model``), one series per
    node of ``S_df``, all over the same dates. ``Y_df``: the nodes' in-sample actuals
    ``unique_id, ds, y`` (from :func:`hierarchy_panel`). ``method``: ``bottom_up``,
    ``mint_ols`` or ``mint_shrink``. ``fitted``: in-sample one-step forecasts
    ``unique_id, ds, yhat`` for MinT-shrink; by default those of a seasonal naive
    (season of ``freq``, inferred from ``Y_df`` when not given).

    Returns ``unique_id, ds, yhat, lo, hi, yhat_base, model, method``: for every date the
    bottom nodes add up to each parent, nothing is negative, and ``lo``/``hi`` are the base
    interval moved by ``yhat - yhat_base`` (see the module docstring). Pure.
    """
    from hierarchicalforecast.core import HierarchicalReconciliation

    _check_inputs(base_forecasts, S_df, Y_df if method in INSAMPLE_METHODS else None, method)
    bottom_ids = [c for c in S_df.columns if c != "unique_id"]
    order = S_df["unique_id"].tolist()
    S = S_df[bottom_ids].to_numpy(dtype="float64")
    base = base_forecasts.copy()
    base["ds"] = pd.to_datetime(base["ds"])
    y_hat = base.pivot(index="unique_id", columns="ds", values="yhat").reindex(order)
    dates = y_hat.columns

    if len(order) == len(bottom_ids):  # no aggregate node (e.g. a rep's own scope): nothing to reconcile
        bottom = np.clip(y_hat.to_numpy(dtype="float64"), 0, None)
    else:
        y_in = _insample(Y_df, fitted, freq) if method in INSAMPLE_METHODS else None
        hrec = HierarchicalReconciliation([_reconciler(method)])
        try:
            with warnings.catch_warnings():
                # qpsolvers converts the non-negative MinT's matrices to sparse and says so
                # each time; hierarchicalforecast warns of negative base forecasts, which
                # models never give (and would be clipped: the same thing)
                warnings.filterwarnings("ignore", module="qpsolvers")
                warnings.filterwarnings("ignore", message="Replacing negative forecasts with zero")
                out = hrec.reconcile(Y_hat_df=base[["unique_id", "ds", "yhat"]], S_df=S_df, tags=tags, Y_df=y_in)
        except Exception as e:  # hierarchicalforecast raises bare Exceptions (ill-conditioned...)
            raise HierarchyError(f"{method} reconciliation failed: {e}; try another method (bottom_up always works)") from e
        col = next(c for c in out.columns if c.startswith("yhat/"))
        rec = out.pivot(index="unique_id", columns="ds", values=col).reindex(index=order, columns=dates)
        bottom = np.clip(rec.loc[bottom_ids].to_numpy(dtype="float64"), 0, None)

    full = S @ bottom  # every parent = the sum of its (clipped) bottom series: exactly coherent
    result = pd.DataFrame(
        {
            "unique_id": np.repeat(order, len(dates)),
            "ds": np.tile(dates.to_numpy(), len(order)),
            "yhat": full.ravel(),
        }
    )
    result = result.merge(base.drop(columns=["yhat"]).assign(yhat_base=base["yhat"]), on=["unique_id", "ds"], how="left")
    adjustment = result["yhat"] - result["yhat_base"]
    for bound in ("lo", "hi"):
        if bound not in result.columns:
            result[bound] = np.nan
    result["lo"] = np.clip(np.minimum(result["lo"] + adjustment, result["yhat"]), 0, None)
    result["hi"] = np.maximum(result["hi"] + adjustment, result["yhat"])
    if "model" not in result.columns:
        result["model"] = None
    result["method"] = method
    return result[["unique_id", "ds", "yhat", "lo", "hi", "yhat_base", "model", "method"]]


def coherence_gap(forecasts: pd.DataFrame, S_df: pd.DataFrame, value: str = "yhat") -> float:
    """The largest gap, over nodes and dates, between a node's ``value`` and the sum of its
    bottom series', relative to the node's value (absolute below 1); 0 when coherent."""
    bottom_ids = [c for c in S_df.columns if c != "unique_id"]
    wide = forecasts.pivot(index="unique_id", columns="ds", values=value)
    summed = S_df[bottom_ids].to_numpy(dtype="float64") @ wide.reindex(bottom_ids).to_numpy(dtype="float64")
    own = wide.reindex(S_df["unique_id"]).to_numpy(dtype="float64")
    scale = np.maximum(np.abs(own), 1.0)
    return float(np.max(np.abs(own - summed) / scale)) if own.size else 0.0


# ----------------------------------------------------------------------------- forecast and reconcile

#: reconciliations tried, in this order, when the configured one fails (bottom-up cannot)
FALLBACK_METHODS = ("mint_ols", "bottom_up")


@dataclass(frozen=True)
class HierarchyForecast:
    """A forecast of the scope's hierarchy at one frequency.

    ``history``: ``unique_id, ds, y`` of every node; ``statuses`` and ``errors``: what
    :func:`salesml.forecast.auto.forecast_panel` says per node; ``forecasts``: reconciled
    ``unique_id, ds, yhat, lo, hi, yhat_base, model, method`` (empty when nothing could be
    forecast); ``method``: the reconciliation actually used; ``notes``: what went
    differently from the plan; ``reconciliation_errors``: with an honest backtest, how each
    reconciliation method (and the base forecasts) scored on its windows."""

    freq: str
    horizon: int
    models: tuple[str, ...]
    history: pd.DataFrame
    tags: dict[str, np.ndarray]
    statuses: pd.DataFrame
    errors: pd.DataFrame
    forecasts: pd.DataFrame
    method: str
    notes: tuple[str, ...] = ()
    #: with an honest backtest: :func:`backtest_reconciliation` of its windows
    reconciliation_errors: pd.DataFrame | None = None

    @property
    def nodes(self) -> list[str]:
        return [u for level in LEVELS for u in self.tags.get(level, [])]


def complete_base(base: pd.DataFrame, nodes: list[str], dates: pd.DatetimeIndex) -> tuple[pd.DataFrame, list[str]]:
    """Base forecasts of every node over ``dates``: nodes (or steps) without one get
    ``yhat`` 0 and no interval (model ``none``). Returns the frame and the nodes filled. Pure."""
    grid = pd.MultiIndex.from_product([nodes, pd.DatetimeIndex(dates)], names=["unique_id", "ds"]).to_frame(index=False)
    have = base.assign(ds=pd.to_datetime(base["ds"]))[["unique_id", "ds", "yhat", "lo", "hi", "model"]]
    out = grid.merge(have, on=["unique_id", "ds"], how="left")
    missing = out["yhat"].isna()
    filled = sorted(set(out.loc[missing, "unique_id"]))
    out.loc[missing, "yhat"] = 0.0
    out.loc[missing, "model"] = "none"
    return out, filled


def reconcile_or_fallback(
    base: pd.DataFrame, Y_df: pd.DataFrame, S_df: pd.DataFrame, tags: dict, method: str, freq: str
) -> tuple[pd.DataFrame, str, str]:
    """:func:`reconcile` with ``method``, else the next of
    :data:`FALLBACK_METHODS` that works (bottom-up always does): ``(forecasts, method used,
    note saying what failed)``."""
    failures = []
    for m in dict.fromkeys((method, *FALLBACK_METHODS)):
        try:
            out = reconcile(base, Y_df, S_df, tags, m, freq=freq)
        except (ValueError, np.linalg.LinAlgError) as e:  # HierarchyError is a ValueError
            if m == FALLBACK_METHODS[-1]:
                raise
            failures.append(str(e).split("; try another method")[0])
            continue
        note = f"{'; '.join(failures)}: {m} used instead" if failures else ""
        return out, m, note
    raise AssertionError("unreachable: the last fallback either returns or raises")


def rep_names(models: Sequence[str], rep_models: Sequence[str]) -> tuple[str, ...]:
    """The candidates of the rep level: those of ``models`` that ``rep_models`` lists (all of
    ``models`` when it lists none of them)."""
    kept = tuple(m for m in models if m in set(rep_models))
    return kept or tuple(models)


def level_candidates(candidates: Sequence | None, settings: ForecastSettings, level: str) -> Sequence | None:
    """The candidate models offered to the nodes of ``level``: at rep level those of
    ``candidates`` (default: ``settings.models``) that ``settings.rep_models`` lists, and the
    combinations of them (the same model objects, so fits are shared as before); every
    candidate elsewhere."""
    if level != "rep":
        return candidates
    pool = list(candidates) if candidates is not None else candidate_models(settings)
    singles = [m for m in pool if not isinstance(m, Ensemble)]
    keep = set(rep_names([m.name for m in singles], settings.rep_models))
    chosen = [m for m in pool if (m.name in keep if not isinstance(m, Ensemble) else all(x.name in keep for x in m.members))]
    return chosen if len(chosen) < len(pool) else candidates


def _concat(frames) -> pd.DataFrame | None:
    frames = [f for f in frames if f is not None]
    return pd.concat(frames, ignore_index=True) if frames else None


def by_level(run, Y_df: pd.DataFrame, horizon: int, freq: str, settings: ForecastSettings, workers: int | None = None,
             progress: bool = False, candidates: Sequence | None = None, honest: bool = False) -> PanelEvaluation:
    """``run`` (:func:`~salesml.forecast.auto.forecast_and_backtest` or one like it) on the
    nodes of each level apart, top down: a pooled choice is one model per level, among that
    level's candidates (:func:`level_candidates`), never one model for the company and its
    reps alike; a level keeps the pick of the level above it (``panels.parent_of``, when that
    level is in the panel) within ``settings.parent_margin``, a level with none above it its own
    pick one window earlier within ``settings.switch_margin``. The ``picks`` say each level's."""
    levels = Y_df["unique_id"].map(node_level)
    parts, done = [], {}
    for level in [*LEVELS, None]:
        nodes = Y_df[levels.isna()] if level is None else Y_df[levels == level]
        if not len(nodes):
            continue
        parent = done.get(parent_of(level, settings))  # none: it keeps its own earlier pick
        ev = run(nodes, horizon, freq, settings, workers, progress,
                 candidates if level is None else level_candidates(candidates, settings, level), honest,
                 parent_picks=picks_by_window(parent.picks) if parent is not None else None)
        done[level] = ev
        parts.append(ev if ev.picks is None else dataclasses.replace(ev, picks=ev.picks.assign(level=level)))
    if len(parts) == 1:
        return parts[0]
    return PanelEvaluation(**{f.name: _concat(getattr(p, f.name) for p in parts) for f in dataclasses.fields(PanelEvaluation)})


def forecast_hierarchy(
    Y_df: pd.DataFrame,
    S_df: pd.DataFrame,
    tags: dict,
    horizon: int,
    freq: str,
    settings: ForecastSettings,
    workers: int | None = None,
    candidates: Sequence | None = None,
    progress: bool = False,
    honest: bool = False,
    run=forecast_and_backtest,
) -> HierarchyForecast:
    """Forecast every node of a hierarchy (:func:`salesml.forecast.auto.forecast_and_backtest`, among the
    ``candidates``, each level apart: :func:`by_level`) and reconcile with ``settings.reconcile`` (skipped nodes count as 0; a method that fails falls
    back to the next of :data:`FALLBACK_METHODS`, and the notes say so). ``honest``: ``errors`` is the honest
    backtest of the base forecasts, and ``reconciliation_errors`` how each method scored on its windows
    (:func:`backtest_reconciliation`). ``run``: ``forecast_and_backtest`` or a function like it (one that
    answers from a cache of earlier results)."""
    nodes = S_df["unique_id"].tolist()
    notes: list[str] = []
    ev = by_level(run, Y_df, horizon, freq, settings, workers, progress, candidates, honest)
    base, statuses, errors, rec_errors = ev.forecasts, ev.statuses, ev.errors, None
    if honest:
        rec_errors, rec_notes = backtest_reconciliation(ev.window_forecasts, Y_df, S_df, tags, freq)
        notes += rec_notes
    if base.empty:
        notes.append("no node could be forecast (see the statuses)")
        empty = pd.DataFrame(columns=["unique_id", "ds", "yhat", "lo", "hi", "yhat_base", "model", "method"])
        return HierarchyForecast(freq, horizon, settings.models, Y_df, tags, statuses, errors, empty, settings.reconcile, tuple(notes))
    dates = future_dates(pd.DataFrame({"ds": np.sort(pd.to_datetime(Y_df["ds"]).unique())}), horizon, freq)
    full, filled = complete_base(base, nodes, dates)
    if filled:
        notes.append(f"{len(filled)} node(s) without a forecast counted as 0, without an interval")
    forecasts, method, note = reconcile_or_fallback(full, Y_df, S_df, tags, settings.reconcile, freq)
    if note:
        notes.append(note)
    return HierarchyForecast(freq, horizon, settings.models, Y_df, tags, statuses, errors, forecasts, method, tuple(notes), rec_errors)


def _wide(forecasts: pd.DataFrame, value: str, nodes: list[str], dates: pd.DatetimeIndex) -> np.ndarray:
    """``value`` of ``forecasts`` as a nodes × dates array (NaN where a node has none)."""
    wide = forecasts.assign(ds=pd.to_datetime(forecasts["ds"])).pivot(index="unique_id", columns="ds", values=value)
    return wide.reindex(index=nodes, columns=dates).to_numpy(dtype="float64")


def backtest_reconciliation(
    window_forecasts: pd.DataFrame, Y_df: pd.DataFrame, S_df: pd.DataFrame, tags: dict, freq: str,
    methods: Sequence[str] = RECONCILE_METHODS,
) -> tuple[pd.DataFrame, list[str]]:
    """Each window of an honest backtest (``window_forecasts``: every node's base forecast
    made before the window, ``FORECAST_COLUMNS`` + ``window``) reconciled by each of
    ``methods`` with the actuals up to the window's cut-off, and scored against what happened
    next to the unreconciled base forecasts (model ``base``): ``backtest.COLUMNS`` rows (the
    method in ``model``) plus ``level``, and notes on methods that fell back. Pure."""

    nodes = S_df["unique_id"].tolist()
    actual = Y_df.assign(ds=pd.to_datetime(Y_df["ds"])).set_index(["unique_id", "ds"])["y"]
    last = pd.to_datetime(Y_df["ds"]).max()
    rows, notes = [], []
    for window, g in window_forecasts.groupby("window", sort=True):
        dates = pd.DatetimeIndex(sorted(pd.to_datetime(g["ds"]).unique()))
        y_in = Y_df[pd.to_datetime(Y_df["ds"]) < dates[0]]
        if y_in.empty:
            continue
        new = [u for u in nodes if u not in set(y_in["unique_id"])]
        if new:  # nodes that had not sold yet (a rep who joined later): zeros, as they were
            days = pd.to_datetime(y_in["ds"]).drop_duplicates()
            pad = pd.DataFrame({"unique_id": np.repeat(new, len(days)), "ds": np.tile(days.to_numpy(), len(new)), "y": 0.0})
            y_in = pd.concat([y_in, pad], ignore_index=True)
        cutoff = pd.Timestamp(y_in["ds"].max())
        base, _ = complete_base(g, nodes, dates)
        results = {"base": base}
        for method in methods:
            rec, used, note = reconcile_or_fallback(base, y_in, S_df, tags, method, freq)
            if used != method:
                notes.append(f"reconciliation backtest, window {window}: {note}")
            results[method] = rec
        if dates.max() > last:
            continue  # the window runs past the history
        train = {uid: h["y"].to_numpy() for uid, h in y_in.groupby("unique_id", sort=False)}
        # before a node's first sale it sold nothing
        got = actual.reindex(pd.MultiIndex.from_product([nodes, dates])).fillna(0.0).to_numpy().reshape(len(nodes), len(dates))
        for method, rec in results.items():
            wide = {v: _wide(rec, v, nodes, dates) for v in ("yhat", "lo", "hi")}
            for i, uid in enumerate(nodes):
                rows.append({"unique_id": uid, "model": method, "window": int(window), "cutoff": cutoff, "horizon": len(dates),
                             **score_arrays(train[uid], got[i], wide["yhat"][i], wide["lo"][i], wide["hi"][i], SEASON[freq])})
    errors = errors_frame(rows)
    return errors.assign(level=errors["unique_id"].map(node_level)), list(dict.fromkeys(notes))
