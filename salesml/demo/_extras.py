"""Tables derived from the orders: targets, opportunities, inventory and service tickets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salesml.demo._calendar import Calendar
from salesml.demo._company import Customers, Ownership, Products, Reps, Scale
from salesml.demo._orders import Orders

WAREHOUSES = ["上海仓 Shanghai DC", "广州仓 Guangzhou DC", "北京仓 Beijing DC"]
#: region index -> warehouse index (华东, 华南, 华北, 华中, 西南, 东北)
REGION_WAREHOUSE = np.array([0, 1, 2, 0, 1, 2])
STAGES_OPEN = ["Prospecting", "Qualification", "Proposal", "Negotiation"]
TICKET_CATEGORIES = ["Delivery", "Quality", "Billing", "Installation", "Other"]
TICKET_SHARE = np.array([0.30, 0.22, 0.15, 0.13, 0.20])
#: categories where installation tickets make sense (Electronics, Home Appliances, Furniture)
INSTALLED = np.array([True, True, False, True, False, False, False, False])
TICKET_BASE = 0.08
TICKET_COMPLAINT = 6.0
RETURN_TICKET = 0.35


# --------------------------------------------------------------------------- targets


@dataclass
class Targets:
    rep: np.ndarray
    team: np.ndarray
    region: np.ndarray
    month: np.ndarray  # datetime64[D], first day of the month
    revenue_cents: np.ndarray
    margin_cents: np.ndarray


def _month_bounds(cal: Calendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    months = cal.months
    lo = (months - np.datetime64(cal.start, "D")).astype(np.int64)
    hi = ((months.astype("datetime64[M]") + 1).astype("datetime64[D]") - np.datetime64(cal.start, "D")).astype(np.int64) - 1
    return months, lo, hi


def _moving_sum(x: np.ndarray, k: int) -> np.ndarray:
    """Centred moving sum over the last axis (window k, odd), truncated at the edges."""
    h = k // 2
    c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), np.cumsum(x, axis=-1)], axis=-1)
    n = x.shape[-1]
    lo = np.clip(np.arange(n) - h, 0, n)
    hi = np.clip(np.arange(n) + h + 1, 0, n)
    return c[..., hi] - c[..., lo]


def build_targets(cal: Calendar, reps: Reps, orders: Orders, rng: np.random.Generator) -> Targets:
    """Monthly revenue and margin targets per sales rep, through December of the end year.

    A rep's target is the company's expected revenue for the month (fitted trend x
    seasonality) times the rep's territory potential: the rep's smoothed share of company
    revenue divided by the rep's (latent) sales factor, i.e. what an average rep would sell
    with that portfolio (new reps get a ramp-up minimum). Noise per rep, year and month on
    top. So attainment varies between reps and tracks their skill.
    """
    months, lo, hi = _month_bounds(cal)
    n_m = len(months)
    nd = cal.n_days
    last_m = int(cal.month_idx[nd - 1])
    x = np.arange(n_m)
    # company and rep revenue per month (net of returns)
    ok = ~orders.cancelled
    net = np.r_[orders.amount_cents[ok], orders.r_amount_cents].astype(float) / 100
    cost = np.r_[(orders.qty * orders.cost_e4)[ok], -orders.r_qty * orders.cost_e4[orders.r_src]] / 1e4
    mi = cal.month_idx[np.r_[orders.day[ok], orders.r_day]]
    line_rep = np.r_[orders.rep[ok], orders.rep[orders.r_src]]
    rev_m = np.bincount(mi, weights=net, minlength=n_m)
    margin_ratio = 1 - cost.sum() / max(net.sum(), 1e-9)
    g = cal.intensity
    season_win = np.array([g[max(a, 0) : min(b, nd - 1) + 1].sum() if a <= nd - 1 else 0.0 for a, b in zip(lo, hi, strict=True)])
    season_all = np.array([g[max(a, 0) : b + 1].sum() for a, b in zip(lo, hi, strict=True)])
    fit = (season_win > 0) & (rev_m > 0)
    b1, b0 = np.polyfit(x[fit], np.log(rev_m[fit] / season_win[fit]), 1, w=np.sqrt(season_win[fit]))
    # what the calendar intensity misses (promotion-driven buying): a calendar-month index
    cal_month = months.astype("datetime64[M]").astype(int) % 12
    resid = np.zeros(n_m)
    resid[fit] = np.log(rev_m[fit] / season_win[fit]) - (b0 + b1 * x[fit])
    idx = np.bincount(cal_month[fit], weights=resid[fit], minlength=12) / np.maximum(
        np.bincount(cal_month[fit], minlength=12), 1
    )
    expected_company = np.exp(b0 + b1 * x + idx[cal_month] - idx.mean()) * season_all

    # active days of every sales rep in every month, and their team/region in it
    sellers = reps.sellers()
    rep_ids = np.unique(sellers["rep"].to_numpy())
    n_r = len(rep_ids)
    pos = np.searchsorted(rep_ids, sellers["rep"].to_numpy())
    active = np.zeros((n_r, n_m))
    active_win = np.zeros((n_r, n_m))
    team = np.full((n_r, n_m), -1)
    region = np.full((n_r, n_m), -1)
    last_cal = cal.n_total - 1
    for i, s in zip(pos, sellers.itertuples(index=False), strict=True):  # stints, in date order
        a = np.maximum(lo, max(s.start, 0))
        b = np.minimum(hi, min(s.end, last_cal))
        active[i] += np.maximum(b - a + 1, 0)
        active_win[i] += np.maximum(np.minimum(b, nd - 1) - a + 1, 0)
        overlap = b >= a
        team[i, overlap] = s.team  # the latest stint overlapping the month ...
        region[i, overlap] = s.region
    for i, s in zip(pos, sellers.itertuples(index=False), strict=True):
        cover = (s.start <= hi) & (hi <= s.end)  # ... unless one covers the month's last day
        team[i, cover] = s.team
        region[i, cover] = s.region
    frac = active / (hi - lo + 1)
    win_days = np.maximum(np.minimum(hi, nd - 1) - np.maximum(lo, 0) + 1, 0)
    frac_win = active_win / np.maximum(win_days, 1)

    # territory potential: smoothed share of company revenue, per unit of sales factor
    rep_rev = np.bincount(
        np.searchsorted(rep_ids, line_rep) * n_m + mi, weights=net, minlength=n_r * n_m
    ).reshape(n_r, n_m)
    exposure = rev_m[None, :] * frac_win
    share = _moving_sum(rep_rev, 5) / np.maximum(_moving_sum(exposure, 5), 1e-9)
    trail = slice(max(last_m - 5, 0), last_m + 1)
    share_trail = rep_rev[:, trail].sum(axis=1) / np.maximum(exposure[:, trail].sum(axis=1), 1e-9)
    share[:, x > last_m] = share_trail[:, None]
    potential = share / reps.factor[rep_ids][:, None]
    # a new rep's ramp-up quota: at least a tenth of the median rep's potential that month
    on = frac > 0
    for m in range(n_m):  # loop over months
        if on[:, m].any():
            floor = 0.1 * np.median(potential[on[:, m], m])
            potential[:, m] = np.maximum(potential[:, m], floor)

    years_ix = cal.year[np.clip(lo, 0, cal.n_total - 1)] - cal.start.year
    noise = (
        rng.lognormal(0.0, 0.10, (n_r, 1))
        * rng.lognormal(0.0, 0.05, (n_r, years_ix.max() + 1))[:, years_ix]
        * rng.lognormal(0.0, 0.06, (n_r, n_m))
    )
    target = np.maximum(np.round(expected_company[None, :] * potential * frac * 1.05 * noise, -2), 100)
    margin = np.round(target * margin_ratio, -2)
    ri, mj = np.nonzero(on)
    return Targets(
        rep=rep_ids[ri],
        team=team[ri, mj],
        region=region[ri, mj],
        month=months[mj],
        revenue_cents=np.round(target[ri, mj] * 100).astype(np.int64),
        margin_cents=np.round(margin[ri, mj] * 100).astype(np.int64),
    )


# --------------------------------------------------------------------------- opportunities


@dataclass
class Opportunities:
    cust: np.ndarray
    rep: np.ndarray
    created: np.ndarray
    stage: np.ndarray  # object
    expected: np.ndarray
    closed: np.ndarray  # -1 = open
    amount_cents: np.ndarray
    outcome: np.ndarray  # object
    win_prob: np.ndarray


def build_opportunities(
    scale: Scale, cal: Calendar, customers: Customers, reps: Reps, owners: Ownership, rng: np.random.Generator
) -> Opportunities:
    nd = cal.n_days
    cu = customers
    a = np.maximum(cu.acq, 0)
    e = np.minimum(cu.churn - 1, nd - 1)
    seg_w = np.array([10.0, 4.0, 0.4, 0.0])
    w = seg_w[cu.segment] * np.maximum(e - a + 1, 0) * ~cu.prospect
    n = max(1, round(scale.opportunities * nd / 1096))
    cust = rng.choice(cu.n, n, p=w / w.sum())
    created = a[cust] + np.floor(rng.random(n) * (e[cust] - a[cust] + 1)).astype(np.int64)
    rep = owners.at(cust, created)
    seg = cu.segment[cust]
    median = np.array([300_000.0, 80_000.0, 20_000.0, 5_000.0])[seg]
    amount = np.maximum(np.round(rng.lognormal(np.log(median), 0.8), -2), 1000)
    planned = np.minimum(20 + np.round(rng.gamma(2.0, 18.0, n)), 120).astype(np.int64)
    actual = np.clip(np.round(planned * rng.lognormal(0.0, 0.3, n)), 20, 120).astype(np.int64)
    logit = -0.3 + 0.9 * np.nan_to_num(reps.skill[rep]) + np.array([-0.3, 0.0, 0.4, 0.4])[seg]
    p_win = 1 / (1 + np.exp(-logit))
    won = rng.random(n) < p_win
    close_day = created + actual
    is_closed = close_day <= nd - 1
    elapsed = (nd - 1 - created) / actual
    open_stage = np.asarray(STAGES_OPEN, dtype=object)[np.clip((elapsed * 4).astype(int), 0, 3)]
    stage = np.where(is_closed, np.where(won, "Closed Won", "Closed Lost"), open_stage).astype(object)
    outcome = np.where(is_closed, np.where(won, "Won", "Lost"), "Open").astype(object)
    expected = created + planned
    expected = np.where(~is_closed & (expected <= nd - 1), nd - 1 + rng.integers(7, 46, n), expected)
    srt = np.lexsort((cust, created))
    return Opportunities(
        cust=cust[srt], rep=rep[srt], created=created[srt], stage=stage[srt], expected=expected[srt],
        closed=np.where(is_closed, close_day, -1)[srt], amount_cents=(amount * 100).astype(np.int64)[srt],
        outcome=outcome[srt], win_prob=p_win[srt],
    )


# --------------------------------------------------------------------------- inventory


@dataclass
class Inventory:
    prod: np.ndarray
    warehouse: np.ndarray
    day: np.ndarray
    on_hand: np.ndarray
    on_order: np.ndarray
    lead_time: np.ndarray
    # policy per product x warehouse (truth)
    p_prod: np.ndarray
    p_warehouse: np.ndarray
    p_reorder: np.ndarray
    p_qty: np.ndarray
    p_lead: np.ndarray
    p_mean_demand: np.ndarray
    p_lost_units: np.ndarray


def build_inventory(
    cal: Calendar, products: Products, customers: Customers, orders: Orders, rng: np.random.Generator
) -> Inventory:
    nd = cal.n_days
    snaps = nd - 1 - 7 * np.arange(25, -1, -1)
    snaps = snaps[snaps >= 0]
    s0 = max(0, int(snaps[0]) - 90)
    n_d = nd - s0
    n_w = len(WAREHOUSES)
    n_p = products.n
    sel = ~orders.cancelled & (orders.day >= s0)
    wh = REGION_WAREHOUSE[customers.region[orders.cust[sel]]]
    pw = orders.prod[sel] * n_w + wh
    demand = np.bincount(pw * n_d + (orders.day[sel] - s0), weights=orders.qty[sel], minlength=n_p * n_w * n_d)
    demand = demand.reshape(n_p * n_w, n_d)
    sold_ever = np.bincount(orders.prod[~orders.cancelled], minlength=n_p) > 0
    launch = np.repeat(products.launch, n_w)
    active = np.repeat(sold_ever & (products.launch <= snaps[-1]), n_w)
    idx = np.flatnonzero(active)
    demand = demand[idx]
    launch = launch[idx]
    first = np.clip(launch - s0, 0, n_d - 1)
    live = np.arange(n_d)[None, :] >= first[:, None]
    n_live = live.sum(axis=1)
    mu = demand.sum(axis=1) / n_live
    sd = np.sqrt(np.maximum((demand**2).sum(axis=1) / n_live - mu**2, 0))
    m = len(idx)
    lead = rng.integers(7, 46, m)
    z = rng.uniform(0.0, 2.0, m)
    reorder = np.ceil(mu * lead + z * sd * np.sqrt(lead)).astype(np.int64)
    qty = np.maximum(1, np.ceil(mu * rng.uniform(14, 60, m))).astype(np.int64)
    on_hand = reorder + (qty + 1) // 2
    on_order = np.zeros(m, dtype=np.int64)
    arrivals = np.zeros((m, n_d + 46), dtype=np.int64)
    lost = np.zeros(m, dtype=np.int64)
    rows = np.arange(m)
    snap_pos = {int(s) - s0: j for j, s in enumerate(snaps)}
    hist_oh = np.zeros((len(snaps), m), dtype=np.int64)
    hist_oo = np.zeros((len(snaps), m), dtype=np.int64)
    dem = demand.astype(np.int64)
    for i in range(n_d):  # loop over days; vectorised over product x warehouse
        on_hand += arrivals[:, i]
        on_order -= arrivals[:, i]
        sold = np.minimum(on_hand, dem[:, i])
        lost += dem[:, i] - sold
        on_hand -= sold
        position = on_hand + on_order
        need = (position <= reorder) & live[:, i]
        if need.any():
            k = np.ceil((reorder[need] - position[need] + 1) / qty[need]).astype(np.int64)
            q = k * qty[need]
            arrivals[rows[need], i + lead[need]] += q
            on_order[need] += q
        j = snap_pos.get(i)
        if j is not None:
            hist_oh[j] = on_hand
            hist_oo[j] = on_order
    prod_of = idx // n_w
    wh_of = idx % n_w
    sj, pj = np.nonzero(snaps[:, None] >= launch[None, :])
    srt = np.lexsort((wh_of[pj], prod_of[pj], sj))
    sj, pj = sj[srt], pj[srt]
    return Inventory(
        prod=prod_of[pj], warehouse=wh_of[pj], day=snaps[sj], on_hand=hist_oh[sj, pj], on_order=hist_oo[sj, pj],
        lead_time=lead[pj],
        p_prod=prod_of, p_warehouse=wh_of, p_reorder=reorder, p_qty=qty, p_lead=lead, p_mean_demand=mu,
        p_lost_units=lost,
    )


# --------------------------------------------------------------------------- tickets


@dataclass
class Tickets:
    cust: np.ndarray
    prod: np.ndarray
    opened: np.ndarray
    closed: np.ndarray  # -1 = open
    category: np.ndarray  # int
    csat: np.ndarray  # -1 = no answer
    seq: np.ndarray


def build_tickets(
    cal: Calendar, customers: Customers, products: Products, orders: Orders, rng: np.random.Generator
) -> Tickets:
    nd = cal.n_days
    cu = customers
    o = orders
    # tickets about an order. A customer files ~TICKET_BASE + TICKET_COMPLAINT x complaint^2
    # tickets a year (more for big buyers, x2.5 in the months before churning), spread over
    # the customer's orders
    oc = o.o_cust
    per_year = np.maximum(o.rate * 365.25, 0.5)[oc]
    tau = (TICKET_BASE + TICKET_COMPLAINT * cu.complaint[oc] ** 2) * per_year**0.25
    pre = (cu.churn[oc] - o.o_day >= 0) & (cu.churn[oc] - o.o_day <= 120)
    p = np.minimum(tau / per_year * np.where(pre, 2.5, 1.0), 0.6) * ~o.o_cancelled
    chosen = np.flatnonzero(rng.random(len(p)) < p)
    first_line = np.searchsorted(o.order, chosen)
    n_lines = np.searchsorted(o.order, chosen, side="right") - first_line
    line = first_line + np.floor(rng.random(len(chosen)) * n_lines).astype(np.int64)
    opened_a = o.o_day[chosen] + 1 + np.floor(rng.gamma(1.5, 3.0, len(chosen))).astype(np.int64)
    cat_a = rng.choice(len(TICKET_CATEGORIES), len(chosen), p=TICKET_SHARE)
    cat_a = np.where((cat_a == 3) & ~INSTALLED[o.cat[line]], 4, cat_a)
    # returns often come with a Quality ticket
    rsel = np.flatnonzero(rng.random(len(o.r_src)) < RETURN_TICKET)
    src = o.r_src[rsel]
    opened_b = np.maximum(o.r_day[rsel] - rng.integers(0, 4, len(rsel)), o.day[src] + 1)
    cust = np.r_[o.cust[line], o.cust[src]]
    prod = np.r_[o.prod[line], o.prod[src]]
    opened = np.r_[opened_a, opened_b]
    category = np.r_[cat_a, np.full(len(rsel), 1)]
    keep = opened <= nd - 1
    cust, prod, opened, category = cust[keep], prod[keep], opened[keep], category[keep]
    n = len(cust)
    quality = category == 1
    closed = opened + 1 + np.floor(rng.gamma(1.5, 2.5, n)).astype(np.int64) + np.where(quality, 3, 0)
    closed = np.where(closed <= nd - 1, closed, -1)
    pre_t = (cu.churn[cust] - opened >= 0) & (cu.churn[cust] - opened <= 120)
    score = 4.5 - 3.2 * cu.complaint[cust] - 0.8 * pre_t - 0.5 * quality + rng.normal(0, 0.8, n)
    csat = np.clip(np.round(score), 1, 5).astype(np.int64)
    csat = np.where((closed < 0) | (rng.random(n) < 0.25), -1, csat)
    srt = np.lexsort((cust, opened))
    return Tickets(
        cust=cust[srt], prod=prod[srt], opened=opened[srt], closed=closed[srt], category=category[srt],
        csat=csat[srt], seq=np.arange(1, n + 1),
    )

