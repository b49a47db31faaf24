"""Cross-sell: rules worked out by hand, recommendations, scopes, anonymous customers and an
honest backtest (a hand-scored one, a synthetic one with a planted association, the small demo)."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import date, timedelta
from fractions import Fraction
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import fisher_exact
from sklearn.exceptions import NotFittedError

from salesml import warehouse
from salesml.config import (
    ConfigError,
    CrossSellSettings,
    Settings,
    SourceSettings,
    defaults_as_dict,
    load_settings,
)
from salesml.customers.crosssell import (
    BACKTEST_COLUMNS,
    BASKET_COLUMNS,
    REC_COLUMNS,
    RULE_COLUMNS,
    CrossSell,
    CrossSellError,
    backtest,
    backtest_warehouse,
    baskets,
    data_end,
    purchases,
    recommendations,
)
from salesml.scope import ScopeError
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[1]

#: every rule kept, nothing filtered (the hand-made fixtures are far too small for a test)
LOOSE = dict(min_count=1, min_confidence=0.0, min_lift=0.0, significance=1.0, rules_per_product=0)

# eight baskets; the last-but-one belongs to a walk-in customer (no id)
HAND = [
    ("b1", "c1", {"A", "B", "C"}),
    ("b2", "c1", {"A", "B"}),
    ("b3", "c2", {"A", "C"}),
    ("b4", "c3", {"B", "C"}),
    ("b5", "c4", {"A", "B", "D"}),
    ("b6", "c4", {"D"}),
    ("b7", None, {"A"}),
    ("b8", "c5", {"B", "D"}),
]


def _frame(rows) -> pd.DataFrame:
    """Baskets from (order, customer, products[, date]) rows, one row per order and product."""
    out = []
    for row in rows:
        order, customer, products = row[:3]
        day = row[3] if len(row) > 3 else "2024-01-01"
        out += [(order, customer, pd.Timestamp(day), p) for p in sorted(products)]
    return pd.DataFrame(out, columns=["order_id", "customer_id", "date", "product_id"])


def _expected_rules(rows) -> dict[tuple[str, str], tuple[int, Fraction, Fraction, Fraction]]:
    """(A, C) -> count, support, confidence, lift, counted with sets and Fractions."""
    sets = [r[2] for r in rows]
    n = len(sets)
    items = sorted(set().union(*sets))
    out = {}
    for a, c in permutations(items, 2):
        both = sum(1 for s in sets if a in s and c in s)
        if not both:
            continue
        n_a = sum(1 for s in sets if a in s)
        n_c = sum(1 for s in sets if c in s)
        conf = Fraction(both, n_a)
        out[(a, c)] = (both, Fraction(both, n), conf, conf / Fraction(n_c, n))
    return out


# --------------------------------------------------------------------------- rules


def test_rules_by_hand():
    model = CrossSell(**LOOSE).fit(_frame(HAND))
    expected = _expected_rules(HAND)
    rules = model.rules_
    assert list(rules.columns) == RULE_COLUMNS
    got = {(r.antecedent, r.consequent): r for r in rules.itertuples()}
    assert set(got) == set(expected)
    for key, (count, support, conf, lift) in expected.items():
        r = got[key]
        assert r.count == count
        assert r.support == pytest.approx(float(support), abs=1e-12)
        assert r.confidence == pytest.approx(float(conf), abs=1e-12)
        assert r.lift == pytest.approx(float(lift), abs=1e-12)
    # e.g. A -> B: A in 5 baskets, B in 5, both in 3 of 8: confidence 3/5, lift (3/5) / (5/8) = 24/25
    assert got[("A", "B")].confidence == pytest.approx(0.6)
    assert got[("A", "B")].lift == pytest.approx(24 / 25)
    # p-value: one-sided Fisher exact test on the 2 x 2 table of baskets
    for (a, c), r in got.items():
        sets = [s for _, _, s in HAND]
        table = [
            [sum(a in s and c in s for s in sets), sum(a in s and c not in s for s in sets)],
            [sum(a not in s and c in s for s in sets), sum(a not in s and c not in s for s in sets)],
        ]
        assert r.p_value == pytest.approx(fisher_exact(table, alternative="greater")[1], rel=1e-9)
    # popularity: share of baskets, most popular first, ties by product id (A 5/8, B 5/8, C 3/8, D 3/8)
    assert list(model.popularity_.index) == ["A", "B", "C", "D"]
    assert model.popularity_.tolist() == pytest.approx([5 / 8, 5 / 8, 3 / 8, 3 / 8])
    assert model.n_baskets_ == 8


def test_rule_filters():
    expected = _expected_rules(HAND)
    b = _frame(HAND)

    def kept(**kw) -> set:
        m = CrossSell(**{**LOOSE, **kw}).fit(b)
        return set(zip(m.rules_["antecedent"], m.rules_["consequent"], strict=True))

    assert kept(min_count=3) == {k for k, v in expected.items() if v[0] >= 3}
    assert kept(min_support=0.25) == {k for k, v in expected.items() if v[1] >= Fraction(1, 4)}
    assert kept(min_confidence=0.5) == {k for k, v in expected.items() if v[2] >= Fraction(1, 2)}
    assert kept(min_lift=1.0) == {k for k, v in expected.items() if v[3] >= 1}
    # one rule per antecedent: the one of highest confidence (then lift, then consequent)
    best = {}
    for (a, c), (_, _, conf, lift) in sorted(expected.items()):
        if a not in best or (conf, lift) > best[a][1:]:
            best[a] = (c, conf, lift)
    assert kept(rules_per_product=1) == {(a, v[0]) for a, v in best.items()}
    # a significance test over 4 products finds nothing in 8 baskets
    assert kept(significance=0.05) == set()


# --------------------------------------------------------------------------- recommendations


def test_recommend_excludes_bought_products_and_names_the_rule():
    model = CrossSell(**LOOSE, fallback="none").fit(_frame(HAND))
    history = pd.DataFrame({"customer_id": ["x", "y", "y"], "product_id": ["A", "B", "D"]})
    recs = model.recommend(history, k=3)
    assert list(recs.columns) == REC_COLUMNS
    bought = set(zip(history["customer_id"], history["product_id"], strict=True))
    assert not bought & set(zip(recs["customer_id"], recs["product_id"], strict=True))
    rules = model.rules_.set_index(["antecedent", "consequent"])
    for r in recs.itertuples():
        assert r.basis == "rules"
        assert (r.customer_id, r.because_product_id) in bought
        rule = rules.loc[(r.because_product_id, r.product_id)]
        assert (r.confidence, r.lift) == pytest.approx((rule["confidence"], rule["lift"]))
    # x bought A: B (3/5 x 24/25), C (2/5 x 16/15), D (1/5 x 8/15) -- by confidence x lift
    x = recs[recs["customer_id"] == "x"]
    assert x["product_id"].tolist() == ["B", "C", "D"] and x["rank"].tolist() == [1, 2, 3]
    assert x["score"].tolist() == pytest.approx([3 / 5 * 24 / 25, 2 / 5 * 16 / 15, 1 / 5 * 8 / 15])
    # y bought B and D: A reached from both (summed), C from B only
    y = recs[recs["customer_id"] == "y"].set_index("product_id")
    e = _expected_rules(HAND)
    a_score = sum(float(e[(p, "A")][2] * e[(p, "A")][3]) for p in ("B", "D"))
    assert y.loc["A", "score"] == pytest.approx(a_score)
    assert y.loc["A", "because_product_id"] == "B"  # B -> A adds 3/5 x 24/25, D -> A only 1/3 x 8/15
    assert set(y.index) == {"A", "C"}
    # "best": the best single rule's confidence
    best = CrossSell(**LOOSE, fallback="none", scoring="best").fit(_frame(HAND)).recommend(history, k=3)
    yb = best[best["customer_id"] == "y"].set_index("product_id")
    assert yb.loc["A", "score"] == pytest.approx(float(max(e[("B", "A")][2], e[("D", "A")][2])))


def test_anonymous_customers_get_nothing_but_teach_the_rules():
    b = _frame([("o1", "GUEST", {"P", "Q"}), ("o2", None, {"P", "Q"}), ("o3", "", {"P", "Q"}), ("o4", "c1", {"P"}), ("o5", "c2", {"R"})])
    model = CrossSell(**LOOSE, fallback="none").fit(b)
    # only the anonymous baskets hold P and Q together: they teach P -> Q
    assert ("P", "Q") in set(zip(model.rules_["antecedent"], model.rules_["consequent"], strict=True))
    recs = model.recommend(b, k=2, anonymous=("GUEST",))
    assert recs["customer_id"].tolist() == ["c1"]
    assert recs["product_id"].tolist() == ["Q"] and recs["because_product_id"].tolist() == ["P"]
    # an id not named anonymous is a customer like any other
    assert set(CrossSell(**LOOSE).fit(b).recommend(b, k=2)["customer_id"]) == {"GUEST", "c1", "c2"}
    assert set(model.popular(b, k=2, anonymous=["GUEST"])["customer_id"]) == {"c1", "c2"}
    only_anonymous = b[~b["customer_id"].isin(["c1", "c2"])]
    for recs in (model.recommend(only_anonymous, anonymous=("GUEST",)), model.popular(only_anonymous, anonymous=("GUEST",))):
        assert recs.empty and list(recs.columns) == REC_COLUMNS


def test_fallbacks_fill_short_lists():
    rows = [
        ("o1", "c1", {"A", "B"}),
        ("o2", "c2", {"A", "B"}),
        ("o3", "c3", {"C"}),
        ("o4", "c3", {"C", "E"}),
        ("o5", "c4", {"D", "F"}),
        ("o6", "c4", {"D"}),
    ]
    b = _frame(rows)
    b["category"] = b["product_id"].map({"A": "tools", "B": "tools", "C": "paper", "D": "paper", "E": "ink", "F": "tools"})
    strict = dict(LOOSE, min_count=2)  # the one rule pair kept: A <-> B
    history = pd.DataFrame({"customer_id": ["n", "n", "n"], "product_id": ["A", "C", "D"]})
    # rules only: n gets B (from A) and nothing else
    none = CrossSell(**strict, fallback="none").fit(b).recommend(history, k=3)
    assert none["product_id"].tolist() == ["B"] and none["basis"].tolist() == ["rules"]
    # a history no rule matches gets nothing from rules
    assert CrossSell(**strict, fallback="none").fit(b).recommend(history[history["product_id"] != "A"]).empty
    # popular: then the most popular not bought (A, B, C, D in 2 of 6 baskets, E and F in 1), ties by id
    pop = CrossSell(**strict, fallback="popular").fit(b).recommend(history, k=3)
    assert pop["product_id"].tolist() == ["B", "E", "F"]
    assert pop["basis"].tolist() == ["rules", "popular", "popular"]
    assert pop["because_product_id"].tolist()[1:] == [None, None] and pop["confidence"].isna().tolist() == [False, True, True]
    assert pop["score"].tolist()[1:] == pytest.approx([1 / 6, 1 / 6])
    # category: n's mix (tools 1, paper 2 of 3 products, shrunk by 1 pseudo-product towards the company's)
    # ranks F (tools) above E (ink): share(tools) x pop(F)/pop(tools) vs share(ink) x 1
    cat = CrossSell(**strict, fallback="category", category_prior=1.0).fit(b).recommend(history, k=3)
    assert cat["product_id"].tolist() == ["B", "F", "E"]
    assert cat["basis"].tolist() == ["rules", "category", "category"]
    pop_share = {"tools": Fraction(5, 6), "paper": Fraction(4, 6), "ink": Fraction(1, 6)}
    total = sum(pop_share.values())
    share = {g: (Fraction(c) + pop_share[g] / total) / (3 + 1) for g, c in (("tools", 1), ("paper", 2), ("ink", 0))}
    assert cat["score"].tolist()[1:] == pytest.approx(
        [float(share["tools"] * Fraction(1, 6) / pop_share["tools"]), float(share["ink"] * 1)]
    )
    # without categories the category fallback is the popularity ranking
    plain = CrossSell(**strict, fallback="category").fit(b.drop(columns="category")).recommend(history, k=3)
    assert plain["product_id"].tolist() == pop["product_id"].tolist()
    # never more than there is to recommend, never a product bought
    every = CrossSell(**strict).fit(b).recommend(history, k=50)
    assert sorted(every["product_id"]) == ["B", "E", "F"] and every["rank"].tolist() == [1, 2, 3]


def test_popular_baseline():
    model = CrossSell(**LOOSE).fit(_frame(HAND))
    got = model.popular(pd.DataFrame({"customer_id": ["x", "x"], "product_id": ["A", "C"]}), k=3)
    assert got["product_id"].tolist() == ["B", "D"]  # A and C bought; only 4 products
    assert set(got["basis"]) == {"popular"} and got["score"].tolist() == pytest.approx([5 / 8, 3 / 8])


def test_not_fitted_and_bad_parameters():
    h = pd.DataFrame({"customer_id": ["x"], "product_id": ["A"]})
    with pytest.raises(NotFittedError, match="not fitted yet: call fit"):
        CrossSell().recommend(h)
    with pytest.raises(NotFittedError):
        CrossSell().popular(h)
    b = _frame(HAND)
    for bad, match in [
        (dict(min_count=0), "min_count"),
        (dict(min_confidence=1.5), "min_confidence"),
        (dict(significance=0), "significance"),
        (dict(scoring="max"), "scoring must be one of 'sum', 'best'"),
        (dict(fallback="random"), "fallback"),
        (dict(top_k=0), "top_k"),
        (dict(category_prior=-1), "category_prior"),
    ]:
        with pytest.raises(CrossSellError, match=match):
            CrossSell(**bad).fit(b)
    with pytest.raises(CrossSellError, match="lack column"):
        CrossSell().fit(b.drop(columns="product_id"))
    with pytest.raises(CrossSellError, match="no baskets"):
        CrossSell().fit(b.iloc[0:0])
    with pytest.raises(CrossSellError, match="k must be"):
        CrossSell(**LOOSE).fit(b).recommend(h, k=0)


def test_inputs_are_not_changed():
    b = _frame(HAND).assign(category="x")
    h = pd.DataFrame({"customer_id": ["x", None, "y"], "product_id": ["A", "B", "D"]})
    before_b, before_h = b.copy(deep=True), h.copy(deep=True)
    model = CrossSell(**LOOSE).fit(b)
    model.recommend(h)
    model.popular(h)
    purchases(h)
    backtest(b, "2024-01-02", 30, 2, model, bootstrap=10)
    pd.testing.assert_frame_equal(b, before_b)
    pd.testing.assert_frame_equal(h, before_h)
    assert model.n_baskets_ == 8  # the backtest fitted a copy


# --------------------------------------------------------------------------- backtest


def test_backtest_by_hand():
    """Six baskets before 2024-02-01; in the 30 days from it c3 buys B and C (both new), c4 C and D
    (D new), c2 only what it had, c5 is new; c1's purchase in March is past the horizon."""
    b = _frame(
        [
            ("o1", "c1", {"A", "B"}, "2024-01-05"),
            ("o2", "c2", {"A", "B"}, "2024-01-06"),
            ("o3", "c3", {"A"}, "2024-01-07"),
            ("o4", None, {"C", "D"}, "2024-01-08"),
            ("o5", "c4", {"C"}, "2024-01-09"),
            ("o6", "c1", {"D"}, "2024-01-10"),
            ("o7", "c3", {"B", "C"}, "2024-02-03"),
            ("o8", "c4", {"C", "D"}, "2024-02-04"),
            ("o9", "c2", {"A"}, "2024-02-05"),
            ("o10", "c5", {"A"}, "2024-02-06"),
            ("o11", "c1", {"C"}, "2024-03-15"),
        ]
    )
    model = CrossSell(**LOOSE, fallback="popular")
    # k = 1: the model gives c3 B (A -> B) and c4 D (C -> D); popularity gives c3 B, c4 A (A 3/6 first)
    r1 = backtest(b, "2024-02-01", 30, 1, model, bootstrap=50).set_index("method")
    assert list(backtest(b, "2024-02-01", 30, 1, model, bootstrap=0).columns) == BACKTEST_COLUMNS
    assert r1["customers"].tolist() == [2, 2] and r1["train_baskets"].tolist() == [6, 6]
    assert r1.loc["crosssell", ["hit_rate", "precision_at_k", "recall_at_k"]].tolist() == pytest.approx([1, 1, 0.75])
    assert r1.loc["popularity", ["hit_rate", "precision_at_k", "recall_at_k"]].tolist() == pytest.approx([0.5, 0.5, 0.25])
    assert r1.loc["crosssell", "hit_rate_gain"] == pytest.approx(0.5)
    assert r1.loc["crosssell", "rules_share"] == 1.0 and r1.loc["popularity", "rules_share"] == 0.0
    assert np.isnan(r1.loc["popularity", "hit_rate_gain"])
    # k = 2: model c3 [B, C] (2 hits), c4 [D, A] (1); popularity c3 [B, C] (2), c4 [A, B] (0)
    r2 = backtest(b, "2024-02-01", 30, 2, model, bootstrap=0).set_index("method")
    assert r2.loc["crosssell", ["hit_rate", "precision_at_k", "recall_at_k"]].tolist() == pytest.approx([1, 0.75, 1])
    assert r2.loc["popularity", ["hit_rate", "precision_at_k", "recall_at_k"]].tolist() == pytest.approx([0.5, 0.5, 0.5])
    assert r2.loc["crosssell", "rules_share"] == pytest.approx(0.5)
    assert r2.loc["crosssell", "rule_hits_share"] == pytest.approx(2 / 3)
    with pytest.raises(CrossSellError, match="no sales before the cutoff"):
        backtest(b, "2023-12-01", 30, 1, model)
    with pytest.raises(CrossSellError, match="horizon_days"):
        backtest(b, "2024-02-01", 0, 1, model)


