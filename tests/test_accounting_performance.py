"""Performance figures on the toy company, worked out by hand, and reconciliation on the demo.

The toy company (tests/data/toy): reps R1 (T1/East), R3 (T2/West) and R2, who moves
from T1/East to T2/West on 2024-02-15; SO9 has no rep (a house sale in the East). Every
period is open, so a return counts in the month of the sale it reverses.

January 2024 (amount, cost = qty x unit cost):
  SO1  R1 (T1)  100 + 50, cost 60 + 20 -> margin 70
  SO2  R2 (T1)  200, cost 80 -> margin 120
  SO3  R3 (T2)   50, cost 30 -> margin 20          SO4 is cancelled
  RT1  (arrives 02-03) return of SO2/1: -50, cost -20 -> margin -30, counted in January
  company: gross 400, returns 50, revenue 350, margin 180, orders 3, customers 3
  R1 150 and R2 200 - 50 = 150 tie in T1
February 2024:
  SO5  02-05 R2 (T1)   50, cost 20 -> margin 30
  SO6  02-20 R2 (T2)  100, cost 60 -> margin 40
  SO7  02-10 R1 (T1)  200, cost 120 -> margin 80
  SO8  02-11 R3 (T2)  200, cost 80 -> margin 120
  SO9  02-12 no rep    10, cost 6 -> margin 4     (team unassigned, region East from the line)
  RT2  02-25 return of SO5/1, sold 02-05 when R2 was in T1: charged to R2 in T1
       although R2 is in T2 by then: -50, cost -20 -> margin -30
  company: gross 560, returns 50, revenue 510, margin 244, orders 5, customers 3,
           AOV 560 / 5 = 112, target 200 + 160 + 250 = 610, MoM (510 - 350) / 350 = 45.714 %
"""

from __future__ import annotations

import pandas as pd
import pytest

from salesml import periods as months
from salesml import warehouse
from salesml.accounting import performance as perf
from salesml.scope import ScopeError


@pytest.fixture
def con(toy):
    with warehouse.connect(toy.warehouse_path, read_only=True) as c:
        yield c


def row(df: pd.DataFrame, **match) -> pd.Series:
    sel = df
    for k, v in match.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, f"expected one row for {match}, got {len(sel)}"
    return sel.iloc[0]


def test_company_month_by_hand(con):
    c = row(perf.performance(con, "2024-02", "company"), period="2024-02")
    assert c["gross_sales"] == 560
    assert c["returns"] == 50
    assert c["revenue"] == 510
    assert c["margin"] == 244
    assert c["adjustments"] == 0
    assert c["orders"] == 5
    assert c["customers"] == 3
    assert c["aov"] == pytest.approx(112.0)
    assert c["target_revenue"] == 610
    assert c["attainment_pct"] == pytest.approx(510 / 610 * 100)
    assert c["margin_pct"] == pytest.approx(244 / 510 * 100)
    assert c["revenue_prev_month"] == 350
    assert c["growth_mom_pct"] == pytest.approx((510 - 350) / 350 * 100)
    assert pd.isna(c["growth_yoy_pct"])  # no February 2023


def test_cancelled_lines_do_not_count(con):
    jan = row(perf.performance(con, "2024-01", "company"), period="2024-01")
    assert jan["revenue"] == 350  # SO4 (50, cancelled) left out
    assert jan["orders"] == 3


def test_mover_counts_for_old_team_before_and_new_team_after(con):
    reps = perf.performance(con, "2024-02", "rep")
    old = row(reps, rep_id="R2", team="T1")
    new = row(reps, rep_id="R2", team="T2")
    assert (old["gross_sales"], old["returns"], old["revenue"], old["margin"]) == (50, 50, 0, 0)
    assert (new["revenue"], new["margin"]) == (100, 40)
    # the February target belongs to the team of the rep's last stint in the month
    assert pd.isna(old["target_revenue"])
    assert new["target_revenue"] == 160
    assert new["attainment_pct"] == pytest.approx(62.5)


