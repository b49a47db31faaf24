"""Customer lifetime value: BG/NBD purchases and Gamma-Gamma spend, fitted by maximum likelihood.

Models
------
* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing
  Science 24(2)): while alive, a customer buys at Poisson rate λ ~ Gamma(r, α); after each
  repeat purchase they drop out for good with probability p ~ Beta(a, b).
  :class:`BetaGeo` ``.params_`` = ``r, alpha, a, b``.
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for
  customer base analysis", JMR 42(4); Colombo & Jiang 1999): a customer's transaction values
  are Gamma(p, ν) with ν ~ Gamma(q, γ), independent of the purchase process.
  :class:`GammaGamma` ``.params_`` = ``p, q, gamma``.

Both are scikit-learn-style estimators (hyperparameters in ``__init__``, ``fit`` returns
self, learned attributes end in ``_``, ``check_is_fitted`` before use). They maximise the
log-likelihoods written out below in log-parameter space (L-BFGS-B with the analytic
gradient, Nelder-Mead as a fallback) and raise :class:`ClvError` when the optimiser does
not converge or a parameter runs off to 0 or infinity (degenerate data).

The customer summary (per customer, in a time unit)
---------------------------------------------------
* ``frequency`` x: repeat purchase occasions, i.e. distinct purchase days after the first
  (several purchases on one day count once);
* ``recency`` t_x: time from the first to the last purchase (0 when x = 0);
* ``T``: time from the first purchase to the end of the calibration period;
* ``monetary``: mean value of the repeat purchase days (0 when x = 0); the first purchase
  is left out, as in Fader, Hardie & Lee and the lifetimes package.

Per-customer quantities (x, t_x, T; horizon t)
----------------------------------------------
* ``p_alive`` = 1 / (1 + [x > 0] · a/(b+x-1) · ((α+T)/(α+t_x))^(r+x)) (FHL 2005);
  1 for x = 0.
* ``expected_purchases`` in (T, T+t] (FHL 2005):
  (a+b+x-1)/(a-1) · [1 - ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x-1; t/(α+T+t))] · p_alive.
* ``p_no_purchase`` in (T, T+t]: **not** 1 - p_alive. The individual likelihood is
  L(λ, p | x, t_x, T) = (1-p)^x λ^x e^(-λT) + [x > 0] p (1-p)^(x-1) λ^x e^(-λ t_x), the first
  term for "still alive at T", the second for "dropped out right after the x-th repeat
  purchase". A customer alive at T makes no purchase in (T, T+t] with probability e^(-λt)
  (dropout only happens right after a purchase); a dropped-out one makes none for sure.
  So "the data and no purchase in (T, T+t]" has likelihood L(λ, p | x, t_x, T+t), and
  after integrating over the Gamma and Beta mixing distributions::

      P(no purchase in (T, T+t] | x, t_x, T) = L(x, t_x, T+t) / L(x, t_x, T)
        = [(α+T+t)^-(r+x) + [x>0] a/(b+x-1) (α+t_x)^-(r+x)] / [(α+T)^-(r+x) + [x>0] a/(b+x-1) (α+t_x)^-(r+x)]

  (the BG/NBD counterpart of Fader & Hardie's note "Deriving an expression for
  P(X(t, t+τ) = x) under the Pareto/NBD model", 2006, for x = 0). It equals 1 at t = 0,
  decreases in t towards 1 - p_alive, and for a new customer (x = t_x = T = 0) it is
  (α/(α+t))^r, the BG/NBD's P(X(t) = 0) (FHL 2005).
* ``expected_spend`` (Gamma-Gamma conditional mean, FHL "RFM and CLV"):
  E[Z | x, m] = p (γ + x m) / (p x + q - 1) = w · pγ/(q-1) + (1-w) · m with w = (q-1)/(px+q-1);
  the population mean pγ/(q-1) for x = 0.
* ``clv`` over a horizon H (days), discounted monthly like lifetimes'
  ``customer_lifetime_value``::

      clv = margin_ratio · expected_spend · Σ_k (E[Y(τ_k)] - E[Y(τ_(k-1))]) / (1 + d)^(τ_k / 365.25)

  with τ_k = min(k · 365.25/12, H) days (k = 1 … ⌈12 H / 365.25⌉, τ_0 = 0), E[Y(τ)] the
  expected purchases in the next τ days and d the annual discount rate: each month's
  expected purchases, valued at the expected spend, discounted to today from the month's end.

From the warehouse
------------------
:func:`transactions` reads the ledger: per customer and purchase day (``credit_date``, the
date of the sale), the net revenue of the entries known by ``as_of`` (sales, with their
returns, corrections and reassignments netted; returns that happen after ``as_of`` are
not known yet); days whose net revenue is not positive (fully returned) are no purchase.
Anonymous lines (walk-in / guest sales: no customer, or one of
``Settings.anonymous_customer_ids``; see :mod:`salesml.anonymous`) are nobody's purchases
and are left out of the models and the values; :func:`left_out` counts them.
:func:`fit` fits both models on the whole company's customers; :func:`customer_clv`
scores the customers of a scope on the purchases credited to that scope, with the
company-wide models (a rep's handful of customers cannot be fitted on their own; the
fitted parameters are aggregates and carry nobody's data). Defaults are in ``[clv]``
(:class:`salesml.config.ClvSettings`).
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from salesml.anonymous import LeftOut, anonymous_ids, identified_sql
from salesml.anonymous import left_out as _left_out
from salesml.config import ClvSettings, PerformanceSettings, Settings
from salesml.errors import SalesmlError
from salesml.periods import latest_complete_period, period_bounds
from salesml.scope import check_scope, parse_scope

__all__ = [
    "BetaGeo",
    "ClvError",
    "GammaGamma",
    "TIME_UNITS",
    "customer_clv",
    "default_as_of",
    "fit",
    "left_out",
    "lifetime_value",
    "p_no_purchase",
    "summary_from_transactions",
    "transactions",
    "unit_days",
]

#: time units of the customer summary, in days
TIME_UNITS = {"days": 1.0, "weeks": 7.0}
_UNIT_ALIASES = {"d": "days", "day": "days", "days": "days", "w": "weeks", "week": "weeks", "weeks": "weeks"}
#: days in a year and in a month (the CLV's discounting step)
YEAR_DAYS = 365.25
MONTH_DAYS = YEAR_DAYS / 12
#: parameters are kept within exp(±_LOG_BOUND); reaching the bound means degenerate data
_LOG_BOUND = 18.0

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary"]
CLV_COLUMNS = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary",
    "p_alive",
    "p_no_purchase_h",
    "expected_purchases",
    "expected_spend",
    "clv",
    "last_purchase",
]


class ClvError(SalesmlError, ValueError):
    """The lifetime-value models cannot be fitted or used on these data (too few
    customers, no repeat purchases, no convergence, bad input)."""


# --------------------------------------------------------------------------- summary


def unit_days(unit: str | float | int) -> float:
    """Days in a time unit: a number of days, or ``days``/``D`` or ``weeks``/``W``."""
    if isinstance(unit, bool):
        raise ClvError(f"time unit {unit!r}: give a number of days or one of {', '.join(TIME_UNITS)}")
    if isinstance(unit, int | float | np.integer | np.floating):
        if not unit > 0 or not math.isfinite(float(unit)):
            raise ClvError(f"time unit {unit!r}: a number of days must be positive")
        return float(unit)
    name = _UNIT_ALIASES.get(str(unit).strip().lower())
    if name is None:
        raise ClvError(f"time unit {unit!r}: use one of {', '.join(TIME_UNITS)} (or a number of days)")
    return TIME_UNITS[name]


def _day(value, what: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as e:
        raise ClvError(f"{what} {value!r} is not a date (YYYY-MM-DD)") from e
    if ts is pd.NaT:
        raise ClvError(f"{what} is missing")
    return ts.normalize()


def summary_from_transactions(
    tx: pd.DataFrame,
    as_of=None,
    calibration_end=None,
    freq_days: str | float = 1,
    *,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = "amount",
) -> pd.DataFrame:
    """Per-customer frequency, recency, T and monetary from raw transactions.

    ``tx`` has one row per transaction (``customer_col``, ``date_col`` and, optionally,
    ``amount_col``); times are truncated to the day and purchases on one day are one
    purchase occasion (their amounts summed). ``freq_days`` is the time unit: a number of
    days (1 = days, 7 = weeks) or ``"days"``/``"weeks"``.

    * ``as_of`` (default: the last transaction date): the end of observation; later
      transactions are ignored.
    * ``calibration_end`` (default ``as_of``): the end of the calibration period. T is
      measured to it, and customers whose first purchase is after it are left out. When it
      is before ``as_of``, holdout columns are added for (calibration_end, as_of]:
      ``frequency_holdout`` (purchase days), ``monetary_holdout`` (their mean value, 0 if
      none) and ``duration_holdout``.

    Returns a frame indexed by customer with ``frequency, recency, T`` (in the time unit),
    ``monetary`` (mean value of the repeat purchase days; 0 without repeats; only with
    amounts), ``first_purchase`` and ``last_purchase`` (calibration period). The input is
    not modified.

    On CDNOW (weeks, calibration to 1997-09-30) this reproduces the published summary
    (``x, t_x, T, zbar``) of Fader, Hardie & Lee.
    """
    unit = unit_days(freq_days)
    missing = [c for c in (customer_col, date_col) if c not in tx.columns]
    if missing:
        raise ClvError(f"transactions lack column(s) {', '.join(missing)} (have: {', '.join(map(str, tx.columns))})")
    with_amount = amount_col is not None and amount_col in tx.columns
    cols = [customer_col, date_col] + ([amount_col] if with_amount else [])
    df = tx[cols].copy()
    if df[customer_col].isna().any():
        raise ClvError(f"{int(df[customer_col].isna().sum())} transaction(s) have no {customer_col}")
    try:
        df[date_col] = pd.to_datetime(df[date_col]).dt.normalize()
    except (TypeError, ValueError) as e:
        raise ClvError(f"transactions: {date_col} is not a date column ({e})") from e
    if df[date_col].isna().any():
        raise ClvError(f"{int(df[date_col].isna().sum())} transaction(s) have no {date_col}")
    if with_amount:
        df[amount_col] = pd.to_numeric(df[amount_col], errors="raise").astype(float)
        if df[amount_col].isna().any():
            raise ClvError(f"{int(df[amount_col].isna().sum())} transaction(s) have no {amount_col}")

    if len(df) == 0:
        raise ClvError("no transactions: nothing to summarise")
    end = _day(as_of, "as_of") if as_of is not None else df[date_col].max()
    cal_end = _day(calibration_end, "calibration_end") if calibration_end is not None else end
    if cal_end > end:
        raise ClvError(f"calibration_end {cal_end.date()} is after as_of {end.date()}")
    df = df[df[date_col] <= end]

    # one row per purchase occasion (customer, day)
    if with_amount:
        days = df.groupby([customer_col, date_col], sort=True, observed=True)[amount_col].sum().reset_index()
    else:
        days = df[[customer_col, date_col]].drop_duplicates().sort_values([customer_col, date_col])
    cal = days[days[date_col] <= cal_end]
    if len(cal) == 0:
        raise ClvError(f"no transactions up to {cal_end.date()}: nothing to summarise")
    g = cal.groupby(customer_col, sort=True, observed=True)
    first = g[date_col].min()
    last = g[date_col].max()
    n = g[date_col].size()
    out = pd.DataFrame(index=first.index)
    out["frequency"] = (n - 1).astype(float)
    out["recency"] = (last - first).dt.days.astype(float) / unit
    out["T"] = (cal_end - first).dt.days.astype(float) / unit
    if with_amount:
        is_first = cal[date_col].to_numpy() == cal[customer_col].map(first).to_numpy()
        repeat = cal.loc[~is_first]
        mean_repeat = repeat.groupby(customer_col, sort=True, observed=True)[amount_col].mean()
        out["monetary"] = mean_repeat.reindex(out.index).fillna(0.0).astype(float)
    out["first_purchase"] = first
    out["last_purchase"] = last
    if cal_end < end:
        hold = days[(days[date_col] > cal_end) & days[customer_col].isin(out.index)]
        hg = hold.groupby(customer_col, sort=True, observed=True)
        out["frequency_holdout"] = hg[date_col].size().reindex(out.index).fillna(0).astype(float)
        if with_amount:
            out["monetary_holdout"] = hg[amount_col].mean().reindex(out.index).fillna(0.0).astype(float)
        out["duration_holdout"] = (end - cal_end).days / unit
    out.index.name = customer_col
    return out


# --------------------------------------------------------------------------- estimation


def _as_array(v, name: str) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=float)
    except (TypeError, ValueError) as e:
        raise ClvError(f"{name} must be numbers ({e})") from e
    if a.ndim > 1:
        raise ClvError(f"{name} must be one-dimensional, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ClvError(f"{name} has {int((~np.isfinite(a)).sum())} missing or infinite value(s)")
    return a


def _check_rft(frequency, recency, T, *, fitting: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, t = _as_array(frequency, "frequency"), _as_array(recency, "recency"), _as_array(T, "T")
    try:
        x, tx, t = np.broadcast_arrays(x, tx, t)
    except ValueError as e:
        raise ClvError(f"frequency, recency and T must have the same length ({e})") from e
    if fitting and (x.ndim == 0 or x.size == 0):
        raise ClvError("no customers to fit the BG/NBD model on")
    if np.any(x < 0) or np.any(np.abs(x - np.round(x)) > 1e-9):
        raise ClvError("frequency must be whole numbers >= 0 (repeat purchase occasions)")
    if np.any(tx < 0):
        raise ClvError("recency must be >= 0")
    if np.any(tx > t + 1e-9):
        bad = int(np.argmax(tx > t + 1e-9))
        raise ClvError(f"recency must not exceed T (customer #{bad}: recency {tx.flat[bad]:g} > T {t.flat[bad]:g})")
    if np.any((x == 0) & (tx > 0)):
        raise ClvError("recency must be 0 for customers without repeat purchases (frequency 0)")
    return np.round(x), tx, t


def _wrap(values: np.ndarray, like):
    """A Series on ``like``'s index when the input was a Series; a float for scalars."""
    if isinstance(like, pd.Series) and np.ndim(values) == 1 and len(like) == len(values):
        return pd.Series(values, index=like.index)
    if np.ndim(values) == 0:
        return float(values)
    return values


