"""Reading delimited text exports (CSV, TSV, ...): every value as text, every line accounted for.

What a file may be (see :mod:`salesml.io.text`): plain or compressed (gzip, zip with one
file, zstd, bzip2, xz; recognised by the file's first bytes), in UTF-8 (with or without a
byte-order mark), UTF-16/32 with a byte-order mark, plausible GB18030, or a declared encoding.

How it is split:

* ``delimiter``: one character (``","``, ``";"``, ``"\\t"``, ``"|"``; ``"tab"`` names the tab)
  with CSV quoting (a quoted field may hold the delimiter, doubled quotes and line breaks),
  or ``"whitespace"``: fields separated by runs of spaces and tabs, leading and trailing
  whitespace ignored, a field with spaces double-quoted on its line.
* ``header=True``: the first non-blank line names the columns (trimmed; an empty name becomes
  ``Unnamed: <position>``, a repeated one ``name.1``). ``header=False``: every line is data,
  the columns are named by ``column_names`` or else ``column1``, ``column2``, ...

What comes back (:class:`RawTable`): every value as text exactly as written (``"007"``,
``"NA"`` survive; an empty cell is ``""``), after a first column ``source_row``: the physical
line (1-based, as a text editor numbers it) where the record starts, so blank lines and
quoted fields holding line breaks do not shift it. Blank lines are skipped and counted.

A malformed record does not reject the file: a record with a number of fields other than
the header's, a quote left open at the end of the file, or text the CSV parser refuses is
returned in ``RawTable.rejects`` (its first and last line, the reason, its text) and the rest
of the file loads. A record whose extra fields are all empty (a trailing delimiter) is not
malformed: the empty fields are dropped. When malformed records cover more than
``max_bad_line_share`` of the data lines (the lines that are neither header nor blank), the
read stops with a :class:`SourceFileError` naming the count, the first lines and the likely
cause (a wrong delimiter, a file without a header); this is known as soon as the malformed
lines outnumber the share of the whole file's lines, else at its end.

Every physical line is accounted for: ``lines = header_lines + record_lines + reject_lines +
blank_lines`` (:attr:`RawTable.unaccounted_lines` is 0), and ``line_spans`` names the records
that span several lines (a quoted line break, or a quote left open that swallowed lines), so
a caller can quarantine a record whose key holds a line break.

:func:`iter_csv` reads a large file in chunks of ``chunk_rows`` rows (frame index continuing
across chunks, each chunk with its own rejects and lines); :func:`read_csv` reads it whole.
"""

from __future__ import annotations

import csv
import itertools
import re
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from salesml.duck import scratch
from salesml.io.common import SOURCE_ROW, unique_names
from salesml.io.text import (
    READ_ERRORS,
    SourceFileError,
    TextScan,
    compression_of,
    damaged,
    detect_encoding,
    file_hash,
    open_text,
    scan_text,
)
from salesml.schema import text_series

__all__ = [
    "DEFAULT_CHUNK_ROWS",
    "DEFAULT_MAX_BAD_LINE_SHARE",
    "REJECT_COLUMNS",
    "SOURCE_ROW",
    "WHITESPACE",
    "RawTable",
    "SourceFileError",
    "detect_encoding",
    "empty_rejects",
    "file_hash",
    "iter_csv",
    "read_csv",
    "read_header",
]

#: ``delimiter`` value for fields separated by runs of spaces and tabs
WHITESPACE = "whitespace"
#: columns of ``RawTable.rejects``
REJECT_COLUMNS = (SOURCE_ROW, "last_line", "reason", "text")
#: rows per chunk of :func:`iter_csv`
DEFAULT_CHUNK_ROWS = 100_000
#: the default of ``[cleaning] max_bad_line_share``; callers pass the setting
DEFAULT_MAX_BAD_LINE_SHARE = 0.05

