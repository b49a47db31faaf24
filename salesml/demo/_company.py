"""The demo company's dimensions: scales, sales hierarchy, catalogue, customers, marketing.

All days are integer offsets from the window's first day (see ``_calendar``); ``OPEN``
stands for "no end" (a current stint, a customer who never churns).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesml.demo import _names
from salesml.demo._calendar import Calendar
from salesml.demo.source import REGIONS

OPEN = 10**7

#: raw region names, in a fixed order (index = region number)
REGION_NAMES: list[str] = list(REGIONS.values())
REGION_WEIGHTS = np.array([0.30, 0.22, 0.18, 0.12, 0.11, 0.07])
N_TEAMS_PER_REGION = 3

SEGMENTS = ["Key Account", "Mid-Market", "Small Business", "Consumer"]
#: per segment: relative order frequency, lines per order (1 + Poisson(m)), mean quantity,
#: base discount, relative churn hazard
SEG_RATE = np.array([4.0, 2.0, 1.0, 0.55])
SEG_EXTRA_LINES = np.array([3.5, 1.8, 0.9, 0.35])
SEG_QTY = np.array([14.0, 6.0, 3.0, 1.3])
SEG_DISCOUNT = np.array([0.10, 0.06, 0.03, 0.0])
#: segment x category purchase weights (categories in _names.CATEGORIES order)
SEG_CAT = np.array(
    [
        [3.0, 1.5, 3.0, 2.0, 0.7, 1.0, 0.8, 0.5],
        [2.5, 1.5, 3.0, 1.8, 1.0, 1.2, 1.0, 0.6],
        [2.0, 1.5, 2.5, 1.2, 1.2, 1.5, 1.0, 0.8],
        [2.0, 2.0, 0.6, 0.6, 2.2, 2.0, 2.2, 1.8],
    ]
)

CHANNELS = ["Online Ads", "Social Media", "Trade Show", "Partner", "Referral", "Direct Sales"]
PAID = 4  # the first four channels are bought with marketing spend
#: cost per acquisition of the paid channels (CNY)
CAC = np.array([900.0, 650.0, 3200.0, 1800.0])
#: share of new customers by channel (paid ones via spend), and of the initial base
CHANNEL_SHARE = np.array([0.33, 0.24, 0.13, 0.11, 0.12, 0.07])
BASE_CHANNEL_SHARE = np.array([0.20, 0.10, 0.18, 0.15, 0.17, 0.20])
#: channel x segment probabilities
CHANNEL_SEGMENT = np.array(
    [
        [0.01, 0.09, 0.35, 0.55],
        [0.00, 0.05, 0.25, 0.70],
        [0.15, 0.40, 0.40, 0.05],
        [0.08, 0.32, 0.45, 0.15],
        [0.06, 0.24, 0.40, 0.30],
        [0.25, 0.45, 0.25, 0.05],
    ]
)
#: relative churn hazard by acquisition channel (referrals are loyal, social media is not)
CHANNEL_HAZARD = np.array([1.10, 1.30, 0.90, 0.90, 0.70, 0.80])
#: seasonal shape of marketing spend per paid channel, Jan .. Dec
CHANNEL_SEASON = np.array(
    [
        [0.9, 0.6, 1.0, 1.0, 1.3, 1.4, 0.9, 0.9, 1.0, 1.2, 1.5, 1.0],
        [0.9, 0.6, 1.0, 1.0, 1.3, 1.5, 1.0, 0.9, 1.0, 1.2, 1.5, 0.9],
        [0.5, 0.3, 1.6, 1.3, 0.9, 0.8, 0.6, 0.7, 1.5, 1.4, 1.0, 0.6],
        [1.0, 0.7, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1],
    ]
)
#: acquisition growth per year
ACQ_GROWTH = 1.20
#: share of the customers (of the 3-year target) already customers when the window opens
BASE_SHARE = 0.42
PROSPECT_SHARE = 0.025
CHURN_TARGET = 0.31

SALES_CHANNELS = ["Direct", "Online Store", "Distributor", "Phone"]
#: segment x sales channel probabilities
SEG_SALES_CHANNEL = np.array(
    [
        [0.80, 0.00, 0.10, 0.10],
        [0.50, 0.05, 0.30, 0.15],
        [0.10, 0.35, 0.30, 0.25],
        [0.00, 0.90, 0.00, 0.10],
    ]
)


@dataclass(frozen=True)
class Scale:
    name: str
    lines: int
    customers: int
    products: int
    reps_per_team: int
    opportunities: int
    moves_within: int
    moves_across: int


SCALES: dict[str, Scale] = {
    "small": Scale("small", 20_000, 600, 150, 3, 300, 1, 1),
    "medium": Scale("medium", 500_000, 8_000, 800, 6, 5_000, 2, 1),
    "large": Scale("large", 5_000_000, 60_000, 5_000, 10, 40_000, 2, 2),
}


def choose_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) matrix of weights (rows need not sum to 1)."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs)) * cum[:, -1]
    return np.minimum((cum <= u[:, None]).sum(axis=1), probs.shape[1] - 1)


# --------------------------------------------------------------------------- reps


@dataclass
class Reps:
    #: one row per stint: rep, role, team, region, manager (-1 = none), start, end (OPEN = current)
    stints: pd.DataFrame
    ids: np.ndarray
    names: np.ndarray
    #: latent skill (z-score) and sales factor (1 for managers)
    skill: np.ndarray
    factor: np.ndarray
    #: ownership events, in date order: (day, kind, rep, region, team, replaced rep or -1).
    #: kind 0 = "away": from ``day`` the rep's customers in ``region`` go to colleagues
    #: (a leaver, or a rep moving to another region); kind 1 = "handover": a rep starting
    #: in ``team`` on ``day`` takes over the accounts of the rep they replace, or a share
    #: of the team's accounts
    events: list[tuple[int, int, int, int, int, int]]

    @property
    def n(self) -> int:
        return len(self.ids)

    def sellers(self) -> pd.DataFrame:
        return self.stints[self.stints["role"] == "Sales Rep"]


def build_reps(scale: Scale, cal: Calendar, rng: np.random.Generator) -> Reps:
    nd = cal.n_days
    rows: list[dict] = []
    team_manager: dict[int, int] = {}
    count = 0

    def stint(role: str, team: int, manager: int, start: int, end: int = OPEN) -> int:
        nonlocal count
        rows.append(dict(rep=count, role=role, team=team, region=team // N_TEAMS_PER_REGION,
                         manager=manager, start=start, end=end))
        count += 1
        return count - 1

    initial_reps: list[int] = []
    for r in range(len(REGION_NAMES)):
        director = stint("Regional Director", r * N_TEAMS_PER_REGION, -1, -int(rng.integers(400, 3000)))
        for k in range(N_TEAMS_PER_REGION):
            team = r * N_TEAMS_PER_REGION + k
            mgr = stint("Team Manager", team, director, -int(rng.integers(200, 2500)))
            team_manager[team] = mgr
            size = max(2, scale.reps_per_team + int(rng.integers(-1, 2)))
            for _ in range(size):
                initial_reps.append(stint("Sales Rep", team, mgr, -int(rng.integers(30, 2500))))

    initial = np.array(initial_reps)
    n_teams = len(REGION_NAMES) * N_TEAMS_PER_REGION
    n_leave = max(2, round(0.18 * len(initial) * nd / 1096))
    n_move = scale.moves_within + scale.moves_across
    chosen = rng.permutation(initial)[: n_leave + n_move]
    leavers, movers = chosen[:n_leave], chosen[n_leave:]
    events: list[tuple[int, int, int, int, int, int]] = []
    lo, hi = min(45, nd // 4), max(min(45, nd // 4) + 1, nd - 45)

    for rep in sorted(leavers.tolist()):
        row = rows[rep]
        leave = int(rng.integers(lo, hi))
        row["end"] = leave
        events.append((leave + 1, 0, rep, row["region"], row["team"], -1))
        hire = leave + int(rng.integers(5, 50))
        if hire <= nd - 1:  # a replacement joins the same team and takes over the accounts
            new = stint("Sales Rep", row["team"], team_manager[row["team"]], hire)
            events.append((hire, 1, new, row["region"], row["team"], rep))
    for _ in range(max(1, round(0.08 * len(initial) * nd / 1096))):  # growth hires
        team = int(rng.integers(0, n_teams))
        hire = int(rng.integers(min(30, nd // 4), max(min(30, nd // 4) + 1, nd - 30)))
        new = stint("Sales Rep", team, team_manager[team], hire)
        events.append((hire, 1, new, team // N_TEAMS_PER_REGION, team, -1))

    for i, rep in enumerate(sorted(movers.tolist())):
        row = rows[rep]
        move = int(nd * rng.uniform(0.35, 0.65))
        region = row["region"]
        if i < scale.moves_within:
            options = [t for t in range(region * N_TEAMS_PER_REGION, (region + 1) * N_TEAMS_PER_REGION) if t != row["team"]]
        else:
            options = [t for t in range(n_teams) if t // N_TEAMS_PER_REGION != region]
        new_team = int(rng.choice(options))
        row["end"] = move - 1
        rows.append(dict(rep=rep, role="Sales Rep", team=new_team, region=new_team // N_TEAMS_PER_REGION,
                         manager=team_manager[new_team], start=move, end=OPEN))
        if new_team // N_TEAMS_PER_REGION != region:  # customers stay behind in the old region
            events.append((move, 0, rep, region, row["team"], -1))
            events.append((move, 1, rep, new_team // N_TEAMS_PER_REGION, new_team, -1))

    stints = pd.DataFrame(rows).sort_values(["rep", "start"], kind="stable").reset_index(drop=True)
    n = count
    width = max(3, len(str(n)))
    ids = np.array([f"R{i + 1:0{width}d}" for i in range(n)], dtype=object)
    names = _names.person_names(rng, n)
    is_rep = np.zeros(n, dtype=bool)
    is_rep[stints.loc[stints["role"] == "Sales Rep", "rep"].to_numpy()] = True
    skill = np.where(is_rep, np.clip(rng.standard_normal(n), -2, 2), np.nan)
    factor = np.where(is_rep, np.exp(0.15 * np.nan_to_num(skill)), 1.0)
    factor[is_rep] /= factor[is_rep].mean()
    return Reps(stints=stints, ids=ids, names=names, skill=skill, factor=factor, events=sorted(events))


# --------------------------------------------------------------------------- products


@dataclass
class Products:
    ids: np.ndarray
    names: np.ndarray
    category: np.ndarray  # int index into _names.CATEGORIES
    brand: np.ndarray
    popularity: np.ndarray  # relative weight within its category
    intermittent: np.ndarray
    defect_prone: np.ndarray
    lumpy: np.ndarray  # quantity multiplier
    launch: np.ndarray  # day
    #: list prices in cents and unit costs in 1/10000 CNY for up to 3 price periods,
    #: and the first day of periods 2 and 3 (OPEN = no change)
    price_cents: np.ndarray  # (n, 3) int64
    cost_e4: np.ndarray  # (n, 3) int64
    change_day: np.ndarray  # (n, 2) int64
    margin: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)

    def period(self, prod: np.ndarray, day: np.ndarray) -> np.ndarray:
        cd = self.change_day[prod]
        return (day >= cd[:, 0]).astype(np.int64) + (day >= cd[:, 1])


def _nice_price(x: np.ndarray) -> np.ndarray:
    return np.where(
        x >= 100, np.round(x / 10) * 10 - 1, np.where(x >= 10, np.round(x) - 0.1, np.maximum(np.round(x, 1), 0.5))
    )


def build_products(scale: Scale, cal: Calendar, rng: np.random.Generator) -> Products:
    cats = _names.CATEGORIES
    n = scale.products
    share = np.array([c["share"] for c in cats])
    counts = np.floor(n * share / share.sum()).astype(int)
    counts[np.argsort(-share)[: n - counts.sum()]] += 1
    category = np.repeat(np.arange(len(cats)), counts)
    brand = np.empty(n, dtype=object)
    noun = np.empty(n, dtype=object)
    rank = np.empty(n, dtype=float)
    price0 = np.empty(n)
    margin = np.empty(n)
    for c, spec in enumerate(cats):  # loop over the 8 categories
        sel = np.flatnonzero(category == c)
        k = len(sel)
        brand[sel] = np.asarray(spec["brands"], dtype=object)[rng.integers(0, len(spec["brands"]), k)]
        noun[sel] = np.asarray(spec["nouns"], dtype=object)[rng.integers(0, len(spec["nouns"]), k)]
        rank[sel] = rng.permutation(k) / max(k - 1, 1)
        price0[sel] = rng.lognormal(np.log(spec["price"]), spec["sigma"], k)
        margin[sel] = np.clip(spec["margin"] + rng.normal(0, 0.05, k), 0.12, 0.6)
    names = _names.product_names(rng, brand, noun)

    # popularity: Zipf-like within each category; a quarter of the catalogue is slow/intermittent
    within_rank = np.empty(n)
    for c in range(len(cats)):
        sel = np.flatnonzero(category == c)
        within_rank[sel] = np.argsort(np.argsort(rank[sel]))
    popularity = 1.0 / (within_rank + 1.0) ** 1.05
    tail = within_rank >= 0.45 * np.bincount(category)[category]
    # a quarter of the catalogue, drawn from the less popular half of each category
    pick = rng.permutation(np.flatnonzero(tail))[: round(0.25 * n)]
    intermittent = np.zeros(n, dtype=bool)
    intermittent[pick] = True
    popularity[intermittent] *= 0.10
    lumpy = np.where(intermittent, 2.5, 1.0)
    defect_prone = rng.random(n) < 0.06

    nd = cal.n_days
    launched_in_window = (rng.random(n) < 0.15) & (within_rank > 0)
    launch = np.where(
        launched_in_window, rng.integers(min(30, nd // 3), max(min(30, nd // 3) + 1, nd - 30), n), -rng.integers(30, 2000, n)
    )

    p0 = _nice_price(price0)
    rank_chg = np.argsort(rng.permutation(n))  # 30% of products get 1-2 increases: 14% two, 16% one
    n_chg = np.where(rank_chg < round(0.14 * n), 2, np.where(rank_chg < round(0.30 * n), 1, 0))
    first_possible = np.minimum(np.maximum(launch, 0) + 30, nd - 1)
    d1 = rng.integers(first_possible, nd)
    d2 = rng.integers(first_possible, nd)
    days = np.sort(np.stack([d1, d2], axis=1), axis=1)
    days[:, 1] = np.where(n_chg >= 2, days[:, 1], OPEN)
    days[:, 0] = np.where(n_chg >= 1, days[:, 0], OPEN)
    days = np.where((np.maximum(launch, 0) + 30 > nd - 1)[:, None], OPEN, days)
    days = np.sort(days, axis=1)
    # two changes on the same day collapse into one
    days[:, 1] = np.where(days[:, 1] == days[:, 0], OPEN, days[:, 1])
    inc = rng.uniform(0.03, 0.10, (n, 2))
    cinc = np.clip(inc + rng.normal(0, 0.01, (n, 2)), 0.0, 0.15)
    prices = np.empty((n, 3))
    costs = np.empty((n, 3))
    prices[:, 0] = p0
    costs[:, 0] = np.round(p0 * (1 - margin), 4)
    for k in (1, 2):
        changed = days[:, k - 1] < OPEN
        prices[:, k] = np.where(changed, np.round(prices[:, k - 1] * (1 + inc[:, k - 1]), 1), prices[:, k - 1])
        costs[:, k] = np.where(changed, np.round(costs[:, k - 1] * (1 + cinc[:, k - 1]), 4), costs[:, k - 1])
    width = max(5, len(str(n)))
    return Products(
        ids=np.array([f"P{i + 1:0{width}d}" for i in range(n)], dtype=object),
        names=names,
        category=category,
        brand=brand,
        popularity=popularity,
        intermittent=intermittent,
        defect_prone=defect_prone,
        lumpy=lumpy,
        launch=launch,
        price_cents=np.round(prices * 100).astype(np.int64),
        cost_e4=np.round(costs * 10_000).astype(np.int64),
        change_day=days.astype(np.int64),
        margin=margin,
    )


# --------------------------------------------------------------------------- customers


@dataclass
class Customers:
    ids: np.ndarray
    names: np.ndarray
    region: np.ndarray  # int
    city: np.ndarray
    segment: np.ndarray  # int
    channel: np.ndarray  # int acquisition channel
    acq: np.ndarray  # acquisition day (negative: before the window)
    prospect: np.ndarray
    rate: np.ndarray  # orders per unit of intensity (relative until calibrated)
    spend: np.ndarray
    complaint: np.ndarray
    discount_dep: np.ndarray
    pref: np.ndarray  # (n, 2) preferred categories (the same twice if only one)
    negotiated: np.ndarray  # customer's own base discount
    sales_channel: np.ndarray  # int, primary sales channel
    hazard: np.ndarray  # churn hazard per year
    churn: np.ndarray  # churn day (OPEN if never)

    @property
    def n(self) -> int:
        return len(self.ids)


@dataclass
class Marketing:
    month: np.ndarray  # datetime64[D] first day of month
    channel: np.ndarray  # int
    spend_cents: np.ndarray


def _months_in_window(cal: Calendar) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first day of month, first window day in it, last window day in it) for every month of the window."""
    months = cal.months
    months = months[months <= np.datetime64(cal.end, "D")]
    first = np.maximum((months - np.datetime64(cal.start, "D")).astype(int), 0)
    nxt = (months.astype("datetime64[M]") + 1).astype("datetime64[D]")
    last = np.minimum((nxt - np.datetime64(cal.start, "D")).astype(int) - 1, cal.n_days - 1)
    return months, first, last


