"""Step 6 of the import, load — and the run of all steps for a source (see :mod:`salesml.ingest`).

A source is loaded as one unit: every table's mapping is checked against its files' headers
before anything is read, every file is read, mapped and cleaned without holding the
warehouse, and then all of the source's batches are written in one transaction — all of
them or none. A file whose content is loaded already *with the same mapping* is skipped;
a new version of a file, or the same file under a corrected mapping, replaces its earlier
rows in that transaction and says so.

Every row read ends in exactly one place: loaded (perhaps with recorded fixes or flags),
merged into an identical row (``distinct`` tables only), or quarantined with a reason —
malformed lines too, with their line number and raw text. Rows and, for order lines,
revenue reconcile to the cent, or nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm.auto import tqdm

from salesml import duck, schema, warehouse
from salesml.cleaning import CleaningError, Context, RuleLog
from salesml.cleaning import log as L
from salesml.cleaning.rules import (
    CLEANING_RULES,
    LINKING_RULES,
    SET_RULES,
    TEXT_RULES,
    USER_RULES,
    apply_source_rules,
    as_text,
    mask,
    on_rows_still_in,
    source_rules,
)
from salesml.config import Settings, SourceSettings, TableSource
from salesml.ingest.mapping import (
    MappingError,
    NumberStyle,
    check_mapping,
    join,
    map_columns,
)
from salesml.ingest.read import (
    IngestError,
    batch_identity_note,
    content_hash,
    exact_repeats,
    header_of,
    join_frames,
    mapping_hash,
    read_location,
    source_files,
)
from salesml.io import RawTable, SourceFileError, shared_scans
from salesml.io.csv import SOURCE_ROW


@dataclass
class LoadResult:
    """The reconciliation of one file's load (what `salesml ingest` prints)."""

    batch_id: int | None
    source: str
    table: str
    path: str
    rows_read: int
    rows_loaded: int
    rows_fixed: int
    rows_quarantined: int
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    revenue_read: float | None = None
    revenue_loaded: float | None = None
    revenue_quarantined: float | None = None
    skipped: bool = False
    rows_merged: int = 0
    rows_flagged: int = 0
    rule_hits: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    replaced_batches: list[int] = field(default_factory=list)
    encoding: str | None = None
    run_id: str | None = None
    seconds: float = 0.0
    #: returns loaded without a sale to reverse (policy ``unlinked_returns = "accept"``)
    rows_unlinked: int = 0
    revenue_unlinked: float | None = None
    #: order lines loaded without a customer (walk-in / guest sales)
    rows_anonymous: int = 0
    revenue_anonymous: float | None = None
    #: physical lines of a text file (header and blank lines included)
    lines_read: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- pure steps


#: canonical id columns that must hold a single value: a line break or the file's delimiter
#: inside one means a quote was left open and swallowed the next lines
_ID_COLUMNS = ("order_id", "customer_id", "product_id", "rep_id", "return_of_order_id", "opp_id", "ticket_id")


def broken_keys(mapped: pd.DataFrame, table: schema.Table, delimiter: str, spans: dict | None = None) -> RuleLog:
    """Records that swallowed other lines: a key or id holding a line break, or — in a record
    that spans several lines of the file — the delimiter. Quarantined, so the swallowed
    lines' money is not silently lost. (A delimiter inside a quoted key on one line is fine:
    product names carry commas.)

    ``spans``: the records of a text file that span lines (index → lines); only they can hold
    a line break, so only they are looked at. None (a spreadsheet, a query): every row is."""
    log = RuleLog()
    if spans is not None and not spans:
        return log  # every record is one line of the file
    rows = mapped if spans is None else mapped.loc[mapped.index.isin(list(spans))]
    delim = delimiter if len(delimiter) == 1 and spans is not None else None  # only records spanning lines
    for col in dict.fromkeys([*table.key, *_ID_COLUMNS]):
        if col not in rows.columns or pd.api.types.is_numeric_dtype(rows[col]):
            continue
        text = as_text(rows[col])
        hit = mask(text.str.contains("[\n\r]", regex=True))
        if delim:
            hit |= mask(text.str.contains(delim, regex=False))
        log += L.problems(
            "broken_records", col, rows.index[hit], "holds a line break or, in a record spanning lines, the delimiter (a quote left open?)",
            [repr(v)[:80] for v in rows.loc[hit, col]],
        )
    return log


def fill_anonymous(df: pd.DataFrame, table: schema.Table, anonymous: str) -> pd.DataFrame:
    """Order lines without a customer get the source's anonymous id, if it has one."""
    if table.name != "order_lines" or not anonymous or "customer_id" not in df.columns:
        return df
    out = df.copy(deep=False)
    out["customer_id"] = as_text(out["customer_id"]).fillna(anonymous)
    return out