def _planted(seed: int = 3, customers: int = 500, products: int = 20):
    """Customers buy products by popularity (P07 among the popular ones, P13 rare); P07 buyers
    also take P13 in half of those baskets, and those who had not bought P13 by day 180 buy it in
    the 90 days after with chance 0.9. Half the customers buy one product at random in those days too."""
    rng = np.random.default_rng(seed)
    names = np.array([f"P{i:02d}" for i in range(products)])
    weight = 1 / np.arange(1, products + 1)
    weight[7], weight[13] = weight[2], weight[-1]
    weight /= weight.sum()
    rows, n_order, start = [], 0, pd.Timestamp("2024-01-01")

    def order(customer, day, items):
        nonlocal n_order
        n_order += 1
        rows.extend((f"O{n_order}", customer, start + pd.Timedelta(days=int(day)), p) for p in sorted(items))

    def draw():
        return set(rng.choice(names, size=rng.integers(1, 3), replace=False, p=weight))

    for c in range(customers):
        cid = f"C{c:03d}"
        has_a = has_b = False
        for _ in range(rng.integers(2, 5)):
            items = draw()
            if "P07" in items and rng.random() < 0.5:
                items.add("P13")
            has_a |= "P07" in items
            has_b |= "P13" in items
            order(cid if rng.random() > 0.1 else None, rng.integers(0, 180), items)
        if rng.random() < 0.5:
            order(cid, rng.integers(180, 270), {rng.choice(names)})
        if has_a and not has_b and rng.random() < 0.9:
            order(cid, rng.integers(180, 270), {"P13"})
    return pd.DataFrame(rows, columns=["order_id", "customer_id", "date", "product_id"])


