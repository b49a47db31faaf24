"""KPIs (salesml.accounting.kpis): worked by hand on tiny data, sanity and scope on the demo.

The KPI company (tests/data/kpi) — reps R1 (T1/East), R3 (T2/West) and R2, who moves from
T1/East to T2/West on 2024-03-16; products P1 Alpha, P2 Beta, P3 Beta, P4 Gamma. Every period
is open, so a return counts in the month of the sale it reverses.

Ledger (amount, discount d, credited rep/team):
  2024-01  A1/1 C1 P1  80 d=.20 R1/T1   A1/2 C1 P2 50 R1/T1   A2/1 C2 P2 90 d=.10 R2/T1
           A3/1 C3 P3 100 R3/T2         RB1 (02-15) return of A2/1: -45, 1 unit   -> revenue 275
  2024-02  B1 C1 P1 50 R1   B2 C4 P4 75 d=.25 R3   B3 C3 P3 100 R3               -> 225
  2024-03  C1 C2 P2 100 R2/T1 (03-05)   C2 C2 P2 50 R2/T2 (03-20)   C3 C5 P1 100 R1 -> 250
  2025-01  D1 C1 P1 100 R1                                                      -> 100
  2025-02  D2 C4 P4 50 R3 (02-14)                                               ->  50
  2025-03  D3 C1 P2 100 R1   D4 C7 P3 60 R2/T2   RD1 return of D3: -50          -> 110
First sales: C1, C2, C3 in 2024-01; C4 2024-02; C5 2024-03; C7 2025-03 (C6 never buys).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesml import warehouse
from salesml.accounting import kpis as K
from salesml.accounting import performance as perf
from salesml.accounting.ledger import ensure_posted
from salesml.ingest import canonical_source, ingest_source
from salesml.periods import PeriodError
from salesml.scope import ScopeError
from tests.conftest import make_settings

KPI = Path(__file__).parent / "data" / "kpi"
KPI_TABLES = ["reps", "products", "customers", "order_lines", "targets", "opportunities", "marketing_spend", "tickets"]


@pytest.fixture(scope="module")
def kpi_wh(tmp_path_factory):
    s = make_settings(tmp_path_factory.mktemp("kpi"))
    ingest_source(s, "kpi", canonical_source({t: KPI / f"{t}.csv" for t in KPI_TABLES}))
    ensure_posted(s)
    return s


@pytest.fixture
def kc(kpi_wh):
    with warehouse.connect(kpi_wh.warehouse_path, read_only=True) as c:
        yield c


@pytest.fixture(scope="module")
def demo_con(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as c:
        yield c


def row(df: pd.DataFrame, **match) -> pd.Series:
    sel = df
    for k, v in match.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, f"expected one row for {match}, got {len(sel)}"
    return sel.iloc[0]


def body(df: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not the (total) row."""
    return df[~(df.astype(object) == K.TOTAL).any(axis=1)]


# --------------------------------------------------------------------------- windows


def test_parse_window():
    assert K.parse_window("2026-06") == K.Window("2026-06", "2026-06")
    assert K.parse_window("2026-04..2026-06") == K.Window("2026-04", "2026-06")
    assert K.parse_window("2026-Q2") == K.Window("2026-04", "2026-06")
    assert K.parse_window("2026q4") == K.Window("2026-10", "2026-12")
    assert K.parse_window("2026") == K.Window("2026-01", "2026-12")
    assert K.parse_window(("2025-11", "2026-02")).months == ["2025-11", "2025-12", "2026-01", "2026-02"]
    w = K.parse_window("2026-Q1")
    assert (w.start, w.stop, str(w)) == (date(2026, 1, 1), date(2026, 4, 1), "2026-01..2026-03")
    for bad in ("2026-13", "June", "2026-06..2026-01", "2026-Q5"):
        with pytest.raises(PeriodError):
            K.parse_window(bad)
    assert K.quarter_of("2026-05") == K.Window("2026-04", "2026-06")


# --------------------------------------------------------------------------- 1. new vs repeat


