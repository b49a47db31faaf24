"""The sales performance report: headline = `salesml perf`, privacy of scope, escaping."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

from salesml import warehouse
from salesml.reports.lang import Lang
from salesml.reports.performance import HEADLINE, SalesPerformanceReport
from salesml.reports.runner import render
from tests.conftest import TOY, make_settings
from tests.test_reports_runner import with_notebooks

pytestmark = pytest.mark.notebook

EVIL_NAME = '<script>alert("pwned")</script>'
EVIL_CATEGORY = "</script><img src=x onerror=alert(1)>"


def without_plotly_js(page: str) -> str:
    """The page minus the inlined plotly.js library (which is not data)."""
    return re.sub(r"<script type=\"text/javascript\">/\*\*\s*\* plotly\.js.*?</script>", "", page, count=1, flags=re.S)


def cli(settings, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "SALESML_WAREHOUSE": str(settings.warehouse_path)}
    env.pop("SALESML_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "salesml.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=settings.root,
        check=False,
    )


def test_headline_figures_equal_salesml_perf(small_demo):
    s = with_notebooks(small_demo)
    result = render(s, "sales_performance")  # latest complete month by default
    period = result.parameters["period"]
    assert result.html_path.parent.name == period
    proc = cli(small_demo, "perf", "--period", period, "--by", "company", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    company = json.loads(proc.stdout)[0]
    for key in HEADLINE:
        if company[key] is None:
            assert result.figures[key] is None, key
        else:
            assert result.figures[key] == pytest.approx(company[key], rel=1e-12), key
    assert result.figures["revenue"] > 0
    page = result.html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 4
    assert "plotly.js" in page  # the library is inlined: the page works offline


def test_rep_report_holds_nothing_of_anyone_else(small_demo):
    s = with_notebooks(small_demo)
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        reps = con.execute("SELECT DISTINCT rep_id, name, team FROM reps WHERE role = 'rep'").df()
        period = SalesPerformanceReport(warehouse=str(s.warehouse_path)).period
        active = con.execute(
            "SELECT rep_id, count(*) FROM order_lines WHERE strftime(order_date, '%Y-%m') = ? GROUP BY 1 ORDER BY 2 DESC",
            [period],
        ).fetchall()
    me = active[0][0]
    my_teams = set(reps.loc[reps["rep_id"] == me, "team"])
    result = render(s, "sales_performance", {"scope": f"rep:{me}"})
    assert result.html_path.name == f"sales_performance_rep-{me}.html"
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    assert me in page
    others = reps[reps["rep_id"] != me]
    for rep_id, name in others[["rep_id", "name"]].itertuples(index=False):
        assert not re.search(rf"\b{re.escape(rep_id)}\b", page), f"{rep_id} leaked into {me}'s report"
        assert name not in page, f"{name} leaked into {me}'s report"
    # the team's figures are not there either: only the rep's own revenue
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        from salesml.accounting.performance import performance

        team_rows = performance(con, period, "team")
    for team in my_teams:
        row = team_rows[team_rows["team"] == team]
        if len(row):
            assert f"{float(row['revenue'].iloc[0]):,.2f}" not in page


def test_team_report_shows_only_its_reps(small_demo):
    s = with_notebooks(small_demo)
    result = render(s, "sales_performance", {"scope": "team:T03"})
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        reps = con.execute("SELECT rep_id, team FROM reps WHERE role = 'rep'").df()
    inside = set(reps.loc[reps["team"] == "T03", "rep_id"])
    outside = set(reps["rep_id"]) - inside
    assert any(r in page for r in inside)
    assert not [r for r in outside if re.search(rf"\b{r}\b", page)]


def test_names_from_data_are_escaped(tmp_path):
    s = with_notebooks(make_settings(tmp_path))
    evil = tmp_path / "evil"
    evil.mkdir()
    for t in ("customers", "order_lines", "targets"):
        (evil / f"{t}.csv").write_bytes((TOY / f"{t}.csv").read_bytes())
    (evil / "reps.csv").write_text(
        (TOY / "reps.csv").read_text(encoding="utf-8").replace("Alice", EVIL_NAME.replace('"', '""').join('""')),
        encoding="utf-8",
    )
    (evil / "products.csv").write_text(
        (TOY / "products.csv").read_text(encoding="utf-8").replace("Alpha", EVIL_CATEGORY), encoding="utf-8"
    )
    from salesml.ingest import canonical_source, ingest_source

    ingest_source(s, "evil", canonical_source({t: evil / f"{t}.csv" for t in ("reps", "products", "customers", "order_lines", "targets")}))
    result = render(s, "sales_performance", {"period": "2024-02", "scope": "team:T1"})
    page = without_plotly_js(result.html_path.read_text(encoding="utf-8"))
    assert EVIL_NAME not in page
    assert EVIL_CATEGORY not in page
    assert "&lt;script&gt;alert(" in page  # shown, as text


def test_without_costs_the_margin_is_a_dash_with_a_note_not_zero(tmp_path, no_config):
    from tests.test_accounting_performance import toy_costed

    s = toy_costed(tmp_path / "none", set())
    report = SalesPerformanceReport(period="2024-02", warehouse=str(s.warehouse_path))
    head = report.headline()
    card = re.search(r'<div class="label">Gross margin</div><div class="value">(.*?)</div><div class="sub">(.*?)</div>', head.html)
    assert card.groups() == ("—", "no cost loaded: margin not shown")
    assert report.headline_figures["margin"] is None or pd.isna(report.headline_figures["margin"])
    assert report.headline_figures["margin_coverage_pct"] == 0
    # with costs on part of the lines (not SO8: 200 of February's 610 by absolute amount)
    some = toy_costed(tmp_path / "some", {"SO1", "SO2", "RT1", "SO3", "SO5", "SO6", "SO7", "SO9", "RT2"})
    head = SalesPerformanceReport(period="2024-02", warehouse=str(some.warehouse_path)).headline()
    card = re.search(r'<div class="label">Gross margin</div><div class="value">(.*?)</div><div class="sub">(.*?)</div>', head.html)
    value, sub = card.groups()
    assert value == "¥124"  # SO5 30 + SO6 40 + SO7 80 + SO9 4 - RT2 30 (the toy is in CNY)
    assert f"of the {(610 - 200) / 610 * 100:.1f}% of revenue with a cost" in sub
    assert "margin over the 67% of revenue with a cost" in head.html


def test_adjustments_without_costs_leave_the_margin_out():
    from salesml.reports import kpi_blocks

    adj = pd.DataFrame({
        "origin_period": ["2024-01"], "kind": ["return"], "rep_id": ["R1"], "team": ["T1"], "order_id": ["SO1"],
        "line_no": [1], "event_date": ["2024-02-03"], "amount": [-20.0], "margin": [0.0], "reason": ["late return"],
    })
    data = kpi_blocks.KpiData(frames={"adjustments": adj})
    shown = kpi_blocks.adjustments_block(data, Lang(), margin_known=False).html
    assert "margin not shown (no cost loaded)" in shown and ">Gross margin</th>" not in shown
    known = kpi_blocks.adjustments_block(data, Lang()).html
    assert "0 margin" in known and ">Gross margin</th>" in known


@pytest.mark.parametrize("lang,scope", [("en", "company"), ("zh", "company"), ("en", "rep"), ("zh", "rep")])
def test_the_page_opens_with_its_summary_and_warnings_in_either_language(small_demo, lang, scope):
    s = with_notebooks(small_demo)
    if scope == "rep":
        with warehouse.connect(s.warehouse_path, read_only=True) as con:
            scope = "rep:" + con.execute("SELECT rep_id FROM ledger WHERE kind = 'sale' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()[0]
    result = render(s, "sales_performance", {"lang": lang, "scope": scope})
    f = result.figures
    assert f["lang"] == lang and f["untranslated"] == []  # every label and sentence of the page is in its language
    assert 3 <= len(f["summary"]) <= 6 and len(f["actions"]) <= 5
    # the bridge's parts add up to the change, and the change to the headline's revenue
    parts = sum(round(f[f"bridge_{p}"], 2) for p in ("new_customers", "lost_customers", "price", "volume", "mix", "returns"))
    assert round(f["bridge_base_revenue"] + parts, 2) == round(f["bridge_revenue"], 2) == round(f["revenue"], 2)
    page = result.html_path.read_text(encoding="utf-8")
    assert page.index('id="summary"') < page.index('id="warnings"') < page.index('id="figures"') < page.index('id="bridge"')
    assert 'href="#bridge"' in page and page.count("Plotly.newPlot") >= 5
    assert "00:00:00" not in without_plotly_js(page)
    if lang == "zh":
        assert "摘要" in page and "风险预警" in page and "收入变动原因" in page
        for english in (">Summary<", ">Early warnings<", ">Why revenue changed<", ">Revenue (net)<", ">Attainment<"):
            assert english not in page, english
        assert result.html_path.name.endswith("_zh.html")  # beside the English page, not over it
    else:
        assert ">Summary<" in page and "Why revenue changed" in page
