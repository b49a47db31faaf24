"""Exports: formula-safe CSV (BOM, apostrophes) and typed xlsx (text stays text), atomic, via the CLI."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import stat
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from salesml import warehouse
from salesml.io import export as ex
from salesml.io.export import ExportError, export_frame, neutralise_formula
from salesml.warehouse import export
from tests.conftest import TOY, make_settings
from tests.test_cli import run

HYPERLINK = '=HYPERLINK("http://x","y")'

#: canonical customers with names a spreadsheet would run, and Chinese
CUSTOMERS = """\
customer_id,name,region,city,segment,acquisition_channel,first_order_date,owner_rep_id
C1,"=HYPERLINK(""http://x"",""y"")",华东,上海,Key Account,Referral,2024-01-10,R1
C2,华东贸易有限公司,West,Chengdu,Mid-Market,Trade Show,2024-01-20,R2
C3,+86 21 5555,West,Chengdu,Small Business,@online,2024-01-25,R3
C4,-1+1,East,Shanghai,Small Business,Referral,,R1
"""


@pytest.fixture(scope="module")
def tricky(tmp_path_factory):
    """A warehouse with the toy company's orders and the customers above."""
    from salesml.ingest import canonical_source, ingest_source

    root = tmp_path_factory.mktemp("export")
    customers = root / "customers.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")
    s = make_settings(root)
    files = {t: TOY / f"{t}.csv" for t in ("reps", "products", "order_lines")}
    ingest_source(s, "tricky", canonical_source({**files, "customers": customers}))
    return s


def read_csv_rows(path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))


# ----------------------------------------------------------------------------- neutralise_formula


@pytest.mark.parametrize(
    "text",
    [
        HYPERLINK,
        "+1",
        "-1+1",
        "@SUM(A1)",
        " =1+1",
        "  -x",
        "\t=cmd",
        "\tplain",
        "\rplain",
        "\n=1",
        "＝1+1",
    ],
)
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert neutralise_formula(text) == "'" + text


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "华东",
        "a=b",
        "1-2",
        "'=already",
        "",
        None,
        -1,
        -1.5,
        0,
        3.25,
        True,
        dt.date(2024, 1, 1),
    ],
)
def test_numbers_and_harmless_text_are_untouched(value):
    out = neutralise_formula(value)
    assert out is value or out == value
    assert type(out) is type(value)


# ----------------------------------------------------------------------------- csv


def test_csv_has_a_bom_chinese_neutralised_text_iso_dates_and_numbers_as_numbers(tricky, tmp_path):
    path, rows, cols = export(tricky, "customers", tmp_path / "customers.csv")
    expected = warehouse.query(tricky, "SELECT * FROM customers")
    assert path == (tmp_path / "customers.csv").absolute() and (rows, cols) == expected.shape == (
        4,
        cols,
    )
    raw = path.read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    header, *body = read_csv_rows(path)
    assert header[:3] == ["customer_id", "name", "region"]
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    assert by_id["C1"]["name"] == "'" + HYPERLINK
    assert by_id["C1"]["region"] == "华东" and by_id["C1"]["city"] == "上海"
    assert by_id["C2"]["name"] == "华东贸易有限公司"
    assert (
        by_id["C3"]["name"] == "'+86 21 5555" and by_id["C3"]["acquisition_channel"] == "'@online"
    )
    assert by_id["C4"]["name"] == "'-1+1"
    assert by_id["C1"]["first_order_date"] == "2024-01-10"
    assert by_id["C4"]["first_order_date"] == ""  # missing is empty
    assert by_id["C1"]["batch_id"].isdigit()

    # negative numbers stay numbers; negative-looking text does not
    q = "SELECT amount, quantity, '-5' AS text_minus FROM order_lines WHERE order_id = 'RT1'"
    export(tricky, q, tmp_path / "returns.csv")
    assert read_csv_rows(tmp_path / "returns.csv") == [
        ["amount", "quantity", "text_minus"],
        ["-50.0", "-1.0", "'-5"],
    ]


def test_csv_frame_is_pure_and_handles_headers_times_and_missing():
    df = pd.DataFrame(
        {
            "=bad header": ["@x", None],
            "when": pd.to_datetime(["2024-01-02 03:04:05", None]),
            "n": pd.array([-1, None], dtype="Int64"),
        }
    )
    before = df.copy()
    out = ex.csv_frame(df)
    pd.testing.assert_frame_equal(df, before)
    buf = io.StringIO()
    out.to_csv(buf, index=False)
    assert list(csv.reader(io.StringIO(buf.getvalue()))) == [
        ["'=bad header", "when", "n"],
        ["'@x", "2024-01-02T03:04:05", "-1"],
        ["", "", ""],
    ]


