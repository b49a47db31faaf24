"""Ingest: source rows -> canonical rows, with every row accounted for.

A file goes through pure steps (each a DataFrame -> DataFrame function that never
mutates its input), then the warehouse writes the result as one load batch::

    read (io)  ->  map_columns  ->  apply_value_maps  ->  coerce_types  ->  derive_amounts
               ->  problems: coercion + pandera checks + overlapping stints + duplicate keys
               ->  split loaded / quarantined  ->  warehouse.write_batch (one transaction)

Every row read ends either loaded or quarantined with a reason; row counts and, for
order lines, revenue reconcile to the cent, or nothing is written. Loading a file whose
exact content is already loaded changes nothing; loading a new version of a file (same
path, different content) replaces the old version's rows in the same transaction.
"""

from __future__ import annotations

import glob
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors

from salesml import schema, warehouse
from salesml.config import Settings, SourceSettings, TableSource
from salesml.errors import SalesmlError
from salesml.io import RawTable, SourceFileError, file_hash, read_csv, read_header
from salesml.io.csv import SOURCE_ROW


class IngestError(SalesmlError, ValueError):
    """A source cannot be ingested as configured; the message names the file and mapping."""


#: derived columns: target <- (a, b, op); derived only when the target is not mapped
_DERIVATIONS = {
    "order_lines": [
        ("amount", "quantity", "unit_price", "mul"),
        ("unit_price", "amount", "quantity", "div"),
        ("cost", "quantity", "unit_cost", "mul"),
        ("unit_cost", "cost", "quantity", "div"),
    ],
}

_PROBLEM_COLUMNS = ["idx", "column", "reason"]


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
    replaced_batches: list[int] = field(default_factory=list)
    encoding: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------- pure steps


def _blank_to_na(s: pd.Series) -> pd.Series:
    s = s.astype("str").str.strip()
    return s.mask(s == "")


def map_columns(raw: pd.DataFrame, spec: TableSource, table: schema.Table, where: str = "") -> pd.DataFrame:
    """Rename source columns to canonical ones (text, trimmed, blanks as missing).

    Raises :class:`IngestError` naming the canonical column, the mapping and the file's
    columns when a mapped source column is absent or a required column is not mapped
    and cannot be derived.
    """
    where = where or table.name
    unknown = [c for c in spec.columns if c not in table.column_names]
    if unknown:
        raise IngestError(
            f"{where}: the mapping names {', '.join(map(repr, unknown))}, which "
            f"{'is' if len(unknown) == 1 else 'are'} not canonical columns of {table.name} "
            f"(known: {', '.join(table.column_names)})"
        )
    missing = [(canon, src) for canon, src in spec.columns.items() if src not in raw.columns]
    if missing:
        details = "; ".join(f"{canon} = {src!r}" for canon, src in missing)
        have = ", ".join(repr(c) for c in raw.columns if c != SOURCE_ROW)
        raise IngestError(f"{where}: mapped source column not found: {details}. The file has: {have}")
    derivable = {d[0] for d in _DERIVATIONS.get(table.name, []) if d[1] in spec.columns and d[2] in spec.columns}
    unmapped = [c for c in table.required if c not in spec.columns and c not in derivable]
    if unmapped:
        raise IngestError(
            f"{where}: required column(s) {', '.join(unmapped)} of {table.name} are not mapped; "
            f"add them under [sources.<name>.tables.{table.name}.columns]"
        )
    out = pd.DataFrame({canon: _blank_to_na(raw[src]) for canon, src in spec.columns.items()}, index=raw.index)
    out[SOURCE_ROW] = raw[SOURCE_ROW].to_numpy()
    return out


def apply_value_maps(
    df: pd.DataFrame, values: dict[str, dict[str, str]], aliases: dict[str, dict[str, str]] | None = None
) -> pd.DataFrame:
    """Replace source codes by canonical values (``Completed`` -> ``completed``).

    ``values`` are this table's maps; ``aliases`` apply to any table with that column
    (e.g. region names). Values with no entry pass through unchanged.
    """
    out = df.copy()
    for col in set(values) | set(aliases or {}):
        if col not in out.columns:
            continue
        mapping = {**(aliases or {}).get(col, {}), **values.get(col, {})}
        if mapping:
            out[col] = out[col].map(lambda v, m=mapping: m.get(v, v) if isinstance(v, str) else v)
    return out