def test_backtest_finds_a_planted_association():
    lines = _planted()
    cutoff = pd.Timestamp("2024-01-01") + pd.Timedelta(days=180)
    model = CrossSell()  # the defaults: significant rules only, then the category fallback
    fitted = CrossSell().fit(lines[lines["date"] < cutoff])
    rules = set(zip(fitted.rules_["antecedent"], fitted.rules_["consequent"], strict=True))
    assert ("P07", "P13") in rules and ("P13", "P07") in rules
    assert len(rules) <= 4  # chance co-occurrences among 20 products do not pass the test
    result = backtest(lines, cutoff, 90, 3, model, bootstrap=200, random_state=1).set_index("method")
    m, p = result.loc["crosssell"], result.loc["popularity"]
    assert m["customers"] == p["customers"] > 200
    assert m["hit_rate"] > p["hit_rate"] and m["precision_at_k"] > p["precision_at_k"] and m["recall_at_k"] > p["recall_at_k"]
    assert m["gain_low"] > 0, result  # the gain is beyond the noise
    assert m["rule_hits_share"] > 0
    # the same with the warehouse frame's optional category column absent or present
    again = backtest(lines.assign(category=None), cutoff, 90, 3, model, bootstrap=200, random_state=1)
    pd.testing.assert_frame_equal(again.set_index("method"), result)


