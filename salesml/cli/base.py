"""What every part of the ``salesml`` command line shares: the app, the consoles, the common
options and formats, loading settings, printing frames and errors, posting the ledger.

The command modules of :mod:`salesml.cli` (one per command group) import from here and never
from each other's top, so the command line has no import circle.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable
from typer.core import TyperGroup

from salesml.locations import ENV_ACTOR, ENV_CONFIG

if TYPE_CHECKING:
    import pandas as pd

    from salesml.config import Settings



class _Passing:
    """Typer's coercion of a root option without the pydantic validator typer (>= 0.20)
    builds for every option it processes, even an absent one: building it imports pydantic,
    a third of the time of every ``salesml COMMAND --help``. ``--help`` is a flag (a bool or
    absent); ``--config`` a path or absent."""

    def __init__(self, convert):
        self.convert = convert

    def coerce(self, value, param=None, ctx=None):
        return None if value is None else self.convert(value)


def _light(param, convert):
    if param is not None and hasattr(param, "get_runtime_param"):  # typer >= 0.20 only
        param.get_runtime_param = lambda: _Passing(convert)
    return param


class LightGroup(TyperGroup):
    """A command group (``salesml`` and its sub-groups: ``cls=LightGroup``) whose own
    ``--help`` and ``--config`` (processed before a command below it runs or shows its help)
    are coerced without pydantic (:class:`_Passing`)."""

    #: a group's own options (processed before the command below it) and their conversions:
    #: the root's --config and --as, `salesml backup`'s --to and --wait
    LIGHT_OPTIONS = {"config": Path, "as_user": str, "to": Path, "wait": float}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name in self.LIGHT_OPTIONS:
                _light(param, self.LIGHT_OPTIONS[param.name])

    def get_help_option(self, ctx):
        return _light(super().get_help_option(ctx), bool)


app = typer.Typer(
    name="salesml",
    cls=LightGroup,
    help="Sales analytics and forecasting workbench: performance accounting, customer models and forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

err = Console(stderr=True)
#: tables printed to a pipe or file are not squeezed to 80 columns
out = Console(width=None if sys.stdout.isatty() else 250)


class Fmt(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class JsonOrTable(StrEnum):
    table = "table"
    json = "json"


class Level(StrEnum):
    rep = "rep"
    team = "team"
    region = "region"
    company = "company"


class Scale(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help=f"config file (default ./salesml.toml; env {ENV_CONFIG})", show_default=False),
]

#: reports rendered at once (salesml report, schedule run-due, schedule serve)
RenderWorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", min=0, show_default=False,
                 help="reports rendered at once, each in its own kernel (default [report] workers; 0 = one per core)"),
]


class _State:
    config: Path | None = None


def _settings(config: Path | None) -> Settings:
    from salesml.config import (
        load_settings,  # the package is imported when a command runs, not for --help
    )

    return load_settings(config or _State.config)


def print_error(message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(str(message))}", highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> None:
    print_error(message)
    raise typer.Exit(code)


def _json_value(v):
    import pandas as pd

    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10] if getattr(v, "hour", 0) == 0 and getattr(v, "minute", 0) == 0 else v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    if isinstance(v, float | int | str | bool):
        return v
    return str(v)  # Decimal and anything else: exact text


def _jsonable(df: pd.DataFrame) -> list[dict]:
    """Records with full float precision (repr round-trips), ISO dates, nulls for missing."""
    cols = [str(c) for c in df.columns]
    return [{c: _json_value(v) for c, v in zip(cols, rec, strict=True)} for rec in df.itertuples(index=False, name=None)]


def emit(df: pd.DataFrame, fmt: str, title: str | None = None) -> None:
    """Print a frame: JSON records, CSV, or a readable table."""
    import pandas as pd

    if fmt == "json":
        sys.stdout.write(json.dumps(_jsonable(df), ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        df.to_csv(sys.stdout, index=False)
    else:
        t = RichTable(title=title, show_lines=False, header_style="bold")
        for c in df.columns:
            t.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(df[c]) else "left")
        for rec in df.itertuples(index=False, name=None):
            t.add_row(*[_cell(v, str(c)) for v, c in zip(rec, df.columns, strict=True)])
        out.print(t)


def _cell(v, column: str = "") -> str:
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.1f}%" if column.endswith("_pct") else f"{v:,.2f}"
    return escape(str(v))  # data is text, never rich markup


def _post(settings: Settings) -> None:
    """Bring the ledger up to date with the loads (a note on stderr when it posts)."""
    from salesml.accounting.ledger import ensure_posted

    if not settings.warehouse_path.exists():
        return
    result = ensure_posted(settings)
    if result and result["entries"]:
        kinds = ", ".join(f"{n:,} {k}" for k, n in result["by_kind"].items())
        adj = f"; {result['adjustments']:,} adjustments to closed periods" if result["adjustments"] else ""
        err.print(f"ledger: posted {result['entries']:,} entries ({kinds}){adj}", highlight=False)



def _log(message: str) -> None:
    err.print(message, highlight=False)


@app.callback()
def main_callback(
    config: ConfigOpt = None,
    as_user: Annotated[str | None, typer.Option("--as", help="who the audit log records as running this (default: the login name; env SALESML_AS)", show_default=False)] = None,
) -> None:
    """salesml: run `salesml COMMAND --help` for a command's options."""
    _State.config = config
    if as_user:
        os.environ[ENV_ACTOR] = as_user


@contextmanager
def audited(settings: Settings, command: str, params: dict) -> Iterator[dict]:
    """Record the command in the audit log when the block ends: ok, or failed with its error,
    how long it took, and the file it wrote (set ``what["output"]`` in the block, and
    ``what["params"]`` for what is known only at the end, e.g. the version saved). A record that cannot be written is said on stderr,
    never in place of the command's own result."""
    from salesml import warehouse

    started = time.perf_counter()
    what: dict = {}
    status, error = "ok", None
    try:
        yield what
    except typer.Exit as e:
        if e.exit_code:
            status = "failed"
        raise
    except BaseException as e:
        status, error = "failed", str(e) or type(e).__name__
        raise
    finally:
        try:
            warehouse.record(settings, command, {**params, **what.get("params", {}), **({"error": error} if error else {})}, status=status,
                             seconds=time.perf_counter() - started, output=what.get("output"))
        except Exception as e:  # the warehouse is busy or gone: the command's own outcome stands
            err.print(f"note: not recorded in the audit log: {e}", highlight=False, markup=False)
