"""The summary at the top of a report: sentences written from the figures, linked to their sections."""

from __future__ import annotations

from datetime import date

import pandas as pd

from salesml.config import WarningsSettings
from salesml.insights.warnings import Warnings
from salesml.reports import summary as S
from salesml.reports.lang import Lang

HEADLINE = {"revenue": 70_300_000.0, "growth_mom_pct": 17.04, "growth_yoy_pct": -2.5, "attainment_pct": 93.0,
            "target_revenue": 75_600_000.0, "margin_pct": 20.0, "gross_sales": 72_000_000.0, "returns": 1_700_000.0}
BRIDGE = pd.DataFrame([{"base": "2026-10", "current": "2026-11", "base_revenue": 60_070_000.0, "new_customers": 4_000_000.0,
                        "lost_customers": -1_500_000.0, "price": -900_000.0, "volume": 8_000_000.0, "mix": 130_000.0,
                        "returns": 500_000.0, "revenue": 70_300_000.0, "change": 10_230_000.0}])
REGIONS = pd.DataFrame({"region": ["East China", "North China", "South China"], "revenue": [20e6, 30e6, 20.3e6],
                        "target_revenue": [23.1e6, 29e6, 22.5e6]})
ROWS = pd.DataFrame([{"region": "East China", "base_revenue": 21e6, "new_customers": 1e6, "lost_customers": -0.4e6, "price": -0.1e6,
                      "volume": -1.6e6, "mix": 0.1e6, "returns": 0.0, "revenue": 20e6, "change": -1e6}])
TREND = pd.DataFrame({"period": ["2026-10", "2026-11"], "revenue": [60_070_000.0, 70_300_000.0], "margin": [12_615_000.0, 14_060_000.0]})
AT_RISK = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "owner_rep_id": ["R017", "R017", "R020"], "owner_name": ["刘婷婷", "刘婷婷", "王敏宁"],
                        "risk": [0.9, 0.8, 0.7], "value_at_risk": [1_000_000.0, 500_000.0, 400_000.0],
                        "as_of": [date(2026, 12, 5)] * 3, "version": ["v0001"] * 3, "customer_name": ["A", "B", "C"]})


def facts(**changes) -> S.Facts:
    base = dict(period="2026-11", scope_level="company", headline=HEADLINE, trend=TREND, bridge_prev=BRIDGE, bridge_year=BRIDGE.iloc[:0],
                sub_level="region", sub_rows=REGIONS, bridge_rows=ROWS, warnings=Warnings(end=date(2026, 11, 30), at_risk=AT_RISK),
                label=lambda r: {"East China": "East China · 华东"}.get(r, r))
    return S.Facts(**{**base, **changes})


def test_what_changed_why_where_and_what_needs_attention():
    sentences, actions = S.performance_summary(facts(), Lang("en", "CNY"))
    text = [s.text for s in sentences]
    assert text[0] == "Revenue ¥70.3M, +17.0% on October 2026, −2.5% on November 2025, 93.0% of target."
    assert text[1] == ("Against October 2026, the change of +¥10.2M came mostly from volume +¥8.0M, "
                       "new customers +¥4.0M and lost customers −¥1.5M.")
    # East China is ¥3.1M short of ¥5.3M in all (North China is ahead): 58%; its volume fell most
    assert text[2] == ("The largest gap to target is region East China · 华东 (−¥3.1M vs target, 58% of the shortfall), "
                       "where volume (−¥1.6M) weighed most against last month.")
    assert text[3] == "3 customers worth ¥1.9M are at high churn risk; 2 of them belong to R017 刘婷婷."
    assert text[4] == "Gross margin 20.0%, −1.0 points on last month. Returns ¥1.7M (2.4% of gross sales)."
    assert [s.link for s in sentences] == ["figures", "bridge", "ranking", "warnings", "figures"]
    assert [a.text for a in actions] == [
        "Go through region East China · 华东's plan and pipeline with its manager: ¥3.1M still to target.",
        "Check discounting: lower prices took ¥900,000 off revenue against October 2026.",
        "Call the 2 at-risk customers of R017 刘婷婷, the highest value first (list under Early warnings).",
    ]


