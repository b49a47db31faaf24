"""CLI commands: backups (``salesml backup [--to DIR] | backup list | backup verify BACKUP``) and
``salesml restore BACKUP``; the work is :mod:`salesml.delivery.backup`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from salesml.cli.base import ConfigOpt, Fmt, LightGroup, _fail, _settings, app, audited, emit, err

backup_app = typer.Typer(
    cls=LightGroup,
    help="Back up the warehouse and the model registry (no sub-command), list the backups, or verify one.",
    invoke_without_command=True,
)
app.add_typer(backup_app, name="backup")

KeyEnvOpt = Annotated[
    str,
    typer.Option("--key-env", help="the environment variable holding the backup's key (default: [backup] encryption_key_env, else the warehouse's)"),
]


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e5 else f"{n / 1e3:,.1f} kB"


@backup_app.callback()
def backup(
    ctx: typer.Context,
    to: Annotated[Path | None, typer.Option("--to", help="the folder to write the backup into (default: [backup] dir, where old backups are pruned)")] = None,
    wait: Annotated[float, typer.Option("--wait", help="seconds to wait for a process that writes the warehouse")] = 10.0,
    config: ConfigOpt = None,
) -> None:
    """Back up the warehouse (every table, the ledger, batches, quarantine, audit log, closed
    periods) and the model registry into a new folder with a manifest (rows, money totals and
    checksums), encrypted with [backup] encryption_key_env (or the warehouse's key) when set.
    Then remove the backups [backup] keep_daily and keep_monthly no longer keep."""
    if ctx.invoked_subcommand is not None:
        return
    from salesml.delivery import backup as bk

    settings = _settings(config)
    with audited(settings, "backup", {"to": str(to) if to else ""}) as what:
        made = bk.make(settings, to, lock_wait_s=wait)
        what["output"] = str(made.path)
    tables = made.manifest["tables"]
    lines = tables.get("order_lines", {}).get("rows", 0)
    err.print(
        f"backed up {len(tables)} tables ({lines:,} order lines) and {len(made.manifest['models'])} model file(s) to {made.path}: "
        f"{_size(made.bytes)}, {'encrypted' if made.manifest['encrypted'] else 'not encrypted'}, {made.seconds:.1f}s",
        highlight=False, markup=False,
    )
    for p in made.pruned:
        err.print(f"removed {p.name} (older than [backup] keep_daily / keep_monthly keep)", highlight=False, markup=False)
    print(made.path)


@backup_app.command("list")
def backup_list(
    folder: Annotated[Path | None, typer.Argument(help="the folder of backups (default: [backup] dir)")] = None,
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """The backups in a folder, newest first: time, size, encrypted, tables and rows."""
    from salesml.delivery import backup as bk

    settings = _settings(config)
    where = folder or bk.backups_dir(settings)
    emit(bk.list_backups(where), fmt.value, title=f"backups in {where}")


@backup_app.command("verify")
def backup_verify(
    path: Annotated[Path, typer.Argument(help="the backup folder (salesml-backup-...)")],
    key_env: KeyEnvOpt = "",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Check a backup: its files' checksums, a restore into a temporary folder whose every table
    must equal the manifest, then `salesml check` and `salesml period verify` on the copy."""
    from salesml.delivery import backup as bk

    settings = _settings(config)
    result = bk.verify(settings, path, backup_key_env=key_env)
    emit(result.checks, fmt.value, title=f"backup {path.name}: restored in {result.restore_seconds:.1f}s, verified in {result.seconds:.1f}s")
    if not result.ok:
        _fail(f"backup {path} failed {int((~result.checks['ok']).sum())} check(s)")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="the backup folder (salesml-backup-...)")],
    to: Annotated[Path | None, typer.Option("--to", help="write the warehouse here (default: the configured warehouse)")] = None,
    models_to: Annotated[Path | None, typer.Option("--models-to", help="write the model files here (default: the configured registry when restoring the configured warehouse)")] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing warehouse (it is kept aside as <name>.before-restore-<time>)")] = False,
    key_env: KeyEnvOpt = "",
    config: ConfigOpt = None,
) -> None:
    """Rebuild the warehouse and the model registry from a backup, after checking its files;
    every table is compared with the manifest before the warehouse is put in place. The new
    warehouse is encrypted with [warehouse] encryption_key_env when set: restoring is also how
    a warehouse is encrypted or given a new key."""
    from salesml.delivery import backup as bk

    settings = _settings(config)
    done = bk.restore(settings, path, to, models_to=models_to, force=force, backup_key_env=key_env)
    if done.warehouse == settings.warehouse_path:
        with audited(settings, "restore", {"backup": str(path), "force": force}) as what:
            what["output"] = str(done.warehouse)
    if done.kept_aside is not None:
        err.print(f"the warehouse that was there is kept at {done.kept_aside}", highlight=False, markup=False)
    models = (f"; {done.models_written} model file(s) written to {done.models_dir}" + (f" ({done.models_unchanged} already there)" if done.models_unchanged else "")
              if done.models_dir is not None else "; model files not restored (--models-to DIR)")
    err.print(f"restored {done.tables} tables to {done.warehouse} in {done.seconds:.1f}s{models}", highlight=False, markup=False)
