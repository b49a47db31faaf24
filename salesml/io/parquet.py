"""Reading Parquet files with pyarrow: every value as text, record numbers kept.

Typed columns become text by the rules of :mod:`salesml.io.common` (integers without
``.0``, decimals exactly, dates ``YYYY-MM-DD``, nulls ``""``); dictionary (categorical)
columns are decoded first. ``source_row`` is the record's position + 2, as if the file were
a CSV export with its header on row 1: the first record is "row 2". The unnamed index a
pandas frame may store (``__index_level_0__``) is not data and is dropped; a named index is
a column like any other. ``content_hash`` is the sha256 of the file's bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from salesml.io.common import float_text, text_frame, texts, unique_names
from salesml.io.csv import RawTable, SourceFileError, file_hash

#: ``RawTable.encoding`` of a Parquet file (its strings are UTF-8)
PARQUET_ENCODING = "utf-8"

_BATCH_ROWS = 1 << 16
_PANDAS_INDEX = re.compile(r"__index_level_\d+__")


def column_texts(arr: pa.Array | pa.ChunkedArray) -> list[str]:
    """An Arrow column as text; common types take vectorised paths, others go value by value."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.dictionary_decode()
        t = arr.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t) or pa.types.is_date32(t):
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            arr = pc.cast(arr, pa.string())
        return pc.fill_null(arr, "").to_pylist()
    if pa.types.is_boolean(t):
        return pc.fill_null(pc.if_else(arr, "true", "false"), "").to_pylist()
    if pa.types.is_floating(t):
        values = arr.to_numpy(zero_copy_only=False)  # nulls become NaN, which is "" too
        return [float_text(v) for v in values] if values.dtype != object else texts(values)
    return texts(arr.to_pylist())


def read_parquet(path: str | Path) -> RawTable:
    """Read a Parquet file with every value as text (see the module docstring).

    Raises :class:`SourceFileError` for a missing or empty file, a file that is not Parquet,
    and a file with no columns or no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: the file is empty")
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise SourceFileError(f"{path}: not a readable Parquet file: {e}") from None
    with pf:
        schema = pf.schema_arrow
        names = [n for n in schema.names if not _PANDAS_INDEX.fullmatch(n)]
        if not names:
            raise SourceFileError(f"{path}: the file has no columns")
        if pf.metadata.num_rows == 0:
            raise SourceFileError(f"{path}: the file has columns but no data rows")
        data: list[list[str]] = [[] for _ in names]
        try:
            for batch in pf.iter_batches(batch_size=_BATCH_ROWS, columns=names):
                for j in range(batch.num_columns):
                    data[j].extend(column_texts(batch.column(j)))
        except (pa.ArrowException, OSError) as e:
            raise SourceFileError(f"{path}: cannot read the file: {e}") from None
    n = len(data[0])
    frame = text_frame(unique_names(names), data, np.arange(2, n + 2))
    return RawTable(frame=frame, path=path, encoding=PARQUET_ENCODING, content_hash=file_hash(path))
