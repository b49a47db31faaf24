"""Step 2 of the import, map: source rows -> canonical columns, as a source's mapping says.

A mapping gives, for each canonical column, one of:

* a source column: ``order_id = "Order ID"`` (its text as written; blank = missing);
* a literal in single quotes: ``currency = "'USD'"``;
* ``@row`` (the row's line in the file) or ``@seq(Order ID)`` (1, 2, ... within each value
  of a column, in file order) for exports without line numbers;
* an arithmetic expression over columns and numbers (``+ - * /`` and parentheses):
  ``cost = "Sales - Profit"``, ``amount = "`Unit Price` * Qty"`` — its columns are read as
  numbers the way the source writes them (``$262``, ``1.234,50`` with ``decimal = ","``);
  a row whose operand is not a number is quarantined, naming the expression;
* any other expression is **DuckDB SQL** over the source columns, all of them text
  (``VARCHAR``, blank = NULL): ``coalesce(CustomerID, 'GUEST')``,
  ``Store || '-' || Dept``, ``CASE WHEN Qty LIKE '-%' THEN 'returned' ELSE 'completed' END``,
  ``try_strptime(Datum, '%d.%m.%Y %H:%M')``, ``CAST(Datum AS DATE) + INTERVAL 1 DAY``,
  ``num(CustomerID)`` (``num`` reads a number as the source writes it). Names with spaces
  or symbols go in backticks or double quotes: ```Unit Price``` / ``"Unit Price"``.

Keys and other text columns are always text: a number computed into one is written as its
shortest text (``17850.0`` -> ``17850``: map ``customer_id = "num(CustomerID)"`` for ids that
an export wrote as floats). Mapping errors name the table, the expression, the unknown
column and the columns the file has.

Joined files (order headers onto line items) are merged in before mapping; a row that finds
no match, or more than one, is reported, not dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesml import schema
from salesml.cleaning import log as L
from salesml.cleaning.numbers import NumberStyle, read_numbers
from salesml.cleaning.rules import DERIVATIONS, TEXT, arrow_mask, as_text, mask
from salesml.duck import ensure_function, scratch
from salesml.errors import SalesmlError
from salesml.io import float_text

SOURCE_ROW = schema.SOURCE_ROW

_SEQ = re.compile(r"^@seq\(\s*`?(?P<col>[^`]+?)`?\s*\)$")
_LITERAL = re.compile(r"^'(?P<text>[^']*)'$")
_TOKEN = re.compile(r"`([^`]+)`|([A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*)")
#: an arithmetic expression: names (backticked or bare, not called as functions), numbers,
#: + - * / and parentheses
_ARITH_TOKEN = re.compile(r"\s+|`[^`]+`|[A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*(?!\s*\()|\d+(?:\.\d+)?|[-+*/()]")
_SQL_NAME = re.compile(r'`([^`]+)`|"((?:[^"]|"")+)"|([A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*)')


#: the default number style (decimal ".", thousands ",")
PLAIN = NumberStyle()


class MappingError(SalesmlError, ValueError):
    """The mapping does not fit the source (a column it names is missing...)."""


@dataclass(frozen=True)
class Mapped:
    """Canonical columns (text, or numbers for expressions) plus ``source_row``."""

    frame: pd.DataFrame
    log: L.RuleLog


def _numbers(s: pd.Series, style: NumberStyle = PLAIN) -> tuple[pd.Series, pd.Series]:
    """Parse a text column as numbers in a source's style (as parse_numbers does, on the
    distinct values); returns (values, bad mask)."""
    plain = pd.to_numeric(s, errors="coerce") if style.decimal == "." else pd.Series(np.nan, index=s.index)
    values = plain.to_numpy(dtype="float64", na_value=np.nan).copy()
    todo = mask(as_text(s).str.strip().fillna("") != "") & np.isnan(values)
    if todo.any():
        codes, uniq = pd.factorize(s[todo])
        read = read_numbers(pd.Series(np.asarray(uniq, dtype=object)), style.decimal, style.thousands)["value"].to_numpy()
        values[todo] = read[codes]
    values = pd.Series(values, index=s.index)
    return values, pd.Series(todo & np.isnan(values.to_numpy()), index=s.index)


def is_arithmetic(expr: str) -> bool:
    """Whether ``expr`` is plain arithmetic over names and numbers (not SQL)."""
    pos, ops = 0, 0
    while pos < len(expr):
        m = _ARITH_TOKEN.match(expr, pos)
        if not m:
            return False
        ops += m.group(0) in "+-*/"
        pos = m.end()
    return ops > 0


def expression_columns(expr: str, columns: list[str]) -> list[str]:
    """The source columns an arithmetic expression uses; unknown names are an error."""
    names = []
    for quoted, bare in _TOKEN.findall(expr):
        name = quoted or bare
        if name in columns:
            names.append(name)
        elif quoted:
            raise MappingError(f"expression {expr!r}: no source column {name!r}")
        else:
            raise MappingError(
                f"expression {expr!r}: {name!r} is not a source column "
                "(put names with spaces or symbols in backticks: `Unit Price`)"
            )
    return list(dict.fromkeys(names))


def sql_columns(expr: str, columns: list[str]) -> list[str]:
    """The source columns a SQL expression may use (names matched ignoring case, as SQL does)."""
    by_fold = {}
    for c in columns:
        by_fold.setdefault(c.casefold(), c)
    used = []
    for back, quoted, bare in _SQL_NAME.findall(_without_strings(expr)):
        name = back or (quoted.replace('""', '"') if quoted else bare)
        col = by_fold.get(name.casefold())
        if col is not None:
            used.append(col)
    return list(dict.fromkeys(used))


def _without_strings(expr: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", expr)


def _to_sql(expr: str) -> str:
    """Backticked names become SQL's double-quoted identifiers."""
    return re.sub(r"`([^`]+)`", lambda m: '"' + m.group(1).replace('"', '""') + '"', expr)