def test_new_vs_repeat_by_hand(kc, toy_con):
    # 2024-02: C4 is new (B2 75); C1 (B1 50) and C3 (B3 100) bought in January: repeat 150
    df = K.new_vs_repeat(kc, "2024-02")
    new, rep = row(df, customer_type="new"), row(df, customer_type="repeat")
    assert (new["revenue"], new["customers"], new["orders"]) == (75, 1, 1)
    assert (rep["revenue"], rep["customers"], rep["orders"]) == (150, 2, 2)
    assert new["revenue_share_pct"] == pytest.approx(75 / 225 * 100)
    # 2024-01: everyone is new; the return of C2's sale (RB1, -45) counts against new revenue
    df = K.new_vs_repeat(kc, "2024-01")
    assert row(df, customer_type="new")["revenue"] == 80 + 50 + 90 + 100 - 45
    assert row(df, customer_type="new")["gross_sales"] == 320
    assert row(df, customer_type="repeat")["revenue"] == 0
    # 2025-03: C7 new (D4 60), C1 repeat (D3 100 - RD1 50)
    df = K.new_vs_repeat(kc, "2025-03")
    assert row(df, customer_type="new")["revenue"] == 60
    assert row(df, customer_type="repeat")["revenue"] == 50
    # a window: Q1 2024 new customers C1..C5, all revenue new
    df = K.new_vs_repeat(kc, "2024-Q1")
    assert row(df, customer_type="new")["customers"] == 5
    assert row(df, customer_type="new")["revenue"] == 275 + 225 + 250
    # scope team:T1 in 2024-03: C2's C1 order (R2 still in T1), C5's C3 (R1): C5 new 100, C2 repeat 100
    df = K.new_vs_repeat(kc, "2024-03", "team:T1")
    assert row(df, customer_type="new")["revenue"] == 100
    assert row(df, customer_type="repeat")["revenue"] == 100
    # toy February: all three customers bought in January; total = perf revenue 510
    df = K.new_vs_repeat(toy_con, "2024-02")
    assert row(df, customer_type="new")["revenue"] == 0
    assert row(df, customer_type="repeat")["revenue"] == 510
    assert row(df, customer_type="repeat")["customers"] == 3


# --------------------------------------------------------------------------- 2. growth


def test_growth_by_hand(kc, toy_con):
    g = K.growth(kc, "2025-03").iloc[0]
    assert g["revenue"] == 110
    assert g["growth_mom_pct"] == pytest.approx((110 - 50) / 50 * 100)  # 120 %
    assert g["growth_yoy_pct"] == pytest.approx((110 - 250) / 250 * 100)  # -56 %
    assert g["ytd_revenue"] == 100 + 50 + 110
    assert g["ytd_revenue_last_year"] == 275 + 225 + 250
    assert g["growth_ytd_pct"] == pytest.approx((260 - 750) / 750 * 100)
    # toy: MoM (510 - 350) / 350; no year-earlier data -> empty, with a note
    g = K.growth(toy_con, "2024-02").iloc[0]
    assert g["growth_mom_pct"] == pytest.approx(45.714, abs=1e-3)
    assert np.isnan(g["growth_yoy_pct"]) and np.isnan(g["growth_ytd_pct"])
    assert "2024-01" in g["note"]
    # agrees with perf for a scope
    for scope in ("company", "team:T2", "rep:R2"):
        assert K.growth(kc, "2024-03", scope).iloc[0]["revenue"] == perf.scope_summary(kc, "2024-03", scope).iloc[0]["revenue"]


# --------------------------------------------------------------------------- 3. cohort retention


def test_cohort_retention_by_hand(kc, toy_con):
    # cohorts: 2024-01 {C1, C2, C3}, 2024-02 {C4}, 2024-03 {C5}
    # C1 buys in Jan, Feb; C2 Jan, Mar; C3 Jan, Feb; C4 Feb; C5 Mar
    df = K.cohort_retention(kc, "2024-03", months=3)
    got = {(r.cohort, r.months_since): (r.cohort_size, r.active_customers) for r in df.itertuples()}
    assert got == {
        ("2024-01", 0): (3, 3), ("2024-01", 1): (3, 2), ("2024-01", 2): (3, 1),
        ("2024-02", 0): (1, 1), ("2024-02", 1): (1, 0),
        ("2024-03", 0): (1, 1),
    }
    assert row(df, cohort="2024-01", months_since=1)["retention"] == pytest.approx(2 / 3)
    assert df.loc[df["cohort"] == "2024-01", "left_censored"].all()
    assert not df.loc[df["cohort"] != "2024-01", "left_censored"].any()
    # team T2 acquired C3 (A3, R3) and C4 (B2, R3); C3 bought from T2 again in February
    wide = K.cohort_retention(kc, "2024-03", months=3, scope="team:T2", wide=True)
    assert list(wide["cohort"]) == ["2024-01", "2024-02"]
    assert list(wide["cohort_size"]) == [1, 1]
    assert list(wide.iloc[0][[0, 1, 2]]) == [1.0, 1.0, 0.0]
    assert wide.iloc[1][0] == 1.0 and wide.iloc[1][1] == 0.0 and np.isnan(wide.iloc[1][2])
    # toy: cohort January {C1, C2, C3}, all buy again in February
    df = K.cohort_retention(toy_con, "2024-02", months=2)
    assert list(df["retention"]) == [1.0, 1.0]


# --------------------------------------------------------------------------- 4. CAC


