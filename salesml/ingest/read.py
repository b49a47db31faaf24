"""Step 1 of the import, read: a source's files (or queries) as text rows, and what identifies a load.

* :func:`read_location` reads one file or query of a source as text (:mod:`salesml.io`);
  malformed lines come back as rejects with their line number and raw text.
* :func:`batch_identity` is what makes a load new: the file's content **and** the mapping
  and settings it is read with, so a corrected mapping reloads an unchanged file.
* :func:`exact_repeats` finds source rows repeated exactly, judged on the row as read, before
  any generated column (``@seq``, ``@row``) could make them look different.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from salesml import schema
from salesml.cleaning import log as L
from salesml.cleaning.rules import repeated, row_hashes
from salesml.config import JoinSource, Settings, SourceSettings, TableSource
from salesml.errors import SalesmlError
from salesml.io import RawTable, SourceFileError, file_hash, read_csv, read_header, read_source
from salesml.io.csv import SOURCE_ROW


class IngestError(SalesmlError, ValueError):
    """A source cannot be ingested as configured; the message names the file and mapping."""


def read_location(
    source: SourceSettings, location: str | Path, *, spec: TableSource | None = None, sheet: str = "", query: str = "",
    max_bad_line_share: float = 1.0, known_hash: str | None = None,
) -> RawTable:
    """Read one file (or query) of a source as text (``known_hash``: a CSV file's hash, if the
    caller computed it already)."""
    spec = spec or TableSource()
    if source.format == "csv":
        return read_csv(
            location,
            encoding=source.encoding,
            delimiter=source.delimiter,
            header=spec.header,
            column_names=tuple(spec.column_names),
            max_bad_line_share=max_bad_line_share,
            content_hash=known_hash,
        )
    return read_source(location, format=source.format, encoding=source.encoding, delimiter=source.delimiter, sheet=sheet, query=query, url=source.url)


def header_of(source: SourceSettings, location: str | Path, spec: TableSource) -> list[str] | None:
    """A file's column names without reading its rows (None where that needs a full read)."""
    if source.format != "csv":
        return None
    return read_header(Path(location), source.encoding, source.delimiter, header=spec.header, column_names=tuple(spec.column_names))


def content_hash(source: SourceSettings, location, *, sheet: str = "") -> str | None:
    """The hash of a file's bytes (with the sheet read); None for a query (known after reading)."""
    if source.format == "sql":
        return None
    path = Path(location)
    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    h = file_hash(path)
    return hashlib.sha256(f"{h}|{sheet}".encode()).hexdigest() if sheet else h


#: source settings that change what a file's rows become
_SOURCE_KEYS = ("format", "encoding", "delimiter", "decimal", "thousands", "unlinked_returns", "anonymous_customer", "duplicates")


def mapping_hash(source: SourceSettings, spec: TableSource) -> str:
    """A hash of everything a table's rows are read and mapped with: the table's mapping,
    codes, rules, date formats, joins, layout and the source's reading settings and policies."""
    data = {"table": dataclasses.asdict(spec), "source": {k: getattr(source, k) for k in _SOURCE_KEYS}}
    data["table"].pop("files", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()[:16]


def expand(settings: Settings, pattern: str) -> list[Path]:
    p = settings.path(pattern)
    return [Path(m) for m in sorted(glob.glob(str(p)))] if glob.has_magic(str(p)) else [p]


def source_files(settings: Settings, spec: TableSource) -> list[Path]:
    """The files a table's source names (globs expanded, sorted), relative to the project root."""
    return [p for pattern in spec.files for p in expand(settings, pattern)]


def join_frames(settings: Settings, source: SourceSettings, joins: tuple[JoinSource, ...], where: str):
    """The files joined to a table's rows: (frame, key columns, label) each, and their hashes."""
    frames, hashes = [], []
    for j in joins:
        if not j.on:
            raise IngestError(f"{where}: a join needs `on` (the column(s) to match)")
        if source.format == "sql":
            raw = read_location(source, source.url, query=j.query)
            label = "the joined query"
        else:
            files = [p for pattern in j.files for p in expand(settings, pattern)]
            if len(files) != 1:
                raise IngestError(f"{where}: a join must name exactly one file, found {len(files)} for {list(j.files)}")
            raw = read_location(source, files[0], sheet=j.sheet)
            label = Path(files[0]).name
        frames.append((raw.frame.drop(columns=[SOURCE_ROW]), tuple(j.on), label))
        hashes.append(raw.content_hash)
    return frames, hashes


def exact_repeats(raw: pd.DataFrame, policy: str, hashes: np.ndarray | None = None) -> L.RuleLog:
    """Rows repeating an earlier row of the file exactly (every source column the same):
    with the policy ``quarantine`` each repeat is quarantined, naming the row it repeats.
    ``hashes``: one hash of each row's values, if the reader computed them already."""
    cols = [c for c in raw.columns if c != SOURCE_ROW]
    if policy != "quarantine" or not cols or len(raw) < 2:
        return L.RuleLog()
    # a hash per row (DuckDB's, ten times pandas') finds the candidates; they are then compared
    # value by value
    if hashes is None or len(hashes) != len(raw):
        hashes = row_hashes(raw[cols])
    maybe = repeated(hashes)
    if not maybe.any():
        return L.RuleLog()
    sub = raw[maybe]
    dup = sub.duplicated(cols, keep="first").to_numpy()
    if not dup.any():
        return L.RuleLog()
    group = sub.groupby(cols, sort=False, dropna=False).ngroup()
    first_row = sub[SOURCE_ROW].groupby(group).transform("first")
    idx = sub.index[dup]
    return L.problems("duplicates", None, idx, "exact duplicate of an earlier row", [f"repeats row {r}" for r in first_row[dup]])


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


def batch_identity_note(earlier: pd.DataFrame, content: str, mapping: str) -> str | None:
    """What a load of a file replaces, in words: a new version of the file, or the same
    file read with a changed mapping (``earlier``: its live batches)."""
    if earlier is None or earlier.empty:
        return None
    ids = ", ".join(str(int(b)) for b in earlier["batch_id"])
    same_content = (earlier["content_hash"] == content).any()
    if same_content:
        return f"the mapping changed since batch {ids}: the file is read again and its rows replace that batch's"
    return f"a new version of the file: its rows replace batch {ids}"