def test_a_return_counts_in_its_sale_s_open_month_and_team(con):
    jan = row(perf.performance(con, "2024-01", "team"), team="T1")
    assert (jan["gross_sales"], jan["returns"], jan["revenue"]) == (350, 50, 300)  # RT1 arrived in February
    feb = perf.performance(con, "2024-02", "team")
    t1 = row(feb, team="T1")
    assert t1["returns"] == 50  # RT2 reverses a sale R2 made while in T1
    assert t1["revenue"] == 200  # R1 200 + R2 (50 - 50)
    assert row(feb, team="T2")["returns"] == 0


def test_a_sale_without_a_rep_is_unassigned_in_its_line_s_region_and_not_ranked(con):
    reps = perf.performance(con, "2024-02", "rep")
    house = row(reps, rep_id="(unassigned)")
    assert house["team"] == "(unassigned)" and house["region"] == "East"
    assert house["revenue"] == 10
    assert pd.isna(house["rank_in_team"]) and pd.isna(house["rank_in_region"])
    regions = perf.performance(con, "2024-02", "region")
    assert row(regions, region="East")["revenue"] == 210  # T1 200 + the house sale 10


def test_ranks_share_ties_and_skip(con):
    jan = perf.performance(con, "2024-01", "rep")
    # R1 (150) and R2 (200 - 50) tie in T1 and in East
    assert row(jan, rep_id="R1")["rank_in_team"] == 1
    assert row(jan, rep_id="R2")["rank_in_team"] == 1
    feb = perf.performance(con, "2024-02", "rep")
    assert row(feb, rep_id="R3")["rank_in_team"] == 1
    assert row(feb, rep_id="R2", team="T2")["rank_in_team"] == 2
    regions = perf.performance(con, "2024-02", "region")
    assert row(regions, region="West")["rank_in_company"] == 1
    assert row(regions, region="East")["rank_in_company"] == 2


@pytest.mark.parametrize("period", ["2024-01", "2024-02"])
def test_hierarchy_totals_reconcile(con, period):
    levels = {by: perf.performance(con, period, by) for by in perf.LEVELS}
    company = levels["company"].iloc[0]
    for by in ("rep", "team", "region"):
        for col in perf.ADDITIVE:
            assert levels[by][col].sum() == pytest.approx(company[col] if pd.notna(company[col]) else 0), (by, col)
    # and within each team / region
    reps, teams = levels["rep"], levels["team"]
    by_team = reps.groupby("team")[["revenue", "margin"]].sum()
    for _, t in teams.iterrows():
        assert by_team.loc[t["team"], "revenue"] == pytest.approx(t["revenue"])
        assert by_team.loc[t["team"], "margin"] == pytest.approx(t["margin"])


def test_scope_filters_rows_but_keeps_ranks_among_peers(con):
    mine = perf.performance(con, "2024-02", "rep", scope="rep:R3")
    assert set(mine["rep_id"]) == {"R3"}
    assert mine.iloc[0]["rank_in_team"] == 1
    team = perf.performance(con, "2024-02", "rep", scope="team:T2")
    assert set(team["rep_id"]) == {"R2", "R3"}
    with pytest.raises(ScopeError, match="narrower"):
        perf.performance(con, "2024-02", "team", scope="rep:R3")
    with pytest.raises(ScopeError, match="no team 'T99'"):
        perf.performance(con, "2024-02", "rep", scope="team:T99")


def test_scope_summary_of_a_rep_spans_teams(con):
    s = perf.scope_summary(con, "2024-02", "rep:R2").iloc[0]
    assert (s["gross_sales"], s["returns"], s["revenue"], s["orders"]) == (150, 50, 100, 2)
    assert s["target_revenue"] == 160
    company = perf.scope_summary(con, "2024-02", "company").iloc[0]
    expected = perf.performance(con, "2024-02", "company").iloc[0]
    for col in ["revenue", "margin", "orders", "customers", "aov", "target_revenue", "growth_mom_pct"]:
        assert company[col] == pytest.approx(expected[col])


