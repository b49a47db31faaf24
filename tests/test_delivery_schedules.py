"""Schedules: slots from cron in a time zone, parameters resolved on each slot's date, audiences
expanded from the effective-dated hierarchy."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from salesml.config import ScheduleSettings
from salesml.delivery.schedules import (
    ScheduleError,
    Slot,
    audience_day,
    expand_audience,
    next_slot,
    recent_slots,
    resolve_parameters,
    slots_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_slots_are_wall_clock_times_in_the_schedules_zone():
    s = ScheduleSettings(report="sales_performance", cron="0 6 1 * *", timezone="Asia/Shanghai")
    now = datetime(2026, 12, 6, 10, 0, tzinfo=SHANGHAI)
    assert [t.isoformat() for t in recent_slots(s, now, 3)] == [
        "2026-10-01T06:00:00+08:00", "2026-11-01T06:00:00+08:00", "2026-12-01T06:00:00+08:00"]
    # a slot exactly at `now` is due; `now` in another zone is the same instant
    at = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # = 2026-12-01 06:00 in Shanghai
    assert recent_slots(s, at, 1)[0].isoformat() == "2026-12-01T06:00:00+08:00"
    assert next_slot(s, at).isoformat() == "2027-01-01T06:00:00+08:00"
    assert Slot("x", recent_slots(s, at, 1)[0]).key == "2026-11-30T22:00:00Z"


def test_daylight_saving_keeps_the_local_hour():
    s = ScheduleSettings(report="r", cron="0 6 * * *", timezone="Europe/Berlin")
    before, after = slots_between(s, datetime(2026, 3, 28, 0, 0, tzinfo=UTC), datetime(2026, 3, 30, 12, 0, tzinfo=UTC))[:2]
    assert (before.hour, after.hour) == (6, 6)
    assert (before.astimezone(UTC).hour, after.astimezone(UTC).hour) == (5, 4)  # CET, then CEST


def test_parameters_are_resolved_on_the_slots_own_date():
    # 06:00 on 1 January in Shanghai is still 31 December in UTC: the slot's zone decides
    slot = datetime(2026, 1, 1, 6, 0, tzinfo=SHANGHAI)
    params = {"period": "last_month", "as_of": "today", "load_period": "this_month", "scope_note": "last_month ", "batch": 3, "x": "2024-02"}
    assert resolve_parameters(params, slot) == {
        "period": "2025-12", "as_of": "2026-01-01", "load_period": "2026-01", "scope_note": "2025-12", "batch": 3, "x": "2024-02"}
    assert resolve_parameters({"as_of": "yesterday", "d": "last_month_end"}, datetime(2024, 3, 1, tzinfo=UTC)) == {
        "as_of": "2024-02-29", "d": "2024-02-29"}
    assert params["period"] == "last_month"  # the schedule's own parameters are untouched


def test_audience_day_is_the_day_the_report_is_about():
    assert audience_day({"period": "2024-02"}, date(2024, 3, 1)) == date(2024, 2, 29)
    assert audience_day({"as_of": "2024-02-10"}, date(2024, 3, 1)) == date(2024, 2, 10)
    assert audience_day({}, date(2024, 3, 1)) == date(2024, 3, 1)


HIERARCHY = pd.DataFrame(
    [
        ("M1", "manager", "T1", "East", "2024-01-01", None),
        ("R1", "rep", "T1", "East", "2024-01-01", None),
        ("R2", "rep", "T1", "East", "2024-01-01", "2024-02-14"),
        ("R2", "rep", "T2", "West", "2024-02-15", None),
        ("R3", "rep", "T2", "West", "2024-01-01", "2024-01-31"),  # left at the end of January
        ("007", None, "T2", "West", "2024-02-01", None),  # an id that must stay text
    ],
    columns=["rep_id", "role", "team", "region", "valid_from", "valid_to"],
)


def test_audiences_expand_from_the_hierarchy_on_the_day():
    jan, feb = date(2024, 1, 20), date(2024, 2, 20)
    assert expand_audience(("each_rep",), HIERARCHY, jan) == ["rep:R1", "rep:R2", "rep:R3"]  # managers get team reports
    assert expand_audience(("each_rep",), HIERARCHY, feb) == ["rep:007", "rep:R1", "rep:R2"]
    assert expand_audience(("each_team",), HIERARCHY, jan) == ["team:T1", "team:T2"]
    assert expand_audience(("each_region",), HIERARCHY, date(2024, 2, 14)) == ["region:East", "region:West"]
    assert expand_audience(("company", "team:T2", "each_team"), HIERARCHY, feb) == ["company", "team:T2", "team:T1"]
    with pytest.raises(ScheduleError, match=r"audience 'rep:R3': no rep 'R3' in the hierarchy on 2024-02-20"):
        expand_audience(("rep:R3",), HIERARCHY, feb)