def acquisitions(scale: Scale, cal: Calendar, rng: np.random.Generator) -> tuple[Marketing, np.ndarray, np.ndarray]:
    """Marketing spend per month and paid channel, and the customers it (and word of mouth) brings.

    Returns the spend table and, per acquired customer, (acquisition day, channel).
    """
    months, first, last = _months_in_window(cal)
    n_m = len(months)
    dim = ((months.astype("datetime64[M]") + 1).astype("datetime64[D]") - months).astype(int)
    frac = (last - first + 1) / dim
    cal_month = months.astype("datetime64[M]").astype(int) % 12
    mid_years = ((first + last) / 2) / 365.25
    growth = ACQ_GROWTH**mid_years
    season = np.ones((len(CHANNELS), n_m))
    season[:PAID] = CHANNEL_SEASON[:, cal_month]
    shape = CHANNEL_SHARE[:, None] * season * growth[None, :] * frac[None, :]
    wanted = (1 - BASE_SHARE) * scale.customers * cal.n_days / 1096
    expected = shape * wanted / shape.sum()
    noise = rng.lognormal(0.0, 0.10, (PAID, n_m))
    spend = np.round(expected[:PAID] * CAC[:, None] * noise, -1)  # round to 10 CNY
    lam = np.vstack([spend / CAC[:, None], expected[PAID:]])
    counts = rng.poisson(lam)  # (channel, month)
    ch_idx, m_idx = np.nonzero(counts >= 0)
    reps = counts[ch_idx, m_idx]
    ch = np.repeat(ch_idx, reps)
    mm = np.repeat(m_idx, reps)
    day = first[mm] + np.floor(rng.random(len(mm)) * (last[mm] - first[mm] + 1)).astype(int)
    order = np.lexsort((ch, day))
    mk_m, mk_c = np.meshgrid(np.arange(n_m), np.arange(PAID))
    marketing = Marketing(
        month=months[mk_m.ravel()],
        channel=mk_c.ravel(),
        spend_cents=np.round(spend.ravel() * 100).astype(np.int64),
    )
    srt = np.lexsort((marketing.channel, marketing.month))
    marketing = Marketing(marketing.month[srt], marketing.channel[srt], marketing.spend_cents[srt])
    return marketing, day[order], ch[order]


