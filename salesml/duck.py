"""The process's scratch DuckDB: one in-memory database, opened on first use, whose cursors
serve the short computations of other modules — reading a file into Arrow, evaluating a
mapping's expressions, hashing rows. A cursor costs ~0.1 ms where a new database costs
~13 ms: a glob of hundreds of daily files spent a fifth of its import opening databases.

What a cursor registers, and its TEMP objects, are its own; functions created with
``create_function`` and settings are the database's (give a function a name that says what
it does, and create it once: :func:`ensure_function`). A forked child opens its own
database. Warehouses are not opened here (:mod:`salesml.warehouse` does that).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

_lock = threading.Lock()
_database: tuple[int, duckdb.DuckDBPyConnection] | None = None
_functions: dict[str, Callable] = {}


def _base() -> duckdb.DuckDBPyConnection:
    global _database
    with _lock:
        if _database is None or _database[0] != os.getpid():
            con = duckdb.connect(":memory:")
            # text reaches Arrow with 64-bit offsets, as pandas keeps it: no copy to convert
            con.execute("SET arrow_large_buffer_size = true")
            # two threads, as the CSV reader always asked for (a database-wide setting)
            con.execute("SET threads = 2")
            _database = (os.getpid(), con)
            _functions.clear()
        return _database[1]


def cursor() -> duckdb.DuckDBPyConnection:
    """A cursor of the process's in-memory DuckDB that the caller keeps and closes: its TEMP
    tables are its own and go with it (an import run's tables of the files it has staged)."""
    return _base().cursor()


@contextmanager
def scratch() -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of the process's in-memory DuckDB, closed when the block ends."""
    con = cursor()
    try:
        yield con
    finally:
        con.close()


def ensure_function(name: str, make: Callable[[], Callable], params: list, returns, **kwargs) -> None:
    """Create the Python function ``name`` in the scratch database once (``make()`` builds it),
    on the database's own connection, which lives as long as the process: every cursor finds
    it, and the function object is kept alive (one created through a cursor would be freed
    when the cursor closes, while the database still calls it)."""
    base = _base()
    with _lock:
        if name in _functions:
            return
        fn = make()
        base.create_function(name, fn, params, returns, **kwargs)
        _functions[name] = fn