def round_money(x: pd.Series | np.ndarray, decimals: int = 2) -> np.ndarray:
    """Round half away from zero (as DECIMAL casts do), robust to binary float error."""
    a = np.asarray(x, dtype="float64")
    f = 10.0**decimals
    return np.sign(a) * np.floor(np.abs(a) * f + 0.5 + 1e-9) / f


def _problems(idx, column: str, reason: str) -> pd.DataFrame:
    idx = list(idx)
    return pd.DataFrame({"idx": idx, "column": [column] * len(idx), "reason": [reason] * len(idx)})


def coerce_types(df: pd.DataFrame, table: schema.Table, date_format: str | tuple[str, ...] = "") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn text into typed columns; values that do not parse become missing and are reported.

    Returns ``(typed, problems)``; ``problems`` has one row per (row, column) that failed,
    with columns ``idx, column, reason``.
    """
    out = df.copy()
    problems = []
    for c in table.columns:
        if c.name not in out.columns:
            continue
        s = out[c.name]
        present = s.notna()
        if c.dtype in ("str", "period"):
            out[c.name] = s.astype(object).where(present, None)
            continue
        if c.dtype == "date":
            if not isinstance(date_format, str):
                date_format = date_format[0] if date_format else ""
            fmt = date_format or "ISO8601"
            parsed = pd.to_datetime(s, format=fmt, errors="coerce")
            bad = present & parsed.isna()
            out[c.name] = parsed.astype("datetime64[ns]")
            if bad.any():
                problems.append(_problems(out.index[bad], c.name, f"not a date ({date_format or 'YYYY-MM-DD'})"))
            continue
        num = pd.to_numeric(s, errors="coerce")
        bad = present & num.isna()
        if c.dtype == "int":
            frac = num.notna() & (num != np.floor(num))
            bad |= frac
            out[c.name] = num.where(~frac).astype("Int64")
            if bad.any():
                problems.append(_problems(out.index[bad], c.name, "not a whole number"))
        else:
            out[c.name] = num.astype("float64")
            if bad.any():
                problems.append(_problems(out.index[bad], c.name, "not a number"))
    return out, (pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=_PROBLEM_COLUMNS))


def derive_amounts(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Fill a money column that the source lacks from the ones it has (amount = qty x price, ...)."""
    out = df.copy()
    for target, a, b, op in _DERIVATIONS.get(table.name, []):
        if target in out.columns or a not in out.columns or b not in out.columns:
            continue
        if op == "mul":
            out[target] = out[a] * out[b]
        else:
            out[target] = out[a] / out[b].where(out[b] != 0)
    for c in table.columns:
        if c.name in out.columns and c.dtype == "money":
            out[c.name] = round_money(out[c.name])
    return out


_EMPTY_DTYPES = {"int": "Int64", "date": "datetime64[ns]", "str": object, "period": object}