#: malformed lines shown in the error of a file with too many
_EXAMPLES = 5
#: a Unicode noncharacter read after the last line: a quote left open swallows it
_SENTINEL = "\ufdd0"
#: characters of text read per batch of lines
_BATCH_CHARS = 1 << 20
#: records between two drops of the lines no malformed record can need any more
_FORGET_EVERY = 1 << 16
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t"}
_CANDIDATE_DELIMITERS = (",", ";", "\t", "|", WHITESPACE)
_LOOKS_LIKE_DATA = re.compile(r"[\d\s.,:/+-]*\d[\d\s.,:/+-]*")


def empty_rejects() -> pd.DataFrame:
    """A rejects frame without rows (``source_row``, ``last_line``, ``reason``, ``text``)."""
    return _rejects_frame([])


@dataclass(frozen=True)
class RawTable:
    """A source file's rows as text, with the facts about how it was read."""

    frame: pd.DataFrame
    #: the file read, or for a SQL source a label: the database URL with its password masked
    path: Path | str
    #: how the text was decoded ("" where it does not apply, e.g. a SQL result)
    encoding: str
    content_hash: str
    #: the Excel sheet read ("" for other formats)
    sheet: str = ""
    #: malformed records of a text file, not in ``frame``: ``source_row`` (first line),
    #: ``last_line``, ``reason``, ``text`` (the line(s) as decoded, without the final line end)
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    #: physical lines of the (decompressed) text read; 0 for formats without lines
    lines: int = 0
    #: frame index -> physical lines of a record spanning more than one line
    line_spans: dict[int, int] = field(default_factory=dict)
    #: physical lines of the header (0 without one, or for a chunk after the first)
    header_lines: int = 0
    #: blank (empty or whitespace-only) lines skipped
    blank_lines: int = 0
    #: how the file was compressed: "" or gzip, zip, zstd, bzip2, xz
    compression: str = ""
    #: which reader read it: "duckdb" (the common case, whole) or "records" (record by record)
    reader: str = ""
    #: one 64-bit hash of each row's values, in frame order, where the reader computed it on
    #: the way (equal rows hash equal; unequal rows may collide) — else None
    row_hashes: np.ndarray | None = None

    @property
    def record_lines(self) -> int:
        """Physical lines of the records in ``frame``."""
        return len(self.frame) + sum(n - 1 for n in self.line_spans.values())

    @property
    def reject_lines(self) -> int:
        """Physical lines of the records in ``rejects``."""
        if self.rejects.empty:
            return 0
        return int((self.rejects["last_line"] - self.rejects[SOURCE_ROW] + 1).sum())

    @property
    def unaccounted_lines(self) -> int:
        """``lines`` less header, record, reject and blank lines: 0 when every line is
        accounted for (and for formats without lines)."""
        if not self.lines:
            return 0
        return self.lines - self.header_lines - self.record_lines - self.reject_lines - self.blank_lines


# --------------------------------------------------------------------------- arguments


@dataclass(frozen=True)
class _Options:
    delimiter: str
    header: bool
    column_names: tuple[str, ...]
    max_bad_line_share: float
    chunk_rows: int


def _options(path: Path, delimiter: str, header: bool, column_names: Sequence[str], max_bad_line_share: float, chunk_rows: int | None) -> _Options:
    delimiter = _DELIMITER_NAMES.get(delimiter, delimiter)
    if delimiter != WHITESPACE and (not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\"\r\n"):
        raise SourceFileError(f"{path}: delimiter must be one character (\",\", \";\", \"\\t\", \"|\") or \"whitespace\", not {delimiter!r}")
    if isinstance(column_names, str):
        raise SourceFileError(f"{path}: column_names must be a list of names, not the text {column_names!r}")
    names = tuple(str(n).strip() for n in column_names)
    if names and header:
        raise SourceFileError(f"{path}: column_names name the columns of a file without a header: set header = false, or remove column_names")
    if any(not n for n in names):
        raise SourceFileError(f"{path}: column_names holds an empty name")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SourceFileError(f"{path}: column_names names {', '.join(repeated)} more than once")
    if SOURCE_ROW in names:
        raise SourceFileError(f"{path}: a column cannot be named {SOURCE_ROW!r}: the reader adds that column (the line number)")
    if not 0 <= max_bad_line_share <= 1:
        raise SourceFileError(f"{path}: max_bad_line_share must be a share between 0 and 1, not {max_bad_line_share!r}")
    if chunk_rows is not None and chunk_rows < 1:
        raise SourceFileError(f"{path}: chunk_rows must be at least 1, not {chunk_rows!r}")
    return _Options(delimiter, bool(header), names, float(max_bad_line_share), chunk_rows or sys.maxsize)


