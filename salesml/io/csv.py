"""Reading CSV exports: strict encoding detection, every value as text, row numbers kept."""

from __future__ import annotations

import codecs
import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from salesml.errors import SalesmlError

#: column added to every raw frame: the row number as a spreadsheet shows it (header = 1)
SOURCE_ROW = "source_row"

_BOM = codecs.BOM_UTF8
_CHUNK = 1 << 22


class SourceFileError(SalesmlError, ValueError):
    """A source file cannot be read; the message names the file and where."""


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


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _check_decodes(path: Path, encoding: str) -> tuple[str, int] | None:
    """Decode the whole file strictly; return (reason, file-wide byte offset) or None."""
    dec = codecs.getincrementaldecoder(encoding)("strict")
    offset = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            final = not chunk
            try:
                dec.decode(chunk, final=final)
            except UnicodeDecodeError as e:
                return e.reason, offset + e.start
            if final:
                return None
            offset += len(chunk)


def detect_encoding(path: Path, declared: str = "auto") -> str:
    """The encoding to read ``path`` with.

    ``auto`` tries strict UTF-8 (``utf-8-sig`` when the file starts with a byte-order
    mark) and only then GB18030, which decodes almost any bytes and so must come last.
    A declared encoding is checked strictly too. Bytes are never replaced: a file that
    does not decode raises :class:`SourceFileError` naming the byte offset.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(3)
    candidates = ["utf-8-sig" if head == _BOM else "utf-8", "gb18030"] if declared == "auto" else [declared]
    errors = []
    for enc in candidates:
        try:
            codecs.lookup(enc)
        except LookupError:
            raise SourceFileError(f"{path}: unknown encoding {enc!r}") from None
        result = _check_decodes(path, enc)
        if result is None:
            return enc
        reason, offset = result
        errors.append(f"{enc} fails at byte offset {offset} ({reason})")
    raise SourceFileError(f"{path}: cannot decode the file: " + "; ".join(errors))


def read_csv(path: str | Path, *, encoding: str = "auto", delimiter: str = ",") -> RawTable:
    """Read a CSV file with every value as text (``"007"`` and ``"NA"`` survive as written).

    Empty cells become ``""``; the caller decides what is missing. Raises
    :class:`SourceFileError` for a missing, empty, header-only or undecodable file.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: the file is empty")
    enc = detect_encoding(path, encoding)
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            encoding=enc,
            sep=delimiter,
            quoting=csv.QUOTE_MINIMAL,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError:
        raise SourceFileError(f"{path}: the file has no header and no rows") from None
    except pd.errors.ParserError as e:
        raise SourceFileError(f"{path}: not a well-formed CSV file: {e}") from None
    if frame.empty:
        raise SourceFileError(f"{path}: the file has a header but no data rows")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.insert(0, SOURCE_ROW, pd.RangeIndex(2, len(frame) + 2))
    return RawTable(frame=frame, path=path, encoding=enc, content_hash=file_hash(path))


def read_header(path: str | Path, encoding: str = "auto", delimiter: str = ",") -> list[str]:
    """The column names of a CSV file (first row), trimmed."""
    path = Path(path)
    enc = detect_encoding(path, encoding)
    with open(path, encoding=enc, newline="") as f:
        return [h.strip() for h in next(csv.reader(f, delimiter=delimiter), [])]