def _num_udf(style: NumberStyle):
    def num(values: pa.Array) -> pa.Array:
        s = pd.Series(values.to_pandas(), dtype=object)
        out, _ = _numbers(s.where(s.notna(), None), style)
        return pa.array(out.to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True)

    return num


def evaluate(expr: str, frame: pd.DataFrame, where: str, target: str, style: NumberStyle = PLAIN) -> tuple[pd.Series, L.RuleLog]:
    """Evaluate an arithmetic expression over source columns read as numbers.

    The columns are parsed in the source's number style; the arithmetic runs in DuckDB. A row
    whose operand is not a number gets no value and a problem naming the expression.
    """
    cols = expression_columns(expr, [c for c in frame.columns if c != SOURCE_ROW])
    log = L.RuleLog()
    bad = np.zeros(len(frame), dtype=bool)
    env = {}
    for c in cols:
        values, b = _numbers(frame[c], style)
        env[c] = pa.array(values.to_numpy(dtype="float64"), type=pa.float64(), from_pandas=True)
        bad |= b.to_numpy()
    [result] = _run_sql({target: _to_sql(expr)}, {target: expr}, _table(env, len(frame)), frame.index, where, style).values()
    result = pd.to_numeric(result, errors="coerce").astype("float64")
    log += L.problems("mapping", target, frame.index[bad], f"cannot compute {expr!r}: an operand is not a number")
    return result.where(~bad), log


def evaluate_sql(expr: str, frame: pd.DataFrame, where: str, target: str, style: NumberStyle = PLAIN) -> pd.Series:
    """Evaluate a DuckDB SQL expression over the source columns as text (blank = NULL)."""
    return evaluate_sqls({target: expr}, frame, where, style)[target]