def _header_names(path: Path, row: Sequence[str], line: int) -> list[str]:
    out = unique_names([raw.strip() or f"Unnamed: {i}" for i, raw in enumerate(row)])
    if SOURCE_ROW in out:
        raise SourceFileError(f"{path}: the header (line {line}) names a column {SOURCE_ROW!r}, which the reader adds (the line number): rename it")
    return out


# --------------------------------------------------------------------------- lines


class _Lines:
    """The text's physical lines, read in batches, iterated one by one; keeps the batches a
    malformed record may still need so its text can be returned as read."""

    def __init__(self, text: TextIO, path: Path, *, sentinel: bool):
        self._text = text
        self._path = path
        self._sentinel = sentinel
        self._batches: deque[tuple[int, list[str]]] = deque()
        self._read = 0
        #: physical lines of the text, known once it is read to its end
        self.total = sys.maxsize

    def __iter__(self) -> Iterator[str]:
        return itertools.chain.from_iterable(self._batches_read())

    def _batches_read(self) -> Iterator[list[str]]:
        while True:
            try:
                batch = self._text.readlines(_BATCH_CHARS)
            except READ_ERRORS as e:
                raise damaged(self._path, compression_of(self._path), e) from None
            except UnicodeDecodeError as e:
                raise SourceFileError(f"{self._path}: the file changed while it was read ({e})") from None
            if not batch:
                break
            if not self._read and batch[0].startswith("\ufeff"):
                batch[0] = batch[0][1:]
            self._batches.append((self._read + 1, batch))
            self._read += len(batch)
            yield batch
        self.total = self._read
        if self._sentinel:
            yield [_SENTINEL]

    def text(self, first: int, last: int) -> str:
        """Lines ``first`` to ``last`` as read, without the final line end."""
        parts: list[str] = []
        for start, batch in self._batches:
            end = start + len(batch) - 1
            if end >= first and start <= last:
                parts.extend(batch[max(first, start) - start : min(last, end) - start + 1])
        text = "".join(parts)
        if text.endswith("\r\n"):
            return text[:-2]
        return text[:-1] if text.endswith(("\n", "\r")) else text

    def forget_through(self, line: int) -> None:
        """Drop the batches that end at or before ``line``."""
        while len(self._batches) > 1 and self._batches[0][0] + len(self._batches[0][1]) - 1 <= line:
            self._batches.popleft()


_GAP = re.compile(r"[ \t]*")
_BARE = re.compile(r"[^ \t]+")
_QUOTED = re.compile(r'"((?:[^"]|"")*)"')
_SPACES = re.compile(r"[ \t]+")


def split_whitespace(line: str) -> list[str]:
    """The fields of one line separated by runs of spaces and tabs ([] for a blank line).

    A field that starts with a double quote runs to the closing quote (``""`` inside is one
    quote) and may hold spaces; a quote left open raises :class:`csv.Error`."""
    s = line.rstrip("\r\n").strip(" \t")
    if not s:
        return []
    if '"' not in s:
        return _SPACES.split(s)
    fields: list[str] = []
    pos = 0
    while pos < len(s):
        if s[pos] == '"':
            m = _QUOTED.match(s, pos)
            if m is None or (m.end() < len(s) and s[m.end()] not in " \t"):
                raise csv.Error(f"the quote at character {pos + 1} is not closed before the next space")
            fields.append(m.group(1).replace('""', '"'))
        else:
            m = _BARE.match(s, pos)
            fields.append(m.group())
        pos = _GAP.match(s, m.end()).end()
    return fields