def test_trend_and_breakdowns(con):
    trend = perf.monthly_trend(con, "2024-02", months=3)
    assert list(trend["period"]) == ["2023-12", "2024-01", "2024-02"]
    assert trend["revenue"].tolist()[1:] == [350, 510]
    cats = perf.breakdown(con, "2024-02", "category")
    assert row(cats, category="Alpha")["revenue"] == 310  # SO6 100 + SO7 200 + SO9 10
    assert row(cats, category="Beta")["returns"] == 50
    assert cats["share_pct"].sum() == pytest.approx(100)
    west = perf.breakdown(con, "2024-02", "channel", scope="team:T2")
    assert west["revenue"].sum() == 300


def test_period_helpers():
    assert months.shift_period("2024-01", -1) == "2023-12"
    assert months.shift_period("2024-12", 1) == "2025-01"
    assert months.shift_period("2024-03", -12) == "2023-03"
    assert months.period_range("2023-11", "2024-02") == ["2023-11", "2023-12", "2024-01", "2024-02"]
    for bad in ["2024-13", "2024-1", "24-01", "", "2024/01"]:
        with pytest.raises(months.PeriodError, match="YYYY-MM"):
            months.parse_period(bad)


def test_latest_complete_period(con):
    # data ends 2024-02-25: February is incomplete
    assert months.latest_complete_period(con) == "2024-01"


