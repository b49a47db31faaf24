"""Ingest: every row loaded or quarantined with a reason, reloads change nothing, replacements are atomic."""

from __future__ import annotations

import json

import pytest

from salesml import schema, warehouse
from salesml.config import SourceSettings, TableSource
from salesml.ingest import IngestError, canonical_source, ingest_source, load_file
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
    assert [float(x) for x in rev[0]] == [910.0, 910.0, 0.0]


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
NOSALE,1,2024-01-05,C9,P1,-1,10,-10,R1,,,,completed,,,,
RETPOS,1,2024-01-05,C1,P1,1,10,10,R1,,,,returned,,,,
DISC,1,2024-01-05,C1,P1,1,10,10,R1,1.5,,,completed,,,,
007,1,2024-01-06,NA,P1,1,99.99,99.99,R1,,,,completed,,,,
"""


def test_bad_rows_are_quarantined_with_reasons_and_everything_reconciles(tmp_path):
    # one impossible date in ten rows: above the default max_bad_date_share, which would stop the load
    s = make_settings(tmp_path, cleaning={"max_bad_date_share": 0.2})
    f = write(tmp_path / "orders.csv", BAD_ORDERS)
    spec = order_spec(f)
    r = load_file(s, "x", "order_lines", f, spec, source=SourceSettings(unlinked_returns="quarantine"))
    assert r.rows_read == 11
    assert r.rows_loaded == 3  # OK1, RETPOS (a return written with a positive quantity) and 007
    assert r.rows_quarantined == 8
    assert r.rows_loaded + r.rows_quarantined == r.rows_read
    assert r.quarantine_reasons == {
        "exact duplicate of an earlier row": 1,
        "order_date: required value is missing": 1,
        "order_date: not a date (YYYY-MM-DD)": 1,
        "quantity: not a number (decimal '.', thousands ',')": 1,
        "quantity: is 0": 1,
        "status: not one of completed, cancelled, returned": 1,
        "quantity: a return with no sale to reverse": 1,
        "discount: not between 0 and 1": 1,
    }
    # money: read = loaded + quarantined, to the cent (BADQTY's 10.50 is counted as read)
    assert r.revenue_loaded == pytest.approx(20 - 10 + 99.99)
    assert r.revenue_quarantined == pytest.approx(20 + 10 + 10 + 10.50 + 0 + 10 - 10 + 10)
    assert r.revenue_read == pytest.approx(r.revenue_loaded + r.revenue_quarantined)
    # leading zeros and "NA" survive as text; RETPOS is turned negative and reverses OK1
    assert counts(s, "SELECT order_id, customer_id, source_row, quantity::DOUBLE, return_of_order_id FROM order_lines ORDER BY order_id") == [
        ("007", "NA", 12, 1.0, None), ("OK1", "C1", 2, 2.0, None), ("RETPOS", "C1", 10, -1.0, "OK1")]
    q = counts(s, "SELECT source_row, reason, details, record FROM quarantine ORDER BY source_row")
    assert [row[0] for row in q] == [3, 4, 5, 6, 7, 8, 9, 11]  # spreadsheet row numbers (header = 1)
    assert q[0][2] == "exact duplicate of an earlier row (repeats row 2)"
    assert json.loads(q[3][3])["quantity"] == "lots"  # the original record is kept as read
    assert "quantity: not a number (decimal '.', thousands ',') (lots)" in q[3][2] and "quantity: required value is missing" in q[3][2]
    assert counts(s, "SELECT rows_read, rows_loaded, rows_quarantined, rows_merged FROM load_batches") == [(11, 3, 8, 0)]
    # by default a return with no sale is loaded, flagged unlinked
    s2 = make_settings(tmp_path / "accept", cleaning={"max_bad_date_share": 0.2})
    r = load_file(s2, "x", "order_lines", f, spec)
    assert (r.rows_loaded, r.rows_unlinked, r.revenue_unlinked) == (4, 1, -10.0)


def test_key_already_loaded_from_another_file_is_quarantined(tmp_path):
    s = make_settings(tmp_path)
    a = write(tmp_path / "a.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,10,10,R1,,,,completed,,,,\n")
    b = write(tmp_path / "b.csv", HEADER + "\nA,1,2024-01-05,C1,P1,1,11,11,R1,,,,completed,,,,\nB,1,2024-01-05,C1,P1,1,10,10,R1,,,,completed,,,,\n")
    load_file(s, "x", "order_lines", a, order_spec(a))
    r = load_file(s, "x", "order_lines", b, order_spec(b))
    assert (r.rows_loaded, r.rows_quarantined) == (1, 1)
    assert r.quarantine_reasons == {"order_id,line_no: key already loaded from another file": 1}
    assert r.rows_read == r.rows_loaded + r.rows_quarantined
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
        lambda table, present=None: original(table, present).replace('CAST("order_id" AS VARCHAR)', "error('disk on fire')::VARCHAR", 1),
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
    only_reps = canonical_source({"reps": TOY / "reps.csv"})
    with pytest.raises(IngestError, match="has no table order_lines"):
        ingest_source(s, "toy", only_reps, tables=["order_lines"])
    nothing = SourceSettings(tables={"reps": TableSource(files=(str(tmp_path / "none_*.csv"),), columns={"rep_id": "id"})})
    with pytest.raises(IngestError, match="no files"):
        ingest_source(s, "toy", nothing)


def test_overlapping_stints_are_quarantined(tmp_path):
    s = make_settings(tmp_path)
    f = write(
        tmp_path / "reps.csv",
        "rep_id,team,region,valid_from,valid_to\nR1,T1,East,2024-01-01,\nR1,T2,East,2024-06-01,\nR2,T1,East,2024-01-01,2024-03-31\nR2,T2,East,2024-04-01,\n",
    )
    r = load_file(s, "x", "reps", f, canonical_source({"reps": f}).tables["reps"])
    assert (r.rows_loaded, r.rows_quarantined) == (3, 1)
    assert r.quarantine_reasons == {"valid_from: overlaps an earlier stint of the same rep": 1}


def test_a_new_version_of_a_file_does_not_link_returns_to_its_own_old_rows(tmp_path):
    s = make_settings(tmp_path)
    f = write(tmp_path / "orders.csv", HEADER + "\nA,1,2024-01-05,C1,P1,2,10,20,R1,,,,completed,,,,\nB,1,2024-02-05,C1,P1,1,10,10,R1,,,,completed,,,,\n")
    load_file(s, "x", "order_lines", f, order_spec(f))
    # the new version turns B into a return: it must reverse A, not the old version of B
    write(f, HEADER + "\nA,1,2024-01-05,C1,P1,2,10,20,R1,,,,completed,,,,\nB,1,2024-02-05,C1,P1,-1,10,-10,R1,,,,completed,,,,\n")
    r = load_file(s, "x", "order_lines", f, order_spec(f))
    assert (r.rows_loaded, r.rows_quarantined) == (2, 0)
    assert counts(s, "SELECT order_id, status, return_of_order_id, return_of_line_no FROM order_lines ORDER BY 1") == [
        ("A", "completed", None, None),
        ("B", "returned", "A", 1),
    ]