class _WhitespaceReader:
    """Like a :func:`csv.reader` (``line_num`` included) for whitespace-separated lines."""

    def __init__(self, lines: Iterator[str]):
        self._lines = lines
        self.line_num = 0

    def __iter__(self) -> _WhitespaceReader:
        return self

    def __next__(self) -> list[str]:
        line = next(self._lines)
        self.line_num += 1
        return split_whitespace(line)


def _records(lines: _Lines, delimiter: str):
    if delimiter == WHITESPACE:
        return _WhitespaceReader(iter(lines))
    return csv.reader(iter(lines), delimiter=delimiter, quotechar='"', doublequote=True, skipinitialspace=False, strict=False)


# --------------------------------------------------------------------------- frames


def _rejects_frame(rows: list[tuple[int, int, str, str]]) -> pd.DataFrame:
    first, last, reason, text = (list(c) for c in zip(*rows, strict=True)) if rows else ([], [], [], [])
    return pd.DataFrame(
        {
            SOURCE_ROW: np.asarray(first, dtype=np.int64),
            "last_line": np.asarray(last, dtype=np.int64),
            "reason": pd.Series(reason, dtype=object),
            "text": pd.Series(text, dtype=object),
        }
    )


def _frame(names: list[str], flat: list[str], starts: list[int], first_index: int) -> pd.DataFrame:
    n = len(names)
    index = pd.RangeIndex(first_index, first_index + len(starts))
    columns = {SOURCE_ROW: pd.Series(np.asarray(starts, dtype=np.int64), index=index)}
    for j, name in enumerate(names):
        columns[name] = text_series(pa.array(flat[j::n], type=pa.large_string()), index)
    return pd.DataFrame(columns, index=index, copy=False)


# --------------------------------------------------------------------------- the reader


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _toml(delimiter: str) -> str:
    return {"\t": '"\\t"'}.get(delimiter, f'"{delimiter}"')


def _field_count(text: str, delimiter: str) -> int:
    line = text.splitlines()[0] if text else ""
    if delimiter == WHITESPACE:
        try:
            return len(split_whitespace(line))
        except csv.Error:
            return 0
    return len(next(csv.reader([line], delimiter=delimiter), []))