def test_the_same_in_chinese_with_wan():
    sentences, actions = S.performance_summary(facts(), Lang("zh", "CNY"))
    assert sentences[0].text == "净收入 ¥7,030.0万，较2026年10月 +17.0%，较2025年11月 −2.5%，完成目标的 93.0%。"
    assert sentences[2].text.startswith("距目标差距最大的是区域East China · 华东（差 −¥310.0万")
    assert all(not any(w in s.text for w in ("Revenue", "target", "customers")) for s in sentences + actions)


def test_sentences_follow_the_figures_that_exist():
    no_target = {**HEADLINE, "attainment_pct": None, "target_revenue": None}
    regions = REGIONS.assign(target_revenue=None)
    sentences, actions = S.performance_summary(
        facts(headline=no_target, sub_rows=regions, warnings=Warnings(end=date(2026, 11, 30))), Lang("en", "CNY"))
    text = " ".join(s.text for s in sentences)
    assert "of target" not in text and "churn" not in text
    assert "The biggest change was region East China · 华东 (−¥1.0M), mostly volume (−¥1.6M)." in text
    assert not any("at-risk" in a.text for a in actions)
    # every region met its target
    met = REGIONS.assign(target_revenue=[1e6, 1e6, 1e6])
    sentences, _ = S.performance_summary(facts(sub_rows=met), Lang())
    assert "All 3 regions met their target." in [s.text for s in sentences]


def test_a_reps_summary_names_no_one_else():
    rep_risk = AT_RISK[AT_RISK["owner_rep_id"] == "R020"]
    cats = ROWS.rename(columns={"region": "category"}).assign(category="Electronics")
    sentences, actions = S.performance_summary(
        facts(scope_level="rep", sub_level="category", sub_rows=pd.DataFrame(), bridge_rows=cats,
              warnings=Warnings(end=date(2026, 11, 30), at_risk=rep_risk)), Lang("en", "CNY"))
    text = " ".join(s.text for s in sentences + actions)
    assert "R017" not in text and "刘婷婷" not in text
    assert "1 customer worth ¥400,000 is at high churn risk." in text
    assert "category Electronics" in text


def test_the_summary_block_links_each_sentence_and_escapes():
    evil = facts(label=lambda r: "<b>x</b>" if r == "East China" else r)
    sentences, actions = S.performance_summary(evil, Lang())
    html = S.block(sentences, actions, Lang()).html
    assert '<a href="#bridge">' in html and '<a href="#ranking">' in html and "<ol>" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_warnings_list_with_evidence_and_the_kinds_not_checked():
    drops = pd.DataFrame({"level": ["rep"], "group": ["R005"], "last_week": [10_000.0], "usual": [50_000.0], "std": [8_000.0],
                          "z": [-5.0], "drop_pct": [80.0]})
    stale = pd.DataFrame({"rep_id": ["R1", "R2"], "rep_name": ["Alice", None], "opportunities": [1, 3], "amount": [5e5, 2e5],
                          "oldest_close": [date(2026, 10, 1)] * 2, "days_overdue": [60, 3]})
    w = Warnings(end=date(2026, 11, 30), drops=drops, stale=stale, skipped={"at_risk": "no churn scores"})
    html = S.warnings_block(w, Lang("en", "CNY"), WarningsSettings(max_items=1)).html
    assert "rep R005: ¥10,000 in the 7 days to 2026-11-30, 80% below its usual week of ¥50,000" in html
    assert "5.0 standard deviations below the mean of the 12 weeks before" in html
    assert "R1 Alice: 1 opportunity (¥500,000) past its expected close by 60 days" in html
    assert "and 1 more" in html and "R2" not in html
    assert "Not checked: customers at risk" in html
    quiet = S.warnings_block(Warnings(end=date(2026, 11, 30)), Lang("zh"), WarningsSettings()).html
    assert "没有预警" in quiet