def evaluate_sqls(exprs: dict[str, str], frame: pd.DataFrame, where: str, style: NumberStyle = PLAIN) -> dict[str, pd.Series]:
    """Evaluate several DuckDB SQL expressions (target -> expression) over the source columns
    as text (blank = NULL), in one query over the file's rows."""
    source_cols = [c for c in frame.columns if c != SOURCE_ROW]
    cols = list(dict.fromkeys(c for expr in exprs.values() for c in sql_columns(expr, source_cols)))
    env = {c: _blank_as_null(frame[c]) for c in cols}
    return _run_sql({t: _to_sql(e) for t, e in exprs.items()}, exprs, _table(env, len(frame)), frame.index, where, style)


def _blank_as_null(s: pd.Series) -> pa.Array:
    """A text column as Arrow, outer whitespace trimmed and blank as NULL."""
    arr = pc.utf8_trim_whitespace(pa.array(as_text(s), from_pandas=True))
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _table(columns: dict[str, pa.Array], n: int) -> pa.Table:
    return pa.table(columns) if columns else pa.table({"__row": pa.nulls(n, pa.int8())})


def _run_sql(sqls: dict[str, str], exprs: dict[str, str], env: pa.Table, index: pd.Index, where: str, style: NumberStyle) -> dict[str, pd.Series]:
    with scratch() as con:
        # formatted numbers ($262, 1.234,50) are read in Python, by one function per style
        udf = "_num_text_" + (style.decimal + "|" + style.thousands).encode().hex()
        ensure_function(udf, lambda: _num_udf(style), ["VARCHAR"], "DOUBLE", type="arrow", null_handling="special")
        # plain numbers are cast in DuckDB
        fast = "TRY_CAST(x AS DOUBLE)" if style.decimal == "." else "NULL::DOUBLE"
        con.execute(f"CREATE TEMP MACRO num(x) AS CASE WHEN x IS NULL THEN NULL ELSE coalesce({fast}, {udf}(x)) END")
        con.register("src", env)
        select = ", ".join(f"({sql}) AS {_quote(t)}" for t, sql in sqls.items())
        try:
            out = con.sql(f"SELECT {select} FROM src").to_arrow_table()
        except duckdb.Error as e:
            if len(sqls) > 1:  # which one: each alone names its own target and expression
                for t in sqls:
                    _run_sql({t: sqls[t]}, {t: exprs[t]}, env, index, where, style)
            raise _sql_error(e, where, *next(iter(exprs.items()))) from None
    return {t: _series(out.column(i), index, t) for i, t in enumerate(sqls)}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_error(e: duckdb.Error, where: str, target: str, expr: str) -> MappingError:
    if isinstance(e, duckdb.BinderException):
        m = re.search(r'Referenced column "([^"]+)" not found', str(e))
        if m:
            return MappingError(f"{where}: {target} = {expr!r}: no source column {m.group(1)!r}. The file has: {{have}}")
        return MappingError(f"{where}: {target} = {expr!r} cannot be evaluated: {_first_line(e)}")
    if isinstance(e, duckdb.ParserException):
        return MappingError(f"{where}: {target} = {expr!r} is not a valid expression: {_first_line(e)}")
    return MappingError(
        f"{where}: {target} = {expr!r} fails on the data: {_first_line(e)} "
        "(try_cast / try_strptime give an empty value instead of failing)"
    )


def _series(col: pa.ChunkedArray, index: pd.Index, name: str) -> pd.Series:
    """A result column as pandas: text stays Arrow-backed; DECIMAL becomes float; dates and
    times become datetime64 (as DuckDB's own conversion to pandas gives them)."""
    t = col.type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return schema.text_series(col, index, name)
    if pa.types.is_decimal(t):
        col = col.cast(pa.float64())
    elif pa.types.is_date(t):
        col = col.cast(pa.timestamp("s"))
    if pa.types.is_null(t):
        return pd.Series(np.full(len(index), None, dtype=object), index=index, name=name)
    return pd.Series(col.to_pandas().to_numpy(), index=index, name=name)


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.split("\n")[0]


