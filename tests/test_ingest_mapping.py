"""Mapping source columns onto the canonical schema: columns, expressions, literals, joins."""

from __future__ import annotations

import pandas as pd
import pytest

from salesml import schema
from salesml.mapping import MappingError, expression_columns, join, map_columns


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
