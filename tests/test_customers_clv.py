"""Lifetime value: BG/NBD and Gamma-Gamma against the published CDNOW estimates, the model's
own arithmetic, a simulation, the warehouse path and the command line.

CDNOW (tests/data/cdnow): Fader, Hardie & Lee (2005) fit the BG/NBD on the 1/10 sample's
2,357 customers with a 39-week calibration period (to 1997-09-30; T from each customer's
first purchase, in weeks): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (log-likelihood
-9582.4), and the Gamma-Gamma on the mean repeat spend of the 946 customers with repeat
purchases: p = 6.25, q = 3.74, gamma = 15.44. Hardie's BG/NBD spreadsheet gives the expected
repeat purchases of a new customer (0.0078 in 1 day ... 1.8576 in 78 weeks) and, for a
customer with x = 2, t_x = 30.43, T = 38.86, 1.226 in the next 39 weeks.
"""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from salesml import warehouse
from salesml.config import ClvSettings
from salesml.customers import clv
from salesml.customers.clv import BetaGeo, ClvError, GammaGamma, boundary, fit_bgnbd
from tests import anonymous_company
from tests.test_cli import run

CDNOW = Path(__file__).parent / "data" / "cdnow"
PUBLISHED_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
AS_OF = "2026-06-30"  # the small demo's last day (tests/conftest.py DEMO_END)


def assert_within_1pct(params: pd.Series, published: dict) -> None:
    for name, value in published.items():
        assert params[name] == pytest.approx(value, rel=0.01), (name, params[name], value)


@pytest.fixture(scope="module")
def published_summary() -> pd.DataFrame:
    return pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv").set_index("ID")


@pytest.fixture(scope="module")
def cdnow_tx() -> pd.DataFrame:
    tx = pd.read_csv(
        CDNOW / "CDNOW_sample.txt", sep=r"\s+", header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"], dtype={"master_id": str, "date": str},
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def cdnow_bg(published_summary) -> BetaGeo:
    s = published_summary
    return BetaGeo().fit(s["x"], s["t_x"], s["T"])


# ----------------------------------------------------------------- published estimates


def test_bgnbd_reproduces_the_published_cdnow_estimates(cdnow_bg):
    assert_within_1pct(cdnow_bg.params_, PUBLISHED_BG)
    assert cdnow_bg.log_likelihood_ == pytest.approx(-9582.4, abs=0.1)
    assert cdnow_bg.n_customers_ == 2357
    # Hardie's spreadsheet: expected repeat purchases of a new customer, and conditional
    times = [0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0]
    np.testing.assert_allclose(cdnow_bg.expected_purchases_new(times), [0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576], rtol=0.01)
    assert cdnow_bg.expected_purchases(2, 30.43, 38.86, 39) == pytest.approx(1.226, abs=0.001)


def test_gamma_gamma_reproduces_the_published_cdnow_estimates(published_summary):
    rep = published_summary[published_summary["x"] > 0]
    assert len(rep) == 946
    gg = GammaGamma().fit(rep["x"], rep["zbar"])
    assert_within_1pct(gg.params_, PUBLISHED_GG)
    # customers without repeat purchases are ignored, not an error
    gg_all = GammaGamma().fit(published_summary["x"], published_summary["zbar"])
    np.testing.assert_allclose(gg_all.params_, gg.params_, rtol=1e-6)
    assert gg_all.n_customers_ == 946


def test_summary_built_from_the_transactions_matches_the_published_one(cdnow_tx, published_summary):
    before = cdnow_tx.copy()
    s = clv.summary_from_transactions(cdnow_tx, calibration_end="1997-09-30", freq_days="weeks")
    pd.testing.assert_frame_equal(cdnow_tx, before)  # input untouched
    assert len(s) == len(published_summary) == 2357
    j = published_summary.join(s.rename(columns={"T": "T_built"}), how="inner")
    assert len(j) == 2357
    assert (j["frequency"] == j["x"]).all()
    # the published file rounds to 2 decimals
    assert (j["recency"] - j["t_x"]).abs().max() <= 0.0051
    assert (j["T_built"] - j["T"]).abs().max() <= 0.0051
    assert (j["monetary"] - j["zbar"]).abs().max() <= 0.0051
    # and the models fitted on it give the published estimates too
    bg = BetaGeo().fit(s["frequency"], s["recency"], s["T"])
    assert_within_1pct(bg.params_, PUBLISHED_BG)
    gg = GammaGamma().fit(s["frequency"], s["monetary"])
    assert_within_1pct(gg.params_, PUBLISHED_GG)
    # without a calibration end, as_of is the end of observation: the whole 78 weeks
    full = clv.summary_from_transactions(cdnow_tx, freq_days=7)
    assert full["T"].max() == pytest.approx((pd.Timestamp("1998-06-30") - pd.Timestamp("1997-01-01")).days / 7)


def test_summary_conventions():
    tx = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "B", "C", "A"],
        "date": pd.to_datetime(["2024-01-01", "2024-01-01 15:30", "2024-01-08", "2024-01-15", "2024-01-10", "2024-02-05", "2024-01-22"], format="ISO8601"),
        "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 9.0, 99.0],
    })
    s = clv.summary_from_transactions(tx, as_of="2024-02-05", calibration_end="2024-01-15")
    assert list(s.index) == ["A", "B"]  # C starts after the calibration period
    a, b = s.loc["A"], s.loc["B"]
    # two purchases on 1 January are one occasion; repeats on the 8th and 15th
    assert (a["frequency"], a["recency"], a["T"], a["monetary"]) == (2, 14, 14, 30)
    assert (b["frequency"], b["recency"], b["T"], b["monetary"]) == (0, 0, 5, 0)
    assert (a["frequency_holdout"], a["monetary_holdout"], a["duration_holdout"]) == (1, 99, 21)
    assert b["frequency_holdout"] == 0
    assert a["first_purchase"] == pd.Timestamp("2024-01-01") and a["last_purchase"] == pd.Timestamp("2024-01-15")
    weeks = clv.summary_from_transactions(tx, as_of="2024-01-15", freq_days=7)
    assert weeks.loc["A", "T"] == pytest.approx(2.0) and "frequency_holdout" not in weeks
    with pytest.raises(ClvError, match="time unit"):
        clv.summary_from_transactions(tx, freq_days="fortnights")
    with pytest.raises(ClvError, match="after as_of"):
        clv.summary_from_transactions(tx, as_of="2024-01-10", calibration_end="2024-01-20")
    with pytest.raises(ClvError, match="lack column"):
        clv.summary_from_transactions(tx.rename(columns={"date": "day"}))


