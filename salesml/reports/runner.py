"""Render report notebooks: papermill (in-process) -> nbconvert HTML, code hidden.

``render(settings, "sales_performance", {"scope": "team:T03"})`` runs
``notebooks/sales_performance.ipynb`` with those parameters and writes
``reports/<period>/sales_performance.html`` (``..._team-T03.html`` for a narrower scope)
and a JSON sidecar with the parameters and the figures the notebook recorded.

Success is decided by the exception, never by an output file existing: papermill
saves a partial notebook on a timeout or a dead kernel. Every cell has a time limit.

Output paths are made of parameters, so every parameter is checked before any path is made
(:func:`check_parameters`: ``period`` and ``load_period`` YYYY-MM, ``as_of`` YYYY-MM-DD, ``scope``
with a name free of path separators, ``freq``, ``version``, counts; the report's name too), and
the final path must lie inside ``[report] output_dir``. Pages are written atomically (a
temporary file renamed into place): a full disk leaves no partial page and no temporary file,
and the error names the page. A temporary file is owner-only (0600) while it is written; a page
is then given the permissions of any new file, since it is meant to be read, but the executed
notebook of a failed run stays owner-only, and so do the ``_failed`` folders made for it (0700).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import json
import logging
import os
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import nbformat

from salesml import warehouse
from salesml.accounting.ledger import ensure_posted
from salesml.compute import available_cores
from salesml.config import REPORT_LANGS, Settings
from salesml.errors import SalesmlError, disk_full
from salesml.forecast.panels import FREQS
from salesml.io.export import private_folders, shared_mode, temp_beside
from salesml.periods import PeriodError, latest_complete_period, parse_period, period_bounds
from salesml.reports.html import FIGURES_MIME
from salesml.scope import ScopeError, parse_scope

PLOTLY_FILE = "plotly.min.js"


class ReportError(SalesmlError, RuntimeError):
    """A report could not be rendered; the message says which cell failed and why."""


@dataclass
class RenderResult:
    name: str
    html_path: Path
    parameters: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["html_path"] = str(self.html_path)
        return d


#: a report's name: the notebook's file name without .ipynb (it names the page too)
_REPORT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_VERSION = re.compile(r"^v\d+$")
#: what a scope's name may not hold, as it becomes part of a file name: a path separator, a
#: "..", a control character
_UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]|\.\.")
#: parameters that count something (never negative)
_COUNTS = ("batch", "horizon", "workers")


def check_report_name(name: str) -> str:
    """A report name is a notebook's file name: letters, digits, ``_`` and ``-`` only."""
    if not isinstance(name, str) or not _REPORT_NAME.match(name):
        raise ReportError(
            f"report name {name!r}: use the name of a notebook in the notebooks folder "
            "(letters, digits, _ and -, e.g. sales_performance)"
        )
    return name


def check_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """The parameters with each one that a page's folder or file name is made of, or that has
    a fixed form, checked: ``period`` / ``load_period`` YYYY-MM, ``as_of`` YYYY-MM-DD, ``scope``
    ``company | region:NAME | team:ID | rep:ID`` whose name holds no path separator, ``..`` or
    control character, ``freq`` one of D, W, M, ``version`` vNNNN, ``batch`` / ``horizon`` /
    ``workers`` 0 or more, ``lang`` en or zh (text is left to :func:`coerce_parameters`). Empty values (the
    report's defaults) pass. A bad value is a
    :class:`ReportError` naming the parameter; returns the parameters with dates trimmed."""
    out = dict(params)
    for name, value in params.items():
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        text = str(value).strip()
        if name in ("period", "load_period"):
            try:
                out[name] = parse_period(text)
            except PeriodError:
                raise ReportError(f"parameter {name}: {value!r} is not a month of the form YYYY-MM (e.g. 2026-10)") from None
        elif name == "as_of":
            try:
                if not _DAY.match(text):
                    raise ValueError(text)
                out[name] = date.fromisoformat(text).isoformat()
            except ValueError:
                raise ReportError(f"parameter as_of: {value!r} is not a day of the form YYYY-MM-DD (e.g. 2026-10-31)") from None
        elif name == "scope":
            try:
                sc = parse_scope(text)
            except ScopeError as e:
                raise ReportError(f"parameter scope: {e}") from None
            if sc.value is not None and _UNSAFE_NAME.search(sc.value):
                raise ReportError(
                    f"parameter scope: {value!r}: a {sc.level} name may not contain '/', '\\', '..' or control characters"
                )
        elif name == "lang":
            if text not in REPORT_LANGS:
                raise ReportError(f"parameter lang: {value!r} is not one of {', '.join(REPORT_LANGS)}")
        elif name == "freq":
            if text.upper() not in FREQS:
                raise ReportError(f"parameter freq: {value!r} is not one of {', '.join(FREQS)}")
        elif name == "version":
            if not _VERSION.match(text):
                raise ReportError(f"parameter version: {value!r} is not a model version of the form vNNNN (e.g. v0003)")
        elif name in _COUNTS and not isinstance(value, str) and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ReportError(f"parameter {name}: must be a whole number 0 or more, got {value!r}")
    return out