class _Reader:
    """Reads one file record by record into chunks; see the module docstring."""

    def __init__(self, path: Path, scan: TextScan, content_hash: str, options: _Options):
        self.path = path
        self.scan = scan
        self.content_hash = content_hash
        self.o = options
        self.names: list[str] | None = list(options.column_names) or None
        self.width = len(self.names) if self.names else -1
        self.width_from = "column_names has" if self.names else "the header has"
        self.first_text = ""
        # the whole file
        self.header_lines = 0
        self.rows = 0
        self.bad_records = 0
        self.bad_lines = 0
        self.blank = 0
        self.examples: list[tuple[int, int, str, str]] = []
        # the chunk being filled
        self.flat: list[str] = []
        self.starts: list[int] = []
        self.spans: dict[int, int] = {}
        self.rejects: list[tuple[int, int, str, str]] = []
        self.first_index = 0
        self.chunk_first_line = 1
        self.chunk_header_lines = 0
        self.chunk_blank = 0
        self.lines: _Lines | None = None

    # ---- the loop

    def chunks(self) -> Iterator[RawTable]:
        with open_text(self.path, self.scan.encoding) as text:
            lines = self.lines = _Lines(text, self.path, sentinel=self.o.delimiter != WHITESPACE)
            reader = _records(lines, self.o.delimiter)
            flat_extend, add_start = self.flat.extend, self.starts.append
            starts, limit = self.starts, self.o.chunk_rows
            width, prev, forget_at = self.width, 0, _FORGET_EVERY
            while True:
                try:
                    for row in reader:
                        end = reader.line_num
                        if end == prev + 1 and len(row) == width and len(starts) < limit:
                            flat_extend(row)
                            add_start(end)
                            prev = end
                            if end >= forget_at:
                                lines.forget_through(end)
                                forget_at = end + _FORGET_EVERY
                            continue
                        chunk = self._record(row, prev + 1, end)
                        prev, width = end, self.width
                        if chunk is not None:
                            yield chunk
                    break
                except csv.Error as e:
                    end = reader.line_num
                    chunk = self._record(None, prev + 1, end, error=str(e))
                    prev, width = end, self.width
                    if chunk is not None:
                        yield chunk
            if self.starts and self.starts[-1] > lines.total:
                # the end-of-text mark read alone as a one-column row: not a line of the file
                del self.flat[-self.width :]
                self.starts.pop()
            yield self._finish()

    def _record(self, row: list[str] | None, start: int, end: int, error: str = "") -> RawTable | None:
        """A record the fast path does not take; returns a full chunk to hand out first."""
        total = self.lines.total
        if end > total:  # the record holds the end-of-text mark
            if start > total:
                return None
            if self.names is None:
                raise SourceFileError(f"{self.path}: the first line ({start}) opens a quote that is never closed: the whole file is one field")
            return self._reject(start, total, f"a quote opened on line {start} is never closed: the lines to the end of the file are one field")
        if row is not None and (not row or (len(row) == 1 and end == start and not row[0].strip())):
            self.blank += end - start + 1
            self.chunk_blank += end - start + 1
            return None
        if self.names is None:
            return self._first(row, start, end, error)
        chunk = None
        if len(self.starts) >= self.o.chunk_rows or len(self.rejects) >= self.o.chunk_rows:
            chunk = self._flush(start - 1)
        if row is None:
            hint = " (a quote left open swallows the lines after it?)" if "field limit" in error else ""
            self._reject(start, end, f"cannot be read as CSV: {error}{hint}")
            return chunk
        if len(row) > self.width and not any(row[self.width :]):
            row = row[: self.width]
        if len(row) == self.width:
            if end > start:
                self.spans[self.first_index + len(self.starts)] = end - start + 1
            self.flat.extend(row)
            self.starts.append(start)
        else:
            self._reject(start, end, f"{_plural(len(row), 'field')} where {self.width_from} {self.width}")
        return chunk

    def _first(self, row: list[str] | None, start: int, end: int, error: str) -> RawTable | None:
        """The first non-blank record: the header, or (without one) the row that sets the width."""
        if row is None:
            raise SourceFileError(f"{self.path}: the first line ({start}) cannot be read as CSV: {error}")
        self.first_text = self.lines.text(start, end)
        if self.o.header:
            self.names = _header_names(self.path, row, start)
            self.width = len(self.names)
            self.header_lines = self.chunk_header_lines = end - start + 1
            return None
        self.names = [f"column{i + 1}" for i in range(len(row))]
        self.width = len(row)
        self.width_from = "the first line has"
        return self._record(row, start, end)

    def _reject(self, start: int, end: int, reason: str) -> None:
        text = self.lines.text(start, end)
        self.rejects.append((start, end, reason, text))
        self.bad_records += 1
        self.bad_lines += end - start + 1
        if len(self.examples) < _EXAMPLES:
            self.examples.append((start, end, reason, text))
        bound = self.scan.lines - self.header_lines
        if self.bad_lines > self.o.max_bad_line_share * bound:
            raise self._too_many(bound, early=end)

    # ---- chunks

    def _flush(self, last_line: int) -> RawTable:
        n = len(self.starts)
        table = RawTable(
            frame=_frame(self.names or [], self.flat, self.starts, self.first_index),
            path=self.path,
            encoding=self.scan.encoding,
            content_hash=self.content_hash,
            rejects=_rejects_frame(self.rejects),
            lines=last_line - self.chunk_first_line + 1,
            line_spans=self.spans,
            header_lines=self.chunk_header_lines,
            blank_lines=self.chunk_blank,
            compression=self.scan.compression,
            reader="records",
        )
        self.rows += n
        self.first_index += n
        self.flat.clear()
        self.starts.clear()
        self.spans = {}
        self.rejects = []
        self.chunk_first_line = last_line + 1
        self.chunk_header_lines = self.chunk_blank = 0
        return table

    def _finish(self) -> RawTable:
        total = self.lines.total
        if self.names is None:
            what = "no header and no rows" if self.o.header else "no rows"
            raise SourceFileError(f"{self.path}: the file has {what} (only blank lines)")
        data_lines = total - self.header_lines - self.blank
        if self.bad_lines and self.bad_lines > self.o.max_bad_line_share * data_lines:
            raise self._too_many(data_lines)
        if self.rows + len(self.starts) == 0:
            if self.bad_records:
                raise SourceFileError(f"{self.path}: the file has no well-formed rows: {self._examples()}")
            if self.o.header:
                raise SourceFileError(f"{self.path}: the file has a header but no data rows")
            raise SourceFileError(f"{self.path}: the file has no rows")
        return self._flush(total)

    # ---- the error for too many malformed lines

    def _examples(self) -> str:
        return "; ".join(f"line {a}{f'-{b}' if b > a else ''} ({reason}): {_short(text)!r}" for a, b, reason, text in self.examples)

    def _too_many(self, data_lines: int, early: int = 0) -> SourceFileError:
        share = self.bad_lines / data_lines if data_lines else 1.0
        records = _plural(self.bad_records, "malformed record")
        if early:
            counted = f"{records} ({_plural(self.bad_lines, 'line')}) by line {early}, already {share:.1%} of the file's {data_lines} data lines"
        else:
            counted = f"{records} on {self.bad_lines} of the file's {data_lines} data lines ({share:.1%})"
        return SourceFileError(
            f"{self.path}: {counted}, more than max_bad_line_share = {self.o.max_bad_line_share:g} "
            f"(a setting under [cleaning] in salesml.toml). First: {self._examples()}. Likely cause: {self._likely_cause()}"
        )

    def _likely_cause(self) -> str:
        causes: list[str] = []
        for a, _b, reason, _text in self.examples:
            if "never closed" in reason:
                causes.append(f"a quote opened on line {a} is never closed and swallows the lines after it: fix the quote in the file")
                break
        samples = [text for _a, _b, reason, text in self.examples if "field" in reason]
        if self.first_text and samples:
            for cand in _CANDIDATE_DELIMITERS:
                if cand == self.o.delimiter:
                    continue
                n = _field_count(self.first_text, cand)
                if n >= 2 and all(_field_count(t, cand) == n for t in samples):
                    shown = "runs of spaces" if cand == WHITESPACE else repr(cand)
                    causes.append(f"the lines split evenly on {shown}: set delimiter = {_toml(cand)} for the source")
                    break
        if self.o.header and self.names and any(_LOOKS_LIKE_DATA.fullmatch(n) for n in self.names):
            causes.append("the first line looks like data, not a header: set header = false (and name the columns with column_names)")
        more = sum(1 for _a, _b, reason, _t in self.examples if _count(reason) > self.width)
        fewer = sum(1 for _a, _b, reason, _t in self.examples if 0 <= _count(reason) < self.width)
        if more >= fewer and more:
            causes.append(f"values hold the delimiter {_toml(self.o.delimiter) if self.o.delimiter != WHITESPACE else 'whitespace'} without quotes (a decimal comma?), or the delimiter is wrong: set delimiter")
        elif fewer:
            causes.append("lines are cut short, or the first line is not the header: set header = false with column_names")
        if not causes:
            causes.append("a wrong delimiter (set delimiter) or a file without a header (set header = false)")
        return "; ".join(causes) + " (settings of the source in salesml.toml)."


