"""Numbers in a source's style: European and US marks, ambiguity, wrong settings, accounting negatives."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml import schema
from salesml.cleaning import numbers as N
from salesml.cleaning import rules as R
from salesml.config import SourceSettings

US = SourceSettings()
EU = SourceSettings(decimal=",")


def ctx(source=US, table=schema.ORDER_LINES, where="exports/orders.csv (order_lines)") -> R.Context:
    return R.Context(table=table, source=source, where=where)


def frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"source_row": range(2, n + 2), **cols})


def problems(log) -> dict:
    return {(int(i), c): r for i, c, r in zip(log.problems["idx"], log.problems["column"], log.problems["reason"], strict=True)}


def flags(log) -> dict:
    return {(int(i), c): d for i, c, d in zip(log.flags["idx"], log.flags["column"], log.flags["detail"], strict=True)}


@pytest.mark.parametrize(
    ("text", "decimal", "thousands", "value"),
    [
        # the default style: "." decimal mark, "," (or a space, or ') grouping
        ("$1,234.50", ".", "", 1234.5),
        ("1,234", ".", "", 1234.0),
        ("$262", ".", "", 262.0),
        ("1 234.50", ".", "", 1234.5),
        ("1'234.50", ".", "", 1234.5),
        ("１２３", ".", "", 123.0),
        ("(12.50)", ".", "", -12.5),
        ("12.50-", ".", "", -12.5),
        ("-$42", ".", "", -42.0),
        ("$-34.50", ".", "", -34.5),
        ("RMB 99", ".", "", 99.0),
        ("usd 7", ".", "", 7.0),
        ("3.5元", ".", "", 3.5),
        ("£1,000", ".", "", 1000.0),
        ("1.234,50", ".", "", None),
        ("12,50", ".", "", None),
        ("1 234,5", ".", "", None),
        ("abc", ".", "", None),
        ("1,23", ".", "", None),
        # the European style: "," decimal mark, "." (or a space, a no-break space) grouping
        ("1.234,50", ",", "", 1234.5),
        ("1.234", ",", "", 1234.0),
        ("1.234.567", ",", "", 1234567.0),
        ("12,5", ",", "", 12.5),
        ("-1.234,50 €", ",", "", -1234.5),
        ("€ 1.234,50", ",", "", 1234.5),
        ("1 234,50", ",", "", 1234.5),
        ("1\u00a0234,50", ",", "", 1234.5),
        ("1\u202f234,50", ",", "", 1234.5),
        ("(1.234,50)", ",", "", -1234.5),
        ("12,50-", ",", "", -12.5),
        ("１.２３４,５０", ",", "", 1234.5),
        ("1,234.50", ",", "", None),
        ("12.50", ",", "", None),
        ("1.23", ",", "", None),
        # an explicit separator is the only one allowed
        ("1 234,50", ",", " ", 1234.5),
        ("1\u00a0234,50", ",", "\u00a0", 1234.5),
        ("1.234,50", ",", " ", None),
        ("1'234.50", ".", "'", 1234.5),
        ("1,234.50", ".", "'", None),
        ("1.234,50", ",", ".", 1234.5),
        ("1 234,50", ",", ".", None),
    ],
)
def test_parse_number_text_in_each_style(text, decimal, thousands, value):
    got, pct = N.parse_number_text(text, decimal, thousands)
    assert got == value and not pct
    # the vectorised reader agrees value for value
    vec = N.read_numbers(pd.Series([text]), decimal, thousands)["value"].iloc[0]
    assert (np.isnan(vec) and value is None) or vec == value


def test_percentages_and_the_rules_module_name():
    assert N.parse_number_text("16%") == (0.16, True)
    assert N.parse_number_text("16,5 %", ",") == (0.165, True)
    assert R.parse_number_text("$1,234.50") == (1234.5, False)  # still importable from the rules


def test_number_style_labels_and_the_other_style():
    assert N.NumberStyle(",").label == "decimal ',', thousands '.'"
    assert N.NumberStyle(".").label == "decimal '.', thousands ','"
    assert N.NumberStyle(",", " ").label == "decimal ',', thousands ' '"
    assert N.NumberStyle(".").other() == N.NumberStyle(",")
    assert N.NumberStyle(".", ",").other() == N.NumberStyle(",", "")
    assert N.NumberStyle(".", "'").other() == N.NumberStyle(",", "'")
    with pytest.raises(R.CleaningError, match="decimal must be"):
        N.NumberStyle(";")
    with pytest.raises(R.CleaningError, match="does not go with"):
        N.NumberStyle(",", ",")


def test_read_numbers_marks_percent_and_accounting_negatives():
    got = N.read_numbers(pd.Series(["(12.50)", "12.50-", "-12.50", "16%", "x"], index=[5, 6, 7, 8, 9]))
    assert got.index.tolist() == [5, 6, 7, 8, 9]
    assert got["value"].tolist()[:4] == [-12.5, -12.5, -12.5, 0.16] and np.isnan(got["value"].iloc[4])
    assert got["accounting"].tolist() == [True, True, False, False, False]
    assert got["percent"].tolist() == [False, False, False, True, False]


def test_european_source_reads_its_numbers():
    df = frame(
        amount=["1.234,50", "1.234", "12,5", "-1.234,50 €", "1 234,50", "7", None],
        discount=["16,5%", "0,1", "0", "5%", None, None, None],
        quantity=["1", "2", "3", "4", "5", "6", "7"],
    )
    before = df.copy()
    out, log = R.parse_numbers(df, ctx(EU))
    pd.testing.assert_frame_equal(df, before)  # the input is untouched
    assert out["amount"].tolist()[:6] == [1234.5, 1234.0, 12.5, -1234.5, 1234.5, 7.0]
    assert np.isnan(out["amount"].iloc[6])
    assert out["discount"].tolist()[:4] == [0.165, 0.1, 0.0, 0.05]
    assert log.problems.empty and log.flags.empty
    fixed = set(zip(log.fixes["idx"], log.fixes["column"], strict=True))
    assert fixed == {(0, "amount"), (1, "amount"), (2, "amount"), (3, "amount"), (4, "amount"), (0, "discount"), (1, "discount"), (3, "discount")}


def test_unreadable_values_are_quarantined_naming_the_style():
    out, log = R.parse_numbers(frame(amount=["1.234,50", "lots", "16%"], line_no=["1", "1,5", "3"]), ctx(EU))
    assert problems(log) == {
        (1, "amount"): "not a number (decimal ',', thousands '.')",
        (2, "amount"): "a percentage where an amount is expected",
        (1, "line_no"): "not a whole number",
    }
    assert out["amount"].iloc[0] == 1234.5
    _, log = R.parse_numbers(frame(amount=["12.5", "lots"]), ctx(US))
    assert problems(log) == {(1, "amount"): "not a number (decimal '.', thousands ',')"}
    # an explicit separator: a space, so "1.234,50" is not a number in this style
    spaced = SourceSettings(decimal=",", thousands=" ")
    out, log = R.parse_numbers(frame(amount=["1 234,50", "1.234,50", "12,50", "3,10", "4,20"]), ctx(spaced))
    assert out["amount"].iloc[0] == 1234.5
    assert problems(log) == {(1, "amount"): "not a number (decimal ',', thousands ' ')"}


def test_plain_us_thousands_are_not_flagged():
    out, log = R.parse_numbers(frame(amount=["1,234", "2,500", "12.50", "$262", "3.5"]), ctx(US))
    assert out["amount"].tolist() == [1234.0, 2500.0, 12.5, 262.0, 3.5]
    assert log.flags.empty and log.problems.empty


def test_values_the_other_style_reads_differently_are_flagged_when_the_column_shows_it():
    # a "." column with one "12,50": "1,234" could be 1.234 written the European way
    out, log = R.parse_numbers(frame(amount=["1,234", "12,50", "3.50", "7.25", "10"]), ctx(US))
    assert out["amount"].iloc[0] == 1234.0
    assert problems(log) == {(1, "amount"): "not a number (decimal '.', thousands ',')"}
    assert flags(log) == {(0, "amount"): "read as 1234 (decimal '.', thousands ','); with decimal ',' it would be 1.234"}
    assert log.flags["value"].tolist() == ["1,234"]
    # and the same for a plain "1.234" of a "." column (read on the fast path as 1.234)
    out, log = R.parse_numbers(frame(amount=["1.234", "1.234,50", "3.50", "7.25", "2.10"]), ctx(US))
    assert out["amount"].iloc[0] == 1.234
    assert flags(log) == {(0, "amount"): "read as 1.234 (decimal '.', thousands ','); with decimal ',' it would be 1234"}
    # a "," column with one "3.25": "1.234" could be 1.234 written the US way
    out, log = R.parse_numbers(frame(amount=["1.234", "12,50", "1.234,50", "7,5", "3.25"]), ctx(EU))
    assert out["amount"].tolist()[:4] == [1234.0, 12.5, 1234.5, 7.5]
    assert problems(log) == {(4, "amount"): "not a number (decimal ',', thousands '.')"}
    assert flags(log) == {(0, "amount"): "read as 1234 (decimal ',', thousands '.'); with decimal '.' it would be 1.234"}


def test_a_column_mostly_in_the_other_style_stops_with_the_setting_to_change():
    european = frame(amount=["1.234,50", "12,50", "1.234", "5", "99,90", "3.10"])
    with pytest.raises(R.CleaningError) as e:
        R.parse_numbers(european, ctx(US))
    msg = str(e.value)
    assert msg.startswith("exports/orders.csv (order_lines): column 'amount'")
    assert "(decimal '.', thousands ',')" in msg and "3 of 5" in msg
    assert "'1.234,50' -> 1234.5" in msg and "'12,50' -> 12.5" in msg and "'99,90' -> 99.9" in msg
    assert 'set decimal = ","' in msg and "[sources.<name>]" in msg
    us = frame(amount=["1,234.50", "12.50", "3.75", "8", "2,5"])
    with pytest.raises(R.CleaningError, match=r"column 'amount'.*'1,234.50' -> 1234.5.*set decimal = \".\" under \[sources"):
        R.parse_numbers(us, ctx(EU))
    # an explicit "," separator cannot stay with a "," decimal mark: the message says so
    with pytest.raises(R.CleaningError, match=r'set decimal = ",", thousands = ""'):
        R.parse_numbers(european, ctx(SourceSettings(thousands=",")))


def test_accounting_negatives_on_sale_lines_are_flagged_not_just_fixed():
    df = frame(
        quantity=["2", "-1", "3", "2", "(2)"],
        status=["completed", "returned", "cancelled", None, "returned"],
        amount=["(12.50)", "(5.00)", "(7.00)", "12.50-", "(4.00)"],
    )
    out, log = R.parse_numbers(df, ctx(US))
    assert out["amount"].tolist() == [-12.5, -5.0, -7.0, -12.5, -4.0]
    assert out["quantity"].tolist() == [2.0, -1.0, 3.0, 2.0, -2.0]
    assert flags(log) == {
        (0, "amount"): "accounting negative on a sale line: read as -12.5",
        (3, "amount"): "accounting negative on a sale line: read as -12.5",
    }
    assert log.flags["value"].tolist() == ["(12.50)", "12.50-"]
    fixed = set(zip(log.fixes["idx"], log.fixes["column"], strict=True))
    assert fixed == {(1, "amount"), (2, "amount"), (4, "amount"), (4, "quantity")}
    assert log.problems.empty
    # a table without quantities has no sale lines: the negative is a fix
    _, log = R.parse_numbers(frame(product_id=["P1"], unit_cost=["(3.00)"]), ctx(US, schema.PRODUCTS))
    assert log.flags.empty and log.fixes["after"].tolist() == ["-3"]


def test_typed_numbers_pass_and_plain_text_is_not_a_fix():
    df = frame(amount=[1.5, 2.0], quantity=["3", "4"])
    out, log = R.parse_numbers(df, ctx(EU))
    assert out["amount"].tolist() == [1.5, 2.0] and out["quantity"].tolist() == [3.0, 4.0]
    assert log.fixes.empty and log.problems.empty and log.flags.empty


def test_many_rows_few_distinct_formats():
    n = 200_000
    df = frame(amount=np.where(np.arange(n) % 4 == 0, "1.234,50", np.where(np.arange(n) % 4 == 1, "7", "12,25")).astype(object))
    out, log = R.parse_numbers(df, ctx(EU))
    expected = np.where(np.arange(n) % 4 == 0, 1234.5, np.where(np.arange(n) % 4 == 1, 7.0, 12.25))
    np.testing.assert_array_equal(out["amount"].to_numpy(), expected)
    assert len(log.fixes) == n - n // 4 and log.problems.empty
