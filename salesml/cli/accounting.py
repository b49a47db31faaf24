"""CLI commands: performance accounting — figures per period and level, commission
statements, the revenue bridge, reconciliation checks, targets, the ledger's posting and accounting periods
(``salesml perf | kpis | bridge | commission | check | targets | post | period``)."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from salesml.cli.base import (
    ConfigOpt,
    Fmt,
    Level,
    LightGroup,
    _cell,
    _fail,
    _post,
    _settings,
    app,
    emit,
    err,
)


@app.command()
def perf(
    period: Annotated[
        str | None, typer.Option(help="month YYYY-MM or year YYYY (its months together; default: latest complete month)")
    ] = None,
    by: Annotated[Level, typer.Option("--by", help="level of the rows")] = Level.rep,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID")] = "company",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Performance per rep / team / region / company for one month or one year.

    Margin counts the lines that carry a cost: with no cost loaded it is empty, not 0, and
    margin_coverage_pct says what share of revenue the margin covers. A year sums its months'
    money and targets, counts distinct orders and customers over the year and compares with
    the year before; commissions are monthly (`salesml commission`)."""
    from salesml.accounting.performance import is_year, margin_note, parse_perf_period

    asked = parse_perf_period(period) if period else None  # a malformed period fails before any work
    wh, _ = api_handle(config)
    p = asked or wh.latest_period()
    df = wh.perf(p, by.value, scope)
    if fmt == Fmt.table:
        if not period:
            err.print(f"period {p} (latest complete month)", highlight=False)
        hidden = ("period", "gross_sales", "returns", "corrections", "adjustments_margin", "margin", "target_margin",
                  "revenue_prev_month", "revenue_last_year", "projected_revenue", "plan")
        hidden += ("growth_mom_pct",) if is_year(p) else ()  # a year has no previous month
        covered = df["margin_coverage_pct"].isna() | (df["margin_coverage_pct"] >= 99.95)
        cols = [c for c in df.columns if c not in hidden and (c != "margin_coverage_pct" or not covered.all())]
        emit(df[cols], "table", title=f"performance {p} by {by.value} (all columns: --format csv|json)")
        notes = {margin_note(r) for _, r in df.iterrows()} - {None}
        if df["margin"].isna().all() and notes:
            err.print("note: no cost loaded: margin not shown", highlight=False)
        elif notes:
            err.print(f"note: margin counts only the lines with a cost in {int((~covered).sum())} of {len(df)} rows "
                      "(margin_coverage_pct: the share of revenue it covers)", highlight=False)
    else:
        emit(df, fmt.value)


class Compare(StrEnum):
    previous = "previous"
    last_year = "last_year"
    ytd = "ytd"


class BridgeLevel(StrEnum):
    company = "company"
    region = "region"
    team = "team"
    rep = "rep"
    category = "category"


