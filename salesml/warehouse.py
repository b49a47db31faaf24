"""The DuckDB warehouse: canonical tables, load batches, quarantine, audit log.

Connections are short-lived (open, work, close): DuckDB lets one process write at a
time, and an analyst's open notebook must never block the scheduler or an ingest.
Every function that changes data does it in one transaction.

Every connection is opened by :func:`open` (or :func:`query`) with the settings, so each one
honours ``[warehouse] memory_limit`` and ``threads``. A write that finds the disk full raises
:class:`~salesml.errors.DiskFullError` naming the warehouse (DuckDB rolls the transaction back:
the warehouse is unchanged); running out of memory under a configured limit says which
setting to raise.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from salesml import __version__, schema
from salesml.config import Settings
from salesml.errors import SalesmlError, disk_full
from salesml.io.export import ExportError, check_target, export_batches, export_format, export_frame
from salesml.locations import ENV_ACTOR

SCHEMA_VERSION = 11

#: statement types ``salesml sql`` accepts
_READ_STATEMENTS = {"SELECT", "EXPLAIN", "PRAGMA"}

_PROVENANCE_DDL = [
    """CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)""",
    """CREATE SEQUENCE IF NOT EXISTS batch_seq START 1""",
    """CREATE TABLE IF NOT EXISTS load_batches (
        batch_id INTEGER PRIMARY KEY,
        source VARCHAR NOT NULL,
        table_name VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        content_hash VARCHAR NOT NULL,
        encoding VARCHAR,
        rows_read BIGINT NOT NULL,
        rows_loaded BIGINT NOT NULL,
        rows_fixed BIGINT NOT NULL,
        rows_quarantined BIGINT NOT NULL,
        quarantine_reasons VARCHAR,
        revenue_read DECIMAL(18,2),
        revenue_loaded DECIMAL(18,2),
        revenue_quarantined DECIMAL(18,2),
        status VARCHAR NOT NULL,
        replaced_by INTEGER,
        loaded_at TIMESTAMP NOT NULL,
        seconds DOUBLE,
        actor VARCHAR,
        salesml_version VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS quarantine (
        batch_id INTEGER NOT NULL,
        table_name VARCHAR NOT NULL,
        path VARCHAR NOT NULL,
        source_row INTEGER,
        reason VARCHAR NOT NULL,
        "column" VARCHAR,
        details VARCHAR,
        record VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS row_fixes (
        batch_id INTEGER NOT NULL,
        table_name VARCHAR NOT NULL,
        source_row INTEGER,
        kind VARCHAR NOT NULL,
        rule VARCHAR NOT NULL,
        "column" VARCHAR,
        before VARCHAR,
        after VARCHAR
    )""",
    """CREATE SEQUENCE IF NOT EXISTS ledger_seq START 1""",
    """CREATE TABLE IF NOT EXISTS ledger (
        entry_id BIGINT PRIMARY KEY,
        period VARCHAR NOT NULL,
        origin_period VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        rep_id VARCHAR,
        team VARCHAR NOT NULL,
        region VARCHAR NOT NULL,
        order_id VARCHAR NOT NULL,
        line_no INTEGER NOT NULL,
        customer_id VARCHAR,
        product_id VARCHAR,
        credit_date DATE,
        event_date DATE,
        share DECIMAL(9,6) NOT NULL,
        amount DECIMAL(18,2) NOT NULL,
        margin DECIMAL(18,2) NOT NULL,
        quantity DECIMAL(18,3),
        reason VARCHAR,
        posted_at TIMESTAMP NOT NULL,
        post_id VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS periods (
        period VARCHAR PRIMARY KEY,
        status VARCHAR NOT NULL,
        closed_at TIMESTAMP,
        closed_by VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS period_events (
        period VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        happened_at TIMESTAMP NOT NULL,
        actor VARCHAR,
        reason VARCHAR,
        entries BIGINT,
        revenue DECIMAL(18,2),
        margin DECIMAL(18,2)
    )""",
    # churn risk scores (salesml score churn): one row per customer, as-of date and model
    # version; a new scoring of the same as_of + version replaces its rows
    """CREATE TABLE IF NOT EXISTS churn_scores (
        customer_id VARCHAR NOT NULL,
        as_of DATE NOT NULL,
        version VARCHAR NOT NULL,
        risk DOUBLE NOT NULL,
        top_reasons VARCHAR,
        value_at_risk DECIMAL(18,2),
        revenue_lookback DECIMAL(18,2),
        owner_rep_id VARCHAR,
        scored_at TIMESTAMP NOT NULL,
        -- scored as of a date before the model's training labels end (--allow-lookahead: a backfill)
        lookahead BOOLEAN DEFAULT false
    )""",
    # forecasts of trained versions (salesml train forecast), wherever their fits ran (the local
    # pool, Dask or Spark): one row per version, series and step; a version written again
    # replaces its rows. The registry keeps the version's manifest and backtest beside them
    """CREATE TABLE IF NOT EXISTS forecasts (
        version VARCHAR NOT NULL,
        level VARCHAR NOT NULL,
        freq VARCHAR NOT NULL,
        unique_id VARCHAR NOT NULL,
        ds DATE NOT NULL,
        yhat DOUBLE NOT NULL,
        lo DOUBLE,
        hi DOUBLE,
        interval_pct DOUBLE NOT NULL,
        model VARCHAR,
        made_at TIMESTAMP NOT NULL
    )""",
    # the record of scheduled reports (salesml.delivery.runs): one row per schedule, slot
    # (UTC, ISO 8601) and audience member; a retry replaces its row
    """CREATE TABLE IF NOT EXISTS schedule_runs (
        schedule VARCHAR NOT NULL,
        slot VARCHAR NOT NULL,
        audience VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        attempts INTEGER NOT NULL,
        parameters VARCHAR,
        output VARCHAR,
        error VARCHAR,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        emailed_to VARCHAR,
        PRIMARY KEY (schedule, slot, audience)
    )""",
    """CREATE TABLE IF NOT EXISTS audit_log (
        logged_at TIMESTAMP NOT NULL,
        actor VARCHAR,
        command VARCHAR NOT NULL,
        params VARCHAR
    )""",
]


class WarehouseError(SalesmlError, RuntimeError):
    """The warehouse cannot do what was asked; the message says why."""


class ReadOnlyError(WarehouseError):
    """A statement that would write was sent through a read-only path."""


def _version() -> str:
    return __version__


def actor() -> str:
    """Who runs this: ``$SALESML_AS`` (``salesml --as NAME``), else the login name."""
    named = os.environ.get(ENV_ACTOR, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers)
        return "unknown"


@contextmanager
def open(settings: Settings, *, read_only: bool = False, lock_wait_s: float = 10.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the settings' warehouse for a ``with`` block, with ``[warehouse] memory_limit`` and
    ``threads`` applied, and its key when ``encryption_key_env`` is set: the one way salesml
    connects to the warehouse (see :func:`connect`)."""
    wh = settings.warehouse
    with connect(
        settings.warehouse_path,
        read_only=read_only,
        memory_limit=wh.memory_limit.strip(),
        threads=wh.threads,
        lock_wait_s=lock_wait_s,
        key=Key.from_env(wh.encryption_key_env, "warehouse.encryption_key_env"),
    ) as con:
        yield con


@dataclass(frozen=True)
class Key:
    """The key of an encrypted DuckDB file and where it came from (the environment variable
    named by a setting): never printed, named in messages by its variable."""

    value: str = field(repr=False)
    env: str
    setting: str

    @classmethod
    def from_env(cls, env: str, setting: str) -> Key | None:
        """The key in ``$env`` (None when ``env`` is ""): an unset or empty variable is an error."""
        if not env:
            return None
        value = os.environ.get(env, "")
        if not value:
            raise WarehouseError(
                f"{setting} = {env!r}, but ${env} is not set: export the key in ${env} "
                "(the key the file was created with)"
            )
        return cls(value, env, setting)


#: DuckDB's secure crypto module: the httpfs extension (OpenSSL), from the package index as a
#: wheel built for exactly the installed DuckDB (pip install duckdb-extension-httpfs==<DuckDB's version>)
CRYPTO_PACKAGE = "duckdb-extension-httpfs"


def load_crypto(con: duckdb.DuckDBPyConnection) -> None:
    """Load DuckDB's secure crypto module (OpenSSL, in the httpfs extension) into ``con``, from
    the version-matched wheel salesml installs, else from DuckDB's own extension folder. Without
    it DuckDB can only write encryption through a module it calls unsafe: that is never used; this
    stops with a message saying what to install."""
    version = duckdb.__version__
    try:
        import duckdb_extension_httpfs as wheel

        found = Path(wheel.__file__).parent / "extensions" / f"v{version}" / "httpfs.duckdb_extension"
    except ImportError:
        found = None
    try:
        if found is not None and found.exists():
            con.execute(f"LOAD '{_literal(str(found))}'")
        else:
            con.execute("LOAD httpfs")  # installed in DuckDB's extension folder (never downloaded here)
    except duckdb.Error:
        raise WarehouseError(
            f"an encrypted warehouse or backup needs DuckDB's secure crypto module (the httpfs extension "
            f"built for DuckDB {version}), which is not installed: pip install '{CRYPTO_PACKAGE}=={version}' "
            "into salesml's environment (make install does)"
        ) from None


def _literal(text: str) -> str:
    """``text`` inside a SQL string literal."""
    return text.replace("'", "''")


def attach(con: duckdb.DuckDBPyConnection, path: str | Path, alias: str, *, key: Key | None, read_only: bool) -> None:
    """Attach the DuckDB file ``path`` as ``alias``, decrypted with ``key`` (None: a plain file).
    A missing, wrong or unexpected key is a :class:`WarehouseError` in one line naming the file
    and the setting."""
    options = ["READ_ONLY" if read_only else "READ_WRITE"]
    if key is not None:
        load_crypto(con)
        options.append(f"ENCRYPTION_KEY '{_literal(key.value)}'")
    sql = f"ATTACH '{_literal(str(path))}' AS \"{alias}\" ({', '.join(options)})"
    try:
        con.execute(sql)
    except duckdb.Error as e:
        raise _key_error(e, Path(path), key) or e from None


def _key_error(e: BaseException, path: Path, key: Key | None) -> WarehouseError | None:
    """DuckDB's refusal of a key (or of its absence) as one line naming the file and the setting."""
    text = str(e)
    if "Wrong encryption key" in text:
        return WarehouseError(f"{path}: the key in ${key.env} is not the key this file was encrypted with ({key.setting})")
    if "without a key" in text:
        return WarehouseError(
            f"{path} is encrypted: set [warehouse] encryption_key_env to the environment variable that holds its key"
        )
    if "is not encrypted" in text and key is not None:
        return WarehouseError(
            f"{path} is not encrypted, but {key.setting} = {key.env!r} is set: encrypt it by backing it up and "
            "restoring it with the key set (salesml backup; salesml restore BACKUP --force), or remove the setting"
        )
    return None


def _duckdb(path: Path, read_only: bool, config: dict[str, Any], key: Key | None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to the file ``path``: opened directly, or, encrypted, as an in-memory
    database that attaches the file (named as DuckDB names a file it opens) and makes it the default."""
    if key is None:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as e:
            mapped = _key_error(e, path, None)
            if mapped is None:
                raise
            raise mapped from None
    con = duckdb.connect(":memory:", config=config)
    try:
        alias = path.stem if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", path.stem) and path.stem.lower() not in _RESERVED_CATALOGS else "warehouse"
        attach(con, path, alias, key=key, read_only=read_only)
        con.execute(f'USE "{alias}"')
    except BaseException:
        _close_after_error(con)
        raise
    return con


#: names DuckDB keeps for its own catalogs
_RESERVED_CATALOGS = {"memory", "system", "temp", "main"}


@contextmanager
def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    memory_limit: str = "",
    threads: int = 0,
    lock_wait_s: float = 10.0,
    key: Key | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse file ``path`` for the duration of a ``with`` block.

    Prefer :func:`open` (it takes the settings, so the memory limit, threads and key cannot be
    forgotten). A writable connection creates the file and the tables when missing; the files
    DuckDB creates meanwhile (the warehouse, its write-ahead log) are owner-only (0600). A
    read-only one on a missing file is an error that says how to build a warehouse. If another
    process holds the file, retry for ``lock_wait_s`` seconds, then fail naming it. A full disk
    is a :class:`~salesml.errors.DiskFullError` naming ``path``; running out of memory under
    ``memory_limit`` a :class:`WarehouseError` naming the setting; a missing or wrong ``key`` one
    line naming the file and the setting.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise WarehouseError(
            f"no warehouse at {path}: run `salesml demo` to build the demo one, or "
            "`salesml ingest` to load your data (or point SALESML_WAREHOUSE at one)"
        )
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise disk_full(e, path) or e from None
    config = _config(memory_limit, threads)
    with owner_only(not read_only):
        con = _open_waiting(path, read_only, config, key, lock_wait_s)
        if read_only and _outdated(con):  # made by an older salesml: a writable connection brings it up to date
            _close_after_error(con)
            with connect(path, memory_limit=memory_limit, threads=threads, lock_wait_s=lock_wait_s, key=key):
                pass
            con = _open_waiting(path, read_only, config, key, lock_wait_s)
        try:
            if not read_only:
                init_schema(con)
            yield con
        except BaseException as e:
            _close_after_error(con)
            if not read_only:
                _tidy_after_failed_write(path, config, key)
            mapped = _mapped_error(e, path, memory_limit)
            if mapped is None:
                raise
            raise mapped from None
        else:
            try:
                con.close()  # may checkpoint: a write, which can find the disk full
            except (duckdb.Error, OSError) as e:
                mapped = _mapped_error(e, path, memory_limit)
                if mapped is None:
                    raise
                raise mapped from None


@contextmanager
def owner_only(on: bool = True) -> Iterator[None]:
    """Files created in the block are owner-only (umask 077), when ``on``: a writable connection's
    warehouse file and write-ahead log. The process's umask is restored after the block."""
    if not on:
        yield
        return
    before = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(before)


def _config(memory_limit: str, threads: int) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    return config


def _close_after_error(con: duckdb.DuckDBPyConnection) -> None:
    """Close a connection whose work failed; the failure that is reported is the work's."""
    with suppress(duckdb.Error, OSError):  # e.g. a database invalidated by the failed write
        con.close()


def _tidy_after_failed_write(path: Path, config: dict[str, Any], key: Key | None = None) -> None:
    """After a write that failed fatally (a full disk), DuckDB leaves its write-ahead log
    beside the file, empty or holding only what was rolled back: a brief writable connection
    replays what counts, checkpoints and removes it. Best effort: the disk may still be full."""
    if not path.with_name(path.name + ".wal").exists():
        return
    with suppress(duckdb.Error, OSError, WarehouseError):
        _duckdb(path, False, config, key).close()


def _mapped_error(e: BaseException, path: Path, memory_limit: str) -> SalesmlError | None:
    """A DuckDB failure a user can act on, as a clear error (None: report ``e`` as it is)."""
    if not isinstance(e, duckdb.Error | OSError):
        return None
    # an OSError names the file it failed on; DuckDB's errors are about the warehouse
    full = disk_full(e, None if isinstance(e, OSError) and e.filename else path)
    if full is not None:
        return full
    if isinstance(e, duckdb.OutOfMemoryException) and memory_limit:
        reason = str(e).splitlines()[0]
        return WarehouseError(
            f"out of memory under [warehouse] memory_limit = {memory_limit!r} ({reason}): raise the "
            'limit in the config file, or set it to "" for DuckDB\'s default'
        )
    return None


#: columns added after schema version 1 (ALTER TABLE ... ADD COLUMN IF NOT EXISTS)
_MIGRATIONS = [
    # how a recorded command went, how long it took and what it wrote (salesml audit)
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS status VARCHAR",
    "ALTER TABLE schedule_runs ADD COLUMN IF NOT EXISTS emailed_to VARCHAR",
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS seconds DOUBLE",
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS output VARCHAR",
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS output_sha256 VARCHAR",
    # the load batches a command's figures came from (those loaded when it ran), e.g. "1-9,12"
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS input_batches VARCHAR",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS rows_merged BIGINT DEFAULT 0",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS rows_flagged BIGINT DEFAULT 0",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS rule_hits VARCHAR",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS notes VARCHAR",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS run_id VARCHAR",
    "ALTER TABLE quarantine ADD COLUMN IF NOT EXISTS rule VARCHAR",
    # the mapping a file was loaded with (a corrected mapping reloads an unchanged file)
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS mapping_hash VARCHAR",
    # returns loaded without a sale to reverse, and lines without a customer
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS rows_unlinked BIGINT DEFAULT 0",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS revenue_unlinked DECIMAL(18,2)",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS rows_anonymous BIGINT DEFAULT 0",
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS revenue_anonymous DECIMAL(18,2)",
    # physical lines of a text file (a record may span lines; blank lines hold none)
    "ALTER TABLE load_batches ADD COLUMN IF NOT EXISTS lines_read BIGINT",
    "ALTER TABLE ledger ADD COLUMN IF NOT EXISTS unlinked BOOLEAN DEFAULT false",
    # whether the entry's order line has a cost now (kept by each posting; see accounting.ledger)
    "ALTER TABLE ledger ADD COLUMN IF NOT EXISTS line_cost BOOLEAN",
    # churn scores made with a model that had seen the as-of date's future (a deliberate backfill)
    "ALTER TABLE churn_scores ADD COLUMN IF NOT EXISTS lookahead BOOLEAN DEFAULT false",
]


def _outdated(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse of ``con`` was made by an older salesml (schema_version < current)."""
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    except duckdb.Error:
        return True
    return not rows or int(rows[0][0]) < SCHEMA_VERSION


def _open_waiting(path: Path, read_only: bool, config: dict[str, Any], key: Key | None, lock_wait_s: float) -> duckdb.DuckDBPyConnection:
    """A connection to ``path`` (see :func:`_duckdb`); while another process holds the file,
    retried for ``lock_wait_s`` seconds, then an error naming it. A full disk is a DiskFullError."""
    deadline = time.monotonic() + lock_wait_s
    while True:
        try:
            return _duckdb(path, read_only, config, key)
        except duckdb.IOException as e:
            full = disk_full(e, path)
            if full is not None:
                raise full from None
            if "lock" not in str(e).lower():
                raise WarehouseError(f"cannot open warehouse {path}: {e}") from None
            if time.monotonic() >= deadline:
                raise WarehouseError(
                    f"warehouse {path} is in use by another process (waited {lock_wait_s:.0f}s): {e}"
                ) from None
            time.sleep(0.25)


#: the schema version that added ``ledger.line_cost``: older ledgers get it filled once
_LINE_COST_VERSION = 10


def sync_line_cost(con: duckdb.DuckDBPyConnection, lines: str) -> None:
    """Bring ``ledger.line_cost`` (whether an entry's order line has a cost now) in line with
    the order lines, for the entries of the lines (``order_id, line_no``) in table ``lines``
    (a line that is gone has no cost). Only the entries whose flag changes are written. Each
    posting calls it for the lines it took in; an older ledger gets it once for all its lines."""
    con.execute(f"""
        UPDATE ledger SET line_cost = c.has_cost
        FROM (
            SELECT e.order_id, e.line_no, coalesce(bool_or(ol.cost IS NOT NULL), false) AS has_cost
            FROM (SELECT DISTINCT order_id, line_no FROM {lines}) e
            LEFT JOIN order_lines ol ON ol.order_id = e.order_id AND ol.line_no = e.line_no
            GROUP BY ALL
        ) c
        WHERE ledger.order_id = c.order_id AND ledger.line_no = c.line_no AND ledger.line_cost IS DISTINCT FROM c.has_cost
    """)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall() if table_exists(con, "meta") else []
    before = int(rows[0][0]) if rows else None
    for ddl in _PROVENANCE_DDL + _MIGRATIONS:
        con.execute(ddl)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version' AND CAST(value AS INTEGER) < ?", [str(SCHEMA_VERSION), SCHEMA_VERSION])
    for t in schema.TABLES.values():
        con.execute(t.ddl())
    if before is not None and before < _LINE_COST_VERSION:
        sync_line_cost(con, "ledger")  # an older ledger: every entry's flag, once
    con.execute(
        "INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) DO NOTHING",
        [str(SCHEMA_VERSION)],
    )


# --------------------------------------------------------------------------- reading


def check_read_only_sql(sql: str) -> None:
    """Refuse anything but reading statements (SELECT, EXPLAIN, PRAGMA), naming the culprit."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as e:
        raise WarehouseError(f"cannot parse the SQL: {e}") from None
    if not statements:
        raise WarehouseError("no SQL statement given")
    for st in statements:
        kind = st.type.name
        if kind not in _READ_STATEMENTS:
            text = st.query.strip().rstrip(";")
            raise ReadOnlyError(
                f"refused: `{text[:80]}` is a {kind} statement; the warehouse is read-only "
                "here (use `salesml ingest` to load data)"
            )


def query(settings: Settings, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """Run read-only SQL on the settings' warehouse and return a DataFrame.

    Writes are refused twice over: the statement type is checked before running, and the
    connection is read-only with file access outside the warehouse disabled. The connection
    honours ``[warehouse] memory_limit`` and ``threads`` (see :func:`open`).
    """
    if not isinstance(settings, Settings):
        raise TypeError(
            f"query() takes the settings (salesml.config.load_settings()), not {type(settings).__name__}: "
            "they carry the warehouse path and its memory limit"
        )
    check_read_only_sql(sql)
    with open(settings, read_only=True) as con:
        con.execute("SET enable_external_access = false")
        try:
            statements = duckdb.extract_statements(sql)
            for st in statements[:-1]:
                con.execute(st)
            return con.execute(statements[-1], params).df() if params else con.execute(statements[-1]).df()
        except duckdb.Error as e:
            raise WarehouseError(f"SQL error: {e}") from None


def table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()[0][0]
    )


def row_count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    if not table_exists(con, name):
        return 0
    return con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0]


#: the date column that gives each table's time span in `salesml info`
_DATE_SPAN = {
    "order_lines": "order_date",
    "customers": "first_order_date",
    "reps": "valid_from",
    "targets": "period",
    "opportunities": "created_date",
    "inventory": "snapshot_date",
    "marketing_spend": "month",
    "tickets": "opened",
}


def info(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per canonical table: rows, loads, and first/last date."""
    rows = []
    for name in schema.TABLES:
        n = row_count(con, name)
        first = last = None
        col = _DATE_SPAN.get(name)
        if n and col:
            first, last = con.execute(f'SELECT min("{col}"), max("{col}") FROM "{name}"').fetchall()[0]
        batches = con.execute(
            "SELECT count(*) FROM load_batches WHERE table_name = ? AND status = 'loaded'", [name]
        ).fetchall()[0][0] if table_exists(con, "load_batches") else 0
        rows.append(
            {
                "table": name,
                "rows": n,
                "batches": batches,
                "first": None if first is None else str(first),
                "last": None if last is None else str(last),
            }
        )
    return pd.DataFrame(rows)


def sales_date_range(con: duckdb.DuckDBPyConnection) -> tuple[Any, Any]:
    return con.execute("SELECT min(order_date), max(order_date) FROM order_lines").fetchall()[0]


# --------------------------------------------------------------------------- writing


@dataclass
class BatchRecord:
    """What is known about one load before it is written."""

    source: str
    table_name: str
    path: str
    content_hash: str
    encoding: str | None
    rows_read: int
    rows_fixed: int
    quarantine_reasons: dict[str, int]
    revenue_read_cents: int | None
    revenue_quarantined_cents: int | None
    rows_merged: int = 0
    rows_flagged: int = 0
    rule_hits: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    run_id: str | None = None
    seconds: float = 0.0
    mapping_hash: str | None = None
    rows_unlinked: int = 0
    revenue_unlinked_cents: int | None = None
    rows_anonymous: int = 0
    revenue_anonymous_cents: int | None = None
    lines_read: int | None = None


def loaded_batch_for_hash(
    con: duckdb.DuckDBPyConnection, table_name: str, content_hash: str, mapping_hash: str | None = None
) -> dict | None:
    """The live batch that loaded exactly this content into this table with this mapping, if any."""
    df = con.execute(
        "SELECT * FROM load_batches WHERE table_name = ? AND content_hash = ? AND status = 'loaded' "
        "AND mapping_hash IS NOT DISTINCT FROM ? ORDER BY batch_id DESC LIMIT 1",
        [table_name, content_hash, mapping_hash],
    ).df()
    return None if df.empty else df.iloc[0].to_dict()


def live_batches(con: duckdb.DuckDBPyConnection, table_name: str, path: str) -> pd.DataFrame:
    """The live batches of a file (its earlier versions or mappings): batch_id, content_hash, mapping_hash."""
    return con.execute(
        "SELECT batch_id, content_hash, mapping_hash FROM load_batches WHERE table_name = ? AND path = ? AND status = 'loaded'",
        [table_name, path],
    ).df()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction: everything in the block is written, or nothing."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def replace_rows(settings: Settings, table: str, rows: pd.DataFrame, where: dict[str, Any], command: str, params: dict[str, Any]) -> int:
    """Write a model's output (churn scores, forecasts) into ``table``: the rows matching
    ``where`` (column -> value: a scoring's as-of date and version, a forecast's version) are
    replaced by ``rows`` (matched to the table's columns by name and cast to their types), in
    one transaction with an audit entry (``command``, ``params`` and the rows replaced).
    Returns how many rows were replaced."""
    cond = " AND ".join(f'"{c}" = ?' for c in where) or "TRUE"
    values = list(where.values())
    with open(settings) as con:
        con.register("_replacing", rows)
        try:
            with transaction(con):
                replaced = con.execute(f'SELECT count(*) FROM "{table}" WHERE {cond}', values).fetchall()[0][0]
                con.execute(f'DELETE FROM "{table}" WHERE {cond}', values)
                con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM _replacing')
                audit(con, command, {**params, "replaced": int(replaced)})
        finally:
            con.unregister("_replacing")
    return int(replaced)


def known_keys(con: duckdb.DuckDBPyConnection, table: schema.Table) -> dict[str, frozenset]:
    """For each table ``table`` references and that has rows, the keys it holds."""
    known = {}
    for (tname, _col), (ref, ref_col) in schema.FOREIGN_KEYS.items():
        if tname == table.name and ref not in known and row_count(con, ref):
            known[ref] = frozenset(r[0] for r in con.execute(f'SELECT DISTINCT "{ref_col}" FROM "{ref}"').fetchall())
    return known


_SALES_COLUMNS = {
    "order_id": "object", "line_no": "float64", "customer_id": "object", "product_id": "object",
    "order_date": "datetime64[ns]", "quantity": "float64", "returned": "float64",
}


def sales_for_returns(
    con: duckdb.DuckDBPyConnection,
    pairs: pd.DataFrame,
    named_orders: Sequence[str],
    exclude_batches: Sequence[int],
    *,
    sales: str = "order_lines",
    returns: str = "order_lines",
    pair_hash: str | None = None,
) -> pd.DataFrame:
    """Completed sales already loaded that returns may reverse — those of the given
    (customer_id, product_id) pairs and of the named orders — with the quantity returned so
    far; not those of ``exclude_batches`` (earlier versions of the file being loaded).

    ``sales`` and ``returns``: the tables holding them (the warehouse's order lines, or an
    import run's own tables of the files it has staged); ``pair_hash``: a column of ``sales``
    holding ``hash(customer_id, product_id)``, which narrows the sales to the pairs' on one
    integer before their text is compared (a run's staged sales grow with every file).

    Columns and dtypes are fixed (order_id, line_no, customer_id, product_id, order_date,
    quantity, returned), also when nothing matches."""
    probe = pd.DataFrame({
        "customer_id": pd.Series(pairs["customer_id"].astype(str).tolist() if len(pairs) else [], dtype=object),
        "product_id": pd.Series(pairs["product_id"].astype(str).tolist() if len(pairs) else [], dtype=object),
    })
    columns = "o.order_id, o.line_no, o.customer_id, o.product_id, o.order_date, o.quantity, o.status, o.batch_id"
    of_pairs = sales if pair_hash is None else (
        f'(SELECT * FROM "{sales}" WHERE "{pair_hash}" IN '
        "(SELECT hash(customer_id::VARCHAR, product_id::VARCHAR) FROM _pairs))"
    )
    named = [str(o) for o in named_orders]
    # the sales of the pairs (a join on the small probe) and of the named orders, if any
    cand = f"SELECT {columns} FROM {of_pairs} o JOIN _pairs p ON p.customer_id::VARCHAR = o.customer_id AND p.product_id::VARCHAR = o.product_id"
    if named:
        cand += (
            f' UNION ALL SELECT {columns} FROM "{sales}" o WHERE list_contains($named::VARCHAR[], o.order_id)'
            " AND NOT EXISTS (SELECT 1 FROM _pairs p WHERE p.customer_id::VARCHAR = o.customer_id AND p.product_id::VARCHAR = o.product_id)"
        )
    excluded = [int(b) for b in exclude_batches]
    params: dict[str, Any] = {"excl": excluded} | ({"named": named} if named else {})
    con.register("_pairs", probe)
    try:
        df = con.execute(
            f"""
            WITH cand AS ({cand}), s AS (
                SELECT order_id, line_no, customer_id, product_id, order_date, quantity FROM cand
                WHERE status = 'completed' AND quantity > 0 AND NOT list_contains($excl::INTEGER[], batch_id)
            ), r AS (
                -- what was returned of those sales so far (only returns naming one of them)
                SELECT o.return_of_order_id AS order_id, o.return_of_line_no AS line_no, -sum(o.quantity) AS returned
                FROM "{returns}" o SEMI JOIN (SELECT DISTINCT order_id FROM s) k ON o.return_of_order_id = k.order_id
                WHERE o.status = 'returned' AND NOT list_contains($excl::INTEGER[], o.batch_id) GROUP BY ALL
            )
            SELECT s.order_id, s.line_no::DOUBLE AS line_no, s.customer_id, s.product_id,
                   s.order_date::TIMESTAMP AS order_date, s.quantity::DOUBLE AS quantity,
                   coalesce(r.returned, 0)::DOUBLE AS returned
            FROM s LEFT JOIN r USING (order_id, line_no)
            """,
            params,
        ).df()
    finally:
        con.unregister("_pairs")
    return df.astype(_SALES_COLUMNS)


def live_batches_for_path(con: duckdb.DuckDBPyConnection, table_name: str, path: str) -> list[int]:
    return [
        r[0]
        for r in con.execute(
            "SELECT batch_id FROM load_batches WHERE table_name = ? AND path = ? AND status = 'loaded'",
            [table_name, path],
        ).fetchall()
    ]


def existing_keys(
    con: duckdb.DuckDBPyConnection,
    table: schema.Table,
    incoming: pd.DataFrame,
    exclude_batches: list[int],
    *,
    up_to_batch: int | None = None,
) -> pd.DataFrame:
    """Rows of ``incoming`` whose key is already in the warehouse (outside ``exclude_batches``;
    with ``up_to_batch``, only in batches up to that id: those before an import run, whose
    own batches are checked apart).

    Returns the incoming index values (column ``idx``) and the batch holding the key.
    """
    keys = list(table.key)
    excluded = [int(b) for b in exclude_batches]
    def upto(alias: str) -> str:
        return "" if up_to_batch is None else f" AND {alias}{schema.BATCH_ID} <= {int(up_to_batch)}"

    others = con.execute(
        f'SELECT count(*) FROM (SELECT 1 FROM "{table.name}" WHERE NOT list_contains($x::INTEGER[], {schema.BATCH_ID}){upto("")} LIMIT 1)',
        {"x": excluded},
    ).fetchall()[0][0]
    if not others or incoming.empty:  # nothing loaded from other files: no key can be taken
        return pd.DataFrame({"idx": pd.Series([], dtype="int64"), "batch_id": pd.Series([], dtype="int64")})
    probe = incoming[keys].copy()
    probe["idx"] = incoming.index
    # as Arrow: DuckDB's scan of a pandas frame of Arrow-backed text uses an attribute pandas
    # deprecates (a FutureWarning per load), and is slower
    con.register("_probe", arrow_rows(probe.reset_index(drop=True)))
    try:
        # '=' where the file has no missing value in a key column: DuckDB then skips the parts of
        # the table whose keys lie outside the file's range (a day's invoices among years of
        # them: ~5x faster); a missing key matches a missing one (IS NOT DISTINCT FROM)
        cond = " AND ".join(
            f't."{k}" {"IS NOT DISTINCT FROM" if incoming[k].isna().any() else "="} p."{k}"' for k in keys
        )
        excl = upto("t.")
        if exclude_batches:
            excl += f" AND t.{schema.BATCH_ID} NOT IN ({', '.join(str(int(b)) for b in exclude_batches)})"
        sql = f'SELECT p.idx, min(t.{schema.BATCH_ID}) AS batch_id FROM _probe p JOIN "{table.name}" t ON {cond}{excl} GROUP BY p.idx'
        return con.execute(sql).df()
    finally:
        con.unregister("_probe")


def _select_casts(table: schema.Table, present: Iterable[str] | None = None) -> str:
    """The table's columns cast to their warehouse types; a column the rows do not have
    (``present``: the columns they do have) is NULL, never a column of missing values."""
    have = None if present is None else set(present)
    parts = []
    for c in table.columns:
        if have is not None and c.name not in have:
            parts.append(f'CAST(NULL AS {c.sql_type}) AS "{c.name}"')
        elif c.dtype == "money":
            parts.append(f'CAST(round("{c.name}", 2) AS {c.sql_type}) AS "{c.name}"')
        elif c.dtype in ("price", "qty", "rate"):
            scale = int(c.sql_type.split(",")[1].rstrip(")"))
            parts.append(f'CAST(round("{c.name}", {scale}) AS {c.sql_type}) AS "{c.name}"')
        else:
            parts.append(f'CAST("{c.name}" AS {c.sql_type}) AS "{c.name}"')
    return ", ".join(parts)


#: rows in one of DuckDB's row groups: an Arrow table handed over in record batches of this
#: size is inserted about 1.5x faster than in larger ones (DuckDB scans a batch per thread and
#: writes each row group as it fills, instead of leaving whole row groups to the checkpoint)
ROW_GROUP_ROWS = 122_880


def arrow_rows(rows: pd.DataFrame):
    """The rows as an Arrow table for DuckDB to scan, in record batches of a row group each:
    about twice as fast to insert as a pandas frame of Arrow-backed text.
    A column Arrow cannot type (mixed Python objects) leaves the frame as it is."""
    try:
        table = pa.Table.from_pandas(rows, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return rows
    batches = []
    for start in range(0, table.num_rows, ROW_GROUP_ROWS):
        # a slice over two chunks of a column is joined (only that slice is copied)
        batches += table.slice(start, ROW_GROUP_ROWS).combine_chunks().to_batches()
    return pa.Table.from_batches(batches, schema=table.schema)


def write_batch(
    con: duckdb.DuckDBPyConnection,
    record: BatchRecord,
    rows: pd.DataFrame,
    quarantine: pd.DataFrame,
    replaces: list[int],
    fixes: pd.DataFrame | None = None,
    *,
    in_transaction: bool = False,
) -> dict[str, Any]:
    """Write one load in a single transaction (or in the caller's, with ``in_transaction``)
    and return its load_batches row.

    ``rows`` are typed canonical rows (with ``source_row``); ``quarantine`` has
    ``source_row, reason, column, details, record``. Rows of the batches in ``replaces`` (earlier
    versions of the same file) are deleted and those batches marked ``replaced``. If the
    money written does not reconcile with what was read, nothing is written.
    """
    table = schema.table(record.table_name)
    if "rule" not in quarantine.columns:
        quarantine = quarantine.assign(rule=None)
    fixes = fixes if fixes is not None else pd.DataFrame(columns=["kind", "source_row", "rule", "column", "before", "after"])
    con.register("_incoming", arrow_rows(rows))
    if len(quarantine):  # registering a frame costs ~2 ms: a day's file often has nothing to quarantine
        con.register("_quarantine", quarantine[["source_row", "reason", "column", "details", "record", "rule"]])
    if len(fixes):
        con.register("_fixes", fixes[["source_row", "kind", "rule", "column", "before", "after"]])
    try:
        if in_transaction:
            batch_id = _write_batch_rows(con, table, record, len(rows), len(quarantine), replaces, len(fixes), rows.columns)
        else:
            with transaction(con):
                batch_id = _write_batch_rows(con, table, record, len(rows), len(quarantine), replaces, len(fixes), rows.columns)
    finally:
        for name in ("_incoming", "_quarantine", "_fixes"):
            with suppress(duckdb.Error):  # an aborted transaction: the caller rolls back and says why
                con.unregister(name)
    cur = con.execute("SELECT * FROM load_batches WHERE batch_id = ?", [batch_id])
    return dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))  # one row: no frame


def _write_batch_rows(
    con: duckdb.DuckDBPyConnection,
    table: schema.Table,
    record: BatchRecord,
    n_rows: int,
    n_quarantined: int,
    replaces: list[int],
    n_fixes: int = 0,
    present: Iterable[str] | None = None,
) -> int:
    """The statements of one load; runs inside the caller's transaction. ``present``: the
    columns the incoming rows have (the others are NULL)."""
    batch_id = con.execute("SELECT nextval('batch_seq')").fetchall()[0][0]
    for old in replaces:
        con.execute(f'DELETE FROM "{table.name}" WHERE {schema.BATCH_ID} = ?', [old])
        con.execute("UPDATE load_batches SET status = 'replaced', replaced_by = ? WHERE batch_id = ?", [batch_id, old])
    if n_rows:
        con.execute(
            f'INSERT INTO "{table.name}" SELECT {_select_casts(table, present)}, '
            f"{batch_id}::INTEGER, CAST({schema.SOURCE_ROW} AS INTEGER) FROM _incoming"
        )
    if n_quarantined:
        con.execute(
            "INSERT INTO quarantine (batch_id, table_name, path, source_row, reason, \"column\", details, record, rule) "
            'SELECT ?, ?, ?, CAST(source_row AS INTEGER), reason, "column", details, record, rule FROM _quarantine',
            [batch_id, table.name, record.path],
        )
    if n_fixes:
        con.execute(
            "INSERT INTO row_fixes SELECT ?, ?, CAST(source_row AS INTEGER), kind, rule, \"column\", "
            "CAST(before AS VARCHAR), CAST(after AS VARCHAR) FROM _fixes",
            [batch_id, table.name],
        )
    loaded = con.execute(f'SELECT count(*) FROM "{table.name}" WHERE {schema.BATCH_ID} = ?', [batch_id]).fetchall()[0][0]
    revenue_loaded = None
    if table.name == "order_lines":
        revenue_loaded = con.execute(
            f"SELECT coalesce(sum(amount), 0) FROM order_lines WHERE {schema.BATCH_ID} = ?", [batch_id]
        ).fetchall()[0][0]
    if loaded + n_quarantined + record.rows_merged != record.rows_read:
        raise WarehouseError(
            f"{record.path}: rows do not reconcile: read {record.rows_read}, loaded {loaded} + "
            f"quarantined {n_quarantined} + merged {record.rows_merged}; nothing was written"
        )
    if revenue_loaded is not None and record.revenue_read_cents is not None:
        loaded_cents = int(round(revenue_loaded * 100))
        quarantined_cents = record.revenue_quarantined_cents or 0
        if loaded_cents + quarantined_cents != record.revenue_read_cents:
            raise WarehouseError(
                f"{record.path}: revenue does not reconcile to the cent: read "
                f"{record.revenue_read_cents / 100:.2f}, loaded {loaded_cents / 100:.2f} + "
                f"quarantined {quarantined_cents / 100:.2f}; nothing was written"
            )
    con.execute(
        """INSERT INTO load_batches (batch_id, source, table_name, path, content_hash, encoding, rows_read,
               rows_loaded, rows_fixed, rows_quarantined, quarantine_reasons, revenue_read, revenue_loaded,
               revenue_quarantined, status, replaced_by, loaded_at, seconds, actor, salesml_version,
               rows_merged, rows_flagged, rule_hits, notes, run_id, mapping_hash, rows_unlinked,
               revenue_unlinked, rows_anonymous, revenue_anonymous, lines_read)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'loaded', NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            batch_id,
            record.source,
            record.table_name,
            record.path,
            record.content_hash,
            record.encoding,
            record.rows_read,
            loaded,
            record.rows_fixed,
            n_quarantined,
            json.dumps(record.quarantine_reasons, ensure_ascii=False),
            None if record.revenue_read_cents is None else record.revenue_read_cents / 100,
            revenue_loaded,
            None if record.revenue_quarantined_cents is None else record.revenue_quarantined_cents / 100,
            datetime.now(),
            record.seconds,
            actor(),
            _version(),
            record.rows_merged,
            record.rows_flagged,
            json.dumps(record.rule_hits, ensure_ascii=False),
            json.dumps(record.notes, ensure_ascii=False),
            record.run_id,
            record.mapping_hash,
            record.rows_unlinked,
            None if record.revenue_unlinked_cents is None else record.revenue_unlinked_cents / 100,
            record.rows_anonymous,
            None if record.revenue_anonymous_cents is None else record.revenue_anonymous_cents / 100,
            record.lines_read,
        ],
    )
    return batch_id


def batch_ranges(ids: Iterable[int]) -> str:
    """Batch ids as compact ranges: ``[1, 2, 3, 5, 7, 8]`` -> ``"1-3,5,7-8"``."""
    out: list[str] = []
    run: list[int] = []
    for i in sorted(set(int(x) for x in ids)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [i]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(out)


def audit(con: duckdb.DuckDBPyConnection, command: str, params: dict[str, Any] | None = None, *, status: str = "ok",
          seconds: float | None = None, output: str | os.PathLike | None = None, inputs: bool = False) -> None:
    """Record who ran what with which parameters, how it went (``status``: ok / failed), how
    long it took and the file it wrote (with its SHA-256, so a page or an export can be shown
    to be the one the command wrote); with ``inputs``, the load batches its figures came from
    (those loaded at the time, as ranges of batch ids)."""
    batches = None
    if inputs and table_exists(con, "load_batches"):
        batches = batch_ranges(r[0] for r in con.execute("SELECT batch_id FROM load_batches WHERE status = 'loaded'").fetchall())
    digest = None
    if output is not None and Path(output).is_file():
        h = hashlib.sha256()
        with Path(output).open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()
    con.execute(
        "INSERT INTO audit_log (logged_at, actor, command, params, status, seconds, output, output_sha256, input_batches) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [datetime.now(), actor(), command, json.dumps(params or {}, ensure_ascii=False, default=str), status,
         None if seconds is None else round(float(seconds), 3), None if output is None else str(output), digest, batches],
    )


def record(settings: Settings, command: str, params: dict[str, Any] | None = None, **how: Any) -> None:
    """:func:`audit` through a short connection of its own (commands that do not write the
    warehouse otherwise: report renders, training, exports). Nothing is recorded when there is
    no warehouse yet."""
    if not settings.warehouse_path.exists():
        return
    with open(settings) as con:
        audit(con, command, params, inputs=True, **how)


# --------------------------------------------------------------------------- exports

#: tables an export reads ``SELECT *`` from, in this order, when named bare
_PROVENANCE_TABLES = ("load_batches", "quarantine", "audit_log")

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def warehouse_tables(settings: Settings) -> list[str]:
    """Tables of the warehouse: canonical ones in load order, then provenance, then others."""
    found = query(
        settings,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name",
    )["table_name"].tolist()
    preferred = [*schema.TABLES, *_PROVENANCE_TABLES]
    return [t for t in preferred if t in found] + [t for t in found if t not in preferred]


def _table_sql(name: str) -> str:
    if name in schema.TABLES:
        order = ", ".join(f'"{k}"' for k in schema.TABLES[name].key)
        return f'SELECT * FROM "{name}" ORDER BY {order}'
    return f'SELECT * FROM "{name}"'


def _table_named(settings: Settings, name: str) -> str:
    """The warehouse table called ``name`` (any case), or an ExportError listing the tables."""
    tables = warehouse_tables(settings)
    match = next((t for t in tables if t.lower() == name.lower()), None)
    if match is None:
        raise ExportError(f"{name!r} is neither a table of the warehouse nor a SELECT query; tables: {', '.join(tables)}")
    return match


def resolve(settings: Settings, what: str) -> tuple[str, pd.DataFrame]:
    """``what`` as a frame: a bare table name reads the table, anything else runs as read-only SQL.

    Returns a short description ("table order_lines" / "query") and the frame. SQL goes
    through :func:`salesml.warehouse.query`, which refuses anything that writes.
    """
    text = what.strip()
    if not text:
        raise ExportError("name a table (e.g. order_lines) or give a SELECT query to export")
    if _IDENTIFIER.match(text):
        match = _table_named(settings, text)
        return f"table {match}", query(settings, _table_sql(match))
    try:
        check_read_only_sql(text)  # a write is refused here (ReadOnlyError)
    except ReadOnlyError:
        raise
    except WarehouseError as e:  # not parseable: say what was expected
        tables = ", ".join(warehouse_tables(settings))
        raise ExportError(
            f"{text[:80]!r} is neither a table of the warehouse ({tables}) nor valid SQL: {e}"
        ) from None
    return "query", query(settings, text)


def export(
    settings: Settings, what: str, to: str | os.PathLike, sheet: str = "data", partition_by: tuple[str, ...] = ()
) -> tuple[Path, int, int]:
    """Export a warehouse table or a read-only query's result; returns (path, rows, columns).

    The extension of ``to`` (``.xlsx`` / ``.csv`` / ``.parquet``), for xlsx the sheet name,
    and partitions (Parquet only) are checked before the warehouse is read. Parquet is
    streamed from DuckDB in batches (any size, types kept: see
    :func:`~salesml.io.export.export_batches`); xlsx and CSV go through a frame.
    """
    check_target(to, sheet, partition_by)
    if export_format(to) == "parquet":
        return _export_parquet(settings, what, to, partition_by)
    _, df = resolve(settings, what)
    path = export_frame(df, to, sheet=sheet)
    return path, int(df.shape[0]), int(df.shape[1])


def _export_parquet(settings: Settings, what: str, to: str | os.PathLike, partition_by: tuple[str, ...]) -> tuple[Path, int, int]:
    """A table or read-only query streamed to Parquet (see :func:`export`)."""
    text = what.strip()
    if not text:
        raise ExportError("name a table (e.g. order_lines) or give a SELECT query to export")
    if _IDENTIFIER.match(text):
        sql = _table_sql(_table_named(settings, text))
    else:
        check_read_only_sql(text)
        statements = duckdb.extract_statements(text)
        if len(statements) != 1:
            raise ExportError("export one SELECT query at a time")
        sql = statements[0].query
    with open(settings, read_only=True) as con:
        con.execute("SET enable_external_access = false")
        try:
            reader = con.execute(sql).to_arrow_reader(_PARQUET_BATCH_ROWS)
        except duckdb.Error as e:
            raise WarehouseError(f"SQL error: {e}") from None
        path, rows = export_batches(reader, to, partition_by)
        return path, rows, len(reader.schema.names)


#: rows per batch streamed from DuckDB into a Parquet export
_PARQUET_BATCH_ROWS = 1_000_000
