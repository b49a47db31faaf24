"""The ipywidgets explorer: widgets drive short read-only queries."""

from __future__ import annotations

from salesml.explore import PerformanceExplorer


def test_explorer_follows_the_widgets(toy):
    ex = PerformanceExplorer(warehouse_path=str(toy.warehouse_path))
    assert ex.period.value == "2024-01"  # latest complete month
    assert set(ex.period.options) == {"2024-01", "2024-02"}
    ex.period.value = "2024-02"
    assert set(ex.frame["team"]) == {"T1", "T2", "(unassigned)"}
    ex.level.value = "rep"
    assert len(ex.frame) == 5
    ex.scope.value = "team:T2"
    assert set(ex.frame["rep_id"]) == {"R2", "R3"}
    ex.measure.value = "attainment_pct"
    fig = ex.figure()
    assert list(fig.data[0].y) == sorted(ex.frame["attainment_pct"], reverse=True)
    ex.level.value = "company"
    assert "narrower" in ex.message.value and ex.frame.empty


def test_explorer_does_not_hold_the_warehouse(toy):
    from salesml import warehouse

    PerformanceExplorer(warehouse_path=str(toy.warehouse_path))
    with warehouse.connect(toy.warehouse_path) as con:  # a writer can open it right away
        warehouse.audit(con, "test")