# ----------------------------------------------------------------- the model's arithmetic


def test_p_alive_and_expected_purchases_behave(cdnow_bg):
    bg = cdnow_bg
    assert bg.p_alive(0, 0, 38.86) == 1.0
    np.testing.assert_array_equal(bg.p_alive([0, 0], [0, 0], [5.0, 40.0]), [1.0, 1.0])
    # more repeat purchases (last one recent) -> more expected purchases
    x = np.arange(1, 21)
    ey = bg.expected_purchases(x, 35.0, 38.86, 39)
    assert np.all(np.diff(ey) > 0)
    # a more recent last purchase -> more likely alive, more purchases
    recency = np.linspace(1, 38, 20)
    assert np.all(np.diff(bg.p_alive(5, recency, 38.86)) > 0)
    assert np.all(np.diff(bg.expected_purchases(5, recency, 38.86, 39)) > 0)
    # longer horizon -> more purchases; none in no time
    assert np.all(np.diff(bg.expected_purchases(3, 20, 38.86, [0, 1, 10, 52, 104])) > 0)
    assert bg.expected_purchases(3, 20, 38.86, 0) == 0
    # Series in, Series out (same index)
    s = pd.Series([0, 2], index=["u", "v"])
    assert list(bg.p_alive(s, pd.Series([0, 30.43], index=s.index), 38.86).index) == ["u", "v"]


