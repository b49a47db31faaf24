"""What the demo company's raw export files look like, and how they map onto the schema.

The demo writes one CSV per canonical table, with the column headers and codes an
ERP/CRM export would have (``Order No``, ``Qty``, status ``Completed``, regions in
Chinese). It is then loaded through the same mapping-driven ingest path as a user's
files, with the source below. The generator names its headers from ``RAW_COLUMNS`` so
the two cannot drift apart.
"""

from __future__ import annotations

from salesml.config import Settings, SourceSettings, TableSource

SOURCE_NAME = "demo"

#: canonical table -> {canonical column -> header in the raw export}
RAW_COLUMNS: dict[str, dict[str, str]] = {
    "reps": {
        "rep_id": "Employee ID",
        "name": "Name",
        "role": "Role",
        "team": "Team",
        "region": "Region",
        "manager_id": "Manager ID",
        "valid_from": "Valid From",
        "valid_to": "Valid To",
    },
    "products": {
        "product_id": "Item Code",
        "name": "Item Name",
        "category": "Category",
        "brand": "Brand",
        "unit_cost": "Std Cost",
        "list_price": "List Price",
    },
    "customers": {
        "customer_id": "Customer Code",
        "name": "Customer Name",
        "region": "Region",
        "city": "City",
        "segment": "Segment",
        "acquisition_channel": "Acquisition Channel",
        "first_order_date": "First Order Date",
        "owner_rep_id": "Account Owner",
    },
    "order_lines": {
        "order_id": "Order No",
        "line_no": "Line No",
        "order_date": "Order Date",
        "customer_id": "Customer Code",
        "product_id": "Item Code",
        "quantity": "Qty",
        "unit_price": "Unit Price",
        "discount": "Discount",
        "amount": "Net Amount",
        "unit_cost": "Unit Cost",
        "currency": "Currency",
        "status": "Status",
        "rep_id": "Salesperson",
        "channel": "Sales Channel",
        "region": "Region",
        "return_of_order_id": "Return Of Order",
        "return_of_line_no": "Return Of Line",
    },
    "targets": {
        "rep_id": "Employee ID",
        "team": "Team",
        "region": "Region",
        "period": "Month",
        "target_revenue": "Revenue Target",
        "target_margin": "Margin Target",
    },
    "opportunities": {
        "opp_id": "Opportunity ID",
        "customer_id": "Customer Code",
        "rep_id": "Owner",
        "created_date": "Created",
        "stage": "Stage",
        "expected_close": "Expected Close",
        "closed_date": "Closed",
        "amount": "Amount",
        "outcome": "Outcome",
    },
    "inventory": {
        "product_id": "Item Code",
        "warehouse": "Warehouse",
        "snapshot_date": "Snapshot Date",
        "on_hand": "On Hand",
        "on_order": "On Order",
        "lead_time_days": "Lead Time (days)",
    },
    "marketing_spend": {
        "month": "Month",
        "channel": "Channel",
        "spend": "Spend",
    },
    "tickets": {
        "ticket_id": "Ticket No",
        "customer_id": "Customer Code",
        "product_id": "Item Code",
        "opened": "Opened",
        "closed": "Closed",
        "category": "Category",
        "satisfaction": "CSAT",
    },
}

#: the six regions: canonical (English) name -> name in the raw export (Chinese)
REGIONS: dict[str, str] = {
    "East China": "华东",
    "South China": "华南",
    "North China": "华北",
    "Central China": "华中",
    "Southwest China": "西南",
    "Northeast China": "东北",
}

#: codes in the raw export -> canonical values
STATUS_CODES = {"Completed": "completed", "Cancelled": "cancelled", "Returned": "returned"}
ROLE_CODES = {"Sales Rep": "rep", "Team Manager": "manager", "Regional Director": "director"}
OUTCOME_CODES = {"Won": "won", "Lost": "lost", "Open": "open"}

_REGION_VALUES = {local: canonical for canonical, local in REGIONS.items()}

#: canonical table -> {canonical column -> {raw value -> canonical value}}
RAW_VALUES: dict[str, dict[str, dict[str, str]]] = {
    "reps": {"region": _REGION_VALUES, "role": ROLE_CODES},
    "customers": {"region": _REGION_VALUES},
    "order_lines": {"region": _REGION_VALUES, "status": STATUS_CODES},
    "targets": {"region": _REGION_VALUES},
    "opportunities": {"outcome": OUTCOME_CODES},
}

#: file name of each table's export
FILE_NAMES: dict[str, str] = {table: f"{table}.csv" for table in RAW_COLUMNS}


def demo_source(settings: Settings) -> SourceSettings:
    """The ingest source for the demo export files under ``settings.demo.out_dir``."""
    out_dir = settings.path(settings.demo.out_dir)
    return SourceSettings(
        format="csv",
        encoding="auto",  # strict UTF-8, else GB18030 (a dirty demo saves tickets in GB18030)
        # the demo ERP names the sale of every return: one that reverses nothing is a defect
        unlinked_returns="quarantine",
        tables={
            table: TableSource(
                files=(str(out_dir / FILE_NAMES[table]),),
                columns=dict(cols),
                values={k: dict(v) for k, v in RAW_VALUES.get(table, {}).items()},
                date_format=("%Y-%m-%d",),
            )
            for table, cols in RAW_COLUMNS.items()
        },
    )