def _optimise(objective, x0: np.ndarray, names: list[str], what: str) -> np.ndarray:
    """Minimise ``objective(log_params) -> (value, gradient)`` within exp(±_LOG_BOUND); raise
    ClvError unless it converges to an interior point. Returns the parameters (not logged)."""
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    hint = "try a penalizer, e.g. [clv] penalizer = 0.01, or more data"

    def check_edges(z: np.ndarray) -> None:
        edge = [f"{n} ran off to {'0' if v < 0 else 'infinity'}" for n, v in zip(names, z, strict=True) if abs(v) >= _LOG_BOUND - 1e-3]
        if edge:
            vals = ", ".join(f"{n} = {math.exp(v):.3g}" for n, v in zip(names, z, strict=True))
            raise ClvError(f"{what} did not converge: {', '.join(edge)} ({vals}); the data are degenerate for this model ({hint})")

    # one BLAS thread: L-BFGS-B's tiny matrix steps only lose to thread start-up (x15 on a busy machine)
    with np.errstate(all="ignore"), threadpool_limits(limits=1, user_api="blas"):
        res = minimize(objective, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                       options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9})
        finite = np.isfinite(res.fun) and np.all(np.isfinite(res.x))
        if finite:
            check_edges(res.x)
        if not (res.success and finite):  # e.g. a line search that gave up: polish without derivatives
            start = res.x if finite else x0
            nm = minimize(lambda z: objective(np.clip(z, -_LOG_BOUND, _LOG_BOUND))[0], start, method="Nelder-Mead",
                          options={"maxiter": 400 * len(x0), "xatol": 1e-8, "fatol": 1e-12})
            if not (nm.success and np.isfinite(nm.fun)):
                raise ClvError(f"{what} did not converge: {res.message or nm.message} ({hint})")
            res = nm
            res.x = np.clip(res.x, -_LOG_BOUND, _LOG_BOUND)
            check_edges(res.x)
    return np.exp(res.x)