def test_p_no_purchase_is_a_probability_that_decreases_in_t(cdnow_bg):
    bg = cdnow_bg
    t = np.array([0.0, 0.5, 1, 4, 13, 26, 52, 104, 520, 1e6])
    for x, tx, T in [(0, 0, 38.86), (2, 30.43, 38.86), (10, 5.0, 38.86), (25, 38.0, 38.86)]:
        p0 = bg.p_no_purchase(x, tx, T, t)
        assert np.all((p0 >= 0) & (p0 <= 1))
        assert p0[0] == 1.0
        assert np.all(np.diff(p0) <= 0) and p0[1] < 1.0
        # it is not 1 - P(alive): it tends to it as the horizon grows (slowly for x = 0,
        # like (alpha + T)^r / (alpha + T + t)^r, to 0: such a customer is alive for sure)
        dead = 1 - bg.p_alive(x, tx, T)
        assert np.all(p0 >= dead - 1e-12)
        if x > 0:
            assert p0[-1] == pytest.approx(dead, abs=1e-6)
        if x == 2:  # an occasional buyer, probably alive: a year is far from "forever"
            assert p0[t == 52][0] > dead + 0.05
    # a brand-new customer: P(X(t) = 0) = (alpha / (alpha + t))^r
    r, alpha = bg.params_["r"], bg.params_["alpha"]
    np.testing.assert_allclose(bg.p_no_purchase(0, 0, 0, t[:-1]), (alpha / (alpha + t[:-1])) ** r, rtol=1e-12)
    # the module-level function is the same thing
    assert clv.p_no_purchase(bg, 2, 30.43, 38.86, 39) == bg.p_no_purchase(2, 30.43, 38.86, 39)
    with pytest.raises(ClvError, match="t must be"):
        bg.p_no_purchase(1, 1, 2, -1)


def simulate_bgnbd(r, alpha, a, b, T, horizon, rng):
    """Simulate BG/NBD customers from their first purchase (time 0): repeat purchases at rate
    lambda while alive, dropout with probability p after each repeat purchase."""
    n = len(T)
    lam = np.maximum(rng.gamma(r, 1 / alpha, n), 1e-300)
    p = rng.beta(a, b, n)
    x, tx, hold = np.zeros(n), np.zeros(n), np.zeros(n)
    dead_by_T = np.zeros(n, dtype=bool)
    t = np.zeros(n)
    active = np.ones(n, dtype=bool)
    end = T + horizon
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1 / lam[idx])
        over = t[idx] > end[idx]
        active[idx[over]] = False
        idx = idx[~over]
        cal = t[idx] <= T[idx]
        x[idx[cal]] += 1
        tx[idx[cal]] = t[idx[cal]]
        hold[idx[~cal]] += 1
        died = rng.random(idx.size) < p[idx]
        active[idx[died]] = False
        dead_by_T[idx[died & cal]] = True
    return x, tx, hold, dead_by_T


def test_conditional_predictions_match_a_simulation():
    """On 40,000 customers simulated with the CDNOW parameters, the mean predicted P(alive),
    P(no purchase in the next 39 weeks) and purchases match what happened."""
    r, alpha, a, b = PUBLISHED_BG.values()
    bg = BetaGeo.from_params(r, alpha, a, b)
    rng = np.random.default_rng(5)
    T = rng.uniform(27, 39, 40_000)
    x, tx, hold, dead_by_T = simulate_bgnbd(r, alpha, a, b, T, 39.0, rng)
    assert bg.p_alive(x, tx, T).mean() == pytest.approx(1 - dead_by_T.mean(), abs=0.01)
    assert bg.p_no_purchase(x, tx, T, 39.0).mean() == pytest.approx((hold == 0).mean(), abs=0.01)
    assert bg.expected_purchases(x, tx, T, 39.0).mean() == pytest.approx(hold.mean(), rel=0.04)
    # and the fit recovers the parameters
    fitted = BetaGeo().fit(x, tx, T)
    for name, value in PUBLISHED_BG.items():
        assert fitted.params_[name] == pytest.approx(value, rel=0.15), name


