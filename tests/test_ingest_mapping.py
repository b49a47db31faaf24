"""Step 2 of the import, map: columns, arithmetic and SQL expressions, literals, sequences, joins."""

from __future__ import annotations

import pandas as pd
import pytest

from salesml import schema
from salesml.ingest.mapping import (
    MappingError,
    NumberStyle,
    check_mapping,
    expression_columns,
    is_arithmetic,
    join,
    line_numbers,
    map_columns,
)


def raw(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame({"source_row": range(2, n + 2), **cols})


def test_columns_literals_and_blanks():
    src = raw(Code=["007", "NA", " "], Nm=["NULL", "x", "y"])
    m = map_columns(src, {"customer_id": "Code", "name": "Nm", "segment": "'Retail'"}, schema.CUSTOMERS)
    assert m.frame["customer_id"].tolist()[:2] == ["007", "NA"]
    assert pd.isna(m.frame["customer_id"].iloc[2])
    assert m.frame["segment"].tolist() == ["Retail"] * 3
    assert m.frame["source_row"].tolist() == [2, 3, 4]
    assert src["Code"].tolist() == ["007", "NA", " "]  # input untouched


def test_expressions_parse_formatted_numbers():
    src = raw(Sales=["$262", "$1,234.50", "(10)"], Profit=["$42", "$-34.50", "x"])
    cols = {"order_id": "Sales", "line_no": "@row", "order_date": "Sales", "customer_id": "Sales", "product_id": "Sales",
            "quantity": "Sales", "amount": "Sales", "status": "Sales", "cost": "Sales - Profit"}
    m = map_columns(src, cols, schema.ORDER_LINES)
    assert m.frame["cost"].tolist()[:2] == [220.0, 1269.0]
    assert pd.isna(m.frame["cost"].iloc[2])
    assert m.log.problems["reason"].tolist() == ["cannot compute 'Sales - Profit': an operand is not a number"]
    assert m.frame["line_no"].tolist() == [2, 3, 4]


def test_backticks_sequences_and_unknown_names():
    src = raw(**{"Unit Price": ["2", "3", "4"], "Qty": ["1", "2", "3"], "Order ID": ["A", "A", "B"]})
    assert expression_columns("`Unit Price` * Qty", list(src.columns)) == ["Unit Price", "Qty"]
    cols = {"order_id": "Order ID", "line_no": "@seq(Order ID)", "order_date": "Qty", "customer_id": "Qty",
            "product_id": "Qty", "quantity": "Qty", "status": "Qty", "amount": "`Unit Price` * Qty"}
    m = map_columns(src, cols, schema.ORDER_LINES)
    assert m.frame["amount"].tolist() == [2.0, 6.0, 12.0]
    assert m.frame["line_no"].tolist() == [1, 2, 1]
    with pytest.raises(MappingError, match="'Price' is not a source column"):
        map_columns(src, {**cols, "amount": "Price * Qty"}, schema.ORDER_LINES)
    with pytest.raises(MappingError, match="no source column 'Order'"):
        map_columns(src, {**cols, "line_no": "@seq(Order)"}, schema.ORDER_LINES)


@pytest.mark.parametrize(
    ("keys", "numbers"),
    [
        (["A", "A", "B", "B", "B", "", ""], [1, 2, 1, 2, 3, 1, 2]),  # each order's lines together
        (["A", "B", "A", None, "B", None, "A"], [1, 1, 2, 1, 2, 2, 3]),  # interleaved; missing is a group
        ([], []),
        (["B", "B", "A", "A", "C"], [1, 2, 1, 2, 1]),  # runs, not in order of the keys
        (["A", "A", "B", "A"], [1, 2, 1, 3]),  # a key coming back after another's run
        ([None, None, "A", None], [1, 2, 1, 3]),  # missing keys in two runs
        (["x"], [1]),
    ],
)
def test_sequences_count_within_each_key_in_row_order(keys, numbers):
    s = pd.Series(keys, dtype="string[pyarrow]", index=range(10, 10 + len(keys)))
    got = line_numbers(s)
    assert got.tolist() == numbers and got.index.tolist() == s.index.tolist()


def test_missing_columns_and_required_columns_are_named():
    src = raw(Code=["1"])
    with pytest.raises(MappingError, match=r"customers.csv: mapped source column not found: customer_id = 'Customer Code'.*The file has: 'Code'"):
        map_columns(src, {"customer_id": "Customer Code"}, schema.CUSTOMERS, "customers.csv")
    with pytest.raises(MappingError, match="order_date"):
        map_columns(src, {"order_id": "Code"}, schema.ORDER_LINES)
    cols = {c: "Code" for c in ["order_id", "line_no", "order_date", "customer_id", "product_id", "quantity", "status"]}
    map_columns(src, {**cols, "unit_price": "Code"}, schema.ORDER_LINES)  # amount can be derived
    with pytest.raises(MappingError, match="amount"):
        map_columns(src, cols, schema.ORDER_LINES)
    with pytest.raises(MappingError, match="'colour', which is not a canonical column"):
        map_columns(src, {"customer_id": "Code", "colour": "Code"}, schema.CUSTOMERS)


def test_join_reports_missing_and_ambiguous_matches():
    lines = raw(**{"Order ID": ["A", "B", "C", "A"], "Qty": ["1", "2", "3", "4"]})
    heads = pd.DataFrame({"Order ID": ["A", "C", "C"], "Order Date": ["2024-01-01", "2024-01-02", "2024-01-03"], "Qty": ["x", "y", "z"]})
    joined, log = join(lines, heads, ("Order ID",), "orders.csv", "lines.csv")
    assert joined.index.tolist() == lines.index.tolist()
    assert joined["Order Date"].tolist()[0] == "2024-01-01"
    assert joined["Qty"].tolist() == ["1", "2", "3", "4"]  # the main file's columns win
    problems = dict(zip(log.problems["idx"], log.problems["reason"], strict=True))
    assert problems == {1: "no matching row in orders.csv", 2: "matches several rows in orders.csv"}
    with pytest.raises(MappingError, match="'Order No'"):
        join(lines, heads, ("Order No",), "orders.csv", "lines.csv")


# ---------------------------------------------------------------- SQL expressions

ORDER_COLS = {"order_id": "Inv", "line_no": "@seq(Inv)", "order_date": "Day", "product_id": "Sku",
              "quantity": "Qty", "amount": "Qty * Price", "status": "'completed'"}


def shop(**extra) -> pd.DataFrame:
    base = {"Inv": ["536365", "536365", "C536379"], "Day": ["12/1/2010 8:26", "12/1/2010 8:26", "12/3/2010 9:41"],
            "Sku": ["85123A", "71053", "D"], "Qty": ["6", "6", "-1"], "Price": ["2.55", "3.39", "27.50"],
            "CustomerID": ["17850.0", "", "14527.0"], "Store": ["1", "1", "12"], "Dept": ["1", "7", "3"]}
    return raw(**{**base, **extra})


def test_sql_expressions_build_text_keys_dates_and_statuses():
    cols = {**ORDER_COLS,
            "customer_id": "coalesce(CustomerID, 'GUEST')",
            "channel": "Store || '-' || Dept",
            "region": "Store * 100 + Dept",  # a number computed into a text column: "101", never "101.0"
            "order_date": "try_strptime(Day, '%m/%d/%Y %H:%M') + INTERVAL 1 DAY",
            "status": "CASE WHEN Inv LIKE 'C%' THEN 'cancelled' ELSE 'completed' END"}
    m = map_columns(shop(), cols, schema.ORDER_LINES)
    f = m.frame
    assert f["customer_id"].tolist() == ["17850.0", "GUEST", "14527.0"]
    assert f["channel"].tolist() == ["1-1", "1-7", "12-3"]
    assert f["region"].tolist() == ["101", "107", "1203"]
    assert [d.strftime("%Y-%m-%d") for d in f["order_date"]] == ["2010-12-02", "2010-12-02", "2010-12-04"]
    assert f["status"].tolist() == ["completed", "completed", "cancelled"]
    assert f["amount"].tolist() == pytest.approx([15.3, 20.34, -27.5])


def test_ids_exported_as_floats_map_to_their_integer_text():
    m = map_columns(shop(), {**ORDER_COLS, "customer_id": "num(CustomerID)"}, schema.ORDER_LINES)
    assert m.frame["customer_id"].tolist()[0] == "17850"
    assert pd.isna(m.frame["customer_id"].iloc[1])
    assert m.frame["customer_id"].tolist()[2] == "14527"


def test_num_reads_numbers_in_the_sources_style():
    src = raw(Inv=["1", "2"], Day=["2024-01-02"] * 2, Sku=["a", "b"], Qty=["1", "2"], Betrag=["1.234,50", "(12,50)"])
    cols = {**ORDER_COLS, "customer_id": "'c'", "amount": "num(Betrag)", "cost": "Betrag / 2"}
    m = map_columns(src, cols, schema.ORDER_LINES, style=NumberStyle(decimal=",", thousands="."))
    assert m.frame["amount"].tolist() == [1234.5, -12.5]
    assert m.frame["cost"].tolist() == [617.25, -6.25]


def test_sql_mapping_errors_name_the_expression_the_column_and_the_file_columns():
    with pytest.raises(MappingError, match=r"customer_id = .coalesce\(CustID, .*no source column 'CustID'.*The file has: .*'CustomerID'"):
        map_columns(shop(), {**ORDER_COLS, "customer_id": "coalesce(CustID, 'GUEST')"}, schema.ORDER_LINES, "shop.csv")
    with pytest.raises(MappingError, match="is not a valid expression"):
        map_columns(shop(), {**ORDER_COLS, "customer_id": "coalesce(CustomerID,, 'x')"}, schema.ORDER_LINES)
    with pytest.raises(MappingError, match=r"fails on the data.*try_strptime"):
        map_columns(shop(), {**ORDER_COLS, "customer_id": "'c'", "order_date": "strptime(Day, '%Y-%m-%d')"}, schema.ORDER_LINES)


def test_check_mapping_finds_errors_from_the_header_alone():
    header = ["Inv", "Day", "Sku", "Qty", "Price"]
    check_mapping({**ORDER_COLS, "customer_id": "coalesce(Sku, 'x')"}, header, schema.ORDER_LINES, "f.csv")
    with pytest.raises(MappingError, match="no source column 'Nope'"):
        check_mapping({**ORDER_COLS, "customer_id": "upper(Nope)"}, header, schema.ORDER_LINES, "f.csv")
    with pytest.raises(MappingError, match="mapped source column not found: customer_id = 'Customer ID'"):
        check_mapping({**ORDER_COLS, "customer_id": "Customer ID"}, header, schema.ORDER_LINES, "f.csv")


def test_a_mapping_checked_good_is_not_checked_again_but_another_header_is(monkeypatch):
    """A run of daily files checks one mapping against one header per file: once is enough;
    a file whose header differs is checked (and refused) all the same."""
    from salesml.ingest import mapping

    cols = {**ORDER_COLS, "customer_id": "coalesce(Sku, 'x')"}
    header = ["Inv", "Day", "Sku", "Qty", "Price"]
    check_mapping(cols, header, schema.ORDER_LINES, "day1.csv")
    calls = []
    monkeypatch.setattr(mapping, "evaluate_sql", lambda *a, **k: calls.append(a))
    check_mapping(cols, header, schema.ORDER_LINES, "day2.csv")
    assert calls == []  # the SQL expression was not bound again
    monkeypatch.undo()
    with pytest.raises(MappingError, match="day3.csv: mapped source column not found: product_id = 'Sku'"):
        check_mapping(cols, ["Inv", "Day", "SKU code", "Qty", "Price"], schema.ORDER_LINES, "day3.csv")


def test_arithmetic_and_sql_are_told_apart():
    assert is_arithmetic("Sales - Profit") and is_arithmetic("`Unit Price` * (Qty + 1)")
    assert not is_arithmetic("upper(Name)") and not is_arithmetic("Store || '-' || Dept") and not is_arithmetic("Qty")
