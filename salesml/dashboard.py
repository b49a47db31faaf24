"""The workbench as a web page: ``notebooks/explore.ipynb`` served by Voilà on this machine.

``python -m salesml.dashboard [--port 8866] [--scope team:T03] [--lang zh]`` (``make dashboard``)
serves that one notebook, run in a fresh kernel per visitor, with its code hidden. A visitor
works the widgets and nothing else:

* the kernel's websocket passes only widget (comm) messages, kernel info and shutdown: Voilà
  drops ``execute_request`` and every other message type, so no code is sent to the kernel;
* only the one notebook is served (no tree, no contents API, no ``/voila/render/``, no
  terminals), and no file at all under ``/voila/files/`` (an allowlist that matches nothing, a denylist that matches everything);
* the query string cannot pick another template or theme, and errors show no traceback;
* the server listens on 127.0.0.1 only, on the given port or not at all.

Voilà has no notebook parameters, so ``--scope`` and ``--lang`` go into a copy of the notebook
(papermill's injected-parameters cell, not run here) in a private temporary folder, which is
the only folder Voilà knows. The kernels start in the project folder (where the server was
started), so ``config_path = ""`` finds ``./salesml.toml`` there; ``$SALESML_CONFIG`` and
``$SALESML_WAREHOUSE`` reach the kernels unchanged.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from salesml.config import REPORT_LANGS
from salesml.scope import parse_scope

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "explore.ipynb"
DEFAULT_PORT = 8866
HOST = "127.0.0.1"

#: Voilà settings that keep a visitor to the widgets of the one page (see the module's docstring)
LOCKED = (
    "--no-browser",
    f"--Voila.ip={HOST}",
    "--Voila.port_retries=0",  # the port asked for or an error, never a different one silently
    "--VoilaConfiguration.strip_sources=True",
    "--VoilaConfiguration.show_tracebacks=False",
    "--VoilaConfiguration.allow_template_override=NO",
    "--VoilaConfiguration.allow_theme_override=NO",
    # one pattern that matches no name, and one that matches every name: no file is served
    "--VoilaConfiguration.file_allowlist", "(?!)",
    "--VoilaConfiguration.file_denylist", ".*",
    "--VoilaConfiguration.preheat_kernel=False",
    "--VoilaConfiguration.progressive_rendering=False",
)


class DashboardError(ValueError):
    """A parameter the notebook does not declare, or a bad value."""


def notebook_parameters(notebook: Path) -> list[str]:
    """The names the notebook's ``parameters`` cell declares."""
    import papermill

    return list(papermill.inspect_notebook(str(notebook)))


def prepare_notebook(notebook: Path, folder: Path, parameters: dict[str, str]) -> Path:
    """A copy of ``notebook`` in ``folder`` with ``parameters`` injected after its parameters cell."""
    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    declared = notebook_parameters(notebook)
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise DashboardError(f"{notebook.name} has no parameter {', '.join(unknown)} (it has {', '.join(declared)})")
    nb = load_notebook_node(str(notebook))  # papermill's reading: every cell has its tags
    if parameters:
        nb = parameterize_notebook(nb, dict(parameters), report_mode=True)
    target = folder / notebook.name
    nbformat.write(nb, target)
    return target


def voila_argv(notebook: Path, port: int, kernel_dir: Path) -> list[str]:
    """The Voilà command line (without the program name) that serves ``notebook`` locked down."""
    return [
        str(notebook),
        f"--port={port}",
        f"--Voila.root_dir={notebook.parent}",
        # kernels start here (Voilà would start them beside the notebook copy)
        f"--MappingKernelManager.root_dir={kernel_dir}",
        *LOCKED,
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m salesml.dashboard", description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=int(os.environ.get("SALESML_DASHBOARD_PORT") or DEFAULT_PORT))
    p.add_argument("--scope", default="", help="company, region:NAME, team:ID or rep:ID (default: the notebook's)")
    p.add_argument("--lang", default="", help="en or zh (default: the notebook's)")
    p.add_argument("--notebook", type=Path, default=NOTEBOOK, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def chosen_parameters(args: argparse.Namespace) -> dict[str, str]:
    params = {k: v for k, v in (("scope", args.scope), ("lang", args.lang)) if v}
    if "scope" in params:
        parse_scope(params["scope"])  # a typo fails here, not in every visitor's page
    if params.get("lang") not in (None, *REPORT_LANGS):
        raise DashboardError(f"lang must be {' or '.join(REPORT_LANGS)}, not {params['lang']!r}")
    return params


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        params = chosen_parameters(args)
        with tempfile.TemporaryDirectory(prefix="salesml-dashboard-") as folder:
            notebook = prepare_notebook(args.notebook.resolve(), Path(folder), params)
            from voila.app import Voila

            print(f"salesml dashboard: http://{HOST}:{args.port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
            Voila.launch_instance(argv=voila_argv(notebook, args.port, Path.cwd()))
    except (DashboardError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