def test_expected_spend_and_lifetime_value(cdnow_bg, published_summary):
    rep = published_summary[published_summary["x"] > 0]
    gg = GammaGamma().fit(rep["x"], rep["zbar"])
    p, q, g = gg.params_
    assert gg.mean_spend_ == pytest.approx(p * g / (q - 1))
    assert gg.expected_spend(0, 0) == pytest.approx(gg.mean_spend_)
    # shrinkage: between the population mean and the customer's own mean, closer to it with more purchases
    low = gg.expected_spend([1, 5, 20], 10.0)
    assert np.all((low > 10.0) & (low < gg.mean_spend_)) and np.all(np.diff(low) < 0)
    high = gg.expected_spend([1, 5, 20], 100.0)
    assert np.all((high < 100.0) & (high > gg.mean_spend_)) and np.all(np.diff(high) > 0)

    bg = cdnow_bg
    args = (np.array([0.0, 2, 10]), np.array([0.0, 30.43, 35]), np.array([38.86, 38.86, 38.86]), np.array([0.0, 22.35, 40]))
    # no discounting: margin x spend x expected purchases over the horizon (the monthly steps telescope)
    flat = clv.lifetime_value(bg, gg, *args, horizon_days=365, unit_days=7, discount_rate=0.0, margin_ratio=0.5)
    expected = 0.5 * gg.expected_spend(args[0], args[3]) * bg.expected_purchases(*args[:3], 365 / 7)
    np.testing.assert_allclose(flat, expected, rtol=1e-12)
    # discounting: each month's purchases at (1 + d)^-(month end in years); two months by hand
    v = clv.lifetime_value(bg, gg, 2.0, 30.43, 38.86, 22.35, horizon_days=45, unit_days=7, discount_rate=0.12)
    m1, m2 = clv.MONTH_DAYS, 45.0
    y1, y2 = (bg.expected_purchases(2, 30.43, 38.86, d / 7) for d in (m1, m2))
    by_hand = gg.expected_spend(2, 22.35) * (y1 / 1.12 ** (m1 / 365.25) + (y2 - y1) / 1.12 ** (m2 / 365.25))
    assert v == pytest.approx(by_hand, rel=1e-12)
    assert v < gg.expected_spend(2, 22.35) * y2


# ----------------------------------------------------------------- estimator conventions and errors


def test_estimator_conventions(published_summary):
    s = published_summary
    bg = BetaGeo(penalizer=0.1)
    assert bg.get_params() == {"penalizer": 0.1}
    with pytest.raises(NotFittedError):
        bg.p_alive(1, 1, 2)
    with pytest.raises(NotFittedError):
        GammaGamma().expected_spend(1, 10)
    assert bg.fit(s["x"], s["t_x"], s["T"]) is bg
    assert list(bg.params_.index) == ["r", "alpha", "a", "b"]
    # the penalty pulls the log-parameters towards r = 1, alpha = 1 / repeat rate, a = b = 1
    free = BetaGeo().fit(s["x"], s["t_x"], s["T"])
    centre = np.log([1.0, s["T"].sum() / s["x"].sum(), 1.0, 1.0])
    assert np.sum((np.log(bg.params_) - centre) ** 2) < np.sum((np.log(free.params_) - centre) ** 2)
    # ... whatever the time unit: in days, alpha is 7 times larger and nothing else changes
    days = BetaGeo(penalizer=0.1).fit(s["x"], s["t_x"] * 7, s["T"] * 7)
    np.testing.assert_allclose(days.params_, bg.params_ * [1, 7, 1, 1], rtol=1e-4)
    # a clone is unfitted with the same hyperparameters
    c = clone(bg)
    assert c.penalizer == 0.1 and not hasattr(c, "params_")
    gg = GammaGamma().fit(s["x"], s["zbar"])
    assert list(gg.params_.index) == ["p", "q", "gamma"]
    d = gg.to_dict()
    assert json.loads(json.dumps(d))["params"]["p"] == pytest.approx(gg.params_["p"])
    restored = BetaGeo.from_params(**free.params_.to_dict())
    assert restored.p_alive(2, 30.43, 38.86) == free.p_alive(2, 30.43, 38.86)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (([0, 0, 0], [0, 0, 0], [5, 6, 7]), "none of the 3 customers made a repeat purchase"),
        (([1, 2], [3, 9], [5, 6]), "recency must not exceed T"),
        (([1.5, 2], [3, 4], [5, 6]), "whole numbers"),
        (([0, 2], [3, 4], [5, 6]), "recency must be 0"),
        (([1, 2], [np.nan, 4], [5, 6]), "missing or infinite"),
        (([1, 2, 3], [1, 2], [5, 6]), "same length"),
        (([], [], []), "no customers"),
    ],
)
def test_bad_or_degenerate_data_is_a_clear_error(data, message):
    with pytest.raises(ClvError, match=message):
        BetaGeo().fit(*data)


