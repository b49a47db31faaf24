"""The data quality report: reconciliation, rule hits and quarantine of the selected loads."""

from __future__ import annotations

import pytest

from salesml.ingest import canonical_source, ingest_source
from salesml.reports.data_quality import DataQualityReport
from salesml.reports.runner import render
from tests.test_reports_runner import with_notebooks


@pytest.fixture
def loaded(toy, tmp_path):
    bad = tmp_path / "bad_orders.csv"
    bad.write_text(
        "order_id,line_no,order_date,customer_id,product_id,quantity,amount,status\n"
        "X1,1,2024-02-01,C1,P1,1,$10.00,completed\n"
        "X2,1,2024-02-01,C1,P404,1,5,completed\n"
        "X3,1,2024-02-30,C1,P1,1,<b>7</b>,completed\n",
        encoding="utf-8",
    )
    # one impossible date in three rows: above the default max_bad_date_share, which would stop the load
    lenient = toy.with_overrides(cleaning={"max_bad_date_share": 0.5})
    [r] = ingest_source(lenient, "bad", canonical_source({"order_lines": bad}))
    return toy, r


def test_latest_run_is_the_default_selection(loaded):
    s, r = loaded
    rep = DataQualityReport(warehouse=str(s.warehouse_path))
    assert rep.batches["batch_id"].tolist() == [r.batch_id]
    t = rep.totals
    assert (t["rows_read"], t["rows_loaded"], t["rows_fixed"], t["rows_quarantined"]) == (3, 1, 1, 2)
    assert (t["revenue_read"], t["revenue_loaded"], t["revenue_quarantined"]) == (15.0, 10.0, 5.0)
    assert set(rep.reasons()["reason"]) == {"product_id: unknown (not in products)", "amount: not a number (decimal '.', thousands ',')"}
    hits = {(h.rule, h.kind): h.rows for h in rep.rule_hits().itertuples()}
    assert hits[("parse_numbers", "fix")] == 1 and hits[("unknown_keys", "quarantine")] == 1
    assert DataQualityReport(batch=1, warehouse=str(s.warehouse_path)).batches["table_name"].tolist() == ["reps"]
    with pytest.raises(ValueError, match="YYYY-MM"):
        DataQualityReport(load_period="2024-1", warehouse=str(s.warehouse_path))


@pytest.mark.notebook
def test_data_quality_report_renders(loaded):
    s, r = loaded
    result = render(with_notebooks(s), "data_quality", {"batch": str(r.batch_id)})
    assert result.html_path.name == f"data_quality_batch-{r.batch_id}.html"
    f = result.figures
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"], f["reconciles"]) == (3, 1, 2, True)
    page = result.html_path.read_text(encoding="utf-8")
    assert "Plotly.newPlot" in page
    assert "<b>7</b>" not in page  # the quarantined record is shown escaped
    assert "&lt;b&gt;7&lt;/b&gt;" in page
