"""Ingest: every row loaded or quarantined with a reason, reloads change nothing, replacements are atomic."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from salesml import schema, warehouse
from salesml.config import TableSource
from salesml.ingest import (
    IngestError,
    apply_value_maps,
    canonical_source,
    check_stints,
    coerce_types,
    derive_amounts,
    ingest_source,
    load_file,
    map_columns,
    round_money,
)
from tests.conftest import TOY, load_toy, make_settings

HEADER = (
    "order_id,line_no,order_date,customer_id,product_id,quantity,unit_price,amount,rep_id,"
    "discount,unit_cost,currency,status,return_of_order_id,return_of_line_no,channel,region"
)


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def order_spec(path) -> TableSource:
    return canonical_source({"order_lines": path}).tables["order_lines"]


def counts(settings, sql):
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(sql).fetchall()


def snapshot(settings) -> dict:
    """Everything a load can change."""
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return {
            t: con.execute(f'SELECT * FROM "{t}" ORDER BY ALL').fetchall()
            for t in [*schema.TABLES, "load_batches", "quarantine"]
        }


# ----------------------------------------------------------------------------- pure steps


def test_map_columns_renames_trims_and_keeps_ids_as_text():
    raw = pd.DataFrame({"source_row": [2, 3], "Code": ["007", " NA "], "Nm": ["NULL", ""]})
    spec = TableSource(columns={"customer_id": "Code", "name": "Nm"})
    out = map_columns(raw, spec, schema.CUSTOMERS)
    assert out["customer_id"].tolist() == ["007", "NA"]
    assert out["name"].iloc[0] == "NULL"
    assert pd.isna(out["name"].iloc[1])
    assert raw["Code"].tolist() == ["007", " NA "]  # input untouched


def test_map_columns_names_the_missing_source_column_and_file():
    raw = pd.DataFrame({"source_row": [2], "Code": ["1"]})
    spec = TableSource(columns={"customer_id": "Customer Code"})
    with pytest.raises(IngestError, match=r"customers.csv.*customer_id = 'Customer Code'.*The file has: 'Code'"):
        map_columns(raw, spec, schema.CUSTOMERS, "customers.csv")


def test_map_columns_requires_required_columns_unless_derivable():
    raw = pd.DataFrame({"source_row": [2], "a": ["x"]})
    with pytest.raises(IngestError, match="order_date"):
        map_columns(raw, TableSource(columns={"order_id": "a"}), schema.ORDER_LINES)
    cols = {c: "a" for c in ["order_id", "line_no", "order_date", "customer_id", "product_id", "quantity", "status"]}
    # amount is required but can be derived from quantity x unit_price
    map_columns(raw, TableSource(columns={**cols, "unit_price": "a"}), schema.ORDER_LINES)
    with pytest.raises(IngestError, match="amount"):
        map_columns(raw, TableSource(columns=cols), schema.ORDER_LINES)


def test_value_maps_and_aliases():
    df = pd.DataFrame({"status": ["Completed", "odd", None], "region": ["华东", "East China", "east"]})
    out = apply_value_maps(
        df,
        {"status": {"Completed": "completed"}},
        {"region": {"华东": "East China", "east": "East China"}},
    )
    assert out["status"].tolist()[:2] == ["completed", "odd"]
    assert out["region"].tolist() == ["East China"] * 3
    assert df["status"].iloc[0] == "Completed"


def test_coerce_types_reports_what_does_not_parse():
    df = pd.DataFrame(
        {
            "order_id": ["A", "B", "C"],
            "line_no": ["1", "1.5", "x"],
            "order_date": ["2024-01-31", "2024-02-30", None],
            "quantity": ["2", "two", "3"],
        }
    )
    typed, problems = coerce_types(df, schema.ORDER_LINES)
    assert typed["line_no"].tolist()[0] == 1
    assert typed["order_date"].iloc[0] == pd.Timestamp("2024-01-31")
    got = {(int(r.idx), r.column) for r in problems.itertuples()}
    assert got == {(1, "line_no"), (2, "line_no"), (1, "order_date"), (1, "quantity")}
    assert set(problems["reason"]) == {"not a whole number", "not a date (YYYY-MM-DD)", "not a number"}


def test_coerce_types_with_explicit_date_format():
    df = pd.DataFrame({"order_date": ["31/01/2024", "2024-01-31"]})
    typed, problems = coerce_types(df, schema.ORDER_LINES, "%d/%m/%Y")
    assert typed["order_date"].iloc[0] == pd.Timestamp("2024-01-31")
    assert problems["idx"].tolist() == [1]


def test_derive_amounts_and_rounding():
    df = pd.DataFrame({"quantity": [3.0, 2.0], "unit_price": [3.335, 10.0], "unit_cost": [1.0, 2.5]})
    out = derive_amounts(df, schema.ORDER_LINES)
    assert out["amount"].tolist() == [10.01, 20.0]  # 10.005 rounds half away from zero
    assert out["cost"].tolist() == [3.0, 5.0]
    assert "amount" not in df.columns
    assert round_money(pd.Series([-2.675, 0.125]), 2).tolist() == [-2.68, 0.13]


def test_check_stints_finds_overlaps():
    df = pd.DataFrame(
        {
            "rep_id": ["R1", "R1", "R2", "R2"],
            "valid_from": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-01-01", "2024-02-01"]),
            "valid_to": pd.to_datetime(["2024-02-29", None, None, None]),
        }
    )
    p = check_stints(df, schema.REPS)
    assert p["idx"].tolist() == [3]  # R2's second stint starts while the first is open


# ----------------------------------------------------------------------------- loading


def test_toy_loads_completely(toy):
    assert counts(toy, "SELECT table_name, rows_read, rows_loaded, rows_quarantined FROM load_batches ORDER BY batch_id") == [
        ("reps", 6, 6, 0),
        ("products", 2, 2, 0),
        ("customers", 3, 3, 0),
        ("order_lines", 12, 12, 0),
        ("targets", 6, 6, 0),
    ]
    rev = counts(toy, "SELECT revenue_read, revenue_loaded, revenue_quarantined FROM load_batches WHERE table_name = 'order_lines'")
    assert [float(x) for x in rev[0]] == [860.0, 860.0, 0.0]


def test_reloading_the_same_file_changes_nothing(toy):
    before = snapshot(toy)
    results = load_toy(toy)
    assert all(r.skipped for r in results)
    assert all(r.rows_loaded == 0 for r in results)
    assert snapshot(toy) == before


def test_same_content_under_another_path_is_skipped(toy, tmp_path):
    copy = tmp_path / "copy_of_orders.csv"
    copy.write_bytes((TOY / "order_lines.csv").read_bytes())
    before = snapshot(toy)
    r = load_file(toy, "toy", "order_lines", copy, order_spec(copy))
    assert r.skipped
    assert snapshot(toy) == before


def test_new_version_of_a_file_replaces_the_old_rows(tmp_path):
    s = make_settings(tmp_path)
    f = write(tmp_path / "orders.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,10,10,R1,,,,completed,,,,\nB,1,2024-01-06,C1,P1,2,10,20,R1,,,,completed,,,,\n")
    first = load_file(s, "x", "order_lines", f, order_spec(f))
    write(f, HEADER + "\nA,1,2024-01-05,C1,P1,1,12,12,R1,,,,completed,,,,\n")
    second = load_file(s, "x", "order_lines", f, order_spec(f))
    assert second.replaced_batches == [first.batch_id]
    assert counts(s, "SELECT order_id, amount FROM order_lines") == [("A", 12)]
    assert counts(s, "SELECT batch_id, status, replaced_by FROM load_batches ORDER BY batch_id") == [
        (first.batch_id, "replaced", second.batch_id),
        (second.batch_id, "loaded", None),
    ]


BAD_ORDERS = HEADER + """
OK1,1,2024-01-05,C1,P1,2,10,20,R1,0.1,6,CNY,completed,,,Direct,East
OK1,1,2024-01-05,C1,P1,2,10,20,R1,0.1,6,CNY,completed,,,Direct,East
NODATE,1,,C1,P1,1,10,10,R1,,,,completed,,,,
BADDATE,1,2024-02-30,C1,P1,1,10,10,R1,,,,completed,,,,
BADQTY,1,2024-01-05,C1,P1,lots,10,10.50,R1,,,,completed,,,,
ZERO,1,2024-01-05,C1,P1,0,10,0,R1,,,,completed,,,,
STATUS,1,2024-01-05,C1,P1,1,10,10,R1,,,,shipped,,,,
SIGN,1,2024-01-05,C1,P1,-1,10,-10,R1,,,,completed,,,,
DISC,1,2024-01-05,C1,P1,1,10,10,R1,1.5,,,completed,,,,
007,1,2024-01-06,NA,P1,1,99.99,99.99,R1,,,,completed,,,,
"""


def test_bad_rows_are_quarantined_with_reasons_and_everything_reconciles(tmp_path):
    s = make_settings(tmp_path)
    f = write(tmp_path / "orders.csv", BAD_ORDERS)
    r = load_file(s, "x", "order_lines", f, order_spec(f))
    assert r.rows_read == 10
    assert r.rows_loaded == 2  # OK1 and 007
    assert r.rows_quarantined == 8
    assert r.rows_loaded + r.rows_quarantined == r.rows_read
    assert r.quarantine_reasons == {
        "order_id,line_no: duplicate key within the file": 1,
        "order_date: required value is missing": 1,
        "order_date: not a date (YYYY-MM-DD)": 1,
        "quantity: not a number": 1,
        "quantity: is 0": 1,
        "status: not one of completed, cancelled, returned": 1,
        "sign of quantity does not match status (returns are negative, sales positive)": 1,
        "discount: not between 0 and 1": 1,
    }
    # money: read = loaded + quarantined, to the cent (BADQTY's 10.50 is counted as read)
    assert r.revenue_loaded == pytest.approx(119.99)
    assert r.revenue_read == pytest.approx(r.revenue_loaded + r.revenue_quarantined)
    assert r.revenue_quarantined == pytest.approx(20 + 10 + 10 + 10.50 + 0 + 10 - 10 + 10)
    # leading zeros and "NA" survive as text
    assert counts(s, "SELECT order_id, customer_id FROM order_lines ORDER BY order_id") == [("007", "NA"), ("OK1", "C1")]
    q = counts(s, "SELECT source_row, reason, record FROM quarantine ORDER BY source_row")
    assert [row[0] for row in q] == [3, 4, 5, 6, 7, 8, 9, 10]  # spreadsheet row numbers (header = 1)
    assert json.loads(q[3][2])["quantity"] == "lots"  # the original record is kept as read


def test_key_already_loaded_from_another_file_is_quarantined(tmp_path):
    s = make_settings(tmp_path)
    a = write(tmp_path / "a.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,10,10,R1,,,,completed,,,,\n")
    b = write(tmp_path / "b.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,11,11,R1,,,,completed,,,,\nB,1,2024-01-05,C1,P1,1,10,10,R1,,,,completed,,,,\n")
    load_file(s, "x", "order_lines", a, order_spec(a))
    r = load_file(s, "x", "order_lines", b, order_spec(b))
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    assert r.quarantine_reasons == {"order_id,line_no: key already loaded from another file": 1}
    assert counts(s, "SELECT order_id, amount FROM order_lines ORDER BY 1") == [("A", 10), ("B", 10)]


def test_a_failure_part_way_leaves_the_warehouse_as_it_was(tmp_path, monkeypatch):
    s = make_settings(tmp_path)
    f = write(tmp_path / "orders.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,10,10,R1,,,,completed,,,,\n")
    load_file(s, "x", "order_lines", f, order_spec(f))
    before = snapshot(s)
    # a new version of the file; the database fails while inserting it, after the old
    # version's rows were already deleted inside the transaction
    write(f, HEADER + "\nA,1,2024-01-05,C1,P1,1,12,12,R1,,,,completed,,,,\n")
    original = warehouse._select_casts
    monkeypatch.setattr(
        warehouse,
        "_select_casts",
        lambda table: original(table).replace('CAST("order_id" AS VARCHAR)', "error('disk on fire')::VARCHAR", 1),
    )
    with pytest.raises(Exception, match="disk on fire"):
        load_file(s, "x", "order_lines", f, order_spec(f))
    assert snapshot(s) == before


def test_amounts_too_large_for_the_warehouse_are_quarantined(tmp_path):
    s = make_settings(tmp_path)
    f = write(tmp_path / "orders.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,1e17,1e17,R1,,,,completed,,,,\nB,1,2024-01-05,C1,P1,1,5,5,R1,,,,completed,,,,\n")
    r = load_file(s, "x", "order_lines", f, order_spec(f))
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    assert "too large" in next(iter(r.quarantine_reasons))


def test_missing_required_source_column_fails_before_anything_is_written(tmp_path):
    s = make_settings(tmp_path)
    f = write(tmp_path / "orders.csv", "order_id,line_no\nA,1\n")
    spec = TableSource(columns={"order_id": "order_id", "line_no": "line_no", "order_date": "Order Date"})
    with pytest.raises(IngestError, match=r"orders.csv.*order_date = 'Order Date'"):
        load_file(s, "x", "order_lines", f, spec)
    assert not s.warehouse_path.exists() or counts(s, "SELECT count(*) FROM load_batches") == [(0,)]


def test_ingest_source_loads_dimensions_first_and_needs_files(tmp_path):
    s = make_settings(tmp_path)
    src = canonical_source({t: TOY / f"{t}.csv" for t in ["order_lines", "targets", "reps"]})
    results = ingest_source(s, "toy", src)
    assert [r.table for r in results] == ["reps", "order_lines", "targets"]
    empty = canonical_source({"reps": TOY / "reps.csv"})
    with pytest.raises(IngestError, match="no files"):
        ingest_source(s, "toy", empty, tables=["order_lines"])


def test_overlapping_stints_are_quarantined(tmp_path):
    s = make_settings(tmp_path)
    f = write(
        tmp_path / "reps.csv",
        "rep_id,team,region,valid_from,valid_to\nR1,T1,East,2024-01-01,\nR1,T2,East,2024-06-01,\nR2,T1,East,2024-01-01,2024-03-31\nR2,T2,East,2024-04-01,\n",
    )
    r = load_file(s, "x", "reps", f, canonical_source({"reps": f}).tables["reps"])
    assert (r.rows_loaded, r.rows_quarantined) == (3, 1)
    assert r.quarantine_reasons == {"valid_from: overlaps an earlier stint of the same rep": 1}