# --------------------------------------------------------------------------- the warehouse

_LEDGER = [
    # entry, kind, rep, order, line, customer, product, day, amount
    (1, "sale", "R1", "o1", 1, "c1", "A", "2024-01-05", 10),
    (2, "sale", "R1", "o1", 2, "c1", "B", "2024-01-05", 10),
    (3, "sale", "R1", "o2", 1, "c2", "A", "2024-01-06", 10),
    (4, "sale", "R1", "o2", 2, "c2", "B", "2024-01-06", 10),
    (5, "sale", "R2", "o3", 1, "c3", "A", "2024-01-07", 10),
    (6, "sale", "R2", "o3", 2, "c3", "B", "2024-01-07", 10),
    (7, "sale", "R2", "o4", 1, "c3", "A", "2024-01-08", 10),
    (8, "sale", "R1", "o5", 1, None, "A", "2024-01-09", 10),
    (9, "sale", "R1", "o5", 2, None, "B", "2024-01-09", 10),
    (10, "sale", "R1", "o6", 1, "GUEST", "C", "2024-01-10", 10),
    (11, "sale", "R1", "o6", 2, "GUEST", "A", "2024-01-10", 10),
    (12, "sale", "R1", "o7", 1, "c2", "A", "2024-01-11", 10),
    (13, "sale", "R1", "o7", 2, "c2", "D", "2024-01-11", 0),  # a free line: no sale
    (14, "return", "R1", "r1", 1, "c1", "C", "2024-01-12", -10),
    (15, "sale", "R2", "o8", 1, "c1", "C", "2024-03-01", 10),  # after the as-of day
    (16, "sale", "R2", "o8", 2, "c1", "A", "2024-03-01", 10),
]


