"""A company with walk-in / guest sales: the small demo plus anonymous order lines.

:func:`build` copies the small demo's warehouse and writes, straight into its ledger, an
anonymous copy of every third sale entry (so a quarter of all lines are anonymous, as in one
real export): half with no customer (NULL), half with the configured guest id ``GUEST``; every
fifth of them is half returned 20 days later. It also gives ``GUEST`` a row in ``customers``
(with an owner rep and an acquisition channel) and a service ticket, as a real master file
might. The settings name ``GUEST`` as a source's ``anonymous_customer``.

The expected left-out figures are computed here in plain Python (``Decimal``) from the rows
written and the ledger read with plain SQL, never with salesml.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd

from salesml.accounting.ledger import ensure_posted
from salesml.config import Settings, SourceSettings
from tests.conftest import make_settings

GUEST = "GUEST"
#: every this-many-th sale entry of the demo gets an anonymous copy
EVERY = 3
#: every this-many-th anonymous sale is half returned, this many days later
RETURN_EVERY, RETURN_AFTER = 5, 20

_COLUMNS = [
    "entry_id", "period", "origin_period", "kind", "rep_id", "team", "region", "order_id", "line_no",
    "customer_id", "product_id", "credit_date", "event_date", "share", "amount", "margin", "quantity",
    "reason", "posted_at", "post_id",
]


@dataclass
class Company:
    """The settings of the warehouse with guests (``settings``), of the demo without them
    (``plain``), the anonymous ledger entries written and the whole ledger after writing them
    (both as plain records: dates, ``Decimal`` amounts)."""

    settings: Settings
    plain: Settings
    written: list[dict]
    ledger: list[dict]

    def expected(self, keep) -> dict:
        """Lines, orders and revenue of the anonymous entries ``keep(entry)`` selects, and the
        revenue of every entry it selects."""
        anon = [e for e in self.written if keep(e)]
        return {
            "lines": len({(e["order_id"], e["line_no"]) for e in anon}),
            "orders": len({e["order_id"] for e in anon}),
            "revenue": sum((e["amount"] for e in anon), Decimal("0")),
            "total_revenue": sum((e["amount"] for e in self.ledger if keep(e)), Decimal("0")),
        }

    def known_by(self, as_of: date, team: str | None = None, rep: str | None = None):
        """Entries an RFM or CLV as of ``as_of`` reads: sale and event on or before it (credited
        to a team or a rep)."""
        return lambda e: (
            e["credit_date"] <= as_of
            and (e["event_date"] or e["credit_date"]) <= as_of
            and (team is None or e["team"] == team)
            and (rep is None or e["rep_id"] == rep)
        )

    def happened(self, since: date | None, through: date, team: str | None = None, rep: str | None = None):
        """Entries whose event (else sale) day is in (since, through] (credited to a team or a rep)."""
        return lambda e: (
            (since is None or (e["event_date"] or e["credit_date"]) > since)
            and (e["event_date"] or e["credit_date"]) <= through
            and (team is None or e["team"] == team)
            and (rep is None or e["rep_id"] == rep)
        )


def with_guest_source(settings: Settings) -> Settings:
    return dataclasses.replace(settings, sources={"shop": SourceSettings(anonymous_customer=GUEST)})


def _records(con: duckdb.DuckDBPyConnection, where: str = "TRUE") -> list[dict]:
    rows = con.execute(f"SELECT * FROM ledger WHERE {where} ORDER BY entry_id").fetchall()
    names = [d[0] for d in con.description]
    return [dict(zip(names, r, strict=True)) for r in rows]


def build(small_demo: Settings, root: Path) -> Company:
    shutil.copy(small_demo.warehouse_path, root / "warehouse.duckdb")
    wal = small_demo.warehouse_path.with_name(small_demo.warehouse_path.name + ".wal")
    if wal.exists():  # changes not yet checkpointed into the file
        shutil.copy(wal, root / "warehouse.duckdb.wal")
    settings = with_guest_source(make_settings(root))
    # the session's demo is shared: a test before this one may have loaded lines it did not
    # post; post them here, so that the figures below and the commands' own posting agree
    ensure_posted(settings)
    with duckdb.connect(str(settings.warehouse_path)) as con:
        sales = _records(con, "kind = 'sale'")
        next_id = con.execute("SELECT max(entry_id) FROM ledger").fetchall()[0][0] + 1
        written: list[dict] = []
        for k, e in enumerate(sales[::EVERY]):
            sale = {**e, "entry_id": next_id, "order_id": f"W{e['order_id']}", "customer_id": None if k % 2 == 0 else GUEST,
                    "reason": None, "post_id": "guests"}
            next_id += 1
            written.append(sale)
            if k % RETURN_EVERY == 0:
                back = e["event_date"] + timedelta(days=RETURN_AFTER)
                half = (-e["amount"] / 2).quantize(Decimal("0.01"))
                written.append({
                    **sale, "entry_id": next_id, "kind": "return", "order_id": f"WR{e['order_id']}", "line_no": 1,
                    "event_date": back, "amount": half, "margin": (-e["margin"] / 2).quantize(Decimal("0.01")),
                    "quantity": -e["quantity"] / 2,
                })
                next_id += 1
        frame = pd.DataFrame(written, columns=_COLUMNS).astype({"amount": str, "margin": str, "share": str, "quantity": str})
        con.register("_guests", frame)
        con.execute(
            f"""INSERT INTO ledger ({", ".join(_COLUMNS)}) SELECT entry_id, period, origin_period, kind, rep_id, team, region, order_id,
                      line_no, customer_id, product_id, credit_date, event_date, CAST(share AS DECIMAL(9,6)),
                      CAST(amount AS DECIMAL(18,2)), CAST(margin AS DECIMAL(18,2)), CAST(quantity AS DECIMAL(18,3)),
                      reason, posted_at, post_id FROM _guests"""
        )
        # the order lines the import keeps for them (the ledger entries above are what posting makes of them)
        con.execute(
            """INSERT INTO order_lines (order_id, line_no, order_date, customer_id, product_id, quantity, amount, rep_id,
                                        discount, status, return_of_order_id, return_of_line_no, channel, region, batch_id)
               SELECT g.order_id, g.line_no, g.event_date, g.customer_id, g.product_id, CAST(g.quantity AS DECIMAL(18,3)),
                      CAST(g.amount AS DECIMAL(18,2)), g.rep_id, 0,
                      CASE g.kind WHEN 'sale' THEN 'completed' ELSE 'returned' END,
                      CASE g.kind WHEN 'return' THEN 'W' || substr(g.order_id, 3) END,
                      CASE g.kind WHEN 'return' THEN s.line_no END,
                      'Store', g.region, (SELECT max(batch_id) FROM order_lines)
               FROM _guests g
               LEFT JOIN _guests s ON g.kind = 'return' AND s.kind = 'sale' AND s.entry_id = g.entry_id - 1"""
        )
        con.unregister("_guests")
        owner = con.execute("SELECT min(owner_rep_id) FROM customers").fetchall()[0][0]
        con.execute(
            "INSERT INTO customers (customer_id, name, region, segment, acquisition_channel, first_order_date, owner_rep_id, batch_id) "
            "SELECT ?, 'Walk-in customers', min(region), min(segment), min(acquisition_channel), DATE '2020-01-01', ?, max(batch_id) "
            "FROM customers",
            [GUEST, owner],
        )
        con.execute(
            "INSERT INTO tickets (ticket_id, customer_id, product_id, opened, closed, category, satisfaction, batch_id) "
            "SELECT 'TGUEST', ?, min(product_id), max(opened), max(opened), 'Quality', 1, max(batch_id) FROM tickets",
            [GUEST],
        )
        ledger = _records(con)
    return Company(settings=settings, plain=with_guest_source(small_demo), written=written, ledger=ledger)