def test_cac_by_channel_by_hand(kc):
    # Q1 2024 spend: Online Ads 300+100+100 = 500, Trade Show 200, Partner 50
    # new customers: Online Ads C1, C4; Trade Show C2; Referral C3; Social Media C5
    df = K.cac_by_channel(kc, "2024-Q1").set_index("channel")
    assert df.loc["Online Ads", "cac"] == 500 / 2
    assert df.loc["Trade Show", "cac"] == 200 / 1
    assert np.isnan(df.loc["Partner", "cac"]) and df.loc["Partner", "note"] == "spend but no new customers"
    assert df.loc["Referral", "spend"] == 0 and df.loc["Referral", "new_customers"] == 1
    assert df.loc["Referral", "note"] == "new customers but no recorded spend"
    assert df.loc["(paid channels)", "cac"] == 750 / 3
    assert df.loc["(all channels)", "cac"] == 750 / 5
    assert "Social Media" in df.index  # no spend: still listed
    assert K.cac_by_channel(kc, "2025-03").set_index("channel").loc["Online Ads", "cac"] == 90  # C7
    with pytest.raises(K.KpiUnavailable, match="no marketing_spend recorded for 2024-06"):
        K.cac_by_channel(kc, "2024-06")
    with pytest.raises(K.KpiUnavailable, match="company-level"):
        K.cac_by_channel(kc, "2024-Q1", scope="team:T1")


# --------------------------------------------------------------------------- 5. win rate


def test_win_rate_by_hand(kc):
    # closed in Feb 2025: O1 won (R1), O5 won (R1), O2 lost (R2), O3 won (R3), O4 lost (R3)
    df = K.win_rate(kc, "2025-02")
    assert row(df, rep_id="R1")["win_rate"] == 1.0
    assert row(df, rep_id="R2")["win_rate"] == 0.0
    assert row(df, rep_id="R3")["win_rate"] == 0.5
    t = row(df, rep_id=K.TOTAL)
    assert (t["won"], t["lost"], t["win_rate"]) == (3, 2, 3 / 5)
    assert t["value_win_rate"] == pytest.approx((1000 + 400 + 800) / (1000 + 400 + 800 + 500 + 300))
    by_team = K.win_rate(kc, "2025-02", by="team")
    assert row(by_team, team="T2")["win_rate"] == pytest.approx(1 / 3)  # R2 0/1 + R3 1/2
    # attribution on the closing date: O10 (R2, closed 2024-03-01) counts for T1
    q1 = K.win_rate(kc, "2024-Q1", by="team")
    assert list(body(q1)["team"]) == ["T1"]
    scoped = K.win_rate(kc, "2025-02", "team:T2")
    assert set(body(scoped)["rep_id"]) == {"R2", "R3"}
    assert row(scoped, rep_id=K.TOTAL)["closed"] == 3


# --------------------------------------------------------------------------- 6. sales cycle


def test_sales_cycle_by_hand(kc):
    # won in Feb 2025: O1 01-05 -> 02-04 = 30 days, O3 01-15 -> 02-24 = 40, O5 02-01 -> 02-21 = 20
    c = K.sales_cycle(kc, "2025-02").iloc[0]
    assert (c["won"], c["median_days"], c["mean_days"], c["p75_days"]) == (3, 30, 30, 35)
    by_rep = K.sales_cycle(kc, "2025-02", by="rep")
    assert row(by_rep, rep_id="R1")["median_days"] == 25  # 30 and 20
    assert row(by_rep, rep_id=K.TOTAL)["won"] == 3


# --------------------------------------------------------------------------- 7. funnel


def test_funnel_by_hand(kc):
    # created in Q1 2025: won O1 O3 O5 (all stages), lost O2 O4 (first stage only), open
    # O6 Negotiation, O7 Proposal, O8 Prospecting, O9 Qualification
    f = K.funnel(kc, "2025-Q1")
    assert list(f["stage"]) == list(K.STAGES)
    assert list(f["reached"]) == [9, 6, 5, 4, 3]
    assert list(f["reached_amount"]) == [4600, 3600, 3500, 2800, 2200]
    assert list(f["open_now"]) == [1, 1, 1, 1, 0]
    assert f["conversion_rate"].iloc[1:].tolist() == pytest.approx([6 / 9, 5 / 6, 4 / 5, 3 / 4])
    assert f["cumulative_conversion_rate"].iloc[-1] == pytest.approx(3 / 9)
    t2 = K.funnel(kc, "2025-Q1", "team:T2")  # R2: O2 lost, O6; R3: O3 won, O4 lost, O8, O9
    assert list(t2["reached"]) == [6, 3, 2, 2, 1]


# --------------------------------------------------------------------------- 8. pipeline coverage