def notebook_path(settings: Settings, name: str) -> Path:
    check_report_name(name)
    folder = settings.path(settings.report.notebooks_dir)
    path = folder / f"{name}.ipynb"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.ipynb")) if folder.is_dir() else []
        raise ReportError(f"no report notebook {path}; available: {', '.join(known) or 'none'}")
    return path


def declared_parameters(path: Path) -> dict[str, dict[str, Any]]:
    """The notebook's parameters cell: name -> {default, type} (papermill's inference)."""
    import papermill

    params = papermill.inspect_notebook(str(path))
    if not params:
        raise ReportError(f"{path}: no cell tagged 'parameters'")
    out = {}
    for name, p in params.items():
        kind = (p.get("inferred_type_name") or "None").lower()
        if kind == "none":  # no annotation: the type of the default literal
            try:
                kind = type(ast.literal_eval(p.get("default") or "None")).__name__.lower()
            except (ValueError, SyntaxError):
                kind = "none"
        out[name] = {"default": p.get("default"), "type": "none" if kind == "nonetype" else kind}
    return out


def coerce_parameters(path: Path, raw: dict[str, Any]) -> dict[str, Any]:
    """Check names against the parameters cell and convert text by the declared type.

    IDs stay text: ``-p scope=rep:007`` is the string it was given (papermill's own CLI
    would turn ``007`` into 7).
    """
    declared = declared_parameters(path)
    out = {}
    for name, value in raw.items():
        if name not in declared:
            raise ReportError(
                f"{path.name}: unknown parameter {name!r}; its parameters are: {', '.join(declared)}"
            )
        kind = declared[name]["type"]
        if not isinstance(value, str) or kind in ("str", "none"):
            out[name] = value
            continue
        try:
            if kind == "int":
                out[name] = int(value)
            elif kind == "float":
                out[name] = float(value)
            elif kind == "bool":
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                out[name] = value.lower() in ("true", "1", "yes")
            else:
                out[name] = value
        except ValueError:
            raise ReportError(f"{path.name}: parameter {name} must be {kind}, got {value!r}") from None
    return out


def recorded_figures(nb: nbformat.NotebookNode) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if FIGURES_MIME in data:
                payload = data[FIGURES_MIME]
                figures.update(json.loads(payload) if isinstance(payload, str) else payload)
    return figures


def _cell_error(nb: nbformat.NotebookNode) -> str:
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
    return "unknown error"


def write_files(files: dict[Path, str | bytes], *, private: bool = False) -> None:
    """Write every file completely or none of them: each to an owner-only temporary file beside
    it, then all renamed into place, with the permissions of any new file (pages, their
    sidecars, indexes are meant to be read), or owner-only (0600) if ``private``. On a failure
    (a full disk) the temporary files are removed, the files keep what they held, and a full
    disk is a DiskFullError naming the file."""
    temps: dict[Path, Path] = {}
    current = None
    mode = None if private else shared_mode()
    try:
        for path, content in files.items():
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = temps[path] = temp_beside(path)
            if isinstance(content, bytes):
                tmp.write_bytes(content)
            else:
                tmp.write_text(content, encoding="utf-8")
            if mode is not None:
                os.chmod(tmp, mode)
        for path, tmp in temps.items():
            current = path
            tmp.replace(path)
    except OSError as e:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        full = disk_full(e, current)
        if full is not None:
            raise full from None
        raise
    except BaseException:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
        raise


def _plotly_tag(settings: Settings, html_path: Path) -> str:
    from plotly.offline import get_plotlyjs

    if settings.report.plotlyjs == "inline":
        return f'<script type="text/javascript">{get_plotlyjs()}</script>'
    shared = settings.path(settings.report.output_dir) / PLOTLY_FILE
    if not shared.exists():
        write_files({shared: get_plotlyjs()})
    rel = os.path.relpath(shared, html_path.parent)
    return f'<script type="text/javascript" src="{rel}"></script>'


