"""The warehouse: read-only SQL really is read-only; info; clear errors; encrypted at rest
(no name in the clear, every command with the key, one line without it)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from salesml import warehouse
from salesml.schema import text_series
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


# --------------------------------------------------------------------------- encryption at rest


@pytest.fixture(scope="module")
def keyed_company(tmp_path_factory):
    """The company of tests/secret_company.py in an encrypted warehouse, built once; its folder and key."""
    import os

    from tests.secret_company import KEY_ENV, build

    folder = tmp_path_factory.mktemp("keyed")
    os.environ[KEY_ENV] = "s3cret"
    try:
        build(folder, key_env=KEY_ENV)
    finally:
        del os.environ[KEY_ENV]
    return folder, {KEY_ENV: "s3cret"}


def test_an_encrypted_warehouse_holds_no_name_in_the_clear_and_is_owner_only(keyed_company, tmp_path, monkeypatch):
    import stat
    import subprocess
    import sys

    import duckdb

    from tests.secret_company import KEY_ENV, NEEDLES, UNIQUE_NAME, copy_of

    monkeypatch.setenv(KEY_ENV, "s3cret")
    s = copy_of(keyed_company[0], tmp_path)
    assert stat.S_IMODE(s.warehouse_path.stat().st_mode) == 0o600
    assert not any(n in s.warehouse_path.read_bytes() for n in NEEDLES)
    with pytest.raises(duckdb.Error, match="encrypted"):
        duckdb.connect(str(s.warehouse_path), read_only=True)
    with warehouse.open(s, read_only=True) as con:
        assert con.execute("SELECT name FROM customers WHERE customer_id = 'C1'").fetchone()[0] == UNIQUE_NAME
    # the write-ahead log of a process that died before its checkpoint: encrypted, owner-only
    script = (
        "import os; from salesml import warehouse; from salesml.config import load_settings\n"
        f"s = load_settings({str(tmp_path / 'salesml.toml')!r})\n"
        "cm = warehouse.open(s); con = cm.__enter__()\n"
        "con.execute(\"UPDATE customers SET city = 'Wal' || name WHERE customer_id = 'C1'\")\n"
        "os._exit(0)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    wal = s.warehouse_path.with_name(s.warehouse_path.name + ".wal")
    assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
    assert not any(n in wal.read_bytes() for n in NEEDLES)
    with warehouse.open(s, read_only=True) as con:  # replayed with the key
        assert con.execute("SELECT city FROM customers WHERE customer_id = 'C1'").fetchone()[0] == "Wal" + UNIQUE_NAME


def test_every_command_works_with_the_key_and_fails_in_one_line_without(keyed_company, tmp_path, monkeypatch):
    import json

    from typer.testing import CliRunner

    from salesml.cli import app
    from tests.secret_company import KEY_ENV, UNIQUE_NAME, cli, copy_of, write_config

    copy_of(keyed_company[0], tmp_path)
    notebooks = Path(__file__).parent.parent / "notebooks"
    write_config(tmp_path, key_env=KEY_ENV, extra=f'[report]\nnotebooks_dir = "{notebooks}"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(KEY_ENV, "s3cret")
    targets = tmp_path / "targets_2025.csv"
    targets.write_text("rep_id,team,region,period,target_revenue,target_margin\nR1,T1,East,2025-01,10,4\n", encoding="utf-8")
    runner = CliRunner()
    commands = [
        ["info"], ["batches"], ["quarantine"], ["post"], ["ingest", str(targets), "--table", "targets"],
        ["perf", "--period", "2024-02", "--format", "json"], ["kpis", "--period", "2024-02"], ["bridge", "--period", "2024-02"],
        ["commission", "--period", "2024-02"], ["check", "--period", "2024-02"], ["segments", "--as-of", "2024-02-29"],
        ["export", "customers", "--to", str(tmp_path / "customers.csv")], ["period", "status"],
        ["period", "close", "2024-02"], ["period", "reopen", "2024-02", "--reason", "test"], ["period", "verify"], ["audit"],
        ["report", "sales_performance", "-p", "period=2024-02"],  # its kernel, another process, opens the warehouse with the key
    ]
    for args in commands:
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output, result.exception)
    result = runner.invoke(app, ["sql", "SELECT name FROM customers WHERE customer_id = 'C1'", "--format", "json"])
    assert json.loads(result.stdout) == [{"name": UNIQUE_NAME}]
    assert UNIQUE_NAME in (tmp_path / "customers.csv").read_text(encoding="utf-8")
    assert list((tmp_path / "reports").rglob("sales_performance*.html"))

    # as a user sees it: without the key, with a wrong one, or with no key setting
    missing = cli("info", cwd=tmp_path)
    wrong = cli("info", cwd=tmp_path, env_extra={KEY_ENV: "not the key"})
    write_config(tmp_path)
    unset = cli("info", cwd=tmp_path, env_extra=keyed_company[1])
    for r, words in ((missing, f"${KEY_ENV} is not set"), (wrong, "is not the key"), (unset, "is encrypted: set [warehouse] encryption_key_env")):
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
        one_line = " ".join(r.stderr.split())
        assert words in one_line and one_line.startswith("error:") and one_line.count("error:") == 1


def test_a_key_for_a_plain_warehouse_says_how_to_encrypt_it(tmp_path, monkeypatch):
    from tests.conftest import load_toy

    s = make_settings(tmp_path)
    load_toy(s, ["reps"])
    monkeypatch.setenv("SALESML_TEST_KEY", "k")
    keyed = s.with_overrides(warehouse={"encryption_key_env": "SALESML_TEST_KEY"})
    with pytest.raises(WarehouseError, match="is not encrypted.*backing it up and restoring"), warehouse.open(keyed, read_only=True):
        pass


def test_no_secure_crypto_module_stops_with_what_to_install(tmp_path, monkeypatch):
    import sys

    import duckdb

    monkeypatch.setitem(sys.modules, "duckdb_extension_httpfs", None)  # the wheel is not installed
    con = duckdb.connect(config={"extension_directory": str(tmp_path / "ext"), "autoinstall_known_extensions": False})
    with pytest.raises(WarehouseError, match=f"pip install 'duckdb-extension-httpfs=={duckdb.__version__}'"):
        warehouse.load_crypto(con)
    con.close()


def test_the_key_setting_names_a_variable_not_a_key(tmp_path):
    from salesml.config import ConfigError, load_settings

    cfg = tmp_path / "salesml.toml"
    cfg.write_text('[warehouse]\nencryption_key_env = "my secret key!"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="names the environment variable"):
        load_settings(cfg)


def test_a_warehouse_of_an_older_salesml_is_brought_up_to_date_by_a_reader(tmp_path):
    """A read-only open of a warehouse an older salesml made adds what is missing first (one
    brief writable connection), then reads: the reader sees today's tables."""
    import duckdb

    s = make_settings(tmp_path)
    with warehouse.open(s):
        pass
    with duckdb.connect(str(s.warehouse_path)) as con:  # as schema version 8 left it
        con.execute("ALTER TABLE churn_scores DROP COLUMN lookahead")
        con.execute("UPDATE meta SET value = '8' WHERE key = 'schema_version'")
    with warehouse.open(s, read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(warehouse.SCHEMA_VERSION)
        assert "lookahead" in [r[0] for r in con.execute("DESCRIBE churn_scores").fetchall()]
    with duckdb.connect(str(s.warehouse_path)) as con:  # as schema version 10 left it: no table of trained forecasts
        con.execute("DROP TABLE forecasts")
        con.execute("UPDATE meta SET value = '10' WHERE key = 'schema_version'")
    with warehouse.open(s, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM forecasts").fetchone()[0] == 0
        assert con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "11"


def test_an_older_ledger_learns_which_lines_have_a_cost_once(toy):
    """A ledger of schema version 9 had no ``line_cost`` (readers joined every order line):
    the first open fills it from the order lines, line by line, and the figures stay the same."""
    import duckdb

    from salesml.accounting import performance as perf

    with duckdb.connect(str(toy.warehouse_path)) as con:
        # a line loaded and posted without a cost
        con.execute("UPDATE order_lines SET cost = NULL WHERE order_id = 'SO3'")
        con.execute("UPDATE ledger SET margin = 0 WHERE order_id = 'SO3'")
        con.execute("ALTER TABLE ledger DROP COLUMN line_cost")
        con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    with warehouse.open(toy, read_only=True) as con:
        flags = dict(con.execute("SELECT order_id || '/' || line_no, bool_and(line_cost) FROM ledger GROUP BY 1").fetchall())
        jan = perf.performance(con, "2024-01", "company").iloc[0]
    assert flags.pop("SO3/1") is False and all(flags.values()) and len(flags) == 10
    # January: SO1 (100 + 50, costs 60 + 20), SO2 (200, cost 80) and its return RT1 (-50, cost
    # -20) with costs; SO3 (50) without: margin 40 + 30 + 120 - 30, over 400 of 450 (absolute)
    assert (jan["revenue"], jan["margin"], round(jan["margin_coverage_pct"], 2)) == (350, 160, round(400 / 450 * 100, 2))


# --------------------------------------------------------------------------- Parquet exports


def _toy_lines() -> tuple[int, Decimal, dict[str, int]]:
    """Rows, the sum of amounts and the rows per order month of the toy order lines (csv + Decimal)."""
    import csv
    from collections import Counter
    from decimal import Decimal

    from tests.conftest import TOY

    with (TOY / "order_lines.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return len(rows), sum((Decimal(r["amount"]) for r in rows), Decimal(0)), dict(Counter(r["order_date"][:7] for r in rows))


def test_order_lines_export_to_parquet_with_their_types_and_to_month_partitions_a_cluster_reads(toy_wh, tmp_path):
    import stat
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    rows, total, by_month = _toy_lines()
    path, n, cols = warehouse.export(toy_wh, "order_lines", tmp_path / "lines.parquet")
    table = pq.read_table(path)
    assert n == rows == table.num_rows and cols == table.num_columns
    assert pa.types.is_decimal(table.schema.field("amount").type) and pa.types.is_date(table.schema.field("order_date").type)
    assert sum((v for v in table.column("amount").to_pylist()), Decimal(0)) == total  # exact, to the cent
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask() and not list(tmp_path.glob(".*.tmp"))

    query = "SELECT strftime(order_date, '%Y-%m') AS month, * FROM order_lines"
    folder, n, _ = warehouse.export(toy_wh, query, tmp_path / "by_month.parquet", partition_by=("month",))
    assert n == rows and sorted(p.name for p in folder.iterdir()) == sorted(f"month={m}" for m in by_month)
    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    assert dataset.count_rows() == rows
    per_month = {m: dataset.count_rows(filter=ds.field("month") == m) for m in by_month}
    assert per_month == by_month
    import dask.dataframe as dd  # what a Dask cluster reads: the same rows and money

    frame = dd.read_parquet(str(folder)).compute()
    assert len(frame) == rows and sum((Decimal(str(v)) for v in frame["amount"]), Decimal(0)) == total


def test_parquet_export_errors_name_what_is_wrong(toy_wh, tmp_path):
    from salesml.io.export import ExportError

    with pytest.raises(ExportError, match="--partition-by needs a .parquet target"):
        warehouse.export(toy_wh, "order_lines", tmp_path / "x.csv", partition_by=("region",))
    with pytest.raises(ExportError, match="--partition-by galaxy: no such column; the columns are order_id, line_no"):
        warehouse.export(toy_wh, "order_lines", tmp_path / "x.parquet", partition_by=("galaxy",))
    with pytest.raises(ReadOnlyError):
        warehouse.export(toy_wh, "DELETE FROM order_lines", tmp_path / "x.parquet")
    with pytest.raises(WarehouseError, match="SQL error"):
        warehouse.export(toy_wh, "SELECT * FROM read_csv('/etc/passwd')", tmp_path / "x.parquet")  # no file access from SQL
    warehouse.export(toy_wh, "reps", tmp_path / "reps.parquet", partition_by=("region",))
    with pytest.raises(ExportError, match="it exists"):
        warehouse.export(toy_wh, "reps", tmp_path / "reps.parquet", partition_by=("region",))
    assert not list(tmp_path.glob(".*"))  # no temporary file or folder left


def _umask() -> int:
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_rows_reach_duckdb_in_batches_of_a_row_group():
    """The rows of a load are handed to DuckDB in record batches of one row group each (the
    size it inserts fastest), however the text columns were chunked when read; nothing
    reordered or lost."""
    n = warehouse.ROW_GROUP_ROWS * 2 + 1000
    ids = pa.chunked_array([pa.array([f"O{i}" for i in range(a, min(a + 100_000, n))], pa.large_string()) for a in range(0, n, 100_000)])
    rows = pd.DataFrame({"order_id": text_series(ids), "quantity": range(n)})
    table = warehouse.arrow_rows(rows)
    sizes = [b.num_rows for b in table.to_batches()]
    assert sizes == [warehouse.ROW_GROUP_ROWS, warehouse.ROW_GROUP_ROWS, 1000]
    assert table.column("order_id").to_pylist() == [f"O{i}" for i in range(n)]
    assert table.column("quantity").to_pylist() == list(range(n))