def prepare(
    raw: pd.DataFrame,
    spec: TableSource,
    ctx: Context,
    joins: Iterable[tuple[pd.DataFrame, tuple[str, ...], str]] = (),
    spans: dict[int, int] | None = None,
    row_hashes: np.ndarray | None = None,
) -> tuple[pd.DataFrame, RuleLog]:
    """Steps 2 to 5 for one file's rows — map, user rules, built-in cleaning, linking — each
    taking the previous step's table: returns (canonical rows, rule log). ``spans``: the
    records spanning lines (see :func:`broken_keys`); ``row_hashes``: the reader's hash of
    each row, if it has them."""
    source = ctx.source
    log = RuleLog()
    # exact repeats are judged on the rows as read, before generated columns (@seq) differ
    if not spec.distinct:
        log += exact_repeats(raw, source.duplicates, row_hashes)
    frame = raw
    for other, on, label in joins:
        frame, part = join(frame, other, on, label, ctx.where)
        log += part
    # 2. map
    try:
        mapped = map_columns(frame, spec.columns, ctx.table, ctx.where, NumberStyle.of(source))
    except MappingError as e:
        raise IngestError(str(e)) from None
    log += mapped.log + broken_keys(mapped.frame, ctx.table, source.delimiter, spans)
    df = mapped.frame
    del mapped, frame  # the rules replace columns: the replaced ones need not live on
    for rule in TEXT_RULES:
        df, part = rule(df, ctx)
        log += part
    df = fill_anonymous(df, ctx.table, source.anonymous_customer)
    # 3. the user's rules: case, codes, aliases, the source's own rules
    for rule in USER_RULES:
        if rule is source_rules:
            df, part, hits = apply_source_rules(df, ctx)
            ctx = dataclasses.replace(ctx, set_by_rules=hits)
        else:
            df, part = rule(df, ctx)
        log += part
    # 4. built-in cleaning, then the checks of a set of rows on the rows still in
    for rule in CLEANING_RULES:
        df, part = rule(df, ctx)
        log += part
    # 5. linking returns to their sales
    for rule in SET_RULES + LINKING_RULES:
        df, part = on_rows_still_in(rule, df, ctx, log.rejected)
        log += part
    return with_keys(df, ctx.table), log


