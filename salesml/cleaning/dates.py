"""Dates written as text: the styles a column may use, choosing them, and reading values.

Exports mix date styles (an ERP writes ``2024-03-05``, ``2024/03/05`` and ``2024年3月5日``
in one column). Without a configured ``date_format``, each distinct value is read by the
style whose shape it has (:data:`DATE_STYLES`: ISO 8601, ``%Y/%m/%d``, ``%Y.%m.%d``,
``%Y年%m月%d日``, ``%d.%m.%Y``, ``%Y%m%d``, ``%d %b %Y``, ``%d-%b-%Y``, ``%b %d, %Y``). Day
and month written as numbers in either order (``05/03/2024``) are read only when the data
decides: a first part above 12 somewhere makes the column day first (``%d/%m/%Y``), a second
part above 12 month first (``%m/%d/%Y``); both, or neither, is an error asking for
``date_format``. A configured ``date_format`` (one strftime format or several, tried in
order) replaces detection. A time of day after the date (``2024-03-05 14:30:00``,
``2024-03-05T14:30Z``, ``2024年3月5日 14:30``) is dropped: columns hold dates.

This module owns :func:`choose_date_format` (the styles of a column), :func:`read_dates`
(values to dates, per distinct value and vectorised per style) and
:func:`parse_date_columns`, the body of the ``parse_dates`` cleaning rule: values no style
reads quarantine their row, unless they are more than ``max_bad_date_share`` of the
column, in which case the load stops with examples and the ``date_format`` to set.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from salesml import schema
from salesml.cleaning import log as L
from salesml.cleaning.errors import CleaningError
from salesml.config import CleaningSettings

__all__ = [
    "DATE_FORMATS",
    "DATE_STYLES",
    "DAY_FIRST",
    "ISO",
    "MONTH_FIRST",
    "DateStyle",
    "choose_date_format",
    "parse_date_columns",
    "read_dates",
]

_TEXT = pd.StringDtype("pyarrow")


@dataclass(frozen=True)
class DateStyle:
    """A way of writing dates: the values it reads have ``shape`` (a regular expression
    over the date without its time of day; ``None`` = try any value) and are read with the
    first of ``formats`` that reads them."""

    label: str
    shape: str | None
    formats: tuple[str, ...]

    @classmethod
    def configured(cls, fmt: str) -> DateStyle:
        return cls(fmt, None, (fmt,))


ISO = DateStyle("ISO 8601", r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}$", ("%Y-%m-%d",))
#: the styles detected from the values' shapes (each shape is one style's alone)
DATE_STYLES = (
    ISO,
    DateStyle("%Y/%m/%d", r"^[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}$", ("%Y/%m/%d",)),
    DateStyle("%Y.%m.%d", r"^[0-9]{4}\.[0-9]{1,2}\.[0-9]{1,2}$", ("%Y.%m.%d",)),
    DateStyle("%Y年%m月%d日", r"^[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日$", ("%Y年%m月%d日",)),
    DateStyle("%d.%m.%Y", r"^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{4}$", ("%d.%m.%Y",)),
    DateStyle("%Y%m%d", r"^[0-9]{8}$", ("%Y%m%d",)),
    DateStyle("%d %b %Y", r"^[0-9]{1,2} [A-Za-z]{3,} [0-9]{4}$", ("%d %b %Y", "%d %B %Y")),
    DateStyle("%d-%b-%Y", r"^[0-9]{1,2}-[A-Za-z]{3,}-[0-9]{4}$", ("%d-%b-%Y", "%d-%B-%Y")),
    DateStyle("%b %d, %Y", r"^[A-Za-z]{3,} [0-9]{1,2}, [0-9]{4}$", ("%b %d, %Y", "%B %d, %Y")),
)
_SLASH = r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"
_DASH = r"^[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}$"
#: day and month as numbers, day first / month first: used when the data decides
DAY_FIRST = (DateStyle("%d/%m/%Y", _SLASH, ("%d/%m/%Y",)), DateStyle("%d-%m-%Y", _DASH, ("%d-%m-%Y",)))
MONTH_FIRST = (DateStyle("%m/%d/%Y", _SLASH, ("%m/%d/%Y",)), DateStyle("%m-%d-%Y", _DASH, ("%m-%d-%Y",)))
#: every format detection may use
DATE_FORMATS = tuple(dict.fromkeys(f for st in (*DATE_STYLES, *DAY_FIRST, *MONTH_FIRST) for f in st.formats))

_DAY_MONTH = r"^(?P<a>[0-9]{1,2})(?P<sep>[/-])(?P<b>[0-9]{1,2})[/-][0-9]{4}$"
#: a time of day (with seconds, fractions, AM/PM, a zone) after the date
_TIME = (
    r"(?:[ T] *[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?: *[AaPp]\.?[Mm]\.?)?"
    r"(?: *(?:Z|UTC|GMT|[+-][0-9]{2}(?::?[0-9]{2})?))?)$"
)
#: strftime directives of a time of day: a configured format with one reads the whole text
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%p", "%f", "%z", "%Z", "%X", "%c", "%T")


def _arrow(values: pd.Series) -> pa.Array:
    s = values if values.dtype == _TEXT else values.astype(_TEXT)
    return pc.utf8_trim_whitespace(pc.utf8_normalize(pa.array(s, type=pa.string(), from_pandas=True), "NFKC"))


def _date_part(text: pa.Array) -> pa.Array:
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(text, _TIME, ""))


def _np(a) -> np.ndarray:
    return np.asarray(pc.fill_null(a, False).to_numpy(zero_copy_only=False), dtype=bool)


def _matches(parts: pa.Array, shape: str) -> np.ndarray:
    return _np(pc.match_substring_regex(parts, shape))


def _where(where: str) -> str:
    return f"{where}: " if where else ""


def _section(table: str) -> str:
    return f"[sources.<name>.tables.{table or '<table>'}]"


def _day_month(parts: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For values written day/month/year in some order: (is such a value, first part can
    only be a day, second part can only be a day)."""
    m = pc.extract_regex(parts, _DAY_MONTH)
    is_dm = _np(m.is_valid())
    a = pc.cast(pc.struct_field(m, "a"), pa.int64()).to_numpy(zero_copy_only=False)
    b = pc.cast(pc.struct_field(m, "b"), pa.int64()).to_numpy(zero_copy_only=False)
    a = np.where(is_dm, np.nan_to_num(a.astype("float64")), 0)
    b = np.where(is_dm, np.nan_to_num(b.astype("float64")), 0)
    return is_dm, (a > 12) & (a <= 31), (b > 12) & (b <= 31)