# ----------------------------------------------------------------------------- xlsx


def test_xlsx_keeps_formula_text_as_a_plain_string_with_dates_and_money_typed(tricky, tmp_path):
    path, rows, cols = export(tricky, "customers", tmp_path / "c.xlsx", sheet="客户")
    ws = openpyxl.load_workbook(path)["客户"]
    header = [c.value for c in ws[1]]
    assert all(c.font.b for c in ws[1]) and ws.freeze_panes == "A2"
    cells = {r[0].value: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2)}
    link = cells["C1"]["name"]
    assert link.value == HYPERLINK and link.data_type == "s"  # a string, shown literally
    assert cells["C4"]["name"].value == "-1+1" and cells["C4"]["name"].data_type == "s"
    assert cells["C1"]["region"].value == "华东" and cells["C2"]["name"].value == "华东贸易有限公司"
    d = cells["C1"]["first_order_date"]
    assert d.is_date and d.value == dt.datetime(2024, 1, 10) and d.number_format == "yyyy-mm-dd"
    assert cells["C4"]["first_order_date"].value is None
    with zipfile.ZipFile(path) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets and not any(
            "<f>" in z.read(n).decode() or "<f " in z.read(n).decode() for n in sheets
        )
        assert not any("hyperlink" in n.lower() for n in z.namelist())

    path = export(tricky, "order_lines", tmp_path / "ol.xlsx")[0]
    ws = openpyxl.load_workbook(path)["data"]
    header = [c.value for c in ws[1]]
    first = dict(zip(header, ws[2], strict=True))  # ordered by key: RT1 (a return) first
    assert first["order_id"].value == "RT1"
    assert (
        first["amount"].value == -50 and first["amount"].data_type == "n"
    )  # a negative number stays a number
    assert first["amount"].number_format == "#,##0.00" and first["cost"].number_format == "#,##0.00"
    assert first["quantity"].number_format == "General"
    assert 6 <= ws.column_dimensions["A"].width <= 61