@app.command()
def bridge(
    period: Annotated[str | None, typer.Option(help="month YYYY-MM (default: latest complete month)")] = None,
    compare: Annotated[
        Compare, typer.Option(help="previous: the month before; last_year: the same month a year earlier; ytd: the year to date against the same months a year earlier")
    ] = Compare.previous,
    by: Annotated[BridgeLevel, typer.Option("--by", help="one row per company / region / team / rep / product category")] = BridgeLevel.company,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID")] = "company",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Why net revenue changed: the change split into new customers, lost customers, price,
    volume, mix and returns, which add up to the change to the cent."""
    wh, p = api_handle(config, period)
    df = wh.bridge(p, compare.value, by.value, scope)
    if fmt == Fmt.table:
        if not period:
            err.print(f"period {p} (latest complete month)", highlight=False)
        emit(df, "table", title=f"revenue bridge {p} vs {compare.value} by {by.value}")
    else:
        emit(df, fmt.value)


@app.command()
def commission(
    period: Annotated[str | None, typer.Option(help="month YYYY-MM (default: latest complete month)")] = None,
    rep: Annotated[str | None, typer.Option("--rep", help="only this rep (table: the detailed statement)")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table; json: statements with their lines; csv: one row per rep")] = Fmt.table,
    to: Annotated[
        Path | None,
        typer.Option("--to", help="write the statements to FILE.xlsx (sheets statements, lines) or FILE.csv (+ FILE_lines.csv)"),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Commission statements per rep for one month, under the commission plans of the config file."""
    import pandas as pd

    from salesml.accounting.commissions import statements, statements_json
    from salesml.io.export import export_format, export_frame, export_sheets
    from salesml.scope import Scope

    if to is not None:
        export_format(to)  # a wrong extension fails before any work
    with ledger_reader(config, period) as (settings, con, p):
        if rep is not None and not con.execute("SELECT count(*) FROM reps WHERE rep_id = ?", [rep]).fetchall()[0][0]:
            _fail(f"--rep {rep!r}: no such rep in the hierarchy (`salesml perf --by rep` lists the reps)")
        summary, lines = statements(con, p, settings, Scope("rep", rep) if rep is not None else None)
    if not period:
        err.print(f"period {p} (latest complete month)", highlight=False)
    if summary.empty:
        what = f"{rep} has no ledger entries and no target" if rep is not None else "no rep has ledger entries or a target"
        err.print(f"{what} in {p}: no statement", highlight=False)
    if to is not None:
        if export_format(to) == "xlsx":
            paths = [export_sheets({"statements": summary, "lines": lines}, to)]
        else:
            paths = [export_frame(summary, to), export_frame(lines, to.with_name(f"{to.stem}_lines{to.suffix}"))]
        err.print(f"exported {len(summary):,} statements and {len(lines):,} lines", highlight=False)
        for path in paths:
            typer.echo(str(path))
        return
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(statements_json(summary, lines), ensure_ascii=False, indent=2) + "\n")
        return
    if fmt == Fmt.csv:
        emit(summary, "csv")
        return
    if rep is not None and not summary.empty:
        s = summary.iloc[0]
        head = pd.DataFrame(
            {
                "": ["rep", "plan", "base", "of which adjustments", "target", "attainment", "commission", "note"],
                " ": [
                    f"{s['rep_id']} {s['rep_name'] if pd.notna(s['rep_name']) else ''} ({s['team']}, {s['region']})",
                    s["plan"] if pd.notna(s["plan"]) else "(no plan)",
                    "" if pd.isna(s["base"]) else f"{s['base']:,.2f} (net {s['base_metric']})",
                    _cell(s["base_adjustments"]),
                    _cell(s["target"]) or "(none)",
                    _cell(s["attainment_pct"], "attainment_pct"),
                    _cell(s["commission"]),
                    s["note"] or "",
                ],
            }
        )
        emit(head, "table", title=f"commission statement {p}")
        if len(lines):
            shown = lines.assign(rate_pct=lines["rate"] * 100)[
                ["kind", "description", "band_from_pct", "band_to_pct", "base_in_band", "rate_pct", "amount"]
            ]
            emit(shown, "table")
        return
    cols = ["rep_id", "rep_name", "team", "plan", "revenue", "base", "base_adjustments", "target", "attainment_pct",
            "threshold_effect", "cap_effect", "clawback", "commission", "note"]  # fmt: skip
    shown = summary[cols].assign(plan=summary["plan"].fillna("(no plan)"))
    total = summary["commission"].sum()
    emit(shown, "table", title=f"commission {p}: {len(summary):,} reps, total {total:,.2f} (lines: --rep ID or --format json)")
    unplanned = int(summary["plan"].isna().sum())
    if unplanned:
        err.print(escape(f"{unplanned} rep(s) with no plan: no commission computed (see [commission] in the config)"), highlight=False)


