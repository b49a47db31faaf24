"""Early warnings: sudden drops against a series' own weeks, stale pipeline, customers at risk.

Expected figures are worked out here by hand (``statistics`` for the drops) from the toy
company (tests/data/toy) and rows written into its warehouse with plain SQL."""

from __future__ import annotations

import statistics
from datetime import date

import pandas as pd
import pytest

from salesml import warehouse
from salesml.config import WarningsSettings
from salesml.insights import warnings as W


def test_weekly_blocks_count_back_from_the_end_and_fill_the_empty_weeks(toy_con):
    blocks = W.weekly_blocks(toy_con, date(2024, 2, 25), 3, "rep")
    got = {(g, b): s for g, b, s in blocks.itertuples(index=False)}
    # block 0 = 19-25 Feb: SO6 (R2 100); 1 = 12-18 Feb: SO9 (no rep, 10); 2 = 5-11 Feb: SO5 (R2 50),
    # SO7 (R1 200), SO8 (R3 200); 3 = 29 Jan-4 Feb: only a return (RT1), not a sale
    assert got == {
        ("R1", 0): 0, ("R1", 1): 0, ("R1", 2): 200, ("R1", 3): 0,
        ("R2", 0): 100, ("R2", 1): 0, ("R2", 2): 50, ("R2", 3): 0,
        ("R3", 0): 0, ("R3", 1): 0, ("R3", 2): 200, ("R3", 3): 0,
        ("(unassigned)", 0): 0, ("(unassigned)", 1): 10, ("(unassigned)", 2): 0, ("(unassigned)", 3): 0,
    }
    mine = W.weekly_blocks(toy_con, date(2024, 2, 25), 3, "rep", "team:T1")
    assert set(mine["group"]) == {"R1", "R2"}  # R2 in T1 until 14 Feb: the 5 Feb sale; (unassigned) is no team's


def test_a_drop_is_far_below_the_series_own_weeks_and_far_enough_below_its_mean():
    history = {"steady": [100, 110, 90, 100, 105, 95], "volatile": [100, 60, 140, 100, 90, 110], "never": [0] * 6}
    last = {"steady": 40, "volatile": 70, "never": 0, "ok": 95}
    history["ok"] = history["steady"]
    rows = [(g, b + 1, v) for g, h in history.items() for b, v in enumerate(h)] + [(g, 0, v) for g, v in last.items()]
    blocks = pd.DataFrame(rows, columns=["group", "block", "sales"])
    before = blocks.copy()
    drops = W.drops_from_blocks(blocks, WarningsSettings(drop_z=2.0, drop_min_pct=20.0))
    pd.testing.assert_frame_equal(blocks, before)
    assert drops["group"].tolist() == ["steady"]
    mean, sd = statistics.mean(history["steady"]), statistics.stdev(history["steady"])
    row = drops.iloc[0]
    assert row["usual"] == pytest.approx(mean) and row["z"] == pytest.approx((40 - mean) / sd)
    assert row["drop_pct"] == pytest.approx(60.0)
    # the volatile series fell as far in money, but within its own swings: z = -30 / 26.8
    assert (70 - statistics.mean(history["volatile"])) / statistics.stdev(history["volatile"]) > -2
    # a lower bar on the drop itself still needs the z-score
    assert W.drops_from_blocks(blocks, WarningsSettings(drop_z=2.0, drop_min_pct=70.0)).empty


def _write(settings, sql: str, rows: list[tuple]) -> None:
    with warehouse.open(settings) as con:
        con.executemany(sql, rows)


