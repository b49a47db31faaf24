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