def as_canonical(values: pd.Series, column: schema.Column) -> pd.Series:
    """A computed column in the form the cleaning expects: text for text columns (numbers as
    their shortest text, never "101.0"; dates as YYYY-MM-DD), numbers and dates as they are."""
    if column.dtype in ("str", "period"):
        if pd.api.types.is_datetime64_any_dtype(values):
            return values.dt.strftime("%Y-%m-%d").astype(TEXT)
        if pd.api.types.is_bool_dtype(values):
            return values.map({True: "true", False: "false"}).astype(TEXT)
        if pd.api.types.is_numeric_dtype(values):
            return _number_text(values)
        if values.dtype == TEXT:
            return values
        return _as_texts(values)
    if column.dtype == "date":
        if pd.api.types.is_datetime64_any_dtype(values):
            return values.astype("datetime64[ns]")
        if values.map(lambda v: hasattr(v, "year")).any():
            return pd.to_datetime(values, errors="coerce").astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    return _as_texts(values)


def _as_texts(values: pd.Series) -> pd.Series:
    return pd.Series([None if v is None or (isinstance(v, float) and v != v) else _text(v) for v in values], index=values.index, dtype=TEXT)


def _number_text(values: pd.Series) -> pd.Series:
    """Numbers as their shortest text, whole numbers without ".0" (vectorised; the rest per
    distinct value)."""
    v = values.to_numpy(dtype="float64", na_value=np.nan)
    whole = np.isfinite(v) & (v == np.floor(v)) & (np.abs(v) < 2**53)
    rest = ~whole & ~np.isnan(v)
    if not rest.any():  # ids exported as floats: all whole, cast in Arrow
        ints = pa.array(np.where(whole, v, 0).astype(np.int64), mask=~whole)
        return schema.text_series(pc.cast(ints, pa.large_string()), values.index)
    out = np.full(len(v), None, dtype=object)
    out[whole] = pc.cast(pa.array(v[whole].astype(np.int64)), pa.string()).to_numpy(zero_copy_only=False)
    if rest.any():
        uniq, inv = np.unique(v[rest], return_inverse=True)
        out[rest] = np.array([float_text(float(u)) for u in uniq], dtype=object)[inv]
    return pd.Series(out, index=values.index, dtype=TEXT)


def _text(v) -> str:
    if isinstance(v, float):
        return float_text(v)
    if hasattr(v, "isoformat") and not isinstance(v, str):
        return v.isoformat()[:10] if getattr(v, "hour", 0) == 0 and getattr(v, "minute", 0) == 0 else v.isoformat(sep=" ")
    return str(v)


def line_numbers(keys: pd.Series) -> pd.Series:
    """``@seq``: 1, 2, ... within each value of ``keys`` in the order of the rows (a missing
    key is a group too). An export lists an order's lines together: then the numbers are
    counted along the runs without grouping."""
    n = len(keys)
    if not n:
        return pd.Series(np.array([], dtype=np.int64), index=keys.index)
    # where a run of equal keys starts, from neighbours (no hash table of every row)
    arr = pa.array(as_text(keys), from_pandas=True)
    same = pc.equal(arr[1:], arr[:-1])
    both_missing = pc.and_(pc.is_null(arr[1:]), pc.is_null(arr[:-1]))
    starts = np.flatnonzero(np.r_[True, ~arrow_mask(pc.or_kleene(same, both_missing))])
    if _each_once(arr.take(pa.array(starts))):  # every key in one run: count along the runs
        seq = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
    else:
        codes = pd.factorize(keys, use_na_sentinel=False)[0]
        seq = pd.Series(codes).groupby(codes, sort=False).cumcount().to_numpy()
    return pd.Series(seq.astype(np.int64) + 1, index=keys.index)


