"""Numbers written as text: a source's number style, and reading values in it.

A source writes its numbers in one style, set under ``[sources.NAME]`` in salesml.toml:
``decimal`` is the decimal mark (``"."``: ``1,234.50``; ``","``: ``1.234,50``) and
``thousands`` the grouping separator (``""``: ``,``, a space or ``'`` with a ``.`` decimal
mark; ``.`` or a space with a ``,`` mark; or exactly one of ``.`` ``,`` ``" "`` ``'``
``"\\u00a0"``). Around its digits a value may carry a sign (``-12``, ``$-12``, ``12-``),
accounting parentheses (``(12.50)`` = -12.5), a currency symbol or code before or after it
(¥ $ € £ ₩ ₹ RMB CNY USD EUR HKD 元), and a percent sign (``16%`` = 0.16, for rate columns
only). Full-width digits read as ASCII digits.

This module owns:

* :class:`NumberStyle`: one style, its label for messages, and the other style;
* :func:`parse_number_text`: one value (used where values come one at a time);
* :func:`read_numbers`: many distinct values at once, vectorised in Arrow;
* :func:`parse_number_columns`: the body of the ``parse_numbers`` cleaning rule. Plain
  numbers take a fast path (``pd.to_numeric``); formatted ones are read once per distinct
  value in the configured style and in the other one. What only the configured style reads
  is a logged fix; what neither reads is quarantined with a reason naming the style; what
  both read differently (``1,234``) is flagged when the column shows signs of the other
  style; when most style-dependent values read only in the other style, the load stops with
  the setting to change. An accounting negative on a sale line is flagged, not just fixed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesml import schema
from salesml.cleaning import log as L
from salesml.cleaning.errors import CleaningError
from salesml.config import SourceSettings

__all__ = [
    "NUMERIC_TYPES",
    "STYLE_MISMATCH_SHARE",
    "NumberStyle",
    "parse_number_columns",
    "parse_number_text",
    "read_numbers",
]

#: canonical column types read as numbers
NUMERIC_TYPES = ("int", "money", "price", "qty", "rate", "float")
#: a column stops the load when more than this share of its style-dependent values (those
#: the two decimal marks read differently, or only one of them reads) read only in the
#: style the source is not set to: the setting is wrong, not a few values
STYLE_MISMATCH_SHARE = 0.5
#: order statuses whose lines are not sales (an accounting negative there is expected)
NOT_SALES = ("returned", "cancelled")

_TEXT = pd.StringDtype("pyarrow")
_CURRENCY = r"(?:[¥$€£₩₹]|RMB|CNY|USD|EUR|HKD|元)"
#: minus signs: ASCII and U+2212
_MINUS = "-\u2212"
_THOUSANDS = ("", ".", ",", " ", "'", "\u00a0")
#: how each thousands setting may appear in text (after NFKC, a no-break space is a space)
_WRITTEN = {"'": ("'", "\u2019"), "\u00a0": (" ",), " ": (" ",), ".": (".",), ",": (",",)}


@dataclass(frozen=True)
class NumberStyle:
    """A decimal mark and a thousands separator (``""`` = the mark's usual ones)."""

    decimal: str = "."
    thousands: str = ""

    def __post_init__(self) -> None:
        if self.decimal not in (".", ","):
            raise CleaningError(f"decimal must be '.' or ',', got {self.decimal!r}")
        if self.thousands not in _THOUSANDS or self.thousands == self.decimal:
            raise CleaningError(f"thousands {self.thousands!r} does not go with decimal {self.decimal!r}")

    @classmethod
    def of(cls, source: SourceSettings) -> NumberStyle:
        return cls(source.decimal, source.thousands)

    @property
    def separators(self) -> tuple[str, ...]:
        """The grouping separators values may use."""
        if self.thousands:
            return _WRITTEN[self.thousands]
        return (",", " ", "'", "\u2019") if self.decimal == "." else (".", " ")

    @property
    def label(self) -> str:
        """``decimal ',', thousands '.'``: the style as messages show it."""
        return f"decimal {self.decimal!r}, thousands {self.thousands or self.separators[0]!r}"

    def other(self) -> NumberStyle:
        """The style with the other decimal mark (the thousands setting kept where it can be)."""
        mark = "," if self.decimal == "." else "."
        return NumberStyle(mark, "" if self.thousands in ("", mark) else self.thousands)


@functools.cache
def _pattern(style: NumberStyle) -> str:
    """One regular expression (valid in Python and in Arrow's RE2) for a value in ``style``."""
    d = re.escape(style.decimal)
    grouped = "|".join(rf"[0-9]{{1,3}}(?:{re.escape(g)}[0-9]{{3}})+(?:{d}[0-9]+)?" for g in style.separators)
    plain = rf"[0-9]*{d}?[0-9]+(?:[eE][-+]?[0-9]+)?"
    sign = rf"[-+{_MINUS[1]}]"
    return (
        rf"(?i)^(?P<sign1>{sign})? *{_CURRENCY}? *(?P<sign2>{sign})? *(?P<num>{grouped}|{plain})"
        rf" *(?P<pct>%)? *{_CURRENCY}? *(?P<sign3>[{_MINUS}])?$"
    )


@functools.cache
def _regex(style: NumberStyle) -> re.Pattern:
    return re.compile(_pattern(style))


def _digits(num: str, style: NumberStyle) -> str:
    for g in style.separators:
        num = num.replace(g, "")
    return num.replace(",", ".")


def parse_number_text(text: str, decimal: str = ".", thousands: str = "") -> tuple[float | None, bool]:
    """Read one formatted number in the given style: ``$1,234.50``, ``¥1,234``, ``16%``
    (-> 0.16), ``１２３``, ``(12.50)`` (-> -12.5), ``12-``; with ``decimal=","``:
    ``1.234,50 €``, ``1 234,50``. Returns (value or None, was a percentage)."""
    style = NumberStyle(decimal, thousands)
    t = unicodedata.normalize("NFKC", text).strip()
    neg = False
    if len(t) > 1 and t.startswith("(") and t.endswith(")"):
        neg, t = True, t[1:-1].strip()
    m = _regex(style).match(t)
    if not m:
        return None, False
    value = float(_digits(m.group("num"), style))
    if any(g and g in _MINUS for g in (m.group("sign1"), m.group("sign2"), m.group("sign3"))):
        neg = not neg
    pct = m.group("pct") is not None
    if pct:
        value /= 100
    return (-value if neg else value), pct


def _arrow_text(values: pd.Series) -> pa.Array:
    s = values if values.dtype == _TEXT else values.astype(_TEXT)
    return pa.array(s, type=pa.string(), from_pandas=True)


def read_numbers(values: pd.Series, decimal: str = ".", thousands: str = "") -> pd.DataFrame:
    """Read text values in one style, vectorised: pass the distinct values of a column.

    Returns a frame on ``values``' index: ``value`` (float, NaN where the text is not a
    number in this style), ``percent`` (written with ``%``; ``value`` is then the fraction)
    and ``accounting`` (a negative written in parentheses or with a trailing minus)."""
    style = NumberStyle(decimal, thousands)
    a = pc.utf8_trim_whitespace(pc.utf8_normalize(_arrow_text(values), "NFKC"))
    paren = pc.match_substring_regex(a, r"^\(.+\)$")
    a = pc.if_else(paren, pc.utf8_trim_whitespace(pc.utf8_slice_codeunits(a, 1, -1)), a)
    m = pc.extract_regex(a, _pattern(style))
    num = pc.struct_field(m, "num")
    for g in style.separators:
        num = pc.replace_substring(num, g, "")
    if style.decimal == ",":
        num = pc.replace_substring(num, ",", ".")
    value = pc.cast(num, pa.float64()).to_numpy(zero_copy_only=False).astype("float64")
    signs = pc.binary_join_element_wise(*(pc.struct_field(m, f"sign{i}") for i in (1, 2, 3)), "")
    minus = _np(pc.match_substring_regex(signs, f"[{_MINUS}]"))
    trailing = _np(pc.not_equal(pc.struct_field(m, "sign3"), ""))
    pct = _np(pc.equal(pc.struct_field(m, "pct"), "%"))
    paren = _np(paren)
    value = np.where(paren != minus, -value, value)
    value = np.where(pct, value / 100, value)
    return pd.DataFrame(
        {"value": value, "percent": pct, "accounting": (paren | trailing) & (value < 0)},
        index=values.index,
    )


def _np(a) -> np.ndarray:
    """An Arrow boolean array as a numpy mask, missing = False."""
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def _num(v: float) -> str:
    return f"{v:.12g}"


@dataclass
class _Column:
    """One column read: values per row and, per row, how each was read."""

    values: np.ndarray
    #: read in the configured style from a formatted text (a fix)
    formatted: np.ndarray
    #: of those, accounting negatives (a fix, or a flag on a sale line)
    accounting: np.ndarray
    #: not a number in the configured style (quarantined)
    bad: np.ndarray
    #: a percentage in a column that is not a rate (quarantined)
    bad_pct: np.ndarray
    #: read differently by the other style, where the column shows signs of it (flagged)
    ambiguous: np.ndarray
    #: what the other style reads in the ambiguous rows
    other_values: np.ndarray


def _has(s: pd.Series, char: str) -> np.ndarray:
    """Which values are text containing ``char`` (numbers already typed are not)."""
    try:
        return _np(pc.match_substring(pa.array(s, type=pa.string(), from_pandas=True), char))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return np.fromiter((isinstance(v, str) and char in v for v in s), dtype=bool, count=len(s))


def _read_column(s: pd.Series, column: str, rate: bool, style: NumberStyle, where: str) -> _Column:
    """Read one text column, once per distinct value: plain numbers with ``pd.to_numeric``,
    the others in the configured style (and in the other one, to catch a wrong setting)."""
    codes, uniq = pd.factorize(s, use_na_sentinel=True)
    u = pd.Series(np.asarray(uniq, dtype=object))
    k = len(u)
    # to_numeric never reads a comma, and is slow to fail: spare it those values
    commas = _has(u, ",")
    v = np.full(k, np.nan)
    v[~commas] = pd.to_numeric(u[~commas], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    plain = ~np.isnan(v)
    if style.decimal == "," and plain.any():
        # a "." is a thousands separator in this style ("1.234" is 1234): not for to_numeric
        dotted = np.zeros(k, dtype=bool)
        dotted[plain] = _has(u[plain], ".")
        v[dotted] = np.nan
        plain &= ~dotted
    todo = ~plain
    formatted, accounting, bad, bad_pct, ambiguous = (np.zeros(k, dtype=bool) for _ in range(5))
    other_v = np.full(k, np.nan)
    other = style.other()

    def other_reads(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        r = read_numbers(texts, other.decimal, other.thousands)
        value = r["value"].to_numpy()
        return value, ~np.isnan(value) & (~r["percent"].to_numpy() | rate)

    if todo.any():
        mine = read_numbers(u[todo], style.decimal, style.thousands)
        mv, pct = mine["value"].to_numpy(), mine["percent"].to_numpy()
        ok = ~np.isnan(mv) & (~pct | rate)
        v[todo] = np.where(ok, mv, np.nan)
        formatted[todo] = ok
        accounting[todo] = ok & mine["accounting"].to_numpy()
        bad[todo] = np.isnan(mv)
        bad_pct[todo] = ~np.isnan(mv) & pct & ~rate
    # signs of the other style: values this one cannot read and the other can
    if bad.any() and other_reads(u[bad])[1].any():
        # then weigh the evidence: what only one style reads, and what both read apart
        # (among plain numbers only decimals differ: "1.234" is a thousand with a "," mark)
        judged = ~plain
        if plain.any():
            judged[plain] = _has(u[plain], ".")
        ov, o_ok = np.full(k, np.nan), np.zeros(k, dtype=bool)
        ov[judged], o_ok[judged] = other_reads(u[judged])
        read = ~np.isnan(v)
        only_other_u = bad & o_ok
        ambiguous = judged & read & o_ok & (v != ov)
        other_v = np.where(ambiguous, ov, np.nan)
        rows = np.bincount(codes[codes >= 0], minlength=k)
        only_other = int(rows[only_other_u].sum())
        only_mine = int(rows[judged & read & ~o_ok].sum())
        dependent = only_other + only_mine + int(rows[ambiguous].sum())
        if only_other > STYLE_MISMATCH_SHARE * dependent:
            raise CleaningError(_mismatch_message(u[only_other_u], ov[only_other_u], only_other, dependent, column, style, where))

    def spread(a: np.ndarray, missing) -> np.ndarray:
        return np.append(a, missing)[codes]

    return _Column(
        spread(v, np.nan), spread(formatted, False), spread(accounting, False), spread(bad, False),
        spread(bad_pct, False), spread(ambiguous, False), spread(other_v, np.nan),
    )


def _mismatch_message(examples: pd.Series, read: np.ndarray, count: int, dependent: int, column: str, style: NumberStyle, where: str) -> str:
    other = style.other()
    shown = ", ".join(f"{str(t)!r} -> {_num(x)}" for t, x in list(zip(examples, read, strict=True))[:5])
    fix = f'decimal = "{other.decimal}"' + (', thousands = ""' if style.thousands and not other.thousands else "")
    return (
        f"{where + ': ' if where else ''}column {column!r} is not written as the source is set "
        f"({style.label}): {count} of {dependent} values whose meaning depends on the decimal mark "
        f"only read with decimal {other.decimal!r}, e.g. {shown}; "
        f"set {fix} under [sources.<name>] (this source's section of salesml.toml)"
    )


def _sale_lines(frame: pd.DataFrame) -> np.ndarray:
    """Rows that are sales: a positive quantity and no returned / cancelled status."""
    if "quantity" not in frame.columns or not pd.api.types.is_numeric_dtype(frame["quantity"]):
        return np.zeros(len(frame), dtype=bool)
    sale = frame["quantity"].to_numpy(dtype="float64", na_value=np.nan) > 0
    if "status" in frame.columns:
        status = frame["status"].astype(_TEXT).str.strip().str.casefold()
        sale &= ~status.isin(NOT_SALES).to_numpy(dtype=bool, na_value=False)
    return sale


def parse_number_columns(df: pd.DataFrame, table: schema.Table, source: SourceSettings, where: str = "") -> tuple[pd.DataFrame, L.RuleLog]:
    """The numeric columns of ``table`` read from text in the source's number style.

    Plain numbers pass silently. Formatted ones (currency, thousands separators, a
    percentage in a rate column, full-width digits, a negative in parentheses or with a
    trailing minus) are read and logged as fixes. Text that is not a number in the style
    (or a percentage where an amount is expected, or a fraction in a whole-number column)
    quarantines the row. A value the other decimal mark reads differently (``1,234``,
    ``1.234``) is flagged when the column also holds values only the other style reads;
    when those are most of the style-dependent values, :class:`CleaningError` names the
    column, examples and the setting to change. An accounting negative on a sale line (a
    positive quantity, a status other than returned / cancelled) is read as negative and
    flagged, since a negative sale is more likely a mistake than a credit.
    """
    style = NumberStyle.of(source)
    other = style.other()
    out = df.copy(deep=False)
    log = L.RuleLog()
    accounting: dict[str, np.ndarray] = {}
    for c in table.columns:
        if c.name not in df.columns or c.dtype not in NUMERIC_TYPES:
            continue
        s = df[c.name]
        if pd.api.types.is_numeric_dtype(s):
            out[c.name] = s.astype("float64")
            continue
        col = _read_column(s, c.name, c.dtype == "rate", style, where)
        fixed = col.formatted & ~col.accounting
        log += L.fixes("parse_numbers", c.name, df.index[fixed], s[fixed], col.values[fixed])
        log += L.problems("parse_numbers", c.name, df.index[col.bad], f"not a number ({style.label})", s[col.bad])
        log += L.problems("parse_numbers", c.name, df.index[col.bad_pct], "a percentage where an amount is expected", s[col.bad_pct])
        amb = col.ambiguous
        log += L.flags(
            "parse_numbers", c.name, df.index[amb], s[amb],
            [f"read as {_num(v)} ({style.label}); with decimal {other.decimal!r} it would be {_num(o)}"
             for v, o in zip(col.values[amb], col.other_values[amb], strict=True)],
        )
        if col.accounting.any():
            accounting[c.name] = col.accounting
        values = pd.Series(col.values, index=s.index)
        if c.dtype == "int":
            frac = (values.notna() & (values != np.floor(values))).to_numpy()
            log += L.problems("parse_numbers", c.name, df.index[frac], "not a whole number", values[frac])
            values = values.where(~frac)
        out[c.name] = values
    if accounting:
        sale = _sale_lines(out)
        for name, acct in accounting.items():
            s, v = df[name], out[name].to_numpy()
            log += L.fixes("parse_numbers", name, df.index[acct & ~sale], s[acct & ~sale], v[acct & ~sale])
            hit = acct & sale
            log += L.flags("parse_numbers", name, df.index[hit], s[hit], [f"accounting negative on a sale line: read as {_num(x)}" for x in v[hit]])
    return out, log
