"""The ``salesml`` command line: parses arguments, calls the package, formats output.

One module per command group — :mod:`~salesml.cli.data` (demo, ingest, quarantine, batches,
info, sql, export), :mod:`~salesml.cli.accounting` (perf, commission, check, targets, post,
period), :mod:`~salesml.cli.reports` (report), :mod:`~salesml.cli.delivery` (schedule),
:mod:`~salesml.cli.backup` (backup, restore), :mod:`~salesml.cli.segments`,
:mod:`~salesml.cli.clv`, :mod:`~salesml.cli.coaching` (scorecard, crosssell, assign),
:mod:`~salesml.cli.models` (train, score, models) and
:mod:`~salesml.cli.forecast` — each registering its commands on the one app of
:mod:`~salesml.cli.base`, which holds what they share (options, formats, output, errors).
They import from ``base`` only (``forecast`` also adds to ``models``' train group): no circle.

Machine formats (``--format json|csv``) print only data on stdout; messages and
progress bars go to stderr. Every command takes ``--config PATH`` (before or after the
command name); ``$SALESML_CONFIG`` and ``$SALESML_WAREHOUSE`` override the config file
and the warehouse path.

Help texts are shown as written: brackets such as ``[sources.NAME]`` or ``[forecast] models``
are text, not rich markup (:func:`literal_help`). Expected failures, and a disk that fills
up during a write, end in one line on stderr and exit code 1 (:func:`main`).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.markup import escape

from salesml.cli.base import app, print_error
from salesml.errors import SalesmlError, disk_full

# the command groups register their commands on `app` as they are imported, in the order of --help
# isort: off
from salesml.cli import data, accounting, reports, delivery, backup, segments, clv, coaching, models, forecast  # noqa: E402,F401
# isort: on

__all__ = ["app", "literal_help", "main"]


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
    try:
        literal_help(typer.main.get_command(app))()
    except SalesmlError as e:
        print_error(str(e))
        sys.exit(1)
    except Exception as e:
        full = disk_full(e)
        if full is None:
            raise
        print_error(str(full))
        sys.exit(1)
