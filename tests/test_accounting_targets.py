"""Phasing yearly targets into months: flat, custom, seasonal; cents add up exactly."""

from __future__ import annotations

import pandas as pd
import pytest

from salesml import warehouse
from salesml.accounting import targets as T


def test_split_cents_adds_up_exactly():
    parts = T.split_cents(100.00, [1] * 12)
    # 10000 cents / 12 = 833.33..: four months get 834 cents, eight get 833
    assert sorted(parts) == [8.33] * 8 + [8.34] * 4
    assert round(sum(parts), 2) == 100.00
    assert T.split_cents(10, [1, 0, 3]) == [2.5, 0.0, 7.5]
    with pytest.raises(T.TargetError, match="not all zero"):
        T.split_cents(10, [0, 0])


def test_flat_and_custom_phasing():
    yearly = pd.DataFrame({"rep_id": ["R1", "R2"], "target_revenue": [120_000.00, 1_000.01], "target_margin": [24_000, None]})
    flat = T.phase(yearly, 2027, "flat")
    assert len(flat) == 24 and flat["period"].iloc[0] == "2027-01" and flat["period"].iloc[11] == "2027-12"
    assert flat.groupby("rep_id")["target_revenue"].sum().round(2).to_dict() == {"R1": 120000.0, "R2": 1000.01}
    assert (flat.loc[flat["rep_id"] == "R1", "target_revenue"] == 10_000).all()
    assert flat.loc[flat["rep_id"] == "R2", "target_margin"].isna().all()
    custom = T.phase(yearly.head(1), 2027, "custom", weights=[2] + [1] * 11)
    # weight 2 of 13: 12,000,000 cents x 2/13 = 1,846,153.85 -> 1,846,153 (remainder .85);
    # each other month 923,076.92 -> 923,076 (remainder .92); the 11 missing cents go to the
    # largest remainders, i.e. to the eleven other months: 18461.53 and 11 x 9230.77
    assert custom["target_revenue"].iloc[0] == 18461.53
    assert (custom["target_revenue"].iloc[1:] == 9230.77).all()
    assert round(custom["target_revenue"].sum(), 2) == 120000.00
    with pytest.raises(T.TargetError, match="12 weights"):
        T.phase(yearly, 2027, "custom", weights=[1, 2])
    with pytest.raises(T.TargetError, match="not only 2027"):
        T.phase(yearly.assign(year=2026), 2027, "flat")


def test_seasonal_profile_from_the_ledger(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        profile = T.seasonal_profile(con, 2026, years=2)  # 2024 and 2025, both complete in the demo
        with pytest.raises(T.TargetError, match="complete year"):
            T.seasonal_profile(con, 2024, years=2)
    assert profile.sum() == pytest.approx(1.0)
    # the demo's Double 11 makes November the biggest month, Chinese New Year a small February
    assert profile.idxmax() == 11
    assert profile[2] < profile.mean()
    monthly = T.phase(pd.DataFrame({"team": ["T01"], "target_revenue": [1_000_000]}), 2026, "seasonal", profile=profile)
    assert round(monthly["target_revenue"].sum(), 2) == 1_000_000
    assert monthly.set_index("period")["target_revenue"].idxmax() == "2026-11"
