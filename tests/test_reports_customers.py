"""The customer segments report: recorded figures = the functions' results, privacy of scope,
escaping, the lifetime-value section degrading with a note, and the summary and early warnings
(written from the figures, in English or Chinese, segment names as configured)."""

from __future__ import annotations

import re
import sys
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from salesml import warehouse
from salesml.config import SegmentSettings, WarningsSettings, load_settings
from salesml.customers.rfm import default_as_of, rfm
from salesml.reports.customers import (
    CustomerSegmentsReport,
    months_before,
    segment_groups,
    silent_customers,
)
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
    top = report.summary().html + report.early_warnings().html
    assert "<b>All</b>" not in top and "&lt;b&gt;All&lt;/b&gt;" in top


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


# --------------------------------------------------------------------------- summary and early warnings

DEFAULT_VALUABLE = ["Champions", "Loyal"]
DEFAULT_RISK = ["Can't lose", "At risk", "Hibernating", "Lost"]


def test_valuable_and_risk_segments_come_from_the_map_not_the_names():
    ws = WarningsSettings()
    assert segment_groups(SegmentSettings(), ws) == (DEFAULT_VALUABLE, DEFAULT_RISK)
    # the same map with other names: the same places
    names = {"Champions": "重要价值", "Loyal": "重要保持", "Can't lose": "重要挽留", "At risk": "一般挽留", "Hibernating": "沉睡", "Lost": "流失"}
    rules = tuple(SegmentSettings.SegmentRule(names.get(r.name, r.name), r.r, r.fm) for r in SegmentSettings().rules)
    valuable, risk = segment_groups(SegmentSettings(rules=rules), ws)
    assert valuable == [names[n] for n in DEFAULT_VALUABLE] and risk == [names[n] for n in DEFAULT_RISK]
    # the thresholds are settings: only R 5 is valuable -> only Champions
    assert segment_groups(SegmentSettings(), WarningsSettings(seg_valuable_r=5))[0] == ["Champions"]
    # one segment for every cell: neither valuable nor at risk
    one = SegmentSettings(rules=(SegmentSettings.SegmentRule("All", (1, 5), (1, 5)),))
    assert segment_groups(one, ws) == ([], [])


def test_big_customers_who_went_silent_since_the_comparison_date():
    """Usual interval = (tenure - recency) / (orders - 1); silent = no purchase for 3x that and
    at least 60 days, and not yet silent 91 days earlier."""
    t = pd.DataFrame(
        {
            "customer_id": ["stopped", "long_gone", "regular", "small", "two_orders", "slow"],
            "m_score": [5, 5, 5, 3, 5, 5],
            "frequency": [11, 11, 11, 11, 2, 5],
            "tenure_days": [400, 900, 400, 400, 400, 700],
            "recency_days": [100, 500, 5, 100, 300, 100],
            "monetary": [9e5, 8e5, 7e5, 6e5, 5e5, 4e5],
        }
    )
    out = silent_customers(t, 91, WarningsSettings())
    # stopped: usual 30 days, silent 100 >= 90 and 9 days ago < 90 -> listed; long_gone: silent
    # before the comparison date; regular: buying; small: M 3; two_orders: fewer than 3 orders;
    # slow: usual 150 days, 100 < 450
    assert out["customer_id"].tolist() == ["stopped"]
    assert out["usual_days"].tolist() == [30.0]
    assert silent_customers(t, 91, WarningsSettings(seg_silent_min_days=120)).empty  # 100 days < 120