def test_degenerate_fits_fail_clearly():
    # everyone is still buying at the end: no sign of dropout, a runs off to 0
    x = np.array([3.0, 5, 8, 2, 6, 4] * 20)
    T = np.array([30.0, 32, 35, 31, 36, 33] * 20)
    with pytest.raises(ClvError, match=r"BG/NBD purchase model did not converge: .*\ba ran off to 0.*try a penalizer"):
        BetaGeo().fit(x, T, T)
    assert BetaGeo(penalizer=0.01).fit(x, T, T).params_["a"] > 0.01  # as the message suggests
    with pytest.raises(ClvError, match="same mean spend"):
        GammaGamma().fit([1, 2, 3], [10.0, 10.0, 10.0])
    with pytest.raises(ClvError, match="needs customers with repeat purchases"):
        GammaGamma().fit([0, 0, 1], [0.0, 0.0, 10.0])
    with pytest.raises(ClvError, match="positive"):
        GammaGamma().fit([1, 2, 3], [10.0, -1.0, 12.0])


# ----------------------------------------------------------------- from the warehouse


@pytest.fixture(scope="module")
def demo_clv(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        bg, gg, summary = clv.fit(con, AS_OF, small_demo)
        df = clv.customer_clv(con, AS_OF, 365, small_demo, models=(bg, gg))
        team = clv.customer_clv(con, AS_OF, 365, small_demo, "team:T03", models=(bg, gg))
        tx = clv.transactions(con, AS_OF)
        ledger = con.execute("SELECT * FROM ledger").df()
    return bg, gg, summary, df, team, tx, ledger


def test_customer_clv_on_the_demo_company(small_demo, demo_clv):
    bg, gg, summary, df, team, tx, _ = demo_clv
    assert list(df.columns) == clv.CLV_COLUMNS
    assert len(df) == len(summary) == df["customer_id"].nunique()
    assert bg.n_customers_ == len(summary) >= small_demo.clv.min_customers
    assert (df["clv"] > 0).all() and df["clv"].is_monotonic_decreasing
    assert df["p_alive"].between(0, 1).all() and df["p_no_purchase_h"].between(0, 1).all()
    assert (df["p_no_purchase_h"] >= 1 - df["p_alive"] - 1e-12).all()
    assert (df["expected_purchases"] >= 0).all() and (df["expected_spend"] > 0).all()
    # consistent with the models' own calls (days)
    row = df.iloc[5]
    assert row["p_no_purchase_h"] == pytest.approx(bg.p_no_purchase(row["frequency"], row["recency"], row["T"], 365))
    assert row["expected_spend"] == pytest.approx(gg.expected_spend(row["frequency"], row["monetary"]))
    # plausible top customers: frequent, recent, likely alive, big spenders of the last year
    last_year = tx[tx["date"] > pd.Timestamp(AS_OF) - pd.Timedelta(days=365)].groupby("customer_id")["amount"].sum()
    rev = last_year.reindex(df["customer_id"]).fillna(0).to_numpy()
    top = df.head(10)
    assert (top["p_alive"] > 0.9).all()
    assert (top["frequency"] >= df["frequency"].median()).all()
    assert rev[:10].min() > np.median(rev)
    assert pd.Series(df["clv"].to_numpy()).corr(pd.Series(rev), method="spearman") > 0.7
    # a scope's customers, on the purchases credited to it: a subset with no more purchases
    assert 0 < len(team) < len(df)
    both = team.merge(df, on="customer_id", suffixes=("", "_all"))
    assert len(both) == len(team)
    assert (both["frequency"] <= both["frequency_all"]).all()


def test_transactions_are_net_of_the_returns_known_by_as_of(small_demo, demo_clv):
    *_, tx, ledger = demo_clv
    ledger = ledger.assign(
        credit_date=pd.to_datetime(ledger["credit_date"]),
        event_date=pd.to_datetime(ledger["event_date"]),
        amount=ledger["amount"].astype(float),
    )
    net = ledger[ledger["credit_date"] <= AS_OF].groupby(["customer_id", "credit_date"])["amount"].sum()
    expected = net[net > 0]  # a day whose sales were all returned is no purchase
    got = tx.set_index(["customer_id", "date"])["amount"]
    assert len(got) == len(expected) and len(expected) < len(net)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-6)
    # a return made after as_of is not known then: the day of its sale counts in full
    ret = ledger[(ledger["kind"] == "return") & (ledger["event_date"] > ledger["credit_date"])].iloc[0]
    cust, day, cutoff = ret["customer_id"], ret["credit_date"], ret["event_date"] - pd.Timedelta(days=1)
    same_day = ledger[(ledger["customer_id"] == cust) & (ledger["credit_date"] == day)]
    known = same_day[same_day["event_date"] <= cutoff]["amount"].sum()
    assert same_day["amount"].sum() < known
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        early = clv.transactions(con, cutoff)
    amount = early[(early["customer_id"] == cust) & (early["date"] == day)]["amount"]
    assert amount.tolist() == [pytest.approx(known)]


