"""Cross-sell: which products to offer each customer next, from the products bought together,
and an honest, time-based backtest of those suggestions against a popularity baseline.

This module owns the baskets (which products were bought together), the association rules
learned from them, the recommendations made from them, and their backtest.

Definitions
-----------
* A **basket** is an order: the set of distinct products of the order's sale entries in the
  ledger (``kind = 'sale'``, ``amount > 0``; a product counts once per order, whatever its
  quantity or the number of its lines and of the reps sharing them), dated by the sale
  (``credit_date``). Returns do not remove a product from a basket: the customer did buy it.
* **Anonymous** sales (``customer_id`` NULL, blank or one of
  ``Settings.anonymous_customer_ids``; see :mod:`salesml.anonymous`) are baskets like any
  other for learning which products go together, but they are nobody: they get no
  recommendation and are not scored by the backtest (:func:`baskets` gives them a NULL
  ``customer_id``).
* Of ``N`` baskets, ``n(X)`` contain product X and ``n(A, C)`` contain both A and C. The rule
  ``A -> C`` (A the *antecedent*, C the *consequent*, A != C) has ``count = n(A, C)``,
  **support** ``= n(A, C) / N`` (the share of baskets holding both), **confidence**
  ``= n(A, C) / n(A)`` (the share of baskets with A that also hold C: an estimate of
  P(C | A)) and **lift** ``= confidence / (n(C) / N) = N n(A, C) / (n(A) n(C))`` (how many
  times more often C comes with A than in baskets at large: 1 = independent, above 1 =
  bought together). ``p_value`` is the one-sided Fisher exact test of A and C being together
  at least ``count`` times by chance (hypergeometric: ``N`` baskets, ``n(A)`` with A,
  ``n(C)`` with C). The **popularity** of a product is ``n(X) / N``.
* A rule is kept when ``count >= min_count``, ``support >= min_support``,
  ``confidence >= min_confidence``, ``lift >= min_lift`` and ``p_value <= significance /
  (M (M - 1) / 2)`` for ``M`` products (Bonferroni over the product pairs, so that among
  hundreds of thousands of pairs chance co-occurrences are not taken for associations;
  ``significance = 1``: no test); of each antecedent only the ``rules_per_product`` rules of
  highest confidence (0 = all).
* A customer's **recommendations** are products the customer has not bought (in the history
  given). First those reached by the kept rules whose antecedent the customer bought
  (``basis = "rules"``), ranked by a **score**: ``scoring="sum"``: the sum of
  ``confidence x lift`` of all such rules (products that follow from several of the
  customer's products rank first); ``scoring="best"``: the confidence of the best one.
  ``because_product_id`` is the bought product whose rule contributes most (its
  ``confidence`` and ``lift`` are given). A customer whose history matches no rule gets
  nothing from rules; a list shorter than ``k`` is then filled (no rule, no
  ``because_product_id``) by the ``fallback``:

  - ``"category"``: the products ranked by the customer's own category mix: ``score =
    share(g) x pop(X) / pop(g)``, where ``g`` is X's category, ``pop(g)`` the summed
    popularity of its products and ``share(g) = (b(g) + a pop(g) / sum pop) / (b + a)`` the
    customer's share of distinct bought products in ``g`` (``b(g)`` of ``b``), shrunk towards
    the company's mix by ``a = category_prior`` pseudo-products. A product without a
    category is a category of its own (with no categories at all, this is the popularity
    ranking);
  - ``"popular"``: the most popular products (``score`` = popularity);
  - ``"none"``: nothing.

  Ties rank by product id.
* **Scope**: the rules are learned from the whole company's baskets (aggregates, like the
  company-wide score boundaries of :mod:`salesml.customers.rfm`); in a region / team / rep
  scope the customers and their histories are those of the sales credited to the scope only,
  so a rep's list holds only the rep's customers, and names as ``because_product_id`` only
  products they bought from the rep.
* **Backtest** at a ``cutoff`` day with a horizon of ``h`` days: the model is fitted on the
  baskets dated before the cutoff; the customers scored are the identified customers with a
  purchase before the cutoff who bought, in ``[cutoff, cutoff + h)``, at least one product
  they had not bought before it (their *new products*, what a cross-sell can hit). For each
  method, with ``k`` recommendations a customer: **hit rate** = share of the customers with at
  least one recommended product among their new products; **precision@k** = mean of
  ``hits / k`` (a list shorter than ``k`` is not excused); **recall@k** = mean of
  ``hits / (number of new products)``. The **popularity** baseline recommends the ``k`` most
  popular products (before the cutoff) each customer has not bought. The model's row also
  gives the hit-rate gain over the baseline and its 90% paired bootstrap interval, and every
  row the share of the recommendations (and of the hits) that came from rules.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
from scipy import sparse, stats
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from salesml import registry, warehouse
from salesml.anonymous import anonymous_sql, is_anonymous
from salesml.config import CROSSSELL_FALLBACKS, CROSSSELL_SCORINGS, CrossSellSettings, Settings
from salesml.errors import SalesmlError
from salesml.periods import PeriodError, parse_day
from salesml.scope import Scope, check_scope, parse_scope

#: columns of a basket frame (:func:`baskets`): one row per order and product (``category``
#: is optional: the product's, from ``products``, NULL when unknown)
BASKET_COLUMNS = ["order_id", "customer_id", "date", "product_id", "category"]
#: columns of :attr:`CrossSell.rules_`
RULE_COLUMNS = ["antecedent", "consequent", "count", "support", "confidence", "lift", "p_value"]
#: columns of a recommendation frame (:meth:`CrossSell.recommend`)
REC_COLUMNS = ["customer_id", "rank", "product_id", "score", "basis", "because_product_id", "confidence", "lift"]
#: columns of a backtest frame (:func:`backtest`)
BACKTEST_COLUMNS = [
    "cutoff", "horizon_days", "k", "method", "customers", "hit_rate", "precision_at_k", "recall_at_k",
    "rules_share", "rule_hits_share", "hit_rate_gain", "gain_low", "gain_high", "train_baskets", "rules",
]
#: the methods a backtest compares
METHODS = ("crosssell", "popularity")

#: expanded (customer, rule) rows handled at once when recommending (bounds the memory)
_CHUNK_ROWS = 4_000_000
#: (customer x product) cells handled at once when filling lists with popular products
_CHUNK_CELLS = 8_000_000


class CrossSellError(SalesmlError, ValueError):
    """Bad input to the cross-sell model or backtest (missing columns, no data, bad parameters)."""


# --------------------------------------------------------------------------- reading


def _day(value: str | date | pd.Timestamp, what: str = "date") -> date:
    try:
        return parse_day(value, what)
    except PeriodError as e:
        raise CrossSellError(str(e)) from None


def _empty_baskets() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": pd.Series(dtype=object),
            "customer_id": pd.Series(dtype=object),
            "date": pd.Series(dtype="datetime64[ns]"),
            "product_id": pd.Series(dtype=object),
            "category": pd.Series(dtype=object),
        }
    )


def baskets(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp | None = None,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
    since: str | date | pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The baskets of the sales credited to a scope, dated on or before ``as_of`` (and on or
    after ``since``): one row per order and product, ``order_id, customer_id, date,
    product_id, category`` (the product's, NULL when ``products`` does not know it), with
    ``customer_id`` NULL for anonymous sales (see the module docs). Sorted by date, order and
    product."""
    settings = settings or Settings()
    sc = parse_scope(scope)
    check_scope(con, sc)
    cond, params = sc.sql("l")
    anon, ap = anonymous_sql("l.customer_id", settings.anonymous_customer_ids)
    where = ["l.kind = 'sale'", "l.amount > 0", "l.product_id IS NOT NULL", "l.credit_date IS NOT NULL", cond]
    if as_of is not None:
        where.append("l.credit_date <= $as_of")
        params["as_of"] = _day(as_of, "as-of date")
    if since is not None:
        where.append("l.credit_date >= $since")
        params["since"] = _day(since, "since date")
    df = con.execute(
        f"""
        SELECT l.order_id, CASE WHEN {anon} THEN NULL ELSE l.customer_id END AS customer_id,
               min(l.credit_date) AS date, l.product_id, min(p.category) AS category
        FROM (SELECT *, coalesce(rep_id, $un) AS rep_key FROM ledger) l
        LEFT JOIN products p ON p.product_id = l.product_id
        WHERE {" AND ".join(where)}
        GROUP BY l.order_id, 2, l.product_id
        ORDER BY date, l.order_id, l.product_id
        """,
        {"un": settings.performance.unassigned, **ap, **params},
    ).df()
    if df.empty:
        return _empty_baskets()
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    # an order with lines of an identified and an anonymous customer is not expected; keep one row
    return df.drop_duplicates(["order_id", "product_id"]).reset_index(drop=True)[BASKET_COLUMNS]


