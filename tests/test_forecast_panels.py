"""Panels from the ledger: levels, frequencies, gaps filled, scope, and steps anchored by the
data (weeks ending any weekday, months on the 1st or the last day, partial steps named)."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from salesml import warehouse
from salesml.accounting.ledger import ensure_posted
from salesml.config import (
    ConfigError,
    ForecastSettings,
    InventorySettings,
    Settings,
    check_forecast,
)
from salesml.forecast.models import future_dates
from salesml.forecast.panels import PanelError, calendar, data_anchor, fill_gaps, panel, panel_steps
from salesml.ingest import canonical_source, ingest_source
from tests.conftest import make_settings


@pytest.fixture
def con(toy):
    with warehouse.connect(toy.warehouse_path, read_only=True) as c:
        yield c


def test_daily_company_panel_nets_returns_on_the_sale_date(con):
    p = panel(con, "company", "D")
    y = p.set_index("ds")["y"]
    assert p["unique_id"].unique().tolist() == ["company"]
    assert y[pd.Timestamp("2024-01-10")] == 150  # SO1
    assert y[pd.Timestamp("2024-01-20")] == 150  # SO2 200 less its return RT1 (credited to the sale's date)
    assert y[pd.Timestamp("2024-01-11")] == 0  # a gap, filled
    assert y.sum() == 350 + 510
    assert p["ds"].min() == pd.Timestamp("2024-01-10") and p["ds"].max() == pd.Timestamp("2024-02-20")


def test_monthly_and_weekly_drop_the_partial_last_step(con):
    m = panel(con, "team", "M")
    # the ledger's last sale is 2024-02-20: February is partial, so only January remains
    assert m["ds"].unique().tolist() == [pd.Timestamp("2024-01-01")]
    assert m.set_index("unique_id")["y"].to_dict() == {"T1": 300.0, "T2": 50.0}
    w = panel(con, "company", "W")
    assert w["ds"].max() == pd.Timestamp("2024-02-18")  # the last complete week ends on Sunday 18th
    assert (w["ds"].dt.dayofweek == 6).all()


def test_levels_scope_and_quantity(con):
    cats = panel(con, "category", "D", measure="quantity")
    assert set(cats["unique_id"]) == {"Alpha", "Beta"}
    assert cats.groupby("unique_id")["y"].sum().to_dict() == {"Alpha": 46.0, "Beta": 8.0}
    t2 = panel(con, "rep", "D", scope="team:T2")
    assert set(t2["unique_id"]) == {"R2", "R3"}
    with pytest.raises(PanelError, match="level must be one of"):
        panel(con, "planet", "D")


def test_fill_gaps_sums_duplicates_and_is_pure():
    df = pd.DataFrame({"unique_id": ["a", "a", "a"], "ds": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-03"]), "y": [1.0, 2.0, 5.0]})
    out = fill_gaps(df, "D")
    assert out["y"].tolist() == [3.0, 0.0, 5.0]
    assert len(df) == 3


# --------------------------------------------------------------------------- steps anchored by the data


def _weekly_export(tmp_path, weekday: int, weeks: int = 8, first="2024-01-01", extra: tuple[str, ...] = ()) -> tuple:
    """A weekly export as stores send them: one line per store and week, dated on the weekday
    that ends the week (plus ``extra`` dates); loaded and posted. Returns (settings, dates)."""
    start = pd.Timestamp(first) + pd.Timedelta(days=(weekday - pd.Timestamp(first).weekday()) % 7)
    dates = [start + pd.Timedelta(weeks=k) for k in range(weeks)] + [pd.Timestamp(d) for d in extra]
    return _load_lines(tmp_path, dates), dates


def _load_lines(tmp_path, dates) -> Settings:
    path = tmp_path / "weekly.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["order_id", "line_no", "order_date", "customer_id", "product_id", "quantity", "unit_price", "status"])
        for k, d in enumerate(dates):
            for store in ("S1", "S2"):
                w.writerow([f"{store}-{k}", 1, f"{d:%Y-%m-%d}", store, "ALL", 1, 100 + k, "completed"])
    s = make_settings(tmp_path / "wh")
    ingest_source(s, "weekly", canonical_source({"order_lines": path}))
    ensure_posted(s)
    return s


@pytest.mark.parametrize("weekday", range(7))
def test_weekly_exports_keep_the_weekday_that_ends_their_week(tmp_path, weekday):
    """Weeks dated on any weekday keep that weekday; the last week, dated on its own day, is
    complete: nothing is dropped, and the first forecast step is the week after it."""
    s, dates = _weekly_export(tmp_path, weekday)
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        p, steps = panel_steps(c, "company", "W")
    assert p["ds"].tolist() == dates  # every week, on its own date
    assert p["y"].tolist() == [2.0 * (100 + k) for k in range(len(dates))]
    assert steps.point_dated and steps.partial is None and steps.anchor.startswith("W-")
    assert steps.first_forecast == dates[-1] + pd.Timedelta(weeks=1)
    assert future_dates(p, 2, "W").tolist() == [dates[-1] + pd.Timedelta(weeks=k) for k in (1, 2)]


def test_week_ends_from_config_and_a_partial_week_named(tmp_path):
    """Daily sales (every weekday) get weeks ending Sunday, or the configured weekday; a week
    the data ends inside is partial: named, left out, and not the first forecast step."""
    days = list(pd.date_range("2024-01-01", "2024-01-24"))  # Monday 1st .. Wednesday 24th
    s = _load_lines(tmp_path, days)
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        p, steps = panel_steps(c, "company", "W")
        fri, fri_steps = panel_steps(c, "company", "W", forecast=ForecastSettings(week_ends="FRI"))
    assert steps.anchor == "W-SUN" and not steps.point_dated
    assert p["ds"].tolist() == [pd.Timestamp("2024-01-07"), pd.Timestamp("2024-01-14"), pd.Timestamp("2024-01-21")]
    assert steps.partial == pd.Timestamp("2024-01-28") and steps.first_forecast == pd.Timestamp("2024-02-04")
    assert steps.note() == ("the week ending 2024-01-28 is partial (data through 2024-01-24): left out of the history; "
                            "forecasts start with 2024-02-04")
    assert fri["ds"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-12"), pd.Timestamp("2024-01-19")]
    assert fri["y"].iloc[0] == sum(2.0 * (100 + k) for k in range(5))  # Mon 1st .. Fri 5th
    assert fri_steps.partial == pd.Timestamp("2024-01-26")
    with pytest.raises(ConfigError, match="week_ends must be one of MON"):
        check_forecast(ForecastSettings(week_ends="Friday"), InventorySettings())


@pytest.mark.parametrize(("day", "anchor"), [("first", "MS"), ("last", "ME")])
def test_monthly_exports_dated_on_the_first_or_the_last_day(tmp_path, day, anchor):
    months = pd.date_range("2023-01-01", periods=14, freq="MS")
    dates = list(months if day == "first" else months + pd.offsets.MonthEnd(0))
    s = _load_lines(tmp_path, dates)
    with warehouse.connect(s.warehouse_path, read_only=True) as c:
        p, steps = panel_steps(c, "company", "M")
    assert steps.anchor == anchor and steps.point_dated and steps.partial is None
    assert p["ds"].tolist() == dates  # the last month (2024-02) is kept: it is complete
    nxt = future_dates(p, 3, "M").tolist()
    assert nxt == list(pd.date_range(dates[-1], periods=4, freq=anchor)[1:])
    assert nxt[0] == steps.first_forecast


def test_a_month_the_daily_data_ends_inside_is_partial():
    dates = pd.Series(pd.date_range("2024-01-01", "2024-03-20"))
    steps = calendar(dates, "M", dates.iloc[-1])
    assert (steps.anchor, steps.point_dated) == ("MS", False)
    assert steps.last == pd.Timestamp("2024-02-01") and steps.partial == pd.Timestamp("2024-03-01")
    assert steps.note().startswith("the month 2024-03 is partial (data through 2024-03-20)")
    assert calendar(dates, "M", "2024-03-31").partial is None  # an as-of at the month's end: complete
    # a stray mid-week date in a weekly export does not unsettle the anchor (95 % rule)
    fridays = pd.Series(list(pd.date_range("2024-01-05", periods=40, freq="W-FRI")) + [pd.Timestamp("2024-02-07")])
    assert data_anchor(fridays, "W") == ("W-FRI", True)


def test_parent_of_names_the_level_whose_pick_a_level_keeps():
    from dataclasses import replace

    from salesml.config import ForecastSettings
    from salesml.forecast.panels import parent_of

    fs = ForecastSettings()
    assert [parent_of(x, fs) for x in ("company", "region", "team", "rep", "category", "product", None)] == [
        None, "company", "region", None, "company", None, None]
    assert parent_of("team", replace(fs, parent_margin=0.0)) is None  # it keeps its own earlier pick instead
    assert parent_of("team", replace(fs, choice="series")) is None