@pytest.fixture
def tiny(tmp_path) -> Settings:
    """A warehouse with two reps, three customers, a walk-in (NULL) and a guest (GUEST) sale."""
    s = dataclasses.replace(make_settings(tmp_path), sources={"shop": SourceSettings(anonymous_customer="GUEST")})
    with warehouse.open(s) as con:
        con.executemany(
            "INSERT INTO reps (rep_id, name, team, region, batch_id) VALUES (?, ?, ?, ?, 1)",
            [("R1", "One", "T1", "East"), ("R2", "Two", "T2", "West")],
        )
        con.executemany(
            "INSERT INTO products (product_id, name, category, batch_id) VALUES (?, ?, ?, 1)",
            [("A", "a", "tools"), ("B", "b", "tools"), ("C", "c", "paper")],
        )
        team = {"R1": ("T1", "East"), "R2": ("T2", "West")}
        con.executemany(
            """INSERT INTO ledger (entry_id, period, origin_period, kind, rep_id, team, region, order_id, line_no,
                                   customer_id, product_id, credit_date, event_date, share, amount, margin, posted_at, post_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, 0, TIMESTAMP '2024-04-01 00:00:00', 'p')""",
            [
                (e, d[:7], d[:7], k, r, *team[r], o, ln, c, p, date.fromisoformat(d), date.fromisoformat(d), a)
                for e, k, r, o, ln, c, p, d, a in _LEDGER
            ],
        )
    return s


