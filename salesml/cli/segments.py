"""CLI commands: customer segments (RFM, clusters, migration). Registered on ``salesml.cli.app`` when salesml.cli is imported.

``salesml segments`` reads through the Python API (:mod:`salesml.api`), which loads no model
library for it (no scikit-learn): it starts in about a second.
"""

from __future__ import annotations

from typing import Annotated

import typer

from salesml.cli.base import ConfigOpt, Fmt, _post, _settings, app, emit, err


@app.command()
def segments(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="day YYYY-MM-DD (default: the last day of the latest complete month)")
    ] = None,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID (only the customers credited to it)")] = "company",
    fmt: Annotated[Fmt, typer.Option("--format", help="csv / json: one row per customer; table: the segments")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """RFM scores and segments of the customers as of a day (segment map: [segments] in the config).

    Anonymous (walk-in / guest) sales are in no segment: how many order lines and how much
    revenue that leaves out is said on stderr."""
    from salesml.api import Warehouse
    from salesml.customers.rfm import default_as_of, left_out, parse_as_of, segment_summary

    settings = _settings(config)
    day = parse_as_of(as_of) if as_of else None  # a malformed date fails before any work
    _post(settings)
    wh = Warehouse(settings)
    with wh.reader() as con:
        day = day or default_as_of(con)
        anonymous = left_out(con, day, scope, settings)
    table = wh.segments(day, scope)
    if anonymous:
        err.print(f"{anonymous.text('the segments')} (as of {day}, {scope})", highlight=False)
    if fmt != Fmt.table:
        emit(table, fmt.value)
        return
    if not as_of:
        err.print(f"as of {day} (the last day of the latest complete month)", highlight=False)
    summary = segment_summary(table, settings.segments)
    shown = summary[
        ["segment", "customers", "share_pct", "revenue", "revenue_share_pct", "recency_days_median", "frequency_median", "monetary_median"]
    ]
    emit(shown, "table", title=f"segments as of {day}, {scope}: {len(table):,} customers (per customer: --format csv|json)")
