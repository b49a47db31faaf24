"""Orders, order lines, cancellations and returns of the demo company.

Orders of each customer form an inhomogeneous Poisson process over the customer's active
window with intensity ``rate x global intensity x promotion boost x pre-churn decay x
owner's sales factor``. It is drawn by thinning: candidates from a dominating intensity
(rate x boost max x factor max x global intensity), sampled by inverting the cumulative
global intensity, then accepted with the ratio. The expected number of orders has a closed
form (prefix sums of the intensity), which calibrates the rates to the target line count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salesml.demo._calendar import Calendar
from salesml.demo._company import (
    OPEN,
    SEG_CAT,
    SEG_EXTRA_LINES,
    SEG_QTY,
    SEG_SALES_CHANNEL,
    Customers,
    Ownership,
    Products,
    Reps,
    Scale,
    choose_rows,
)

#: promotion boost of a fully discount-dependent customer's order rate (1 + k x d)
PROMO_BOOST = 3.0
#: pre-churn decay: over the last DECAY_DAYS before churn the rate falls linearly to DECAY_FLOOR
DECAY_DAYS = 105
DECAY_FLOOR = 0.15
#: preferred categories weigh this much more in a customer's baskets
PREF_WEIGHT = 4.0
CANCEL_SHARE = 0.0105
RETURN_SHARE = 0.031
FULL_RETURN = 0.7
SALES_CHANNEL_LOYALTY = 0.85


@dataclass
class Orders:
    # per order (sorted by day, numbered per year)
    o_day: np.ndarray
    o_cust: np.ndarray
    o_rep: np.ndarray
    o_channel: np.ndarray
    o_cancelled: np.ndarray
    o_year: np.ndarray
    o_seq: np.ndarray
    # per sale line (sorted by order, line)
    order: np.ndarray
    line: np.ndarray
    day: np.ndarray
    cust: np.ndarray
    prod: np.ndarray
    cat: np.ndarray
    qty: np.ndarray
    list_cents: np.ndarray
    unit_cents: np.ndarray
    disc_pct: np.ndarray
    cost_e4: np.ndarray
    rep: np.ndarray
    channel: np.ndarray
    cancelled: np.ndarray
    # per return (sorted by day), pointing at the sale line it reverses
    r_src: np.ndarray
    r_day: np.ndarray
    r_qty: np.ndarray
    r_year: np.ndarray
    r_seq: np.ndarray
    #: rates after calibration (orders per day at average intensity)
    rate: np.ndarray
    expected_lines: float

    @property
    def amount_cents(self) -> np.ndarray:
        return self.qty * self.unit_cents

    @property
    def r_amount_cents(self) -> np.ndarray:
        return -self.r_qty * self.unit_cents[self.r_src]


def _wsum(c: np.ndarray, lo: np.ndarray, hi: np.ndarray, row: np.ndarray | None = None) -> np.ndarray:
    """Sum over days lo..hi (inclusive) given prefix sums ``c`` (len n+1, or rows of them)."""
    n = c.shape[-1] - 1
    lo_c = np.clip(lo, 0, n)
    hi_c = np.clip(hi + 1, 0, n)
    s = c[hi_c] - c[lo_c] if row is None else c[row, hi_c] - c[row, lo_c]
    return np.where(hi >= lo, s, 0.0)


def _prefix(x: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)], axis=-1)


def _running_number(year: np.ndarray) -> np.ndarray:
    """1-based running number within each run of equal values (rows already sorted)."""
    idx = np.arange(len(year))
    if not len(year):
        return idx
    start = np.r_[0, np.flatnonzero(np.diff(year)) + 1]
    first = np.repeat(start, np.diff(np.r_[start, len(year)]))
    return idx - first + 1


def generate_orders(
    scale: Scale, cal: Calendar, products: Products, customers: Customers, reps: Reps, owners: Ownership,
    rng: np.random.Generator,
) -> Orders:
    nd = cal.n_days
    g = cal.intensity[:nd]
    t = np.arange(nd, dtype=float)
    cu = customers
    n = cu.n

    # promotion exposure of each customer's preferred categories (and the shopping festivals)
    combo = cu.pref[:, 0] * 16 + cu.pref[:, 1]
    combos, combo_idx = np.unique(combo, return_inverse=True)
    pe = np.maximum(
        cal.event_level[None, :nd],
        np.maximum(cal.promo[combos // 16, :nd], cal.promo[combos % 16, :nd]).astype(float),
    )
    G0, T0 = _prefix(g), _prefix(t * g)
    G1, T1 = _prefix(g[None, :] * pe), _prefix((t * g)[None, :] * pe)

    a = np.maximum(cu.acq, 0)
    e = np.minimum(cu.churn - 1, nd - 1)
    c = cu.churn.astype(float)
    d = cu.discount_dep
    k = PROMO_BOOST * d
    r0 = cu.churn - DECAY_DAYS
    flat_hi = np.minimum(e, r0 - 1)
    ramp_lo = np.maximum(a, r0)
    alpha = DECAY_FLOOR + (1 - DECAY_FLOOR) * np.where(cu.churn < OPEN, c, 0) / DECAY_DAYS
    beta = (1 - DECAY_FLOOR) / DECAY_DAYS
    exposure = (
        _wsum(G0, a, flat_hi) + k * _wsum(G1, a, flat_hi, combo_idx)
        + alpha * (_wsum(G0, ramp_lo, e) + k * _wsum(G1, ramp_lo, e, combo_idx))
        - beta * (_wsum(T0, ramp_lo, e) + k * _wsum(T1, ramp_lo, e, combo_idx))
    )
    exposure = np.maximum(exposure, 0.0)

    # calibrate the rates: expected sale lines = target
    per_order = 1.0 + SEG_EXTRA_LINES[cu.segment]
    welcome = (cu.acq >= 0) & ~cu.prospect & (cu.churn > cu.acq) & (cu.acq < nd)
    target = scale.lines * nd / 1096 / (1 + RETURN_SHARE)
    fixed = (per_order * welcome).sum()
    variable = (per_order * cu.rate * exposure).sum()
    rate = cu.rate * max(target - fixed, 0.0) / variable if variable > 0 else cu.rate * 0
    expected_lines = float(fixed + (per_order * rate * exposure).sum())

    # candidates from the dominating intensity, then thinning
    fmax = reps.factor.max()
    boost_max = 1 + k
    span = _wsum(G0, a, e)
    n_cand = rng.poisson(rate * boost_max * fmax * span)
    cc = np.repeat(np.arange(n), n_cand)
    u = G0[a[cc]] + rng.random(len(cc)) * (G0[e[cc] + 1] - G0[a[cc]])
    cd = np.clip(np.searchsorted(G0, u, side="right") - 1, a[cc], e[cc])
    pe_c = pe[combo_idx[cc], cd]
    ramp = np.where(cd >= r0[cc], DECAY_FLOOR + (1 - DECAY_FLOOR) * (cu.churn[cc] - cd) / DECAY_DAYS, 1.0)
    own = owners.at(cc, cd)
    accept = (1 + k[cc] * pe_c) / boost_max[cc] * ramp * reps.factor[own] / fmax
    keep = rng.random(len(cc)) < accept
    w_c = np.flatnonzero(welcome)
    o_cust = np.r_[cc[keep], w_c]
    o_day = np.r_[cd[keep], cu.acq[w_c]].astype(np.int64)
    o_rep = np.r_[own[keep], owners.at(w_c, cu.acq[w_c])]
    srt = np.lexsort((rng.random(len(o_day)), o_cust, o_day))
    o_cust, o_day, o_rep = o_cust[srt], o_day[srt], o_rep[srt]
    n_o = len(o_day)
    o_year = cal.year[o_day]
    o_seq = _running_number(o_year)
    seg_o = cu.segment[o_cust]
    primary = rng.random(n_o) < SALES_CHANNEL_LOYALTY
    o_channel = np.where(primary, cu.sales_channel[o_cust], choose_rows(rng, SEG_SALES_CHANNEL[seg_o]))
    # ~1% of orders are cancelled, never a customer's first order
    first = np.ones(n_o, dtype=bool)
    by_cust = np.lexsort((np.arange(n_o), o_cust))
    first[by_cust[1:]] = o_cust[by_cust[1:]] != o_cust[by_cust[:-1]]
    o_cancelled = ~first & (rng.random(n_o) < CANCEL_SHARE)

    # lines
    n_lines = 1 + rng.poisson(SEG_EXTRA_LINES[seg_o])
    order = np.repeat(np.arange(n_o), n_lines)
    lc = o_cust[order]
    lday = o_day[order]
    aff = np.ones((n, SEG_CAT.shape[1]), dtype=np.float32)
    aff[np.arange(n), cu.pref[:, 0]] = PREF_WEIGHT
    aff[np.arange(n), cu.pref[:, 1]] = PREF_WEIGHT
    w = SEG_CAT.astype(np.float32)[cu.segment[lc]] * aff[lc]
    w *= 1 + cal.promo[:, lday].T * (0.5 + 5 * d[lc]).astype(np.float32)[:, None]
    cat = choose_rows(rng, w)
    del w
    prod = _pick_products(rng, products, cat, lday)
    for _ in range(4):  # re-draw a product that is already on the same order
        dup = _duplicates(order, prod)
        if not dup.any():
            break
        prod[dup] = _pick_products(rng, products, cat[dup], lday[dup])
    keep_l = ~_duplicates(order, prod)
    order, lc, lday, cat, prod = order[keep_l], lc[keep_l], lday[keep_l], cat[keep_l], prod[keep_l]
    srt = np.argsort(order, kind="stable")
    order, lc, lday, cat, prod = order[srt], lc[srt], lday[srt], cat[srt], prod[srt]
    line = _running_number(order)  # running number within each order

    # prices, discounts, quantities, costs
    period = products.period(prod, lday)
    list_cents = products.price_cents[prod, period]
    cost_e4 = products.cost_e4[prod, period]
    channel = o_channel[order]
    in_promo = cal.promo[cat, lday]
    festival = cal.event_level[lday] > 0
    disc = (
        cu.negotiated[lc]
        + np.where(in_promo, cal.promo_discount[cat, lday], 0.0)
        + cal.event_discount[lday] * np.where(channel == 1, 1.0, 0.5)
        + 0.08 * d[lc] * np.where(in_promo | festival, 1.0, 0.25)
    )
    disc_pct = np.clip(np.round(disc * 100), 0, 50).astype(np.int64)
    unit_cents = (list_cents * (100 - disc_pct) + 50) // 100
    price = list_cents / 100.0
    tier = np.clip((150.0 / price) ** 0.3, 0.35, 3.0)
    mean_q = SEG_QTY[cu.segment[lc]] * cu.spend[lc] * tier * products.lumpy[prod]
    qty = 1 + rng.poisson(rng.gamma(2.0, np.maximum(mean_q - 1, 0.02) / 2))
    cancelled = o_cancelled[order]

    # returns: ~3% of completed sale lines; complainers and defect-prone products return more
    ok = ~cancelled
    weight = (1 + 4 * cu.complaint[lc]) * np.where(products.defect_prone[prod], 4.0, 1.0) * ok
    p = np.minimum(RETURN_SHARE * ok.sum() * weight / max(weight.sum(), 1e-9), 0.6)
    src = np.flatnonzero(rng.random(len(p)) < p)
    lag = 1 + np.floor(rng.gamma(2.0, 5.8, len(src))).astype(np.int64)  # median ~10 days
    r_day = lday[src] + lag
    inside = r_day <= nd - 1
    src, r_day = src[inside], r_day[inside]
    sq = qty[src]
    partial = (sq > 1) & (rng.random(len(src)) >= FULL_RETURN)
    r_qty = np.where(partial, 1 + np.floor(rng.random(len(src)) * (sq - 1)).astype(np.int64), sq)
    rs = np.lexsort((src, r_day))
    src, r_day, r_qty = src[rs], r_day[rs], r_qty[rs]
    r_year = cal.year[r_day]

    return Orders(
        o_day=o_day, o_cust=o_cust, o_rep=o_rep, o_channel=o_channel, o_cancelled=o_cancelled,
        o_year=o_year, o_seq=o_seq,
        order=order, line=line, day=lday, cust=lc, prod=prod, cat=cat, qty=qty.astype(np.int64),
        list_cents=list_cents, unit_cents=unit_cents, disc_pct=disc_pct, cost_e4=cost_e4,
        rep=o_rep[order], channel=channel, cancelled=cancelled,
        r_src=src, r_day=r_day, r_qty=r_qty.astype(np.int64), r_year=r_year, r_seq=_running_number(r_year),
        rate=rate, expected_lines=expected_lines * (1 + RETURN_SHARE),
    )


def _duplicates(order: np.ndarray, prod: np.ndarray) -> np.ndarray:
    """Lines whose product already appears earlier on the same order."""
    key = order.astype(np.int64) * (1 << 24) + prod
    srt = np.argsort(key, kind="stable")
    ks = key[srt]
    dup_sorted = np.r_[False, ks[1:] == ks[:-1]]
    out = np.zeros(len(key), dtype=bool)
    out[srt] = dup_sorted
    return out


def _pick_products(rng: np.random.Generator, products: Products, cat: np.ndarray, day: np.ndarray) -> np.ndarray:
    """A product of each line's category, by popularity, among those launched by the line's day."""
    out = np.empty(len(cat), dtype=np.int64)
    u = rng.random(len(cat))
    for c in np.unique(cat):  # loop over the categories
        members = np.flatnonzero(products.category == c)
        members = members[np.argsort(products.launch[members], kind="stable")]
        launch = products.launch[members]
        cum = np.cumsum(products.popularity[members])
        sel = np.flatnonzero(cat == c)
        avail = np.searchsorted(launch, day[sel], side="right")
        if (avail < 1).any():
            raise AssertionError("a category has no product launched yet")
        idx = np.searchsorted(cum, u[sel] * cum[avail - 1], side="right")
        out[sel] = members[np.minimum(idx, avail - 1)]
    return out
