"""Months as periods, ``YYYY-MM``: checked, shifted, bounded and ranged, and the latest month
the sales data cover whole. Shared by accounting, customers, forecasts and reports (which
periods are closed for the ledger is :mod:`salesml.accounting.closing`'s)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import duckdb

from salesml.errors import SalesmlError

_PERIOD_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PeriodError(SalesmlError, ValueError):
    """A period is malformed or outside the data."""


def parse_period(text: str) -> str:
    """Validate ``YYYY-MM`` and return it."""
    m = _PERIOD_RE.match((text or "").strip())
    if not m:
        raise PeriodError(f"period {text!r} is not of the form YYYY-MM (e.g. 2026-10)")
    return m.group(0)


def parse_day(value: str | date | datetime, what: str = "date") -> date:
    """A day from ``YYYY-MM-DD`` text, a date or a timestamp (pandas' too); a PeriodError
    naming ``what`` otherwise."""
    if isinstance(value, datetime):  # pandas' Timestamp is one
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise PeriodError(f"{what} {value!r} is not a date of the form YYYY-MM-DD (e.g. 2026-05-31)") from None


def shift_period(period: str, months: int) -> str:
    y, m = map(int, parse_period(period).split("-"))
    idx = y * 12 + (m - 1) + months
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def period_bounds(period: str) -> tuple[date, date]:
    """First day of the period and first day of the next one."""
    y, m = map(int, parse_period(period).split("-"))
    ny, nm = divmod(y * 12 + m, 12)
    return date(y, m, 1), date(ny, nm + 1, 1)


def period_range(first: str, last: str) -> list[str]:
    out, p = [], parse_period(first)
    last = parse_period(last)
    while p <= last:
        out.append(p)
        p = shift_period(p, 1)
    return out


def latest_complete_period(con: duckdb.DuckDBPyConnection) -> str:
    """The last month whose every day is covered by the sales data."""
    last = con.execute("SELECT max(order_date) FROM order_lines").fetchall()[0][0]
    if last is None:
        raise PeriodError("no order lines in the warehouse: load data first (`salesml demo` or `salesml ingest`)")
    nxt = last + timedelta(days=1)
    return shift_period(f"{nxt.year:04d}-{nxt.month:02d}", -1)


def data_periods(con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    first, last = con.execute("SELECT min(order_date), max(order_date) FROM order_lines").fetchall()[0]
    if first is None:
        raise PeriodError("no order lines in the warehouse")
    return f"{first:%Y-%m}", f"{last:%Y-%m}"