def _bg_parts(params, x, tx, T):
    """The BG/NBD log-likelihood's pieces: LL = A12 + log(exp(A3) + exp(A4))."""
    r, alpha, a, b = params
    a12 = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    rep = x > 0
    bx1 = np.where(rep, b + x - 1, 1.0)
    a4 = np.where(rep, np.log(a) - np.log(bx1) - (r + x) * np.log(alpha + np.where(rep, tx, 0.0)), -np.inf)
    return a12, a3, a4


def _bg_loglik(params, x, tx, T) -> np.ndarray:
    a12, a3, a4 = _bg_parts(params, x, tx, T)
    return a12 + np.logaddexp(a3, a4)


class BetaGeo(BaseEstimator):
    """The BG/NBD model of repeat purchases (Fader, Hardie & Lee 2005).

    ``penalizer``: L2 penalty on the log-parameters, ``penalizer · Σ (log θ - log θ₀)²``,
    added to the mean negative log-likelihood; 0 = maximum likelihood. It pulls the fit
    towards θ₀ = (r = 1, α = 1 / the observed repeat-purchase rate, a = 1, b = 1): a
    population whose mean rate is the observed one and whose dropout probability is uniform
    on [0, 1]. Unlike a penalty on the raw parameters (lifetimes), it does not depend on the
    time unit (α) or the currency (the spend model's γ).

    Learned: ``params_`` (Series r, alpha, a, b), ``log_likelihood_`` (total, unpenalised),
    ``n_customers_``.
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency, recency, T) -> BetaGeo:
        x, tx, t = _check_rft(frequency, recency, T, fitting=True)
        if not self.penalizer >= 0:
            raise ClvError(f"penalizer must be >= 0, got {self.penalizer!r}")
        if not np.any(x > 0):
            raise ClvError(f"none of the {x.size} customers made a repeat purchase: the BG/NBD model cannot be fitted")
        if not np.any(t > 0):
            raise ClvError("every customer's T is 0 (all first purchases on the last day): nothing to fit")
        pen, n = float(self.penalizer), x.size
        has = x > 0
        rate = x.sum() / max(t.sum(), 1e-12)  # repeat purchases per unit of time
        z0 = np.clip(np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0]), -_LOG_BOUND + 1, _LOG_BOUND - 1)

        def objective(z):
            r, alpha, a, b = th = np.exp(z)
            a12, a3, a4 = _bg_parts(th, x, tx, t)
            lse = np.logaddexp(a3, a4)
            ll = a12 + lse
            w = np.exp(a4 - lse)  # posterior weight of "dropped out right after the last purchase"
            bx1 = np.where(has, b + x - 1, 1.0)
            d_r = digamma(r + x) - digamma(r) + np.log(alpha) - (1 - w) * np.log(alpha + t) - w * np.log(alpha + np.where(has, tx, 0.0))
            d_alpha = r / alpha - (1 - w) * (r + x) / (alpha + t) - w * (r + x) / (alpha + np.where(has, tx, 0.0))
            d_a = digamma(a + b) - digamma(a + b + x) + w / a
            d_b = digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x) - w / bx1
            grad = -np.array([d_r.sum(), d_alpha.sum(), d_a.sum(), d_b.sum()]) / n * th + 2 * pen * (z - z0)
            return -ll.sum() / n + pen * float(np.sum((z - z0) ** 2)), grad

        names = ["r", "alpha", "a", "b"]
        th = _optimise(objective, z0, names, "the BG/NBD purchase model")  # z0 is also the start
        self.params_ = pd.Series(th, index=names, name="BG/NBD")
        self.log_likelihood_ = float(_bg_loglik(th, x, tx, t).sum())
        self.n_customers_ = int(n)
        return self

    # -- predictions (frequency, recency, T in the time unit of the fit; t likewise)

    def _params(self) -> np.ndarray:
        check_is_fitted(self, "params_")
        return self.params_[["r", "alpha", "a", "b"]].to_numpy(dtype=float)

    def log_likelihood(self, frequency, recency, T):
        """Each customer's log-likelihood under the fitted parameters."""
        x, tx, t = _check_rft(frequency, recency, T)
        return _wrap(_bg_loglik(self._params(), x, tx, t), frequency)

    def p_alive(self, frequency, recency, T):
        """P(still active at T | x, t_x, T); 1 for customers without repeat purchases."""
        x, tx, t = _check_rft(frequency, recency, T)
        _, a3, a4 = _bg_parts(self._params(), x, tx, t)
        return _wrap(np.exp(a3 - np.logaddexp(a3, a4)), frequency)

    def p_no_purchase(self, frequency, recency, T, t):
        """P(no purchase in (T, T+t] | x, t_x, T) = L(x, t_x, T+t) / L(x, t_x, T) (see the module
        docstring). ``t`` may be an array (broadcast against the customers)."""
        x, tx, tt = _check_rft(frequency, recency, T)
        h = _as_array(t, "t")
        if np.any(h < 0):
            raise ClvError("t must be >= 0")
        th = self._params()
        _, a3, a4 = _bg_parts(th, x, tx, tt)
        r = th[0]
        a3h = -(r + x) * np.log(th[1] + tt + h)
        out = np.exp(np.logaddexp(a3h, a4) - np.logaddexp(a3, a4))
        return _wrap(np.clip(out, 0.0, 1.0), frequency)

    def expected_purchases(self, frequency, recency, T, t):
        """Expected purchases in (T, T+t] given x, t_x, T (FHL 2005)."""
        x, tx, tt = _check_rft(frequency, recency, T)
        h = _as_array(t, "t")
        if np.any(h < 0):
            raise ClvError("t must be >= 0")
        r, alpha, a, b = th = self._params()
        _, a3, a4 = _bg_parts(th, x, tx, tt)
        alive = np.exp(a3 - np.logaddexp(a3, a4))
        z = h / (alpha + tt + h)
        with np.errstate(all="ignore"):
            f = np.exp((r + x) * (np.log(alpha + tt) - np.log(alpha + tt + h))) * hyp2f1(r + x, b + x, a + b + x - 1, z)
            out = (a + b + x - 1) / (a - 1) * (1 - f) * alive
        if not np.all(np.isfinite(out)):
            raise ClvError("expected purchases are not finite for some customers (parameters at the edge of the model: a close to 1?)")
        return _wrap(np.maximum(out, 0.0), frequency)

    def expected_purchases_new(self, t):
        """Expected repeat purchases in (0, t] of a newly acquired customer (FHL 2005)."""
        r, alpha, a, b = self._params()
        h = _as_array(t, "t")
        with np.errstate(all="ignore"):
            out = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + h)) ** r * hyp2f1(r, b, a + b - 1, h / (alpha + h)))
        return _wrap(out, t)

    def to_dict(self) -> dict:
        """Parameters, log-likelihood and number of customers (JSON-ready)."""
        check_is_fitted(self, "params_")
        return {"params": {k: float(v) for k, v in self.params_.items()}, "log_likelihood": self.log_likelihood_,
                "n_customers": self.n_customers_, "penalizer": float(self.penalizer), "refit": getattr(self, "refit_", None)}

    @classmethod
    def from_params(cls, r: float, alpha: float, a: float, b: float, penalizer: float = 0.0) -> BetaGeo:
        """A fitted model with given parameters (e.g. published or stored ones)."""
        m = cls(penalizer=penalizer)
        m.params_ = pd.Series([r, alpha, a, b], index=["r", "alpha", "a", "b"], dtype=float, name="BG/NBD")
        if not np.all(m.params_ > 0):
            raise ClvError(f"BG/NBD parameters must be positive, got {m.params_.to_dict()}")
        m.log_likelihood_, m.n_customers_ = float("nan"), 0
        return m


