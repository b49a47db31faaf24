"""Reading Excel workbooks (.xlsx, .xlsm): one sheet at a time, every value as text.

Cells are read with openpyxl in read-only mode with ``data_only=True``: a formula gives the
value Excel last calculated and saved with the workbook (a workbook written by a program
and never opened in Excel may hold no such value: the cell reads as ``""``). Typed cells
become text by :mod:`salesml.io.common` (``7`` → ``"7"``, a date → ``"2024-01-05"``); a
cell stored as text keeps its text (``"007"``).

The first non-blank row is the header; ``source_row`` is the sheet's own row number (the
header on row 1 makes the first data row 2), so a message "row 5" is row 5 in Excel.
Blank rows (every cell empty) are skipped wherever they are, like blank lines in a CSV file;
columns with neither a header nor any value are dropped, and a column with values but no
header is named ``Unnamed: <column letter>``.

``content_hash`` comes from the file's bytes, computable before parsing (:func:`sheet_hash`):
the sha256 of the file (as for CSV, :func:`salesml.io.csv.file_hash`) when the first sheet
is read by default, else the sha256 of ``"<file hash>|<sheet as requested>"``, so two sheets
of one workbook never share a hash. It covers the whole workbook: a change in any sheet
changes it. A workbook saved again without changes may get new bytes (Excel stores a
modification time) and so a new hash. ``RawTable.sheet`` is the name of the sheet read.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from salesml.io.common import text_frame, to_text, unique_names
from salesml.io.csv import RawTable, SourceFileError, file_hash

#: ``RawTable.encoding`` of a workbook (an .xlsx file is UTF-8 XML)
EXCEL_ENCODING = "utf-8"


def _open(path: Path):
    from openpyxl import load_workbook  # imported when used: keeps `import salesml.io` light
    from openpyxl.utils.exceptions import InvalidFileException

    if not path.is_file():
        raise SourceFileError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise SourceFileError(f"{path}: the file is empty")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except InvalidFileException as e:
        raise SourceFileError(f"{path}: not an Excel workbook openpyxl can read (.xlsx, .xlsm): {e}") from None
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        hint = " (an old .xls workbook: save it as .xlsx)" if path.suffix.lower() == ".xls" else ""
        raise SourceFileError(f"{path}: not a readable .xlsx workbook{hint}: {e}") from None


def sheet_hash(path: str | Path, sheet: str | int | None = None) -> str:
    """The ``content_hash`` :func:`read_excel` gives for ``sheet`` of the workbook at ``path``."""
    h = file_hash(Path(path))
    if sheet is None or sheet == "":
        return h
    return hashlib.sha256(f"{h}|{sheet}".encode()).hexdigest()


def _names(wb) -> list[str]:
    return [ws.title for ws in wb.worksheets]


def list_sheets(path: str | Path) -> list[str]:
    """The names of a workbook's worksheets, in workbook order."""
    path = Path(path)
    wb = _open(path)
    try:
        return _names(wb)
    finally:
        wb.close()


def _pick(wb, path: Path, sheet: str | int | None):
    sheets = wb.worksheets
    names = _names(wb)
    listed = ", ".join(repr(n) for n in names) or "none"
    if not sheets:
        raise SourceFileError(f"{path}: the workbook has no worksheets")
    if sheet is None or sheet == "":
        return sheets[0]
    if isinstance(sheet, bool) or not isinstance(sheet, int | str):
        raise SourceFileError(f"{path}: a sheet is named by its name or its index, got {sheet!r}")
    if isinstance(sheet, int):
        if not -len(sheets) <= sheet < len(sheets):
            raise SourceFileError(f"{path}: no sheet number {sheet} (the workbook has {len(sheets)}: {listed})")
        return sheets[sheet]
    if sheet in names:
        return sheets[names.index(sheet)]
    folded = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
    if len(folded) == 1:
        return sheets[names.index(folded[0])]
    raise SourceFileError(f"{path}: no sheet named {sheet!r} (sheets: {listed})")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def read_excel(path: str | Path, *, sheet: str | int | None = None) -> RawTable:
    """Read one sheet of a workbook with every value as text (see the module docstring).

    ``sheet`` is a name (matched exactly, else ignoring case and surrounding spaces), a
    0-based index, or None / ``""`` for the first sheet. Raises :class:`SourceFileError`
    for a missing or unreadable file, a missing sheet (listing the sheets), an empty sheet
    or a sheet with a header but no data rows.
    """
    path = Path(path)
    wb = _open(path)
    try:
        ws = _pick(wb, path, sheet)
        title = ws.title
        where = f"{path}, sheet {title!r}"
        ws.reset_dimensions()  # the stored dimensions may be wrong: read every row there is
        header: list[object] | None = None
        rows: list[tuple] = []
        numbers: list[int] = []
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if all(_blank(v) for v in row):
                continue
            if header is None:
                header = list(row)
                header_row = number
            else:
                rows.append(row)
                numbers.append(number)
    except SourceFileError:
        raise
    except Exception as e:  # a damaged workbook fails while its sheet is parsed
        raise SourceFileError(f"{path}: cannot read the workbook: {type(e).__name__}: {e}") from None
    finally:
        wb.close()
    if header is None:
        raise SourceFileError(f"{where}: the sheet is empty (no header and no rows)")
    if not rows:
        raise SourceFileError(f"{where}: the sheet has a header (row {header_row}) but no data rows")

    from openpyxl.utils import get_column_letter

    width = max(len(header), *(len(r) for r in rows))
    columns: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        for j in range(width):
            columns[j].append(to_text(row[j]) if j < len(row) else "")
    head = [to_text(header[j]).strip() if j < len(header) else "" for j in range(width)]
    keep = [j for j in range(width) if head[j] or any(columns[j])]
    names = unique_names([head[j] or f"Unnamed: {get_column_letter(j + 1)}" for j in keep])
    frame = text_frame(names, [columns[j] for j in keep], numbers)
    return RawTable(frame=frame, path=path, encoding=EXCEL_ENCODING, content_hash=sheet_hash(path, sheet), sheet=title)
