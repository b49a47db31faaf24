"""Churn: which active customers will stop buying, how sure we are, and why.

Label
-----
At a cutoff date ``c``, a customer is *active* when they made a purchase (a sale order with
a positive net amount in the ledger) in the ``lookback_days`` up to ``c`` (``(c - W, c]``);
an active customer has *churned* (label 1) when they make no purchase in the
``horizon_days`` after it (``(c, c + H]``). A label needs the data to reach ``c + H``.

Anonymous lines (walk-in / guest sales: no customer, or one of
``Settings.anonymous_customer_ids``; see :mod:`salesml.anonymous`) belong to nobody: they are
never active, labelled, trained on or scored. Training records how many order lines and how
much revenue up to the as-of date it left out (``anonymous`` in its summary and manifest);
:func:`left_out` says the same for any window and scope (e.g. a scoring's lookback window).

Time-based holdout
------------------
Cutoffs are placed back from the last day of data, ``cutoff_step`` apart (a month, a week or
N days): the last holdout cutoff's label window ends on the last day, the earlier holdout
cutoffs (``test_cutoffs``) are steps before it, and the training cutoffs (``train_cutoffs``)
end their label windows by the first holdout cutoff, so every holdout label window starts
after the last training label window ends: the test set is strictly later than the training
set. The least data that allows one training and one holdout cutoff is
``recent_days + 2 × horizon_days`` (:func:`min_history_days`). Features at a cutoff use only what happened on or
before it (:mod:`salesml.customers.churn_features`, one pure function per group).

Model and baselines
-------------------
A scikit-learn ``Pipeline``: one-hot encoding of segment/region/channel, then gradient
boosting (``HistGradientBoostingClassifier``) with probabilities calibrated by
``CalibratedClassifierCV``, explicit ``random_state``, run under the ``[compute] threads``
budget. On the same holdout it is compared with three baselines
(:mod:`salesml.customers.churn_scorers`):

* **recency**: the longer since the last purchase, the higher the risk (ranking metrics
  from the days themselves; its probabilities, for the Brier score, from an isotonic fit of
  the label on recency over the training examples);
* **BG/NBD**: the probability of no purchase in the next H days given each customer's
  frequency, recency and age (:class:`salesml.customers.clv.BetaGeo`, fitted at each cutoff
  on every customer's purchases up to it: the ``bgnbd`` feature group) — not 1 − P(alive);
* **logistic regression** on log(1 + recency, frequency, monetary, tenure).

Metrics: ROC-AUC, PR-AUC (average precision), Brier score, and the lift in the top decile
(churn rate among the 10% ranked riskiest over the overall rate; ties at the edge share the
places). The version scores with the model only when it beats the best baseline beyond the
noise (a paired bootstrap of the ROC-AUC gain, ``min_auc_gain``), else with that baseline;
the scorer is refitted on every cutoff whose label window ends by the as-of date, and saved
in the model registry (``data/models/churn/vNNNN``) with a manifest that names it and why.

Scoring as of a date before the end of the saved scorer's training labels is refused
(:func:`check_lookahead`): the scores would come from a model that has seen what happened
next; a deliberate backfill (``allow_lookahead``) is recorded with the scores.

Explanations
------------
Global: permutation importance of each feature on a sample of the holdout (drop in
ROC-AUC). Per customer at risk: each feature group in turn is set to the training
population's typical values (medians; the most common category); the groups whose typical
values lower the customer's risk most, and whose figures point towards leaving
(:data:`REASON_AGREES`), are their top reasons, told in plain words from their own figures
("no purchase for 74 days, usually every 20").
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from salesml import registry, warehouse
from salesml.accounting.ledger import ensure_posted
from salesml.anonymous import LeftOut
from salesml.compute import budgeted
from salesml.config import ChurnSettings, Settings
from salesml.customers import churn_features
from salesml.customers import churn_scorers as scorers
from salesml.customers.churn_features import (
    CATEGORICAL,
    CONTEXT_GROUPS,
    ChurnTables,
    active_customers,
    build_features,
    load_tables,
)
from salesml.errors import SalesmlError
from salesml.registry import frame_hash

KIND = "churn"
#: holdout curves stored beside the model (ROC, lift, reliability): aggregates only
EVALUATION_FILE = "evaluation.json"
#: the settings that define the features; scoring uses the model's own values
FEATURE_SETTINGS = ("horizon_days", "lookback_days", "recent_days", "low_satisfaction", "promo_discount_margin")
#: a feature group is a reason when typical values would lower the risk by at least this
MIN_REASON = 0.005
#: scores are kept inside these bounds: a calibrated 0 or 1 (isotonic steps) is a claim of
#: certainty no holdout supports; reports say "very likely" above 99%
RISK_BOUNDS = (0.001, 0.999)

__all__ = [
    "ChurnError",
    "CutoffPlan",
    "KIND",
    "dataset",
    "evaluate",
    "label",
    "left_out",
    "lift_top_decile",
    "make_pipeline",
    "plan_cutoffs",
    "reasons",
    "score",
    "scoring_left_out",
    "train",
    "write_scores",
]


class ChurnError(SalesmlError, ValueError):
    """Churn cannot be trained or scored on these data; the message says why."""


def _ts(day) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(day)
    except (TypeError, ValueError):
        raise ChurnError(f"{day!r} is not a date (YYYY-MM-DD)") from None
    if ts is pd.NaT:
        raise ChurnError("a date is missing")
    return ts.normalize()


def _iso(day) -> str:
    return pd.Timestamp(day).date().isoformat()


# --------------------------------------------------------------------------- labels and cutoffs


def label(t: ChurnTables, cutoff, s: ChurnSettings, data_end=None) -> pd.Series:
    """1 for each customer active at ``cutoff`` who makes no purchase in the next
    ``horizon_days``, 0 for those who do (indexed by customer_id, sorted).

    ``data_end`` (default: the last day of the tables) is the day through which the data
    is complete; a label window reaching past it is an error."""
    c = _ts(cutoff)
    end = _ts(data_end) if data_end is not None else t.last_date
    horizon_end = c + pd.Timedelta(days=s.horizon_days)
    if end is None or horizon_end > end:
        raise ChurnError(
            f"cutoff {_iso(c)}: its label window (the next {s.horizon_days} days, to {_iso(horizon_end)}) "
            f"goes past the data (last day {_iso(end) if end is not None else 'none'})"
        )
    active = active_customers(t, c, s)
    o = t.orders
    bought = o.loc[(o["date"] > c) & (o["date"] <= horizon_end), "customer_id"].unique()
    return pd.Series((~active.isin(bought)).astype(int), index=active, name="churned")


def _back(anchor: pd.Timestamp, step, k: int) -> pd.Timestamp:
    """``k`` steps of ``[churn] cutoff_step`` ("month", "week" or a number of days) before
    ``anchor`` (after it, for a negative ``k``), counted from the anchor: months do not drift."""
    if step == "month":
        return anchor - pd.DateOffset(months=k)
    return anchor - pd.Timedelta(days=k * (7 if step == "week" else int(step)))


def min_history_days(s: ChurnSettings) -> int:
    """The least data (days from the first to the last day) a time-based holdout needs: one
    training cutoff ``recent_days`` after the first day, its label window, then one holdout
    cutoff and its label window."""
    return s.recent_days + 2 * s.horizon_days


@dataclass(frozen=True)
class CutoffPlan:
    """Cutoffs, placed back from the last day of data: training, holdout (strictly later),
    and the final refit (all)."""

    train: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    refit: tuple[pd.Timestamp, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {k: [_iso(c) for c in getattr(self, k)] for k in ("train", "test", "refit")}


def plan_cutoffs(first_date, data_end, s: ChurnSettings) -> CutoffPlan:
    """The cutoffs of a time-based holdout for data from ``first_date`` to ``data_end``,
    placed back from the last day by ``cutoff_step`` (a month, a week or N days).

    Holdout: the last holdout cutoff is ``data_end - horizon_days`` (its label window ends on
    the last day), the others ``test_cutoffs - 1`` steps before it. Training: the last one is
    ``horizon_days`` before the first holdout cutoff (its label window ends there: the holdout
    is strictly later), then ``train_cutoffs - 1`` steps back, keeping those at least
    ``recent_days`` after the first day of data. Refit: the training cutoffs, then on by
    steps from the last of them to the holdout's, and the holdout cutoffs. Too little data is
    refused with the least it needs for these settings and the settings that lower it."""
    first, end = _ts(first_date), _ts(data_end)
    horizon = pd.Timedelta(days=s.horizon_days)
    earliest = first + pd.Timedelta(days=s.recent_days)
    step = s.cutoff_step
    last_test = end - horizon
    test = [_back(last_test, step, k) for k in reversed(range(s.test_cutoffs))]
    train_last = test[0] - horizon
    train = [c for c in (_back(train_last, step, k) for k in reversed(range(s.train_cutoffs))) if c >= earliest]
    if not train:
        have = (end - first).days
        need = min_history_days(s) + (s.test_cutoffs - 1) * (end - _back(end, step, 1)).days
        raise ChurnError(
            f"the data ({_iso(first)} to {_iso(end)}, {have} days) are too short for a time-based holdout: one training "
            f"cutoff needs {s.recent_days} days of history before it (recent_days) and its {s.horizon_days}-day label window "
            f"(horizon_days) must end by the holdout cutoff, whose own label window must end by the last day: at least "
            f"{need} days with these settings ({s.test_cutoffs} holdout cutoff(s)). Lower [churn] horizon_days, recent_days "
            f"or test_cutoffs, or load more history"
        )
    between = []
    k = 1
    while (c := _back(train_last, step, -k)) < test[0]:  # on by steps, counted from the last training cutoff
        between.append(c)
        k += 1
    refit = sorted({*train, *between, *test})
    return CutoffPlan(tuple(train), tuple(test), tuple(refit))


@dataclass
class Examples:
    """Features and labels of active customers at some cutoffs (one row per customer and cutoff)."""

    X: pd.DataFrame
    y: pd.Series
    meta: pd.DataFrame  # customer_id, cutoff
    groups: dict[str, list[str]]
    skipped: dict[str, str]
    #: what the feature groups said about their fits, per cutoff (e.g. a BG/NBD refitted off the boundary)
    fit_notes: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, cutoffs) -> Examples:
        keep = self.meta["cutoff"].isin([_ts(c) for c in cutoffs]).to_numpy()
        return Examples(
            self.X[keep].reset_index(drop=True), self.y[keep].reset_index(drop=True),
            self.meta[keep].reset_index(drop=True), self.groups, self.skipped, self.fit_notes,
        )


def dataset(t: ChurnTables, cutoffs, s: ChurnSettings, data_end=None) -> Examples:
    """Examples at each cutoff: features as of the cutoff, label from the horizon after it."""
    xs, ys, metas, said = [], [], [], []
    groups: dict[str, list[str]] | None = None
    skipped: dict[str, str] = {}
    for c in cutoffs:
        y = label(t, c, s, data_end)
        fs = build_features(t, c, s, y.index)
        if groups is None:
            groups, skipped = fs.groups, fs.skipped
        elif fs.groups != groups:  # cannot happen: groups are skipped for missing tables, not dates
            raise ChurnError(f"cutoff {_iso(c)}: feature groups differ from the first cutoff's")
        said += fs.fit_notes
        xs.append(fs.X.reset_index(drop=True))
        ys.append(y.reset_index(drop=True))
        metas.append(pd.DataFrame({"customer_id": y.index.to_numpy(dtype=object), "cutoff": _ts(c)}))
    if not xs:
        raise ChurnError("no cutoffs: nothing to learn from")
    return Examples(
        pd.concat(xs, ignore_index=True), pd.concat(ys, ignore_index=True).astype(int),
        pd.concat(metas, ignore_index=True), groups or {}, skipped, tuple(said),
    )


def check_examples(ex: Examples, what: str, min_examples: int, min_class: int, setting: str) -> None:
    """Refuse one-class or too small example sets, with the numbers and the setting."""
    n, churners = len(ex), int(ex.y.sum())
    stayers = n - churners
    if n < min_examples:
        raise ChurnError(
            f"too little data: the {what} has {n} example(s) (active customers at its cutoffs), "
            f"fewer than [churn] min_{setting}_examples = {min_examples}"
        )
    if churners == 0 or stayers == 0:
        kind = "churned" if stayers == 0 else "bought again"
        raise ChurnError(
            f"the {what} has one class only: all {n} example(s) {kind}; a churn model needs both churners and customers who stay"
        )
    if min(churners, stayers) < min_class:
        raise ChurnError(
            f"too few examples of a class in the {what}: {churners} churner(s) and {stayers} customer(s) who stayed, "
            f"fewer than [churn] min_{setting}_class = {min_class} of each"
        )


# --------------------------------------------------------------------------- model


def make_pipeline(categorical: list[str], s: ChurnSettings):
    """One-hot encoding of the categorical columns, then calibrated gradient boosting."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    prep = ColumnTransformer(
        [("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(categorical))],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    boosting = HistGradientBoostingClassifier(
        learning_rate=s.learning_rate,
        max_iter=s.max_iter,
        max_leaf_nodes=s.max_leaf_nodes,
        min_samples_leaf=s.min_samples_leaf,
        l2_regularization=s.l2_regularization,
        early_stopping=False,
        random_state=s.random_state,
    )
    folds = StratifiedKFold(n_splits=s.calibration_folds, shuffle=True, random_state=s.random_state)
    model = CalibratedClassifierCV(boosting, method=s.calibration, cv=folds)
    return Pipeline([("features", prep), ("model", model)])


#: a numeric feature known for fewer training examples than this is left out of the fit
MIN_KNOWN = 30


def fit_frame(X: pd.DataFrame) -> pd.DataFrame:
    """The training frame as the model can take it: a numeric column missing for (almost)
    every example (e.g. no customer had a previous quarter at an early cutoff) becomes 0,
    which the trees never split on; scikit-learn's binning fails on a column that is all
    missing in a calibration fold."""
    empty = [c for c in X.columns if c not in CATEGORICAL and X[c].notna().sum() < MIN_KNOWN]
    return X.assign(**{c: 0.0 for c in empty}) if empty else X


def model_parameters(s: ChurnSettings) -> dict:
    return {
        "estimator": "HistGradientBoostingClassifier + CalibratedClassifierCV",
        **{k: getattr(s, k) for k in ("learning_rate", "max_iter", "max_leaf_nodes", "min_samples_leaf",
                                      "l2_regularization", "calibration", "calibration_folds", "random_state")},
    }


# --------------------------------------------------------------------------- metrics


def lift_top_decile(y, score) -> float | None:
    """Churn rate among the top 10% by score over the overall churn rate. Customers tied
    at the edge of the decile share its remaining places (their mean label counts)."""
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    n = len(y)
    if n == 0 or y.sum() == 0:
        return None
    k = max(1, math.ceil(n / 10))
    threshold = np.sort(score)[::-1][k - 1]
    above = score > threshold
    tied = score == threshold
    hits = y[above].sum() + (k - above.sum()) * y[tied].mean()
    return float((hits / k) / y.mean())


def evaluate(y, score, prob=None) -> dict:
    """ROC-AUC and PR-AUC of a risk score (higher = riskier), Brier score of its
    probabilities (when given), lift in the top decile."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=int)
    score = np.asarray(score, dtype=float)
    two = len(np.unique(y)) == 2
    return {
        "roc_auc": float(roc_auc_score(y, score)) if two else None,
        "pr_auc": float(average_precision_score(y, score)) if two else None,
        "brier": float(brier_score_loss(y, np.asarray(prob, dtype=float))) if prob is not None else None,
        "lift_top_decile": lift_top_decile(y, score),
    }


def _roc_points(y, score, max_points: int = 150) -> dict:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score)
    if len(fpr) > max_points:
        idx = np.unique(np.linspace(0, len(fpr) - 1, max_points).round().astype(int))
        fpr, tpr = fpr[idx], tpr[idx]
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def _gains(y, score, bins: int = 10) -> list[float]:
    """Cumulative lift at 10%, 20%, ... 100% of customers ranked by score (ties shared)."""
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    out = []
    for q in range(1, bins + 1):
        k = max(1, math.ceil(len(y) * q / bins))
        threshold = np.sort(score)[::-1][k - 1]
        above, tied = score > threshold, score == threshold
        hits = y[above].sum() + (k - above.sum()) * y[tied].mean()
        out.append(round(float((hits / k) / y.mean()), 4) if y.mean() > 0 else None)
    return out


def _reliability(y, prob, bins: int = 10) -> dict:
    """Mean predicted vs observed churn in bins of equal size by predicted probability."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    order = np.argsort(prob, kind="mergesort")
    parts = [p for p in np.array_split(order, min(bins, len(order))) if len(p)]
    return {
        "predicted": [round(float(prob[p].mean()), 4) for p in parts],
        "observed": [round(float(y[p].mean()), 4) for p in parts],
        "count": [len(p) for p in parts],
    }


# --------------------------------------------------------------------------- explanations


def reference_values(X: pd.DataFrame) -> dict:
    """Typical values of the training population: medians, and the most common category."""
    out = {}
    for col in X.columns:
        if col in CATEGORICAL:
            mode = X[col].mode()
            out[col] = str(mode.iloc[0]) if len(mode) else None
        else:
            med = X[col].median()
            out[col] = None if pd.isna(med) else float(med)
    return out


def _money(v) -> str:
    return f"{float(v):,.0f}"


def _n(v, one: str, many: str | None = None) -> str:
    n = int(round(float(v)))
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _window(days: int) -> str:
    return {90: "quarter", 91: "quarter", 365: "year", 30: "month", 180: "half-year"}.get(int(days), f"{int(days)} days")


def _chance(p: float) -> str:
    """A probability in words, never "0%" or "100%": under 1% / very likely above 99%."""
    if p < 0.005:
        return "under 1% chance"
    if p > 0.99:
        return "very likely"
    return f"{p:.0%} chance"


def _text_rfm(r: pd.Series, s: ChurnSettings, recency: bool = True) -> str:
    text = f"{_n(r['orders_lookback'], 'order')} ({_money(r['revenue_lookback'])}) in the last {_window(s.lookback_days)}"
    return text + (f", the last one {_n(r['recency_days'], 'day')} ago" if recency else "")


def _text_trend(r: pd.Series, s: ChurnSettings) -> str:
    w = _window(s.recent_days)
    if r["spend_prior"] > 0:
        change = (r["spend_recent"] - r["spend_prior"]) / r["spend_prior"]
        way = "down" if change < 0 else "up"
        return (f"spend {way} {abs(change):.0%} vs the {w} before ({_money(r['spend_prior'])} → {_money(r['spend_recent'])}; "
                f"orders {int(r['orders_prior'])} → {int(r['orders_recent'])})")
    if r["spend_recent"] > 0:
        return f"new spend this {w} after none the {w} before ({_n(r['orders_recent'], 'order')})"
    return f"no purchase in the last two {w}s" if w in ("quarter", "month", "year") else f"no purchase in the last {2 * s.recent_days} days"


def _text_gaps(r: pd.Series, s: ChurnSettings) -> str:
    since = r.get("recency_days", np.nan)
    if pd.isna(since) and pd.notna(r.get("mean_gap_days")):
        since = r.get("overdue_ratio", np.nan) * r["mean_gap_days"]
    if pd.isna(r.get("mean_gap_days")) or pd.isna(since):
        return "has bought on one day only so far"
    return f"no purchase for {_n(since, 'day')}, usually every {_n(r['mean_gap_days'], 'day')}"


def _text_pace(r: pd.Series, s: ChurnSettings) -> str:
    per_month = r["orders_per_month"]
    if pd.isna(per_month) or per_month <= 0:
        return "no purchase pace yet"
    every = 30.0 / per_month
    usual = f"an order every {_n(every, 'day')}" if every >= 1.5 else f"{per_month:.0f} orders a month"
    if pd.notna(r.get("silence_prob")) and r["silence_prob"] < 0.1:
        return f"a silence this long is unusual at their pace ({usual}; {_chance(r['silence_prob'])})"
    return f"buys rarely ({usual}): {_chance(r['quiet_prob_lifetime'])} of no order in {s.horizon_days} days even at that pace"


def _text_tenure(r: pd.Series, s: ChurnSettings) -> str:
    days = r["tenure_days"]
    if pd.isna(days):
        return "tenure unknown"
    if days < 365:
        return f"new customer: first purchase {_n(days, 'day')} ago ({_n(r['orders_total'], 'order')} so far)"
    return f"customer for {days / 365.25:.1f} years ({_n(r['orders_total'], 'order')})"


def _text_returns(r: pd.Series, s: ChurnSettings) -> str:
    rate = r["return_rate"]
    share = f"returned {rate:.0%} of purchases" if pd.notna(rate) else "returns"
    return f"{share} in the last {_window(s.lookback_days)} ({_n(r['returns_lookback'], 'return')})"


def _text_discount(r: pd.Series, s: ChurnSettings) -> str:
    parts = []
    if pd.notna(r.get("promo_share")):
        parts.append(f"{r['promo_share']:.0%} of spend bought on promotion")
    if pd.notna(r.get("mean_discount")):
        parts.append(f"average discount {r['mean_discount']:.0%}")
    return "; ".join(parts) or "discount dependence"


def _text_breadth(r: pd.Series, s: ChurnSettings) -> str:
    return f"buys {_n(r['products_lookback'], 'product')} in {_n(r['categories_lookback'], 'category', 'categories')}"


def _text_tickets(r: pd.Series, s: ChurnSettings) -> str:
    w = _window(s.recent_days)
    recent = f"last {w}" if w in ("quarter", "month", "year") else f"in the last {s.recent_days} days"
    parts = []
    if r["tickets_recent"] > 0:
        parts.append(f"{_n(r['tickets_recent'], 'ticket')} {recent}")
    if r["low_scores_lookback"] > 0:
        parts.append(f"{_n(r['low_scores_lookback'], 'low satisfaction score')} this {_window(s.lookback_days)}")
    if pd.notna(r.get("mean_satisfaction")):
        parts.append(f"mean satisfaction {r['mean_satisfaction']:.1f}/5")
    if r.get("open_tickets", 0) > 0:
        parts.append(f"{_n(r['open_tickets'], 'ticket')} still open")
    if parts:
        return ", ".join(parts)
    n = r["tickets_lookback"]
    return f"{_n(n, 'ticket')} this {_window(s.lookback_days)}" if n > 0 else f"no service ticket this {_window(s.lookback_days)}"


def _text_profile(r: pd.Series, s: ChurnSettings) -> str:
    return f"{r['segment']} customer in {r['region']}, acquired via {r['acquisition_channel']}"


def _text_bgnbd(r: pd.Series, s: ChurnSettings) -> str:
    return f"their purchase history gives {_chance(r['bgnbd_p_no_purchase'])} of no purchase in {s.horizon_days} days (BG/NBD)"


def _text_owners(r: pd.Series, s: ChurnSettings) -> str:
    text = f"{_n(r['reps_lookback'], 'rep')} credited in the last {_window(s.lookback_days)}"
    if r["rep_switches"] > 0:
        text += f", rep changed {_n(r['rep_switches'], 'time')}"
    return text


def _above(r: pd.Series, ref: dict, col: str) -> bool:
    v, typical = r.get(col), ref.get(col)
    return pd.notna(v) and (typical is None or pd.isna(typical) or float(v) > float(typical))


def _below(r: pd.Series, ref: dict, col: str) -> bool:
    v, typical = r.get(col), ref.get(col)
    return pd.notna(v) and typical is not None and pd.notna(typical) and float(v) < float(typical)


def _positive(r: pd.Series, col: str) -> bool:
    v = r.get(col)
    return pd.notna(v) and float(v) > 0


#: when a group's words point towards churn for one customer (its figures on the risky side of
#: the typical customer's, ``ref``): a reason is shown only then, so "spend up 474%" or "no
#: purchase for 20 days, usually every 350" is never given as a reason to leave
REASON_AGREES: dict[str, Callable[[pd.Series, dict], bool]] = {
    "rfm": lambda r, ref: _above(r, ref, "recency_days") or _below(r, ref, "orders_lookback"),
    "trend": lambda r, ref: (r.get("spend_recent", 0) or 0) < (r.get("spend_prior", 0) or 0) or not _positive(r, "spend_recent"),
    "gaps": lambda r, ref: pd.isna(r.get("mean_gap_days")) or (pd.notna(r.get("overdue_ratio")) and r["overdue_ratio"] > 1),
    "pace": lambda r, ref: (pd.notna(r.get("silence_prob")) and r["silence_prob"] < 0.1) or _above(r, ref, "quiet_prob_lifetime"),
    "tenure": lambda r, ref: _below(r, ref, "tenure_days"),
    "returns": lambda r, ref: _above(r, ref, "return_rate") or _above(r, ref, "returns_lookback"),
    "discount": lambda r, ref: _above(r, ref, "promo_share") or _above(r, ref, "mean_discount"),
    "breadth": lambda r, ref: _below(r, ref, "products_lookback") or _below(r, ref, "categories_lookback"),
    "tickets": lambda r, ref: (_positive(r, "tickets_recent") or _positive(r, "low_scores_lookback") or _positive(r, "open_tickets")
                               or _below(r, ref, "mean_satisfaction")),
    "owners": lambda r, ref: _positive(r, "rep_switches") or _above(r, ref, "reps_lookback"),
    "profile": lambda r, ref: True,  # who they are: the model's estimate for such customers
    "bgnbd": lambda r, ref: _above(r, ref, "bgnbd_p_no_purchase"),
}


#: plain words for each feature group, from one customer's features
REASON_TEXT: dict[str, Callable[[pd.Series, ChurnSettings], str]] = {
    "rfm": _text_rfm,
    "trend": _text_trend,
    "gaps": _text_gaps,
    "pace": _text_pace,
    "tenure": _text_tenure,
    "returns": _text_returns,
    "discount": _text_discount,
    "breadth": _text_breadth,
    "tickets": _text_tickets,
    "profile": _text_profile,
    "bgnbd": _text_bgnbd,
    "owners": _text_owners,
}


def contributions(pipe, X: pd.DataFrame, groups: dict[str, list[str]], reference: dict) -> pd.DataFrame:
    """Per customer and feature group: the risk minus the risk with that group set to the
    population's typical values (positive = the group raises this customer's risk)."""
    base = pipe.predict_proba(X)[:, 1]
    out = {}
    for name, cols in groups.items():
        if name in CONTEXT_GROUPS:
            continue
        cols = [c for c in cols if c in X.columns]
        if not cols:
            continue
        typical = X.copy()
        for col in cols:
            typical[col] = reference.get(col)
            if col not in CATEGORICAL:
                typical[col] = typical[col].astype(float)
        out[name] = base - pipe.predict_proba(typical)[:, 1]
    return pd.DataFrame(out, index=X.index)


def reasons(pipe, X: pd.DataFrame, groups: dict[str, list[str]], reference: dict, s: ChurnSettings, top: int | None = None) -> list[list[str]]:
    """The top reasons of each customer's risk in plain words: the groups whose typical
    values would lower it most (by at least half a point) and whose figures point towards
    churn for this customer (:data:`REASON_AGREES`). Customers below the at-risk threshold
    get none: a low risk needs no reasons to leave."""
    top = top or s.top_reasons
    contrib = contributions(pipe, X, groups, reference)
    risk = pipe.predict_proba(X)[:, 1]
    out: list[list[str]] = [[] for _ in range(len(X))]
    values, names = contrib.to_numpy(dtype="float64"), np.asarray(contrib.columns)
    for i in np.flatnonzero(risk >= s.at_risk_threshold):  # only the customers at risk get reasons
        row, c = X.iloc[i], values[i]
        up = np.flatnonzero(c >= MIN_REASON)
        raising = names[up[np.argsort(-c[up], kind="mergesort")]]  # most raising first; ties in group order
        ranked = [g for g in raising if REASON_AGREES.get(g, lambda r, ref: True)(row, reference)][:top]
        texts = []
        for g in ranked:
            try:
                if g == "rfm" and "gaps" in ranked:  # the gaps reason already says how long since the last purchase
                    texts.append(_text_rfm(row, s, recency=False))
                    continue
                texts.append(REASON_TEXT[g](row, s))
            except (KeyError, TypeError, ValueError):
                texts.append(g)
        out[i] = texts
    return out


def importance_rows(n: int, s: ChurnSettings) -> int:
    """How many holdout customers each repeat of the permutation importance is measured on."""
    return n if not s.importance_sample else min(n, s.importance_sample)


def permutation_drivers(pipe, X: pd.DataFrame, y: pd.Series, groups: dict[str, list[str]], s: ChurnSettings) -> list[dict]:
    """Permutation importance of each feature on the holdout (each repeat on
    :func:`importance_rows` customers drawn at random): the mean drop in ROC-AUC."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(pipe, X, y, scoring="roc_auc", n_repeats=s.importance_repeats, random_state=s.random_state,
                                    max_samples=importance_rows(len(X), s))
    group_of = {col: g for g, cols in groups.items() for col in cols}
    rows = [
        {"feature": col, "group": group_of.get(col, ""), "importance": round(float(m), 5), "std": round(float(sd), 5)}
        for col, m, sd in zip(X.columns, result.importances_mean, result.importances_std, strict=True)
    ]
    return sorted(rows, key=lambda r: -r["importance"])


# --------------------------------------------------------------------------- training


def _read_tables(settings: Settings, through=None, customers_sql: str = "", params: dict | None = None) -> ChurnTables:
    if not settings.warehouse_path.exists():
        raise ChurnError(f"no warehouse at {settings.warehouse_path}: run `salesml demo` or `salesml ingest` first")
    ensure_posted(settings)
    with warehouse.open(settings, read_only=True) as con:
        if not warehouse.table_exists(con, "ledger"):
            raise ChurnError("the warehouse has no ledger: load order lines first (`salesml demo` or `salesml ingest`)")
        try:
            return load_tables(con, through, customers_sql, params, anonymous=settings.anonymous_customer_ids)
        except SalesmlError as e:
            raise ChurnError(str(e)) from None


def left_out(settings: Settings, through=None, since=None, scope=None) -> LeftOut:
    """The anonymous order lines churn leaves out: those that happened after ``since`` (if
    given) and by ``through`` (if given), credited to ``scope`` (the ledger's rep / team /
    region; anonymous sales have no owner), with their net revenue and its share of those
    entries' revenue. Reads the warehouse through a short read-only connection."""
    if not settings.warehouse_path.exists():
        raise ChurnError(f"no warehouse at {settings.warehouse_path}: run `salesml demo` or `salesml ingest` first")
    with warehouse.open(settings, read_only=True) as con:
        if not warehouse.table_exists(con, "ledger"):
            return LeftOut()
        return churn_features.left_out(
            con, through, since, scope, settings.anonymous_customer_ids, settings.performance.unassigned
        )


@budgeted
def train(settings: Settings, as_of=None, *, save: bool = True, log: Callable[[str], None] = lambda m: None) -> dict:
    """Fit on the training cutoffs, evaluate model and baselines on the later holdout,
    refit on every cutoff up to ``as_of``, save a new version (unless ``save`` is false).

    Returns the summary: version, as_of, cutoffs, model and baseline metrics, drivers,
    notes, anonymous (the anonymous order lines up to the as-of date left out, see
    :func:`left_out`), seconds (and the manifest under ``manifest``)."""

    started = time.perf_counter()
    s = settings.churn
    t = _read_tables(settings, as_of)
    if t.orders.empty:
        raise ChurnError(
            "no sales with an identified customer in the warehouse: nothing to learn churn from "
            "(anonymous / walk-in sales are left out)"
        )
    last = t.last_date
    day = _ts(as_of) if as_of is not None else last
    notes = list(t.notes)
    data_end = min(day, last)
    if day > last:
        notes.append(f"as_of {_iso(day)} is after the last sale ({_iso(last)}): label windows end by {_iso(last)}")
    anonymous = left_out(settings, through=data_end)
    if anonymous:
        notes.append(anonymous.text(f"the churn model (up to {_iso(data_end)})"))
    plan = plan_cutoffs(t.first_date, data_end, s)
    log(f"churn: cutoffs train {', '.join(plan.to_dict()['train'])}; holdout {', '.join(plan.to_dict()['test'])}")
    full = dataset(t, plan.refit, s, data_end)
    notes += [v for v in full.skipped.values() if v not in notes]
    if full.fit_notes:  # BG/NBD fits on the boundary, refitted with a penalizer
        notes.append(f"BG/NBD at {len(full.fit_notes)} of {len(plan.refit)} cutoffs: " + "; ".join(full.fit_notes[:3])
                     + (" …" if len(full.fit_notes) > 3 else ""))
    tr, te = full.subset(plan.train), full.subset(plan.test)
    check_examples(tr, "training set", s.min_train_examples, s.min_train_class, "train")
    check_examples(te, "holdout", s.min_test_examples, s.min_test_class, "test")
    categorical = [c for c in tr.X.columns if c in CATEGORICAL]
    log(f"churn: fitting on {len(tr):,} examples, holdout {len(te):,} ...")
    pipe = make_pipeline(categorical, s).fit(fit_frame(tr.X), tr.y)
    prob = pipe.predict_proba(te.X)[:, 1]
    y = te.y.to_numpy()
    metrics_model = evaluate(y, prob, prob)
    curves = {"y_rate": float(y.mean()), "model": {"roc": _roc_points(y, prob), "gains": _gains(y, prob), "reliability": _reliability(y, prob)}}
    baselines, ranking = {}, {}
    for name in scorers.BASELINES:
        try:
            b = scorers.make_baseline(name).fit(tr.X, tr.y)
            b_score, b_prob = b.score_of(te.X), b.predict_proba(te.X)[:, 1]
            if np.isnan(b_score).any():
                raise ValueError(f"no figure for {int(np.isnan(b_score).sum())} holdout customer(s)")
        except ValueError as e:
            notes.append(f"{scorers.NAMES[name]} unavailable: {e}")
            baselines[name] = {"roc_auc": None, "pr_auc": None, "brier": None, "lift_top_decile": None}
            continue
        baselines[name] = evaluate(y, b_score, b_prob)
        ranking[name] = b_score
        curves[name] = {"roc": _roc_points(y, b_score), "gains": _gains(y, b_score), "reliability": _reliability(y, b_prob)}
    best = scorers.best_baseline(baselines)
    gain = scorers.auc_gain(y, prob, ranking[best], s.bootstrap_resamples, s.random_state) if best else None
    scorer, why = scorers.choose_scorer(metrics_model["roc_auc"], best, baselines[best]["roc_auc"] if best else None, gain, s.min_auc_gain)
    log(f"churn: {why}")
    log("churn: permutation importance on the holdout ...")
    drivers = permutation_drivers(pipe, te.X, te.y, tr.groups, s)
    log(f"churn: refitting on all {len(plan.refit)} cutoffs up to {_iso(plan.refit[-1])} ({len(full):,} examples) ...")
    check_examples(full, "refit set", s.min_train_examples, s.min_train_class, "train")
    final = (make_pipeline(categorical, s).fit(fit_frame(full.X), full.y) if scorer == "model"
             else scorers.make_baseline(scorer).fit(full.X, full.y))
    reference = reference_values(full.X)
    frame = pd.concat([full.meta.assign(cutoff=full.meta["cutoff"].dt.strftime("%Y-%m-%d")), full.X, full.y], axis=1)
    holdout = {"examples": len(te), "churners": int(y.sum()), "churn_rate": round(float(y.mean()), 4)}
    manifest = {
        "as_of": _iso(day),
        "data_window": {"first": _iso(t.first_date), "last": _iso(data_end)},
        "cutoffs": plan.to_dict(),
        "label": {
            "definition": f"active = a purchase in the {s.lookback_days} days up to the cutoff; "
            f"churned = no purchase in the {s.horizon_days} days after it",
            "horizon_days": s.horizon_days,
            "lookback_days": s.lookback_days,
        },
        "examples": {"train": len(tr), "test": len(te), "refit": len(full)},
        "features": list(full.X.columns),
        "feature_groups": full.groups,
        "categorical": categorical,
        "skipped_groups": full.skipped,
        "feature_settings": {k: getattr(s, k) for k in FEATURE_SETTINGS},
        "parameters": model_parameters(s),
        "metrics": {
            "model": metrics_model,
            "baselines": baselines,
            "holdout": holdout,
        },
        "scorer": {"name": scorer, "label": scorers.NAMES[scorer], "why": why, "against": best,
                   "auc_gain": gain, "min_auc_gain": s.min_auc_gain},
        "importance": drivers,
        "importance_sample": {"customers": importance_rows(len(te), s), "of": len(te), "repeats": s.importance_repeats},
        "reference": reference,
        "anonymous": anonymous.to_dict(f"the churn model (up to {_iso(data_end)})"),
        "data_hash": _frame_hash(frame),
        "refit": (
            f"The metrics are those of the scorers fitted on the {len(plan.train)} training cutoffs and scored on the "
            f"holdout; the saved {'model' if scorer == 'model' else scorers.NAMES[scorer]} was then refitted on all {len(plan.refit)} cutoffs from "
            f"{_iso(plan.refit[0])} to {_iso(plan.refit[-1])} (every label window ending by {_iso(data_end)})"
        ),
        "notes": notes,
    }
    version = None
    if save:
        version = registry.save(settings, KIND, manifest, estimator=final, files={EVALUATION_FILE: json.dumps(curves)})
        log(f"churn: saved model version {version}")
    return {
        "version": version,
        "as_of": manifest["as_of"],
        "data_window": manifest["data_window"],
        "cutoffs": manifest["cutoffs"],
        "examples": manifest["examples"],
        "holdout": holdout,
        "model": metrics_model,
        "baselines": baselines,
        "scorer": manifest["scorer"],
        "drivers": drivers[:10],
        "refit": manifest["refit"],
        "notes": notes,
        "anonymous": manifest["anonymous"],
        "seconds": round(time.perf_counter() - started, 1),
        "manifest": manifest,
        "pipeline": final,
    }


def _frame_hash(df: pd.DataFrame) -> str:
    return frame_hash(df.astype({c: object for c in df.columns if c in CATEGORICAL}))


# --------------------------------------------------------------------------- scoring


def feature_settings(settings: Settings, manifest: dict) -> ChurnSettings:
    """The churn settings with the model's own feature windows (what it was trained on)."""
    known = {f.name for f in dataclasses.fields(ChurnSettings)}
    return dataclasses.replace(settings.churn, **{k: v for k, v in manifest.get("feature_settings", {}).items() if k in known})


def check_features(fs_columns, manifest: dict, skipped: dict[str, str]) -> None:
    """Fail clearly when the model needs features that cannot be computed now."""
    missing = [c for c in manifest.get("features", []) if c not in set(fs_columns)]
    if missing:
        groups = manifest.get("feature_groups", {})
        missing_groups = [g for g, cols in groups.items() if any(c in missing for c in cols)]
        why = "; ".join(skipped[g] for g in missing_groups if g in skipped)
        raise ChurnError(
            f"churn model {manifest.get('version', '?')} needs features that cannot be computed from this warehouse: "
            f"{', '.join(missing)}" + (f" ({why})" if why else "") + "; load the missing data or retrain (`salesml train churn`)"
        )


SCORE_COLUMNS = ["customer_id", "as_of", "version", "risk", "top_reasons", "value_at_risk", "revenue_lookback", "owner_rep_id", "lookahead"]


def labels_end(manifest: dict) -> pd.Timestamp:
    """The last day the saved model's training labels saw: the end of its data window (the
    last refit cutoff's label window ends there)."""
    return _ts(manifest["data_window"]["last"])


def check_lookahead(manifest: dict, day, allow: bool = False) -> bool:
    """Whether scoring as of ``day`` uses a model that has seen that day's future (its training
    labels end later): refused with the two dates and the command that trains an honest model,
    unless ``allow`` (a deliberate backfill; the scores then say so). Returns that flag."""
    end = labels_end(manifest)
    d = _ts(day)
    if d >= end:
        return False
    if not allow:
        raise ChurnError(
            f"churn model {manifest.get('version', '?')} was trained on labels up to {_iso(end)}, after the as-of date {_iso(d)}: "
            f"its scores as of {_iso(d)} would come from a model that has seen what happened next. Train an honest model "
            f"as of that date (`salesml train churn --as-of {_iso(d)}`) and score with it, or pass --allow-lookahead "
            f"(report: -p allow_lookahead=true) for a deliberate backfill, recorded with the scores"
        )
    return True


@budgeted
def score(
    settings: Settings,
    version: str | None = None,
    as_of=None,
    *,
    customers_sql: str = "",
    params: dict | None = None,
    model: tuple | None = None,
    allow_lookahead: bool = False,
) -> tuple[pd.DataFrame, dict]:
    """Churn risk of the customers active at ``as_of`` (default: the last day of sales),
    with a stored model version (default: the latest).

    Returns (scores, manifest). Scores: customer_id, as_of, version, risk (the model's
    probability of no purchase in the next H days), top_reasons ("; "-separated words),
    value_at_risk (risk x net revenue of the lookback window), revenue_lookback,
    owner_rep_id; riskiest first. ``customers_sql`` restricts the customers read (see
    :func:`~salesml.customers.churn_features.load_tables`). Anonymous lines are never
    scored (:func:`scoring_left_out` counts them). Nothing is written.

    An as-of date before the end of the model's training labels is refused
    (:func:`check_lookahead`) unless ``allow_lookahead``; such scores carry ``lookahead``."""

    pipe, manifest = model if model is not None else registry.load_estimator(settings, KIND, version)
    s = feature_settings(settings, manifest)
    t = _read_tables(settings, as_of, customers_sql, params)
    if t.orders.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS}), manifest
    day = _ts(as_of) if as_of is not None else t.last_date
    lookahead = check_lookahead(manifest, day, allow_lookahead)
    fs = build_features(t, day, s)
    check_features(fs.X.columns, manifest, fs.skipped)
    X = fs.X[manifest["features"]]
    if X.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SCORE_COLUMNS}), manifest
    risk = np.clip(pipe.predict_proba(X)[:, 1], *RISK_BOUNDS)
    why = reasons(pipe, X, manifest["feature_groups"], manifest.get("reference", {}), s)
    revenue = X["revenue_lookback"].to_numpy(dtype=float) if "revenue_lookback" in X else np.zeros(len(X))
    owner = pd.Series(None, index=X.index, dtype=object)
    if t.customers is not None:
        owner = t.customers.drop_duplicates("customer_id").set_index("customer_id")["owner_rep_id"].reindex(X.index)
    out = pd.DataFrame(
        {
            "customer_id": X.index.to_numpy(dtype=object),
            "as_of": day.date(),
            "version": manifest["version"],
            "risk": risk,
            "top_reasons": ["; ".join(r) for r in why],
            "value_at_risk": np.round(risk * np.maximum(revenue, 0.0), 2),
            "revenue_lookback": np.round(revenue, 2),
            "owner_rep_id": owner.to_numpy(dtype=object),
            "lookahead": lookahead,
        }
    )
    out = out.sort_values(["risk", "customer_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    return out, manifest


def scoring_left_out(settings: Settings, manifest: dict, as_of, scope=None) -> LeftOut:
    """The anonymous order lines of a scoring's lookback window (the model's
    ``lookback_days`` up to ``as_of``, the days whose buyers are scored) credited to
    ``scope``: what the scores leave out."""
    day = _ts(as_of)
    lookback = feature_settings(settings, manifest).lookback_days
    return left_out(settings, through=day, since=day - pd.Timedelta(days=lookback), scope=scope)


def summarize(scores: pd.DataFrame, s: ChurnSettings) -> dict:
    """Headline figures of a scoring: customers, mean risk, at risk, value at risk."""
    at_risk = scores[scores["risk"] >= s.at_risk_threshold] if len(scores) else scores
    return {
        "customers": len(scores),
        "mean_risk": round(float(scores["risk"].mean()), 4) if len(scores) else None,
        "at_risk": len(at_risk),
        "at_risk_threshold": s.at_risk_threshold,
        "value_at_risk": round(float(scores["value_at_risk"].sum()), 2) if len(scores) else 0.0,
        "value_at_risk_at_risk": round(float(at_risk["value_at_risk"].sum()), 2) if len(at_risk) else 0.0,
    }


def write_scores(settings: Settings, scores: pd.DataFrame, as_of, version: str) -> dict:
    """Store scores in ``churn_scores``: the rows of the same as_of + version are
    replaced, in one transaction, and an audit entry is recorded."""
    day = _ts(as_of).date()
    rows = scores.assign(scored_at=datetime.now())[[*SCORE_COLUMNS, "scored_at"]]
    result = {"kind": KIND, "version": version, "as_of": day.isoformat(), "rows": len(rows),
              "lookahead": bool(rows["lookahead"].any()) if len(rows) else False}
    result["replaced"] = warehouse.replace_rows(settings, "churn_scores", rows.assign(as_of=day), {"as_of": day, "version": version},
                                                "score churn", result)
    return result


def evaluation(settings: Settings, version: str | None = None) -> dict:
    """The holdout curves stored with a version (ROC, gains, reliability); {} if none."""

    path = registry.resolve(settings, KIND, version) / EVALUATION_FILE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def default_as_of(t: ChurnTables) -> date | None:
    return None if t.last_date is None else t.last_date.date()

