"""The promotion calendar: reading it (and its bad rows), the regressor, Prophet learning it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesml.forecast.models import ProphetModel
from salesml.forecast.promotions import (
    Promotions,
    PromotionsError,
    daily_depth,
    load_promotions,
    regressor,
)

CALENDAR = """category,first_day,last_day,discount
Tea,2026-01-05,2026-01-07,0.10
Tea,2026-01-06,2026-01-06,0.30
Toys,2026-01-07,2026-01-08,0.20
,2026-01-10,2026-01-10,0.05
"""


@pytest.fixture
def calendar(tmp_path):
    path = tmp_path / "promotions.csv"
    path.write_text(CALENDAR, encoding="utf-8")
    return load_promotions(path)


def test_the_calendar_is_read_with_an_empty_category_for_all(calendar):
    assert list(calendar.columns) == ["category", "first_day", "last_day", "discount"]
    assert calendar["category"].tolist() == ["Tea", "Tea", "Toys", None]
    assert calendar["discount"].tolist() == [0.10, 0.30, 0.20, 0.05]


@pytest.mark.parametrize(
    "text, message",
    [
        ("category,first_day,discount\nTea,2026-01-05,0.1\n", "missing column(s) last_day"),
        ("category,first_day,last_day,discount\nTea,2026-01-05,2026-01-07,0.1\nTea,5 Jan,2026-01-07,0.1\n", "line 3: first_day and last_day must be dates"),
        ("category,first_day,last_day,discount\nTea,2026-01-07,2026-01-05,0.1\n", "line 2: last_day 2026-01-05 is before first_day 2026-01-07"),
        ("category,first_day,last_day,discount\nTea,2026-01-05,2026-01-07,15%\n", "line 2: discount must be a fraction between 0 and 1, got '15%'"),
        ("category,first_day,last_day,discount\nTea,2026-01-05,2026-01-07,1.5\n", "discount must be a fraction"),
    ],
)
def test_bad_calendars_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "promos.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PromotionsError, match=f"{path.name}.*{message.replace('(', '.').replace(')', '.')}"):
        load_promotions(path)
    with pytest.raises(PromotionsError, match="no such promotion calendar"):
        load_promotions(tmp_path / "nowhere.csv")


def test_the_depth_of_promotion_per_day_category_and_total(calendar):
    days = pd.date_range("2026-01-04", "2026-01-10")
    # Tea: 10% on the 5th-7th, 30% on the 6th (the deepest counts), the all-category 5% on the 10th
    assert daily_depth(calendar, days, "Tea").tolist() == [0, 0.10, 0.30, 0.10, 0, 0, 0.05]
    assert daily_depth(calendar, days, "Toys").tolist() == [0, 0, 0, 0.20, 0.20, 0, 0.05]
    # a total: the mean over the calendar's categories (Tea, Toys)
    assert daily_depth(calendar, days).tolist() == pytest.approx([0, 0.05, 0.15, 0.15, 0.10, 0, 0.05])


def test_weekly_and_monthly_steps_average_their_days(calendar):
    # the week ending Sunday 2026-01-11 holds Tea's 0.10 + 0.30 + 0.10 + 0.05 over 7 days
    assert regressor(calendar, [pd.Timestamp("2026-01-11")], "W", "Tea") == pytest.approx([0.55 / 7])
    assert regressor(calendar, [pd.Timestamp("2026-01-04")], "W", "Tea") == pytest.approx([0.0])
    assert regressor(calendar, [pd.Timestamp("2026-01-01")], "M", "Toys") == pytest.approx([0.45 / 31])


def test_prophet_learns_the_promotions_and_sees_a_planned_one_coming():
    """Sales jump by half on promotion days; a promotion is planned inside the forecast window.
    With the calendar, Prophet forecasts the jump; without, it cannot."""
    rng = np.random.default_rng(0)
    ds = pd.date_range("2025-01-01", periods=240, freq="D")
    rows = [("Tea", d, d + pd.Timedelta(days=6), 0.2) for d in pd.date_range("2025-01-20", periods=9, freq="25D")]
    rows.append(("Tea", pd.Timestamp("2025-09-05"), pd.Timestamp("2025-09-11"), 0.2))  # planned, after the history
    promos = Promotions(tuple(rows), (("tea", "Tea"),))
    x = promos.values(ds, "D", "Tea")
    y = 100 * (1 + 2.5 * x) + rng.normal(0, 3, len(ds))
    history = pd.DataFrame({"ds": ds, "y": y})
    with_calendar = ProphetModel(country="", festivals=False, promotions=promos, random_state=0).for_series("tea")
    assert with_calendar.category == "Tea"
    fc = with_calendar.forecast(history, 14, "D").set_index("ds")
    promo_days = pd.date_range("2025-09-05", "2025-09-11")
    quiet_days = fc.index.difference(promo_days)
    assert fc.loc[promo_days, "yhat"].mean() == pytest.approx(150, rel=0.08)
    assert fc.loc[quiet_days, "yhat"].mean() == pytest.approx(100, rel=0.08)
    blind = ProphetModel(country="", festivals=False, random_state=0).forecast(history, 14, "D").set_index("ds")
    assert blind.loc[promo_days, "yhat"].mean() < 125  # without the calendar the jump is not foreseen
    # a calendar with no promotion during the history adds nothing to learn: no regressor
    later = Promotions((("Tea", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-05"), 0.3),), (("tea", "Tea"),))
    m = ProphetModel(country="", festivals=False, promotions=later).for_series("tea").fit(history, "D")
    assert "promo" not in m.extra_regressors