def build_customers(scale: Scale, cal: Calendar, rng: np.random.Generator) -> tuple[Customers, Marketing]:
    marketing, acq_new, ch_new = acquisitions(scale, cal, rng)
    n0 = round(BASE_SHARE * scale.customers)
    acq_base = -rng.integers(1, 1500, n0)
    ch_base = rng.choice(len(CHANNELS), n0, p=BASE_CHANNEL_SHARE / BASE_CHANNEL_SHARE.sum())
    order = np.argsort(acq_base, kind="stable")
    acq = np.r_[acq_base[order], acq_new].astype(np.int64)
    channel = np.r_[ch_base[order], ch_new].astype(np.int64)
    n = len(acq)

    segment = choose_rows(rng, CHANNEL_SEGMENT[channel])
    region = rng.choice(len(REGION_NAMES), n, p=REGION_WEIGHTS)
    city = np.empty(n, dtype=object)
    for r, rname in enumerate(REGION_NAMES):  # loop over the 6 regions
        sel = np.flatnonzero(region == r)
        names_w = _names.CITIES[rname]
        w = np.array([x[1] for x in names_w])
        city[sel] = np.asarray([x[0] for x in names_w], dtype=object)[rng.choice(len(w), len(sel), p=w / w.sum())]
    consumer = segment == 3
    names = np.empty(n, dtype=object)
    names[~consumer] = _names.company_names(rng, city[~consumer], segment[~consumer] == 0)
    names[consumer] = _names.person_names(rng, int(consumer.sum()))

    prospect = rng.random(n) < PROSPECT_SHARE
    rate = rng.gamma(2.0, 0.5, n) * SEG_RATE[segment]
    rate[prospect] = 0.0
    spend = rng.lognormal(0.0, 0.5, n)
    complaint = rng.beta(1.2, 5.0, n)
    discount_dep = np.clip(rng.beta(1.5, 4.0, n) + np.where(segment >= 2, 0.05, 0.0), 0, 1)
    w = SEG_CAT[segment] * rng.gamma(2.0, 0.5, (n, SEG_CAT.shape[1]))
    p1 = choose_rows(rng, w)
    w[np.arange(n), p1] = 0
    p2 = np.where(rng.random(n) < 0.6, choose_rows(rng, w), p1)
    pref = np.stack([p1, p2], axis=1)
    negotiated = np.clip(SEG_DISCOUNT[segment] + rng.uniform(-0.02, 0.03, n), 0, None)
    negotiated[segment == 3] = 0.0
    sales_channel = choose_rows(rng, SEG_SALES_CHANNEL[segment])

    # churn: hazard rises with complaints and discount dependence and falls with purchase rate
    def z(x: np.ndarray) -> np.ndarray:
        ok = ~prospect
        return (x - x[ok].mean()) / x[ok].std()

    rel = (
        np.exp(0.9 * z(complaint) + 0.6 * z(discount_dep) - 0.45 * z(np.log(np.maximum(rate, 1e-9))))
        * CHANNEL_HAZARD[channel]
    )
    exposure = (cal.n_days - np.maximum(acq, 0)) / 365.25
    ok = ~prospect
    lo, hi = -8.0, 4.0
    for _ in range(60):  # bisection on log h0: expected churned share by end_date = target
        mid = (lo + hi) / 2
        share = np.mean(1 - np.exp(-np.exp(mid) * rel[ok] * exposure[ok]))
        lo, hi = (mid, hi) if share < CHURN_TARGET else (lo, mid)
    hazard = np.exp((lo + hi) / 2) * rel
    life = rng.exponential(1.0, n) / hazard * 365.25
    churn = np.where(prospect, OPEN, np.maximum(acq, 0) + np.ceil(life).astype(np.int64))
    churn = np.minimum(churn, OPEN)

    width = max(6, len(str(n)))
    customers = Customers(
        ids=np.array([f"C{i + 1:0{width}d}" for i in range(n)], dtype=object),
        names=names,
        region=region,
        city=city,
        segment=segment,
        channel=channel,
        acq=acq,
        prospect=prospect,
        rate=rate,
        spend=spend,
        complaint=complaint,
        discount_dep=discount_dep,
        pref=pref,
        negotiated=np.round(negotiated, 2),
        sales_channel=sales_channel,
        hazard=np.where(prospect, 0.0, hazard),
        churn=churn,
    )
    return customers, marketing