#: nbconvert templates of the report pages (``salesml``: JupyterLab's page without the scripts
#: it would fetch from public CDNs)
TEMPLATES = Path(__file__).with_name("templates")


def to_html(nb: nbformat.NotebookNode, title: str, plotly_tag: str) -> str:
    """Export an executed notebook as a page without code, with plotly.js loaded once and no
    request to any other server (no require.js, MathJax or mermaid from a CDN)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            extra_template_basedirs=[str(TEMPLATES)], template_name="salesml")
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    if "Plotly.newPlot" in body:
        body = body.replace("</head>", plotly_tag + "\n</head>", 1)
    return body


def _failed(name: str, where: str, nb: nbformat.NotebookNode | None, failed: Path) -> ReportError:
    """The error of a report that failed in a cell, its executed notebook kept at ``failed``
    with the error in its metadata (``salesml.error``)."""
    message = f"report {name} failed in {where}"
    if nb is not None:
        nb.metadata["salesml"] = {"error": message}
        _failed_folder(failed)
        write_files({failed: nbformat.writes(nb)}, private=True)  # it holds whatever the page showed
    return ReportError(f"{message} (executed notebook kept at {failed})")


def _failed_folder(failed: Path) -> None:
    """Make the folder a failed run's notebook goes in: below a ``_failed`` folder
    (:func:`audience_failed_path`), the folders made from ``_failed`` down owner-only (0700);
    beside the page, the page's folder as usual (the pages to come are read from it)."""
    parts = failed.parent.parts
    if FAILED_DIR in parts:
        top = Path(*parts[: len(parts) - parts[::-1].index(FAILED_DIR)])
        private_folders(failed.parent, top)


def _execute(settings: Settings, name: str, path: Path, params: dict[str, Any], failed: Path) -> nbformat.NotebookNode:
    """Run the notebook with papermill in a kernel of its own; the executed notebook."""
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    logging.getLogger("papermill").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="salesml-report-") as tmp:
        executed = Path(tmp) / f"{name}.ipynb"
        try:
            papermill.execute_notebook(
                str(path),
                str(executed),
                parameters=params,
                kernel_name=settings.report.kernel,
                progress_bar=False,
                log_output=False,
                cwd=str(settings.root),
                execution_timeout=settings.report.cell_timeout_s,
                request_save_on_cell_execute=False,
                # local sockets in the temp folder: no open TCP ports, no warning about them;
                # the kernel's own log quiet: jupyter_client interrupts every kernel it shuts
                # down, and the kernel logs the interrupt as an error ("KeyboardInterrupt caught
                # in kernel") on our stderr (a failing cell or a dead kernel is still an error here)
                config=Config({"KernelManager": {"transport": "ipc", "ip": str(Path(tmp) / "kernel")},
                               "NotebookClient": {"extra_arguments": KERNEL_ARGUMENTS}}),
            )
        except PapermillExecutionError as e:
            nb = nbformat.read(executed, as_version=4) if executed.exists() else None
            raise _failed(name, f"cell {e.exec_count}: {e.ename}: {e.evalue}", nb, failed) from None
        except Exception as e:  # timeout, dead kernel, missing kernel, a full disk...
            raise _incomplete(name, e) from None
        return nbformat.read(executed, as_version=4)


def _incomplete(name: str, e: Exception) -> Exception:
    """The error of a run that did not complete (a timeout, a dead or missing kernel): a full
    disk as the error naming its file, anything else as a :class:`ReportError`."""
    return disk_full(e) or ReportError(f"report {name} did not complete: {type(e).__name__}: {e}")


#: the report kernels' own log, quiet (see _execute)
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
#: the tag of the cell a warm kernel runs first on every page (and that the page leaves out)
RESET_TAG = "salesml-reset"