def _each_once(keys: pa.Array | pa.ChunkedArray) -> bool:
    """Whether no key occurs twice: at once when they ascend (an export in order of its
    orders), else by hashing them."""
    if len(keys) < 2 or not keys.null_count and arrow_mask(pc.less(keys[:-1], keys[1:])).all():
        return True
    return not schema.text_series(keys).duplicated().any()


def map_columns(raw: pd.DataFrame, columns: dict[str, str], table: schema.Table, where: str = "", style: NumberStyle = PLAIN) -> Mapped:
    """Build the canonical columns of ``table`` from a source frame (all text)."""
    where = where or table.name
    check_mapping(columns, [c for c in raw.columns if c != SOURCE_ROW], table, where)
    source_cols = [c for c in raw.columns if c != SOURCE_ROW]
    out = {}
    log = L.RuleLog()
    sql = {}
    for canon, how in columns.items():
        how = how.strip()
        column = table.column(canon)
        if how in source_cols:
            s = as_text(raw[how])
            arr = pa.array(s, from_pandas=True)
            blank = arrow_mask(pc.or_(pc.equal(arr, ""), pc.utf8_is_space(arr)))  # no trimmed copy
            out[canon] = s.mask(blank) if blank.any() else s
        elif how == "@row":
            out[canon] = raw[SOURCE_ROW].astype("int64")
        elif m := _SEQ.match(how):
            out[canon] = line_numbers(raw[m.group("col")])
        elif m := _LITERAL.match(how):
            out[canon] = pd.Series(m.group("text"), index=raw.index, dtype=TEXT)
        elif is_arithmetic(how):
            try:
                values, part = evaluate(how, raw, where, canon, style)
            except MappingError as e:
                raise MappingError(str(e).replace("{have}", _have(source_cols))) from None
            log += part
            out[canon] = as_canonical(values, column)
        else:
            sql[canon] = how
            out[canon] = None  # in its place among the columns; evaluated below, all in one query
    if sql:
        try:
            values = evaluate_sqls(sql, raw, where, style)
        except MappingError as e:
            raise MappingError(str(e).replace("{have}", _have(source_cols))) from None
        for canon, v in values.items():
            out[canon] = as_canonical(v, table.column(canon))
    frame = pd.DataFrame(out, index=raw.index)
    frame[SOURCE_ROW] = raw[SOURCE_ROW].to_numpy()
    return Mapped(frame, log)


#: mappings found good against a file's column names: a run of daily exports checks one
#: mapping against one header for every file (its SQL expressions bound by DuckDB, ~8 ms)
_CHECKED: dict[tuple, None] = {}
_CHECKED_MAX = 256


def check_mapping(columns: dict[str, str], source_cols: list[str], table: schema.Table, where: str) -> None:
    """Check a table's mapping against a file's column names without reading its rows:
    canonical names, required columns, the source columns and expressions it uses. A mapping
    found good against the same column names before is not checked again."""
    key = (table.name, tuple(columns.items()), tuple(source_cols))
    if key in _CHECKED:
        return
    _check_mapping(columns, source_cols, table, where)
    if len(_CHECKED) >= _CHECKED_MAX:
        _CHECKED.clear()
    _CHECKED[key] = None


