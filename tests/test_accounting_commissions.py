"""Commission statements: hand-worked plans, clawback through ledger adjustments, plan
assignment, reconciliation with the ledger, config errors and the CLI.

Most examples use PLAN: 2% of the base up to 100% of target, 4% from 100% to 120%, 6% above
(marginal), nothing below 50%, 1% flat without a target, no cap.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest

from salesml import warehouse
from salesml.accounting import closing
from salesml.accounting import commissions as cm
from salesml.accounting import performance as perf
from salesml.accounting.ledger import ensure_posted
from salesml.config import (
    CommissionPlan,
    CommissionSettings,
    CommissionTier,
    ConfigError,
    load_settings,
)
from salesml.ingest import canonical_source, ingest_source
from tests.conftest import TOY, load_toy, make_settings
from tests.test_cli import run

PLAN = CommissionPlan(
    description="test plan",
    base="revenue",
    tiers=(CommissionTier(0, 0.02), CommissionTier(100, 0.04), CommissionTier(120, 0.06)),
    threshold_pct=50,
    cap=0,
    no_target_rate=0.01,
)
ONLY_PLAN = CommissionSettings(default_plan="test", plans={"test": PLAN})

HEADER = (TOY / "order_lines.csv").read_text(encoding="utf-8").splitlines()[0]
#: RT3 returns 2 units (20.00, cost 12.00) of SO1/1, sold by R1 (T1) in January 2024
LATE_RETURN = "RT3,1,2024-02-27,C1,P1,-2,10,-20,R1,0,6,CNY,returned,SO1,1,Direct,East"
TODAY = date(2024, 6, 1)


@pytest.fixture(scope="module")
def toy_ro(tmp_path_factory):
    """The toy company, for the tests that only read it (the others use ``toy``)."""
    s = make_settings(tmp_path_factory.mktemp("toy_ro"))
    load_toy(s)
    return s


def amounts(st: cm.Statement) -> list[tuple[str, Decimal]]:
    return [(line.kind, line.amount) for line in st.lines]


def D(x: str) -> Decimal:
    return Decimal(x)


# ----------------------------------------------------------------------------- one statement, by hand


def test_below_threshold_pays_nothing():
    # 4,000 of a 10,000 target = 40% < 50%: the tiers would pay 4,000 x 2% = 80.00, the threshold takes it back
    st = cm.calculate(PLAN, base=4000, target=10000)
    assert st.attainment_pct == 40
    assert st.subtotal == D("80.00") and st.threshold_effect == D("-80.00") and st.commission == D("0.00")
    assert amounts(st) == [
        ("tier", D("80.00")), ("tier", D("0.00")), ("tier", D("0.00")), ("subtotal", D("80.00")),
        ("threshold", D("-80.00")), ("clawback", D("0.00")), ("total", D("0.00")),
    ]  # fmt: skip
    assert st.note == "below threshold"
    # exactly at the threshold pays: 5,000 x 2% = 100.00
    assert cm.calculate(PLAN, base=5000, target=10000).commission == D("100.00")


def test_within_the_first_tier():
    # 7,500 / 10,000 = 75%: all of it in the 0-100% band, 7,500 x 2% = 150.00
    st = cm.calculate(PLAN, base=7500, target=10000)
    tiers = [line for line in st.lines if line.kind == "tier"]
    assert [(t.band_from_pct, t.band_to_pct, t.base_in_band, t.rate, t.amount) for t in tiers] == [
        (0, 100, D("7500.00"), 0.02, D("150.00")),
        (100, 120, D("0.00"), 0.04, D("0.00")),
        (120, None, D("0.00"), 0.06, D("0.00")),
    ]
    assert st.commission == D("150.00") and st.note == ""


def test_across_tiers_with_accelerators():
    # 13,000 / 10,000 = 130%: 10,000 x 2% = 200.00 + (120% - 100%) x 10,000 = 2,000 x 4% = 80.00
    # + (130% - 120%) x 10,000 = 1,000 x 6% = 60.00 -> 340.00
    st = cm.calculate(PLAN, base=13000, target=10000)
    assert [(line.base_in_band, line.amount) for line in st.lines if line.kind == "tier"] == [
        (D("10000.00"), D("200.00")),
        (D("2000.00"), D("80.00")),
        (D("1000.00"), D("60.00")),
    ]
    assert st.attainment_pct == 130 and st.subtotal == st.commission == D("340.00")


def test_cap():
    # as above, 340.00, capped at 300.00: a cap line of -40.00
    capped = CommissionPlan(**{**PLAN.__dict__, "cap": 300.0})
    st = cm.calculate(capped, base=13000, target=10000)
    assert (st.subtotal, st.cap_effect, st.commission, st.note) == (D("340.00"), D("-40.00"), D("300.00"), "capped")
    assert ("cap", D("-40.00")) in amounts(st)
    # under the cap: no cap line
    st = cm.calculate(capped, base=7500, target=10000)
    assert st.commission == D("150.00") and "cap" not in [k for k, _ in amounts(st)]


def test_no_target_is_a_flat_rate_without_threshold():
    # no target: 5,000 x 1% = 50.00; no threshold (there is no attainment)
    for target in (None, 0, float("nan")):
        st = cm.calculate(PLAN, base=5000, target=target)
        assert st.attainment_pct is None and st.target is None
        assert amounts(st) == [("no_target", D("50.00")), ("subtotal", D("50.00")), ("clawback", D("0.00")), ("total", D("50.00"))]
        assert st.note == "no target"
    # the cap still applies: 5,000 x 1% = 50.00, capped at 30.00
    st = cm.calculate(CommissionPlan(**{**PLAN.__dict__, "cap": 30.0}), base=5000, target=None)
    assert (st.cap_effect, st.commission) == (D("-20.00"), D("30.00"))


def test_negative_base_is_clawed_back_at_the_first_rate():
    # returns exceed sales: -300 x 2% (the first tier's rate) = -6.00, no threshold, no cap
    st = cm.calculate(CommissionPlan(**{**PLAN.__dict__, "cap": 1.0}), base=-300, target=10000)
    assert amounts(st) == [("negative_base", D("-6.00")), ("subtotal", D("-6.00")), ("clawback", D("0.00")), ("total", D("-6.00"))]
    assert st.threshold_effect == st.cap_effect == 0 and st.note == "negative base"
    # without a target: at the no-target rate, -300 x 1% = -3.00
    assert cm.calculate(PLAN, base=-300, target=None).commission == D("-3.00")


def test_rounding_is_to_the_cent_half_away_from_zero():
    # 12.50 x 1% = 0.125 -> 0.13; -12.50 x 1% = -0.125 -> -0.13 (not banker's 0.12)
    assert cm.calculate(PLAN, base=D("12.50"), target=None).commission == D("0.13")
    assert cm.calculate(PLAN, base=D("-12.50"), target=None).commission == D("-0.13")
    # band edges are cents: target 333.33 x 100% = 333.33; base 400 -> 333.33 x 2% = 6.6666 -> 6.67,
    # 66.67 x 4% = 2.6668 -> 2.67; total 9.34 = the sum of the rounded lines
    st = cm.calculate(PLAN, base=400, target=D("333.33"))
    assert [line.base_in_band for line in st.lines if line.kind == "tier"] == [D("333.33"), D("66.67"), D("0.00")]
    assert st.commission == D("9.34")


def test_clawback_line_is_commission_with_minus_without_adjustments():
    # base 9,000 of which -1,000 adjustments, target 10,000:
    # with them 9,000 x 2% = 180.00; without them 10,000 x 2% = 200.00 -> clawback -20.00
    st = cm.calculate(PLAN, base=9000, target=10000, adjustments=-1000)
    assert (st.commission, st.clawback, st.base_adjustments) == (D("180.00"), D("-20.00"), D("-1000.00"))
    # a late return that drops the rep below the threshold claws back everything:
    # 4,900 (49%) pays 0; without the -200 it is 5,100 x 2% = 102.00 -> clawback -102.00
    assert cm.calculate(PLAN, base=4900, target=10000, adjustments=-200).clawback == D("-102.00")


def test_a_margin_plan_pays_on_margin_against_the_margin_target():
    # margin 2,500 of a margin target 2,000 = 125%: 2,000 x 2% = 40.00 + 400 x 4% = 16.00
    # + 100 x 6% = 6.00 -> 62.00 (revenue and its target are ignored)
    figures = pd.DataFrame(
        [{"rep_id": "R1", "rep_name": "a", "team": "T1", "region": "East", "role": "rep", "revenue": 10000.0, "margin": 2500.0,
          "revenue_adjustments": 0.0, "margin_adjustments": 0.0, "target_revenue": 8000.0, "target_margin": 2000.0}]
    )  # fmt: skip
    margin_plan = CommissionSettings(default_plan="m", plans={"m": CommissionPlan(**{**PLAN.__dict__, "base": "margin"})})
    summary, lines = cm.compute_statements(figures, margin_plan, "2024-02")
    row = summary.iloc[0]
    assert (row["base_metric"], row["base"], row["target"], row["attainment_pct"], row["commission"]) == ("margin", 2500, 2000, 125, 62)
    assert lines.loc[lines["kind"] == "tier", "amount"].tolist() == [40, 16, 6]


# ----------------------------------------------------------------------------- plan assignment


def test_plan_assignment_order_rep_then_role_then_team_then_region_then_default():
    plans = {
        "standard": PLAN,
        "by_region": CommissionPlan(regions=("East",)),
        "by_team": CommissionPlan(teams=("T2",)),
        "by_role": CommissionPlan(roles=("manager",)),
        "by_rep": CommissionPlan(rep_ids=("R3",)),
    }
    reps = pd.DataFrame(
        [
            ("R3", "rep", "T2", "East"),  # listed by id: wins over its team and region
            ("M1", "manager", "T2", "East"),  # role wins over team and region
            ("R2", "rep", "T2", "East"),  # team wins over region
            ("R1", "rep", "T1", "East"),  # region
            ("R4", "rep", "T9", "North"),  # nothing matches: the default plan
            ("R5", None, "T9", "North"),  # no role recorded
        ],
        columns=["rep_id", "role", "team", "region"],
    )
    got = cm.assign_plans(reps, CommissionSettings(default_plan="standard", plans=plans))
    assert list(zip(got["plan"], got["assigned_by"], strict=True)) == [
        ("by_rep", "rep_id"), ("by_role", "role"), ("by_team", "team"), ("by_region", "region"),
        ("standard", "default"), ("standard", "default"),
    ]  # fmt: skip
    none = cm.assign_plans(reps, CommissionSettings(default_plan="", plans=plans))
    assert none["plan"].tolist()[-2:] == [None, None]


def test_a_rep_without_a_plan_is_listed_not_dropped(toy_ro):
    # only team T1 has a plan; in February R2 ends the month in T2 (moved on 02-15), R3 is in T2
    only_t1 = CommissionSettings(default_plan="", plans={"t1": CommissionPlan(**{**PLAN.__dict__, "teams": ("T1",)})})
    with warehouse.connect(toy_ro.warehouse_path, read_only=True) as con:
        summary, lines = cm.statements(con, "2024-02", only_t1)
    s = summary.set_index("rep_id")
    assert s.loc["R1", "plan"] == "t1" and s.loc["R1", "assigned_by"] == "team"
    for rep in ("R2", "R3"):
        assert s.loc[rep, "note"] == "no plan" and pd.isna(s.loc[rep, "plan"]) and pd.isna(s.loc[rep, "commission"])
    assert set(lines["rep_id"]) == {"R1"}
    # their revenue is still there: 200 (R1) + 100 (R2) + 200 (R3) = 510 less SO9's 10 without a rep
    assert summary["revenue"].sum() == 500


# ----------------------------------------------------------------------------- the toy warehouse


def load_late_return(settings):
    path = settings.root / "late.csv"
    path.write_text("\n".join([HEADER, LATE_RETURN]) + "\n", encoding="utf-8")
    ingest_source(settings, "t", canonical_source({"order_lines": path}), today=TODAY)
    return ensure_posted(settings)


def test_toy_february_by_hand(toy_ro):
    """February 2024: R1 SO7 200 (target 200: 100%); R2 SO5 50 + SO6 100 - RT2 50 = 100 over
    two team rows (target 160: 62.5%); R3 SO8 200 (target 250: 80%). SO9 (10) has no rep."""
    with warehouse.connect(toy_ro.warehouse_path, read_only=True) as con:
        summary, lines = cm.statements(con, "2024-02", ONLY_PLAN)
        rows = perf.performance(con, "2024-02", "rep")
    s = summary.set_index("rep_id")
    assert list(s.index) == ["R1", "R2", "R3"]
    assert s["base"].tolist() == [200, 100, 200] and s["target"].tolist() == [200, 160, 250]
    assert s["attainment_pct"].tolist() == [100, 62.5, 80]
    # R1: 200 x 2% = 4.00 (100% is the top of the first band); R2: 100 x 2% = 2.00; R3: 200 x 2% = 4.00
    assert s["commission"].tolist() == [4, 2, 4]
    # the mover: two performance rows, one statement in the team of the month's end
    assert sorted(rows.loc[rows["rep_id"] == "R2", "team"]) == ["T1", "T2"]
    assert (s.loc["R2", "team"], s.loc["R2", "region"]) == ("T2", "West")
    assert rows.loc[rows["rep_id"] == "R2", "revenue"].sum() == s.loc["R2", "base"]


def test_a_margin_plan_on_the_toy(toy_ro):
    # R3 in February: margin 200 - 4 x 20 = 120 of a margin target 100 = 120%:
    # 100 x 2% = 2.00 + 20 x 4% = 0.80 -> 2.80
    margin = CommissionSettings(default_plan="m", plans={"m": CommissionPlan(**{**PLAN.__dict__, "base": "margin"})})
    with warehouse.connect(toy_ro.warehouse_path, read_only=True) as con:
        summary, _ = cm.statements(con, "2024-02", margin, scope="rep:R3")
    assert summary[["rep_id", "base", "target", "attainment_pct", "commission"]].values.tolist() == [["R3", 120, 100, 120, 2.8]]


def test_a_late_return_of_a_closed_month_claws_back_in_the_month_it_posts(toy):
    """January is closed; RT3 (-20.00, margin -8.00) of R1's January sale SO1/1 arrives on
    2024-02-27 and posts in February as an adjustment.

    Plan: 2% up to 90% of target, 5% above. R1's February: SO7 200 + RT3 -20 = 180 of a target
    200 = 90% -> 180 x 2% = 3.60. Without the adjustment: 200 = 100% -> 180 x 2% = 3.60 +
    20 x 5% = 1.00 = 4.60. Clawback = 3.60 - 4.60 = -1.00 (the returned 20 earned the
    accelerator rate, so the clawback is more than 20 x 2%)."""
    plan = CommissionPlan(tiers=(CommissionTier(0, 0.02), CommissionTier(90, 0.05)), threshold_pct=0, cap=0, no_target_rate=0.02)
    settings = CommissionSettings(default_plan="p", plans={"p": plan})
    with warehouse.connect(toy.warehouse_path) as con:
        closing.close(con, "2024-01", "tester", today=TODAY)
        january_before, _ = cm.statements(con, "2024-01", settings)
    result = load_late_return(toy)
    assert (result["adjustments"], result["adjustment_amount"]) == (1, -20.0)
    with warehouse.connect(toy.warehouse_path, read_only=True) as con:
        summary, lines = cm.statements(con, "2024-02", settings)
        january_after, _ = cm.statements(con, "2024-01", settings)
        [(ledger_r1,)] = con.execute("SELECT sum(amount) FROM ledger WHERE period = '2024-02' AND rep_id = 'R1'").fetchall()
    r1 = summary.set_index("rep_id").loc["R1"]
    assert (r1["base"], r1["base_adjustments"], r1["attainment_pct"]) == (180, -20, 90)
    assert r1["base"] == float(ledger_r1)
    assert (r1["commission"], r1["clawback"]) == (3.6, -1.0)
    r1_lines = lines[lines["rep_id"] == "R1"].set_index("kind")
    assert r1_lines.loc["clawback", "amount"] == -1.0 and not r1_lines.loc["clawback", "in_total"]
    assert "-20.00" in r1_lines.loc["clawback", "description"]
    # the closed month's statements do not change
    pd.testing.assert_frame_equal(january_before, january_after)
    # R2 and R3 have no adjustments: clawback 0
    assert summary.set_index("rep_id").loc[["R2", "R3"], "clawback"].tolist() == [0, 0]


def check_reconciles(con, period: str, summary: pd.DataFrame, lines: pd.DataFrame) -> None:
    """Statements against the ledger and the performance rows, rep by rep."""
    ledger = con.execute(
        """SELECT rep_id, sum(amount)::DOUBLE AS revenue, sum(margin)::DOUBLE AS margin,
                  coalesce(sum(amount) FILTER (WHERE period <> origin_period), 0)::DOUBLE AS adj
           FROM ledger WHERE period = ? AND rep_id IS NOT NULL GROUP BY 1""",
        [period],
    ).df().set_index("rep_id")  # fmt: skip
    s = summary.set_index("rep_id")
    assert s.index.is_unique
    assert set(ledger.index) <= set(s.index), "a credited rep has no statement"
    # every rep: base = the sum of the rep's ledger entries posted in the period
    joined = s.join(ledger.add_suffix("_ledger")).fillna({"revenue_ledger": 0, "margin_ledger": 0, "adj_ledger": 0})
    assert (joined["revenue"] - joined["revenue_ledger"]).abs().max() < 0.005
    assert (joined["margin"] - joined["margin_ledger"]).abs().max() < 0.005
    planned = joined[joined["plan"].notna()]
    base = planned.apply(lambda r: r["revenue"] if r["base_metric"] == "revenue" else r["margin"], axis=1)
    assert (planned["base"] - base).abs().max() < 0.005
    on_revenue = planned[planned["base_metric"] == "revenue"]
    assert ((on_revenue["base_adjustments"] - on_revenue["adj_ledger"]).abs() < 0.005).all()
    # totals: Σ statements = the ledger's credited revenue and margin of the period
    total = con.execute(
        "SELECT coalesce(sum(amount), 0)::DOUBLE, coalesce(sum(margin), 0)::DOUBLE FROM ledger WHERE period = ? AND rep_id IS NOT NULL", [period]
    ).fetchall()[0]  # fmt: skip
    assert summary["revenue"].sum() == pytest.approx(total[0], abs=0.005)
    assert summary["margin"].sum() == pytest.approx(total[1], abs=0.005)
    # movers: the statement's base = the sum over the rep's performance rows
    rows = perf.performance(con, period, "rep")
    by_rep = rows[rows["rep_id"] != "(unassigned)"].groupby("rep_id")[["revenue", "adjustments"]].sum()
    both = s.join(by_rep.add_suffix("_perf"), how="inner")
    assert len(both) == len(by_rep)
    assert (both["revenue"] - both["revenue_perf"]).abs().max() < 0.005
    rev = both[both["base_metric"] == "revenue"]
    assert ((rev["base_adjustments"] - rev["adjustments_perf"]).abs() < 0.005).all()
    # each statement adds up: the lines in the total sum to the commission; bands to the base
    for rep_id, group in lines.groupby("rep_id"):
        assert group.loc[group["in_total"], "amount"].sum() == pytest.approx(s.loc[rep_id, "commission"], abs=0.001)
        assert group.loc[group["kind"] == "total", "amount"].item() == s.loc[rep_id, "commission"]
        tiers = group[group["kind"] == "tier"]
        if len(tiers) and s.loc[rep_id, "base"] >= 0:
            assert tiers["base_in_band"].sum() == pytest.approx(s.loc[rep_id, "base"], abs=0.001)
    # a return can only take commission back
    assert (summary.loc[summary["base_adjustments"] <= 0, "clawback"] <= 0).all()


def test_statements_reconcile_with_the_ledger_on_the_toy(toy):
    with warehouse.connect(toy.warehouse_path) as con:
        closing.close(con, "2024-01", "tester", today=TODAY)
    load_late_return(toy)
    with warehouse.connect(toy.warehouse_path, read_only=True) as con:
        for period in ("2024-01", "2024-02"):
            summary, lines = cm.statements(con, period, ONLY_PLAN)
            check_reconciles(con, period, summary, lines)


def test_statements_reconcile_with_the_ledger_on_the_small_demo(small_demo):
    """Every rep of every month from March to June 2026; April and May are closed, so May and
    June carry adjustments (late returns of closed months)."""
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        assert closing.closed_periods(con) >= {"2026-04", "2026-05"}
        for period in ("2026-03", "2026-04", "2026-05", "2026-06"):
            summary, lines = cm.statements(con, period, small_demo)
            assert summary["plan"].notna().all()  # the default plan takes everyone
            check_reconciles(con, period, summary, lines)
            if period in ("2026-05", "2026-06"):
                assert summary["base_adjustments"].sum() < 0 and summary["clawback"].sum() < 0
        by_rep = cm.commission_by_rep(con, "2026-06", small_demo)
        assert list(by_rep.columns) == ["rep_id", "plan", "commission"] and by_rep["rep_id"].is_unique
        one = cm.commission_by_rep(con, "2026-06", small_demo, scope=f"rep:{by_rep['rep_id'].iloc[0]}")
        assert one.to_dict("records") == by_rep.head(1).to_dict("records")


# ----------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[commission.plans.standard]\ntiers = [{ from_pct = 0, rate = 0.02 }, { from_pct = 120, rate = 0.04 }, { from_pct = 100, rate = 0.06 }]\n",
         r"commission\.plans\.standard\.tiers\[2\]\.from_pct: tiers must be in ascending order"),
        ("[commission.plans.standard]\ntiers = [{ from_pct = 0, rate = -0.01 }]\n", r"commission\.plans\.standard\.tiers\[0\]\.rate must be between 0 and 1"),
        ("[commission.plans.standard]\ntiers = [{ from_pct = 10, rate = 0.01 }]\n", r"commission\.plans\.standard\.tiers\[0\]\.from_pct: the first tier starts at 0"),
        ("[commission.plans.standard]\nbase = 'profit'\n", r"commission\.plans\.standard\.base must be one of revenue, margin, got 'profit'"),
        ("[commission.plans.standard]\nno_target_rate = 3\n", r"commission\.plans\.standard\.no_target_rate must be between 0 and 1"),
        ("[commission.plans.standard]\ncap = -5\n", r"commission\.plans\.standard\.cap"),
        ("[commission.plans.standard]\nrates = 1\n", r"unknown setting 'commission\.plans\.standard\.rates'"),
        ("[commission]\ndefault_plan = 'gold'\n", r"commission\.default_plan: no plan 'gold'"),
        ("[commission.plans.vip]\nrep_ids = ['R1']\n", r"commission\.default_plan: no plan 'standard' \(plans: vip"),
        ("[commission]\ndefault_plan = 'a'\n[commission.plans.a]\nteams = ['T1']\n[commission.plans.b]\nteams = ['T1']\n", r"commission\.plans\.b\.teams: 'T1' is also in commission\.plans\.a\.teams"),
        ("[commission]\ndefault_plan = 'a'\n[commission.plans.a]\nroles = ['boss']\n", r"commission\.plans\.a\.roles: 'boss' is not a role"),
    ],
)  # fmt: skip
def test_bad_commission_settings_name_the_key(tmp_path, no_config, text, message):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as e:
        load_settings(cfg)
    assert str(cfg) in str(e.value)


def test_plans_in_a_file_replace_the_built_in_ones_and_inherit_its_values(tmp_path, no_config):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[commission]\ndefault_plan = 'vip'\n[commission.plans.vip]\nbase = 'margin'\n", encoding="utf-8")
    s = load_settings(cfg)
    assert list(s.commission.plans) == ["vip"]
    assert s.commission.plans["vip"].tiers == CommissionPlan().tiers and s.commission.plans["vip"].base == "margin"


# ----------------------------------------------------------------------------- CLI

CONFIG = """
[commission]
default_plan = "p"
[commission.plans.p]
tiers = [{ from_pct = 0, rate = 0.02 }, { from_pct = 100, rate = 0.04 }, { from_pct = 120, rate = 0.06 }]
threshold_pct = 50.0
no_target_rate = 0.01
"""


@pytest.fixture(scope="module")
def cli_env(toy_ro):
    (toy_ro.root / "c.toml").write_text(CONFIG, encoding="utf-8")
    return {"SALESML_WAREHOUSE": str(toy_ro.warehouse_path)}


def test_cli_json(toy_ro, cli_env):
    proc = run("commission", "--period", "2024-02", "--format", "json", "--config", "c.toml", cwd=toy_ro.root, env_extra=cli_env)
    data = json.loads(proc.stdout)
    # as in test_toy_february_by_hand: 4.00, 2.00, 4.00
    assert [(d["rep_id"], d["plan"], d["base"], d["commission"]) for d in data] == [("R1", "p", 200, 4), ("R2", "p", 100, 2), ("R3", "p", 200, 4)]
    r1 = data[0]
    assert [line["kind"] for line in r1["lines"]] == ["tier", "tier", "tier", "subtotal", "clawback", "total"]
    assert r1["lines"][0] == {
        "line": 1, "kind": "tier", "description": "0% - 100% of target at 2%", "band_from_pct": 0.0, "band_to_pct": 100.0,
        "base_in_band": 200.0, "rate": 0.02, "amount": 4.0, "in_total": True,
    }  # fmt: skip
    one = json.loads(run("commission", "--period", "2024-02", "--rep", "R2", "--format", "json", "--config", "c.toml", cwd=toy_ro.root, env_extra=cli_env).stdout)
    assert [d["rep_id"] for d in one] == ["R2"]


def test_cli_table_and_errors(toy_ro, cli_env):
    out = run("commission", "--period", "2024-02", "--rep", "R1", "--config", "c.toml", cwd=toy_ro.root, env_extra=cli_env).stdout
    assert "0% - 100% of target at 2%" in out and "clawback" in out
    bad = run("commission", "--period", "2024-02", "--rep", "R99", cwd=toy_ro.root, env_extra=cli_env, check=False)
    assert bad.returncode == 1 and "R99" in bad.stderr and "no such rep" in bad.stderr
    bad = run("commission", "--period", "2024-13", cwd=toy_ro.root, env_extra=cli_env, check=False)
    assert bad.returncode == 1 and "YYYY-MM" in bad.stderr


def test_cli_to_xlsx(toy_ro, cli_env):
    proc = run("commission", "--period", "2024-02", "--to", "out/statements.xlsx", "--config", "c.toml", cwd=toy_ro.root, env_extra=cli_env)
    path = toy_ro.root / "out" / "statements.xlsx"
    assert proc.stdout.strip() == str(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["statements", "lines"]
    summary = list(wb["statements"].values)
    header = list(summary[0])
    assert [r[header.index("rep_id")] for r in summary[1:]] == ["R1", "R2", "R3"]
    assert [r[header.index("commission")] for r in summary[1:]] == [4, 2, 4]
    lines = list(wb["lines"].values)
    assert len(lines) == 1 + 3 * 6  # three tiers, subtotal, clawback, total per rep
    assert lines[0][:5] == ("period", "rep_id", "plan", "line", "kind")
    # csv: the summaries and, beside them, the lines
    proc = run("commission", "--period", "2024-02", "--to", "s.csv", "--config", "c.toml", cwd=toy_ro.root, env_extra=cli_env)
    assert proc.stdout.split() == [str(toy_ro.root / "s.csv"), str(toy_ro.root / "s_lines.csv")]


def test_export_sheets_keeps_text_as_text(tmp_path):
    from salesml.io.export import ExportError, export_sheets

    path = export_sheets({"a": pd.DataFrame({"x": ['=HYPERLINK("http://x","y")']}), "b": pd.DataFrame({"n": [1.5]})}, tmp_path / "two.xlsx")
    wb = openpyxl.load_workbook(path)
    assert wb["a"]["A2"].value == '=HYPERLINK("http://x","y")' and wb["a"]["A2"].data_type == "s"
    assert wb["b"]["A2"].value == 1.5
    with pytest.raises(ExportError, match="name a .xlsx"):
        export_sheets({"a": pd.DataFrame()}, tmp_path / "x.csv")
    with pytest.raises(ExportError, match="used twice"):
        export_sheets({"a": pd.DataFrame(), "A": pd.DataFrame()}, tmp_path / "y.xlsx")


def test_a_margin_plan_without_costs_pays_nothing_it_cannot_compute(tmp_path):
    """No cost loaded: a margin plan's statement has no base, no lines, no commission and a
    note naming the plan; revenue plans pay as usual, and `salesml check` still reconciles."""
    from salesml.accounting import checks
    from tests.test_accounting_performance import toy_costed

    s = toy_costed(tmp_path, set())
    plans = CommissionSettings(
        default_plan="rev",
        plans={"rev": PLAN, "m": CommissionPlan(**{**PLAN.__dict__, "base": "margin", "rep_ids": ("R3",)})},
    )
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        summary, lines = cm.statements(con, "2024-02", plans)
        checked = checks.run(con, "2024-02", s.with_overrides(commission={"default_plan": "rev", "plans": plans.plans}))
    r3 = summary.set_index("rep_id").loc["R3"]
    assert (r3["plan"], r3["base_metric"]) == ("m", "margin")
    assert pd.isna(r3["margin"]) and pd.isna(r3["base"]) and pd.isna(r3["commission"])
    assert r3["note"] == "no cost loaded: margin plan 'm' not computed, no commission"
    assert "R3" not in set(lines["rep_id"])
    r1 = summary.set_index("rep_id").loc["R1"]  # revenue plan: R1 200 of 200 -> 2% = 4.00
    assert (r1["base"], r1["commission"]) == (200, 4)
    assert checked["ok"].all(), checked[~checked["ok"]].to_string()


def test_a_margin_plan_with_some_costs_says_what_it_covers(tmp_path):
    # R2 in February: SO5 50 (margin 30) and RT2 -50 (margin -30) carry a cost, SO6 100 does not:
    # margin 0 over 50 + 50 of 200 revenue by absolute amount = 50%
    from tests.test_accounting_performance import toy_costed

    s = toy_costed(tmp_path, {"SO1", "SO2", "RT1", "SO3", "SO5", "SO7", "SO8", "SO9", "RT2"})
    margin = CommissionSettings(default_plan="m", plans={"m": CommissionPlan(**{**PLAN.__dict__, "base": "margin"})})
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        summary, _ = cm.statements(con, "2024-02", margin, scope="rep:R2")
    r2 = summary.iloc[0]
    assert (r2["margin"], r2["base"]) == (0, 0)
    assert r2["note"].endswith("margin over the 50% of revenue with a cost")