@pytest.mark.parametrize("lang,scope", [("en", "company"), ("zh", "company"), ("zh", "rep")])
def test_the_page_opens_with_its_summary_and_warnings_in_either_language(small_demo, lang, scope):
    s = with_notebooks(small_demo)
    with warehouse.connect(s.warehouse_path, read_only=True) as con:
        as_of = default_as_of(con)
        if scope == "rep":
            scope = "rep:" + con.execute(
                "SELECT rep_id FROM ledger WHERE rep_id IS NOT NULL GROUP BY 1 ORDER BY count(DISTINCT customer_id) DESC, 1 LIMIT 1"
            ).fetchone()[0]
        now = rfm(con, as_of, scope, s)
        then = rfm(con, months_before(as_of, s.segments.migration_months), scope, s)
    result = render(s, "customer_segments", {"lang": lang, "scope": scope})
    f = result.figures
    assert f["lang"] == lang and f["untranslated"] == []  # every label and sentence of the page is in its language
    assert 3 <= len(f["summary"]) <= 6 and len(f["actions"]) <= 5
    # the slipped customers, counted here from the two RFM tables and the default map's names
    moved = now.merge(then, on="customer_id", suffixes=("", "_then"))
    slipped = moved[moved["segment_then"].isin(DEFAULT_VALUABLE) & moved["segment"].isin(DEFAULT_RISK)]
    assert f["warning_slipped"] == len(slipped)
    assert f["warning_slipped_revenue"] == pytest.approx(slipped["monetary"].sum(), abs=0.01)
    assert (f["valuable_segments"], f["risk_segments"]) == (DEFAULT_VALUABLE, DEFAULT_RISK)
    assert f"{len(now):,}" in f["summary"][0]  # the first sentence: how many customers
    if len(slipped):
        assert any(f"{len(slipped):,}" in t for t in f["summary"]) and f"{len(slipped):,}" in f["actions"][0]
    page = result.html_path.read_text(encoding="utf-8")
    assert page.index('id="summary"') < page.index('id="warnings"') < page.index('id="segments"') < page.index('id="migration"')
    links = set(re.findall(r'<a href="#([\w-]+)"', page))
    assert {"segments", "migration"} <= links
    assert all(f'id="{link}"' in page for link in links), links  # every sentence links to a section that exists
    assert page.count("Plotly.newPlot") >= 5
    bare = without_plotly_js(page)
    assert "00:00:00" not in bare and "Traceback" not in bare
    if lang == "zh":
        assert "摘要" in page and "风险预警" in page and "客户分群" in page and "需要挽回的客户" in page
        for english in (">Summary<", ">Early warnings<", ">Segments<", ">Customers to win back<", ">Clusters<", "Migration since",
                        ">Customer lifetime value<", ">Customer<", ">Median orders<", ">Last purchase<", "How these figures are made",
                        "customers bought", "Not checked"):
            assert english not in bare, english
        assert result.html_path.name.endswith("_zh.html")  # beside the English page, not over it
    else:
        assert ">Summary<" in page and ">Early warnings<" in page and "customers bought" in page
    if scope.startswith("rep:"):
        me = scope[4:]
        assert set(REP_ID.findall(bare)) == {me}  # no other rep is named, not even as an owner
        assert set(CUSTOMER_ID.findall(bare)) <= set(now["customer_id"])


def test_segment_names_as_configured_and_their_local_names_on_a_chinese_page(toy, tmp_path):
    cfg = tmp_path / "salesml.toml"
    cfg.write_text(
        '[segments]\nwin_back = ["Everyone"]\nrules = [{ name = "Everyone", r = [1, 5], fm = [1, 5] }]\n\n'
        '[local_names.segment]\n"Everyone" = "全部客户"\n',
        encoding="utf-8",
    )
    pages = {}
    for lang in ("en", "zh"):
        report = CustomerSegmentsReport(as_of="2024-02-29", config_path=str(cfg), warehouse=str(toy.warehouse_path), lang=lang)
        blocks = ("title", "summary", "early_warnings", "segment_sizes", "heat_map", "win_back", "clusters", "migration_block",
                  "clv_block", "notes")
        pages[lang] = "".join(getattr(report, b)().html for b in blocks)
        assert report.L.missing == set(), report.L.missing
        assert report.figures_recorded["segment_counts"] == {"Everyone": 3}  # the figures keep the configured name
    assert "全部客户" in pages["zh"] and ">Everyone<" not in pages["zh"]
    assert ">Everyone<" in pages["en"] and "全部客户" not in pages["en"]
    # a map without valuable or risk segments cannot say who slipped, and says so
    assert "Not checked: customers who slipped" in pages["en"] and "未检查：滑落客户" in pages["zh"]


def test_walk_in_revenue_left_out_of_the_segments_is_a_warning(guests):
    config = str(guests.settings.root / "salesml.toml")
    en = CustomerSegmentsReport(as_of="2026-03-31", config_path=config)
    lo = en.anonymous
    assert lo.share_pct > WarningsSettings().seg_anonymous_pct  # a quarter of the lines are anonymous
    warnings = en.early_warnings().html
    assert f"{lo.share_pct:.1f}% of revenue" in warnings and "walk-in / guest sales with no customer" in warnings
    summary = en.summary().html
    assert "Record the customer on walk-in / guest sales" in summary and 'href="#warnings"' in summary
    zh = CustomerSegmentsReport(as_of="2026-03-31", config_path=config, lang="zh")
    assert "散客 / 访客销售" in zh.early_warnings().html and "为散客 / 访客销售登记客户" in zh.summary().html
    assert "不计入分群" in zh.title().html and zh.L.missing == set()