#: a BG/NBD fit whose mean chance of dropping out after a purchase, a / (a + b), is below this
#: ends on the model's boundary: nobody would ever stop buying
BOUNDARY_DROPOUT = 1e-3


def boundary(bg: BetaGeo) -> str | None:
    """Why a fitted BG/NBD lies on the boundary of the model, or None."""
    r, alpha, a, b = bg._params()
    if a / (a + b) < BOUNDARY_DROPOUT:
        return (f"a = {a:.3g}, b = {b:.3g}: a {a / (a + b):.2%} chance of dropping out after a purchase, so every customer, "
                "even one silent for a year, would be 100% alive")
    return None


def fit_bgnbd(frequency, recency, T, penalizer: float = 0.0, boundary_penalizer: float = 0.01,
              setting: str = "[clv] boundary_penalizer") -> BetaGeo:
    """BG/NBD fitted with ``penalizer``; a fit that ends on the boundary (a parameter running
    off to 0 or infinity, or :func:`boundary`) is refitted with ``boundary_penalizer`` (when
    larger) and its ``refit_`` says why (None for a fit accepted as it was)."""
    try:
        bg = BetaGeo(penalizer=penalizer).fit(frequency, recency, T)
        why = boundary(bg)
    except ClvError as e:
        if "did not converge" not in str(e) or penalizer >= boundary_penalizer:
            raise
        why = str(e)
    if why is None or penalizer >= boundary_penalizer:
        bg.refit_ = None
        return bg
    bg = BetaGeo(penalizer=boundary_penalizer).fit(frequency, recency, T)
    bg.refit_ = f"the BG/NBD fit ended on the boundary ({why}); refitted with penalizer {boundary_penalizer:g} ({setting})"
    return bg