def _count(reason: str) -> int:
    m = re.match(r"(\d+) fields? where", reason)
    return int(m.group(1)) if m else -1


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- the public face


def iter_csv(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str = ",",
    header: bool = True,
    column_names: Sequence[str] = (),
    max_bad_line_share: float = DEFAULT_MAX_BAD_LINE_SHARE,
    chunk_rows: int | None = DEFAULT_CHUNK_ROWS,
) -> Iterator[RawTable]:
    """Read a delimited text file in chunks of at most ``chunk_rows`` rows (``None``: one chunk).

    The file is checked (found, not empty, decodable) before this returns; the chunks are
    read as they are asked for. Each is a :class:`RawTable` with the same columns, the frame
    index continuing across chunks (``line_spans`` use it), its own ``rejects``, and the
    physical lines it covers (the header in the first, blank lines in the chunk they follow),
    so the chunks' ``lines`` add up to the file's. Too many malformed lines raise
    :class:`SourceFileError` before the chunk that makes them too many is handed out.
    """
    path = Path(path)
    options = _options(path, delimiter, header, column_names, max_bad_line_share, chunk_rows)
    scan = scan_text(path, encoding)
    return _Reader(path, scan, file_hash(path), options).chunks()


def read_csv(
    path: str | Path,
    *,
    encoding: str = "auto",
    delimiter: str = ",",
    header: bool = True,
    column_names: Sequence[str] = (),
    max_bad_line_share: float = DEFAULT_MAX_BAD_LINE_SHARE,
    content_hash: str | None = None,
) -> RawTable:
    """Read a delimited text file whole, every value as text (``"007"`` and ``"NA"`` survive).

    ``content_hash``: the file's :func:`file_hash`, when the caller has it already (the file
    is then not read a second time to hash it).

    Empty cells become ``""``; the caller decides what is missing. Raises
    :class:`SourceFileError` for a missing, empty, header-only or undecodable file, and for
    one with more malformed lines than ``max_bad_line_share`` (see the module docstring).
    """
    path = Path(path)
    options = _options(path, delimiter, header, column_names, max_bad_line_share, None)
    scan = scan_text(path, encoding)
    digest = content_hash or file_hash(path)
    fast = _read_with_duckdb(path, scan, digest, options)
    if fast is not None:
        return fast
    (table,) = _Reader(path, scan, digest, options).chunks()
    return table