def test_pipeline_coverage_by_hand(kc):
    """As of 2025-02-14, period 2025-02 (rest: 02-15..02-28), quarter Q1 (rest: 02-15..03-31).

    Open on 02-14: O2 500 R2 (exp 02-15), O3 800 R3 (02-20), O5 400 R1 (02-28), O6 600 R2
    (02-26), O8 200 R3 (02-27), O7 700 R1 (03-20), O9 100 R3 (02-10: overdue).
    Revenue to 02-14: February R3 50 (D2); quarter R1 100 (D1) + R3 50.
    Targets: February 100 each; quarter R1 500, R2 400, R3 300.
    """
    df = K.pipeline_coverage(kc, "2025-02", as_of=date(2025, 2, 14))
    r1, r2, r3, t = (row(df, rep_id=r) for r in ("R1", "R2", "R3", K.TOTAL))
    assert (r1["pipeline"], r2["pipeline"], r3["pipeline"]) == (400, 1100, 1000)
    assert (r1["remaining"], r2["remaining"], r3["remaining"]) == (100, 100, 50)
    assert (r1["coverage"], r2["coverage"], r3["coverage"]) == (4.0, 11.0, 20.0)
    assert t["coverage"] == 2500 / 250
    assert (r1["pipeline_quarter"], r1["remaining_quarter"], r1["coverage_quarter"]) == (1100, 400, 1100 / 400)
    assert t["coverage_quarter"] == pytest.approx(3200 / (1200 - 150))
    assert r3["overdue_pipeline"] == 100
    assert (t["days_left"], t["days_left_quarter"]) == (14, 45)
    teams = K.pipeline_coverage(kc, "2025-02", by="team", as_of=date(2025, 2, 14), scope="team:T2")
    assert list(teams["team"]) == ["T2", K.TOTAL]
    assert row(teams, team="T2")["coverage"] == (1100 + 1000) / (200 - 50)
    # default as of = last event in the ledger (2025-03-25): nothing of February is left
    late = K.pipeline_coverage(kc, "2025-02")
    assert late["days_left"].iloc[0] == 0 and late["coverage"].isna().all()


# --------------------------------------------------------------------------- 9. Pareto


def test_abc_classes_ties_zero_negative():
    v = pd.Series([50.0, 20, 10, 10, 5, 5, 0, -5], index=list("abcdefgh"))
    out = K.abc_classes(v)
    # positive total 100: a 50 (cum 50) A, b 20 (70) A, c = d 10 (tie: both cum 90) B,
    # e = f 5 (both cum 100) C, g 0 and h -5 C with no cumulative share
    assert list(out["abc"]) == ["A", "A", "B", "B", "C", "C", "C", "C"]
    assert list(out["cum_share_pct"].iloc[:6]) == pytest.approx([50, 70, 90, 90, 100, 100])
    assert out["cum_share_pct"].iloc[6:].isna().all()
    assert out.loc["h", "share_pct"] == -5
    assert out.loc["c", "rank"] == out.loc["d", "rank"] == 3
    # the largest item is A even above the threshold; thresholds are parameters
    assert list(K.abc_classes(pd.Series([90.0, 10]))["abc"]) == ["A", "C"]
    assert list(K.abc_classes(pd.Series([90.0, 10]), a=0.5, b=1.0)["abc"]) == ["A", "B"]
    with pytest.raises(ValueError):
        K.abc_classes(v, a=0.9, b=0.8)


def test_pareto_by_hand(kc, toy_con):
    # 2024-01: P3 100, P2 50 + 90 - 45 = 95, P1 80 of 275
    df = K.pareto(kc, "2024-01")
    assert list(df["product_id"]) == ["P3", "P2", "P1"]
    assert list(df["cum_share_pct"]) == pytest.approx([100 / 275 * 100, 195 / 275 * 100, 100])
    assert list(df["abc"]) == ["A", "A", "C"]
    s = K.abc_summary(df).set_index("abc")
    assert list(s["items"]) == [2, 0, 1]
    # toy February by category: Alpha 310, Beta 200
    cat = K.pareto(toy_con, "2024-02", by="category")
    assert list(cat["category"]) == ["Alpha", "Beta"] and list(cat["revenue"]) == [310, 200]


# --------------------------------------------------------------------------- 10. discount leakage


def test_discount_leakage_by_hand(kc, toy_con):
    # 2024-01: A1/1 net 80 at 20 % off -> 80 x .2/.8 = 20; A2/1 net 90 at 10 % -> 90 x .1/.9 = 10
    df = K.discount_leakage(kc, "2024-01")
    alpha, beta, t = row(df, category="Alpha"), row(df, category="Beta"), row(df, category=K.TOTAL)
    assert (alpha["leakage"], alpha["list_value"], alpha["leakage_share_pct"]) == (20, 100, 20)
    assert (beta["gross_sales"], beta["leakage"], beta["leakage_share_pct"]) == (240, 10, pytest.approx(4.0))
    assert (t["gross_sales"], t["leakage"], t["list_value"]) == (320, 30, 350)
    assert t["leakage_share_pct"] == pytest.approx(30 / 350 * 100)
    assert (t["lines"], t["discounted_lines"]) == (4, 2)
    by_rep = K.discount_leakage(kc, "2024-01", by="rep")
    assert row(by_rep, rep_id="R1")["leakage_share_pct"] == pytest.approx(20 / 150 * 100)
    assert row(by_rep, rep_id="R2")["leakage"] == 10
    # February: B2 net 75 at 25 % off -> 25 (list 100 = 20 x 5)
    assert row(K.discount_leakage(kc, "2024-02", by="company"), period="2024-02")["leakage"] == 25
    # the toy sells at list price
    assert row(K.discount_leakage(toy_con, "2024-02", by="company"), period="2024-02")["leakage"] == 0


# --------------------------------------------------------------------------- 11. return rate