def test_baskets_from_the_ledger(tiny):
    with warehouse.open(tiny, read_only=True) as con:
        b = baskets(con, "2024-02-01", None, tiny)
        assert list(b.columns) == BASKET_COLUMNS
        # sales only (no return, no free line), on or before the day; anonymous ids become NULL
        assert sorted(b["order_id"].unique()) == ["o1", "o2", "o3", "o4", "o5", "o6", "o7"]
        assert set(zip(b["order_id"], b["product_id"], strict=True)) >= {("o6", "C"), ("o7", "A")}
        assert ("o7", "D") not in set(zip(b["order_id"], b["product_id"], strict=True))
        assert b.loc[b["order_id"].isin(["o5", "o6"]), "customer_id"].isna().all()
        assert b.set_index(["order_id", "product_id"]).loc[("o6", "C"), "category"] == "paper"
        rep = baskets(con, "2024-02-01", "rep:R1", tiny)
        assert set(rep["order_id"]) == {"o1", "o2", "o5", "o6", "o7"}
        assert set(baskets(con, None, "team:T2", tiny)["order_id"]) == {"o3", "o4", "o8"}
        assert data_end(con) == date(2024, 3, 1)
        with pytest.raises(ScopeError):
            baskets(con, None, "rep:R9", tiny)


def test_recommendations_within_a_scope(tiny):
    model = CrossSell(**LOOSE)
    with warehouse.open(tiny, read_only=True) as con:
        company = recommendations(con, "2024-02-01", None, tiny, k=3, model=model)
        rep = recommendations(con, "2024-02-01", "rep:R1", tiny, k=3, model=model)
        west = recommendations(con, "2024-02-01", "region:West", tiny, k=3, model=model)
    # the walk-in and the guest get nothing, in any scope
    assert set(company["customer_id"]) == {"c1", "c2", "c3"}
    assert set(rep["customer_id"]) == {"c1", "c2"}  # c3 buys from R2 only
    assert set(west["customer_id"]) == {"c3"}
    # C was only ever bought by the guest: the anonymous basket taught A -> C
    c3 = west.set_index("product_id")
    assert list(c3.index) == ["C"] and c3.loc["C", "because_product_id"] == "A" and c3.loc["C", "basis"] == "rules"
    # c1's later purchase of C (March) is not known on 2024-02-01: C is still recommended to c1
    assert "C" in set(rep.loc[rep["customer_id"] == "c1", "product_id"])