# --------------------------------------------------------------------------- ownership


@dataclass
class Ownership:
    """Who owns which customer from which day: (customer, from day, rep) records."""

    cust: np.ndarray
    day: np.ndarray
    rep: np.ndarray
    current: np.ndarray  # current owner per customer

    def __post_init__(self) -> None:
        self._key = self.cust.astype(np.int64) * (1 << 26) + (self.day + (1 << 24))
        srt = np.argsort(self._key, kind="stable")
        self._key, self._rep, self._cust = self._key[srt], self.rep[srt], self.cust[srt]

    def at(self, cust: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Owner of each customer on each day."""
        key = cust.astype(np.int64) * (1 << 26) + (day + (1 << 24))
        idx = np.searchsorted(self._key, key, side="right") - 1
        if len(idx) and ((idx < 0).any() or (self._cust[np.maximum(idx, 0)] != cust).any()):
            raise AssertionError("ownership lookup before the customer's first assignment")
        return self._rep[idx]


def _eligible(sellers: pd.DataFrame, region: int, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reps, their teams, bool matrix days x stints) of the region's sales-rep stints covering each day."""
    s = sellers[sellers["region"] == region]
    ok = (s["start"].to_numpy()[None, :] <= day[:, None]) & (day[:, None] <= s["end"].to_numpy()[None, :])
    return s["rep"].to_numpy(), s["team"].to_numpy(), ok


def _pick_eligible(rng: np.random.Generator, reps: np.ndarray, ok: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    w = ok.astype(float) if weight is None else ok * weight
    if len(w) and (w.sum(axis=1) <= 0).any():
        raise AssertionError("no sales rep available in the region on some day")
    return reps[choose_rows(rng, w)]


def assign_owners(customers: Customers, reps: Reps, rng: np.random.Generator) -> Ownership:
    """Initial owners (a rep of the customer's region on acquisition), then the events in
    date order: a leaver's or emigrating rep's accounts go to colleagues of the region
    (same team preferred) from the next day; a replacement hire takes those accounts back
    over when starting, a growth hire (or a rep arriving from another region) a fair share
    of the team's accounts."""
    sellers = reps.sellers()
    n = customers.n
    first_day = np.maximum(customers.acq, 0)
    owner = np.empty(n, dtype=np.int64)
    for r in range(len(REGION_NAMES)):  # initial owner: a rep of the region on acquisition day
        sel = np.flatnonzero(customers.region == r)
        rep_ids, _, ok = _eligible(sellers, r, first_day[sel])
        owner[sel] = _pick_eligible(rng, rep_ids, ok)
    rec_cust = [np.arange(n)]
    rec_day = [customers.acq.copy()]
    rec_rep = [owner.copy()]
    handed: dict[int, np.ndarray] = {}  # leaver -> the accounts given to colleagues
    st_rep, st_team = sellers["rep"].to_numpy(), sellers["team"].to_numpy()
    st_start, st_end = sellers["start"].to_numpy(), sellers["end"].to_numpy()
    for day, kind, rep, region, team, replaced in reps.events:  # a few dozen, in date order
        known = (customers.region == region) & (customers.acq <= day)
        if kind == 0:
            hit = np.flatnonzero((owner == rep) & known)
            handed[rep] = hit
            if not len(hit):
                continue
            rep_ids, teams, ok = _eligible(sellers, region, np.array([day]))
            ok &= rep_ids[None, :] != rep
            same_team = np.where(teams == team, 3.0, 1.0)
            new = _pick_eligible(rng, rep_ids, np.repeat(ok, len(hit), axis=0), same_team[None, :])
        else:
            if replaced >= 0:
                hit = handed.get(replaced, np.array([], dtype=np.int64))
                hit = hit[owner[hit] != replaced]
            else:
                cover = (st_start <= day) & (day <= st_end) & (st_team == team) & (st_rep != rep)
                colleagues = np.unique(st_rep[cover])
                in_team = np.flatnonzero(known & np.isin(owner, colleagues))
                hit = in_team[rng.random(len(in_team)) < 1.0 / (len(colleagues) + 1)]
            if not len(hit):
                continue
            new = np.full(len(hit), rep, dtype=np.int64)
        owner[hit] = new
        rec_cust.append(hit)
        rec_day.append(np.full(len(hit), day, dtype=np.int64))
        rec_rep.append(new)
    return Ownership(
        cust=np.concatenate(rec_cust),
        day=np.concatenate(rec_day),
        rep=np.concatenate(rec_rep),
        current=owner,
    )
