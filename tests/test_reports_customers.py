"""The customer segments report: recorded figures = the functions' results, privacy of scope,
escaping, and the lifetime-value section degrading with a note."""

from __future__ import annotations

import re
import sys
from datetime import date
from decimal import Decimal

import pytest

from salesml import warehouse
from salesml.config import load_settings
from salesml.customers.rfm import default_as_of, rfm
from salesml.reports.customers import CustomerSegmentsReport, months_before
from salesml.reports.runner import render
from tests import anonymous_company
from tests.test_reports_performance import without_plotly_js
from tests.test_reports_runner import with_notebooks

pytestmark = pytest.mark.notebook

CUSTOMER_ID = re.compile(r"\bC\d{6}\b")  # the demo company's customer ids
REP_ID = re.compile(r"\bR\d{3}\b")


def test_months_before():
    assert months_before(date(2026, 6, 30), 3) == date(2026, 3, 31)  # a month's end -> a month's end
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2026, 5, 15), 3) == date(2026, 2, 15)


def test_recorded_figures_equal_the_functions(small_demo):
    s = with_notebooks(small_demo)
    result = render(s, "customer_segments")
    f = result.figures
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        assert f["as_of"] == default_as_of(con).isoformat()
        table = rfm(con, f["as_of"], settings=s)
    assert f["scope"] == "company"
    assert f["customers"] == len(table) > 300
    assert f["segment_counts"] == table["segment"].value_counts().to_dict()
    assert sum(f["segment_counts"].values()) == f["customers"]
    assert f["revenue"] == pytest.approx(table["monetary"].sum(), abs=0.01)
    assert f["k"] >= 2
    page = result.html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 5  # sizes, heat map, clusters, migration, lifetime value
    for heading in ("Segments", "R x F heat map", "Customers to win back", "Clusters", "Migration since", "Customer lifetime value"):
        assert heading in page
    assert "Traceback" not in page


def test_rep_report_holds_only_the_reps_customers(small_demo):
    s = with_notebooks(small_demo)
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        as_of = default_as_of(con)
        counts = con.execute(
            "SELECT rep_id, count(DISTINCT customer_id) FROM ledger WHERE rep_id IS NOT NULL AND credit_date <= ? GROUP BY 1 ORDER BY 2 DESC, 1",
            [as_of],
        ).fetchall()
        me = counts[0][0]
        mine = rfm(con, as_of, f"rep:{me}", s)
        everyone = set(rfm(con, as_of, settings=s)["customer_id"])
    result = render(s, "customer_segments", {"scope": f"rep:{me}"})
    assert result.html_path.name == f"customer_segments_rep-{me}.html"
    assert result.figures["customers"] == len(mine) > 0
    assert result.figures["segment_counts"] == mine["segment"].value_counts().to_dict()
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    shown = set(CUSTOMER_ID.findall(page))
    assert shown, "the customers to win back are listed by id"
    assert shown <= set(mine["customer_id"]), f"other reps' customers in {me}'s report: {sorted(shown - set(mine['customer_id']))[:5]}"
    assert len(everyone - set(mine["customer_id"])) > 100  # there were plenty to leak
    assert set(REP_ID.findall(page)) == {me}


def test_escaping_and_a_missing_clv_model(toy, tmp_path, monkeypatch):
    """Names from the config are escaped; without the CLV module the section says so."""
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        '[segments]\nwin_back = ["<b>All</b>"]\nrules = [{ name = "<b>All</b>", r = [1, 5], fm = [1, 5] }]\n', encoding="utf-8"
    )
    monkeypatch.setitem(sys.modules, "salesml.customers.clv", None)  # import fails
    report = CustomerSegmentsReport(as_of="2024-02-29", config_path=str(cfg), warehouse=str(toy.warehouse_path))
    assert report.clv is None
    clv = report.clv_block().html
    assert "CLV model not available" in clv
    sizes = report.segment_sizes().html + report.win_back().html
    assert "<b>All</b>" not in sizes and "&lt;b&gt;All&lt;/b&gt;" in sizes
    assert "C1" in report.win_back().html and "One Ltd" in report.win_back().html  # the toy customers' names
    assert report.figures_recorded["segment_counts"] == {"<b>All</b>": 3}
    # three customers still make two clusters; the migration shows all three
    assert report.segmenter is not None and report.segmenter.k_ == 2
    assert int(report.migration.to_numpy().sum()) == 3
    for block in ("title", "heat_map", "clusters", "migration_block", "notes"):
        assert getattr(report, block)().html


# --------------------------------------------------------------------------- anonymous (walk-in / guest) sales


@pytest.fixture(scope="module")
def guests(small_demo, tmp_path_factory):
    company = anonymous_company.build(small_demo, tmp_path_factory.mktemp("guests"))
    (company.settings.root / "salesml.toml").write_text(
        '[warehouse]\npath = "warehouse.duckdb"\n\n[sources.shop]\nanonymous_customer = "GUEST"\n', encoding="utf-8"
    )
    return company


def test_the_report_leaves_walk_in_sales_out_and_says_how_much(small_demo, guests):
    """With a quarter of anonymous lines the figures are the demo's; the page says how many
    lines and how much revenue were left out (as computed from the lines written)."""
    as_of = date(2026, 3, 31)
    s = with_notebooks(load_settings(guests.settings.root / "salesml.toml"))
    result = render(s, "customer_segments", {"as_of": as_of.isoformat()})
    f = result.figures
    bare = guests.settings.root / "plain.toml"  # the same default settings, no anonymous id
    bare.write_text("", encoding="utf-8")
    plain = CustomerSegmentsReport(as_of=as_of.isoformat(), config_path=str(bare), warehouse=str(small_demo.warehouse_path)).figures_recorded
    for key in ("customers", "revenue", "segment_counts", "k"):
        assert f[key] == plain[key], key
    assert plain["anonymous_lines"] == 0
    e = guests.expected(guests.known_by(as_of))
    assert (f["anonymous_lines"], f["anonymous_orders"]) == (e["lines"], e["orders"])
    assert Decimal(str(f["anonymous_revenue"])) == e["revenue"]
    assert f["anonymous_revenue_share_pct"] == pytest.approx(float(e["revenue"] / e["total_revenue"] * 100), abs=0.005)
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    assert f"{e['lines']:,} anonymous order lines in {e['orders']:,} orders (¥{e['revenue']:,.2f}" in page
    assert "are not in the segments, clusters, migration or lifetime values" in page
    assert "GUEST" not in page and "Traceback" not in page
    # a team's report: the anonymous sales credited to the team
    team = CustomerSegmentsReport(as_of=as_of.isoformat(), scope="team:T03", config_path=str(guests.settings.root / "salesml.toml"))
    t = guests.expected(guests.known_by(as_of, "T03"))
    assert (team.anonymous.lines, Decimal(str(team.anonymous.revenue))) == (t["lines"], t["revenue"])
    assert "credited to this scope" in team.title().html
    before = guests.expected(guests.known_by(team.before_date, "T03"))
    assert f"on {team.before_date}: {before['lines']:,} anonymous order lines" in team.migration_block().html
