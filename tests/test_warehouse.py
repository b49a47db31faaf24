"""The warehouse: read-only SQL really is read-only; info; clear errors."""

from __future__ import annotations

import pytest

from salesml import warehouse
from salesml.warehouse import ReadOnlyError, WarehouseError
from tests.conftest import make_settings


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
    before = warehouse.query(toy, "SELECT count(*) AS n FROM order_lines")["n"].iloc[0]
    with pytest.raises(ReadOnlyError, match="refused: .* statement; the warehouse is read-only"):
        warehouse.query(toy, sql)
    after = warehouse.query(toy, "SELECT count(*) AS n FROM order_lines")["n"].iloc[0]
    assert before == after == 12


def test_reading_files_outside_the_warehouse_is_refused(toy, tmp_path):
    (tmp_path / "secret.csv").write_text("a\n1\n", encoding="utf-8")
    with pytest.raises(WarehouseError):
        warehouse.query(toy, f"SELECT * FROM read_csv('{tmp_path / 'secret.csv'}')")


def test_select_works_and_sql_errors_are_clear(toy):
    df = warehouse.query(toy, "SELECT status, count(*) AS n FROM order_lines GROUP BY 1 ORDER BY 1")
    assert df.to_dict("records") == [
        {"status": "cancelled", "n": 1},
        {"status": "completed", "n": 9},
        {"status": "returned", "n": 2},
    ]
    with pytest.raises(WarehouseError, match="SQL error.*no_such_table"):
        warehouse.query(toy, "SELECT * FROM no_such_table")
    with pytest.raises(WarehouseError, match="cannot parse"):
        warehouse.query(toy, "SELEC 1")


def test_missing_warehouse_says_how_to_build_one(tmp_path):
    with pytest.raises(WarehouseError, match="no warehouse at .*salesml demo"):
        warehouse.query(make_settings(tmp_path), "SELECT 1")


def test_info_lists_every_canonical_table(toy):
    with warehouse.open(toy, read_only=True) as con:
        info = warehouse.info(con).set_index("table")
    assert info.loc["order_lines", "rows"] == 12
    assert info.loc["order_lines", "first"] == "2024-01-10"
    assert info.loc["order_lines", "last"] == "2024-02-25"
    assert info.loc["tickets", "rows"] == 0
    assert info.loc["reps", "batches"] == 1


def test_audit_log_records_loads(toy):
    df = warehouse.query(toy, "SELECT command, params FROM audit_log")
    assert (df["command"] == "ingest").sum() == 5


def test_open_and_query_apply_the_memory_limit_and_threads(toy_wh, tmp_path):
    s = toy_wh.with_overrides(warehouse={"memory_limit": "256MiB", "threads": 2})
    with warehouse.open(s, read_only=True) as con:
        assert con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchall() == [("256.0 MiB", 2)]
    new = make_settings(tmp_path).with_overrides(warehouse={"memory_limit": "256MiB", "threads": 2})
    with warehouse.open(new) as con:  # writable too (a new warehouse)
        assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [("256.0 MiB",)]
    df = warehouse.query(s, "SELECT current_setting('memory_limit') AS m, current_setting('threads') AS t")
    assert df.to_dict("records") == [{"m": "256.0 MiB", "t": 2}]
    # 1000-based units as DuckDB reads them: 300 MB = 300e6 bytes = 286.1 MiB
    with warehouse.open(s.with_overrides(warehouse={"memory_limit": "300MB"}), read_only=True) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [(f"{300e6 / 2**20:.1f} MiB",)]


def test_query_takes_the_settings_not_a_path(tmp_path):
    with pytest.raises(TypeError, match="takes the settings"):
        warehouse.query(tmp_path / "warehouse.duckdb", "SELECT 1")


def test_running_out_of_memory_names_the_setting(toy):
    s = toy.with_overrides(warehouse={"memory_limit": "2MB", "threads": 1})
    with (
        pytest.raises(WarehouseError, match=r"out of memory under \[warehouse\] memory_limit = '2MB'.*raise the limit"),
        warehouse.open(s) as con,
    ):
        con.execute("CREATE TEMP TABLE big AS SELECT range AS i, repeat('x', 200) || range AS s FROM range(2000000)")
        con.execute("SELECT s, count(*) FROM big GROUP BY s ORDER BY s").fetchall()
    assert warehouse.query(toy, "SELECT count(*) AS n FROM order_lines")["n"].iloc[0] == 12


def test_every_warehouse_connection_goes_through_open():
    """No module of salesml connects to the warehouse file but warehouse.open: a new call
    site cannot forget the memory limit (modules that pass it explicitly are listed)."""
    import re
    from pathlib import Path

    package = Path(warehouse.__file__).parent
    # ingest and churn pass memory_limit and threads themselves
    explicit = re.compile(r"memory_limit=\w+\.memory_limit, threads=\w+\.threads")
    pending: set[tuple[str, str]] = set()  # none left: every connection is routed
    offenders = []
    for path in package.rglob("*.py"):
        if path.name == "warehouse.py":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            called = re.search(r"\bwarehouse\.connect\(|duckdb\.connect\((?!\s*\)|\":memory:\")", line)
            if called and not explicit.search(line) and (str(path.relative_to(package)), line.strip()) not in pending:
                offenders.append(f"{path.relative_to(package)}:{n}: {line.strip()}")
    assert offenders == []


def test_a_full_disk_inside_a_connection_names_the_file_written(toy_wh):
    import errno

    import duckdb

    from salesml.errors import DiskFullError

    other = toy_wh.root / "spill.bin"
    with pytest.raises(DiskFullError, match=f"no space left on device writing {other} "), warehouse.open(toy_wh, read_only=True):
        raise OSError(errno.ENOSPC, "No space left on device", str(other))
    with pytest.raises(DiskFullError, match=f"no space left on device writing {toy_wh.warehouse_path} "), warehouse.open(toy_wh, read_only=True):
        raise duckdb.IOException('Could not write file "somewhere.wal": File too large')
    with pytest.raises(duckdb.IOException, match="something else"), warehouse.open(toy_wh, read_only=True):
        raise duckdb.IOException("something else")
