"""The reports' language layer: labels, sentences and number formats in English and Chinese."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from salesml.reports import html as H
from salesml.reports import summary  # noqa: F401  (registers the summary's sentences)
from salesml.reports.lang import COLUMNS, LANGS, TEXT, VALUES, Lang


def test_money_is_compact_in_sentences_and_whole_in_tables():
    en, zh = Lang("en", "CNY"), Lang("zh", "CNY")
    assert en.money(70_312_345.6) == "¥70.3M"
    assert en.money(-3_100_000) == "−¥3.1M"
    assert en.money(512_340.4) == "¥512,340"
    assert en.money(1_234_000_000) == "¥1.23B"
    assert en.money(9_700_000, signed=True) == "+¥9.7M"
    assert zh.money(70_312_345.6) == "¥7,031.2万"
    assert zh.money(123_456_789) == "¥1.23亿"
    assert zh.money(65_381) == "¥65,381"
    assert Lang("zh", "CNY", wan_units=False).money(70_312_345.6) == "¥70.3M"
    assert en.amount(1_234_567.891) == "¥1,234,568" and en.amount(-5) == "−¥5"
    assert en.cents(1234.5) == "¥1,234.50"
    assert Lang("en", "EUR").amount(10) == "€10" and Lang("en", None).amount(10) == "10"
    for v in (None, np.nan, pd.NA):
        assert en.money(v) == en.amount(v) == en.pct(v) == en.count(v) == en.date(v) == "–"


def test_counts_percentages_and_dates():
    L = Lang()
    assert L.count(33351.0) == "33,351"  # never "33,351.00"
    assert L.pct(12.345) == "12.3%" and L.pct(-4.0, signed=True) == "−4.0%" and L.pct(4, signed=True) == "+4.0%"
    assert L.ratio(0.1234) == "12.3%"
    assert L.date(pd.Timestamp("2026-11-05 00:00:00")) == "2026-11-05"  # no "00:00:00"
    assert L.date(datetime(2026, 11, 5, 13, 4)) == "2026-11-05"
    assert Lang("zh").date(date(2026, 11, 5)) == "2026年11月5日"
    assert L.period("2026-11") == "2026-11" and Lang("zh").period("2026-11") == "2026年11月"
    assert L.month("2026-11") == "November 2026" and Lang("zh").month("2026-01") == "2026年1月"
    assert L.number(12.5) == "12.5" and L.number(1200.0) == "1,200"
    assert L.times(1.234) == "1.23×"


def test_labels_and_sentences_in_both_languages_and_what_is_missing_is_remembered():
    en, zh = Lang("en"), Lang("zh")
    assert en.label("attainment_pct") == "Attainment" and zh.label("attainment_pct") == "目标达成率"
    assert en.label("items_pct") != "items_pct" and en.label("leakage_share_pct") != "leakage_share_pct"
    assert en.label("cumulative_conversion_rate") == "Conversion from the start"
    assert en.t("top_of", shown=20, total="110").startswith("Top 20 of 110")
    assert en.missing == set() and zh.missing == set()
    assert en.label("no_such_column") == "no_such_column" and en.t("no_such_text") == "no_such_text"
    assert en.missing == {"column:no_such_column", "text:no_such_text"}
    assert zh.value("new") == "新客户" and zh.value("Electronics") == "Electronics"  # the data's own words stay


def test_one_opportunity_is_singular():
    L = Lang()
    assert L.t("s_stale", n="1", amount="¥5").startswith("1 opportunity worth ¥5 is")
    assert L.t("s_stale", n="3", amount="¥5").startswith("3 opportunities")


def test_every_catalogue_entry_has_both_languages_and_the_same_placeholders():
    import importlib
    import string

    for name in ("performance", "kpi_blocks", "coaching", "summary", "data_quality", "customers", "churn", "forecast"):
        importlib.import_module(f"salesml.reports.{name}")  # every report registers its words

    def fields(text):
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, pair in TEXT.items():
        assert len(pair) == 2 and all(pair), key
        en, zh = fields(pair[0]), fields(pair[1])
        # both are filled from the same values: one may leave some out (English plurals, say)
        assert en <= zh or zh <= en, key
    for key, (kind, en, zh) in COLUMNS.items():
        assert kind in {"text", "money", "cents", "count", "number", "pct", "signed_pct", "ratio", "date", "period", "days", "times", "score"}, key
        assert en and zh, key
    assert all(len(v) == 2 for v in VALUES.values())


def test_unknown_language_is_refused():
    with pytest.raises(ValueError, match="lang must be one of en, zh"):
        Lang("fr")
    assert LANGS == ("en", "zh")


def test_a_view_labels_formats_truncates_and_scrolls():
    df = pd.DataFrame({"rep_id": [f"R{i:03d}" for i in range(30)], "revenue": np.arange(30) * 1000.25, "attainment_pct": 99.44,
                       "orders": np.arange(30, dtype=float), "kind": "return"})
    before = df.copy()
    page = H.view(df, Lang("en", "CNY"), top=20).html
    pd.testing.assert_frame_equal(df, before)
    assert '<div class="salesml-scroll">' in page
    assert '<th class="num">Revenue (net)</th>' in page and ">Attainment</th>" in page and ">Orders</th>" in page and "<th>Rep</th>" in page
    assert "¥19,005" in page and "99.4%" in page and "R020" not in page and "¥29,007" not in page  # rows 21-30 are cut
    assert "Top 20 of 30 shown" in page
    assert '<td class="num">¥1,000</td>' in page and "<td>R001</td>" in page  # numbers right, text left
    zh = H.view(df, Lang("zh", "CNY")).html
    assert ">净收入</th>" in zh and "<td>退货</td>" in zh and "Top" not in zh


def test_notes_written_in_english_below_are_translated_part_by_part():
    from salesml.reports import kpi_blocks  # noqa: F401  (registers the KPI and commission notes)

    zh, en = Lang("zh"), Lang("en")
    note = "3265 repeat customers; anonymous (walk-in / guest) sales 12.5% of revenue, in no customer count"
    assert en.note(note) == note
    assert zh.note(note) == "老客户 3265 个；匿名（散客）销售占收入 12.5%，不计入客户数"
    assert zh.note("0% - 100% of target at 3%") == "目标的 0% - 100%，提成 3%"
    assert zh.note("as of 2026-12-05: pipeline 30,858,800.00 / remaining target 65,791,616.92") == "截至 2026-12-05：商机 30,858,800.00 / 剩余目标 65,791,616.92"
    assert zh.missing == set()
    assert zh.note("something new") == "something new" and zh.missing == {"note:something new"}
    assert zh.note(None) == ""