def test_stale_pipeline_is_what_was_open_and_overdue_on_the_day(toy):
    _write(
        toy,
        "INSERT INTO opportunities (opp_id, customer_id, rep_id, created_date, stage, expected_close, closed_date, amount, outcome, "
        "batch_id, source_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
        [
            ("O1", "C1", "R1", date(2024, 1, 5), "Proposal", date(2024, 2, 1), None, 500, "open", 1),
            ("O2", "C1", "R1", date(2024, 1, 10), "Closed Won", date(2024, 2, 15), date(2024, 2, 18), 80, "won", 2),
            ("O3", "C3", "R3", date(2024, 1, 20), "Proposal", date(2024, 3, 1), None, 900, "open", 3),
            ("O4", "C2", "R2", date(2024, 1, 2), "Negotiation", date(2024, 1, 31), None, 300, "open", 4),
        ],
    )
    s = WarningsSettings()
    with warehouse.open(toy, read_only=True) as con:
        on_20 = W.stale_pipeline(con, date(2024, 2, 20), None, s)
        on_16 = W.stale_pipeline(con, date(2024, 2, 16), None, s)
        t1 = W.stale_pipeline(con, date(2024, 2, 20), "team:T1", s)
        r3 = W.stale_pipeline(con, date(2024, 2, 20), "rep:R3", s)
        lenient = W.stale_pipeline(con, date(2024, 2, 20), None, WarningsSettings(stale_days=19))
    assert on_20[["rep_id", "rep_name", "opportunities", "amount", "days_overdue"]].values.tolist() == [
        ["R1", "Alice", 1, 500.0, 19], ["R2", "Bob", 1, 300.0, 20]]
    # O2 was still open on the 16th, a day past its expected close
    assert on_16.loc[on_16["rep_id"] == "R1", ["opportunities", "amount", "days_overdue"]].values.tolist() == [[2, 580.0, 15]]
    assert t1["rep_id"].tolist() == ["R1"]  # R2 is in T2 now
    assert r3.empty
    assert lenient["rep_id"].tolist() == ["R2"]  # only O4 is more than 19 days late


def test_customers_at_risk_come_from_the_latest_scores_of_the_scope(toy):
    sql = ("INSERT INTO churn_scores (customer_id, as_of, version, risk, value_at_risk, owner_rep_id, scored_at) "
           "VALUES (?, ?, ?, ?, ?, ?, now())")
    _write(toy, sql, [
        ("C1", date(2024, 2, 1), "v0001", 0.9, 400, "R1"),  # an older scoring: not read
        ("C1", date(2024, 2, 29), "v0001", 0.2, 100, "R1"),
        ("C1", date(2024, 2, 29), "v0002", 0.7, 150, "R1"),
        ("C2", date(2024, 2, 29), "v0002", 0.95, 90, "R2"),
        ("C3", date(2024, 2, 29), "v0002", 0.4, 300, "R3"),
    ])
    with warehouse.open(toy, read_only=True) as con:
        all_ = W.at_risk_customers(con, None, 0.5)
        mine = W.at_risk_customers(con, "rep:R1", 0.5)
        west = W.at_risk_customers(con, "region:West", 0.5)
    assert all_[["customer_id", "customer_name", "owner_rep_id", "owner_name", "risk", "value_at_risk", "version"]].values.tolist() == [
        ["C1", "One Ltd", "R1", "Alice", 0.7, 150.0, "v0002"], ["C2", "Two Ltd", "R2", "Bob", 0.95, 90.0, "v0002"]]
    assert mine["customer_id"].tolist() == ["C1"]
    assert west["customer_id"].tolist() == ["C2"]


def test_early_warnings_say_what_they_could_not_check(toy, no_config):
    from salesml.config import load_settings

    s = load_settings(None).with_overrides(warehouse={"path": str(toy.warehouse_path)})
    with warehouse.open(s, read_only=True) as con:
        w = W.early_warnings(con, date(2024, 2, 29), None, s)
    assert set(w.skipped) == {"stale", "at_risk"}
    assert "salesml score churn" in w.skipped["at_risk"]
    assert w.count == len(w.drops)


@pytest.mark.parametrize("key,value", [("drop_z", 0), ("drop_weeks", 2), ("max_items", 0), ("churn_min_auc", 0.3),
                                       ("seg_valuable_r", 6), ("dq_quarantine_pct", 120.0), ("fc_outside_steps", 0)])
def test_warning_thresholds_out_of_range_name_their_key(tmp_path, key, value):
    from salesml.config import ConfigError, load_settings

    path = tmp_path / "salesml.toml"
    path.write_text(f"[warnings]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"\[warnings\] {key} must be"):
        load_settings(path)
