"""The data quality report: reconciliation, rule hits and quarantine of the selected loads,
opening with a summary and early warnings written from those figures, in English or Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesml.config import ConfigError, load_settings
from salesml.ingest import canonical_source, ingest_source
from salesml.reports.data_quality import DataQualityReport, find_warnings, translate_message
from salesml.reports.lang import Lang
from salesml.reports.runner import render
from tests.test_reports_performance import without_plotly_js
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


def _load_messy(settings, folder: Path):
    """A file with a defect of every kind the warnings look for: a price written as text,
    an unknown product, an impossible date with a price in HTML, a walk-in sale dated
    day-first, and a return naming a sale that was never loaded."""
    bad = folder / "messy_orders.csv"
    bad.write_text(
        "order_id,line_no,order_date,customer_id,product_id,quantity,amount,status,return_of_order_id,return_of_line_no\n"
        "X1,1,2024-02-01,C1,P1,1,$10.00,completed,,\n"
        "X2,1,2024-02-01,C1,P404,1,5,completed,,\n"
        "X3,1,2024-02-30,C1,P1,1,<b>7</b>,completed,,\n"
        "X4,1,15/02/2024,,P1,2,20,completed,,\n"
        "X5,1,2024-02-03,C1,P1,-1,-4,returned,X999,1\n",
        encoding="utf-8",
    )
    [r] = ingest_source(settings.with_overrides(cleaning={"max_bad_date_share": 0.5}), "messy", canonical_source({"order_lines": bad}))
    return r


@pytest.fixture
def messy(toy, tmp_path):
    return toy, _load_messy(toy, tmp_path)


@pytest.fixture(scope="module")
def messy_wh(tmp_path_factory):
    """The toy company and the messy file, loaded once for the pages rendered from them."""
    from tests.conftest import load_toy, make_settings

    s = make_settings(tmp_path_factory.mktemp("messy"))
    load_toy(s)
    return s, _load_messy(s, s.root)


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


def test_the_summary_says_what_was_read_where_it_went_and_what_to_fix(messy):
    s, r = messy
    rep = DataQualityReport(warehouse=str(s.warehouse_path), lang="en")
    sentences, actions = rep.summary_sentences()
    texts = [x.text for x in sentences]
    assert [x.link for x in sentences] == ["figures", "reconciliation", "quarantine", "rules", "warnings"]
    assert texts[0] == "5 rows read from 1 file: 3 loaded (1 of them with a recorded fix) and 2 quarantined (40.0%)."
    # rows in = rows out, and money in = money out to the cent
    assert texts[1] == "The file reconciles: rows in = rows out, and revenue read ¥31.00 = ¥26.00 loaded + ¥5.00 quarantined, to the cent."
    assert "“product_id: unknown (not in products)” in order lines (1)" in texts[2]
    assert texts[3].startswith("Fixes recorded: numbers read from text") and "1 loaded row is flagged for a look" in texts[3]
    assert texts[4].startswith("5 early warnings, the first — messy_orders.csv: 40.0% of its rows (2 of 5)")
    assert 1 <= len(actions) <= 5
    assert actions[0].text == ("Fix row 3 of messy_orders.csv (unknown product_id), or load the missing code into products first; "
                               "then load the file again.")
    assert actions[0].link == "quarantined-rows"
    assert any("unlinked return of messy_orders.csv" in a.text for a in actions)


def test_early_warnings_come_with_their_evidence_and_thresholds(messy):
    s, r = messy
    rep = DataQualityReport(warehouse=str(s.warehouse_path), lang="en")
    found, skipped = rep.findings()
    assert [f.kind for f in found] == ["quarantine", "unlinked", "anonymous", "numbers", "dates"]
    texts = dict(zip([f.kind for f in found], [rep.finding_text(f) for f in found], strict=True))
    assert texts["quarantine"][0] == "messy_orders.csv: 40.0% of its rows (2 of 5) and 16.1% of its revenue (¥5) quarantined"
    assert "[warnings] dq_quarantine_pct" in texts["quarantine"][1]
    assert texts["unlinked"][0].startswith("messy_orders.csv: 1 of its 1 returns names no loaded sale (100.0%)")
    assert texts["anonymous"][0] == "messy_orders.csv: 76.9% of its revenue has no customer (walk-in / guest): ¥20 in 1 line"
    assert "“$10.00” → 10" in texts["numbers"][0]
    assert "order_date" in texts["dates"][0] and "date_format" in texts["dates"][1]
    # what cannot be checked is said: totals against the source system, always
    assert [k for k, _ in skipped] == ["dq_skip_source"]
    # thresholds from [warnings]: at 100% nothing but the guessed date format is left
    lax = rep.settings.with_overrides(warnings={"dq_quarantine_pct": 100.0, "dq_unlinked_pct": 100.0, "dq_anonymous_pct": 100.0,
                                                "dq_repaired_pct": 100.0})
    found, _ = find_warnings(rep.reconciliation_frame(), rep.quarantine, rep.fixes, rep.returns, lax)
    assert [f.kind for f in found] == ["dates"]
    # a batch that does not reconcile is always a warning, first, and the summary says so
    rep.batches.loc[:, "rows_loaded"] -= 1
    found, _ = rep.findings()
    assert found[0].kind == "not_reconciled"
    assert rep.finding_text(found[0])[0] == f"messy_orders.csv (batch {r.batch_id}) does not reconcile: 5 rows read, 4 accounted for"
    sentences, actions = rep.summary_sentences()
    assert sentences[1].text.startswith("The file does not reconcile: messy_orders.csv")
    assert actions[0].text.startswith("Load messy_orders.csv again and, if batch")


def test_a_clean_load_has_no_warnings_and_says_what_it_did_not_check(toy):
    rep = DataQualityReport(warehouse=str(toy.warehouse_path), lang="en")
    found, skipped = rep.findings()
    assert found == []
    assert {k for k, _ in skipped} >= {"dq_skip_money", "dq_skip_source"}
    sentences, actions = rep.summary_sentences()
    assert 3 <= len(sentences) <= 6
    assert sentences[-1].text == "No early warning: every check below is within its limit."
    assert actions == []


def test_ingest_messages_are_shown_in_chinese():
    L, unknown = Lang("zh"), set()
    said = {
        "order_date: not a date (%Y-%m-%d) (2023-11-31); order_date: required value is missing": "order_date：不是日期（%Y-%m-%d）（2023-11-31）；order_date：缺少必填值",
        "quantity: not a number (decimal '.', thousands ',') (N/A)": "quantity：不是数字（小数点 '.'，千分位 ','）（N/A）",
        "product_id: unknown (not in products)": "product_id：未知（产品中没有）",
        "order_id,line_no: superseded by a later row with the same key (kept row 20507)": "order_id,line_no：被后面同一键的行取代（保留第 20507 行）",
        "malformed line: 18 fields where the header has 17": "格式错误的行：18 个字段，表头有 17 个",
        "before discount 39980.00 vs median 1999.00 (robust z +380.0)": "折前 39980.00，中位价 1999.00（稳健 z 值 +380.0）",
        "3 record(s) span 7 lines of the file (a quoted line break, or a quote left open); 1,234 lines in all":
            "3 条记录跨越文件中的 7 行（引号内的换行，或引号未闭合）；共 1,234 行",
    }
    for english, chinese in said.items():
        assert translate_message(english, L, unknown) == chinese
        assert translate_message(english, Lang("en")) == english
    assert unknown == set()
    # what no pattern knows stays as it is, and is remembered
    assert translate_message("something new", L, unknown) == "something new" and unknown == {"something new"}


def test_thresholds_are_percentages(tmp_path):
    cfg = tmp_path / "salesml.toml"
    cfg.write_text("[warnings]\ndq_quarantine_pct = 150\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[warnings\] dq_quarantine_pct must be a percentage 0 to 100, got 150"):
        load_settings(cfg)


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


@pytest.mark.notebook
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_page_opens_with_its_summary_and_warnings_in_either_language(messy_wh, lang):
    s, r = messy_wh
    result = render(with_notebooks(s), "data_quality", {"lang": lang})
    f = result.figures
    assert f["lang"] == lang and f["untranslated"] == [] and f["untranslated_messages"] == []
    assert 3 <= len(f["summary"]) <= 6 and 1 <= len(f["actions"]) <= 5
    assert f["warnings"] == 5 and f["warning_quarantine"] == 1 and f["warning_not_reconciled"] == 0
    assert (f["rows_read"], f["rows_loaded"], f["rows_quarantined"], f["reconciles"]) == (5, 3, 2, True)
    page = result.html_path.read_text(encoding="utf-8")
    order = ['id="summary"', 'id="warnings"', 'id="figures"', 'id="reconciliation"', 'id="rules"', 'id="quarantine"',
             'id="quarantined-rows"', 'id="fixes"', 'id="flags"']
    assert [page.index(a) for a in order] == sorted(page.index(a) for a in order)
    for link in ("#figures", "#reconciliation", "#quarantine", "#rules", "#warnings", "#quarantined-rows"):
        assert f'href="{link}"' in page, link
    assert "00:00:00" not in without_plotly_js(page)
    assert "<b>7</b>" not in page and "&lt;b&gt;7&lt;/b&gt;" in page
    if lang == "zh":
        assert "摘要" in page and "风险预警" in page and "对账" in page and "建议行动" in page
        assert "product_id：未知（产品中没有）" in page
        for english in (">Summary<", ">Early warnings<", ">Reconciliation<", ">Rule hits<", ">Rows read<", ">Quarantined rows<",
                        ">Fixes and flags<", ">Revenue read<", ">File<", "Not checked"):
            assert english not in page, english
        assert result.html_path.name.endswith("_zh.html")
    else:
        assert ">Summary<" in page and ">Reconciliation<" in page and "What to do" in page
