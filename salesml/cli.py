"""The ``salesml`` command line: parses arguments, calls the package, formats output.

Machine formats (``--format json|csv``) print only data on stdout; messages and
progress bars go to stderr. Every command takes ``--config PATH`` (before or after the
command name); ``$SALESML_CONFIG`` and ``$SALESML_WAREHOUSE`` override the config file
and the warehouse path.

Help texts are shown as written: brackets such as ``[sources.NAME]`` or ``[forecast] models``
are text, not rich markup (:func:`literal_help`). Expected failures, and a disk that fills
up during a write, end in one line on stderr and exit code 1 (:func:`main`).
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape

from salesml.cli_base import (  # noqa: F401 (the names scripts and tests import from salesml.cli)
    ConfigOpt,
    Fmt,
    JsonOrTable,
    Level,
    Scale,
    _cell,
    _fail,
    _json_value,
    _jsonable,
    _log,
    _post,
    _settings,
    _State,
    app,
    emit,
    err,
    out,
    print_error,
)
from salesml.errors import SalesmlError, disk_full


@app.callback()
def main_callback(config: ConfigOpt = None) -> None:
    """salesml: run `salesml COMMAND --help` for a command's options."""
    _State.config = config


@app.command()
def demo(
    scale: Annotated[Scale | None, typer.Option(help="small (~20k lines), medium (~500k), large (~5M); default from config")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed (default from config)")] = None,
    end_date: Annotated[str | None, typer.Option("--end-date", help="last day of data, YYYY-MM-DD (default: yesterday)")] = None,
    load: Annotated[bool, typer.Option(help="load the files into the warehouse after writing them")] = True,
    dirty: Annotated[bool, typer.Option("--dirty/--clean", help="inject known defects into the files (listed in dirty_manifest.json) before loading")] = False,
    config: ConfigOpt = None,
) -> None:
    """Generate the demo company's raw export files and load them into the warehouse."""
    from salesml import warehouse
    from salesml.demo import build_demo

    settings = _settings(config)
    try:
        end = date.fromisoformat(end_date) if end_date else None
    except ValueError:
        _fail(f"--end-date {end_date!r} is not a date of the form YYYY-MM-DD")
    started = time.perf_counter()
    manifest, results = build_demo(
        settings,
        scale=scale.value if scale else None,
        seed=seed,
        end_date=end,
        load=load,
        dirty=dirty,
        progress=True,
        log=lambda msg: err.print(msg, highlight=False),
    )
    if load:
        with warehouse.open(settings) as con:
            warehouse.audit(con, "demo", {"scale": manifest["scale"], "seed": manifest["seed"], "end_date": manifest["end_date"]})
        loaded = sum(r.rows_loaded for r in results)
        skipped = sum(r.skipped for r in results)
        quarantined = sum(r.rows_quarantined for r in results)
        err.print(
            f"warehouse {settings.warehouse_path}: {loaded:,} rows loaded, {quarantined:,} quarantined, "
            f"{skipped} file(s) unchanged ({time.perf_counter() - started:.1f}s in all)",
            highlight=False,
        )


@app.command()
def ingest(
    files: Annotated[list[Path] | None, typer.Argument(help="files to load instead of the source's configured ones")] = None,
    source: Annotated[str, typer.Option("--source", help="name of a [sources.NAME] block in the config, or 'demo'")] = "",
    table: Annotated[list[str] | None, typer.Option("--table", help="only these canonical tables")] = None,
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Load a source into the warehouse and print the reconciliation of every file.

    Every row read is loaded, loaded with recorded fixes, merged (distinct tables) or
    quarantined with a reason; rows and revenue reconcile to the cent.
    """
    from salesml.demo.source import SOURCE_NAME, demo_source
    from salesml.ingest import ingest_source

    settings = _settings(config)
    if not source and files and table and len(table) == 1:
        from salesml.ingest import canonical_source

        src = canonical_source({table[0]: [str(f) for f in files]})  # files in the canonical columns
        source = "files"
    elif not source:
        _fail("name the source: --source NAME (a [sources.NAME] block of the config, or 'demo'), "
              "or give files in the canonical columns with --table TABLE")
    elif source in settings.sources:
        src = settings.sources[source]
    elif source == SOURCE_NAME:
        src = demo_source(settings)
    else:
        known = ", ".join([*settings.sources, SOURCE_NAME])
        _fail(f"no source {source!r} in {settings.config_path or 'the built-in defaults'}; known: {known}")
    results = ingest_source(
        settings, source, src, tables=table or None, files=None if source == "files" else files or None, progress=fmt != JsonOrTable.json
    )
    _post(settings)
    rows = [r.to_dict() for r in results]
    if fmt == JsonOrTable.json:
        sys.stdout.write(json.dumps(rows[0] if len(rows) == 1 else rows, ensure_ascii=False, indent=2, default=str) + "\n")
        return
    df = pd.DataFrame(rows)
    df["file"] = df["path"].map(lambda p: Path(str(p)).name)
    cols = ["batch_id", "table", "file", "rows_read", "rows_loaded", "rows_fixed", "rows_merged", "rows_quarantined",
            "revenue_read", "revenue_loaded", "revenue_quarantined", "skipped"]
    emit(df[cols], "table", title=f"ingest {source}")
    for r in results:
        for note in r.notes:
            out.print(f"  {r.table}: {escape(note)}", highlight=False)
        for reason, n in r.quarantine_reasons.items():
            out.print(f"  {r.table}: quarantined {n:,} × {escape(reason)}", highlight=False)
        if r.rows_read and not r.skipped and r.rows_read != r.rows_loaded + r.rows_quarantined + r.rows_merged:
            print_error(f"{r.path}: rows do not reconcile")  # cannot happen: write_batch refuses
    if any(r.rows_quarantined for r in results):
        out.print("  see the rows: salesml quarantine --batch ID", highlight=False)


@app.command()
def quarantine(
    batch: Annotated[int | None, typer.Option("--batch", help="only this load batch")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    limit: Annotated[int, typer.Option(help="rows shown in table format (csv/json: all)")] = 50,
    config: ConfigOpt = None,
) -> None:
    """Quarantined rows (of loads still in force) with their file, row number and reason."""
    from salesml import warehouse

    settings = _settings(config)
    where = "b.status = 'loaded'" + (" AND q.batch_id = ?" if batch is not None else "")
    sql = f"""
        SELECT q.batch_id, q.table_name AS "table", q.path AS file, q.source_row AS "row", q.reason, q.details, q.record
        FROM quarantine q JOIN load_batches b USING (batch_id)
        WHERE {where} ORDER BY q.batch_id, q.source_row"""
    with warehouse.open(settings, read_only=True) as con:
        if batch is not None and not con.execute("SELECT count(*) FROM load_batches WHERE batch_id = ?", [batch]).fetchall()[0][0]:
            _fail(f"no load batch {batch}; `salesml batches` lists them")
        df = con.execute(sql, [batch] if batch is not None else []).df()
    if fmt != Fmt.table:
        emit(df, fmt.value)
        return
    if df.empty:
        err.print("no quarantined rows", highlight=False)
        return
    shown = df.head(limit).assign(file=lambda d: d["file"].map(lambda p: Path(str(p)).name)).drop(columns=["record"])
    emit(shown, "table", title=f"quarantine ({len(df):,} rows{'' if len(df) <= limit else f', first {limit} shown'})")


@app.command()
def batches(
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    all_: Annotated[bool, typer.Option("--all", help="include batches replaced by a newer version of their file")] = False,
    config: ConfigOpt = None,
) -> None:
    """The loads: one batch per file, with its reconciliation."""
    from salesml import warehouse

    settings = _settings(config)
    sql = f"""
        SELECT batch_id, loaded_at, source, table_name AS "table", path, rows_read, rows_loaded, rows_fixed,
               rows_merged, rows_quarantined, rows_flagged, revenue_read, revenue_loaded, revenue_quarantined,
               status, replaced_by, encoding, content_hash
        FROM load_batches {"" if all_ else "WHERE status = 'loaded'"} ORDER BY batch_id"""
    with warehouse.open(settings, read_only=True) as con:
        df = con.execute(sql).df()
    if fmt != Fmt.table:
        emit(df, fmt.value)
        return
    shown = df.assign(file=df["path"].map(lambda p: Path(str(p)).name), loaded_at=df["loaded_at"].dt.strftime("%Y-%m-%d %H:%M"))
    cols = ["batch_id", "loaded_at", "source", "table", "file", "rows_read", "rows_loaded", "rows_fixed", "rows_merged",
            "rows_quarantined", "revenue_loaded", "status"]
    emit(shown[cols], "table", title=f"load batches ({settings.warehouse_path.name})")


@app.command()
def info(
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Tables of the warehouse, their row counts and date ranges."""
    from salesml import warehouse

    settings = _settings(config)
    with warehouse.open(settings, read_only=True) as con:
        df = warehouse.info(con)
    if fmt == JsonOrTable.json:
        payload = {"warehouse": str(settings.warehouse_path), "tables": _jsonable(df)}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        emit(df, "table", title=str(settings.warehouse_path))


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SELECT statement to run on the warehouse")],
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Run read-only SQL on the warehouse (statements that write are refused)."""
    from salesml import warehouse

    settings = _settings(config)
    df = warehouse.query(settings, statement)
    emit(df, fmt.value)


@app.command()
def perf(
    period: Annotated[str | None, typer.Option(help="month YYYY-MM (default: latest complete month)")] = None,
    by: Annotated[Level, typer.Option("--by", help="level of the rows")] = Level.rep,
    scope: Annotated[str, typer.Option(help="company, region:NAME, team:ID or rep:ID")] = "company",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Performance per rep / team / region / company for one month.

    Margin counts the lines that carry a cost: with no cost loaded it is empty, not 0, and
    margin_coverage_pct says what share of revenue the margin covers."""
    from salesml.accounting.performance import margin_note, performance

    with ledger_reader(config, period) as (settings, con, p):
        df = performance(con, p, by.value, scope, settings.performance, settings.anonymous_customer_ids)
        if by == Level.rep and len(df):
            from salesml.accounting.commissions import statements, with_commission

            summary, _ = statements(con, p, settings, scope if scope != "company" else None)
            df = with_commission(df, summary[["rep_id", "plan", "commission"]], summary)
    if fmt == Fmt.table:
        if not period:
            err.print(f"period {p} (latest complete month)", highlight=False)
        hidden = ("period", "gross_sales", "returns", "corrections", "adjustments_margin", "margin", "target_margin",
                  "revenue_prev_month", "revenue_last_year", "projected_revenue", "plan")
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
def report(
    names: Annotated[list[str] | None, typer.Argument(help="report notebook(s) in notebooks/, e.g. sales_performance")] = None,
    param: Annotated[list[str] | None, typer.Option("-p", "--param", help="notebook parameter key=value (repeatable)")] = None,
    suite: Annotated[bool, typer.Option("--suite", help="render every report of report.suite in the config")] = False,
    config: ConfigOpt = None,
) -> None:
    """Render report notebooks to HTML under reports/<period>/ and print their paths."""
    from salesml.reports.runner import render

    settings = _settings(config)
    todo = list(names or [])
    if suite:
        todo += [n for n in settings.report.suite if n not in todo]
    if not todo:
        _fail("name a report (e.g. `salesml report sales_performance`) or pass --suite")
    params = {}
    for item in param or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"-p {item!r}: expected key=value")
        params[key.strip()] = value
    for name in todo:
        err.print(f"rendering {name} ...", highlight=False)
        result = render(settings, name, params)
        err.print(f"  done in {result.seconds:.1f}s", highlight=False)
        typer.echo(str(result.html_path))


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="a table (e.g. order_lines, quarantine) or a read-only SELECT query")],
    to: Annotated[Path, typer.Option("--to", help="file to write: .xlsx or .csv (by extension)")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="worksheet name of a .xlsx (default: data)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Export a table or a query's result to Excel or CSV (formula-safe) and print the path."""
    from salesml.io.export import export_format
    from salesml.warehouse import export as export_to_file

    settings = _settings(config)
    fmt = export_format(to)
    if sheet is not None and fmt == "csv":
        err.print("note: --sheet is ignored for a .csv file", highlight=False)
    path, rows, cols = export_to_file(settings, what, to, sheet=sheet or "data")
    err.print(f"exported {rows:,} rows x {cols:,} columns to {fmt}", highlight=False)
    typer.echo(str(path))


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


targets_app = typer.Typer(help="Targets: phase yearly targets into months.", no_args_is_help=True)
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


@contextmanager
def ledger_reader(config: Path | None, period: str | None = None):
    """Settings, a read-only connection on a posted ledger, and the period (default: the
    latest complete month): what every reporting command starts with."""
    from salesml import warehouse
    from salesml.periods import latest_complete_period, parse_period

    settings = _settings(config)
    _post(settings)
    with warehouse.open(settings, read_only=True) as con:
        yield settings, con, (parse_period(period) if period else latest_complete_period(con))


@app.command()
def post(config: ConfigOpt = None) -> None:
    """Post the ledger: append the entries that bring it in line with the loaded order lines."""
    settings = _settings(config)
    _post(settings)


period_app = typer.Typer(help="Accounting periods: close, reopen, status, verify.", no_args_is_help=True)
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


# commands defined in their own modules (they import `app` from here)
from salesml import cli_clv, cli_forecast, cli_models, cli_segments  # noqa: E402,F401


def literal_help(command: Any) -> Any:
    """``command`` with every help text of its tree (commands, groups, options, arguments)
    escaped for rich, so that ``[sources.NAME]`` or ``[warehouse] memory_limit`` show as
    written instead of vanishing as markup tags; the panels and layout stay rich's."""
    for attr in ("help", "short_help", "epilog"):
        text = getattr(command, attr, None)
        if text:
            setattr(command, attr, escape(text))
    for param in command.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
    for sub in (getattr(command, "commands", None) or {}).values():  # a group's commands
        literal_help(sub)
    return command


def main() -> None:
    """Entry point: expected errors become one clear line on stderr and exit code 1; so does
    a write that finds the disk full (naming the file), whatever raised it."""
    # `python -m salesml.cli` runs this file as __main__: use the app that the command
    # modules registered on (salesml.cli's), not this copy's
    from salesml import cli as registered

    try:
        literal_help(typer.main.get_command(registered.app))()
    except SalesmlError as e:
        print_error(str(e))
        sys.exit(1)
    except Exception as e:
        full = disk_full(e)
        if full is None:
            raise
        print_error(str(full))
        sys.exit(1)


if __name__ == "__main__":
    main()