def _gg_loglik(params, x, m) -> np.ndarray:
    p, q, g = params
    px = p * x
    return gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + m * x)


class GammaGamma(BaseEstimator):
    """The Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005, "RFM and CLV").

    ``fit(frequency, monetary)`` uses the customers with repeat purchases (frequency > 0;
    the others are ignored), whose ``monetary`` (mean repeat transaction value) must be
    positive. ``penalizer``: L2 penalty on the log-parameters as for :class:`BetaGeo`,
    towards (p = 1, q = 2, γ = the mean of ``monetary``): a population mean spend equal to
    the observed one.

    Learned: ``params_`` (Series p, q, gamma), ``log_likelihood_``, ``n_customers_`` (those
    with repeat purchases).
    """

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    def fit(self, frequency, monetary) -> GammaGamma:
        x, m = _as_array(frequency, "frequency"), _as_array(monetary, "monetary")
        if x.shape != m.shape or x.ndim != 1:
            raise ClvError(f"frequency and monetary must be 1-D of the same length, got {x.shape} and {m.shape}")
        if not self.penalizer >= 0:
            raise ClvError(f"penalizer must be >= 0, got {self.penalizer!r}")
        rep = x > 0
        x, m = x[rep], m[rep]
        if x.size < 2:
            raise ClvError(f"the spend model needs customers with repeat purchases: {x.size} found")
        if np.any(m <= 0):
            raise ClvError(f"{int((m <= 0).sum())} repeat customer(s) have a mean spend <= 0: the Gamma-Gamma model needs positive values")
        if np.ptp(m) <= 1e-9 * np.abs(m).max():
            raise ClvError(f"all {x.size} repeat customers have the same mean spend ({m[0]:g}): the spend model cannot be fitted")
        pen, n = float(self.penalizer), x.size
        logm, logx = np.log(m), np.log(x)
        # centre of the penalty and start: p = 1, q = 2, gamma = mean spend (p·gamma/(q-1) = mean spend)
        z0 = np.clip(np.log([1.0, 2.0, float(m.mean())]), -_LOG_BOUND + 1, _LOG_BOUND - 1)

        def objective(z):
            p, q, g = th = np.exp(z)
            px = p * x
            ll = gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g) + (px - 1) * logm + px * logx - (px + q) * np.log(g + m * x)
            lg = np.log(g + m * x)
            d_p = x * (digamma(px + q) - digamma(px) + logm + logx - lg)
            d_q = digamma(px + q) - digamma(q) + np.log(g) - lg
            d_g = q / g - (px + q) / (g + m * x)
            grad = -np.array([d_p.sum(), d_q.sum(), d_g.sum()]) / n * th + 2 * pen * (z - z0)
            return -ll.sum() / n + pen * float(np.sum((z - z0) ** 2)), grad

        names = ["p", "q", "gamma"]
        th = _optimise(objective, z0, names, "the Gamma-Gamma spend model")
        self.params_ = pd.Series(th, index=names, name="Gamma-Gamma")
        self.log_likelihood_ = float(_gg_loglik(th, x, m).sum())
        self.n_customers_ = int(n)
        return self

    def _params(self) -> np.ndarray:
        check_is_fitted(self, "params_")
        return self.params_[["p", "q", "gamma"]].to_numpy(dtype=float)

    @property
    def mean_spend_(self) -> float:
        """The population's mean transaction value p·γ/(q-1) (infinite when q <= 1)."""
        p, q, g = self._params()
        return p * g / (q - 1) if q > 1 else float("inf")

    def expected_spend(self, frequency, monetary):
        """E[average transaction value | x, m] = p(γ + x m)/(p x + q - 1); the population
        mean for customers without repeat purchases."""
        p, q, g = self._params()
        x, m = _as_array(frequency, "frequency"), _as_array(monetary, "monetary")
        x, m = np.broadcast_arrays(x, m)
        m = np.where(x > 0, m, 0.0)
        den = p * x + q - 1
        if np.any(den <= 0):
            raise ClvError(f"the spend model's q = {q:.3g} <= 1: the expected spend of customers without repeat purchases is infinite")
        return _wrap(p * (g + x * m) / den, frequency)

    def to_dict(self) -> dict:
        check_is_fitted(self, "params_")
        return {"params": {k: float(v) for k, v in self.params_.items()}, "log_likelihood": self.log_likelihood_,
                "n_customers": self.n_customers_, "penalizer": float(self.penalizer), "mean_spend": float(self.mean_spend_)}

    @classmethod
    def from_params(cls, p: float, q: float, gamma: float, penalizer: float = 0.0) -> GammaGamma:
        m = cls(penalizer=penalizer)
        m.params_ = pd.Series([p, q, gamma], index=["p", "q", "gamma"], dtype=float, name="Gamma-Gamma")
        if not np.all(m.params_ > 0):
            raise ClvError(f"Gamma-Gamma parameters must be positive, got {m.params_.to_dict()}")
        m.log_likelihood_, m.n_customers_ = float("nan"), 0
        return m