def choose_date_format(values: pd.Series, configured: Sequence[str] = (), column: str = "", where: str = "", table: str = "") -> tuple[tuple[DateStyle, ...], str | None]:
    """The styles to read a date column with, and a note for the batch (None when the
    column is plain ISO 8601 or the formats are configured).

    Configured formats are used as given, in order, on every value. Otherwise each style of
    :data:`DATE_STYLES` some value has the shape of, and day/month/year values when the data
    decides their order; :class:`CleaningError` when it does not (``03/04/2024`` only) or
    when it decides both ways (``13/01/2024`` and ``01/13/2024``).
    """
    if configured:
        return tuple(DateStyle.configured(f) for f in configured), None
    uniq = pd.Series(values.dropna().unique())
    if uniq.empty:
        return (ISO,), None
    parts = _date_part(_arrow(uniq))
    styles = [st for st in DATE_STYLES if _matches(parts, st.shape).any()]
    is_dm, day_first, month_first = _day_month(parts)
    if is_dm.any():
        seps = {t[len(t.rstrip("0123456789")) - 1] for t in parts.filter(pa.array(is_dm)).to_pylist()}
        firsts = [st for st in DAY_FIRST if st.formats[0][2] in seps]
        seconds = [st for st in MONTH_FIRST if st.formats[0][2] in seps]
        shown_dm = ", ".join(f"{m.label} and as {d.label}" for m, d in zip(seconds, firsts, strict=True))
        fix = " or ".join(f"{json.dumps([d.label])} (day first) or {json.dumps([m.label])} (month first)" for m, d in zip(seconds, firsts, strict=True))
        if day_first.any() and month_first.any():
            a = uniq[np.flatnonzero(day_first)[0]]
            b = uniq[np.flatnonzero(month_first)[0]]
            raise CleaningError(
                f"{_where(where)}the dates in {column!r} mix day-first and month-first values: {a!r} can only "
                f"be day first and {b!r} only month first; fix the export, or set date_format = {fix} "
                f"under {_section(table)} for the one it means"
            )
        if not (day_first.any() or month_first.any()):
            example = uniq[np.flatnonzero(is_dm)[0]]
            raise CleaningError(
                f"{_where(where)}the dates in {column!r} are ambiguous: they read as {shown_dm} "
                f"(e.g. {example!r}: no value has a day above 12 to decide); set date_format = {fix} "
                f"under {_section(table)}"
            )
        styles += firsts if day_first.any() else seconds
    if not styles or styles == [ISO]:
        return (ISO,), None
    return tuple(styles), f"{column}: dates read as {', '.join(st.label for st in styles)} (detected)"