def with_keys(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """The table's key columns, missing values where the source has none (a target of a rep
    names no team); any other column the source does not have stays absent (NULL when written)."""
    absent = [k for k in table.key if k not in df.columns]
    if not absent:
        return df
    out = df.copy(deep=False)
    for k in absent:
        dtype = {"date": "datetime64[ns]", "str": schema.TEXT, "period": schema.TEXT}.get(table.column(k).dtype, "float64")
        out[k] = pd.Series(pd.NA if dtype == schema.TEXT else np.nan, index=out.index, dtype=dtype)
    return out


def quarantine_rows(log: RuleLog, records: pd.DataFrame) -> pd.DataFrame:
    """One quarantine row per rejected row: the first problem (in rule order) as the
    reason, every problem in ``details``, the record as read."""
    cols = ["idx", "source_row", "rule", "reason", "column", "details", "record"]
    if log.problems.empty:
        return pd.DataFrame(columns=cols)
    p = log.problems.copy()
    p["idx"] = p["idx"].astype("int64")
    p["label"] = np.where(p["column"].notna(), p["column"].astype(str) + ": " + p["reason"].astype(str), p["reason"])
    p["full"] = np.where(p["detail"].notna(), p["label"] + " (" + p["detail"].astype(str) + ")", p["label"])
    first = p.drop_duplicates("idx", keep="first").set_index("idx").sort_index()
    details = p.groupby("idx", sort=True)["full"].agg(lambda s: "; ".join(dict.fromkeys(s)))
    rec = records.loc[first.index].drop(columns=[SOURCE_ROW], errors="ignore")
    as_text_ = [json.dumps({k: _plain(v) for k, v in r.items()}, ensure_ascii=False) for r in rec.to_dict(orient="records")]
    return pd.DataFrame(
        {
            "idx": first.index.to_numpy(),
            "source_row": records.loc[first.index, SOURCE_ROW].to_numpy(),
            "rule": first["rule"].to_numpy(),
            "reason": first["label"].to_numpy(),
            "column": first["column"].to_numpy(),
            "details": details.to_numpy(),
            "record": as_text_,
        }
    )[cols]


def reject_rows(rejects: pd.DataFrame) -> pd.DataFrame:
    """Malformed lines as quarantine rows (their line number and raw text)."""
    cols = ["idx", "source_row", "rule", "reason", "column", "details", "record"]
    if rejects is None or rejects.empty:
        return pd.DataFrame(columns=cols)
    last = rejects["last_line"] if "last_line" in rejects else rejects["source_row"]
    details = [f"lines {a}-{b}" if b != a else f"line {a}" for a, b in zip(rejects["source_row"], last, strict=True)]
    return pd.DataFrame(
        {
            "idx": -1 - np.arange(len(rejects)),
            "source_row": rejects["source_row"].to_numpy(),
            "rule": "read",
            "reason": "malformed line: " + rejects["reason"].astype(str),
            "column": None,
            "details": details,
            "record": rejects["text"].astype(str).to_numpy(),
        }
    )[cols]


def _plain(v):
    if v is None or (isinstance(v, float) and v != v):
        return None
    return v if isinstance(v, str | int | float | bool) else str(v)


def fix_rows(log: RuleLog, frame: pd.DataFrame) -> pd.DataFrame:
    """The fixes, flags and merges of a load, with the rows' numbers in the file."""
    rows = frame[SOURCE_ROW]
    parts = []
    if len(log.fixes):
        f = log.fixes
        parts.append(pd.DataFrame({"kind": "fix", "idx": f["idx"], "rule": f["rule"], "column": f["column"], "before": f["before"], "after": f["after"]}))
    if len(log.flags):
        f = log.flags
        parts.append(pd.DataFrame({"kind": "flag", "idx": f["idx"], "rule": f["rule"], "column": f["column"], "before": f["value"], "after": f["detail"]}))
    if len(log.merges):
        f = log.merges
        parts.append(pd.DataFrame({"kind": "merge", "idx": f["idx"], "rule": f["rule"], "column": None, "before": None, "after": ["into row " + str(rows[i]) for i in f["into"]]}))
    if not parts:
        return pd.DataFrame(columns=["kind", "source_row", "rule", "column", "before", "after"])
    out = pd.concat(parts, ignore_index=True)
    out.insert(1, "source_row", rows.loc[out["idx"].astype("int64")].to_numpy())
    return out.drop(columns="idx")


def reason_counts(quarantine: pd.DataFrame) -> dict[str, int]:
    if quarantine.empty:
        return {}
    return {str(k): int(v) for k, v in quarantine["reason"].value_counts().items()}


#: amounts at or above this are quarantined ("too large for the warehouse") and left out
#: of the money totals, which are exact integer cents
MONEY_LIMIT = 1e16


def cents(x: pd.Series) -> int:
    v = x.to_numpy(dtype="float64", na_value=np.nan)
    v = np.rint(v[np.abs(v) < MONEY_LIMIT] * 100)  # NaN fails the test too
    if not len(v) or float(np.abs(v).max()) * len(v) < 2**62:  # an int64 sum cannot overflow
        return int(v.astype(np.int64).sum())
    return sum(map(int, v))  # Python ints: no overflow


# --------------------------------------------------------------------------- one file


@dataclass
class Prepared:
    """One file read, mapped and cleaned, waiting to be written (or skipped)."""

    source_name: str
    table: schema.Table
    label: str
    content_hash: str
    mapping_hash: str
    run_id: str | None
    started: float
    skipped: dict | None = None
    raw: RawTable | None = None
    records: pd.DataFrame | None = None
    frame: pd.DataFrame | None = None
    log: RuleLog = field(default_factory=RuleLog)
    anonymous: str = ""
    #: physical lines of the file in no record, reject or blank line (0 when all add up)
    lost_lines: int = 0


def _connect(settings: Settings, read_only: bool = False):
    return warehouse.open(settings, read_only=read_only)


def prepare_file(
    settings: Settings,
    source_name: str,
    table_name: str,
    location: str | Path,
    spec: TableSource,
    source: SourceSettings,
    *,
    today: date | None = None,
    run_id: str | None = None,
    staged: Staged | None = None,
) -> Prepared:
    """Read, map and clean one file (or query) of a source, without writing: the warehouse is
    opened briefly to see what is loaded, which keys exist and which sales returns may
    reverse; ``staged`` holds the files of the same run prepared before this one (a
    :class:`Staged`), whose keys and sales count as loaded."""
    with _Look(settings) as look:
        started = time.perf_counter()
        table = schema.table(table_name)
        is_sql = source.format == "sql"
        location = location if is_sql else Path(location).resolve()
        where = f"{location} ({table.name})" if not is_sql else f"source {source_name} ({table.name})"
        m_hash = mapping_hash(source, spec)

        pre_hash = content_hash(source, location, sheet=spec.sheet)
        joined, join_hashes = join_frames(settings, source, spec.join, where)
        if pre_hash is not None and not join_hashes:
            done = _loaded(look(), table.name, pre_hash, m_hash)
            if done is not None:
                return Prepared(source_name, table, str(location), pre_hash, m_hash, run_id, started, skipped=done)
        raw = read_location(source, location, spec=spec, sheet=spec.sheet, query=spec.query,
                            max_bad_line_share=settings.cleaning.max_bad_line_share, known_hash=pre_hash)
        label = str(raw.path)
        c_hash = raw.content_hash if not spec.sheet or is_sql else pre_hash
        if join_hashes:
            c_hash = hashlib.sha256("|".join([c_hash, *join_hashes]).encode()).hexdigest()
        done = _loaded(look(), table.name, c_hash, m_hash) if c_hash != pre_hash else None
        if done is not None:
            return Prepared(source_name, table, label, c_hash, m_hash, run_id, started, skipped=done)

        known, loaded_rows, earlier = {}, 0, None
        con = look()
        if con is not None:
            known = warehouse.known_keys(con, table)
            loaded_rows = warehouse.row_count(con, table.name)
            if table.name == "order_lines" and loaded_rows:
                earlier = warehouse.live_batches(con, table.name, label)["batch_id"].astype(int).tolist()
        staged = staged if staged is not None else Staged()
        known = staged.known(table, known)
        sales = None
        if table.name == "order_lines" and (earlier is not None or staged.has_lines):
            def sales(pairs: pd.DataFrame, orders: list[str]) -> pd.DataFrame | None:
                """The sales loaded or staged that the file's returns could reverse (asked for by the
                linking step, once the returns and their canonical keys are known)."""
                loaded = warehouse.sales_for_returns(look(), pairs, orders, earlier) if earlier is not None else None
                return staged.sales(loaded, pairs, orders)
        ctx = Context(
            table=table,
            spec=spec,
            source=source,
            aliases=settings.aliases,
            settings=settings.cleaning,
            today=today or date.today(),
            known_keys=known,
            sales=sales,
            where=where,
        )
        try:
            spans = raw.line_spans if source.format == "csv" else None
            frame, log = prepare(raw.frame, spec, ctx, joined, spans, raw.row_hashes)
        except CleaningError as e:  # the rules name the setting to change; say in which source
            raise CleaningError(str(e).replace("[sources.<name>", f"[sources.{source_name}")) from None
        records = raw.frame
        if joined:  # show joined columns in quarantined records too
            records = frame[[SOURCE_ROW]].join(raw.frame.drop(columns=SOURCE_ROW))
        # the rows as read are kept for the quarantine's records: all of them while a key may yet
        # turn out to be loaded from another file, else only the rows already rejected
        others = loaded_rows or table.name in staged.tables
        if not others:
            records = records.loc[log.rejected]
        lost = raw.unaccounted_lines
        raw = dataclasses.replace(raw, frame=raw.frame.iloc[:0], row_hashes=None)  # the rows live on in frame and records
        return Prepared(source_name, table, label, c_hash, m_hash, run_id, started, raw=raw, records=records, frame=frame, log=log,
                        anonymous=source.anonymous_customer, lost_lines=lost)


class _Look:
    """One file's read-only look at the warehouse: opened on first use and kept while the file
    is prepared — its skip check, its keys and batches, the sales its returns could reverse:
    one opening instead of up to three (~20 ms each on a 1M-line warehouse) — and closed with
    it, so no lock is held between files. Calling it gives the connection, or None while
    there is no warehouse (nothing is loaded)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = ExitStack()
        self._con = None

    def __call__(self):
        if self._con is None and self._settings.warehouse_path.exists():
            self._con = self._stack.enter_context(_connect(self._settings, read_only=True))
        return self._con

    def __enter__(self) -> _Look:
        return self

    def __exit__(self, *exc) -> None:
        # closed as after a clean look whatever happened while the file was prepared: an error
        # of the file's rules is the file's, not the warehouse's, and propagates unchanged
        self._con = None
        self._stack.close()


def _loaded(con, table_name: str, c_hash: str, m_hash: str) -> dict | None:
    return None if con is None else warehouse.loaded_batch_for_hash(con, table_name, c_hash, m_hash)


class Staged:
    """The files of a run prepared so far, as the next file's checks see them: the keys of the
    tables they carry, and their completed sales and returns, which a later file's returns may
    reverse. Each file is taken in once, when another file follows it (a run of hundreds of
    daily files must not go over every earlier file again for each new one: it grew with the
    square of the files), and a file is given only the staged sales its returns could match,
    fetched as the warehouse's are (:func:`salesml.warehouse.sales_for_returns`)."""

    def __init__(self) -> None:
        #: tables with a file prepared (not skipped) in this run
        self.tables: set[str] = set()
        #: referenced table -> the key values of its staged rows
        self.keys: dict[str, set] = {}
        self._lines: duckdb.DuckDBPyConnection | None = None

    def add(self, p: Prepared) -> None:
        if p.frame is None:
            return
        self.tables.add(p.table.name)
        rows = p.frame.drop(index=p.log.rejected, errors="ignore")
        if not len(rows):
            return
        for ref_col in {rc for (_t, _c), (ref, rc) in schema.FOREIGN_KEYS.items() if ref == p.table.name}:
            self.keys.setdefault(p.table.name, set()).update(as_text(rows[ref_col]).dropna())
        if p.table.name == "order_lines":
            self._add_lines(rows)

    def _add_lines(self, rows: pd.DataFrame) -> None:
        """The sales and returns among a file's rows, into the run's own tables of them."""
        status = as_text(rows["status"])
        qty = rows["quantity"].to_numpy(dtype="float64", na_value=np.nan)
        keep = (mask(status == "completed") & (qty > 0)) | mask(status == "returned")
        if not keep.any():
            return
        part = rows.loc[keep]

        def col(name: str, kind: str) -> pa.Array:
            if name not in part.columns:
                return pa.nulls(len(part), pa.string() if kind == "text" else pa.float64())
            if kind == "text":
                return pa.array(as_text(part[name]), type=pa.string(), from_pandas=True)
            if kind == "date":  # dates are parsed by now: to_datetime would look at every value again
                d = part[name] if pd.api.types.is_datetime64_dtype(part[name].dtype) else pd.to_datetime(part[name])
                return pa.array(d.astype("datetime64[ns]"), from_pandas=True)
            return pa.array(pd.to_numeric(part[name], errors="coerce").astype("float64"), from_pandas=True)

        lines = pa.table({
            "order_id": col("order_id", "text"), "line_no": col("line_no", "number"),
            "customer_id": col("customer_id", "text"), "product_id": col("product_id", "text"),
            "order_date": col("order_date", "date"), "quantity": col("quantity", "number"),
            "status": col("status", "text"), "batch_id": pa.array(np.zeros(len(part), dtype=np.int32)),
            "return_of_order_id": col("return_of_order_id", "text"), "return_of_line_no": col("return_of_line_no", "number"),
        })
        first = self._lines is None
        if first:
            self._lines = duck.cursor()
        self._lines.register("_staged", lines)
        try:
            if first:
                # sales with the hash of their customer/product pair, by which a later file's
                # returns look them up; returns (a few in a hundred lines) apart, not scanned with them
                self._lines.execute("CREATE TEMP TABLE sales AS SELECT *, 0::UBIGINT AS pair_hash FROM _staged LIMIT 0")
                self._lines.execute("CREATE TEMP TABLE returns AS SELECT * FROM _staged LIMIT 0")
            self._lines.execute("INSERT INTO sales SELECT *, hash(customer_id, product_id) FROM _staged WHERE status = 'completed'")
            self._lines.execute("INSERT INTO returns SELECT * FROM _staged WHERE status = 'returned'")
        finally:
            self._lines.unregister("_staged")

    def known(self, table: schema.Table, known: dict) -> dict:
        """``known`` (the warehouse's keys) with the staged keys of the tables ``table`` references."""
        out = dict(known)
        for (tname, _c), (ref, _rc) in schema.FOREIGN_KEYS.items():
            if tname == table.name and self.keys.get(ref):
                out[ref] = frozenset(out.get(ref, frozenset())) | self.keys[ref]
        return out

    @property
    def has_lines(self) -> bool:
        return self._lines is not None

    def sales(self, loaded: pd.DataFrame | None, pairs: pd.DataFrame, named: list[str]) -> pd.DataFrame | None:
        """The sales a file's returns may reverse: ``loaded`` (the warehouse's, or None) with
        what this run's earlier files returned of them added, and this run's own sales of the
        file's customer/product ``pairs`` and ``named`` orders, with what was returned of them."""
        if self._lines is None:
            return loaded
        mine = warehouse.sales_for_returns(self._lines, pairs, named, [], sales="sales", returns="returns", pair_hash="pair_hash")
        if loaded is not None and len(loaded):
            back = self._returned(loaded)
            if len(back):
                loaded = loaded.merge(back, on=["order_id", "line_no"], how="left")
                loaded = loaded.assign(returned=loaded["returned"] + loaded.pop("_more").fillna(0.0))
            mine = pd.concat([loaded, mine], ignore_index=True) if len(mine) else loaded
        return mine

    def _returned(self, sales: pd.DataFrame) -> pd.DataFrame:
        """What this run's files returned of the given (loaded) sales: order_id, line_no, _more."""
        self._lines.register("_sold", pd.DataFrame({"order_id": sales["order_id"].astype(object).unique()}))
        try:
            return self._lines.execute(
                "SELECT return_of_order_id AS order_id, return_of_line_no AS line_no, -sum(quantity) AS _more "
                "FROM returns SEMI JOIN _sold ON return_of_order_id = _sold.order_id GROUP BY ALL"
            ).df().astype({"order_id": object, "line_no": "float64", "_more": "float64"})
        finally:
            self._lines.unregister("_sold")

    def close(self) -> None:
        if self._lines is not None:
            self._lines.close()
            self._lines = None


class Written:
    """The keys each file of a run has written, for the key check of the files after it.

    The warehouse holds them as well, but in the run's open transaction, where a lookup reads
    every row written so far (rows not yet committed carry no key ranges to skip parts by):
    checked there, the key checks of a run of daily files grew with the square of its files
    (305 files: 106 ms for each of the last ones, 17 s in all). Here they are in a DuckDB
    table of their own per table, typed as the warehouse's, next to the check of the
    warehouse's batches from before the run (``before``: the last of them)."""

    def __init__(self, before: int) -> None:
        self.before = before
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: set[str] = set()

    def add(self, table: schema.Table, rows: pd.DataFrame, batch_id: int) -> None:
        if rows.empty:
            return
        if self._con is None:
            self._con = duck.cursor()
        key_cols = ", ".join(f'"{k}" {table.column(k).sql_type}' for k in table.key)
        self._con.execute(f'CREATE TEMP TABLE IF NOT EXISTS "{table.name}" ({key_cols}, {schema.BATCH_ID} INTEGER)')
        self._tables.add(table.name)
        self._con.register("_written", warehouse.arrow_rows(rows[list(table.key)].reset_index(drop=True)))
        try:
            casts = ", ".join(f'CAST("{k}" AS {table.column(k).sql_type})' for k in table.key)
            self._con.execute(f'INSERT INTO "{table.name}" SELECT {casts}, {int(batch_id)} FROM _written')
        finally:
            self._con.unregister("_written")

    def taken(self, con, table: schema.Table, incoming: pd.DataFrame, replaces: list[int]) -> pd.DataFrame:
        """Rows of ``incoming`` whose key a batch holds — one from before the run (in the
        warehouse, ``con``) or an earlier file of the run: ``idx`` and the batch."""
        found = [warehouse.existing_keys(con, table, incoming, replaces, up_to_batch=self.before)]
        if table.name in self._tables:
            found.append(warehouse.existing_keys(self._con, table, incoming, []))
        taken = pd.concat(found, ignore_index=True) if len(found) > 1 else found[0]
        return taken.groupby("idx", as_index=False)["batch_id"].min() if taken["idx"].duplicated().any() else taken

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None


def write_prepared(con, p: Prepared, replaces: list[int], written: Written, *, more: bool = False) -> LoadResult:
    """Step 6 for one prepared file, inside the caller's transaction; ``written``: the keys the
    run's earlier files wrote (:class:`Written`), which this file's are added to when ``more``
    files follow it."""
    table, frame, log, raw = p.table, p.frame, p.log, p.raw
    lost = p.lost_lines
    if lost:
        raise IngestError(
            f"{p.label}: {lost} of the file's {raw.lines} lines are in no record, reject or blank line; "
            "nothing was written (please report this file)"
        )
    rejected_so_far = log.rejected
    keys = frame[list(table.key)]  # only the key columns, never a copy of the whole frame
    incoming = keys.drop(index=rejected_so_far) if len(rejected_so_far) else keys
    taken = written.taken(con, table, incoming, replaces)
    if not taken.empty:
        log = log + L.problems("already_loaded", ",".join(table.key), taken["idx"], "key already loaded from another file")
    quarantine = quarantine_rows(log, p.records)
    rejects = getattr(raw, "rejects", None)
    bad_lines = reject_rows(rejects)
    merged_idx = pd.Index(log.merges["idx"].astype("int64").unique()).difference(quarantine["idx"])
    rejected = pd.Index(quarantine["idx"]).union(merged_idx)
    rows = frame.drop(index=rejected) if len(rejected) else frame
    fixes = fix_rows(log, frame)
    fixed_idx = pd.Index(log.fixes["idx"].astype("int64").unique()).intersection(rows.index)
    flagged_idx = pd.Index(log.flags["idx"].astype("int64").unique()).intersection(rows.index)
    rev_read = rev_q = rev_m = rev_unl = rev_anon = None
    n_unl = n_anon = 0
    if table.name == "order_lines":
        rev_read = cents(frame["amount"])
        rev_q = cents(frame.loc[quarantine["idx"], "amount"])
        rev_m = cents(frame.loc[merged_idx, "amount"])
        unl = pd.Index(log.flags.loc[log.flags["rule"] == "unlinked_returns", "idx"].astype("int64").unique()).intersection(rows.index)
        n_unl, rev_unl = len(unl), cents(rows.loc[unl, "amount"])
        anon = rows["customer_id"].isna().to_numpy()
        if p.anonymous:
            anon |= mask(as_text(rows["customer_id"]) == p.anonymous)
        n_anon, rev_anon = int(anon.sum()), cents(rows.loc[anon, "amount"])
    all_q = pd.concat([q for q in (quarantine, bad_lines) if len(q)], ignore_index=True) if len(bad_lines) else quarantine
    notes = list(log.notes)
    if len(bad_lines):
        notes.append(f"{len(bad_lines):,} malformed line(s) quarantined with their line number and text (their money is not counted)")
    spans = getattr(raw, "line_spans", None) or {}
    if spans:
        notes.append(
            f"{len(spans):,} record(s) span {sum(spans.values()):,} lines of the file (a quoted line break, or a quote "
            f"left open); {getattr(raw, 'lines', 0):,} lines in all"
        )
    if n_anon:
        notes.append(f"{n_anon:,} line(s) without a customer (walk-in / guest): revenue {rev_anon / 100:,.2f}, left out of customer models")
    if n_unl:
        notes.append(f"{n_unl:,} return(s) with no sale to reverse, accepted as unlinked: {rev_unl / 100:,.2f} in the month of the return")
    hits = log.hits()
    record = warehouse.BatchRecord(
        source=p.source_name,
        table_name=table.name,
        path=p.label,
        content_hash=p.content_hash,
        encoding=raw.encoding,
        rows_read=len(frame) + len(bad_lines),
        rows_fixed=len(fixed_idx),
        quarantine_reasons=reason_counts(all_q),
        revenue_read_cents=rev_read,
        revenue_quarantined_cents=(rev_q or 0) + (rev_m or 0) if rev_q is not None else None,
        rows_merged=len(merged_idx),
        rows_flagged=len(flagged_idx),
        rule_hits={f"{r.rule} ({r.outcome})": int(r.rows) for r in hits.itertuples()},
        notes=notes,
        run_id=p.run_id,
        seconds=time.perf_counter() - p.started,
        mapping_hash=p.mapping_hash,
        rows_unlinked=n_unl,
        revenue_unlinked_cents=rev_unl,
        rows_anonymous=n_anon,
        revenue_anonymous_cents=rev_anon,
        lines_read=getattr(raw, "lines", None),
    )
    batch = warehouse.write_batch(con, record, rows, all_q, replaces, fixes, in_transaction=True)
    if more:
        written.add(table, rows, int(batch["batch_id"]))
    warehouse.audit(con, "ingest", {"source": p.source_name, "table": table.name, "path": p.label, "batch_id": int(batch["batch_id"])})
    revenue_loaded = batch["revenue_loaded"]
    return LoadResult(
        batch_id=int(batch["batch_id"]),
        source=p.source_name,
        table=table.name,
        path=p.label,
        rows_read=int(batch["rows_read"]),
        rows_loaded=int(batch["rows_loaded"]),
        rows_fixed=int(batch["rows_fixed"]),
        rows_quarantined=int(batch["rows_quarantined"]),
        quarantine_reasons=record.quarantine_reasons,
        revenue_read=None if rev_read is None else rev_read / 100,
        revenue_loaded=None if revenue_loaded is None or pd.isna(revenue_loaded) else float(revenue_loaded),
        revenue_quarantined=None if rev_q is None else ((rev_q or 0) + (rev_m or 0)) / 100,
        skipped=False,
        rows_merged=record.rows_merged,
        rows_flagged=record.rows_flagged,
        rule_hits=record.rule_hits,
        notes=record.notes,
        replaced_batches=replaces,
        encoding=raw.encoding,
        run_id=p.run_id,
        seconds=time.perf_counter() - p.started,
        rows_unlinked=n_unl,
        revenue_unlinked=None if rev_unl is None else rev_unl / 100,
        rows_anonymous=n_anon,
        revenue_anonymous=None if rev_anon is None else rev_anon / 100,
        lines_read=record.lines_read,
    )


def _skipped(p: Prepared) -> LoadResult:
    done = p.skipped
    return LoadResult(
        batch_id=int(done["batch_id"]),
        source=p.source_name,
        table=p.table.name,
        path=p.label,
        rows_read=int(done["rows_read"]),
        rows_loaded=0,
        rows_fixed=0,
        rows_quarantined=0,
        skipped=True,
        encoding=done.get("encoding"),
        run_id=p.run_id,
        seconds=time.perf_counter() - p.started,
    )


def write_all(settings: Settings, prepared: list[Prepared]) -> list[LoadResult]:
    """Write every prepared file of a run in one transaction: all of them, or none."""
    results: list[LoadResult | None] = [None] * len(prepared)
    todo = [i for i, p in enumerate(prepared) if p.skipped is None]
    for i, p in enumerate(prepared):
        if p.skipped is not None:
            results[i] = _skipped(p)
    if todo:
        with _connect(settings) as con, warehouse.transaction(con):
            before = con.execute("SELECT coalesce(max(batch_id), 0) FROM load_batches").fetchall()[0][0]
            written = Written(int(before))
            try:
                for n, i in enumerate(todo):
                    p = prepared[i]
                    earlier = warehouse.live_batches(con, p.table.name, p.label)
                    replaces = earlier["batch_id"].astype(int).tolist()
                    result = write_prepared(con, p, replaces, written, more=n + 1 < len(todo))
                    note = batch_identity_note(earlier, p.content_hash, p.mapping_hash)
                    if note:
                        result.notes.insert(0, note)
                    results[i] = result
            finally:
                written.close()
    return results


def load_file(
    settings: Settings,
    source_name: str,
    table_name: str,
    location: str | Path,
    spec: TableSource,
    *,
    source: SourceSettings | None = None,
    encoding: str = "auto",
    delimiter: str = ",",
    today: date | None = None,
    run_id: str | None = None,
) -> LoadResult:
    """Load one file (or query) into one canonical table as one batch, or skip it if its
    content is loaded already with the same mapping."""
    source = source or SourceSettings(format="csv", encoding=encoding, delimiter=delimiter)
    with system_arrow_memory():
        p = prepare_file(settings, source_name, table_name, location, spec, source, today=today, run_id=run_id)
        return write_all(settings, [p])[0]


@contextmanager
def system_arrow_memory():
    """Arrow's buffers from the system allocator for the duration of an import, then the
    default pool again. The import allocates and frees hundreds of megabytes of short-lived
    columns: pyarrow's default (mimalloc) hands them back to the system at once and faults
    them in again, costing ~15% of a million-line import's time and ~100 MB of its peak
    (``python -m benchmarks.ingest``). Buffers remember their pool: those made meanwhile are
    freed correctly afterwards."""
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


# --------------------------------------------------------------------------- a source


def check_source(settings: Settings, source_name: str, source: SourceSettings, jobs: list[tuple[str, str | Path]]) -> None:
    """Check every table's mapping against its files' headers before anything is read or
    written (a mistake in the second table must not leave the first one loaded)."""
    seen: set[tuple[str, str]] = set()
    for table_name, location in jobs:
        spec = source.tables[table_name]
        if spec.join or source.format != "csv":
            continue  # joined columns and typed sources are known only after reading
        path = Path(location)
        header = header_of(source, path, spec)
        if header is None or (table_name, tuple(header)) in seen:
            continue
        seen.add((table_name, tuple(header)))
        try:
            check_mapping(spec.columns, header, schema.table(table_name), f"{path} ({table_name})")
        except MappingError as e:
            raise IngestError(f"source {source_name!r}: nothing was loaded: {e}") from None


def ingest_source(
    settings: Settings,
    source_name: str,
    source: SourceSettings,
    *,
    tables: Iterable[str] | None = None,
    files: Iterable[str | Path] | None = None,
    progress: bool = False,
    today: date | None = None,
) -> list[LoadResult]:
    """Load every table of a source, dimensions first, one batch per file (or query), as one
    unit: every mapping is checked first, and the batches are written in one transaction.

    ``files`` replaces the configured files; it needs a single table (``tables``, or a
    source with one table).
    """
    wanted = list(tables) if tables is not None else list(source.tables)
    unknown = [t for t in wanted if t not in source.tables]
    if unknown:
        raise IngestError(f"source {source_name!r} has no table {', '.join(unknown)} (it has: {', '.join(source.tables)})")
    order = [t for t in schema.TABLES if t in wanted]
    if files:
        if len(order) != 1:
            raise IngestError(f"source {source_name!r} maps {len(order)} tables; name the one the files are for with --table")
        jobs = [(order[0], Path(f)) for f in files]
    elif source.format == "sql":
        jobs = [(t, source.url) for t in order]
    else:
        jobs = [(t, f) for t in order for f in source_files(settings, source.tables[t])]
    if not jobs:
        raise IngestError(f"source {source_name!r}: no files to load")
    missing = [str(f) for _, f in jobs if source.format != "sql" and not Path(f).is_file()]
    if missing:
        raise SourceFileError(f"source {source_name!r}: nothing was loaded: file not found: {', '.join(missing)}")
    run_id = uuid.uuid4().hex[:12]
    prepared: list[Prepared] = []
    staged = Staged()
    with system_arrow_memory():
        try:
            with shared_scans():  # each file is decoded once, for its header and for its rows
                check_source(settings, source_name, source, jobs)
                for table_name, location in tqdm(jobs, desc=f"read {source_name}", unit="file", disable=not progress):
                    if prepared:  # taken in when another file follows it (the last one's rows need no copy)
                        staged.add(prepared[-1])
                    prepared.append(prepare_file(settings, source_name, table_name, location, source.tables[table_name], source,
                                                 today=today, run_id=run_id, staged=staged))
        finally:
            staged.close()
        return write_all(settings, prepared)