def test_return_rate_by_hand(kc, toy_con):
    # 2024-01 (RB1 counts in January, the month of A2): Beta returns 45 of 240, 1 of 8 units
    df = K.return_rate(kc, "2024-01")
    beta, t = row(df, category="Beta"), row(df, category=K.TOTAL)
    assert (beta["return_rate"], beta["qty_return_rate"]) == (45 / 240, 1 / 8)
    assert row(df, category="Alpha")["return_rate"] == 0
    assert (t["return_rate"], t["qty_return_rate"]) == (pytest.approx(45 / 320), pytest.approx(1 / 18))
    assert row(K.return_rate(kc, "2024-01", by="rep"), rep_id="R2")["return_rate"] == 0.5
    # toy February: RT2 50 of gross 560, charged to R2 in T1 (the sale's team)
    c = K.return_rate(toy_con, "2024-02", by="company").iloc[0]
    assert c["return_rate"] == pytest.approx(50 / 560)
    teams = K.return_rate(toy_con, "2024-02", by="team")
    assert row(teams, team="T1")["returns"] == 50 and row(teams, team="T2")["returns"] == 0


# --------------------------------------------------------------------------- 12. service


def test_service_by_hand(kc):
    # February 2025: K1 C1 (R1) 5; K2, K3 C2 (R2) 2, 1; K4 C4 (R3) open, unrated; K5 C3 (R3) 4
    df = K.service(kc, "2025-02")
    r2, r3, t = row(df, rep_id="R2"), row(df, rep_id="R3"), row(df, rep_id=K.TOTAL)
    assert (r2["tickets"], r2["avg_satisfaction"], r2["low_score_rate"]) == (2, 1.5, 1.0)
    assert (r3["tickets"], r3["rated"], r3["avg_satisfaction"], r3["low_score_rate"]) == (2, 1, 4.0, 0.0)
    assert (t["tickets"], t["rated"], t["avg_satisfaction"], t["low_score_rate"]) == (5, 4, 3.0, 0.5)
    cat = K.service(kc, "2025-02", by="category")
    assert row(cat, category="Beta")["avg_satisfaction"] == pytest.approx(7 / 3)
    assert np.isnan(row(cat, category="Gamma")["avg_satisfaction"])
    scoped = K.service(kc, "2025-02", "team:T2", by="product")
    assert set(body(scoped)["product_id"]) == {"P2", "P3", "P4"}  # not K1's P1 (R1, T1)
    assert row(scoped, product_id=K.TOTAL)["tickets"] == 4


# --------------------------------------------------------------------------- 13. KPI table


def test_kpi_table(kc, toy_con):
    t = K.kpi_table(kc, "2025-02").set_index("kpi")
    assert t.loc["revenue", "value"] == 50
    assert t.loc["win rate", "value"] == pytest.approx(60.0)
    assert t.loc["sales cycle (median)", "value"] == 30
    assert t.loc["average satisfaction", "value"] == 3.0
    assert "no marketing_spend recorded for 2025-02" in t.loc["customer acquisition cost", "note"]
    assert list(t.columns[-3:]) == ["value", "unit", "note"]
    toy = K.kpi_table(toy_con, "2024-02", "team:T1").set_index("kpi")
    assert toy.loc["revenue", "value"] == perf.scope_summary(toy_con, "2024-02", "team:T1").iloc[0]["revenue"]
    assert "no opportunities loaded" in toy.loc["win rate", "note"] and pd.isna(toy.loc["win rate", "value"])
    assert "no tickets loaded" in toy.loc["average satisfaction", "note"]
    assert "company-level" in toy.loc["customer acquisition cost", "note"]


# --------------------------------------------------------------------------- degradation


@pytest.mark.parametrize(
    "call, table",
    [
        (lambda c: K.win_rate(c, "2024-02"), "opportunities"),
        (lambda c: K.sales_cycle(c, "2024-02"), "opportunities"),
        (lambda c: K.funnel(c, "2024-02"), "opportunities"),
        (lambda c: K.pipeline_coverage(c, "2024-02"), "opportunities"),
        (lambda c: K.cac_by_channel(c, "2024-02"), "marketing_spend"),
        (lambda c: K.service(c, "2024-02"), "tickets"),
    ],
)
def test_missing_tables_degrade(toy_con, call, table):
    with pytest.raises(K.KpiUnavailable, match=rf"^no {table} loaded: .+ skipped$"):
        call(toy_con)


def test_empty_warehouse_and_bad_input(tmp_path, toy_con):
    s = make_settings(tmp_path / "empty")
    with warehouse.connect(s.warehouse_path):
        pass
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        for f in (K.new_vs_repeat, K.growth, K.pareto, K.return_rate, K.discount_leakage):
            with pytest.raises(K.KpiUnavailable, match="no sales in the ledger"):
                f(c, "2024-02")
    with pytest.raises(ScopeError):
        K.return_rate(toy_con, "2024-02", "team:T9")
    with pytest.raises(PeriodError):
        K.growth(toy_con, "2024-2")
    with pytest.raises(ValueError, match="by must be one of"):
        K.return_rate(toy_con, "2024-02", by="colour")


# --------------------------------------------------------------------------- the demo


