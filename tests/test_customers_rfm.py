"""RFM: recency, frequency, monetary value, scores and segments, worked out by hand."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from salesml import warehouse
from salesml.config import ConfigError, SegmentSettings, load_settings
from salesml.customers.rfm import (
    COLUMNS,
    SegmentError,
    default_as_of,
    left_out,
    rfm,
    rfm_from_transactions,
    score,
    score_matrix,
    transactions,
)
from salesml.scope import ScopeError
from tests import anonymous_company

R = SegmentSettings.SegmentRule


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "date", "amount"])


TX = _tx(
    [
        # A: two purchases; O2 has two lines and a return of one of them (booked on O2)
        ("A", "O1", "2024-01-10", 100.0),
        ("A", "O2", "2024-03-01", 50.0),
        ("A", "O2", "2024-03-01", 30.0),
        ("A", "O2", "2024-03-01", -30.0),
        # B: one purchase; O4 fully returned (not a purchase); an unlinked return R9 (its own order)
        ("B", "O3", "2024-02-15", 200.0),
        ("B", "O4", "2024-03-20", 80.0),
        ("B", "O4", "2024-03-20", -80.0),
        ("B", "R9", "2024-03-25", -20.0),
        # C: a purchase on the as-of day counts; one after it does not
        ("C", "O5", "2024-03-31", 40.0),
        ("C", "O6", "2024-04-02", 500.0),
        # D: everything returned: no purchase, no row; anonymous lines are ignored
        ("D", "O7", "2024-01-05", 60.0),
        ("D", "O7", "2024-01-05", -60.0),
        (None, "O8", "2024-03-01", 999.0),
    ]
)


def test_rfm_by_hand():
    """As of 2024-03-31 (2024 is a leap year: February has 29 days).

    A: purchases O1 (01-10, 100) and O2 (03-01, 50 + 30 - 30 = 50) -> F = 2, M = 150,
       recency = Mar 1 -> Mar 31 = 30 days, tenure = Jan 10 -> Mar 31 = 21 + 29 + 31 = 81 days.
    B: O3 (02-15, 200); O4 nets to 0 (no purchase); R9 = -20 nets into M -> F = 1,
       M = 200 + 0 - 20 = 180, recency = tenure = Feb 15 -> Mar 31 = 14 + 31 = 45 days.
    C: O5 on the as-of day (O6 comes later) -> F = 1, M = 40, recency = tenure = 0.
    D: nothing left after the return -> no row.

    Scores (n = 3; score = 1 + floor(5 (rank - 1/2) / 3), ties share the average rank):
      R (fewer days is better): B rank 1 -> 1 + floor(5/6) = 1; A rank 2 -> 1 + floor(2.5) = 3;
        C rank 3 -> 1 + floor(25/6) = 5.
      F: B and C tie at ranks 1, 2 -> 1.5 -> 1 + floor(5/3) = 2; A rank 3 -> 5.
      M: C 40 -> 1, A 150 -> 3, B 180 -> 5.
      FM = (F + M) / 2 rounded half up: A (5 + 3) / 2 = 4; B (2 + 5) / 2 = 3.5 -> 4; C (2 + 1) / 2 = 1.5 -> 2.
    Segments (default map): A R3 FM4 -> Loyal; B R1 FM4 -> At risk; C R5 FM2 -> Potential loyalists.
    """
    df = rfm_from_transactions(TX, "2024-03-31")
    assert list(df.columns) == COLUMNS
    got = df.set_index("customer_id")
    assert list(got.index) == ["A", "B", "C"]
    assert got["frequency"].tolist() == [2, 1, 1]
    assert got["monetary"].tolist() == [150.0, 180.0, 40.0]
    assert got["recency_days"].tolist() == [30, 45, 0]
    assert got["tenure_days"].tolist() == [81, 45, 0]
    assert got["first_purchase"].dt.strftime("%Y-%m-%d").tolist() == ["2024-01-10", "2024-02-15", "2024-03-31"]
    assert got["last_purchase"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-01", "2024-02-15", "2024-03-31"]
    assert got["r_score"].tolist() == [3, 1, 5]
    assert got["f_score"].tolist() == [5, 2, 2]
    assert got["m_score"].tolist() == [3, 5, 1]
    assert got["fm_score"].tolist() == [4, 4, 2]
    assert got["rfm"].tolist() == ["353", "125", "521"]
    assert got["segment"].tolist() == ["Loyal", "At risk", "Potential loyalists"]
    # F alone as the map's second axis: A R3 F5 -> Loyal, B R1 F2 -> Lost, C R5 F2 -> Potential loyalists
    f_only = rfm_from_transactions(TX, "2024-03-31", SegmentSettings(fm_score="f"))
    assert f_only["segment"].tolist() == ["Loyal", "Lost", "Potential loyalists"]


def test_rfm_is_pure_and_order_free():
    before = TX.copy()
    a = rfm_from_transactions(TX, "2024-03-31")
    pd.testing.assert_frame_equal(TX, before)  # the input is not changed
    shuffled = rfm_from_transactions(TX.sample(frac=1.0, random_state=3), pd.Timestamp("2024-03-31"))
    pd.testing.assert_frame_equal(a, shuffled)
    assert rfm_from_transactions(TX, "2023-12-31").empty  # nothing bought yet
    assert list(rfm_from_transactions(TX, "2023-12-31").columns) == COLUMNS
    with pytest.raises(SegmentError, match="lack column"):
        rfm_from_transactions(TX.drop(columns=["order_id"]), "2024-03-31")
    with pytest.raises(SegmentError, match="YYYY-MM-DD"):
        rfm_from_transactions(TX, "31/03/2024")


def test_scores_with_many_ties():
    """900 one-order customers with the same spend, 100 others: ``pd.qcut`` fails on the ties,
    the scores do not, tied customers share a score, and the order of rows does not matter."""
    freq = pd.Series([1] * 900 + list(range(2, 102)))
    with pytest.raises(ValueError, match="Bin edges must be unique"):
        pd.qcut(freq, 5, labels=False)
    s = score(freq)
    assert s.between(1, 5).all()
    # the 900 tied customers: mean rank 450.5, p = 450 / 1000 -> 1 + floor(2.25) = 3
    assert set(s[:900]) == {3}
    # the rest rank 901..1000: p from 0.9005 -> 5
    assert set(s[900:]) == {5}
    shuffled = freq.sample(frac=1.0, random_state=1)
    assert score(shuffled).sort_index().tolist() == s.tolist()
    # everyone equal: everyone in the middle; distinct values: exact quintiles
    assert set(score(pd.Series([7.5] * 11))) == {3}
    assert score(pd.Series(range(10))).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert score(pd.Series(range(10)), higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    # a whole RFM table of identical customers: all R3 F3 M3 -> Need attention
    same = _tx([(f"c{i}", f"o{i}", "2024-01-01", 10.0) for i in range(40)])
    t = rfm_from_transactions(same, "2024-02-01")
    assert set(t["rfm"]) == {"333"} and set(t["segment"]) == {"Need attention"}


def test_scores_against_a_reference():
    """Ranked among reference values 1..5: 0 is below all (p = 0) -> 1; 3 has two below and one
    equal (p = 2.5 / 5) -> 1 + floor(2.5) = 3; 100 is above all (p = 1) -> 5 (capped)."""
    assert score(pd.Series([0, 3, 100]), reference=pd.Series([1, 2, 3, 4, 5])).tolist() == [1, 3, 5]
    assert score(pd.Series([0, 3, 100]), higher_is_better=False, reference=pd.Series([1, 2, 3, 4, 5])).tolist() == [5, 3, 1]


def test_score_matrix():
    df = rfm_from_transactions(TX, "2024-03-31")
    counts = score_matrix(df)
    assert counts.shape == (5, 5) and list(counts.index) == [5, 4, 3, 2, 1] and list(counts.columns) == [1, 2, 3, 4, 5]
    assert counts.loc[3, 5] == 1 and counts.loc[1, 2] == 1 and counts.loc[5, 2] == 1 and counts.to_numpy().sum() == 3
    revenue = score_matrix(df, "revenue")
    assert revenue.loc[1, 2] == 180.0 and revenue.to_numpy().sum() == 370.0


# --------------------------------------------------------------------------- the segment map


def test_default_map_covers_every_pair_once():
    s = SegmentSettings()
    s.check()
    grid = s.score_grid()
    assert len(grid) == 25
    assert set(grid.values()) == set(s.segment_names())
    assert s.segment_names() == (
        "Champions", "Loyal", "Potential loyalists", "New", "Promising", "Need attention", "About to sleep",
        "Can't lose", "At risk", "Hibernating", "Lost",
    )  # fmt: skip
    assert grid[(5, 5)] == "Champions" and grid[(5, 1)] == "New" and grid[(1, 5)] == "Can't lose" and grid[(1, 1)] == "Lost"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ((R("Good", (3, 5), (1, 5)),), r"10 score pair\(s\) have no segment: R=1 FM=1, R=1 FM=2, .*R=2 FM=5"),
        ((R("All", (1, 5), (1, 5)), R("Never", (5, 5), (5, 5))), r"rules\[1\] \(Never\): never applies"),
        ((R("Bad", (0, 5), (1, 5)),), r"rules\[0\]\.r \(Bad\): must be \[low, high\]"),
        ((R("Bad", (1, 5), (4, 2)),), r"rules\[0\]\.fm \(Bad\): must be \[low, high\]"),
        ((R("Bad", (1, 5, 5), (1, 5)),), r"rules\[0\]\.r"),
        ((R("", (1, 5), (1, 5)),), r"rules\[0\]\.name: a rule needs a segment name"),
        ((), r"needs at least one rule"),
    ],
)
def test_bad_segment_maps_are_config_errors(rules, message):
    with pytest.raises(ConfigError, match=message):
        SegmentSettings(rules=rules, win_back=()).check("my.toml")


def test_other_segment_settings_are_checked():
    with pytest.raises(ConfigError, match="fm_score must be 'mean' or 'f'"):
        SegmentSettings(fm_score="avg").check()
    with pytest.raises(ConfigError, match="k_range"):
        SegmentSettings(k_range=(1, 4)).check()
    with pytest.raises(ConfigError, match="label_low and label_high"):
        SegmentSettings(label_low=4.0, label_high=3.0).check()
    with pytest.raises(ConfigError, match="win_back: 'Sleepers' not a segment"):
        SegmentSettings(win_back=("Sleepers",)).check()


def test_a_users_map_from_the_config_file(tmp_path, no_config):
    """A map of three segments (a segment of two rules: an L shape) changes the segments;
    a map with a gap is an error naming the file and the pairs."""
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        "[segments]\n"
        'fm_score = "f"\n'
        'win_back = ["Slipping"]\n'
        "rules = [\n"
        '  { name = "Best", r = [4, 5], fm = [4, 5] },\n'
        '  { name = "Slipping", r = [1, 3], fm = [3, 5] },\n'
        '  { name = "Slipping", r = [3, 3], fm = [1, 2] },\n'
        '  { name = "Rest", r = [1, 5], fm = [1, 5] },\n'
        "]\n",
        encoding="utf-8",
    )
    s = load_settings(cfg)
    assert s.segments.segment_names() == ("Best", "Slipping", "Rest")
    # A R3 F5 -> Slipping; B R1 F2 -> Rest; C R5 F2 -> Rest
    assert rfm_from_transactions(TX, "2024-03-31", s.segments)["segment"].tolist() == ["Slipping", "Rest", "Rest"]
    cfg.write_text('[segments]\nwin_back = []\nrules = [{ name = "Best", r = [2, 5], fm = [1, 5] }]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"salesml.toml: segments.rules: 5 score pair\(s\) have no segment: R=1 FM=1"):
        load_settings(cfg)


# --------------------------------------------------------------------------- from the warehouse


def test_rfm_from_the_ledger_by_hand(toy):
    """The toy company (tests/data/toy), as of 2024-02-29, from the ledger:

    C1: SO1 (01-10, 100 + 50), SO7 (02-10, 200), SO9 (02-12, 10, no rep) -> F 3, M 360,
        recency 17 (Feb 12 -> 29), tenure 21 + 29 = 50.
    C2: SO2 (01-20, 200 - 50 returned by RT1 on 02-03), SO5 (02-05, 50 - 50 returned by RT2:
        not a purchase), SO6 (02-20, 100) -> F 2, M 250, recency 9, tenure 11 + 29 = 40.
    C3: SO3 (01-25, 50), SO8 (02-11, 200); SO4 was cancelled -> F 2, M 250, recency 18, tenure 35.
    R: C1 17 days -> rank 2 -> 3; C2 9 days -> 5; C3 18 days -> 1. F: C2 and C3 tie -> 2; C1 -> 5.
    M: C2 and C3 tie -> 2; C1 -> 5. FM: C1 5, C2 2, C3 2.
    Segments: C1 R3 FM5 Loyal; C2 R5 FM2 Potential loyalists; C3 R1 FM2 Lost.
    """
    with warehouse.connect(toy.warehouse_path, read_only=True) as con:
        df = rfm(con, "2024-02-29", settings=toy).set_index("customer_id")
        early = rfm(con, "2024-01-31", settings=toy).set_index("customer_id")
        r1 = rfm(con, "2024-02-29", "rep:R1", toy).set_index("customer_id")
        r2 = rfm(con, "2024-02-29", "rep:R2", toy).set_index("customer_id")
        assert default_as_of(con).isoformat() == "2024-01-31"  # data ends 2024-02-25
        tx = transactions(con, "2024-02-29", settings=toy)
        with pytest.raises(ScopeError, match="no rep 'R99'"):
            rfm(con, "2024-02-29", "rep:R99", toy)
    assert df["frequency"].to_dict() == {"C1": 3, "C2": 2, "C3": 2}
    assert df["monetary"].to_dict() == {"C1": 360.0, "C2": 250.0, "C3": 250.0}
    assert df["recency_days"].to_dict() == {"C1": 17, "C2": 9, "C3": 18}
    assert df["tenure_days"].to_dict() == {"C1": 50, "C2": 40, "C3": 35}
    assert df["rfm"].to_dict() == {"C1": "355", "C2": "522", "C3": "122"}
    assert df["segment"].to_dict() == {"C1": "Loyal", "C2": "Potential loyalists", "C3": "Lost"}
    # the returns are booked on the orders they reverse
    assert tx.set_index("order_id").loc[["SO2", "SO5"], "amount"].tolist() == [150.0, 0.0]
    # As of 2024-01-31, RT1 (returned on 02-03) has not happened: SO2 still counts 200.
    # C1 21 days, C2 11, C3 6 -> R 1, 3, 5; F all 1 -> tied: 3; M 150, 200, 50 -> 3, 5, 1;
    # FM (3+3)/2 = 3, (3+5)/2 = 4, (3+1)/2 = 2 -> At risk, Loyal, Potential loyalists
    assert early["monetary"].to_dict() == {"C1": 150.0, "C2": 200.0, "C3": 50.0}
    assert early["segment"].to_dict() == {"C1": "At risk", "C2": "Loyal", "C3": "Potential loyalists"}
    # Rep R1: only C1, on R1's sales (SO1, SO7; SO9 has no rep) -> F 2, M 350, last 02-10 -> 19 days.
    # Scored among the company's customers: 19 days is worse than all three (17, 9, 18) -> R 1;
    # F 2 ties with two (p = 1/3) -> 2; M 350 is above two (p = 2/3) -> 4; FM (2+4)/2 = 3 -> At risk
    assert list(r1.index) == ["C1"]
    assert (r1.loc["C1", "frequency"], r1.loc["C1", "monetary"], r1.loc["C1", "recency_days"]) == (2, 350.0, 19)
    assert (r1.loc["C1", "rfm"], r1.loc["C1", "segment"]) == ("124", "At risk")
    # Rep R2: only C2 (all of C2's sales are R2's): the same figures and scores as company-wide
    assert list(r2.index) == ["C2"]
    assert r2.loc["C2"].to_dict() == df.loc["C2"].to_dict()


def test_small_demo_every_customer_with_a_purchase_gets_a_segment(small_demo):
    """Every customer whose ledger entries known by the as-of day leave an order worth more than
    zero is in the table, with a segment; the table's monetary values are the customers' net
    ledger revenue to the cent; segment sizes add up."""
    from salesml.customers.segments import segment_summary

    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        as_of = default_as_of(con)
        df = rfm(con, as_of, settings=small_demo)
        net = con.execute(
            """SELECT customer_id, sum(amount)::DOUBLE AS net FROM ledger
               WHERE customer_id IS NOT NULL AND credit_date <= ? AND event_date <= ? GROUP BY 1""",
            [as_of, as_of],
        ).df().set_index("customer_id")["net"]
        buyers = {
            r[0]
            for r in con.execute(
                """SELECT DISTINCT customer_id FROM ledger WHERE customer_id IS NOT NULL AND kind = 'sale'
                   AND credit_date <= ? AND amount > 0""",
                [as_of],
            ).fetchall()
        }
    assert len(df) > 300 and df["customer_id"].is_unique
    assert df["segment"].notna().all() and set(df["segment"]) <= set(SegmentSettings().segment_names())
    # customers with a sale but no row: everything they bought was returned or cancelled
    assert set(df["customer_id"]) <= buyers
    assert len(buyers - set(df["customer_id"])) <= 0.02 * len(buyers)
    np.testing.assert_allclose(df.set_index("customer_id")["monetary"], net.reindex(df["customer_id"]), atol=0.005)
    for c in ("r_score", "f_score", "m_score", "fm_score"):
        assert df[c].between(1, 5).all()
    assert (df["recency_days"] >= 0).all() and (df["tenure_days"] >= df["recency_days"]).all() and (df["frequency"] >= 1).all()
    summary = segment_summary(df)
    assert summary["customers"].sum() == len(df)
    assert summary["share_pct"].sum() == pytest.approx(100)
    assert summary["revenue"].sum() == pytest.approx(df["monetary"].sum())
    assert summary["revenue_share_pct"].sum() == pytest.approx(100)


# --------------------------------------------------------------------------- anonymous (walk-in / guest) sales


def test_rfm_from_transactions_ignores_anonymous_ids():
    """A guest code with a huge spend is scored as a customer unless it is named anonymous;
    named, it changes nothing of the others' scores."""
    guest = _tx([("GUEST", f"G{i}", "2024-03-30", 5000.0) for i in range(9)])
    tx = pd.concat([TX, guest], ignore_index=True)
    naive = rfm_from_transactions(tx, "2024-03-31").set_index("customer_id")
    assert naive.loc["GUEST", "rfm"] == "455"  # the most orders and spend of all
    pd.testing.assert_frame_equal(rfm_from_transactions(tx, "2024-03-31", anonymous=("GUEST",)), rfm_from_transactions(TX, "2024-03-31"))


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    return anonymous_company.build(small_demo, tmp_path_factory.mktemp("guests"))


