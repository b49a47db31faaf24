"""CLI command: rendering report notebooks to HTML (``salesml report NAME | --suite``)."""

from __future__ import annotations

from typing import Annotated

import typer

from salesml.cli.base import (
    ConfigOpt,
    _fail,
    _settings,
    app,
    err,
)


@app.command()
def report(
    names: Annotated[list[str] | None, typer.Argument(help="report notebook(s) in notebooks/, e.g. sales_performance")] = None,
    param: Annotated[list[str] | None, typer.Option("-p", "--param", help="notebook parameter key=value (repeatable)")] = None,
    suite: Annotated[bool, typer.Option("--suite", help="render every report of report.suite in the config")] = False,
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="reports rendered at once, each in its own kernel (default [report] workers; 0 = one per core)", show_default=False)] = None,
    config: ConfigOpt = None,
) -> None:
    """Render report notebooks to HTML under reports/<period>/ and print their paths (in the
    order asked). Several reports render at once (--workers); one that fails does not stop
    the others, and the command then ends with an error naming it."""
    from salesml.reports.runner import render_many, render_workers

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
    n = render_workers(settings, len(todo), workers)
    err.print(f"rendering {', '.join(todo)}" + (f" ({n} at a time)" if n > 1 else "") + " ...", highlight=False)

    def done(name, result) -> None:
        if isinstance(result, Exception):
            err.print(f"  {name} failed", highlight=False)
        else:
            err.print(f"  {name} done in {result.seconds:.1f}s", highlight=False)

    results = render_many(settings, todo, params, workers, on_done=done)
    failed = [r for r in results if isinstance(r, Exception)]
    for result in results:
        if not isinstance(result, Exception):
            typer.echo(str(result.html_path))
    if failed:
        _fail("; ".join(str(e) for e in failed))