def p_no_purchase(model: BetaGeo, frequency, recency, T, t):
    """P(no purchase in the next ``t`` | frequency, recency, T) under a fitted BG/NBD model
    (all in the model's time unit). Same as ``model.p_no_purchase(...)``."""
    return model.p_no_purchase(frequency, recency, T, t)


def lifetime_value(
    bg: BetaGeo,
    gg: GammaGamma,
    frequency,
    recency,
    T,
    monetary,
    horizon_days: float,
    unit_days: float = 1.0,
    discount_rate: float = 0.10,
    margin_ratio: float = 1.0,
):
    """Discounted value of each customer's purchases over the next ``horizon_days``.

    ``clv = margin_ratio · expected_spend · Σ_k (E[Y(τ_k)] - E[Y(τ_(k-1))]) / (1+d)^(τ_k/365.25)``,
    τ_k = min(k · 365.25/12, horizon) days: monthly steps, each discounted from its end at
    the annual rate ``d = discount_rate``. frequency, recency and T are in units of
    ``unit_days`` days (the models' time unit).
    """
    if not horizon_days > 0:
        raise ClvError(f"the horizon must be positive, got {horizon_days!r} days")
    if not discount_rate > -1:
        raise ClvError(f"the discount rate must be > -1 (0.10 = 10% a year), got {discount_rate!r}")
    spend = np.asarray(gg.expected_spend(frequency, monetary), dtype=float)
    steps = math.ceil(horizon_days / MONTH_DAYS - 1e-9)
    total = np.zeros(np.broadcast(*(np.asarray(v, dtype=float) for v in (frequency, recency, T, monetary))).shape)
    previous = 0.0
    for k in range(1, steps + 1):
        tau = min(k * MONTH_DAYS, float(horizon_days))
        cum = np.asarray(bg.expected_purchases(frequency, recency, T, tau / unit_days), dtype=float)
        total = total + (cum - previous) / (1.0 + discount_rate) ** (tau / YEAR_DAYS)
        previous = cum
    return _wrap(margin_ratio * spend * total, frequency)