def test_settings_drive_the_value(small_demo, demo_clv):
    bg, gg, _, df, *_ = demo_clv
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        longer = clv.customer_clv(con, AS_OF, 730, small_demo, models=(bg, gg)).set_index("customer_id")
        half = clv.customer_clv(con, AS_OF, 365, small_demo.with_overrides(clv={"margin_ratio": 0.5}), models=(bg, gg))
        steep = clv.customer_clv(con, AS_OF, 365, small_demo.with_overrides(clv={"discount_rate": 0.5}), models=(bg, gg))
        with pytest.raises(ClvError, match=r"min_customers"):
            clv.fit(con, "2023-07-10", small_demo)
        with pytest.raises(ClvError, match=r"\[clv\] time_unit"):
            clv.fit(con, AS_OF, small_demo.with_overrides(clv={"time_unit": "months"}))
        with pytest.raises(Exception, match="no team 'T99'"):
            clv.customer_clv(con, AS_OF, 365, small_demo, "team:T99", models=(bg, gg))
    base = df.set_index("customer_id")
    assert (longer.loc[base.index, "clv"] > base["clv"]).all()
    np.testing.assert_allclose(half.set_index("customer_id").loc[base.index, "clv"], 0.5 * base["clv"], rtol=1e-12)
    assert (steep.set_index("customer_id").loc[base.index, "clv"] < base["clv"]).all()
    assert ClvSettings().horizon_days == 365 and ClvSettings().time_unit == "days"


# ----------------------------------------------------------------- command line


