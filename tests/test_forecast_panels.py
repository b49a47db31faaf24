"""Panels from the ledger: levels, frequencies, gaps filled, partial steps dropped, scope."""

from __future__ import annotations

import pandas as pd
import pytest

from salesml import warehouse
from salesml.forecast.panels import PanelError, fill_gaps, panel


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