def test_demo_sanity(demo_con):
    c, p = demo_con, "2026-05"
    nv = K.new_vs_repeat(c, p)
    assert nv["revenue_share_pct"].sum() == pytest.approx(100)
    assert nv["customers_share_pct"].sum() == pytest.approx(100)
    pf = perf.scope_summary(c, p).iloc[0]
    assert nv["revenue"].sum() == pytest.approx(pf["revenue"])
    assert nv["customers"].sum() == pf["customers"]
    g = K.growth(c, p).iloc[0]
    assert g["revenue"] == pytest.approx(pf["revenue"]) and g["growth_mom_pct"] == pytest.approx(pf["growth_mom_pct"])

    ret = K.cohort_retention(c, p, 12)
    assert ret["retention"].between(0, 1).all()
    assert (ret.loc[ret["months_since"] == 0, "retention"] == 1).all()
    assert ret.groupby("cohort")["cohort_size"].first().sum() == K.new_vs_repeat(c, "2025-06..2026-05").iloc[0]["customers"]

    cac = K.cac_by_channel(c, "2026-Q1")
    paid = cac[(cac["spend"] > 0) & (cac["new_customers"] > 0)]
    assert len(paid) >= 3 and (paid["cac"] > 0).all()

    wr = K.win_rate(c, "2025", by="team")
    assert wr["win_rate"].dropna().between(0, 1).all()
    t = row(wr, team=K.TOTAL)
    assert t["won"] == body(wr)["won"].sum() and t["closed"] == body(wr)["closed"].sum()

    cyc = K.sales_cycle(c, "2025").iloc[0]
    assert 0 < cyc["median_days"] <= cyc["p75_days"]
    fn = K.funnel(c, "2025-07..2026-06")
    assert fn["reached"].is_monotonic_decreasing
    assert fn["conversion_rate"].dropna().between(0, 1).all()

    pa = K.pareto(c, p)
    summary = K.abc_summary(pa).set_index("abc")
    assert summary.loc["A", "revenue_share_pct"] == pytest.approx(80, abs=2.5)
    # shares are of the positive revenue; the month has a product whose returns exceed its sales
    assert (pa["revenue"] < 0).any() and (pa.loc[pa["revenue"] < 0, "abc"] == "C").all()
    assert pa.loc[pa["revenue"] > 0, "share_pct"].sum() == pytest.approx(100)
    assert pa["cum_share_pct"].max() == pytest.approx(100)

    dl = K.discount_leakage(c, p, by="rep")
    assert (dl["leakage"] >= 0).all() and dl["leakage_share_pct"].dropna().between(0, 100).all()
    assert row(dl, rep_id=K.TOTAL)["gross_sales"] == pytest.approx(pf["gross_sales"])
    rr = K.return_rate(c, p, by="region")
    assert row(rr, region=K.TOTAL)["returns"] == pytest.approx(pf["returns"])
    sv = K.service(c, p, by="region")
    assert sv["low_score_rate"].dropna().between(0, 1).all() and sv["avg_satisfaction"].dropna().between(1, 5).all()

    kt = K.kpi_table(c, "2026-06")
    assert kt["value"].notna().sum() >= 15


def test_demo_scope_holds_only_its_own(demo_con):
    c, team = demo_con, "T03"
    reps = c.execute("SELECT rep_id, team FROM reps").df()
    own = set(reps.loc[reps["team"] == team, "rep_id"])
    others = set(reps["rep_id"]) - own  # reps who never were in the team
    other_teams = set(reps["team"]) - {team}
    frames = {
        "new_vs_repeat": K.new_vs_repeat(c, "2026-05", f"team:{team}"),
        "growth": K.growth(c, "2026-05", f"team:{team}"),
        "cohorts": K.cohort_retention(c, "2026-05", 12, f"team:{team}"),
        "win_rate": K.win_rate(c, "2025-07..2026-06", f"team:{team}"),
        "sales_cycle": K.sales_cycle(c, "2025-07..2026-06", f"team:{team}", by="rep"),
        "funnel": K.funnel(c, "2025-07..2026-06", f"team:{team}"),
        "pipeline": K.pipeline_coverage(c, "2026-06", f"team:{team}", as_of=date(2026, 6, 10)),
        "pareto": K.pareto(c, "2026-05", f"team:{team}", by="customer"),
        "discount": K.discount_leakage(c, "2026-05", f"team:{team}", by="rep"),
        "returns": K.return_rate(c, "2026-05", f"team:{team}", by="rep"),
        "service": K.service(c, "2025-07..2026-06", f"team:{team}"),
        "kpi_table": K.kpi_table(c, "2026-05", f"team:{team}"),
    }
    for name, df in frames.items():
        cells = set(df.astype(str).to_numpy().ravel())
        assert not cells & others, f"{name} holds other teams' reps: {sorted(cells & others)}"
        assert not cells & other_teams, f"{name} holds other teams: {sorted(cells & other_teams)}"
        if "team" in df.columns:
            assert set(body(df)["team"]) <= {team}, name
    assert set(body(frames["discount"])["rep_id"]) <= own and len(body(frames["discount"])) > 0
    # the team's parts add up to the team: its revenue = perf's team row
    t = perf.performance(c, "2026-05", "team", scope=f"team:{team}").iloc[0]
    assert frames["growth"].iloc[0]["revenue"] == pytest.approx(t["revenue"])
    assert frames["new_vs_repeat"]["revenue"].sum() == pytest.approx(t["revenue"])
    # a rep sees no one else
    rep = sorted(own & set(body(frames["discount"])["rep_id"]))[0]
    mine = K.discount_leakage(c, "2026-05", f"rep:{rep}", by="rep")
    assert set(body(mine)["rep_id"]) == {rep}



