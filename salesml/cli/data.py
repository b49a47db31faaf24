"""CLI commands: data in and out — the demo company, imports, the quarantine, load batches,
the warehouse's tables, SQL and exports (``salesml demo | ingest | quarantine | batches | info |
sql | export``)."""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from salesml.cli.base import (
    ConfigOpt,
    Fmt,
    JsonOrTable,
    Scale,
    _fail,
    _jsonable,
    _post,
    _settings,
    app,
    audited,
    emit,
    err,
    out,
    print_error,
)


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
    import pandas as pd

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


@app.command("audit")
def audit_log(
    since: Annotated[str, typer.Option("--since", help="from this day or time on (YYYY-MM-DD or ISO time)")] = "",
    command: Annotated[str, typer.Option("--command", help="only this command and its kind (e.g. report, train, ingest)")] = "",
    limit: Annotated[int, typer.Option("--limit", min=1, help="the newest N records")] = 200,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """The audit log, newest first: who ran what and when (the login name, or `salesml --as
    NAME`), with which parameters, from which load batches, how it went, how long it took, and
    the file it wrote with its SHA-256 (ingests, report pages, scheduled runs, training, period close and reopen,
    exports, postings)."""
    from salesml import warehouse

    settings = _settings(config)
    where, params = [], {"n": limit}
    if since:
        try:
            params["since"] = datetime.fromisoformat(since)
        except ValueError:
            _fail(f"--since {since!r}: expected a day (YYYY-MM-DD) or an ISO time")
        where.append("logged_at >= $since")
    if command:
        where.append("(command = $cmd OR command LIKE $prefix)")
        params.update(cmd=command, prefix=f"{command} %")
    sql = ("SELECT logged_at, actor, command, status, seconds, params, input_batches, output, output_sha256 FROM audit_log "
           + (f"WHERE {' AND '.join(where)} " if where else "") + "ORDER BY logged_at DESC LIMIT $n")
    with warehouse.open(settings, read_only=True) as con:
        df = con.execute(sql, params).df()
    if fmt != Fmt.table:
        emit(df, fmt.value)
        return
    shown = df.assign(logged_at=df["logged_at"].dt.strftime("%Y-%m-%d %H:%M:%S"), output_sha256=df["output_sha256"].str[:12],
                      seconds=df["seconds"].map(lambda v: "" if v != v or v is None else f"{v:.1f}"))
    emit(shown, "table", title=f"audit log ({settings.warehouse_path.name}, newest first)")


@app.command()
def info(
    fmt: Annotated[JsonOrTable, typer.Option("--format")] = JsonOrTable.table,
    config: ConfigOpt = None,
) -> None:
    """Tables of the warehouse, their row counts and date ranges; whether it is encrypted, and
    its latest backup."""
    from salesml import warehouse
    from salesml.delivery import backup

    settings = _settings(config)
    with warehouse.open(settings, read_only=True) as con:
        df = warehouse.info(con)
    key_env = settings.warehouse.encryption_key_env
    folder = backup.backups_dir(settings)
    backups = backup.list_backups(folder)
    latest = backups.iloc[0] if len(backups) else None
    if fmt == JsonOrTable.json:
        payload = {"warehouse": str(settings.warehouse_path), "encrypted": bool(key_env), "key_env": key_env or None,
                   "latest_backup": None if latest is None else {"path": str(folder / latest["backup"]),
                                                                 "created_at": str(latest["created_at"]), "encrypted": bool(latest["encrypted"])},
                   "tables": _jsonable(df)}
        sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    else:
        emit(df, "table", title=str(settings.warehouse_path))
        said = f"encrypted with the key in ${key_env}" if key_env else "not encrypted ([warehouse] encryption_key_env)"
        said += (f"; latest backup {latest['backup']} ({latest['created_at']})" if latest is not None
                 else f"; no backup in {folder} (salesml backup)")
        err.print(said, highlight=False, markup=False)


@app.command()
def sql(
    statement: Annotated[str, typer.Argument(help="SELECT statement to run on the warehouse")],
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Run read-only SQL on the warehouse (statements that write are refused)."""
    from salesml.api import Warehouse

    df = Warehouse(_settings(config)).sql(statement)
    emit(df, fmt.value)


@app.command()
def export(
    what: Annotated[str, typer.Argument(help="a table (e.g. order_lines, quarantine) or a read-only SELECT query")],
    to: Annotated[Path, typer.Option("--to", help="file to write: .xlsx, .csv or .parquet (by extension)")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="worksheet name of a .xlsx (default: data)")] = None,
    partition_by: Annotated[list[str] | None, typer.Option("--partition-by", help="Parquet only: a folder of Hive partitions by this column (repeatable), e.g. month")] = None,
    config: ConfigOpt = None,
) -> None:
    """Export a table or a query's result to Excel or CSV (formula-safe), or to Parquet (types
    kept, streamed; one file, or with --partition-by a folder a cluster reads), and print the path."""
    from salesml.io.export import export_format
    from salesml.warehouse import export as export_to_file

    settings = _settings(config)
    fmt = export_format(to)
    if sheet is not None and fmt != "xlsx":
        err.print(f"note: --sheet is ignored for a .{fmt} file", highlight=False)
    parts = tuple(partition_by or ())
    with audited(settings, "export", {"what": what, "to": str(to), **({"partition_by": list(parts)} if parts else {})}) as done:
        path, rows, cols = export_to_file(settings, what, to, sheet=sheet or "data", partition_by=parts)
        done.update(output=path, params={"rows": rows, "columns": cols})
    err.print(f"exported {rows:,} rows x {cols:,} columns to {fmt}", highlight=False)
    typer.echo(str(path))
