"""The workbench's controller on the toy company: figures worked out from the CSVs, no browser."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from salesml import warehouse
from salesml.accounting.performance import performance
from salesml.explore import ExploreError, Workbench
from tests.conftest import TOY

JAN = {"start": date(2024, 1, 1), "end": date(2024, 1, 31)}
FEB = {"start": date(2024, 2, 1), "end": date(2024, 2, 29)}


def _rows(name):
    with open(TOY / f"{name}.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _month_figures():
    """Per month from the CSVs: revenue, gross sales, returns, margin, orders, customers (a return
    counts in the month of the sale it reverses, as the ledger posts it while that month is open)."""
    lines = _rows("order_lines")
    date_of = {(r["order_id"], r["line_no"]): r["order_date"][:7] for r in lines}
    out = defaultdict(lambda: {"revenue": Decimal(0), "gross": Decimal(0), "returns": Decimal(0), "margin": Decimal(0),
                               "orders": set(), "customers": set()})
    for r in lines:
        amount = Decimal(r["amount"])
        cost = Decimal(r["quantity"]) * Decimal(r["unit_cost"])
        if r["status"] == "completed":
            m = out[r["order_date"][:7]]
            m["gross"] += amount
            m["orders"].add(r["order_id"])
            m["customers"].add(r["customer_id"])
        elif r["status"] == "returned":
            m = out[date_of[(r["return_of_order_id"], r["return_of_line_no"])]]
            m["returns"] -= amount
        else:
            continue
        m["revenue"] += amount
        m["margin"] += amount - cost
    return out


@pytest.fixture(scope="module")
def wb(toy_wh):
    w = Workbench(toy_wh)
    yield w
    w.close()


def test_totals_agree_with_the_csvs(wb):
    fig = _month_figures()
    assert fig["2024-01"]["revenue"] == 350 and fig["2024-02"]["revenue"] == 510  # by hand too
    for month, window in (("2024-01", JAN), ("2024-02", FEB)):
        wb.set(**window)
        t, f = wb.totals(), fig[month]
        assert t["revenue"] == pytest.approx(float(f["revenue"]))
        assert t["margin"] == pytest.approx(float(f["margin"]))
        assert t["orders"] == len(f["orders"]) and t["customers"] == len(f["customers"])
        tiles = {k["measure"]: k["raw"] for k in wb.kpis()}
        assert tiles["aov"] == pytest.approx(float(f["revenue"]) / len(f["orders"]))
        assert tiles["return_rate"] == pytest.approx(float(f["returns"] / f["gross"]))
    assert wb.kpis()[0]["value"] == "¥510"


def test_month_revenue_per_rep_agrees_with_perf(wb, toy_wh):
    for month, window in (("2024-01", JAN), ("2024-02", FEB)):
        wb.set(region="", **window)
        mine = {}
        for region in [v for _, v in wb.filter_options()["region"] if v]:
            for team in [v for _, v in wb.filter_options(wb.set(region=region))["team"] if v]:
                wb.set(team=team)
                assert wb.dimension == "rep"
                for rep, row in wb.members().iterrows():
                    mine[(team, rep)] = row["revenue"]
            wb.set(team="")
        with warehouse.connect(toy_wh.warehouse_path, read_only=True) as con:
            perf = performance(con, month, "rep")
        assert mine == pytest.approx({(r.team, r.rep_id): float(r.revenue) for r in perf.itertuples()})
    wb.set(region="")


def test_measure_grain_and_compare_run_no_query(wb):
    wb.set(region="", **FEB)
    wb.kpis(), wb.trend_figure(), wb.table()
    before = wb.queries
    for change in ({"measure": "margin"}, {"measure": "aov"}, {"grain": "day"}, {"grain": "week"}, {"compare": "last_year"},
                   {"compare": "target"}, {"compare": "forecast"}, {"measure": "return_rate"}, {"compare": "previous"}):
        wb.set(**change)
        wb.kpis(), wb.trend_figure(), wb.breakdown_figure(), wb.table_html()
    assert wb.queries == before
    wb.set(channel="Online")
    wb.kpis()
    assert wb.queries == before + 1
    wb.set(channel="", measure="revenue", grain="month")


def test_filters_narrow_the_options(wb):
    wb.set(region="West", **FEB)
    opts = wb.filter_options()
    assert [v for _, v in opts["team"]] == ["", "T2"] and opts["team"][0][0] == "all"
    assert {v for _, v in opts["rep"]} == {"", "R2", "R3"}
    wb.set(region="East", team="T1")
    assert wb.set(region="West").team == ""  # a team outside the new region is cleared
    wb.set(region="", category="Alpha")
    assert [v for _, v in wb.filter_options()["product"]] == ["", "P1"]
    with pytest.raises(ExploreError, match="product 'P2' is not offered"):
        wb.set(product="P2")
    wb.set(category="")


def test_drill_down_and_back(wb):
    wb.set(region="", team="", **FEB)
    assert wb.dimension == "region"
    wb.drill("West")
    assert wb.dimension == "team" and wb.crumbs == ["All", "West"]
    wb.drill("T2")
    assert wb.dimension == "rep" and wb.members()["revenue"].to_dict() == pytest.approx({"R2": 100.0, "R3": 200.0})
    wb.back()
    assert wb.selection.team == "" and wb.selection.region == "West"
    wb.back(0)
    assert wb.selection.region == "" and wb.crumbs == ["All"]


def test_target_and_forecast_comparisons(wb):
    wb.set(region="East", team="T1", compare="target", **JAN)  # R1 150 + R2 100
    assert wb.target_total() == pytest.approx(250.0)
    assert wb.kpis()[0]["sub"] == "120.0% of target"  # R1 150 + R2 (200 - 50) = 300 of 250
    wb.set(region="", team="", category="Alpha")
    assert wb.target_total() is None
    assert "salesml train forecast" in wb.forecast_note()
    wb.set(category="", compare="previous")


def test_tables_are_formatted_like_the_reports(wb):
    wb.set(**FEB)
    page = wb.table_html() + wb.kpis_html()
    assert "nan" not in page.lower() and not re.search(r"\d\.\d{3,}", page)
    assert "Revenue (net)" in page and "¥510" in page


def test_customer_tab_says_how_to_score(wb):
    wb.set(**FEB)
    seg, churn, msg = wb.customers()
    assert set(seg["segment"].notna()) == {True} and seg["customers"].sum() == 3
    assert churn.empty and "salesml score churn" in msg


def test_bad_input_is_a_clear_error(wb):
    with pytest.raises(ExploreError, match="start must be on or before the end"):
        wb.set(start=date(2024, 3, 1), end=date(2024, 2, 1))
    with pytest.raises(ExploreError, match="not a date"):
        wb.set(start="yesterday")
    with pytest.raises(ExploreError, match="measure must be one of"):
        wb.set(measure="profit")


def test_team_scope_sees_only_its_own(toy_wh, tmp_path):
    wb = Workbench(toy_wh, scope="team:T1")
    wb.set(**FEB)
    others = {"R3", "C3", "T2", "Carol"}
    opts = str(wb.filter_options()) + str(wb.options)
    frames = str(wb.table()) + str(wb.members()) + wb.table_html() + wb.kpis_html() + str(wb.trend_figure().to_dict())
    seg, churn, _ = wb.customers()
    path = wb.export("csv", tmp_path)
    text = path.read_text(encoding="utf-8-sig") + str(seg) + str(churn)
    for word in others:
        assert word not in opts + frames + text, word
    assert wb.totals()["revenue"] == pytest.approx(200 + 50 - 50 + 10 * 0)  # R1 200; R2 SO5 50, RT2 -50 in T1
    wb.close()


def test_exports_write_through_the_safe_exports(wb, tmp_path):
    wb.set(**FEB)
    xlsx, csv_path = wb.export("xlsx", tmp_path), wb.export("csv", tmp_path)
    assert xlsx.suffix == ".xlsx" and xlsx.stat().st_size > 0
    assert csv_path.read_text(encoding="utf-8-sig").splitlines()[0].startswith("region,")
    with pytest.raises(ExploreError, match="xlsx or csv"):
        wb.export("pdf")


def test_workbench_does_not_hold_the_warehouse(toy):
    wb = Workbench(toy)
    wb.set(**FEB)
    wb.kpis()
    with warehouse.connect(toy.warehouse_path) as con:  # a writer can open it right away
        warehouse.audit(con, "test")
    wb.close()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_view_speaks_the_language(toy, lang):
    """Tiles, table, charts, both tabs (with a churn list) and the view's own labels: nothing
    left untranslated, in English and in Chinese."""
    from salesml.explore.widgets import WorkbenchView

    with warehouse.connect(toy.warehouse_path) as con:
        con.execute("INSERT INTO churn_scores (customer_id, as_of, version, risk, value_at_risk, owner_rep_id, scored_at) "
                    "VALUES ('C1', DATE '2024-02-29', 'v0001', 0.8, 80, 'R1', now())")
    wb = Workbench(toy, lang=lang)
    view = WorkbenchView(wb)
    wb.set(**FEB)
    for compare in ("previous", "last_year", "target", "forecast", "none"):
        wb.set(compare=compare)
        page = wb.kpis_html() + wb.table_html() + str(wb.trend_figure().layout.title.text) + str(wb.breakdown_figure().layout.title.text)
    _, churn, _ = wb.customers()
    page += wb.customers_html() + wb.forecast_note()
    assert len(churn) == 1 and "One Ltd" in page
    assert not wb.L.missing, wb.L.missing
    labels = [w.description for w in view.filters.values()] + [view.tabs.get_title(i) for i in range(3)]
    if lang == "zh":
        assert "Measure" not in labels and "Owner" not in page and "owner_rep_id" not in page
    else:
        assert "Owner" in page
    wb.close()