def _to_datetime(texts: pd.Series, fmt: str) -> np.ndarray:
    out = pd.to_datetime(texts, format=fmt, errors="coerce")
    if isinstance(out.dtype, pd.DatetimeTZDtype):
        out = out.dt.tz_localize(None)
    return out.to_numpy(dtype="datetime64[ns]")


def read_dates(values: pd.Series, styles: Sequence[DateStyle]) -> pd.Series:
    """Dates (``datetime64[ns]`` at midnight, NaT where no style reads the text) for text
    values, each read by the first style whose shape it has and whose format reads it.
    Works once per distinct value."""
    codes, uniq = pd.factorize(values, use_na_sentinel=True)
    n = len(uniq)
    parsed = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    if n:
        u = pd.Series(np.asarray(uniq, dtype=object))
        text = _arrow(u)
        parts = _date_part(text)
        whole = pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)
        dated = pd.Series(parts.to_numpy(zero_copy_only=False), dtype=object)
        for st in styles:
            todo = np.isnat(parsed)
            if st.shape is not None:
                todo &= _matches(parts, st.shape)
            for fmt in st.formats:
                if not todo.any():
                    break
                source = whole if any(d in fmt for d in _TIME_DIRECTIVES) else dated
                got = _to_datetime(source[todo], fmt)
                parsed[todo] = got
                todo &= np.isnat(parsed)
    looked = np.append(parsed.astype("datetime64[D]").astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
    return pd.Series(looked[codes], index=values.index)


#: values written in a column's style that are no real dates (2024-02-30) are bad rows, and
#: are quarantined, until they are this share of the column: then the style itself is wrong
#: (a year-day-month export read as ISO) and the load stops
IMPOSSIBLE_DATE_SHARE = 0.25


def _shaped(values: pd.Series, styles: Sequence[DateStyle]) -> np.ndarray:
    """Which values are written in the shape of one of ``styles`` (digits and separators)."""
    parts = _date_part(_arrow(values))
    shaped = np.zeros(len(values), dtype=bool)
    for st in styles:
        if st.shape is not None:
            shaped |= _matches(parts, st.shape)
    return shaped


def _unreadable(failing: pd.Series, n_bad: int, n: int, styles: Sequence[DateStyle], column: str, where: str, table: str, limit: float) -> str:
    """The message of a date column too much of which no style reads: what, where, examples,
    and the date_format that would read the failing values, as far as their shapes say."""
    known = [f for st in styles for f in st.formats[:1]]
    parts = _date_part(_arrow(failing))
    extra = [st.formats[0] for st in DATE_STYLES if _matches(parts, st.shape).any()]
    is_dm, day_first, month_first = _day_month(parts)
    if is_dm.any():
        order = MONTH_FIRST if month_first.any() and not day_first.any() else DAY_FIRST
        seps = {t[len(t.rstrip("0123456789")) - 1] for t in parts.filter(pa.array(is_dm)).to_pylist()}
        extra += [st.formats[0] for st in order if st.formats[0][2] in seps]
    extra = [f for f in dict.fromkeys(extra) if f not in known]
    shaped = _shaped(failing, styles)
    if extra:
        fix = f"set date_format = {json.dumps([*known, *extra], ensure_ascii=False)} under {_section(table)}"
    elif shaped.all():
        fix = "they are written like the column's other dates but are no real dates: check the export"
    else:
        fix = f'set date_format to the strftime format(s) they are written in (e.g. date_format = ["%d/%m/%Y"]) under {_section(table)}'
    examples = ", ".join(repr(str(v)) for v in failing.iloc[:5])
    return (
        f"{_where(where)}{n_bad} of {n} values in {column!r} ({n_bad / n:.1%}) are not dates in "
        f"{', '.join(st.label for st in styles)}, e.g. {examples}; {fix} (a load stops when more than "
        f"max_bad_date_share = {limit:g} of a date column cannot be read; fewer such rows are quarantined)"
    )


def parse_date_columns(df: pd.DataFrame, table: schema.Table, formats: Sequence[str] = (), max_bad_share: float = CleaningSettings.max_bad_date_share, where: str = "") -> tuple[pd.DataFrame, L.RuleLog]:
    """The date columns of ``table`` read from text (see the module docstring).

    Values no chosen style reads quarantine their row ("not a date (...)"), and a note names
    the detected styles. When they are more than ``max_bad_share`` of a column's non-empty
    values (not counting values written in the column's style that are no real dates, such as
    2024-02-30: bad rows, not a wrong format), :class:`CleaningError` names the column and ``where`` (the file), shows up to 5
    of them and the ``date_format`` to set. Blank text counts as missing.
    """
    out = df.copy(deep=False)
    log = L.RuleLog()
    for c in table.columns:
        if c.name not in df.columns or c.dtype != "date":
            continue
        s = df[c.name]
        if pd.api.types.is_datetime64_any_dtype(s):
            if isinstance(s.dtype, pd.DatetimeTZDtype):
                s = s.dt.tz_localize(None)
            out[c.name] = s.dt.normalize().astype("datetime64[ns]")
            continue
        codes, uniq = pd.factorize(s, use_na_sentinel=True)
        u = pd.Series(np.asarray(uniq, dtype=object))
        blank = (u.astype(_TEXT).str.strip() == "").to_numpy(dtype=bool, na_value=True)
        u_present = u[~blank]
        styles, note = choose_date_format(u_present, formats, c.name, where, table.name)
        parsed = read_dates(u, styles).to_numpy(dtype="datetime64[ns]")
        bad_u = ~blank & np.isnat(parsed)
        rows = np.bincount(codes[codes >= 0], minlength=len(u))
        n_bad, n = int(rows[bad_u].sum()), int(rows[~blank].sum())
        shown = " or ".join("YYYY-MM-DD" if st is ISO else st.label for st in styles)
        # a value written in the column's style that is no real date (2024-02-30) is a bad row,
        # not a sign of the wrong format: it is quarantined and does not count towards stopping
        unshaped = bad_u.copy()
        if bad_u.any():
            unshaped[bad_u] = ~_shaped(u[bad_u], styles)
        impossible = int(rows[bad_u & ~unshaped].sum())
        if int(rows[unshaped].sum()) > max_bad_share * n or impossible > max(max_bad_share, IMPOSSIBLE_DATE_SHARE) * n:
            raise CleaningError(_unreadable(u[bad_u], n_bad, n, styles, c.name, where, table.name, max_bad_share))
        looked = np.append(parsed, np.datetime64("NaT", "ns"))
        values = pd.Series(looked[codes], index=s.index)
        bad = np.append(bad_u, False)[codes]
        log += L.problems("parse_dates", c.name, df.index[bad], f"not a date ({shown})", s[bad])
        if note:
            log.notes.append(note)
        out[c.name] = values
    return out, log
