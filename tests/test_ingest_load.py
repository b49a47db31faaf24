"""The import's order of steps on what real exports contain: unlinked returns, guest lines,
user rules that stay, exact repeats, several files with returns, a corrected mapping, a
source loaded as one unit. Expected figures are computed here by hand or with Decimal."""

from __future__ import annotations

import csv
import gzip
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pytest

from salesml import warehouse
from salesml.accounting import ledger
from salesml.config import Rule, SourceSettings, TableSource
from salesml.ingest import IngestError, ingest_source
from salesml.ingest.load import cents, system_arrow_memory
from tests.conftest import make_settings

SHOP_COLUMNS = {
    "order_id": "Invoice",
    "line_no": "@seq(Invoice)",
    "order_date": "Date",
    "customer_id": "num(CustomerID)",
    "product_id": "Sku",
    "quantity": "Qty",
    "unit_price": "Price",
    "status": "'completed'",
    "rep_id": "Rep",
}


def rows_of(settings, sql, params=None):
    with warehouse.connect(settings.warehouse_path, read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def write_csv(path, header, rows, opener=open):
    with opener(path, "wt", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def money(rows, qty=4, price=5) -> Decimal:
    return sum((Decimal(r[qty]) * Decimal(r[price])).quantize(Decimal("0.01")) for r in rows)


def shop_source(path, **kw) -> SourceSettings:
    spec = {"columns": dict(SHOP_COLUMNS), **kw.pop("spec", {})}
    return SourceSettings(tables={"order_lines": TableSource(files=(str(path),), **spec)}, **kw)


HEADER = ["Invoice", "Date", "CustomerID", "Sku", "Qty", "Price", "Rep"]


def test_unlinked_returns_count_in_their_month_charged_to_their_rep(tmp_path):
    s = make_settings(tmp_path)
    rows = [
        ["1001", "2024-01-10", "17850.0", "A", "2", "10.00", "R1"],
        ["1002", "2024-01-20", "", "B", "1", "5.50", "R2"],           # a guest sale
        ["1003", "2024-02-03", "17850.0", "Z", "-1", "7.25", "R2"],   # a return of a product never sold to him
        ["1004", "2024-02-05", "17850.0", "A", "-1", "10.00", "R1"],  # reverses 1001 (same customer, product)
        ["1005", "2024-02-07", "", "B", "-1", "5.50", "R3"],          # a guest return: no customer to match
    ]
    f = write_csv(tmp_path / "shop.csv", HEADER, rows)
    [r] = ingest_source(s, "shop", shop_source(f))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (5, 5, 0)
    assert (r.rows_unlinked, r.revenue_unlinked) == (2, -12.75)
    assert (r.rows_anonymous, r.revenue_anonymous) == (2, 0.0)
    assert r.revenue_loaded == float(money(rows)) == 20.0 + 5.5 - 7.25 - 10 - 5.5
    with warehouse.connect(s.warehouse_path) as con:
        ledger.post(con)
    by_month = dict(rows_of(s, "SELECT period, sum(amount) FROM ledger GROUP BY 1"))
    # 1004 counts against January (its sale's month); the unlinked returns in February
    assert {k: float(v) for k, v in by_month.items()} == {"2024-01": 20.0 + 5.5 - 10, "2024-02": -7.25 - 5.5}
    unlinked = rows_of(s, "SELECT order_id, rep_id, customer_id FROM ledger WHERE unlinked ORDER BY 1")
    assert unlinked == [("1003", "R2", "17850"), ("1005", "R3", None)]
    assert rows_of(s, "SELECT rows_unlinked, revenue_unlinked FROM load_batches")[0] == (2, Decimal("-12.75"))


def test_unlinked_returns_can_be_quarantined_by_policy(tmp_path):
    s = make_settings(tmp_path)
    f = write_csv(tmp_path / "shop.csv", HEADER, [["1", "2024-01-10", "7.0", "A", "2", "10", "R1"], ["2", "2024-01-11", "7.0", "Z", "-1", "3", "R1"]])
    [r] = ingest_source(s, "shop", shop_source(f, unlinked_returns="quarantine"))
    assert (r.rows_loaded, r.rows_quarantined, r.revenue_quarantined) == (1, 1, -3.0)
    assert r.quarantine_reasons == {"quantity: a return with no sale to reverse": 1}


def test_guest_lines_take_the_configured_anonymous_id(tmp_path):
    s = make_settings(tmp_path)
    f = write_csv(tmp_path / "shop.csv", HEADER, [["1", "2024-01-10", "", "A", "2", "10", "R1"], ["2", "2024-01-11", "12.0", "A", "1", "3", "R1"]])
    [r] = ingest_source(s, "shop", shop_source(f, anonymous_customer="GUEST"))
    assert (r.rows_loaded, r.rows_anonymous, r.revenue_anonymous) == (2, 1, 20.0)
    assert rows_of(s, "SELECT customer_id FROM order_lines ORDER BY order_id") == [("GUEST",), ("12",)]
    assert s.with_overrides().anonymous_customer_ids == ()  # configured per source in salesml.toml


def test_a_user_rule_is_never_undone_by_return_marking(tmp_path):
    s = make_settings(tmp_path)
    rows = [["536365", "2024-01-10", "1.0", "A", "6", "2.55", "R1"], ["C536379", "2024-01-12", "1.0", "A", "-1", "2.55", "R1"],
            ["C536380", "2024-01-12", "2.0", "B", "-2", "1.00", "R1"], ["536381", "2024-01-13", "2.0", "B", "-1", "1.00", "R1"]]
    f = write_csv(tmp_path / "shop.csv", HEADER, rows)
    rule = Rule(name="C invoices are cancellations", column="order_id", matches="^C", set={"status": "cancelled"})
    [r] = ingest_source(s, "shop", shop_source(f, spec={"rules": (rule,)}))
    assert r.rows_loaded == 4
    got = rows_of(s, "SELECT order_id, status, quantity::DOUBLE, amount::DOUBLE FROM order_lines ORDER BY 1")
    assert got == [("536365", "completed", 6.0, 15.3), ("536381", "returned", -1.0, -1.0),
                   ("C536379", "cancelled", -1.0, -2.55), ("C536380", "cancelled", -2.0, -2.0)]
    with warehouse.connect(s.warehouse_path) as con:
        ledger.post(con)
    assert float(rows_of(s, "SELECT sum(amount) FROM ledger")[0][0]) == 15.3 - 1.0  # cancellations count nothing


def test_exact_repeats_are_found_before_generated_line_numbers(tmp_path):
    s = make_settings(tmp_path)
    row = ["536365", "2024-01-10", "1.0", "A", "6", "2.55", "R1"]
    rows = [row, ["536365", "2024-01-10", "1.0", "B", "1", "4.00", "R1"], list(row), list(row)]
    f = write_csv(tmp_path / "shop.csv", HEADER, rows)
    [r] = ingest_source(s, "shop", shop_source(f))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.revenue_quarantined) == (4, 2, 2, 30.6)
    assert rows_of(s, "SELECT source_row, reason, details FROM quarantine ORDER BY 1") == [
        (4, "exact duplicate of an earlier row", "exact duplicate of an earlier row (repeats row 2)"),
        (5, "exact duplicate of an earlier row", "exact duplicate of an earlier row (repeats row 2)"),
    ]
    kept = write_csv(tmp_path / "kept.csv", HEADER, rows)
    s2 = make_settings(tmp_path / "k")
    [r] = ingest_source(s2, "shop", shop_source(kept, duplicates="keep"))
    assert (r.rows_loaded, r.rows_quarantined) == (4, 0)


def test_exact_repeats_are_the_same_whichever_reader_reads_the_file(tmp_path):
    """The fast reader hashes rows as it reads; a file it cannot read (a blank line) is read
    record by record. An empty cell and a quoted empty one are the same value either way."""
    lines = ["536365,2024-01-10,,A,6,2.55,R1", '536365,2024-01-10,"",A,6,2.55,R1', "536365,2024-01-10,,B,1,4.00,R1",
             "536365,2024-01-10,,A,6,2.55,R1"]
    found = {}
    for name, text in (("fast", lines), ("records", [lines[0], "", *lines[1:]])):
        s = make_settings(tmp_path / name)
        f = tmp_path / f"{name}.csv"
        f.write_text("\n".join([",".join(HEADER), *text]) + "\n", encoding="utf-8")
        [r] = ingest_source(s, "shop", shop_source(f))
        found[name] = (r.rows_loaded, r.rows_quarantined, r.revenue_quarantined,
                       [d for (d,) in rows_of(s, "SELECT details FROM quarantine ORDER BY source_row")])
    assert found["fast"] == (2, 2, 30.6, ["exact duplicate of an earlier row (repeats row 2)"] * 2)
    assert found["records"] == found["fast"]


@pytest.mark.parametrize("named", [False, True])
def test_a_return_file_after_a_sale_file(tmp_path, named):
    """Sales in one file, their returns in a later one: with and without return_of_* mapped."""
    s = make_settings(tmp_path)
    header = ["Order", "Line", "Date", "Customer", "Sku", "Qty", "Price", "RetOrder", "RetLine"]
    cols = {"order_id": "Order", "line_no": "Line", "order_date": "Date", "customer_id": "Customer", "product_id": "Sku",
            "quantity": "Qty", "unit_price": "Price", "status": "'completed'"}
    if named:
        cols |= {"return_of_order_id": "RetOrder", "return_of_line_no": "RetLine"}
    write_csv(tmp_path / "d1.csv", header, [["S1", "1", "2024-03-01", "C1", "A", "3", "9.99", "", ""], ["S1", "2", "2024-03-01", "C1", "B", "1", "5", "", ""]])
    write_csv(tmp_path / "d2.csv", header, [["R1", "1", "2024-03-09", "C1", "A", "-1", "9.99", "S1" if named else "", "1" if named else ""]])
    src = SourceSettings(tables={"order_lines": TableSource(files=(str(tmp_path / "d*.csv"),), columns=cols)})
    ingest_source(s, "daily", src, files=[tmp_path / "d1.csv"])
    [r] = ingest_source(s, "daily", src, files=[tmp_path / "d2.csv"])
    assert (r.rows_loaded, r.rows_quarantined, r.rows_unlinked) == (1, 0, 0)
    assert rows_of(s, "SELECT return_of_order_id, return_of_line_no FROM order_lines WHERE order_id = 'R1'") == [("S1", 1)]


def test_a_glob_of_daily_gzipped_files_with_returns_in_later_files(tmp_path):
    s = make_settings(tmp_path)
    header = ["Order", "Line", "Date", "Customer", "Sku", "Qty", "Price", "RetOrder", "RetLine"]
    day0, expected, n_lines = date(2024, 5, 1), Decimal(0), 0
    for d in range(12):
        day = day0 + timedelta(days=d)
        rows = [[f"S{d}", "1", day.isoformat(), f"C{d % 3}", "A", "2", "3.10", "", ""]]
        if d >= 2:  # a return of the sale two days earlier
            rows.append([f"R{d}", "1", day.isoformat(), f"C{(d - 2) % 3}", "A", "-1", "3.10", f"S{d - 2}", "1"])
        write_csv(tmp_path / f"sales_{day}.csv.gz", header, rows, opener=gzip.open)
        expected += money(rows, 5, 6)
        n_lines += len(rows)
    cols = {"order_id": "Order", "line_no": "Line", "order_date": "Date", "customer_id": "Customer", "product_id": "Sku",
            "quantity": "Qty", "unit_price": "Price", "status": "'completed'", "return_of_order_id": "RetOrder", "return_of_line_no": "RetLine"}
    src = SourceSettings(tables={"order_lines": TableSource(files=("sales_*.csv.gz",), columns=cols)})
    s = s.with_overrides()
    s = type(s)(**{**s.__dict__, "root": tmp_path})
    results = ingest_source(s, "daily", src)
    assert len(results) == 12 and sum(r.rows_loaded for r in results) == n_lines
    assert sum(r.rows_quarantined + r.rows_unlinked for r in results) == 0
    assert Decimal(str(rows_of(s, "SELECT sum(amount) FROM order_lines")[0][0])) == expected
    assert ingest_source(s, "daily", src)[0].skipped  # loading the folder again changes nothing


@pytest.mark.parametrize("same_run", [False, True])
def test_a_later_return_finds_its_sale_through_a_computed_customer_id(tmp_path, same_run):
    """A return naming no sale is matched to the same customer's earlier sale of the product
    in an earlier file (loaded before, or earlier in the same run) when the customer id is
    computed by the mapping ("17850.0" -> num() -> "17850"): the sale is looked up by the
    canonical id, not by the file's text."""
    s = make_settings(tmp_path)
    write_csv(tmp_path / "d1.csv", HEADER, [["1001", "2024-01-10", "17850.0", "A", "2", "10.00", "R1"]])
    write_csv(tmp_path / "d2.csv", HEADER, [["1002", "2024-01-12", "17850.0", "A", "-1", "10.00", "R1"]])
    src = shop_source(tmp_path / "d*.csv")
    if same_run:
        results = ingest_source(s, "shop", src, files=[tmp_path / "d1.csv", tmp_path / "d2.csv"])
    else:
        results = [ingest_source(s, "shop", src, files=[f])[0] for f in (tmp_path / "d1.csv", tmp_path / "d2.csv")]
    assert [(r.rows_loaded, r.rows_unlinked) for r in results] == [(1, 0), (1, 0)]
    assert rows_of(s, "SELECT return_of_order_id, return_of_line_no FROM order_lines WHERE order_id = '1002'") == [("1001", 1)]


def test_returns_across_the_files_of_a_run_never_reverse_more_than_was_sold(tmp_path):
    """Two units sold in the first file, one returned in the second and two in the third: the
    third file's return finds only one unit left to reverse, so it is accepted as unlinked
    (counted in its own month) instead of taking the sale below zero."""
    s = make_settings(tmp_path)
    for day, row in enumerate([["1001", "2024-01-10", "7.0", "A", "2", "4.00", "R1"],
                               ["1002", "2024-01-12", "7.0", "A", "-1", "4.00", "R1"],
                               ["1003", "2024-02-14", "7.0", "A", "-2", "4.00", "R1"]]):
        write_csv(tmp_path / f"d{day}.csv", HEADER, [row])
    results = ingest_source(s, "shop", shop_source(tmp_path / "d*.csv"), files=[tmp_path / f"d{d}.csv" for d in range(3)])
    assert [(r.rows_loaded, r.rows_unlinked) for r in results] == [(1, 0), (1, 0), (1, 1)]
    assert rows_of(s, "SELECT order_id, return_of_order_id FROM order_lines ORDER BY 1") == [
        ("1001", None), ("1002", "1001"), ("1003", None)]


def test_a_key_is_taken_by_an_earlier_run_or_an_earlier_file_of_the_run_but_not_by_its_own_replaced_version(tmp_path):
    """Invoice B was loaded in an earlier run; in the next run B comes again (taken by the
    warehouse), C's first line comes in two files (taken by the first of them), and a new
    version of day 1 replaces its own rows (not taken by them). Rows and money reconcile."""
    s = make_settings(tmp_path)
    day1 = [["A", "2024-03-01", "1.0", "P1", "1", "2.50", "R1"], ["A", "2024-03-01", "1.0", "P2", "2", "1.25", "R1"],
            ["B", "2024-03-01", "2.0", "P1", "1", "2.50", "R1"]]
    write_csv(tmp_path / "day1.csv", HEADER, day1)
    assert ingest_source(s, "shop", shop_source(tmp_path / "day*.csv"))[0].rows_loaded == 3
    day1[2][4] = "3"  # day 1 exported again with B's quantity corrected: replaces its earlier rows
    day2 = [["B", "2024-03-02", "2.0", "P1", "1", "2.50", "R1"], ["C", "2024-03-02", "3.0", "P3", "4", "0.99", "R1"],
            ["C", "2024-03-02", "3.0", "P1", "1", "2.50", "R1"]]
    day3 = [["C", "2024-03-03", "3.0", "P3", "1", "0.99", "R1"], ["D", "2024-03-03", "4.0", "P2", "1", "1.25", "R1"]]
    for name, rows in (("day1", day1), ("day2", day2), ("day3", day3)):
        write_csv(tmp_path / f"{name}.csv", HEADER, rows)
    results = ingest_source(s, "shop", shop_source(tmp_path / "day*.csv"))
    assert [(r.rows_loaded, r.rows_quarantined, r.replaced_batches) for r in results] == [(3, 0, [1]), (2, 1, []), (1, 1, [])]
    taken = "order_id,line_no: key already loaded from another file"
    assert [r.quarantine_reasons for r in results] == [{}, {taken: 1}, {taken: 1}]
    kept = day1 + day2[1:] + day3[1:]  # B of day 2 and C/1 of day 3 are out
    assert rows_of(s, "SELECT order_id, line_no FROM order_lines ORDER BY 1, 2") == [
        ("A", 1), ("A", 2), ("B", 1), ("C", 1), ("C", 2), ("D", 1)]
    assert Decimal(str(rows_of(s, "SELECT sum(amount) FROM order_lines")[0][0])) == money(kept)
    for r, rows in zip(results, (day1, day2, day3), strict=True):
        assert Decimal(str(r.revenue_read)) == money(rows) == Decimal(str(r.revenue_loaded)) + Decimal(str(r.revenue_quarantined))


def test_a_corrected_mapping_reloads_an_unchanged_file_and_says_so(tmp_path):
    s = make_settings(tmp_path)
    f = write_csv(tmp_path / "shop.csv", HEADER, [["1", "2024-01-10", "7.0", "A", "2", "10", "R1"]])
    [first] = ingest_source(s, "shop", shop_source(f, spec={"columns": {**SHOP_COLUMNS, "customer_id": "CustomerID"}}))
    assert rows_of(s, "SELECT customer_id FROM order_lines") == [("7.0",)]
    assert ingest_source(s, "shop", shop_source(f, spec={"columns": {**SHOP_COLUMNS, "customer_id": "CustomerID"}}))[0].skipped
    [again] = ingest_source(s, "shop", shop_source(f))
    assert not again.skipped and again.replaced_batches == [first.batch_id]
    assert "mapping changed" in again.notes[0]
    assert rows_of(s, "SELECT customer_id FROM order_lines") == [("7",)]
    assert rows_of(s, "SELECT status FROM load_batches ORDER BY batch_id") == [("replaced",), ("loaded",)]


def test_a_source_loads_as_one_unit(tmp_path):
    s = make_settings(tmp_path)
    products = write_csv(tmp_path / "products.csv", ["Sku", "Name"], [["A", "Anchor"]])
    lines = write_csv(tmp_path / "shop.csv", HEADER, [["1", "2024-01-10", "7.0", "A", "2", "10", "R1"]])
    bad = SourceSettings(tables={
        "products": TableSource(files=(str(products),), columns={"product_id": "Sku", "name": "Name"}),
        "order_lines": TableSource(files=(str(lines),), columns={**SHOP_COLUMNS, "customer_id": "Customer"}),
    })
    with pytest.raises(IngestError, match=r"nothing was loaded.*shop.csv.*customer_id = 'Customer'.*The file has"):
        ingest_source(s, "shop", bad)
    assert not s.warehouse_path.exists() or rows_of(s, "SELECT count(*) FROM load_batches") == [(0,)]


def test_reps_described_on_every_line_load_once_each(tmp_path):
    s = make_settings(tmp_path)
    rows = [["1", "2024-01-10", "7.0", "A", "2", "10", "R1"], ["2", "2024-01-11", "8.0", "A", "1", "10", "R2"],
            ["3", "2024-01-12", "7.0", "A", "1", "10", "R1"], ["4", "2024-01-13", "9.0", "A", "1", "10", "R1"]]
    f = write_csv(tmp_path / "flat.csv", HEADER, rows)
    reps = TableSource(files=(str(f),), distinct=True,
                       columns={"rep_id": "Rep", "team": "'Shop'", "region": "'UK'", "valid_from": "'2020-01-01'"})
    src = SourceSettings(tables={"reps": reps, "order_lines": TableSource(files=(str(f),), columns=dict(SHOP_COLUMNS))})
    by_table = {r.table: r for r in ingest_source(s, "flat", src)}
    r = by_table["reps"]
    assert (r.rows_read, r.rows_loaded, r.rows_merged, r.rows_quarantined) == (4, 2, 2, 0)
    assert rows_of(s, "SELECT rep_id FROM reps ORDER BY 1") == [("R1",), ("R2",)]
    assert by_table["order_lines"].rows_loaded == 4


def test_a_european_file_read_with_the_default_style_stops_naming_the_source_and_setting(tmp_path):
    s = make_settings(tmp_path)
    rows = [[str(i), "2024-01-10", "7.0", "A", "1", f"{i},50", "R1"] for i in range(1, 30)]
    f = write_csv(tmp_path / "eu.csv", HEADER, rows)
    with pytest.raises(Exception, match=r'decimal = ","\s+under \[sources\.eu\]'):
        ingest_source(s, "eu", shop_source(f))
    assert not s.warehouse_path.exists() or rows_of(s, "SELECT count(*) FROM load_batches") == [(0,)]


def test_a_malformed_line_is_quarantined_with_its_line_and_text_and_the_rest_loads(tmp_path):
    s = make_settings(tmp_path, cleaning={"max_bad_line_share": 0.2})  # 1 line in 10: above the default
    lines = ["Invoice,Date,CustomerID,Sku,Qty,Price,Rep"] + [f"{i},2024-01-{i:02d},7.0,A,1,10.00,R1" for i in range(1, 11)]
    lines[4] = "4,2024-01-04,7.0,A,1,10.00,R1,surplus"  # one field too many, on line 5
    f = tmp_path / "shop.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [r] = ingest_source(s, "shop", shop_source(f))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.lines_read) == (10, 9, 1, 11)
    assert r.revenue_loaded == 90.0 and r.revenue_read == 90.0  # a malformed line's money cannot be read
    [(row, reason, record)] = rows_of(s, "SELECT source_row, reason, record FROM quarantine")
    assert row == 5 and reason.startswith("malformed line: 8 fields where the header has 7")
    assert record == "4,2024-01-04,7.0,A,1,10.00,R1,surplus"
    assert rows_of(s, "SELECT min(source_row), max(source_row) FROM order_lines") == [(2, 11)]
    # above the share the load stops, naming the file, the line and the setting; nothing is written
    s2 = make_settings(tmp_path / "strict")
    with pytest.raises(Exception, match=r"shop.csv: 1 malformed record.*line 5.*max_bad_line_share"):
        ingest_source(s2, "shop", shop_source(f))
    assert not s2.warehouse_path.exists()


def test_a_quote_left_open_that_swallows_lines_is_quarantined_not_loaded_into_a_customer_id(tmp_path):
    """20 lines read as 17 records: the record that swallowed lines 6 to 8 holds line breaks in
    its customer id; it is quarantined with what it swallowed, and the load says the file's lines."""
    s = make_settings(tmp_path)
    lines = ["Invoice,Date,CustomerID,Sku,Qty,Price,Rep"] + [f"{i},2024-01-{i:02d},{i}.0,A,1,10.00,R1" for i in range(1, 21)]
    lines[5] = '5,2024-01-05,"5.0,A,1,10.00,R1'  # the quote opened on line 6 ...
    lines[8] = '8,2024-01-08,8.0",A,1,10.00,R1'  # ... closes on line 9
    f = tmp_path / "shop.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [r] = ingest_source(s, "shop", shop_source(f, spec={"columns": {**SHOP_COLUMNS, "customer_id": "CustomerID"}}))
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.lines_read) == (17, 16, 1, 21)
    [(row, reason, record)] = rows_of(s, "SELECT source_row, reason, record FROM quarantine")
    assert row == 6 and "customer_id: holds a line break" in reason
    assert "7,2024-01-07,7.0,A,1,10.00,R1" in record  # the swallowed lines are in the record, not lost
    assert any("span 4 lines" in n for n in r.notes)


def test_cents_are_exact_for_small_and_huge_totals():
    small = pd.Series([0.1, 0.2, -0.3, None, 19.99] * 1000)
    assert cents(small) == int(sum(Decimal(str(v)) * 100 for v in [0.1, 0.2, -0.3, 19.99]) * 1000)
    huge = pd.Series([1e15] * 2000 + [1e16])  # the sum of cents passes 2**63; 1e16 is over the limit and left out
    assert cents(huge) == 2000 * 10**17


def test_an_import_takes_arrow_memory_from_the_system_allocator_and_gives_the_pool_back():
    """During an import Arrow allocates from the system allocator (faster and smaller than the
    default pool for its short-lived columns); afterwards, and after a failure, the default
    pool is the one it was, and buffers made meanwhile are still usable."""
    before = pa.default_memory_pool().backend_name
    with system_arrow_memory():
        assert pa.default_memory_pool().backend_name == "system"
        kept = pa.array(["a", "b", None] * 1000)
    assert pa.default_memory_pool().backend_name == before
    assert kept.null_count == 1000 and kept[0].as_py() == "a"
    with pytest.raises(ZeroDivisionError), system_arrow_memory():
        1 / 0  # noqa: B018
    assert pa.default_memory_pool().backend_name == before
