"""Reading a query's result from a source database with SQLAlchemy: every value as text.

The URL is a SQLAlchemy URL (``postgresql://user:${PGPASSWORD}@host:5432/sales``).
``${VAR}`` is replaced from the environment, so passwords stay out of config files; a value
that lands in the user/password part is percent-encoded, so a password may hold ``@`` or
``/``. A URL naming no driver for PostgreSQL uses psycopg (version 3), which salesml installs.

Every message and ``RawTable.path`` name the database by its URL with the password masked
(``postgresql://sales:***@db:5432/sales``); the password never appears.

The connection is made with a connect timeout (PostgreSQL, MySQL), so an unreachable
server fails within seconds, and is closed as soon as the result is read; nothing is ever
committed, and on PostgreSQL the query runs in a read-only transaction. Rows are fetched
in chunks through a server-side cursor where the driver has one.

Values become text by the rules of :mod:`salesml.io.common` (``NUMERIC`` exactly with its
scale, ``"12.50"``; ``NULL`` → ``""``; text as stored, ``"007"``). ``source_row`` is the
row's position in the result, starting at 1 ("row 1" is the first row the query returns).
``content_hash`` is a sha256 over the column names and the text values in result order, so
the same query over unchanged data gives the same hash: give the query an ``ORDER BY``
(otherwise the database may return the same rows in another order, and a new hash).
The query goes to the driver as written (no bind parameters, so ``':x'`` and ``'%'`` are
literal). On PostgreSQL it must be a ``SELECT`` (or ``WITH …``, ``VALUES``, ``TABLE``), since
the rows are streamed through a server-side cursor.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote

from salesml.io.common import ContentHasher, text_frame, to_text, unique_names
from salesml.io.csv import RawTable, SourceFileError

#: ``RawTable.encoding`` of a query result: the driver decodes the text, nothing to detect
SQL_ENCODING = ""

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CHUNK_ROWS = 10_000
#: backends whose drivers take ``connect_timeout`` (seconds) as a connect argument
_CONNECT_TIMEOUT_ARG = {"postgresql": "connect_timeout", "mysql": "connect_timeout", "mariadb": "connect_timeout"}


def expand_url(url: str) -> str:
    """``url`` with every ``${VAR}`` replaced from the environment.

    Values inside the user:password part are percent-encoded (SQLAlchemy decodes them).
    Raises :class:`SourceFileError` naming the first variable that is not set.
    """
    missing = list(dict.fromkeys(m.group(1) for m in _VAR.finditer(url) if m.group(1) not in os.environ))
    if missing:
        used = ", ".join(f"${{{n}}}" for n in missing)
        plural = "s" if len(missing) > 1 else ""
        verb = "are" if len(missing) > 1 else "is"
        raise SourceFileError(
            f"source url: it uses {used} but the environment variable{plural} {', '.join(missing)} {verb} not set"
        )
    start = url.find("://")
    userinfo_end = -1
    if start >= 0:
        rest = url[start + 3 :]
        netloc_len = len(re.split(r"[/?]", rest, maxsplit=1)[0])
        at = rest.rfind("@", 0, netloc_len)
        if at >= 0:
            userinfo_end = start + 3 + at

    def sub(m: re.Match) -> str:
        value = os.environ[m.group(1)]
        return quote(value, safe="") if m.start() < userinfo_end else value

    return _VAR.sub(sub, url)


def _parse(url: str):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    expanded = expand_url(url)
    try:
        u = make_url(expanded)
    except (ArgumentError, ValueError):
        # never echo the text: it may hold a password
        raise SourceFileError("source url: not a valid SQLAlchemy URL (dialect+driver://user:password@host:port/database)") from None
    return u


def masked_url(url: str) -> str:
    """The URL as shown to a user: ``${VAR}`` expanded and the password replaced by ``***``."""
    return _parse(url).render_as_string(hide_password=True)


_PG_CURSOR_STATEMENTS = {"select", "with", "values", "table"}
_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)


def _first_keyword(query: str) -> str:
    """The query's first word, after blanks, comments and opening parentheses, in lower case."""
    rest = query[_LEADING.match(query).end() :]
    m = re.match(r"[A-Za-z_]+", rest)
    return m.group(0).lower() if m else ""


def _scrub(message: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            message = message.replace(s, "***")
    return message


def _one_line(e: BaseException) -> str:
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip() or type(orig).__name__
    text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def read_sql(url: str, query: str, *, connect_timeout_s: int = 5) -> RawTable:
    """Run ``query`` on the database at ``url`` and return its rows as text.

    See the module docstring for the URL, row numbers and hash. Raises
    :class:`SourceFileError` (naming the masked URL, never the password) when a variable is
    missing, the driver is not installed, the server cannot be reached or refuses the
    login, the query fails, returns no result set or returns no rows.
    """
    from sqlalchemy import create_engine
    from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    u = _parse(url)
    label = u.render_as_string(hide_password=True)
    secrets = [u.password or ""]
    secrets += [quote(secrets[0], safe=""), quote(secrets[0])]
    if not query or not query.strip():
        raise SourceFileError(f"{label}: no query given (a SQL source table needs a query)")
    if u.get_backend_name() == "postgresql":
        # rows are streamed through a server-side cursor, which PostgreSQL declares only for these
        first = _first_keyword(query)
        if first not in _PG_CURSOR_STATEMENTS:
            raise SourceFileError(
                f"{label}: the query must be a SELECT (or WITH …, VALUES, TABLE), not {first.upper() or 'empty'}"
            )
    connect_args = {}
    arg = _CONNECT_TIMEOUT_ARG.get(u.get_backend_name())
    if arg and connect_timeout_s:
        connect_args[arg] = int(connect_timeout_s)
    try:
        driver_url = u.set(drivername="postgresql+psycopg") if u.drivername == "postgresql" else u
        engine = create_engine(driver_url, poolclass=NullPool, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as e:
        raise SourceFileError(f"{label}: no database driver for {u.drivername!r} is installed ({_scrub(str(e), secrets)})") from None

    try:
        try:
            conn = engine.connect()
        except SQLAlchemyError as e:
            raise SourceFileError(f"{label}: cannot connect: {_scrub(_one_line(e), secrets)}") from None
        with conn:
            try:
                # the text goes to the driver as written (no bind parameters: ':x' and '%' are literal)
                options: dict = {"stream_results": True, "no_parameters": True}
                if u.get_backend_name() == "postgresql":
                    options["postgresql_readonly"] = True  # a source is read, never written
                result = conn.execution_options(**options).exec_driver_sql(query)
                if not result.returns_rows:
                    raise SourceFileError(f"{label}: the query returns no rows (is it a SELECT?)")
                names = unique_names(list(result.keys()))
                hasher = ContentHasher(names)
                data: list[list[str]] = [[] for _ in names]
                for chunk in result.partitions(_CHUNK_ROWS):
                    for row in chunk:
                        values = [to_text(v) for v in row]
                        hasher.add_row(values)
                        for col, v in zip(data, values, strict=True):
                            col.append(v)
            except SQLAlchemyError as e:
                raise SourceFileError(f"{label}: the query failed: {_scrub(_one_line(e), secrets)}") from None
    finally:
        engine.dispose()
    n = len(data[0]) if data else 0
    if n == 0:
        raise SourceFileError(f"{label}: the query returned no rows")
    frame = text_frame(names, data, range(1, n + 1))
    return RawTable(frame=frame, path=label, encoding=SQL_ENCODING, content_hash=hasher.hexdigest())