@pytest.mark.parametrize("team", [None, "T03"])
def test_anonymous_lines_are_in_no_rfm_and_are_counted(guests, team):
    """The small demo plus a quarter of anonymous lines (NULL and GUEST): the RFM table is the
    demo's to the last score (no guest row, the same quintile boundaries), and what was left
    out is what was written, as of a day (returns that come back later are not known yet)."""
    as_of, scope = date(2026, 3, 31), (f"team:{team}" if team else None)
    with (
        warehouse.connect(guests.settings.warehouse_path, read_only=True) as con,
        warehouse.connect(guests.plain.warehouse_path, read_only=True) as plain,
    ):
        table = rfm(con, as_of, scope, guests.settings)
        pd.testing.assert_frame_equal(table, rfm(plain, as_of, scope, guests.plain))
        assert table["customer_id"].notna().all() and anonymous_company.GUEST not in set(table["customer_id"])
        lo = left_out(con, as_of, scope, guests.settings)
        nothing = left_out(plain, as_of, scope, guests.plain)
        # without the guest id named in the settings, the guest code is a customer
        naive = rfm(con, as_of, scope, dataclasses.replace(guests.settings, sources={}))
    expected = guests.expected(guests.known_by(as_of, team))
    assert expected["lines"] > 100 and expected["revenue"] > 0
    assert (lo.lines, lo.orders) == (expected["lines"], expected["orders"])
    assert Decimal(str(lo.revenue)) == expected["revenue"]
    assert Decimal(str(lo.total_revenue)) == expected["total_revenue"]
    assert lo.share_pct == pytest.approx(float(expected["revenue"] / expected["total_revenue"] * 100), abs=0.005)
    assert f"{expected['lines']:,} anonymous order lines" in lo.text()
    assert not nothing and Decimal(str(nothing.total_revenue)) == expected["total_revenue"] - expected["revenue"]
    guest = naive.set_index("customer_id").loc[anonymous_company.GUEST]
    assert guest["frequency"] == naive["frequency"].max() and guest["rfm"] == "555"