#: rows per batch handed over by DuckDB's CSV reader
_BATCH_ROWS = 262_144

#: what DuckDB's CSV reader decodes and decompresses itself
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8"}
_DUCKDB_COMPRESSION = {"": "none", "gzip": "gzip", "zstd": "zstd"}


def _read_with_duckdb(path: Path, scan: TextScan, digest: str, options: _Options) -> RawTable | None:
    """The common case read by DuckDB's CSV reader, several times faster than record by record:
    a UTF-8 file, plain or gzip/zstd, with a header and a one-character delimiter, in which
    every line is one record. Anything else — a malformed line, a blank line, a record that
    spans lines, another encoding — returns None and the file is read record by record, which
    numbers lines and sets rejects aside exactly. Values are the same text either way."""
    if (
        scan.encoding not in _DUCKDB_ENCODINGS
        or scan.compression not in _DUCKDB_COMPRESSION
        or options.delimiter == WHITESPACE
        or not options.header
        or scan.lines < 2
    ):
        return None
    names = _first_names(path, scan, options)
    # a cursor of the process's scratch database (salesml.duck): text reaches Arrow as pandas
    # keeps it, no copy to convert
    with scratch() as con:
        try:
            values = [f"coalesce(c{i}, '')" for i in range(len(names))]
            # execute, not sql(..., params=): DuckDB 1.5's relation from a parameterised query
            # reads the file ~5x slower (one thread)
            table = con.execute(
                f"SELECT {', '.join(f'{v} AS c{i}' for i, v in enumerate(values))}, hash({', '.join(values)}) AS _row_hash FROM read_csv($path, header = true, delim = $delim, quote = '\"', escape = '\"', "
                "columns = $columns, auto_detect = false, compression = $compression, store_rejects = true, "
                "strict_mode = true, null_padding = false)",
                {
                    "path": str(path),
                    "delim": options.delimiter,
                    "columns": {f"c{i}": "VARCHAR" for i in range(len(names))},
                    "compression": _DUCKDB_COMPRESSION[scan.compression],
                },
            ).to_arrow_reader(_BATCH_ROWS)
            # each batch copied into Arrow's own buffers of exactly its size and then let go:
            # DuckDB's export holds more than the text it carries
            batches = [pa.RecordBatch.from_arrays([pa.concat_arrays([c]) for c in b.columns], schema=b.schema) for b in table]
            table = pa.Table.from_batches(batches, schema=table.schema)
            del batches
            rejected = con.execute("SELECT count(*) FROM reject_errors").fetchall()[0][0]
        except duckdb.Error:
            return None
    if rejected or table.num_rows != scan.lines - 1:
        return None  # some line is not one record: blank, malformed or part of a longer one
    index = pd.RangeIndex(table.num_rows)
    columns = {SOURCE_ROW: pd.Series(np.arange(2, table.num_rows + 2, dtype=np.int64), index=index)}
    hashes = table.column("_row_hash").to_numpy()
    table = table.drop_columns(["_row_hash"])
    for name, col in zip(names, table.columns, strict=True):
        columns[name] = text_series(col, index)
    frame = pd.DataFrame(columns, index=index, copy=False)
    return RawTable(frame=frame, path=path, encoding=scan.encoding, content_hash=digest, lines=scan.lines,
                    header_lines=1, compression=scan.compression, reader="duckdb", row_hashes=hashes)