def _without_reset(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without the reset cell a warm kernel runs first (changed in place)."""
    nb.cells = [c for c in nb.cells if RESET_TAG not in c.metadata.get("tags", [])]
    return nb


class WarmKernel:
    """A kernel kept from one page to the next (``render_jobs`` with ``[report] warm_kernels``):
    started with the first page, it keeps the modules that page imported, so the next page
    skips starting a kernel and importing the stack. Before each page it clears every name the
    previous page defined (``%reset -f``, a first cell the page leaves out): nothing one page
    computed is there for the next. A page that fails in any way ends the kernel; the next
    page starts a new one. Use from one thread; ``close`` when done."""

    def __init__(self) -> None:
        self._tmp: str | None = None  # the kernel's sockets and connection file, removed with it
        self.km = None
        self.pages = 0

    def execute(self, settings: Settings, name: str, path: Path, params: dict[str, Any], failed: Path) -> nbformat.NotebookNode:
        from jupyter_client.manager import AsyncKernelManager
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        nb = parameterize_notebook(load_notebook_node(str(path)), params)  # the parameters as papermill injects them
        nb.cells.insert(0, nbformat.v4.new_code_cell("%reset -f", metadata={"tags": [RESET_TAG]}))
        if self.km is None:
            self._tmp = tempfile.mkdtemp(prefix="salesml-kernel-")
            self.km = AsyncKernelManager(kernel_name=settings.report.kernel, transport="ipc", ip=str(Path(self._tmp) / "kernel"),
                                         connection_file=str(Path(self._tmp) / "kernel.json"))
        client = NotebookClient(nb, km=self.km, timeout=settings.report.cell_timeout_s, kernel_name=settings.report.kernel,
                                extra_arguments=KERNEL_ARGUMENTS, resources={"metadata": {"path": str(settings.root)}})
        try:
            client.execute(cwd=str(settings.root))
        except CellExecutionError as e:
            self.close()
            _without_reset(nb)
            index = next((i for i, c in enumerate(nb.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))), None)
            raise _failed(name, f"cell {index}: {e.ename}: {e.evalue}", nb, failed) from None
        except Exception as e:  # timeout, a dead kernel...
            self.close()
            raise _incomplete(name, e) from None
        finally:
            atexit.unregister(client._cleanup_kernel)  # the kernel is ours to end, not the client's at exit
            if client.kc is not None:
                client.kc.stop_channels()
        self.pages += 1
        return _without_reset(nb)

    def close(self) -> None:
        """End the kernel (if one runs)."""
        from jupyter_core.utils import run_sync

        km, self.km = self.km, None
        if km is not None and km.has_kernel:
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)
            with contextlib.suppress(Exception):
                run_sync(km.cleanup_resources)()
        tmp, self._tmp = self._tmp, None
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def output_path(settings: Settings, name: str, params: dict[str, Any]) -> Path:
    """``<output_dir>/<period, as_of's month, or today>/<name>[_<scope>][_batch-N][_<load period>][_<lang>].html``
    (``_<lang>`` when a ``lang`` parameter asks for another language than ``[report] lang``).

    The name and parameters are checked first (:func:`check_parameters`), and the path, once
    resolved, must lie inside ``[report] output_dir``, whatever the values."""
    check_report_name(name)
    params = check_parameters(params)
    root = settings.path(settings.report.output_dir)
    folder = root / _dated_folder(params)
    suffix = ""
    if params.get("scope"):
        sc = parse_scope(params["scope"])
        if sc.level != "company":
            suffix += f"_{sc.slug}"
    if params.get("batch"):
        suffix += f"_batch-{int(params['batch'])}"
    if params.get("load_period"):
        suffix += f"_{params['load_period']}"
    if params.get("lang") and params["lang"] != settings.report.lang:  # a page in the other language sits beside
        suffix += f"_{params['lang']}"
    return _inside(folder / f"{name}{suffix}.html", root, name)


def _dated_folder(params: dict[str, Any], day: date | None = None) -> str:
    """The folder a page is dated by: its period, its as_of's month, else ``day`` (today)."""
    month = params.get("period") or (str(params["as_of"])[:7] if params.get("as_of") else "")
    return month or (day or date.today()).isoformat()


def _inside(path: Path, base: Path, name: str) -> Path:
    """``path``, which parameters made, once it is known to lie inside ``base``."""
    if not path.resolve().is_relative_to(base.resolve()):
        raise ReportError(f"report {name}: its page {path} would lie outside the reports folder {base.resolve()}; check the parameters")
    return path


#: reports whose default as-of is the last day with sales (a forecast uses every day there is;
#: a partial week or month is named in it; churn scores who is at risk now, with a model whose
#: labels end by then), not the latest complete month's last day
LAST_DAY_REPORTS = ("sales_forecast", "churn_risk")


def last_day(settings: Settings) -> str:
    with warehouse.open(settings, read_only=True) as con:
        last = con.execute("SELECT max(credit_date) FROM ledger").fetchall()[0][0]
    return last.isoformat() if last is not None else ""


def _default_period(settings: Settings) -> str:
    with warehouse.open(settings, read_only=True) as con:
        return latest_complete_period(con)


def render(settings: Settings, name: str, parameters: dict[str, Any] | None = None, *, post: bool = True,
           html_path: Path | None = None, kernel: WarmKernel | None = None, failed_path: Path | None = None) -> RenderResult:
    """Run one report notebook and write its HTML; raise :class:`ReportError` on failure.
    ``post``: bring the ledger up to date first (``render_jobs`` does it once for all);
    ``html_path``: where the page goes (default :func:`output_path`; it must lie inside
    ``[report] output_dir`` or be made by :func:`audience_path`); ``kernel``: run it in this
    warm kernel (default: papermill in a kernel of its own); ``failed_path``: where the executed
    notebook of a failed run is kept (default: beside the page, ``NAME.failed.ipynb``)."""
    started = time.perf_counter()
    path = notebook_path(settings, name)
    check_parameters(dict(parameters or {}))  # before anything is read or written
    if post and settings.warehouse_path.exists():
        ensure_posted(settings)
    params = check_parameters(coerce_parameters(path, dict(parameters or {})))
    declared = declared_parameters(path)
    if "config_path" in declared and not params.get("config_path"):
        params["config_path"] = str(settings.config_path) if settings.config_path else ""
    if "warehouse" in declared and not params.get("warehouse"):
        params["warehouse"] = str(settings.warehouse_path.resolve())
    if "period" in declared and not params.get("period"):
        params["period"] = _default_period(settings)
    if "as_of" in declared and not params.get("as_of"):
        if name in LAST_DAY_REPORTS:
            params["as_of"] = last_day(settings)
        else:
            _, next_month = period_bounds(_default_period(settings))
            params["as_of"] = (next_month - timedelta(days=1)).isoformat()  # the latest complete month's last day
    html_path = html_path or output_path(settings, name, params)

    failed = failed_path or html_path.with_suffix(".failed.ipynb")
    nb = (kernel.execute if kernel is not None else _execute)(settings, name, path, params, failed)

    figures = recorded_figures(nb)
    when = params.get("period") or (f"as of {params['as_of']}" if params.get("as_of") else "")
    title = " ".join(p for p in (f"{name.replace('_', ' ').title()} —", when, str(params.get("scope") or "")) if p).removesuffix(" —")
    page = to_html(nb, title, _plotly_tag(settings, html_path))
    seconds = time.perf_counter() - started
    result = RenderResult(name=name, html_path=html_path, parameters=params, figures=figures, seconds=seconds)
    sidecar = json.dumps({**result.to_dict(), "rendered_at": datetime.now().isoformat(timespec="seconds")}, indent=2, default=str, ensure_ascii=False)
    write_files({html_path: page, html_path.with_suffix(".json"): sidecar})
    return result


def render_workers(settings: Settings, n_reports: int, workers: int | None = None) -> int:
    """How many reports render at once: ``workers``, else ``[report] workers`` (0 = one per
    available core), never more than there are reports."""
    w = settings.report.workers if workers is None else workers
    return max(1, min(int(w) or available_cores(), n_reports))


@dataclass(frozen=True)
class RenderJob:
    """One page to render: a report, its parameters and (optionally) where the page goes."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)
    html_path: Path | None = None
    #: where a failed run's executed notebook goes (default: beside the page)
    failed_path: Path | None = None


def render_jobs(
    settings: Settings,
    jobs: list[RenderJob],
    workers: int | None = None,
    on_done: Callable[[RenderJob, RenderResult | ReportError], None] | None = None,
    post: bool = True,
) -> list[RenderResult | ReportError]:
    """Render several pages, ``render_workers`` at a time, each worker in a kernel of its own
    (a process: two workers use two cores), kept warm from one page to the next with
    ``[report] warm_kernels`` (:class:`WarmKernel`); the ledger is posted once, first
    (``post``). Returns each job's result in the order of ``jobs``, or the
    :class:`ReportError` that stopped it: one failed page does not stop the others.
    ``on_done(job, result)`` is called as each finishes."""
    for job in jobs:
        notebook_path(settings, job.name)  # every name is known before anything runs
        check_parameters(dict(job.parameters))
    if post and settings.warehouse_path.exists():
        ensure_posted(settings)
    if not jobs:
        return []
    n = render_workers(settings, len(jobs), workers)
    results: dict[int, RenderResult | ReportError] = {}
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(jobs)):
        todo.put(i)
    lock = threading.Lock()
    stop: list[BaseException] = []

    def worker() -> None:
        # each worker keeps one warm kernel for all its pages ([report] warm_kernels), or lets
        # papermill start one per page
        kernel = WarmKernel() if settings.report.warm_kernels else None
        try:
            while not stop:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                job = jobs[i]
                try:
                    result: RenderResult | ReportError = render(settings, job.name, job.parameters, post=False,
                                                                html_path=job.html_path, kernel=kernel, failed_path=job.failed_path)
                except ReportError as e:
                    result = e
                except BaseException as e:  # a full disk: stop the run, say it once
                    stop.append(e)
                    return
                with lock:
                    results[i] = result
                    if on_done is not None:
                        on_done(job, result)
        finally:
            if kernel is not None:
                kernel.close()

    threads = [threading.Thread(target=worker, name=f"salesml-report-{k}", daemon=True) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if stop:
        raise stop[0]
    _audit_pages(settings, jobs, [results[i] for i in range(len(jobs))])
    return [results[i] for i in range(len(jobs))]


#: parameters the runner fills in for every notebook (where it finds its data), not the page's own
INTERNAL_PARAMETERS = ("config_path", "warehouse")


def shown_parameters(params: dict[str, Any]) -> dict[str, Any]:
    """A page's parameters as records and indexes show them: without :data:`INTERNAL_PARAMETERS`."""
    return {k: v for k, v in params.items() if k not in INTERNAL_PARAMETERS}


def _audit_pages(settings: Settings, jobs: list[RenderJob], results: list[RenderResult | ReportError]) -> None:
    """One audit_log row per page (``report``: its name and parameters, ok or failed, seconds,
    the page and its hash), written once every kernel has let go of the warehouse."""
    if not settings.warehouse_path.exists():
        return
    with warehouse.open(settings) as con:
        for job, result in zip(jobs, results, strict=True):
            ok = isinstance(result, RenderResult)
            params = shown_parameters(result.parameters if ok else job.parameters)
            warehouse.audit(con, "report", {"report": job.name, **params, **({} if ok else {"error": str(result)})},
                            status="ok" if ok else "failed", seconds=result.seconds if ok else None,
                            output=result.html_path if ok else None, inputs=True)


def render_many(
    settings: Settings,
    names: list[str],
    parameters: dict[str, Any] | None = None,
    workers: int | None = None,
    on_done: Callable[[str, RenderResult | ReportError], None] | None = None,
) -> list[RenderResult | ReportError]:
    """:func:`render_jobs` of several reports with the same ``parameters`` (each page where
    :func:`output_path` puts it); ``on_done(name, result)``."""
    params = dict(parameters or {})
    jobs = [RenderJob(name, params) for name in names]
    return render_jobs(settings, jobs, workers, None if on_done is None else (lambda job, r: on_done(job.name, r)))


def audience_path(settings: Settings, name: str, params: dict[str, Any], output_dir: Path | None = None, day: date | None = None) -> Path:
    """Where a page made for one member of an audience goes:
    ``<output_dir>/<period, as_of's month, or day (default today)>/<name>/<scope>.html``
    (``company.html``, ``team-T03.html``, ``rep-R017.html``), ``output_dir`` defaulting to
    ``[report] output_dir`` (a schedule passes its slot's day: a daily report without a period
    gets a folder per day).
    Checked like :func:`output_path`: no value can put it outside ``output_dir``."""
    check_report_name(name)
    params = check_parameters(params)
    base = output_dir or settings.path(settings.report.output_dir)
    return _inside(base / _dated_folder(params, day) / name / f"{parse_scope(params.get('scope') or 'company').slug}.html", base, name)


def audience_failed_path(settings: Settings, page: Path, output_dir: Path | None = None) -> Path:
    """Where the executed notebook of a failed audience page is kept: the page's place under
    ``<output_dir>/_failed/`` (``reports/_failed/2026-11/sales_performance/rep-R017.ipynb``),
    so that nothing failed lies among the published pages."""
    base = output_dir or settings.path(settings.report.output_dir)
    return base / FAILED_DIR / page.relative_to(base).with_suffix(".ipynb")


#: the folder, under the reports folder, that keeps the executed notebooks of failed audience pages
FAILED_DIR = "_failed"
