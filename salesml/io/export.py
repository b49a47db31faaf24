"""Safe exports of warehouse tables and query results to ``.xlsx`` or ``.csv``.

Spreadsheets execute what looks like a formula. A customer called
``=HYPERLINK("http://x","y")`` must reach the reader as that text, never as a live link:

* **CSV** has no types, so every text cell that a spreadsheet would read as a formula
  (it starts with ``=``, ``+``, ``-`` or ``@``, possibly after leading whitespace, or with a
  tab or carriage return; full-width ``＝ ＋ － ＠`` too) gets a leading apostrophe
  (OWASP's CSV-injection advice). Numbers stay numbers. The file is UTF-8 with a BOM so
  Excel shows Chinese correctly; dates are ISO; missing values are empty.
* **xlsx** is typed: text is written as string cells (xlsxwriter with
  ``strings_to_formulas``, ``strings_to_urls`` and ``strings_to_numbers`` off, and each cell
  written with its explicit type), so ``=...`` is shown literally and is kept unchanged.
  Dates are real Excel dates, money has a ``#,##0.00`` format, the header is bold and
  frozen. A frame taller than a sheet (1,048,576 rows with the header) is an error that
  suggests CSV; nothing is truncated.

Files are written atomically: to a temporary file beside the target, then renamed, so a
failed export never leaves a half-written file behind (nor destroys an older one). A disk
that fills up during the write is a :class:`~salesml.errors.DiskFullError` naming the target.
While it is written the temporary file is owner-only (0600), and xlsxwriter's parts lie in a
folder of their own (0700, files 0600); the finished file is given the permissions any new
file gets (``0o666`` less the umask) just before it is renamed into place.

This module also owns the file helpers other writers share (:func:`temp_beside`,
:func:`shared_mode`, :func:`private_folders`): report pages, the model registry.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
import os
import re
import secrets
import shutil
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from salesml import schema
from salesml.errors import SalesmlError, disk_full

if TYPE_CHECKING:
    pass

#: file types an export can write, by extension
FORMATS = {".xlsx": "xlsx", ".csv": "csv", ".parquet": "parquet"}

#: Excel's sheet size (rows include the header row)
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLS = 16_384
#: Excel's limit on the characters of one cell
XLSX_MAX_CELL_CHARS = 32_767

MONEY_FORMAT = "#,##0.00"
PRICE_FORMAT = "#,##0.00##"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

#: a text cell a spreadsheet would run: a trigger character after optional whitespace,
#: or a tab / carriage return first (OWASP CSV injection); full-width forms included
_FORMULA_RE = re.compile(r"^(?:[\t\r]|\s*[=+\-@\uff1d\uff0b\uff0d\uff20])")

#: money columns by name: the canonical ones, the provenance revenue columns, and names a
#: query or a report typically gives to money (revenue, sum_amount, target_margin ...)
_MONEY_NAMES = frozenset(
    [c.name for t in schema.TABLES.values() for c in t.columns if c.dtype == "money"]
    + ["revenue_read", "revenue_loaded", "revenue_quarantined"]
)
_PRICE_NAMES = frozenset(
    c.name for t in schema.TABLES.values() for c in t.columns if c.dtype == "price"
)
_MONEY_WORDS = frozenset(
    ["amount", "revenue", "cost", "margin", "spend", "sales", "returns", "aov"]
)
_NOT_MONEY_SUFFIXES = ("_pct", "_rate", "_ratio", "_share", "_rank", "_count", "_n")



class ExportError(SalesmlError, ValueError):
    """An export cannot be written as asked; the message says why and what to do instead."""


# --------------------------------------------------------------------------- pure helpers


def neutralise_formula(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula.

    Text starting with ``=``, ``+``, ``-`` or ``@`` (also after leading whitespace, and the
    full-width forms), or with a tab or carriage return, becomes ``'`` + text. Anything
    that is not text (numbers, negative ones included, dates, missing values) is returned
    unchanged.
    """
    if isinstance(value, str) and _FORMULA_RE.match(value):
        return "'" + value
    return value


def export_format(path: str | os.PathLike) -> str:
    """``"xlsx"``, ``"csv"`` or ``"parquet"`` from the file's extension; anything else is an ExportError."""
    suffix = Path(path).suffix
    try:
        return FORMATS[suffix.lower()]
    except KeyError:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise ExportError(
            f"cannot export to {str(path)!r}: {what} is not supported; name a .xlsx, .csv or .parquet file"
        ) from None