# --------------------------------------------------------------------------- warehouse


def _clv_settings(settings) -> tuple[ClvSettings, PerformanceSettings]:
    if settings is None:
        return ClvSettings(), PerformanceSettings()
    if isinstance(settings, Settings):
        return settings.clv, settings.performance
    if isinstance(settings, ClvSettings):
        return settings, PerformanceSettings()
    raise TypeError(f"settings must be Settings or ClvSettings, got {type(settings).__name__}")


def check_settings(c: ClvSettings) -> None:
    """Clear errors for [clv] values the models cannot use."""
    if c.horizon_days <= 0:
        raise ClvError(f"[clv] horizon_days must be positive, got {c.horizon_days}")
    if not c.discount_rate > -1:
        raise ClvError(f"[clv] discount_rate must be > -1 (0.10 = 10% a year), got {c.discount_rate}")
    if c.margin_ratio < 0:
        raise ClvError(f"[clv] margin_ratio must be >= 0 (1.0 = value in revenue), got {c.margin_ratio}")
    if str(c.time_unit).strip().lower() not in _UNIT_ALIASES:
        raise ClvError(f"[clv] time_unit must be one of {', '.join(TIME_UNITS)}, got {c.time_unit!r}")
    if c.penalizer < 0 or c.boundary_penalizer < 0:
        raise ClvError(f"[clv] penalizer and boundary_penalizer must be >= 0, got {c.penalizer} and {c.boundary_penalizer}")
    if c.min_customers < 2 or c.min_repeat_customers < 2:
        raise ClvError("[clv] min_customers and min_repeat_customers must be at least 2")


def default_as_of(con: duckdb.DuckDBPyConnection) -> date:
    """The last day of the latest complete month of the data."""
    _, nxt = period_bounds(latest_complete_period(con))
    return (pd.Timestamp(nxt) - pd.Timedelta(days=1)).date()


def _selection(as_of, scope, settings) -> tuple[str, dict, tuple[str, ...]]:
    """The ledger entries the models read: known by ``as_of``, within ``scope`` (a condition
    over the ledger with ``rep_key``), and the anonymous ids of the settings."""
    _, perf = _clv_settings(settings)
    day = _day(as_of, "as_of").date()
    cond, params = parse_scope(scope).sql()
    ids = anonymous_ids(settings) if isinstance(settings, Settings) else ()
    where = f"credit_date <= $as_of AND coalesce(event_date, credit_date) <= $as_of AND {cond}"
    return where, {"as_of": day, "un": perf.unassigned, **params}, ids


def transactions(con: duckdb.DuckDBPyConnection, as_of, scope=None, settings=None) -> pd.DataFrame:
    """Purchase occasions from the ledger: ``customer_id, date, amount`` = net revenue per
    customer and day of sale, of the entries known by ``as_of`` (a return counts on its
    sale's day once it has happened), within ``scope``; days that net to <= 0 are dropped.
    Anonymous lines are left out (the anonymous ids come from ``settings`` when it is a
    :class:`~salesml.config.Settings`; lines without a customer always)."""
    where, params, ids = _selection(as_of, scope, settings)
    who, wp = identified_sql("customer_id", ids)
    df = con.execute(
        f"""
        SELECT customer_id, credit_date AS date, CAST(sum(amount) AS DOUBLE) AS amount
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) e
        WHERE {who} AND {where}
        GROUP BY 1, 2
        HAVING sum(amount) > 0
        ORDER BY 1, 2
        """,
        {**params, **wp},
    ).df()
    df["customer_id"] = df["customer_id"].astype(str)
    df["date"] = pd.to_datetime(df["date"])
    return df


