"""Excel, Parquet and SQL sources: every value as text, row numbers, hashes, clear errors.

The SQL tests run against a real PostgreSQL server (tests/pg.py): a throwaway cluster
started once per session, or ``$SALESML_TEST_PG_URL``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from salesml.io import (
    RawTable,
    SourceFileError,
    file_hash,
    list_sheets,
    read_excel,
    read_parquet,
    read_source,
    read_sql,
    sheet_hash,
    to_text,
)
from tests import pg

# ---------------------------------------------------------------- common text conversion


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (float("nan"), ""),
        ("007", "007"),
        ("NULL", "NULL"),
        (7, "7"),
        (7.0, "7"),
        (0.1, "0.1"),
        (1e-05, "0.00001"),
        (1e20, "100000000000000000000"),
        (-0.0, "0"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+2"), "100"),
        (True, "true"),
        (False, "false"),
        (dt.date(2024, 1, 5), "2024-01-05"),
        (dt.datetime(2024, 1, 5), "2024-01-05"),
        (dt.datetime(2024, 1, 5, 9, 30, 5), "2024-01-05 09:30:05"),
        (dt.time(9, 30), "09:30:00"),
    ],
)
def test_typed_values_become_the_text_a_csv_export_would_hold(value, text):
    assert to_text(value) == text


# ---------------------------------------------------------------- Excel


@pytest.fixture
def workbook(tmp_path):
    """Two sheets: orders (typed cells, text IDs, a gap and trailing blank rows) and customers."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Orders"
    ws.append([" Order ID ", "Customer", "Qty", "Price", "Date", "Paid", "Note"])
    ws.append(["007", "华东贸易", 3, 0.1, dt.datetime(2024, 1, 5), True, "NA"])
    ws.append(["008", "NULL", 2.0, 19.99, dt.datetime(2024, 1, 6, 14, 30), False, None])
    ws.append([None] * 7)  # a blank row in the middle (row 4) is skipped
    ws.append(["009", "北京", 1, 1234567.5, dt.date(2024, 2, 29), None, "=not a formula"])
    ws["G5"].data_type = "s"  # stored as text, not as a formula
    ws.append([])
    ws.append([None, None])  # trailing blank rows are ignored
    cs = wb.create_sheet("Customers")
    cs.append(["customer_id", "name"])
    cs.append(["C001", "张三"])
    hs = wb.create_sheet("HeaderOnly")
    hs.append(["a", "b"])
    wb.create_sheet("Empty")
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def test_excel_sheet_values_are_text_with_sheet_row_numbers(workbook):
    raw = read_excel(workbook)
    assert isinstance(raw, RawTable)
    assert raw.sheet == "Orders"
    f = raw.frame
    assert list(f.columns) == ["source_row", "Order ID", "Customer", "Qty", "Price", "Date", "Paid", "Note"]
    assert f["source_row"].tolist() == [2, 3, 5]
    assert f["Order ID"].tolist() == ["007", "008", "009"]
    assert f["Customer"].tolist() == ["华东贸易", "NULL", "北京"]
    assert f["Qty"].tolist() == ["3", "2", "1"]
    assert f["Price"].tolist() == ["0.1", "19.99", "1234567.5"]
    assert f["Date"].tolist() == ["2024-01-05", "2024-01-06 14:30:00", "2024-02-29"]
    assert f["Paid"].tolist() == ["true", "false", ""]
    assert f["Note"].tolist() == ["NA", "", "=not a formula"]
    assert all(isinstance(v, str) for c in f.columns[1:] for v in f[c])
    assert raw.content_hash == file_hash(workbook)


def test_several_sheets_of_one_workbook_read_by_name_or_index(workbook):
    assert list_sheets(workbook) == ["Orders", "Customers", "HeaderOnly", "Empty"]
    customers = read_excel(workbook, sheet="Customers")
    assert customers.frame.to_dict("list") == {"source_row": [2], "customer_id": ["C001"], "name": ["张三"]}
    again = read_excel(workbook, sheet=1)  # the same workbook read twice: no handle left open
    assert again.frame.equals(customers.frame) and again.sheet == "Customers"
    # the hash is known before parsing and differs between sheets of one workbook
    h = file_hash(workbook)
    assert customers.content_hash == sheet_hash(workbook, "Customers") == hashlib.sha256(f"{h}|Customers".encode()).hexdigest()
    assert read_excel(workbook, sheet="Orders").content_hash != customers.content_hash
    via = read_source(workbook, format="excel", sheet="Customers")
    assert via.frame.equals(customers.frame)
    assert read_source(workbook, format="excel").sheet == "Orders"  # "" = the first sheet