# --------------------------------------------------------------------------- anonymous (walk-in / guest) sales

#: walk-in sales written into a copy of the KPI company's ledger (period, kind, rep, team, region,
#: order, line, customer, credit date, event date, amount); GUEST is the shop's configured guest id
WALK_INS = [
    ("2024-02", "sale", "R1", "T1", "East", "W1", 1, None, "2024-02-08", "2024-02-08", "40.00"),
    ("2024-02", "sale", "R3", "T2", "West", "W2", 1, "GUEST", "2024-02-09", "2024-02-09", "60.00"),
    ("2024-02", "sale", "R3", "T2", "West", "W2", 2, "GUEST", "2024-02-09", "2024-02-09", "20.00"),
    # W2/2 comes back in March: it counts in February, the month of its sale
    ("2024-02", "return", "R3", "T2", "West", "WR2", 1, "GUEST", "2024-02-09", "2024-03-05", "-20.00"),
    ("2024-03", "sale", "R1", "T1", "East", "W3", 1, "GUEST", "2024-03-10", "2024-03-10", "30.00"),
]
GUESTS = ("GUEST",)


@pytest.fixture(scope="module")
def walk_in(kpi_wh, tmp_path_factory):
    """A copy of the KPI company with the walk-in sales above; GUEST also has a customers row
    (acquired through Online Ads, as a master file might say)."""
    path = tmp_path_factory.mktemp("walk_in") / "warehouse.duckdb"
    shutil.copy(kpi_wh.warehouse_path, path)
    with warehouse.connect(path) as c:
        first = c.execute("SELECT max(entry_id) FROM ledger").fetchall()[0][0] + 1
        for i, (period, kind, rep, team, region, order, line, customer, credit, event, amount) in enumerate(WALK_INS):
            c.execute(
                """INSERT INTO ledger (entry_id, period, origin_period, kind, rep_id, team, region, order_id, line_no,
                                       customer_id, product_id, credit_date, event_date, share, amount, margin,
                                       quantity, reason, posted_at, post_id)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'P1', ?, ?, 1, ?, 0, 1, NULL, now(), 'walk-in')""",
                [first + i, period, period, kind, rep, team, region, order, line, customer, date.fromisoformat(credit),
                 date.fromisoformat(event), amount],
            )
        c.execute(
            "INSERT INTO customers (customer_id, name, acquisition_channel, owner_rep_id, batch_id) "
            "SELECT 'GUEST', 'Walk-in', 'Online Ads', 'R1', max(batch_id) FROM customers"
        )
    with warehouse.connect(path, read_only=True) as c:
        yield c


def test_pareto_by_customer_leaves_walk_ins_out(kc, walk_in):
    """By customer, the walk-ins (no customer, or GUEST) are no customer: the ranking is the
    company's without them; by product they count as any sale."""
    by_customer = K.pareto(walk_in, "2024-02", by="customer", anonymous=GUESTS)
    assert set(by_customer["customer_id"]) == set(K.pareto(kc, "2024-02", by="customer")["customer_id"])
    assert "GUEST" not in set(by_customer["customer_id"]) and by_customer["customer_id"].notna().all()
    by_product = K.pareto(walk_in, "2024-02")
    assert by_product["revenue"].sum() == 325


def test_walk_in_sales_count_in_revenue_but_not_as_customers(kc, walk_in):
    """February 2024 with walk-ins: new C4 (75) and repeat C1, C3 (150) as before; the walk-ins
    W1 (40, no customer) and W2 (GUEST: 60 + 20, less the 20 returned) make a row of their own:
    revenue 100, gross sales 120, 2 orders, no customer. Revenue in all = 325 = perf."""
    df = K.new_vs_repeat(walk_in, "2024-02", anonymous=GUESTS)
    assert list(df["customer_type"]) == ["new", "repeat", "anonymous"]
    new, rep, anon = row(df, customer_type="new"), row(df, customer_type="repeat"), row(df, customer_type="anonymous")
    assert (new["revenue"], new["customers"], new["orders"]) == (75, 1, 1)
    assert (rep["revenue"], rep["customers"], rep["orders"]) == (150, 2, 2)
    assert (anon["revenue"], anon["gross_sales"], anon["customers"], anon["orders"]) == (100, 120, 0, 2)
    assert df["revenue"].sum() == 325 == perf.scope_summary(walk_in, "2024-02").iloc[0]["revenue"]
    assert anon["revenue_share_pct"] == pytest.approx(100 / 325 * 100) and anon["customers_share_pct"] == 0
    assert np.isnan(anon["revenue_per_customer"])  # anonymous sales are outside every per-customer figure
    assert new["revenue_per_customer"] == 75 and rep["revenue_per_customer"] == 75
    # without the walk-ins' row the frame is the one of the company without them
    pd.testing.assert_frame_equal(df.iloc[:2].drop(columns=[c for c in df if c.endswith("_share_pct")]),
                                  K.new_vs_repeat(kc, "2024-02").drop(columns=[c for c in df if c.endswith("_share_pct")]))
    # a team: T2's walk-ins are W2's (60 + 20 - 20)
    t2 = K.new_vs_repeat(walk_in, "2024-02", "team:T2", anonymous=GUESTS)
    assert row(t2, customer_type="anonymous")["revenue"] == 60
    # nothing anonymous in the window: two rows, as ever
    assert list(K.new_vs_repeat(walk_in, "2025-03", anonymous=GUESTS)["customer_type"]) == ["new", "repeat"]
    # the guest id not named: GUEST becomes a new customer of February (NULL never is a customer)
    naive = K.new_vs_repeat(walk_in, "2024-02")
    assert row(naive, customer_type="new")["customers"] == 2 and row(naive, customer_type="anonymous")["revenue"] == 40


