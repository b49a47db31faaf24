"""Anonymous sales (salesml.anonymous): which lines are nobody's, the SQL and DataFrame forms
of the rule, and what a selection leaves out, worked out by hand."""

from __future__ import annotations

import dataclasses

import duckdb
import pandas as pd
import pytest

from salesml.anonymous import (
    LeftOut,
    anonymous_ids,
    anonymous_sql,
    identified_sql,
    is_anonymous,
    left_out,
)
from salesml.config import Settings, SourceSettings


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("CREATE TABLE ledger (order_id VARCHAR, line_no INTEGER, customer_id VARCHAR, rep_id VARCHAR, amount DECIMAL(18,2))")
    c.execute(
        """INSERT INTO ledger VALUES
           ('O1', 1, 'C1', 'R1', 100.00), ('O1', 2, 'C1', 'R1', 50.00),
           ('O2', 1, NULL, 'R1', 20.50), ('O2', 2, NULL, 'R2', 5.25),
           ('O3', 1, 'GUEST', 'R2', 30.00), ('O3', 1, 'GUEST', 'R2', -10.00),
           ('O4', 1, '  ', 'R2', 4.00), ('O5', 1, 'C2', 'R2', 40.00)"""
    )
    yield c
    c.close()


def test_anonymous_ids_come_from_every_source():
    s = dataclasses.replace(
        Settings(),
        sources={"pos": SourceSettings(anonymous_customer="GUEST"), "web": SourceSettings(anonymous_customer="WALKIN"),
                 "erp": SourceSettings(), "shop2": SourceSettings(anonymous_customer="GUEST")},
    )
    assert anonymous_ids(s) == ("GUEST", "WALKIN")
    assert anonymous_ids(Settings()) == ()
    assert anonymous_ids(None) == ()
    assert anonymous_ids("GUEST") == ("GUEST",)  # one id, not its letters
    assert anonymous_ids(["X", None, " ", "X"]) == ("X",)


def test_sql_conditions_split_the_lines(con):
    who, p = identified_sql("customer_id", ["GUEST"])
    assert con.execute(f"SELECT DISTINCT customer_id FROM ledger WHERE {who} ORDER BY 1", p).fetchall() == [("C1",), ("C2",)]
    anon, p = anonymous_sql("customer_id", ["GUEST"])
    got = con.execute(f"SELECT order_id, line_no FROM ledger WHERE {anon} ORDER BY 1, 2", p).fetchall()
    assert got == [("O2", 1), ("O2", 2), ("O3", 1), ("O3", 1), ("O4", 1)]
    # without configured ids only empty customers are anonymous: the guest code would be a customer
    who, p = identified_sql("customer_id")
    assert {r[0] for r in con.execute(f"SELECT customer_id FROM ledger WHERE {who}", p).fetchall()} == {"C1", "C2", "GUEST"}
    # a second condition in the same query takes another parameter name
    a, pa = identified_sql("a.customer_id", ["GUEST"], param="ids_a")
    b, pb = identified_sql("b.customer_id", [], param="ids_b")
    n = con.execute(f"SELECT count(*) FROM ledger a JOIN ledger b USING (order_id, line_no) WHERE {a} AND {b}", {**pa, **pb}).fetchall()
    assert n == [(3,)]  # O1/1, O1/2 and O5/1, each with itself; GUEST's O3/1 fails side a


def test_is_anonymous_on_a_frame():
    ids = pd.Series(["C1", None, "GUEST", " ", float("nan"), "guest"], index=[10, 11, 12, 13, 14, 15])
    before = ids.copy()
    got = is_anonymous(ids, ["GUEST"])
    assert got.tolist() == [False, True, True, True, True, False]  # ids match exactly, as the import writes them
    assert list(got.index) == [10, 11, 12, 13, 14, 15]
    pd.testing.assert_series_equal(ids, before)


def test_left_out_by_hand(con):
    """Anonymous: O2/1 20.50, O2/2 5.25 (NULL), O3/1 30 - 10 (GUEST), O4/1 4.00 (blank) ->
    4 lines, 3 orders, 49.75 of 239.75 in all (20.75 %)."""
    lo = left_out(con, ids=["GUEST"])
    assert lo == LeftOut(lines=4, orders=3, revenue=49.75, total_revenue=239.75)
    assert lo.share_pct == pytest.approx(20.75)
    assert lo.text() == "4 anonymous order lines in 3 orders (49.75, 20.8% of revenue) are not in the customer models"
    assert lo.text("the churn scores", money=lambda v: f"¥{v:,.2f}") == (
        "4 anonymous order lines in 3 orders (¥49.75, 20.8% of revenue) are not in the churn scores"
    )
    d = lo.to_dict()
    assert (d["lines"], d["orders"], d["revenue"], d["total_revenue"], d["revenue_share_pct"]) == (4, 3, 49.75, 239.75, 20.75)
    assert d["note"] == lo.text()
    # a selection: rep R2's entries (O2/2 5.25, O3/1 20, O4/1 4; all of R2: 69.25)
    r2 = left_out(con, "rep_id = $rep", {"rep": "R2", "unused": 1}, ["GUEST"])
    assert r2 == LeftOut(lines=3, orders=3, revenue=29.25, total_revenue=69.25)
    # no configured id: the guest code is a customer
    assert left_out(con).lines == 3
    one = left_out(con, "order_id = 'O4'")
    assert one.text() == "1 anonymous order line in 1 order (4.00, 100.0% of revenue) is not in the customer models"
    none = left_out(con, "order_id = 'O1'", ids=["GUEST"])
    assert not none and none == LeftOut(0, 0, 0.0, 150.0)
    assert none.text("the churn scores") == "No anonymous (walk-in / guest) order lines: nothing is left out of the churn scores"
    assert LeftOut(1, 1, 5.0, 0.0).share_pct is None  # no revenue to be a share of


def test_the_share_in_the_sentence_is_rounded_once():
    """23.2503% is said as 23.3% (rounding 23.25 again would give 23.2%); JSON keeps 2 decimals."""
    from salesml.anonymous import LeftOut

    lo = LeftOut(lines=3, orders=2, revenue=23.2503, total_revenue=100.0)
    assert "23.3% of revenue" in lo.text() and lo.share_pct == 23.25
    assert LeftOut(lines=1, orders=1, revenue=5.0, total_revenue=0.0).share_pct is None