def is_money_column(name: str) -> bool:
    """Whether a column of this name holds money (shown with ``#,##0.00``)."""
    n = name.lower()
    if n in _MONEY_NAMES:
        return True
    if n in _PRICE_NAMES or n.endswith(_NOT_MONEY_SUFFIXES):
        return False
    return any(part in _MONEY_WORDS for part in re.split(r"[^a-z0-9]+", n))


def _is_text_dtype(s: pd.Series) -> bool:
    return pd.api.types.is_string_dtype(s) or s.dtype == object


def _is_datetime_dtype(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(s)


def _naive(s: pd.Series) -> pd.Series:
    """Datetimes without a time zone (wall-clock time kept): spreadsheets have none."""
    return s.dt.tz_localize(None) if isinstance(s.dtype, pd.DatetimeTZDtype) else s


def _has_time(s: pd.Series) -> bool:
    s = _naive(s).dropna()
    return bool(len(s)) and bool((s != s.dt.normalize()).any())


def _neutralise_series(s: pd.Series) -> pd.Series:
    if pd.api.types.is_string_dtype(s) and s.dtype != object:
        mask = s.str.match(_FORMULA_RE).fillna(False).astype(bool)
        return s.where(~mask, "'" + s) if mask.any() else s
    return s.map(neutralise_formula)


def _iso(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return (
            v.date().isoformat() if v.time() == dt.time(0) and v.tzinfo is None else v.isoformat()
        )
    if isinstance(v, dt.date):
        return v.isoformat()
    return v


def csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The frame as a CSV should carry it: ISO dates, neutralised text and headers.

    Pure: returns a new frame (columns by position, so duplicate names are fine).
    """
    cols = []
    for j in range(df.shape[1]):
        s = df.iloc[:, j]
        if _is_datetime_dtype(s):
            # dates as YYYY-MM-DD; timestamps in full (fractions of a second, time zone)
            iso = (
                s.map(lambda t: t.isoformat(), na_action="ignore")
                if _has_time(s)
                else s.dt.strftime("%Y-%m-%d")
            )
            s = iso.astype(object).where(s.notna(), None)
        elif _is_text_dtype(s):
            s = _neutralise_series(s.map(_iso) if s.dtype == object else s)
        cols.append(s.reset_index(drop=True))
    out = pd.concat(cols, axis=1, ignore_index=True) if cols else pd.DataFrame(index=range(len(df)))
    out.columns = [neutralise_formula(str(c)) for c in df.columns]
    return out


def _display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


# --------------------------------------------------------------------------- writing


def current_umask() -> int:
    """The process's umask. Reading it means setting it: for that instant it is 0o077 (a file
    another thread creates meanwhile is owner-only, never open to all), then what it was."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


def shared_mode() -> int:
    """The permissions a new file normally gets, ``0o666`` less the umask: what a finished
    export or a published page is given before it is renamed into place."""
    return 0o666 & ~current_umask()


def temp_beside(path: Path) -> Path:
    """A new empty file in ``path``'s folder (hidden, unique), owner-only (0600): what it is
    given to hold is nobody else's until it is complete and renamed into place."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise ExportError(f"cannot create a temporary file beside {path}")  # pragma: no cover


def private_folders(folder: Path, top: Path) -> None:
    """Make ``folder`` (``top`` or a folder inside it) with every missing folder from ``top``
    down owner-only (0700, whatever the umask); ``top``'s own parents as usual. Folders that
    already exist are left as they are."""
    top.parent.mkdir(parents=True, exist_ok=True)
    below = folder.relative_to(top)
    for current in (*(top / p for p in reversed(below.parents)), folder):  # top first
        try:
            current.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(current, 0o700)


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` into an owner-only temporary file beside ``path``, then give it the permissions
    of a new file and rename it into place. On any failure the temporary file is removed and
    ``path`` keeps what it held; a full disk (or a file size limit) is a DiskFullError naming
    ``path``."""
    if path.is_dir():
        raise ExportError(f"cannot export to {path}: it is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_beside(path)
    except OSError as e:
        raise disk_full(e, path) or e from None
    try:
        write(tmp)
        os.chmod(tmp, shared_mode())  # complete: as any new file, for whoever may read it
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        full = disk_full(e, path) if isinstance(e, Exception) else None
        if full is not None:
            raise full from None
        raise


def _write_csv(df: pd.DataFrame, tmp: Path) -> None:
    # utf-8-sig writes the BOM Excel needs to read UTF-8 (Chinese) correctly
    csv_frame(df).to_csv(tmp, index=False, encoding="utf-8-sig", na_rep="")


def _check_xlsx_fits(df: pd.DataFrame) -> None:
    rows, cols = df.shape
    if rows + 1 > XLSX_MAX_ROWS:
        raise ExportError(
            f"{rows:,} rows do not fit in an Excel sheet (at most {XLSX_MAX_ROWS - 1:,} rows "
            "below the header); nothing was written: export to a .csv file instead"
        )
    if cols > XLSX_MAX_COLS:
        raise ExportError(
            f"{cols:,} columns do not fit in an Excel sheet (at most {XLSX_MAX_COLS:,}); "
            "nothing was written: export to a .csv file instead"
        )
    for j in range(cols):
        s = df.iloc[:, j]
        if not _is_text_dtype(s):
            continue
        if s.dtype == object:
            lengths = s.map(lambda v: len(v) if isinstance(v, str) else 0)
        else:
            lengths = s.str.len().fillna(0)
        if len(lengths) and lengths.max() > XLSX_MAX_CELL_CHARS:
            row = int(lengths.to_numpy().argmax()) + 1
            raise ExportError(
                f"column {str(df.columns[j])!r}, row {row:,}: {int(lengths.max()):,} characters do "
                f"not fit in an Excel cell (at most {XLSX_MAX_CELL_CHARS:,}); nothing was written: "
                "export to a .csv file instead"
            )


def _check_sheet_name(sheet: str) -> None:
    bad = set("[]:*?/\\") & set(sheet)
    if (
        not sheet
        or len(sheet) > 31
        or bad
        or sheet.startswith("'")
        or sheet.endswith("'")
        or sheet.lower() == "history"
    ):
        raise ExportError(
            f"{sheet!r} cannot name an Excel sheet: use 1 to 31 characters, none of [ ] : * ? / \\, "
            "not starting or ending with an apostrophe, and not 'History'"
        )


def _python_values(s: pd.Series) -> list:
    """A column as Python values with None for missing (NaN, NA, NaT)."""
    if _is_datetime_dtype(s):
        s = _naive(s)
    obj = s.astype(object)
    return obj.where(s.notna(), None).tolist()


#: day 0 of Excel's 1900 date system, valid from 1900-03-01 (Excel counts a 29 Feb 1900)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EXCEL_LEAP_BUG_END = pd.Timestamp("1900-03-01")
#: Excel's 1900 date system starts here; earlier dates are written as ISO text
_EXCEL_FIRST_DAY = dt.datetime(1900, 1, 1)


def _column_writer(ws, s: pd.Series, number_fmt, date_fmt) -> tuple[list, Callable]:
    """A column's values (None = leave the cell empty) and the call that writes one.

    Typed columns get one writer for all their cells (dates as Excel serial numbers with
    a date format, computed at once); mixed ``object`` columns are dispatched per value.
    """
    if _is_datetime_dtype(s):
        naive = _naive(s)
        if not (naive < _EXCEL_LEAP_BUG_END).any():
            serial = (naive - _EXCEL_EPOCH) / pd.Timedelta(days=1)
            return _python_values(serial), lambda r, c, v: ws.write_number(r, c, v, date_fmt)
    elif pd.api.types.is_bool_dtype(s):
        return _python_values(s), ws.write_boolean
    elif pd.api.types.is_numeric_dtype(s):
        values = _python_values(s.astype("float64"))
        return values, lambda r, c, v: _write_number(ws, r, c, v, number_fmt)
    elif pd.api.types.is_string_dtype(s) and s.dtype != object:
        return _python_values(s), ws.write_string
    return _python_values(s), lambda r, c, v: _write_cell(ws, r, c, v, number_fmt, date_fmt)


def _write_xlsx(df: pd.DataFrame, tmp: Path, sheet: str) -> None:
    _write_xlsx_sheets({sheet: df}, tmp)


def _write_xlsx_sheets(frames: dict[str, pd.DataFrame], tmp: Path) -> None:
    import xlsxwriter

    cells = sum(df.shape[0] * max(df.shape[1], 1) for df in frames.values())
    # xlsxwriter assembles the file from parts in temporary files and leaves them behind when
    # the zip cannot be written (a full disk): keep them in a folder that is always removed
    # (made owner-only, 0700, as its parts are, 0600: mkdtemp and mkstemp)
    with tempfile.TemporaryDirectory(prefix="salesml-xlsx-") as parts:
        wb = xlsxwriter.Workbook(
            str(tmp),
            {
                # text stays text: never a formula, a hyperlink or a number
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
                # stream rows to disk for large frames (strings inline instead of shared)
                "constant_memory": cells > 1_000_000,
                "tmpdir": parts,
            },
        )
        try:
            for sheet, df in frames.items():
                _write_sheet(wb, df, sheet)
        finally:
            wb.close()


def _write_sheet(wb, df: pd.DataFrame, sheet: str) -> None:
    rows, cols = df.shape
    ws = wb.add_worksheet(sheet)
    header_fmt = wb.add_format({"bold": True, "bottom": 1})
    money_fmt = wb.add_format({"num_format": MONEY_FORMAT})
    price_fmt = wb.add_format({"num_format": PRICE_FORMAT})
    date_fmt = wb.add_format({"num_format": DATE_FORMAT})
    datetime_fmt = wb.add_format({"num_format": DATETIME_FORMAT})

    names = [str(c) for c in df.columns]
    number_fmts: list[Any] = []
    date_fmts: list[Any] = []
    widths: list[int] = []
    for j, name in enumerate(names):
        s = df.iloc[:, j]
        nf = None
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if numeric or s.dtype == object:
            if is_money_column(name):
                nf = money_fmt
            elif name.lower() in _PRICE_NAMES:
                nf = price_fmt
        number_fmts.append(nf)
        has_time = _has_time(s) if _is_datetime_dtype(s) else False
        date_fmts.append(datetime_fmt if has_time else date_fmt)
        widths.append(_column_width(name, s, nf is not None, has_time))
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    ws.freeze_panes(1, 0)
    if cols:
        ws.autofilter(0, 0, rows, cols - 1)

    for j, name in enumerate(names):
        ws.write_string(0, j, name, header_fmt)
    writers = [
        _column_writer(ws, df.iloc[:, j], number_fmts[j], date_fmts[j]) for j in range(cols)
    ]
    for i in range(rows):
        r = i + 1
        for j, (values, write) in enumerate(writers):
            v = values[i]
            if v is not None:
                write(r, j, v)


def _write_number(ws, r: int, c: int, x: float, number_fmt) -> None:
    if math.isfinite(x):
        ws.write_number(r, c, x, number_fmt)
    elif not math.isnan(x):  # Excel has no infinity: the text, never an error formula
        ws.write_string(r, c, "inf" if x > 0 else "-inf")


def _write_cell(ws, r: int, c: int, v: Any, number_fmt, date_fmt) -> None:
    if isinstance(v, str):
        ws.write_string(r, c, v)
    elif isinstance(v, bool):
        ws.write_boolean(r, c, v)
    elif isinstance(v, numbers.Number | decimal.Decimal):
        _write_number(ws, r, c, float(v), number_fmt)
    elif isinstance(v, dt.datetime | dt.date):
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            v = v.replace(tzinfo=None)
        first_day = _EXCEL_FIRST_DAY if isinstance(v, dt.datetime) else _EXCEL_FIRST_DAY.date()
        if v < first_day:  # before Excel's first day: as text, not a wrong date
            ws.write_string(r, c, _iso(v))
        else:
            ws.write_datetime(r, c, v, date_fmt)
    elif isinstance(v, dt.time):
        ws.write_string(r, c, v.isoformat())
    else:
        ws.write_string(r, c, str(v))


def _column_width(name: str, s: pd.Series, money: bool, has_time: bool) -> int:
    width = _display_width(name) + 3  # room for the autofilter button
    if _is_datetime_dtype(s):
        width = max(width, 19 if has_time else 11)
    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        sample = s.dropna().head(1000)
        if len(sample):
            biggest = float(sample.abs().max())
            shown = f"{biggest:,.2f}" if money else f"{biggest:.10g}"
            width = max(width, len(shown) + 2)
    else:
        sample = s.dropna().head(1000)
        if len(sample):
            width = max(width, max(_display_width(str(v)) for v in sample) + 1)
    return max(6, min(width, 60))


def export_frame(df: pd.DataFrame, path: str | os.PathLike, *, sheet: str = "data") -> Path:
    """Write ``df`` to ``path`` (``.xlsx`` or ``.csv``, by extension), atomically.

    Returns the absolute path written. ``sheet`` names the worksheet of an ``.xlsx``
    (a CSV has none). Raises ExportError for an unknown extension, a bad sheet name, or a
    frame that does not fit in an Excel sheet (nothing is written then).
    """
    path = Path(path).absolute()
    fmt = export_format(path)
    if fmt == "csv":
        _atomic_write(path, lambda tmp: _write_csv(df, tmp))
    else:
        _check_sheet_name(sheet)
        _check_xlsx_fits(df)
        _atomic_write(path, lambda tmp: _write_xlsx(df, tmp, sheet))
    return path


def export_sheets(frames: dict[str, pd.DataFrame], path: str | os.PathLike) -> Path:
    """Write several frames to one ``.xlsx``, one sheet each (in order), atomically.

    The same safety as :func:`export_frame`; every sheet name and size is checked before
    anything is written. Returns the absolute path written.
    """
    path = Path(path).absolute()
    if export_format(path) != "xlsx":
        raise ExportError(f"cannot write {len(frames)} sheets to {str(path)!r}: name a .xlsx file")
    if not frames:
        raise ExportError("nothing to export: no sheets given")
    seen: set[str] = set()
    for sheet, df in frames.items():
        _check_sheet_name(sheet)
        if sheet.lower() in seen:
            raise ExportError(f"sheet name {sheet!r} is used twice (Excel ignores case)")
        seen.add(sheet.lower())
        _check_xlsx_fits(df)
    _atomic_write(path, lambda tmp: _write_xlsx_sheets(dict(frames), tmp))
    return path


def check_target(to: str | os.PathLike, sheet: str = "data", partition_by: tuple[str, ...] = ()) -> None:
    """Refuse an export's target before anything is read: its extension (``.xlsx`` /
    ``.csv`` / ``.parquet``), for xlsx the sheet name, and partitions only for Parquet."""
    fmt = export_format(to)
    if fmt == "xlsx":
        _check_sheet_name(sheet)
    if partition_by and fmt != "parquet":
        raise ExportError(f"--partition-by needs a .parquet target (a folder of Parquet files), not a .{fmt} file")


# --------------------------------------------------------------------------- Parquet


def export_batches(batches: pa.RecordBatchReader, path: str | os.PathLike, partition_by: tuple[str, ...] = ()) -> tuple[Path, int]:
    """Stream ``batches`` to Parquet at ``path``: one file, or with ``partition_by`` a folder of
    Hive partitions (``path/month=2026-11/part-0.parquet``) that Spark, Dask, DuckDB and pandas
    read as one dataset. Types are kept (money stays DECIMAL, dates DATE); nothing is made
    formula-safe (no spreadsheet opens a Parquet file). Written atomically, owner-only while in
    progress: a file through a temporary file, a folder through a temporary folder beside it,
    renamed into place (an existing folder of that name is refused). Returns the path and rows."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    path = Path(path).absolute()
    names = batches.schema.names
    missing = [c for c in partition_by if c not in names]
    if missing:
        raise ExportError(f"--partition-by {', '.join(missing)}: no such column; the columns are {', '.join(names)}")
    counted = _Counting(batches)
    if not partition_by:
        def write(tmp: Path) -> None:
            with pq.ParquetWriter(tmp, batches.schema) as w:
                for batch in counted:
                    w.write_batch(batch)

        _atomic_write(path, write)
        return path, counted.rows
    if path.exists():
        raise ExportError(f"cannot export to {path}: it exists (a partitioned export writes a new folder)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))  # 0700
    except OSError as e:
        raise disk_full(e, path) or e from None
    try:
        ds.write_dataset(pa.RecordBatchReader.from_batches(batches.schema, counted), tmp, format="parquet",
                         partitioning=list(partition_by), partitioning_flavor="hive", basename_template="part-{i}.parquet")
        mode = shared_mode()
        for p in tmp.rglob("*"):
            os.chmod(p, (mode | 0o111) & 0o777 if p.is_dir() else mode)
        os.chmod(tmp, (mode | 0o111) & 0o777)
        os.rename(tmp, path)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        full = disk_full(e, path) if isinstance(e, OSError) else None
        if full is not None:
            raise full from None
        raise
    return path, counted.rows


class _Counting:
    """Iterates a record-batch reader's batches, counting their rows."""

    def __init__(self, reader: pa.RecordBatchReader):
        self.reader = reader
        self.rows = 0

    def __iter__(self):
        for batch in self.reader:
            self.rows += batch.num_rows
            yield batch


__all__ = [
    "ExportError",
    "check_target",
    "csv_frame",
    "export_format",
    "export_batches",
    "export_frame",
    "export_sheets",
    "is_money_column",
    "neutralise_formula",
]