def _first_names(path: Path, scan: TextScan, options: _Options) -> list[str]:
    """The column names from the first non-blank line (or the given names, or column1 ...)."""
    if options.column_names:
        return list(options.column_names)
    with open_text(path, scan.encoding) as text:
        lines = _Lines(text, path, sentinel=options.delimiter != WHITESPACE)
        reader = _records(lines, options.delimiter)
        prev = 0
        try:
            for row in reader:
                end = reader.line_num
                if end > lines.total:
                    if prev < lines.total:
                        raise SourceFileError(f"{path}: the first line ({prev + 1}) opens a quote that is never closed: the whole file is one field")
                    break
                if row and not (len(row) == 1 and end == prev + 1 and not row[0].strip()):
                    if options.header:
                        return _header_names(path, row, prev + 1)
                    return [f"column{i + 1}" for i in range(len(row))]
                prev = end
        except csv.Error as e:
            raise SourceFileError(f"{path}: the first line ({prev + 1}) cannot be read as CSV: {e}") from None
    raise SourceFileError(f"{path}: the file has {'no header and no rows' if options.header else 'no rows'} (only blank lines)")


def read_header(
    path: str | Path,
    encoding: str = "auto",
    delimiter: str = ",",
    *,
    header: bool = True,
    column_names: Sequence[str] = (),
) -> list[str]:
    """The column names of a delimited text file, as :func:`read_csv` names them.

    With ``header=False``: ``column_names``, or ``column1`` ... for as many fields as the
    first non-blank line has.
    """
    path = Path(path)
    options = _options(path, delimiter, header, column_names, DEFAULT_MAX_BAD_LINE_SHARE, None)
    return _first_names(path, scan_text(path, encoding), options)
