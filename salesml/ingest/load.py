"""Ingest: source rows -> canonical rows, with every row accounted for.

One file (or one SQL query) becomes one load batch::

    read (io)  ->  join  ->  map (mapping)  ->  clean (cleaning rules, pure)
               ->  loaded | loaded with fixes | merged | quarantined  ->  warehouse (one transaction)

Every row read ends in exactly one place: loaded (perhaps with recorded fixes: rule,
column, before, after), merged into an identical row (``distinct`` dimension tables
only), or quarantined with a reason. Rows and, for order lines, revenue reconcile to the
cent, or nothing is written. A file whose exact content is loaded already is skipped;
a new version of a file (same place, other content) replaces the old version's rows in
the same transaction.
"""

from __future__ import annotations

import glob
import hashlib
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from salesml import schema, warehouse
from salesml.cleaning import Context, RuleLog, clean
from salesml.cleaning import log as L
from salesml.config import JoinSource, Settings, SourceSettings, TableSource
from salesml.errors import SalesmlError
from salesml.io import RawTable, SourceFileError, file_hash, read_csv, read_header
from salesml.io.csv import SOURCE_ROW
from salesml.mapping import MappingError, join, map_columns


class IngestError(SalesmlError, ValueError):
    """A source cannot be ingested as configured; the message names the file and mapping."""


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

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- pure steps


_EMPTY_DTYPES = {"int": "float64", "date": "datetime64[ns]", "str": object, "period": object}