def test_excel_errors_name_the_file_and_the_sheets(workbook, tmp_path):
    with pytest.raises(SourceFileError, match=r"book.xlsx: no sheet named 'Sales' \(sheets: 'Orders', 'Customers', 'HeaderOnly', 'Empty'\)"):
        read_excel(workbook, sheet="Sales")
    with pytest.raises(SourceFileError, match=r"book.xlsx, sheet 'HeaderOnly': the sheet has a header \(row 1\) but no data rows"):
        read_excel(workbook, sheet="HeaderOnly")
    with pytest.raises(SourceFileError, match=r"book.xlsx, sheet 'Empty': the sheet is empty"):
        read_excel(workbook, sheet="Empty")
    with pytest.raises(SourceFileError, match="missing.xlsx: file not found"):
        read_excel(tmp_path / "missing.xlsx")
    bad = tmp_path / "bad.xlsx"
    bad.write_text("id,name\n1,x\n", encoding="utf-8")
    with pytest.raises(SourceFileError, match="bad.xlsx: not a"):
        read_excel(bad)


def _set_cached_value(path, cell: str, value: str) -> None:
    """Give a formula the value Excel would have saved with it (openpyxl writes none)."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"].decode()
    head, tail = sheet.split(f'<c r="{cell}">', 1)
    tail = tail.replace("<v />", f"<v>{value}</v>", 1)
    parts["xl/worksheets/sheet1.xml"] = (head + f'<c r="{cell}">' + tail).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def test_excel_formulas_give_their_cached_values_and_the_header_may_start_lower(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws["B3"], ws["C3"], ws["D3"] = "id", "total", "uncalculated"
    ws["B4"], ws["C4"], ws["D4"] = "001", "=2*6.25", "=1+1"
    ws["B5"] = "002"
    path = tmp_path / "f.xlsx"
    wb.save(path)
    _set_cached_value(path, "C4", "12.5")
    raw = read_excel(path)
    # a formula never calculated by Excel has no saved value: ""
    assert raw.frame.to_dict("list") == {
        "source_row": [4, 5],
        "id": ["001", "002"],
        "total": ["12.5", ""],
        "uncalculated": ["", ""],
    }


# ---------------------------------------------------------------- Parquet


def test_parquet_typed_columns_become_exact_texts(tmp_path):
    table = pa.table(
        {
            "id": pa.array(["007", None, "NA"]),
            "qty": pa.array([3, None, -1], pa.int64()),
            "price": pa.array([0.1, 7.0, None], pa.float64()),
            "ratio": pa.array([0.1, None, 2.5], pa.float32()),
            "amount": pa.array([Decimal("12.50"), Decimal("-0.01"), None], pa.decimal128(12, 2)),
            "day": pa.array([dt.date(2024, 1, 5), None, dt.date(1999, 12, 31)], pa.date32()),
            "at": pa.array([dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 5, 9, 30, 5), None], pa.timestamp("us")),
            "region": pa.array(["华东", None, "华东"]).dictionary_encode(),
            "paid": pa.array([True, False, None]),
            "nothing": pa.array([None, None, None], pa.null()),
        }
    )
    path = tmp_path / "x.parquet"
    pq.write_table(table, path)
    raw = read_parquet(path)
    assert raw.frame.to_dict("list") == {
        "source_row": [2, 3, 4],
        "id": ["007", "", "NA"],
        "qty": ["3", "", "-1"],
        "price": ["0.1", "7", ""],
        "ratio": ["0.1", "", "2.5"],
        "amount": ["12.50", "-0.01", ""],
        "day": ["2024-01-05", "", "1999-12-31"],
        "at": ["2024-01-05", "2024-01-05 09:30:05", ""],
        "region": ["华东", "", "华东"],
        "paid": ["true", "false", ""],
        "nothing": ["", "", ""],
    }
    assert raw.content_hash == file_hash(path)
    assert read_source(path, format="parquet").frame.equals(raw.frame)


def test_parquet_errors_and_pandas_index(tmp_path):
    import pandas as pd

    p = tmp_path / "idx.parquet"
    pd.DataFrame({"a": [1, 2]}, index=[10, 11]).to_parquet(p)
    assert list(read_parquet(p).frame.columns) == ["source_row", "a"]
    empty = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), empty)
    with pytest.raises(SourceFileError, match="empty.parquet: the file has columns but no data rows"):
        read_parquet(empty)
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet", encoding="utf-8")
    with pytest.raises(SourceFileError, match="bad.parquet: not a readable Parquet file"):
        read_parquet(bad)


# ---------------------------------------------------------------- SQL (a real PostgreSQL)


@pytest.fixture
def sales_table(pg_url):
    """A table with text IDs, NUMERIC money, dates, NULLs and Chinese text (dropped afterwards)."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url, poolclass=sa.pool.NullPool)
    with engine.begin() as con:
        con.exec_driver_sql("DROP TABLE IF EXISTS io_orders")
        con.exec_driver_sql(
            "CREATE TABLE io_orders (order_id TEXT PRIMARY KEY, customer TEXT, amount NUMERIC(12,2),"
            " qty INTEGER, order_date DATE, paid_at TIMESTAMP, share DOUBLE PRECISION)"
        )
        con.exec_driver_sql(
            "INSERT INTO io_orders VALUES"
            " ('007', '华东贸易', 1234.50, 3, '2024-01-05', '2024-01-05 09:30:05', 0.1),"
            " ('008', 'NULL', 0.10, NULL, '2024-02-29', NULL, 7),"
            " ('009', NULL, NULL, 1, NULL, '2024-03-01 00:00:00', NULL)"
        )
    yield engine
    with engine.begin() as con:
        con.exec_driver_sql("DROP TABLE IF EXISTS io_orders")
        con.exec_driver_sql("DROP SEQUENCE IF EXISTS io_seq")
    engine.dispose()


