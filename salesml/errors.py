"""The base of every error salesml reports to a user as one clear line (no traceback), and
the recognition of a full disk in whatever form a write reports it."""

from __future__ import annotations

import errno
import os
import re


class SalesmlError(Exception):
    """An expected failure whose message says what and where (file, row, parameter)."""


class DiskFullError(SalesmlError, OSError):
    """A write failed because the disk is full (or a file size or quota limit was reached)."""


#: the errors of a write that does not fit: no space, a file size limit, a quota
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
#: how DuckDB (and the C library under it) words the same errors in its messages
_FULL_TEXTS = ("no space left on device", "file too large", "disk quota exceeded")
#: the file a DuckDB IO error names: ``Could not write file "PATH": ...``
_DUCKDB_FILE = re.compile(r'file\s+"([^"]+)"', re.IGNORECASE)


def disk_full(exc: BaseException, path: str | os.PathLike | None = None) -> DiskFullError | None:
    """``exc`` as a :class:`DiskFullError` naming the file being written, or None when it is
    another failure.

    Recognises an ``OSError`` with ENOSPC, EFBIG or EDQUOT and any error whose message says so
    (DuckDB's IO errors: ``Could not write file "…": No space left on device``). ``path`` is the
    file to name (the warehouse, the export, the report), else the one the error names.
    """
    if isinstance(exc, DiskFullError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        where = path or exc.filename
    else:
        text = str(exc)
        if not any(t in text.lower() for t in _FULL_TEXTS):
            return None
        named = _DUCKDB_FILE.search(text)
        where = path or (named.group(1) if named else None)
    target = f" writing {os.fspath(where)}" if where else ""
    return DiskFullError(
        f"no space left on device{target} (the disk is full or a file size limit was reached): "
        "free some space and run it again"
    )