def test_cli_clv(small_demo, demo_clv):
    env = {"SALESML_WAREHOUSE": str(small_demo.warehouse_path)}
    _, _, _, df, *_ = demo_clv
    rows = json.loads(run("clv", "--as-of", AS_OF, "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    assert len(rows) == len(df)
    assert set(rows[0]) == set(clv.CLV_COLUMNS)
    assert [r["customer_id"] for r in rows[:5]] == list(df["customer_id"].head(5))
    assert rows[0]["clv"] == pytest.approx(df["clv"].iloc[0])
    assert rows[0]["last_purchase"][:4] == "2026"

    fit = json.loads(run("clv", "--fit-only", "--format", "json", cwd=small_demo.root, env_extra=env).stdout)
    assert fit["as_of"] == AS_OF  # the default: the last day of the latest complete month
    assert set(fit["bg_nbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert set(fit["gamma_gamma"]["params"]) == {"p", "q", "gamma"}
    assert fit["bg_nbd"]["n_customers"] == len(df) and math.isfinite(fit["bg_nbd"]["log_likelihood"])

    table = run("clv", "--horizon-days", "90", "--scope", "team:T03", "--top", "5", cwd=small_demo.root, env_extra=env).stdout
    assert "customer lifetime value" in table and "summary" in table and "clv_total" in table


# ----------------------------------------------------------------- anonymous (walk-in / guest) sales


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    company = anonymous_company.build(small_demo, tmp_path_factory.mktemp("guests"))
    (company.settings.root / "salesml.toml").write_text('[sources.shop]\nanonymous_customer = "GUEST"\n', encoding="utf-8")
    return company


def test_anonymous_lines_are_valued_as_nobody(guests, demo_clv):
    """With a quarter of anonymous lines (NULL and GUEST) the models and every customer's value
    are the demo's; what was left out is what was written (known by the as-of day)."""
    bg_ref, gg_ref, _, df_ref, team_ref, *_ = demo_clv
    with warehouse.connect(guests.settings.warehouse_path, read_only=True) as con:
        bg, gg, summary = clv.fit(con, AS_OF, guests.settings)
        df = clv.customer_clv(con, AS_OF, 365, guests.settings, models=(bg, gg))
        team = clv.customer_clv(con, AS_OF, 365, guests.settings, "team:T03", models=(bg, gg))
        lo = clv.left_out(con, AS_OF, None, guests.settings)
        lo_team = clv.left_out(con, AS_OF, "team:T03", guests.settings)
        naive = clv.transactions(con, AS_OF, None, dataclasses.replace(guests.settings, sources={}))
    pd.testing.assert_series_equal(bg.params_, bg_ref.params_)
    pd.testing.assert_series_equal(gg.params_, gg_ref.params_)
    pd.testing.assert_frame_equal(df, df_ref)
    pd.testing.assert_frame_equal(team, team_ref)
    assert anonymous_company.GUEST not in set(summary.index) | set(df["customer_id"]) and df["customer_id"].notna().all()
    assert anonymous_company.GUEST in set(naive["customer_id"])  # a guest code nobody named is a customer
    day = pd.Timestamp(AS_OF).date()
    for got, team_id in ((lo, None), (lo_team, "T03")):
        e = guests.expected(guests.known_by(day, team_id))
        assert (got.lines, got.orders) == (e["lines"], e["orders"]) and e["lines"] > 100
        assert Decimal(str(got.revenue)) == e["revenue"] and Decimal(str(got.total_revenue)) == e["total_revenue"]


def test_cli_clv_says_what_it_left_out(guests):
    env = {"SALESML_WAREHOUSE": str(guests.settings.warehouse_path)}
    e = guests.expected(guests.known_by(pd.Timestamp(AS_OF).date()))
    fit = json.loads(run("clv", "--fit-only", "--format", "json", cwd=guests.settings.root, env_extra=env).stdout)
    got = fit["anonymous"]
    assert (got["lines"], got["orders"]) == (e["lines"], e["orders"])
    assert Decimal(str(got["revenue"])) == e["revenue"] and Decimal(str(got["total_revenue"])) == e["total_revenue"]
    assert got["revenue_share_pct"] == pytest.approx(float(e["revenue"] / e["total_revenue"] * 100), abs=0.005)
    assert fit["bg_nbd"]["params"] and "as_of" in fit  # the keys that were there stay
    proc = run("clv", "--as-of", AS_OF, "--top", "5", cwd=guests.settings.root, env_extra=env)
    said = f"{e['lines']:,} anonymous order lines in {e['orders']:,} orders ({e['revenue']:,.2f}"
    said_flat = " ".join(proc.stderr.split())  # the console wraps long messages
    assert said in said_flat and "not in the lifetime values" in said_flat
    assert "GUEST" not in proc.stdout
    rows = json.loads(run("clv", "--as-of", AS_OF, "--format", "json", cwd=guests.settings.root, env_extra=env).stdout)
    assert all(r["customer_id"] not in (None, anonymous_company.GUEST) for r in rows)


def test_a_fit_on_the_boundary_is_refitted_with_a_penalizer_and_says_so():
    # everyone still buying at the end: a runs off to 0 (every customer would be 100% alive)
    x = np.array([3.0, 5, 8, 2, 6, 4] * 20)
    T = np.array([30.0, 32, 35, 31, 36, 33] * 20)
    bg = fit_bgnbd(x, T, T, 0.0, 0.01)
    assert bg.penalizer == 0.01 and bg.params_["a"] > 0.01 and "ended on the boundary" in bg.refit_
    assert bg.to_dict()["refit"] == bg.refit_
    # a fit close to the edge (a -> 0 inside the bounds) is on the boundary too
    assert "100% alive" in boundary(BetaGeo.from_params(0.5, 10.0, 1e-6, 2.0))
    assert boundary(BetaGeo.from_params(0.243, 4.414, 0.793, 2.426)) is None  # CDNOW's published fit
    # with no larger penalizer to refit with, the error stands
    with pytest.raises(ClvError, match="did not converge"):
        fit_bgnbd(x, T, T, 0.0, 0.0)
