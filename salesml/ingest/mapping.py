"""Source rows -> canonical columns, as a source's mapping says (pure functions).

A mapping gives, for each canonical column, one of:

* a source column: ``order_id = "Order ID"``;
* an expression over source columns, numbers parsed as the cleaning rules parse them
  (``$262`` is 262): ``cost = "Sales - Profit"``, ``amount = "`Unit Price` * Qty"``
  (names with spaces or symbols in backticks);
* a literal in single quotes: ``currency = "'USD'"``;
* ``@row`` (the row number in the file) or ``@seq(Order ID)`` (1, 2, ... within each
  value of a column, in file order) for exports without line numbers.

Joined files (order headers onto line items) are merged in before mapping; a row that
finds no match, or more than one, is reported, not dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesml import schema
from salesml.cleaning import log as L
from salesml.cleaning.rules import DERIVATIONS, TEXT, as_text, mask, parse_number_text
from salesml.errors import SalesmlError

SOURCE_ROW = schema.SOURCE_ROW

_SEQ = re.compile(r"^@seq\(\s*`?(?P<col>[^`]+?)`?\s*\)$")
_LITERAL = re.compile(r"^'(?P<text>[^']*)'$")
_TOKEN = re.compile(r"`([^`]+)`|([A-Za-z_\u00c0-\uffff][\w\u00c0-\uffff]*)")


class MappingError(SalesmlError, ValueError):
    """The mapping does not fit the source (a column it names is missing...)."""


@dataclass(frozen=True)
class Mapped:
    """Canonical columns (text, or numbers for expressions) plus ``source_row``."""

    frame: pd.DataFrame
    log: L.RuleLog


def _numbers(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse a text column as numbers (as parse_numbers does); returns (values, bad mask)."""
    plain = pd.to_numeric(s, errors="coerce")
    values = plain.to_numpy(dtype="float64", na_value=np.nan).copy()
    todo = mask(as_text(s).str.strip().fillna("") != "") & np.isnan(values)
    if todo.any():
        parsed = {u: parse_number_text(str(u))[0] for u in pd.unique(s[todo])}
        values[todo] = [np.nan if parsed[u] is None else parsed[u] for u in s[todo]]
    values = pd.Series(values, index=s.index)
    return values, pd.Series(todo & np.isnan(values.to_numpy()), index=s.index)


def expression_columns(expr: str, columns: list[str]) -> list[str]:
    """The source columns an expression uses; unknown names are an error."""
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


def evaluate(expr: str, frame: pd.DataFrame, where: str, target: str) -> tuple[pd.Series, L.RuleLog]:
    """Evaluate a numeric expression over source columns, row by row."""
    cols = expression_columns(expr, [c for c in frame.columns if c != SOURCE_ROW])
    env = {}
    log = L.RuleLog()
    bad = pd.Series(False, index=frame.index)
    for i, c in enumerate(cols):
        values, b = _numbers(frame[c])
        env[f"_c{i}"] = values
        bad |= b
    code = expr
    for i, c in enumerate(cols):
        code = re.sub(rf"`{re.escape(c)}`|(?<![\w`]){re.escape(c)}(?![\w`])", f"_c{i}", code)
    try:
        result = pd.eval(code, local_dict=env, engine="python") if cols else pd.eval(code, engine="python")
    except Exception as e:  # a syntax error in the user's expression
        raise MappingError(f"{where}: {target} = {expr!r} cannot be evaluated: {e}") from None
    if np.isscalar(result):
        result = pd.Series(result, index=frame.index, dtype="float64")
    log += L.problems("mapping", target, frame.index[bad], f"cannot compute {expr!r}: an operand is not a number")
    return pd.Series(result, index=frame.index).where(~bad), log


def map_columns(raw: pd.DataFrame, columns: dict[str, str], table: schema.Table, where: str = "") -> Mapped:
    """Build the canonical columns of ``table`` from a source frame (all text)."""
    where = where or table.name
    unknown = [c for c in columns if c not in table.column_names]
    if unknown:
        raise MappingError(
            f"{where}: the mapping names {', '.join(map(repr, unknown))}, which "
            f"{'is not a canonical column' if len(unknown) == 1 else 'are not canonical columns'} of {table.name} "
            f"(known: {', '.join(table.column_names)})"
        )
    source_cols = [c for c in raw.columns if c != SOURCE_ROW]
    missing = [
        (canon, how.strip())
        for canon, how in columns.items()
        if how.strip() not in source_cols and _looks_like_a_column(how.strip())
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
    out = {}
    log = L.RuleLog()
    for canon, how in columns.items():
        how = how.strip()
        if how in source_cols:
            s = as_text(raw[how])
            out[canon] = s.mask(mask(s.str.strip() == ""))
        elif how == "@row":
            out[canon] = raw[SOURCE_ROW].astype("int64")
        elif m := _SEQ.match(how):
            col = m.group("col")
            if col not in source_cols:
                raise MappingError(f"{where}: {canon} = {how!r}: no source column {col!r}. The file has: {_have(source_cols)}")
            out[canon] = raw.groupby(col, sort=False, dropna=False).cumcount() + 1
        elif m := _LITERAL.match(how):
            out[canon] = pd.Series(m.group("text"), index=raw.index, dtype=TEXT)
        else:
            try:
                out[canon], part = evaluate(how, raw, where, canon)
            except MappingError as e:
                raise MappingError(f"{where}: {canon}: {e}") from None
            log += part
    frame = pd.DataFrame(out, index=raw.index)
    frame[SOURCE_ROW] = raw[SOURCE_ROW].to_numpy()
    return Mapped(frame, log)


def _key_text(keys: pd.DataFrame) -> pd.Series:
    parts = [as_text(keys[c]).fillna("") for c in keys.columns]
    out = parts[0]
    for p in parts[1:]:
        out = out + " / " + p
    return out


def _looks_like_a_column(how: str) -> bool:
    """A mapping value with no operator, quote or special form names a column."""
    return not (how.startswith(("@", "'")) or any(ch in how for ch in "+-*/()`") or _is_number(how))


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
