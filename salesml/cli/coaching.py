"""CLI commands: coaching and recommendations — a rep's scorecard against the team
(``salesml scorecard``), products to offer each customer (``salesml crosssell``) and owners
suggested for unowned customers and leads (``salesml assign``). Registered on
``salesml.cli.app`` when salesml.cli is imported; ``salesml train crosssell`` is in
:mod:`salesml.cli.models`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from salesml.cli.base import ConfigOpt, Fmt, _fail, _post, _settings, app, emit, err

ToOpt = Annotated[Path | None, typer.Option("--to", help="write the table to FILE.xlsx or FILE.csv (formulas never run)")]


def _write(df, to: Path, what: str) -> None:
    from salesml.io.export import export_frame

    path = export_frame(df, to)
    err.print(f"exported {len(df):,} {what}", highlight=False)
    typer.echo(str(path))


@app.command()
def scorecard(
    period: Annotated[str | None, typer.Option(help="month YYYY-MM (default: latest complete month)")] = None,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID")] = "company",
    findings: Annotated[bool, typer.Option("--findings", help="list the strengths and gaps instead of the figures")] = False,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    to: ToOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Each rep against the median of the team's other reps: win rate, sales cycle, average
    order, discount depth, product mix, return rate, retention and attainment trend
    (thresholds in [scorecard])."""
    from salesml import warehouse
    from salesml.accounting import scorecard as SC
    from salesml.io.export import export_format
    from salesml.periods import latest_complete_period, parse_period

    if to is not None:
        export_format(to)
    settings = _settings(config)
    _post(settings)
    with warehouse.open(settings, read_only=True) as con:
        p = parse_period(period) if period else latest_complete_period(con)
        card = SC.scorecard(con, p, scope, settings.scorecard, settings.performance, settings.anonymous_customer_ids)
    for note in card.attrs.get("notes", []):
        err.print(f"note: {note}", highlight=False)
    df = SC.findings(card, settings.scorecard) if findings else card
    if to is not None:
        _write(df, to, "findings" if findings else "scorecards")
        return
    if fmt != Fmt.table:
        emit(df, fmt.value)
        return
    if findings:
        cols = ["rep_id", "code", "value", "peer_value", "difference", "difference_unit", "direction"]
        emit(df[cols], "table", title=f"strengths and gaps {p}, {scope} (all columns: --format csv|json)")
    else:
        cols = ["rep_id", "rep_name", "team", "peers", "win_rate_pct", "sales_cycle_days", "aov", "discount_pct",
                "return_rate_pct", "retention_pct", "attainment_pct"]
        emit(df[[c for c in cols if c in df.columns]], "table", title=f"scorecards {p}, {scope} (peers' medians: --format csv|json)")


@app.command()
def crosssell(
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID (only the customers credited to it)")] = "company",
    as_of: Annotated[str | None, typer.Option("--as-of", help="day YYYY-MM-DD (default: the last sale)")] = None,
    customer: Annotated[str | None, typer.Option("--customer", help="only this customer")] = None,
    k: Annotated[int | None, typer.Option("--k", min=1, help="suggestions per customer (default [crosssell] top_k)")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    to: ToOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Products to offer each customer, not yet bought: from the products bought together
    (association rules), else from the customer's own category mix. `salesml train crosssell`
    backtests them against best-sellers."""
    from salesml import warehouse
    from salesml.customers import crosssell as X
    from salesml.io.export import export_format

    if to is not None:
        export_format(to)
    settings = _settings(config)
    _post(settings)
    with warehouse.open(settings, read_only=True) as con:
        day = X.data_end(con) if as_of is None else as_of
        if day is None:
            _fail("the ledger holds no sales: nothing to recommend from")
        recs = X.recommendations(con, day, scope, settings, k)
        names = con.execute("SELECT product_id, name AS product_name FROM products").df()
    if customer is not None:
        recs = recs[recs["customer_id"] == customer]
        if recs.empty:
            _fail(f"--customer {customer!r}: no suggestions (not a customer of {scope}, or nothing left to offer)")
    recs = recs.merge(names, on="product_id", how="left")
    if to is not None:
        _write(recs, to, "suggestions")
    elif fmt != Fmt.table:
        emit(recs, fmt.value)
    else:
        run = X.latest_run(settings)
        if run is None:
            err.print("note: not backtested yet: `salesml train crosssell` measures these suggestions against best-sellers", highlight=False)
        emit(recs.head(60), "table", title=f"suggestions as of {day}, {scope}: {recs['customer_id'].nunique():,} customers (all: --format csv|json)")


@app.command()
def assign(
    scope: Annotated[str, typer.Option(help="company, region:NAME or team:ID (a rep assigns nobody)")] = "company",
    as_of: Annotated[str | None, typer.Option("--as-of", help="day YYYY-MM-DD (default: the last day of sales)")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    to: ToOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Owners suggested for customers without one (no owner, or an owner who left) and for
    open leads without a rep, by the rules of [assignment] (region, capacity, segment fit,
    past results): a table a manager can accept."""
    from salesml import warehouse
    from salesml.customers.assignment import assignment_suggestions
    from salesml.io.export import export_format

    if to is not None:
        export_format(to)
    settings = _settings(config)
    _post(settings)
    with warehouse.open(settings, read_only=True) as con:
        df = assignment_suggestions(con, as_of, scope, settings)
    for note in df.attrs.get("notes", []):
        err.print(f"note: {note}", highlight=False)
    if to is not None:
        _write(df, to, "suggestions")
    elif fmt != Fmt.table:
        emit(df, fmt.value)
    elif df.empty:
        err.print(f"nobody to assign in {scope}: every customer and open lead has an active owner", highlight=False)
    else:
        cols = ["kind", "customer_id", "opp_id", "name", "region", "value", "reason", "suggested_rep_id", "suggested_rep_name", "score",
                "alt_rep_id"]
        emit(df[cols], "table", title=f"owners suggested, {scope} (the rules' shares of each score: --format csv|json)")
