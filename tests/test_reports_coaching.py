"""Coaching sections in words: strengths and gaps, suggestions with their backtest, owners to assign."""

from __future__ import annotations

from datetime import date

import pandas as pd

from salesml.accounting.scorecard import CODES, MEASURES
from salesml.reports import coaching as C
from salesml.reports.lang import Lang


def finding(code, measure, value, peer, diff, unit, pair=None, pv=None, ppv=None):
    return pd.Series({"code": code, "measure": measure, "value": value, "peer_value": peer, "difference": diff,
                      "difference_unit": unit, "direction": "gap", "magnitude": 1.0, "pair": pair, "pair_value": pv,
                      "pair_peer_value": ppv, "rep_id": "R1"})


def test_findings_read_as_sentences_in_both_languages():
    en, zh = Lang("en", "CNY"), Lang("zh", "CNY")
    f = finding("discount_deeper_same_win_rate", "discount", 14.96, 11.59, 3.37, "points", "win_rate", 40.0, 37.5)
    assert C.finding_text(f, en) == ("Discounts 3.4 points deeper than the team for the same win rate "
                                     "(15.0% vs 11.6%; win rate 40.0% vs 37.5%)")
    assert C.finding_text(f, zh).startswith("在赢单率相当的情况下折扣比团队深 3.4 个百分点")
    aov = finding("aov_above_team", "aov", 15128.43, 6920.24, 2.19, "ratio")
    assert C.finding_text(aov, en) == "Average order ¥15,128 against the team's ¥6,920 (2.19× of it)"
    cycle = finding("sales_cycle_below_team", "sales_cycle", 30.0, 44.0, 0.68, "ratio")
    assert C.finding_text(cycle, zh) == "销售周期 30 天，团队为 44 天（为团队的 0.68×）"
    slope = finding("attainment_slope_below_team", "attainment_slope", -19.7, -8.7, -11.0, "points")
    assert "−19.7 points a month" in C.finding_text(slope, en)
    # every measure and pair the scorecard can report has words in both languages
    for lang in (en, zh):
        for m in MEASURES:
            assert C.measure_name(m.name, lang) != m.name
        for code in CODES:
            if code.startswith("discount_") and "same_win_rate" in code:
                assert C.finding_text(finding(code, "discount", 1, 2, 1, "points", "win_rate", 3, 4), lang) != f"f_{code}"
        assert lang.missing == set()


def test_the_rep_scorecard_lists_strengths_and_gaps_and_says_when_there_are_no_peers():
    card = pd.DataFrame([{"rep_id": "R1", "peers": 3, **{m.column: 10.0 for m in MEASURES},
                          **{f"peer_{m.column}": 8.0 for m in MEASURES}, **{f"diff_{m.column}": 2.0 for m in MEASURES}}])
    found = pd.DataFrame([finding("win_rate_above_team", "win_rate", 10.0, 8.0, 2.0, "points").to_dict() | {"direction": "strength"},
                          finding("return_rate_above_team", "return_rate", 10.0, 8.0, 2.0, "points").to_dict()])
    html = C.rep_scorecard(card, found, Lang(), 6).html
    assert "Your scorecard" in html and "Strengths" in html and "To work on" in html
    assert "Win rate 10.0% against the team&#x27;s 8.0% (+2.0 points)" in html
    alone = C.rep_scorecard(card.assign(peers=0), found.iloc[:0], Lang("zh"), 6).html
    assert "本月没有可比较的团队成员" in alone


def test_suggestions_quote_the_backtest_that_measured_them():
    recs = pd.DataFrame({"customer_id": ["C1", "C1", "C2"], "rank": [1, 2, 1], "product_id": ["P2", "P3", "P1"], "score": [3.0, 0.1, 0.2],
                         "basis": ["rules", "category", "category"], "because_product_id": ["P1", None, None],
                         "confidence": [0.3, None, None], "lift": [2.0, None, None]})
    products = pd.DataFrame({"product_id": ["P1", "P2", "P3"], "name": ["Pen", "Ink", "Pad"]})
    customers = pd.DataFrame({"customer_id": ["C1", "C2"], "customer_name": ["One", "Two"]})
    at_risk = pd.DataFrame({"customer_id": ["C2"], "risk": [0.8]})
    run = {"version": "v0001", "backtest": {"cutoff": "2026-09-07", "horizon_days": 90, "k": 5,
                                            "rows": [{"method": "crosssell", "hit_rate": 0.451}, {"method": "popularity", "hit_rate": 0.39}]}}
    html = C.crosssell_block(recs, products, customers, at_risk, run, Lang(), 20).html
    assert "reached 45.1% of the customers who bought something new, against 39.0% for the best-sellers" in html
    assert html.index("C2") < html.index("C1")  # at risk first
    assert "P2 Ink; P3 Pad" in html and "bought with P1 Pen" in html
    untested = C.crosssell_block(recs, products, customers, at_risk, None, Lang("zh"), 20).html
    assert "尚未回测" in untested


def test_owners_to_assign_with_their_reasons():
    df = pd.DataFrame([
        {"kind": "customer", "customer_id": "C9", "opp_id": None, "name": "Nine", "region": "East", "segment": "SMB", "value": 1000.0,
         "reason": "owner R5 left on 2026-03-31", "reason_code": "owner_left", "former_rep_id": "R5", "reason_date": date(2026, 3, 31),
         "suggested_rep_id": "R1", "suggested_rep_name": "Alice", "score": 3.5, "alt_rep_id": "R2", "alt_rep_name": "Bob", "no_suggestion": None},
        {"kind": "lead", "customer_id": "C8", "opp_id": "O1", "name": "Eight", "region": "West", "segment": None, "value": 10.0,
         "reason": "no owner", "reason_code": "no_owner", "former_rep_id": None, "reason_date": None,
         "suggested_rep_id": None, "suggested_rep_name": None, "score": None, "alt_rep_id": None, "alt_rep_name": None, "no_suggestion": "at_capacity"},
    ])
    en = C.assignment_block(df, Lang("en", "CNY"), 20).html
    assert "R5 left on 2026-03-31" in en and "R1 Alice" in en and "R2 Bob" in en and "O1 (C8)" in en and "every candidate at capacity" in en
    zh = C.assignment_block(df, Lang("zh", "CNY"), 20).html
    assert "R5 已于 2026年3月31日 离职" in zh and "无负责人" in zh and "商机" in zh
    assert "没有待分配的对象" in C.assignment_block(df.iloc[:0], Lang("zh"), 20).html
