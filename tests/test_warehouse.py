"""The warehouse: read-only SQL really is read-only; info; clear errors."""

from __future__ import annotations

import pytest

from salesml import warehouse
from salesml.warehouse import ReadOnlyError, WarehouseError


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO order_lines (order_id) VALUES ('x')",
        "DELETE FROM order_lines",
        "UPDATE reps SET name = 'x'",
        "DROP TABLE reps",
        "CREATE TABLE t AS SELECT 1",
        "COPY order_lines TO 'out.csv'",
        "ATTACH 'other.duckdb'",
        "SELECT 1; DELETE FROM order_lines",
    ],
)
def test_writing_statements_are_refused_and_change_nothing(toy, sql):
    before = warehouse.query(toy.warehouse_path, "SELECT count(*) AS n FROM order_lines")["n"].iloc[0]
    with pytest.raises(ReadOnlyError, match="refused: .* statement; the warehouse is read-only"):
        warehouse.query(toy.warehouse_path, sql)
    after = warehouse.query(toy.warehouse_path, "SELECT count(*) AS n FROM order_lines")["n"].iloc[0]
    assert before == after == 12


def test_reading_files_outside_the_warehouse_is_refused(toy, tmp_path):
    (tmp_path / "secret.csv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(WarehouseError):
        warehouse.query(toy.warehouse_path, f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')")


def test_select_works_and_sql_errors_are_clear(toy):
    df = warehouse.query(toy.warehouse_path, "SELECT status, count(*) AS n FROM order_lines GROUP BY 1 ORDER BY 1")
    assert df.to_dict("records") == [
        {"status": "cancelled", "n": 1},
        {"status": "completed", "n": 9},
        {"status": "returned", "n": 2},
    ]
    with pytest.raises(WarehouseError, match="SQL error.*no_such_table"):
        warehouse.query(toy.warehouse_path, "SELECT * FROM no_such_table")
    with pytest.raises(WarehouseError, match="cannot parse"):
        warehouse.query(toy.warehouse_path, "SELEC 1")


def test_missing_warehouse_says_how_to_build_one(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at .*salesml demo"):
        warehouse.query(tmp_path / "nope.duckdb", "SELECT 1")


def test_info_lists_every_canonical_table(toy):
    with warehouse.connect(toy.warehouse_path, read_only=True) as con:
        info = warehouse.info(con).set_index("table")
    assert info.loc["order_lines", "rows"] == 12
    assert info.loc["order_lines", "first"] == "2024-01-10"
    assert info.loc["order_lines", "last"] == "2024-02-25"
    assert info.loc["tickets", "rows"] == 0
    assert info.loc["reps", "batches"] == 1


def test_audit_log_records_loads(toy):
    df = warehouse.query(toy.warehouse_path, "SELECT command, params FROM audit_log")
    assert (df["command"] == "ingest").sum() == 5