def data_end(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day of the last sale in the ledger (None when there is none)."""
    row = con.execute("SELECT max(credit_date) FROM ledger WHERE kind = 'sale'").fetchone()
    return None if row is None or row[0] is None else _day(pd.Timestamp(row[0]))


# --------------------------------------------------------------------------- frames


def _need(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CrossSellError(f"{what} lack column(s) {', '.join(missing)} (need {', '.join(columns)})")


def purchases(lines: pd.DataFrame, anonymous: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Each identified customer's distinct purchased products, ``customer_id, product_id``
    (sorted), from baskets or any frame with those columns; anonymous rows are left out."""
    _need(lines, ["customer_id", "product_id"], "purchases")
    h = lines.loc[~is_anonymous(lines["customer_id"], anonymous) & lines["product_id"].notna(), ["customer_id", "product_id"]]
    h = pd.DataFrame({"customer_id": h["customer_id"].astype(str), "product_id": h["product_id"].astype(str)})
    return h.drop_duplicates().sort_values(["customer_id", "product_id"], kind="stable").reset_index(drop=True)


def _empty_recs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=object),
            "rank": pd.Series(dtype="int64"),
            "product_id": pd.Series(dtype=object),
            "score": pd.Series(dtype=float),
            "basis": pd.Series(dtype=object),
            "because_product_id": pd.Series(dtype=object),
            "confidence": pd.Series(dtype=float),
            "lift": pd.Series(dtype=float),
        }
    )