def _check_mapping(columns: dict[str, str], source_cols: list[str], table: schema.Table, where: str) -> None:
    unknown = [c for c in columns if c not in table.column_names]
    if unknown:
        raise MappingError(
            f"{where}: the mapping names {', '.join(map(repr, unknown))}, which "
            f"{'is not a canonical column' if len(unknown) == 1 else 'are not canonical columns'} of {table.name} "
            f"(known: {', '.join(table.column_names)})"
        )
    missing = [
        (canon, how.strip())
        for canon, how in columns.items()
        if how.strip() not in source_cols and _looks_like_a_column(how.strip()) and not _binds(how.strip(), source_cols)
    ]
    if missing:
        details = "; ".join(f"{canon} = {how!r}" for canon, how in missing)
        raise MappingError(f"{where}: mapped source column not found: {details}. The file has: {_have(source_cols)}")
    derivable = {d[0] for d in DERIVATIONS.get(table.name, []) if d[1] in columns and d[2] in columns}
    unmapped = [c for c in table.required if c not in columns and c not in derivable]
    if unmapped:
        raise MappingError(
            f"{where}: required column(s) {', '.join(unmapped)} of {table.name} are not mapped; "
            f"add them under [sources.<name>.tables.{table.name}.columns]"
        )
    empty = pd.DataFrame({c: pd.Series([], dtype=object) for c in source_cols})
    for canon, how in columns.items():
        how = how.strip()
        if how in source_cols or how == "@row" or _LITERAL.match(how):
            continue
        if m := _SEQ.match(how):
            if m.group("col") not in source_cols:
                raise MappingError(f"{where}: {canon} = {how!r}: no source column {m.group('col')!r}. The file has: {_have(source_cols)}")
            continue
        try:
            if is_arithmetic(how):
                expression_columns(how, source_cols)
            else:
                evaluate_sql(how, empty, where, canon)
        except MappingError as e:
            msg = str(e).replace("{have}", _have(source_cols))
            raise MappingError(msg if msg.startswith(where) else f"{where}: {canon}: {msg}") from None


def _binds(expr: str, source_cols: list[str]) -> bool:
    """Whether ``expr`` is valid SQL over the source columns (``CustomerID IS NULL``)."""
    try:
        evaluate_sql(expr, pd.DataFrame({c: pd.Series([], dtype=object) for c in source_cols}), "", "")
    except MappingError:
        return False
    return True


def _key_text(keys: pd.DataFrame) -> pd.Series:
    parts = [as_text(keys[c]).fillna("") for c in keys.columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + " / " + p
    return out


def _looks_like_a_column(how: str) -> bool:
    """A mapping value with no operator, quote or special form names a column."""
    return not (how.startswith(("@", "'")) or any(ch in how for ch in "+-*/()`'\"|,") or _is_number(how))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _have(cols: list[str]) -> str:
    return ", ".join(repr(c) for c in cols)
def join(main: pd.DataFrame, other: pd.DataFrame, on: tuple[str, ...], label: str, where: str) -> tuple[pd.DataFrame, L.RuleLog]:
    """Left-join ``other`` (e.g. order headers) onto ``main`` (line items) on ``on``.

    Rows of ``main`` with no match, or whose key appears more than once in ``other``, are
    reported as problems (to be quarantined) naming the joined file; columns already in
    ``main`` are not taken from ``other``.
    """
    on = list(on)
    for side, frame in (("the file", main), (label, other)):
        missing = [c for c in on if c not in frame.columns]
        if missing:
            raise MappingError(f"{where}: join on {', '.join(map(repr, missing))}: not a column of {side}")
    extra = [c for c in other.columns if c not in main.columns and c != SOURCE_ROW]
    right = other[on + extra]
    dup = right.duplicated(on, keep=False)
    ambiguous = right[dup].drop_duplicates(on)
    right = right[~dup]
    joined = main.merge(right, on=on, how="left", indicator=True, validate="many_to_one")
    joined.index = main.index
    log = L.RuleLog()
    key_text = _key_text(main[on])
    amb_keys = list(_key_text(ambiguous[on])) if len(ambiguous) else []
    is_amb = mask(key_text.isin(amb_keys))
    missing = mask(joined["_merge"] == "left_only") & ~is_amb
    log += L.problems("join", ",".join(on), main.index[is_amb], f"matches several rows in {label}", key_text[is_amb])
    log += L.problems("join", ",".join(on), main.index[missing], f"no matching row in {label}", key_text[missing])
    return joined.drop(columns="_merge"), log