QUERY = "SELECT * FROM io_orders ORDER BY order_id"


def test_sql_result_is_text_with_row_numbers_and_a_stable_hash(pg_url, sales_table):
    raw = read_sql(pg_url, QUERY)
    assert raw.frame.to_dict("list") == {
        "source_row": [1, 2, 3],
        "order_id": ["007", "008", "009"],
        "customer": ["华东贸易", "NULL", ""],
        "amount": ["1234.50", "0.10", ""],
        "qty": ["3", "", "1"],
        "order_date": ["2024-01-05", "2024-02-29", ""],
        "paid_at": ["2024-01-05 09:30:05", "", "2024-03-01"],
        "share": ["0.1", "7", ""],
    }
    assert isinstance(raw.path, str) and pg.PASSWORD not in raw.path and ":***@" in raw.path
    again = read_source("", format="sql", url=pg_url, query=QUERY)
    assert again.content_hash == raw.content_hash
    with sales_table.begin() as con:
        con.exec_driver_sql("UPDATE io_orders SET amount = 1234.51 WHERE order_id = '007'")
    assert read_sql(pg_url, QUERY).content_hash != raw.content_hash


def test_sql_url_variables_come_from_the_environment(pg_url, sales_table, monkeypatch):
    from sqlalchemy.engine import make_url

    u = make_url(pg_url)
    monkeypatch.setenv("SALESML_T_PW", u.password)  # may hold '@' and '/': quoted when expanded
    template = f"postgresql://{u.username}:${{SALESML_T_PW}}@{u.host}:{u.port}/{u.database}"
    raw = read_sql(template, "SELECT count(*) AS n FROM io_orders")
    assert raw.frame["n"].tolist() == ["3"]
    assert raw.path == f"postgresql://{u.username}:***@{u.host}:{u.port}/{u.database}"
    with pytest.raises(SourceFileError, match=r"environment variable SALESML_T_MISSING is not set") as e:
        read_sql(template.replace("SALESML_T_PW", "SALESML_T_MISSING"), "SELECT 1")
    assert u.password not in str(e.value)