def add_missing_columns(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Add the optional canonical columns a source does not have, as missing values."""
    out = df.copy()
    for c in table.columns:
        if c.name not in out.columns:
            dtype = _EMPTY_DTYPES.get(c.dtype, "float64")
            out[c.name] = pd.Series(None if dtype is object else pd.NA, index=out.index, dtype=dtype)
    return out


def check_schema(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Rows breaking the pandera schema's rules: ``idx, column, reason``."""
    sch = schema.pandera_schema(table)
    try:
        sch.validate(df, lazy=True)
    except pandera.errors.SchemaErrors as e:
        fc = e.failure_cases
        fc = fc[fc["index"].notna()]
        reason = fc["check"].astype(str).replace({"not_nullable": "required value is missing"})
        col = fc["column"].where(fc["schema_context"] == "Column", None)
        return pd.DataFrame(
            {
                "idx": fc["index"].to_numpy(),
                "column": col.to_numpy(),
                "reason": reason.to_numpy(),
            }
        ).drop_duplicates(["idx", "reason"])
    return pd.DataFrame(columns=_PROBLEM_COLUMNS)


def check_stints(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Effective-dated hierarchy: a rep's stints must not overlap (the later one is reported)."""
    if table.name != "reps" or df.empty:
        return pd.DataFrame(columns=_PROBLEM_COLUMNS)
    d = df[["rep_id", "valid_from", "valid_to"]].dropna(subset=["rep_id", "valid_from"])
    d = d.sort_values(["rep_id", "valid_from"])
    prev_to = d.groupby("rep_id")["valid_to"].shift()
    prev_exists = d.groupby("rep_id").cumcount() > 0
    overlap = prev_exists & (prev_to.isna() | (d["valid_from"] <= prev_to))
    return _problems(d.index[overlap], "valid_from", "overlaps an earlier stint of the same rep")


def check_duplicate_keys(df: pd.DataFrame, table: schema.Table) -> pd.DataFrame:
    """Second and later rows with the same key within the file."""
    keys = [k for k in table.key if k in df.columns]
    dup = df.duplicated(subset=keys, keep="first")
    return _problems(df.index[dup], ",".join(keys), "duplicate key within the file")


def collect_quarantine(problems: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """One quarantine row per problem row: first reason, all reasons, the original record."""
    if problems.empty:
        return pd.DataFrame(columns=["idx", "source_row", "reason", "column", "details", "record"])
    p = problems.copy()
    p["idx"] = p["idx"].astype("int64")
    p["label"] = np.where(p["column"].notna(), p["column"].astype(str) + ": " + p["reason"].astype(str), p["reason"])
    grouped = p.groupby("idx", sort=True)
    first = grouped.first()
    details = grouped["label"].agg(lambda s: "; ".join(dict.fromkeys(s)))
    rec = raw.loc[first.index].drop(columns=[SOURCE_ROW])
    records = [json.dumps(r, ensure_ascii=False) for r in rec.to_dict(orient="records")]
    return pd.DataFrame(
        {
            "idx": first.index.to_numpy(),
            "source_row": raw.loc[first.index, SOURCE_ROW].to_numpy(),
            "reason": first["label"].to_numpy(),
            "column": first["column"].to_numpy(),
            "details": details.to_numpy(),
            "record": records,
        }
    )


def reason_counts(quarantine: pd.DataFrame) -> dict[str, int]:
    if quarantine.empty:
        return {}
    return {str(k): int(v) for k, v in quarantine["reason"].value_counts().items()}


#: amounts at or above this are quarantined ("too large for the warehouse") and left out
#: of the money totals, which are exact integer cents
MONEY_LIMIT = 1e16


def _cents(x: pd.Series) -> int:
    v = x.dropna().to_numpy(dtype="float64")
    v = v[np.abs(v) < MONEY_LIMIT]
    return sum(map(int, np.rint(v * 100)))  # Python ints: no overflow


# --------------------------------------------------------------------------- orchestration


def prepare(raw: RawTable, spec: TableSource, table: schema.Table, aliases: dict | None = None):
    """All pure steps for one file: returns ``(typed rows, problems)``."""
    where = f"{raw.path} ({table.name})"
    mapped = map_columns(raw.frame, spec, table, where)
    mapped = apply_value_maps(mapped, spec.values, aliases)
    typed, problems = coerce_types(mapped, table, spec.date_format)
    typed = add_missing_columns(derive_amounts(typed, table), table)
    problems = pd.concat(
        [
            problems,
            check_schema(typed, table),
            check_stints(typed, table),
            check_duplicate_keys(typed, table),
        ],
        ignore_index=True,
    )
    return typed, problems


def _skipped(done: dict, source_name: str, table: str, path: Path, encoding: str, started: float) -> LoadResult:
    return LoadResult(
        batch_id=int(done["batch_id"]),
        source=source_name,
        table=table,
        path=str(path),
        rows_read=int(done["rows_read"]),
        rows_loaded=0,
        rows_fixed=0,
        rows_quarantined=0,
        skipped=True,
        encoding=encoding,
        seconds=time.perf_counter() - started,
    )


def load_file(
    settings: Settings,
    source_name: str,
    table_name: str,
    path: str | Path,
    spec: TableSource,
    *,
    encoding: str = "auto",
    delimiter: str = ",",
) -> LoadResult:
    """Load one file into one canonical table as one batch (or skip it if already loaded).

    The warehouse is opened twice, briefly: to see whether this content is already
    loaded, and to write. The file is mapped and checked in between, without a lock.
    """
    started = time.perf_counter()
    table = schema.table(table_name)
    path = Path(path).resolve()
    wh = settings.warehouse

    def connect():
        return warehouse.connect(settings.warehouse_path, memory_limit=wh.memory_limit, threads=wh.threads)

    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    with connect() as con:  # already loaded? then the file need not even be parsed
        done = warehouse.loaded_batch_for_hash(con, table.name, file_hash(path))
    if done is not None:
        return _skipped(done, source_name, table.name, path, done.get("encoding"), started)
    raw = read_csv(path, encoding=encoding, delimiter=delimiter)

    typed, problems = prepare(raw, spec, table, settings.aliases)
    rev_read = _cents(typed["amount"]) if table.name == "order_lines" else None

    with connect() as con:
        done = warehouse.loaded_batch_for_hash(con, table.name, raw.content_hash)  # loaded meanwhile?
        if done is not None:
            return _skipped(done, source_name, table.name, path, raw.encoding, started)
        replaces = warehouse.live_batches_for_path(con, table.name, str(path))
        clean_idx = typed.index.difference(pd.Index(problems["idx"].unique()))
        taken = warehouse.existing_keys(con, table, typed.loc[clean_idx], replaces)
        if not taken.empty:
            problems = pd.concat(
                [problems, _problems(taken["idx"], ",".join(table.key), "key already loaded from another file")],
                ignore_index=True,
            )
        quarantine = collect_quarantine(problems, raw.frame)
        rev_q = _cents(typed.loc[quarantine["idx"], "amount"]) if table.name == "order_lines" else None
        record = warehouse.BatchRecord(
            source=source_name,
            table_name=table.name,
            path=str(path),
            content_hash=raw.content_hash,
            encoding=raw.encoding,
            rows_read=len(typed),
            rows_fixed=0,
            quarantine_reasons=reason_counts(quarantine),
            revenue_read_cents=rev_read,
            revenue_quarantined_cents=rev_q,
            seconds=time.perf_counter() - started,
        )
        batch = warehouse.write_batch(con, record, typed.drop(index=quarantine["idx"]), quarantine, replaces)
        warehouse.audit(
            con, "ingest", {"source": source_name, "table": table.name, "path": str(path), "batch_id": int(batch["batch_id"])}
        )
    revenue_loaded = batch["revenue_loaded"]
    return LoadResult(
        batch_id=int(batch["batch_id"]),
        source=source_name,
        table=table.name,
        path=str(path),
        rows_read=int(batch["rows_read"]),
        rows_loaded=int(batch["rows_loaded"]),
        rows_fixed=int(batch["rows_fixed"]),
        rows_quarantined=int(batch["rows_quarantined"]),
        quarantine_reasons=record.quarantine_reasons,
        revenue_read=None if rev_read is None else rev_read / 100,
        revenue_loaded=None if revenue_loaded is None or pd.isna(revenue_loaded) else float(revenue_loaded),
        revenue_quarantined=None if rev_q is None else rev_q / 100,
        skipped=False,
        replaced_batches=replaces,
        encoding=raw.encoding,
        seconds=time.perf_counter() - started,
    )


def source_files(settings: Settings, spec: TableSource) -> list[Path]:
    """The files a table's source names (globs expanded, sorted), relative to the project root."""
    found: list[Path] = []
    for pattern in spec.files:
        p = settings.path(pattern)
        matches = sorted(glob.glob(str(p))) if glob.has_magic(str(p)) else [str(p)]
        found.extend(Path(m) for m in matches)
    return found


def ingest_source(
    settings: Settings,
    source_name: str,
    source: SourceSettings,
    *,
    tables: Iterable[str] | None = None,
    progress: bool = False,
) -> list[LoadResult]:
    """Load every table of a source, dimensions first, one batch per file."""
    from tqdm.auto import tqdm

    wanted = list(tables) if tables is not None else list(source.tables)
    order = [t for t in schema.TABLES if t in wanted and t in source.tables]
    jobs = [(t, f) for t in order for f in source_files(settings, source.tables[t])]
    if not jobs:
        raise IngestError(f"source {source_name!r}: no files to load")
    results = []
    for table_name, path in tqdm(jobs, desc=f"load {source_name}", unit="file", disable=not progress):
        results.append(
            load_file(
                settings,
                source_name,
                table_name,
                path,
                source.tables[table_name],
                encoding=source.encoding,
                delimiter=source.delimiter,
            )
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
            for match in (glob.glob(p) if glob.has_magic(p) else [p]):
                header |= set(read_header(Path(match), encoding))
        tables[name] = TableSource(
            files=tuple(paths),
            columns={c: c for c in t.column_names if c in header},
            date_format=date_format,
        )
    return SourceSettings(format="csv", encoding=encoding, tables=tables)