@app.command()
def check(
    period: Annotated[str | None, typer.Option(help="month YYYY-MM (default: latest complete month)")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Reconcile to the cent: order lines = ledger = perf (every level) = statements; closed periods unchanged."""
    from salesml.accounting import checks

    with ledger_reader(config, period) as (settings, con, p):
        df = checks.run(con, p, settings)
    emit(df, fmt.value, title=f"checks {p}")
    if not df["ok"].all():
        _fail(f"{int((~df['ok']).sum())} check(s) failed")


targets_app = typer.Typer(cls=LightGroup, help="Targets: phase yearly targets into months.", no_args_is_help=True)
app.add_typer(targets_app, name="targets")


@targets_app.command("phase")
def targets_phase(
    file: Annotated[Path, typer.Argument(help="yearly targets: CSV with rep_id and/or team and/or region, target_revenue[, target_margin][, year]")],
    year: Annotated[int, typer.Option(help="the year to phase")],
    method: Annotated[str, typer.Option(help="flat, custom or seasonal")] = "flat",
    weights: Annotated[str, typer.Option(help="custom: 12 comma-separated weights, January first")] = "",
    years: Annotated[int, typer.Option(help="seasonal: complete years of sales to learn the profile from")] = 2,
    to: Annotated[Path | None, typer.Option("--to", help="write the monthly targets here (CSV); default: print them")] = None,
    config: ConfigOpt = None,
) -> None:
    """Phase yearly targets into monthly ones (load them with `salesml ingest FILE --table targets`)."""
    import pandas as pd

    from salesml import warehouse
    from salesml.accounting import targets
    from salesml.io import read_csv

    settings = _settings(config)
    raw = read_csv(file).frame.drop(columns=["source_row"])
    yearly = raw.replace("", None)
    for col in ("target_revenue", "target_margin", "year"):
        if col in yearly.columns:
            yearly[col] = pd.to_numeric(yearly[col], errors="raise")
    w = [float(x) for x in weights.split(",")] if weights else None
    profile = None
    if method == "seasonal":
        _post(settings)
        with warehouse.open(settings, read_only=True) as con:
            profile = targets.seasonal_profile(con, year, years)
    monthly = targets.phase(yearly, year, method, weights=w, profile=profile)
    if to:
        from salesml.io.export import export_frame

        path = export_frame(monthly, to)
        err.print(f"{len(monthly)} monthly targets for {year} ({method}); load them with: salesml ingest {to} --table targets", highlight=False)
        typer.echo(str(path))
    else:
        emit(monthly, "csv")


def api_handle(config: Path | None, period: str | None = None):
    """The Python API's handle on the posted warehouse, and the period asked (default: the
    latest complete month): what the reporting commands start with."""
    from salesml.api import Warehouse
    from salesml.periods import parse_period

    settings = _settings(config)
    _post(settings)
    wh = Warehouse(settings)
    return wh, (parse_period(period) if period else wh.latest_period())


@app.command()
def kpis(
    period: Annotated[str | None, typer.Option(help="month YYYY-MM (default: latest complete month)")] = None,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID")] = "company",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """The headline sales KPIs of a month: revenue and growth, new and repeat customers,
    retention, CAC, win rate, sales cycle, pipeline coverage, Pareto share, discount leakage,
    return rate and service. A KPI whose data is not loaded has no value and says why."""
    wh, p = api_handle(config, period)
    df = wh.kpis(p, scope)
    if fmt == Fmt.table:
        if not period:
            err.print(f"period {p} (latest complete month)", highlight=False)
        emit(df[["kpi", "value", "unit", "note"]].fillna(""), "table", title=f"KPIs {p}, {scope}")
    else:
        emit(df, fmt.value)


@contextmanager
def ledger_reader(config: Path | None, period: str | None = None):
    """Settings, a read-only connection on a posted ledger, and the period (default: the
    latest complete month), for the commands that need the package's lower-level functions."""
    wh, p = api_handle(config, period)
    with wh.reader() as con:
        yield wh.settings, con, p


@app.command()
def post(config: ConfigOpt = None) -> None:
    """Post the ledger: append the entries that bring it in line with the loaded order lines."""
    settings = _settings(config)
    _post(settings)


period_app = typer.Typer(cls=LightGroup, help="Accounting periods: close, reopen, status, verify.", no_args_is_help=True)
app.add_typer(period_app, name="period")


@period_app.command("status")
def period_status(fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table, config: ConfigOpt = None) -> None:
    """Every period: open or closed (when, by whom), its ledger totals and adjustments."""
    from salesml import warehouse
    from salesml.accounting import closing

    settings = _settings(config)
    _post(settings)
    with warehouse.open(settings, read_only=True) as con:
        df = closing.status(con)
    emit(df, fmt.value, title="periods")


@period_app.command("close")
def period_close(
    period: Annotated[str, typer.Argument(help="YYYY-MM")],
    reason: Annotated[str, typer.Option(help="why (recorded)")] = "",
    config: ConfigOpt = None,
) -> None:
    """Close a period: post the ledger, then freeze the period's figures."""
    from salesml import warehouse
    from salesml.accounting import closing

    settings = _settings(config)
    _post(settings)
    with warehouse.open(settings) as con:
        snap = closing.close(con, period, warehouse.actor(), reason)
        warehouse.audit(con, "period close", snap)
    err.print(f"closed {period}: {snap['entries']:,} entries, revenue {snap['revenue']:,.2f}, margin {snap['margin']:,.2f}", highlight=False)


@period_app.command("reopen")
def period_reopen(
    period: Annotated[str, typer.Argument(help="YYYY-MM")],
    reason: Annotated[str, typer.Option(help="why the period is reopened (required, recorded)")] = "",
    config: ConfigOpt = None,
) -> None:
    """Reopen a closed period (explicit, recorded with who and why)."""
    from salesml import warehouse
    from salesml.accounting import closing

    settings = _settings(config)
    with warehouse.open(settings) as con:
        result = closing.reopen(con, period, warehouse.actor(), reason)
        warehouse.audit(con, "period reopen", result)
    err.print(f"reopened {period}: {reason}", highlight=False)


@period_app.command("verify")
def period_verify(fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table, config: ConfigOpt = None) -> None:
    """Check that every closed period still has the totals it was closed with."""
    from salesml import warehouse
    from salesml.accounting import closing

    settings = _settings(config)
    with warehouse.open(settings, read_only=True) as con:
        df = closing.verify(con)
    emit(df, fmt.value, title="closed periods")
    if len(df) and not df["unchanged"].all():
        _fail("a closed period's totals changed: " + ", ".join(df.loc[~df["unchanged"], "period"]))