def test_the_company_model_is_fitted_once_per_data_and_day(tiny):
    from salesml.customers import crosssell as X

    with warehouse.open(tiny, read_only=True) as con:
        first = X.company_model(con, "2024-02-01", tiny)
        assert X.company_model(con, "2024-02-01", tiny) is first  # the next page of a fan-out reuses it
        assert X.company_model(con, "2024-03-01", tiny) is not first  # another day, another model
        same = recommendations(con, "2024-02-01", "rep:R1", tiny)
    with warehouse.open(tiny) as con:  # new sales posted: the ledger changed
        con.execute("UPDATE ledger SET posted_at = posted_at + INTERVAL 1 DAY WHERE entry_id = (SELECT max(entry_id) FROM ledger)")
    with warehouse.open(tiny, read_only=True) as con:
        assert X.company_model(con, "2024-02-01", tiny) is not first
        pd.testing.assert_frame_equal(recommendations(con, "2024-02-01", "rep:R1", tiny), same)


def test_backtest_warehouse_checks_the_horizon(tiny):
    with warehouse.open(tiny, read_only=True) as con:
        with pytest.raises(CrossSellError, match="past the last sale"):
            backtest_warehouse(con, "2024-02-01", 90, 2, settings=tiny)
        r = backtest_warehouse(con, "2024-02-01", 30, 2, settings=tiny, model=CrossSell(**LOOSE))
    # in [Feb 1, Mar 2) only c1 buys (C and A on Mar 1): one customer with a new product, C
    assert r["customers"].tolist() == [1, 1]


def test_small_demo_end_to_end(small_demo):
    """Read the small demo's baskets and backtest the default model on its last 90 days."""
    with warehouse.open(small_demo, read_only=True) as con:
        last = data_end(con)
        b = baskets(con, last, None, small_demo)
        result = backtest_warehouse(con, None, 90, 5, settings=small_demo)
    assert len(b) and b["customer_id"].notna().any() and b["category"].notna().all()
    assert result["cutoff"].tolist() == [last - timedelta(days=89)] * 2
    r = result.set_index("method")
    assert r["customers"].nunique() == 1 and r["customers"].iloc[0] >= 100
    for col in ("hit_rate", "precision_at_k", "recall_at_k"):
        assert r[col].between(0, 1).all()
    assert (r["hit_rate"] >= r["precision_at_k"]).all()
    # measured (seed 7, end 2026-06-30): the model 0.500 vs popularity 0.505 hit rate on 220
    # customers -- on this little data the two are within the noise, and the interval says so
    assert r.loc["crosssell", "gain_low"] < r.loc["crosssell", "hit_rate_gain"] < r.loc["crosssell", "gain_high"]
    assert abs(r.loc["crosssell", "hit_rate"] - r.loc["popularity", "hit_rate"]) < 0.1


# --------------------------------------------------------------------------- settings


def test_settings_section_and_checks(tmp_path, no_config):
    data = tomllib.loads((ROOT / "salesml.toml").read_text(encoding="utf-8"))
    assert data["crosssell"] == defaults_as_dict()["crosssell"]
    assert CrossSell.from_settings(Settings()).get_params() == CrossSell().get_params()
    assert CrossSell.from_settings(CrossSellSettings(top_k=7, fallback="none")).top_k == 7
    for text, message in [
        ("fallback = 'random'", "crosssell.fallback must be one of 'category', 'popular', 'none'"),
        ("scoring = 'max'", "crosssell.scoring"),
        ("min_confidence = 1.5", "crosssell.min_confidence must be a fraction"),
        ("significance = 0", "crosssell.significance"),
        ("min_count = 0", "crosssell.min_count must be 1 or more"),
        ("top_k = 0", "crosssell.top_k"),
        ("category_prior = -1", "crosssell.category_prior"),
        ("min_lift = -0.5", "crosssell.min_lift"),
    ]:
        cfg = tmp_path / "salesml.toml"
        cfg.write_text(f"[crosssell]\n{text}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
            load_settings(cfg)