def test_demo_hierarchy_reconciles_every_month_of_the_last_year(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as c:
        last = months.latest_complete_period(c)
        for period in months.period_range(months.shift_period(last, -11), last):
            levels = {by: perf.performance(c, period, by) for by in perf.LEVELS}
            company = levels["company"].iloc[0]
            assert company["revenue"] > 0
            for by in ("rep", "team", "region"):
                for col in ("revenue", "margin", "returns", "target_revenue"):
                    assert levels[by][col].sum() == pytest.approx(company[col], rel=1e-9, abs=0.01), (period, by, col)
            # every rep row's team sums to the team row
            per_team = levels["rep"].groupby("team")["revenue"].sum()
            team_rev = levels["team"].set_index("team")["revenue"]
            pd.testing.assert_series_equal(per_team.sort_index(), team_rev.sort_index(), check_names=False, atol=0.01)
            # revenue also equals the ledger's own total of the period
            raw = c.execute("SELECT sum(amount) FROM ledger WHERE period = ?", [period]).fetchall()[0][0]
            assert float(raw) == pytest.approx(company["revenue"], abs=0.005)


def test_team_and_region_targets_of_their_own_take_precedence(tmp_path):
    from tests.conftest import load_toy, make_settings

    s = make_settings(tmp_path)
    load_toy(s)
    extra = tmp_path / "team_targets.csv"
    extra.write_text("rep_id,team,region,period,target_revenue\n,T2,,2024-02,500\n,,East,2024-02,260\n", encoding="utf-8")
    from salesml.accounting.ledger import ensure_posted
    from salesml.ingest import canonical_source, ingest_source

    ingest_source(s, "t", canonical_source({"targets": extra}))
    ensure_posted(s)
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        teams = perf.performance(c, "2024-02", "team")
        regions = perf.performance(c, "2024-02", "region")
        company = perf.performance(c, "2024-02", "company").iloc[0]
        reps = perf.performance(c, "2024-02", "rep")
        t2_summary = perf.scope_summary(c, "2024-02", "team:T2").iloc[0]
    assert row(teams, team="T2")["target_revenue"] == 500  # its own, not R2 160 + R3 250
    assert row(teams, team="T1")["target_revenue"] == 200  # no own target: R1's
    assert row(regions, region="West")["target_revenue"] == 500  # the sum of its teams
    assert row(regions, region="East")["target_revenue"] == 260  # its own
    assert company["target_revenue"] == 760
    assert reps["target_revenue"].sum() == 610  # reps keep their own
    assert t2_summary["target_revenue"] == 500


def test_gap_and_run_rate_projection_for_the_month_the_data_ends_in(con):
    feb = perf.performance(con, "2024-02", "company").iloc[0]
    assert feb["gap_to_target"] == 610 - 510
    # data ends 2024-02-25: 29 days in February 2024, 25 covered
    assert feb["projected_revenue"] == pytest.approx(510 * 29 / 25)
    assert feb["projected_attainment_pct"] == pytest.approx(510 * 29 / 25 / 610 * 100)
    jan = perf.performance(con, "2024-01", "company").iloc[0]
    assert pd.isna(jan["projected_revenue"])  # a complete month is not projected


# --------------------------------------------------------------------------- margin without costs


def toy_costed(tmp_path, costed_orders: set[str]):
    """The toy company with unit costs only on the lines of ``costed_orders``."""
    import csv

    from salesml.accounting.ledger import ensure_posted
    from salesml.ingest import canonical_source, ingest_source
    from tests.conftest import TOY, TOY_TABLES, make_settings

    with (TOY / "order_lines.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if r["order_id"] not in costed_orders:
            r["unit_cost"] = ""
    tmp_path.mkdir(parents=True, exist_ok=True)
    lines = tmp_path / "order_lines_costs.csv"
    with lines.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    s = make_settings(tmp_path)
    files = {t: TOY / f"{t}.csv" for t in TOY_TABLES}
    files["order_lines"] = lines
    ingest_source(s, "toy", canonical_source(files))
    ensure_posted(s)
    return s


def test_no_cost_loaded_means_no_margin_not_a_zero_margin(tmp_path):
    s = toy_costed(tmp_path, set())
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        levels = {by: perf.performance(c, "2024-02", by) for by in perf.LEVELS}
        summary = perf.scope_summary(c, "2024-02", "team:T2").iloc[0]
        trend = perf.monthly_trend(c, "2024-02", 2)
        cats = perf.breakdown(c, "2024-02", "category")
    company = levels["company"].iloc[0]
    assert company["revenue"] == 510  # revenue is unaffected
    for df in (*levels.values(), cats, trend):
        assert df["margin"].isna().all()
    for df in levels.values():
        assert df["margin_pct"].isna().all() and df["adjustments_margin"].isna().all()
        assert (df["margin_coverage_pct"] == 0).all()
    assert cats["margin_pct"].isna().all()
    assert pd.isna(summary["margin"]) and summary["margin_coverage_pct"] == 0
    assert perf.margin_note(company) == "no cost loaded: margin not shown"


def test_with_some_costs_margin_covers_the_costed_lines_and_says_how_much(tmp_path):
    # R3's lines (SO3, SO8) and SO4 carry no cost; February's costed entries:
    # SO5 50 (margin 30), SO6 100 (40), SO7 200 (80), SO9 10 (4), RT2 -50 (-30)
    s = toy_costed(tmp_path, {"SO1", "SO2", "RT1", "SO5", "SO6", "SO7", "SO9", "RT2"})
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        company = perf.performance(c, "2024-02", "company").iloc[0]
        teams = perf.performance(c, "2024-02", "team")
        reps = perf.performance(c, "2024-02", "rep")
    margin, costed_net = 30 + 40 + 80 + 4 - 30, 50 + 100 + 200 + 10 - 50
    costed_abs, all_abs = 50 + 100 + 200 + 10 + 50, 560 + 50
    assert company["margin"] == margin
    assert company["margin_pct"] == pytest.approx(margin / costed_net * 100)
    assert company["margin_coverage_pct"] == pytest.approx(costed_abs / all_abs * 100)
    note = perf.margin_note(company)
    assert note.startswith(f"margin over the {round(costed_abs / all_abs * 100)}% of revenue with a cost")
    t2 = row(teams, team="T2")  # SO6 (R2, costed: 100, margin 40) and SO8 (R3, 200, no cost)
    assert (t2["margin"], t2["margin_pct"]) == (40, pytest.approx(40.0))
    assert t2["margin_coverage_pct"] == pytest.approx(100 / 300 * 100)
    r3 = row(reps, rep_id="R3")
    assert pd.isna(r3["margin"]) and r3["margin_coverage_pct"] == 0
    assert reps["margin"].sum() == margin  # levels still add up over the reps with a margin


def test_full_costs_cover_all_revenue(con):
    c = perf.performance(con, "2024-02", "company").iloc[0]
    assert c["margin_coverage_pct"] == 100 and c["margin_pct"] == pytest.approx(244 / 510 * 100)
    assert perf.margin_note(c) is None


def test_customers_count_identified_customers_only(tmp_path):
    """Guest sales (no customer, or the source's anonymous id) count in revenue, not as customers."""
    import csv as _csv

    from salesml import warehouse as wh
    from salesml.accounting.ledger import post
    from salesml.config import SourceSettings, TableSource
    from salesml.ingest import ingest_source
    from tests.conftest import make_settings

    s = make_settings(tmp_path)
    path = tmp_path / "shop.csv"
    rows = [["1", "2024-03-01", "C1", "A", "2", "10"], ["2", "2024-03-02", "", "A", "1", "10"],
            ["3", "2024-03-03", "", "B", "1", "5"], ["4", "2024-03-04", "C2", "B", "1", "5"]]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = _csv.writer(f)
        w.writerow(["Inv", "Day", "Cust", "Sku", "Qty", "Price"])
        w.writerows(rows)
    cols = {"order_id": "Inv", "line_no": "'1'", "order_date": "Day", "customer_id": "Cust", "product_id": "Sku",
            "quantity": "Qty", "unit_price": "Price", "status": "'completed'"}
    src = SourceSettings(anonymous_customer="GUEST", tables={"order_lines": TableSource(files=(str(path),), columns=cols)})
    ingest_source(s, "shop", src)
    with wh.open(s) as con:
        post(con)
        plain = perf.performance(con, "2024-03", "company")
        guests_out = perf.performance(con, "2024-03", "company", anonymous=("GUEST",))
    assert float(plain["revenue"].iloc[0]) == float(guests_out["revenue"].iloc[0]) == 40.0
    assert int(plain["customers"].iloc[0]) == 3  # GUEST counted as one customer when not said
    assert int(guests_out["customers"].iloc[0]) == 2


# --------------------------------------------------------------------------- a year


def test_a_year_by_hand(con):
    """2024 is January and February together (see the module's docstring)."""
    c = row(perf.performance(con, "2024", "company"), period="2024")
    assert (c["gross_sales"], c["returns"], c["revenue"], c["margin"]) == (960, 100, 860, 424)  # 400 + 560, 50 + 50, ...
    assert c["adjustments"] == 0
    assert c["orders"] == 8  # SO1-SO3 and SO5-SO9: distinct over the year
    assert c["customers"] == 3  # C1, C2, C3 bought in both months: counted once, not 3 + 3
    assert c["aov"] == pytest.approx(960 / 8)
    assert c["target_revenue"] == 350 + 610 and c["target_margin"] == 140 + 244
    assert c["attainment_pct"] == pytest.approx(860 / 960 * 100)
    assert c["margin_pct"] == pytest.approx(424 / 860 * 100)
    assert c["gap_to_target"] == 100
    # data ends 2024-02-25: 366 days in 2024, 31 + 25 covered
    assert c["projected_revenue"] == pytest.approx(860 * 366 / 56)
    # no 2023, and a year has no previous month
    assert pd.isna(c["revenue_last_year"]) and pd.isna(c["growth_yoy_pct"])
    assert pd.isna(c["revenue_prev_month"]) and pd.isna(c["growth_mom_pct"])

    reps = perf.performance(con, "2024", "rep")
    # R2: in T1 in January (200 - 50, target 100) and until 02-14 (SO5 50, its return RT2 -50);
    # in T2 from 02-15 (SO6 100, February's target 160)
    old, new = row(reps, rep_id="R2", team="T1"), row(reps, rep_id="R2", team="T2")
    assert (old["gross_sales"], old["returns"], old["revenue"], old["target_revenue"]) == (250, 100, 150, 100)
    assert (old["orders"], old["customers"]) == (2, 1)
    assert (new["revenue"], new["margin"], new["target_revenue"]) == (100, 40, 160)
    r1 = row(reps, rep_id="R1")
    assert (r1["revenue"], r1["margin"], r1["orders"], r1["target_revenue"]) == (350, 150, 2, 350)  # margin 70 + 80
    r3 = row(reps, rep_id="R3")
    assert (r3["revenue"], r3["target_revenue"]) == (250, 350)
    # R3 (250) leads T2 over R2 (100); in T1, R1 (350) leads R2 (150)
    assert (r3["rank_in_team"], new["rank_in_team"], r1["rank_in_team"], old["rank_in_team"]) == (1, 2, 1, 2)
    teams = perf.performance(con, "2024", "team")
    assert row(teams, team="T1")["revenue"] == 500 and row(teams, team="T2")["revenue"] == 350
    assert row(perf.performance(con, "2024", "region"), region="East")["revenue"] == 510  # T1 + the house sale 10


@pytest.mark.parametrize("year", ["2025", "2026"])
def test_a_year_is_its_months_together(small_demo, year):
    """On the small demo (data to 2026-06-30, two closed months): a year's money and targets are
    its months' summed per key, its orders and customers are distinct over the year, and it
    grows on the year before."""
    keys = {"rep": ["rep_id", "team", "region"], "team": ["team", "region"], "region": ["region"]}
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as c:
        for by, k in keys.items():
            y = perf.performance(c, year, by).set_index(k).sort_index()
            ms = pd.concat([perf.performance(c, f"{year}-{m:02d}", by) for m in range(1, 13)])
            summed = ms.groupby(k)[perf.ADDITIVE].sum(min_count=1).sort_index()
            assert list(y.index) == list(summed.index), by
            for col in perf.ADDITIVE:
                assert y[col].astype(float).to_numpy() == pytest.approx(summed[col].astype(float).to_numpy(), abs=0.005, nan_ok=True), (by, col)
        company = perf.performance(c, year, "company").iloc[0]
        orders, customers, revenue, adjustments = c.execute(
            "SELECT count(DISTINCT order_id) FILTER (WHERE kind = 'sale' AND amount > 0),"
            " count(DISTINCT customer_id) FILTER (WHERE kind = 'sale' AND amount > 0),"
            " sum(amount), sum(amount) FILTER (WHERE period <> origin_period) FROM ledger WHERE period LIKE ? || '-%'",
            [year],
        ).fetchall()[0]
        before = c.execute("SELECT sum(amount) FROM ledger WHERE period LIKE ? || '-%'", [str(int(year) - 1)]).fetchall()[0][0]
    assert (company["orders"], company["customers"]) == (orders, customers)
    assert float(company["revenue"]) == pytest.approx(float(revenue), abs=0.005)
    assert float(company["adjustments"]) == pytest.approx(float(adjustments or 0), abs=0.005)
    assert float(company["revenue_last_year"]) == pytest.approx(float(before), abs=0.005)
    assert company["growth_yoy_pct"] == pytest.approx((float(revenue) - float(before)) / float(before) * 100)
    assert pd.isna(company["revenue_prev_month"])
    if year == "2026":  # the year the data ends in: projected at its run rate over 181 of 365 days
        assert company["adjustments"] != 0  # returns after the demo's closes
        assert company["projected_revenue"] == pytest.approx(float(revenue) * 365 / 181)


def test_a_period_is_a_month_or_a_year(con):
    for bad in ["2024-13", "24", "2024-1", "20245", "", "0000"]:
        with pytest.raises(months.PeriodError, match="YYYY-MM nor a year YYYY"):
            perf.performance(con, bad, "company")
    assert perf.parse_perf_period(" 2024 ") == "2024" and perf.parse_perf_period("2024-02") == "2024-02"


def test_perf_command_for_a_year(toy):
    import json

    from tests.test_cli import run

    env = {"SALESML_WAREHOUSE": str(toy.warehouse_path)}
    rows = json.loads(run("perf", "--period", "2024", "--by", "company", "--format", "json", cwd=toy.root, env_extra=env).stdout)
    assert len(rows) == 1 and rows[0]["period"] == "2024"
    assert (rows[0]["revenue"], rows[0]["orders"], rows[0]["customers"], rows[0]["target_revenue"]) == (860, 8, 3, 960)
    table = run("perf", "--period", "2024", "--by", "team", cwd=toy.root, env_extra=env)
    assert "performance 2024 by team" in table.stdout.replace("\n", " ") and "growth_mom_pct" not in table.stdout
    bad = run("perf", "--period", "20245", cwd=toy.root, env_extra=env, check=False)
    assert bad.returncode == 1 and "YYYY-MM nor a year YYYY" in bad.stderr and "Traceback" not in bad.stderr
