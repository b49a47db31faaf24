"""CLI command: rendering report notebooks to HTML (``salesml report NAME | --suite``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from salesml.cli.base import (
    ConfigOpt,
    RenderWorkersOpt,
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
    audience: Annotated[list[str] | None, typer.Option("--audience", help="render once per member: company, each_region, each_team, each_rep or a scope (repeatable); pages go to reports/<period>/<report>/<member>.html", show_default=False)] = None,
    workers: RenderWorkersOpt = None,
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
    if audience:
        _render_for_audience(settings, todo, tuple(audience), params, workers)
        return
    n = render_workers(settings, len(todo), workers)
    err.print(f"rendering {', '.join(todo)}" + (f" ({n} at a time)" if n > 1 else "") + " ...", highlight=False)

    def done(name, result) -> None:
        if isinstance(result, Exception):
            err.print(f"  {name} failed", highlight=False)
        else:
            err.print(f"  {name} done in {result.seconds:.1f}s", highlight=False)

    _print_pages(render_many(settings, todo, params, workers, on_done=done))


def _print_pages(results: list) -> None:
    """The path of each page that rendered, in the order asked; then the failures, if any, as
    the command's error."""
    for result in results:
        if not isinstance(result, Exception):
            typer.echo(str(result.html_path))
    failed = [r for r in results if isinstance(r, Exception)]
    if failed:
        _fail("; ".join(str(e) for e in failed))


def _render_for_audience(settings, names: list[str], audience: tuple[str, ...], params: dict, workers: int | None) -> None:
    """``salesml report NAME --audience A``: one page per member of the audience, as a schedule
    makes them (the hierarchy on the day the report is about: its period's last day, its
    as_of, else the last day with sales)."""
    from salesml.delivery import runs
    from salesml.delivery.schedules import audience_day
    from salesml.reports.runner import check_parameters, last_day, render_jobs

    check_parameters(params)
    last = last_day(settings) if settings.warehouse_path.exists() else ""
    day = audience_day(params, date.fromisoformat(last) if last else date.today())
    pairs = [pair for name in names for pair in runs.audience_jobs(settings, name, audience, params, day)]
    err.print(f"rendering {len(pairs)} page(s) for {', '.join(audience)} ...", highlight=False)
    _print_pages(render_jobs(settings, [job for _, job in pairs], workers,
                             on_done=lambda job, r: err.print(f"  {job.name} {job.parameters.get('scope', 'company')}: "
                                                              + ("failed" if isinstance(r, Exception) else f"{r.seconds:.1f}s"), highlight=False)))
