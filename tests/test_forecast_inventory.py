"""Reorder points and low-stock alerts: hand-worked numbers, missing pieces, the demo warehouse."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from salesml import warehouse
from salesml.config import InventorySettings
from salesml.forecast.inventory import (
    COLUMNS,
    InventoryError,
    alerts,
    demand_panel,
    latest_inventory,
    reorder_table,
)

LEVEL = 80
Z80 = NormalDist().inv_cdf(0.5 + LEVEL / 200)  # an 80% interval is yhat ± 1.2816 σ
SETTINGS = InventorySettings(service_level=0.95, default_lead_time_days=3)
Z95 = NormalDist().inv_cdf(0.95)  # 1.6449


def forecast(product: str, days: int, yhat: float, sigma: float) -> pd.DataFrame:
    ds = pd.date_range("2026-07-01", periods=days)
    return pd.DataFrame({"unique_id": product, "ds": ds, "yhat": yhat, "lo": max(yhat - Z80 * sigma, 0.0), "hi": yhat + Z80 * sigma})


def snapshot(rows: list[tuple]) -> pd.DataFrame:
    """(product_id, warehouse, on_hand, on_order, lead_time_days) rows of a 30 June snapshot."""
    df = pd.DataFrame(rows, columns=["product_id", "warehouse", "on_hand", "on_order", "lead_time_days"])
    return df.assign(snapshot_date=pd.Timestamp("2026-06-30"), lead_time_days=df["lead_time_days"].astype("Int64"))


def test_reorder_point_by_hand():
    snap = snapshot([("P1", "W1", 10.0, 12.0, 4)])
    row = reorder_table(snap, forecast("P1", 10, yhat=5.0, sigma=2.0), SETTINGS, level=LEVEL).iloc[0]
    # demand over the 4-day lead time: 4 x 5 = 20; σ per day 2 -> safety stock 1.6449 x 2 x √4 = 6.58
    assert row["demand_lead_time"] == pytest.approx(20.0)
    assert row["sigma_daily"] == pytest.approx(2.0)
    assert row["safety_stock"] == pytest.approx(Z95 * 2 * 2) and row["safety_stock"] == pytest.approx(6.5794, abs=1e-4)
    assert row["reorder_point"] == pytest.approx(20 + Z95 * 4)
    # position 10 + 12 = 22 < 26.58: alert, 4.58 short; 10 on hand cover 10 / 5 = 2 days
    assert row["position"] == 22.0 and bool(row["alert"]) and row["shortfall"] == pytest.approx(26.5794 - 22, abs=1e-4)
    assert row["days_of_cover"] == pytest.approx(2.0)
    assert row["lead_time_source"] == "snapshot" and row["note"] == ""


def test_two_warehouses_split_the_demand_equally_with_binomial_thinning():
    snap = snapshot([("P1", "W1", 30.0, 0.0, 4), ("P1", "W2", 30.0, 0.0, 4)])
    t = reorder_table(snap, forecast("P1", 10, yhat=5.0, sigma=2.0), SETTINGS, level=LEVEL)
    # each gets s = 1/2: demand 20 / 2 = 10 over the lead time; the product's variance over it is
    # 4 x 2² = 16, a warehouse's s² x 16 + s (1 - s) x 20 = 4 + 5 = 9 -> σ 3 over 4 days, 1.5 a day
    assert t["demand_share"].tolist() == [0.5, 0.5]
    assert t["demand_lead_time"].tolist() == [10.0, 10.0]
    assert t["sigma_daily"].tolist() == pytest.approx([1.5, 1.5])
    assert t["safety_stock"].tolist() == pytest.approx([Z95 * 3, Z95 * 3])  # 4.93
    assert t["days_of_cover"].tolist() == pytest.approx([12.0, 12.0])  # 30 / 2.5


def test_given_demand_shares_are_normalised_per_product():
    snap = snapshot([("P1", "W1", 30.0, 0.0, 4), ("P1", "W2", 30.0, 0.0, 4), ("P2", "W1", 5.0, 0.0, 4)])
    shares = pd.DataFrame({"product_id": ["P1", "P1"], "warehouse": ["W1", "W2"], "share": [3.0, 1.0]})
    fc = pd.concat([forecast("P1", 10, 4.0, 1.0), forecast("P2", 10, 1.0, 1.0)])
    t = reorder_table(snap, fc, SETTINGS, level=LEVEL, demand_shares=shares)
    assert t["demand_share"].tolist() == [0.75, 0.25, 1.0]  # P2 has no shares given: its only warehouse takes all
    assert t["demand_lead_time"].tolist() == pytest.approx([12.0, 4.0, 4.0])


def test_missing_lead_time_zero_demand_and_missing_forecast_are_handled():
    snap = snapshot([("P1", "W1", 10.0, 0.0, None), ("P2", "W1", 7.0, 0.0, 5), ("P3", "W1", 1.0, None, 5), ("P4", "W1", np.nan, 3.0, 5)])
    fc = pd.concat([forecast("P1", 10, 2.0, 1.0), forecast("P2", 10, 0.0, 0.0), forecast("P4", 10, 1.0, 0.5)])
    t = reorder_table(snap, fc, SETTINGS, level=LEVEL).set_index("product_id")
    # P1: no lead time -> the settings' 3 days: demand 6, safety 1.6449 x 1 x √3
    assert t.loc["P1", "lead_time_days"] == 3 and t.loc["P1", "lead_time_source"] == "default"
    assert t.loc["P1", "reorder_point"] == pytest.approx(6 + Z95 * math.sqrt(3))
    assert "default 3 days" in t.loc["P1", "note"]
    # P2: nothing forecast -> reorder point 0, unlimited cover, no alert
    assert t.loc["P2", "reorder_point"] == 0 and t.loc["P2", "days_of_cover"] == np.inf and not t.loc["P2", "alert"]
    assert "cover is unlimited" in t.loc["P2", "note"]
    # P3: no forecast at all -> no reorder point, no alert, a note; its unknown on_order counts as 0
    assert np.isnan(t.loc["P3", "reorder_point"]) and not t.loc["P3", "alert"]
    assert "no forecast for this product" in t.loc["P3", "note"] and "on_order unknown" in t.loc["P3", "note"]
    # P4: on_hand unknown -> no alert and no cover, whatever the reorder point
    assert not t.loc["P4", "alert"] and np.isnan(t.loc["P4", "days_of_cover"]) and "on_hand unknown" in t.loc["P4", "note"]


def test_a_lead_time_beyond_the_forecast_is_extrapolated_at_its_mean():
    snap = snapshot([("P1", "W1", 100.0, 0.0, 5)])
    row = reorder_table(snap, forecast("P1", 3, 5.0, 2.0), SETTINGS, level=LEVEL).iloc[0]
    # 3 forecast days + 2 more at the mean: 5 x 5 = 25; variance 5 x 2² = 20
    assert row["demand_lead_time"] == pytest.approx(25.0)
    assert row["safety_stock"] == pytest.approx(Z95 * math.sqrt(20))
    assert "beyond the 3-day forecast" in row["note"]


def test_alerts_are_sorted_by_shortfall_and_inputs_untouched():
    snap = snapshot([("P1", "W1", 0.0, 0.0, 4), ("P2", "W1", 1.0, 0.0, 4), ("P3", "W1", 500.0, 0.0, 4)])
    fc = pd.concat([forecast("P1", 10, 1.0, 1.0), forecast("P2", 10, 10.0, 1.0), forecast("P3", 10, 10.0, 1.0)])
    before = (snap.copy(), fc.copy())
    table = reorder_table(snap, fc, SETTINGS, level=LEVEL)
    assert list(table.columns) == COLUMNS
    hits = alerts(table)
    assert hits["product_id"].tolist() == ["P2", "P1"]  # P2 is ~42 short, P1 ~7; P3 has plenty
    assert hits["shortfall"].is_monotonic_decreasing
    pd.testing.assert_frame_equal(snap, before[0])
    pd.testing.assert_frame_equal(fc, before[1])


def test_reorder_table_says_what_is_wrong():
    snap = snapshot([("P1", "W1", 1.0, 0.0, 4)])
    fc = forecast("P1", 5, 1.0, 1.0)
    with pytest.raises(InventoryError, match="missing lead_time_days"):
        reorder_table(snap.drop(columns="lead_time_days"), fc, SETTINGS)
    with pytest.raises(InventoryError, match="more than one row per product and warehouse"):
        reorder_table(pd.concat([snap, snap]), fc, SETTINGS)
    with pytest.raises(InventoryError, match="missing hi, lo"):
        reorder_table(snap, fc.drop(columns=["lo", "hi"]), SETTINGS)


def test_the_demo_warehouse_latest_snapshot_and_demand(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        inv = latest_inventory(con)
        n_pairs = con.execute("SELECT count(*) FROM (SELECT DISTINCT product_id, warehouse FROM inventory)").fetchall()[0][0]
        history = demand_panel(con, small_demo.inventory)
        with pytest.raises(InventoryError, match="no inventory snapshots up to 2000-01-01"):
            latest_inventory(con, as_of="2000-01-01")
    assert len(inv) == n_pairs and not inv.duplicated(["product_id", "warehouse"]).any()
    assert inv["snapshot_date"].max() == pd.Timestamp("2026-06-30")
    assert history["ds"].max() - history["ds"].min() < pd.Timedelta(days=small_demo.inventory.history_days)
    # a flat forecast of each product's mean daily units over the last 28 days, ± 1 σ of them
    recent = history[history["ds"] > history["ds"].max() - pd.Timedelta(days=28)]
    stats = recent.groupby("unique_id")["y"].agg(["mean", "std"]).fillna(0.0).clip(lower=0)
    fc = pd.concat([forecast(pid, 28, r["mean"], r["std"]) for pid, r in stats.iterrows()], ignore_index=True)
    table = reorder_table(inv, fc, small_demo.inventory, level=LEVEL)
    assert len(table) == len(inv)
    known = table["reorder_point"].notna()
    assert known.mean() > 0.9  # products on the shelves sold recently
    assert (table.loc[known, "reorder_point"] >= table.loc[known, "demand_lead_time"]).all()
    assert table.groupby("product_id")["demand_share"].sum().round(9).eq(1).all()