def test_walk_in_sales_are_in_no_cohort_and_acquire_no_customer(kc, walk_in):
    pd.testing.assert_frame_equal(
        K.cohort_retention(walk_in, "2024-03", months=3, anonymous=GUESTS), K.cohort_retention(kc, "2024-03", months=3)
    )
    pd.testing.assert_frame_equal(K.cac_by_channel(walk_in, "2024-Q1", anonymous=GUESTS), K.cac_by_channel(kc, "2024-Q1"))
    # the guest id not named: a cohort of two in February, and a cheaper Online Ads
    naive = K.cohort_retention(walk_in, "2024-03", months=3)
    assert row(naive, cohort="2024-02", months_since=0)["cohort_size"] == 2
    assert K.cac_by_channel(walk_in, "2024-Q1").set_index("channel").loc["Online Ads", "new_customers"] == 3


def test_kpi_table_counts_identified_customers_and_all_revenue(walk_in):
    t = K.kpi_table(walk_in, "2024-02", anonymous=GUESTS).set_index("kpi")
    assert t.loc["revenue", "value"] == 325  # walk-ins included
    assert t.loc["new customers", "value"] == 1  # C4 only
    assert "anonymous (walk-in / guest) sales 30.8% of revenue, in no customer count" in t.loc["new customers", "note"]
    assert "2 repeat customers" in t.loc["revenue from new customers", "note"]
    assert t.loc["revenue from new customers", "value"] == pytest.approx(75 / 325 * 100)
    assert "anonymous sales are in no cohort" in t.loc["retention after 1 month", "note"]
    assert "anonymous sales acquire no customer" in t.loc["customer acquisition cost", "note"]


def test_pareto_margin_is_empty_without_costs_and_says_what_it_covers(tmp_path):
    from tests.test_accounting_performance import toy_costed

    none = toy_costed(tmp_path / "none", set())
    with warehouse.connect(none.warehouse_path, read_only=True) as c:
        cat = K.pareto(c, "2024-02", by="category")
    assert list(cat["revenue"]) == [310, 200]
    assert cat["margin"].isna().all() and (cat["margin_coverage_pct"] == 0).all()
    # SO8 (Beta, 200) without a cost: Beta's margin is SO5 30 + RT2 -30 over 50 + 50 of 300
    some = toy_costed(tmp_path / "some", {"SO1", "SO2", "RT1", "SO3", "SO5", "SO6", "SO7", "SO9", "RT2"})
    with warehouse.connect(some.warehouse_path, read_only=True) as c:
        cat = K.pareto(c, "2024-02", by="category").set_index("category")
    assert (cat.loc["Alpha", "margin"], cat.loc["Alpha", "margin_coverage_pct"]) == (40 + 80 + 4, 100)
    assert cat.loc["Beta", "margin"] == 0
    assert cat.loc["Beta", "margin_coverage_pct"] == pytest.approx((50 + 50) / (50 + 200 + 50) * 100)


def test_the_customer_figures_of_one_connection_share_one_first_sale_table(small_demo):
    """New vs repeat, cohorts and CAC build every customer's first sale once per connection,
    period and ledger state (a temporary table), and give what a fresh connection gives."""
    def shared(con) -> set[str]:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'kpi_%'").fetchall()}

    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        a = K.new_vs_repeat(con, "2026-05")
        K.cohort_retention(con, "2026-05", 6)
        made = shared(con)
        assert len(made) == 2 and {t.split("_")[1] for t in made} == {"credits", "first"}  # one credits and one first-sale table
        pd.testing.assert_frame_equal(K.new_vs_repeat(con, "2026-05"), a)
        assert shared(con) == made  # read, not built again
        K.new_vs_repeat(con, "2026-04")  # another period: its own
        assert len(shared(con)) == 4
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as fresh:
        pd.testing.assert_frame_equal(K.new_vs_repeat(fresh, "2026-05"), a)