def add_missing_columns(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Add the optional canonical columns a source does not have, as missing values."""
    out = df.copy()
    for c in table.columns:
        if c.name not in out.columns:
            dtype = _EMPTY_DTYPES.get(c.dtype, "float64")
            out[c.name] = pd.Series(None if dtype is object else np.nan, index=out.index, dtype=dtype)
    return out


def prepare(
    raw: pd.DataFrame,
    spec: TableSource,
    ctx: Context,
    joins: Iterable[tuple[pd.DataFrame, tuple[str, ...], str]] = (),
) -> tuple[pd.DataFrame, RuleLog]:
    """Join, map and clean one file's rows: returns (canonical rows, rule log)."""
    log = RuleLog()
    frame = raw
    for other, on, label in joins:
        frame, part = join(frame, other, on, label, ctx.where)
        log += part
    try:
        mapped = map_columns(frame, spec.columns, ctx.table, ctx.where)
    except MappingError as e:
        raise IngestError(str(e)) from None
    cleaned, part = clean(mapped.frame, ctx)
    log += mapped.log + part
    return add_missing_columns(cleaned, ctx.table), log


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
    as_text = [json.dumps({k: _plain(v) for k, v in r.items()}, ensure_ascii=False) for r in rec.to_dict(orient="records")]
    return pd.DataFrame(
        {
            "idx": first.index.to_numpy(),
            "source_row": records.loc[first.index, SOURCE_ROW].to_numpy(),
            "rule": first["rule"].to_numpy(),
            "reason": first["label"].to_numpy(),
            "column": first["column"].to_numpy(),
            "details": details.to_numpy(),
            "record": as_text,
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
    v = x.dropna().to_numpy(dtype="float64")
    v = v[np.abs(v) < MONEY_LIMIT]
    return sum(map(int, np.rint(v * 100)))  # Python ints: no overflow


def return_candidates(mapped_quantity: pd.Series) -> bool:
    """Whether a file may hold returns that need the warehouse's sales to be linked."""
    from salesml.mapping import _numbers

    values, _ = _numbers(mapped_quantity)
    return bool((values < 0).any())


# --------------------------------------------------------------------------- reading


def _connect(settings: Settings):
    wh = settings.warehouse
    return warehouse.connect(settings.warehouse_path, memory_limit=wh.memory_limit, threads=wh.threads)


def read_location(source: SourceSettings, location: str | Path, *, sheet: str = "", query: str = "") -> RawTable:
    """Read one file (or query) of a source as text."""
    fmt = source.format
    if fmt == "csv":
        return read_csv(location, encoding=source.encoding, delimiter=source.delimiter)
    try:
        from salesml.io import read_source
    except ImportError:  # pragma: no cover - readers not installed
        raise IngestError(f"format {fmt!r} is not supported by this installation") from None
    return read_source(location, format=fmt, encoding=source.encoding, delimiter=source.delimiter, sheet=sheet, query=query, url=source.url)


def _content_hash(source: SourceSettings, location, *, sheet: str = "", query: str = "") -> str | None:
    """The hash that identifies a file's content before parsing it (None: must read first)."""
    if source.format == "sql":
        return None
    path = Path(location)
    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    h = file_hash(path)
    return hashlib.sha256(f"{h}|{sheet}".encode()).hexdigest() if sheet else h


def _join_frames(settings: Settings, source: SourceSettings, joins: tuple[JoinSource, ...], where: str):
    frames, hashes = [], []
    for j in joins:
        if not j.on:
            raise IngestError(f"{where}: a join needs `on` (the column(s) to match)")
        if source.format == "sql":
            raw = read_location(source, source.url, query=j.query)
            label = "the joined query"
        else:
            files = [p for pattern in j.files for p in _expand(settings, pattern)]
            if len(files) != 1:
                raise IngestError(f"{where}: a join must name exactly one file, found {len(files)} for {list(j.files)}")
            raw = read_location(source, files[0], sheet=j.sheet)
            label = Path(files[0]).name
        frames.append((raw.frame.drop(columns=[SOURCE_ROW]), tuple(j.on), label))
        hashes.append(raw.content_hash)
    return frames, hashes


def _expand(settings: Settings, pattern: str) -> list[Path]:
    p = settings.path(pattern)
    return [Path(m) for m in sorted(glob.glob(str(p)))] if glob.has_magic(str(p)) else [p]


def _known_keys(con, table: schema.Table) -> dict[str, frozenset]:
    known = {}
    for (tname, _col), (ref, ref_col) in schema.FOREIGN_KEYS.items():
        if tname == table.name and ref not in known and warehouse.row_count(con, ref):
            known[ref] = frozenset(r[0] for r in con.execute(f'SELECT DISTINCT "{ref_col}" FROM "{ref}"').fetchall())
    return known


def _sales_for(con, frame: pd.DataFrame, exclude_batches: list[int]) -> pd.DataFrame:
    """Completed sales already loaded that this file's returns may reverse, with the
    quantity returned so far; not those of ``exclude_batches`` (the earlier versions of the
    file being loaded, which this load replaces)."""
    pairs = frame[["customer_id", "product_id"]].dropna().drop_duplicates()
    named = frame[["return_of_order_id"]].dropna().drop_duplicates() if "return_of_order_id" in frame else pd.DataFrame({"return_of_order_id": []})
    con.register("_pairs", pairs)
    con.register("_named", named)
    try:
        return con.execute(
            """
            WITH s AS (
                SELECT o.order_id, o.line_no, o.customer_id, o.product_id, o.order_date, o.quantity
                FROM order_lines o
                WHERE o.status = 'completed' AND o.quantity > 0 AND o.batch_id NOT IN (SELECT * FROM UNNEST($excl::INTEGER[])) AND (
                    EXISTS (SELECT 1 FROM _pairs p WHERE p.customer_id = o.customer_id AND p.product_id = o.product_id)
                    OR o.order_id IN (SELECT return_of_order_id FROM _named))
            ), r AS (
                SELECT return_of_order_id AS order_id, return_of_line_no AS line_no, -sum(quantity) AS returned
                FROM order_lines WHERE status = 'returned' AND return_of_order_id IS NOT NULL
                  AND batch_id NOT IN (SELECT * FROM UNNEST($excl::INTEGER[])) GROUP BY ALL
            )
            SELECT s.order_id, s.line_no::DOUBLE AS line_no, s.customer_id, s.product_id,
                   s.order_date::TIMESTAMP AS order_date, s.quantity::DOUBLE AS quantity,
                   coalesce(r.returned, 0)::DOUBLE AS returned
            FROM s LEFT JOIN r USING (order_id, line_no)
            """,
            {"excl": [int(b) for b in exclude_batches]},
        ).df()
    finally:
        con.unregister("_pairs")
        con.unregister("_named")


# --------------------------------------------------------------------------- loading


def _skipped(done: dict, source_name: str, table: str, path: str, started: float, run_id: str | None) -> LoadResult:
    return LoadResult(
        batch_id=int(done["batch_id"]),
        source=source_name,
        table=table,
        path=path,
        rows_read=int(done["rows_read"]),
        rows_loaded=0,
        rows_fixed=0,
        rows_quarantined=0,
        skipped=True,
        encoding=done.get("encoding"),
        run_id=run_id,
        seconds=time.perf_counter() - started,
    )


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
    content is loaded already.

    The warehouse is opened briefly to see what is loaded (and the keys and sales the
    rules check against), and again to write; the rows are mapped and cleaned in between,
    without holding it.
    """
    started = time.perf_counter()
    table = schema.table(table_name)
    source = source or SourceSettings(format="csv", encoding=encoding, delimiter=delimiter)
    is_sql = source.format == "sql"
    location = location if is_sql else Path(location).resolve()
    where = f"{location} ({table.name})" if not is_sql else f"source {source_name} ({table.name})"

    pre_hash = _content_hash(source, location, sheet=spec.sheet)
    join_frames, join_hashes = _join_frames(settings, source, spec.join, where)
    with _connect(settings) as con:
        if pre_hash is not None and not join_hashes:
            done = warehouse.loaded_batch_for_hash(con, table.name, pre_hash)
            if done is not None:
                return _skipped(done, source_name, table.name, str(location), started, run_id)
        known = _known_keys(con, table)
    raw = read_location(source, location, sheet=spec.sheet, query=spec.query)
    label = str(raw.path)
    content_hash = raw.content_hash if not spec.sheet or is_sql else pre_hash
    if join_hashes:
        content_hash = hashlib.sha256("|".join([content_hash, *join_hashes]).encode()).hexdigest()
    with _connect(settings) as con:
        done = warehouse.loaded_batch_for_hash(con, table.name, content_hash)
        if done is not None:
            return _skipped(done, source_name, table.name, label, started, run_id)
        sales = None
        if table.name == "order_lines" and warehouse.row_count(con, "order_lines"):
            qty_col = spec.columns.get("quantity")
            may_return = qty_col in raw.frame.columns and return_candidates(raw.frame[qty_col])
            if may_return or "return_of_order_id" in spec.columns:
                earlier = warehouse.live_batches_for_path(con, table.name, label)
                sales = _sales_for(con, _probe_frame(raw.frame, spec), earlier)
    ctx = Context(
        table=table,
        spec=spec,
        aliases=settings.aliases,
        settings=settings.cleaning,
        today=today or date.today(),
        known_keys=known,
        sales=sales,
        where=where,
    )
    frame, log = prepare(raw.frame, spec, ctx, join_frames)

    with _connect(settings) as con:
        replaces = warehouse.live_batches_for_path(con, table.name, label)
        candidates = frame.index.difference(log.rejected)
        taken = warehouse.existing_keys(con, table, frame.loc[candidates], replaces)
        if not taken.empty:
            log += L.problems("already_loaded", ",".join(table.key), taken["idx"], "key already loaded from another file")
        records = raw.frame.copy()
        if join_frames:  # show joined columns in quarantined records too
            joined = frame[[SOURCE_ROW]].join(records.drop(columns=SOURCE_ROW))
            records = joined
        quarantine = quarantine_rows(log, records)
        merged_idx = pd.Index(log.merges["idx"].astype("int64").unique()).difference(quarantine["idx"])
        rejected = pd.Index(quarantine["idx"]).union(merged_idx)
        rows = frame.drop(index=rejected)
        fixes = fix_rows(log, frame)
        fixed_idx = pd.Index(log.fixes["idx"].astype("int64").unique()).intersection(rows.index)
        flagged_idx = pd.Index(log.flags["idx"].astype("int64").unique()).intersection(rows.index)
        rev_read = rev_q = rev_m = None
        if table.name == "order_lines":
            rev_read = cents(frame["amount"])
            rev_q = cents(frame.loc[quarantine["idx"], "amount"])
            rev_m = cents(frame.loc[merged_idx, "amount"])
        hits = log.hits()
        record = warehouse.BatchRecord(
            source=source_name,
            table_name=table.name,
            path=label,
            content_hash=content_hash,
            encoding=raw.encoding,
            rows_read=len(frame),
            rows_fixed=len(fixed_idx),
            quarantine_reasons=reason_counts(quarantine),
            revenue_read_cents=rev_read,
            revenue_quarantined_cents=(rev_q or 0) + (rev_m or 0) if rev_q is not None else None,
            rows_merged=len(merged_idx),
            rows_flagged=len(flagged_idx),
            rule_hits={f"{r.rule} ({r.outcome})": int(r.rows) for r in hits.itertuples()},
            notes=log.notes,
            run_id=run_id,
            seconds=time.perf_counter() - started,
        )
        batch = warehouse.write_batch(con, record, rows, quarantine, replaces, fixes)
        warehouse.audit(con, "ingest", {"source": source_name, "table": table.name, "path": label, "batch_id": int(batch["batch_id"])})
    revenue_loaded = batch["revenue_loaded"]
    return LoadResult(
        batch_id=int(batch["batch_id"]),
        source=source_name,
        table=table.name,
        path=label,
        rows_read=int(batch["rows_read"]),
        rows_loaded=int(batch["rows_loaded"]),
        rows_fixed=int(batch["rows_fixed"]),
        rows_quarantined=int(batch["rows_quarantined"]),
        quarantine_reasons=record.quarantine_reasons,
        revenue_read=None if rev_read is None else rev_read / 100,
        revenue_loaded=None if revenue_loaded is None or pd.isna(revenue_loaded) else float(revenue_loaded),
        revenue_quarantined=None if rev_q is None else rev_q / 100,
        skipped=False,
        rows_merged=record.rows_merged,
        rows_flagged=record.rows_flagged,
        rule_hits=record.rule_hits,
        notes=record.notes,
        replaced_batches=replaces,
        encoding=raw.encoding,
        run_id=run_id,
        seconds=time.perf_counter() - started,
    )


def _probe_frame(raw: pd.DataFrame, spec: TableSource) -> pd.DataFrame:
    """customer_id, product_id and return_of_order_id as the mapping gives them (raw text),
    to fetch the sales a file's returns may reverse."""
    out = {}
    for canon in ("customer_id", "product_id", "return_of_order_id"):
        src = spec.columns.get(canon)
        if src in raw.columns:
            out[canon] = raw[src].astype("string").str.strip()
    return pd.DataFrame(out)


def source_files(settings: Settings, spec: TableSource) -> list[Path]:
    """The files a table's source names (globs expanded, sorted), relative to the project root."""
    return [p for pattern in spec.files for p in _expand(settings, pattern)]


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
    """Load every table of a source, dimensions first, one batch per file (or query).

    ``files`` replaces the configured files; it needs a single table (``tables``, or a
    source with one table).
    """
    from tqdm.auto import tqdm

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
    run_id = uuid.uuid4().hex[:12]
    results = []
    for table_name, location in tqdm(jobs, desc=f"load {source_name}", unit="file", disable=not progress):
        results.append(
            load_file(settings, source_name, table_name, location, source.tables[table_name], source=source, today=today, run_id=run_id)
        )
    return results


def canonical_source(files: dict[str, str | Path | list], *, encoding: str = "auto", date_format: str = "") -> SourceSettings:
    """A source whose files already use the canonical column names (one mapping per table).

    ``files`` maps a canonical table to a file, a glob, or a list of them. Only the
    canonical columns present in each file's header are mapped.
    """
    tables = {}
    for name, f in files.items():
        t = schema.table(name)
        paths = [str(p) for p in (f if isinstance(f, list | tuple) else [f])]
        header: set[str] = set()
        for p in paths:
            for match in glob.glob(p) if glob.has_magic(p) else [p]:
                header |= set(read_header(Path(match), encoding))
        tables[name] = TableSource(
            files=tuple(paths),
            columns={c: c for c in t.column_names if c in header},
            date_format=(date_format,) if date_format else (),
        )
    return SourceSettings(format="csv", encoding=encoding, tables=tables)
