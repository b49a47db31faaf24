"""Period and day arithmetic shared by every module (salesml.periods)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from salesml.periods import PeriodError, parse_day, parse_period, period_range, shift_period


def test_a_day_from_text_a_date_or_a_timestamp():
    assert parse_day(" 2026-05-31 ") == date(2026, 5, 31)
    assert parse_day(date(2026, 5, 31)) == date(2026, 5, 31)
    assert parse_day(datetime(2026, 5, 31, 13, 5)) == date(2026, 5, 31)
    assert parse_day(pd.Timestamp("2026-05-31 08:00")) == date(2026, 5, 31)
    with pytest.raises(PeriodError, match=r"cutoff '31/05/2026' is not a date of the form YYYY-MM-DD"):
        parse_day("31/05/2026", "cutoff")
    with pytest.raises(PeriodError, match="2026-02-30"):
        parse_day("2026-02-30")


def test_months():
    assert shift_period("2026-01", -1) == "2025-12" and shift_period("2026-11", 14) == "2028-01"
    assert period_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    with pytest.raises(PeriodError, match="YYYY-MM"):
        parse_period("2026-13")