def _chunks(weights: np.ndarray, limit: int) -> list[tuple[int, int]]:
    """Consecutive [start, stop) ranges of ``weights`` each adding up to about ``limit`` or
    less (a single heavier element gets a range of its own)."""
    n = len(weights)
    if n == 0:
        return []
    cum = np.cumsum(weights, dtype=np.int64)
    out, start, base = [], 0, 0
    while start < n:
        stop = int(np.searchsorted(cum, base + limit, side="right"))
        stop = max(stop, start + 1)
        out.append((start, stop))
        base = int(cum[stop - 1])
        start = stop
    return out


def _fill(
    n_customers: int,
    excluded: tuple[np.ndarray, np.ndarray],
    need: np.ndarray,
    scores,
    n_items: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each customer ``i``, the ``need[i]`` products of highest score (ties: lower item
    code) that are not in ``excluded`` (customer code, item code pairs; code -1 = unknown
    product): arrays of customer code, item code and score. ``scores(lo, hi)`` gives the
    scores of customers ``lo..hi-1`` (an array broadcastable to ``(hi - lo, n_items)``)."""
    ex_c, ex_i = excluded
    known = ex_i >= 0
    ex_c, ex_i = ex_c[known], ex_i[known]
    srt = np.argsort(ex_c, kind="stable")
    ex_c, ex_i = ex_c[srt], ex_i[srt]
    bounds = np.searchsorted(ex_c, np.arange(n_customers + 1))
    rows = max(1, _CHUNK_CELLS // max(n_items, 1))
    out_c, out_i, out_s = [], [], []
    for lo in range(0, n_customers, rows):
        hi = min(lo + rows, n_customers)
        want = need[lo:hi]
        if not want.any():
            continue
        sc = np.broadcast_to(np.asarray(scores(lo, hi), dtype=float), (hi - lo, n_items)).copy()
        a, b = bounds[lo], bounds[hi]
        sc[ex_c[a:b] - lo, ex_i[a:b]] = -np.inf
        top = min(int(want.max()), n_items)
        # best `top` per row, ordered by score then item code
        part = np.argsort(-sc, axis=1, kind="stable")[:, :top]
        got = np.take_along_axis(sc, part, axis=1)
        pick = (np.arange(top)[None, :] < want[:, None]) & np.isfinite(got)
        r, j = np.nonzero(pick)
        out_c.append(r + lo)
        out_i.append(part[r, j])
        out_s.append(got[r, j])
    if not out_c:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64), np.array([], dtype=float)
    return np.concatenate(out_c).astype(np.int64), np.concatenate(out_i).astype(np.int64), np.concatenate(out_s)


# --------------------------------------------------------------------------- the model


class CrossSell(BaseEstimator):
    """Item-to-item association rules and the recommendations they make (see the module docs).

    Parameters: ``min_count``, ``min_support``, ``min_confidence``, ``min_lift`` (which rules
    are kept), ``rules_per_product`` (of each antecedent, the rules of highest confidence; 0 =
    all), ``scoring`` (``"sum"`` or ``"best"``), ``top_k`` (recommendations per customer),
    ``fallback`` (``"category"``, ``"popular"`` or ``"none"``), ``category_prior`` (the
    pseudo-count of the category fallback). Nothing is random.

    Learned: ``rules_`` (``antecedent, consequent, count, support, confidence, lift,
    p_value``, sorted by antecedent, then confidence and lift, highest first),
    ``popularity_`` (product -> share of baskets, most popular first), ``categories_``
    (product -> category, None where unknown) and ``n_baskets_``.
    """

    def __init__(
        self,
        min_count: int = 5,
        min_support: float = 0.0,
        min_confidence: float = 0.2,
        min_lift: float = 1.0,
        significance: float = 0.05,
        rules_per_product: int = 50,
        scoring: str = "sum",
        top_k: int = 5,
        fallback: str = "category",
        category_prior: float = 4.0,
    ):
        self.min_count = min_count
        self.min_support = min_support
        self.min_confidence = min_confidence
        self.min_lift = min_lift
        self.significance = significance
        self.rules_per_product = rules_per_product
        self.scoring = scoring
        self.top_k = top_k
        self.fallback = fallback
        self.category_prior = category_prior

    @classmethod
    def from_settings(cls, settings: CrossSellSettings | Settings | None = None) -> CrossSell:
        """A model with the parameters of ``[crosssell]``."""
        if isinstance(settings, Settings):
            settings = settings.crosssell
        s = settings or CrossSellSettings()
        return cls(
            min_count=s.min_count, min_support=s.min_support, min_confidence=s.min_confidence, min_lift=s.min_lift,
            significance=s.significance, rules_per_product=s.rules_per_product, scoring=s.scoring, top_k=s.top_k, fallback=s.fallback,
            category_prior=s.category_prior,
        )

    def _check_params(self) -> None:
        def bad(name: str, rule: str) -> CrossSellError:
            return CrossSellError(f"CrossSell {name} must be {rule}, got {getattr(self, name)!r}")

        def whole(v) -> bool:
            return isinstance(v, int | np.integer) and not isinstance(v, bool)

        if not whole(self.min_count) or self.min_count < 1:
            raise bad("min_count", "a whole number, 1 or more")
        for name in ("min_support", "min_confidence"):
            if not 0 <= float(getattr(self, name)) <= 1:
                raise bad(name, "a fraction between 0 and 1")
        if not 0 < float(self.significance) <= 1:
            raise bad("significance", "a probability above 0 and at most 1 (1 = no test)")
        for name in ("min_lift", "category_prior"):
            if not float(getattr(self, name)) >= 0:
                raise bad(name, "0 or more")
        if not whole(self.rules_per_product) or self.rules_per_product < 0:
            raise bad("rules_per_product", "0 (all) or more")
        if not whole(self.top_k) or self.top_k < 1:
            raise bad("top_k", "1 or more")
        for name, allowed in (("scoring", CROSSSELL_SCORINGS), ("fallback", CROSSSELL_FALLBACKS)):
            if getattr(self, name) not in allowed:
                raise bad(name, f"one of {', '.join(map(repr, allowed))}")

    # ------------------------------------------------------------------ fit

    def fit(self, baskets: pd.DataFrame, y: None = None) -> CrossSell:
        """Learn the rules, the popularity and the product categories from baskets
        (``order_id, product_id``, and ``category`` when known: :func:`baskets` gives it; rows
        of an order are one basket, anonymous ones included). ``baskets`` is not changed."""
        self._check_params()
        _need(baskets, ["order_id", "product_id"], "baskets")
        b = baskets.loc[baskets["order_id"].notna() & baskets["product_id"].notna()]
        if b.empty:
            raise CrossSellError("no baskets to learn from (no sale with a product)")
        pairs = pd.DataFrame(
            {"order_id": b["order_id"].astype(str).to_numpy(), "product_id": b["product_id"].astype(str).to_numpy()}
        ).drop_duplicates()
        o_code, orders = pd.factorize(pairs["order_id"], sort=False)
        items = pd.Index(np.sort(pairs["product_id"].unique()), name="product_id")
        i_code = items.get_indexer(pairs["product_id"])
        n, m = len(orders), len(items)
        mat = sparse.csr_matrix((np.ones(len(pairs), dtype=np.int32), (o_code, i_code)), shape=(n, m))
        n_item = np.asarray(mat.sum(axis=0)).ravel().astype(np.int64)
        self.popularity_ = pd.Series(n_item / n, index=items, name="share").iloc[np.lexsort((np.arange(m), -n_item))]
        if "category" in b.columns:
            known = b.loc[b["category"].notna(), ["product_id", "category"]].astype(str)
            # a product's category: the one its rows name most often (ties: the first by name)
            top = known.value_counts().reset_index().sort_values(["product_id", "count", "category"], ascending=[True, False, True])
            cat = top.drop_duplicates("product_id").set_index("product_id")["category"]
        else:
            cat = pd.Series(dtype=object)
        self.categories_ = pd.Series(cat.reindex(items).to_numpy(dtype=object), index=items, name="category")
        self.categories_ = self.categories_.where(self.categories_.notna(), None)
        co = (mat.T @ mat).tocoo()
        a, c, cnt = co.row.astype(np.int64), co.col.astype(np.int64), co.data.astype(np.int64)
        keep = (a != c) & (cnt >= self.min_count) & (cnt >= float(self.min_support) * n)
        a, c, cnt = a[keep], c[keep], cnt[keep]
        conf = cnt / n_item[a]
        lift = conf * n / n_item[c]
        keep = (conf >= float(self.min_confidence)) & (lift >= float(self.min_lift))
        a, c, cnt, conf, lift = a[keep], c[keep], cnt[keep], conf[keep], lift[keep]
        # one-sided Fisher exact test of "together more often than by chance" (hypergeometric)
        p = stats.hypergeom.sf(cnt - 1, n, n_item[a], n_item[c]) if len(a) else np.array([], dtype=float)
        if float(self.significance) < 1:
            keep = p <= float(self.significance) / max(m * (m - 1) / 2, 1)
            a, c, cnt, conf, lift, p = a[keep], c[keep], cnt[keep], conf[keep], lift[keep], p[keep]
        srt = np.lexsort((c, -lift, -conf, a))
        a, c, cnt, conf, lift, p = a[srt], c[srt], cnt[srt], conf[srt], lift[srt], p[srt]
        if self.rules_per_product and len(a):
            first = np.searchsorted(a, a, side="left")
            keep = np.arange(len(a)) - first < self.rules_per_product
            a, c, cnt, conf, lift, p = a[keep], c[keep], cnt[keep], conf[keep], lift[keep], p[keep]
        names = items.to_numpy()
        self.rules_ = pd.DataFrame(
            {
                "antecedent": names[a].astype(object),
                "consequent": names[c].astype(object),
                "count": cnt.astype("int64"),
                "support": cnt / n,
                "confidence": conf.astype(float),
                "lift": lift.astype(float),
                "p_value": np.asarray(p, dtype=float),
            }
        )
        self.n_baskets_ = int(n)
        return self

    # ------------------------------------------------------------------ recommend

    def _check_fitted(self) -> None:
        try:
            check_is_fitted(self, ["rules_", "popularity_", "categories_"])
        except NotFittedError:
            raise NotFittedError(
                "this CrossSell model is not fitted yet: call fit(baskets) before recommend() or popular()"
            ) from None

    def recommend(
        self, history: pd.DataFrame, k: int | None = None, anonymous: tuple[str, ...] | list[str] = ()
    ) -> pd.DataFrame:
        """Up to ``k`` (default ``top_k``) products for each identified customer of ``history``
        (``customer_id, product_id``: what each customer bought), none of which the customer
        bought: ``customer_id, rank, product_id, score, basis, because_product_id, confidence,
        lift`` sorted by customer and rank (see the module docs). Anonymous customers (NULL,
        blank or in ``anonymous``) get nothing. ``history`` is not changed."""
        return self._recommend(history, k, anonymous, rules=True, fill=self.fallback)

    def popular(
        self, history: pd.DataFrame, k: int | None = None, anonymous: tuple[str, ...] | list[str] = ()
    ) -> pd.DataFrame:
        """The popularity baseline: for each identified customer of ``history``, the ``k``
        most popular products (of the fitted baskets) the customer has not bought, in the
        columns of :meth:`recommend` (``basis = "popular"``, score = popularity)."""
        return self._recommend(history, k, anonymous, rules=False, fill="popular")

    def _fill_scores(self, items: pd.Index, cust: np.ndarray, item: np.ndarray, n_c: int, how: str):
        """``scores(lo, hi)`` of the fallback ``how`` (see :func:`_fill`)."""
        pop = self.popularity_.reindex(items).to_numpy(float)
        if how == "popular":
            return lambda lo, hi: pop[None, :]
        # category: the customer's category mix (smoothed) x the product's share of its category
        cats = self.categories_.reindex(items)
        group = np.where(cats.notna(), "c:" + cats.astype(str), "p:" + items.to_numpy().astype(str))
        g_code, groups = pd.factorize(group)
        g_pop = np.bincount(g_code, weights=pop, minlength=len(groups))
        within = np.divide(pop, g_pop[g_code], out=np.zeros_like(pop), where=g_pop[g_code] > 0)
        prior = g_pop / g_pop.sum() if g_pop.sum() > 0 else np.full(len(groups), 1 / len(groups))
        known = item >= 0
        mix = sparse.csr_matrix(
            (np.ones(int(known.sum())), (cust[known], g_code[item[known]])), shape=(n_c, len(groups))
        )
        alpha = float(self.category_prior)
        total = np.asarray(mix.sum(axis=1)).ravel() + alpha

        def scores(lo: int, hi: int) -> np.ndarray:
            t = total[lo:hi, None]
            share = np.divide(mix[lo:hi].toarray() + alpha * prior[None, :], t, out=np.zeros((hi - lo, len(groups))), where=t > 0)
            return share[:, g_code] * within[None, :]

        return scores

    def _recommend(self, history: pd.DataFrame, k: int | None, anonymous, rules: bool, fill: str) -> pd.DataFrame:
        self._check_fitted()
        self._check_params()
        k = self.top_k if k is None else k
        if not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1:
            raise CrossSellError(f"k must be a whole number, 1 or more, got {k!r}")
        h = purchases(history, anonymous)
        if h.empty:
            return _empty_recs()
        items = self.popularity_.index.sort_values()
        customers = pd.Index(np.sort(h["customer_id"].unique()), name="customer_id")
        cust = customers.get_indexer(h["customer_id"]).astype(np.int64)
        item = items.get_indexer(h["product_id"]).astype(np.int64)
        n_c, m = len(customers), len(items)
        if rules:
            rc, ri, rscore, rbec, rconf, rlift = self._rule_recs(items, cust, item, n_c, k)
        else:
            e, f = np.array([], dtype=np.int64), np.array([], dtype=float)
            rc, ri, rscore, rbec, rconf, rlift = e, e, f, e, f, f
        basis = np.full(len(rc), "rules", dtype=object)
        filled = np.zeros(len(rc))
        if fill != "none":
            have = np.bincount(rc, minlength=n_c)
            scores = self._fill_scores(items, cust, item, n_c, fill)
            fc, fi, fs = _fill(n_c, (np.r_[cust, rc], np.r_[item, ri]), np.maximum(k - have, 0), scores, m)
            nf = len(fc)
            rc, ri, rscore = np.r_[rc, fc], np.r_[ri, fi], np.r_[rscore, fs]
            rbec = np.r_[rbec, np.full(nf, -1)]
            rconf, rlift = np.r_[rconf, np.full(nf, np.nan)], np.r_[rlift, np.full(nf, np.nan)]
            basis = np.r_[basis, np.full(nf, fill, dtype=object)]
            filled = np.r_[filled, np.ones(nf)]
        if len(rc) == 0:
            return _empty_recs()
        # rules first (by score), then the fill-ins (by their own score), ties by product id
        srt = np.lexsort((ri, -rscore, filled, rc))
        rc, ri, rscore, rbec, rconf, rlift, basis = (x[srt] for x in (rc, ri, rscore, rbec, rconf, rlift, basis))
        names = items.to_numpy()
        return pd.DataFrame(
            {
                "customer_id": customers.to_numpy()[rc].astype(object),
                "rank": (np.arange(len(rc)) - np.searchsorted(rc, rc, side="left") + 1).astype("int64"),
                "product_id": names[ri].astype(object),
                "score": rscore.astype(float),
                "basis": basis,
                "because_product_id": np.where(rbec >= 0, names[np.maximum(rbec, 0)], None).astype(object),
                "confidence": rconf.astype(float),
                "lift": rlift.astype(float),
            }
        )

    def _rule_recs(self, items: pd.Index, cust: np.ndarray, item: np.ndarray, n_c: int, k: int):
        """The top ``k`` rule-based candidates per customer (codes; ``cust`` sorted), with
        score, the driving antecedent, its confidence and lift."""
        m = len(items)
        r = self.rules_
        ra = items.get_indexer(r["antecedent"]).astype(np.int64)
        rcn = items.get_indexer(r["consequent"]).astype(np.int64)
        rconf = r["confidence"].to_numpy(float)
        rlift = r["lift"].to_numpy(float)
        weight = rconf if self.scoring == "best" else rconf * rlift
        srt = np.lexsort((rcn, ra))
        ra, rcn, rconf, rlift, weight = ra[srt], rcn[srt], rconf[srt], rlift[srt], weight[srt]
        indptr = np.searchsorted(ra, np.arange(m + 1))
        known = item >= 0
        hc, hi = cust[known], item[known]
        n_rules = indptr[hi + 1] - indptr[hi]
        per_customer = np.bincount(hc, weights=n_rules, minlength=n_c).astype(np.int64)
        bought = np.unique(cust.astype(np.int64) * (m + 1) + np.where(item >= 0, item, m))
        starts = np.searchsorted(hc, np.arange(n_c + 1))
        out = []
        for lo, hi_c in _chunks(per_customer, _CHUNK_ROWS):
            s, e = starts[lo], starts[hi_c]
            c_ = hc[s:e]
            cnt = n_rules[s:e]
            if cnt.sum() == 0:
                continue
            rows_c = np.repeat(c_, cnt)
            rows_a = np.repeat(hi[s:e], cnt)
            offs = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt)
            rid = np.repeat(indptr[hi[s:e]], cnt) + offs
            cons = rcn[rid]
            key = rows_c.astype(np.int64) * (m + 1) + cons
            new = ~np.isin(key, bought)
            key, rows_c, rows_a, rid, cons = key[new], rows_c[new], rows_a[new], rid[new], cons[new]
            if not len(key):
                continue
            w = weight[rid]
            # the driving rule of each (customer, candidate): highest weight, lift, then antecedent id
            o = np.lexsort((rows_a, -rlift[rid], -w, key))
            key, rows_c, rows_a, rid, cons, w = key[o], rows_c[o], rows_a[o], rid[o], cons[o], w[o]
            head = np.r_[True, key[1:] != key[:-1]]
            score = w[head] if self.scoring == "best" else np.add.reduceat(w, np.flatnonzero(head))
            cc, ci, ca, cr = rows_c[head], cons[head], rows_a[head], rid[head]
            o = np.lexsort((ci, -score, cc))
            cc, ci, ca, cr, score = cc[o], ci[o], ca[o], cr[o], score[o]
            rank = np.arange(len(cc)) - np.searchsorted(cc, cc, side="left")
            top = rank < k
            out.append((cc[top], ci[top], score[top], ca[top], rconf[cr[top]], rlift[cr[top]]))
        if not out:
            e = np.array([], dtype=np.int64)
            f = np.array([], dtype=float)
            return e, e, f, e, f, f
        return tuple(np.concatenate(x) for x in zip(*out, strict=True))


# --------------------------------------------------------------------------- backtest


def _scores(recs: pd.DataFrame, truth: pd.DataFrame, customers: pd.Index) -> pd.DataFrame:
    """Per scored customer: hits (of them, by rules), new products bought, recommendations listed
    (of them, by rules)."""
    hit = recs.merge(truth, on=["customer_id", "product_id"], how="inner")

    def count(df: pd.DataFrame) -> pd.Series:
        return df.groupby("customer_id").size().reindex(customers).fillna(0).astype("int64")

    return pd.DataFrame(
        {
            "hits": count(hit),
            "rule_hits": count(hit[hit["basis"] == "rules"]),
            "relevant": count(truth),
            "listed": count(recs),
            "from_rules": count(recs[recs["basis"] == "rules"]),
        },
        index=customers,
    )


def backtest(
    lines: pd.DataFrame,
    cutoff: str | date | pd.Timestamp,
    horizon_days: int = 90,
    k: int = 5,
    model: CrossSell | None = None,
    *,
    learn: pd.DataFrame | None = None,
    anonymous: tuple[str, ...] | list[str] = (),
    bootstrap: int = 200,
    random_state: int = 0,
) -> pd.DataFrame:
    """Backtest a cross-sell model against the popularity baseline on a time-based holdout.

    ``lines`` are baskets (``order_id, customer_id, date, product_id``; e.g. :func:`baskets`):
    the model (a fresh copy of ``model``, default ``CrossSell()``) is fitted on those dated
    before ``cutoff`` (or on those of ``learn`` before it: e.g. the company's baskets while
    ``lines`` are a scope's), recommends ``k`` products to each identified customer who
    bought before the cutoff, and is scored on the products they bought for the first time in
    ``[cutoff, cutoff + horizon_days)`` (see the module docs). One row per method
    (``crosssell``, ``popularity``): ``cutoff, horizon_days, k, method, customers, hit_rate,
    precision_at_k, recall_at_k, rules_share, rule_hits_share`` (shares of the
    recommendations and of the hits made by rules), ``hit_rate_gain, gain_low, gain_high``
    (the model's gain over the baseline and its 90% paired bootstrap interval from
    ``bootstrap`` resamples, drawn with ``random_state``; model row only), ``train_baskets,
    rules`` (of the fitted model). Pure: the inputs are not changed.
    """
    _need(lines, BASKET_COLUMNS[:4], "baskets")
    day = pd.Timestamp(_day(cutoff, "cutoff"))
    if not isinstance(horizon_days, int | np.integer) or horizon_days < 1:
        raise CrossSellError(f"horizon_days must be a whole number, 1 or more, got {horizon_days!r}")
    if not isinstance(k, int | np.integer) or k < 1:
        raise CrossSellError(f"k must be a whole number, 1 or more, got {k!r}")
    end = day + pd.Timedelta(days=int(horizon_days))
    dates = pd.to_datetime(lines["date"])
    src = lines if learn is None else learn
    _need(src, ["order_id", "product_id", "date"], "learning baskets")
    train_src = src.loc[pd.to_datetime(src["date"]) < day]
    if train_src.empty:
        raise CrossSellError(f"no sales before the cutoff {day.date()}: nothing to learn from")
    model = clone(model if model is not None else CrossSell())
    model.fit(train_src)
    before = purchases(lines.loc[dates < day], anonymous)
    after = purchases(lines.loc[(dates >= day) & (dates < end)], anonymous)
    # new products of the customers who bought before the cutoff
    truth = after.merge(before, on=["customer_id", "product_id"], how="left", indicator=True)
    truth = truth.loc[(truth["_merge"] == "left_only") & truth["customer_id"].isin(before["customer_id"]), ["customer_id", "product_id"]]
    customers = pd.Index(np.sort(truth["customer_id"].unique()), name="customer_id")
    hist = before[before["customer_id"].isin(customers)]
    rows = []
    per = {}
    for method in METHODS:
        recs = model.recommend(hist, k) if method == "crosssell" else model.popular(hist, k)
        s = _scores(recs, truth, customers)
        per[method] = s
        n = len(s)
        rows.append(
            {
                "cutoff": day.date(),
                "horizon_days": int(horizon_days),
                "k": int(k),
                "method": method,
                "customers": n,
                "hit_rate": float((s["hits"] > 0).mean()) if n else np.nan,
                "precision_at_k": float((s["hits"] / k).mean()) if n else np.nan,
                "recall_at_k": float((s["hits"] / s["relevant"]).mean()) if n else np.nan,
                "rules_share": float(s["from_rules"].sum() / s["listed"].sum()) if s["listed"].sum() else np.nan,
                "rule_hits_share": float(s["rule_hits"].sum() / s["hits"].sum()) if s["hits"].sum() else np.nan,
                "train_baskets": model.n_baskets_,
                "rules": len(model.rules_),
            }
        )
    out = pd.DataFrame(rows)
    gain, low, high = _paired_gain(per["crosssell"]["hits"] > 0, per["popularity"]["hits"] > 0, bootstrap, random_state)
    out["hit_rate_gain"] = [gain, np.nan]
    out["gain_low"] = [low, np.nan]
    out["gain_high"] = [high, np.nan]
    return out[BACKTEST_COLUMNS]


def _paired_gain(a: pd.Series, b: pd.Series, resamples: int, random_state: int) -> tuple[float, float, float]:
    """Mean of a - b and its 90% paired bootstrap interval (NaN when it cannot be computed)."""
    x = a.to_numpy(float) - b.to_numpy(float)
    if not len(x):
        return np.nan, np.nan, np.nan
    if resamples < 1:
        return float(x.mean()), np.nan, np.nan
    rng = np.random.default_rng(random_state)
    means = np.empty(resamples)
    block = max(1, 4_000_000 // len(x))
    for lo in range(0, resamples, block):
        hi = min(lo + block, resamples)
        means[lo:hi] = x[rng.integers(0, len(x), size=(hi - lo, len(x)))].mean(axis=1)
    low, high = np.quantile(means, [0.05, 0.95])
    return float(x.mean()), float(low), float(high)


# --------------------------------------------------------------------------- warehouse conveniences


def recommendations(
    con: duckdb.DuckDBPyConnection,
    as_of: str | date | pd.Timestamp,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
    k: int | None = None,
    model: CrossSell | None = None,
) -> pd.DataFrame:
    """Recommendations for the scope's identified customers as of a day: the model (default
    from ``[crosssell]``) learns from the company's baskets up to ``as_of``; each customer's
    history is the sales credited to the scope (see the module docs)."""
    settings = settings or Settings()
    sc = parse_scope(scope)
    check_scope(con, sc)
    if model is not None:
        company = baskets(con, as_of, None, settings)
        fitted = clone(model).fit(company)
    else:
        fitted, company = company_model(con, as_of, settings), None
    if sc.level == "company":
        lines = company if company is not None else baskets(con, as_of, None, settings)
    else:
        lines = baskets(con, as_of, sc, settings)
    return fitted.recommend(purchases(lines, settings.anonymous_customer_ids), k)


#: models fitted on a warehouse's company baskets, by (warehouse, its ledger, day, settings):
#: a warm report kernel rendering one page per rep fits the company's model once
_FITTED: dict[tuple, CrossSell] = {}
_FITTED_KEEP = 4


def company_model(con: duckdb.DuckDBPyConnection, as_of, settings: Settings) -> CrossSell:
    """The ``[crosssell]`` model fitted on the company's baskets up to ``as_of``; fitted once
    per warehouse file, state of its ledger (entries, last entry, last posting), day and
    settings in this process, and reused by later calls (the pages of a fan-out)."""
    path, = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    state = con.execute("SELECT count(*), max(entry_id), max(posted_at) FROM ledger").fetchone()
    key = (str(path), tuple(map(str, state)), str(_day(as_of, "as_of")), settings.crosssell, settings.anonymous_customer_ids)
    model = _FITTED.get(key)
    if model is None:
        model = CrossSell.from_settings(settings).fit(baskets(con, as_of, None, settings))
        while len(_FITTED) >= _FITTED_KEEP:
            _FITTED.pop(next(iter(_FITTED)))
        _FITTED[key] = model
    return model


def backtest_warehouse(
    con: duckdb.DuckDBPyConnection,
    cutoff: str | date | pd.Timestamp | None = None,
    horizon_days: int | None = None,
    k: int | None = None,
    scope: str | Scope | None = None,
    settings: Settings | None = None,
    model: CrossSell | None = None,
) -> pd.DataFrame:
    """:func:`backtest` on the warehouse's baskets (the model learns from the company's, the
    scope's customers are scored). ``cutoff`` defaults to the last ``horizon_days`` of data
    (``[crosssell] horizon_days``); a horizon that runs past the last sale is an error (its
    last days would count as "bought nothing")."""
    settings = settings or Settings()
    cs = settings.crosssell
    horizon_days = cs.horizon_days if horizon_days is None else horizon_days
    k = cs.top_k if k is None else k
    sc = parse_scope(scope)
    check_scope(con, sc)
    last = data_end(con)
    if last is None:
        raise CrossSellError("the ledger holds no sales: nothing to backtest")
    day = last - timedelta(days=int(horizon_days) - 1) if cutoff is None else _day(cutoff, "cutoff")
    stop = day + timedelta(days=int(horizon_days) - 1)
    if stop > last:
        raise CrossSellError(
            f"a {horizon_days}-day horizon from the cutoff {day} runs to {stop}, past the last sale ({last}): "
            f"choose a cutoff on or before {last - timedelta(days=int(horizon_days) - 1)} or a shorter horizon"
        )
    company = baskets(con, stop, None, settings)
    lines = company if sc.level == "company" else baskets(con, stop, sc, settings)
    model = model if model is not None else CrossSell.from_settings(settings)
    return backtest(
        lines, day, int(horizon_days), int(k), model, learn=company, anonymous=settings.anonymous_customer_ids,
        bootstrap=cs.bootstrap_resamples, random_state=cs.random_state,
    )


# --------------------------------------------------------------------------- training


#: the registry kind of a cross-sell run
KIND = "crosssell"


def train(settings: Settings, log=None) -> dict:
    """Backtest the cross-sell model of ``[crosssell]`` on the last ``horizon_days`` of data
    against the popularity baseline, fit it on all the company's baskets and save a version in
    the model registry: its settings, the backtest rows (the figures the reports quote) and the
    rules learned (``rules.csv``). Returns the manifest."""
    log = log or (lambda _msg: None)
    with warehouse.open(settings, read_only=True) as con:
        last = data_end(con)
        if last is None:
            raise CrossSellError("the ledger holds no sales: nothing to learn from")
        log("backtesting cross-sell against popularity...")
        scores = backtest_warehouse(con, settings=settings)
        company = baskets(con, last, None, settings)
    model = CrossSell.from_settings(settings).fit(company)
    cs = settings.crosssell
    rows = scores.replace({np.nan: None}).to_dict(orient="records")
    manifest = {
        "data_end": last.isoformat(),
        "params": model.get_params(),
        "backtest": {"cutoff": str(scores["cutoff"].iloc[0]), "horizon_days": cs.horizon_days, "k": cs.top_k, "rows": rows},
        "baskets": int(model.n_baskets_),
        "rules": int(len(model.rules_)),
    }
    version = registry.save(settings, KIND, manifest, files={"rules.csv": model.rules_.to_csv(index=False)})
    return {**manifest, "version": version}


def latest_run(settings: Settings) -> dict | None:
    """The manifest of the latest saved cross-sell run (None when there is none)."""
    try:
        return registry.manifest(settings, KIND)
    except registry.RegistryError:
        return None
