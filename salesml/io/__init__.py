"""Reading source files and writing exports: the only place (besides the warehouse) that touches files.

Every reader returns a :class:`RawTable` whose frame holds every value as text (``""`` for
empty or NULL) after a first column ``source_row``, the row number a user looks for: for CSV
the physical line where the record starts (header = line 1, blank lines and line breaks in
quoted fields counted, as a text editor numbers lines); for Parquet the header is row 1 and
the first record row 2; for Excel the sheet's own row number; for SQL the position in the
result, the first row being row 1.
"""

from __future__ import annotations

from pathlib import Path

from salesml.io.common import float_text, to_text
from salesml.io.csv import (
    DEFAULT_CHUNK_ROWS,
    DEFAULT_MAX_BAD_LINE_SHARE,
    REJECT_COLUMNS,
    SOURCE_ROW,
    WHITESPACE,
    RawTable,
    SourceFileError,
    detect_encoding,
    file_hash,
    iter_csv,
    read_csv,
    read_header,
)
from salesml.io.excel import list_sheets, read_excel, sheet_hash
from salesml.io.parquet import read_parquet
from salesml.io.sql import expand_url, masked_url, read_sql
from salesml.io.text import shared_scans

#: the formats :func:`read_source` reads (as in ``SourceSettings.format``)
FORMATS = ("csv", "excel", "parquet", "sql")


def read_source(
    location: str | Path,
    *,
    format: str,
    encoding: str = "auto",
    delimiter: str = ",",
    sheet: str | int | None = "",
    query: str = "",
    url: str = "",
) -> RawTable:
    """Read one source table in ``format`` (csv, excel, parquet or sql).

    ``location`` is the file to read; for ``sql`` it is the database URL when ``url`` is
    empty (``url`` wins otherwise) and ``query`` is required. ``encoding`` and
    ``delimiter`` apply to CSV, ``sheet`` to Excel ("" = the first sheet).
    """
    if format == "csv":
        return read_csv(location, encoding=encoding, delimiter=delimiter)
    if format == "excel":
        return read_excel(location, sheet=sheet or None)
    if format == "parquet":
        return read_parquet(location)
    if format == "sql":
        return read_sql(url or str(location), query)
    raise SourceFileError(f"{location}: unknown source format {format!r} (known: {', '.join(FORMATS)})")


__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_MAX_BAD_LINE_SHARE",
    "FORMATS",
    "REJECT_COLUMNS",
    "SOURCE_ROW",
    "WHITESPACE",
    "RawTable",
    "SourceFileError",
    "detect_encoding",
    "expand_url",
    "file_hash",
    "float_text",
    "iter_csv",
    "list_sheets",
    "masked_url",
    "read_csv",
    "read_excel",
    "read_header",
    "read_parquet",
    "read_source",
    "read_sql",
    "shared_scans",
    "sheet_hash",
    "to_text",
]