def test_sql_errors_are_one_clear_line_without_the_password(pg_url, sales_table):
    from sqlalchemy.engine import make_url

    u = make_url(pg_url)
    masked = u.render_as_string(hide_password=True)
    with pytest.raises(SourceFileError, match="the query returned no rows") as e:
        read_sql(pg_url, "SELECT * FROM io_orders WHERE false")
    assert str(e.value).startswith(masked + ": ")
    with pytest.raises(SourceFileError, match=r'the query failed: .*relation "no_such_table" does not exist') as e:
        read_sql(pg_url, "SELECT * FROM no_such_table")
    assert u.password not in str(e.value) and "\n" not in str(e.value)
    if os.environ.get(pg.ENV_URL) is None:  # the throwaway server checks passwords on TCP
        wrong = u.set(password="wrong-password").render_as_string(hide_password=False)
        with pytest.raises(SourceFileError, match=r"cannot connect: .*password authentication failed") as e:
            read_sql(wrong, "SELECT 1")
        assert "wrong-password" not in str(e.value) and str(e.value).startswith(masked + ": ")


def test_sql_query_text_goes_to_the_server_as_written_and_writes_nothing(pg_url, sales_table):
    raw = read_sql(pg_url, "-- literal colons and percent signs\nSELECT 'a:b' AS c, '50%' AS p, '10:30'::time AS t")
    assert raw.frame.to_dict("list") == {"source_row": [1], "c": ["a:b"], "p": ["50%"], "t": ["10:30:00"]}
    with pytest.raises(SourceFileError, match="the query must be a SELECT .*not DELETE"):
        read_sql(pg_url, "DELETE FROM io_orders RETURNING *")
    with pytest.raises(SourceFileError, match="the query failed: .*data-modifying"):
        read_sql(pg_url, "WITH gone AS (DELETE FROM io_orders RETURNING *) SELECT * FROM gone")
    with sales_table.begin() as con:
        con.exec_driver_sql("CREATE SEQUENCE IF NOT EXISTS io_seq")
    with pytest.raises(SourceFileError, match="the query failed: .*read-only transaction"):
        read_sql(pg_url, "SELECT nextval('io_seq') AS n")  # a SELECT that writes: refused too
    assert len(read_sql(pg_url, QUERY).frame) == 3


def test_sql_url_sslmode_reaches_the_driver_and_a_tls_only_role_is_refused_in_the_clear(pg_url, pg_tls_url):
    """``?sslmode=`` in the URL goes to psycopg: ``require`` connects over TLS, ``disable``
    without, which the server refuses for a role it accepts only over TLS."""
    from sqlalchemy.engine import make_url

    query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    assert read_sql(pg_tls_url + "?sslmode=require", query).frame["ssl"].tolist() == ["true"]
    assert read_sql(pg_url + "?sslmode=disable", query).frame["ssl"].tolist() == ["false"]
    masked = make_url(pg_tls_url).render_as_string(hide_password=True)
    with pytest.raises(SourceFileError, match=r'cannot connect: .*pg_hba\.conf .*"salesml_tls".*no encryption') as e:
        read_sql(pg_tls_url + "?sslmode=disable", query)
    assert str(e.value).startswith(masked + "?sslmode=disable: ") and ":***@" in str(e.value)
    assert pg.PASSWORD not in str(e.value) and "\n" not in str(e.value)


def test_an_unreachable_server_fails_fast_with_the_password_masked():
    port = pg.closed_port()
    secret = "top-secret-pw"
    url = f"postgresql://sales:{secret}@127.0.0.1:{port}/sales"
    started = time.perf_counter()
    with pytest.raises(SourceFileError) as e:
        read_sql(url, "SELECT 1", connect_timeout_s=2)
    assert time.perf_counter() - started < 5
    msg = str(e.value)
    assert msg.startswith(f"postgresql://sales:***@127.0.0.1:{port}/sales: cannot connect:")
    assert secret not in msg and "\n" not in msg


def test_a_server_that_never_answers_times_out():
    """A port that accepts the connection but never speaks: the connect timeout ends it."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        started = time.perf_counter()
        with pytest.raises(SourceFileError, match=rf"^postgresql://sales:\*\*\*@127.0.0.1:{port}/sales: cannot connect: .*timeout"):
            read_sql(f"postgresql://sales:pw-123@127.0.0.1:{port}/sales", "SELECT 1", connect_timeout_s=2)
        assert time.perf_counter() - started < 6
