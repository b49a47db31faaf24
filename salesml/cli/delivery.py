"""CLI commands: scheduled reports (``salesml schedule list | run-due | serve``)."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

import typer

from salesml.cli.base import (
    ConfigOpt,
    Fmt,
    LightGroup,
    RenderWorkersOpt,
    _fail,
    _settings,
    app,
    audited,
    emit,
    err,
)

schedule_app = typer.Typer(
    cls=LightGroup,
    help="Scheduled reports ([schedules.NAME] in salesml.toml): list them, run what is due, or keep running.",
    no_args_is_help=True,
)
app.add_typer(schedule_app, name="schedule")

NowOpt = Annotated[
    str,
    typer.Option("--now", help="the time to run as, ISO 8601 (e.g. 2026-12-01T06:00+08:00; default: now): replay or test a slot"),
]


def _now(text: str) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--now {text!r}: expected an ISO 8601 time such as 2026-12-01T06:00+08:00")
    return t if t.tzinfo else t.astimezone()  # a time without a zone is the machine's local time


@schedule_app.command("list")
def schedule_list(
    now: NowOpt = "",
    fmt: Annotated[Fmt, typer.Option("--format")] = Fmt.table,
    config: ConfigOpt = None,
) -> None:
    """Each schedule: its report, cron, time zone and audience, the last slot run and how it
    went, the next slot, and the slots missed beyond catch-up."""
    import pandas as pd

    from salesml.delivery import runs

    settings = _settings(config)
    rows = runs.status(settings, _now(now))
    if not rows:
        err.print("no schedules: add a [schedules.NAME] table to salesml.toml (see the README)", highlight=False, markup=False)
    emit(pd.DataFrame([asdict(r) for r in rows], columns=list(runs.ScheduleStatus.__dataclass_fields__)), fmt.value, "schedules")


@schedule_app.command("run-due")
def schedule_run_due(
    now: NowOpt = "",
    workers: RenderWorkersOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what is due, render nothing")] = False,
    config: ConfigOpt = None,
) -> None:
    """Render every slot that is due and not yet done, for each member of its audience, and
    record it. Idempotent: what rendered never renders again, a failure is retried by the next
    call (up to retries). One runner at a time: a second finds the lock taken and does
    nothing. This is what cron or a systemd timer calls. Exit code 1 when a render failed."""
    from salesml.delivery import runs

    settings = _settings(config)

    def done(due, result) -> None:
        what = f"{due.slot.schedule} {due.slot.at.isoformat(timespec='minutes')} {due.audience}"
        if isinstance(result, Exception):
            err.print(f"  failed: {what}: {result}", highlight=False, markup=False)
        else:
            err.print(f"  done: {what} -> {result.html_path} ({result.seconds:.1f}s)", highlight=False, markup=False)

    with audited(settings, "schedule run-due", {"now": now or "now", "dry_run": dry_run}) as what:
        result = runs.run_due(settings, _now(now), workers, dry_run, on_done=done)
        what["params"] = {"due": len(result.done), "failed": len(result.failed), "problems": result.problems,
                          "locked_by_other": result.locked_by_other}
    if result.locked_by_other:
        err.print(f"another run-due is running ({runs.holder(settings) or 'pid unknown'}): nothing done", highlight=False, markup=False)
        return
    for problem in result.problems:
        err.print(f"  cannot run: {problem}", highlight=False, markup=False)
    if dry_run:
        for due, _ in result.done:
            typer.echo(f"{due.slot.schedule}\t{due.slot.at.isoformat(timespec='minutes')}\t{due.audience}\t{due.job.html_path}")
    if result.index is not None:
        err.print(f"index: {result.index}", highlight=False, markup=False)
    n_failed = len(result.failed)
    err.print(f"{len(result.done)} due" + ("" if dry_run else f", {len(result.done) - n_failed} rendered, {n_failed} failed"), highlight=False, markup=False)
    if n_failed or result.problems:
        raise typer.Exit(1)


@schedule_app.command("serve")
def schedule_serve(
    workers: RenderWorkersOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run the schedules in the foreground: run-due now, then at every slot (looking at least
    every [schedule] poll_seconds, so a changed config is picked up). Ctrl-C stops it."""
    from salesml.delivery import runs

    settings = _settings(config)
    err.print(f"serving {len(settings.schedules)} schedule(s); Ctrl-C stops", highlight=False, markup=False)
    try:
        while True:
            settings = _settings(config)
            result = runs.run_due(settings, workers=workers)
            if result.done or result.problems:
                err.print(f"{datetime.now().isoformat(timespec='seconds')}: {len(result.done)} rendered, {len(result.failed)} failed"
                          + (f"; {'; '.join(result.problems)}" if result.problems else ""), highlight=False, markup=False)
            wait = runs.seconds_to_next(settings, datetime.now(UTC))
            time.sleep(max(1.0, min(wait if wait is not None else settings.schedule.poll_seconds, settings.schedule.poll_seconds)))
    except KeyboardInterrupt:
        err.print("stopped", highlight=False, markup=False)