def left_out(con: duckdb.DuckDBPyConnection, as_of=None, scope=None, settings=None) -> LeftOut:
    """The anonymous order lines :func:`transactions` leaves out as of a day (default: the
    last day of the latest complete month) within a scope: lines, orders, net revenue and
    its share of the selection's revenue (:class:`salesml.anonymous.LeftOut`)."""
    sc = parse_scope(scope)
    check_scope(con, sc)
    day = _day(as_of, "as_of") if as_of is not None else pd.Timestamp(default_as_of(con))
    where, params, ids = _selection(day, sc, settings)
    return _left_out(con, where, params, ids, source="(SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger)")


def fit(con: duckdb.DuckDBPyConnection, as_of=None, settings=None) -> tuple[BetaGeo, GammaGamma, pd.DataFrame]:
    """Fit BG/NBD and Gamma-Gamma on every customer's purchases up to ``as_of`` (default: the
    last day of the latest complete month). Returns the two models and the summary they
    were fitted on (indexed by customer_id; times in ``[clv] time_unit``)."""
    clv, _ = _clv_settings(settings)
    check_settings(clv)
    day = _day(as_of, "as_of") if as_of is not None else pd.Timestamp(default_as_of(con))
    tx = transactions(con, day, None, settings)
    if tx.empty:
        raise ClvError(
            f"no sales with an identified customer up to {day.date()}: nothing to fit the lifetime-value models on"
            " (anonymous / walk-in sales are left out)"
        )
    summary = summary_from_transactions(tx, as_of=day, freq_days=clv.time_unit)
    n, n_rep = len(summary), int((summary["frequency"] > 0).sum())
    if n < clv.min_customers:
        raise ClvError(
            f"only {n} customer(s) with purchases up to {day.date()}: the lifetime-value models need at least "
            f"{clv.min_customers} ([clv] min_customers)"
        )
    if n_rep < clv.min_repeat_customers:
        raise ClvError(
            f"only {n_rep} of {n} customers made a repeat purchase up to {day.date()}: the models need at least "
            f"{clv.min_repeat_customers} ([clv] min_repeat_customers)"
        )
    bg = fit_bgnbd(summary["frequency"], summary["recency"], summary["T"], clv.penalizer, clv.boundary_penalizer)
    gg = GammaGamma(penalizer=clv.penalizer).fit(summary["frequency"], summary["monetary"])
    return bg, gg, summary


def customer_clv(
    con: duckdb.DuckDBPyConnection,
    as_of=None,
    horizon_days: float | None = None,
    settings=None,
    scope=None,
    *,
    models: tuple[BetaGeo, GammaGamma] | None = None,
) -> pd.DataFrame:
    """Per customer of ``scope``: ``customer_id, frequency, recency, T, monetary, p_alive,
    p_no_purchase_h, expected_purchases, expected_spend, clv, last_purchase``, by clv descending.

    ``p_no_purchase_h`` and ``expected_purchases`` are for the next ``horizon_days`` (default
    ``[clv] horizon_days``) after ``as_of``; ``clv`` is their discounted value (see the module
    docstring), × ``[clv] margin_ratio``. Times are in ``[clv] time_unit``. The models are
    fitted on the whole company (:func:`fit`) unless ``models`` = (BetaGeo, GammaGamma)
    fitted ones are given; the customers and their figures come from the purchases credited
    to ``scope`` only.
    """
    clv, _ = _clv_settings(settings)
    check_settings(clv)
    sc = parse_scope(scope)
    check_scope(con, sc)
    day = _day(as_of, "as_of") if as_of is not None else pd.Timestamp(default_as_of(con))
    horizon = float(clv.horizon_days if horizon_days is None else horizon_days)
    if not horizon > 0:
        raise ClvError(f"the horizon must be a positive number of days, got {horizon_days!r}")
    unit = unit_days(clv.time_unit)
    if models is None:
        bg, gg, summary = fit(con, day, settings)
    else:
        bg, gg = models
        summary = None
    if sc.level != "company" or summary is None:
        tx = transactions(con, day, sc, settings)
        if tx.empty:
            return pd.DataFrame({c: pd.Series(dtype=object if c in ("customer_id", "last_purchase") else float) for c in CLV_COLUMNS})
        summary = summary_from_transactions(tx, as_of=day, freq_days=unit)
    x, tx_, t, m = (summary[c] for c in SUMMARY_COLUMNS)
    h = horizon / unit
    out = pd.DataFrame({"customer_id": summary.index.astype(str)})
    for c in SUMMARY_COLUMNS:
        out[c] = summary[c].to_numpy(dtype=float)
    out["p_alive"] = np.asarray(bg.p_alive(x, tx_, t), dtype=float)
    out["p_no_purchase_h"] = np.asarray(bg.p_no_purchase(x, tx_, t, h), dtype=float)
    out["expected_purchases"] = np.asarray(bg.expected_purchases(x, tx_, t, h), dtype=float)
    out["expected_spend"] = np.asarray(gg.expected_spend(x, m), dtype=float)
    out["clv"] = np.asarray(
        lifetime_value(bg, gg, x, tx_, t, m, horizon, unit_days=unit, discount_rate=clv.discount_rate, margin_ratio=clv.margin_ratio),
        dtype=float,
    )
    out["last_purchase"] = pd.to_datetime(summary["last_purchase"].to_numpy()).date
    return out.sort_values(["clv", "customer_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
