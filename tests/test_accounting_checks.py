"""`salesml check`: order lines, ledger, perf, statements and closed periods agree to the cent."""

from __future__ import annotations

from salesml import warehouse
from salesml.accounting import checks


def test_every_check_passes_on_the_demo_with_closed_months(small_demo):
    with warehouse.connect(small_demo.warehouse_path, read_only=True) as con:
        for period in ("2026-04", "2026-05", "2026-06"):
            df = checks.run(con, period, small_demo)
            assert df["ok"].all(), df[~df["ok"]].to_string()
        closed = checks.run(con, "2026-06", small_demo).set_index("check").loc["closed periods unchanged since their close"]
        assert closed["detail"] == "2026-04, 2026-05"
        adj = checks.run(con, "2026-06", small_demo).set_index("check").loc["perf adjustments 2026-06 = ledger adjustments"]
        assert adj["left"] < 0  # late returns of May, posted in June


def test_a_tampered_closed_period_is_caught(toy):
    from datetime import date

    from salesml.accounting import closing

    with warehouse.connect(toy.warehouse_path) as con:
        closing.close(con, "2024-01", "tester", today=date(2024, 6, 1))
        # what the ledger never does: an entry written straight into a closed period
        con.execute(
            "INSERT INTO ledger SELECT entry_id + 1000, period, origin_period, kind, rep_id, team, region, order_id, line_no, "
            "customer_id, product_id, credit_date, event_date, share, 1.00, 0, quantity, 'tampered', posted_at, post_id, unlinked, line_cost "
            "FROM ledger WHERE period = '2024-01' LIMIT 1"
        )
    with warehouse.connect(toy.warehouse_path, read_only=True) as con:
        df = checks.run(con, "2024-02", toy).set_index("check")
    assert not df.loc["closed periods unchanged since their close", "ok"]
    assert not df.loc["ledger total = order lines (sales + returns), all periods", "ok"]
