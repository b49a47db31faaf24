"""What every reader shares: typed values to text, column names, the canonical content hash.

Readers of typed sources (Excel cells, Parquet/Arrow columns, SQL results) turn every value
into text exactly as :func:`salesml.io.csv.read_csv` leaves it, so the rest of the pipeline
parses one kind of input whatever the source:

============================  =============================================================
value                         text
============================  =============================================================
None, NaN, NaT, NA            ``""``
str                           unchanged (``"007"``, ``"NA"``, ``"NULL"`` survive)
bool                          ``"true"`` / ``"false"``
int                           ``"7"`` (never ``"7.0"``)
float                         the shortest text that reads back as the same float, without
                              an exponent: ``0.1`` → ``"0.1"``, ``7.0`` → ``"7"``,
                              ``1e-05`` → ``"0.00001"``; ±inf → ``"inf"`` / ``"-inf"``
Decimal                       exactly, scale kept, no exponent: ``Decimal("12.50")`` → ``"12.50"``
date                          ``"YYYY-MM-DD"``
datetime                      ``"YYYY-MM-DD HH:MM:SS"`` (fractional seconds only when not
                              zero; a UTC offset when the value has one); a naive datetime at
                              midnight is just the date
time                          ``"HH:MM:SS"``
bytes                         UTF-8 text, or ``0x…`` hex when it is not UTF-8
list, dict                    JSON (items converted by these rules)
anything else                 ``str(value)``
============================  =============================================================
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal

import numpy as np
import pandas as pd

from salesml import schema

#: the column added to every raw frame (the row number a user looks for: for CSV, the file
#: line) and the dtype of its text columns
SOURCE_ROW = schema.SOURCE_ROW
TEXT = schema.TEXT


def to_text(value: object) -> str:
    """One typed value as text (see the module docstring for the rules)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.timedelta64):
        value = pd.Timedelta(value)
    elif isinstance(value, np.floating):
        return float_text(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is pd.NaT or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_text(value)
    if isinstance(value, Decimal):
        if value.is_nan():
            return ""
        if value.is_infinite():
            return "-inf" if value < 0 else "inf"
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is None and value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "0x" + raw.hex()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, default=to_text)
    return str(value)


def float_text(x: float | np.floating) -> str:
    """The shortest text that reads back as ``x``, positional (no exponent); integral → no ".0".

    A NumPy ``float32`` gets the shortest text for a float32 (``0.1``, not ``0.10000000149…``).
    """
    if math.isnan(x):
        return ""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    return np.format_float_positional(x, unique=True, trim="-")


def texts(values: Iterable[object]) -> list[str]:
    """Every value of a column as text."""
    return [to_text(v) for v in values]


def unique_names(names: Sequence[object]) -> list[str]:
    """Header names as text, trimmed; repeats get ``.1``, ``.2`` … like pandas gives a CSV's."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        base = to_text(name).strip()
        cand, n = base, 0
        while cand in seen:
            n += 1
            cand = f"{base}.{n}"
        seen.add(cand)
        out.append(cand)
    return out


def text_frame(columns: Sequence[str], data: Sequence[Sequence[str]], source_rows: Sequence[int]) -> pd.DataFrame:
    """A raw frame: ``source_row`` first, then one text column per name (``data`` is column-wise)."""
    frame = pd.DataFrame(
        {name: pd.Series(list(col), dtype=TEXT) for name, col in zip(columns, data, strict=True)},
        index=pd.RangeIndex(len(source_rows)),
    )
    frame.insert(0, SOURCE_ROW, np.asarray(source_rows, dtype=np.int64))
    return frame


class ContentHasher:
    """A sha256 over column names and text values, fed row by row (stable across runs).

    Each row is serialised as a JSON array of its texts on its own line, after a first
    line holding the column names, so no value can be confused with a separator.
    """

    def __init__(self, columns: Sequence[str]):
        self._h = hashlib.sha256()
        self._line(list(columns))

    def _line(self, items: list[str]) -> None:
        self._h.update(json.dumps(items, ensure_ascii=False).encode("utf-8"))
        self._h.update(b"\n")

    def add_row(self, texts_: Sequence[str]) -> None:
        self._line(list(texts_))

    def hexdigest(self) -> str:
        return self._h.hexdigest()