def test_xlsx_odd_values_become_text_never_error_formulas_or_wrong_dates(tmp_path):
    df = pd.DataFrame(
        {
            "ratio": [float("inf"), float("nan"), -2.5],
            "when": pd.to_datetime(["1899-12-31", "2024-02-29", None]),
            "mixed": [dt.date(1800, 1, 2), "=x", 3],
        }
    )
    ws = openpyxl.load_workbook(export_frame(df, tmp_path / "odd.xlsx"))["data"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert rows == [
        ["inf", "1899-12-31", "1800-01-02"],
        [None, dt.datetime(2024, 2, 29), "=x"],
        [-2.5, None, 3],
    ]
    assert all(c.data_type != "f" for r in ws.iter_rows() for c in r)


def test_xlsx_too_tall_fails_clearly_and_leaves_the_old_file(tmp_path):
    target = tmp_path / "big.xlsx"
    target.write_bytes(b"old")
    df = pd.DataFrame(
        {"a": np.zeros(ex.XLSX_MAX_ROWS, dtype="int8")}
    )  # + header = one row too many
    with pytest.raises(ExportError, match=r"1,048,576 rows do not fit.*\.csv"):
        export_frame(df, target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["big.xlsx"]


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")

    def broken(df, tmp):
        tmp.write_text("half", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(ex, "_write_csv", broken)
    with pytest.raises(OSError, match="disk full"):
        export_frame(pd.DataFrame({"a": [1]}), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_027():
    """The process's umask 027 for the test (a group-readable new file: 0640), then as it was."""
    before = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(before)


def test_an_export_is_owner_only_while_written_and_an_ordinary_file_when_done(tmp_path, umask_027):
    seen = []

    def write(tmp):
        seen.append(_mode(tmp))
        tmp.write_text("a\n1\n", encoding="utf-8")
        seen.append(_mode(tmp))

    def write_xlsx(tmp):
        ex._write_xlsx(df, tmp, "data")  # xlsxwriter rewrites the file it is given: still owner-only
        seen.append(_mode(tmp))

    df = pd.DataFrame({"name": ["Zoë", "=1+1"], "amount": [1.5, 2.0]})
    ex._atomic_write(tmp_path / "by_hand.csv", write)
    ex._atomic_write(tmp_path / "by_hand.xlsx", write_xlsx)
    assert seen == [0o600, 0o600, 0o600]
    assert ex.shared_mode() == 0o640
    for target in (tmp_path / "out.csv", tmp_path / "out.xlsx"):
        export_frame(df, target)
    ex.export_sheets({"a": df, "b": df}, tmp_path / "sheets.xlsx")
    assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {
        "by_hand.csv": 0o640, "by_hand.xlsx": 0o640, "out.csv": 0o640, "out.xlsx": 0o640, "sheets.xlsx": 0o640,
    }  # what umask 027 gives any new file, and no temporary file left over


def test_private_folders_are_made_owner_only_from_the_top_down(tmp_path, umask_027):
    ex.private_folders(tmp_path / "shared" / "keep" / "a" / "b", tmp_path / "shared" / "keep")
    assert _mode(tmp_path / "shared") == 0o750  # above the top: as any new folder
    assert [_mode(tmp_path / "shared" / "keep" / p) for p in ("", "a", "a/b")] == [0o700] * 3
    (tmp_path / "open").mkdir(mode=0o755)
    ex.private_folders(tmp_path / "open" / "x", tmp_path / "open")
    assert (_mode(tmp_path / "open"), _mode(tmp_path / "open" / "x")) == (0o750, 0o700)  # an existing folder is left as it is


def test_clear_errors(tricky, tmp_path):
    with pytest.raises(ExportError, match=r"'\.xls'.*\.xlsx, \.csv or \.parquet"):
        export_frame(pd.DataFrame({"a": [1]}), tmp_path / "x.xls")
    with pytest.raises(ExportError, match="sheet"):
        export(tricky, "customers", tmp_path / "x.xlsx", sheet="a/b")
    with pytest.raises(ExportError, match=r"'custmers' is neither a table.*customers"):
        export(tricky, "custmers", tmp_path / "x.csv")
    with pytest.raises(ExportError, match="neither a table.*nor valid SQL"):
        export(tricky, "custmers please", tmp_path / "x.csv")
    with pytest.raises(warehouse.ReadOnlyError, match="refused"):
        export(tricky, "DROP TABLE customers", tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- cli


def test_cli_exports_a_table_and_a_query(tricky, tmp_path):
    env = {"SALESML_WAREHOUSE": str(tricky.warehouse_path)}
    proc = run(
        "export",
        "quarantine",
        "--to",
        "q/quarantine.xlsx",
        "--sheet",
        "rejects",
        cwd=tmp_path,
        env_extra=env,
    )
    assert proc.stdout.strip() == str(tmp_path / "q" / "quarantine.xlsx")
    n_cols = warehouse.query(tricky, "SELECT * FROM quarantine").shape[1]
    assert f"0 rows x {n_cols} columns" in proc.stderr
    assert openpyxl.load_workbook(tmp_path / "q" / "quarantine.xlsx").sheetnames == ["rejects"]

    sql = "SELECT customer_id, name FROM customers WHERE customer_id IN ('C1', 'C2') ORDER BY 1"
    proc = run("export", sql, "--to", "names.csv", cwd=tmp_path, env_extra=env)
    assert proc.stdout.strip() == str(tmp_path / "names.csv")
    assert "2 rows x 2 columns" in proc.stderr
    assert read_csv_rows(tmp_path / "names.csv") == [
        ["customer_id", "name"],
        ["C1", "'" + HYPERLINK],
        ["C2", "华东贸易有限公司"],
    ]


def test_cli_refuses_writes_and_bad_extensions(tricky, tmp_path):
    env = {"SALESML_WAREHOUSE": str(tricky.warehouse_path)}
    proc = run(
        "export", "DELETE FROM customers", "--to", "x.csv", cwd=tmp_path, env_extra=env, check=False
    )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "refused" in proc.stderr and "DELETE" in proc.stderr and "Traceback" not in proc.stderr
    assert (
        warehouse.query(tricky, "SELECT count(*) AS n FROM customers")["n"].iloc[0]
        == 4
    )

    proc = run("export", "customers", "--to", "x.xls", cwd=tmp_path, env_extra=env, check=False)
    assert proc.returncode == 1 and proc.stdout == ""
    assert (
        "'.xls'" in proc.stderr
        and ".xlsx, .csv or .parquet" in " ".join(proc.stderr.split())
        and "Traceback" not in proc.stderr
    )
    assert list(tmp_path.iterdir()) == []
